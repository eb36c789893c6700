//! Evidence from the gateways' state snapshots (a bundle's `NAME-state-start.txt` and
//! `NAME-state-end.txt`, read by [`crate::state`]): a DROP/REJECT rule whose counter moved during
//! the run, the interfaces' MTU, SAs without an IPsec policy, SA counters.
//!
//! It adds evidence and advice to the root cause; it changes the cause in one case only (see
//! [`annotate`]).

use super::{Evidence, Finding, MAX_EVIDENCE};
use crate::correlate::{Case, Gw, GwId};
use crate::diagnose::Cause;
use crate::state::{self, DropDelta, Facts, Phase, RuleSource, Traffic};

/// A gateway's facts, with the files they come from.
struct GwFacts<'a> {
    id: GwId,
    name: &'a str,
    /// The end snapshot's file (the start's when there is no end).
    file: &'a str,
    /// Both a start and an end: counters are deltas over the run.
    both: bool,
    facts: Facts,
    /// Both snapshots listed a firewall (iptables-save or nft, exit 0).
    firewall_listed: bool,
}

fn facts_of<'a>(id: GwId, g: &'a Gw<'_>) -> Option<GwFacts<'a>> {
    let start = g.state().iter().find(|s| s.phase == Phase::Start);
    let end = g.state().iter().rev().find(|s| s.phase == Phase::End);
    let file = end.or(start)?.file.as_str();
    let listed = |s: Option<&crate::inputs::StateFile>| {
        s.is_some_and(|s| {
            s.snapshot
                .commands
                .iter()
                .any(|(c, code)| (c.starts_with("iptables-save") || c.starts_with("nft list")) && *code == Some(0))
        })
    };
    Some(GwFacts {
        id,
        name: g.name,
        file,
        both: start.is_some() && end.is_some(),
        facts: state::compare(start.map(|s| &s.snapshot), end.map(|s| &s.snapshot)),
        firewall_listed: listed(start) && listed(end),
    })
}

/// IKE and the causes read from IKE packets that a firewall can produce.
fn ike_cause(c: Cause) -> bool {
    matches!(
        c,
        Cause::ResponderNotListening
            | Cause::IkeFilteredAtResponder
            | Cause::IkeBlockedOnPath
            | Cause::IkeRepliesLost
            | Cause::IkeFragmentsDropped
            | Cause::NattPort4500Blocked
    )
}

fn esp_cause(c: Cause) -> bool {
    matches!(
        c,
        Cause::EspBlocked
            | Cause::EspOneWay
            | Cause::NatNotDetected
            | Cause::DecryptedNotForwarded
            | Cause::NoTrafficSent
    )
}

/// Whether a drop bears on the root cause: what the rule matches, and where.
fn relevant(cause: Cause, d: &DropDelta) -> bool {
    let forward = d.rule.chain.eq_ignore_ascii_case("forward");
    match d.traffic {
        Traffic::Ike => ike_cause(cause) || esp_cause(cause) || cause == Cause::Inconclusive,
        Traffic::Esp => esp_cause(cause) || cause == Cause::Inconclusive,
        Traffic::Fragments => matches!(
            cause,
            Cause::IkeFragmentsDropped | Cause::MtuBlackhole | Cause::Inconclusive
        ),
        Traffic::Icmp => matches!(cause, Cause::MtuBlackhole | Cause::Inconclusive),
        // A rule for everything: IKE and ESP pass the gateway's own INPUT/OUTPUT; decrypted
        // traffic and the hosts' traffic its FORWARD chain.
        Traffic::Any => match cause {
            Cause::DecryptedNotForwarded | Cause::NoTrafficSent => true,
            Cause::Inconclusive | Cause::MtuBlackhole => true,
            c => (ike_cause(c) || esp_cause(c)) && !forward,
        },
        Traffic::Other => false,
    }
}

fn traffic_words(t: Traffic) -> &'static str {
    match t {
        Traffic::Ike => "it matches UDP 500/4500: IKE and NAT-T",
        Traffic::Esp => "it matches ESP/AH",
        Traffic::Fragments => "it matches IP fragments",
        Traffic::Icmp => "it matches ICMP (fragmentation needed among them?)",
        Traffic::Any => "it matches any protocol: IKE, ESP or the tunnel's traffic may be among them",
        Traffic::Other => "",
    }
}

/// `iptables filter INPUT`, `nft ip filter INPUT`.
fn rule_place(d: &DropDelta) -> String {
    format!("{} {} {}", d.rule.source.words(), d.rule.table, d.rule.chain)
}

/// Evidence from gateway `file`'s state snapshot (at `line`, when one line says it).
fn snapshot_evidence(file: &str, line: Option<usize>, text: String) -> Evidence {
    Evidence {
        source: file.to_string(),
        packet: None,
        line,
        time: None,
        timestamp: None,
        text,
    }
}

fn drop_evidence(g: &GwFacts<'_>, d: &DropDelta) -> Evidence {
    let r = &d.rule;
    let what = if r.policy {
        format!("the {} policy {}", rule_place(d), r.target)
    } else {
        format!("{} rule `{}`", rule_place(d), r.text)
    };
    let when = match (d.start, g.both) {
        (Some((p, b)), true) => format!(
            "during the capture ([{p}:{b}] at the start, [{}:{}] at the end)",
            r.packets, r.bytes
        ),
        (None, true) => "since it was added during the capture".to_string(),
        _ => "(no start snapshot: counted since it was set)".to_string(),
    };
    snapshot_evidence(
        g.file,
        Some(r.line),
        format!(
            "{}: {what} dropped {} packets ({} bytes) {when}; {}",
            g.name,
            d.packets,
            d.bytes,
            if from_tunnel(&r.text) {
                "it matches traffic out of the tunnel (decrypted)"
            } else {
                traffic_words(d.traffic)
            }
        ),
    )
}

fn drop_advice(g: &GwFacts<'_>, d: &DropDelta) -> String {
    let r = &d.rule;
    let cmd = match r.source {
        RuleSource::Iptables => "iptables",
        RuleSource::Ip6tables => "ip6tables",
        RuleSource::Nft => "nft",
    };
    if r.policy {
        return format!(
            "on {}, the {} chain's policy {} dropped {} packets: accept IKE and ESP before it (`{cmd} -t {} -I {} -p udp -m multiport --dports 500,4500 -j ACCEPT` and `-p esp -j ACCEPT`)",
            g.name, r.chain, r.target, d.packets, r.table, r.chain
        );
    }
    match r.source {
        RuleSource::Nft => format!(
            "remove the rule on {} that dropped them: `{}` in nft's {} chain {} (`nft -a list chain {} {}` shows its handle, `nft delete rule {} {} handle N` removes it)",
            g.name, r.text, r.table, r.chain, r.table, r.chain, r.table, r.chain
        ),
        _ => {
            let del = r.text.strip_prefix("-A ").map_or_else(|| r.text.clone(), |t| format!("-D {t}"));
            format!(
                "remove the rule on {} that dropped them: `{cmd} -t {} {del}` (it is `{}` in `{cmd}-save`)",
                g.name, r.table, r.text
            )
        }
    }
}

fn push(f: &mut Finding, e: Evidence) {
    if f.evidence.len() < MAX_EVIDENCE {
        f.evidence.push(e);
    }
}

/// A rule that matches traffic coming out of the tunnel: in from an IPsec interface (`-i
/// ipsec0`, `iifname "vti1"`, kernel-libipsec's TUN, xfrm and VTI devices) or decrypted by an
/// inbound policy (`-m policy --dir in --pol ipsec`, nft `meta ipsec exists`).
fn from_tunnel(text: &str) -> bool {
    let words: Vec<&str> = text.split_whitespace().collect();
    let tunnel_if = |w: &str| {
        let w = w.trim_matches('"');
        ["ipsec", "vti", "ip_vti", "xfrm"].iter().any(|p| w.starts_with(p))
    };
    let by_if = words
        .windows(2)
        .any(|w| matches!(w[0], "-i" | "--in-interface" | "iifname" | "iif") && tunnel_if(w[1]));
    let by_policy = (text.contains("--pol ipsec") && text.contains("--dir in")) || text.contains("ipsec exists");
    by_if || by_policy
}

/// Adds what the snapshots show to the root cause (`findings[0]`).
///
/// The cause changes in two cases only, where the verdict read from the packets names two
/// explanations it cannot tell apart and a counter on the gateway tells them apart:
/// - `ike-blocked-on-path` told from the initiator's capture alone (the responder has no
///   capture, so A1 and A2 cannot be told apart and the finding says so), while the
///   responder's own firewall counted IKE packets dropped by a DROP/REJECT rule outside its
///   FORWARD and OUTPUT chains during the run. The packets then did reach the responder: its
///   firewall dropped them, which is A1 (`ike-filtered-at-responder`).
/// - `no-traffic-sent` where ESP reaches a gateway that sends none back (the finding says: its
///   hosts' traffic does not enter the tunnel, or the decrypted traffic never reaches them),
///   while that gateway's FORWARD chain counted drops by a rule for traffic out of the tunnel
///   (`-i ipsec0`, `--pol ipsec --dir in`): the decrypted traffic is dropped there
///   (`decrypted-not-forwarded`), and the replies that would be sent as ESP never exist.
///
/// Everywhere else the evidence is added and the verdict kept: a counter says a rule dropped
/// something, not that nothing else did.
pub(super) fn annotate(case: &Case<'_>, findings: &mut [Finding]) {
    let Some(f) = findings.first_mut() else {
        return;
    };
    let all: Vec<GwFacts<'_>> = case.gw_ids().filter_map(|id| facts_of(id, case.gw(id))).collect();
    if all.is_empty() {
        return;
    }
    let initiator = case.msgs.first().and_then(|m| m.from);
    if f.cause == Cause::IkeBlockedOnPath {
        let filtered = all.iter().find(|g| {
            Some(g.id) != initiator
                && case.gw(g.id).ext.is_none()
                && g.both
                && g.facts.drops.iter().any(|d| {
                    d.traffic == Traffic::Ike
                        && !d.rule.chain.eq_ignore_ascii_case("forward")
                        && !d.rule.chain.eq_ignore_ascii_case("output")
                })
        });
        if let Some(g) = filtered {
            f.cause = Cause::IkeFilteredAtResponder;
            f.confidence = f.confidence.max(0.8);
            f.summary = format!(
                "the first IKE message left the initiator and was never answered; {}'s own firewall counted IKE packets dropped during the capture (A1): a firewall on the responder",
                g.name
            );
            f.advice.retain(|a| !a.contains("capture on the responder"));
        }
    }
    if f.cause == Cause::NoTrafficSent {
        let dropped = all.iter().find_map(|g| {
            let esp_in = case.esp.iter().any(|p| p.to == Some(g.id) && p.arrived.is_some());
            let d = g.facts.drops.iter().find(|d| {
                d.rule.chain.eq_ignore_ascii_case("forward") && !d.rule.policy && from_tunnel(&d.rule.text)
            })?;
            (esp_in && g.both).then_some((g, d))
        });
        if let Some((g, d)) = dropped {
            f.cause = Cause::DecryptedNotForwarded;
            f.confidence = f.confidence.max(0.8);
            f.summary = format!(
                "ESP arrives at {} and is decrypted, and {}'s firewall drops the decrypted traffic in its FORWARD chain ({} packets during the capture): it never reaches the hosts, so no replies go back",
                g.name, g.name, d.packets
            );
        }
    }
    let cause = f.cause;
    let mut advice = Vec::new();
    for g in &all {
        let shown: Vec<&DropDelta> = g.facts.drops.iter().filter(|d| relevant(cause, d)).take(4).collect();
        for d in &shown {
            push(f, drop_evidence(g, d));
            if advice.len() < 4 {
                advice.push(drop_advice(g, d));
            }
        }
        // A1 proven by the responder's own counter: as sure as a capture on both ends.
        if cause == Cause::IkeFilteredAtResponder
            && Some(g.id) != initiator
            && g.both
            && shown.iter().any(|d| d.traffic == Traffic::Ike)
        {
            f.confidence = f.confidence.max(0.9);
            f.advice
                .retain(|a| !a.contains("cannot be told apart from a daemon that is not running"));
        }
        // A loss on the path: a gateway whose firewall dropped nothing is not where it happened.
        let path_loss = matches!(
            cause,
            Cause::IkeBlockedOnPath
                | Cause::IkeRepliesLost
                | Cause::NattPort4500Blocked
                | Cause::IkeFragmentsDropped
                | Cause::EspBlocked
                | Cause::EspOneWay
        );
        if path_loss && g.both && g.firewall_listed && g.facts.drops.is_empty() {
            push(
                f,
                snapshot_evidence(g.file, None, format!(
                        "{}: no firewall rule or policy dropped a packet during the capture (iptables-save -c / nft list ruleset at the start and the end): the loss is not in {}'s own firewall",
                        g.name, g.name
                    )),
            );
        }
        if matches!(cause, Cause::MtuBlackhole | Cause::IkeFragmentsDropped) {
            if let Some(l) = &g.facts.lowest_mtu {
                push(
                    f,
                    snapshot_evidence(
                        g.file,
                        Some(l.line),
                        format!(
                            "{}: lowest interface MTU {} on {} (ip -o link)",
                            g.name,
                            l.mtu.unwrap_or(0),
                            l.name
                        ),
                    ),
                );
            }
        }
        if matches!(
            cause,
            Cause::ChildSaInstallFailed | Cause::DecryptedNotForwarded | Cause::NoTrafficSent | Cause::Inconclusive
        ) && g.facts.policies_missing()
        {
            push(
                f,
                snapshot_evidence(g.file, None, format!(
                        "{}: the kernel holds {} SA(s) (ip -s xfrm state) but no IPsec policy (ip xfrm policy lists none with a template): no traffic is sent into them or accepted from them",
                        g.name, g.facts.kernel_sas
                    )),
            );
            if advice.len() < 4 {
                advice.push(format!(
                    "on {}, the daemon's policies are missing from the kernel: look in its log for the policy install errors (`ip xfrm policy` must list in/out/fwd policies for the tunnel's subnets)",
                    g.name
                ));
            }
        }
        if esp_cause(cause) && g.both {
            for s in g.facts.sa_growth.iter().take(4) {
                let spi = if s.sa.spi != 0 {
                    format!(" 0x{:08x}", s.sa.spi)
                } else {
                    String::new()
                };
                let dir = if s.sa.dir.is_empty() {
                    format!("{} > {}", s.sa.src, s.sa.dst)
                } else {
                    s.sa.dir.clone()
                };
                let count = match (s.packets, s.bytes) {
                    (Some(p), Some(b)) => format!("{p} packets ({b} bytes)"),
                    (Some(p), None) => format!("{p} packets"),
                    (None, Some(b)) => format!("{b} bytes"),
                    (None, None) => continue,
                };
                push(
                    f,
                    snapshot_evidence(
                        g.file,
                        Some(s.sa.line),
                        format!(
                            "{}: SA {dir}{spi} counted {count} during the capture ({})",
                            g.name,
                            match s.sa.from {
                                "xfrm" => "ip -s xfrm state",
                                "swanctl" => "swanctl --list-sas",
                                _ => "ipsec whack --trafficstatus",
                            }
                        ),
                    ),
                );
            }
        }
    }
    // The rule to remove comes first: it is the next step.
    for a in advice.into_iter().rev() {
        f.advice.insert(0, a);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rules_for_traffic_out_of_the_tunnel() {
        for (t, want) in [
            ("-A FORWARD -i ipsec0 -j DROP", true),
            ("-A FORWARD -i vti+ -j DROP", true),
            ("-A FORWARD -m policy --dir in --pol ipsec -j DROP", true),
            ("iifname \"ipsec0\" counter packets 5 bytes 420 drop", true),
            ("-A FORWARD -i eth0 -j DROP", false),
            ("-A FORWARD -m policy --dir out --pol ipsec -j DROP", false),
        ] {
            assert_eq!(super::from_tunnel(t), want, "{t}");
        }
    }
}
