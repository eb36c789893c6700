//! pluto messages (Openswan 2.x, Libreswan 3.x/4.x/5.x), with the `"conn" #N:` prefix removed.

use super::text::{self, after, find_notify, hex_u32, notify_from_peer, num, quoted, word, Classified};
use super::{Daemon, EventKind, Exchange, KernelObject};

/// Classifies one pluto message body. `None`: nothing the diagnosis needs.
pub(crate) fn classify(b: &str) -> Option<Classified> {
    // A line whose source is not known (bare `ipsec up` output) is tried here first: charon's own
    // wordings belong to charon, so that they read the same with and without their `[IKE]` tag.
    if super::charon::owns(b) {
        return super::charon::classify(b);
    }
    let mut c = classify_kind(b)?;
    c.notify = find_notify(b);
    if c.peer.is_none() {
        if b.starts_with("responding to ") {
            c.peer = after(b, " from ").map(|p| word(p).to_string());
        } else if b.starts_with("sending ") && b.contains("notification") {
            c.peer = after(b, " to ").map(|p| word(p).to_string());
        }
    }
    if c.conn.is_none() {
        if let Some(r) = after(b, "added connection description \"") {
            c.conn = r.split('"').next().map(str::to_string);
        }
    }
    Some(c)
}

fn k(kind: EventKind) -> Option<Classified> {
    Some(Classified::new(kind))
}

fn has_any(b: &str, pats: &[&str]) -> bool {
    pats.iter().any(|p| b.contains(p))
}

fn classify_kind(b: &str) -> Option<Classified> {
    // Authenticating with a certificate (its private key loaded for the connection) means
    // sending it: Libreswan's IKEv2 says nothing more.
    if b.starts_with("I am sending my cert") || b.starts_with("loaded private key matching left certificate") {
        return k(EventKind::CertSent);
    }
    // Daemon life.
    if let Some(r) = after(b, "Starting Pluto (") {
        let product = word(r);
        let version = after(r, " Version ").map(|v| format!("{} {}", product, word(v).trim_end_matches(')')));
        return k(EventKind::DaemonStarted {
            daemon: Daemon::Pluto,
            version,
        });
    }
    if b.starts_with("Pluto is shutting down") {
        return k(EventKind::DaemonStopped);
    }
    if b.starts_with("added IKEv1 connection")
        || b.starts_with("added IKEv2 connection")
        || b.starts_with("added connection description")
    {
        return k(EventKind::ConnectionAdded {
            ike_version: ike_version_word(b),
        });
    }

    // Retransmissions and giving up (they name the state that got no answer).
    if has_any(
        b,
        &[
            "max number of retransmissions",
            "second timeout exceeded after",
            "no acceptable response to our first encrypted message",
            "No response (or no acceptable response) to our",
            "No acceptable response to our first Quick Mode message",
        ],
    ) {
        let state = find_state(b);
        let (exchange, step) = state_exchange(state);
        let retransmits = after(b, "after ")
            .filter(|r| r.contains("retransmit"))
            .and_then(num)
            .or_else(|| after(b, "retransmissions (").and_then(num));
        return k(EventKind::GaveUp {
            state: state.map(str::to_string),
            exchange,
            step,
            retransmits,
        });
    }
    if b.contains("retransmission; will wait") || b.starts_with("retransmitting ") {
        let state = find_state(b);
        let (mut exchange, step) = state_exchange(state);
        if exchange.is_none() {
            exchange = after(b, "retransmitting ").and_then(exchange_word);
        }
        return k(EventKind::Retransmit {
            state: state.map(str::to_string),
            exchange,
            step,
            count: None,
            msgid: None,
        });
    }

    // Certificates, IKE over TCP, transport/tunnel mode, refused child SAs (before "established":
    // `IKE SA established but initiator rejected Child SA response`).
    if let Some(kind) = cert_kind(b) {
        return k(kind);
    }
    if let Some(kind) = tcp_kind(b) {
        return k(kind);
    }
    if let Some(kind) = mode_kind(b) {
        return k(kind);
    }
    if let Some(kind) = child_refused(b) {
        return k(kind);
    }

    // Established.
    if b.contains("IPsec SA established") || b.contains("established Child SA") || sa_block(b).is_some() {
        return k(child_established(b));
    }
    if b.contains("SA established") || b.contains("established IKE SA") {
        let auth = after(b, "auth=")
            .or_else(|| after(b, "authby="))
            .map(|r| word(r).trim_end_matches('}').to_string());
        let peer_id = after(b, "authenticated peer using ")
            .or_else(|| after(b, "using peer certificate "))
            .and_then(quoted)
            .map(str::to_string);
        return k(EventKind::IkeSaEstablished {
            auth,
            local: None,
            peer: None,
            peer_id,
        });
    }

    // Secrets and authentication.
    if has_any(
        b,
        &[
            "no PSK found for",
            "no preshared key found for",
            "Failed to find our PreShared Key",
            "unable to locate my private key",
            "private key not found",
            "no private key matching",
        ],
    ) || (b.contains("private key found") && (b.contains("No ") || b.contains("no ")))
    {
        return k(EventKind::SecretMissing);
    }
    // `IKE SA authentication failed, incomplete IKE_AUTH response contains the Child SA error
    // notification TS_UNACCEPTABLE for Child SA #2` (5.x): the child's refusal is the news.
    if b.contains("IKE SA authentication failed, incomplete IKE_AUTH response contains the Child SA error") {
        return k(child_notify_kind(find_notify(b), true, b));
    }
    // `IKE SA authentication request rejected by peer: AUTHENTICATION_FAILED` (4.x/5.x); another
    // notify there refused what the IKE_AUTH request carried (its child SA).
    if let Some(r) = after(b, "authentication request rejected by peer") {
        return k(match find_notify(r) {
            None | Some("AUTHENTICATION_FAILED") => EventKind::AuthFailed { by_peer: true },
            n => child_notify_kind(n, true, b),
        });
    }
    if b.contains("IKE SA authentication failed, ") {
        return k(EventKind::AuthFailed { by_peer: true });
    }
    if has_any(
        b,
        &[
            "probable authentication failure",
            "malformed payload in packet",
            "Hash Payload does not match computed value",
            "data does not match computed value",
            "PSK Authentication failed",
            "AUTH mismatch",
            "authentication failed:",
            "failed to match authenticator",
            "RSA authentication failed",
            "PSK authentication failed",
            "no RSA public key known for",
        ],
    ) || b == "authentication failed"
        || (has_any(
            b,
            &[
                "Signature check",
                "RSA authentication of",
                "Digital Signature authentication",
                "authentication using",
            ],
        ) && b.contains("failed"))
    {
        return k(EventKind::AuthFailed { by_peer: false });
    }

    // Identities.
    if b.contains("we require") && b.contains("peer to have ID") {
        let expected = quoted(b).map(str::to_string);
        let got = after(b, "declares").and_then(quoted).map(str::to_string);
        return k(EventKind::IdMismatch { expected, got });
    }
    if b.starts_with("Peer ID '") && b.contains("mismatched") {
        return k(EventKind::IdMismatch {
            expected: None,
            got: quoted(b).map(str::to_string),
        });
    }
    if let Some(r) = after(b, "Peer ID is ").or_else(|| after(b, " mode peer ID is ")) {
        return k(EventKind::PeerId {
            id: r.trim().to_string(),
        });
    }

    // Proposals.
    if b.contains("no acceptable Oakley Transform") {
        return k(EventKind::NoProposalChosen {
            phase: Some(1),
            by_peer: false,
        });
    }
    if b.contains("no acceptable Proposal in IPsec SA") {
        return k(EventKind::NoProposalChosen {
            phase: Some(2),
            by_peer: false,
        });
    }
    if let Some(r) = after(b, "no local proposal matches remote proposals") {
        let phase = if r.contains(":IKE:") {
            Some(1)
        } else if r.contains(":ESP:") || r.contains(":AH:") {
            Some(2)
        } else {
            phase_words(b)
        };
        return k(EventKind::NoProposalChosen { phase, by_peer: false });
    }
    if b.contains("we require PFS but") || b.contains("PFS") && b.contains("mismatch") {
        return k(EventKind::PfsMismatch);
    }
    if b.contains("initiator guessed wrong keying material group") {
        return k(EventKind::InvalidKe { by_peer: true });
    }
    if let Some(r) = b.strip_prefix("proposal ") {
        if let Some(i) = r.find(" chosen from") {
            return k(EventKind::Proposals {
                local: None,
                list: r[..i].to_string(),
            });
        }
    }

    // Openswan's initiator checking the IDs the Quick Mode responder returned.
    if has_any(
        b,
        &[
            "subnet returned doesn't match my proposal",
            "peer returned protocol id does not match my proposal",
            "peer returned port doesn't match my proposal",
        ],
    ) {
        return k(EventKind::TsUnacceptable { by_peer: false });
    }

    // No connection for what arrived.
    if b.contains("cannot respond to IPsec SA request because no connection is known for") {
        return k(EventKind::NoConnectionKnown { phase: Some(2) });
    }
    if (b.starts_with("initial ") && b.contains("but no connection has been authorized"))
        || b.contains("no suitable connection found with IKEv2 policy")
    {
        return k(EventKind::NoConnectionKnown { phase: Some(1) });
    }

    // Kernel, routes, updown.
    // 5.x: `kernel: xfrm XFRM_MSG_NEWPOLICY add response for flow ...: File exists (errno 17)`,
    // `installing IPsec SA failed - check logs or dmesg`.
    // Not failures: 5.x probes the kernel at start-up (`netlink response for XFRM_MSG_NEWSA Probe
    // Test: Protocol not supported (errno 93)`), and deleting what was never installed fails
    // during cleanup (`kernel: xfrm XFRM_MSG_DELPOLICY delete response for flow ...`).
    if (b.contains("netlink response for") && b.contains("Probe Test"))
        || (b.contains("response for") && has_any(b, &["XFRM_MSG_DELPOLICY", "XFRM_MSG_DELSA", " delete response"]))
    {
        return k(EventKind::Other);
    }
    if b.starts_with("kernel: xfrm ") && b.contains(" response for flow") {
        let what = if b.contains("POLICY") {
            KernelObject::Policy
        } else if b.contains("XFRM_MSG_NEWSA") || b.contains("XFRM_MSG_UPDSA") {
            KernelObject::Sa
        } else {
            KernelObject::Unknown
        };
        return k(EventKind::KernelInstallFailed {
            what,
            errno: text::errno_of(b),
        });
    }
    if b.starts_with("installing IPsec SA failed") || b.contains("Adding IPsec SA to failed") {
        return k(EventKind::KernelInstallFailed {
            what: KernelObject::Sa,
            errno: None,
        });
    }
    if b.contains("netlink response for") || b.contains("setup_half_ipsec_sa() hit fail") {
        let what = if b.contains("policy") || b.contains("POLICY") {
            KernelObject::Policy
        } else if b.contains(" SA ")
            || b.contains("setup_half_ipsec_sa")
            || b.contains("XFRM_MSG_NEWSA")
            || b.contains("XFRM_MSG_UPDSA")
        {
            KernelObject::Sa
        } else {
            KernelObject::Unknown
        };
        let errno = after(b, "errno ").and_then(num);
        return k(EventKind::KernelInstallFailed { what, errno });
    }
    if has_any(
        b,
        &[
            "RTNETLINK answers:",
            "cannot add route",
            "cannot route",
            "could not route",
        ],
    ) || (has_any(b, &["doroute \"", "addsource \"", "delsource \""]) && b.contains("failed"))
    {
        return k(EventKind::RouteFailed);
    }
    if let Some(status) = updown(b) {
        return k(EventKind::UpdownFailed { status });
    }

    // NAT traversal.
    if let Some(r) = after(b, "NAT-Traversal: Result using") {
        let both = r.contains("both are NATed");
        let none = r.contains("no NAT detected");
        let local = both || r.contains("i am NATed") || r.contains("I am behind NAT");
        let peer = both || r.contains("peer is NATed") || r.contains("peer behind NAT");
        if local || peer || none {
            return k(EventKind::NatDetected {
                local_behind: Some(local),
                peer_behind: Some(peer),
                forced: false,
            });
        }
        return None;
    }
    if b.contains("peer is NATed but source port is still udp/500") {
        return k(EventKind::NatDetected {
            local_behind: None,
            peer_behind: Some(true),
            forced: false,
        });
    }
    if b.starts_with("NAT: cannot") || b.contains("NAT: cannot float") {
        return k(EventKind::NatTFloatFailed);
    }

    // Fragments, ICMP errors, DPD.
    if b.contains("ignoring fragment as peer never proposed fragmentation")
        || (b.contains("fragment") && (b.contains(" invalid") || b.contains("dropping fragment")))
    {
        return k(EventKind::IkeFragmentation { problem: true });
    }
    if let Some(r) = after(b, "asynchronous network error report on") {
        let complainant = after(r, "complainant ").map(|c| c.split(':').next().unwrap_or(c).trim().to_string());
        return k(EventKind::NetworkError {
            errno: after(r, "[errno ").and_then(num),
            icmp_type: after(r, "ICMP type ").and_then(num),
            icmp_code: after(r, "ICMP type ").and_then(|t| after(t, " code ")).and_then(num),
            complainant,
        });
    }
    if has_any(
        b,
        &[
            "declaring peer dead",
            "DPD action -",
            "liveness action -",
            "DPD: No response from peer",
        ],
    ) {
        return k(EventKind::PeerDead);
    }

    // Notifies (after the phrases above, which classify many lines that also name one).
    if let Some(name) = find_notify(b) {
        return k(notify_kind(name, b));
    }

    // Negotiation progress.
    if let Some(r) = b.strip_prefix("initiating ") {
        if r.starts_with("connection '") || r.starts_with("all conns") {
            return None;
        }
        let exchange = exchange_word(r).or_else(|| {
            if r.contains("IKEv2") || r.contains("v2 parent") {
                Some(Exchange::IkeSaInit)
            } else {
                None
            }
        });
        return k(EventKind::Initiating {
            ike_version: ike_version_word(r).or(exchange.map(Exchange::ike_version)),
            exchange,
            peer: None,
        });
    }
    if let Some(r) = b.strip_prefix("responding to ") {
        let exchange = exchange_word(r);
        let peer = after(r, "from unknown peer ")
            .or_else(|| after(r, " from "))
            .map(|p| word(p).to_string());
        return k(EventKind::Responding {
            ike_version: exchange.map(Exchange::ike_version),
            exchange,
            peer,
        });
    }
    if let Some(r) = b.strip_prefix("sent ") {
        if let Some(x) = exchange_word(r) {
            let w: Vec<&str> = r.split_whitespace().take(5).collect();
            let request = !w
                .iter()
                .any(|t| matches!(*t, "reply" | "response") || (t.len() == 2 && t.starts_with('R')));
            let step = w
                .iter()
                .find(|t| t.len() == 2 && (t.starts_with('I') || t.starts_with('R')))
                .and_then(|t| t[1..].parse().ok())
                .or(if request && x.ike_version() == 1 && w.contains(&"request") {
                    Some(1)
                } else {
                    None
                });
            let peer = after(r, " to ").map(|p| word(p).to_string());
            return k(EventKind::Sent {
                exchange: x,
                request,
                step,
                msgid: None,
                peer,
            });
        }
    }
    if let Some(r) = b
        .strip_prefix("processed ")
        .or_else(|| b.strip_prefix("processing decrypted "))
    {
        if let Some(x) = exchange_word(r) {
            let request = word(&r[r.find(' ').unwrap_or(0)..]).starts_with("request");
            let peer = after(r, " from ").map(|p| word(p).to_string());
            return k(EventKind::Received {
                exchange: x,
                request,
                msgid: None,
                peer,
            });
        }
    }
    // Old style: `STATE_MAIN_I2: sent MI2, expecting MR2`, `STATE_MAIN_I1: initiate`.
    if b.starts_with("STATE_") {
        let state = find_state(b);
        if let (Some(x), step) = state_exchange(state) {
            let request = state.is_some_and(|s| s.contains("_I"));
            if b.contains(": initiate") {
                return k(EventKind::Sent {
                    exchange: x,
                    request: true,
                    step,
                    msgid: None,
                    peer: None,
                });
            }
            if b.contains(": sent ") {
                return k(EventKind::Sent {
                    exchange: x,
                    request,
                    step,
                    msgid: None,
                    peer: None,
                });
            }
        }
        return None;
    }

    // `us: 10.2.0.0/24===198.51.100.2[@sg2]  them: 192.0.2.1[@sg1]===10.1.0.0/24`: addresses only.
    if let (Some(us), Some(them)) = (after(b, "us: "), after(b, "them: ")) {
        let us = us.split("  them:").next().unwrap_or(us);
        let gw = |side: &str, local: bool| {
            let parts: Vec<&str> = side.trim().split("===").collect();
            let host = if local {
                parts.get(1).unwrap_or(&parts[0])
            } else {
                &parts[0]
            };
            let host = if local {
                host.split("---").next().unwrap_or(host)
            } else {
                host.rsplit("---").next().unwrap_or(host)
            };
            host.split(['[', '<']).next().unwrap_or(host).trim().to_string()
        };
        let mut c = Classified::new(EventKind::Other);
        c.local = Some(gw(us, true));
        c.peer = Some(gw(them, false));
        return Some(c);
    }

    // Deletes and statistics.
    if b.starts_with("received Delete SA") {
        return k(EventKind::Deleted {
            by_peer: true,
            state: None,
        });
    }
    // `deleting state (STATE_MAIN_I3) ...` (<= 4.x), `deleting IKE SA (IKE_AUTH_I) aged 0.1s and
    // sending notification` (5.x: IKE SA, Child SA, ISAKMP SA, IPsec SA).
    if let Some(r) = b.strip_prefix("deleting ") {
        let r = ["state (", "IKE SA (", "Child SA (", "ISAKMP SA (", "IPsec SA ("]
            .iter()
            .find_map(|p| r.strip_prefix(p));
        if let Some(r) = r {
            return k(EventKind::Deleted {
                by_peer: false,
                state: r.split(')').next().map(str::to_string),
            });
        }
    }
    if let Some(r) = after(b, "ESP traffic information:") {
        return k(EventKind::TrafficStats {
            in_bytes: after(r, "in=").and_then(size),
            out_bytes: after(r, "out=").and_then(size),
        });
    }
    None
}

/// NSS error names and what they say about the peer's certificate.
const NSS_REASONS: &[(&str, &str)] = &[
    ("SEC_ERROR_EXPIRED_CERTIFICATE", "expired"),
    ("SEC_ERROR_EXPIRED_ISSUER_CERTIFICATE", "expired"),
    ("SEC_ERROR_UNKNOWN_ISSUER", "unknown-issuer"),
    ("SEC_ERROR_UNTRUSTED_ISSUER", "untrusted-issuer"),
    ("SEC_ERROR_UNTRUSTED_CERT", "untrusted"),
    ("SEC_ERROR_REVOKED_CERTIFICATE", "revoked"),
    ("SEC_ERROR_REVOKED_KEY", "revoked"),
    ("SEC_ERROR_CA_CERT_INVALID", "ca-invalid"),
    ("SEC_ERROR_BAD_SIGNATURE", "bad-signature"),
    ("SEC_ERROR_INADEQUATE_KEY_USAGE", "key-usage"),
    ("SEC_ERROR_INADEQUATE_CERT_TYPE", "key-usage"),
    ("SEC_ERROR_PATH_LEN_CONSTRAINT_INVALID", "path-length"),
    ("SEC_ERROR_CERT_NOT_IN_NAME_SPACE", "name-constraint"),
    ("SEC_ERROR_CRL_EXPIRED", "crl-missing"),
    ("SEC_ERROR_CRL_NOT_YET_VALID", "crl-missing"),
    ("SEC_ERROR_CERT_NOT_VALID", "lifetime"),
];

/// NSS's English texts (Libreswan <= 3.x logs them alone on the line after `Certificate %s failed
/// %s verification`, as `ERROR: <text>`).
const NSS_TEXTS: &[(&str, &str)] = &[
    ("Peer's Certificate has expired", "expired"),
    ("Peer's Certificate issuer is not recognized", "unknown-issuer"),
    (
        "Peer's certificate issuer has been marked as not trusted",
        "untrusted-issuer",
    ),
    ("Peer's certificate has been marked as not trusted", "untrusted"),
    ("Peer's Certificate has been revoked", "revoked"),
    ("Issuer certificate is invalid", "ca-invalid"),
    ("Peer's certificate has an invalid signature", "bad-signature"),
    ("Certificate key usage inadequate", "key-usage"),
    ("certificate revoked!", "revoked"),
];

/// Certificate refusals, and certificates that do not carry the ID the connection wants.
fn cert_kind(b: &str) -> Option<EventKind> {
    // `X509: authentication failed; peer certificate subjectAltName extension does not match
    // ID_FQDN '@sg1.example.org'` (4.x/5.x; `;`, `,` or `:`): the quoted ID is the one the
    // connection expects. Without the `X509: authentication failed` lead the same text is only
    // informational: 5.x logs it when require-id-on-certificate=no lets the SA go on, 4.x after a
    // certificate already refused (the refusal is the cause); 3.x follows it with `X509:
    // connection failed due to unmatched IKE ID in certificate SAN`.
    if has_any(
        b,
        &[
            "subjectAltName extension does not match",
            "contains no subjectAltName extension to match",
            "subjectAltName extension failed to decode",
        ],
    ) {
        if !b.contains("X509: authentication failed") {
            return Some(EventKind::Other);
        }
        let expected = after(b, "extension does not match ")
            .or_else(|| after(b, "extension to match "))
            .or_else(|| after(b, "while looking for "))
            .and_then(quoted)
            .map(str::to_string);
        return Some(EventKind::IdMismatch { expected, got: None });
    }
    if has_any(
        b,
        &[
            "CERT payload does not match connection ID",
            "unmatched IKE ID in certificate SAN",
        ],
    ) {
        return Some(EventKind::IdMismatch {
            expected: None,
            got: None,
        });
    }
    if b.contains("NSS: warning:") {
        // A retryable usage check; the certificate may still pass with another usage.
        return Some(EventKind::Other);
    }
    if let Some(i) = b.find("SEC_ERROR_") {
        let r = &b[i..];
        let end = r
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(r.len());
        let code = &r[..end];
        let known = NSS_REASONS.iter().find(|(n, _)| *n == code).map(|(_, r)| r.to_string());
        if known.is_some() || b.contains("certificate") || b.contains("Certificate") {
            return Some(EventKind::CertInvalid {
                reason: known.unwrap_or_else(|| code.to_string()),
            });
        }
    }
    if let Some((_, reason)) = NSS_TEXTS.iter().find(|(t, _)| b.contains(t)) {
        return Some(EventKind::CertInvalid {
            reason: reason.to_string(),
        });
    }
    let reason = if has_any(
        b,
        &[
            "crl-strict=yes and Certificate Revocation List (CRL) is expired or missing",
            "missing or expired CRL in strict mode",
        ],
    ) {
        "crl-missing"
    } else if has_any(
        b,
        &[
            "no Certificate Authority in NSS Certificate DB",
            "No Certificate Authority in NSS Certificate DB",
        ],
    ) {
        "no-ca"
    } else if has_any(
        b,
        &[
            "X509: CERT payload bogus or revoked",
            "X509: certificate rejected for this connection",
            "X509: certificate payload rejected for this connection",
            "NSS: end certificate invalid",
            "X509: no EE-cert in chain",
            "FIPS: rejecting peer cert",
            "FIPS: Rejecting peer cert",
        ],
    ) || (b.starts_with("Certificate ") && b.contains(" verification"))
    {
        "rejected"
    } else {
        return None;
    };
    Some(EventKind::CertInvalid {
        reason: reason.to_string(),
    })
}

/// IKE over TCP that could not reach the peer: `TCP: socket 12: connecting to
/// 198.51.100.2:4500: Connection refused (errno 111)`.
fn tcp_kind(b: &str) -> Option<EventKind> {
    let r = b.strip_prefix("TCP: ")?;
    if let Some(to) = after(r, "connecting to ") {
        let (peer, err) = to.split_once(": ").unwrap_or((to, ""));
        return Some(EventKind::TcpConnectFailed {
            peer: Some(peer.trim().to_string()).filter(|p| !p.is_empty()),
            errno: text::errno_of(err),
        });
    }
    if r.contains("sending IKE-in-TCP prefix") || r.contains("send of IKE-in-TCP prefix failed") {
        return Some(EventKind::TcpConnectFailed {
            peer: None,
            errno: text::errno_of(r),
        });
    }
    None
}

/// "tunnel", "transport" or "beet" named in `s`.
fn mode_word(s: &str) -> Option<String> {
    let l = s.to_ascii_lowercase();
    ["transport", "tunnel", "beet"]
        .iter()
        .find(|m| l.contains(*m))
        .map(|m| m.to_string())
}

/// `policy dictates Transport Mode, but peer requested Tunnel Mode` (3.x-5.x),
/// `local policy requires Tunnel Mode but peer requires required Transport Mode` (3.x).
fn mode_kind(b: &str) -> Option<EventKind> {
    if let Some((ours, theirs)) = after(b, "policy dictates ").and_then(|r| r.split_once(", but peer requested ")) {
        return Some(EventKind::ModeMismatch {
            ours: mode_word(ours),
            theirs: mode_word(theirs),
        });
    }
    if let Some((ours, theirs)) = after(b, "local policy requires ").and_then(|r| r.split_once(" but peer requires ")) {
        return Some(EventKind::ModeMismatch {
            ours: mode_word(ours),
            theirs: mode_word(theirs),
        });
    }
    None
}

/// A child SA refused once the IKE SA stands: `CHILD SA failed: TEMPORARY_FAILURE`, `IKE_AUTH
/// response rejected Child SA with TS_UNACCEPTABLE`, `response for Child SA #2 was rejected with
/// ...`, `CREATE_CHILD_SA failed with error notification ...`, and the responder's `IKE SA
/// established but initiator rejected Child SA response`.
fn child_refused(b: &str) -> Option<EventKind> {
    if b.contains("initiator rejected Child SA response") {
        return Some(EventKind::ChildSaFailed);
    }
    // `Child SA's Traffic Selector response {...} does not fit the proposal ...`: the initiator
    // finds the responder's selectors outside what it proposed.
    if b.starts_with("Child SA's Traffic Selector") && b.contains("does not fit the proposal") {
        return Some(EventKind::TsUnacceptable { by_peer: false });
    }
    let refused = has_any(
        b,
        &[
            "CHILD SA failed: ",
            "CHILD SA encountered fatal error: ",
            "rejected Child SA with ",
            "peer rejected Child SA",
        ],
    ) || (b.starts_with("response for Child SA") && b.contains(" was rejected with "))
        || b.starts_with("CREATE_CHILD_SA failed with error notification");
    if !refused {
        return None;
    }
    Some(child_notify_kind(find_notify(b), true, b))
}

/// A child SA refusal carrying `notify` (if any), as the most specific kind.
pub(crate) fn child_notify_kind(notify: Option<&str>, by_peer: bool, b: &str) -> EventKind {
    match notify {
        None => EventKind::ChildSaFailed,
        Some("NO_PROPOSAL_CHOSEN") => EventKind::NoProposalChosen {
            phase: Some(2),
            by_peer,
        },
        Some(n) => match notify_kind(n, b) {
            EventKind::Notify { name, .. } => EventKind::ChildRejected { notify: name, by_peer },
            EventKind::TsUnacceptable { .. } => EventKind::TsUnacceptable { by_peer },
            EventKind::InvalidIdInformation { .. } => EventKind::InvalidIdInformation { by_peer },
            EventKind::InvalidKe { .. } => EventKind::InvalidKe { by_peer },
            EventKind::AuthFailed { .. } => EventKind::AuthFailed { by_peer },
            other => other,
        },
    }
}

/// NO_PROPOSAL_CHOSEN, AUTHENTICATION_FAILED... mapped to their kinds, with the direction.
pub(crate) fn notify_kind(name: &str, b: &str) -> EventKind {
    let by_peer = notify_from_peer(b).unwrap_or(true);
    match name {
        "NO_PROPOSAL_CHOSEN" => EventKind::NoProposalChosen {
            phase: phase_words(b),
            by_peer,
        },
        "INVALID_KE_PAYLOAD" => EventKind::InvalidKe { by_peer },
        // Sending AUTHENTICATION_FAILED is not the check that failed: that has its own line (or,
        // Libreswan 5.4 refusing a peer ID, none at all).
        "AUTHENTICATION_FAILED" if by_peer => EventKind::AuthFailed { by_peer },
        "TS_UNACCEPTABLE" => EventKind::TsUnacceptable { by_peer },
        "INVALID_ID_INFORMATION" => EventKind::InvalidIdInformation { by_peer },
        // Notifies that only ever refuse a child SA (RFC 7296 3.10.1, RFC 7383 aside).
        "TEMPORARY_FAILURE"
        | "FAILED_CP_REQUIRED"
        | "INTERNAL_ADDRESS_FAILURE"
        | "SINGLE_PAIR_REQUIRED"
        | "NO_ADDITIONAL_SAS"
        | "INVALID_SELECTORS" => EventKind::ChildRejected {
            notify: name.to_string(),
            by_peer,
        },
        _ => EventKind::Notify {
            name: name.to_string(),
            by_peer,
        },
    }
}

/// Phase named by the words of a line: 1 for IKE SA exchanges, 2 for child SA ones.
pub(crate) fn phase_words(b: &str) -> Option<u8> {
    if has_any(
        b,
        &[
            "IKE_AUTH",
            "Child SA",
            "CHILD_SA",
            "Quick Mode",
            "QUICK_",
            "IPsec SA",
            "CREATE_CHILD",
        ],
    ) {
        Some(2)
    } else if has_any(
        b,
        &[
            "IKE_SA_INIT",
            "Main Mode",
            "MAIN_",
            "Aggressive Mode",
            "AGGR_",
            "PARENT_I1",
            "PARENT_R0",
            "ISAKMP SA",
        ],
    ) {
        Some(1)
    } else {
        None
    }
}

fn ike_version_word(b: &str) -> Option<u8> {
    if b.contains("IKEv1") {
        Some(1)
    } else if b.contains("IKEv2") {
        Some(2)
    } else {
        None
    }
}

/// The exchange named at (or near) the start of `r`.
pub(crate) fn exchange_word(r: &str) -> Option<Exchange> {
    const WORDS: &[(&str, Exchange)] = &[
        ("Main Mode", Exchange::MainMode),
        ("Aggressive Mode", Exchange::AggressiveMode),
        ("Quick Mode", Exchange::QuickMode),
        ("IKE_SA_INIT", Exchange::IkeSaInit),
        ("IKE_AUTH", Exchange::IkeAuth),
        ("IKE_INTERMEDIATE", Exchange::IkeIntermediate),
        ("CREATE_CHILD_SA", Exchange::CreateChildSa),
        ("INFORMATIONAL", Exchange::Informational),
    ];
    let head = text::head(r, 40);
    let mut best: Option<(usize, Exchange)> = None;
    for (w, x) in WORDS {
        if let Some(i) = head.find(w) {
            if best.is_none_or(|(b, _)| i < b) {
                best = Some((i, *x));
            }
        }
    }
    best.map(|(_, x)| x)
}

/// A pluto state name on the line: `STATE_MAIN_I3`, `STATE_V2_PARENT_I1`, 5.x `IKE_AUTH_I`.
fn find_state(b: &str) -> Option<&str> {
    let tok_at = |i: usize| {
        let t = &b[i..];
        let end = t
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(t.len());
        &t[..end]
    };
    if let Some(i) = b.find("STATE_") {
        return Some(tok_at(i));
    }
    let first = tok_at(0);
    if (first.ends_with("_I") || first.ends_with("_R") || first.contains("_I") || first.contains("_R"))
        && b[first.len()..].starts_with(':')
    {
        return Some(first);
    }
    None
}

/// The exchange whose message a state last sent (or waits on), and the IKEv1 step.
fn state_exchange(state: Option<&str>) -> (Option<Exchange>, Option<u8>) {
    let Some(s) = state else {
        return (None, None);
    };
    let s = s.strip_prefix("STATE_").unwrap_or(s);
    let s = s.strip_prefix("V2_").unwrap_or(s);
    let step = s
        .rsplit('_')
        .next()
        .and_then(|t| t.get(1..))
        .and_then(|d| d.parse::<u8>().ok());
    let x = if s.starts_with("MAIN_") {
        Exchange::MainMode
    } else if s.starts_with("AGGR_") {
        Exchange::AggressiveMode
    } else if s.starts_with("QUICK_") {
        Exchange::QuickMode
    } else if s.starts_with("PARENT_I1") || s.starts_with("PARENT_R") || s.starts_with("IKE_SA_INIT") {
        Exchange::IkeSaInit
    } else if s.starts_with("PARENT_I2") || s.starts_with("IKE_AUTH") {
        Exchange::IkeAuth
    } else if s.contains("CHILD") || s.starts_with("REKEY") {
        Exchange::CreateChildSa
    } else if s.starts_with("INFO") || s.starts_with("XAUTH") || s.starts_with("MODE_CFG") {
        Exchange::InformationalV1
    } else {
        return (None, None);
    };
    let step = if x.ike_version() == 1 { step } else { None };
    (Some(x), step)
}

/// `{ESP=>0xaa6fa19a <0xa2f3b68d xfrm=... NATD=none DPD=enabled}`: the block's contents.
fn sa_block(b: &str) -> Option<&str> {
    let i = b.find("{ESP").or_else(|| b.find("{AH"))?;
    let inner = &b[i + 1..];
    if !inner.contains("=>") {
        return None;
    }
    Some(inner.split('}').next().unwrap_or(inner))
}

fn child_established(b: &str) -> EventKind {
    let mut spi_out = None;
    let mut spi_in = None;
    let mut natd = None;
    let mut encap = None;
    if let Some(block) = sa_block(b) {
        let mut toks = block.split_whitespace();
        if let Some(first) = toks.next() {
            if let Some((proto, spi)) = first.split_once("=>") {
                spi_out = hex_u32(spi);
                if proto.starts_with("ESP") {
                    encap = Some(proto.contains("inUDP") || proto.contains("/NAT"));
                }
            }
        }
        for t in toks {
            if let Some(s) = t.strip_prefix('<') {
                if spi_in.is_none() {
                    spi_in = hex_u32(s);
                }
            } else if let Some(v) = t.strip_prefix("NATD=") {
                natd = Some(v.to_string());
            }
        }
    }
    let mode = if b.contains("tunnel mode") || b.contains("IPsec tunnel") {
        Some("tunnel".to_string())
    } else if b.contains("transport mode") || b.contains("IPsec transport") {
        Some("transport".to_string())
    } else {
        None
    };
    let ts = after(b, "IPsec tunnel ")
        .or_else(|| after(b, "IPsec transport "))
        .map(|r| r.split(" {").next().unwrap_or(r).trim().to_string())
        .filter(|s| s.starts_with('['));
    let parent = after(b, "using #").or_else(|| after(b, "isakmp#")).and_then(num);
    EventKind::ChildSaEstablished {
        spi_out,
        spi_in,
        natd,
        encap,
        mode,
        ts,
        parent,
    }
}

/// _updown failures; `Some(status)` when the line is one.
fn updown(b: &str) -> Option<Option<i32>> {
    let status = after(b, "exited with status ").and_then(num);
    if status.is_some()
        || has_any(
            b,
            &[
                "-client output:",
                "-host output:",
                "-client-v6 output:",
                "-host-v6 output:",
                "command not found",
                "terminated with signal",
                "exited with unknown status",
            ],
        )
        || (b.starts_with("command \"") && b.contains(" output: "))
        || (b.contains("updown") && has_any(b, &["failed", "error", "ERROR"]))
    {
        return Some(status);
    }
    None
}

/// `0B`, `840B`, `12KB`, `1MB` (pluto's human sizes).
fn size(s: &str) -> Option<u64> {
    let n: u64 = num(s)?;
    let digits = s.trim_start().chars().take_while(char::is_ascii_digit).count();
    let unit = text::word(&s.trim_start()[digits..]);
    let mult = match unit.chars().next() {
        Some('K') => 1 << 10,
        Some('M') => 1 << 20,
        Some('G') => 1 << 30,
        Some('T') => 1 << 40,
        _ => 1,
    };
    Some(n.saturating_mul(mult))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(b: &str) -> EventKind {
        classify(b).unwrap_or_else(|| panic!("not classified: {b}")).kind
    }

    #[test]
    fn openswan_whack_states_from_the_write_up() {
        assert_eq!(
            kind("STATE_MAIN_I1: initiate"),
            EventKind::Sent {
                exchange: Exchange::MainMode,
                request: true,
                step: Some(1),
                msgid: None,
                peer: None
            }
        );
        assert_eq!(
            kind("STATE_MAIN_I3: sent MI3, expecting MR3"),
            EventKind::Sent {
                exchange: Exchange::MainMode,
                request: true,
                step: Some(3),
                msgid: None,
                peer: None
            }
        );
        assert_eq!(
            kind("STATE_MAIN_R2: sent MR2, expecting MI3"),
            EventKind::Sent {
                exchange: Exchange::MainMode,
                request: false,
                step: Some(2),
                msgid: None,
                peer: None
            }
        );
        assert!(matches!(
            kind("STATE_MAIN_I4: ISAKMP SA established"),
            EventKind::IkeSaEstablished { .. }
        ));
        assert_eq!(
            kind("STATE_QUICK_I2: sent QI2, IPsec SA established {ESP=>0xaa6fa19a <0xa2f3b68d xfrm=3DES_0-HMAC_SHA1 NATD=none DPD=enabled}"),
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
        assert_eq!(classify("received Vendor ID payload [Dead Peer Detection]"), None);
    }

    #[test]
    fn libreswan_child_sa_blocks() {
        // Libreswan 3.x IKEv1 responder, NAT-T in use.
        match kind("STATE_QUICK_R2: IPsec SA established tunnel mode {ESPinUDP=>0x5e0a29b6 <0xbd4f2fa2 xfrm=AES_CBC_128-HMAC_SHA1_96 NATOA=none NATD=203.0.113.1:4500 DPD=passive}") {
            EventKind::ChildSaEstablished { spi_out, spi_in, natd, encap, mode, .. } => {
                assert_eq!((spi_out, spi_in), (Some(0x5e0a_29b6), Some(0xbd4f_2fa2)));
                assert_eq!(natd.as_deref(), Some("203.0.113.1:4500"));
                assert_eq!((encap, mode.as_deref()), (Some(true), Some("tunnel")));
            }
            other => panic!("{other:?}"),
        }
        // Libreswan 4.x/5.x IKEv2 with traffic selectors and ESP/NAT.
        match kind("initiator established Child SA using #1; IPsec tunnel [10.1.0.0-10.1.0.255:0-65535 0] -> [10.2.0.0-10.2.0.255:0-65535 0] {ESP/NAT/ESN=>0x1f2e3d4c <0xc4d3e2f1 xfrm=AES_GCM_16_256-NONE DPD=passive}") {
            EventKind::ChildSaEstablished { spi_out, spi_in, encap, ts, parent, .. } => {
                assert_eq!((spi_out, spi_in), (Some(0x1f2e_3d4c), Some(0xc4d3_e2f1)));
                assert_eq!((encap, parent), (Some(true), Some(1)));
                assert_eq!(ts.as_deref(), Some("[10.1.0.0-10.1.0.255:0-65535 0] -> [10.2.0.0-10.2.0.255:0-65535 0]"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn libreswan4_progress_lines() {
        assert_eq!(
            kind("sent Main Mode request"),
            EventKind::Sent {
                exchange: Exchange::MainMode,
                request: true,
                step: Some(1),
                msgid: None,
                peer: None
            }
        );
        assert_eq!(
            kind("sent Main Mode I2"),
            EventKind::Sent {
                exchange: Exchange::MainMode,
                request: true,
                step: Some(2),
                msgid: None,
                peer: None
            }
        );
        assert_eq!(
            kind("sent Main Mode R1"),
            EventKind::Sent {
                exchange: Exchange::MainMode,
                request: false,
                step: Some(1),
                msgid: None,
                peer: None
            }
        );
        assert_eq!(
            kind("sent IKE_SA_INIT request to 192.0.2.32:500"),
            EventKind::Sent {
                exchange: Exchange::IkeSaInit,
                request: true,
                step: None,
                msgid: None,
                peer: Some("192.0.2.32:500".into())
            }
        );
        assert_eq!(
            kind("sent IKE_SA_INIT reply {cipher=AES_GCM_16_256 integ=n/a prf=HMAC_SHA2_512 group=MODP2048}"),
            EventKind::Sent {
                exchange: Exchange::IkeSaInit,
                request: false,
                step: None,
                msgid: None,
                peer: None
            }
        );
        assert_eq!(
            kind("initiating IKEv1 Main Mode connection"),
            EventKind::Initiating {
                ike_version: Some(1),
                exchange: Some(Exchange::MainMode),
                peer: None
            }
        );
        assert_eq!(
            kind("initiating IKEv2 connection"),
            EventKind::Initiating {
                ike_version: Some(2),
                exchange: Some(Exchange::IkeSaInit),
                peer: None
            }
        );
        assert_eq!(
            kind("responding to Quick Mode proposal {msgid:f04f025d}"),
            EventKind::Responding {
                ike_version: Some(1),
                exchange: Some(Exchange::QuickMode),
                peer: None
            }
        );
        assert_eq!(
            kind("processed IKE_SA_INIT response from 192.1.2.23:UDP/500 {cipher=AES_GCM_16_256 integ=n/a prf=HMAC_SHA2_512 group=DH19}, initiating IKE_AUTH"),
            EventKind::Received { exchange: Exchange::IkeSaInit, request: false, msgid: None, peer: Some("192.1.2.23:UDP/500".into()) }
        );
        assert!(classify("initiating connection 'sg1--sg2-net' with serial $1 which received a Delete/Notify but must remain up per local policy").is_none());
    }

    #[test]
    fn retransmits_and_timeouts() {
        assert_eq!(
            kind("STATE_MAIN_I3: retransmission; will wait 0.5 seconds for response"),
            EventKind::Retransmit {
                state: Some("STATE_MAIN_I3".into()),
                exchange: Some(Exchange::MainMode),
                step: Some(3),
                count: None,
                msgid: None
            }
        );
        assert_eq!(
            kind("STATE_MAIN_I3: 10 second timeout exceeded after 5 retransmits.  Possible authentication failure: no acceptable response to our first encrypted message"),
            EventKind::GaveUp { state: Some("STATE_MAIN_I3".into()), exchange: Some(Exchange::MainMode), step: Some(3), retransmits: Some(5) }
        );
        assert_eq!(
            kind("max number of retransmissions (2) reached STATE_MAIN_I1.  No response (or no acceptable response) to our first IKE message"),
            EventKind::GaveUp { state: Some("STATE_MAIN_I1".into()), exchange: Some(Exchange::MainMode), step: Some(1), retransmits: Some(2) }
        );
        assert_eq!(
            kind("STATE_V2_PARENT_I1: retransmission; will wait 0.5 seconds for response"),
            EventKind::Retransmit {
                state: Some("STATE_V2_PARENT_I1".into()),
                exchange: Some(Exchange::IkeSaInit),
                step: None,
                count: None,
                msgid: None
            }
        );
        assert_eq!(
            kind("IKE_AUTH_I: retransmission; will wait 1 seconds for response"),
            EventKind::Retransmit {
                state: Some("IKE_AUTH_I".into()),
                exchange: Some(Exchange::IkeAuth),
                step: None,
                count: None,
                msgid: None
            }
        );
        assert_eq!(
            kind("STATE_QUICK_I1: 10 second timeout exceeded after 5 retransmits.  No acceptable response to our first Quick Mode message: perhaps peer likes no proposal"),
            EventKind::GaveUp { state: Some("STATE_QUICK_I1".into()), exchange: Some(Exchange::QuickMode), step: Some(1), retransmits: Some(5) }
        );
    }

    #[test]
    fn certificate_sent() {
        assert_eq!(kind("I am sending my cert"), EventKind::CertSent);
        assert_eq!(
            kind("loaded private key matching left certificate 'sg1'"),
            EventKind::CertSent
        );
        assert_eq!(classify("I am sending a certificate request"), None);
    }

    #[test]
    fn authentication_and_ids() {
        assert_eq!(
            kind("probable authentication failure (mismatch of preshared secrets?): malformed payload in packet"),
            EventKind::AuthFailed { by_peer: false }
        );
        assert_eq!(
            kind("received Hash Payload does not match computed value"),
            EventKind::AuthFailed { by_peer: false }
        );
        assert_eq!(
            kind(
                "authentication failed: computed hash does not match hash received from peer ID_IPV4_ADDR '192.0.2.31'"
            ),
            EventKind::AuthFailed { by_peer: false }
        );
        assert_eq!(
            kind("IKE SA authentication request rejected by peer: AUTHENTICATION_FAILED"),
            EventKind::AuthFailed { by_peer: true }
        );
        assert_eq!(
            kind("Signature check (on @east) failed (wrong key?); tried *AQOm9dY/4"),
            EventKind::AuthFailed { by_peer: false }
        );
        assert_eq!(
            kind("authentication failed: no PSK found for '@sg1.example'"),
            EventKind::SecretMissing
        );
        assert_eq!(kind("Can't authenticate: no preshared key found for `@west' and `@east'.  Attribute OAKLEY_AUTHENTICATION_METHOD"), EventKind::SecretMissing);
        assert_eq!(
            kind("we require IKEv2 peer to have ID '@sg1', but peer declares '10.1.0.5'"),
            EventKind::IdMismatch {
                expected: Some("@sg1".into()),
                got: Some("10.1.0.5".into())
            }
        );
        assert_eq!(
            kind("Peer ID '@road' mismatched on first found connection and no better connection found"),
            EventKind::IdMismatch {
                expected: None,
                got: Some("@road".into())
            }
        );
        assert_eq!(
            kind("Peer ID is ID_IPV4_ADDR: '192.0.2.32'"),
            EventKind::PeerId {
                id: "ID_IPV4_ADDR: '192.0.2.32'".into()
            }
        );
        assert!(matches!(
            kind("initiator established IKE SA; authenticated peer using authby=secret and ID_IPV4_ADDR '192.0.2.32'"),
            EventKind::IkeSaEstablished { auth: Some(a), peer_id: Some(p), .. } if a == "secret" && p == "192.0.2.32"
        ));
    }

    #[test]
    fn proposals_and_selectors() {
        assert_eq!(
            kind("no acceptable Oakley Transform"),
            EventKind::NoProposalChosen {
                phase: Some(1),
                by_peer: false
            }
        );
        assert_eq!(
            kind("no local proposal matches remote proposals 1:IKE:ENCR=AES_CBC_128;PRF=HMAC_SHA2_256;INTEG=HMAC_SHA2_256_128;DH=MODP3072"),
            EventKind::NoProposalChosen { phase: Some(1), by_peer: false }
        );
        assert_eq!(
            kind("dropping unexpected IKE_SA_INIT message containing NO_PROPOSAL_CHOSEN notification; message payloads: N; missing payloads: SA,KE,Ni"),
            EventKind::NoProposalChosen { phase: Some(1), by_peer: true }
        );
        assert_eq!(
            kind("responding to IKE_SA_INIT message (ID 0) from 192.0.2.31:500 with unencrypted notification NO_PROPOSAL_CHOSEN"),
            EventKind::NoProposalChosen { phase: Some(1), by_peer: false }
        );
        assert_eq!(
            kind("sending notification NO_PROPOSAL_CHOSEN to 192.0.2.31:500"),
            EventKind::NoProposalChosen {
                phase: None,
                by_peer: false
            }
        );
        assert_eq!(
            kind("ignoring informational payload NO_PROPOSAL_CHOSEN, msgid=00000000, length=12"),
            EventKind::NoProposalChosen {
                phase: None,
                by_peer: true
            }
        );
        assert_eq!(
            kind("IKE_AUTH response rejected Child SA with TS_UNACCEPTABLE"),
            EventKind::TsUnacceptable { by_peer: true }
        );
        assert_eq!(
            kind("ignoring informational payload INVALID_ID_INFORMATION, msgid=00000000, length=12"),
            EventKind::InvalidIdInformation { by_peer: true }
        );
        assert_eq!(
            kind("we require PFS but Quick I1 SA specifies no GROUP_DESCRIPTION"),
            EventKind::PfsMismatch
        );
        assert_eq!(kind("cannot respond to IPsec SA request because no connection is known for 10.2.0.0/24===192.0.2.32...192.0.2.31===10.9.0.0/24"), EventKind::NoConnectionKnown { phase: Some(2) });
        assert_eq!(kind("initial Main Mode message received on 192.0.2.32:500 but no connection has been authorized with policy PSK+IKEV1_ALLOW"), EventKind::NoConnectionKnown { phase: Some(1) });
        assert_eq!(kind("initiator guessed wrong keying material group (MODP2048); responding with INVALID_KE_PAYLOAD requesting DH19"), EventKind::InvalidKe { by_peer: true });
        assert_eq!(
            kind("received and ignored notification payload: PAYLOAD_MALFORMED"),
            EventKind::Notify {
                name: "PAYLOAD_MALFORMED".into(),
                by_peer: true
            }
        );
    }

    #[test]
    fn kernel_updown_nat_and_errors() {
        assert_eq!(
            kind("netlink response for Add SA esp.e802c8e4@192.0.2.31: Protocol not supported (errno 93)"),
            EventKind::KernelInstallFailed {
                what: KernelObject::Sa,
                errno: Some(93)
            }
        );
        assert_eq!(
            kind("netlink response for Add SA esp.7d4f35c2@192.0.2.2 included errno 2: No such file or directory"),
            EventKind::KernelInstallFailed {
                what: KernelObject::Sa,
                errno: Some(2)
            }
        );
        assert_eq!(
            kind("setup_half_ipsec_sa() hit fail:"),
            EventKind::KernelInstallFailed {
                what: KernelObject::Sa,
                errno: None
            }
        );
        assert_eq!(
            kind("prepare-client output: /usr/libexec/ipsec/_updown.xfrm: line 120: ip: command not found"),
            EventKind::UpdownFailed { status: None }
        );
        assert_eq!(
            kind("up-client command exited with status 127"),
            EventKind::UpdownFailed { status: Some(127) }
        );
        assert_eq!(
            kind("route-client output: RTNETLINK answers: File exists"),
            EventKind::RouteFailed
        );
        assert_eq!(
            kind("NAT-Traversal: Result using RFC 3947 (NAT-Traversal): i am NATed"),
            EventKind::NatDetected {
                local_behind: Some(true),
                peer_behind: Some(false),
                forced: false
            }
        );
        assert_eq!(
            kind("NAT-Traversal: Result using draft-ietf-ipsec-nat-t-ike-02/03: peer is NATed"),
            EventKind::NatDetected {
                local_behind: Some(false),
                peer_behind: Some(true),
                forced: false
            }
        );
        assert_eq!(
            kind("ERROR: asynchronous network error report on lgxvb (192.0.2.32:500), complainant 192.0.2.31: Connection refused [errno 111, origin ICMP type 3 code 3 (not authenticated)]"),
            EventKind::NetworkError { errno: Some(111), icmp_type: Some(3), icmp_code: Some(3), complainant: Some("192.0.2.31".into()) }
        );
        assert_eq!(
            kind("ESP traffic information: in=0B out=1KB"),
            EventKind::TrafficStats {
                in_bytes: Some(0),
                out_bytes: Some(1024)
            }
        );
        assert_eq!(
            kind("DPD: No response from peer - declaring peer dead"),
            EventKind::PeerDead
        );
        assert_eq!(
            kind("ignoring fragment as peer never proposed fragmentation"),
            EventKind::IkeFragmentation { problem: true }
        );
        assert_eq!(
            classify("netlink_expire got message with length 116 < 232 bytes; ignore message"),
            None
        );
    }

    #[test]
    fn libreswan3_and_5_wordings() {
        // 3.x IKEv2 state names.
        assert_eq!(
            kind("STATE_PARENT_I2: sent v2I2, expected v2R2 {auth=IKEv2 cipher=aes_256 integ=sha256_128 prf=sha group=MODP2048}"),
            EventKind::Sent { exchange: Exchange::IkeAuth, request: true, step: None, msgid: None, peer: None }
        );
        assert!(matches!(
            kind("STATE_PARENT_I3: PARENT SA established tunnel mode {ESP=>0x3ff8a8ee <0x5b4dbd08 xfrm=AES_GCM_C_256-NONE NATOA=none NATD=none DPD=passive}"),
            EventKind::ChildSaEstablished { spi_out: Some(0x3ff8_a8ee), spi_in: Some(0x5b4d_bd08), encap: Some(false), .. }
        ));
        // 5.x: no whack codes, ISAKMP SA, retransmitting, debug-level NAT result.
        assert!(matches!(
            kind("ISAKMP SA established {auth=PRESHARED_KEY cipher=AES_CBC_256 integ=HMAC_SHA2_256 group=MODP2048}"),
            EventKind::IkeSaEstablished { auth: Some(a), .. } if a == "PRESHARED_KEY"
        ));
        assert_eq!(
            kind("retransmitting IKE_AUTH request; will wait 1 seconds for response"),
            EventKind::Retransmit {
                state: None,
                exchange: Some(Exchange::IkeAuth),
                step: None,
                count: None,
                msgid: None
            }
        );
        assert_eq!(
            kind("sent IKE_AUTH request to 192.1.2.23:UDP/4500"),
            EventKind::Sent {
                exchange: Exchange::IkeAuth,
                request: true,
                step: None,
                msgid: None,
                peer: Some("192.1.2.23:UDP/4500".into())
            }
        );
        assert_eq!(
            kind("NAT-Traversal: Result using RFC 3947 (NAT-Traversal) sender port 500: I am behind NAT"),
            EventKind::NatDetected {
                local_behind: Some(true),
                peer_behind: Some(false),
                forced: false
            }
        );
        assert_eq!(
            kind("IKE_SA_INIT_I: 10 second timeout exceeded after 5 retransmits.  No response (or no acceptable response) to our first IKEv2 message"),
            EventKind::GaveUp { state: Some("IKE_SA_INIT_I".into()), exchange: Some(Exchange::IkeSaInit), step: None, retransmits: Some(5) }
        );
        assert_eq!(
            kind("command \"ipsec _updown\" exited with status 1"),
            EventKind::UpdownFailed { status: Some(1) }
        );
    }

    #[test]
    fn us_them_gives_addresses_only() {
        let c = classify(
            "    us: 10.2.0.0/24===198.51.100.2[@sg2.example.org]  them: 192.0.2.1[@sg1.example.org]===10.1.0.0/24",
        )
        .unwrap();
        assert_eq!(c.kind, EventKind::Other);
        assert_eq!(
            (c.local.as_deref(), c.peer.as_deref()),
            (Some("198.51.100.2"), Some("192.0.2.1"))
        );
        let c = classify("us: 192.0.2.32---192.0.2.254  them: 192.0.2.254---192.0.2.31===10.31.0.0/24").unwrap();
        assert_eq!(
            (c.local.as_deref(), c.peer.as_deref()),
            (Some("192.0.2.32"), Some("192.0.2.31"))
        );
    }

    #[test]
    fn versions() {
        assert_eq!(
            kind("Starting Pluto (Libreswan Version 4.10 IKEv2 IKEv1 XFRM XFRMI esp-hw-offload FORK) pid:3812"),
            EventKind::DaemonStarted {
                daemon: Daemon::Pluto,
                version: Some("Libreswan 4.10".into())
            }
        );
        assert_eq!(
            kind("Starting Pluto (Openswan Version 2.6.38; Vendor ID OEu\\134d\\134aG\\134\\134\\134\\134) pid:2435"),
            EventKind::DaemonStarted {
                daemon: Daemon::Pluto,
                version: Some("Openswan 2.6.38".into())
            }
        );
        assert_eq!(
            kind("added IKEv2 connection"),
            EventKind::ConnectionAdded { ike_version: Some(2) }
        );
        let c = classify("added connection description \"sg1--sg2-net\"").unwrap();
        assert_eq!(c.conn.as_deref(), Some("sg1--sg2-net"));
    }
}
