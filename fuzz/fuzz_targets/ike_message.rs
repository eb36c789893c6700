//! IKEv1 and IKEv2 message views: header, the payload chain and every payload parser.
#![no_main]
use ipsec_doctor::wire::isakmp::{self, payload_type as pt, Header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(h) = Header::new_checked(data) else { return };
    let major = h.major_version();
    let mut count = 0;
    for p in h.payloads() {
        let Ok(p) = p else { break };
        count += 1;
        assert!(count <= isakmp::MAX_PAYLOADS);
        match p.kind {
            pt::SA | pt::V2_SA => {
                let _ = isakmp::Sa::parse(p.body, major);
            }
            pt::KE | pt::V2_KE => {
                let _ = isakmp::Ke::parse(p.body, major);
            }
            pt::ID | pt::V2_IDI | pt::V2_IDR => {
                let _ = isakmp::Id::parse(p.body, major).map(|i| i.ip_addr());
            }
            pt::NOTIFY | pt::V2_NOTIFY => {
                let _ = isakmp::Notify::parse(p.body, major).map(|n| n.name(major));
            }
            pt::DELETE | pt::V2_DELETE => {
                let _ = isakmp::Delete::parse(p.body, major);
            }
            pt::V2_SK | pt::V2_SKF => {
                let _ = isakmp::Encrypted::from_payload(&p);
            }
            pt::V1_FRAGMENT => {
                let _ = isakmp::V1Fragment::parse(p.body);
            }
            _ => {
                let _ = isakmp::NatD::from_payload(&p, major);
            }
        }
    }
});
