//! Time stamps at the start of log lines: BSD syslog (`Nov 28 05:49:23[.uuuuuu]`) and ISO 8601
//! (`2024-11-28T05:49:23[.uuuuuu][Z|+01:00|+0100]`, also with a space instead of `T`).

use serde::{Deserialize, Serialize};

/// When a line was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogTime {
    /// As written, or inferred from [`super::ParseOptions::year`] (see `year_inferred`).
    pub year: Option<i32>,
    pub year_inferred: bool,
    /// 1..=12, when the line has a date.
    pub month: Option<u8>,
    pub day: Option<u8>,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Fraction of the second in microseconds (0 if not logged).
    pub micros: u32,
    /// Zone written on the line, seconds east of UTC.
    pub utc_offset: Option<i32>,
    /// Seconds since the Unix epoch (UTC) when the date and year are known; comparable to
    /// pcap time stamps up to the gateways' clock offsets.
    pub epoch: Option<f64>,
}

impl LogTime {
    /// Seconds since midnight (local time of the writer), with the fraction.
    pub fn seconds_of_day(&self) -> f64 {
        f64::from(self.hour) * 3600.0
            + f64::from(self.minute) * 60.0
            + f64::from(self.second)
            + f64::from(self.micros) / 1e6
    }

    /// Epoch seconds from the fields; `default_offset` is used when the line has no zone.
    pub(crate) fn compute_epoch(&self, default_offset: i32) -> Option<f64> {
        let (y, m, d) = (self.year?, self.month?, self.day?);
        let days = days_from_civil(y, m, d)?;
        let offset = self.utc_offset.unwrap_or(default_offset);
        let secs = days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second)
            - i64::from(offset);
        Some(secs as f64 + f64::from(self.micros) / 1e6)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i32, m: u8, d: u8) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// A time stamp found at the start of a line, before year inference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stamp {
    pub year: Option<i32>,
    pub month: Option<u8>,
    pub day: Option<u8>,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub micros: u32,
    pub utc_offset: Option<i32>,
}

impl Stamp {
    pub fn to_log_time(self) -> LogTime {
        LogTime {
            year: self.year,
            year_inferred: false,
            month: self.month,
            day: self.day,
            hour: self.hour,
            minute: self.minute,
            second: self.second,
            micros: self.micros,
            utc_offset: self.utc_offset,
            epoch: None,
        }
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let s = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// `HH:MM:SS` at `at`, then an optional `.fraction` / `,fraction`. Returns (h, m, s, micros, end).
fn clock(b: &[u8], at: usize) -> Option<(u8, u8, u8, u32, usize)> {
    let h = digits(b, at, 2)?;
    if b.get(at + 2) != Some(&b':') {
        return None;
    }
    let m = digits(b, at + 3, 2)?;
    if b.get(at + 5) != Some(&b':') {
        return None;
    }
    let s = digits(b, at + 6, 2)?;
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let mut end = at + 8;
    let mut micros = 0u32;
    if matches!(b.get(end), Some(b'.') | Some(b',')) && b.get(end + 1).is_some_and(u8::is_ascii_digit) {
        end += 1;
        let mut scale = 100_000u32;
        while let Some(&c) = b.get(end) {
            if !c.is_ascii_digit() {
                break;
            }
            micros += u32::from(c - b'0') * scale;
            scale /= 10;
            end += 1;
        }
    }
    Some((h as u8, m as u8, s as u8, micros, end))
}

/// `Nov 28 05:49:23[.frac]` (day may be space-padded). Returns the stamp and its length.
pub(crate) fn parse_bsd(line: &str) -> Option<(Stamp, usize)> {
    let b = line.as_bytes();
    let mon = line.get(0..3)?;
    let month = MONTHS.iter().position(|m| *m == mon)? as u8 + 1;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut at = 4;
    if b.get(at) == Some(&b' ') {
        at += 1;
    }
    let (day, dlen) = match (digits(b, at, 2), digits(b, at, 1)) {
        (Some(d), _) => (d, 2),
        (None, Some(d)) => (d, 1),
        _ => return None,
    };
    if !(1..=31).contains(&day) {
        return None;
    }
    at += dlen;
    if b.get(at) != Some(&b' ') {
        return None;
    }
    let (hour, minute, second, micros, end) = clock(b, at + 1)?;
    Some((
        Stamp {
            year: None,
            month: Some(month),
            day: Some(day as u8),
            hour,
            minute,
            second,
            micros,
            utc_offset: None,
        },
        end,
    ))
}

/// `2024-11-28T05:49:23[.frac][Z|+HH:MM|+HHMM|+HH]`, `T` or space. Returns the stamp and its length.
pub(crate) fn parse_iso(line: &str) -> Option<(Stamp, usize)> {
    let b = line.as_bytes();
    let year = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if !matches!(b.get(10), Some(b'T') | Some(b' ')) {
        return None;
    }
    let (hour, minute, second, micros, mut end) = clock(b, 11)?;
    let mut utc_offset = None;
    match b.get(end) {
        Some(b'Z') => {
            utc_offset = Some(0);
            end += 1;
        }
        Some(&c @ (b'+' | b'-')) => {
            let sign = if c == b'-' { -1 } else { 1 };
            if let Some(hh) = digits(b, end + 1, 2) {
                let mut len = 3;
                let mut mm = 0;
                if b.get(end + 3) == Some(&b':') {
                    if let Some(v) = digits(b, end + 4, 2) {
                        mm = v;
                        len = 6;
                    }
                } else if let Some(v) = digits(b, end + 3, 2) {
                    mm = v;
                    len = 5;
                }
                utc_offset = Some(sign * (hh as i32 * 3600 + mm as i32 * 60));
                end += len;
            }
        }
        _ => {}
    }
    Some((
        Stamp {
            year: Some(year as i32),
            month: Some(month as u8),
            day: Some(day as u8),
            hour,
            minute,
            second,
            micros,
            utc_offset,
        },
        end,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsd_stamp_with_micros_and_padding() {
        let (s, n) = parse_bsd("Nov 28 05:50:35.540366: \"x\" #1: sent").unwrap();
        assert_eq!(
            (s.month, s.day, s.hour, s.minute, s.second),
            (Some(11), Some(28), 5, 50, 35)
        );
        assert_eq!(s.micros, 540_366);
        assert_eq!(n, "Nov 28 05:50:35.540366".len());
        let (s, n) = parse_bsd("Mar  2 23:01:02 gw charon: x").unwrap();
        assert_eq!((s.month, s.day, s.micros), (Some(3), Some(2), 0));
        assert_eq!(n, 15);
        assert!(parse_bsd("Foo 28 05:50:35 x").is_none());
        assert!(parse_bsd("Nov 28 25:50:35 x").is_none());
        assert!(parse_bsd("Nov").is_none());
    }

    #[test]
    fn iso_stamp_zones_and_epoch() {
        let (s, n) = parse_iso("2024-11-28T05:49:23+0100 sg2 pluto[1]: x").unwrap();
        assert_eq!(n, 24);
        assert_eq!(s.utc_offset, Some(3600));
        let t = s.to_log_time();
        // 2024-11-28T04:49:23Z
        assert_eq!(t.compute_epoch(0), Some(1_732_769_363.0));
        let (s, _) = parse_iso("2024-11-28T04:49:23.250000Z").unwrap();
        assert_eq!(s.to_log_time().compute_epoch(7200), Some(1_732_769_363.25));
        let (s, n) = parse_iso("2024-11-28 04:49:23 09[IKE] x").unwrap();
        assert_eq!((s.utc_offset, n), (None, 19));
        assert_eq!(s.to_log_time().compute_epoch(0), Some(1_732_769_363.0));
        assert!(parse_iso("2024-13-28T04:49:23").is_none());
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(1969, 12, 31), Some(-1));
        assert_eq!(days_from_civil(2024, 0, 1), None);
    }
}
