//! What each capture can and cannot show, on captures made the way users make them wrong: the
//! recorded examples re-filtered with tcpdump (the write-up's `udp port 500 or udp port 4500`,
//! `icmp`, `src host`, `dst host`, `-c N`) and cut with editcap (`-s 100`, a time window), and
//! three captures at once. Each case checks the report's words, the JSON `captures[]` facts and
//! the exit status; every `--json` output is also validated against the published schema.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ipsec-doctor");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const TCPDUMP: &str = "/usr/bin/tcpdump";

fn example(name: &str) -> PathBuf {
    Path::new(ROOT).join("examples").join(name)
}

/// A fresh scratch folder for one test.
fn scratch(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ipsec-doctor-blind-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The tool at `path`, if installed (a test skips with a message when not).
fn tool(path: &str) -> Option<&str> {
    if Path::new(path).exists() {
        Some(path)
    } else {
        assert!(std::env::var_os("CI").is_none(), "CI must install {path}");
        eprintln!("skipped: {path} is not installed");
        None
    }
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `tcpdump -r IN -w OUT [-c N] FILTER`.
fn refilter(input: &Path, output: &Path, filter: &str, count: Option<u32>) {
    let mut args = vec![
        "-r".to_string(),
        input.display().to_string(),
        "-w".into(),
        output.display().to_string(),
    ];
    if let Some(n) = count {
        args.extend(["-c".into(), n.to_string()]);
    }
    if !filter.is_empty() {
        args.push(filter.into());
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    run(TCPDUMP, &a);
}

/// The text report, unwrapped (one line per paragraph).
fn diagnose(args: &[&Path]) -> Output {
    Command::new(BIN)
        .env("COLUMNS", "1000")
        .arg("diagnose")
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `diagnose --json`, validated against docs/diagnose.schema.json; the output and exit status.
fn json(args: &[&Path]) -> (Value, i32) {
    let o = Command::new(BIN)
        .args(["diagnose", "--json"])
        .args(args)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)));
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(ROOT).join("docs/diagnose.schema.json")).unwrap())
            .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{args:?}: schema: {errors:?}");
    (v, o.status.code().unwrap())
}

/// The `captures[]` entry of the file named `name` (its last path component).
fn capture<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["captures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["file"].as_str().is_some_and(|f| f.ends_with(&format!("/{name}"))))
        .unwrap_or_else(|| panic!("no capture {name} in {:#}", v["captures"]))
}

/// The blind spots of kind `kind` in a `captures[]` entry.
fn spots<'a>(c: &'a Value, kind: &str) -> Vec<&'a Value> {
    c["blind_spots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["kind"] == kind)
        .collect()
}

fn first(v: &Value) -> (&str, f64, &str) {
    let f = &v["findings"][0];
    (
        f["cause"].as_str().unwrap(),
        f["confidence"].as_f64().unwrap(),
        f["summary"].as_str().unwrap(),
    )
}

#[test]
fn a_filter_that_drops_non_first_fragments_is_named() {
    if tool(TCPDUMP).is_none() {
        return;
    }
    for ex in ["frag-dropped-ikev1", "frag-dropped-ikev2"] {
        let d = scratch(&format!("frag-{ex}"));
        for gw in ["sg1", "sg2"] {
            refilter(
                &example(ex).join(format!("{gw}.pcap")),
                &d.join(format!("{gw}.pcap")),
                "udp port 500 or udp port 4500",
                None,
            );
        }
        let (v, status) = json(&[&d]);
        assert_eq!(status, 1, "{ex}");
        // The sender captured its own datagrams: only the filter can have dropped the rest.
        let sg1 = spots(capture(&v, "sg1.pcap"), "only-first-fragments");
        assert_eq!(sg1.len(), 1, "{ex}: {:#}", v["captures"]);
        let t = sg1[0]["text"].as_str().unwrap();
        assert!(t.contains("sg1 sent itself") && t.contains("udp port 500"), "{ex}: {t}");
        assert_eq!(first(&v).0, "ike-fragments-dropped", "{ex}");
        let o = diagnose(&[&d]);
        let s = text(&o);
        assert!(
            s.starts_with("inputs:\n"),
            "{ex}: the report opens with the inputs:\n{s}"
        );
        assert!(
            s.contains("cannot show: holds only the first IP fragment"),
            "{ex}:\n{s}"
        );
        assert_eq!(o.status.code(), Some(1));
        // The unfiltered example has every fragment: no such blind spot at the sender.
        let (v, _) = json(&[&example(ex)]);
        assert!(
            spots(capture(&v, "sg1.pcap"), "only-first-fragments").is_empty(),
            "{ex}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[test]
fn a_capture_without_ipsec_next_to_a_healthy_one_is_named_and_left_out() {
    if tool(TCPDUMP).is_none() {
        return;
    }
    let ex = example("healthy-ikev2");
    let d = scratch("icmp");
    // sg2's "capture" holds only pings (the inner hosts' ICMP, as `icmp` keeps them).
    refilter(&ex.join("sg2-int.pcap"), &d.join("sg2.pcap"), "icmp", None);
    std::fs::copy(ex.join("sg1.pcap"), d.join("sg1.pcap")).unwrap();
    let (v, status) = json(&[&d]);
    let sg2 = capture(&v, "sg2.pcap");
    assert_eq!(sg2["role"], "left-out", "{sg2:#}");
    assert_eq!(
        (sg2["ike_messages"].as_u64(), sg2["esp_packets"].as_u64()),
        (Some(0), Some(0))
    );
    let no = spots(sg2, "no-ipsec");
    assert!(no.len() == 1 && no[0]["lowers_confidence"] == true, "{sg2:#}");
    let (cause, _, _) = first(&v);
    assert_ne!(cause, "esp-blocked", "a capture of pings must not read as ESP lost");
    // What is left is one capture: sg1's ESP is seen leaving, not arriving, so it cannot be
    // called healthy (it could be one-way); it says the peer's capture is needed.
    assert_eq!((cause, status), ("inconclusive", 2));
    assert!(first(&v).2.contains("needs the peer's capture"), "{:?}", first(&v));
    assert!(
        v["problems"].as_array().unwrap().iter().any(|p| p
            .as_str()
            .unwrap()
            .contains("sg2.pcap: left out of the diagnosis: no IKE or ESP")),
        "{:#}",
        v["problems"]
    );
    let s = text(&diagnose(&[&d]));
    assert!(s.contains("sg2.pcap → sg2 (file name prefix, left out)"), "{s}");
    assert!(
        s.contains("while sg1.pcap shows 5 IKE/ESP packets arriving from sg2"),
        "{s}"
    );

    // The pings alone, no logs: inconclusive (exit 2), saying what the capture holds.
    let alone = d.join("sg2.pcap");
    let o = diagnose(&[&alone]);
    let s = text(&o);
    assert_eq!(o.status.code(), Some(2), "{s}");
    assert!(
        s.contains("sg2.pcap → sg2 (file name prefix): 6 packets: 0 IKE, 0 ESP"),
        "{s}"
    );
    assert!(s.contains("cannot show: no IKE or ESP among its 6 packets"), "{s}");
    assert!(s.contains("inconclusive"), "{s}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn one_direction_only_lowers_the_confidence_and_says_so() {
    if tool(TCPDUMP).is_none() {
        return;
    }
    let ex = example("healthy-ikev2");
    let (whole, _) = json(&[&ex]);
    assert_eq!(first(&whole).0, "healthy");
    for (filter, words) in [
        ("src host 192.0.2.1", "holds only packets sg1 sent"),
        ("dst host 192.0.2.1", "holds only packets sg1 received"),
    ] {
        let d = scratch(&format!("dir-{}", filter.split(' ').next().unwrap()));
        refilter(&ex.join("sg1.pcap"), &d.join("sg1.pcap"), filter, None);
        std::fs::copy(ex.join("sg2.pcap"), d.join("sg2.pcap")).unwrap();
        let (v, status) = json(&[&d]);
        let sg1 = capture(&v, "sg1.pcap");
        let one = spots(sg1, "one-direction");
        assert_eq!(one.len(), 1, "{filter}: {sg1:#}");
        assert!(one[0]["text"].as_str().unwrap().contains(words), "{filter}: {one:?}");
        assert_eq!(one[0]["lowers_confidence"], true);
        // The other capture saw both directions.
        assert!(spots(capture(&v, "sg2.pcap"), "one-direction").is_empty());
        let (cause, conf, summary) = first(&v);
        assert!(conf <= 0.55, "{filter}: {cause} at {conf} from a one-way capture");
        assert!(
            summary.contains("sg1.pcap holds one direction only"),
            "{filter}: {summary}"
        );
        let advice = v["findings"][0]["advice"].as_array().unwrap();
        assert!(
            advice
                .iter()
                .any(|a| a.as_str().unwrap().contains("capture again on sg1")),
            "{advice:?}"
        );
        assert!(status == 0 || status == 1, "{filter}: exit {status}");
        let _ = std::fs::remove_dir_all(&d);
    }
    // A capture that only ever sent because nothing came back is evidence, not a blind spot.
    let (v, status) = json(&[&example("ike-blocked-ikev2")]);
    assert!(spots(capture(&v, "sg1.pcap"), "one-direction").is_empty());
    assert_eq!((first(&v).0, status), ("ike-blocked-on-path", 1));
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` for editcap, `secs` after the first packet of `pcap`.
fn editcap_time(pcap: &Path, secs: f64) -> String {
    let out = Command::new(TCPDUMP)
        .args(["-n", "-tt", "-c", "1", "-r"])
        .arg(pcap)
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let t: f64 = line.split_whitespace().next().unwrap().parse().unwrap();
    let us = ((t + secs) * 1e6).round() as i64;
    let ts = jiff::Timestamp::from_microsecond(us).unwrap();
    ts.strftime("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

#[test]
fn captures_that_do_not_overlap_in_time_are_named() {
    let (Some(_), Some(editcap)) = (tool(TCPDUMP), tool("/usr/bin/editcap")) else {
        return;
    };
    let ex = example("psk-mismatch-ikev1");
    let d = scratch("overlap");
    // sg1's capture stopped after two packets (-c 2); sg2's started 5 s after sg1's first one.
    refilter(&ex.join("sg1.pcap"), &d.join("sg1.pcap"), "", Some(2));
    let start = editcap_time(&ex.join("sg2.pcap"), 5.0);
    run(
        editcap,
        &[
            "-A",
            &start,
            ex.join("sg2.pcap").to_str().unwrap(),
            d.join("sg2.pcap").to_str().unwrap(),
        ],
    );
    let (v, status) = json(&[&d]);
    for gw in ["sg1.pcap", "sg2.pcap"] {
        let no = spots(capture(&v, gw), "no-overlap");
        assert_eq!(no.len(), 1, "{gw}: {:#}", v["captures"]);
        assert!(no[0]["text"].as_str().unwrap().contains("does not overlap"));
    }
    let (cause, conf, summary) = first(&v);
    assert!(conf <= 0.5, "{cause} at {conf} from captures that never overlap");
    assert!(summary.contains("do not overlap in time"), "{summary}");
    assert!(status == 1 || status == 2, "exit {status}");
    let s = text(&diagnose(&[&d]));
    assert!(s.contains("cannot show: does not overlap sg2.pcap in time"), "{s}");
    // The recorded captures overlap.
    let (v, _) = json(&[&ex]);
    assert!(spots(capture(&v, "sg1.pcap"), "no-overlap").is_empty());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_gap_in_time_is_named_when_the_peer_shows_what_was_missed() {
    let (Some(_), Some(editcap), Some(mergecap)) = (tool(TCPDUMP), tool("/usr/bin/editcap"), tool("/usr/bin/mergecap"))
    else {
        return;
    };
    let ex = example("psk-mismatch-ikev1");
    let d = scratch("gap");
    // sg2's capture misses 0.7 s to 6.2 s after its start (the responder's MR2 retransmissions
    // that sg1's capture shows arriving).
    let sg2 = ex.join("sg2.pcap");
    let (a, b) = (d.join("a.pcap"), d.join("b.pcap"));
    let until = editcap_time(&sg2, 0.7);
    let from = editcap_time(&sg2, 6.2);
    run(editcap, &["-B", &until, sg2.to_str().unwrap(), a.to_str().unwrap()]);
    run(editcap, &["-A", &from, sg2.to_str().unwrap(), b.to_str().unwrap()]);
    run(
        mergecap,
        &[
            "-F",
            "pcap",
            "-w",
            d.join("sg2.pcap").to_str().unwrap(),
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
    );
    std::fs::remove_file(&a).unwrap();
    std::fs::remove_file(&b).unwrap();
    std::fs::copy(ex.join("sg1.pcap"), d.join("sg1.pcap")).unwrap();
    let (v, status) = json(&[&d]);
    let gap = spots(capture(&v, "sg2.pcap"), "time-gap");
    assert_eq!(gap.len(), 1, "{:#}", v["captures"]);
    let t = gap[0]["text"].as_str().unwrap();
    assert!(
        t.contains("while sg1.pcap shows") && t.contains("arriving from sg2"),
        "{t}"
    );
    assert!(spots(capture(&v, "sg1.pcap"), "time-gap").is_empty());
    let (_, conf, summary) = first(&v);
    assert!(conf < 0.7, "{conf}");
    assert!(
        summary.contains("sg2.pcap misses packets its gateway sent"),
        "{summary}"
    );
    assert_eq!(status, 1);
    // The whole recording has long quiet stretches (retransmission back-off), none a gap.
    let (v, _) = json(&[&ex]);
    assert!(spots(capture(&v, "sg2.pcap"), "time-gap").is_empty());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_snap_length_that_cut_ike_is_named() {
    let Some(editcap) = tool("/usr/bin/editcap") else {
        return;
    };
    let ex = example("psk-mismatch-ikev2");
    let d = scratch("snap");
    for gw in ["sg1", "sg2"] {
        let (i, o) = (ex.join(format!("{gw}.pcap")), d.join(format!("{gw}.pcap")));
        run(editcap, &["-s", "100", i.to_str().unwrap(), o.to_str().unwrap()]);
    }
    let (whole, _) = json(&[&ex]);
    let (v, status) = json(&[&d]);
    let snap = spots(capture(&v, "sg1.pcap"), "snaplen");
    assert_eq!(snap.len(), 1, "{:#}", v["captures"]);
    let t = snap[0]["text"].as_str().unwrap();
    assert!(
        t.contains("(100 bytes) cut 8 IKE packet(s)") && t.contains("-s 0"),
        "{t}"
    );
    // Same cause, less sure, and said.
    assert_eq!(first(&v).0, first(&whole).0);
    assert!(first(&v).1 < first(&whole).1, "{} vs {}", first(&v).1, first(&whole).1);
    assert!(
        first(&v).2.contains("the snap length cut IKE packets"),
        "{}",
        first(&v).2
    );
    assert_eq!(status, 1);
    assert!(spots(capture(&whole, "sg1.pcap"), "snaplen").is_empty());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn three_gateways_get_a_clear_choice() {
    let d = scratch("three");
    for (ex, from, to) in [
        ("healthy-ikev2", "sg1.pcap", "sg1.pcap"),
        ("healthy-ikev2", "sg2.pcap", "sg2.pcap"),
        ("psk-mismatch-ikev2", "sg1.pcap", "sg3.pcap"),
    ] {
        std::fs::copy(example(ex).join(from), d.join(to)).unwrap();
    }
    let o = diagnose(&[&d]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(o.stdout.is_empty(), "no report from a guess");
    assert!(err.contains("captures from 3 gateways"), "{err}");
    for f in [
        "sg1.pcap: gateway 'sg1'",
        "sg2.pcap: gateway 'sg2'",
        "sg3.pcap: gateway 'sg3'",
    ] {
        assert!(err.contains(f), "{f}: {err}");
    }
    assert!(err.contains("ipsec-doctor diagnose --side sg1="), "{err}");
    let (v, status) = json(&[&d]);
    assert_eq!(status, 2);
    assert!(v["error"]["message"].as_str().unwrap().contains("--side"));
    assert_eq!(
        v["error"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p.as_str().unwrap().contains(": gateway '"))
            .count(),
        3
    );
    // Choosing two with --side works, and the report says why each went where.
    let (a, b) = (d.join("sg1.pcap"), d.join("sg2.pcap"));
    let o = Command::new(BIN)
        .env("COLUMNS", "1000")
        .arg("diagnose")
        .arg(format!("--side=sg1={}", a.display()))
        .arg(format!("--side=sg2={}", b.display()))
        .output()
        .unwrap();
    let s = text(&o);
    assert_eq!(o.status.code(), Some(0), "{s}");
    assert!(
        s.contains("sg1.pcap → sg1 (--side)") && s.contains("sg2.pcap → sg2 (--side)"),
        "{s}"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_recorded_examples_have_no_blind_spot_that_lowers_confidence() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("scenario.conf").exists())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 40);
    for d in dirs {
        let (v, _) = json(&[&d]);
        let caps = v["captures"].as_array().unwrap();
        assert!(!caps.is_empty(), "{}", d.display());
        for c in caps {
            assert_eq!(c["assigned_by"], "file name prefix", "{}", d.display());
            assert!(
                c["blind_spots"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|b| b["lowers_confidence"] == false),
                "{}: {c:#}",
                d.display()
            );
        }
    }
}
