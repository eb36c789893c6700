//! One live session (`capture` or `watch`): probe each gateway, snapshot its state, start its
//! tcpdump and log follower, bring the tunnel up, feed everything that arrives to the engine,
//! show it, stop, snapshot again, write the bundle and report.
//!
//! Every command on a gateway runs on a leash ([`scripts::LEASH`]): it stops when we close its
//! standard input, so a Ctrl-C, a timeout or our own death leave nothing running there.

use super::bundle::{Bundle, FileEntry, GatewayEntry, Manifest, PcapWriter};
use super::engine::{Engine, Verdict};
use super::gateway::{self, Daemon, LogSource, Probe};
use super::scripts;
use super::stream::{run_once, Kind, Msg, SharedPcap, Stream, QUEUE};
use super::target::{shell_line, Target};
use super::view::View;
use super::{epoch_now, rfc3339};
use crate::inputs::Limits;
use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One gateway as the user named it.
#[derive(Debug, Clone)]
pub struct GwPlan {
    pub name: String,
    pub target: Target,
    pub iface: Option<String>,
    pub log: Option<LogSource>,
}

/// Everything the command line asked for, checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub gateways: Vec<GwPlan>,
    /// Connection to bring up on the first gateway.
    pub up: Option<String>,
    /// Test traffic from the first gateway's protected side: source, destination.
    pub ping: Option<(IpAddr, IpAddr)>,
    pub inner: Vec<String>,
    pub duration: Option<f64>,
    pub until_verdict: bool,
    pub out: Option<PathBuf>,
    pub json: bool,
    /// The final report as an HTML page too.
    pub html: Option<PathBuf>,
    pub keys: bool,
    /// `watch`: no end but the duration or Ctrl-C, verdict changes printed, old exchanges aged.
    pub watch: bool,
    pub command_line: Vec<String>,
    pub limits: Limits,
}

/// A verdict that stayed this long, with the up command and pings done, is settled
/// (`--until-verdict`).
const SETTLE: Duration = Duration::from_secs(5);
/// A problem verdict that stayed this long is settled even while the up command still waits.
const SETTLE_PROBLEM: Duration = Duration::from_secs(20);
/// A verdict is shown once it held this long.
const STEADY: Duration = Duration::from_millis(1500);
/// `watch` keeps this much history for its verdict.
const WATCH_WINDOW: f64 = 600.0;
/// A message that has not arrived after this long is shown as not arrived.
const ARRIVAL_WAIT: f64 = 2.0;

/// What each gateway runs, for `--dry-run`: the fixed command lines, with what only the probe
/// can tell (the daemon, its log) left as placeholders.
pub fn dry_run(plan: &Plan) -> String {
    let mut out = String::new();
    for (i, g) in plan.gateways.iter().enumerate() {
        let show = |argv: Vec<String>| shell_line(&g.target.words(&argv));
        let leashed = |argv: Vec<String>| show(scripts::argv(scripts::LEASH, &argv));
        out += &format!("# {} ({})\n", g.name, g.target.describe());
        out += &format!(
            "probe:   {}\n",
            show(scripts::argv(scripts::PROBE, &[g.iface.clone().unwrap_or_default()]))
        );
        out += &format!(
            "state:   {}\n",
            show(scripts::argv(scripts::STATE, &[keys_arg(plan.keys), "DAEMON".into()]))
        );
        let filter = gateway::capture_filter(&plan.inner, None);
        let iface = g.iface.clone().unwrap_or_else(|| "any".into());
        out += &format!("capture: {}\n", leashed(gateway::tcpdump_argv(&iface, &filter, true)));
        out += "         (over ssh, the filter also leaves out the ssh connection itself)\n";
        let log = g.log.clone().unwrap_or(LogSource::File("LOGFILE".into()));
        out += &format!("log:     {}\n", leashed(log.follow_argv()));
        if g.log.is_none() {
            out += "         (LOGFILE: found by the probe: pluto's --logfile or ipsec.conf logfile=, charon's filelog, the unit's journal, or syslog)\n";
        }
        if i == 0 {
            if let Some(c) = &plan.up {
                out += &format!(
                    "up:      {}   (or: ipsec up {c} / swanctl --initiate --child {c}, by daemon)\n",
                    leashed(vec!["ipsec".into(), "auto".into(), "--up".into(), c.clone()])
                );
            }
            if let Some((s, d)) = plan.ping {
                out += &format!("ping:    {}\n", leashed(ping_argv(s, d)));
            }
        }
    }
    out
}

fn keys_arg(keys: bool) -> String {
    if keys { "keys" } else { "nokeys" }.into()
}

fn ping_argv(src: IpAddr, dst: IpAddr) -> Vec<String> {
    [
        "ping",
        "-c",
        "5",
        "-i",
        "0.5",
        "-W",
        "2",
        "-I",
        &src.to_string(),
        &dst.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A gateway during the session.
struct Gw {
    plan: GwPlan,
    probe: Option<Probe>,
    clock: Option<(f64, f64)>,
    log: Option<LogSource>,
    filter: Option<String>,
    pcap: Option<SharedPcap>,
    packets: u64,
    log_lines: u64,
    /// Why this gateway gives less than it should.
    problems: Vec<String>,
    /// The capture was running until then (gateway clock).
    listening_until: Option<f64>,
}

impl Gw {
    /// The gateway's zone (`date +%z`) in seconds east of UTC: its daemon logs local time.
    fn utc_offset(&self) -> i32 {
        self.probe
            .as_ref()
            .and_then(|p| p.tz.as_deref())
            .and_then(crate::inputs::parse_utc_offset)
            .unwrap_or(0)
    }

    fn daemon(&self) -> Option<Daemon> {
        self.probe.as_ref().and_then(|p| p.daemon())
    }
}

/// The gateway's clock minus ours, from `date` run there on its own (the round trip that brackets
/// it bounds the error): the best of three tries, as NTP takes the shortest round trip.
fn clock(target: &Target) -> Option<(f64, f64)> {
    let argv = vec!["date".to_string(), "+%s.%N".to_string()];
    let mut best: Option<(f64, f64)> = None;
    for _ in 0..3 {
        let t0 = epoch_now();
        let (out, _, st) = run_once(target, &argv, Duration::from_secs(15)).ok()?;
        let t1 = epoch_now();
        let remote: f64 = out.trim().parse().ok().filter(|_| st.success())?;
        let half = (t1 - t0) / 2.0;
        if best.is_none_or(|b| half < b.1) {
            best = Some((remote - (t0 + half), half));
        }
    }
    best
}

/// What probing a gateway found: what it has, its clock against ours (offset, uncertainty),
/// its daemon's log.
type Probed = (Probe, (f64, f64), Option<LogSource>);

/// Probes a gateway.
fn probe(g: &GwPlan) -> Result<Probed, String> {
    let argv = scripts::argv(scripts::PROBE, &[g.iface.clone().unwrap_or_default()]);
    let t0 = epoch_now();
    let (out, err, st) = run_once(&g.target, &argv, Duration::from_secs(30))?;
    let t1 = epoch_now();
    if !st.success() || !out.contains("date=") {
        let why = err.trim().lines().last().unwrap_or("").to_string();
        let why = if why.is_empty() {
            format!("exit status {st}")
        } else {
            why
        };
        return Err(format!("cannot run commands there: {why}"));
    }
    let p = Probe::parse(&out);
    let clock = clock(&g.target).unwrap_or((p.date.map_or(0.0, |d| d - (t0 + t1) / 2.0), (t1 - t0) / 2.0));
    let log = match (&g.log, p.daemon_or_installed()) {
        (Some(l), _) => Some(l.clone()),
        (None, Some(Daemon::Charon)) => {
            let argv = scripts::argv(scripts::CHARON_FILELOGS, &p.charon_configs());
            let paths: Vec<String> = run_once(&g.target, &argv, Duration::from_secs(20))
                .map(|(o, _, _)| {
                    o.lines()
                        .filter_map(|l| l.strip_prefix("path="))
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            p.log_source(&paths)
        }
        (None, _) => p.log_source(&[]),
    };
    Ok((p, clock, log))
}

/// Probes every gateway at once (ssh connections take their time); says what each lacks.
fn probe_all(plan: &Plan) -> Vec<Gw> {
    // Probe every gateway at once (ssh connections take their time).
    let probes: Vec<_> = plan
        .gateways
        .iter()
        .map(|g| {
            let g = g.clone();
            std::thread::spawn(move || probe(&g))
        })
        .collect();
    let mut gws: Vec<Gw> = Vec::new();
    for (g, h) in plan.gateways.iter().zip(probes) {
        let mut gw = Gw {
            plan: g.clone(),
            probe: None,
            clock: None,
            log: None,
            filter: None,
            pcap: None,
            packets: 0,
            log_lines: 0,
            problems: Vec::new(),
            listening_until: None,
        };
        match h.join().unwrap_or_else(|_| Err("the probe failed".into())) {
            Err(e) => gw.problems.push(format!("{} ({}): {e}", g.name, g.target.describe())),
            Ok((p, clock, log)) => {
                if p.tcpdump.is_none() {
                    gw.problems.push(format!(
                        "{}: tcpdump is not installed there (no packets from it)",
                        g.name
                    ));
                }
                if let Some(why) = p.iface_problem() {
                    gw.problems
                        .push(format!("{}: {}: {why}", g.name, g.iface.as_deref().unwrap_or("")));
                }
                if p.daemon().is_none() {
                    gw.problems.push(format!(
                        "{}: no IKE daemon (pluto or charon) runs there{}",
                        g.name,
                        p.installed().map_or(String::new(), |d| format!(
                            " ({} is installed but not running)",
                            d.name()
                        ))
                    ));
                } else if log.is_none() {
                    gw.problems.push(format!(
                        "{}: cannot tell where {} logs; name it with --log {}=PATH (or journal:UNIT)",
                        g.name,
                        p.daemon().map_or("the daemon", Daemon::name),
                        g.name
                    ));
                }
                gw.filter = Some(gateway::capture_filter(&plan.inner, p.ssh_client));
                gw.clock = Some(clock);
                gw.log = log;
                gw.probe = Some(p);
            }
        }
        for p in &gw.problems {
            eprintln!("ipsec-doctor: {p}");
        }
        gws.push(gw);
    }
    gws
}

/// Each reachable gateway's capture and log follower, not started yet; their files in the bundle.
fn plan_streams(
    gws: &mut [Gw],
    bundle: Option<&Bundle>,
    engine: &mut Engine,
    files: &mut Vec<FileEntry>,
    year: i32,
) -> Vec<Stream> {
    let mut streams: Vec<Stream> = Vec::new();
    for (i, g) in gws.iter_mut().enumerate() {
        let Some(p) = &g.probe else { continue };
        let name = &g.plan.name;
        if p.tcpdump.is_some() && p.iface_problem().is_none() {
            let (file_name, file) = output_file(bundle, files, name, "pcap", "capture");
            let cap = engine.add_capture(name, &file_name);
            g.pcap = file.map(|f| Arc::new(Mutex::new(PcapWriter::new(f))));
            let iface = g.plan.iface.clone().unwrap_or_else(|| "any".into());
            // -Z only as root: tcpdump refuses to drop privileges it does not have.
            let drop_to = p.tcpdump_user && p.uid == Some(0);
            let argv = gateway::tcpdump_argv(&iface, g.filter.as_deref().unwrap_or(""), drop_to);
            let mut s = Stream::new(i, Kind::Capture(cap), format!("{name}: tcpdump"), argv, None);
            s.pcap = g.pcap.clone();
            streams.push(s);
        }
        if let Some(log) = &g.log {
            let daemon = p.daemon_or_installed().map_or("ike", Daemon::name);
            let (file_name, file) = output_file(bundle, files, name, &format!("{daemon}.log"), "log");
            let idx = engine.add_log(name, &file_name, year, g.utc_offset());
            let label = format!("{name}: log {}", log.describe());
            streams.push(Stream::new(i, Kind::Log(idx), label, log.follow_argv(), file));
        }
    }
    streams
}

/// The bundle's file for one of `gateway`'s outputs (`NAME.pcap`, `NAME-up.txt`, ...), listed
/// in the manifest with its role: the name the engine gives it (the path in the bundle) and the
/// file, opened 0600. Without a bundle (`watch` with no `-o`) only the name.
fn output_file(
    bundle: Option<&Bundle>,
    files: &mut Vec<FileEntry>,
    gateway: &str,
    what: &str,
    role: &'static str,
) -> (String, Option<std::fs::File>) {
    let name = match what {
        "pcap" => format!("{gateway}.pcap"),
        _ => format!("{gateway}-{what}"),
    };
    let Some(b) = bundle else { return (name, None) };
    let file = match b.file(&name) {
        Ok(f) => Some(f),
        Err(e) => {
            eprintln!("ipsec-doctor: {}: {e}", b.path(&name).display());
            None
        }
    };
    files.push(FileEntry {
        name: name.clone(),
        gateway: gateway.to_string(),
        role,
    });
    (b.path(&name).display().to_string(), file)
}

/// Runs the session; the exit status is the report's (0 healthy, 1 problem, 2 unusable).
pub fn run(plan: Plan) -> u8 {
    let interrupts = Arc::new(AtomicU32::new(0));
    {
        let i = interrupts.clone();
        if let Err(e) = ctrlc::set_handler(move || {
            i.fetch_add(1, Ordering::SeqCst);
        }) {
            eprintln!("ipsec-doctor: cannot catch Ctrl-C ({e}); stop with --duration");
        }
    }
    let started = epoch_now();
    let t0 = Instant::now();
    let bundle = match (&plan.out, plan.watch) {
        (Some(d), _) => Some(d.clone()),
        (None, false) => Some(PathBuf::from(format!(
            "ipsec-doctor-{}",
            jiff::Zoned::now().strftime("%Y%m%d-%H%M%S")
        ))),
        (None, true) => None,
    };
    let bundle = match bundle.map(|d| Bundle::create(&d).map_err(|e| format!("{}: {e}", d.display()))) {
        Some(Ok(b)) => Some(b),
        Some(Err(e)) => {
            eprintln!("ipsec-doctor: cannot create the bundle folder {e}");
            return 2;
        }
        None => None,
    };
    let say = |s: &str| eprintln!("ipsec-doctor: {s}");
    let mut problems: Vec<String> = Vec::new();
    let mut files: Vec<FileEntry> = Vec::new();

    let mut gws = probe_all(&plan);
    if gws.iter().all(|g| g.probe.is_none()) {
        say("no gateway could be reached: nothing to capture");
        problems.extend(gws.iter().flat_map(|g| g.problems.clone()));
        if let Some(b) = &bundle {
            let _ = b.write_manifest(&manifest(&plan, &gws, started, "unreachable", None, files, problems));
        }
        return 2;
    }

    // State at the start.
    if let Some(b) = &bundle {
        snapshot(&plan, &gws, b, "start", &mut files);
    }

    // Start the captures and log followers.
    let (tx, rx) = sync_channel::<Msg>(QUEUE);
    let mut engine = Engine::new(plan.limits);
    let year = jiff::Zoned::now().year() as i32;
    let mut streams = plan_streams(&mut gws, bundle.as_ref(), &mut engine, &mut files, year);
    for (idx, s) in streams.iter_mut().enumerate() {
        if let Err(e) = s.spawn(idx, &gws[s.gw].plan.target, &tx) {
            say(&e);
            gws[s.gw].problems.push(e);
            s.ended = true;
        }
    }
    // Bring the tunnel up only once every tcpdump listens (it says so on standard error).
    let ready_by = Instant::now() + Duration::from_secs(8);
    while Instant::now() < ready_by && streams.iter().any(|s| !s.ready && !s.ended) {
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(100)) {
            handle(m, &mut streams, &mut gws, &mut engine, &say);
        }
    }
    std::thread::sleep(Duration::from_millis(300)); // tail -F has no ready line

    let mut up_pending = plan.up.clone();
    let mut ping_pending = plan.ping;
    let view = View::new(plan.watch, plan.json);
    let mut last_verdict: Option<Verdict> = None;
    let mut candidate: Option<(Verdict, Instant)> = None;
    let mut verdict_since = Instant::now();
    let mut last_eval = Instant::now() - Duration::from_secs(2);
    let mut last_age = Instant::now();
    let mut shown: std::collections::HashSet<(String, u64, usize)> = std::collections::HashSet::new();
    let mut dirty = true;
    let stopped_by;
    loop {
        // Start the next piece of work on the first gateway when the one before is done.
        // A Ctrl-C before the tunnel was brought up leaves it alone.
        if interrupts.load(Ordering::SeqCst) > 0 {
            up_pending = None;
            ping_pending = None;
        }
        if gws[0].probe.is_none() && ping_pending.take().is_some() {
            problems.push(format!("{}: unreachable, so no --ping from it", gws[0].plan.name));
        }
        if let Some(conn) = up_pending.take() {
            let g = &gws[0];
            match g.probe.as_ref().and_then(|p| p.up_argv(&conn)) {
                Some(argv) => {
                    let (file_name, file) =
                        output_file(bundle.as_ref(), &mut files, &g.plan.name, "up.txt", "up-output");
                    let idx = engine.add_log(&g.plan.name, &file_name, year, g.utc_offset());
                    view.note(&format!("{}: {}", g.plan.name, shell_line(&argv)));
                    let mut s = Stream::new(
                        0,
                        Kind::Up(idx),
                        format!("{}: {}", g.plan.name, argv.join(" ")),
                        argv,
                        file,
                    );
                    let n = streams.len();
                    match s.spawn(n, &g.plan.target, &tx) {
                        Ok(()) => streams.push(s),
                        Err(e) => say(&e),
                    }
                }
                None => {
                    let e = format!("{}: --up {conn}: no IKE daemon found there to bring it up", g.plan.name);
                    say(&e);
                    problems.push(e);
                }
            }
        }
        let up_running = streams.iter().any(|s| matches!(s.kind, Kind::Up(_)) && !s.ended);
        if !up_running && ping_pending.is_some() && gws[0].probe.is_some() {
            let (src, dst) = ping_pending.take().expect("checked");
            let argv = ping_argv(src, dst);
            let g = &gws[0];
            let (_, file) = output_file(bundle.as_ref(), &mut files, &g.plan.name, "ping.txt", "ping-output");
            view.note(&format!("{}: {}", g.plan.name, shell_line(&argv)));
            let mut s = Stream::new(0, Kind::Ping, format!("{}: ping", g.plan.name), argv, file);
            let n = streams.len();
            match s.spawn(n, &g.plan.target, &tx) {
                Ok(()) => streams.push(s),
                Err(e) => say(&e),
            }
        }

        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(m) => {
                dirty = true;
                handle(m, &mut streams, &mut gws, &mut engine, &say);
                // Take what is queued before looking at the verdict, a queue's worth at most:
                // a stream faster than the engine must not keep the loop from its checks.
                for _ in 0..QUEUE {
                    let Ok(m) = rx.try_recv() else { break };
                    handle(m, &mut streams, &mut gws, &mut engine, &say);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {}
        }
        // watch: a stream that ended is started again (a restarted daemon, a dropped link).
        if plan.watch {
            for (idx, s) in streams.iter_mut().enumerate() {
                // Again and again, at most once a minute after a few quick tries.
                let wait = Duration::from_secs(5u64 << s.restarts.min(4)).min(Duration::from_secs(60));
                let again = matches!(s.kind, Kind::Capture(_) | Kind::Log(_)) && s.ended && s.started.elapsed() > wait;
                if again && s.try_reap() {
                    s.restarts += 1;
                    view.note(&format!("{} ended; starting it again", s.label));
                    if let Err(e) = s.spawn(idx, &gws[s.gw].plan.target, &tx) {
                        say(&e);
                        s.started = Instant::now();
                    }
                }
            }
            if last_age.elapsed() > Duration::from_secs(60) {
                // Each gateway's history on its own clock.
                let now = epoch_now();
                engine.age_out(|side| {
                    let offset = gws
                        .iter()
                        .find(|g| g.plan.name == side)
                        .and_then(|g| g.clock)
                        .map_or(0.0, |c| c.0);
                    now + offset - WATCH_WINDOW
                });
                last_age = Instant::now();
            }
        }
        if last_eval.elapsed() >= Duration::from_secs(1) {
            last_eval = Instant::now();
            dirty = false;
            // Silence on a running capture is silence seen.
            for s in streams.iter().filter(|s| !s.ended) {
                if let Kind::Capture(c) = s.kind {
                    let t = epoch_now() + gws[s.gw].clock.map_or(0.0, |c| c.0);
                    engine.listening(c, t);
                    gws[s.gw].listening_until = Some(t);
                }
            }
            if let Some((v, hops)) = engine.verdict() {
                // Now on the first gateway's clock, which the hops' times are on.
                let now_capture = epoch_now() + gws[0].clock.map_or(0.0, |c| c.0);
                for h in &hops {
                    let settled = h.arrived || now_capture - h.time > ARRIVAL_WAIT;
                    if settled && !shown.contains(&h.key) {
                        view.hop(h, started);
                        shown.insert(h.key.clone());
                    }
                }
                // Only messages the engine still holds (watch ages them out) stay remembered.
                if shown.len() > hops.len() {
                    let held: std::collections::HashSet<_> = hops.iter().map(|h| &h.key).collect();
                    shown.retain(|k| held.contains(k));
                }
                // A verdict is shown once it held for STEADY: right after a request leaves,
                // "never answered" is true for a moment.
                match &candidate {
                    Some((c, since)) if c.cause == v.cause => {
                        let shown_cause = last_verdict.as_ref().map(|l| l.cause);
                        if shown_cause != Some(v.cause) && since.elapsed() >= STEADY {
                            view.verdict(&v, t0.elapsed());
                            verdict_since = Instant::now();
                        }
                        if shown_cause == Some(v.cause) || since.elapsed() >= STEADY {
                            last_verdict = Some(v);
                        }
                    }
                    _ => candidate = Some((v, Instant::now())),
                }
            }
        }
        view.status(t0.elapsed(), last_verdict.as_ref());

        let n = interrupts.load(Ordering::SeqCst);
        if n > 0 {
            stopped_by = "interrupted";
            break;
        }
        if plan.duration.is_some_and(|d| t0.elapsed().as_secs_f64() >= d) {
            stopped_by = "duration";
            break;
        }
        let captures_alive = streams.iter().any(|s| matches!(s.kind, Kind::Capture(_)) && !s.ended);
        let has_capture = streams.iter().any(|s| matches!(s.kind, Kind::Capture(_)));
        if has_capture && !captures_alive && !plan.watch {
            say("every capture ended");
            stopped_by = "captures-ended";
            break;
        }
        if plan.until_verdict {
            let busy = up_pending.is_some()
                || ping_pending.is_some()
                || streams
                    .iter()
                    .any(|s| matches!(s.kind, Kind::Up(_) | Kind::Ping) && !s.ended);
            let stable = verdict_since.elapsed();
            // The verdict shown is the one the evidence gives now (no new one is on its way).
            let current = candidate.as_ref().map(|c| c.0.cause) == last_verdict.as_ref().map(|v| v.cause);
            let settled = match &last_verdict {
                Some(v) if current && (v.cause != crate::diagnose::Cause::Inconclusive || !busy) => {
                    (!busy && stable >= SETTLE) || (v.status == 1 && stable >= SETTLE_PROBLEM)
                }
                _ => false,
            };
            if settled && !dirty {
                stopped_by = "verdict";
                break;
            }
        }
    }
    view.clear();

    // Stop: captures and the work on the first gateway, then (a moment later, for their last
    // lines) the log followers.
    let hard = interrupts.load(Ordering::SeqCst) > 1;
    for s in streams.iter_mut().filter(|s| !matches!(s.kind, Kind::Log(_))) {
        s.stop();
    }
    let drain_until = Instant::now() + Duration::from_millis(if hard { 100 } else { 1500 });
    while Instant::now() < drain_until {
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(50)) {
            handle(m, &mut streams, &mut gws, &mut engine, &say);
        }
    }
    for s in streams.iter_mut() {
        s.stop();
    }
    // Keep taking what the readers send while the commands end: a reader waiting on a full
    // queue would keep its command from ending.
    let deadline = Instant::now() + Duration::from_secs(if hard { 1 } else { 8 });
    while !streams.iter_mut().all(Stream::try_reap) && Instant::now() < deadline {
        if let Ok(m) = rx.recv_timeout(Duration::from_millis(50)) {
            handle(m, &mut streams, &mut gws, &mut engine, &say);
        }
    }
    for s in streams.iter_mut() {
        s.kill();
    }
    drop(tx);
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(m) => handle(m, &mut streams, &mut gws, &mut engine, &say),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
    for s in &streams {
        if let Kind::Up(_) = s.kind {
            if s.status.is_some_and(|st| !st.success()) && s.ended {
                let last = s.tail.last().cloned().unwrap_or_default();
                let e = format!(
                    "{} ended with {}{}",
                    s.label,
                    s.status.map_or(String::new(), |st| st.to_string()),
                    if last.is_empty() {
                        String::new()
                    } else {
                        format!(": {last}")
                    }
                );
                say(&e);
                problems.push(e);
            }
        }
    }
    for g in &mut gws {
        if let Some(Ok(mut w)) = g.pcap.as_ref().map(|p| p.lock()) {
            if let Err(e) = w.flush() {
                say(&format!("{}: writing the capture: {e}", g.plan.name));
            }
        }
    }

    // State at the end, the manifest, the report.
    if let Some(b) = &bundle {
        if !hard {
            snapshot(&plan, &gws, b, "end", &mut files);
        }
    }
    let live = engine.verdict().map(|(v, _)| v);
    problems.extend(gws.iter().flat_map(|g| g.problems.clone()));
    match bundle {
        Some(b) => {
            let m = manifest(&plan, &gws, started, stopped_by, live.as_ref(), files, problems);
            if let Err(e) = b.write_manifest(&m) {
                say(&format!("{}: {e}", b.path(super::bundle::MANIFEST).display()));
            }
            say(&format!(
                "bundle written to {} (read it again with: ipsec-doctor diagnose {})",
                b.dir.display(),
                b.dir.display()
            ));
            let inp = crate::inputs::load(std::slice::from_ref(&b.dir), &[], plan.limits);
            final_report(&plan, inp, plan.json)
        }
        // watch without a bundle: the report on what it holds now.
        None => final_report(&plan, std::mem::take(engine.inputs_mut()), false),
    }
}

/// The report printed last (the one `diagnose` gives on the bundle), and the HTML page with
/// `--html`; `watch --json` printed its verdicts already and prints no report.
fn final_report(plan: &Plan, inp: crate::inputs::Inputs, json: bool) -> u8 {
    let colour = std::io::stdout().is_terminal();
    let (out, code, page) = crate::cmd::diagnose::report_full(inp, json, colour, false, plan.html.is_some());
    if !(plan.watch && plan.json) {
        print!("{out}");
    }
    if let (Some(path), Some(page)) = (&plan.html, page) {
        if let Err(e) = std::fs::write(path, page) {
            eprintln!("ipsec-doctor: {}: cannot write the HTML report: {e}", path.display());
        }
    }
    code
}

fn handle(m: Msg, streams: &mut [Stream], gws: &mut [Gw], engine: &mut Engine, say: &dyn Fn(&str)) {
    match m {
        Msg::Frames { cap, batch } => {
            if let Some(s) = streams.iter().find(|s| s.kind == Kind::Capture(cap)) {
                gws[s.gw].packets += batch.frames.len() as u64;
            }
            engine.frames(cap, batch.iter());
        }
        Msg::Line { stream, line } => output(&mut streams[stream], gws, engine, &line),
        Msg::Stderr { stream, line } => {
            let s = &mut streams[stream];
            match s.kind {
                // The up command's and ping's own words are part of their output.
                Kind::Up(_) | Kind::Ping => output(s, gws, engine, line.as_bytes()),
                // tcpdump says when it listens ...
                Kind::Capture(_) if line.contains("listening on") => s.ready = true,
                // ... and notes the link type of `-i any` and its counts when it stops.
                Kind::Capture(_) if TCPDUMP_NOTES.iter().any(|n| line.contains(n)) => {}
                _ => {
                    let msg = format!("{}: {line}", s.label);
                    say(&msg);
                    if s.tail.len() < 20 {
                        gws[s.gw].problems.push(msg);
                    }
                    s.keep(line);
                }
            }
        }
        Msg::Ended { stream, error } => {
            let s = &mut streams[stream];
            s.ended = true;
            s.ready = true;
            if let Some(e) = error {
                say(&format!("{}: the stream broke: {e}", s.label));
                if let Kind::Capture(c) = s.kind {
                    engine.capture_error(c, &e);
                }
            }
        }
    }
}

/// What tcpdump says on standard error that is no problem.
const TCPDUMP_NOTES: [&str; 4] = [
    "data link type",
    "packets captured",
    "packets received by",
    "packets dropped by",
];

/// A line a command printed: into its bundle file, and to the engine when it is a log or the up
/// command's output (kept too, for the message if the command fails).
fn output(s: &mut Stream, gws: &mut [Gw], engine: &mut Engine, line: &[u8]) {
    if let Some(f) = s.file.as_mut() {
        let _ = f.write_all(line).and_then(|_| f.write_all(b"\n"));
    }
    if let Kind::Log(i) | Kind::Up(i) = s.kind {
        gws[s.gw].log_lines += 1;
        engine.line(i, line);
    }
    if let Kind::Up(_) = s.kind {
        s.keep(String::from_utf8_lossy(line).into_owned());
    }
}

/// Runs the state script on every reachable gateway, into `NAME-state-WHEN.txt`.
fn snapshot(plan: &Plan, gws: &[Gw], b: &Bundle, when: &str, files: &mut Vec<FileEntry>) {
    let handles: Vec<_> = gws
        .iter()
        .filter(|g| g.probe.is_some())
        .map(|g| {
            let daemon = g
                .probe
                .as_ref()
                .and_then(Probe::daemon_or_installed)
                .map_or("none", Daemon::name);
            let argv = scripts::argv(scripts::STATE, &[keys_arg(plan.keys), daemon.into()]);
            let target = g.plan.target.clone();
            let name = g.plan.name.clone();
            std::thread::spawn(move || (name, run_once(&target, &argv, Duration::from_secs(30))))
        })
        .collect();
    for h in handles {
        let Ok((name, r)) = h.join() else { continue };
        let file = format!("{name}-state-{when}.txt");
        let text = match r {
            Ok((o, e, _)) => o + &e,
            Err(e) => format!("### the state could not be read: {e}\n"),
        };
        if b.write(&file, text.as_bytes()).is_ok() {
            files.push(FileEntry {
                name: file,
                gateway: name,
                role: "state",
            });
        }
    }
}

fn manifest(
    plan: &Plan,
    gws: &[Gw],
    started: f64,
    stopped_by: &str,
    live: Option<&Verdict>,
    files: Vec<FileEntry>,
    problems: Vec<String>,
) -> Manifest {
    Manifest {
        format: "ipsec-doctor bundle 1",
        tool_version: env!("CARGO_PKG_VERSION"),
        command_line: plan.command_line.clone(),
        started: rfc3339(started),
        ended: rfc3339(epoch_now()),
        stopped_by: stopped_by.to_string(),
        gateways: gws
            .iter()
            .map(|g| GatewayEntry {
                name: g.plan.name.clone(),
                target: g.plan.target.describe(),
                host: g.probe.as_ref().and_then(|p| p.host.clone()),
                daemon: g.daemon().map(|d| d.name().to_string()),
                daemon_version: g.probe.as_ref().and_then(|p| p.daemon_version()),
                tcpdump: g.probe.as_ref().and_then(|p| p.tcpdump.clone()),
                interface: g.plan.iface.clone().unwrap_or_else(|| "any".into()),
                filter: g.filter.clone(),
                log: g.log.as_ref().map(LogSource::describe),
                utc_offset: g.probe.as_ref().and_then(|p| p.tz.clone()),
                clock_offset_s: g.clock.map(|c| (c.0 * 1e3).round() / 1e3),
                clock_uncertainty_s: g.clock.map(|c| (c.1 * 1e3).round() / 1e3),
                packets: g.packets,
                log_lines: g.log_lines,
                capture_until: g.listening_until.map(|t| (t * 1e6).round() / 1e6),
            })
            .collect(),
        files,
        live_verdict: live.map(|v| v.cause.id().to_string()),
        problems,
    }
}
