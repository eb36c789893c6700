//! The keys of a tunnel, wherever the user has them: what [`crate::decrypt`] needs to open ESP
//! packets and IKEv2 SK payloads. Parsers for each key source (ip xfrm, Wireshark's tables,
//! charon and pluto debug logs, tcpdump `-E` files) fill a [`KeyRing`]. Keys are never printed:
//! the types' `Debug` leaves them out.

use std::net::IpAddr;

pub mod charon;
mod load;
pub mod pluto;
pub mod tcpdump;
mod text;
pub mod wireshark;
pub mod xfrm;

pub use load::{load, load_as, parse, recognise, Kind, Loaded, MAX_LINE, MAX_SAS, MAX_WARNINGS};

/// An encryption transform, as IKEv2 names it (RFC 7296 §3.3.2, RFC 4106, RFC 7634). The key
/// length is the key's: AES-128/192/256 by 16/24/32 bytes. AEAD keys carry their salt at the end
/// (4 bytes for GCM and ChaCha20-Poly1305), as ip xfrm and Wireshark give them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encr {
    Null,
    DesCbc,
    Des3Cbc,
    AesCbc,
    /// AES-GCM with an ICV of 8, 12 or 16 bytes.
    AesGcm {
        icv: u8,
    },
    ChaCha20Poly1305,
}

impl Encr {
    /// An AEAD cipher: its tag is the ICV, and its key ends with the 4-byte salt.
    pub fn is_aead(self) -> bool {
        matches!(self, Encr::AesGcm { .. } | Encr::ChaCha20Poly1305)
    }
}

/// An integrity transform; `None` for AEAD ciphers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Integ {
    None,
    HmacMd5_96,
    HmacSha1_96,
    HmacSha256_128,
    HmacSha384_192,
    HmacSha512_256,
}

impl Integ {
    /// Bytes of ICV at the end of the packet.
    pub fn icv_len(self) -> usize {
        match self {
            Integ::None => 0,
            Integ::HmacMd5_96 | Integ::HmacSha1_96 => 12,
            Integ::HmacSha256_128 => 16,
            Integ::HmacSha384_192 => 24,
            Integ::HmacSha512_256 => 32,
        }
    }
}

/// The keys of one ESP SA (one direction).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EspSa {
    /// `None` when the source does not say (the SA is then tried on every ESP packet whose ICV
    /// can tell: an integrity key or an AEAD cipher is needed).
    pub spi: Option<u32>,
    /// The SA's addresses where the source says them; `None` matches any.
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    pub encr: Encr,
    pub encr_key: Vec<u8>,
    pub integ: Integ,
    /// `None` when the ICV's length is known and its key is not: the ICV is skipped, unchecked.
    pub integ_key: Option<Vec<u8>>,
    /// Extended sequence numbers (RFC 4304): the ICV (an AEAD's AAD) covers the sequence
    /// number's high half, which no packet carries.
    pub esn: bool,
}

/// The keys of one IKEv2 SA: both directions' SK_e and SK_a.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IkeSa {
    /// (initiator SPI, responder SPI); `None` when the source does not say (tried on every IKEv2
    /// SK payload whose ICV can tell).
    pub spis: Option<([u8; 8], [u8; 8])>,
    pub encr: Encr,
    pub integ: Integ,
    pub sk_ei: Vec<u8>,
    pub sk_er: Vec<u8>,
    pub sk_ai: Option<Vec<u8>>,
    pub sk_ar: Option<Vec<u8>>,
}

impl std::fmt::Debug for EspSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EspSa")
            .field("spi", &self.spi.map(|s| format!("{s:#010x}")))
            .field("src", &self.src)
            .field("dst", &self.dst)
            .field("encr", &self.encr)
            .field("integ", &self.integ)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for IkeSa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IkeSa")
            .field(
                "spis",
                &self
                    .spis
                    .map(|(i, r)| format!("{}/{}", crate::track::hex(&i), crate::track::hex(&r))),
            )
            .field("encr", &self.encr)
            .field("integ", &self.integ)
            .finish_non_exhaustive()
    }
}

/// The phase-1 encryption key of one IKEv1 SA, as Wireshark's `ikev1_decryption_table` holds
/// it: the algorithm is the one the SA payload negotiated.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Ikev1Sa {
    pub icookie: [u8; 8],
    pub encr_key: Vec<u8>,
}

impl std::fmt::Debug for Ikev1Sa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ikev1Sa")
            .field("icookie", &crate::track::hex(&self.icookie))
            .finish_non_exhaustive()
    }
}

/// All the keys given: ESP SAs and IKEv2 SAs, newest last.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    pub esp: Vec<EspSa>,
    pub ike: Vec<IkeSa>,
    /// IKEv1 phase-1 keys (Wireshark's `ikev1_decryption_table`); nothing decrypts with them yet.
    pub ikev1: Vec<Ikev1Sa>,
}

impl KeyRing {
    pub fn is_empty(&self) -> bool {
        self.esp.is_empty() && self.ike.is_empty() && self.ikev1.is_empty()
    }

    /// Adds `other`'s keys; an SA given twice is kept once (found by hash: sources hold up to
    /// 100 000 SAs each).
    pub fn extend(&mut self, other: KeyRing) {
        fn add<T: Clone + Eq + std::hash::Hash>(into: &mut Vec<T>, from: Vec<T>) {
            let mut seen: std::collections::HashSet<T> = into.iter().cloned().collect();
            for sa in from {
                if seen.insert(sa.clone()) {
                    into.push(sa);
                }
            }
        }
        add(&mut self.esp, other.esp);
        add(&mut self.ike, other.ike);
        add(&mut self.ikev1, other.ikev1);
    }

    /// The ESP SAs to try on a packet: those with this SPI whose addresses (where known) are
    /// these, newest first, then those whose SPI is unknown and whose ICV can tell.
    pub fn esp_candidates(&self, spi: u32, src: IpAddr, dst: IpAddr) -> impl Iterator<Item = &EspSa> {
        let addrs = move |sa: &&EspSa| sa.src.is_none_or(|a| a == src) && sa.dst.is_none_or(|a| a == dst);
        let exact = self
            .esp
            .iter()
            .rev()
            .filter(move |sa| sa.spi == Some(spi))
            .filter(addrs);
        let open = self
            .esp
            .iter()
            .rev()
            .filter(move |sa| sa.spi.is_none() && (sa.integ_key.is_some() || sa.encr.is_aead()));
        exact.chain(open.filter(addrs))
    }

    /// The IKE SAs to try on a message with these SPIs: exact matches, newest first, then those
    /// whose SPIs are unknown and whose ICV can tell.
    pub fn ike_candidates(&self, spii: [u8; 8], spir: [u8; 8]) -> impl Iterator<Item = &IkeSa> {
        let exact = self.ike.iter().rev().filter(move |sa| sa.spis == Some((spii, spir)));
        let open = self
            .ike
            .iter()
            .rev()
            .filter(|sa| sa.spis.is_none() && (sa.sk_ai.is_some() || sa.encr.is_aead()));
        exact.chain(open)
    }
}
