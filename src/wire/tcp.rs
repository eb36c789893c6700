//! IKE and ESP over TCP (RFC 8229): bounded reassembly of each direction of each TCP connection
//! on port 4500 into the messages it carries.
//!
//! A stream from the initiator starts with the 6-byte `IKETCP` prefix; then every message is
//! framed by a 2-byte length that counts itself. A message whose first 4 bytes are zero (the
//! non-ESP marker) is IKE, any other is ESP (its SPI).
//!
//! Limits: streams tracked at once (the least recently used one is given up first), bytes held
//! per stream direction (in-order data not yet framed plus segments that arrived early) and bytes
//! held in all. Whatever a limit or a hole in the capture costs is counted in [`Stats`]; a stream
//! that lost bytes looks for the next message boundary again before it gives anything more.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// What starts an RFC 8229 stream from the initiator.
pub const PREFIX: &[u8; 6] = b"IKETCP";

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Stream directions tracked at once.
    pub max_streams: usize,
    /// Bytes held for one direction: unframed in-order data plus early segments.
    pub max_stream_bytes: usize,
    /// Bytes held for all directions together.
    pub max_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_streams: 4096,
            // Room for a few maximal (65535-byte) messages in flight.
            max_stream_bytes: 256 << 10,
            max_bytes: 32 << 20,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub ike_messages: u64,
    pub esp_messages: u64,
    /// Segments whose bytes had all been seen already (retransmissions).
    pub retransmitted: u64,
    /// Segments held back because they arrived before a missing one.
    pub out_of_order: u64,
    /// Holes given up on (missing bytes, or a cut snap length): the stream looked for the next
    /// message boundary again.
    pub gaps: u64,
    /// Bytes skipped while looking for a message boundary.
    pub bytes_skipped: u64,
    /// Lengths that cannot frame a message (under 6, or a message that cannot be IKE or ESP).
    pub bad_lengths: u64,
    /// Segments or streams refused or given up because a limit was reached.
    pub dropped_limit: u64,
}

/// One direction of one TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
}

/// A message taken out of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The IKE message, after the non-ESP marker.
    Ike(Vec<u8>),
    /// The ESP packet from its SPI on.
    Esp(Vec<u8>),
}

/// A message with the packets whose bytes carried it (the first ones; the last is the segment
/// that completed it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framed {
    pub message: Message,
    pub packets: Vec<u64>,
}

/// Packet numbers kept per message.
const MAX_PACKETS: usize = 64;
/// What an early segment costs besides its bytes (its map entry and allocation), so a flood
/// of tiny segments is bounded like a few big ones.
const EARLY_COST: usize = 64;
/// The smallest frame: the length itself and a marker or SPI.
const MIN_FRAME: usize = 6;

#[derive(Debug, Default)]
struct Stream {
    /// Sequence number of the next byte wanted; unknown until a segment is seen.
    next: Option<u32>,
    /// In-order bytes not yet framed.
    buf: Vec<u8>,
    /// Packet numbers of the segments that brought the bytes in `buf`.
    packets: Vec<u64>,
    /// Segments after a hole, by sequence number.
    early: BTreeMap<u32, (Vec<u8>, u64)>,
    early_bytes: usize,
    /// The bytes in `buf` start at a message boundary (else the next one is searched for).
    synced: bool,
    /// The next bytes are the start of the stream, where `IKETCP` may stand.
    at_start: bool,
    last_time: f64,
}

impl Stream {
    fn held(&self) -> usize {
        self.buf.len() + self.early_bytes
    }
}

#[derive(Debug, Default)]
pub struct Reassembler {
    limits: Limits,
    streams: HashMap<Key, Stream>,
    held: usize,
    pub stats: Stats,
}

/// The TCP header fields reassembly needs.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub seq: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    /// The payload as captured.
    pub data: &'a [u8],
    /// The payload was cut by the snap length (or the IP length): bytes after `data` are missing.
    pub cut: bool,
}

impl Reassembler {
    pub fn new(limits: Limits) -> Reassembler {
        Reassembler {
            limits,
            ..Default::default()
        }
    }

    pub fn streams(&self) -> usize {
        self.streams.len()
    }

    pub fn bytes_held(&self) -> usize {
        self.held
    }

    /// Adds one segment of the direction `key`; returns the messages it completed, in order.
    pub fn add(&mut self, key: Key, seg: Segment<'_>, now: f64, packet: u64) -> Vec<Framed> {
        let mut out = Vec::new();
        if seg.syn {
            // A new connection (or a retransmitted SYN): its data starts after the SYN.
            self.drop_stream(&key);
            if !self.make_room(&key) {
                return out;
            }
            self.streams.insert(
                key,
                Stream {
                    next: Some(seg.seq.wrapping_add(1)),
                    synced: true,
                    at_start: true,
                    last_time: now,
                    ..Default::default()
                },
            );
        }
        if !seg.data.is_empty() || seg.cut {
            if !self.streams.contains_key(&key) {
                // The capture began after the connection: find a message boundary first.
                if !self.make_room(&key) {
                    return out;
                }
                self.streams.insert(key, Stream::default());
            }
            let seq = if seg.syn { seg.seq.wrapping_add(1) } else { seg.seq };
            self.take(&key, seq, seg.data, seg.cut, now, packet, &mut out);
        }
        if seg.fin || seg.rst {
            self.drop_stream(&key);
        }
        out
    }

    /// Room for one more stream: the least recently used one goes when the table is full.
    fn make_room(&mut self, key: &Key) -> bool {
        if self.streams.len() < self.limits.max_streams {
            return true;
        }
        let oldest = self
            .streams
            .iter()
            .filter(|(k, _)| *k != key)
            .min_by(|a, b| a.1.last_time.total_cmp(&b.1.last_time))
            .map(|(k, _)| *k);
        match oldest {
            Some(k) => {
                self.drop_stream(&k);
                self.stats.dropped_limit += 1;
                true
            }
            None => false,
        }
    }

    fn drop_stream(&mut self, key: &Key) {
        if let Some(s) = self.streams.remove(key) {
            self.held -= s.held();
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn take(&mut self, key: &Key, seq: u32, data: &[u8], cut: bool, now: f64, packet: u64, out: &mut Vec<Framed>) {
        let limits = self.limits;
        let Some(s) = self.streams.get_mut(key) else { return };
        s.last_time = now;
        let before = s.held();
        let next = *s.next.get_or_insert(seq);
        let ahead = seq.wrapping_sub(next) as i32;
        if ahead > 0 {
            // A hole before this segment: hold it until the hole is filled, within the limits.
            let cost = data.len() + EARLY_COST;
            let fits = s.held() + cost <= limits.max_stream_bytes
                && self.held + cost <= limits.max_bytes
                && (ahead as usize) < limits.max_stream_bytes;
            if fits && !cut {
                self.stats.out_of_order += 1;
                if !s.early.contains_key(&seq) {
                    s.early_bytes += cost;
                    s.early.insert(seq, (data.to_vec(), packet));
                }
            } else {
                // Give up on the hole: continue from this segment, at no known boundary.
                self.stats.gaps += 1;
                Self::restart_at(s, seq, &mut self.stats);
                Self::append(s, data, packet);
                if cut {
                    Self::lose_rest(s, &mut self.stats);
                }
            }
        } else {
            // Bytes already seen (a retransmission) are skipped.
            let old = (-ahead) as usize;
            if old >= data.len() && !data.is_empty() {
                self.stats.retransmitted += 1;
            } else {
                Self::append(s, &data[old.min(data.len())..], packet);
                if cut {
                    Self::lose_rest(s, &mut self.stats);
                }
            }
        }
        // Early segments that now follow on.
        while let Some(n) = s.next {
            let Some((&eseq, _)) = s.early.iter().find(|(&q, _)| q.wrapping_sub(n) as i32 <= 0) else {
                break;
            };
            let (bytes, pkt) = s.early.remove(&eseq).unwrap_or_default();
            s.early_bytes -= bytes.len() + EARLY_COST;
            let old = n.wrapping_sub(eseq) as usize;
            if old < bytes.len() {
                Self::append(s, &bytes[old..], pkt);
            }
        }
        Self::frame(s, out, &mut self.stats);
        if s.held() > limits.max_stream_bytes || self.held - before + s.held() > limits.max_bytes {
            // Over a limit: what is held is given up, the stream searches for a boundary again.
            self.stats.dropped_limit += 1;
            self.stats.bytes_skipped += s.buf.len() as u64;
            s.buf.clear();
            s.packets.clear();
            s.early.clear();
            s.early_bytes = 0;
            s.synced = false;
            s.at_start = false;
        }
        self.held = self.held - before + s.held();
    }

    /// Continues the stream at `seq` after lost bytes: whatever was held is dropped.
    fn restart_at(s: &mut Stream, seq: u32, stats: &mut Stats) {
        stats.bytes_skipped += s.buf.len() as u64;
        s.buf.clear();
        s.packets.clear();
        s.early.clear();
        s.early_bytes = 0;
        s.next = Some(seq);
        s.synced = false;
        s.at_start = false;
    }

    /// The rest of the last segment was not captured: its length is unknown here, so the stream
    /// waits for the next segment to say where it goes on.
    fn lose_rest(s: &mut Stream, stats: &mut Stats) {
        stats.gaps += 1;
        stats.bytes_skipped += s.buf.len() as u64;
        s.buf.clear();
        s.packets.clear();
        s.early.clear();
        s.early_bytes = 0;
        s.next = None;
        s.synced = false;
        s.at_start = false;
    }

    fn append(s: &mut Stream, data: &[u8], packet: u64) {
        if data.is_empty() {
            return;
        }
        s.buf.extend_from_slice(data);
        if s.packets.len() < MAX_PACKETS && s.packets.last() != Some(&packet) {
            s.packets.push(packet);
        }
        s.next = s.next.map(|n| n.wrapping_add(data.len() as u32));
    }

    /// Takes every complete message off the front of the buffer.
    fn frame(s: &mut Stream, out: &mut Vec<Framed>, stats: &mut Stats) {
        let mut pos = 0usize;
        loop {
            let rest = &s.buf[pos..];
            if s.at_start {
                if rest.len() < PREFIX.len() && PREFIX.starts_with(rest) {
                    break; // maybe the prefix, not all here yet
                }
                s.at_start = false;
                if rest.starts_with(PREFIX) {
                    pos += PREFIX.len();
                    continue;
                }
            }
            if !s.synced {
                match find_boundary(rest) {
                    Some(skip) => {
                        stats.bytes_skipped += skip as u64;
                        pos += skip;
                        s.synced = true;
                        continue;
                    }
                    None => {
                        // Keep a tail that may still start a message.
                        let keep = rest.len().min(PREFIX.len() + MIN_FRAME + 28);
                        let skip = rest.len() - keep;
                        stats.bytes_skipped += skip as u64;
                        pos += skip;
                        break;
                    }
                }
            }
            if rest.len() < 2 {
                break;
            }
            let len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
            if len < MIN_FRAME {
                // Cannot frame anything: the boundary is lost.
                stats.bad_lengths += 1;
                s.synced = false;
                pos += 1;
                continue;
            }
            if rest.len() < len {
                break;
            }
            let body = &rest[2..len];
            let message = if body[..4] == [0, 0, 0, 0] {
                stats.ike_messages += 1;
                Message::Ike(body[4..].to_vec())
            } else {
                stats.esp_messages += 1;
                Message::Esp(body.to_vec())
            };
            out.push(Framed {
                message,
                packets: s.packets.clone(),
            });
            pos += len;
            // The next message starts in the last segment seen.
            if let Some(&last) = s.packets.last() {
                s.packets.clear();
                s.packets.push(last);
            }
        }
        s.buf.drain(..pos);
        if s.buf.is_empty() {
            s.packets.clear();
        }
    }
}

/// How many bytes to skip to where a message plausibly starts, in bytes read from the middle of
/// a stream: after the `IKETCP` prefix; at a length followed by the non-ESP marker and an IKE
/// header whose own length agrees; or where frames of plausible lengths run exactly to the end
/// of what was received (senders end segments on message boundaries; ESP alone is otherwise
/// indistinguishable from the tail of the message before).
fn find_boundary(b: &[u8]) -> Option<usize> {
    for i in 0..b.len() {
        let r = &b[i..];
        if r.starts_with(PREFIX) {
            return Some(i + PREFIX.len());
        }
        if r.len() >= 2 + 4 + 28 {
            let len = u16::from_be_bytes([r[0], r[1]]) as usize;
            let ike_len = u32::from_be_bytes([r[30], r[31], r[32], r[33]]) as usize;
            let version = r[6 + 17] >> 4;
            if r[2..6] == [0, 0, 0, 0] && len == ike_len + 6 && matches!(version, 1 | 2) {
                return Some(i);
            }
        }
        // Bounded work per segment: the frame walk is tried near the start only.
        if i < 4096 && frames_to_end(r) {
            return Some(i);
        }
    }
    None
}

/// The bytes are whole frames of plausible length (at most 32 of them), nothing left over.
fn frames_to_end(mut r: &[u8]) -> bool {
    if r.is_empty() {
        return false;
    }
    for _ in 0..32 {
        if r.len() < 2 {
            break;
        }
        let len = u16::from_be_bytes([r[0], r[1]]) as usize;
        if len < MIN_FRAME + 4 || len > r.len() {
            return false;
        }
        r = &r[len..];
    }
    r.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key() -> Key {
        Key {
            src: Ipv4Addr::new(192, 0, 2, 1).into(),
            dst: Ipv4Addr::new(198, 51, 100, 2).into(),
            sport: 49488,
            dport: 4500,
        }
    }

    /// An IKEv2 message of `n` bytes in all (header plus zeros), framed for TCP.
    fn ike(n: usize, tag: u8) -> Vec<u8> {
        let mut m = vec![0u8; n];
        m[0] = tag; // initiator SPI
        m[17] = 0x20;
        m[18] = 34;
        m[24..28].copy_from_slice(&(n as u32).to_be_bytes());
        let mut f = ((n + 6) as u16).to_be_bytes().to_vec();
        f.extend([0, 0, 0, 0]);
        f.extend(m);
        f
    }

    fn esp(spi: u32, n: usize) -> Vec<u8> {
        let mut f = ((n + 2) as u16).to_be_bytes().to_vec();
        f.extend(spi.to_be_bytes());
        f.extend(vec![7u8; n - 4]);
        f
    }

    fn seg(seq: u32, data: &[u8]) -> Segment<'_> {
        Segment {
            seq,
            syn: false,
            fin: false,
            rst: false,
            data,
            cut: false,
        }
    }

    fn syn(seq: u32) -> Segment<'static> {
        Segment {
            syn: true,
            ..seg(seq, &[])
        }
    }

    fn kinds(v: &[Framed]) -> Vec<String> {
        v.iter()
            .map(|f| match &f.message {
                Message::Ike(m) => format!("ike{}:{}", m[0], m.len()),
                Message::Esp(e) => format!("esp{:x}:{}", u32::from_be_bytes([e[0], e[1], e[2], e[3]]), e.len()),
            })
            .collect()
    }

    #[test]
    fn prefix_then_messages_in_order() {
        let mut r = Reassembler::new(Limits::default());
        assert!(r.add(key(), syn(1000), 0.0, 1).is_empty());
        assert!(r.add(key(), seg(1001, PREFIX), 0.0, 2).is_empty());
        let m = r.add(key(), seg(1007, &ike(100, 1)), 0.0, 3);
        assert_eq!(kinds(&m), ["ike1:100"]);
        assert_eq!(m[0].packets, [3]);
        let m = r.add(key(), seg(1113, &esp(0x1234, 50)), 0.0, 4);
        assert_eq!(kinds(&m), ["esp1234:50"]);
        assert_eq!(r.stats.ike_messages, 1);
        assert_eq!(r.stats.esp_messages, 1);
    }

    #[test]
    fn prefix_and_message_in_one_segment() {
        let mut r = Reassembler::new(Limits::default());
        r.add(key(), syn(0), 0.0, 1);
        let mut d = PREFIX.to_vec();
        d.extend(ike(40, 9));
        assert_eq!(kinds(&r.add(key(), seg(1, &d), 0.0, 2)), ["ike9:40"]);
    }

    #[test]
    fn message_split_across_segments() {
        let mut r = Reassembler::new(Limits::default());
        r.add(key(), syn(0), 0.0, 1);
        let m = ike(300, 2);
        assert!(r.add(key(), seg(1, &m[..1]), 0.0, 2).is_empty());
        assert!(r.add(key(), seg(2, &m[1..120]), 0.0, 3).is_empty());
        let out = r.add(key(), seg(121, &m[120..]), 0.0, 4);
        assert_eq!(kinds(&out), ["ike2:300"]);
        assert_eq!(out[0].packets, [2, 3, 4]);
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn several_messages_per_segment() {
        let mut r = Reassembler::new(Limits::default());
        r.add(key(), syn(0), 0.0, 1);
        let mut d = ike(30, 1);
        d.extend(esp(5, 20));
        d.extend(ike(40, 2));
        let half = ike(50, 3);
        d.extend(&half[..10]);
        let out = r.add(key(), seg(1, &d), 0.0, 2);
        assert_eq!(kinds(&out), ["ike1:30", "esp5:20", "ike2:40"]);
        let out = r.add(key(), seg(1 + d.len() as u32, &half[10..]), 0.0, 3);
        assert_eq!(kinds(&out), ["ike3:50"]);
        assert_eq!(out[0].packets, [2, 3]);
    }

    #[test]
    fn retransmitted_segment_is_not_read_twice() {
        let mut r = Reassembler::new(Limits::default());
        r.add(key(), syn(0), 0.0, 1);
        let a = ike(30, 1);
        let b = ike(30, 2);
        assert_eq!(r.add(key(), seg(1, &a), 0.0, 2).len(), 1);
        assert!(r.add(key(), seg(1, &a), 0.0, 3).is_empty());
        assert_eq!(r.stats.retransmitted, 1);
        // A retransmission overlapping new bytes gives only the new ones.
        let mut ab = a.clone();
        ab.extend(&b);
        assert_eq!(kinds(&r.add(key(), seg(1, &ab), 0.0, 4)), ["ike2:30"]);
    }

    #[test]
    fn out_of_order_segments_wait_for_the_hole() {
        let mut r = Reassembler::new(Limits::default());
        r.add(key(), syn(0), 0.0, 1);
        let a = ike(30, 1);
        let b = ike(30, 2);
        let c = ike(30, 3);
        let (la, lb) = (a.len() as u32, b.len() as u32);
        assert!(r.add(key(), seg(1 + la + lb, &c), 0.0, 2).is_empty());
        assert!(r.add(key(), seg(1 + la, &b), 0.0, 3).is_empty());
        assert_eq!(r.stats.out_of_order, 2);
        assert_eq!(
            kinds(&r.add(key(), seg(1, &a), 0.0, 4)),
            ["ike1:30", "ike2:30", "ike3:30"]
        );
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn gap_beyond_the_cap_resynchronises() {
        let lim = Limits {
            max_stream_bytes: 200,
            ..Default::default()
        };
        let mut r = Reassembler::new(lim);
        r.add(key(), syn(0), 0.0, 1);
        // A hole of 10_000 bytes, more than the stream may hold back; the segment after it holds
        // the tail of a lost message, then an ESP packet that ends with the segment.
        let mut d = vec![0x55; 13];
        d.extend(esp(9, 40));
        let out = r.add(key(), seg(10_001, &d), 0.0, 2);
        assert_eq!(kinds(&out), ["esp9:40"]);
        assert_eq!((r.stats.gaps, r.stats.bytes_skipped), (1, 13));
        let i = ike(60, 4);
        let out = r.add(key(), seg(10_001 + d.len() as u32, &i), 0.0, 3);
        assert_eq!(kinds(&out), ["ike4:60"]);
        // Without a boundary in sight nothing is given, and nothing grows.
        let out = r.add(key(), seg(50_000, &[0x66; 150]), 0.0, 4);
        assert!(out.is_empty());
        assert!(r.bytes_held() <= 200);
    }

    #[test]
    fn hostile_lengths_never_stall_or_grow() {
        for len in [0u16, 1, 5] {
            let mut r = Reassembler::new(Limits::default());
            r.add(key(), syn(0), 0.0, 1);
            let mut d = len.to_be_bytes().to_vec();
            d.extend([0xab; 20]);
            d.extend(ike(30, 7));
            let out = r.add(key(), seg(1, &d), 0.0, 2);
            assert_eq!(kinds(&out), ["ike7:30"], "length {len}");
            assert!(r.stats.bad_lengths >= 1);
        }
        // 65535 announced, never sent: held within the stream cap, then given up.
        let lim = Limits {
            max_stream_bytes: 4096,
            ..Default::default()
        };
        let mut r = Reassembler::new(lim);
        r.add(key(), syn(0), 0.0, 1);
        let mut seq = 1u32;
        let mut d = 65535u16.to_be_bytes().to_vec();
        d.extend([1u8; 1000]);
        for n in 0..100 {
            r.add(key(), seg(seq, &d), 0.0, n + 2);
            seq += d.len() as u32;
            d = vec![1u8; 1000];
            assert!(r.bytes_held() <= 4096 + 1000);
        }
        assert!(r.stats.dropped_limit > 0);
    }

    #[test]
    fn stream_seen_from_the_middle() {
        let mut r = Reassembler::new(Limits::default());
        // No SYN, no prefix: the tail of an ESP packet, then an IKE message.
        let mut d = vec![0x55; 17];
        d.extend(ike(80, 5));
        d.extend(esp(0x77, 30));
        assert_eq!(kinds(&r.add(key(), seg(123_456, &d), 0.0, 1)), ["ike5:80", "esp77:30"]);
        assert_eq!(r.stats.bytes_skipped, 17);
    }

    #[test]
    fn cut_segment_loses_only_its_message() {
        let mut r = Reassembler::new(Limits::default());
        r.add(key(), syn(0), 0.0, 1);
        let a = ike(100, 1);
        let s = Segment {
            cut: true,
            ..seg(1, &a[..40])
        };
        assert!(r.add(key(), s, 0.0, 2).is_empty());
        let b = ike(30, 2);
        assert_eq!(kinds(&r.add(key(), seg(1 + a.len() as u32, &b), 0.0, 3)), ["ike2:30"]);
        assert_eq!(r.stats.gaps, 1);
    }

    #[test]
    fn stream_table_is_bounded() {
        let lim = Limits {
            max_streams: 16,
            ..Default::default()
        };
        let mut r = Reassembler::new(lim);
        for p in 0..1000u16 {
            let k = Key { sport: p, ..key() };
            r.add(k, seg(0, &[0, 200, 1, 2, 3]), p as f64, p as u64);
        }
        assert!(r.streams() <= 16);
        assert!(r.stats.dropped_limit > 0);
        assert!(r.bytes_held() <= 16 * 5);
    }

    #[test]
    fn random_segments_stay_within_the_limits() {
        let lim = Limits {
            max_streams: 8,
            max_stream_bytes: 8 << 10,
            max_bytes: 32 << 10,
        };
        let mut r = Reassembler::new(lim);
        // A small deterministic generator: sequence numbers near and far, every flag, lengths
        // that frame and lengths that do not.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut data = vec![0u8; 3000];
        for n in 0..20_000u64 {
            let v = next();
            let len = (v % 1500) as usize;
            for b in data.iter_mut().take(len) {
                *b = next() as u8;
            }
            if v % 7 == 0 && len >= 6 {
                data[..2].copy_from_slice(&(len as u16).to_be_bytes());
                data[2..6].fill(0);
            }
            let k = Key {
                sport: (v >> 20) as u16 % 12,
                ..key()
            };
            let seq = match v % 5 {
                0 => (v >> 32) as u32,
                _ => (n as u32).wrapping_mul(700),
            };
            let s = Segment {
                seq,
                syn: v % 97 == 0,
                fin: v % 89 == 0,
                rst: v % 83 == 0,
                data: &data[..len],
                cut: v % 61 == 0,
            };
            for m in r.add(k, s, n as f64, n) {
                let len = match m.message {
                    Message::Ike(b) => b.len() + 6,
                    Message::Esp(b) => b.len() + 2,
                };
                assert!((MIN_FRAME..=65535).contains(&len));
            }
            assert!(r.streams() <= 8);
            assert!(r.bytes_held() <= (32 << 10) + 1500, "{} held", r.bytes_held());
        }
        let held: usize = r.streams.values().map(Stream::held).sum();
        assert_eq!(held, r.bytes_held(), "the total follows the streams");
    }

    #[test]
    fn fin_forgets_the_stream() {
        let mut r = Reassembler::new(Limits::default());
        r.add(key(), syn(0), 0.0, 1);
        r.add(key(), seg(1, &[0, 50, 0, 0]), 0.0, 2);
        assert_eq!(r.bytes_held(), 4);
        r.add(
            key(),
            Segment {
                fin: true,
                ..seg(5, &[])
            },
            0.0,
            3,
        );
        assert_eq!((r.streams(), r.bytes_held()), (0, 0));
    }
}
