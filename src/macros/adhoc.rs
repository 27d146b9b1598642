//! Ad hoc filters: every key resolved against the table's columns, every value typed by its
//! column and escaped by [`crate::sql`]. A filter is applied or it is an error naming its key;
//! it is never dropped and never turns into `1`, except a `database.table.column` key naming
//! another table, which is a filter for that table (a dashboard's filters cover all its tables).
//!
//! # Keys
//!
//! With the table's columns ([`MacroContext::table_columns`]), in this order:
//!
//! 1. the exact name of a column (`attr.key` may be one);
//! 2. explicit map access `Map['k']` on a `Map` column;
//! 3. `db.table.rest` / `table.rest` naming this query's table: `rest` resolved the same way;
//! 4. `col.rest` where `col` is a `Map` column (`ResourceAttributes.service.name` →
//!    `ResourceAttributes['service.name']`) or a `JSON`/`Object`/`Tuple`/`Nested` column
//!    (`j.a.b`, `coords.lat`: a path);
//! 5. a dotted OTel attribute name, on the OTel map columns the table has: resource namespaces
//!    (`service.`, `k8s.`, `host.`, `cloud.`, `deployment.`, `process.`, `os.`, `container.`,
//!    `telemetry.`, `faas.`, `device.`) to `ResourceAttributes`, anything else to
//!    `LogAttributes`, then `SpanAttributes`, then `ResourceAttributes`, then
//!    `ScopeAttributes`, whichever exists first;
//! 6. `a.b.c` whose first parts name another database and table: not this table's filter;
//! 7. anything else: an error naming the key.
//!
//! Without the columns (not known to the caller), plain names and `Map['k']` are used as
//! written (ClickHouse rejects unknown ones), `db.table.rest`/`table.rest` of this table give
//! `rest`, other `a.b.c` keys belong to another table, and other dotted keys are an error.
//!
//! # Values
//!
//! By the resolved column's type: string-like columns always get a string literal, numeric
//! columns a number when the value is one, `Array(T)` columns an array literal when the value
//! is a JSON array (`["a","b"]` → `['a', 'b']`, elements typed by `T`), `Map(K, V)` access the
//! type `V`, a `Tuple` element its own type. Of an unknown type: in the Altinity model, a number
//! stays a number and a JSON array becomes an array literal (that plugin's rule); in the grafana
//! model a number stays a number only with `<`, `>`, `<=`, `>=`. Everything else is a string
//! literal. Operators: `=`, `!=`, `<`, `>`, `<=`, `>=`, `=~`, `!~` (Altinity: `LIKE`/`NOT LIKE`;
//! grafana: `match()`/`NOT match()`, regular expressions), and grafana's multi-value `=|` (one
//! of) and `!=|` (none of).

use super::context::{AdHocFilter, Column, Dialect, MacroContext};
use super::error::MacroErrorKind;
use super::template::is_number;
use crate::sql;

/// OTel resource-attribute namespaces (semantic conventions), for dotted keys.
const RESOURCE_NAMESPACES: &[&str] = &[
    "service",
    "k8s",
    "host",
    "cloud",
    "deployment",
    "process",
    "os",
    "container",
    "telemetry",
    "faas",
    "device",
];

/// A resolved key: SQL for the operand and the type of its values, when known.
#[derive(Debug)]
enum Target {
    Expr { sql: String, ty: Option<String> },
    OtherTable,
}

fn unwrap_type(t: &str) -> &str {
    let mut t = t.trim();
    for w in ["Nullable(", "LowCardinality("] {
        while let Some(inner) = t.strip_prefix(w).and_then(|r| r.strip_suffix(')')) {
            t = inner.trim();
        }
    }
    t
}

/// The top-level comma-separated arguments of `Name(args)`.
fn type_args<'a>(t: &'a str, name: &str) -> Option<Vec<&'a str>> {
    let inner = t.strip_prefix(name)?.strip_prefix('(')?.strip_suffix(')')?;
    let (mut depth, mut start, mut out) = (0usize, 0usize, Vec::new());
    for (i, c) in inner.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(inner[start..].trim());
    Some(out)
}

fn is_map(t: &str) -> bool {
    unwrap_type(t).starts_with("Map(")
}

fn map_value_type(t: &str) -> Option<String> {
    type_args(unwrap_type(t), "Map").and_then(|a| a.get(1).map(|v| v.to_string()))
}

fn is_path_type(t: &str) -> bool {
    let t = unwrap_type(t);
    ["JSON", "Object(", "Tuple(", "Nested("]
        .iter()
        .any(|p| t.starts_with(p))
}

/// The type of the named element `name` of a `Tuple(name T, …)`.
fn tuple_element_type(t: &str, name: &str) -> Option<String> {
    type_args(unwrap_type(t), "Tuple")?
        .into_iter()
        .find_map(|e| {
            e.strip_prefix(name)?
                .strip_prefix(' ')
                .map(|t| t.trim().to_string())
        })
}

fn is_plain_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && !b[0].is_ascii_digit()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
}

/// A column name as SQL: raw when a plain identifier, else backtick-quoted.
fn name_sql(s: &str) -> String {
    if is_plain_identifier(s) {
        s.to_string()
    } else {
        sql::identifier(s)
    }
}

/// A dotted name written as given when every part is plain, else each part quoted.
fn path_sql(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| name_sql(p))
        .collect::<Vec<_>>()
        .join(".")
}

/// `m['k']` (the key a single-quoted literal with `\` or doubled-quote escapes).
fn map_access(key: &str) -> Option<(&str, String)> {
    let open = key.find("['")?;
    let (m, rest) = (&key[..open], &key[open + 2..]);
    let body = rest.strip_suffix("']")?;
    let mut out = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '\'' if chars.peek() == Some(&'\'') => {
                chars.next();
                out.push('\'');
            }
            '\'' => return None,
            c => out.push(c),
        }
    }
    (!m.is_empty()).then_some((m, out))
}

fn find<'a>(cols: &'a [Column], name: &str) -> Option<&'a Column> {
    cols.iter().find(|c| c.name == name)
}

fn map_target(column: &str, key: &str, ty: &str) -> Target {
    Target::Expr {
        sql: format!("{}[{}]", name_sql(column), sql::string_literal(key)),
        ty: map_value_type(ty),
    }
}

/// The OTel map column a dotted attribute name belongs to, if the table has one.
fn otel_map<'a>(cols: &'a [Column], key: &str) -> Option<&'a Column> {
    let map = |n: &str| find(cols, n).filter(|c| is_map(&c.type_name));
    let ns = key.split('.').next().unwrap_or_default();
    if RESOURCE_NAMESPACES.contains(&ns)
        && let Some(c) = map("ResourceAttributes")
    {
        return Some(c);
    }
    [
        "LogAttributes",
        "SpanAttributes",
        "ResourceAttributes",
        "ScopeAttributes",
    ]
    .into_iter()
    .find_map(map)
}

fn resolve(
    key: &str,
    cols: Option<&[Column]>,
    database: &str,
    table: &str,
) -> Result<Target, String> {
    if key.trim().is_empty() {
        return Err("the key is empty".into());
    }
    if let Some(c) = cols.and_then(|cols| find(cols, key)) {
        // `attr.key` stays as written when every part is plain: ClickHouse resolves a dotted
        // name to the column of that name (Nested columns are named so).
        let parts: Vec<&str> = key.split('.').collect();
        let sql = if parts.iter().all(|p| is_plain_identifier(p)) {
            path_sql(&parts)
        } else {
            sql::identifier(key)
        };
        return Ok(Target::Expr {
            sql,
            ty: Some(c.type_name.clone()),
        });
    }
    if let Some((m, k)) = map_access(key) {
        return match cols {
            None => Ok(Target::Expr {
                sql: format!("{}[{}]", name_sql(m), sql::string_literal(&k)),
                ty: None,
            }),
            Some(cols) => match find(cols, m) {
                Some(c) if is_map(&c.type_name) => Ok(map_target(m, &k, &c.type_name)),
                Some(c) => Err(format!("`{m}` is a {} column, not a Map", c.type_name)),
                None => Err(format!("the table has no column `{m}`")),
            },
        };
    }
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err("it has an empty name part".into());
    }
    let qualified = if parts.len() >= 3 && parts[0] == database && parts[1] == table {
        Some(&parts[2..])
    } else if parts.len() >= 2 && !table.is_empty() && parts[0] == table {
        Some(&parts[1..])
    } else {
        None
    };
    if let Some(rest) = qualified {
        let rest_key = rest.join(".");
        return match cols {
            None => Ok(Target::Expr {
                sql: path_sql(rest),
                ty: None,
            }),
            Some(_) => resolve(&rest_key, cols, "", ""),
        };
    }
    let Some(cols) = cols else {
        return match parts.len() {
            1 => Ok(Target::Expr {
                sql: name_sql(key),
                ty: None,
            }),
            n if n >= 3 => Ok(Target::OtherTable),
            _ => Err("the table's columns are unknown, so a dotted key cannot be resolved".into()),
        };
    };
    if parts.len() >= 2
        && let Some(c) = find(cols, parts[0])
    {
        if is_map(&c.type_name) {
            return Ok(map_target(parts[0], &parts[1..].join("."), &c.type_name));
        }
        if is_path_type(&c.type_name) {
            let ty = (parts.len() == 2)
                .then(|| tuple_element_type(&c.type_name, parts[1]))
                .flatten();
            return Ok(Target::Expr {
                sql: path_sql(&parts),
                ty,
            });
        }
    }
    if parts.len() >= 2
        && let Some(c) = otel_map(cols, key)
    {
        return Ok(map_target(&c.name, key, &c.type_name));
    }
    if parts.len() >= 3 {
        return Ok(Target::OtherTable);
    }
    Err(
        "it is not a column of the table, a Map key, a JSON or Tuple path, or an OTel attribute"
            .into(),
    )
}

/// How values of a type are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Unknown,
}

fn kind(ty: Option<&str>) -> Kind {
    let Some(t) = ty.map(unwrap_type) else {
        return Kind::Unknown;
    };
    let numeric = ["Int", "UInt", "Float", "Decimal", "Bool"];
    if numeric.iter().any(|p| t.starts_with(p)) {
        Kind::Number
    } else if t.starts_with("Array(")
        || t.starts_with("Map(")
        || t.starts_with("Tuple(")
        || t.starts_with("JSON")
        || t.starts_with("Dynamic")
        || t.starts_with("Variant(")
        || t.is_empty()
    {
        Kind::Unknown
    } else {
        Kind::Text
    }
}

/// `value` parsed as a JSON array of strings and numbers (`["a", 200]`), as text items with
/// whether each was a number.
pub(crate) fn json_array(value: &str) -> Option<Vec<(String, bool)>> {
    let v: serde_json::Value = serde_json::from_str(value.trim()).ok()?;
    v.as_array()?
        .iter()
        .map(|item| match item {
            serde_json::Value::String(s) => Some((s.clone(), false)),
            serde_json::Value::Number(n) => Some((n.to_string(), true)),
            _ => None,
        })
        .collect()
}

fn scalar(out: &mut String, v: &str, k: Kind, numbers_raw: bool) {
    let number = is_number(v);
    match k {
        Kind::Number if number => out.push_str(v),
        Kind::Unknown if numbers_raw && number => out.push_str(v),
        _ => sql::write_string_literal(out, v),
    }
}

/// Writes `value` for an operand of type `ty`.
fn value_sql(out: &mut String, value: &str, ty: Option<&str>, altinity: bool, comparison: bool) {
    let t = ty.map(unwrap_type);
    let elem = t
        .and_then(|t| type_args(t, "Array"))
        .and_then(|a| a.first().map(|e| e.to_string()));
    let array_ok = elem.is_some() || (t.is_none() && altinity);
    if array_ok && let Some(items) = json_array(value) {
        let ek = kind(elem.as_deref());
        out.push('[');
        for (n, (item, was_number)) in items.iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            let raw = match ek {
                Kind::Number => is_number(item),
                Kind::Text => false,
                Kind::Unknown => *was_number,
            };
            if raw {
                out.push_str(item);
            } else {
                sql::write_string_literal(out, item);
            }
        }
        out.push(']');
        return;
    }
    scalar(out, value, kind(ty), altinity || comparison);
}

/// The SQL conditions of the filters that apply to `database.table`.
///
/// `regex` picks the meaning of `=~`/`!~`: regular expressions (`match()`, grafana's
/// `$__adHocFilters`) or `LIKE` patterns (Altinity's `$adhoc`).
pub(crate) fn conditions(
    ctx: &MacroContext,
    database: &str,
    table: &str,
    regex: bool,
) -> Result<Vec<String>, MacroErrorKind> {
    let cols = ctx.table_columns.as_deref();
    let mut out = Vec::new();
    for f in &ctx.ad_hoc_filters {
        if let Some(c) = filter_condition(ctx, f, cols, database, table, regex)? {
            out.push(c);
        }
    }
    Ok(out)
}

/// The error for a filter whose key cannot be applied, and why.
pub(crate) fn invalid_filter(key: &str, why: &str) -> MacroErrorKind {
    MacroErrorKind::InvalidArgument(format!("cannot apply the ad hoc filter on `{key}`: {why}"))
}

/// One filter's condition on `database.table` with columns `cols`: `None` when its key names
/// another table (`db.table.col`), an error naming the key when it cannot be applied.
pub(crate) fn filter_condition(
    ctx: &MacroContext,
    f: &AdHocFilter,
    cols: Option<&[Column]>,
    database: &str,
    table: &str,
    regex: bool,
) -> Result<Option<String>, MacroErrorKind> {
    let altinity = ctx.dialect == Dialect::Altinity;
    match resolve(&f.key, cols, database, table) {
        Ok(Target::Expr { sql, ty }) => {
            condition(f, &sql, ty.as_deref(), altinity, regex).map(Some)
        }
        Ok(Target::OtherTable) => Ok(None),
        Err(why) => Err(invalid_filter(&f.key, &why)),
    }
}

fn condition(
    f: &AdHocFilter,
    operand: &str,
    ty: Option<&str>,
    altinity: bool,
    regex: bool,
) -> Result<String, MacroErrorKind> {
    let mut cond = String::from(operand);
    let op = f.operator.trim();
    match op {
        "=|" | "!=|" => {
            let values: Vec<&str> = if f.values.is_empty() {
                vec![f.value.as_str()]
            } else {
                f.values.iter().map(String::as_str).collect()
            };
            cond.push_str(if op == "=|" { " IN (" } else { " NOT IN (" });
            for (n, v) in values.iter().enumerate() {
                if n > 0 {
                    cond.push_str(", ");
                }
                value_sql(&mut cond, v, ty, altinity, false);
            }
            cond.push(')');
        }
        "=~" | "!~" if regex => {
            cond = format!(
                "{}match({operand}, {})",
                if op == "!~" { "NOT " } else { "" },
                sql::string_literal(&f.value)
            );
        }
        "=~" | "!~" => {
            cond.push_str(if op == "=~" { " LIKE " } else { " NOT LIKE " });
            sql::write_string_literal(&mut cond, &f.value);
        }
        "=" | "!=" | "<" | ">" | "<=" | ">=" => {
            cond.push(' ');
            cond.push_str(op);
            cond.push(' ');
            let comparison = !matches!(op, "=" | "!=");
            value_sql(&mut cond, &f.value, ty, altinity, comparison);
        }
        other => {
            return Err(MacroErrorKind::InvalidArgument(format!(
                "ad hoc filter operator `{other}` on `{}` is not supported",
                f.key
            )));
        }
    }
    Ok(cond)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            type_name: ty.into(),
        }
    }

    fn otel_logs() -> Vec<Column> {
        vec![
            col("Timestamp", "DateTime64(9)"),
            col("ServiceName", "LowCardinality(String)"),
            col("SeverityNumber", "UInt8"),
            col("ResourceAttributes", "Map(LowCardinality(String), String)"),
            col("LogAttributes", "Map(LowCardinality(String), String)"),
            col("attr.key", "String"),
            col("j", "JSON"),
            col("tags", "Array(String)"),
        ]
    }

    fn run(
        key: &str,
        op: &str,
        value: &str,
        cols: Option<Vec<Column>>,
    ) -> Result<Vec<String>, MacroErrorKind> {
        let ctx = MacroContext {
            dialect: Dialect::Grafana,
            table_columns: cols,
            ad_hoc_filters: vec![AdHocFilter {
                key: key.into(),
                operator: op.into(),
                value: value.into(),
                values: Vec::new(),
            }],
            ..MacroContext::default()
        };
        conditions(&ctx, "otel", "otel_logs", true)
    }

    fn one(key: &str, op: &str, value: &str) -> String {
        run(key, op, value, Some(otel_logs())).unwrap().remove(0)
    }

    #[test]
    fn dotted_otel_keys_resolve_to_the_tables_maps() {
        assert_eq!(
            one("service.name", "=", "api"),
            "ResourceAttributes['service.name'] = 'api'"
        );
        assert_eq!(
            one("k8s.pod.name", "!=", "x'y"),
            r"ResourceAttributes['k8s.pod.name'] != 'x\'y'"
        );
        assert_eq!(
            one("http.route", "=~", "^/api"),
            "match(LogAttributes['http.route'], '^/api')"
        );
        assert_eq!(
            one("ResourceAttributes.service.name", "=", "a"),
            "ResourceAttributes['service.name'] = 'a'"
        );
    }

    #[test]
    fn columns_map_access_and_paths() {
        assert_eq!(one("ServiceName", "=", "200"), "ServiceName = '200'");
        assert_eq!(one("SeverityNumber", ">=", "9"), "SeverityNumber >= 9");
        assert_eq!(one("attr.key", "=", "x"), "attr.key = 'x'");
        assert_eq!(
            one("LogAttributes['a''b']", "=", "v"),
            r"LogAttributes['a\'b'] = 'v'"
        );
        assert_eq!(one("j.a.b", "=", "GET"), "j.a.b = 'GET'");
        assert_eq!(one("tags", "=", r#"["a","b"]"#), "tags = ['a', 'b']");
        assert_eq!(
            one("otel.otel_logs.ServiceName", "=", "a"),
            "ServiceName = 'a'"
        );
    }

    #[test]
    fn unresolvable_keys_are_errors_naming_the_key() {
        for key in ["nope", "Body['x']", "ServiceName['x']", "a..b", ""] {
            let e = run(key, "=", "v", Some(otel_logs())).unwrap_err();
            let MacroErrorKind::InvalidArgument(msg) = e else {
                panic!("{e:?}")
            };
            assert!(msg.contains(&format!("`{key}`")), "{msg}");
        }
        // Without the columns, a two-part key cannot be resolved either.
        assert!(run("error.level", "=", "v", None).is_err());
        // Another table's `db.table.column` filter is not this query's.
        assert_eq!(
            run("other.t.c", "=", "v", None).unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_operator_of_both_plugins() {
        for op in ["=", "!=", "<", ">", "<=", ">=", "=~", "!~", "=|", "!=|"] {
            let c = one("ServiceName", op, "a");
            assert!(c.contains("ServiceName"), "{op}: {c}");
        }
        assert!(run("ServiceName", "IN", "('a')", Some(otel_logs())).is_err());
    }
}
