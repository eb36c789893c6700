//! Situation D: the SAs are up but traffic does not flow.

use super::ike::IkeAnalysis;
use super::{fmt_time, log_ev, rfc3339, Cause, Evidence, Finding};
use crate::correlate::{Case, EspPath, GwId};
use crate::logs::EventKind;
use crate::track::EspFlow;
use std::net::IpAddr;

/// What the keys opened of a flow: its inner traffic (`ICMP echo request 10.1.0.1 > 10.2.0.1
/// ×12`), and the packets they did not open.
pub fn inner_text(f: &EspFlow) -> Option<String> {
    let o = f.opened.as_ref()?;
    let mut parts: Vec<String> = o
        .inner
        .iter()
        .take(4)
        .map(|i| format!("{} {} > {} ×{}", i.what, i.src, i.dst, i.packets))
        .collect();
    if o.inner.len() > 4 {
        parts.push(format!("{} more inner flows", o.inner.len() - 4));
    }
    if o.failed > 0 {
        parts.push(format!(
            "{} packets not decrypted ({}), the first #{}",
            o.failed,
            o.failure.as_deref().unwrap_or("?"),
            o.first_failed.unwrap_or(0)
        ));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// `f` as `gw`'s capture holds it (a path's sent end has its `from`, its arrived end its `to`).
fn flow_evidence(case: &Case<'_>, gw: Option<GwId>, f: &EspFlow, what: &str) -> Option<Evidence> {
    let inside = inner_text(f).map(|t| format!("; inside: {t}")).unwrap_or_default();
    Some(Evidence {
        source: case.gw(gw?).ext?.name.clone(),
        packet: Some(f.first_number),
        line: None,
        time: Some(fmt_time(f.first_time)),
        timestamp: rfc3339(f.first_time),
        text: format!(
            "{what}: ESP SPI 0x{:08x} {} > {}{}, {} packets, seq {}..{}{inside}",
            f.key.spi,
            f.key.src,
            f.key.dst,
            match (f.key.tcp, f.key.udp.is_some()) {
                (true, _) => " (in TCP 4500)",
                (false, true) => " (UDP-encapsulated)",
                _ => "",
            },
            f.packets,
            f.seq_min,
            f.seq_max
        ),
    })
}

/// ESP of one path that arrived for a while and then stopped, while the receiver's capture went
/// on past the packets that did not come (a path that broke during the capture, as `watch`
/// sees it): the sequence numbers sent after the last one that arrived, and when that was (on
/// the first gateway's clock). At least 3 packets and 2 s of them, so the last packets in
/// flight when a capture stops do not count.
fn stopped_arriving(case: &Case<'_>, p: &EspPath<'_>) -> Option<(u64, f64)> {
    let (s, r, from, to) = (p.sent?, p.arrived?, p.from?, p.to?);
    let missing = u64::from(s.seq_max.checked_sub(r.seq_max)?);
    let sent_last = case.on_first_clock(from, s.last_time);
    let arrived_last = case.on_first_clock(to, r.last_time);
    let tl = case.gw(to).tl()?;
    let listening_until = case.on_first_clock(to, tl.listening_until.or(tl.last_time)?);
    (missing >= 3 && sent_last > arrived_last + 2.0 && listening_until > sent_last + 0.5)
        .then_some((missing, arrived_last))
}

/// Packets of the sender's flow larger than anything that arrived (when small ones did).
fn large_lost(p: &EspPath<'_>) -> Option<(u64, u32)> {
    let (s, r) = (p.sent?, p.arrived?);
    if s.packets <= r.packets {
        return None;
    }
    // Per exact length when both ends kept every length (ESP pads to a block size, so a flow
    // has few), else per size class.
    let complete = |f: &crate::track::EspFlow| f.lengths.iter().map(|(_, n)| n).sum::<u64>() == f.packets;
    if complete(s) && complete(r) {
        let got = |len: u32| r.lengths.iter().find(|(l, _)| *l == len).map_or(0, |(_, n)| *n);
        let lost: Vec<(u32, u64)> = s
            .lengths
            .iter()
            .filter(|(l, n)| *n > got(*l))
            .map(|(l, n)| (*l, n - got(*l)))
            .collect();
        let smallest_lost = lost.iter().map(|(l, _)| *l).min()?;
        let largest_whole = s
            .lengths
            .iter()
            .filter(|(l, n)| *n > 0 && got(*l) == *n)
            .map(|(l, _)| *l)
            .max()
            .unwrap_or(0);
        // Every length that was lost is larger than every length that always got through.
        return (largest_whole > 0 && smallest_lost > largest_whole)
            .then(|| (lost.iter().map(|(_, n)| n).sum(), largest_whole));
    }
    let biggest_arrived = r.max_len;
    let lost_large: u64 = s
        .by_size
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            *i > 0
                && crate::track::SIZE_CLASSES
                    .get(i - 1)
                    .is_some_and(|c| *c >= biggest_arrived)
        })
        .map(|(_, n)| n)
        .sum();
    (s.max_len > biggest_arrived && lost_large > 0).then_some((lost_large, biggest_arrived))
}

pub fn analyse(case: &Case<'_>, ike: &IkeAnalysis) -> Option<Finding> {
    let two = case.gws.len() == 2 && case.gws.iter().all(|g| g.ext.is_some());
    let esp = &case.esp;
    // A NAT between the gateways but ESP sent as IP protocol 50: it cannot cross the NAT.
    if !case.rewrites.is_empty() {
        // ESP as protocol 50 towards the other gateway that does not get there (with one
        // capture: that cannot be seen, the NAT is reason enough).
        let two_caps = case.gws.len() == 2 && case.gws.iter().all(|g| g.ext.is_some());
        let plain = esp.iter().find_map(|p| {
            let f = p.sent.filter(|f| f.key.udp.is_none())?;
            (!two_caps || (p.to.is_some() && p.arrived.is_none())).then_some((p, f))
        });
        if let Some((p, f)) = plain {
            let r = case.rewrites[0];
            return Some(
                Finding::new(
                    Cause::NatNotDetected,
                    0.85,
                    format!(
                        "a NAT rewrites {} to {} on the path, yet ESP is sent as plain IP protocol 50, which the NAT cannot carry",
                        r.at_sender, r.at_receiver
                    ),
                )
                .with(flow_evidence(case, p.from, f, "sent"))
                .with(p.from.and_then(|g| log_ev(case.gw(g), |k| matches!(k, EventKind::ChildSaEstablished { .. }))))
                .advise("the ends did not detect the NAT (NATD=none in pluto's log): set forceencaps=yes / encapsulation=yes so ESP goes in UDP 4500"),
            );
        }
    }
    if esp.is_empty() {
        if !ike.ike_up {
            return None;
        }
        let captured = case.gws.iter().filter(|g| g.ext.is_some()).count();
        if captured == 0 {
            return None;
        }
        let inside = inside_traffic(case);
        if ike.v2 && !ike.child_up && !(ike.child_inferred && inside.is_some()) {
            // Whether IKE_AUTH set up the child SA is inside the encryption.
            return Some(
                Finding::new(
                    Cause::ChildProposalMismatch,
                    0.3,
                    "IKE_AUTH was answered but no ESP follows: either the child SA was refused inside the encrypted reply (situation C) or it is up and no traffic is sent (situation D)",
                )
                .advise("read both daemons' logs: a refused child SA (NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE, a kernel error) is logged there")
                .advise("then send traffic between the protected subnets and capture ESP on both gateways"),
            );
        }
        let updown = case.gws.iter().find_map(|g| {
            log_ev(g, |k| {
                matches!(k, EventKind::UpdownFailed { .. } | EventKind::RouteFailed)
            })
        });
        let mut f = Finding::new(
            Cause::NoTrafficSent,
            match (ike.child_up, captured) {
                (true, 2..) => 0.75,
                (true, _) => 0.55,
                (false, _) => 0.45,
            },
            "the SAs are up but no ESP leaves either gateway: traffic is not routed into the tunnel",
        )
        .with(updown)
        .with(inside)
        .with(case.gws.iter().find_map(|g| log_ev(g, |k| matches!(k, EventKind::ChildSaEstablished { .. }))))
        .advise("send traffic between the protected subnets (ping from client1 to client2), not from the gateway itself")
        .advise("check the routes and policies on the sending gateway (ip xfrm policy, ip route), the _updown script's errors in the log, and its firewall");
        if captured < 2 {
            f = f.advise("a capture from the other gateway would show whether it sends ESP");
        }
        return Some(f);
    }
    let sent: Vec<&EspPath<'_>> = esp.iter().filter(|p| p.sent.is_some()).collect();
    if two {
        // Lost: never arrived, or stopped arriving while the receiver's capture went on.
        let lost: Vec<&&EspPath<'_>> = sent
            .iter()
            .filter(|p| p.arrived.is_none() || stopped_arriving(case, p).is_some())
            .collect();
        // A direction that passes counts only if it carried traffic after another stopped.
        let stopped_at = lost
            .iter()
            .filter_map(|p| stopped_arriving(case, p))
            .map(|(_, t)| t)
            .reduce(f64::min);
        let ok: Vec<&&EspPath<'_>> = sent
            .iter()
            .filter(|p| p.arrived.is_some() && stopped_arriving(case, p).is_none())
            .filter(|p| {
                stopped_at.is_none_or(|t| {
                    p.sent
                        .zip(p.from)
                        // (a reply to the last request that arrived leaves just after it)
                        .is_some_and(|(s, g)| case.on_first_clock(g, s.last_time) > t + 1.0)
                })
            })
            .collect();
        let dirs_lost: std::collections::BTreeSet<GwId> = lost.iter().filter_map(|p| p.from).collect();
        // Size-dependent loss: big packets lost, small ones pass.
        for p in &ok {
            if let (Some((n, biggest)), Some(s)) = (large_lost(p), p.sent) {
                let icmp = case
                    .gws
                    .iter()
                    .find_map(|g| g.tl()?.icmp.iter().find(|i| i.mtu.is_some()).map(|i| (g, i)));
                let mut f = Finding::new(
                    Cause::MtuBlackhole,
                    0.8,
                    format!(
                        "small ESP packets arrive but {n} large ones (up to {} bytes) never do; the largest that arrived was {biggest} bytes: a path MTU black hole",
                        s.max_len
                    ),
                )
                .with(flow_evidence(case, p.from, s, "sent"))
                .with(p.arrived.and_then(|r| flow_evidence(case, p.to, r, "arrived")));
                if let Some((g, i)) = icmp {
                    f = f.with(Some(Evidence {
                        source: g.ext.map(|c| c.name.clone()).unwrap_or_default(),
                        packet: Some(i.number),
                        line: None,
                        time: Some(fmt_time(i.time)),
                        timestamp: rfc3339(i.time),
                        text: format!("ICMP fragmentation needed, MTU {}", i.mtu.unwrap_or(0)),
                    }));
                }
                return Some(
                    f.advise("ICMP 'fragmentation needed' is lost or filtered on the path: let it through, or clamp the MSS (iptables -t mangle ... TCPMSS --clamp-mss-to-pmtu) / lower the tunnel MTU")
                        .advise("test with `ping -M do -s 1400 <remote client>` through the tunnel"),
                );
            }
        }
        if let Some((l, s)) = lost.first().and_then(|l| Some((l, l.sent?))) {
            let both = dirs_lost.len() >= 2 || (ok.is_empty() && sent.len() >= 2);
            let encap = s.key.udp.is_some();
            let what = match (s.key.tcp, encap) {
                (true, _) => "ESP in TCP 4500 (RFC 8229)",
                (false, true) => "UDP-encapsulated ESP (UDP 4500)",
                _ => "ESP (IP protocol 50)",
            };
            // Nothing arrived in any direction: blocked. (With traffic sent one way only, the
            // other way is untested; the summary says so.)
            if both || ok.is_empty() {
                let summary = if let (Some((n, t)), false) = (stopped_arriving(case, l), dirs_lost.len() >= 2) {
                    format!("the SAs are up and ESP passed, but since {} {what} leaves {} and stops short of {} ({n} packets sent after the last one that arrived); nothing got through in any direction since (the other direction carried no traffic after it)", fmt_time(t), l.from.map(|g| case.gw(g).name).unwrap_or("?"), l.to.map(|g| case.gw(g).name).unwrap_or("?"))
                } else if dirs_lost.len() >= 2 {
                    format!("the SAs are up, {what} leaves both gateways and never arrives at the other")
                } else {
                    format!("the SAs are up, {what} leaves {} and never arrives; no ESP gets through in any direction (the other direction carried no traffic)", l.from.map(|g| case.gw(g).name).unwrap_or("?"))
                };
                let mut f = Finding::new(
                    Cause::EspBlocked,
                    if dirs_lost.len() >= 2 { 0.85 } else { 0.65 },
                    summary,
                );
                for p in lost.iter().take(2) {
                    if let (Some(fl), Some(g)) = (p.sent, p.from) {
                        f = f.with(flow_evidence(case, Some(g), fl, "sent, never arrived"));
                    }
                }
                return Some(
                    f.advise(if encap {
                        "a firewall passes IKE on UDP 4500 but drops ESP-in-UDP: allow all UDP 4500 both ways"
                    } else {
                        "allow IP protocol 50 (ESP) between the gateways: iptables -A INPUT -p esp -j ACCEPT, and on the path"
                    })
                    .advise("tcpdump -i eth1 -v -n -p ip host PEER and ip proto 50 (or udp port 4500) on both ends"),
                );
            }
            let from = l.from.map(|g| case.gw(g).name).unwrap_or("?");
            let to = l.to.map(|g| case.gw(g).name).unwrap_or("?");
            let mut summary = match stopped_arriving(case, l) {
                Some((n, t)) => format!("ESP flows one way only since {}: SPI 0x{:08x} leaves {from} and stopped arriving at {to} ({n} packets sent after the last one that arrived), while the other direction passes", fmt_time(t), s.key.spi),
                None => format!("ESP flows one way only: SPI 0x{:08x} leaves {from} and never arrives at {to}, while the other direction passes", s.key.spi),
            };
            // Decrypted, the lost direction names the traffic that stops on the path.
            if let Some(i) = s.opened.as_ref().and_then(|o| o.inner.first()) {
                summary.push_str(&format!(
                    "; inside it, {} from {} to {} leaves {from} and stops on the path",
                    i.what, i.src, i.dst
                ));
            }
            let mut f = Finding::new(Cause::EspOneWay, 0.85, summary).with(flow_evidence(
                case,
                l.from,
                s,
                "sent, never arrived",
            ));
            if let Some(o) = ok.first() {
                if let (Some(r), Some(g)) = (o.arrived, o.to) {
                    f = f.with(flow_evidence(case, Some(g), r, "the other direction arrives"));
                }
            }
            return Some(
                f.advise(format!(
                    "something on the path from {from} to {to} drops {what}: check that direction's firewalls and NAT"
                ))
                .advise("then follow the write-up with sg1 and sg2 swapped"),
            );
        }
        // Everything arrived: was it forwarded inside?
        if let Some(f) = not_forwarded(case) {
            return Some(f);
        }
        // A gateway that receives the peer's ESP and sends none at all: nothing leaves it, so
        // the fault is on that gateway (its hosts' traffic or replies do not enter the tunnel),
        // not on the path (esp-one-way is ESP that leaves one gateway and does not arrive).
        for gi in case.gw_ids() {
            let g = case.gw(gi);
            let inbound = esp
                .iter()
                .find(|p| p.to == Some(gi) && p.arrived.is_some() && p.from.is_some());
            let outbound = esp.iter().any(|p| p.from == Some(gi) && p.to.is_some());
            if let (Some(p), false) = (inbound, outbound) {
                let r = p.arrived?;
                let from = p.from.map(|o| case.gw(o).name).unwrap_or("the peer");
                return Some(
                    silent_gateway(case, gi, r, 0.75)
                        .with(
                            p.sent
                                .and_then(|s| flow_evidence(case, p.from, s, &format!("sent by {from}"))),
                        )
                        .advise(format!(
                            "{}'s own capture shows no ESP leaving it: the path is not at fault",
                            g.name
                        )),
                );
            }
        }
        return None;
    }
    // One capture: say what it shows and what cannot be told.
    let gw = case.gw_ids().find(|&g| case.gw(g).ext.is_some())?;
    let out: Vec<&EspPath<'_>> = esp.iter().filter(|p| p.from == Some(gw)).collect();
    let inc: Vec<&EspPath<'_>> = esp.iter().filter(|p| p.to == Some(gw)).collect();
    if !out.is_empty() && inc.is_empty() {
        let s = out[0].sent?;
        return Some(
            Finding::new(
                Cause::EspOneWay,
                0.45,
                format!("{} sends ESP (SPI 0x{:08x}) but receives none back; from one capture, ESP lost on the way out cannot be told from replies lost on the way back (esp-blocked) or from a peer that sends none (no-traffic-sent there)", case.gw(gw).name, s.key.spi),
            )
            .with(flow_evidence(case, Some(gw), s, "sent"))
            .advise("capture ESP on the other gateway at the same time: tcpdump -i eth1 -v -n -p ip host PEER and ip proto 50 (or udp port 4500)"),
        );
    }
    if out.is_empty() && !inc.is_empty() {
        let r = inc[0].arrived?;
        return Some(silent_gateway(case, gw, r, 0.6));
    }
    not_forwarded(case)
}

/// Gateway `gi` receives ESP (`r`, in its own capture) and sends none: no-traffic-sent there.
fn silent_gateway(case: &Case<'_>, gi: GwId, r: &EspFlow, confidence: f64) -> Finding {
    let name = case.gw(gi).name;
    Finding::new(
        Cause::NoTrafficSent,
        confidence,
        format!(
            "ESP reaches {name} (SPI 0x{:08x}) and {name} sends no ESP at all: its hosts' traffic (or their replies) does not enter the tunnel on {name}, or the decrypted traffic never reaches them",
            r.key.spi
        ),
    )
    .with(flow_evidence(case, Some(gi), r, "arrived"))
    .with(log_ev(case.gw(gi), |k| matches!(k, EventKind::UpdownFailed { .. } | EventKind::RouteFailed)))
    .advise(format!(
        "on {name}: check the routes, policies and firewall for the protected subnets (ip xfrm policy, ip route, iptables -L FORWARD -n -v) and the _updown script's errors in its log"
    ))
    .advise(format!(
        "capture {name}'s internal interface: if the decrypted traffic goes out and replies come back, the replies are not routed into the tunnel; if nothing goes out, the decrypted traffic is dropped on {name}"
    ))
}

/// Unicast traffic between hosts (not multicast, broadcast or link-local chatter such as
/// neighbour discovery, which every interface carries).
fn host_traffic(src: IpAddr, dst: IpAddr) -> bool {
    let unicast = |a: IpAddr| match a {
        IpAddr::V4(a) => !(a.is_multicast() || a.is_broadcast() || a.is_link_local() || a.is_unspecified()),
        IpAddr::V6(a) => !(a.is_multicast() || a.is_unspecified() || (a.segments()[0] & 0xffc0) == 0xfe80),
    };
    unicast(src) && unicast(dst)
}

/// Plain traffic on a gateway's internal interface: hosts behind it are trying to talk.
fn inside_traffic(case: &Case<'_>) -> Option<Evidence> {
    case.gws.iter().find_map(|g| {
        g.internal.iter().find_map(|c| {
            let p = c
                .timeline
                .plain
                .iter()
                .filter(|p| host_traffic(p.key.src, p.key.dst))
                .max_by_key(|p| p.packets)?;
            Some(Evidence {
                source: c.name.clone(),
                packet: Some(p.first_number),
                line: None,
                time: Some(fmt_time(p.first_time)),
                timestamp: rfc3339(p.first_time),
                text: format!(
                    "{} packets from {} to {} reach {}'s internal interface",
                    p.packets, p.key.src, p.key.dst, g.name
                ),
            })
        })
    })
}

/// ESP arrives but the inner traffic never leaves the receiver's internal interface.
fn not_forwarded(case: &Case<'_>) -> Option<Finding> {
    for gi in case.gw_ids() {
        let g = case.gw(gi);
        if g.internal.is_empty() {
            continue;
        }
        let arrived: Vec<&EspPath<'_>> = case
            .esp
            .iter()
            .filter(|p| p.to == Some(gi) && p.arrived.is_some())
            .collect();
        if arrived.is_empty() {
            continue;
        }
        // What the hosts behind the sender tried to send (its internal capture), else any
        // unicast traffic between hosts: that is what should leave the receiver inside.
        let mut sender_inner: Vec<(IpAddr, IpAddr)> = case
            .gw_ids()
            .filter(|&o| o != gi)
            .flat_map(|o| case.gw(o).internal.iter().flat_map(|c| c.timeline.plain.iter()))
            .filter(|p| host_traffic(p.key.src, p.key.dst))
            .map(|p| (p.key.src, p.key.dst))
            .collect();
        // Decrypted, the ESP that arrived says itself what it carries.
        let carried: Vec<&crate::track::opened::InnerFlow> = arrived
            .iter()
            .filter_map(|p| p.arrived?.opened.as_ref())
            .flat_map(|o| o.inner.iter())
            .collect();
        sender_inner.extend(carried.iter().map(|i| (i.src, i.dst)));
        let inner_out = g.internal.iter().any(|c| {
            c.timeline.plain.iter().any(|p| {
                host_traffic(p.key.src, p.key.dst)
                    && (sender_inner.is_empty() || sender_inner.contains(&(p.key.src, p.key.dst)))
            })
        });
        if !inner_out {
            let r = arrived[0].arrived?;
            return Some(
                Finding::new(
                    Cause::DecryptedNotForwarded,
                    0.75,
                    match carried.first() {
                        Some(i) => format!("ESP arrives at {} carrying {} from {} to {}, which never leaves its internal interface: the decrypted traffic is dropped there", g.name, i.what, i.src, i.dst),
                        None => format!("ESP arrives at {} but nothing leaves its internal interface: the decrypted traffic is dropped there", g.name),
                    },
                )
                .with(flow_evidence(case, Some(gi), r, "arrived"))
                .advise("check the forwarding firewall, routing and rp_filter on that gateway (sysctl net.ipv4.conf.all.rp_filter)"),
            );
        }
    }
    None
}
