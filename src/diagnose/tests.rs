//! Each rule on small timelines built from decoded packets (no capture files).

use super::{diagnose, Finding};
use crate::correlate::correlate;
use crate::inputs::{Capture, Side};
use crate::source::Timestamp;
use crate::track::test_msgs::ikev1_fragments;
use crate::track::{Limits, Timeline};
use crate::wire::frag::Stats;
use crate::wire::packet::{Decoded, Esp, Fragment, IcmpKind, IpInfo, Quoted, UdpKind, L4};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

const SG1: [u8; 4] = [192, 0, 2, 1];
const SG2: [u8; 4] = [198, 51, 100, 2];

fn ip(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

/// An IKEv2 message of `len` bytes: the header and, past IKE_SA_INIT, an opaque SK payload.
fn ikev2(exchange: u8, response: bool, msgid: u32, len: u32) -> Vec<u8> {
    let mut m = vec![0u8; len as usize];
    m[0..8].copy_from_slice(&[0x11; 8]);
    if response || exchange != 34 {
        m[8..16].copy_from_slice(&[0x22; 8]);
    }
    m[16] = if exchange == 34 { 0 } else { 46 };
    m[17] = 0x20;
    m[18] = exchange;
    m[19] = if response { 0x20 } else { 0x08 };
    m[20..24].copy_from_slice(&msgid.to_be_bytes());
    m[24..28].copy_from_slice(&len.to_be_bytes());
    if exchange != 34 {
        m[30..32].copy_from_slice(&((len - 28) as u16).to_be_bytes());
    }
    m
}

/// An IKEv1 main mode message: `flags` (E = 1) and (type, body) payloads; `rspi` false for
/// the initiator's first message.
fn ikev1(rspi: bool, flags: u8, payloads: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let r = if rspi { [0x22; 8] } else { [0; 8] };
    crate::track::test_msgs::ikev1([[0x11; 8], r], flags, payloads)
}

/// Main mode: MI1, MR1, MI2, MR2 (large, modp4096-sized KE), MI3, MR3 (encrypted).
fn main_mode() -> [Vec<u8>; 6] {
    let sa = vec![0u8; 48];
    [
        ikev1(false, 0, &[(1, sa.clone())]),
        ikev1(true, 0, &[(1, sa)]),
        ikev1(true, 0, &[(4, vec![1; 512]), (10, vec![2; 32])]),
        ikev1(true, 0, &[(4, vec![3; 512]), (10, vec![4; 32])]),
        ikev1(true, 1, &[(5, vec![5; 60])]),
        ikev1(true, 1, &[(5, vec![6; 60])]),
    ]
}

/// One gateway's capture being built.
struct Cap {
    me: [u8; 4],
    peer: [u8; 4],
    tl: Timeline,
    n: u64,
    /// Every packet with this TTL (both ends on one segment: TTL tells nothing).
    flat_ttl: Option<u8>,
}

impl Cap {
    fn new(me: [u8; 4], peer: [u8; 4]) -> Cap {
        Cap {
            me,
            peer,
            tl: Timeline::new(Limits::default()),
            n: 0,
            flat_ttl: None,
        }
    }

    fn ends(&self, out: bool) -> ([u8; 4], [u8; 4], u8) {
        let (s, d, t) = if out {
            (self.me, self.peer, 64)
        } else {
            (self.peer, self.me, 63)
        };
        (s, d, self.flat_ttl.unwrap_or(t))
    }

    fn add(&mut self, t: f64, out: bool, proto: u8, len: u32, frag: Option<Fragment>, l4: L4<'_>) {
        self.n += 1;
        let (src, dst, ttl) = self.ends(out);
        let d = Decoded {
            ts: Timestamp {
                sec: t as i64,
                nsec: (t.fract() * 1e9) as u32,
            },
            number: self.n,
            ip: IpInfo {
                src: ip(src),
                dst: ip(dst),
                ttl,
                proto,
                total_len: len,
                dont_fragment: false,
                fragment: frag,
            },
            l4,
            reassembled_from: None,
        };
        self.tl.add(&d);
    }

    /// An IKE message this gateway sent (`out`) or received.
    fn ike(&mut self, t: f64, out: bool, msg: &[u8]) {
        self.ike_on(t, out, msg, false);
    }

    /// An IKE message on UDP 500, or on 4500 after the non-ESP marker (`natt`).
    fn ike_on(&mut self, t: f64, out: bool, msg: &[u8], natt: bool) {
        let port = if natt { 4500 } else { 500 };
        let l4 = L4::Udp {
            sport: port,
            dport: port,
            len: msg.len() as u32 + 8 + if natt { 4 } else { 0 },
            kind: UdpKind::Ike { msg, natt },
        };
        self.add(t, out, 17, msg.len() as u32 + 28, None, l4);
    }

    /// The first IP fragment of a large IKE message, and optionally the rest.
    fn ike_fragmented(&mut self, t: f64, out: bool, msg: &[u8], id: u32, rest: bool) {
        let first = &msg[..1472];
        let l4 = L4::Udp {
            sport: 500,
            dport: 500,
            len: msg.len() as u32 + 8,
            kind: UdpKind::Ike {
                msg: first,
                natt: false,
            },
        };
        self.add(
            t,
            out,
            17,
            1500,
            Some(Fragment {
                offset: 0,
                more: true,
                id,
            }),
            l4,
        );
        if rest {
            let len = (msg.len() + 8 - 1480) as u32 + 20;
            self.add(
                t,
                out,
                17,
                len,
                Some(Fragment {
                    offset: 1480,
                    more: false,
                    id,
                }),
                L4::Fragment,
            );
        }
    }

    fn esp(&mut self, t: f64, out: bool, spi: u32, seq: u32, len: u32) {
        self.add(t, out, 50, len, None, L4::Esp(Esp { spi, seq, data: &[] }));
    }

    fn icmp_port_unreachable(&mut self, t: f64) {
        let q = Quoted {
            src: ip(self.me),
            dst: ip(self.peer),
            proto: 17,
            sport: Some(500),
            dport: Some(500),
            spi: None,
        };
        self.add(
            t,
            false,
            1,
            56,
            None,
            L4::Icmp {
                kind: IcmpKind::PortUnreachable,
                quoted: Some(q),
            },
        );
    }

    fn side(self, name: &str) -> Side {
        Side {
            name: name.into(),
            captures: vec![Capture {
                name: format!("{name}.pcap"),
                timeline: self.tl,
                unknown_link: BTreeMap::new(),
                frag_stats: Stats::default(),
                tcp_stats: Default::default(),
                error: None,
            }],
            logs: vec![],
            state: vec![],
        }
    }
}

fn run(sides: Vec<Side>) -> Vec<Finding> {
    let case = correlate(&sides);
    diagnose(&case)
}

/// Both gateways' captures of a full IKEv2 negotiation (IKE_SA_INIT, IKE_AUTH).
fn negotiated() -> (Cap, Cap) {
    let mut a = Cap::new(SG1, SG2);
    let mut b = Cap::new(SG2, SG1);
    let msgs = [
        (34u8, false, 0u32, 500u32),
        (34, true, 0, 450),
        (35, false, 1, 300),
        (35, true, 1, 250),
    ];
    for (i, &(ex, resp, id, len)) in msgs.iter().enumerate() {
        let m = ikev2(ex, resp, id, len);
        let t = 10.0 + i as f64 * 0.01;
        a.ike(t, !resp, &m);
        b.ike(t + 0.001, resp, &m);
    }
    (a, b)
}

#[test]
fn blocked_on_path_when_nothing_arrives() {
    let mut a = Cap::new(SG1, SG2);
    let b = Cap::new(SG2, SG1);
    let m = ikev2(34, false, 0, 500);
    for i in 0..3 {
        a.ike(i as f64, true, &m);
    }
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "ike-blocked-on-path", "{:?}", f[0]);
    assert!(f[0].confidence > 0.8);
}

#[test]
fn replies_lost_when_answers_leave_the_responder_only() {
    let mut a = Cap::new(SG1, SG2);
    let mut b = Cap::new(SG2, SG1);
    let q = ikev2(34, false, 0, 500);
    let r = ikev2(34, true, 0, 450);
    for i in 0..3 {
        a.ike(i as f64, true, &q);
        b.ike(i as f64, false, &q);
        b.ike(i as f64 + 0.001, true, &r);
    }
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "ike-replies-lost", "{:?}", f[0]);
}

#[test]
fn not_listening_on_icmp_port_unreachable() {
    let mut a = Cap::new(SG1, SG2);
    a.ike(1.0, true, &ikev2(34, false, 0, 500));
    a.icmp_port_unreachable(1.001);
    let f = run(vec![a.side("sg1")]);
    assert_eq!(f[0].cause, "responder-not-listening", "{:?}", f[0]);
    assert_eq!(f[0].evidence.len(), 2);
}

#[test]
fn filtered_at_responder_when_it_arrives_unanswered() {
    let mut a = Cap::new(SG1, SG2);
    let mut b = Cap::new(SG2, SG1);
    let q = ikev2(34, false, 0, 500);
    for i in 0..3 {
        a.ike(i as f64, true, &q);
        b.ike(i as f64, false, &q);
    }
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "ike-filtered-at-responder", "{:?}", f[0]);
}

#[test]
fn auth_refused_by_a_bare_notify_reply() {
    let mut a = Cap::new(SG1, SG2);
    let msgs = [
        (34u8, false, 0u32, 500u32),
        (34, true, 0, 450),
        (35, false, 1, 300),
        (35, true, 1, 80),
    ];
    for (i, &(ex, resp, id, len)) in msgs.iter().enumerate() {
        a.ike(i as f64, !resp, &ikev2(ex, resp, id, len));
    }
    let f = run(vec![a.side("sg1")]);
    assert_eq!((f[0].situation(), f[0].cause.id()), ("B", "auth-failed"), "{:?}", f[0]);
}

#[test]
fn fragments_dropped_when_the_second_fragment_never_arrives() {
    let mut a = Cap::new(SG1, SG2);
    let mut b = Cap::new(SG2, SG1);
    let init = [(ikev2(34, false, 0, 500), false), (ikev2(34, true, 0, 450), true)];
    for (i, (m, resp)) in init.iter().enumerate() {
        a.ike(i as f64, !resp, m);
        b.ike(i as f64, *resp, m);
    }
    let auth = ikev2(35, false, 1, 1900);
    for (i, id) in [(0, 7u32), (1, 8)] {
        a.ike_fragmented(5.0 + i as f64, true, &auth, id, true);
        b.ike_fragmented(5.0 + i as f64, false, &auth, id, false);
    }
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "ike-fragments-dropped", "{:?}", f[0]);
}

#[test]
fn healthy_when_esp_crosses_both_ways() {
    let (mut a, mut b) = negotiated();
    for s in 1..=3 {
        a.esp(20.0 + s as f64, true, 0xa, s, 120);
        b.esp(20.0 + s as f64, false, 0xa, s, 120);
        b.esp(20.1 + s as f64, true, 0xb, s, 120);
        a.esp(20.1 + s as f64, false, 0xb, s, 120);
    }
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "healthy", "{:?}", f[0]);
    assert!(f.iter().all(|x| !x.is_problem()));
}

#[test]
fn esp_one_way_when_replies_are_lost() {
    let (mut a, mut b) = negotiated();
    for s in 1..=3 {
        a.esp(20.0 + s as f64, true, 0xa, s, 120);
        b.esp(20.0 + s as f64, false, 0xa, s, 120);
        b.esp(20.1 + s as f64, true, 0xb, s, 120);
    }
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "esp-one-way", "{:?}", f[0]);
}

#[test]
fn esp_blocked_when_nothing_arrives_either_way() {
    let (mut a, mut b) = negotiated();
    for s in 1..=3 {
        a.esp(20.0 + s as f64, true, 0xa, s, 120);
        b.esp(20.1 + s as f64, true, 0xb, s, 120);
    }
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "esp-blocked", "{:?}", f[0]);
    assert!(f[0].confidence >= 0.8);
}

#[test]
fn mtu_blackhole_when_only_large_packets_are_lost() {
    let (mut a, mut b) = negotiated();
    for s in 1..=6 {
        let len = if s % 2 == 0 { 1450 } else { 100 };
        a.esp(20.0 + s as f64, true, 0xa, s, len);
        if len < 1400 {
            b.esp(20.0 + s as f64, false, 0xa, s, len);
        }
        b.esp(20.1 + s as f64, true, 0xb, s, 100);
        a.esp(20.1 + s as f64, false, 0xb, s, 100);
    }
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "mtu-blackhole", "{:?}", f[0]);
}

#[test]
fn no_traffic_sent_needs_a_known_child_sa() {
    // IKEv2 without logs: the child SA's fate is encrypted; a large IKE_AUTH reply alone is not
    // enough to say "up but unused" unless hosts are seen trying to talk.
    let (a, b) = negotiated();
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].situation(), "C", "{:?}", f[0]);
    assert!(f[0].confidence < 0.5);
}

#[test]
fn a_third_peer_does_not_hide_the_tunnel_under_study() {
    let mut a = Cap::new(SG1, SG2);
    let b = Cap::new(SG2, SG1);
    for i in 0..3 {
        a.ike(i as f64, true, &ikev2(34, false, 0, 500));
    }
    // A healthy tunnel from sg1 to someone else in the same capture.
    let mut other = ikev2(34, false, 0, 480);
    other[0..8].copy_from_slice(&[0x33; 8]);
    a.peer = [203, 0, 113, 9];
    a.ike(5.0, true, &other);
    let mut reply = ikev2(34, true, 0, 470);
    reply[0..8].copy_from_slice(&[0x33; 8]);
    a.ike(5.01, false, &reply);
    for s in 1..=3 {
        a.esp(6.0 + s as f64, true, 0xc, s, 120);
        a.esp(6.1 + s as f64, false, 0xd, s, 120);
    }
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "ike-blocked-on-path", "{:?}", f[0]);
}

#[test]
fn own_address_from_what_only_one_capture_saw() {
    // Both gateways on one segment: every TTL is 64, so the captures must be told apart by
    // what only one of them holds (what its host sent and the other never got).
    let (mut a2, mut b2) = (Cap::new(SG1, SG2), Cap::new(SG2, SG1));
    a2.flat_ttl = Some(64);
    b2.flat_ttl = Some(64);
    let msgs = [
        (34u8, false, 0u32, 500u32),
        (34, true, 0, 450),
        (35, false, 1, 300),
        (35, true, 1, 250),
    ];
    for (i, &(ex, resp, id, len)) in msgs.iter().enumerate() {
        let m = ikev2(ex, resp, id, len);
        a2.ike(10.0 + i as f64, !resp, &m);
        b2.ike(10.0 + i as f64, resp, &m);
    }
    for s in 1..=3 {
        a2.esp(20.0 + s as f64, true, 0xa, s, 120);
        b2.esp(20.0 + s as f64, false, 0xa, s, 120);
        b2.esp(20.1 + s as f64, true, 0xb, s, 120);
    }
    let f = run(vec![a2.side("sg1"), b2.side("sg2")]);
    assert_eq!(f[0].cause, "esp-one-way", "{:?}", f[0]);
}

/// Both captures of main mode up to MI3 (on UDP 4500 when `natt`), then the responder resending
/// MR2 as IKEv1 fragments `resends` times, MI3 retransmitted each time. `mi3_arrives`: whether
/// sg2 receives MI3.
fn mr2_resent_in_fragments(natt: bool, mi3_arrives: bool, resends: usize) -> (Cap, Cap) {
    let mut a = Cap::new(SG1, SG2);
    let mut b = Cap::new(SG2, SG1);
    let mm = main_mode();
    for (i, m) in mm[..4].iter().enumerate() {
        let t = 10.0 + i as f64 * 0.01;
        let from_init = i % 2 == 0;
        a.ike(t, from_init, m);
        b.ike(t + 0.001, !from_init, m);
    }
    let frags = ikev1_fragments(&mm[3], 1, 300);
    for r in 0..=resends {
        let t = 11.0 + r as f64;
        a.ike_on(t, true, &mm[4], natt);
        if mi3_arrives {
            b.ike_on(t + 0.001, false, &mm[4], natt);
        }
        if r < resends {
            for f in &frags {
                b.ike(t + 0.5, true, f);
                a.ike(t + 0.501, false, f);
            }
        }
    }
    (a, b)
}

#[test]
fn mr2_resent_in_ike_fragments_is_not_phase_1_up() {
    // PSK mismatch with a big DH group: MI3 arrives, the responder cannot use it and resends
    // MR2 as IKEv1 fragments. Phase 1 is not up: situation B, not "SAs up, no traffic".
    let (a, b) = mr2_resent_in_fragments(false, true, 3);
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "auth-failed", "{:?}", f[0]);
    assert!(
        f[0].evidence.iter().any(|e| e.text.contains("not accepted")),
        "{:?}",
        f[0]
    );
    // The initiator's capture alone says the same.
    let (a, _) = mr2_resent_in_fragments(false, true, 3);
    let f = run(vec![a.side("sg1")]);
    assert_eq!(f[0].situation(), "B", "{:?}", f[0]);
}

#[test]
fn mi3_lost_on_4500_while_mr2_is_resent_in_fragments() {
    let (a, b) = mr2_resent_in_fragments(true, false, 3);
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "natt-port-4500-blocked", "{:?}", f[0]);
}

#[test]
fn fragments_without_their_first_one_before_mi3_are_mr2() {
    // Only the second of each fragment set of the resent MR2 is captured: its content cannot
    // be read, and with no MI3 before it, it cannot be MR3.
    let mut a = Cap::new(SG1, SG2);
    let mm = main_mode();
    for (i, m) in mm[..4].iter().enumerate() {
        a.ike(10.0 + i as f64 * 0.01, i % 2 == 0, m);
    }
    let frags = ikev1_fragments(&mm[3], 1, 300);
    a.ike(10.5, false, &frags[1]);
    a.ike(11.0, true, &mm[4]);
    let f = run(vec![a.side("sg1")]);
    assert_eq!(f[0].situation(), "B", "{:?}", f[0]);
}

#[test]
fn an_mr3_followed_by_mr2_again_does_not_count() {
    // Something that looks like MR3, then the responder resends MR2: it did not accept MI3.
    let mut a = Cap::new(SG1, SG2);
    let mut b = Cap::new(SG2, SG1);
    let mm = main_mode();
    for (i, m) in mm.iter().enumerate() {
        let t = 10.0 + i as f64 * 0.01;
        a.ike(t, i % 2 == 0, m);
        b.ike(t + 0.001, i % 2 == 1, m);
    }
    b.ike(12.0, true, &mm[3]);
    a.ike(12.001, false, &mm[3]);
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].situation(), "B", "{:?}", f[0]);
    assert_ne!(f[0].cause, "healthy");
}

#[test]
fn healthy_ikev1_with_mr3_in_fragments() {
    // MR3 sent as IKEv1 fragments after MI3: phase 1 up; quick mode and ESP both ways.
    let mut a = Cap::new(SG1, SG2);
    let mut b = Cap::new(SG2, SG1);
    let mm = main_mode();
    let mut msgs: Vec<(Vec<u8>, bool)> = mm[..5]
        .iter()
        .enumerate()
        .map(|(i, m)| (m.clone(), i % 2 == 0))
        .collect();
    for f in ikev1_fragments(&mm[5], 2, 40) {
        msgs.push((f, false));
    }
    for q in 0..2u8 {
        let mut qm = ikev1(true, 1, &[(8, vec![q; 40])]);
        qm[18] = 32;
        qm[20..24].copy_from_slice(&7u32.to_be_bytes());
        msgs.push((qm, q == 0));
    }
    for (i, (m, from_init)) in msgs.iter().enumerate() {
        let t = 10.0 + i as f64 * 0.01;
        a.ike(t, *from_init, m);
        b.ike(t + 0.001, !from_init, m);
    }
    for s in 1..=3 {
        a.esp(20.0 + s as f64, true, 0xa, s, 120);
        b.esp(20.0 + s as f64, false, 0xa, s, 120);
        b.esp(20.1 + s as f64, true, 0xb, s, 120);
        a.esp(20.1 + s as f64, false, 0xb, s, 120);
    }
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "healthy", "{:?}", f[0]);
}

#[test]
fn a_gateway_that_receives_esp_and_sends_none_is_where_traffic_is_not_sent() {
    // sg2's ESP arrives at sg1; sg1 sends none at all: no-traffic-sent on sg1, not a path fault.
    let (mut a, mut b) = negotiated();
    for s in 1..=3 {
        b.esp(20.1 + s as f64, true, 0xb, s, 120);
        a.esp(20.1 + s as f64, false, 0xb, s, 120);
    }
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "no-traffic-sent", "{:?}", f[0]);
    assert!(f[0].summary.contains("sg1 sends no ESP"), "{}", f[0].summary);
    // With sg1's capture alone: what it shows is the same.
    let (mut a, _) = negotiated();
    for s in 1..=3 {
        a.esp(20.1 + s as f64, false, 0xb, s, 120);
    }
    let f = run(vec![a.side("sg1")]);
    assert_eq!(f[0].cause, "no-traffic-sent", "{:?}", f[0]);
    // With sg2's capture alone it sends and receives nothing: that cannot be pinned on sg1.
    let (_, mut b) = negotiated();
    for s in 1..=3 {
        b.esp(20.1 + s as f64, true, 0xb, s, 120);
    }
    let f = run(vec![b.side("sg2")]);
    assert_eq!(f[0].cause, "esp-one-way", "{:?}", f[0]);
    assert!(f[0].confidence < 0.5);
}

#[test]
fn a_peer_capture_without_any_ipsec_is_not_healthy() {
    // sg1 saw a full negotiation and ESP both ways; sg2's capture holds no IKE or ESP at all
    // (wrong interface, or taken at another time): the two do not confirm each other.
    let (mut a, _) = negotiated();
    for s in 1..=3 {
        a.esp(20.0 + s as f64, true, 0xa, s, 120);
        a.esp(20.1 + s as f64, false, 0xb, s, 120);
    }
    let mut b = Cap::new(SG2, SG1);
    b.add(21.0, true, 6, 60, None, L4::Other);
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_ne!(f[0].cause, "healthy", "{:?}", f[0]);
}

#[test]
fn ike_fragments_partly_lost_on_the_way() {
    // MI3 sent as three IKEv1 fragments, the last one never arrives at sg2, every time.
    let mut a = Cap::new(SG1, SG2);
    let mut b = Cap::new(SG2, SG1);
    let mm = main_mode();
    for (i, m) in mm[..4].iter().enumerate() {
        let t = 10.0 + i as f64 * 0.01;
        a.ike(t, i % 2 == 0, m);
        b.ike(t + 0.001, i % 2 == 1, m);
    }
    let frags = ikev1_fragments(&mm[4], 3, 40);
    assert_eq!(frags.len(), 3);
    for r in 0..3 {
        for (k, f) in frags.iter().enumerate() {
            let t = 11.0 + r as f64 + k as f64 * 0.001;
            a.ike(t, true, f);
            if k < 2 {
                b.ike(t + 0.001, false, f);
            }
        }
    }
    let f = run(vec![a.side("sg1"), b.side("sg2")]);
    assert_eq!(f[0].cause, "ike-fragments-dropped", "{:?}", f[0]);
}
