//! UDP on 500/4500 and IP protocol 50: the NAT-T / ESP / IKE dispatch, through the tracker.
#![no_main]
use ipsec_doctor::source::{Frame, Timestamp};
use ipsec_doctor::track::{Limits, Timeline};
use ipsec_doctor::wire::link;
use ipsec_doctor::wire::packet::Decoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    // An IPv4 header (UDP 4500, UDP 500 or ESP) around the fuzzed payload.
    let (proto, port) = match sel % 3 {
        0 => (17u8, 4500u16),
        1 => (17, 500),
        _ => (50, 0),
    };
    let l4len = if proto == 17 { body.len() + 8 } else { body.len() };
    let total = (20 + l4len) as u16;
    let mut p = vec![
        0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2,
    ];
    p[2..4].copy_from_slice(&total.to_be_bytes());
    if proto == 17 {
        p.extend_from_slice(&port.to_be_bytes());
        p.extend_from_slice(&port.to_be_bytes());
        p.extend_from_slice(&((body.len() + 8) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
    }
    p.extend_from_slice(body);
    let f = Frame {
        ts: Timestamp::default(),
        linktype: link::RAW,
        wire_len: p.len() as u32,
        data: &p,
        offset: 0,
    };
    let mut d = Decoder::default();
    let mut tl = Timeline::new(Limits::default());
    let _ = d.decode(&f, 1, |x| tl.add(x));
});
