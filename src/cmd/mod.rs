//! The subcommands; `main` only parses flags and calls one of these.

pub mod capture;
pub mod capture_filter;
pub mod diagnose;
pub mod dump;
