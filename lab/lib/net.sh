# Topology helpers for the ipsec-doctor lab. Sourced by run-scenario.
#   client1 -- sg1 -- [nat] -- inet -- sg2 -- client2
# Every namespace is named "$NS_PREFIX-<role>" (NS_PREFIX starts with "ipd-").
# Interfaces on the gateways follow the write-up: eth0 internal, eth1 external.

ns() { echo "$NS_PREFIX-$1"; }
nsx() { local n="$1"; shift; ip netns exec "$(ns "$n")" "$@"; }

# Addresses (TEST-NET / 10.x for IPv4, 2001:db8::/32 for IPv6)
set_addresses() {
    if [ "${FAMILY:-4}" = 6 ]; then
        P=64
        C1=2001:db8:1::10;  SG1_INT=2001:db8:1::1
        SG1_EXT=2001:db8:a::1; INET_A=2001:db8:a::fe
        NAT_PUB=2001:db8:c::1; INET_C=2001:db8:c::fe
        INET_B=2001:db8:b::fe; SG2_EXT=2001:db8:b::2
        SG2_INT=2001:db8:2::1; C2=2001:db8:2::10
        NET1=2001:db8:1::/64; NET2=2001:db8:2::/64
        NET1_OTHER=2001:db8:11::/64; NET2_OTHER=2001:db8:12::/64
        PING=ping; IPT=ip6tables
    else
        P=24
        C1=10.1.0.10;  SG1_INT=10.1.0.1
        SG1_EXT=192.0.2.1; INET_A=192.0.2.254
        NAT_PUB=203.0.113.1; INET_C=203.0.113.254
        INET_B=198.51.100.254; SG2_EXT=198.51.100.2
        SG2_INT=10.2.0.1; C2=10.2.0.10
        NET1=10.1.0.0/24; NET2=10.2.0.0/24
        NET1_OTHER=10.11.0.0/24; NET2_OTHER=10.12.0.0/24
        PING=ping; IPT=iptables
    fi
    # the address sg2 sees for sg1
    if [ "${NAT:-no}" = yes ]; then SG1_SEEN=$NAT_PUB; else SG1_SEEN=$SG1_EXT; fi
}

# veth pair between two namespaces, checksum offload off on both ends
link() { # ns1 if1 ns2 if2
    ip link add "$2" netns "$(ns "$1")" type veth peer name "$4" netns "$(ns "$3")"
    nsx "$1" ethtool -K "$2" tx off rx off >/dev/null 2>&1 || true
    nsx "$3" ethtool -K "$4" tx off rx off >/dev/null 2>&1 || true
    nsx "$1" ip link set "$2" up
    nsx "$3" ip link set "$4" up
}

addr() { # ns if addr
    if [ "${FAMILY:-4}" = 6 ]; then
        nsx "$1" ip -6 addr add "$3/$P" dev "$2" nodad
    else
        nsx "$1" ip addr add "$3/$P" dev "$2"
    fi
}

defroute() { nsx "$1" ip -"${FAMILY:-4}" route add default via "$2"; }

topology_up() {
    local roles="c1 sg1 inet sg2 c2"
    [ "${NAT:-no}" = yes ] && roles="$roles nat"
    for r in $roles; do
        ip netns add "$(ns "$r")"
        echo "$(ns "$r")" >> "$RUN/netns"
        nsx "$r" ip link set lo up
        nsx "$r" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
            net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
            net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    done
    link c1 eth0 sg1 eth0
    link sg2 eth0 c2 eth0
    link inet eth2 sg2 eth1
    addr c1 eth0 "$C1"; addr sg1 eth0 "$SG1_INT"
    addr sg2 eth0 "$SG2_INT"; addr c2 eth0 "$C2"
    addr inet eth2 "$INET_B"; addr sg2 eth1 "$SG2_EXT"
    if [ "${NAT:-no}" = yes ]; then
        link sg1 eth1 nat eth0
        link nat eth1 inet eth1
        addr sg1 eth1 "$SG1_EXT"; addr nat eth0 "$INET_A"
        addr nat eth1 "$NAT_PUB"; addr inet eth1 "$INET_C"
        defroute nat "$INET_C"
        nsx nat "$IPT" -t nat -A POSTROUTING -o eth1 -j MASQUERADE
    else
        link sg1 eth1 inet eth1
        addr sg1 eth1 "$SG1_EXT"; addr inet eth1 "$INET_A"
    fi
    defroute sg1 "$INET_A"
    defroute sg2 "$INET_B"
    defroute c1 "$SG1_INT"
    defroute c2 "$SG2_INT"
    # the "internet" knows nothing of the private nets: nothing leaves the namespaces
    # (no default route in inet; 10.x / internal prefixes are unroutable there)
    for r in $roles; do nsx "$r" sysctl -qw net.ipv4.conf.all.rp_filter=0 >/dev/null; done
}

# Stop every recorded pid (tcpdump gets SIGINT so its pcap is complete), then delete
# the namespaces this run created.
topology_down() {
    local f p
    for f in "$RUN"/pids/tcpdump-*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f"); kill -INT "$p" 2>/dev/null
    done
    for f in "$RUN"/pids/tcpdump-*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f"); for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null; rm -f "$f"
    done
    for f in "$RUN"/pids/*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f"); kill -TERM "$p" 2>/dev/null
        for _ in $(seq 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null; rm -f "$f"
    done
    if [ -f "$RUN/netns" ]; then
        local n
        while read -r n; do
            # anything still running inside a namespace we created (started by us)
            for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
            ip netns del "$n" 2>/dev/null
        done < "$RUN/netns"
        rm -f "$RUN/netns"
    fi
}

# start a background process inside a namespace and record its pid
# bg NAME NSROLE LOGFILE cmd...
bg() {
    local name="$1" role="$2" log="$3"; shift 3
    mkdir -p "$RUN/pids"
    ip netns exec "$(ns "$role")" "$@" > "$log" 2>&1 &
    echo $! > "$RUN/pids/$name.pid"
}

capture_filter_ext() {
    # IKE_TCP=yes: RFC 8229 streams on TCP 4500 too
    [ "${IKE_TCP:-no}" = yes ] && printf 'tcp port 4500 or '
    if [ "${FAMILY:-4}" = 6 ]; then
        echo 'udp port 500 or udp port 4500 or esp or ip6 proto 44 or (icmp6 and ip6[40] < 128)'
    else
        echo 'udp port 500 or udp port 4500 or esp or (ip[6:2] & 0x1fff != 0) or icmp'
    fi
}
capture_filter_int() {
    if [ "${FAMILY:-4}" = 6 ]; then echo 'icmp6 and (ip6[40] == 128 or ip6[40] == 129)'; else echo 'icmp'; fi
}

# capture ROLE IF FILE FILTER
capture() {
    local role="$1" ifc="$2" file="$3" filter="$4" name="tcpdump-$1-$2"
    bg "$name" "$role" "$RUN/$name.err" tcpdump -i "$ifc" -n -p -U -s 0 -w "$file" "$filter"
    for _ in $(seq 50); do grep -q "listening on" "$RUN/$name.err" 2>/dev/null && return 0; sleep 0.1; done
    echo "tcpdump on $role $ifc did not start" >&2; cat "$RUN/$name.err" >&2; return 1
}
