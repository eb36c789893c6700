//! Timestamps as tcpdump's `-t` family prints them, local time from TZ.

use crate::source::Timestamp;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// default: `HH:MM:SS.uuuuuu` local time
    #[default]
    Local,
    /// `-t`
    None,
    /// `-tt`: seconds since the epoch
    Epoch,
    /// `-ttt`: delta from the previous packet
    DeltaPrev,
    /// `-tttt`: date and local time
    DateLocal,
    /// `-ttttt`: delta from the first packet
    DeltaFirst,
}

impl TimeFormat {
    pub fn from_count(n: u8) -> TimeFormat {
        match n {
            0 => TimeFormat::Local,
            1 => TimeFormat::None,
            2 => TimeFormat::Epoch,
            3 => TimeFormat::DeltaPrev,
            4 => TimeFormat::DateLocal,
            _ => TimeFormat::DeltaFirst,
        }
    }
}

pub struct Clock {
    fmt: TimeFormat,
    tz: jiff::tz::TimeZone,
    first: Option<Timestamp>,
    prev: Option<Timestamp>,
}

fn usec(ts: Timestamp) -> i128 {
    // tcpdump opens files at microsecond precision: nanoseconds are truncated.
    ts.sec as i128 * 1_000_000 + (ts.nsec / 1000) as i128
}

impl Clock {
    pub fn new(fmt: TimeFormat) -> Clock {
        Clock {
            fmt,
            tz: jiff::tz::TimeZone::system(),
            first: None,
            prev: None,
        }
    }

    /// Appends the timestamp and its trailing space (nothing for `-t`).
    pub fn write(&mut self, out: &mut String, ts: Timestamp) {
        match self.fmt {
            TimeFormat::None => {}
            TimeFormat::Epoch => {
                let u = usec(ts);
                let _ = write!(out, "{}.{:06} ", u.div_euclid(1_000_000), u.rem_euclid(1_000_000));
            }
            TimeFormat::Local | TimeFormat::DateLocal => {
                let u = usec(ts);
                let secs = u.div_euclid(1_000_000) as i64;
                let frac = u.rem_euclid(1_000_000);
                match jiff::Timestamp::from_second(secs) {
                    Ok(t) => {
                        let z = t.to_zoned(self.tz.clone());
                        if self.fmt == TimeFormat::DateLocal {
                            let _ = write!(out, "{:04}-{:02}-{:02} ", z.year(), z.month(), z.day());
                        }
                        let _ = write!(out, "{:02}:{:02}:{:02}.{:06} ", z.hour(), z.minute(), z.second(), frac);
                    }
                    Err(_) => out.push_str("[Time out of range] "),
                }
            }
            TimeFormat::DeltaPrev | TimeFormat::DeltaFirst => {
                let base = if self.fmt == TimeFormat::DeltaPrev {
                    self.prev
                } else {
                    self.first
                };
                let d = base.map(|b| usec(ts) - usec(b)).unwrap_or(0);
                // A sign column, then the delta as a UTC time of day (tcpdump formats it with
                // gmtime, so whole days wrap).
                let (neg, d) = if d < 0 { ("-", -d) } else { (" ", d) };
                let s = d / 1_000_000;
                let _ = write!(
                    out,
                    "{neg}{:02}:{:02}:{:02}.{:06} ",
                    (s / 3600) % 24,
                    (s / 60) % 60,
                    s % 60,
                    d % 1_000_000
                );
            }
        }
        if self.first.is_none() {
            self.first = Some(ts);
        }
        self.prev = Some(ts);
    }
}
