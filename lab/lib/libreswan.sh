# Libreswan (pluto) per-gateway setup. Sourced by run-scenario.
# DAEMON=libreswan: Debian's 4.10 (ipsec/pluto on PATH). DAEMON=libreswan5: Libreswan 5.x built
# by lab/build-libreswan5 into its own prefix ($LIBRESWAN5, default /opt/libreswan5), always
# called by full path; its config uses keyexchange= (not ikev2=), no keyingtries= (ignored in 5.x)
# and `ipsec add` / `ipsec up` instead of the deprecated `ipsec auto --add/--up`.
PLUTO=/usr/libexec/ipsec/pluto
IPSEC=ipsec
LSW_MAJOR=4
LSW_DEFAULT_RUNDIR=/run/pluto   # where `ipsec whack` looks for pluto.ctl with no --ctlsocket
lsw_select() { # DAEMON
    if [ "$1" = libreswan5 ]; then
        local pre="${LIBRESWAN5:-/opt/libreswan5}"
        PLUTO="$pre/libexec/ipsec/pluto"; IPSEC="$pre/sbin/ipsec"; LSW_MAJOR=5; LSW_DEFAULT_RUNDIR=/run/pluto5
        [ -x "$PLUTO" ] && [ -x "$IPSEC" ] || {
            echo "Libreswan 5 not found under $pre: build it with lab/build-libreswan5 SRC $pre" >&2; return 1; }
    fi
}

# KEYS=yes: pluto logs its keys: with "private" it writes the IKE SA keys in tcpdump -E form
# ("ikev2 I 0x<ispi> 0x<rspi> hmac-sha2-256:0x... aes256-cbc:0x...") once the IKE SA is
# established (never for an IKE SA whose authentication fails), and "ESP enckey:" / "ESP authkey:"
# hex dumps of each child SA just before it goes to the kernel. ("crypt" adds nothing useful: the
# derived keys stay inside NSS, only their references are logged, and the log grows 50-fold.)
lsw_debug() {
    if [ "${KEYS:-no}" = yes ]; then echo "${LSW_KEYS_DEBUG:-\"all private\"}"; else echo none; fi
}

# lsw_conf SIDE  -> writes $RUN/SIDE/{ipsec.conf,ipsec.secrets,nss}
# uses: SIDE-specific vars computed by run-scenario (L_ADDR R_ADDR L_NET R_NET L_ID R_ID IKE_ALG ESP_ALG PFS PSK FRAG
#       MODE CERT_NAME LEFT_ID_FQDN)
lsw_conf() {
    local side="$1" d="$RUN/$1"
    mkdir -p "$d/run" "$d/nss" "$d/ipsec.d"
    certutil -N -d "sql:$d/nss" --empty-password
    local auth="authby=secret" idl="leftid=$L_ID" idr="rightid=$R_ID" certs=""
    if [ "$AUTH" = cert ]; then
        local pki="$LAB/.cache/pki"
        local cert="${CERT_NAME:-$side}"
        certutil -A -d "sql:$d/nss" -n ipd-ca -t "CT,," -a -i "$pki/ca.pem"
        # a certificate from the second CA: its own CA goes into this side's db only (not trusted by the peer)
        [ "$cert" = sg1-ca2 ] && certutil -A -d "sql:$d/nss" -n ipd-ca2 -t "CT,," -a -i "$pki/ca2.pem"
        pk12util -i "$pki/$cert.p12" -d "sql:$d/nss" -W "" >/dev/null
        auth="authby=rsasig"
        idl="leftid=%fromcert"
        [ "${LEFT_ID_FQDN:-no}" = yes ] && idl="leftid=$L_ID"
        idr="rightid=\"$R_ID\""
        case "$R_ID" in @*) idr="rightid=$R_ID" ;; esac
        certs="leftcert=$cert
	leftsendcert=always
	rightca=%same"
    fi
    local v="ikev2=insist" setup="" tries="keyingtries=1"
    if [ "$IKE" = 1 ]; then v="ikev2=no"; setup="ikev1-policy=accept"; fi
    if [ "$LSW_MAJOR" = 5 ]; then
        v="keyexchange=ikev2"; [ "$IKE" = 1 ] && v="keyexchange=ikev1"
        tries=""   # 5.x ignores keyingtries= (with a warning)
        setup="$setup
	dumpdir=$d/run"   # else: warning: chdir("/run/pluto5") to dumpdir failed
    fi
    # IKE_TCP=yes: RFC 8229 (IKE and ESP over TCP 4500) only; the responder listens on TCP 4500
    local tcp=""
    if [ "${IKE_TCP:-no}" = yes ]; then
        setup="$setup
	listen-tcp=yes"
        tcp="enable-tcp=yes
	tcp-remoteport=4500"
    fi
    cat > "$d/ipsec.conf" <<EOC
config setup
	$setup
	plutodebug=$(lsw_debug)
	logtime=yes
	logappend=no

conn sg
	left=$L_ADDR
	right=$R_ADDR
	leftsubnet=$L_NET
	rightsubnet=$R_NET
	$idl
	$idr
	$auth
	$certs
	$v
	type=${MODE:-tunnel}
	ike=$IKE_ALG
	esp=$ESP_ALG
	pfs=$PFS
	fragmentation=$FRAG
	retransmit-timeout=${RETRANSMIT_TIMEOUT:-10s}
	$tries
	$tcp
	auto=add
EOC
    if [ "$AUTH" = psk ]; then
        echo "$L_ID $R_ID : PSK \"$PSK\"" > "$d/ipsec.secrets"
    else
        echo ": RSA \"$side\"" > "$d/ipsec.secrets"
    fi
    chmod 600 "$d/ipsec.secrets"
}

lsw_start() { # SIDE LOG
    local side="$1" d="$RUN/$1"
    local wrap=()
    if [ -n "${LIVE_HOOK:-}" ]; then
        # live mode: a private mount namespace where the default control socket is this pluto's
        # (tmpfs on /run, the run dir on /run/pluto; the generated config on /etc/ipsec.conf)
        local m="mount -t tmpfs ipd-run /run && mkdir -p /run/sshd $LSW_DEFAULT_RUNDIR && mount --bind $d/run $LSW_DEFAULT_RUNDIR"
        local f; for f in ipsec.conf ipsec.secrets; do
            [ -f "/etc/$f" ] && m="$m && mount --bind $d/$f /etc/$f"
        done
        wrap=(unshare -m --propagation private sh -c "$m && exec \"\$@\"" sh)
    fi
    # IKE_TCP=yes: this kernel has no espintcp (CONFIG_INET_ESPINTCP), which frames pluto's TCP
    # messages with their RFC 8229 length; lib/espintcp-shim.c does that in pluto's process.
    local pre=()
    if [ "${IKE_TCP:-no}" = yes ]; then
        [ -f "$RUN/espintcp-shim.so" ] || gcc -O2 -shared -fPIC -o "$RUN/espintcp-shim.so" \
            "$LAB/lib/espintcp-shim.c" -ldl || { echo "cannot build lib/espintcp-shim.c (gcc)" >&2; return 1; }
        pre=(env "LD_PRELOAD=$RUN/espintcp-shim.so")
    fi
    bg "pluto-$side" "$side" "$RUN/$side/pluto.stderr" \
        "${wrap[@]}" "${pre[@]}" "$PLUTO" --nofork --config "$d/ipsec.conf" --rundir "$d/run" --nssdir "$d/nss" \
        --secretsfile "$d/ipsec.secrets" --ipsecdir "$d/ipsec.d" --logfile "$2"
    for _ in $(seq 100); do [ -S "$d/run/pluto.ctl" ] && break; sleep 0.1; done
    [ -S "$d/run/pluto.ctl" ] || { echo "pluto on $side did not start" >&2; cat "$d/pluto.stderr" >&2; return 1; }
    if [ "$LSW_MAJOR" = 5 ]; then
        nsx "$side" "$IPSEC" add --config "$d/ipsec.conf" --ctlsocket "$d/run/pluto.ctl" sg >> "$RUN/$side/add.txt" 2>&1
    else
        nsx "$side" "$IPSEC" auto --config "$d/ipsec.conf" --ctlsocket "$d/run/pluto.ctl" --add sg >> "$RUN/$side/add.txt" 2>&1
    fi || { echo "adding the connection failed on $side:" >&2; cat "$RUN/$side/add.txt" >&2; return 1; }
}

lsw_up() { # SIDE OUTFILE
    local d="$RUN/$1"
    if [ "$LSW_MAJOR" = 5 ]; then   # no `ipsec auto` in 5.x: `ipsec up` (whack --initiate)
        timeout "${UP_TIMEOUT:-25}" ip netns exec "$(ns "$1")" "$IPSEC" up --ctlsocket "$d/run/pluto.ctl" sg > "$2" 2>&1
    else
        timeout "${UP_TIMEOUT:-25}" ip netns exec "$(ns "$1")" "$IPSEC" auto --config "$d/ipsec.conf" \
            --ctlsocket "$d/run/pluto.ctl" --up sg > "$2" 2>&1
    fi
    echo $? > "$RUN/up.rc"
}
