//! The live view: each IKE message as it goes and whether it arrived, the running verdict,
//! a spinner on a terminal.

use super::engine::{Hop, Verdict};
use super::{epoch_now, rfc3339};
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// The live view on standard error: each IKE message as it goes, and the verdict as it changes
/// (`watch --json`: verdict changes as JSON lines on standard output).
pub(super) struct View {
    tty: bool,
    watch: bool,
    json: bool,
    spin: std::cell::Cell<usize>,
}

impl View {
    pub(super) fn new(watch: bool, json: bool) -> View {
        View {
            tty: std::io::stderr().is_terminal(),
            watch,
            json,
            spin: std::cell::Cell::new(0),
        }
    }

    pub(super) fn line(&self, s: &str) {
        let mut e = std::io::stderr().lock();
        if self.tty {
            let _ = write!(e, "\r\x1b[K");
        }
        let _ = writeln!(e, "{s}");
    }

    pub(super) fn note(&self, s: &str) {
        self.line(&format!("  {s}"));
    }

    pub(super) fn hop(&self, h: &Hop, started: f64) {
        let fate = match (h.sent, h.arrived) {
            (true, true) => format!("arrived at {}", h.to),
            (true, false) => format!("NOT seen at {}", h.to),
            (false, _) => format!("seen at {} only (not in {}'s capture)", h.to, h.from),
        };
        let again = if h.retransmission { " (retransmission)" } else { "" };
        self.line(&format!(
            "  {:>7.1}s  {} → {}  {:<40} {fate}",
            (h.time - started).max(0.0),
            h.from,
            h.to,
            format!("{}{again}", h.what)
        ));
    }

    pub(super) fn verdict(&self, v: &Verdict, elapsed: Duration) {
        // "-" (healthy) and "?" (inconclusive) are no situation of the write-up.
        let situation = Some(v.cause.situation()).filter(|s| !matches!(*s, "-" | "?" | ""));
        if self.watch && self.json {
            let j = serde_json::json!({
                "time": rfc3339(epoch_now()),
                "cause": v.cause.id(),
                "situation": situation,
                "summary": v.summary,
            });
            println!("{j}");
            let _ = std::io::stdout().flush();
            return;
        }
        let sit = situation.map_or(String::new(), |s| format!(" (situation {s})"));
        if self.watch {
            let text = format!("{}  {}{sit}: {}", rfc3339(epoch_now()), v.cause.id(), v.summary);
            println!("{text}");
            let _ = std::io::stdout().flush();
        } else {
            self.line(&format!(
                "  {:>7.1}s  verdict: {}{sit}: {}",
                elapsed.as_secs_f64(),
                v.cause.id(),
                v.summary
            ));
        }
    }

    /// The spinner line with the elapsed time and the running verdict (terminals only).
    pub(super) fn status(&self, elapsed: Duration, v: Option<&Verdict>) {
        if !self.tty {
            return;
        }
        const SPIN: [char; 4] = ['|', '/', '-', '\\'];
        let i = self.spin.get();
        self.spin.set(i + 1);
        let what = v.map_or("waiting for packets and log lines".to_string(), |v| {
            format!("so far: {}", v.cause.id())
        });
        let mut e = std::io::stderr().lock();
        let _ = write!(
            e,
            "\r\x1b[K{} {:>6.1}s  {what}  (Ctrl-C stops)",
            SPIN[(i / 2) % 4],
            elapsed.as_secs_f64()
        );
        let _ = e.flush();
    }

    pub(super) fn clear(&self) {
        if self.tty {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
