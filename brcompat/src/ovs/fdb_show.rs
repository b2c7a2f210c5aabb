//! The text of `ovs-appctl fdb/show BRIDGE`, parsed.
//!
//! Open vSwitch 3.1 prints (`ofproto/ofproto-dpif.c`) a header line, then
//! one row per learned address, most recently used last:
//!
//! ```text
//!  port  VLAN  MAC                Age
//! LOCAL     0  ce:32:4c:eb:3b:47    0
//!     2     0  16:50:46:e3:c4:7e    1
//!     2     5  00:11:22:33:44:55  static
//! ```
//!
//! The port is the OpenFlow port number of the bridge port it was learned
//! on (the `ofport` column of its Interface row), or `LOCAL` for the
//! bridge's own port, whose OpenFlow number is 65534 (`OFPP_LOCAL`, also
//! its `ofport`): brctl prints these numbers, as seed 000 passed on what
//! `fdb/show` printed. The age is in seconds; `static` (an entry added with
//! `fdb/add`, which never ages) and `?` (unknown) read as 0.
//!
//! A row that does not parse is reported apart ([`FdbShow::malformed`]) and
//! the other rows are kept: one odd line does not cost the whole table.

use std::fmt;
use std::time::Duration;

use netdev_core::{Escaped, EthAddr};

use crate::store::FdbEntry;

/// The OpenFlow number of a bridge's local port (`OFPP_LOCAL`), which
/// `fdb/show` prints as `LOCAL`.
pub const OFPP_LOCAL: u16 = 0xfffe;

/// The header line `fdb/show` starts with (without its newline).
pub const HEADER: &str = " port  VLAN  MAC                Age";

/// A row of `fdb/show` that did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Its line number, from 1 (the header is line 1).
    pub line: usize,
    /// The row, as printed (escaped when shown).
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fdb/show line {} {}: {}",
            self.line,
            Escaped(&self.text),
            self.reason
        )
    }
}

/// What `fdb/show` said: the rows that parsed, in its order, and those
/// that did not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FdbShow {
    /// The entries (`is_local` false: `fdb/show` does not say; the daemon
    /// decides from the bridge's interfaces' addresses).
    pub entries: Vec<FdbEntry>,
    /// The rows skipped.
    pub malformed: Vec<Malformed>,
}

/// Parses the whole answer of `fdb/show`. The header line is optional (it
/// is recognised by its first word, `port`); blank lines are ignored.
pub fn parse_fdb_show(text: &str) -> FdbShow {
    let mut out = FdbShow::default();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || (i == 0 && trimmed.split_whitespace().next() == Some("port")) {
            continue;
        }
        match parse_row(trimmed) {
            Ok(entry) => out.entries.push(entry),
            Err(reason) => out.malformed.push(Malformed {
                line: i + 1,
                text: line.to_owned(),
                reason,
            }),
        }
    }
    out
}

/// One row: `PORT VLAN MAC AGE`, separated by spaces.
fn parse_row(row: &str) -> Result<FdbEntry, String> {
    let fields: Vec<&str> = row.split_ascii_whitespace().collect();
    let [port, vlan, mac, age] = fields[..] else {
        return Err(format!(
            "expected 4 fields (port, VLAN, MAC, age), found {}",
            fields.len()
        ));
    };
    let port = match port {
        "LOCAL" => OFPP_LOCAL,
        n => number(n, "port")?,
    };
    let vlan: u16 = number(vlan, "VLAN")?;
    if vlan > 4095 {
        return Err(format!("VLAN {vlan} is not 0 to 4095"));
    }
    if mac.len() != 17 {
        return Err(format!("MAC {mac:?} is not of the form xx:xx:xx:xx:xx:xx"));
    }
    let mac: EthAddr = mac.parse().map_err(|e| format!("{e}"))?;
    let age = match age {
        "static" | "?" => Duration::ZERO,
        n => Duration::from_secs(number::<u32>(n, "age")?.into()),
    };
    Ok(FdbEntry {
        mac,
        port,
        vlan,
        age,
        is_local: false,
    })
}

/// A decimal number (digits only: no sign, no spaces).
fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} {text:?} is not a number"));
    }
    text.parse()
        .map_err(|_| format!("{what} {text} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> EthAddr {
        s.parse().unwrap()
    }

    /// What Open vSwitch 3.1 printed here for a bridge with two veth ports
    /// after a ping, and a static entry added with `fdb/add`.
    const REAL: &str = " port  VLAN  MAC                Age
LOCAL     0  ce:32:4c:eb:3b:47    2
    1     0  76:7e:1b:9a:b2:b3    1
    2     0  16:50:46:e3:c4:7e    1
    2     5  00:11:22:33:44:55  static
";

    #[test]
    fn parses_what_ovs_prints() {
        let show = parse_fdb_show(REAL);
        assert!(show.malformed.is_empty(), "{:?}", show.malformed);
        let got: Vec<(u16, u16, EthAddr, u64)> = show
            .entries
            .iter()
            .map(|e| (e.port, e.vlan, e.mac, e.age.as_secs()))
            .collect();
        assert_eq!(
            got,
            [
                (65534, 0, mac("ce:32:4c:eb:3b:47"), 2),
                (1, 0, mac("76:7e:1b:9a:b2:b3"), 1),
                (2, 0, mac("16:50:46:e3:c4:7e"), 1),
                (2, 5, mac("00:11:22:33:44:55"), 0),
            ]
        );
        assert!(show.entries.iter().all(|e| !e.is_local));
    }

    #[test]
    fn empty_table_and_empty_answer() {
        assert_eq!(parse_fdb_show(&format!("{HEADER}\n")), FdbShow::default());
        assert_eq!(parse_fdb_show(""), FdbShow::default());
    }

    #[test]
    fn unknown_age_and_large_ports() {
        let show = parse_fdb_show(" 65279  4095  02:00:00:00:00:01    ?\n");
        let e = show.entries[0];
        assert_eq!((e.port, e.vlan, e.age), (65279, 4095, Duration::ZERO));
    }

    #[test]
    fn malformed_rows_are_skipped_and_reported() {
        let text = format!(
            "{HEADER}
    1     0  02:00:00:00:00:01    3
    x     0  02:00:00:00:00:02    3
    1  4096  02:00:00:00:00:03    3
    1     0  02:00:00:00:0:04     3
    1     0  02:00:00:00:00:05
    1     0  02:00:00:00:00:06   -1
70000     0  02:00:00:00:00:07    1
    1     0  zz:00:00:00:00:08    1
    1     0  02:00:00:00:00:09    1  extra
    2     0  02:00:00:00:00:0a    9
"
        );
        let show = parse_fdb_show(&text);
        let ports: Vec<u16> = show.entries.iter().map(|e| e.port).collect();
        assert_eq!(ports, [1, 2]);
        let lines: Vec<usize> = show.malformed.iter().map(|m| m.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7, 8, 9, 10]);
        let shown = show.malformed[0].to_string();
        assert!(
            shown.contains("line 3") && shown.contains("port \"x\" is not a number"),
            "{shown}"
        );
        assert!(show.malformed[1].reason.contains("4096"));
        assert!(show.malformed[5].reason.contains("out of range"));
    }

    #[test]
    fn a_header_only_counts_on_the_first_line() {
        let show = parse_fdb_show("    1     0  02:00:00:00:00:01    3\nport x\n");
        assert_eq!(show.entries.len(), 1);
        assert_eq!(show.malformed.len(), 1);
    }
}
