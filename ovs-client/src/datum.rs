//! RFC 7047 values (§5.1 `<atom>`, `<set>`, `<map>`, `<value>`), rows and
//! the replica of monitored tables.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// An OVSDB row UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub u128);

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            (v >> 96) as u32,
            (v >> 80) as u16,
            (v >> 64) as u16,
            (v >> 48) as u16,
            v & 0xffff_ffff_ffff
        )
    }
}

impl std::str::FromStr for Uuid {
    type Err = String;

    /// The 8-4-4-4-12 hexadecimal form, either case.
    fn from_str(s: &str) -> Result<Uuid, String> {
        let b = s.as_bytes();
        let ok = b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            });
        if !ok {
            return Err(format!("invalid UUID {s:?}"));
        }
        let hex: String = s.chars().filter(|c| *c != '-').collect();
        u128::from_str_radix(&hex, 16)
            .map(Uuid)
            .map_err(|_| format!("invalid UUID {s:?}"))
    }
}

impl Uuid {
    /// The JSON `["uuid", "…"]` form.
    pub fn to_json(&self) -> Value {
        json!(["uuid", self.to_string()])
    }
}

/// One scalar value.
#[derive(Debug, Clone, PartialEq)]
pub enum Atom {
    /// `integer`.
    Integer(i64),
    /// `real`.
    Real(f64),
    /// `boolean`.
    Boolean(bool),
    /// `string`.
    String(String),
    /// `uuid`: a reference to a row or a row's own id.
    Uuid(Uuid),
}

impl Atom {
    /// Decodes an `<atom>`; a `named-uuid` is only meaningful in requests
    /// and is refused here.
    pub fn from_json(v: &Value) -> Result<Atom, String> {
        match v {
            Value::Bool(b) => Ok(Atom::Boolean(*b)),
            Value::String(s) => Ok(Atom::String(s.clone())),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Ok(Atom::Integer(i))
                } else if n.is_u64() {
                    Err(format!("integer {n} out of range"))
                } else {
                    n.as_f64()
                        .map(Atom::Real)
                        .ok_or_else(|| format!("invalid number {n}"))
                }
            }
            Value::Array(a) if a.len() == 2 && a[0] == "uuid" => match &a[1] {
                Value::String(s) => s.parse().map(Atom::Uuid),
                other => Err(format!("invalid uuid atom {other}")),
            },
            other => Err(format!("invalid atom {}", short(other))),
        }
    }

    /// The JSON form.
    pub fn to_json(&self) -> Value {
        match self {
            Atom::Integer(i) => json!(i),
            Atom::Real(r) => json!(r),
            Atom::Boolean(b) => json!(b),
            Atom::String(s) => json!(s),
            Atom::Uuid(u) => u.to_json(),
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Atom::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Atom::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The UUID, if this is one.
    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            Atom::Uuid(u) => Some(*u),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Atom::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The number as a real; integers too, since OVS writes a real that has
    /// no fraction (`1.0`) as `1` and the wire carries no column type.
    pub fn as_real(&self) -> Option<f64> {
        match self {
            Atom::Real(r) => Some(*r),
            Atom::Integer(i) => Some(*i as f64),
            _ => None,
        }
    }
}

/// A column's value (`<value>`): one atom, a set, or a map. OVSDB writes a
/// set of exactly one element as the bare atom, so [`Datum::atoms`] treats
/// both alike.
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    /// A bare atom (a scalar column, or a one-element set).
    Atom(Atom),
    /// `["set", [...]]`.
    Set(Vec<Atom>),
    /// `["map", [[key, value], ...]]`.
    Map(Vec<(Atom, Atom)>),
}

impl Datum {
    /// Decodes a `<value>`.
    pub fn from_json(v: &Value) -> Result<Datum, String> {
        if let Value::Array(a) = v {
            if a.len() == 2 && a[0] == "set" {
                let Value::Array(items) = &a[1] else {
                    return Err(format!("invalid set {}", short(v)));
                };
                return items
                    .iter()
                    .map(Atom::from_json)
                    .collect::<Result<_, _>>()
                    .map(Datum::Set);
            }
            if a.len() == 2 && a[0] == "map" {
                let Value::Array(pairs) = &a[1] else {
                    return Err(format!("invalid map {}", short(v)));
                };
                return pairs
                    .iter()
                    .map(|p| match p {
                        Value::Array(kv) if kv.len() == 2 => {
                            Ok((Atom::from_json(&kv[0])?, Atom::from_json(&kv[1])?))
                        }
                        other => Err(format!("invalid map pair {}", short(other))),
                    })
                    .collect::<Result<_, _>>()
                    .map(Datum::Map);
            }
        }
        Atom::from_json(v).map(Datum::Atom)
    }

    /// The JSON form.
    pub fn to_json(&self) -> Value {
        match self {
            Datum::Atom(a) => a.to_json(),
            Datum::Set(s) => json!(["set", s.iter().map(Atom::to_json).collect::<Vec<_>>()]),
            Datum::Map(m) => json!([
                "map",
                m.iter()
                    .map(|(k, v)| json!([k.to_json(), v.to_json()]))
                    .collect::<Vec<_>>()
            ]),
        }
    }

    /// The elements of a set (a bare atom is a set of one; a map has none).
    pub fn atoms(&self) -> &[Atom] {
        match self {
            Datum::Atom(a) => std::slice::from_ref(a),
            Datum::Set(s) => s,
            Datum::Map(_) => &[],
        }
    }

    /// The pairs of a map (empty for anything else; OVS writes an empty map
    /// as `["map", []]` and, without the schema, an empty set `["set", []]`
    /// in a map column would read as a set: it is empty either way).
    pub fn pairs(&self) -> &[(Atom, Atom)] {
        match self {
            Datum::Map(m) => m,
            _ => &[],
        }
    }
}

/// A row: column name to value, for the columns monitored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    columns: BTreeMap<String, Datum>,
}

impl Row {
    /// Decodes a `<row>` object.
    pub fn from_json(v: &Value) -> Result<Row, String> {
        let Value::Object(obj) = v else {
            return Err(format!("a row must be an object, not {}", short(v)));
        };
        let mut columns = BTreeMap::new();
        for (name, value) in obj {
            let datum = Datum::from_json(value).map_err(|e| format!("column {name}: {e}"))?;
            columns.insert(name.clone(), datum);
        }
        Ok(Row { columns })
    }

    /// The JSON object form.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.columns
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect::<Map<_, _>>(),
        )
    }

    /// A column's value.
    pub fn get(&self, column: &str) -> Option<&Datum> {
        self.columns.get(column)
    }

    /// Every column and its value, by column name.
    pub fn columns(&self) -> impl Iterator<Item = (&str, &Datum)> {
        self.columns.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A string column (or a set of at most one string: `None` when empty).
    pub fn string(&self, column: &str) -> Option<&str> {
        self.get(column)?.atoms().first()?.as_str()
    }

    /// An integer column (or optional integer).
    pub fn integer(&self, column: &str) -> Option<i64> {
        self.get(column)?.atoms().first()?.as_integer()
    }

    /// A boolean column (or optional boolean).
    pub fn boolean(&self, column: &str) -> Option<bool> {
        self.get(column)?.atoms().first()?.as_bool()
    }

    /// The UUIDs of a reference column, a set or a single one.
    pub fn uuids(&self, column: &str) -> Vec<Uuid> {
        self.get(column)
            .map(|d| d.atoms().iter().filter_map(Atom::as_uuid).collect())
            .unwrap_or_default()
    }

    /// The strings of a set column.
    pub fn strings(&self, column: &str) -> Vec<&str> {
        self.get(column)
            .map(|d| d.atoms().iter().filter_map(Atom::as_str).collect())
            .unwrap_or_default()
    }

    /// The pairs of a map column (empty when absent).
    pub fn map(&self, column: &str) -> &[(Atom, Atom)] {
        self.get(column).map(Datum::pairs).unwrap_or_default()
    }

    /// A string-to-string map column (`external_ids`, `other_config`).
    pub fn string_map(&self, column: &str) -> BTreeMap<&str, &str> {
        self.map(column)
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?, v.as_str()?)))
            .collect()
    }
}

/// The rows of one table.
pub type Table = BTreeMap<Uuid, Row>;

/// The client's copy of the monitored tables. Snapshots are shared
/// (`Arc<Replica>`); an update copies only the tables it touches.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replica {
    tables: BTreeMap<String, Arc<Table>>,
}

impl Replica {
    /// The rows of `name`, by UUID (none for a table not monitored).
    pub fn table(&self, name: &str) -> impl Iterator<Item = (Uuid, &Row)> {
        self.tables
            .get(name)
            .into_iter()
            .flat_map(|t| t.iter().map(|(u, r)| (*u, r)))
    }

    /// One row.
    pub fn row(&self, table: &str, uuid: Uuid) -> Option<&Row> {
        self.tables.get(table)?.get(&uuid)
    }

    /// The row of a table that holds exactly one (`Open_vSwitch`); `None`
    /// when it holds none or several.
    pub fn single(&self, table: &str) -> Option<(Uuid, &Row)> {
        let mut rows = self.table(table);
        let first = rows.next()?;
        rows.next().is_none().then_some(first)
    }

    /// Names of the tables held.
    pub fn table_names(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    /// An empty replica holding the given (empty) tables.
    pub(crate) fn with_tables<'a>(names: impl IntoIterator<Item = &'a str>) -> Replica {
        Replica {
            tables: names
                .into_iter()
                .map(|n| (n.to_string(), Arc::default()))
                .collect(),
        }
    }

    /// Applies an RFC 7047 `<table-updates>` object (the `monitor` reply and
    /// each `update` notification): a row with only `new` is inserted, only
    /// `old` deleted, both modified (`new` holds every monitored column). A
    /// malformed update leaves the replica unchanged.
    pub fn apply_update(&mut self, updates: &Value) -> Result<(), String> {
        let Value::Object(tables) = updates else {
            return Err(format!(
                "table-updates must be an object, not {}",
                short(updates)
            ));
        };
        // Decode everything first so a bad update changes nothing.
        let mut decoded = Vec::new();
        for (table, rows) in tables {
            let Value::Object(rows) = rows else {
                return Err(format!("table {table}: row updates must be an object"));
            };
            for (uuid, update) in rows {
                let uuid: Uuid = uuid.parse().map_err(|e| format!("table {table}: {e}"))?;
                let Value::Object(update) = update else {
                    return Err(format!(
                        "table {table} row {uuid}: update must be an object"
                    ));
                };
                let new = match update.get("new") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(
                        Row::from_json(v).map_err(|e| format!("table {table} row {uuid}: {e}"))?,
                    ),
                };
                if new.is_none() && !update.contains_key("old") {
                    return Err(format!("table {table} row {uuid}: neither old nor new"));
                }
                decoded.push((table.as_str(), uuid, new));
            }
        }
        for (table, uuid, new) in decoded {
            let rows = Arc::make_mut(self.tables.entry(table.to_string()).or_default());
            match new {
                Some(row) => {
                    rows.insert(uuid, row);
                }
                None => {
                    rows.remove(&uuid);
                }
            }
        }
        Ok(())
    }
}

/// A value shortened for error messages (garbage can be large).
pub(crate) fn short(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 80 {
        let mut end = 77;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_round_trip() {
        let s = "0123abcd-4567-89ef-0a1b-2c3d4e5f6789";
        let u: Uuid = s.parse().unwrap();
        assert_eq!(u.to_string(), s);
        assert_eq!(s.to_uppercase().parse::<Uuid>().unwrap(), u);
        for bad in [
            "",
            "0123abcd-4567-89ef-0a1b-2c3d4e5f678",
            "0123abcd-4567-89ef-0a1b-2c3d4e5f67890",
            "0123abcd+4567-89ef-0a1b-2c3d4e5f6789",
            "0123abcg-4567-89ef-0a1b-2c3d4e5f6789",
            "+123abcd-4567-89ef-0a1b-2c3d4e5f6789",
        ] {
            assert!(bad.parse::<Uuid>().is_err(), "{bad}");
        }
    }

    #[test]
    fn datum_round_trip() {
        let u = "0123abcd-4567-89ef-0a1b-2c3d4e5f6789";
        for text in [
            r#"5"#,
            r#"-1.5"#,
            r#"true"#,
            r#""br0""#,
            r#"["uuid","0123abcd-4567-89ef-0a1b-2c3d4e5f6789"]"#,
            r#"["set",[]]"#,
            r#"["set",[1,2,3]]"#,
            r#"["map",[]]"#,
            r#"["map",[["a","b"],["c",["uuid","0123abcd-4567-89ef-0a1b-2c3d4e5f6789"]]]]"#,
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            let d = Datum::from_json(&v).unwrap();
            assert_eq!(d.to_json(), v, "{text}");
        }
        let d = Datum::from_json(&json!(["uuid", u])).unwrap();
        assert_eq!(d.atoms()[0].as_uuid().unwrap().to_string(), u);
        for bad in [
            json!(null),
            json!({}),
            json!(["set", 1]),
            json!(["map", [[1]]]),
            json!(["named-uuid", "x"]),
            json!(["uuid", "nope"]),
            json!(["set", [["set", []]]]),
            json!(u64::MAX),
        ] {
            assert!(Datum::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn row_helpers() {
        let u = "0123abcd-4567-89ef-0a1b-2c3d4e5f6789";
        let row = Row::from_json(&json!({
            "name": "br0",
            "ports": ["set", [["uuid", u], ["uuid", u]]],
            "tag": ["set", []],
            "one": ["uuid", u],
            "external_ids": ["map", [["k", "v"]]],
            "flood": true,
            "cfg": 7,
        }))
        .unwrap();
        assert_eq!(row.string("name"), Some("br0"));
        assert_eq!(row.uuids("ports").len(), 2);
        assert_eq!(row.uuids("one"), vec![u.parse().unwrap()]);
        assert_eq!(row.integer("tag"), None);
        assert_eq!(row.integer("cfg"), Some(7));
        assert_eq!(row.boolean("flood"), Some(true));
        assert_eq!(row.string_map("external_ids").get("k"), Some(&"v"));
        assert!(row.map("missing").is_empty());
        assert_eq!(Row::from_json(&row.to_json()).unwrap(), row);
    }

    #[test]
    fn updates() {
        let a = "00000000-0000-0000-0000-00000000000a";
        let b = "00000000-0000-0000-0000-00000000000b";
        let mut r = Replica::with_tables(["Bridge"]);
        r.apply_update(&json!({"Bridge": {a: {"new": {"name": "a"}}, b: {"new": {"name": "b"}}}}))
            .unwrap();
        let snapshot = r.clone();
        r.apply_update(&json!({"Bridge": {a: {"old": {"name": "a"}, "new": {"name": "A"}}, b: {"old": {"name": "b"}}}}))
            .unwrap();
        assert_eq!(snapshot.table("Bridge").count(), 2);
        assert!(snapshot.single("Bridge").is_none());
        assert!(snapshot.single("Port").is_none());
        let rows: Vec<_> = r
            .table("Bridge")
            .map(|(u, r)| (u.to_string(), r.string("name")))
            .collect();
        assert_eq!(rows, vec![(a.to_string(), Some("A"))]);
        assert_eq!(r.single("Bridge").unwrap().0.to_string(), a);
        // A bad row anywhere: nothing applied.
        let before = r.clone();
        assert!(r
            .apply_update(&json!({"Bridge": {b: {"new": {"name": "b"}}, a: {"new": 5}}}))
            .is_err());
        assert!(r.apply_update(&json!({"Bridge": {a: {}}})).is_err());
        assert!(r
            .apply_update(&json!({"Bridge": {"x": {"new": {}}}}))
            .is_err());
        assert!(r.apply_update(&json!([])).is_err());
        assert_eq!(r, before);
    }
}
