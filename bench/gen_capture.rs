//! Writes a large synthetic capture for the benchmark: many tunnels, mostly ESP (plain and in
//! UDP 4500), NAT-T keepalives, IKEv2 rekeys and some plaintext IKE_SA_INIT / IKEv1 main mode
//! exchanges, mixed packet sizes.
//!
//!     cargo run --release --example gen-capture -- OUT.pcap [MEGABYTES] [SEED]
//!
//! `GEN_MODE=esp-aes-cbc`: ESP only instead (proto 50, and ESP-in-UDP for one tunnel in ten),
//! AES-128-CBC with HMAC-SHA-1-96, every SA with the fixed keys below, around ICMP echoes of
//! mixed sizes: the `-E` benchmark, `-E aes128-cbc-hmac96:0x` followed by [`ESP_KEY`]'s hex.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockEncryptMut, KeyIvInit};
use hmac::{KeyInit, Mac};
use std::fs::File;
use std::io::{BufWriter, Write};

/// The ESP mode's keys (AES-128 and HMAC-SHA-1): known, so that both tools can decrypt.
pub const ESP_KEY: [u8; 16] = *b"ipsec-doctor-key";
const ESP_AUTH_KEY: [u8; 20] = *b"ipsec-doctor-hmackey";

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn checksum(data: &[u8]) -> u16 {
    let mut s = 0u32;
    for c in data.chunks(2) {
        s += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn ipv4(out: &mut Vec<u8>, src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, payload: &[u8]) {
    out.extend_from_slice(&[0, 0x16, 0x3e, 0, 0, 1, 0, 0x16, 0x3e, 0, 0, 2, 0x08, 0x00]);
    let total = (20 + payload.len()) as u16;
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6] = 0x40;
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
}

fn udp(sport: u16, dport: u16, body: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + body.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + body.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]); // no checksum
    u.extend_from_slice(body);
    u
}

fn payload(np: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![np, 0];
    p.extend_from_slice(&((4 + body.len()) as u16).to_be_bytes());
    p.extend_from_slice(body);
    p
}

/// The ISAKMP header fields: SPIs, next payload, version, exchange, flags, message id.
struct Hdr(u64, u64, u8, u8, u8, u8, u32);

fn ike_header(h: Hdr, body: &[u8]) -> Vec<u8> {
    let Hdr(ispi, rspi, np, ver, exch, flags, msgid) = h;
    let mut m = Vec::with_capacity(28 + body.len());
    m.extend_from_slice(&ispi.to_be_bytes());
    m.extend_from_slice(&rspi.to_be_bytes());
    m.extend_from_slice(&[np, ver, exch, flags]);
    m.extend_from_slice(&msgid.to_be_bytes());
    m.extend_from_slice(&((28 + body.len()) as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

/// IKE_SA_INIT request with SA (1 proposal, 4 transforms), KE, Nonce.
fn ike_sa_init(r: &mut Rng, ispi: u64) -> Vec<u8> {
    let mut transforms = Vec::new();
    let t = |last: bool, ty: u8, id: u16, attr: Option<u16>| {
        let mut b = vec![ty, 0];
        b.extend_from_slice(&id.to_be_bytes());
        if let Some(kl) = attr {
            b.extend_from_slice(&[0x80, 14]);
            b.extend_from_slice(&kl.to_be_bytes());
        }
        payload(if last { 0 } else { 3 }, &b)
    };
    transforms.extend(t(false, 1, 12, Some(256)));
    transforms.extend(t(false, 2, 5, None));
    transforms.extend(t(false, 3, 12, None));
    transforms.extend(t(true, 4, 14, None));
    let mut prop = vec![1, 1, 0, 4];
    prop.extend(transforms);
    let sa = payload(34, &payload(0, &prop));
    let mut ke = vec![0, 14, 0, 0];
    ke.extend((0..256).map(|_| r.next() as u8));
    let ke = payload(40, &ke);
    let nonce: Vec<u8> = (0..32).map(|_| r.next() as u8).collect();
    let nonce = payload(0, &nonce);
    let mut body = sa;
    body.extend(ke);
    body.extend(nonce);
    ike_header(Hdr(ispi, 0, 33, 0x20, 34, 0x08, 0), &body)
}

/// An encrypted IKEv2 message (SK payload of random bytes).
fn ike_encrypted(r: &mut Rng, ispi: u64, rspi: u64, exch: u8, flags: u8, msgid: u32, len: usize) -> Vec<u8> {
    let data: Vec<u8> = (0..len).map(|_| r.next() as u8).collect();
    ike_header(Hdr(ispi, rspi, 46, 0x20, exch, flags, msgid), &payload(33, &data))
}

/// IKEv1 main mode first message: SA with one proposal and one transform with attributes.
fn ikev1_mm1(ispi: u64) -> Vec<u8> {
    let mut tr = vec![1, 1, 0, 0];
    for (k, v) in [(1u16, 7u16), (14, 256), (2, 4), (3, 1), (4, 14), (11, 1)] {
        tr.extend_from_slice(&(0x8000 | k).to_be_bytes());
        tr.extend_from_slice(&v.to_be_bytes());
    }
    let mut prop = vec![1, 1, 0, 1];
    prop.extend(payload(0, &tr));
    let mut sa = vec![0, 0, 0, 1, 0, 0, 0, 1];
    sa.extend(payload(0, &prop));
    let sa = payload(13, &sa);
    let vid = payload(
        0,
        &[
            0x4a, 0x13, 0x1c, 0x81, 0x07, 0x03, 0x58, 0x45, 0x5c, 0x57, 0x28, 0xf2, 0x0e, 0x95, 0x45, 0x2f,
        ],
    );
    let mut body = sa;
    body.extend(vid);
    ike_header(Hdr(ispi, 0, 1, 0x10, 2, 0, 0), &body)
}

/// An ESP packet (from the SPI) holding an ICMP echo of `size` bytes from `src` to `dst` inside a
/// tunnel-mode IPv4 header: AES-128-CBC with RFC 4303 padding, HMAC-SHA-1-96 over it.
fn esp_cbc(r: &mut Rng, spi: u32, seq: u32, src: [u8; 4], dst: [u8; 4], size: usize) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0];
    icmp.extend_from_slice(&(spi as u16).to_be_bytes());
    icmp.extend_from_slice(&(seq as u16).to_be_bytes());
    icmp.resize(size.max(8), 0x5a);
    let c = checksum(&icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut pt = Vec::with_capacity(size + 64);
    let mut inner = Vec::new();
    ipv4(&mut inner, src, dst, 1, seq as u16, &icmp);
    pt.extend_from_slice(&inner[14..]); // without the Ethernet header ipv4() writes
    let pad = (16 - (pt.len() + 2) % 16) % 16;
    pt.extend(1..=pad as u8);
    pt.extend_from_slice(&[pad as u8, 4]);
    let iv: [u8; 16] = std::array::from_fn(|_| r.next() as u8);
    let n = pt.len();
    cbc::Encryptor::<aes::Aes128>::new(&ESP_KEY.into(), &iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut pt, n)
        .expect("whole blocks");
    let mut esp = Vec::with_capacity(8 + 16 + n + 12);
    esp.extend_from_slice(&spi.to_be_bytes());
    esp.extend_from_slice(&seq.to_be_bytes());
    esp.extend_from_slice(&iv);
    esp.extend_from_slice(&pt);
    let mut m = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&ESP_AUTH_KEY).expect("any key length");
    m.update(&esp);
    esp.extend_from_slice(&m.finalize().into_bytes()[..12]);
    esp
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: gen-capture OUT.pcap [MEGABYTES] [SEED]");
    let mb: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1024);
    let seed: u64 = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9e37_79b9_7f4a_7c15);
    let mut r = Rng(seed | 1);
    let esp_mode = match std::env::var("GEN_MODE").as_deref() {
        Ok("esp-aes-cbc") => true,
        Ok(m) => panic!("unknown GEN_MODE {m} (esp-aes-cbc)"),
        Err(_) => false,
    };
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).expect("create output"));
    let mut hdr = Vec::new();
    hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&262_144u32.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes());
    w.write_all(&hdr).unwrap();
    let tunnels = 500u64;
    let sizes = [64usize, 120, 200, 576, 1000, 1400, 1420];
    let mut seqs = vec![0u32; (tunnels * 2) as usize];
    // GEN_START: the first packet's time (seconds since the epoch), e.g. now for a live replay.
    let start: u64 = std::env::var("GEN_START")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_700_000_000);
    let (mut written, mut t_us) = (24u64, start * 1_000_000);
    let mut frame = Vec::with_capacity(2048);
    let mut n = 0u64;
    while written < mb << 20 {
        n += 1;
        t_us += 1 + r.below(200);
        let tun = r.below(tunnels);
        let dir = r.below(2);
        let a = [203, 0, 113, (tun % 250) as u8 + 1];
        let b = [198, 51, 100, (tun / 2 % 250) as u8 + 1];
        let (src, dst) = if dir == 0 { (a, b) } else { (b, a) };
        let natt = tun % 10 == 0;
        let spi = 0xc000_0000u32 | (tun as u32) << 1 | dir as u32;
        let ispi = 0x1111_0000_0000_0000 | tun;
        let rspi = 0x2222_0000_0000_0000 | tun;
        frame.clear();
        let roll = r.below(10_000);
        if esp_mode {
            let i = (tun * 2 + dir) as usize;
            seqs[i] += 1;
            let size = sizes[r.below(sizes.len() as u64) as usize];
            let (isrc, idst) = ([10, 1, (tun % 250) as u8, 10], [10, 2, (tun % 250) as u8, 10]);
            let (isrc, idst) = if dir == 0 { (isrc, idst) } else { (idst, isrc) };
            let esp = esp_cbc(&mut r, spi, seqs[i], isrc, idst, size);
            if natt {
                ipv4(&mut frame, src, dst, 17, n as u16, &udp(4500, 4500, &esp));
            } else {
                ipv4(&mut frame, src, dst, 50, n as u16, &esp);
            }
        } else if roll < 3 {
            ipv4(
                &mut frame,
                a,
                b,
                17,
                n as u16,
                &udp(500, 500, &ike_sa_init(&mut r, ispi)),
            );
        } else if roll < 5 {
            ipv4(&mut frame, a, b, 17, n as u16, &udp(500, 500, &ikev1_mm1(ispi)));
        } else if roll < 25 {
            let flags = if dir == 0 { 0x08 } else { 0x20 };
            let len = 200 + r.below(300) as usize;
            let m = ike_encrypted(&mut r, ispi, rspi, 36, flags, (n % 1000) as u32, len);
            let mut body = vec![0, 0, 0, 0];
            body.extend(m);
            ipv4(&mut frame, src, dst, 17, n as u16, &udp(4500, 4500, &body));
        } else if roll < 60 && natt {
            ipv4(&mut frame, src, dst, 17, n as u16, &udp(4500, 4500, &[0xff]));
        } else {
            let i = (tun * 2 + dir) as usize;
            seqs[i] += 1;
            let size = sizes[r.below(sizes.len() as u64) as usize];
            let mut esp = Vec::with_capacity(size + 8);
            esp.extend_from_slice(&spi.to_be_bytes());
            esp.extend_from_slice(&seqs[i].to_be_bytes());
            esp.resize(size + 8, 0xab);
            if natt {
                ipv4(&mut frame, src, dst, 17, n as u16, &udp(4500, 4500, &esp));
            } else {
                ipv4(&mut frame, src, dst, 50, n as u16, &esp);
            }
        }
        let mut rec = Vec::with_capacity(16);
        rec.extend_from_slice(&((t_us / 1_000_000) as u32).to_le_bytes());
        rec.extend_from_slice(&((t_us % 1_000_000) as u32).to_le_bytes());
        rec.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        rec.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        w.write_all(&rec).unwrap();
        w.write_all(&frame).unwrap();
        written += (16 + frame.len()) as u64;
    }
    w.flush().unwrap();
    eprintln!("{path}: {n} packets, {written} bytes");
}
