//! `capture` and `watch` without the lab: the command lines they would run, the faults a user
//! meets (a gateway that cannot be reached, a command prefix that does not exist), and a real
//! capture on this machine (`--gw local`) that leaves a private bundle and nothing running.
//! The lab's namespaces with real daemons are exercised by `lab/live-check` (CI, as root).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ipsec-doctor");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ipd-live-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn dry_run_prints_fixed_commands_and_runs_nothing() {
    let out = temp("dry");
    let o = run(&[
        "capture",
        "--gw",
        "sg1=exec:ip netns exec gw1",
        "--gw",
        "sg2=ssh:admin@192.0.2.2:2222",
        "--up",
        "site-a",
        "--inner",
        "10.1.0.0/24",
        "--dry-run",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let s = text(&o.stdout);
    assert!(s.contains("# sg2 (ssh admin@192.0.2.2 port 2222)"), "{s}");
    assert!(s.contains("ssh -T -o BatchMode=yes"), "{s}");
    assert!(s.contains("-p 2222 -- admin@192.0.2.2"), "{s}");
    assert!(s.contains("net 10.1.0.0/24"), "{s}");
    assert!(s.contains("ipsec auto --up site-a"), "{s}");
    assert!(!out.exists(), "a dry run writes no bundle");
}

#[test]
fn arguments_that_would_reach_a_shell_are_refused() {
    for (args, want) in [
        (vec!["--gw", "sg1=local", "--up", "x;reboot"], "connection 'x;reboot'"),
        (
            vec!["--gw", "sg1=local", "--iface", "sg1=eth0 -w /etc/passwd"],
            "interface",
        ),
        (vec!["--gw", "sg1=ssh:-oProxyCommand=sh"], "not a host"),
        (vec!["--gw", "sg1=local", "--log", "sg1=../x.log"], "absolute path"),
        (vec!["--gw", "sg1=local", "--ssh-option", "-F/tmp/x"], ""),
        (vec!["--gw", "sg1=telnet:gw"], "a target is local"),
    ] {
        let mut a = vec!["capture", "--dry-run"];
        a.extend(args.iter().copied());
        let o = run(&a);
        let e = text(&o.stderr);
        // --ssh-option only matters with an ssh target: accepted, unused.
        if want.is_empty() {
            continue;
        }
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(e.contains(want), "{args:?}: {e}");
    }
}

#[test]
fn an_unreachable_gateway_is_named_with_ssh_own_words() {
    let out = temp("unreach");
    // Nothing listens on port 1 here: ssh fails at once with its own message.
    let o = run(&[
        "capture",
        "--gw",
        "gw9=ssh:127.0.0.1:1",
        "--duration",
        "5",
        "-o",
        out.to_str().unwrap(),
    ]);
    let e = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("gw9 (ssh 127.0.0.1 port 1)"), "{e}");
    assert!(e.contains("Connection refused") || e.contains("connect to host"), "{e}");
    assert!(
        out.join("manifest.json").exists(),
        "the bundle still says what happened"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_missing_command_prefix_is_named() {
    let out = temp("noexec");
    let o = run(&[
        "capture",
        "--gw",
        "sg1=exec:/nonexistent/ipd-prefix",
        "--duration",
        "3",
        "-o",
        out.to_str().unwrap(),
    ]);
    let e = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("sg1 (exec /nonexistent/ipd-prefix): cannot run"), "{e}");
    let _ = std::fs::remove_dir_all(&out);
}

/// The tests that capture on this machine run one at a time: each checks that no tcpdump of
/// ours is left, which another's running capture would be.
static LOCAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn tcpdump_usable() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0");
    let tcpdump = Command::new("tcpdump").arg("--version").output().is_ok();
    if !(root && tcpdump) && std::env::var_os("CI").is_some() {
        panic!("CI runs as root with tcpdump installed");
    }
    root && tcpdump
}

/// The pids of tcpdumps streaming pcap the way a capture runs them.
fn ours() -> Vec<u32> {
    let ps = Command::new("ps").args(["-eo", "pid=,args="]).output().unwrap();
    text(&ps.stdout)
        .lines()
        .filter(|l| l.contains("tcpdump -i any -n -s 0 -U -w -"))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// A real capture on this machine: its tcpdump on all interfaces for 3 s, the probe, the state
/// snapshots; the bundle is private, its capture a pcap, and no tcpdump of ours is left.
#[test]
fn local_capture_leaves_a_private_bundle_and_nothing_running() {
    let _one = LOCAL.lock().unwrap_or_else(|e| e.into_inner());
    if !tcpdump_usable() {
        eprintln!("skipped: needs root and tcpdump");
        return;
    }
    let out = temp("local");
    let before = ours();
    let t0 = Instant::now();
    let o = run(&[
        "capture",
        "--gw",
        "here=local",
        "--duration",
        "3",
        "-o",
        out.to_str().unwrap(),
    ]);
    let e = text(&o.stderr);
    assert!(t0.elapsed() < Duration::from_secs(40), "took {:?}", t0.elapsed());
    // No IPsec here: nothing usable, or whatever the machine carries; never a crash.
    assert!(matches!(o.status.code(), Some(0..=2)), "{e}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), 0o700);
    for f in std::fs::read_dir(&out).unwrap() {
        let p = f.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
    }
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["format"], "ipsec-doctor bundle 1");
    assert_eq!(m["stopped_by"], "duration", "{e}");
    assert!(
        m["gateways"][0]["tcpdump"].as_str().unwrap_or("").contains("tcpdump"),
        "{m}"
    );
    let pcap = std::fs::read(out.join("here.pcap")).unwrap();
    assert_eq!(
        pcap[..4],
        0xa1b2_c3d4u32.to_le_bytes(),
        "a pcap file even with nothing in it"
    );
    assert!(out.join("here-state-start.txt").exists() && out.join("here-state-end.txt").exists());
    let state = std::fs::read_to_string(out.join("here-state-end.txt")).unwrap();
    assert!(state.contains("### ip xfrm policy"), "{state}");
    // Our tcpdump (-U -w -) is gone: none is running that was not running before.
    let left: Vec<u32> = ours().into_iter().filter(|p| !before.contains(p)).collect();
    assert!(left.is_empty(), "a tcpdump is left: {left:?}");
    let _ = std::fs::remove_dir_all(&out);
}

fn cause(args: &[&str]) -> (String, String) {
    let o = run(args);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o.stderr)));
    let f = &v["findings"][0];
    (
        f["cause"].as_str().unwrap_or("").into(),
        f["summary"].as_str().unwrap_or("").into(),
    )
}

/// A bundle recorded by `capture` in the lab (healthy-ikev2, strongSwan): ESP passed, then a rule
/// on the path dropped ESP-in-UDP and sg1 pinged again. The manifest says both captures ran until
/// the end, so sg2's silence is seen: ESP stopped arriving. The same captures and logs without
/// the manifest cannot tell that silence from a capture that ended, and stay healthy.
#[test]
fn a_bundle_says_its_captures_were_still_listening() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/live/esp-stopped");
    let (c, summary) = cause(&["diagnose", "--json", dir]);
    assert_eq!(c, "esp-blocked", "{summary}");
    assert!(summary.contains("stops short of sg2"), "{summary}");
    // The state snapshots and the manifest are not logs.
    let o = run(&["diagnose", dir]);
    let report = text(&o.stdout);
    assert!(
        !report.contains("state-start") && !report.contains("manifest.json"),
        "{report}"
    );

    let bare = temp("bare");
    std::fs::create_dir_all(&bare).unwrap();
    for f in ["sg1.pcap", "sg2.pcap", "sg1-charon.log", "sg2-charon.log", "sg1-up.txt"] {
        std::fs::copy(format!("{dir}/{f}"), bare.join(f)).unwrap();
    }
    let (c, summary) = cause(&["diagnose", "--json", bare.to_str().unwrap()]);
    assert_eq!(c, "healthy", "{summary}");
    let _ = std::fs::remove_dir_all(&bare);
}

/// A followed log that is rotated (moved away, a new file in its place, as logrotate does) goes
/// on being read: the bundle's copy has the lines written before and after.
#[test]
fn a_rotated_log_goes_on_being_followed() {
    let _one = LOCAL.lock().unwrap_or_else(|e| e.into_inner());
    if !tcpdump_usable() {
        eprintln!("skipped: needs root and tcpdump");
        return;
    }
    let out = temp("rotate");
    let log = std::env::temp_dir().join(format!("ipd-rotate-{}.log", std::process::id()));
    std::fs::write(&log, "").unwrap();
    let logs = log.clone();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let line = |n: u32| format!("Dec  2 10:00:0{n}.000000: \"sg\" #1: line {n} before or after the rotation\n");
        std::thread::sleep(Duration::from_secs(3));
        std::fs::OpenOptions::new()
            .append(true)
            .open(&logs)
            .unwrap()
            .write_all(line(1).as_bytes())
            .unwrap();
        std::thread::sleep(Duration::from_secs(1));
        std::fs::rename(&logs, logs.with_extension("log.1")).unwrap();
        std::fs::write(&logs, line(2)).unwrap();
    });
    let o = run(&[
        "capture",
        "--gw",
        "here=local",
        "--log",
        &format!("here={}", log.display()),
        "--duration",
        "8",
        "-o",
        out.to_str().unwrap(),
    ]);
    writer.join().unwrap();
    let e = text(&o.stderr);
    let copy = std::fs::read_dir(&out)
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".log"))
        .unwrap_or_else(|| panic!("no log in the bundle: {e}"));
    let got = std::fs::read_to_string(&copy).unwrap();
    assert!(got.contains("line 1 before"), "{got}\n{e}");
    assert!(
        got.contains("line 2 before or after"),
        "the line after the rotation: {got}\n{e}"
    );
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(log.with_extension("log.1"));
}
