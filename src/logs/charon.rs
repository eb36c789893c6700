//! charon messages (strongSwan 5.x/6.x) and swanctl/stroke output, with the thread/group tag and
//! `<conn|N>` removed.

use super::pluto::{child_notify_kind, notify_kind};
use super::text::{after, find_notify, hex_u32, num, quoted, word, Classified};
use super::{Daemon, EventKind, Exchange, KernelObject};

/// Classifies one charon message body. `None`: nothing the diagnosis needs.
pub(crate) fn classify(b: &str) -> Option<Classified> {
    let mut c = classify_kind(b)?;
    c.notify = find_notify(b);
    Some(c)
}

/// Whether `b` is worded as only charon words it (for lines that come without a tag, such as
/// `ipsec up` output, which pluto's recogniser sees first). Never true for a pluto message.
pub(crate) fn owns(b: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "initiating IKE_SA ",
        "initiating Main Mode IKE_SA ",
        "initiating Aggressive Mode IKE_SA ",
        "sending packet: from ",
        "received packet: from ",
        "retransmit ",
        "sending retransmit ",
        "giving up after ",
        "establishing IKE_SA ",
        "establishing CHILD_SA ",
        "establishing connection '",
        "initiate failed",
        "initiate completed",
        "peer not responding",
        "looking for ",
        "no matching peer config found",
        "no peer config found",
        "selected peer config '",
        "no IKE config found for ",
        "no matching CHILD_SA config found",
        "received proposals: ",
        "configured proposals: ",
        "selected proposal: ",
        "received proposals unacceptable",
        "no acceptable proposal found",
        "no matching proposal found",
        "no acceptable traffic selectors found",
        "traffic selectors ",
        "peer selected invalid traffic selectors",
        "peer didn't accept ",
        "key exchange method ",
        "DH group ",
        "no shared key found for",
        "no private key found for",
        "authentication of '",
        "constraint check failed",
        "no trusted ",
        "no issuer certificate found",
        "certificate was revoked",
        "signature validation failed",
        "peer certificate invalid",
        "peer certificate verification failed",
        "subject certificate invalid",
        "issuer certificate invalid",
        "maximum path length of",
        "rejecting certificate without",
        "self-signed certificate \"",
        "path length of ",
        "unable to install ",
        "unable to add SAD entry",
        "unable to add policy",
        "unable to update policy",
        "received netlink error",
        "IKE_SA ",
        "CHILD_SA ",
        "closing CHILD_SA ",
        "deleting IKE_SA ",
        "received DELETE for ",
        "local host is behind NAT",
        "remote host is behind NAT",
        "faking NAT situation",
        "splitting IKE message",
        "received fragment #",
        "failed to establish CHILD_SA",
        "closing IKE_SA due",
        "Starting IKE charon daemon",
        "added configuration ",
        "ignoring IKE_SA setup from",
        "IDir '",
    ];
    if PREFIXES.iter().any(|p| b.starts_with(p)) {
        return true;
    }
    if let Some(r) = b.strip_prefix("generating ").or_else(|| b.strip_prefix("parsed ")) {
        return exchange_name(r).is_some();
    }
    (b.starts_with("tried ") && b.contains("but MAC mismatched"))
        || (b.starts_with("connection '") && b.contains("' established successfully"))
        || (b.starts_with("received ") && has_any(b, &[" notify, no CHILD_SA built", " notify error", " error notify"]))
        || (b.starts_with("found ") && b.contains("but none allows"))
        || b.contains(" mode requested by responder is unacceptable")
        || b.contains(" is initiating a")
}

fn has_any(b: &str, pats: &[&str]) -> bool {
    pats.iter().any(|p| b.contains(p))
}

fn k(kind: EventKind) -> Option<Classified> {
    Some(Classified::new(kind))
}

/// `net[12]` at the start of `s`: (name, unique id).
fn sa_name(s: &str) -> Option<(String, Option<u64>)> {
    let w = word(s);
    let (name, rest) = w.split_once('[')?;
    if name.is_empty() {
        return None;
    }
    Some((name.to_string(), num(rest)))
}

/// `192.0.2.1[sg1]` → ("192.0.2.1", "sg1").
fn addr_id(s: &str) -> (String, Option<String>) {
    match s.split_once('[') {
        Some((a, id)) => (a.to_string(), Some(id.trim_end_matches(']').to_string())),
        None => (s.to_string(), None),
    }
}

/// charon's exchange type names.
fn exchange_name(s: &str) -> Option<Exchange> {
    Some(match word(s) {
        "IKE_SA_INIT" => Exchange::IkeSaInit,
        "IKE_AUTH" => Exchange::IkeAuth,
        "CREATE_CHILD_SA" => Exchange::CreateChildSa,
        "INFORMATIONAL" => Exchange::Informational,
        "IKE_INTERMEDIATE" => Exchange::IkeIntermediate,
        "ID_PROT" => Exchange::MainMode,
        "AGGRESSIVE" => Exchange::AggressiveMode,
        "QUICK_MODE" => Exchange::QuickMode,
        "INFORMATIONAL_V1" | "TRANSACTION" => Exchange::InformationalV1,
        _ => return None,
    })
}

/// `IKE_AUTH request 1 [ IDi AUTH SA TSi TSr ]` after `generating ` / `parsed `.
fn message(r: &str, sent: bool) -> Option<EventKind> {
    let r = r.trim_start();
    let exchange = exchange_name(r)?;
    let rest = &r[r.find(char::is_whitespace).unwrap_or(r.len())..];
    let request = match word(rest) {
        "request" => true,
        "response" => false,
        _ => return None,
    };
    let msgid = after(rest, if request { "request " } else { "response " }).and_then(num);
    if sent {
        let payloads = after(r, "[").unwrap_or("");
        let has = |p: &str| payloads.split_whitespace().any(|t| t == p);
        let step = match exchange {
            Exchange::MainMode if has("SA") => Some(1),
            Exchange::MainMode if has("KE") => Some(2),
            Exchange::MainMode if has("ID") || has("HASH") => Some(3),
            Exchange::AggressiveMode if has("SA") => Some(1),
            Exchange::AggressiveMode => Some(2),
            Exchange::QuickMode if has("SA") => Some(1),
            Exchange::QuickMode => Some(2),
            _ => None,
        };
        Some(EventKind::Sent {
            exchange,
            request,
            step,
            msgid,
            peer: None,
        })
    } else {
        Some(EventKind::Received {
            exchange,
            request,
            msgid,
            peer: None,
        })
    }
}

fn classify_kind(b: &str) -> Option<Classified> {
    if b.starts_with("sending end entity cert ") {
        return k(EventKind::CertSent);
    }
    // Daemon life.
    if b.starts_with("Starting ") {
        if let Some(v) = after(b, "(strongSwan ").or_else(|| after(b, "Starting strongSwan ")) {
            let v = v.split([',', ')', ' ']).next().unwrap_or("");
            return k(EventKind::DaemonStarted {
                daemon: Daemon::Charon,
                version: Some(format!("strongSwan {v}")),
            });
        }
    }
    if has_any(
        b,
        &["SIGTERM received, shutting down", "SIGINT received, shutting down"],
    ) || (b.starts_with("signal of type") && b.contains("Shutting down"))
    {
        return k(EventKind::DaemonStopped);
    }
    if let Some(r) = b
        .strip_prefix("added configuration ")
        .or_else(|| b.strip_prefix("added vici connection: "))
    {
        let mut c = Classified::new(EventKind::ConnectionAdded { ike_version: None });
        c.conn = Some(quoted(r).unwrap_or(word(r)).to_string());
        return Some(c);
    }

    // Negotiation progress.
    if let Some(r) = b.strip_prefix("initiating ") {
        let (exchange, r) = if let Some(r) = r.strip_prefix("IKE_SA ") {
            (Exchange::IkeSaInit, r)
        } else if let Some(r) = r.strip_prefix("Main Mode IKE_SA ") {
            (Exchange::MainMode, r)
        } else if let Some(r) = r.strip_prefix("Aggressive Mode IKE_SA ") {
            (Exchange::AggressiveMode, r)
        } else {
            return None;
        };
        let mut c = Classified::new(EventKind::Initiating {
            ike_version: Some(exchange.ike_version()),
            exchange: Some(exchange),
            peer: after(r, " to ").map(|p| word(p).to_string()),
        });
        if let Some((name, id)) = sa_name(r) {
            c.conn = Some(name);
            c.serial = id;
        }
        return Some(c);
    }
    if let Some(r) = after(b, " is initiating a") {
        let exchange = if r.contains("Main Mode") {
            Exchange::MainMode
        } else if r.contains("Aggressive Mode") {
            Exchange::AggressiveMode
        } else {
            Exchange::IkeSaInit
        };
        return k(EventKind::Responding {
            ike_version: Some(exchange.ike_version()),
            exchange: Some(exchange),
            peer: Some(word(b).to_string()),
        });
    }
    for (prefix, outbound) in [("sending packet: from ", true), ("received packet: from ", false)] {
        if let Some(r) = b.strip_prefix(prefix) {
            let from = word(r).to_string();
            let to = after(r, " to ").map(word).unwrap_or("").to_string();
            let bytes = after(r, "(").and_then(num);
            let mut c = Classified::new(EventKind::Packet {
                outbound,
                from: from.clone(),
                to: to.clone(),
                bytes,
            });
            let (local, peer) = if outbound { (from, to) } else { (to, from) };
            c.local = Some(local);
            c.peer = Some(peer);
            return Some(c);
        }
    }
    if let Some(r) = b.strip_prefix("generating ") {
        if let Some(kind) = message(r, true) {
            return k(kind);
        }
    }
    if let Some(r) = b.strip_prefix("parsed ") {
        if let Some(kind) = message(r, false) {
            return k(kind);
        }
    }
    if let Some(r) = b.strip_prefix("retransmit ") {
        if r.contains("of request") {
            return k(EventKind::Retransmit {
                state: None,
                exchange: None,
                step: None,
                count: num(r),
                msgid: after(r, "message ID ").and_then(num),
            });
        }
    }
    if let Some(r) = b.strip_prefix("sending retransmit ") {
        return k(EventKind::Retransmit {
            state: None,
            exchange: None,
            step: None,
            count: num(r),
            msgid: after(r, "message ID ").and_then(num),
        });
    }

    // Giving up / dead peer.
    if has_any(
        b,
        &[
            "path probings",
            "proper IKE_SA delete failed, peer not responding",
            "rekeying IKE_SA failed, peer not responding",
            "rekeying CHILD_SA failed, peer not responding",
        ],
    ) {
        return k(EventKind::PeerDead);
    }
    // `giving up after 5 retries` (ike_init.c): IKE_SA_INIT restarted too often after
    // INVALID_KE_PAYLOAD (or COOKIE) answers; the peer did answer, so not a retransmit timeout.
    if b.starts_with("giving up after ") && b.trim_end().ends_with(" retries") {
        return k(EventKind::InvalidKe { by_peer: true });
    }
    if let Some(r) = after(b, "giving up after ") {
        return k(EventKind::GaveUp {
            state: None,
            exchange: None,
            step: None,
            retransmits: num(r),
        });
    }
    if b.contains("establishing IKE_SA failed, peer not responding")
        || b.starts_with("peer not responding, trying again")
    {
        return k(EventKind::GaveUp {
            state: None,
            exchange: None,
            step: None,
            retransmits: None,
        });
    }

    // Established.
    if let Some(r) = b.strip_prefix("IKE_SA ") {
        if let Some(between) = after(r, " established between ") {
            let (l, p) = between.split_once("...").unwrap_or((between, ""));
            let (local, _) = addr_id(l.trim());
            let (peer, peer_id) = addr_id(word(p));
            let mut c = Classified::new(EventKind::IkeSaEstablished {
                auth: None,
                local: Some(local.clone()),
                peer: Some(peer.clone()).filter(|p| !p.is_empty()),
                peer_id,
            });
            if let Some((name, id)) = sa_name(r) {
                c.conn = Some(name);
                c.serial = id;
            }
            c.local = Some(local);
            c.peer = Some(peer).filter(|p| !p.is_empty());
            return Some(c);
        }
    }
    if b.contains("CHILD_SA ") && b.contains(" established with SPIs ") {
        let spis = after(b, " with SPIs ").unwrap_or("");
        let mut spi_in = None;
        let mut spi_out = None;
        for t in spis.split_whitespace().take(2) {
            if let Some(h) = t.strip_suffix("_i") {
                spi_in = hex_u32(h);
            } else if let Some(h) = t.strip_suffix("_o") {
                spi_out = hex_u32(h);
            }
        }
        return k(EventKind::ChildSaEstablished {
            spi_out,
            spi_in,
            natd: None,
            encap: None,
            mode: None,
            ts: after(b, " and TS ").map(|t| t.trim().to_string()),
            parent: None,
        });
    }

    // `looking for peer configs matching 198.51.100.2[sg2]...192.0.2.1[sg1]` (IKEv2 responder:
    // me[my id]...other[its id]); IKEv1: `looking for pre-shared key peer configs matching
    // 198.51.100.2...192.0.2.1[sg1]`. The peer's ID, and both addresses.
    if let Some(r) = b
        .strip_prefix("looking for ")
        .and_then(|r| after(r, "peer configs matching "))
    {
        let (l, p) = word(r).split_once("...")?;
        let (local, _) = addr_id(l);
        let (peer, id) = addr_id(p);
        let id = id.filter(|i| i != "%any" && !i.is_empty());
        let mut c = Classified::new(match id {
            Some(id) => EventKind::PeerId { id },
            None => EventKind::Other,
        });
        c.local = Some(local);
        c.peer = Some(peer);
        return Some(c);
    }

    // Certificates (libstrongswan credential manager, revocation and constraints plugins).
    if let Some(reason) = cert_reason(b) {
        return k(EventKind::CertInvalid {
            reason: reason.to_string(),
        });
    }

    // Authentication and identities.
    if has_any(b, &["no shared key found for", "no private key found for"])
        || (b.starts_with("authentication of '") && b.contains("(myself)") && b.contains("failed"))
    {
        return k(EventKind::SecretMissing);
    }
    if (b.starts_with("tried ") && b.contains("but MAC mismatched"))
        || (b.starts_with("authentication of '") && b.contains(" failed"))
        || (b.starts_with("no trusted ") && b.contains("public key found for"))
        || has_any(
            b,
            &[
                "signature validation failed",
                "peer certificate verification failed",
                "calculated HASH does not match HASH payload",
                "received HASH payload does not match",
                "decryption failed?",
                "could not decrypt payloads",
                "integrity check failed",
                "message verification failed",
            ],
        )
    {
        return k(EventKind::AuthFailed { by_peer: false });
    }
    // IKEv1 initiator: `IDir 'sg3.example.org' does not match to 'sg2.example.org'` (got, expected).
    if let Some(r) = b.strip_prefix("IDir ") {
        if let Some((got, expected)) = r.split_once(" does not match to ") {
            return k(EventKind::IdMismatch {
                expected: quoted(expected).map(str::to_string),
                got: quoted(got).map(str::to_string),
            });
        }
    }
    // IKEv1 responder: `found 1 matching config, but none allows pre-shared key authentication
    // using Main Mode` (authby / aggressive differ).
    if b.starts_with("found ") && b.contains("matching config") && b.contains("but none allows") {
        return k(EventKind::NoConnectionKnown { phase: Some(1) });
    }
    if b.contains("no matching peer config found")
        || b.starts_with("no peer config found")
        || (b.starts_with("selected peer config '") && b.contains("unacceptable"))
        || b.starts_with("constraint check failed")
    {
        return k(EventKind::IdMismatch {
            expected: None,
            got: None,
        });
    }

    // Proposals, selectors.
    for (prefix, local) in [
        ("received proposals: ", Some(false)),
        ("configured proposals: ", Some(true)),
        ("selected proposal: ", None),
    ] {
        if let Some(r) = b.strip_prefix(prefix) {
            return k(EventKind::Proposals {
                local,
                list: r.trim().to_string(),
            });
        }
    }
    if has_any(
        b,
        &[
            "no acceptable proposal found",
            "no matching proposal found",
            "received proposals unacceptable",
            "no proposal found",
        ],
    ) {
        return k(EventKind::NoProposalChosen {
            phase: None,
            by_peer: false,
        });
    }
    if let Some(r) = b.strip_prefix("no IKE config found for ") {
        let mut c = Classified::new(EventKind::NoConnectionKnown { phase: Some(1) });
        if let Some((l, p)) = word(r).split_once("...") {
            c.local = Some(l.to_string());
            c.peer = Some(p.to_string());
        }
        return Some(c);
    }
    // `DH group MODP_2048 unacceptable, requesting ECP_256` (5.x), `key exchange method ...
    // unacceptable, requesting ...` (6.x): we answer INVALID_KE_PAYLOAD.
    if (b.starts_with("DH group ") || b.starts_with("key exchange method ")) && b.contains("unacceptable") {
        return k(EventKind::InvalidKe { by_peer: false });
    }
    // `peer didn't accept DH group ECP_256, it requested MODP_2048` (5.x), `peer didn't accept
    // key exchange method ECP_256, it requested ...` (6.x): the peer sent INVALID_KE_PAYLOAD.
    if b.starts_with("peer didn't accept DH group") || b.starts_with("peer didn't accept key exchange method") {
        return k(EventKind::InvalidKe { by_peer: true });
    }
    // `TRANSPORT mode requested by responder is unacceptable`.
    if let Some(m) = b.strip_suffix(" mode requested by responder is unacceptable") {
        let theirs = match m.trim().to_ascii_lowercase().as_str() {
            "" => None,
            w => Some(w.to_string()),
        };
        return k(EventKind::ModeMismatch { ours: None, theirs });
    }
    if (b.starts_with("traffic selectors ") && b.contains("unacceptable"))
        || has_any(
            b,
            &[
                "no acceptable traffic selectors found",
                "peer selected invalid traffic selectors",
            ],
        )
    {
        return k(EventKind::TsUnacceptable { by_peer: false });
    }
    if b.contains("no matching CHILD_SA config found") {
        return k(EventKind::NoConnectionKnown { phase: Some(2) });
    }

    // Notifies (`received NO_PROPOSAL_CHOSEN notify error`, `... notify, no CHILD_SA built`).
    if let Some(name) = find_notify(b) {
        if b.contains("no CHILD_SA built") {
            return k(child_notify_kind(Some(name), true, b));
        }
        return k(notify_kind(name, b));
    }
    if has_any(
        b,
        &[
            "failed to establish CHILD_SA",
            "closing IKE_SA due CHILD_SA setup failure",
        ],
    ) {
        return k(EventKind::ChildSaFailed);
    }

    // Kernel, routes, updown.
    if b.starts_with("unable to ") || b.starts_with("received netlink error") {
        let what = if b.contains("(SAD)") || b.contains("SAD entry") {
            Some(KernelObject::Sa)
        } else if b.contains("(SPD)") || b.contains(" policy ") {
            Some(KernelObject::Policy)
        } else if b.starts_with("received netlink error") {
            Some(KernelObject::Unknown)
        } else {
            None
        };
        if let Some(what) = what {
            let errno = b
                .rfind('(')
                .and_then(|i| num(&b[i + 1..]))
                .filter(|_| b.starts_with("received netlink error"));
            return k(EventKind::KernelInstallFailed { what, errno });
        }
    }
    if b.contains("only UDP encapsulation is supported") {
        return k(EventKind::KernelInstallFailed {
            what: KernelObject::Sa,
            errno: None,
        });
    }
    if has_any(
        b,
        &[
            "unable to install source route",
            "unable to install virtual IP",
            "installing route failed",
        ],
    ) {
        return k(EventKind::RouteFailed);
    }
    if b.contains("updown") && has_any(b, &["error", "failed", "not found", "exit", "Permission denied"])
        || b.contains("command not found")
    {
        return k(EventKind::UpdownFailed { status: None });
    }

    // NAT, fragments, deletes, drops.
    if b.starts_with("local host is behind NAT") {
        return k(EventKind::NatDetected {
            local_behind: Some(true),
            peer_behind: None,
            forced: false,
        });
    }
    if b.starts_with("remote host is behind NAT") {
        return k(EventKind::NatDetected {
            local_behind: None,
            peer_behind: Some(true),
            forced: false,
        });
    }
    if b.starts_with("faking NAT situation") {
        return k(EventKind::NatDetected {
            local_behind: None,
            peer_behind: None,
            forced: true,
        });
    }
    if b.starts_with("splitting IKE message") || b.starts_with("received fragment #") {
        return k(EventKind::IkeFragmentation { problem: false });
    }
    if b.contains("fragmented IKE message is too large") {
        return k(EventKind::IkeFragmentation { problem: true });
    }
    if b.starts_with("received DELETE for") {
        return k(EventKind::Deleted {
            by_peer: true,
            state: None,
        });
    }
    if let Some(spis) = b
        .strip_prefix("closing CHILD_SA ")
        .and_then(|r| after(r, " with SPIs "))
    {
        // `657989d2_i (252 bytes) 0a601092_o (252 bytes)`: traffic through the SA.
        let bytes = |suffix: &str| {
            after(spis, suffix)
                .and_then(|r| r.trim_start().strip_prefix('('))
                .and_then(num)
        };
        let (in_bytes, out_bytes) = (bytes("_i "), bytes("_o "));
        if in_bytes.is_some() || out_bytes.is_some() {
            return k(EventKind::TrafficStats { in_bytes, out_bytes });
        }
    }
    if b.starts_with("deleting IKE_SA ") || b.starts_with("closing CHILD_SA ") {
        let mut c = Classified::new(EventKind::Deleted {
            by_peer: false,
            state: None,
        });
        if let Some((name, id)) = b.strip_prefix("deleting IKE_SA ").and_then(sa_name) {
            c.conn = Some(name);
            c.serial = id;
        }
        return Some(c);
    }
    if b.starts_with("ignoring IKE_SA setup from") || b.starts_with("received invalid IKE header from") {
        return k(EventKind::RequestDropped);
    }

    // swanctl / stroke results.
    if b.starts_with("initiate failed")
        || (b.starts_with("establishing connection '") && b.contains("' failed"))
        || (b.starts_with("establishing CHILD_SA '") && b.contains(" failed"))
    {
        return k(EventKind::CliResult { success: false });
    }
    if b.starts_with("initiate completed successfully")
        || (b.starts_with("connection '") && b.contains("established successfully"))
    {
        return k(EventKind::CliResult { success: true });
    }
    None
}

/// A certificate refusal, as [`EventKind::CertInvalid`]'s reason word.
fn cert_reason(b: &str) -> Option<&'static str> {
    // `peer certificate invalid (valid from ... to ...)` (ike_sa.c), `subject certificate invalid
    // (valid from ...)` / `issuer certificate invalid (...)` (credential_manager.c); `certificate
    // "..." not valid` phrasings of plugins.
    if (b.contains("certificate invalid (valid from") || (b.contains("certificate") && b.contains(" not valid")))
        && !b.contains("crl is not valid")
    {
        return Some("lifetime");
    }
    if b.starts_with("no issuer certificate found for") {
        return Some("unknown-issuer");
    }
    if b.starts_with("certificate was revoked") {
        return Some("revoked");
    }
    if b.starts_with("maximum path length of") || (b.starts_with("path length of ") && b.contains("violates")) {
        return Some("path-length");
    }
    if b.contains("does not match any permitted name constraints") || b.contains("matches excluded name constraint") {
        return Some("name-constraint");
    }
    if b.starts_with("rejecting certificate without digitalSignature") {
        return Some("key-usage");
    }
    // `self-signed certificate "CN=sg1" is not trusted` (credential_manager.c).
    if b.starts_with("self-signed certificate \"") && b.contains("is not trusted") {
        return Some("untrusted");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(b: &str) -> EventKind {
        classify(b).unwrap_or_else(|| panic!("not classified: {b}")).kind
    }

    #[test]
    fn start_and_initiate() {
        assert_eq!(
            kind("Starting IKE charon daemon (strongSwan 5.9.8, Linux 6.1.0-28-amd64, x86_64)"),
            EventKind::DaemonStarted {
                daemon: Daemon::Charon,
                version: Some("strongSwan 5.9.8".into())
            }
        );
        assert_eq!(
            kind("Starting strongSwan 6.0.1 IPsec [starter]..."),
            EventKind::DaemonStarted {
                daemon: Daemon::Charon,
                version: Some("strongSwan 6.0.1".into())
            }
        );
        let c = classify("initiating IKE_SA net[1] to 198.51.100.2").unwrap();
        assert_eq!(
            c.kind,
            EventKind::Initiating {
                ike_version: Some(2),
                exchange: Some(Exchange::IkeSaInit),
                peer: Some("198.51.100.2".into())
            }
        );
        assert_eq!((c.conn.as_deref(), c.serial), (Some("net"), Some(1)));
        let c = classify("initiating Main Mode IKE_SA sg1-sg2[3] to 198.51.100.2").unwrap();
        assert_eq!((c.conn.as_deref(), c.serial), (Some("sg1-sg2"), Some(3)));
        assert!(matches!(
            c.kind,
            EventKind::Initiating {
                ike_version: Some(1),
                exchange: Some(Exchange::MainMode),
                ..
            }
        ));
        assert_eq!(
            kind("192.0.2.1 is initiating an IKE_SA"),
            EventKind::Responding {
                ike_version: Some(2),
                exchange: Some(Exchange::IkeSaInit),
                peer: Some("192.0.2.1".into())
            }
        );
    }

    #[test]
    fn messages_and_packets() {
        assert_eq!(
            kind("generating IKE_SA_INIT request 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) N(HASH_ALG) N(REDIR_SUP) ]"),
            EventKind::Sent { exchange: Exchange::IkeSaInit, request: true, step: None, msgid: Some(0), peer: None }
        );
        let c = classify("parsed IKE_SA_INIT response 0 [ N(NO_PROP) ]").unwrap();
        assert_eq!(
            c.kind,
            EventKind::Received {
                exchange: Exchange::IkeSaInit,
                request: false,
                msgid: Some(0),
                peer: None
            }
        );
        assert_eq!(c.notify, Some("NO_PROPOSAL_CHOSEN"));
        assert_eq!(
            kind("generating ID_PROT request 0 [ ID HASH N(INITIAL_CONTACT) ]"),
            EventKind::Sent {
                exchange: Exchange::MainMode,
                request: true,
                step: Some(3),
                msgid: Some(0),
                peer: None
            }
        );
        let c = classify("sending packet: from 192.0.2.1[4500] to 198.51.100.2[4500] (1236 bytes)").unwrap();
        assert_eq!(
            c.kind,
            EventKind::Packet {
                outbound: true,
                from: "192.0.2.1[4500]".into(),
                to: "198.51.100.2[4500]".into(),
                bytes: Some(1236)
            }
        );
        assert_eq!(
            (c.local.as_deref(), c.peer.as_deref()),
            (Some("192.0.2.1[4500]"), Some("198.51.100.2[4500]"))
        );
        assert_eq!(
            kind("retransmit 2 of request with message ID 1"),
            EventKind::Retransmit {
                state: None,
                exchange: None,
                step: None,
                count: Some(2),
                msgid: Some(1)
            }
        );
        assert_eq!(
            kind("sending retransmit 1 of request message ID 0, seq 1"),
            EventKind::Retransmit {
                state: None,
                exchange: None,
                step: None,
                count: Some(1),
                msgid: Some(0)
            }
        );
        assert_eq!(
            kind("giving up after 5 retransmits"),
            EventKind::GaveUp {
                state: None,
                exchange: None,
                step: None,
                retransmits: Some(5)
            }
        );
        assert_eq!(
            kind("establishing IKE_SA failed, peer not responding"),
            EventKind::GaveUp {
                state: None,
                exchange: None,
                step: None,
                retransmits: None
            }
        );
        assert_eq!(kind("giving up after 5 path probings"), EventKind::PeerDead);
    }

    #[test]
    fn established() {
        let c = classify("IKE_SA net[1] established between 192.0.2.1[sg1]...198.51.100.2[sg2]").unwrap();
        assert_eq!(
            c.kind,
            EventKind::IkeSaEstablished {
                auth: None,
                local: Some("192.0.2.1".into()),
                peer: Some("198.51.100.2".into()),
                peer_id: Some("sg2".into())
            }
        );
        assert_eq!((c.conn.as_deref(), c.serial), (Some("net"), Some(1)));
        assert_eq!(
            kind("CHILD_SA net{1} established with SPIs c1234567_i c7654321_o and TS 10.1.0.0/24 === 10.2.0.0/24"),
            EventKind::ChildSaEstablished {
                spi_out: Some(0xc765_4321),
                spi_in: Some(0xc123_4567),
                natd: None,
                encap: None,
                mode: None,
                ts: Some("10.1.0.0/24 === 10.2.0.0/24".into()),
                parent: None
            }
        );
    }

    #[test]
    fn certificate_sent() {
        assert_eq!(
            kind("sending end entity cert \"CN=sg1.example.org\""),
            EventKind::CertSent
        );
        assert_eq!(classify("sending cert request for \"CN=lab CA\""), None);
    }

    #[test]
    fn failures() {
        assert_eq!(
            kind("tried 1 shared key for 'sg1' - 'sg2', but MAC mismatched"),
            EventKind::AuthFailed { by_peer: false }
        );
        assert_eq!(
            kind("received AUTHENTICATION_FAILED notify error"),
            EventKind::AuthFailed { by_peer: true }
        );
        assert_eq!(kind("no shared key found for 'sg1' - 'sg2'"), EventKind::SecretMissing);
        assert_eq!(
            kind("no matching peer config found"),
            EventKind::IdMismatch {
                expected: None,
                got: None
            }
        );
        assert_eq!(
            kind("received NO_PROPOSAL_CHOSEN notify error"),
            EventKind::NoProposalChosen {
                phase: None,
                by_peer: true
            }
        );
        assert_eq!(
            kind("received NO_PROPOSAL_CHOSEN notify, no CHILD_SA built"),
            EventKind::NoProposalChosen {
                phase: Some(2),
                by_peer: true
            }
        );
        assert_eq!(
            kind("no acceptable proposal found"),
            EventKind::NoProposalChosen {
                phase: None,
                by_peer: false
            }
        );
        assert_eq!(
            kind("received proposals: IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_3072"),
            EventKind::Proposals {
                local: Some(false),
                list: "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_3072".into()
            }
        );
        let c = classify("no IKE config found for 198.51.100.2...192.0.2.1, sending NO_PROPOSAL_CHOSEN").unwrap();
        assert_eq!(c.kind, EventKind::NoConnectionKnown { phase: Some(1) });
        assert_eq!(c.peer.as_deref(), Some("192.0.2.1"));
        assert_eq!(
            kind("received INVALID_KE_PAYLOAD notify"),
            EventKind::InvalidKe { by_peer: true }
        );
        assert_eq!(
            kind("received TS_UNACCEPTABLE notify, no CHILD_SA built"),
            EventKind::TsUnacceptable { by_peer: true }
        );
        assert_eq!(
            kind("traffic selectors 10.2.0.0/24 === 10.9.0.0/24 unacceptable"),
            EventKind::TsUnacceptable { by_peer: false }
        );
        assert_eq!(
            kind("no matching CHILD_SA config found for 10.2.0.0/24 === 10.9.0.0/24"),
            EventKind::NoConnectionKnown { phase: Some(2) }
        );
        assert_eq!(
            kind("failed to establish CHILD_SA, keeping IKE_SA"),
            EventKind::ChildSaFailed
        );
        assert_eq!(
            kind("unable to install inbound and outbound IPsec SA (SAD) in kernel"),
            EventKind::KernelInstallFailed {
                what: KernelObject::Sa,
                errno: None
            }
        );
        assert_eq!(
            kind("unable to install IPsec policies (SPD) in kernel"),
            EventKind::KernelInstallFailed {
                what: KernelObject::Policy,
                errno: None
            }
        );
        assert_eq!(
            kind("received netlink error: Protocol not supported (93)"),
            EventKind::KernelInstallFailed {
                what: KernelObject::Unknown,
                errno: Some(93)
            }
        );
        assert_eq!(
            kind("received INVALID_ID_INFORMATION error notify"),
            EventKind::InvalidIdInformation { by_peer: true }
        );
        assert_eq!(
            kind("received PAYLOAD_MALFORMED error notify"),
            EventKind::Notify {
                name: "PAYLOAD_MALFORMED".into(),
                by_peer: true
            }
        );
    }

    #[test]
    fn nat_fragments_cli() {
        assert_eq!(
            kind("local host is behind NAT, sending keep alives"),
            EventKind::NatDetected {
                local_behind: Some(true),
                peer_behind: None,
                forced: false
            }
        );
        assert_eq!(
            kind("remote host is behind NAT"),
            EventKind::NatDetected {
                local_behind: None,
                peer_behind: Some(true),
                forced: false
            }
        );
        assert_eq!(
            kind("faking NAT situation to enforce UDP encapsulation"),
            EventKind::NatDetected {
                local_behind: None,
                peer_behind: None,
                forced: true
            }
        );
        assert_eq!(
            kind("splitting IKE message (1812 bytes) into 2 fragments"),
            EventKind::IkeFragmentation { problem: false }
        );
        assert_eq!(
            kind("establishing connection 'gw-gw' failed"),
            EventKind::CliResult { success: false }
        );
        assert_eq!(
            kind("initiate failed: establishing CHILD_SA 'net' failed"),
            EventKind::CliResult { success: false }
        );
        assert_eq!(
            kind("initiate completed successfully"),
            EventKind::CliResult { success: true }
        );
        assert_eq!(
            kind("received DELETE for IKE_SA net[2]"),
            EventKind::Deleted {
                by_peer: true,
                state: None
            }
        );
        assert_eq!(
            kind("closing CHILD_SA net{1} with SPIs 6e836783_i (0 bytes) 349b371e_o (252 bytes) and TS 10.1.0.0/24 === 10.2.0.0/24"),
            EventKind::TrafficStats { in_bytes: Some(0), out_bytes: Some(252) }
        );
        assert_eq!(
            kind("closing CHILD_SA net{1} with SPIs 6e836783_i 349b371e_o"),
            EventKind::Deleted {
                by_peer: false,
                state: None
            }
        );
        assert_eq!(classify("sending keep alive to 198.51.100.2[4500]"), None);
        let c = classify("looking for peer configs matching 198.51.100.2[sg2]...192.0.2.1[sg1]").unwrap();
        assert_eq!(c.kind, EventKind::PeerId { id: "sg1".into() });
        assert_eq!(
            (c.local.as_deref(), c.peer.as_deref()),
            (Some("198.51.100.2"), Some("192.0.2.1"))
        );
    }
}
