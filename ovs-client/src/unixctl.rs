//! The protocol `ovs-appctl` speaks on a daemon's control socket
//! (`lib/unixctl.c`): one JSON-RPC request whose params are strings; the
//! reply's `result` is the command's output text, its `error` the daemon's
//! error text.

use crate::jsonrpc::{Connection, Stream};
use crate::Error;
use serde_json::Value;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Runs `method` with `params` on the daemon listening on `path` (e.g.
/// `/run/openvswitch/ovs-vswitchd.1234.ctl`) and returns its output.
///
/// A daemon's error reply is [`Error::Remote`] with its text (what
/// `ovs-appctl` prints, e.g. `"fdb/show" is not a valid command`); no reply
/// within `timeout` is [`Error::Timeout`] naming `path`.
pub fn call(
    path: &Path,
    method: &str,
    params: &[&str],
    timeout: Duration,
) -> Result<String, Error> {
    let name = format!("unix:{}", path.display());
    let stream = UnixStream::connect(path).map_err(|e| Error::io(&name, "connect", e))?;
    let mut conn = Connection::new(Stream::Unix(stream), &name, timeout)?;
    let result = conn.request(method, Value::from(params.to_vec()), timeout)?;
    Ok(match result {
        Value::String(s) => s,
        // Commands with JSON output (`--format json`) and odd daemons.
        other => other.to_string(),
    })
}

/// The control socket of `daemon` (e.g. `"ovs-vswitchd"`) in `rundir`:
/// `RUNDIR/DAEMON.PID.ctl`, PID read from `RUNDIR/DAEMON.pid` as
/// `ovs-appctl -t DAEMON` does.
pub fn control_socket(rundir: &Path, daemon: &str) -> Result<PathBuf, Error> {
    if daemon.is_empty() || daemon.contains('/') || daemon.starts_with('.') {
        return Err(Error::InvalidRemote(format!(
            "invalid daemon name {daemon:?}"
        )));
    }
    let pidfile = rundir.join(format!("{daemon}.pid"));
    let text = std::fs::read_to_string(&pidfile)
        .map_err(|e| Error::io(pidfile.display(), "read pid file", e))?;
    let pid: u32 = text
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::Protocol {
            remote: pidfile.display().to_string(),
            detail: format!("pid file does not hold a process id: {:?}", text.trim()),
        })?;
    Ok(rundir.join(format!("{daemon}.{pid}.ctl")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_socket_from_pid_file() {
        let dir = std::env::temp_dir().join(format!("ovs-client-unixctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ovs-vswitchd.pid"), "4242\n").unwrap();
        assert_eq!(
            control_socket(&dir, "ovs-vswitchd").unwrap(),
            dir.join("ovs-vswitchd.4242.ctl")
        );
        std::fs::write(dir.join("bad.pid"), "x\n").unwrap();
        assert!(matches!(
            control_socket(&dir, "bad"),
            Err(Error::Protocol { .. })
        ));
        assert!(matches!(
            control_socket(&dir, "missing"),
            Err(Error::Io { .. })
        ));
        assert!(control_socket(&dir, "../x").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
