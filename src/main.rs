use clap::{ArgAction, Parser, Subcommand};
use ipsec_doctor::cmd;
use ipsec_doctor::print::packet::Options;
use ipsec_doctor::print::time::TimeFormat;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "ipsec-doctor",
    version,
    about = "Tells why an IPsec tunnel fails, from tcpdump captures and IKE logs"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Say why a tunnel fails, from both gateways' captures and logs (files or folders)
    Diagnose {
        /// Capture files (pcap, pcapng), IKE daemon logs, or folders holding them
        #[arg(required_unless_present = "side")]
        paths: Vec<PathBuf>,
        /// Name a gateway's files explicitly: NAME=FILE,FILE
        #[arg(long = "side", value_name = "NAME=FILE,FILE")]
        side: Vec<String>,
        /// Print the JSON report
        #[arg(long)]
        json: bool,
        /// Add a side-by-side timeline of the IKE exchanges
        #[arg(long)]
        timeline: bool,
        /// Colour: auto (on a terminal), always, never
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
    },
    /// Print IKE, NAT-T, ESP and AH packets exactly as tcpdump 4.99.3 does
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
        #[arg(short = '#')]
        number: bool,
        /// Stop after COUNT packets
        #[arg(short = 'c', value_name = "COUNT")]
        count: Option<u64>,
        /// Timestamp format: -t none, -tt epoch, -ttt delta, -tttt date, -ttttt since first
        #[arg(short = 't', action = ArgAction::Count)]
        time: u8,
        /// tcpdump filter expressions are not supported without libpcap
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        filter: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.cmd {
        Command::Diagnose {
            paths,
            side,
            json,
            timeline,
            color,
            max_ike,
            max_flows,
            max_frag_bytes,
            max_frag_datagrams,
        } => {
            let mut sides = Vec::new();
            for s in side {
                let Some((name, files)) = s.split_once('=') else {
                    eprintln!("ipsec-doctor: --side wants NAME=FILE,FILE, got {s}");
                    return ExitCode::from(2);
                };
                sides.push((name.to_string(), files.split(',').map(PathBuf::from).collect()));
            }
            let colour = match color.as_str() {
                "always" => true,
                "never" => false,
                _ => std::io::IsTerminal::is_terminal(&std::io::stdout()) && std::env::var_os("NO_COLOR").is_none(),
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
                colour,
                limits,
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
            match cmd::dump::run(&file, opts, count) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ipsec-doctor: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
