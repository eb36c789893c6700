//! `diagnose --json` output, for every example and for the unusable-input and usage errors,
//! validates against the published schema (docs/diagnose.schema.json); the schema and
//! docs/causes.md name every cause id the code has.

use ipsec_doctor::diagnose::Cause;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ipsec-doctor");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn schema() -> Value {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/diagnose.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&schema()).expect("the schema is a valid JSON Schema")
}

/// Runs `diagnose --json ARGS`; returns the parsed output and the exit status.
fn diagnose(args: &[&str]) -> (Value, i32) {
    let out = Command::new(BIN)
        .args(["diagnose", "--json"])
        .args(args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (v, out.status.code().unwrap())
}

fn check(v: &jsonschema::Validator, what: &str, json: &Value) {
    let errors: Vec<String> = v
        .iter_errors(json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: does not match docs/diagnose.schema.json (update the schema and docs/json.md with the code):\n{}",
        errors.join("\n")
    );
}

fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    assert!(v.len() >= 40);
    v
}

#[test]
fn every_example_matches_the_schema() {
    let v = validator();
    for ex in examples() {
        let dir = ex.to_str().unwrap();
        let (json, status) = diagnose(&[dir]);
        check(&v, dir, &json);
        let want = match json["findings"][0]["cause"].as_str() {
            Some("healthy") => 0,
            Some("inconclusive") => 2,
            _ => 1,
        };
        assert_eq!(status, want, "{dir}");
        // One capture alone: the other side's counts are unknown (null), and that matches too.
        let sg1 = ex.join("sg1.pcap");
        if sg1.exists() {
            let (json, _) = diagnose(&[sg1.to_str().unwrap()]);
            check(&v, sg1.to_str().unwrap(), &json);
        }
    }
}

#[test]
fn timestamps_have_a_date_and_counts_are_zero_when_captured() {
    let ex = Path::new(ROOT).join("examples/esp-blocked-ikev2");
    let (json, _) = diagnose(&[ex.to_str().unwrap()]);
    let ev = &json["findings"][0]["evidence"];
    assert!(ev.as_array().is_some_and(|a| !a.is_empty()), "{json}");
    for e in ev.as_array().unwrap() {
        let ts = e["timestamp"].as_str().unwrap_or_else(|| panic!("no timestamp: {e}"));
        // The time of day of the old field, on a date.
        let time = e["time"].as_str().unwrap();
        assert!(
            ts.starts_with("20") && ts[10..].starts_with('T') && ts[11..].starts_with(time),
            "{ts} {time}"
        );
    }
    // Both captures are there: ESP that never arrived counts 0, not null.
    let flows = json["esp_flows"].as_array().unwrap();
    assert!(flows.iter().any(|f| f["arrived_packets"] == 0), "{flows:?}");
    assert!(flows
        .iter()
        .all(|f| !f["arrived_packets"].is_null() && !f["sent_packets"].is_null()));
    assert!(json["clock_offset_s"].is_number(), "{json}");
    // One capture alone: whether it arrived is unknown.
    let (json, _) = diagnose(&[ex.join("sg1.pcap").to_str().unwrap()]);
    let flows = json["esp_flows"].as_array().unwrap();
    assert!(flows.iter().any(|f| f["arrived_packets"].is_null()), "{flows:?}");
}

#[test]
fn errors_are_objects_on_stdout_with_exit_2() {
    let v = validator();
    let dir = std::env::temp_dir().join(format!("ipsec-doctor-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "nothing to see here\n").unwrap();
    let cases: [&[&str]; 4] = [
        &[notes.to_str().unwrap()],
        &["/nonexistent/sg1.pcap"],
        &["--side", "no-equals-sign"],
        &["--no-such-flag", "x"],
    ];
    for args in cases {
        let (json, status) = diagnose(args);
        assert_eq!(status, 2, "{args:?}: {json}");
        check(&v, &format!("{args:?}"), &json);
        assert!(
            json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{json}"
        );
    }
    let (json, _) = diagnose(&[notes.to_str().unwrap()]);
    assert!(
        json["error"]["problems"][0].as_str().unwrap().contains("notes.txt"),
        "{json}"
    );
}

#[test]
fn the_schema_rejects_what_it_should() {
    let v = validator();
    let ex = Path::new(ROOT).join("examples/psk-mismatch-ikev1");
    let (good, _) = diagnose(&[ex.to_str().unwrap()]);
    assert!(v.is_valid(&good));
    let mut bad = good.clone();
    bad["findings"][0]["cause"] = "no-such-cause".into();
    assert!(!v.is_valid(&bad), "an unknown cause id");
    let mut bad = good.clone();
    bad["findings"][0]["evidence"][0]["timestamp"] = "06:06:43.781826".into();
    assert!(!v.is_valid(&bad), "a time without its date");
    let mut bad = good.clone();
    bad["findings"][0]["undocumented"] = 1.into();
    assert!(!v.is_valid(&bad), "a field the schema does not describe");
    let mut bad = good;
    bad.as_object_mut().unwrap().remove("findings");
    assert!(!v.is_valid(&bad), "no findings");
}

#[test]
fn schema_and_docs_name_every_cause() {
    let s = schema();
    let ids: Vec<&str> = s["$defs"]["finding"]["properties"]["cause"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let code: Vec<&str> = Cause::ALL.iter().map(|c| c.id()).collect();
    assert_eq!(
        ids, code,
        "docs/diagnose.schema.json's cause enum and src/diagnose/cause.rs differ"
    );
    let causes = std::fs::read_to_string(Path::new(ROOT).join("docs/causes.md")).unwrap();
    for c in Cause::ALL {
        let heading = format!("### `{}`", c.id());
        assert!(causes.contains(&heading), "docs/causes.md has no section {heading}");
        let situation = c.situation();
        let in_table = causes.lines().any(|l| {
            l.starts_with('|') && l.contains(&format!("`{}`", c.id())) && l.contains(&format!("| {situation} |"))
        });
        assert!(
            in_table,
            "docs/causes.md's table lacks `{}` with situation {situation}",
            c.id()
        );
    }
    let json_md = std::fs::read_to_string(Path::new(ROOT).join("docs/json.md")).unwrap();
    for field in [
        "findings",
        "timestamp",
        "clock_offset_s",
        "arrived_packets",
        "sent_packets",
        "\"error\"",
        "problems",
        "skipped",
    ] {
        assert!(json_md.contains(field), "docs/json.md does not mention {field}");
    }
}

#[test]
fn ike_messages_say_whether_they_arrived() {
    // Blocked on the path: every IKE_SA_INIT sg1 sent is missing from sg2's capture, and the
    // repeats are marked as retransmissions. With both captures of a PSK mismatch, everything
    // sent arrived.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let (blocked, _) = diagnose(&[root.join("ike-blocked-ikev2").to_str().unwrap()]);
    let packets = blocked["ike_sas"][0]["packets"].as_array().expect("packets");
    assert!(packets.len() > 1);
    assert!(packets
        .iter()
        .all(|p| p["arrived"] == Value::Bool(false) && p["sender"] == "sg1"));
    assert!(packets[1..].iter().all(|p| p["retransmission"] == Value::Bool(true)));
    let (psk, _) = diagnose(&[root.join("psk-mismatch-ikev2").to_str().unwrap()]);
    let all: Vec<&Value> = psk["ike_sas"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["packets"].as_array().unwrap())
        .collect();
    assert!(!all.is_empty());
    assert!(all.iter().all(|p| p["arrived"] == Value::Bool(true)), "{all:?}");
    // One capture alone: what sg1 sent cannot be said to have arrived; what it received did.
    let (one, _) = diagnose(&[root.join("psk-mismatch-ikev2/sg1.pcap").to_str().unwrap()]);
    let packets = one["ike_sas"][0]["packets"].as_array().unwrap();
    for p in packets {
        let sent_here = p["from"].as_str().unwrap().starts_with("192.0.2.1:");
        let want = if sent_here { Value::Null } else { Value::Bool(true) };
        assert_eq!(p["arrived"], want, "{p}");
    }
    assert!(packets.iter().any(|p| p["arrived"].is_null()));
}
