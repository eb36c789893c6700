//! Any bytes as a log: sniffing and every dialect's line parser.
#![no_main]
use ipsec_doctor::logs::{self, ParseOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = logs::looks_like_log(data);
    let opts = ParseOptions {
        year: Some(2026),
        max_lines: 10_000,
        ..Default::default()
    };
    let f = logs::parse_bytes("fuzz.log", data, &opts);
    assert!(f.events.len() <= f.lines_read);
    for e in &f.events {
        assert!(e.text.len() <= logs::MAX_EVENT_TEXT + 4);
    }
});
