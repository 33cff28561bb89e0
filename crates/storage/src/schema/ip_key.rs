//! An address's sort key, the form in which `audit_logs.ip_key` (and the address terms)
//! index addresses: 16 bytes whose byte order is the numeric order of addresses, IPv4
//! addresses placed in `::ffff:0:0/96`, so that a CIDR block is one contiguous range.

use std::net::IpAddr;

use auditlog_domain::{IpMatch, ip};
use ipnet::IpNet;

/// The key of `addr` (in canonical form).
pub(crate) fn of(addr: IpAddr) -> [u8; 16] {
    match ip::canonical(addr) {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// The inclusive range of keys that `ip` matches.
pub(crate) fn range(ip: &IpMatch) -> ([u8; 16], [u8; 16]) {
    match ip {
        IpMatch::Exact(addr) => (of(*addr), of(*addr)),
        IpMatch::Network(IpNet::V4(v4)) => {
            (of(IpAddr::V4(v4.network())), of(IpAddr::V4(v4.broadcast())))
        }
        IpMatch::Network(IpNet::V6(v6)) => (v6.network().octets(), v6.broadcast().octets()),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use proptest::prelude::*;

    use super::*;

    fn network(s: &str) -> IpMatch {
        IpMatch::Network(ip::parse_network(s).expect("cidr"))
    }

    #[test]
    fn a_network_is_the_range_of_its_addresses_keys() {
        let net = network("10.1.2.3/16");
        let (lo, hi) = range(&net);
        assert_eq!(lo, of("10.1.0.0".parse().expect("ip")));
        assert_eq!(hi, of("10.1.255.255".parse().expect("ip")));
        let mapped: IpAddr = "::ffff:10.1.0.7".parse().expect("ip");
        assert!(lo <= of(mapped) && of(mapped) <= hi);
        // An address's key is its own 16 bytes once canonical.
        let back = ip::canonical(IpAddr::V6(Ipv6Addr::from(of("10.0.0.1"
            .parse()
            .expect("ip")))));
        assert_eq!(back, "10.0.0.1".parse::<IpAddr>().expect("ip"));
    }

    proptest! {
        /// The key range selects exactly what the domain's filter matches.
        #[test]
        fn key_ranges_agree_with_the_domains_match(
            addr in any::<[u8; 16]>(),
            v4 in any::<bool>(),
            base in any::<[u8; 16]>(),
            prefix in 0u8..=128,
            base_v4 in any::<bool>(),
        ) {
            let to_ip = |bytes: [u8; 16], as_v4: bool| if as_v4 {
                IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]])
            } else {
                IpAddr::from(bytes)
            };
            let addr = to_ip(addr, v4);
            let base = to_ip(base, base_v4);
            let prefix = if base_v4 { prefix % 33 } else { prefix };
            let net = ip::parse_network(&format!("{base}/{prefix}")).expect("cidr");
            for m in [IpMatch::Network(net), IpMatch::Exact(ip::canonical(base))] {
                let (lo, hi) = range(&m);
                prop_assert_eq!(lo <= of(addr) && of(addr) <= hi, m.matches(addr), "{} {}", m, addr);
            }
        }
    }
}
