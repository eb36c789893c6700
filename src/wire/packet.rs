//! Frame → decoded packet, for the stages after `wire` (the tracker). Each layer is parsed once
//! here; later stages read these values and the IKE message views, never raw headers.

use super::frag::{self, Datagram, Reassembler};
use super::ip_proto;
use super::link::{self, Net};
use super::tcp;
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

/// What a TCP segment to or from port 4500 is or carried (IKE and ESP over TCP, RFC 8229).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpKind<'a> {
    /// The segment itself. The messages it completed follow as records of their own, with
    /// `reassembled_from` listing the segments that carried them.
    Segment,
    /// An IKE message (after the non-ESP marker), as if on UDP 4500.
    Ike { msg: &'a [u8] },
    /// An ESP packet, as if in UDP on 4500.
    Esp(Esp<'a>),
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
    /// TCP to or from port 4500: an RFC 8229 stream.
    Tcp {
        sport: u16,
        dport: u16,
        kind: TcpKind<'a>,
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
    /// Set on the extra record made when the fragments (or TCP segments) listed here were
    /// reassembled.
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

/// What an opened ESP packet carries (its next header, RFC 4303): the inner packet's ends and
/// kind, `ICMP echo request`, `TCP SYN`, `UDP 53`... Tunnel mode carries an IP packet (4, 41),
/// read as any other; transport mode the upper layer itself between `outer`'s addresses; a dummy
/// packet (59) carries nothing.
pub fn inner_packet(next: u8, d: &[u8], outer: (IpAddr, IpAddr)) -> Option<(IpAddr, IpAddr, String)> {
    let (src, dst, proto, l4) = match next {
        ip_proto::IPV4 | ip_proto::IPV6 => {
            let (ip, l4) = parse_ip(d, d.len() as u32)?;
            (ip.src, ip.dst, ip.proto, l4)
        }
        ip_proto::NO_NEXT => return None,
        p => (outer.0, outer.1, p, d),
    };
    let what = match (proto, l4.first().copied()) {
        (ip_proto::ICMP, Some(8)) | (ip_proto::ICMPV6, Some(128)) => "ICMP echo request".to_string(),
        (ip_proto::ICMP, Some(0)) | (ip_proto::ICMPV6, Some(129)) => "ICMP echo reply".to_string(),
        (ip_proto::ICMP | ip_proto::ICMPV6, Some(t)) => format!("ICMP type {t}"),
        (ip_proto::TCP, _) => {
            let flags = l4.get(13).copied().unwrap_or(0);
            match (flags & 0x02 != 0, flags & 0x10 != 0, be16(l4, 2)) {
                (true, false, _) => "TCP SYN".into(),
                (true, true, _) => "TCP SYN-ACK".into(),
                (false, _, Some(port)) => format!("TCP {port}"),
                (false, _, None) => "TCP".into(),
            }
        }
        (ip_proto::UDP, _) => match be16(l4, 2) {
            Some(port) => format!("UDP {port}"),
            None => "UDP".into(),
        },
        (p, _) => format!("protocol {p}"),
    };
    Some((src, dst, what))
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

/// A TCP segment's header fields, when the header is whole.
fn parse_tcp(p: &[u8]) -> Option<(u16, u16, tcp::Segment<'_>)> {
    let hl = (*p.get(12)? >> 4) as usize * 4;
    let flags = *p.get(13)?;
    if hl < 20 || p.len() < hl {
        return None;
    }
    let seg = tcp::Segment {
        seq: be32(p, 4)?,
        syn: flags & 0x02 != 0,
        fin: flags & 0x01 != 0,
        rst: flags & 0x04 != 0,
        data: &p[hl..],
        cut: false,
    };
    Some((be16(p, 0)?, be16(p, 2)?, seg))
}

/// The TCP segment in `payload`, when it is to or from port 4500.
fn ike_tcp<'a>(ip: &IpInfo, payload: &'a [u8]) -> Option<(u16, u16, tcp::Segment<'a>)> {
    if ip.proto != ip_proto::TCP {
        return None;
    }
    let (sport, dport, seg) = parse_tcp(payload)?;
    (sport == NATT_PORT || dport == NATT_PORT).then_some((sport, dport, seg))
}

/// Decodes frames, reassembling IP fragments and RFC 8229 streams on the way.
#[derive(Debug, Default)]
pub struct Decoder {
    frags: Reassembler,
    streams: tcp::Reassembler,
}

impl Decoder {
    pub fn new(limits: frag::Limits) -> Decoder {
        Decoder {
            frags: Reassembler::new(limits),
            streams: tcp::Reassembler::new(tcp::Limits::default()),
        }
    }

    pub fn frag_stats(&self) -> frag::Stats {
        self.frags.stats
    }

    /// What reassembling IKE/ESP over TCP met and gave up (holes, limits).
    pub fn tcp_stats(&self) -> tcp::Stats {
        self.streams.stats
    }

    /// Feeds an RFC 8229 segment to its stream; `sink` gets every message it completed, as if it
    /// came in UDP on 4500 (addresses and ports are the TCP connection's).
    fn stream(
        &mut self,
        ip: &IpInfo,
        seg: (u16, u16, tcp::Segment<'_>),
        ts: Timestamp,
        number: u64,
        sink: &mut impl FnMut(&Decoded<'_>),
    ) {
        let (sport, dport, seg) = seg;
        let key = tcp::Key {
            src: ip.src,
            dst: ip.dst,
            sport,
            dport,
        };
        let hdr = if ip.src.is_ipv4() { 20 } else { 40 };
        for m in self.streams.add(key, seg, ts.as_f64(), number) {
            let (kind, len) = match &m.message {
                tcp::Message::Ike(msg) => (TcpKind::Ike { msg }, msg.len() + 4),
                tcp::Message::Esp(data) => (
                    TcpKind::Esp(Esp {
                        spi: be32(data, 0).unwrap_or(0),
                        seq: be32(data, 4).unwrap_or(0),
                        data,
                    }),
                    data.len(),
                ),
            };
            sink(&Decoded {
                ts,
                number,
                ip: IpInfo {
                    total_len: (hdr + 8 + len) as u32,
                    fragment: None,
                    ..*ip
                },
                l4: L4::Tcp { sport, dport, kind },
                reassembled_from: Some(&m.packets),
            });
        }
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
        // The IP payload is shorter than the IP header says: the snap length cut it.
        let cut = (l.payload.len() as u64) < u64::from(ip.total_len);
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
        let seg = match ip.fragment {
            Some(fr) if fr.offset != 0 => None,
            _ => ike_tcp(&ip, payload),
        };
        let l4 = match seg {
            Some((sport, dport, _)) => L4::Tcp {
                sport,
                dport,
                kind: TcpKind::Segment,
            },
            None => l4,
        };
        sink(&Decoded {
            ts: f.ts,
            number,
            ip,
            l4,
            reassembled_from: None,
        });
        // A first fragment's segment is read from the reassembled datagram instead.
        if let (Some((sp, dp, s)), None) = (seg, ip.fragment) {
            let s = tcp::Segment { cut, ..s };
            self.stream(&ip, (sp, dp, s), f.ts, number, &mut sink);
        }
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
            if let Some(s) = ike_tcp(&whole, &d.payload) {
                self.stream(&whole, s, f.ts, number, &mut sink);
            }
        }
        Ok(())
    }
}
