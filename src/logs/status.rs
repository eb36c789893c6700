//! Status listings (`ipsec status`, `ipsec whack --trafficstatus`, `ipsec statusall`,
//! `swanctl --list-sas`): the SAs as they are when the command ran. An SA listed as established
//! is proof it came up; one listed in a half-way state tells where the negotiation waits.

use super::text::{after, word, Classified};
use super::EventKind;

/// Classifies one line of a status listing (framing such as a whack code already removed).
pub(crate) fn classify(b: &str) -> Option<Classified> {
    let b = b.trim();
    // Summary lines say how many SAs exist, not which: `IPsec SAs: total(0), ...`.
    if b.starts_with("IKE SAs:") || b.starts_with("IPsec SAs:") || b.starts_with("Security Associations (") {
        return None;
    }
    // Libreswan trafficstatus: `#2: "sg", type=ESP, add_time=..., inBytes=0, outBytes=840, id='@sg2'`.
    if b.contains("type=ESP") || b.contains("type=AH") {
        let n = |k: &str| after(b, k).and_then(super::text::num::<u64>);
        let mut c = Classified::new(EventKind::TrafficStats {
            in_bytes: n("inBytes="),
            out_bytes: n("outBytes="),
        });
        c.conn = after(b, "\"").and_then(|r| r.split('"').next()).map(str::to_string);
        return Some(c);
    }
    // strongSwan `ipsec statusall`: `sg{1}:   AES_CBC_128/HMAC_SHA2_256_128, 0 bytes_i, 252 bytes_o
    // (3 pkts, 2s ago), rekeying in 45 minutes`.
    if let (Some(i), Some(o)) = (before_word(b, " bytes_i"), before_word(b, " bytes_o")) {
        return Some(Classified::new(EventKind::TrafficStats {
            in_bytes: Some(i),
            out_bytes: Some(o),
        }));
    }
    // swanctl --list-sas: `in  c1234567 (-|0x00000000),      0 bytes,     0 packets` and
    // `out c7654321 (-|0x00000000),    252 bytes,     3 packets,     2s ago`.
    for (dir, inbound) in [("in ", true), ("out ", false)] {
        if let Some(r) = b.strip_prefix(dir) {
            if let Some(n) = before_word(r, " bytes,") {
                let (in_bytes, out_bytes) = if inbound { (Some(n), None) } else { (None, Some(n)) };
                return Some(Classified::new(EventKind::TrafficStats { in_bytes, out_bytes }));
            }
        }
    }
    // Libreswan: `#2: "sg":500 STATE_QUICK_I2 (sent QI2, IPsec SA established); ...`,
    // `#1: "sg":500 ESTABLISHED_IKE_SA (established IKE SA); ...`, `#1: "sg" PARENT_I2 (sent
    // IKE_AUTH request); RETRANSMIT in 9s`.
    if let Some(r) = b.strip_prefix('#') {
        let serial_end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
        let rest = &r[serial_end..];
        if serial_end == 0 || !rest.starts_with(": \"") {
            return None;
        }
        let mut c = match pluto_state(rest)? {
            State::Ike => Classified::new(ike()),
            State::Child => Classified::new(child()),
            State::Waiting(state) => Classified::new(EventKind::Retransmit {
                state: Some(state.to_string()),
                exchange: None,
                step: None,
                count: None,
                msgid: None,
            }),
        };
        c.serial = r[..serial_end].parse().ok();
        c.conn = rest[3..].split('"').next().map(str::to_string);
        return Some(c);
    }
    // strongSwan `ipsec statusall`: `sg[1]: ESTABLISHED 5 seconds ago, ...`,
    // `sg{1}:  INSTALLED, TUNNEL, reqid 1, ESP in UDP SPIs: ...`.
    let first = word(b);
    if let Some(name) = first.strip_suffix(':') {
        let rest = &b[first.len()..];
        let state = word(rest).trim_end_matches(',');
        let (conn, kind) = if let Some((n, _)) = name.split_once('{') {
            (n, (state == "INSTALLED").then(child))
        } else if let Some((n, _)) = name.split_once('[') {
            (n, (state == "ESTABLISHED").then(ike))
        } else if rest.trim_start().starts_with('#') {
            // swanctl --list-sas: `sg: #1, ESTABLISHED, IKEv2, ...`, `net: #1, reqid 1, INSTALLED, ...`
            let kind = if rest.contains(", INSTALLED,") {
                Some(child())
            } else if rest.contains(", ESTABLISHED,") {
                Some(ike())
            } else {
                None
            };
            (name, kind)
        } else {
            return None;
        };
        let mut c = Classified::new(kind?);
        c.conn = Some(conn.to_string());
        return Some(c);
    }
    None
}

/// The number just before `suffix` (`252 bytes_o` → 252).
fn before_word(s: &str, suffix: &str) -> Option<u64> {
    let end = s.find(suffix)?;
    let head = s[..end].trim_end();
    let start = head.rfind(|c: char| !c.is_ascii_digit()).map_or(0, |i| i + 1);
    head[start..].parse().ok()
}

enum State<'a> {
    Ike,
    Child,
    Waiting(&'a str),
}

/// The state word after `: "conn":500 ` and what it means.
fn pluto_state(rest: &str) -> Option<State<'_>> {
    let after_conn = rest[3..].split_once('"')?.1;
    // After the port, instance and peer address comes the state name (`STATE_MAIN_I3`, `IKE_AUTH_I`).
    let state = after_conn.split_whitespace().take(4).find(|w| {
        w.contains('_')
            && w.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })?;
    let paren = after(after_conn, "(").unwrap_or("");
    if paren.starts_with("IPsec SA established") || paren.starts_with("established Child SA") {
        return Some(State::Child);
    }
    if paren.starts_with("ISAKMP SA established") || paren.starts_with("established IKE SA") {
        return Some(State::Ike);
    }
    let s = state.trim_start_matches("STATE_");
    if matches!(
        s,
        "QUICK_I2" | "QUICK_R2" | "V2_IPSEC_I" | "V2_IPSEC_R" | "ESTABLISHED_CHILD_SA" | "V2_ESTABLISHED_CHILD_SA"
    ) {
        return Some(State::Child);
    }
    if matches!(
        s,
        "MAIN_I4"
            | "MAIN_R3"
            | "AGGR_I2"
            | "AGGR_R2"
            | "PARENT_I3"
            | "PARENT_R2"
            | "ESTABLISHED_IKE_SA"
            | "V2_ESTABLISHED_IKE_SA"
    ) {
        return Some(State::Ike);
    }
    if s.contains("_I") || s.contains("_R") {
        return Some(State::Waiting(state));
    }
    None
}

fn ike() -> EventKind {
    EventKind::IkeSaEstablished {
        auth: None,
        local: None,
        peer: None,
        peer_id: None,
    }
}

fn child() -> EventKind {
    EventKind::ChildSaEstablished {
        spi_out: None,
        spi_in: None,
        natd: None,
        encap: None,
        mode: None,
        ts: None,
        parent: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(l: &str) -> Option<EventKind> {
        classify(l).map(|c| c.kind)
    }

    #[test]
    fn libreswan_states() {
        assert!(matches!(
            kind("#2: \"sg\":500 STATE_QUICK_I2 (sent QI2, IPsec SA established); EVENT_SA_REPLACE in 27838s; newest IPSEC; eroute owner; isakmp#1; idle;"),
            Some(EventKind::ChildSaEstablished { .. })
        ));
        assert!(matches!(
            kind("#1: \"sg\":500 ESTABLISHED_IKE_SA (established IKE SA); REKEY in 27893s; newest; idle;"),
            Some(EventKind::IkeSaEstablished { .. })
        ));
        match kind("#1: \"sg\":500 STATE_MAIN_I3 (sent MI3, expecting MR3); EVENT_RETRANSMIT in 9s; idle;") {
            Some(EventKind::Retransmit { state, .. }) => assert_eq!(state.as_deref(), Some("STATE_MAIN_I3")),
            k => panic!("{k:?}"),
        }
        let c =
            classify("#3: \"sg\"[1] 203.0.113.1:4500 IKE_AUTH_I (sent IKE_AUTH request); RETRANSMIT in 4s").unwrap();
        assert_eq!((c.serial, c.conn.as_deref()), (Some(3), Some("sg")));
        assert!(classify("IPsec SAs: total(0), authenticated(0), anonymous(0)").is_none());
        assert!(matches!(
            kind("#2: \"sg\", type=ESP, add_time=1701500000, inBytes=0, outBytes=840, maxBytes=2^63B, id='@sg2'"),
            Some(EventKind::TrafficStats {
                in_bytes: Some(0),
                out_bytes: Some(840)
            })
        ));
    }

    #[test]
    fn strongswan_listings() {
        assert!(matches!(
            kind("sg{1}:  INSTALLED, TUNNEL, reqid 1, ESP in UDP SPIs: c1234567_i c7654321_o"),
            Some(EventKind::ChildSaEstablished { .. })
        ));
        assert!(matches!(
            kind("sg[1]: ESTABLISHED 5 seconds ago, 192.0.2.1[sg1]...198.51.100.2[sg2]"),
            Some(EventKind::IkeSaEstablished { .. })
        ));
        assert_eq!(kind("sg[1]: CONNECTING, 192.0.2.1[%any]...198.51.100.2[%any]"), None);
        assert_eq!(kind("sg{1}:  ROUTED, TUNNEL, reqid 1"), None);
        assert!(matches!(
            kind("net: #1, reqid 1, INSTALLED, TUNNEL-in-UDP, ESP:AES_CBC-256/HMAC_SHA2_256_128"),
            Some(EventKind::ChildSaEstablished { .. })
        ));
        assert!(matches!(
            kind("sg: #1, ESTABLISHED, IKEv2, 1234567890abcdef_i* fedcba0987654321_r"),
            Some(EventKind::IkeSaEstablished { .. })
        ));
        assert_eq!(kind("sg: #2, CONNECTING, IKEv2, 1234567890abcdef_i*"), None);
        assert_eq!(
            kind("sg{1}:   AES_CBC_128/HMAC_SHA2_256_128, 0 bytes_i, 252 bytes_o (3 pkts, 2s ago), rekeying in 45 minutes"),
            Some(EventKind::TrafficStats { in_bytes: Some(0), out_bytes: Some(252) })
        );
        assert_eq!(
            kind("in  c1234567 (-|0x00000000),      0 bytes,     0 packets"),
            Some(EventKind::TrafficStats {
                in_bytes: Some(0),
                out_bytes: None
            })
        );
        assert_eq!(
            kind("out c7654321 (-|0x00000000),    252 bytes,     3 packets,     2s ago"),
            Some(EventKind::TrafficStats {
                in_bytes: None,
                out_bytes: Some(252)
            })
        );
    }
}
