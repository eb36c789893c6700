use clap::{ArgAction, CommandFactory, Parser, Subcommand};
use ipsec_doctor::cmd;
use ipsec_doctor::cmd::capture_filter;
use ipsec_doctor::print::packet::Options;
use ipsec_doctor::print::time::TimeFormat;
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

mod tcpdump_args;

const EXIT_STATUS: &str = "Exit status: 0 the tunnel is healthy, 1 a problem was found, 2 the input could not be used \
(with --json, an {\"error\": {...}} object on standard output says why) or cannot show what happened (the \
report's first finding is `inconclusive` and says what to bring).";

const DOCS: &str = "Cause ids and what to do about each: docs/causes.md; the --json format: docs/json.md and \
docs/diagnose.schema.json (in the source repository).";

fn top_after_help() -> String {
    format!("{EXIT_STATUS}\n\nCapture with the command that `ipsec-doctor capture-filter` prints.\n{DOCS}")
}

fn diagnose_after_help() -> String {
    format!(
        "Capture on both gateways at once, on the interface that carries IKE and ESP, keeping IP fragments and \
ICMP errors (`ipsec-doctor capture-filter --peer ADDR` restricts it to one peer):\n  \
tcpdump -i EXT_IF -n -p -s 0 -w \"$(hostname -s).pcap\" '{}'\n\n{EXIT_STATUS}\n\n{DOCS}",
        capture_filter::external(None, false)
    )
}

#[derive(Parser)]
#[command(
    name = "ipsec-doctor",
    version,
    about = "Tells why an IPsec tunnel fails, from tcpdump captures and IKE logs",
    long_about = "Tells why an IPsec tunnel fails, from tcpdump captures and IKE logs.\n\n\
`diagnose` reads both gateways' captures and IKE daemon logs (Libreswan/Openswan pluto, strongSwan \
charon) and names the failure with its evidence and the next step; `dump` prints IKE, NAT-T, ESP and \
AH packets exactly as tcpdump 4.99.3 does; `capture-filter` prints the tcpdump command that records \
what diagnosis needs.",
    after_help = top_after_help()
)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Say why a tunnel fails, from both gateways' captures and logs (files or folders)
    #[command(after_help = diagnose_after_help())]
    Diagnose {
        /// Capture files (pcap, pcapng), IKE daemon logs, or folders holding them
        #[arg(required_unless_present = "side")]
        paths: Vec<PathBuf>,
        /// Name a gateway's files explicitly: NAME=FILE,FILE
        #[arg(long = "side", value_name = "NAME=FILE,FILE")]
        side: Vec<String>,
        /// Print the JSON report (docs/json.md)
        #[arg(long)]
        json: bool,
        /// Add the ladder of the IKE exchanges between the two gateways, lost messages marked
        #[arg(long)]
        timeline: bool,
        /// Also write the report as one self-contained HTML page with a ladder diagram
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Colour: auto (on a terminal, unless TERM=dumb or NO_COLOR is set), always, never
        #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
        color: String,
        /// IKE messages kept per capture
        #[arg(long, default_value_t = 100_000, value_name = "N")]
        max_ike: usize,
        /// ESP flows (SPI and direction) kept per capture
        #[arg(long, default_value_t = 65_536, value_name = "N")]
        max_flows: usize,
        /// Bytes held by IP fragment reassembly
        #[arg(long, default_value_t = 32 << 20, value_name = "BYTES")]
        max_frag_bytes: usize,
        /// Fragmented datagrams in flight
        #[arg(long, default_value_t = 8192, value_name = "N")]
        max_frag_datagrams: usize,
        /// Write the packets that prove the findings, from both captures, as pcapng
        #[arg(long, value_name = "FILE.pcapng")]
        evidence: Option<PathBuf>,
        /// Decrypt IKEv2 and ESP with the keys in FILE (repeatable): ip -s xfrm state output,
        /// Wireshark's esp_sa or ike*_decryption_table, a charon log at level 4, a pluto log with
        /// plutodebug=private, a tcpdump -E file; a log given so is read for its keys only.
        /// Key files and logs with key lines among the inputs are used without it (docs/keys.md)
        #[arg(long = "keys", value_name = "FILE")]
        keys: Vec<PathBuf>,
    },
    /// Print IKE, NAT-T, ESP and AH packets exactly as tcpdump 4.99.3 does
    #[command(
        after_help = "Other tcpdump flags (-X, -A, -w, -i, -s, -q, ...) and filter expressions are not \
supported: each is refused with a one-line message naming it. Exit status: 0 done, 2 the file could not be read."
    )]
    Dump {
        /// Capture file (pcap or pcapng); `-` reads standard input
        #[arg(short = 'r', value_name = "FILE")]
        file: PathBuf,
        /// Accepted for tcpdump compatibility: names are never resolved
        #[arg(short = 'n', action = ArgAction::Count)]
        numeric: u8,
        /// More detail, up to -vvvv
        #[arg(short = 'v', action = ArgAction::Count)]
        verbose: u8,
        /// Print the link-level header
        #[arg(short = 'e')]
        link: bool,
        /// Number the packets
        #[arg(short = '#', long = "number")]
        number: bool,
        /// Stop after COUNT packets
        #[arg(short = 'c', value_name = "COUNT", value_parser = tcpdump_args::check_count)]
        count: Option<u64>,
        /// Timestamp format: -t none, -tt epoch, -ttt delta, -tttt date, -ttttt since first
        #[arg(short = 't', action = ArgAction::Count)]
        time: u8,
        /// Decrypt ESP as tcpdump -E: `[spi@addr] algo:secret` entries separated by commas, or
        /// `file PATH` (one per line); algos des-cbc, 3des-cbc, aes128-cbc, aes192-cbc, aes256-cbc,
        /// with -hmac96 for a 12-byte ICV; `ikev2 I|R 0xISPI 0xRSPI authalg:key encalg:key` lines
        /// decrypt IKEv2 SK payloads. Beyond tcpdump: aes128-gcm16 (-gcm12, -gcm8; aes192,
        /// aes256) and chacha20-poly1305, the secret being the key and its 4-byte salt, the ICV
        /// checked (a mismatch prints [wrong key or corrupted packet ...])
        #[arg(short = 'E', value_name = "SPEC")]
        espsecret: Option<String>,
        /// Decrypt with the keys in FILE (repeatable): ip -s xfrm state output, Wireshark's
        /// esp_sa or ike*_decryption_table, a charon log at level 4, a pluto log with
        /// plutodebug=private, a tcpdump -E file (docs/keys.md); -E secrets are looked up first
        #[arg(long = "keys", value_name = "FILE")]
        keys: Vec<PathBuf>,
        /// tcpdump filter expressions are not supported without libpcap
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        filter: Vec<String>,
    },
    /// Print the tcpdump command to run on each gateway: it keeps everything diagnosis needs
    #[command(
        after_help = "The filter keeps IKE (UDP 500 and 4500, NAT-T included), ESP, AH, every IP fragment \
(non-first fragments carry no UDP header, so `udp port 500` alone loses them) and ICMP errors (unreachable, \
fragmentation needed, packet too big, time exceeded). ICMP errors are kept whatever --peer says: routers \
on the path send them."
    )]
    CaptureFilter {
        /// Keep only IKE, ESP and fragments to and from this address (the peer as this gateway sees it)
        #[arg(long, value_name = "ADDR")]
        peer: Option<IpAddr>,
        /// Keep IPv6 fragments and ICMPv6 errors too (implied by an IPv6 --peer)
        #[arg(long)]
        ipv6: bool,
        /// A protected subnet (10.1.0.0/24); repeat for each: adds a command for the internal interface
        #[arg(long, value_name = "SUBNET")]
        inner: Vec<String>,
        /// External interface name to put in the command
        #[arg(long, short = 'i', value_name = "IF")]
        interface: Option<String>,
        /// Internal interface name to put in the command
        #[arg(long, value_name = "IF")]
        inner_interface: Option<String>,
        /// Print the external filter expression alone
        #[arg(long)]
        filter_only: bool,
    },
    /// Capture both gateways live, follow their logs, bring the tunnel up, then diagnose
    #[command(after_help = live_after_help(false))]
    Capture {
        #[command(flatten)]
        live: cmd::capture::Args,
        /// Stop as soon as the verdict settles (the up command and pings done, the verdict unchanged 5 s)
        #[arg(long)]
        until_verdict: bool,
    },
    /// The live capture with no end: print each change of verdict, for a flaky tunnel
    #[command(after_help = live_after_help(true))]
    Watch {
        #[command(flatten)]
        live: cmd::capture::Args,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "bash: ipsec-doctor completions bash > ~/.local/share/bash-completion/completions/ipsec-doctor\n\
zsh: ipsec-doctor completions zsh > ~/.zfunc/_ipsec-doctor (with fpath+=~/.zfunc)\n\
fish: ipsec-doctor completions fish > ~/.config/fish/completions/ipsec-doctor.fish"
    )]
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff): ipsec-doctor man | man -l -
    Man,
}

fn live_after_help(watch: bool) -> String {
    let what = if watch {
        "Runs until Ctrl-C or --duration; old exchanges are aged out after 10 minutes (counts kept), a capture \
or log follower that ends is started again (a restarted daemon, a rotated log, a dropped ssh link)."
    } else {
        "Stops at --duration, at Ctrl-C, or with --until-verdict; then writes the bundle (both captures, the \
logs, the up command's output, the state at start and end, manifest.json; folder 0700, files 0600) and prints \
the report that `ipsec-doctor diagnose DIR` gives on it."
    };
    format!(
        "{what}\n\nOn each gateway it runs that gateway's own tcpdump (streamed back as pcap, privileges dropped with \
-Z), follows the daemon's log (tail -F, or journalctl -f), and snapshots ipsec status / swanctl --list-sas, \
ip xfrm state and policy, routes, links and firewall counters. Nothing needs installing there. Every command \
is a fixed script with checked arguments; --dry-run prints them. Over ssh, the capture leaves out the ssh \
connection itself.\n\n{EXIT_STATUS}"
    )
}

/// The whole manual: the top-level page, then each subcommand's synopsis, description and options.
fn man_page() -> std::io::Result<Vec<u8>> {
    let cmd = Cli::command();
    let mut top = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut top)?;
    // The subcommands are sections of this page, not pages of their own.
    let mut top = String::from_utf8_lossy(&top).into_owned();
    for sub in cmd.get_subcommands() {
        let page = format!("ipsec\\-doctor\\-{}(1)", sub.get_name().replace('-', "\\-"));
        top = top.replace(&page, &format!("ipsec\\-doctor {}", sub.get_name().replace('-', "\\-")));
    }
    let mut out = top.replacen(".SH EXTRA", ".SH NOTES", 1).into_bytes();
    for sub in cmd.get_subcommands() {
        let name = format!("ipsec-doctor {}", sub.get_name());
        let man = clap_mangen::Man::new(sub.clone().bin_name(name.clone()));
        let mut part = Vec::new();
        man.render_synopsis_section(&mut part)?;
        man.render_description_section(&mut part)?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut part)?;
        }
        if sub.get_after_help().is_some() {
            man.render_extra_section(&mut part)?;
        }
        let part = String::from_utf8_lossy(&part)
            .replacen(".SH SYNOPSIS", &format!(".SH \"{}\"", name.to_uppercase()), 1)
            .replacen(".SH DESCRIPTION\n", ".PP\n", 1)
            .replacen(".SH OPTIONS", ".SS Options", 1)
            .replacen(".SH EXTRA", ".SS Notes", 1);
        out.extend_from_slice(part.as_bytes());
    }
    Ok(out)
}

/// `--json` on the diagnose command line: errors then go to standard output as a JSON object too.
fn wants_json(args: &[OsString]) -> bool {
    args.get(1).is_some_and(|a| a == "diagnose")
        && args.iter().skip(2).take_while(|a| *a != "--").any(|a| a == "--json")
}

fn usage_error(json: bool, message: &str) -> ExitCode {
    eprintln!("ipsec-doctor: {message}");
    if json {
        println!("{}", ipsec_doctor::report::json_error(message, &[]));
    }
    ExitCode::from(2)
}

/// Colour in auto mode: a terminal that is not `TERM=dumb`, and no `NO_COLOR` (non-empty).
fn auto_colour() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "dump") {
        if let Err(e) = tcpdump_args::check_dump(&argv[2..]) {
            eprintln!("ipsec-doctor: {e}");
            return ExitCode::from(2);
        }
    }
    let json = wants_json(&argv);
    let cli = match Cli::try_parse_from(&argv) {
        Ok(c) => c,
        Err(e) => {
            if json && e.use_stderr() {
                let text = e.to_string();
                let first = text.lines().next().unwrap_or_default();
                let msg = first.strip_prefix("error: ").unwrap_or(first);
                println!("{}", ipsec_doctor::report::json_error(msg, &[]));
            }
            e.exit()
        }
    };
    match cli.cmd {
        Command::Diagnose {
            paths,
            side,
            json,
            timeline,
            html,
            color,
            max_ike,
            max_flows,
            max_frag_bytes,
            max_frag_datagrams,
            evidence,
            keys,
        } => {
            let mut sides = Vec::new();
            for s in side {
                let Some((name, files)) = s.split_once('=') else {
                    return usage_error(json, &format!("--side wants NAME=FILE,FILE, got {s}"));
                };
                sides.push((name.to_string(), files.split(',').map(PathBuf::from).collect()));
            }
            let colour = match color.as_str() {
                "always" => true,
                "never" => false,
                _ => auto_colour(),
            };
            let mut limits = ipsec_doctor::inputs::Limits::default();
            limits.track.ike_messages = max_ike;
            limits.track.esp_flows = max_flows;
            limits.frag.max_bytes = max_frag_bytes;
            limits.frag.max_datagrams = max_frag_datagrams;
            let args = cmd::diagnose::Args {
                paths,
                sides,
                json,
                timeline,
                html,
                colour,
                limits,
                evidence,
                keys,
            };
            ExitCode::from(cmd::diagnose::run(&args))
        }
        Command::Dump {
            file,
            numeric: _,
            verbose,
            link,
            number,
            count,
            time,
            espsecret,
            keys,
            filter,
        } => {
            let filter: Vec<_> = filter.into_iter().filter(|f| f != "--").collect();
            if !filter.is_empty() {
                eprintln!(
                    "ipsec-doctor: filter expressions ({}) are not supported; dump prints every packet",
                    filter.join(" ")
                );
                return ExitCode::from(2);
            }
            let opts = Options {
                vflag: verbose,
                eflag: link,
                number,
                time: TimeFormat::from_count(time),
            };
            let secrets = match espsecret.as_deref().map(ipsec_doctor::print::esp::parse) {
                None => None,
                Some(Ok((secrets, warnings))) => {
                    for w in warnings {
                        eprintln!("ipsec-doctor: WARNING: {w}");
                    }
                    Some(secrets)
                }
                Some(Err(e)) => {
                    eprintln!("ipsec-doctor: {e}");
                    return ExitCode::from(2);
                }
            };
            let keys = match cmd::dump::load_keys(&keys) {
                Ok(k) => k,
                Err(e) => {
                    eprintln!("ipsec-doctor: --keys: {e}");
                    return ExitCode::from(2);
                }
            };
            match cmd::dump::run(&file, opts, count, secrets, keys) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ipsec-doctor: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::CaptureFilter {
            peer,
            ipv6,
            inner,
            interface,
            inner_interface,
            filter_only,
        } => {
            for n in &inner {
                if let Err(e) = capture_filter::check_subnet(n) {
                    eprintln!("ipsec-doctor: {e}");
                    return ExitCode::from(2);
                }
            }
            if filter_only {
                println!("{}", capture_filter::external(peer, ipv6));
            } else {
                print!(
                    "{}",
                    capture_filter::render(&capture_filter::Request {
                        peer,
                        ipv6,
                        inner,
                        interface,
                        inner_interface,
                    })
                );
            }
            ExitCode::SUCCESS
        }
        Command::Capture { live, until_verdict } => ExitCode::from(cmd::capture::run(&cmd::capture::Args {
            until_verdict,
            command_line: std::env::args().collect(),
            ..live
        })),
        Command::Watch { live } => ExitCode::from(cmd::capture::run(&cmd::capture::Args {
            watch: true,
            command_line: std::env::args().collect(),
            ..live
        })),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "ipsec-doctor", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => match man_page().and_then(|m| std::io::stdout().write_all(&m)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ipsec-doctor: writing the manual: {e}");
                ExitCode::from(2)
            }
        },
    }
}
