//! What bridge-utils' `brctl` prints, byte for byte: the `show` and
//! `showmacs` tables, usage and help texts, and every error message with
//! its stream and exit status. Pure functions from typed data to an
//! [`Output`]; the client gathers the data and writes the bytes.
//!
//! The reference is Debian's `bridge-utils` 1.7.1 driving a Linux 6.18
//! kernel bridge; `tests/fixtures/brctl/` holds what it printed and the
//! script that captured it. Deviations, each deliberate:
//! - names are escaped on output ([`netdev_core::escape`]: control and
//!   invisible format characters become `\u{..}`); `brctl` prints them
//!   raw, so a bridge named with an escape sequence can rewrite the
//!   terminal;
//! - a name `brctl` would silently truncate to 15 bytes (and then act on
//!   another bridge: `brctl addbr abcdefghijklmnopq` creates
//!   `abcdefghijklmno`, `delbr` of a long name deletes the truncated one)
//!   is refused as the kernel refuses other invalid names: `add bridge
//!   failed: Invalid argument`, and the like for the other commands
//!   ([`Error::for_invalid_name`]);
//! - the commands brcompat does not implement (`stp`, `setageing`, ...)
//!   are listed in the help, as `brctl` lists them, but answer
//!   [`Error::Unsupported`];
//! - a daemon that cannot be reached is [`Error::Daemon`], one line;
//! - one extension, `showstats <bridge>` (per-port frame counters from the
//!   daemon's switch, [`showstats`]), listed after `brctl`'s own commands
//!   in the help ([`EXTENSIONS_HELP`]).

use std::borrow::Cow;
use std::fmt::Write as _;

use netdev_core::escape;

/// What `brctl -V` prints (scripts test it; brcompat speaks this
/// version's command language).
pub const VERSION_TEXT: &str = "bridge-utils, 1.7\n";

/// The bytes a `brctl` run writes and its exit status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Written to standard output.
    pub stdout: String,
    /// Written to standard error.
    pub stderr: String,
    /// The exit status.
    pub status: i32,
}

impl Output {
    fn stdout(text: String, status: i32) -> Output {
        Output {
            stdout: text,
            stderr: String::new(),
            status,
        }
    }

    fn stderr(text: String) -> Output {
        Output {
            stdout: String::new(),
            stderr: text,
            status: 1,
        }
    }
}

/// The commands `brctl` 1.7 knows, in its help's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// `addbr <bridge>`
    Addbr,
    /// `delbr <bridge>`
    Delbr,
    /// `addif <bridge> <device>`
    Addif,
    /// `delif <bridge> <device>`
    Delif,
    /// `hairpin <bridge> <port> {on|off}` (not in brcompat)
    Hairpin,
    /// `setageing <bridge> <time>` (not in brcompat)
    Setageing,
    /// `setbridgeprio <bridge> <prio>` (not in brcompat)
    Setbridgeprio,
    /// `setfd <bridge> <time>` (not in brcompat)
    Setfd,
    /// `sethello <bridge> <time>` (not in brcompat)
    Sethello,
    /// `setmaxage <bridge> <time>` (not in brcompat)
    Setmaxage,
    /// `setpathcost <bridge> <port> <cost>` (not in brcompat)
    Setpathcost,
    /// `setportprio <bridge> <port> <prio>` (not in brcompat)
    Setportprio,
    /// `show [ <bridge> ]`
    Show,
    /// `showmacs <bridge>`
    Showmacs,
    /// `showstp <bridge>` (not in brcompat)
    Showstp,
    /// `stp <bridge> {on|off}` (not in brcompat)
    Stp,
    /// `showstats <bridge>` (a brcompat extension, not in `brctl`)
    Showstats,
}

/// The help's section for the commands brcompat adds to `brctl`'s,
/// printed after them.
pub const EXTENSIONS_HELP: &str =
    "extensions (brcompat):\n\tshowstats \t<bridge>\t\tshow per-port frame counters\n";

/// Name, number of arguments, help text: `brctl`'s command table, then
/// brcompat's extensions.
const COMMANDS: [(Command, &str, usize, &str); 17] = [
    (Command::Addbr, "addbr", 1, "<bridge>\t\tadd bridge"),
    (Command::Delbr, "delbr", 1, "<bridge>\t\tdelete bridge"),
    (
        Command::Addif,
        "addif",
        2,
        "<bridge> <device>\tadd interface to bridge",
    ),
    (
        Command::Delif,
        "delif",
        2,
        "<bridge> <device>\tdelete interface from bridge",
    ),
    (
        Command::Hairpin,
        "hairpin",
        3,
        "<bridge> <port> {on|off}\tturn hairpin on/off",
    ),
    (
        Command::Setageing,
        "setageing",
        2,
        "<bridge> <time>\t\tset ageing time",
    ),
    (
        Command::Setbridgeprio,
        "setbridgeprio",
        2,
        "<bridge> <prio>\t\tset bridge priority",
    ),
    (
        Command::Setfd,
        "setfd",
        2,
        "<bridge> <time>\t\tset bridge forward delay",
    ),
    (
        Command::Sethello,
        "sethello",
        2,
        "<bridge> <time>\t\tset hello time",
    ),
    (
        Command::Setmaxage,
        "setmaxage",
        2,
        "<bridge> <time>\t\tset max message age",
    ),
    (
        Command::Setpathcost,
        "setpathcost",
        3,
        "<bridge> <port> <cost>\tset path cost",
    ),
    (
        Command::Setportprio,
        "setportprio",
        3,
        "<bridge> <port> <prio>\tset port priority",
    ),
    (
        Command::Show,
        "show",
        0,
        "[ <bridge> ]\t\tshow a list of bridges",
    ),
    (
        Command::Showmacs,
        "showmacs",
        1,
        "<bridge>\t\tshow a list of mac addrs",
    ),
    (
        Command::Showstp,
        "showstp",
        1,
        "<bridge>\t\tshow bridge stp info",
    ),
    (Command::Stp, "stp", 2, "<bridge> {on|off}\tturn stp on/off"),
    (
        Command::Showstats,
        "showstats",
        1,
        "<bridge>\t\tshow per-port frame counters",
    ),
];

impl Command {
    fn entry(self) -> &'static (Command, &'static str, usize, &'static str) {
        COMMANDS
            .iter()
            .find(|e| e.0 == self)
            .unwrap_or(&COMMANDS[0])
    }

    /// The command's name on the command line.
    #[must_use]
    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// How many arguments it needs at least.
    #[must_use]
    pub fn nargs(self) -> usize {
        self.entry().2
    }

    /// Its help text (arguments, tab, description).
    #[must_use]
    pub fn help(self) -> &'static str {
        self.entry().3
    }

    /// The command of that name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Command> {
        COMMANDS.iter().find(|e| e.1 == name).map(|e| e.0)
    }

    /// Whether brcompat implements it.
    #[must_use]
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Command::Addbr
                | Command::Delbr
                | Command::Addif
                | Command::Delif
                | Command::Show
                | Command::Showmacs
                | Command::Showstats
        )
    }
}

/// `Usage: brctl [commands]` and the command list, as `brctl` prints it
/// without arguments, for `-h`/`--help` and after an unknown command.
#[must_use]
pub fn help_text() -> String {
    let mut s = String::from("Usage: brctl [commands]\ncommands:\n");
    for (cmd, name, _, help) in COMMANDS {
        if cmd == Command::Showstats {
            continue;
        }
        // printf("\t%-10s\t%s\n")
        let _ = writeln!(s, "\t{name:<10}\t{help}");
    }
    s.push_str(EXTENSIONS_HELP);
    s
}

/// What a command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invocation {
    /// `-V`: print [`VERSION_TEXT`].
    Version,
    /// No arguments (status 1) or `-h`/`--help` (status 0): print
    /// [`help_text`].
    Help {
        /// The exit status.
        status: i32,
    },
    /// A command brcompat carries out.
    Run(Request),
}

/// A request of a supported command, its arguments as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `addbr BRIDGE`
    Addbr(String),
    /// `delbr BRIDGE`
    Delbr(String),
    /// `addif BRIDGE DEVICE`
    Addif {
        /// The bridge.
        bridge: String,
        /// The interface to add.
        device: String,
    },
    /// `delif BRIDGE DEVICE`
    Delif {
        /// The bridge.
        bridge: String,
        /// The interface to remove.
        device: String,
    },
    /// `show [BRIDGE...]`: all bridges when empty.
    Show(Vec<String>),
    /// `showmacs BRIDGE`
    Showmacs(String),
    /// `showstats BRIDGE` (extension)
    Showstats(String),
}

/// Reads a command line (without the program name) as `brctl` does:
/// extra arguments are ignored, as `brctl` ignores them.
pub fn parse_args<S: AsRef<str>>(args: &[S]) -> Result<Invocation, Error> {
    let Some(first) = args.first().map(AsRef::as_ref) else {
        return Ok(Invocation::Help { status: 1 });
    };
    match first {
        "-V" => return Ok(Invocation::Version),
        "-h" | "--help" => return Ok(Invocation::Help { status: 0 }),
        _ => {}
    }
    let cmd = Command::from_name(first).ok_or_else(|| Error::UnknownCommand(first.to_owned()))?;
    let rest: Vec<String> = args[1..].iter().map(|a| a.as_ref().to_owned()).collect();
    if rest.len() < cmd.nargs() {
        return Err(Error::WrongArgCount(cmd));
    }
    if !cmd.is_supported() {
        return Err(Error::Unsupported(cmd));
    }
    let arg = |i: usize| rest[i].clone();
    Ok(Invocation::Run(match cmd {
        Command::Addbr => Request::Addbr(arg(0)),
        Command::Delbr => Request::Delbr(arg(0)),
        Command::Addif => Request::Addif {
            bridge: arg(0),
            device: arg(1),
        },
        Command::Delif => Request::Delif {
            bridge: arg(0),
            device: arg(1),
        },
        Command::Showmacs => Request::Showmacs(arg(0)),
        Command::Showstats => Request::Showstats(arg(0)),
        _ => Request::Show(rest),
    }))
}

/// What to print for an [`Invocation`] that needs no daemon.
#[must_use]
pub fn render_invocation(inv: &Invocation) -> Option<Output> {
    match inv {
        Invocation::Version => Some(Output::stdout(VERSION_TEXT.to_owned(), 0)),
        Invocation::Help { status } => Some(Output::stdout(help_text(), *status)),
        Invocation::Run(_) => None,
    }
}

/// A bridge id: priority and MAC address, printed `8000.0200000000b0`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BridgeId {
    /// The STP bridge priority (0x8000 by default).
    pub priority: u16,
    /// The bridge's MAC address.
    pub mac: [u8; 6],
}

impl std::fmt::Display for BridgeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b] = self.priority.to_be_bytes();
        write!(f, "{a:02x}{b:02x}.")?;
        for byte in self.mac {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// One row group of `brctl show`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeInfo {
    /// The bridge's name.
    pub name: String,
    /// Its id.
    pub id: BridgeId,
    /// Whether STP is on.
    pub stp_enabled: bool,
    /// Its ports' names (any order: printed sorted, as `brctl` does).
    pub interfaces: Vec<String>,
}

/// How one bridge named on `show BR...` turned out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Found.
    Found(BridgeInfo),
    /// `bridge X does not exist!`
    Missing(String),
    /// `device X is not a bridge!`
    NotABridge(String),
}

/// The header `show` prints before its first bridge.
pub const SHOW_HEADER: &str = "bridge name\tbridge id\t\tSTP enabled\tinterfaces\n";

/// The header of `showmacs`.
pub const SHOWMACS_HEADER: &str = "port no\tmac addr\t\tis local?\tageing timer\n";

/// Names compare as C's `strcmp` (what `alphasort` does in the C locale).
fn byte_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.as_bytes().cmp(b.as_bytes())
}

fn show_bridge(out: &mut String, b: &BridgeInfo) {
    let mut ifaces: Vec<&str> = b.interfaces.iter().map(String::as_str).collect();
    ifaces.sort_by(|x, y| byte_order(x, y));
    let stp = if b.stp_enabled { "yes" } else { "no" };
    let _ = write!(out, "{}\t\t{}\t{stp}\t\t", escape(&b.name), b.id);
    match ifaces.split_first() {
        None => out.push('\n'),
        Some((first, rest)) => {
            let _ = writeln!(out, "{}", escape(first));
            for i in rest {
                let _ = writeln!(out, "\t\t\t\t\t\t\t{}", escape(i));
            }
        }
    }
}

/// `brctl show`: every bridge, sorted by name; nothing at all (not even
/// the header) when there is none. Status 0.
#[must_use]
pub fn show_all(bridges: &[BridgeInfo]) -> Output {
    let mut sorted: Vec<&BridgeInfo> = bridges.iter().collect();
    sorted.sort_by(|a, b| byte_order(&a.name, &b.name));
    let mut out = String::new();
    for (i, b) in sorted.into_iter().enumerate() {
        if i == 0 {
            out.push_str(SHOW_HEADER);
        }
        show_bridge(&mut out, b);
    }
    Output::stdout(out, 0)
}

/// `brctl show BR...`: the bridges in the order named, the header before
/// the first one found, an error line for each one that is not a bridge;
/// status 1 if there was any.
#[must_use]
pub fn show_selected(lookups: &[Lookup]) -> Output {
    let mut out = Output::default();
    let mut header = false;
    for l in lookups {
        match l {
            Lookup::Found(b) => {
                if !header {
                    out.stdout.push_str(SHOW_HEADER);
                    header = true;
                }
                show_bridge(&mut out.stdout, b);
            }
            Lookup::Missing(name) => {
                out.stderr
                    .push_str(&Error::NoSuchBridge(name.clone()).render().stderr);
                out.status = 1;
            }
            Lookup::NotABridge(name) => {
                out.stderr
                    .push_str(&Error::NotABridge(name.clone()).render().stderr);
                out.status = 1;
            }
        }
    }
    out
}

/// One forwarding-database entry, as `showmacs` prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdbEntry {
    /// The port number.
    pub port_no: u16,
    /// The MAC address.
    pub mac: [u8; 6],
    /// Whether the address is the bridge's own (one of its ports').
    pub is_local: bool,
    /// Time since the address was last seen, in hundredths of a second.
    pub ageing_centis: u32,
}

/// An ageing timer as `brctl` prints it: `printf("%4i.%.2i", sec, cs)`.
#[must_use]
pub fn format_timer(centis: u32) -> String {
    format!("{:4}.{:02}", centis / 100, centis % 100)
}

/// `brctl showmacs BR`: the header, then the entries sorted by MAC
/// address (stable: equal addresses keep their order). Status 0.
#[must_use]
pub fn showmacs(entries: &[FdbEntry]) -> Output {
    let mut sorted: Vec<&FdbEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.mac);
    let mut out = String::from(SHOWMACS_HEADER);
    for e in sorted {
        let m = e.mac;
        let _ = writeln!(
            out,
            "{:3}\t{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\t{}\t\t{}",
            e.port_no,
            m[0],
            m[1],
            m[2],
            m[3],
            m[4],
            m[5],
            if e.is_local { "yes" } else { "no" },
            format_timer(e.ageing_centis)
        );
    }
    Output::stdout(out, 0)
}

/// `brctl showstats BR` (extension): one line per port, in the order
/// given (the daemon's: by port number), under a header; names escaped.
/// Status 0.
#[must_use]
pub fn showstats(ports: &[crate::proto::PortStats]) -> Output {
    let names: Vec<Cow<'_, str>> = ports.iter().map(|p| escape(&p.name)).collect();
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!(
        "port no\t{:<width$}  {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}\n",
        "name", "rx packets", "tx packets", "forwarded", "flooded", "dropped", "tx dropped"
    );
    for (p, name) in ports.iter().zip(&names) {
        let pad = width.saturating_sub(name.chars().count());
        let _ = writeln!(
            out,
            "{:7}\t{name}{:pad$}  {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
            p.port, "", p.rx_packets, p.tx_packets, p.forwarded, p.flooded, p.dropped, p.tx_dropped
        );
    }
    Output::stdout(out, 0)
}

/// The text glibc's `strerror` gives for `errno` (this platform's value).
#[must_use]
pub fn strerror(errno: i32) -> Cow<'static, str> {
    match errno {
        // nix words this one differently from glibc.
        libc::EOPNOTSUPP => Cow::Borrowed("Operation not supported"),
        _ => {
            let e = nix::errno::Errno::from_raw(errno);
            if e == nix::errno::Errno::UnknownErrno {
                Cow::Owned(format!("Unknown error {errno}"))
            } else {
                Cow::Borrowed(e.desc())
            }
        }
    }
}

/// Every way a `brctl` command fails, with the text and status `brctl`
/// gives it ([`Error::render`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// stderr `never heard of command [X]`, help on stdout, status 1.
    UnknownCommand(String),
    /// stdout `Incorrect number of arguments for command` and the
    /// command's usage line, status 1.
    WrongArgCount(Command),
    /// `addbr`, `EEXIST`: `device X already exists; can't create bridge
    /// with the same name`.
    BridgeExists(String),
    /// `addbr`, any other errno: `add bridge failed: STRERROR`.
    AddBridge {
        /// The errno.
        errno: i32,
    },
    /// `delbr`, `ENXIO`: `bridge X doesn't exist; can't delete it`.
    NoSuchBridgeToDelete(String),
    /// `delbr`, `EBUSY`: `bridge X is still up; can't delete it`.
    BridgeStillUp(String),
    /// `delbr`, any other errno: `can't delete bridge X: STRERROR`.
    DeleteBridge {
        /// The bridge.
        bridge: String,
        /// The errno.
        errno: i32,
    },
    /// `addif`/`delif`: `interface X does not exist!`.
    NoSuchInterface(String),
    /// `addif`/`delif`/`show`: `bridge X does not exist!`.
    NoSuchBridge(String),
    /// `show BR`: `device X is not a bridge!`.
    NotABridge(String),
    /// `addif`, `EBUSY`: `device X is already a member of a bridge; can't
    /// add it to bridge Y.`
    AlreadyMember {
        /// The interface.
        device: String,
        /// The bridge it was to join.
        bridge: String,
    },
    /// `addif`, `ELOOP`: `device X is a bridge device itself; can't add a
    /// bridge device to a bridge device.`
    IsABridge(String),
    /// `addif`, any other errno: `can't add X to bridge Y: STRERROR`.
    AddInterface {
        /// The interface.
        device: String,
        /// The bridge.
        bridge: String,
        /// The errno.
        errno: i32,
    },
    /// `delif`, `EINVAL`: `device X is not a port of Y`.
    NotAPort {
        /// The interface.
        device: String,
        /// The bridge.
        bridge: String,
    },
    /// `delif`, any other errno: `can't delete X from Y: STRERROR`.
    DeleteInterface {
        /// The interface.
        device: String,
        /// The bridge.
        bridge: String,
        /// The errno.
        errno: i32,
    },
    /// `showmacs`: `read of forward table failed: STRERROR`.
    ReadFdb {
        /// The errno (`ENODEV`: no such device; `EOPNOTSUPP`: not a
        /// bridge).
        errno: i32,
    },
    /// `showstats` (extension): `read of port counters of X failed:
    /// STRERROR` (`ENODEV`: no such bridge; `EOPNOTSUPP`: the daemon runs
    /// no datapath).
    ReadStats {
        /// The bridge.
        bridge: String,
        /// The errno.
        errno: i32,
    },
    /// brcompat's own: `brctl: command X is not supported by brcompat`.
    Unsupported(Command),
    /// brcompat's own: the daemon could not be reached; the text is one
    /// line (`cannot connect to brcompatd at PATH: ...`).
    Daemon(String),
    /// brcompat's own: the host's network devices, which `show` needs for
    /// names and addresses, could not be listed; one line
    /// (`cannot list network devices: ...`).
    Devices(String),
    /// brcompat's own: the command line's options (`--socket PATH`) are
    /// wrong; one line.
    Usage(String),
}

impl Error {
    /// The error `brctl` would give for an invalid `name` (too long, `/`,
    /// whitespace, control characters, empty) in `request`, had it not
    /// truncated or passed it on: what the kernel's `EINVAL` or a missing
    /// device produces.
    #[must_use]
    pub fn for_invalid_name(request: &Request, name: &str) -> Error {
        match request {
            Request::Addbr(_) => Error::AddBridge {
                errno: libc::EINVAL,
            },
            Request::Delbr(b) => Error::NoSuchBridgeToDelete(b.clone()),
            Request::Addif { bridge, device } | Request::Delif { bridge, device } => {
                if name == device {
                    Error::NoSuchInterface(device.clone())
                } else {
                    Error::NoSuchBridge(bridge.clone())
                }
            }
            Request::Show(_) => Error::NoSuchBridge(name.to_owned()),
            Request::Showmacs(_) => Error::ReadFdb {
                errno: libc::ENODEV,
            },
            Request::Showstats(b) => Error::ReadStats {
                bridge: b.clone(),
                errno: libc::ENODEV,
            },
        }
    }

    /// The bytes and status `brctl` gives this error.
    #[must_use]
    pub fn render(&self) -> Output {
        let e = |s: &str| escape(s).into_owned();
        match self {
            Error::UnknownCommand(c) => Output {
                stdout: help_text(),
                stderr: format!("never heard of command [{}]\n", e(c)),
                status: 1,
            },
            Error::WrongArgCount(c) => Output::stdout(
                format!(
                    "Incorrect number of arguments for command\nUsage: brctl {} {}\n",
                    c.name(),
                    c.help()
                ),
                1,
            ),
            Error::BridgeExists(b) => Output::stderr(format!(
                "device {} already exists; can't create bridge with the same name\n",
                e(b)
            )),
            Error::AddBridge { errno } => {
                Output::stderr(format!("add bridge failed: {}\n", strerror(*errno)))
            }
            Error::NoSuchBridgeToDelete(b) => Output::stderr(format!(
                "bridge {} doesn't exist; can't delete it\n",
                e(b)
            )),
            Error::BridgeStillUp(b) => {
                Output::stderr(format!("bridge {} is still up; can't delete it\n", e(b)))
            }
            Error::DeleteBridge { bridge, errno } => Output::stderr(format!(
                "can't delete bridge {}: {}\n",
                e(bridge),
                strerror(*errno)
            )),
            Error::NoSuchInterface(d) => {
                Output::stderr(format!("interface {} does not exist!\n", e(d)))
            }
            Error::NoSuchBridge(b) => Output::stderr(format!("bridge {} does not exist!\n", e(b))),
            Error::NotABridge(d) => Output::stderr(format!("device {} is not a bridge!\n", e(d))),
            Error::AlreadyMember { device, bridge } => Output::stderr(format!(
                "device {} is already a member of a bridge; can't add it to bridge {}.\n",
                e(device),
                e(bridge)
            )),
            Error::IsABridge(d) => Output::stderr(format!(
                "device {} is a bridge device itself; can't add a bridge device to a bridge device.\n",
                e(d)
            )),
            Error::AddInterface {
                device,
                bridge,
                errno,
            } => Output::stderr(format!(
                "can't add {} to bridge {}: {}\n",
                e(device),
                e(bridge),
                strerror(*errno)
            )),
            Error::NotAPort { device, bridge } => Output::stderr(format!(
                "device {} is not a port of {}\n",
                e(device),
                e(bridge)
            )),
            Error::DeleteInterface {
                device,
                bridge,
                errno,
            } => Output::stderr(format!(
                "can't delete {} from {}: {}\n",
                e(device),
                e(bridge),
                strerror(*errno)
            )),
            Error::ReadFdb { errno } => Output::stderr(format!(
                "read of forward table failed: {}\n",
                strerror(*errno)
            )),
            Error::ReadStats { bridge, errno } => Output::stderr(format!(
                "read of port counters of {} failed: {}\n",
                e(bridge),
                strerror(*errno)
            )),
            Error::Unsupported(c) => Output::stderr(format!(
                "brctl: command {} is not supported by brcompat\n",
                c.name()
            )),
            Error::Daemon(text) => Output::stderr(format!("{}\n", e(text))),
            Error::Devices(text) => {
                Output::stderr(format!("cannot list network devices: {}\n", e(text)))
            }
            Error::Usage(text) => Output::stderr(format!("brctl: {}\n", e(text))),
        }
    }

    /// The error an `addbr` answered with `errno` maps to.
    #[must_use]
    pub fn addbr(bridge: &str, errno: i32) -> Error {
        match errno {
            libc::EEXIST => Error::BridgeExists(bridge.to_owned()),
            _ => Error::AddBridge { errno },
        }
    }

    /// The error a `delbr` answered with `errno` maps to.
    #[must_use]
    pub fn delbr(bridge: &str, errno: i32) -> Error {
        match errno {
            libc::ENXIO => Error::NoSuchBridgeToDelete(bridge.to_owned()),
            libc::EBUSY => Error::BridgeStillUp(bridge.to_owned()),
            _ => Error::DeleteBridge {
                bridge: bridge.to_owned(),
                errno,
            },
        }
    }

    /// The error an `addif` answered with `errno` maps to.
    #[must_use]
    pub fn addif(bridge: &str, device: &str, errno: i32) -> Error {
        match errno {
            libc::EBUSY => Error::AlreadyMember {
                device: device.to_owned(),
                bridge: bridge.to_owned(),
            },
            libc::ELOOP => Error::IsABridge(device.to_owned()),
            _ => Error::AddInterface {
                device: device.to_owned(),
                bridge: bridge.to_owned(),
                errno,
            },
        }
    }

    /// The error a `delif` answered with `errno` maps to.
    #[must_use]
    pub fn delif(bridge: &str, device: &str, errno: i32) -> Error {
        match errno {
            libc::EINVAL => Error::NotAPort {
                device: device.to_owned(),
                bridge: bridge.to_owned(),
            },
            _ => Error::DeleteInterface {
                device: device.to_owned(),
                bridge: bridge.to_owned(),
                errno,
            },
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let out = self.render();
        let text = if out.stderr.is_empty() {
            out.stdout
        } else {
            out.stderr
        };
        f.write_str(text.lines().next().unwrap_or(""))
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers() {
        assert_eq!(format_timer(0), "   0.00");
        assert_eq!(format_timer(68), "   0.68");
        assert_eq!(format_timer(30_007), " 300.07");
        assert_eq!(format_timer(1_234_567), "12345.67");
    }

    #[test]
    fn bridge_ids() {
        let id = BridgeId {
            priority: 0x8000,
            mac: [2, 0, 0, 0, 0, 0xb0],
        };
        assert_eq!(id.to_string(), "8000.0200000000b0");
        let id = BridgeId {
            priority: 7,
            mac: [0xff; 6],
        };
        assert_eq!(id.to_string(), "0007.ffffffffffff");
    }

    #[test]
    fn names_are_escaped() {
        let out = Error::NoSuchInterface("n\u{1}x".into()).render();
        assert_eq!(out.stderr, "interface n\\u{1}x does not exist!\n");
        let out = show_all(&[BridgeInfo {
            name: "c\u{1b}[7mx".into(),
            id: BridgeId::default(),
            stp_enabled: false,
            interfaces: vec!["\u{202e}evil".into()],
        }]);
        assert!(!out.stdout.contains('\u{1b}'));
        assert!(!out.stdout.contains('\u{202e}'));
    }

    #[test]
    fn argument_parsing() {
        assert_eq!(
            parse_args::<&str>(&[]).unwrap(),
            Invocation::Help { status: 1 }
        );
        assert_eq!(
            parse_args(&["--help"]).unwrap(),
            Invocation::Help { status: 0 }
        );
        assert_eq!(
            parse_args(&["addbr", "br0", "extra"]).unwrap(),
            Invocation::Run(Request::Addbr("br0".into()))
        );
        assert_eq!(
            parse_args(&["addif", "br0"]).unwrap_err(),
            Error::WrongArgCount(Command::Addif)
        );
        assert_eq!(
            parse_args(&["stp", "br0", "on"]).unwrap_err(),
            Error::Unsupported(Command::Stp)
        );
        assert_eq!(
            parse_args(&["help"]).unwrap_err(),
            Error::UnknownCommand("help".into())
        );
        assert_eq!(
            parse_args(&["show", "a", "b"]).unwrap(),
            Invocation::Run(Request::Show(vec!["a".into(), "b".into()]))
        );
    }

    #[test]
    fn errnos_map_like_brctl() {
        assert_eq!(strerror(libc::EOPNOTSUPP), "Operation not supported");
        assert_eq!(strerror(libc::EPERM), "Operation not permitted");
        assert_eq!(
            Error::delif("v3a", "v1a", libc::EOPNOTSUPP).render().stderr,
            "can't delete v1a from v3a: Operation not supported\n"
        );
        assert_eq!(
            Error::addbr("x", libc::EINVAL).render().stderr,
            "add bridge failed: Invalid argument\n"
        );
        assert_eq!(
            Error::for_invalid_name(&Request::Addbr("a".repeat(16)), &"a".repeat(16)),
            Error::AddBridge {
                errno: libc::EINVAL
            }
        );
    }
}
