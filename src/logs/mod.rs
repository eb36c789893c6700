//! IKE daemon logs (pluto, charon, whack/swanctl output) turned into events.
//!
//! The later stages (`correlate`, `diagnose`) work on [`LogEvent`]s only and never re-read the
//! text. Recognition is by content, never by file name:
//!
//! * pluto (Openswan 2.x, Libreswan 3.x/4.x/5.x): its own log file (`Nov 28 05:50:35.540366: ...`),
//!   plain stderr lines, and `ipsec auto --up` / whack output with or without the 3-digit status
//!   prefix (`104 "conn" #1: ...`);
//! * charon (strongSwan 5.x/6.x): `charon.log` (`Nov 28 05:49:23 09[IKE] ...`, any time format
//!   this module knows), syslog/journal lines, and `swanctl --initiate` output (`[IKE] ...`);
//! * wrapped in syslog (`Nov 28 05:49:23 host pluto[1234]: ...`, auth.log, secure), `journalctl`
//!   short / short-precise / short-iso / short-iso-precise.
//!
//! One line gives at most one event. Lines that mean nothing to the diagnosis are dropped unless
//! [`ParseOptions::keep_other`] is set.

mod charon;
mod envelope;
mod pluto;
mod session;
mod status;
mod text;
mod time;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

pub use time::LogTime;

/// A line longer than this is cut here before it is looked at.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// [`LogEvent::text`] is cut to at most this many bytes.
pub const MAX_EVENT_TEXT: usize = 512;

/// How to read a log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParseOptions {
    /// Year of the *last* dated line, for time stamps without a year (syslog, pluto, charon).
    /// Earlier lines get one year less for every time the month goes backwards (Dec → Jan).
    /// `None`: such lines get no [`LogTime::epoch`].
    pub year: Option<i32>,
    /// Offset of the writer's local time from UTC in seconds (east positive), used for time
    /// stamps that carry no zone. Default 0 (the log is taken to be in UTC).
    pub utc_offset_secs: i32,
    /// Stop after this many lines (a warning says so).
    pub max_lines: usize,
    /// Keep daemon lines that match nothing as [`EventKind::Other`].
    pub keep_other: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            year: None,
            utc_offset_secs: 0,
            max_lines: 5_000_000,
            keep_other: false,
        }
    }
}

/// What a file (or one line) is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// pluto's log (own log file, stderr, syslog or journal).
    Pluto,
    /// Output of `ipsec auto --up`, `ipsec whack` (pluto talking to the terminal).
    Whack,
    /// charon's log (charon.log, syslog, journal, charon-systemd).
    Charon,
    /// Output of `swanctl --initiate` / `ipsec up` (charon talking to the terminal).
    Swanctl,
    /// Nothing recognisable.
    #[default]
    Unknown,
}

/// Which IKE daemon wrote the lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Daemon {
    Pluto,
    Charon,
}

impl Dialect {
    /// The daemon behind this dialect.
    pub fn daemon(self) -> Option<Daemon> {
        match self {
            Dialect::Pluto | Dialect::Whack => Some(Daemon::Pluto),
            Dialect::Charon | Dialect::Swanctl => Some(Daemon::Charon),
            Dialect::Unknown => None,
        }
    }
}

/// IKE exchanges (both versions) as the logs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exchange {
    /// IKEv1 Main Mode (phase 1).
    MainMode,
    /// IKEv1 Aggressive Mode (phase 1).
    AggressiveMode,
    /// IKEv1 Quick Mode (phase 2).
    QuickMode,
    /// IKEv1 informational / transaction (mode config, XAUTH).
    InformationalV1,
    IkeSaInit,
    IkeAuth,
    IkeIntermediate,
    CreateChildSa,
    Informational,
}

impl Exchange {
    /// 1 for phase 1 / IKE SA exchanges, 2 for phase 2 / child SA exchanges, `None` otherwise.
    /// IKE_AUTH counts as 1 (it authenticates; a child refusal in it names itself).
    pub fn phase(self) -> Option<u8> {
        match self {
            Exchange::MainMode
            | Exchange::AggressiveMode
            | Exchange::IkeSaInit
            | Exchange::IkeAuth
            | Exchange::IkeIntermediate => Some(1),
            Exchange::QuickMode | Exchange::CreateChildSa => Some(2),
            Exchange::InformationalV1 | Exchange::Informational => None,
        }
    }
    /// IKE version of the exchange.
    pub fn ike_version(self) -> u8 {
        match self {
            Exchange::MainMode | Exchange::AggressiveMode | Exchange::QuickMode | Exchange::InformationalV1 => 1,
            _ => 2,
        }
    }
}

/// Kernel object that could not be installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelObject {
    /// SAD entry (the SA itself).
    Sa,
    /// SPD entry (policy).
    Policy,
    /// Not said.
    Unknown,
}

/// What a log line means. `by_peer` is true when the peer reported the problem to us (we
/// received its notify), false when this daemon found it itself (and usually told the peer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// `Starting Pluto (Libreswan Version 4.10 ...`, `Starting IKE charon daemon (strongSwan 5.9.8, ...`.
    DaemonStarted {
        daemon: Daemon,
        /// e.g. "Libreswan 4.10", "Openswan 2.6.38", "strongSwan 5.9.8".
        version: Option<String>,
    },
    /// `Pluto is shutting down`, charon `SIGTERM received, shutting down`.
    DaemonStopped,
    /// `"conn": added IKEv2 connection`, charon `added configuration 'net'`.
    ConnectionAdded { ike_version: Option<u8> },
    /// We start a negotiation: pluto `initiating IKEv1 Main Mode connection`, charon
    /// `initiating IKE_SA net[1] to 198.51.100.2`.
    Initiating {
        ike_version: Option<u8>,
        exchange: Option<Exchange>,
        peer: Option<String>,
    },
    /// The peer starts one: pluto `responding to Main Mode`, charon `X is initiating an IKE_SA`.
    Responding {
        ike_version: Option<u8>,
        exchange: Option<Exchange>,
        peer: Option<String>,
    },
    /// A message of an exchange was sent. `step` is the IKEv1 message number within the
    /// exchange (MI1/MR1 = 1, MI2/MR2 = 2, MI3/MR3 = 3) when the log says it.
    Sent {
        exchange: Exchange,
        request: bool,
        step: Option<u8>,
        msgid: Option<u32>,
        /// Address (and port, if logged) it was sent to.
        peer: Option<String>,
    },
    /// A message was received and parsed (charon `parsed ...`, pluto `processed ... response`).
    Received {
        exchange: Exchange,
        request: bool,
        msgid: Option<u32>,
        peer: Option<String>,
    },
    /// charon `sending packet:` / `received packet:` (ports show a NAT-T float to 4500; sizes
    /// above the MTU mean IP fragments).
    Packet {
        outbound: bool,
        from: String,
        to: String,
        bytes: Option<u32>,
    },
    /// Phase 1 / IKE SA up.
    IkeSaEstablished {
        /// `auth=PRESHARED_KEY`, `authby=secret`...
        auth: Option<String>,
        local: Option<String>,
        peer: Option<String>,
        peer_id: Option<String>,
    },
    /// Phase 2 / child SA up (IKEv1 `IPsec SA established`, IKEv2 `established Child SA`,
    /// charon `CHILD_SA net{1} established with SPIs`).
    ChildSaEstablished {
        /// SPI we send with (pluto `=>0x..`, charon `..._o`).
        spi_out: Option<u32>,
        /// SPI the peer sends to us with (pluto `<0x..`, charon `..._i`).
        spi_in: Option<u32>,
        /// `NATD=none` / `NATD=192.0.2.1:4500` (pluto).
        natd: Option<String>,
        /// UDP-encapsulated ESP (`ESPinUDP`, `ESP/NAT`) = true, plain `ESP` = false.
        encap: Option<bool>,
        /// "tunnel" / "transport" when said.
        mode: Option<String>,
        /// Traffic selectors as logged.
        ts: Option<String>,
        /// Serial of the parent IKE SA when said (`using #1`, `isakmp#1`).
        parent: Option<u64>,
    },
    /// A retransmission of our last message (no answer yet).
    Retransmit {
        /// pluto state name, e.g. "STATE_MAIN_I3".
        state: Option<String>,
        exchange: Option<Exchange>,
        step: Option<u8>,
        /// charon retransmit number.
        count: Option<u32>,
        msgid: Option<u32>,
    },
    /// Gave up waiting: pluto `max number of retransmissions`, `... timeout exceeded after N
    /// retransmits`, charon `giving up after N retransmits`, `establishing IKE_SA failed, peer
    /// not responding`.
    GaveUp {
        state: Option<String>,
        exchange: Option<Exchange>,
        step: Option<u8>,
        retransmits: Option<u32>,
    },
    /// PSK / signature / AUTH payload check failed.
    AuthFailed { by_peer: bool },
    /// No PSK or private key for these IDs (configuration).
    SecretMissing,
    /// The peer's ID does not match what we expect (or no config matches it).
    IdMismatch {
        expected: Option<String>,
        got: Option<String>,
    },
    /// The ID the peer presented (`Peer ID is ID_IPV4_ADDR: '192.0.2.32'`).
    PeerId { id: String },
    /// Proposal mismatch. `phase` 1 = IKE SA / Main Mode, 2 = child SA / Quick Mode.
    NoProposalChosen { phase: Option<u8>, by_peer: bool },
    /// Our proposals, the peer's, or the chosen one (charon lists them on mismatch).
    Proposals { local: Option<bool>, list: String },
    /// INVALID_KE_PAYLOAD: DH group guess wrong (repeated = group mismatch).
    InvalidKe { by_peer: bool },
    /// TS_UNACCEPTABLE or local traffic-selector mismatch.
    TsUnacceptable { by_peer: bool },
    /// INVALID_ID_INFORMATION (phase-1 ID or IKEv1 proxy-ID mismatch).
    InvalidIdInformation { by_peer: bool },
    /// The responder has no connection for what it got: phase 1 (peer address/policy) or
    /// phase 2 (subnets).
    NoConnectionKnown { phase: Option<u8> },
    /// PFS on one side only.
    PfsMismatch,
    /// The child SA could not be set up (charon `failed to establish CHILD_SA`).
    ChildSaFailed,
    /// The kernel refused an SA or policy (netlink / XFRM errors).
    KernelInstallFailed { what: KernelObject, errno: Option<u32> },
    /// The _updown script or a command it ran failed or complained.
    UpdownFailed { status: Option<i32> },
    /// Route / source-IP installation failed.
    RouteFailed,
    /// NAT detection result. `forced`: encapsulation forced by configuration.
    NatDetected {
        local_behind: Option<bool>,
        peer_behind: Option<bool>,
        forced: bool,
    },
    /// No socket on UDP 4500 to float to.
    NatTFloatFailed,
    /// IKE fragmentation in use (`problem` = a fragment was refused or was invalid).
    IkeFragmentation { problem: bool },
    /// An ICMP error came back for an IKE packet (`ERROR: asynchronous network error report`).
    NetworkError {
        errno: Option<u32>,
        icmp_type: Option<u8>,
        icmp_code: Option<u8>,
        complainant: Option<String>,
    },
    /// DPD / liveness declared the peer dead, or a later exchange went unanswered.
    PeerDead,
    /// An SA or state was deleted (`by_peer`: the peer sent a delete).
    Deleted {
        by_peer: bool,
        /// Last pluto state of a deleted state, e.g. "STATE_MAIN_I3".
        state: Option<String>,
    },
    /// Bytes through a child SA when it went away (`ESP traffic information: in=0B out=840B`).
    TrafficStats {
        in_bytes: Option<u64>,
        out_bytes: Option<u64>,
    },
    /// The responder dropped the request unanswered (half-open limit, bad header).
    RequestDropped,
    /// The peer's certificate (or one in its chain) was refused: expired, issuer unknown or not
    /// trusted, revoked, CRL missing, bad key usage. `reason` is a short stable word: `expired`,
    /// `not-yet-valid`, `lifetime` (outside its validity, direction not said), `unknown-issuer`,
    /// `untrusted-issuer`, `untrusted`, `revoked`, `ca-invalid`, `bad-signature`, `key-usage`,
    /// `path-length`, `name-constraint`, `crl-missing`, `no-ca`, `rejected` (refused, reason on
    /// another line), or the NSS code itself (`SEC_ERROR_...`) when it is none of these. A
    /// certificate that is valid but does not carry the expected ID is [`EventKind::IdMismatch`].
    /// pluto `NSS: ERROR: IPsec certificate CN=sg1 invalid: SEC_ERROR_EXPIRED_CERTIFICATE: ...`,
    /// `X509: CERT payload bogus or revoked`; charon `no issuer certificate found for "CN=sg1"`,
    /// `certificate was revoked on ...`.
    CertInvalid { reason: String },
    /// This end sends its certificate in MI3 / IKE_AUTH: the message is then large, often
    /// larger than the path MTU (IP fragments). pluto `I am sending my cert`, `loaded private
    /// key matching left certificate 'sg1'` (it authenticates with it), charon `sending end
    /// entity cert "CN=sg1"`.
    CertSent,
    /// Transport mode on one end, tunnel mode on the other (`ours`/`theirs`: "tunnel",
    /// "transport", "beet" when the line says). pluto `policy dictates Transport Mode, but peer
    /// requested Tunnel Mode`; charon `TRANSPORT mode requested by responder is unacceptable`.
    ModeMismatch {
        ours: Option<String>,
        theirs: Option<String>,
    },
    /// IKE over TCP (RFC 8229) could not connect to the peer: pluto `TCP: socket 12: connecting
    /// to 198.51.100.2:4500: Connection refused (errno 111)`. `peer` as logged (with port).
    TcpConnectFailed { peer: Option<String>, errno: Option<u32> },
    /// A child SA was refused with a notify that has no more specific kind (TEMPORARY_FAILURE,
    /// FAILED_CP_REQUIRED, INTERNAL_ADDRESS_FAILURE, SINGLE_PAIR_REQUIRED, NO_ADDITIONAL_SAS,
    /// INVALID_SELECTORS...). The IKE SA itself stands. pluto `CHILD SA failed: TEMPORARY_FAILURE`,
    /// `IKE_AUTH response rejected Child SA with INTERNAL_ADDRESS_FAILURE`; charon `received
    /// FAILED_CP_REQUIRED notify, no CHILD_SA built`.
    ChildRejected { notify: String, by_peer: bool },
    /// A notify not covered by a more specific kind.
    Notify { name: String, by_peer: bool },
    /// Final result printed by `swanctl --initiate` / `ipsec up`.
    CliResult { success: bool },
    /// A daemon line kept because [`ParseOptions::keep_other`] was set.
    Other,
}

/// One meaningful log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEvent {
    /// 1-based line number in the file.
    pub line: usize,
    pub time: Option<LogTime>,
    /// The line, trimmed, at most [`MAX_EVENT_TEXT`] bytes.
    pub text: String,
    /// Connection name (`"sg1--sg2-net"`, charon `net[1]`, `<net|1>`).
    pub conn: Option<String>,
    /// pluto state serial (`#12`) or charon IKE_SA unique id (`[12]`).
    pub serial: Option<u64>,
    /// A notify named on the line (full RFC name, e.g. "NO_PROPOSAL_CHOSEN").
    pub notify: Option<String>,
    /// In a pasted terminal session, the host whose prompt the command ran at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub kind: EventKind,
}

/// Version line of the daemon that wrote the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonInfo {
    pub daemon: Daemon,
    pub version: Option<String>,
}

/// Everything read from one log file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogFile {
    pub name: String,
    pub dialect: Dialect,
    /// Daemon and version, from the start-up line or from the dialect.
    pub daemon: Option<DaemonInfo>,
    pub events: Vec<LogEvent>,
    pub lines_read: usize,
    /// Addresses this gateway used for IKE, as logged (no port).
    pub local_addrs: Vec<String>,
    /// Addresses of IKE peers, as logged (no port).
    pub peer_addrs: Vec<String>,
    /// Connection names seen.
    pub conns: Vec<String>,
    pub warnings: Vec<String>,
}

/// Which side this log shows, if the log says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Initiator,
    Responder,
    Both,
}

impl LogFile {
    /// Initiator if the daemon started a negotiation, responder if it answered one.
    pub fn role(&self) -> Option<Role> {
        let first = |x: &Exchange| matches!(x, Exchange::MainMode | Exchange::AggressiveMode | Exchange::IkeSaInit);
        let init = self.events.iter().any(|e| match &e.kind {
            EventKind::Initiating { .. } => true,
            EventKind::Sent {
                exchange,
                request: true,
                step,
                ..
            } => first(exchange) && *step != Some(2) && *step != Some(3),
            _ => false,
        });
        let resp = self.events.iter().any(|e| match &e.kind {
            EventKind::Responding { .. } => true,
            EventKind::Sent {
                exchange,
                request: false,
                ..
            } => first(exchange),
            _ => false,
        });
        match (init, resp) {
            (true, true) => Some(Role::Both),
            (true, false) => Some(Role::Initiator),
            (false, true) => Some(Role::Responder),
            (false, false) => None,
        }
    }
}

impl LogFile {
    /// A pasted session that ran commands on several hosts (`root@sg1:~#`, then `root@sg2:~#`)
    /// holds several gateways' output: one log per host, named `FILE[HOST]`. Lines before the
    /// first prompt go with the first host. A log of one host (or none) comes back whole.
    pub fn split_by_host(self) -> Vec<(Option<String>, LogFile)> {
        let mut hosts: Vec<String> = Vec::new();
        for e in &self.events {
            if let Some(h) = &e.host {
                if !hosts.contains(h) && hosts.len() < 8 {
                    hosts.push(h.clone());
                }
            }
        }
        if hosts.len() < 2 {
            let host = hosts.pop();
            return vec![(host, self)];
        }
        // Each part keeps the file's facts but its own events; the addresses were the file's
        // mixed from all hosts, so no part keeps them.
        let LogFile {
            name,
            dialect,
            daemon,
            events,
            lines_read,
            conns,
            warnings,
            ..
        } = self;
        let mut parts: Vec<(Option<String>, LogFile)> = hosts
            .iter()
            .map(|h| {
                let f = LogFile {
                    name: format!("{name}[{h}]"),
                    dialect,
                    daemon: daemon.clone(),
                    events: Vec::new(),
                    lines_read,
                    local_addrs: Vec::new(),
                    peer_addrs: Vec::new(),
                    conns: conns.clone(),
                    warnings: warnings.clone(),
                };
                (Some(h.clone()), f)
            })
            .collect();
        for e in events {
            let i = e
                .host
                .as_ref()
                .and_then(|h| hosts.iter().position(|x| x == h))
                .unwrap_or(0);
            parts[i].1.events.push(e);
        }
        parts
    }
}

/// Parses a log held as text.
pub fn parse(name: &str, text: &str, opts: &ParseOptions) -> LogFile {
    parse_bytes(name, text.as_bytes(), opts)
}

/// Parses a log held as bytes; invalid UTF-8 is replaced, NULs and other control bytes are
/// harmless, no input panics.
pub fn parse_bytes(name: &str, bytes: &[u8], opts: &ParseOptions) -> LogFile {
    let mut p = Parser::new(name, opts);
    for (idx, raw) in Lines::new(bytes).enumerate() {
        if !p.feed(idx, raw) {
            break;
        }
    }
    p.finish()
}

/// Parses a log read from `r` line by line: memory stays bounded by [`MAX_LINE_BYTES`] per line
/// whatever the file holds (a 1 GB line is cut, not held).
pub fn parse_reader<R: std::io::BufRead>(name: &str, mut r: R, opts: &ParseOptions) -> std::io::Result<LogFile> {
    let mut p = Parser::new(name, opts);
    let mut line: Vec<u8> = Vec::with_capacity(1024);
    let mut truncated = false;
    let mut idx = 0usize;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !line.is_empty() || truncated {
                p.feed(
                    idx,
                    RawLine {
                        bytes: strip_cr(&line),
                        truncated,
                    },
                );
            }
            break;
        }
        let (chunk, end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        let room = (MAX_LINE_BYTES + 1).saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = end.unwrap_or(buf.len());
        r.consume(used);
        if end.is_some() {
            truncated |= line.len() > MAX_LINE_BYTES;
            line.truncate(MAX_LINE_BYTES);
            let go = p.feed(
                idx,
                RawLine {
                    bytes: strip_cr(&line),
                    truncated,
                },
            );
            idx += 1;
            line.clear();
            truncated = false;
            if !go {
                break;
            }
        } else if line.len() > MAX_LINE_BYTES {
            truncated = true;
            line.truncate(MAX_LINE_BYTES);
        }
    }
    Ok(p.finish())
}

/// A log read as it is written (a followed file, a journal): lines go in one at a time, and
/// the events so far can be read between lines. The same recognisers as [`parse_reader`].
pub struct LogStream {
    parser: Parser,
}

impl LogStream {
    /// Lines without a year are taken as written when they arrive (this year, or last year for
    /// December lines read in January); `opts.year` is for lines without a month.
    pub fn new(name: &str, opts: &ParseOptions) -> Self {
        let mut parser = Parser::new(name, opts);
        parser.live = true;
        LogStream { parser }
    }

    /// One line, without its line end; a longer line than [`MAX_LINE_BYTES`] is cut.
    pub fn feed_line(&mut self, line: &[u8]) {
        let idx = self.parser.file.lines_read;
        let truncated = line.len() > MAX_LINE_BYTES;
        let bytes = strip_cr(&line[..line.len().min(MAX_LINE_BYTES)]);
        self.parser.feed(idx, RawLine { bytes, truncated });
    }

    /// The log as read so far.
    pub fn snapshot(&self) -> LogFile {
        self.parser.complete(self.parser.file.clone())
    }

    /// Forgets events older than `epoch` (seconds), so a log followed for days stays bounded;
    /// returns how many went. Events without a time stay.
    pub fn age_out(&mut self, epoch: f64) -> usize {
        let events = &mut self.parser.file.events;
        let before = events.len();
        events.retain(|e| e.time.as_ref().and_then(|t| t.epoch).is_none_or(|t| t >= epoch));
        before - events.len()
    }
}

fn strip_cr(b: &[u8]) -> &[u8] {
    match b {
        [head @ .., b'\r'] => head,
        _ => b,
    }
}

/// Content sniffing: `Some(dialect)` if the bytes look like a pluto, charon, whack or swanctl
/// log, `None` for capture files, binaries and other text. Looks at the first 64 KiB.
pub fn looks_like_log(bytes: &[u8]) -> Option<Dialect> {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    if head.len() >= 4 {
        let m = [head[0], head[1], head[2], head[3]];
        // pcap (both byte orders, both resolutions), pcapng.
        let magics: [[u8; 4]; 5] = [
            [0xd4, 0xc3, 0xb2, 0xa1],
            [0xa1, 0xb2, 0xc3, 0xd4],
            [0x4d, 0x3c, 0xb2, 0xa1],
            [0xa1, 0xb2, 0x3c, 0x4d],
            [0x0a, 0x0d, 0x0d, 0x0a],
        ];
        if magics.contains(&m) {
            return None;
        }
    }
    if head.contains(&0) {
        return None;
    }
    let mut counts: HashMap<Dialect, usize> = HashMap::new();
    let mut session = session::Session::default();
    let mut ipsec_commands = 0;
    for (i, raw) in Lines::new(head).enumerate() {
        if i >= 2000 {
            break;
        }
        let line = String::from_utf8_lossy(raw.bytes);
        let text = match session.line(&line) {
            session::Line::Command(session::Output::Up | session::Output::Status, _) => {
                ipsec_commands += 1;
                continue;
            }
            session::Line::Command(..) | session::Line::Output(session::Output::Other, _) => continue,
            session::Line::Output(_, text) => text,
        };
        let env = envelope::split(text);
        if let Some(d) = env.marker() {
            *counts.entry(d).or_default() += 1;
        }
    }
    // A pasted session that runs the daemon's own commands is daemon output even when what
    // they printed carries no marker (an empty status, a failed up command).
    best_dialect(&counts).or((ipsec_commands > 0).then_some(Dialect::Unknown))
}

fn best_dialect(counts: &HashMap<Dialect, usize>) -> Option<Dialect> {
    // Fixed order so that ties are decided the same way every time.
    let order = [Dialect::Pluto, Dialect::Charon, Dialect::Whack, Dialect::Swanctl];
    let mut best: Option<(Dialect, usize)> = None;
    for d in order {
        let n = counts.get(&d).copied().unwrap_or(0);
        if n > 0 && best.is_none_or(|(_, b)| n > b) {
            best = Some((d, n));
        }
    }
    best.map(|(d, _)| d)
}

/// A line of at most [`MAX_LINE_BYTES`] bytes, without its newline.
struct RawLine<'a> {
    bytes: &'a [u8],
    truncated: bool,
}

struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Lines { rest: bytes }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = RawLine<'a>;
    fn next(&mut self) -> Option<RawLine<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match self.rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, &self.rest[self.rest.len()..]),
        };
        self.rest = rest;
        let truncated = line.len() > MAX_LINE_BYTES;
        let mut bytes = &line[..line.len().min(MAX_LINE_BYTES)];
        if let [head @ .., b'\r'] = bytes {
            bytes = head;
        }
        Some(RawLine { bytes, truncated })
    }
}

/// Events whose year is still to be decided (yearless time stamps).
struct Pending {
    event: usize,
    wraps: u32,
}

struct Parser {
    opts: ParseOptions,
    /// Lines arrive as they are written: a stamp without a year is of the year in `opts`.
    live: bool,
    file: LogFile,
    counts: HashMap<Dialect, usize>,
    /// Last request sent per IKE SA: (message ID, exchange, IKEv1 step).
    last_request: HashMap<Option<u64>, (Option<u32>, Exchange, Option<u8>)>,
    /// Connection name per serial, for lines that give only the serial (`<3>`).
    serial_conn: HashMap<u64, String>,
    /// Last IKE SA named in swanctl output, for its untagged lines.
    swanctl_ids: (Option<String>, Option<u64>),
    /// Phase (1 or 2) last seen per serial and overall, for notify lines that do not say.
    serial_phase: HashMap<u64, u8>,
    last_phase: Option<u8>,
    last_month: Option<u8>,
    wraps: u32,
    pending: Vec<Pending>,
    truncated_warnings: usize,
    /// Prompts and commands of a pasted terminal session.
    session: session::Session,
    /// The host of the last prompt that named one.
    host: Option<String>,
}

impl Parser {
    fn new(name: &str, opts: &ParseOptions) -> Self {
        Parser {
            opts: opts.clone(),
            live: false,
            file: LogFile {
                name: name.to_string(),
                dialect: Dialect::Unknown,
                daemon: None,
                events: Vec::new(),
                lines_read: 0,
                local_addrs: Vec::new(),
                peer_addrs: Vec::new(),
                conns: Vec::new(),
                warnings: Vec::new(),
            },
            counts: HashMap::new(),
            serial_phase: HashMap::new(),
            serial_conn: HashMap::new(),
            last_request: HashMap::new(),
            swanctl_ids: (None, None),
            last_phase: None,
            last_month: None,
            wraps: 0,
            pending: Vec::new(),
            truncated_warnings: 0,
            session: session::Session::default(),
            host: None,
        }
    }

    fn line(&mut self, no: usize, line: &str) {
        let (output, text) = match self.session.line(line) {
            session::Line::Command(_, host) => {
                if let Some(h) = host {
                    if self.host.as_deref() != Some(h) {
                        self.host = Some(h.to_string());
                    }
                }
                return;
            }
            session::Line::Output(o, text) => (o, text),
        };
        let env = envelope::split(text);
        if output == session::Output::Other && !(env.structural && env.time.is_some()) {
            // ping, ip xfrm, tcpdump...: not the daemon's words.
            return;
        }
        if let Some(d) = env.marker() {
            *self.counts.entry(d).or_default() += 1;
        }
        if env.skip {
            return;
        }
        let status = if output == session::Output::Status {
            status::classify(env.body)
        } else {
            None
        };
        let class = match env.source {
            _ if status.is_some() => status,
            envelope::Source::Pluto | envelope::Source::Whack => pluto::classify(env.body),
            envelope::Source::Charon | envelope::Source::Swanctl => charon::classify(env.body),
            envelope::Source::Unknown => pluto::classify(env.body).or_else(|| charon::classify(env.body)),
        };
        let (mut class, conn, serial) = match class {
            Some(c) => {
                let conn = env.conn.map(str::to_string).or(c.conn.clone());
                let serial = env.serial.or(c.serial);
                (c, conn, serial)
            }
            None => {
                let daemon_line =
                    !matches!(env.source, envelope::Source::Unknown) || env.conn.is_some() || env.serial.is_some();
                if !self.opts.keep_other || !daemon_line {
                    return;
                }
                (
                    text::Classified::new(EventKind::Other),
                    env.conn.map(str::to_string),
                    env.serial,
                )
            }
        };
        let (conn, serial) = self.fill_ids(env.source, conn, serial);
        self.fix_phase(&mut class.kind, serial);
        self.fix_retransmit(&mut class.kind, serial);
        self.note_facts(&class, &env, conn.as_deref());
        if class.kind == EventKind::Other && !self.opts.keep_other {
            return;
        }
        let time = env.time.map(|t| self.time(t));
        let event = LogEvent {
            line: no,
            time,
            text: text::cap(line.trim(), MAX_EVENT_TEXT),
            conn,
            serial,
            notify: class.notify.map(str::to_string),
            host: self.host.clone(),
            kind: class.kind,
        };
        self.file.events.push(event);
    }

    /// Turns a parsed time stamp into a [`LogTime`], remembering yearless ones.
    fn time(&mut self, t: time::Stamp) -> LogTime {
        let mut lt = t.to_log_time();
        if lt.year.is_none() && self.live {
            // Written just now: this year, or last year for a December line read in January.
            let now = jiff::Zoned::now();
            let year = i32::from(now.year());
            lt.year = match lt.month {
                Some(m) if i32::from(m) > i32::from(now.month()) + 6 => Some(year - 1),
                Some(_) => Some(year),
                None => self.opts.year,
            };
            lt.epoch = lt.compute_epoch(self.opts.utc_offset_secs);
        } else if lt.year.is_none() {
            if let Some(m) = lt.month {
                if let Some(last) = self.last_month {
                    if m < last {
                        self.wraps += 1;
                    }
                }
                self.last_month = Some(m);
                self.pending.push(Pending {
                    event: self.file.events.len(),
                    wraps: self.wraps,
                });
            }
        } else {
            lt.epoch = lt.compute_epoch(self.opts.utc_offset_secs);
        }
        lt
    }

    /// Completes connection name and serial: swanctl output lines inherit the last IKE SA
    /// named, and a serial seen with a name keeps that name.
    fn fill_ids(
        &mut self,
        source: envelope::Source,
        mut conn: Option<String>,
        mut serial: Option<u64>,
    ) -> (Option<String>, Option<u64>) {
        if source == envelope::Source::Swanctl {
            if serial.is_some() {
                self.swanctl_ids = (conn.clone(), serial);
            } else if conn.is_none() {
                (conn, serial) = self.swanctl_ids.clone();
            }
        }
        if let Some(s) = serial {
            match &conn {
                Some(c) => {
                    if self.serial_conn.len() < 100_000 {
                        self.serial_conn.entry(s).or_insert_with(|| c.clone());
                    }
                }
                None => conn = self.serial_conn.get(&s).cloned(),
            }
        }
        (conn, serial)
    }

    /// charon names only the message ID it retransmits or gives up on: take the exchange (and
    /// IKEv1 step) from the last request this IKE SA sent.
    fn fix_retransmit(&mut self, kind: &mut EventKind, serial: Option<u64>) {
        match kind {
            EventKind::Sent {
                exchange,
                request: true,
                step,
                msgid,
                ..
            } => {
                if self.last_request.len() > 100_000 {
                    self.last_request.clear();
                }
                self.last_request.insert(serial, (*msgid, *exchange, *step));
            }
            EventKind::Retransmit {
                exchange: x @ None,
                step,
                msgid,
                ..
            } => {
                if let Some((m, e, st)) = self.last_request.get(&serial) {
                    if msgid.is_none() || *msgid == *m {
                        *x = Some(*e);
                        *step = *st;
                    }
                }
            }
            EventKind::GaveUp {
                exchange: x @ None,
                step,
                ..
            } => {
                if let Some((_, e, st)) = self.last_request.get(&serial) {
                    *x = Some(*e);
                    *step = *st;
                }
            }
            _ => {}
        }
    }

    /// Fills in the phase of a proposal refusal that does not name it, from what the same
    /// serial (or, failing that, the log) did last.
    fn fix_phase(&mut self, kind: &mut EventKind, serial: Option<u64>) {
        // A refusal inside IKE_AUTH concerns the child SA carried in it.
        let phase_of = |x: &Exchange| match x {
            Exchange::IkeAuth => Some(2),
            x => x.phase(),
        };
        let phase = match kind {
            EventKind::Sent { exchange, .. }
            | EventKind::Received { exchange, .. }
            | EventKind::Initiating {
                exchange: Some(exchange),
                ..
            }
            | EventKind::Responding {
                exchange: Some(exchange),
                ..
            }
            | EventKind::Retransmit {
                exchange: Some(exchange),
                ..
            }
            | EventKind::GaveUp {
                exchange: Some(exchange),
                ..
            } => phase_of(exchange),
            EventKind::Proposals { list, .. } if list.starts_with("IKE:") => Some(1),
            EventKind::Proposals { list, .. } if list.starts_with("ESP:") || list.starts_with("AH:") => Some(2),
            EventKind::NoProposalChosen { phase: None, .. } => {
                let known = serial.and_then(|s| self.serial_phase.get(&s).copied());
                known.or(self.last_phase)
            }
            EventKind::NoProposalChosen { phase, .. } => *phase,
            _ => None,
        };
        if let EventKind::NoProposalChosen { phase: p, .. } = kind {
            *p = phase;
        }
        if let Some(ph) = phase {
            self.last_phase = Some(ph);
            if let Some(s) = serial {
                if self.serial_phase.len() > 100_000 {
                    self.serial_phase.clear();
                }
                self.serial_phase.insert(s, ph);
            }
        }
    }

    fn note_facts(&mut self, c: &text::Classified, env: &envelope::Envelope, conn: Option<&str>) {
        if let Some(name) = conn {
            if !self.file.conns.iter().any(|c| c == name) && self.file.conns.len() < 1000 {
                self.file.conns.push(name.to_string());
            }
        }
        let mut local: Vec<&str> = c.local.iter().map(String::as_str).collect();
        let mut peer: Vec<&str> = c.peer.iter().map(String::as_str).collect();
        if let Some(a) = env.peer {
            peer.push(a);
        }
        match &c.kind {
            EventKind::Initiating { peer: Some(p), .. } | EventKind::Responding { peer: Some(p), .. } => peer.push(p),
            EventKind::Sent { peer: Some(p), .. } | EventKind::Received { peer: Some(p), .. } => peer.push(p),
            EventKind::IkeSaEstablished { local: l, peer: p, .. } => {
                local.extend(l.as_deref());
                peer.extend(p.as_deref());
            }
            _ => {}
        }
        for a in local {
            push_addr(&mut self.file.local_addrs, a);
        }
        for a in peer {
            push_addr(&mut self.file.peer_addrs, a);
        }
        if let EventKind::DaemonStarted { daemon, version } = &c.kind {
            if self.file.daemon.as_ref().is_none_or(|d| d.version.is_none()) {
                self.file.daemon = Some(DaemonInfo {
                    daemon: *daemon,
                    version: version.clone(),
                });
            }
        }
    }

    /// One raw line; false once the line limit stops the reading.
    fn feed(&mut self, idx: usize, raw: RawLine<'_>) -> bool {
        if idx >= self.opts.max_lines {
            let w = format!(
                "{}: stopped after {} lines (line limit)",
                self.file.name, self.opts.max_lines
            );
            self.file.warnings.push(w);
            return false;
        }
        self.file.lines_read = idx + 1;
        let line = String::from_utf8_lossy(raw.bytes);
        if raw.truncated && self.truncated_warnings < 5 {
            self.truncated_warnings += 1;
            let w = format!(
                "{}:{}: line longer than {} bytes, cut",
                self.file.name,
                idx + 1,
                MAX_LINE_BYTES
            );
            self.file.warnings.push(w);
        }
        self.line(idx + 1, &line);
        true
    }

    fn finish(mut self) -> LogFile {
        let file = std::mem::take(&mut self.file);
        self.complete(file)
    }

    /// The file as read so far, with what only the whole file settles filled in.
    fn complete(&self, mut file: LogFile) -> LogFile {
        if let Some(year) = self.opts.year {
            for p in &self.pending {
                let y = year - (self.wraps - p.wraps) as i32;
                if let Some(ev) = file.events.get_mut(p.event) {
                    if let Some(t) = ev.time.as_mut() {
                        t.year = Some(y);
                        t.year_inferred = true;
                        t.epoch = t.compute_epoch(self.opts.utc_offset_secs);
                    }
                }
            }
        }
        for ev in &mut file.events {
            if let (None, Some(s)) = (&ev.conn, ev.serial) {
                ev.conn = self.serial_conn.get(&s).cloned();
            }
        }
        file.dialect = best_dialect(&self.counts).unwrap_or(Dialect::Unknown);
        if file.dialect == Dialect::Unknown && !file.events.is_empty() {
            // Plain lines without any structural marker: go by the daemon that started.
            if let Some(d) = &file.daemon {
                file.dialect = match d.daemon {
                    Daemon::Pluto => Dialect::Pluto,
                    Daemon::Charon => Dialect::Charon,
                };
            }
        }
        if file.daemon.is_none() {
            if let Some(daemon) = file.dialect.daemon() {
                file.daemon = Some(DaemonInfo { daemon, version: None });
            }
        }
        if file.dialect == Dialect::Unknown && file.lines_read > 0 {
            file.warnings.push(format!(
                "{}: no pluto, charon, whack or swanctl lines recognised",
                file.name
            ));
        }
        file
    }
}

/// Adds an address (port stripped) to a short de-duplicated list.
fn push_addr(list: &mut Vec<String>, addr: &str) {
    let a = text::strip_port(addr);
    if a.is_empty() || a == "%any" || list.len() >= 64 || list.iter().any(|x| x == a) {
        return;
    }
    list.push(a.to_string());
}

#[cfg(test)]
mod catalogue_tests;
#[cfg(test)]
mod tests;
