//! SQL for Explore: filters from a click, row limits taken off for log volume and samples, the
//! bounded tag key/value lookups behind ad hoc filter suggestions, and the live tail's poll.
//!
//! # Filters from a click
//!
//! "Filter for value" / "filter out" and a click on a level arrive as
//! `filters: [{key, operator: "=" | "!=", value}]` on any logs query ([`ClickFilter`]). On raw SQL
//! they **wrap** the user's SQL (`SELECT * FROM (<sql>) WHERE …`): each key is resolved against
//! the columns of the query's result ([`resolve_result_key`]): a result column, `level` (the
//! normalised level of the row, computed from its severity text and number exactly as the logs
//! frame does), `service.name` (the service column), `Map['k']` / `Map.k`, or a bare (dotted
//! OTel) attribute key looked up in the result's attribute maps in the order the frame's labels
//! show them (a later map wins, as it does in the labels JSON). A key that resolves to nothing is
//! an error naming it: a filter is never dropped.
//!
//! # Taking a query's row limit off
//!
//! Log volume and the logs sample must count or sample every row the query's filters match, not
//! the first `LIMIT n` of them. [`strip_row_limits`] removes the row-limiting clauses of every
//! top-level `SELECT` of the statement: `LIMIT n`, `LIMIT n OFFSET m`, `LIMIT m, n`,
//! `LIMIT n WITH TIES`, a stand-alone `OFFSET m [ROWS]`, `FETCH FIRST|NEXT n ROWS ONLY|WITH TIES`
//! and `TOP n`. It reads the SQL with the macro scanner (`macros::scan`), which knows
//! ClickHouse's strings, quoted identifiers, heredocs and comments, and only looks at
//! parenthesis depth zero, so a `LIMIT` inside a subquery, a string, a comment or an identifier
//! is left alone. `LIMIT n BY cols` is **kept**: it is not a cap on the result but part of what
//! the query selects (n rows per group), so the volume must count what it keeps.
//!
//! Why strip rather than rewrite the query from its `FROM … WHERE`: a rewrite needs a full
//! ClickHouse parser (CTEs, joins, `ARRAY JOIN`, `PREWHERE`, window functions, `UNION`s,
//! `SETTINGS`) to keep the query's own meaning, and any clause it misreads silently changes what
//! is counted. Row-limit clauses sit at fixed grammar positions at depth zero and are recognised
//! by their keywords alone; removing them leaves every other byte of the user's SQL as written
//! (filters, joins, settings), so the volume counts exactly the rows the query would return
//! without its cap.
//!
//! # Tag keys and values
//!
//! [`tag_keys_sql`] and [`tag_values_sql`] read a bounded sample inside the time range: the
//! sample is a `LIMIT`ed subquery (the scan stops once it has enough rows), run with the request
//! settings [`tag_settings`]: `max_rows_to_read` + `read_overflow_mode = 'break'` (a partial
//! answer, never an error, never a full scan) and `max_execution_time` +
//! `timeout_overflow_mode = 'break'`. Every parameter is a
//! value or an identifier written through [`super`]'s escaping.

use std::fmt::Write as _;

use serde::Deserialize;

use super::build::level_expression_of;
use super::{identifier, string_literal, wrap_subquery, write_string_literal};
use crate::chtype::ChType;
use crate::macros::scan::{ident_len, opaque_at};
use crate::otel::parse_level;

/// One filter from a click, as the query JSON carries it (`filters: [...]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RawClickFilter {
    /// The label or field name.
    pub key: String,
    /// `=` or `!=`.
    pub operator: String,
    /// The value clicked (numbers and booleans are compared as their text).
    pub value: serde_json::Value,
}

/// The operator of a click filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClickOp {
    /// Filter for value.
    Equal,
    /// Filter out value.
    NotEqual,
}

impl ClickOp {
    fn sql(self) -> &'static str {
        match self {
            ClickOp::Equal => "=",
            ClickOp::NotEqual => "!=",
        }
    }
}

/// A validated click filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClickFilter {
    /// The key (never empty).
    pub key: String,
    /// The operator.
    pub op: ClickOp,
    /// The value as text.
    pub value: String,
}

/// At most this many click filters per query.
pub const MAX_CLICK_FILTERS: usize = 64;

/// Reads the `filters` field of a query: `None`/`null` is no filters; anything else must be a list
/// of `{key, operator, value}` with `operator` `=` or `!=`.
pub fn parse_click_filters(v: Option<&serde_json::Value>) -> Result<Vec<ClickFilter>, String> {
    let raw: Vec<RawClickFilter> = match v {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            format!("field `filters` must be a list of {{key, operator, value}}: {e}")
        })?,
    };
    if raw.len() > MAX_CLICK_FILTERS {
        return Err(format!(
            "field `filters` holds {} filters; at most {MAX_CLICK_FILTERS} are allowed",
            raw.len()
        ));
    }
    raw.into_iter()
        .map(|f| {
            let key = f.key.trim().to_owned();
            if key.is_empty() {
                return Err("a filter in `filters` has an empty key".to_owned());
            }
            let op = match f.operator.trim() {
                "=" | "==" => ClickOp::Equal,
                "!=" => ClickOp::NotEqual,
                other => {
                    return Err(format!(
                        "filter on `{key}`: operator {other:?} is not supported (use = or !=)"
                    ));
                }
            };
            let value = match f.value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null => String::new(),
                other => {
                    return Err(format!(
                        "filter on `{key}`: the value must be text, a number or a boolean, got {other}"
                    ));
                }
            };
            Ok(ClickFilter { key, op, value })
        })
        .collect()
}

/// The columns of a query's result with their logs roles, as click filters need them.
#[derive(Clone, Debug, Default)]
pub struct ResultColumns<'a> {
    /// Every result column: name and ClickHouse type.
    pub columns: &'a [(String, ChType)],
    /// The severity text column (index), if any.
    pub severity: Option<usize>,
    /// The severity number column (index), if any.
    pub severity_number: Option<usize>,
    /// The service column (index), if any.
    pub service: Option<usize>,
    /// Attribute map columns (indexes), in result order.
    pub maps: Vec<usize>,
}

/// The SQL expression a click filter key refers to in a query's result, or an error naming the key.
pub fn resolve_result_key(key: &str, r: &ResultColumns<'_>) -> Result<Resolved, String> {
    let name = |i: usize| r.columns[i].0.as_str();
    if key.eq_ignore_ascii_case("level") {
        return Ok(Resolved::Level(level_expression_of(
            r.severity.map(|i| identifier(name(i))),
            r.severity_number.map(|i| identifier(name(i))),
        )));
    }
    if let Some(i) = r.columns.iter().position(|(n, _)| n == key) {
        let (n, t) = &r.columns[i];
        if matches!(t.base(), ChType::Map(..)) {
            return Err(format!(
                "cannot filter on `{key}`: it is a map column; filter on one of its keys (`{key}['k']`)"
            ));
        }
        return Ok(Resolved::Expr(if is_text(t) {
            identifier(n)
        } else {
            format!("toString({})", identifier(n))
        }));
    }
    if key == "service.name"
        && let Some(i) = r.service
    {
        return Ok(Resolved::Expr(identifier(name(i))));
    }
    // `Map['k']` or `Map.k` on a map of the result.
    let maps: Vec<&str> = r.maps.iter().map(|&i| name(i)).collect();
    if let Some((map, k)) = map_key(key, &maps) {
        return Ok(Resolved::Expr(format!(
            "{}[{}]",
            identifier(map),
            string_literal(k)
        )));
    }
    if maps.is_empty() {
        return Err(format!(
            "cannot filter on `{key}`: the query's result has no column of that name and no attribute map to look it up in"
        ));
    }
    // A bare attribute key: the map whose entry the labels show (the last one holding it).
    let k = string_literal(key);
    let mut expr = String::new();
    for m in maps.iter().rev().take(maps.len() - 1) {
        let m = identifier(m);
        let _ = write!(expr, "if(mapContains({m}, {k}), {m}[{k}], ");
    }
    let _ = write!(expr, "{}[{k}]", identifier(maps[0]));
    expr.push_str(&")".repeat(maps.len() - 1));
    Ok(Resolved::Expr(expr))
}

/// What a click filter key resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// A string expression compared with the value.
    Expr(String),
    /// The row's normalised level (the value must be a level name).
    Level(String),
}

fn is_text(t: &ChType) -> bool {
    matches!(
        t.base(),
        ChType::String | ChType::FixedString(_) | ChType::Enum(_)
    )
}

/// `Map['k']` (any map name; the key as a ClickHouse string literal body) or `Map.k` for one of
/// `maps`.
fn map_key<'k>(key: &'k str, maps: &[&'k str]) -> Option<(&'k str, &'k str)> {
    if let Some((map, rest)) = key.split_once("['")
        && let Some(k) = rest.strip_suffix("']")
        && maps.contains(&map)
    {
        return Some((map, k));
    }
    maps.iter().find_map(|m| {
        key.strip_prefix(m)
            .and_then(|r| r.strip_prefix('.'))
            .filter(|k| !k.is_empty())
            .map(|k| (*m, k))
    })
}

/// Attribute keys that identify a log stream (with the service and the label columns) when log
/// context is asked for a raw SQL query's row.
pub const STREAM_KEYS: &[&str] = &[
    "k8s.namespace.name",
    "k8s.pod.name",
    "k8s.container.name",
    "container.id",
];

/// The equality conditions that keep log context in a row's stream: its service (label
/// `service.name`), its label columns, and the [`STREAM_KEYS`] of its attribute maps, each with
/// the row's value (`labels`: the row's labels as the logs frame shows them).
pub fn stream_conditions(
    labels: &std::collections::BTreeMap<String, String>,
    r: &ResultColumns<'_>,
    label_columns: &[usize],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |expr: String, value: &String| {
        if !out.iter().any(|(e, _)| *e == expr) {
            out.push((expr, value.clone()));
        }
    };
    if let Some(i) = r.service {
        let name = &r.columns[i].0;
        if let Some(v) = labels.get("service.name").or_else(|| labels.get(name)) {
            push(identifier(name), v);
        }
    }
    for &i in label_columns {
        let name = &r.columns[i].0;
        if let Some(v) = labels.get(name) {
            push(identifier(name), v);
        }
    }
    if !r.maps.is_empty() {
        for key in STREAM_KEYS {
            if let Some(v) = labels.get(*key)
                && let Ok(Resolved::Expr(e)) = resolve_result_key(key, r)
            {
                push(e, v);
            }
        }
    }
    out
}

/// One condition for a resolved click filter.
pub fn click_condition(f: &ClickFilter, target: &Resolved) -> Result<String, String> {
    let mut out = String::new();
    match target {
        Resolved::Expr(e) => {
            let _ = write!(out, "{e} {} ", f.op.sql());
            write_string_literal(&mut out, &f.value);
        }
        Resolved::Level(e) => {
            let level = parse_level(&f.value).ok_or_else(|| {
                format!(
                    "filter on `level`: {:?} is not a level (critical, error, warning, info, debug, trace, unknown)",
                    f.value
                )
            })?;
            let _ = write!(out, "{e} {} ", f.op.sql());
            write_string_literal(&mut out, level);
        }
    }
    Ok(out)
}

/// The user's SQL wrapped with `conditions` (`SELECT * FROM (<sql>) WHERE c1 AND c2 …`); the SQL
/// itself when there are none.
pub fn wrap_with_conditions(user_sql: &str, conditions: &[String]) -> String {
    if conditions.is_empty() {
        return user_sql.to_owned();
    }
    let conds: Vec<String> = conditions.iter().map(|c| format!("({c})")).collect();
    wrap_subquery(user_sql, "*", &format!("WHERE {}", conds.join(" AND ")))
}

/// A byte range of the SQL and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    /// A word (identifier or keyword), lower-cased when compared.
    Word(usize, usize),
    /// `(`, `)`, `,`, `;` or any other punctuation byte.
    Punct(usize, u8),
    /// A number literal.
    Number(usize, usize),
    /// A string, quoted identifier, heredoc or comment.
    Opaque(usize, usize),
}

impl Tok {
    fn start(self) -> usize {
        match self {
            Tok::Word(s, _) | Tok::Number(s, _) | Tok::Opaque(s, _) | Tok::Punct(s, _) => s,
        }
    }

    fn end(self) -> usize {
        match self {
            Tok::Word(_, e) | Tok::Number(_, e) | Tok::Opaque(_, e) => e,
            Tok::Punct(s, _) => s + 1,
        }
    }

    fn is_comment(self, sql: &str) -> bool {
        matches!(self, Tok::Opaque(s, _) if sql[s..].starts_with("--") || sql[s..].starts_with("/*"))
    }
}

/// Tokens with their parenthesis depth (depth counted before an opening bracket).
fn tokens(sql: &str) -> Vec<(Tok, usize)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut depth) = (0usize, 0usize);
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if let Some((_, end)) = opaque_at(b, i) {
            out.push((Tok::Opaque(i, end.max(i + 1)), depth));
            i = end.max(i + 1);
        } else if c.is_ascii_digit() {
            // Numbers: digits, letters (hex, exponents), dots, and a sign after an exponent.
            let mut j = i + 1;
            while j < b.len()
                && (b[j].is_ascii_alphanumeric()
                    || b[j] == b'.'
                    || b[j] == b'_'
                    || ((b[j] == b'+' || b[j] == b'-') && matches!(b[j - 1], b'e' | b'E')))
            {
                j += 1;
            }
            out.push((Tok::Number(i, j), depth));
            i = j;
        } else if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
            let mut j = i + ident_len(b, i).max(1);
            while j < b.len() && b[j] >= 0x80 {
                j += 1;
                j += ident_len(b, j);
            }
            out.push((Tok::Word(i, j), depth));
            i = j;
        } else {
            match c {
                b'(' | b'[' | b'{' => {
                    out.push((Tok::Punct(i, c), depth));
                    depth += 1;
                }
                b')' | b']' | b'}' => {
                    depth = depth.saturating_sub(1);
                    out.push((Tok::Punct(i, c), depth));
                }
                _ => out.push((Tok::Punct(i, c), depth)),
            }
            i += 1;
        }
    }
    out
}

fn word_is(sql: &str, t: Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(s, e) if sql[s..e].eq_ignore_ascii_case(kw))
}

/// Keywords that end a row-limit clause at depth zero.
const CLAUSE_ENDS: &[&str] = &[
    "settings",
    "format",
    "union",
    "intersect",
    "except",
    "into",
    "offset",
    "fetch",
];

/// The statement with the row-limit clauses of its top-level `SELECT`s removed (see the module
/// docs: `LIMIT n [OFFSET m]`, `LIMIT m, n`, `WITH TIES`, `OFFSET`, `FETCH`, `TOP n`; `LIMIT n BY`
/// is kept).
pub fn strip_row_limits(sql: &str) -> String {
    let toks = tokens(sql);
    let mut cut: Vec<(usize, usize)> = Vec::new();
    // The clause starting after token `from` runs to the next depth-zero keyword of `stops`, `;`,
    // or the end: (end byte, end token, saw `BY`). Comments after its last token are not part of
    // it (they stay, and so does the line end a `--` comment needs).
    let clause_end = |from: usize, stops: &[&str]| -> (usize, usize, bool) {
        let mut k = from;
        let mut saw_by = false;
        let mut end = toks.get(from.saturating_sub(1)).map_or(0, |(t, _)| t.end());
        while k < toks.len() {
            let (t, d) = toks[k];
            if d == 0 {
                if matches!(t, Tok::Punct(_, b';')) {
                    break;
                }
                if stops.iter().any(|kw| word_is(sql, t, kw)) {
                    break;
                }
                if word_is(sql, t, "by") {
                    saw_by = true;
                }
            }
            if !t.is_comment(sql) {
                end = t.end();
            }
            k += 1;
        }
        (end, k, saw_by)
    };
    let after_limit: Vec<&str> = CLAUSE_ENDS
        .iter()
        .copied()
        .filter(|w| *w != "offset")
        .chain(["limit"])
        .collect();
    let after_offset: Vec<&str> = CLAUSE_ENDS.iter().copied().chain(["limit"]).collect();
    let mut k = 0;
    while k < toks.len() {
        let (t, depth) = toks[k];
        if depth != 0 {
            k += 1;
            continue;
        }
        if word_is(sql, t, "limit") {
            let (end, next, by) = clause_end(k + 1, &after_limit);
            // `LIMIT n [OFFSET m] BY …` is a per-group limit, part of the selection: keep it.
            if !by {
                cut.push((t.start(), end));
            }
            k = next;
        } else if word_is(sql, t, "offset") || word_is(sql, t, "fetch") {
            // A stand-alone `OFFSET m [ROWS]` or `FETCH FIRST n ROWS ONLY`.
            let (end, next, _) = clause_end(k + 1, &after_offset);
            cut.push((t.start(), end));
            k = next;
        } else if word_is(sql, t, "top")
            && k > 0
            && (word_is(sql, toks[k - 1].0, "select") || word_is(sql, toks[k - 1].0, "distinct"))
            && let Some((Tok::Number(_, ne), _)) = toks.get(k + 1)
        {
            // `SELECT [DISTINCT] TOP n [WITH TIES]`.
            let mut end = *ne;
            if let (Some((w, _)), Some((ties, _))) = (toks.get(k + 2), toks.get(k + 3))
                && word_is(sql, *w, "with")
                && word_is(sql, *ties, "ties")
                && let Tok::Word(_, e) = ties
            {
                end = *e;
            }
            cut.push((t.start(), end));
            k += 2;
        } else {
            k += 1;
        }
    }
    if cut.is_empty() {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len());
    let mut at = 0;
    for (s, e) in cut {
        out.push_str(&sql[at..s]);
        // Keep the words on both sides apart where text was removed.
        if !out.ends_with(char::is_whitespace) && !sql[e..].starts_with(char::is_whitespace) {
            out.push(' ');
        }
        at = e;
    }
    out.push_str(&sql[at..]);
    out
}

/// Bounds of the tag key and value lookups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagBounds {
    /// Rows sampled from the table (the `LIMIT` of the sample subquery).
    pub sample_rows: u64,
    /// `max_rows_to_read` (with `read_overflow_mode = 'break'`).
    pub max_rows_to_read: u64,
    /// `max_execution_time`, seconds (with `timeout_overflow_mode = 'break'`).
    pub max_execution_time_s: u64,
    /// Keys or values returned at most.
    pub limit: u64,
}

/// The defaults: a 100 000-row sample, at most 1 000 000 rows read, 5 s, 1 000 answers.
pub const TAG_BOUNDS: TagBounds = TagBounds {
    sample_rows: 100_000,
    max_rows_to_read: 1_000_000,
    max_execution_time_s: 5,
    limit: 1000,
};

/// The request settings of the tag lookups (sent with the request, not in the SQL, so that a
/// datasource running queries with `readonly=1` still bounds them; a `readonly=1` profile, which
/// may send no settings at all, is still bounded by the sample's `LIMIT`).
pub fn tag_settings(b: TagBounds) -> Vec<(String, String)> {
    [
        ("max_rows_to_read", b.max_rows_to_read.to_string()),
        ("read_overflow_mode", "break".to_owned()),
        ("max_execution_time", b.max_execution_time_s.to_string()),
        ("timeout_overflow_mode", "break".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Distinct keys of `maps` among a bounded sample of the table's rows in the time range
/// (`conditions`: SQL the caller built, e.g. with [`super::build::time_filter`]).
pub fn tag_keys_sql(table: &str, maps: &[String], conditions: &str, b: TagBounds) -> String {
    let keys: Vec<String> = maps
        .iter()
        .map(|m| format!("mapKeys({})", identifier(m)))
        .collect();
    format!(
        "SELECT k FROM (SELECT arrayConcat({keys}) AS ks FROM {table} WHERE {conditions} LIMIT {sample}) ARRAY JOIN ks AS k GROUP BY k ORDER BY k LIMIT {limit}",
        keys = keys.join(", "),
        sample = b.sample_rows,
        limit = b.limit,
    )
}

/// The most frequent values of `expr` among a bounded sample of the table's rows matching
/// `conditions` (time range, key present). Empty values are left out.
pub fn tag_values_sql(table: &str, expr: &str, conditions: &str, b: TagBounds) -> String {
    format!(
        "SELECT v FROM (SELECT toString({expr}) AS v FROM {table} WHERE {conditions} LIMIT {sample}) WHERE v != '' GROUP BY v ORDER BY count() DESC, v LIMIT {limit}",
        sample = b.sample_rows,
        limit = b.limit,
    )
}

/// Monotonic functions of time that tables put in their sorting key (the exporter's current
/// `otel_logs` orders by `toStartOfFiveMinutes(Timestamp)`).
const TIME_BUCKETS: &[&str] = &[
    "toStartOfMinute",
    "toStartOfFiveMinutes",
    "toStartOfTenMinutes",
    "toStartOfFifteenMinutes",
    "toStartOfHour",
    "toStartOfDay",
    "toStartOfMonth",
    "toDate",
    "toDateTime",
    "toYYYYMM",
    "toYYYYMMDD",
    "toUnixTimestamp",
];

/// Conditions on the time-bucket expressions of a table's sorting/primary key (`keys`: their
/// text from `system.tables`) for the range `[from_ns, to_ns]` of column `time`.
///
/// ClickHouse does not derive a range on `toStartOfFiveMinutes(Timestamp)` from a condition on a
/// `DateTime64` `Timestamp` (measured on 26.9: a one-hour filter on `Timestamp` alone reads all
/// of a 1 M-row exporter table, with this condition added 49 728 rows). The functions are
/// monotonic, so `f(from) <= f(t) <= f(to)` holds for every row of the range: the condition
/// never drops a row, it only lets the primary key skip granules.
pub fn key_bucket_conditions(keys: &[&str], time: &str, from_ns: i64, to_ns: i64) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        for element in split_top_level(key) {
            let element = element.trim();
            let Some((name, rest)) = element.split_once('(') else {
                continue;
            };
            let Some(arg) = rest.strip_suffix(')') else {
                continue;
            };
            let arg = arg.trim().trim_matches('`');
            if arg != time || !TIME_BUCKETS.contains(&name.trim()) {
                continue;
            }
            let (f, t) = (identifier(time), name.trim());
            let c = format!(
                "{t}({f}) >= {t}(fromUnixTimestamp64Nano({from_ns})) AND {t}({f}) <= {t}(fromUnixTimestamp64Nano({to_ns}))"
            );
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    out
}

/// The comma-separated elements of a key expression at parenthesis depth zero (`(a, f(b))` is
/// read as its elements too).
fn split_top_level(key: &str) -> Vec<&str> {
    let key = key.trim();
    let key = key
        .strip_prefix('(')
        .and_then(|k| k.strip_suffix(')'))
        .filter(|inner| {
            // Only when the outer parentheses enclose the whole tuple.
            let mut depth = 0i32;
            inner.bytes().all(|c| {
                match c {
                    b'(' => depth += 1,
                    b')' => depth -= 1,
                    _ => {}
                }
                depth >= 0
            })
        })
        .unwrap_or(key);
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0usize);
    for (i, c) in key.bytes().enumerate() {
        match c {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b',' if depth == 0 => {
                out.push(&key[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&key[start..]);
    out
}

/// The expression whose values `tag-values` lists for `key` on a table (`columns`: its column
/// names and types; `roles`: its logs roles, or defaults with `maps` set to its map columns),
/// and the condition that keeps the rows holding the key (for map keys: `mapContains`, which a
/// skip index on the map's keys can answer). An unknown key is an error naming it.
pub fn tag_value_target(
    key: &str,
    columns: &[(String, ChType)],
    roles: &crate::otel::LogRoles,
) -> Result<(String, Option<String>), String> {
    use crate::otel::ColumnRef;
    let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    let is_map = |m: &str| {
        columns
            .iter()
            .any(|(n, t)| n == m && matches!(t.base(), ChType::Map(..)))
    };
    if key.trim().is_empty() {
        return Err("tag-values needs ?key=<column or attribute key>".into());
    }
    match ColumnRef::parse(key, &roles.maps) {
        ColumnRef::Column(c) if names.contains(&c) => {
            if is_map(&c) {
                return Err(format!(
                    "`{key}` is a map column: ask for one of its keys (`{key}['k']`)"
                ));
            }
            Ok((format!("toString({})", identifier(&c)), None))
        }
        ColumnRef::MapKey(m, k) if is_map(&m) => {
            let (m, k) = (identifier(&m), string_literal(&k));
            Ok((format!("{m}[{k}]"), Some(format!("mapContains({m}, {k})"))))
        }
        ColumnRef::MapKey(m, _) => Err(format!(
            "cannot list values of `{key}`: `{m}` is not a map column of the table"
        )),
        ColumnRef::Column(c) if c.eq_ignore_ascii_case("level") => {
            Ok((super::build::level_expression(roles), None))
        }
        ColumnRef::Column(c) if c == "service.name" && roles.service.is_some() => Ok((
            identifier(roles.service.as_deref().unwrap_or_default()),
            None,
        )),
        ColumnRef::Column(_) => {
            let (expr, maps) = super::build::filter_target(key, roles, &names);
            match maps {
                Some((maps, k)) => {
                    let any: Vec<String> = maps
                        .iter()
                        .map(|m| format!("mapContains({m}, {k})"))
                        .collect();
                    Ok((expr, Some(any.join(" OR "))))
                }
                None => Err(format!(
                    "cannot list values of `{key}`: the table has no column of that name and no attribute map (ResourceAttributes, ScopeAttributes, LogAttributes) to look it up in"
                )),
            }
        }
    }
}

/// The live tail's poll of a raw SQL logs query: the user's SQL (already expanded for the poll's
/// window, its row limit taken off) wrapped with the exact lower time bound on the result's time
/// column, newest first, at most `limit` rows.
pub fn live_poll_sql(user_sql: &str, time_col: &str, from_ns: i64, limit: u64) -> String {
    let t = identifier(time_col);
    wrap_subquery(
        &strip_row_limits(user_sql),
        "*",
        &format!("WHERE {t} >= fromUnixTimestamp64Nano({from_ns}) ORDER BY {t} DESC LIMIT {limit}"),
    )
}

/// The number of rows a live poll's window holds (asked only when a poll hit its row cap, to
/// tell how many lines the rate limit dropped).
pub fn count_sql(sql: &str) -> String {
    wrap_subquery(&strip_row_limits(sql), "count()", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_a_trailing_limit_and_offset() {
        assert_eq!(
            strip_row_limits("SELECT * FROM t ORDER BY ts DESC LIMIT 1000"),
            "SELECT * FROM t ORDER BY ts DESC "
        );
        assert_eq!(
            strip_row_limits("SELECT * FROM t LIMIT 10 OFFSET 5"),
            "SELECT * FROM t "
        );
        assert_eq!(
            strip_row_limits("SELECT * FROM t LIMIT 5, 10"),
            "SELECT * FROM t "
        );
        assert_eq!(
            strip_row_limits("select * from t order by a limit 3 with ties"),
            "select * from t order by a "
        );
        assert_eq!(
            strip_row_limits("SELECT * FROM t ORDER BY a OFFSET 5 ROWS FETCH FIRST 3 ROWS ONLY"),
            "SELECT * FROM t ORDER BY a  "
        );
        assert_eq!(
            strip_row_limits("SELECT TOP 10 a FROM t"),
            "SELECT  a FROM t"
        );
        assert_eq!(
            strip_row_limits("SELECT DISTINCT TOP 10 WITH TIES a FROM t ORDER BY a"),
            "SELECT DISTINCT  a FROM t ORDER BY a"
        );
    }

    #[test]
    fn keeps_settings_and_format_after_the_limit() {
        assert_eq!(
            strip_row_limits("SELECT * FROM t LIMIT 10 SETTINGS max_threads = 1"),
            "SELECT * FROM t  SETTINGS max_threads = 1"
        );
        assert_eq!(
            strip_row_limits("SELECT * FROM t LIMIT 10 FORMAT JSON"),
            "SELECT * FROM t  FORMAT JSON"
        );
        assert_eq!(
            strip_row_limits("SELECT * FROM t LIMIT 10;"),
            "SELECT * FROM t ;"
        );
    }

    #[test]
    fn keeps_limit_by_but_strips_the_limit_after_it() {
        assert_eq!(
            strip_row_limits("SELECT * FROM t LIMIT 2 BY pod"),
            "SELECT * FROM t LIMIT 2 BY pod"
        );
        assert_eq!(
            strip_row_limits("SELECT * FROM t LIMIT 2 BY pod LIMIT 100"),
            "SELECT * FROM t LIMIT 2 BY pod "
        );
        assert_eq!(
            strip_row_limits("SELECT * FROM t LIMIT 1, 2 BY pod, ns LIMIT 5 OFFSET 1"),
            "SELECT * FROM t LIMIT 1, 2 BY pod, ns "
        );
        assert_eq!(
            strip_row_limits("SELECT * FROM t LIMIT 2 OFFSET 1 BY pod LIMIT 9"),
            "SELECT * FROM t LIMIT 2 OFFSET 1 BY pod "
        );
    }

    #[test]
    fn leaves_limits_in_subqueries_strings_comments_and_identifiers() {
        let sql = "SELECT * FROM (SELECT * FROM t LIMIT 5) WHERE b = 'LIMIT 3' -- LIMIT 2\n AND `limit` = 1 /* LIMIT 4 */";
        assert_eq!(strip_row_limits(sql), sql);
        assert_eq!(
            strip_row_limits("SELECT * FROM t WHERE x IN (SELECT y FROM u LIMIT 1) LIMIT 7"),
            "SELECT * FROM t WHERE x IN (SELECT y FROM u LIMIT 1) "
        );
        // `limit` as a column name is not a clause.
        assert_eq!(
            strip_row_limits("SELECT limit_x FROM t"),
            "SELECT limit_x FROM t"
        );
        assert_eq!(
            strip_row_limits("SELECT $$LIMIT 1$$ AS s FROM t"),
            "SELECT $$LIMIT 1$$ AS s FROM t"
        );
    }

    #[test]
    fn strips_every_branch_of_a_union() {
        assert_eq!(
            strip_row_limits("SELECT a FROM t LIMIT 1 UNION ALL SELECT a FROM u LIMIT 2"),
            "SELECT a FROM t  UNION ALL SELECT a FROM u "
        );
    }

    #[test]
    fn a_limit_followed_by_a_line_comment_cannot_swallow_the_wrapper() {
        let stripped = strip_row_limits("SELECT * FROM t LIMIT 10 -- newest");
        assert_eq!(stripped, "SELECT * FROM t  -- newest");
        let wrapped = wrap_with_conditions(&stripped, &["a = 1".into()]);
        assert!(wrapped.contains("-- newest\n)"), "{wrapped}");
    }

    #[test]
    fn limit_expressions_and_parameters_are_removed_whole() {
        assert_eq!(
            strip_row_limits("SELECT * FROM t LIMIT {n:UInt32}"),
            "SELECT * FROM t "
        );
        assert_eq!(
            strip_row_limits("SELECT * FROM t LIMIT (10 + 5) OFFSET 2"),
            "SELECT * FROM t "
        );
    }

    fn cols(list: &[(&str, &str)]) -> Vec<(String, ChType)> {
        list.iter()
            .map(|(n, t)| (n.to_string(), ChType::parse(t)))
            .collect()
    }

    fn filter(key: &str, op: ClickOp, value: &str) -> ClickFilter {
        ClickFilter {
            key: key.into(),
            op,
            value: value.into(),
        }
    }

    #[test]
    fn click_filters_parse_and_reject_what_they_cannot_apply() {
        let v = serde_json::json!([{"key": "k8s.pod.name", "operator": "=", "value": "p-1"},
                                    {"key": "code", "operator": "!=", "value": 500}]);
        assert_eq!(
            parse_click_filters(Some(&v)).unwrap(),
            vec![
                filter("k8s.pod.name", ClickOp::Equal, "p-1"),
                filter("code", ClickOp::NotEqual, "500")
            ]
        );
        assert_eq!(parse_click_filters(None).unwrap(), vec![]);
        let bad = serde_json::json!([{"key": "a", "operator": "=~", "value": "x"}]);
        assert!(parse_click_filters(Some(&bad)).unwrap_err().contains("=~"));
        let empty = serde_json::json!([{"key": " ", "operator": "=", "value": "x"}]);
        assert!(parse_click_filters(Some(&empty)).is_err());
        let object = serde_json::json!({"key": "a"});
        assert!(parse_click_filters(Some(&object)).is_err());
        let nested = serde_json::json!([{"key": "a", "operator": "=", "value": {"x": 1}}]);
        assert!(parse_click_filters(Some(&nested)).is_err());
    }

    fn otel_result() -> Vec<(String, ChType)> {
        cols(&[
            ("timestamp", "DateTime64(9)"),
            ("body", "String"),
            ("SeverityText", "LowCardinality(String)"),
            ("SeverityNumber", "UInt8"),
            ("ServiceName", "LowCardinality(String)"),
            ("code", "UInt16"),
            ("ResourceAttributes", "Map(LowCardinality(String), String)"),
            ("LogAttributes", "Map(LowCardinality(String), String)"),
        ])
    }

    fn roles(c: &[(String, ChType)]) -> ResultColumns<'_> {
        ResultColumns {
            columns: c,
            severity: Some(2),
            severity_number: Some(3),
            service: Some(4),
            maps: vec![6, 7],
        }
    }

    #[test]
    fn keys_resolve_against_the_result() {
        let c = otel_result();
        let r = roles(&c);
        let cond = |key: &str, op, v: &str| {
            click_condition(&filter(key, op, v), &resolve_result_key(key, &r).unwrap()).unwrap()
        };
        assert_eq!(cond("body", ClickOp::Equal, "x"), "`body` = 'x'");
        assert_eq!(
            cond("code", ClickOp::NotEqual, "500"),
            "toString(`code`) != '500'"
        );
        assert_eq!(
            cond("service.name", ClickOp::Equal, "cart"),
            "`ServiceName` = 'cart'"
        );
        assert_eq!(
            cond("ResourceAttributes['k8s.pod.name']", ClickOp::Equal, "p"),
            "`ResourceAttributes`['k8s.pod.name'] = 'p'"
        );
        assert_eq!(
            cond("LogAttributes.http.method", ClickOp::Equal, "GET"),
            "`LogAttributes`['http.method'] = 'GET'"
        );
        // A bare key: the last map holding it wins, as in the labels JSON.
        assert_eq!(
            cond("k8s.pod.name", ClickOp::Equal, "p-1"),
            "if(mapContains(`LogAttributes`, 'k8s.pod.name'), `LogAttributes`['k8s.pod.name'], `ResourceAttributes`['k8s.pod.name']) = 'p-1'"
        );
        let level = cond("level", ClickOp::NotEqual, "WARN");
        assert!(level.starts_with("multiIf("), "{level}");
        assert!(level.ends_with(" != 'warning'"), "{level}");
        assert!(level.contains("`SeverityNumber` >= 13"), "{level}");
    }

    #[test]
    fn unresolvable_keys_are_errors_naming_the_key() {
        let c = cols(&[("ts", "DateTime"), ("msg", "String")]);
        let r = ResultColumns {
            columns: &c,
            ..Default::default()
        };
        let e = resolve_result_key("k8s.pod.name", &r).unwrap_err();
        assert!(e.contains("`k8s.pod.name`"), "{e}");
        let c = otel_result();
        let e = resolve_result_key("ResourceAttributes", &roles(&c)).unwrap_err();
        assert!(e.contains("map column"), "{e}");
        let e = click_condition(
            &filter("level", ClickOp::Equal, "loud"),
            &resolve_result_key("level", &roles(&c)).unwrap(),
        )
        .unwrap_err();
        assert!(e.contains("\"loud\""), "{e}");
    }

    #[test]
    fn hostile_keys_and_values_stay_values() {
        let c = otel_result();
        let r = roles(&c);
        let key = "x') OR 1=1 --";
        let f = filter(key, ClickOp::Equal, "v' OR '1'='1");
        let sql = click_condition(&f, &resolve_result_key(key, &r).unwrap()).unwrap();
        assert_eq!(
            sql,
            r"if(mapContains(`LogAttributes`, 'x\') OR 1=1 --'), `LogAttributes`['x\') OR 1=1 --'], `ResourceAttributes`['x\') OR 1=1 --']) = 'v\' OR \'1\'=\'1'"
        );
        // A map key written as Map['k'] with a quote inside stays one literal.
        let key = "ResourceAttributes['a'] OR 1=1 --']";
        let sql = click_condition(
            &filter(key, ClickOp::Equal, "v"),
            &resolve_result_key(key, &r).unwrap(),
        )
        .unwrap();
        assert_eq!(sql, r"`ResourceAttributes`['a\'] OR 1=1 --'] = 'v'");
    }

    #[test]
    fn context_stays_in_the_rows_stream() {
        let c = otel_result();
        let r = roles(&c);
        let labels: std::collections::BTreeMap<String, String> = [
            ("service.name", "cart"),
            ("k8s.pod.name", "p-1"),
            ("http.method", "GET"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let eq = stream_conditions(&labels, &r, &[1]);
        assert_eq!(eq[0], ("`ServiceName`".to_owned(), "cart".to_owned()));
        assert_eq!(eq.len(), 2, "{eq:?}");
        assert!(eq[1].0.contains("'k8s.pod.name'"), "{eq:?}");
        // Per-line attributes (http.method) are not the stream.
        assert!(!eq.iter().any(|(e, _)| e.contains("http.method")));
    }

    #[test]
    fn filters_wrap_the_user_sql_so_or_cannot_escape() {
        let sql = wrap_with_conditions(
            "SELECT * FROM t WHERE a = 1 OR b = 2",
            &["`pod` = 'p'".into(), "x != 'y'".into()],
        );
        assert_eq!(
            sql,
            "SELECT * FROM (\nSELECT * FROM t WHERE a = 1 OR b = 2\n) WHERE (`pod` = 'p') AND (x != 'y')"
        );
        assert_eq!(wrap_with_conditions("SELECT 1", &[]), "SELECT 1");
    }

    #[test]
    fn tag_lookups_are_bounded() {
        let k = tag_keys_sql(
            "`otel`.`logs`",
            &["ResourceAttributes".into(), "LogAttributes".into()],
            "`Timestamp` >= x",
            TAG_BOUNDS,
        );
        assert_eq!(
            k,
            "SELECT k FROM (SELECT arrayConcat(mapKeys(`ResourceAttributes`), mapKeys(`LogAttributes`)) AS ks FROM `otel`.`logs` WHERE `Timestamp` >= x LIMIT 100000) ARRAY JOIN ks AS k GROUP BY k ORDER BY k LIMIT 1000"
        );
        let v = tag_values_sql("`t`", "`pod`", "1", TAG_BOUNDS);
        assert!(v.contains("LIMIT 100000)"), "{v}");
        assert!(tag_settings(TAG_BOUNDS).contains(&("max_rows_to_read".into(), "1000000".into())));
    }

    #[test]
    fn tag_value_keys_resolve_on_the_table() {
        let c = cols(&[
            ("Timestamp", "DateTime64(9)"),
            ("ServiceName", "LowCardinality(String)"),
            ("SeverityText", "String"),
            ("ResourceAttributes", "Map(LowCardinality(String), String)"),
            ("LogAttributes", "Map(LowCardinality(String), String)"),
        ]);
        let roles = crate::otel::LogRoles {
            service: Some("ServiceName".into()),
            severity_text: Some("SeverityText".into()),
            maps: vec!["ResourceAttributes".into(), "LogAttributes".into()],
            ..Default::default()
        };
        let t = |k: &str| tag_value_target(k, &c, &roles);
        assert_eq!(
            t("ServiceName").unwrap(),
            ("toString(`ServiceName`)".into(), None)
        );
        assert_eq!(t("service.name").unwrap().0, "`ServiceName`");
        assert_eq!(
            t("ResourceAttributes['k8s.pod.name']").unwrap(),
            (
                "`ResourceAttributes`['k8s.pod.name']".into(),
                Some("mapContains(`ResourceAttributes`, 'k8s.pod.name')".into())
            )
        );
        let (expr, cond) = t("k8s.pod.name").unwrap();
        assert!(expr.starts_with("if(mapContains(`LogAttributes`"), "{expr}");
        assert_eq!(
            cond.unwrap(),
            "mapContains(`LogAttributes`, 'k8s.pod.name') OR mapContains(`ResourceAttributes`, 'k8s.pod.name')"
        );
        assert!(t("level").unwrap().0.starts_with("multiIf("));
        assert!(t("ResourceAttributes").unwrap_err().contains("map column"));
        assert!(t("Nope['x']").unwrap_err().contains("`Nope`"));
        assert!(t("").is_err());
        let plain = cols(&[("ts", "DateTime"), ("msg", "String")]);
        let e = tag_value_target("pod", &plain, &crate::otel::LogRoles::default()).unwrap_err();
        assert!(e.contains("`pod`"), "{e}");
        // A hostile key is a literal.
        let (expr, _) = t("x') OR 1=1 --").unwrap();
        assert!(expr.contains(r"'x\') OR 1=1 --'"), "{expr}");
    }

    #[test]
    fn key_buckets_of_the_time_column_become_conditions() {
        let c = key_bucket_conditions(
            &[
                "toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp",
                "toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp",
            ],
            "Timestamp",
            1,
            2,
        );
        assert_eq!(
            c,
            [
                "toStartOfFiveMinutes(`Timestamp`) >= toStartOfFiveMinutes(fromUnixTimestamp64Nano(1)) AND toStartOfFiveMinutes(`Timestamp`) <= toStartOfFiveMinutes(fromUnixTimestamp64Nano(2))"
            ]
        );
        assert_eq!(
            key_bucket_conditions(&["(toDate(ts), intHash32(x))"], "ts", 1, 2).len(),
            1
        );
        // Other columns, plain columns and non-monotonic functions add nothing.
        assert!(key_bucket_conditions(&["ServiceName, Timestamp"], "Timestamp", 1, 2).is_empty());
        assert!(key_bucket_conditions(&["toStartOfHour(other)"], "Timestamp", 1, 2).is_empty());
        assert!(key_bucket_conditions(&["cityHash64(Timestamp)"], "Timestamp", 1, 2).is_empty());
    }

    #[test]
    fn live_poll_wraps_without_the_user_limit() {
        let sql = live_poll_sql(
            "SELECT Timestamp AS ts, Body FROM t WHERE x ORDER BY ts DESC LIMIT 1000",
            "ts",
            1_700_000_000_123_456_789,
            500,
        );
        assert_eq!(
            sql,
            "SELECT * FROM (\nSELECT Timestamp AS ts, Body FROM t WHERE x ORDER BY ts DESC\n) WHERE `ts` >= fromUnixTimestamp64Nano(1700000000123456789) ORDER BY `ts` DESC LIMIT 500"
        );
        assert_eq!(
            count_sql("SELECT * FROM t LIMIT 3"),
            "SELECT count() FROM (\nSELECT * FROM t\n)"
        );
    }
}
