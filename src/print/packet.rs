//! One frame to one tcpdump line: link (`-e`), IPv4/IPv6, UDP, NAT-T, ESP, AH, fragments.
//!
//! IPsec packets take tcpdump 4.99.3's exact path; any other packet gets a short line of our own.

use super::addr::{ipv4, ipv6, mac};
use super::esp;
use super::isakmp::{isakmp_print, IsakmpState};
use super::tcp;
use super::time::{Clock, TimeFormat};
use super::{get_be_u16, get_be_u32, get_bytes, get_u8, have, IpEnds, Out, PResult, Trunc};
use crate::source::Frame;
use crate::wire::link::{self, Header, Net};
use crate::wire::{checksum, ip_proto};
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub vflag: u8,
    pub eflag: bool,
    pub number: bool,
    pub time: TimeFormat,
}

/// Whether a packet falls under the tcpdump-identical bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// IKE, NAT-T, ESP, AH or a non-first IP fragment: printed byte-identical to tcpdump.
    Ipsec,
    /// Anything else: a short line of our own.
    Other,
}

pub struct Printer {
    opts: Options,
    /// Frames of link types we cannot decode, per link type.
    pub unknown_link: std::collections::BTreeMap<u32, u64>,
    clock: Clock,
    isakmp: IsakmpState,
    count: u64,
    /// `-E` secrets.
    esp: Option<std::sync::Arc<esp::Secrets>>,
    /// The tunnel's keys (`--keys`): ESP SAs tried after the `-E` secrets.
    keys: Option<std::sync::Arc<crate::keys::KeyRing>>,
    /// Inside a decrypted ESP payload: protocols we do not print make the line not ours to vouch for.
    in_plaintext: bool,
    /// The line holds text tcpdump would print otherwise (a decrypted protocol we do not print).
    inexact: bool,
    /// tcpdump's warnings while printing (`-E`): the caller writes them to standard error.
    pub warnings: Vec<String>,
    /// Base sequence numbers of TCP conversations, as tcpdump keeps them.
    tcp: tcp::Conversations,
}

const MAXIMUM_SNAPLEN: u32 = 262_144;

impl Printer {
    pub fn new(opts: Options) -> Printer {
        Printer {
            opts,
            unknown_link: Default::default(),
            clock: Clock::new(opts.time),
            isakmp: IsakmpState::default(),
            count: 0,
            esp: None,
            keys: None,
            in_plaintext: false,
            inexact: false,
            warnings: Vec::new(),
            tcp: tcp::Conversations::default(),
        }
    }

    /// ESP decryption with `-E` secrets.
    pub fn set_esp(&mut self, secrets: esp::Secrets) {
        let secrets = std::sync::Arc::new(secrets);
        self.isakmp.secrets = Some(secrets.clone());
        self.esp = Some(secrets);
    }

    /// Decryption with the tunnel's keys: ESP packets whose SPI and addresses match one of its
    /// SAs, and at `-v` IKEv2 SK payloads whose SPIs match one, are printed decrypted as tcpdump
    /// prints an `-E` payload; when an ICV does not match, ` [wrong key or corrupted packet (ICV
    /// mismatch)]` (or `(bad padding)`) ends the line instead. `-E` secrets are looked up first.
    pub fn set_keys(&mut self, keys: std::sync::Arc<crate::keys::KeyRing>) {
        self.isakmp.keys = Some(keys.clone());
        self.keys = Some(keys);
    }

    /// Prints one frame into `out` (without the newline) and says which kind of line it is.
    pub fn print(&mut self, f: &Frame<'_>, out: &mut Out) -> Class {
        out.clear();
        out.vflag = self.opts.vflag;
        out.eflag = self.opts.eflag;
        self.count += 1;
        let mut line = String::new();
        if self.opts.number {
            let _ = write!(line, "{:5}  ", self.count);
        }
        let caplen = f.data.len() as u32;
        let mut bad = Vec::new();
        if caplen == 0 {
            bad.push("caplen==0".to_string());
        }
        if f.wire_len == 0 {
            bad.push("len==0".into());
        } else if f.wire_len < caplen {
            bad.push(format!("len({}) < caplen({})", f.wire_len, caplen));
        }
        if caplen > MAXIMUM_SNAPLEN {
            bad.push(format!("caplen({caplen}) > {MAXIMUM_SNAPLEN}"));
        }
        if f.wire_len > MAXIMUM_SNAPLEN {
            bad.push(format!("len({}) > {MAXIMUM_SNAPLEN}", f.wire_len));
        }
        if !bad.is_empty() {
            out.push_str(&line);
            let _ = write!(out, "[Invalid header: {}]", bad.join(", "));
            return Class::Other;
        }
        self.clock.write(&mut line, f.ts);
        out.push_str(&line);
        // The link layer is decoded once; classification and both printers share it.
        let l = match link::decode(f.linktype, f.data, f.wire_len) {
            Ok(l) => l,
            Err(link::LinkError::Truncated(p)) => {
                let _ = write!(out, "[|{p}]");
                return Class::Other;
            }
            Err(link::LinkError::UnknownLinkType(t)) => {
                *self.unknown_link.entry(t).or_insert(0) += 1;
                let _ = write!(out, "unsupported link type {t}, length {}", f.wire_len);
                return Class::Other;
            }
        };
        let class = classify(&l);
        if class == Class::Other {
            other_line(out, &l, f.wire_len);
            return class;
        }
        self.inexact = false;
        self.in_plaintext = false;
        if self.link_print(out, &l, f.wire_len).is_err() {
            out.trunc_marker();
        }
        self.warnings.append(&mut self.isakmp.warnings);
        if self.inexact {
            return Class::Other;
        }
        class
    }

    fn link_print(&mut self, o: &mut Out, l: &link::Link<'_>, frame_len: u32) -> PResult {
        if let Header::Sll2 { ifindex, pkttype, .. } = l.header {
            // tcpdump names the interface by looking the index up on this machine.
            let _ = write!(o, "{:<5} {:<3} ", interface_name(ifindex), sll_pkttype(pkttype as u16));
        }
        if o.eflag {
            link_header_print(o, l, frame_len);
        } else if let Header::Ethernet { pppoe: Some(p), .. } = l.header {
            pppoe_print(o, &p);
        }
        match l.net {
            Net::Ipv4 => self.ip_print(o, l.payload, l.wire_len),
            Net::Ipv6 => self.ip6_print(o, l.payload, l.wire_len),
            Net::Other(_) => Ok(()),
        }
    }

    fn ip_print(&mut self, o: &mut Out, bp: &[u8], length: u32) -> PResult {
        o.proto = "ip";
        let vhl = get_u8(bp, 0)?;
        if vhl >> 4 != 4 {
            let _ = write!(o, "IP{} (invalid)", vhl >> 4);
            return Ok(());
        }
        if !o.eflag {
            o.push_str("IP ");
        }
        if !have(bp, 0, 20) {
            return Err(Trunc);
        }
        if length < 20 {
            let _ = write!(o, "truncated-ip {length}");
            return Ok(());
        }
        let hlen = ((vhl & 0x0f) as u32) * 4;
        if hlen < 20 {
            let _ = write!(o, "bad-hlen {hlen}");
            return Ok(());
        }
        let mut len = get_be_u16(bp, 2)? as u32;
        if length < len {
            let _ = write!(o, "truncated-ip - {} bytes missing! ", len - length);
        }
        if len < hlen {
            let _ = write!(o, "bad-len {len}");
            return Ok(());
        }
        let bp = &bp[..bp.len().min(len as usize)];
        len -= hlen;
        let off = get_be_u16(bp, 6)?;
        let proto = get_u8(bp, 9)?;
        let src = get_bytes(bp, 12, 4)?;
        let dst = get_bytes(bp, 16, 4)?;
        if o.vflag > 0 {
            let tos = get_u8(bp, 1)?;
            let _ = write!(o, "(tos 0x{tos:x}");
            match tos & 3 {
                1 => o.push_str(",ECT(1)"),
                2 => o.push_str(",ECT(0)"),
                3 => o.push_str(",CE"),
                _ => {}
            }
            let ttl = get_u8(bp, 8)?;
            if ttl >= 1 {
                let _ = write!(o, ", ttl {ttl}");
            }
            let flags: Vec<&str> = [(0x2000, "+"), (0x4000, "DF"), (0x8000, "rsvd")]
                .iter()
                .filter(|(bit, _)| off & bit != 0)
                .map(|&(_, name)| name)
                .collect();
            let flags = if flags.is_empty() {
                "none".to_string()
            } else {
                flags.join(", ")
            };
            let _ = write!(
                o,
                ", id {}, offset {}, flags [{}], proto {} ({})",
                get_be_u16(bp, 4)?,
                (off & 0x1fff) as u32 * 8,
                flags,
                ip_proto::name(proto).unwrap_or("unknown"),
                proto
            );
            let _ = write!(o, ", length {}", get_be_u16(bp, 2)?);
            let mut truncated = false;
            if hlen > 20 {
                o.push_str(", options (");
                if ip_options_print(o, &bp[20.min(bp.len())..], hlen - 20).is_err() {
                    o.push_str(" [truncated-option]");
                    truncated = true;
                }
                o.push(')');
            }
            if have(bp, 0, hlen as usize) {
                let sum = checksum::fold(checksum::sum(&bp[..hlen as usize], 0));
                if sum != 0 {
                    let ip_sum = get_be_u16(bp, 10)?;
                    let _ = write!(
                        o,
                        ", bad cksum {:x} (->{:x})!",
                        ip_sum,
                        checksum::should_be(ip_sum, sum)
                    );
                }
            }
            o.push_str(")\n    ");
            if truncated {
                let _ = write!(o, "{} > {}: ", ipv4(src), ipv4(dst));
                o.trunc_marker();
                return Ok(());
            }
        }
        let ends = IpEnds {
            src: IpAddr::V4(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
            dst: IpAddr::V4(Ipv4Addr::new(dst[0], dst[1], dst[2], dst[3])),
        };
        if off & 0x1fff == 0 {
            if !matches!(proto, 6 | 17 | 132 | 33) {
                let _ = write!(o, "{} > {}: ", ipv4(src), ipv4(dst));
            }
            if !have(bp, 0, hlen as usize) {
                let _ = write!(o, " [remaining caplen({}) < header length({})]", bp.len(), hlen);
                return Err(Trunc);
            }
            let ip = IpHdr {
                ends,
                udp_follows_ip: proto == 17,
                tcp_follows_ip: proto == 6,
                src_txt: ipv4(src),
                dst_txt: ipv4(dst),
                v4: true,
                whole: bp,
            };
            self.demux(o, &bp[hlen as usize..], len, &ip, off & 0x2000 != 0, proto)
        } else {
            let _ = write!(o, "{} > {}: ip-proto-{}", ipv4(src), ipv4(dst), proto);
            Ok(())
        }
    }

    fn ip6_print(&mut self, o: &mut Out, bp: &[u8], length: u32) -> PResult {
        o.proto = "ip6";
        if !have(bp, 0, 40) {
            return Err(Trunc);
        }
        if length < 40 {
            let _ = write!(o, "truncated-ip6 {length}");
            return Ok(());
        }
        if !o.eflag {
            o.push_str("IP6 ");
        }
        if bp[0] >> 4 != 6 {
            let _ = write!(o, "version error: {} != 6", bp[0] >> 4);
            return Ok(());
        }
        let payload_len = get_be_u16(bp, 4)? as u32;
        let mut len = if payload_len != 0 {
            let l = payload_len + 40;
            if length < l {
                let _ = write!(o, "truncated-ip6 - {} bytes missing!", l - length);
            }
            l
        } else {
            length + 40
        };
        let mut nh = get_u8(bp, 6)?;
        let first_nh = nh;
        let src = get_bytes(bp, 8, 16)?;
        let dst = get_bytes(bp, 24, 16)?;
        if o.vflag > 0 {
            let flow = get_be_u32(bp, 0)?;
            o.push('(');
            if flow & 0x0ff0_0000 != 0 {
                let _ = write!(o, "class 0x{:02x}, ", (flow & 0x0ff0_0000) >> 20);
            }
            if flow & 0x000f_ffff != 0 {
                let _ = write!(o, "flowlabel 0x{:05x}, ", flow & 0x000f_ffff);
            }
            let _ = write!(
                o,
                "hlim {}, next-header {} ({}) payload length: {}) ",
                get_u8(bp, 7)?,
                ip_proto::name(nh).unwrap_or("unknown"),
                nh,
                payload_len
            );
        }
        let bp = &bp[..bp.len().min(len as usize)];
        let s6 = ipv6(src);
        let d6 = ipv6(dst);
        let mut a = [0u8; 16];
        a.copy_from_slice(src);
        let mut b = [0u8; 16];
        b.copy_from_slice(dst);
        let ends = IpEnds {
            src: IpAddr::V6(Ipv6Addr::from(a)),
            dst: IpAddr::V6(Ipv6Addr::from(b)),
        };
        let mut cp = 0usize;
        let mut advance = 40usize;
        let mut fragmented = false;
        let mut payload_len = payload_len;
        let (mut found_ext, mut found_jumbo, mut found_hbh) = (false, false, false);
        let mut ph = 255u8;
        let mut bp = bp;
        while cp < bp.len() && advance > 0 {
            if (len as usize) < advance {
                return trunc_here(o);
            }
            cp += advance;
            len -= advance as u32;
            if cp == 40 && !matches!(nh, 6 | 17 | 33 | 132) {
                let _ = write!(o, "{s6} > {d6}: ");
            }
            match nh {
                0 => {
                    if found_hbh {
                        o.push_str("[The Hop-by-Hop Options header was already found] (invalid)");
                        return Ok(());
                    }
                    if ph != 255 {
                        o.push_str("[The Hop-by-Hop Options header don't follow the IPv6 header] (invalid)");
                        return Ok(());
                    }
                    o.proto = "hbhopt";
                    let l = (get_u8(bp, cp + 1)? as usize + 1) * 8;
                    let ok = if have(bp, cp, l) {
                        o.push_str("HBH ");
                        let jumbo = ip6_opt_print(o, &bp[cp + 2..cp + l], Some(&mut payload_len))?;
                        found_jumbo |= jumbo == Some(true);
                        jumbo.is_some()
                    } else {
                        false
                    };
                    if !ok {
                        o.trunc_marker();
                    }
                    if payload_len == 0 && !found_jumbo {
                        o.push_str("[No valid Jumbo Payload Hop-by-Hop option found] (invalid)");
                        return Ok(());
                    }
                    if !ok {
                        return Ok(());
                    }
                    advance = l;
                    found_ext = true;
                    found_hbh = true;
                    nh = get_u8(bp, cp)?;
                }
                60 => {
                    o.proto = "dstopt";
                    let l = (get_u8(bp, cp + 1)? as usize + 1) * 8;
                    if !have(bp, cp, l) {
                        o.trunc_marker();
                        return Ok(());
                    }
                    o.push_str("DSTOPT ");
                    if o.vflag > 0 && ip6_opt_print(o, &bp[cp + 2..cp + l], None)?.is_none() {
                        o.trunc_marker();
                        return Ok(());
                    }
                    advance = l;
                    found_ext = true;
                    nh = get_u8(bp, cp)?;
                }
                43 => {
                    get_u8(bp, cp)?;
                    match rt6_print(o, &bp[cp..])? {
                        Some(l) => advance = l,
                        None => return Ok(()),
                    }
                    found_ext = true;
                    nh = get_u8(bp, cp)?;
                }
                44 => {
                    o.proto = "frag6";
                    let id = get_be_u32(bp, cp + 4)?;
                    let offlg = get_be_u16(bp, cp + 2)?;
                    let rest = (40 + payload_len as i64) - cp as i64 - 8;
                    if o.vflag > 0 {
                        let _ = write!(o, "frag (0x{:08x}:{}|{})", id, offlg & 0xfff8, rest as u64);
                    } else {
                        let _ = write!(o, "frag ({}|{})", offlg & 0xfff8, rest as u64);
                    }
                    if offlg & 0xfff8 != 0 {
                        return Ok(());
                    }
                    o.push(' ');
                    advance = 8;
                    if bp.len() <= cp + advance {
                        return Ok(());
                    }
                    found_ext = true;
                    nh = get_u8(bp, cp)?;
                    fragmented = true;
                }
                _ => {
                    if found_jumbo {
                        let total = payload_len as usize + 40;
                        if total < cp {
                            return trunc_here(o);
                        }
                        if (length as usize) < total {
                            let _ = write!(o, "truncated-ip6 - {} bytes missing!", total - length as usize);
                        }
                        bp = &bp[..bp.len().min(total)];
                        len = (total - cp) as u32;
                    } else if payload_len == 0 {
                        if found_ext {
                            return trunc_here(o);
                        }
                        bp = &bp[..bp.len().min(40)];
                        len = 0;
                    }
                    let ip = IpHdr {
                        ends,
                        udp_follows_ip: first_nh == 17,
                        tcp_follows_ip: first_nh == 6,
                        src_txt: s6.clone(),
                        dst_txt: d6.clone(),
                        v4: false,
                        whole: bp,
                    };
                    return self.demux(o, bp.get(cp..).unwrap_or(&[]), len, &ip, fragmented, nh);
                }
            }
            ph = nh;
            o.proto = "ip6";
        }
        Ok(())
    }

    fn demux(&mut self, o: &mut Out, bp: &[u8], mut length: u32, ip: &IpHdr<'_>, frag: bool, mut nh: u8) -> PResult {
        let mut bp = bp;
        loop {
            match nh {
                51 => {
                    if bp.is_empty() {
                        o.proto = "ah";
                        o.trunc_marker();
                        return Ok(());
                    }
                    nh = bp[0];
                    let adv = ah_print(o, bp)?;
                    if adv == 0 || adv > bp.len() {
                        // tcpdump goes on with the pointer past the captured bytes: the next read truncates.
                        return Err(Trunc);
                    }
                    bp = &bp[adv..];
                    length = length.wrapping_sub(adv as u32);
                }
                50 => return self.esp_print(o, bp, length, ip, frag),
                1 if ip.v4 => return self.icmp_print(o, bp, length, frag),
                17 => return self.udp_print(o, bp, length, ip, frag),
                // IKE and ESP over TCP (RFC 8229): tcpdump prints the TCP header only.
                6 if !self.in_plaintext && ip.tcp_follows_ip && tcp::is_ike_tcp(bp) => {
                    return self.tcp_print(o, bp, length, ip, frag)
                }
                // Behind AH: the inner protocol is not ours to print.
                _ if !self.in_plaintext => return Ok(()),
                _ => return self.plaintext_other(o, bp, length, ip, nh),
            }
        }
    }

    fn tcp_print(&mut self, o: &mut Out, bp: &[u8], length: u32, ip: &IpHdr<'_>, frag: bool) -> PResult {
        let (src, dst) = if ip.v4 {
            (&ip.whole[12..16], &ip.whole[16..20])
        } else {
            (&ip.whole[8..24], &ip.whole[24..40])
        };
        let t = tcp::Ip {
            v4: ip.v4,
            src,
            dst,
            src_txt: &ip.src_txt,
            dst_txt: &ip.dst_txt,
            tcp_follows_ip: ip.tcp_follows_ip,
        };
        let cksum = |seg: &[u8], len: u32| l4_checksum(ip, seg, len, ip_proto::TCP);
        let (r, exact) = tcp::tcp_print(o, &mut self.tcp, bp, length, &t, frag, cksum);
        self.inexact |= !exact;
        r
    }

    /// tcpdump's ICMPv4 printer for the error types, with the quoted packet at `-v`.
    /// tcpdump's ESP printer, decrypting with the `-E` secrets.
    fn esp_print(&mut self, o: &mut Out, bp: &[u8], length: u32, ip: &IpHdr<'_>, frag: bool) -> PResult {
        o.proto = "esp";
        if bp.len() <= 8 {
            o.trunc_marker();
            return Ok(());
        }
        let spi = get_be_u32(bp, 0)?;
        let _ = write!(o, "ESP(spi=0x{spi:08x}");
        let _ = write!(o, ",seq=0x{:x})", get_be_u32(bp, 4)?);
        let _ = write!(o, ", length {length}");
        let secrets = self.esp.clone().filter(|s| !s.is_empty());
        let keys = self.keys.clone().filter(|k| !k.esp.is_empty());
        if secrets.is_none() && keys.is_none() {
            return Ok(());
        }
        if ip.v4 {
            // Next header and padding are in the last fragment.
            if frag {
                return Ok(());
            }
        } else if get_be_u16(ip.whole, 4)? == 0 {
            // Jumbograms are not decrypted.
            return Ok(());
        }
        if let Some(sa) = secrets.as_ref().and_then(|s| s.lookup(spi, ip.ends.dst)) {
            if let Some(aead) = sa.aead_sa() {
                // Our extension: tcpdump cannot open AEAD.
                let r = self.open_whole(bp, length, |bp| crate::decrypt::esp(&aead, bp));
                return self.esp_opened(o, r, ip, frag);
            }
            return self.esp_tcpdump(o, bp, ip, frag, sa);
        }
        let Some(keys) = keys else {
            return Ok(());
        };
        // The SAs of this SPI, then those whose SPI is unknown: only a failure with an SA of
        // this SPI is this packet's to report.
        let mut failure = None;
        for sa in keys.esp_candidates(spi, ip.ends.src, ip.ends.dst) {
            match self.open_whole(bp, length, |bp| crate::decrypt::esp(sa, bp)) {
                Ok(p) => return self.esp_opened(o, Ok(p), ip, frag),
                Err(f) if sa.spi == Some(spi) && failure.is_none() => failure = Some(f),
                Err(_) => {}
            }
        }
        match failure {
            Some(f) => self.esp_opened(o, Err(f), ip, frag),
            None => Ok(()),
        }
    }

    /// Opens an ESP packet captured whole (a cut one cannot show its ICV: truncated).
    fn open_whole(
        &self,
        bp: &[u8],
        length: u32,
        open: impl FnOnce(&[u8]) -> Result<crate::decrypt::Plain, crate::decrypt::Failure>,
    ) -> Result<crate::decrypt::Plain, crate::decrypt::Failure> {
        if (bp.len() as u64) < length as u64 {
            return Err(crate::decrypt::Failure::Truncated);
        }
        open(&bp[..length as usize])
    }

    /// Prints an opened ESP payload as tcpdump prints a decrypted one, or why it was not opened.
    fn esp_opened(
        &mut self,
        o: &mut Out,
        r: Result<crate::decrypt::Plain, crate::decrypt::Failure>,
        ip: &IpHdr<'_>,
        frag: bool,
    ) -> PResult {
        match r {
            Ok(p) => {
                o.push_str(": ");
                let was = self.in_plaintext;
                self.in_plaintext = true;
                let r = self.demux(o, &p.data, p.data.len() as u32, ip, frag, p.next);
                self.in_plaintext = was;
                r
            }
            Err(crate::decrypt::Failure::Truncated) => {
                o.trunc_marker();
                Ok(())
            }
            Err(f) => {
                let _ = write!(o, " [{f}]");
                Ok(())
            }
        }
    }

    /// tcpdump's own decryption of an `-E` SA (CBC or ECB, the ICV skipped).
    fn esp_tcpdump(&mut self, o: &mut Out, bp: &[u8], ip: &IpHdr<'_>, frag: bool, sa: &esp::Sa) -> PResult {
        let ct = 8 + sa.cipher.iv_len();
        if (bp.len() as i64) - (ct as i64) < sa.authlen as i64 {
            o.trunc_marker();
            return Ok(());
        }
        let end = bp.len() - sa.authlen;
        let payloadlen = end - ct;
        let bs = sa.cipher.block_size();
        if payloadlen % bs != 0 {
            self.warnings.push(format!(
                "esp_print: ciphertext size {payloadlen} is not a multiple of the cipher block size {bs}"
            ));
            return Ok(());
        }
        let pt = esp::decrypt(sa, &bp[8..ct], &bp[ct..end]);
        // A pad length past the plaintext: corrupt, or the wrong key.
        if payloadlen < 2 || pt[payloadlen - 2] as usize + 2 > payloadlen {
            o.trunc_marker();
            return Ok(());
        }
        let padlen = pt[payloadlen - 2] as usize;
        let nh = pt[payloadlen - 1];
        o.push_str(": ");
        let inner = &pt[..payloadlen - padlen - 2];
        let was = self.in_plaintext;
        self.in_plaintext = true;
        let r = self.demux(o, inner, inner.len() as u32, ip, frag, nh);
        self.in_plaintext = was;
        r
    }

    /// tcpdump's `ip_demux_print` for the protocols only a decrypted payload brings us.
    fn plaintext_other(&mut self, o: &mut Out, bp: &[u8], length: u32, ip: &IpHdr<'_>, nh: u8) -> PResult {
        let requires = |o: &mut Out, v: &str| {
            let _ = write!(
                o,
                "[{} requires {v}] (invalid)",
                ip_proto::name(nh).unwrap_or("unknown")
            );
        };
        match nh {
            4 => return self.ip_print(o, bp, length),
            41 => return self.ip6_print(o, bp, length),
            1 => requires(o, "IPv4"),
            2 if !ip.v4 => requires(o, "IPv4"),
            58 if ip.v4 => requires(o, "IPv6"),
            143 if ip.v4 => requires(o, "IPv6"),
            59 => o.push_str("no next header"),
            77 => {
                let _ = write!(o, " nd {length}");
            }
            // Protocols tcpdump has a printer for and we do not.
            2 | 6 | 8 | 9 | 33 | 46 | 47 | 55 | 58 | 88 | 89 | 103 | 108 | 112 | 113 | 132 | 143 => {
                self.inexact = true;
                let _ = write!(o, " ip-proto-{nh} {length}");
            }
            _ => {
                let _ = write!(o, " ip-proto-{nh} {length}");
            }
        }
        Ok(())
    }

    fn icmp_print(&mut self, o: &mut Out, bp: &[u8], plen: u32, frag: bool) -> PResult {
        o.proto = "icmp";
        let kind = get_u8(bp, 0)?;
        let code = get_u8(bp, 1)?;
        let qdst = |bp: &[u8]| -> PResult<String> { Ok(ipv4(get_bytes(bp, 8 + 16, 4)?)) };
        let text = match kind {
            3 => match code {
                0 => format!("net {} unreachable", qdst(bp)?),
                1 => format!("host {} unreachable", qdst(bp)?),
                2 => format!("{} protocol {} unreachable", qdst(bp)?, get_u8(bp, 8 + 9)?),
                3 => {
                    get_u8(bp, 8 + 9)?;
                    let hlen = ((get_u8(bp, 8)? & 0x0f) as usize) * 4;
                    let dport = get_be_u16(bp, 8 + hlen + 2)?;
                    let proto = get_u8(bp, 8 + 9)?;
                    match proto {
                        6 => format!("{} tcp port {} unreachable", qdst(bp)?, dport),
                        17 => format!("{} udp port {} unreachable", qdst(bp)?, dport),
                        p => format!("{} protocol {} port {} unreachable", qdst(bp)?, p, dport),
                    }
                }
                4 => match get_be_u16(bp, 6)? {
                    0 => format!("{} unreachable - need to frag", qdst(bp)?),
                    mtu => format!("{} unreachable - need to frag (mtu {mtu})", qdst(bp)?),
                },
                5 => format!("{} unreachable - source route failed", qdst(bp)?),
                6 => format!("net {} unreachable - unknown", qdst(bp)?),
                7 => format!("host {} unreachable - unknown", qdst(bp)?),
                8 => format!("{} unreachable - source host isolated", qdst(bp)?),
                9 => format!("net {} unreachable - admin prohibited", qdst(bp)?),
                10 => format!("host {} unreachable - admin prohibited", qdst(bp)?),
                11 => format!("net {} unreachable - tos prohibited", qdst(bp)?),
                12 => format!("host {} unreachable - tos prohibited", qdst(bp)?),
                13 => format!("host {} unreachable - admin prohibited filter", qdst(bp)?),
                14 => format!("host {} unreachable - host precedence violation", qdst(bp)?),
                15 => format!("host {} unreachable - precedence cutoff", qdst(bp)?),
                c => format!("{} unreachable - #{c}", qdst(bp)?),
            },
            11 => {
                get_bytes(bp, 8 + 16, 4)?;
                match code {
                    0 => "time exceeded in-transit".to_string(),
                    1 => "ip reassembly time exceeded".to_string(),
                    c => format!("time exceeded-#{c}"),
                }
            }
            12 if code != 0 => format!("parameter problem - code {code}"),
            12 => format!("parameter problem - octet {}", get_u8(bp, 4)?),
            0 | 8 => format!(
                "echo {}, id {}, seq {}",
                if kind == 8 { "request" } else { "reply" },
                get_be_u16(bp, 4)?,
                get_be_u16(bp, 6)?
            ),
            t => {
                // tcpdump names the other types; they only reach us decrypted.
                self.inexact |= self.in_plaintext;
                format!("type-#{t}")
            }
        };
        let _ = write!(o, "ICMP {text}, length {plen}");
        if o.vflag > 0 && !frag && have(bp, 0, plen as usize) {
            let sum = checksum::fold(checksum::sum(&bp[..plen as usize], 0));
            if sum != 0 {
                let icmp_sum = get_be_u16(bp, 2)?;
                let _ = write!(
                    o,
                    " (wrong icmp cksum {:x} (->{:x})!)",
                    icmp_sum,
                    checksum::should_be(icmp_sum, sum)
                );
            }
        }
        if o.vflag > 0 && matches!(kind, 3 | 4 | 5 | 11 | 12) {
            o.push_str("\n\t");
            let inner = bp.get(8..).unwrap_or(&[]);
            let ip_len = get_be_u16(inner, 2)?;
            let inner = &inner[..inner.len().min(ip_len as usize)];
            self.ip_print(o, inner, ip_len as u32)?;
        }
        o.proto = "icmp";
        Ok(())
    }

    fn udp_print(&mut self, o: &mut Out, bp: &[u8], mut length: u32, ip: &IpHdr<'_>, frag: bool) -> PResult {
        o.proto = "udp";
        // Addresses only when UDP follows the IP header directly (not after AH or IPv6
        // extension headers, whose line already named them), as tcpdump's udpipaddr_print.
        let addrs = |o: &mut Out, ports: Option<(u16, u16)>| match (ports, ip.udp_follows_ip) {
            (Some((s, d)), true) => {
                let _ = write!(o, "{}.{} > {}.{}: ", ip.src_txt, s, ip.dst_txt, d);
            }
            (None, true) => {
                let _ = write!(o, "{} > {}: ", ip.src_txt, ip.dst_txt);
            }
            (Some((s, d)), false) => {
                let _ = write!(o, "{s} > {d}: ");
            }
            (None, false) => {}
        };
        if !have(bp, 2, 2) {
            addrs(o, None);
            return Err(Trunc);
        }
        let sport = get_be_u16(bp, 0)?;
        let dport = get_be_u16(bp, 2)?;
        if length < 8 {
            addrs(o, Some((sport, dport)));
            let _ = write!(o, "truncated-udp {length}");
            return Ok(());
        }
        if !have(bp, 4, 2) {
            addrs(o, Some((sport, dport)));
            return Err(Trunc);
        }
        let mut ulen = get_be_u16(bp, 4)? as u32;
        if ulen == 0 && length > 65535 {
            ulen = length;
        }
        if ulen < 8 {
            addrs(o, Some((sport, dport)));
            let _ = write!(o, "truncated-udplength {ulen}");
            return Ok(());
        }
        ulen -= 8;
        length -= 8;
        if ulen < length {
            length = ulen;
        }
        if bp.len() < 8 {
            addrs(o, Some((sport, dport)));
            return Err(Trunc);
        }
        addrs(o, Some((sport, dport)));
        let cp = &bp[8..];
        if o.vflag > 0 && !frag {
            let udp_sum = get_be_u16(bp, 6)?;
            let total = length as usize + 8;
            if ip.v4 && o.vflag > 1 {
                if udp_sum == 0 {
                    o.push_str("[no cksum] ");
                } else if have(cp, 0, length as usize) {
                    let sum = udp_checksum(ip, &bp[..total], total as u32);
                    if sum != 0 {
                        let _ = write!(
                            o,
                            "[bad udp cksum 0x{:04x} -> 0x{:04x}!] ",
                            udp_sum,
                            checksum::should_be(udp_sum, sum)
                        );
                    } else {
                        o.push_str("[udp sum ok] ");
                    }
                }
            } else if !ip.v4 && have(cp, 0, length as usize) {
                let sum = udp_checksum(ip, &bp[..total], total as u32);
                if sum != 0 {
                    let _ = write!(
                        o,
                        "[bad udp cksum 0x{:04x} -> 0x{:04x}!] ",
                        udp_sum,
                        checksum::should_be(udp_sum, sum)
                    );
                } else {
                    o.push_str("[udp sum ok] ");
                }
            }
        }
        match ike_port(sport, dport) {
            Some(IkePort::Isakmp) => isakmp_print(o, &mut self.isakmp, cp, length, Some(&ip.ends)),
            Some(IkePort::NatT) => {
                o.proto = "isakmp_rfc3948";
                if length == 1 && get_u8(cp, 0)? == 0xff {
                    o.push_str("isakmp-nat-keep-alive");
                    return Ok(());
                }
                if length < 4 {
                    o.trunc_marker();
                    return Ok(());
                }
                if get_be_u32(cp, 0)? == 0 {
                    o.push_str("NONESP-encap: ");
                    isakmp_print(o, &mut self.isakmp, &cp[4..], length - 4, Some(&ip.ends))
                } else {
                    o.push_str("UDP-encap: ");
                    self.esp_print(o, cp, length, ip, frag)
                }
            }
            None => {
                // tcpdump decodes many other ports; only IPsec's are ours to vouch for.
                self.inexact |= self.in_plaintext;
                let _ = write!(o, "UDP, length {ulen}");
                Ok(())
            }
        }
    }
}

/// IPv6 hop-by-hop / destination options (tcpdump's `ip6_opt_process`). `Ok(None)` when an
/// option runs past the header (the caller prints the marker); `Ok(Some(jumbo))` otherwise,
/// `jumbo` telling whether a valid Jumbo Payload option set `payload_len`.
fn ip6_opt_print(o: &mut Out, b: &[u8], mut payload_len: Option<&mut u32>) -> PResult<Option<bool>> {
    let len = b.len();
    let mut found_jumbo = false;
    let mut jumbo_ok = false;
    if len == 0 {
        return Ok(Some(false));
    }
    let mut i = 0;
    while i < len {
        let t = get_u8(b, i)?;
        let Some(optlen) = option_len(b, i)? else {
            return Ok(None);
        };
        let v = o.vflag > 0;
        match t {
            0 => {
                if v {
                    o.push_str("(pad1)");
                }
            }
            1 => {
                if len - i < 2 {
                    o.push_str("(padn: trunc)");
                    return Ok(None);
                }
                if v {
                    o.push_str("(padn)");
                }
            }
            5 => {
                if len - i < 4 {
                    o.push_str("(rtalert: trunc)");
                    return Ok(None);
                }
                let l = get_u8(b, i + 1)?;
                if l != 2 {
                    let _ = write!(o, "(rtalert: invalid len {l})");
                    return Ok(None);
                }
                if v {
                    let _ = write!(o, "(rtalert: 0x{:04x}) ", get_be_u16(b, i + 2)?);
                }
            }
            0xc2 => {
                if len - i < 6 {
                    o.push_str("(jumbo: trunc)");
                    return Ok(None);
                }
                let l = get_u8(b, i + 1)?;
                if l != 4 {
                    let _ = write!(o, "(jumbo: invalid len {l})");
                    return Ok(None);
                }
                let jl = get_be_u32(b, i + 2)?;
                if found_jumbo {
                    if v {
                        let _ = write!(o, "(jumbo: {jl} - already seen) ");
                    }
                } else {
                    found_jumbo = true;
                    match payload_len.as_deref_mut() {
                        None => {
                            if v {
                                let _ = write!(o, "(jumbo: {jl} - not a hop-by-hop option) ");
                            }
                        }
                        Some(pl) if *pl != 0 => {
                            if v {
                                let _ = write!(o, "(jumbo: {jl} - payload len != 0) ");
                            }
                        }
                        Some(pl) => {
                            if jl < 65536 {
                                if v {
                                    let _ = write!(o, "(jumbo: {jl} - < 65536) ");
                                }
                            } else {
                                jumbo_ok = true;
                                *pl = jl;
                                if v {
                                    let _ = write!(o, "(jumbo: {jl}) ");
                                }
                            }
                        }
                    }
                }
            }
            0xc9 => {
                if len - i < 18 {
                    o.push_str("(homeaddr: trunc)");
                    return Ok(None);
                }
                let l = get_u8(b, i + 1)?;
                if (l as usize) < 16 {
                    let _ = write!(o, "(homeaddr: invalid len {l})");
                    return Ok(None);
                }
                if v {
                    let _ = write!(o, "(homeaddr: {}", ipv6(get_bytes(b, i + 2, 16)?));
                    if l as usize > 16 && !ip6_sopt_print(o, &b[i + 18..i + optlen])? {
                        return Ok(None);
                    }
                    o.push(')');
                }
            }
            _ => {
                if len - i < 2 {
                    let _ = write!(o, "(type {t}: trunc)");
                    return Ok(None);
                }
                if v {
                    let _ = write!(o, "(opt_type 0x{:02x}: len={})", t, get_u8(b, i + 1)?);
                }
            }
        }
        i += optlen;
    }
    if o.vflag > 0 {
        o.push(' ');
    }
    Ok(Some(jumbo_ok))
}

/// Length of the IPv6 option at `i` (Pad1 is one byte), `None` when it runs past `b`.
fn option_len(b: &[u8], i: usize) -> PResult<Option<usize>> {
    let len = if get_u8(b, i)? == 0 {
        1
    } else if i + 1 < b.len() {
        get_u8(b, i + 1)? as usize + 2
    } else {
        return Ok(None);
    };
    Ok((i + len <= b.len()).then_some(len))
}

/// Sub-options of the home address option; false when one runs past its container.
fn ip6_sopt_print(o: &mut Out, b: &[u8]) -> PResult<bool> {
    let len = b.len();
    let mut i = 0;
    while i < len {
        let t = get_u8(b, i)?;
        let Some(optlen) = option_len(b, i)? else {
            return Ok(false);
        };
        match t {
            0 => o.push_str(", pad1"),
            1 => {
                if len - i < 2 {
                    o.push_str(", padn: trunc");
                    return Ok(false);
                }
                o.push_str(", padn");
            }
            _ => {
                if len - i < 2 {
                    let _ = write!(o, ", sopt_type {t}: trunc)");
                    return Ok(false);
                }
                let _ = write!(o, ", sopt_type 0x{:02x}: len={}", t, get_u8(b, i + 1)?);
            }
        }
        i += optlen;
    }
    Ok(true)
}

/// IPv6 routing header (tcpdump's `rt6_print`): `Ok(None)` when invalid (already said).
fn rt6_print(o: &mut Out, b: &[u8]) -> PResult<Option<usize>> {
    o.proto = "rt6";
    o.push_str("RT6");
    let len = get_u8(b, 1)?;
    let _ = write!(o, " (len={len}");
    let kind = get_u8(b, 2)?;
    let _ = write!(o, ", type={kind}");
    if kind == 0 {
        o.push_str(" [Deprecated]");
    }
    let _ = write!(o, ", segleft={}", get_u8(b, 3)?);
    let first = match kind {
        0 | 2 => {
            let rsv = get_be_u32(b, 4)?;
            if rsv != 0 || o.vflag > 0 {
                let _ = write!(o, ", rsv=0x{rsv:x}");
            }
            8
        }
        4 => {
            let _ = write!(o, ", last-entry={}", get_u8(b, 4)?);
            let flags = get_u8(b, 5)?;
            if flags != 0 || o.vflag > 0 {
                let _ = write!(o, ", flags=0x{flags:x}");
            }
            let _ = write!(o, ", tag={:x}", get_be_u16(b, 6)?);
            8
        }
        _ => {
            o.push_str(" (unknown type) (invalid)");
            return Ok(None);
        }
    };
    if len % 2 == 1 {
        let _ = write!(o, " (invalid length {len}) (invalid)");
        return Ok(None);
    }
    for i in 0..(len / 2) as usize {
        let _ = write!(o, ", [{i}]{}", ipv6(get_bytes(b, first + 16 * i, 16)?));
    }
    o.push_str(") ");
    Ok(Some((len as usize + 1) * 8))
}

fn trunc_here(o: &mut Out) -> PResult {
    o.trunc_marker();
    Ok(())
}

/// The IP header facts upper layers need.
struct IpHdr<'a> {
    ends: IpEnds,
    /// The IP header's own protocol / next-header field is UDP.
    udp_follows_ip: bool,
    /// The same for TCP.
    tcp_follows_ip: bool,
    src_txt: String,
    dst_txt: String,
    v4: bool,
    /// The whole IP packet (snap-limited) for checksums.
    whole: &'a [u8],
}

fn udp_checksum(ip: &IpHdr<'_>, udp: &[u8], len: u32) -> u16 {
    l4_checksum(ip, udp, len, ip_proto::UDP)
}

/// The transport checksum over `data` with the IP pseudo-header (0 when it is right).
fn l4_checksum(ip: &IpHdr<'_>, udp: &[u8], len: u32, proto: u8) -> u16 {
    let h = ip.whole;
    let mut s = 0u32;
    let proto = proto as u32;
    if ip.v4 {
        s = checksum::sum(&h[12..16], s);
        s = checksum::sum(&ip4_final_dst(h), s);
        s += proto + len;
    } else {
        s = checksum::sum(&h[8..24], s);
        s = checksum::sum(&ip6_final_dst(h), s);
        s += (len >> 16) + (len & 0xffff) + proto;
    }
    checksum::fold(checksum::sum(udp, s))
}

/// The destination the pseudo-header uses: the last hop of a source route option, as
/// tcpdump's `ip_finddst`.
fn ip4_final_dst(h: &[u8]) -> [u8; 4] {
    let mut dst = [h[16], h[17], h[18], h[19]];
    let hl = ((h[0] & 0x0f) as usize * 4).min(h.len());
    let mut cp = 20;
    while cp < hl {
        let t = h[cp];
        if t == 0 {
            break;
        }
        let len = if t == 1 {
            1
        } else {
            h.get(cp + 1).copied().unwrap_or(0) as usize
        };
        if len < 1 || (t != 1 && len < 2) || cp + len > hl {
            break;
        }
        if (t == 131 || t == 137) && len >= 7 {
            dst.copy_from_slice(&h[cp + len - 4..cp + len]);
            break;
        }
        cp += len;
    }
    dst
}

/// The final destination of an IPv6 packet: the last address of a type 0/2 routing header or
/// the first segment of a type 4 one, as tcpdump's `ip6_finddst`.
fn ip6_final_dst(h: &[u8]) -> [u8; 16] {
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&h[24..40]);
    let mut nh = h[6];
    let mut cp = 40usize;
    for _ in 0..16 {
        match nh {
            0 | 60 | 62 | 135 | 44 => {
                let (Some(&n), Some(&l)) = (h.get(cp), h.get(cp + 1)) else {
                    break;
                };
                cp += if nh == 44 { 8 } else { (l as usize + 1) * 8 };
                nh = n;
            }
            43 => {
                let (Some(&l), Some(&t)) = (h.get(cp + 1), h.get(cp + 2)) else {
                    break;
                };
                if l % 2 == 0 {
                    let n = match t {
                        0 | 2 => l as usize / 2,
                        4 => 1.min(l as usize / 2),
                        _ => 0,
                    };
                    for i in 0..n {
                        match h.get(cp + 8 + 16 * i..cp + 24 + 16 * i) {
                            Some(a) => dst.copy_from_slice(a),
                            None => break,
                        }
                    }
                }
                break;
            }
            _ => break,
        }
    }
    dst
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IkePort {
    Isakmp,
    NatT,
}

/// tcpdump's UDP dispatch order: ports that win over ISAKMP's are checked first.
fn ike_port(sport: u16, dport: u16) -> Option<IkePort> {
    let either = |p: u16| sport == p || dport == p;
    if [53, 5353, 37, 69, 67, 68, 520, 654].iter().any(|&p| either(p)) {
        return None;
    }
    if either(500) {
        Some(IkePort::Isakmp)
    } else if either(4500) {
        Some(IkePort::NatT)
    } else if either(7500) || either(8500) {
        Some(IkePort::Isakmp)
    } else {
        None
    }
}

/// Returns the AH header length, tcpdump's `advance`.
fn ah_print(o: &mut Out, bp: &[u8]) -> PResult<usize> {
    o.proto = "ah";
    o.push_str("AH");
    let ah_len = get_u8(bp, 1)?;
    let hdr_len = (ah_len as usize + 2) * 4;
    o.push('(');
    if o.vflag > 0 {
        let _ = write!(o, "length={}({}-bytes),", ah_len, hdr_len);
    }
    let reserved = get_be_u16(bp, 2)?;
    if reserved != 0 {
        let _ = write!(o, "reserved=0x{reserved:x}[MustBeZero],");
    }
    let _ = write!(o, "spi=0x{:08x},", get_be_u32(bp, 4)?);
    let _ = write!(o, "seq=0x{:x},", get_be_u32(bp, 8)?);
    o.push_str("icv=0x");
    for i in 12..hdr_len.max(12) {
        let _ = write!(o, "{:02x}", get_u8(bp, i)?);
    }
    o.push_str("): ");
    Ok(hdr_len)
}

fn ip_options_print(o: &mut Out, opts: &[u8], mut length: u32) -> PResult {
    let mut cp = 0usize;
    while length > 0 {
        let code = get_u8(opts, cp)?;
        let name = match code {
            0 => Some("EOL"),
            1 => Some("NOP"),
            68 => Some("timestamp"),
            130 => Some("security"),
            7 => Some("RR"),
            137 => Some("SSRR"),
            131 => Some("LSRR"),
            148 => Some("RA"),
            82 => Some("traceroute"),
            _ => None,
        };
        match name {
            Some(n) => {
                let _ = write!(o, "{n}");
            }
            None => {
                let _ = write!(o, "unknown {code}");
            }
        }
        let olen = if code == 0 || code == 1 {
            1
        } else {
            let l = get_u8(opts, cp + 1)? as u32;
            if l < 2 {
                let _ = write!(o, " [bad length {l}]");
                return Ok(());
            }
            l
        };
        if olen > length {
            let _ = write!(o, " [bad length {olen}]");
            return Ok(());
        }
        get_bytes(opts, cp, olen as usize)?;
        if code == 0 {
            return Ok(());
        }
        if code == 148 {
            if olen < 4 {
                let _ = write!(o, " [bad length {olen}]");
            } else {
                let v = get_be_u16(opts, cp + 2)?;
                if v != 0 {
                    let _ = write!(o, " value {v}");
                }
            }
        }
        cp += olen as usize;
        length -= olen;
        if length > 0 {
            o.push(',');
        }
    }
    Ok(())
}

fn pppoe_print(o: &mut Out, p: &link::Pppoe) {
    let code = match p.code {
        0 => "",
        0x09 => "PADI",
        0x07 => "PADO",
        0x19 => "PADR",
        0x65 => "PADS",
        0xa7 => "PADT",
        _ => "PAD-?",
    };
    let _ = write!(o, "PPPoE {code}");
    if p.session != 0 {
        let _ = write!(o, " [ses 0x{:x}]", p.session);
    }
    o.push(' ');
}

/// The local interface with this index (tcpdump's `if_indextoname`), or `?`.
fn interface_name(index: u32) -> String {
    static NAMES: std::sync::OnceLock<Vec<(u32, String)>> = std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        let mut v = Vec::new();
        if let Ok(rd) = std::fs::read_dir("/sys/class/net") {
            for e in rd.flatten() {
                let idx = std::fs::read_to_string(e.path().join("ifindex"))
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                if let Some(i) = idx {
                    v.push((i, e.file_name().to_string_lossy().into_owned()));
                }
            }
        }
        v
    });
    names
        .iter()
        .find(|(i, _)| *i == index)
        .map(|(_, n)| n.clone())
        .unwrap_or_else(|| "?".into())
}

fn link_header_print(o: &mut Out, l: &link::Link<'_>, frame_len: u32) {
    match l.header {
        Header::Ethernet {
            dst,
            src,
            tags,
            ntags,
            ethertype,
            pppoe,
        } => {
            let _ = write!(o, "{} > {}, ", mac(src), mac(dst));
            let mut printed_len = false;
            for t in tags.iter().take(ntags.min(2) as usize) {
                let _ = write!(o, "ethertype {} (0x{:04x})", ethertype_name(t.tpid), t.tpid);
                if !printed_len {
                    let _ = write!(o, ", length {frame_len}: ");
                    printed_len = true;
                } else {
                    o.push_str(", ");
                }
                let _ = write!(
                    o,
                    "vlan {}, p {}{}, ",
                    t.tci & 0xfff,
                    t.tci >> 13,
                    if t.tci & 0x1000 != 0 { ", DEI" } else { "" }
                );
            }
            let _ = write!(o, "ethertype {} (0x{:04x})", ethertype_name(ethertype), ethertype);
            if !printed_len {
                let _ = write!(o, ", length {frame_len}: ");
            } else {
                o.push_str(", ");
            }
            if let Some(p) = pppoe {
                pppoe_print(o, &p);
                if let Some(proto) = p.ppp_proto {
                    let name = match proto {
                        0x21 => "IP",
                        0x57 => "IPV6",
                        _ => "unknown",
                    };
                    let _ = write!(o, "{name} (0x{proto:04x}), length {}", p.length);
                    if name != "unknown" {
                        o.push_str(": ");
                    }
                }
            }
        }
        Header::Sll { pkttype, addr, proto } => {
            let _ = write!(o, "{:>3} ", sll_pkttype(pkttype));
            if let Some(a) = addr.filter(|a| a.len() == 6) {
                let _ = write!(o, "{} ", mac(a));
            }
            let _ = write!(
                o,
                "ethertype {} (0x{:04x}), length {}: ",
                ethertype_name(proto),
                proto,
                frame_len
            );
        }
        Header::Sll2 {
            proto, ifindex, addr, ..
        } => {
            let _ = write!(o, "ifindex {ifindex} ");
            if let Some(a) = addr.filter(|a| a.len() == 6) {
                let _ = write!(o, "{} ", mac(a));
            }
            let _ = write!(
                o,
                "ethertype {} (0x{:04x}), length {}: ",
                ethertype_name(proto),
                proto,
                frame_len
            );
        }
        Header::Null { family } => {
            let name = match family {
                2 => "IPv4",
                24 | 28 | 30 | 10 => "IPv6",
                _ => "Unknown",
            };
            let _ = write!(o, "AF {name} ({family}), length {frame_len}: ");
        }
        Header::Ppp { proto } => {
            let name = match proto {
                0x21 => "IP",
                0x57 => "IPV6",
                _ => "unknown",
            };
            let _ = write!(o, "{name} (0x{proto:04x}), length {frame_len}: ");
        }
        Header::Raw => o.push_str("ip: "),
    }
}

fn sll_pkttype(t: u16) -> &'static str {
    match t {
        0 => "In",
        1 => "B",
        2 => "M",
        3 => "P",
        4 => "Out",
        _ => "?",
    }
}

fn ethertype_name(t: u16) -> &'static str {
    match t {
        0x0800 => "IPv4",
        0x86dd => "IPv6",
        0x0806 => "ARP",
        0x8100 => "802.1Q",
        0x88a8 => "802.1Q-QinQ",
        0x9100 => "802.1Q-9100",
        0x9200 => "802.1Q-9200",
        0x8863 => "PPPoE D",
        0x8864 => "PPPoE S",
        _ => "Unknown",
    }
}

fn other_proto_text(proto: u8, length: u32) -> String {
    match ip_proto::name(proto) {
        Some(n) => format!("{n}, length {length}"),
        None => format!("ip-proto-{proto} {length}"),
    }
}

/// Decides cheaply whether tcpdump's exact path applies.
pub fn classify(l: &link::Link<'_>) -> Class {
    let b = l.payload;
    let ipsec = |yes: bool| if yes { Class::Ipsec } else { Class::Other };
    match l.net {
        Net::Ipv4 => ipsec(ipv4_is_ipsec(b, true)),
        Net::Ipv6 => {
            if b.len() < 40 || b[0] >> 4 != 6 {
                return Class::Other;
            }
            let mut nh = b[6];
            let mut cp = 40usize;
            for _ in 0..8 {
                match nh {
                    0 | 43 | 60 => {
                        let (Some(&n), Some(&l)) = (b.get(cp), b.get(cp + 1)) else {
                            return Class::Other;
                        };
                        nh = n;
                        cp += (l as usize + 1) * 8;
                    }
                    44 => {
                        let (Some(&n), Some(o)) = (b.get(cp), b.get(cp + 2..cp + 4)) else {
                            return Class::Other;
                        };
                        if u16::from_be_bytes([o[0], o[1]]) & 0xfff8 != 0 {
                            return Class::Ipsec;
                        }
                        nh = n;
                        cp += 8;
                    }
                    50 | 51 => return Class::Ipsec,
                    // TCP right after the fixed header, as the printer needs it.
                    6 if cp == 40 && tcp::is_ike_tcp(b.get(cp..).unwrap_or(&[])) => return Class::Ipsec,
                    17 => {
                        return if udp_ike(b.get(cp..).unwrap_or(&[])) {
                            Class::Ipsec
                        } else {
                            Class::Other
                        }
                    }
                    _ => return Class::Other,
                }
            }
            Class::Other
        }
        Net::Other(_) => Class::Other,
    }
}

/// UDP on a port tcpdump hands to its ISAKMP printers.
fn udp_ike(u: &[u8]) -> bool {
    match (u.get(0..2), u.get(2..4)) {
        (Some(s), Some(d)) => ike_port(u16::from_be_bytes([s[0], s[1]]), u16::from_be_bytes([d[0], d[1]])).is_some(),
        _ => false,
    }
}

/// An IPv4 packet under the IPsec bar: a non-first fragment, ESP, AH, UDP to an IKE port, or
/// (when `quoting`) an ICMP unreachable / time exceeded / parameter problem quoting one of those
/// (tcpdump prints the quoted packet at `-v`).
fn ipv4_is_ipsec(b: &[u8], quoting: bool) -> bool {
    if b.len() < 20 || b[0] >> 4 != 4 {
        return false;
    }
    let off = u16::from_be_bytes([b[6], b[7]]) & 0x1fff;
    let l4 = b.get((b[0] & 0xf) as usize * 4..).unwrap_or(&[]);
    match b[9] {
        _ if off != 0 => true,
        50 | 51 => true,
        17 => udp_ike(l4),
        // IKE and ESP over TCP (RFC 8229), not inside an ICMP error (its TCP header is cut).
        6 if quoting => tcp::is_ike_tcp(l4),
        1 if quoting => matches!(l4.first(), Some(3 | 11 | 12)) && ipv4_is_ipsec(l4.get(8..).unwrap_or(&[]), false),
        _ => false,
    }
}

/// Our own short line for packets outside the IPsec bar.
fn other_line(o: &mut Out, l: &link::Link<'_>, frame_len: u32) {
    if o.eflag {
        link_header_print(o, l, frame_len);
    }
    let b = l.payload;
    match l.net {
        Net::Ipv4 if b.len() >= 20 => {
            let _ = write!(o, "IP {} > {}: ", ipv4(&b[12..16]), ipv4(&b[16..20]));
            let hl = (b[0] & 0xf) as usize * 4;
            let total = u16::from_be_bytes([b[2], b[3]]) as u32;
            transport_summary(o, b[9], b.get(hl..).unwrap_or(&[]), total.saturating_sub(hl as u32));
        }
        Net::Ipv6 if b.len() >= 40 => {
            let _ = write!(o, "IP6 {} > {}: ", ipv6(&b[8..24]), ipv6(&b[24..40]));
            let plen = u16::from_be_bytes([b[4], b[5]]) as u32;
            transport_summary(o, b[6], &b[40..], plen);
        }
        Net::Ipv4 | Net::Ipv6 => {
            let _ = write!(o, "truncated IP, length {}", l.wire_len);
        }
        Net::Other(t) => {
            let name = if t <= 0xffff {
                ethertype_name(t as u16)
            } else {
                "Unknown"
            };
            let _ = write!(o, "ethertype {name} (0x{t:04x}), length {}", frame_len);
        }
    }
}

fn transport_summary(o: &mut Out, proto: u8, t: &[u8], len: u32) {
    match proto {
        17 | 6 if t.len() >= 4 => {
            let sp = u16::from_be_bytes([t[0], t[1]]);
            let dp = u16::from_be_bytes([t[2], t[3]]);
            let n = if proto == 17 { "UDP" } else { "TCP" };
            let _ = write!(o, "{n} {sp} > {dp}, length {len}");
        }
        1 | 58 if t.len() >= 2 => {
            let n = if proto == 1 { "ICMP" } else { "ICMP6" };
            let _ = write!(o, "{n} type {} code {}, length {len}", t[0], t[1]);
        }
        p => {
            let _ = write!(o, "{}", other_proto_text(p, len));
        }
    }
}

#[cfg(test)]
mod esp_tests {
    use super::*;
    use crate::source::Timestamp;
    use aes::cipher::generic_array::GenericArray;
    use aes::cipher::{BlockEncrypt, KeyInit};

    /// An Ethernet/IPv4/ESP frame: AES-128-CBC with a zero key and IV, the plaintext `inner`
    /// followed by `pad` bytes of padding, the pad length byte `padlen` and next header `nh`,
    /// then `icv` bytes.
    fn frame(inner: &[u8], pad: usize, padlen: u8, nh: u8, icv: usize) -> Vec<u8> {
        let mut pt = inner.to_vec();
        pt.extend(std::iter::repeat_n(0u8, pad));
        pt.extend([padlen, nh]);
        assert_eq!(pt.len() % 16, 0);
        let c = aes::Aes128::new(GenericArray::from_slice(&[0u8; 16]));
        let mut prev = [0u8; 16];
        for b in pt.chunks_exact_mut(16) {
            for (x, p) in b.iter_mut().zip(prev) {
                *x ^= p;
            }
            c.encrypt_block(GenericArray::from_mut_slice(b));
            prev.copy_from_slice(b);
        }
        let esp_len = 8 + 16 + pt.len() + icv;
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x00]);
        let total = (20 + esp_len) as u16;
        f.extend([
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0,
            0,
            64,
            50,
            0,
            0,
            10,
            0,
            0,
            1,
            10,
            0,
            0,
            2,
        ]);
        f.extend([0, 0, 0, 1, 0, 0, 0, 1]);
        f.extend([0u8; 16]);
        f.extend(pt);
        f.extend(std::iter::repeat_n(0xaa, icv));
        f
    }

    fn print(spec: &str, data: &[u8]) -> (String, Vec<String>) {
        let mut p = Printer::new(Options::default());
        p.set_esp(esp::parse(spec).unwrap().0);
        let mut out = Out::new(0, false);
        let f = Frame {
            ts: Timestamp { sec: 0, nsec: 0 },
            linktype: 1,
            wire_len: data.len() as u32,
            data,
            offset: 0,
        };
        p.print(&f, &mut out);
        (out.as_str().to_string(), p.warnings)
    }

    #[test]
    fn lying_and_huge_pad_lengths_and_truncation_do_not_panic() {
        let key = "aes128:0x00000000000000000000000000000000";
        let keyh = "aes128-cbc-hmac96:0x00000000000000000000000000000000";
        let (ok, _) = print(key, &frame(&[], 14, 14, 59, 0));
        assert!(
            ok.ends_with("ESP(spi=0x00000001,seq=0x1), length 40: no next header"),
            "{ok}"
        );
        let (ok, _) = print(keyh, &frame(&[], 14, 14, 59, 12));
        assert!(ok.ends_with("length 52: no next header"), "{ok}");
        // Pad length past the plaintext: tcpdump's truncation marker.
        for padlen in [15, 200, 255] {
            let (s, _) = print(key, &frame(&[], 14, padlen, 4, 0));
            assert!(s.ends_with("length 40 [|esp]"), "{s}");
        }
        // The wrong key: whatever the garbage says, no panic.
        let (s, _) = print("aes128:0x01", &frame(&[], 14, 14, 59, 0));
        assert!(s.contains("ESP(spi=0x00000001"), "{s}");
        // Every truncation of every shape: no panic; whole blocks short or an IV cut off.
        for f in [
            frame(&[0x45, 0, 0, 40], 10, 10, 4, 0),
            frame(&[0x45; 30], 0, 0, 4, 12),
            frame(&[], 14, 255, 50, 12),
        ] {
            for cut in 0..=f.len() {
                for spec in [key, keyh, "3des:0x00", "des-ede3-cbc:0x00", "aes-256-ecb-hmac96:x"] {
                    let (s, w) = print(spec, &f[..cut]);
                    if cut > 14 + 20 + 8 && cut < 14 + 20 + 8 + 16 && spec == key {
                        assert!(s.ends_with(" [|esp]"), "{cut}: {s}");
                    }
                    assert!(w.iter().all(|w| w.starts_with("esp_print: ciphertext size")), "{w:?}");
                    assert!(!s.contains("0000000000000000"), "a key printed: {s}");
                }
            }
        }
    }
}
