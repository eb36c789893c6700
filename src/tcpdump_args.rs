//! tcpdump habits on the `dump` command line: flags tcpdump has and we do not get one line that
//! says so (wherever they stand, before or after `-r`), a capture named without `-r` gets the
//! `-r` suggested, and `-c` is checked as tcpdump checks it. Runs before clap, which would
//! otherwise call them missing arguments or filter expressions.

use std::ffi::OsString;

/// tcpdump's short flags that `dump` does not implement, and what each does. `x` and `X` are
/// handled apart (`-xx`, `-XX`).
const SHORT: &[(char, &str)] = &[
    ('A', "print each packet in ASCII"),
    ('b', "BGP AS numbers in ASDOT notation"),
    ('B', "capture buffer size"),
    ('C', "rotate the output file by size"),
    ('d', "print the compiled filter"),
    ('D', "list the capture interfaces"),
    ('f', "foreign IPv4 addresses numerically"),
    ('F', "filter expression from a file"),
    ('G', "rotate the output file by time"),
    ('H', "802.11s mesh headers"),
    ('i', "live capture on an interface"),
    ('I', "monitor mode"),
    ('j', "time stamp type"),
    ('J', "list time stamp types"),
    ('K', "do not verify checksums"),
    ('l', "line-buffered output"),
    ('L', "list data link types"),
    ('m', "SMI MIB module"),
    ('M', "TCP-MD5 secret"),
    ('N', "host names without domain"),
    ('O', "no filter optimiser"),
    ('p', "no promiscuous mode"),
    ('Q', "capture direction"),
    ('q', "quick, shorter output"),
    ('s', "snapshot length"),
    ('S', "absolute TCP sequence numbers"),
    ('T', "interpret packets as another protocol"),
    ('u', "undecoded NFS handles"),
    ('U', "packet-buffered output"),
    ('V', "read a list of capture files"),
    ('w', "write packets to a file"),
    ('W', "number of rotated files"),
    ('y', "data link type"),
    ('z', "command after rotating a file"),
    ('Z', "drop privileges to a user"),
];

/// tcpdump's long options that `dump` does not implement.
const LONG: &[(&str, &str)] = &[
    ("buffer-size", "capture buffer size"),
    ("count", "print only the number of packets"),
    ("direction", "capture direction"),
    ("dont-verify-checksums", "do not verify checksums"),
    ("immediate-mode", "immediate mode for live capture"),
    ("interface", "live capture on an interface"),
    ("list-interfaces", "list the capture interfaces"),
    ("list-time-stamp-types", "list time stamp types"),
    ("micro", "time stamps in microseconds"),
    ("monitor-mode", "monitor mode"),
    ("nano", "time stamps in nanoseconds"),
    ("no-optimize", "no filter optimiser"),
    ("no-promiscuous-mode", "no promiscuous mode"),
    ("print", "print packets while writing them"),
    ("relinquish-privileges", "drop privileges to a user"),
    ("snapshot-length", "snapshot length"),
    ("time-stamp-precision", "time stamp precision"),
    ("time-stamp-type", "time stamp type"),
];

/// Short flags `dump` implements: without a value, and with one.
const OURS: &str = "nve#th";
const OURS_WITH_VALUE: &str = "rcE";

fn unsupported(flag: &str, what: &str) -> String {
    format!("not supported: {flag} ({what}); use tcpdump {flag}")
}

/// Checks a `-c` value as tcpdump does (a count of at least 1).
pub fn check_count(v: &str) -> Result<u64, String> {
    match v.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("invalid packet count {v}")),
    }
}

/// Checks the arguments after `dump`; `Err` is the one-line message (exit status 2).
pub fn check_dump(args: &[OsString]) -> Result<(), String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut positional: Vec<&str> = Vec::new();
    let mut read = false;
    let mut i = 0;
    let mut rest = false;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        if rest || a == "-" || !a.starts_with('-') {
            positional.push(a);
            continue;
        }
        if a == "--" {
            rest = true;
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or(long);
            if let Some((_, what)) = LONG.iter().find(|(n, _)| *n == name) {
                return Err(unsupported(&format!("--{name}"), what));
            }
            continue;
        }
        let chars: Vec<char> = a[1..].chars().collect();
        let mut k = 0;
        while k < chars.len() {
            let c = chars[k];
            if OURS.contains(c) {
                k += 1;
                continue;
            }
            if OURS_WITH_VALUE.contains(c) {
                let inline: String = chars[k + 1..].iter().collect();
                let value = if inline.is_empty() {
                    i += 1;
                    args.get(i - 1).cloned()
                } else {
                    Some(inline)
                };
                if let Some(v) = value {
                    if c == 'c' {
                        check_count(&v)?;
                    } else if c == 'r' {
                        read = true;
                    }
                }
                break;
            }
            if c == 'x' || c == 'X' {
                let twice = chars.get(k + 1) == Some(&c);
                let what = match (c, twice) {
                    ('x', false) => "hex dump",
                    ('x', true) => "hex dump with the link-level header",
                    ('X', false) => "hex and ASCII dump",
                    _ => "hex and ASCII dump with the link-level header",
                };
                let flag = if twice { format!("-{c}{c}") } else { format!("-{c}") };
                return Err(unsupported(&flag, what));
            }
            if let Some((_, what)) = SHORT.iter().find(|(f, _)| *f == c) {
                return Err(unsupported(&format!("-{c}"), what));
            }
            // Not tcpdump's either: clap says it is unknown.
            break;
        }
    }
    if !read {
        if let Some(p) = positional.first() {
            return Err(format!(
                "the capture file is read with -r, as in tcpdump: ipsec-doctor dump -r {p}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(args: &[&str]) -> Result<(), String> {
        check_dump(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn flags_anywhere() {
        assert_eq!(
            check(&["-X", "-r", "f"]).unwrap_err(),
            "not supported: -X (hex and ASCII dump); use tcpdump -X"
        );
        assert_eq!(
            check(&["-r", "f", "-nnXX"]).unwrap_err(),
            "not supported: -XX (hex and ASCII dump with the link-level header); use tcpdump -XX"
        );
        assert!(check(&["-r", "f", "-s", "0"])
            .unwrap_err()
            .starts_with("not supported: -s "));
        assert!(check(&["-rf", "-vvv", "-#", "-c", "3", "-tttt"]).is_ok());
        // A value is not read as flags: a file named -X.
        assert!(check(&["-r", "-X"]).is_ok());
        assert_eq!(check(&["-c", "0", "-r", "f"]).unwrap_err(), "invalid packet count 0");
        assert_eq!(check(&["-c0", "-r", "f"]).unwrap_err(), "invalid packet count 0");
        assert!(check(&["x.pcap"]).unwrap_err().ends_with("dump -r x.pcap"));
        assert!(check(&["-r", "f", "udp"]).is_ok());
    }
}
