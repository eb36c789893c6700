//! What the daemons' logs say: the most telling failure any log names, and, without packets,
//! how far the negotiation got (the write-up reads `ipsec auto --up` this way).

use super::{log_ev, Cause, Evidence, Finding};
use crate::correlate::Case;
use crate::logs::EventKind;
use std::collections::HashMap;

pub(super) fn log_ev_any(case: &Case<'_>, f: impl Fn(&EventKind) -> bool + Copy) -> Option<Evidence> {
    case.gws.iter().find_map(|g| log_ev(g, f))
}

/// Which log lines can be about the captured negotiation, worked out once per log: inside
/// the captures' time span (when the log's clock overlaps it at all; a log in another time
/// zone is taken whole), and not about a connection that only ever talked to someone else.
struct LogScope<'a> {
    /// The captures' time span, widened by a margin.
    window: Option<(f64, f64)>,
    /// Per log file name: does it overlap the window, and the connections named next to one
    /// of the gateways' addresses.
    logs: HashMap<&'a str, (bool, Vec<&'a str>)>,
}

impl<'a> LogScope<'a> {
    fn new(case: &'a Case<'_>) -> LogScope<'a> {
        const MARGIN: f64 = 120.0;
        let (mut start, mut end) = (f64::MAX, f64::MIN);
        for c in case.gws.iter().flat_map(|g| g.captures.iter()) {
            if let (Some(a), Some(b)) = (c.timeline.first_time, c.timeline.last_time) {
                start = start.min(a);
                end = end.max(b);
            }
        }
        let window = (start <= end).then_some((start - MARGIN, end + MARGIN));
        let ours: Vec<String> = case
            .gws
            .iter()
            .flat_map(|g| g.addrs.iter().map(|a| a.to_string()))
            .collect();
        let mut logs = HashMap::new();
        for l in case.gws.iter().flat_map(|g| g.logs.iter()) {
            let overlaps = window.is_some_and(|w| l.events.iter().any(|x| epoch(x).is_some_and(|t| inside(w, t))));
            let conns = l
                .events
                .iter()
                .filter(|x| ours.iter().any(|a| x.text.contains(a.as_str())))
                .filter_map(|x| x.conn.as_deref())
                .collect();
            logs.insert(l.name.as_str(), (overlaps, conns));
        }
        LogScope { window, logs }
    }

    fn relevant(&self, l: &crate::logs::LogFile, e: &crate::logs::LogEvent) -> bool {
        let Some((overlaps, conns)) = self.logs.get(l.name.as_str()) else {
            return true;
        };
        if let (true, Some(w), Some(t)) = (*overlaps, self.window, epoch(e)) {
            if !inside(w, t) {
                return false;
            }
        }
        match e.conn.as_deref() {
            Some(c) if !conns.is_empty() => conns.contains(&c),
            _ => true,
        }
    }
}

fn epoch(e: &crate::logs::LogEvent) -> Option<f64> {
    e.time.as_ref().and_then(|t| t.epoch)
}

fn inside((start, end): (f64, f64), t: f64) -> bool {
    t >= start && t <= end
}

/// The most telling failure named by any log, mapped to its cause.
pub(super) fn log_cause(case: &Case<'_>) -> Option<Finding> {
    use EventKind as K;
    let scope = LogScope::new(case);
    type Rule = (Cause, fn(&EventKind) -> bool, &'static str, &'static str);
    let rules: [Rule; 8] = [
        (Cause::ChildSaInstallFailed, |k| matches!(k, K::KernelInstallFailed { .. }),
            "the negotiation succeeded but the kernel refused to install the IPsec SA",
            "check the kernel's IPsec support (esp4/esp6, xfrm modules: `modprobe esp4`), and the log lines around the netlink error"),
        (Cause::IdMismatch, |k| matches!(k, K::IdMismatch { .. } | K::NoConnectionKnown { phase: Some(1) }),
            "the peer's ID does not match what the responder expects",
            "make leftid/rightid (local_id/remote_id) agree: what one end sends must be what the other expects"),
        (Cause::AuthFailed, |k| matches!(k, K::AuthFailed { .. } | K::SecretMissing),
            "authentication failed at the third exchange: the pre-shared keys or signatures do not match",
            "make the PSK identical on both ends (ipsec.secrets / secrets section), or check the certificates and the rightid/leftid they must match"),
        (Cause::IkeProposalRejected, |k| matches!(k, K::NoProposalChosen { phase: Some(1), .. } | K::InvalidKe { .. }),
            "the IKE (phase 1) proposals of the two ends have nothing in common",
            "align ike= / ike_proposals (cipher, integrity, PRF, DH group) on both ends"),
        (Cause::ChildProposalMismatch, |k| matches!(k, K::NoProposalChosen { phase: Some(2), .. } | K::PfsMismatch),
            "the IPsec (phase 2 / child SA) proposals do not match: ESP algorithms or PFS group",
            "align esp= / esp_proposals, including the PFS DH group (pfs=yes/no) on both ends"),
        (Cause::TrafficSelectorMismatch, |k| matches!(k, K::TsUnacceptable { .. } | K::InvalidIdInformation { .. } | K::NoConnectionKnown { phase: Some(2) }),
            "the subnets (traffic selectors) of the two ends do not match",
            "make leftsubnet/rightsubnet (local_ts/remote_ts) mirror each other exactly"),
        (Cause::IdMismatch, |k| matches!(k, K::NoConnectionKnown { phase: None }),
            "the responder has no connection for this peer",
            "check that the responder has a conn for the initiator's address and ID"),
        (Cause::ChildProposalMismatch, |k| matches!(k, K::NoProposalChosen { phase: None, .. } | K::ChildSaFailed),
            "a proposal was refused",
            "compare the ike= and esp= proposals of both ends; the log names the refused one"),
    ];
    // Phase 1 came up at least once: a "phase 1" refusal in the logs is then about something else
    // (IKEv1 informational notifies carry no phase).
    let p1_up = case
        .gws
        .iter()
        .any(|g| log_ev(g, |k| matches!(k, K::IkeSaEstablished { .. })).is_some());
    for (cause, f, summary, advice) in rules {
        if cause == Cause::IkeProposalRejected && p1_up {
            continue;
        }
        for g in &case.gws {
            let hit = g.events().find(|(l, e)| f(&e.kind) && scope.relevant(l, e));
            if let Some(ev) = hit.map(|(l, e)| super::log_evidence(l, e)) {
                let mut fi = Finding::new(cause, 0.9, format!("{summary} (log of {})", g.name))
                    .with(Some(ev))
                    .advise(advice);
                if cause == Cause::AuthFailed {
                    fi = fi.advise("the write-up: with a PSK the responder fails to decrypt MI3 and logs it; with RSA keys check leftrsasigkey/rightrsasigkey");
                }
                return Some(fi);
            }
        }
    }
    None
}

/// Without packets: how far the logs say the negotiation got (the write-up reads `ipsec auto
/// --up` this way: only STATE_MAIN_I1 is situation A, stuck at MI3 is B, quick mode is C).
pub(super) fn log_progress(case: &Case<'_>) -> Option<Finding> {
    use crate::logs::Exchange as X;
    use EventKind as K;
    for g in &case.gws {
        if let Some(ev) = log_ev(g, |k| {
            matches!(
                k,
                K::NetworkError {
                    icmp_type: Some(3),
                    icmp_code: Some(3),
                    ..
                }
            )
        }) {
            return Some(
                Finding::new(
                    Cause::ResponderNotListening,
                    0.8,
                    format!(
                        "{}'s log reports ICMP port unreachable from the peer: no IKE daemon listens there",
                        g.name
                    ),
                )
                .with(Some(ev))
                .advise("start the IKE daemon on the responder and check it listens on UDP 500 and 4500"),
            );
        }
    }
    let mut stuck: Option<(u8, Evidence, &str)> = None;
    for g in &case.gws {
        for (l, e) in g.events() {
            let (state, exchange, step) = match &e.kind {
                K::GaveUp {
                    state, exchange, step, ..
                }
                | K::Retransmit {
                    state, exchange, step, ..
                } => (state, exchange, step),
                _ => continue,
            };
            let st = state.as_deref().unwrap_or("");
            let stage = match (exchange, step) {
                (Some(X::QuickMode | X::CreateChildSa), _) => 3,
                (Some(X::IkeAuth | X::IkeIntermediate), _) | (Some(X::MainMode), Some(3)) => 2,
                (Some(X::MainMode | X::AggressiveMode | X::IkeSaInit), _) => 1,
                _ if st.contains("QUICK") => 3,
                _ if st.contains("MAIN_I3") || st.contains("PARENT_I2") || st.contains("IKE_AUTH") => 2,
                _ if st.contains("_I1") || st.contains("MAIN_I2") => 1,
                _ => continue,
            };
            if stuck.as_ref().is_none_or(|(s, _, _)| stage > *s) {
                stuck = Some((stage, super::log_evidence(l, e), g.name));
            }
        }
    }
    let (stage, ev, name) = stuck?;
    let f = match stage {
        1 => Finding::new(Cause::IkeBlockedOnPath, 0.4, format!("{name}'s log shows the first IKE message retransmitted and never answered (situation A)"))
            .advise("capture on both gateways (tcpdump -i eth1 -n -p udp port 500 or udp port 4500): a message that never arrives is blocked on the path (A2); one that arrives unanswered is filtered at the responder or its daemon is not running (A1)"),
        2 if case.gws.iter().any(|g| {
            log_ev(g, |k| matches!(k, K::NatDetected { local_behind: Some(true), forced: false, .. } | K::NatDetected { peer_behind: Some(true), forced: false, .. })).is_some()
        }) =>
        {
            Finding::new(Cause::NattPort4500Blocked, 0.45, format!("{name}'s log shows NAT detected and the third exchange, now on UDP 4500, retransmitted and never answered (situation B)"))
                .advise("capture on both gateways: if the UDP 4500 packets leave and never arrive, port 4500 is blocked; the rules must accept UDP 4500 from any source port")
                .advise("if they arrive, read the responder's log for an authentication failure")
        }
        2 => Finding::new(Cause::AuthFailed, 0.45, format!("{name}'s log shows the third exchange (MI3 / IKE_AUTH) retransmitted and never answered (situation B)"))
            .advise("read the responder's log: an authentication failure is logged there; if it logs nothing, capture both ends to look for dropped fragments or a blocked UDP 4500"),
        _ => Finding::new(Cause::ChildProposalMismatch, 0.35, format!("{name}'s log shows the IPsec SA negotiation (quick mode / CREATE_CHILD_SA) retransmitted and never answered (situation C)"))
            .advise("read the responder's log: it names the refused proposal or traffic selectors"),
    };
    Some(f.with(Some(ev)))
}
