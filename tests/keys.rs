//! Key sources read from real tools' output (tests/data/keys/README.md says where each file
//! comes from): what each gives, that both gateways' logs agree on every shared SA (which
//! checks the direction each key is given), and that no key is ever printed.

use ipsec_doctor::keys::{self, Encr, EspSa, IkeSa, Integ, KeyRing, Kind};
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys").join(p)
}

fn load(p: &str) -> keys::Loaded {
    keys::load(&data(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// A gzipped log unpacked into a temporary file (the pluto logs are large).
fn gunzip(p: &str) -> PathBuf {
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(data(p)).unwrap())
        .read_to_end(&mut text)
        .unwrap();
    let dir = std::env::temp_dir().join(format!("ipsec-doctor-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(Path::new(p).file_stem().unwrap());
    std::fs::write(&out, text).unwrap();
    out
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn esp(r: &KeyRing, spi: u32) -> &EspSa {
    r.esp
        .iter()
        .find(|s| s.spi == Some(spi))
        .unwrap_or_else(|| panic!("no SA {spi:#x}: {:?}", r.esp))
}

fn spis(i: &str, r: &str) -> Option<([u8; 8], [u8; 8])> {
    let h = |s: &str| -> [u8; 8] {
        (0..8)
            .map(|k| u8::from_str_radix(&s[k * 2..k * 2 + 2], 16).unwrap())
            .collect::<Vec<_>>()
            .try_into()
            .unwrap()
    };
    Some((h(i), h(r)))
}

/// Nothing a source gave, printed as Debug or as its warnings, holds a key's hex.
fn no_key_printed(l: &keys::Loaded) {
    let mut secrets: Vec<&Vec<u8>> = Vec::new();
    for s in &l.keys.esp {
        secrets.push(&s.encr_key);
        secrets.extend(s.integ_key.iter());
    }
    for s in &l.keys.ike {
        secrets.extend([&s.sk_ei, &s.sk_er]);
        secrets.extend(s.sk_ai.iter().chain(s.sk_ar.iter()));
    }
    for s in &l.keys.ikev1 {
        secrets.push(&s.encr_key);
    }
    let printed = format!("{:?}\n{}", l, l.warnings.join("\n")).to_lowercase();
    for k in secrets.into_iter().filter(|k| k.len() >= 8) {
        let hex: String = k[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert!(!printed.contains(&hex), "{}: a key is printed", l.origin);
    }
}

#[test]
fn charon_level_4_logs_of_both_gateways_agree() {
    let sg1 = load("sw-healthy-ikev2/sg1-charon.log");
    let sg2 = load("sw-healthy-ikev2/sg2-charon.log");
    for l in [&sg1, &sg2] {
        assert_eq!(l.kind, Kind::Charon);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!((l.keys.esp.len(), l.keys.ike.len()), (2, 1), "{}", l.origin);
        no_key_printed(l);
    }
    // The IKE SA: its SPIs from the level-2 mgr lines, its algorithms from the proposal.
    let ike: &IkeSa = &sg1.keys.ike[0];
    assert_eq!(ike.spis, spis("c145d252f7ffe1ab", "40dffa48a236cc34"));
    assert_eq!((ike.encr, ike.integ), (Encr::AesCbc, Integ::HmacSha256_128));
    assert_eq!((ike.sk_ei.len(), ike.sk_ai.as_ref().map(Vec::len)), (32, Some(32)));
    assert_eq!(sg1.keys.ike, sg2.keys.ike, "both ends derived the same IKE keys");
    // sg1 initiated: its outbound SPI 42ba8b71 is sg2's inbound one, with the same keys.
    for spi in [0x42ba_8b71, 0xf7dc_35ce] {
        assert_eq!(
            esp(&sg1.keys, spi),
            esp(&sg2.keys, spi),
            "SA {spi:#x} differs between the logs"
        );
    }
    let out = esp(&sg1.keys, 0x42ba_8b71);
    assert_eq!((out.src, out.dst), (ip("192.0.2.1"), ip("198.51.100.2")));
    assert_eq!((out.encr, out.integ), (Encr::AesCbc, Integ::HmacSha256_128));
    assert_ne!(out.encr_key, esp(&sg1.keys, 0xf7dc_35ce).encr_key);
}

#[test]
fn charon_log_without_key_lines_is_no_key_source() {
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/healthy-sw6-ikev2/sg1-charon.log");
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(keys::recognise(&text), None);
    // Given with --keys, it is said to hold none, and the rest goes on.
    let l = keys::load(&log).unwrap();
    assert!(l.keys.is_empty());
    assert!(
        l.warnings.iter().any(|w| w.contains("without key lines")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn pluto_private_logs_of_both_gateways() {
    let sg1 = keys::load(&gunzip("lsw-child-install-failed-ikev2/sg1-pluto.log.gz")).unwrap();
    let sg2 = keys::load(&gunzip("lsw-child-install-failed-ikev2/sg2-pluto.log.gz")).unwrap();
    assert_eq!((sg1.kind, sg2.kind), (Kind::Pluto, Kind::Pluto));
    assert!(sg1.warnings.is_empty(), "{:?}", sg1.warnings);
    assert!(sg2.warnings.is_empty(), "{:?}", sg2.warnings);
    no_key_printed(&sg1);
    no_key_printed(&sg2);
    assert_eq!(sg1.keys.ike.len(), 1);
    assert_eq!(sg1.keys.ike, sg2.keys.ike);
    let ike = &sg1.keys.ike[0];
    assert_eq!(ike.spis, spis("ba592893f889474d", "a7694b2f52be8ea5"));
    assert_eq!((ike.encr, ike.integ), (Encr::AesCbc, Integ::HmacSha256_128));
    // The responder dumped the keys of the outbound SA it then failed to install (this
    // kernel has no ESP); the initiator never got that far.
    assert!(sg1.keys.esp.is_empty());
    assert_eq!(sg2.keys.esp.len(), 1);
    let sa = esp(&sg2.keys, 0x0445_47a9);
    assert_eq!((sa.src, sa.dst), (ip("198.51.100.2"), ip("192.0.2.1")));
    assert_eq!((sa.encr, sa.integ), (Encr::AesCbc, Integ::HmacSha256_128));
    assert_eq!((sa.encr_key.len(), sa.integ_key.as_ref().map(Vec::len)), (32, Some(32)));
    // Libreswan chose extended sequence numbers ("+esn" on the add_sa() line).
    assert!(sa.esn);
}

#[test]
fn ip_xfrm_state_with_and_without_s() {
    let plain = load("xfrm-state.txt");
    let stats = load("xfrm-state-s.txt");
    assert_eq!((plain.kind, stats.kind), (Kind::Xfrm, Kind::Xfrm));
    // Extended sequence numbers (`flag esn`) are kept as such.
    for l in [&plain, &stats] {
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(l.keys.esp.iter().filter(|sa| sa.esn).count(), 2);
    }
    assert_eq!(format!("{:?}", plain.keys), format!("{:?}", stats.keys));
    assert_eq!(plain.keys.esp, stats.keys.esp);
    let r = &plain.keys;
    assert_eq!(r.esp.len(), 9);
    assert!(esp(r, 0x6001).esn && esp(r, 0x6001).integ_key.is_some());
    assert!(esp(r, 0x7001).esn);
    let a = esp(r, 0xc1a2_b3c4);
    assert_eq!((a.src, a.dst), (ip("192.0.2.1"), ip("198.51.100.2")));
    assert_eq!(
        (a.encr, a.integ, a.encr_key.len()),
        (Encr::AesCbc, Integ::HmacSha256_128, 16)
    );
    // `auth hmac(sha1)`: Linux truncates to 96 bits.
    assert_eq!(esp(r, 0xc5d6_e7f8).integ, Integ::HmacSha1_96);
    assert_eq!(
        (esp(r, 0x1001).encr, esp(r, 0x1001).integ),
        (Encr::Des3Cbc, Integ::HmacMd5_96)
    );
    assert_eq!(esp(r, 0x2001).encr, Encr::AesGcm { icv: 16 });
    assert_eq!(esp(r, 0x2001).encr_key.len(), 20);
    assert_eq!(esp(r, 0x3001).encr, Encr::ChaCha20Poly1305);
    assert_eq!(esp(r, 0x3001).src, ip("2001:db8:a::1"));
    assert_eq!(
        (esp(r, 0x4001).encr, esp(r, 0x4001).integ),
        (Encr::Null, Integ::HmacSha512_256)
    );
    // hmac(sha256) cut to 96 bits: the 12-byte ICV is skipped, never claimed checked.
    let t = esp(r, 0x5001);
    assert_eq!((t.integ.icv_len(), t.integ_key.is_none()), (12, true));
    no_key_printed(&plain);
}

#[test]
fn ip_xfrm_state_with_keys_removed_says_so() {
    // What `capture` keeps without --keys (src/live/scripts.rs's sed), applied to real output.
    let text = std::fs::read_to_string(data("xfrm-state.txt")).unwrap();
    let removed: String = text
        .lines()
        .map(|l| match l.trim_start().split_once(' ') {
            Some((w @ ("enc" | "auth" | "auth-trunc" | "aead"), rest)) if rest.contains(" 0x") => {
                let (name, after) = rest.split_once(' ').unwrap();
                let after = after.split_once(' ').map_or("", |x| x.1);
                format!("\t{w} {name} [key removed: --keys keeps it] {after}\n")
            }
            _ => format!("{l}\n"),
        })
        .collect();
    let l = keys::parse(Kind::Xfrm, &removed, "state.txt").unwrap();
    assert!(l.keys.esp.is_empty(), "{:?}", l.keys.esp);
    assert_eq!(l.warnings.len(), 9);
    assert!(l
        .warnings
        .iter()
        .all(|w| w.starts_with("state.txt:") && w.contains("keys were removed")));
}

#[test]
fn wireshark_tables_as_wireshark_writes_them() {
    let e = load("wireshark/esp_sa");
    assert_eq!(e.kind, Kind::WiresharkEsp);
    assert_eq!(e.keys.esp.len(), 2);
    let sa = esp(&e.keys, 0x0708_83c2);
    assert_eq!((sa.src, sa.dst), (ip("192.168.0.1"), ip("192.168.0.100")));
    assert_eq!((sa.encr, sa.integ), (Encr::AesCbc, Integ::HmacSha1_96));

    let v2 = load("wireshark/ikev2_decryption_table");
    assert_eq!(v2.kind, Kind::WiresharkIkev2);
    // NULL, AES-CBC-256, and AES-GCM-256 with 8 and 16 octet ICVs; CCM, CTR and
    // HMAC_SHA1_160 are named as skipped, each with its line.
    let encrs: Vec<Encr> = v2.keys.ike.iter().map(|s| s.encr).collect();
    assert_eq!(
        encrs,
        [
            Encr::Null,
            Encr::AesCbc,
            Encr::AesGcm { icv: 8 },
            Encr::AesGcm { icv: 16 }
        ]
    );
    assert_eq!(v2.warnings.len(), 5, "{:?}", v2.warnings);
    assert!(v2.warnings[0].ends_with(
        "ikev2_decryption_table:3: skipped: integrity 'HMAC_SHA1_160 [RFC4595]' is not one ipsec-doctor handles"
    ));
    let cbc = &v2.keys.ike[1];
    assert_eq!(
        (cbc.integ, cbc.sk_ei.len(), cbc.sk_ai.as_ref().map(Vec::len)),
        (Integ::HmacSha256_128, 32, Some(32))
    );

    let v1 = load("wireshark/ikev1_decryption_table");
    assert_eq!(v1.kind, Kind::WiresharkIkev1);
    assert_eq!(v1.keys.ikev1.len(), 3);
    for l in [&e, &v2, &v1] {
        no_key_printed(l);
    }
}

#[test]
fn tcpdump_secrets_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corpus/tcpdump");
    let e = keys::load(&root.join("esp-secrets.txt")).unwrap();
    assert_eq!(e.kind, Kind::Tcpdump);
    assert_eq!(e.keys.esp.len(), 3);
    let sa = esp(&e.keys, 0x1234_5678);
    assert_eq!(
        (sa.dst, sa.encr, sa.integ.icv_len(), sa.integ_key.is_none()),
        (ip("192.1.2.45"), Encr::Des3Cbc, 12, true)
    );
    let v2 = keys::load(&root.join("ikev2pI2-secrets.txt")).unwrap();
    assert_eq!(v2.kind, Kind::Tcpdump);
    assert_eq!(v2.keys.ike.len(), 1);
    let ike = &v2.keys.ike[0];
    assert_eq!(ike.spis, spis("0001020304050607", "c02e7a3031a03188"));
    assert_eq!(
        (ike.encr, ike.integ, ike.sk_ei.len()),
        (Encr::AesCbc, Integ::HmacSha1_96, 16)
    );
    assert_ne!(ike.sk_ei, ike.sk_er);
    no_key_printed(&e);
    no_key_printed(&v2);
}

#[test]
fn bad_input_names_file_and_line() {
    let l = keys::parse(
        Kind::WiresharkEsp,
        "\"IPv4\",\"1.2.3.4\",\"5.6.7.8\",\"0x1\",\"AES-CBC [RFC3602]\",\"0xzz\",\"NULL\",\"\"\n\"IPv4\"\n",
        "f",
    )
    .unwrap();
    assert!(l.keys.esp.is_empty());
    assert_eq!(
        l.warnings,
        [
            "f:1: skipped: the encryption key is not hex",
            "f:2: skipped: 1 fields where Wireshark esp_sa table has 8"
        ]
    );
    let e = keys::parse(Kind::Tcpdump, "# c\n0x1@192.0.2.1 aes128:0x1g\n", "t").unwrap_err();
    assert_eq!(e, "t:2: invalid hex digit g in espsecret");
    // A key dump cut short: no key, no panic, the line named.
    let text = std::fs::read_to_string(data("sw-healthy-ikev2/sg1-charon.log")).unwrap();
    let cut: String = text.lines().take(115).map(|l| format!("{l}\n")).collect();
    let l = keys::parse(Kind::Charon, &cut, "c").unwrap();
    assert!(l.keys.ike.is_empty());
    assert!(
        l.warnings
            .iter()
            .any(|w| w.starts_with("c: the dump of 'Sk_ar secret' ends with the file")),
        "{:?}",
        l.warnings
    );
}

#[test]
fn recognised_by_content() {
    let text = |p: &str| std::fs::read_to_string(data(p)).unwrap();
    assert_eq!(keys::recognise(&text("xfrm-state-s.txt")), Some(Kind::Xfrm));
    assert_eq!(keys::recognise(&text("wireshark/esp_sa")), Some(Kind::WiresharkEsp));
    assert_eq!(
        keys::recognise(&text("wireshark/ikev2_decryption_table")),
        Some(Kind::WiresharkIkev2)
    );
    assert_eq!(
        keys::recognise(&text("wireshark/ikev1_decryption_table")),
        Some(Kind::WiresharkIkev1)
    );
    assert_eq!(
        keys::recognise(&text("sw-healthy-ikev2/sg2-charon.log")),
        Some(Kind::Charon)
    );
    assert_eq!(keys::recognise(&text("sw-healthy-ikev2/scenario.conf")), None);
    assert_eq!(keys::recognise("hello world\n"), None);
    assert_eq!(keys::recognise(""), None);
}

/// Every key source among the recorded examples reads without a warning; where a gateway has
/// both save-keys tables and its level-4 charon log, they give the same SAs.
#[test]
fn every_example_with_keys() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    let mut sources = 0;
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        let mut by_gw: std::collections::BTreeMap<String, Vec<keys::Loaded>> = Default::default();
        for f in files {
            let Ok(l) = keys::load(&f) else { continue };
            if l.keys.is_empty() && l.warnings.iter().any(|w| w.contains("without key lines")) {
                continue; // a daemon log without key lines
            }
            sources += 1;
            eprintln!(
                "{}: {:?} esp {} ike {} {:?}",
                l.origin,
                l.kind,
                l.keys.esp.len(),
                l.keys.ike.len(),
                l.warnings
            );
            // Libreswan's AEAD IKE keys come without their salt: said, and the ESP keys kept.
            // Libreswan chooses extended sequence numbers with a Libreswan peer: said too.
            let salt = |w: &String| w.contains("without its 4-byte salt");
            let said = |w: &String| salt(w);
            assert!(l.warnings.iter().all(said), "{}: {:?}", l.origin, l.warnings);
            assert!(!l.keys.is_empty() || l.warnings.iter().any(salt), "{}", l.origin);
            no_key_printed(&l);
            let gw = f
                .file_name()
                .unwrap()
                .to_string_lossy()
                .split('-')
                .next()
                .unwrap()
                .to_string();
            by_gw.entry(gw).or_default().push(l);
        }
        for (gw, ls) in &by_gw {
            let log = ls.iter().find(|l| l.kind == Kind::Charon);
            let table = ls.iter().find(|l| l.kind == Kind::WiresharkEsp);
            if let (Some(log), Some(table)) = (log, table) {
                for sa in &table.keys.esp {
                    let from_log = esp(&log.keys, sa.spi.unwrap());
                    assert_eq!(
                        from_log,
                        sa,
                        "{}: {gw}'s save-keys SA differs from its log's",
                        dir.display()
                    );
                }
            }
            let ike = ls.iter().find(|l| l.kind == Kind::WiresharkIkev2);
            if let (Some(log), Some(table)) = (log, ike) {
                // Without charon's mgr lines at level 2 the log cannot say the SPIs.
                let mut from_log = log.keys.ike.clone();
                for (sa, t) in from_log.iter_mut().zip(&table.keys.ike) {
                    sa.spis = sa.spis.or(t.spis);
                }
                assert_eq!(from_log, table.keys.ike, "{}: {gw}", dir.display());
            }
        }
    }
    assert!(sources >= 20, "{sources} key sources among the examples");
}

const BIN: &str = env!("CARGO_BIN_EXE_ipsec-doctor");

fn example(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(p)
        .display()
        .to_string()
}

fn diagnose_json(args: &[&str]) -> (serde_json::Value, String, Option<i32>) {
    let o = std::process::Command::new(BIN)
        .arg("diagnose")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}\n{err}"));
    (v, format!("{out}\n{err}"), o.status.code())
}

/// Captures and `--keys LOG`, no log evidence: the refused traffic selectors are read from the
/// decrypted IKE_AUTH, where the captures alone are misread.
#[test]
fn diagnose_with_keys_from_a_log_only() {
    let (sg1, sg2, log) = (
        example("ts-mismatch-keys-sw-ikev2/sg1.pcap"),
        example("ts-mismatch-keys-sw-ikev2/sg2.pcap"),
        example("ts-mismatch-keys-sw-ikev2/sg1-charon.log"),
    );
    let (without, _, _) = diagnose_json(&[&sg1, &sg2]);
    assert_ne!(without["findings"][0]["cause"], "traffic-selector-mismatch");
    assert!(without.get("keys").is_none());
    let (with, printed, code) = diagnose_json(&["--keys", &log, &sg1, &sg2]);
    assert_eq!(code, Some(1));
    assert_eq!(with["findings"][0]["cause"], "traffic-selector-mismatch");
    assert_eq!(
        with["keys"],
        serde_json::json!([{"file": log, "kind": "charon log key lines", "esp_sas": 0, "ike_sas": 1, "keys_only": true}])
    );
    // The log was read for its keys only: no gateway has a log.
    assert!(with["sides"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["logs"].as_array().unwrap().is_empty()));
    let l = keys::load(Path::new(&log)).unwrap();
    no_key_printed(&keys::Loaded { origin: printed, ..l });
}

/// A folder's key files are found by content: listed once each (both gateways' save-keys
/// tables are the same), the logs with key lines as logs and key sources both.
#[test]
fn diagnose_finds_key_files_in_a_folder() {
    let (v, _, code) = diagnose_json(&[&example("healthy-keys-sw6-ikev2")]);
    assert_eq!(code, Some(0));
    let kinds: Vec<&str> = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "charon log key lines",
            "Wireshark esp_sa table",
            "Wireshark ikev2_decryption_table",
            "charon log key lines"
        ]
    );
    assert_eq!(v["problems"], serde_json::json!([]));
    assert!(v["sides"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| !s["logs"].as_array().unwrap().is_empty()));
}

#[test]
fn keys_that_cannot_be_read_are_refused_by_name() {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("README.md")
        .display()
        .to_string();
    let pcap = example("healthy-keys-sw6-ikev2/sg1.pcap");
    let o = std::process::Command::new(BIN)
        .args(["diagnose", "--keys", &readme, &pcap])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with(&format!("ipsec-doctor: --keys: {readme}: no keys recognised")),
        "{err}"
    );
    let (v, _, code) = diagnose_json(&["--keys", "/nonexistent/keys", &pcap]);
    assert_eq!(code, Some(2));
    assert!(
        v["error"]["message"].as_str().unwrap().contains("/nonexistent/keys"),
        "{v}"
    );
}

fn dump(args: &[&str]) -> (String, String, Option<i32>) {
    let o = std::process::Command::new(BIN).arg("dump").args(args).output().unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code(),
    )
}

/// `dump --keys`: the save-keys tables and the charon log of the same gateway open the same
/// packets the same way; without keys the ESP stays opaque.
#[test]
fn dump_with_keys_from_any_source() {
    let dir = "healthy-keys-sw6-ikev2";
    let pcap = example(&format!("{dir}/sg1.pcap"));
    let (esp_sa, table, log) = (
        example(&format!("{dir}/sg1-esp_sa")),
        example(&format!("{dir}/sg1-ikev2_decryption_table")),
        example(&format!("{dir}/sg1-charon.log")),
    );
    let (plain, _, _) = dump(&["-v", "-r", &pcap]);
    let (tables, err, code) = dump(&["-v", "-r", &pcap, "--keys", &esp_sa, "--keys", &table]);
    assert_eq!((code, err.as_str()), (Some(0), ""));
    let (from_log, _, _) = dump(&["-v", "-r", &pcap, "--keys", &log]);
    assert_eq!(tables, from_log);
    assert!(!plain.contains("ICMP echo request"));
    assert_eq!(tables.matches("ICMP echo request").count(), 3, "{tables}");
    assert_eq!(tables.matches("ICMP echo reply").count(), 3);
    let (_, err, code) = dump(&["-r", &pcap, "--keys", &pcap]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no keys recognised"), "{err}");
}
