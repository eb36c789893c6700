//! What the example-driven tests share: the recorded examples, their scenario files, and the
//! diagnosis of a set of files as the `diagnose` command runs it.

#![allow(dead_code)] // each test crate uses its own part

use ipsec_doctor::{correlate, diagnose, inputs};
use std::path::{Path, PathBuf};

/// `KEY=value` from a scenario file (quotes removed).
pub fn scenario_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.strip_prefix(&format!("{key}="))
            .map(|v| v.trim_matches('"').to_string())
    })
}

/// `KEY` of an example folder's scenario file.
pub fn scenario(dir: &Path, key: &str) -> Option<String> {
    scenario_value(&std::fs::read_to_string(dir.join("scenario.conf")).ok()?, key)
}

/// The examples whose scenario expects `cause`.
pub fn examples_expecting(cause: &str) -> Vec<PathBuf> {
    example_dirs()
        .into_iter()
        .filter(|d| scenario(d, "EXPECTED_CAUSE").as_deref() == Some(cause))
        .collect()
}

/// inputs → correlate → diagnose, as `ipsec-doctor diagnose FILES` does.
pub fn diagnose_files(files: &[PathBuf]) -> Vec<diagnose::Finding> {
    let inp = inputs::load(files, &[], inputs::Limits::default());
    let case = correlate::correlate(&inp.sides);
    diagnose::diagnose(&case)
}

/// Every folder of examples/ with a scenario file, sorted.
pub fn example_dirs() -> Vec<PathBuf> {
    let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"));
    let mut v: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("examples/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("scenario.conf").exists())
        .collect();
    v.sort();
    v
}

/// The files of an example folder whose extension is one of `exts`, sorted.
pub fn files_with(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| exts.iter().any(|e| x == *e)))
        .collect();
    v.sort();
    v
}

/// Fails with every wrong case listed at once.
pub fn assert_all_right(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
