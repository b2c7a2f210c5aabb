//! Text for people: units, placeholders, aligned tables and key-value
//! blocks. Pure functions, so they are unit-tested without a kernel.

use std::borrow::Cow;
use std::io::{self, Write};

use netdev::{Duplex, Flags};

/// What a value a device does not have looks like.
pub(crate) const NONE: &str = "-";

/// A byte count in binary units with one decimal: `512 B`, `1.2 KiB`,
/// `3.0 GiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    // Move up while rounding to one decimal would print 1024.0 or more.
    while (value * 10.0).round() >= 10240.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// A rate in Mb/s in the largest unit that keeps it readable, without
/// needless decimals: `100 Mb/s`, `2.5 Gb/s`, `10 Gb/s`, `1 Tb/s`.
pub(crate) fn speed(mbps: u64) -> String {
    let (value, unit) = match mbps {
        m if m >= 1_000_000 => (m as f64 / 1_000_000.0, "Tb/s"),
        m if m >= 1_000 => (m as f64 / 1_000.0, "Gb/s"),
        m => (m as f64, "Mb/s"),
    };
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} {unit}")
}

/// Speed and duplex together: `10 Gb/s full duplex`.
pub(crate) fn speed_duplex(mbps: u64, duplex: Option<&str>) -> String {
    match duplex {
        Some(d) => format!("{} {d} duplex", speed(mbps)),
        None => speed(mbps),
    }
}

/// `"full"` or `"half"`, as text and in JSON.
pub(crate) fn duplex(d: Duplex) -> &'static str {
    match d {
        Duplex::Full => "full",
        Duplex::Half => "half",
    }
}

/// Flags as lower-case names joined by commas, `-` when none is set.
pub(crate) fn flags(f: Flags) -> String {
    if f.is_empty() {
        NONE.to_owned()
    } else {
        f.names()
    }
}

/// Flags as a list of lower-case names, for JSON.
pub(crate) fn flag_list(f: Flags) -> Vec<String> {
    f.iter_names()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect()
}

/// `n thing` or `n things`.
pub(crate) fn count(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// The value, or `-` for one the device does not have.
pub(crate) fn or_none<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| NONE.to_owned(), |v| v.to_string())
}

/// A counter for `show`: byte counters also in binary units once they are
/// large enough for that to help.
pub(crate) fn counter(name: &str, value: u64) -> String {
    if name.ends_with("_bytes") && value >= 1024 {
        format!("{value} ({})", bytes(value))
    } else {
        value.to_string()
    }
}

/// Text from outside the tool (device names, link kinds) as it may go to
/// a terminal: control characters and backslashes escaped the way Rust
/// writes them (`\u{1b}`, `\t`, `\\`), so a device name cannot move the
/// cursor or recolour the screen, and an escaped name cannot pass for
/// another; everything else as it is. JSON carries the exact text.
pub(crate) fn escape(s: &str) -> Cow<'_, str> {
    let needs = |c: char| c.is_control() || c == '\\';
    if !s.contains(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`escape`]d text, or `-` for none.
pub(crate) fn escaped_or_none(s: Option<&str>) -> String {
    s.map_or_else(|| NONE.to_owned(), |s| escape(s).into_owned())
}

/// How a table column lines up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table with a header row, columns as wide as their widest cell, two
/// spaces between columns and no trailing blanks.
#[derive(Debug)]
pub(crate) struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; it must have one cell per column.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(cells);
    }

    /// The table as text (tests; commands write it with [`Table::write`]).
    #[cfg(test)]
    pub(crate) fn render(&self) -> String {
        let mut out = Vec::new();
        self.write(&mut out).expect("writing to a Vec");
        String::from_utf8(out).expect("cells are UTF-8")
    }

    /// Writes the header and the rows, one line each, to `out` (buffered
    /// by the caller): no line is built in a string of its own.
    pub(crate) fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let width = |cell: &str| {
            // Most cells are ASCII, whose width is their length.
            if cell.is_ascii() {
                cell.len()
            } else {
                cell.chars().count()
            }
        };
        let mut widths: Vec<usize> = self.columns.iter().map(|c| width(c.0)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let header = self.columns.iter().map(|c| c.0);
        self.write_row(out, &widths, header, width)?;
        for row in &self.rows {
            self.write_row(out, &widths, row.iter().map(String::as_str), width)?;
        }
        Ok(())
    }

    /// One line: cells padded to their column's width, two spaces apart,
    /// without the blanks a last left-aligned or empty cell would leave.
    fn write_row<'a>(
        &self,
        out: &mut impl Write,
        widths: &[usize],
        cells: impl Iterator<Item = &'a str>,
        width: impl Fn(&str) -> usize,
    ) -> io::Result<()> {
        const SPACES: &str = "                                                                ";
        let mut pending = 0; // blanks owed before the next visible text
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                pending += 2;
            }
            let pad = widths[i] - width(cell);
            let (before, after) = match self.columns[i].1 {
                Align::Left => (0, pad),
                Align::Right => (pad, 0),
            };
            pending += before;
            if !cell.is_empty() {
                while pending > 0 {
                    let n = pending.min(SPACES.len());
                    out.write_all(&SPACES.as_bytes()[..n])?;
                    pending -= n;
                }
                out.write_all(cell.as_bytes())?;
            }
            pending += after;
        }
        out.write_all(b"\n")
    }
}

/// `key  value` lines under a title, keys padded to the widest, indented
/// by two spaces.
pub(crate) fn block(title: &str, pairs: &[(String, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut out = format!("{title}\n");
    for (k, v) in pairs {
        out.push_str(format!("  {k:width$}  {v}").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_in_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1229), "1.2 KiB");
        assert_eq!(bytes(1_258_291), "1.2 MiB");
        assert_eq!(bytes(5 * 1024 * 1024 * 1024), "5.0 GiB");
        // Just under a unit boundary: 1023.96 KiB would round to 1024.0.
        assert_eq!(bytes(1024 * 1024 - 40), "1.0 MiB");
        assert_eq!(bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn speeds_without_needless_decimals() {
        assert_eq!(speed(10), "10 Mb/s");
        assert_eq!(speed(100), "100 Mb/s");
        assert_eq!(speed(1000), "1 Gb/s");
        assert_eq!(speed(2500), "2.5 Gb/s");
        assert_eq!(speed(10_000), "10 Gb/s");
        assert_eq!(speed(25_000), "25 Gb/s");
        assert_eq!(speed(1_000_000), "1 Tb/s");
        assert_eq!(speed(0), "0 Mb/s");
        assert_eq!(
            speed_duplex(10_000, Some(duplex(Duplex::Full))),
            "10 Gb/s full duplex"
        );
        assert_eq!(speed_duplex(100, None), "100 Mb/s");
    }

    #[test]
    fn flags_lower_case_or_dash() {
        assert_eq!(flags(Flags::UP | Flags::RUNNING), "up,running");
        assert_eq!(flags(Flags::empty()), "-");
        assert_eq!(
            flag_list(Flags::LOWER_UP | Flags::BROADCAST),
            ["broadcast", "lower_up"]
        );
        assert!(flag_list(Flags::empty()).is_empty());
    }

    #[test]
    fn placeholders_counts_and_counters() {
        assert_eq!(or_none(Some(1500)), "1500");
        assert_eq!(or_none(None::<u32>), "-");
        assert_eq!(count(1, "reset"), "1 reset");
        assert_eq!(count(0, "reset"), "0 resets");
        assert_eq!(counter("rx_bytes", 2048), "2048 (2.0 KiB)");
        assert_eq!(counter("rx_bytes", 100), "100");
        assert_eq!(counter("rx_packets", 2048), "2048");
    }

    #[test]
    fn tables_align_and_trim() {
        let mut t = Table::new(&[("NAME", Align::Left), ("MTU", Align::Right)]);
        t.row(vec!["lo".into(), "65536".into()]);
        t.row(vec!["veth-long".into(), "1500".into()]);
        t.row(vec!["x".into(), "-".into()]);
        assert_eq!(
            t.render(),
            "NAME         MTU\n\
             lo         65536\n\
             veth-long   1500\n\
             x              -\n"
        );
        let mut t = Table::new(&[("A", Align::Left), ("B", Align::Left)]);
        t.row(vec!["long".into(), "".into()]);
        assert_eq!(t.render(), "A     B\nlong\n");
    }

    #[test]
    fn blocks_pad_keys() {
        let pairs = [
            ("mtu".to_owned(), "1500".to_owned()),
            ("carrier".to_owned(), "up".to_owned()),
            ("ipv6".to_owned(), String::new()),
        ];
        assert_eq!(
            block("v0", &pairs),
            "v0\n  mtu      1500\n  carrier  up\n  ipv6\n"
        );
    }
}
