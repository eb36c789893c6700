//! ISAKMP / IKEv1 / IKEv2 message views (RFC 2408, RFC 2409, RFC 7296, RFC 7383, RFC 3947).
//!
//! Zero-copy, smoltcp-style: [`Header`] wraps any `AsRef<[u8]>` once its fixed 28 bytes were
//! checked, and every accessor afterwards is infallible and panic-free.  [`Header::payloads`]
//! walks the generic payload chain; the `parse` functions of the payload value types turn one
//! payload body into the few fields diagnosis needs, borrowing from the packet.
//!
//! The name tables here are shared with the tcpdump-compatible printer (`print::isakmp`);
//! tables whose spelling is tcpdump's say so in their documentation.

use core::fmt;

/// Length of the fixed ISAKMP header.
pub const HEADER_LEN: usize = 28;
/// Length of the generic payload header (next payload, critical/reserved, length).
pub const GENERIC_LEN: usize = 4;
/// No payload chain is walked further than this many payloads.
pub const MAX_PAYLOADS: usize = 256;

/// The UDP port of IKE.
pub const PORT_IKE: u16 = 500;
/// The UDP port of IKE / ESP behind NAT (RFC 3948); IKE is preceded by a zero "non-ESP marker".
pub const PORT_NATT: u16 = 4500;

/// Header flag bits.
pub mod flags {
    /// IKEv1: payloads after the header are encrypted.
    pub const ENCRYPTION: u8 = 0x01;
    /// IKEv1: commit bit.
    pub const COMMIT: u8 = 0x02;
    /// IKEv1: authentication only.
    pub const AUTH_ONLY: u8 = 0x04;
    /// IKEv2: sent by the original initiator.
    pub const INITIATOR: u8 = 0x08;
    /// IKEv2: sender can speak a higher major version.
    pub const VERSION: u8 = 0x10;
    /// IKEv2: this message is a response.
    pub const RESPONSE: u8 = 0x20;
}

/// Payload type numbers (IKEv1: RFC 2408 §3.1 + RFC 3947; IKEv2: RFC 7296 §3.2 + RFC 7383).
pub mod payload_type {
    pub const NONE: u8 = 0;
    pub const SA: u8 = 1;
    pub const PROPOSAL: u8 = 2;
    pub const TRANSFORM: u8 = 3;
    pub const KE: u8 = 4;
    pub const ID: u8 = 5;
    pub const CERT: u8 = 6;
    pub const CR: u8 = 7;
    pub const HASH: u8 = 8;
    pub const SIG: u8 = 9;
    pub const NONCE: u8 = 10;
    pub const NOTIFY: u8 = 11;
    pub const DELETE: u8 = 12;
    pub const VID: u8 = 13;
    /// IKEv1 NAT discovery, RFC 3947.
    pub const NAT_D: u8 = 20;
    /// IKEv1 NAT original address, RFC 3947.
    pub const NAT_OA: u8 = 21;
    /// IKEv1 NAT discovery, draft-ietf-ipsec-nat-t-ike-02/03.
    pub const NAT_D_DRAFT: u8 = 130;
    /// IKEv1 NAT original address, drafts.
    pub const NAT_OA_DRAFT: u8 = 131;
    /// IKEv1 fragmentation (Cisco / strongSwan / racoon).
    pub const V1_FRAGMENT: u8 = 132;
    pub const V2_SA: u8 = 33;
    pub const V2_KE: u8 = 34;
    pub const V2_IDI: u8 = 35;
    pub const V2_IDR: u8 = 36;
    pub const V2_CERT: u8 = 37;
    pub const V2_CERTREQ: u8 = 38;
    pub const V2_AUTH: u8 = 39;
    pub const V2_NONCE: u8 = 40;
    pub const V2_NOTIFY: u8 = 41;
    pub const V2_DELETE: u8 = 42;
    pub const V2_VID: u8 = 43;
    pub const V2_TSI: u8 = 44;
    pub const V2_TSR: u8 = 45;
    /// IKEv2 Encrypted and Authenticated.
    pub const V2_SK: u8 = 46;
    pub const V2_CP: u8 = 47;
    pub const V2_EAP: u8 = 48;
    /// IKEv2 Encrypted and Authenticated Fragment (RFC 7383).
    pub const V2_SKF: u8 = 53;
}

/// Exchange type numbers.
pub mod exchange {
    pub const BASE: u8 = 1;
    pub const IDENTITY_PROTECTION: u8 = 2;
    pub const AUTH_ONLY: u8 = 3;
    pub const AGGRESSIVE: u8 = 4;
    pub const INFORMATIONAL_V1: u8 = 5;
    pub const QUICK_MODE: u8 = 32;
    pub const NEW_GROUP_MODE: u8 = 33;
    pub const IKE_SA_INIT: u8 = 34;
    pub const IKE_AUTH: u8 = 35;
    pub const CREATE_CHILD_SA: u8 = 36;
    pub const INFORMATIONAL: u8 = 37;
    pub const IKE_SESSION_RESUME: u8 = 38;
    pub const IKE_INTERMEDIATE: u8 = 43;
}

/// Notify message types used by diagnosis (IKEv2 numbering; IKEv1 shares 1..=30 for errors).
pub mod notify_type {
    pub const INVALID_SYNTAX: u16 = 7;
    pub const NO_PROPOSAL_CHOSEN: u16 = 14;
    pub const INVALID_KE_PAYLOAD: u16 = 17;
    pub const AUTHENTICATION_FAILED: u16 = 24;
    pub const TS_UNACCEPTABLE: u16 = 38;
    pub const INTERNAL_ADDRESS_FAILURE: u16 = 36;
    pub const FAILED_CP_REQUIRED: u16 = 37;
    pub const TEMPORARY_FAILURE: u16 = 43;
    /// IKEv1's INVALID_ID_INFORMATION (some IKEv2 peers send it too).
    pub const INVALID_ID_INFORMATION: u16 = 18;
    pub const INITIAL_CONTACT: u16 = 16384;
    pub const NAT_DETECTION_SOURCE_IP: u16 = 16388;
    pub const NAT_DETECTION_DESTINATION_IP: u16 = 16389;
    pub const COOKIE: u16 = 16390;
    pub const IKEV2_FRAGMENTATION_SUPPORTED: u16 = 16430;
    /// IKEv1 IPsec DOI (RFC 2407 §4.6.3).
    pub const V1_RESPONDER_LIFETIME: u16 = 24576;
    pub const V1_REPLAY_STATUS: u16 = 24577;
    pub const V1_INITIAL_CONTACT: u16 = 24578;
    /// IKEv1 dead peer detection (RFC 3706).
    pub const V1_R_U_THERE: u16 = 36136;
    pub const V1_R_U_THERE_ACK: u16 = 36137;
}

/// Why a view could not be built or a chain walk stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Fewer bytes than the fixed part needs.
    Truncated,
    /// A length field smaller than its header or running past its container.
    BadLength,
    /// More than [`MAX_PAYLOADS`] payloads.
    TooMany,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated",
            Error::BadLength => "bad length",
            Error::TooMany => "too many payloads",
        })
    }
}

impl std::error::Error for Error {}

fn be16(b: &[u8], off: usize) -> u16 {
    match b.get(off..off.saturating_add(2)) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

fn be32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off.saturating_add(4)) {
        Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

fn byte(b: &[u8], off: usize) -> u8 {
    b.get(off).copied().unwrap_or(0)
}

fn arr8(b: &[u8], off: usize) -> [u8; 8] {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        a.copy_from_slice(s);
    }
    a
}

fn tail(b: &[u8], off: usize) -> &[u8] {
    b.get(off..).unwrap_or(&[])
}

/// The fixed ISAKMP header (same layout for IKEv1 and IKEv2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps `buffer` once it holds at least the 28 fixed bytes.
    pub fn new_checked(buffer: T) -> Result<Header<T>, Error> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Header { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// IKEv1 initiator cookie / IKEv2 initiator SPI.
    pub fn initiator_spi(&self) -> [u8; 8] {
        arr8(self.b(), 0)
    }

    /// IKEv1 responder cookie / IKEv2 responder SPI.
    pub fn responder_spi(&self) -> [u8; 8] {
        arr8(self.b(), 8)
    }

    pub fn next_payload(&self) -> u8 {
        byte(self.b(), 16)
    }

    /// The raw version octet.
    pub fn version(&self) -> u8 {
        byte(self.b(), 17)
    }

    pub fn major_version(&self) -> u8 {
        self.version() >> 4
    }

    pub fn minor_version(&self) -> u8 {
        self.version() & 0x0f
    }

    pub fn exchange_type(&self) -> u8 {
        byte(self.b(), 18)
    }

    pub fn flags(&self) -> u8 {
        byte(self.b(), 19)
    }

    pub fn message_id(&self) -> u32 {
        be32(self.b(), 20)
    }

    /// The message length claimed by the header.
    pub fn length(&self) -> u32 {
        be32(self.b(), 24)
    }

    /// IKEv2 R flag.
    pub fn is_response(&self) -> bool {
        self.flags() & flags::RESPONSE != 0
    }

    /// IKEv2 I flag.
    pub fn is_initiator(&self) -> bool {
        self.flags() & flags::INITIATOR != 0
    }

    /// IKEv1 message whose payloads are encrypted (E flag).
    pub fn is_v1_encrypted(&self) -> bool {
        self.major_version() == 1 && self.flags() & flags::ENCRYPTION != 0
    }

    /// The bytes after the header, clipped to the header's length field when it is sane.
    pub fn body(&self) -> &[u8] {
        let b = self.b();
        let claimed = self.length() as usize;
        let end = if claimed >= HEADER_LEN {
            claimed.min(b.len())
        } else {
            b.len()
        };
        b.get(HEADER_LEN..end).unwrap_or(&[])
    }

    /// The payload chain.  Empty for an encrypted IKEv1 message; an IKEv2 chain ends with its
    /// SK / SKF payload (whose next-payload field names the first inner payload).
    pub fn payloads(&self) -> Payloads<'_> {
        let first = if self.is_v1_encrypted() {
            payload_type::NONE
        } else {
            self.next_payload()
        };
        Payloads::new(self.body(), first, HEADER_LEN)
    }
}

/// One payload of the generic chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload<'a> {
    /// This payload's type (the previous next-payload field).
    pub kind: u8,
    /// The next-payload field of this payload.
    pub next: u8,
    /// IKEv2 critical bit.
    pub critical: bool,
    /// The payload length field (generic header included).
    pub length: u16,
    /// Offset of the generic header within the message.
    pub offset: usize,
    /// The bytes after the generic header (`length - 4` of them).
    pub body: &'a [u8],
}

/// Iterator over a generic payload chain.  Yields `Err` once and then stops on a bad length
/// or truncation; stops after an SK / SKF payload and after [`MAX_PAYLOADS`].
#[derive(Debug, Clone)]
pub struct Payloads<'a> {
    data: &'a [u8],
    off: usize,
    base: usize,
    next: u8,
    count: usize,
    done: bool,
}

impl<'a> Payloads<'a> {
    /// Walks `data` as a chain whose first payload has type `first`; `base` is the offset of
    /// `data` within the message (for [`Payload::offset`]).
    pub fn new(data: &'a [u8], first: u8, base: usize) -> Payloads<'a> {
        Payloads {
            data,
            off: 0,
            base,
            next: first,
            count: 0,
            done: first == payload_type::NONE,
        }
    }
}

impl<'a> Iterator for Payloads<'a> {
    type Item = Result<Payload<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.done = true;
        if self.count >= MAX_PAYLOADS {
            return Some(Err(Error::TooMany));
        }
        let rest = tail(self.data, self.off);
        if rest.len() < GENERIC_LEN {
            return Some(Err(Error::Truncated));
        }
        let length = be16(rest, 2);
        let len = length as usize;
        if len < GENERIC_LEN {
            return Some(Err(Error::BadLength));
        }
        if len > rest.len() {
            return Some(Err(Error::Truncated));
        }
        let p = Payload {
            kind: self.next,
            next: rest[0],
            critical: rest[1] & 0x80 != 0,
            length,
            offset: self.base + self.off,
            body: &rest[GENERIC_LEN..len],
        };
        self.off += len;
        self.count += 1;
        self.next = p.next;
        self.done = p.next == payload_type::NONE || p.kind == payload_type::V2_SK || p.kind == payload_type::V2_SKF;
        Some(Ok(p))
    }
}

/// An SA attribute (TV when `value` is basic, TLV otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// Attribute type without the AF bit.
    pub kind: u16,
    pub value: AttrValue<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrValue<'a> {
    Basic(u16),
    Variable(&'a [u8]),
}

impl AttrValue<'_> {
    /// The value as a number when it fits in 32 bits.
    pub fn as_u32(&self) -> Option<u32> {
        match *self {
            AttrValue::Basic(v) => Some(v as u32),
            AttrValue::Variable(b) if b.len() <= 4 => Some(b.iter().fold(0u32, |a, &x| (a << 8) | x as u32)),
            AttrValue::Variable(_) => None,
        }
    }
}

/// Parses a list of data attributes; stops at the first one that does not fit.
pub fn parse_attributes(mut b: &[u8]) -> (Vec<Attribute<'_>>, bool) {
    let mut v = Vec::new();
    while !b.is_empty() {
        if b.len() < 4 {
            return (v, false);
        }
        let t = be16(b, 0);
        let lv = be16(b, 2);
        if t & 0x8000 != 0 {
            v.push(Attribute {
                kind: t & 0x7fff,
                value: AttrValue::Basic(lv),
            });
            b = &b[4..];
        } else {
            let end = 4 + lv as usize;
            let Some(val) = b.get(4..end) else {
                return (v, false);
            };
            v.push(Attribute {
                kind: t,
                value: AttrValue::Variable(val),
            });
            b = &b[end..];
        }
    }
    (v, true)
}

/// IKEv1 Oakley (phase 1) attribute types.
pub mod v1_attr {
    pub const ENCRYPTION: u16 = 1;
    pub const HASH: u16 = 2;
    pub const AUTH_METHOD: u16 = 3;
    pub const GROUP_DESCRIPTION: u16 = 4;
    pub const LIFE_TYPE: u16 = 11;
    pub const LIFE_DURATION: u16 = 12;
    pub const KEY_LENGTH: u16 = 14;
    /// IPsec DOI (phase 2) attribute types.
    pub const P2_LIFE_TYPE: u16 = 1;
    pub const P2_LIFE_DURATION: u16 = 2;
    pub const P2_GROUP_DESCRIPTION: u16 = 3;
    pub const P2_ENCAPSULATION: u16 = 4;
    pub const P2_AUTH: u16 = 5;
    pub const P2_KEY_LENGTH: u16 = 6;
}

/// IKEv2 transform types (RFC 7296 §3.3.2).
pub mod v2_transform {
    pub const ENCR: u8 = 1;
    pub const PRF: u8 = 2;
    pub const INTEG: u8 = 3;
    pub const DH: u8 = 4;
    pub const ESN: u8 = 5;
    /// The key-length attribute type.
    pub const ATTR_KEY_LENGTH: u16 = 14;
}

/// A transform of a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transform<'a> {
    /// IKEv1 transform number (0 for IKEv2).
    pub number: u8,
    /// IKEv2 transform type (0 for IKEv1).
    pub kind: u8,
    /// Transform ID (IKEv1: one octet).
    pub id: u16,
    pub attributes: Vec<Attribute<'a>>,
}

impl Transform<'_> {
    /// The value of the attribute of type `kind`.
    pub fn attribute(&self, kind: u16) -> Option<AttrValue<'_>> {
        self.attributes.iter().find(|a| a.kind == kind).map(|a| a.value)
    }
}

/// A proposal of an SA payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal<'a> {
    pub number: u8,
    /// Protocol ID (1 ISAKMP/IKE, 2 AH, 3 ESP, 4 IPCOMP).
    pub protocol: u8,
    pub spi: &'a [u8],
    /// The number of transforms claimed.
    pub num_transforms: u8,
    pub transforms: Vec<Transform<'a>>,
}

/// A parsed SA payload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sa<'a> {
    /// IKEv1 DOI (1 = IPsec).
    pub doi: Option<u32>,
    /// IKEv1 situation.
    pub situation: Option<u32>,
    pub proposals: Vec<Proposal<'a>>,
    /// Something did not parse (the lists hold what did).
    pub malformed: bool,
}

impl<'a> Sa<'a> {
    /// Parses an SA payload body; `major` is the ISAKMP major version (1 or 2).
    pub fn parse(body: &'a [u8], major: u8) -> Sa<'a> {
        let mut sa = Sa::default();
        let mut rest = body;
        if major == 1 {
            if body.len() < 8 {
                sa.malformed = true;
                return sa;
            }
            let doi = be32(body, 0);
            let sit = be32(body, 4);
            sa.doi = Some(doi);
            sa.situation = Some(sit);
            if doi != 1 {
                return sa;
            }
            // SIT_SECRECY / SIT_INTEGRITY add variable labeled-domain fields (RFC 2407 §4.6.1)
            // that nobody deploys; the proposals behind them are not parsed.
            if sit & 0x06 != 0 {
                sa.malformed = true;
                return sa;
            }
            rest = tail(body, 8);
        }
        let chain = Payloads::new(rest, payload_type::PROPOSAL, 0);
        for p in chain {
            let Ok(p) = p else {
                sa.malformed = true;
                break;
            };
            match Self::proposal(p.body, major) {
                Some(pr) => sa.proposals.push(pr),
                None => {
                    sa.malformed = true;
                    break;
                }
            }
        }
        sa
    }

    fn proposal(b: &'a [u8], major: u8) -> Option<Proposal<'a>> {
        if b.len() < 4 {
            return None;
        }
        let spi_size = b[2] as usize;
        let spi = b.get(4..4 + spi_size)?;
        let mut pr = Proposal {
            number: b[0],
            protocol: b[1],
            spi,
            num_transforms: b[3],
            transforms: Vec::new(),
        };
        for t in Payloads::new(&b[4 + spi_size..], payload_type::TRANSFORM, 0) {
            let t = t.ok()?;
            if t.body.len() < 4 {
                return None;
            }
            let (attributes, _) = parse_attributes(&t.body[4..]);
            pr.transforms.push(if major == 1 {
                Transform {
                    number: t.body[0],
                    kind: 0,
                    id: t.body[1] as u16,
                    attributes,
                }
            } else {
                Transform {
                    number: 0,
                    kind: t.body[0],
                    id: be16(t.body, 2),
                    attributes,
                }
            });
        }
        Some(pr)
    }
}

/// A key exchange payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ke<'a> {
    /// IKEv2 Diffie-Hellman group (IKEv1 negotiates it in the SA).
    pub group: Option<u16>,
    pub data: &'a [u8],
}

impl<'a> Ke<'a> {
    pub fn parse(body: &'a [u8], major: u8) -> Option<Ke<'a>> {
        if major == 1 {
            return Some(Ke {
                group: None,
                data: body,
            });
        }
        if body.len() < 4 {
            return None;
        }
        Some(Ke {
            group: Some(be16(body, 0)),
            data: &body[4..],
        })
    }
}

/// An identification payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Id<'a> {
    pub id_type: u8,
    /// IKEv1 IPsec DOI protocol and port (0 in IKEv2).
    pub protocol: u8,
    pub port: u16,
    pub data: &'a [u8],
}

impl<'a> Id<'a> {
    pub fn parse(body: &'a [u8], major: u8) -> Option<Id<'a>> {
        if body.len() < 4 {
            return None;
        }
        let (protocol, port) = if major == 1 { (body[1], be16(body, 2)) } else { (0, 0) };
        Some(Id {
            id_type: body[0],
            protocol,
            port,
            data: &body[4..],
        })
    }

    /// The identity as an IP address when it is one.
    pub fn ip_addr(&self) -> Option<std::net::IpAddr> {
        match (self.id_type, self.data.len()) {
            (1, 4) => {
                let a: [u8; 4] = self.data.try_into().ok()?;
                Some(std::net::IpAddr::from(a))
            }
            (5, 16) => {
                let a: [u8; 16] = self.data.try_into().ok()?;
                Some(std::net::IpAddr::from(a))
            }
            _ => None,
        }
    }
}

impl Id<'_> {
    /// The identity as the daemons print it: an address, a name, a DN `C=.., O=.., CN=..`, or
    /// the key ID in hex.
    pub fn text(&self) -> String {
        if let Some(a) = self.ip_addr() {
            return a.to_string();
        }
        let printable = |d: &[u8]| {
            String::from_utf8_lossy(d)
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect::<String>()
        };
        match self.id_type {
            2 | 3 => printable(self.data),
            9 => der_dn(self.data).unwrap_or_else(|| format!("DN of {} bytes", self.data.len())),
            _ => self.data.iter().take(32).map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// A DER tag and length at the start of `b`: (tag, contents, rest). Long lengths of up to two
/// bytes, as certificates' names use.
fn der_tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&l0, b) = b.split_first()?;
    let (len, b) = match l0 {
        0..=0x7f => (l0 as usize, b),
        0x81 => (*b.first()? as usize, &b[1..]),
        0x82 => (be16(b, 0) as usize, b.get(2..)?),
        _ => return None,
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// An X.501 name (a SEQUENCE of SETs of attribute type/value pairs) as `C=.., O=.., CN=..`.
fn der_dn(b: &[u8]) -> Option<String> {
    let (0x30, mut rdns, _) = der_tlv(b)? else { return None };
    let mut parts = Vec::new();
    while !rdns.is_empty() && parts.len() < 16 {
        let (_, set, rest) = der_tlv(rdns)?;
        rdns = rest;
        let (_, atv, _) = der_tlv(set)?;
        let (0x06, oid, value) = der_tlv(atv)? else { return None };
        let (_, value, _) = der_tlv(value)?;
        let name = match oid {
            [0x55, 0x04, 0x03] => "CN",
            [0x55, 0x04, 0x06] => "C",
            [0x55, 0x04, 0x07] => "L",
            [0x55, 0x04, 0x08] => "ST",
            [0x55, 0x04, 0x0a] => "O",
            [0x55, 0x04, 0x0b] => "OU",
            [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "E",
            _ => "?",
        };
        parts.push(format!("{name}={}", String::from_utf8_lossy(value)));
    }
    Some(parts.join(", "))
}

/// The names an X.509 certificate (DER) holds for its owner: the subject DN, then the
/// subjectAltName entries (DNS names, email addresses, IP addresses). Empty when it does not
/// parse.
pub fn cert_names(der: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let Some((0x30, cert, _)) = der_tlv(der) else {
        return out;
    };
    let Some((0x30, mut tbs, _)) = der_tlv(cert) else {
        return out;
    };
    // version [0] (optional), serial, signature, issuer, validity, subject, key, then [3].
    let mut fields = Vec::new();
    while let Some((tag, body, rest)) = der_tlv(tbs) {
        fields.push((tag, body, &tbs[..tbs.len() - rest.len()]));
        tbs = rest;
        if fields.len() > 12 {
            break;
        }
    }
    let skip = usize::from(fields.first().is_some_and(|f| f.0 == 0xa0));
    if let Some(dn) = fields.get(skip + 4).and_then(|f| der_dn(f.2)) {
        out.push(dn);
    }
    let Some((_, exts, _)) = fields.iter().find(|f| f.0 == 0xa3) else {
        return out;
    };
    let Some((0x30, mut exts, _)) = der_tlv(exts) else {
        return out;
    };
    while let Some((_, ext, rest)) = der_tlv(exts) {
        exts = rest;
        let Some((0x06, oid, mut v)) = der_tlv(ext) else {
            continue;
        };
        if oid != [0x55, 0x1d, 0x11] {
            continue;
        }
        if let Some((0x01, _, r)) = der_tlv(v) {
            v = r; // critical
        }
        let Some((0x04, octets, _)) = der_tlv(v) else { continue };
        let Some((0x30, mut names, _)) = der_tlv(octets) else {
            continue;
        };
        while let Some((tag, name, rest)) = der_tlv(names) {
            names = rest;
            match (tag, name.len()) {
                (0x81 | 0x82, _) => out.push(String::from_utf8_lossy(name).into_owned()),
                (0x87, 4) => {
                    out.push(std::net::IpAddr::from(<[u8; 4]>::try_from(name).unwrap_or_default()).to_string())
                }
                (0x87, 16) => {
                    out.push(std::net::IpAddr::from(<[u8; 16]>::try_from(name).unwrap_or_default()).to_string())
                }
                _ => {}
            }
            if out.len() >= 16 {
                return out;
            }
        }
    }
    out
}

/// One traffic selector of a TSi or TSr payload (RFC 7296 §3.13.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrafficSelector {
    /// IP protocol, 0 for any.
    pub proto: u8,
    pub ports: (u16, u16),
    pub start: std::net::IpAddr,
    pub end: std::net::IpAddr,
}

impl fmt::Display for TrafficSelector {
    /// `10.1.0.0/24`, or `a-b` when the range is no prefix; `[proto/ports]` when not any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::net::IpAddr::{V4, V6};
        let (s, e, bits): (u128, u128, u32) = match (self.start, self.end) {
            (V4(s), V4(e)) => (u32::from(s) as u128, u32::from(e) as u128, 32),
            (V6(s), V6(e)) => (u128::from(s), u128::from(e), 128),
            _ => (1, 0, 0),
        };
        let span = e.wrapping_sub(s);
        let host = (span.wrapping_add(1)).trailing_zeros().min(bits);
        if e >= s && (span.wrapping_add(1) == 0 || span.wrapping_add(1).is_power_of_two()) && s.trailing_zeros() >= host
        {
            write!(f, "{}/{}", self.start, bits - host)?;
        } else {
            write!(f, "{}-{}", self.start, self.end)?;
        }
        if self.proto != 0 || self.ports != (0, 65535) {
            write!(f, "[{}", self.proto)?;
            match self.ports {
                (0, 65535) => {}
                (a, b) if a == b => write!(f, "/{a}")?,
                (a, b) => write!(f, "/{a}-{b}")?,
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}

/// The selectors of a TSi/TSr payload body; what does not parse is left out.
pub fn traffic_selectors(body: &[u8]) -> Vec<TrafficSelector> {
    let mut out = Vec::new();
    let count = body.first().copied().unwrap_or(0) as usize;
    let mut rest = body.get(4..).unwrap_or(&[]);
    for _ in 0..count {
        if rest.len() < 8 {
            break;
        }
        let (kind, proto, len) = (rest[0], rest[1], be16(rest, 2) as usize);
        if len < 8 || len > rest.len() {
            break;
        }
        let ports = (be16(rest, 4), be16(rest, 6));
        let addrs = &rest[8..len];
        let pair = match (kind, addrs.len()) {
            (7, 8) => {
                let a: [u8; 4] = addrs[..4].try_into().unwrap_or_default();
                let b: [u8; 4] = addrs[4..].try_into().unwrap_or_default();
                Some((a.into(), b.into()))
            }
            (8, 32) => {
                let a: [u8; 16] = addrs[..16].try_into().unwrap_or_default();
                let b: [u8; 16] = addrs[16..].try_into().unwrap_or_default();
                Some((a.into(), b.into()))
            }
            _ => None,
        };
        if let Some((start, end)) = pair {
            out.push(TrafficSelector {
                proto,
                ports,
                start,
                end,
            });
        }
        rest = &rest[len..];
    }
    out
}

/// A configuration payload (RFC 7296 §3.15): its type (1 request, 2 reply, 3 set, 4 ack) and
/// attributes (type, value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cp<'a> {
    pub cfg_type: u8,
    pub attributes: Vec<(u16, &'a [u8])>,
}

impl<'a> Cp<'a> {
    pub fn parse(body: &'a [u8]) -> Option<Cp<'a>> {
        let cfg_type = *body.first()?;
        let mut rest = body.get(4..)?;
        let mut attributes = Vec::new();
        while rest.len() >= 4 && attributes.len() < 64 {
            let (kind, len) = (be16(rest, 0) & 0x7fff, be16(rest, 2) as usize);
            let Some(value) = rest.get(4..4 + len) else { break };
            attributes.push((kind, value));
            rest = &rest[4 + len..];
        }
        Some(Cp { cfg_type, attributes })
    }
}

/// A notify payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notify<'a> {
    /// IKEv1 DOI.
    pub doi: Option<u32>,
    pub protocol: u8,
    pub notify_type: u16,
    pub spi: &'a [u8],
    pub data: &'a [u8],
}

impl<'a> Notify<'a> {
    pub fn parse(body: &'a [u8], major: u8) -> Option<Notify<'a>> {
        let (doi, b) = if major == 1 {
            if body.len() < 4 {
                return None;
            }
            (Some(be32(body, 0)), &body[4..])
        } else {
            (None, body)
        };
        if b.len() < 4 {
            return None;
        }
        let spi_size = b[1] as usize;
        let spi = b.get(4..4 + spi_size)?;
        Some(Notify {
            doi,
            protocol: b[0],
            notify_type: be16(b, 2),
            spi,
            data: &b[4 + spi_size..],
        })
    }

    /// An error notification (types below 16384).
    pub fn is_error(&self) -> bool {
        self.notify_type < 16384
    }

    /// The name of the type in the given IKE major version.
    pub fn name(&self, major: u8) -> Option<&'static str> {
        if major == 1 {
            ikev1_notify_name(self.notify_type)
        } else {
            ikev2_notify_name(self.notify_type)
        }
    }

    /// IKEv2 NAT_DETECTION_*_IP: `Some(true)` for source, `Some(false)` for destination.
    pub fn nat_detection_source(&self) -> Option<bool> {
        match self.notify_type {
            notify_type::NAT_DETECTION_SOURCE_IP => Some(true),
            notify_type::NAT_DETECTION_DESTINATION_IP => Some(false),
            _ => None,
        }
    }
}

/// A delete payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete<'a> {
    pub doi: Option<u32>,
    pub protocol: u8,
    pub spi_size: u8,
    pub spis: Vec<&'a [u8]>,
    /// Fewer SPIs present than claimed.
    pub truncated: bool,
}

impl<'a> Delete<'a> {
    pub fn parse(body: &'a [u8], major: u8) -> Option<Delete<'a>> {
        let (doi, b) = if major == 1 {
            if body.len() < 4 {
                return None;
            }
            (Some(be32(body, 0)), &body[4..])
        } else {
            (None, body)
        };
        if b.len() < 4 {
            return None;
        }
        let spi_size = b[1];
        let n = be16(b, 2) as usize;
        let mut spis = Vec::new();
        let mut truncated = false;
        if spi_size > 0 {
            for c in b[4..].chunks(spi_size as usize).take(n) {
                if c.len() < spi_size as usize {
                    truncated = true;
                    break;
                }
                spis.push(c);
            }
            truncated |= spis.len() < n;
        }
        Some(Delete {
            doi,
            protocol: b[0],
            spi_size,
            spis,
            truncated,
        })
    }
}

/// A NAT discovery hash: IKEv1 NAT-D payload (20 / 130) or IKEv2 NAT_DETECTION notify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatD<'a> {
    /// `Some(true)` source, `Some(false)` destination; IKEv1 NAT-D payloads are ordered
    /// (first = destination, then sources) so the caller must decide (`None`).
    pub source: Option<bool>,
    pub hash: &'a [u8],
}

impl<'a> NatD<'a> {
    /// From a payload of the given message major version.
    pub fn from_payload(p: &Payload<'a>, major: u8) -> Option<NatD<'a>> {
        match (major, p.kind) {
            (1, payload_type::NAT_D) | (1, payload_type::NAT_D_DRAFT) => Some(NatD {
                source: None,
                hash: p.body,
            }),
            (2, payload_type::V2_NOTIFY) => {
                let n = Notify::parse(p.body, 2)?;
                Some(NatD {
                    source: Some(n.nat_detection_source()?),
                    hash: n.data,
                })
            }
            _ => None,
        }
    }
}

/// IKEv2 SKF payload (RFC 7383) or SK (number = total = 1 for SK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encrypted<'a> {
    pub fragment_number: u16,
    pub total_fragments: u16,
    /// The first inner payload type (the SK/SKF next-payload field; 0 on non-first fragments).
    pub inner_next: u8,
    /// IV, ciphertext and ICV.
    pub data: &'a [u8],
}

impl<'a> Encrypted<'a> {
    pub fn from_payload(p: &Payload<'a>) -> Option<Encrypted<'a>> {
        match p.kind {
            payload_type::V2_SK => Some(Encrypted {
                fragment_number: 1,
                total_fragments: 1,
                inner_next: p.next,
                data: p.body,
            }),
            payload_type::V2_SKF => {
                if p.body.len() < 4 {
                    return None;
                }
                Some(Encrypted {
                    fragment_number: be16(p.body, 0),
                    total_fragments: be16(p.body, 2),
                    inner_next: p.next,
                    data: &p.body[4..],
                })
            }
            _ => None,
        }
    }
}

/// IKEv1 fragmentation payload (type 132): fragment ID, number, last-fragment flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V1Fragment<'a> {
    pub id: u16,
    pub number: u8,
    pub last: bool,
    pub data: &'a [u8],
}

impl<'a> V1Fragment<'a> {
    pub fn parse(body: &'a [u8]) -> Option<V1Fragment<'a>> {
        if body.len() < 4 {
            return None;
        }
        Some(V1Fragment {
            id: be16(body, 0),
            number: body[2],
            last: body[3] & 1 != 0,
            data: &body[4..],
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Name tables.

/// tcpdump's short exchange-type names (`etypestr`, 0..=37); `None` prints as `#N`.
pub fn exchange_name_tcpdump(t: u8) -> Option<&'static str> {
    Some(match t {
        0 => "none",
        1 => "base",
        2 => "ident",
        3 => "auth",
        4 => "agg",
        5 => "inf",
        32 => "oakley-quick",
        33 => "oakley-newgroup",
        34 => "ikev2_init",
        35 => "ikev2_auth",
        36 => "child_sa",
        37 => "inf2",
        _ => return None,
    })
}

/// Exchange-type names as the RFCs spell them (IKEv1 modes by their common names).
pub fn exchange_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "Base",
        2 => "Main Mode",
        3 => "Authentication Only",
        4 => "Aggressive Mode",
        5 => "Informational",
        6 => "Transaction (Config Mode)",
        32 => "Quick Mode",
        33 => "New Group Mode",
        34 => "IKE_SA_INIT",
        35 => "IKE_AUTH",
        36 => "CREATE_CHILD_SA",
        37 => "INFORMATIONAL",
        38 => "IKE_SESSION_RESUME",
        43 => "IKE_INTERMEDIATE",
        44 => "IKE_FOLLOWUP_KE",
        _ => return None,
    })
}

/// tcpdump's payload short names (`npstr`, 0..=48); `None` prints as `#N`.
pub fn payload_name_tcpdump(t: u8) -> Option<&'static str> {
    const NPSTR: [&str; 49] = [
        "none", "sa", "p", "t", "ke", "id", "cert", "cr", "hash", "sig", "nonce", "n", "d", "vid", "pay14", "pay15",
        "pay16", "pay17", "pay18", "pay19", "pay20", "pay21", "pay22", "pay23", "pay24", "pay25", "pay26", "pay27",
        "pay28", "pay29", "pay30", "pay31", "pay32", "v2sa", "v2ke", "v2IDi", "v2IDr", "v2cert", "v2cr", "v2auth",
        "v2nonce", "v2n", "v2d", "v2vid", "v2TSi", "v2TSr", "v2e", "v2cp", "v2eap",
    ];
    NPSTR.get(t as usize).copied()
}

/// Payload names as the RFCs abbreviate them.
pub fn payload_name(t: u8) -> Option<&'static str> {
    use payload_type::*;
    Some(match t {
        NONE => "NONE",
        SA => "SA",
        PROPOSAL => "P",
        TRANSFORM => "T",
        KE => "KE",
        ID => "ID",
        CERT => "CERT",
        CR => "CR",
        HASH => "HASH",
        SIG => "SIG",
        NONCE => "NONCE",
        NOTIFY => "N",
        DELETE => "D",
        VID => "VID",
        NAT_D | NAT_D_DRAFT => "NAT-D",
        NAT_OA | NAT_OA_DRAFT => "NAT-OA",
        V1_FRAGMENT => "FRAG",
        V2_SA => "SA",
        V2_KE => "KE",
        V2_IDI => "IDi",
        V2_IDR => "IDr",
        V2_CERT => "CERT",
        V2_CERTREQ => "CERTREQ",
        V2_AUTH => "AUTH",
        V2_NONCE => "Ni/Nr",
        V2_NOTIFY => "N",
        V2_DELETE => "D",
        V2_VID => "V",
        V2_TSI => "TSi",
        V2_TSR => "TSr",
        V2_SK => "SK",
        V2_CP => "CP",
        V2_EAP => "EAP",
        V2_SKF => "SKF",
        _ => return None,
    })
}

/// tcpdump's protocol-ID names (`protoidstr`, 1..=4).
pub fn protocol_name_tcpdump(p: u8) -> Option<&'static str> {
    Some(match p {
        1 => "isakmp",
        2 => "ipsec-ah",
        3 => "ipsec-esp",
        4 => "ipcomp",
        _ => return None,
    })
}

/// IKEv1 notify message names, as tcpdump spells them (dashes) for the types it knows,
/// RFC 3706 DPD names added.
pub fn ikev1_notify_name(t: u16) -> Option<&'static str> {
    const ERRORS: [&str; 31] = [
        "",
        "INVALID-PAYLOAD-TYPE",
        "DOI-NOT-SUPPORTED",
        "SITUATION-NOT-SUPPORTED",
        "INVALID-COOKIE",
        "INVALID-MAJOR-VERSION",
        "INVALID-MINOR-VERSION",
        "INVALID-EXCHANGE-TYPE",
        "INVALID-FLAGS",
        "INVALID-MESSAGE-ID",
        "INVALID-PROTOCOL-ID",
        "INVALID-SPI",
        "INVALID-TRANSFORM-ID",
        "ATTRIBUTES-NOT-SUPPORTED",
        "NO-PROPOSAL-CHOSEN",
        "BAD-PROPOSAL-SYNTAX",
        "PAYLOAD-MALFORMED",
        "INVALID-KEY-INFORMATION",
        "INVALID-ID-INFORMATION",
        "INVALID-CERT-ENCODING",
        "INVALID-CERTIFICATE",
        "CERT-TYPE-UNSUPPORTED",
        "INVALID-CERT-AUTHORITY",
        "INVALID-HASH-INFORMATION",
        "AUTHENTICATION-FAILED",
        "INVALID-SIGNATURE",
        "ADDRESS-NOTIFICATION",
        "NOTIFY-SA-LIFETIME",
        "CERTIFICATE-UNAVAILABLE",
        "UNSUPPORTED-EXCHANGE-TYPE",
        "UNEQUAL-PAYLOAD-LENGTHS",
    ];
    match t {
        1..=30 => Some(ERRORS[t as usize]),
        8192 => Some("RESERVED"),
        16384 => Some("CONNECTED"),
        24576 => Some("RESPONDER-LIFETIME"),
        24577 => Some("REPLAY-STATUS"),
        24578 => Some("INITIAL-CONTACT"),
        36136 => Some("R-U-THERE"),
        36137 => Some("R-U-THERE-ACK"),
        _ => None,
    }
}

/// IKEv2 notify message names (RFC 7296 and the IANA registry, common subset).
pub fn ikev2_notify_name(t: u16) -> Option<&'static str> {
    Some(match t {
        1 => "UNSUPPORTED_CRITICAL_PAYLOAD",
        4 => "INVALID_IKE_SPI",
        5 => "INVALID_MAJOR_VERSION",
        7 => "INVALID_SYNTAX",
        9 => "INVALID_MESSAGE_ID",
        11 => "INVALID_SPI",
        14 => "NO_PROPOSAL_CHOSEN",
        17 => "INVALID_KE_PAYLOAD",
        24 => "AUTHENTICATION_FAILED",
        34 => "SINGLE_PAIR_REQUIRED",
        35 => "NO_ADDITIONAL_SAS",
        36 => "INTERNAL_ADDRESS_FAILURE",
        37 => "FAILED_CP_REQUIRED",
        38 => "TS_UNACCEPTABLE",
        39 => "INVALID_SELECTORS",
        40 => "UNACCEPTABLE_ADDRESSES",
        41 => "UNEXPECTED_NAT_DETECTED",
        42 => "USE_ASSIGNED_HoA",
        43 => "TEMPORARY_FAILURE",
        44 => "CHILD_SA_NOT_FOUND",
        45 => "INVALID_GROUP_ID",
        46 => "AUTHORIZATION_FAILED",
        47 => "STATE_NOT_FOUND",
        16384 => "INITIAL_CONTACT",
        16385 => "SET_WINDOW_SIZE",
        16386 => "ADDITIONAL_TS_POSSIBLE",
        16387 => "IPCOMP_SUPPORTED",
        16388 => "NAT_DETECTION_SOURCE_IP",
        16389 => "NAT_DETECTION_DESTINATION_IP",
        16390 => "COOKIE",
        16391 => "USE_TRANSPORT_MODE",
        16392 => "HTTP_CERT_LOOKUP_SUPPORTED",
        16393 => "REKEY_SA",
        16394 => "ESP_TFC_PADDING_NOT_SUPPORTED",
        16395 => "NON_FIRST_FRAGMENTS_ALSO",
        16396 => "MOBIKE_SUPPORTED",
        16404 => "NO_NATS_ALLOWED",
        16405 => "AUTH_LIFETIME",
        16406 => "MULTIPLE_AUTH_SUPPORTED",
        16407 => "ANOTHER_AUTH_FOLLOWS",
        16408 => "REDIRECT_SUPPORTED",
        16409 => "REDIRECT",
        16410 => "REDIRECTED_FROM",
        16417 => "EAP_ONLY_AUTHENTICATION",
        16418 => "CHILDLESS_IKEV2_SUPPORTED",
        16419 => "QUICK_CRASH_DETECTION",
        16422 => "IKEV2_MESSAGE_ID_SYNC_SUPPORTED",
        16423 => "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED",
        16430 => "IKEV2_FRAGMENTATION_SUPPORTED",
        16431 => "SIGNATURE_HASH_ALGORITHMS",
        16434 => "PPK_IDENTITY",
        16435 => "NO_PPK_AUTH",
        16438 => "INTERMEDIATE_EXCHANGE_SUPPORTED",
        16441 => "ADDITIONAL_KEY_EXCHANGE",
        16442 => "USE_AGGFRAG",
        _ => return None,
    })
}

/// tcpdump's Diffie-Hellman group names (`dh_p_map`, 1..=18).
pub fn dh_group_name_tcpdump(g: u16) -> Option<&'static str> {
    Some(match g {
        1 => "modp768",
        2 => "modp1024",
        3 => "EC2N 2^155",
        4 => "EC2N 2^185",
        5 => "modp1536",
        6 => "iana-grp06",
        7 => "iana-grp07",
        8 => "iana-grp08",
        9 => "iana-grp09",
        10 => "iana-grp10",
        11 => "iana-grp11",
        12 => "iana-grp12",
        13 => "iana-grp13",
        14 => "modp2048",
        15 => "modp3072",
        16 => "modp4096",
        17 => "modp6144",
        18 => "modp8192",
        _ => return None,
    })
}

/// Diffie-Hellman group names as the IANA registry spells them (common subset).
pub fn dh_group_name(g: u16) -> Option<&'static str> {
    Some(match g {
        0 => "NONE",
        1 => "MODP-768",
        2 => "MODP-1024",
        5 => "MODP-1536",
        14 => "MODP-2048",
        15 => "MODP-3072",
        16 => "MODP-4096",
        17 => "MODP-6144",
        18 => "MODP-8192",
        19 => "ECP-256",
        20 => "ECP-384",
        21 => "ECP-521",
        22 => "MODP-1024-160",
        23 => "MODP-2048-224",
        24 => "MODP-2048-256",
        25 => "ECP-192",
        26 => "ECP-224",
        27 => "brainpoolP224r1",
        28 => "brainpoolP256r1",
        29 => "brainpoolP384r1",
        30 => "brainpoolP512r1",
        31 => "Curve25519",
        32 => "Curve448",
        _ => return None,
    })
}

/// IKEv2 transform-ID names (IANA spelling, common subset), by transform type.
pub fn ikev2_transform_name(kind: u8, id: u16) -> Option<&'static str> {
    Some(match (kind, id) {
        (1, 2) => "DES",
        (1, 3) => "3DES",
        (1, 11) => "NULL",
        (1, 12) => "AES-CBC",
        (1, 13) => "AES-CTR",
        (1, 14) => "AES-CCM-8",
        (1, 15) => "AES-CCM-12",
        (1, 16) => "AES-CCM-16",
        (1, 18) => "AES-GCM-8",
        (1, 19) => "AES-GCM-12",
        (1, 20) => "AES-GCM-16",
        (1, 23) => "CAMELLIA-CBC",
        (1, 28) => "CHACHA20-POLY1305",
        (2, 1) => "PRF_HMAC_MD5",
        (2, 2) => "PRF_HMAC_SHA1",
        (2, 4) => "PRF_AES128_XCBC",
        (2, 5) => "PRF_HMAC_SHA2_256",
        (2, 6) => "PRF_HMAC_SHA2_384",
        (2, 7) => "PRF_HMAC_SHA2_512",
        (2, 8) => "PRF_AES128_CMAC",
        (3, 0) => "NONE",
        (3, 1) => "AUTH_HMAC_MD5_96",
        (3, 2) => "AUTH_HMAC_SHA1_96",
        (3, 5) => "AUTH_AES_XCBC_96",
        (3, 8) => "AUTH_AES_CMAC_96",
        (3, 12) => "AUTH_HMAC_SHA2_256_128",
        (3, 13) => "AUTH_HMAC_SHA2_384_192",
        (3, 14) => "AUTH_HMAC_SHA2_512_256",
        (4, g) => return dh_group_name(g),
        (5, 0) => "No ESN",
        (5, 1) => "ESN",
        _ => return None,
    })
}

/// IKEv1 Oakley encryption algorithm names (RFC 2409 / IANA).
pub fn ikev1_encryption_name(id: u16) -> Option<&'static str> {
    Some(match id {
        1 => "DES-CBC",
        2 => "IDEA-CBC",
        3 => "Blowfish-CBC",
        4 => "RC5-R16-B64-CBC",
        5 => "3DES-CBC",
        6 => "CAST-CBC",
        7 => "AES-CBC",
        8 => "CAMELLIA-CBC",
        _ => return None,
    })
}

/// IKEv1 Oakley hash algorithm names.
pub fn ikev1_hash_name(id: u16) -> Option<&'static str> {
    Some(match id {
        1 => "MD5",
        2 => "SHA",
        3 => "Tiger",
        4 => "SHA2-256",
        5 => "SHA2-384",
        6 => "SHA2-512",
        _ => return None,
    })
}

/// IKEv1 Oakley authentication method names (XAUTH variants included).
pub fn ikev1_auth_method_name(id: u16) -> Option<&'static str> {
    Some(match id {
        1 => "pre-shared key",
        2 => "DSS signatures",
        3 => "RSA signatures",
        4 => "RSA encryption",
        5 => "revised RSA encryption",
        9 => "ECDSA-256",
        10 => "ECDSA-384",
        11 => "ECDSA-521",
        65001 => "XAUTHInitPreShared",
        65002 => "XAUTHRespPreShared",
        65005 => "XAUTHInitRSA",
        65006 => "XAUTHRespRSA",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(np: u8, ver: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, np, ver, 34, 0x08];
        m.extend_from_slice(&[0, 0, 0, 0]);
        let len = (HEADER_LEN + body.len()) as u32;
        m.extend_from_slice(&len.to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn header_fields() {
        let m = msg(33, 0x20, &[]);
        let h = Header::new_checked(&m[..]).unwrap();
        assert_eq!(h.initiator_spi(), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(h.major_version(), 2);
        assert_eq!(h.exchange_type(), exchange::IKE_SA_INIT);
        assert!(h.is_initiator() && !h.is_response());
        assert_eq!(h.length(), 28);
        assert!(Header::new_checked(&m[..27]).is_err());
    }

    #[test]
    fn v2_sa_ke_notify() {
        // SA with one proposal (IKE, 2 transforms: ENCR AES-CBC keylen 128, DH 14).
        let mut prop = vec![0, 0, 0, 0, 1, 1, 0, 2];
        prop.extend_from_slice(&[3, 0, 0, 12, 1, 0, 0, 12, 0x80, 14, 0, 128]);
        prop.extend_from_slice(&[0, 0, 0, 8, 4, 0, 0, 14]);
        let plen = prop.len() as u16;
        prop[2..4].copy_from_slice(&plen.to_be_bytes());
        let mut body = vec![34, 0, 0, 0];
        body.extend_from_slice(&prop);
        let sl = body.len() as u16;
        body[2..4].copy_from_slice(&sl.to_be_bytes());
        // KE group 14, 4 bytes data
        body.extend_from_slice(&[41, 0, 0, 12, 0, 14, 0, 0, 9, 9, 9, 9]);
        // Notify NAT_DETECTION_SOURCE_IP
        body.extend_from_slice(&[0, 0, 0, 12, 0, 0, 0x40, 0x04, 0xaa, 0xbb, 0xcc, 0xdd]);
        let m = msg(33, 0x20, &body);
        let h = Header::new_checked(&m[..]).unwrap();
        let ps: Vec<_> = h.payloads().collect::<Result<_, _>>().unwrap();
        assert_eq!(ps.len(), 3);
        let sa = Sa::parse(ps[0].body, 2);
        assert!(!sa.malformed);
        assert_eq!(sa.proposals.len(), 1);
        let t = &sa.proposals[0].transforms;
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].kind, t[0].id), (1, 12));
        assert_eq!(
            t[0].attribute(v2_transform::ATTR_KEY_LENGTH),
            Some(AttrValue::Basic(128))
        );
        assert_eq!(Ke::parse(ps[1].body, 2).unwrap().group, Some(14));
        let nd = NatD::from_payload(&ps[2], 2).unwrap();
        assert_eq!(nd.source, Some(true));
        assert_eq!(nd.hash, &[0xaa, 0xbb, 0xcc, 0xdd]);
    }

    #[test]
    fn chain_stops_on_bad_length() {
        let m = msg(13, 0x10, &[13, 0, 0, 2, 0, 0]);
        let h = Header::new_checked(&m[..]).unwrap();
        let v: Vec<_> = h.payloads().collect();
        assert_eq!(v, vec![Err(Error::BadLength)]);
        let m = msg(13, 0x10, &[13, 0, 0, 4, 13, 0, 0, 4]);
        let h = Header::new_checked(&m[..]).unwrap();
        let v: Vec<_> = h.payloads().collect();
        assert_eq!(v.len(), 3);
        assert_eq!(v[2], Err(Error::Truncated));
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut x: u32 = 12345;
        for n in 0..2000usize {
            let len = 28 + n % 90;
            let mut b = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                b.push((x & 0xff) as u8);
            }
            b[16] = (x % 50) as u8;
            b[17] = if n % 2 == 0 { 0x10 } else { 0x20 };
            let h = Header::new_checked(&b[..]).unwrap();
            for p in h.payloads().flatten() {
                let major = h.major_version();
                let _ = Sa::parse(p.body, major);
                let _ = Ke::parse(p.body, major);
                let _ = Id::parse(p.body, major).map(|i| i.ip_addr());
                let _ = Notify::parse(p.body, major);
                let _ = Delete::parse(p.body, major);
                let _ = NatD::from_payload(&p, major);
                let _ = Encrypted::from_payload(&p);
                let _ = V1Fragment::parse(p.body);
            }
        }
    }
}
