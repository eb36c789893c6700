//! Where a gateway's commands run: this machine, a host reached with the system's OpenSSH
//! client, or any command prefix that runs a command there (`ip netns exec sg2`, `docker exec -i
//! gw2`, `kubectl exec -i pod --`).
//!
//! Commands are argument vectors and never shell text. The one place a command line is parsed
//! by a shell is the remote end of ssh, which always hands the command to the login shell, so
//! there every word is single-quoted.

use std::process::{Command, Stdio};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Local,
    Ssh {
        /// `[user@]host`, as ssh takes it.
        dest: String,
        port: Option<u16>,
        /// `-o` options given with `--ssh-option`.
        options: Vec<String>,
    },
    Exec(Vec<String>),
}

impl Target {
    /// `local`, `ssh:[user@]host[:port]` (an IPv6 host in brackets), or `exec:PREFIX WORDS...`.
    pub fn parse(s: &str, ssh_options: &[String]) -> Result<Target, String> {
        if s == "local" {
            return Ok(Target::Local);
        }
        if let Some(rest) = s.strip_prefix("exec:") {
            let words: Vec<String> = rest.split_whitespace().map(str::to_string).collect();
            if words.is_empty() {
                return Err("exec: needs a command prefix, e.g. exec:ip netns exec sg2".into());
            }
            return Ok(Target::Exec(words));
        }
        if let Some(rest) = s.strip_prefix("ssh:") {
            let (user, hostport) = match rest.rsplit_once('@') {
                Some((u, h)) => (Some(u), h),
                None => (None, rest),
            };
            let (host, port) = split_port(hostport)?;
            if let Some(u) = user {
                if u.is_empty()
                    || !u.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                    || u.starts_with('-')
                {
                    return Err(format!("ssh: '{u}' is not a user name"));
                }
            }
            let host_ok = !host.is_empty()
                && !host.starts_with('-')
                && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:%".contains(c));
            if !host_ok {
                return Err(format!("ssh: '{host}' is not a host name or address"));
            }
            for o in ssh_options {
                if o.starts_with('-') || !o.contains('=') || o.chars().any(char::is_control) {
                    return Err(format!("--ssh-option '{o}': expected KEY=VALUE, as ssh -o takes it"));
                }
            }
            let dest = match user {
                Some(u) => format!("{u}@{host}"),
                None => host.to_string(),
            };
            return Ok(Target::Ssh {
                dest,
                port,
                options: ssh_options.to_vec(),
            });
        }
        Err(format!(
            "'{s}': a target is local, ssh:[user@]host[:port] or exec:PREFIX (e.g. exec:ip netns exec sg2)"
        ))
    }

    /// The local command that runs `argv` on the gateway, with no terminal and its own process
    /// group (a Ctrl-C on our terminal is ours to handle: we stop the gateway's commands in
    /// order, through their standard input).
    pub fn command(&self, argv: &[String]) -> Command {
        let words = self.words(argv);
        let mut c = Command::new(&words[0]);
        c.args(&words[1..]);
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        c
    }

    /// The local argument vector for `argv` on the gateway.
    pub fn words(&self, argv: &[String]) -> Vec<String> {
        match self {
            Target::Local => argv.to_vec(),
            Target::Exec(prefix) => prefix.iter().chain(argv).cloned().collect(),
            Target::Ssh { dest, port, options } => {
                let mut w: Vec<String> = vec!["ssh".into(), "-T".into()];
                // Non-interactive: fail rather than ask for a password; notice a dead link.
                for o in [
                    "BatchMode=yes",
                    "ConnectTimeout=10",
                    "ServerAliveInterval=5",
                    "ServerAliveCountMax=3",
                ] {
                    if !options.iter().any(|u| same_key(u, o)) {
                        w.extend(["-o".into(), o.into()]);
                    }
                }
                for o in options {
                    w.extend(["-o".into(), o.clone()]);
                }
                if let Some(p) = port {
                    w.extend(["-p".into(), p.to_string()]);
                }
                w.push("--".into());
                w.push(dest.clone());
                w.push(argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "));
                w
            }
        }
    }

    /// How the target reads in messages: `ssh root@gw2`, `exec ip netns exec sg2`, `local`.
    pub fn describe(&self) -> String {
        match self {
            Target::Local => "local".into(),
            Target::Ssh { dest, port, .. } => match port {
                Some(p) => format!("ssh {dest} port {p}"),
                None => format!("ssh {dest}"),
            },
            Target::Exec(p) => format!("exec {}", p.join(" ")),
        }
    }

    pub fn is_ssh(&self) -> bool {
        matches!(self, Target::Ssh { .. })
    }
}

fn same_key(a: &str, b: &str) -> bool {
    let key = |s: &str| s.split('=').next().unwrap_or("").trim().to_ascii_lowercase();
    key(a) == key(b)
}

fn split_port(s: &str) -> Result<(&str, Option<u16>), String> {
    let bad_port = |p: &str| format!("ssh: '{p}' is not a port");
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("ssh: '{s}': no closing ]"))?;
        return match after.strip_prefix(':') {
            Some(p) => Ok((host, Some(p.parse().map_err(|_| bad_port(p))?))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(format!("ssh: '{s}': unexpected text after ]")),
        };
    }
    match s.split_once(':') {
        // More than one colon: a bare IPv6 address, no port.
        Some((_, p)) if p.contains(':') => Ok((s, None)),
        Some((h, p)) => Ok((h, Some(p.parse().map_err(|_| bad_port(p))?))),
        None => Ok((s, None)),
    }
}

/// One word for a POSIX shell: single-quoted unless it is plainly safe.
pub fn quote(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A command line as one string a user can paste (for `--dry-run` and messages).
pub fn shell_line(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// Names that go into a gateway's command lines: connection, interface and unit names. Letters,
/// digits and `._-:@+`, not starting with `-` (no option injection), at most 64 bytes.
pub fn check_name(what: &str, s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('-')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-:@+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} '{s}': only letters, digits and ._-:@+ are allowed (not starting with -)"
        ))
    }
}

/// A file on the gateway: an absolute path without control characters.
pub fn check_path(what: &str, s: &str) -> Result<(), String> {
    if s.starts_with('/') && !s.chars().any(char::is_control) && s.len() <= 4096 {
        Ok(())
    } else {
        Err(format!("{what} '{s}': expected an absolute path"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses_the_three_kinds() {
        assert_eq!(Target::parse("local", &[]).unwrap(), Target::Local);
        assert_eq!(
            Target::parse("exec:ip netns exec sg2", &[]).unwrap(),
            Target::Exec(s(&["ip", "netns", "exec", "sg2"]))
        );
        let t = Target::parse("ssh:root@[2001:db8::2]:2222", &[]).unwrap();
        assert_eq!(
            t,
            Target::Ssh {
                dest: "root@2001:db8::2".into(),
                port: Some(2222),
                options: vec![]
            }
        );
        let t = Target::parse("ssh:gw2", &[]).unwrap();
        assert!(matches!(t, Target::Ssh { port: None, .. }));
        assert!(Target::parse("ssh:-oProxyCommand=x", &[]).is_err());
        assert!(Target::parse("ssh:gw2:notaport", &[]).is_err());
        assert!(Target::parse("exec:", &[]).is_err());
        assert!(Target::parse("telnet:gw", &[]).is_err());
        assert!(Target::parse("ssh:gw", &s(&["-F/etc/x"])).is_err());
    }

    #[test]
    fn ssh_quotes_every_word_for_the_remote_shell() {
        let t = Target::parse("ssh:root@gw2:22", &s(&["IdentityFile=/k", "batchmode=no"])).unwrap();
        let w = t.words(&s(&["tail", "-F", "/var/log/a b;$(reboot)'x"]));
        let remote = w.last().unwrap();
        assert_eq!(remote, r#"tail -F '/var/log/a b;$(reboot)'\''x'"#);
        // The user's BatchMode wins over ours; ours fill in the rest.
        assert!(!w.contains(&"BatchMode=yes".to_string()));
        assert!(w.contains(&"batchmode=no".to_string()));
        assert!(w.contains(&"ConnectTimeout=10".to_string()));
        let dash = w.iter().position(|x| x == "--").unwrap();
        assert_eq!(w[dash + 1], "root@gw2");
    }

    #[test]
    fn exec_prefix_is_prepended_without_a_shell() {
        let t = Target::parse("exec:docker exec -i gw2", &[]).unwrap();
        assert_eq!(
            t.words(&s(&["ipsec", "status"])),
            s(&["docker", "exec", "-i", "gw2", "ipsec", "status"])
        );
    }

    #[test]
    fn names_and_paths_are_checked() {
        assert!(check_name("connection", "site-to-site_2").is_ok());
        assert!(check_name("connection", "-x").is_err());
        assert!(check_name("connection", "a;b").is_err());
        assert!(check_name("interface", "").is_err());
        assert!(check_path("--log", "/var/log/pluto.log").is_ok());
        assert!(check_path("--log", "pluto.log").is_err());
        assert!(check_path("--log", "/a\nb").is_err());
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("eth0"), "eth0");
    }
}
