//! Bounded IPv4/IPv6 fragment reassembly, so an IKE message split into IP fragments decodes as
//! one message. Every fragment is still reported on its own by the caller.
//!
//! Limits: bytes held, datagrams in flight, per-datagram size and a timeout in capture time.
//! Whatever a limit drops is counted; nothing is dropped silently.

use std::collections::HashMap;
use std::net::IpAddr;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_datagrams: usize,
    pub max_datagram_len: usize,
    /// Seconds of capture time after which an incomplete datagram is dropped.
    pub timeout: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 32 << 20,
            max_datagrams: 8192,
            max_datagram_len: 65_535 + 8,
            timeout: 60.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub id: u32,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub completed: u64,
    pub timed_out: u64,
    /// Datagrams or fragments refused because a limit was reached.
    pub dropped_limit: u64,
    pub overlaps: u64,
}

#[derive(Debug)]
struct Partial {
    data: Vec<u8>,
    /// Byte ranges received, sorted and merged.
    have: Vec<(usize, usize)>,
    total: Option<usize>,
    first_seen: f64,
    /// Packet numbers of the fragments, in arrival order.
    packets: Vec<u64>,
}

/// A reassembled datagram payload (the bytes after the IP header / fragment header).
#[derive(Debug)]
pub struct Datagram {
    pub key: Key,
    pub payload: Vec<u8>,
    pub packets: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct Reassembler {
    limits: Limits,
    partial: HashMap<Key, Partial>,
    held: usize,
    pub stats: Stats,
}

impl Reassembler {
    pub fn new(limits: Limits) -> Reassembler {
        Reassembler {
            limits,
            ..Default::default()
        }
    }

    pub fn in_flight(&self) -> usize {
        self.partial.len()
    }

    pub fn bytes_held(&self) -> usize {
        self.held
    }

    /// Adds the fragment at byte `offset` carrying `data`; `more` is the MF flag. Returns the
    /// datagram when this fragment completes it.
    pub fn add(&mut self, key: Key, offset: usize, more: bool, data: &[u8], now: f64, packet: u64) -> Option<Datagram> {
        self.expire(now);
        let end = offset.checked_add(data.len())?;
        if end > self.limits.max_datagram_len {
            self.stats.dropped_limit += 1;
            self.remove(&key);
            return None;
        }
        if !self.partial.contains_key(&key) {
            if self.partial.len() >= self.limits.max_datagrams {
                self.stats.dropped_limit += 1;
                return None;
            }
            self.partial.insert(
                key,
                Partial {
                    data: Vec::new(),
                    have: Vec::new(),
                    total: None,
                    first_seen: now,
                    packets: Vec::new(),
                },
            );
        }
        let grow = end.saturating_sub(self.partial[&key].data.len());
        if self.held + grow > self.limits.max_bytes {
            self.stats.dropped_limit += 1;
            self.remove(&key);
            return None;
        }
        let p = self.partial.get_mut(&key)?;
        if p.data.len() < end {
            p.data.resize(end, 0);
            self.held += grow;
        }
        if p.have.iter().any(|&(s, e)| s < end && offset < e) {
            self.stats.overlaps += 1;
        }
        // Later data wins on overlap, as Linux does.
        p.data[offset..end].copy_from_slice(data);
        p.have.push((offset, end));
        p.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(p.have.len());
        for &(s, e) in &p.have {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        p.have = merged;
        if p.packets.len() < 64 {
            p.packets.push(packet);
        }
        if !more {
            p.total = Some(end);
        }
        let complete = matches!(p.total, Some(t) if p.have.len() == 1 && p.have[0] == (0, t));
        if complete {
            let mut p = self.remove(&key)?;
            let t = p.total.unwrap_or(0);
            p.data.truncate(t);
            self.stats.completed += 1;
            return Some(Datagram {
                key,
                payload: p.data,
                packets: p.packets,
            });
        }
        None
    }

    fn remove(&mut self, key: &Key) -> Option<Partial> {
        let p = self.partial.remove(key)?;
        self.held -= p.data.len();
        Some(p)
    }

    fn expire(&mut self, now: f64) {
        let timeout = self.limits.timeout;
        if self.partial.is_empty() {
            return;
        }
        let old: Vec<Key> = self
            .partial
            .iter()
            .filter(|(_, p)| now - p.first_seen > timeout)
            .map(|(k, _)| *k)
            .collect();
        for k in old {
            self.remove(&k);
            self.stats.timed_out += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> Key {
        Key {
            src: Ipv4Addr::new(192, 0, 2, 1).into(),
            dst: Ipv4Addr::new(198, 51, 100, 2).into(),
            proto: 17,
            id,
        }
    }

    #[test]
    fn out_of_order_fragments_complete() {
        let mut r = Reassembler::new(Limits::default());
        // Linux sends the last fragments first.
        assert!(r.add(key(1), 16, false, &[3; 4], 0.0, 1).is_none());
        assert!(r.add(key(1), 8, true, &[2; 8], 0.0, 2).is_none());
        let d = r.add(key(1), 0, true, &[1; 8], 0.0, 3).unwrap();
        assert_eq!(d.payload.len(), 20);
        assert_eq!(&d.payload[8..16], &[2; 8]);
        assert_eq!(d.packets, vec![1, 2, 3]);
        assert_eq!(r.bytes_held(), 0);
    }

    #[test]
    fn duplicates_and_overlaps_are_counted() {
        let mut r = Reassembler::new(Limits::default());
        r.add(key(1), 0, true, &[1; 16], 0.0, 1);
        r.add(key(1), 8, true, &[9; 16], 0.0, 2);
        let d = r.add(key(1), 24, false, &[5; 8], 0.0, 3).unwrap();
        assert_eq!(d.payload.len(), 32);
        assert_eq!(r.stats.overlaps, 1);
    }

    #[test]
    fn flood_of_incomplete_datagrams_stays_bounded() {
        let lim = Limits {
            max_datagrams: 1000,
            max_bytes: 1 << 20,
            ..Default::default()
        };
        let mut r = Reassembler::new(lim);
        for id in 0..100_000u32 {
            r.add(key(id), 8, true, &[0; 64], id as f64 * 1e-4, id as u64);
        }
        assert!(r.in_flight() <= 1000);
        assert!(r.bytes_held() <= 1 << 20);
        assert!(r.stats.dropped_limit > 0);
    }

    #[test]
    fn timeout_drops_stale() {
        let mut r = Reassembler::new(Limits {
            timeout: 1.0,
            ..Default::default()
        });
        r.add(key(1), 8, true, &[0; 8], 0.0, 1);
        r.add(key(2), 8, true, &[0; 8], 5.0, 2);
        assert_eq!(r.stats.timed_out, 1);
        assert_eq!(r.in_flight(), 1);
    }

    #[test]
    fn oversized_refused() {
        let mut r = Reassembler::new(Limits::default());
        assert!(r.add(key(1), 65_500, false, &[0; 100], 0.0, 1).is_none());
        assert_eq!(r.stats.dropped_limit, 1);
    }
}
