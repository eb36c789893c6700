//! What the daemons' logs say: the most telling failure any log names, and, without packets,
//! how far the negotiation got (the write-up reads `ipsec auto --up` this way).

use super::{log_ev, log_evidence, Cause, Evidence, Finding};
use crate::correlate::Case;
use crate::logs::{EventKind, Exchange, LogEvent, LogFile};
use std::collections::{HashMap, HashSet};

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

/// One in-scope log line with what its log said before and after it (worked out once).
struct Ev<'a> {
    log: &'a LogFile,
    e: &'a LogEvent,
    /// The IKE SA (phase 1) was up earlier in this log.
    ike_before: bool,
    /// ... or came up later in it (for this connection, when named).
    ike_after: bool,
    /// A child SA came up later in this log (for this connection, when named).
    child_after: bool,
    /// A state was deleted earlier in this log: kernel errors after that are the teardown's,
    /// not an install failure.
    torn_before: bool,
    /// The line belongs to a negotiation: it names a connection or state, or one had started
    /// earlier in this log (a daemon's start-up probes of the kernel do not).
    in_negotiation: bool,
    /// This log shows its state (serial) answering the first exchange and logs no reason for a
    /// refusal of it (no failed check, certificate or ID line): a refusal it sent was made
    /// before any authentication check.
    unreasoned: bool,
}

impl Ev<'_> {
    fn kind(&self) -> &EventKind {
        &self.e.kind
    }

    fn evidence(&self) -> Evidence {
        log_evidence(self.log, self.e)
    }
}

/// How far a negotiation got, in the write-up's order of exchanges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// The first message (MI1 / IKE_SA_INIT request) sent or received.
    FirstSent,
    /// The first exchange answered (MR1 / IKE_SA_INIT response).
    FirstAnswered,
    /// The authenticating message sent (MI3 / IKE_AUTH request) or awaited (MR2 sent).
    AuthSent,
    /// The IKE SA (phase 1) established.
    IkeUp,
    /// A child SA (quick mode / CREATE_CHILD_SA) under negotiation.
    ChildSent,
    /// A child SA established.
    ChildUp,
}

/// What the logs of one gateway show.
struct GwLog<'a> {
    name: &'a str,
    evs: Vec<Ev<'a>>,
    /// The furthest stage and the line that shows it (a retransmission or give-up line for
    /// that stage when there is one: it says the stage got no further).
    reached: Option<(Stage, usize)>,
}

impl GwLog<'_> {
    /// This daemon started the negotiation.
    fn initiated(&self) -> bool {
        self.evs.iter().any(|x| match x.kind() {
            EventKind::Initiating { exchange, .. } => {
                !matches!(exchange, Some(Exchange::QuickMode | Exchange::CreateChildSa))
            }
            EventKind::Sent {
                exchange: Exchange::MainMode | Exchange::AggressiveMode | Exchange::IkeSaInit,
                request: true,
                step,
                ..
            } => step.is_none_or(|s| s == 1),
            _ => false,
        })
    }
}

/// The logs of both gateways, read once.
pub(super) struct LogFacts<'a> {
    gws: Vec<GwLog<'a>>,
}

impl<'a> LogFacts<'a> {
    pub(super) fn new(case: &'a Case<'_>) -> LogFacts<'a> {
        let scope = LogScope::new(case);
        let gws = case
            .gws
            .iter()
            .map(|g| {
                let mut evs = Vec::new();
                for l in &g.logs {
                    let start = evs.len();
                    let mut ike = false;
                    let mut torn = false;
                    let mut started = false;
                    for e in l.events.iter().filter(|e| scope.relevant(l, e)) {
                        started |= stage_of_event(&e.kind).is_some();
                        evs.push(Ev {
                            log: l,
                            e,
                            ike_before: ike,
                            ike_after: false,
                            child_after: false,
                            torn_before: torn,
                            in_negotiation: started || e.conn.is_some() || e.serial.is_some(),
                            unreasoned: false,
                        });
                        ike |= matches!(e.kind, EventKind::IkeSaEstablished { .. });
                        torn |= matches!(e.kind, EventKind::Deleted { .. });
                    }
                    // Per state: did it answer the first exchange, did it log why it refused.
                    // (Sets, bounded by the log's own line limit: a log of many states stays linear.)
                    let mut answered: HashSet<u64> = HashSet::new();
                    let mut reasoned: HashSet<u64> = HashSet::new();
                    for x in &evs[start..] {
                        let Some(serial) = x.e.serial else { continue };
                        match x.kind() {
                            EventKind::Sent {
                                exchange: Exchange::IkeSaInit | Exchange::MainMode,
                                request: false,
                                ..
                            } => answered.insert(serial),
                            EventKind::AuthFailed { by_peer: false }
                            | EventKind::SecretMissing
                            | EventKind::CertInvalid { .. }
                            | EventKind::IdMismatch { .. } => reasoned.insert(serial),
                            _ => false,
                        };
                    }
                    for x in evs[start..].iter_mut() {
                        x.unreasoned =
                            x.e.serial
                                .is_some_and(|s| answered.contains(&s) && !reasoned.contains(&s));
                    }
                    // Backwards: what came up later, per connection (a line without one takes any).
                    let mut ike_up: Vec<Option<&str>> = Vec::new();
                    let mut child_up: Vec<Option<&str>> = Vec::new();
                    for x in evs[start..].iter_mut().rev() {
                        let conn = x.e.conn.as_deref();
                        let later =
                            |ups: &[Option<&str>]| ups.iter().any(|c| conn.is_none() || c.is_none() || *c == conn);
                        x.ike_after = later(&ike_up) || later(&child_up);
                        x.child_after = later(&child_up);
                        match x.e.kind {
                            EventKind::IkeSaEstablished { .. } if ike_up.len() < 64 => ike_up.push(conn),
                            EventKind::ChildSaEstablished { .. } if child_up.len() < 64 => child_up.push(conn),
                            _ => {}
                        }
                    }
                }
                let reached = reached(&evs);
                GwLog {
                    name: g.name,
                    evs,
                    reached,
                }
            })
            .collect();
        LogFacts { gws }
    }

    fn find(&self, f: impl Fn(&Ev<'_>) -> bool) -> Option<(&GwLog<'a>, &Ev<'a>)> {
        self.gws
            .iter()
            .find_map(|g| g.evs.iter().find(|x| f(x)).map(|x| (g, x)))
    }

    fn any(&self, f: impl Fn(&EventKind) -> bool) -> bool {
        self.find(|x| f(x.kind())).is_some()
    }
}

/// The stage a pluto state name or an exchange stands for, as the write-up reads
/// `ipsec auto --up`: only the first exchange unanswered is A, stuck at MI3 / IKE_AUTH is B,
/// quick mode / child is C.
fn stage_of(exchange: Option<Exchange>, step: Option<u8>, state: Option<&str>) -> Option<Stage> {
    use Exchange as X;
    let st = state.unwrap_or("");
    Some(match (exchange, step) {
        (Some(X::QuickMode | X::CreateChildSa), _) => Stage::ChildSent,
        (Some(X::IkeAuth | X::IkeIntermediate), _) | (Some(X::MainMode), Some(3)) => Stage::AuthSent,
        (Some(X::MainMode | X::AggressiveMode | X::IkeSaInit), _) => Stage::FirstSent,
        _ if st.contains("QUICK") || st.contains("CHILD") || st.contains("IPSEC") => Stage::ChildSent,
        _ if st.contains("ESTABLISHED") => Stage::IkeUp,
        _ if st.contains("MAIN_I3")
            || st.contains("MAIN_R2")
            || st.contains("PARENT_I2")
            || st.contains("IKE_AUTH")
            || st.contains("AGGR_R1") =>
        {
            Stage::AuthSent
        }
        _ if st.contains("_I1") || st.contains("MAIN_I2") || st.contains("IKE_SA_INIT") || st.contains("_R1") => {
            Stage::FirstSent
        }
        _ => return None,
    })
}

/// What one line says about how far the negotiation got.
fn stage_of_event(k: &EventKind) -> Option<Stage> {
    use EventKind as K;
    use Exchange as X;
    match k {
        K::Initiating { exchange, .. } => match exchange {
            Some(X::QuickMode | X::CreateChildSa) => Some(Stage::ChildSent),
            _ => Some(Stage::FirstSent),
        },
        K::Responding { .. } => Some(Stage::FirstSent),
        K::Sent {
            exchange,
            request,
            step,
            ..
        } => Some(match (exchange, request, step) {
            (X::MainMode, true, Some(2)) => Stage::FirstAnswered,
            (X::MainMode, true, Some(3)) | (X::IkeAuth | X::IkeIntermediate, true, _) => Stage::AuthSent,
            (X::MainMode, false, Some(1)) | (X::IkeSaInit, false, _) => Stage::FirstAnswered,
            (X::MainMode, false, Some(2)) | (X::AggressiveMode, false, _) => Stage::AuthSent,
            (X::MainMode, false, Some(3)) | (X::IkeAuth, false, _) => Stage::IkeUp,
            (X::QuickMode | X::CreateChildSa, _, _) => Stage::ChildSent,
            (X::MainMode | X::AggressiveMode | X::IkeSaInit, _, _) => Stage::FirstSent,
            _ => return None,
        }),
        K::Received { exchange, request, .. } => Some(match (exchange, request) {
            (X::IkeSaInit | X::MainMode | X::AggressiveMode, false) => Stage::FirstAnswered,
            (X::IkeAuth, _) => Stage::AuthSent,
            (X::QuickMode | X::CreateChildSa, _) => Stage::ChildSent,
            (X::IkeSaInit | X::MainMode | X::AggressiveMode, true) => Stage::FirstSent,
            _ => return None,
        }),
        K::Retransmit {
            state, exchange, step, ..
        }
        | K::GaveUp {
            state, exchange, step, ..
        } => stage_of(*exchange, *step, state.as_deref()),
        K::Deleted { state, .. } => stage_of(None, None, state.as_deref()),
        K::IkeSaEstablished { .. } => Some(Stage::IkeUp),
        // `connection 'x' established successfully` (ipsec up / strongswan up) follows the
        // child SA's establishment.
        K::ChildSaEstablished { .. } | K::CliResult { success: true } => Some(Stage::ChildUp),
        _ => None,
    }
}

/// The furthest stage in these lines, and the line that shows the negotiation stopped there.
fn reached(evs: &[Ev<'_>]) -> Option<(Stage, usize)> {
    let mut best: Option<(Stage, usize)> = None;
    for (i, x) in evs.iter().enumerate() {
        let Some(s) = stage_of_event(x.kind()) else { continue };
        let stuck = matches!(x.kind(), EventKind::Retransmit { .. } | EventKind::GaveUp { .. });
        match best {
            Some((b, _)) if s < b => {}
            // At the same stage, a line saying it got no further is the better evidence.
            Some((b, _)) if s == b && !stuck => {}
            _ => best = Some((s, i)),
        }
    }
    best
}

/// A refusal that names its cause: when it applies, what it means, what to do.
struct Refusal {
    cause: Cause,
    confidence: f64,
    applies: fn(&Ev<'_>) -> bool,
    summary: &'static str,
    advice: &'static str,
}

/// Ordered: the first rule with a line in any log decides. The refusing side's own reason comes
/// before the generic notify the other side received (an ID the responder found no config for
/// is an ID mismatch, though the initiator only got AUTHENTICATION_FAILED); a kernel refusal of
/// an agreed SA comes first, but not the errors logged while a refused state is torn down.
const REFUSALS: &[Refusal] = &[
    Refusal {
        cause: Cause::ChildSaInstallFailed,
        confidence: 0.9,
        applies: |x| {
            matches!(x.kind(), EventKind::KernelInstallFailed { errno, .. } if !matches!(errno, Some(2 | 3)))
                && x.in_negotiation
                && !x.torn_before
                && !x.child_after
        },
        summary: "the negotiation succeeded but the kernel refused to install the IPsec SA",
        advice: "check the kernel's IPsec support (esp4/esp6, xfrm modules: `modprobe esp4`), and the log lines around the netlink error",
    },
    Refusal {
        cause: Cause::AuthFailed,
        confidence: 0.9,
        applies: |x| !x.ike_after && matches!(x.kind(), EventKind::CertInvalid { .. }),
        summary: "the peer's certificate was refused (expired, issuer not trusted, revoked): authentication fails",
        advice: "check the certificate's validity dates and chain: the CA that signed the peer's certificate must be trusted on this end (its CA certificate loaded), and the clocks must be right",
    },
    Refusal {
        cause: Cause::IdMismatch,
        confidence: 0.9,
        applies: |x| {
            !x.ike_after
                && match x.kind() {
                    EventKind::IdMismatch { .. } | EventKind::NoConnectionKnown { phase: Some(1) } => true,
                    // IKEv1: INVALID_ID_INFORMATION before the ISAKMP SA is up is about the
                    // peer's identity, not its subnets.
                    EventKind::InvalidIdInformation { .. } => !x.ike_before,
                    _ => false,
                }
        },
        summary: "the peer's ID does not match what the responder expects",
        advice: "make leftid/rightid (local_id/remote_id) agree: what one end sends must be what the other expects (with certificates, the ID must be in the certificate's subjectAltName)",
    },
    Refusal {
        cause: Cause::AuthFailed,
        confidence: 0.9,
        applies: |x| {
            !x.ike_after && matches!(x.kind(), EventKind::AuthFailed { by_peer: false } | EventKind::SecretMissing)
        },
        summary: "authentication failed at the third exchange: the pre-shared keys or signatures do not match",
        advice: "make the PSK identical on both ends (ipsec.secrets / secrets section), or check the certificates (validity, the CA each end trusts) and the rightid/leftid they must match",
    },
    Refusal {
        cause: Cause::IkeProposalRejected,
        confidence: 0.9,
        applies: |x| {
            !x.ike_before
                && !x.ike_after
                && matches!(x.kind(), EventKind::NoProposalChosen { phase: Some(1), .. } | EventKind::InvalidKe { .. })
        },
        summary: "the IKE (phase 1) proposals of the two ends have nothing in common",
        advice: "align ike= / ike_proposals (cipher, integrity, PRF, DH group) on both ends",
    },
    Refusal {
        cause: Cause::ChildProposalMismatch,
        confidence: 0.9,
        applies: |x| {
            !x.child_after
                && matches!(
                    x.kind(),
                    EventKind::NoProposalChosen { phase: Some(2), .. } | EventKind::PfsMismatch | EventKind::ModeMismatch { .. }
                )
        },
        summary: "the IPsec (phase 2 / child SA) proposals do not match: ESP algorithms, PFS group or mode",
        advice: "align esp= / esp_proposals, including the PFS DH group (pfs=yes/no), and type=tunnel/transport on both ends",
    },
    Refusal {
        cause: Cause::TrafficSelectorMismatch,
        confidence: 0.9,
        applies: |x| {
            !x.child_after
                && match x.kind() {
                    EventKind::TsUnacceptable { .. } | EventKind::NoConnectionKnown { phase: Some(2) } => true,
                    EventKind::InvalidIdInformation { .. } => x.ike_before,
                    _ => false,
                }
        },
        summary: "the subnets (traffic selectors) of the two ends do not match",
        advice: "make leftsubnet/rightsubnet (local_ts/remote_ts) mirror each other exactly",
    },
    Refusal {
        cause: Cause::IdMismatch,
        confidence: 0.6,
        applies: |x| {
            !x.ike_after
                && x.unreasoned
                && matches!(x.kind(), EventKind::Notify { name, by_peer: false } if name == "AUTHENTICATION_FAILED")
        },
        summary: "the responder refused the peer (AUTHENTICATION_FAILED) without logging a failed PSK, signature or certificate check: it found no connection for the peer's ID, as Libreswan 5 does for an ID it does not expect",
        advice: "make leftid/rightid (local_id/remote_id) agree: what one end sends must be what the other expects; if the IDs agree, compare the PSK or certificates",
    },
    Refusal {
        cause: Cause::AuthFailed,
        confidence: 0.75,
        applies: |x| {
            !x.ike_after
                && match x.kind() {
                    EventKind::AuthFailed { by_peer: true } => true,
                    EventKind::Notify { name, .. } => name == "AUTHENTICATION_FAILED",
                    _ => false,
                }
        },
        summary: "authentication failed at the third exchange (AUTHENTICATION_FAILED): the pre-shared keys, signatures or IDs do not match",
        advice: "read the responder's log for the failed check; make the PSK identical on both ends, or check the certificates and the IDs they must carry",
    },
    Refusal {
        cause: Cause::ChildSaInstallFailed,
        confidence: 0.6,
        applies: |x| {
            !x.child_after
                && matches!(x.kind(), EventKind::ChildRejected { notify, .. } if notify == "TEMPORARY_FAILURE")
        },
        summary: "the responder could not set up the child SA it agreed to (TEMPORARY_FAILURE): usually its kernel refused the SA",
        advice: "read the responder's log around the refusal for a netlink/XFRM error; check its kernel's IPsec support (esp4/esp6 modules)",
    },
    Refusal {
        cause: Cause::TrafficSelectorMismatch,
        confidence: 0.8,
        applies: |x| {
            !x.child_after
                && matches!(x.kind(), EventKind::ChildRejected { notify, .. } if notify == "INVALID_SELECTORS" || notify == "SINGLE_PAIR_REQUIRED")
        },
        summary: "the child SA was refused for its traffic selectors (INVALID_SELECTORS / SINGLE_PAIR_REQUIRED)",
        advice: "make leftsubnet/rightsubnet (local_ts/remote_ts) mirror each other, one subnet pair per child SA",
    },
    Refusal {
        cause: Cause::ChildProposalMismatch,
        confidence: 0.7,
        applies: |x| !x.child_after && matches!(x.kind(), EventKind::ChildRejected { .. }),
        summary: "the child SA was refused (a configuration the other end requires: address assignment, a single pair, more SAs)",
        advice: "read the refusing end's log; compare the child SA settings (leftsourceip / rightaddresspool, subnets, esp=) of both ends",
    },
    Refusal {
        cause: Cause::IdMismatch,
        confidence: 0.9,
        applies: |x| !x.ike_after && matches!(x.kind(), EventKind::NoConnectionKnown { phase: None }),
        summary: "the responder has no connection for this peer",
        advice: "check that the responder has a conn for the initiator's address and ID",
    },
    Refusal {
        cause: Cause::ChildProposalMismatch,
        confidence: 0.9,
        applies: |x| {
            !x.child_after
                && matches!(x.kind(), EventKind::NoProposalChosen { phase: None, .. } | EventKind::ChildSaFailed)
        },
        summary: "a proposal was refused",
        advice: "compare the ike= and esp= proposals of both ends; the log names the refused one",
    },
];

/// The most telling failure named by any log, mapped to its cause.
pub(super) fn log_cause(facts: &LogFacts<'_>) -> Option<Finding> {
    for r in REFUSALS {
        if let Some((g, x)) = facts.find(r.applies) {
            let mut f = Finding::new(r.cause, r.confidence, format!("{} (log of {})", r.summary, g.name))
                .with(Some(x.evidence()))
                .advise(r.advice);
            if r.cause == Cause::AuthFailed {
                f = f.advise("the write-up: with a PSK the responder fails to decrypt MI3 and logs it; with RSA keys check leftrsasigkey/rightrsasigkey");
            }
            return Some(f);
        }
    }
    None
}

/// Without packets: the situation of the last step the logs show reached. `None` when the
/// logs show no negotiation at all, or the child SA established and no byte count says ESP is
/// lost (then [`healthy_proof`] has the evidence).
pub(super) fn log_progress(facts: &LogFacts<'_>) -> Option<Finding> {
    // The initiator's log tells how far the negotiation got: a step the responder took that
    // never reached the initiator (its MR1 lost on the way) was not reached. Without the
    // initiator's log, the furthest any log shows.
    let initiator = facts.gws.iter().find(|g| g.initiated() && g.reached.is_some());
    let (g, stage, x) = match initiator {
        Some(g) => g.reached.map(|(s, i)| (g, s, &g.evs[i]))?,
        None => facts
            .gws
            .iter()
            .filter_map(|g| g.reached.map(|(s, i)| (g, s, &g.evs[i])))
            .max_by_key(|(_, s, _)| *s)?,
    };
    if stage == Stage::ChildUp {
        return traffic(facts);
    }
    // ICMP port unreachable answers the first message only: one logged after the IKE SA was up
    // (a delete sent to a daemon that has gone) says nothing about why it failed.
    if stage <= Stage::FirstSent {
        if let Some(f) = icmp_refused(facts) {
            return Some(f);
        }
    }
    let name = g.name;
    let other = facts.gws.iter().find(|o| o.name != name);
    let nat = facts.any(|k| {
        matches!(
            k,
            EventKind::NatDetected {
                local_behind: Some(true),
                forced: false,
                ..
            } | EventKind::NatDetected {
                peer_behind: Some(true),
                forced: false,
                ..
            }
        )
    });
    let f = match stage {
        Stage::FirstSent => first_unanswered(name, other),
        Stage::FirstAnswered | Stage::AuthSent => auth_unanswered(facts, name, other, nat),
        Stage::IkeUp | Stage::ChildSent => Finding::new(Cause::ChildProposalMismatch, 0.35, format!("{name}'s log shows the IKE SA up and the IPsec SA (quick mode / child SA) never established (situation C)"))
            .advise("read the responder's log: it names the refused proposal, traffic selectors or kernel error"),
        Stage::ChildUp => return None,
    };
    Some(f.with(Some(x.evidence())))
}

/// Bytes through a child SA as the daemon counted them (pluto `ESP traffic information`,
/// charon `closing CHILD_SA ... (N bytes)`, `ipsec whack --trafficstatus`): the last count of
/// each gateway, and the line.
/// A count may come in two lines (swanctl lists `in` and `out` apart): the latest of each.
fn last_traffic<'a>(g: &'a GwLog<'_>) -> Option<(u64, u64, &'a Ev<'a>)> {
    let (mut inb, mut outb, mut line) = (None, None, None);
    for x in g.evs.iter().rev() {
        if let EventKind::TrafficStats { in_bytes, out_bytes } = x.kind() {
            if inb.is_none() && in_bytes.is_some() {
                inb = *in_bytes;
                line = line.or(Some(x));
            }
            if outb.is_none() && out_bytes.is_some() {
                outb = *out_bytes;
                line = line.or(Some(x));
            }
            if inb.is_some() && outb.is_some() {
                break;
            }
        }
    }
    Some((inb?, outb?, line?))
}

/// Situation D from the daemons' byte counts, once the SAs are up: what one side sent and the
/// other never received. `None` when traffic passed both ways or nothing was counted.
fn traffic(facts: &LogFacts<'_>) -> Option<Finding> {
    let counted: Vec<_> = facts
        .gws
        .iter()
        .filter_map(|g| last_traffic(g).map(|t| (g.name, t)))
        .collect();
    let (cause, conf, summary, evs) = match counted.as_slice() {
        [(a, (ai, ao, ax)), (b, (bi, bo, bx))] => {
            let lost_ab = *ao > 0 && *bi == 0;
            let lost_ba = *bo > 0 && *ai == 0;
            let evs = vec![ax.evidence(), bx.evidence()];
            match (lost_ab, lost_ba) {
                (true, true) => (Cause::EspBlocked, 0.6, format!("the daemons' counters show ESP sent both ways ({a} {ao} bytes, {b} {bo} bytes) and none received: ESP is blocked between the gateways"), evs),
                (true, false) | (false, true) => {
                    let (s, r, rout) = if lost_ab { (a, b, *bo) } else { (b, a, *ao) };
                    if rout == 0 {
                        (Cause::EspBlocked, 0.45, format!("the daemons' counters show ESP sent by {s} and nothing received by {r}, which sent none back: ESP from {s} is blocked (the other direction carried no traffic to tell)"), evs)
                    } else {
                        (Cause::EspOneWay, 0.55, format!("the daemons' counters show ESP from {s} never received by {r}, while {r}'s ESP reaches {s}: one direction is blocked"), evs)
                    }
                }
                (false, false) if *ao == 0 && *bo == 0 => (Cause::NoTrafficSent, 0.45, "the daemons' counters show no ESP sent by either gateway: no traffic enters the tunnel".to_string(), evs),
                (false, false) if *ai > 0 && *ao == 0 => (Cause::DecryptedNotForwarded, 0.4, format!("the daemons' counters show {a} receiving ESP and sending none back: the decrypted traffic is not forwarded to its hosts, or their replies do not enter the tunnel"), evs),
                (false, false) if *bi > 0 && *bo == 0 => (Cause::DecryptedNotForwarded, 0.4, format!("the daemons' counters show {b} receiving ESP and sending none back: the decrypted traffic is not forwarded to its hosts, or their replies do not enter the tunnel"), evs),
                _ => return None,
            }
        }
        [(a, (ai, ao, ax))] => match (*ai, *ao) {
            (0, 0) => (Cause::NoTrafficSent, 0.35, format!("{a}'s counters show no ESP sent or received through the SA: no traffic enters the tunnel"), vec![ax.evidence()]),
            (0, _) => (Cause::EspBlocked, 0.35, format!("{a}'s counters show ESP sent and none received: the ESP is lost on the way, or the peer sends nothing back (the peer's log or captures tell which)"), vec![ax.evidence()]),
            (_, 0) => (Cause::DecryptedNotForwarded, 0.3, format!("{a}'s counters show ESP received and none sent back: its hosts' replies do not enter the tunnel"), vec![ax.evidence()]),
            _ => return None,
        },
        _ => return None,
    };
    let mut f = Finding::new(cause, conf, format!("IKE and IPsec SAs are up (situation D); {summary}"))
        .advise("capture on both gateways at once (`ipsec-doctor capture-filter`) to see where the ESP stops: a firewall dropping ESP (proto 50 / UDP 4500), routing or policy on the gateway that sends nothing");
    for e in evs {
        f = f.with(Some(e));
    }
    Some(f)
}

/// The peer's kernel answered the first message with ICMP port unreachable.
/// Or IKE over TCP (RFC 8229) refused: nothing listens on the peer's TCP port either.
fn icmp_refused(facts: &LogFacts<'_>) -> Option<Finding> {
    let (g, x) = facts.find(|x| {
        matches!(
            x.kind(),
            EventKind::NetworkError {
                icmp_type: Some(3),
                icmp_code: Some(3),
                ..
            } | EventKind::TcpConnectFailed { errno: Some(111), .. }
        )
    })?;
    let how = if matches!(x.kind(), EventKind::TcpConnectFailed { .. }) {
        "its TCP connection for IKE over TCP refused by the peer"
    } else {
        "ICMP port unreachable from the peer"
    };
    Some(
        Finding::new(
            Cause::ResponderNotListening,
            0.8,
            format!("{}'s log reports {how}: no IKE daemon listens there", g.name),
        )
        .with(Some(x.evidence()))
        .advise("start the IKE daemon on the responder and check it listens on UDP 500 and 4500"),
    )
}

/// Situation A from the logs: the first message got no answer. The responder's log, when
/// there is one, tells whether the message reached its daemon.
fn first_unanswered(name: &str, other: Option<&GwLog<'_>>) -> Finding {
    let answered = other.and_then(|o| {
        o.evs.iter().find(|x| {
            matches!(
                x.kind(),
                EventKind::Sent { request: false, .. } | EventKind::Responding { .. }
            )
        })
    });
    if let (Some(o), Some(x)) = (other, answered) {
        return Finding::new(
            Cause::IkeRepliesLost,
            0.6,
            format!(
                "{name}'s log shows the first IKE message unanswered, yet {}'s log shows it received and answered: the answers are lost on the way back (situation A)",
                o.name
            ),
        )
        .with(Some(x.evidence()))
        .advise("look for a firewall or NAT between the gateways that drops UDP 500/4500 from the responder, or an asymmetric route back");
    }
    let listening = other.filter(|o| !o.evs.is_empty());
    let f = match listening {
        Some(o) => Finding::new(
            Cause::IkeBlockedOnPath,
            0.5,
            format!(
                "{name}'s log shows the first IKE message never answered, and {}'s log shows its daemon running and nothing received: the message never reached the daemon (situation A)",
                o.name
            ),
        )
        .advise(format!(
            "capture on {} (external interface): if the message arrives there it is filtered at the responder (A1, its firewall); if it never arrives it is blocked on the path (A2)",
            o.name
        )),
        None => Finding::new(
            Cause::IkeBlockedOnPath,
            0.4,
            format!("{name}'s log shows the first IKE message sent and never answered (situation A)"),
        )
        .advise("capture on both gateways at once: a message that never arrives is blocked on the path (A2); one that arrives unanswered is filtered at the responder or its daemon is not running (A1)")
        .advise("read the responder's log: a daemon that logs nothing never got the message"),
    };
    f
}

/// Situation B from the logs: the third exchange (MI3 / IKE_AUTH) got no answer, or the log
/// stops there. The responder's log says whether the message reached it; its size and port say
/// why it would not: IP fragments (certificates) or UDP 4500 after NAT detection.
fn auth_unanswered(facts: &LogFacts<'_>, name: &str, other: Option<&GwLog<'_>>, nat: bool) -> Finding {
    // The responder still waiting for MI3 / IKE_AUTH: its furthest stage is the first exchange
    // answered (MR2 / IKE_SA_INIT response sent, perhaps again and again).
    let responder = other.filter(|o| {
        o.reached.is_some_and(|(s, _)| s <= Stage::AuthSent)
            && !o.evs.iter().any(|x| {
                matches!(
                    x.kind(),
                    EventKind::Received {
                        exchange: Exchange::IkeAuth,
                        request: true,
                        ..
                    }
                )
            })
    });
    // Large messages (certificates) are sent as IP fragments: the write-up's B explanation.
    let large = facts.any(|k| match k {
        EventKind::Packet {
            outbound: true,
            bytes: Some(b),
            ..
        } => *b > 1400,
        EventKind::CertSent => true,
        _ => false,
    });
    let to_4500 = nat
        || facts.any(|k| match k {
            EventKind::Packet { outbound: true, to, .. } => to.ends_with("[4500]") || to.ends_with(":4500"),
            EventKind::Sent {
                exchange: Exchange::IkeAuth | Exchange::MainMode,
                request: true,
                peer: Some(p),
                ..
            } => p.ends_with(":4500") || p.ends_with("/4500"),
            _ => false,
        });
    let never_arrived = |o: &GwLog<'_>| {
        format!("{name}'s log shows the third exchange (MI3 / IKE_AUTH) unanswered and {}'s log shows it never arrived there", o.name)
    };
    match responder {
        Some(o) if large => Finding::new(
            Cause::IkeFragmentsDropped,
            0.55,
            format!("{}; it is larger than the path MTU, so it travels in IP fragments, and those are lost (situation B)", never_arrived(o)),
        )
        .advise("allow IP fragments between the gateways, or enable IKE fragmentation (fragmentation=yes / fragmentation = yes)")
        .advise(if to_4500 {
            "it goes to UDP 4500: if the fragments pass, check that UDP 4500 is allowed"
        } else {
            "capture on both gateways keeping non-first fragments: `ipsec-doctor capture-filter` prints the command"
        }),
        Some(o) if to_4500 => Finding::new(
            Cause::NattPort4500Blocked,
            0.5,
            format!("{}; it goes to UDP 4500 (NAT traversal), which is blocked on the way (situation B)", never_arrived(o)),
        )
        .advise("allow UDP 4500 between the gateways (from any source port: a NAT changes it)"),
        Some(o) => Finding::new(
            Cause::NattPort4500Blocked,
            0.35,
            format!("{}: the first exchange passed and the third did not, which is what a blocked UDP 4500 (after NAT detection), or a large message lost in IP fragments, does (situation B)", never_arrived(o)),
        )
        .advise("capture on both gateways keeping non-first IP fragments (`ipsec-doctor capture-filter`): the capture shows the port (4500) and whether the message leaves in fragments")
        .advise("allow UDP 4500 between the gateways, and IP fragments or IKE fragmentation (fragmentation=yes)"),
        None if to_4500 && !large => Finding::new(
            Cause::NattPort4500Blocked,
            0.45,
            format!("{name}'s log shows the negotiation stopped at the third exchange, which goes to UDP 4500 after NAT detection (situation B)"),
        )
        .advise("capture on both gateways: if the UDP 4500 packets leave and never arrive, port 4500 is blocked; the rules must accept UDP 4500 from any source port")
        .advise("if they arrive, read the responder's log for an authentication failure"),
        None if large => Finding::new(
            Cause::IkeFragmentsDropped,
            0.45,
            format!("{name}'s log shows the third exchange, larger than the path MTU (IP fragments), never answered (situation B)"),
        )
        .advise("read the responder's log: if it never got the message, allow IP fragments or enable IKE fragmentation (fragmentation=yes); if it logs an authentication failure, that is the cause"),
        None => Finding::new(
            Cause::AuthFailed,
            0.45,
            format!("{name}'s log shows the negotiation stopped at the third exchange (MI3 / IKE_AUTH): the IKE SA was never established (situation B)"),
        )
        .advise("read the responder's log: an authentication failure is logged there; if it logs nothing, capture both ends to look for dropped fragments or a blocked UDP 4500"),
    }
}

/// The log lines that prove the tunnel up: an IKE SA and a child SA established (the child
/// implies its IKE SA), with no refusal named afterwards.
pub(super) fn healthy_proof(facts: &LogFacts<'_>) -> Option<Evidence> {
    facts
        .find(|x| {
            matches!(
                x.kind(),
                EventKind::ChildSaEstablished { .. } | EventKind::CliResult { success: true }
            )
        })
        .map(|(_, x)| x.evidence())
}

#[cfg(test)]
mod tests {
    use crate::diagnose::{diagnose, Cause};
    use crate::inputs::Side;
    use crate::logs::{parse, ParseOptions};

    /// Diagnoses logs alone: one text per gateway, lines as the daemons write them.
    fn verdict(gws: &[(&str, &str)]) -> (Cause, String) {
        let sides: Vec<Side> = gws
            .iter()
            .map(|(name, text)| Side {
                name: name.to_string(),
                captures: Vec::new(),
                logs: vec![parse(&format!("{name}.log"), text, &ParseOptions::default())],
                state: Vec::new(),
            })
            .collect();
        let case = crate::correlate::correlate(&sides);
        let f = diagnose(&case);
        (f[0].cause, f[0].summary.clone())
    }

    #[test]
    fn invalid_id_information_in_phase_1_is_an_id_problem() {
        let main_mode = "\"sg\" #1: initiating IKEv1 Main Mode connection\n\"sg\" #1: sent Main Mode request\n\"sg\" #1: sent Main Mode I2\n\"sg\" #1: sent Main Mode I3\n\"sg\" #1: ignoring informational payload INVALID_ID_INFORMATION, msgid=00000000, length=12\n";
        assert_eq!(verdict(&[("sg1", main_mode)]).0, Cause::IdMismatch);
        let quick_mode = "\"sg\" #1: initiating IKEv1 Main Mode connection\n\"sg\" #1: sent Main Mode request\n\"sg\" #1: ISAKMP SA established {auth=PRESHARED_KEY cipher=AES_CBC_256 integ=HMAC_SHA2_256 group=MODP2048}\n\"sg\" #2: sent Quick Mode request\n\"sg\" #2: ignoring informational payload INVALID_ID_INFORMATION, msgid=00000000, length=12\n";
        assert_eq!(verdict(&[("sg1", quick_mode)]).0, Cause::TrafficSelectorMismatch);
    }

    #[test]
    fn a_refusal_outranks_kernel_errors_of_the_teardown() {
        let text = "\"sg\" #1: initiating IKEv2 connection\n\"sg\" #1: sent IKE_SA_INIT request to 198.51.100.2:500\n\"sg\" #1: sent IKE_AUTH request\n\"sg\" #1: initiator established IKE SA; authenticated peer using authby=secret and ID_FQDN '@sg2'\n\"sg\" #2: IKE_AUTH response rejected Child SA with TS_UNACCEPTABLE\n\"sg\" #2: deleting Child SA (IKE_AUTH_I)\nERROR: \"sg\" #2: netlink XFRM_MSG_DELPOLICY response for flow eroute_connection delete: No such file or directory (errno 2)\n";
        assert_eq!(verdict(&[("sg1", text)]).0, Cause::TrafficSelectorMismatch);
    }

    #[test]
    fn a_kernel_probe_at_start_up_is_not_an_install_failure() {
        let text = "Starting Pluto (Libreswan Version 5.4 IKEv2 IKEv1 XFRM)\nnetlink response for XFRM_MSG_NEWSA Probe Test: Protocol not supported (errno 93)\n\"sg\": added IKEv2 connection\n\"sg\" #1: initiating IKEv2 connection to 198.51.100.2 using UDP\n\"sg\" #1: sent IKE_SA_INIT request to 198.51.100.2:UDP/500\n";
        let (cause, summary) = verdict(&[("sg1", text)]);
        assert_eq!(cause, Cause::IkeBlockedOnPath, "{summary}");
    }

    #[test]
    fn stopping_part_way_is_the_situation_of_the_last_step() {
        let auth = "\"sg\" #1: initiating IKEv2 connection\n\"sg\" #1: sent IKE_SA_INIT request to 198.51.100.2:UDP/500\n\"sg\" #1: processed IKE_SA_INIT response from 198.51.100.2:UDP/500 {cipher=AES_CBC_256 integ=HMAC_SHA2_256_128 prf=HMAC_SHA2_256 ke=MODP2048}, initiating IKE_AUTH\n";
        assert_eq!(verdict(&[("sg1", auth)]).0.situation(), "B");
        let deleted = format!("{auth}\"sg\" #1: deleting IKE SA (IKE_AUTH_I) and sending notification\n");
        assert_eq!(verdict(&[("sg1", &deleted)]).0.situation(), "B");
        let child = "\"sg\" #1: initiating IKEv1 Main Mode connection\n\"sg\" #1: ISAKMP SA established {auth=PRESHARED_KEY}\n\"sg\" #2: sent Quick Mode request\n";
        assert_eq!(verdict(&[("sg1", child)]).0.situation(), "C");
        let up = "\"sg\" #2: initiator established Child SA using #1; IPsec tunnel [10.1.0.0/24===10.2.0.0/24] {ESP/UDP=>0x1234abcd <0xabcd1234 xfrm=AES_CBC_256-HMAC_SHA2_256_128 DPD=passive}\n";
        assert_eq!(verdict(&[("sg1", up)]).0, Cause::Healthy);
    }

    #[test]
    fn the_responder_refusing_without_a_reason_refused_the_id() {
        // Libreswan 5.4 logs no reason when the peer's ID matches no connection; a failed
        // PSK check has its own line.
        let init = "\"sg\" #1: initiating IKEv2 connection\n\"sg\" #1: sent IKE_SA_INIT request to 198.51.100.2:UDP/500\n\"sg\" #1: sent IKE_AUTH request to 198.51.100.2:UDP/500\n\"sg\" #1: IKE SA authentication request rejected by peer: AUTHENTICATION_FAILED\n";
        let resp = "\"sg\" #1: sent IKE_SA_INIT response to 192.0.2.1:UDP/500\n\"sg\" #1: responding to IKE_AUTH message (ID 1) from 192.0.2.1:500 with encrypted notification AUTHENTICATION_FAILED\n";
        assert_eq!(verdict(&[("sg1", init), ("sg2", resp)]).0, Cause::IdMismatch);
        let psk = "\"sg\" #1: sent IKE_SA_INIT response to 192.0.2.1:UDP/500\n\"sg\" #1: authentication failed: computed hash does not match hash received from peer FQDN '@sg1'\n\"sg\" #1: responding to IKE_AUTH message (ID 1) from 192.0.2.1:500 with encrypted notification AUTHENTICATION_FAILED\n";
        assert_eq!(verdict(&[("sg1", init), ("sg2", psk)]).0, Cause::AuthFailed);
        // The initiator's word alone is a generic authentication failure.
        assert_eq!(verdict(&[("sg1", init)]).0, Cause::AuthFailed);
    }

    #[test]
    fn ike_over_tcp_refused_is_nobody_listening() {
        let text = "\"sg\" #1: initiating IKEv2 connection to 198.51.100.2 using TCP\n\"sg\" #1: TCP: socket 12: connecting to 198.51.100.2:4500: Connection refused (errno 111)\n";
        assert_eq!(verdict(&[("sg1", text)]).0, Cause::ResponderNotListening);
    }

    #[test]
    fn byte_counters_show_esp_lost_once_the_sas_are_up() {
        let up = "\"sg\" #2: initiator established Child SA using #1; IPsec tunnel [10.1.0.0/24===10.2.0.0/24]\n";
        let sg1 = format!("{up}\"sg\" #2: ESP traffic information: in=0B out=840B\n");
        let sg2 = "\"sg\" #2: responder established Child SA using #1; IPsec tunnel [10.2.0.0/24===10.1.0.0/24]\n\"sg\" #2: ESP traffic information: in=0B out=0B\n";
        assert_eq!(verdict(&[("sg1", &sg1), ("sg2", sg2)]).0, Cause::EspBlocked);
        let sg2 = "\"sg\" #2: responder established Child SA using #1; IPsec tunnel [10.2.0.0/24===10.1.0.0/24]\n\"sg\" #2: ESP traffic information: in=840B out=840B\n";
        assert_eq!(verdict(&[("sg1", &sg1), ("sg2", sg2)]).0, Cause::EspOneWay);
        let sg1 = format!("{up}\"sg\" #2: ESP traffic information: in=840B out=840B\n");
        assert_eq!(verdict(&[("sg1", &sg1), ("sg2", sg2)]).0, Cause::Healthy);
    }
}
