//! Whole-file tests: real Libreswan 4.10 logs recorded in network namespaces
//! (tests/data/logs/), plus framing variants built from real lines.

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/logs/", $name))
    };
}

fn kinds(f: &LogFile) -> Vec<&EventKind> {
    f.events.iter().map(|e| &e.kind).collect()
}

fn opts() -> ParseOptions {
    ParseOptions {
        year: Some(2024),
        ..ParseOptions::default()
    }
}

#[test]
fn write_up_whack_output_openswan() {
    let text = r#" 104 "sg1--sg2-net" #796: STATE_MAIN_I1: initiate
 003 "sg1--sg2-net" #796: received Vendor ID payload [Dead Peer Detection]
 106 "sg1--sg2-net" #796: STATE_MAIN_I2: sent MI2, expecting MR2
 108 "sg1--sg2-net" #796: STATE_MAIN_I3: sent MI3, expecting MR3
 004 "sg1--sg2-net" #796: STATE_MAIN_I4: ISAKMP SA established
 117 "sg1--sg2-net" #797: STATE_QUICK_I1: initiate
 004 "sg1--sg2-net" #797: STATE_QUICK_I2: sent QI2, IPsec SA established {ESP=>0xaa6fa19a <0xa2f3b68d xfrm=3DES_0-HMAC_SHA1 NATD=none DPD=enabled}
"#;
    let f = parse("up.txt", text, &ParseOptions::default());
    assert_eq!(f.dialect, Dialect::Whack);
    assert_eq!(f.lines_read, 7);
    let serials: Vec<_> = f.events.iter().map(|e| e.serial).collect();
    assert_eq!(
        serials,
        [Some(796), Some(796), Some(796), Some(796), Some(797), Some(797)]
    );
    assert!(f.events.iter().all(|e| e.conn.as_deref() == Some("sg1--sg2-net")));
    assert_eq!(f.events[2].line, 4);
    let last = f.events.last().unwrap();
    assert_eq!(
        last.kind,
        EventKind::ChildSaEstablished {
            spi_out: Some(0xaa6f_a19a),
            spi_in: Some(0xa2f3_b68d),
            natd: Some("none".into()),
            encap: Some(false),
            mode: None,
            ts: None,
            parent: None,
        }
    );
    assert!(matches!(f.events[3].kind, EventKind::IkeSaEstablished { .. }));
    assert_eq!(f.role(), Some(Role::Initiator));
    assert_eq!(
        f.daemon,
        Some(DaemonInfo {
            daemon: Daemon::Pluto,
            version: None
        })
    );
}

#[test]
fn libreswan410_ikev1_psk_mismatch_both_sides() {
    let up = parse(
        "up",
        fixture!("libreswan-4.10-ikev1-psk-mismatch-up.whack.txt"),
        &ParseOptions::default(),
    );
    assert_eq!(up.dialect, Dialect::Whack);
    let k = kinds(&up);
    assert_eq!(
        k[..4],
        [
            &EventKind::Initiating {
                ike_version: Some(1),
                exchange: Some(Exchange::MainMode),
                peer: None
            },
            &EventKind::Sent {
                exchange: Exchange::MainMode,
                request: true,
                step: Some(1),
                msgid: None,
                peer: None
            },
            &EventKind::Sent {
                exchange: Exchange::MainMode,
                request: true,
                step: Some(2),
                msgid: None,
                peer: None
            },
            &EventKind::Sent {
                exchange: Exchange::MainMode,
                request: true,
                step: Some(3),
                msgid: None,
                peer: None
            },
        ]
    );
    let retransmits = k
        .iter()
        .filter(|k| matches!(k, EventKind::Retransmit { step: Some(3), .. }))
        .count();
    assert_eq!(retransmits, 5);
    assert!(k.contains(&&EventKind::GaveUp {
        state: Some("STATE_MAIN_I3".into()),
        exchange: Some(Exchange::MainMode),
        step: Some(3),
        retransmits: Some(5),
    }));

    let resp = parse(
        "sg2",
        fixture!("libreswan-4.10-ikev1-psk-mismatch-responder.pluto.log"),
        &opts(),
    );
    assert_eq!(resp.dialect, Dialect::Pluto);
    assert_eq!(
        resp.daemon.as_ref().and_then(|d| d.version.as_deref()),
        Some("Libreswan 4.10")
    );
    assert_eq!(resp.role(), Some(Role::Responder));
    let auth: Vec<_> = resp
        .events
        .iter()
        .filter(|e| e.kind == EventKind::AuthFailed { by_peer: false })
        .collect();
    assert_eq!(auth.len(), 9);
    assert_eq!(auth[0].line, 143);
    assert_eq!(auth[0].serial, Some(1));
    let t = auth[0].time.as_ref().unwrap();
    assert_eq!((t.month, t.day, t.hour, t.micros), (Some(11), Some(28), 5, 603_482));
    // 2024-11-28T05:50:58.603482Z
    assert!((t.epoch.unwrap() - 1_732_773_058.603_482).abs() < 1e-6);
    assert!(resp.events.iter().any(|e| e.kind
        == EventKind::GaveUp {
            state: Some("STATE_MAIN_R2".into()),
            exchange: Some(Exchange::MainMode),
            step: Some(2),
            retransmits: Some(5)
        }));
    // Nothing from the algorithm table or self-tests became an event.
    assert!(resp.events.iter().all(|e| e.line >= 9));
    assert_eq!(resp.conns, ["sg1--sg2-net"]);
}

#[test]
fn libreswan410_ikev1_child_install_fails_on_responder() {
    let f = parse(
        "sg2",
        fixture!("libreswan-4.10-ikev1-responder-netlink-errno93.pluto.log"),
        &opts(),
    );
    let k = kinds(&f);
    assert!(k.contains(&&EventKind::KernelInstallFailed {
        what: KernelObject::Sa,
        errno: Some(93)
    }));
    let err = f
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::KernelInstallFailed { errno: Some(93), .. }))
        .unwrap();
    assert_eq!((err.serial, err.conn.as_deref()), (Some(2), Some("sg1--sg2-net")));
    assert!(k.contains(&&EventKind::NetworkError {
        errno: Some(111),
        icmp_type: Some(3),
        icmp_code: Some(3),
        complainant: Some("192.0.2.31".into())
    }));
    assert!(k.contains(&&EventKind::Responding {
        ike_version: Some(1),
        exchange: Some(Exchange::QuickMode),
        peer: None
    }));
    assert!(k.contains(&&EventKind::PeerId {
        id: "ID_IPV4_ADDR: '192.0.2.31'".into()
    }));
    assert!(k.contains(&&EventKind::Deleted {
        by_peer: true,
        state: None
    }));

    let up = parse(
        "up",
        fixture!("libreswan-4.10-ikev1-up-quick-timeout.whack.txt"),
        &opts(),
    );
    let k = kinds(&up);
    assert!(k.contains(&&EventKind::IkeSaEstablished {
        auth: Some("PRESHARED_KEY".into()),
        local: None,
        peer: None,
        peer_id: None
    }));
    assert!(matches!(
        k.iter().find(|k| matches!(
            k,
            EventKind::Initiating {
                exchange: Some(Exchange::QuickMode),
                ..
            }
        )),
        Some(EventKind::Initiating {
            ike_version: Some(1),
            ..
        })
    ));
    assert_eq!(
        k.last(),
        Some(&&EventKind::Deleted {
            by_peer: false,
            state: Some("STATE_QUICK_I1".into())
        })
    );
    assert!(k.contains(&&EventKind::GaveUp {
        state: Some("STATE_QUICK_I1".into()),
        exchange: Some(Exchange::QuickMode),
        step: Some(1),
        retransmits: Some(5)
    }));
    // Whack output has no time stamps.
    assert!(up.events.iter().all(|e| e.time.is_none()));
}

#[test]
fn libreswan410_ikev2_ts_unacceptable_and_errno38() {
    let i = parse(
        "sg1",
        fixture!("libreswan-4.10-ikev2-ts-unacceptable-initiator.pluto.log"),
        &opts(),
    );
    let ts = i
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::TsUnacceptable { .. }))
        .unwrap();
    assert_eq!(ts.kind, EventKind::TsUnacceptable { by_peer: true });
    assert_eq!((ts.serial, ts.line), (Some(2), 154));
    assert_eq!(ts.notify.as_deref(), Some("TS_UNACCEPTABLE"));
    assert!(i.events.iter().any(|e| e.kind
        == EventKind::IkeSaEstablished {
            auth: Some("secret".into()),
            local: None,
            peer: None,
            peer_id: Some("192.0.2.32".into())
        }));
    assert_eq!(i.peer_addrs, ["192.0.2.32"]);
    assert_eq!(i.role(), Some(Role::Initiator));

    let r = parse(
        "sg2",
        fixture!("libreswan-4.10-ikev2-responder-netlink-errno38.pluto.log"),
        &opts(),
    );
    assert!(kinds(&r).contains(&&EventKind::KernelInstallFailed {
        what: KernelObject::Sa,
        errno: Some(38)
    }));
    assert!(kinds(&r).contains(&&EventKind::Received {
        exchange: Exchange::IkeAuth,
        request: true,
        msgid: None,
        peer: None
    }));
    assert_eq!(r.role(), Some(Role::Responder));
}

#[test]
fn libreswan410_ikev2_psk_mismatch() {
    let up = parse(
        "up",
        fixture!("libreswan-4.10-ikev2-psk-mismatch-up.whack.txt"),
        &opts(),
    );
    let k = kinds(&up);
    assert_eq!(
        k[..4],
        [
            &EventKind::Initiating {
                ike_version: Some(2),
                exchange: Some(Exchange::IkeSaInit),
                peer: None
            },
            &EventKind::Sent {
                exchange: Exchange::IkeSaInit,
                request: true,
                step: None,
                msgid: None,
                peer: Some("192.0.2.32:500".into())
            },
            &EventKind::Sent {
                exchange: Exchange::IkeAuth,
                request: true,
                step: None,
                msgid: None,
                peer: None
            },
            &EventKind::AuthFailed { by_peer: true },
        ]
    );
    let r = parse(
        "sg2",
        fixture!("libreswan-4.10-ikev2-psk-mismatch-responder.pluto.log"),
        &opts(),
    );
    // The failed check, then the notify sent about it (a notify, not a second failure).
    let fails: Vec<_> = r
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::AuthFailed { .. } | EventKind::Notify { .. }))
        .map(|e| (e.line, e.serial, e.kind.clone()))
        .collect();
    let sent = EventKind::Notify {
        name: "AUTHENTICATION_FAILED".into(),
        by_peer: false,
    };
    assert_eq!(
        fails,
        [
            (152, Some(1), EventKind::AuthFailed { by_peer: false }),
            (153, Some(1), sent.clone()),
            (160, Some(2), EventKind::AuthFailed { by_peer: false }),
            (161, Some(2), sent),
        ]
    );
    assert_eq!(
        r.events.iter().find(|e| e.line == 153).unwrap().notify.as_deref(),
        Some("AUTHENTICATION_FAILED")
    );
    assert_eq!(r.peer_addrs, ["192.0.2.31"]);
}

#[test]
fn libreswan410_proposal_mismatch_phase1() {
    let r2 = parse(
        "sg2",
        fixture!("libreswan-4.10-ikev2-proposal-mismatch-responder.pluto.log"),
        &opts(),
    );
    let np: Vec<_> = r2
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::NoProposalChosen { phase, by_peer } => Some((phase, by_peer)),
            _ => None,
        })
        .collect();
    assert_eq!(np.len(), 18);
    assert!(np.iter().all(|&p| p == (Some(1), false)));

    let up1 = parse(
        "up",
        fixture!("libreswan-4.10-ikev1-proposal-mismatch-up.whack.txt"),
        &opts(),
    );
    let np: Vec<_> = up1
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::NoProposalChosen { phase, by_peer } => Some((phase, by_peer)),
            _ => None,
        })
        .collect();
    // "ignoring informational payload" + "received and ignored notification payload", 6 times;
    // the phase comes from serial #1's last exchange (Main Mode).
    assert_eq!(np, vec![(Some(1), true); 12]);

    let r1 = parse(
        "sg2",
        fixture!("libreswan-4.10-ikev1-proposal-mismatch-responder.pluto.log"),
        &opts(),
    );
    let sent: Vec<_> = r1.events.iter().filter(|e| e.text.contains("packet from")).collect();
    assert_eq!(sent.len(), 9);
    // No serial on these lines: the phase comes from the last exchange seen (Main Mode).
    assert_eq!(
        sent[0].kind,
        EventKind::NoProposalChosen {
            phase: Some(1),
            by_peer: false
        }
    );
    assert_eq!(sent[0].conn, None);
    assert_eq!(r1.peer_addrs, ["192.0.2.31"]);
    assert_eq!(
        kinds(&r1)
            .iter()
            .filter(|k| ***k
                == EventKind::NoProposalChosen {
                    phase: Some(1),
                    by_peer: false
                })
            .count(),
        18
    );
}

#[test]
fn syslog_and_journal_framings() {
    let text = "\
Dec 31 23:59:58 sg2 pluto[1234]: \"sg1--sg2-net\" #3: sent Main Mode R1
Dec 31 23:59:59 sg2 sshd[99]: Accepted publickey for root from 192.0.2.9
Jan  1 00:00:01 sg2 pluto[1234]: \"sg1--sg2-net\" #3: probable authentication failure (mismatch of preshared secrets?): malformed payload in packet
";
    let f = parse(
        "auth.log",
        text,
        &ParseOptions {
            year: Some(2025),
            ..ParseOptions::default()
        },
    );
    assert_eq!(f.dialect, Dialect::Pluto);
    assert_eq!(f.events.len(), 2);
    let t0 = f.events[0].time.as_ref().unwrap();
    let t1 = f.events[1].time.as_ref().unwrap();
    assert_eq!((t0.year, t0.year_inferred), (Some(2024), true));
    assert_eq!(t1.year, Some(2025));
    assert_eq!(t1.epoch.unwrap() - t0.epoch.unwrap(), 3.0);
    assert_eq!(f.events[1].line, 3);

    // journalctl -o short-iso-precise, charon under systemd, with ike_name.
    let text = "\
2024-11-28T06:49:23.500000+01:00 sg1 charon[880]: 09[IKE] <net|4> initiating IKE_SA net[4] to 198.51.100.2
2024-11-28T06:49:24.500000+01:00 sg1 charon[880]: 09[IKE] <net|4> received AUTHENTICATION_FAILED notify error
";
    let f = parse("journal", text, &ParseOptions::default());
    assert_eq!(f.dialect, Dialect::Charon);
    assert_eq!(f.events[0].time.as_ref().unwrap().epoch, Some(1_732_772_963.5));
    assert_eq!(
        (f.events[1].conn.as_deref(), f.events[1].serial),
        (Some("net"), Some(4))
    );
    assert_eq!(f.events[1].kind, EventKind::AuthFailed { by_peer: true });
    assert_eq!(f.peer_addrs, ["198.51.100.2"]);

    // journalctl -o short-precise, no year given: no epoch but time of day.
    let text = "Nov 28 05:51:18.743228 sg2 pluto[4286]: ERROR: \"sg1--sg2-net\" #2: netlink response for Add SA esp.7531344d@192.0.2.31: Function not implemented (errno 38)\n";
    let f = parse("journal", text, &ParseOptions::default());
    let t = f.events[0].time.as_ref().unwrap();
    assert_eq!((t.epoch, t.year), (None, None));
    assert!((t.seconds_of_day() - 21_078.743_228).abs() < 1e-6);
    assert_eq!(
        f.events[0].kind,
        EventKind::KernelInstallFailed {
            what: KernelObject::Sa,
            errno: Some(38)
        }
    );
}

#[test]
fn charon_log_and_swanctl_output() {
    let text = "\
Nov 28 05:49:20 00[DMN] Starting IKE charon daemon (strongSwan 5.9.8, Linux 6.1.0-28-amd64, x86_64)
Nov 28 05:49:23 09[IKE] initiating IKE_SA net[1] to 198.51.100.2
Nov 28 05:49:23 09[ENC] generating IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ]
Nov 28 05:49:23 09[NET] sending packet: from 192.0.2.1[500] to 198.51.100.2[500] (464 bytes)
Nov 28 05:49:27 11[IKE] retransmit 1 of request with message ID 0
Nov 28 05:49:34 12[IKE] giving up after 5 retransmits
Nov 28 05:49:34 12[IKE] establishing IKE_SA failed, peer not responding
";
    let f = parse("charon.log", text, &opts());
    assert_eq!(f.dialect, Dialect::Charon);
    assert_eq!(
        f.daemon,
        Some(DaemonInfo {
            daemon: Daemon::Charon,
            version: Some("strongSwan 5.9.8".into())
        })
    );
    assert_eq!(f.events.len(), 7);
    assert_eq!(f.events[1].serial, Some(1));
    assert_eq!(f.events[1].conn.as_deref(), Some("net"));
    assert_eq!(f.local_addrs, ["192.0.2.1"]);
    assert_eq!(f.peer_addrs, ["198.51.100.2"]);
    assert_eq!(
        f.events[4].kind,
        EventKind::Retransmit {
            state: None,
            exchange: Some(Exchange::IkeSaInit),
            step: None,
            count: Some(1),
            msgid: Some(0)
        }
    );
    assert_eq!(f.role(), Some(Role::Initiator));

    let out = "\
[IKE] initiating IKE_SA gw-gw[1] to 198.51.100.2
[ENC] generating IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ]
[NET] sending packet: from 192.0.2.1[500] to 198.51.100.2[500] (464 bytes)
[NET] received packet: from 198.51.100.2[500] to 192.0.2.1[500] (36 bytes)
[ENC] parsed IKE_SA_INIT response 0 [ N(NO_PROP) ]
[IKE] received NO_PROPOSAL_CHOSEN notify error
initiate failed: establishing CHILD_SA 'net' failed
";
    let f = parse("swanctl.out", out, &ParseOptions::default());
    assert_eq!(f.dialect, Dialect::Swanctl);
    assert_eq!(f.events[4].notify.as_deref(), Some("NO_PROPOSAL_CHOSEN"));
    assert_eq!(
        f.events[5].kind,
        EventKind::NoProposalChosen {
            phase: Some(1),
            by_peer: true
        }
    );
    assert_eq!(f.events[6].kind, EventKind::CliResult { success: false });
}

#[test]
fn sniffing() {
    assert_eq!(
        looks_like_log(fixture!("libreswan-4.10-ikev1-psk-mismatch-responder.pluto.log").as_bytes()),
        Some(Dialect::Pluto)
    );
    assert_eq!(
        looks_like_log(fixture!("libreswan-4.10-ikev2-psk-mismatch-up.whack.txt").as_bytes()),
        Some(Dialect::Whack)
    );
    assert_eq!(
        looks_like_log(b"Nov 28 05:49:23 09[IKE] initiating IKE_SA net[1] to 198.51.100.2\n"),
        Some(Dialect::Charon)
    );
    assert_eq!(
        looks_like_log(b"[IKE] initiating IKE_SA gw-gw[1] to 198.51.100.2\n"),
        Some(Dialect::Swanctl)
    );
    // pcap and pcapng headers, binary, unrelated logs and prose.
    assert_eq!(looks_like_log(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0]), None);
    assert_eq!(looks_like_log(&[0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0]), None);
    assert_eq!(looks_like_log(&[0x7f, b'E', b'L', b'F', 0, 1, 2]), None);
    assert_eq!(
        looks_like_log(b"Nov 28 05:49:23 sg2 sshd[99]: Accepted publickey for root\n"),
        None
    );
    assert_eq!(
        looks_like_log(b"The quick brown fox said NO_PROPOSAL_CHOSEN.\n123 apples\n"),
        None
    );
    assert_eq!(looks_like_log(b""), None);
}

#[test]
fn bounds_and_garbage() {
    // A 100 KiB line is cut and warned about; the line after it still counts.
    let mut text = vec![b'x'; 100 * 1024];
    text.extend_from_slice(b"\n104 \"c\" #1: STATE_MAIN_I1: initiate\n");
    let f = parse_bytes("big", &text, &ParseOptions::default());
    assert_eq!(f.lines_read, 2);
    assert_eq!(f.events.len(), 1);
    assert_eq!(f.events[0].line, 2);
    assert!(f.warnings[0].contains("longer than 65536"));

    // Line cap.
    let f = parse(
        "many",
        "a\nb\nc\n104 \"c\" #1: STATE_MAIN_I1: initiate\n",
        &ParseOptions {
            max_lines: 3,
            ..ParseOptions::default()
        },
    );
    assert_eq!((f.lines_read, f.events.len()), (3, 0));
    assert!(f.warnings.iter().any(|w| w.contains("stopped after 3 lines")));

    // Long event text is capped, invalid UTF-8 replaced, CRLF handled.
    let mut line = b"104 \"c\" #1: STATE_MAIN_I1: initiate ".to_vec();
    line.extend(std::iter::repeat_n(0xffu8, 2000));
    line.extend_from_slice(b"\r\n");
    let f = parse_bytes("bad", &line, &ParseOptions::default());
    assert_eq!(f.events.len(), 1);
    assert!(f.events[0].text.len() <= MAX_EVENT_TEXT);

    // Arbitrary bytes never panic: structure characters, words the recognisers look for, and
    // bytes that become multi-byte replacement characters.
    const ALPHABET: &[u8] = b"\"#[]<>|:(). 0123456789\nNovSTATE_ERROR{ESP=>0x}N(NO_PROP)v2N_ \xff\xc3\xa9\xe2\x82";
    let mut seed = 0x1234_5678u32;
    for len in [0usize, 1, 7, 300, 5000, 50_000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                ALPHABET[(seed as usize) % ALPHABET.len()]
            })
            .collect();
        let _ = parse_bytes("fuzz", &bytes, &opts());
        let _ = looks_like_log(&bytes);
    }
}

#[test]
fn keep_other_keeps_daemon_lines_only() {
    let text = "\
Nov 28 05:50:35.541114: \"sg1--sg2-net\" #1: WARNING: connection sg1--sg2-net PSK length of 7 bytes is too short for HMAC_SHA2_256 PRF in FIPS mode (16 bytes required)
Nov 28 05:49:23 sg2 sshd[99]: Accepted publickey for root
";
    let f = parse(
        "x",
        text,
        &ParseOptions {
            keep_other: true,
            ..ParseOptions::default()
        },
    );
    assert_eq!(f.events.len(), 1);
    assert_eq!(f.events[0].kind, EventKind::Other);
    assert_eq!(f.events[0].serial, Some(1));
    let f = parse("x", text, &ParseOptions::default());
    assert!(f.events.is_empty());
}

#[test]
fn events_serialize_for_the_json_contract() {
    let f = parse(
        "up",
        "004 \"sg1--sg2-net\" #797: STATE_QUICK_I2: sent QI2, IPsec SA established {ESP=>0xaa6fa19a <0xa2f3b68d xfrm=3DES_0-HMAC_SHA1 NATD=none DPD=enabled}\n",
        &ParseOptions::default(),
    );
    let v = serde_json::to_value(&f.events[0]).unwrap();
    assert_eq!(v["kind"]["kind"], "child_sa_established");
    assert_eq!(v["kind"]["spi_out"], 0xaa6f_a19au32);
    assert_eq!(v["serial"], 797);
    let back: LogEvent = serde_json::from_value(v).unwrap();
    assert_eq!(back, f.events[0]);
}

#[test]
fn strongswan598_ikev2_ike_auth_fragments_dropped() {
    let f = parse(
        "sg1",
        fixture!("strongswan-5.9.8-ikev2-frag-dropped-initiator.charon.log"),
        &opts(),
    );
    assert_eq!(f.dialect, Dialect::Charon);
    assert_eq!(f.role(), Some(Role::Initiator));
    // The IKE_AUTH request leaves as 2224 bytes on 4500 and is retransmitted unanswered.
    let big: Vec<_> = f
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Packet {
                outbound: true,
                to,
                bytes: Some(n),
                ..
            } if *n > 1500 => Some((e.line, to.as_str(), *n)),
            _ => None,
        })
        .collect();
    assert_eq!(
        big,
        [
            (26, "198.51.100.2[4500]", 2224),
            (28, "198.51.100.2[4500]", 2224),
            (30, "198.51.100.2[4500]", 2224),
            (32, "198.51.100.2[4500]", 2224)
        ]
    );
    let tail: Vec<_> = f.events.iter().rev().take(3).map(|e| &e.kind).collect();
    assert_eq!(
        tail,
        [
            &EventKind::DaemonStopped,
            &EventKind::GaveUp {
                state: None,
                exchange: Some(Exchange::IkeAuth),
                step: None,
                retransmits: None
            },
            &EventKind::GaveUp {
                state: None,
                exchange: Some(Exchange::IkeAuth),
                step: None,
                retransmits: Some(3)
            },
        ]
    );
    let r: Vec<_> = f
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Retransmit { .. }))
        .map(|e| (e.serial, e.conn.as_deref(), e.kind.clone()))
        .collect();
    assert_eq!(r.len(), 3);
    assert_eq!(
        r[2],
        (
            Some(1),
            Some("sg"),
            EventKind::Retransmit {
                state: None,
                exchange: Some(Exchange::IkeAuth),
                step: None,
                count: Some(3),
                msgid: Some(1)
            }
        )
    );
}

#[test]
fn strongswan598_ikev1_responder_and_swanctl() {
    let f = parse(
        "sg2",
        fixture!("strongswan-5.9.8-ikev1-esp-one-way-responder.charon.log"),
        &opts(),
    );
    assert_eq!(f.role(), Some(Role::Responder));
    assert_eq!(
        (f.local_addrs.as_slice(), f.peer_addrs.as_slice()),
        (&["198.51.100.2".to_string()][..], &["192.0.2.1".to_string()][..])
    );
    let child = f
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::ChildSaEstablished { .. }))
        .unwrap();
    assert_eq!(child.line, 40);
    assert_eq!(
        child.kind,
        EventKind::ChildSaEstablished {
            spi_out: Some(0x0a60_1092),
            spi_in: Some(0x6579_89d2),
            natd: None,
            encap: None,
            mode: None,
            ts: Some("10.2.0.0/24 === 10.1.0.0/24".into()),
            parent: None
        }
    );
    assert!(kinds(&f).contains(&&EventKind::TrafficStats {
        in_bytes: Some(252),
        out_bytes: Some(252)
    }));
    // Lines logged with `<1>` before the name was known get it afterwards.
    let first = f.events.iter().find(|e| e.serial == Some(1)).unwrap();
    assert_eq!((first.line, first.conn.as_deref()), (9, Some("sg")));
    let steps: Vec<_> = f
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Sent {
                exchange: Exchange::MainMode,
                request: false,
                step,
                ..
            } => step,
            _ => None,
        })
        .collect();
    assert_eq!(steps, [1, 2, 3]);
    let t = f.events[0].time.as_ref().unwrap();
    assert_eq!(t.epoch, Some(1_732_773_527.0));

    let out = parse("up", fixture!("strongswan-5.9.8-ikev1-swanctl-initiate.txt"), &opts());
    assert_eq!(out.dialect, Dialect::Swanctl);
    let child = out
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::ChildSaEstablished { .. }))
        .unwrap();
    // swanctl lines inherit the IKE SA named in `initiating Main Mode IKE_SA sg[1]`.
    assert_eq!(
        (child.line, child.serial, child.conn.as_deref()),
        (27, Some(1), Some("sg"))
    );
    assert!(matches!(
        child.kind,
        EventKind::ChildSaEstablished {
            spi_in: Some(0x0a60_1092),
            spi_out: Some(0x6579_89d2),
            ..
        }
    ));
    assert_eq!(out.events.last().unwrap().kind, EventKind::CliResult { success: true });
}

#[test]
fn libreswan410_phase2_refusals_and_id_mismatch() {
    let f = parse(
        "sg2",
        fixture!("libreswan-4.10-ikev1-esp-proposal-responder.pluto.log"),
        &opts(),
    );
    let np: Vec<_> = f
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::NoProposalChosen { phase, by_peer } => Some((e.serial, phase, by_peer)),
            _ => None,
        })
        .collect();
    // "no acceptable Proposal in IPsec SA" and "sending encrypted notification
    // NO_PROPOSAL_CHOSEN" for quick mode states #2..#7: all phase 2, all ours.
    assert_eq!(np.len(), 12);
    assert!(np.iter().all(|&(_, p, by_peer)| p == Some(2) && !by_peer));
    assert_eq!(np[0].0, Some(2));
    assert_eq!(np[11].0, Some(7));
    assert!(f.local_addrs.is_empty());
    assert_eq!(f.peer_addrs, ["192.0.2.1"]);

    let f = parse(
        "sg2",
        fixture!("libreswan-4.10-ikev2-id-mismatch-responder.pluto.log"),
        &opts(),
    );
    let ids: Vec<_> = f
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::IdMismatch { .. } | EventKind::Notify { .. }))
        .map(|e| (e.line, e.kind.clone()))
        .collect();
    assert_eq!(
        ids[..2],
        [
            (
                149,
                EventKind::IdMismatch {
                    expected: None,
                    got: Some("@sg1.example.org".into())
                }
            ),
            (
                150,
                EventKind::Notify {
                    name: "AUTHENTICATION_FAILED".into(),
                    by_peer: false
                }
            ),
        ]
    );
}
