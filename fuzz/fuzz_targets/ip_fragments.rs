//! A sequence of raw IPv4/IPv6 packets (length-prefixed) through decoding and bounded fragment
//! reassembly, with small limits so they are reached.
#![no_main]
use ipsec_doctor::source::{Frame, Timestamp};
use ipsec_doctor::wire::frag::Limits;
use ipsec_doctor::wire::link;
use ipsec_doctor::wire::packet::Decoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lim = Limits {
        max_bytes: 64 << 10,
        max_datagrams: 16,
        max_datagram_len: 65_543,
        timeout: 2.0,
    };
    let mut d = Decoder::new(lim);
    let mut rest = data;
    let mut n = 0u64;
    while rest.len() >= 2 {
        let len = u16::from_be_bytes([rest[0], rest[1]]) as usize % 2048;
        rest = &rest[2..];
        let take = len.min(rest.len());
        let (pkt, tail) = rest.split_at(take);
        rest = tail;
        n += 1;
        let f = Frame {
            ts: Timestamp { sec: n as i64, nsec: 0 },
            linktype: link::RAW,
            wire_len: pkt.len() as u32,
            data: pkt,
            offset: 0,
        };
        let _ = d.decode(&f, n, |_| {});
    }
});
