//! The JSON contract of DESIGN.md (`diagnose --json`), rendered from the report model.

use super::model::Model;
use crate::correlate::GwId;
use crate::coverage::CaptureCoverage;
use crate::diagnose::{describe, rfc3339, Evidence};
use crate::track::opened::Decryption;
use serde::Serialize;

#[derive(Serialize)]
struct SideJson<'a> {
    name: &'a str,
    addresses: Vec<String>,
    captures: Vec<CaptureJson<'a>>,
    logs: Vec<LogJson<'a>>,
}

#[derive(Serialize)]
struct CaptureJson<'a> {
    file: &'a str,
    packets: u64,
    ike_messages: usize,
    esp_flows: usize,
    role: &'a str,
    /// First and last packet, RFC 3339 in UTC.
    start: Option<String>,
    end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    dropped: &'a crate::track::Dropped,
}

#[derive(Serialize)]
struct LogJson<'a> {
    file: &'a str,
    dialect: crate::logs::Dialect,
    #[serde(skip_serializing_if = "Option::is_none")]
    daemon: Option<String>,
    events: usize,
}

#[derive(Serialize)]
struct IkeSaJson {
    side: String,
    ispi: String,
    rspi: String,
    version: u8,
    /// One sentence per message, as the text report describes it.
    messages: Vec<String>,
    /// The same messages as fields.
    packets: Vec<IkeMsgJson>,
}

/// One IKE message of a capture, as fields.
#[derive(Serialize)]
struct IkeMsgJson {
    packet: u64,
    timestamp: Option<String>,
    exchange: String,
    msgid: u32,
    /// IKEv2: the R flag; IKEv1 has none (false).
    response: bool,
    from: String,
    to: String,
    /// Sent on UDP 4500 with the non-ESP marker (NAT-T), or in TCP (`tcp`).
    natt: bool,
    /// Carried in a TCP stream (RFC 8229).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tcp: bool,
    length: u32,
    /// IKEv1: the encryption flag.
    encrypted: bool,
    /// The same message sent again (same content).
    retransmission: bool,
    /// Gateways that sent and should receive it, when known.
    sender: Option<String>,
    receiver: Option<String>,
    /// Seen in the receiver's capture: true/false when that capture is there, null otherwise.
    arrived: Option<bool>,
    /// IKEv2 with its keys given: what the encrypted payload holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    decrypted: Option<crate::track::opened::Opened>,
    /// Keys were given for its IKE SA and none opened it: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_decrypted: Option<String>,
}

#[derive(Serialize)]
struct EspJson {
    spi: String,
    from: Option<String>,
    to: Option<String>,
    sent_packets: Option<u64>,
    arrived_packets: Option<u64>,
    encapsulated: bool,
    /// Carried in TCP streams (RFC 8229).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tcp: bool,
    /// With its keys given: the inner traffic and the packets not opened.
    #[serde(skip_serializing_if = "Option::is_none")]
    decrypted: Option<crate::track::opened::EspOpened>,
}

/// One piece of evidence: the diagnosis's own fields, and its time with the date.
#[derive(Serialize)]
struct EvidenceJson<'a> {
    #[serde(flatten)]
    e: &'a Evidence,
    /// RFC 3339: UTC for packets, the log's own zone when it writes one (else taken as UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
}

#[derive(Serialize)]
struct FindingJson<'a> {
    situation: &'static str,
    cause: crate::diagnose::Cause,
    confidence: f64,
    summary: &'a str,
    evidence: Vec<EvidenceJson<'a>>,
    advice: &'a [String],
}

/// One capture: its gateway and why, what it holds, what it cannot show.
#[derive(Serialize)]
struct CoverageJson<'a> {
    #[serde(flatten)]
    c: &'a CaptureCoverage,
    /// First and last packet, RFC 3339 in UTC.
    start: Option<String>,
    end: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    findings: Vec<FindingJson<'a>>,
    /// Every capture given: its gateway and why, what it holds, its blind spots.
    captures: Vec<CoverageJson<'a>>,
    sides: Vec<SideJson<'a>>,
    ike_sas: Vec<IkeSaJson>,
    esp_flows: Vec<EspJson>,
    /// Kept for older readers: the same as `clock_offset_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    clock_offset: Option<f64>,
    /// Seconds the second gateway's capture clock is ahead of the first's.
    #[serde(skip_serializing_if = "Option::is_none")]
    clock_offset_s: Option<f64>,
    problems: &'a [String],
    skipped: &'a [String],
    /// The key sources read and the SAs each gave (never the keys).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    keys: &'a [crate::inputs::KeySource],
}

pub(super) fn render(model: &Model<'_, '_>) -> String {
    let (case, inputs, findings, cov) = (model.case, model.inputs, model.findings, model.cov);
    let sides = case
        .gws
        .iter()
        .map(|g| SideJson {
            name: g.name,
            addresses: g.addrs.iter().map(|a| a.to_string()).collect(),
            captures: g
                .captures
                .iter()
                .map(|c| CaptureJson {
                    file: &c.name,
                    packets: c.timeline.packets,
                    ike_messages: c.timeline.ike.len(),
                    esp_flows: c.timeline.esp.len(),
                    start: c.timeline.first_time.and_then(rfc3339),
                    end: c.timeline.last_time.and_then(rfc3339),
                    role: if g.ext.is_some_and(|e| std::ptr::eq(e, c)) {
                        "external"
                    } else {
                        "internal"
                    },
                    error: c.error.as_deref(),
                    dropped: &c.timeline.dropped,
                })
                .collect(),
            logs: g
                .logs
                .iter()
                .map(|l| LogJson {
                    file: &l.name,
                    dialect: l.dialect,
                    daemon: l
                        .daemon
                        .as_ref()
                        .map(|d| d.version.clone().unwrap_or_else(|| format!("{:?}", d.daemon))),
                    events: l.events.len(),
                })
                .collect(),
        })
        .collect();
    let mut ike_sas: Vec<IkeSaJson> = Vec::new();
    let gw_name = |g: Option<GwId>| g.map(|i| case.gw(i).name.to_string());
    for (gid, g) in case.gw_ids().zip(&case.gws) {
        for (idx, m) in g.ike().iter().enumerate() {
            let journey = model.journey_of(gid, idx);
            let ispi = crate::track::hex(&m.ispi);
            let sa = match ike_sas.iter_mut().find(|s| s.side == g.name && s.ispi == ispi) {
                Some(s) => s,
                None => {
                    ike_sas.push(IkeSaJson {
                        side: g.name.to_string(),
                        ispi: ispi.clone(),
                        rspi: crate::track::hex(&m.rspi),
                        version: m.major,
                        messages: Vec::new(),
                        packets: Vec::new(),
                    });
                    ike_sas.last_mut().unwrap_or_else(|| unreachable!())
                }
            };
            if sa.rspi.chars().all(|c| c == '0') {
                sa.rspi = crate::track::hex(&m.rspi);
            }
            if sa.messages.len() < 200 {
                sa.messages.push(format!("#{} {}", m.number, describe(m)));
                sa.packets.push(IkeMsgJson {
                    packet: m.number,
                    timestamp: rfc3339(m.time),
                    exchange: m.exchange_name(),
                    msgid: m.msgid,
                    response: m.is_response(),
                    from: m.src.to_string(),
                    to: m.dst.to_string(),
                    natt: m.natt,
                    tcp: m.tcp,
                    length: m.length,
                    encrypted: m.is_v1_encrypted(),
                    retransmission: m.retransmission,
                    sender: journey.and_then(|p| gw_name(p.from)),
                    receiver: journey.and_then(|p| gw_name(p.to)),
                    arrived: journey.and_then(|p| {
                        let receiver_captured = p.to.is_some_and(|t| case.gw(t).ext.is_some());
                        (p.arrived.is_some() || receiver_captured).then_some(p.arrived.is_some())
                    }),
                    decrypted: match &m.opened {
                        Some(Decryption::Opened(o)) => Some((**o).clone()),
                        _ => None,
                    },
                    not_decrypted: match &m.opened {
                        Some(Decryption::Failed(why)) => Some(why.clone()),
                        _ => None,
                    },
                });
            }
        }
    }
    let name = |g: Option<GwId>| g.map(|i| case.gw(i).name.to_string());
    let esp_flows = model
        .esp
        .iter()
        .map(|p| EspJson {
            spi: format!("0x{:08x}", p.spi),
            from: name(p.from),
            to: name(p.to),
            sent_packets: p.sent,
            arrived_packets: p.arrived,
            encapsulated: p.encapsulated,
            tcp: p.tcp,
            decrypted: p.opened.clone(),
        })
        .collect();
    let findings = findings
        .iter()
        .map(|f| FindingJson {
            situation: f.situation(),
            cause: f.cause,
            confidence: f.confidence,
            summary: &f.summary,
            evidence: f
                .evidence
                .iter()
                .map(|e| EvidenceJson {
                    e,
                    timestamp: e.timestamp.clone(),
                })
                .collect(),
            advice: &f.advice,
        })
        .collect();
    let captures = cov
        .captures
        .iter()
        .map(|c| CoverageJson {
            c,
            start: c.start.and_then(rfc3339),
            end: c.end.and_then(rfc3339),
        })
        .collect();
    let r = Report {
        findings,
        captures,
        sides,
        ike_sas,
        esp_flows,
        clock_offset: case.clock_offset,
        clock_offset_s: case.clock_offset,
        problems: &inputs.problems,
        skipped: &inputs.skipped,
        keys: &inputs.key_sources,
    };
    serde_json::to_string_pretty(&r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    /// The exit status that goes with it (2: the input could not be used).
    status: u8,
    message: &'a str,
    /// Each file that could not be used, with the reason.
    problems: &'a [String],
}

/// The object printed on standard output with `--json` when the run ends with exit status 2.
pub fn json_error(message: &str, problems: &[String]) -> String {
    let e = ErrorJson {
        status: 2,
        message,
        problems,
    };
    #[derive(Serialize)]
    struct Wrap<'a> {
        error: ErrorJson<'a>,
    }
    serde_json::to_string_pretty(&Wrap { error: e }).unwrap_or_default()
}
