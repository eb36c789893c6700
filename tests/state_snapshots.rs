//! A bundle's state snapshots (`NAME-state-start.txt`, `NAME-state-end.txt`, role "state" in
//! manifest.json) are evidence: a DROP rule whose counter moved names the rule to remove.
//!
//! Honest about the inputs: the captures and logs are the recorded example
//! examples/ike-filtered-at-responder-ikev2 (lab run of 2026-11-28); the state snapshots in
//! tests/data/state/ are real `ipsec-doctor capture` output from a *different* live lab run of
//! the same scenario (2026-12-02, same topology, same fault: sg2's
//! `iptables -A INPUT -p udp --dport 500 -j DROP`). Their counters (11 packets) are that run's,
//! not the example's 7 packets; the bundle here is assembled from the two.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ipsec-doctor");
const RULE: &str = "-A INPUT -p udp -m udp --dport 500 -j DROP";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A bundle folder: the example's `files`, sg2's real state snapshots and a manifest listing
/// them as `ipsec-doctor capture` writes it.
fn bundle(test: &str, files: &[&str]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ipsec-doctor-state-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let ex = root().join("examples/ike-filtered-at-responder-ikev2");
    let mut listed = Vec::new();
    for f in files {
        std::fs::copy(ex.join(f), d.join(f)).unwrap();
        let role = if f.ends_with(".pcap") {
            "capture"
        } else if f.ends_with("-up.txt") {
            "up-output"
        } else {
            "log"
        };
        listed.push(serde_json::json!({"name": f, "gateway": &f[..3], "role": role}));
    }
    for phase in ["start", "end"] {
        let name = format!("sg2-state-{phase}.txt");
        std::fs::copy(
            root().join(format!("tests/data/state/ike-filtered-sg2-{phase}.txt")),
            d.join(&name),
        )
        .unwrap();
        listed.push(serde_json::json!({"name": name, "gateway": "sg2", "role": "state"}));
    }
    let manifest = serde_json::json!({
        "format": "ipsec-doctor bundle 1",
        "tool_version": "0.1.0",
        "files": listed,
    });
    std::fs::write(
        d.join("manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    d
}

fn diagnose_json(dir: &Path) -> Value {
    let out = Command::new(BIN)
        .args(["diagnose", "--json"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn rule_evidence(v: &Value) -> Vec<&Value> {
    v["findings"][0]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["text"].as_str().is_some_and(|t| t.contains(RULE)))
        .collect()
}

#[test]
fn drop_rule_that_counted_ike_is_evidence() {
    let d = bundle(
        "both",
        &["sg1.pcap", "sg2.pcap", "sg1-pluto.log", "sg1-up.txt", "sg2-pluto.log"],
    );
    let v = diagnose_json(&d);
    let f = &v["findings"][0];
    assert_eq!(f["cause"], "ike-filtered-at-responder", "{f:#}");
    let ev = rule_evidence(&v);
    assert_eq!(ev.len(), 1, "{f:#}");
    let e = ev[0];
    assert!(e["source"].as_str().unwrap().ends_with("sg2-state-end.txt"), "{e}");
    assert_eq!(e["line"], 223, "{e}");
    let text = e["text"].as_str().unwrap();
    assert!(text.starts_with("sg2: iptables filter INPUT rule"), "{text}");
    assert!(
        text.contains("dropped 11 packets (5148 bytes) during the capture"),
        "{text}"
    );
    // The first step is removing it.
    let advice = f["advice"][0].as_str().unwrap();
    assert!(
        advice.contains("iptables -t filter -D INPUT -p udp -m udp --dport 500 -j DROP"),
        "{advice}"
    );
    // iptables-nft lists the rule in nft's `ip filter` table too: named once.
    assert!(!f["evidence"].to_string().contains("nft ip filter"), "{f:#}");
    assert!(f["confidence"].as_f64().unwrap() >= 0.85, "{f:#}");
    let _ = std::fs::remove_dir_all(&d);
}

/// Without sg2's capture, the initiator's capture alone cannot tell A1 from A2 (the verdict is
/// a hedged ike-blocked-on-path); sg2's own counter shows the packets reached it and its
/// firewall dropped them.
#[test]
fn counter_tells_a1_from_a2_without_the_responders_capture() {
    let d = bundle(
        "sg1-only",
        &["sg1.pcap", "sg1-pluto.log", "sg1-up.txt", "sg2-pluto.log"],
    );
    let v = diagnose_json(&d);
    let f = &v["findings"][0];
    assert_eq!(f["cause"], "ike-filtered-at-responder", "{f:#}");
    assert_eq!(rule_evidence(&v).len(), 1, "{f:#}");
    // The same folder without the snapshots: A2, hedged.
    for phase in ["start", "end"] {
        std::fs::remove_file(d.join(format!("sg2-state-{phase}.txt"))).unwrap();
    }
    let m: Value = serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
    let mut m = m;
    m["files"].as_array_mut().unwrap().retain(|f| f["role"] != "state");
    std::fs::write(d.join("manifest.json"), m.to_string()).unwrap();
    let v = diagnose_json(&d);
    assert_eq!(
        v["findings"][0]["cause"], "ike-blocked-on-path",
        "{:#}",
        v["findings"][0]
    );
    let _ = std::fs::remove_dir_all(&d);
}
