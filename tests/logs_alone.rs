//! Daemon output alone, as users bring it: the recorded examples' logs and up-command output,
//! and the same real output as it reaches us in other shapes: a pasted terminal session (prompts,
//! several commands, a `grep` whose own text names a notify), Libreswan 5's whack output without
//! the 3-digit codes, and strongSwan's `ipsec up` output without the `[IKE]` tags. Each shape must
//! be read as the original is, and a failed negotiation is never called healthy.

mod common;

use common::{assert_all_right, diagnose_files, example_dirs, scenario};
use ipsec_doctor::diagnose;
use std::path::{Path, PathBuf};

struct Example {
    name: String,
    situation: String,
    expected: String,
    dir: PathBuf,
}

fn examples() -> Vec<Example> {
    example_dirs()
        .into_iter()
        .filter_map(|dir| {
            Some(Example {
                name: dir.file_name()?.to_string_lossy().into_owned(),
                situation: scenario(&dir, "SITUATION").unwrap_or_default(),
                expected: scenario(&dir, "EXPECTED_CAUSE")?,
                dir,
            })
        })
        .collect()
}

/// The output shows the child SA established (a later failure, such as a rekey refused, is
/// not in it).
fn shows_child_up(text: &str) -> bool {
    text.lines().any(|l| {
        l.contains("IPsec SA established")
            || l.contains("established Child SA")
            || l.contains("established with SPIs")
            || l.contains("established successfully")
    })
}

/// A failed negotiation (A, B, C) must land in its situation; D and healthy examples, whose
/// failure the daemons cannot see, must not be given an earlier failure. Output that shows the
/// child SA established is read as such even when the scenario fails later.
fn check_shown(ex: &Example, what: &str, child_up: bool, f: &[diagnose::Finding], failures: &mut Vec<String>) {
    let got = f[0].situation();
    let ok = match ex.situation.as_str() {
        "A" | "B" | "C" if !child_up => got == ex.situation,
        "C" => got == "C" || got == "-" || got == "D",
        _ => got == "-" || got == "D",
    };
    if !ok {
        failures.push(format!(
            "{} ({what}): situation {} {}, got {got} {} ({})",
            ex.name, ex.situation, ex.expected, f[0].cause, f[0].summary
        ));
    }
    if ex.expected != "healthy" && ex.situation != "D" && !child_up && f[0].cause == diagnose::Cause::Healthy {
        failures.push(format!("{} ({what}): failed tunnel called healthy", ex.name));
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ipsec-doctor-logs-alone-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Whack output without its status codes, as Libreswan 5 prints it.
fn without_whack_codes(text: &str) -> String {
    text.lines()
        .map(|l| {
            let b = l.as_bytes();
            if b.len() > 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ' {
                &l[4..]
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// swanctl output without the `[IKE] ` tags, as `ipsec up` / `strongswan up` print it.
fn without_charon_tags(text: &str) -> String {
    text.lines()
        .map(|l| match l.strip_prefix('[') {
            Some(r) if r.len() > 5 && r.as_bytes()[3] == b']' => &r[5..],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn up_output_alone() {
    // (All the logs of each example together: tests/diagnose_examples.rs.)
    let mut failures = Vec::new();
    let mut count = 0;
    for ex in examples() {
        let up = ex.dir.join("sg1-up.txt");
        if let Ok(text) = std::fs::read_to_string(&up) {
            count += 1;
            check_shown(
                &ex,
                "up output",
                shows_child_up(&text),
                &diagnose_files(&[up]),
                &mut failures,
            );
        }
    }
    assert!(count >= 20, "too few examples with up output: {count}");
    assert_all_right(&failures);
}

#[test]
fn other_shapes_of_the_same_output_read_the_same() {
    let mut failures = Vec::new();
    let mut shapes = 0;
    for ex in examples() {
        let Ok(up) = std::fs::read_to_string(ex.dir.join("sg1-up.txt")) else {
            continue;
        };
        let tmp = tmpdir(&ex.name);
        let base = diagnose_files(&[ex.dir.join("sg1-up.txt")]);
        let pluto = up.lines().any(|l| l.contains("\" #"));
        let mut variants: Vec<(&str, String)> = Vec::new();
        // A pasted session: the up command at a prompt, then greps and a status whose command
        // text names failures that did not happen (and print nothing).
        let up_cmd = if pluto {
            "ipsec auto --up sg"
        } else {
            "swanctl --initiate --child net"
        };
        variants.push((
            "pasted session",
            format!(
                "root@sg1:~# {up_cmd}\n{up}\nroot@sg1:~# grep -E 'NO_PROPOSAL_CHOSEN|AUTHENTICATION_FAILED|TS_UNACCEPTABLE' /var/log/pluto.log\nroot@sg1:~# sudo journalctl -u ipsec | grep 'no acceptable Oakley Transform'\n[root@sg1 ~]# echo done\ndone\nroot@sg1:~# "
            ),
        ));
        if pluto {
            variants.push(("without whack codes (Libreswan 5)", without_whack_codes(&up)));
        } else {
            variants.push(("without tags (ipsec up)", without_charon_tags(&up)));
            variants.push((
                "ipsec up session without tags",
                format!("$ sudo ipsec up net\n{}\n$ ", without_charon_tags(&up)),
            ));
        }
        for (what, text) in variants {
            shapes += 1;
            let p = write(&tmp, "sg1-session.txt", &text);
            let f = diagnose_files(&[p]);
            if f[0].cause != base[0].cause {
                failures.push(format!(
                    "{} ({what}): {} where the up output alone gives {}",
                    ex.name, f[0].cause, base[0].cause
                ));
            }
            check_shown(&ex, what, shows_child_up(&up), &f, &mut failures);
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(shapes >= 40, "too few shapes: {shapes}");
    assert_all_right(&failures);
}

#[test]
fn a_session_that_stops_part_way_is_never_healthy() {
    // Real up output cut after each of its lines: wherever it stops before the child SA is
    // established, the verdict is the situation of the last step reached, never healthy.
    let mut failures = Vec::new();
    let mut cuts = 0;
    for ex in examples() {
        let Ok(up) = std::fs::read_to_string(ex.dir.join("sg1-up.txt")) else {
            continue;
        };
        let tmp = tmpdir(&format!("{}-cut", ex.name));
        let lines: Vec<&str> = up.lines().collect();
        for n in 1..lines.len() {
            let head = lines[..n].join("\n");
            if shows_child_up(&head) {
                break;
            }
            cuts += 1;
            let p = write(&tmp, "sg1-up.txt", &head);
            let f = diagnose_files(&[p]);
            if f[0].cause == diagnose::Cause::Healthy {
                failures.push(format!(
                    "{} cut after line {n} ({}): called healthy",
                    ex.name,
                    lines[n - 1]
                ));
            }
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(cuts >= 100, "too few cuts: {cuts}");
    assert_all_right(&failures);
}

#[test]
fn a_session_on_both_gateways_is_split_by_prompt() {
    // The up command on sg1, then the responder's log read on sg2, pasted as one session: read
    // as the two gateways' own files are.
    let mut failures = Vec::new();
    let mut sessions = 0;
    for ex in examples() {
        let Ok(up) = std::fs::read_to_string(ex.dir.join("sg1-up.txt")) else {
            continue;
        };
        let Some(sg2_log) = std::fs::read_dir(&ex.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                let n = p.file_name().unwrap().to_string_lossy();
                n.starts_with("sg2-") && n.ends_with(".log")
            })
        else {
            continue;
        };
        let log = std::fs::read_to_string(&sg2_log).unwrap();
        let separate = diagnose_files(&[ex.dir.join("sg1-up.txt"), sg2_log.clone()]);
        let tmp = tmpdir(&format!("{}-both", ex.name));
        let p = write(
            &tmp,
            "session.txt",
            &format!("root@sg1:~# ipsec auto --up sg\n{up}\nroot@sg2:~# tail -n 5000 /var/log/daemon.log\n{log}\nroot@sg2:~# "),
        );
        let together = diagnose_files(&[p]);
        sessions += 1;
        if together[0].cause != separate[0].cause {
            failures.push(format!(
                "{}: {} as one session, {} as two files",
                ex.name, together[0].cause, separate[0].cause
            ));
        }
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(sessions >= 20, "too few sessions: {sessions}");
    assert_all_right(&failures);
}
