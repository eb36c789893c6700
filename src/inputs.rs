//! What the user brought: capture and log files (or folders of them), recognised by content and
//! grouped into gateways ("sides") by the name prefix before the first `-` or `.`.

use crate::keys::{self, KeyRing};
use crate::logs::{self, LogFile, ParseOptions};
use crate::source::{self, CaptureReader};
use crate::track::{self, Timeline};
use crate::wire::frag;
use crate::wire::packet::{Decoder, Skip};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every resource bound on reading captures: the tracker's tables and fragment reassembly.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub track: track::Limits,
    pub frag: frag::Limits,
}

/// One capture file, decoded into a timeline.
#[derive(Debug)]
pub struct Capture {
    pub name: String,
    pub timeline: Timeline,
    /// Packets of link types we cannot decode, by link type (reported once each).
    pub unknown_link: BTreeMap<u32, u64>,
    pub frag_stats: frag::Stats,
    /// IKE over TCP: what the stream reassembly did and gave up.
    pub tcp_stats: crate::wire::tcp::Stats,
    /// The reader stopped at damage: everything before it was used.
    pub error: Option<String>,
}

/// One gateway: its captures and logs.
#[derive(Debug, Default)]
pub struct Side {
    pub name: String,
    pub captures: Vec<Capture>,
    pub logs: Vec<LogFile>,
    /// Its state snapshots from a bundle (`NAME-state-start.txt`, `NAME-state-end.txt`).
    pub state: Vec<StateFile>,
}

/// One state snapshot of a gateway, read ([`crate::state`]).
#[derive(Debug, Clone)]
pub struct StateFile {
    /// The file as given (its folder joined).
    pub file: String,
    pub phase: crate::state::Phase,
    pub snapshot: crate::state::Snapshot,
}

#[derive(Debug, Default)]
pub struct Inputs {
    pub sides: Vec<Side>,
    /// Files that could not be used, with the reason.
    pub problems: Vec<String>,
    /// Files in a given folder that are neither captures nor logs (READMEs, notes).
    pub skipped: Vec<String>,
    /// Which gateway each capture and log went to, and why.
    pub assigned: Vec<Assigned>,
    /// The tunnel's keys from every key source (`--keys` files, key files and logs with key
    /// lines among the inputs); the captures' timelines were given them as they were read.
    pub keys: Option<Arc<KeyRing>>,
    /// Where the keys came from, and how many SAs each gave (never the keys).
    pub key_sources: Vec<KeySource>,
}

/// One key source that was read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeySource {
    pub file: String,
    /// What it is, in words ("Wireshark esp_sa table", "charon log key lines", ...).
    pub kind: &'static str,
    pub esp_sas: usize,
    pub ike_sas: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub ikev1_sas: usize,
    /// Given with `--keys`: read for its keys only (a log given so is not log evidence).
    pub keys_only: bool,
    /// What was skipped in it, each naming the file and line.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl KeySource {
    pub fn of(l: &keys::Loaded, keys_only: bool) -> KeySource {
        KeySource {
            file: l.origin.clone(),
            kind: l.kind.words(),
            esp_sas: l.keys.esp.len(),
            ike_sas: l.keys.ike.len(),
            ikev1_sas: l.keys.ikev1.len(),
            keys_only,
            warnings: l.warnings.clone(),
        }
    }

    /// "2 ESP SAs, 1 IKE SA".
    pub fn counts(&self) -> String {
        let n = |k: usize, what: &str| format!("{k} {what} SA{}", if k == 1 { "" } else { "s" });
        let mut parts = vec![n(self.esp_sas, "ESP"), n(self.ike_sas, "IKE")];
        if self.ikev1_sas > 0 {
            parts.push(n(self.ikev1_sas, "IKEv1"));
        }
        parts.join(", ")
    }
}

/// Why a file went to its gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AssignedBy {
    /// The file name's prefix before the first `-` or `.`.
    NamePrefix,
    /// `--side NAME=FILE`.
    Side,
    /// A second capture with IPsec under one prefix: a gateway named by its file stem.
    Split,
    /// A session pasted from several hosts: the host in its prompts.
    Host,
}

impl AssignedBy {
    pub fn words(self) -> &'static str {
        match self {
            AssignedBy::NamePrefix => "file name prefix",
            AssignedBy::Side => "--side",
            AssignedBy::Split => "second IPsec capture under one prefix, named by its file stem",
            AssignedBy::Host => "host in the session's prompts",
        }
    }
}

/// One file's gateway.
#[derive(Debug, Clone)]
pub struct Assigned {
    pub file: String,
    pub side: String,
    pub by: AssignedBy,
}

impl Inputs {
    /// Something to diagnose: a capture that held at least one IP packet, or a log with
    /// something in it.
    pub fn usable(&self) -> bool {
        self.sides.iter().any(|s| {
            s.captures.iter().any(|c| c.timeline.first_time.is_some()) || s.logs.iter().any(|l| !l.events.is_empty())
        })
    }

    /// Why `file` went to its gateway (the last assignment made).
    pub fn assigned_by(&self, file: &str) -> Option<&Assigned> {
        self.assigned.iter().rev().find(|a| a.file == file)
    }
}

enum Kind {
    Capture,
    /// A daemon log: the daemon it is from, whose key lines it may hold.
    Log(Option<logs::Daemon>),
    /// A file of keys only (ip xfrm state, Wireshark's tables, a tcpdump -E file).
    Keys(keys::Kind),
    Neither,
}

fn sniff(path: &Path) -> std::io::Result<Kind> {
    let mut head = vec![0u8; 64 * 1024];
    let mut f = File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        let k = f.read(&mut head[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    head.truncate(n);
    if source::is_capture_magic(&head) {
        return Ok(Kind::Capture);
    }
    if let Some(k) = keys::recognise(&String::from_utf8_lossy(&head)).filter(|k| !k.is_log()) {
        return Ok(Kind::Keys(k));
    }
    Ok(match logs::looks_like_log(&head) {
        Some(d) => Kind::Log(d.daemon()),
        None => Kind::Neither,
    })
}

/// The gateway a file belongs to: its name up to the first `-` or `.`.
pub fn side_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let end = name.find(['-', '.']).unwrap_or(name.len());
    if end == 0 {
        name
    } else {
        name[..end].to_string()
    }
}

/// The manifest of a bundle that `ipsec-doctor capture` wrote.
pub const BUNDLE_MANIFEST: &str = "manifest.json";

/// `dir`'s bundle manifest, when `dir` holds a bundle.
fn bundle_manifest(dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join(BUNDLE_MANIFEST)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v["format"]
        .as_str()
        .is_some_and(|f| f.starts_with("ipsec-doctor bundle"))
        .then_some(v)
}

/// The files of a bundle's manifest with one of `roles`: (gateway, file in `dir`). Names with a
/// `/` or a leading `.` are not the bundle's own and are left alone.
fn bundle_files(v: &serde_json::Value, dir: &Path, roles: &[&str]) -> Vec<(String, PathBuf)> {
    v["files"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["role"].as_str().is_some_and(|r| roles.contains(&r)))
        .filter_map(|f| Some((f["gateway"].as_str()?, f["name"].as_str()?)))
        .filter(|(_, n)| !n.contains('/') && !n.starts_with('.'))
        .take(64)
        .map(|(g, n)| (g.to_string(), dir.join(n)))
        .collect()
}

/// The files a bundle's manifest calls state snapshots or command output that is no log, and
/// the manifest itself, which a reader of the folder leaves to their own reader. Empty when
/// `dir` holds no bundle.
pub fn bundle_not_logs(dir: &Path) -> Vec<PathBuf> {
    let Some(v) = bundle_manifest(dir) else {
        return Vec::new();
    };
    let listed = bundle_files(&v, dir, &["state", "ping-output"])
        .into_iter()
        .map(|(_, f)| f);
    std::iter::once(dir.join(BUNDLE_MANIFEST)).chain(listed).collect()
}

/// The captures of a bundle whose manifest says until when they ran (a live capture that saw
/// nothing at the end was still listening): (file, seconds since the epoch).
pub fn bundle_capture_until(dir: &Path) -> Vec<(PathBuf, f64)> {
    let Some(v) = bundle_manifest(dir) else {
        return Vec::new();
    };
    let until = |gw: &str| {
        v["gateways"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| g["name"].as_str() == Some(gw))
            .and_then(|g| g["capture_until"].as_f64())
    };
    bundle_files(&v, dir, &["capture"])
        .into_iter()
        .filter_map(|(g, f)| Some((f, until(&g)?)))
        .collect()
}

/// The offset from UTC (seconds, east positive) of the gateway whose log `path` is, when a
/// bundle's manifest says it (its `utc_offset`, as `date +%z` prints it): pluto's and syslog's
/// time stamps carry no zone.
pub fn bundle_utc_offset(path: &Path) -> Option<i32> {
    let dir = path.parent()?;
    let v = bundle_manifest(dir)?;
    let (gw, _) = bundle_files(&v, dir, &["log", "up-output"])
        .into_iter()
        .find(|(_, f)| f == path)?;
    let g = v["gateways"]
        .as_array()?
        .iter()
        .find(|g| g["name"].as_str() == Some(&gw))?;
    parse_utc_offset(g["utc_offset"].as_str()?)
}

/// `+0100`, `-0530` (as `date +%z` prints them) in seconds.
pub fn parse_utc_offset(s: &str) -> Option<i32> {
    let (sign, digits) = match s.trim().as_bytes() {
        [b'+', d @ ..] => (1, d),
        [b'-', d @ ..] => (-1, d),
        _ => return None,
    };
    if digits.len() != 4 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |a: usize| i32::from(digits[a] - b'0') * 10 + i32::from(digits[a + 1] - b'0');
    Some(sign * (n(0) * 3600 + n(2) * 60))
}

/// The state snapshots a bundle's manifest lists: (gateway, file). Empty when `dir` holds no
/// bundle.
pub fn bundle_state(dir: &Path) -> Vec<(String, PathBuf)> {
    let Some(v) = bundle_manifest(dir) else {
        return Vec::new();
    };
    bundle_files(&v, dir, &["state"])
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .collect()
}

/// The keys in the `ip -s xfrm state` output of the bundles' state snapshots (kept there only
/// when `capture --keys` was given; removed keys are the rule, so they are not warned about).
fn bundle_state_keys(paths: &[PathBuf], explicit: &[(String, Vec<PathBuf>)]) -> Vec<keys::Loaded> {
    let dirs = paths
        .iter()
        .chain(explicit.iter().flat_map(|(_, fs)| fs.iter()))
        .filter(|p| p.is_dir());
    let mut out = Vec::new();
    for dir in dirs {
        for (_, path) in bundle_state(dir) {
            let mut bytes = Vec::new();
            let read = File::open(&path).and_then(|f| f.take(crate::state::MAX_BYTES as u64).read_to_end(&mut bytes));
            if read.is_err() {
                continue;
            }
            if let Some(l) = state_keys(&String::from_utf8_lossy(&bytes), &path.display().to_string()) {
                out.push(l);
            }
        }
    }
    out
}

/// The keys of a state snapshot's `### ip -s xfrm state` section, if it holds any.
fn state_keys(text: &str, name: &str) -> Option<keys::Loaded> {
    let start = text.find("### ip -s xfrm state\n")?;
    let body = &text[start..];
    let body = &body[body.find('\n')? + 1..];
    let body = &body[..body.find("\n### ").map_or(body.len(), |i| i + 1)];
    let mut l = keys::parse(keys::Kind::Xfrm, body, name).ok()?;
    if l.keys.is_empty() {
        return None;
    }
    // Line numbers in the warnings count from the section's start: say so.
    for w in &mut l.warnings {
        *w = w.replacen(name, &format!("{name} (ip -s xfrm state section)"), 1);
    }
    Some(l)
}

/// Reads the state snapshots of the bundles among `paths` into their gateways (only gateways
/// with a capture or a log: a snapshot alone diagnoses nothing).
fn load_state(paths: &[PathBuf], explicit: &[(String, Vec<PathBuf>)], inputs: &mut Inputs) {
    let dirs = paths
        .iter()
        .chain(explicit.iter().flat_map(|(_, fs)| fs.iter()))
        .filter(|p| p.is_dir());
    for dir in dirs {
        for (gw, path) in bundle_state(dir) {
            let name = path.display().to_string();
            let mut bytes = Vec::new();
            let read =
                File::open(&path).and_then(|f| f.take(crate::state::MAX_BYTES as u64 + 1).read_to_end(&mut bytes));
            if let Err(e) = read {
                inputs.problems.push(format!("{name}: {e}"));
                continue;
            }
            let Some(side) = inputs.sides.iter_mut().find(|s| s.name == gw) else {
                inputs.skipped.push(format!(
                    "{name}: state of gateway '{gw}', which brought no capture or log"
                ));
                continue;
            };
            if side.state.iter().any(|s| s.file == name) {
                continue;
            }
            side.state.push(StateFile {
                phase: crate::state::Phase::of(&name),
                snapshot: crate::state::parse(&bytes),
                file: name,
            });
        }
    }
}

/// Files named, and files found in named folders (`true`: from a folder).
fn expand(paths: &[PathBuf], problems: &mut Vec<String>) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            match std::fs::read_dir(p) {
                Ok(rd) => {
                    // A bundle's state snapshots hold `ipsec status` output, which reads like a
                    // status listing: they are the state at the start and end, not log lines.
                    let state = bundle_not_logs(p);
                    let mut v: Vec<PathBuf> = rd
                        .filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.is_file() && !state.contains(p))
                        .collect();
                    v.sort();
                    out.extend(v.into_iter().map(|f| (f, true)));
                }
                Err(e) => problems.push(format!("{}: {e}", p.display())),
            }
        } else {
            out.push((p.clone(), false));
        }
    }
    out
}

/// Reads everything. `explicit` maps side names to files (`--side NAME=FILE,FILE`).
pub fn load(paths: &[PathBuf], explicit: &[(String, Vec<PathBuf>)], limits: Limits) -> Inputs {
    load_with_keys(paths, explicit, Vec::new(), limits)
}

/// [`load`], with the key sources given by `--keys` (read for their keys only). Key files and
/// logs with key lines among the inputs are found by content; all their keys go to every
/// capture's timeline before its packets are read.
pub fn load_with_keys(
    paths: &[PathBuf],
    explicit: &[(String, Vec<PathBuf>)],
    given: Vec<keys::Loaded>,
    limits: Limits,
) -> Inputs {
    let mut inputs = Inputs::default();
    let mut ring = KeyRing::default();
    for l in given {
        inputs.key_sources.push(KeySource::of(&l, true));
        ring.extend(l.keys);
    }
    let mut files: Vec<(String, PathBuf, bool)> = Vec::new();
    for (side, fs) in explicit {
        for (f, in_dir) in expand(fs, &mut inputs.problems) {
            files.push((side.clone(), f, in_dir));
        }
    }
    let explicit_count = files.len();
    for (f, in_dir) in expand(paths, &mut inputs.problems) {
        files.push((side_of(&f), f, in_dir));
    }
    let by_side: Vec<PathBuf> = files.iter().take(explicit_count).map(|f| f.1.clone()).collect();
    drop_duplicates(&mut files, &mut inputs.problems);
    let mut logs_pending: Vec<(String, PathBuf)> = Vec::new();
    let mut captures_pending: Vec<(String, PathBuf)> = Vec::new();
    let mut years: Vec<i32> = Vec::new();
    // Every file is told apart first, so that the keys are all known before any capture is read.
    for (side, path, in_dir) in files {
        let kind = sniff(&path);
        if let Ok(Kind::Keys(k)) = kind {
            // Keys belong to the tunnel, not to a gateway.
            match keys::load_as(&path, k) {
                Ok(l) => {
                    inputs.key_sources.push(KeySource::of(&l, false));
                    ring.extend(l.keys);
                }
                Err(e) => inputs.problems.push(e),
            }
            continue;
        }
        inputs.assigned.push(Assigned {
            file: path.display().to_string(),
            side: side.clone(),
            by: if by_side.contains(&path) {
                AssignedBy::Side
            } else {
                AssignedBy::NamePrefix
            },
        });
        match kind {
            Err(e) => inputs.problems.push(format!("{}: {e}", path.display())),
            Ok(Kind::Neither) => {
                let note = format!("{}: skipped, neither a capture nor an IKE log", path.display());
                if in_dir {
                    inputs.skipped.push(note);
                } else {
                    inputs.problems.push(note);
                }
            }
            Ok(Kind::Keys(_)) => {}
            Ok(Kind::Log(daemon)) => {
                // A log with key lines is still a log, and a key source too.
                let k = match daemon {
                    Some(logs::Daemon::Charon) => Some(keys::Kind::Charon),
                    Some(logs::Daemon::Pluto) => Some(keys::Kind::Pluto),
                    _ => None,
                };
                if let Some(Ok(l)) = k.map(|k| keys::load_as(&path, k)) {
                    if !l.keys.is_empty() || !l.warnings.is_empty() {
                        inputs.key_sources.push(KeySource::of(&l, false));
                        ring.extend(l.keys);
                    }
                }
                logs_pending.push((side, path));
            }
            Ok(Kind::Capture) => captures_pending.push((side, path)),
        }
    }
    for l in bundle_state_keys(paths, explicit) {
        inputs.key_sources.push(KeySource::of(&l, false));
        ring.extend(l.keys);
    }
    let ring = (!ring.is_empty()).then(|| Arc::new(ring));
    for (side, path) in captures_pending {
        match read_capture_keyed(&path, limits, ring.clone()) {
            Ok(mut c) => {
                if let Some(dir) = path.parent() {
                    c.timeline.listening_until = bundle_capture_until(dir)
                        .into_iter()
                        .find(|(f, _)| *f == path)
                        .map(|(_, t)| t);
                }
                if let Some(t) = c.timeline.first_time {
                    if let Ok(ts) = jiff::Timestamp::from_second(t as i64) {
                        years.push(ts.to_zoned(jiff::tz::TimeZone::UTC).year() as i32);
                    }
                }
                side_mut(&mut inputs.sides, &side).captures.push(c);
            }
            Err(e) => inputs.problems.push(e),
        }
    }
    inputs.keys = ring;
    split_gateways(&mut inputs);
    // Logs without a year take the captures' year.
    let opts = ParseOptions {
        year: years.iter().max().copied(),
        ..Default::default()
    };
    for (side, path) in logs_pending {
        let name = path.display().to_string();
        let opts = match bundle_utc_offset(&path) {
            Some(utc_offset_secs) => ParseOptions {
                utc_offset_secs,
                ..opts.clone()
            },
            None => opts.clone(),
        };
        let parsed = File::open(&path)
            .and_then(|f| logs::parse_reader(&name, std::io::BufReader::with_capacity(1 << 16, f), &opts));
        match parsed {
            Ok(lf) => {
                let parts = lf.split_by_host();
                let several = parts.len() > 1;
                for (host, part) in parts {
                    // A session pasted from several hosts: each host is a gateway of its own.
                    let side = match host {
                        Some(h) if several => {
                            inputs.assigned.push(Assigned {
                                file: part.name.clone(),
                                side: h.clone(),
                                by: AssignedBy::Host,
                            });
                            h
                        }
                        _ => side.clone(),
                    };
                    side_mut(&mut inputs.sides, &side).logs.push(part);
                }
            }
            Err(e) => inputs.problems.push(format!("{name}: {e}")),
        }
    }
    load_state(paths, explicit, &mut inputs);
    inputs
}

/// The same file given twice (by two names, by `--side` and again in its folder, or as a copy)
/// is used once, the first time: counted twice it would double every retransmission.
fn drop_duplicates(files: &mut Vec<(String, PathBuf, bool)>, problems: &mut Vec<String>) {
    // (canonical path, fingerprint, the name first given)
    type Seen = (Option<PathBuf>, Option<(u64, u64)>, PathBuf);
    let mut seen: Vec<Seen> = Vec::new();
    files.retain(|(_, path, _)| {
        let canon = std::fs::canonicalize(path).ok();
        let print = fingerprint(path);
        let twin = seen
            .iter()
            .find(|(c, f, _)| (canon.is_some() && *c == canon) || (print.is_some() && *f == print));
        if let Some((_, _, first)) = twin {
            // Both gateways' save-keys tables hold the same SAs: one is enough, nothing to say.
            if matches!(sniff(path), Ok(Kind::Keys(_))) {
                return false;
            }
            problems.push(format!(
                "{}: the same content as {}; used once",
                path.display(),
                first.display()
            ));
            return false;
        }
        seen.push((canon, print, path.clone()));
        true
    });
}

/// Size and a hash of the first MiB: equal for a file and its copy.
fn fingerprint(path: &Path) -> Option<(u64, u64)> {
    use std::hash::{Hash, Hasher};
    let len = std::fs::metadata(path).ok()?.len();
    if len == 0 {
        return None;
    }
    let mut head = Vec::new();
    File::open(path).ok()?.take(1 << 20).read_to_end(&mut head).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    head.hash(&mut h);
    Some((len, h.finish()))
}

fn side_mut<'a>(sides: &'a mut Vec<Side>, name: &str) -> &'a mut Side {
    if let Some(i) = sides.iter().position(|s| s.name == name) {
        return &mut sides[i];
    }
    sides.push(Side {
        name: name.to_string(),
        ..Default::default()
    });
    sides.last_mut().unwrap()
}

/// source → wire → track for one file.
pub fn read_capture(path: &Path, limits: Limits) -> Result<Capture, String> {
    read_capture_keyed(path, limits, None)
}

/// [`read_capture`], its timeline given `keys` before the first packet.
pub fn read_capture_keyed(path: &Path, limits: Limits, keys: Option<Arc<KeyRing>>) -> Result<Capture, String> {
    let name = path.display().to_string();
    let reader = source::open(path).map_err(|e| format!("{name}: {e}"))?;
    Ok(decode_capture_keyed(name, reader, limits, keys))
}

/// source → wire → track for any opened capture (a file, standard input, bytes in memory).
pub fn decode_capture<R: Read>(name: String, reader: CaptureReader<R>, limits: Limits) -> Capture {
    decode_capture_keyed(name, reader, limits, None)
}

/// [`decode_capture`], its timeline given `keys` before the first packet.
pub fn decode_capture_keyed<R: Read>(
    name: String,
    mut reader: CaptureReader<R>,
    limits: Limits,
    keys: Option<Arc<KeyRing>>,
) -> Capture {
    let mut c = Capture::new(name, limits);
    if let Some(k) = keys {
        c.timeline.set_keys(k);
    }
    let mut d = CaptureDecoder::new(limits);
    while let Some(r) = reader.next_frame() {
        match r {
            Ok(f) => d.push(&mut c, &f),
            Err(e) => {
                c.error = Some(format!("{}: {e} (after {} packets)", c.name, d.frames));
                break;
            }
        }
    }
    c
}

/// wire → track for one capture, frame by frame as frames arrive: a file read to its end, or a
/// live stream whose [`Capture`] is read between frames.
pub struct CaptureDecoder {
    decoder: Decoder,
    /// Frames pushed so far.
    pub frames: u64,
}

impl CaptureDecoder {
    pub fn new(limits: Limits) -> Self {
        CaptureDecoder {
            decoder: Decoder::new(limits.frag),
            frames: 0,
        }
    }

    pub fn push(&mut self, c: &mut Capture, f: &source::Frame<'_>) {
        self.frames += 1;
        let cut = (f.data.len() as u64) < u64::from(f.wire_len);
        let caplen = f.data.len() as u32;
        let timeline = &mut c.timeline;
        let sink = |d: &crate::wire::packet::Decoded<'_>| {
            timeline.add(d);
            if cut {
                timeline.note_snapped(d, caplen);
            }
        };
        match self.decoder.decode(f, self.frames, sink) {
            Ok(()) => {}
            Err(Skip::UnknownLinkType(t)) => *c.unknown_link.entry(t).or_insert(0) += 1,
            Err(Skip::NotIp | Skip::Truncated) => c.timeline.packets += 1,
        }
        c.frag_stats = self.decoder.frag_stats();
        c.tcp_stats = self.decoder.tcp_stats();
    }
}

impl Capture {
    /// A capture with nothing in it yet.
    pub fn new(name: String, limits: Limits) -> Capture {
        Capture {
            name,
            timeline: Timeline::new(limits.track),
            unknown_link: BTreeMap::new(),
            frag_stats: frag::Stats::default(),
            tcp_stats: Default::default(),
            error: None,
        }
    }

    /// One line saying what the limits dropped, if anything, and what was still analysed.
    pub fn limit_warning(&self) -> Option<String> {
        let d = &self.timeline.dropped;
        let f = &self.frag_stats;
        let parts: Vec<String> = [
            (d.ike_messages, "IKE messages past --max-ike"),
            (d.esp_flows, "ESP packets of flows past --max-flows"),
            (d.frag_datagrams, "fragmented datagrams past the fragment table"),
            (d.icmp, "ICMP errors past the ICMP table"),
            (d.plain_flows, "packets of plain flows past the flow table"),
            (
                f.dropped_limit,
                "fragments refused by --max-frag-bytes / --max-frag-datagrams",
            ),
            (
                self.tcp_stats.dropped_limit,
                "TCP 4500 segments or streams past the stream reassembly's limits",
            ),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        let t = &self.timeline;
        (!parts.is_empty()).then(|| {
            format!(
                "{}: limits reached: {} were left out; the rest was analysed ({} packets read, {} IKE messages and {} ESP flows kept); raise the limits to analyse everything",
                self.name,
                parts.join(", "),
                t.packets,
                t.ike.len(),
                t.esp.len()
            )
        })
    }
}

/// Two captures with IKE or ESP under one name prefix (`vpn-east.pcap`, `vpn-west.pcap`) are two
/// gateways, not one gateway's two interfaces: each becomes a gateway named by its file stem.
fn split_gateways(inputs: &mut Inputs) {
    let mut extra = Vec::new();
    let mut assigned = Vec::new();
    for side in &mut inputs.sides {
        let ipsec = |c: &Capture| !c.timeline.ike.is_empty() || !c.timeline.esp.is_empty();
        if side.captures.iter().filter(|c| ipsec(c)).count() < 2 {
            continue;
        }
        let (moved, kept): (Vec<Capture>, Vec<Capture>) =
            std::mem::take(&mut side.captures).into_iter().partition(ipsec);
        side.captures = kept;
        for c in moved {
            let stem = Path::new(&c.name)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            inputs.problems.push(format!(
                "{}: a second capture with IPsec traffic under the name '{}'; taken as gateway '{stem}' (use --side to say otherwise)",
                c.name, side.name
            ));
            assigned.push(Assigned {
                file: c.name.clone(),
                side: stem.clone(),
                by: AssignedBy::Split,
            });
            extra.push(Side {
                name: stem,
                captures: vec![c],
                ..Default::default()
            });
        }
    }
    inputs.sides.extend(extra);
    inputs.assigned.extend(assigned);
    // A side left with nothing but internal captures keeps them; one left empty goes.
    inputs.sides.retain(|s| !s.captures.is_empty() || !s.logs.is_empty());
}

#[cfg(test)]
mod bundle_tests {
    #[test]
    fn keys_from_a_state_snapshot_kept_with_capture_keys() {
        // A real snapshot's sections around the real `ip -s xfrm state` output of
        // tests/data/keys (this kernel keeps no ESP SA, so no snapshot here holds one).
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let snap = std::fs::read_to_string(root.join("state/mtu-blackhole-sg2-end.txt")).unwrap();
        let xfrm = std::fs::read_to_string(root.join("keys/xfrm-state-s.txt")).unwrap();
        assert!(super::state_keys(&snap, "s").is_none());
        let with = snap.replacen("### ip -s xfrm state\n", &format!("### ip -s xfrm state\n{xfrm}"), 1);
        let l = super::state_keys(&with, "s").unwrap();
        assert_eq!(l.keys.esp.len(), 9);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }

    #[test]
    fn utc_offsets_as_date_prints_them() {
        assert_eq!(super::parse_utc_offset("+0000"), Some(0));
        assert_eq!(super::parse_utc_offset("+0530"), Some(19800));
        assert_eq!(super::parse_utc_offset("-0800"), Some(-28800));
        assert_eq!(super::parse_utc_offset("UTC"), None);
        assert_eq!(super::parse_utc_offset("+08"), None);
    }
}
