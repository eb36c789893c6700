//! Link layers: strip the frame down to the network-layer packet, keeping what `-e` prints.

/// Link types we decode (pcap LINKTYPE_* numbers).
pub const NULL: u32 = 0;
pub const ETHERNET: u32 = 1;
pub const PPP: u32 = 9;
pub const RAW_DLT: u32 = 12;
pub const PPP_HDLC: u32 = 50;
pub const RAW: u32 = 101;
pub const LOOP: u32 = 108;
pub const LINUX_SLL: u32 = 113;
pub const IPV4: u32 = 228;
pub const IPV6: u32 = 229;
pub const LINUX_SLL2: u32 = 276;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
pub const ETHERTYPE_VLAN9100: u16 = 0x9100;
pub const ETHERTYPE_VLAN9200: u16 = 0x9200;
pub const ETHERTYPE_PPPOE_DISC: u16 = 0x8863;
pub const ETHERTYPE_PPPOE_SESS: u16 = 0x8864;

/// The network layer the frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    Ipv4,
    Ipv6,
    /// Ethertype (or PPP protocol / address family) we do not decode.
    Other(u32),
}

/// Up to two VLAN tags (QinQ); more are counted, not kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VlanTag {
    pub tpid: u16,
    pub tci: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pppoe {
    pub code: u8,
    pub session: u16,
    pub length: u16,
    pub ppp_proto: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header<'a> {
    Ethernet {
        dst: &'a [u8],
        src: &'a [u8],
        tags: [VlanTag; 2],
        ntags: u8,
        ethertype: u16,
        pppoe: Option<Pppoe>,
    },
    Sll {
        pkttype: u16,
        addr: Option<&'a [u8]>,
        proto: u16,
    },
    Sll2 {
        proto: u16,
        ifindex: u32,
        pkttype: u8,
        addr: Option<&'a [u8]>,
    },
    Null {
        family: u32,
    },
    Ppp {
        proto: u16,
    },
    Raw,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link<'a> {
    pub header: Header<'a>,
    pub net: Net,
    /// Captured bytes of the network-layer packet.
    pub payload: &'a [u8],
    /// Its length on the wire.
    pub wire_len: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The frame is shorter than the link header (tcpdump: ` [|proto]`).
    Truncated(&'static str),
    UnknownLinkType(u32),
}

fn be16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(o)?, *b.get(o + 1)?]))
}

fn ethertype_net(t: u16) -> Net {
    match t {
        ETHERTYPE_IPV4 => Net::Ipv4,
        ETHERTYPE_IPV6 => Net::Ipv6,
        t => Net::Other(t as u32),
    }
}

fn ppp_net(p: u16) -> Net {
    match p {
        0x0021 => Net::Ipv4,
        0x0057 => Net::Ipv6,
        p => Net::Other(p as u32),
    }
}

/// Strips the link header of a frame of `linktype`.
pub fn decode(linktype: u32, data: &[u8], wire_len: u32) -> Result<Link<'_>, LinkError> {
    let strip = |n: usize| wire_len.saturating_sub(n as u32);
    match linktype {
        ETHERNET => decode_ethernet(data, wire_len),
        RAW | RAW_DLT | IPV4 | IPV6 => {
            let net = match (linktype, data.first().map(|b| b >> 4)) {
                (IPV4, _) => Net::Ipv4,
                (IPV6, _) => Net::Ipv6,
                (_, Some(4)) => Net::Ipv4,
                (_, Some(6)) => Net::Ipv6,
                (_, v) => Net::Other(v.unwrap_or(0) as u32),
            };
            Ok(Link {
                header: Header::Raw,
                net,
                payload: data,
                wire_len,
            })
        }
        NULL | LOOP => {
            let f = data.get(..4).ok_or(LinkError::Truncated("null"))?;
            // NULL is host byte order of the writer; LOOP is network order. Guess as tcpdump does.
            let mut family = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
            if linktype == LOOP || family & 0xffff == 0 {
                family = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
            }
            let net = match family {
                2 => Net::Ipv4,
                24 | 28 | 30 | 10 => Net::Ipv6,
                f => Net::Other(f),
            };
            Ok(Link {
                header: Header::Null { family },
                net,
                payload: &data[4..],
                wire_len: strip(4),
            })
        }
        PPP | PPP_HDLC => {
            // Address/control (ff 03) is optional; protocol field may be compressed to one byte.
            let mut o = 0;
            if data.len() >= 2 && data[0] == 0xff && data[1] == 0x03 {
                o = 2;
            }
            let first = *data.get(o).ok_or(LinkError::Truncated("ppp"))?;
            let (proto, n) = if first & 1 == 1 {
                (first as u16, 1)
            } else {
                (be16(data, o).ok_or(LinkError::Truncated("ppp"))?, 2)
            };
            let h = o + n;
            Ok(Link {
                header: Header::Ppp { proto },
                net: ppp_net(proto),
                payload: &data[h..],
                wire_len: strip(h),
            })
        }
        LINUX_SLL => {
            if data.len() < 16 {
                return Err(LinkError::Truncated("sll"));
            }
            let pkttype = be16(data, 0).unwrap_or(0);
            let halen = be16(data, 4).unwrap_or(0) as usize;
            let addr = (halen <= 8).then(|| &data[6..6 + halen]);
            let proto = be16(data, 14).unwrap_or(0);
            Ok(Link {
                header: Header::Sll { pkttype, addr, proto },
                net: ethertype_net(proto),
                payload: &data[16..],
                wire_len: strip(16),
            })
        }
        LINUX_SLL2 => {
            if data.len() < 20 {
                return Err(LinkError::Truncated("sll2"));
            }
            let proto = be16(data, 0).unwrap_or(0);
            let ifindex = u32::from_be_bytes([data[4], data[5], data[6], data[7]]);
            let pkttype = data[10];
            let halen = (data[11] as usize).min(8);
            let addr = Some(&data[12..12 + halen]);
            Ok(Link {
                header: Header::Sll2 {
                    proto,
                    ifindex,
                    pkttype,
                    addr,
                },
                net: ethertype_net(proto),
                payload: &data[20..],
                wire_len: strip(20),
            })
        }
        other => Err(LinkError::UnknownLinkType(other)),
    }
}

fn decode_ethernet(data: &[u8], wire_len: u32) -> Result<Link<'_>, LinkError> {
    if data.len() < 14 {
        return Err(LinkError::Truncated("ether"));
    }
    let mut tags = [VlanTag::default(); 2];
    let mut ntags = 0u8;
    let mut o = 12;
    let mut ethertype = be16(data, o).unwrap_or(0);
    o += 2;
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_VLAN9100 | ETHERTYPE_VLAN9200
    ) {
        let tci = be16(data, o).ok_or(LinkError::Truncated("vlan"))?;
        let next = be16(data, o + 2).ok_or(LinkError::Truncated("vlan"))?;
        if (ntags as usize) < tags.len() {
            tags[ntags as usize] = VlanTag { tpid: ethertype, tci };
        }
        ntags = ntags.saturating_add(1);
        ethertype = next;
        o += 4;
    }
    let mut pppoe = None;
    let mut net = ethertype_net(ethertype);
    let mut payload = &data[o..];
    if ethertype == ETHERTYPE_PPPOE_SESS || ethertype == ETHERTYPE_PPPOE_DISC {
        let code = *data.get(o + 1).ok_or(LinkError::Truncated("pppoe"))?;
        let session = be16(data, o + 2).ok_or(LinkError::Truncated("pppoe"))?;
        let length = be16(data, o + 4).ok_or(LinkError::Truncated("pppoe"))?;
        let mut p = Pppoe {
            code,
            session,
            length,
            ppp_proto: None,
        };
        net = Net::Other(ethertype as u32);
        payload = data.get(o + 6..).unwrap_or(&[]);
        o += 6;
        if ethertype == ETHERTYPE_PPPOE_SESS && code == 0 {
            if let Some(proto) = be16(data, o) {
                p.ppp_proto = Some(proto);
                net = ppp_net(proto);
                o += 2;
                payload = &data[o..];
            }
        }
        pppoe = Some(p);
    }
    Ok(Link {
        header: Header::Ethernet {
            dst: &data[0..6],
            src: &data[6..12],
            tags,
            ntags,
            ethertype,
            pppoe,
        },
        net,
        payload,
        wire_len: wire_len.saturating_sub(o as u32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qinq_ipv4() {
        let mut f = vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        f.extend_from_slice(&[0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x20, 0x0a, 0x08, 0x00, 0x45]);
        let l = decode(ETHERNET, &f, f.len() as u32).unwrap();
        assert_eq!(l.net, Net::Ipv4);
        assert_eq!(l.payload, &[0x45]);
        match l.header {
            Header::Ethernet { ntags, tags, .. } => {
                assert_eq!(ntags, 2);
                assert_eq!(tags[1].tci & 0xfff, 10);
            }
            _ => panic!(),
        }
    }

    #[test]
    fn pppoe_session_ipv6() {
        let mut f = vec![0; 12];
        f.extend_from_slice(&[0x88, 0x64, 0x11, 0x00, 0x00, 0x3b, 0x00, 0x10, 0x00, 0x57, 0x60]);
        let l = decode(ETHERNET, &f, f.len() as u32).unwrap();
        assert_eq!(l.net, Net::Ipv6);
        assert_eq!(l.payload, &[0x60]);
    }

    #[test]
    fn short_frames() {
        assert_eq!(decode(ETHERNET, &[0; 13], 13), Err(LinkError::Truncated("ether")));
        assert_eq!(decode(LINUX_SLL, &[0; 15], 15), Err(LinkError::Truncated("sll")));
        assert_eq!(decode(9999, &[0; 15], 15), Err(LinkError::UnknownLinkType(9999)));
    }
}
