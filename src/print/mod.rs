//! tcpdump-identical text for IPsec traffic (the `dump` command).
//!
//! Printers follow tcpdump 4.99.3's print-*.c closely in output, not in code: reading past the
//! captured bytes returns `Err(Trunc)`, which unwinds to the packet's top level where the
//! ` [|proto]` marker is added, as tcpdump's longjmp does.

use std::fmt;
use std::net::IpAddr;

pub mod addr;
pub mod esp;
pub mod isakmp;
pub mod packet;
pub mod tcp;
pub mod time;

/// Ran past the captured bytes (tcpdump's `nd_trunc_longjmp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trunc;

pub type PResult<T = ()> = Result<T, Trunc>;

/// The output line being built plus the printer options that travel with it.
#[derive(Debug, Default)]
pub struct Out {
    buf: String,
    /// Protocol named in the truncation marker, as tcpdump's `ndo_protocol`.
    pub proto: &'static str,
    /// `-v` count.
    pub vflag: u8,
    /// `-e`: print link-level headers.
    pub eflag: bool,
}

impl Out {
    pub fn new(vflag: u8, eflag: bool) -> Out {
        Out {
            buf: String::with_capacity(256),
            proto: "",
            vflag,
            eflag,
        }
    }

    pub fn push_str(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    pub fn push(&mut self, c: char) {
        self.buf.push(c);
    }

    /// tcpdump's `nd_print_trunc`.
    pub fn trunc_marker(&mut self) {
        self.buf.push_str(" [|");
        self.buf.push_str(self.proto);
        self.buf.push(']');
    }

    pub fn as_str(&self) -> &str {
        &self.buf
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.proto = "";
    }
}

impl fmt::Write for Out {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.buf.push_str(s);
        Ok(())
    }
}

/// The IP addresses of the packet an upper-layer printer is working on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpEnds {
    pub src: IpAddr,
    pub dst: IpAddr,
}

pub fn get_u8(b: &[u8], off: usize) -> PResult<u8> {
    b.get(off).copied().ok_or(Trunc)
}

pub fn get_bytes(b: &[u8], off: usize, len: usize) -> PResult<&[u8]> {
    let end = off.checked_add(len).ok_or(Trunc)?;
    b.get(off..end).ok_or(Trunc)
}

pub fn get_be_u16(b: &[u8], off: usize) -> PResult<u16> {
    let s = get_bytes(b, off, 2)?;
    Ok(u16::from_be_bytes([s[0], s[1]]))
}

pub fn get_be_u24(b: &[u8], off: usize) -> PResult<u32> {
    let s = get_bytes(b, off, 3)?;
    Ok(u32::from_be_bytes([0, s[0], s[1], s[2]]))
}

pub fn get_be_u32(b: &[u8], off: usize) -> PResult<u32> {
    let s = get_bytes(b, off, 4)?;
    Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// `true` when `len` bytes from `off` were captured (tcpdump's `ND_TTEST_LEN`).
pub fn have(b: &[u8], off: usize, len: usize) -> bool {
    off.checked_add(len).is_some_and(|end| end <= b.len())
}
