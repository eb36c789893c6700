//! The command line: tcpdump habits on `dump` get one clear line and exit status 2, `--help`
//! carries the exit statuses, the capture command and the docs, completions and the man page
//! come from the CLI definition, and the text report follows the terminal (width, colour).

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ipsec-doctor");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn example(p: &str) -> String {
    format!("{ROOT}/examples/{p}")
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `dump ARGS` fails with exactly `ipsec-doctor: MESSAGE` on one line, exit 2, nothing printed.
fn refused(args: &[&str], message: &str) {
    let mut all = vec!["dump"];
    all.extend_from_slice(args);
    let o = run(&all);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert_eq!(stderr(&o), format!("ipsec-doctor: {message}\n"), "{args:?}");
    assert!(o.stdout.is_empty(), "{args:?}");
}

#[test]
fn unsupported_tcpdump_flags_are_named_wherever_they_stand() {
    let f = example("healthy-ikev1/sg1.pcap");
    let f = f.as_str();
    let cases: &[(&str, &str)] = &[
        ("-X", "hex and ASCII dump"),
        ("-XX", "hex and ASCII dump with the link-level header"),
        ("-x", "hex dump"),
        ("-xx", "hex dump with the link-level header"),
        ("-A", "print each packet in ASCII"),
        ("-q", "quick, shorter output"),
        ("-l", "line-buffered output"),
        ("-S", "absolute TCP sequence numbers"),
        ("-K", "do not verify checksums"),
        ("-p", "no promiscuous mode"),
        ("-U", "packet-buffered output"),
    ];
    for (flag, what) in cases {
        let msg = format!("not supported: {flag} ({what}); use tcpdump {flag}");
        refused(&[flag, "-r", f], &msg);
        refused(&["-r", f, flag], &msg);
        refused(&["-n", "-r", f, "-v", flag], &msg);
    }
    // Flags with a value: the value is not taken for a file or a filter.
    for (flag, value, what) in [
        ("-w", "out.pcap", "write packets to a file"),
        ("-i", "eth0", "live capture on an interface"),
        ("-s", "0", "snapshot length"),
        ("-V", "files.txt", "read a list of capture files"),
        ("-F", "filter.txt", "filter expression from a file"),
    ] {
        let msg = format!("not supported: {flag} ({what}); use tcpdump {flag}");
        refused(&[flag, value, "-r", f], &msg);
        refused(&["-r", f, flag, value], &msg);
    }
    // Grouped the way tcpdump users type them.
    refused(
        &["-nnvvXX", "-r", f],
        "not supported: -XX (hex and ASCII dump with the link-level header); use tcpdump -XX",
    );
    refused(
        &["-r", f, "-nS"],
        "not supported: -S (absolute TCP sequence numbers); use tcpdump -S",
    );
    refused(
        &["-i", "eth0"],
        "not supported: -i (live capture on an interface); use tcpdump -i",
    );
    refused(
        &["-r", f, "--immediate-mode"],
        "not supported: --immediate-mode (immediate mode for live capture); use tcpdump --immediate-mode",
    );
    refused(
        &["--time-stamp-precision=nano", "-r", f],
        "not supported: --time-stamp-precision (time stamp precision); use tcpdump --time-stamp-precision",
    );
}

/// `-E` as tcpdump's: decrypts, warns about what it skips as tcpdump words it, stops on a bad hex
/// digit or a missing file before printing, and never prints a key.
#[test]
fn dump_e_decrypts_and_warns_as_tcpdump() {
    let f = format!("{ROOT}/tests/data/corpus/tcpdump/02-sunrise-sunset-esp.pcap");
    let key = "0x4043434545464649494a4a4c4c4f4f515152525454575758";
    let o = run(&[
        "dump",
        "-n",
        "-c",
        "1",
        "-r",
        &f,
        "-E",
        &format!("3des-cbc-hmac96:{key}"),
    ]);
    assert!(o.status.success());
    assert!(stdout(&o)
        .ends_with("length 116: IP 192.0.2.1 > 192.0.1.1: ICMP echo request, id 28416, seq 1280, length 64\n"));
    let o = run(&[
        "dump",
        "-r",
        &f,
        "-c",
        "1",
        "-E",
        &format!("foo-hmac96:{key}, 3des:{key}"),
    ]);
    assert!(o.status.success());
    assert_eq!(
        stderr(&o),
        "ipsec-doctor: WARNING: failed to find cipher algo foo\n\
         ipsec-doctor: WARNING: print_esp: failed to decode spi# \n"
    );
    assert!(stdout(&o).ends_with("length 116\n"));
    for (spec, msg) in [
        ("3des:0x1g", "ipsec-doctor: invalid hex digit g in espsecret\n"),
        (
            "file /nonexistent/k",
            "ipsec-doctor: can't open /nonexistent/k: No such file or directory\n",
        ),
    ] {
        let o = run(&["dump", "-r", &f, "-E", spec]);
        assert_eq!(o.status.code(), Some(2));
        assert_eq!(stderr(&o), msg);
        assert!(o.stdout.is_empty());
    }
    let o = run(&["dump", "-vvvv", "-r", &f, "-E", &format!("aes128:{key}")]);
    let all = stdout(&o) + &stderr(&o);
    assert!(all.contains("ciphertext size 92 is not a multiple of the cipher block size 16"));
    assert!(!all.contains("4043434545"), "a key was printed");
}

#[test]
fn a_file_without_r_gets_r_suggested() {
    let f = example("healthy-ikev1/sg1.pcap");
    refused(
        &[&f],
        &format!("the capture file is read with -r, as in tcpdump: ipsec-doctor dump -r {f}"),
    );
    refused(
        &["-v", &f],
        &format!("the capture file is read with -r, as in tcpdump: ipsec-doctor dump -r {f}"),
    );
}

/// tcpdump 4.99.3 says `tcpdump: invalid packet count 0` (checked below when it is installed).
#[test]
fn count_zero_is_refused_as_tcpdump_refuses_it() {
    let f = example("healthy-ikev1/sg1.pcap");
    for c in ["0", "-1", "abc"] {
        refused(&["-c", c, "-r", &f], &format!("invalid packet count {c}"));
        refused(&["-r", &f, "-c", c], &format!("invalid packet count {c}"));
    }
    refused(&["-c0", "-r", &f], "invalid packet count 0");
    if Path::new("/usr/bin/tcpdump").exists() {
        for c in ["0", "-1", "abc"] {
            let o = Command::new("/usr/bin/tcpdump")
                .args(["-c", c, "-r", &f])
                .output()
                .unwrap();
            assert!(!o.status.success());
            assert!(
                stderr(&o)
                    .lines()
                    .any(|l| l == format!("tcpdump: invalid packet count {c}")),
                "{}",
                stderr(&o)
            );
        }
    }
    // What works still works: -c 2 prints two lines.
    let o = run(&["dump", "-c", "2", "-r", &f]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout(&o).lines().count(), 2);
    for number in ["-#", "--number"] {
        let o = run(&["dump", "-nn", "-vv", number, "-r", &f, "-c", "1"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stdout(&o).starts_with("    1  "), "{}", stdout(&o));
    }
}

#[test]
fn filter_expressions_are_refused() {
    let f = example("healthy-ikev1/sg1.pcap");
    refused(
        &["-r", &f, "udp", "port", "500"],
        "filter expressions (udp port 500) are not supported; dump prints every packet",
    );
}

#[test]
fn help_gives_exit_statuses_capture_command_and_docs() {
    for args in [&["diagnose", "--help"][..], &["--help"][..]] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(0));
        let h = stdout(&o);
        assert!(
            h.contains("Exit status: 0 the tunnel is healthy, 1 a problem was found, 2 the input could not be used"),
            "{h}"
        );
        assert!(h.contains("docs/causes.md") && h.contains("docs/json.md"), "{h}");
        assert!(h.contains("capture-filter"), "{h}");
    }
    // diagnose --help shows the capture command itself, with the filter capture-filter prints.
    let filter = stdout(&run(&["capture-filter", "--filter-only"]));
    let h = stdout(&run(&["diagnose", "--help"]));
    assert!(
        h.contains(&format!(
            "tcpdump -i EXT_IF -n -p -s 0 -w \"$(hostname -s).pcap\" '{}'",
            filter.trim()
        )),
        "{h}"
    );
    // The docs it points to are there.
    for d in ["docs/causes.md", "docs/json.md", "docs/diagnose.schema.json"] {
        assert!(Path::new(ROOT).join(d).exists(), "{d}");
    }
}

#[test]
fn capture_filter_prints_both_commands() {
    let o = run(&[
        "capture-filter",
        "--peer",
        "198.51.100.2",
        "--inner",
        "10.1.0.0/24",
        "--inner",
        "10.2.0.0/24",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let s = stdout(&o);
    let cmds: Vec<&str> = s.lines().filter(|l| l.starts_with("tcpdump ")).collect();
    assert_eq!(cmds.len(), 2, "{s}");
    assert!(
        cmds[0].contains("host 198.51.100.2") && cmds[0].contains("(ip[6:2] & 0x1fff) != 0"),
        "{s}"
    );
    assert!(cmds[1].ends_with("'net 10.1.0.0/24 or net 10.2.0.0/24'"), "{s}");
    // IPv6: fragment headers and ICMPv6 errors.
    let s = stdout(&run(&["capture-filter", "--ipv6"]));
    assert!(s.contains("ip6[6] == 44") && s.contains("icmp6-packettoobig"), "{s}");
    let o = run(&["capture-filter", "--peer", "not-an-address"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn completions_for_bash_zsh_fish() {
    for (shell, marker) in [
        ("bash", "-o bashdefault -o default ipsec-doctor"),
        ("zsh", "#compdef ipsec-doctor"),
        ("fish", "complete -c ipsec-doctor"),
    ] {
        let o = run(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}: {}", stderr(&o));
        let s = stdout(&o);
        assert!(s.contains(marker), "{shell}: {s}");
        for word in ["diagnose", "dump", "capture-filter", "max-ike", "timeline"] {
            assert!(s.contains(word), "{shell} completion lacks {word}");
        }
        // The script parses in its shell, where the shell is installed.
        let sh = format!("/usr/bin/{shell}");
        if Path::new(&sh).exists() {
            let file = std::env::temp_dir().join(format!("ipsec-doctor-completion-{}.{shell}", std::process::id()));
            std::fs::write(&file, &s).unwrap();
            let o = Command::new(&sh).arg("-n").arg(&file).output().unwrap();
            assert!(o.status.success(), "{shell} -n: {}", stderr(&o));
            let _ = std::fs::remove_file(&file);
        }
    }
    let o = run(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn man_page_is_up_to_date_and_renders() {
    let o = run(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    let page = Path::new(ROOT).join("docs/ipsec-doctor.1");
    let committed = std::fs::read(&page).unwrap_or_default();
    if committed != o.stdout {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&page, &o.stdout).unwrap();
        } else {
            panic!("docs/ipsec-doctor.1 is out of date: UPDATE_DOCS=1 cargo test --release --test cli");
        }
    }
    let roff = stdout(&o);
    for s in [
        "IPSEC-DOCTOR DIAGNOSE",
        "IPSEC-DOCTOR DUMP",
        "IPSEC-DOCTOR CAPTURE-FILTER",
        "Exit status",
    ] {
        assert!(roff.contains(s), "{s}");
    }
    if !Path::new("/usr/bin/man").exists() {
        assert!(std::env::var_os("CI").is_none(), "CI must install man-db");
        eprintln!("skipped: man is not installed");
        return;
    }
    let o = Command::new("/usr/bin/man")
        .args(["--warnings", "-l"])
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // groff's complaints about the roff (man's own notes, e.g. about the locale, do not count).
    let warnings: Vec<&str> = o
        .stderr
        .split(|&b| b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
        .filter(|l| l.contains("troff") || l.contains("warning"))
        .collect();
    assert!(warnings.is_empty(), "roff warnings: {warnings:?}");
    let text = stdout(&o);
    for s in [
        "SYNOPSIS",
        "IPSEC-DOCTOR DIAGNOSE",
        "--max-frag-datagrams",
        "capture-filter",
        "docs/causes.md",
    ] {
        assert!(text.contains(s), "man -l lacks {s}:\n{text}");
    }
}

fn diagnose_env(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = Command::new(BIN);
    c.arg("diagnose")
        .args(args)
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR");
    for (k, v) in env {
        c.env(k, v);
    }
    String::from_utf8(c.output().unwrap().stdout).unwrap()
}

#[test]
fn text_wraps_to_columns_and_keeps_fields_with_values() {
    let ex = example("esp-one-way-ikev1");
    let widest = |s: &str| s.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    // Not a terminal, no COLUMNS: 80.
    let s80 = diagnose_env(&[&ex], &[]);
    assert!(widest(&s80) <= 80 && widest(&s80) > 70, "{s80}");
    for cols in [50usize, 100, 160] {
        let s = diagnose_env(&[&ex], &[("COLUMNS", &cols.to_string())]);
        assert!(widest(&s) <= cols, "COLUMNS={cols}:\n{s}");
        // The same words, only wrapped differently.
        assert_eq!(
            s.split_whitespace().collect::<Vec<_>>(),
            s80.split_whitespace().collect::<Vec<_>>()
        );
        // A field never ends a line with its value on the next.
        for l in s.lines() {
            let last = l.split_whitespace().last().unwrap_or("");
            assert!(
                !["SPI", "seq", "msgid", "spi"].contains(&last),
                "COLUMNS={cols}: {l:?} ends with a field\n{s}"
            );
        }
    }
    let wide = diagnose_env(&[&ex], &[("COLUMNS", "160")]);
    assert!(wide.lines().count() < s80.lines().count());
}

/// Colour in auto mode needs a terminal: `script` gives the binary one.
#[test]
fn colour_off_for_dumb_terminals_and_no_color() {
    if !Path::new("/usr/bin/script").exists() {
        eprintln!("skipped: script (util-linux) is not installed");
        return;
    }
    let ex = example("psk-mismatch-ikev1");
    let on_tty = |env: &[(&str, &str)]| {
        let mut c = Command::new("/usr/bin/script");
        c.args(["-qec", &format!("{BIN} diagnose {ex}"), "/dev/null"])
            .env_remove("NO_COLOR")
            .env("TERM", "xterm");
        for (k, v) in env {
            c.env(k, v);
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    };
    assert!(on_tty(&[]).contains("\x1b[31;1m"), "a terminal gets colour");
    assert!(!on_tty(&[("TERM", "dumb")]).contains('\x1b'), "TERM=dumb");
    assert!(!on_tty(&[("NO_COLOR", "1")]).contains('\x1b'), "NO_COLOR");
    // --color always still colours, whatever TERM says.
    let s = diagnose_env(&["--color", "always", &ex], &[("TERM", "dumb")]);
    assert!(s.contains("\x1b[31;1m"));
}

#[test]
fn limit_warning_says_what_was_dropped_and_what_was_analysed() {
    let o = run(&["diagnose", "--max-ike", "3", &example("healthy-ikev1/sg1.pcap")]);
    let e = stderr(&o);
    let line = e
        .lines()
        .find(|l| l.contains("limits reached"))
        .unwrap_or_else(|| panic!("{e}"));
    assert!(line.contains("IKE messages past --max-ike were left out"), "{line}");
    assert!(
        line.contains("the rest was analysed") && line.contains("3 IKE messages"),
        "{line}"
    );
}
