//! The diagnosis engine over streams: frames and log lines go in as they arrive, each into its
//! gateway's timeline or log, and the verdict is asked for between them. It is the batch
//! engine's own code (`inputs::CaptureDecoder`, `logs::LogStream`, `cmd::diagnose::analyse`)
//! over inputs that are not finished yet.

use crate::cmd::diagnose::analyse;
use crate::diagnose::Cause;
use crate::inputs::{Capture, CaptureDecoder, Inputs, Limits, Side};
use crate::logs::{LogStream, ParseOptions};
use crate::source::Frame;
use crate::track::Aged;

/// What the evidence says now.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub cause: Cause,
    pub summary: String,
    pub confidence: f64,
    /// Exit status the report would give.
    pub status: u8,
}

/// One IKE message's journey so far, for the live view.
#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// Sender's capture time (or the receiver's, when only it saw the message).
    pub time: f64,
    pub from: String,
    pub to: String,
    /// `IKE_SA_INIT request`, `Identity Protection (Main Mode)`, ...
    pub what: String,
    pub retransmission: bool,
    /// Seen leaving the sender / arriving at the receiver.
    pub sent: bool,
    pub arrived: bool,
    /// Identifies the message across verdicts, whichever end's record came first: (sender, the
    /// message's digest (equal at both ends), its occurrence among the sender's messages with
    /// that digest: retransmissions are 1, 2, ...).
    pub key: (String, u64, usize),
}

/// Everything seen so far on every gateway.
pub struct Engine {
    inputs: Inputs,
    decoders: Vec<(String, CaptureDecoder)>,
    logs: Vec<(String, LogStream)>,
    limits: Limits,
    /// What aging forgot, per gateway.
    pub aged: Vec<(String, Aged, usize)>,
}

impl Engine {
    pub fn new(limits: Limits) -> Engine {
        Engine {
            inputs: Inputs::default(),
            decoders: Vec::new(),
            logs: Vec::new(),
            limits,
            aged: Vec::new(),
        }
    }

    fn side_mut(&mut self, side: &str) -> &mut Side {
        if let Some(i) = self.inputs.sides.iter().position(|s| s.name == side) {
            return &mut self.inputs.sides[i];
        }
        self.inputs.sides.push(Side {
            name: side.to_string(),
            ..Default::default()
        });
        self.aged.push((side.to_string(), Aged::default(), 0));
        self.inputs.sides.last_mut().expect("just pushed")
    }

    /// A capture of gateway `side`, named `name` (the file it is written to); returns its index.
    pub fn add_capture(&mut self, side: &str, name: &str) -> usize {
        let c = Capture::new(name.to_string(), self.limits);
        self.side_mut(side).captures.push(c);
        self.decoders.push((name.to_string(), CaptureDecoder::new(self.limits)));
        self.decoders.len() - 1
    }

    /// A log of gateway `side`; returns its index. Lines without a year are taken as written
    /// when they arrive (`year` for those without a month either), lines without a zone as
    /// `utc_offset_secs` east of UTC (the gateway's zone).
    pub fn add_log(&mut self, side: &str, name: &str, year: i32, utc_offset_secs: i32) -> usize {
        self.side_mut(side);
        let opts = ParseOptions {
            year: Some(year),
            // A log followed for days has no line limit; `age_out` bounds what is kept.
            max_lines: usize::MAX,
            utc_offset_secs,
            ..Default::default()
        };
        self.logs.push((side.to_string(), LogStream::new(name, &opts)));
        self.logs.len() - 1
    }

    /// Frames of one capture, in order (the capture is looked up once for all of them).
    pub fn frames<'f>(&mut self, capture: usize, frames: impl IntoIterator<Item = Frame<'f>>) {
        let (name, dec) = &mut self.decoders[capture];
        if let Some(c) = find(&mut self.inputs.sides, name) {
            for f in frames {
                dec.push(c, &f);
            }
        }
    }

    /// The capture stream broke: what came before stays.
    pub fn capture_error(&mut self, capture: usize, why: &str) {
        let name = &self.decoders[capture].0;
        if let Some(c) = find(&mut self.inputs.sides, name) {
            c.error = Some(format!("{name}: {why}"));
        }
    }

    /// The capture is still running at `t` (seconds, on its gateway's clock).
    pub fn listening(&mut self, capture: usize, t: f64) {
        if let Some(c) = find(&mut self.inputs.sides, &self.decoders[capture].0) {
            c.timeline.listening_until = Some(t);
        }
    }

    pub fn line(&mut self, log: usize, line: &[u8]) {
        self.logs[log].1.feed_line(line);
    }

    /// Brings the logs as read so far into the inputs.
    fn sync_logs(&mut self) {
        for s in &mut self.inputs.sides {
            s.logs = self
                .logs
                .iter()
                .filter(|(side, _)| *side == s.name)
                .map(|(_, l)| l.snapshot())
                .filter(|l| !l.events.is_empty())
                .collect();
        }
    }

    /// The verdict on everything so far, and every IKE message's journey; `None` while nothing
    /// usable has arrived.
    pub fn verdict(&mut self) -> Option<(Verdict, Vec<Hop>)> {
        self.sync_logs();
        if !self.inputs.usable() {
            return None;
        }
        Some(analyse(&mut self.inputs, |case, _, findings, _| {
            let f = findings.first()?;
            let v = Verdict {
                cause: f.cause,
                summary: f.summary.clone(),
                confidence: f.confidence,
                status: crate::cmd::diagnose::exit_status(findings),
            };
            let name = |g: Option<crate::correlate::GwId>| g.map_or("?".to_string(), |g| case.gw(g).name.to_string());
            let mut seen: std::collections::HashMap<(String, u64), usize> = std::collections::HashMap::new();
            let hops = case
                .msgs
                .iter()
                .filter_map(|p| {
                    let r = p.sent.or(p.arrived)?;
                    let m = case.gw(r.gw).ike().get(r.idx)?;
                    let dir = if m.is_response() { "response" } else { "request" };
                    Some(Hop {
                        time: case.on_first_clock(r.gw, m.time),
                        from: name(p.from),
                        to: name(p.to),
                        what: format!("{} {dir}", m.exchange_name()),
                        retransmission: m.retransmission,
                        sent: p.sent.is_some(),
                        arrived: p.arrived.is_some(),
                        key: {
                            let n = seen.entry((name(p.from), m.digest)).or_insert(0);
                            *n += 1;
                            (name(p.from), m.digest, *n)
                        },
                    })
                })
                .collect();
            Some((v, hops))
        }))
        .flatten()
    }

    /// Forgets what happened on each gateway before `t(gateway)` (on that gateway's clock), on
    /// every capture and log: a watch that runs for days.
    pub fn age_out(&mut self, t: impl Fn(&str) -> f64) {
        for s in &mut self.inputs.sides {
            let t = t(&s.name);
            let mut entry = self.aged.iter_mut().find(|a| a.0 == s.name);
            for c in &mut s.captures {
                let a = c.timeline.age_out(t);
                if let Some(e) = entry.as_deref_mut() {
                    e.1.ike_messages += a.ike_messages;
                    e.1.esp_packets += a.esp_packets;
                    e.1.icmp += a.icmp;
                }
            }
        }
        for (side, l) in &mut self.logs {
            let n = l.age_out(t(side));
            if let Some(e) = self.aged.iter_mut().find(|a| a.0 == *side) {
                e.2 += n;
            }
        }
    }

    /// The inputs as they stand, logs included.
    pub fn inputs_mut(&mut self) -> &mut Inputs {
        self.sync_logs();
        &mut self.inputs
    }
}

fn find<'a>(sides: &'a mut [Side], name: &str) -> Option<&'a mut Capture> {
    sides
        .iter_mut()
        .flat_map(|s| s.captures.iter_mut())
        .find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::CaptureReader;

    fn feed(e: &mut Engine, idx: usize, path: &str) {
        let mut r = CaptureReader::new(std::fs::File::open(path).unwrap()).unwrap();
        while let Some(Ok(f)) = r.next_frame() {
            e.frames(idx, [f]);
        }
    }

    /// Fed frame by frame, the engine gives the batch verdict of the same files.
    #[test]
    fn streamed_captures_give_the_batch_verdict() {
        for ex in ["psk-mismatch-ikev2", "esp-one-way-ikev2", "healthy-ikev2"] {
            let dir = format!("examples/{ex}");
            let mut e = Engine::new(Limits::default());
            let a = e.add_capture("sg1", &format!("{dir}/sg1.pcap"));
            let b = e.add_capture("sg2", &format!("{dir}/sg2.pcap"));
            feed(&mut e, a, &format!("{dir}/sg1.pcap"));
            feed(&mut e, b, &format!("{dir}/sg2.pcap"));
            let (v, hops) = e.verdict().unwrap();
            let paths = vec![format!("{dir}/sg1.pcap").into(), format!("{dir}/sg2.pcap").into()];
            let mut batch = crate::inputs::load(&paths, &[], Limits::default());
            let want = analyse(&mut batch, |_, _, f, _| f[0].cause);
            assert_eq!(v.cause, want, "{ex}");
            assert!(
                hops.iter()
                    .any(|h| h.what.starts_with("IKE_SA_INIT request") && h.arrived),
                "{ex}: {hops:?}"
            );
        }
    }

    #[test]
    fn nothing_yet_is_no_verdict() {
        let mut e = Engine::new(Limits::default());
        e.add_capture("sg1", "sg1.pcap");
        let l = e.add_log("sg1", "sg1-pluto.log", 2026, 0);
        e.line(l, b"nothing a daemon would say");
        assert_eq!(e.verdict(), None);
    }

    /// A followed log's yearless lines get the year they are read in (last year's December in
    /// January).
    #[test]
    fn followed_lines_are_dated_now() {
        let mut e = Engine::new(Limits::default());
        let l = e.add_log("sg2", "sg2-pluto.log", 1999, 0);
        let text = std::fs::read_to_string("examples/psk-mismatch-ikev2/sg2-pluto.log").unwrap();
        for line in text.lines() {
            e.line(l, line.as_bytes());
        }
        let now = jiff::Zoned::now();
        let events = &e.inputs_mut().sides[0].logs[0].events;
        assert!(!events.is_empty());
        for ev in events {
            let t = ev.time.as_ref().unwrap();
            let want = if t.month.unwrap() > now.month() as u8 + 6 {
                now.year() - 1
            } else {
                now.year()
            };
            assert_eq!(t.year, Some(i32::from(want)), "{ev:?}");
            assert!(t.epoch.is_some());
        }
    }

    #[test]
    fn aging_forgets_old_exchanges_and_counts_them() {
        let mut e = Engine::new(Limits::default());
        let a = e.add_capture("sg1", "examples/healthy-ikev2/sg1.pcap");
        feed(&mut e, a, "examples/healthy-ikev2/sg1.pcap");
        e.age_out(|_| f64::MAX);
        assert!(e.aged[0].1.ike_messages > 0);
        assert!(e.inputs_mut().sides[0].captures[0].timeline.ike.is_empty());
    }
}
