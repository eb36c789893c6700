# Libreswan (pluto) per-gateway setup. Sourced by run-scenario.
PLUTO=/usr/libexec/ipsec/pluto

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
    local v="ikev2=insist" setup=""
    if [ "$IKE" = 1 ]; then v="ikev2=no"; setup="ikev1-policy=accept"; fi
    cat > "$d/ipsec.conf" <<EOC
config setup
	$setup
	plutodebug=none
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
	keyingtries=1
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
    bg "pluto-$side" "$side" "$RUN/$side/pluto.stderr" \
        "$PLUTO" --nofork --config "$d/ipsec.conf" --rundir "$d/run" --nssdir "$d/nss" \
        --secretsfile "$d/ipsec.secrets" --ipsecdir "$d/ipsec.d" --logfile "$2"
    for _ in $(seq 100); do [ -S "$d/run/pluto.ctl" ] && break; sleep 0.1; done
    [ -S "$d/run/pluto.ctl" ] || { echo "pluto on $side did not start" >&2; cat "$d/pluto.stderr" >&2; return 1; }
    nsx "$side" ipsec auto --config "$d/ipsec.conf" --ctlsocket "$d/run/pluto.ctl" --add sg >> "$RUN/$side/add.txt" 2>&1 \
        || { echo "ipsec auto --add failed on $side:" >&2; cat "$RUN/$side/add.txt" >&2; return 1; }
}

lsw_up() { # SIDE OUTFILE
    local d="$RUN/$1"
    timeout "${UP_TIMEOUT:-25}" ip netns exec "$(ns "$1")" ipsec auto --config "$d/ipsec.conf" \
        --ctlsocket "$d/run/pluto.ctl" --up sg > "$2" 2>&1
    echo $? > "$RUN/up.rc"
}
