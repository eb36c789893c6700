//! The commands running on the gateways and the threads reading them: each command runs on
//! the leash, its output comes back as messages (frames in batches, lines, its end) over one
//! bounded queue.

use super::bundle::PcapWriter;
use super::scripts;
use super::target::Target;
use crate::source::{CaptureReader, Frame, Timestamp};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, ExitStatus};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A gateway's capture file, written by whichever reader thread has its stream (a `watch`
/// restarts them).
pub(super) type SharedPcap = Arc<Mutex<PcapWriter>>;

/// Messages in flight at most: a reader that gets ahead of the engine waits (and tcpdump's
/// kernel buffer takes the rest), so memory stays bounded (a batch holds at most
/// [`BATCH_BYTES`]: some 32 MB queued at most).
pub(super) const QUEUE: usize = 32;

/// What the reader threads send.
pub(super) enum Msg {
    Frames {
        cap: usize,
        batch: Batch,
    },
    Line {
        stream: usize,
        line: Vec<u8>,
    },
    /// A stream's standard output ended.
    Ended {
        stream: usize,
        error: Option<String>,
    },
    Stderr {
        stream: usize,
        line: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Capture(usize),
    Log(usize),
    Up(usize),
    Ping,
}

/// A command running on a gateway.
pub(super) struct Stream {
    pub(super) gw: usize,
    pub(super) kind: Kind,
    pub(super) label: String,
    pub(super) argv: Vec<String>,
    pub(super) child: Option<Child>,
    pub(super) stdin: Option<ChildStdin>,
    pub(super) threads: Vec<JoinHandle<()>>,
    pub(super) ended: bool,
    pub(super) status: Option<ExitStatus>,
    /// The last lines it printed (standard error; for the up command, all its output).
    pub(super) tail: Vec<String>,
    /// The file its lines go to (logs, up and ping output).
    pub(super) file: Option<std::fs::File>,
    pub(super) ready: bool,
    pub(super) restarts: u32,
    pub(super) started: Instant,
    /// Where a capture stream's frames are written.
    pub(super) pcap: Option<SharedPcap>,
}

impl Stream {
    pub(super) fn new(gw: usize, kind: Kind, label: String, argv: Vec<String>, file: Option<std::fs::File>) -> Stream {
        Stream {
            gw,
            kind,
            label,
            argv,
            child: None,
            stdin: None,
            threads: Vec::new(),
            ended: false,
            status: None,
            tail: Vec::new(),
            file,
            ready: false,
            restarts: 0,
            started: Instant::now(),
            pcap: None,
        }
    }

    pub(super) fn spawn(&mut self, idx: usize, target: &Target, tx: &SyncSender<Msg>) -> Result<(), String> {
        let argv = scripts::argv(scripts::LEASH, &self.argv);
        let mut child = target
            .command(&argv)
            .spawn()
            .map_err(|e| format!("{}: cannot run {}: {e}", self.label, target.words(&argv)[0]))?;
        self.stdin = child.stdin.take();
        let out = child.stdout.take().expect("piped");
        let err = child.stderr.take().expect("piped");
        let t = tx.clone();
        self.threads.push(std::thread::spawn(move || {
            let mut r = BufReader::new(err);
            let mut line = Vec::new();
            while r.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                line.clear();
                if t.send(Msg::Stderr {
                    stream: idx,
                    line: text,
                })
                .is_err()
                {
                    break;
                }
            }
        }));
        let t = tx.clone();
        let kind = self.kind;
        let pcap = self.pcap.clone();
        self.threads.push(std::thread::spawn(move || match kind {
            Kind::Capture(cap) => read_capture(out, cap, idx, pcap, &t),
            _ => read_lines(out, idx, &t),
        }));
        self.child = Some(child);
        self.ended = false;
        self.ready = !matches!(kind, Kind::Capture(_));
        self.started = Instant::now();
        Ok(())
    }

    pub(super) fn keep(&mut self, line: String) {
        if self.tail.len() >= 20 {
            self.tail.remove(0);
        }
        self.tail.push(line);
    }

    /// Closes its standard input: the leash stops the command on the gateway.
    pub(super) fn stop(&mut self) {
        self.stdin.take();
    }

    /// Whether the local process has ended (its status kept). Its reader threads are not
    /// waited for: they end when their pipes close, after handing over what they read.
    pub(super) fn try_reap(&mut self) -> bool {
        let Some(child) = self.child.as_mut() else { return true };
        match child.try_wait() {
            Ok(Some(st)) => {
                self.status = Some(st);
                self.child = None;
                self.threads.clear();
                true
            }
            Ok(None) => false,
            Err(_) => {
                self.child = None;
                true
            }
        }
    }

    /// Kills the local process group (the leash on the gateway still sees its input close).
    pub(super) fn kill(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        kill_group(&mut child);
        self.status = child.try_wait().ok().flatten();
        self.threads.clear();
    }
}

/// Frames read in one go from a capture stream: their bytes end to end, and where each is.
pub(super) struct Batch {
    pub(super) data: Vec<u8>,
    pub(super) frames: Vec<(Timestamp, u32, u32, std::ops::Range<usize>)>,
}

impl Batch {
    pub(super) fn new() -> Batch {
        Batch {
            data: Vec::with_capacity(64 << 10),
            frames: Vec::with_capacity(256),
        }
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = Frame<'_>> {
        self.frames.iter().map(|(ts, linktype, wire_len, r)| Frame {
            ts: *ts,
            linktype: *linktype,
            wire_len: *wire_len,
            data: &self.data[r.clone()],
            offset: 0,
        })
    }
}

/// Frames at most per batch: the engine sees a busy stream at least this often.
const BATCH_FRAMES: usize = 1024;
/// Bytes at most per batch (a 64 KB frame of a GRO'd interface counts as what it is).
const BATCH_BYTES: usize = 1 << 20;

/// Reads a capture stream, writes it to the bundle and hands it to the engine in batches: a
/// batch goes when the reader would have to wait for more, so a quiet link loses no time.
fn read_capture(out: impl Read, cap: usize, stream: usize, pcap: Option<SharedPcap>, tx: &SyncSender<Msg>) {
    let mut r = match CaptureReader::new(out) {
        Ok(r) => r,
        Err(e) => {
            // No header at all: tcpdump never started (its message is on standard error).
            let error =
                (!matches!(e, crate::source::SourceError::NotACapture { magic: [0, 0, 0, 0] })).then(|| e.to_string());
            let _ = tx.send(Msg::Ended { stream, error });
            return;
        }
    };
    if let (Some(linktype), Some(p)) = (r.linktype(), &pcap) {
        if let Ok(mut w) = p.lock() {
            let _ = w.header(linktype);
        }
    }
    let mut error = None;
    let mut batch = Batch::new();
    loop {
        let more = match r.next_frame() {
            None => false,
            Some(Ok(f)) => {
                let at = batch.data.len();
                batch.data.extend_from_slice(f.data);
                batch.frames.push((f.ts, f.linktype, f.wire_len, at..batch.data.len()));
                true
            }
            Some(Err(e)) => {
                error = Some(e.to_string());
                false
            }
        };
        let full = batch.frames.len() >= BATCH_FRAMES || batch.data.len() >= BATCH_BYTES || !more || r.buffered() == 0;
        if full && !batch.frames.is_empty() {
            if let Some(p) = &pcap {
                if let Ok(mut w) = p.lock() {
                    for f in batch.iter() {
                        let _ = w.write(&f);
                    }
                    let _ = w.flush();
                }
            }
            let b = std::mem::replace(&mut batch, Batch::new());
            if tx.send(Msg::Frames { cap, batch: b }).is_err() {
                return;
            }
        }
        if !more {
            break;
        }
    }
    let _ = tx.send(Msg::Ended { stream, error });
}

fn read_lines(out: impl Read, stream: usize, tx: &SyncSender<Msg>) {
    let mut r = BufReader::new(out);
    let mut line = Vec::new();
    loop {
        line.clear();
        match r.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                if tx
                    .send(Msg::Line {
                        stream,
                        line: line.clone(),
                    })
                    .is_err()
                {
                    return;
                }
            }
        }
    }
    let _ = tx.send(Msg::Ended { stream, error: None });
}

/// Runs `argv` on the gateway to the end (at most `limit`), on the leash: our end of its input
/// stays open while it runs, so a timeout stops it there too. Standard output, standard error,
/// exit status.
pub(super) fn run_once(
    target: &Target,
    argv: &[String],
    limit: Duration,
) -> Result<(String, String, ExitStatus), String> {
    let leashed = scripts::argv(scripts::LEASH, argv);
    let mut child = target
        .command(&leashed)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", target.words(&leashed)[0]))?;
    let input = child.stdin.take();
    let (tx, rx) = std::sync::mpsc::channel();
    for (i, pipe) in [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .enumerate()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut s = Vec::new();
            if let Some(mut p) = pipe {
                // Bounded: a gateway's answer is a few kilobytes.
                let _ = p.by_ref().take(16 << 20).read_to_end(&mut s);
            }
            let _ = tx.send((i, s));
        });
    }
    let t0 = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if t0.elapsed() < limit => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                drop(input);
                kill_group(&mut child);
                return Err(format!("no answer within {} s", limit.as_secs()));
            }
        }
    };
    drop(input);
    // An ssh ControlMaster started by this command keeps its pipes open: wait a moment only.
    let mut out = [Vec::new(), Vec::new()];
    let until = Instant::now() + Duration::from_secs(2);
    for _ in 0..2 {
        match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok((i, s)) => out[i] = s,
            Err(_) => break,
        }
    }
    let [o, e] = out.map(|b| String::from_utf8_lossy(&b).into_owned());
    Ok((o, e, status))
}

/// Kills a local command's process group (the leash on the gateway still sees its input close).
fn kill_group(child: &mut Child) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(std::process::Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}
