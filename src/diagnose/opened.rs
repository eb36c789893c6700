//! What the keys opened: the IKEv2 messages' encrypted payloads say who sent which ID, which
//! traffic selectors and proposals were offered, and which notify refused them. With them,
//! situations B and C are read from the packets as the write-up reads them from the logs.

use super::{msg_evidence, Cause, Evidence, Finding};
use crate::correlate::{Case, MsgPath, MsgRef};
use crate::track::opened::{Decryption, Opened};
use crate::track::IkeMsg;
use crate::wire::isakmp::{exchange as ex, notify_type as nt};
use std::net::IpAddr;

/// A message of the chosen IKE SA whose encrypted payload was opened, at the end that has it.
struct Seen<'a> {
    at: MsgRef,
    m: &'a IkeMsg,
    o: &'a Opened,
}

fn opened(m: &IkeMsg) -> Option<&Opened> {
    match &m.opened {
        Some(Decryption::Opened(o)) => Some(o),
        _ => None,
    }
}

fn seen<'a>(case: &'a Case<'_>, p: &MsgPath) -> Option<Seen<'a>> {
    [p.sent, p.arrived].into_iter().flatten().find_map(|r| {
        let m = case.gw(r.gw).ike().get(r.idx)?;
        Some(Seen {
            at: r,
            m,
            o: opened(m)?,
        })
    })
}

/// The identities each address used in any opened message: IDi of the IKE SAs it initiated,
/// IDr of those it answered with AUTH.
fn identities(case: &Case<'_>) -> Vec<(IpAddr, String)> {
    let mut out: Vec<(IpAddr, String)> = Vec::new();
    for g in &case.gws {
        for m in g.ike() {
            let Some(o) = opened(m) else { continue };
            if m.exchange != ex::IKE_AUTH || o.auth.is_none() {
                continue;
            }
            let id = if m.is_response() { &o.idr } else { &o.idi };
            if let Some(id) = id {
                let k = (m.src.ip(), id.clone());
                if !out.contains(&k) && out.len() < 64 {
                    out.push(k);
                }
            }
        }
    }
    out
}

fn ev(case: &Case<'_>, s: &Seen<'_>, what: &str) -> Option<Evidence> {
    msg_evidence(case, s.at, what)
}

/// A child SA negotiated in the packets: an IKE_AUTH or CREATE_CHILD_SA reply with SA, TSi and
/// TSr and no error notify. The evidence is that reply.
pub fn child_negotiated(case: &Case<'_>, paths: &[MsgPath]) -> Option<Evidence> {
    paths.iter().filter_map(|p| seen(case, p)).find_map(|s| {
        let child = matches!(s.m.exchange, ex::IKE_AUTH | ex::CREATE_CHILD_SA)
            && s.m.is_response()
            && s.o.payloads.contains(&33)
            && !s.o.tsi.is_empty()
            && !s.o.tsr.is_empty()
            && !s.o.notifies.iter().any(|&n| n < 16384);
        if child {
            ev(case, &s, "child SA negotiated (decrypted)")
        } else {
            None
        }
    })
}

/// The cause the opened messages of one IKE SA (`paths` in time order) show, if any.
pub fn ike_cause(case: &Case<'_>, paths: &[MsgPath]) -> Option<Finding> {
    let msgs: Vec<Seen<'_>> = paths.iter().filter_map(|p| seen(case, p)).collect();
    let request = |x: u8| msgs.iter().find(|s| s.m.exchange == x && !s.m.is_response());
    let auth_req = request(ex::IKE_AUTH);
    let auth_resp = msgs.iter().find(|s| s.m.exchange == ex::IKE_AUTH && s.m.is_response());
    if let Some(r) = auth_resp {
        if let Some(f) = auth_refused(case, auth_req, r) {
            return Some(f);
        }
        if r.o.auth.is_some() {
            // The responder authenticated; the initiator may still refuse it.
            let refusal = msgs.iter().find(|s| {
                s.m.exchange == ex::INFORMATIONAL
                    && s.m.flags & 0x08 != 0
                    && !s.m.is_response()
                    && s.m.time >= r.m.time
                    && s.o.has_notify(nt::AUTHENTICATION_FAILED)
            });
            if let Some(x) = refusal {
                return Some(initiator_refused(case, auth_req, r, x));
            }
        }
        if let Some(f) = child_refused(case, auth_req, r) {
            return Some(f);
        }
    }
    for r in msgs
        .iter()
        .filter(|s| s.m.exchange == ex::CREATE_CHILD_SA && s.m.is_response())
    {
        let q = msgs
            .iter()
            .find(|q| q.m.exchange == ex::CREATE_CHILD_SA && !q.m.is_response() && q.m.msgid == r.m.msgid);
        if let Some(f) = child_refused(case, q, r) {
            return Some(f);
        }
    }
    install_failed(case, &msgs)
}

fn ids(o: &Opened) -> String {
    format!(
        "IDi {} and IDr {}",
        o.idi.as_deref().unwrap_or("(none)"),
        o.idr.as_deref().unwrap_or("(none: any)")
    )
}

/// The responder answered IKE_AUTH with AUTHENTICATION_FAILED (or IKEv1's
/// INVALID_ID_INFORMATION). A wrong PSK and a peer ID the responder has no connection for give
/// the same reply; the IDs tell them apart only when they contradict what is known.
fn auth_refused(case: &Case<'_>, q: Option<&Seen<'_>>, r: &Seen<'_>) -> Option<Finding> {
    let id_info = r.o.has_notify(nt::INVALID_ID_INFORMATION);
    if !id_info && !r.o.has_notify(nt::AUTHENTICATION_FAILED) {
        return None;
    }
    let sent = q.map(|q| ids(q.o)).unwrap_or_else(|| "IDs not seen".into());
    let reply = ev(case, r, "IKE_AUTH reply (decrypted)");
    let req = q.and_then(|q| ev(case, q, "IKE_AUTH request (decrypted)"));
    if id_info {
        return Some(
            Finding::new(
                Cause::IdMismatch,
                0.85,
                format!("the responder refused the initiator's identity with INVALID_ID_INFORMATION (decrypted); the initiator sent {sent}"),
            )
            .with(req)
            .with(reply)
            .advise("make leftid/rightid (local_id/remote_id) agree: the responder's rightid must be the ID the initiator sends"),
        );
    }
    // The initiator's ID is not one its certificate holds.
    if let Some(q) = q.filter(|q| !q.o.cert_names.is_empty()) {
        if let Some(id) =
            q.o.idi
                .as_deref()
                .filter(|id| !q.o.cert_names.iter().any(|n| n.eq_ignore_ascii_case(id)))
        {
            return Some(
                Finding::new(
                    Cause::IdMismatch,
                    0.8,
                    format!(
                        "the initiator identifies itself as {id} (IDi) with a certificate that does not hold that name (subject and subjectAltNames: {}); the responder answered AUTHENTICATION_FAILED",
                        q.o.cert_names.join("; ")
                    ),
                )
                .with(req)
                .with(reply)
                .advise("use an ID the certificate holds (leftid= its subject or a subjectAltName), or issue a certificate with the ID as subjectAltName"),
            );
        }
    }
    // The responder's own identity, where another exchange showed it.
    let responder = r.m.src.ip();
    let known: Vec<String> = identities(case)
        .into_iter()
        .filter(|(a, _)| *a == responder)
        .map(|(_, i)| i)
        .collect();
    if let Some(asked) = q.and_then(|q| q.o.idr.clone()) {
        if !known.is_empty() && !known.contains(&asked) {
            return Some(
                Finding::new(
                    Cause::IdMismatch,
                    0.8,
                    format!(
                        "the initiator asks for the responder ID {asked} (IDr), but the responder identifies itself as {}; it answered AUTHENTICATION_FAILED",
                        known.join(" or ")
                    ),
                )
                .with(req)
                .with(reply)
                .advise("set the initiator's rightid (remote_id) to the responder's leftid (local_id), or the other way round"),
            );
        }
    }
    // An address ID the NAT changed: the responder sees another address than the ID says.
    let idi_addr = q
        .and_then(|q| q.o.idi.as_deref())
        .and_then(|i| i.parse::<IpAddr>().ok());
    // The source address at the responder's end (a NAT rewrites it on the way).
    let arrived_from = q.and_then(|q| {
        let path = case
            .msgs
            .iter()
            .find(|p| p.sent == Some(q.at) || p.arrived == Some(q.at));
        let at = path.and_then(|p| p.arrived).unwrap_or(q.at);
        case.gw(at.gw).ike().get(at.idx).map(|m| m.src.ip())
    });
    if let (Some(id), Some(from)) = (idi_addr, arrived_from) {
        if id != from {
            return Some(
                Finding::new(
                    Cause::IdMismatch,
                    0.6,
                    format!(
                        "the initiator identifies itself by the address {id} (IDi) but reaches the responder from {from} (NAT), and the responder answered AUTHENTICATION_FAILED: a responder that expects the address it sees refuses that ID (a wrong PSK would give the same reply)"
                    ),
                )
                .with(req)
                .with(reply)
                .advise("behind NAT, set an explicit leftid (e.g. @name) on the initiator and the same rightid on the responder"),
            );
        }
    }
    Some(
        Finding::new(
            Cause::AuthFailed,
            0.65,
            format!(
                "the responder refused the initiator's authentication: its IKE_AUTH reply (decrypted) is N(AUTHENTICATION_FAILED); the initiator sent {sent}. A wrong PSK or signature and an ID the responder has no connection for give this same reply"
            ),
        )
        .with(req)
        .with(reply)
        .advise("compare the PSK (ipsec.secrets / secrets) on both ends, and that the responder's rightid (remote_id) is the IDi shown")
        .advise("the responder's log says which: a hash/MAC mismatch, or no connection for the peer ID"),
    )
}

/// The responder authenticated (IDr, AUTH) and the initiator refused it afterwards.
fn initiator_refused(case: &Case<'_>, q: Option<&Seen<'_>>, r: &Seen<'_>, x: &Seen<'_>) -> Finding {
    let asked = q.and_then(|q| q.o.idr.clone());
    let got = r.o.idr.clone();
    let req = q.and_then(|q| ev(case, q, "IKE_AUTH request (decrypted)"));
    let reply = ev(case, r, "IKE_AUTH reply (decrypted)");
    let refusal = ev(case, x, "the initiator's refusal (decrypted)");
    match (asked, got) {
        (Some(a), Some(g)) if a != g => Finding::new(
            Cause::IdMismatch,
            0.85,
            format!("the initiator asked for the responder ID {a} and the responder answered as {g}; the initiator then refused it with AUTHENTICATION_FAILED"),
        )
        .with(req)
        .with(reply)
        .with(refusal)
        .advise("set the initiator's rightid (remote_id) to the responder's leftid (local_id)"),
        _ => Finding::new(
            Cause::AuthFailed,
            0.75,
            "the responder authenticated itself (IDr, AUTH in its IKE_AUTH reply) and the initiator refused its AUTH with AUTHENTICATION_FAILED: the responder's PSK, signature or certificate does not verify at the initiator",
        )
        .with(reply)
        .with(refusal)
        .advise("compare the PSK on both ends, or check the responder's certificate against the initiator's CA and rightid"),
    }
}

/// The ESP SA keyed for the SPI the initiator proposed: a daemon derived the child SA's keys,
/// which it does only once the proposal and traffic selectors are agreed.
fn keyed_child(case: &Case<'_>, q: &Seen<'_>) -> Option<u32> {
    q.o.child_spis
        .iter()
        .copied()
        .find(|spi| esp_keys(case).any(|sa| sa.spi == Some(*spi)))
}

/// The ESP SAs of the keys given (every capture's timeline holds the same key ring).
fn esp_keys<'c>(case: &'c Case<'_>) -> impl Iterator<Item = &'c crate::keys::EspSa> {
    case.gws
        .iter()
        .find_map(|g| g.tl()?.keys())
        .into_iter()
        .flat_map(|k| k.esp.iter())
}

/// ESP keys given for an SA between the two ends of `m` while no ESP of that SPI was seen: a
/// daemon derived a child SA's keys, which it does only once the child SA is agreed. Its SPI.
fn keyed_unused_esp(case: &Case<'_>, m: &IkeMsg) -> Option<u32> {
    let ends = [m.src.ip(), m.dst.ip()];
    let seen = |spi: u32| case.esp.iter().any(|p| p.spi == spi);
    esp_keys(case)
        .filter(|sa| sa.dst.is_some_and(|d| ends.contains(&d)) && sa.src.is_none_or(|s| ends.contains(&s)))
        .filter_map(|sa| sa.spi)
        .find(|&spi| !seen(spi))
}

/// A reply that refuses the child SA, unread (its keys are missing), when the keys given show
/// the child SA was keyed: installing it failed, not the negotiation.
pub fn refused_after_keying(case: &Case<'_>, req: MsgRef, reply: MsgRef, what: &str) -> Option<Finding> {
    let m = case.gw(reply.gw).ike().get(reply.idx)?;
    let spi = keyed_unused_esp(case, m)?;
    Some(
        Finding::new(
            Cause::ChildSaInstallFailed,
            0.65,
            format!(
                "the {what} reply carries no child SA, but the keys given include ESP keys for SPI 0x{spi:08x} between these gateways, never used: a daemon agreed on the child SA and derived its keys, so installing it failed (not the proposal or the traffic selectors)"
            ),
        )
        .with(msg_evidence(case, req, &format!("{what} request")))
        .with(msg_evidence(case, reply, &format!("{what} reply")))
        .advise("read the log that holds those keys around the refusal: the kernel error adding the SA (a missing esp4/xfrm module, an algorithm the kernel lacks)"),
    )
}

/// The IKE SA is up and the reply refuses the child SA: the notify names why.
fn child_refused(case: &Case<'_>, q: Option<&Seen<'_>>, r: &Seen<'_>) -> Option<Finding> {
    let what = if r.m.exchange == ex::IKE_AUTH {
        "IKE_AUTH"
    } else {
        "CREATE_CHILD_SA"
    };
    let req = q.and_then(|q| ev(case, q, &format!("{what} request (decrypted)")));
    let reply = ev(case, r, &format!("{what} reply (decrypted)"));
    let refusal = [nt::TS_UNACCEPTABLE, nt::NO_PROPOSAL_CHOSEN, nt::TEMPORARY_FAILURE]
        .into_iter()
        .find(|&n| r.o.has_notify(n));
    // Refused after it was keyed: not the selectors or the proposal, the install (Libreswan
    // answers TS_UNACCEPTABLE when the kernel refuses the SA).
    if let (Some(n), Some(spi)) = (refusal, q.and_then(|q| keyed_child(case, q))) {
        return Some(
            Finding::new(
                Cause::ChildSaInstallFailed,
                0.75,
                format!(
                    "the {what} reply (decrypted) refuses the child SA with {}, but the keys given include the child SA's ESP keys for SPI 0x{spi:08x}, the initiator's proposed SPI: the responder had agreed on the proposal and traffic selectors and derived the keys, so installing the SA failed",
                    crate::track::opened::notify_name(n)
                ),
            )
            .with(req)
            .with(reply)
            .advise("read the responder's log around the refusal: the kernel error adding the SA (a missing esp4/xfrm module, an algorithm the kernel lacks)"),
        );
    }
    if r.o.has_notify(nt::TS_UNACCEPTABLE) {
        let offered = q
            .map(|q| format!("TSi {} and TSr {}", q.o.tsi.join(","), q.o.tsr.join(",")))
            .unwrap_or_else(|| "traffic selectors not seen".into());
        return Some(
            Finding::new(
                Cause::TrafficSelectorMismatch,
                0.9,
                format!("the responder refused the child SA's traffic selectors with TS_UNACCEPTABLE (decrypted {what} reply); the initiator offered {offered}"),
            )
            .with(req)
            .with(reply)
            .advise("make leftsubnet/rightsubnet (local_ts/remote_ts) mirror each other: the responder's must contain what the initiator offers"),
        );
    }
    if r.o.has_notify(nt::NO_PROPOSAL_CHOSEN)
        || (r.m.exchange == ex::CREATE_CHILD_SA && r.o.has_notify(nt::INVALID_KE_PAYLOAD))
    {
        let offered = q.map(|q| q.o.proposals.join("; ")).filter(|p| !p.is_empty());
        let pfs = r.o.has_notify(nt::INVALID_KE_PAYLOAD);
        return Some(
            Finding::new(
                Cause::ChildProposalMismatch,
                0.9,
                format!(
                    "the responder refused the child SA's proposal with {} (decrypted {what} reply){}",
                    if pfs {
                        "INVALID_KE_PAYLOAD: a PFS group mismatch"
                    } else {
                        "NO_PROPOSAL_CHOSEN"
                    },
                    offered
                        .map(|o| format!("; the initiator offered {o}"))
                        .unwrap_or_default()
                ),
            )
            .with(req)
            .with(reply)
            .advise("make esp= / esp_proposals (and the PFS group) overlap on both ends"),
        );
    }
    let cp = [nt::INTERNAL_ADDRESS_FAILURE, nt::FAILED_CP_REQUIRED]
        .into_iter()
        .find(|&n| r.o.has_notify(n));
    if let Some(n) = cp {
        return Some(
            Finding::new(
                Cause::TrafficSelectorMismatch,
                0.6,
                format!(
                    "the responder refused the child SA with {} (decrypted {what} reply): no internal address to assign, so no traffic selector to agree on",
                    crate::track::opened::notify_name(n)
                ),
            )
            .with(req)
            .with(reply)
            .advise("check the responder's address pool (rightaddresspool / pools) and whether the initiator asks for an address (leftmodecfgclient / vips)"),
        );
    }
    None
}

/// The child SA was negotiated and deleted right after, with no ESP: the kernel refused it.
fn install_failed(case: &Case<'_>, msgs: &[Seen<'_>]) -> Option<Finding> {
    if !case.esp.is_empty() {
        return None;
    }
    let neg = msgs.iter().find(|s| {
        matches!(s.m.exchange, ex::IKE_AUTH | ex::CREATE_CHILD_SA)
            && s.m.is_response()
            && s.o.payloads.contains(&33)
            && !s.o.tsi.is_empty()
    })?;
    let del = msgs.iter().find(|s| {
        s.m.exchange == ex::INFORMATIONAL
            && !s.m.is_response()
            && s.m.time >= neg.m.time
            && s.m.time - neg.m.time < 10.0
            && s.o.deletes.iter().any(|d| d.starts_with("ESP") || d.starts_with("AH"))
    })?;
    Some(
        Finding::new(
            Cause::ChildSaInstallFailed,
            0.55,
            format!(
                "the child SA was negotiated (decrypted reply with SA and traffic selectors) and deleted {:.1} s later with no ESP sent: a gateway could not install it (kernel or daemon)",
                del.m.time - neg.m.time
            ),
        )
        .with(ev(case, neg, "child SA negotiated (decrypted)"))
        .with(ev(case, del, "deleted (decrypted)"))
        .advise("read the logs of the gateway that sent the Delete: a kernel error installing the SA (missing esp4/xfrm modules, an unsupported algorithm)"),
    )
}
