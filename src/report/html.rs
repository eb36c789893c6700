//! The HTML report: one self-contained page (inline CSS and SVG, a content security policy that
//! lets nothing be fetched), rendered from the report model. The finding first, then the other
//! observations, then the ladder diagram of both gateways (time down, the second capture's clock
//! aligned to the first), the ESP flows, each shown packet's `tcpdump -vv` text (opened by
//! clicking its arrow, with links back to the evidence that cites it) and the daemon log lines.

use super::model::{Message, Model, Target};
use crate::correlate::{GwId, MsgRef};
use crate::coverage::file_name;
use crate::diagnose::fmt_time;
use crate::print::packet::{Options, Printer};
use crate::print::Out;
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

/// Ladder geometry (SVG user units).
const W: f64 = 1100.0;
const X0: f64 = 430.0;
const X1: f64 = 750.0;
/// Characters of a log line that fit beside a gateway's line.
const NOTE_CHARS: usize = 48;
/// Rows in a run of unremarkable ones beyond which the middle of the run is folded.
const FOLD_AFTER: usize = 40;
/// IKE messages drawn (and their packets embedded) at most; the rest are counted.
pub const MAX_DRAWN: usize = 2000;

pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

const CSS: &str = r#"
:root{--bg:#fff;--fg:#1b1f24;--mute:#5b6570;--line:#8a949e;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--accent:#0969da;--panel:#f6f8fa;--esp:#2da44e33;--espbad:#cf222e33;--hi:#fff8c5}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mute:#8d96a0;--line:#6e7681;--ok:#3fb950;--bad:#f85149;--warn:#d29922;--accent:#4493f8;--panel:#161b22;--esp:#3fb95033;--espbad:#f8514933;--hi:#3b2e00}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1140px;padding:16px 20px 120px;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 8px}h3{font-size:15px;margin:14px 0 6px}
code,pre,.mono{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
a{color:var(--accent)}
.sub{color:var(--mute)}
.finding{border-left:5px solid var(--bad);padding:8px 14px;background:var(--panel);border-radius:4px}
.finding.healthy{border-color:var(--ok)}.finding.inconclusive{border-color:var(--warn)}
.finding h2{margin:0 0 6px}.cause{font-size:15px;font-weight:600}
.conf{color:var(--mute);font-weight:normal;font-size:14px}
ol.ev{padding-left:22px}ol.ev li{margin:2px 0}ol.ev li:target{background:var(--hi)}
ul.obs li{margin:2px 0}
table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
svg.ladder{width:100%;height:auto;display:block}
svg text{fill:var(--fg);font:11px ui-monospace,"DejaVu Sans Mono",Menlo,monospace}
svg .gw{font:bold 13px system-ui,sans-serif}
svg .t{fill:var(--mute)}svg .lbl{font-weight:bold}svg .det{fill:var(--mute)}
svg .life{stroke:var(--line);stroke-width:2}svg .natl{stroke:var(--warn);stroke-width:1.5;stroke-dasharray:6 4}
svg .arrow line,svg .arrow path.shaft{stroke:var(--fg);stroke-width:1.6;fill:none}
svg .arrow polygon{fill:var(--fg)}
svg .arrow.unseen line{stroke-dasharray:4 3}
svg .arrow.gone line{stroke:var(--bad)}svg .arrow.partial line{stroke:var(--warn)}svg .arrow.partial polygon{fill:var(--warn)}svg .lost{stroke:var(--bad);stroke-width:2.5}
svg .arrow.retx line{stroke-width:1}
svg .arrow:hover line{stroke:var(--accent);stroke-width:2.5}
svg .arrow:target line{stroke:var(--accent);stroke-width:3}svg .arrow:target polygon{fill:var(--accent)}
svg .cited{fill:var(--accent);font-weight:bold}
svg .note{fill:var(--mute)}svg .note.hot{fill:var(--bad);font-weight:bold}svg .dot{fill:var(--line)}
svg .icmp{fill:var(--warn);font-weight:bold}svg .icmpl{stroke:var(--warn);stroke-width:2;stroke-dasharray:4 2}svg .icmph{fill:var(--warn)}
svg .esp{fill:var(--esp);stroke:var(--ok)}svg .esp.bad{fill:var(--espbad);stroke:var(--bad)}
svg .gap{fill:var(--mute);font-style:italic}
svg g.row:target text{fill:var(--accent)}
details.fold{margin:2px 0 2px 0;border:1px dashed var(--line);border-radius:4px;padding:2px 8px}
details.fold>summary{cursor:pointer;color:var(--mute)}
.pkt{display:none;position:fixed;left:0;right:0;bottom:0;max-height:45vh;overflow:auto;margin:0;padding:10px 16px;background:var(--panel);border-top:2px solid var(--accent);white-space:pre-wrap;z-index:5}
.pkt:target{display:block}
.pkt .close{float:right;font-size:16px;text-decoration:none}
.logs div{white-space:pre-wrap}.logs .hot{color:var(--bad);font-weight:bold}.logs div:target{background:var(--hi)}
.bad{color:var(--bad)}.ok{color:var(--ok)}
@media print{@page{size:A4;margin:12mm}body{max-width:none;padding:0;font-size:11px;background:#fff;color:#000}
.pkt{display:none!important}details.fold{border:none}details.fold>*{display:block}a{color:inherit;text-decoration:none}
section{break-inside:auto}svg.ladder{break-inside:auto}}
"#;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A log line without its time stamp (the ladder shows the time) and charon's thread tag:
/// `Nov 28 06:06:43.144778: "sg" #1: …` → `"sg" #1: …`, `Nov 28 06:04:33 13[IKE] <sg|1> …` →
/// `[IKE] <sg|1> …`.
pub(super) fn without_stamp(s: &str) -> &str {
    let words: Vec<(usize, &str)> = s
        .split(' ')
        .scan(0, |at, w| {
            let start = *at;
            *at += w.len() + 1;
            Some((start, w))
        })
        .take(5)
        .collect();
    let clock = |w: &str| {
        let b = w.as_bytes();
        b.len() >= 5
            && b[0].is_ascii_digit()
            && b.windows(3)
                .any(|x| x[0].is_ascii_digit() && x[1] == b':' && x[2].is_ascii_digit())
    };
    let Some(k) = words.iter().position(|(_, w)| clock(w)) else {
        return s;
    };
    let mut rest = words.get(k + 1).map_or("", |(at, _)| &s[*at..]);
    // charon's thread number: `13[IKE]` → `[IKE]`.
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits > 0 && rest[digits..].starts_with('[') {
        rest = &rest[digits..];
    }
    if rest.is_empty() {
        s
    } else {
        rest
    }
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n.saturating_sub(1)).collect::<String>() + "…"
    }
}

/// `06:05:14.123` (milliseconds are enough on a ladder).
fn hms(t: f64) -> String {
    let s = fmt_time(t);
    match s.find('.') {
        Some(i) if s.len() >= i + 4 => s[..i + 4].to_string(),
        _ => s,
    }
}

fn target_id(t: Target) -> Option<String> {
    match t {
        Target::Message(i) => Some(format!("msg-{i}")),
        Target::Esp(i) => Some(format!("esp-{i}")),
        Target::Icmp(i) => Some(format!("icmp-{i}")),
        Target::Note(i) => Some(format!("note-{i}")),
        Target::None => None,
    }
}

/// One row of the ladder.
enum Row {
    /// A message and its retransmissions right after it.
    Msgs(Vec<usize>),
    Icmp(usize),
    /// A log line; `true`: cited, on up to three lines.
    Note(usize, bool),
    /// Log lines of one gateway in a row, folded into one line.
    Notes(Vec<usize>),
    Esp(usize),
    /// Time passing with nothing to show.
    Gap(f64),
}

impl Row {
    fn height(&self) -> f64 {
        match self {
            Row::Msgs(v) => 34.0 + 8.0 * (v.len() as f64 - 1.0),
            Row::Icmp(_) => 20.0,
            Row::Note(_, true) => 40.0,
            Row::Note(_, false) | Row::Notes(_) => 16.0,
            Row::Esp(_) => 34.0,
            Row::Gap(_) => 18.0,
        }
    }
}

pub(super) fn render(model: &Model<'_, '_>) -> String {
    let case = model.case;
    let mut h = String::with_capacity(64 * 1024);
    let cause = model.findings.first().map(|f| f.cause.id()).unwrap_or("inconclusive");
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<meta name=\"color-scheme\" content=\"light dark\">\n<title>ipsec-doctor: {}</title>\n<style>{CSS}</style></head>\n<body data-cause=\"{}\">\n",
        esc(cause),
        esc(cause)
    );
    let names: Vec<&str> = case.gws.iter().map(|g| g.name).collect();
    let _ = writeln!(
        h,
        "<header><h1>ipsec-doctor report</h1><div class=\"sub\">{}</div></header>",
        esc(&names.join(" ⇄ "))
    );
    findings_html(&mut h, model);
    ladder_html(&mut h, model);
    esp_html(&mut h, model);
    inputs_html(&mut h, model);
    logs_html(&mut h, model);
    packets_html(&mut h, model);
    h.push_str("<footer class=\"sub\"><p>Made by ipsec-doctor diagnose. Click an arrow for its packet as <code>tcpdump -vv</code> prints it.</p></footer>\n</body></html>\n");
    h
}

fn findings_html(h: &mut String, model: &Model<'_, '_>) {
    for (fi, f) in model.findings.iter().enumerate() {
        if fi == 1 {
            h.push_str("<section id=\"also\"><h2>Also noticed</h2><ul class=\"obs\">\n");
        }
        if fi > 0 && !f.is_problem() {
            let _ = writeln!(
                h,
                "<li id=\"finding-{fi}\"><code class=\"cause\">{}</code>: {}</li>",
                esc(f.cause.id()),
                esc(&f.summary)
            );
            continue;
        }
        let class = match f.cause.id() {
            "healthy" => "finding healthy",
            "inconclusive" => "finding inconclusive",
            _ => "finding",
        };
        let head = if f.cause.id() == "healthy" {
            "Healthy".to_string()
        } else if f.is_problem() {
            format!("Situation {}", esc(f.situation()))
        } else {
            "Observation".to_string()
        };
        if fi > 0 {
            h.push_str("<li>");
        }
        let _ = writeln!(
            h,
            "<section id=\"finding-{fi}\" class=\"{class}\" data-cause=\"{id}\"><h2>{head}: <code class=\"cause\">{id}</code> <span class=\"conf\">confidence {:.0}%</span></h2>\n<p>{}</p>",
            f.confidence * 100.0,
            esc(&f.summary),
            id = esc(f.cause.id()),
        );
        if !f.evidence.is_empty() {
            h.push_str("<h3>Evidence</h3><ol class=\"ev\">\n");
            for (ei, e) in f.evidence.iter().enumerate() {
                let file = file_name(&e.source);
                let at = match (e.packet, e.line) {
                    (Some(p), _) => format!("{file} #{p}"),
                    (None, Some(l)) => format!("{file}:{l}"),
                    _ => file,
                };
                let link = match model
                    .targets
                    .get(fi)
                    .and_then(|t| t.get(ei))
                    .and_then(|t| target_id(*t))
                {
                    Some(id) => format!("<a href=\"#{id}\">{}</a>", esc(&at)),
                    None => esc(&at),
                };
                let t = e
                    .time
                    .as_deref()
                    .map(|t| format!(" <span class=\"sub\">{}</span>", esc(t)))
                    .unwrap_or_default();
                let _ = writeln!(
                    h,
                    "<li id=\"ev-{fi}-{ei}\"><span class=\"mono\">{link}</span>{t}: {}</li>",
                    esc(&e.text)
                );
            }
            h.push_str("</ol>\n");
        }
        if !f.advice.is_empty() {
            h.push_str("<h3>Next steps</h3><ul>\n");
            for a in &f.advice {
                let _ = writeln!(h, "<li>{}</li>", esc(a));
            }
            h.push_str("</ul>\n");
        }
        h.push_str("</section>\n");
        if fi > 0 {
            h.push_str("</li>");
        }
    }
    if model.findings.len() <= 1 {
        h.push_str("<section id=\"also\"><h2>Also noticed</h2><ul class=\"obs\">\n");
    }
    // The observations the ladder rests on, whether or not a finding names them.
    let case = model.case;
    match case.clock_offset {
        Some(o) if case.gws.len() == 2 => {
            let _ = writeln!(
                h,
                "<li>Clock offset: {}'s capture clock is {:+.3} s from {}'s; the ladder shows {}'s times moved onto {}'s clock.</li>",
                esc(case.gws[1].name),
                (o * 1000.0).round() / 1000.0 + 0.0,
                esc(case.gws[0].name),
                esc(case.gws[1].name),
                esc(case.gws[0].name)
            );
        }
        _ if case.gws.len() == 2 => {
            h.push_str("<li>Clock offset: unknown (no IKE message seen in both captures); times are each capture's own.</li>\n");
        }
        _ => {}
    }
    if let Some(r) = case.rewrites.first() {
        let _ = writeln!(
            h,
            "<li>NAT on the path: {} sent from {} and it arrived from {} (to {} → {}).</li>",
            esc(model.gw_name(r.from_gw)),
            r.at_sender,
            r.at_receiver,
            r.dst_at_sender,
            r.dst_at_receiver
        );
    }
    let frag = model.messages.iter().filter(|m| m.fragments > 1).count();
    if frag > 0 {
        let _ = writeln!(h, "<li>Fragmented IKE messages (IP or IKE fragments): {frag}.</li>");
    }
    let lost = model.messages.iter().filter(|m| m.lost).count();
    let _ = writeln!(
        h,
        "<li>IKE messages: {}, of which <span class=\"{}\">{lost} never arrived</span>.</li>",
        model.messages.len(),
        if lost > 0 { "bad" } else { "ok" }
    );
    for p in &model.inputs.problems {
        let _ = writeln!(h, "<li class=\"bad\">warning: {}</li>", esc(p));
    }
    h.push_str("</ul></section>\n");
}

/// The rows of the ladder in time order, with gaps marked.
fn rows(model: &Model<'_, '_>) -> Vec<(f64, Row)> {
    let mut rows: Vec<(f64, u8, Row)> = Vec::new();
    let mut i = 0;
    let drawn = model.messages.len().min(MAX_DRAWN);
    while i < drawn {
        let m = &model.messages[i];
        let mut group = vec![i];
        while let Some(n) = model.messages[..drawn].get(i + group.len()) {
            if n.retransmission && n.label == m.label && n.from == m.from && group.len() < 30 {
                group.push(i + group.len());
            } else {
                break;
            }
        }
        i += group.len();
        rows.push((m.time, 1, Row::Msgs(group)));
    }
    for (i, r) in model.icmp.iter().enumerate() {
        rows.push((r.time, 2, Row::Icmp(i)));
    }
    for (i, b) in model.esp.iter().enumerate() {
        rows.push((b.start, 3, Row::Esp(i)));
    }
    let notes: Vec<(usize, f64)> = model
        .notes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.notable || !n.cited.is_empty())
        .filter_map(|(i, n)| n.time.map(|t| (i, t)))
        .collect();
    for (i, t) in notes {
        rows.push((t, 0, Row::Note(i, !model.notes[i].cited.is_empty())));
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    // Runs of more than three log lines of one gateway without anything between: the cited ones
    // and the first two kept, the rest one line.
    let mut out: Vec<(f64, Row)> = Vec::new();
    let mut last_t: Option<f64> = None;
    let mut pending: Vec<(f64, usize)> = Vec::new();
    let flush = |pending: &mut Vec<(f64, usize)>, out: &mut Vec<(f64, Row)>| {
        if pending.len() <= 3 {
            out.extend(
                pending
                    .drain(..)
                    .map(|(t, i)| (t, Row::Note(i, !model.notes[i].cited.is_empty()))),
            );
            return;
        }
        let mut folded = Vec::new();
        for (k, (t, i)) in pending.drain(..).enumerate() {
            if k < 2 || !model.notes[i].cited.is_empty() {
                out.push((t, Row::Note(i, !model.notes[i].cited.is_empty())));
            } else {
                folded.push((t, i));
            }
        }
        if let Some((t, _)) = folded.first() {
            out.push((*t, Row::Notes(folded.into_iter().map(|(_, i)| i).collect())));
        }
    };
    for (t, _, row) in rows {
        if let Some(l) = last_t {
            if t - l > 2.0 {
                flush(&mut pending, &mut out);
                out.push((t, Row::Gap(t - l)));
            }
        }
        last_t = Some(t);
        match row {
            Row::Note(i, _) => {
                if let Some((_, j)) = pending.last() {
                    if model.notes[*j].gw != model.notes[i].gw {
                        flush(&mut pending, &mut out);
                    }
                }
                pending.push((t, i));
            }
            r => {
                flush(&mut pending, &mut out);
                out.push((t, r));
            }
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Whether a row must stay visible (never folded).
fn remarkable(model: &Model<'_, '_>, row: &Row) -> bool {
    match row {
        Row::Msgs(v) => v.iter().any(|&i| {
            let m = &model.messages[i];
            m.lost || !m.cited.is_empty() || m.fragments > 1
        }),
        Row::Icmp(_) | Row::Esp(_) => true,
        Row::Gap(_) => false,
        Row::Note(_, cited) => *cited,
        Row::Notes(_) => false,
    }
}

fn ladder_html(h: &mut String, model: &Model<'_, '_>) {
    let case = model.case;
    h.push_str("<section id=\"ladder\"><h2>Ladder</h2>\n");
    let names: Vec<String> = match case.gws.len() {
        0 => vec!["sg1".into(), "peer".into()],
        1 => vec![case.gws[0].name.to_string(), "peer (no capture)".into()],
        _ => vec![case.gws[0].name.to_string(), case.gws[1].name.to_string()],
    };
    let caps: Vec<bool> = (0..2)
        .map(|i| case.gws.get(i).is_some_and(|g| g.ext.is_some()))
        .collect();
    let _ = writeln!(
        h,
        "<p class=\"sub\">Time runs down{}. A dashed arrow was seen only where it arrived; a red arrow ending in ✗ left and never arrived. Log lines are on their gateway's side. Click an arrow for its packet.</p>",
        match case.clock_offset {
            Some(o) if case.gws.len() == 2 => format!(", on {}'s capture clock ({}'s moved by {:+.3} s)", esc(&names[0]), esc(&names[1]), (-o * 1000.0).round() / 1000.0 + 0.0),
            _ => String::new(),
        }
    );
    let rows = rows(model);
    if rows.is_empty() {
        h.push_str("<p>No IKE message, ESP flow, ICMP error or timed log line to draw.</p></section>\n");
        return;
    }
    // Segments: long runs of unremarkable rows fold their middle.
    let mut segments: Segs<'_> = Vec::new();
    let mut run: Vec<&(f64, Row)> = Vec::new();
    for r in &rows {
        if remarkable(model, &r.1) {
            close_run(&mut run, &mut segments);
            push_seg(&mut segments, false, vec![r]);
        } else {
            run.push(r);
        }
    }
    close_run(&mut run, &mut segments);
    let _ = writeln!(
        h,
        "<svg class=\"ladder head\" viewBox=\"0 0 {W} 40\" role=\"img\" aria-label=\"gateways\"><text class=\"gw\" x=\"{X0}\" y=\"18\" text-anchor=\"middle\">{}</text><text class=\"gw\" x=\"{X1}\" y=\"18\" text-anchor=\"middle\">{}</text>{}<text class=\"t\" x=\"4\" y=\"18\">time</text><text class=\"det\" x=\"{X0}\" y=\"33\" text-anchor=\"middle\">{}</text><text class=\"det\" x=\"{X1}\" y=\"33\" text-anchor=\"middle\">{}</text><line class=\"life\" x1=\"{X0}\" y1=\"36\" x2=\"{X0}\" y2=\"40\"/><line class=\"life\" x1=\"{X1}\" y1=\"36\" x2=\"{X1}\" y2=\"40\"/></svg>",
        esc(&names[0]),
        esc(&names[1]),
        if model.nat {
            format!("<text class=\"gw\" x=\"{}\" y=\"18\" text-anchor=\"middle\">NAT</text>", (X0 + X1) / 2.0)
        } else {
            String::new()
        },
        if caps[0] { "captured" } else { "no capture" },
        if caps[1] { "captured" } else { "no capture" },
    );
    for (folded, seg) in segments {
        if folded {
            let (a, b) = (
                seg.first().map(|r| r.0).unwrap_or(0.0),
                seg.last().map(|r| r.0).unwrap_or(0.0),
            );
            let n: usize = seg
                .iter()
                .map(|r| match &r.1 {
                    Row::Msgs(v) => v.len(),
                    _ => 0,
                })
                .sum();
            let _ = writeln!(
                h,
                "<details class=\"fold\"><summary>{} rows folded ({n} IKE messages, {}–{}): nothing lost, nothing cited</summary>",
                seg.len(),
                hms(a),
                hms(b)
            );
            segment_svg(h, model, &seg);
            h.push_str("</details>\n");
        } else {
            segment_svg(h, model, &seg);
        }
    }
    if model.messages.len() > MAX_DRAWN {
        let _ = writeln!(
            h,
            "<p class=\"bad\">{} more IKE messages after {} are not drawn (the first {MAX_DRAWN} are); <code>--json</code> lists them.</p>",
            model.messages.len() - MAX_DRAWN,
            hms(model.messages[MAX_DRAWN].time)
        );
    }
    h.push_str("</section>\n");
}

type Segs<'r> = Vec<(bool, Vec<&'r (f64, Row)>)>;

/// Ends a run of unremarkable rows: a long one keeps its first and last five, folds the rest.
fn close_run<'r>(run: &mut Vec<&'r (f64, Row)>, segs: &mut Segs<'r>) {
    if run.len() > FOLD_AFTER {
        let tail = run.split_off(run.len() - 5);
        let middle = run.split_off(5);
        push_seg(segs, false, std::mem::take(run));
        push_seg(segs, true, middle);
        push_seg(segs, false, tail);
    } else {
        push_seg(segs, false, std::mem::take(run));
    }
}

fn push_seg<'r>(segs: &mut Segs<'r>, folded: bool, rows: Vec<&'r (f64, Row)>) {
    if rows.is_empty() {
        return;
    }
    match segs.last_mut() {
        Some((false, v)) if !folded => v.extend(rows),
        _ => segs.push((folded, rows)),
    }
}

fn segment_svg(h: &mut String, model: &Model<'_, '_>, rows: &[&(f64, Row)]) {
    let height: f64 = rows.iter().map(|r| r.1.height()).sum::<f64>() + 6.0;
    let _ = writeln!(
        h,
        "<svg class=\"ladder\" viewBox=\"0 0 {W} {height}\"><line class=\"life\" x1=\"{X0}\" y1=\"0\" x2=\"{X0}\" y2=\"{height}\"/><line class=\"life\" x1=\"{X1}\" y1=\"0\" x2=\"{X1}\" y2=\"{height}\"/>{}",
        if model.nat {
            format!("<line class=\"natl\" x1=\"{m}\" y1=\"0\" x2=\"{m}\" y2=\"{height}\"/>", m = (X0 + X1) / 2.0)
        } else {
            String::new()
        }
    );
    let mut y = 4.0;
    for (t, row) in rows.iter().map(|r| (r.0, &r.1)) {
        match row {
            Row::Msgs(v) => msgs_svg(h, model, v, t, y),
            Row::Icmp(i) => {
                let r = &model.icmp[*i];
                let (x, anchor) = if r.gw.index() == 0 {
                    (X0 - 8.0, "end")
                } else {
                    (X1 + 8.0, "start")
                };
                // A stub towards the other gateway: leaving this one, or arriving at it.
                let gx = if r.gw.index() == 0 { X0 } else { X1 };
                let inward = if r.gw.index() == 0 { 1.0 } else { -1.0 };
                let far = gx + inward * 70.0;
                let ly = y + 9.0;
                let stub = if r.sent {
                    format!(
                        "<line class=\"icmpl\" x1=\"{gx}\" y1=\"{ly}\" x2=\"{far}\" y2=\"{ly}\"/><polygon class=\"icmph\" points=\"{far},{ly} {},{} {},{}\"/>",
                        far - inward * 7.0,
                        ly - 3.5,
                        far - inward * 7.0,
                        ly + 3.5
                    )
                } else {
                    format!(
                        "<line class=\"icmpl\" x1=\"{far}\" y1=\"{ly}\" x2=\"{gx}\" y2=\"{ly}\"/><polygon class=\"icmph\" points=\"{gx},{ly} {},{} {},{}\"/>",
                        gx + inward * 7.0,
                        ly - 3.5,
                        gx + inward * 7.0,
                        ly + 3.5
                    )
                };
                let _ = writeln!(
                    h,
                    "<g class=\"row\" id=\"icmp-{i}\"><a href=\"#pkt-icmp-{i}\"><text class=\"t\" x=\"4\" y=\"{ty}\">{}</text>{stub}<text class=\"icmp\" x=\"{x}\" y=\"{ty}\" text-anchor=\"{anchor}\">⚠ {}{}</text><title>{}</title></a>{}</g>",
                    hms(t),
                    if r.sent { "sent " } else { "" },
                    esc(&short(&r.text, NOTE_CHARS - if r.sent { 6 } else { 1 })),
                    esc(&r.text),
                    r.cited
                        .iter()
                        .map(|(fi, ei)| format!(
                            "<a href=\"#ev-{fi}-{ei}\"><text class=\"cited\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">◆{}.{}</text></a>",
                            far + inward * 24.0,
                            y + 13.0,
                            fi + 1,
                            ei + 1
                        ))
                        .collect::<String>(),
                    ty = y + 13.0
                );
            }
            Row::Note(i, cited) => {
                let n = &model.notes[*i];
                let text = without_stamp(&n.text);
                let shown = if *cited {
                    // Up to three lines of the cited line, split at spaces.
                    let mut lines: Vec<String> = vec![String::new()];
                    for w in format!("◆ {text}").split(' ') {
                        let cur = lines.last_mut().unwrap_or_else(|| unreachable!());
                        if !cur.is_empty() && cur.chars().count() + 1 + w.chars().count() > NOTE_CHARS {
                            lines.push(String::new());
                        }
                        let cur = lines.last_mut().unwrap_or_else(|| unreachable!());
                        if !cur.is_empty() {
                            cur.push(' ');
                        }
                        cur.push_str(w);
                    }
                    let n_lines = lines.len();
                    lines
                        .into_iter()
                        .take(3)
                        .enumerate()
                        .map(|(k, l)| {
                            let l = if k == 2 && n_lines > 3 { format!("{l}…") } else { l };
                            format!(
                                "<tspan x=\"{}\" dy=\"{}\">{}</tspan>",
                                if n.gw.index() == 0 { X0 - 8.0 } else { X1 + 8.0 },
                                if k == 0 { 0.0 } else { 12.0 },
                                esc(&short(&l, NOTE_CHARS + 2))
                            )
                        })
                        .collect::<String>()
                } else {
                    esc(&short(text, NOTE_CHARS))
                };
                let (x, anchor) = if n.gw.index() == 0 {
                    (X0 - 8.0, "end")
                } else {
                    (X1 + 8.0, "start")
                };
                let class = if n.cited.is_empty() { "note" } else { "note hot" };
                let _ = writeln!(
                    h,
                    "<g class=\"row\" id=\"lnote-{i}\"><a href=\"#note-{i}\"><text class=\"t\" x=\"4\" y=\"{ty}\">{}</text><circle class=\"dot\" cx=\"{cx}\" cy=\"{cy}\" r=\"2.5\"/><text class=\"{class}\" x=\"{x}\" y=\"{ty}\" text-anchor=\"{anchor}\">{}</text><title>{}:{} {}</title></a></g>",
                    hms(t),
                    shown,
                    esc(&file_name(&n.file)),
                    n.line,
                    esc(&n.text),
                    cx = if n.gw.index() == 0 { X0 } else { X1 },
                    cy = y + 9.0,
                    ty = y + 12.0
                );
            }
            Row::Notes(v) => {
                let n = &model.notes[v[0]];
                let (x, anchor) = if n.gw.index() == 0 {
                    (X0 - 8.0, "end")
                } else {
                    (X1 + 8.0, "start")
                };
                let all: Vec<String> = v.iter().map(|&i| model.notes[i].text.clone()).collect();
                let _ = writeln!(
                    h,
                    "<g class=\"row\"><a href=\"#note-{}\"><text class=\"note\" x=\"{x}\" y=\"{}\" text-anchor=\"{anchor}\">… {} more log lines</text><title>{}</title></a></g>",
                    v[0],
                    y + 12.0,
                    v.len(),
                    esc(&all.join("\n"))
                );
            }
            Row::Esp(i) => esp_svg(h, model, *i, t, y),
            Row::Gap(d) => {
                let _ = writeln!(
                    h,
                    "<text class=\"gap\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">⋯ {d:.1} s later ⋯</text>",
                    (X0 + X1) / 2.0,
                    y + 13.0
                );
            }
        }
        y += row.height();
    }
    h.push_str("</svg>\n");
}

/// Which column a message leaves from: its sender's, else the one opposite its receiver.
fn sender_col(m: &Message) -> usize {
    match (m.from, m.to) {
        (Some(f), _) => f.index().min(1),
        (None, Some(t)) => 1 - t.index().min(1),
        _ => 0,
    }
}

fn msgs_svg(h: &mut String, model: &Model<'_, '_>, group: &[usize], t: f64, y: f64) {
    let first = &model.messages[group[0]];
    let col = sender_col(first);
    let (xa, xb) = if col == 0 { (X0, X1) } else { (X1, X0) };
    let dir = if xb > xa { 1.0 } else { -1.0 };
    let mid = (X0 + X1) / 2.0;
    let mut label = first.label.clone();
    let im = model.ike(first);
    let mut det = first.detail.clone();
    if let Some(m) = im {
        if m.major < 2 {
            // Main and aggressive mode run under message id 0: the exchange says it all.
            det = if matches!(m.exchange, 2 | 4) {
                m.exchange_name()
            } else {
                format!("{} {det}", m.exchange_name())
            };
        }
        if m.is_v1_encrypted() && !label.ends_with("[E]") {
            label.push_str(" [E]");
        }
    }
    if first.natt {
        det.push_str(" · 4500");
    }
    if group.len() > 1 {
        label.push_str(&format!(" ×{}", group.len()));
        det.push_str(" · retransmitted");
    } else if first.retransmission {
        det.push_str(" · retransmission");
    }
    if first.fragments > 1 {
        match first.fragments_arrived {
            Some(a) if a < first.fragments => det.push_str(&format!(" · {} fragments, {a} arrived", first.fragments)),
            _ => det.push_str(&format!(" · {} fragments", first.fragments)),
        }
    }
    let _ = writeln!(
        h,
        "<text class=\"t\" x=\"4\" y=\"{}\">{}</text><text class=\"lbl\" x=\"{mid}\" y=\"{}\" text-anchor=\"middle\">{}<tspan class=\"det\"> {}</tspan></text>",
        y + 22.0,
        hms(t),
        y + 11.0,
        esc(&label),
        esc(&det)
    );
    for (k, &i) in group.iter().enumerate() {
        let m = &model.messages[i];
        let ys = y + 17.0 + 8.0 * k as f64;
        let ye = ys + 5.0;
        let mut class = String::from("arrow");
        if m.sent.is_none() {
            class.push_str(" unseen");
        }
        if m.lost {
            class.push_str(" gone");
        }
        if m.fragments > 1 && m.fragments_arrived.is_some_and(|a| a < m.fragments) {
            class.push_str(" partial");
        }
        if k > 0 {
            class.push_str(" retx");
        }
        let end = if m.lost { mid + dir * 20.0 } else { xb - dir * 2.0 };
        let yend = if m.lost { ys + 2.5 } else { ye };
        let mut title = format!("{} {}", m.label, m.detail);
        if let Some(o) = &m.opened {
            title.push_str(&format!(" · {o}"));
        }
        if let Some(s) = m.sent {
            title.push_str(&format!(" · sent {}", at(model, s)));
        }
        match m.arrived {
            Some(a) => title.push_str(&format!(" · arrived {}", at(model, a))),
            None if m.lost => title.push_str(" · never arrived"),
            None => title.push_str(" · arrival not captured"),
        }
        let _ = write!(
            h,
            "<a href=\"#pkt-{i}\"><g class=\"{class}\" id=\"msg-{i}\" data-arrow=\"{i}\"><title>{}</title><line x1=\"{xa}\" y1=\"{ys}\" x2=\"{end}\" y2=\"{yend}\"/>",
            esc(&title)
        );
        if m.fragments > 1 && k == 0 {
            for off in [-3.0, 3.0] {
                let _ = write!(
                    h,
                    "<line x1=\"{xa}\" y1=\"{}\" x2=\"{end}\" y2=\"{}\" stroke-width=\"0.8\"/>",
                    ys + off,
                    yend + off
                );
            }
        }
        if m.lost {
            let (cx, cy) = (end, yend);
            let _ = write!(
                h,
                "<path class=\"lost\" data-lost=\"{i}\" d=\"M{} {} L{} {} M{} {} L{} {}\"/>",
                cx - 5.0,
                cy - 5.0,
                cx + 5.0,
                cy + 5.0,
                cx - 5.0,
                cy + 5.0,
                cx + 5.0,
                cy - 5.0
            );
        } else {
            let tip = xb - dir * 2.0;
            let _ = write!(
                h,
                "<polygon points=\"{tip},{ye} {},{} {},{}\"/>",
                tip - dir * 9.0,
                ye - 4.0,
                tip - dir * 9.0,
                ye + 4.0
            );
        }
        h.push_str("</g></a>");
        // Packet numbers at each end, and the evidence that cites it.
        let num = |r: Option<MsgRef>| {
            r.and_then(|r| model.case.gw(r.gw).ike().get(r.idx))
                .map(|m| format!("#{}", m.number))
                .unwrap_or_default()
        };
        if k == 0 || k + 1 == group.len() {
            let _ = write!(
                h,
                "<text class=\"det\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{}</text>",
                xa - dir * 6.0,
                ys + 4.0,
                if dir > 0.0 { "end" } else { "start" },
                num(m.sent)
            );
            if m.arrived.is_some() {
                let _ = write!(
                    h,
                    "<text class=\"det\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{}</text>",
                    xb + dir * 6.0,
                    ye + 4.0,
                    if dir > 0.0 { "start" } else { "end" },
                    num(m.arrived)
                );
            }
        }
        for (n, (fi, ei)) in m.cited.iter().enumerate() {
            let x = if dir > 0.0 {
                xa - 48.0 - 34.0 * n as f64
            } else {
                xa + 48.0 + 34.0 * n as f64
            };
            let _ = write!(
                h,
                "<a href=\"#ev-{fi}-{ei}\"><text class=\"cited\" x=\"{x}\" y=\"{}\" text-anchor=\"middle\">◆{}.{}<title>evidence {}.{}</title></text></a>",
                ys + 4.0,
                fi + 1,
                ei + 1,
                fi + 1,
                ei + 1
            );
        }
        h.push('\n');
    }
}

fn at(model: &Model<'_, '_>, r: MsgRef) -> String {
    let g = model.case.gw(r.gw);
    match g.ike().get(r.idx) {
        Some(m) => format!(
            "{} #{} {}",
            g.name,
            m.number,
            fmt_time(model.case.on_first_clock(r.gw, m.time))
        ),
        None => g.name.to_string(),
    }
}

fn esp_svg(h: &mut String, model: &Model<'_, '_>, i: usize, t: f64, y: f64) {
    let b = &model.esp[i];
    let col = match (b.from, b.to) {
        (Some(f), _) => f.index().min(1),
        (None, Some(t)) => 1 - t.index().min(1),
        _ => 0,
    };
    let (xa, xb) = if col == 0 { (X0, X1) } else { (X1, X0) };
    let dir = if xb > xa { 1.0 } else { -1.0 };
    let mid = (X0 + X1) / 2.0;
    let count = |c: Option<u64>| c.map_or("?".to_string(), |c| c.to_string());
    let gone = b.lost > 0 || (b.arrived == Some(0) && b.sent.unwrap_or(0) > 0);
    let end = if b.arrived == Some(0) { mid + dir * 20.0 } else { xb };
    let (l, r) = if xa < end { (xa, end) } else { (end, xa) };
    let text = format!(
        "ESP 0x{:08x}{} · {} sent, {} arrived{}",
        b.spi,
        b.carrier(),
        count(b.sent),
        count(b.arrived),
        if b.lost > 0 {
            format!(", {} lost", b.lost)
        } else {
            String::new()
        }
    );
    let badges: String = b
        .cited
        .iter()
        .enumerate()
        .map(|(n, (fi, ei))| {
            format!(
                "<a href=\"#ev-{fi}-{ei}\"><text class=\"cited\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">◆{}.{}</text></a>",
                if dir > 0.0 { xa - 48.0 - 34.0 * n as f64 } else { xa + 48.0 + 34.0 * n as f64 },
                y + 26.0,
                fi + 1,
                ei + 1
            )
        })
        .collect();
    let _ = writeln!(
        h,
        "<g class=\"row\" id=\"esp-{i}\"><title>{} → {}: {} ({}–{})</title><text class=\"t\" x=\"4\" y=\"{}\">{}</text><rect class=\"esp{}\" x=\"{l}\" y=\"{}\" width=\"{}\" height=\"12\" rx=\"6\"/><text x=\"{mid}\" y=\"{}\" text-anchor=\"middle\">{}</text>{}{badges}</g>",
        esc(b.from.map_or("?", |g| model.gw_name(g))),
        esc(b.to.map_or("?", |g| model.gw_name(g))),
        esc(&text),
        hms(b.start),
        hms(b.end),
        y + 24.0,
        hms(t),
        if gone { " bad" } else { "" },
        y + 16.0,
        r - l,
        y + 11.0,
        esc(&text),
        if gone {
            format!(
                "<path class=\"esplost\" stroke=\"currentColor\" style=\"stroke:var(--bad);stroke-width:2.5\" d=\"M{} {} L{} {} M{} {} L{} {}\"/>",
                end - 5.0,
                y + 17.0,
                end + 5.0,
                y + 27.0,
                end - 5.0,
                y + 27.0,
                end + 5.0,
                y + 17.0
            )
        } else {
            String::new()
        }
    );
}

fn esp_html(h: &mut String, model: &Model<'_, '_>) {
    if model.esp.is_empty() {
        return;
    }
    h.push_str("<section id=\"esp\"><h2>ESP</h2><table><tr><th>SPI</th><th>from → to</th><th>sent</th><th>arrived</th><th>lost</th><th>time</th></tr>\n");
    for (i, b) in model.esp.iter().enumerate() {
        let count = |c: Option<u64>| c.map_or("?".to_string(), |c| c.to_string());
        let _ = writeln!(
            h,
            "<tr><td class=\"mono\"><a href=\"#esp-{i}\">0x{:08x}</a>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"mono\">{}–{}</td></tr>",
            b.spi,
            match (b.tcp, b.encapsulated) {
                (true, _) => " (TCP)",
                (false, true) => " (UDP)",
                _ => "",
            },
            esc(b.from.map_or("?", |g| model.gw_name(g))),
            esc(b.to.map_or("?", |g| model.gw_name(g))),
            count(b.sent),
            count(b.arrived),
            if b.lost > 0 { "bad" } else { "" },
            b.lost,
            hms(b.start),
            hms(b.end)
        );
    }
    h.push_str("</table></section>\n");
}

fn inputs_html(h: &mut String, model: &Model<'_, '_>) {
    h.push_str("<section id=\"inputs\"><h2>Inputs</h2><ul>\n");
    for c in &model.cov.captures {
        let _ = writeln!(
            h,
            "<li><span class=\"mono\">{}</span> → {}: {} packets, {} IKE, {} ESP",
            esc(&file_name(&c.file)),
            esc(&c.gateway),
            c.packets,
            c.ike_messages,
            c.esp_packets
        );
        for b in &c.blind_spots {
            let _ = write!(
                h,
                "<br><span class=\"{}\">cannot show:</span> {}",
                if b.lowers_confidence { "bad" } else { "sub" },
                esc(&b.text)
            );
        }
        h.push_str("</li>\n");
    }
    for g in &model.case.gws {
        for l in &g.logs {
            let _ = writeln!(
                h,
                "<li><span class=\"mono\">{}</span> → {}: {} events</li>",
                esc(&file_name(&l.name)),
                esc(g.name),
                l.events.len()
            );
        }
    }
    h.push_str("</ul></section>\n");
}

fn logs_html(h: &mut String, model: &Model<'_, '_>) {
    if model.notes.is_empty() {
        return;
    }
    h.push_str("<section id=\"logs\" class=\"logs\"><h2>Daemon log lines</h2>\n");
    for gi in model.case.gw_ids() {
        let notes: Vec<(usize, &super::model::Note)> =
            model.notes.iter().enumerate().filter(|(_, n)| n.gw == gi).collect();
        if notes.is_empty() {
            continue;
        }
        let _ = writeln!(
            h,
            "<details{}><summary>{}: {} lines</summary>",
            if notes.len() <= 60 || notes.iter().any(|(_, n)| !n.cited.is_empty()) {
                " open"
            } else {
                ""
            },
            esc(model.gw_name(gi)),
            notes.len()
        );
        for (i, n) in notes {
            let back: String = n
                .cited
                .iter()
                .map(|(fi, ei)| format!(" <a href=\"#ev-{fi}-{ei}\">◆{}.{}</a>", fi + 1, ei + 1))
                .collect();
            let _ = writeln!(
                h,
                "<div id=\"note-{i}\"><span class=\"mono {}\">{}:{} {}</span>{back}</div>",
                if n.cited.is_empty() { "" } else { "hot" },
                esc(&file_name(&n.file)),
                n.line,
                esc(&n.text)
            );
        }
        h.push_str("</details>\n");
    }
    h.push_str("</section>\n");
}

/// The packets the page shows, as `tcpdump -vv` prints them: read again from each capture file.
fn packet_text(model: &Model<'_, '_>) -> HashMap<(usize, u64), String> {
    let mut want: HashMap<usize, BTreeSet<u64>> = HashMap::new();
    for m in model.messages.iter().take(MAX_DRAWN) {
        for r in [m.sent, m.arrived].into_iter().flatten() {
            if let Some(im) = model.case.gw(r.gw).ike().get(r.idx) {
                let set = want.entry(r.gw.index()).or_default();
                set.insert(im.number);
                set.extend(model.fragment_numbers(r));
            }
        }
    }
    for r in &model.icmp {
        want.entry(r.gw.index()).or_default().insert(r.number);
    }
    let mut out = HashMap::new();
    for gi in model.case.gw_ids() {
        let (Some(c), Some(set)) = (model.case.gw(gi).ext, want.get(&gi.index())) else {
            continue;
        };
        let Some(&last) = set.iter().next_back() else {
            continue;
        };
        let Ok(mut reader) = crate::source::open(std::path::Path::new(&c.name)) else {
            continue;
        };
        let opts = Options {
            vflag: 2,
            ..Options::default()
        };
        let mut printer = Printer::new(opts);
        let mut o = Out::new(opts.vflag, opts.eflag);
        let mut n = 0u64;
        while let Some(Ok(frame)) = reader.next_frame() {
            n += 1;
            printer.print(&frame, &mut o);
            if set.contains(&n) {
                out.insert((gi.index(), n), o.as_str().to_string());
            }
            if n >= last {
                break;
            }
        }
    }
    out
}

fn packets_html(h: &mut String, model: &Model<'_, '_>) {
    let text = packet_text(model);
    h.push_str("<section id=\"packets\">\n");
    let dump = |gw: GwId, number: u64| -> String {
        match text.get(&(gw.index(), number)) {
            Some(t) => esc(t),
            None => "(the capture file could not be read again)".to_string(),
        }
    };
    for (i, m) in model.messages.iter().enumerate().take(MAX_DRAWN) {
        let _ = write!(
            h,
            "<pre class=\"pkt\" id=\"pkt-{i}\"><a class=\"close\" href=\"#msg-{i}\" title=\"close\">×</a><b>{} {}</b>",
            esc(&m.label),
            esc(&m.detail)
        );
        if let Some(o) = &m.opened {
            let _ = write!(h, "\n{}", esc(o));
        }
        if m.lost {
            h.push_str(" <span class=\"bad\">never arrived</span>");
        }
        for (fi, ei) in &m.cited {
            let _ = write!(h, " · <a href=\"#ev-{fi}-{ei}\">evidence {}.{}</a>", fi + 1, ei + 1);
        }
        h.push('\n');
        for (what, r) in [("sent", m.sent), ("arrived", m.arrived)] {
            let Some(r) = r else {
                continue;
            };
            let Some(im) = model.case.gw(r.gw).ike().get(r.idx) else {
                continue;
            };
            let file = model.case.gw(r.gw).ext.map(|c| file_name(&c.name)).unwrap_or_default();
            let _ = writeln!(h, "\n<b>{what}: {} #{}</b>", esc(&file), im.number);
            let mut numbers: Vec<u64> = vec![im.number];
            numbers.extend(model.fragment_numbers(r).into_iter().filter(|&p| p != im.number));
            for p in numbers.into_iter().take(32) {
                let _ = writeln!(h, "{}", dump(r.gw, p));
            }
        }
        h.push_str("</pre>\n");
    }
    for (i, r) in model.icmp.iter().enumerate() {
        let file = model.case.gw(r.gw).ext.map(|c| file_name(&c.name)).unwrap_or_default();
        let _ = writeln!(
            h,
            "<pre class=\"pkt\" id=\"pkt-icmp-{i}\"><a class=\"close\" href=\"#icmp-{i}\" title=\"close\">×</a><b>{} #{}</b>\n{}</pre>",
            esc(&file),
            r.number,
            dump(r.gw, r.number)
        );
    }
    h.push_str("</section>\n");
}
