//! The library's log messages on stderr (see [`netdev::logger`]).
//! `NETDEV_LOG` sets the level: `error`, `warn` (the default), `info`,
//! `debug`, `trace` or `off`.

use log::LevelFilter;

/// Installs the logger, at the level `NETDEV_LOG` names (warn if unset or
/// not a level).
pub(crate) fn init() {
    let level = std::env::var("NETDEV_LOG")
        .ok()
        .and_then(|v| v.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::Warn);
    netdev::logger::init_stderr("netdev", level);
}
