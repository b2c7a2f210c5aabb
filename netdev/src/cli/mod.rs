//! The `netdev` command-line tool: a front end (layer 5) that shows what
//! the library sees. Arguments and dispatch live here; each command has
//! its own module; [`record`] is the data they print and [`format`] how it
//! looks to people.

mod export;
mod format;
mod host;
mod list;
mod logger;
mod rates;
mod record;
mod show;
mod stats;
mod watch;

use std::fmt;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::{ContextValue, Error as ClapError};
use clap::{Parser, Subcommand};
use serde::Serialize;

use netdev::{Registry, Result as NdResult};

const EXIT_CODES: &str = "\
Examples:
  netdev list                      the devices, one per line
  netdev show eth0                 everything about eth0
  netdev --json stats | jq '.[] | {name, rx: .stats.rx_bytes}'
  netdev watch --count 10          the next ten changes, as they happen

Exit status: 0 on success, 1 if an operation failed (the message on stderr
names the device and the operation), 2 for a usage error.

Every command only reads state; none needs root. The library's warnings
go to stderr; NETDEV_LOG=debug (or info, error, off) changes how many.";

const LIST_HELP: &str = "\
JSON (--json): an array with one object per device, in ifindex order:
  ifindex  interface index
  name     name
  kind     link kind (\"veth\", \"bridge\", \"tun\"...), or null
  master   name of the bridge or bond the device is a port of, or null
  mtu      MTU, or null
  mac      Ethernet address \"aa:bb:cc:dd:ee:ff\", or null
  flags    set flags, lower case: \"up\", \"broadcast\", \"running\"...";

const SHOW_HELP: &str = "\
Counters that are zero are left out of the text unless --all is given.

JSON (--json): an array with one object per device, in the order given.
A value the device does not have (a loopback has no speed) is null.
  name, ifindex, kind, master, mac, mtu, flags   as in `netdev list`
  carrier          true if the link is up (IFF_RUNNING)
  carrier_resets   how many times carrier went down since creation
  speed_mbps       current speed in Mb/s
  duplex           \"full\" or \"half\"
  ipv4             [\"10.0.0.1/24\"]: address with prefix length (the
                   library reports the primary address)
  ipv6             [\"fe80::1\"]: addresses
  stats            every counter by name, zero or not: rx_packets,
                   tx_packets, rx_bytes, tx_bytes, rx_errors, tx_errors,
                   rx_dropped, tx_dropped, multicast, collisions,
                   rx_length_errors, rx_over_errors, rx_crc_errors,
                   rx_frame_errors, rx_fifo_errors, rx_missed_errors,
                   tx_aborted_errors, tx_carrier_errors, tx_fifo_errors,
                   tx_heartbeat_errors, tx_window_errors";

const STATS_HELP: &str = "\
JSON (--json): an array with one object per device:
  name, ifindex   as in `netdev list`
  stats           every counter by name, as in `netdev show`

With --interval SECS: rates per second over each interval, measured
against the time that really passed between two samples, like ifstat or
sar -n DEV, until --count intervals were printed (or interrupted). A
device appears from its second sample; one removed and created again (a
new ifindex) starts over, and so does a counter that went back, unless
it is a 32-bit counter that wrapped. JSON (--json): one object per line,
per device, per interval:
  time                local time of the sample, RFC 3339 with milliseconds
  name, ifindex       as in `netdev list`
  interval            seconds between the two samples
  rx_packets_per_sec, rx_bytes_per_sec, rx_errors_per_sec,
  rx_dropped_per_sec, tx_packets_per_sec, tx_bytes_per_sec,
  tx_errors_per_sec, tx_dropped_per_sec   rates (numbers, not rounded)";

const EXPORT_HELP: &str = "\
Serves the devices' counters and state over HTTP for Prometheus and
other OpenMetrics scrapers: GET /metrics (the Prometheus text format
0.0.4, or OpenMetrics 1.0.0 when the Accept header asks for
application/openmetrics-text), / (a pointer to /metrics); other paths
404, other methods 405.

Metric names and labels are node_exporter's (its netdev and netclass
collectors) for what both report: node_network_receive_bytes_total{device=\"eth0\"},
..._packets, _errs, _drop, _fifo, _frame, _multicast, the transmit family
with _colls and _carrier, node_network_mtu_bytes, node_network_up,
node_network_carrier, node_network_carrier_down_changes_total,
node_network_speed_bytes, node_network_iface_id and node_network_info
(address, device, duplex, ifindex, operstate); Open vSwitch's detailed
error counters as netdev_receive_crc_errors_total and the like.

Devices are opened once and followed through the library's change
events; a scrape reads their cached state and every counter from one
stats dump. --include/--exclude take regular expressions that match
anywhere in the name (anchor them: '^eth[0-9]+$'), as node_exporter's
--collector.netdev.device-include/exclude do. Device names become label
values with \\, \" and newline escaped; a name that is not UTF-8 shows
U+FFFD for each bad byte.

Ready when it prints \"netdev: exporting N devices on http://ADDR/metrics\"
on stderr. Listens on loopback unless told otherwise.";

const WATCH_HELP: &str = "\
Every device is opened, so the library's change notifier runs; devices
that appear later are opened as they appear. When it is ready, watch says
so on stderr (\"netdev: watching N devices\"). It runs until interrupted,
until --count events were printed, or until --timeout passes (exit 0).

Text: one line per event, starting with the local time:
  12:00:01.234 link v0 (ifindex 5) mtu 1400 flags up,running carrier up

JSON (--json): one object per line, per event:
  time        local time, RFC 3339 with milliseconds
  event       \"link\" (a device changed), \"added\" (a new device),
              \"renamed\", \"removed\", \"address\" (an address was added
              or removed), \"overflow\" (events were lost; the state was
              read again)
  ifindex     interface index (all but overflow)
  name        name (all but overflow)
  old_name    the previous name (renamed)
  mtu, mac, flags, carrier   the state the event reported (link, added,
              renamed)
  ipv4, ipv6  the addresses after the change (address)
Fields an event does not carry are left out.";

/// Look at a host's network devices through the netdev library.
#[derive(Debug, Parser)]
#[command(name = "netdev", version, after_long_help = EXIT_CODES)]
struct Cli {
    /// Print JSON instead of text: one document, or one object per line
    /// for `watch` (the fields are listed in each command's --help)
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the devices: index, name, kind, master, MTU, MAC, flags
    #[command(after_long_help = LIST_HELP)]
    List,
    /// Show everything about devices: MAC, MTU, flags, carrier, speed,
    /// addresses, counters
    #[command(after_long_help = SHOW_HELP)]
    Show {
        /// Devices to show
        #[arg(required = true, value_name = "IF", value_parser = interface_name)]
        interfaces: Vec<String>,
        /// Print zero counters too
        #[arg(short, long)]
        all: bool,
    },
    /// Packet, byte, error and drop counters of all devices (or those named)
    #[command(after_long_help = STATS_HELP)]
    Stats {
        /// Devices to show (default: all)
        #[arg(value_name = "IF", value_parser = interface_name)]
        interfaces: Vec<String>,
        /// Print rates per second every SECS seconds (fractions allowed)
        #[arg(long, value_name = "SECS", value_parser = interval)]
        interval: Option<Duration>,
        /// Stop after N intervals
        #[arg(long, value_name = "N", requires = "interval")]
        count: Option<u64>,
    },
    /// Serve the devices' counters and state to Prometheus (OpenMetrics)
    #[command(after_long_help = EXPORT_HELP)]
    Export {
        /// Address and port to listen on
        #[arg(long, value_name = "ADDR:PORT", default_value = export::DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Export only devices whose name matches this regular expression
        #[arg(long, value_name = "REGEX", value_parser = export::pattern, conflicts_with = "exclude")]
        include: Option<regex::Regex>,
        /// Leave out devices whose name matches this regular expression
        #[arg(long, value_name = "REGEX", value_parser = export::pattern)]
        exclude: Option<regex::Regex>,
        /// Serve at most N connections at once (more are closed)
        #[arg(long, value_name = "N", default_value_t = export::DEFAULT_MAX_CONNECTIONS,
              value_parser = clap::value_parser!(u32).range(1..=65536))]
        max_connections: u32,
    },
    /// Print change events as they happen, one line each
    #[command(after_long_help = WATCH_HELP)]
    Watch {
        /// Stop after printing N events
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Stop after SECS seconds (fractions allowed)
        #[arg(long, value_name = "SECS", value_parser = seconds)]
        timeout: Option<Duration>,
    },
}

/// A name the user typed, checked before it reaches any system call, so a
/// bad one is a usage error that says what is wrong with it. Every name the
/// OS allows passes: the tool only reads existing devices, and one whose
/// name holds a control character must still be reachable. The library's
/// message quotes the name; here it is quoted as [`echo`] shows it (clap
/// shows the value too).
fn interface_name(s: &str) -> Result<String, String> {
    netdev::validate_os_name(s)
        .map(|()| s.to_owned())
        .map_err(|e| {
            let why = e.kind().to_string();
            let debug = format!("{s:?}");
            if why.contains(&debug) {
                why.replace(&debug, &format!("\"{}\"", echo(s)))
            } else {
                why.replace(s, &echo(s))
            }
        })
}

/// A number of seconds; clap shows the rejected value itself.
fn seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| "not a number of seconds".to_owned())?;
    Duration::try_from_secs_f64(secs).map_err(|_| "not a duration".to_owned())
}

/// A sampling interval: a number of seconds above zero.
fn interval(s: &str) -> Result<Duration, String> {
    let d = seconds(s)?;
    if d.is_zero() {
        return Err("the interval must be longer than 0 seconds".to_owned());
    }
    Ok(d)
}

/// How many characters of an argument a usage error repeats. Arguments can
/// be as long as the kernel allows (128 KiB each), and clap repeats a
/// rejected one in full, some errors twice.
const ECHO_CHARS: usize = 32;

/// An argument as error messages show it: escaped ([`format::Escaped`]:
/// control characters cannot reach the terminal) and, when longer than
/// [`ECHO_CHARS`] characters, cut, with its full length.
fn echo(arg: &str) -> String {
    match arg.char_indices().nth(ECHO_CHARS) {
        None => format::escape(arg).into_owned(),
        Some((cut, _)) => format!("{}... ({} bytes)", format::Escaped(&arg[..cut]), arg.len()),
    }
}

/// Rewrites what a usage error repeats of the command line (the rejected
/// argument or value, and tips that quote it) as [`echo`] shows it; clap's
/// own words stay. `args` are the arguments the error is about.
fn shorten_echoes(e: &mut ClapError, args: &[String]) {
    // The arguments that would not be repeated as they are.
    let unsafe_args: Vec<(&str, String)> = args
        .iter()
        .map(|a| (a.as_str(), echo(a)))
        .filter(|(a, shown)| a != shown)
        .collect();
    let fix = |text: &str| {
        let mut text = text.to_owned();
        for (arg, shown) in &unsafe_args {
            text = text.replace(arg, shown);
        }
        text
    };
    // A value that is part of an argument (`--json=VALUE`'s) is shown
    // like an argument.
    let fix_value = |value: &str| {
        let fixed = fix(value);
        if fixed == value {
            echo(value)
        } else {
            fixed
        }
    };
    let fixed: Vec<_> = e
        .context()
        .filter_map(|(kind, value)| {
            let new = match value {
                ContextValue::String(s) => ContextValue::String(fix_value(s)),
                ContextValue::Strings(v) => {
                    ContextValue::Strings(v.iter().map(|s| fix_value(s)).collect())
                }
                // Styled text (usage, tips) is rebuilt only if it quotes an
                // argument, then without its styles.
                ContextValue::StyledStr(s) => ContextValue::StyledStr(fix_styled(s, fix)),
                ContextValue::StyledStrs(v) => {
                    ContextValue::StyledStrs(v.iter().map(|s| fix_styled(s, fix)).collect())
                }
                _ => return None,
            };
            (new != *value).then_some((kind, new))
        })
        .collect();
    for (kind, value) in fixed {
        e.insert(kind, value);
    }
}

/// `s` with `fix` applied to its text; as it was (styles and all) when
/// that changes nothing.
fn fix_styled(
    s: &clap::builder::StyledStr,
    fix: impl Fn(&str) -> String,
) -> clap::builder::StyledStr {
    let plain = s.to_string();
    let fixed = fix(&plain);
    if fixed == plain {
        s.clone()
    } else {
        fixed.into()
    }
}

/// Parses the command line; a usage error (exit 2) repeats no more than a
/// short, escaped prefix of any argument.
fn parse_args<I, T>(args: I) -> Result<Cli, ClapError>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(Into::into).collect();
    Cli::try_parse_from(&args).map_err(|mut e| {
        let text: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        shorten_echoes(&mut e, &text);
        e
    })
}

/// Why a command stopped.
#[derive(Debug)]
pub(crate) enum CliError {
    /// A library operation failed; its message names the device and the
    /// operation.
    Netdev(netdev::Error),
    /// Writing the output failed.
    Output(io::Error),
    /// The command needs a backend this OS does not have yet.
    Unsupported(&'static str),
    /// Anything else, said in words.
    Other(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Netdev(e) => e.fmt(f),
            CliError::Output(e) => write!(f, "writing output: {e}"),
            CliError::Unsupported(cmd) => write!(f, "{cmd}: not supported on this OS yet"),
            CliError::Other(s) => f.write_str(s),
        }
    }
}

impl From<netdev::Error> for CliError {
    fn from(e: netdev::Error) -> CliError {
        CliError::Netdev(e)
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> CliError {
        CliError::Output(e)
    }
}

/// How much output is gathered before it is written: a listing of 32,000
/// devices is a few megabytes, written in a few hundred system calls
/// instead of one per kilobyte (Rust's own stdout buffer) or per line.
const OUTPUT_BUFFER: usize = 64 * 1024;

/// What every command works with: the registry, the output, and whether
/// something already failed (the command goes on with the other devices
/// and the tool exits 1 at the end).
pub(crate) struct Ctx {
    registry: Registry,
    json: bool,
    /// Buffered: nothing reaches stdout before the buffer fills, the
    /// command ends, or a stream line is done ([`Ctx::print_line`]).
    out: BufWriter<io::StdoutLock<'static>>,
    /// Whether stdout is a terminal (people read it).
    terminal: bool,
    failed: bool,
}

impl Ctx {
    /// Reports a failure that does not stop the command.
    pub(crate) fn warn(&mut self, e: impl fmt::Display) {
        eprintln!("netdev: {e}");
        self.failed = true;
    }

    /// The value of a getter: `None` for one the device does not have
    /// (not supported is an answer, not a failure) and, after reporting
    /// it, for one that failed.
    pub(crate) fn value<T>(&mut self, r: NdResult<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) if e.is_not_supported() => None,
            Err(e) => {
                self.warn(e);
                None
            }
        }
    }

    /// Writes text as it is.
    pub(crate) fn print(&mut self, text: &str) -> io::Result<()> {
        self.out.write_all(text.as_bytes())
    }

    /// The buffered output, for commands that write as they go.
    pub(crate) fn out(&mut self) -> &mut impl Write {
        &mut self.out
    }

    /// Writes one line of a stream and flushes it, so a reader sees each
    /// event when it happens.
    pub(crate) fn print_line(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// Writes a JSON document: indented for a terminal, compact for a
    /// program.
    pub(crate) fn print_json<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        if self.terminal {
            serde_json::to_writer_pretty(&mut self.out, value)?;
        } else {
            serde_json::to_writer(&mut self.out, value)?;
        }
        self.out.write_all(b"\n")
    }

    /// Writes one JSON object on one line and flushes it, for streams.
    pub(crate) fn print_json_line<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, value)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// Opens `name` as a host device, with a clear answer where the OS
    /// has no backend.
    pub(crate) fn open(
        &self,
        command: &'static str,
        name: &str,
    ) -> Result<netdev::Netdev, CliError> {
        if self.registry.class("system").is_none() {
            return Err(CliError::Unsupported(command));
        }
        Ok(self.registry.open(name, "system")?)
    }
}

/// Runs the tool with the process's arguments; returns its exit status.
pub(crate) fn main() -> ExitCode {
    // clap prints help, version and usage errors itself, exiting 0 or 2.
    let cli = parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    logger::init();
    let registry = Registry::new();
    if let Err(e) = netdev::register_platform(&registry) {
        eprintln!("netdev: {e}");
        return ExitCode::from(1);
    }
    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    let mut ctx = Ctx {
        registry,
        json: cli.json,
        out: BufWriter::with_capacity(OUTPUT_BUFFER, stdout.lock()),
        terminal,
        failed: false,
    };
    let r = match cli.command {
        Command::List => list::run(&mut ctx),
        Command::Show { interfaces, all } => show::run(&mut ctx, &interfaces, all),
        Command::Stats {
            interfaces,
            interval,
            count,
        } => stats::run(&mut ctx, &interfaces, interval, count),
        Command::Export {
            listen,
            include,
            exclude,
            max_connections,
        } => export::run(
            &mut ctx,
            listen,
            export::Filter { include, exclude },
            max_connections,
        ),
        Command::Watch { count, timeout } => watch::run(&mut ctx, count, timeout),
    };
    let r = r.and_then(|()| ctx.out.flush().map_err(CliError::Output));
    match r {
        // A reader that went away (`netdev list | head -1`) is not an error.
        Err(CliError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("netdev: {e}");
            ExitCode::from(1)
        }
        Ok(()) if ctx.failed => ExitCode::from(1),
        Ok(()) => ExitCode::SUCCESS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn arguments_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn names_are_validated_as_usage_errors() {
        let e = Cli::try_parse_from(["netdev", "show", "a/b"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("contains a '/'"), "{e}");
        let e = Cli::try_parse_from(["netdev", "stats", "x234567890123456"]).unwrap_err();
        assert!(e.to_string().contains("16 bytes long"), "{e}");
        assert!(Cli::try_parse_from(["netdev", "show"]).is_err());
    }

    #[test]
    fn echo_escapes_and_cuts() {
        assert_eq!(echo("eth0"), "eth0");
        assert_eq!(echo("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        let long = "é".repeat(40);
        assert_eq!(
            echo(&long),
            format!("{}... (80 bytes)", "é".repeat(ECHO_CHARS))
        );
        let e = parse_args(["netdev", "show", &"x".repeat(5000)]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let text = e.to_string();
        assert!(text.len() < 400 && text.contains("(5000 bytes)"), "{text}");
    }

    #[test]
    fn json_is_accepted_anywhere() {
        let cli = Cli::try_parse_from(["netdev", "show", "v0", "--json"]).unwrap();
        assert!(cli.json);
        let cli = Cli::try_parse_from(["netdev", "--json", "list"]).unwrap();
        assert!(cli.json);
    }

    #[test]
    fn watch_limits_parse() {
        let cli =
            Cli::try_parse_from(["netdev", "watch", "--count", "3", "--timeout", "1.5"]).unwrap();
        match cli.command {
            Command::Watch { count, timeout } => {
                assert_eq!(count, Some(3));
                assert_eq!(timeout, Some(Duration::from_millis(1500)));
            }
            other => panic!("{other:?}"),
        }
        for bad in ["-1", "soon", "NaN"] {
            let e = Cli::try_parse_from(["netdev", "watch", "--timeout", bad]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
    }
}
