//! `ipsec-doctor capture-filter`: the tcpdump command lines that record what diagnosis needs.
//!
//! The external filter keeps IKE (UDP 500 and 4500, so NAT-T too, and TCP 4500 for RFC 8229), ESP and AH, every IP fragment
//! (a non-first fragment has no UDP header, so `udp port 500` alone never matches it and a lost
//! IKE fragment would go unseen) and the ICMP errors that explain a loss (unreachable, including
//! fragmentation needed / packet too big, and time exceeded). With a peer address the IPsec part
//! is restricted to that peer; ICMP errors are kept from anyone, since routers on the path send
//! them.

use std::net::IpAddr;

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The other gateway's address as this gateway sees it (its public address behind a NAT).
    pub peer: Option<IpAddr>,
    /// Add IPv6: fragment headers and ICMPv6 errors. Implied by an IPv6 peer.
    pub ipv6: bool,
    /// Protected subnets (`10.1.0.0/24`): a second command for the internal interface.
    pub inner: Vec<String>,
    /// Interface names to put in the commands (placeholders when not given).
    pub interface: Option<String>,
    pub inner_interface: Option<String>,
}

/// The filter for the external interface (the one IKE and ESP use).
pub fn external(peer: Option<IpAddr>, ipv6: bool) -> String {
    let ipv6 = ipv6 || peer.is_some_and(|p| p.is_ipv6());
    let mut ipsec = vec![
        "udp port 500",
        "udp port 4500",
        // IKE and ESP over TCP (RFC 8229) where UDP is blocked.
        "tcp port 4500",
        "ip proto 50",
        "ip proto 51",
        // Non-first IPv4 fragments: fragment offset not zero.
        "(ip[6:2] & 0x1fff) != 0",
    ];
    let mut icmp = vec!["icmp[icmptype] == icmp-unreach", "icmp[icmptype] == icmp-timxceed"];
    if ipv6 {
        // IPv6 fragments: a fragment header (44) right after the fixed header, first ones too
        // (tcpdump's `udp` does not look past a fragment header).
        ipsec.extend(["ip6 proto 50", "ip6 proto 51", "ip6[6] == 44"]);
        icmp.extend([
            "icmp6[icmp6type] == icmp6-destinationunreach",
            "icmp6[icmp6type] == icmp6-packettoobig",
            "icmp6[icmp6type] == icmp6-timeexceeded",
        ]);
    }
    match peer {
        None => ipsec.into_iter().chain(icmp).collect::<Vec<_>>().join(" or "),
        Some(p) => {
            let host = if p.is_ipv6() {
                format!("ip6 host {p}")
            } else {
                format!("host {p}")
            };
            format!("({host} and ({})) or {}", ipsec.join(" or "), icmp.join(" or "))
        }
    }
}

/// The filter for the internal interface: traffic from and to the protected subnets.
pub fn internal(inner: &[String]) -> String {
    inner
        .iter()
        .map(|n| format!("net {n}"))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Checks a subnet as tcpdump's `net` wants it: an address, optionally `/len`.
pub fn check_subnet(s: &str) -> Result<(), String> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("--inner {s}: not an address or subnet (10.1.0.0/24, 2001:db8:1::/64)"))?;
    if let Some(l) = len {
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match l.parse::<u8>() {
            Ok(n) if n <= max => {}
            _ => return Err(format!("--inner {s}: prefix length must be 0..={max}")),
        }
    }
    Ok(())
}

/// Quotes a filter for a POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The text printed by the subcommand.
pub fn render(r: &Request) -> String {
    let ext_if = r.interface.as_deref().unwrap_or("EXT_IF");
    let int_if = r.inner_interface.as_deref().unwrap_or("INT_IF");
    let mut out = String::new();
    out.push_str("# On each gateway at the same time, as root, on the interface that carries IKE and ESP\n");
    out.push_str("# (stop with Ctrl-C after the failed attempt; the file is named after the host):\n");
    out.push_str(&format!(
        "tcpdump -i {ext_if} -n -p -s 0 -w \"$(hostname -s).pcap\" {}\n",
        quote(&external(r.peer, r.ipv6))
    ));
    if !r.inner.is_empty() {
        out.push_str("\n# And on its internal interface (the protected network), to see whether decrypted\n");
        out.push_str("# traffic leaves the gateway and whether the hosts send any:\n");
        out.push_str(&format!(
            "tcpdump -i {int_if} -n -p -s 0 -w \"$(hostname -s)-int.pcap\" {}\n",
            quote(&internal(&r.inner))
        ));
    }
    out.push_str("\n# Then, with both gateways' files and IKE daemon logs in one folder:\n");
    out.push_str("#   ipsec-doctor diagnose FOLDER\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_restricts_ipsec_but_not_icmp_errors() {
        let f = external(Some("198.51.100.2".parse().unwrap()), false);
        assert!(f.starts_with("(host 198.51.100.2 and (udp port 500 or "), "{f}");
        assert!(f.ends_with(")) or icmp[icmptype] == icmp-unreach or icmp[icmptype] == icmp-timxceed"));
        let f6 = external(Some("2001:db8:b::2".parse().unwrap()), false);
        assert!(
            f6.contains("ip6 host 2001:db8:b::2") && f6.contains("ip6[6] == 44"),
            "{f6}"
        );
    }

    #[test]
    fn subnets_are_checked() {
        assert!(check_subnet("10.1.0.0/24").is_ok());
        assert!(check_subnet("2001:db8:1::/64").is_ok());
        assert!(check_subnet("10.1.0.0/33").is_err());
        assert!(check_subnet("lan").is_err());
        assert_eq!(quote("a'b"), r"'a'\''b'");
    }
}
