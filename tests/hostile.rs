//! Hostile input: each case ends with a clear message, bounded memory (peak RSS measured with
//! GNU time on the real binary), and the output for the good part intact.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ipsec-doctor");

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ipsec-doctor-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// Runs the binary under /usr/bin/time; returns its output and peak RSS in KB.
fn run(args: &[&str]) -> (Output, u64) {
    let rss = tmp("rss.txt");
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must install GNU time");
        let out = Command::new(BIN).args(args).output().unwrap();
        return (out, 0);
    }
    let out = Command::new(time)
        .arg("-o")
        .arg(&rss)
        .args(["-f", "%M"])
        .arg(BIN)
        .args(args)
        .output()
        .unwrap();
    let kb = std::fs::read_to_string(&rss)
        .unwrap()
        .lines()
        .last()
        .unwrap_or("0")
        .trim()
        .parse()
        .unwrap_or(0);
    (out, kb)
}

fn pcap_header(linktype: u32) -> Vec<u8> {
    let mut v = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&262_144u32.to_le_bytes());
    v.extend_from_slice(&linktype.to_le_bytes());
    v
}

fn record(v: &mut Vec<u8>, t: u32, data: &[u8]) {
    v.extend_from_slice(&t.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
}

/// A raw IPv4 packet (link type 101).
fn ipv4(proto: u8, id: u16, frag_off: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![
        0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
    ];
    h[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    h[6..8].copy_from_slice(&frag_off.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn udp500(body: &[u8]) -> Vec<u8> {
    let mut u = vec![0x01, 0xf4, 0x01, 0xf4, 0, 0, 0, 0];
    u[4..6].copy_from_slice(&((8 + body.len()) as u16).to_be_bytes());
    u.extend_from_slice(body);
    u
}

fn ike_header(np: u8, len: u32) -> Vec<u8> {
    let mut m = vec![0x11; 8];
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&[np, 0x10, 2, 0, 0, 0, 0, 0]);
    m.extend_from_slice(&len.to_be_bytes());
    m
}

#[test]
fn record_claiming_4_gb() {
    let mut f = pcap_header(101);
    record(&mut f, 1, &ipv4(50, 1, 0, &[0, 0, 0, 1, 0, 0, 0, 1, 0xaa]));
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&u32::MAX.to_le_bytes());
    f.extend_from_slice(&u32::MAX.to_le_bytes());
    let p = tmp("4gb.pcap");
    std::fs::write(&p, &f).unwrap();
    let (out, rss) = run(&["dump", "-n", "-r", p.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout.contains("ESP(spi=0x00000001,seq=0x1)"),
        "good part lost: {stdout}"
    );
    assert!(
        stderr.contains("4gb.pcap") && stderr.contains("byte offset 69") && stderr.contains("claims"),
        "{stderr}"
    );
    assert!(rss < 64 * 1024, "peak RSS {rss} KB");
}

#[test]
fn capture_that_stops_mid_record() {
    let mut f = pcap_header(101);
    record(&mut f, 1, &ipv4(50, 1, 0, &[0, 0, 0, 7, 0, 0, 0, 1, 0xaa]));
    record(&mut f, 2, &ipv4(50, 2, 0, &[0, 0, 0, 7, 0, 0, 0, 2, 0xaa]));
    f.truncate(f.len() - 5);
    let p = tmp("cut.pcap");
    std::fs::write(&p, &f).unwrap();
    let (out, _) = run(&["dump", "-n", "-r", p.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stderr.contains("cut.pcap") && stderr.contains("truncated pcap record at byte offset 69"),
        "{stderr}"
    );
}

#[test]
fn not_a_capture_at_all() {
    let p = tmp("notes.txt");
    std::fs::write(&p, "just some notes about the tunnel\n").unwrap();
    let (out, _) = run(&["dump", "-r", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a pcap or pcapng file"));
    let (out, _) = run(&["diagnose", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no IP packet in any capture and no IKE log line"));
}

#[test]
fn pcapng_flood_of_empty_blocks() {
    // A section, then half a million minimal unknown blocks, then one interface and packet.
    let mut f = Vec::new();
    let block = |t: u32, body: &[u8]| {
        let len = (12 + body.len()) as u32;
        let mut b = t.to_le_bytes().to_vec();
        b.extend_from_slice(&len.to_le_bytes());
        b.extend_from_slice(body);
        b.extend_from_slice(&len.to_le_bytes());
        b
    };
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&[0xff; 8]);
    f.extend(block(0x0a0d_0d0a, &shb));
    let empty = block(0x0bad, &[]);
    for _ in 0..500_000 {
        f.extend_from_slice(&empty);
    }
    f.extend(block(1, &[101, 0, 0, 0, 0, 0, 0, 0]));
    let pkt = ipv4(50, 1, 0, &[0, 0, 0, 9, 0, 0, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd]);
    let mut epb = vec![0u8; 12];
    epb.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
    epb.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
    epb.extend_from_slice(&pkt);
    f.extend(block(6, &epb));
    let p = tmp("flood.pcapng");
    std::fs::write(&p, &f).unwrap();
    let (out, rss) = run(&["dump", "-n", "-r", p.to_str().unwrap()]);
    let _ = std::fs::remove_file(&p);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ESP(spi=0x00000009"));
    assert!(rss < 64 * 1024, "peak RSS {rss} KB");
}

#[test]
fn fragment_flood_of_never_completed_datagrams() {
    let mut f = pcap_header(101);
    let body = vec![0u8; 1200];
    for id in 0..100_000u32 {
        // First fragments of UDP 500 datagrams whose rest never comes.
        let pkt = ipv4(17, id as u16, 0x2000, &udp500(&body));
        record(&mut f, id / 1000, &pkt);
    }
    let p = tmp("fragflood.pcap");
    std::fs::write(&p, &f).unwrap();
    let (out, rss) = run(&["diagnose", "--json", p.to_str().unwrap()]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["findings"][0]["cause"].is_string());
    assert!(rss < 128 * 1024, "peak RSS {rss} KB");
}

#[test]
fn ike_payload_chain_that_points_back_on_itself() {
    // 2000 payloads of 4 bytes, each naming the same type next: the walk must stop at its cap
    // and the printer must finish.
    let mut chain = Vec::new();
    for _ in 0..2000 {
        chain.extend_from_slice(&[13, 0, 0, 4]);
    }
    let mut msg = ike_header(13, (28 + chain.len()) as u32);
    msg.extend_from_slice(&chain);
    let mut f = pcap_header(101);
    record(&mut f, 1, &ipv4(17, 1, 0, &udp500(&msg)));
    let p = tmp("loop.pcap");
    std::fs::write(&p, &f).unwrap();
    for v in ["-v", "-vvvv"] {
        let (out, rss) = run(&["dump", "-n", v, "-r", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0));
        assert!(out.stdout.len() < 1 << 20);
        assert!(rss < 64 * 1024, "peak RSS {rss} KB");
    }
    let (out, _) = run(&["diagnose", p.to_str().unwrap()]);
    assert!(matches!(out.status.code(), Some(0 | 1)));
}

#[test]
fn one_gigabyte_log_line() {
    let p = tmp("sg1-pluto.log");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        writeln!(
            w,
            "Nov 28 06:00:44.929379: Starting Pluto (Libreswan Version 4.10 XFRM(netkey) esp-hw-offload)"
        )
        .unwrap();
        write!(w, "Nov 28 06:00:45.000000: ").unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..1024 {
            w.write_all(&chunk).unwrap();
        }
        writeln!(w).unwrap();
        writeln!(w, "Nov 28 06:00:45.662198: \"sg\" #1: probable authentication failure (mismatch of preshared secrets?): malformed payload in packet").unwrap();
    }
    let (out, rss) = run(&["diagnose", "--json", p.to_str().unwrap()]);
    let _ = std::fs::remove_file(&p);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line longer than"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["findings"][0]["cause"], "auth-failed",
        "the line after the huge one is still read"
    );
    assert!(rss < 64 * 1024, "peak RSS {rss} KB");
}
