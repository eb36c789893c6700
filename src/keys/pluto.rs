//! pluto (Libreswan) logs with `plutodebug=private` (or `all,private`, or `crypt`):
//!
//! - the IKE SA's keys in tcpdump's `-E` form (state.c's `DBG_tcpdump_ike_sa_keys`, both 4.x
//!   and 5.x): `ikev2 I 0xISPI 0xRSPI INTEG:0xSK_AI ENCR[BITS]:0xSK_EI`, then the same with `R`,
//!   SK_ar and SK_er; INTEG and ENCR are Libreswan's tcpdump names (`sha256`, `aes`, `aes_gcm_16`
//!   ...), the key size in bits glued to ENCR;
//! - each ESP SA's keys as the kernel SA is added (kernel.c): `ESP enckey:` and `ESP authkey:`
//!   (4.x) or `ESP encrypt key:` and `ESP integrity key:` (5.x), each followed by hex dump lines
//!   (`  db f3 02 7f  b3 18 ...   ascii`), then kernel_ops.c's `kernel: add_sa() level=0
//!   outbound tunnel CLIENT-PROTO->SRC[SPI]==>DST-PROTO->CLIENT ... INTEG:LEN ENCR:LEN` (4.x), or
//!   `routing:  kernel_ops_add_sa() ...` followed by `routing:   (src) SEL -> SRC[SPI] ==> DST ->
//!   SEL (dst)` and `routing:   INTEG:LEN ENCR:LEN ...` (5.x).
//!
//! Debug lines start with `| `, after the log file's time or the syslog prefix.

use super::load::{Lines, Notes};
use super::text::{check_encr_key, check_integ_key, hex, spi32, spi8, unchecked_icv};
use super::{Encr, EspSa, IkeSa, Integ, KeyRing};
use std::net::IpAddr;

/// Whether `text` holds a key line.
pub fn has_keys(text: &str) -> bool {
    text.lines()
        .filter_map(debug)
        .any(|m| ikev2_line(m).is_some() || ESP_ENC.contains(&m.trim_end()))
}

const ESP_ENC: [&str; 2] = ["ESP enckey:", "ESP encrypt key:"];
const ESP_INTEG: [&str; 2] = ["ESP authkey:", "ESP integrity key:"];

/// The text of a debug line (after `| `).
fn debug(line: &str) -> Option<&str> {
    if let Some(r) = line.strip_prefix("| ") {
        return Some(r);
    }
    line.find(": | ").map(|i| &line[i + 4..])
}

/// One side of an IKEv2 SA from a tcpdump-form line.
pub(crate) struct Ikev2Line {
    pub initiator: bool,
    pub spii: [u8; 8],
    pub spir: [u8; 8],
    pub integ: Result<(Integ, bool), String>,
    pub integ_key: Vec<u8>,
    pub encr: Result<Encr, String>,
    pub encr_key: Vec<u8>,
}

/// `ikev2 I|R 0xISPI 0xRSPI INTEG:0xKEY ENCR:0xKEY` (Libreswan's and tcpdump's form); `None`
/// when the line is not one.
pub(crate) fn ikev2_line(m: &str) -> Option<Ikev2Line> {
    let mut w = m.split_whitespace();
    if w.next()? != "ikev2" {
        return None;
    }
    let initiator = match w.next()? {
        "I" => true,
        "R" => false,
        _ => return None,
    };
    let spii = spi8(w.next()?.strip_prefix("0x")?)?;
    let spir = spi8(w.next()?.strip_prefix("0x")?)?;
    let (ia, ik) = w.next()?.split_once(':')?;
    let (ea, ek) = w.next()?.split_once(':')?;
    if w.next().is_some() {
        return None;
    }
    let key = |k: &str| {
        if k.is_empty() || k == "0x" {
            Some(Vec::new())
        } else {
            hex(k.strip_prefix("0x")?)
        }
    };
    Some(Ikev2Line {
        initiator,
        spii,
        spir,
        integ: tcpdump_integ(ia),
        integ_key: key(ik)?,
        encr: tcpdump_encr(ea),
        encr_key: key(ek)?,
    })
}

/// Libreswan's `integ_tcpdump_name`s (ike_alg_*.c), and tcpdump's `md5`/`sha1`.
fn tcpdump_integ(name: &str) -> Result<(Integ, bool), String> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "none" | "" => (Integ::None, true),
        "md5" => (Integ::HmacMd5_96, true),
        "sha1" => (Integ::HmacSha1_96, true),
        "sha256" => (Integ::HmacSha256_128, true),
        "sha384" => (Integ::HmacSha384_192, true),
        "sha512" => (Integ::HmacSha512_256, true),
        "hmac_sha2_256_truncbug" => (unchecked_icv(12).unwrap_or(Integ::HmacSha1_96), false),
        n => return Err(format!("integrity {n} is not one ipsec-doctor handles")),
    })
}

/// Libreswan's `encrypt_tcpdump_name` with the key bits glued on (`aes256`, `aes_gcm_16256`),
/// and tcpdump's own names (`aes128`, `3des`, `aes256-cbc`).
fn tcpdump_encr(name: &str) -> Result<Encr, String> {
    let n = name.to_ascii_lowercase();
    let n = n.strip_suffix("-cbc").unwrap_or(&n);
    // Longest names first: "aes_gcm_16" before "aes_gcm" before "aes".
    let table: [(&str, Option<Encr>); 10] = [
        ("chacha20_poly1305", Some(Encr::ChaCha20Poly1305)),
        ("aes_gcm_16", Some(Encr::AesGcm { icv: 16 })),
        ("aes_gcm_12", Some(Encr::AesGcm { icv: 12 })),
        ("aes_gcm", Some(Encr::AesGcm { icv: 8 })),
        ("aes_ctr", None),
        ("aes_ccm", None),
        ("3des", Some(Encr::Des3Cbc)),
        ("null", Some(Encr::Null)),
        ("aes", Some(Encr::AesCbc)),
        ("des", Some(Encr::DesCbc)),
    ];
    for (prefix, e) in table {
        if let Some(rest) = n.strip_prefix(prefix) {
            let rest = rest.trim_start_matches('-');
            if rest.bytes().all(|b| b.is_ascii_digit()) {
                return e.ok_or_else(|| format!("encryption {name} is not one ipsec-doctor decrypts"));
            }
        }
    }
    Err(format!("encryption {name} is not one ipsec-doctor decrypts"))
}

/// Libreswan's `fqn`s of the `add_sa()` line.
fn fqn_encr(n: &str) -> Option<Encr> {
    Some(match n {
        "AES_CBC" => Encr::AesCbc,
        "3DES_CBC" => Encr::Des3Cbc,
        "DES_CBC" => Encr::DesCbc,
        "NULL" => Encr::Null,
        "AES_GCM_16" => Encr::AesGcm { icv: 16 },
        "AES_GCM_12" => Encr::AesGcm { icv: 12 },
        "AES_GCM_8" => Encr::AesGcm { icv: 8 },
        "CHACHA20_POLY1305" => Encr::ChaCha20Poly1305,
        _ => return None,
    })
}

fn fqn_integ(n: &str) -> Option<Integ> {
    Some(match n {
        "NONE" => Integ::None,
        "HMAC_MD5_96" => Integ::HmacMd5_96,
        "HMAC_SHA1_96" => Integ::HmacSha1_96,
        "HMAC_SHA2_256_128" => Integ::HmacSha256_128,
        "HMAC_SHA2_384_192" => Integ::HmacSha384_192,
        "HMAC_SHA2_512_256" => Integ::HmacSha512_256,
        _ => return None,
    })
}

/// Bytes of one `llog_dump` line: 2-digit hex bytes separated by one space (two between groups
/// of four), the ASCII column after three spaces.
fn dump_line(m: &str) -> Option<Vec<u8>> {
    let t = m.trim_start();
    let mut out = Vec::new();
    let mut blanks = 0;
    for tok in t.split(' ') {
        if tok.is_empty() {
            blanks += 1;
            if blanks >= 2 {
                break;
            }
            continue;
        }
        blanks = 0;
        if tok.len() != 2 || out.len() == 16 {
            break;
        }
        out.push(u8::from_str_radix(tok, 16).ok()?);
    }
    (!out.is_empty()).then_some(out)
}

#[derive(PartialEq)]
enum Reading {
    None,
    Enc,
    Integ,
}

pub(crate) struct Parser {
    origin: String,
    /// `ikev2 I` lines waiting for their `R` line.
    half: Vec<(usize, Ikev2Line)>,
    reading: Reading,
    enc: Option<Vec<u8>>,
    integ: Option<Vec<u8>>,
    keys_line: usize,
    truncbug: bool,
    /// 5.x's add_sa lines after `routing:  kernel_ops_add_sa()`: the addresses, then the
    /// algorithms.
    add_sa_v5: Option<Vec<String>>,
    ring: KeyRing,
    notes: Notes,
}

impl Parser {
    pub fn new(origin: &str) -> Self {
        Parser {
            origin: origin.to_string(),
            half: Vec::new(),
            reading: Reading::None,
            enc: None,
            integ: None,
            keys_line: 0,
            truncbug: false,
            add_sa_v5: None,
            ring: KeyRing::default(),
            notes: Notes::default(),
        }
    }

    fn ike(&mut self, l: Ikev2Line, n: usize) {
        let at = format!("{}:{n}", self.origin);
        if l.initiator {
            if self.half.len() >= 64 {
                self.half.remove(0);
            }
            self.half.push((n, l));
            return;
        }
        let Some(pos) = self.half.iter().position(|(_, h)| h.spii == l.spii && h.spir == l.spir) else {
            self.notes.push(format!(
                "{at}: an 'ikev2 R' line with no 'ikev2 I' line before it; skipped"
            ));
            return;
        };
        let (_, i) = self.half.remove(pos);
        let r = (|| -> Result<IkeSa, String> {
            let encr = i.encr.clone()?;
            let (integ, checked) = i.integ.clone()?;
            if encr.is_aead() && [16, 24, 32].contains(&i.encr_key.len()) {
                // DBG_tcpdump_ike_sa_keys prints SK_e alone; the salt is a key of its own there.
                return Err("this AEAD key is logged without its 4-byte salt (Libreswan keeps the salt apart), so this IKE SA cannot be opened".into());
            }
            check_encr_key(encr, &i.encr_key)?;
            check_encr_key(encr, &l.encr_key)?;
            let (sk_ai, sk_ar) = if checked && integ != Integ::None {
                check_integ_key(integ, &i.integ_key)?;
                check_integ_key(integ, &l.integ_key)?;
                (Some(i.integ_key.clone()), Some(l.integ_key.clone()))
            } else {
                (None, None)
            };
            Ok(IkeSa {
                spis: Some((i.spii, i.spir)),
                encr,
                integ,
                sk_ei: i.encr_key.clone(),
                sk_er: l.encr_key.clone(),
                sk_ai,
                sk_ar,
            })
        })();
        match r {
            Ok(sa) => {
                let origin = self.origin.clone();
                self.notes.bounded(&mut self.ring.ike, sa, &origin, "IKE SAs");
            }
            Err(why) => self.notes.push(format!("{at}: IKE keys skipped: {why}")),
        }
    }

    /// `kernel: add_sa() level=0 outbound tunnel 10.2.0.0/24-ALL->198.51.100.2[044547a9]==>192.0.2.1-ALL->10.1.0.0/24 +esn replay_window=128 HMAC_SHA2_256_128:32 AES_CBC:32`
    fn add_sa(&mut self, m: &str, n: usize) {
        let at = format!("{}:{n}", self.origin);
        let (Some(enc), integ_key) = (self.enc.take(), self.integ.take()) else {
            return;
        };
        let truncbug = std::mem::take(&mut self.truncbug);
        // "+esn" (4.x) or "esn=yes" (5.x): extended sequence numbers.
        let esn = m.split_whitespace().any(|w| w == "+esn" || w == "esn=yes");
        let r = (|| -> Result<EspSa, String> {
            // 4.x: "...->SRC[SPI]==>DST-PROTO->..."; 5.x: "-> SRC[SPI] ==> DST -> ...", both
            // with "=ENCAP" after the SPI when encapsulated.
            let arrow = m.find("==>").ok_or("no SRC[SPI] ==> DST in the add_sa() lines")?;
            let left = &m[..arrow];
            let lb = left.rfind('[').ok_or("no SPI in the add_sa() lines")?;
            let rb = lb + left[lb..].find(']').ok_or("no SPI in the add_sa() lines")?;
            let spi = spi32(&left[lb + 1..rb]).ok_or("the SPI is not hex")?;
            let src_word = left[..lb].rsplit(char::is_whitespace).next().unwrap_or("");
            let src_word = src_word.rsplit("->").next().unwrap_or(src_word);
            let src: IpAddr = src_word.parse().map_err(|_| "the source is not an address")?;
            let dst_word = m[arrow + 3..].split_whitespace().next().unwrap_or("");
            // The destination ends at "-PROTO->" in 4.x; an address holds no '-'.
            let dst: IpAddr = dst_word
                .split('-')
                .next()
                .unwrap_or("")
                .parse()
                .map_err(|_| "the destination is not an address")?;
            let mut encr = None;
            let mut integ = Integ::None;
            for tok in m.split_whitespace() {
                if let Some((name, len)) = tok.split_once(':') {
                    if len.parse::<usize>().is_err() {
                        continue;
                    }
                    if let Some(e) = fqn_encr(name) {
                        encr = Some(e);
                    } else if let Some(i) = fqn_integ(name) {
                        integ = i;
                    } else if name.starts_with("HMAC_") || name.starts_with("AES_") || name.starts_with("CAMELLIA") {
                        return Err(format!("algorithm {name} is not one ipsec-doctor handles"));
                    }
                }
            }
            let encr = encr.ok_or("no encryption algorithm ipsec-doctor knows in the add_sa() line")?;
            check_encr_key(encr, &enc)?;
            let (integ, integ_key) = if encr.is_aead() || integ == Integ::None {
                (Integ::None, None)
            } else if truncbug {
                (unchecked_icv(12).unwrap_or(integ), None)
            } else {
                let k = integ_key.unwrap_or_default();
                check_integ_key(integ, &k)?;
                (integ, Some(k))
            };
            Ok(EspSa {
                spi: Some(spi),
                src: Some(src),
                dst: Some(dst),
                encr,
                encr_key: enc,
                integ,
                integ_key,
                esn,
            })
        })();
        match r {
            Ok(sa) => {
                let origin = self.origin.clone();
                self.notes.bounded(&mut self.ring.esp, sa, &origin, "ESP SAs");
            }
            Err(why) => self.notes.push(format!("{at}: ESP keys skipped: {why}")),
        }
    }
}

impl Lines for Parser {
    fn line(&mut self, line: &str, n: usize) {
        let Some(m) = debug(line) else {
            self.reading = Reading::None;
            return;
        };
        if self.reading != Reading::None {
            if let Some(b) = dump_line(m) {
                let buf = if self.reading == Reading::Enc {
                    &mut self.enc
                } else {
                    &mut self.integ
                };
                let v = buf.get_or_insert_with(Vec::new);
                if v.len() < 1024 {
                    v.extend(b);
                }
                return;
            }
            self.reading = Reading::None;
        }
        let t = m.trim_end();
        if let Some(lines) = self.add_sa_v5.as_mut() {
            if let Some(r) = t.strip_prefix("routing:   ") {
                lines.push(r.to_string());
                if lines.len() == 2 {
                    let joined = self.add_sa_v5.take().unwrap_or_default().join(" ");
                    self.add_sa(&joined, n);
                }
                return;
            }
            self.add_sa_v5 = None;
        }
        if t.starts_with("routing:  kernel_ops_add_sa()") {
            self.add_sa_v5 = Some(Vec::new());
        } else if ESP_ENC.contains(&t) {
            self.reading = Reading::Enc;
            self.enc = Some(Vec::new());
            self.integ = None;
            self.keys_line = n;
        } else if ESP_INTEG.contains(&t) {
            self.reading = Reading::Integ;
            self.integ = Some(Vec::new());
        } else if t.starts_with("kernel: add_sa()") {
            self.add_sa(t, n);
        } else if t.contains("sha2 truncation at 96bits") {
            self.truncbug = true;
        } else if let Some(l) = ikev2_line(t) {
            self.ike(l, n);
        } else if self.enc.is_some() && n > self.keys_line + 200 {
            self.notes.push(format!(
                "{}:{}: ESP keys with no 'kernel: add_sa()' line after them; skipped",
                self.origin, self.keys_line
            ));
            self.enc = None;
            self.integ = None;
        }
    }

    fn finish(mut self: Box<Self>) -> Result<(KeyRing, Vec<String>), String> {
        for (n, _) in std::mem::take(&mut self.half) {
            self.notes.push(format!(
                "{}:{n}: an 'ikev2 I' line with no 'ikev2 R' line after it; skipped",
                self.origin
            ));
        }
        Ok((self.ring, self.notes.done()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(tcpdump_encr("aes256").unwrap(), Encr::AesCbc);
        assert_eq!(tcpdump_encr("aes_gcm_16256").unwrap(), Encr::AesGcm { icv: 16 });
        assert_eq!(tcpdump_encr("aes_gcm128").unwrap(), Encr::AesGcm { icv: 8 });
        assert_eq!(tcpdump_encr("3des").unwrap(), Encr::Des3Cbc);
        assert!(tcpdump_encr("aes_ctr128").is_err());
        assert!(tcpdump_encr("camellia256").is_err());
        assert_eq!(
            dump_line("  db f3 02 7f  b3 18 a3 da  6c a9 3c de  6d af 11 e5   ab..")
                .unwrap()
                .len(),
            16
        );
        assert_eq!(dump_line("  01 02   ab cd").unwrap(), [1, 2]);
        assert!(dump_line("kernel: x").is_none());
    }
}
