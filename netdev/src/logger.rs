//! A logger for the programs built on the library: every record on stderr
//! as `PROGRAM: LEVEL: message`, so a warning the library rate-limits (a
//! notifier read that failed, say) reaches the person at the terminal.

use std::io::Write;
use std::sync::OnceLock;

use log::{LevelFilter, Log, Metadata, Record};

struct Stderr {
    program: &'static str,
}

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let level = record.level().as_str().to_ascii_lowercase();
            // Not eprintln!: a closed stderr must not turn a log line into
            // a panic.
            let _ = writeln!(
                std::io::stderr(),
                "{}: {level}: {}",
                self.program,
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

/// Installs the stderr logger for `program` at `level`. Does nothing if a
/// logger is already installed (the first one stays).
pub fn init_stderr(program: &'static str, level: LevelFilter) {
    static LOGGER: OnceLock<Stderr> = OnceLock::new();
    let logger = LOGGER.get_or_init(|| Stderr { program });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}
