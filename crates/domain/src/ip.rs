//! IP addresses in canonical form, and CIDR blocks as ranges of sortable keys.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;

/// The canonical form of an address: an IPv4-mapped IPv6 address is its IPv4 address.
/// Its `Display` is RFC 5952 text, lowercase.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// A 16-byte key whose byte order is the numeric order of addresses, IPv4 addresses
/// placed in `::ffff:0:0/96`, so that a CIDR block is one contiguous range of keys.
pub fn sort_key(ip: IpAddr) -> [u8; 16] {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// Parses a CIDR block; host bits are masked away, giving the network.
pub fn parse_network(s: &str) -> Option<IpNet> {
    let net: IpNet = s.parse().ok()?;
    let net = net.trunc();
    // An IPv4-mapped IPv6 block inside ::ffff:0:0/96 is the IPv4 block it maps.
    if let IpNet::V6(v6) = net
        && v6.prefix_len() >= 96
        && let Some(v4) = v6.network().to_ipv4_mapped()
    {
        return ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
            .ok()
            .map(IpNet::V4);
    }
    Some(net)
}

/// The inclusive range of sort keys that a network covers.
pub fn network_key_range(net: &IpNet) -> ([u8; 16], [u8; 16]) {
    match net {
        IpNet::V4(v4) => (
            sort_key(IpAddr::V4(v4.network())),
            sort_key(IpAddr::V4(v4.broadcast())),
        ),
        IpNet::V6(v6) => (v6.network().octets(), v6.broadcast().octets()),
    }
}

/// Whether `ip` lies in `net`, comparing canonical forms.
pub fn network_contains(net: &IpNet, ip: IpAddr) -> bool {
    let key = sort_key(ip);
    let (lo, hi) = network_key_range(net);
    lo <= key && key <= hi
}

/// The address a sort key stands for, in canonical form.
pub fn from_sort_key(key: [u8; 16]) -> IpAddr {
    canonical(IpAddr::V6(Ipv6Addr::from(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("valid ip")
    }

    #[test]
    fn mapped_addresses_are_ipv4() {
        assert_eq!(canonical(ip("::ffff:10.1.2.3")).to_string(), "10.1.2.3");
        assert_eq!(
            canonical(ip("2001:DB8:0:0:0:0:0:1")).to_string(),
            "2001:db8::1"
        );
    }

    #[test]
    fn networks_are_masked_and_contain_their_addresses() {
        let net = parse_network("10.1.2.3/16").expect("cidr");
        assert_eq!(net.to_string(), "10.1.0.0/16");
        assert!(network_contains(&net, ip("10.1.255.255")));
        assert!(network_contains(&net, ip("::ffff:10.1.0.7")));
        assert!(!network_contains(&net, ip("10.2.0.0")));
        let mapped = parse_network("::ffff:10.1.0.0/112").expect("cidr");
        assert_eq!(mapped.to_string(), "10.1.0.0/16");
        let v6 = parse_network("2001:db8::/32").expect("cidr");
        assert!(network_contains(&v6, ip("2001:db8:ffff::1")));
        assert!(!network_contains(&v6, ip("10.1.0.0")));
        assert_eq!(from_sort_key(sort_key(ip("10.0.0.1"))), ip("10.0.0.1"));
    }
}
