//! Byte-for-byte conformance with Debian's tcpdump 4.99.3 on public IPsec captures.
//!
//! Expected text comes from the real tool (tests/data/regen-expected.sh). Every packet that our
//! printer puts under the IPsec bar (IKE, NAT-T, ESP, AH, non-first fragments) must match its
//! tcpdump block exactly; and every tcpdump block that shows IKE, ESP or AH must be one we put
//! under that bar, so a misclassified packet cannot slip out of the comparison.

use flate2::read::GzDecoder;
use ipsec_doctor::print::packet::{Class, Options, Printer};
use ipsec_doctor::print::time::TimeFormat;
use ipsec_doctor::print::Out;
use ipsec_doctor::source::CaptureReader;
use std::fs::File;
use std::io::Read;
use std::path::Path;

fn data() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"))
}

fn parse_flags(flags: &str) -> Options {
    let mut o = Options {
        number: true,
        time: TimeFormat::DateLocal,
        ..Default::default()
    };
    let mut t = 0;
    for f in flags.split_whitespace() {
        if let Some(rest) = f.strip_prefix('-') {
            for c in rest.chars() {
                match c {
                    'v' => o.vflag += 1,
                    'e' => o.eflag = true,
                    't' => t += 1,
                    _ => {}
                }
            }
        }
    }
    // The harness adds -tttt unless the flags choose a time format themselves.
    if t > 0 {
        o.time = TimeFormat::from_count(t);
    }
    o
}

/// Splits `-#` output into one block of text per packet.
fn blocks(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.split_inclusive('\n') {
        let next = format!("{:5}  ", out.len() + 1);
        if line.starts_with(&next) || out.is_empty() {
            out.push(line.to_string());
        } else {
            out.last_mut().unwrap().push_str(line);
        }
    }
    for b in &mut out {
        if b.ends_with('\n') {
            b.pop();
        }
    }
    out
}

fn shows_ipsec(block: &str) -> bool {
    ["isakmp", "ESP(", "AH(", "NONESP-encap", "UDP-encap"]
        .iter()
        .any(|k| block.contains(k))
}

/// The line through the last ESP header and its `: `.
fn decrypted_prefix(line: &str) -> Option<&str> {
    let esp = line.rfind("ESP(")?;
    let colon = line[esp..].find(": ")?;
    Some(&line[..esp + colon + 2])
}

#[derive(Default)]
struct Tally {
    identical: usize,
    identical_through_ah: usize,
    failures: Vec<String>,
}

fn run_case(id: &str, capture: &Path, flags: &str, expected: &Path, t: &mut Tally) {
    let mut text = String::new();
    GzDecoder::new(File::open(expected).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    compare(id, capture, flags, &text, t);
}

fn compare(id: &str, capture: &Path, flags: &str, text: &str, t: &mut Tally) {
    compare_with(id, capture, flags, None, text, t)
}

fn compare_with(id: &str, capture: &Path, flags: &str, esp: Option<&str>, text: &str, t: &mut Tally) {
    let want = blocks(text);
    let opts = parse_flags(flags);
    let bytes = std::fs::read(capture).unwrap();
    let mut reader = match CaptureReader::new(&bytes[..]) {
        Ok(r) => r,
        Err(e) => {
            if !want.is_empty() {
                t.failures.push(format!(
                    "{id}: we could not open the capture ({e}), tcpdump printed {} packets",
                    want.len()
                ));
            }
            return;
        }
    };
    let mut printer = Printer::new(opts);
    if let Some(spec) = esp {
        printer.set_esp(ipsec_doctor::print::esp::parse(spec).unwrap().0);
    }
    let mut out = Out::new(opts.vflag, opts.eflag);
    let mut n = 0;
    while let Some(Ok(frame)) = reader.next_frame() {
        let class = printer.print(&frame, &mut out);
        let ours = out.as_str();
        let Some(theirs) = want.get(n) else {
            t.failures
                .push(format!("{id}: packet {} printed by us, not by tcpdump", n + 1));
            return;
        };
        n += 1;
        match class {
            Class::Ipsec if ours == theirs => t.identical += 1,
            // AH around a protocol we do not print (OSPF, ICMPv6): compare through the AH header.
            Class::Ipsec if ours.ends_with("): ") && ours.contains("AH(") && theirs.starts_with(ours) => {
                t.identical_through_ah += 1
            }
            Class::Ipsec => t
                .failures
                .push(format!("{id} packet {n}:\n  tcpdump: {theirs}\n  ours:    {ours}")),
            // A decrypted protocol we do not print (wrong-key garbage that reads as GRE, say):
            // compare through the ESP header.
            Class::Other
                if esp.is_some()
                    && shows_ipsec(theirs)
                    && decrypted_prefix(ours).is_some_and(|p| theirs.starts_with(p)) =>
            {
                t.identical_through_ah += 1
            }
            Class::Other if shows_ipsec(theirs) => t.failures.push(format!(
                "{id} packet {n}: tcpdump shows IPsec but we classified it as other:\n  {theirs}"
            )),
            Class::Other => {}
        }
    }
    if n != want.len() {
        t.failures
            .push(format!("{id}: we printed {n} packets, tcpdump {}", want.len()));
    }
}

#[test]
fn tcpdump_conformance() {
    // Expected text was produced with TZ=GMT0; the printer reads TZ like tcpdump.
    std::env::set_var("TZ", "GMT0");
    let manifest = std::fs::read_to_string(data().join("conformance.tsv")).unwrap();
    let mut t = Tally::default();
    let mut cases = 0;
    for row in manifest.lines().skip(1) {
        let f: Vec<&str> = row.split('\t').collect();
        let [id, capture, flags, expected] = f[..] else {
            panic!("bad manifest row {row}")
        };
        run_case(
            id,
            &data().join("corpus").join(capture),
            flags,
            &data().join(expected),
            &mut t,
        );
        cases += 1;
    }
    eprintln!(
        "conformance: {cases} cases, {} IPsec packets identical, {} identical through the AH header, {} differences",
        t.identical,
        t.identical_through_ah,
        t.failures.len()
    );
    for f in t.failures.iter().take(40) {
        eprintln!("{f}");
    }
    assert!(
        t.failures.is_empty(),
        "{} packets differ from tcpdump 4.99.3",
        t.failures.len()
    );
    assert!(t.identical > 1000, "suspiciously few packets compared: {}", t.identical);
}

/// The lab's recordings (real Libreswan and strongSwan traffic) and the fuzzers' regression
/// inputs against the installed tcpdump, run now: the recordings are re-made by lab/record, so
/// their expected text is not stored.
#[test]
fn lab_examples_match_live_tcpdump() {
    let tcpdump = Path::new("/usr/bin/tcpdump");
    if !tcpdump.exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must install tcpdump");
        eprintln!("skipped: no /usr/bin/tcpdump");
        return;
    }
    let version = std::process::Command::new(tcpdump).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).into_owned() + &String::from_utf8_lossy(&version.stderr);
    if !version.contains("4.99.3") {
        eprintln!(
            "skipped: the bar is tcpdump 4.99.3, found {}",
            version.lines().next().unwrap_or("")
        );
        return;
    }
    std::env::set_var("TZ", "GMT0");
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"));
    let mut caps: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|d| d.is_dir())
        .flat_map(|d| std::fs::read_dir(d).unwrap().filter_map(|e| e.ok().map(|e| e.path())))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    // Inputs the fuzzers found, kept as regressions, and a lab capture re-wrapped in every link
    // layer we decode (tests/data/make-linktypes.py).
    for dir in ["fuzz-regressions", "linktypes"] {
        let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(dir);
        caps.extend(std::fs::read_dir(d).unwrap().filter_map(|e| e.ok().map(|e| e.path())));
    }
    caps.sort();
    let mut t = Tally::default();
    for cap in &caps {
        for flags in ["", "-v", "-vv", "-e -t", "-vvv -tt", "-ttt", "-vvvv -ttttt", "-e -v"] {
            let mut cmd = std::process::Command::new(tcpdump);
            cmd.env("TZ", "GMT0").args(["-#", "-n"]);
            if !flags.contains('t') {
                cmd.arg("-tttt");
            }
            cmd.args(flags.split_whitespace());
            let out = cmd.arg("-r").arg(cap).output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            compare(&format!("{} {flags}", cap.display()), cap, flags, &text, &mut t);
        }
    }
    eprintln!(
        "lab examples: {} captures, {} IPsec packets identical, {} differences",
        caps.len(),
        t.identical,
        t.failures.len()
    );
    for f in t.failures.iter().take(20) {
        eprintln!("{f}");
    }
    assert!(t.failures.is_empty());
    assert!(t.identical > 500, "too few packets compared: {}", t.identical);
}

/// tcpdump's own `-E` cases: every packet decrypted (or not) exactly as tcpdump 4.99.3 does, from
/// the expected text tcpdump's test suite stores (tests/data/decrypt, TZ=GMT0 `-# -n -tttt`), and
/// at more verbosities and with wrong keys against the installed tcpdump when it is 4.99.3.
#[test]
fn esp_decryption_matches_tcpdump() {
    std::env::set_var("TZ", "GMT0");
    let corpus = data().join("corpus/tcpdump");
    let secrets = format!("file {}", corpus.join("esp-secrets.txt").display());
    let cases: Vec<(&str, &str, String)> = vec![
        (
            "esp1",
            "02-sunrise-sunset-esp.pcap",
            "0x12345678@192.1.2.45 3des-cbc-hmac96:0x4043434545464649494a4a4c4c4f4f515152525454575758".into(),
        ),
        (
            "esp2",
            "08-sunrise-sunset-esp2.pcap",
            "0x12345678@192.1.2.45 3des-cbc-hmac96:0x43434545464649494a4a4c4c4f4f51515252545457575840,\
             0xabcdabcd@192.0.1.1 3des-cbc-hmac96:0x434545464649494a4a4c4c4f4f5151525254545757584043"
                .into(),
        ),
        (
            "esp1",
            "02-sunrise-sunset-esp.pcap",
            "3des-cbc-hmac96:0x4043434545464649494a4a4c4c4f4f515152525454575758".into(),
        ),
        ("esp2", "08-sunrise-sunset-esp2.pcap", secrets.clone()),
        ("esp5", "08-sunrise-sunset-aes.pcap", secrets.clone()),
        ("espudp1", "espudp1.pcap", secrets.clone()),
        ("isakmp4", "isakmp4500.pcap", secrets.clone()),
        (
            "ikev2pI2",
            "ikev2pI2.pcap",
            format!("file {}", corpus.join("ikev2pI2-secrets.txt").display()),
        ),
    ];
    let mut t = Tally::default();
    for (out, cap, spec) in &cases {
        let mut text = String::new();
        GzDecoder::new(File::open(data().join("decrypt").join(format!("{out}.out.gz"))).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        let flags = if *out == "ikev2pI2" { "-vvvv" } else { "" };
        compare_with(out, &corpus.join(cap), flags, Some(spec), &text, &mut t);
    }
    let stored = t.identical;
    // Live: more flags, wrong keys, ECB by tcpdump's name (des-ede3-cbc loses its -cbc), a
    // ciphertext that is not whole blocks (a warning, no decryption).
    let tcpdump = Path::new("/usr/bin/tcpdump");
    let version = std::process::Command::new(tcpdump).arg("--version").output();
    let live = version.is_ok_and(|v| String::from_utf8_lossy(&[v.stdout, v.stderr].concat()).contains("4.99.3"));
    if live {
        let mut more: Vec<(&str, String)> = cases.iter().map(|(_, c, s)| (*c, s.clone())).collect();
        for spec in [
            "3des-cbc-hmac96:0x43434545464649494a4a4c4c4f4f51515252545457575840",
            "des-ede3-cbc-hmac96:0x4043434545464649494a4a4c4c4f4f515152525454575758",
            "aes128:0x4043434545464649494a4a4c4c4f4f51",
            "aes256-cbc:secret,0x12345678@192.1.2.45 3des:0x40",
        ] {
            more.push(("02-sunrise-sunset-esp.pcap", spec.to_string()));
            more.push(("08-sunrise-sunset-esp2.pcap", spec.to_string()));
        }
        for (cap, spec) in &more {
            for flags in ["", "-v", "-vv", "-e -vvv", "-vvvv"] {
                let o = std::process::Command::new(tcpdump)
                    .env("TZ", "GMT0")
                    .args(["-#", "-n", "-tttt"])
                    .args(flags.split_whitespace())
                    .arg("-E")
                    .arg(spec)
                    .arg("-r")
                    .arg(corpus.join(cap))
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&o.stdout);
                compare_with(
                    &format!("{cap} {flags} -E …"),
                    &corpus.join(cap),
                    flags,
                    Some(spec),
                    &text,
                    &mut t,
                );
            }
        }
    } else {
        eprintln!("live part skipped: no tcpdump 4.99.3");
    }
    eprintln!(
        "decryption: {stored} packets identical to stored text, {} in all, {} differences",
        t.identical,
        t.failures.len()
    );
    for f in t.failures.iter().take(20) {
        eprintln!("{f}");
    }
    assert!(t.failures.is_empty());
    assert!(stored >= 6 * 8 + 4, "too few packets compared: {stored}");
}
