//! One capture's timeline: IKE messages, ESP flows per SPI, IP fragments, ICMP errors and plain
//! traffic. Memory grows with the number of SAs, flows and IKE messages (each capped), not with
//! the number of packets.

mod ikefrag;
pub mod opened;

use crate::keys::KeyRing;
use crate::source::Timestamp;
use crate::wire::isakmp::{self, flags, payload_type, Header, NatD, Notify};
use crate::wire::packet::{Decoded, Esp, IcmpKind, IpInfo, Quoted, TcpKind, UdpKind, L4};
use serde::Serialize;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Caps on what one capture may make us hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub ike_messages: usize,
    pub esp_flows: usize,
    pub frag_datagrams: usize,
    pub icmp: usize,
    pub plain_flows: usize,
    /// ESP packets kept per flow as evidence (first ones).
    pub esp_samples: usize,
    /// IKE messages split into IKE fragments (IKEv1 payload 132, IKEv2 SKF) being put back
    /// together at once; the oldest is given up first.
    pub ike_frag_sets: usize,
    /// Bytes of IKEv1 fragments buffered for reassembly at once.
    pub ike_frag_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            ike_messages: 100_000,
            esp_flows: 65_536,
            frag_datagrams: 16_384,
            icmp: 10_000,
            plain_flows: 4096,
            esp_samples: 8,
            ike_frag_sets: 1024,
            ike_frag_bytes: 16 << 20,
        }
    }
}

/// Addresses whose fresh-TTL packets are counted (a gateway has a handful).
const MAX_FRESH_TTL_ADDRS: usize = 4096;

/// One IKE message as seen in the capture.
#[derive(Debug, Clone, Serialize)]
pub struct IkeMsg {
    pub number: u64,
    pub time: f64,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// On UDP 4500 after the non-ESP marker (or on TCP, where `tcp` says so).
    pub natt: bool,
    /// Carried in a TCP stream (RFC 8229).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tcp: bool,
    #[serde(serialize_with = "hex8")]
    pub ispi: [u8; 8],
    #[serde(serialize_with = "hex8")]
    pub rspi: [u8; 8],
    pub major: u8,
    pub exchange: u8,
    pub flags: u8,
    pub msgid: u32,
    pub length: u32,
    /// Payload types in order (capped).
    pub payloads: Vec<u8>,
    /// Notify types (cleartext ones only).
    pub notifies: Vec<u16>,
    #[serde(skip)]
    pub natd: Vec<(Option<bool>, Vec<u8>)>,
    /// IKEv1: the hash algorithm of the (first) phase-1 transform offered or chosen, which
    /// NAT-D hashes use.
    pub v1_hash: Option<u16>,
    /// Sent as IKE fragments (IKEv2 SKF, IKEv1 payload 132), reassembled into this one record:
    /// (fragments received, total; 0 while the total is unknown).
    pub ike_fragment: Option<(u16, u16)>,
    /// Every IKE fragment of the message was seen (so `payloads`, `digest` and `length` are the
    /// whole message's).
    pub ike_frag_complete: bool,
    /// Packet numbers of the IKE fragments (the first ones).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fragment_packets: Vec<u64>,
    /// Sent in IP fragments (this record is from the first fragment or the reassembled datagram).
    pub ip_fragmented: bool,
    /// Only the first IP fragment was available: `payloads` may be incomplete.
    pub partial: bool,
    #[serde(skip)]
    pub ip_frag_id: Option<u32>,
    /// Hash of the message's first bytes and length: equal at both ends of a path.
    #[serde(skip)]
    pub digest: u64,
    /// Same digest already seen earlier in this capture.
    pub retransmission: bool,
    /// What the keys opened of its encrypted payload (IKEv2 SK), when keys were given for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opened: Option<opened::Decryption<Box<opened::Opened>>>,
}

fn hex8<S: serde::Serializer>(v: &[u8; 8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(v))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl IkeMsg {
    pub fn is_response(&self) -> bool {
        if self.major >= 2 {
            self.flags & flags::RESPONSE != 0
        } else {
            // IKEv1 has no response bit; the caller pairs by order. Main mode: messages from the
            // responder carry a non-zero responder cookie from the first reply on.
            false
        }
    }

    pub fn is_v1_encrypted(&self) -> bool {
        self.major == 1 && self.flags & flags::ENCRYPTION != 0
    }

    /// An IKEv1 message seen only as fragments without the first one: what it holds (its flags
    /// and payloads) is unknown.
    pub fn content_unknown(&self) -> bool {
        self.major == 1 && self.payloads.contains(&payload_type::V1_FRAGMENT)
    }

    pub fn has_notify(&self, t: u16) -> bool {
        self.notifies.contains(&t)
    }

    pub fn exchange_name(&self) -> String {
        match isakmp::exchange_name(self.exchange) {
            Some(n) => n.to_string(),
            None => format!("exchange {}", self.exchange),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct FlowKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub spi: u32,
    /// UDP ports when ESP is encapsulated in UDP (TCP ports when `tcp`).
    pub udp: Option<(u16, u16)>,
    /// Carried in a TCP stream (RFC 8229).
    pub tcp: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct EspSample {
    pub number: u64,
    pub time: f64,
    pub seq: u32,
    pub len: u32,
}

/// Distinct packet lengths kept per ESP flow.
pub const ESP_LENGTHS: usize = 32;

/// Size classes of ESP packets (IP total length), to see what size is lost.
pub const SIZE_CLASSES: [u32; 4] = [576, 1280, 1400, 1500];

#[derive(Debug, Clone, Serialize)]
pub struct EspFlow {
    pub key: FlowKey,
    pub packets: u64,
    pub bytes: u64,
    pub first_time: f64,
    pub last_time: f64,
    pub first_number: u64,
    pub seq_min: u32,
    pub seq_max: u32,
    /// Packets whose sequence number did not follow the previous one.
    pub seq_jumps: u64,
    pub max_len: u32,
    /// Counts per size class: ≤576, ≤1280, ≤1400, ≤1500, larger.
    pub by_size: [u64; 5],
    /// Packets per exact IP length (ESP pads to its block size, so a flow has few lengths);
    /// at most [`ESP_LENGTHS`] lengths, the rest only in `by_size`.
    pub lengths: Vec<(u32, u64)>,
    pub samples: Vec<EspSample>,
    /// What the keys opened of it, when keys were given for its SA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opened: Option<opened::EspOpened>,
    #[serde(skip)]
    last_seq: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct IcmpRec {
    pub number: u64,
    pub time: f64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub kind: String,
    pub mtu: Option<u32>,
    pub about: Option<Quoted>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub id: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct FragPiece {
    pub number: u64,
    pub time: f64,
    pub offset: u32,
    pub len: u32,
    pub more: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FragDatagram {
    pub key: FragKey,
    pub pieces: Vec<FragPiece>,
    /// Ports from the first fragment, when it was seen.
    pub ports: Option<(u16, u16)>,
    pub reassembled: bool,
}

impl FragDatagram {
    pub fn has_first(&self) -> bool {
        self.pieces.iter().any(|p| p.offset == 0)
    }
    pub fn has_last(&self) -> bool {
        self.pieces.iter().any(|p| !p.more)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct PlainKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlainFlow {
    pub key: PlainKey,
    pub packets: u64,
    pub first_number: u64,
    pub first_time: f64,
    pub last_time: f64,
}

/// Counts of things a limit made us drop: nothing is lost silently.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Dropped {
    pub ike_messages: u64,
    pub esp_flows: u64,
    pub frag_datagrams: u64,
    pub icmp: u64,
    pub plain_flows: u64,
    /// IKE-fragmented messages given up before they were complete (the record stays, partial).
    pub ike_frag_sets: u64,
}

/// Packets cut by the snap length, by kind, and the longest cut packet's captured length (the
/// snap length, or close to it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Snapped {
    pub ike: u64,
    pub esp: u64,
    pub other: u64,
    pub caplen: u32,
}

/// What [`Timeline::age_out`] forgot.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Aged {
    pub ike_messages: u64,
    pub esp_packets: u64,
    pub icmp: u64,
}

/// A stretch without packets this long is kept as a gap (seconds).
pub const GAP_MIN: f64 = 1.0;
/// Gaps kept per capture (the longest).
pub const MAX_GAPS: usize = 32;

/// Everything one capture showed.
#[derive(Debug, Default, Serialize)]
pub struct Timeline {
    pub packets: u64,
    pub first_time: Option<f64>,
    pub last_time: Option<f64>,
    pub ike: Vec<IkeMsg>,
    pub esp: Vec<EspFlow>,
    pub icmp: Vec<IcmpRec>,
    pub frags: Vec<FragDatagram>,
    pub plain: Vec<PlainFlow>,
    pub keepalives: u64,
    pub dropped: Dropped,
    /// Packets the snap length cut short (captured length below the length on the wire).
    pub snapped: Snapped,
    /// The longest stretches without any packet (at least [`GAP_MIN`] seconds; at most
    /// [`MAX_GAPS`] kept, the longest): (last packet before, first packet after).
    pub gaps: Vec<(f64, f64)>,
    /// The capture was still running at this time, after its last packet (a live capture, or a
    /// bundle's manifest says so): silence until then is silence seen, not the capture's end.
    #[serde(skip)]
    pub listening_until: Option<f64>,
    /// Packets sent by each address with a TTL/hop limit as a sender sets it (64, 128, 255):
    /// the capturing host's own addresses stand out.
    #[serde(skip)]
    pub fresh_ttl: HashMap<IpAddr, u64>,
    #[serde(skip)]
    limits: Limits,
    #[serde(skip)]
    esp_index: HashMap<FlowKey, usize>,
    #[serde(skip)]
    frag_index: HashMap<FragKey, usize>,
    #[serde(skip)]
    plain_index: HashMap<PlainKey, usize>,
    #[serde(skip)]
    digests: HashMap<u64, u32>,
    #[serde(skip)]
    ike_frags: Option<ikefrag::Pool>,
    #[serde(skip)]
    keys: Option<Arc<KeyRing>>,
    #[serde(skip)]
    skf: opened::SkfSets,
}

fn secs(ts: Timestamp) -> f64 {
    ts.as_f64()
}

fn digest(msg: &[u8], length: u32) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    msg[..msg.len().min(256)].hash(&mut h);
    length.hash(&mut h);
    h.finish()
}

/// Reads the payload chain into `m`; returns the IKE fragment it carries, if any (with its
/// set tag: IKEv1 fragment id, IKEv2 total).
fn read_payloads<'a>(h: &'a Header<&'a [u8]>, m: &mut IkeMsg) -> Option<(u16, ikefrag::Piece<'a>)> {
    let mut frag = None;
    // IKEv1 fragments are not flagged encrypted, but be lenient: payload 132 is never encrypted.
    let chain = if m.is_v1_encrypted() && h.next_payload() == payload_type::V1_FRAGMENT {
        isakmp::Payloads::new(h.body(), payload_type::V1_FRAGMENT, isakmp::HEADER_LEN)
    } else {
        h.payloads()
    };
    for p in chain.take(32) {
        let Ok(p) = p else { break };
        m.payloads.push(p.kind);
        match p.kind {
            payload_type::V2_SKF => {
                if let Some(e) = isakmp::Encrypted::from_payload(&p) {
                    m.ike_fragment = Some((e.fragment_number, e.total_fragments));
                    frag = Some((
                        e.total_fragments,
                        ikefrag::Piece {
                            number: e.fragment_number,
                            last: e.fragment_number == e.total_fragments,
                            data: &[],
                        },
                    ));
                }
            }
            payload_type::V1_FRAGMENT if m.major == 1 => {
                if let Some(f) = isakmp::V1Fragment::parse(p.body) {
                    let n = f.number as u16;
                    m.ike_fragment = Some((n, if f.last { n } else { 0 }));
                    frag = Some((
                        f.id,
                        ikefrag::Piece {
                            number: n,
                            last: f.last,
                            data: f.data,
                        },
                    ));
                }
            }
            _ => read_payload(&p, m),
        }
    }
    frag
}

/// What one (cleartext) payload tells: notifies, NAT-D, the IKEv1 phase-1 hash algorithm.
fn read_payload(p: &isakmp::Payload<'_>, m: &mut IkeMsg) {
    match p.kind {
        payload_type::NOTIFY | payload_type::V2_NOTIFY => {
            if let Some(n) = Notify::parse(p.body, m.major) {
                m.notifies.push(n.notify_type);
            }
            if let Some(nd) = NatD::from_payload(p, m.major) {
                m.natd.push((nd.source, nd.hash.to_vec()));
            }
        }
        payload_type::NAT_D | payload_type::NAT_D_DRAFT => {
            if let Some(nd) = NatD::from_payload(p, m.major) {
                m.natd.push((nd.source, nd.hash.to_vec()));
            }
        }
        payload_type::SA if m.major == 1 && m.exchange != isakmp::exchange::QUICK_MODE => {
            let sa = isakmp::Sa::parse(p.body, 1);
            m.v1_hash = sa
                .proposals
                .first()
                .and_then(|pr| pr.transforms.first())
                .and_then(|t| t.attribute(isakmp::v1_attr::HASH))
                .and_then(|v| v.as_u32())
                .map(|v| v as u16);
        }
        _ => {}
    }
}

/// The record of a reassembled IKEv1 message takes the original message's header fields and
/// payloads (all of them, or those in the first fragment).
fn read_original<T: AsRef<[u8]>>(m: &mut IkeMsg, h: &Header<T>) {
    m.exchange = h.exchange_type();
    m.flags = h.flags();
    m.payloads.clear();
    m.notifies.clear();
    m.natd.clear();
    for p in h.payloads().take(32) {
        let Ok(p) = p else { break };
        m.payloads.push(p.kind);
        read_payload(&p, m);
    }
}

impl Timeline {
    pub fn new(limits: Limits) -> Timeline {
        Timeline {
            limits,
            ..Default::default()
        }
    }

    /// Forgets what happened before `t` (seconds), so a capture watched for days stays small
    /// and its verdict is about now; what went is counted in the returned [`Aged`]. ESP flows
    /// and plain flows go when their last packet is older.
    pub fn age_out(&mut self, t: f64) -> Aged {
        let mut aged = Aged::default();
        let n = self.ike.len();
        self.ike.retain(|m| m.time >= t);
        aged.ike_messages = (n - self.ike.len()) as u64;
        if aged.ike_messages > 0 {
            // The fragment pool points at records by index; a set in progress starts again.
            self.ike_frags = None;
            self.digests.clear();
            for m in &self.ike {
                *self.digests.entry(m.digest).or_insert(0) += 1;
            }
        }
        let esp_packets: u64 = self.esp.iter().filter(|f| f.last_time < t).map(|f| f.packets).sum();
        aged.esp_packets = esp_packets;
        self.esp.retain(|f| f.last_time >= t);
        self.esp_index = self.esp.iter().enumerate().map(|(i, f)| (f.key, i)).collect();
        let n = self.icmp.len();
        self.icmp.retain(|r| r.time >= t);
        aged.icmp = (n - self.icmp.len()) as u64;
        self.frags.retain(|d| d.pieces.iter().any(|p| p.time >= t));
        self.frag_index = self.frags.iter().enumerate().map(|(i, d)| (d.key, i)).collect();
        self.plain.retain(|f| f.last_time >= t);
        self.plain_index = self.plain.iter().enumerate().map(|(i, f)| (f.key, i)).collect();
        self.gaps.retain(|g| g.1 >= t);
        aged
    }

    /// The keys to open IKEv2 SK payloads and ESP packets with, from here on.
    pub fn set_keys(&mut self, keys: Arc<KeyRing>) {
        self.keys = (!keys.is_empty()).then_some(keys);
    }

    /// The keys given, if any.
    pub fn keys(&self) -> Option<&KeyRing> {
        self.keys.as_deref()
    }

    fn lim(&self) -> Limits {
        self.limits
    }

    /// Feeds one decoded packet (or reassembled datagram).
    pub fn add(&mut self, d: &Decoded<'_>) {
        let t = secs(d.ts);
        if d.reassembled_from.is_none() {
            self.packets += 1;
            if let Some(last) = self.last_time {
                if t - last >= GAP_MIN {
                    self.add_gap(last, t);
                }
            }
            self.first_time.get_or_insert(t);
            self.last_time = Some(t);
            // Only IPsec packets say which end is the capturing host; bounded like the rest.
            let ipsec = matches!(
                d.l4,
                L4::Esp(_)
                    | L4::Tcp { .. }
                    | L4::Udp {
                        kind: UdpKind::Ike { .. } | UdpKind::Esp(_),
                        ..
                    }
            );
            if ipsec && matches!(d.ip.ttl, 64 | 128 | 255) {
                let n = self.fresh_ttl.len();
                match self.fresh_ttl.get_mut(&d.ip.src) {
                    Some(c) => *c += 1,
                    None if n < MAX_FRESH_TTL_ADDRS => {
                        self.fresh_ttl.insert(d.ip.src, 1);
                    }
                    None => {}
                }
            }
            if let Some(fr) = d.ip.fragment {
                self.add_fragment(d, &d.ip, fr.offset, fr.more, fr.id, t);
            }
        }
        match d.l4 {
            L4::Udp { sport, dport, kind, .. } => match kind {
                UdpKind::Ike { msg, natt } => self.add_ike(d, msg, natt, sport, dport, t),
                UdpKind::Esp(e) => self.add_esp(d, e, Some((sport, dport)), t),
                UdpKind::Keepalive => self.keepalives += 1,
                UdpKind::Other => self.add_plain(d, t),
            },
            L4::Esp(e) => self.add_esp(d, e, None, t),
            // RFC 8229: each message comes after its segment, tracked as if over UDP 4500.
            L4::Tcp { sport, dport, kind } => {
                let whole = Decoded {
                    reassembled_from: None,
                    ..*d
                };
                match kind {
                    TcpKind::Segment => {}
                    TcpKind::Ike { msg } => self.add_ike(&whole, msg, true, sport, dport, t),
                    TcpKind::Esp(e) => self.add_esp(&whole, e, Some((sport, dport)), t),
                }
            }
            L4::Icmp { kind, quoted } => self.add_icmp(d, kind, quoted, t),
            L4::Ah { .. } | L4::Fragment => {}
            L4::Other => self.add_plain(d, t),
        }
    }

    fn add_gap(&mut self, from: f64, to: f64) {
        if self.gaps.len() < MAX_GAPS {
            self.gaps.push((from, to));
            return;
        }
        let len = |g: &(f64, f64)| g.1 - g.0;
        if let Some((i, g)) = self
            .gaps
            .iter()
            .enumerate()
            .min_by(|a, b| len(a.1).total_cmp(&len(b.1)))
        {
            if len(g) < to - from {
                self.gaps[i] = (from, to);
            }
        }
    }

    /// Counts a packet the snap length cut (`caplen` bytes captured of more on the wire); call it
    /// with the packet's decoded form, before or after [`Timeline::add`].
    pub fn note_snapped(&mut self, d: &Decoded<'_>, caplen: u32) {
        if d.reassembled_from.is_some() {
            return;
        }
        let s = &mut self.snapped;
        match d.l4 {
            L4::Udp {
                kind: UdpKind::Ike { .. },
                ..
            } => s.ike += 1,
            L4::Esp(_)
            | L4::Udp {
                kind: UdpKind::Esp(_), ..
            } => s.esp += 1,
            // A non-first fragment of a datagram on the IKE ports is IKE too.
            L4::Fragment
                if d.ip.fragment.is_some_and(|fr| {
                    let key = FragKey {
                        src: d.ip.src,
                        dst: d.ip.dst,
                        proto: d.ip.proto,
                        id: fr.id,
                    };
                    self.frag_index.get(&key).is_some_and(|&i| {
                        self.frags[i]
                            .ports
                            .is_some_and(|(a, b)| matches!(a, 500 | 4500) || matches!(b, 500 | 4500))
                    })
                }) =>
            {
                s.ike += 1
            }
            _ => s.other += 1,
        }
        s.caplen = s.caplen.max(caplen);
    }

    fn add_fragment(&mut self, d: &Decoded<'_>, ip: &IpInfo, offset: u32, more: bool, id: u32, t: f64) {
        let key = FragKey {
            src: ip.src,
            dst: ip.dst,
            proto: ip.proto,
            id,
        };
        let idx = match self.frag_index.get(&key) {
            Some(&i) => i,
            None => {
                if self.frags.len() >= self.lim().frag_datagrams {
                    self.dropped.frag_datagrams += 1;
                    return;
                }
                self.frags.push(FragDatagram {
                    key,
                    pieces: Vec::new(),
                    ports: None,
                    reassembled: false,
                });
                self.frag_index.insert(key, self.frags.len() - 1);
                self.frags.len() - 1
            }
        };
        let f = &mut self.frags[idx];
        if let (0, L4::Udp { sport, dport, .. }) = (offset, d.l4) {
            f.ports = Some((sport, dport));
        }
        if f.pieces.len() < 64 {
            let hdr = if matches!(ip.src, IpAddr::V4(_)) { 20 } else { 48 };
            f.pieces.push(FragPiece {
                number: d.number,
                time: t,
                offset,
                len: ip.total_len.saturating_sub(hdr),
                more,
            });
        }
    }

    fn add_ike(&mut self, d: &Decoded<'_>, msg: &[u8], natt: bool, sport: u16, dport: u16, t: f64) {
        let Ok(h) = Header::new_checked(msg) else { return };
        let partial = d.ip.fragment.is_some() && d.reassembled_from.is_none();
        let mut m = IkeMsg {
            number: d.number,
            time: t,
            src: SocketAddr::new(d.ip.src, sport),
            dst: SocketAddr::new(d.ip.dst, dport),
            natt,
            tcp: matches!(d.l4, L4::Tcp { .. }),
            ispi: h.initiator_spi(),
            rspi: h.responder_spi(),
            major: h.major_version(),
            exchange: h.exchange_type(),
            flags: h.flags(),
            msgid: h.message_id(),
            length: h.length(),
            payloads: Vec::new(),
            notifies: Vec::new(),
            natd: Vec::new(),
            v1_hash: None,
            ike_fragment: None,
            ike_frag_complete: false,
            fragment_packets: Vec::new(),
            ip_fragmented: d.ip.fragment.is_some() || d.reassembled_from.is_some(),
            partial,
            ip_frag_id: d.ip.fragment.map(|f| f.id),
            digest: digest(msg, h.length()),
            retransmission: false,
            opened: None,
        };
        let frag = read_payloads(&h, &mut m);
        let mut skf = None;
        if let (Some(k), false) = (&self.keys, partial) {
            if m.payloads.contains(&payload_type::V2_SKF) {
                skf = self.skf.offer(k, msg);
            } else {
                m.opened = opened::open_ike(k, msg);
            }
        }
        if d.reassembled_from.is_some() {
            // Replace the record made from the first fragment of this datagram.
            if let Some(prev) = self.ike.iter_mut().rev().take(64).find(|p| {
                p.partial && p.ip_frag_id == m.ip_frag_id.or(p.ip_frag_id) && p.src == m.src && p.ispi == m.ispi
            }) {
                m.number = prev.number;
                m.time = prev.time;
                m.ip_frag_id = prev.ip_frag_id;
                m.retransmission = prev.retransmission;
                *prev = m;
                return;
            }
            m.partial = false;
        }
        // An IKE fragment in a whole datagram joins its message's record. (One that was itself
        // IP-fragmented keeps a record of its own: its bytes arrive in two steps.)
        if let (Some((tag, piece)), false, None) = (frag, partial, d.reassembled_from) {
            let key = ikefrag::SetKey {
                src: m.src,
                dst: m.dst,
                major: m.major,
                ispi: m.ispi,
                rspi: m.rspi,
                msgid: m.msgid,
                tag,
                response: m.major >= 2 && m.flags & flags::RESPONSE != 0,
            };
            if ikefrag::Pool::usable(&key, &piece) {
                self.add_ike_fragment(m, key, piece);
                // The fragments opened so far: the whole message's content, or a failure.
                if let Some(o) = skf {
                    let rec = self.ike.iter_mut().rev().take(64).find(|r| {
                        r.ike_fragment.is_some() && r.ispi == key.ispi && r.msgid == key.msgid && r.src == key.src
                    });
                    if let Some(r) = rec {
                        r.opened = Some(o);
                    }
                }
                return;
            }
        }
        self.push_ike(m);
    }

    fn push_ike(&mut self, mut m: IkeMsg) -> Option<usize> {
        if self.ike.len() >= self.lim().ike_messages {
            self.dropped.ike_messages += 1;
            return None;
        }
        let seen = self.digests.entry(m.digest).or_insert(0);
        m.retransmission = *seen > 0;
        *seen += 1;
        self.ike.push(m);
        Some(self.ike.len() - 1)
    }

    /// One IKE fragment: the first one seen of its message makes the message's record, later
    /// ones complete it. The record is the message as a negotiation step: its retransmissions
    /// (the same fragments again, or the message unfragmented) are flagged as such.
    fn add_ike_fragment(&mut self, mut m: IkeMsg, key: ikefrag::SetKey, piece: ikefrag::Piece<'_>) {
        let lim = self.lim();
        let pool = self
            .ike_frags
            .get_or_insert_with(|| ikefrag::Pool::new(lim.ike_frag_sets, lim.ike_frag_bytes));
        let (number, len) = (m.number, m.length);
        let offer = match pool.offer(key, piece) {
            ikefrag::Offer::New => {
                // Until it is complete the message is known by its name only.
                m.digest = key.digest(false);
                m.ike_fragment = Some((0, 0));
                m.length = 0;
                let Some(idx) = self.push_ike(m) else { return };
                let pool = self.ike_frags.as_mut().expect("created above");
                let evicted = pool.evicted;
                let o = pool.attach(key, piece, idx);
                self.dropped.ike_frag_sets += pool.evicted - evicted;
                o
            }
            o => o,
        };
        let ikefrag::Offer::Added {
            record,
            received,
            total,
            complete,
        } = offer
        else {
            return;
        };
        let Some(rec) = self.ike.get_mut(record) else { return };
        rec.ike_fragment = Some((received, total.unwrap_or(0)));
        rec.length = rec.length.saturating_add(len);
        if rec.fragment_packets.len() < ikefrag::MAX_FRAGMENT_PACKETS {
            rec.fragment_packets.push(number);
        }
        if key.major < 2 && piece.number == 1 {
            // The first IKEv1 fragment starts with the original message's header: its flags
            // (encrypted or not) and the payloads that fit.
            if let Ok(h) = Header::new_checked(piece.data) {
                read_original(rec, &h);
            }
        }
        let Some(whole) = complete else { return };
        let old = rec.digest;
        rec.ike_frag_complete = true;
        rec.digest = match whole.as_deref().map(Header::new_checked) {
            Some(Ok(h)) => {
                read_original(rec, &h);
                rec.length = h.length();
                digest(h.into_inner(), rec.length)
            }
            _ => key.digest(true),
        };
        let new = rec.digest;
        if let Some(c) = self.digests.get_mut(&old) {
            *c = c.saturating_sub(1);
        }
        let seen = self.digests.entry(new).or_insert(0);
        rec.retransmission = *seen > 0;
        *seen += 1;
    }

    fn add_esp(&mut self, d: &Decoded<'_>, e: Esp, udp: Option<(u16, u16)>, t: f64) {
        if d.reassembled_from.is_some() {
            return; // counted as its fragments
        }
        let key = FlowKey {
            src: d.ip.src,
            dst: d.ip.dst,
            spi: e.spi,
            udp,
            tcp: matches!(d.l4, L4::Tcp { .. }),
        };
        let idx = match self.esp_index.get(&key) {
            Some(&i) => i,
            None => {
                if self.esp.len() >= self.lim().esp_flows {
                    self.dropped.esp_flows += 1;
                    return;
                }
                self.esp.push(EspFlow {
                    key,
                    packets: 0,
                    bytes: 0,
                    first_time: t,
                    last_time: t,
                    first_number: d.number,
                    seq_min: e.seq,
                    seq_max: e.seq,
                    seq_jumps: 0,
                    max_len: 0,
                    by_size: [0; 5],
                    lengths: Vec::new(),
                    samples: Vec::new(),
                    opened: None,
                    last_seq: e.seq.wrapping_sub(1),
                });
                self.esp_index.insert(key, self.esp.len() - 1);
                self.esp.len() - 1
            }
        };
        let samples = self.lim().esp_samples;
        let f = &mut self.esp[idx];
        if let Some(k) = &self.keys {
            opened::open_esp(k, &mut f.opened, e.spi, (d.ip.src, d.ip.dst), e.data, d.number, t);
        }
        let len = d.ip.total_len;
        f.packets += 1;
        f.bytes += len as u64;
        f.last_time = t;
        f.seq_min = f.seq_min.min(e.seq);
        f.seq_max = f.seq_max.max(e.seq);
        if e.seq != f.last_seq.wrapping_add(1) {
            f.seq_jumps += 1;
        }
        f.last_seq = e.seq;
        f.max_len = f.max_len.max(len);
        let class = SIZE_CLASSES.iter().position(|&c| len <= c).unwrap_or(4);
        f.by_size[class] += 1;
        match f.lengths.iter().position(|(l, _)| *l == len) {
            Some(i) => f.lengths[i].1 += 1,
            None if f.lengths.len() < ESP_LENGTHS => f.lengths.push((len, 1)),
            None => {}
        }
        if f.samples.len() < samples {
            f.samples.push(EspSample {
                number: d.number,
                time: t,
                seq: e.seq,
                len,
            });
        }
    }

    fn add_icmp(&mut self, d: &Decoded<'_>, kind: IcmpKind, q: Option<Quoted>, t: f64) {
        if matches!(kind, IcmpKind::Other { .. }) {
            self.add_plain(d, t);
            return;
        }
        if self.icmp.len() >= self.lim().icmp {
            self.dropped.icmp += 1;
            return;
        }
        let (name, mtu) = match kind {
            IcmpKind::PortUnreachable => ("port unreachable", None),
            IcmpKind::HostUnreachable => ("unreachable", None),
            IcmpKind::FragNeeded { mtu } => ("fragmentation needed", Some(mtu)),
            IcmpKind::TimeExceeded => ("time exceeded", None),
            IcmpKind::Other { .. } => ("other", None),
        };
        self.icmp.push(IcmpRec {
            number: d.number,
            time: t,
            src: d.ip.src,
            dst: d.ip.dst,
            kind: name.into(),
            mtu,
            about: q,
        });
    }

    fn add_plain(&mut self, d: &Decoded<'_>, t: f64) {
        if d.reassembled_from.is_some() {
            return;
        }
        let key = PlainKey {
            src: d.ip.src,
            dst: d.ip.dst,
            proto: d.ip.proto,
        };
        match self.plain_index.get(&key) {
            Some(&i) => {
                let p = &mut self.plain[i];
                p.packets += 1;
                p.last_time = t;
            }
            None => {
                if self.plain.len() >= self.lim().plain_flows {
                    self.dropped.plain_flows += 1;
                    return;
                }
                self.plain.push(PlainFlow {
                    key,
                    packets: 1,
                    first_number: d.number,
                    first_time: t,
                    last_time: t,
                });
                self.plain_index.insert(key, self.plain.len() - 1);
            }
        }
        // ICMP echo between inner hosts is what an internal-interface capture shows.
    }

    /// Addresses this capture was most likely taken on (sent with a fresh TTL), most first.
    pub fn local_addrs(&self) -> Vec<IpAddr> {
        let mut v: Vec<(IpAddr, u64)> = self.fresh_ttl.iter().map(|(a, n)| (*a, *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().map(|(a, _)| a).collect()
    }
}

/// IKEv1 messages built for tests (here and in the diagnose rules' tests).
#[cfg(test)]
pub(crate) mod test_msgs {
    use crate::wire::isakmp::payload_type;

    /// An IKEv1 main mode message with the given cookies, flags and (type, body) payloads.
    pub fn ikev1(cookies: [[u8; 8]; 2], flags: u8, payloads: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut m = vec![0u8; 28];
        m[0..8].copy_from_slice(&cookies[0]);
        m[8..16].copy_from_slice(&cookies[1]);
        m[16] = payloads.first().map_or(0, |p| p.0);
        m[17] = 0x10;
        m[18] = 2;
        m[19] = flags;
        for (i, (_, body)) in payloads.iter().enumerate() {
            m.push(payloads.get(i + 1).map_or(0, |p| p.0));
            m.push(0);
            m.extend_from_slice(&((body.len() + 4) as u16).to_be_bytes());
            m.extend_from_slice(body);
        }
        let len = m.len() as u32;
        m[24..28].copy_from_slice(&len.to_be_bytes());
        m
    }

    /// `orig` (an IKEv1 message) cut into IKEv1 fragments (payload 132) of at most `size`
    /// bytes, with fragment id `id`, under the original's cookies.
    pub fn ikev1_fragments(orig: &[u8], id: u16, size: usize) -> Vec<Vec<u8>> {
        let cookies = [orig[0..8].try_into().unwrap(), orig[8..16].try_into().unwrap()];
        let chunks: Vec<&[u8]> = orig.chunks(size).collect();
        chunks
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut body = id.to_be_bytes().to_vec();
                body.push(i as u8 + 1);
                body.push(u8::from(i + 1 == chunks.len()));
                body.extend_from_slice(c);
                ikev1(cookies, 0, &[(payload_type::V1_FRAGMENT, body)])
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::packet::Fragment;
    use std::net::Ipv4Addr;

    fn ip(src: [u8; 4], dst: [u8; 4], proto: u8, len: u32) -> IpInfo {
        IpInfo {
            src: Ipv4Addr::from(src).into(),
            dst: Ipv4Addr::from(dst).into(),
            ttl: 64,
            proto,
            total_len: len,
            dont_fragment: false,
            fragment: None,
        }
    }

    fn ts(s: i64) -> Timestamp {
        Timestamp { sec: s, nsec: 0 }
    }

    #[test]
    fn esp_flow_counts_sizes_and_gaps() {
        let mut tl = Timeline::new(Limits::default());
        for (n, (seq, len)) in [(1u32, 100u32), (2, 1450), (4, 1450)].iter().enumerate() {
            let d = Decoded {
                ts: ts(n as i64),
                number: n as u64 + 1,
                ip: ip([192, 0, 2, 1], [198, 51, 100, 2], 50, *len),
                l4: L4::Esp(Esp {
                    spi: 0xaa,
                    seq: *seq,
                    data: &[],
                }),
                reassembled_from: None,
            };
            tl.add(&d);
        }
        assert_eq!(tl.esp.len(), 1);
        let f = &tl.esp[0];
        assert_eq!((f.packets, f.seq_min, f.seq_max, f.seq_jumps), (3, 1, 4, 1));
        assert_eq!(f.by_size, [1, 0, 0, 2, 0]);
    }

    #[test]
    fn ike_retransmission_and_fragments() {
        let mut msg = vec![0u8; 28];
        msg[0..8].copy_from_slice(&[1; 8]);
        msg[17] = 0x20;
        msg[18] = 34;
        msg[19] = 0x08;
        msg[24..28].copy_from_slice(&28u32.to_be_bytes());
        let mut tl = Timeline::new(Limits::default());
        for n in 1..=2 {
            let mut i = ip([192, 0, 2, 1], [198, 51, 100, 2], 17, 56);
            if n == 2 {
                i.fragment = Some(Fragment {
                    offset: 0,
                    more: true,
                    id: 7,
                });
            }
            tl.add(&Decoded {
                ts: ts(n),
                number: n as u64,
                ip: i,
                l4: L4::Udp {
                    sport: 500,
                    dport: 500,
                    len: 36,
                    kind: UdpKind::Ike { msg: &msg, natt: false },
                },
                reassembled_from: None,
            });
        }
        assert_eq!(tl.ike.len(), 2);
        assert!(!tl.ike[0].retransmission);
        assert!(tl.ike[1].retransmission && tl.ike[1].partial && tl.ike[1].ip_fragmented);
        assert_eq!(tl.frags.len(), 1);
        assert!(tl.frags[0].has_first() && !tl.frags[0].has_last());
    }

    use super::test_msgs::ikev1_fragments as v1_fragments;

    /// An IKEv1 main mode message with the given (type, body) payloads.
    fn v1_msg(flags: u8, payloads: &[(u8, Vec<u8>)]) -> Vec<u8> {
        super::test_msgs::ikev1([[1; 8], [2; 8]], flags, payloads)
    }

    /// An IKEv2 IKE_AUTH SKF fragment `n` of `total`.
    fn skf(n: u16, total: u16, response: bool) -> Vec<u8> {
        let mut m = vec![0u8; 28];
        m[0..8].copy_from_slice(&[1; 8]);
        m[8..16].copy_from_slice(&[2; 8]);
        m[16] = payload_type::V2_SKF;
        m[17] = 0x20;
        m[18] = 35;
        m[19] = if response { 0x20 } else { 0x08 };
        m[20..24].copy_from_slice(&1u32.to_be_bytes());
        m.extend_from_slice(&[if n == 1 { 35 } else { 0 }, 0]);
        m.extend_from_slice(&(8u16 + 100).to_be_bytes());
        m.extend_from_slice(&n.to_be_bytes());
        m.extend_from_slice(&total.to_be_bytes());
        m.extend_from_slice(&[0xab; 100]);
        let len = m.len() as u32;
        m[24..28].copy_from_slice(&len.to_be_bytes());
        m
    }

    fn feed(tl: &mut Timeline, n: u64, msg: &[u8], from_responder: bool) {
        let (s, d) = if from_responder {
            ([198, 51, 100, 2], [192, 0, 2, 1])
        } else {
            ([192, 0, 2, 1], [198, 51, 100, 2])
        };
        tl.add(&Decoded {
            ts: ts(n as i64),
            number: n,
            ip: ip(s, d, 17, msg.len() as u32 + 28),
            l4: L4::Udp {
                sport: 500,
                dport: 500,
                len: msg.len() as u32 + 8,
                kind: UdpKind::Ike { msg, natt: false },
            },
            reassembled_from: None,
        });
    }

    #[test]
    fn v1_fragments_of_a_retransmitted_mr2_are_mr2_again() {
        // MR2 (KE, nonce) once whole, then retransmitted as three IKEv1 fragments, twice.
        let mr2 = v1_msg(
            0,
            &[(payload_type::KE, vec![7; 512]), (payload_type::NONCE, vec![9; 32])],
        );
        let mut tl = Timeline::new(Limits::default());
        feed(&mut tl, 1, &mr2, true);
        let frags = v1_fragments(&mr2, 5, 200);
        assert_eq!(frags.len(), 3);
        let mut n = 2;
        for _ in 0..2 {
            for f in &frags {
                feed(&mut tl, n, f, true);
                n += 1;
            }
        }
        assert_eq!(tl.ike.len(), 3, "{:?}", tl.ike);
        for m in &tl.ike[1..] {
            assert!(m.ike_frag_complete && m.retransmission, "{m:?}");
            assert_eq!(m.payloads, vec![payload_type::KE, payload_type::NONCE]);
            assert_eq!((m.digest, m.length), (tl.ike[0].digest, tl.ike[0].length));
            assert_eq!(m.ike_fragment, Some((3, 3)));
        }
        assert_eq!(tl.ike[1].fragment_packets, vec![2, 3, 4]);
        assert!(!tl.ike[1].content_unknown());
    }

    #[test]
    fn v1_fragments_without_the_first_keep_their_content_unknown() {
        let mi3 = v1_msg(flags::ENCRYPTION, &[(payload_type::ID, vec![3; 600])]);
        let frags = v1_fragments(&mi3, 9, 250);
        let mut tl = Timeline::new(Limits::default());
        feed(&mut tl, 1, &frags[1], false);
        feed(&mut tl, 2, &frags[2], false);
        assert_eq!(tl.ike.len(), 1);
        let m = &tl.ike[0];
        assert!(m.content_unknown() && !m.ike_frag_complete && !m.is_v1_encrypted());
        assert_eq!(m.ike_fragment, Some((2, 3)));
        // With the first one the header is known: an encrypted message (MI3).
        let mut tl = Timeline::new(Limits::default());
        feed(&mut tl, 1, &frags[0], false);
        assert!(tl.ike[0].is_v1_encrypted() && !tl.ike[0].content_unknown());
    }

    #[test]
    fn v2_skf_fragments_are_one_message_and_a_resent_set_a_retransmission() {
        let mut tl = Timeline::new(Limits::default());
        let mut n = 1;
        for _ in 0..2 {
            for i in 1..=3 {
                feed(&mut tl, n, &skf(i, 3, false), false);
                n += 1;
            }
        }
        // The response, whole: a different message with the same SPIs and message id.
        feed(&mut tl, n, &skf(1, 1, true), true);
        assert_eq!(tl.ike.len(), 3, "{:?}", tl.ike);
        assert!(tl.ike[0].ike_frag_complete && !tl.ike[0].retransmission);
        assert!(tl.ike[1].ike_frag_complete && tl.ike[1].retransmission);
        assert_eq!(tl.ike[0].length, 3 * 136);
        assert_eq!(tl.ike[0].ike_fragment, Some((3, 3)));
        assert!(!tl.ike[2].retransmission && tl.ike[2].is_response());
    }

    #[test]
    fn gaps_keep_the_longest_and_are_bounded() {
        let mut tl = Timeline::new(Limits::default());
        let mut t = 0i64;
        // Quiet stretches of 1, 2, ... 100 s between packets, and many short ones.
        for n in 1..=100i64 {
            t += n;
            tl.add(&Decoded {
                ts: ts(t),
                number: n as u64,
                ip: ip([192, 0, 2, 1], [198, 51, 100, 2], 50, 100),
                l4: L4::Esp(Esp {
                    spi: 1,
                    seq: n as u32,
                    data: &[],
                }),
                reassembled_from: None,
            });
        }
        assert_eq!(tl.gaps.len(), MAX_GAPS);
        let mut lens: Vec<i64> = tl.gaps.iter().map(|(a, b)| (b - a) as i64).collect();
        lens.sort();
        assert_eq!(lens, (100 - MAX_GAPS as i64 + 1..=100).collect::<Vec<_>>());
    }

    #[test]
    fn never_completed_fragment_sets_are_bounded() {
        let lim = Limits {
            ike_frag_sets: 8,
            ike_frag_bytes: 4096,
            ..Limits::default()
        };
        let mut tl = Timeline::new(lim);
        let mut body = 0u16.to_be_bytes().to_vec();
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&[0; 1000]);
        for id in 0..2000u16 {
            body[0..2].copy_from_slice(&id.to_be_bytes());
            feed(
                &mut tl,
                id as u64 + 1,
                &v1_msg(0, &[(payload_type::V1_FRAGMENT, body.clone())]),
                false,
            );
            let pool = tl.ike_frags.as_ref().unwrap();
            assert!(pool.open() <= 8 && pool.buffered() <= 4096);
        }
        assert_eq!(tl.ike.len(), 2000);
        assert!(tl.dropped.ike_frag_sets >= 1990, "{:?}", tl.dropped);
    }
}
