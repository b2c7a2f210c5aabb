//! The library's log messages on stderr, so a warning it rate-limits (a
//! notifier read that failed, say) reaches the person at the terminal.
//! `NETDEV_LOG` sets the level: `error`, `warn` (the default), `info`,
//! `debug`, `trace` or `off`.

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let level = record.level().as_str().to_ascii_lowercase();
            // Not eprintln!: a closed stderr must not turn a log line into
            // a panic.
            let _ = writeln!(std::io::stderr(), "netdev: {level}: {}", record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger, at the level `NETDEV_LOG` names (warn if unset or
/// not a level).
pub(crate) fn init() {
    let level = std::env::var("NETDEV_LOG")
        .ok()
        .and_then(|v| v.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::Warn);
    if log::set_logger(&Stderr).is_ok() {
        log::set_max_level(level);
    }
}
