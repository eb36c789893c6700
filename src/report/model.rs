//! The report model: what every renderer (text, JSON, HTML, pcapng evidence) reads. Findings with
//! their evidence resolved to the message, ESP flow, ICMP error or log line it shows, and the
//! aligned timeline: each IKE message's journey (sent and arrived, on the first gateway's clock),
//! ESP per SPI and direction, ICMP errors and daemon log lines.

use crate::correlate::{Case, GwId, MsgRef};
use crate::coverage::Coverage;
use crate::diagnose::Finding;
use crate::inputs::Inputs;
use crate::logs::EventKind;
use crate::track::IkeMsg;
use std::collections::HashMap;
use std::net::IpAddr;

/// One IKE message between the gateways: one entry of [`Case::msgs`].
#[derive(Debug, Clone)]
pub struct Message {
    /// Gateway that sent it and gateway it was for, when known.
    pub from: Option<GwId>,
    pub to: Option<GwId>,
    pub sent: Option<MsgRef>,
    pub arrived: Option<MsgRef>,
    /// Sent (or, if only seen arriving, arrived) on the first gateway's clock.
    pub time: f64,
    /// Arrived, on the first gateway's clock.
    pub arrived_time: Option<f64>,
    /// As the write-up names it: `MI1`, `QR1`, `IKE_AUTH request` …
    pub label: String,
    /// The exchange and message id, e.g. `msgid 1` (IKEv2) or `msgid 1a2b3c4d` (IKEv1).
    pub detail: String,
    /// With its keys: `decrypted: IDi=.. N(..)`, or why the keys did not open it.
    pub opened: Option<String>,
    pub retransmission: bool,
    /// The receiver's capture is there and does not show it.
    pub lost: bool,
    /// Packets it left in, when more than one: IP fragments or IKE fragments (RFC 7383); 0 when
    /// whole or not seen leaving.
    pub fragments: usize,
    /// Of those, the packets seen arriving (when the receiver's copy is there).
    pub fragments_arrived: Option<usize>,
    pub natt: bool,
    pub length: u32,
    /// Cited by these evidence items: (finding, evidence) indices.
    pub cited: Vec<(usize, usize)>,
}

/// ESP of one SPI in one direction.
#[derive(Debug, Clone)]
pub struct EspBand {
    pub spi: u32,
    pub from: Option<GwId>,
    pub to: Option<GwId>,
    pub sent: Option<u64>,
    pub arrived: Option<u64>,
    /// First and last packet on the first gateway's clock.
    pub start: f64,
    pub end: f64,
    pub encapsulated: bool,
    /// In TCP streams (RFC 8229).
    pub tcp: bool,
    /// What the keys opened: at the sender, else at the receiver.
    pub opened: Option<crate::track::opened::EspOpened>,
    /// Sent packets the receiver's capture does not show (when both captures are there).
    pub lost: u64,
    pub cited: Vec<(usize, usize)>,
}

impl EspBand {
    /// How it travels, as the ladder and the timeline label it: ` (UDP 4500)`, ` (TCP 4500)`.
    pub fn carrier(&self) -> &'static str {
        match (self.tcp, self.encapsulated) {
            (true, _) => " (TCP 4500)",
            (false, true) => " (UDP 4500)",
            _ => "",
        }
    }
}

/// An ICMP error captured at a gateway.
#[derive(Debug, Clone)]
pub struct Icmp {
    /// The gateway whose capture shows it.
    pub gw: GwId,
    pub number: u64,
    pub time: f64,
    pub text: String,
    /// Sent by that gateway (its own source address), else received by it.
    pub sent: bool,
    pub cited: Vec<(usize, usize)>,
}

/// A daemon log line, on its gateway's side.
#[derive(Debug, Clone)]
pub struct Note {
    pub gw: GwId,
    pub file: String,
    pub line: usize,
    /// On the first gateway's clock, when the line has a full date.
    pub time: Option<f64>,
    pub text: String,
    /// Says more than a message being sent or received (which the arrows show).
    pub notable: bool,
    pub cited: Vec<(usize, usize)>,
}

/// What one evidence item shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Message(usize),
    Esp(usize),
    Icmp(usize),
    Note(usize),
    None,
}

pub struct Model<'c, 'a> {
    pub case: &'c Case<'a>,
    pub inputs: &'c Inputs,
    pub findings: &'c [Finding],
    pub cov: &'c Coverage,
    /// In time order (first gateway's clock).
    pub messages: Vec<Message>,
    pub esp: Vec<EspBand>,
    pub icmp: Vec<Icmp>,
    pub notes: Vec<Note>,
    /// Per finding, per evidence item.
    pub targets: Vec<Vec<Target>>,
    /// A NAT rewrote addresses between the captures.
    pub nat: bool,
    /// `journey[(gw, idx)]`: the message a captured IKE message belongs to.
    journey: HashMap<(GwId, usize), usize>,
    frags: FragIndex,
}

impl<'c, 'a> Model<'c, 'a> {
    pub fn new(case: &'c Case<'a>, inputs: &'c Inputs, findings: &'c [Finding], cov: &'c Coverage) -> Self {
        let captured = |g: Option<GwId>| g.is_some_and(|i| case.gw(i).ext.is_some());
        let frags = frag_index(case);
        let get = |r: MsgRef| case.gw(r.gw).ike().get(r.idx);
        let mut messages: Vec<Message> = case
            .msgs
            .iter()
            .filter_map(|p| {
                let first = p.sent.or(p.arrived)?;
                let m = get(first)?;
                let time = case.on_first_clock(first.gw, m.time);
                let arrived_time = p
                    .arrived
                    .and_then(|r| get(r).map(|a| case.on_first_clock(r.gw, a.time)));
                let lost = p.arrived.is_none() && p.sent.is_some() && captured(p.to);
                let fragments = p.sent.map_or(0, |r| fragments_of(case, &frags, r).len());
                let fragments = if fragments > 1 { fragments } else { 0 };
                let fragments_arrived = p.arrived.map(|r| fragments_of(case, &frags, r).len().max(1));
                Some(Message {
                    from: p.from,
                    to: p.to,
                    sent: p.sent,
                    arrived: p.arrived,
                    time,
                    arrived_time,
                    label: String::new(),
                    detail: detail(m),
                    opened: m.opened.as_ref().map(|d| d.describe()),
                    retransmission: m.retransmission,
                    lost,
                    fragments,
                    fragments_arrived,
                    natt: m.natt,
                    length: m.length,
                    cited: Vec::new(),
                })
            })
            .collect();
        messages.sort_by(|a, b| a.time.total_cmp(&b.time));
        name_messages(case, &mut messages);
        let mut journey = HashMap::new();
        for (i, m) in messages.iter().enumerate() {
            for r in [m.sent, m.arrived].into_iter().flatten() {
                journey.insert((r.gw, r.idx), i);
            }
        }
        let esp = case
            .esp
            .iter()
            .map(|p| {
                let flows = [p.sent.map(|f| (p.from, f)), p.arrived.map(|f| (p.to, f))];
                let mut start = f64::INFINITY;
                let mut end = f64::NEG_INFINITY;
                for (g, f) in flows.into_iter().flatten() {
                    let gid = g.unwrap_or_else(|| case.gw_ids().next().unwrap_or_else(|| unreachable!()));
                    start = start.min(case.on_first_clock(gid, f.first_time));
                    end = end.max(case.on_first_clock(gid, f.last_time));
                }
                let sent = p.sent.map(|f| f.packets).or(captured(p.from).then_some(0));
                let arrived = p.arrived.map(|f| f.packets).or(captured(p.to).then_some(0));
                let lost = match (sent, arrived) {
                    (Some(s), Some(a)) if captured(p.to) => s.saturating_sub(a),
                    _ => 0,
                };
                EspBand {
                    spi: p.spi,
                    from: p.from,
                    to: p.to,
                    sent,
                    arrived,
                    start: if start.is_finite() { start } else { 0.0 },
                    end: if end.is_finite() { end } else { 0.0 },
                    encapsulated: p.sent.or(p.arrived).is_some_and(|f| f.key.udp.is_some()),
                    tcp: p.sent.or(p.arrived).is_some_and(|f| f.key.tcp),
                    opened: p
                        .sent
                        .and_then(|f| f.opened.clone())
                        .or_else(|| p.arrived.and_then(|f| f.opened.clone())),
                    lost,
                    cited: Vec::new(),
                }
            })
            .collect();
        let mut icmp = Vec::new();
        let mut notes = Vec::new();
        for gi in case.gw_ids() {
            let g = case.gw(gi);
            if let Some(tl) = g.tl() {
                for r in &tl.icmp {
                    let mut text = format!("ICMP {} {} > {}", r.kind, r.src, r.dst);
                    if let Some(mtu) = r.mtu {
                        text.push_str(&format!(" (mtu {mtu})"));
                    }
                    icmp.push(Icmp {
                        gw: gi,
                        sent: g.owns(r.src),
                        number: r.number,
                        time: case.on_first_clock(gi, r.time),
                        text,
                        cited: Vec::new(),
                    });
                }
            }
            for (l, e) in g.events() {
                notes.push(Note {
                    gw: gi,
                    file: l.name.clone(),
                    line: e.line,
                    time: e
                        .time
                        .as_ref()
                        .and_then(|t| t.epoch)
                        .map(|t| case.on_first_clock(gi, t)),
                    text: e.text.clone(),
                    notable: !matches!(
                        e.kind,
                        EventKind::Sent { .. }
                            | EventKind::Received { .. }
                            | EventKind::Packet { .. }
                            | EventKind::Other
                            | EventKind::Proposals { .. }
                            | EventKind::ConnectionAdded { .. }
                            | EventKind::CertSent
                            | EventKind::TrafficStats { .. }
                    ),
                    cited: Vec::new(),
                });
            }
        }
        icmp.sort_by(|a, b| a.time.total_cmp(&b.time));
        let mut model = Model {
            case,
            inputs,
            findings,
            cov,
            messages,
            esp,
            icmp,
            notes,
            targets: Vec::new(),
            nat: !case.rewrites.is_empty(),
            journey,
            frags,
        };
        model.targets = findings
            .iter()
            .enumerate()
            .map(|(fi, f)| {
                f.evidence
                    .iter()
                    .enumerate()
                    .map(|(ei, e)| {
                        let t = model.resolve(&e.source, e.packet, e.line);
                        let cited = match t {
                            Target::Message(i) => &mut model.messages[i].cited,
                            Target::Esp(i) => &mut model.esp[i].cited,
                            Target::Icmp(i) => &mut model.icmp[i].cited,
                            Target::Note(i) => &mut model.notes[i].cited,
                            Target::None => return t,
                        };
                        cited.push((fi, ei));
                        t
                    })
                    .collect()
            })
            .collect();
        model
    }

    /// The message a captured IKE message (gateway, index in its capture) belongs to.
    pub fn journey_of(&self, gw: GwId, idx: usize) -> Option<&Message> {
        self.journey.get(&(gw, idx)).map(|&i| &self.messages[i])
    }

    /// The packets a captured IKE message travelled in when it was fragmented (IKE fragments, else
    /// the pieces of its IP datagram seen in that capture); empty when it was whole.
    pub fn fragment_numbers(&self, r: MsgRef) -> Vec<u64> {
        fragments_of(self.case, &self.frags, r)
    }

    /// The captured copy of a message at the sender, else at the receiver.
    pub fn ike(&self, m: &Message) -> Option<&'c IkeMsg> {
        let r = m.sent.or(m.arrived)?;
        self.case.gw(r.gw).ike().get(r.idx)
    }

    pub fn gw_name(&self, g: GwId) -> &'a str {
        self.case.gw(g).name
    }

    /// What a file name with a packet number or a line number points at.
    fn resolve(&self, source: &str, packet: Option<u64>, line: Option<usize>) -> Target {
        for gi in self.case.gw_ids() {
            let g = self.case.gw(gi);
            if let (Some(p), Some(c)) = (packet, g.ext) {
                if c.name != source {
                    continue;
                }
                let holds = |idx: usize| self.fragment_numbers(MsgRef { gw: gi, idx }).contains(&p);
                if let Some(idx) = g
                    .ike()
                    .iter()
                    .position(|m| m.number == p)
                    .or_else(|| (0..g.ike().len()).find(|&i| holds(i)))
                {
                    if let Some(&i) = self.journey.get(&(gi, idx)) {
                        return Target::Message(i);
                    }
                }
                if let Some(i) = self.icmp.iter().position(|r| r.gw == gi && r.number == p) {
                    return Target::Icmp(i);
                }
                if let Some(tl) = g.tl() {
                    for f in &tl.esp {
                        if f.first_number == p || f.samples.iter().any(|s| s.number == p) {
                            if let Some(i) = self
                                .esp
                                .iter()
                                .position(|b| b.spi == f.key.spi && (b.from == Some(gi) || b.to == Some(gi)))
                            {
                                return Target::Esp(i);
                            }
                        }
                    }
                }
            }
            if let Some(l) = line {
                if let Some(i) = self
                    .notes
                    .iter()
                    .position(|n| n.gw == gi && n.line == l && n.file == source)
                {
                    return Target::Note(i);
                }
            }
        }
        Target::None
    }
}

/// The pieces of each IP datagram a gateway's capture saw: (gateway, source, destination, IP id)
/// → packet numbers.
type FragIndex = HashMap<(GwId, IpAddr, IpAddr, u32), Vec<u64>>;

fn frag_index(case: &Case<'_>) -> FragIndex {
    let mut idx = FragIndex::new();
    for gi in case.gw_ids() {
        if let Some(tl) = case.gw(gi).tl() {
            for d in &tl.frags {
                let mut v: Vec<u64> = d.pieces.iter().map(|p| p.number).collect();
                v.sort_unstable();
                v.dedup();
                idx.insert((gi, d.key.src, d.key.dst, d.key.id), v);
            }
        }
    }
    idx
}

/// The packets one captured IKE message travelled in when it was fragmented: its IKE fragments
/// (RFC 7383), else the pieces of its IP datagram seen in that capture (maybe only one).
fn fragments_of(case: &Case<'_>, frags: &FragIndex, r: MsgRef) -> Vec<u64> {
    let Some(m) = case.gw(r.gw).ike().get(r.idx) else {
        return Vec::new();
    };
    if m.fragment_packets.len() > 1 {
        return m.fragment_packets.clone();
    }
    match (m.ip_fragmented, m.ip_frag_id) {
        (true, Some(id)) => frags
            .get(&(r.gw, m.src.ip(), m.dst.ip(), id))
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// `msgid 1` (IKEv2), `msgid 1a2b3c4d` (IKEv1).
fn detail(m: &IkeMsg) -> String {
    if m.major >= 2 {
        format!("msgid {}", m.msgid)
    } else {
        format!("msgid {:08x}", m.msgid)
    }
}

fn name_messages(case: &Case<'_>, messages: &mut [Message]) {
    let paths: Vec<(Option<GwId>, Option<MsgRef>)> = messages.iter().map(|m| (m.from, m.sent.or(m.arrived))).collect();
    for (msg, label) in messages.iter_mut().zip(write_up_names(case, &paths)) {
        msg.label = label;
    }
}

/// Names each message as the write-up does: IKEv1 main mode MI1, MR1, … MR3; aggressive mode
/// AI1, AR1, AI2; quick mode QI1, QR1, QI2; IKEv2 `IKE_SA_INIT request`. The initiator is the
/// sender of an SA's first message; a retransmission carries the name of what it repeats.
/// `messages`: (sender, a record of it), in time order. The ladder and the evidence pcapng's
/// comments both name messages so.
pub fn write_up_names(case: &Case<'_>, messages: &[(Option<GwId>, Option<MsgRef>)]) -> Vec<String> {
    // Per IKE SA (initiator SPI): who began it. Per exchange run: messages counted per direction.
    let mut initiator: HashMap<[u8; 8], String> = HashMap::new();
    let mut steps: HashMap<([u8; 8], u8, u32, bool), u32> = HashMap::new();
    messages
        .iter()
        .map(|(from, r)| {
            let Some(m) = r.and_then(|r| case.gw(r.gw).ike().get(r.idx)) else {
                return String::new();
            };
            let who = match from {
                Some(g) => format!("gw{}", g.index()),
                None => m.src.ip().to_string(),
            };
            if m.major >= 2 {
                let name = m.exchange_name();
                return format!("{name} {}", if m.is_response() { "response" } else { "request" });
            }
            let init = initiator.entry(m.ispi).or_insert_with(|| who.clone());
            let from_initiator = *init == who;
            let (prefix, key_msgid) = match m.exchange {
                2 => ("M", 0),
                4 => ("A", 0),
                32 => ("Q", m.msgid),
                _ => ("", 0),
            };
            if prefix.is_empty() {
                return if m.is_v1_encrypted() {
                    format!("{}[E]", short_v1(&m.exchange_name()))
                } else {
                    short_v1(&m.exchange_name())
                };
            }
            let n = steps
                .entry((m.ispi, m.exchange, key_msgid, from_initiator))
                .or_insert(0);
            if !m.retransmission || *n == 0 {
                *n += 1;
            }
            format!("{prefix}{}{n}", if from_initiator { "I" } else { "R" })
        })
        .collect()
}

/// IKEv1 exchange names as tcpdump prints them, shortened for a label (`inf`, `xauth`).
fn short_v1(name: &str) -> String {
    match name {
        "inf" | "Informational" => "inf".to_string(),
        other => other.to_string(),
    }
}
