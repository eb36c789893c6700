//! Seed corpora for the fuzz targets, cut from the committed captures and logs:
//! whole files, link frames, IP packets, UDP payloads and IKE messages.
//!
//!     cargo run --release --example fuzz-seeds -- OUTDIR

use ipsec_doctor::source::CaptureReader;
use ipsec_doctor::wire::link;
use std::collections::HashSet;
use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

const LINKS: [u32; 11] = [0, 1, 9, 12, 50, 101, 108, 113, 228, 229, 276];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

struct Sink {
    dir: PathBuf,
    seen: HashSet<u64>,
    max: usize,
}

impl Sink {
    fn put(&mut self, data: &[u8]) {
        if self.seen.len() >= self.max {
            return;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        data.hash(&mut h);
        let k = h.finish();
        if self.seen.insert(k) {
            let _ = fs::write(self.dir.join(format!("{k:016x}")), data);
        }
    }
}

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: fuzz-seeds OUTDIR"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    for d in ["tests/data/corpus", "examples", "tests/data/logs"] {
        files(&root.join(d), &mut all);
    }
    all.sort();
    let sink = |name: &str, max: usize| {
        let dir = out.join(name);
        fs::create_dir_all(&dir).expect("create seed dir");
        Sink {
            dir,
            seen: HashSet::new(),
            max,
        }
    };
    let mut cap = sink("capture_reader", 400);
    let mut pair = sink("diagnose_pair", 200);
    let mut logs = sink("log_lines", 400);
    let mut frames = sink("link_frames", 2000);
    let mut printer = sink("printer", 2000);
    let mut ip = sink("ip_fragments", 1000);
    let mut ike = sink("ike_message", 2000);
    let mut natt = sink("natt_esp", 1000);
    let mut dec = sink("decrypt", 2000);
    let mut small: Vec<Vec<u8>> = Vec::new();
    for p in &all {
        let Ok(bytes) = fs::read(p) else { continue };
        if ipsec_doctor::source::is_capture_magic(&bytes) {
            if bytes.len() <= 1 << 20 {
                cap.put(&bytes);
                if bytes.len() <= 64 << 10 {
                    small.push(bytes.clone());
                }
            }
            let Ok(mut r) = CaptureReader::new(&bytes[..]) else {
                continue;
            };
            let mut ipseq = Vec::new();
            while let Some(Ok(f)) = r.next_frame() {
                if f.data.len() > 4096 {
                    continue;
                }
                if let Some(k) = LINKS.iter().position(|&l| l == f.linktype) {
                    let mut v = vec![k as u8];
                    v.extend_from_slice(f.data);
                    frames.put(&v);
                    let pk = [1u32, 101, 113, 0, 9, 276]
                        .iter()
                        .position(|&l| l == f.linktype)
                        .unwrap_or(0);
                    v[0] = pk as u8;
                    printer.put(&v);
                }
                let Ok(l) = link::decode(f.linktype, f.data, f.wire_len) else {
                    continue;
                };
                if ipseq.len() < 8192 {
                    ipseq.extend_from_slice(&(l.payload.len() as u16).to_be_bytes());
                    ipseq.extend_from_slice(l.payload);
                }
                let b = l.payload;
                if b.len() >= 28 && b[0] >> 4 == 4 && b[9] == 17 {
                    let hl = (b[0] & 0xf) as usize * 4;
                    if let Some(u) = b.get(hl..) {
                        if u.len() > 8 {
                            let (sp, dp) = (u16::from_be_bytes([u[0], u[1]]), u16::from_be_bytes([u[2], u[3]]));
                            let pl = &u[8..];
                            if sp == 500 || dp == 500 {
                                ike.put(pl);
                                let mut v = vec![1u8];
                                v.extend_from_slice(pl);
                                natt.put(&v);
                            } else if sp == 4500 || dp == 4500 {
                                if pl.len() > 4 && pl[..4] == [0; 4] {
                                    ike.put(&pl[4..]);
                                }
                                let mut v = vec![0u8];
                                v.extend_from_slice(pl);
                                natt.put(&v);
                            }
                        }
                    }
                }
            }
            ip.put(&ipseq);
        } else if ipsec_doctor::logs::looks_like_log(&bytes).is_some() && bytes.len() <= 256 << 10 {
            logs.put(&bytes);
        }
    }
    // Pairs of small captures, the first length-prefixed as diagnose_pair expects.
    for w in small.windows(2) {
        let mut v = (w[0].len().min(65_535) as u16).to_be_bytes().to_vec();
        v.extend_from_slice(&w[0][..w[0].len().min(65_535)]);
        v.extend_from_slice(&w[1]);
        pair.put(&v);
    }
    decrypt_seeds(root, &mut dec);
    for (n, s) in [
        ("capture_reader", &cap),
        ("diagnose_pair", &pair),
        ("log_lines", &logs),
        ("link_frames", &frames),
        ("printer", &printer),
        ("ip_fragments", &ip),
        ("ike_message", &ike),
        ("natt_esp", &natt),
        ("decrypt", &dec),
    ] {
        eprintln!("{n}: {} seeds", s.seen.len());
    }
}

/// The decrypt target's seeds from the lab tunnels (tests/data/decrypt): their ESP packets as
/// given, for every suite (wrong keys), and their pings in the clear with RFC 4303 trailers, true
/// and lying, to be sealed with each suite's keys.
fn decrypt_seeds(root: &Path, dec: &mut Sink) {
    let mut caps = Vec::new();
    files(&root.join("tests/data/decrypt"), &mut caps);
    caps.sort();
    for p in caps.iter().filter(|p| p.extension().is_some_and(|e| e == "pcap")) {
        let Ok(bytes) = fs::read(p) else { continue };
        let Ok(mut r) = CaptureReader::new(&bytes[..]) else {
            continue;
        };
        while let Some(Ok(f)) = r.next_frame() {
            let Ok(l) = link::decode(f.linktype, f.data, f.wire_len) else {
                continue;
            };
            let b = l.payload;
            if b.len() < 28 || b[0] != 0x45 {
                continue;
            }
            match b[9] {
                17 if b[20..22] == [0x11, 0x94] && b[28..].len() > 8 && b[28..32] != [0; 4] => {
                    for sel in 0..12u8 {
                        let mut v = vec![sel | (sel & 1) << 4];
                        v.extend_from_slice(&b[28..]);
                        dec.put(&v);
                    }
                }
                1 => {
                    for sel in 0..12u8 {
                        for padlen in [None, Some(255u8), Some(17)] {
                            let mut v = vec![0x20 | sel];
                            v.extend_from_slice(b);
                            let pad = (16 - (b.len() + 2) % 16) % 16;
                            v.extend((1..=pad as u8).collect::<Vec<u8>>());
                            v.push(padlen.unwrap_or(pad as u8));
                            v.push(4);
                            dec.put(&v);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}
