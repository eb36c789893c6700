//! Address text exactly as tcpdump writes it.

use std::fmt::Write;

pub fn ipv4(b: &[u8]) -> String {
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// IPv6 text as tcpdump's `addrtostr6`: the longest run (≥ 2) of zero words becomes `::`,
/// and IPv4-compatible / -mapped addresses end in dotted quad.
pub fn ipv6(b: &[u8]) -> String {
    let w: Vec<u16> = (0..8).map(|i| u16::from_be_bytes([b[2 * i], b[2 * i + 1]])).collect();
    let (mut best, mut best_len, mut cur, mut cur_len) = (None, 0usize, None, 0usize);
    for (i, &x) in w.iter().enumerate() {
        if x == 0 {
            if cur.is_none() {
                cur = Some(i);
                cur_len = 1;
            } else {
                cur_len += 1;
            }
        } else if let Some(c) = cur.take() {
            if best.is_none() || cur_len > best_len {
                best = Some(c);
                best_len = cur_len;
            }
        }
    }
    if let Some(c) = cur {
        if best.is_none() || cur_len > best_len {
            best = Some(c);
            best_len = cur_len;
        }
    }
    if best_len < 2 {
        best = None;
    }
    let mut s = String::with_capacity(40);
    let mut i = 0;
    while i < 8 {
        if let Some(bb) = best {
            if i >= bb && i < bb + best_len {
                if i == bb {
                    s.push(':');
                }
                i += 1;
                continue;
            }
        }
        if i != 0 {
            s.push(':');
        }
        if i == 6 && best == Some(0) && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            s.push_str(&ipv4(&b[12..16]));
            return s;
        }
        let _ = write!(s, "{:x}", w[i]);
        i += 1;
    }
    if let Some(bb) = best {
        if bb + best_len == 8 {
            s.push(':');
        }
    }
    s
}

pub fn mac(b: &[u8]) -> String {
    let mut s = String::with_capacity(17);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{x:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v6_forms() {
        let a = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        assert_eq!(ipv6(&a("fe80::1")), "fe80::1");
        assert_eq!(ipv6(&a("ff02::5")), "ff02::5");
        assert_eq!(ipv6(&a("1:0:2:3:4:5:6:7")), "1:0:2:3:4:5:6:7");
        assert_eq!(ipv6(&a("::")), "::");
        assert_eq!(ipv6(&a("2001:db8::")), "2001:db8::");
        assert_eq!(ipv6(&a("::ffff:1.2.3.4")), "::ffff:1.2.3.4");
        assert_eq!(ipv6(&a("::1.2.3.4")), "::1.2.3.4");
    }
}
