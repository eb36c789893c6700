//! Findings out. One model ([`model::Model`]: findings with evidence that points at messages
//! and log lines, and the aligned timeline of both gateways), three renderers: short text for a
//! terminal with an optional text ladder, the JSON contract of DESIGN.md, and a self-contained
//! HTML page with an SVG ladder diagram.

pub mod html;
mod json;
pub mod model;
mod text;

use crate::correlate::Case;
use crate::coverage::Coverage;
use crate::diagnose::Finding;
use crate::inputs::Inputs;
pub use json::json_error;
pub use model::Model;

/// The JSON contract of `diagnose --json`.
pub fn json(case: &Case<'_>, inputs: &Inputs, findings: &[Finding], cov: &Coverage) -> String {
    json::render(&Model::new(case, inputs, findings, cov))
}

/// The text report, wrapped to `COLUMNS`, the terminal width or 80; `timeline` adds the ladder.
pub fn text(
    case: &Case<'_>,
    inputs: &Inputs,
    findings: &[Finding],
    cov: &Coverage,
    colour: bool,
    timeline: bool,
) -> String {
    text::render(&Model::new(case, inputs, findings, cov), colour, timeline)
}

/// The self-contained HTML report (inline CSS and SVG, nothing fetched).
pub fn html(case: &Case<'_>, inputs: &Inputs, findings: &[Finding], cov: &Coverage) -> String {
    html::render(&Model::new(case, inputs, findings, cov))
}
