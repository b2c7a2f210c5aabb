//! `netdev stats --interval SECS`: per-device rates, like `ifstat` or
//! `sar -n DEV`: counters sampled every interval, each interval's increase
//! divided by the time that really passed between the two samples (a
//! monotonic clock, not the nominal interval).
//!
//! A series is keyed by ifindex: a device removed and created again under
//! the same name has a new ifindex, so its series starts over (nothing is
//! printed for it until its second sample) rather than showing a negative
//! or huge rate. A counter that went back is read as a 32-bit counter
//! that wrapped when both values fit in 32 bits (some drivers keep 32-bit
//! counters), and as a reset otherwise (the series starts over).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use netdev::Stats;

use super::format::{Align, Bytes, Escaped, Table};
use super::{CliError, Ctx};

/// One device's counters at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) ifindex: u32,
    pub(crate) name: String,
    pub(crate) stats: Stats,
}

/// One device's rates over one interval. The JSON names are documented in
/// `netdev stats --help`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Rate {
    pub(crate) name: String,
    pub(crate) ifindex: u32,
    /// Seconds between the two samples.
    pub(crate) interval: f64,
    pub(crate) rx_packets_per_sec: f64,
    pub(crate) rx_bytes_per_sec: f64,
    pub(crate) rx_errors_per_sec: f64,
    pub(crate) rx_dropped_per_sec: f64,
    pub(crate) tx_packets_per_sec: f64,
    pub(crate) tx_bytes_per_sec: f64,
    pub(crate) tx_errors_per_sec: f64,
    pub(crate) tx_dropped_per_sec: f64,
}

/// A JSON line: the rate with the time of its second sample.
#[derive(Debug, Serialize)]
struct RateLine<'a> {
    /// Local time, RFC 3339 with milliseconds.
    time: &'a str,
    #[serde(flatten)]
    rate: &'a Rate,
}

/// The increase of a counter from `old` to `new`: `None` for a reset.
fn increase(old: u64, new: u64) -> Option<u64> {
    const WRAP: u64 = 1 << 32;
    if new >= old {
        Some(new - old)
    } else if old < WRAP && new < WRAP {
        Some(WRAP - old + new)
    } else {
        None
    }
}

/// The previous sample of every device, to turn the next into rates.
#[derive(Debug, Default)]
pub(crate) struct Rates {
    previous: HashMap<u32, Stats>,
}

impl Rates {
    /// Takes the samples of the interval that ended after `elapsed`, and
    /// returns the rates of the devices that were also in the previous
    /// samples (in the order of `samples`). The first call returns none.
    pub(crate) fn update(&mut self, samples: &[Sample], elapsed: Duration) -> Vec<Rate> {
        let secs = elapsed.as_secs_f64();
        let mut out = Vec::with_capacity(samples.len());
        let mut previous = HashMap::with_capacity(samples.len());
        for s in samples {
            if let Some(old) = self.previous.get(&s.ifindex) {
                if let Some(r) = rate(s, old, secs) {
                    out.push(r);
                }
            }
            previous.insert(s.ifindex, s.stats);
        }
        self.previous = previous;
        out
    }
}

fn rate(s: &Sample, old: &Stats, secs: f64) -> Option<Rate> {
    if secs <= 0.0 {
        return None;
    }
    let new = &s.stats;
    let per_sec = |o: u64, n: u64| increase(o, n).map(|d| d as f64 / secs);
    Some(Rate {
        name: s.name.clone(),
        ifindex: s.ifindex,
        interval: secs,
        rx_packets_per_sec: per_sec(old.rx_packets, new.rx_packets)?,
        rx_bytes_per_sec: per_sec(old.rx_bytes, new.rx_bytes)?,
        rx_errors_per_sec: per_sec(old.rx_errors, new.rx_errors)?,
        rx_dropped_per_sec: per_sec(old.rx_dropped, new.rx_dropped)?,
        tx_packets_per_sec: per_sec(old.tx_packets, new.tx_packets)?,
        tx_bytes_per_sec: per_sec(old.tx_bytes, new.tx_bytes)?,
        tx_errors_per_sec: per_sec(old.tx_errors, new.tx_errors)?,
        tx_dropped_per_sec: per_sec(old.tx_dropped, new.tx_dropped)?,
    })
}

/// Samples with `sample` every `interval` until `count` intervals were
/// printed (forever without one). Intervals are kept on a fixed grid, so a
/// slow sample does not push every later one back.
pub(crate) fn run(
    ctx: &mut Ctx,
    interval: Duration,
    count: Option<u64>,
    mut sample: impl FnMut(&mut Ctx) -> Result<Vec<Sample>, CliError>,
) -> Result<(), CliError> {
    let mut rates = Rates::default();
    let start = Instant::now();
    rates.update(&sample(ctx)?, Duration::ZERO);
    let mut last = Instant::now();
    let mut printed = 0u64;
    let mut tick = 1u32;
    // When tick `n` is due on the grid (`None` past the clock's range).
    let due = |n: u32| interval.checked_mul(n).and_then(|d| start.checked_add(d));
    while count.map_or(true, |c| printed < c) {
        let next = due(tick).unwrap_or_else(|| Instant::now() + interval);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        // Past ticks missed while sampling are skipped, not made up.
        while due(tick).is_some_and(|d| d <= Instant::now()) {
            tick = tick.saturating_add(1);
        }
        let samples = sample(ctx)?;
        let now = Instant::now();
        let out = rates.update(&samples, now - last);
        last = now;
        print(ctx, &out)?;
        printed += 1;
    }
    Ok(())
}

fn print(ctx: &mut Ctx, rates: &[Rate]) -> Result<(), CliError> {
    let t = jiff::Zoned::now();
    if ctx.json {
        let time = t.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
        for rate in rates {
            ctx.print_json_line(&RateLine { time: &time, rate })?;
        }
        return Ok(());
    }
    let clock = t.strftime("%H:%M:%S").to_string();
    let mut table = Table::new(&[
        ("TIME", Align::Left),
        ("NAME", Align::Left),
        ("RX PKT/S", Align::Right),
        ("RX BYTES/S", Align::Right),
        ("RX ERR/S", Align::Right),
        ("RX DROP/S", Align::Right),
        ("TX PKT/S", Align::Right),
        ("TX BYTES/S", Align::Right),
        ("TX ERR/S", Align::Right),
        ("TX DROP/S", Align::Right),
    ]);
    for r in rates {
        table
            .cell(&clock)
            .cell(Escaped(&r.name))
            .cell(format_args!("{:.1}", r.rx_packets_per_sec))
            .cell(format_args!(
                "{}/s",
                Bytes(r.rx_bytes_per_sec.round() as u64)
            ))
            .cell(format_args!("{:.1}", r.rx_errors_per_sec))
            .cell(format_args!("{:.1}", r.rx_dropped_per_sec))
            .cell(format_args!("{:.1}", r.tx_packets_per_sec))
            .cell(format_args!(
                "{}/s",
                Bytes(r.tx_bytes_per_sec.round() as u64)
            ))
            .cell(format_args!("{:.1}", r.tx_errors_per_sec))
            .cell(format_args!("{:.1}", r.tx_dropped_per_sec));
    }
    table.write(ctx.out())?;
    ctx.print_line("")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ifindex: u32, name: &str, rx_packets: u64, rx_bytes: u64) -> Sample {
        Sample {
            ifindex,
            name: name.into(),
            stats: Stats {
                rx_packets,
                rx_bytes,
                tx_packets: rx_packets / 2,
                ..Stats::default()
            },
        }
    }

    /// A fake source: the samples of each interval, fed in turn.
    fn feed(rounds: &[(Vec<Sample>, Duration)]) -> Vec<Vec<Rate>> {
        let mut rates = Rates::default();
        rounds
            .iter()
            .map(|(samples, elapsed)| rates.update(samples, *elapsed))
            .collect()
    }

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn rates_divide_by_the_time_that_passed() {
        let out = feed(&[
            (vec![sample(2, "v0", 100, 1000)], Duration::ZERO),
            (
                vec![sample(2, "v0", 300, 5000)],
                Duration::from_millis(2000),
            ),
        ]);
        assert!(out[0].is_empty(), "no rate from one sample");
        let r = &out[1][0];
        assert_eq!((r.name.as_str(), r.ifindex), ("v0", 2));
        assert_eq!(r.interval, 2.0);
        assert_eq!(r.rx_packets_per_sec, 100.0);
        assert_eq!(r.rx_bytes_per_sec, 2000.0);
        assert_eq!(r.tx_packets_per_sec, 50.0);
        assert_eq!(r.rx_errors_per_sec, 0.0);
    }

    #[test]
    fn a_32_bit_counter_that_wraps_counts_on() {
        let near = u64::from(u32::MAX) - 9;
        let out = feed(&[
            (vec![sample(3, "e0", near, near)], Duration::ZERO),
            (vec![sample(3, "e0", 10, 90)], SEC),
        ]);
        let r = &out[1][0];
        assert_eq!(r.rx_packets_per_sec, 20.0);
        assert_eq!(r.rx_bytes_per_sec, 100.0);
    }

    #[test]
    fn a_64_bit_counter_that_goes_back_restarts_the_series() {
        let big = 1u64 << 40;
        let out = feed(&[
            (vec![sample(3, "e0", big, big)], Duration::ZERO),
            (vec![sample(3, "e0", 5, 5)], SEC),
            (vec![sample(3, "e0", 15, 25)], SEC),
        ]);
        assert!(out[1].is_empty(), "reset: no rate, never a huge one");
        assert_eq!(out[2][0].rx_packets_per_sec, 10.0);
        assert_eq!(out[2][0].rx_bytes_per_sec, 20.0);
    }

    #[test]
    fn a_re_created_device_starts_a_new_series() {
        let out = feed(&[
            (
                vec![sample(4, "v0", 1_000_000, 1 << 30), sample(5, "v1", 0, 0)],
                Duration::ZERO,
            ),
            // v0 deleted and created again: new ifindex, counters from 0.
            (vec![sample(5, "v1", 10, 10), sample(9, "v0", 3, 300)], SEC),
            (vec![sample(5, "v1", 20, 20), sample(9, "v0", 13, 400)], SEC),
        ]);
        assert_eq!(out[1].len(), 1);
        assert_eq!(out[1][0].name, "v1");
        let v0 = out[2].iter().find(|r| r.name == "v0").unwrap();
        assert_eq!((v0.ifindex, v0.rx_packets_per_sec), (9, 10.0));
        assert_eq!(v0.rx_bytes_per_sec, 100.0);
    }

    #[test]
    fn a_renamed_device_keeps_its_series() {
        let out = feed(&[
            (vec![sample(6, "old", 0, 0)], Duration::ZERO),
            (vec![sample(6, "new", 5, 5)], SEC),
        ]);
        assert_eq!(out[1][0].name, "new");
        assert_eq!(out[1][0].rx_packets_per_sec, 5.0);
    }

    #[test]
    fn no_time_passed_no_rate() {
        let out = feed(&[
            (vec![sample(2, "v0", 0, 0)], Duration::ZERO),
            (vec![sample(2, "v0", 5, 5)], Duration::ZERO),
        ]);
        assert!(out[1].is_empty());
    }

    #[test]
    fn increase_cases() {
        assert_eq!(increase(5, 5), Some(0));
        assert_eq!(increase(5, 7), Some(2));
        assert_eq!(increase(u64::from(u32::MAX), 0), Some(1));
        assert_eq!(increase(1 << 32, 0), None);
        assert_eq!(increase(u64::MAX, 0), None);
    }

    #[test]
    fn json_lines_carry_time_and_interval() {
        let out = feed(&[
            (vec![sample(2, "v\"0", 0, 0)], Duration::ZERO),
            (vec![sample(2, "v\"0", 3, 3)], Duration::from_millis(1500)),
        ]);
        let line = serde_json::to_string(&RateLine {
            time: "2026-11-30T12:00:00.000+00:00",
            rate: &out[1][0],
        })
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["time"], "2026-11-30T12:00:00.000+00:00");
        assert_eq!(v["name"], "v\"0");
        assert_eq!(v["interval"], 1.5);
        assert_eq!(v["rx_packets_per_sec"], 2.0);
        assert_eq!(v["tx_dropped_per_sec"], 0.0);
    }
}
