//! `diagnose --evidence FILE.pcapng`: the packets that prove the findings, with the whole IKE
//! exchanges around them, from both gateways' captures merged in time order into one pcapng file
//! that opens in Wireshark. One interface per gateway (named after it), a comment on every packet
//! saying what it shows ("IKE_AUTH request, retransmission 3: left sg1, never arrived at sg2").
//!
//! Two steps: [`select`] chooses the packets from the correlated case (packet numbers and
//! comments, nothing read), [`write`] re-reads each capture file once, in order, picks the chosen
//! packets' bytes and writes the file.

use crate::cmd;
use crate::correlate::{Case, GwId, MsgPath, MsgRef};
use crate::diagnose::Finding;
use crate::inputs;
use crate::source::{self, Timestamp};
use crate::track::{FragDatagram, IkeMsg};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};
use std::path::Path;

/// Packets written at most.
pub const MAX_PACKETS: usize = 2000;
/// ESP packets per SPI and direction, per capture.
const ESP_PER_FLOW: usize = 3;
/// ESP paths (SPI and direction) shown.
const MAX_ESP_PATHS: usize = 64;
/// ICMP errors shown.
const MAX_ICMP: usize = 64;
/// Packet bytes held before packets are cut to [`CUT_TO`] bytes (their length on the wire kept).
const MAX_BYTES: usize = 64 << 20;
const CUT_TO: usize = 256;

/// A gateway's capture, one interface of the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub gateway: String,
    /// The capture file, as given.
    pub file: String,
}

/// One chosen packet: its number in its interface's capture file and what it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub iface: usize,
    pub number: u64,
    pub comment: String,
}

/// What goes into the file.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub interfaces: Vec<Interface>,
    /// Sorted by interface and packet number, each once.
    pub packets: Vec<Chosen>,
    /// Packets that would have been chosen beyond [`MAX_PACKETS`].
    pub left_out: usize,
    /// For the section header: the finding, the clock offset, what was left out.
    pub header: String,
}

#[derive(Default)]
struct Entry {
    /// In order of choice: what the packet is.
    what: Vec<String>,
    /// Evidence items of the findings that cite it.
    cited: Vec<String>,
}

struct Picker {
    entries: BTreeMap<(usize, u64), Entry>,
    left_out: usize,
}

impl Picker {
    fn slot(&mut self, iface: usize, number: u64) -> Option<&mut Entry> {
        let full = self.entries.len() >= MAX_PACKETS;
        match self.entries.entry((iface, number)) {
            std::collections::btree_map::Entry::Occupied(o) => Some(o.into_mut()),
            std::collections::btree_map::Entry::Vacant(_) if full => {
                self.left_out += 1;
                None
            }
            std::collections::btree_map::Entry::Vacant(v) => Some(v.insert(Entry::default())),
        }
    }

    fn what(&mut self, iface: usize, number: u64, text: String) {
        if let Some(e) = self.slot(iface, number) {
            if !e.what.contains(&text) {
                e.what.push(text);
            }
        }
    }

    fn cite(&mut self, iface: usize, number: u64, text: String) {
        if let Some(e) = self.slot(iface, number) {
            if !e.cited.contains(&text) {
                e.cited.push(text);
            }
        }
    }
}

/// The packets that prove `findings`: those cited, every IKE message (with its IKE and IP
/// fragments) of the IKE SAs the evidence touches (all SAs when it touches none), a few ESP
/// packets per SPI and direction, and the ICMP errors cited or about the tunnel's traffic.
pub fn select(case: &Case<'_>, findings: &[Finding]) -> Selection {
    let mut interfaces = Vec::new();
    let mut iface_of: HashMap<GwId, usize> = HashMap::new();
    for g in case.gw_ids() {
        if let Some(c) = case.gw(g).ext {
            iface_of.insert(g, interfaces.len());
            interfaces.push(Interface {
                gateway: case.gw(g).name.to_string(),
                file: c.name.clone(),
            });
        }
    }
    let mut p = Picker {
        entries: BTreeMap::new(),
        left_out: 0,
    };
    let name = |g: GwId| case.gw(g).name.to_string();

    // 1. What the findings cite, and which IKE SAs and ESP SPIs that touches.
    let mut sas: Vec<[u8; 8]> = Vec::new();
    let mut spis: HashSet<u32> = HashSet::new();
    let mut cited_icmp: HashSet<(usize, u64)> = HashSet::new();
    for f in findings {
        for e in &f.evidence {
            let Some(n) = e.packet else { continue };
            let Some((&g, &i)) = iface_of
                .iter()
                .find(|(g, _)| case.gw(**g).ext.is_some_and(|c| c.name == e.source))
            else {
                continue;
            };
            p.cite(i, n, format!("evidence for {}: {}", f.cause.id(), e.text));
            let Some(tl) = case.gw(g).tl() else { continue };
            let mut touch = |ispi: [u8; 8]| {
                if !sas.contains(&ispi) {
                    sas.push(ispi);
                }
            };
            if let Some(m) = tl.ike.iter().find(|m| m.number == n || m.fragment_packets.contains(&n)) {
                touch(m.ispi);
            }
            if let Some(d) = tl.frags.iter().find(|d| d.pieces.iter().any(|q| q.number == n)) {
                if let Some(m) = tl
                    .ike
                    .iter()
                    .find(|m| m.ip_frag_id == Some(d.key.id) && m.src.ip() == d.key.src)
                {
                    touch(m.ispi);
                }
            }
            for fl in &tl.esp {
                if fl.first_number == n || fl.samples.iter().any(|s| s.number == n) {
                    spis.insert(fl.key.spi);
                }
            }
            if let Some(ic) = tl.icmp.iter().find(|ic| ic.number == n) {
                cited_icmp.insert((i, n));
                if let Some(spi) = ic.about.and_then(|q| q.spi) {
                    spis.insert(spi);
                }
            }
        }
    }
    let msg = |r: MsgRef| case.gw(r.gw).ike().get(r.idx);
    if sas.is_empty() {
        // Nothing cited in IKE: every IKE SA the captures hold, in time order.
        for path in &case.msgs {
            if let Some(m) = path.sent.or(path.arrived).and_then(msg) {
                if !sas.contains(&m.ispi) {
                    sas.push(m.ispi);
                }
            }
        }
    }

    // 2. The IKE messages of those SAs, in time order (on the first gateway's clock).
    let time_of = |path: &MsgPath| {
        path.sent
            .or(path.arrived)
            .and_then(|r| msg(r).map(|m| case.on_first_clock(r.gw, m.time)))
            .unwrap_or(0.0)
    };
    let mut paths: Vec<&MsgPath> = case
        .msgs
        .iter()
        .filter(|path| {
            path.sent
                .or(path.arrived)
                .and_then(msg)
                .is_some_and(|m| sas.contains(&m.ispi))
        })
        .collect();
    paths.sort_by(|a, b| time_of(a).total_cmp(&time_of(b)));
    let retx = retransmission_counts(case);
    let answered: HashSet<([u8; 8], u32)> = case
        .gws
        .iter()
        .flat_map(|g| g.ike())
        .filter(|m| m.major >= 2 && m.is_response())
        .map(|m| (m.ispi, m.msgid))
        .collect();
    let labels = label_messages(case, &paths);
    // Evidence SAs first, in the order cited, so the bound keeps what proves the finding.
    let mut ordered: Vec<(usize, &MsgPath)> = paths.iter().copied().enumerate().collect();
    ordered.sort_by_key(|(k, path)| {
        let m = path.sent.or(path.arrived).and_then(msg);
        (
            m.and_then(|m| sas.iter().position(|s| *s == m.ispi))
                .unwrap_or(usize::MAX),
            *k,
        )
    });
    for (k, path) in ordered {
        let label = &labels[k];
        let mut fate = fate(case, path);
        // An IKEv2 request that arrived and was never answered (no response in either capture).
        if let (Some(m), Some(_)) = (path.sent.or(path.arrived).and_then(msg), path.arrived) {
            if m.major >= 2 && !m.is_response() && !answered.contains(&(m.ispi, m.msgid)) {
                fate.push_str(", never answered");
            }
        }
        for (r, sent_copy) in [(path.sent, true), (path.arrived, false)] {
            let Some(r) = r else { continue };
            let (Some(m), Some(&i)) = (msg(r), iface_of.get(&r.gw)) else {
                continue;
            };
            let nth = retx[r.gw.index()].get(r.idx).copied().unwrap_or(0);
            let retx_text = if nth > 0 {
                format!(", retransmission {nth}")
            } else {
                String::new()
            };
            let datagram = ip_datagram(case, r.gw, m);
            // IKE fragments: each packet of the message (an IP-fragmented one: each piece, below).
            let mut numbers = m.fragment_packets.clone();
            if !numbers.contains(&m.number) {
                numbers.insert(0, m.number);
            }
            let total = m.ike_fragment.map_or(0, |(_, t)| t);
            for (j, &n) in numbers.iter().enumerate().filter(|_| datagram.is_none()) {
                let part = if m.fragment_packets.len() > 1 || m.ike_fragment.is_some() {
                    let of = if total > 0 { format!("/{total}") } else { String::new() };
                    format!(", IKE fragment {}{of}", j + 1)
                } else {
                    String::new()
                };
                p.what(i, n, format!("{label}{retx_text}{part}: {fate}"));
            }
            // IP fragments: each piece, and whether it arrived.
            if let Some(d) = datagram {
                let other = if sent_copy {
                    path.arrived.map(|a| a.gw).or(path.to).and_then(|t| {
                        let tl = case.gw(t).tl()?;
                        Some((
                            t,
                            tl.frags
                                .iter()
                                .find(|q| q.key.id == d.key.id && q.key.proto == d.key.proto),
                        ))
                    })
                } else {
                    None
                };
                for q in &d.pieces {
                    let piece = match other {
                        Some((t, rd)) => {
                            let got = rd.is_some_and(|rd| rd.pieces.iter().any(|x| x.offset == q.offset));
                            if got {
                                format!("this fragment arrived at {}", name(t))
                            } else {
                                format!("this fragment never arrived at {}", name(t))
                            }
                        }
                        None if sent_copy => format!("this fragment left {}", name(r.gw)),
                        None => format!("this fragment arrived at {}", name(r.gw)),
                    };
                    p.what(
                        i,
                        q.number,
                        format!(
                            "{label}{retx_text}, IP fragment id {} offset {} ({} bytes): {piece}; the message: {fate}",
                            d.key.id, q.offset, q.len
                        ),
                    );
                }
            }
        }
    }

    // 3. ESP: a few packets per SPI and direction, the cited SPIs first.
    let mut esp: Vec<_> = case.esp.iter().collect();
    esp.sort_by_key(|e| !spis.contains(&e.spi));
    for e in esp.into_iter().take(MAX_ESP_PATHS) {
        let from = e
            .from
            .map(name)
            .or(e.sent.or(e.arrived).map(|f| f.key.src.to_string()))
            .unwrap_or_default();
        let to =
            e.to.map(name)
                .or(e.sent.or(e.arrived).map(|f| f.key.dst.to_string()))
                .unwrap_or_default();
        let count = |f: Option<&crate::track::EspFlow>, g: Option<GwId>| match (f, g) {
            (Some(f), _) => f.packets.to_string(),
            (None, Some(g)) if case.gw(g).ext.is_some() => "0".to_string(),
            _ => "? (not captured)".to_string(),
        };
        let text = format!(
            "ESP SPI 0x{:08x} {from}\u{2192}{to}: {} sent, {} arrived",
            e.spi,
            count(e.sent, e.from),
            count(e.arrived, e.to)
        );
        for (f, g) in [(e.sent, e.from), (e.arrived, e.to)] {
            let (Some(f), Some(i)) = (f, g.and_then(|g| iface_of.get(&g))) else {
                continue;
            };
            for s in f.samples.iter().take(ESP_PER_FLOW) {
                p.what(*i, s.number, format!("{text} (seq {}, {} bytes)", s.seq, s.len));
            }
        }
    }

    // 4. ICMP errors: cited, or about the addresses of the messages and SPIs shown.
    let mut addrs: HashSet<std::net::IpAddr> = HashSet::new();
    for path in &paths {
        if let Some(m) = path.sent.or(path.arrived).and_then(msg) {
            addrs.insert(m.src.ip());
            addrs.insert(m.dst.ip());
        }
    }
    let mut shown = 0;
    for (&g, &i) in &iface_of {
        let Some(tl) = case.gw(g).tl() else { continue };
        for ic in &tl.icmp {
            let about = ic.about.filter(|q| {
                addrs.contains(&q.dst) || addrs.contains(&q.src) || q.spi.is_some_and(|s| spis.contains(&s))
            });
            let cited = cited_icmp.contains(&(i, ic.number));
            if !cited && (about.is_none() || shown >= MAX_ICMP) {
                continue;
            }
            shown += 1;
            let what = ic
                .about
                .map(|q| {
                    let port = q.dport.map(|d| format!(":{d}")).unwrap_or_default();
                    let proto = match q.proto {
                        17 => "UDP".to_string(),
                        50 => "ESP".to_string(),
                        n => format!("protocol {n}"),
                    };
                    format!(" about {proto} {} > {}{port}", q.src, q.dst)
                })
                .unwrap_or_default();
            let mtu = ic.mtu.map(|m| format!(", MTU {m}")).unwrap_or_default();
            p.what(
                i,
                ic.number,
                format!(
                    "ICMP {} from {} to {}{what}{mtu}, captured at {}",
                    ic.kind,
                    ic.src,
                    ic.dst,
                    name(g)
                ),
            );
        }
    }

    let packets: Vec<Chosen> = p
        .entries
        .into_iter()
        .map(|((iface, number), e)| {
            let mut comment = e.what.join("; ");
            for c in e.cited {
                if !comment.is_empty() {
                    comment.push_str(" | ");
                }
                comment.push_str(&c);
            }
            Chosen { iface, number, comment }
        })
        .collect();
    let header = header(case, findings, &interfaces, packets.len(), p.left_out);
    Selection {
        interfaces,
        packets,
        left_out: p.left_out,
        header,
    }
}

fn header(case: &Case<'_>, findings: &[Finding], ifs: &[Interface], n: usize, left_out: usize) -> String {
    let mut h = String::from("ipsec-doctor diagnose --evidence");
    if let Some(f) = findings.first() {
        h.push_str(&format!(": {} ({}): {}", f.cause.id(), f.cause.situation(), f.summary));
    }
    let files: Vec<String> = ifs.iter().map(|i| format!("{} ({})", i.gateway, i.file)).collect();
    h.push_str(&format!(
        "\n{n} packets from {}, merged in time order; each gateway's times are as its capture recorded them.",
        files.join(" and ")
    ));
    if ifs.len() == 2 {
        match case.clock_offset {
            Some(o) => h.push_str(&format!(
                "\nClock offset: {}'s capture clock is {o:+.6} s from {}'s (subtract it from {}'s times to align them).",
                ifs[1].gateway, ifs[0].gateway, ifs[1].gateway
            )),
            None => h.push_str("\nClock offset between the captures: unknown (no IKE message seen at both)."),
        }
    }
    if left_out > 0 {
        h.push_str(&format!(
            "\n{left_out} more packets left out (at most {MAX_PACKETS} are written)."
        ));
    }
    h
}

/// Where a message went, in words: "left sg1, never arrived at sg2".
fn fate(case: &Case<'_>, path: &MsgPath) -> String {
    let name = |g: GwId| case.gw(g).name;
    let msg = |r: MsgRef| case.gw(r.gw).ike().get(r.idx);
    match (path.sent, path.arrived) {
        (Some(s), Some(a)) if msg(a).is_some_and(|m| m.partial) && !msg(s).is_some_and(|m| m.partial) => format!(
            "left {}, arrived at {} incomplete (its first IP fragment only, never reassembled)",
            name(s.gw),
            name(a.gw)
        ),
        (Some(s), Some(a)) => format!("left {}, arrived at {}", name(s.gw), name(a.gw)),
        (Some(s), None) => match path.to {
            Some(t) if case.gw(t).ext.is_some() => format!("left {}, never arrived at {}", name(s.gw), name(t)),
            Some(t) => format!("left {} ({} has no capture)", name(s.gw), name(t)),
            None => format!(
                "left {} for {} (not the peer gateway)",
                name(s.gw),
                msg(s).map(|m| m.dst.to_string()).unwrap_or_default()
            ),
        },
        (None, Some(a)) => match path.from {
            Some(f) if case.gw(f).ext.is_some() => {
                format!(
                    "arrived at {} from {}, not seen leaving {}",
                    name(a.gw),
                    name(f),
                    name(f)
                )
            }
            Some(f) => format!(
                "arrived at {} from {} ({} has no capture)",
                name(a.gw),
                name(f),
                name(f)
            ),
            None => format!(
                "arrived at {} from {}",
                name(a.gw),
                msg(a).map(|m| m.src.to_string()).unwrap_or_default()
            ),
        },
        (None, None) => String::new(),
    }
}

/// Per gateway and IKE message: 0 for a first sending, k for the k-th repetition of the same bytes.
fn retransmission_counts(case: &Case<'_>) -> Vec<Vec<u32>> {
    case.gw_ids()
        .map(|g| {
            let mut seen: HashMap<(u64, std::net::SocketAddr), u32> = HashMap::new();
            case.gw(g)
                .ike()
                .iter()
                .map(|m| {
                    let n = seen.entry((m.digest, m.src)).or_insert(0);
                    let k = *n;
                    *n += 1;
                    if m.retransmission {
                        k.max(1)
                    } else {
                        k
                    }
                })
                .collect()
        })
        .collect()
}

/// The IP datagram an IP-fragmented message came in, in gateway `g`'s capture.
fn ip_datagram<'c>(case: &'c Case<'_>, g: GwId, m: &IkeMsg) -> Option<&'c FragDatagram> {
    let id = m.ip_frag_id?;
    case.gw(g)
        .tl()?
        .frags
        .iter()
        .find(|d| d.key.id == id && d.key.src == m.src.ip() && d.key.dst == m.dst.ip())
}

/// Names as the write-up does (the ladder's names, [`crate::report::model::write_up_names`]),
/// with what the name leaves out: IKEv2 "IKE_AUTH request msgid 1", IKEv1 "MI1 (IKEv1 Main
/// Mode)"; `paths` in time order.
fn label_messages(case: &Case<'_>, paths: &[&MsgPath]) -> Vec<String> {
    let refs: Vec<_> = paths.iter().map(|p| (p.from, p.sent.or(p.arrived))).collect();
    let names = crate::report::model::write_up_names(case, &refs);
    refs.iter()
        .zip(names)
        .map(|((_, r), name)| {
            let Some(m) = r.and_then(|r| case.gw(r.gw).ike().get(r.idx)) else {
                return name;
            };
            if m.major >= 2 {
                return format!("{name} msgid {}", m.msgid);
            }
            let enc = if m.is_v1_encrypted() { ", encrypted" } else { "" };
            match m.exchange {
                2 | 4 | 32 => format!("{name} (IKEv1 {}{enc})", m.exchange_name()),
                _ => format!("IKEv1 {}{enc} msgid {:08x}", m.exchange_name(), m.msgid),
            }
        })
        .collect()
}

/// What [`write`] did.
#[derive(Debug, Default)]
pub struct Written {
    pub packets: usize,
    /// Chosen packets not found (a capture cut short, or changed since it was read).
    pub not_found: usize,
    /// Files that could not be read to the end, in words.
    pub problems: Vec<String>,
}

struct Got {
    ts: Timestamp,
    iface: usize,
    number: u64,
    linktype: u32,
    wire_len: u32,
    data: Vec<u8>,
    comment: usize,
}

/// Reads the chosen packets from each capture (one pass per file) and writes the pcapng to `out`.
pub fn write(sel: &Selection, out: &Path) -> io::Result<Written> {
    let mut w = Written::default();
    let mut got: Vec<Got> = Vec::new();
    let mut bytes = 0usize;
    // Per interface read: the capture's link type (a pcapng's first interface's).
    let mut linktypes: Vec<(usize, Option<u32>)> = Vec::new();
    for (i, iface) in sel.interfaces.iter().enumerate() {
        let wanted: Vec<(u64, usize)> = sel
            .packets
            .iter()
            .enumerate()
            .filter(|(_, c)| c.iface == i)
            .map(|(k, c)| (c.number, k))
            .collect();
        if iface.file == "-" {
            w.problems.push("standard input cannot be read again".to_string());
            w.not_found += wanted.len();
            continue;
        }
        let mut reader = match source::open(Path::new(&iface.file)) {
            Ok(r) => {
                linktypes.push((i, r.linktype()));
                r
            }
            Err(e) => {
                w.problems.push(format!("{}: {e}", iface.file));
                w.not_found += wanted.len();
                continue;
            }
        };
        if wanted.is_empty() {
            // Nothing chosen here: the interface is still declared, with its link type.
            if let (Some(l), Some(Ok(f))) = (linktypes.last_mut().filter(|l| l.1.is_none()), reader.next_frame()) {
                l.1 = Some(f.linktype);
            }
            continue;
        }
        let mut number = 0u64;
        let mut next = 0usize;
        while next < wanted.len() {
            let Some(r) = reader.next_frame() else { break };
            let f = match r {
                Ok(f) => f,
                Err(e) => {
                    w.problems.push(format!("{}: {e} (after {number} packets)", iface.file));
                    break;
                }
            };
            number += 1;
            if let Some(l) = linktypes.last_mut().filter(|l| l.1.is_none()) {
                l.1 = Some(f.linktype);
            }
            if wanted[next].0 != number {
                continue;
            }
            let mut data = f.data.to_vec();
            if bytes + data.len() > MAX_BYTES {
                data.truncate(CUT_TO);
            }
            bytes += data.len();
            got.push(Got {
                ts: f.ts,
                iface: i,
                number,
                linktype: f.linktype,
                wire_len: f.wire_len,
                data,
                comment: wanted[next].1,
            });
            next += 1;
        }
        w.not_found += wanted.len() - next;
    }
    got.sort_by_key(|a| (a.ts, a.iface, a.number));

    let mut buf: Vec<u8> = Vec::new();
    let mut header = sel.header.clone();
    if w.not_found > 0 {
        header.push_str(&format!(
            "\n{} chosen packets were not found in their capture file: {}",
            w.not_found,
            w.problems.join("; ")
        ));
    }
    section_header(&mut buf, &header);
    // One interface per gateway, named after it, with its capture's link type; a capture with
    // packets of another link type too gets a second interface of the same name.
    let mut idbs: Vec<(usize, u32)> = Vec::new();
    for (i, lt) in linktypes {
        if let Some(lt) = lt {
            idbs.push((i, lt));
            interface_block(&mut buf, &sel.interfaces[i], lt);
        }
    }
    let mut file = io::BufWriter::new(std::fs::File::create(out)?);
    for g in &got {
        let id = match idbs.iter().position(|&k| k == (g.iface, g.linktype)) {
            Some(id) => id,
            None => {
                idbs.push((g.iface, g.linktype));
                interface_block(&mut buf, &sel.interfaces[g.iface], g.linktype);
                idbs.len() - 1
            }
        };
        packet_block(&mut buf, id as u32, g, &sel.packets[g.comment].comment);
        if buf.len() > 1 << 20 {
            file.write_all(&buf)?;
            buf.clear();
        }
        w.packets += 1;
    }
    file.write_all(&buf)?;
    file.flush()?;
    Ok(w)
}

fn option(buf: &mut Vec<u8>, code: u16, value: &[u8]) {
    // Option values are at most 65535 bytes; a longer comment is cut at a character boundary.
    let mut v = value;
    if v.len() > 65_000 {
        let s = String::from_utf8_lossy(v);
        let mut end = 65_000;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        v = &value[..end];
    }
    buf.extend_from_slice(&code.to_le_bytes());
    buf.extend_from_slice(&(v.len() as u16).to_le_bytes());
    buf.extend_from_slice(v);
    pad(buf);
}

fn pad(buf: &mut Vec<u8>) {
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

/// Wraps `body` (already padded) as a block of type `kind`.
fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
    let len = (body.len() + 12) as u32;
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&len.to_le_bytes());
}

fn section_header(out: &mut Vec<u8>, comment: &str) {
    let mut b = Vec::new();
    b.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&(-1i64).to_le_bytes());
    option(&mut b, 1, comment.as_bytes());
    option(
        &mut b,
        4,
        format!("ipsec-doctor {}", env!("CARGO_PKG_VERSION")).as_bytes(),
    );
    option(&mut b, 0, &[]);
    block(out, 0x0a0d_0d0a, &b);
}

fn interface_block(out: &mut Vec<u8>, i: &Interface, linktype: u32) {
    let mut b = Vec::new();
    b.extend_from_slice(&(linktype as u16).to_le_bytes());
    b.extend_from_slice(&0u16.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // snap length: none
    option(&mut b, 2, i.gateway.as_bytes()); // if_name
    option(&mut b, 3, format!("{}'s capture {}", i.gateway, i.file).as_bytes()); // if_description
    option(&mut b, 9, &[9]); // if_tsresol: nanoseconds
    option(&mut b, 0, &[]);
    block(out, 1, &b);
}

fn packet_block(out: &mut Vec<u8>, id: u32, g: &Got, comment: &str) {
    let ns = (g.ts.sec.max(0) as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(g.ts.nsec));
    let mut b = Vec::with_capacity(g.data.len() + comment.len() + 40);
    b.extend_from_slice(&id.to_le_bytes());
    b.extend_from_slice(&((ns >> 32) as u32).to_le_bytes());
    b.extend_from_slice(&(ns as u32).to_le_bytes());
    b.extend_from_slice(&(g.data.len() as u32).to_le_bytes());
    b.extend_from_slice(&g.wire_len.max(g.data.len() as u32).to_le_bytes());
    b.extend_from_slice(&g.data);
    pad(&mut b);
    option(&mut b, 1, comment.as_bytes());
    option(&mut b, 0, &[]);
    block(out, 6, &b);
}

/// `diagnose --evidence FILE`: analyses the inputs (as the report does), chooses and writes.
/// Ok: what was written, in words (or that there was nothing to write); Err: the file could not
/// be written.
pub fn write_for(inp: &mut inputs::Inputs, out: &Path) -> Result<String, String> {
    let captured = inp.sides.iter().filter(|s| !s.captures.is_empty()).count();
    if captured == 0 {
        return Ok(format!(
            "no packets to write: no capture among the inputs; {} not written",
            out.display()
        ));
    }
    if captured > 2 {
        return Ok(format!(
            "captures from {captured} gateways: {} not written",
            out.display()
        ));
    }
    let sel = cmd::diagnose::analyse(inp, |case, _, findings, _| select(case, findings));
    if sel.packets.is_empty() {
        return Ok(format!(
            "no packets to write: the captures hold no IKE, ESP or ICMP packet to show; {} not written",
            out.display()
        ));
    }
    let w = write(&sel, out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut s = format!(
        "wrote {} packets to {} ({})",
        w.packets,
        out.display(),
        sel.interfaces
            .iter()
            .map(|i| i.gateway.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if sel.left_out > 0 {
        s.push_str(&format!("; {} more left out (at most {MAX_PACKETS})", sel.left_out));
    }
    if w.not_found > 0 {
        s.push_str(&format!(
            "; {} chosen packets not found: {}",
            w.not_found,
            w.problems.join("; ")
        ));
    }
    Ok(s)
}
