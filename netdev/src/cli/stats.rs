//! `netdev stats`: a table of the main counters of every device (or of
//! those named).

use std::collections::HashMap;

use netdev::Stats;

use super::format::{Align, Bytes, Escaped, Table};
use super::rates::{self, Sample};
use super::record::{Counters, StatsRecord};
use super::{host, CliError, Ctx};

pub(crate) fn run(
    ctx: &mut Ctx,
    names: &[String],
    interval: Option<std::time::Duration>,
    count: Option<u64>,
) -> Result<(), CliError> {
    if let Some(interval) = interval {
        return rates::run(ctx, interval, count, |ctx| {
            Ok(records(ctx, names)?
                .into_iter()
                .filter_map(|r| {
                    Some(Sample {
                        ifindex: r.ifindex?,
                        name: r.name,
                        stats: r.stats.0,
                    })
                })
                .collect())
        });
    }
    let records = records(ctx, names)?;
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
        let s = &r.stats.0;
        table
            .cell(Escaped(&r.name))
            .cell(s.rx_packets)
            .cell(Bytes(s.rx_bytes))
            .cell(s.rx_errors)
            .cell(s.rx_dropped)
            .cell(s.tx_packets)
            .cell(Bytes(s.tx_bytes))
            .cell(s.tx_errors)
            .cell(s.tx_dropped);
    }
    table.write(ctx.out())?;
    Ok(())
}

/// The counters of the devices named, or of every device if none is.
fn records(ctx: &mut Ctx, names: &[String]) -> Result<Vec<StatsRecord>, CliError> {
    if names.is_empty() {
        every_device(ctx)
    } else {
        named(ctx, names)
    }
}

/// Every device's counters: one listing for the names and one dump of all
/// counters, matched by ifindex. Nothing is opened, so 32,000 devices cost
/// two kernel dumps, not 32,000 opens and requests.
fn every_device(ctx: &mut Ctx) -> Result<Vec<StatsRecord>, CliError> {
    let links = host::links(ctx, "stats")?;
    let mut by_index: HashMap<u32, Stats> = HashMap::with_capacity(links.len());
    ctx.registry.all_stats("system", &mut |ifindex, s| {
        by_index.insert(ifindex, *s);
    })?;
    // A device created between the two dumps has no counters yet, and one
    // removed in between has no name: neither is "every device" any more.
    Ok(links
        .into_iter()
        .filter_map(|l| {
            let stats = by_index.remove(&l.ifindex)?;
            Some(StatsRecord {
                name: l.name,
                ifindex: Some(l.ifindex),
                stats: Counters(stats),
            })
        })
        .collect())
}

/// The counters of the devices named, in the order given.
fn named(ctx: &mut Ctx, names: &[String]) -> Result<Vec<StatsRecord>, CliError> {
    let mut records = Vec::new();
    for name in names {
        let dev = match ctx.open("stats", name) {
            Ok(dev) => dev,
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
    Ok(records)
}
