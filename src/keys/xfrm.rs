//! `ip xfrm state` and `ip -s xfrm state` output (iproute2's `xfrm_state_print`): one SA per
//! `src A dst B` line, then tab-indented lines; the keys are on `enc`, `auth`, `auth-trunc` and
//! `aead` lines as `NAME 0xKEY`, with `(N bits)` after the key under `-s`, and the ICV length in
//! bits last on `auth-trunc` and `aead`. The algorithm names are the Linux crypto API's.

use super::load::{Lines, Notes};
use super::text::{check_encr_key, check_integ_key, hex, unchecked_icv};
use super::{Encr, EspSa, Integ, KeyRing};
use std::net::IpAddr;

/// `src ADDR dst ADDR` starting a line, then a `proto` line: the shape of the output.
pub fn looks_like(text: &str) -> bool {
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if src_dst(l).is_some() {
            return lines.next().is_some_and(|n| n.trim_start().starts_with("proto "));
        }
    }
    false
}

fn src_dst(l: &str) -> Option<(IpAddr, IpAddr)> {
    let mut w = l.split_whitespace();
    match (w.next(), w.next(), w.next(), w.next(), w.next()) {
        (Some("src"), Some(a), Some("dst"), Some(b), None) => Some((a.parse().ok()?, b.parse().ok()?)),
        _ => None,
    }
}

#[derive(Default)]
struct Sa {
    line: usize,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    esp: bool,
    spi: Option<u32>,
    encr: Option<(Encr, Vec<u8>)>,
    integ: Option<(Integ, Option<Vec<u8>>)>,
    /// `flag esn` on its replay-window line.
    esn: bool,
    /// Why the SA cannot be used (the first reason found).
    bad: Option<String>,
}

pub(crate) struct Parser {
    origin: String,
    sa: Option<Sa>,
    ring: KeyRing,
    notes: Notes,
}

impl Parser {
    pub fn new(origin: &str) -> Self {
        Parser {
            origin: origin.to_string(),
            sa: None,
            ring: KeyRing::default(),
            notes: Notes::default(),
        }
    }

    fn flush(&mut self) {
        let Some(sa) = self.sa.take() else { return };
        if !sa.esp {
            return;
        }
        let at = format!("{}:{}", self.origin, sa.line);
        if let Some(why) = sa.bad {
            self.notes.push(format!("{at}: ESP SA skipped: {why}"));
            return;
        }
        let Some((encr, encr_key)) = sa.encr else {
            self.notes.push(format!(
                "{at}: ESP SA skipped: no enc or aead line with a key (keys removed, or `ip xfrm` run without them?)"
            ));
            return;
        };
        let (integ, integ_key) = match sa.integ {
            Some(i) if !encr.is_aead() => i,
            _ => (Integ::None, None),
        };
        let sa = EspSa {
            spi: sa.spi,
            src: sa.src,
            dst: sa.dst,
            encr,
            encr_key,
            integ,
            integ_key,
            esn: sa.esn,
        };
        let origin = self.origin.clone();
        self.notes.bounded(&mut self.ring.esp, sa, &origin, "ESP SAs");
    }

    fn algo(&mut self, kind: &str, rest: &str, n: usize) {
        let Some(sa) = self.sa.as_mut() else { return };
        if !sa.esp || sa.bad.is_some() {
            return;
        }
        let w: Vec<&str> = rest.split_whitespace().collect();
        let name = w.first().copied().unwrap_or("");
        // Under -s the key is followed by "(N bits)"; the ICV length is the last word.
        let key_word = w.get(1).copied().unwrap_or("");
        let last_num = w.last().and_then(|x| x.parse::<u32>().ok());
        let key = if key_word.is_empty() || key_word == "\"\"" || key_word.starts_with('(') {
            Some(Vec::new())
        } else if key_word.starts_with("0x") {
            hex(key_word)
        } else {
            None
        };
        let Some(key) = key else {
            if rest.contains("[key removed") {
                sa.bad = Some("its keys were removed when it was recorded".into());
            } else {
                sa.bad = Some(format!("line {n}: the {kind} key is not hex"));
            }
            return;
        };
        let r = match kind {
            "enc" => enc(name).map(|e| {
                sa.encr = Some((e, key));
            }),
            "aead" => aead(name, last_num).map(|e| {
                sa.encr = Some((e, key));
            }),
            "auth" => auth(name, None, key).map(|i| {
                sa.integ = Some(i);
            }),
            "auth-trunc" => auth(name, last_num, key).map(|i| {
                sa.integ = Some(i);
            }),
            _ => Ok(()),
        };
        match r {
            Err(why) => sa.bad = Some(format!("line {n}: {why}")),
            Ok(()) => {
                if let Some((e, k)) = &sa.encr {
                    if let Err(why) = check_encr_key(*e, k) {
                        sa.bad = Some(format!("line {n}: {why}"));
                    }
                }
                if let Some((i, Some(k))) = &sa.integ {
                    if let Err(why) = check_integ_key(*i, k) {
                        sa.bad = Some(format!("line {n}: {why}"));
                    }
                }
            }
        }
    }
}

fn enc(name: &str) -> Result<Encr, String> {
    Ok(match name {
        "cbc(aes)" => Encr::AesCbc,
        "cbc(des3_ede)" => Encr::Des3Cbc,
        "cbc(des)" => Encr::DesCbc,
        "ecb(cipher_null)" | "cipher_null" => Encr::Null,
        _ => return Err(format!("encryption {name} is not one ipsec-doctor decrypts")),
    })
}

fn aead(name: &str, icv_bits: Option<u32>) -> Result<Encr, String> {
    match (name, icv_bits) {
        ("rfc4106(gcm(aes))", Some(b @ (64 | 96 | 128))) => Ok(Encr::AesGcm { icv: (b / 8) as u8 }),
        ("rfc7539esp(chacha20,poly1305)", Some(128)) => Ok(Encr::ChaCha20Poly1305),
        _ => Err(format!(
            "AEAD {name} with a {}-bit ICV is not one ipsec-doctor decrypts",
            icv_bits.unwrap_or(0)
        )),
    }
}

/// The kernel's own truncation for a plain `auth` line is its algorithm table's: 96 bits for
/// MD5, SHA-1 and (for old peers' sake) SHA-256, half the hash for SHA-384 and SHA-512.
fn auth(name: &str, trunc_bits: Option<u32>, key: Vec<u8>) -> Result<(Integ, Option<Vec<u8>>), String> {
    let (default, full): (u32, u32) = match name {
        "hmac(md5)" => (96, 128),
        "hmac(sha1)" => (96, 160),
        "hmac(sha256)" => (96, 256),
        "hmac(sha384)" => (192, 384),
        "hmac(sha512)" => (256, 512),
        "digest_null" => return Ok((Integ::None, None)),
        _ => return Err(format!("integrity {name} is not one ipsec-doctor checks")),
    };
    let bits = trunc_bits.unwrap_or(default);
    let integ = match (name, bits) {
        ("hmac(md5)", 96) => Some(Integ::HmacMd5_96),
        ("hmac(sha1)", 96) => Some(Integ::HmacSha1_96),
        ("hmac(sha256)", 128) => Some(Integ::HmacSha256_128),
        ("hmac(sha384)", 192) => Some(Integ::HmacSha384_192),
        ("hmac(sha512)", 256) => Some(Integ::HmacSha512_256),
        _ => None,
    };
    if let Some(i) = integ {
        return Ok((i, Some(key)));
    }
    // Linux allows other truncations (hmac(sha256) at 96 bits, as draft-era peers used): the
    // ICV's length is known, so it is skipped, unchecked.
    if bits <= full && bits % 8 == 0 {
        if let Some(i) = unchecked_icv((bits / 8) as usize) {
            return Ok((i, None));
        }
    }
    Err(format!(
        "integrity {name} truncated to {bits} bits is not one ipsec-doctor handles"
    ))
}

impl Lines for Parser {
    fn line(&mut self, line: &str, n: usize) {
        if let Some((src, dst)) = src_dst(line) {
            self.flush();
            self.sa = Some(Sa {
                line: n,
                src: Some(src),
                dst: Some(dst),
                ..Default::default()
            });
            return;
        }
        let t = line.trim_start();
        let (word, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        match word {
            "proto" => {
                if let Some(sa) = self.sa.as_mut() {
                    let w: Vec<&str> = rest.split_whitespace().collect();
                    sa.esp = w.first() == Some(&"esp");
                    // "spi 0xc1a2b3c4" or, under -s, "spi 0xc1a2b3c4(3248665540)".
                    sa.spi = w
                        .iter()
                        .position(|x| *x == "spi")
                        .and_then(|i| w.get(i + 1))
                        .and_then(|s| super::text::spi32(s.split('(').next().unwrap_or("")));
                    if sa.esp && sa.spi.is_none() {
                        sa.bad = Some(format!("line {n}: no SPI"));
                    }
                }
            }
            "enc" | "auth" | "auth-trunc" | "aead" => self.algo(word, rest, n),
            "replay-window" => {
                // "replay-window 0 flag esn" (and "... flag af-unspec esn (0x10100000)" under -s;
                // the stats' "replay-window 0 replay 0 failed 0" has no flags).
                if let Some(sa) = self.sa.as_mut() {
                    let flags = rest.split(" flag ").nth(1).unwrap_or("");
                    sa.esn |= flags.split_whitespace().any(|f| f == "esn");
                }
            }
            "comp" => {}
            _ => {}
        }
    }

    fn finish(mut self: Box<Self>) -> Result<(KeyRing, Vec<String>), String> {
        self.flush();
        Ok((self.ring, self.notes.done()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_truncations_as_linux_has_them() {
        assert_eq!(auth("hmac(sha256)", None, vec![1]).unwrap().0, Integ::HmacSha1_96);
        assert!(auth("hmac(sha256)", None, vec![1]).unwrap().1.is_none());
        assert_eq!(
            auth("hmac(sha256)", Some(128), vec![1]).unwrap(),
            (Integ::HmacSha256_128, Some(vec![1]))
        );
        assert_eq!(auth("hmac(sha1)", None, vec![1]).unwrap().0, Integ::HmacSha1_96);
        assert!(auth("hmac(sha1)", Some(160), vec![1]).is_err());
        assert!(auth("xcbc(aes)", None, vec![1]).is_err());
        assert_eq!(aead("rfc4106(gcm(aes))", Some(64)).unwrap(), Encr::AesGcm { icv: 8 });
        assert!(aead("rfc4309(ccm(aes))", Some(128)).is_err());
    }
}
