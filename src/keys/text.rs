//! Small pieces every key parser needs: hex, key lengths, warnings that never quote a key.

use super::{Encr, Integ};

/// Hex digits (upper or lower case, an optional `0x`) as bytes; `None` for an odd count or a
/// non-hex character.
pub fn hex(s: &str) -> Option<Vec<u8>> {
    let s = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if s.len() % 2 != 0 {
        return None;
    }
    let b = s.as_bytes();
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    b.chunks_exact(2)
        .map(|p| Some((digit(p[0])? << 4) | digit(p[1])?))
        .collect()
}

/// Eight bytes from 16 hex digits (an IKE SPI).
pub fn spi8(s: &str) -> Option<[u8; 8]> {
    hex(s)?.try_into().ok()
}

/// A 32-bit SPI: `0x` hex, or bare hex as strongSwan logs it.
pub fn spi32(s: &str) -> Option<u32> {
    let h = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if h.is_empty() || h.len() > 8 {
        return None;
    }
    u32::from_str_radix(h, 16).ok()
}

/// Whether `key` fits `encr`: the cipher's key, plus the 4-byte salt of the AEAD ciphers.
pub fn check_encr_key(encr: Encr, key: &[u8]) -> Result<(), String> {
    let ok: &[usize] = match encr {
        Encr::Null => &[0],
        Encr::DesCbc => &[8],
        Encr::Des3Cbc => &[24],
        Encr::AesCbc => &[16, 24, 32],
        Encr::AesGcm { .. } => &[20, 28, 36],
        Encr::ChaCha20Poly1305 => &[36],
    };
    if ok.contains(&key.len()) {
        return Ok(());
    }
    let salt = encr.is_aead();
    Err(format!(
        "a {}-byte encryption key does not fit {}{}",
        key.len(),
        encr_name(encr),
        if salt { " (key plus 4-byte salt expected)" } else { "" }
    ))
}

/// The HMAC key length RFC 4868 and RFC 2404/2403 use: the hash's output size.
pub fn check_integ_key(integ: Integ, key: &[u8]) -> Result<(), String> {
    let want = match integ {
        Integ::None => 0,
        Integ::HmacMd5_96 => 16,
        Integ::HmacSha1_96 => 20,
        Integ::HmacSha256_128 => 32,
        Integ::HmacSha384_192 => 48,
        Integ::HmacSha512_256 => 64,
    };
    if key.len() == want {
        Ok(())
    } else {
        Err(format!(
            "a {}-byte integrity key does not fit {} ({want} bytes expected)",
            key.len(),
            integ_name(integ)
        ))
    }
}

pub fn encr_name(e: Encr) -> String {
    match e {
        Encr::Null => "NULL encryption".into(),
        Encr::DesCbc => "DES-CBC".into(),
        Encr::Des3Cbc => "3DES-CBC".into(),
        Encr::AesCbc => "AES-CBC".into(),
        Encr::AesGcm { icv } => format!("AES-GCM with a {icv}-byte ICV"),
        Encr::ChaCha20Poly1305 => "ChaCha20-Poly1305".into(),
    }
}

pub fn integ_name(i: Integ) -> &'static str {
    match i {
        Integ::None => "no integrity",
        Integ::HmacMd5_96 => "HMAC-MD5-96",
        Integ::HmacSha1_96 => "HMAC-SHA1-96",
        Integ::HmacSha256_128 => "HMAC-SHA256-128",
        Integ::HmacSha384_192 => "HMAC-SHA384-192",
        Integ::HmacSha512_256 => "HMAC-SHA512-256",
    }
}

/// An integrity transform we cannot check but whose ICV length we know: the packet is opened
/// with the ICV skipped. [`Integ`] has no variant for these, so one with the same ICV length
/// stands in, and its key is dropped so that nothing claims to have checked it.
pub fn unchecked_icv(bytes: usize) -> Option<Integ> {
    match bytes {
        12 => Some(Integ::HmacSha1_96),
        16 => Some(Integ::HmacSha256_128),
        24 => Some(Integ::HmacSha384_192),
        32 => Some(Integ::HmacSha512_256),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_spis() {
        assert_eq!(hex("0x0aFf"), Some(vec![0x0a, 0xff]));
        assert_eq!(hex(""), Some(vec![]));
        assert_eq!(hex("0x0"), None);
        assert_eq!(hex("zz"), None);
        assert_eq!(spi32("c4255798"), Some(0xc425_5798));
        assert_eq!(spi32("0x123456789"), None);
        assert_eq!(
            spi8("c145d252f7ffe1ab"),
            Some([0xc1, 0x45, 0xd2, 0x52, 0xf7, 0xff, 0xe1, 0xab])
        );
        assert_eq!(spi8("c145"), None);
    }

    #[test]
    fn key_lengths() {
        assert!(check_encr_key(Encr::AesCbc, &[0; 24]).is_ok());
        assert!(check_encr_key(Encr::AesGcm { icv: 16 }, &[0; 16])
            .unwrap_err()
            .contains("salt"));
        assert!(check_integ_key(Integ::HmacSha256_128, &[0; 20]).is_err());
    }
}
