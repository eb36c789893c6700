//! tcpdump `-E` secrets files: read with [`crate::print::esp::parse`] (tcpdump's own syntax,
//! warnings and errors) for the ESP entries, and with the `ikev2` line reader Libreswan's lines
//! share for the IKEv2 ones (tcpdump keeps only the side and the cipher of those; the ring
//! wants both sides' keys and the integrity key too).

use super::load::{Lines, Notes};
use super::pluto::ikev2_line;
use super::text::{check_encr_key, check_integ_key};
use super::{Encr, EspSa, IkeSa, Integ, KeyRing};
use crate::print::esp::Cipher;

/// Whether `line` reads as a tcpdump `-E` entry: `[spi@addr] algo:secret` or an `ikev2` line.
pub fn is_entry(line: &str) -> bool {
    let t = line.trim();
    if ikev2_line(t).is_some() {
        return true;
    }
    let mut w = t.split_whitespace();
    let (first, second) = (w.next(), w.next());
    if w.next().is_some() {
        return false;
    }
    let algo = |s: &str| {
        s.split_once(':').is_some_and(|(a, k)| {
            !k.is_empty()
                && ["des", "3des", "aes", "cast", "bf", "blowfish", "null", "chacha20"]
                    .iter()
                    .any(|p| a.to_ascii_lowercase().starts_with(p))
        })
    };
    match (first, second) {
        (Some(spi), Some(a)) => spi.contains('@') && spi.starts_with("0x") && algo(a),
        (Some(a), None) => algo(a),
        _ => false,
    }
}

/// Bytes of ESP entries kept from one file.
const MAX_SPEC_BYTES: usize = 16 << 20;

pub(crate) struct Parser {
    origin: String,
    spec_bytes: usize,
    spec_full: bool,
    /// The file's entries in tcpdump's syntax, for [`crate::print::esp::parse`]: bounded by
    /// the line cap and MAX_SAS lines.
    spec: Vec<(usize, String)>,
    half: Vec<(usize, super::pluto::Ikev2Line)>,
    ring: KeyRing,
    notes: Notes,
}

impl Parser {
    pub fn new(origin: &str) -> Self {
        Parser {
            origin: origin.to_string(),
            spec_bytes: 0,
            spec_full: false,
            spec: Vec::new(),
            half: Vec::new(),
            ring: KeyRing::default(),
            notes: Notes::default(),
        }
    }
}

fn encr_of(c: Cipher) -> Option<Encr> {
    if let Some(aead) = c.aead() {
        return Some(aead);
    }
    Some(match c {
        Cipher::DesCbc => Encr::DesCbc,
        Cipher::Des3Cbc => Encr::Des3Cbc,
        Cipher::Aes128Cbc | Cipher::Aes192Cbc | Cipher::Aes256Cbc => Encr::AesCbc,
        // ESP has no ECB transform: tcpdump only reaches these through its name quirks.
        _ => return None,
    })
}

impl Lines for Parser {
    fn line(&mut self, line: &str, n: usize) {
        let t = line.trim_end_matches('\r');
        if t.starts_with('#') || t.trim().is_empty() {
            return;
        }
        if let Some(l) = ikev2_line(t) {
            // Pair each I line with the R line of the same SPIs.
            if let Some(pos) = self
                .half
                .iter()
                .position(|(_, h)| h.spii == l.spii && h.spir == l.spir && h.initiator != l.initiator)
            {
                let (_, other) = self.half.remove(pos);
                let (i, r) = if l.initiator { (l, other) } else { (other, l) };
                let at = format!("{}:{n}", self.origin);
                let sa = (|| -> Result<IkeSa, String> {
                    let encr = i.encr.clone()?;
                    let (integ, checked) = i.integ.clone()?;
                    check_encr_key(encr, &i.encr_key)?;
                    check_encr_key(encr, &r.encr_key)?;
                    let (ai, ar) = if checked && integ != Integ::None {
                        check_integ_key(integ, &i.integ_key)?;
                        check_integ_key(integ, &r.integ_key)?;
                        (Some(i.integ_key), Some(r.integ_key))
                    } else {
                        (None, None)
                    };
                    Ok(IkeSa {
                        spis: Some((i.spii, i.spir)),
                        encr,
                        integ,
                        sk_ei: i.encr_key,
                        sk_er: r.encr_key,
                        sk_ai: ai,
                        sk_ar: ar,
                    })
                })();
                match sa {
                    Ok(sa) => {
                        let origin = self.origin.clone();
                        self.notes.bounded(&mut self.ring.ike, sa, &origin, "IKE SAs");
                    }
                    Err(why) => self.notes.push(format!("{at}: IKE keys skipped: {why}")),
                }
            } else if self.half.len() < 1024 {
                self.half.push((n, l));
            }
            return;
        }
        // ESP entries wait for the end (tcpdump's reader takes them all at once): bounded.
        if self.spec.len() < super::MAX_SAS && self.spec_bytes + t.len() <= MAX_SPEC_BYTES {
            self.spec_bytes += t.len();
            self.spec.push((n, t.to_string()));
        } else if !self.spec_full {
            self.spec_full = true;
            self.notes.push(format!(
                "{}:{n}: more entries than ipsec-doctor keeps ({} or {MAX_SPEC_BYTES} bytes); the rest left out",
                self.origin,
                super::MAX_SAS
            ));
        }
    }

    fn finish(mut self: Box<Self>) -> Result<(KeyRing, Vec<String>), String> {
        for (n, l) in std::mem::take(&mut self.half) {
            self.notes.push(format!(
                "{}:{n}: an 'ikev2 {}' line without its '{}' line: that IKE SA is skipped",
                self.origin,
                if l.initiator { "I" } else { "R" },
                if l.initiator { "R" } else { "I" }
            ));
        }
        // Each line alone, so that a warning or an error names its line.
        for (n, entry) in std::mem::take(&mut self.spec) {
            let at = format!("{}:{n}", self.origin);
            let (secrets, warnings) = crate::print::esp::parse(&entry).map_err(|e| format!("{at}: {e}"))?;
            for w in warnings {
                self.notes.push(format!("{at}: {w}"));
            }
            for sa in secrets.sas() {
                let Some(encr) = encr_of(sa.cipher) else {
                    self.notes
                        .push(format!("{at}: an ECB cipher is no ESP transform; skipped"));
                    continue;
                };
                let Some(dst) = sa.daddr else {
                    self.notes.push(format!(
                        "{at}: the default SA (no spi@addr) cannot be tied to packets by SPI; give spi@addr"
                    ));
                    continue;
                };
                // tcpdump's -hmac96 skips a 12-byte ICV without checking it; an AEAD's ICV is
                // its own.
                let integ = if sa.authlen == 12 && sa.cipher.aead().is_none() {
                    Integ::HmacSha1_96
                } else {
                    Integ::None
                };
                let esp = EspSa {
                    spi: Some(sa.spi),
                    src: None,
                    dst: Some(dst),
                    encr,
                    encr_key: sa.key().to_vec(),
                    integ,
                    integ_key: None,
                    esn: false,
                };
                let origin = self.origin.clone();
                self.notes.bounded(&mut self.ring.esp, esp, &origin, "ESP SAs");
            }
        }
        Ok((self.ring, self.notes.done()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aead_entries_keep_their_salt() {
        let t = "0x1@192.0.2.1 aes128-gcm16:0x000102030405060708090a0b0c0d0e0f10111213\n";
        let l = crate::keys::parse(crate::keys::Kind::Tcpdump, t, "e").unwrap();
        assert_eq!(l.keys.esp[0].encr, Encr::AesGcm { icv: 16 });
        assert_eq!(l.keys.esp[0].encr_key.len(), 20);
    }

    #[test]
    fn entries_kept_are_bounded() {
        let line = format!("0x1@192.0.2.1 aes128:0x{}\n", "00".repeat(30_000));
        let text = line.repeat((MAX_SPEC_BYTES / line.len()) + 2);
        let l = crate::keys::parse(crate::keys::Kind::Tcpdump, &text, "big").unwrap();
        assert!(l.keys.esp.len() < MAX_SPEC_BYTES / line.len() + 2);
        assert!(l.warnings.iter().any(|w| w.contains("the rest left out")));
    }

    #[test]
    fn entries() {
        assert!(is_entry(
            "0x12345678@192.1.2.45 3des-cbc-hmac96:0x4043434545464649494a4a4c4c4f4f515152525454575758"
        ));
        assert!(is_entry("aes128:secret"));
        assert!(!is_entry("Dec  2 18:57:29 01[IKE] hello"));
        assert!(!is_entry("src 192.0.2.1 dst 198.51.100.2"));
    }
}
