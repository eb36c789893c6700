//! Small text helpers shared by the pluto and charon recognisers.

use super::EventKind;

/// Result of classifying one message body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Classified {
    pub kind: EventKind,
    /// Connection / serial found in the message itself (charon `net[3]`, pluto `added
    /// connection description "x"`).
    pub conn: Option<String>,
    pub serial: Option<u64>,
    pub notify: Option<&'static str>,
    pub local: Option<String>,
    pub peer: Option<String>,
}

impl Classified {
    pub fn new(kind: EventKind) -> Self {
        Classified {
            kind,
            conn: None,
            serial: None,
            notify: None,
            local: None,
            peer: None,
        }
    }
}

/// The first at most `max` bytes of `s`, cut on a character boundary.
pub(crate) fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Cuts `s` to at most `max` bytes on a character boundary.
pub(crate) fn cap(s: &str, max: usize) -> String {
    head(s, max).to_string()
}

/// The text after the first occurrence of `pat`.
pub(crate) fn after<'a>(s: &'a str, pat: &str) -> Option<&'a str> {
    s.find(pat).map(|i| &s[i + pat.len()..])
}

/// First whitespace-separated word of `s` (trailing `,;` removed).
pub(crate) fn word(s: &str) -> &str {
    let s = s.trim_start();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    s[..end].trim_end_matches([',', ';'])
}

/// Leading decimal number of `s`.
pub(crate) fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    let s = s.trim_start();
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

/// Hex SPI like `0xaa6fa19a` or `c1234567`.
pub(crate) fn hex_u32(s: &str) -> Option<u32> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let end = s.find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(s.len());
    if end == 0 || end > 8 {
        return None;
    }
    u32::from_str_radix(&s[..end], 16).ok()
}

/// Text between the first `'` after `s` starts and the next `'`.
pub(crate) fn quoted(s: &str) -> Option<&str> {
    let start = s.find('\'')? + 1;
    let len = s[start..].find('\'')?;
    Some(&s[start..start + len])
}

/// Removes a port from `addr`: `192.0.2.1:500`, `192.0.2.1:UDP/500`, `192.0.2.1[500]`,
/// `[2001:db8::1]:500`. Bare IPv6 addresses are kept whole.
pub(crate) fn strip_port(addr: &str) -> &str {
    let addr = addr.trim_end_matches([',', '.', ';']);
    if let Some(i) = addr.find('[') {
        if i == 0 {
            // [v6]:port
            return addr[1..].split(']').next().unwrap_or("");
        }
        return &addr[..i];
    }
    match addr.rfind(':') {
        Some(i) if addr[..i].contains(':') => {
            // IPv6 without brackets: a port would be ambiguous, keep everything.
            addr
        }
        Some(i) => &addr[..i],
        None => addr,
    }
}

/// errno of a line: `(errno 111)`, `[errno 111, ...`, `errno 111:`, or the strerror text of the
/// few errors a connect() or send() gives.
pub(crate) fn errno_of(s: &str) -> Option<u32> {
    if let Some(n) = after(s, "errno ").and_then(num) {
        return Some(n);
    }
    const TEXTS: &[(&str, u32)] = &[
        ("Connection refused", 111),
        ("Connection timed out", 110),
        ("No route to host", 113),
        ("Network is unreachable", 101),
        ("Connection reset by peer", 104),
        ("Host is down", 112),
        ("Message too long", 90),
    ];
    TEXTS.iter().find(|(t, _)| s.contains(t)).map(|(_, n)| *n)
}

/// Error notify names as strongSwan abbreviates them in payload lists (`N(NO_PROP)`), from
/// `notify_type_short_names` (src/libcharon/encoding/payloads/notify_payload.c, 5.9 and 6.0).
const SHORT_NOTIFIES: &[(&str, &str)] = &[
    ("CRIT", "UNSUPPORTED_CRITICAL_PAYLOAD"),
    ("INVAL_IKE_SPI", "INVALID_IKE_SPI"),
    ("INVAL_MAJOR", "INVALID_MAJOR_VERSION"),
    ("INVAL_SYN", "INVALID_SYNTAX"),
    ("INVAL_MID", "INVALID_MESSAGE_ID"),
    ("INVAL_SPI", "INVALID_SPI"),
    ("ATTR_UNSUP", "ATTRIBUTES_NOT_SUPPORTED"),
    ("NO_PROP", "NO_PROPOSAL_CHOSEN"),
    ("PLD_MAL", "PAYLOAD_MALFORMED"),
    ("INVAL_KE", "INVALID_KE_PAYLOAD"),
    ("INVAL_ID", "INVALID_ID_INFORMATION"),
    ("INVAL_CERTEN", "INVALID_CERT_ENCODING"),
    ("INVAL_CERT", "INVALID_CERTIFICATE"),
    ("CERT_UNSUP", "CERT_TYPE_UNSUPPORTED"),
    ("INVAL_CA", "INVALID_CERT_AUTHORITY"),
    ("INVAL_HASH", "INVALID_HASH_INFORMATION"),
    ("AUTH_FAILED", "AUTHENTICATION_FAILED"),
    ("SINGLE_PAIR", "SINGLE_PAIR_REQUIRED"),
    ("NO_ADD_SAS", "NO_ADDITIONAL_SAS"),
    ("INT_ADDR_FAIL", "INTERNAL_ADDRESS_FAILURE"),
    ("FAIL_CP_REQ", "FAILED_CP_REQUIRED"),
    ("TS_UNACCEPT", "TS_UNACCEPTABLE"),
    ("INVAL_SEL", "INVALID_SELECTORS"),
    ("UNACCEPT_ADDR", "UNACCEPTABLE_ADDRESSES"),
    ("UNEXPECT_NAT", "UNEXPECTED_NAT_DETECTED"),
    ("TEMP_FAIL", "TEMPORARY_FAILURE"),
    ("NO_CHILD_SA", "CHILD_SA_NOT_FOUND"),
];

/// Error (and a few status) notify names of IKEv1 and IKEv2.
const NOTIFIES: &[&str] = &[
    "NO_PROPOSAL_CHOSEN",
    "INVALID_KE_PAYLOAD",
    "AUTHENTICATION_FAILED",
    "TS_UNACCEPTABLE",
    "INVALID_ID_INFORMATION",
    "PAYLOAD_MALFORMED",
    "INVALID_HASH_INFORMATION",
    "INVALID_PAYLOAD_TYPE",
    "INVALID_SYNTAX",
    "INVALID_MAJOR_VERSION",
    "INVALID_MINOR_VERSION",
    "INVALID_EXCHANGE_TYPE",
    "INVALID_COOKIE",
    "INVALID_SPI",
    "INVALID_MESSAGE_ID",
    "INVALID_SIGNATURE",
    "INVALID_CERTIFICATE",
    "INVALID_CERT_ENCODING",
    "INVALID_CERT_AUTHORITY",
    "CERT_TYPE_UNSUPPORTED",
    "BAD_PROPOSAL_SYNTAX",
    "ATTRIBUTES_NOT_SUPPORTED",
    "SITUATION_NOT_SUPPORTED",
    "UNSUPPORTED_CRITICAL_PAYLOAD",
    "SINGLE_PAIR_REQUIRED",
    "NO_ADDITIONAL_SAS",
    "INTERNAL_ADDRESS_FAILURE",
    "FAILED_CP_REQUIRED",
    "TEMPORARY_FAILURE",
    "CHILD_SA_NOT_FOUND",
    "UNEQUAL_PAYLOAD_LENGTHS",
    "INVALID_IKE_SPI",
    "INVALID_SELECTORS",
    "UNACCEPTABLE_ADDRESSES",
    "UNEXPECTED_NAT_DETECTED",
];

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'
}

/// The first notify name on the line: full names (also `v2N_NAME`) or strongSwan's `N(SHORT)`.
pub(crate) fn find_notify(s: &str) -> Option<&'static str> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !is_name_byte(b[i]) || (i > 0 && is_name_byte(b[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_name_byte(b[i]) {
            i += 1;
        }
        let tok = &s[start..i];
        let tok = tok.strip_prefix("v2N_").unwrap_or(tok);
        if let Some(n) = NOTIFIES.iter().find(|n| **n == tok) {
            return Some(n);
        }
        if start >= 2 && &b[start - 2..start] == b"N(" && b.get(i) == Some(&b')') {
            if let Some((_, n)) = SHORT_NOTIFIES.iter().find(|(short, _)| *short == tok) {
                return Some(n);
            }
        }
    }
    // `v2N_...` has a lower-case prefix, so the scan above starts inside it: handle it here.
    if let Some(rest) = after(s, "v2N_") {
        let end = rest.find(|c: char| !c.is_ascii_uppercase() && !c.is_ascii_digit() && c != '_');
        let tok = &rest[..end.unwrap_or(rest.len())];
        return NOTIFIES.iter().find(|n| **n == tok).copied();
    }
    None
}

/// Whether a line reports a notify that came from the peer (`Some(true)`), one we sent
/// (`Some(false)`), or does not say.
pub(crate) fn notify_from_peer(s: &str) -> Option<bool> {
    const SENT: &[&str] = &[
        "sending notification",
        "sending encrypted notification",
        "sending unencrypted notification",
        "with encrypted notification",
        "with unencrypted notification",
        "sending NO_PROPOSAL_CHOSEN",
        "sending AUTHENTICATION_FAILED",
        "sending TS_UNACCEPTABLE",
        "sending INVALID_KE_PAYLOAD",
        "generating ",
        "notification to ",
        "responding with ",
    ];
    const RECEIVED: &[&str] = &[
        "received",
        "rejected by peer",
        "peer rejected",
        "response rejected",
        "ignoring informational payload",
        "ignoring secured informational payload",
        "ignoring unsecured informational payload",
        "dropping unexpected",
        "failed with error notification",
        "parsed ",
        "containing ",
    ];
    if SENT.iter().any(|p| s.contains(p)) {
        return Some(false);
    }
    if RECEIVED.iter().any(|p| s.contains(p)) {
        return Some(true);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_names() {
        assert_eq!(
            find_notify("ignoring informational payload NO_PROPOSAL_CHOSEN, msgid=00000000"),
            Some("NO_PROPOSAL_CHOSEN")
        );
        assert_eq!(
            find_notify("parsed IKE_AUTH response 1 [ IDr AUTH N(TS_UNACCEPT) ]"),
            Some("TS_UNACCEPTABLE")
        );
        assert_eq!(
            find_notify(
                "dropping unexpected ISAKMP_v2_IKE_AUTH message containing v2N_NO_PROPOSAL_CHOSEN notification"
            ),
            Some("NO_PROPOSAL_CHOSEN")
        );
        assert_eq!(find_notify("STATE_MAIN_I3: retransmission"), None);
        assert_eq!(find_notify("XNO_PROPOSAL_CHOSEN"), None);
        assert_eq!(find_notify("N(NO_PROP"), None);
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(strip_port("192.0.2.32:500"), "192.0.2.32");
        assert_eq!(strip_port("192.1.2.23:UDP/500"), "192.1.2.23");
        assert_eq!(strip_port("198.51.100.2[4500]"), "198.51.100.2");
        assert_eq!(strip_port("[2001:db8::1]:500"), "2001:db8::1");
        assert_eq!(strip_port("2001:db8::1"), "2001:db8::1");
        assert_eq!(strip_port("192.0.2.1,"), "192.0.2.1");
    }

    #[test]
    fn cap_respects_char_boundaries() {
        assert_eq!(cap("aé", 2), "a");
        assert_eq!(cap("abc", 5), "abc");
        assert_eq!(hex_u32("0xaa6fa19a"), Some(0xaa6f_a19a));
        assert_eq!(hex_u32("c1234567_i"), Some(0xc123_4567));
        assert_eq!(hex_u32("0x"), None);
        assert_eq!(hex_u32("123456789"), None);
    }
}
