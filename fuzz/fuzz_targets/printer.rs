//! The tcpdump printer on one frame, at every verbosity and with -e, over several link types.
#![no_main]
use ipsec_doctor::print::packet::{Options, Printer};
use ipsec_doctor::print::Out;
use ipsec_doctor::source::{Frame, Timestamp};
use ipsec_doctor::wire::link;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&k, frame)) = data.split_first() else { return };
    let lt = [
        link::ETHERNET,
        link::RAW,
        link::LINUX_SLL,
        link::NULL,
        link::PPP,
        link::LINUX_SLL2,
    ][k as usize % 6];
    let f = Frame {
        ts: Timestamp::default(),
        linktype: lt,
        wire_len: frame.len() as u32 + (k as u32 >> 4),
        data: frame,
        offset: 0,
    };
    for v in 0..=4 {
        let opts = Options {
            vflag: v,
            eflag: k & 1 == 1,
            ..Default::default()
        };
        let mut p = Printer::new(opts);
        let mut out = Out::new(v, opts.eflag);
        p.print(&f, &mut out);
        // tcpdump itself prints up to one comma per claimed SPI (65535): bound far above that.
        assert!(out.as_str().len() < (1 << 20) + 64 * frame.len());
    }
});
