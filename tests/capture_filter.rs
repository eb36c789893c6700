//! The capture filter that `ipsec-doctor capture-filter` prints, applied with the real tcpdump to
//! every example capture, keeps every packet diagnosis uses (IKE, NAT-T, ESP, AH, IP fragments,
//! ICMP errors) and nothing else, and the diagnosis of the filtered captures is the diagnosis of
//! the originals.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ipsec-doctor");

/// The protected subnets of the lab that recorded examples/ (lab/lib: NET1, NET2).
const INNER: &[&str] = &["10.1.0.0/24", "10.2.0.0/24", "2001:db8:1::/64", "2001:db8:2::/64"];

fn tcpdump() -> Option<PathBuf> {
    let p = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if p.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must install tcpdump");
        eprintln!("skipped: tcpdump is not installed");
    }
    p
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ipsec-doctor-capfilter-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn filter(args: &[&str]) -> String {
    run(Command::new(BIN).arg("capture-filter").arg("--filter-only").args(args))
        .trim()
        .to_string()
}

fn inner_filter() -> String {
    let mut c = Command::new(BIN);
    c.arg("capture-filter");
    for n in INNER {
        c.args(["--inner", n]);
    }
    let text = run(&mut c);
    let line = text
        .lines()
        .find(|l| l.contains("-int.pcap"))
        .expect("a command for the internal interface");
    line.rsplit_once(" '").unwrap().1.trim_end_matches('\'').to_string()
}

/// `tcpdump -r src -w dst FILTER`.
fn apply(tcpdump: &Path, src: &Path, dst: &Path, filter: &str) {
    let out = Command::new(tcpdump)
        .arg("-r")
        .arg(src)
        .arg("-w")
        .arg(dst)
        .arg(filter)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tcpdump refused the filter on {}: {}\n{filter}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ipsec-doctor dump -n` lines of a capture (one per packet).
fn dump(path: &Path) -> Vec<String> {
    run(Command::new(BIN).args(["dump", "-n", "-r"]).arg(path))
        .lines()
        .map(str::to_string)
        .collect()
}

/// A packet diagnosis uses, from its tcpdump line: IKE (500, 4500, NAT-T keepalives, TCP 4500), ESP, AH,
/// a non-first IPv4 fragment (`ip-proto-N` without a port), an IPv6 fragment, an ICMP error.
fn relevant_outside(line: &str) -> bool {
    [
        "isakmp",
        "NONESP-encap",
        "UDP-encap",
        "ESP(",
        "AH(",
        "ip-proto-",
        "frag (",
        "unreachable",
        "time exceeded",
        "need to frag",
        "too big",
    ]
    .iter()
    .any(|k| line.contains(k))
        || tcp_4500(line)
}

/// A TCP segment to or from port 4500 (IKE and ESP over TCP, RFC 8229), as tcpdump prints it.
fn tcp_4500(line: &str) -> bool {
    line.contains(": Flags [") && (line.contains(".4500 > ") || line.contains(".4500: "))
}

/// A packet between hosts of the protected subnets.
fn relevant_inside(line: &str) -> bool {
    let addr = |s: &str| {
        ["10.1.0.", "10.2.0.", "2001:db8:1::", "2001:db8:2::"]
            .iter()
            .any(|p| s.starts_with(p))
    };
    let w: Vec<&str> = line.split_whitespace().collect();
    w.len() > 4 && addr(w[2]) && addr(w[4])
}

/// Example folders and their captures (`sg1.pcap`, `sg1-int.pcap`, ...).
fn examples() -> Vec<(PathBuf, Vec<PathBuf>)> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"));
    let mut v: Vec<(PathBuf, Vec<PathBuf>)> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|d| {
            let mut caps: Vec<PathBuf> = std::fs::read_dir(&d)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy();
                    n.starts_with("sg") && n.ends_with(".pcap")
                })
                .collect();
            caps.sort();
            (d, caps)
        })
        .filter(|(_, c)| !c.is_empty())
        .collect();
    v.sort();
    assert!(v.len() >= 40, "examples/ holds the recorded scenarios");
    v
}

fn is_internal(p: &Path) -> bool {
    p.file_name().unwrap().to_string_lossy().contains("-int")
}

/// The address at the other end of a capture's first IKE packet, from its own gateway's view.
fn peer_of(lines: &[String], own_prefix: &str) -> Option<String> {
    let first = lines.iter().find(|l| l.contains("isakmp"))?;
    let w: Vec<&str> = first.split_whitespace().collect();
    let host = |s: &str| s.trim_end_matches(':').rsplit_once('.').map(|(a, _)| a.to_string());
    let (src, dst) = (host(w[2])?, host(w[4])?);
    // The lab's gateways: sg1 at 192.0.2.1 / 2001:db8:a::1, sg2 behind 198.51.100.2 / 2001:db8:b::2.
    let own = |a: &str| match own_prefix {
        "sg1" => a == "192.0.2.1" || a == "2001:db8:a::1",
        _ => a != "192.0.2.1" && a != "2001:db8:a::1",
    };
    Some(if own(&src) { dst } else { src })
}

#[test]
fn filter_keeps_every_packet_diagnosis_uses() {
    let Some(tcpdump) = tcpdump() else { return };
    let all = filter(&["--ipv6"]);
    let inner = inner_filter();
    let dir = tmpdir("keep");
    let mut checked = 0;
    let mut removed = 0;
    for (ex, caps) in examples() {
        for cap in caps {
            let name = format!(
                "{}-{}",
                ex.file_name().unwrap().to_string_lossy(),
                cap.file_name().unwrap().to_string_lossy()
            );
            let out = dir.join(&name);
            let before = dump(&cap);
            let (f, relevant): (&str, fn(&str) -> bool) = if is_internal(&cap) {
                (&inner, relevant_inside)
            } else {
                (&all, relevant_outside)
            };
            apply(&tcpdump, &cap, &out, f);
            let after = dump(&out);
            let want: Vec<&String> = before.iter().filter(|l| relevant(l)).collect();
            assert_eq!(
                after.len(),
                want.len(),
                "{name}: the filter kept {} packets, diagnosis uses {}:\nkept:\n{}\nused:\n{}",
                after.len(),
                want.len(),
                after.join("\n"),
                want.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n")
            );
            // The same packets, in the same order.
            for (a, b) in after.iter().zip(&want) {
                assert_eq!(a, *b, "{name}");
            }
            removed += before.len() - after.len();
            checked += 1;
        }
    }
    assert!(checked >= 90, "{checked} captures checked");
    // Plain pings leak onto sg1's external interface in pfs-mismatch-ikev2: the filter drops them.
    assert!(removed > 0, "the filter kept every packet: it filters nothing");
}

#[test]
fn peer_filter_keeps_the_same_packets() {
    let Some(tcpdump) = tcpdump() else { return };
    let dir = tmpdir("peer");
    for (ex, caps) in examples() {
        for cap in caps.iter().filter(|c| !is_internal(c)) {
            let before = dump(cap);
            let own = cap.file_name().unwrap().to_string_lossy()[..3].to_string();
            let Some(peer) = peer_of(&before, &own) else { continue };
            let f = filter(&["--peer", &peer]);
            let out = dir.join(format!("{}-{own}.pcap", ex.file_name().unwrap().to_string_lossy()));
            apply(&tcpdump, cap, &out, &f);
            let after = dump(&out);
            let want = before.iter().filter(|l| relevant_outside(l)).count();
            assert_eq!(after.len(), want, "{}: --peer {peer}: {f}", cap.display());
        }
    }
    // A peer that is not the one: ICMP errors stay, the IKE goes.
    let cap = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/responder-down-ikev1/sg1.pcap"
    ));
    let out = dir.join("other-peer.pcap");
    apply(&tcpdump, cap, &out, &filter(&["--peer", "203.0.113.9"]));
    let after = dump(&out);
    assert!(
        !after.is_empty() && after.iter().all(|l| l.contains("unreachable")),
        "{after:?}"
    );
}

/// The diagnosis of every example is the same from the filtered captures as from the originals.
#[test]
fn filtered_examples_diagnose_the_same() {
    let Some(tcpdump) = tcpdump() else { return };
    let all = filter(&["--ipv6"]);
    let inner = inner_filter();
    let findings = |dir: &Path| -> Vec<(String, String)> {
        let out = Command::new(BIN)
            .args(["diagnose", "--json"])
            .arg(dir)
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["cause"].as_str().unwrap().to_string(), f["confidence"].to_string()))
            .collect()
    };
    for (ex, caps) in examples() {
        let dir = tmpdir(&format!("diag-{}", ex.file_name().unwrap().to_string_lossy()));
        for e in std::fs::read_dir(&ex).unwrap() {
            let p = e.unwrap().path();
            let dst = dir.join(p.file_name().unwrap());
            if caps.contains(&p) {
                apply(&tcpdump, &p, &dst, if is_internal(&p) { &inner } else { &all });
            } else {
                std::fs::copy(&p, &dst).unwrap();
            }
        }
        assert_eq!(findings(&dir), findings(&ex), "{}", ex.display());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn every_variant_compiles_in_tcpdump() {
    let Some(tcpdump) = tcpdump() else { return };
    let cap = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/healthy-ikev1/sg1.pcap"));
    let variants = [
        filter(&[]),
        filter(&["--ipv6"]),
        filter(&["--peer", "198.51.100.2"]),
        filter(&["--peer", "198.51.100.2", "--ipv6"]),
        filter(&["--peer", "2001:db8:b::2"]),
        inner_filter(),
    ];
    for f in variants {
        let out = Command::new(&tcpdump)
            .arg("-r")
            .arg(cap)
            .arg("-d")
            .arg(&f)
            .output()
            .unwrap();
        assert!(out.status.success(), "{f}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // The printed commands carry the same filter, quoted for the shell.
    let text = run(Command::new(BIN).args(["capture-filter", "--peer", "198.51.100.2", "-i", "eth1"]));
    let f = filter(&["--peer", "198.51.100.2"]);
    assert!(
        text.contains(&format!("tcpdump -i eth1 -n -p -s 0 -w \"$(hostname -s).pcap\" '{f}'")),
        "{text}"
    );
    // A bad subnet is refused before anything is printed.
    let out = Command::new(BIN)
        .args(["capture-filter", "--inner", "lan"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
