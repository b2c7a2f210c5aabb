//! `netdev show IF...`: everything the library knows about some devices.

use netdev::Netdev;

use super::format;
use super::record::{Counters, DeviceRecord};
use super::{CliError, Ctx};

pub(crate) fn run(ctx: &mut Ctx, names: &[String], all_counters: bool) -> Result<(), CliError> {
    let mut records = Vec::new();
    for name in names {
        match ctx.open("show", name) {
            Ok(dev) => records.push(gather(ctx, &dev)),
            Err(e @ CliError::Unsupported(_)) => return Err(e),
            Err(e) => ctx.warn(e),
        }
    }
    if ctx.json {
        ctx.print_json(&records)?;
        return Ok(());
    }
    let blocks: Vec<String> = records.iter().map(|r| text(r, all_counters)).collect();
    ctx.print(&blocks.join("\n"))?;
    Ok(())
}

/// Reads every value once. A value the device does not have stays `None`;
/// one that fails to read is reported and stays `None` too, so one bad
/// getter does not hide the rest. Kind and master come from the device's
/// own status (a request or two about this device), not from a listing of
/// the whole host, so one device among 32,000 costs what it costs alone.
fn gather(ctx: &mut Ctx, dev: &Netdev) -> DeviceRecord {
    let ifindex = ctx.value(dev.ifindex());
    let mut status = ctx.value(dev.status()).unwrap_or_default();
    let speed = ctx.value(dev.speed());
    DeviceRecord {
        name: dev.name().to_string(),
        ifindex,
        kind: status.remove("kind"),
        master: status.remove("master"),
        mac: ctx.value(dev.mac()).map(|m| m.to_string()),
        mtu: ctx.value(dev.mtu()),
        flags: ctx.value(dev.flags()).map(format::flag_list),
        carrier: ctx.value(dev.carrier()),
        carrier_resets: ctx.value(dev.carrier_resets()),
        speed_mbps: speed.map(|s| s.mbps),
        duplex: speed.and_then(|s| s.duplex).map(format::duplex),
        ipv4: ctx
            .value(dev.in4())
            .map(|a| a.iter().map(ToString::to_string).collect()),
        ipv6: ctx
            .value(dev.in6())
            .map(|a| a.iter().map(ToString::to_string).collect()),
        stats: ctx.value(dev.stats()).map(Counters),
    }
}

/// The record as an aligned block of `key  value` lines.
fn text(r: &DeviceRecord, all_counters: bool) -> String {
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut row = |k: &str, v: String| rows.push((k.to_owned(), v));
    row("ifindex", format::or_none(r.ifindex));
    row("kind", format::escaped_or_none(r.kind.as_deref()));
    row("master", format::escaped_or_none(r.master.as_deref()));
    row("mac", format::or_none(r.mac.as_ref()));
    row("mtu", format::or_none(r.mtu));
    row(
        "flags",
        match &r.flags {
            Some(f) if !f.is_empty() => f.join(","),
            _ => format::NONE.to_owned(),
        },
    );
    let carrier = match (r.carrier, r.carrier_resets) {
        (Some(c), resets) => {
            let state = if c { "up" } else { "down" };
            match resets {
                Some(n) => format!("{state}, {}", format::count(n, "reset")),
                None => state.to_owned(),
            }
        }
        (None, _) => format::NONE.to_owned(),
    };
    row("carrier", carrier);
    let speed = r.speed_mbps.map(|m| format::speed_duplex(m, r.duplex));
    row("speed", format::or_none(speed));
    for (key, addrs) in [("ipv4", &r.ipv4), ("ipv6", &r.ipv6)] {
        match addrs.as_deref() {
            Some([first, rest @ ..]) => {
                row(key, first.clone());
                for a in rest {
                    row("", a.clone());
                }
            }
            _ => row(key, format::NONE.to_owned()),
        }
    }
    match &r.stats {
        Some(Counters(s)) => {
            let shown: Vec<(&str, u64)> = s
                .fields()
                .into_iter()
                .filter(|&(_, v)| all_counters || v != 0)
                .collect();
            if shown.is_empty() {
                row("counters", "all zero".to_owned());
            }
            for (name, value) in shown {
                row(name, format::counter(name, value));
            }
        }
        None => row("counters", format::NONE.to_owned()),
    }
    format::block(&format::escape(&r.name), &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netdev::Stats;

    #[test]
    fn text_block_with_dashes_and_nonzero_counters() {
        let r = DeviceRecord {
            name: "lo".into(),
            ifindex: Some(1),
            mac: Some("00:00:00:00:00:00".into()),
            mtu: Some(65536),
            flags: Some(vec!["up".into(), "loopback".into()]),
            carrier: Some(true),
            carrier_resets: Some(1),
            ipv4: Some(vec!["127.0.0.1/8".into()]),
            ipv6: Some(vec!["::1".into(), "fe80::1".into()]),
            stats: Some(Counters(Stats {
                rx_packets: 2,
                rx_bytes: 4096,
                ..Stats::default()
            })),
            ..DeviceRecord::default()
        };
        assert_eq!(
            text(&r, false),
            "lo\n\
            \x20 ifindex     1\n\
            \x20 kind        -\n\
            \x20 master      -\n\
            \x20 mac         00:00:00:00:00:00\n\
            \x20 mtu         65536\n\
            \x20 flags       up,loopback\n\
            \x20 carrier     up, 1 reset\n\
            \x20 speed       -\n\
            \x20 ipv4        127.0.0.1/8\n\
            \x20 ipv6        ::1\n\
            \x20             fe80::1\n\
            \x20 rx_packets  2\n\
            \x20 rx_bytes    4096 (4.0 KiB)\n"
        );
        let all = text(&r, true);
        assert!(
            all.lines()
                .any(|l| l.split_whitespace().eq(["tx_window_errors", "0"])),
            "{all}"
        );
    }

    #[test]
    fn text_block_for_a_quiet_device_with_speed() {
        let r = DeviceRecord {
            name: "v0".into(),
            carrier: Some(false),
            speed_mbps: Some(10_000),
            duplex: Some("full"),
            ipv4: Some(vec![]),
            stats: Some(Counters(Stats::default())),
            ..DeviceRecord::default()
        };
        let t = text(&r, false);
        assert!(t.contains("  carrier   down\n"), "{t}");
        assert!(t.contains("  speed     10 Gb/s full duplex\n"), "{t}");
        assert!(t.contains("  ipv4      -\n"), "{t}");
        assert!(t.contains("  counters  all zero\n"), "{t}");
    }
}
