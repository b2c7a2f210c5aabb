//! `netdev stats`: a table of the main counters of every device (or of
//! those named).

use netdev::ErrorKind;

use super::format::{self, Align, Table};
use super::record::{Counters, StatsRecord};
use super::{host, CliError, Ctx};

pub(crate) fn run(ctx: &mut Ctx, names: &[String]) -> Result<(), CliError> {
    let all = names.is_empty();
    let names: Vec<String> = if all {
        host::links("stats")?.into_iter().map(|l| l.name).collect()
    } else {
        names.to_vec()
    };
    let mut records = Vec::new();
    for name in &names {
        let dev = match ctx.open("stats", name) {
            Ok(dev) => dev,
            // Listed a moment ago, gone now: it is not "all devices" any more.
            Err(CliError::Netdev(e)) if all && e.kind() == &ErrorKind::NoDevice => continue,
            Err(e @ CliError::Unsupported(_)) => return Err(e),
            Err(e) => {
                ctx.warn(e);
                continue;
            }
        };
        let ifindex = ctx.value(dev.ifindex());
        match dev.stats() {
            Ok(s) => records.push(StatsRecord {
                name: name.clone(),
                ifindex,
                stats: Counters(s),
            }),
            Err(e) => ctx.warn(e),
        }
    }
    if ctx.json {
        ctx.print_json(&records)?;
        return Ok(());
    }
    let mut table = Table::new(&[
        ("NAME", Align::Left),
        ("RX PACKETS", Align::Right),
        ("RX BYTES", Align::Right),
        ("RX ERRORS", Align::Right),
        ("RX DROPPED", Align::Right),
        ("TX PACKETS", Align::Right),
        ("TX BYTES", Align::Right),
        ("TX ERRORS", Align::Right),
        ("TX DROPPED", Align::Right),
    ]);
    for r in &records {
        let s = r.stats.0;
        table.row(vec![
            r.name.clone(),
            s.rx_packets.to_string(),
            format::bytes(s.rx_bytes),
            s.rx_errors.to_string(),
            s.rx_dropped.to_string(),
            s.tx_packets.to_string(),
            format::bytes(s.tx_bytes),
            s.tx_errors.to_string(),
            s.tx_dropped.to_string(),
        ]);
    }
    ctx.print(&table.render())?;
    Ok(())
}
