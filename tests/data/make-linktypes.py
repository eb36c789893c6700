#!/usr/bin/env python3
"""Re-wraps the IP packets of a lab capture in other link layers (Linux SLL and SLL2, BSD
NULL/LOOP, raw IP, PPP, 802.1Q/QinQ, PPPoE session) so that dump's link decoders are compared
with tcpdump on each. Usage: make-linktypes.py SOURCE.pcap OUTDIR"""
import struct, sys, os

src, out = sys.argv[1], sys.argv[2]
data = open(src, 'rb').read()
assert data[:4] == b'\xd4\xc3\xb2\xa1', 'little-endian microsecond pcap expected'
recs, off = [], 24
while off + 16 <= len(data):
    ts, us, cap, orig = struct.unpack('<IIII', data[off:off + 16])
    frame = data[off + 16:off + 16 + cap]
    off += 16 + cap
    if frame[12:14] == b'\x08\x00':
        recs.append((ts, us, frame[:6], frame[6:12], frame[14:]))

def write(name, linktype, frames, big_endian=False):
    e = '>' if big_endian else '<'
    with open(os.path.join(out, name), 'wb') as f:
        f.write(struct.pack(e + 'IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, linktype))
        for ts, us, fr in frames:
            f.write(struct.pack(e + 'IIII', ts, us, len(fr), len(fr)))
            f.write(fr)

def each(fn):
    return [(ts, us, fn(i, dst, srcmac, ip)) for i, (ts, us, dst, srcmac, ip) in enumerate(recs)]

write('sll.pcap', 113, each(lambda i, d, s, ip: struct.pack('>HHH', 4 if i % 2 == 0 else 0, 1, 6) + s + b'\0\0' + b'\x08\x00' + ip))
write('sll2.pcap', 276, each(lambda i, d, s, ip: b'\x08\x00' + b'\0\0' + struct.pack('>I', 2) + struct.pack('>HBB', 1, 4 if i % 2 == 0 else 0, 6) + s + b'\0\0' + ip))
write('null.pcap', 0, each(lambda i, d, s, ip: struct.pack('<I', 2) + ip))
write('loop.pcap', 108, each(lambda i, d, s, ip: struct.pack('>I', 2) + ip))
write('raw.pcap', 101, each(lambda i, d, s, ip: ip))
write('ipv4.pcap', 228, each(lambda i, d, s, ip: ip), big_endian=True)
write('ppp.pcap', 9, each(lambda i, d, s, ip: b'\xff\x03\x00\x21' + ip))
write('vlan.pcap', 1, each(lambda i, d, s, ip: d + s + b'\x81\x00' + struct.pack('>H', 0x2000 | 42) + b'\x08\x00' + ip))
write('qinq.pcap', 1, each(lambda i, d, s, ip: d + s + b'\x88\xa8' + struct.pack('>H', 100) + b'\x81\x00' + struct.pack('>H', 0x1000 | 7) + b'\x08\x00' + ip))
write('pppoe.pcap', 1, each(lambda i, d, s, ip: d + s + b'\x88\x64' + struct.pack('>BBHH', 0x11, 0, 0x3b, len(ip) + 2) + b'\x00\x21' + ip))

# IPv6 extension headers in front of IKE/ESP: a lab IPv6 capture given as the third argument.
if len(sys.argv) > 3:
    d6 = open(sys.argv[3], 'rb').read()
    assert d6[:4] == b'\xd4\xc3\xb2\xa1'
    frames6, off = [], 24
    while off + 16 <= len(d6):
        ts, us, cap, orig = struct.unpack('<IIII', d6[off:off + 16])
        fr = d6[off + 16:off + 16 + cap]
        off += 16 + cap
        if fr[12:14] == b'\x86\xdd':
            frames6.append((ts, us, fr))

    def ext(kind, nxt, body):
        """An extension header: next header, length in 8-octet units minus one, body."""
        raw = bytes([nxt, 0]) + body
        raw += b'\x00' * (-len(raw) % 8)
        return bytes([raw[0], len(raw) // 8 - 1]) + raw[2:]

    def padn(n):
        return bytes([1, n - 2]) + b'\x00' * (n - 2) if n >= 2 else b'\x00'

    addr = bytes.fromhex('20010db8000000000000000000000002')
    variants = [
        lambda nh: [(0, ext(0, nh, padn(6)))],
        lambda nh: [(0, ext(0, 60, bytes([5, 2, 0, 0]) + padn(2))), (60, ext(60, nh, bytes([0x1e, 2, 0xab, 0xcd]) + padn(2)))],
        lambda nh: [(43, ext(43, nh, bytes([2, 0]) + b'\x00' * 4 + addr))],
        lambda nh: [(43, ext(43, nh, bytes([4, 0, 0, 0x1e]) + b'\x00\x00' + addr))],
        lambda nh: [(60, ext(60, nh, bytes([0xc9, 16]) + addr + padn(4)))],
        lambda nh: [(43, ext(43, nh, bytes([0, 1]) + b'\x00' * 4 + addr))],
    ]
    outf = []
    for i, (ts, us, fr) in enumerate(frames6):
        ip = fr[14:]
        nh, rest = ip[6], ip[40:]
        hdrs = variants[i % len(variants)](nh)
        chain = b''.join(h for _, h in hdrs)
        first = hdrs[0][0]
        new = bytearray(ip[:40])
        new[6] = first
        new[4:6] = struct.pack('>H', len(chain) + len(rest))
        outf.append((ts, us, fr[:14] + bytes(new) + chain + rest))
    write('ipv6-ext.pcap', 1, outf)
