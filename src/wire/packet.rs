//! Frame → decoded packet, for the stages after `wire` (the tracker). Each layer is parsed once
//! here; later stages read these values and the IKE message views, never raw headers.

use super::frag::{self, Datagram, Reassembler};
use super::ip_proto;
use super::link::{self, Net};
use crate::source::{Frame, Timestamp};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// Byte offset of this fragment in the datagram.
    pub offset: u32,
    pub more: bool,
    /// IPv4 identification or IPv6 fragment identification.
    pub id: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInfo {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Upper-layer protocol (after IPv6 extension headers).
    pub proto: u8,
    /// Length on the wire of the IP packet.
    pub total_len: u32,
    pub dont_fragment: bool,
    pub fragment: Option<Fragment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Esp<'a> {
    pub spi: u32,
    pub seq: u32,
    /// The ESP packet as captured, from the SPI on (what the keys open).
    pub data: &'a [u8],
}

/// What a UDP datagram on an IKE port carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpKind<'a> {
    /// IKE on 500 (or on 4500 after the non-ESP marker: `natt` is true).
    Ike {
        msg: &'a [u8],
        natt: bool,
    },
    /// ESP in UDP (RFC 3948).
    Esp(Esp<'a>),
    /// NAT-T keepalive (one 0xff byte).
    Keepalive,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpKind {
    PortUnreachable,
    HostUnreachable,
    /// IPv4 fragmentation needed / IPv6 packet too big, with the MTU.
    FragNeeded {
        mtu: u32,
    },
    TimeExceeded,
    Other {
        kind: u8,
        code: u8,
    },
}

/// The header of the packet an ICMP error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Quoted {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    /// ESP SPI when the quoted packet was ESP (or ESP in UDP and enough was quoted).
    pub spi: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4<'a> {
    Udp {
        sport: u16,
        dport: u16,
        len: u32,
        kind: UdpKind<'a>,
    },
    Esp(Esp<'a>),
    Ah {
        spi: u32,
        seq: u32,
    },
    Icmp {
        kind: IcmpKind,
        quoted: Option<Quoted>,
    },
    /// A non-first fragment: nothing above IP to decode.
    Fragment,
    Other,
}

#[derive(Debug, Clone, Copy)]
pub struct Decoded<'a> {
    pub ts: Timestamp,
    /// 1-based packet number in its capture.
    pub number: u64,
    pub ip: IpInfo,
    pub l4: L4<'a>,
    /// Set on the extra record made when the fragments listed here were reassembled.
    pub reassembled_from: Option<&'a [u64]>,
}

/// Why a frame gave no [`Decoded`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    UnknownLinkType(u32),
    NotIp,
    Truncated,
}

use super::isakmp::{PORT_IKE as IKE_PORT, PORT_NATT as NATT_PORT};

fn be16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(o..o + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(o..o + 4)?.try_into().ok()?))
}

fn addr4(b: &[u8]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
}

fn addr6(b: &[u8]) -> IpAddr {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[..16]);
    IpAddr::V6(Ipv6Addr::from(a))
}

/// Parses an IP header: the info and the captured upper-layer bytes.
fn parse_ip(b: &[u8], wire_len: u32) -> Option<(IpInfo, &[u8])> {
    match b.first()? >> 4 {
        4 => {
            if b.len() < 20 {
                return None;
            }
            let hl = (b[0] & 0x0f) as usize * 4;
            let total = be16(b, 2)? as usize;
            if hl < 20 || b.len() < hl || total < hl {
                return None;
            }
            let off = be16(b, 6)?;
            let frag = (off & 0x3fff != 0).then(|| Fragment {
                offset: (off & 0x1fff) as u32 * 8,
                more: off & 0x2000 != 0,
                id: be16(b, 4).unwrap_or(0) as u32,
            });
            let end = total.min(b.len());
            let info = IpInfo {
                src: addr4(&b[12..16]),
                dst: addr4(&b[16..20]),
                ttl: b[8],
                proto: b[9],
                total_len: total as u32,
                dont_fragment: off & 0x4000 != 0,
                fragment: frag,
            };
            Some((info, &b[hl..end]))
        }
        6 => {
            if b.len() < 40 {
                return None;
            }
            let plen = be16(b, 4)? as usize;
            let total = if plen == 0 { wire_len as usize } else { plen + 40 };
            let end = total.min(b.len());
            let mut nh = b[6];
            let mut cp = 40usize;
            let mut fragment = None;
            // Bounded walk over extension headers.
            for _ in 0..16 {
                match nh {
                    ip_proto::HOPOPTS | ip_proto::IPV6_ROUTING | ip_proto::IPV6_DSTOPTS => {
                        let l = (*b.get(cp + 1)? as usize + 1) * 8;
                        nh = *b.get(cp)?;
                        cp += l;
                    }
                    ip_proto::IPV6_FRAGMENT => {
                        let offlg = be16(b, cp + 2)?;
                        fragment = Some(Fragment {
                            offset: (offlg & 0xfff8) as u32,
                            more: offlg & 1 != 0,
                            id: be32(b, cp + 4)?,
                        });
                        nh = *b.get(cp)?;
                        cp += 8;
                    }
                    _ => break,
                }
            }
            if cp > end {
                return None;
            }
            let info = IpInfo {
                src: addr6(&b[8..24]),
                dst: addr6(&b[24..40]),
                ttl: b[7],
                proto: nh,
                total_len: total as u32,
                dont_fragment: true,
                fragment,
            };
            Some((info, &b[cp..end]))
        }
        _ => None,
    }
}

fn udp_kind(sport: u16, dport: u16, p: &[u8]) -> UdpKind<'_> {
    let on = |port: u16| sport == port || dport == port;
    if on(NATT_PORT) {
        if p == [0xff] {
            UdpKind::Keepalive
        } else if p.len() >= 4 && p[..4] == [0, 0, 0, 0] {
            UdpKind::Ike {
                msg: &p[4..],
                natt: true,
            }
        } else if let (Some(spi), Some(seq)) = (be32(p, 0), be32(p, 4)) {
            UdpKind::Esp(Esp { spi, seq, data: p })
        } else {
            UdpKind::Other
        }
    } else if on(IKE_PORT) {
        UdpKind::Ike { msg: p, natt: false }
    } else {
        UdpKind::Other
    }
}

fn parse_l4<'a>(ip: &IpInfo, p: &'a [u8]) -> L4<'a> {
    match ip.proto {
        ip_proto::UDP => match (be16(p, 0), be16(p, 2), be16(p, 4)) {
            (Some(sport), Some(dport), Some(len)) => {
                let body = p.get(8..).unwrap_or(&[]);
                let body = &body[..body.len().min((len as usize).saturating_sub(8))];
                L4::Udp {
                    sport,
                    dport,
                    len: len as u32,
                    kind: udp_kind(sport, dport, body),
                }
            }
            _ => L4::Other,
        },
        ip_proto::ESP => match (be32(p, 0), be32(p, 4)) {
            (Some(spi), Some(seq)) => L4::Esp(Esp { spi, seq, data: p }),
            _ => L4::Other,
        },
        ip_proto::AH => match (be32(p, 4), be32(p, 8)) {
            (Some(spi), Some(seq)) => L4::Ah { spi, seq },
            _ => L4::Other,
        },
        ip_proto::ICMP | ip_proto::ICMPV6 => parse_icmp(ip.proto == ip_proto::ICMPV6, p),
        _ => L4::Other,
    }
}

fn parse_icmp(v6: bool, p: &[u8]) -> L4<'_> {
    let (Some(&t), Some(&c)) = (p.first(), p.get(1)) else {
        return L4::Other;
    };
    let kind = match (v6, t, c) {
        (false, 3, 3) | (true, 1, 4) => IcmpKind::PortUnreachable,
        (false, 3, 4) => IcmpKind::FragNeeded {
            mtu: be16(p, 6).unwrap_or(0) as u32,
        },
        (true, 2, _) => IcmpKind::FragNeeded {
            mtu: be32(p, 4).unwrap_or(0),
        },
        (false, 3, _) | (true, 1, _) => IcmpKind::HostUnreachable,
        (false, 11, _) | (true, 3, _) => IcmpKind::TimeExceeded,
        (_, kind, code) => IcmpKind::Other { kind, code },
    };
    let is_error = !matches!(kind, IcmpKind::Other { .. });
    let quoted = if is_error {
        p.get(8..).and_then(|inner| {
            let (qi, qp) = parse_ip(inner, inner.len() as u32)?;
            let (sport, dport) = match qi.proto {
                ip_proto::UDP => (be16(qp, 0), be16(qp, 2)),
                _ => (None, None),
            };
            let spi = match qi.proto {
                ip_proto::ESP => be32(qp, 0),
                ip_proto::UDP if sport == Some(NATT_PORT) || dport == Some(NATT_PORT) => {
                    be32(qp, 8).filter(|&s| s != 0)
                }
                _ => None,
            };
            Some(Quoted {
                src: qi.src,
                dst: qi.dst,
                proto: qi.proto,
                sport,
                dport,
                spi,
            })
        })
    } else {
        None
    };
    L4::Icmp { kind, quoted }
}

/// Decodes frames, reassembling IP fragments on the way.
#[derive(Debug, Default)]
pub struct Decoder {
    frags: Reassembler,
}

impl Decoder {
    pub fn new(limits: frag::Limits) -> Decoder {
        Decoder {
            frags: Reassembler::new(limits),
        }
    }

    pub fn frag_stats(&self) -> frag::Stats {
        self.frags.stats
    }

    /// Calls `sink` with the decoded packet and, when it completes a fragmented datagram, once
    /// more with the reassembled datagram.
    pub fn decode(&mut self, f: &Frame<'_>, number: u64, mut sink: impl FnMut(&Decoded<'_>)) -> Result<(), Skip> {
        let l = match link::decode(f.linktype, f.data, f.wire_len) {
            Ok(l) => l,
            Err(link::LinkError::UnknownLinkType(t)) => return Err(Skip::UnknownLinkType(t)),
            Err(link::LinkError::Truncated(_)) => return Err(Skip::Truncated),
        };
        if !matches!(l.net, Net::Ipv4 | Net::Ipv6) {
            return Err(Skip::NotIp);
        }
        let (ip, payload) = parse_ip(l.payload, l.wire_len).ok_or(Skip::Truncated)?;
        let mut done: Option<Datagram> = None;
        let l4 = match ip.fragment {
            Some(fr) => {
                let key = frag::Key {
                    src: ip.src,
                    dst: ip.dst,
                    proto: ip.proto,
                    id: fr.id,
                };
                done = self
                    .frags
                    .add(key, fr.offset as usize, fr.more, payload, f.ts.as_f64(), number);
                if fr.offset == 0 {
                    parse_l4(&ip, payload)
                } else {
                    L4::Fragment
                }
            }
            None => parse_l4(&ip, payload),
        };
        sink(&Decoded {
            ts: f.ts,
            number,
            ip,
            l4,
            reassembled_from: None,
        });
        if let Some(d) = done {
            let whole = IpInfo {
                fragment: None,
                total_len: d.payload.len() as u32,
                ..ip
            };
            let l4 = parse_l4(&whole, &d.payload);
            sink(&Decoded {
                ts: f.ts,
                number,
                ip: whole,
                l4,
                reassembled_from: Some(&d.packets),
            });
        }
        Ok(())
    }
}
