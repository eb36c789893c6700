//! Capture files in, frames out: pcap (both byte orders, µs and ns) and pcapng (sections,
//! interfaces with their own link types and timestamp resolutions, EPB/SPB/OPB).
//!
//! Streaming: one buffer, reused; it grows only for a record larger than itself, up to
//! [`MAX_RECORD`], so memory does not depend on the file size.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Largest record or block we accept. Real snaplens are at most 256 KiB; this leaves room for
/// odd writers while refusing a header that claims gigabytes.
pub const MAX_RECORD: usize = 16 << 20;
const CHUNK: usize = 256 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp {
    pub sec: i64,
    pub nsec: u32,
}

impl Timestamp {
    pub fn as_f64(self) -> f64 {
        self.sec as f64 + self.nsec as f64 * 1e-9
    }
}

/// One captured packet, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub ts: Timestamp,
    pub linktype: u32,
    /// Length on the wire (may exceed `data.len()` when the snaplen cut the packet).
    pub wire_len: u32,
    pub data: &'a [u8],
    /// Byte offset of the record in the file (for error messages).
    pub offset: u64,
}

#[derive(Debug)]
pub enum SourceError {
    Io(io::Error),
    NotACapture {
        magic: [u8; 4],
    },
    Truncated {
        offset: u64,
        what: &'static str,
        need: usize,
        have: usize,
    },
    Corrupt {
        offset: u64,
        what: String,
    },
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::Io(e) => write!(f, "read error: {e}"),
            SourceError::NotACapture { magic } => write!(
                f,
                "not a pcap or pcapng file (starts with {:02x}{:02x}{:02x}{:02x})",
                magic[0], magic[1], magic[2], magic[3]
            ),
            SourceError::Truncated {
                offset,
                what,
                need,
                have,
            } => write!(
                f,
                "truncated {what} at byte offset {offset}: needs {need} bytes, file ends after {have}"
            ),
            SourceError::Corrupt { offset, what } => write!(f, "corrupt capture at byte offset {offset}: {what}"),
        }
    }
}

impl std::error::Error for SourceError {}

impl From<io::Error> for SourceError {
    fn from(e: io::Error) -> Self {
        SourceError::Io(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap { big_endian: bool, nanos: bool },
    PcapNg,
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    /// Timestamp units per second.
    units: u64,
    offset_sec: i64,
}

/// A streaming reader over pcap or pcapng bytes.
pub struct CaptureReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// File offset of `buf[start]`.
    offset: u64,
    format: Format,
    /// pcap: the file's link type and snaplen.
    pcap_linktype: u32,
    // pcapng section state
    ng_big_endian: bool,
    interfaces: Vec<Interface>,
    /// Link types seen that we could not use (kept for the caller's single report).
    pub failed: bool,
}

/// Opens `path`, or standard input for `-`.
pub fn open(path: &Path) -> Result<CaptureReader<Box<dyn Read>>, SourceError> {
    let r: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(path)?)
    };
    CaptureReader::new(r)
}

/// Cheap content sniffing: does this look like the start of a capture file?
pub fn is_capture_magic(head: &[u8]) -> bool {
    matches!(
        head.get(..4),
        Some([0xd4, 0xc3, 0xb2, 0xa1])
            | Some([0xa1, 0xb2, 0xc3, 0xd4])
            | Some([0x4d, 0x3c, 0xb2, 0xa1])
            | Some([0xa1, 0xb2, 0x3c, 0x4d])
            | Some([0x0a, 0x0d, 0x0d, 0x0a])
    )
}

fn rd16(b: &[u8], be: bool) -> u16 {
    let a = [b[0], b[1]];
    if be {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

fn rd32(b: &[u8], be: bool) -> u32 {
    let a = [b[0], b[1], b[2], b[3]];
    if be {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

impl<R: Read> CaptureReader<R> {
    pub fn new(inner: R) -> Result<Self, SourceError> {
        let mut r = CaptureReader {
            inner,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            eof: false,
            offset: 0,
            format: Format::PcapNg,
            pcap_linktype: 0,
            ng_big_endian: false,
            interfaces: Vec::new(),
            failed: false,
        };
        let have = r.fill(4)?;
        let magic: [u8; 4] = {
            let mut m = [0u8; 4];
            m[..have.min(4)].copy_from_slice(&r.buf[r.start..r.start + have.min(4)]);
            m
        };
        if have < 4 {
            return Err(SourceError::NotACapture { magic });
        }
        r.format = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => Format::Pcap {
                big_endian: false,
                nanos: false,
            },
            [0xa1, 0xb2, 0xc3, 0xd4] => Format::Pcap {
                big_endian: true,
                nanos: false,
            },
            [0x4d, 0x3c, 0xb2, 0xa1] => Format::Pcap {
                big_endian: false,
                nanos: true,
            },
            [0xa1, 0xb2, 0x3c, 0x4d] => Format::Pcap {
                big_endian: true,
                nanos: true,
            },
            [0x0a, 0x0d, 0x0d, 0x0a] => Format::PcapNg,
            _ => return Err(SourceError::NotACapture { magic }),
        };
        if let Format::Pcap { big_endian, .. } = r.format {
            let need = 24;
            let have = r.fill(need)?;
            if have < need {
                return Err(SourceError::Truncated {
                    offset: 0,
                    what: "pcap file header",
                    need,
                    have,
                });
            }
            let h = &r.buf[r.start..r.start + 24];
            // The upper bits of the link type field carry FCS information.
            r.pcap_linktype = rd32(&h[20..24], big_endian) & 0x03ff_ffff;
            r.consume(24);
        }
        Ok(r)
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Link type of a pcap file, or of the first pcapng interface seen so far.
    pub fn linktype(&self) -> Option<u32> {
        match self.format {
            Format::Pcap { .. } => Some(self.pcap_linktype),
            Format::PcapNg => self.interfaces.first().map(|i| i.linktype),
        }
    }

    /// Makes at least `n` bytes available from `start` unless the input ends; returns how many are.
    fn fill(&mut self, n: usize) -> Result<usize, SourceError> {
        if self.end - self.start >= n {
            return Ok(self.end - self.start);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if n > self.buf.len() {
            self.buf.resize(n.next_power_of_two().max(CHUNK), 0);
        }
        while self.end < n && !self.eof {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(self.end - self.start)
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Bytes read from the input and not yet handed out: while there are, the next frame
    /// probably needs no read (a live reader batches frames until this is 0).
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// The next frame, `None` at a clean end of file.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, SourceError>> {
        if self.failed {
            return None;
        }
        let r = match self.format {
            Format::Pcap { big_endian, nanos } => self.next_pcap(big_endian, nanos),
            Format::PcapNg => self.next_pcapng(),
        };
        match r {
            Ok(Some((s, len, ts, linktype, wire_len, offset))) => Some(Ok(Frame {
                ts,
                linktype,
                wire_len,
                data: &self.buf[s..s + len],
                offset,
            })),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn next_pcap(
        &mut self,
        be: bool,
        nanos: bool,
    ) -> Result<Option<(usize, usize, Timestamp, u32, u32, u64)>, SourceError> {
        let have = self.fill(16)?;
        if have == 0 {
            return Ok(None);
        }
        let offset = self.offset;
        if have < 16 {
            return Err(SourceError::Truncated {
                offset,
                what: "pcap record header",
                need: 16,
                have,
            });
        }
        let h = &self.buf[self.start..self.start + 16];
        let sec = rd32(&h[0..4], be);
        let frac = rd32(&h[4..8], be);
        let caplen = rd32(&h[8..12], be) as usize;
        let wire_len = rd32(&h[12..16], be);
        if caplen > MAX_RECORD {
            return Err(SourceError::Corrupt {
                offset,
                what: format!("record claims {caplen} captured bytes (limit {MAX_RECORD})"),
            });
        }
        let need = 16 + caplen;
        let have = self.fill(need)?;
        if have < need {
            return Err(SourceError::Truncated {
                offset,
                what: "pcap record",
                need,
                have,
            });
        }
        let nsec = if nanos { frac } else { frac.saturating_mul(1000) };
        let ts = Timestamp {
            sec: sec as i64,
            nsec: nsec.min(999_999_999),
        };
        let s = self.start + 16;
        self.consume(need);
        Ok(Some((s, caplen, ts, self.pcap_linktype, wire_len, offset)))
    }

    #[allow(clippy::type_complexity)]
    fn next_pcapng(&mut self) -> Result<Option<(usize, usize, Timestamp, u32, u32, u64)>, SourceError> {
        loop {
            let have = self.fill(12)?;
            if have == 0 {
                return Ok(None);
            }
            let offset = self.offset;
            if have < 12 {
                return Err(SourceError::Truncated {
                    offset,
                    what: "pcapng block header",
                    need: 12,
                    have,
                });
            }
            let h = &self.buf[self.start..self.start + 12];
            let btype = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
            if btype == 0x0a0d_0d0a {
                // A section header: its byte-order magic decides the order of everything after.
                self.ng_big_endian = match &h[8..12] {
                    [0x1a, 0x2b, 0x3c, 0x4d] => true,
                    [0x4d, 0x3c, 0x2b, 0x1a] => false,
                    _ => {
                        return Err(SourceError::Corrupt {
                            offset,
                            what: "pcapng section header with a bad byte-order magic".into(),
                        })
                    }
                };
                self.interfaces.clear();
            }
            let be = self.ng_big_endian;
            let blen = rd32(&h[4..8], be) as usize;
            if blen < 12 || blen % 4 != 0 || blen > MAX_RECORD {
                return Err(SourceError::Corrupt {
                    offset,
                    what: format!("pcapng block length {blen} is invalid"),
                });
            }
            let have = self.fill(blen)?;
            if have < blen {
                return Err(SourceError::Truncated {
                    offset,
                    what: "pcapng block",
                    need: blen,
                    have,
                });
            }
            let s = self.start;
            let btype = rd32(&self.buf[s..s + 4], be);
            let body = s + 8..s + blen - 4;
            let mut out = None;
            match btype {
                1 => self.read_idb(body, offset)?,
                6 | 2 => out = Some(self.read_epb(btype, body, offset)?),
                3 => out = Some(self.read_spb(body, offset)?),
                _ => {} // section header (state already taken), stats, name resolution, unknown
            }
            self.consume(blen);
            if let Some(o) = out {
                return Ok(Some(o));
            }
        }
    }

    fn read_idb(&mut self, body: std::ops::Range<usize>, offset: u64) -> Result<(), SourceError> {
        let be = self.ng_big_endian;
        let b = &self.buf[body];
        if b.len() < 8 {
            return Err(SourceError::Corrupt {
                offset,
                what: "interface description block too short".into(),
            });
        }
        let mut iface = Interface {
            linktype: rd16(&b[0..2], be) as u32,
            snaplen: rd32(&b[4..8], be),
            units: 1_000_000,
            offset_sec: 0,
        };
        let mut opts = &b[8..];
        while opts.len() >= 4 {
            let code = rd16(&opts[0..2], be);
            let len = rd16(&opts[2..4], be) as usize;
            let padded = (len + 3) & !3;
            if code == 0 || opts.len() < 4 + len {
                break;
            }
            let v = &opts[4..4 + len];
            match (code, len) {
                (9, 1) => {
                    let r = v[0];
                    let exp = (r & 0x7f) as u32;
                    iface.units = if r & 0x80 != 0 {
                        1u64.checked_shl(exp).unwrap_or(0)
                    } else {
                        10u64.checked_pow(exp).unwrap_or(0)
                    };
                    if iface.units == 0 {
                        return Err(SourceError::Corrupt {
                            offset,
                            what: format!("if_tsresol {r:#04x} is out of range"),
                        });
                    }
                }
                (14, 8) => {
                    let hi = rd32(&v[0..4], be) as u64;
                    let lo = rd32(&v[4..8], be) as u64;
                    let x = if be { (hi << 32) | lo } else { (lo << 32) | hi };
                    iface.offset_sec = x as i64;
                }
                _ => {}
            }
            opts = &opts[(4 + padded).min(opts.len())..];
        }
        // Bound the table: an interface id is 32 bits but nobody captures on thousands.
        if self.interfaces.len() >= 65_536 {
            return Err(SourceError::Corrupt {
                offset,
                what: "more than 65536 interfaces in one section".into(),
            });
        }
        self.interfaces.push(iface);
        Ok(())
    }

    #[allow(clippy::type_complexity)]
    fn read_epb(
        &mut self,
        btype: u32,
        body: std::ops::Range<usize>,
        offset: u64,
    ) -> Result<(usize, usize, Timestamp, u32, u32, u64), SourceError> {
        let be = self.ng_big_endian;
        let b = &self.buf[body.clone()];
        if b.len() < 20 {
            return Err(SourceError::Corrupt {
                offset,
                what: "packet block too short".into(),
            });
        }
        let ifid = if btype == 2 {
            rd16(&b[0..2], be) as usize
        } else {
            rd32(&b[0..4], be) as usize
        };
        let hi = rd32(&b[4..8], be) as u64;
        let lo = rd32(&b[8..12], be) as u64;
        let caplen = rd32(&b[12..16], be) as usize;
        let wire_len = rd32(&b[16..20], be);
        if caplen > b.len() - 20 {
            return Err(SourceError::Corrupt {
                offset,
                what: format!("packet block claims {caplen} captured bytes but holds {}", b.len() - 20),
            });
        }
        let iface = *self.interfaces.get(ifid).ok_or_else(|| SourceError::Corrupt {
            offset,
            what: format!("packet on interface {ifid}, which was never described"),
        })?;
        let ts = ts_from_units((hi << 32) | lo, iface);
        Ok((body.start + 20, caplen, ts, iface.linktype, wire_len, offset))
    }

    #[allow(clippy::type_complexity)]
    fn read_spb(
        &mut self,
        body: std::ops::Range<usize>,
        offset: u64,
    ) -> Result<(usize, usize, Timestamp, u32, u32, u64), SourceError> {
        let be = self.ng_big_endian;
        let b = &self.buf[body.clone()];
        if b.len() < 4 {
            return Err(SourceError::Corrupt {
                offset,
                what: "simple packet block too short".into(),
            });
        }
        let iface = *self.interfaces.first().ok_or_else(|| SourceError::Corrupt {
            offset,
            what: "simple packet block before any interface description".into(),
        })?;
        let wire_len = rd32(&b[0..4], be);
        let mut caplen = (wire_len as usize).min(b.len() - 4);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        Ok((
            body.start + 4,
            caplen,
            Timestamp::default(),
            iface.linktype,
            wire_len,
            offset,
        ))
    }
}

fn ts_from_units(t: u64, iface: Interface) -> Timestamp {
    let sec = (t / iface.units) as i64 + iface.offset_sec;
    let frac = t % iface.units;
    let nsec = (frac as u128 * 1_000_000_000 / iface.units as u128) as u32;
    Timestamp { sec, nsec }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_le(nanos: bool, recs: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&if nanos { 0xa1b2_3c4du32 } else { 0xa1b2_c3d4u32 }.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&101u32.to_le_bytes());
        for (s, f, d) in recs {
            v.extend_from_slice(&s.to_le_bytes());
            v.extend_from_slice(&f.to_le_bytes());
            v.extend_from_slice(&(d.len() as u32).to_le_bytes());
            v.extend_from_slice(&(d.len() as u32).to_le_bytes());
            v.extend_from_slice(d);
        }
        v
    }

    #[test]
    fn pcap_records_and_nanos() {
        let f = pcap_le(true, &[(5, 7, b"abc"), (6, 999_999_999, b"")]);
        let mut r = CaptureReader::new(&f[..]).unwrap();
        let a = r.next_frame().unwrap().unwrap();
        assert_eq!((a.ts.sec, a.ts.nsec, a.data, a.linktype), (5, 7, &b"abc"[..], 101));
        let b = r.next_frame().unwrap().unwrap();
        assert_eq!(b.ts.nsec, 999_999_999);
        assert!(r.next_frame().is_none());
    }

    #[test]
    fn truncated_record_names_offset() {
        let mut f = pcap_le(false, &[(1, 2, b"abcdef")]);
        f.truncate(f.len() - 2);
        let mut r = CaptureReader::new(&f[..]).unwrap();
        let e = r.next_frame().unwrap().unwrap_err();
        assert!(e.to_string().contains("byte offset 24"), "{e}");
        assert!(r.next_frame().is_none());
    }

    #[test]
    fn huge_record_refused() {
        let mut f = pcap_le(false, &[]);
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&u32::MAX.to_le_bytes());
        f.extend_from_slice(&u32::MAX.to_le_bytes());
        let mut r = CaptureReader::new(&f[..]).unwrap();
        assert!(matches!(r.next_frame(), Some(Err(SourceError::Corrupt { .. }))));
    }

    #[test]
    fn not_a_capture() {
        assert!(matches!(
            CaptureReader::new(&b"hello world"[..]),
            Err(SourceError::NotACapture { .. })
        ));
    }

    fn ng_block(be: bool, t: u32, body: &[u8]) -> Vec<u8> {
        let w = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
        let pad = (4 - body.len() % 4) % 4;
        let len = (12 + body.len() + pad) as u32;
        let mut v = Vec::new();
        v.extend_from_slice(&w(t));
        v.extend_from_slice(&w(len));
        v.extend_from_slice(body);
        v.extend(std::iter::repeat_n(0, pad));
        v.extend_from_slice(&w(len));
        v
    }

    #[test]
    fn pcapng_two_sections_two_orders_tsresol() {
        let mut f = Vec::new();
        for be in [false, true] {
            let w32 = |x: u32| if be { x.to_be_bytes() } else { x.to_le_bytes() };
            let w16 = |x: u16| if be { x.to_be_bytes() } else { x.to_le_bytes() };
            let mut shb = w32(0x1a2b_3c4d).to_vec();
            shb.extend_from_slice(&w16(1));
            shb.extend_from_slice(&w16(0));
            shb.extend_from_slice(&[0xff; 8]);
            f.extend(ng_block(be, 0x0a0d_0d0a, &shb));
            // interface 0: Ethernet, µs; interface 1: raw, ns
            let mut idb = w16(1).to_vec();
            idb.extend_from_slice(&[0, 0]);
            idb.extend_from_slice(&w32(0));
            f.extend(ng_block(be, 1, &idb));
            let mut idb = w16(101).to_vec();
            idb.extend_from_slice(&[0, 0]);
            idb.extend_from_slice(&w32(0));
            idb.extend_from_slice(&w16(9));
            idb.extend_from_slice(&w16(1));
            idb.extend_from_slice(&[9, 0, 0, 0]);
            f.extend(ng_block(be, 1, &idb));
            f.extend(ng_block(be, 0xdead, b"unknown"));
            let mut epb = w32(1).to_vec();
            let t: u64 = 3_000_000_123;
            epb.extend_from_slice(&w32((t >> 32) as u32));
            epb.extend_from_slice(&w32(t as u32));
            epb.extend_from_slice(&w32(3));
            epb.extend_from_slice(&w32(10));
            epb.extend_from_slice(b"xyz");
            f.extend(ng_block(be, 6, &epb));
            let mut spb = w32(5).to_vec();
            spb.extend_from_slice(b"hello");
            f.extend(ng_block(be, 3, &spb));
        }
        let mut r = CaptureReader::new(&f[..]).unwrap();
        for _ in 0..2 {
            let a = r.next_frame().unwrap().unwrap();
            assert_eq!(
                (a.linktype, a.ts.sec, a.ts.nsec, a.data, a.wire_len),
                (101, 3, 123, &b"xyz"[..], 10)
            );
            let b = r.next_frame().unwrap().unwrap();
            assert_eq!((b.linktype, b.data), (1, &b"hello"[..]));
        }
        assert!(r.next_frame().is_none());
    }

    #[test]
    fn record_larger_than_buffer() {
        let big = vec![7u8; CHUNK * 3];
        let f = pcap_le(false, &[(1, 0, &big), (2, 0, b"x")]);
        let mut r = CaptureReader::new(&f[..]).unwrap();
        assert_eq!(r.next_frame().unwrap().unwrap().data.len(), CHUNK * 3);
        assert_eq!(r.next_frame().unwrap().unwrap().data, b"x");
    }
}
