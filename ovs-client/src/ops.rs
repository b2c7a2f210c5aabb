//! Builders for RFC 7047 §5.2 transaction operations and the JSON encodings
//! they take. Each returns a `serde_json::Value` for [`Client::transact`](crate::Client::transact).
//!
//! ```
//! use ovs_client::ops;
//! use serde_json::json;
//! let insert = ops::insert("Bridge", json!({"name": "br0"}), Some("new_br"));
//! let link = ops::mutate(
//!     "Open_vSwitch",
//!     vec![],
//!     vec![ops::mutation("bridges", "insert", ops::set(vec![ops::named_uuid("new_br")]))],
//! );
//! assert_eq!(insert["uuid-name"], "new_br");
//! assert_eq!(link["mutations"][0][2], json!(["set", [["named-uuid", "new_br"]]]));
//! ```

use crate::Uuid;
use serde_json::{json, Value};

/// `["uuid", "…"]`: a reference to an existing row.
pub fn uuid(u: Uuid) -> Value {
    u.to_json()
}

/// `["named-uuid", name]`: a reference to a row inserted by the same
/// transaction with `uuid-name` `name`.
pub fn named_uuid(name: &str) -> Value {
    json!(["named-uuid", name])
}

/// `["set", [...]]`.
pub fn set(atoms: Vec<Value>) -> Value {
    json!(["set", atoms])
}

/// `["map", [[k, v], ...]]`.
pub fn map(pairs: Vec<(Value, Value)>) -> Value {
    json!([
        "map",
        pairs
            .into_iter()
            .map(|(k, v)| json!([k, v]))
            .collect::<Vec<_>>()
    ])
}

/// A string-to-string map (`external_ids`, `other_config`).
pub fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    map(pairs
        .into_iter()
        .map(|(k, v)| (json!(k), json!(v)))
        .collect())
}

/// A condition `[column, function, value]` (`==`, `!=`, `includes`, ...).
pub fn condition(column: &str, function: &str, value: Value) -> Value {
    json!([column, function, value])
}

/// The where-clause selecting one row by UUID.
pub fn where_uuid(u: Uuid) -> Vec<Value> {
    vec![condition("_uuid", "==", uuid(u))]
}

/// A mutation `[column, mutator, value]` (`insert`, `delete`, `+=`, ...).
pub fn mutation(column: &str, mutator: &str, value: Value) -> Value {
    json!([column, mutator, value])
}

/// `insert`, with a `uuid-name` when other operations refer to the new row.
pub fn insert(table: &str, row: Value, uuid_name: Option<&str>) -> Value {
    let mut op = json!({"op": "insert", "table": table, "row": row});
    if let Some(name) = uuid_name {
        op["uuid-name"] = json!(name);
    }
    op
}

/// `update`: set the columns of `row` in every row matching `where_`.
pub fn update(table: &str, where_: Vec<Value>, row: Value) -> Value {
    json!({"op": "update", "table": table, "where": where_, "row": row})
}

/// `mutate`.
pub fn mutate(table: &str, where_: Vec<Value>, mutations: Vec<Value>) -> Value {
    json!({"op": "mutate", "table": table, "where": where_, "mutations": mutations})
}

/// `delete`.
pub fn delete(table: &str, where_: Vec<Value>) -> Value {
    json!({"op": "delete", "table": table, "where": where_})
}

/// `select`, optionally of some columns only.
pub fn select(table: &str, where_: Vec<Value>, columns: Option<&[&str]>) -> Value {
    let mut op = json!({"op": "select", "table": table, "where": where_});
    if let Some(columns) = columns {
        op["columns"] = json!(columns);
    }
    op
}

/// `wait`: the transaction proceeds only if the rows matching `where_`,
/// projected on `columns`, are (`until` `"=="`) or are not (`"!="`) exactly
/// `rows`; `timeout_ms` `Some(0)` fails at once instead of waiting (what
/// OVS's IDL uses to verify what it read).
pub fn wait(
    table: &str,
    where_: Vec<Value>,
    columns: &[&str],
    until: &str,
    rows: Vec<Value>,
    timeout_ms: Option<u64>,
) -> Value {
    let mut op = json!({
        "op": "wait", "table": table, "where": where_,
        "columns": columns, "until": until, "rows": rows,
    });
    if let Some(t) = timeout_ms {
        op["timeout"] = json!(t);
    }
    op
}

/// `comment`: recorded in the database log (`ovsdb-tool show-log`).
pub fn comment(text: &str) -> Value {
    json!({"op": "comment", "comment": text})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Datum;

    #[test]
    fn encodings() {
        let u: Uuid = "00000000-0000-0000-0000-00000000000a".parse().unwrap();
        assert_eq!(
            where_uuid(u),
            vec![json!([
                "_uuid",
                "==",
                ["uuid", "00000000-0000-0000-0000-00000000000a"]
            ])]
        );
        let m = string_map([("a", "1"), ("b", "2")]);
        assert_eq!(m, json!(["map", [["a", "1"], ["b", "2"]]]));
        let d = Datum::from_json(&m).unwrap();
        assert_eq!(d.to_json(), m);
        assert_eq!(
            Datum::from_json(&set(vec![uuid(u)])).unwrap().atoms()[0].as_uuid(),
            Some(u)
        );
        assert_eq!(
            insert("Port", json!({"name": "p"}), None),
            json!({"op": "insert", "table": "Port", "row": {"name": "p"}})
        );
        assert_eq!(
            wait(
                "Bridge",
                vec![],
                &["name"],
                "==",
                vec![json!({"name": "b"})],
                Some(0)
            ),
            json!({"op": "wait", "table": "Bridge", "where": [], "columns": ["name"],
                   "until": "==", "rows": [{"name": "b"}], "timeout": 0})
        );
        assert_eq!(
            select("Bridge", vec![], Some(&["name"])),
            json!({"op": "select", "table": "Bridge", "where": [], "columns": ["name"]})
        );
        assert_eq!(delete("Bridge", vec![])["op"], "delete");
        assert_eq!(update("Bridge", vec![], json!({}))["op"], "update");
        assert_eq!(comment("x"), json!({"op": "comment", "comment": "x"}));
    }
}
