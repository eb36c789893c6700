//! Wireshark's key tables (UAT files), as Wireshark saves them and as strongSwan's save-keys
//! plugin writes them (src/libcharon/plugins/save_keys/save_keys_listener.c):
//!
//! - `esp_sa`: `"IPv4","SRC","DST","0xSPI","ENCRYPTION","0xKEY","AUTHENTICATION","0xKEY"`, one
//!   line per direction; the algorithm names are Wireshark's (packet-esp.c);
//! - `ikev2_decryption_table`: `ISPI,RSPI,SK_EI,SK_ER,"ENCRYPTION",SK_AI,SK_AR,"INTEGRITY"`, SPIs
//!   and keys in hex without `0x`; names from packet-isakmp.c;
//! - `ikev1_decryption_table`: `ICOOKIE,KEY`.
//!
//! Fields may be quoted (with `\xNN` escapes, as Wireshark writes) or bare; `#` starts a comment.

use super::load::{Kind, Lines, Notes};
use super::text::{check_encr_key, check_integ_key, hex, spi32, spi8, unchecked_icv};
use super::{Encr, EspSa, IkeSa, Ikev1Sa, Integ, KeyRing};
use std::net::IpAddr;

/// A UAT line's fields; `None` when the quoting is broken.
fn fields(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if !quoted && cur.is_empty() => quoted = true,
            '"' if quoted => {
                quoted = false;
                if !matches!(chars.peek(), None | Some(',')) {
                    return None;
                }
            }
            '\\' if quoted => match chars.next()? {
                'x' => {
                    let h: String = [chars.next()?, chars.next()?].iter().collect();
                    cur.push(u8::from_str_radix(&h, 16).ok()? as char);
                }
                o => cur.push(o),
            },
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    out.push(cur);
    Some(out)
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The table a line belongs to, by its shape.
pub fn shape(line: &str) -> Option<Kind> {
    let f = fields(line.trim())?;
    let bare = |s: &str| s.trim_start_matches("0x").to_string();
    match f.len() {
        8 if matches!(f[0].as_str(), "IPv4" | "IPv6" | "Any") && (f[3].starts_with("0x") || f[3] == "*") => {
            Some(Kind::WiresharkEsp)
        }
        8 if f[0].len() == 16 && is_hex(&f[0]) && f[1].len() == 16 && is_hex(&f[1]) => Some(Kind::WiresharkIkev2),
        2 if f[0].len() == 16 && is_hex(&f[0]) && is_hex(&bare(&f[1])) => Some(Kind::WiresharkIkev1),
        _ => None,
    }
}

/// A key field: `0x` hex, bare hex (the IKE tables), or ASCII text (Wireshark allows it in
/// `esp_sa`); empty for none.
fn key(s: &str, ascii_ok: bool) -> Option<Vec<u8>> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return hex(h);
    }
    if s.is_empty() {
        return Some(Vec::new());
    }
    if ascii_ok {
        return Some(s.as_bytes().to_vec());
    }
    hex(s)
}

/// The ICV bytes of a GCM entry without it in its name: from "ANY N bit authentication".
fn any_bits(name: &str) -> Option<usize> {
    let n = name.strip_prefix("ANY ")?.split(' ').next()?.parse::<usize>().ok()?;
    Some(n / 8)
}

fn esp_encr(name: &str, auth: &str) -> Result<Encr, String> {
    Ok(match name {
        "NULL" => Encr::Null,
        "TripleDES-CBC [RFC2451]" => Encr::Des3Cbc,
        "AES-CBC [RFC3602]" => Encr::AesCbc,
        "DES-CBC [RFC2405]" => Encr::DesCbc,
        "AES-GCM with 8 octet ICV [RFC4106]" => Encr::AesGcm { icv: 8 },
        "AES-GCM with 12 octet ICV [RFC4106]" => Encr::AesGcm { icv: 12 },
        "AES-GCM with 16 octet ICV [RFC4106]" => Encr::AesGcm { icv: 16 },
        "ChaCha20 with Poly1305 [RFC7634]" => Encr::ChaCha20Poly1305,
        // The older name without the ICV length (what save-keys writes): the length is in the
        // authentication column, "ANY 64|96|128 bit authentication [no checking]".
        "AES-GCM [RFC4106]" => match any_bits(auth) {
            Some(b @ (8 | 12 | 16)) => Encr::AesGcm { icv: b as u8 },
            _ => {
                return Err(format!(
                    "AES-GCM with authentication '{auth}': the ICV length is unknown"
                ))
            }
        },
        _ => return Err(format!("encryption '{name}' is not one ipsec-doctor decrypts")),
    })
}

/// `None` integrity key: the ICV is skipped, unchecked.
fn esp_integ(name: &str) -> Result<(Integ, bool), String> {
    Ok(match name {
        "NULL" => (Integ::None, true),
        "HMAC-SHA-1-96 [RFC2404]" => (Integ::HmacSha1_96, true),
        "HMAC-MD5-96 [RFC2403]" => (Integ::HmacMd5_96, true),
        "HMAC-SHA-256-128 [RFC4868]" => (Integ::HmacSha256_128, true),
        "HMAC-SHA-384-192 [RFC4868]" => (Integ::HmacSha384_192, true),
        "HMAC-SHA-512-256 [RFC4868]" => (Integ::HmacSha512_256, true),
        "HMAC-SHA-256-96 [draft-ietf-ipsec-ciph-sha-256-00]" => (Integ::HmacSha1_96, false),
        n => match any_bits(n).and_then(unchecked_icv) {
            Some(i) => (i, false),
            None => return Err(format!("authentication '{n}' is not one ipsec-doctor handles")),
        },
    })
}

fn ike_encr(name: &str) -> Result<Encr, String> {
    let n = name.split(" [").next().unwrap_or(name);
    Ok(match n {
        "3DES" => Encr::Des3Cbc,
        "NULL" => Encr::Null,
        "AES-CBC-128" | "AES-CBC-192" | "AES-CBC-256" => Encr::AesCbc,
        _ => {
            // "AES-GCM-128 with 16 octet ICV"
            if let Some(r) = n.strip_prefix("AES-GCM-") {
                match r.split_once(" with ").map(|(_, t)| t) {
                    Some("8 octet ICV") => Encr::AesGcm { icv: 8 },
                    Some("12 octet ICV") => Encr::AesGcm { icv: 12 },
                    Some("16 octet ICV") => Encr::AesGcm { icv: 16 },
                    _ => return Err(format!("encryption '{name}' is not one ipsec-doctor decrypts")),
                }
            } else if n.to_ascii_uppercase().starts_with("CHACHA20") {
                Encr::ChaCha20Poly1305
            } else {
                return Err(format!("encryption '{name}' is not one ipsec-doctor decrypts"));
            }
        }
    })
}

fn ike_integ(name: &str) -> Result<(Integ, bool), String> {
    let n = name.split(" [").next().unwrap_or(name);
    Ok(match n {
        "NONE" => (Integ::None, true),
        "HMAC_MD5_96" => (Integ::HmacMd5_96, true),
        "HMAC_SHA1_96" => (Integ::HmacSha1_96, true),
        "HMAC_SHA2_256_128" => (Integ::HmacSha256_128, true),
        "HMAC_SHA2_384_192" => (Integ::HmacSha384_192, true),
        "HMAC_SHA2_512_256" => (Integ::HmacSha512_256, true),
        "HMAC_SHA2_256_96" => (Integ::HmacSha1_96, false),
        "HMAC_MD5_128" => (Integ::HmacSha256_128, false),
        _ => return Err(format!("integrity '{name}' is not one ipsec-doctor handles")),
    })
}

pub(crate) struct Parser {
    origin: String,
    kind: Kind,
    ring: KeyRing,
    notes: Notes,
}

impl Parser {
    pub fn new(origin: &str, kind: Kind) -> Self {
        Parser {
            origin: origin.to_string(),
            kind,
            ring: KeyRing::default(),
            notes: Notes::default(),
        }
    }

    fn esp(&mut self, f: &[String]) -> Result<(), String> {
        let addr = |s: &str| -> Result<Option<IpAddr>, String> {
            // Wireshark accepts "*" (any) and address prefixes; only exact addresses are kept.
            if s.is_empty() || s.contains('*') {
                return Ok(None);
            }
            s.parse().map(Some).map_err(|_| format!("'{s}' is not an address"))
        };
        let spi = if f[3] == "*" {
            None
        } else {
            Some(spi32(&f[3]).ok_or_else(|| "the SPI is not 0x and up to 8 hex digits".to_string())?)
        };
        let encr = esp_encr(&f[4], &f[6])?;
        let encr_key = key(&f[5], true).ok_or("the encryption key is not hex")?;
        check_encr_key(encr, &encr_key)?;
        let (integ, integ_key) = if encr.is_aead() {
            (Integ::None, None)
        } else {
            let (integ, checked) = esp_integ(&f[6])?;
            let k = key(&f[7], true).ok_or("the authentication key is not hex")?;
            if checked && integ != Integ::None {
                check_integ_key(integ, &k)?;
                (integ, Some(k))
            } else {
                (integ, None)
            }
        };
        let sa = EspSa {
            spi,
            src: addr(&f[1])?,
            dst: addr(&f[2])?,
            encr,
            encr_key,
            integ,
            integ_key,
            esn: false,
        };
        let origin = self.origin.clone();
        self.notes.bounded(&mut self.ring.esp, sa, &origin, "ESP SAs");
        Ok(())
    }

    fn ikev2(&mut self, f: &[String]) -> Result<(), String> {
        let spii = spi8(&f[0]).ok_or("the initiator SPI is not 16 hex digits")?;
        let spir = spi8(&f[1]).ok_or("the responder SPI is not 16 hex digits")?;
        let encr = ike_encr(&f[4])?;
        let sk_ei = key(&f[2], false).ok_or("SK_ei is not hex")?;
        let sk_er = key(&f[3], false).ok_or("SK_er is not hex")?;
        check_encr_key(encr, &sk_ei)?;
        check_encr_key(encr, &sk_er)?;
        let (integ, checked) = if encr.is_aead() {
            (Integ::None, true)
        } else {
            ike_integ(&f[7])?
        };
        let (sk_ai, sk_ar) = if checked && integ != Integ::None {
            let ai = key(&f[5], false).ok_or("SK_ai is not hex")?;
            let ar = key(&f[6], false).ok_or("SK_ar is not hex")?;
            check_integ_key(integ, &ai)?;
            check_integ_key(integ, &ar)?;
            (Some(ai), Some(ar))
        } else {
            (None, None)
        };
        let sa = IkeSa {
            spis: Some((spii, spir)),
            encr,
            integ,
            sk_ei,
            sk_er,
            sk_ai,
            sk_ar,
        };
        let origin = self.origin.clone();
        self.notes.bounded(&mut self.ring.ike, sa, &origin, "IKE SAs");
        Ok(())
    }

    fn ikev1(&mut self, f: &[String]) -> Result<(), String> {
        let icookie = spi8(&f[0]).ok_or("the initiator cookie is not 16 hex digits")?;
        let encr_key = key(&f[1], false).ok_or("the key is not hex")?;
        if encr_key.is_empty() {
            return Err("no key".into());
        }
        let origin = self.origin.clone();
        self.notes.bounded(
            &mut self.ring.ikev1,
            Ikev1Sa { icookie, encr_key },
            &origin,
            "IKEv1 SAs",
        );
        Ok(())
    }
}

impl Lines for Parser {
    fn line(&mut self, line: &str, n: usize) {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            return;
        }
        let at = format!("{}:{n}", self.origin);
        let f = match fields(t) {
            Some(f) => f,
            None => {
                self.notes.push(format!("{at}: skipped: unbalanced quotes"));
                return;
            }
        };
        let (want, r) = match self.kind {
            Kind::WiresharkEsp => (8, if f.len() == 8 { self.esp(&f) } else { Ok(()) }),
            Kind::WiresharkIkev2 => (8, if f.len() == 8 { self.ikev2(&f) } else { Ok(()) }),
            _ => (2, if f.len() == 2 { self.ikev1(&f) } else { Ok(()) }),
        };
        if f.len() != want {
            self.notes.push(format!(
                "{at}: skipped: {} fields where {} has {want}",
                f.len(),
                self.kind.words()
            ));
        } else if let Err(why) = r {
            self.notes.push(format!("{at}: skipped: {why}"));
        }
    }

    fn finish(self: Box<Self>) -> Result<(KeyRing, Vec<String>), String> {
        Ok((self.ring, self.notes.done()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uat_fields() {
        assert_eq!(fields(r#""a","b\x2cc",d"#).unwrap(), ["a", "b,c", "d"]);
        assert!(fields(r#""a"#).is_none());
        assert_eq!(
            shape(r#""IPv4","192.0.2.1","198.51.100.2","0x0000beef","AES-CBC [RFC3602]","0x00","NULL","0x""#),
            Some(Kind::WiresharkEsp)
        );
        assert_eq!(shape("0123456789abcdef,00112233"), Some(Kind::WiresharkIkev1));
        assert_eq!(shape("hello,world"), None);
    }

    #[test]
    fn gcm_icv_from_the_auth_column() {
        assert_eq!(
            esp_encr("AES-GCM [RFC4106]", "ANY 64 bit authentication [no checking]").unwrap(),
            Encr::AesGcm { icv: 8 }
        );
        assert!(esp_encr("AES-GCM [RFC4106]", "NULL").is_err());
        assert_eq!(
            esp_integ("ANY 96 bit authentication [no checking]").unwrap(),
            (Integ::HmacSha1_96, false)
        );
        assert_eq!(
            ike_encr("AES-GCM-256 with 16 octet ICV [RFC5282]").unwrap(),
            Encr::AesGcm { icv: 16 }
        );
        assert!(ike_encr("AES-CTR-128 [RFC5930]").is_err());
    }
}
