//! Findings out: short text for a terminal (colour only on a terminal), the JSON contract of
//! DESIGN.md, and an optional side-by-side timeline of the IKE exchanges.

use crate::correlate::Case;
use crate::diagnose::{describe, fmt_time, Finding};
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
    messages: Vec<String>,
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

#[derive(Serialize)]
struct Report<'a> {
    findings: &'a [Finding],
    sides: Vec<SideJson<'a>>,
    ike_sas: Vec<IkeSaJson>,
    esp_flows: Vec<EspJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clock_offset: Option<f64>,
    problems: &'a [String],
    skipped: &'a [String],
}

pub fn json(case: &Case<'_>, inputs: &Inputs, findings: &[Finding]) -> String {
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
    for g in &case.gws {
        for m in g.ike() {
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
                    });
                    ike_sas.last_mut().unwrap_or_else(|| unreachable!())
                }
            };
            if sa.rspi.chars().all(|c| c == '0') {
                sa.rspi = crate::track::hex(&m.rspi);
            }
            if sa.messages.len() < 200 {
                sa.messages.push(format!("#{} {}", m.number, describe(m)));
            }
        }
    }
    let name = |g: Option<usize>| g.map(|i| case.gws[i].name.to_string());
    let esp_flows = case
        .esp
        .iter()
        .map(|p| EspJson {
            spi: format!("0x{:08x}", p.spi),
            from: name(p.from),
            to: name(p.to),
            sent_packets: p.sent.map(|f| f.packets),
            arrived_packets: p.arrived.map(|f| f.packets),
            encapsulated: p.sent.or(p.arrived).is_some_and(|f| f.key.udp.is_some()),
        })
        .collect();
    let r = Report {
        findings,
        sides,
        ike_sas,
        esp_flows,
        clock_offset: case.clock_offset,
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
    serde_json::to_string_pretty(&serde_json::json!({ "error": e })).unwrap_or_default()
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

/// Wraps `s` at 78 columns with `indent` on continuation lines.
fn wrap(out: &mut String, first: &str, indent: &str, s: &str) {
    let mut line = first.to_string();
    let mut empty = true;
    for w in s.split_whitespace() {
        if !empty && line.chars().count() + 1 + w.chars().count() > 78 {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(w);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}

pub fn text(case: &Case<'_>, inputs: &Inputs, findings: &[Finding], colour: bool, timeline: bool) -> String {
    let st = Style { on: colour };
    let mut out = String::new();
    for p in &inputs.problems {
        wrap(&mut out, &format!("{} ", st.paint("33", "warning:")), "  ", p);
    }
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
            wrap(&mut out, "  ", "  ", &f.summary);
            if !f.evidence.is_empty() {
                out.push_str("  evidence:\n");
            }
            for e in &f.evidence {
                // The file name only: the folder is the user's and would push past 80 columns.
                let file = std::path::Path::new(&e.source)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| e.source.clone());
                let at = match (e.packet, e.line) {
                    (Some(p), _) => format!("{file} #{p}"),
                    (None, Some(l)) => format!("{file}:{l}"),
                    _ => file,
                };
                let t = e.time.as_deref().map(|t| format!(" {t}")).unwrap_or_default();
                wrap(
                    &mut out,
                    &format!("    {}{}", st.paint("2", &at), t),
                    "      ",
                    &format!(": {}", e.text),
                );
            }
            if !f.advice.is_empty() {
                out.push_str("  next:\n");
            }
            for a in &f.advice {
                wrap(&mut out, "    - ", "      ", a);
            }
        } else {
            wrap(&mut out, &format!("  {head}: "), "    ", &f.summary);
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
    let off = case.clock_offset.unwrap_or(0.0);
    for (gi, g) in case.gws.iter().enumerate() {
        for m in g.ike().iter().take(500) {
            let t = if gi == 1 { m.time - off } else { m.time };
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
            rows.push((t, gi, cell));
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
