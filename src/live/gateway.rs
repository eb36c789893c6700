//! One gateway as the live doctor sees it: what its probe found (clock, tcpdump, the IKE daemon,
//! where that daemon logs) and the fixed command lines run there.

use crate::cmd::capture_filter;
use std::net::IpAddr;

/// The IKE daemon running on the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Daemon {
    /// Libreswan / Openswan.
    Pluto,
    /// strongSwan.
    Charon,
}

impl Daemon {
    pub fn name(self) -> &'static str {
        match self {
            Daemon::Pluto => "pluto",
            Daemon::Charon => "charon",
        }
    }
}

/// Where the daemon's log is followed from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "name")]
pub enum LogSource {
    File(String),
    /// A systemd unit's journal.
    Journal(String),
}

impl LogSource {
    /// `--log` takes a path, or `journal:UNIT`.
    pub fn parse(s: &str) -> Result<LogSource, String> {
        match s.strip_prefix("journal:") {
            Some(unit) => {
                super::target::check_name("journal unit", unit)?;
                Ok(LogSource::Journal(unit.to_string()))
            }
            None => {
                super::target::check_path("--log", s)?;
                Ok(LogSource::File(s.to_string()))
            }
        }
    }

    /// The command that prints new lines as they are written, from now on. `tail -F` follows
    /// the name, so a rotated or truncated log (a restarted daemon) goes on being read.
    pub fn follow_argv(&self) -> Vec<String> {
        let v: Vec<&str> = match self {
            LogSource::File(p) => vec!["tail", "-n", "0", "-F", p],
            LogSource::Journal(u) => vec!["journalctl", "-f", "-n", "0", "-o", "short-iso-precise", "-u", u],
        };
        v.into_iter().map(String::from).collect()
    }

    pub fn describe(&self) -> String {
        match self {
            LogSource::File(p) => p.clone(),
            LogSource::Journal(u) => format!("journal of {u}"),
        }
    }
}

/// What [`scripts::PROBE`] printed.
#[derive(Debug, Clone, Default)]
pub struct Probe {
    /// The gateway's clock at the probe, in seconds since the epoch.
    pub date: Option<f64>,
    pub tz: Option<String>,
    pub uid: Option<u32>,
    pub host: Option<String>,
    /// `SSH_CONNECTION`: our client address and port as the gateway sees them.
    pub ssh_client: Option<(IpAddr, u16)>,
    pub tcpdump: Option<String>,
    pub tcpdump_user: bool,
    pub daemon_args: Vec<String>,
    pub strongswan_conf: Option<String>,
    pub ipsec_version: Option<String>,
    pub swanctl_version: Option<String>,
    pub journalctl: bool,
    pub units: Vec<String>,
    pub ipsec_conf_logfile: Option<String>,
    pub logfiles: Vec<String>,
    /// `ip -o link show dev IF`, when an interface was named.
    pub iface: Option<String>,
}

impl Probe {
    pub fn parse(text: &str) -> Probe {
        let mut p = Probe::default();
        let some = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else { continue };
            match k {
                "date" => p.date = v.trim().parse().ok(),
                "tz" => p.tz = some(v),
                "uid" => p.uid = v.trim().parse().ok(),
                "host" => p.host = some(v),
                "ssh_connection" => {
                    let w: Vec<&str> = v.split_whitespace().collect();
                    if let [a, port, ..] = w[..] {
                        p.ssh_client = a.parse().ok().zip(port.parse().ok());
                    }
                }
                "tcpdump" => p.tcpdump = some(v),
                "tcpdump_user" => p.tcpdump_user = true,
                "daemon_arg" => p.daemon_args.push(v.to_string()),
                "strongswan_conf" => p.strongswan_conf = some(v),
                "ipsec_version" => p.ipsec_version = some(v),
                "swanctl_version" => p.swanctl_version = some(v),
                "journalctl" => p.journalctl = true,
                "unit" => p.units.push(v.trim().to_string()),
                "ipsec_conf_logfile" => p.ipsec_conf_logfile = some(v.trim_matches(|c| c == '"' || c == '\'')),
                "logfile" => p.logfiles.push(v.trim().to_string()),
                "iface" => p.iface = some(v),
                _ => {}
            }
        }
        p
    }

    /// The daemon running in the gateway's network namespace ([`Probe::installed`] says which
    /// one's tools are there when none runs).
    pub fn daemon(&self) -> Option<Daemon> {
        if let Some(exe) = self.daemon_args.first() {
            return Some(if exe.ends_with("pluto") {
                Daemon::Pluto
            } else {
                Daemon::Charon
            });
        }
        None
    }

    /// The daemon's tools say which daemon is installed, when none runs.
    pub fn installed(&self) -> Option<Daemon> {
        match &self.ipsec_version {
            Some(v) if v.contains("Libreswan") || v.contains("Openswan") => Some(Daemon::Pluto),
            Some(v) if v.contains("strongSwan") => Some(Daemon::Charon),
            _ => self.swanctl_version.as_ref().map(|_| Daemon::Charon),
        }
    }

    /// The daemon that runs, else the one whose tools are installed: whose commands and log
    /// to use.
    pub fn daemon_or_installed(&self) -> Option<Daemon> {
        self.daemon().or(self.installed())
    }

    pub fn daemon_version(&self) -> Option<String> {
        match self.daemon_or_installed()? {
            Daemon::Pluto => self.ipsec_version.clone(),
            Daemon::Charon => self.swanctl_version.clone().or(self.ipsec_version.clone()),
        }
    }

    /// Libreswan's major version (5 has `ipsec up`, 4 and older `ipsec auto --up`).
    fn libreswan_major(&self) -> Option<u32> {
        let v = self.ipsec_version.as_deref()?;
        let after = &v[v.find("Libreswan")? + "Libreswan".len()..];
        let num = after.trim_start().trim_start_matches(['v', 'U']);
        num.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    }

    /// The daemon's own command that brings `conn` up.
    pub fn up_argv(&self, conn: &str) -> Option<Vec<String>> {
        let v: Vec<&str> = match self.daemon_or_installed()? {
            Daemon::Pluto if self.libreswan_major().is_some_and(|m| m >= 5) => vec!["ipsec", "up", conn],
            Daemon::Pluto => vec!["ipsec", "auto", "--up", conn],
            Daemon::Charon if self.swanctl_version.is_some() => {
                vec!["swanctl", "--initiate", "--child", conn, "--timeout", "30"]
            }
            Daemon::Charon => vec!["ipsec", "up", conn],
        };
        Some(v.into_iter().map(String::from).collect())
    }

    /// pluto's `--logfile`, or `logfile=` of the `ipsec.conf` it reads.
    pub fn pluto_logfile(&self) -> Option<String> {
        let args = &self.daemon_args;
        // What the gateway says goes into a command line (tail's): checked like --log.
        let ok = |p: &String| super::target::check_path("logfile", p).is_ok();
        for (i, a) in args.iter().enumerate() {
            if let Some(v) = a.strip_prefix("--logfile=") {
                return Some(v.to_string()).filter(ok);
            }
            if a == "--logfile" {
                return args.get(i + 1).cloned().filter(ok);
            }
        }
        self.ipsec_conf_logfile.clone().filter(ok)
    }

    /// The strongSwan config files whose filelog sections say where charon writes.
    pub fn charon_configs(&self) -> Vec<String> {
        vec![
            self.strongswan_conf
                .clone()
                .unwrap_or_else(|| "/etc/strongswan.conf".into()),
            "/etc/strongswan.d/charon-logging.conf".into(),
        ]
    }

    /// Where the daemon's log is: a file the daemon names (`charon_filelogs`: charon's filelog
    /// paths), else the journal of the systemd unit running it, else the syslog file the daemon's
    /// facility goes to on Debian and Red Hat systems.
    pub fn log_source(&self, charon_filelogs: &[String]) -> Option<LogSource> {
        let daemon = self.daemon_or_installed()?;
        let named = match daemon {
            Daemon::Pluto => self.pluto_logfile(),
            Daemon::Charon => charon_filelogs.iter().find(|p| p.starts_with('/')).cloned(),
        };
        if let Some(f) = named {
            return Some(LogSource::File(f));
        }
        if self.journalctl {
            if let Some(u) = self.units.first() {
                return Some(LogSource::Journal(u.clone()));
            }
        }
        let wanted: &[&str] = match daemon {
            Daemon::Pluto => &["/var/log/pluto.log", "/var/log/auth.log", "/var/log/secure"],
            Daemon::Charon => &[
                "/var/log/charon.log",
                "/var/log/syslog",
                "/var/log/daemon.log",
                "/var/log/messages",
            ],
        };
        wanted
            .iter()
            .find(|w| self.logfiles.iter().any(|f| f == *w))
            .map(|f| LogSource::File(f.to_string()))
    }

    /// The interface is there but down (`ip -o link` shows `state DOWN`), or not there.
    pub fn iface_problem(&self) -> Option<String> {
        let l = self.iface.as_deref()?;
        if l.contains("does not exist") || l.contains("Cannot find device") {
            return Some(format!("no such interface ({l})"));
        }
        (l.contains("state DOWN") || !l.contains(",UP")).then(|| format!("the interface is down: {l}"))
    }
}

/// What to capture: everything diagnosis needs, IPv4 and IPv6, minus the ssh connection that
/// carries the capture back (it would otherwise loop into itself when `inner` covers it).
pub fn capture_filter(inner: &[String], ssh_client: Option<(IpAddr, u16)>) -> String {
    let mut f = format!("({})", capture_filter::external(None, true));
    if !inner.is_empty() {
        f = format!("{f} or ({})", capture_filter::internal(inner));
    }
    if let Some((addr, port)) = ssh_client {
        let host = if addr.is_ipv6() { "ip6 host" } else { "host" };
        f = format!("({f}) and not (tcp and {host} {addr} and port {port})");
    }
    f
}

/// The gateway's tcpdump writing pcap to standard output, a packet at a time (`-U`), with
/// privileges dropped when its user exists.
pub fn tcpdump_argv(iface: &str, filter: &str, drop_to_user: bool) -> Vec<String> {
    let mut v: Vec<String> = ["tcpdump", "-i", iface, "-n", "-s", "0", "-U", "-w", "-"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if drop_to_user {
        v.extend(["-Z".into(), "tcpdump".into()]);
    }
    v.push(filter.to_string());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const LSW: &str =
        "date=1764684000.250000000\ntz=+0000\nuid=0\nhost=sg1\nssh_connection=192.0.2.9 50022 192.0.2.1 22\n\
tcpdump=tcpdump version 4.99.3\ntcpdump_user=yes\ndaemon_pid=42\ndaemon_arg=/usr/libexec/ipsec/pluto\n\
daemon_arg=--nofork\ndaemon_arg=--logfile\ndaemon_arg=/tmp/run/pluto.log\nipsec_version=Libreswan 4.10\n\
journalctl=yes\nlogfile=/var/log/auth.log\n";

    #[test]
    fn reads_a_libreswan_probe() {
        let p = Probe::parse(LSW);
        assert_eq!(p.date, Some(1764684000.25));
        assert_eq!(p.ssh_client, Some(("192.0.2.9".parse().unwrap(), 50022)));
        assert_eq!(p.daemon(), Some(Daemon::Pluto));
        assert_eq!(p.up_argv("sg").unwrap(), ["ipsec", "auto", "--up", "sg"]);
        assert_eq!(p.log_source(&[]), Some(LogSource::File("/tmp/run/pluto.log".into())));
        assert!(p.tcpdump_user);
    }

    #[test]
    fn libreswan_5_and_strongswan_choose_their_own_commands() {
        let p = Probe::parse("daemon_arg=/usr/local/libexec/ipsec/pluto\nipsec_version=Libreswan 5.4\n");
        assert_eq!(p.up_argv("sg").unwrap(), ["ipsec", "up", "sg"]);
        let p = Probe::parse("daemon_arg=/usr/lib/ipsec/charon\nswanctl_version=strongSwan swanctl 5.9.8\nunit=strongswan\njournalctl=yes\n");
        assert_eq!(p.daemon(), Some(Daemon::Charon));
        assert_eq!(
            p.up_argv("net").unwrap()[..4],
            ["swanctl", "--initiate", "--child", "net"]
        );
        // No filelog: the unit's journal.
        assert_eq!(p.log_source(&[]), Some(LogSource::Journal("strongswan".into())));
        assert_eq!(
            p.log_source(&["/var/log/charon.log".into()]),
            Some(LogSource::File("/var/log/charon.log".into()))
        );
    }

    #[test]
    fn no_daemon_no_log() {
        let p = Probe::parse("date=1\nlogfile=/var/log/syslog\n");
        assert_eq!(p.daemon(), None);
        assert_eq!(p.log_source(&[]), None);
        assert_eq!(p.up_argv("sg"), None);
    }

    #[test]
    fn interface_state() {
        let p =
            Probe::parse("iface=3: eth1@if2: <BROADCAST,MULTICAST> mtu 1500 qdisc noqueue state DOWN mode DEFAULT\n");
        assert!(p.iface_problem().unwrap().contains("down"));
        let p = Probe::parse("iface=3: eth1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n");
        assert_eq!(p.iface_problem(), None);
        let p = Probe::parse("iface=Device \"eth9\" does not exist.\n");
        assert!(p.iface_problem().unwrap().contains("no such interface"));
    }

    #[test]
    fn the_filter_leaves_out_our_own_ssh_connection() {
        let f = capture_filter(&["10.1.0.0/24".into()], Some(("192.0.2.9".parse().unwrap(), 50022)));
        assert!(f.ends_with("and not (tcp and host 192.0.2.9 and port 50022)"), "{f}");
        assert!(f.contains("net 10.1.0.0/24"));
        assert!(f.contains("ip6[6] == 44"), "IPv6 fragments kept: {f}");
    }
}
