//! Printer tests: hand-made messages with tcpdump's text, plus (when the corpus and a local
//! tcpdump 4.99.3 exist) every IKE packet of the corpus captures at `-v` counts 0..=4.

use super::*;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

fn ends() -> IpEnds {
    IpEnds {
        src: IpAddr::from([10, 0, 0, 1]),
        dst: IpAddr::from([10, 0, 0, 2]),
    }
}

fn render(v: u8, st: &mut IsakmpState, bp: &[u8], length: u32, ip: Option<&IpEnds>) -> String {
    let mut out = Out::new(v, false);
    if isakmp_print(&mut out, st, bp, length, ip).is_err() {
        out.trunc_marker();
    }
    out.as_str().to_string()
}

fn hexbytes(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ---- a minimal capture walker: Ethernet / BSD loopback / raw IP → IPv4 / IPv6 → UDP -----

/// One frame's ISAKMP input, as tcpdump's UDP printer would hand it over.
struct IkeInput {
    /// Bytes from the ISAKMP header to tcpdump's snapend.
    bp: Vec<u8>,
    length: u32,
    ends: IpEnds,
    /// Behind a non-ESP marker on port 4500.
    natt: bool,
}

fn frames(path: &Path) -> Vec<(u32, Vec<u8>, u32)> {
    let mut r = crate::source::open(path).unwrap();
    let mut v = Vec::new();
    while let Some(Ok(f)) = r.next_frame() {
        v.push((f.linktype, f.data.to_vec(), f.wire_len));
    }
    v
}

fn be16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(o)?, *b.get(o + 1)?]))
}

fn ike_input(linktype: u32, data: &[u8], wirelen: u32) -> Option<IkeInput> {
    let (mut off, mut ethertype) = match linktype {
        1 => (14, be16(data, 12)?),
        0 => {
            let af = u32::from_le_bytes(data.get(0..4)?.try_into().ok()?);
            let af = if af > 0xffff { af.swap_bytes() } else { af };
            (4, if af == 2 { 0x0800 } else { 0x86dd })
        }
        101 | 12 | 14 => (0, if data.first()? >> 4 == 4 { 0x0800 } else { 0x86dd }),
        _ => return None,
    };
    while ethertype == 0x8100 && linktype == 1 {
        ethertype = be16(data, off + 2)?;
        off += 4;
    }
    let wire = wirelen.checked_sub(off as u32)?;
    let ip = data.get(off..)?;
    let (snap, plen, hl, ends) = match ethertype {
        0x0800 => {
            let hl = ((ip.first()? & 0x0f) as usize) * 4;
            let mut len = be16(ip, 2)? as u32;
            if *ip.get(9)? != 17 || be16(ip, 6)? & 0x1fff != 0 || hl < 20 {
                return None;
            }
            if len < hl as u32 {
                if len != 0 {
                    return None;
                }
                len = wire;
            }
            let src: [u8; 4] = ip.get(12..16)?.try_into().ok()?;
            let dst: [u8; 4] = ip.get(16..20)?.try_into().ok()?;
            let e = IpEnds {
                src: IpAddr::from(src),
                dst: IpAddr::from(dst),
            };
            ((len as usize).min(ip.len()), len - hl as u32, hl, e)
        }
        0x86dd => {
            if *ip.get(6)? != 17 {
                return None;
            }
            let plen = be16(ip, 4)? as u32;
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let dst: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            let e = IpEnds {
                src: IpAddr::from(src),
                dst: IpAddr::from(dst),
            };
            ((plen as usize + 40).min(ip.len()), plen, 40, e)
        }
        _ => return None,
    };
    let ip = &ip[..snap];
    let udp = ip.get(hl..)?;
    let sport = be16(udp, 0)?;
    let dport = be16(udp, 2)?;
    if plen < 8 {
        return None;
    }
    let mut ulen = be16(udp, 4)? as u32;
    if ulen == 0 && plen > 65535 {
        ulen = plen;
    }
    if ulen < 8 {
        return None;
    }
    let mut length = plen - 8;
    if ulen - 8 < length {
        length = ulen - 8;
    }
    let payload = udp.get(8..)?;
    let port = |p: u16| sport == p || dport == p;
    if port(500) || port(7500) || port(8500) {
        return Some(IkeInput {
            bp: payload.to_vec(),
            length,
            ends,
            natt: false,
        });
    }
    if port(4500) && length >= 4 && payload.len() >= 4 && payload[..4] == [0, 0, 0, 0] {
        return Some(IkeInput {
            bp: payload[4..].to_vec(),
            length: length - 4,
            ends,
            natt: true,
        });
    }
    None
}

/// tcpdump's text per packet (`-#` numbered; continuation lines joined with `\n`).
fn tcpdump_packets(path: &Path, v: u8) -> Option<Vec<String>> {
    let mut cmd = Command::new("/usr/bin/tcpdump");
    cmd.env("TZ", "GMT0").args(["-#", "-n", "-t", "-r"]).arg(path);
    if v > 0 {
        cmd.arg(format!("-{}", "v".repeat(v as usize)));
    }
    let out = cmd.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut pkts: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let t = line.trim_start();
        let num_len = t.bytes().take_while(|b| b.is_ascii_digit()).count();
        let starts = line.len() - t.len() <= 4 && num_len > 0 && t[num_len..].starts_with("  ");
        if starts {
            pkts.push(t[num_len + 2..].to_string());
        } else if let Some(last) = pkts.last_mut() {
            last.push('\n');
            last.push_str(line);
        }
    }
    if let Some(last) = pkts.last_mut() {
        while last.ends_with('\n') {
            last.pop();
        }
    }
    Some(pkts)
}

/// Compares every IKE packet of `file` with tcpdump at all verbosities; returns lines matched.
fn check_file(file: &Path) -> usize {
    let frames = frames(file);
    let mut matched = 0;
    for v in 0..=4u8 {
        let Some(expected) = tcpdump_packets(file, v) else {
            return 0;
        };
        assert_eq!(
            expected.len(),
            frames.len(),
            "{}: packet count differs from tcpdump's",
            file.display()
        );
        let mut st = IsakmpState::new();
        for (i, (lt, data, wirelen)) in frames.iter().enumerate() {
            let Some(inp) = ike_input(*lt, data, *wirelen) else {
                continue;
            };
            let mine = render(v, &mut st, &inp.bp, inp.length, Some(&inp.ends));
            let exp = &expected[i];
            let before = exp.len().checked_sub(mine.len()).map(|n| &exp[..n]);
            let ok = exp.ends_with(&mine)
                && before.is_some_and(|b| {
                    if inp.natt {
                        b.ends_with("NONESP-encap: ")
                    } else {
                        b.ends_with(": ") || b.ends_with("] ") || b.ends_with(':')
                    }
                });
            assert!(
                ok,
                "{} packet {} -v{}:\n tcpdump: {}\n    ours: {}",
                file.display(),
                i + 1,
                v,
                exp,
                mine
            );
            matched += 1 + mine.matches('\n').count();
        }
    }
    matched
}

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/corpus");

const FILES: &[&str] = &[
    "tcpdump/ISAKMP_sa_setup.pcap",
    "tcpdump/espudp1.pcap",
    "tcpdump/ikev1_id_ipv6_addr_subnet-oobr.pcap",
    "tcpdump/ikev2-id-normal.pcap",
    "tcpdump/ikev2-id-short.pcap",
    "tcpdump/ikev2four.pcap",
    "tcpdump/ikev2pI2.pcap",
    "tcpdump/isakmp-3948-oobr-2.pcap",
    "tcpdump/isakmp-delete-segfault.pcap",
    "tcpdump/isakmp-identification-segfault.pcap",
    "tcpdump/isakmp-ikev1_n_print-oobr.pcap",
    "tcpdump/isakmp-pointer-loop.pcap",
    "tcpdump/isakmp-rfc3948-oobr.pcap",
    "tcpdump/isakmp-various-oobr.pcap",
    "tcpdump/isakmp4500.pcap",
    "tcpdump/isakmpv1-attr-oobr.pcap",
    "tcpdump/ikev2pI2-segfault.pcapng",
    "tcpdump/isakmp-no-none-np.pcapng",
    "suricata-verify/detect-bypass-udp/input.pcap",
    "suricata-verify/ikev1-duplicate-proposals/generated.pcap",
    "suricata-verify/ikev1-rules/ikev1-isakmp-main-mode.pcap",
    "suricata-verify/ikev2-weak-dh/IKEv2_SA_INIT_2-8-weak.pcap",
    "wireshark/test/captures/ikev1-certs.pcap",
    "zeek-plugin-ikev2/tests/Traces/ikev2.pcap",
    "zeek-spicy-ipsec/traces/ikev1-certs.pcap",
    "zeek-spicy-ipsec/traces/ipsec-ikev1-isakmp-aggressive-mode.pcap",
    "zeek-spicy-ipsec/traces/ipsec-ikev1-isakmp-main-mode.pcap",
    "zeek-spicy-ipsec/traces/ipsec-ikev1-payload-bad-length.pcap",
    "zeek-spicy-ipsec/traces/ipsec-ikev1-zero-length.pcap",
    "zeek-spicy-ipsec/traces/ipsec.cap",
    "zeek-spicy-ipsec/traces/ipsec_client.pcap",
];

/// The differential tests need Debian's tcpdump 4.99.3; CI installs it, so there they must run.
fn have_tcpdump() -> bool {
    let ok = Path::new("/usr/bin/tcpdump").exists();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have /usr/bin/tcpdump for the differential tests"
        );
        eprintln!("skipped: no /usr/bin/tcpdump");
    }
    ok
}

#[test]
fn corpus_matches_tcpdump() {
    if !have_tcpdump() {
        return;
    }
    let mut total = 0;
    for f in FILES {
        let p = Path::new(CORPUS).join(f);
        if !p.exists() {
            continue;
        }
        let n = check_file(&p);
        eprintln!("{f}: {n} lines identical (-v x0..4)");
        total += n;
    }
    eprintln!("total: {total} lines identical");
}

/// Every prefix of every corpus IKE message, at every verbosity, with a length that agrees or
/// not: no panic, and the text is always produced.
#[test]
fn truncations_never_panic() {
    let mut inputs = Vec::new();
    for f in ["tcpdump/ikev2four.pcap", "tcpdump/ISAKMP_sa_setup.pcap"] {
        let p = Path::new(CORPUS).join(f);
        if p.exists() {
            for (lt, d, w) in frames(&p) {
                if let Some(i) = ike_input(lt, &d, w) {
                    inputs.push(i.bp);
                }
            }
        }
    }
    inputs.push(v1_sample());
    inputs.push(v2_sample());
    for msg in &inputs {
        for cut in 0..=msg.len() {
            for v in 0..=4 {
                let mut st = IsakmpState::new();
                let ip = ends();
                let s = render(v, &mut st, &msg[..cut], msg.len() as u32, Some(&ip));
                assert!(s.starts_with("isakmp") || s == " [|isakmp]");
            }
        }
        // Corrupt single bytes too.
        for pos in 16..msg.len().min(200) {
            for x in [0u8, 1, 4, 0x80, 0xff] {
                let mut m = msg.clone();
                m[pos] = x;
                for v in [1, 4] {
                    let mut st = IsakmpState::new();
                    let _ = render(v, &mut st, &m, m.len() as u32, None);
                }
            }
        }
    }
}

/// IKEv1 main mode first message (SA with one proposal, one transform) + VID.
fn v1_sample() -> Vec<u8> {
    hexbytes(
        "0011223344556677 0000000000000000 01 10 02 00 00000000 00000064
         0d 00 0034 00000001 00000001
           00 00 0028 01 01 0001
             00 00 0020 01 01 0000
               800b0001 800c0e10 80010005 80030001 80020002 80040002
         00 00 0014 4048b7d56ebce88525e7de7f00d6c2d3",
    )
}

/// IKEv2 IKE_SA_INIT request: SA, KE, Nonce, N(NAT_DETECTION_SOURCE_IP).
fn v2_sample() -> Vec<u8> {
    hexbytes(
        "0102030405060708 0000000000000000 21 20 22 08 00000000 0000008c
         22 00 0030
           00 00 002c 01 01 00 04
             03 00 000c 01 00 000c 800e0080
             03 00 0008 02 00 0002
             03 00 0008 03 00 0002
             00 00 0008 04 00 000e
         28 00 0010 000e 0000 11223344 55667788
         29 00 0014 aabbccddeeff00112233445566778899
         00 00 001c 01 00 4004 000102030405060708090a0b0c0d0e0f10111213
         ",
    )
}

#[test]
fn v1_cookie_cache_marks_sides() {
    let m = v1_sample();
    let mut st = IsakmpState::new();
    let a = ends();
    let b = IpEnds { src: a.dst, dst: a.src };
    assert_eq!(render(0, &mut st, &m, 100, Some(&a)), "isakmp: phase 1 I ident");
    // Initiator again, then the responder (non-zero responder cookie).
    let mut r = m.clone();
    r[8] = 0x99;
    assert_eq!(render(0, &mut st, &r, 100, Some(&a)), "isakmp: phase 1 I ident");
    assert_eq!(render(0, &mut st, &r, 100, Some(&b)), "isakmp: phase 1 R ident");
    let mut other = IsakmpState::new();
    assert_eq!(render(0, &mut other, &r, 100, Some(&b)), "isakmp: phase 1 ? ident");
}

#[test]
fn short_header_is_truncated() {
    let mut st = IsakmpState::new();
    assert_eq!(render(1, &mut st, &[0; 27], 27, None), " [|isakmp]");
}

// ---- differential fuzzing against the local tcpdump --------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn bytes_of(&mut self, sizes: &[usize]) -> Vec<u8> {
        let n = self.pick(sizes);
        self.bytes(n)
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn generic(np: u8, crit: u8, body: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut len = (body.len() + 4) as u16;
    if rng.chance(4) {
        len = rng.below(len as u64 + 12) as u16;
    }
    let mut v = vec![np, crit];
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn attrs(rng: &mut Rng, v2: bool) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..rng.below(5) {
        if rng.chance(70) {
            let t = if v2 {
                rng.pick(&[14u16, 14, 1, 3])
            } else {
                rng.below(20) as u16
            };
            v.extend_from_slice(&(t | 0x8000).to_be_bytes());
            let val = if rng.chance(70) {
                rng.below(20) as u16
            } else {
                rng.next() as u16
            };
            v.extend_from_slice(&val.to_be_bytes());
        } else {
            let t = rng.below(20) as u16;
            let n = rng.below(7) as usize;
            v.extend_from_slice(&t.to_be_bytes());
            v.extend_from_slice(&(n as u16).to_be_bytes());
            v.extend(rng.bytes(n));
        }
    }
    v
}

fn chain(rng: &mut Rng, kinds: &[Vec<u8>], np_inner: u8) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, body) in kinds.iter().enumerate() {
        let next = if i + 1 < kinds.len() { np_inner } else { 0 };
        let next = if rng.chance(3) { rng.below(60) as u8 } else { next };
        out.extend(generic(next, 0, body, rng));
    }
    out
}

fn sa_body(rng: &mut Rng, v2: bool) -> Vec<u8> {
    let mut b = Vec::new();
    if !v2 {
        b.extend_from_slice(&(if rng.chance(85) { 1u32 } else { rng.below(4) as u32 }).to_be_bytes());
        let sit = if rng.chance(80) { 1u32 } else { rng.below(8) as u32 };
        b.extend_from_slice(&sit.to_be_bytes());
        if sit != 1 {
            b.extend(rng.bytes(4));
        }
    }
    let mut props = Vec::new();
    for pn in 0..1 + rng.below(2) {
        let proto = if rng.chance(85) {
            rng.pick(&[1u8, 2, 3, 4])
        } else {
            rng.below(9) as u8
        };
        let spi = rng.pick(&[0usize, 0, 4, 8, 3]);
        let mut p = vec![pn as u8 + 1, proto, spi as u8, rng.below(5) as u8];
        p.extend(rng.bytes(spi));
        let mut ts = Vec::new();
        for tn in 0..1 + rng.below(4) {
            let mut t = if v2 {
                let tt = if rng.chance(90) {
                    1 + rng.below(5) as u8
                } else {
                    rng.below(9) as u8
                };
                let id = if rng.chance(85) {
                    rng.below(20) as u16
                } else {
                    rng.next() as u16
                };
                let mut t = vec![tt, 0];
                t.extend_from_slice(&id.to_be_bytes());
                t
            } else {
                vec![tn as u8 + 1, rng.below(14) as u8, 0, 0]
            };
            t.extend(attrs(rng, v2));
            ts.push(t);
        }
        p.extend(chain(rng, &ts, 3));
        props.push(p);
    }
    b.extend(chain(rng, &props, 2));
    b
}

fn v1_id_body(rng: &mut Rng) -> Vec<u8> {
    let ty = rng.below(13) as u8;
    let mut b = vec![ty, rng.pick(&[0u8, 17, 6]), 0, 0];
    b[2..4].copy_from_slice(&(rng.pick(&[0u16, 500, 4500])).to_be_bytes());
    let n = match rng.below(4) {
        0 => rng.below(40) as usize,
        _ => match ty {
            1 => 4,
            4 | 7 => 8,
            5 => 16,
            6 | 8 => 32,
            _ => rng.below(20) as usize,
        },
    };
    let mut d = rng.bytes(n);
    if rng.chance(50) {
        for x in d.iter_mut().take(12) {
            if rng.chance(60) {
                *x = 0;
            }
        }
    }
    if ty == 2 || ty == 3 {
        for x in d.iter_mut() {
            if rng.chance(80) {
                *x = b'a' + (*x % 26);
            }
        }
    }
    b.extend(d);
    b
}

fn v1_notify_body(rng: &mut Rng) -> Vec<u8> {
    let doi = if rng.chance(80) { 1u32 } else { rng.below(3) as u32 };
    let spi = rng.pick(&[0usize, 0, 4, 16, 8]);
    let ty: u16 = rng.pick(&[
        0, 1, 14, 24, 30, 31, 8192, 8193, 16384, 16385, 24576, 24577, 24578, 24579, 36136, 40000,
    ]);
    let mut b = doi.to_be_bytes().to_vec();
    b.extend_from_slice(&[rng.below(6) as u8, spi as u8]);
    b.extend_from_slice(&ty.to_be_bytes());
    b.extend(rng.bytes(spi));
    match ty {
        24576 => b.extend(attrs(rng, false)),
        24577 => b.extend(rng.bytes_of(&[4usize, 4, 2])),
        _ => b.extend(rng.bytes_of(&[0usize, 4, 12, 40])),
    }
    b
}

fn v2_notify_body(rng: &mut Rng) -> Vec<u8> {
    let spi = rng.pick(&[0usize, 0, 4, 8]);
    let ty: u16 = rng.pick(&[
        1, 4, 5, 7, 9, 11, 14, 17, 24, 34, 35, 36, 37, 39, 100, 9000, 16384, 16385, 16386, 16387, 16388, 16389, 16390,
        16391, 16392, 16393, 16394, 16395, 16430, 40960, 50000,
    ]);
    let mut b = vec![rng.below(5) as u8, spi as u8];
    b.extend_from_slice(&ty.to_be_bytes());
    b.extend(rng.bytes(spi));
    b.extend(rng.bytes_of(&[0usize, 4, 20, 29, 30, 45]));
    b
}

fn payload_body(rng: &mut Rng, np: u8) -> Vec<u8> {
    match np {
        1 => sa_body(rng, false),
        33 => sa_body(rng, true),
        5 => v1_id_body(rng),
        11 => v1_notify_body(rng),
        41 => v2_notify_body(rng),
        12 => {
            let doi = if rng.chance(80) { 1u32 } else { 7 };
            let spi = rng.pick(&[4u8, 16, 0, 3]);
            let n = rng.below(4) as u16;
            let mut b = doi.to_be_bytes().to_vec();
            b.extend_from_slice(&[rng.below(5) as u8, spi]);
            b.extend_from_slice(&n.to_be_bytes());
            b.extend(rng.bytes(spi as usize * n as usize));
            b
        }
        34 => {
            let mut b = (rng.below(22) as u16).to_be_bytes().to_vec();
            b.extend_from_slice(&[0, 0]);
            b.extend(rng.bytes_of(&[0usize, 8, 64]));
            b
        }
        35 | 36 => {
            let ty = rng.below(13) as u8;
            let mut b = vec![ty, 0, 0, 0];
            let n = rng.pick(&[0usize, 4, 16, 11]);
            let mut d = rng.bytes(n);
            if ty == 2 || ty == 3 {
                for x in d.iter_mut().skip(1) {
                    *x = b'a' + (*x % 26);
                }
            }
            b.extend(d);
            if rng.chance(10) {
                b.truncate(rng.below(4) as usize);
            }
            b
        }
        39 => {
            let mut b = vec![rng.below(5) as u8, 0, 0, 0];
            b.extend(rng.bytes_of(&[0usize, 8, 20, 40]));
            if rng.chance(10) {
                b.truncate(rng.below(4) as usize);
            }
            b
        }
        43 | 13 => {
            let mut b = rng.bytes_of(&[0usize, 4, 5, 16, 20]);
            if rng.chance(50) {
                for x in b.iter_mut() {
                    *x = b' ' + (*x % 96);
                }
            }
            b
        }
        6 | 7 => {
            let mut b = vec![rng.below(12) as u8];
            b.extend(rng.bytes_of(&[0usize, 1, 10]));
            b
        }
        _ => rng.bytes_of(&[0usize, 1, 4, 9, 24, 40]),
    }
}

fn message(rng: &mut Rng, cookies: &[[u8; 8]]) -> Vec<u8> {
    let v2 = rng.chance(50);
    let kinds: &[u8] = if v2 {
        &[
            33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 1, 5, 53, 99,
        ]
    } else {
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 20, 130, 33, 41, 46, 14]
    };
    let n = 1 + rng.below(5) as usize;
    let nps: Vec<u8> = (0..n).map(|_| rng.pick(kinds)).collect();
    let mut body = Vec::new();
    for (i, &np) in nps.iter().enumerate() {
        let next = nps.get(i + 1).copied().unwrap_or(0);
        let next = if rng.chance(3) { rng.below(50) as u8 } else { next };
        let crit = if v2 && rng.chance(10) { 0x80 } else { 0 };
        let b = payload_body(rng, np);
        body.extend(generic(next, crit, &b, rng));
    }
    let mut m = Vec::new();
    m.extend_from_slice(&rng.pick(cookies));
    if rng.chance(50) {
        m.extend_from_slice(&[0; 8]);
    } else {
        m.extend_from_slice(&rng.pick(cookies));
    }
    let ver = if rng.chance(95) {
        if v2 {
            0x20
        } else {
            0x10
        }
    } else {
        rng.next() as u8
    };
    let etype = rng.pick(&[0u8, 1, 2, 4, 5, 6, 32, 33, 34, 35, 36, 37, 38, 43, 200]);
    let flags = if rng.chance(70) {
        rng.pick(&[0u8, 0x08, 0x20, 0x28, 0x10])
    } else {
        rng.next() as u8
    };
    let msgid = if rng.chance(50) { 0 } else { rng.next() as u32 };
    m.extend_from_slice(&[nps[0], ver, etype, flags]);
    m.extend_from_slice(&msgid.to_be_bytes());
    let mut len = (28 + body.len()) as u32;
    if rng.chance(5) {
        len = rng.next() as u32 & 0xfff;
    }
    m.extend_from_slice(&len.to_be_bytes());
    m.extend(body);
    m
}

fn udp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00];
    let tot = (20 + 8 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0]);
    f[16..18].copy_from_slice(&tot.to_be_bytes());
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    let mut sum = 0u32;
    for c in f[14..34].chunks(2) {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let ck = !(sum as u16);
    f[24..26].copy_from_slice(&ck.to_be_bytes());
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

fn write_pcap(path: &Path, frames: &[(Vec<u8>, usize)]) {
    let mut b = Vec::new();
    b.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&4u16.to_le_bytes());
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    for (i, (f, cap)) in frames.iter().enumerate() {
        let cap = (*cap).min(f.len());
        b.extend_from_slice(&(1_000_000 + i as u32).to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&(cap as u32).to_le_bytes());
        b.extend_from_slice(&(f.len() as u32).to_le_bytes());
        b.extend_from_slice(&f[..cap]);
    }
    std::fs::write(path, b).unwrap();
}

/// Generates structured random IKEv1/IKEv2 messages (some cut short by the snaplen, some on
/// port 4500 behind the non-ESP marker) and compares with tcpdump at every verbosity.
#[test]
fn synthetic_matches_tcpdump() {
    if !have_tcpdump() {
        return;
    }
    let seed: u64 = std::env::var("ISAKMP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1234_5678_9abc_def1);
    let count: usize = std::env::var("ISAKMP_FUZZ_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    let mut rng = Rng(seed | 1);
    let cookies: Vec<[u8; 8]> = (0..25u8).map(|i| [i, 0xc0, 0, 0, 0, 0, 0, i]).collect();
    let hosts = [[10, 0, 0, 1], [10, 0, 0, 2], [192, 168, 1, 9]];
    let mut frames = Vec::new();
    for _ in 0..count {
        let m = message(&mut rng, &cookies);
        let (s, d) = (rng.pick(&hosts), rng.pick(&hosts));
        let f = if rng.chance(15) {
            let mut p = vec![0, 0, 0, 0];
            p.extend(&m);
            udp_frame(s, d, 4500, 4500, &p)
        } else {
            udp_frame(s, d, 500, 500, &m)
        };
        let cap = if rng.chance(25) {
            42 + rng.below((f.len() - 41) as u64) as usize
        } else {
            f.len()
        };
        frames.push((f, cap));
    }
    let path = std::env::temp_dir().join(format!("isakmp-fuzz-{}-{seed}.pcap", std::process::id()));
    write_pcap(&path, &frames);
    let n = check_file(&path);
    // ISAKMP_FUZZ_KEEP=1 keeps the capture (its path is printed) for replaying elsewhere.
    if std::env::var("ISAKMP_FUZZ_KEEP").is_ok() {
        eprintln!("kept {}", path.display());
    } else {
        let _ = std::fs::remove_file(&path);
    }
    eprintln!("synthetic: {n} lines identical over {count} messages x5 verbosities");
}
