//! The whole diagnose pipeline on a fuzzed pair of captures (the input split at a marked point).
#![no_main]
use ipsec_doctor::inputs::{decode_capture, Side};
use ipsec_doctor::source::CaptureReader;
use ipsec_doctor::{correlate, diagnose, inputs};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let cut = (u16::from_be_bytes([data[0], data[1]]) as usize).min(data.len() - 2);
    let (a, b) = data[2..].split_at(cut);
    let mut sides = Vec::new();
    for (name, bytes) in [("sg1", a), ("sg2", b)] {
        let mut side = Side {
            name: name.into(),
            ..Default::default()
        };
        if let Ok(r) = CaptureReader::new(bytes) {
            side.captures
                .push(decode_capture(format!("{name}.pcap"), r, inputs::Limits::default()));
        }
        sides.push(side);
    }
    let case = correlate::correlate(&sides);
    let findings = diagnose::diagnose(&case);
    assert!(!findings.is_empty());
});
