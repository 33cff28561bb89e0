//! IP addresses in canonical form, and CIDR blocks.

use std::net::IpAddr;

use ipnet::IpNet;

/// The canonical form of an address: an IPv4-mapped IPv6 address is its IPv4 address.
/// Its `Display` is RFC 5952 text, lowercase.
pub fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
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

/// Whether `net` holds `ip`, comparing canonical forms: an IPv4 address lies in an
/// IPv6 network when the network holds its IPv4-mapped form (`::ffff:a.b.c.d`).
pub(crate) fn network_contains(net: &IpNet, ip: IpAddr) -> bool {
    match (net, canonical(ip)) {
        (IpNet::V4(net), IpAddr::V4(v4)) => net.contains(&v4),
        (IpNet::V4(_), IpAddr::V6(_)) => false,
        (IpNet::V6(net), IpAddr::V4(v4)) => net.contains(&v4.to_ipv6_mapped()),
        (IpNet::V6(net), IpAddr::V6(v6)) => net.contains(&v6),
    }
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
        assert!(network_contains(
            &parse_network("::/0").expect("cidr"),
            ip("10.0.0.1")
        ));
    }
}
