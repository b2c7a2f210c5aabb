//! Where the configuration lives: the [`ConfigBackend`] trait the daemon
//! uses, and its embedded implementation, [`FileStore`], a text file
//! (Open vSwitch's database is the other: [`crate::ovs::OvsBackend`]).
//!
//! # The file format
//!
//! One setting a line, `KEY=VALUE`, in the style of the flat
//! `ovs-vswitchd.conf` the first brcompat daemon edited, so `grep eth0`
//! finds every line about `eth0`:
//!
//! | line | meaning |
//! | --- | --- |
//! | `bridge.BR.port=PORT` | bridge `BR` has port `PORT`; `bridge.BR.port=BR` is its local port (every bridge has one; if it is left out it is implied) |
//! | `bonding.PORT.slave=IF` | port `PORT` is a bond with interface `IF` (one line per interface); a port without these lines has one interface of its own name |
//! | `vlan.PORT.tag=N` | port `PORT` is an access port of VLAN `N` (1 to 4095) |
//! | `vlan.PORT.fake-bridge=true` | port `PORT` (which has a tag) is a fake bridge: the bridge brctl sees for that VLAN of its parent |
//!
//! Lines starting with `#` are comments; blank lines and spaces around a
//! line are ignored. A name is everything between the fixed parts of a key
//! (`bridge.br0.100.port` is bridge `br0.100`). Names are as
//! [`validate_name`](crate::model::validate_name) allows; the two characters
//! of theirs that the syntax uses are written `%25` (`%`) and `%3D` (`=`).
//!
//! The daemon writes the file sorted: bridges by name, a blank line between
//! them; in each, its port lines (the local port first, then by name), then
//! the bonds' interface lines, then the VLAN lines, each by port name. The
//! same configuration always gives the same bytes, so diffs show changes
//! only. An example, bridge `br0` with port `eth0`, a bond `bond0` of
//! `eth1` and `eth2`, and a fake bridge `vlan10` for VLAN 10 with port
//! `eth3`:
//!
//! ```text
//! # brcompat configuration (see the brcompat crate's store module).
//! # brcompatd rewrites this file on every change: edit it only while
//! # brcompatd is stopped.
//!
//! bridge.br0.port=br0
//! bridge.br0.port=bond0
//! bridge.br0.port=eth0
//! bridge.br0.port=eth3
//! bridge.br0.port=vlan10
//! bonding.bond0.slave=eth1
//! bonding.bond0.slave=eth2
//! vlan.eth3.tag=10
//! vlan.vlan10.tag=10
//! vlan.vlan10.fake-bridge=true
//! ```
//!
//! A file that does not parse, or that breaks a rule of the model (a name
//! used twice, a fake bridge without a tag...), is refused with the number
//! of the line at fault, and left as it is.
//!
//! # Durability and locking
//!
//! Every change is written before it is acknowledged: the whole file goes
//! to `NAME.tmp` in the same directory, which is fsynced, renamed over
//! `NAME`, and the directory is fsynced. A crash at any moment leaves the
//! old file or the new one, never a mix; a stale `NAME.tmp` is removed at
//! the next start. The file is mode 0644 whatever the umask: it holds
//! bridge and interface names, which every user can see anyway
//! (`ip link`, `/sys/class/net`), and being readable lets people and
//! monitoring grep it without root; only root can change it.
//!
//! A [`FileStore`] takes an exclusive `flock` on `NAME.lock` beside the file
//! (mode 0600) when it opens, and holds it until it is dropped, that is for
//! the daemon's lifetime. The daemon keeps the configuration in memory and
//! writes it whole, so a lock per write would not be enough: another writer
//! between two of our writes would have its change overwritten. With the
//! lock held for the lifetime, a second daemon on the same file fails at
//! once with [`StoreError::Locked`], and the kernel releases the lock when
//! the holder dies, however it dies. The lock is on a file of its own
//! because the configuration file is replaced on every write (a lock on it
//! would stay with the old inode); the lock file is never removed, since
//! removing a lock file races with its next user.

use std::fmt;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use netdev_core::{Escaped, EthAddr};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use parking_lot::Mutex;

use crate::model::{Applied, Change, Config, ConfigError, VlanId};
use crate::proto::PortStats;

/// The mode of the configuration file (see the module documentation).
pub const CONFIG_MODE: u32 = 0o644;

/// The mode of the lock file.
pub const LOCK_MODE: u32 = 0o600;

const HEADER: &str = "\
# brcompat configuration (see the brcompat crate's store module).
# brcompatd rewrites this file on every change: edit it only while
# brcompatd is stopped.
";

/// A line of a configuration file that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Why a backend could not load or change the configuration.
#[derive(Debug)]
pub enum StoreError {
    /// The change itself was refused by the model; nothing was written.
    Config(ConfigError),
    /// The file does not parse; it was left untouched.
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        error: ParseError,
    },
    /// Another process (a second daemon?) holds the lock on the file.
    Locked {
        /// The configuration file.
        path: PathBuf,
        /// The lock file that is held.
        lock_path: PathBuf,
    },
    /// A system call failed. The change it was writing is not applied
    /// (after a failed directory fsync it may or may not survive a crash).
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A backend outside this process (Open vSwitch's database or switch)
    /// failed or did not answer. Whether the change is applied is said in
    /// `message`.
    Backend {
        /// What went wrong, naming the server or daemon.
        message: String,
        /// The positive errno of the reply (`ETIMEDOUT` when a daemon did
        /// not answer in time).
        errno: i32,
    },
}

impl StoreError {
    /// The positive errno of the brcompat reply for this error.
    pub fn errno(&self) -> i32 {
        match self {
            StoreError::Config(e) => e.errno(),
            StoreError::Parse { .. } => libc::EINVAL,
            StoreError::Locked { .. } => libc::EAGAIN,
            StoreError::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
            StoreError::Backend { errno, .. } => *errno,
        }
    }

    fn io(action: &'static str, path: &Path, source: io::Error) -> StoreError {
        StoreError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Config(e) => e.fmt(f),
            StoreError::Parse { path, error } => write!(f, "{}: {error}", path.display()),
            StoreError::Locked { path, lock_path } => write!(
                f,
                "{} is in use by another process (is another brcompatd running?): \
                 {} is locked",
                path.display(),
                lock_path.display()
            ),
            StoreError::Io {
                action,
                path,
                source,
            } => write!(f, "{action} {}: {source}", path.display()),
            StoreError::Backend { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Config(e) => Some(e),
            StoreError::Parse { error, .. } => Some(error),
            StoreError::Locked { .. } | StoreError::Backend { .. } => None,
            StoreError::Io { source, .. } => Some(source),
        }
    }
}

impl From<ConfigError> for StoreError {
    fn from(e: ConfigError) -> StoreError {
        StoreError::Config(e)
    }
}

/// Where the daemon's configuration lives: the embedded [`FileStore`], or
/// Open vSwitch's database ([`crate::ovs::OvsBackend`]). Shared between the
/// daemon's threads; every method is safe to call concurrently, and changes
/// are applied one at a time, in the order they take the backend's lock.
pub trait ConfigBackend: Send + Sync + fmt::Debug {
    /// Reads the configuration from storage again, makes it the current
    /// one and returns it. On error the current one stays.
    fn load(&self) -> Result<Config, StoreError>;

    /// Applies `change`, and makes it durable before returning: once this
    /// returns `Ok`, a crash does not lose it. A change the model refuses
    /// returns [`StoreError::Config`]; one that could not be stored returns
    /// the I/O error and is not applied.
    fn apply(&self, change: &Change) -> Result<Applied, StoreError>;

    /// The current configuration.
    fn snapshot(&self) -> Config;
}

/// The embedded backend: the configuration in a text file (see the module
/// documentation), locked for the store's lifetime and replaced atomically
/// on every change.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    tmp_path: PathBuf,
    dir: PathBuf,
    lock_path: PathBuf,
    _lock: Flock<File>,
    config: Mutex<Config>,
}

/// `path` with `suffix` added to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(suffix);
    path.with_file_name(name)
}

impl FileStore {
    /// Opens the configuration file `path`: takes the lock on `path.lock`
    /// (failing with [`StoreError::Locked`] if another process holds it),
    /// removes a temporary file left by a crash, and reads the file (a
    /// missing file is an empty configuration; one that does not parse is
    /// an error and is left untouched).
    pub fn open(path: impl AsRef<Path>) -> Result<FileStore, StoreError> {
        let path = path.as_ref().to_owned();
        if path.file_name().is_none() {
            return Err(StoreError::io(
                "opening",
                &path,
                io::Error::new(io::ErrorKind::InvalidInput, "not a file name"),
            ));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let lock_path = with_suffix(&path, ".lock");
        let tmp_path = with_suffix(&path, ".tmp");
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(LOCK_MODE)
            .open(&lock_path)
            .map_err(|e| StoreError::io("opening lock file", &lock_path, e))?;
        let lock = match Flock::lock(lock_file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((_, Errno::EWOULDBLOCK)) => return Err(StoreError::Locked { path, lock_path }),
            Err((_, errno)) => {
                return Err(StoreError::io("locking", &lock_path, errno.into()));
            }
        };
        match fs::remove_file(&tmp_path) {
            Ok(()) => log::info!("removed {}, left by a crash", tmp_path.display()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("removing", &tmp_path, e)),
        }
        let config = read_config(&path)?;
        Ok(FileStore {
            path,
            tmp_path,
            dir,
            lock_path,
            _lock: lock,
            config: Mutex::new(config),
        })
    }

    /// The configuration file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file beside it.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// Writes `config` to a temporary file, fsyncs it, renames it over the
    /// configuration file and fsyncs the directory.
    fn write(&self, config: &Config) -> Result<(), StoreError> {
        let text = format_config(config);
        let tmp = &self.tmp_path;
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(CONFIG_MODE)
            .open(tmp)
            .map_err(|e| StoreError::io("creating", tmp, e))?;
        // The umask may have taken bits off the mode: set it exactly.
        file.set_permissions(Permissions::from_mode(CONFIG_MODE))
            .map_err(|e| StoreError::io("setting the mode of", tmp, e))?;
        file.write_all(text.as_bytes())
            .map_err(|e| StoreError::io("writing", tmp, e))?;
        file.sync_all()
            .map_err(|e| StoreError::io("syncing", tmp, e))?;
        drop(file);
        fs::rename(tmp, &self.path).map_err(|e| StoreError::io("renaming over", &self.path, e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io("syncing directory", &self.dir, e))
    }
}

/// Reads and parses `path`; a missing file is an empty configuration.
fn read_config(path: &Path) -> Result<Config, StoreError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Config::new()),
        Err(e) => return Err(StoreError::io("reading", path, e)),
    };
    parse_config_bytes(&bytes).map_err(|error| StoreError::Parse {
        path: path.to_owned(),
        error,
    })
}

impl ConfigBackend for FileStore {
    fn load(&self) -> Result<Config, StoreError> {
        let mut current = self.config.lock();
        let config = read_config(&self.path)?;
        *current = config.clone();
        Ok(config)
    }

    fn apply(&self, change: &Change) -> Result<Applied, StoreError> {
        let mut current = self.config.lock();
        let mut next = current.clone();
        let applied = next.apply(change)?;
        if applied.changed {
            self.write(&next)?;
            *current = next;
        }
        Ok(applied)
    }

    fn snapshot(&self) -> Config {
        self.config.lock().clone()
    }
}

/// A name as the file writes it: `%` and `=` escaped.
fn escape(name: &str) -> String {
    name.replace('%', "%25").replace('=', "%3D")
}

/// A name as written in the file, unescaped.
fn unescape(text: &str) -> Result<String, String> {
    if !text.contains('%') {
        return Ok(text.to_owned());
    }
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = tail
                .get(..2)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("{text:?}: '%' must be followed by two hex digits"))?;
            bytes.push(hex);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).map_err(|_| format!("{text:?}: escapes that are not UTF-8"))
}

/// The file's text for `config`: sorted, so the same configuration always
/// gives the same text (see the module documentation).
pub fn format_config(config: &Config) -> String {
    let mut out = String::from(HEADER);
    for br in config.bridges() {
        let b = escape(br.name());
        out.push('\n');
        out.push_str(&format!("bridge.{b}.port={b}\n"));
        for port in br.ports().filter(|p| p.name() != br.name()) {
            out.push_str(&format!("bridge.{b}.port={}\n", escape(port.name())));
        }
        for port in br.ports().filter(|p| p.is_bond()) {
            let p = escape(port.name());
            for iface in port.interfaces() {
                out.push_str(&format!("bonding.{p}.slave={}\n", escape(iface)));
            }
        }
        for port in br.ports() {
            let p = escape(port.name());
            if let Some(tag) = port.tag() {
                out.push_str(&format!("vlan.{p}.tag={tag}\n"));
            }
            if port.is_fake_bridge() {
                out.push_str(&format!("vlan.{p}.fake-bridge=true\n"));
            }
        }
    }
    out
}

/// Parses the text of a configuration file (see the module
/// documentation). The first error is returned, with its line number.
pub fn parse_config(text: &str) -> Result<Config, ParseError> {
    parse_config_bytes(text.as_bytes())
}

/// One `bridge.BR.port=PORT` line.
struct PortLine {
    line: usize,
    bridge: String,
    port: String,
}

/// A setting of a port, and the line it came from.
struct Setting<T> {
    line: usize,
    value: T,
}

#[derive(Default)]
struct Parsed {
    ports: Vec<PortLine>,
    slaves: std::collections::BTreeMap<String, Vec<Setting<String>>>,
    tags: std::collections::BTreeMap<String, Setting<VlanId>>,
    fakes: std::collections::BTreeMap<String, Setting<bool>>,
}

fn strip<'a>(key: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    key.strip_prefix(prefix)?.strip_suffix(suffix)
}

fn parse_config_bytes(bytes: &[u8]) -> Result<Config, ParseError> {
    let mut parsed = Parsed::default();
    let mut seen_ports: std::collections::HashMap<(String, String), usize> =
        std::collections::HashMap::new();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = index + 1;
        let err = |message: String| ParseError { line, message };
        let text = std::str::from_utf8(raw)
            .map_err(|_| err("not UTF-8 text".into()))?
            .trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let Some((key, value)) = text.split_once('=') else {
            return Err(err(format!("{text:?}: expected KEY=VALUE")));
        };
        let name = |raw: &str| unescape(raw).map_err(&err);
        if let Some(br) = strip(key, "bridge.", ".port") {
            let (bridge, port) = (name(br)?, name(value)?);
            if let Some(first) = seen_ports.insert((bridge.clone(), port.clone()), line) {
                return Err(err(format!("repeats line {first}")));
            }
            parsed.ports.push(PortLine { line, bridge, port });
        } else if let Some(p) = strip(key, "bonding.", ".slave") {
            let value = name(value)?;
            parsed
                .slaves
                .entry(name(p)?)
                .or_default()
                .push(Setting { line, value });
        } else if let Some(p) = strip(key, "vlan.", ".tag") {
            let tag = value
                .parse::<u32>()
                .map_err(|_| format!("{value:?} is not a VLAN number"))
                .and_then(|n| VlanId::new(n).map_err(|e| e.to_string()))
                .map_err(&err)?;
            let setting = Setting { line, value: tag };
            if let Some(old) = parsed.tags.insert(name(p)?, setting) {
                return Err(err(format!("repeats the tag given on line {}", old.line)));
            }
        } else if let Some(p) = strip(key, "vlan.", ".fake-bridge") {
            let fake = match value {
                "true" => true,
                "false" => false,
                _ => return Err(err(format!("{value:?}: expected true or false"))),
            };
            let setting = Setting { line, value: fake };
            if let Some(old) = parsed.fakes.insert(name(p)?, setting) {
                return Err(err(format!("repeats the setting of line {}", old.line)));
            }
        } else {
            return Err(err(format!(
                "unknown key {key:?} (expected bridge.BR.port, bonding.PORT.slave, \
                 vlan.PORT.tag or vlan.PORT.fake-bridge)"
            )));
        }
    }
    build(parsed)
}

/// Builds the configuration from the parsed lines, through the model's own
/// operations, so a file obeys the same rules as requests do.
fn build(mut parsed: Parsed) -> Result<Config, ParseError> {
    let mut config = Config::new();
    for PortLine { line, bridge, port } in std::mem::take(&mut parsed.ports) {
        let at = |line: usize, e: ConfigError| ParseError {
            line,
            message: e.to_string(),
        };
        let err = |line: usize, message: String| ParseError { line, message };
        if config.bridge(&bridge).is_none() {
            config.add_bridge(&bridge).map_err(|e| at(line, e))?;
        }
        let slaves = parsed.slaves.remove(&port);
        let tag = parsed.tags.remove(&port);
        let fake = parsed.fakes.remove(&port).filter(|f| f.value);
        if port == bridge {
            let stray = [
                slaves.as_ref().and_then(|s| s.first()).map(|s| s.line),
                tag.as_ref().map(|t| t.line),
                fake.as_ref().map(|f| f.line),
            ];
            if let Some(l) = stray.into_iter().flatten().min() {
                return Err(err(
                    l,
                    format!(
                        "{} is the local port of bridge {}: it has no bond, tag or fake bridge",
                        Escaped(&port),
                        Escaped(&bridge)
                    ),
                ));
            }
            continue;
        }
        if let Some(fake) = fake {
            let Some(tag) = tag else {
                return Err(err(
                    fake.line,
                    format!(
                        "fake bridge {} has no vlan.{}.tag line",
                        Escaped(&port),
                        escape(&port)
                    ),
                ));
            };
            if let Some(s) = slaves.as_ref().and_then(|s| s.first()) {
                return Err(err(
                    s.line,
                    format!("fake bridge {} cannot be a bond", Escaped(&port)),
                ));
            }
            config
                .add_fake_bridge(&port, &bridge, tag.value)
                .map_err(|e| at(line, e))?;
            continue;
        }
        let slaves = slaves.unwrap_or_default();
        let ifaces: Vec<&str> = if slaves.is_empty() {
            vec![port.as_str()]
        } else {
            slaves.iter().map(|s| s.value.as_str()).collect()
        };
        config
            .add_port(&bridge, &port, &ifaces, tag.map(|t| t.value))
            .map_err(|e| {
                // Point at the interface's own line when it is the culprit.
                let culprit = match &e {
                    ConfigError::AlreadyAttached { name, .. }
                    | ConfigError::IsABridge { name }
                    | ConfigError::InvalidName { name, .. } => {
                        slaves.iter().find(|s| &s.value == name).map(|s| s.line)
                    }
                    _ => None,
                };
                at(culprit.unwrap_or(line), e)
            })?;
    }
    // Settings of ports that no bridge has.
    let orphans = parsed
        .slaves
        .iter()
        .flat_map(|(p, s)| s.iter().map(move |s| (s.line, p)))
        .chain(parsed.tags.iter().map(|(p, s)| (s.line, p)))
        .chain(parsed.fakes.iter().map(|(p, s)| (s.line, p)))
        .min();
    if let Some((line, port)) = orphans {
        return Err(ParseError {
            line,
            message: format!(
                "{} is not a port of any bridge (no bridge.BR.port={} line)",
                Escaped(port),
                escape(port)
            ),
        });
    }
    Ok(config)
}

/// One entry of a bridge's forwarding database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdbEntry {
    /// The learned MAC address.
    pub mac: EthAddr,
    /// The switch's port number it was learned on.
    pub port: u16,
    /// Its VLAN (0 for untagged).
    pub vlan: u16,
    /// How long since it was last seen.
    pub age: Duration,
    /// Whether it is the address of one of the bridge's own interfaces.
    pub is_local: bool,
}

/// The forwarding database of the switch's bridges, and the datapath's
/// per-port counters: the embedded switch provides one
/// ([`crate::embedded::SwitchFdb`]), so does Open vSwitch
/// ([`crate::ovs::OvsFdb`]).
pub trait FdbSource: Send + Sync + fmt::Debug {
    /// The entries of real bridge `bridge` on VLAN `vlan` (0 for untagged),
    /// in a stable order, skipping the first `skip` and returning at most
    /// `max`, so a reader that pages through a large table costs one pass
    /// in all.
    fn entries(
        &self,
        bridge: &str,
        vlan: u16,
        skip: usize,
        max: usize,
    ) -> io::Result<Vec<FdbEntry>>;

    /// The frame counters of every port of real bridge `bridge`, by port
    /// number. A source without a datapath answers `EOPNOTSUPP` (the
    /// default); a bridge the datapath does not run, `ENODEV`.
    fn port_stats(&self, bridge: &str) -> io::Result<Vec<PortStats>> {
        let _ = bridge;
        Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP))
    }
}

/// An [`FdbSource`] with no entries and no counters, for a daemon that
/// runs no datapath (`brcompatd --datapath none`).
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyFdb;

impl FdbSource for EmptyFdb {
    fn entries(
        &self,
        _bridge: &str,
        _vlan: u16,
        _skip: usize,
        _max: usize,
    ) -> io::Result<Vec<FdbEntry>> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests;
