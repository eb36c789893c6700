//! The terminal report: short text (colour only on a terminal), wrapped to the width, and with
//! `--timeline` the ladder of IKE messages between the gateways, rendered from the report model.

use super::model::Model;
use crate::correlate::Case;
use crate::coverage::{file_name, Coverage, Role};
use crate::diagnose::fmt_time;
use crate::inputs::Inputs;
use std::fmt::Write;

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
    for k in &inputs.key_sources {
        let only = if k.keys_only { ", --keys" } else { "" };
        let line = format!("{} → keys ({}{only}): {}", file_name(&k.file), k.kind, k.counts());
        wrap(out, width, "  ", "      ", &line);
    }
    out.push('\n');
}

/// The text report, wrapped to `COLUMNS`, the terminal width or 80 (see `text_width`).
pub(super) fn render(model: &Model<'_, '_>, colour: bool, timeline: bool) -> String {
    let (case, inputs, findings, cov) = (model.case, model.inputs, model.findings, model.cov);
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
        out.push_str(&ladder(model, width));
    }
    out
}

/// The ladder: each IKE message an arrow from its sender's column to its receiver's, on the
/// first capture's clock; one that never arrived stops midway with `✗`; a run of
/// retransmissions is one row with its count; ICMP errors on their gateway's side; ESP per SPI
/// and direction after it.
fn ladder(model: &Model<'_, '_>, width: usize) -> String {
    let case = model.case;
    let names: Vec<&str> = case.gws.iter().map(|g| g.name).collect();
    let left = names.first().copied().unwrap_or("");
    let right = names.get(1).copied().unwrap_or("peer (no capture)");
    let lane = width.saturating_sub(16).clamp(50, 100);
    let mut s = String::new();
    let clock = match case.clock_offset {
        Some(o) if names.len() == 2 => format!("; {right}'s aligned by {:+.3} s", (-o * 1000.0).round() / 1000.0 + 0.0),
        _ => String::new(),
    };
    let _ = writeln!(s, "ladder (times on {left}'s capture clock{clock})");
    let head = format!(
        "{:<16}{left:<w$}{right}",
        "time",
        w = lane.saturating_sub(right.chars().count())
    );
    let _ = writeln!(s, "{}", head.trim_end());
    enum Row<'m> {
        Msg(&'m super::model::Message, usize),
        Icmp(&'m super::model::Icmp),
        Note(&'m super::model::Note),
    }
    let mut rows: Vec<(f64, Row<'_>)> = Vec::new();
    let mut i = 0;
    while i < model.messages.len() {
        let m = &model.messages[i];
        let mut n = 1;
        while let Some(next) = model.messages.get(i + n) {
            if next.label == m.label && next.from == m.from && next.lost == m.lost && next.retransmission {
                n += 1;
            } else {
                break;
            }
        }
        rows.push((m.time, Row::Msg(m, n)));
        i += n;
    }
    // Log lines the findings cite, on their gateway's side.
    for n in model.notes.iter().filter(|n| !n.cited.is_empty()) {
        if let Some(t) = n.time {
            rows.push((t, Row::Note(n)));
        }
    }
    for r in &model.icmp {
        rows.push((r.time, Row::Icmp(r)));
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let number = |r: Option<crate::correlate::MsgRef>| {
        r.and_then(|r| case.gw(r.gw).ike().get(r.idx))
            .map(|m| format!("#{}", m.number))
            .unwrap_or_default()
    };
    for (t, row) in rows.iter().take(1000) {
        let line = match row {
            Row::Msg(m, n) => {
                let mut what = m.label.clone();
                if let Some(im) = model.ike(m) {
                    if im.major >= 2 {
                        what.push_str(&format!(" {}", m.detail));
                    }
                    if let Some(o) = &m.opened {
                        what.push_str(&format!(" ({o})"));
                    }
                }
                if m.natt {
                    what.push_str(" 4500");
                }
                if m.fragments > 1 {
                    match m.fragments_arrived {
                        Some(a) if a < m.fragments => what.push_str(&format!(" ({}/{} frags)", a, m.fragments)),
                        _ => what.push_str(&format!(" ({} frags)", m.fragments)),
                    }
                }
                if *n > 1 {
                    what.push_str(&format!(" ×{n}"));
                }
                let sent = number(m.sent);
                let arrived = number(m.arrived);
                let rightwards = match (m.from, m.to) {
                    (Some(f), _) => f.index() == 0,
                    (None, Some(t)) => t.index() == 1,
                    _ => true,
                };
                arrow(
                    lane,
                    rightwards,
                    m.sent.is_some(),
                    m.arrived.is_some(),
                    m.lost,
                    &what,
                    &sent,
                    &arrived,
                )
            }
            Row::Note(n) => {
                let keep = lane.saturating_sub(12);
                let line = super::html::without_stamp(&n.text);
                let mut text: String = line.chars().take(keep).collect();
                if line.chars().count() > keep {
                    text.push('…');
                }
                if n.gw.index() == 0 {
                    format!("◆ {text}")
                } else {
                    format!("{:>w$}", format!("{text} ◆"), w = lane)
                }
            }
            Row::Icmp(r) => {
                let text = format!("{} #{}", r.text, r.number);
                if r.gw.index() == 0 {
                    format!("! {text}")
                } else {
                    format!("{:>w$}", format!("{text} !"), w = lane)
                }
            }
        };
        let _ = writeln!(s, "{:<16}{}", fmt_time(*t), line.trim_end());
    }
    if rows.len() > 1000 {
        let _ = writeln!(s, "… {} more rows left out", rows.len() - 1000);
    }
    for b in &model.esp {
        let name = |g: Option<crate::correlate::GwId>| g.map_or("?", |g| model.gw_name(g));
        let count = |c: Option<u64>| c.map_or("?".to_string(), |c| c.to_string());
        let lost = if b.lost > 0 {
            format!(", {} lost ✗", b.lost)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "ESP 0x{:08x} {} → {}{}: {} sent, {} arrived{lost} ({}–{})",
            b.spi,
            name(b.from),
            name(b.to),
            b.carrier(),
            count(b.sent),
            count(b.arrived),
            fmt_time(b.start),
            fmt_time(b.end)
        );
    }
    s
}

/// One arrow across a lane of `lane` columns: `what #sent ───▶ #arrived` rightwards, the mirror
/// leftwards; lost: the line stops midway with `✗`.
#[allow(clippy::too_many_arguments)]
fn arrow(
    lane: usize,
    rightwards: bool,
    seen_sent: bool,
    seen_arrived: bool,
    lost: bool,
    what: &str,
    sent: &str,
    arrived: &str,
) -> String {
    let at_sender = if seen_sent {
        format!("{what} {sent}")
    } else {
        what.to_string()
    };
    let at_receiver = if seen_arrived {
        arrived.to_string()
    } else {
        String::new()
    };
    let len = |s: &str| s.chars().count();
    let body = lane.saturating_sub(len(&at_sender) + len(&at_receiver) + 2).max(6);
    let line = |n: usize| "─".repeat(n);
    if rightwards {
        let shaft = if lost {
            format!("{}✗ lost", line(body / 2))
        } else if !seen_sent {
            format!("{}▶", "┄".repeat(body.saturating_sub(1)))
        } else {
            format!("{}▶", line(body.saturating_sub(1)))
        };
        format!("{at_sender} {shaft} {at_receiver}")
    } else {
        let shaft = if lost {
            format!("lost ✗{}", line(body / 2))
        } else if !seen_sent {
            format!("◀{}", "┄".repeat(body.saturating_sub(1)))
        } else {
            format!("◀{}", line(body.saturating_sub(1)))
        };
        let text = format!("{at_receiver} {shaft} {at_sender}");
        format!("{:>w$}", text.trim_start(), w = lane)
    }
}
