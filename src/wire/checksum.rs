//! The Internet checksum (RFC 1071), big-endian words.

/// Adds `data` as big-endian 16-bit words to `acc` (an odd tail byte is padded with zero).
pub fn sum(data: &[u8], mut acc: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc = acc.wrapping_add(u16::from_be_bytes([c[0], c[1]]) as u32);
        if acc > 0xffff_0000 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
    }
    if let [last] = chunks.remainder() {
        acc = acc.wrapping_add((*last as u32) << 8);
    }
    acc
}

/// Folds and complements: 0 when the data (checksum field included) verifies.
pub fn fold(mut acc: u32) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The value the checksum field should have held (tcpdump's `in_cksum_shouldbe`).
pub fn should_be(field: u16, computed: u16) -> u16 {
    let mut s = field as u32 + computed as u32;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_verifies() {
        let h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(fold(sum(&h, 0)), 0);
        let mut bad = h;
        bad[10] = 0;
        bad[11] = 0;
        let c = fold(sum(&bad, 0));
        assert_eq!(c, 0xb861);
        assert_eq!(should_be(0, c), 0xb861);
    }
}
