//! `diagnose --html`: every example renders to one self-contained page whose ladder holds one
//! arrow per IKE message of the report model and one lost marker per message that never
//! arrived; a real headless Chromium (Debian's `chromium`) loads a handful offline and the DOM it
//! builds is checked the same way, and takes one screenshot per situation (A–D, healthy) into
//! `target/html-report/` (`UPDATE_DOCS=1`: also `docs/screenshots/`). Bad input (one capture
//! only, logs only, a capture cut short) still gives a page. Without chromium the browser test
//! is skipped, unless `CI` is set: then it fails.

mod common;

use common::example_dirs;
use ipsec_doctor::{cmd, inputs, report};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the model says the page must show.
struct Expect {
    html: String,
    messages: usize,
    lost: usize,
    cause: String,
}

fn render(paths: &[PathBuf]) -> Expect {
    let mut inp = inputs::load(paths, &[], inputs::Limits::default());
    cmd::diagnose::analyse(&mut inp, |case, inp, findings, cov| {
        let model = report::Model::new(case, inp, findings, cov);
        Expect {
            html: report::html(case, inp, findings, cov),
            messages: model.messages.len().min(report::html::MAX_DRAWN),
            lost: model
                .messages
                .iter()
                .take(report::html::MAX_DRAWN)
                .filter(|m| m.lost)
                .count(),
            cause: findings.first().map(|f| f.cause.id().to_string()).unwrap_or_default(),
        }
    })
}

fn count(hay: &str, needle: &str) -> usize {
    hay.matches(needle).count()
}

/// The page as a browser would see it: arrows, lost markers, the cause, nothing to fetch.
fn check_page(what: &str, page: &str, e: &Expect) {
    assert_eq!(
        count(page, " data-arrow=\""),
        e.messages,
        "{what}: arrows vs IKE messages in the model"
    );
    assert_eq!(
        count(page, " data-lost=\""),
        e.lost,
        "{what}: lost markers vs lost messages"
    );
    assert!(
        page.contains(&format!("data-cause=\"{}\"", e.cause)),
        "{what}: cause id {} not on the page",
        e.cause
    );
    assert!(
        page.contains("default-src 'none'"),
        "{what}: the content security policy that forbids any fetch is missing"
    );
    let lower = page.to_ascii_lowercase();
    for attr in ["src=", "href=", "url(", "@import"] {
        for scheme in [
            "\"http:", "\"https:", "'http:", "'https:", "http://", "https://", "\"//",
        ] {
            let bad = if attr.ends_with('=') {
                format!("{attr}{scheme}")
            } else {
                format!("{attr}{}", scheme.trim_start_matches(['"', '\'']))
            };
            assert!(!lower.contains(&bad), "{what}: the page would fetch something ({bad})");
        }
    }
    assert!(!lower.contains("<link"), "{what}: a <link> element");
    assert!(!lower.contains("<img"), "{what}: an <img> element");
    assert!(!lower.contains("<iframe"), "{what}: an <iframe> element");
}

#[test]
fn every_example_renders_to_one_self_contained_page() {
    let mut n = 0;
    for dir in example_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let e = render(std::slice::from_ref(&dir));
        check_page(&name, &e.html, &e);
        assert!(e.html.starts_with("<!DOCTYPE html>"), "{name}");
        assert!(e.html.contains("<svg class=\"ladder"), "{name}: no ladder");
        assert!(e.html.len() < 2_000_000, "{name}: {} bytes", e.html.len());
        // Each arrow opens its packet's tcpdump -vv text, embedded.
        assert!(
            count(&e.html, "<pre class=\"pkt\" id=\"pkt-") >= e.messages,
            "{name}: packet texts missing"
        );
        n += 1;
    }
    assert!(n >= 70, "only {n} examples");
}

#[test]
fn evidence_links_to_its_arrow_and_back() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/psk-mismatch-ikev1"));
    let e = render(&[dir.to_path_buf()]);
    // The first finding's first evidence is a packet: it links to an arrow, whose packet text
    // links back to it.
    let at = e.html.find("<li id=\"ev-0-0\">").expect("evidence item");
    let li = &e.html[at..at + e.html[at..].find("</li>").unwrap()];
    let target = li
        .split("href=\"#")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a link");
    assert!(target.starts_with("msg-"), "{li}");
    assert!(e.html.contains(&format!("id=\"{target}\"")), "no arrow {target}");
    let i = target.trim_start_matches("msg-");
    let pkt = e
        .html
        .find(&format!("<pre class=\"pkt\" id=\"pkt-{i}\">"))
        .expect("packet text");
    let pre = &e.html[pkt..pkt + e.html[pkt..].find("</pre>").unwrap()];
    assert!(pre.contains("href=\"#ev-0-0\""), "{pre}");
    assert!(pre.contains("isakmp"), "no tcpdump text: {pre}");
}

#[test]
fn text_ladder_marks_lost_messages() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ike-blocked-ikev1"));
    let mut inp = inputs::load(&[dir.to_path_buf()], &[], inputs::Limits::default());
    let (text, lost) = cmd::diagnose::analyse(&mut inp, |case, inp, findings, cov| {
        let model = report::Model::new(case, inp, findings, cov);
        (
            report::text(case, inp, findings, cov, false, true),
            model.messages.iter().filter(|m| m.lost).count(),
        )
    });
    assert!(lost > 0);
    let ladder = &text[text.find("ladder (").expect("a ladder")..];
    assert!(ladder.contains("✗ lost"), "{ladder}");
    assert!(ladder.contains("MI1"), "{ladder}");
}

#[test]
fn bad_input_still_gives_a_page() {
    let ex = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"));
    let tmp = std::env::temp_dir().join(format!("ipsec-doctor-html-bad-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    // A capture cut short in the middle of a record.
    let full = std::fs::read(ex.join("psk-mismatch-ikev1/sg1.pcap")).unwrap();
    let cut = tmp.join("sg1.pcap");
    std::fs::write(&cut, &full[..full.len() / 2 + 7]).unwrap();
    let cases: Vec<(&str, Vec<PathBuf>)> = vec![
        ("one capture only", vec![ex.join("psk-mismatch-ikev1/sg1.pcap")]),
        (
            "logs only",
            vec![
                ex.join("psk-mismatch-ikev1/sg1-pluto.log"),
                ex.join("psk-mismatch-ikev1/sg2-pluto.log"),
            ],
        ),
        (
            "a capture cut short",
            vec![cut.clone(), ex.join("psk-mismatch-ikev1/sg2.pcap")],
        ),
    ];
    for (what, paths) in cases {
        let e = render(&paths);
        check_page(what, &e.html, &e);
        assert!(!e.cause.is_empty(), "{what}");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

/// Debian's chromium, or its headless shell.
fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-headless-shell", "chromium-browser"] {
        if let Ok(out) = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output() {
            let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if out.status.success() && !p.is_empty() {
                return Some(PathBuf::from(p));
            }
        }
    }
    None
}

fn browse(chrome: &Path, profile: &Path, extra: &[String], page: &Path) -> std::process::Output {
    Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--mute-audio",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

#[test]
fn chromium_loads_reports_offline() {
    let Some(chrome) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and chromium is missing: apt-get install chromium"
        );
        eprintln!("chromium not installed: browser test skipped");
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target/html-report");
    std::fs::create_dir_all(&out).unwrap();
    let profile = std::env::temp_dir().join(format!("ipsec-doctor-chromium-{}", std::process::id()));
    // One per situation, and a healthy tunnel through a NAT.
    let shots = [
        ("A", "ike-blocked-ikev1"),
        ("B", "psk-mismatch-ikev1"),
        ("C", "ts-mismatch-ikev2"),
        ("D", "esp-one-way-ikev2"),
        ("healthy", "healthy-nat-ikev2"),
        ("B-fragments", "frag-dropped-ikev1"),
    ];
    let update = std::env::var_os("UPDATE_DOCS").is_some();
    for (situation, example) in shots {
        let e = render(&[root.join("examples").join(example)]);
        let page = out.join(format!("{example}.html"));
        std::fs::write(&page, &e.html).unwrap();
        let dom = browse(&chrome, &profile, &["--dump-dom".to_string()], &page);
        let dom_text = String::from_utf8_lossy(&dom.stdout);
        assert!(
            dom.status.success() && dom_text.contains("</html>"),
            "{example}: chromium --dump-dom failed: {}",
            String::from_utf8_lossy(&dom.stderr)
        );
        check_page(&format!("{example} in chromium"), &dom_text, &e);
        // A page that asked for anything would have it refused by its policy, and say so.
        let stderr = String::from_utf8_lossy(&dom.stderr);
        assert!(
            !stderr.contains("Content Security Policy") && !stderr.contains("Refused to"),
            "{example}: the page tried to fetch something: {stderr}"
        );
        if situation.contains('-') {
            continue;
        }
        let png = out.join(format!("situation-{situation}.png"));
        let _ = std::fs::remove_file(&png);
        let shot = browse(
            &chrome,
            &profile,
            &[
                format!("--screenshot={}", png.display()),
                "--window-size=1200,1600".to_string(),
                "--hide-scrollbars".to_string(),
            ],
            &page,
        );
        let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
        assert!(
            size > 10_000,
            "{example}: no screenshot ({size} bytes): {}",
            String::from_utf8_lossy(&shot.stderr)
        );
        if update {
            let docs = root.join("docs/screenshots");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::copy(&png, docs.join(format!("situation-{situation}.png"))).unwrap();
        }
    }
    let _ = std::fs::remove_dir_all(&profile);
}
