#!/bin/bash
# Makes xfrm-state.txt and xfrm-state-s.txt: what iproute2's `ip xfrm state` and `ip -s xfrm state`
# print for ESP SAs added with `ip xfrm state add`. This machine's kernel has no ESP
# (CONFIG_INET_ESP unset: "Requested type not found"), so the kernel cannot store them; instead
# the XFRM_MSG_NEWSA messages that `ip xfrm state add` sends are captured with strace and given
# back to iproute2's own printer (`ip xfrm monitor file`, the same xfrm_state_print that
# `ip xfrm state` uses). A kernel's dump would add lines (anti-replay context, current lifetime).
# Needs root, strace, iproute2. Run from this folder.
set -euo pipefail
ns=ipdk-xfrm-$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
bin=$(mktemp)
add() {
    # The kernel refuses the SA (exit status 2): the message sent is what is wanted.
    { strace -e trace=sendmsg -e write=all ip -n "$ns" xfrm state add "$@" 2>&1 >/dev/null || true; } |
        sed -n 's/^ | [0-9a-f]\{5\}  \(.\{48\}\).*/\1/p' | tr -d ' \n' | xxd -r -p >>"$bin"
}
A=192.0.2.1 B=198.51.100.2
K16=0x000102030405060708090a0b0c0d0e0f
K20=0x101112131415161718191a1b1c1d1e1f20212223
K32=0x202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f
# AES-CBC with HMAC-SHA256-128, as strongSwan and Libreswan install it
add src $A dst $B proto esp spi 0xc1a2b3c4 reqid 1 mode tunnel auth-trunc 'hmac(sha256)' $K32 128 enc 'cbc(aes)' $K16
# HMAC-SHA1 given as plain auth: the kernel's default 96-bit truncation
add src $B dst $A proto esp spi 0xc5d6e7f8 reqid 1 mode tunnel auth 'hmac(sha1)' $K20 enc 'cbc(aes)' $K32
# 3DES with HMAC-MD5, UDP-encapsulated
add src $A dst $B proto esp spi 0x00001001 reqid 2 mode tunnel encap espinudp 4500 4500 0.0.0.0 auth 'hmac(md5)' $K16 enc 'cbc(des3_ede)' 0x000102030405060708090a0b0c0d0e0f1011121314151617
# AES-GCM-128 (key plus 4-byte salt)
add src $A dst $B proto esp spi 0x00002001 reqid 3 mode tunnel aead 'rfc4106(gcm(aes))' 0x000102030405060708090a0b0c0d0e0f10111213 128
# ChaCha20-Poly1305 (key plus 4-byte salt)
add src 2001:db8:a::1 dst 2001:db8:b::2 proto esp spi 0x00003001 reqid 4 mode tunnel aead 'rfc7539esp(chacha20,poly1305)' 0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223 128
# NULL encryption with HMAC-SHA512-256
add src $A dst $B proto esp spi 0x00004001 reqid 5 mode transport auth-trunc 'hmac(sha512)' 0x$(printf '%02x' $(seq 0 63)) 256 enc 'ecb(cipher_null)' ''
# HMAC-SHA256 cut to 96 bits, as Linux allows (and old Linux peers used)
add src $A dst $B proto esp spi 0x00005001 reqid 6 mode tunnel auth-trunc 'hmac(sha256)' $K32 96 enc 'cbc(aes)' 0x000102030405060708090a0b0c0d0e0f1011121314151617
# Extended sequence numbers (Libreswan's default with a Libreswan peer)
add src $A dst $B proto esp spi 0x00006001 reqid 7 mode tunnel flag esn replay-window 128 auth-trunc 'hmac(sha256)' $K32 128 enc 'cbc(aes)' $K32
add src $A dst $B proto esp spi 0x00007001 reqid 8 mode tunnel flag esn replay-window 128 aead 'rfc4106(gcm(aes))' 0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223 128
ip xfrm monitor file "$bin" >xfrm-state.txt
ip -s xfrm monitor file "$bin" >xfrm-state-s.txt
rm -f "$bin"
