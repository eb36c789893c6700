//! `diagnose --evidence FILE.pcapng`: tshark reads the file of each situation's example (A–D,
//! healthy; IKEv1 and IKEv2; IP fragments) and finds the packets and comments the selection
//! chose, one interface per gateway named after it, in time order; bad inputs (one capture,
//! logs only, a capture cut short) still give the report.

mod common;

use ipsec_doctor::evidence_pcapng::{self, Selection};
use ipsec_doctor::{cmd, inputs};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scratch(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ipsec-doctor-evidence-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn example(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples")).join(name)
}

/// tshark, if installed (with CI set, it must be).
fn tshark() -> Option<&'static str> {
    let path = "/usr/bin/tshark";
    if Path::new(path).exists() {
        Some(path)
    } else {
        assert!(std::env::var_os("CI").is_none(), "CI must install tshark");
        eprintln!("skipped: tshark is not installed");
        None
    }
}

fn doctor(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ipsec-doctor"))
        .env("COLUMNS", "100")
        .arg("diagnose")
        .args(args)
        .output()
        .unwrap()
}

/// What the selection chooses for these inputs, as `diagnose` analyses them.
fn selection(paths: &[PathBuf]) -> Selection {
    let mut inp = inputs::load(paths, &[], inputs::Limits::default());
    cmd::diagnose::analyse(&mut inp, |case, _, findings, _| evidence_pcapng::select(case, findings))
}

struct Row {
    comment: String,
    iface: String,
    time: f64,
}

fn read_back(tshark: &str, file: &Path) -> Vec<Row> {
    let out = Command::new(tshark)
        .arg("-r")
        .arg(file)
        .args([
            "-T",
            "fields",
            "-e",
            "frame.comment",
            "-e",
            "frame.interface_name",
            "-e",
            "frame.time_epoch",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "tshark: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 3, "{l}");
            Row {
                comment: f[0].to_string(),
                iface: f[1].to_string(),
                time: f[2].parse().unwrap(),
            }
        })
        .collect()
}

/// Writes the evidence of `paths` with the command and checks it against the selection.
fn check(test: &str, paths: &[PathBuf]) -> Option<(Selection, Vec<Row>)> {
    let tshark = tshark()?;
    let dir = scratch(test);
    let file = dir.join("evidence.pcapng");
    let mut args: Vec<&Path> = vec![Path::new("--evidence"), &file];
    args.extend(paths.iter().map(|p| p.as_path()));
    let with = doctor(&args);
    let without = doctor(&paths.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    assert_eq!(with.status.code(), without.status.code(), "{test}: exit status changed");
    assert_eq!(with.stdout, without.stdout, "{test}: the report changed");
    let said = String::from_utf8_lossy(&with.stderr);
    let sel = selection(paths);
    assert!(!sel.packets.is_empty(), "{test}: nothing chosen");
    assert!(
        said.contains(&format!("wrote {} packets", sel.packets.len())),
        "{test}: {said}"
    );
    let rows = read_back(tshark, &file);
    assert_eq!(rows.len(), sel.packets.len(), "{test}: packets written");
    let mut want: Vec<&str> = sel.packets.iter().map(|c| c.comment.as_str()).collect();
    let mut got: Vec<&str> = rows.iter().map(|r| r.comment.as_str()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "{test}: comments");
    assert!(
        rows.iter().all(|r| !r.comment.is_empty()),
        "{test}: a packet without comment"
    );
    let gateways: Vec<&str> = sel.interfaces.iter().map(|i| i.gateway.as_str()).collect();
    for r in &rows {
        assert!(gateways.contains(&r.iface.as_str()), "{test}: interface {}", r.iface);
    }
    // Each packet on its own gateway's interface: the count per interface agrees.
    for (i, g) in gateways.iter().enumerate() {
        let chosen = sel.packets.iter().filter(|c| c.iface == i).count();
        let seen = rows.iter().filter(|r| r.iface == *g).count();
        assert_eq!(seen, chosen, "{test}: packets of {g}");
    }
    for w in rows.windows(2) {
        assert!(
            w[0].time <= w[1].time,
            "{test}: time goes back: {} then {}",
            w[0].time,
            w[1].time
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Some((sel, rows))
}

#[test]
fn situation_a_lost_message_never_arrived() {
    for ex in ["ike-blocked-ikev1", "ike-blocked-ikev2"] {
        let Some((_, rows)) = check(ex, &[example(ex)]) else {
            return;
        };
        assert!(
            rows.iter().any(|r| r.comment.contains("never arrived at sg2")),
            "{ex}: no lost message marked"
        );
        assert!(
            rows.iter()
                .any(|r| r.comment.contains("retransmission 1: left sg1, never arrived at sg2")),
            "{ex}: retransmissions not counted"
        );
        assert!(
            rows.iter().any(|r| r.comment.contains("evidence for ")),
            "{ex}: nothing cited"
        );
    }
    // The responder's host answers with ICMP port unreachable: shown, and cited.
    let Some((_, rows)) = check("responder-down-ikev2", &[example("responder-down-ikev2")]) else {
        return;
    };
    assert!(rows.iter().any(|r| r.comment.starts_with("ICMP port unreachable")
        && r.comment.contains("evidence for responder-not-listening")));
    assert!(rows.iter().any(|r| r
        .comment
        .starts_with("IKE_SA_INIT request msgid 0: left sg1, arrived at sg2, never answered")));
}

#[test]
fn situation_b_ip_fragments_and_ikev1_names() {
    let Some((sel, rows)) = check("frag-dropped-ikev2", &[example("frag-dropped-ikev2")]) else {
        return;
    };
    assert!(sel.interfaces.len() == 2 && rows.iter().any(|r| r.iface == "sg2"));
    assert!(
        rows.iter()
            .any(|r| r.comment.contains("IP fragment") && r.comment.contains("this fragment never arrived at sg2")),
        "the dropped fragment is not marked"
    );
    let Some((_, rows)) = check("psk-mismatch-ikev1", &[example("psk-mismatch-ikev1")]) else {
        return;
    };
    for label in [
        "MI1 (IKEv1 Main Mode)",
        "MR1 (IKEv1 Main Mode)",
        "MI3 (IKEv1 Main Mode, encrypted)",
    ] {
        assert!(rows.iter().any(|r| r.comment.starts_with(label)), "no {label}");
    }
}

#[test]
fn situations_c_d_and_healthy() {
    for ex in [
        "ts-mismatch-ikev2",
        "esp-one-way-ikev1",
        "esp-one-way-ikev2",
        "healthy-ikev2",
        "healthy-ikev1",
    ] {
        let Some((_, rows)) = check(ex, &[example(ex)]) else {
            return;
        };
        assert!(
            rows.iter().any(|r| r.comment.contains(": left sg1, arrived at sg2")),
            "{ex}"
        );
        if ex.starts_with("esp-one-way") {
            assert!(
                rows.iter().any(|r| r.comment.contains("sent, 0 arrived")),
                "{ex}: the lost ESP direction is not counted"
            );
        }
        if ex.starts_with("healthy") {
            assert!(rows.iter().any(|r| r.comment.starts_with("ESP SPI 0x")), "{ex}: no ESP");
        }
    }
}

#[test]
fn one_capture_only() {
    let dir = example("ike-blocked-ikev2");
    let mut paths = vec![dir.join("sg1.pcap")];
    paths.extend(common::files_with(&dir, &["log", "txt"]));
    let Some((sel, rows)) = check("one-capture", &paths) else {
        return;
    };
    assert_eq!(sel.interfaces.len(), 1);
    assert!(rows.iter().all(|r| r.iface == "sg1"));
}

#[test]
fn logs_only_writes_nothing() {
    let dir = example("psk-mismatch-ikev2");
    let paths = common::files_with(&dir, &["log", "txt"]);
    assert!(!paths.is_empty());
    let out_dir = scratch("logs-only");
    let file = out_dir.join("evidence.pcapng");
    let mut args: Vec<&Path> = vec![Path::new("--evidence"), &file];
    args.extend(paths.iter().map(|p| p.as_path()));
    let with = doctor(&args);
    let without = doctor(&paths.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    assert_eq!(with.status.code(), without.status.code());
    assert_eq!(with.stdout, without.stdout);
    assert!(String::from_utf8_lossy(&with.stderr).contains("no packets to write"));
    assert!(!file.exists());
    let _ = std::fs::remove_dir_all(&out_dir);
}

#[test]
fn capture_cut_short() {
    let src = example("frag-dropped-ikev2");
    let dir = scratch("cut-input");
    let whole = std::fs::read(src.join("sg2.pcap")).unwrap();
    // Cut in the middle of a record, two thirds in.
    std::fs::write(dir.join("sg2.pcap"), &whole[..whole.len() * 2 / 3 + 7]).unwrap();
    std::fs::copy(src.join("sg1.pcap"), dir.join("sg1.pcap")).unwrap();
    let Some((sel, _)) = check("cut", &[dir.join("sg1.pcap"), dir.join("sg2.pcap")]) else {
        return;
    };
    assert_eq!(sel.interfaces.len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bounded() {
    for ex in common::example_dirs() {
        let sel = selection(std::slice::from_ref(&ex));
        assert!(sel.packets.len() <= evidence_pcapng::MAX_PACKETS, "{}", ex.display());
        assert!(sel.packets.iter().all(|c| !c.comment.is_empty()), "{}", ex.display());
    }
}
