//! What the keys open: an IKEv2 message's SK payload read into what diagnosis needs (IDs, AUTH,
//! notifies, proposals, traffic selectors, configuration), and the inner packets of ESP.

use crate::decrypt::{self, Failure, Icv};
use crate::keys::KeyRing;
use crate::wire::isakmp::{self, payload_type, Header};
use serde::Serialize;
use std::net::IpAddr;

/// The content of an IKEv2 message's encrypted payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Opened {
    /// Inner payload types in order.
    pub payloads: Vec<u8>,
    pub notifies: Vec<u16>,
    pub idi: Option<String>,
    pub idr: Option<String>,
    /// AUTH method (1 RSA signature, 2 shared key, 14 digital signature...).
    pub auth: Option<u8>,
    /// SA proposals, one line each: `ESP: AES-CBC_256 AUTH_HMAC_SHA2_256_128 No ESN`.
    pub proposals: Vec<String>,
    /// The SPIs of the ESP/AH proposals: the sender's inbound SPI for the child SA.
    #[serde(skip)]
    pub child_spis: Vec<u32>,
    pub tsi: Vec<String>,
    pub tsr: Vec<String>,
    /// Configuration payload: `CFG_REQUEST` / `CFG_REPLY` and its attributes.
    pub cp: Option<String>,
    /// Delete payloads: `IKE` or `ESP 0x...`.
    pub deletes: Vec<String>,
    /// The names the first certificate sent holds for its owner: subject DN, subjectAltNames.
    #[serde(skip)]
    pub cert_names: Vec<String>,
    /// The ICV was verified (else the integrity key was not given).
    pub verified: bool,
}

impl Opened {
    pub fn has_notify(&self, t: u16) -> bool {
        self.notifies.contains(&t)
    }

    /// One line: `IDi=sg1.example.org IDr=sg2.example.org AUTH(PSK) SA TSi=[..] TSr=[..] N(TS_UNACCEPTABLE)`.
    pub fn summary(&self) -> String {
        let mut out = Vec::new();
        if let Some(i) = &self.idi {
            out.push(format!("IDi={i}"));
        }
        if let Some(r) = &self.idr {
            out.push(format!("IDr={r}"));
        }
        if let Some(a) = self.auth {
            out.push(format!("AUTH({})", auth_method_name(a)));
        }
        for p in &self.proposals {
            out.push(format!("SA({p})"));
        }
        if !self.tsi.is_empty() {
            out.push(format!("TSi={}", self.tsi.join(",")));
        }
        if !self.tsr.is_empty() {
            out.push(format!("TSr={}", self.tsr.join(",")));
        }
        if let Some(c) = &self.cp {
            out.push(c.clone());
        }
        for n in &self.notifies {
            out.push(format!("N({})", notify_name(*n)));
        }
        for d in &self.deletes {
            out.push(format!("D({d})"));
        }
        if out.is_empty() {
            out.push("empty".into());
        }
        out.join(" ")
    }
}

pub fn notify_name(t: u16) -> String {
    isakmp::ikev2_notify_name(t)
        .map(str::to_string)
        .unwrap_or_else(|| t.to_string())
}

fn auth_method_name(m: u8) -> &'static str {
    match m {
        1 => "RSA signature",
        2 => "PSK",
        3 => "DSS signature",
        9..=11 => "ECDSA",
        12 => "generic secure password",
        13 => "NULL",
        14 => "digital signature",
        _ => "other",
    }
}

/// The outcome of trying the keys on one message or packet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decryption<T> {
    Opened(T),
    /// Keys for it were given and none opened it: wrong key or corrupted packet.
    Failed(String),
}

impl Decryption<Box<Opened>> {
    /// `decrypted: IDi=.. N(..)`, or `not decrypted: why`: the words the evidence and the
    /// timeline both use.
    pub fn describe(&self) -> String {
        match self {
            Decryption::Opened(o) => format!("decrypted: {}", o.summary()),
            Decryption::Failed(why) => format!("not decrypted: {why}"),
        }
    }
}

/// Tries the key ring on an IKEv2 message (`msg` from the IKE header); `None` when it has no
/// SK payload or no key is given for its SA. IKE fragments (SKF) are not opened.
pub fn open_ike(keys: &KeyRing, msg: &[u8]) -> Option<Decryption<Box<Opened>>> {
    let h = Header::new_checked(msg).ok()?;
    if h.major_version() < 2 {
        return None;
    }
    let sk = h
        .payloads()
        .take(32)
        .filter_map(Result::ok)
        .find(|p| p.kind == payload_type::V2_SK)?;
    let cands = keys.ike_candidates(h.initiator_spi(), h.responder_spi());
    Some(
        match first_opening(cands, |sa| decrypt::ike_sk(sa, msg, sk.offset, h.is_initiator()))? {
            Ok(plain) => Decryption::Opened(Box::new(read_inner(&plain))),
            Err(f) => Decryption::Failed(f.to_string()),
        },
    )
}

/// The first key that opens it, or why none did (an ICV mismatch, what a wrong key gives,
/// outranks the rest); `None` when no key was given for it.
fn first_opening<'k, S: 'k>(
    cands: impl Iterator<Item = &'k S>,
    open: impl Fn(&S) -> Result<decrypt::Plain, Failure>,
) -> Option<Result<decrypt::Plain, Failure>> {
    let mut failure = None;
    for sa in cands {
        match open(sa) {
            Ok(p) => return Some(Ok(p)),
            Err(e) => failure = Some(if failure == Some(Failure::Icv) { Failure::Icv } else { e }),
        }
    }
    failure.map(Err)
}

/// IKEv2 fragment sets (RFC 7383) being opened: each SKF is encrypted on its own; the inner
/// payloads are the fragments' plaintexts put together. Bounded: [`SKF_SETS`] sets of at most
/// 64 KiB and [`SKF_PARTS`] fragments each; the oldest set goes first.
#[derive(Debug, Default)]
pub struct SkfSets {
    sets: Vec<SkfSet>,
}

const SKF_SETS: usize = 16;
const SKF_PARTS: usize = 64;

#[derive(Debug)]
struct SkfSet {
    key: ([u8; 8], u32, bool, u16),
    next: Option<u8>,
    parts: Vec<(u16, Vec<u8>)>,
    bytes: usize,
    verified: bool,
}

impl SkfSets {
    /// Opens one SKF fragment of `msg`; the set's content once its last fragment is in, or
    /// the failure of a fragment the keys do not open. `None` while incomplete or without keys.
    pub fn offer(&mut self, keys: &KeyRing, msg: &[u8]) -> Option<Decryption<Box<Opened>>> {
        let h = Header::new_checked(msg).ok()?;
        let p = h
            .payloads()
            .take(32)
            .filter_map(Result::ok)
            .find(|p| p.kind == payload_type::V2_SKF)?;
        let e = isakmp::Encrypted::from_payload(&p)?;
        let cands = keys.ike_candidates(h.initiator_spi(), h.responder_spi());
        let opened = first_opening(cands, |sa| decrypt::ike_sk(sa, msg, p.offset, h.is_initiator()))?;
        let key = (h.initiator_spi(), h.message_id(), h.is_response(), e.total_fragments);
        let i = self.sets.iter().position(|s| s.key == key);
        let plain = match opened {
            Ok(plain) => plain,
            Err(f) => {
                if let Some(i) = i {
                    self.sets.remove(i);
                }
                return Some(Decryption::Failed(f.to_string()));
            }
        };
        let i = match i {
            Some(i) => i,
            None => {
                if self.sets.len() >= SKF_SETS {
                    self.sets.remove(0);
                }
                self.sets.push(SkfSet {
                    key,
                    next: None,
                    parts: Vec::new(),
                    bytes: 0,
                    verified: true,
                });
                self.sets.len() - 1
            }
        };
        let s = &mut self.sets[i];
        if e.fragment_number == 1 {
            s.next = Some(plain.next);
        }
        s.verified &= plain.icv == Icv::Verified;
        if !s.parts.iter().any(|(n, _)| *n == e.fragment_number) {
            if s.parts.len() >= SKF_PARTS || s.bytes + plain.data.len() > 65_535 {
                self.sets.remove(i);
                return None;
            }
            s.bytes += plain.data.len();
            let at = s.parts.partition_point(|(n, _)| *n < e.fragment_number);
            s.parts.insert(at, (e.fragment_number, plain.data));
        }
        if s.parts.len() < e.total_fragments as usize || s.next.is_none() {
            return None;
        }
        let s = self.sets.remove(i);
        let whole = decrypt::Plain {
            next: s.next.unwrap_or(0),
            data: s.parts.into_iter().flat_map(|(_, d)| d).collect(),
            icv: if s.verified { Icv::Verified } else { Icv::NotChecked },
        };
        Some(Decryption::Opened(Box::new(read_inner(&whole))))
    }
}

fn read_inner(plain: &decrypt::Plain) -> Opened {
    let mut o = Opened {
        verified: plain.icv == Icv::Verified,
        ..Default::default()
    };
    for p in isakmp::Payloads::new(&plain.data, plain.next, 0).take(64) {
        let Ok(p) = p else { break };
        o.payloads.push(p.kind);
        match p.kind {
            payload_type::V2_NOTIFY => {
                if let Some(n) = isakmp::Notify::parse(p.body, 2) {
                    o.notifies.push(n.notify_type);
                }
            }
            payload_type::V2_IDI | payload_type::V2_IDR => {
                let id = isakmp::Id::parse(p.body, 2).map(|i| i.text());
                if p.kind == payload_type::V2_IDI {
                    o.idi = id;
                } else {
                    o.idr = id;
                }
            }
            payload_type::V2_AUTH => o.auth = p.body.first().copied(),
            // X.509 certificate - signature (RFC 7296 §3.6).
            payload_type::V2_CERT if o.cert_names.is_empty() && p.body.first() == Some(&4) => {
                o.cert_names = isakmp::cert_names(&p.body[1..]);
            }
            payload_type::V2_SA => {
                o.proposals = proposals(p.body);
                o.child_spis = isakmp::Sa::parse(p.body, 2)
                    .proposals
                    .iter()
                    .filter(|p| matches!(p.protocol, 2 | 3))
                    .filter_map(|p| Some(u32::from_be_bytes(p.spi.try_into().ok()?)))
                    .take(8)
                    .collect();
            }
            payload_type::V2_TSI | payload_type::V2_TSR => {
                let ts: Vec<String> = isakmp::traffic_selectors(p.body)
                    .iter()
                    .map(|t| t.to_string())
                    .collect();
                if p.kind == payload_type::V2_TSI {
                    o.tsi = ts;
                } else {
                    o.tsr = ts;
                }
            }
            payload_type::V2_CP => o.cp = isakmp::Cp::parse(p.body).map(|c| cp_text(&c)),
            payload_type::V2_DELETE => {
                if let Some(d) = isakmp::Delete::parse(p.body, 2) {
                    o.deletes.push(delete_text(&d));
                }
            }
            _ => {}
        }
    }
    o
}

fn proposals(body: &[u8]) -> Vec<String> {
    let sa = isakmp::Sa::parse(body, 2);
    sa.proposals
        .iter()
        .take(8)
        .map(|p| {
            let proto = match p.protocol {
                1 => "IKE",
                2 => "AH",
                3 => "ESP",
                _ => "?",
            };
            let ts: Vec<String> = p
                .transforms
                .iter()
                .map(|t| {
                    let name = isakmp::ikev2_transform_name(t.kind, t.id)
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("{}:{}", t.kind, t.id));
                    match t.attribute(14).and_then(|v| v.as_u32()) {
                        Some(bits) => format!("{name}_{bits}"),
                        None => name,
                    }
                })
                .collect();
            format!("{proto}: {}", ts.join(" "))
        })
        .collect()
}

fn cp_text(c: &isakmp::Cp<'_>) -> String {
    let kind = match c.cfg_type {
        1 => "CFG_REQUEST",
        2 => "CFG_REPLY",
        3 => "CFG_SET",
        4 => "CFG_ACK",
        _ => "CFG",
    };
    let attrs: Vec<String> = c
        .attributes
        .iter()
        .take(16)
        .map(|(k, v)| {
            let name = match k {
                1 => "INTERNAL_IP4_ADDRESS",
                2 => "INTERNAL_IP4_NETMASK",
                3 => "INTERNAL_IP4_DNS",
                8 => "INTERNAL_IP6_ADDRESS",
                10 => "INTERNAL_IP6_DNS",
                13 => "INTERNAL_IP4_SUBNET",
                _ => return k.to_string(),
            };
            match v.len() {
                4 => format!("{name}={}", IpAddr::from(<[u8; 4]>::try_from(*v).unwrap_or_default())),
                16 | 17 => format!(
                    "{name}={}",
                    IpAddr::from(<[u8; 16]>::try_from(&v[..16]).unwrap_or_default())
                ),
                _ => name.to_string(),
            }
        })
        .collect();
    format!("{kind}({})", attrs.join(","))
}

fn delete_text(d: &isakmp::Delete<'_>) -> String {
    match d.protocol {
        1 => "IKE".into(),
        p => {
            let proto = if p == 2 { "AH" } else { "ESP" };
            let spis: Vec<String> = d
                .spis
                .iter()
                .take(4)
                .map(|s| format!("0x{}", crate::track::hex(s)))
                .collect();
            format!("{proto} {}", spis.join(","))
        }
    }
}

/// Inner flows kept per ESP flow.
pub const INNER_FLOWS: usize = 16;

/// Traffic inside one ESP flow: one kind of packet between two inner addresses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InnerFlow {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// `ICMP echo request`, `ICMP echo reply`, `TCP SYN`, `TCP SYN-ACK`, `TCP`, `UDP 53`...
    pub what: String,
    pub packets: u64,
    pub first_number: u64,
    pub first_time: f64,
    pub last_time: f64,
}

/// What the keys opened of one ESP flow.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EspOpened {
    pub opened: u64,
    /// Packets an SA with this SPI was given for and none opened.
    pub failed: u64,
    /// Why the first failure failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The first failing packet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failed: Option<u64>,
    /// Every opened packet's ICV was verified.
    pub verified: bool,
    pub inner: Vec<InnerFlow>,
    /// Inner packets of flows beyond [`INNER_FLOWS`].
    pub inner_dropped: u64,
}

/// Opens one ESP packet and records what it carries; `None` when no key is given for it.
pub fn open_esp(
    keys: &KeyRing,
    into: &mut Option<EspOpened>,
    spi: u32,
    outer: (IpAddr, IpAddr),
    data: &[u8],
    number: u64,
    t: f64,
) {
    let Some(opened) = first_opening(keys.esp_candidates(spi, outer.0, outer.1), |sa| decrypt::esp(sa, data)) else {
        return;
    };
    let o = into.get_or_insert_with(|| EspOpened {
        verified: true,
        ..Default::default()
    });
    let p = match opened {
        Ok(p) => p,
        Err(f) => {
            o.failed += 1;
            o.first_failed.get_or_insert(number);
            o.failure.get_or_insert_with(|| f.to_string());
            return;
        }
    };
    o.opened += 1;
    o.verified &= p.icv == Icv::Verified;
    // A dummy packet (RFC 4303 §2.6, next header 59) carries no traffic.
    let Some((src, dst, what)) = crate::wire::packet::inner_packet(p.next, &p.data, outer) else {
        return;
    };
    let full = o.inner.len() >= INNER_FLOWS;
    match o
        .inner
        .iter_mut()
        .find(|f| f.src == src && f.dst == dst && f.what == what)
    {
        Some(f) => {
            f.packets += 1;
            f.last_time = t;
        }
        None if !full => o.inner.push(InnerFlow {
            src,
            dst,
            what,
            packets: 1,
            first_number: number,
            first_time: t,
            last_time: t,
        }),
        None => o.inner_dropped += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Encr, IkeSa, Integ};

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// tcpdump's ikev2pI2 case: an IKE_AUTH request and the `ikev2 I/R` lines that open it
    /// (tcpdump -vvvv -E prints `v2IDi ... fqdn:west` and `v2auth ... method=rsasig`).
    fn corpus() -> Option<(KeyRing, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/tcpdump");
        let secrets = std::fs::read_to_string(dir.join("ikev2pI2-secrets.txt")).ok()?;
        let pcap = std::fs::read(dir.join("ikev2pI2.pcap")).ok()?;
        let mut keys = KeyRing::default();
        let mut sks = Vec::new();
        for l in secrets.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            let key = |i: usize| unhex(f[i].split_once(":0x").unwrap().1);
            sks.push((key(4), key(5)));
            let spi = |i: usize| -> [u8; 8] { unhex(&f[i][2..]).try_into().unwrap() };
            if sks.len() == 2 {
                keys.ike.push(IkeSa {
                    spis: Some((spi(2), spi(3))),
                    encr: Encr::AesCbc,
                    integ: Integ::HmacSha1_96,
                    sk_ei: sks[0].1.clone(),
                    sk_er: sks[1].1.clone(),
                    sk_ai: Some(sks[0].0.clone()),
                    sk_ar: Some(sks[1].0.clone()),
                });
            }
        }
        // The second record of the capture, from its IKE header (BSD loopback, IPv4, UDP before it).
        let mut off = 24;
        let mut msg = None;
        for _ in 0..2 {
            let caplen = u32::from_le_bytes(pcap[off + 8..off + 12].try_into().ok()?) as usize;
            msg = Some(pcap[off + 16 + 4 + 20 + 8..off + 16 + caplen].to_vec());
            off += 16 + caplen;
        }
        Some((keys, msg?))
    }

    #[test]
    fn opens_ikev2_auth_of_tcpdump_corpus() {
        let Some((mut keys, msg)) = corpus() else { return };
        // The case's ICV does not verify with its sha1 key (tcpdump never checks it): reported
        // as such, never read.
        assert!(matches!(open_ike(&keys, &msg), Some(Decryption::Failed(_))));
        // Without the integrity key, the message is opened unauthenticated.
        keys.ike[0].sk_ai = None;
        let Some(Decryption::Opened(o)) = open_ike(&keys, &msg) else {
            panic!("not opened: {:?}", open_ike(&keys, &msg));
        };
        assert_eq!(o.idi.as_deref(), Some("west"));
        assert_eq!(o.auth, Some(1));
        assert!(!o.verified);
    }
}
