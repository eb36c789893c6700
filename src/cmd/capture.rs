//! `ipsec-doctor capture` and `watch`: the command line checked into a [`Plan`], then the live
//! session runs it.

use crate::inputs::Limits;
use crate::live::gateway::LogSource;
use crate::live::session::{self, GwPlan, Plan};
use crate::live::target::{check_name, Target};
use std::net::IpAddr;
use std::path::PathBuf;

/// What `capture` and `watch` take: the flags, then what the command sets.
#[derive(clap::Args)]
pub struct Args {
    /// A gateway and how to run commands there: local, ssh:[user@]host[:port], or exec:PREFIX
    /// (ip netns exec sg2, docker exec -i gw2, kubectl exec -i pod --); once or twice, the first initiates
    #[arg(long = "gw", value_name = "NAME=TARGET", required = true)]
    pub gw: Vec<String>,
    /// Capture on this interface of that gateway (default: all, -i any)
    #[arg(long, value_name = "NAME=IF")]
    pub iface: Vec<String>,
    /// Follow this log of that gateway: a path, or journal:UNIT (default: found by asking the daemon)
    #[arg(long, value_name = "NAME=PATH")]
    pub log: Vec<String>,
    /// Bring this connection up on the first gateway with the daemon's own command
    #[arg(long, value_name = "CONN")]
    pub up: Option<String>,
    /// Once the up command is done, ping DST from SRC (an internal address of the first gateway)
    #[arg(long, num_args = 2, value_names = ["SRC", "DST"])]
    pub ping: Vec<IpAddr>,
    /// A protected subnet: capture its traffic too; repeat for each
    #[arg(long, value_name = "SUBNET")]
    pub inner: Vec<String>,
    /// Stop after this many seconds (capture: 60 by default; watch: no end)
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// The bundle folder (capture: ./ipsec-doctor-DATE-TIME by default; watch: none unless given)
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the final report as JSON (watch: each verdict change as a JSON line)
    #[arg(long)]
    pub json: bool,
    /// Also write the final report as a self-contained HTML page (the ladder diagram)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Keep the kernel's SA keys in the state snapshots (removed by default)
    #[arg(long)]
    pub keys: bool,
    /// Print the command lines each gateway would run, and run nothing
    #[arg(long)]
    pub dry_run: bool,
    /// An ssh -o option (KEY=VALUE) for ssh targets, e.g. IdentityFile=~/.ssh/lab; repeatable
    #[arg(long = "ssh-option", value_name = "KEY=VALUE")]
    pub ssh_options: Vec<String>,
    /// `capture --until-verdict` (a flag of capture only).
    #[arg(skip)]
    pub until_verdict: bool,
    #[arg(skip)]
    pub watch: bool,
    #[arg(skip)]
    pub command_line: Vec<String>,
    #[arg(skip)]
    pub limits: Limits,
}

/// `NAME=VALUE` for a gateway named with `--gw`.
fn per_gateway<'a>(flag: &str, v: &'a str, names: &[String]) -> Result<(String, &'a str), String> {
    let (n, val) = v
        .split_once('=')
        .ok_or_else(|| format!("{flag} {v}: expected NAME=VALUE, NAME one of the --gw names"))?;
    if !names.iter().any(|x| x == n) {
        return Err(format!(
            "{flag} {v}: '{n}' is not a gateway named with --gw ({})",
            names.join(", ")
        ));
    }
    Ok((n.to_string(), val))
}

pub fn plan(a: &Args) -> Result<Plan, String> {
    let mut gateways: Vec<GwPlan> = Vec::new();
    for g in &a.gw {
        let (name, target) = g
            .split_once('=')
            .ok_or_else(|| format!("--gw {g}: expected NAME=TARGET (local, ssh:[user@]host[:port], exec:PREFIX)"))?;
        // The bundle's files are NAME.pcap, NAME-pluto.log...: the name is what comes before
        // the first `-` or `.`, as `diagnose` reads a folder.
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("--gw {g}: a gateway name is letters, digits and _ (no - or .)"));
        }
        if gateways.iter().any(|x| x.name == name) {
            return Err(format!("--gw {g}: gateway '{name}' named twice"));
        }
        gateways.push(GwPlan {
            name: name.to_string(),
            target: Target::parse(target, &a.ssh_options).map_err(|e| format!("--gw {g}: {e}"))?,
            iface: None,
            log: None,
        });
    }
    if gateways.is_empty() || gateways.len() > 2 {
        return Err("give one or two gateways with --gw NAME=TARGET (the first one initiates)".into());
    }
    let names: Vec<String> = gateways.iter().map(|g| g.name.clone()).collect();
    for v in &a.iface {
        let (n, i) = per_gateway("--iface", v, &names)?;
        check_name("interface", i)?;
        gateways.iter_mut().find(|g| g.name == n).expect("checked").iface = Some(i.to_string());
    }
    for v in &a.log {
        let (n, l) = per_gateway("--log", v, &names)?;
        let src = LogSource::parse(l)?;
        gateways.iter_mut().find(|g| g.name == n).expect("checked").log = Some(src);
    }
    if let Some(c) = &a.up {
        check_name("connection", c)?;
    }
    for n in &a.inner {
        super::capture_filter::check_subnet(n)?;
    }
    let ping = match a.ping[..] {
        [] => None,
        [s, d] => Some((s, d)),
        _ => return Err("--ping takes two addresses: SRC (on the protected side) and DST".into()),
    };
    if let Some(d) = a.duration {
        if !(d > 0.0 && d.is_finite()) {
            return Err(format!("--duration {d}: expected a positive number of seconds"));
        }
    }
    Ok(Plan {
        gateways,
        up: a.up.clone(),
        ping,
        inner: a.inner.clone(),
        duration: a.duration.or((!a.watch).then_some(60.0)),
        until_verdict: a.until_verdict,
        out: a.out.clone(),
        json: a.json,
        html: a.html.clone(),
        keys: a.keys,
        watch: a.watch,
        command_line: a.command_line.clone(),
        limits: a.limits,
    })
}

pub fn run(a: &Args) -> u8 {
    let p = match plan(a) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("ipsec-doctor: {e}");
            return 2;
        }
    };
    if a.dry_run {
        print!("{}", session::dry_run(&p));
        return 0;
    }
    session::run(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(gw: &[&str]) -> Args {
        Args {
            gw: gw.iter().map(|s| s.to_string()).collect(),
            iface: vec![],
            log: vec![],
            up: None,
            ping: vec![],
            inner: vec![],
            duration: None,
            until_verdict: false,
            out: None,
            json: false,
            html: None,
            keys: false,
            dry_run: false,
            ssh_options: vec![],
            watch: false,
            command_line: vec![],
            limits: Limits::default(),
        }
    }

    #[test]
    fn checks_what_goes_into_command_lines() {
        assert!(plan(&args(&["sg1=local", "sg2=ssh:root@gw2"])).is_ok());
        assert!(plan(&args(&[])).is_err());
        assert!(plan(&args(&["a=local", "b=local", "c=local"])).is_err());
        assert!(plan(&args(&["a=local", "a=local"])).is_err());
        let mut a = args(&["sg1=local"]);
        a.up = Some("sg; reboot".into());
        assert!(plan(&a).unwrap_err().contains("connection"));
        let mut a = args(&["sg1=local"]);
        a.iface = vec!["sg9=eth0".into()];
        assert!(plan(&a).unwrap_err().contains("not a gateway"));
        let mut a = args(&["sg1=local"]);
        a.log = vec!["sg1=relative.log".into()];
        assert!(plan(&a).is_err());
        a.log = vec!["sg1=journal:ipsec".into()];
        assert_eq!(
            plan(&a).unwrap().gateways[0].log,
            Some(LogSource::Journal("ipsec".into()))
        );
        // capture ends by itself; watch runs until stopped.
        assert_eq!(plan(&args(&["sg1=local"])).unwrap().duration, Some(60.0));
        let mut a = args(&["sg1=local"]);
        a.watch = true;
        assert_eq!(plan(&a).unwrap().duration, None);
    }

    #[test]
    fn dry_run_shows_fixed_command_lines() {
        let mut a = args(&["sg1=exec:ip netns exec gw1", "sg2=ssh:root@192.0.2.2"]);
        a.up = Some("sg".into());
        a.ping = vec!["10.1.0.1".parse().unwrap(), "10.2.0.10".parse().unwrap()];
        let out = session::dry_run(&plan(&a).unwrap());
        assert!(out.contains("ip netns exec gw1 sh -c"), "{out}");
        assert!(out.contains("ssh -T -o BatchMode=yes"), "{out}");
        assert!(out.contains("ipsec auto --up sg"), "{out}");
        assert!(out.contains("-I 10.1.0.1 10.2.0.10"), "{out}");
    }
}
