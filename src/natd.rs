//! NAT detection from the packets alone: recompute the NAT-D hashes (RFC 3947 for IKEv1 with the
//! negotiated hash, RFC 7296 §2.23 with SHA-1 for IKEv2) from the SPIs and the addresses and
//! ports each capture saw, and compare them with what the message carried.

use crate::track::IkeMsg;
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::net::{IpAddr, SocketAddr};

/// The hash of SPIs (or cookies), address and port.
pub fn natd_hash(alg: Alg, ispi: &[u8; 8], rspi: &[u8; 8], addr: SocketAddr) -> Vec<u8> {
    let mut data = Vec::with_capacity(34);
    data.extend_from_slice(ispi);
    data.extend_from_slice(rspi);
    match addr.ip() {
        IpAddr::V4(a) => data.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => data.extend_from_slice(&a.octets()),
    }
    data.extend_from_slice(&addr.port().to_be_bytes());
    match alg {
        Alg::Md5 => Md5::digest(&data).to_vec(),
        Alg::Sha1 => Sha1::digest(&data).to_vec(),
        Alg::Sha256 => Sha256::digest(&data).to_vec(),
        Alg::Sha384 => Sha384::digest(&data).to_vec(),
        Alg::Sha512 => Sha512::digest(&data).to_vec(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Alg {
    /// IKEv1 phase-1 hash attribute values (RFC 2409 appendix A, RFC 4868).
    pub fn from_v1(v: u16) -> Option<Alg> {
        match v {
            1 => Some(Alg::Md5),
            2 => Some(Alg::Sha1),
            4 => Some(Alg::Sha256),
            5 => Some(Alg::Sha384),
            6 => Some(Alg::Sha512),
            _ => None,
        }
    }
}

/// What the NAT-D payloads of one message say, checked against the addresses seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// The sender's source address/port hashes to what it sent (`None`: no source hash).
    pub source_ok: Option<bool>,
    /// The destination hash matches the destination seen.
    pub dest_ok: Option<bool>,
}

/// Checks the NAT-D payloads of `m` against its addresses as seen in this capture. `v1_hash` is
/// the IKEv1 SA's hash algorithm (from the same IKE SA's SA payload).
pub fn check(m: &IkeMsg, v1_hash: Option<u16>) -> Option<Check> {
    if m.natd.is_empty() {
        return None;
    }
    let alg = if m.major >= 2 {
        Alg::Sha1
    } else {
        Alg::from_v1(v1_hash?)?
    };
    let src = natd_hash(alg, &m.ispi, &m.rspi, m.src);
    let dst = natd_hash(alg, &m.ispi, &m.rspi, m.dst);
    let mut c = Check {
        source_ok: None,
        dest_ok: None,
    };
    for (i, (is_source, h)) in m.natd.iter().enumerate() {
        // IKEv1 lists the peer's (destination) hash first, then the sender's own ones.
        let is_source = is_source.unwrap_or(i > 0);
        let ok = if is_source { *h == src } else { *h == dst };
        let slot = if is_source { &mut c.source_ok } else { &mut c.dest_ok };
        // Several source hashes (multi-homed): one match is enough.
        *slot = Some(slot.unwrap_or(false) || ok);
    }
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ikev2_nat_detection_source_ip_is_sha1_of_spis_address_port() {
        // Expected value from Python's hashlib:
        // sha1(bytes(range(1,9)) + bytes(8) + bytes([192,0,2,1]) + (500).to_bytes(2,'big'))
        let h = natd_hash(
            Alg::Sha1,
            &[1, 2, 3, 4, 5, 6, 7, 8],
            &[0; 8],
            "192.0.2.1:500".parse().unwrap(),
        );
        assert_eq!(crate::track::hex(&h), "644b4575455bd6fcc1efe2be8162a9218e448e5f");
    }
}
