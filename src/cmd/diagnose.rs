//! `ipsec-doctor diagnose`: captures and logs in, findings out.

use crate::correlate;
use crate::diagnose;
use crate::inputs;
use crate::report;
use std::path::PathBuf;

pub struct Args {
    pub paths: Vec<PathBuf>,
    pub sides: Vec<(String, Vec<PathBuf>)>,
    pub json: bool,
    pub timeline: bool,
    pub colour: bool,
    pub limits: inputs::Limits,
}

/// Exit status: 0 healthy, 1 a problem found, 2 unusable input.
pub fn run(args: &Args) -> u8 {
    let inp = inputs::load(&args.paths, &args.sides, args.limits);
    // Usable: a capture that held at least one IP packet, or a log with something in it.
    let usable = inp.sides.iter().any(|s| {
        s.captures.iter().any(|c| c.timeline.first_time.is_some()) || s.logs.iter().any(|l| !l.events.is_empty())
    });
    if !usable {
        for p in &inp.problems {
            eprintln!("ipsec-doctor: {p}");
        }
        let message = "no IP packet in any capture and no IKE log line among the inputs";
        eprintln!("ipsec-doctor: {message}");
        if args.json {
            println!("{}", report::json_error(message, &inp.problems));
        }
        return 2;
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
    let captured = inp.sides.iter().filter(|s| !s.captures.is_empty()).count();
    if captured > 2 {
        eprintln!(
            "ipsec-doctor: captures from {captured} gateways ({}); packets are lined up between two only: use --side to group them",
            inp.sides.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    let case = correlate::correlate(&inp.sides);
    let findings = diagnose::diagnose(&case);
    if args.json {
        println!("{}", report::json(&case, &inp, &findings));
    } else {
        print!("{}", report::text(&case, &inp, &findings, args.colour, args.timeline));
    }
    match findings.first() {
        // The inputs could not show what happened: healthy needs proof.
        Some(f) if f.cause == diagnose::Cause::Inconclusive => 2,
        Some(f) if f.is_problem() => 1,
        _ => 0,
    }
}
