//! The bundle a live session leaves: both captures, the logs, the up command's output, the state
//! snapshots and `manifest.json`, in a folder only its owner can read (0700, files 0600: it can
//! hold a network's addresses, and keys with `--keys`). `ipsec-doctor diagnose DIR` reads it.

use serde::Serialize;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The manifest's file name; its `files` say which files are state snapshots (not logs).
pub use crate::inputs::BUNDLE_MANIFEST as MANIFEST;

pub struct Bundle {
    pub dir: PathBuf,
}

impl Bundle {
    /// Creates `dir` with mode 0700; an existing folder must be empty (`-o .` must not make the
    /// user's folder private, nor mix a bundle into other files).
    pub fn create(dir: &Path) -> io::Result<Bundle> {
        if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is not empty; give -o a new folder", dir.display()),
            ));
        }
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        // An existing folder keeps its mode unless we set it.
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        Ok(Bundle { dir: dir.to_path_buf() })
    }

    /// A new file in the bundle, mode 0600.
    pub fn file(&self, name: &str) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(self.dir.join(name))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        io::Write::write_all(&mut self.file(name)?, bytes)
    }

    pub fn write_manifest(&self, m: &Manifest) -> io::Result<()> {
        let text = serde_json::to_string_pretty(m).map_err(io::Error::other)?;
        self.write(MANIFEST, format!("{text}\n").as_bytes())
    }
}

/// What was run, when, on what, and what each file is.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Always `ipsec-doctor bundle 1`: how `diagnose` knows the folder.
    pub format: &'static str,
    pub tool_version: &'static str,
    pub command_line: Vec<String>,
    pub started: String,
    pub ended: String,
    /// `duration`, `interrupted`, `verdict`, `captures-ended`, `unreachable`.
    pub stopped_by: String,
    pub gateways: Vec<GatewayEntry>,
    pub files: Vec<FileEntry>,
    /// The live engine's last verdict (cause id), for comparison with `diagnose DIR`.
    pub live_verdict: Option<String>,
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GatewayEntry {
    pub name: String,
    pub target: String,
    pub host: Option<String>,
    pub daemon: Option<String>,
    pub daemon_version: Option<String>,
    pub tcpdump: Option<String>,
    pub interface: String,
    pub filter: Option<String>,
    pub log: Option<String>,
    pub utc_offset: Option<String>,
    /// Gateway clock minus ours, in seconds, and its uncertainty (half the probe's round trip).
    pub clock_offset_s: Option<f64>,
    pub clock_uncertainty_s: Option<f64>,
    pub packets: u64,
    pub log_lines: u64,
    /// The capture was still running at this time (seconds since the epoch, gateway clock):
    /// silence after its last packet was seen, not missed.
    pub capture_until: Option<f64>,
}

/// One file of the bundle and what it is: `capture`, `log`, `up-output`, `ping-output`, `state`.
#[derive(Debug, Clone, Serialize)]
pub struct FileEntry {
    pub name: String,
    pub gateway: String,
    pub role: &'static str,
}

/// A pcap file written frame by frame (microsecond time stamps, as `tcpdump -w` writes them).
/// The header goes out once, with the stream's link type; a capture restarted after a lost
/// connection goes on in the same file.
pub struct PcapWriter {
    out: io::BufWriter<File>,
    linktype: Option<u32>,
}

impl PcapWriter {
    pub fn new(f: File) -> PcapWriter {
        PcapWriter {
            out: io::BufWriter::with_capacity(256 << 10, f),
            linktype: None,
        }
    }

    /// The file header, once: a capture that saw nothing is still a capture (of nothing).
    pub fn header(&mut self, linktype: u32) -> io::Result<()> {
        if self.linktype.is_some() {
            return Ok(());
        }
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&262_144u32.to_le_bytes());
        h.extend_from_slice(&linktype.to_le_bytes());
        io::Write::write_all(&mut self.out, &h)?;
        self.linktype = Some(linktype);
        Ok(())
    }

    pub fn write(&mut self, f: &crate::source::Frame<'_>) -> io::Result<()> {
        use io::Write;
        self.header(f.linktype)?;
        let mut r = [0u8; 16];
        r[0..4].copy_from_slice(&(f.ts.sec as u32).to_le_bytes());
        r[4..8].copy_from_slice(&(f.ts.nsec / 1000).to_le_bytes());
        r[8..12].copy_from_slice(&(f.data.len() as u32).to_le_bytes());
        r[12..16].copy_from_slice(&f.wire_len.to_le_bytes());
        self.out.write_all(&r)?;
        self.out.write_all(f.data)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        io::Write::flush(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_folder_and_files() {
        let dir = std::env::temp_dir().join(format!("ipd-bundle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let b = Bundle::create(&dir).unwrap();
        b.write("sg1-state-start.txt", b"### ip xfrm policy\n").unwrap();
        b.write_manifest(&Manifest {
            format: "ipsec-doctor bundle 1",
            tool_version: "0",
            command_line: vec![],
            started: String::new(),
            ended: String::new(),
            stopped_by: "duration".into(),
            gateways: vec![],
            files: vec![FileEntry {
                name: "sg1-state-start.txt".into(),
                gateway: "sg1".into(),
                role: "state",
            }],
            live_verdict: None,
            problems: vec![],
        })
        .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("sg1-state-start.txt")), 0o600);
        assert_eq!(mode(&dir.join(MANIFEST)), 0o600);
        assert_eq!(
            crate::inputs::bundle_not_logs(&dir),
            vec![dir.join(MANIFEST), dir.join("sg1-state-start.txt")]
        );
        assert!(Bundle::create(&dir).is_err(), "a folder with files in it");
        // Frames copied through the writer read back the same.
        let mut src = crate::source::open(Path::new("examples/healthy-ikev2/sg1.pcap")).unwrap();
        let mut w = PcapWriter::new(b.file("copy.pcap").unwrap());
        let mut n = 0;
        while let Some(Ok(f)) = src.next_frame() {
            w.write(&f).unwrap();
            n += 1;
        }
        w.flush().unwrap();
        let want = std::fs::read("examples/healthy-ikev2/sg1.pcap").unwrap();
        let got = std::fs::read(dir.join("copy.pcap")).unwrap();
        assert!(n > 0);
        assert_eq!(got[24..], want[24..], "records byte for byte");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
