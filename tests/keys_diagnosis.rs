//! Diagnosis from captures and keys alone, no log evidence: the lab's recordings made with
//! their keys (scenario.conf `KEYS=yes`), each with a known injected fault. The key sources are
//! the recordings' own files (charon level-4 and pluto private logs given with `--keys`, so read
//! for their keys only; xfrm dumps; save-keys' Wireshark tables).

use ipsec_doctor::keys;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ipsec-doctor");

fn conf(dir: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("scenario.conf")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim_matches('"').to_string())
}

/// The captures and the files that hold keys, of one recording.
fn inputs(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut caps = Vec::new();
    let mut keyfiles = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".pcap") || name.ends_with(".pcapng") {
            caps.push(f);
        } else if name != "scenario.conf" && keys::load(&f).is_ok_and(|l| !l.keys.is_empty()) {
            keyfiles.push(f);
        }
    }
    (caps, keyfiles)
}

fn diagnose(caps: &[PathBuf], keyfiles: &[PathBuf]) -> Value {
    let mut c = Command::new(BIN);
    c.arg("diagnose").arg("--json").args(caps);
    for k in keyfiles {
        c.arg("--keys").arg(k);
    }
    let out = c.output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn decrypted_ike(v: &Value) -> usize {
    v["ike_sas"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|sa| sa["packets"].as_array().into_iter().flatten())
        .filter(|p| p.get("decrypted").is_some())
        .count()
}

#[test]
fn keys_and_captures_name_the_injected_fault() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let (mut checked, mut opened, mut wrong) = (0, 0, Vec::new());
    for dir in dirs {
        if conf(&dir, "KEYS").as_deref() != Some("yes") || conf(&dir, "IKE").as_deref() != Some("2") {
            continue;
        }
        let (caps, keyfiles) = inputs(&dir);
        if keyfiles.is_empty() {
            continue; // Libreswan logs no IKE keys for an SA that never authenticates
        }
        let expected = conf(&dir, "EXPECTED_CAUSE").unwrap();
        let v = diagnose(&caps, &keyfiles);
        let cause = v["findings"][0]["cause"].as_str().unwrap_or("").to_string();
        // From packets, a wrong PSK and a peer ID the responder does not expect give the same
        // AUTHENTICATION_FAILED: the finding must say both.
        let ok = if expected == "id-mismatch" && cause == "auth-failed" {
            v["findings"][0]["summary"].as_str().unwrap_or("").contains("ID")
        } else {
            cause == expected
        };
        if !ok {
            wrong.push(format!("{}: expected {expected}, got {cause}", dir.display()));
        }
        checked += 1;
        // The verdicts rest on decrypted packets (Libreswan's AEAD IKE keys come without their
        // salt: those recordings have only ESP keys).
        if decrypted_ike(&v) > 0 {
            opened += 1;
        }
    }
    assert!(checked >= 20, "only {checked} recordings with keys");
    assert!(opened * 4 >= checked * 3, "IKE opened in only {opened} of {checked}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A key that does not fit is reported as such, on every packet it was given for, and the
/// verdict does not rest on what it would have opened.
#[test]
fn wrong_keys_are_reported_not_guessed_around() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/healthy-keys-sw6-ikev2");
    let (caps, keyfiles) = inputs(&dir);
    let tmp = std::env::temp_dir().join(format!("ipsec-doctor-wrong-keys-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut bad = Vec::new();
    for k in keyfiles.iter().filter(|k| {
        let n = k.file_name().unwrap().to_string_lossy();
        n.ends_with("esp_sa") || n.ends_with("ikev2_decryption_table")
    }) {
        // Every key's first hex digit changed (fields of 16 bytes or more: not the SPIs): the
        // same SAs, wrong keys.
        let text = std::fs::read_to_string(k).unwrap();
        let flip = |field: &str| -> String {
            let bare = field.trim_matches('"');
            let hex = bare.strip_prefix("0x").unwrap_or(bare);
            if hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return field.to_string();
            }
            let at = field.find(hex).unwrap();
            let c = if hex.starts_with('0') { "1" } else { "0" };
            format!("{}{c}{}", &field[..at], &field[at + 1..])
        };
        let flipped: String = text
            .lines()
            .map(|l| l.split(',').map(flip).collect::<Vec<_>>().join(",") + "\n")
            .collect();
        let out = tmp.join(k.file_name().unwrap());
        std::fs::write(&out, flipped).unwrap();
        bad.push(out);
    }
    assert!(bad.len() >= 2, "no Wireshark tables in {}", dir.display());
    let v = diagnose(&caps, &bad);
    let flows: Vec<&Value> = v["esp_flows"].as_array().unwrap().iter().collect();
    assert!(!flows.is_empty());
    for f in flows {
        let d = &f["decrypted"];
        assert_eq!(d["opened"].as_u64(), Some(0), "{f}");
        assert!(d["failed"].as_u64().unwrap() > 0, "{f}");
        assert!(
            d["failure"].as_str().unwrap().contains("wrong key or corrupted packet"),
            "{f}"
        );
    }
    assert_eq!(decrypted_ike(&v), 0);
    let not_opened = v["ike_sas"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|sa| sa["packets"].as_array().unwrap())
        .filter(|p| p["not_decrypted"].as_str().is_some_and(|w| w.contains("wrong key")))
        .count();
    assert!(not_opened > 0);
    // Healthy still, from what the packets show without the keys.
    assert_eq!(v["findings"][0]["cause"], "healthy");
    let _ = std::fs::remove_dir_all(&tmp);
}
