# Live mode (LIVE_HOOK=...) helpers. Sourced by run-scenario.
# In live mode each daemon runs in its own private mount namespace where its *default* control
# socket is the one it listens on, so `nsenter -t <daemon pid> -n -m -- ipsec status` (or
# `swanctl --list-sas`) works with no options:
#   pluto:  a tmpfs on /run, the private run dir bind-mounted on /run/pluto (/run/pluto5 for 5.x),
#           the generated ipsec.conf / ipsec.secrets bind-mounted on /etc/ipsec.conf / .secrets
#   charon: the lab's private tmpfs on /run gets /run/charon.vici -> the private vici socket
#           (swanctl's default URI is unix:///var/run/charon.vici)
# Both get /run/sshd (sshd's privilege separation dir) for LIVE_SSH=yes.

# the pid file of the daemon on SIDE, or nothing
live_daemon_pid() { local f="$RUN/pids/$DLOG-$1.pid"; [ -f "$f" ] && cat "$f"; }

# the command prefix that runs a command "on" SIDE (space-separated words, no quoting)
live_exec_prefix() { # SIDE
    local pid; pid=$(live_daemon_pid "$1")
    if [ -z "$pid" ]; then echo "ip netns exec $(ns "$1")"; return; fi
    if is_lsw; then
        echo "nsenter -t $pid -n -m --"
    else   # the unpacked / built swanctl is not on PATH
        echo "nsenter -t $pid -n -m -- env PATH=$(dirname "$SW_SWANCTL"):/usr/sbin:/usr/bin:/sbin:/bin"
    fi
}

# LIVE_SSH=yes: a real sshd for SIDE inside its gateway namespaces (net + the daemon's mount
# namespace), on SIDE's external address port 22; host key, client key, authorized_keys and
# known_hosts are generated into $RUN/ssh. Its pid goes to $RUN/pids (killed at teardown).
live_sshd() { # SIDE ADDR
    local side="$1" addr="$2" s="$RUN/ssh" pid sshd
    sshd=$(command -v sshd || echo /usr/sbin/sshd)
    [ -x "$sshd" ] || { echo "live mode: LIVE_SSH=yes needs sshd (package openssh-server)" >&2; return 1; }
    mkdir -p "$s"; chmod 700 "$s"
    ssh-keygen -q -t ed25519 -N '' -C ipd-lab-host -f "$s/host_key" || return 1
    ssh-keygen -q -t ed25519 -N '' -C ipd-lab-client -f "$s/id_client" || return 1
    cp "$s/id_client.pub" "$s/authorized_keys"
    echo "$addr $(cut -d' ' -f1,2 "$s/host_key.pub")" > "$s/known_hosts"
    local path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    is_lsw || path="$(dirname "$SW_SWANCTL"):$path"
    cat > "$s/sshd_config" <<EOC
ListenAddress $addr
Port 22
HostKey $s/host_key
PidFile none
AuthorizedKeysFile $s/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
UseDNS no
SetEnv PATH=$path
EOC
    pid=$(live_daemon_pid "$side")
    if [ -n "$pid" ]; then
        nsenter -t "$pid" -n -m -- "$sshd" -D -e -f "$s/sshd_config" > "$s/sshd.log" 2>&1 &
    else   # no daemon (responder-down): a private mount namespace of its own for /run/sshd
        ip netns exec "$(ns "$side")" unshare -m --propagation private \
            sh -c 'mount -t tmpfs ipd-run /run && mkdir -p /run/sshd && exec "$@"' sh \
            "$sshd" -D -e -f "$s/sshd_config" > "$s/sshd.log" 2>&1 &
    fi
    echo $! > "$RUN/pids/sshd-$side.pid"
    local p; p=$(cat "$RUN/pids/sshd-$side.pid")
    for _ in $(seq 50); do
        nsx "$side" ss -Hltn "sport = :22" 2>/dev/null | grep -q . && return 0
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    echo "sshd on $side did not start:" >&2; cat "$s/sshd.log" >&2; return 1
}

# export the hook's environment, run LIVE_HOOK, return its exit status
live_run_hook() {
    local sg2_ext=$SG2_EXT
    export IPD_SG1_EXEC IPD_SG2_EXEC IPD_CONN IPD_PING_SRC IPD_PING_DST IPD_NS_PREFIX IPD_EXPECTED_CAUSE IPD_OUT
    export IPD_SCENARIO="$NAME" IPD_DAEMON="$DAEMON" IPD_FAMILY="$FAMILY"
    IPD_SG1_EXEC=$(live_exec_prefix sg1)
    IPD_SG2_EXEC=$(live_exec_prefix sg2)
    if is_lsw; then IPD_CONN=sg; else IPD_CONN=net; fi
    IPD_PING_SRC=$SG1_INT IPD_PING_DST=$C2
    IPD_NS_PREFIX=$NS_PREFIX IPD_EXPECTED_CAUSE=$EXPECTED_CAUSE
    IPD_OUT=$(cd "$OUT" && pwd)
    if [ "${LIVE_SSH:-no}" = yes ]; then
        live_sshd sg2 "$SG2_EXT" || return 1
        local s="$RUN/ssh"
        [ "$FAMILY" = 6 ] && sg2_ext="[$SG2_EXT]"
        export IPD_SG2_SSH="ssh:root@$sg2_ext"
        export IPD_SSH_OPTS="--ssh-option IdentityFile=$s/id_client --ssh-option UserKnownHostsFile=$s/known_hosts --ssh-option StrictHostKeyChecking=yes --ssh-option BatchMode=yes"
        export IPD_SSH_FROM="ip netns exec $(ns inet)"
        export IPD_SSH_KEY="$s/id_client" IPD_SSH_KNOWN_HOSTS="$s/known_hosts" IPD_SG2_ADDR="$SG2_EXT"
    fi
    log "live: running hook: $LIVE_HOOK"
    sh -c "$LIVE_HOOK"
}
