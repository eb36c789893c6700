//! Raw file bytes (pcap or pcapng) through the streaming reader.
#![no_main]
use ipsec_doctor::source::CaptureReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(mut r) = CaptureReader::new(data) {
        let mut n = 0usize;
        while let Some(f) = r.next_frame() {
            match f {
                Ok(f) => assert!(f.data.len() <= ipsec_doctor::source::MAX_RECORD),
                Err(_) => break,
            }
            n += 1;
            assert!(n <= data.len());
        }
    }
});
