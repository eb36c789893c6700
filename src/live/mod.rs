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
pub mod target;
