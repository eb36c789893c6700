//! What each capture can and cannot show, computed once from what `track` and `correlate` hold:
//! its gateway (and why), what it holds (packets, IKE, ESP, time span) and its blind spots (a
//! filter that hides non-first fragments, no IPsec at all, one direction only, a snap length that
//! cut IKE, a gap in time, no overlap with the other capture). Diagnosis lowers its confidence for
//! the blind spots that are known to hide something; the report lists them all.

use crate::correlate::{Case, Gw, GwId};
use crate::inputs::{Capture, Inputs};
use crate::track::Timeline;
use serde::Serialize;

/// Kinds of blind spot (stable ids: the JSON contract uses them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlindKind {
    /// Fragmented datagrams of which only the first fragment is in the capture.
    OnlyFirstFragments,
    /// No IKE and no ESP.
    NoIpsec,
    /// Every IPsec packet goes one way, although the negotiation shows the other way happened.
    OneDirection,
    /// The snap length cut IKE or ESP packets.
    Snaplen,
    /// No packet for a stretch while the other capture shows this gateway sending.
    TimeGap,
    /// The two captures do not overlap in time.
    NoOverlap,
}

/// One thing a capture cannot show.
#[derive(Debug, Clone, Serialize)]
pub struct BlindSpot {
    pub kind: BlindKind,
    pub text: String,
    /// The capture is known to miss something here: findings resting on it are less sure.
    pub lowers_confidence: bool,
}

/// What a capture was used as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The gateway's view of IKE and ESP.
    External,
    /// Another capture of the gateway (the internal interface).
    Internal,
    /// Not used: it holds no IPsec while the other capture shows its gateway sending IPsec.
    LeftOut,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaptureCoverage {
    pub file: String,
    pub gateway: String,
    /// Why it went to that gateway (`file name prefix`, `--side`, ...).
    pub assigned_by: String,
    pub role: Role,
    pub packets: u64,
    pub ike_messages: usize,
    pub esp_packets: u64,
    pub esp_flows: usize,
    /// IKE messages and ESP packets the gateway sent and received, when its address is known.
    pub ipsec_sent: Option<u64>,
    pub ipsec_received: Option<u64>,
    /// First and last packet (seconds since the epoch, the capture's own clock).
    #[serde(skip)]
    pub start: Option<f64>,
    #[serde(skip)]
    pub end: Option<f64>,
    pub blind_spots: Vec<BlindSpot>,
}

impl CaptureCoverage {
    pub fn limiting(&self) -> impl Iterator<Item = &BlindSpot> {
        self.blind_spots.iter().filter(|b| b.lowers_confidence)
    }
}

/// Every capture's coverage, in the order of the case's gateways.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    pub captures: Vec<CaptureCoverage>,
}

/// `HH:MM:SS` in UTC.
fn hms(t: f64) -> String {
    match jiff::Timestamp::from_second(t.floor() as i64) {
        Ok(ts) => ts.strftime("%H:%M:%S").to_string(),
        Err(_) => format!("{t:.0}"),
    }
}

/// The last component of a path (the whole path when it has none), as the report names files.
pub(crate) fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

/// ESP packets in a capture, over every flow.
pub(crate) fn esp_packets(tl: &Timeline) -> u64 {
    tl.esp.iter().map(|f| f.packets).sum()
}

fn has_ipsec(tl: &Timeline) -> bool {
    !tl.ike.is_empty() || !tl.esp.is_empty()
}

/// Times in gateway `from`'s capture clock moved to gateway `to`'s (by way of the first's).
fn to_clock(case: &Case<'_>, from: GwId, to: GwId, t: f64) -> f64 {
    case.on_first_clock(from, t) - case.on_first_clock(to, 0.0)
}

/// IKE messages and ESP packets in gateway `oi`'s capture that it received from its peer
/// (source not its own, destination its own): `(time on oi's clock, count)`.
fn received_by<'a>(o: &'a Gw<'_>) -> impl Iterator<Item = (f64, u64)> + 'a {
    let tl = o.tl();
    let known = !o.addrs.is_empty();
    let ike = tl
        .into_iter()
        .flat_map(|t| t.ike.iter())
        .filter(move |m| known && !o.owns(m.src.ip()) && o.owns(m.dst.ip()));
    let esp = tl
        .into_iter()
        .flat_map(|t| t.esp.iter())
        .filter(move |f| known && !o.owns(f.key.src) && o.owns(f.key.dst));
    ike.map(|m| (m.time, 1))
        .chain(esp.flat_map(|f| [(f.first_time, 1), (f.last_time, f.packets.saturating_sub(1))]))
        .filter(|(_, n)| *n > 0)
}

/// Coverage of every capture of the case.
pub fn assess(case: &Case<'_>) -> Coverage {
    let mut out = Vec::new();
    for gi in case.gw_ids() {
        let g = case.gw(gi);
        let other = case.gw_ids().find(|&o| o != gi).filter(|_| case.gws.len() == 2);
        for c in g.captures {
            let external = g.ext.is_some_and(|e| std::ptr::eq(e, c));
            let mut cc = basic(c, g.name, if external { Role::External } else { Role::Internal });
            if external {
                let dirs = (!g.addrs.is_empty()).then(|| directions(g, &c.timeline));
                cc.ipsec_sent = dirs.map(|(s, _)| s);
                cc.ipsec_received = dirs.map(|(_, r)| r);
                cc.blind_spots = blind_spots(case, gi, other, c, dirs);
            }
            out.push(cc);
        }
    }
    Coverage { captures: out }
}

fn basic(c: &Capture, gateway: &str, role: Role) -> CaptureCoverage {
    let tl = &c.timeline;
    CaptureCoverage {
        file: c.name.clone(),
        gateway: gateway.to_string(),
        assigned_by: "file name prefix".into(),
        role,
        packets: tl.packets,
        ike_messages: tl.ike.len(),
        esp_packets: esp_packets(tl),
        esp_flows: tl.esp.len(),
        ipsec_sent: None,
        ipsec_received: None,
        start: tl.first_time,
        end: tl.last_time,
        blind_spots: Vec::new(),
    }
}

impl Coverage {
    /// Fills in why each file went to its gateway.
    pub fn with_assignments(mut self, inputs: &Inputs) -> Coverage {
        for c in &mut self.captures {
            if let Some(a) = inputs.assigned_by(&c.file) {
                c.assigned_by = a.by.words().to_string();
            }
        }
        self
    }

    /// External captures that hold no IPsec while the other capture shows their gateway sending
    /// IPsec: they were not taken where the tunnel passes, and would read as loss. Each with the
    /// blind spot that says so.
    pub fn blind_captures(&self) -> Vec<(String, BlindSpot)> {
        self.captures
            .iter()
            .filter(|c| c.role == Role::External)
            .filter_map(|c| {
                let b = c
                    .blind_spots
                    .iter()
                    .find(|b| b.kind == BlindKind::NoIpsec && b.lowers_confidence)?;
                Some((c.file.clone(), b.clone()))
            })
            .collect()
    }

    /// A capture set aside by [`Coverage::blind_captures`], listed with its reason.
    pub fn left_out(&mut self, c: &Capture, gateway: &str, reason: BlindSpot) {
        let mut cc = basic(c, gateway, Role::LeftOut);
        cc.blind_spots.push(reason);
        self.captures.push(cc);
    }
}

/// IPsec packets the gateway sent and received in this capture.
fn directions(g: &Gw<'_>, tl: &Timeline) -> (u64, u64) {
    let (mut s, mut r) = (0, 0);
    for m in &tl.ike {
        if g.owns(m.src.ip()) {
            s += 1;
        } else if g.owns(m.dst.ip()) {
            r += 1;
        }
    }
    for f in &tl.esp {
        if g.owns(f.key.src) {
            s += f.packets;
        } else if g.owns(f.key.dst) {
            r += f.packets;
        }
    }
    (s, r)
}

/// `dirs`: what [`directions`] gives for this capture, when the gateway's addresses are known.
fn blind_spots(
    case: &Case<'_>,
    gi: GwId,
    other: Option<GwId>,
    c: &Capture,
    dirs: Option<(u64, u64)>,
) -> Vec<BlindSpot> {
    let g = case.gw(gi);
    let tl = &c.timeline;
    let file = file_name(&c.name);
    let o = other.map(|oi| (oi, case.gw(oi))).filter(|(_, o)| o.ext.is_some());
    let mut v = Vec::new();

    // No IPsec at all.
    if !has_ipsec(tl) {
        let from_here: u64 = o.map_or(0, |(_, o)| received_by(o).map(|(_, n)| n).sum());
        let text = match o {
            Some((_, og)) if from_here > 0 => format!(
                "no IKE or ESP among its {} packets, while {} shows {from_here} IKE/ESP packets arriving from {}: it was not taken where {}'s IPsec passes (another interface, or a filter that drops it)",
                tl.packets,
                file_name(&og.ext.map(|e| e.name.clone()).unwrap_or_default()),
                g.name,
                g.name
            ),
            _ if tl.packets == 0 => format!(
                "holds no packet at all: nothing reached {} there, or the interface or filter was not the one IKE and ESP use",
                g.name
            ),
            _ => format!(
                "no IKE or ESP among its {} packets: if it was taken on {}'s external interface with the filter `ipsec-doctor capture-filter` prints, no IPsec reached {} then",
                tl.packets, g.name, g.name
            ),
        };
        v.push(BlindSpot {
            kind: BlindKind::NoIpsec,
            text,
            lowers_confidence: from_here > 0,
        });
    }

    // Only first fragments: datagrams of which no non-first fragment was captured, in a capture
    // that holds no non-first fragment at all.
    let any_later = tl.frags.iter().any(|f| f.pieces.iter().any(|p| p.offset > 0));
    if !any_later {
        let first_only: Vec<_> = tl.frags.iter().filter(|f| f.has_first() && !f.reassembled).collect();
        let own = first_only.iter().filter(|f| g.owns(f.key.src)).count();
        let partial = tl.ike.iter().filter(|m| m.partial).count();
        if !first_only.is_empty() {
            let text = if own > 0 {
                format!(
                    "holds only the first IP fragment of {own} datagram(s) {} sent itself ({partial} IKE message(s) seen in part): its capture filter drops non-first fragments (`udp port 500 or udp port 4500` never matches them), so whether the rest arrived cannot be seen",
                    g.name
                )
            } else {
                format!(
                    "holds only the first IP fragment of {} datagram(s) ({partial} IKE message(s) seen in part): the other fragments were lost on the way, or a filter such as `udp port 500` dropped them",
                    first_only.len()
                )
            };
            v.push(BlindSpot {
                kind: BlindKind::OnlyFirstFragments,
                text,
                // The rules already read such a datagram's arrival as unknown.
                lowers_confidence: false,
            });
        }
    }

    // One direction only, when the negotiation shows the other direction happened.
    if let Some((sent, recv)) = dirs {
        if sent + recv >= 2 && (sent == 0 || recv == 0) {
            // A message of ours that answers or follows one of the peer's (a responder SPI is
            // set only after the first message arrived), or one of the peer's that follows ours.
            let follows = |ours: bool| {
                tl.ike
                    .iter()
                    .any(|m| g.owns(m.src.ip()) == ours && g.owns(m.dst.ip()) != ours && m.rspi != [0; 8])
            };
            let other_saw_ours = o.is_some_and(|(_, og)| received_by(og).next().is_some());
            if sent > 0 && follows(true) {
                v.push(BlindSpot {
                    kind: BlindKind::OneDirection,
                    text: format!(
                        "holds only packets {} sent ({sent}), none it received, although its messages answer or follow the peer's: a direction filter (`src host`, `-Q out`) hides what arrived at {}",
                        g.name, g.name
                    ),
                    lowers_confidence: true,
                });
            } else if recv > 0 && (follows(false) || other_saw_ours) {
                v.push(BlindSpot {
                    kind: BlindKind::OneDirection,
                    text: format!(
                        "holds only packets {} received ({recv}), none it sent, although the peer's messages follow answers from {}: a direction filter (`dst host`, `-Q in`) hides what {} sent",
                        g.name, g.name, g.name
                    ),
                    lowers_confidence: true,
                });
            }
        }
    }

    // Snap length.
    let s = &tl.snapped;
    if s.ike > 0 {
        v.push(BlindSpot {
            kind: BlindKind::Snaplen,
            text: format!(
                "the snap length ({} bytes) cut {} IKE packet(s): the payloads past it (notifies, IDs, proposals) cannot be read; capture with -s 0",
                s.caplen, s.ike
            ),
            lowers_confidence: true,
        });
    } else if s.esp > 0 {
        v.push(BlindSpot {
            kind: BlindKind::Snaplen,
            text: format!(
                "the snap length ({} bytes) cut {} ESP packet(s) (their SPI, sequence number and length were kept)",
                s.caplen, s.esp
            ),
            lowers_confidence: false,
        });
    }

    // Time: no overlap with the other capture, or a stretch (or an early end, a late start)
    // without packets while the other capture shows this gateway sending.
    if let (Some((oi, og)), Some(a0), Some(a1)) = (o, tl.first_time, tl.last_time) {
        let otl = og.tl();
        let span = otl.and_then(|t| Some((t.first_time?, t.last_time?)));
        if let Some((b0, b1)) = span {
            let (b0, b1) = (to_clock(case, oi, gi, b0), to_clock(case, oi, gi, b1));
            const SLACK: f64 = 1.0;
            if a1 + SLACK < b0 || b1 + SLACK < a0 {
                let oname = file_name(&og.ext.map(|e| e.name.clone()).unwrap_or_default());
                let clock = if case.clock_offset.is_some() {
                    "after the clock offset between them"
                } else {
                    "no message was seen at both ends to measure a clock offset; taken as in step"
                };
                v.push(BlindSpot {
                    kind: BlindKind::NoOverlap,
                    text: format!(
                        "does not overlap {oname} in time: {file} runs {}–{}, {oname} {}–{} on {file}'s clock ({clock}); no packet can be followed from one to the other",
                        hms(a0),
                        hms(a1),
                        hms(b0),
                        hms(b1)
                    ),
                    lowers_confidence: true,
                });
            } else {
                let ours: Vec<(f64, u64)> = received_by(og).map(|(t, n)| (to_clock(case, oi, gi, t), n)).collect();
                const MARGIN: f64 = 0.05;
                let mut holes: Vec<(f64, f64, u64)> = Vec::new();
                for &(x, y) in &tl.gaps {
                    let n: u64 = ours
                        .iter()
                        .filter(|(t, _)| *t > x + MARGIN && *t < y - MARGIN)
                        .map(|(_, n)| n)
                        .sum();
                    if n > 0 {
                        holes.push((x, y, n));
                    }
                }
                let before: u64 = ours.iter().filter(|(t, _)| *t < a0 - SLACK).map(|(_, n)| n).sum();
                let after: u64 = ours.iter().filter(|(t, _)| *t > a1 + SLACK).map(|(_, n)| n).sum();
                let oname = file_name(&og.ext.map(|e| e.name.clone()).unwrap_or_default());
                holes.sort_by(|a, b| (b.1 - b.0).total_cmp(&(a.1 - a.0)));
                for (x, y, n) in holes.iter().take(3) {
                    v.push(BlindSpot {
                        kind: BlindKind::TimeGap,
                        text: format!(
                            "no packet from {} to {} ({:.0} s), while {oname} shows {n} IKE/ESP packet(s) arriving from {} then: this capture missed them (stopped, restarted, or dropped by the kernel)",
                            hms(*x),
                            hms(*y),
                            y - x,
                            g.name
                        ),
                        lowers_confidence: true,
                    });
                }
                if before > 0 {
                    v.push(BlindSpot {
                        kind: BlindKind::TimeGap,
                        text: format!(
                            "starts at {}, after {oname} shows {before} IKE/ESP packet(s) arriving from {}: it began late",
                            hms(a0),
                            g.name
                        ),
                        lowers_confidence: true,
                    });
                }
                if after > 0 {
                    v.push(BlindSpot {
                        kind: BlindKind::TimeGap,
                        text: format!(
                            "ends at {}, before {oname} shows {after} more IKE/ESP packet(s) arriving from {}: it stopped early",
                            hms(a1),
                            g.name
                        ),
                        lowers_confidence: true,
                    });
                }
            }
        }
    }
    v
}

/// Short words for a finding's summary: the blind spot that lowered it, in these captures.
pub fn hedge_words(kind: BlindKind, files: &[&str]) -> String {
    let f = files.join(" and ");
    let one = files.len() == 1;
    match kind {
        BlindKind::OneDirection => format!("{f} {} one direction only", if one { "holds" } else { "hold" }),
        BlindKind::NoOverlap => format!("{f} do not overlap in time"),
        BlindKind::TimeGap => format!("{f} {} packets its gateway sent", if one { "misses" } else { "miss" }),
        BlindKind::Snaplen => format!("the snap length cut IKE packets in {f}"),
        BlindKind::NoIpsec => format!("{f} {} no IPsec", if one { "holds" } else { "hold" }),
        BlindKind::OnlyFirstFragments => format!("{f} {} only first fragments", if one { "holds" } else { "hold" }),
    }
}

/// How much less sure a finding resting on a capture with this blind spot is.
pub fn factor(kind: BlindKind) -> f64 {
    match kind {
        BlindKind::NoOverlap => 0.5,
        BlindKind::OneDirection => 0.6,
        BlindKind::TimeGap => 0.75,
        BlindKind::Snaplen => 0.8,
        BlindKind::NoIpsec => 0.5,
        BlindKind::OnlyFirstFragments => 1.0,
    }
}
