//! Both gateways side by side: which packets left one and arrived at the other, which were
//! lost and in which direction, which were rewritten on the way (NAT), and the clock offset
//! between the two captures.

use crate::inputs::{Capture, Side, StateFile};
use crate::logs::{EventKind, LogFile};
use crate::track::{EspFlow, IkeMsg, Timeline};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// A gateway of a [`Case`]: its place in [`Case::gws`]. The first one's capture clock is the
/// reference the other's is set to ([`Case::clock_offset`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GwId(usize);

impl GwId {
    /// Its place in [`Case::gws`] (and in tables kept per gateway).
    pub fn index(self) -> usize {
        self.0
    }
}

/// One gateway as the analysis sees it.
#[derive(Debug)]
pub struct Gw<'a> {
    pub name: &'a str,
    /// The capture with IKE/ESP (the external interface); the largest if several.
    pub ext: Option<&'a Capture>,
    /// Captures without IKE or ESP: the internal interface.
    pub internal: Vec<&'a Capture>,
    /// Its logs, including those given without a gateway prefix whose addresses are its own.
    pub logs: Vec<&'a LogFile>,
    /// Every capture of this gateway, as given.
    pub captures: &'a [Capture],
    /// This gateway's own addresses.
    pub addrs: Vec<IpAddr>,
    /// Its state snapshots (a bundle's `NAME-state-start.txt` / `-end.txt`).
    pub state: &'a [StateFile],
}

impl Gw<'_> {
    pub fn tl(&self) -> Option<&Timeline> {
        self.ext.map(|c| &c.timeline)
    }

    pub fn ike(&self) -> &[IkeMsg] {
        self.tl().map(|t| t.ike.as_slice()).unwrap_or(&[])
    }

    pub fn owns(&self, a: IpAddr) -> bool {
        self.addrs.contains(&a)
    }

    pub fn events(&self) -> impl Iterator<Item = (&LogFile, &crate::logs::LogEvent)> {
        self.logs.iter().flat_map(|l| l.events.iter().map(move |e| (*l, e)))
    }

    pub fn has_log(&self) -> bool {
        !self.logs.is_empty()
    }

    /// Its state snapshots, as read ([`crate::state`]).
    pub fn state(&self) -> &[StateFile] {
        self.state
    }
}

/// Where to find one IKE message: its gateway and index in that capture's IKE list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgRef {
    pub gw: GwId,
    pub idx: usize,
}

/// One IKE message's journey.
#[derive(Debug, Clone, Copy)]
pub struct MsgPath {
    /// Gateway that sent it, when known.
    pub from: Option<GwId>,
    pub to: Option<GwId>,
    /// As captured at the sender.
    pub sent: Option<MsgRef>,
    /// As captured at the receiver.
    pub arrived: Option<MsgRef>,
}

/// ESP of one SPI in one direction.
#[derive(Debug, Clone, Copy)]
pub struct EspPath<'a> {
    pub spi: u32,
    pub from: Option<GwId>,
    pub to: Option<GwId>,
    pub sent: Option<&'a EspFlow>,
    pub arrived: Option<&'a EspFlow>,
}

/// An address/port pair that changed between the captures: a NAT on the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite {
    pub from_gw: GwId,
    /// Source as sent and as received.
    pub at_sender: SocketAddr,
    pub at_receiver: SocketAddr,
    /// Destination as sent and as received.
    pub dst_at_sender: SocketAddr,
    pub dst_at_receiver: SocketAddr,
    pub msg: MsgRef,
}

#[derive(Debug)]
pub struct Case<'a> {
    pub gws: Vec<Gw<'a>>,
    pub msgs: Vec<MsgPath>,
    pub esp: Vec<EspPath<'a>>,
    pub rewrites: Vec<Rewrite>,
    /// Gateway 1's clock minus gateway 0's, estimated from IKE messages seen at both.
    pub clock_offset: Option<f64>,
}

impl<'a> Case<'a> {
    pub fn gw(&self, id: GwId) -> &Gw<'a> {
        &self.gws[id.0]
    }

    /// Every gateway of the case, in order.
    pub fn gw_ids(&self) -> impl Iterator<Item = GwId> {
        ids(&self.gws)
    }

    /// The other gateway, when the case holds exactly two.
    pub fn peer(&self, id: GwId) -> Option<GwId> {
        peer(&self.gws, id)
    }

    /// A time seen at gateway `id`, on the first gateway's capture clock.
    pub fn on_first_clock(&self, id: GwId, t: f64) -> f64 {
        if id.0 == 1 {
            t - self.clock_offset.unwrap_or(0.0)
        } else {
            t
        }
    }
}

/// The capturing host's own addresses, and whether the evidence was decisive.
fn local_addrs(tl: &Timeline, logs: &[LogFile]) -> (Vec<IpAddr>, bool) {
    // Addresses present in every IKE/ESP packet: the capturing host and (for a two-party
    // capture) its peer. The one sending with a fresh TTL is the host itself.
    let mut seen: HashMap<IpAddr, u64> = HashMap::new();
    let mut total = 0u64;
    for m in &tl.ike {
        total += 1;
        *seen.entry(m.src.ip()).or_default() += 1;
        if m.dst.ip() != m.src.ip() {
            *seen.entry(m.dst.ip()).or_default() += 1;
        }
    }
    for f in &tl.esp {
        total += f.packets;
        *seen.entry(f.key.src).or_default() += f.packets;
        *seen.entry(f.key.dst).or_default() += f.packets;
    }
    let from_logs: Vec<IpAddr> = logs
        .iter()
        .flat_map(|l| l.local_addrs.iter())
        .filter_map(|a| a.parse().ok())
        .collect();
    let mut everywhere: Vec<IpAddr> = seen
        .iter()
        .filter(|(_, n)| **n == total && total > 0)
        .map(|(a, _)| *a)
        .collect();
    everywhere.sort();
    if everywhere.len() == 1 {
        return (everywhere, true);
    }
    let candidates: Vec<IpAddr> = if everywhere.is_empty() {
        let mut v: Vec<(IpAddr, u64)> = seen.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().map(|(a, _)| a).collect()
    } else {
        everywhere
    };
    if let Some(a) = candidates.iter().find(|a| from_logs.contains(a)) {
        return (vec![*a], true);
    }
    let fresh: Vec<IpAddr> = candidates
        .iter()
        .filter(|a| tl.fresh_ttl.get(a).copied().unwrap_or(0) > 0)
        .copied()
        .collect();
    if fresh.len() == 1 {
        return (fresh, true);
    }
    (candidates, false)
}

/// The one source address of the IKE messages and ESP flows that `g`'s capture holds and
/// `other`'s does not, if there is exactly one (and the captures overlap in time).
fn only_here_sender(g: &Gw<'_>, other: &Gw<'_>) -> Option<IpAddr> {
    let (a, b) = (g.tl()?, other.tl()?);
    let overlap = a.first_time? <= b.last_time? && b.first_time? <= a.last_time?;
    if !overlap {
        return None;
    }
    let there: std::collections::HashSet<u64> = b.ike.iter().map(|m| m.digest).collect();
    let spis: std::collections::HashSet<u32> = b.esp.iter().map(|f| f.key.spi).collect();
    let mut srcs: Vec<IpAddr> = a
        .ike
        .iter()
        .filter(|m| !there.contains(&m.digest))
        .map(|m| m.src.ip())
        .collect();
    srcs.extend(a.esp.iter().filter(|f| !spis.contains(&f.key.spi)).map(|f| f.key.src));
    srcs.sort();
    srcs.dedup();
    (srcs.len() == 1).then(|| srcs[0])
}

fn has_ipsec(c: &Capture) -> bool {
    !c.timeline.ike.is_empty() || !c.timeline.esp.is_empty()
}

/// Builds the per-gateway views and matches what crossed between them.
pub fn correlate(sides: &[Side]) -> Case<'_> {
    // Logs given without a gateway prefix (pluto.log) join the gateway whose address they name
    // as their own; the others stay gateways of their own.
    let (with_caps, logs_only): (Vec<&Side>, Vec<&Side>) = sides.iter().partition(|s| !s.captures.is_empty());
    let sides_sure: Vec<(Gw<'_>, bool)> = with_caps
        .into_iter()
        .map(|s| {
            let mut ext: Option<&Capture> = None;
            let mut internal = Vec::new();
            for c in &s.captures {
                if has_ipsec(c) {
                    match ext {
                        Some(e) if e.timeline.packets >= c.timeline.packets => internal.push(c),
                        Some(e) => {
                            internal.push(e);
                            ext = Some(c);
                        }
                        None => ext = Some(c),
                    }
                } else {
                    internal.push(c);
                }
            }
            // A gateway whose only capture shows no IPsec at all: it is still its external view.
            if ext.is_none() && internal.len() == 1 && s.captures.len() == 1 {
                ext = internal.pop();
            }
            let (addrs, sure) = ext.map(|c| local_addrs(&c.timeline, &s.logs)).unwrap_or_default();
            (
                Gw {
                    name: &s.name,
                    ext,
                    internal,
                    logs: s.logs.iter().collect(),
                    captures: &s.captures,
                    addrs,
                    state: &s.state,
                },
                sure,
            )
        })
        .collect();
    // Undecided captures (every packet holds both ends, no fresh TTL, no log): a packet seen in
    // one capture only was sent by that capture's host (the other would have captured its own
    // sending); else the candidate the other gateway proved to be its own is out of the running.
    let mut sides_sure = sides_sure;
    if sides_sure.len() == 2 {
        for (i, j) in [(0, 1), (1, 0)] {
            if !sides_sure[i].1 {
                if let Some(a) = only_here_sender(&sides_sure[i].0, &sides_sure[j].0) {
                    sides_sure[i].0.addrs = vec![a];
                    sides_sure[i].1 = true;
                }
            }
        }
    }
    let proven: Vec<IpAddr> = sides_sure
        .iter()
        .filter(|(_, sure)| *sure)
        .flat_map(|(g, _)| g.addrs.clone())
        .collect();
    let mut gws: Vec<Gw<'_>> = sides_sure
        .into_iter()
        .map(|(mut g, sure)| {
            if !sure {
                let left: Vec<IpAddr> = g.addrs.iter().filter(|a| !proven.contains(a)).copied().collect();
                g.addrs = if left.len() == 1 { left } else { Vec::new() };
            }
            g
        })
        .collect();
    for s in logs_only {
        let mut placed = Vec::new();
        for l in &s.logs {
            let own: Vec<IpAddr> = l.local_addrs.iter().filter_map(|a| a.parse().ok()).collect();
            let peers: Vec<IpAddr> = l.peer_addrs.iter().filter_map(|a| a.parse().ok()).collect();
            let by_addr = gws.iter().position(|g| g.addrs.iter().any(|a| own.contains(a)));
            // Or the only captured gateway that brought no log of its own, unless the log
            // talks to that gateway as its peer, or answers where that gateway's capture shows
            // it starting the negotiation (then it is the other end's log).
            let responder_log = l.role() == Some(crate::logs::Role::Responder);
            let logless: Vec<usize> = (0..gws.len())
                .filter(|&i| {
                    let g = &gws[i];
                    let initiates = g.ike().iter().any(|m| g.owns(m.src.ip()) && m.rspi == [0; 8]);
                    g.logs.is_empty() && !g.addrs.iter().any(|a| peers.contains(a)) && !(responder_log && initiates)
                })
                .collect();
            match by_addr.or((logless.len() == 1).then(|| logless[0])) {
                Some(i) => gws[i].logs.push(l),
                None => placed.push(l),
            }
        }
        if !placed.is_empty() {
            gws.push(Gw {
                name: &s.name,
                ext: None,
                internal: Vec::new(),
                logs: placed,
                captures: &[],
                addrs: Vec::new(),
                state: &s.state,
            });
        }
    }
    // A capture that saw nothing from its own host (e.g. only arrivals) gets its address from
    // the peer's view: whatever the peer sent to.
    if gws.len() == 2 {
        for (i, j) in [(0, 1), (1, 0)] {
            if gws[i].addrs.is_empty() && !gws[j].addrs.is_empty() {
                let peer_addrs = gws[j].addrs.clone();
                let tl = gws[i].tl();
                if let Some(m) = tl.and_then(|t| t.ike.iter().find(|m| !peer_addrs.contains(&m.dst.ip()))) {
                    gws[i].addrs = vec![m.dst.ip()];
                }
            }
        }
    }
    let (msgs, peer_view) = match_ike(&gws);
    let esp = match_esp(&gws, &peer_view);
    let rewrites = msgs
        .iter()
        .filter_map(|p| {
            let (s, a) = (p.sent?, p.arrived?);
            let ms = &gws[s.gw.0].ike()[s.idx];
            let ma = &gws[a.gw.0].ike()[a.idx];
            (ms.src != ma.src || ms.dst != ma.dst).then_some(Rewrite {
                from_gw: s.gw,
                at_sender: ms.src,
                at_receiver: ma.src,
                dst_at_sender: ms.dst,
                dst_at_receiver: ma.dst,
                msg: s,
            })
        })
        .collect();
    let clock_offset = clock_offset(&gws, &msgs);
    Case {
        gws,
        msgs,
        esp,
        rewrites,
        clock_offset,
    }
}

fn ids(gws: &[Gw<'_>]) -> impl Iterator<Item = GwId> {
    (0..gws.len()).map(GwId)
}

/// The other gateway when there are exactly two.
fn peer(gws: &[Gw<'_>], gi: GwId) -> Option<GwId> {
    (gws.len() == 2).then(|| GwId(1 - gi.0.min(1)))
}

fn sender_of(gws: &[Gw<'_>], capt: GwId, m: &IkeMsg) -> Option<GwId> {
    if gws[capt.0].owns(m.src.ip()) {
        return Some(capt);
    }
    if gws[capt.0].owns(m.dst.ip()) {
        // Sent to us: by the other gateway if there is exactly one.
        return peer(gws, capt);
    }
    None
}

fn match_ike(gws: &[Gw<'_>]) -> (Vec<MsgPath>, Vec<Vec<IpAddr>>) {
    // Per receiver capture: digest → indices in time order, consumed as matched.
    let mut pending: Vec<HashMap<u64, std::collections::VecDeque<usize>>> = gws
        .iter()
        .map(|g| {
            let mut h: HashMap<u64, std::collections::VecDeque<usize>> = HashMap::new();
            for (i, m) in g.ike().iter().enumerate() {
                h.entry(m.digest).or_default().push_back(i);
            }
            h
        })
        .collect();
    let mut matched_at_receiver: Vec<Vec<bool>> = gws.iter().map(|g| vec![false; g.ike().len()]).collect();
    let two = gws.len() == 2;
    // First: what left a gateway and arrived, byte for byte, at the other.
    let mut sent: Vec<(GwId, usize, Option<MsgRef>)> = Vec::new();
    for gi in ids(gws) {
        for (i, m) in gws[gi.0].ike().iter().enumerate() {
            if sender_of(gws, gi, m) != Some(gi) {
                continue;
            }
            let mut arrived = None;
            if let Some(t) = peer(gws, gi).filter(|t| gws[t.0].ext.is_some()) {
                if let Some(q) = pending[t.0].get_mut(&m.digest) {
                    // Only messages the receiver did not send itself.
                    while let Some(&j) = q.front() {
                        q.pop_front();
                        if sender_of(gws, t, &gws[t.0].ike()[j]) != Some(t) {
                            arrived = Some(MsgRef { gw: t, idx: j });
                            matched_at_receiver[t.0][j] = true;
                            break;
                        }
                    }
                }
            }
            sent.push((gi, i, arrived));
        }
    }
    // The addresses each gateway knows its peer by (its own, or the NAT's seen through the
    // matches): traffic to or from anyone else is a third party's, not this tunnel's.
    let peer_view = peer_views(gws, &sent);
    let mut paths = Vec::new();
    for &(gi, i, arrived) in &sent {
        let m = &gws[gi.0].ike()[i];
        // With nothing known of the peer's addresses, every destination may be it.
        let known = !peer_view[gi.0].is_empty();
        let to = peer(gws, gi).filter(|_| arrived.is_some() || !known || peer_view[gi.0].contains(&m.dst.ip()));
        paths.push(MsgPath {
            from: Some(gi),
            to,
            sent: Some(MsgRef { gw: gi, idx: i }),
            arrived,
        });
    }
    // Messages seen arriving whose sender we have no capture of (or that we could not match).
    for gi in ids(gws) {
        for (i, m) in gws[gi.0].ike().iter().enumerate() {
            let s = sender_of(gws, gi, m);
            if s == Some(gi) || matched_at_receiver[gi.0][i] {
                continue;
            }
            let view = &peer_view[gi.0];
            let from = s.filter(|_| !two || view.is_empty() || view.contains(&m.src.ip()));
            paths.push(MsgPath {
                from,
                to: Some(gi),
                sent: None,
                arrived: Some(MsgRef { gw: gi, idx: i }),
            });
        }
    }
    (paths, peer_view)
}

/// For each gateway, the addresses its peer (the other gateway) has in its capture.
fn peer_views(gws: &[Gw<'_>], sent: &[(GwId, usize, Option<MsgRef>)]) -> Vec<Vec<IpAddr>> {
    let logged = |g: &Gw<'_>, own: bool| -> Vec<IpAddr> {
        g.logs
            .iter()
            .flat_map(|l| if own { l.local_addrs.iter() } else { l.peer_addrs.iter() })
            .filter_map(|a| a.parse().ok())
            .collect()
    };
    let mut v: Vec<Vec<IpAddr>> = ids(gws)
        .map(|i| {
            let Some(o) = peer(gws, i) else {
                return Vec::new();
            };
            let (g, other) = (&gws[i.0], &gws[o.0]);
            let mut p = other.addrs.clone();
            p.extend(logged(other, true));
            p.extend(logged(g, false));
            // The peer captured and showed no IKE at all: whoever answered us is not the peer
            // (its answers would be in its own capture).
            if p.is_empty() && other.ext.is_some() && other.ike().is_empty() {
                let answered: Vec<IpAddr> = g
                    .ike()
                    .iter()
                    .filter(|m| !g.owns(m.src.ip()))
                    .map(|m| m.src.ip())
                    .collect();
                p = g
                    .ike()
                    .iter()
                    .filter(|m| g.owns(m.src.ip()) && !answered.contains(&m.dst.ip()))
                    .map(|m| m.dst.ip())
                    .collect();
                p.sort();
                p.dedup();
            }
            p
        })
        .collect();
    for &(gi, i, arrived) in sent {
        if let Some(a) = arrived {
            let dst = gws[gi.0].ike()[i].dst.ip();
            let src_at_receiver = gws[a.gw.0].ike()[a.idx].src.ip();
            if !v[gi.0].contains(&dst) {
                v[gi.0].push(dst);
            }
            if !v[a.gw.0].contains(&src_at_receiver) {
                v[a.gw.0].push(src_at_receiver);
            }
        }
    }
    v
}

fn match_esp<'a>(gws: &[Gw<'a>], peer_view: &[Vec<IpAddr>]) -> Vec<EspPath<'a>> {
    let mut out = Vec::new();
    let mut used: Vec<Vec<bool>> = gws
        .iter()
        .map(|g| vec![false; g.tl().map_or(0, |t| t.esp.len())])
        .collect();
    for gi in ids(gws) {
        let g = &gws[gi.0];
        let Some(tl) = g.ext.map(|c| &c.timeline) else { continue };
        let (view, other) = (&peer_view[gi.0], peer(gws, gi));
        for f in &tl.esp {
            if !g.owns(f.key.src) {
                continue;
            }
            let arrived = other.and_then(|t| {
                let ttl = gws[t.0].ext.map(|c| &c.timeline)?;
                let j = ttl
                    .esp
                    .iter()
                    .position(|r| r.key.spi == f.key.spi && !gws[t.0].owns(r.key.src))?;
                used[t.0][j] = true;
                Some(&ttl.esp[j])
            });
            // To the other gateway, or to a third peer this analysis is not about.
            let to = other.filter(|_| arrived.is_some() || view.is_empty() || view.contains(&f.key.dst));
            out.push(EspPath {
                spi: f.key.spi,
                from: Some(gi),
                to,
                sent: Some(f),
                arrived,
            });
        }
    }
    for gi in ids(gws) {
        let g = &gws[gi.0];
        let Some(tl) = g.ext.map(|c| &c.timeline) else { continue };
        let view = &peer_view[gi.0];
        for (j, f) in tl.esp.iter().enumerate() {
            if g.owns(f.key.src) || used[gi.0][j] {
                continue;
            }
            let from = peer(gws, gi).filter(|_| view.is_empty() || view.contains(&f.key.src));
            out.push(EspPath {
                spi: f.key.spi,
                from,
                to: Some(gi),
                sent: None,
                arrived: Some(f),
            });
        }
    }
    out
}

/// Median one-way delays each way; their half-difference is the clock offset.
fn clock_offset(gws: &[Gw<'_>], msgs: &[MsgPath]) -> Option<f64> {
    if gws.len() != 2 {
        return None;
    }
    let mut d = [Vec::new(), Vec::new()];
    for p in msgs {
        if let (Some(s), Some(a)) = (p.sent, p.arrived) {
            let ts = gws[s.gw.0].ike()[s.idx].time;
            let ta = gws[a.gw.0].ike()[a.idx].time;
            // Put everything as "gateway 1 time − gateway 0 time" samples.
            if s.gw.0 == 0 {
                d[0].push(ta - ts);
            } else {
                d[1].push(ts - ta);
            }
        }
    }
    let med = |v: &mut Vec<f64>| -> Option<f64> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(|a, b| a.total_cmp(b));
        Some(v[v.len() / 2])
    };
    match (med(&mut d[0]), med(&mut d[1])) {
        // 0→1 samples are off + delay, 1→0 samples are off − delay.
        (Some(a), Some(b)) => Some((a + b) / 2.0),
        (Some(a), None) | (None, Some(a)) => Some(a),
        (None, None) => None,
    }
}

/// Facts from the logs that several rules look for.
pub fn log_has(g: &Gw<'_>, f: impl Fn(&EventKind) -> bool) -> bool {
    g.events().any(|(_, e)| f(&e.kind))
}
