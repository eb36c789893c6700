//! One frame of each link type: the first byte picks the link type.
#![no_main]
use ipsec_doctor::wire::link;
use libfuzzer_sys::fuzz_target;

const TYPES: [u32; 11] = [
    link::NULL,
    link::ETHERNET,
    link::PPP,
    link::RAW_DLT,
    link::PPP_HDLC,
    link::RAW,
    link::LOOP,
    link::LINUX_SLL,
    link::IPV4,
    link::IPV6,
    link::LINUX_SLL2,
];

fuzz_target!(|data: &[u8]| {
    let Some((&k, frame)) = data.split_first() else { return };
    let lt = TYPES[k as usize % TYPES.len()];
    if let Ok(l) = link::decode(lt, frame, frame.len() as u32) {
        assert!(l.payload.len() <= frame.len());
    }
});
