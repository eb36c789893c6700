//! Rules named after the write-up's situations (A–D) turn the correlated evidence into findings:
//! a cause id from DESIGN.md's taxonomy, a confidence, the packets and log lines that show it,
//! and the next step.

mod cause;
mod esp;
mod ike;
mod logs;
mod opened;
mod state;

pub use cause::Cause;

use crate::correlate::{Case, Gw, MsgRef};
use crate::logs::{EventKind, LogEvent, LogFile};
use crate::track::IkeMsg;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The same time with its date (RFC 3339; a log's own zone when it writes one), made where
    /// the time is known so the report need not work it out again from `time`.
    #[serde(skip)]
    pub timestamp: Option<String>,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub cause: Cause,
    pub confidence: f64,
    pub summary: String,
    pub evidence: Vec<Evidence>,
    pub advice: Vec<String>,
}

impl Finding {
    pub fn new(cause: Cause, confidence: f64, summary: impl Into<String>) -> Finding {
        Finding {
            cause,
            confidence,
            summary: summary.into(),
            evidence: Vec::new(),
            advice: Vec::new(),
        }
    }

    pub fn advise(mut self, a: impl Into<String>) -> Finding {
        self.advice.push(a.into());
        self
    }

    pub fn with(mut self, e: Option<Evidence>) -> Finding {
        if let Some(e) = e {
            if self.evidence.len() < MAX_EVIDENCE {
                self.evidence.push(e);
            }
        }
        self
    }

    pub fn is_problem(&self) -> bool {
        self.cause.is_problem()
    }

    /// The write-up's situation (A–D), or "-".
    pub fn situation(&self) -> &'static str {
        self.cause.situation()
    }
}

/// The JSON contract keeps `situation` and `cause` as strings side by side.
impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Finding", 6)?;
        st.serialize_field("situation", self.situation())?;
        st.serialize_field("cause", &self.cause)?;
        st.serialize_field("confidence", &self.confidence)?;
        st.serialize_field("summary", &self.summary)?;
        st.serialize_field("evidence", &self.evidence)?;
        st.serialize_field("advice", &self.advice)?;
        st.end()
    }
}

/// Evidence items kept per finding.
pub const MAX_EVIDENCE: usize = 12;

/// Seconds since the epoch as RFC 3339 in UTC, to the microsecond.
pub fn rfc3339(t: f64) -> Option<String> {
    let ts = jiff::Timestamp::from_microsecond((t * 1e6).round() as i64).ok()?;
    Some(ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

/// A log time as RFC 3339, in the log's own zone when it writes one.
fn log_rfc3339(lt: &crate::logs::LogTime) -> Option<String> {
    let epoch = lt.epoch?;
    let ts = jiff::Timestamp::from_microsecond((epoch * 1e6).round() as i64).ok()?;
    match lt.utc_offset.and_then(|o| jiff::tz::Offset::from_seconds(o).ok()) {
        Some(off) if off.seconds() != 0 => Some(
            ts.to_zoned(jiff::tz::TimeZone::fixed(off))
                .strftime("%Y-%m-%dT%H:%M:%S%.6f%:z")
                .to_string(),
        ),
        _ => rfc3339(epoch),
    }
}

pub fn fmt_time(t: f64) -> String {
    match jiff::Timestamp::from_microsecond((t * 1e6).round() as i64) {
        Ok(ts) => ts.strftime("%H:%M:%S%.6f").to_string(),
        Err(_) => format!("{t:.6}"),
    }
}

/// Evidence pointing at one IKE message.
pub fn msg_evidence(case: &Case<'_>, r: MsgRef, what: &str) -> Option<Evidence> {
    let g = case.gw(r.gw);
    let m = g.ike().get(r.idx)?;
    Some(Evidence {
        source: g.ext?.name.clone(),
        packet: Some(m.number),
        line: None,
        time: Some(fmt_time(m.time)),
        timestamp: rfc3339(m.time),
        text: format!("{what}: {}", describe(m)),
    })
}

/// One line about an IKE message, in the words of the write-up.
pub fn describe(m: &IkeMsg) -> String {
    let dir = format!("{} > {}", m.src, m.dst);
    let kind = if m.major >= 2 {
        format!(
            "IKEv2 {} {} msgid {}",
            m.exchange_name(),
            if m.is_response() { "response" } else { "request" },
            m.msgid
        )
    } else {
        format!(
            "IKEv1 {}{} msgid {:08x}",
            m.exchange_name(),
            if m.is_v1_encrypted() { " [E]" } else { "" },
            m.msgid
        )
    };
    let mut extra = String::new();
    if m.tcp {
        extra.push_str(", TCP 4500");
    } else if m.natt {
        extra.push_str(", UDP 4500");
    }
    if m.ip_fragmented {
        extra.push_str(", in IP fragments");
    }
    if let Some((n, t)) = m.ike_fragment {
        extra.push_str(&format!(", IKE fragment {n}/{t}"));
    }
    if m.retransmission {
        extra.push_str(", retransmission");
    }
    if let Some(d) = &m.opened {
        extra.push_str(&format!(", {}", d.describe()));
    }
    for n in &m.notifies {
        let name = if m.major >= 2 {
            crate::wire::isakmp::ikev2_notify_name(*n)
        } else {
            crate::wire::isakmp::ikev1_notify_name(*n)
        };
        extra.push_str(&format!(
            ", notify {}",
            name.map(str::to_string).unwrap_or_else(|| n.to_string())
        ));
    }
    format!("{kind}, {} bytes, {dir}{extra}", m.length)
}

pub fn log_evidence(l: &LogFile, e: &LogEvent) -> Evidence {
    Evidence {
        source: l.name.clone(),
        packet: None,
        line: Some(e.line),
        time: e
            .time
            .as_ref()
            .map(|t| format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second)),
        timestamp: e.time.as_ref().and_then(log_rfc3339),
        text: e.text.clone(),
    }
}

/// The first log line on gateway `g` whose event matches.
pub fn find_log<'a>(g: &'a Gw<'_>, f: impl Fn(&EventKind) -> bool) -> Option<(&'a LogFile, &'a LogEvent)> {
    g.events().find(|(_, e)| f(&e.kind))
}

pub fn log_ev(g: &Gw<'_>, f: impl Fn(&EventKind) -> bool) -> Option<Evidence> {
    find_log(g, f).map(|(l, e)| log_evidence(l, e))
}

/// All findings, most likely root cause first. A tunnel with nothing wrong gives one `healthy`.
/// What the captures cannot show ([`crate::coverage`]) lowers the root cause's confidence.
pub fn diagnose(case: &Case<'_>) -> Vec<Finding> {
    let cov = crate::coverage::assess(case);
    diagnose_with(case, &cov)
}

/// [`diagnose`] with the captures' coverage already computed.
pub fn diagnose_with(case: &Case<'_>, cov: &crate::coverage::Coverage) -> Vec<Finding> {
    let mut findings = rules(case);
    // The gateways' state snapshots before the hedge: what they prove is weighed by what the
    // captures cannot show like any other evidence.
    state::annotate(case, &mut findings);
    if let Some(f) = findings.first_mut() {
        hedge(f, cov);
    }
    findings
}

/// A finding that rests on a capture with a blind spot known to hide something (one direction
/// only, no overlap, a gap, a snap length that cut IKE) is less sure, and says why.
fn hedge(f: &mut Finding, cov: &crate::coverage::Coverage) {
    use crate::coverage::{factor, hedge_words, BlindKind, Role};
    if f.cause == Cause::Inconclusive {
        return;
    }
    let cited: Vec<&str> = f
        .evidence
        .iter()
        .filter(|e| e.packet.is_some())
        .map(|e| e.source.as_str())
        .collect();
    // Each kind once (its factor once), with the captures that have it.
    let mut kinds: Vec<(BlindKind, Vec<&str>)> = Vec::new();
    let mut gateways: Vec<&str> = Vec::new();
    for c in cov.captures.iter().filter(|c| c.role == Role::External) {
        let cites = cited.is_empty() || cited.contains(&c.file.as_str());
        for b in c.limiting() {
            // What a capture holds is read from the packets cited; what it lacks (a direction,
            // a stretch of time) weighs on every finding made from the two captures.
            if b.kind == BlindKind::Snaplen && !cites {
                continue;
            }
            let file = std::path::Path::new(&c.file)
                .file_name()
                .map_or(c.file.as_str(), |n| n.to_str().unwrap_or(""));
            match kinds.iter_mut().find(|(k, _)| *k == b.kind) {
                Some((_, files)) if !files.contains(&file) => files.push(file),
                Some(_) => {}
                None => {
                    f.confidence *= factor(b.kind);
                    kinds.push((b.kind, vec![file]));
                }
            }
            if !gateways.contains(&c.gateway.as_str()) {
                gateways.push(c.gateway.as_str());
            }
        }
    }
    if kinds.is_empty() {
        return;
    }
    f.confidence = (f.confidence * 100.0).round() / 100.0;
    let words: Vec<String> = kinds.iter().map(|(k, files)| hedge_words(*k, files)).collect();
    f.summary.push_str(&format!(
        "; less sure than it reads: {} (see what each capture cannot show)",
        words.join("; ")
    ));
    f.advice.push(format!(
        "capture again on {} with the command `ipsec-doctor capture-filter` prints, both directions, -s 0, from before the tunnel is brought up",
        gateways.join(" and ")
    ));
}

fn rules(case: &Case<'_>) -> Vec<Finding> {
    let mut ike = ike::analyse(case);
    let root = ike
        .problem
        .take()
        .or_else(|| esp::analyse(case, &ike))
        .or_else(|| unproven_esp(case))
        .unwrap_or_else(|| healthy(case, &ike));
    let mut findings = vec![root];
    findings.extend(ike.observations);
    findings
}

/// ESP seen leaving a gateway towards one whose capture is missing: whether it arrives, no
/// capture shows. Healthy needs ESP seen passing both ways; this is not proof of it (the peer
/// may never receive it: esp-one-way).
fn unproven_esp(case: &Case<'_>) -> Option<Finding> {
    let p = case
        .esp
        .iter()
        .filter(|p| p.sent.is_some() && p.arrived.is_none())
        .find(|p| p.to.is_none_or(|t| case.gw(t).ext.is_none()))?;
    let from = p.from.map_or("one gateway", |g| case.gw(g).name);
    Some(
        Finding::new(
            Cause::Inconclusive,
            0.0,
            format!(
                "cannot tell: the SAs are up and ESP passes as far as {from}'s capture shows, but whether {from}'s ESP (SPI 0x{:08x}) arrives at the peer needs the peer's capture: the tunnel may be healthy, or one-way (esp-one-way)",
                p.spi
            ),
        )
        .advise("capture on the other gateway at the same time (`ipsec-doctor capture-filter` prints the command) and give both captures"),
    )
}

fn healthy(case: &Case<'_>, ike: &ike::IkeAnalysis) -> Finding {
    let mut summary = ike.healthy_summary.clone();
    let arrived: u64 = case.esp.iter().filter_map(|p| p.arrived).map(|f| f.packets).sum();
    let dirs = case.esp.iter().filter(|p| p.arrived.is_some()).count();
    if arrived > 0 {
        summary.push_str(&format!(
            "; ESP arrives ({arrived} packets over {dirs} SPI/direction pairs)"
        ));
    }
    // Decrypted, the inner traffic that passes.
    let inside: Vec<String> = case
        .esp
        .iter()
        .filter_map(|p| p.arrived.or(p.sent))
        .filter_map(esp::inner_text)
        .take(2)
        .collect();
    if !inside.is_empty() {
        summary.push_str(&format!("; inside: {}", inside.join("; ")));
    }
    let mut h = Finding::new(Cause::Healthy, ike.healthy_confidence, summary);
    h.evidence = ike.healthy_evidence.clone();
    h
}

#[cfg(test)]
mod tests;
