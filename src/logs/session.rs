//! Pasted terminal sessions: shell prompts, the commands typed at them, and what kind of output
//! follows each command. A command's own text (`grep NO_PROPOSAL_CHOSEN /var/log/pluto.log`) is
//! never taken for the daemon's words, and each command's output is read as what it is: an up
//! command talking to the daemon, a status listing, a log excerpt, or something we do not read.

/// What a command's output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// No command seen yet: a plain log file, or output pasted without its command.
    Plain,
    /// `ipsec auto --up`, `ipsec up`, `swanctl --initiate`: the daemon's progress for one attempt.
    Up,
    /// `ipsec status`, `ipsec whack --trafficstatus`, `swanctl --list-sas`: the SAs as they are.
    Status,
    /// `grep`, `journalctl`, `tail`, `cat` of a log: log lines (grep may prefix a file name).
    Log,
    /// Any other command (`ping`, `ip xfrm state`, `tcpdump`): not daemon output.
    Other,
}

/// What one line of a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// A prompt with the command typed at it, or a bare command line: not daemon output. The
    /// host the prompt names, if it names one.
    Command(Output, Option<&'a str>),
    /// Output of the current command, with any `FILE:` prefix of a multi-file grep removed.
    Output(Output, &'a str),
}

/// Follows a session line by line.
#[derive(Debug, Default)]
pub(crate) struct Session {
    current: Option<Output>,
}

impl Session {
    pub(crate) fn line<'a>(&mut self, line: &'a str) -> Line<'a> {
        let t = line.trim();
        if let Some((host, cmd)) = command(t) {
            let kind = kind_of(cmd);
            self.current = Some(kind);
            return Line::Command(kind, host);
        }
        let out = self.current.unwrap_or(Output::Plain);
        let body = match out {
            Output::Log | Output::Plain => strip_file_prefix(t),
            _ => t,
        };
        Line::Output(out, body)
    }
}

/// Commands people run around a tunnel. A line starting with one of these followed by
/// arguments is typed text, not daemon output (no daemon message starts with them).
const COMMANDS: &[&str] = &[
    "ipsec",
    "swanctl",
    "strongswan",
    "sudo",
    "doas",
    "grep",
    "egrep",
    "fgrep",
    "zgrep",
    "rg",
    "journalctl",
    "tail",
    "cat",
    "zcat",
    "less",
    "more",
    "head",
    "tac",
    "awk",
    "sed",
    "systemctl",
    "service",
    "ip",
    "ping",
    "ping6",
    "tcpdump",
    "tshark",
    "iptables",
    "iptables-save",
    "ip6tables",
    "nft",
    "ss",
    "netstat",
    "conntrack",
    "ssh",
    "docker",
    "kubectl",
    "pluto",
    "whack",
    "charon",
    "certutil",
    "pk",
    "ls",
    "cd",
    "echo",
    "vi",
    "vim",
    "nano",
    "date",
    "uname",
    "traceroute",
    "mtr",
];

/// The command typed on this line (with the prompt's host), if it is a prompt line or a bare
/// command line.
fn command(t: &str) -> Option<(Option<&str>, &str)> {
    if let Some((prompt, cmd)) = after_prompt(t) {
        return Some((host_of(prompt), cmd));
    }
    known_command(t).then_some((None, t))
}

/// The host a prompt names: `user@host:dir`, `[user@host dir]`, `host:~`, `host`.
fn host_of(prompt: &str) -> Option<&str> {
    let p = prompt.trim().trim_start_matches('[');
    let p = p.split_once('@').map_or(p, |(_, h)| h);
    let end = p.find([':', ' ', ']', '(']).unwrap_or(p.len());
    let host = &p[..end];
    (!host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')).then_some(host)
}

/// The first word names a known command and more follows, or it is a whole `ipsec` word
/// (`ipsec status`).
fn known_command(t: &str) -> bool {
    let mut words = t.split_whitespace();
    let Some(first) = words.next() else { return false };
    let name = first.rsplit('/').next().unwrap_or(first);
    if !COMMANDS.contains(&name) {
        return false;
    }
    // "ipsec" alone or followed by arguments; others need an argument that looks like one
    // (an option, a path, a word without the punctuation of a sentence).
    match words.next() {
        None => matches!(name, "ipsec" | "swanctl"),
        Some(arg) => {
            let arg_like = arg.starts_with('-')
                || arg.starts_with('/')
                || arg.starts_with('\'')
                || arg.starts_with('"')
                || arg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-=:/@,*".contains(c));
            // "ipsec auto has been deprecated" (5.x stderr) is not a command.
            arg_like && !t.contains(" has been deprecated")
        }
    }
}

/// The prompt and the command after it: `user@host:~# cmd`, `[user@host dir]$ cmd`, `host# cmd`,
/// `host:~ # cmd`, `$ cmd`, `# cmd`, `> cmd` (bare prompts only before a known command).
fn after_prompt(t: &str) -> Option<(&str, &str)> {
    // Look for the prompt's end: `# ` / `$ ` / `% ` / `> ` within the first 100 bytes.
    let limit = t.len().min(100);
    for (i, c) in t.char_indices() {
        if i >= limit {
            break;
        }
        if !matches!(c, '#' | '$' | '%' | '>') || t.as_bytes().get(i + 1) != Some(&b' ') {
            continue;
        }
        let prompt = &t[..i];
        let cmd = t[i + 2..].trim_start();
        if cmd.is_empty() {
            return None;
        }
        if prompt.trim().is_empty() {
            // A bare `$ ` / `# `: only with a command we know (a `# comment` is not one).
            return known_command(cmd).then_some((prompt, cmd));
        }
        if looks_like_prompt(prompt) && (known_command(cmd) || prompt.contains('@') || prompt.starts_with('[')) {
            return Some((prompt, cmd));
        }
        return None;
    }
    None
}

/// `root@sg1:~`, `[root@sg1 ~]`, `sg1`, `sg1:~ `, `user@host /etc/ipsec.d `: short, no sentence
/// punctuation, and not the start of a daemon line (`"conn" #1:`, a time stamp).
fn looks_like_prompt(p: &str) -> bool {
    let p = p.trim_end();
    if p.is_empty() || p.len() > 80 || p.starts_with('"') || p.starts_with('|') {
        return false;
    }
    if p.starts_with('[') && !p.contains(']') {
        return false;
    }
    let words = p.split_whitespace().count();
    if words > 3 {
        return false;
    }
    // A time stamp (`Nov 28 05:49:23`, `2024-11-28T05:49:23`) starts a log line, not a prompt.
    if p.as_bytes().first().is_some_and(u8::is_ascii_digit) && p.contains(':') && !p.contains('@') {
        return false;
    }
    if super::time::parse_bsd(p).is_some() || super::time::parse_iso(p).is_some() {
        return false;
    }
    p.chars()
        .all(|c| c.is_ascii_alphanumeric() || "@:~/._-[] ()".contains(c))
}

fn kind_of(cmd: &str) -> Output {
    let words: Vec<&str> = cmd
        .split_whitespace()
        .skip_while(|w| matches!(*w, "sudo" | "doas") || w.starts_with('-'))
        .collect();
    let Some(first) = words.first() else {
        return Output::Other;
    };
    let name = first.rsplit('/').next().unwrap_or(first);
    let has = |w: &str| words.contains(&w);
    let any = |ws: &[&str]| ws.iter().any(|w| has(w));
    match name {
        "ipsec" | "strongswan" | "whack" => {
            if any(&["up", "--up", "--initiate", "-i", "start-conn"]) && !has("--status") {
                Output::Up
            } else if any(&[
                "status",
                "statusall",
                "--status",
                "--trafficstatus",
                "trafficstatus",
                "showstates",
                "--showstates",
                "--briefstatus",
                "briefstatus",
                "listall",
            ]) {
                Output::Status
            } else {
                Output::Other
            }
        }
        "swanctl" => {
            if any(&["--initiate", "-i"]) {
                Output::Up
            } else if any(&["--list-sas", "-l", "--list-conns", "-L", "--stats", "-S"]) {
                Output::Status
            } else {
                Output::Other
            }
        }
        "grep" | "egrep" | "fgrep" | "zgrep" | "rg" | "journalctl" | "tail" | "cat" | "zcat" | "less" | "more"
        | "head" | "tac" | "awk" | "sed" => Output::Log,
        _ => Output::Other,
    }
}

/// `/var/log/auth.log:Nov 28 ...` or `pluto.log:123:...` from `grep` over several files (or
/// with `-n`): the text after the file name (and line number).
fn strip_file_prefix(t: &str) -> &str {
    let Some(i) = t.find(':') else { return t };
    let file = &t[..i];
    let is_path = !file.is_empty()
        && !file.contains(' ')
        && (file.contains('/')
            || file.ends_with(".log")
            || file.contains(".log.")
            || file == "messages"
            || file == "syslog"
            || file == "secure");
    if !is_path {
        return t;
    }
    let mut rest = &t[i + 1..];
    // grep -n: `file:123:line`
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && rest.as_bytes().get(digits) == Some(&b':') {
        rest = &rest[digits + 1..];
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Line<'_>> {
        let mut s = Session::default();
        text.lines().map(|l| s.line(l)).collect()
    }

    #[test]
    fn prompts_and_commands() {
        for (line, kind) in [
            ("root@sg1:~# ipsec auto --up sg", Output::Up),
            ("[root@sg1 ~]# ipsec up net", Output::Up),
            ("sg1# swanctl --initiate --child net", Output::Up),
            ("sg1:~ # sudo strongswan up net", Output::Up),
            ("$ sudo ipsec whack --trafficstatus", Output::Status),
            ("user@gw-east:/etc/ipsec.d$ ipsec status", Output::Status),
            ("# swanctl --list-sas", Output::Status),
            ("root@sg2:~# grep NO_PROPOSAL_CHOSEN /var/log/pluto.log", Output::Log),
            ("$ journalctl -u ipsec --since today", Output::Log),
            ("root@sg1:~# ping -c 3 -I 10.1.0.1 10.2.0.10", Output::Other),
            ("grep -i 'no proposal' /var/log/syslog", Output::Log),
            ("sudo ipsec auto --up sg", Output::Up),
            ("ipsec status", Output::Status),
        ] {
            assert!(matches!(kinds(line)[..], [Line::Command(k, _)] if k == kind), "{line}");
        }
    }

    #[test]
    fn prompt_hosts() {
        for (line, host) in [
            ("root@sg1:~# ipsec auto --up sg", Some("sg1")),
            ("[root@gw-east ~]# ipsec up net", Some("gw-east")),
            ("sg2# swanctl --list-sas", Some("sg2")),
            ("vpn1:~ # ipsec status", Some("vpn1")),
            ("$ ipsec status", None),
        ] {
            assert!(matches!(kinds(line)[..], [Line::Command(_, h)] if h == host), "{line}");
        }
    }

    #[test]
    fn daemon_lines_are_output() {
        for line in [
            "181 \"sg\" #1: initiating IKEv2 connection",
            "\"sg\" #1: sent IKE_SA_INIT request to 198.51.100.2:500",
            "[IKE] initiating IKE_SA sg[1] to 198.51.100.2",
            "initiating IKE_SA sg[1] to 198.51.100.2",
            "parsed IKE_SA_INIT response 0 [ N(INVAL_KE) ]",
            "Nov 28 05:49:23 sg2 pluto[1234]: \"sg\" #3: sent Main Mode R1",
            "Dec  2 11:00:01 09[IKE] <net|1> received NO_PROPOSAL_CHOSEN notify, no CHILD_SA built",
            "# a comment in a config",
            "ipsec auto has been deprecated",
            "establishing connection 'sg' failed",
            "2024-11-28T05:49:23.123456+01:00 sg1 charon[880]: 09[IKE] giving up after 5 retransmits",
        ] {
            assert!(matches!(kinds(line)[0], Line::Output(Output::Plain, _)), "{line}");
        }
    }

    #[test]
    fn output_follows_its_command_and_grep_prefixes_go() {
        let text = "root@sg2:~# grep -r sg /var/log/\n/var/log/auth.log:Nov 28 05:49:23 sg2 pluto[1]: \"sg\" #1: x\nroot@sg2:~# ipsec status\n000 \"sg\": 10.2.0.0/24===198.51.100.2";
        let k = kinds(text);
        assert_eq!(k[0], Line::Command(Output::Log, Some("sg2")));
        assert_eq!(
            k[1],
            Line::Output(Output::Log, "Nov 28 05:49:23 sg2 pluto[1]: \"sg\" #1: x")
        );
        assert_eq!(k[2], Line::Command(Output::Status, Some("sg2")));
        assert!(matches!(k[3], Line::Output(Output::Status, _)));
        assert_eq!(strip_file_prefix("pluto.log:12:\"sg\" #1: x"), "\"sg\" #1: x");
        assert_eq!(strip_file_prefix("\"sg\" #1: x"), "\"sg\" #1: x");
    }
}
