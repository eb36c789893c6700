//! Peels the framing off a line: time stamp, syslog/journal host and program, whack status
//! code, charon thread/group tag and `<conn|N>`, pluto `"conn"[N] addr #N:` prefix.

use super::time::{self, Stamp};
use super::Dialect;

/// Who wrote a line, as far as its framing tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Pluto,
    Whack,
    Charon,
    Swanctl,
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Envelope<'a> {
    pub time: Option<Stamp>,
    pub source: Source,
    /// The structure proves a daemon wrote this (not just "could be").
    pub structural: bool,
    /// Not an event source: debug lines, journal markers, other programs in a syslog.
    pub skip: bool,
    pub conn: Option<&'a str>,
    pub serial: Option<u64>,
    /// Peer address in the prefix (pluto instance address, `packet from X:`).
    pub peer: Option<&'a str>,
    pub body: &'a str,
}

impl Envelope<'_> {
    /// The dialect this line proves, for sniffing and for the file's dialect.
    pub fn marker(&self) -> Option<Dialect> {
        if !self.structural || self.skip {
            return None;
        }
        match self.source {
            Source::Pluto => Some(Dialect::Pluto),
            Source::Whack => Some(Dialect::Whack),
            Source::Charon => Some(Dialect::Charon),
            Source::Swanctl => Some(Dialect::Swanctl),
            Source::Unknown => None,
        }
    }
}

const PLUTO_PROGRAMS: &[&str] = &[
    "pluto",
    "ipsec_pluto",
    "ipsec__plutorun",
    "ipsec_setup",
    "_updown",
    "_updown.xfrm",
    "_updown.netkey",
    "addconn",
    "whack",
    "libreswan",
    "openswan",
];
const CHARON_PROGRAMS: &[&str] = &[
    "charon",
    "charon-systemd",
    "charon-cmd",
    "charon-nm",
    "ipsec_starter",
    "starter",
    "swanctl",
    "strongswan",
    "strongswan-starter",
    "strongswan-swanctl",
];
const EITHER_PROGRAMS: &[&str] = &["ipsec", "updown", "vpn"];

pub(crate) fn split(line: &str) -> Envelope<'_> {
    let line = line.trim();
    let mut env = Envelope {
        time: None,
        source: Source::Unknown,
        structural: false,
        skip: false,
        conn: None,
        serial: None,
        peer: None,
        body: line.trim_start(),
    };
    if line.is_empty() || line.starts_with("-- ") {
        env.skip = true;
        return env;
    }
    let stamp = time::parse_bsd(line).or_else(|| time::parse_iso(line));
    let mut rest = line;
    if let Some((st, len)) = stamp {
        env.time = Some(st);
        rest = &line[len..];
        if let Some(r) = rest.strip_prefix(": ") {
            // pluto's own log file (logtime=yes).
            env.source = Source::Pluto;
            env.structural = true;
            rest = r;
        } else if let Some(r) = rest.strip_prefix(' ') {
            let r = r.trim_start();
            if charon_tag(r).is_some() {
                env.source = Source::Charon;
                env.structural = true;
                rest = r;
            } else {
                match syslog(r) {
                    Some((src, msg)) => {
                        env.source = src;
                        env.structural = src != Source::Unknown;
                        rest = msg;
                    }
                    None => {
                        // Some other program, or a format we do not know: not an event source.
                        env.skip = true;
                        return env;
                    }
                }
            }
        } else {
            env.skip = true;
            return env;
        }
    } else if let Some(code) = whack_code(line) {
        let r = &line[4..];
        env.source = Source::Whack;
        // The code alone could be any text; a quoted connection or a known code proves it.
        env.structural = r.starts_with('"') || (code < 100 && r.starts_with("ERROR"));
        rest = r;
    }
    let rest = rest.trim_start();
    // charon: thread/group tag, then `<conn|N>`.
    if let Some((tag_len, threaded)) = charon_tag(rest) {
        if env.source == Source::Unknown {
            env.source = if threaded { Source::Charon } else { Source::Swanctl };
            env.structural = true;
        } else if env.source == Source::Whack || env.source == Source::Pluto {
            env.source = Source::Charon;
        }
        let mut body = rest[tag_len..].trim_start();
        if let Some((conn, serial, len)) = ike_name(body) {
            env.conn = conn;
            env.serial = serial;
            body = body[len..].trim_start();
        }
        env.body = body;
        return env;
    }
    if matches!(env.source, Source::Charon | Source::Swanctl) {
        env.body = rest;
        return env;
    }
    // pluto debug lines.
    if rest.starts_with("| ") || rest == "|" {
        env.skip = true;
        env.body = rest;
        return env;
    }
    let mut body = rest;
    let mut error = false;
    if let Some(b) = body.strip_prefix("ERROR: ") {
        body = b;
        error = true;
    }
    if let Some(p) = pluto_prefix(body) {
        env.conn = Some(p.conn);
        env.serial = p.serial;
        env.peer = p.peer;
        body = p.body;
        if env.source == Source::Unknown {
            env.source = Source::Pluto;
        }
        env.structural = env.structural || env.source == Source::Pluto || env.source == Source::Whack;
    } else if let Some(r) = body.strip_prefix("packet from ") {
        if let Some(i) = r.find(": ") {
            env.peer = Some(&r[..i]);
            body = &r[i + 2..];
            if env.source == Source::Unknown {
                env.source = Source::Pluto;
                env.structural = true;
            }
        }
    } else if error && env.source == Source::Unknown {
        env.source = Source::Pluto;
    }
    if body.starts_with("| ") {
        env.skip = true;
    }
    if env.source == Source::Unknown && super::charon::owns(body) {
        // `ipsec up` / `strongswan up` / charon-cmd print charon's lines without their tags.
        env.source = Source::Swanctl;
        env.structural = true;
    }
    env.body = body;
    env
}

/// `104 ` at the start of whack output. Returns the code.
fn whack_code(line: &str) -> Option<u16> {
    let b = line.as_bytes();
    if b.len() > 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ' {
        line[..3].parse().ok()
    } else {
        None
    }
}

/// charon's `09[IKE] ` (threaded = true) or `[IKE] ` tag. Returns its length with the space.
fn charon_tag(s: &str) -> Option<(usize, bool)> {
    let b = s.as_bytes();
    let digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits > 3 {
        return None;
    }
    let rest = &b[digits..];
    if rest.len() >= 6
        && rest[0] == b'['
        && rest[1..4].iter().all(u8::is_ascii_uppercase)
        && rest[4] == b']'
        && rest[5] == b' '
    {
        Some((digits + 6, digits > 0))
    } else {
        None
    }
}

/// charon `ike_name = yes`: `<net|12> `. Returns (conn, serial, length).
fn ike_name(s: &str) -> Option<(Option<&str>, Option<u64>, usize)> {
    let inner = s.strip_prefix('<')?;
    let end = inner.find('>')?;
    let inner_s = &inner[..end];
    if inner_s.contains(' ') || inner_s.is_empty() {
        return None;
    }
    let (conn, id) = match inner_s.rsplit_once('|') {
        Some((c, id)) => (Some(c).filter(|c| !c.is_empty()), id),
        None => (None, inner_s),
    };
    let serial = id.parse().ok();
    if serial.is_none() && conn.is_none() {
        return None;
    }
    Some((conn, serial, end + 2))
}

/// `host prog[pid]: message` (the host and time already gone from the front).
fn syslog(s: &str) -> Option<(Source, &str)> {
    let sp = s.find(' ')?;
    let after_host = &s[sp + 1..];
    let colon = after_host.find(": ").or_else(|| {
        // "prog:" at the very end of the line.
        after_host.strip_suffix(':').map(|x| x.len())
    })?;
    let tag = &after_host[..colon];
    if tag.contains(' ') {
        return None;
    }
    let prog = tag.split('[').next().unwrap_or(tag);
    let msg = after_host.get(colon + 2..).unwrap_or("");
    let src = if PLUTO_PROGRAMS.contains(&prog) {
        Source::Pluto
    } else if CHARON_PROGRAMS.contains(&prog) {
        Source::Charon
    } else if EITHER_PROGRAMS.contains(&prog) {
        Source::Unknown
    } else {
        return None;
    };
    Some((src, msg))
}

pub(crate) struct PlutoPrefix<'a> {
    pub conn: &'a str,
    pub serial: Option<u64>,
    pub peer: Option<&'a str>,
    pub body: &'a str,
}

/// `"conn"[1] 192.0.2.1 #3: body`, `"conn" #3: body`, `"conn": body`.
pub(crate) fn pluto_prefix(s: &str) -> Option<PlutoPrefix<'_>> {
    let inner = s.strip_prefix('"')?;
    let q = inner.find('"')?;
    let conn = &inner[..q];
    if conn.is_empty() || conn.len() > 200 {
        return None;
    }
    let mut rest = &inner[q + 1..];
    // instance number(s): [1] or [1][2]
    while let Some(r) = rest.strip_prefix('[') {
        let e = r.find(']')?;
        rest = &r[e + 1..];
    }
    let mut serial = None;
    let mut peer = None;
    loop {
        if let Some(r) = rest.strip_prefix(": ") {
            return Some(PlutoPrefix {
                conn,
                serial,
                peer,
                body: r,
            });
        }
        if rest == ":" {
            return Some(PlutoPrefix {
                conn,
                serial,
                peer,
                body: "",
            });
        }
        rest = rest.strip_prefix(' ')?;
        let end = rest.find(' ').unwrap_or(rest.len());
        let mut tok = &rest[..end];
        let last = tok.ends_with(':');
        if last {
            tok = &tok[..tok.len() - 1];
        }
        if let Some(n) = tok.strip_prefix('#') {
            serial = Some(n.parse().ok()?);
        } else if tok.contains('.') || tok.contains(':') {
            peer = Some(tok);
        } else {
            return None;
        }
        rest = &rest[end..];
        if last {
            return Some(PlutoPrefix {
                conn,
                serial,
                peer,
                body: rest.trim_start(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pluto_logfile_line() {
        let e = split("Nov 28 05:50:35.546439: ERROR: \"sg1--sg2-net\" #2: netlink response for Add SA esp.e802c8e4@192.0.2.31: Protocol not supported (errno 93)");
        assert_eq!(e.source, Source::Pluto);
        assert!(e.structural);
        assert_eq!(e.conn, Some("sg1--sg2-net"));
        assert_eq!(e.serial, Some(2));
        assert!(e.body.starts_with("netlink response for Add SA"));
        assert_eq!(e.time.unwrap().micros, 546_439);
    }

    #[test]
    fn pluto_instance_prefix_and_packet_from() {
        let p = pluto_prefix("\"rw\"[3] 203.0.113.1 #7: sent Main Mode R1").unwrap();
        assert_eq!(
            (p.conn, p.serial, p.peer, p.body),
            ("rw", Some(7), Some("203.0.113.1"), "sent Main Mode R1")
        );
        let p = pluto_prefix("\"rw\"[3] 2001:db8::1: deleting connection").unwrap();
        assert_eq!(
            (p.serial, p.peer, p.body),
            (None, Some("2001:db8::1"), "deleting connection")
        );
        assert!(pluto_prefix("\"quoted text\" and more").is_none());
        let e = split("Nov 28 05:51:47.282945: packet from 192.0.2.31:500: sending notification NO_PROPOSAL_CHOSEN to 192.0.2.31:500");
        assert_eq!(e.peer, Some("192.0.2.31:500"));
        assert_eq!(e.body, "sending notification NO_PROPOSAL_CHOSEN to 192.0.2.31:500");
    }

    #[test]
    fn whack_with_and_without_code() {
        let e = split("104 \"sg1--sg2-net\" #796: STATE_MAIN_I1: initiate");
        assert_eq!((e.source, e.structural, e.serial), (Source::Whack, true, Some(796)));
        assert_eq!(e.body, "STATE_MAIN_I1: initiate");
        let e = split("\"westnet-eastnet-ikev2\" #1: initiating IKEv2 connection");
        assert_eq!((e.source, e.serial), (Source::Pluto, Some(1)));
        let e = split("123 apples were sold");
        assert!(!e.structural);
    }

    #[test]
    fn syslog_and_journal() {
        let e = split("Nov 28 05:49:23 sg2 pluto[1234]: \"sg1--sg2-net\" #3: sent Main Mode R1");
        assert_eq!(
            (e.source, e.serial, e.body),
            (Source::Pluto, Some(3), "sent Main Mode R1")
        );
        let e =
            split("2024-11-28T05:49:23.123456+01:00 sg1 charon[880]: 09[IKE] <net|4> giving up after 5 retransmits");
        assert_eq!((e.source, e.conn, e.serial), (Source::Charon, Some("net"), Some(4)));
        assert_eq!(e.body, "giving up after 5 retransmits");
        assert_eq!(e.time.unwrap().utc_offset, Some(3600));
        let e = split("Nov 28 05:49:23 sg2 sshd[99]: Accepted publickey for root");
        assert!(e.skip);
        let e = split("-- Boot 0123456789abcdef --");
        assert!(e.skip);
        let e = split("Nov 28 05:50:35.1: | debug line");
        assert!(e.skip);
    }

    #[test]
    fn charon_file_and_swanctl() {
        let e = split("Nov 28 05:49:23 09[IKE] initiating IKE_SA net[1] to 198.51.100.2");
        assert_eq!(
            (e.source, e.body),
            (Source::Charon, "initiating IKE_SA net[1] to 198.51.100.2")
        );
        let e = split("[IKE] initiating IKE_SA gw-gw[1] to 198.51.100.2");
        assert_eq!((e.source, e.structural), (Source::Swanctl, true));
        assert_eq!(e.marker(), Some(Dialect::Swanctl));
        let e =
            split("Nov  2 05:49:23 13[NET] <3> sending packet: from 192.0.2.1[500] to 198.51.100.2[500] (464 bytes)");
        assert_eq!((e.conn, e.serial), (None, Some(3)));
    }

    #[test]
    fn charon_without_tags() {
        for l in [
            "initiating IKE_SA sg[1] to 198.51.100.2",
            "parsed IKE_SA_INIT response 0 [ N(INVAL_KE) ]",
            "received NO_PROPOSAL_CHOSEN notify, no CHILD_SA built",
            "establishing connection 'sg' failed",
            "connection 'sg' established successfully",
            "initiate failed: establishing CHILD_SA 'net' failed",
        ] {
            let e = split(l);
            assert_eq!((e.source, e.structural, e.body), (Source::Swanctl, true, l), "{l}");
        }
        assert_eq!(split("parsed the config file").source, Source::Unknown);
        assert_eq!(split("received 3 packets").source, Source::Unknown);
    }
}
