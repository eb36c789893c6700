//! `dump -E`: ESP secrets in tcpdump 4.99.3's syntax and the decryption its ESP printer does.
//!
//! The syntax, the warnings and the quirks follow tcpdump's print-esp.c: entries separated by
//! commas or newlines, `[spi@addr] algo:secret` (without `spi@` it is the default SA), `file PATH`
//! (one entry per line, `#` comments), `ikev2 I|R 0x<ispi> 0x<rspi> authalg:key encalg:key`. A
//! `-hmac96` suffix means a 12-byte ICV is skipped, a `-cbc` suffix is dropped before the cipher
//! is looked up (so `des-ede3-cbc` is 3DES in ECB mode, as in tcpdump). A key shorter than the
//! cipher's is padded with zeros, a longer one cut, as OpenSSL reads it. Warnings are tcpdump's
//! words; fatal problems (a bad hex digit, a file that cannot be read) are errors before any
//! packet is printed. Keys are never printed.
//!
//! Our extension: AEAD ciphers, which tcpdump cannot decrypt (RFC 4106 AES-GCM, RFC 7634
//! ChaCha20-Poly1305), by these names: `aes128-gcm16`, `aes192-gcm16`, `aes256-gcm16` (and
//! `-gcm12`, `-gcm8` for shorter ICVs), OpenSSL's `aes-128-gcm`, `aes-192-gcm`, `aes-256-gcm`
//! (16-byte ICV), strongSwan's `aes128gcm16`... and `chacha20-poly1305` / `chacha20poly1305`.
//! Their secret is the key followed by its 4-byte salt, as `ip xfrm state` shows it (20, 28 or 36
//! bytes for AES-GCM, 36 for ChaCha20-Poly1305); a secret of another length is skipped with a
//! warning. Their ICV (the tag) is always checked: the payload is printed as tcpdump prints a
//! decrypted one, or, when the tag does not match, `ESP(spi=...,seq=...), length N [wrong key or
//! corrupted packet (ICV mismatch)]` instead of garbage.

use std::net::IpAddr;

/// The ciphers we decrypt, named as OpenSSL's `EVP_get_cipherbyname` resolves tcpdump's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    DesCbc,
    DesEcb,
    Des3Cbc,
    Des3Ecb,
    Aes128Cbc,
    Aes192Cbc,
    Aes256Cbc,
    Aes128Ecb,
    Aes192Ecb,
    Aes256Ecb,
    /// AES-GCM (RFC 4106) with a key of `key` bytes and an ICV of `icv` bytes: our extension.
    AesGcm {
        key: u8,
        icv: u8,
    },
    /// ChaCha20-Poly1305 (RFC 7634): our extension.
    ChaCha20Poly1305,
}

impl Cipher {
    fn by_name(name: &str) -> Option<Cipher> {
        use Cipher::*;
        Some(match name.to_ascii_lowercase().as_str() {
            "des" | "des-cbc" => DesCbc,
            "des-ecb" => DesEcb,
            "3des" | "des3" | "des-ede3-cbc" => Des3Cbc,
            "des-ede3" | "des-ede3-ecb" => Des3Ecb,
            "aes128" | "aes-128-cbc" => Aes128Cbc,
            "aes192" | "aes-192-cbc" => Aes192Cbc,
            "aes256" | "aes-256-cbc" => Aes256Cbc,
            "aes-128-ecb" => Aes128Ecb,
            "aes-192-ecb" => Aes192Ecb,
            "aes-256-ecb" => Aes256Ecb,
            "chacha20-poly1305" | "chacha20poly1305" => ChaCha20Poly1305,
            n => return Cipher::gcm_by_name(n),
        })
    }

    /// `aes128-gcm16`, `aes128gcm16`, `aes-128-gcm` and their kin.
    fn gcm_by_name(n: &str) -> Option<Cipher> {
        let (bits, icv) = match n.strip_prefix("aes-") {
            Some(rest) => (rest.strip_suffix("-gcm")?, "16"),
            None => n.strip_prefix("aes")?.split_once("gcm")?,
        };
        let bits = bits.strip_suffix('-').unwrap_or(bits);
        let key = match bits {
            "128" => 16,
            "192" => 24,
            "256" => 32,
            _ => return None,
        };
        let icv = match icv {
            "8" => 8,
            "12" => 12,
            "16" => 16,
            _ => return None,
        };
        Some(Cipher::AesGcm { key, icv })
    }

    /// The AEAD transforms: opened by [`crate::decrypt::esp`], their secret holding the salt.
    pub fn aead(self) -> Option<crate::keys::Encr> {
        match self {
            Cipher::AesGcm { icv, .. } => Some(crate::keys::Encr::AesGcm { icv }),
            Cipher::ChaCha20Poly1305 => Some(crate::keys::Encr::ChaCha20Poly1305),
            _ => None,
        }
    }

    pub fn key_len(self) -> usize {
        use Cipher::*;
        match self {
            DesCbc | DesEcb => 8,
            Des3Cbc | Des3Ecb | Aes192Cbc | Aes192Ecb => 24,
            Aes128Cbc | Aes128Ecb => 16,
            Aes256Cbc | Aes256Ecb => 32,
            // With the 4-byte salt.
            AesGcm { key, .. } => key as usize + 4,
            ChaCha20Poly1305 => 36,
        }
    }

    pub fn block_size(self) -> usize {
        use Cipher::*;
        match self {
            DesCbc | DesEcb | Des3Cbc | Des3Ecb => 8,
            // Stream ciphers: ESP pads them to 4 bytes, which the ICV covers.
            AesGcm { .. } | ChaCha20Poly1305 => 1,
            _ => 16,
        }
    }

    pub fn iv_len(self) -> usize {
        use Cipher::*;
        match self {
            DesEcb | Des3Ecb | Aes128Ecb | Aes192Ecb | Aes256Ecb => 0,
            AesGcm { .. } | ChaCha20Poly1305 => 8,
            c => c.block_size(),
        }
    }
}

/// Ciphers OpenSSL knows that we do not decrypt: named apart from unknown ones.
fn openssl_only(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "bf", "blowfish", "cast", "idea", "rc2", "rc4", "rc5", "seed", "camellia", "aria", "sm4", "chacha20",
        "des-ede", "desx", "aes-",
    ]
    .iter()
    .any(|p| n.starts_with(p))
}

/// IKEv2 SA of an `ikev2` line: decrypts the SK payloads of that IKE SA's messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IkeSa {
    pub initiator: bool,
    pub spii: [u8; 8],
    pub spir: [u8; 8],
}

#[derive(Clone)]
pub struct Sa {
    pub spi: u32,
    /// `None` for the default SA and IKEv2 lines.
    pub daddr: Option<IpAddr>,
    pub ike: Option<IkeSa>,
    pub cipher: Cipher,
    /// Bytes of ICV at the end of the packet (12 with `-hmac96`, or `sha1`/`md5` on an IKEv2 line).
    pub authlen: usize,
    /// The cipher's key: the secret padded with zeros or cut to the cipher's length.
    key: Vec<u8>,
}

impl Sa {
    /// The cipher's key as tcpdump uses it (padded or cut to the cipher's length).
    pub fn key(&self) -> &[u8] {
        &self.key
    }
}

impl std::fmt::Debug for Sa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("Sa")
            .field("spi", &self.spi)
            .field("daddr", &self.daddr)
            .field("ike", &self.ike)
            .field("cipher", &self.cipher)
            .field("authlen", &self.authlen)
            .finish_non_exhaustive()
    }
}

/// The SA list of one `-E` argument.
#[derive(Debug, Default, Clone)]
pub struct Secrets {
    /// In the order given; tcpdump searches the newest first.
    sas: Vec<Sa>,
    default: Option<usize>,
}

impl Secrets {
    pub fn is_empty(&self) -> bool {
        self.sas.is_empty()
    }

    pub fn sas(&self) -> &[Sa] {
        &self.sas
    }

    /// The newest SA of an `ikev2` line for this side and these SPIs.
    pub fn lookup_ike(&self, initiator: bool, spii: &[u8], spir: &[u8]) -> Option<&Sa> {
        self.sas.iter().rev().find(|sa| {
            sa.ike
                .as_ref()
                .is_some_and(|k| k.initiator == initiator && k.spii[..] == *spii && k.spir[..] == *spir)
        })
    }

    /// The SA for an ESP packet: the newest with this SPI and destination, else the default.
    pub fn lookup(&self, spi: u32, dst: IpAddr) -> Option<&Sa> {
        self.sas
            .iter()
            .rev()
            .find(|sa| sa.ike.is_none() && sa.daddr.is_some_and(|a| a == dst) && sa.spi == spi)
            .or_else(|| self.default.map(|i| &self.sas[i]))
    }
}

/// Parses a `-E` argument. `Ok` carries the SAs and tcpdump's warnings for the entries it
/// skipped; `Err` is a fatal error (tcpdump exits there too).
pub fn parse(spec: &str) -> Result<(Secrets, Vec<String>), String> {
    let mut p = Parser::default();
    let mut rest = spec;
    while !rest.is_empty() {
        let (line, next) = match rest.find(['\n', ',']) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, ""),
        };
        p.one(line, "cmdline", 0)?;
        rest = next;
    }
    Ok((p.secrets, p.warnings))
}

#[derive(Default)]
struct Parser {
    secrets: Secrets,
    warnings: Vec<String>,
    depth: usize,
}

/// `strsep` on space or tab: the token and the rest after the one delimiter.
fn sep(s: &str) -> (&str, Option<&str>) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// C's `strtoul(s, &end, 0)` as a u32 (wrapping as the cast does): the value and the rest,
/// `None` when no digit was read.
fn strtoul(s: &str) -> (Option<u32>, &str) {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if (t.starts_with("0x") || t.starts_with("0X"))
        && t[2..].chars().next().is_some_and(|c| c.is_ascii_hexdigit())
    {
        (16, &t[2..])
    } else if t.starts_with('0') {
        (8, t)
    } else {
        (10, t)
    };
    let n = digits.chars().take_while(|c| c.is_digit(radix)).count();
    if n == 0 {
        return (None, s);
    }
    let v = u64::from_str_radix(&digits[..n], radix).unwrap_or(u64::MAX);
    let v = if neg { v.wrapping_neg() } else { v };
    (Some(v as u32), &digits[n..])
}

impl Parser {
    fn warn(&mut self, w: String) {
        self.warnings.push(w.trim_end_matches('\n').to_string());
    }

    /// tcpdump's `espprint_decode_hex`: `None` when too big (warned), else the bytes (an odd
    /// last digit is dropped).
    fn hex(&mut self, hex: &str, max: usize) -> Result<Option<Vec<u8>>, String> {
        let b = hex.as_bytes();
        if b.len() / 2 > max {
            self.warn(format!("secret is too big: {}", b.len() / 2));
            return Ok(None);
        }
        let digit = |c: u8| -> Result<u8, String> {
            (c as char)
                .to_digit(16)
                .map(|d| d as u8)
                .ok_or_else(|| format!("invalid hex digit {} in espsecret", c as char))
        };
        let mut out = Vec::with_capacity(b.len() / 2);
        for pair in b.chunks_exact(2) {
            out.push((digit(pair[0])? << 4) | digit(pair[1])?);
        }
        Ok(Some(out))
    }

    /// tcpdump's `espprint_decode_encalgo`: `algo:secret`.
    fn encalgo(&mut self, decode: &str) -> Result<Option<(Cipher, usize, Vec<u8>)>, String> {
        let Some((name, secret)) = decode.split_once(':') else {
            self.warn(format!("failed to decode espsecret: {decode}"));
            return Ok(None);
        };
        let mut name = name;
        let mut authlen = 0;
        for (suffix, auth) in [("-hmac96", 12), ("-cbc", 0)] {
            if name.len() > suffix.len() && name.ends_with(suffix) {
                name = &name[..name.find(suffix).unwrap_or(name.len())];
                if auth > 0 {
                    authlen = auth;
                }
            }
        }
        let Some(cipher) = Cipher::by_name(name) else {
            if openssl_only(name) {
                self.warn(format!(
                    "cipher algo {name} is known to tcpdump's OpenSSL but not decrypted by ipsec-doctor"
                ));
            } else {
                self.warn(format!("failed to find cipher algo {name}"));
            }
            return Ok(None);
        };
        let mut secret = if let Some(hex) = secret.strip_prefix("0x") {
            match self.hex(hex, 256)? {
                Some(s) if !s.is_empty() => s,
                _ => return Ok(None),
            }
        } else {
            let mut s = secret.as_bytes().to_vec();
            s.truncate(256);
            s
        };
        if cipher.aead().is_some() && secret.len() != cipher.key_len() {
            // A short AEAD secret padded with zeros would fail every ICV: say why at once.
            self.warn(format!(
                "secret for {name} must be {} bytes (the key and its 4-byte salt), not {}",
                cipher.key_len(),
                secret.len()
            ));
            return Ok(None);
        }
        secret.resize(cipher.key_len(), 0);
        Ok(Some((cipher, authlen, secret)))
    }

    fn one(&mut self, line: &str, file: &str, lineno: usize) -> Result<(), String> {
        let (spikey, rest) = sep(line);
        let (spikey, decode, default) = match rest {
            None => (None, spikey, true),
            Some(r) => (Some(spikey), r, false),
        };
        if let Some(k) = spikey {
            if k.eq_ignore_ascii_case("file") {
                return self.file(decode);
            }
            if k.eq_ignore_ascii_case("ikev2") {
                return self.ikeline(decode, file, lineno);
            }
        }
        let mut spi = 0;
        let mut daddr = None;
        if let Some(k) = spikey {
            let (spistr, addr) = match k.split_once('@') {
                Some((s, a)) => (s, Some(a)),
                None => (k, None),
            };
            let (v, end) = strtoul(spistr);
            let (Some(v), Some(addr)) = (v, addr) else {
                self.warn(format!("print_esp: failed to decode spi# {end}"));
                return Ok(());
            };
            spi = v;
            match addr.parse::<IpAddr>() {
                Ok(a) => daddr = Some(a),
                Err(_) => {
                    self.warn(format!("print_esp: can not decode IP# {addr}"));
                    return Ok(());
                }
            }
        }
        let decode = decode.trim_start_matches([' ', '\t', '\r', '\n']);
        let Some((cipher, authlen, key)) = self.encalgo(decode)? else {
            return Ok(());
        };
        self.secrets.sas.push(Sa {
            spi,
            daddr,
            ike: None,
            cipher,
            authlen,
            key,
        });
        if default {
            self.secrets.default = Some(self.secrets.sas.len() - 1);
        }
        Ok(())
    }

    fn file(&mut self, path: &str) -> Result<(), String> {
        if self.depth > 8 {
            return Err(format!("{path}: secrets files include each other too deeply"));
        }
        let bytes = std::fs::read(path).map_err(|e| {
            let msg = e.to_string();
            let msg = msg.split(" (os error").next().unwrap_or(&msg).to_string();
            format!("can't open {path}: {msg}")
        })?;
        let text = String::from_utf8_lossy(&bytes);
        // fgets with tcpdump's 1024-byte buffer: lines over 1022 bytes come in pieces.
        let mut lineno = 0;
        self.depth += 1;
        for raw in text.split_inclusive('\n') {
            let mut piece = raw;
            while !piece.is_empty() {
                let mut n = piece.len().min(1022);
                while !piece.is_char_boundary(n) {
                    n -= 1;
                }
                let chunk = &piece[..n];
                piece = &piece[n..];
                lineno += 1;
                let l = chunk.split('\n').next().unwrap_or("");
                if l.starts_with('#') || l.is_empty() {
                    continue;
                }
                let r = self.one(l, path, lineno);
                if r.is_err() {
                    self.depth -= 1;
                    return r;
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn ikeline(&mut self, line: &str, file: &str, lineno: usize) -> Result<(), String> {
        let mut rest = Some(line);
        let mut field = || {
            let r = rest?;
            let (tok, next) = sep(r);
            rest = next;
            Some(tok)
        };
        let (Some(init), Some(icookie), Some(rcookie), Some(authkey), Some(enckey)) =
            (field(), field(), field(), field(), field())
        else {
            self.warn(format!(
                "print_esp: failed to find all fields for ikev2 at {file}:{lineno}"
            ));
            return Ok(());
        };
        let (ilen, rlen) = (icookie.len(), rcookie.len());
        if !(init.starts_with('I') || init.starts_with('R'))
            || !icookie.starts_with("0x")
            || !rcookie.starts_with("0x")
            || ilen != 18
            || rlen != 18
        {
            self.warn(format!("print_esp: line {file}:{lineno} improperly formatted."));
            self.warn(format!(
                "init={init} icookie={icookie}({ilen}) rcookie={rcookie}({rlen})"
            ));
            return Ok(());
        }
        let cookie = |p: &mut Parser, c: &str| -> Result<Option<[u8; 8]>, String> {
            Ok(p.hex(&c[2..], 8)?.and_then(|v| v.try_into().ok()))
        };
        let Some(spii) = cookie(self, icookie)? else {
            return Ok(());
        };
        let Some(spir) = cookie(self, rcookie)? else {
            return Ok(());
        };
        let Some((cipher, mut authlen, key)) = self.encalgo(enckey)? else {
            return Ok(());
        };
        let Some((alg, _)) = authkey.split_once(':') else {
            self.warn(format!("failed to decode espsecret: {authkey}"));
            return Ok(());
        };
        if alg.eq_ignore_ascii_case("sha1") || alg.eq_ignore_ascii_case("md5") {
            authlen = 12;
        }
        self.secrets.sas.push(Sa {
            spi: 0,
            daddr: None,
            ike: Some(IkeSa {
                initiator: init.starts_with('I'),
                spii,
                spir,
            }),
            cipher,
            authlen,
            key,
        });
        Ok(())
    }
}

impl Sa {
    /// An AEAD entry as the keys' ESP SA, for [`crate::decrypt::esp`].
    pub fn aead_sa(&self) -> Option<crate::keys::EspSa> {
        Some(crate::keys::EspSa {
            spi: Some(self.spi),
            src: None,
            dst: self.daddr,
            encr: self.cipher.aead()?,
            encr_key: self.key.clone(),
            integ: crate::keys::Integ::None,
            integ_key: None,
            esn: false,
        })
    }
}

/// Decrypts `ct` (a whole number of blocks, checked by the caller) with `sa`'s cipher (CBC or
/// ECB; AEAD entries go through [`crate::decrypt::esp`]).
pub fn decrypt(sa: &Sa, iv: &[u8], ct: &[u8]) -> Vec<u8> {
    use crate::decrypt::BlockCipherKind as K;
    use Cipher::*;
    let mut pt = ct.to_vec();
    let kind = match sa.cipher {
        DesCbc | DesEcb => K::Des,
        Des3Cbc | Des3Ecb => K::Des3,
        _ => K::Aes,
    };
    let iv = (sa.cipher.iv_len() > 0).then_some(iv);
    // The key has the cipher's length and `ct` whole blocks: this cannot fail.
    let _ = crate::decrypt::block_decrypt(kind, &sa.key, iv, &mut pt);
    pt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_as_tcpdump() {
        let (s, w) = parse(
            "0x12345678@192.1.2.45 3des-cbc-hmac96:0x4043434545464649494a4a4c4c4f4f515152525454575758,\
             aes128:ascii,foo-hmac96:0x12, 3des:0x123,0x1@::1 des-ede3-cbc:0x11,,nokey",
        )
        .unwrap();
        assert_eq!(
            w,
            [
                "failed to find cipher algo foo",
                "print_esp: failed to decode spi# ",
                "failed to decode espsecret: ",
                "failed to decode espsecret: nokey",
            ]
        );
        assert_eq!(s.sas.len(), 3);
        assert_eq!(s.sas[0].cipher, Cipher::Des3Cbc);
        assert_eq!(s.sas[0].authlen, 12);
        assert_eq!(s.sas[1].key, b"ascii\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(s.sas[2].cipher, Cipher::Des3Ecb);
        assert_eq!(s.default, Some(1));
        let dst: IpAddr = "192.1.2.45".parse().unwrap();
        assert_eq!(s.lookup(0x12345678, dst).unwrap().spi, 0x12345678);
        assert_eq!(s.lookup(0x1, dst).unwrap().cipher, Cipher::Aes128Cbc);
        assert_eq!(parse("3des:0x1g").unwrap_err(), "invalid hex digit g in espsecret");
        assert!(parse("file /nonexistent/x")
            .unwrap_err()
            .starts_with("can't open /nonexistent/x: "));
        let (s, w) =
            parse("ikev2 I 0x0001020304050607 0xc02e7a3031a03188 sha1:0x00 aes128:0x3f44bf47cafd8150591deb088199fcbf")
                .unwrap();
        assert!(w.is_empty());
        assert_eq!(s.sas[0].authlen, 12);
        assert_eq!(s.sas[0].ike.as_ref().unwrap().spir[0], 0xc0);
        let (_, w) = parse("ikev2 X 0x01 0x02 a b").unwrap();
        assert_eq!(w[0], "print_esp: line cmdline:0 improperly formatted.");
        // Our AEAD names; their secret holds the 4-byte salt, exactly.
        let (s, w) = parse(&format!(
            "0x1@10.0.0.1 aes128-gcm16:0x{k20},0x2@10.0.0.1 aes-256-gcm:0x{k36},aes192gcm8:0x{k28},\
             chacha20-poly1305:0x{k36},aes256-gcm12:0x{k20},chacha20poly1305:0x{k20},aes128-gcm4:0x{k20}",
            k20 = "11".repeat(20),
            k28 = "11".repeat(28),
            k36 = "11".repeat(36)
        ))
        .unwrap();
        let ciphers: Vec<Cipher> = s.sas.iter().map(|sa| sa.cipher).collect();
        assert_eq!(
            ciphers,
            [
                Cipher::AesGcm { key: 16, icv: 16 },
                Cipher::AesGcm { key: 32, icv: 16 },
                Cipher::AesGcm { key: 24, icv: 8 },
                Cipher::ChaCha20Poly1305
            ]
        );
        assert_eq!(
            w,
            [
                "secret for aes256-gcm12 must be 36 bytes (the key and its 4-byte salt), not 20",
                "secret for chacha20poly1305 must be 36 bytes (the key and its 4-byte salt), not 20",
                "failed to find cipher algo aes128-gcm4",
            ]
        );
        assert_eq!(s.sas[0].aead_sa().unwrap().encr_key.len(), 20);
        // Keys stay out of Debug.
        assert!(!format!("{:?}", parse("des:0x4142434445464748").unwrap().0).contains("65"));
    }
}
