//! Opens ESP packets and IKEv2 SK payloads with a [`KeyRing`](crate::keys::KeyRing)'s keys,
//! checking the ICV where its key is known: a mismatch is "wrong key or corrupted packet",
//! never a guess at the plaintext.
//!
//! ESP (RFC 4303): NULL, DES/3DES/AES in CBC with an explicit IV of one block, AES-GCM (RFC 4106)
//! and ChaCha20-Poly1305 (RFC 7634) with an 8-byte IV, the nonce being the key's 4-byte salt and
//! the IV, the AAD the SPI and the 32-bit sequence number (extended sequence numbers are not
//! supported: their high half is in no packet). HMAC ICVs cover the SPI through the ciphertext.
//! IKEv2 SK (RFC 7296 §3.14), AEAD per RFC 5282 (AAD from the IKE header through the SK payload
//! header), SKF per RFC 7383 (its 8-byte header in the AAD and the integrity scope).
//!
//! Nothing here allocates more than the input's size, and no input panics.

use crate::keys::{Encr, EspSa, IkeSa, Integ};
use aes::cipher::block_padding::NoPadding;
use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockCipher, BlockDecrypt, BlockDecryptMut, BlockEncrypt, BlockSizeUser, KeyInit, KeyIvInit};
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::AeadInPlace;
use hmac::Mac;

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

/// The block ciphers of the CBC transforms (and of tcpdump's ECB names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockCipherKind {
    Des,
    Des3,
    /// AES-128, -192 or -256 by the key's length.
    Aes,
}

impl BlockCipherKind {
    pub fn block_size(self) -> usize {
        match self {
            BlockCipherKind::Des | BlockCipherKind::Des3 => 8,
            BlockCipherKind::Aes => 16,
        }
    }
}

/// Decrypts `buf` in place: CBC with `iv`, or ECB when `iv` is `None` (tcpdump's `-ecb` names).
/// `buf` must be whole blocks; the key must be the cipher's length.
pub fn block_decrypt(kind: BlockCipherKind, key: &[u8], iv: Option<&[u8]>, buf: &mut [u8]) -> Result<(), Failure> {
    match (kind, key.len()) {
        (BlockCipherKind::Des, 8) => run_blocks::<des::Des>(key, iv, buf),
        (BlockCipherKind::Des3, 24) => run_blocks::<des::TdesEde3>(key, iv, buf),
        (BlockCipherKind::Aes, 16) => run_blocks::<aes::Aes128>(key, iv, buf),
        (BlockCipherKind::Aes, 24) => run_blocks::<aes::Aes192>(key, iv, buf),
        (BlockCipherKind::Aes, 32) => run_blocks::<aes::Aes256>(key, iv, buf),
        _ => Err(Failure::BadKey),
    }
}

fn run_blocks<C>(key: &[u8], iv: Option<&[u8]>, buf: &mut [u8]) -> Result<(), Failure>
where
    C: BlockCipher + BlockDecrypt + BlockDecryptMut + KeyInit,
{
    let bs = <C as BlockSizeUser>::block_size();
    if buf.len() % bs != 0 {
        return Err(Failure::Truncated);
    }
    match iv {
        Some(iv) => {
            let d = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(|_| Failure::BadKey)?;
            d.decrypt_padded_mut::<NoPadding>(buf).map_err(|_| Failure::Truncated)?;
        }
        None => {
            let c = C::new_from_slice(key).map_err(|_| Failure::BadKey)?;
            for b in buf.chunks_exact_mut(bs) {
                c.decrypt_block(GenericArray::from_mut_slice(b));
            }
        }
    }
    Ok(())
}

/// The wire shape of a transform: IV bytes, the block the ciphertext is a multiple of, ICV bytes.
#[derive(Debug, Clone, Copy)]
struct Shape {
    iv: usize,
    block: usize,
    icv: usize,
}

/// ESP and IKEv2's SK payload lay their transforms out alike.
fn shape(encr: Encr, integ: Integ) -> Shape {
    let (iv, block, aead_icv) = match encr {
        Encr::Null => (0, 1, None),
        Encr::DesCbc | Encr::Des3Cbc => (8, 8, None),
        Encr::AesCbc => (16, 16, None),
        Encr::AesGcm { icv } => (8, 1, Some(icv as usize)),
        Encr::ChaCha20Poly1305 => (8, 1, Some(16)),
    };
    Shape {
        iv,
        block,
        icv: aead_icv.unwrap_or(integ.icv_len()),
    }
}

/// Checks the HMAC over `covered` against the truncated `icv`.
fn hmac_check(integ: Integ, key: &[u8], covered: &[&[u8]], icv: &[u8]) -> Result<(), Failure> {
    fn check<M: Mac + hmac::KeyInit>(key: &[u8], covered: &[&[u8]], icv: &[u8]) -> Result<(), Failure> {
        // HMAC takes keys of any length, so this cannot fail on the key.
        let mut m = <M as hmac::KeyInit>::new_from_slice(key).map_err(|_| Failure::BadKey)?;
        for part in covered {
            m.update(part);
        }
        m.verify_truncated_left(icv).map_err(|_| Failure::Icv)
    }
    match integ {
        Integ::None => Ok(()),
        Integ::HmacMd5_96 => check::<hmac::Hmac<md5::Md5>>(key, covered, icv),
        Integ::HmacSha1_96 => check::<hmac::Hmac<sha1::Sha1>>(key, covered, icv),
        Integ::HmacSha256_128 => check::<hmac::Hmac<sha2::Sha256>>(key, covered, icv),
        Integ::HmacSha384_192 => check::<hmac::Hmac<sha2::Sha384>>(key, covered, icv),
        Integ::HmacSha512_256 => check::<hmac::Hmac<sha2::Sha512>>(key, covered, icv),
    }
}

/// Opens an AEAD ciphertext in place: `key` ends with the 4-byte salt, the nonce is the salt and
/// the 8-byte `iv`.
fn aead_open(encr: Encr, key: &[u8], iv: &[u8], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), Failure> {
    let Some(split) = key.len().checked_sub(4) else {
        return Err(Failure::BadKey);
    };
    let (k, salt) = key.split_at(split);
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(salt);
    nonce[4..].copy_from_slice(iv);
    match encr {
        Encr::AesGcm { .. } => match k.len() {
            16 => gcm_open::<aes::Aes128>(k, &nonce, aad, buf, tag),
            24 => gcm_open::<aes::Aes192>(k, &nonce, aad, buf, tag),
            32 => gcm_open::<aes::Aes256>(k, &nonce, aad, buf, tag),
            _ => Err(Failure::BadKey),
        },
        Encr::ChaCha20Poly1305 => {
            if k.len() != 32 || tag.len() != 16 {
                return Err(Failure::BadKey);
            }
            let c = chacha20poly1305::ChaCha20Poly1305::new_from_slice(k).map_err(|_| Failure::BadKey)?;
            c.decrypt_in_place_detached(
                GenericArray::from_slice(&nonce),
                aad,
                buf,
                GenericArray::from_slice(tag),
            )
            .map_err(|_| Failure::Icv)
        }
        _ => Err(Failure::BadKey),
    }
}

fn gcm_open<A>(key: &[u8], nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), Failure>
where
    A: BlockCipher + BlockSizeUser<BlockSize = U16> + BlockEncrypt + KeyInit,
{
    let n = GenericArray::from_slice(nonce);
    match tag.len() {
        16 => aes_gcm::AesGcm::<A, U12, U16>::new_from_slice(key)
            .map_err(|_| Failure::BadKey)?
            .decrypt_in_place_detached(n, aad, buf, GenericArray::from_slice(tag))
            .map_err(|_| Failure::Icv),
        12 => aes_gcm::AesGcm::<A, U12, U12>::new_from_slice(key)
            .map_err(|_| Failure::BadKey)?
            .decrypt_in_place_detached(n, aad, buf, GenericArray::from_slice(tag))
            .map_err(|_| Failure::Icv),
        8 => {
            // aes-gcm has no 8-byte tags. GCM's CTR is its own inverse: "encrypting" the
            // ciphertext yields the plaintext, encrypting that yields the ciphertext back with
            // its full tag, whose first 8 bytes are the ICV; a third pass gives the plaintext.
            let c = aes_gcm::AesGcm::<A, U12, U16>::new_from_slice(key).map_err(|_| Failure::BadKey)?;
            let too_long = |_| Failure::Truncated;
            c.encrypt_in_place_detached(n, &[], buf).map_err(too_long)?;
            let full = c.encrypt_in_place_detached(n, aad, buf).map_err(too_long)?;
            let diff = full[..8].iter().zip(tag).fold(0u8, |acc, (a, b)| acc | (a ^ b));
            if diff != 0 {
                return Err(Failure::Icv);
            }
            c.encrypt_in_place_detached(n, &[], buf).map_err(too_long)?;
            Ok(())
        }
        _ => Err(Failure::BadKey),
    }
}

/// Decrypts `ct` (after `iv`) with the encryption transform, checking an AEAD tag; the HMAC, if
/// any, is the caller's.
fn open(encr: Encr, key: &[u8], iv: &[u8], aad: &[u8], ct: &[u8], tag: &[u8]) -> Result<Vec<u8>, Failure> {
    let key_ok = match encr {
        Encr::Null => true,
        Encr::DesCbc => key.len() == 8,
        Encr::Des3Cbc => key.len() == 24,
        Encr::AesCbc => matches!(key.len(), 16 | 24 | 32),
        Encr::AesGcm { .. } => matches!(key.len(), 20 | 28 | 36),
        Encr::ChaCha20Poly1305 => key.len() == 36,
    };
    if !key_ok {
        return Err(Failure::BadKey);
    }
    let mut buf = ct.to_vec();
    match encr {
        Encr::Null => {}
        Encr::DesCbc => block_decrypt(BlockCipherKind::Des, key, Some(iv), &mut buf)?,
        Encr::Des3Cbc => block_decrypt(BlockCipherKind::Des3, key, Some(iv), &mut buf)?,
        Encr::AesCbc => block_decrypt(BlockCipherKind::Aes, key, Some(iv), &mut buf)?,
        Encr::AesGcm { .. } | Encr::ChaCha20Poly1305 => aead_open(encr, key, iv, aad, &mut buf, tag)?,
    }
    Ok(buf)
}

/// Opens an ESP packet: `esp` starts at the SPI and ends with the ICV.
pub fn esp(sa: &EspSa, esp: &[u8]) -> Result<Plain, Failure> {
    let s = shape(sa.encr, sa.integ);
    // SPI and sequence number, IV, pad length and next header, ICV.
    if esp.len() < 8 + s.iv + 2 + s.icv {
        return Err(Failure::Truncated);
    }
    let icv_at = esp.len() - s.icv;
    let (iv, ct) = esp[8..icv_at].split_at(s.iv);
    if ct.len() % s.block != 0 {
        return Err(Failure::Truncated);
    }
    let icv_bytes = &esp[icv_at..];
    // With extended sequence numbers the ICV also covers the sequence number's high half (RFC
    // 4303 §2.2.1: appended after the trailer) and an AEAD's AAD is SPI, high half, low half
    // (RFC 4106 §5, RFC 7634 §2.1). No packet carries the high half: 0 until 2^32 packets.
    let high = [0u8; 4];
    let mut icv = Icv::NotChecked;
    if sa.encr.is_aead() {
        icv = Icv::Verified;
    } else if let (Some(key), true) = (&sa.integ_key, s.icv > 0) {
        let covered: &[&[u8]] = if sa.esn {
            &[&esp[..icv_at], &high]
        } else {
            &[&esp[..icv_at]]
        };
        hmac_check(sa.integ, key, covered, icv_bytes)?;
        icv = Icv::Verified;
    }
    let esn_aad;
    let aad: &[u8] = if sa.esn {
        esn_aad = [&esp[..4], &high[..], &esp[4..8]].concat();
        &esn_aad
    } else {
        &esp[..8]
    };
    let mut data = open(sa.encr, &sa.encr_key, iv, aad, ct, icv_bytes)?;
    let n = data.len();
    let padlen = data[n - 2] as usize;
    let next = data[n - 1];
    if padlen + 2 > n {
        return Err(Failure::Padding);
    }
    let body = n - 2 - padlen;
    // RFC 4303 §2.4: the default padding is 1, 2, 3...
    if data[body..n - 2].iter().enumerate().any(|(i, &b)| b != (i + 1) as u8) {
        return Err(Failure::Padding);
    }
    data.truncate(body);
    Ok(Plain { next, data, icv })
}

/// IKEv2 payload types of the encrypted payloads.
const SK: u8 = 46;
const SKF: u8 = 53;

/// The type of the payload at `at`, following the chain from the IKE header; SK when the chain
/// does not lead there.
fn payload_type_at(msg: &[u8], at: usize) -> u8 {
    let (Some(&first), mut off) = (msg.get(16), 28) else {
        return SK;
    };
    let mut np = first;
    // Each step moves on by at least 4 bytes: bounded by the message's length.
    while off < at {
        let Some(h) = msg.get(off..off + 4) else { return SK };
        let len = u16::from_be_bytes([h[2], h[3]]) as usize;
        if len < 4 {
            return SK;
        }
        np = h[0];
        off += len;
    }
    if off == at {
        np
    } else {
        SK
    }
}

/// Opens the SK (or SKF) payload of an IKEv2 message: `msg` is the whole message from the IKE
/// header (without the non-ESP marker), `sk` the offset of the SK/SKF payload's generic header
/// in it. `from_initiator` picks SK_ei/SK_ai or SK_er/SK_ar. For SKF, `Plain::next` is the
/// fragment's next payload (non-zero only in fragment 1).
pub fn ike_sk(sa: &IkeSa, msg: &[u8], sk: usize, from_initiator: bool) -> Result<Plain, Failure> {
    let mut p = ike_sk_padded(sa, msg, sk, from_initiator)?;
    let padlen = p.data[p.data.len() - 1] as usize;
    p.data.truncate(p.data.len() - 1 - padlen);
    Ok(p)
}

/// [`ike_sk`] with the padding and pad length byte left at the end of `Plain::data` (checked
/// all the same), as tcpdump's printer reads a decrypted SK payload: its last payload's hex dump
/// runs on into them.
pub fn ike_sk_padded(sa: &IkeSa, msg: &[u8], sk: usize, from_initiator: bool) -> Result<Plain, Failure> {
    if sk < 28 {
        return Err(Failure::Truncated);
    }
    let Some(h) = msg.get(sk..sk.saturating_add(4)) else {
        return Err(Failure::Truncated);
    };
    let next = h[0];
    let end = sk + u16::from_be_bytes([h[2], h[3]]) as usize;
    if end > msg.len() {
        return Err(Failure::Truncated);
    }
    let header = if payload_type_at(msg, sk) == SKF { 8 } else { 4 };
    let s = shape(sa.encr, sa.integ);
    let body = sk + header;
    // IV, at least the pad length byte, ICV.
    if end < body + s.iv + 1 + s.icv {
        return Err(Failure::Truncated);
    }
    let icv_at = end - s.icv;
    let (iv, ct) = msg[body..icv_at].split_at(s.iv);
    if ct.len() % s.block != 0 {
        return Err(Failure::Truncated);
    }
    let (ek, ak) = if from_initiator {
        (&sa.sk_ei, &sa.sk_ai)
    } else {
        (&sa.sk_er, &sa.sk_ar)
    };
    let icv_bytes = &msg[icv_at..end];
    let mut icv = Icv::NotChecked;
    if sa.encr.is_aead() {
        icv = Icv::Verified;
    } else if let (Some(key), true) = (ak, s.icv > 0) {
        hmac_check(sa.integ, key, &[&msg[..icv_at]], icv_bytes)?;
        icv = Icv::Verified;
    }
    let data = open(sa.encr, ek, iv, &msg[..body], ct, icv_bytes)?;
    // RFC 7296 §3.14: the padding's contents are arbitrary; only its length is checked.
    let n = data.len();
    if data[n - 1] as usize + 1 > n {
        return Err(Failure::Padding);
    }
    Ok(Plain { next, data, icv })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::CaptureReader;
    use crate::wire::packet::{Decoder, UdpKind, L4};
    use std::net::IpAddr;
    use std::path::Path;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// An ESP packet from its SPI on, with its source and destination.
    type EspPacket = (IpAddr, IpAddr, Vec<u8>);

    /// The ESP packets and IKE messages of a capture.
    fn captured(path: &str) -> (Vec<EspPacket>, Vec<Vec<u8>>) {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let mut r = CaptureReader::new(std::fs::File::open(p).unwrap()).unwrap();
        let mut d = Decoder::default();
        let (mut esp, mut ike) = (Vec::new(), Vec::new());
        let mut n = 0;
        while let Some(f) = r.next_frame() {
            n += 1;
            let _ = d.decode(&f.unwrap(), n, |x| match x.l4 {
                L4::Esp(e)
                | L4::Udp {
                    kind: UdpKind::Esp(e), ..
                } => esp.push((x.ip.src, x.ip.dst, e.data.to_vec())),
                L4::Udp {
                    kind: UdpKind::Ike { msg, .. },
                    ..
                } => ike.push(msg.to_vec()),
                _ => {}
            });
        }
        (esp, ike)
    }

    fn esp_sa(encr: Encr, key: &str, integ: Integ, ikey: Option<&str>) -> EspSa {
        EspSa {
            spi: None,
            src: None,
            dst: None,
            encr,
            encr_key: hex(key),
            integ,
            integ_key: ikey.map(hex),
            esn: false,
        }
    }

    /// The inner packet is tcpdump's test ping: IPv4, ICMP, 192.0.2.1 > 192.0.1.1, echo request.
    fn is_the_ping(p: &Plain) -> bool {
        let d = &p.data;
        p.next == 4
            && d.len() == 84
            && d[0] == 0x45
            && d[9] == 1
            && d[12..16] == [192, 0, 2, 1]
            && d[16..20] == [192, 0, 1, 1]
            && d[20] == 8
    }

    #[test]
    fn tcpdump_3des_and_aes256_cbc_captures_open() {
        for (file, encr, key) in [
            (
                "tests/data/corpus/tcpdump/02-sunrise-sunset-esp.pcap",
                Encr::Des3Cbc,
                "4043434545464649494a4a4c4c4f4f515152525454575758",
            ),
            (
                "tests/data/corpus/tcpdump/08-sunrise-sunset-aes.pcap",
                Encr::AesCbc,
                "aaaabbbbccccdddd4043434545464649494a4a4c4c4f4f515152525454575758",
            ),
        ] {
            let (esp, _) = captured(file);
            assert!(esp.len() >= 3, "{file}");
            let sa = esp_sa(encr, key, Integ::HmacSha1_96, None);
            for (_, _, e) in &esp {
                let p = super::esp(&sa, e).unwrap();
                assert!(is_the_ping(&p), "{file}: {p:?}");
                assert_eq!(p.icv, Icv::NotChecked);
            }
            // Without an integrity key a wrong key shows only in the trailer.
            let mut bad = sa.clone();
            // (Bit 0 of a DES key byte is parity, ignored.)
            bad.encr_key[0] ^= 2;
            assert!(esp
                .iter()
                .all(|(_, _, e)| !super::esp(&bad, e).is_ok_and(|p| is_the_ping(&p))));
            let short = esp_sa(encr, &key[2..], Integ::HmacSha1_96, None);
            assert_eq!(super::esp(&short, &esp[0].2), Err(Failure::BadKey));
        }
    }

    /// The SA of tcpdump's ikev2pI2 `-E` secrets. Their SHA-1 keys do not reproduce the
    /// capture's ICV over any range of the message (its SPIs look rewritten after the fact),
    /// so only decryption can be checked with them.
    fn ikev2pi2_sa() -> IkeSa {
        IkeSa {
            spis: None,
            encr: Encr::AesCbc,
            integ: Integ::HmacSha1_96,
            sk_ei: hex("3f44bf47cafd8150591deb088199fcbf"),
            sk_er: hex("bedb67ec7dc3d00cccac42e70cd63bde"),
            sk_ai: None,
            sk_ar: None,
        }
    }

    #[test]
    fn tcpdump_ikev2pi2_ike_auth_opens() {
        let (_, ike) = captured("tests/data/corpus/tcpdump/ikev2pI2.pcap");
        let auth: Vec<_> = ike.iter().filter(|m| m.len() > 28 && m[18] == 35).collect();
        assert_eq!(auth.len(), 1);
        let m = auth[0];
        assert_eq!(m[16], SK);
        let mut sa = ikev2pi2_sa();
        let p = ike_sk(&sa, m, 28, true).unwrap();
        assert_eq!(p.icv, Icv::NotChecked);
        // IDi first (as tcpdump prints it); the payloads' lengths lead exactly to the end of
        // the plaintext, which only the right key and pad length give.
        assert_eq!(p.next, 35);
        let mut off = 0;
        let mut np = p.next;
        while np != 0 {
            np = p.data[off];
            off += u16::from_be_bytes([p.data[off + 2], p.data[off + 3]]) as usize;
        }
        assert_eq!(off, p.data.len());
        assert_eq!(p.data[4], 2, "ID type FQDN");
        // With the secrets' SHA-1 key the ICV is checked, and does not match.
        sa.sk_ai = Some(hex("4ea8e662b07cdd430f6944c6723e4b82d5722418"));
        assert_eq!(ike_sk(&sa, m, 28, true), Err(Failure::Icv));
        // Every truncation: an error, never a panic.
        sa.sk_ai = None;
        for cut in 0..m.len() {
            assert!(ike_sk(&sa, &m[..cut], 28, true).is_err());
        }
    }

    /// A vector of tests/data/decrypt recorded by lab/record-esp-vectors: its ESP SAs (sg1 to
    /// sg2 first) and its IKE SA.
    fn vector(name: &str) -> (Vec<EspSa>, IkeSa) {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/decrypt/{name}.keys"));
        let text = std::fs::read_to_string(p).unwrap();
        let encr = |n: &str| match n {
            "aes128" | "aes192" | "aes256" => Encr::AesCbc,
            "3des" => Encr::Des3Cbc,
            "chacha20poly1305" => Encr::ChaCha20Poly1305,
            g => Encr::AesGcm {
                icv: g.rsplit("gcm").next().unwrap().parse().unwrap(),
            },
        };
        let integ = |n: &str| match n {
            "-" => Integ::None,
            "md5" => Integ::HmacMd5_96,
            "sha1" => Integ::HmacSha1_96,
            "sha256" => Integ::HmacSha256_128,
            "sha384" => Integ::HmacSha384_192,
            "sha512" => Integ::HmacSha512_256,
            i => panic!("{i}"),
        };
        let key = |k: &str| (k != "-").then(|| hex(k));
        let (mut esp, mut ike) = (Vec::new(), None);
        for l in text.lines() {
            let f: Vec<&str> = l.split(' ').collect();
            match f[0] {
                "esp" => esp.push(EspSa {
                    spi: Some(u32::from_str_radix(f[1], 16).unwrap()),
                    src: Some(f[2].parse().unwrap()),
                    dst: Some(f[3].parse().unwrap()),
                    encr: encr(f[4]),
                    encr_key: hex(f[5]),
                    integ: integ(f[6]),
                    integ_key: key(f[7]),
                    esn: false,
                }),
                _ => {
                    ike = Some(IkeSa {
                        spis: Some((hex(f[1]).try_into().unwrap(), hex(f[2]).try_into().unwrap())),
                        encr: encr(f[3]),
                        sk_ei: hex(f[4]),
                        sk_er: hex(f[5]),
                        integ: integ(f[6]),
                        sk_ai: key(f[7]),
                        sk_ar: key(f[8]),
                    })
                }
            }
        }
        (esp, ike.unwrap())
    }

    const VECTORS: [&str; 10] = [
        "aes128gcm16",
        "aes256gcm12",
        "aes192gcm8",
        "chacha20poly1305",
        "aes128-sha256",
        "aes192-sha384",
        "aes256-sha512",
        "3des-sha1",
        "aes128-md5",
        "aes256gcm16-certs",
    ];

    #[test]
    fn strongswan_esp_opens_verified_to_the_pings_sent() {
        for name in VECTORS {
            let (sas, _) = vector(name);
            let (esp, _) = captured(&format!("tests/data/decrypt/{name}.pcap"));
            assert_eq!(esp.len(), 4, "{name}: two pings, two replies");
            for (src, dst, e) in &esp {
                let spi = u32::from_be_bytes(e[..4].try_into().unwrap());
                let sa = sas.iter().find(|sa| sa.spi == Some(spi)).unwrap();
                assert_eq!((sa.src, sa.dst), (Some(*src), Some(*dst)), "{name}");
                let p = super::esp(sa, e).unwrap_or_else(|f| panic!("{name}: {f}"));
                assert_eq!(p.icv, Icv::Verified, "{name}");
                // Tunnel mode: IPv4 with ICMP inside, client1 <-> client2, echo request there and
                // reply back, and the ICMP checksum holds over the whole inner packet.
                let d = &p.data;
                assert_eq!((p.next, d[0], d[9]), (4, 0x45, 1), "{name}");
                let (c1, c2) = ([10, 1, 0, 10], [10, 2, 0, 10]);
                let request = sa.src == Some("192.0.2.1".parse().unwrap());
                let (s, t, kind) = if request { (c1, c2, 8) } else { (c2, c1, 0) };
                assert_eq!((&d[12..16], &d[16..20], d[20]), (&s[..], &t[..], kind), "{name}");
                assert_eq!(u16::from_be_bytes([d[2], d[3]]) as usize, d.len(), "{name}");
                assert_eq!(
                    crate::wire::checksum::fold(crate::wire::checksum::sum(&d[20..], 0)),
                    0,
                    "{name}"
                );
                // Any byte flipped, from the SPI to the ICV: the ICV (or tag) no longer matches.
                for i in [0, 5, 8, 20, e.len() / 2, e.len() - 17, e.len() - 1] {
                    let mut c = e.clone();
                    c[i] ^= 0x01;
                    assert_eq!(super::esp(sa, &c), Err(Failure::Icv), "{name} byte {i}");
                }
                // The wrong key: the other direction's.
                let other = sas.iter().find(|o| o.spi != Some(spi)).unwrap();
                let mut wrong = other.clone();
                wrong.spi = sa.spi;
                assert_eq!(super::esp(&wrong, e), Err(Failure::Icv), "{name}");
                // Integrity key unknown: CBC still opens, unchecked; a bad encryption key then
                // shows in the padding or the next header.
                if sa.integ != Integ::None {
                    let mut blind = sa.clone();
                    blind.integ_key = None;
                    let q = super::esp(&blind, e).unwrap();
                    assert_eq!((q.icv, &q.data), (Icv::NotChecked, &p.data));
                    blind.encr_key = other.encr_key.clone();
                    assert!(
                        super::esp(&blind, e).is_err_and(|f| f == Failure::Padding)
                            || super::esp(&blind, e).unwrap().next != 4
                    );
                }
            }
        }
    }

    /// Where the SK or SKF payload is (the first payload in every message here) and its type.
    fn sk_payload(m: &[u8]) -> Option<(usize, u8)> {
        (m.len() > 28 && matches!(m[16], SK | SKF)).then_some((28, m[16]))
    }

    /// Follows a chain of IKEv2 payloads from `np` and says where it ends.
    fn chain_end(d: &[u8], mut np: u8) -> usize {
        let mut off = 0;
        while np != 0 {
            np = d[off];
            off += u16::from_be_bytes([d[off + 2], d[off + 3]]) as usize;
        }
        off
    }

    /// Extended sequence numbers: the ICV covers the high half after the trailer. A real packet
    /// (no ESN) does not verify as ESN; the same packet with its ICV made by OpenSSL over the
    /// packet and a zero high half opens to the same plaintext, verified.
    #[test]
    fn esn_icv_covers_the_high_half() {
        let (sas, _) = vector("aes128-sha256");
        let (esp, _) = captured("tests/data/decrypt/aes128-sha256.pcap");
        let (_, _, e) = &esp[0];
        let spi = u32::from_be_bytes(e[..4].try_into().unwrap());
        let mut sa = sas.iter().find(|sa| sa.spi == Some(spi)).unwrap().clone();
        let plain = super::esp(&sa, e).unwrap();
        sa.esn = true;
        assert_eq!(super::esp(&sa, e), Err(Failure::Icv));
        let icv_at = e.len() - 16;
        let dir = std::env::temp_dir().join(format!("ipsec-doctor-esn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let covered = dir.join("covered");
        std::fs::write(&covered, [&e[..icv_at], &[0u8; 4][..]].concat()).unwrap();
        let key: String = sa
            .integ_key
            .as_ref()
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let out = std::process::Command::new("openssl")
            .args([
                "dgst",
                "-sha256",
                "-mac",
                "HMAC",
                "-macopt",
                &format!("hexkey:{key}"),
                "-binary",
            ])
            .arg(&covered)
            .output();
        let _ = std::fs::remove_dir_all(&dir);
        let Some(out) = out.ok().filter(|o| o.status.success()) else {
            assert!(std::env::var_os("CI").is_none(), "openssl is needed");
            return;
        };
        let esn_packet = [&e[..icv_at], &out.stdout[..16]].concat();
        let p = super::esp(&sa, &esn_packet).unwrap();
        assert_eq!((p.icv, &p.data, p.next), (Icv::Verified, &plain.data, plain.next));
        // An AEAD's AAD takes the high half too: a real GCM packet does not open as ESN.
        let (sas, _) = vector("aes128gcm16");
        let (esp, _) = captured("tests/data/decrypt/aes128gcm16.pcap");
        let (_, _, e) = &esp[0];
        let spi = u32::from_be_bytes(e[..4].try_into().unwrap());
        let mut sa = sas.iter().find(|sa| sa.spi == Some(spi)).unwrap().clone();
        assert!(super::esp(&sa, e).is_ok());
        sa.esn = true;
        assert_eq!(super::esp(&sa, e), Err(Failure::Icv));
    }

    #[test]
    fn strongswan_ike_sk_and_skf_open_verified() {
        for name in VECTORS {
            let (_, sa) = vector(name);
            let (_, ike) = captured(&format!("tests/data/decrypt/{name}.pcap"));
            let mut opened = 0;
            let mut fragments: Vec<(bool, Plain)> = Vec::new();
            for m in &ike {
                let Some((sk, kind)) = sk_payload(m) else { continue };
                assert_eq!((&m[..8], &m[8..16]), (&sa.spis.unwrap().0[..], &sa.spis.unwrap().1[..]));
                let from_initiator = m[19] & 0x08 != 0;
                let p = ike_sk(&sa, m, sk, from_initiator).unwrap_or_else(|f| panic!("{name}: {f}"));
                assert_eq!(p.icv, Icv::Verified, "{name}");
                if kind == SK {
                    // IKE_AUTH: IDi or IDr first, then the payloads to the end of the plaintext.
                    assert_eq!(p.next, if from_initiator { 35 } else { 36 }, "{name}");
                    assert_eq!(chain_end(&p.data, p.next), p.data.len(), "{name}");
                } else {
                    fragments.push((from_initiator, p));
                }
                opened += 1;
                for i in [0, 17, 27, 28, 29, 40, m.len() - 1] {
                    let mut c = m.clone();
                    c[i] ^= 0x01;
                    assert_eq!(
                        ike_sk(&sa, &c, sk, from_initiator),
                        Err(Failure::Icv),
                        "{name} byte {i}"
                    );
                }
                assert_eq!(ike_sk(&sa, m, sk, !from_initiator), Err(Failure::Icv), "{name}");
            }
            if name.ends_with("-certs") {
                // Two fragments each way; the first names the first payload inside, and the
                // fragments put together are the whole chain.
                assert_eq!(fragments.len(), 4, "{name}");
                for side in [true, false] {
                    let f: Vec<&Plain> = fragments.iter().filter(|(i, _)| *i == side).map(|(_, p)| p).collect();
                    assert_eq!((f[0].next, f[1].next), (if side { 35 } else { 36 }, 0));
                    let whole = [f[0].data.clone(), f[1].data.clone()].concat();
                    assert_eq!(chain_end(&whole, f[0].next), whole.len(), "{name}");
                }
            } else {
                assert_eq!(opened, 2, "{name}: IKE_AUTH request and response");
            }
        }
    }

    #[test]
    fn hostile_input_is_refused_without_panic() {
        let cbc = esp_sa(Encr::AesCbc, &"00".repeat(16), Integ::None, None);
        let gcm = esp_sa(Encr::AesGcm { icv: 16 }, &"00".repeat(20), Integ::None, None);
        let gcm8 = esp_sa(Encr::AesGcm { icv: 8 }, &"00".repeat(36), Integ::None, None);
        let cha = esp_sa(Encr::ChaCha20Poly1305, &"00".repeat(36), Integ::None, None);
        let null = esp_sa(Encr::Null, "", Integ::HmacSha256_128, Some("0102"));
        // A 16-byte payload whose last block decrypts to pad length 255.
        let mut block = [0u8; 16];
        block[14] = 255;
        let c = aes::Aes128::new(GenericArray::from_slice(&[0u8; 16]));
        c.encrypt_block(GenericArray::from_mut_slice(&mut block));
        let mut pkt = vec![0, 0, 0, 1, 0, 0, 0, 1];
        pkt.extend([0u8; 16]);
        pkt.extend(block);
        assert_eq!(esp(&cbc, &pkt), Err(Failure::Padding));
        for sa in [&cbc, &gcm, &gcm8, &cha, &null] {
            assert_eq!(esp(sa, &[]), Err(Failure::Truncated));
            for len in 0..80 {
                let mut b = vec![0xffu8; len];
                b.iter_mut().enumerate().for_each(|(i, x)| *x = i as u8);
                assert!(esp(sa, &b).is_err(), "{sa:?} {len}");
            }
        }
        // Sealed with the right key, so the tag holds and the trailer is what is judged: a pad
        // length of 255 in a 16-byte payload, padding that is not 1, 2, 3..., none at all.
        let seal = |pt: &[u8]| {
            let mut p = vec![0, 0, 0, 9, 0, 0, 0, 1, 7, 7, 7, 7, 7, 7, 7, 7];
            let mut nonce = [0u8; 12];
            nonce[4..].copy_from_slice(&p[8..16]);
            let mut buf = pt.to_vec();
            let tag = aes_gcm::AesGcm::<aes::Aes128, U12, U16>::new_from_slice(&[0; 16])
                .unwrap()
                .encrypt_in_place_detached(GenericArray::from_slice(&nonce), &p[..8], &mut buf)
                .unwrap();
            p.extend(buf);
            p.extend(tag);
            p
        };
        let mut pt = [0u8; 16];
        pt[14] = 255;
        assert_eq!(esp(&gcm, &seal(&pt)), Err(Failure::Padding));
        pt[11..14].copy_from_slice(&[1, 2, 4]);
        pt[14] = 3;
        assert_eq!(esp(&gcm, &seal(&pt)), Err(Failure::Padding));
        pt[13] = 3;
        assert_eq!(esp(&gcm, &seal(&pt)).map(|p| p.data.len()), Ok(11));
        assert_eq!(esp(&gcm, &seal(&[])), Err(Failure::Truncated));
        assert_eq!(esp(&gcm, &seal(&[0])), Err(Failure::Truncated));
        assert_eq!(esp(&gcm, &seal(&[0, 59])).map(|p| (p.data.len(), p.next)), Ok((0, 59)));
        let mut bad = seal(&[0, 59]);
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(esp(&gcm, &bad), Err(Failure::Icv));
        let ike = IkeSa {
            spis: None,
            encr: Encr::AesGcm { icv: 16 },
            integ: Integ::None,
            sk_ei: vec![0; 20],
            sk_er: vec![0; 20],
            sk_ai: None,
            sk_ar: None,
        };
        for len in 0..80 {
            let b = vec![0xffu8; len];
            for sk in [0, 27, 28, 40, usize::MAX - 2] {
                assert!(ike_sk(&ike, &b, sk, true).is_err());
            }
        }
    }
}
