//! IKE-level fragments (IKEv1 payload 132, IKEv2 SKF of RFC 7383) put back into the message they
//! belong to, so that a negotiation step is one message however it was fragmented. Bounded: a
//! fixed number of sets, a fixed number of buffered bytes, 64 KiB per set; the oldest set is
//! given up first.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

/// The largest IKE message (its length field is 32 bits, but UDP carries at most 64 KiB).
const MAX_SET_BYTES: usize = 65_535;
/// RFC 7383 allows up to 65535 fragments; real ones use a handful (Libreswan at most 16).
const MAX_FRAGMENTS: u16 = 256;
/// Fragment packet numbers kept per message, as evidence.
pub const MAX_FRAGMENT_PACKETS: usize = 16;

/// What names one fragmented message: IKEv1 cookies, message id and fragment id; IKEv2 SPIs,
/// message id and the total number of fragments (a retransmission re-fragmented to another
/// size is another set, RFC 7383 section 2.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SetKey {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub major: u8,
    pub ispi: [u8; 8],
    pub rspi: [u8; 8],
    pub msgid: u32,
    /// IKEv1 fragment id; IKEv2 total fragments.
    pub tag: u16,
    /// IKEv2 R flag: a request and its response share SPIs and message id.
    pub response: bool,
}

impl SetKey {
    /// A digest for the message named by this key: equal at both ends of a path (no
    /// addresses, which a NAT rewrites) and for every retransmission of the same message.
    pub fn digest(&self, complete: bool) -> u64 {
        let mut h = DefaultHasher::new();
        (
            "ike-fragment-set",
            complete,
            self.major,
            self.ispi,
            self.rspi,
            self.msgid,
        )
            .hash(&mut h);
        self.response.hash(&mut h);
        if self.major < 2 {
            // IKEv1 fragment ids belong to one message only.
            self.tag.hash(&mut h);
        }
        h.finish()
    }
}

/// One fragment as read from its packet.
#[derive(Debug, Clone, Copy)]
pub struct Piece<'a> {
    pub number: u16,
    /// IKEv1: this fragment has the last-fragment flag; IKEv2: unused (the key holds the total).
    pub last: bool,
    /// IKEv1: the fragment's share of the original message; IKEv2: empty (it is encrypted).
    pub data: &'a [u8],
}

#[derive(Debug)]
struct Set {
    /// Index of the message record in the timeline.
    record: usize,
    serial: u64,
    /// Fragment numbers seen, in order, with their bytes (IKEv1 only).
    pieces: Vec<(u16, Vec<u8>)>,
    /// The number of fragments, once known (IKEv1: from the last-flagged fragment).
    total: Option<u16>,
    bytes: usize,
    /// More bytes than a message may have: counted, no longer buffered.
    overflow: bool,
    done: bool,
}

/// What became of one fragment.
#[derive(Debug)]
pub enum Offer {
    /// The first fragment of a message (or of a retransmission of it): the caller makes a record
    /// and tells [`Pool::attach`] its index.
    New,
    /// One more fragment of the message recorded at `record`.
    Added {
        record: usize,
        received: u16,
        total: Option<u16>,
        /// The whole message when this fragment completed it: IKEv1's original bytes (`None`
        /// for IKEv2, whose content is encrypted, or when too large to buffer).
        complete: Option<Option<Vec<u8>>>,
    },
}

/// Open and recently completed fragment sets of one capture.
#[derive(Debug)]
pub struct Pool {
    sets: HashMap<SetKey, Set>,
    order: VecDeque<(SetKey, u64)>,
    bytes: usize,
    serial: u64,
    max_sets: usize,
    max_bytes: usize,
    /// Sets given up before they were complete because a limit was reached.
    pub evicted: u64,
}

impl Pool {
    pub fn new(max_sets: usize, max_bytes: usize) -> Pool {
        Pool {
            sets: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            serial: 0,
            max_sets: max_sets.max(1),
            max_bytes,
            evicted: 0,
        }
    }

    /// Whether a fragment of this form can be reassembled at all.
    pub fn usable(key: &SetKey, p: &Piece<'_>) -> bool {
        if key.major >= 2 {
            (1..=MAX_FRAGMENTS).contains(&key.tag) && (1..=key.tag).contains(&p.number)
        } else {
            (1..=MAX_FRAGMENTS).contains(&p.number)
        }
    }

    /// Files one fragment: the start of a new set, or one more piece of an open one. A fragment
    /// number seen again in a set (or any fragment of a completed set) starts the set over: the
    /// sender is retransmitting the message.
    pub fn offer(&mut self, key: SetKey, p: Piece<'_>) -> Offer {
        let again = match self.sets.get(&key) {
            None => return Offer::New,
            Some(s) => s.done || s.pieces.iter().any(|(n, _)| *n == p.number),
        };
        if again {
            self.remove(&key);
            return Offer::New;
        }
        let room = self.max_bytes.saturating_sub(self.bytes);
        let Some(s) = self.sets.get_mut(&key) else {
            return Offer::New;
        };
        let keep = key.major < 2 && !s.overflow;
        let mut data = Vec::new();
        if keep {
            if s.bytes + p.data.len() > MAX_SET_BYTES || p.data.len() > room {
                s.overflow = true;
                self.bytes -= s.bytes;
                s.bytes = 0;
                for (_, d) in &mut s.pieces {
                    *d = Vec::new();
                }
            } else {
                data = p.data.to_vec();
                s.bytes += data.len();
                self.bytes += data.len();
            }
        }
        let at = s.pieces.partition_point(|(n, _)| *n < p.number);
        s.pieces.insert(at, (p.number, data));
        if key.major < 2 && p.last {
            s.total = Some(p.number);
        }
        let received = s.pieces.len() as u16;
        let complete = s.total.is_some_and(|t| received >= t);
        let record = s.record;
        let total = s.total;
        let whole = complete.then(|| {
            s.done = true;
            let bytes =
                (key.major < 2 && !s.overflow).then(|| s.pieces.iter().flat_map(|(_, d)| d.iter().copied()).collect());
            self.bytes -= s.bytes;
            s.bytes = 0;
            // Only the fact that it completed is kept, to tell a retransmission.
            s.pieces = s.pieces.iter().map(|(n, _)| (*n, Vec::new())).collect();
            bytes
        });
        Offer::Added {
            record,
            received,
            total,
            complete: whole,
        }
    }

    /// Opens the set whose first fragment was just recorded at `record`, keeping its bytes.
    /// Returns the set as [`Pool::offer`] would after that fragment (complete for a message of
    /// one fragment).
    pub fn attach(&mut self, key: SetKey, p: Piece<'_>, record: usize) -> Offer {
        while self.sets.len() >= self.max_sets || self.bytes + p.data.len() > self.max_bytes {
            let Some((k, serial)) = self.order.pop_front() else {
                break;
            };
            if self.sets.get(&k).is_some_and(|s| s.serial == serial) {
                if self.sets.get(&k).is_some_and(|s| !s.done) {
                    self.evicted += 1;
                }
                self.remove(&k);
            }
        }
        self.serial += 1;
        let total = (key.major >= 2).then_some(key.tag);
        self.sets.insert(
            key,
            Set {
                record,
                serial: self.serial,
                pieces: Vec::new(),
                total,
                bytes: 0,
                overflow: false,
                done: false,
            },
        );
        self.order.push_back((key, self.serial));
        // Completed sets linger in `order` only as long as the caps allow; compact it when it
        // holds mostly stale entries.
        if self.order.len() > 2 * self.max_sets {
            let sets = &self.sets;
            self.order.retain(|(k, s)| sets.get(k).is_some_and(|x| x.serial == *s));
        }
        self.offer(key, p)
    }

    fn remove(&mut self, key: &SetKey) {
        if let Some(s) = self.sets.remove(key) {
            self.bytes -= s.bytes;
        }
    }

    /// Bytes buffered now.
    #[cfg(test)]
    pub fn buffered(&self) -> usize {
        self.bytes
    }

    /// Sets held now (open or remembered as complete).
    #[cfg(test)]
    pub fn open(&self) -> usize {
        self.sets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tag: u16, major: u8) -> SetKey {
        SetKey {
            src: "192.0.2.1:500".parse().unwrap(),
            dst: "198.51.100.2:500".parse().unwrap(),
            major,
            ispi: [1; 8],
            rspi: [2; 8],
            msgid: 0,
            tag,
            response: false,
        }
    }

    fn piece(number: u16, last: bool, data: &[u8]) -> Piece<'_> {
        Piece { number, last, data }
    }

    #[test]
    fn v1_pieces_in_any_order_give_the_original_bytes() {
        let mut p = Pool::new(8, 1 << 20);
        let k = key(7, 1);
        assert!(matches!(p.offer(k, piece(2, true, b"def")), Offer::New));
        assert!(matches!(
            p.attach(k, piece(2, true, b"def"), 0),
            Offer::Added { complete: None, .. }
        ));
        match p.offer(k, piece(1, false, b"abc")) {
            Offer::Added {
                record: 0,
                received: 2,
                total: Some(2),
                complete: Some(Some(b)),
            } => assert_eq!(b, b"abcdef"),
            o => panic!("{o:?}"),
        }
        assert_eq!(p.buffered(), 0);
        // The same set again: a retransmission starts a new set.
        assert!(matches!(p.offer(k, piece(1, false, b"abc")), Offer::New));
    }

    #[test]
    fn v2_completes_on_its_total_and_a_repeated_number_restarts() {
        let mut p = Pool::new(8, 1 << 20);
        let k = key(3, 2);
        p.attach(k, piece(1, false, &[]), 4);
        assert!(matches!(
            p.offer(k, piece(2, false, &[])),
            Offer::Added { complete: None, .. }
        ));
        // Fragment 1 again before 3 arrived: the sender started over.
        assert!(matches!(p.offer(k, piece(1, false, &[])), Offer::New));
        p.attach(k, piece(1, false, &[]), 9);
        p.offer(k, piece(2, false, &[]));
        assert!(matches!(
            p.offer(k, piece(3, false, &[])),
            Offer::Added {
                record: 9,
                complete: Some(None),
                ..
            }
        ));
    }

    #[test]
    fn never_completed_sets_stay_within_the_caps() {
        let mut p = Pool::new(16, 4096);
        for id in 0..10_000u16 {
            let k = key(id, 1);
            p.attach(k, piece(1, false, &[0u8; 1000]), id as usize);
            assert!(p.open() <= 16 && p.buffered() <= 4096, "{} {}", p.open(), p.buffered());
        }
        assert!(p.evicted > 9_000);
        assert!(p.order.len() <= 2 * 16 + 1);
    }

    #[test]
    fn a_set_larger_than_a_message_is_counted_not_buffered() {
        let mut p = Pool::new(4, 1 << 20);
        let k = key(1, 1);
        let big = vec![0u8; 40_000];
        p.attach(k, piece(1, false, &big), 0);
        p.offer(k, piece(2, false, &big));
        assert_eq!(p.buffered(), 0);
        assert!(matches!(
            p.offer(k, piece(3, true, b"x")),
            Offer::Added {
                complete: Some(None),
                received: 3,
                ..
            }
        ));
    }
}
