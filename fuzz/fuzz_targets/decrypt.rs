//! The decryption paths (`decrypt::esp`, `decrypt::ike_sk`, and `dump` printing with keys and
//! with `-E` AEAD names), with fixed keys. Raw input stands for wrong keys, truncated payloads and
//! forged ICVs; sealed input is fuzzed plaintext encrypted and authenticated with the right keys,
//! so lying padding and huge pad lengths get past the ICV, and what opens must be what was sealed.
#![no_main]
use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockEncryptMut, KeyInit, KeyIvInit};
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::AeadInPlace;
use hmac::Mac;
use ipsec_doctor::decrypt::{self, Failure, Icv};
use ipsec_doctor::keys::{Encr, EspSa, IkeSa, Integ, KeyRing};
use ipsec_doctor::print::packet::{Options, Printer};
use ipsec_doctor::print::Out;
use ipsec_doctor::source::{Frame, Timestamp};
use ipsec_doctor::wire::link;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

/// Encryption, its key length (with the salt for AEAD), integrity.
const SUITES: [(Encr, usize, Integ); 12] = [
    (Encr::Null, 0, Integ::None),
    (Encr::Null, 0, Integ::HmacSha256_128),
    (Encr::DesCbc, 8, Integ::HmacMd5_96),
    (Encr::Des3Cbc, 24, Integ::HmacSha1_96),
    (Encr::AesCbc, 16, Integ::HmacSha256_128),
    (Encr::AesCbc, 24, Integ::HmacSha384_192),
    (Encr::AesCbc, 32, Integ::HmacSha512_256),
    (Encr::AesGcm { icv: 8 }, 20, Integ::None),
    (Encr::AesGcm { icv: 12 }, 28, Integ::None),
    (Encr::AesGcm { icv: 16 }, 36, Integ::None),
    (Encr::ChaCha20Poly1305, 36, Integ::None),
    (Encr::AesCbc, 16, Integ::None),
];

const SPI: u32 = 0x0102_0304;
const SRC: [u8; 4] = [192, 0, 2, 1];
const DST: [u8; 4] = [198, 51, 100, 2];

fn key(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(37).wrapping_add(salt))
        .collect()
}

fn iv_len(e: Encr) -> usize {
    match e {
        Encr::Null => 0,
        Encr::DesCbc | Encr::Des3Cbc => 8,
        Encr::AesCbc => 16,
        _ => 8,
    }
}

fn block(e: Encr) -> usize {
    match e {
        Encr::DesCbc | Encr::Des3Cbc => 8,
        Encr::AesCbc => 16,
        _ => 1,
    }
}

fn cbc_seal<C: aes::cipher::BlockCipher + aes::cipher::BlockEncrypt + KeyInit>(k: &[u8], iv: &[u8], buf: &mut [u8]) {
    cbc::Encryptor::<C>::new_from_slices(k, iv)
        .unwrap()
        .encrypt_padded_mut::<NoPadding>(buf, buf.len())
        .unwrap();
}

fn gcm_tag<A>(k: &[u8], nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Vec<u8>
where
    A: aes::cipher::BlockCipher + aes::cipher::BlockSizeUser<BlockSize = U16> + aes::cipher::BlockEncrypt + KeyInit,
{
    let c = aes_gcm::AesGcm::<A, U12, U16>::new_from_slice(k).unwrap();
    c.encrypt_in_place_detached(GenericArray::from_slice(nonce), aad, buf)
        .unwrap()
        .to_vec()
}

/// Encrypts `buf` in place (whole blocks for CBC) and returns the AEAD tag, cut to `icv`.
fn seal(encr: Encr, k: &[u8], iv: &[u8], aad: &[u8], buf: &mut [u8], icv: usize) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    if k.len() >= 4 {
        nonce[..4].copy_from_slice(&k[k.len() - 4..]);
        nonce[4..].copy_from_slice(&iv[..8.min(iv.len())]);
    }
    let ak = &k[..k.len().saturating_sub(4)];
    let mut tag = match encr {
        Encr::Null => Vec::new(),
        Encr::DesCbc => {
            cbc_seal::<des::Des>(k, iv, buf);
            Vec::new()
        }
        Encr::Des3Cbc => {
            cbc_seal::<des::TdesEde3>(k, iv, buf);
            Vec::new()
        }
        Encr::AesCbc => {
            match k.len() {
                16 => cbc_seal::<aes::Aes128>(k, iv, buf),
                24 => cbc_seal::<aes::Aes192>(k, iv, buf),
                _ => cbc_seal::<aes::Aes256>(k, iv, buf),
            }
            Vec::new()
        }
        Encr::AesGcm { .. } => match ak.len() {
            16 => gcm_tag::<aes::Aes128>(ak, &nonce, aad, buf),
            24 => gcm_tag::<aes::Aes192>(ak, &nonce, aad, buf),
            _ => gcm_tag::<aes::Aes256>(ak, &nonce, aad, buf),
        },
        Encr::ChaCha20Poly1305 => chacha20poly1305::ChaCha20Poly1305::new_from_slice(ak)
            .unwrap()
            .encrypt_in_place_detached(GenericArray::from_slice(&nonce), aad, buf)
            .unwrap()
            .to_vec(),
    };
    tag.truncate(icv);
    tag
}

fn hmac(integ: Integ, k: &[u8], data: &[u8]) -> Vec<u8> {
    fn h<M: Mac + hmac::KeyInit>(k: &[u8], data: &[u8]) -> Vec<u8> {
        let mut m = <M as hmac::KeyInit>::new_from_slice(k).unwrap();
        m.update(data);
        m.finalize().into_bytes().to_vec()
    }
    let mut out = match integ {
        Integ::None => Vec::new(),
        Integ::HmacMd5_96 => h::<hmac::Hmac<md5::Md5>>(k, data),
        Integ::HmacSha1_96 => h::<hmac::Hmac<sha1::Sha1>>(k, data),
        Integ::HmacSha256_128 => h::<hmac::Hmac<sha2::Sha256>>(k, data),
        Integ::HmacSha384_192 => h::<hmac::Hmac<sha2::Sha384>>(k, data),
        Integ::HmacSha512_256 => h::<hmac::Hmac<sha2::Sha512>>(k, data),
    };
    out.truncate(integ.icv_len());
    out
}

fn icv_len(encr: Encr, integ: Integ) -> usize {
    match encr {
        Encr::AesGcm { icv } => icv as usize,
        Encr::ChaCha20Poly1305 => 16,
        _ => integ.icv_len(),
    }
}

/// The ESP packet (from the SPI) sealing `pt` with `sa`'s keys.
fn seal_esp(sa: &EspSa, pt: &[u8]) -> Vec<u8> {
    let iv: Vec<u8> = (0..iv_len(sa.encr)).map(|i| i as u8 ^ 0x5a).collect();
    let mut p = SPI.to_be_bytes().to_vec();
    p.extend_from_slice(&7u32.to_be_bytes());
    p.extend_from_slice(&iv);
    let mut ct = pt.to_vec();
    let aad = p[..8].to_vec();
    let tag = seal(sa.encr, &sa.encr_key, &iv, &aad, &mut ct, icv_len(sa.encr, sa.integ));
    p.extend_from_slice(&ct);
    p.extend_from_slice(&tag);
    match &sa.integ_key {
        Some(k) => {
            let m = hmac(sa.integ, k, &p);
            p.extend_from_slice(&m);
        }
        // An ICV whose key is unknown: its length is all that counts.
        None => p.resize(p.len() + sa.integ.icv_len(), 0),
    }
    p
}

/// An IKEv2 message (header, then the SK payload with next payload `np`) sealing `pt`.
fn seal_ike(sa: &IkeSa, np: u8, pt: &[u8]) -> Vec<u8> {
    let iv: Vec<u8> = (0..iv_len(sa.encr)).map(|i| i as u8 ^ 0xa5).collect();
    let icv = icv_len(sa.encr, sa.integ);
    let total = 28 + 4 + iv.len() + pt.len() + icv;
    let mut m = vec![
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 46, 0x20, 35, 0x08, 0, 0, 0, 1,
    ];
    m.extend_from_slice(&(total as u32).to_be_bytes());
    m.extend_from_slice(&[np, 0]);
    m.extend_from_slice(&((total - 28) as u16).to_be_bytes());
    // RFC 5282: the AAD ends with the SK payload's header, before the IV.
    let aad = m.clone();
    m.extend_from_slice(&iv);
    let mut ct = pt.to_vec();
    let tag = seal(sa.encr, &sa.sk_ei, &iv, &aad, &mut ct, icv);
    m.extend_from_slice(&ct);
    m.extend_from_slice(&tag);
    match &sa.sk_ai {
        Some(k) => {
            let h = hmac(sa.integ, k, &m);
            m.extend_from_slice(&h);
        }
        None => m.resize(m.len() + sa.integ.icv_len(), 0),
    }
    m
}

/// RFC 4303's trailer, judged on its own: the data and next header it leaves.
fn esp_trailer(pt: &[u8]) -> Result<(Vec<u8>, u8), Failure> {
    let n = pt.len();
    let padlen = pt[n - 2] as usize;
    if padlen + 2 > n
        || pt[n - 2 - padlen..n - 2]
            .iter()
            .enumerate()
            .any(|(i, &b)| b != (i + 1) as u8)
    {
        return Err(Failure::Padding);
    }
    Ok((pt[..n - 2 - padlen].to_vec(), pt[n - 1]))
}

fn print_frame(esp: &[u8], ring: &Arc<KeyRing>, spec: Option<&str>) {
    let total = 20 + esp.len();
    if total > 65535 {
        return;
    }
    let mut p = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, 50, 0, 0];
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&SRC);
    p.extend_from_slice(&DST);
    p.extend_from_slice(esp);
    let f = Frame {
        ts: Timestamp::default(),
        linktype: link::RAW,
        wire_len: p.len() as u32,
        data: &p,
        offset: 0,
    };
    for v in 0..2 {
        let mut printer = Printer::new(Options {
            vflag: v,
            ..Default::default()
        });
        printer.set_keys(ring.clone());
        if let Some(s) = spec {
            printer.set_esp(ipsec_doctor::print::esp::parse(s).unwrap().0);
        }
        let mut out = Out::new(v, false);
        printer.print(&f, &mut out);
        assert!(out.as_str().len() < 4096 + 64 * p.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    let (encr, klen, integ) = SUITES[(sel & 0x0f) as usize % SUITES.len()];
    let keyed = sel & 0x10 == 0;
    let sealed = sel & 0x20 != 0;
    let esp_sa = EspSa {
        spi: Some(SPI),
        src: None,
        dst: None,
        encr,
        encr_key: key(klen, 1),
        integ,
        integ_key: (keyed && integ != Integ::None).then(|| key(20 + integ.icv_len(), 2)),
        esn: false,
    };
    let ike_sa = IkeSa {
        spis: None,
        encr,
        integ,
        sk_ei: key(klen, 3),
        sk_er: key(klen, 4),
        sk_ai: (keyed && integ != Integ::None).then(|| key(20, 5)),
        sk_ar: (keyed && integ != Integ::None).then(|| key(20, 6)),
    };
    let ring = Arc::new(KeyRing {
        esp: vec![esp_sa.clone()],
        ike: vec![ike_sa.clone()],
        ..Default::default()
    });
    let aead_spec = match encr {
        Encr::AesGcm { icv } => Some(format!("aes{}-gcm{icv}", (klen - 4) * 8)),
        Encr::ChaCha20Poly1305 => Some("chacha20-poly1305".to_string()),
        _ => None,
    }
    .map(|n| {
        let hex: String = esp_sa.encr_key.iter().map(|b| format!("{b:02x}")).collect();
        format!("0x{SPI:x}@198.51.100.2 {n}:0x{hex}")
    });
    if !sealed {
        // As given: whatever the bytes, an answer and no more memory than the input.
        if let Ok(p) = decrypt::esp(&esp_sa, body) {
            assert!(p.data.len() <= body.len());
        }
        let sk = 28 + (sel as usize >> 6);
        for init in [true, false] {
            if let Ok(p) = decrypt::ike_sk(&ike_sa, body, sk, init) {
                assert!(p.data.len() <= body.len());
            }
            let _ = decrypt::ike_sk_padded(&ike_sa, body, sk, init);
        }
        let mut esp = SPI.to_be_bytes().to_vec();
        esp.extend_from_slice(body);
        print_frame(&esp, &ring, aead_spec.as_deref());
        return;
    }
    // Sealed: the plaintext (a whole number of blocks) is the fuzzer's, trailer included.
    let bs = block(encr);
    let mut pt = body.to_vec();
    pt.truncate(pt.len() - pt.len() % bs);
    if pt.len() < 2 {
        return;
    }
    let can_tell = esp_sa.integ_key.is_some() || encr.is_aead();
    let e = seal_esp(&esp_sa, &pt);
    let got = decrypt::esp(&esp_sa, &e);
    let want = esp_trailer(&pt);
    match (&got, &want) {
        (Ok(p), Ok((d, nh))) => {
            assert_eq!((&p.data, p.next), (d, *nh));
            assert_eq!(p.icv == Icv::Verified, can_tell);
        }
        (Err(f), Err(w)) => assert_eq!(f, w),
        _ => panic!("ESP {encr:?}/{integ:?}: opened {got:?}, trailer says {want:?}"),
    }
    // A byte flipped where the ICV can tell: refused.
    if can_tell {
        let i = body.len() % e.len();
        let mut c = e.clone();
        c[i] ^= 0x40;
        assert_eq!(decrypt::esp(&esp_sa, &c), Err(Failure::Icv));
    }
    print_frame(&e, &ring, aead_spec.as_deref());
    // The same plaintext as an IKEv2 SK payload: only the pad length is checked.
    let m = seal_ike(&ike_sa, pt[0], &pt);
    let got = decrypt::ike_sk(&ike_sa, &m, 28, true);
    let padlen = pt[pt.len() - 1] as usize;
    match &got {
        Ok(p) => {
            assert!(padlen < pt.len());
            assert_eq!(p.data, pt[..pt.len() - 1 - padlen]);
            assert_eq!(p.next, pt[0]);
        }
        Err(f) => assert!(*f == Failure::Padding && padlen >= pt.len(), "IKE {encr:?}: {f:?}"),
    }
    if let Ok(p) = decrypt::ike_sk_padded(&ike_sa, &m, 28, true) {
        assert_eq!(p.data, pt);
    }
});
