//! Situations A, B and C: how far the IKE negotiation got, and why it stopped there.

use super::logs::{healthy_proof, log_cause, log_ev_any, log_progress, LogFacts};
use super::{fmt_time, msg_evidence, rfc3339, Cause, Evidence, Finding};
use crate::correlate::{Case, GwId, MsgPath, MsgRef};
use crate::logs::EventKind;
use crate::track::IkeMsg;
use crate::wire::isakmp::{exchange as ex, notify_type};
use std::collections::HashMap;
use std::net::IpAddr;

/// What the IKE analysis found; the ESP rules (situation D) build on it.
#[derive(Debug, Default)]
pub struct IkeAnalysis {
    pub problem: Option<Finding>,
    pub observations: Vec<Finding>,
    /// IKE SA (phase 1) established, by the packets or the logs.
    pub ike_up: bool,
    /// Child SA (phase 2) established, by the logs or by ESP flowing.
    pub child_up: bool,
    pub initiator: Option<GwId>,
    /// IKE moved to UDP 4500.
    pub natt: bool,
    /// The chosen IKE SA is IKEv2 (whose child SA outcome is encrypted).
    pub v2: bool,
    /// IKEv2: the IKE_AUTH reply is large enough to carry the child SA's payloads.
    pub child_inferred: bool,
    pub healthy_confidence: f64,
    pub healthy_summary: String,
    pub healthy_evidence: Vec<Evidence>,
}

/// A message of the chosen IKE SA with the role of its sender.
#[derive(Debug, Clone, Copy)]
struct View<'a> {
    path: MsgPath,
    m: &'a IkeMsg,
    from_initiator: bool,
}

impl View<'_> {
    fn at(&self) -> MsgRef {
        self.path
            .sent
            .or(self.path.arrived)
            .expect("a path has a sent or arrived end")
    }
}

/// Negotiation steps in order; a stall is the first step sent and not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// MI1 / IKE_SA_INIT request / AI1
    First,
    /// MI2 (IKEv1 main mode KE exchange)
    Second,
    /// MI3 / IKE_AUTH request / AI2
    Auth,
    /// Quick mode / CREATE_CHILD_SA
    Child,
}

fn msg<'a>(case: &'a Case<'_>, r: MsgRef) -> &'a IkeMsg {
    &case.gw(r.gw).ike()[r.idx]
}

/// The initiator's address per capture and IKE SA, as that capture sees it (a NAT changes it
/// between captures; one gateway may initiate some SAs and answer others).
fn initiator_addrs(case: &Case<'_>) -> HashMap<(GwId, [u8; 8]), IpAddr> {
    let mut out = HashMap::new();
    for gi in case.gw_ids() {
        for m in case.gw(gi).ike() {
            let first = m.rspi == [0; 8]
                && matches!(
                    m.exchange,
                    ex::IDENTITY_PROTECTION | ex::AGGRESSIVE | ex::BASE | ex::IKE_SA_INIT
                )
                && (m.major < 2 || m.flags & 0x08 != 0);
            if first {
                out.entry((gi, m.ispi)).or_insert(m.src.ip());
            }
        }
    }
    out
}

fn from_initiator(m: &IkeMsg, at: GwId, init: &HashMap<(GwId, [u8; 8]), IpAddr>) -> bool {
    if m.major >= 2 {
        return m.flags & 0x08 != 0;
    }
    init.get(&(at, m.ispi)).is_some_and(|a| *a == m.src.ip())
}

/// A request (as opposed to a reply): IKEv2 says so in its flags; in IKEv1 the initiator of
/// the phase-1 SA sends the requests of the exchanges we follow.
fn is_request(v: &View<'_>) -> bool {
    if v.m.major >= 2 {
        !v.m.is_response()
    } else {
        v.from_initiator
    }
}

/// The step of one message whose content is known (IKEv1 fragments without their first one
/// are placed by [`classify`]).
fn step_of(v: &View<'_>, first_digest: Option<u64>) -> Option<Step> {
    let m = v.m;
    match m.exchange {
        ex::IKE_SA_INIT => Some(Step::First),
        ex::IKE_AUTH | 43 => Some(Step::Auth),
        ex::CREATE_CHILD_SA | ex::QUICK_MODE => Some(Step::Child),
        ex::IDENTITY_PROTECTION => {
            if m.is_v1_encrypted() {
                Some(Step::Auth)
            } else if Some(m.digest) == first_digest || (v.from_initiator && m.rspi == [0; 8]) {
                Some(Step::First)
            } else if v.from_initiator || m.payloads.contains(&4) {
                Some(Step::Second)
            } else {
                Some(Step::First)
            }
        }
        ex::AGGRESSIVE | ex::BASE => {
            if v.from_initiator && m.rspi == [0; 8] {
                Some(Step::First)
            } else if v.from_initiator {
                Some(Step::Auth)
            } else {
                Some(Step::First)
            }
        }
        _ => None,
    }
}

/// The step of every message of one IKE SA (`vs` in time order). A main mode message seen only
/// as IKEv1 fragments without the first one has no readable header or payloads: it is placed by
/// what came before it. A responder's fragmented message is MR3 only once the initiator's MI3
/// was seen (else it is MR2, typically retransmitted in fragments because MI3 was not accepted);
/// an initiator's is MI3 once the responder's MR2 was seen.
fn classify(vs: &[View<'_>]) -> Vec<Option<Step>> {
    let first_digest = vs.iter().find(|v| v.from_initiator).map(|v| v.m.digest);
    let mut out = Vec::with_capacity(vs.len());
    let (mut mi3, mut mr2) = (false, false);
    for v in vs {
        let s = if v.m.content_unknown() && v.m.exchange == ex::IDENTITY_PROTECTION {
            Some(match (v.from_initiator, mi3, mr2) {
                (false, true, _) | (true, _, true) => Step::Auth,
                _ => Step::Second,
            })
        } else {
            step_of(v, first_digest)
        };
        if s == Some(Step::Auth) && v.from_initiator {
            mi3 = true;
        }
        if s == Some(Step::Second) && !v.from_initiator {
            mr2 = true;
        }
        out.push(s);
    }
    out
}

/// Splits one IKE SA's messages (`vs` in time order, `t` their common-clock time) into steps.
/// A step counts as answered only by a response that no retransmission of an earlier step's
/// message follows: a responder that sends MR2 again did not accept MI3, whatever came before.
fn build_steps<'a>(vs: &[View<'a>], t: impl Fn(&View<'_>) -> f64) -> Vec<(Step, StepState<'a>)> {
    let classes = classify(vs);
    let mut steps: Vec<(Step, StepState<'a>)> = Vec::new();
    for (v, s) in vs.iter().zip(&classes) {
        let Some(s) = *s else { continue };
        let i = match steps.iter().position(|(k, _)| *k == s) {
            Some(i) => i,
            None => {
                steps.push((s, StepState::default()));
                steps.len() - 1
            }
        };
        if is_request(v) {
            steps[i].1.requests.push(*v);
        } else {
            steps[i].1.responses.push(*v);
        }
    }
    steps.sort_by_key(|(s, _)| *s);
    for (s, st) in &mut steps {
        // The last retransmission of an earlier step's message sent after this step began.
        let began = st.requests.iter().map(&t).fold(f64::MAX, f64::min);
        let undone = vs
            .iter()
            .zip(&classes)
            .filter(|(v, c)| c.is_some_and(|c| c < *s) && v.m.retransmission && t(v) > began)
            .max_by(|a, b| t(a.0).total_cmp(&t(b.0)))
            .map(|(v, _)| *v);
        if let Some(u) = undone {
            let before = st.responses.len();
            st.responses.retain(|r| t(r) > t(&u));
            st.undone_by = Some(u);
            st.withdrawn = before - st.responses.len();
        }
    }
    steps
}

#[derive(Debug, Default)]
struct StepState<'a> {
    requests: Vec<View<'a>>,
    /// Responses that stand: none of them is followed by a retransmission of an earlier step.
    responses: Vec<View<'a>>,
    /// A retransmission of an earlier step's message after this step's request: the request
    /// was not accepted (at least not before it).
    undone_by: Option<View<'a>>,
    /// Responses discounted because such a retransmission followed them.
    withdrawn: usize,
}

pub fn analyse(case: &Case<'_>) -> IkeAnalysis {
    let mut a = IkeAnalysis {
        healthy_confidence: 0.5,
        ..Default::default()
    };
    let init_addrs = initiator_addrs(case);
    // Group the messages by IKE SA (initiator SPI / cookie).
    let mut groups: HashMap<[u8; 8], Vec<View<'_>>> = HashMap::new();
    for p in &case.msgs {
        let Some(r) = p.sent.or(p.arrived) else { continue };
        let m = msg(case, r);
        let v = View {
            path: *p,
            m,
            from_initiator: from_initiator(m, r.gw, &init_addrs),
        };
        groups.entry(m.ispi).or_default().push(v);
    }
    observe(case, &mut a);
    // What the logs say, read once.
    let logs = LogFacts::new(case);
    let log_cause = log_cause(&logs);
    if groups.is_empty() {
        // No IKE in any capture: only the logs can speak.
        // Healthy needs proof: the child SA seen established. Nothing seen is not proof.
        if let Some(f) = log_cause.or_else(|| log_progress(&logs)) {
            a.problem = Some(f);
        } else if let Some(up) = healthy_proof(&logs) {
            a.healthy_summary = if case.gws.iter().all(|g| g.ext.is_none()) {
                "the logs show the IKE and IPsec SAs established; only captures can tell whether ESP flows (situation D)"
            } else {
                "the logs show the IKE and IPsec SAs established, but the captures hold no IKE: they cannot confirm it"
            }
            .into();
            a.healthy_confidence = 0.5;
            a.healthy_evidence.push(up);
        } else {
            let failed = log_ev_any(case, |k| matches!(k, EventKind::CliResult { success: false }));
            let what = if failed.is_some() {
                "the up command reports a failure, but nothing given shows how far the negotiation got"
            } else if case.gws.iter().all(|g| g.ext.is_none()) {
                "the logs show no IKE negotiation (no attempt, no SA established) and there is no capture"
            } else {
                "the captures hold no IKE and the logs show no negotiation"
            };
            a.problem = Some(
                Finding::new(Cause::Inconclusive, 0.0, format!("cannot tell: {what}"))
                    .with(failed)
                    .advise("bring the tunnel up (ipsec auto --up CONN / swanctl --initiate --child NAME) while capturing on both gateways, and give both daemons' logs: `ipsec-doctor capture-filter` prints the capture command"),
            );
        }
        return a;
    }
    // With both gateways captured, SAs with a third peer are not this tunnel's.
    if case.gws.len() == 2 {
        let between = |vs: &Vec<View<'_>>| vs.iter().any(|v| v.path.from.is_some() && v.path.to.is_some());
        if groups.values().any(between) {
            groups.retain(|_, vs| between(vs));
        }
    }
    // The SA that got furthest (the first attempt on a tie) is the one the user is looking at.
    let mut best: Option<(Step, bool, f64, [u8; 8])> = None;
    let mut best_steps = Vec::new();
    let t = |v: &View<'_>| case.on_first_clock(v.at().gw, v.m.time);
    for vs in groups.values_mut() {
        vs.sort_by(|a, b| t(a).total_cmp(&t(b)));
    }
    for (spi, vs) in &groups {
        let steps = build_steps(vs, t);
        let mut top = (Step::First, false);
        for (s, st) in &steps {
            let k = (*s, !st.responses.is_empty());
            if !st.requests.is_empty() || k.1 {
                top = top.max(k);
            }
        }
        // On a tie the first attempt: later ones (keyingtries) repeat it with less evidence.
        let first = vs.iter().map(|v| v.m.time).fold(f64::MAX, f64::min);
        let key = (top.0, top.1, -first, *spi);
        if best.is_none_or(|b| (key.0, key.1, key.2) > (b.0, b.1, b.2)) {
            best = Some(key);
            best_steps = steps;
        }
    }
    let Some((_, _, _, spi)) = best else { return a };
    let steps = best_steps;
    // In time order (the second capture's clock set to the first's, above), so evidence shows
    // the first attempt.
    let vs = groups.remove(&spi).unwrap_or_default();
    let vs = &vs;
    // The gateway that sent this SA's first message.
    a.initiator = vs
        .iter()
        .find(|v| v.from_initiator && v.m.rspi == [0; 8])
        .and_then(|v| v.path.from);
    a.natt = vs.iter().any(|v| v.m.natt);
    let v1 = vs.iter().any(|v| v.m.major == 1);
    // What the keys opened (IKEv2): a cause read from the decrypted messages stands in for the
    // logs' where they are silent, and adds its evidence where they agree.
    let paths: Vec<MsgPath> = vs.iter().map(|v| v.path).collect();
    let log_cause = match (log_cause, super::opened::ike_cause(case, &paths)) {
        (Some(mut l), Some(p)) => {
            if l.cause == p.cause {
                l.evidence.extend(p.evidence);
                l.evidence.truncate(super::MAX_EVIDENCE);
            }
            Some(l)
        }
        (l, p) => l.or(p),
    };
    let child_seen = super::opened::child_negotiated(case, &paths);
    a.ike_up = steps.iter().any(|(s, st)| *s >= Step::Auth && !st.responses.is_empty())
        || case
            .gws
            .iter()
            .any(|g| super::find_log(g, |k| matches!(k, EventKind::IkeSaEstablished { .. })).is_some());
    a.v2 = !v1;
    a.child_up = child_seen.is_some()
        || case
            .gws
            .iter()
            .any(|g| super::find_log(g, |k| matches!(k, EventKind::ChildSaEstablished { .. })).is_some())
        || (v1
            && steps
                .iter()
                .any(|(s, st)| *s == Step::Child && !st.responses.is_empty()));
    // Proposal refused in the first exchange.
    for (s, st) in &steps {
        if *s != Step::First {
            continue;
        }
        let refusal = st
            .responses
            .iter()
            .chain(
                vs.iter()
                    .filter(|v| !v.from_initiator && v.m.exchange == ex::INFORMATIONAL_V1),
            )
            .find(|v| {
                v.m.has_notify(notify_type::NO_PROPOSAL_CHOSEN)
                    || (v.m.major >= 2
                        && v.m.has_notify(notify_type::INVALID_KE_PAYLOAD)
                        && !v.m.payloads.contains(&33))
            });
        if let Some(r) = refusal {
            if !a.ike_up {
                let f = Finding::new(
                    Cause::IkeProposalRejected,
                    0.9,
                    "the responder refused the initiator's IKE proposals (phase 1 / IKE_SA_INIT)",
                )
                .with(msg_evidence(case, r.at(), "refusal"))
                .with(st.requests.first().and_then(|q| msg_evidence(case, q.at(), "proposal sent")))
                .with(log_ev_any(case, |k| matches!(k, EventKind::NoProposalChosen { .. } | EventKind::Proposals { .. } | EventKind::InvalidKe { .. })))
                .advise("compare ike=/ike_proposals (encryption, integrity, PRF, DH group) on both ends; `ipsec-doctor dump -v` shows the proposals sent")
                .advise("the responder's log lists what it received and what it is configured to accept");
                a.problem = Some(f);
                return a;
            }
        }
    }
    // The first step sent and not answered at the initiator.
    for (s, st) in &steps {
        if st.requests.is_empty() {
            continue;
        }
        let answered = !st.responses.is_empty();
        // Aggressive mode's last phase-1 message (AI2) gets no reply of its own: a later step
        // answered, or ESP arriving, shows it went through.
        let later_answered = steps.iter().any(|(l, lst)| l > s && !lst.responses.is_empty());
        let esp_from_peer = case.esp.iter().any(|p| p.arrived.is_some() && p.from.is_some());
        // Not when the peer repeated an earlier message after this request: it was not accepted.
        if !answered && st.undone_by.is_none() && (later_answered || esp_from_peer) {
            continue;
        }
        let answered_at_init = st
            .responses
            .iter()
            .any(|v| v.path.arrived.is_some() && (a.initiator.is_none() || v.path.to == a.initiator));
        let init_has_capture = a.initiator.is_some_and(|i| case.gw(i).ext.is_some());
        // Seen without the initiator's capture: an initiator that sends the same first
        // request again after it was answered, and never goes on, did not get the answer.
        let moved_on = steps.iter().any(|(l, lst)| l > s && !lst.requests.is_empty());
        let asked_again = !init_has_capture
            && !moved_on
            && matches!(s, Step::First | Step::Second)
            && st
                .requests
                .iter()
                .any(|q| q.m.retransmission && st.responses.iter().any(|r| r.m.time < q.m.time));
        if answered && (answered_at_init || !init_has_capture) && !asked_again {
            continue;
        }
        let mut f = match s {
            Step::First | Step::Second => situation_a(case, st, answered, &log_cause),
            Step::Auth => situation_b(case, st, answered, v1, a.natt, &log_cause),
            Step::Child => situation_c(case, st, &log_cause, v1),
        };
        if let Some(u) = st.undone_by.filter(|_| !answered) {
            let who = if is_request(&u) {
                "the initiator"
            } else {
                "the responder"
            };
            let text = format!("{who} repeats an earlier message after this request, which was therefore not accepted");
            f = f.with(msg_evidence(case, u.at(), &text));
        }
        a.problem = Some(f);
        return a;
    }
    // Everything sent was answered. The logs may still know of a failure (IKEv2 hides
    // AUTHENTICATION_FAILED and TS_UNACCEPTABLE inside encrypted replies).
    let last_step = steps.iter().map(|(s, _)| *s).max().unwrap_or(Step::First);
    if let Some(f) = log_cause {
        let is_p1 = f.cause == Cause::IkeProposalRejected;
        let consistent = match last_step {
            Step::First | Step::Second => is_p1 || f.situation() == "B",
            Step::Auth | Step::Child => !is_p1,
        };
        if consistent && !(a.child_up && f.situation() != "C" && f.situation() != "D") {
            a.problem = Some(f);
            return a;
        }
    }
    if last_step < Step::Auth {
        // Stopped after an answered first exchange, no third message sent at all.
        let f = Finding::new(
            Cause::AuthFailed,
            0.3,
            "the first exchanges completed but the initiator never sent the third (authentication) message",
        )
        .advise("read the initiator's log: it stopped before authenticating (missing secret or certificate?)");
        a.problem = Some(f);
        return a;
    }
    let esp_seen = !case.esp.is_empty();
    if !v1 && !a.child_up && !esp_seen && last_step == Step::Auth {
        // IKEv2 hides the outcome of IKE_AUTH inside the encryption; its size still tells.
        if let Some((_, st)) = steps.iter().find(|(s, _)| *s == Step::Auth) {
            match auth_reply_by_size(case, st) {
                Some(f) => {
                    a.problem = Some(f);
                    return a;
                }
                None => a.child_inferred = true,
            }
        }
    }
    if !v1 {
        // A CREATE_CHILD_SA (new child or rekey) answered by a bare notify was refused.
        if let Some((_, st)) = steps.iter().find(|(s, _)| *s == Step::Child) {
            if let Some(r) = st
                .responses
                .iter()
                .find(|r| r.m.exchange == ex::CREATE_CHILD_SA && bare_notify(r.m))
            {
                let keyed = st
                    .requests
                    .first()
                    .and_then(|q| super::opened::refused_after_keying(case, q.at(), r.at(), "CREATE_CHILD_SA"));
                if let Some(f) = keyed {
                    a.problem = Some(f);
                    return a;
                }
                let f = Finding::new(
                    Cause::ChildProposalMismatch,
                    0.55,
                    format!(
                        "a CREATE_CHILD_SA request (new child SA or rekey) was answered with only an encrypted notify ({} bytes): the responder refused it, typically a proposal or PFS group mismatch (or traffic selectors)",
                        r.m.length
                    ),
                )
                .with(st.requests.first().and_then(|q| msg_evidence(case, q.at(), "CREATE_CHILD_SA request")))
                .with(msg_evidence(case, r.at(), "refusal"))
                .advise("compare esp= / esp_proposals including the PFS DH group on both ends: with PFS on one side only, IKEv2 fails at the first rekey, not at setup")
                .advise("the responder's log names the refused proposal");
                a.problem = Some(f);
                return a;
            }
        }
    }
    a.healthy_confidence = if a.child_up { 0.9 } else { 0.6 };
    a.healthy_evidence.extend(child_seen);
    a.healthy_summary = if v1 {
        "phase 1 and phase 2 completed"
    } else {
        "IKE_SA_INIT and IKE_AUTH completed"
    }
    .into();
    a
}

/// An IKEv2 message whose encrypted payload can hold one notify and nothing else: IV, 8 bytes
/// of notify, padding and ICV come to 64 bytes at most.
fn bare_notify(m: &IkeMsg) -> bool {
    m.major >= 2 && m.length.saturating_sub(28 + 4) <= 64
}

/// Bytes of distinct messages (IKE fragments summed, retransmissions left out).
fn distinct_len(vs: &[View<'_>]) -> u64 {
    let mut seen = Vec::new();
    let mut total = 0u64;
    for v in vs {
        if !seen.contains(&v.m.digest) {
            seen.push(v.m.digest);
            total += v.m.length as u64;
        }
    }
    total
}

/// An IKE_AUTH reply that holds only a notify (auth refused) or lacks the child SA's payloads.
/// The encrypted payload of a bare notify is IV + 8 bytes + padding + ICV: 64 bytes at most;
/// one with the SA and both traffic selectors is about as large as the request.
fn auth_reply_by_size(case: &Case<'_>, st: &StepState<'_>) -> Option<Finding> {
    let req = st.requests.first()?;
    let resp = st.responses.first()?;
    let (ql, rl) = (distinct_len(&st.requests), distinct_len(&st.responses));
    if bare_notify(resp.m) && rl == resp.m.length as u64 {
        return Some(
            Finding::new(
                Cause::AuthFailed,
                0.6,
                format!("the IKE_AUTH reply is only {rl} bytes: room for one encrypted notify, the AUTHENTICATION_FAILED of a refused authentication (PSK, signature or peer ID)"),
            )
            .with(msg_evidence(case, req.at(), "IKE_AUTH request"))
            .with(msg_evidence(case, resp.at(), "IKE_AUTH reply"))
            .advise("compare the PSK and leftid/rightid on both ends; the responder's log names which check failed"),
        );
    }
    if rl * 10 < ql * 6 {
        if let Some(f) = super::opened::refused_after_keying(case, req.at(), resp.at(), "IKE_AUTH") {
            return Some(f);
        }
        return Some(
            Finding::new(
                Cause::ChildProposalMismatch,
                0.35,
                format!("the IKE_AUTH reply ({rl} bytes) is much smaller than the request ({ql} bytes): the IKE SA is up but the reply carries no child SA; from packets alone a proposal, PFS, subnet or kernel failure cannot be told apart"),
            )
            .with(msg_evidence(case, resp.at(), "IKE_AUTH reply"))
            .advise("read the responder's log (situation C): it names the refused proposal, traffic selectors or kernel error")
            .advise("compare esp=, pfs= and leftsubnet/rightsubnet on both ends"),
        );
    }
    None
}

fn icmp_unreachable<'a>(case: &'a Case<'_>, req: &View<'_>) -> Option<(GwId, &'a crate::track::IcmpRec)> {
    let dst = req.m.dst;
    case.gw_ids().find_map(|gi| {
        case.gw(gi)
            .tl()?
            .icmp
            .iter()
            .find(|i| {
                i.kind == "port unreachable"
                    && i.about.is_some_and(|q| {
                        q.dport == Some(dst.port())
                            && (q.dst == dst.ip() || case.rewrites.iter().any(|r| r.at_receiver.ip() == q.src))
                    })
            })
            .map(|i| (gi, i))
    })
}

fn icmp_evidence(case: &Case<'_>, gi: GwId, i: &crate::track::IcmpRec) -> Option<Evidence> {
    Some(Evidence {
        source: case.gw(gi).ext?.name.clone(),
        packet: Some(i.number),
        line: None,
        time: Some(fmt_time(i.time)),
        timestamp: rfc3339(i.time),
        text: format!(
            "ICMP {} from {} about UDP to {}",
            i.kind,
            i.src,
            i.about.map(|q| q.dst.to_string()).unwrap_or_default()
        ),
    })
}

fn retrans(st_reqs: &[View<'_>]) -> usize {
    st_reqs.iter().filter(|v| v.path.sent.is_some()).count()
}

/// Situation A: the first exchange(s) go unanswered.
fn situation_a(case: &Case<'_>, st: &StepState<'_>, answered: bool, log_cause: &Option<Finding>) -> Finding {
    let req = st.requests[0];
    let sent_count = retrans(&st.requests);
    let first_ev = msg_evidence(case, req.at(), "first IKE message");
    let arrived: Vec<&View<'_>> = st.requests.iter().filter(|v| v.path.arrived.is_some()).collect();
    let responder = req.path.to;
    let captured_responder = responder.filter(|&r| case.gw(r).ext.is_some());
    if let Some((gi, icmp)) = icmp_unreachable(case, &req) {
        return Finding::new(Cause::ResponderNotListening, 0.9, "the responder's host answers the IKE packets with ICMP port unreachable: no IKE daemon is listening")
            .with(first_ev)
            .with(icmp_evidence(case, gi, icmp))
            .advise("start the IKE daemon on the responder (`ipsec start` / `systemctl start ipsec` or strongswan) and check it listens on UDP 500 and 4500 (`ss -uln`)");
    }
    if answered {
        // The responder answered, the answers did not come back (seen at both ends), or the
        // initiator kept asking after being answered (seen at the responder only).
        let resp = st.responses[0];
        let both = req.path.sent.is_some() && req.path.to.is_some_and(|r| case.gw(r).ext.is_some());
        let (conf, summary) = if both {
            (0.85, "the responder answers, but its answers never reach the initiator")
        } else {
            (0.6, "the responder answers, but the initiator keeps sending its first request again and never goes on: the answers do not reach it (the initiator's capture would confirm)")
        };
        let f = Finding::new(Cause::IkeRepliesLost, conf, summary)
            .with(first_ev)
            .with(msg_evidence(case, resp.at(), "answer sent by the responder"))
            .advise("something between the gateways drops UDP 500/4500 from the responder to the initiator: check firewalls and NAT on the return path")
            .advise("capture on both gateways while bringing the conn up, with the command `ipsec-doctor capture-filter` prints (it keeps IP fragments and ICMP errors)");
        return f;
    }
    if let Some(f) = log_cause.as_ref().filter(|f| f.cause == "ike-proposal-rejected") {
        return f.clone();
    }
    if let Some(r) = captured_responder {
        if arrived.is_empty() {
            return Finding::new(
                Cause::IkeBlockedOnPath,
                0.9,
                format!("the first IKE message left the initiator {sent_count} time(s) and never arrived at the responder (A2)"),
            )
            .with(first_ev)
            .advise("a firewall or router between the gateways drops UDP 500 (or there is a NAT you did not know of): check ACLs on the path")
            .advise("capture on both gateways with the command `ipsec-doctor capture-filter` prints");
        }
        let daemon_logged = case.gw(r).has_log();
        let daemon_saw = super::find_log(case.gw(r), |k| {
            matches!(
                k,
                EventKind::Responding { .. } | EventKind::Received { .. } | EventKind::NoProposalChosen { .. }
            )
        })
        .is_some();
        let arrived_ev = msg_evidence(
            case,
            arrived[0].path.arrived.unwrap_or(arrived[0].at()),
            "arrived at the responder",
        );
        if daemon_logged && daemon_saw {
            return Finding::new(
                Cause::IkeProposalRejected,
                0.5,
                "the responder's daemon received the first message but did not answer it",
            )
            .with(first_ev)
            .with(arrived_ev)
            .advise("read the responder's log around that time: it names why it dropped the request");
        }
        let daemon_running = super::find_log(case.gw(r), |k| {
            matches!(k, EventKind::DaemonStarted { .. } | EventKind::ConnectionAdded { .. })
        })
        .is_some();
        let conf = if daemon_logged && daemon_running { 0.85 } else { 0.6 };
        let mut f = Finding::new(
            Cause::IkeFilteredAtResponder,
            conf,
            "the first IKE message arrives at the responder but nothing answers it and the daemon does not log it (A1): a firewall on the responder",
        )
        .with(first_ev)
        .with(arrived_ev)
        .advise("check the responder's own firewall (iptables -L INPUT -n -v): UDP 500 and 4500 must be accepted")
        .advise("turn on pluto debugging (plutodebug=all) or charon's `ike 2` logging to confirm the daemon never sees the packet");
        if !daemon_logged {
            f = f.advise("without the responder's log this cannot be told apart from a daemon that is not running but sends no ICMP; bring sg2's log");
        }
        return f;
    }
    // Only the initiator's view. The responder's log may say it answered: then the answers
    // are lost on the way back.
    // The responder is the gateway that did not send it (its capture may be missing, so the
    // packet's path may not name it).
    let others = case.gw_ids().filter(|&i| Some(i) != req.path.from).map(|i| case.gw(i));
    for g in others {
        let answered_in_log = super::find_log(g, |k| {
            matches!(
                k,
                EventKind::Sent {
                    exchange: crate::logs::Exchange::IkeSaInit
                        | crate::logs::Exchange::MainMode
                        | crate::logs::Exchange::AggressiveMode,
                    request: false,
                    ..
                }
            )
        });
        if let Some((l, e)) = answered_in_log {
            return Finding::new(
                Cause::IkeRepliesLost,
                0.7,
                format!(
                    "the first IKE message left the initiator {sent_count} time(s) and no answer came back, yet the responder's log shows it answered: the answers are lost on the way back"
                ),
            )
            .with(first_ev)
            .with(Some(super::log_evidence(l, e)))
            .advise("something between the gateways drops UDP 500/4500 from the responder to the initiator: check firewalls and NAT on the return path")
            .advise("capture on the responder too (`ipsec-doctor capture-filter` prints the command) to see the answers leave");
        }
    }
    let mut f = Finding::new(
        Cause::IkeBlockedOnPath,
        0.45,
        format!("the first IKE message left the initiator {sent_count} time(s) and was never answered"),
    )
    .with(first_ev)
    .advise("capture on the responder at the same time (`ipsec-doctor capture-filter` prints the command): if the packets arrive there, the responder filters them or its daemon is not running (A1); if not, they are dropped on the way (A2)");
    if let Some(r) = responder {
        if case.gw(r).has_log() {
            f.confidence = 0.55;
            f.summary.push_str("; the responder's log shows nothing of it");
        }
    }
    f
}

/// Fragments of the message `v` that left its sender and never arrived.
fn fragment_loss(case: &Case<'_>, v: &View<'_>) -> Option<(usize, usize, Vec<Evidence>)> {
    let sent = v.path.sent?;
    let to = v.path.to?;
    let m = msg(case, sent);
    let id = m.ip_frag_id?;
    let stl = case.gw(sent.gw).tl()?;
    let rtl = case.gw(to).tl()?;
    let sd = stl.frags.iter().find(|d| d.key.id == id && d.key.src == m.src.ip())?;
    let rd = rtl.frags.iter().find(|d| d.key.id == id && d.key.proto == sd.key.proto);
    let got: Vec<u32> = rd
        .map(|d| d.pieces.iter().map(|p| p.offset).collect())
        .unwrap_or_default();
    let missing: Vec<&crate::track::FragPiece> = sd.pieces.iter().filter(|p| !got.contains(&p.offset)).collect();
    if missing.is_empty() {
        return None;
    }
    let src = case.gw(sent.gw).ext?.name.clone();
    let ev = missing
        .iter()
        .take(4)
        .map(|p| Evidence {
            source: src.clone(),
            packet: Some(p.number),
            line: None,
            time: Some(fmt_time(p.time)),
            timestamp: rfc3339(p.time),
            text: format!(
                "IP fragment id {} offset {} ({} bytes) left here and never arrived at {}",
                id,
                p.offset,
                p.len,
                case.gw(to).name
            ),
        })
        .collect();
    Some((sd.pieces.len(), missing.len(), ev))
}

/// Situation B: the third exchange (MI3 / IKE_AUTH) fails.
fn situation_b(
    case: &Case<'_>,
    st: &StepState<'_>,
    answered: bool,
    v1: bool,
    natt: bool,
    log_cause: &Option<Finding>,
) -> Finding {
    // As sent, when the sender was captured.
    let req = st
        .requests
        .iter()
        .find(|v| v.path.sent.is_some())
        .copied()
        .unwrap_or(st.requests[0]);
    let what = if v1 { "MI3 (the third exchange)" } else { "IKE_AUTH" };
    let req_ev = msg_evidence(case, req.at(), &format!("{what} sent"));
    if let Some(f) = log_cause
        .as_ref()
        .filter(|f| matches!(f.cause, Cause::AuthFailed | Cause::IdMismatch))
    {
        let mut f = f.clone();
        f.evidence
            .insert(0, req_ev.clone().unwrap_or_else(|| f.evidence[0].clone()));
        f.evidence.truncate(super::MAX_EVIDENCE);
        return f;
    }
    // Fragments lost on the way.
    for v in &st.requests {
        if let Some((n, lost, ev)) = fragment_loss(case, v) {
            let mut f = Finding::new(
                Cause::IkeFragmentsDropped,
                0.9,
                format!(
                    "{what} is larger than the path MTU and went out in {n} IP fragments; {lost} of them never arrived"
                ),
            )
            .with(req_ev.clone());
            for e in ev {
                f = f.with(Some(e));
            }
            return f
                .advise("a device on the path drops IP fragments: test with `ping -s 5000 <peer>` from sg1")
                .advise("enable IKE fragmentation (fragmentation=yes / fragmentation = yes in swanctl) so IKE splits the message itself")
                .advise("to confirm, stop sending the certificate inline: leftsendcert=never, with the certificate copied to the peer");
        }
    }
    // The sender's own capture holds only the first IP fragment of what it sent: its filter
    // (`udp port 500 or udp port 4500`) drops non-first fragments, so whether the rest arrived
    // cannot be seen. The message's arrival is unknown, not "arrived".
    if !answered && st.requests.iter().any(|v| v.path.sent.is_some() && v.m.partial) {
        // The responder's log shows it still waiting: resending MR2, or no IKE_AUTH processed.
        let responder_waiting = req.path.to.is_some_and(|r| {
            let g = case.gw(r);
            let resends = super::find_log(g, |k| matches!(k, EventKind::Retransmit { .. })).is_some();
            let got_auth = super::find_log(g, |k| {
                matches!(
                    k,
                    EventKind::Received {
                        exchange: crate::logs::Exchange::IkeAuth,
                        request: true,
                        ..
                    }
                )
            })
            .is_some();
            g.has_log() && (resends || !got_auth)
        });
        return Finding::new(
            Cause::IkeFragmentsDropped,
            if responder_waiting { 0.6 } else { 0.45 },
            format!(
                "{what} went out in IP fragments, but the captures hold only first fragments: their filter drops non-first fragments, so whether the rest arrived cannot be seen; lost fragments are the write-up's reading of an unanswered large {what}"
            ),
        )
        .with(req_ev)
        .advise("capture again on both gateways with the command `ipsec-doctor capture-filter` prints: it keeps non-first fragments (`udp port 500 or udp port 4500` never matches them)")
        .advise("test fragments on the path with `ping -s 5000 <peer>`; enable IKE fragmentation (fragmentation=yes) to avoid them");
    }
    // A message of which only some IKE fragments arrived did not arrive.
    let arrived = st
        .requests
        .iter()
        .any(|v| v.path.arrived.is_some() && (v.m.ike_fragment.is_none() || v.m.ike_frag_complete));
    let responder_captured = req.path.to.is_some_and(|r| case.gw(r).ext.is_some());
    let fragmented = st.requests.iter().any(|v| v.m.ip_fragmented);
    // Sent in IKE fragments, and the responder's capture holds only part of a set of this SA
    // (on UDP 4500 too: some of it got through, so the port is open).
    let part_arrived = req.path.to.and_then(|r| {
        case.gw(r)
            .ike()
            .iter()
            .position(|m| {
                m.ispi == req.m.ispi && m.ike_fragment.is_some() && !m.ike_frag_complete && !case.gw(r).owns(m.src.ip())
            })
            .map(|i| MsgRef { gw: r, idx: i })
    });
    if let (Some(p), Some((_, total)), true, false) = (
        part_arrived,
        st.requests.iter().find_map(|v| v.m.ike_fragment),
        responder_captured && !arrived,
        answered,
    ) {
        return Finding::new(
            Cause::IkeFragmentsDropped,
            0.8,
            format!("{what} went out in {total} IKE fragments and only some of them arrived at the responder"),
        )
        .with(req_ev)
        .with(msg_evidence(case, p, "arrived incomplete"))
        .advise("a device on the path drops some of the IKE fragments: look for a smaller MTU or a filter on the path (fragment_size / ike_frag_size can be lowered)");
    }
    if responder_captured && !arrived && !answered {
        if natt {
            return Finding::new(Cause::NattPort4500Blocked, 0.9, format!("NAT was detected and the exchange moved to UDP 4500; {what} leaves on 4500 and never arrives"))
                .with(req_ev)
                .advise("open UDP 4500 both ways on the path and on both gateways; NAT-T traffic may come from any source port:")
                .advise("iptables -A INPUT -p udp --sport 4500 -j ACCEPT; iptables -A INPUT -p udp --dport 4500 -j ACCEPT");
        }
        if fragmented {
            return Finding::new(Cause::IkeFragmentsDropped, 0.7, format!("{what} went out in IP fragments and never arrived whole"))
                .with(req_ev)
                .advise("test fragments with `ping -s 5000 <peer>`; enable IKE fragmentation or use leftsendcert=never to confirm");
        }
        return Finding::new(
            Cause::IkeBlockedOnPath,
            0.5,
            format!("{what} left the initiator and never arrived, though the first exchanges did"),
        )
        .with(req_ev)
        .advise("capture all traffic between the gateways (tcpdump -i eth1 -v -n -p ip host PEER and not port 22)");
    }
    if !responder_captured && !answered {
        // A message larger than the path MTU is the write-up's reading of a lost MI3: the
        // capture shows its size; a blocked port 4500 is the other explanation.
        if natt && fragmented {
            return Finding::new(Cause::IkeFragmentsDropped, 0.5, format!("{what} went out in IP fragments (on UDP 4500) and was never answered: fragments dropped on the path, or UDP 4500 blocked"))
                .with(req_ev)
                .advise("capture on the responder with a filter that keeps non-first IP fragments (`ipsec-doctor capture-filter` prints it): fragments that never arrive are dropped on the path; nothing at all on 4500 means the port is blocked")
                .advise("test with `ping -s 5000 <peer>`; enable IKE fragmentation (fragmentation=yes), or leftsendcert=never to confirm");
        }
        if natt {
            return Finding::new(Cause::NattPort4500Blocked, 0.55, format!("the exchange moved to UDP 4500 and {what} is never answered"))
                .with(req_ev)
                .advise("capture on the responder: if the 4500 packets do not arrive, UDP 4500 is blocked on the path; if they do, the responder's firewall or authentication")
                .advise("iptables rules for NAT-T must accept UDP 4500 from any source port");
        }
        if fragmented {
            return Finding::new(Cause::IkeFragmentsDropped, 0.55, format!("{what} went out in IP fragments and was never answered"))
                .with(req_ev)
                .advise("capture on the responder with a filter that keeps non-first IP fragments: `ipsec-doctor capture-filter` prints it")
                .advise("test with `ping -s 5000 <peer>`; enable IKE fragmentation, or leftsendcert=never to confirm");
        }
    }
    // It arrived (or we cannot tell) and the answer is missing or an error.
    let mut f = Finding::new(
        Cause::AuthFailed,
        if arrived { 0.7 } else { 0.45 },
        if arrived {
            format!("{what} reached the responder, which did not complete authentication: usually a PSK or signature mismatch (or a peer ID it does not accept)")
        } else {
            format!("{what} is not answered: the write-up's situation B, most often an authentication failure")
        },
    )
    .with(req_ev)
    .advise("read the responder's log around the third exchange: a PSK mismatch shows as a decryption or authentication failure")
    .advise("compare the PSK (ipsec.secrets) and leftid/rightid on both ends");
    if !case.gws.iter().any(|g| g.has_log()) {
        f = f.advise("the logs would tell an authentication failure from an ID mismatch: bring both daemons' logs");
    }
    if let Some(r) = st.responses.first() {
        f = f.with(msg_evidence(case, r.at(), "answer"));
    }
    f
}

/// Situation C: phase 1 up, the IPsec SA (quick mode / child SA) is refused.
fn situation_c(case: &Case<'_>, st: &StepState<'_>, log_cause: &Option<Finding>, v1: bool) -> Finding {
    let req = st.requests[0];
    let req_ev = msg_evidence(
        case,
        req.at(),
        if v1 { "quick mode sent" } else { "CREATE_CHILD_SA sent" },
    );
    if let Some(f) = log_cause.as_ref().filter(|f| f.situation() == "C") {
        let mut f = f.clone();
        if let Some(e) = req_ev {
            f.evidence.push(e);
        }
        return f;
    }
    Finding::new(
        Cause::ChildProposalMismatch,
        0.35,
        "phase 1 is up but the IPsec SA negotiation is not answered; from packets alone a proposal, PFS or subnet mismatch cannot be told apart",
    )
    .with(req_ev)
    .advise("situation C is diagnosed from the responder's log (the write-up: tcpdump does not help): bring sg2's pluto/charon log")
    .advise("compare esp=, pfs= and leftsubnet/rightsubnet on both ends")
}

/// NAT-D hashes recomputed at each capture: a real NAT (the hash matches at the sender and not
/// at the receiver) or a peer that fakes NAT-D to force UDP encapsulation (it does not match
/// even on the sender's own wire).
fn natd_observations(case: &Case<'_>, a: &mut IkeAnalysis) {
    let mut faked: Option<(GwId, &IkeMsg)> = None;
    let mut natted: Option<(GwId, &IkeMsg)> = None;
    for gi in case.gw_ids() {
        let g = case.gw(gi);
        // IKEv1 NAT-D uses the negotiated hash: the responder's SA (non-zero responder cookie)
        // says which one; the initiator's first offer stands in until then.
        let mut algs: HashMap<[u8; 8], u16> = HashMap::new();
        for m in g.ike() {
            if let Some(h) = m.v1_hash {
                if m.rspi != [0; 8] {
                    algs.insert(m.ispi, h);
                } else {
                    algs.entry(m.ispi).or_insert(h);
                }
            }
        }
        for m in g.ike() {
            let Some(c) = crate::natd::check(m, algs.get(&m.ispi).copied()) else {
                continue;
            };
            if c.source_ok != Some(false) {
                continue;
            }
            if g.owns(m.src.ip()) {
                faked.get_or_insert((gi, m));
            } else {
                natted.get_or_insert((gi, m));
            }
        }
    }
    if let Some((gi, m)) = faked {
        a.observations.push(
            Finding::new(
                Cause::NatFaked,
                0.9,
                format!(
                    "{} sends a NAT-D source hash that does not match its own address {}: it fakes NAT detection to force UDP encapsulation (forceencaps / encap=yes)",
                    case.gw(gi).name, m.src
                ),
            )
            .with(msg_evidence(case, MsgRef { gw: gi, idx: g_index(case, gi, m) }, "NAT-D")),
        );
    } else if let Some((gi, m)) = natted {
        a.observations.push(
            Finding::new(
                Cause::NatDetected,
                0.8,
                format!(
                    "the NAT-D source hash in a message from {} does not match the address {} seen at {}: a NAT on the path (or a peer faking NAT-D; the sender's capture would tell)",
                    m.src, m.src, case.gw(gi).name
                ),
            )
            .with(msg_evidence(case, MsgRef { gw: gi, idx: g_index(case, gi, m) }, "NAT-D")),
        );
    }
}

fn g_index(case: &Case<'_>, gi: GwId, m: &IkeMsg) -> usize {
    case.gw(gi).ike().iter().position(|o| std::ptr::eq(o, m)).unwrap_or(0)
}

/// Observations that are not failures: NAT, IKE fragmentation, clock offset.
fn observe(case: &Case<'_>, a: &mut IkeAnalysis) {
    natd_observations(case, a);
    if let Some(r) = case.rewrites.first() {
        let (what, from, to) = if r.at_sender != r.at_receiver {
            ("the source", r.at_sender, r.at_receiver)
        } else {
            ("the destination", r.dst_at_sender, r.dst_at_receiver)
        };
        let f = Finding::new(
            Cause::NatPresent,
            0.9,
            format!("a NAT rewrites {what} {from} to {to} between the gateways"),
        )
        .with(msg_evidence(case, r.msg, "as sent"));
        a.observations.push(f);
    }
    let frag_used = case
        .gws
        .iter()
        .flat_map(|g| g.ike().iter())
        .find(|m| m.ike_fragment.is_some());
    if let Some(m) = frag_used {
        a.observations.push(Finding::new(
            Cause::IkeFragmentationUsed,
            0.9,
            format!("IKE fragmentation in use (packet {})", m.number),
        ));
    }
    if let Some(off) = case.clock_offset {
        if off.abs() > 0.5 {
            a.observations.push(Finding::new(
                Cause::ClockOffset,
                0.8,
                format!(
                    "{}'s capture clock is {:+.3} s from {}'s",
                    case.gws[1].name, off, case.gws[0].name
                ),
            ));
        }
    }
}
