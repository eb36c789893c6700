//! IP protocol numbers and tcpdump's names for them.

pub const HOPOPTS: u8 = 0;
pub const ICMP: u8 = 1;
/// IPv4 in IP (ESP tunnel mode's next header).
pub const IPV4: u8 = 4;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
/// IPv6 in IP (ESP tunnel mode's next header).
pub const IPV6: u8 = 41;
pub const IPV6_ROUTING: u8 = 43;
pub const IPV6_FRAGMENT: u8 = 44;
pub const ESP: u8 = 50;
pub const AH: u8 = 51;
pub const ICMPV6: u8 = 58;
/// No next header: an ESP dummy packet (RFC 4303 §2.6).
pub const NO_NEXT: u8 = 59;
pub const IPV6_DSTOPTS: u8 = 60;

pub fn name(p: u8) -> Option<&'static str> {
    Some(match p {
        0 => "Options",
        1 => "ICMP",
        2 => "IGMP",
        4 => "IPIP",
        6 => "TCP",
        8 => "EGP",
        9 => "IGRP",
        17 => "UDP",
        33 => "DCCP",
        41 => "IPv6",
        43 => "Routing",
        44 => "Fragment",
        46 => "RSVP",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        55 => "Mobile IP",
        58 => "ICMPv6",
        62 => "Mobile IP (old)",
        88 => "EIGRP",
        89 => "OSPF",
        103 => "PIM",
        108 => "Compressed IP",
        112 => "VRRP",
        113 => "PGM",
        132 => "SCTP",
        135 => "Mobility",
        143 => "Ethernet",
        _ => return None,
    })
}
