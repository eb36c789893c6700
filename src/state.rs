//! A gateway's state snapshot, as `ipsec-doctor capture` writes it at the start and at the end of
//! a run (the fixed script `STATE` of [`crate::live::scripts`]): sections `### <command>` …
//! `### exit N`. Read here: firewall rules with their counters (`iptables-save -c`,
//! `ip6tables-save -c`, `nft list ruleset`), interfaces and their MTUs (`ip -o link`), the
//! kernel's IPsec policies and SAs (`ip xfrm policy`, `ip -s xfrm state`) and the daemon's SA
//! counters (`swanctl --list-sas`, `ipsec whack --trafficstatus`). [`compare`] turns a start and
//! an end into facts: a DROP rule whose counter moved, the lowest MTU, policies missing while
//! SAs exist, SAs that carried traffic.
//!
//! Bounded: at most [`MAX_BYTES`] of text, lines cut at [`MAX_LINE`], at most [`MAX_ITEMS`] of
//! each kind; any text parses (what is not understood is left out).

/// Text read from one snapshot file.
pub const MAX_BYTES: usize = 8 << 20;
/// Characters of a line looked at.
pub const MAX_LINE: usize = 4096;
/// Rules, links, policies and SAs kept, each.
pub const MAX_ITEMS: usize = 5000;

/// When a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Start,
    End,
    /// The file's name does not say.
    Unknown,
}

impl Phase {
    /// From the bundle's file name: `NAME-state-start.txt`, `NAME-state-end.txt`.
    pub fn of(file: &str) -> Phase {
        let f = file.rsplit(['/', '\\']).next().unwrap_or(file);
        if f.ends_with("-start.txt") || f.contains("state-start") {
            Phase::Start
        } else if f.ends_with("-end.txt") || f.contains("state-end") {
            Phase::End
        } else {
            Phase::Unknown
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Phase::Start => "start",
            Phase::End => "end",
            Phase::Unknown => "unknown",
        }
    }
}

/// Where a firewall rule was listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSource {
    Iptables,
    Ip6tables,
    Nft,
}

impl RuleSource {
    pub fn words(self) -> &'static str {
        match self {
            RuleSource::Iptables => "iptables",
            RuleSource::Ip6tables => "ip6tables",
            RuleSource::Nft => "nft",
        }
    }
}

/// One firewall rule (or a chain's policy) with its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub source: RuleSource,
    /// iptables: `filter`, `nat`…; nft: `ip filter`, `inet fw`…
    pub table: String,
    pub chain: String,
    /// The rule as listed, counters left out (`-A INPUT -p udp … -j DROP`; nft: its line).
    pub text: String,
    /// `DROP`, `REJECT`, `ACCEPT`, a chain name; nft: `drop`, `reject`, `accept`…; empty if none.
    pub target: String,
    pub packets: u64,
    pub bytes: u64,
    /// The chain's policy (`:INPUT DROP [p:b]`), not a rule.
    pub policy: bool,
    /// 1-based line in the snapshot.
    pub line: usize,
}

impl Rule {
    /// Its verdict throws packets away.
    pub fn drops(&self) -> bool {
        let t = self.target.to_ascii_lowercase();
        t == "drop" || t == "reject"
    }

    /// What traffic the rule can match, as far as its text says.
    pub fn traffic(&self) -> Traffic {
        traffic_of(&self.text)
    }
}

/// What a rule matches, for the question "could it have dropped IKE or ESP?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    /// UDP 500 or 4500 (IKE, NAT-T; 4500 carries ESP-in-UDP too).
    Ike,
    /// IP protocol 50 (ESP) or 51 (AH).
    Esp,
    /// Non-first IP fragments (`-f`, `ip frag-off …`).
    Fragments,
    /// ICMP errors (fragmentation needed, port unreachable…).
    Icmp,
    /// No protocol or port restriction: IKE and ESP among everything else.
    Any,
    /// Something else only (another protocol or port).
    Other,
}

/// One network interface (`ip -o link`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub name: String,
    pub mtu: Option<u32>,
    /// The UP flag is set.
    pub up: bool,
    /// Operational state (`UP`, `DOWN`, `UNKNOWN`).
    pub state: String,
    pub loopback: bool,
    pub line: usize,
}

/// One `ip xfrm policy` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub src: String,
    pub dst: String,
    /// `in`, `out`, `fwd`.
    pub dir: String,
    /// A per-socket policy (the daemon's own IKE socket bypass), not a traffic policy.
    pub socket: bool,
    /// Has a template: traffic matching it goes through IPsec.
    pub ipsec: bool,
    pub line: usize,
}

/// One SA with its counters: the kernel's (`ip -s xfrm state`) or the daemon's (`swanctl
/// --list-sas`, `ipsec whack --trafficstatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sa {
    /// `esp`, `ah`, `comp`; `esp` for the daemon's listings.
    pub proto: String,
    pub spi: u32,
    pub src: String,
    pub dst: String,
    /// `in` / `out` when the listing says (swanctl, whack).
    pub dir: String,
    pub bytes: Option<u64>,
    pub packets: Option<u64>,
    /// Which listing: `xfrm`, `swanctl`, `whack`.
    pub from: &'static str,
    pub line: usize,
}

/// One snapshot file, read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The commands seen (`### …`) with their exit status when written.
    pub commands: Vec<(String, Option<i32>)>,
    pub rules: Vec<Rule>,
    pub links: Vec<Link>,
    pub policies: Vec<Policy>,
    pub sas: Vec<Sa>,
    /// A limit left something out.
    pub truncated: bool,
}

impl Snapshot {
    /// Traffic policies (not the daemon's socket bypasses) that send traffic through IPsec.
    pub fn ipsec_policies(&self) -> impl Iterator<Item = &Policy> {
        self.policies.iter().filter(|p| p.ipsec && !p.socket)
    }

    /// The kernel's SAs (`ip -s xfrm state`).
    pub fn kernel_sas(&self) -> impl Iterator<Item = &Sa> {
        self.sas.iter().filter(|s| s.from == "xfrm")
    }

    /// The lowest MTU of an interface that is up and not the loopback.
    pub fn lowest_mtu(&self) -> Option<&Link> {
        self.links
            .iter()
            .filter(|l| !l.loopback && l.up && l.mtu.is_some())
            .min_by_key(|l| l.mtu)
    }

    /// Whether a command's section is present.
    pub fn ran(&self, prefix: &str) -> bool {
        self.commands.iter().any(|(c, _)| c.starts_with(prefix))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Iptables(RuleSource),
    Nft,
    Link,
    Policy,
    XfrmState,
    Swanctl,
    Whack,
}

fn section_of(cmd: &str) -> Section {
    let c = cmd.trim();
    if c.starts_with("iptables-save") {
        Section::Iptables(RuleSource::Iptables)
    } else if c.starts_with("ip6tables-save") {
        Section::Iptables(RuleSource::Ip6tables)
    } else if c.starts_with("nft list") {
        Section::Nft
    } else if c.starts_with("ip -o link") {
        Section::Link
    } else if c.starts_with("ip xfrm policy") {
        Section::Policy
    } else if c.starts_with("ip -s xfrm state") {
        Section::XfrmState
    } else if c.starts_with("swanctl --list-sas") {
        Section::Swanctl
    } else if c.starts_with("ipsec whack --trafficstatus") {
        Section::Whack
    } else {
        Section::None
    }
}

/// The first `n` bytes of `s`, cut at a character boundary.
fn cut(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut i = n;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

/// Parser state carried from line to line within a section.
#[derive(Default)]
struct Cursor {
    table: String,
    /// nft: the chain open, with the depth of braces.
    chain: String,
    depth: i32,
    /// xfrm: the entry being read (index into policies / sas).
    open: Option<usize>,
    /// xfrm state: the next line holds `lifetime current` counters.
    current: bool,
    /// xfrm state: `src … dst …` waiting for its `proto … spi …` line.
    head: Option<(String, String, usize)>,
}

/// Reads one snapshot's text. Never fails: what is not understood is left out.
pub fn parse(bytes: &[u8]) -> Snapshot {
    let mut s = Snapshot::default();
    let bytes = if bytes.len() > MAX_BYTES {
        s.truncated = true;
        &bytes[..MAX_BYTES]
    } else {
        bytes
    };
    let text = String::from_utf8_lossy(bytes);
    let mut sec = Section::None;
    let mut cur = Cursor::default();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = cut(raw, MAX_LINE);
        if let Some(rest) = line.strip_prefix("### ") {
            if let Some(code) = rest.strip_prefix("exit ") {
                if let Some(last) = s.commands.last_mut() {
                    last.1 = code.trim().parse().ok();
                }
                sec = Section::None;
            } else if s.commands.len() < 64 {
                s.commands.push((rest.trim().to_string(), None));
                sec = section_of(rest);
            }
            cur = Cursor::default();
            continue;
        }
        match sec {
            Section::None => {}
            Section::Iptables(src) => iptables_line(&mut s, &mut cur, src, line, line_no),
            Section::Nft => nft_line(&mut s, &mut cur, line, line_no),
            Section::Link => link_line(&mut s, line, line_no),
            Section::Policy => policy_line(&mut s, &mut cur, line, line_no),
            Section::XfrmState => xfrm_state_line(&mut s, &mut cur, line, line_no),
            Section::Swanctl => swanctl_line(&mut s, line, line_no),
            Section::Whack => whack_line(&mut s, line, line_no),
        }
    }
    s
}

fn room<T>(v: &[T], truncated: &mut bool) -> bool {
    if v.len() >= MAX_ITEMS {
        *truncated = true;
        false
    } else {
        true
    }
}

/// `[p:b]` → (p, b).
fn counters(s: &str) -> Option<(u64, u64)> {
    let inner = s.strip_prefix('[')?.strip_suffix(']')?;
    let (p, b) = inner.split_once(':')?;
    Some((p.parse().ok()?, b.parse().ok()?))
}

fn iptables_line(s: &mut Snapshot, cur: &mut Cursor, src: RuleSource, line: &str, line_no: usize) {
    let line = line.trim_end();
    if let Some(t) = line.strip_prefix('*') {
        cur.table = t.trim().to_string();
        return;
    }
    if let Some(p) = line.strip_prefix(':') {
        // `:INPUT ACCEPT [0:0]`
        let mut w = p.split_whitespace();
        let (Some(chain), Some(policy), Some(c)) = (w.next(), w.next(), w.next()) else {
            return;
        };
        let Some((packets, bytes)) = counters(c) else {
            return;
        };
        if policy != "-" && room(&s.rules, &mut s.truncated) {
            s.rules.push(Rule {
                source: src,
                table: cur.table.clone(),
                chain: chain.to_string(),
                text: format!(":{chain} {policy}"),
                target: policy.to_string(),
                packets,
                bytes,
                policy: true,
                line: line_no,
            });
        }
        return;
    }
    // `[p:b] -A CHAIN … -j TARGET`
    let Some((c, rest)) = line.split_once(' ') else {
        return;
    };
    let Some((packets, bytes)) = counters(c) else {
        return;
    };
    let rest = rest.trim();
    let mut w = rest.split_whitespace();
    if w.next() != Some("-A") {
        return;
    }
    let chain = w.next().unwrap_or("").to_string();
    let words: Vec<&str> = rest.split_whitespace().collect();
    let target = words
        .iter()
        .position(|w| *w == "-j" || *w == "--jump" || *w == "-g" || *w == "--goto")
        .and_then(|i| words.get(i + 1))
        .map_or(String::new(), |t| t.to_string());
    if room(&s.rules, &mut s.truncated) {
        s.rules.push(Rule {
            source: src,
            table: cur.table.clone(),
            chain,
            text: rest.to_string(),
            target,
            packets,
            bytes,
            policy: false,
            line: line_no,
        });
    }
}

fn nft_line(s: &mut Snapshot, cur: &mut Cursor, line: &str, line_no: usize) {
    let t = line.trim();
    let opens = t.matches('{').count() as i32;
    let closes = t.matches('}').count() as i32;
    if cur.depth == 0 {
        if let Some(rest) = t.strip_prefix("table ") {
            cur.table = rest.trim_end_matches('{').trim().to_string();
        }
    } else if cur.depth == 1 {
        if let Some(rest) = t.strip_prefix("chain ") {
            cur.chain = rest.trim_end_matches('{').trim().to_string();
        }
    } else if cur.depth == 2 && !cur.chain.is_empty() {
        let words: Vec<&str> = t.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "counter") {
            if words.get(i + 1) == Some(&"packets") && words.get(i + 3) == Some(&"bytes") {
                let p = words.get(i + 2).and_then(|w| w.parse().ok());
                let b = words.get(i + 4).and_then(|w| w.parse().ok());
                if let (Some(packets), Some(bytes)) = (p, b) {
                    let verdicts = ["drop", "reject", "accept", "jump", "goto", "return", "queue"];
                    let target = words
                        .iter()
                        .rev()
                        .find(|w| verdicts.contains(w))
                        .map_or(String::new(), |w| w.to_string());
                    if room(&s.rules, &mut s.truncated) {
                        s.rules.push(Rule {
                            source: RuleSource::Nft,
                            table: cur.table.clone(),
                            chain: cur.chain.clone(),
                            text: t.to_string(),
                            target,
                            packets,
                            bytes,
                            policy: false,
                            line: line_no,
                        });
                    }
                }
            }
        }
    }
    cur.depth = (cur.depth + opens - closes).clamp(0, 64);
    if closes > 0 {
        if cur.depth <= 1 {
            cur.chain.clear();
        }
        if cur.depth == 0 {
            cur.table.clear();
        }
    }
}

fn link_line(s: &mut Snapshot, line: &str, line_no: usize) {
    // `2: eth0@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc … state UP …`
    let mut w = line.split_whitespace();
    let (Some(idx), Some(name), Some(flags)) = (w.next(), w.next(), w.next()) else {
        return;
    };
    if !idx.ends_with(':') || idx.len() < 2 || !idx[..idx.len() - 1].bytes().all(|b| b.is_ascii_digit()) {
        return;
    }
    let name = name.trim_end_matches(':');
    let name = name.split('@').next().unwrap_or(name).to_string();
    let flags = flags.trim_start_matches('<').trim_end_matches('>');
    let words: Vec<&str> = line.split_whitespace().collect();
    let after = |k: &str| {
        words
            .iter()
            .position(|w| *w == k)
            .and_then(|i| words.get(i + 1))
            .copied()
    };
    if room(&s.links, &mut s.truncated) {
        s.links.push(Link {
            name,
            mtu: after("mtu").and_then(|m| m.parse().ok()),
            up: flags.split(',').any(|f| f == "UP"),
            state: after("state").unwrap_or("").to_string(),
            loopback: flags.split(',').any(|f| f == "LOOPBACK"),
            line: line_no,
        });
    }
}

fn policy_line(s: &mut Snapshot, cur: &mut Cursor, line: &str, line_no: usize) {
    let indented = line.starts_with([' ', '\t']);
    let words: Vec<&str> = line.split_whitespace().collect();
    if !indented {
        cur.open = None;
        if words.first() == Some(&"src") && words.get(2) == Some(&"dst") && room(&s.policies, &mut s.truncated) {
            s.policies.push(Policy {
                src: words.get(1).unwrap_or(&"").to_string(),
                dst: words.get(3).unwrap_or(&"").to_string(),
                dir: String::new(),
                socket: false,
                ipsec: false,
                line: line_no,
            });
            cur.open = Some(s.policies.len() - 1);
        }
        return;
    }
    let Some(p) = cur.open.and_then(|i| s.policies.get_mut(i)) else {
        return;
    };
    match words.first().copied() {
        Some("dir") => p.dir = words.get(1).unwrap_or(&"").to_string(),
        Some("socket") => {
            p.socket = true;
            p.dir = words.get(1).unwrap_or(&"").to_string();
        }
        Some("tmpl") => p.ipsec = true,
        _ => {}
    }
}

/// `0x6eace086`, `0x6eace086(1856823430)` (xfrm), `8783a70f` (swanctl).
fn parse_spi(w: &str) -> Option<u32> {
    let w = w.split('(').next().unwrap_or(w);
    let h = w.strip_prefix("0x").unwrap_or(w);
    u32::from_str_radix(h, 16).ok()
}

fn xfrm_state_line(s: &mut Snapshot, cur: &mut Cursor, line: &str, line_no: usize) {
    let indented = line.starts_with([' ', '\t']);
    let words: Vec<&str> = line.split_whitespace().collect();
    if !indented {
        cur.open = None;
        cur.current = false;
        cur.head = None;
        if words.first() == Some(&"src") && words.get(2) == Some(&"dst") {
            cur.head = Some((
                words.get(1).unwrap_or(&"").to_string(),
                words.get(3).unwrap_or(&"").to_string(),
                line_no,
            ));
        }
        return;
    }
    if words.first() == Some(&"proto") && words.get(2) == Some(&"spi") {
        if let (Some((src, dst, at)), Some(spi)) = (cur.head.take(), words.get(3).and_then(|w| parse_spi(w))) {
            if room(&s.sas, &mut s.truncated) {
                s.sas.push(Sa {
                    proto: words.get(1).unwrap_or(&"").to_string(),
                    spi,
                    src,
                    dst,
                    dir: String::new(),
                    bytes: None,
                    packets: None,
                    from: "xfrm",
                    line: at,
                });
                cur.open = Some(s.sas.len() - 1);
            }
        }
        return;
    }
    if words.first() == Some(&"lifetime") {
        cur.current = words.get(1) == Some(&"current:");
        return;
    }
    if cur.current {
        cur.current = false;
        // `420(bytes), 5(packets)`
        let num = |unit: &str| {
            words
                .iter()
                .find_map(|w| w.trim_end_matches(',').strip_suffix(unit).and_then(|n| n.parse().ok()))
        };
        if let Some(sa) = cur.open.and_then(|i| s.sas.get_mut(i)) {
            sa.bytes = num("(bytes)");
            sa.packets = num("(packets)");
        }
    }
}

fn swanctl_line(s: &mut Snapshot, line: &str, line_no: usize) {
    // `    in  8783a70f,    420 bytes,     5 packets,     8s ago`
    let t = line.trim_start();
    let Some(dir) = ["in ", "out "].iter().find(|d| t.starts_with(**d)) else {
        return;
    };
    let words: Vec<&str> = t.split_whitespace().collect();
    let Some(spi) = words.get(1).map(|w| w.trim_end_matches(',')).and_then(parse_spi) else {
        return;
    };
    let num = |unit: &str| {
        words
            .iter()
            .position(|w| w.trim_end_matches(',') == unit)
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| words.get(i))
            .and_then(|n| n.parse().ok())
    };
    if room(&s.sas, &mut s.truncated) {
        s.sas.push(Sa {
            proto: "esp".into(),
            spi,
            src: String::new(),
            dst: String::new(),
            dir: dir.trim().to_string(),
            bytes: num("bytes"),
            packets: num("packets"),
            from: "swanctl",
            line: line_no,
        });
    }
}

fn whack_line(s: &mut Snapshot, line: &str, line_no: usize) {
    // `006 #2: "sg", type=ESP, add_time=…, inBytes=420, outBytes=420, maxBytes=2^63B, id='…'`
    let field = |k: &str| {
        line.split([',', ' '])
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse::<u64>().ok())
    };
    let (Some(inb), Some(outb)) = (field("inBytes="), field("outBytes=")) else {
        return;
    };
    for (dir, b) in [("in", inb), ("out", outb)] {
        if room(&s.sas, &mut s.truncated) {
            s.sas.push(Sa {
                proto: "esp".into(),
                spi: 0,
                src: String::new(),
                dst: String::new(),
                dir: dir.into(),
                bytes: Some(b),
                packets: None,
                from: "whack",
                line: line_no,
            });
        }
    }
}

/// What a rule's text says it matches.
pub fn traffic_of(text: &str) -> Traffic {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == '{' || c == '}')
        .filter(|w| !w.is_empty())
        .collect();
    let mut proto: Option<String> = None;
    let mut ports: Vec<&str> = Vec::new();
    let mut frag = false;
    let mut icmp = false;
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        match w {
            "-p" | "--protocol" | "protocol" | "l4proto" | "nexthdr" => {
                if let Some(p) = words.get(i + 1) {
                    proto = Some(p.trim_start_matches('!').to_ascii_lowercase());
                }
            }
            "-f" | "--fragment" | "frag-off" | "frag" => frag = true,
            "--icmp-type" | "--icmpv6-type" => icmp = true,
            "udp" | "tcp" | "esp" | "ah" | "icmp" | "icmpv6" if proto.is_none() && i + 1 < words.len() => {
                // nft: `udp dport 500`, `esp spi …`
                proto = Some(w.to_string());
            }
            "--dport" | "--sport" | "--dports" | "--sports" | "--destination-port" | "--source-port" | "dport"
            | "sport" | "th" => {
                let mut j = i + 1;
                while let Some(p) = words.get(j) {
                    let ok = p.split(':').all(|x| x.parse::<u16>().is_ok());
                    if !ok {
                        break;
                    }
                    ports.push(p);
                    j += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    let in_range = |p: &str, n: u16| match p.split_once(':') {
        Some((a, b)) => a.parse::<u16>().is_ok_and(|a| a <= n) && b.parse::<u16>().is_ok_and(|b| n <= b),
        None => p.parse::<u16>() == Ok(n),
    };
    match proto.as_deref() {
        Some("esp" | "50" | "ah" | "51") => Traffic::Esp,
        Some("icmp" | "1" | "icmpv6" | "ipv6-icmp" | "58") => {
            let _ = icmp;
            Traffic::Icmp
        }
        Some("udp" | "17") | None | Some("all" | "0") => {
            if ports.is_empty() {
                if frag {
                    Traffic::Fragments
                } else {
                    Traffic::Any
                }
            } else if ports.iter().any(|p| in_range(p, 500) || in_range(p, 4500)) {
                Traffic::Ike
            } else {
                Traffic::Other
            }
        }
        _ => {
            if frag {
                Traffic::Fragments
            } else {
                Traffic::Other
            }
        }
    }
}

/// A rule that threw packets away during the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropDelta {
    pub rule: Rule,
    pub packets: u64,
    pub bytes: u64,
    /// The counters at the start (none: no start snapshot, or the rule was added during the
    /// run: the counts are since it was added).
    pub start: Option<(u64, u64)>,
    pub traffic: Traffic,
}

/// An SA whose counters moved during the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaDelta {
    pub sa: Sa,
    pub packets: Option<u64>,
    pub bytes: Option<u64>,
}

/// What a start and an end snapshot of one gateway show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// DROP/REJECT rules and DROP policies whose packet counter grew, most packets first.
    pub drops: Vec<DropDelta>,
    /// The lowest MTU of an interface that is up (not the loopback) at the end.
    pub lowest_mtu: Option<Link>,
    /// Kernel SAs at the end.
    pub kernel_sas: usize,
    /// IPsec traffic policies at the end (templates, not socket bypasses).
    pub ipsec_policies: usize,
    /// Whether `ip xfrm policy` ran at the end.
    pub policies_listed: bool,
    /// SAs whose counters grew (or, with no start, that counted anything).
    pub sa_growth: Vec<SaDelta>,
}

impl Facts {
    /// The kernel holds SAs and no IPsec policy sends traffic to them.
    pub fn policies_missing(&self) -> bool {
        self.policies_listed && self.kernel_sas > 0 && self.ipsec_policies == 0
    }
}

/// Compares one gateway's snapshots (either may be missing).
pub fn compare(start: Option<&Snapshot>, end: Option<&Snapshot>) -> Facts {
    // Without an end, the start still shows interfaces and policies; counters need both.
    let (start, end, counts) = match (start, end) {
        (s, Some(e)) => (s, e, true),
        (Some(s), None) => (None, s, false),
        (None, None) => return Facts::default(),
    };
    let mut f = Facts {
        lowest_mtu: end.lowest_mtu().cloned(),
        kernel_sas: end.kernel_sas().count(),
        ipsec_policies: end.ipsec_policies().count(),
        policies_listed: end.ran("ip xfrm policy"),
        ..Default::default()
    };
    // Same rule in the start: same source, table, chain and text, the n-th of its kind.
    let key = |r: &Rule| (r.source, r.table.clone(), r.chain.clone(), r.text.clone());
    let mut used = vec![false; start.map_or(0, |s| s.rules.len())];
    for r in end.rules.iter().filter(|r| counts && r.drops()) {
        let before = start.and_then(|s| {
            let i = s
                .rules
                .iter()
                .enumerate()
                .position(|(i, x)| !used[i] && key(x) == key(r))?;
            used[i] = true;
            Some((s.rules[i].packets, s.rules[i].bytes))
        });
        let (p0, b0) = before.unwrap_or((0, 0));
        let packets = r.packets.saturating_sub(p0);
        if packets == 0 {
            continue;
        }
        f.drops.push(DropDelta {
            rule: r.clone(),
            packets,
            bytes: r.bytes.saturating_sub(b0),
            start: before,
            traffic: r.traffic(),
        });
    }
    // iptables-nft lists its rules twice: as iptables-save and in nft's `ip filter` tables.
    let legacy: Vec<(String, u64)> = f
        .drops
        .iter()
        .filter(|d| d.rule.source != RuleSource::Nft)
        .map(|d| (d.rule.chain.clone(), d.packets))
        .collect();
    f.drops
        .retain(|d| d.rule.source != RuleSource::Nft || !legacy.contains(&(d.rule.chain.clone(), d.packets)));
    f.drops.sort_by_key(|d| std::cmp::Reverse(d.packets));
    for sa in end.sas.iter().filter(|_| counts) {
        let before = start.and_then(|s| {
            s.sas
                .iter()
                .find(|x| x.from == sa.from && x.spi == sa.spi && x.dir == sa.dir && x.src == sa.src && x.dst == sa.dst)
        });
        let grew = |now: Option<u64>, then: Option<u64>| match (now, then) {
            (Some(n), Some(t)) => Some(n.saturating_sub(t)),
            (Some(n), None) => Some(n),
            _ => None,
        };
        let packets = grew(sa.packets, before.and_then(|b| b.packets));
        let bytes = grew(sa.bytes, before.and_then(|b| b.bytes));
        if (packets.unwrap_or(0) > 0 || bytes.unwrap_or(0) > 0) && f.sa_growth.len() < 64 {
            f.sa_growth.push(SaDelta {
                sa: sa.clone(),
                packets,
                bytes,
            });
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Snapshot {
        let p = format!("{}/tests/data/state/{name}", env!("CARGO_MANIFEST_DIR"));
        parse(&std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}")))
    }

    /// Libreswan 4.10 on sg2 with `iptables -A INPUT -p udp --dport 500 -j DROP` (iptables-nft:
    /// the rule shows in iptables-save and again in nft's `ip filter` table), snapshots from
    /// one live lab run of ike-filtered-at-responder-ikev2.
    #[test]
    fn input_drop_of_ike_counted_during_the_run() {
        let (a, b) = (
            fixture("ike-filtered-sg2-start.txt"),
            fixture("ike-filtered-sg2-end.txt"),
        );
        assert!(!b.truncated);
        assert!(b.ran("iptables-save -c") && b.ran("nft list ruleset") && b.ran("ip xfrm policy"));
        let r = b
            .rules
            .iter()
            .find(|r| !r.policy && r.source == RuleSource::Iptables)
            .unwrap();
        assert_eq!(
            (r.table.as_str(), r.chain.as_str(), r.text.as_str(), r.target.as_str()),
            ("filter", "INPUT", "-A INPUT -p udp -m udp --dport 500 -j DROP", "DROP")
        );
        assert_eq!((r.packets, r.bytes), (11, 5148));
        assert_eq!(r.traffic(), Traffic::Ike);
        let n = b.rules.iter().find(|r| r.source == RuleSource::Nft).unwrap();
        assert_eq!(
            (n.table.as_str(), n.chain.as_str(), n.target.as_str()),
            ("ip filter", "INPUT", "drop")
        );
        assert_eq!((n.packets, n.traffic()), (11, Traffic::Ike));
        // Chain policies are read, ACCEPT with no counts.
        assert!(b
            .rules
            .iter()
            .any(|r| r.policy && r.chain == "FORWARD" && r.target == "ACCEPT"));
        let f = compare(Some(&a), Some(&b));
        assert_eq!(f.drops.len(), 1, "{:?}", f.drops);
        let d = &f.drops[0];
        assert_eq!(
            (d.packets, d.bytes, d.start, d.traffic),
            (11, 5148, Some((0, 0)), Traffic::Ike)
        );
        assert_eq!(d.rule.source, RuleSource::Iptables);
        // The daemon's socket bypasses and the ICMPv6 pass policies are no IPsec policies.
        assert!(b.policies.len() >= 20);
        assert_eq!((f.ipsec_policies, f.kernel_sas, f.policies_missing()), (0, 0, false));
        let l = f.lowest_mtu.unwrap();
        assert_eq!((l.name.as_str(), l.mtu, l.up), ("eth0", Some(1500), true));
        assert!(b.links.iter().any(|l| l.loopback && l.mtu == Some(65536)));
        // No start: counters are not deltas, so nothing is claimed.
        assert!(compare(None, Some(&b)).drops.is_empty() || compare(None, Some(&b)).drops[0].start.is_none());
        assert!(compare(Some(&a), Some(&a)).drops.is_empty());
    }

    /// strongSwan 5.9.8 (kernel-libipsec: no xfrm state, an ipsec0 TUN device) on sg2 with
    /// `iptables -A FORWARD -i ipsec0 -j DROP`, from one live run of decrypted-not-forwarded-ikev2.
    #[test]
    fn forward_drop_and_swanctl_counters() {
        let (a, b) = (
            fixture("decrypted-not-forwarded-sg2-start.txt"),
            fixture("decrypted-not-forwarded-sg2-end.txt"),
        );
        let f = compare(Some(&a), Some(&b));
        assert_eq!(f.drops.len(), 1, "{:?}", f.drops);
        let d = &f.drops[0];
        assert_eq!(d.rule.text, "-A FORWARD -i ipsec0 -j DROP");
        assert_eq!((d.packets, d.bytes, d.traffic), (5, 420, Traffic::Any));
        let inbound: Vec<&SaDelta> = f.sa_growth.iter().filter(|s| s.sa.dir == "in").collect();
        assert_eq!(inbound.len(), 1);
        assert_eq!(
            (inbound[0].sa.spi, inbound[0].packets, inbound[0].bytes),
            (0x8783a70f, Some(5), Some(420))
        );
        assert!(!f.sa_growth.iter().any(|s| s.sa.dir == "out"), "{:?}", f.sa_growth);
        assert_eq!(f.kernel_sas, 0);
        assert!(!f.policies_missing());
        assert!(b.links.iter().any(|l| l.name == "ipsec0" && l.mtu == Some(1400)));
    }

    /// Libreswan 4.10 whose SA the kernel could not install (the lab kernel has no ESP;
    /// child-install-failed-ikev2, live run): an SA left in the kernel and no IPsec policy.
    #[test]
    fn sa_without_policy() {
        let b = fixture("child-install-failed-sg2-end.txt");
        let sa = b.kernel_sas().next().unwrap();
        assert_eq!(
            (sa.proto.as_str(), sa.spi, sa.src.as_str()),
            ("esp", 0x6eace086, "192.0.2.1")
        );
        assert_eq!((sa.bytes, sa.packets), (Some(0), Some(0)));
        let f = compare(None, Some(&b));
        assert!(f.policies_missing());
        assert!(f.drops.is_empty() && f.sa_growth.is_empty());
        // The end alone, given as the start (a run that ended before its last snapshot).
        assert!(compare(Some(&b), None).policies_missing());
    }

    /// MTU 1200 on sg2's link to the internet (mtu-blackhole-ikev2's topology, live run).
    #[test]
    fn lowest_mtu() {
        let f = compare(None, Some(&fixture("mtu-blackhole-sg2-end.txt")));
        let l = f.lowest_mtu.unwrap();
        assert_eq!((l.name.as_str(), l.mtu), ("eth1", Some(1200)));
    }

    #[test]
    fn rule_traffic() {
        for (t, want) in [
            ("-A INPUT -p udp -m udp --dport 500 -j DROP", Traffic::Ike),
            ("-A INPUT -p udp -m multiport --dports 500,4500 -j DROP", Traffic::Ike),
            ("-A INPUT -p udp --dport 4000:5000 -j DROP", Traffic::Ike),
            ("-A INPUT -p udp --dport 53 -j DROP", Traffic::Other),
            ("-A INPUT -p tcp --dport 22 -j DROP", Traffic::Other),
            ("-A INPUT -p esp -j DROP", Traffic::Esp),
            ("-A INPUT -p 50 -j DROP", Traffic::Esp),
            ("-A FORWARD -f -j DROP", Traffic::Fragments),
            ("-A OUTPUT -p icmp -m icmp --icmp-type 3/4 -j DROP", Traffic::Icmp),
            ("-A FORWARD -i ipsec0 -j DROP", Traffic::Any),
            ("udp dport { 500, 4500 } counter packets 1 bytes 2 drop", Traffic::Ike),
            ("meta l4proto esp counter packets 1 bytes 2 drop", Traffic::Esp),
            ("iifname \"ipsec0\" counter packets 5 bytes 420 drop", Traffic::Any),
        ] {
            assert_eq!(traffic_of(t), want, "{t}");
        }
    }

    /// Nothing panics, whatever the text; limits hold.
    #[test]
    fn hostile_text() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces: [&[u8]; 16] = [
            b"### iptables-save -c\n",
            b"### nft list ruleset\n",
            b"### ip -s xfrm state\n",
            b"### ip xfrm policy\n",
            b"### ip -o link\n",
            b"### swanctl --list-sas\n",
            b"### ipsec whack --trafficstatus\n",
            b"### exit 0\n",
            b"[18446744073709551615:99999999999999999999] -A INPUT -j DROP\n",
            b"table ip filter {\n chain INPUT {\n counter packets x bytes\n }}}}\n",
            b"src 1.2.3.4 dst 5.6.7.8\n\tproto esp spi 0x(zz reqid\n\tlifetime current:\n\t 12(bytes), (packets)\n",
            b"1: \xff\xfe: <UP mtu mtu\n",
            b"    in  ,  bytes, packets\n",
            b"inBytes=1, outBytes=\n:INPUT DROP [1:2\n*\n",
            b"\t\t{{{{{{{{{{\n",
            "\u{00e9}\u{1f600}\n".as_bytes(),
        ];
        for _ in 0..300 {
            let mut v = Vec::new();
            for _ in 0..(next() % 60) {
                if next() % 3 == 0 {
                    let n = (next() % 40) as usize;
                    v.extend((0..n).map(|_| next() as u8));
                } else {
                    v.extend_from_slice(pieces[(next() % 16) as usize]);
                }
            }
            let s = parse(&v);
            let _ = compare(Some(&s), Some(&parse(&v[..v.len() / 2])));
            let _ = compare(Some(&s), None);
        }
        // A huge line, many rules, a file past the byte limit.
        let mut huge = b"### iptables-save -c\n*filter\n[1:2] -A INPUT ".to_vec();
        huge.extend(std::iter::repeat_n(b'\xc3', 3 * MAX_LINE));
        huge.extend_from_slice(b"\n");
        for i in 0..(MAX_ITEMS + 10) {
            huge.extend_from_slice(format!("[{i}:{i}] -A INPUT -p udp --dport 500 -j DROP\n").as_bytes());
        }
        let s = parse(&huge);
        assert_eq!(s.rules.len(), MAX_ITEMS);
        assert!(s.truncated);
        let mut big = vec![b'\n'; MAX_BYTES + 10];
        big[0] = b'#';
        assert!(parse(&big).truncated);
    }
}
