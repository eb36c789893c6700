//! Which key source a text is, and reading one into a [`KeyRing`], line by line with bounded
//! memory.

use super::KeyRing;
use std::io::{BufRead, Read};
use std::path::Path;

/// Lines longer than this are skipped with a warning (no key source writes such lines).
pub const MAX_LINE: usize = 64 * 1024;
/// SAs kept per source: more are dropped with a warning, so a huge log cannot exhaust memory.
pub const MAX_SAS: usize = 100_000;

/// A key source, told apart by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ip xfrm state` or `ip -s xfrm state` output.
    Xfrm,
    /// Wireshark's `esp_sa` UAT file (strongSwan's save-keys plugin writes it).
    WiresharkEsp,
    /// Wireshark's `ikev2_decryption_table`.
    WiresharkIkev2,
    /// Wireshark's `ikev1_decryption_table`.
    WiresharkIkev1,
    /// A charon (strongSwan) log with level-4 key lines.
    Charon,
    /// A pluto (Libreswan) log written with `plutodebug=private`.
    Pluto,
    /// A tcpdump `-E` secrets file.
    Tcpdump,
}

impl Kind {
    pub fn words(self) -> &'static str {
        match self {
            Kind::Xfrm => "ip xfrm state output",
            Kind::WiresharkEsp => "Wireshark esp_sa table",
            Kind::WiresharkIkev2 => "Wireshark ikev2_decryption_table",
            Kind::WiresharkIkev1 => "Wireshark ikev1_decryption_table",
            Kind::Charon => "charon log key lines",
            Kind::Pluto => "pluto log key lines",
            Kind::Tcpdump => "tcpdump -E secrets",
        }
    }

    /// A daemon log: its other lines are evidence for the log parser too.
    pub fn is_log(self) -> bool {
        matches!(self, Kind::Charon | Kind::Pluto)
    }
}

/// The keys one source gave.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub origin: String,
    pub kind: Kind,
    pub keys: KeyRing,
    /// Entries skipped and why, each naming `origin` and the line, never a key.
    pub warnings: Vec<String>,
}

/// One parser, fed a line at a time (1-based line numbers).
pub(crate) trait Lines {
    fn line(&mut self, line: &str, n: usize);
    fn finish(self: Box<Self>) -> Result<(KeyRing, Vec<String>), String>;
}

fn parser(kind: Kind, origin: &str) -> Box<dyn Lines> {
    match kind {
        Kind::Xfrm => Box::new(super::xfrm::Parser::new(origin)),
        Kind::WiresharkEsp | Kind::WiresharkIkev2 | Kind::WiresharkIkev1 => {
            Box::new(super::wireshark::Parser::new(origin, kind))
        }
        Kind::Charon => Box::new(super::charon::Parser::new(origin)),
        Kind::Pluto => Box::new(super::pluto::Parser::new(origin)),
        Kind::Tcpdump => Box::new(super::tcpdump::Parser::new(origin)),
    }
}

/// The key source `text` (the head of a file is enough) is, if any. A daemon log is one only
/// when it holds key lines.
pub fn recognise(text: &str) -> Option<Kind> {
    let lines = || text.lines().map(str::trim_end).filter(|l| !l.is_empty());
    let data = || lines().filter(|l| !l.starts_with('#'));
    // Wireshark's tables: every data line is a record of its own shape.
    if let Some(first) = data().next() {
        if let Some(k) = super::wireshark::shape(first) {
            if data().take(50).all(|l| super::wireshark::shape(l) == Some(k)) {
                return Some(k);
            }
        }
    }
    if super::xfrm::looks_like(text) {
        return Some(Kind::Xfrm);
    }
    if super::charon::has_keys(text) {
        return Some(Kind::Charon);
    }
    if super::pluto::has_keys(text) {
        return Some(Kind::Pluto);
    }
    if data().next().is_some() && data().take(200).all(super::tcpdump::is_entry) {
        return Some(Kind::Tcpdump);
    }
    None
}

/// Parses `text` as `kind`; `origin` names it in warnings.
pub fn parse(kind: Kind, text: &str, origin: &str) -> Result<Loaded, String> {
    let mut p = parser(kind, origin);
    for (i, l) in text.lines().enumerate() {
        p.line(l, i + 1);
    }
    let (keys, warnings) = p.finish()?;
    Ok(Loaded {
        origin: origin.to_string(),
        kind,
        keys,
        warnings,
    })
}

/// Reads the key source at `path`: its kind told by content, its lines streamed. `Err` names
/// the file: unreadable, or no key source we know.
pub fn load(path: &Path) -> Result<Loaded, String> {
    let origin = path.display().to_string();
    let err = |e: std::io::Error| format!("{origin}: {e}");
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(256 * 1024).read_to_end(&mut head))
        .map_err(err)?;
    let none = || {
        format!(
            "{origin}: no keys recognised (expected ip xfrm state output, Wireshark's esp_sa or ike*_decryption_table, a charon log at level 4, a pluto log with plutodebug=private, or a tcpdump -E file)"
        )
    };
    if let Some(kind) = recognise(&String::from_utf8_lossy(&head)) {
        return load_as(path, kind);
    }
    // A daemon's log may say its keys far from its start (pluto's debug output is verbose):
    // read it whole for them.
    let daemon = crate::logs::looks_like_log(&head).and_then(|d| d.daemon());
    let kind = match daemon {
        Some(crate::logs::Daemon::Charon) => Kind::Charon,
        Some(crate::logs::Daemon::Pluto) => Kind::Pluto,
        _ => return Err(none()),
    };
    let mut l = load_as(path, kind)?;
    if l.keys.is_empty() && l.warnings.is_empty() {
        // A daemon's log without key lines we read: said, and the rest goes on.
        l.warnings.push(format!(
            "{origin}: a {} log without key lines ipsec-doctor reads ({}): no keys from it",
            if kind == Kind::Charon { "charon" } else { "pluto" },
            if kind == Kind::Charon {
                "IKEv2 and CHILD_SA keys need charondebug ike 4, chd 4; IKEv1 phase-1 keys are not read"
            } else {
                "keys need plutodebug=all,private, and pluto logs IKE keys only once the IKE SA is authenticated"
            }
        ));
    }
    Ok(l)
}

/// Reads `path` as `kind`, streaming its lines.
pub fn load_as(path: &Path, kind: Kind) -> Result<Loaded, String> {
    let origin = path.display().to_string();
    let err = |e: std::io::Error| format!("{origin}: {e}");
    let f = std::fs::File::open(path).map_err(err)?;
    let mut r = std::io::BufReader::with_capacity(1 << 16, f);
    let mut p = parser(kind, &origin);
    let mut long = Vec::new();
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        buf.clear();
        // Read at most MAX_LINE + 1 bytes of a line; the rest of a longer one is skipped.
        let got = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(err)?;
        if got == 0 {
            break;
        }
        n += 1;
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            long.push(n);
            skip_line(&mut r).map_err(err)?;
            continue;
        }
        let line = String::from_utf8_lossy(&buf);
        p.line(line.trim_end_matches(['\n', '\r']), n);
    }
    let (keys, mut warnings) = p.finish()?;
    if let Some(first) = long.first() {
        warnings.push(format!(
            "{origin}:{first}: {} line(s) longer than {MAX_LINE} bytes skipped",
            long.len()
        ));
    }
    Ok(Loaded {
        origin,
        kind,
        keys,
        warnings,
    })
}

fn skip_line<R: BufRead>(r: &mut R) -> std::io::Result<()> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            r.consume(i + 1);
            return Ok(());
        }
        let n = buf.len();
        r.consume(n);
    }
}

/// Warnings with a bound: the first [`MAX_WARNINGS`], then a count of the rest.
#[derive(Default)]
pub(crate) struct Notes {
    v: Vec<String>,
    more: usize,
    full: bool,
}

/// Warnings kept per source.
pub const MAX_WARNINGS: usize = 100;

impl Notes {
    pub fn push(&mut self, w: String) {
        if self.v.len() < MAX_WARNINGS {
            self.v.push(w);
        } else {
            self.more += 1;
        }
    }

    /// Pushes `sa` unless [`MAX_SAS`] are held; says so once.
    pub fn bounded<T>(&mut self, v: &mut Vec<T>, sa: T, origin: &str, what: &str) {
        if v.len() < MAX_SAS {
            v.push(sa);
        } else if !self.full {
            self.full = true;
            self.push(format!("{origin}: more than {MAX_SAS} {what}; the rest left out"));
        }
    }

    pub fn done(mut self) -> Vec<String> {
        if self.more > 0 {
            self.v.push(format!("... and {} more warnings", self.more));
        }
        self.v
    }
}
