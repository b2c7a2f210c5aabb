//! `netdev export`: the host's interface counters and state over HTTP, in
//! the Prometheus text format or OpenMetrics, with node_exporter's metric
//! names. [`collect`] keeps the devices and reads them, [`expose`] writes
//! the formats, [`http`] serves them.

mod collect;
mod expose;
mod http;

use std::net::{SocketAddr, TcpListener};

use regex::Regex;

use super::{CliError, Ctx};

pub(crate) use collect::Filter;

/// The address served when none is given: loopback only, the port after
/// node_exporter's 9100.
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:9101";

/// How many connections are served at once unless told otherwise.
pub(crate) const DEFAULT_MAX_CONNECTIONS: u32 = 512;

/// A device pattern as node_exporter takes it (it matches anywhere in the
/// name unless anchored); clap shows the rejected value.
pub(crate) fn pattern(s: &str) -> Result<Regex, String> {
    Regex::new(s).map_err(|e| e.to_string())
}

pub(crate) fn run(
    ctx: &mut Ctx,
    listen: SocketAddr,
    filter: Filter,
    max_connections: u32,
) -> Result<(), CliError> {
    if ctx.registry.class("system").is_none() {
        return Err(CliError::Unsupported("export"));
    }
    let collector = match collect::Collector::new(ctx.registry.clone(), filter) {
        Err(e) if e.is_not_supported() => return Err(CliError::Unsupported("export")),
        r => r?,
    };
    let listening =
        |e: std::io::Error| CliError::Other(format!("export: listening on {listen}: {e}"));
    let listener = TcpListener::bind(listen).map_err(listening)?;
    let bound = listener.local_addr().map_err(listening)?;
    // Said when ready, with the port really bound (`--listen ADDR:0`).
    eprintln!(
        "netdev: exporting {} devices on http://{bound}/metrics",
        collector.device_count()
    );
    http::serve(listener, collector, max_connections)
        .map_err(|e| CliError::Other(format!("export: {e}")))
}
