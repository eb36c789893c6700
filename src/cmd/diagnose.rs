//! `ipsec-doctor diagnose`: captures and logs in, findings out.

use crate::correlate;
use crate::coverage;
use crate::diagnose;
use crate::inputs;
use crate::report;
use std::path::PathBuf;

pub struct Args {
    pub paths: Vec<PathBuf>,
    pub sides: Vec<(String, Vec<PathBuf>)>,
    pub json: bool,
    pub timeline: bool,
    /// `--html FILE`: the report as a self-contained HTML page, written after the normal output.
    pub html: Option<PathBuf>,
    pub colour: bool,
    pub limits: inputs::Limits,
    /// `--evidence FILE`: the packets that prove the findings, as pcapng.
    pub evidence: Option<PathBuf>,
    /// `--keys FILE`: key sources read for their keys only.
    pub keys: Vec<PathBuf>,
}

/// Reads every `--keys` file; the first one that cannot be read or holds no key source we know
/// is the error (naming it).
pub fn load_keys(files: &[PathBuf]) -> Result<Vec<crate::keys::Loaded>, String> {
    files.iter().map(|f| crate::keys::load(f)).collect()
}

/// Exit status: 0 healthy, 1 a problem found, 2 unusable input.
pub fn run(args: &Args) -> u8 {
    let given = match load_keys(&args.keys) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("ipsec-doctor: --keys: {e}");
            if args.json {
                println!("{}", report::json_error(&format!("--keys: {e}"), &[]));
            }
            return 2;
        }
    };
    let mut inp = inputs::load_with_keys(&args.paths, &args.sides, given, args.limits);
    let evidence = args
        .evidence
        .as_deref()
        .map(|p| crate::evidence_pcapng::write_for(&mut inp, p));
    let (out, code, page) = report_full(inp, args.json, args.colour, args.timeline, args.html.is_some());
    print!("{out}");
    if let (Some(path), Some(page)) = (&args.html, page) {
        if let Err(e) = std::fs::write(path, page) {
            eprintln!("ipsec-doctor: {}: cannot write the HTML report: {e}", path.display());
            return 2;
        }
    }
    match evidence {
        Some(Ok(said)) => eprintln!("ipsec-doctor: {said}"),
        Some(Err(e)) => {
            eprintln!("ipsec-doctor: cannot write the evidence: {e}");
            return 2;
        }
        None => {}
    }
    code
}

/// The whole report over finished inputs, as text or JSON, and the exit status. Problems with
/// the inputs go to standard error.
pub fn report_on(inp: inputs::Inputs, json: bool, colour: bool, timeline: bool) -> (String, u8) {
    let (out, code, _) = report_full(inp, json, colour, timeline, false);
    (out, code)
}

/// [`report_on`], and with `html` the same report as an HTML page (none when the inputs were
/// unusable).
pub fn report_full(
    inp: inputs::Inputs,
    json: bool,
    colour: bool,
    timeline: bool,
    html: bool,
) -> (String, u8, Option<String>) {
    if !inp.usable() {
        for p in &inp.problems {
            eprintln!("ipsec-doctor: {p}");
        }
        let message = "no IP packet in any capture and no IKE log line among the inputs";
        eprintln!("ipsec-doctor: {message}");
        let out = if json {
            format!("{}\n", report::json_error(message, &inp.problems))
        } else {
            String::new()
        };
        return (out, 2, None);
    }
    for s in &inp.sides {
        for c in &s.captures {
            if let Some(w) = c.limit_warning() {
                eprintln!("ipsec-doctor: {w}");
            }
            if let Some(e) = &c.error {
                eprintln!("ipsec-doctor: {e}; used what came before");
            }
            for (lt, n) in &c.unknown_link {
                eprintln!(
                    "ipsec-doctor: {}: {n} packets of link type {lt}, which we cannot decode",
                    c.name
                );
            }
        }
        for l in &s.logs {
            for w in l.warnings.iter().take(5) {
                eprintln!("ipsec-doctor: {w}");
            }
        }
    }
    for k in &inp.key_sources {
        for w in k.warnings.iter().take(5) {
            eprintln!("ipsec-doctor: {w}");
        }
    }
    let captured = inp.sides.iter().filter(|s| !s.captures.is_empty()).count();
    if captured > 2 {
        let (out, code) = too_many_gateways(&inp, captured, json);
        return (out, code, None);
    }
    let mut inp = inp;
    analyse(&mut inp, |case, inp, findings, cov| {
        let out = if json {
            format!("{}\n", report::json(case, inp, findings, cov))
        } else {
            report::text(case, inp, findings, cov, colour, timeline)
        };
        let page = html.then(|| report::html(case, inp, findings, cov));
        (out, exit_status(findings), page)
    })
}

/// 0 healthy, 1 a problem, 2 the inputs could not show what happened (healthy needs proof).
pub fn exit_status(findings: &[diagnose::Finding]) -> u8 {
    match findings.first() {
        Some(f) if f.cause == diagnose::Cause::Inconclusive => 2,
        Some(f) if f.is_problem() => 1,
        _ => 0,
    }
}

/// correlate → coverage → diagnose over inputs of at most two gateways; `then` reads the
/// outcome. The inputs come back as they went in (a capture set aside is put back), so a live
/// capture can be analysed again as it grows.
pub fn analyse<R>(
    inp: &mut inputs::Inputs,
    then: impl FnOnce(&correlate::Case<'_>, &inputs::Inputs, &[diagnose::Finding], &coverage::Coverage) -> R,
) -> R {
    // A capture with no IPsec next to one that shows its gateway sending IPsec was not taken
    // where the tunnel passes: left out (it would read as loss), and said so. Only then is the
    // case correlated again, without it.
    let blind = {
        let shared: &inputs::Inputs = inp;
        let case = correlate::correlate(&shared.sides);
        let cov = coverage::assess(&case);
        let blind = cov.blind_captures();
        if blind.is_empty() {
            return conclude(&case, cov, shared, &[], then);
        }
        blind
    };
    let mut set_aside = Vec::new();
    for (name, spot) in blind {
        for s in &mut inp.sides {
            if let Some(i) = s.captures.iter().position(|c| c.name == name) {
                set_aside.push((s.name.clone(), s.captures.remove(i), spot.clone()));
            }
        }
    }
    let problems_before = inp.problems.len();
    for (side, c, spot) in &set_aside {
        inp.problems.push(format!(
            "{}: left out of the diagnosis: {}; the diagnosis rests on the other capture (capture on {side} again with the command `ipsec-doctor capture-filter` prints)",
            c.name, spot.text
        ));
    }
    let r = {
        let case = correlate::correlate(&inp.sides);
        let cov = coverage::assess(&case);
        conclude(&case, cov, inp, &set_aside, then)
    };
    inp.problems.truncate(problems_before);
    for (side, c, _) in set_aside {
        if let Some(s) = inp.sides.iter_mut().find(|s| s.name == side) {
            s.captures.push(c);
        }
    }
    r
}

type SetAside = (String, inputs::Capture, coverage::BlindSpot);

fn conclude<R>(
    case: &correlate::Case<'_>,
    mut cov: coverage::Coverage,
    inp: &inputs::Inputs,
    set_aside: &[SetAside],
    then: impl FnOnce(&correlate::Case<'_>, &inputs::Inputs, &[diagnose::Finding], &coverage::Coverage) -> R,
) -> R {
    for (side, c, spot) in set_aside {
        cov.left_out(c, side, spot.clone());
    }
    let cov = cov.with_assignments(inp);
    let mut findings = diagnose::diagnose_with(case, &cov);
    if let Some(f) = findings.first_mut() {
        for (side, c, _) in set_aside {
            f.advice.push(format!(
                "{} was left out (no IPsec in it): capture on {side}'s external interface with the command `ipsec-doctor capture-filter` prints",
                coverage::file_name(&c.name)
            ));
        }
    }
    then(case, inp, &findings, &cov)
}

/// Captures from three or more gateways: packets are lined up between two, so the user names
/// them. Exit status 2, with every capture listed and the command that chooses. `n`: the gateways
/// with a capture.
fn too_many_gateways(inp: &inputs::Inputs, n: usize, json: bool) -> (String, u8) {
    let mut lines = Vec::new();
    let mut files = Vec::new();
    for s in &inp.sides {
        for c in &s.captures {
            let tl = &c.timeline;
            let addrs = tl.local_addrs();
            lines.push(format!(
                "{}: gateway '{}' ({}): {} packets, {} IKE messages, {} ESP packets{}",
                c.name,
                s.name,
                inp.assigned_by(&c.name).map_or("file name prefix", |a| a.by.words()),
                tl.packets,
                tl.ike.len(),
                coverage::esp_packets(tl),
                addrs.first().map(|a| format!(", sent from {a}")).unwrap_or_default()
            ));
            files.push((s.name.clone(), c.name.clone()));
        }
    }
    let example = files
        .iter()
        .take(2)
        .map(|(s, f)| format!("--side {s}={f}"))
        .collect::<Vec<_>>()
        .join(" ");
    let message =
        format!("captures from {n} gateways, but packets are lined up between two only: choose the two with --side");
    let choose = format!(
        "for example: ipsec-doctor diagnose {example} [LOGS...]  (a gateway's internal-interface capture and logs join it: --side NAME=EXT.pcap,INT.pcap,NAME.log)"
    );
    for p in &inp.problems {
        eprintln!("ipsec-doctor: {p}");
    }
    eprintln!("ipsec-doctor: {message}");
    for l in &lines {
        eprintln!("  {l}");
    }
    eprintln!("{choose}");
    if !json {
        return (String::new(), 2);
    }
    let mut problems = inp.problems.clone();
    problems.extend(lines);
    problems.push(choose);
    (format!("{}\n", report::json_error(&message, &problems)), 2)
}
