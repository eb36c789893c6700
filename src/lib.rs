//! ipsec-doctor: decode IPsec captures as tcpdump does and diagnose failed tunnels.
//!
//! Data flows one way: `source` → `wire` → (`print` | `track`) → `correlate` → `diagnose` → `report`.
#![forbid(unsafe_code)]

pub mod cmd;
pub mod correlate;
pub mod coverage;
pub mod decrypt;
pub mod diagnose;
pub mod evidence_pcapng;
pub mod inputs;
pub mod keys;
pub mod live;
pub mod logs;
pub mod natd;
pub mod print;
pub mod report;
pub mod source;
pub mod state;
pub mod track;
pub mod wire;
