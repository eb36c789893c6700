//! charon (strongSwan) logs with `ike 4` and `chd 4`: the key lines of keymat_v2.c/keymat_v1.c,
//! each a `%B` dump (`LABEL => N bytes @ 0xADDR`, then `%4d: XX XX ...  ascii` lines of 16
//! bytes, every line with the logger's prefix), tied to their SAs by the lines around them.
//!
//! The prefix is the file logger's (`[TIME ]NN[GRP] [<NAME|ID> ]`) or syslog's and journald's
//! (`... charon: NN[GRP] ...`): the message starts after the `NN[GRP]` tag and the optional
//! `<name|id>` of the IKE SA, which keys the state below (one state when `ike_name` is off).
//!
//! - IKE keys (`Sk_ai secret`, `Sk_ar secret`, `Sk_ei secret`, `Sk_er secret`) take the
//!   algorithms of the last `selected proposal: IKE:...` and the SPIs of the first `checkin
//!   IKEv2 SA NAME[ID] with SPIs I_i R_r` (level 2 of `mgr`) after them with a non-zero R, else
//!   none (the ring then tries them where the ICV can tell).
//! - CHILD_SA keys (`encryption initiator key` ...) take the last `selected proposal: ESP:...`
//!   and become two SAs at `CHILD_SA NAME{N} established with SPIs IN_i OUT_o`. `encr_i`/`integ_i`
//!   protect what the initiator of the CHILD_SA exchange sends (IKEv2: RFC 7296 §2.17, keymat
//!   taken initiator-first; IKEv1: keymat_v1.c seeds `encr_i` with the responder's SPI, the SA
//!   into the responder). This side initiated the child when it logged `establishing CHILD_SA`
//!   (child_create.c's build_i, rekeys too) or, in IKEv1 where no such line exists, when it
//!   initiated the IKE SA. So for the initiator `_o` (the SPI packets it sends carry) gets the
//!   initiator's keys and `_i` the responder's; for the responder the other way round. The
//!   addresses come from `IKE_SA ... established between ME[...]...PEER[...]` (mine first).

use super::load::{Lines, Notes};
use super::text::{check_encr_key, check_integ_key, spi32, spi8, unchecked_icv};
use super::{Encr, EspSa, IkeSa, Integ, KeyRing};
use std::collections::HashMap;
use std::net::IpAddr;

const IKE_LABELS: [&str; 4] = ["Sk_ai secret", "Sk_ar secret", "Sk_ei secret", "Sk_er secret"];
const CHILD_LABELS: [&str; 4] = [
    "encryption initiator key",
    "encryption responder key",
    "integrity initiator key",
    "integrity responder key",
];

/// Whether `text` holds at least one key line.
pub fn has_keys(text: &str) -> bool {
    text.lines().any(|l| {
        message(l).is_some_and(|(_, _, m)| {
            IKE_LABELS.iter().chain(CHILD_LABELS.iter()).any(|k| {
                m.strip_prefix(k)
                    .is_some_and(|r| r.starts_with(" => ") && r.contains(" bytes @ "))
            })
        })
    })
}

/// (thread, IKE SA context, message) of a charon line: the message after `NN[GRP]` and the
/// optional ` <name|id>`.
fn message(line: &str) -> Option<(&str, &str, &str)> {
    let b = line.as_bytes();
    let mut i = 0;
    while let Some(off) = line[i..].find('[') {
        let at = i + off;
        // NN[GRP] or NN[GRPL]: two digits, three capitals, an optional level digit.
        let tag_ok = at >= 2
            && b[at - 1].is_ascii_digit()
            && b[at - 2].is_ascii_digit()
            && (at < 3 || !b[at - 3].is_ascii_alphanumeric())
            && {
                let end = line[at..].find(']').map(|e| at + e);
                end.is_some_and(|e| {
                    let g = &b[at + 1..e];
                    (g.len() == 3 || g.len() == 4)
                        && g[..3].iter().all(u8::is_ascii_uppercase)
                        && g[3..].iter().all(u8::is_ascii_digit)
                })
            };
        if tag_ok {
            let end = at + line[at..].find(']')?;
            let thread = &line[at - 2..at];
            let rest = line.get(end + 1..)?;
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            if let Some(r) = rest.strip_prefix('<') {
                if let Some(close) = r.find("> ") {
                    let ctx = &r[..close];
                    // "<sg|1>" and "<1>": the unique id names the IKE SA.
                    let id = ctx.rsplit('|').next().unwrap_or(ctx);
                    return Some((thread, id, &r[close + 2..]));
                }
            }
            return Some((thread, "", rest));
        }
        i = at + 1;
    }
    None
}

/// An IKE or ESP proposal as charon prints it (`IKE:AES_CBC_256/HMAC_SHA2_256_128/...`):
/// (encryption, integrity, whether the integrity's key is checked), or why not.
fn proposal(p: &str) -> Result<(Encr, Integ, bool), String> {
    let mut encr = None;
    let mut integ = None;
    for t in p.split('/') {
        let e = match t {
            "NULL" => Some(Encr::Null),
            "DES_CBC" => Some(Encr::DesCbc),
            "3DES_CBC" => Some(Encr::Des3Cbc),
            _ if t.starts_with("AES_CBC") => Some(Encr::AesCbc),
            _ if t.starts_with("AES_GCM_8") => Some(Encr::AesGcm { icv: 8 }),
            _ if t.starts_with("AES_GCM_12") => Some(Encr::AesGcm { icv: 12 }),
            _ if t.starts_with("AES_GCM_16") => Some(Encr::AesGcm { icv: 16 }),
            _ if t.starts_with("CHACHA20_POLY1305") => Some(Encr::ChaCha20Poly1305),
            _ if [
                "AES_CTR",
                "AES_CCM",
                "CAMELLIA",
                "NULL_AES_GMAC",
                "BLOWFISH",
                "CAST",
                "TWOFISH",
                "SERPENT",
            ]
            .iter()
            .any(|x| t.starts_with(x)) =>
            {
                return Err(format!("encryption {t} is not one ipsec-doctor decrypts"));
            }
            _ => None,
        };
        if e.is_some() && encr.is_none() {
            encr = e;
            continue;
        }
        let i = match t {
            "HMAC_MD5_96" => Some((Integ::HmacMd5_96, true)),
            "HMAC_SHA1_96" => Some((Integ::HmacSha1_96, true)),
            "HMAC_SHA2_256_128" => Some((Integ::HmacSha256_128, true)),
            "HMAC_SHA2_384_192" => Some((Integ::HmacSha384_192, true)),
            "HMAC_SHA2_512_256" => Some((Integ::HmacSha512_256, true)),
            "HMAC_SHA2_256_96" => unchecked_icv(12).map(|i| (i, false)),
            "HMAC_MD5_128" => unchecked_icv(16).map(|i| (i, false)),
            _ if t.starts_with("AES_XCBC") || t.starts_with("AES_CMAC") || t == "HMAC_SHA1_160" => {
                return Err(format!("integrity {t} is not one ipsec-doctor handles"));
            }
            _ => None,
        };
        if i.is_some() && integ.is_none() {
            integ = i;
        }
    }
    let encr = encr.ok_or_else(|| format!("no encryption algorithm ipsec-doctor knows in {p}"))?;
    let (integ, checked) = if encr.is_aead() {
        (Integ::None, true)
    } else {
        integ.unwrap_or((Integ::None, true))
    };
    Ok((encr, integ, checked))
}

/// A `%B` dump being read: its label, the bytes announced and those read so far.
struct Dump {
    label: &'static str,
    ctx: String,
    want: usize,
    got: Vec<u8>,
}

#[derive(Default)]
struct Ctx {
    ike_proposal: Option<Result<(Encr, Integ, bool), String>>,
    esp_proposal: Option<Result<(Encr, Integ, bool), String>>,
    /// The ESP proposal has EXT_SEQ (extended sequence numbers).
    esp_esn: bool,
    ike_keys: HashMap<&'static str, Vec<u8>>,
    child_keys: HashMap<&'static str, Vec<u8>>,
    /// Index in the ring of the IKE SA whose SPIs the next `checkin` gives.
    awaiting_spis: Option<usize>,
    /// The SPIs were given once: a later key set here is a rekeyed SA's, whose SPIs we cannot
    /// tell from this SA's checkins.
    spis_known: bool,
    establishing: bool,
    ike_initiator: bool,
    ikev1: bool,
    me: Option<IpAddr>,
    peer: Option<IpAddr>,
}

pub(crate) struct Parser {
    origin: String,
    ctxs: HashMap<String, Ctx>,
    dumps: HashMap<String, Dump>,
    ring: KeyRing,
    notes: Notes,
}

impl Parser {
    pub fn new(origin: &str) -> Self {
        Parser {
            origin: origin.to_string(),
            ctxs: HashMap::new(),
            dumps: HashMap::new(),
            ring: KeyRing::default(),
            notes: Notes::default(),
        }
    }

    fn ctx(&mut self, id: &str) -> &mut Ctx {
        // A log names at most a bounded number of IKE SAs at once; old ones are forgotten.
        if !self.ctxs.contains_key(id) && self.ctxs.len() >= 4096 {
            self.ctxs.clear();
        }
        self.ctxs.entry(id.to_string()).or_default()
    }

    fn dump_done(&mut self, d: Dump, n: usize) {
        let at = format!("{}:{n}", self.origin);
        let c = self.ctx(&d.ctx);
        if IKE_LABELS.contains(&d.label) {
            c.ike_keys.insert(d.label, d.got);
            if d.label == "Sk_er secret" {
                self.ike_sa(&d.ctx, &at);
            }
        } else {
            c.child_keys.insert(d.label, d.got);
        }
    }

    fn ike_sa(&mut self, id: &str, at: &str) {
        let c = self.ctx(id);
        let keys = std::mem::take(&mut c.ike_keys);
        let prop = c.ike_proposal.clone();
        let (encr, integ, checked) = match prop {
            Some(Ok(p)) => p,
            Some(Err(why)) => {
                self.notes.push(format!("{at}: IKE keys skipped: {why}"));
                return;
            }
            None => {
                self.notes.push(format!(
                    "{at}: IKE keys skipped: no 'selected proposal: IKE:' line before them says their algorithms"
                ));
                return;
            }
        };
        let get = |k: &str| keys.get(k).cloned();
        let (Some(sk_ei), Some(sk_er)) = (get("Sk_ei secret"), get("Sk_er secret")) else {
            self.notes
                .push(format!("{at}: IKE keys skipped: Sk_ei or Sk_er missing"));
            return;
        };
        let (sk_ai, sk_ar) = if integ != Integ::None && checked {
            (get("Sk_ai secret"), get("Sk_ar secret"))
        } else {
            (None, None)
        };
        let checks = [
            check_encr_key(encr, &sk_ei),
            check_encr_key(encr, &sk_er),
            sk_ai.as_ref().map_or(Ok(()), |k| check_integ_key(integ, k)),
            sk_ar.as_ref().map_or(Ok(()), |k| check_integ_key(integ, k)),
        ];
        if let Some(Err(why)) = checks.into_iter().find(Result::is_err) {
            self.notes.push(format!("{at}: IKE keys skipped: {why}"));
            return;
        }
        let sa = IkeSa {
            spis: None,
            encr,
            integ,
            sk_ei,
            sk_er,
            sk_ai,
            sk_ar,
        };
        let origin = self.origin.clone();
        let before = self.ring.ike.len();
        self.notes.bounded(&mut self.ring.ike, sa, &origin, "IKE SAs");
        let added = self.ring.ike.len() > before;
        let c = self.ctx(id);
        c.awaiting_spis = (added && !c.spis_known).then_some(before);
    }

    fn child_established(&mut self, id: &str, m: &str, at: &str) {
        // "CHILD_SA net{1} established with SPIs f7dc35ce_i 42ba8b71_o and TS ..."
        let Some(spis) = m.split(" with SPIs ").nth(1) else {
            return;
        };
        let mut w = spis.split_whitespace();
        let (Some(i), Some(o)) = (w.next(), w.next()) else {
            return;
        };
        let (Some(spi_in), Some(spi_out)) = (
            i.strip_suffix("_i").and_then(spi32),
            o.strip_suffix("_o").and_then(spi32),
        ) else {
            return;
        };
        let c = self.ctx(id);
        let keys = std::mem::take(&mut c.child_keys);
        let initiator = std::mem::take(&mut c.establishing) || (c.ikev1 && c.ike_initiator);
        let (me, peer, esn) = (c.me, c.peer, c.esp_esn);
        let prop = c.esp_proposal.clone();
        if keys.is_empty() {
            // Logged below level 4 of chd: nothing to take.
            return;
        }
        let (encr, integ, checked) = match prop {
            Some(Ok(p)) => p,
            Some(Err(why)) => {
                self.notes.push(format!("{at}: CHILD_SA keys skipped: {why}"));
                return;
            }
            None => {
                self.notes.push(format!(
                    "{at}: CHILD_SA keys skipped: no 'selected proposal: ESP:' line before them says their algorithms"
                ));
                return;
            }
        };
        let get = |k: &str| keys.get(k).cloned();
        let (Some(ei), Some(er)) = (
            get("encryption initiator key").or_else(|| (encr == Encr::Null).then(Vec::new)),
            get("encryption responder key").or_else(|| (encr == Encr::Null).then(Vec::new)),
        ) else {
            self.notes
                .push(format!("{at}: CHILD_SA keys skipped: an encryption key is missing"));
            return;
        };
        let (ai, ar) = (get("integrity initiator key"), get("integrity responder key"));
        // The initiator's keys protect what it sends.
        let (out_keys, in_keys) = if initiator {
            ((ei, ai), (er, ar))
        } else {
            ((er, ar), (ei, ai))
        };
        for (spi, (ek, ik), src, dst) in [(spi_out, out_keys, me, peer), (spi_in, in_keys, peer, me)] {
            if let Err(why) = check_encr_key(encr, &ek) {
                self.notes.push(format!("{at}: CHILD_SA key skipped: {why}"));
                continue;
            }
            let integ_key = if integ != Integ::None && checked { ik } else { None };
            if let Some(Err(why)) = integ_key.as_ref().map(|k| check_integ_key(integ, k)) {
                self.notes.push(format!("{at}: CHILD_SA key skipped: {why}"));
                continue;
            }
            if integ != Integ::None && checked && integ_key.is_none() {
                self.notes
                    .push(format!("{at}: CHILD_SA key skipped: its integrity key is missing"));
                continue;
            }
            let sa = EspSa {
                spi: Some(spi),
                src,
                dst,
                encr,
                encr_key: ek,
                integ,
                integ_key,
                esn,
            };
            let origin = self.origin.clone();
            self.notes.bounded(&mut self.ring.esp, sa, &origin, "ESP SAs");
        }
    }

    fn checkin(&mut self, m: &str) {
        // "checkin IKEv2 SA sg[1] with SPIs c145d252f7ffe1ab_i 40dffa48a236cc34_r"
        let Some(rest) = m.strip_prefix("checkin IKEv2 SA ") else {
            return;
        };
        let Some((name, spis)) = rest.split_once(" with SPIs ") else {
            return;
        };
        let Some(id) = name.rsplit_once('[').and_then(|(_, r)| r.strip_suffix(']')) else {
            return;
        };
        let mut w = spis.split_whitespace();
        let (Some(i), Some(r)) = (
            w.next().and_then(|s| s.strip_suffix("_i")).and_then(spi8),
            w.next().and_then(|s| s.strip_suffix("_r")).and_then(spi8),
        ) else {
            return;
        };
        if r == [0; 8] {
            return;
        }
        let c = self.ctx(id);
        let Some(idx) = c.awaiting_spis.take() else { return };
        c.spis_known = true;
        if let Some(sa) = self.ring.ike.get_mut(idx) {
            sa.spis = Some((i, r));
        }
    }
}

/// The address of `%H[%Y]`: up to the `[`.
fn host(s: &str) -> Option<IpAddr> {
    s.split('[').next()?.parse().ok()
}

impl Lines for Parser {
    fn line(&mut self, line: &str, n: usize) {
        let Some((thread, id, m)) = message(line) else { return };
        let at = format!("{}:{n}", self.origin);
        // A dump's lines: "   0: BA B4 2D ...  ascii", 16 bytes a line.
        if let Some(d) = self.dumps.get_mut(thread) {
            let t = m.trim_start();
            if let Some((off, rest)) = t.split_once(": ") {
                if off.parse::<usize>().ok() == Some(d.got.len()) {
                    let take = (d.want - d.got.len()).min(16);
                    let bytes: Option<Vec<u8>> = (0..take)
                        .map(|k| rest.get(k * 3..k * 3 + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                        .collect();
                    match bytes {
                        Some(b) => {
                            d.got.extend(b);
                            if d.got.len() == d.want {
                                let d = self.dumps.remove(thread).expect("present");
                                self.dump_done(d, n);
                            }
                            return;
                        }
                        None => {
                            self.notes
                                .push(format!("{at}: a key dump line is not hex; that key is skipped"));
                            self.dumps.remove(thread);
                            return;
                        }
                    }
                }
            }
            let d = self.dumps.remove(thread).expect("present");
            self.notes.push(format!(
                "{at}: the dump of '{}' ends early; that key is skipped",
                d.label
            ));
        }
        for label in IKE_LABELS.iter().chain(CHILD_LABELS.iter()) {
            let Some(r) = m.strip_prefix(label).and_then(|r| r.strip_prefix(" => ")) else {
                continue;
            };
            let want = r.split(' ').next().and_then(|x| x.parse::<usize>().ok());
            match want {
                Some(w) if w <= 1024 => {
                    let d = Dump {
                        label,
                        ctx: id.to_string(),
                        want: w,
                        got: Vec::with_capacity(w),
                    };
                    if w == 0 {
                        self.dump_done(d, n);
                    } else {
                        self.dumps.insert(thread.to_string(), d);
                    }
                }
                _ => self
                    .notes
                    .push(format!("{at}: '{label}' with no sensible length; skipped")),
            }
            return;
        }
        if let Some(p) = m.strip_prefix("selected proposal: ") {
            let c = self.ctx(id);
            if let Some(p) = p.strip_prefix("IKE:") {
                c.ike_proposal = Some(proposal(p));
            } else if let Some(p) = p.strip_prefix("ESP:") {
                c.esp_proposal = Some(proposal(p));
                c.esp_esn = p.split('/').any(|t| t == "EXT_SEQ");
            }
        } else if m.starts_with("establishing CHILD_SA ") {
            self.ctx(id).establishing = true;
        } else if m.starts_with("initiating IKE_SA ") {
            self.ctx(id).ike_initiator = true;
        } else if m.starts_with("initiating Main Mode") || m.starts_with("initiating Aggressive Mode") {
            let c = self.ctx(id);
            c.ike_initiator = true;
            c.ikev1 = true;
        } else if m.contains(" is initiating a Main Mode") || m.contains(" is initiating an Aggressive Mode") {
            self.ctx(id).ikev1 = true;
        } else if m.starts_with("IKE_SA ") && m.contains(" established between ") {
            // "IKE_SA sg[1] established between 192.0.2.1[sg1]...198.51.100.2[sg2]"
            let pair = m.split(" established between ").nth(1).unwrap_or("");
            if let Some((a, b)) = pair.split_once("...") {
                let c = self.ctx(id);
                c.me = host(a);
                c.peer = host(b);
            }
        } else if (m.starts_with("CHILD_SA ") || m.starts_with("inbound CHILD_SA "))
            && m.contains(" established with SPIs ")
        {
            self.child_established(id, m, &at);
        } else if m.starts_with("checkin IKEv2 SA ") {
            self.checkin(m);
        }
    }

    fn finish(mut self: Box<Self>) -> Result<(KeyRing, Vec<String>), String> {
        for (_, d) in self.dumps.drain() {
            self.notes.push(format!(
                "{}: the dump of '{}' ends with the file; that key is skipped",
                self.origin, d.label
            ));
        }
        let pending = self.ctxs.values().filter(|c| !c.child_keys.is_empty()).count();
        if pending > 0 {
            self.notes.push(format!(
                "{}: {pending} CHILD_SA key set(s) with no 'CHILD_SA ... established with SPIs' line after them (not installed?); skipped",
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
    fn prefixes_of_file_syslog_and_journal() {
        assert_eq!(
            message("Dec  2 18:57:29 01[IKE] <sg|1> Sk_ai secret => 32 bytes @ 0x7f"),
            Some(("01", "1", "Sk_ai secret => 32 bytes @ 0x7f"))
        );
        assert_eq!(message("12[CHD] <7>    0: BA"), Some(("12", "7", "   0: BA")));
        assert_eq!(
            message("Dec 02 18:57:29 gw charon[812]: 05[IKE4] Sk_ei secret => 16 bytes @ 0x1"),
            Some(("05", "", "Sk_ei secret => 16 bytes @ 0x1"))
        );
        assert_eq!(message("no tag [here]"), None);
    }

    #[test]
    fn proposals() {
        assert_eq!(
            proposal("AES_CBC_256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048").unwrap(),
            (Encr::AesCbc, Integ::HmacSha256_128, true)
        );
        assert_eq!(
            proposal("AES_GCM_16_256/NO_EXT_SEQ").unwrap(),
            (Encr::AesGcm { icv: 16 }, Integ::None, true)
        );
        assert!(proposal("AES_CTR_128/HMAC_SHA1_96").is_err());
    }
}
