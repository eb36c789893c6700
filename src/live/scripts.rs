//! The fixed POSIX sh scripts run on a gateway, as `sh -c SCRIPT sh ARG...`.
//!
//! Each script is a constant; what varies (interface, filter, path, connection) reaches it only
//! as positional parameters, which the shell never parses as code. Only `sh` and the usual base
//! tools are needed on the gateway, next to its tcpdump and IKE daemon.

/// Runs `"$@"` until our end of its standard input closes (we stop, we are killed, or the ssh
/// connection drops), then stops it with SIGTERM (SIGKILL 3 s later, if need be). When the
/// command ends by itself, the leash's `cat` stays until our end closes, which we do next. Standard input is the one
/// stop signal every transport carries: ssh, `ip netns exec`, `docker exec -i` and
/// `kubectl exec -i` all forward its end. SIGTERM, not SIGINT: a non-interactive shell starts
/// background commands with SIGINT ignored. tcpdump takes SIGTERM as it takes SIGINT.
pub const LEASH: &str = r####"exec 3<&0
"$@" </dev/null &
p=$!
{ cat <&3 >/dev/null; kill -TERM "$p" 2>/dev/null; n=0
  while kill -0 "$p" 2>/dev/null && [ "$n" -lt 15 ]; do sleep 0.2 2>/dev/null || sleep 1; n=$((n+1)); done
  kill -KILL "$p" 2>/dev/null; } >/dev/null 2>&1 &
w=$!
exec 3<&-
wait "$p" 2>/dev/null
r=$?
kill "$w" 2>/dev/null
exit "$r""####;

/// What is on the gateway, as `key=value` lines: the clock, tcpdump, the IKE daemon running in
/// this network namespace (pid, arguments, strongSwan's config), its tools and versions, the
/// systemd unit running it, the candidate log files, and the ssh connection we came in on.
/// `$1`: an interface to check (or empty).
pub const PROBE: &str = r####"echo "date=$(date +%s.%N)"
echo "tz=$(date +%z)"
echo "uid=$(id -u)"
echo "host=$(cat /proc/sys/kernel/hostname 2>/dev/null)"
echo "ssh_connection=${SSH_CONNECTION:-}"
if command -v tcpdump >/dev/null 2>&1; then
  echo "tcpdump=$(tcpdump --version 2>&1 | head -n 1)"
  id -u tcpdump >/dev/null 2>&1 && echo "tcpdump_user=yes"
fi
me=$(readlink /proc/self/ns/net 2>/dev/null)
for d in /proc/[0-9]*; do
  [ -r "$d/cmdline" ] || continue
  exe=$(tr '\0' '\n' < "$d/cmdline" 2>/dev/null | head -n 1)
  case "${exe##*/}" in pluto|charon|charon-systemd) ;; *) continue ;; esac
  [ "$(readlink "$d/ns/net" 2>/dev/null)" = "$me" ] || continue
  echo "daemon_pid=${d#/proc/}"
  tr '\0' '\n' < "$d/cmdline" | sed 's/^/daemon_arg=/'
  tr '\0' '\n' < "$d/environ" 2>/dev/null | sed -n 's/^STRONGSWAN_CONF=/strongswan_conf=/p'
  break
done
command -v ipsec >/dev/null 2>&1 && echo "ipsec_version=$(ipsec --version 2>&1 | grep -v '^$' | head -n 1)"
command -v swanctl >/dev/null 2>&1 && echo "swanctl_version=$(swanctl --version 2>&1 | head -n 1)"
command -v journalctl >/dev/null 2>&1 && echo "journalctl=yes"
if command -v systemctl >/dev/null 2>&1; then
  for u in ipsec strongswan strongswan-starter strongswan-swanctl; do
    [ "$(systemctl is-active "$u" 2>/dev/null)" = active ] && echo "unit=$u"
  done
fi
for f in /etc/ipsec.conf; do
  [ -r "$f" ] && sed -n 's/^[[:space:]]*logfile[[:space:]]*=[[:space:]]*/ipsec_conf_logfile=/p' "$f"
done
for f in /var/log/pluto.log /var/log/charon.log /var/log/auth.log /var/log/secure /var/log/syslog /var/log/daemon.log /var/log/messages; do
  [ -r "$f" ] && echo "logfile=$f"
done
if [ -n "$1" ] && [ "$1" != any ]; then   # any: tcpdump's pseudo-interface, no link
  echo "iface=$(ip -o link show dev "$1" 2>&1 | head -n 1)"
fi
exit 0"####;

/// The filelog paths in a strongSwan config: `path = FILE` (5.7+) and `FILE {` (older) lines.
/// `$@`: the config files to read.
pub const CHARON_FILELOGS: &str = r####"for f in "$@"; do
  [ -r "$f" ] || continue
  sed -n -e 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*\(\/[^[:space:]]*\).*/path=\1/p' \
    -e 's/^[[:space:]]*\(\/[^[:space:]{]*\)[[:space:]]*{.*/path=\1/p' "$f"
done
exit 0"####;

/// The gateway's state, section by section (`### command`): the daemon's status, the kernel's
/// SAs (keys removed unless `$1` is `keys`) and policies, routes, interfaces with their MTUs,
/// and the firewall with its counters. `$2`: the daemon (`pluto` or `charon`).
pub const STATE: &str = r####"keys=$1
daemon=$2
run() { echo "### $*"; "$@" 2>&1; echo "### exit $?"; }
nokeys() { sed -E 's/^([[:space:]]*(auth|auth-trunc|enc|aead|comp)[[:space:]]+[^[:space:]]+[[:space:]]+)0x[0-9a-fA-F]+/\1[key removed: --keys keeps it]/'; }
case "$daemon" in
  pluto) run ipsec status; run ipsec whack --trafficstatus ;;
  charon)
    if command -v swanctl >/dev/null 2>&1; then run swanctl --list-sas; run swanctl --list-conns
    else run ipsec statusall; fi ;;
esac
echo "### ip -s xfrm state"
if [ "$keys" = keys ]; then ip -s xfrm state 2>&1; else ip -s xfrm state 2>&1 | nokeys; fi
echo "### exit 0"
run ip xfrm policy
run ip -o link
run ip -o addr
run ip route show table all
run ip -6 route show table all
command -v iptables-save >/dev/null 2>&1 && run iptables-save -c
command -v ip6tables-save >/dev/null 2>&1 && run ip6tables-save -c
command -v nft >/dev/null 2>&1 && run nft list ruleset
exit 0"####;

/// `argv` running `script` with the given positional parameters.
pub fn argv(script: &str, args: &[String]) -> Vec<String> {
    let mut v = vec!["sh".to_string(), "-c".to_string(), script.to_string(), "sh".to_string()];
    v.extend(args.iter().cloned());
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    #[test]
    fn scripts_parse_in_posix_sh() {
        for s in [LEASH, PROBE, CHARON_FILELOGS, STATE] {
            let out = Command::new("sh").args(["-n", "-c", s]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }

    #[test]
    fn leash_stops_the_command_when_stdin_closes() {
        let mut c = Command::new("sh")
            .args(argv(LEASH, &["sleep".into(), "30".into()]).iter().skip(1))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let t0 = Instant::now();
        drop(c.stdin.take());
        let st = c.wait().unwrap();
        assert!(t0.elapsed() < Duration::from_secs(5), "took {:?}", t0.elapsed());
        assert!(!st.success(), "sleep was killed, not finished");
    }

    #[test]
    fn leash_passes_output_and_status_through() {
        let mut c = Command::new("sh")
            .args(
                argv(LEASH, &["sh".into(), "-c".into(), "echo hi; exit 3".into()])
                    .iter()
                    .skip(1),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Our end stays open: closing it would stop the command.
        let _input = c.stdin.take();
        let mut out = Vec::new();
        std::io::Read::read_to_end(c.stdout.as_mut().unwrap(), &mut out).unwrap();
        assert_eq!(c.wait().unwrap().code(), Some(3));
        assert_eq!(out, b"hi\n");
    }

    #[test]
    fn charon_filelogs_finds_both_forms() {
        let dir = std::env::temp_dir().join(format!("ipd-filelog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("strongswan.conf");
        let mut w = std::fs::File::create(&f).unwrap();
        writeln!(w, "charon {{\n filelog {{\n  charon {{\n   path = /var/log/charon.log\n  }}\n  /var/log/old.log {{\n  }}\n }}\n}}").unwrap();
        let out = Command::new("sh")
            .args(argv(CHARON_FILELOGS, &[f.display().to_string()]).iter().skip(1))
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "path=/var/log/charon.log\npath=/var/log/old.log\n"
        );
    }
}
