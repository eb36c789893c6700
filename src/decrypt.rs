//! Opens ESP packets and IKEv2 SK payloads with a [`KeyRing`](crate::keys::KeyRing)'s keys,
//! checking the ICV where its key is known: a mismatch is "wrong key or corrupted packet",
//! never a guess at the plaintext.

use crate::keys::{EspSa, IkeSa};

/// Why a packet could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Shorter than its IV, ICV and trailer, or not a whole number of cipher blocks.
    Truncated,
    /// The ICV does not match: wrong key or corrupted packet.
    Icv,
    /// The trailer's pad length runs past the payload, or the padding bytes are not 1, 2, 3...
    Padding,
    /// A key of the wrong length for its cipher.
    BadKey,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Failure::Truncated => "truncated",
            Failure::Icv => "wrong key or corrupted packet (ICV mismatch)",
            Failure::Padding => "wrong key or corrupted packet (bad padding)",
            Failure::BadKey => "key of the wrong length for its cipher",
        })
    }
}

/// Whether the ICV was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icv {
    Verified,
    /// No integrity key given (or no ICV): the plaintext is unauthenticated.
    NotChecked,
}

/// An opened packet: the next header (ESP) or first inner payload type (IKE SK), and the data
/// without IV, padding, trailer and ICV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    pub next: u8,
    pub data: Vec<u8>,
    pub icv: Icv,
}

/// Opens an ESP packet: `esp` starts at the SPI and ends with the ICV.
pub fn esp(sa: &EspSa, esp: &[u8]) -> Result<Plain, Failure> {
    let _ = (sa, esp);
    Err(Failure::BadKey)
}

/// Opens the SK (or SKF) payload of an IKEv2 message: `msg` is the whole message from the IKE
/// header (without the non-ESP marker), `sk` the offset of the SK/SKF payload's generic header
/// in it. `from_initiator` picks SK_ei/SK_ai or SK_er/SK_ar. For SKF, `Plain::next` is the
/// fragment's next payload (non-zero only in fragment 1).
pub fn ike_sk(sa: &IkeSa, msg: &[u8], sk: usize, from_initiator: bool) -> Result<Plain, Failure> {
    let _ = (sa, msg, sk, from_initiator);
    Err(Failure::BadKey)
}
