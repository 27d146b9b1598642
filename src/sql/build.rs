//! SQL the plugin generates: logs builder queries, log volume, log context, trace lookup and
//! trace search.
//!
//! Every value (service names, filter values, trace ids, times) is written through the escaping
//! functions of this module's parent; identifiers come from the table's own schema and are
//! quoted. Generated filters that apply to a user's SQL (volume, context of raw SQL) wrap it as a
//! subquery, never append to it.

use std::fmt::Write as _;

use serde::Deserialize;

use super::{identifier, qualified_table, string_literal, wrap_subquery, write_string_literal};
use crate::otel::{ColumnRef, LEVELS, LogRoles, TimeKind, TraceRoles, level_spellings};

/// A time range in nanoseconds since the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// Start, ns.
    pub from_ns: i64,
    /// End, ns.
    pub to_ns: i64,
}

/// A column reference as SQL.
pub fn column_ref(c: &ColumnRef) -> String {
    match c {
        ColumnRef::Column(name) => identifier(name),
        ColumnRef::MapKey(map, key) => format!("{}[{}]", identifier(map), string_literal(key)),
    }
}

/// `col` within the range, by the column's kind.
fn range_condition(out: &mut String, col: &str, kind: TimeKind, r: Range) {
    let c = identifier(col);
    let (from_s, to_s) = (
        r.from_ns.div_euclid(1_000_000_000),
        (r.to_ns + 999_999_999).div_euclid(1_000_000_000),
    );
    match kind {
        TimeKind::Date => {
            let _ = write!(
                out,
                "{c} >= toDate(toDateTime({from_s}, 'UTC')) AND {c} <= toDate(toDateTime({to_s}, 'UTC'))"
            );
        }
        TimeKind::Seconds => {
            let _ = write!(
                out,
                "{c} >= toDateTime({from_s}) AND {c} <= toDateTime({to_s})"
            );
        }
        TimeKind::Precise(_) => {
            let _ = write!(
                out,
                "{c} >= fromUnixTimestamp64Nano({}) AND {c} <= fromUnixTimestamp64Nano({})",
                r.from_ns, r.to_ns
            );
        }
    }
}

/// The time filter of a logs or traces table: the time column plus every key time column (so
/// ClickHouse prunes partitions and primary-key ranges).
pub fn time_filter(
    time: &str,
    time_kind: TimeKind,
    key_times: &[(String, TimeKind)],
    r: Range,
) -> String {
    let mut out = String::new();
    for (col, kind) in key_times {
        range_condition(&mut out, col, *kind, r);
        out.push_str(" AND ");
    }
    range_condition(&mut out, time, time_kind, r);
    out
}

/// The logs builder's query model.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct LogsBuilder {
    /// Database (datasource default when empty).
    pub database: String,
    /// Table (datasource default, else `otel_logs`).
    pub table: String,
    /// Services to include.
    pub services: Vec<String>,
    /// Minimum severity (`critical`, `error`, `warning`, `info`, `debug`, `trace`).
    pub min_severity: String,
    /// Attribute and column filters.
    pub filters: Vec<Filter>,
    /// Body contains this text (case-insensitive).
    pub body_contains: String,
    /// Body matches this RE2 regular expression.
    pub body_regex: String,
    /// `desc` (default) or `asc`.
    pub order: String,
    /// Row limit (default 1000, at most 100000).
    pub limit: Option<u64>,
    /// Column-role overrides for this query (over the datasource's `logs` settings).
    pub columns: crate::otel::RoleOverrides,
    /// Level filters from a click (`level`, include?); set from the query's `filters`, never
    /// read from the builder JSON.
    #[serde(skip)]
    pub level_filters: Vec<(String, bool)>,
}

/// One filter `key op value`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Filter {
    /// A column, `Map['key']`, `Map.key`, or a bare attribute key (looked up in the log, then
    /// resource, then scope attributes).
    pub key: String,
    /// `=`, `!=`, `IN`, `NOT IN`, `LIKE`, `NOT LIKE`, `ILIKE`, `=~`, `!~`, `<`, `<=`, `>`, `>=`,
    /// `EXISTS`, `NOT EXISTS`.
    pub op: String,
    /// The value (for `IN`: use `values`).
    pub value: serde_json::Value,
    /// Values of `IN` / `NOT IN`.
    pub values: Vec<String>,
}

/// A builder problem, named.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BuildError(pub String);

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The SQL expression a filter key refers to, given the table's columns and maps; for a bare
/// attribute key also the maps it is looked up in and the key as a literal.
pub fn filter_target(
    key: &str,
    roles: &LogRoles,
    columns: &[String],
) -> (String, Option<(Vec<String>, String)>) {
    let r = ColumnRef::parse(key, &roles.maps);
    match &r {
        ColumnRef::Column(c) if columns.iter().any(|x| x == c) => (column_ref(&r), None),
        // `level` (Explore's level of a row, a click on it) is the row's level as the frame shows
        // it, unless the table has a column of that name.
        ColumnRef::Column(c)
            if c == "level"
                && (roles.severity_text.is_some() || roles.severity_number.is_some()) =>
        {
            (level_expression(roles), None)
        }
        ColumnRef::MapKey(..) => (column_ref(&r), None),
        ColumnRef::Column(attr) => {
            // A bare attribute key: the first map (log, resource, scope) that has it.
            let order: Vec<&String> = ["LogAttributes", "ResourceAttributes", "ScopeAttributes"]
                .iter()
                .filter_map(|m| roles.maps.iter().find(|x| x == m))
                .collect();
            if order.is_empty() {
                return (identifier(attr), None);
            }
            let k = string_literal(attr);
            let mut expr = String::new();
            for m in &order[..order.len() - 1] {
                let _ = write!(
                    expr,
                    "if(mapContains({m}, {k}), {m}[{k}], ",
                    m = identifier(m)
                );
            }
            let _ = write!(expr, "{}[{k}]", identifier(order[order.len() - 1]));
            expr.push_str(&")".repeat(order.len() - 1));
            (
                expr,
                Some((order.iter().map(|m| identifier(m)).collect(), k)),
            )
        }
    }
}

/// Writes one filter condition.
fn filter_condition(
    out: &mut String,
    f: &Filter,
    roles: &LogRoles,
    columns: &[String],
) -> Result<(), BuildError> {
    if f.key.trim().is_empty() {
        return Err(BuildError("a filter needs a key".into()));
    }
    let (target, maps) = filter_target(&f.key, roles, columns);
    let value = value_text(&f.value);
    let op = f.op.trim().to_ascii_uppercase();
    let numeric = matches!(&f.value, serde_json::Value::Number(_));
    match op.as_str() {
        "=" | "!=" | "<" | "<=" | ">" | ">=" => {
            if numeric {
                // Map values are strings: compare numbers as numbers.
                let _ = write!(out, "toFloat64OrNull(toString({target})) {op} {}", f.value);
            } else {
                let _ = write!(out, "{target} {op} ");
                write_string_literal(out, &value);
            }
        }
        "IN" | "NOT IN" => {
            let values: Vec<String> = if f.values.is_empty() {
                vec![value]
            } else {
                f.values.clone()
            };
            let _ = write!(out, "{target} {op} (");
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string_literal(out, v);
            }
            out.push(')');
        }
        "LIKE" | "NOT LIKE" | "ILIKE" | "NOT ILIKE" => {
            let _ = write!(out, "{target} {op} ");
            write_string_literal(out, &value);
        }
        "=~" | "!~" => {
            if op == "!~" {
                out.push_str("NOT ");
            }
            let _ = write!(out, "match({target}, ");
            write_string_literal(out, &value);
            out.push(')');
        }
        "EXISTS" | "NOT EXISTS" => {
            if op == "NOT EXISTS" {
                out.push_str("NOT ");
            }
            match maps {
                Some((maps, key)) => {
                    let any: Vec<String> = maps
                        .iter()
                        .map(|m| format!("mapContains({m}, {key})"))
                        .collect();
                    let _ = write!(out, "({})", any.join(" OR "));
                }
                None => match ColumnRef::parse(&f.key, &roles.maps) {
                    ColumnRef::MapKey(m, k) => {
                        let _ = write!(
                            out,
                            "mapContains({}, {})",
                            identifier(&m),
                            string_literal(&k)
                        );
                    }
                    ColumnRef::Column(_) => {
                        let _ = write!(out, "notEmpty(toString({target}))");
                    }
                },
            }
        }
        other => {
            return Err(BuildError(format!(
                "filter operator {other:?} is not supported (use =, !=, IN, NOT IN, LIKE, ILIKE, =~, !~, <, >, EXISTS)"
            )));
        }
    }
    Ok(())
}

/// The level of a row as one of Grafana's levels, from severity text and/or number.
pub fn level_expression(roles: &LogRoles) -> String {
    level_expression_of(
        roles.severity_text.as_deref().map(identifier),
        roles.severity_number.as_deref().map(identifier),
    )
}

/// Like [`level_expression`] for arbitrary text/number expressions.
pub fn level_expression_of(text: Option<String>, number: Option<String>) -> String {
    if text.is_none() && number.is_none() {
        return "'unknown'".into();
    }
    let mut out = String::from("multiIf(");
    for level in &LEVELS[..6] {
        let (spellings, (lo, hi)) = level_spellings(level);
        let mut conds = Vec::new();
        if let Some(n) = &number {
            conds.push(format!("({n} >= {lo} AND {n} <= {hi})"));
        }
        if let Some(t) = &text {
            let list: Vec<String> = spellings.iter().map(|s| string_literal(s)).collect();
            conds.push(format!("lower(toString({t})) IN ({})", list.join(", ")));
        }
        let _ = write!(out, "{}, '{level}', ", conds.join(" OR "));
    }
    out.push_str("'unknown')");
    out
}

/// The severity condition for a minimum level, sargable: a range on the severity number and
/// `IN` on the raw severity text (each spelling in lower, UPPER and Capitalized case), never a
/// level expression evaluated per row, so ClickHouse can use skip indexes and the sorting key.
/// A row passes when either says it is at least `level`.
fn min_severity(out: &mut String, level: &str, roles: &LogRoles) {
    let idx = LEVELS.iter().position(|l| *l == level).unwrap_or(5);
    let mut conds = Vec::new();
    if let Some(n) = &roles.severity_number {
        let lo = level_spellings(LEVELS[idx]).1.0;
        conds.push(format!(
            "({} >= {lo} AND {} <= 24)",
            identifier(n),
            identifier(n)
        ));
    }
    if let Some(t) = &roles.severity_text {
        let mut list: Vec<String> = Vec::new();
        for l in &LEVELS[..=idx] {
            for s in level_spellings(l).0 {
                let cap = s[..1].to_ascii_uppercase() + &s[1..];
                for v in [s.to_string(), s.to_ascii_uppercase(), cap] {
                    let lit = string_literal(&v);
                    if !list.contains(&lit) {
                        list.push(lit);
                    }
                }
            }
        }
        conds.push(format!("{} IN ({})", identifier(t), list.join(", ")));
    }
    if conds.is_empty() {
        // Neither column: no row has a known level.
        out.push('0');
    } else {
        let _ = write!(out, "({})", conds.join(" OR "));
    }
}

/// An annotation query (Altinity's `format: "ANNOTATION"`): the user's SQL wrapped so its
/// result is Grafana's annotation frame: `time` and `time_end`/`timeEnd` as times (Altinity
/// returns epoch milliseconds), `title`, `text`, and `tags` as comma-separated text (an array of
/// strings is joined). Other columns pass through. `columns` are the result's (name, type).
pub fn annotation_query(user_sql: &str, columns: &[(String, crate::chtype::ChType)]) -> String {
    use crate::chtype::ChType;
    let list: Vec<String> = columns
        .iter()
        .map(|(name, ty)| {
            let c = identifier(name);
            let numeric = matches!(
                ty.base(),
                ChType::Int(_) | ChType::UInt(_) | ChType::Float(_) | ChType::Decimal { .. }
            );
            match name.as_str() {
                "time" | "time_end" | "timeEnd" => {
                    let out = if name == "time" { "time" } else { "timeEnd" };
                    if numeric {
                        format!("fromUnixTimestamp64Milli(toInt64({c})) AS {out}")
                    } else {
                        format!("{c} AS {out}")
                    }
                }
                "tags" if matches!(ty.base(), ChType::Array(_)) => {
                    format!("arrayStringConcat({c}, ',') AS tags")
                }
                _ => c,
            }
        })
        .collect();
    wrap_subquery(user_sql, &list.join(", "), "")
}

/// The columns a logs query selects, with the names the logs frame recognises.
fn logs_select(roles: &LogRoles) -> String {
    let mut cols = vec![
        format!("{} AS timestamp", identifier(&roles.time)),
        format!("{} AS body", identifier(&roles.body)),
    ];
    if let Some(s) = &roles.severity_text {
        cols.push(format!("{} AS severity_text", identifier(s)));
    }
    if let Some(s) = &roles.severity_number {
        cols.push(format!("{} AS severity_number", identifier(s)));
    }
    if let Some(s) = &roles.service {
        cols.push(format!("{} AS service", identifier(s)));
    }
    if let Some(s) = &roles.trace_id {
        cols.push(format!("{} AS traceID", identifier(s)));
    }
    if let Some(s) = &roles.span_id {
        cols.push(format!("{} AS spanID", identifier(s)));
    }
    for m in &roles.maps {
        cols.push(identifier(m));
    }
    for c in &roles.label_columns {
        cols.push(identifier(c));
    }
    cols.join(", ")
}

/// The WHERE conditions of a builder query (time, services, severity, filters, body).
fn logs_where(
    b: &LogsBuilder,
    roles: &LogRoles,
    time_kind: TimeKind,
    columns: &[String],
    r: Range,
) -> Result<String, BuildError> {
    let mut conds = vec![time_filter(&roles.time, time_kind, &roles.key_times, r)];
    if !b.services.is_empty() {
        let Some(service) = &roles.service else {
            return Err(BuildError(
                "the table has no service column to filter services".into(),
            ));
        };
        let list: Vec<String> = b.services.iter().map(|s| string_literal(s)).collect();
        conds.push(format!("{} IN ({})", identifier(service), list.join(", ")));
    }
    if !b.min_severity.is_empty() {
        let Some(level) = crate::otel::parse_level(&b.min_severity) else {
            return Err(BuildError(format!(
                "minSeverity {:?} is not a level (critical, error, warning, info, debug, trace)",
                b.min_severity
            )));
        };
        let mut c = String::new();
        min_severity(&mut c, level, roles);
        conds.push(c);
    }
    for (level, include) in &b.level_filters {
        // Filters from a click on a level (see `sql::explore`): the row's normalised level.
        let Some(level) = crate::otel::parse_level(level) else {
            return Err(BuildError(format!(
                "filter on `level`: {level:?} is not a level"
            )));
        };
        let op = if *include { "=" } else { "!=" };
        conds.push(format!(
            "{} {op} {}",
            level_expression(roles),
            string_literal(level)
        ));
    }
    for f in &b.filters {
        let mut c = String::new();
        filter_condition(&mut c, f, roles, columns)?;
        conds.push(c);
    }
    if !b.body_contains.is_empty() {
        let escaped = b
            .body_contains
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        conds.push(format!(
            "{} ILIKE {}",
            identifier(&roles.body),
            string_literal(&format!("%{escaped}%"))
        ));
    }
    if !b.body_regex.is_empty() {
        conds.push(format!(
            "match({}, {})",
            identifier(&roles.body),
            string_literal(&b.body_regex)
        ));
    }
    Ok(conds.join("\n  AND "))
}

/// A logs table as the builders need it.
#[derive(Clone, Copy, Debug)]
pub struct LogsTable<'a> {
    /// Database (empty: the connection's).
    pub database: &'a str,
    /// Table.
    pub table: &'a str,
    /// Column roles.
    pub roles: &'a LogRoles,
    /// Kind of the time column.
    pub time_kind: TimeKind,
    /// All column names.
    pub columns: &'a [String],
}

/// The largest row limit a builder query may ask for.
pub const MAX_LIMIT: u64 = 100_000;

/// The logs builder's SQL.
pub fn logs_query(b: &LogsBuilder, t: LogsTable<'_>, r: Range) -> Result<String, BuildError> {
    let LogsTable {
        database,
        table,
        roles,
        time_kind,
        columns,
    } = t;
    let order = match b.order.to_ascii_lowercase().as_str() {
        "" | "desc" => "DESC",
        "asc" => "ASC",
        other => {
            return Err(BuildError(format!(
                "order must be asc or desc, got {other:?}"
            )));
        }
    };
    let limit = b.limit.unwrap_or(1000).clamp(1, MAX_LIMIT);
    Ok(format!(
        "SELECT {}\nFROM {}\nWHERE {}\nORDER BY {} {order}\nLIMIT {limit}",
        logs_select(roles),
        qualified_table(database, table),
        logs_where(b, roles, time_kind, columns, r)?,
        identifier(&roles.time)
    ))
}

/// Bucket width in seconds for a volume histogram.
pub fn bucket_seconds(r: Range, interval_ms: i64, max_data_points: i64) -> i64 {
    let range_s = ((r.to_ns - r.from_ns) / 1_000_000_000).max(1);
    let by_points = range_s / max_data_points.clamp(1, 10_000);
    (interval_ms / 1000).max(by_points).max(1)
}

/// Log volume of a builder query: counts per bucket and level, over the same rows (no limit).
pub fn logs_volume_for_table(
    b: &LogsBuilder,
    t: LogsTable<'_>,
    r: Range,
    bucket_s: i64,
) -> Result<String, BuildError> {
    let LogsTable {
        database,
        table,
        roles,
        time_kind,
        columns,
    } = t;
    Ok(format!(
        "SELECT toStartOfInterval({t}, INTERVAL {bucket_s} second) AS time, {level} AS level, count() AS count\nFROM {table}\nWHERE {cond}\nGROUP BY time, level\nORDER BY time",
        t = identifier(&roles.time),
        level = level_expression(roles),
        table = qualified_table(database, table),
        cond = logs_where(b, roles, time_kind, columns, r)?,
    ))
}

/// Log volume of a raw SQL logs query: the user's query wrapped, grouped by bucket and level.
pub fn logs_volume_for_sql(
    user_sql: &str,
    time_col: &str,
    level_text: Option<&str>,
    level_number: Option<&str>,
    bucket_s: i64,
) -> String {
    let level = level_expression_of(level_text.map(identifier), level_number.map(identifier));
    wrap_subquery(
        user_sql,
        &format!(
            "toStartOfInterval({}, INTERVAL {bucket_s} second) AS time, {level} AS level, count() AS count",
            identifier(time_col)
        ),
        "GROUP BY time, level ORDER BY time",
    )
}

/// Which way log context goes from the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Older rows.
    Backward,
    /// Newer rows.
    Forward,
}

/// The rows before/after `row_ns` in the same stream (`equal`: context columns and values).
pub fn context_query(
    select_from: &str,
    time_col: &str,
    row_ns: i64,
    direction: Direction,
    equal: &[(String, String)],
    limit: u64,
) -> String {
    let t = identifier(time_col);
    let (cmp, order) = match direction {
        Direction::Backward => ("<", "DESC"),
        Direction::Forward => (">", "ASC"),
    };
    let mut cond = format!("{t} {cmp} fromUnixTimestamp64Nano({row_ns})");
    for (expr, value) in equal {
        let _ = write!(cond, " AND {expr} = {}", string_literal(value));
    }
    format!(
        "{select_from}\nWHERE {cond}\nORDER BY {t} {order}\nLIMIT {}",
        limit.clamp(1, 1000)
    )
}

/// Context of a builder/table query.
pub fn context_for_table(
    t: LogsTable<'_>,
    row_ns: i64,
    direction: Direction,
    equal: &[(ColumnRef, String)],
    limit: u64,
) -> String {
    let LogsTable {
        database,
        table,
        roles,
        time_kind,
        ..
    } = t;
    // Bound the scan to a day around the row so the key time columns prune.
    let day = 86_400_000_000_000;
    let r = match direction {
        Direction::Backward => Range {
            from_ns: row_ns - day,
            to_ns: row_ns,
        },
        Direction::Forward => Range {
            from_ns: row_ns,
            to_ns: row_ns + day,
        },
    };
    let select = format!(
        "SELECT {}\nFROM {}",
        logs_select(roles),
        qualified_table(database, table)
    );
    let equal: Vec<(String, String)> = equal
        .iter()
        .map(|(c, v)| (column_ref(c), v.clone()))
        .collect();
    let base = context_query(&select, &roles.time, row_ns, direction, &equal, limit);
    // Insert the range filter in front of the context conditions.
    base.replacen(
        "\nWHERE ",
        &format!(
            "\nWHERE {} AND ",
            time_filter(&roles.time, time_kind, &roles.key_times, r)
        ),
        1,
    )
}

/// Context of a raw SQL logs query: the user's SQL (expanded for a range around the row)
/// wrapped with the context conditions (`equal`: SQL expressions over its result columns and
/// their values).
pub fn context_for_sql(
    user_sql: &str,
    time_col: &str,
    row_ns: i64,
    direction: Direction,
    equal: &[(String, String)],
    limit: u64,
) -> String {
    let inner = user_sql.trim_end().trim_end_matches(';');
    let select = format!("SELECT *\nFROM (\n{inner}\n)");
    context_query(&select, time_col, row_ns, direction, equal, limit)
}

/// The columns of a traces table (the trace view checks the event and link subcolumns it reads).
#[derive(Clone, Debug, Default)]
pub struct TraceColumns {
    /// Column names present in the table.
    pub present: Vec<String>,
}

impl TraceColumns {
    fn has(&self, name: &str) -> bool {
        self.present.iter().any(|c| c == name)
    }

    /// The subcolumns `prefix.name` of a Nested group, when the table has them all.
    fn nested(&self, prefix: Option<&str>, names: &[&str]) -> Option<Vec<String>> {
        let p = prefix?;
        let subs: Vec<String> = names.iter().map(|n| format!("{p}.{n}")).collect();
        // A Nested column kept whole (flatten_nested = 0) still reads as `prefix.name`.
        (self.has(p) || subs.iter().all(|s| self.has(s))).then_some(subs)
    }
}

/// A role's column, or `fallback` when the table has none.
fn column_or(c: &Option<String>, fallback: &str) -> String {
    c.as_deref().map_or_else(|| fallback.to_owned(), identifier)
}

/// The duration column in milliseconds, whatever its unit (`durationUnit`).
fn duration_ms(roles: &TraceRoles) -> String {
    format!(
        "{} * {} / 1000000",
        identifier(&roles.duration),
        roles.duration_ns.max(1)
    )
}

/// A duration bound given in milliseconds as a literal in the duration column's unit: exact, so
/// `>=` and `<=` keep their meaning for integer and fractional columns alike.
fn duration_bound(key: &str, ms: f64, roles: &TraceRoles) -> Result<String, BuildError> {
    let v = ms * 1e6 / roles.duration_ns.max(1) as f64;
    if !v.is_finite() || v.abs() >= 9.0e18 {
        return Err(BuildError(format!(
            "traceSearch.{key} {ms} is out of range"
        )));
    }
    Ok(if v.fract() == 0.0 {
        (v as i64).to_string()
    } else {
        v.to_string()
    })
}

/// The trace view query for one trace id (optionally bounded by the lookup table's times).
/// Times are read as whole microseconds, then made milliseconds: nanoseconds since 1970 do not
/// fit a Float64 exactly (…200.010 ms came out as …200.0099998).
pub fn trace_query(
    database: &str,
    table: &str,
    roles: &TraceRoles,
    cols: &TraceColumns,
    trace_id: &str,
    bounds: Option<(i64, i64)>,
) -> String {
    let kv = |map: &Option<String>| match map {
        Some(map) => {
            let m = identifier(map);
            format!(
                "arrayMap(k -> CAST((k, {m}[k]), 'Tuple(key String, value String)'), mapKeys({m}))"
            )
        }
        None => "CAST([], 'Array(Tuple(key String, value String))')".to_owned(),
    };
    let text = |c: &Option<String>| column_or(c, "''");
    let events = match cols.nested(roles.events.as_deref(), &["Timestamp", "Name", "Attributes"]) {
        Some(sub) => format!(
            "arrayMap((t, n, a) -> CAST((toUnixTimestamp64Micro(t) / 1000, n, arrayMap(k -> CAST((k, a[k]), 'Tuple(key String, value String)'), mapKeys(a))), \
             'Tuple(timestamp Float64, name String, fields Array(Tuple(key String, value String)))'), {}, {}, {})",
            identifier(&sub[0]),
            identifier(&sub[1]),
            identifier(&sub[2])
        ),
        None => "CAST([], 'Array(Tuple(timestamp Float64, name String, fields Array(Tuple(key String, value String))))')".to_owned(),
    };
    let references = match cols.nested(roles.links.as_deref(), &["TraceId", "SpanId"]) {
        Some(sub) => format!(
            "arrayMap((t, s) -> CAST((t, s), 'Tuple(traceID String, spanID String)'), {}, {})",
            identifier(&sub[0]),
            identifier(&sub[1])
        ),
        None => "CAST([], 'Array(Tuple(traceID String, spanID String))')".to_owned(),
    };
    let time = identifier(&roles.time);
    let status = text(&roles.status_code);
    let mut sql = format!(
        "SELECT {tid} AS traceID, {sid} AS spanID, {pid} AS parentSpanID, {op} AS operationName, {svc} AS serviceName, \
         toUnixTimestamp64Micro(toDateTime64({time}, 6)) / 1000 AS startTime, {duration} AS duration, \
         {service_tags} AS serviceTags, {tags} AS tags, {events} AS logs, {references} AS references, \
         replaceOne(lower(toString({kind})), 'span_kind_', '') AS kind, \
         multiIf(toString({status}) IN ('Error', 'STATUS_CODE_ERROR'), 2, toString({status}) IN ('Ok', 'STATUS_CODE_OK'), 1, 0) AS statusCode, \
         {status_message} AS statusMessage, {scope} AS instrumentationLibraryName, {scope_version} AS instrumentationLibraryVersion, \
         {trace_state} AS traceState\nFROM {table}\nWHERE {tid} = {id}",
        tid = identifier(&roles.trace_id),
        sid = identifier(&roles.span_id),
        pid = text(&roles.parent_span_id),
        op = text(&roles.operation),
        svc = text(&roles.service),
        duration = duration_ms(roles),
        service_tags = kv(&roles.service_tags),
        tags = kv(&roles.tags),
        kind = text(&roles.kind),
        status_message = text(&roles.status_message),
        scope = text(&roles.scope_name),
        scope_version = text(&roles.scope_version),
        trace_state = text(&roles.trace_state),
        table = qualified_table(database, table),
        id = string_literal(trace_id),
    );
    if let Some((from_s, to_s)) = bounds {
        let _ = write!(
            sql,
            " AND {time} >= toDateTime({}) AND {time} <= toDateTime({})",
            from_s - 1,
            to_s + 1
        );
    }
    sql.push_str("\nORDER BY startTime");
    sql
}

/// Lookup of a trace's first and last second in `<traces>_trace_id_ts`.
pub fn trace_bounds_query(database: &str, lookup_table: &str, trace_id: &str) -> String {
    format!(
        "SELECT toUnixTimestamp(min(Start)), toUnixTimestamp(max(End)), count() FROM {} WHERE TraceId = {}",
        qualified_table(database, lookup_table),
        string_literal(trace_id)
    )
}

/// The trace search model.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct TraceSearch {
    /// Database.
    pub database: String,
    /// Table (default `otel_traces`).
    pub table: String,
    /// Services.
    pub services: Vec<String>,
    /// Operation (span name).
    pub operation: String,
    /// Minimum duration, ms.
    pub min_duration_ms: Option<f64>,
    /// Maximum duration, ms.
    pub max_duration_ms: Option<f64>,
    /// `error`, `ok`, `unset` or empty.
    pub status: String,
    /// Span kind (`server`, `client`, …) or empty.
    pub kind: String,
    /// Attribute filters (`SpanAttributes` / `ResourceAttributes` keys or columns).
    pub filters: Vec<Filter>,
    /// Only root spans (default true).
    pub root_only: Option<bool>,
    /// Row limit (default 100).
    pub limit: Option<u64>,
}

/// Both spellings of a status.
fn status_spellings(status: &str) -> Option<[&'static str; 2]> {
    match status.to_ascii_lowercase().as_str() {
        "error" => Some(["Error", "STATUS_CODE_ERROR"]),
        "ok" => Some(["Ok", "STATUS_CODE_OK"]),
        "unset" => Some(["Unset", "STATUS_CODE_UNSET"]),
        _ => None,
    }
}

/// Both spellings of a span kind.
fn kind_spellings(kind: &str) -> Option<[&'static str; 2]> {
    match kind.to_ascii_lowercase().as_str() {
        "server" => Some(["Server", "SPAN_KIND_SERVER"]),
        "client" => Some(["Client", "SPAN_KIND_CLIENT"]),
        "internal" => Some(["Internal", "SPAN_KIND_INTERNAL"]),
        "producer" => Some(["Producer", "SPAN_KIND_PRODUCER"]),
        "consumer" => Some(["Consumer", "SPAN_KIND_CONSUMER"]),
        "unspecified" => Some(["Unspecified", "SPAN_KIND_UNSPECIFIED"]),
        _ => None,
    }
}

/// A trace search filter's column, or an error naming the setting that maps it.
fn search_column<'a>(
    c: &'a Option<String>,
    what: &str,
    setting: &str,
) -> Result<&'a str, BuildError> {
    c.as_deref().ok_or_else(|| {
        BuildError(format!(
            "traceSearch.{what} cannot be applied: the table has no such column (set the datasource's traces.{setting})"
        ))
    })
}

/// The trace search table query.
pub fn trace_search_query(
    s: &TraceSearch,
    database: &str,
    table: &str,
    roles: &TraceRoles,
    time_kind: TimeKind,
    columns: &[String],
    r: Range,
) -> Result<String, BuildError> {
    let mut conds = vec![time_filter(&roles.time, time_kind, &roles.key_times, r)];
    if s.root_only.unwrap_or(true)
        && let Some(parent) = &roles.parent_span_id
    {
        conds.push(format!("{} = ''", identifier(parent)));
    }
    if !s.services.is_empty() {
        let service = search_column(&roles.service, "services", "serviceNameColumn")?;
        let list: Vec<String> = s.services.iter().map(|v| string_literal(v)).collect();
        conds.push(format!("{} IN ({})", identifier(service), list.join(", ")));
    }
    if !s.operation.is_empty() {
        let op = search_column(&roles.operation, "operation", "operationNameColumn")?;
        conds.push(format!(
            "{} = {}",
            identifier(op),
            string_literal(&s.operation)
        ));
    }
    if let Some(ms) = s.min_duration_ms {
        conds.push(format!(
            "{} >= {}",
            identifier(&roles.duration),
            duration_bound("minDurationMs", ms, roles)?
        ));
    }
    if let Some(ms) = s.max_duration_ms {
        conds.push(format!(
            "{} <= {}",
            identifier(&roles.duration),
            duration_bound("maxDurationMs", ms, roles)?
        ));
    }
    if !s.status.is_empty() {
        let spellings = status_spellings(&s.status).ok_or_else(|| {
            BuildError(format!(
                "status must be error, ok or unset, got {:?}",
                s.status
            ))
        })?;
        let status = search_column(&roles.status_code, "status", "statusCodeColumn")?;
        conds.push(format!(
            "{} IN ({}, {})",
            identifier(status),
            string_literal(spellings[0]),
            string_literal(spellings[1])
        ));
    }
    if !s.kind.is_empty() {
        let spellings = kind_spellings(&s.kind)
            .ok_or_else(|| BuildError(format!("kind {:?} is not a span kind", s.kind)))?;
        let kind = search_column(&roles.kind, "kind", "kindColumn")?;
        conds.push(format!(
            "{} IN ({}, {})",
            identifier(kind),
            string_literal(spellings[0]),
            string_literal(spellings[1])
        ));
    }
    let maps: Vec<String> = [&roles.tags, &roles.service_tags]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let roles_for_filters = LogRoles {
        maps: maps.clone(),
        ..Default::default()
    };
    for f in &s.filters {
        let mut c = String::new();
        // Bare keys look in span attributes, then resource attributes. The key is passed on
        // as `Map.key`, which `ColumnRef::parse` reads back whole (quotes included): a key that
        // could end the `Map['…']` form is not the key this filter asked for.
        let f = match ColumnRef::parse(&f.key, &maps) {
            ColumnRef::Column(k) if !columns.contains(&k) && !maps.is_empty() => Filter {
                key: format!("{}.{k}", maps[0]),
                ..f.clone()
            },
            _ => f.clone(),
        };
        filter_condition(&mut c, &f, &roles_for_filters, columns)?;
        conds.push(c);
    }
    let limit = s.limit.unwrap_or(100).clamp(1, 10_000);
    Ok(format!(
        "SELECT {tid} AS traceID, {svc} AS serviceName, {op} AS operationName, {time} AS startTime, {dur} AS duration, {status} AS status\nFROM {table}\nWHERE {cond}\nORDER BY {time} DESC\nLIMIT {limit}",
        tid = identifier(&roles.trace_id),
        svc = column_or(&roles.service, "''"),
        op = column_or(&roles.operation, "''"),
        time = identifier(&roles.time),
        dur = duration_ms(roles),
        status = column_or(&roles.status_code, "''"),
        table = qualified_table(database, table),
        cond = conds.join("\n  AND "),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles() -> LogRoles {
        LogRoles {
            time: "Timestamp".into(),
            key_times: vec![("TimestampTime".into(), TimeKind::Seconds)],
            body: "Body".into(),
            severity_text: Some("SeverityText".into()),
            severity_number: Some("SeverityNumber".into()),
            service: Some("ServiceName".into()),
            trace_id: Some("TraceId".into()),
            span_id: None,
            maps: vec!["ResourceAttributes".into(), "LogAttributes".into()],
            label_columns: vec![],
            context_columns: vec![],
        }
    }

    const R: Range = Range {
        from_ns: 1_000_000_000_500,
        to_ns: 2_000_000_000_000,
    };

    #[test]
    fn builder_level_filter_is_the_row_level() {
        let b = LogsBuilder {
            filters: vec![Filter {
                key: "level".into(),
                op: "=".into(),
                value: "error".into(),
                values: vec![],
            }],
            ..Default::default()
        };
        let roles = roles();
        let cols = vec!["Body".to_owned()];
        let target = LogsTable {
            database: "otel",
            table: "otel_logs",
            roles: &roles,
            time_kind: TimeKind::Precise(9),
            columns: &cols,
        };
        let sql = logs_query(&b, target, R).unwrap();
        assert!(
            sql.contains(&format!("{} = 'error'", level_expression(&roles))),
            "{sql}"
        );
        // A table with a column named level filters that column.
        let cols = vec!["Body".to_owned(), "level".to_owned()];
        let target = LogsTable {
            columns: &cols,
            ..target
        };
        let sql = logs_query(&b, target, R).unwrap();
        assert!(sql.contains("`level` = 'error'"), "{sql}");
    }

    #[test]
    fn builder_sql_filters_and_escapes() {
        let b = LogsBuilder {
            services: vec!["cart".into(), "it's".into()],
            min_severity: "warn".into(),
            filters: vec![
                Filter {
                    key: "k8s.pod.name".into(),
                    op: "=".into(),
                    value: "p-1".into(),
                    values: vec![],
                },
                Filter {
                    key: "ResourceAttributes['region']".into(),
                    op: "IN".into(),
                    value: serde_json::Value::Null,
                    values: vec!["eu".into(), "us".into()],
                },
                Filter {
                    key: "Body".into(),
                    op: "=~".into(),
                    value: "time(out)?".into(),
                    values: vec![],
                },
            ],
            body_contains: "50%_done".into(),
            limit: Some(10),
            ..Default::default()
        };
        let cols = vec!["Body".to_owned()];
        let roles = roles();
        let target = LogsTable {
            database: "otel",
            table: "otel_logs",
            roles: &roles,
            time_kind: TimeKind::Precise(9),
            columns: &cols,
        };
        let sql = logs_query(&b, target, R).unwrap();
        assert!(sql.contains("FROM `otel`.`otel_logs`"), "{sql}");
        assert!(
            sql.contains(
                "`TimestampTime` >= toDateTime(1000) AND `TimestampTime` <= toDateTime(2000)"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("`Timestamp` >= fromUnixTimestamp64Nano(1000000000500)"),
            "{sql}"
        );
        assert!(sql.contains(r"`ServiceName` IN ('cart', 'it\'s')"), "{sql}");
        // Sargable: a range on the number, IN on the raw text; no per-row level expression.
        assert!(
            sql.contains("((`SeverityNumber` >= 13 AND `SeverityNumber` <= 24) OR `SeverityText` IN ('emerg', 'EMERG', 'Emerg', "),
            "{sql}"
        );
        assert!(sql.contains("'Warning')"), "{sql}");
        assert!(!sql.contains("multiIf"), "{sql}");
        assert!(sql.contains("if(mapContains(`LogAttributes`, 'k8s.pod.name'), `LogAttributes`['k8s.pod.name'], `ResourceAttributes`['k8s.pod.name']) = 'p-1'"), "{sql}");
        assert!(
            sql.contains("`ResourceAttributes`['region'] IN ('eu', 'us')"),
            "{sql}"
        );
        assert!(sql.contains("match(`Body`, 'time(out)?')"), "{sql}");
        assert!(sql.contains(r"`Body` ILIKE '%50\\%\\_done%'"), "{sql}");
        assert!(
            sql.ends_with("ORDER BY `Timestamp` DESC\nLIMIT 10"),
            "{sql}"
        );
    }

    #[test]
    fn builder_rejects_bad_input_by_name() {
        let cols = vec![];
        for (b, needle) in [
            (
                LogsBuilder {
                    min_severity: "loud".into(),
                    ..Default::default()
                },
                "minSeverity",
            ),
            (
                LogsBuilder {
                    order: "sideways".into(),
                    ..Default::default()
                },
                "order",
            ),
            (
                LogsBuilder {
                    filters: vec![Filter {
                        key: "a".into(),
                        op: "LIKEISH".into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                "operator",
            ),
        ] {
            let roles = roles();
            let e = logs_query(
                &b,
                LogsTable {
                    database: "",
                    table: "t",
                    roles: &roles,
                    time_kind: TimeKind::Precise(9),
                    columns: &cols,
                },
                R,
            )
            .unwrap_err();
            assert!(e.0.contains(needle), "{e}");
        }
    }

    #[test]
    fn volume_wraps_raw_sql_and_keeps_or_inside() {
        let sql = logs_volume_for_sql(
            "SELECT * FROM logs WHERE a = 1 OR b = 2 -- trailing",
            "ts",
            Some("level"),
            None,
            60,
        );
        assert!(
            sql.starts_with("SELECT toStartOfInterval(`ts`, INTERVAL 60 second) AS time, multiIf("),
            "{sql}"
        );
        assert!(sql.contains("FROM (\nSELECT * FROM logs WHERE a = 1 OR b = 2 -- trailing\n) GROUP BY time, level"), "{sql}");
    }

    #[test]
    fn context_goes_both_ways() {
        let sql = context_for_sql(
            "SELECT * FROM t",
            "timestamp",
            5,
            Direction::Backward,
            &[("`pod`".into(), "p'1".into())],
            10,
        );
        assert!(sql.contains("WHERE `timestamp` < fromUnixTimestamp64Nano(5) AND `pod` = 'p\\'1'\nORDER BY `timestamp` DESC\nLIMIT 10"), "{sql}");
        let roles = roles();
        let target = LogsTable {
            database: "otel",
            table: "logs",
            roles: &roles,
            time_kind: TimeKind::Precise(9),
            columns: &[],
        };
        let sql = context_for_table(
            target,
            5,
            Direction::Forward,
            &[(
                ColumnRef::MapKey("ResourceAttributes".into(), "k8s.pod.name".into()),
                "p".into(),
            )],
            10,
        );
        assert!(
            sql.contains("`ResourceAttributes`['k8s.pod.name'] = 'p'"),
            "{sql}"
        );
        assert!(sql.contains("ORDER BY `Timestamp` ASC"), "{sql}");
        assert!(sql.contains("`TimestampTime` >= toDateTime(0)"), "{sql}");
    }

    /// The collector exporter's trace columns.
    fn exporter_trace_roles() -> TraceRoles {
        let some = |s: &str| Some(s.to_owned());
        TraceRoles {
            time: "Timestamp".into(),
            trace_id: "TraceId".into(),
            span_id: "SpanId".into(),
            parent_span_id: some("ParentSpanId"),
            operation: some("SpanName"),
            service: some("ServiceName"),
            duration: "Duration".into(),
            duration_ns: 1,
            tags: some("SpanAttributes"),
            service_tags: some("ResourceAttributes"),
            kind: some("SpanKind"),
            status_code: some("StatusCode"),
            ..Default::default()
        }
    }

    #[test]
    fn trace_search_matches_both_spellings() {
        let roles = exporter_trace_roles();
        let s = TraceSearch {
            status: "error".into(),
            kind: "server".into(),
            min_duration_ms: Some(250.0),
            ..Default::default()
        };
        let cols: Vec<String> = ["ParentSpanId", "SpanAttributes"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let sql = trace_search_query(
            &s,
            "otel",
            "otel_traces",
            &roles,
            TimeKind::Precise(9),
            &cols,
            R,
        )
        .unwrap();
        assert!(
            sql.contains("`StatusCode` IN ('Error', 'STATUS_CODE_ERROR')"),
            "{sql}"
        );
        assert!(
            sql.contains("`SpanKind` IN ('Server', 'SPAN_KIND_SERVER')"),
            "{sql}"
        );
        assert!(sql.contains("`Duration` >= 250000000"), "{sql}");
        assert!(sql.contains("`ParentSpanId` = ''"), "{sql}");
    }

    /// A traces table with its own column names, durations in seconds.
    fn custom_trace_roles() -> TraceRoles {
        let some = |s: &str| Some(s.to_owned());
        TraceRoles {
            time: "started".into(),
            trace_id: "trace".into(),
            span_id: "span".into(),
            parent_span_id: some("parent"),
            operation: some("op"),
            duration: "took".into(),
            duration_ns: 1_000_000_000,
            tags: some("attrs"),
            events: some("ev"),
            ..Default::default()
        }
    }

    #[test]
    fn trace_view_reads_the_roles_columns_and_duration_unit() {
        let roles = custom_trace_roles();
        let cols = TraceColumns {
            present: ["ev.Timestamp", "ev.Name", "ev.Attributes"]
                .map(String::from)
                .to_vec(),
        };
        let sql = trace_query("db", "spans", &roles, &cols, "t1", None);
        for want in [
            "`trace` AS traceID",
            "`span` AS spanID",
            "`parent` AS parentSpanID",
            "`op` AS operationName",
            "'' AS serviceName",
            "toUnixTimestamp64Micro(toDateTime64(`started`, 6)) / 1000 AS startTime",
            "`took` * 1000000000 / 1000000 AS duration",
            "mapKeys(`attrs`)",
            "CAST([], 'Array(Tuple(key String, value String))') AS serviceTags",
            "`ev.Timestamp`, `ev.Name`, `ev.Attributes`",
            "CAST([], 'Array(Tuple(traceID String, spanID String))') AS references",
            "WHERE `trace` = 't1'",
        ] {
            assert!(sql.contains(want), "{want}: {sql}");
        }
        assert!(
            !sql.contains("TraceId") && !sql.contains("SpanName"),
            "{sql}"
        );
        // Events whose subcolumns are not all there are shown empty, not as broken SQL.
        let sql = trace_query("db", "spans", &roles, &TraceColumns::default(), "t1", None);
        assert!(!sql.contains("`ev."), "{sql}");
    }

    #[test]
    fn trace_search_durations_in_the_columns_unit() {
        let mut roles = custom_trace_roles();
        let s = TraceSearch {
            min_duration_ms: Some(1500.0),
            max_duration_ms: Some(4000.0),
            ..Default::default()
        };
        let search = |roles: &TraceRoles, s: &TraceSearch| {
            trace_search_query(s, "", "spans", roles, TimeKind::Precise(6), &[], R)
        };
        let sql = search(&roles, &s).unwrap();
        assert!(sql.contains("`took` >= 1.5\n"), "seconds: {sql}");
        assert!(sql.contains("`took` <= 4\n"), "{sql}");
        assert!(sql.contains("`parent` = ''"), "root spans: {sql}");
        assert!(
            sql.contains("`took` * 1000000000 / 1000000 AS duration"),
            "{sql}"
        );
        roles.duration_ns = 1_000;
        let sql = search(&roles, &s).unwrap();
        assert!(sql.contains("`took` >= 1500000\n"), "microseconds: {sql}");
        let huge = TraceSearch {
            min_duration_ms: Some(1e300),
            ..Default::default()
        };
        let e = search(&roles, &huge).unwrap_err();
        assert!(e.0.contains("minDurationMs"), "{e}");
        // A filter the table has no column for is an error naming the setting, not a no-op.
        for (s, setting) in [
            (
                TraceSearch {
                    services: vec!["api".into()],
                    ..Default::default()
                },
                "serviceNameColumn",
            ),
            (
                TraceSearch {
                    status: "error".into(),
                    ..Default::default()
                },
                "statusCodeColumn",
            ),
            (
                TraceSearch {
                    kind: "server".into(),
                    ..Default::default()
                },
                "kindColumn",
            ),
        ] {
            let e = search(&roles, &s).unwrap_err();
            assert!(e.0.contains(setting), "{e}");
        }
    }

    /// A bare trace search key with an apostrophe filtered on the key without it (`it's` became
    /// `its`, and `'` the empty key): a silently different filter. Found by the security suite.
    #[test]
    fn trace_search_filter_key_with_a_quote_is_that_key() {
        let roles = exporter_trace_roles();
        let cols: Vec<String> = vec!["SpanAttributes".into()];
        for (key, want) in [
            ("it's", r"`SpanAttributes`['it\'s'] = 'x'"),
            ("'", r"`SpanAttributes`['\''] = 'x'"),
            ("a['b", r"`SpanAttributes`['a[\'b'] = 'x'"),
            ("'] OR 1=1 --", r"`SpanAttributes`['\'] OR 1=1 --'] = 'x'"),
        ] {
            let s = TraceSearch {
                filters: vec![Filter {
                    key: key.into(),
                    op: "=".into(),
                    value: "x".into(),
                    values: vec![],
                }],
                ..Default::default()
            };
            let sql =
                trace_search_query(&s, "", "t", &roles, TimeKind::Precise(9), &cols, R).unwrap();
            assert!(sql.contains(want), "{key:?}: {sql}");
        }
    }
}
