//! tcpdump 4.99.3's TCP line, for the segments of IKE and ESP over TCP (RFC 8229, port 4500).
//!
//! tcpdump prints only the TCP header of these segments (it has no RFC 8229 printer): flags,
//! sequence numbers made relative per conversation, window, options, length. Paths whose text
//! depends on more than this (MD5 signatures checked with libcrypto, MPTCP, TCP Fast Open, a
//! payload printer chosen by the other port, truncated options, malformed headers) are printed
//! our way and reported as not exact, so the line leaves the tcpdump-identical bar.

use super::{get_be_u16, get_be_u32, get_u8, have, Out, PResult};
use std::collections::HashMap;
use std::fmt::Write;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;
const URG: u8 = 0x20;

/// Conversations whose first sequence numbers are remembered; past this, new conversations
/// print inexactly rather than grow memory without bound (tcpdump's table is unbounded).
const MAX_CONVERSATIONS: usize = 1 << 17;

/// tcpdump's per-conversation base sequence numbers (its `tcp_seq_hash`): one entry for both
/// directions, keyed in a fixed order of the two ends.
#[derive(Debug, Default)]
pub struct Conversations {
    bases: HashMap<ConvKey, (u32, u32)>,
}

/// Two addresses, the two ports (one in each half) and the address family, in tcpdump's order.
type ConvKey = ([u8; 16], [u8; 16], u32, bool);

/// What the TCP printer needs of the IP header.
pub struct Ip<'a> {
    pub v4: bool,
    /// Source and destination address as in the header (4 or 16 bytes).
    pub src: &'a [u8],
    pub dst: &'a [u8],
    pub src_txt: &'a str,
    pub dst_txt: &'a str,
    /// The IP header's own protocol / next-header field is TCP (no extension header between).
    pub tcp_follows_ip: bool,
}

/// A TCP segment tcpdump prints as header only: to or from port 4500.
pub fn is_ike_tcp(seg: &[u8]) -> bool {
    match (seg.get(0..2), seg.get(2..4)) {
        (Some(s), Some(d)) => u16::from_be_bytes([s[0], s[1]]) == 4500 || u16::from_be_bytes([d[0], d[1]]) == 4500,
        _ => false,
    }
}

/// The other end's port selects one of tcpdump's payload printers unless it is ephemeral.
fn payload_printed_by_tcpdump(sport: u16, dport: u16) -> bool {
    let other = if sport == 4500 { dport } else { sport };
    other != 4500 && other < 32768
}

fn bytes16(b: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    let n = b.len().min(16);
    a[..n].copy_from_slice(&b[..n]);
    a
}

/// Prints the segment `bp` (`length` bytes on the wire) as tcpdump's `tcp_print` does.
/// `cksum` sums the segment with its pseudo-header (0 when correct). Returns whether the text is
/// tcpdump's exactly.
pub fn tcp_print(
    o: &mut Out,
    conv: &mut Conversations,
    bp: &[u8],
    length: u32,
    ip: &Ip<'_>,
    fragmented: bool,
    cksum: impl Fn(&[u8], u32) -> u16,
) -> (PResult, bool) {
    o.proto = "tcp";
    let mut exact = true;
    let r = print(o, conv, bp, length, ip, fragmented, cksum, &mut exact);
    (r, exact)
}

#[allow(clippy::too_many_arguments)]
fn print(
    o: &mut Out,
    conv: &mut Conversations,
    bp: &[u8],
    length: u32,
    ip: &Ip<'_>,
    fragmented: bool,
    cksum: impl Fn(&[u8], u32) -> u16,
    exact: &mut bool,
) -> PResult {
    if !have(bp, 2, 2) {
        let _ = write!(o, "{} > {}:", ip.src_txt, ip.dst_txt);
        o.trunc_marker();
        return Ok(());
    }
    let sport = get_be_u16(bp, 0)?;
    let dport = get_be_u16(bp, 2)?;
    if ip.tcp_follows_ip {
        let _ = write!(o, "{}.{} > {}.{}: ", ip.src_txt, sport, ip.dst_txt, dport);
    } else {
        let _ = write!(o, "{sport} > {dport}: ");
    }
    let hlen = (get_u8(bp, 12).unwrap_or(0) >> 4) as u32 * 4;
    if bp.len() < 20 || hlen < 20 || hlen > length {
        // Malformed or cut headers: tcpdump's wording here is not vouched for.
        *exact = false;
        let _ = write!(
            o,
            "tcp {} [bad or truncated header, length {hlen}]",
            length.saturating_sub(hlen)
        );
        return Ok(());
    }
    let mut seq = get_be_u32(bp, 4)?;
    let mut ack = get_be_u32(bp, 8)?;
    let win = get_be_u16(bp, 14)?;
    let urp = get_be_u16(bp, 18)?;
    let flags = get_u8(bp, 13)?;
    o.push_str("Flags [");
    if flags == 0 {
        o.push_str("none");
    }
    for (bit, c) in [
        (FIN, 'F'),
        (SYN, 'S'),
        (RST, 'R'),
        (0x08, 'P'),
        (ACK, '.'),
        (URG, 'U'),
        (0x40, 'E'),
        (0x80, 'W'),
    ] {
        if flags & bit != 0 {
            o.push(c);
        }
    }
    o.push(']');

    let (mut rev, mut thseq, mut thack) = (false, 0u32, 0u32);
    if flags & ACK != 0 {
        rev = sport > dport || (sport == dport && ip.src > ip.dst);
        let key = if rev {
            (
                bytes16(ip.dst),
                bytes16(ip.src),
                (dport as u32) << 16 | sport as u32,
                ip.v4,
            )
        } else {
            (
                bytes16(ip.src),
                bytes16(ip.dst),
                (sport as u32) << 16 | dport as u32,
                ip.v4,
            )
        };
        let known = conv.bases.get(&key).copied();
        match known {
            Some((s, a)) if flags & SYN == 0 => {
                if rev {
                    seq = seq.wrapping_sub(a);
                    ack = ack.wrapping_sub(s);
                } else {
                    seq = seq.wrapping_sub(s);
                    ack = ack.wrapping_sub(a);
                }
                (thseq, thack) = (s, a);
            }
            _ => {
                // A new conversation (or a SYN restarting one): its numbers are the bases.
                let base = if rev {
                    (ack.wrapping_sub(1), seq)
                } else {
                    (seq, ack.wrapping_sub(1))
                };
                if known.is_none() && conv.bases.len() >= MAX_CONVERSATIONS {
                    *exact = false;
                } else {
                    conv.bases.insert(key, base);
                }
                (thseq, thack) = base;
            }
        }
    }

    if o.vflag > 0 && !fragmented && have(bp, 0, length as usize) {
        let sum = cksum(&bp[..length as usize], length);
        let tcp_sum = get_be_u16(bp, 16)?;
        let _ = write!(o, ", cksum 0x{tcp_sum:04x}");
        if sum != 0 {
            let _ = write!(
                o,
                " (incorrect -> 0x{:04x})",
                crate::wire::checksum::should_be(tcp_sum, sum)
            );
        } else {
            o.push_str(" (correct)");
        }
    }

    let length = length - hlen;
    if o.vflag > 1 || length > 0 || flags & (SYN | FIN | RST) != 0 {
        let _ = write!(o, ", seq {seq}");
        if length > 0 {
            let _ = write!(o, ":{}", seq.wrapping_add(length));
        }
    }
    if flags & ACK != 0 {
        let _ = write!(o, ", ack {ack}");
    }
    let _ = write!(o, ", win {win}");
    if flags & URG != 0 {
        let _ = write!(o, ", urg {urp}");
    }
    if hlen > 20 {
        o.push_str(", options [");
        match options(
            o,
            &bp[20..(hlen as usize).min(bp.len())],
            hlen - 20,
            rev,
            thseq,
            thack,
            exact,
        ) {
            Ok(Opts::Done) => o.push(']'),
            // tcpdump stops the line there.
            Ok(Opts::Bad { first }) => {
                o.push_str("[bad opt]");
                if !first {
                    o.push(']');
                }
                return Ok(());
            }
            Err(_) => {
                // Options past the captured bytes: tcpdump's marker placement is not vouched for.
                *exact = false;
                o.push_str(" [|tcp]");
                return Ok(());
            }
        }
    }
    let _ = write!(o, ", length {length}");
    if length > 0 && ((flags & RST != 0 && o.vflag > 0) || payload_printed_by_tcpdump(sport, dport)) {
        *exact = false;
    }
    Ok(())
}

enum Opts {
    Done,
    /// A length that cannot be: tcpdump prints `[bad opt]` and ends the line (closing the list
    /// only after a first whole option).
    Bad {
        first: bool,
    },
}

/// The options list (tcpdump's names; `Err` when they run past the captured bytes).
fn options(
    o: &mut Out,
    cp: &[u8],
    mut hlen: u32,
    rev: bool,
    thseq: u32,
    thack: u32,
    exact: &mut bool,
) -> PResult<Opts> {
    let mut pos = 0usize;
    let mut first = true;
    while hlen > 0 {
        if !first {
            o.push(',');
        }
        let opt = get_u8(cp, pos)?;
        pos += 1;
        let len = if matches!(opt, 0 | 1) {
            1
        } else {
            let l = get_u8(cp, pos)? as u32;
            pos += 1;
            if l < 2 || l > hlen {
                return Ok(Opts::Bad { first });
            }
            hlen -= 1;
            l
        };
        hlen -= 1;
        let name = match opt {
            0 => "eol",
            1 => "nop",
            2 => "mss",
            3 => "wscale",
            4 => "sackOK",
            5 => "sack",
            6 => "echo",
            7 => "echoreply",
            8 => "TS",
            11 => "cc",
            12 => "ccnew",
            13 => "",
            19 => "md5",
            20 => "scps",
            28 => "uto",
            29 => "tcp-ao",
            30 => "mptcp",
            34 => "tfo",
            254 => "exp",
            _ => "",
        };
        if name.is_empty() && opt != 13 {
            let _ = write!(o, "unknown-{opt}");
        } else {
            o.push_str(name);
        }
        // Bytes of the option's data that must be there (tcpdump's LENCHECK).
        let need = |n: u32, hlen: u32| -> PResult<Option<&[u8]>> {
            if n > hlen {
                return Ok(None);
            }
            cp.get(pos..pos + n as usize).map(Some).ok_or(super::Trunc)
        };
        let bad = Opts::Bad { first };
        let datalen: u32 = match opt {
            2 => {
                let Some(d) = need(2, hlen)? else { return Ok(bad) };
                let _ = write!(o, " {}", u16::from_be_bytes([d[0], d[1]]));
                2
            }
            3 => {
                let Some(d) = need(1, hlen)? else { return Ok(bad) };
                let _ = write!(o, " {}", d[0]);
                1
            }
            5 => {
                let dl = len - 2;
                if dl % 8 != 0 {
                    o.push_str(" invalid sack");
                } else {
                    let _ = write!(o, " {} ", dl / 8);
                    for i in (0..dl).step_by(8) {
                        let Some(d) = need(i + 8, hlen)? else { return Ok(bad) };
                        let i = i as usize;
                        let mut s = u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
                        let mut e = u32::from_be_bytes([d[i + 4], d[i + 5], d[i + 6], d[i + 7]]);
                        let base = if rev { thseq } else { thack };
                        s = s.wrapping_sub(base);
                        e = e.wrapping_sub(base);
                        let _ = write!(o, "{{{s}:{e}}}");
                    }
                }
                dl
            }
            6 | 7 | 11 | 12 | 13 => {
                let Some(d) = need(4, hlen)? else { return Ok(bad) };
                let _ = write!(o, " {}", u32::from_be_bytes([d[0], d[1], d[2], d[3]]));
                4
            }
            8 => {
                let Some(d) = need(8, hlen)? else { return Ok(bad) };
                let v = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
                let _ = write!(o, " val {} ecr {}", v(0), v(4));
                8
            }
            20 => {
                let Some(d) = need(2, hlen)? else { return Ok(bad) };
                let _ = write!(o, " cap {:02x} id {}", d[0], d[1]);
                2
            }
            28 => {
                let Some(d) = need(2, hlen)? else { return Ok(bad) };
                let v = u16::from_be_bytes([d[0], d[1]]) as u32;
                let secs = if v & 1 != 0 { (v >> 1) * 60 } else { v >> 1 };
                let _ = write!(o, " 0x{v:x} {secs}");
                2
            }
            0 | 1 | 4 => 0,
            19 | 29 | 30 | 34 | 254 => {
                // Printed from more than the option's bytes (libcrypto, MPTCP state): not ours.
                *exact = false;
                let dl = len - 2;
                let Some(d) = need(dl, hlen)? else { return Ok(bad) };
                for b in d {
                    let _ = write!(o, "{b:02x}");
                }
                dl
            }
            _ => {
                let dl = len - 2;
                if dl > 0 {
                    o.push_str(" 0x");
                }
                let Some(d) = need(dl, hlen)? else { return Ok(bad) };
                for b in d {
                    let _ = write!(o, "{b:02x}");
                }
                dl
            }
        };
        pos += datalen as usize;
        hlen -= datalen;
        let spec = datalen + 1 + u32::from(!matches!(opt, 0 | 1));
        if spec != len {
            let _ = write!(o, "[len {len}]");
        }
        first = false;
        if opt == 0 {
            break;
        }
    }
    Ok(Opts::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(flags: u8, seq: u32, ack: u32, opts: &[u8], payload: usize) -> Vec<u8> {
        let hl = 20 + opts.len();
        let mut b = vec![0u8; hl + payload];
        b[0..2].copy_from_slice(&40000u16.to_be_bytes());
        b[2..4].copy_from_slice(&4500u16.to_be_bytes());
        b[4..8].copy_from_slice(&seq.to_be_bytes());
        b[8..12].copy_from_slice(&ack.to_be_bytes());
        b[12] = ((hl / 4) as u8) << 4;
        b[13] = flags;
        b[14..16].copy_from_slice(&512u16.to_be_bytes());
        b[20..hl].copy_from_slice(opts);
        b
    }

    fn line(conv: &mut Conversations, b: &[u8], vflag: u8) -> (String, bool) {
        let mut o = Out::new(vflag, false);
        let ip = Ip {
            v4: true,
            src: &[192, 0, 2, 1],
            dst: &[198, 51, 100, 2],
            src_txt: "192.0.2.1",
            dst_txt: "198.51.100.2",
            tcp_follows_ip: true,
        };
        let (r, exact) = tcp_print(&mut o, conv, b, b.len() as u32, &ip, false, |_, _| 0);
        assert!(r.is_ok());
        (o.as_str().to_string(), exact)
    }

    #[test]
    fn sequence_numbers_become_relative_after_the_first_ack() {
        let mut c = Conversations::default();
        let (l, _) = line(&mut c, &seg(SYN, 1000, 0, &[2, 4, 5, 0xb4], 0), 0);
        assert_eq!(
            l,
            "192.0.2.1.40000 > 198.51.100.2.4500: Flags [S], seq 1000, win 512, options [mss 1460], length 0"
        );
        let (l, _) = line(&mut c, &seg(ACK, 1001, 5001, &[], 0), 0);
        assert!(l.ends_with("Flags [.], ack 5001, win 512, length 0"), "{l}");
        let (l, exact) = line(&mut c, &seg(ACK | 0x08, 1001, 5001, &[], 6), 0);
        assert!(l.ends_with("Flags [P.], seq 0:6, ack 1, win 512, length 6"), "{l}");
        assert!(exact);
    }

    #[test]
    fn hostile_options_never_panic() {
        let mut c = Conversations::default();
        for opts in [
            &[5u8, 3, 0, 0][..],
            &[2, 1, 0, 0],
            &[8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
            &[30, 4, 0, 0],
            &[0, 0, 0, 0],
            &[99, 2, 1, 1],
        ] {
            let (l, _) = line(&mut c, &seg(ACK, 1, 1, opts, 0), 2);
            assert!(l.contains("options ["), "{l}");
        }
        // A header that claims more than the segment.
        let mut b = seg(ACK, 1, 1, &[], 0);
        b[12] = 0xf0;
        assert!(!line(&mut c, &b, 0).1);
    }
}
