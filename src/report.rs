//! Findings out: short text for a terminal (colour only on a terminal), the JSON contract of
//! DESIGN.md, and an optional side-by-side timeline of the IKE exchanges.

use crate::correlate::{Case, GwId};
use crate::coverage::{file_name, CaptureCoverage, Coverage, Role};
use crate::diagnose::{describe, fmt_time, rfc3339, Evidence, Finding};
use crate::inputs::Inputs;
use serde::Serialize;
use std::fmt::Write;

#[derive(Serialize)]
struct SideJson<'a> {
    name: &'a str,
    addresses: Vec<String>,
    captures: Vec<CaptureJson<'a>>,
    logs: Vec<LogJson<'a>>,
}

#[derive(Serialize)]
struct CaptureJson<'a> {
    file: &'a str,
    packets: u64,
    ike_messages: usize,
    esp_flows: usize,
    role: &'a str,
    /// First and last packet, RFC 3339 in UTC.
    start: Option<String>,
    end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    dropped: &'a crate::track::Dropped,
}

#[derive(Serialize)]
struct LogJson<'a> {
    file: &'a str,
    dialect: crate::logs::Dialect,
    #[serde(skip_serializing_if = "Option::is_none")]
    daemon: Option<String>,
    events: usize,
}

#[derive(Serialize)]
struct IkeSaJson {
    side: String,
    ispi: String,
    rspi: String,
    version: u8,
    /// One sentence per message, as the text report describes it.
    messages: Vec<String>,
    /// The same messages as fields.
    packets: Vec<IkeMsgJson>,
}

/// One IKE message of a capture, as fields.
#[derive(Serialize)]
struct IkeMsgJson {
    packet: u64,
    timestamp: Option<String>,
    exchange: String,
    msgid: u32,
    /// IKEv2: the R flag; IKEv1 has none (false).
    response: bool,
    from: String,
    to: String,
    /// Sent on UDP 4500 with the non-ESP marker (NAT-T).
    natt: bool,
    length: u32,
    /// IKEv1: the encryption flag.
    encrypted: bool,
    /// The same message sent again (same content).
    retransmission: bool,
    /// Gateways that sent and should receive it, when known.
    sender: Option<String>,
    receiver: Option<String>,
    /// Seen in the receiver's capture: true/false when that capture is there, null otherwise.
    arrived: Option<bool>,
}

#[derive(Serialize)]
struct EspJson {
    spi: String,
    from: Option<String>,
    to: Option<String>,
    sent_packets: Option<u64>,
    arrived_packets: Option<u64>,
    encapsulated: bool,
}

/// One piece of evidence: the diagnosis's own fields, and its time with the date.
#[derive(Serialize)]
struct EvidenceJson<'a> {
    #[serde(flatten)]
    e: &'a Evidence,
    /// RFC 3339: UTC for packets, the log's own zone when it writes one (else taken as UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
}

#[derive(Serialize)]
struct FindingJson<'a> {
    situation: &'static str,
    cause: crate::diagnose::Cause,
    confidence: f64,
    summary: &'a str,
    evidence: Vec<EvidenceJson<'a>>,
    advice: &'a [String],
}

/// One capture: its gateway and why, what it holds, what it cannot show.
#[derive(Serialize)]
struct CoverageJson<'a> {
    #[serde(flatten)]
    c: &'a CaptureCoverage,
    /// First and last packet, RFC 3339 in UTC.
    start: Option<String>,
    end: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    findings: Vec<FindingJson<'a>>,
    /// Every capture given: its gateway and why, what it holds, its blind spots.
    captures: Vec<CoverageJson<'a>>,
    sides: Vec<SideJson<'a>>,
    ike_sas: Vec<IkeSaJson>,
    esp_flows: Vec<EspJson>,
    /// Kept for older readers: the same as `clock_offset_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    clock_offset: Option<f64>,
    /// Seconds the second gateway's capture clock is ahead of the first's.
    #[serde(skip_serializing_if = "Option::is_none")]
    clock_offset_s: Option<f64>,
    problems: &'a [String],
    skipped: &'a [String],
}

pub fn json(case: &Case<'_>, inputs: &Inputs, findings: &[Finding], cov: &Coverage) -> String {
    let sides = case
        .gws
        .iter()
        .map(|g| SideJson {
            name: g.name,
            addresses: g.addrs.iter().map(|a| a.to_string()).collect(),
            captures: g
                .captures
                .iter()
                .map(|c| CaptureJson {
                    file: &c.name,
                    packets: c.timeline.packets,
                    ike_messages: c.timeline.ike.len(),
                    esp_flows: c.timeline.esp.len(),
                    start: c.timeline.first_time.and_then(rfc3339),
                    end: c.timeline.last_time.and_then(rfc3339),
                    role: if g.ext.is_some_and(|e| std::ptr::eq(e, c)) {
                        "external"
                    } else {
                        "internal"
                    },
                    error: c.error.as_deref(),
                    dropped: &c.timeline.dropped,
                })
                .collect(),
            logs: g
                .logs
                .iter()
                .map(|l| LogJson {
                    file: &l.name,
                    dialect: l.dialect,
                    daemon: l
                        .daemon
                        .as_ref()
                        .map(|d| d.version.clone().unwrap_or_else(|| format!("{:?}", d.daemon))),
                    events: l.events.len(),
                })
                .collect(),
        })
        .collect();
    let mut ike_sas: Vec<IkeSaJson> = Vec::new();
    // Each captured IKE message's journey between the gateways.
    let mut journeys: std::collections::HashMap<(GwId, usize), &crate::correlate::MsgPath> =
        std::collections::HashMap::new();
    for p in &case.msgs {
        for r in [p.sent, p.arrived].into_iter().flatten() {
            journeys.insert((r.gw, r.idx), p);
        }
    }
    let gw_name = |g: Option<GwId>| g.map(|i| case.gw(i).name.to_string());
    for (gid, g) in case.gw_ids().zip(&case.gws) {
        for (idx, m) in g.ike().iter().enumerate() {
            let journey = journeys.get(&(gid, idx));
            let ispi = crate::track::hex(&m.ispi);
            let sa = match ike_sas.iter_mut().find(|s| s.side == g.name && s.ispi == ispi) {
                Some(s) => s,
                None => {
                    ike_sas.push(IkeSaJson {
                        side: g.name.to_string(),
                        ispi: ispi.clone(),
                        rspi: crate::track::hex(&m.rspi),
                        version: m.major,
                        messages: Vec::new(),
                        packets: Vec::new(),
                    });
                    ike_sas.last_mut().unwrap_or_else(|| unreachable!())
                }
            };
            if sa.rspi.chars().all(|c| c == '0') {
                sa.rspi = crate::track::hex(&m.rspi);
            }
            if sa.messages.len() < 200 {
                sa.messages.push(format!("#{} {}", m.number, describe(m)));
                sa.packets.push(IkeMsgJson {
                    packet: m.number,
                    timestamp: rfc3339(m.time),
                    exchange: m.exchange_name(),
                    msgid: m.msgid,
                    response: m.is_response(),
                    from: m.src.to_string(),
                    to: m.dst.to_string(),
                    natt: m.natt,
                    length: m.length,
                    encrypted: m.is_v1_encrypted(),
                    retransmission: m.retransmission,
                    sender: journey.and_then(|p| gw_name(p.from)),
                    receiver: journey.and_then(|p| gw_name(p.to)),
                    arrived: journey.and_then(|p| {
                        let receiver_captured = p.to.is_some_and(|t| case.gw(t).ext.is_some());
                        (p.arrived.is_some() || receiver_captured).then_some(p.arrived.is_some())
                    }),
                });
            }
        }
    }
    let name = |g: Option<GwId>| g.map(|i| case.gw(i).name.to_string());
    // A count is 0, not unknown, when that gateway's capture is there and shows none.
    let captured = |g: Option<GwId>| g.is_some_and(|i| case.gw(i).ext.is_some());
    let esp_flows = case
        .esp
        .iter()
        .map(|p| EspJson {
            spi: format!("0x{:08x}", p.spi),
            from: name(p.from),
            to: name(p.to),
            sent_packets: p.sent.map(|f| f.packets).or(captured(p.from).then_some(0)),
            arrived_packets: p.arrived.map(|f| f.packets).or(captured(p.to).then_some(0)),
            encapsulated: p.sent.or(p.arrived).is_some_and(|f| f.key.udp.is_some()),
        })
        .collect();
    let findings = findings
        .iter()
        .map(|f| FindingJson {
            situation: f.situation(),
            cause: f.cause,
            confidence: f.confidence,
            summary: &f.summary,
            evidence: f
                .evidence
                .iter()
                .map(|e| EvidenceJson {
                    e,
                    timestamp: e.timestamp.clone(),
                })
                .collect(),
            advice: &f.advice,
        })
        .collect();
    let captures = cov
        .captures
        .iter()
        .map(|c| CoverageJson {
            c,
            start: c.start.and_then(rfc3339),
            end: c.end.and_then(rfc3339),
        })
        .collect();
    let r = Report {
        findings,
        captures,
        sides,
        ike_sas,
        esp_flows,
        clock_offset: case.clock_offset,
        clock_offset_s: case.clock_offset,
        problems: &inputs.problems,
        skipped: &inputs.skipped,
    };
    serde_json::to_string_pretty(&r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    /// The exit status that goes with it (2: the input could not be used).
    status: u8,
    message: &'a str,
    /// Each file that could not be used, with the reason.
    problems: &'a [String],
}

/// The object printed on standard output with `--json` when the run ends with exit status 2.
pub fn json_error(message: &str, problems: &[String]) -> String {
    let e = ErrorJson {
        status: 2,
        message,
        problems,
    };
    #[derive(Serialize)]
    struct Wrap<'a> {
        error: ErrorJson<'a>,
    }
    serde_json::to_string_pretty(&Wrap { error: e }).unwrap_or_default()
}

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// The width text is wrapped to: `COLUMNS` when set, else the terminal's width when standard
/// output is a terminal, else 80.
fn text_width() -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
    {
        if n > 0 {
            return n.max(20);
        }
    }
    terminal_size::terminal_size_of(std::io::stdout())
        .map(|(w, _)| usize::from(w.0).max(20))
        .unwrap_or(80)
}

/// A word that is a value: a number, an address, `0x…`, `#12`.
fn is_value(w: &str) -> bool {
    let w = w.trim_start_matches(['(', '[', '\'', '`']);
    w.starts_with(|c: char| c.is_ascii_digit())
        || (w.starts_with('#') && w[1..].starts_with(|c: char| c.is_ascii_digit()))
}

fn is_word(w: &str) -> bool {
    w.starts_with(|c: char| c.is_alphabetic())
}

/// The words of `s` in unbreakable groups: a field name stays with the value after it (`SPI
/// 0x1234`, `seq 1..3`, `msgid 00000000`) and a number with its unit (`3 packets`), unless
/// punctuation ends the first word.
fn groups(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut prev: Option<&str> = None;
    let mut run = 0;
    for w in s.split_whitespace() {
        let glue = prev.is_some_and(|p| {
            !p.ends_with([',', ';', ':', '.', ')', ']'])
                && ((is_word(p) && is_value(w)) || (is_value(p) && is_word(w)))
                && run < 2
        });
        match out.last_mut() {
            Some(last) if glue => {
                last.push(' ');
                last.push_str(w);
                run += 1;
            }
            _ => {
                out.push(w.to_string());
                run = 0;
            }
        }
        prev = Some(w);
    }
    out
}

/// Wraps `s` at `width` columns with `indent` on continuation lines; `first` starts the first
/// line. Escape sequences (colour) in `first` do not count.
fn wrap(out: &mut String, width: usize, first: &str, indent: &str, s: &str) {
    let visible = |t: &str| {
        let mut n = 0;
        let mut esc = false;
        for c in t.chars() {
            match (esc, c) {
                (false, '\x1b') => esc = true,
                (true, 'm') => esc = false,
                (false, _) => n += 1,
                _ => {}
            }
        }
        n
    };
    let mut line = first.to_string();
    let mut len = visible(first);
    let mut empty = true;
    for w in groups(s) {
        let n = w.chars().count();
        if !empty && len + 1 + n > width {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_string();
            len = indent.chars().count();
            empty = true;
        }
        if !empty {
            line.push(' ');
            len += 1;
        }
        line.push_str(&w);
        len += n;
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}

/// `2026-12-02 06:05:14–06:05:15 UTC` (the second date only when it differs).
fn span(start: Option<f64>, end: Option<f64>) -> Option<String> {
    let at = |t: f64| jiff::Timestamp::from_second(t.floor() as i64).ok();
    let (a, b) = (at(start?)?, at(end?)?);
    let (da, db) = (a.strftime("%Y-%m-%d").to_string(), b.strftime("%Y-%m-%d").to_string());
    let tb = if da == db {
        b.strftime("%H:%M:%S").to_string()
    } else {
        b.strftime("%Y-%m-%d %H:%M:%S").to_string()
    };
    Some(format!("{da} {}–{tb} UTC", a.strftime("%H:%M:%S")))
}

/// The report's opening: which file went to which gateway and what each holds, with the blind
/// spots in words.
fn inputs_text(out: &mut String, width: usize, st: &Style, case: &Case<'_>, inputs: &Inputs, cov: &Coverage) {
    if cov.captures.is_empty() && case.gws.iter().all(|g| g.logs.is_empty()) {
        return;
    }
    out.push_str("inputs:\n");
    for c in &cov.captures {
        let role = match c.role {
            Role::External => "",
            Role::Internal => ", internal",
            Role::LeftOut => ", left out",
        };
        let mut holds = format!("{} packets: {} IKE, {} ESP", c.packets, c.ike_messages, c.esp_packets);
        if c.esp_flows > 0 {
            holds.push_str(&format!(
                " in {} flow{}",
                c.esp_flows,
                if c.esp_flows == 1 { "" } else { "s" }
            ));
        }
        if let (Some(s), Some(r)) = (c.ipsec_sent, c.ipsec_received) {
            holds.push_str(&format!(" ({s} sent, {r} received)"));
        }
        if let Some(sp) = span(c.start, c.end) {
            holds.push_str(&format!("; {sp}"));
        }
        let line = format!(
            "{} → {} ({}{role}): {holds}",
            file_name(&c.file),
            c.gateway,
            c.assigned_by
        );
        wrap(out, width, "  ", "      ", &line);
        for b in &c.blind_spots {
            let label = if b.lowers_confidence {
                st.paint("33", "cannot show:")
            } else {
                "cannot show:".to_string()
            };
            wrap(out, width, &format!("    {label} "), "      ", &b.text);
        }
    }
    for g in &case.gws {
        for l in &g.logs {
            let by = match inputs.assigned_by(&l.name) {
                Some(a) if a.side == g.name => a.by.words().to_string(),
                _ => format!("its addresses are {}'s", g.name),
            };
            let daemon = l
                .daemon
                .as_ref()
                .map(|d| format!(", {}", d.version.clone().unwrap_or_else(|| format!("{:?}", d.daemon))))
                .unwrap_or_default();
            let line = format!(
                "{} → {} ({by}): {} events{daemon}",
                file_name(&l.name),
                g.name,
                l.events.len()
            );
            wrap(out, width, "  ", "      ", &line);
        }
    }
    out.push('\n');
}

/// The text report, wrapped to `COLUMNS`, the terminal width or 80 (see `text_width`).
pub fn text(
    case: &Case<'_>,
    inputs: &Inputs,
    findings: &[Finding],
    cov: &Coverage,
    colour: bool,
    timeline: bool,
) -> String {
    let width = text_width();
    let st = Style { on: colour };
    let mut out = String::new();
    for p in &inputs.problems {
        wrap(&mut out, width, &format!("{} ", st.paint("33", "warning:")), "  ", p);
    }
    inputs_text(&mut out, width, &st, case, inputs, cov);
    for (i, f) in findings.iter().enumerate() {
        if i == 1 && !f.is_problem() {
            out.push_str("\nAlso noticed:\n");
        }
        let head = if f.cause == "healthy" {
            st.paint("32;1", "healthy")
        } else if f.is_problem() {
            st.paint("31;1", &format!("situation {}: {}", f.situation(), f.cause))
        } else {
            st.paint("36", f.cause.id())
        };
        if i == 0 || f.is_problem() {
            let _ = writeln!(out, "{head}  (confidence {:.0}%)", f.confidence * 100.0);
            wrap(&mut out, width, "  ", "  ", &f.summary);
            if !f.evidence.is_empty() {
                out.push_str("  evidence:\n");
            }
            for e in &f.evidence {
                // The file name only: the folder is the user's and would push past 80 columns.
                let file = file_name(&e.source);
                let at = match (e.packet, e.line) {
                    (Some(p), _) => format!("{file} #{p}"),
                    (None, Some(l)) => format!("{file}:{l}"),
                    _ => file,
                };
                let t = e.time.as_deref().map(|t| format!(" {t}")).unwrap_or_default();
                wrap(
                    &mut out,
                    width,
                    &format!("    {}{}", st.paint("2", &at), t),
                    "      ",
                    &format!(": {}", e.text),
                );
            }
            if !f.advice.is_empty() {
                out.push_str("  next:\n");
            }
            for a in &f.advice {
                wrap(&mut out, width, "    - ", "      ", a);
            }
        } else {
            wrap(&mut out, width, &format!("  {head}: "), "    ", &f.summary);
        }
    }
    if timeline {
        out.push('\n');
        out.push_str(&ladder(case));
    }
    out
}

/// A compact side-by-side list of IKE messages: each gateway's view in its own column.
fn ladder(case: &Case<'_>) -> String {
    let mut rows: Vec<(f64, usize, String)> = Vec::new();
    for gi in case.gw_ids() {
        let g = case.gw(gi);
        for m in g.ike().iter().take(500) {
            let t = case.on_first_clock(gi, m.time);
            let dir = if g.owns(m.src.ip()) { "->" } else { "<-" };
            let what = if m.major >= 2 {
                format!(
                    "{} {}{}",
                    m.exchange_name(),
                    if m.is_response() { "R" } else { "I" },
                    if m.natt { " 4500" } else { "" }
                )
            } else {
                format!(
                    "{}{}{}",
                    m.exchange_name(),
                    if m.is_v1_encrypted() { "[E]" } else { "" },
                    if m.natt { " 4500" } else { "" }
                )
            };
            let mut cell = format!("{dir} {what} #{}", m.number);
            if cell.chars().count() > 30 {
                cell = cell.chars().take(29).collect::<String>() + "…";
            }
            rows.push((t, gi.index(), cell));
        }
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut s = String::new();
    let names: Vec<&str> = case.gws.iter().map(|g| g.name).collect();
    let _ = writeln!(
        s,
        "{:<16}{:<31}{}",
        "time",
        names.first().copied().unwrap_or(""),
        names.get(1).copied().unwrap_or("")
    );
    for (t, gi, txt) in rows {
        let (a, b) = if gi == 0 {
            (txt.as_str(), "")
        } else {
            ("", txt.as_str())
        };
        let _ = writeln!(s, "{:<16}{:<31}{}", fmt_time(t), a, b);
    }
    s
}
