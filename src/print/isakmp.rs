//! ISAKMP / IKEv1 / IKEv2 printer, byte-identical to tcpdump 4.99.3 (`print-isakmp.c`).
//!
//! Positions are byte offsets into `bp`, whose end is tcpdump's `ndo_snapend`.  Offsets may
//! point past the end (tcpdump's pointers do too); every read goes through the checked getters.
//! A failed `GET_*` is `Err(Trunc)` (tcpdump's longjmp); the local ` [|name]` markers tcpdump
//! prints before returning normally are reproduced where it prints them.
//!
//! Decryption (`-E`) is not supported: we behave as a libcrypto-enabled tcpdump given no
//! secrets, which prints encrypted payloads' length (and hex at `-vvv`) only.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr};

use super::{get_be_u16, get_be_u32, get_bytes, get_u8, IpEnds, Out, PResult};
use crate::wire::isakmp::{
    dh_group_name_tcpdump, exchange_name_tcpdump, payload_name_tcpdump, protocol_name_tcpdump, Header, HEADER_LEN,
};

/// Number of initiator cookies remembered (tcpdump's `MAXINITIATORS`).
pub const MAX_INITIATORS: usize = 20;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CookieEntry {
    initiator: [u8; 8],
    /// Initiator and responder addresses; `None` for a never-filled slot.
    addrs: Option<(IpAddr, IpAddr)>,
}

/// The IKEv1 initiator-cookie cache tcpdump keeps across packets to print `I` / `R` / `?`.
///
/// Slots start zeroed, as tcpdump's static array does, so an all-zero cookie is "found" in
/// slot 0 before anything was recorded.
#[derive(Debug, Clone, Default)]
pub struct IsakmpState {
    cache: [CookieEntry; MAX_INITIATORS],
    next: usize,
    /// `-E` secrets: `ikev2` lines decrypt SK payloads.
    pub secrets: Option<std::sync::Arc<super::esp::Secrets>>,
    /// The tunnel's keys: IKEv2 SAs whose SPIs match decrypt SK payloads too.
    pub keys: Option<std::sync::Arc<crate::keys::KeyRing>>,
    /// tcpdump's warnings while decrypting; the caller writes them to standard error.
    pub warnings: Vec<String>,
}

impl IsakmpState {
    pub fn new() -> IsakmpState {
        IsakmpState::default()
    }

    fn find(&self, ck: &[u8; 8]) -> Option<usize> {
        self.cache.iter().position(|e| &e.initiator == ck)
    }

    fn record(&mut self, ck: &[u8; 8], ip: &IpEnds) {
        if let Some(i) = self.find(ck) {
            self.next = (i + 1) % MAX_INITIATORS;
            return;
        }
        self.cache[self.next] = CookieEntry {
            initiator: *ck,
            addrs: Some((ip.src, ip.dst)),
        };
        self.next = (self.next + 1) % MAX_INITIATORS;
    }

    fn side(&self, i: usize, ip: &IpEnds, initiator: bool) -> bool {
        match self.cache[i].addrs {
            Some((ia, ra)) => ip.src == if initiator { ia } else { ra },
            None => false,
        }
    }
}

/// A table name or tcpdump's `#N` fallback (`STR_OR_ID`).
struct Name(Option<&'static str>, u32);

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => f.write_str(s),
            None => write!(f, "#{}", self.1),
        }
    }
}

fn table(tab: &[Option<&'static str>], x: u32) -> Name {
    Name(tab.get(x as usize).copied().flatten(), x)
}

fn npstr(np: u8) -> Name {
    Name(payload_name_tcpdump(np), np as u32)
}

fn protoidstr(p: u8) -> Name {
    Name(protocol_name_tcpdump(p), p as u32)
}

fn dhstr(g: u16) -> Name {
    Name(dh_group_name_tcpdump(g), g as u32)
}

mod tables {
    pub const IKEV1_P: &[Option<&str>] = &[None, Some("ike")];
    pub const V2_T_TYPE: &[Option<&str>] = &[None, Some("encr"), Some("prf"), Some("integ"), Some("dh"), Some("esn")];
    pub const AH_P: &[Option<&str>] = &[
        None,
        Some("(reserved)"),
        Some("md5"),
        Some("sha"),
        Some("1des"),
        Some("sha2-256"),
        Some("sha2-384"),
        Some("sha2-512"),
    ];
    pub const PRF_P: &[Option<&str>] = &[
        None,
        Some("hmac-md5"),
        Some("hmac-sha"),
        Some("hmac-tiger"),
        Some("aes128_xcbc"),
    ];
    pub const INTEG_P: &[Option<&str>] = &[
        None,
        Some("hmac-md5"),
        Some("hmac-sha"),
        Some("dec-mac"),
        Some("kpdk-md5"),
        Some("aes-xcbc"),
    ];
    pub const ESN_P: &[Option<&str>] = &[Some("no-esn"), Some("esn")];
    pub const ESP_P: &[Option<&str>] = &[
        None,
        Some("1des-iv64"),
        Some("1des"),
        Some("3des"),
        Some("rc5"),
        Some("idea"),
        Some("cast"),
        Some("blowfish"),
        Some("3idea"),
        Some("1des-iv32"),
        Some("rc4"),
        Some("null"),
        Some("aes"),
    ];
    pub const IPCOMP_P: &[Option<&str>] = &[None, Some("oui"), Some("deflate"), Some("lzs")];
    pub const CERT: &[Option<&str>] = &[
        Some("none"),
        Some("pkcs7"),
        Some("pgp"),
        Some("dns"),
        Some("x509sign"),
        Some("x509ke"),
        Some("kerberos"),
        Some("crl"),
        Some("arl"),
        Some("spki"),
        Some("x509attr"),
    ];
    pub const IPSEC_ID_TYPE: &[Option<&str>] = &[
        None,
        Some("IPv4"),
        Some("FQDN"),
        Some("user FQDN"),
        Some("IPv4net"),
        Some("IPv6"),
        Some("IPv6net"),
        Some("IPv4range"),
        Some("IPv6range"),
        Some("ASN1 DN"),
        Some("ASN1 GN"),
        Some("keyid"),
    ];
    pub const ID_TYPE: &[Option<&str>] = &[Some("IPv4"), Some("IPv4net"), Some("IPv6"), Some("IPv6net")];
    pub const V2_AUTH: &[Option<&str>] = &[Some("invalid"), Some("rsasig"), Some("shared-secret"), Some("dsssig")];

    /// One attribute type of an `attrmap`: its name and the names of its first `nvalue`
    /// values (tcpdump only names a value below `nvalue`).
    pub struct AttrMap {
        pub name: Option<&'static str>,
        pub nvalue: usize,
        pub values: &'static [Option<&'static str>],
    }

    const fn a(name: &'static str, nvalue: usize, values: &'static [Option<&'static str>]) -> AttrMap {
        AttrMap {
            name: Some(name),
            nvalue,
            values,
        }
    }

    const NONE: AttrMap = AttrMap {
        name: None,
        nvalue: 0,
        values: &[],
    };

    const GROUPS: &[Option<&str>] = &[
        None,
        Some("modp768"),
        Some("modp1024"),
        Some("EC2N 2^155"),
        Some("EC2N 2^185"),
        Some("modp1536"),
        Some("iana-grp06"),
        Some("iana-grp07"),
        Some("iana-grp08"),
        Some("iana-grp09"),
        Some("iana-grp10"),
        Some("iana-grp11"),
        Some("iana-grp12"),
        Some("iana-grp13"),
        Some("modp2048"),
        Some("modp3072"),
        Some("modp4096"),
        Some("modp6144"),
        Some("modp8192"),
    ];
    const LIFETYPE: &[Option<&str>] = &[None, Some("sec"), Some("kb")];

    pub const IPSEC_T: &[AttrMap] = &[
        NONE,
        a("lifetype", 3, LIFETYPE),
        a("life", 0, &[]),
        a("group desc", 18, GROUPS),
        a("enc mode", 3, &[None, Some("tunnel"), Some("transport")]),
        a(
            "auth",
            5,
            &[
                None,
                Some("hmac-md5"),
                Some("hmac-sha1"),
                Some("1des-mac"),
                Some("keyed"),
            ],
        ),
        a("keylen", 0, &[]),
        a("rounds", 0, &[]),
        a("dictsize", 0, &[]),
        a("privalg", 0, &[]),
    ];

    pub const ENCR_T: &[AttrMap] = &[
        NONE,
        NONE,
        NONE,
        NONE,
        NONE,
        NONE,
        NONE,
        NONE,
        NONE,
        NONE,
        NONE,
        NONE,
        NONE,
        NONE,
        a("keylen", 14, &[]),
    ];

    pub const OAKLEY_T: &[AttrMap] = &[
        NONE,
        a(
            "enc",
            8,
            &[
                None,
                Some("1des"),
                Some("idea"),
                Some("blowfish"),
                Some("rc5"),
                Some("3des"),
                Some("cast"),
                Some("aes"),
            ],
        ),
        a(
            "hash",
            7,
            &[
                None,
                Some("md5"),
                Some("sha1"),
                Some("tiger"),
                Some("sha2-256"),
                Some("sha2-384"),
                Some("sha2-512"),
            ],
        ),
        a(
            "auth",
            6,
            &[
                None,
                Some("preshared"),
                Some("dss"),
                Some("rsa sig"),
                Some("rsa enc"),
                Some("rsa enc revised"),
            ],
        ),
        a("group desc", 18, GROUPS),
        a("group type", 4, &[None, Some("MODP"), Some("ECP"), Some("EC2N")]),
        a("group prime", 0, &[]),
        a("group gen1", 0, &[]),
        a("group gen2", 0, &[]),
        a("group curve A", 0, &[]),
        a("group curve B", 0, &[]),
        a("lifetype", 3, LIFETYPE),
        a("lifeduration", 0, &[]),
        a("prf", 0, &[]),
        a("keylen", 0, &[]),
        a("field", 0, &[]),
        a("order", 0, &[]),
    ];
}

use tables::AttrMap;

/// IKEv1 payload types (tcpdump's `ISAKMP_NPTYPE_*`).
const NP_SA: u8 = 1;
const NP_P: u8 = 2;
const NP_T: u8 = 3;
const NP_KE: u8 = 4;
const NP_ID: u8 = 5;
const NP_CERT: u8 = 6;
const NP_CR: u8 = 7;
const NP_HASH: u8 = 8;
const NP_SIG: u8 = 9;
const NP_NONCE: u8 = 10;
const NP_N: u8 = 11;
const NP_D: u8 = 12;
const NP_VID: u8 = 13;
const NP_V2E: u8 = 46;

const FLAG_E: u8 = 0x01;
const FLAG_C: u8 = 0x02;
const FLAG_I: u8 = 0x08;
const FLAG_V: u8 = 0x10;
const FLAG_R: u8 = 0x20;

/// What a payload printer hands back: where the next payload starts, or `None` when tcpdump's
/// printer returned NULL (the chain stops).
type Next = PResult<Option<usize>>;

/// Per-message context: the output, the captured bytes and the message-wide values.
struct Ctx<'a, 'o> {
    out: &'o mut Out,
    bp: &'a [u8],
    /// `bp.len()`: tcpdump's `ep` / `ndo_snapend`.
    ep: usize,
    /// `-E` secrets, and the message's I flag and SPIs (tcpdump's `base`) to find them by.
    secrets: Option<std::sync::Arc<super::esp::Secrets>>,
    keys: Option<std::sync::Arc<crate::keys::KeyRing>>,
    base: (bool, [u8; 8], [u8; 8]),
    warnings: Vec<String>,
}

macro_rules! p {
    ($c:expr, $($arg:tt)*) => {{
        let _ = write!($c.out, $($arg)*);
    }};
}

impl Ctx<'_, '_> {
    fn u8(&self, off: usize) -> PResult<u8> {
        get_u8(self.bp, off)
    }

    fn be16(&self, off: usize) -> PResult<u16> {
        get_be_u16(self.bp, off)
    }

    fn be32(&self, off: usize) -> PResult<u32> {
        get_be_u32(self.bp, off)
    }

    /// `ND_TTEST_LEN`: `len` bytes at `off` were captured.
    fn ttest(&self, off: usize, len: u64) -> bool {
        (off as u64).saturating_add(len) <= self.ep as u64
    }

    fn s(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn hex(&mut self, off: usize, len: usize) {
        let b = &self.bp[off..off + len];
        for x in b {
            p!(self, "{:02x}", x);
        }
    }

    /// tcpdump's `rawprint`: hex when all captured, else nothing and `false`.
    fn rawprint(&mut self, off: usize, len: u64) -> bool {
        if !self.ttest(off, len) {
            return false;
        }
        self.hex(off, len as usize);
        true
    }

    /// ` [|name]` for payload type `np` (the local `goto trunc` exits).
    fn trunc_np(&mut self, np: u8) {
        p!(self, " [|{}]", npstr(np));
    }

    /// `ike_show_somedata`: the first 10 and last 20 bytes up to the capture end.
    fn show_somedata(&mut self, cp: usize, ep: usize) -> bool {
        let mut end = ep as i64 - 20;
        let mut elen = 20i64;
        let len = ((ep as i64) - (cp as i64)).min(10);
        if end < cp as i64 + len {
            end = cp as i64 + len;
            elen = ep as i64 - end;
        }
        self.s(" data=(");
        if len < 0 || !self.rawprint(cp, len as u64) {
            return false;
        }
        self.s("...");
        if elen != 0 && (end < 0 || elen < 0 || !self.rawprint(end as usize, elen as u64)) {
            return false;
        }
        self.s(")");
        true
    }

    fn ipv4(&self, off: usize) -> PResult<Ipv4Addr> {
        let b = get_bytes(self.bp, off, 4)?;
        Ok(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }

    fn ipv6(&self, off: usize) -> PResult<String> {
        let b = get_bytes(self.bp, off, 16)?;
        Ok(super::addr::ipv6(b))
    }

    // ---- data attributes --------------------------------------------------------------

    /// `ikev1_attrmap_print` (with a map) / `ikev1_attr_print` (without).
    fn attr(&mut self, p: usize, ep2: usize, map: Option<&[AttrMap]>) -> Next {
        let b0 = self.u8(p)?;
        let totlen = if b0 & 0x80 != 0 {
            4
        } else {
            4 + self.be16(p + 2)? as usize
        };
        if ep2 < p + totlen {
            self.s("[|attr]");
            return Ok(Some(ep2 + 1));
        }
        self.s("(");
        let t = (self.be16(p)? & 0x7fff) as usize;
        let entry = map.and_then(|m| m.get(t));
        match entry.and_then(|e| e.name) {
            Some(n) => p!(self, "type={} ", n),
            None => p!(self, "type=#{} ", t),
        }
        if b0 & 0x80 != 0 {
            self.s("value=");
            let named = match entry {
                Some(e) => {
                    let v = self.be16(p + 2)? as usize;
                    if v < e.nvalue {
                        e.values.get(v).copied().flatten()
                    } else {
                        None
                    }
                }
                None => {
                    if map.is_some() {
                        self.be16(p + 2)?;
                    } else {
                        self.u8(p + 2)?;
                    }
                    None
                }
            };
            match named {
                Some(n) => self.s(n),
                None => {
                    if !self.rawprint(p + 2, 2) {
                        self.s(")");
                        return Ok(None);
                    }
                }
            }
        } else {
            p!(self, "len={} value=", totlen - 4);
            if !self.rawprint(p + 4, (totlen - 4) as u64) {
                self.s(")");
                return Ok(None);
            }
        }
        self.s(")");
        Ok(Some(p + totlen))
    }

    /// The attribute loop of a transform; `None` when an attribute was truncated.
    fn attrs(&mut self, mut cp: usize, ep2: usize, map: Option<&[AttrMap]>) -> Next {
        while cp < self.ep && cp < ep2 {
            match self.attr(cp, ep2, map)? {
                Some(n) => cp = n,
                None => return Ok(None),
            }
        }
        if self.ep < ep2 {
            self.s("...");
        }
        Ok(Some(cp))
    }

    // ---- chains -----------------------------------------------------------------------

    fn indent(&mut self, depth: u32) {
        self.s("\n");
        for _ in 0..depth {
            self.s("    ");
        }
        self.s("(");
    }

    /// `ikev1_sub_print` / `ikev2_sub_print` (they differ only in the SK payload dispatch).
    #[allow(clippy::too_many_arguments)]
    fn sub(&mut self, v2: bool, mut np: u8, mut ext: usize, phase: u32, doi: u32, proto: u32, depth: u32) -> Next {
        let mut cp = ext;
        while np != 0 {
            if !self.ttest(ext, 4) {
                self.trunc_np(np);
                return Ok(None);
            }
            let item_len = self.be16(ext + 2)?;
            if !self.ttest(ext, item_len as u64) {
                self.trunc_np(np);
                return Ok(None);
            }
            self.indent(depth + 1);
            let r = self.sub0(v2, np, ext, phase, doi, proto, depth + 1)?;
            self.s(")");
            match r {
                Some(n) => cp = n,
                None => return Ok(None),
            }
            np = self.u8(ext)?;
            ext = cp;
        }
        Ok(Some(cp))
    }

    /// `ike_sub0_print` / `ikev2_sub0_print`: dispatch one payload on its type.
    #[allow(clippy::too_many_arguments)]
    fn sub0(&mut self, v2: bool, np: u8, ext: usize, phase: u32, doi: u32, proto: u32, depth: u32) -> Next {
        if !self.ttest(ext, 4) {
            self.out.trunc_marker();
            return Ok(None);
        }
        let item_len = self.be16(ext + 2)? as u32;
        if item_len <= 4 {
            return Ok(None);
        }
        match np {
            NP_SA => self.v1_sa(ext, phase, proto, depth),
            NP_P => self.v1_p(ext, phase, doi, depth),
            NP_T => self.v1_t(ext, item_len, proto),
            NP_KE => self.v1_data(NP_KE, ext, item_len),
            NP_ID => self.v1_id(ext, item_len, phase),
            NP_CERT | NP_CR => self.v1_cert(np, ext, item_len),
            NP_HASH | NP_SIG | NP_VID => self.v1_data(np, ext, item_len),
            NP_NONCE => self.v1_nonce(ext, item_len),
            NP_N => self.v1_n(ext, item_len),
            NP_D => self.v1_d(ext),
            33 => self.v2_sa(np, ext, depth),
            34 => self.v2_ke(np, ext, item_len),
            35 | 36 => self.v2_id(np, ext, item_len),
            39 => self.v2_auth(np, ext, item_len),
            40 => self.v2_nonce(np, ext, item_len),
            41 => self.v2_n(ext, item_len),
            43 => self.v2_vid(np, ext, item_len),
            37 | 38 | 42 | 44 | 45 | 47 | 48 => self.v2_gen(np, ext, item_len),
            NP_V2E if v2 => self.v2_e(np, ext, item_len, phase, doi, proto, depth),
            _ => {
                p!(self, "{}", npstr(np));
                Ok(Some(ext + item_len as usize))
            }
        }
    }

    // ---- IKEv1 payloads ---------------------------------------------------------------

    fn v1_sa(&mut self, ext: usize, phase: u32, proto0: u32, depth: u32) -> Next {
        self.s("sa:");
        if !self.ttest(ext, 12) {
            self.trunc_np(NP_SA);
            return Ok(None);
        }
        let doi = self.be32(ext + 4)?;
        let sit = self.be32(ext + 8)?;
        if doi != 1 {
            p!(self, " doi={} situation={}", doi, sit);
            return Ok(Some(ext + 12));
        }
        self.s(" doi=ipsec situation=");
        let mut t = false;
        if sit & 0x01 != 0 {
            self.s("identity");
            t = true;
        }
        if sit & 0x02 != 0 {
            p!(self, "{}secrecy", if t { "+" } else { "" });
            t = true;
        }
        if sit & 0x04 != 0 {
            p!(self, "{}integrity", if t { "+" } else { "" });
        }
        let mut np = ext + 12;
        if sit != 0x01 {
            // tcpdump reads the "ident" from the DOI field (ext + 1 generic headers).
            let ident = self.be32(ext + 4)?;
            p!(self, " ident={}", ident);
            np += 4;
        }
        if !self.ttest(np, 4) {
            self.trunc_np(NP_SA);
            return Ok(None);
        }
        self.sub(false, NP_P, np, phase, doi, proto0, depth)
    }

    fn v1_p(&mut self, ext: usize, phase: u32, doi0: u32, depth: u32) -> Next {
        self.s("p:");
        if !self.ttest(ext, 8) {
            self.trunc_np(NP_P);
            return Ok(None);
        }
        let prot_id = self.u8(ext + 5)?;
        p!(
            self,
            " #{} protoid={} transform={}",
            self.u8(ext + 4)?,
            protoidstr(prot_id),
            self.u8(ext + 7)?
        );
        let spi_size = self.u8(ext + 6)?;
        if spi_size != 0 {
            self.s(" spi=");
            if !self.rawprint(ext + 8, spi_size as u64) {
                self.trunc_np(NP_P);
                return Ok(None);
            }
        }
        let next = ext + 8 + spi_size as usize;
        if !self.ttest(next, 4) {
            self.trunc_np(NP_P);
            return Ok(None);
        }
        self.sub(false, NP_T, next, phase, doi0, prot_id as u32, depth)
    }

    fn v1_t(&mut self, ext: usize, item_len: u32, proto: u32) -> Next {
        use tables::*;
        self.s("t:");
        if !self.ttest(ext, 8) {
            self.trunc_np(NP_T);
            return Ok(None);
        }
        let (idtab, map): (Option<&[Option<&str>]>, Option<&[AttrMap]>) = match proto {
            1 => (Some(IKEV1_P), Some(OAKLEY_T)),
            2 => (Some(AH_P), Some(IPSEC_T)),
            3 => (Some(ESP_P), Some(IPSEC_T)),
            4 => (Some(IPCOMP_P), Some(IPSEC_T)),
            _ => (None, None),
        };
        let t_no = self.u8(ext + 4)?;
        let t_id = self.u8(ext + 5)?;
        match idtab {
            Some(tab) => p!(self, " #{} id={} ", t_no, table(tab, t_id as u32)),
            None => p!(self, " #{} id={} ", t_no, t_id),
        }
        match self.attrs(ext + 8, ext + item_len as usize, map)? {
            Some(cp) => Ok(Some(cp)),
            None => {
                self.trunc_np(NP_T);
                Ok(None)
            }
        }
    }

    /// KE, HASH, SIG and VID: length, and the whole body in hex at `-vvv`.
    fn v1_data(&mut self, np: u8, ext: usize, item_len: u32) -> Next {
        p!(self, "{}:", npstr(np));
        if !self.ttest(ext, 4) {
            self.trunc_np(np);
            return Ok(None);
        }
        if np == NP_KE {
            p!(self, " key len={}", item_len - 4);
        } else {
            p!(self, " len={}", item_len - 4);
        }
        if self.out.vflag > 2 && item_len > 4 {
            self.s(" ");
            if !self.rawprint(ext + 4, (item_len - 4) as u64) {
                self.trunc_np(np);
                return Ok(None);
            }
        }
        Ok(Some(ext + item_len as usize))
    }

    fn v1_cert(&mut self, np: u8, ext: usize, item_len: u32) -> Next {
        p!(self, "{}:", npstr(np));
        if !self.ttest(ext, 6) {
            self.trunc_np(np);
            return Ok(None);
        }
        p!(self, " len={}", item_len - 4);
        let enc = self.u8(ext + 4)?;
        p!(self, " type={}", table(tables::CERT, enc as u32));
        if self.out.vflag > 2 && item_len > 4 {
            self.s(" ");
            if !self.rawprint(ext + 4, (item_len - 4) as u64) {
                self.trunc_np(np);
                return Ok(None);
            }
        }
        Ok(Some(ext + item_len as usize))
    }

    fn v1_nonce(&mut self, ext: usize, item_len: u32) -> Next {
        self.s("nonce:");
        if !self.ttest(ext, 4) {
            self.trunc_np(NP_NONCE);
            return Ok(None);
        }
        p!(self, " n len={}", item_len - 4);
        if item_len > 4 {
            let ok = if self.out.vflag > 2 {
                self.s(" ");
                self.rawprint(ext + 4, (item_len - 4) as u64)
            } else if self.out.vflag > 1 {
                self.s(" ");
                self.show_somedata(ext + 4, self.ep)
            } else {
                true
            };
            if !ok {
                self.trunc_np(NP_NONCE);
                return Ok(None);
            }
        }
        Ok(Some(ext + item_len as usize))
    }

    fn v1_id(&mut self, ext: usize, item_len: u32, phase: u32) -> Next {
        self.s("id:");
        if !self.ttest(ext, 8) {
            self.trunc_np(NP_ID);
            return Ok(None);
        }
        let (data, mut len) = if item_len > 8 {
            (Some(ext + 8), item_len - 8)
        } else {
            (None, 0)
        };
        if phase != 1 && phase != 2 {
            let t = self.u8(ext + 4)?;
            p!(self, " idtype={}", table(tables::ID_TYPE, t as u32));
            p!(self, " doi_data={}", self.be32(ext + 4)? & 0xffffff);
        } else if !self.v1_ipsec_id(ext, data, &mut len)? {
            self.trunc_np(NP_ID);
            return Ok(None);
        }
        if let Some(d) = data {
            if len != 0 {
                p!(self, " len={}", len);
                if self.out.vflag > 2 {
                    self.s(" ");
                    if !self.rawprint(d, len as u64) {
                        self.trunc_np(NP_ID);
                        return Ok(None);
                    }
                }
            }
        }
        Ok(Some(ext + item_len as usize))
    }

    /// The IPsec DOI identification body; `Ok(false)` for tcpdump's `goto trunc`.
    fn v1_ipsec_id(&mut self, ext: usize, data: Option<usize>, len: &mut u32) -> PResult<bool> {
        let ty = self.u8(ext + 4)?;
        p!(self, " idtype={}", table(tables::IPSEC_ID_TYPE, ty as u32));
        // Numeric protocol: the printer runs as tcpdump -n would.
        let proto_id = self.u8(ext + 5)?;
        p!(self, " protoid={}", proto_id);
        p!(self, " port={}", self.be16(ext + 6)?);
        if *len == 0 {
            return Ok(true);
        }
        let Some(d) = data else {
            return Ok(false);
        };
        let l = *len;
        if !self.ttest(d, l as u64) {
            return Ok(false);
        }
        match ty {
            1 => {
                if l < 4 {
                    p!(self, " len={} [bad: < 4]", l);
                } else {
                    p!(self, " len={} {}", l, self.ipv4(d)?);
                }
            }
            2 | 3 => {
                p!(self, " len={} ", l);
                for i in 0..l as usize {
                    let c = self.u8(d + i)?;
                    fn_print_char(self.out, c);
                }
            }
            4 => {
                if l < 8 {
                    p!(self, " len={} [bad: < 8]", l);
                } else {
                    let a = self.ipv4(d)?;
                    let m = get_bytes(self.bp, d + 4, 4)?;
                    p!(self, " len={} {}/{}.{}.{}.{}", l, a, m[0], m[1], m[2], m[3]);
                }
            }
            5 => {
                if l < 16 {
                    p!(self, " len={} [bad: < 16]", l);
                } else {
                    p!(self, " len={} {}", l, self.ipv6(d)?);
                }
            }
            6 => {
                if l < 32 {
                    p!(self, " len={} [bad: < 32]", l);
                } else {
                    let a = self.ipv6(d)?;
                    get_bytes(self.bp, d + 16, 16)?;
                    p!(self, " len={} {}/0x", l, a);
                    self.hex(d + 16, 16);
                }
            }
            7 => {
                if l < 8 {
                    p!(self, " len={} [bad: < 8]", l);
                } else {
                    p!(self, " len={} {}-{}", l, self.ipv4(d)?, self.ipv4(d + 4)?);
                }
            }
            8 => {
                if l < 32 {
                    p!(self, " len={} [bad: < 32]", l);
                } else {
                    let a = self.ipv6(d)?;
                    let b = self.ipv6(d + 16)?;
                    p!(self, " len={} {}-{}", l, a, b);
                }
            }
            _ => return Ok(true),
        }
        *len = 0;
        Ok(true)
    }

    fn v1_n(&mut self, ext: usize, item_len: u32) -> Next {
        self.s("n:");
        if !self.ttest(ext, 12) {
            self.trunc_np(NP_N);
            return Ok(None);
        }
        let doi = self.be32(ext + 4)?;
        let proto = self.u8(ext + 8)?;
        let ty = self.be16(ext + 10)?;
        if doi != 1 {
            p!(self, " doi={} proto={}", doi, proto);
            let name = match ty {
                0..=8191 => v1_notify_error(ty),
                16384..=24575 => v1_notify_status(ty),
                _ => Name(None, ty as u32),
            };
            p!(self, " type={}", name);
            let spi_size = self.u8(ext + 9)?;
            if spi_size != 0 {
                self.s(" spi=");
                if !self.rawprint(ext + 12, spi_size as u64) {
                    self.trunc_np(NP_N);
                    return Ok(None);
                }
            }
            return Ok(Some(ext + 12 + spi_size as usize));
        }
        p!(self, " doi=ipsec proto={}", protoidstr(proto));
        let name = match ty {
            0..=8191 => v1_notify_error(ty),
            8192..=16383 => table(&[Some("RESERVED")], (ty - 8192) as u32),
            16384..=24575 => v1_notify_status(ty),
            24576..=32767 => table(
                &[
                    Some("RESPONDER-LIFETIME"),
                    Some("REPLAY-STATUS"),
                    Some("INITIAL-CONTACT"),
                ],
                (ty - 24576) as u32,
            ),
            _ => Name(None, ty as u32),
        };
        p!(self, " type={}", name);
        let spi_size = self.u8(ext + 9)?;
        if spi_size != 0 {
            self.s(" spi=");
            if !self.rawprint(ext + 12, spi_size as u64) {
                self.trunc_np(NP_N);
                return Ok(None);
            }
        }
        let mut cp = ext + 12 + spi_size as usize;
        let ep2 = ext + item_len as usize;
        if cp < self.ep {
            match ty {
                24576 => {
                    self.s(" attrs=(");
                    while cp < self.ep && cp < ep2 {
                        match self.attr(cp, ep2, Some(tables::OAKLEY_T))? {
                            Some(n) => cp = n,
                            None => {
                                self.s(")");
                                self.trunc_np(NP_N);
                                return Ok(None);
                            }
                        }
                    }
                    self.s(")");
                }
                24577 => {
                    self.s(" status=(");
                    let v = self.be32(cp)?;
                    p!(self, "replay detection {}abled)", if v != 0 { "en" } else { "dis" });
                }
                _ => {
                    let ok = if self.out.vflag > 3 {
                        self.s(" data=(");
                        let ok = self.rawprint(cp, (self.ep - cp) as u64);
                        if ok {
                            self.s(")");
                        }
                        ok
                    } else {
                        self.show_somedata(cp, self.ep)
                    };
                    if !ok {
                        self.trunc_np(NP_N);
                        return Ok(None);
                    }
                }
            }
        }
        Ok(Some(ext + item_len as usize))
    }

    fn v1_d(&mut self, ext: usize) -> Next {
        self.s("d:");
        if !self.ttest(ext, 12) {
            self.trunc_np(NP_D);
            return Ok(None);
        }
        let doi = self.be32(ext + 4)?;
        let proto = self.u8(ext + 8)?;
        if doi != 1 {
            p!(self, " doi={} proto={}", doi, proto);
        } else {
            p!(self, " doi=ipsec proto={}", protoidstr(proto));
        }
        let spi_size = self.u8(ext + 9)?;
        p!(self, " spilen={}", spi_size);
        let num_spi = self.be16(ext + 10)?;
        p!(self, " nspi={}", num_spi);
        self.s(" spi=");
        let mut q = ext + 12;
        for i in 0..num_spi {
            if i != 0 {
                self.s(",");
            }
            if !self.rawprint(q, spi_size as u64) {
                self.trunc_np(NP_D);
                return Ok(None);
            }
            q += spi_size as usize;
        }
        Ok(Some(q))
    }

    // ---- IKEv2 payloads ---------------------------------------------------------------

    fn pay(&mut self, name: impl fmt::Display, critical: u8) {
        p!(self, "{}{}:", name, if critical & 0x80 != 0 { "[C]" } else { "" });
    }

    /// `ikev2_gen_print`: CERT, CR, D, TS, CP, EAP.
    fn v2_gen(&mut self, tpay: u8, ext: usize, item_len: u32) -> Next {
        if !self.ttest(ext, 4) {
            self.trunc_np(tpay);
            return Ok(None);
        }
        let c = self.u8(ext + 1)?;
        self.pay(npstr(tpay), c);
        p!(self, " len={}", item_len - 4);
        if self.out.vflag > 2 && item_len > 4 {
            self.s(" ");
            if !self.rawprint(ext + 4, (item_len - 4) as u64) {
                self.trunc_np(tpay);
                return Ok(None);
            }
        }
        Ok(Some(ext + item_len as usize))
    }

    fn v2_t(&mut self, tcount: u32, ext: usize, item_len: u32) -> Next {
        use tables::*;
        if !self.ttest(ext, 8) {
            self.trunc_np(NP_T);
            return Ok(None);
        }
        let c = self.u8(ext + 1)?;
        self.pay(npstr(NP_T), c);
        let t_id = self.be16(ext + 6)?;
        let t_type = self.u8(ext + 4)?;
        let mut map: Option<&[AttrMap]> = None;
        let idstr = match t_type {
            1 => {
                map = Some(ENCR_T);
                Some(table(ESP_P, t_id as u32))
            }
            2 => Some(table(PRF_P, t_id as u32)),
            3 => Some(table(INTEG_P, t_id as u32)),
            4 => Some(dhstr(t_id)),
            5 => Some(table(ESN_P, t_id as u32)),
            _ => None,
        };
        let ty = table(V2_T_TYPE, t_type as u32);
        match idstr {
            Some(id) => p!(self, " #{} type={} id={} ", tcount, ty, id),
            None => p!(self, " #{} type={} id={} ", tcount, ty, t_id),
        }
        match self.attrs(ext + 8, ext + item_len as usize, map)? {
            Some(cp) => Ok(Some(cp)),
            None => {
                self.trunc_np(NP_T);
                Ok(None)
            }
        }
    }

    fn v2_p(&mut self, ext0: usize, oprop_length: u32, depth: u32) -> Next {
        if !self.ttest(ext0, 8) {
            self.trunc_np(NP_P);
            return Ok(None);
        }
        let c = self.u8(ext0 + 1)?;
        self.pay(npstr(NP_P), c);
        let mut prop_length = oprop_length - 4;
        let prot = self.u8(ext0 + 5)?;
        p!(
            self,
            " #{} protoid={} transform={} len={}",
            self.u8(ext0 + 4)?,
            protoidstr(prot),
            self.u8(ext0 + 7)?,
            oprop_length
        );
        let mut cp = ext0 + 8;
        let spi_size = self.u8(ext0 + 6)? as u32;
        let toolong = |c: &mut Self, cp: usize, rest: u32| -> Next {
            c.trunc_np(NP_P);
            Ok(Some(cp + rest as usize))
        };
        if spi_size != 0 {
            if prop_length < spi_size {
                return toolong(self, cp, prop_length);
            }
            self.s(" spi=");
            if !self.rawprint(cp, spi_size as u64) {
                self.trunc_np(NP_P);
                return Ok(None);
            }
            cp += spi_size as usize;
            prop_length -= spi_size;
        }
        let mut tcount = 0;
        let mut np = NP_T;
        while np != 0 {
            tcount += 1;
            let ext = cp;
            if prop_length < 4 {
                return toolong(self, cp, prop_length);
            }
            if !self.ttest(ext, 4) {
                self.trunc_np(NP_P);
                return Ok(None);
            }
            let item_len = self.be16(ext + 2)? as u32;
            if item_len <= 4 {
                self.trunc_np(NP_P);
                return Ok(None);
            }
            if prop_length < item_len {
                return toolong(self, cp, prop_length);
            }
            if !self.ttest(cp, item_len as u64) {
                self.trunc_np(NP_P);
                return Ok(None);
            }
            self.indent(depth + 1);
            if np == NP_T {
                match self.v2_t(tcount, ext, item_len)? {
                    Some(n) => cp = n,
                    None => return Ok(None),
                }
            } else {
                p!(self, "{}", npstr(np));
                cp += item_len as usize;
            }
            self.s(")");
            prop_length -= item_len;
            np = self.u8(ext)?;
        }
        Ok(Some(cp))
    }

    fn v2_sa(&mut self, tpay: u8, ext1: usize, depth: u32) -> Next {
        if !self.ttest(ext1, 4) {
            self.trunc_np(tpay);
            return Ok(None);
        }
        let c = self.u8(ext1 + 1)?;
        self.pay("sa", c);
        let osa_length = self.be16(ext1 + 2)? as u32;
        let mut sa_length = osa_length.wrapping_sub(4);
        p!(self, " len={}", sa_length);
        let mut cp = ext1 + 4;
        let mut np = NP_P;
        while np != 0 {
            let ext = cp;
            if sa_length < 4 {
                self.trunc_np(tpay);
                return Ok(Some(cp + sa_length as usize));
            }
            if !self.ttest(ext, 4) {
                self.trunc_np(tpay);
                return Ok(None);
            }
            let item_len = self.be16(ext + 2)? as u32;
            if item_len <= 4 {
                self.trunc_np(tpay);
                return Ok(None);
            }
            if sa_length < item_len {
                self.trunc_np(tpay);
                return Ok(Some(cp + sa_length as usize));
            }
            if !self.ttest(cp, item_len as u64) {
                self.trunc_np(tpay);
                return Ok(None);
            }
            self.indent(depth + 1);
            if np == NP_P {
                match self.v2_p(ext, item_len, depth + 1)? {
                    Some(n) => cp = n,
                    None => return Ok(None),
                }
            } else {
                p!(self, "{}", npstr(np));
                cp += item_len as usize;
            }
            self.s(")");
            sa_length -= item_len;
            np = self.u8(ext)?;
        }
        Ok(Some(cp))
    }

    fn v2_ke(&mut self, tpay: u8, ext: usize, item_len: u32) -> Next {
        if !self.ttest(ext, 8) {
            self.trunc_np(tpay);
            return Ok(None);
        }
        let c = self.u8(ext + 1)?;
        self.pay(npstr(tpay), c);
        if item_len < 8 {
            p!(self, " len={} < 8", item_len);
            return Ok(Some(ext + item_len as usize));
        }
        p!(self, " len={} group={}", item_len - 8, dhstr(self.be16(ext + 4)?));
        if self.out.vflag > 2 && item_len > 8 {
            self.s(" ");
            if !self.rawprint(ext + 8, (item_len - 8) as u64) {
                self.trunc_np(tpay);
                return Ok(None);
            }
        }
        Ok(Some(ext + item_len as usize))
    }

    fn v2_id(&mut self, tpay: u8, ext: usize, item_len: u32) -> Next {
        if !self.ttest(ext, 8) {
            self.trunc_np(tpay);
            return Ok(None);
        }
        let c = self.u8(ext + 1)?;
        self.pay(npstr(tpay), c);
        p!(self, " len={}", item_len - 4);
        if self.out.vflag > 2 && item_len > 4 {
            self.s(" ");
            if !self.rawprint(ext + 4, (item_len - 4) as u64) {
                self.trunc_np(tpay);
                return Ok(None);
            }
        }
        // Unsigned in tcpdump: a payload shorter than 8 makes this huge (and truncates).
        let idtype_len = item_len.wrapping_sub(8);
        let typedata = ext + 8;
        let (label, ascii) = match self.u8(ext + 4)? {
            1 => ("ipv4:", false),
            2 => ("fqdn:", true),
            3 => ("rfc822:", true),
            5 => ("ipv6:", false),
            9 => ("dn:", false),
            10 => ("gn:", false),
            11 => ("keyid:", false),
            _ => return Ok(Some(ext + item_len as usize)),
        };
        p!(self, " {}", label);
        if ascii {
            if !self.ttest(typedata, idtype_len as u64) {
                self.trunc_np(tpay);
                return Ok(None);
            }
            self.ascii(typedata, idtype_len as usize);
        } else if !self.rawprint(typedata, idtype_len as u64) {
            self.trunc_np(tpay);
            return Ok(None);
        }
        Ok(Some(ext + item_len as usize))
    }

    /// Printable ASCII as is, anything else as `.` (bounds already checked).
    fn ascii(&mut self, off: usize, len: usize) {
        for i in off..off + len {
            let c = self.bp[i];
            let ch = if (0x20..=0x7e).contains(&c) { c as char } else { '.' };
            let _ = self.out.write_char(ch);
        }
    }

    fn v2_auth(&mut self, tpay: u8, ext: usize, item_len: u32) -> Next {
        if !self.ttest(ext, 8) {
            self.trunc_np(tpay);
            return Ok(None);
        }
        let c = self.u8(ext + 1)?;
        self.pay(npstr(tpay), c);
        let m = self.u8(ext + 4)?;
        p!(
            self,
            " len={} method={}",
            item_len - 4,
            table(tables::V2_AUTH, m as u32)
        );
        if item_len > 4 {
            if self.out.vflag > 1 {
                self.s(" authdata=(");
                if !self.rawprint(ext + 8, item_len.wrapping_sub(8) as u64) {
                    self.trunc_np(tpay);
                    return Ok(None);
                }
                self.s(") ");
            } else if self.out.vflag > 0 && !self.show_somedata(ext + 8, self.ep) {
                self.trunc_np(tpay);
                return Ok(None);
            }
        }
        Ok(Some(ext + item_len as usize))
    }

    fn v2_nonce(&mut self, tpay: u8, ext: usize, item_len: u32) -> Next {
        if !self.ttest(ext, 4) {
            self.trunc_np(tpay);
            return Ok(None);
        }
        let c = self.u8(ext + 1)?;
        self.pay("nonce", c);
        p!(self, " len={}", item_len - 4);
        if self.out.vflag > 1 && item_len > 4 {
            self.s(" nonce=(");
            if !self.rawprint(ext + 4, (item_len - 4) as u64) {
                self.trunc_np(tpay);
                return Ok(None);
            }
            self.s(") ");
        } else if self.out.vflag > 0 && item_len > 4 && !self.show_somedata(ext + 4, self.ep) {
            self.trunc_np(tpay);
            return Ok(None);
        }
        Ok(Some(ext + item_len as usize))
    }

    fn v2_n(&mut self, ext: usize, item_len: u32) -> Next {
        if !self.ttest(ext, 8) {
            self.trunc_np(NP_N);
            return Ok(None);
        }
        let c = self.u8(ext + 1)?;
        self.pay(npstr(NP_N), c);
        p!(self, " prot_id={}", protoidstr(self.u8(ext + 4)?));
        let ty = self.be16(ext + 6)?;
        let (name, showspi, showsomedata) = v2_notify(ty);
        p!(self, " type={}({})", ty, name);
        let spi_size = self.u8(ext + 5)?;
        if showspi && spi_size != 0 {
            self.s(" spi=");
            if !self.rawprint(ext + 8, spi_size as u64) {
                self.trunc_np(NP_N);
                return Ok(None);
            }
        }
        let cp = ext + 8 + spi_size as usize;
        if cp < self.ep {
            let avail = self.ep - cp;
            if self.out.vflag > 3 || (showsomedata && avail < 30) {
                self.s(" data=(");
                if !self.rawprint(cp, avail as u64) {
                    self.trunc_np(NP_N);
                    return Ok(None);
                }
                self.s(")");
            } else if showsomedata && !self.show_somedata(cp, self.ep) {
                self.trunc_np(NP_N);
                return Ok(None);
            }
        }
        Ok(Some(ext + item_len as usize))
    }

    fn v2_vid(&mut self, tpay: u8, ext: usize, item_len: u32) -> Next {
        if !self.ttest(ext, 4) {
            self.trunc_np(tpay);
            return Ok(None);
        }
        let c = self.u8(ext + 1)?;
        self.pay(npstr(tpay), c);
        let len = item_len - 4;
        p!(self, " len={} vid=", len);
        if !self.ttest(ext + 4, len as u64) {
            self.trunc_np(tpay);
            return Ok(None);
        }
        self.ascii(ext + 4, len as usize);
        if self.out.vflag > 2 && len > 4 {
            self.s(" ");
            if !self.rawprint(ext + 4, len as u64) {
                self.trunc_np(tpay);
                return Ok(None);
            }
        }
        Ok(Some(ext + item_len as usize))
    }

    /// The SK payload: without keys nothing is decrypted; the chain always ends here.
    #[allow(clippy::too_many_arguments)]
    fn v2_e(&mut self, tpay: u8, ext: usize, item_len: u32, phase: u32, doi: u32, proto: u32, depth: u32) -> Next {
        if !self.ttest(ext, 4) {
            self.trunc_np(tpay);
            return Ok(None);
        }
        let c = self.u8(ext + 1)?;
        self.pay(npstr(tpay), c);
        let dlen = item_len - 4;
        p!(self, " len={}", dlen);
        if self.out.vflag > 2 && dlen > 4 {
            self.s(" ");
            if !self.rawprint(ext + 4, dlen as u64) {
                self.trunc_np(tpay);
                return Ok(None);
            }
        }
        if !self.ttest(ext + 4, dlen as u64) {
            self.trunc_np(tpay);
            return Ok(None);
        }
        // tcpdump's esp_decrypt_buffer_by_ikev2_print: the payloads inside, from the first one
        // this payload's next-payload field names.
        let np = self.u8(ext)?;
        let (initiator, spii, spir) = self.base;
        let secrets = self.secrets.clone();
        if let Some(sa) = secrets.as_ref().and_then(|s| s.lookup_ike(initiator, &spii, &spir)) {
            if let Some(encr) = sa.cipher.aead() {
                // Our extension: an AEAD `ikev2` line, its tag checked.
                let ike = crate::keys::IkeSa {
                    spis: None,
                    encr,
                    integ: crate::keys::Integ::None,
                    sk_ei: sa.key().to_vec(),
                    sk_er: sa.key().to_vec(),
                    sk_ai: None,
                    sk_ar: None,
                };
                let r = crate::decrypt::ike_sk_padded(&ike, self.bp, ext, initiator);
                return self.v2_e_opened(r, phase, doi, proto, depth);
            }
            let (dat, end) = (ext + 4, (ext + 4 + dlen as usize) as i64 - sa.authlen as i64);
            let ct = dat + sa.cipher.iv_len();
            if end <= ct as i64 {
                return Ok(None);
            }
            let end = end as usize;
            let bs = sa.cipher.block_size();
            if (end - ct) % bs != 0 {
                self.warnings.push(format!(
                    "esp_decrypt_buffer_by_ikev2_print: ciphertext size {} is not a multiple of the cipher block size {bs}",
                    end - ct
                ));
                return Ok(None);
            }
            let pt = super::esp::decrypt(sa, &self.bp[dat..ct], &self.bp[ct..end]);
            return self.v2_e_inner(&pt, np, phase, doi, proto, depth);
        }
        // The tunnel's keys: the SAs with these SPIs, then those whose SPIs are unknown. Only a
        // failure with the SA of these SPIs is this message's to report.
        let Some(keys) = self.keys.clone() else {
            return Ok(None);
        };
        let mut failure = None;
        for sa in keys.ike_candidates(spii, spir) {
            match crate::decrypt::ike_sk_padded(sa, self.bp, ext, initiator) {
                Ok(p) => return self.v2_e_opened(Ok(p), phase, doi, proto, depth),
                Err(f) if sa.spis.is_some() && failure.is_none() => failure = Some(f),
                Err(_) => {}
            }
        }
        match failure {
            Some(f) => self.v2_e_opened(Err(f), phase, doi, proto, depth),
            None => Ok(None),
        }
    }

    /// Prints what opening an SK payload gave: its payloads, or why it could not be opened
    /// (truncated: nothing, as tcpdump).
    fn v2_e_opened(
        &mut self,
        r: Result<crate::decrypt::Plain, crate::decrypt::Failure>,
        phase: u32,
        doi: u32,
        proto: u32,
        depth: u32,
    ) -> Next {
        match r {
            Ok(p) => self.v2_e_inner(&p.data, p.next, phase, doi, proto, depth),
            Err(crate::decrypt::Failure::Truncated) => Ok(None),
            Err(f) => {
                p!(self, " [{f}]");
                Ok(None)
            }
        }
    }

    /// The payloads inside a decrypted SK payload, from `np` (tcpdump's
    /// esp_decrypt_buffer_by_ikev2_print); the chain always ends there.
    #[allow(clippy::too_many_arguments)]
    fn v2_e_inner(&mut self, pt: &[u8], np: u8, phase: u32, doi: u32, proto: u32, depth: u32) -> Next {
        let mut inner = Ctx {
            out: &mut *self.out,
            bp: pt,
            ep: pt.len(),
            secrets: self.secrets.clone(),
            keys: self.keys.clone(),
            base: self.base,
            warnings: Vec::new(),
        };
        let r = inner.sub(true, np, 0, phase, doi, proto, depth + 1);
        let w = std::mem::take(&mut inner.warnings);
        self.warnings.extend(w);
        r?;
        Ok(None)
    }

    // ---- message level ----------------------------------------------------------------

    fn len_mismatch(&mut self, hdr: &Header<&[u8]>, length: u32) {
        if self.out.vflag > 0 && hdr.length() != length {
            p!(self, " (len mismatch: isakmp {}/ip {})", hdr.length(), length);
        }
    }

    fn exchange(&mut self, hdr: &Header<&[u8]>) {
        let et = hdr.exchange_type();
        p!(self, " {}", Name(exchange_name_tcpdump(et), et as u32));
    }

    fn ikev1(&mut self, hdr: &Header<&[u8]>, st: &mut IsakmpState, length: u32, ip: Option<&IpEnds>) -> PResult {
        let phase = if hdr.message_id() == 0 { 1 } else { 2 };
        if phase == 1 {
            self.s(" phase 1");
        } else {
            self.s(" phase 2/others");
        }
        let ick = hdr.initiator_spi();
        match st.find(&ick) {
            None if hdr.responder_spi() == [0; 8] => {
                self.s(" I");
                if let Some(ip) = ip {
                    st.record(&ick, ip);
                }
            }
            None => self.s(" ?"),
            Some(i) => match ip {
                Some(ip) if st.side(i, ip, true) => self.s(" I"),
                Some(ip) if st.side(i, ip, false) => self.s(" R"),
                _ => self.s(" ?"),
            },
        }
        self.exchange(hdr);
        let flags = hdr.flags();
        if flags != 0 {
            p!(
                self,
                "[{}{}]",
                if flags & FLAG_E != 0 { "E" } else { "" },
                if flags & FLAG_C != 0 { "C" } else { "" }
            );
        }
        self.payloads(false, hdr, phase)?;
        self.len_mismatch(hdr, length);
        Ok(())
    }

    fn ikev2(&mut self, hdr: &Header<&[u8]>, length: u32) -> PResult {
        let phase = if hdr.message_id() == 0 { 1 } else { 2 };
        if phase == 1 {
            self.s(" parent_sa");
        } else {
            self.s(" child_sa ");
        }
        self.exchange(hdr);
        let flags = hdr.flags();
        if flags != 0 {
            p!(
                self,
                "[{}{}{}]",
                if flags & FLAG_I != 0 { "I" } else { "" },
                if flags & FLAG_V != 0 { "V" } else { "" },
                if flags & FLAG_R != 0 { "R" } else { "" }
            );
        }
        self.payloads(true, hdr, phase)?;
        self.len_mismatch(hdr, length);
        Ok(())
    }

    /// The `-v` payload section of both versions.
    fn payloads(&mut self, v2: bool, hdr: &Header<&[u8]>, phase: u32) -> PResult {
        if self.out.vflag == 0 {
            return Ok(());
        }
        self.s(":");
        let np = hdr.next_payload();
        // Both versions test the IKEv1 E bit.
        if hdr.flags() & FLAG_E != 0 {
            p!(self, " [encrypted {}]", npstr(np));
            return Ok(());
        }
        self.sub(v2, np, HEADER_LEN, phase, 0, 0, 0)?;
        Ok(())
    }
}

fn v1_notify_error(ty: u16) -> Name {
    if ty == 0 {
        return Name(None, 0);
    }
    match crate::wire::isakmp::ikev1_notify_name(ty) {
        Some(n) if ty <= 30 => Name(Some(n), ty as u32),
        _ => Name(None, ty as u32),
    }
}

/// Status types 16384..=24575, numbered from 16384 as tcpdump's table is.
fn v1_notify_status(ty: u16) -> Name {
    table(&[Some("CONNECTED")], (ty - 16384) as u32)
}

/// tcpdump's IKEv2 notify name and whether it shows the SPI and some of the data.
fn v2_notify(ty: u16) -> (&'static str, bool, bool) {
    let (name, spi) = match ty {
        1 => ("unsupported_critical_payload", false),
        4 => ("invalid_ike_spi", true),
        5 => ("invalid_major_version", false),
        7 => ("invalid_syntax", true),
        9 => ("invalid_message_id", true),
        11 => ("invalid_spi", true),
        14 => ("no_protocol_chosen", true),
        17 => ("invalid_ke_payload", true),
        24 => ("authentication_failed", true),
        34 => ("single_pair_required", true),
        35 => ("no_additional_sas", false),
        36 => ("internal_address_failure", false),
        37 => ("failed:cp_required", false),
        39 => ("invalid_selectors", false),
        16384 => ("initial_contact", false),
        16385 => ("set_window_size", false),
        16386 => ("additional_ts_possible", false),
        16387 => ("ipcomp_supported", false),
        16388 => ("nat_detection_source_ip", true),
        16389 => ("nat_detection_destination_ip", true),
        16390 => return ("cookie", true, true),
        16391 => ("use_transport_mode", false),
        16392 => ("http_cert_lookup_supported", false),
        16393 => ("rekey_sa", true),
        16394 => ("tfc_padding_not_supported", false),
        16395 => ("non_first_fragment_also", false),
        0..=8191 => ("error", true),
        8192..=16383 => ("private-error", true),
        40960.. => ("private-status", true),
        _ => ("status", true),
    };
    (name, spi, false)
}

/// tcpdump's `fn_print_char`: `M-` for high bit, `^X` for controls.
fn fn_print_char(out: &mut Out, mut c: u8) {
    if c & 0x80 != 0 {
        c &= 0x7f;
        out.push_str("M-");
    }
    if !(0x20..=0x7e).contains(&c) {
        c ^= 0x40;
        out.push_str("^");
    }
    let _ = out.write_char(c as char);
}

/// Prints an ISAKMP message as tcpdump's `isakmp_print` does.
///
/// `bp` holds the captured bytes from the ISAKMP header to tcpdump's snapend; `length` is the
/// UDP payload length from the headers; `ip` the enclosing IP addresses (for the `I`/`R`
/// marks of IKEv1).  `Err(Trunc)` means the caller appends ` [|isakmp]` (`out.proto`).
pub fn isakmp_print(out: &mut Out, st: &mut IsakmpState, bp: &[u8], length: u32, ip: Option<&IpEnds>) -> PResult {
    out.proto = "isakmp";
    let Ok(hdr) = Header::new_checked(bp) else {
        out.trunc_marker();
        return Ok(());
    };
    let base = (hdr.flags() & FLAG_I != 0, hdr.initiator_spi(), hdr.responder_spi());
    let mut c = Ctx {
        out,
        bp,
        ep: bp.len(),
        secrets: st.secrets.clone(),
        keys: st.keys.clone(),
        base,
        warnings: Vec::new(),
    };
    c.s("isakmp");
    let (major, minor) = (hdr.major_version(), hdr.minor_version());
    if c.out.vflag > 0 {
        p!(c, " {}.{} msgid ", major, minor);
        c.hex(20, 4);
    }
    if c.out.vflag > 1 {
        c.s(" cookie ");
        c.hex(0, 8);
        c.s("->");
        c.hex(8, 8);
    }
    c.s(":");
    let r = match major {
        1 => c.ikev1(&hdr, st, length, ip),
        2 => c.ikev2(&hdr, length),
        _ => Ok(()),
    };
    st.warnings.append(&mut c.warnings);
    r
}

#[cfg(test)]
mod tests;
