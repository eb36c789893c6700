# strongSwan 5.9.8 or 6.0.x (charon + kernel-libipsec) per-gateway setup. Sourced by run-scenario.
# The debs are unpacked into lab/.cache/root (lab/fetch-strongswan); charon runs in a private
# mount namespace with that tree overlaid on /usr/lib and a private tmpfs on /run.
SW_ROOT="$LAB/.cache/root"

# DAEMON=strongswan6: strongSwan 6.0.x built by lab/build-strongswan6 into its own prefix
# ($STRONGSWAN6, default /opt/strongswan6). It finds its own plugins, so no /usr/lib overlay; the
# pid file is still /var/run/charon.pid, so each charon keeps a private tmpfs on /run.
SW_MOUNTS='mount -t overlay ipd-sw -o lowerdir="$0"/usr/lib:/usr/lib /usr/lib && mount -t tmpfs ipd-run /run && exec "$@"'
SW_CHARON=/usr/lib/ipsec/charon
SW_SWANCTL="$SW_ROOT/usr/sbin/swanctl"
SW_MAJOR=5
sw_select() { # DAEMON
    SW_SWANCTL="$SW_ROOT/usr/sbin/swanctl"
    if [ "$1" = strongswan6 ]; then
        local pre="${STRONGSWAN6:-/opt/strongswan6}"
        SW_ROOT="$pre" SW_CHARON="$pre/libexec/ipsec/charon" SW_SWANCTL="$pre/sbin/swanctl" SW_MAJOR=6
        SW_MOUNTS='mount -t tmpfs ipd-run /run && exec "$@"'
        [ -x "$SW_CHARON" ] && [ -x "$SW_SWANCTL" ] || {
            echo "strongSwan 6 not found under $pre: build it with lab/build-strongswan6 SRC $pre" >&2; return 1; }
    fi
}
# the plugins to load: 5.9.8's list; for 6.x those of it that were built
sw_plugins() {
    local want="random nonce openssl aes sha1 sha2 hmac kdf gmp pem pkcs1 pkcs8 x509 pubkey revocation constraints kernel-libipsec kernel-netlink socket-default vici"
    [ "${KEYS:-no}" = yes ] && [ "$SW_MAJOR" = 6 ] && want="$want save-keys"
    [ "$SW_MAJOR" = 6 ] || { echo "$want"; return; }
    local p out=""
    for p in $want; do [ -f "$SW_ROOT/lib/ipsec/plugins/libstrongswan-$p.so" ] && out="$out $p"; done
    echo "${out# }"
}

# KEYS=yes: the IKE and CHILD_SA keys go into the log (charon logs them at level 4 of the ike and
# chd groups: "Sk_ei secret => 32 bytes @ ..." then hex lines, "encryption initiator key => ...");
# mgr 2 adds the IKE SA manager's "checkout IKEv2 SA by message with SPIs <i>_i <r>_r" lines, the
# only plain-text lines with the IKE SPIs;
# with strongSwan 6 built with save-keys (lab/build-strongswan6), the save-keys plugin also writes
# Wireshark's ikev2_decryption_table / ikev1_decryption_table and esp_sa into $d/wireshark.
sw_key_levels() {
    [ "${KEYS:-no}" = yes ] || return 0
    printf '\n\t\t\tike = 4\n\t\t\tchd = 4\n\t\t\tmgr = 2'
}
sw_has_save_keys() { [ "$SW_MAJOR" = 6 ] && [ -f "$SW_ROOT/lib/ipsec/plugins/libstrongswan-save-keys.so" ]; }
sw_save_keys() { # DIR
    [ "${KEYS:-no}" = yes ] && sw_has_save_keys || return 0
    mkdir -p "$1/wireshark"
    printf '\n\t\tsave-keys {\n\t\t\tike = yes\n\t\t\tesp = yes\n\t\t\twireshark_keys = %s\n\t\t}' "$1/wireshark"
}

sw_exec() { # ROLE cmd...   (foreground)
    local role="$1"; shift
    ip netns exec "$(ns "$role")" unshare -m --propagation private sh -c "$SW_MOUNTS" "$SW_ROOT" "$@"
}

sw_conf() { # SIDE
    local side="$1" d="$RUN/$1"
    local sub; for sub in x509 x509ca x509ocsp x509aa x509ac x509crl pubkey private rsa ecdsa bliss pkcs8 pkcs12; do mkdir -p "$d/swanctl/$sub"; done
    cat > "$d/strongswan.conf" <<EOC
charon {
	load = $(sw_plugins)
	port = 500
	port_nat_t = 4500
	retransmit_tries = ${SW_RETRANSMIT_TRIES:-3}
	retransmit_timeout = 1.0
	retransmit_base = 1.4
	install_virtual_ip = no
	fragment_size = 1280
	plugins {
		vici { socket = unix://$d/charon.vici }
		kernel-libipsec { allow_peer_ts = yes }$(sw_save_keys "$d")
	}
	filelog {
		charon {
			path = $d/charon.log
			time_format = %b %e %T
			append = no
			default = 1
			ike_name = yes
			flush_line = yes$(sw_key_levels)
		}
	}
	syslog { daemon { default = -1 } }
}
swanctl {
	load = pem pkcs1 pkcs8 x509 openssl
}
EOC
    local auth=psk lcert="" sendcert="" rid="$R_ID" lid="$L_ID"
    if [ "$AUTH" = cert ]; then
        auth=pubkey
        local cert="${CERT_NAME:-$side}"   # run-scenario's certificate faults: sg1-expired, sg1-ca2, sg1-san (sg1's key)
        cp "$LAB/.cache/pki/ca.pem" "$d/swanctl/x509ca/"
        [ "$cert" = sg1-ca2 ] && cp "$LAB/.cache/pki/ca2.pem" "$d/swanctl/x509ca/"
        cp "$LAB/.cache/pki/$cert.pem" "$d/swanctl/x509/"
        cp "$LAB/.cache/pki/$side.key" "$d/swanctl/private/"
        lcert="certs = $cert.pem"
        sendcert="send_cert = always"
        lid="\"CN=$side.example.org\""; rid="\"$R_ID\""
    fi
    local frag=yes; [ "$FRAG" = no ] && frag=no
    local pfs_esp="$ESP_ALG"
    cat > "$d/swanctl/swanctl.conf" <<EOC
connections {
	sg {
		version = $IKE
		local_addrs = $L_ADDR
		remote_addrs = $R_ADDR
		encap = yes
		fragmentation = $frag
		proposals = $IKE_ALG
		rekey_time = 0
		dpd_delay = 0
		$sendcert
		local {
			auth = $auth
			id = $lid
			$lcert
		}
		remote {
			auth = $auth
			id = $rid
		}
		children {
			net {
				local_ts = $L_NET
				remote_ts = $R_NET
				esp_proposals = $pfs_esp
				mode = ${MODE:-tunnel}
				rekey_time = ${CHILD_REKEY:-0}
				start_action = none
			}
		}
	}
}
secrets {
	ike-1 {
		id-1 = ${L_ID#@}
		id-2 = ${R_ID#@}
		secret = "$PSK"
	}
}
EOC
}

sw_start() { # SIDE
    local side="$1" d="$RUN/$1"
    mkdir -p "$RUN/pids"
    local mounts="$SW_MOUNTS"
    # live mode: swanctl's default URI (unix:///var/run/charon.vici) reaches this charon; /run/sshd for LIVE_SSH
    # and, for the unpacked 5.9.8, the package's /etc (strongswan.conf, which swanctl reads) over /etc
    if [ -n "${LIVE_HOOK:-}" ]; then
        mounts="${SW_MOUNTS%exec \"\$@\"}mkdir -p /run/sshd && ln -s $d/charon.vici /run/charon.vici && "
        if [ "$SW_MAJOR" = 5 ]; then   # the package's, plus the plugins swanctl has here (no noise about the others)
            mkdir -p "$RUN/sw-etc"
            printf '%s\n' 'charon {' '	load_modular = yes' '	plugins {' '		include strongswan.d/charon/*.conf' '	}' '}' \
                'swanctl {' '	load = pem pkcs1 pkcs8 x509 openssl' '}' 'include strongswan.d/*.conf' > "$RUN/sw-etc/strongswan.conf"
            mounts="$mounts mount -t overlay ipd-sw-etc -o lowerdir=$RUN/sw-etc:$SW_ROOT/etc:/etc /etc && "
        fi
        mounts="$mounts exec \"\$@\""
    fi
    STRONGSWAN_CONF="$d/strongswan.conf" ip netns exec "$(ns "$side")" unshare -m --propagation private sh -c "$mounts" \
        "$SW_ROOT" "$SW_CHARON" > "$d/charon.stderr" 2>&1 &
    echo $! > "$RUN/pids/charon-$side.pid"
    for _ in $(seq 100); do [ -S "$d/charon.vici" ] && break; sleep 0.1; done
    [ -S "$d/charon.vici" ] || { echo "charon on $side did not start" >&2; cat "$d/charon.stderr" >&2; return 1; }
    SWANCTL_DIR="$d/swanctl" STRONGSWAN_CONF="$d/strongswan.conf" sw_exec "$side" "$SW_SWANCTL" --load-all --noprompt \
        --file "$d/swanctl/swanctl.conf" --uri "unix://$d/charon.vici" >> "$d/add.txt" 2>&1 \
        || { echo "swanctl --load-all failed on $side:" >&2; grep -v "opening directory" "$d/add.txt" >&2; return 1; }
}

sw_up() { # SIDE OUTFILE
    local d="$RUN/$1"
    STRONGSWAN_CONF="$d/strongswan.conf" timeout "${UP_TIMEOUT:-25}" \
        ip netns exec "$(ns "$1")" unshare -m --propagation private sh -c "$SW_MOUNTS" \
        "$SW_ROOT" "$SW_SWANCTL" --initiate --child net --timeout 20 --uri "unix://$d/charon.vici" > "$2" 2>&1
    echo $? > "$RUN/up.rc"
}
