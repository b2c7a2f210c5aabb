//! `brcompatd`: the bridge-compatibility daemon (see `brcompat::daemon`).
//!
//! With `--datapath embedded` (the default) it runs the embedded switch
//! (`netdev_switch`): every configured bridge forwards frames between its
//! ports, its local port a `tap` device named after it; `--datapath none`
//! only keeps the configuration (for hosts where taps cannot be made). A
//! clean shutdown stops the switch, destroying its taps.
//!
//! With `--backend ovs --db unix:PATH` the configuration is a real Open
//! vSwitch's database and `ovs-vswitchd` is the datapath (no embedded
//! switch runs; `--config` and `--datapath` do not apply and are refused):
//! see `brcompat::ovs`.
//!
//! Exit status: 0 after a clean shutdown (SIGTERM, SIGINT), 1 when it
//! cannot start (one line on stderr: the socket or the configuration is in
//! use, a file cannot be read...), 2 for a usage error.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use brcompat::daemon::{Daemon, DaemonOptions, Server, ServerOptions};
use brcompat::embedded::{SwitchBackend, SwitchFdb};
use brcompat::ovs::{FdbOptions, OvsBackend, OvsFdb, OvsOptions};
use brcompat::store::{ConfigBackend, EmptyFdb, FdbSource, FileStore};
use brcompat::transport::{self, Access, ListenerOptions};
use clap::{CommandFactory, Parser, ValueEnum};
use log::LevelFilter;
use netdev_switch::{Switch, SwitchOptions};

/// Where the configuration lives unless `--config` says otherwise: state
/// the daemon rewrites, so under `/var/lib` rather than `/etc`.
const DEFAULT_CONFIG: &str = "/var/lib/brcompat/brcompat.conf";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Backend {
    /// The configuration in a text file (`--config`), written on every
    /// change before it is acknowledged.
    Embedded,
    /// A real Open vSwitch: the configuration in its database (`--db`),
    /// ovs-vswitchd the datapath.
    Ovs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Datapath {
    /// No datapath: the configuration only (`brctl showstats` answers
    /// "not supported").
    None,
    /// The embedded userspace switch: bridges forward frames.
    Embedded,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Level {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl From<Level> for LevelFilter {
    fn from(l: Level) -> LevelFilter {
        match l {
            Level::Off => LevelFilter::Off,
            Level::Error => LevelFilter::Error,
            Level::Warn => LevelFilter::Warn,
            Level::Info => LevelFilter::Info,
            Level::Debug => LevelFilter::Debug,
            Level::Trace => LevelFilter::Trace,
        }
    }
}

/// Bridge-compatibility daemon: answers brctl-style requests (add/delete
/// bridge and interface, list bridges and ports, read the forwarding
/// database) on a Unix socket, keeps the switch configuration, and removes
/// ports whose network device disappeared.
#[derive(Debug, Parser)]
#[command(name = "brcompatd", version)]
struct Args {
    /// The socket clients connect to.
    #[arg(long, value_name = "PATH", default_value = transport::DEFAULT_PATH)]
    socket: PathBuf,
    /// The configuration file (its directory is created if missing);
    /// embedded backend only [default: /var/lib/brcompat/brcompat.conf].
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Where the configuration lives.
    #[arg(long, value_enum, default_value = "embedded")]
    backend: Backend,
    /// What forwards the bridges' frames; embedded backend only (with
    /// `--backend ovs`, ovs-vswitchd does) [default: embedded].
    #[arg(long, value_enum)]
    datapath: Option<Datapath>,
    /// Open vSwitch's database: `unix:PATH` or `tcp:HOST:PORT`, or the
    /// comma-separated members of a clustered database (writes go to its
    /// leader). Required with `--backend ovs`.
    #[arg(long, value_name = "REMOTE[,REMOTE...]")]
    db: Option<String>,
    /// Open vSwitch's run directory, where ovs-vswitchd's pid file and
    /// control socket are (for the forwarding databases).
    #[arg(long, value_name = "DIR", default_value = brcompat::ovs::DEFAULT_RUNDIR)]
    ovs_rundir: PathBuf,
    /// The ovs-appctl program, run only when ovs-vswitchd's control socket
    /// cannot be used.
    #[arg(long, value_name = "PATH", default_value = brcompat::ovs::DEFAULT_APPCTL)]
    ovs_appctl: PathBuf,
    /// The datapath_type of the bridges brcompatd creates in Open vSwitch
    /// (`netdev`: the userspace datapath) [default: Open vSwitch's own].
    #[arg(long, value_name = "TYPE")]
    ovs_datapath_type: Option<String>,
    /// How long the database, and ovs-vswitchd applying a change, may take,
    /// in seconds (less than brctl's 5 s, so brctl gets the daemon's
    /// answer rather than its own timeout).
    #[arg(long, value_name = "SECS", default_value_t = brcompat::ovs::DEFAULT_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    ovs_timeout: u64,
    /// How long the switch remembers a MAC address not seen again, in
    /// seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    mac_ageing: u64,
    /// Receive buffer of each switch port, in KiB (default: the system's,
    /// a 32 MiB ring on Linux, lossless while the switch is preempted;
    /// smaller saves kernel memory per port but loses frames sooner in
    /// bursts).
    #[arg(long, value_name = "KIB", value_parser = clap::value_parser!(u64).range(64..=4_194_304))]
    port_buffer_kib: Option<u64>,
    /// Also serve the members of this group (name or gid); root is always
    /// served. The socket file becomes mode 0660, owned by the group.
    #[arg(long, value_name = "NAME|GID")]
    group: Option<String>,
    /// Check every SECS seconds for ports whose network device is gone and
    /// remove them (0: only when the kernel reports a removal).
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    prune_timeout: u64,
    /// How much to log on stderr.
    #[arg(long, value_enum, default_value = "info")]
    log_level: Level,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "brcompatd: {message}");
    ExitCode::from(1)
}

/// Refuses options that do not go with the backend (exit status 2).
fn check_usage(args: &Args) {
    let conflict = |message: &str| -> ! {
        Args::command()
            .error(clap::error::ErrorKind::ArgumentConflict, message)
            .exit()
    };
    match args.backend {
        Backend::Ovs => {
            if args.datapath.is_some() {
                conflict(
                    "--datapath is for --backend embedded: with --backend ovs, \
                     ovs-vswitchd is the datapath",
                );
            }
            if args.config.is_some() {
                conflict(
                    "--config is for --backend embedded: with --backend ovs, \
                     the configuration is in Open vSwitch's database (--db)",
                );
            }
            match args.db.as_deref().map(ovs_client::parse_remotes) {
                None => Args::command()
                    .error(
                        clap::error::ErrorKind::MissingRequiredArgument,
                        "--backend ovs needs --db unix:PATH (or tcp:HOST:PORT)",
                    )
                    .exit(),
                Some(Err(e)) => Args::command()
                    .error(clap::error::ErrorKind::InvalidValue, format!("--db: {e}"))
                    .exit(),
                Some(Ok(_)) => {}
            }
        }
        Backend::Embedded => {
            if args.db.is_some() || args.ovs_datapath_type.is_some() {
                conflict("--db and --ovs-datapath-type are for --backend ovs");
            }
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    check_usage(&args);
    netdev::logger::init_stderr("brcompatd", args.log_level.into());
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(message),
    }
}

fn run(args: &Args) -> Result<(), String> {
    let access = match &args.group {
        None => Access::RootOnly,
        Some(spec) => Access::group(spec).map_err(|e| e.to_string())?,
    };
    let store = match args.backend {
        Backend::Embedded => {
            let config = args.config.clone().unwrap_or_else(|| DEFAULT_CONFIG.into());
            if let Some(dir) = config.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("creating {}: {e}", dir.display()))?;
            }
            Some(FileStore::open(&config).map_err(|e| e.to_string())?)
        }
        Backend::Ovs => None,
    };
    // Bound before the switch starts: a second daemon on the same socket
    // stops here, before it touches any device.
    let listener = ListenerOptions::new(&args.socket)
        .group(access.gid())
        .bind()
        .map_err(|e| e.to_string())?;
    let registry = netdev::Registry::new();
    netdev::register_platform(&registry).map_err(|e| e.to_string())?;
    // Subscribed before the daemon or the switch opens any device (which
    // starts the notifier), so no removal goes unseen.
    let events = match registry.subscribe() {
        Ok(s) => Some(s),
        Err(e) => {
            log::warn!("no change events ({e}): relying on the periodic check");
            None
        }
    };
    let datapath = args.datapath.unwrap_or(Datapath::Embedded);
    let (backend, fdb): Backends = match (store, datapath) {
        (None, _) => ovs_backend(args)?,
        (Some(store), Datapath::None) => (Arc::new(store), Arc::new(EmptyFdb)),
        (Some(store), Datapath::Embedded) => {
            let options = SwitchOptions {
                ageing: Duration::from_secs(args.mac_ageing),
                port_buffer_bytes: args
                    .port_buffer_kib
                    .and_then(|k| usize::try_from(k * 1024).ok()),
                ..SwitchOptions::default()
            };
            let switch = Arc::new(
                Switch::new(registry.clone(), options)
                    .map_err(|e| format!("starting the switch: {e}"))?,
            );
            // Applies the stored configuration: the bridges' taps exist
            // before the daemon looks at the devices.
            let backend = SwitchBackend::new(store, switch.clone());
            (Arc::new(backend), Arc::new(SwitchFdb::new(switch)))
        }
    };
    let daemon = Daemon::new(backend, registry, fdb, DaemonOptions::default());
    let options = ServerOptions {
        access,
        prune_interval: (args.prune_timeout > 0).then(|| Duration::from_secs(args.prune_timeout)),
    };
    let server = Server::new(daemon, listener, events, options)
        .map_err(|e| format!("starting the event loop: {e}"))?;
    server
        .stop_on_signals()
        .map_err(|e| format!("installing signal handlers: {e}"))?;
    match args.backend {
        Backend::Embedded => log::info!(
            "serving on {} with configuration {} (datapath {datapath:?})",
            args.socket.display(),
            args.config
                .as_deref()
                .unwrap_or(DEFAULT_CONFIG.as_ref())
                .display(),
        ),
        Backend::Ovs => log::info!(
            "serving on {} with Open vSwitch at {}",
            args.socket.display(),
            args.db.as_deref().unwrap_or_default(),
        ),
    }
    let daemon = server.run().map_err(|e| format!("event loop: {e}"))?;
    // The daemon holds the last references to the switch: dropping it
    // stops the datapath and destroys the bridges' taps.
    drop(daemon);
    log::info!("stopped");
    Ok(())
}

/// A configuration backend and the forwarding databases that go with it.
type Backends = (Arc<dyn ConfigBackend>, Arc<dyn FdbSource>);

/// The Open vSwitch backend and forwarding databases of `args`.
fn ovs_backend(args: &Args) -> Result<Backends, String> {
    let spec = args.db.as_deref().unwrap_or_default();
    let remotes = ovs_client::parse_remotes(spec).map_err(|e| format!("--db: {e}"))?;
    let timeout = Duration::from_secs(args.ovs_timeout);
    let options = OvsOptions {
        datapath_type: args.ovs_datapath_type.clone(),
        timeout,
        ..OvsOptions::new(remotes)
    };
    let backend = OvsBackend::connect(&options).map_err(|e| e.to_string())?;
    let fdb = OvsFdb::new(FdbOptions {
        rundir: args.ovs_rundir.clone(),
        appctl: args.ovs_appctl.clone(),
        timeout,
    });
    Ok((Arc::new(backend), Arc::new(fdb)))
}
