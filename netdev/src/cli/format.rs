//! Text for people: units, placeholders, aligned tables and key-value
//! blocks. Pure functions, so they are unit-tested without a kernel.

use std::fmt::{self, Write as _};
use std::io::{self, Write};

use netdev::{Duplex, Flags};

/// What a value a device does not have looks like.
pub(crate) const NONE: &str = "-";

/// A byte count in binary units with one decimal: `512 B`, `1.2 KiB`,
/// `3.0 GiB` (written where it is displayed, without a string of its own).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bytes(pub(crate) u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        let n = self.0;
        if n < 1024 {
            return write!(f, "{n} B");
        }
        let mut value = n as f64 / 1024.0;
        let mut unit = 0;
        // Move up while rounding to one decimal would print 1024.0 or more.
        while (value * 10.0).round() >= 10240.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        write!(f, "{value:.1} {}", UNITS[unit])
    }
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

/// Flags as lower-case names joined by commas, `-` when none is set
/// (the text of [`Flags::names`], without its strings).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlagNames(pub(crate) Flags);

impl fmt::Display for FlagNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str(NONE);
        }
        for (i, (name, _)) in self.0.iter_names().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            for c in name.chars() {
                f.write_char(c.to_ascii_lowercase())?;
            }
        }
        Ok(())
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

/// [`or_none`] where it is displayed, without a string of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrNone<T>(pub(crate) Option<T>);

impl<T: fmt::Display> fmt::Display for OrNone<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str(NONE),
        }
    }
}

/// A counter for `show`: byte counters also in binary units once they are
/// large enough for that to help.
pub(crate) fn counter(name: &str, value: u64) -> String {
    if name.ends_with("_bytes") && value >= 1024 {
        format!("{value} ({})", Bytes(value))
    } else {
        value.to_string()
    }
}

// Text from outside the tool (device names, link kinds) is escaped for
// terminals by the library's own rules, so the tool and the library's
// error messages agree.
pub(crate) use netdev::{escape, Escaped};

/// [`Escaped`] text, or `-` for none.
pub(crate) fn escaped_or_none(s: Option<&str>) -> String {
    OrNone(s.map(Escaped)).to_string()
}

/// How a table column lines up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// A table with a header row, columns as wide as their widest cell, two
/// spaces between columns and no trailing blanks. Cells are kept one after
/// another in one string, so a row costs no allocation of its own.
#[derive(Debug)]
pub(crate) struct Table {
    columns: Vec<(&'static str, Align)>,
    /// Every cell's text, row after row.
    text: String,
    /// Where each cell ends in `text`.
    ends: Vec<usize>,
    /// The widest cell of each column so far, the header's included.
    widths: Vec<usize>,
}

/// How many characters `cell` shows (its length for ASCII, as most are).
fn width(cell: &str) -> usize {
    if cell.is_ascii() {
        cell.len()
    } else {
        cell.chars().count()
    }
}

impl Table {
    pub(crate) fn new(columns: &[(&'static str, Align)]) -> Table {
        Table {
            columns: columns.to_vec(),
            text: String::new(),
            ends: Vec::new(),
            widths: columns.iter().map(|c| width(c.0)).collect(),
        }
    }

    /// Adds the next cell, filling rows left to right: every row must
    /// have one cell per column.
    pub(crate) fn cell(&mut self, value: impl fmt::Display) -> &mut Table {
        let start = self.text.len();
        write!(self.text, "{value}").expect("writing to a String");
        let column = self.ends.len() % self.columns.len();
        let w = &mut self.widths[column];
        *w = (*w).max(width(&self.text[start..]));
        self.ends.push(self.text.len());
        self
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
        debug_assert_eq!(self.ends.len() % self.columns.len(), 0, "a short row");
        self.write_row(out, self.columns.iter().map(|c| c.0))?;
        let mut start = 0;
        let cells = self.ends.iter().map(|&end| {
            let cell = &self.text[start..end];
            start = end;
            cell
        });
        let mut cells = cells.peekable();
        while cells.peek().is_some() {
            self.write_row(out, cells.by_ref().take(self.columns.len()))?;
        }
        Ok(())
    }

    /// One line: cells padded to their column's width, two spaces apart,
    /// without the blanks a last left-aligned or empty cell would leave.
    fn write_row<'a>(
        &self,
        out: &mut impl Write,
        cells: impl Iterator<Item = &'a str>,
    ) -> io::Result<()> {
        const SPACES: &[u8; 64] = &[b' '; 64];
        let mut pending = 0; // blanks owed before the next visible text
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                pending += 2;
            }
            let pad = self.widths[i] - width(cell);
            let (before, after) = match self.columns[i].1 {
                Align::Left => (0, pad),
                Align::Right => (pad, 0),
            };
            pending += before;
            if !cell.is_empty() {
                while pending > 0 {
                    let n = pending.min(SPACES.len());
                    out.write_all(&SPACES[..n])?;
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
        let bytes = |n| Bytes(n).to_string();
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
        let flags = |f| FlagNames(f).to_string();
        assert_eq!(flags(Flags::UP | Flags::RUNNING), "up,running");
        assert_eq!(flags(Flags::empty()), "-");
        let all = Flags::all();
        assert_eq!(flags(all), all.names());
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
        assert_eq!(OrNone(Some(1500)).to_string(), "1500");
        assert_eq!(OrNone(None::<u32>).to_string(), "-");
        assert_eq!(count(1, "reset"), "1 reset");
        assert_eq!(count(0, "reset"), "0 resets");
        assert_eq!(counter("rx_bytes", 2048), "2048 (2.0 KiB)");
        assert_eq!(counter("rx_bytes", 100), "100");
        assert_eq!(counter("rx_packets", 2048), "2048");
    }

    #[test]
    fn outside_text_is_escaped_for_terminals() {
        assert!(matches!(escape("eth0"), std::borrow::Cow::Borrowed("eth0")));
        assert_eq!(Escaped("a\u{1b}b\u{1b}").to_string(), "a\\u{1b}b\\u{1b}");
        assert_eq!(escape("é-ü"), "é-ü");
        assert_eq!(escape("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(escape("t\tn\nr\r"), "t\\tn\\nr\\r");
        assert_eq!(escape("x\u{7f}\u{9b}"), "x\\u{7f}\\u{9b}");
        // A backslash is escaped too, so no name reads as another's escape.
        assert_eq!(escape("a\\u{1b}"), "a\\\\u{1b}");
        assert_eq!(escaped_or_none(None), "-");
        assert_eq!(escaped_or_none(Some("v\u{7}")), "v\\u{7}");
    }

    fn row(t: &mut Table, cells: &[&str]) {
        for c in cells {
            t.cell(c);
        }
    }

    #[test]
    fn tables_align_and_trim() {
        let mut t = Table::new(&[("NAME", Align::Left), ("MTU", Align::Right)]);
        row(&mut t, &["lo", "65536"]);
        row(&mut t, &["veth-long", "1500"]);
        row(&mut t, &["x", "-"]);
        assert_eq!(
            t.render(),
            "NAME         MTU\n\
             lo         65536\n\
             veth-long   1500\n\
             x              -\n"
        );
        let mut t = Table::new(&[("A", Align::Left), ("B", Align::Left)]);
        row(&mut t, &["long", ""]);
        assert_eq!(t.render(), "A     B\nlong\n");
        // An empty cell between two others keeps its column; widths count
        // characters, not bytes.
        let mut t = Table::new(&[("A", Align::Left), ("B", Align::Right), ("C", Align::Left)]);
        row(&mut t, &["é", "", "x"]);
        row(&mut t, &["ab", "100", ""]);
        assert_eq!(t.render(), "A     B  C\né        x\nab  100\n");
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
