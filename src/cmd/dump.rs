//! `ipsec-doctor dump`: tcpdump-identical lines for IPsec traffic.

use crate::keys::KeyRing;
use crate::print::esp::Secrets;
use crate::print::packet::{Options, Printer};
use crate::print::Out;
use crate::source;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

/// Reads every `--keys` file into one ring (`None` when no file was given), printing what was
/// skipped in each to standard error; the first file that cannot be read is the error.
pub fn load_keys(files: &[std::path::PathBuf]) -> Result<Option<Arc<KeyRing>>, String> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut ring = KeyRing::default();
    for f in files {
        let l = crate::keys::load(f)?;
        for w in l.warnings.iter().take(5) {
            eprintln!("ipsec-doctor: WARNING: {w}");
        }
        ring.extend(l.keys);
    }
    Ok(Some(Arc::new(ring)))
}

/// Prints every frame of `path`; returns an error message naming the file and the damage, after
/// printing everything before it. `keys` (from `--keys`) decrypt what they open; `-E` secrets
/// are looked up first.
pub fn run(
    path: &Path,
    opts: Options,
    count: Option<u64>,
    esp: Option<Secrets>,
    keys: Option<Arc<KeyRing>>,
) -> Result<(), String> {
    let name = path.display();
    let mut reader = source::open(path).map_err(|e| format!("{name}: {e}"))?;
    let stdout = io::stdout();
    let mut w = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut printer = Printer::new(opts);
    if let Some(s) = esp {
        printer.set_esp(s);
    }
    if let Some(k) = keys {
        printer.set_keys(k);
    }
    let mut out = Out::new(opts.vflag, opts.eflag);
    let mut n = 0u64;
    let mut result = Ok(());
    while count.is_none_or(|c| n < c) {
        match reader.next_frame() {
            None => break,
            Some(Ok(frame)) => {
                printer.print(&frame, &mut out);
                n += 1;
                for w in printer.warnings.drain(..) {
                    eprintln!("ipsec-doctor: WARNING: {w}");
                }
                let ok = w.write_all(out.as_str().as_bytes()).and_then(|_| w.write_all(b"\n"));
                if let Err(e) = ok {
                    if e.kind() == io::ErrorKind::BrokenPipe {
                        return Ok(());
                    }
                    return Err(format!("writing output: {e}"));
                }
            }
            Some(Err(e)) => {
                result = Err(format!("{name}: {e} (after {n} packets)"));
                break;
            }
        }
    }
    for (t, n) in &printer.unknown_link {
        eprintln!("ipsec-doctor: {name}: {n} packets of link type {t}, which we cannot decode");
    }
    if let Err(e) = w.flush() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            return Err(format!("writing output: {e}"));
        }
    }
    result
}
