//! The live doctor: capture both gateways at once with their own tcpdump, follow their daemons'
//! logs, bring the tunnel up, and diagnose as it happens (`ipsec-doctor capture` and `watch`).
//!
//! `target` says how a gateway's commands run (locally, over ssh, through a command prefix),
//! `scripts` holds the fixed shell scripts run there, `gateway` reads what a gateway has and
//! builds its command lines, `engine` is the diagnosis over streams, `bundle` writes what was
//! gathered so `diagnose DIR` reads it back, `session` runs it all.

pub mod bundle;
pub mod engine;
pub mod gateway;
pub mod scripts;
pub mod session;
mod stream;
pub mod target;
mod view;

/// Now, in seconds since the epoch.
pub fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `t` (seconds since the epoch) as RFC 3339 in UTC, to the millisecond.
pub fn rfc3339(t: f64) -> String {
    jiff::Timestamp::from_microsecond((t * 1e6) as i64)
        .map(|t| t.round(jiff::Unit::Millisecond).unwrap_or(t).to_string())
        .unwrap_or_default()
}
