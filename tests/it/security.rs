//! The security suite: hostile payloads through every way a value reaches SQL, judged by what
//! comes back, never by the SQL text.
//!
//! A test database holds a `logs` table with one ordinary row per payload (the payload in every
//! string column a way can filter on: `val`, `Body`, `ServiceName`, a `LogAttributes` value and
//! key, …) plus a **canary row** of another tenant, a `traces` table (one root span per payload,
//! plus a canary span) with its `traces_trace_id_ts` lookup, and a `secrets` table holding a
//! canary value. Every string the canary rows hold contains [`CANARY`]; no payload does. A
//! correct filter never returns the canary; an injection that escapes its quotes (a `UNION` with
//! `secrets`, an `OR 1=1`, a comment that swallows the tenant filter, a stacked statement…)
//! does, and so does an error message that echoes data.
//!
//! Every payload goes through every way in (template variables in every position and format of
//! both query models, `$conditionalTest`, `$__conditionalAll`, ad hoc keys and values of both
//! models, the logs builder's fields, log context labels, trace ids, trace search fields, and the
//! resource parameters), through the real plugin under the gRPC test host, against the engine.
//! Each case expects one of:
//!
//! * an **exact round trip** where the payload is a value: the rows whose column holds the
//!   payload come back, and only they (a 4xx is accepted instead only for the payloads longer
//!   than ClickHouse's `max_query_size`);
//! * a **clear error** (4xx) where the input is not acceptable (`${v:raw}`, an unknown level);
//! * for names (ad hoc keys, table names, regular expressions, bare values that are plain
//!   identifiers and so read as names by design), anything but the canary: rows of the right
//!   tenant, nothing, or a 4xx.
//!
//! No case may return the canary, a 5xx of the plugin's own, or end the process: health must
//! still answer OK at the end. The summary prints payloads × ways, escapes and errors by status.
//! `${v:raw}` is judged as an error: Lantern has no raw format (a raw insert would be SQL by
//! definition, and the SQL itself is the user's); any other unknown format likewise.

use std::collections::{BTreeMap, HashMap, HashSet};

use grafana_plugin_sdk::pluginv2;
use serde_json::{Value, json};

use crate::engine::{engine, token};
use crate::host::{Answer, Host, Q, datasource_for};

/// What every canary string contains; no payload contains it.
const CANARY: &str = "CANARY";

/// Start of the rows' hour (epoch seconds); the queries ask for this hour.
const T0: i64 = 1_700_000_000;

/// Hostile payloads: quote breaking, escapes, comments, heredocs, Unicode quotes, control bytes,
/// numbers in bare position, tails, macro syntax, metacharacters, names, JSON, very long values.
fn payloads() -> Vec<String> {
    let mut p: Vec<String> = [
        // Breaking out of quotes: OR, UNION with the secrets table, stacked statements.
        "' OR 1=1 --",
        "' OR '1'='1",
        "x' OR tenant = 'evil",
        "' OR tenant != 'acme' OR '",
        "') OR ('1'='1",
        "x')) OR 1=1 --",
        "' UNION ALL SELECT secret FROM secrets --",
        "x' UNION ALL SELECT secret FROM secrets WHERE '1'='1",
        "' UNION DISTINCT SELECT toString(secret) FROM secrets --",
        "'; SELECT secret FROM secrets; --",
        "x'; DROP TABLE logs; --",
        "'; TRUNCATE TABLE logs --",
        "' AND 0 UNION ALL SELECT name FROM system.tables --",
        // Backslashes and doubled quotes.
        "\\' OR 1=1 --",
        "\\\\' OR 1=1 --",
        "\\",
        "\\\\",
        "'",
        "''",
        "'''",
        "\\'",
        "x\\",
        "'' OR 1=1 --",
        "\\'' OR 1=1 --",
        // Double quotes and backticks.
        "\"",
        "\" OR 1=1 --",
        "`",
        "` OR 1=1 --",
        "a`b\"c'd",
        "\\` OR 1=1 --",
        "\\\" OR 1=1 --",
        // Comments of every form ClickHouse knows.
        "x -- ",
        "x' -- ",
        "' OR 1=1 #",
        "' OR 1=1 # it's",
        "' OR 1=1 #!",
        "#!/bin/sh' OR 1=1",
        "' OR 1=1 //",
        "' OR 1=1 /*",
        "*/ OR 1=1 /*",
        "' /* it's */ OR 1=1 --",
        "/* /* */ ' OR 1=1 */",
        "/*",
        "*/",
        // Heredocs.
        "$$ OR 1=1 $$",
        "$$' OR 1=1 --$$",
        "$x$ OR 1=1 $x$",
        "$q$' OR 1=1 --$q$",
        "' || $$ OR 1=1 $$ || '",
        "$$",
        // Unicode quotes (string literals and identifiers without escapes).
        "‘ OR 1=1 --",
        "’ OR 1=1 --",
        "‘' OR 1=1 --’",
        "“ OR 1=1 --",
        "” OR 1=1 --",
        // Control characters.
        "a\0b",
        "\0' OR 1=1 --",
        "x\n' OR 1=1 --",
        "x\r' OR 1=1 --",
        "\t' OR\t1=1 --",
        "line\u{2028}sep",
        "\u{1}\u{1f}\u{7f}",
        // Numbers in bare position (`1 -$v` must never read `1 --1`).
        "-1",
        "--1",
        "1 OR 1=1",
        "1) OR (1=1",
        "0x1F",
        "1e-5",
        "-1e--5",
        "1e--1",
        "99999999999999999999999",
        "NaN",
        // FORMAT / SETTINGS / INTO OUTFILE tails.
        "x FORMAT JSON",
        "x' FORMAT TSV --",
        "' SETTINGS readonly = 0 --",
        "' SETTINGS max_result_rows = 0 --",
        "' INTO OUTFILE '/tmp/lantern-security' --",
        "x'; SET readonly = 0; --",
        // Macro and variable syntax inside values.
        "$v",
        "${v}",
        "[[v]]",
        "${v:raw}",
        "$__timeFilter(Timestamp)",
        "$adhoc",
        "$table",
        "$conditionalTest(OR 1=1, $v)",
        "$__adHocFilters('logs')",
        "$unescape('x')",
        // LIKE and regular expression metacharacters.
        "%",
        "_",
        "%' OR '%'='",
        ".*",
        "(",
        "[",
        "\\Q",
        // Names, keys and keywords.
        "tenant",
        "secret",
        "secrets",
        "Body",
        "NULL",
        ";",
        "\\N",
        "system.tables",
        "LogAttributes['k']",
        "LogAttributes['k'] OR 1=1",
        "ResourceAttributes.service.name",
        "k8s.pod.name",
        "a.b.c",
        "'] OR 1=1 --",
        "['",
        "']",
        // JSON-looking values (ad hoc values may be JSON arrays).
        "{\"a\":1}",
        "[\"a\",\"b\"]",
        "[\"' OR 1=1 --\"]",
        "[]",
        // Unicode.
        "😀' OR 1=1 --",
        "é",
        "\u{202e}' OR 1=1 --",
        "日本語'--",
        // Empty and blank.
        "",
        " ",
        "  ' OR 1=1 --  ",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Very long values: past ClickHouse's max_query_size (256 KiB) for the last one.
    p.push("'".repeat(10_000));
    p.push(format!("{}' OR 1=1 --", "a".repeat(20_000)));
    p.push("x' OR 1=1 -- ".repeat(25_000));
    p
}

/// Longer than ClickHouse's `max_query_size`: a query carrying it may be refused (4xx).
fn too_long(p: &str) -> bool {
    p.len() > 200_000
}

fn is_number(v: &str) -> bool {
    let t = v.strip_prefix('-').unwrap_or(v);
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let (int, frac) = match mant.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (mant, None),
    };
    digits(int)
        && frac.is_none_or(digits)
        && exp.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)))
}

/// A plain (dotted) identifier: written raw in bare position, so read as a name by design.
fn is_identifier(v: &str) -> bool {
    !v.is_empty()
        && v.split('.').all(|p| {
            let b = p.as_bytes();
            !b.is_empty()
                && !b[0].is_ascii_digit()
                && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_')
        })
}

fn is_json_array(v: &str) -> bool {
    serde_json::from_str::<Value>(v.trim()).is_ok_and(|j| j.is_array())
}

/// What a case must come back as.
#[derive(Clone, Debug)]
enum Expect {
    /// Exactly these values, in any order (a 4xx only for [`too_long`] payloads).
    Exact(Vec<String>),
    /// These values among others.
    Includes(String),
    /// Nothing, or a 4xx.
    EmptyOrError,
    /// Anything but the canary, a plugin 5xx or a crash.
    Safe,
    /// A 4xx whose message names this.
    Error(&'static str),
}

/// How the values of an answer are read.
#[derive(Clone, Copy, Debug)]
enum Pick {
    /// The values of this field in every frame.
    Field(&'static str),
    /// The first field's name, then its values (for payloads used as a column alias).
    Alias,
    /// The `name` of each element of a resource's JSON array.
    Names,
}

/// What is sent.
enum Send {
    Query(Value),
    Resource(&'static str, String, Vec<u8>),
    /// `expand` the query, then run the SQL it returns as raw SQL.
    ExpandThenRun(Value),
}

struct Case {
    way: &'static str,
    payload: usize,
    send: Send,
    pick: Pick,
    expect: Expect,
}

/// Every way a value reaches SQL, by name (see [`build`]).
const WAYS: &[&str] = &[
    "grafana var in '…'",
    "grafana var bare $v",
    "grafana var ${v}",
    "grafana var ${v:singlequote}",
    "grafana var ${v:sqlstring}",
    "grafana var ${v:csv}",
    "grafana var ${v:raw}",
    "grafana var ${v:doublequote} alias",
    "grafana var in `…` alias",
    "grafana var IN ($v) multi",
    "grafana $__conditionalAll",
    "grafana var 1 -$v",
    "altinity var in '…'",
    "altinity var bare $v",
    "altinity $conditionalTest",
    "altinity $adhoc value",
    "altinity $adhoc key",
    "grafana $__adHocFilters value",
    "grafana $__adHocFilters =| values",
    "grafana $__adHocFilters key",
    "builder filter value",
    "builder filter Map['k'] value",
    "builder filter IN values",
    "builder filter key",
    "builder services",
    "builder bodyContains",
    "builder bodyRegex",
    "builder minSeverity",
    "builder order",
    "builder database",
    "builder table",
    "builder bodyColumn",
    "context labels (builder)",
    "context labels (raw SQL)",
    "traces traceId",
    "trace search services",
    "trace search operation",
    "trace search filter value",
    "trace search filter key",
    "resource tables?database",
    "resource columns?table",
    "resource columns?database",
    "resource schema?table",
    "resource expand (grafana var), run",
    "resource expand (altinity $conditionalTest), run",
];

/// Column names of the `logs` table (a key naming one is a column, not an attribute).
const LOG_COLUMNS: &[&str] = &[
    "id",
    "tenant",
    "val",
    "secret",
    "Timestamp",
    "ServiceName",
    "SeverityText",
    "SeverityNumber",
    "Body",
    "TraceId",
    "SpanId",
    "ResourceAttributes",
    "LogAttributes",
];

const TRACE_COLUMNS: &[&str] = &[
    "n",
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "SpanName",
    "SpanKind",
    "ServiceName",
    "ResourceAttributes",
    "SpanAttributes",
    "Duration",
    "StatusCode",
];

const TABLES: &[&str] = &["logs", "secrets", "traces", "traces_trace_id_ts"];

/// A key the builders read as this attribute key, exactly: not a column, not `Map['k']` or
/// `Map.k` syntax, nothing trimmed.
fn ordinary_key(p: &str, columns: &[&str], maps: &[&str]) -> bool {
    !p.is_empty()
        && p.trim() == p
        && !columns.contains(&p)
        && (!p.contains("['") || !p.ends_with("']"))
        && !maps
            .iter()
            .any(|m| p.strip_prefix(m).is_some_and(|r| r.starts_with('.')))
}

/// A payload used as a column alias comes back as the field's name, except an empty name
/// (ClickHouse refuses it) and a column's own name (the alias then shadows that column in
/// `WHERE tenant = …`, as ClickHouse resolves aliases first).
fn alias(p: &str) -> Expect {
    if p.is_empty() || LOG_COLUMNS.contains(&p) {
        Expect::Safe
    } else {
        Expect::Exact(vec![p.to_owned(), p.to_owned()])
    }
}

fn exact(p: &str) -> Expect {
    Expect::Exact(vec![p.to_owned()])
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const SELECT_VAL: &str = "SELECT val FROM logs WHERE tenant = 'acme'";

/// The case of one way and payload.
fn build(way: &'static str, db: &str, p: &str) -> (Send, Pick, Expect) {
    let grafana = |sql: &str, vars: Value| {
        Send::Query(json!({"rawSql": sql, "format": 1, "templateVars": vars}))
    };
    let altinity = |sql: &str, extra: Value| {
        let mut q = json!({"query": sql, "format": "table", "database": db, "table": "logs"});
        q.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        Send::Query(q)
    };
    let builder = |b: Value| {
        let mut base = json!({"database": db, "table": "logs",
            "filters": [{"key": "tenant", "op": "=", "value": "acme"}]});
        for (k, v) in b.as_object().unwrap() {
            if k == "filters" {
                base["filters"]
                    .as_array_mut()
                    .unwrap()
                    .extend(v.as_array().unwrap().clone());
            } else {
                base[k] = v.clone();
            }
        }
        Send::Query(json!({"editorType": "builder", "format": 2, "builder": base}))
    };
    let search = |s: Value| {
        // Spans of tenant `acme` only (the canary span is tenant `evil`).
        let mut base = json!({"database": db, "table": "traces", "limit": 1000,
            "filters": [{"key": "lantern.tenant", "op": "=", "value": "acme"}]});
        for (k, v) in s.as_object().unwrap() {
            if k == "filters" {
                base["filters"]
                    .as_array_mut()
                    .unwrap()
                    .extend(v.as_array().unwrap().clone());
            } else {
                base[k] = v.clone();
            }
        }
        Send::Query(json!({"queryType": "trace-search", "format": 1, "traceSearch": base}))
    };
    let one = json!({"v": p});
    let val = Pick::Field("val");
    let body = Pick::Field("body");
    // A single value in bare position is raw when it is a plain number or identifier (read as
    // a number or a name, by design); anything else is a literal and must round trip.
    let bare = if is_number(p) || is_identifier(p) {
        Expect::Safe
    } else {
        exact(p)
    };
    let in_quotes = format!("{SELECT_VAL} AND val = '$v'");
    match way {
        "grafana var in '…'" => (grafana(&in_quotes, one), val, exact(p)),
        "grafana var bare $v" => (
            grafana(&format!("{SELECT_VAL} AND val = $v"), one),
            val,
            bare,
        ),
        "grafana var ${v}" => (
            grafana(&format!("{SELECT_VAL} AND val = ${{v}}"), one),
            val,
            bare,
        ),
        "grafana var ${v:singlequote}" => (
            grafana(&format!("{SELECT_VAL} AND val = ${{v:singlequote}}"), one),
            val,
            exact(p),
        ),
        "grafana var ${v:sqlstring}" => (
            grafana(&format!("{SELECT_VAL} AND val = ${{v:sqlstring}}"), one),
            val,
            exact(p),
        ),
        "grafana var ${v:csv}" => (
            grafana(&format!("{SELECT_VAL} AND val = ${{v:csv}}"), one),
            val,
            bare,
        ),
        "grafana var ${v:raw}" => (
            grafana(&format!("{SELECT_VAL} AND val = ${{v:raw}}"), one),
            val,
            Expect::Error("unsupported variable format `raw`"),
        ),
        "grafana var ${v:doublequote} alias" => (
            grafana(
                "SELECT val AS ${v:doublequote} FROM logs WHERE tenant = 'acme' AND val = ${v:singlequote}",
                one,
            ),
            Pick::Alias,
            alias(p),
        ),
        "grafana var in `…` alias" => (
            grafana(
                "SELECT val AS `$v` FROM logs WHERE tenant = 'acme' AND val = '$v'",
                one,
            ),
            Pick::Alias,
            alias(p),
        ),
        "grafana var IN ($v) multi" => (
            grafana(
                &format!("{SELECT_VAL} AND val IN ($v)"),
                json!({"v": {"values": [p, "no such value"], "multi": true}}),
            ),
            val,
            exact(p),
        ),
        "grafana $__conditionalAll" => (
            grafana(
                &format!("{SELECT_VAL} AND $__conditionalAll(val IN ($v), $v)"),
                json!({"v": {"values": [p], "multi": true, "includeAll": true}}),
            ),
            val,
            if p.is_empty() { Expect::Safe } else { exact(p) },
        ),
        "grafana var 1 -$v" => (
            // With v = -1 this read `id = 1 --1 AND tenant = 'acme'` once: the tenant filter gone.
            grafana(
                "SELECT val FROM logs WHERE id = 1 -$v AND tenant = 'acme'",
                one,
            ),
            val,
            Expect::Safe,
        ),
        "altinity var in '…'" => (
            altinity(&in_quotes, json!({"templateVars": one})),
            val,
            exact(p),
        ),
        "altinity var bare $v" => (
            altinity(
                &format!("{SELECT_VAL} AND val = $v"),
                json!({"templateVars": one}),
            ),
            val,
            // A variable without flags is quoted unless it is a number.
            if is_number(p) { Expect::Safe } else { exact(p) },
        ),
        "altinity $conditionalTest" => (
            altinity(
                &format!("{SELECT_VAL} $conditionalTest(AND val = $v, $v)"),
                json!({"templateVars": one}),
            ),
            val,
            if p.is_empty() || is_number(p) {
                Expect::Safe
            } else {
                exact(p)
            },
        ),
        "altinity $adhoc value" => (
            altinity(
                "SELECT val FROM $table WHERE tenant = 'acme' AND $adhoc",
                json!({"adHocFilters": [{"key": "val", "operator": "=", "value": p}]}),
            ),
            val,
            // Of an unknown type, Altinity keeps numbers and JSON arrays as such.
            if is_number(p) || is_json_array(p) {
                Expect::Safe
            } else {
                exact(p)
            },
        ),
        "altinity $adhoc key" => (
            altinity(
                "SELECT val FROM $table WHERE tenant = 'acme' AND $adhoc",
                json!({"adHocFilters": [{"key": p, "operator": "=", "value": "hit"}]}),
            ),
            val,
            Expect::Safe,
        ),
        "grafana $__adHocFilters value" => (
            grafana(
                &format!("{SELECT_VAL} SETTINGS $__adHocFilters('logs')"),
                json!({}),
            )
            .with(
                "adHocFilters",
                json!([{"key": "val", "operator": "=", "value": p}]),
            ),
            val,
            exact(p),
        ),
        "grafana $__adHocFilters =| values" => (
            grafana(
                &format!("{SELECT_VAL} SETTINGS $__adHocFilters('logs')"),
                json!({}),
            )
            .with(
                "adHocFilters",
                json!([{"key": "val", "operator": "=|", "values": [p, "no such value"]}]),
            ),
            val,
            exact(p),
        ),
        "grafana $__adHocFilters key" => (
            grafana(
                &format!("{SELECT_VAL} SETTINGS $__adHocFilters('logs')"),
                json!({}),
            )
            .with(
                "adHocFilters",
                json!([{"key": p, "operator": "=", "value": "hit"}]),
            ),
            val,
            Expect::Safe,
        ),
        "builder filter value" => (
            builder(json!({"filters": [{"key": "val", "op": "=", "value": p}]})),
            body,
            exact(p),
        ),
        "builder filter Map['k'] value" => (
            builder(json!({"filters": [{"key": "LogAttributes['k']", "op": "=", "value": p}]})),
            body,
            exact(p),
        ),
        "builder filter IN values" => (
            builder(
                json!({"filters": [{"key": "val", "op": "IN", "values": [p, "no such value"]}]}),
            ),
            body,
            exact(p),
        ),
        "builder filter key" => (
            // Each payload row has the attribute `<payload>` = `hit`.
            builder(json!({"filters": [{"key": p, "op": "=", "value": "hit"}]})),
            body,
            if ordinary_key(p, LOG_COLUMNS, &["LogAttributes", "ResourceAttributes"]) {
                exact(p)
            } else {
                Expect::Safe
            },
        ),
        "builder services" => (builder(json!({"services": [p]})), body, exact(p)),
        "builder bodyContains" => (
            builder(json!({"bodyContains": p})),
            body,
            Expect::Includes(p.to_owned()),
        ),
        "builder bodyRegex" => (builder(json!({"bodyRegex": p})), body, Expect::Safe),
        "builder minSeverity" => (
            builder(json!({"minSeverity": p})),
            body,
            if p.is_empty() {
                Expect::Safe
            } else {
                Expect::Error("minSeverity")
            },
        ),
        "builder order" => (
            builder(json!({"order": p})),
            body,
            if p.is_empty() {
                Expect::Safe
            } else {
                Expect::Error("order must be asc or desc")
            },
        ),
        "builder database" => (builder(json!({"database": p})), body, Expect::Safe),
        "builder table" => (builder(json!({"table": p})), body, Expect::Safe),
        "builder bodyColumn" => (
            builder(json!({"columns": {"bodyColumn": p}})),
            body,
            Expect::Safe,
        ),
        "context labels (builder)" => (
            Send::Query(
                json!({"editorType": "builder", "format": 2, "queryType": "logs-context",
                "builder": {"database": db, "table": "logs"},
                "context": {"time": ((T0 + 3000) * 1_000_000_000).to_string(), "direction": "backward",
                            "labels": {"ServiceName": p}}}),
            ),
            body,
            exact(p),
        ),
        "context labels (raw SQL)" => (
            Send::Query(
                json!({"rawSql": "SELECT Timestamp, Body, ServiceName FROM logs WHERE tenant = 'acme'",
                "format": 2, "queryType": "logs-context",
                "context": {"time": ((T0 + 3000) * 1_000_000_000).to_string(), "direction": "backward",
                            "labels": {"ServiceName": p}}}),
            ),
            body,
            exact(p),
        ),
        "traces traceId" => (
            Send::Query(json!({"format": 3, "queryType": "traces", "traceId": p,
                "traceSearch": {"database": db, "table": "traces"}})),
            Pick::Field("traceID"),
            if p.trim().is_empty() {
                Expect::Error("traceId")
            } else if p.trim() == p {
                exact(p)
            } else {
                // The id is trimmed: only the span of the trimmed id, if any.
                Expect::Safe
            },
        ),
        "trace search services" => (
            search(json!({"services": [p]})),
            Pick::Field("serviceName"),
            exact(p),
        ),
        "trace search operation" => (
            search(json!({"operation": p})),
            Pick::Field("serviceName"),
            if p.is_empty() { Expect::Safe } else { exact(p) },
        ),
        "trace search filter value" => (
            search(json!({"filters": [{"key": "k", "op": "=", "value": p}]})),
            Pick::Field("serviceName"),
            exact(p),
        ),
        "trace search filter key" => (
            // Each payload span has the attribute `<payload>` = `hit`.
            search(json!({"filters": [{"key": p, "op": "=", "value": "hit"}]})),
            Pick::Field("serviceName"),
            if ordinary_key(p, TRACE_COLUMNS, &["SpanAttributes", "ResourceAttributes"]) {
                exact(p)
            } else {
                Expect::Safe
            },
        ),
        "resource tables?database" => (
            Send::Resource("GET", format!("tables?database={}", pct(p)), Vec::new()),
            Pick::Names,
            // No database: the current one (documented).
            if p.is_empty() {
                Expect::Safe
            } else {
                Expect::EmptyOrError
            },
        ),
        "resource columns?table" => (
            Send::Resource(
                "GET",
                format!("columns?database={}&table={}", pct(db), pct(p)),
                Vec::new(),
            ),
            Pick::Names,
            if TABLES.contains(&p) {
                Expect::Safe
            } else {
                Expect::EmptyOrError
            },
        ),
        "resource columns?database" => (
            Send::Resource(
                "GET",
                format!("columns?database={}&table=logs", pct(p)),
                Vec::new(),
            ),
            Pick::Names,
            if p.is_empty() {
                Expect::Safe
            } else {
                Expect::EmptyOrError
            },
        ),
        "resource schema?table" => (
            Send::Resource(
                "GET",
                format!("schema?database={}&table={}", pct(db), pct(p)),
                Vec::new(),
            ),
            Pick::Names,
            if TABLES.contains(&p) || too_long(p) {
                Expect::Safe
            } else if p.is_empty() {
                Expect::Error("schema needs ?table")
            } else {
                Expect::Error("does not exist")
            },
        ),
        "resource expand (grafana var), run" => (
            Send::ExpandThenRun(json!({"rawSql": in_quotes, "format": 1, "templateVars": one})),
            val,
            exact(p),
        ),
        "resource expand (altinity $conditionalTest), run" => (
            Send::ExpandThenRun(
                json!({"query": format!("{SELECT_VAL} $conditionalTest(AND val = $v, $v)"),
                "format": "table", "templateVars": one}),
            ),
            val,
            if p.is_empty() || is_number(p) {
                Expect::Safe
            } else {
                exact(p)
            },
        ),
        other => panic!("unknown way {other}"),
    }
}

trait With {
    fn with(self, key: &str, value: Value) -> Self;
}

impl With for Send {
    fn with(mut self, key: &str, value: Value) -> Send {
        if let Send::Query(q) = &mut self {
            q[key] = value;
        }
        self
    }
}

/// What came back for a case.
#[derive(Debug, Default)]
struct Outcome {
    /// 0 on success, else the error's status.
    status: i32,
    source: String,
    error: String,
    values: Vec<String>,
    /// A problem reading the answer (a missing field).
    unreadable: Option<String>,
    canary: bool,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn outcome_of_answer(a: &Answer, pick: Pick) -> Outcome {
    let mut o = Outcome {
        status: if a.error.is_empty() { 0 } else { a.status },
        source: a.error_source.clone(),
        error: a.error.clone(),
        canary: a.error.contains(CANARY),
        ..Default::default()
    };
    for f in &a.frames {
        for field in &f.fields {
            if field.name.contains(CANARY)
                || field.labels.values().any(|l| l.contains(CANARY))
                || field.values.iter().any(|v| text(v).contains(CANARY))
            {
                o.canary = true;
            }
        }
    }
    if !a.error.is_empty() {
        return o;
    }
    for f in &a.frames {
        match pick {
            Pick::Field(name) => match f.fields.iter().find(|x| x.name == name) {
                Some(field) => o.values.extend(field.values.iter().map(text)),
                None if f.rows() == 0 => {}
                None => {
                    o.unreadable = Some(format!(
                        "no field {name} in {:?}",
                        f.fields.iter().map(|x| &x.name).collect::<Vec<_>>()
                    ))
                }
            },
            Pick::Alias => {
                if let Some(field) = f.fields.first() {
                    o.values.push(field.name.clone());
                    o.values.extend(field.values.iter().map(text));
                }
            }
            Pick::Names => {}
        }
    }
    o
}

fn outcome_of_resource(code: i32, body: &Value) -> Outcome {
    let canary = body.to_string().contains(CANARY);
    if code != 200 {
        return Outcome {
            status: code,
            source: "resource".into(),
            error: body["error"].as_str().unwrap_or_default().to_owned(),
            canary,
            ..Default::default()
        };
    }
    let values = match body {
        Value::Array(items) => items.iter().map(|i| text(&i["name"])).collect(),
        Value::Object(_) => vec![body["kind"].as_str().unwrap_or("object").to_owned()],
        other => vec![text(other)],
    };
    Outcome {
        values,
        canary,
        ..Default::default()
    }
}

/// The verdict on one case: `Ok(kind)` or `Err(why)`.
fn judge(case: &Case, p: &str, o: &Outcome) -> Result<&'static str, String> {
    if o.canary {
        return Err("ESCAPE: the canary came back".into());
    }
    // ClickHouse's own status for its exception (ILLEGAL_TYPE_OF_ARGUMENT is a 500 in its HTTP
    // mapping, which Lantern keeps) is a downstream error naming the cause; any other 5xx (the
    // plugin's own, or "not ClickHouse") is a failure.
    let clickhouse_5xx =
        o.status >= 500 && o.source == "downstream" && o.error.starts_with("ClickHouse error ");
    if o.status >= 500 && !clickhouse_5xx {
        return Err(format!("{} {} error: {}", o.status, o.source, o.error));
    }
    if o.status != 0 {
        if !(clickhouse_5xx || (400..500).contains(&o.status)) || o.error.trim().is_empty() {
            return Err(format!("unclear error {}: {:?}", o.status, o.error));
        }
        return match &case.expect {
            Expect::Error(needle) if !o.error.contains(needle) => {
                Err(format!("the error does not name {needle:?}: {}", o.error))
            }
            Expect::Error(_) | Expect::Safe | Expect::EmptyOrError => Ok("error"),
            Expect::Exact(_) | Expect::Includes(_) if too_long(p) => Ok("error"),
            // Ad hoc filters travel with a read-only request as a setting, in the URL: a huge
            // value is refused, saying so.
            Expect::Exact(_) | Expect::Includes(_)
                if case.way.contains("$__adHocFilters")
                    && p.len() > lantern::sql::MAX_REQUEST_SETTING_BYTES / 4
                    && o.error
                        .contains("too large to send with a read-only request") =>
            {
                Ok("error")
            }
            Expect::Exact(_) | Expect::Includes(_) => Err(format!(
                "a value must round trip, got {}: {}",
                o.status, o.error
            )),
        };
    }
    if let Some(why) = &o.unreadable {
        return Err(why.clone());
    }
    match &case.expect {
        Expect::Exact(want) => {
            let (mut got, mut want) = (o.values.clone(), want.clone());
            got.sort();
            want.sort();
            if got == want {
                Ok("exact")
            } else {
                Err(format!(
                    "expected exactly {:?}, got {:?}",
                    short(&want),
                    short(&got)
                ))
            }
        }
        Expect::Includes(v) if o.values.contains(v) => Ok("exact"),
        Expect::Includes(v) => Err(format!(
            "{:?} missing from {:?}",
            short(std::slice::from_ref(v)),
            short(&o.values)
        )),
        Expect::EmptyOrError if o.values.is_empty() => Ok("empty"),
        Expect::EmptyOrError => Err(format!("expected nothing, got {:?}", short(&o.values))),
        Expect::Safe => Ok("safe"),
        Expect::Error(needle) => Err(format!(
            "expected an error naming {needle:?}, got {:?}",
            short(&o.values)
        )),
    }
}

fn short(v: &[String]) -> Vec<String> {
    v.iter()
        .take(5)
        .map(|s| {
            if s.chars().count() > 60 {
                format!(
                    "{}…({} bytes)",
                    s.chars().take(60).collect::<String>(),
                    s.len()
                )
            } else {
                s.clone()
            }
        })
        .collect()
}

/// Creates the tables and rows: one row per payload, the canary rows, the secrets table.
fn load(db: &crate::engine::TestDb, payloads: &[String], canary: &str) {
    db.exec(
        "CREATE TABLE logs (id UInt32, tenant String, val String, secret String, \
         Timestamp DateTime64(9) DEFAULT fromUnixTimestamp64Nano(toInt64(1700000060 + id) * 1000000000), \
         ServiceName LowCardinality(String), SeverityText LowCardinality(String), SeverityNumber Int32, \
         Body String, TraceId String, SpanId String, \
         ResourceAttributes Map(LowCardinality(String), String), LogAttributes Map(LowCardinality(String), String)) \
         ENGINE = MergeTree ORDER BY (ServiceName, Timestamp)",
    );
    db.exec(
        "CREATE TABLE traces (n UInt32, \
         Timestamp DateTime64(9) DEFAULT fromUnixTimestamp64Nano(toInt64(1700000060 + n) * 1000000000), \
         TraceId String, SpanId String, ParentSpanId String, TraceState String, \
         SpanName LowCardinality(String), SpanKind LowCardinality(String), ServiceName LowCardinality(String), \
         ResourceAttributes Map(LowCardinality(String), String), SpanAttributes Map(LowCardinality(String), String), \
         Duration UInt64, StatusCode LowCardinality(String), StatusMessage String) \
         ENGINE = MergeTree ORDER BY (ServiceName, SpanName, Timestamp)",
    );
    db.exec(
        "CREATE TABLE traces_trace_id_ts (n UInt32, TraceId String, \
         Start DateTime DEFAULT toDateTime(1700000060 + n), End DateTime DEFAULT toDateTime(1700000060 + n)) \
         ENGINE = MergeTree ORDER BY TraceId",
    );
    db.exec("CREATE TABLE secrets (secret String) ENGINE = MergeTree ORDER BY secret");
    db.exec(&format!(
        "INSERT INTO secrets FORMAT JSONEachRow\n{}",
        json!({"secret": format!("{canary}-secret")})
    ));
    let mut logs = vec![json!({
        "id": 0, "tenant": "evil", "val": format!("{canary}-val"), "secret": format!("{canary}-secret"),
        "ServiceName": format!("{canary}-svc"), "SeverityText": "ERROR", "SeverityNumber": 17,
        "Body": format!("{canary}-body"), "TraceId": format!("{canary}-trace"), "SpanId": "s0",
        "ResourceAttributes": {"service.name": format!("{canary}-svc")},
        "LogAttributes": {"k": format!("{canary}-k"), "hit": format!("{canary}-hit")},
    })];
    let mut traces = vec![json!({
        "n": 0, "TraceId": format!("{canary}-trace"), "SpanId": "s0", "ParentSpanId": "",
        "SpanName": format!("{canary}-op"), "SpanKind": "Server", "ServiceName": format!("{canary}-svc"),
        "ResourceAttributes": {"service.name": format!("{canary}-svc")},
        "SpanAttributes": {"k": format!("{canary}-k"), "lantern.tenant": "evil"}, "Duration": 1_000_000, "StatusCode": "Ok",
        "StatusMessage": "",
    })];
    let mut lookup = vec![json!({"n": 0, "TraceId": format!("{canary}-trace")})];
    for (i, p) in payloads.iter().enumerate() {
        let n = i + 1;
        logs.push(json!({
            "id": n, "tenant": "acme", "val": p, "secret": "", "ServiceName": p,
            "SeverityText": "INFO", "SeverityNumber": 9, "Body": p, "TraceId": format!("t{n}"),
            "SpanId": format!("s{n}"), "ResourceAttributes": {"service.name": p},
            "LogAttributes": {"k": p, p.as_str(): "hit"},
        }));
        traces.push(json!({
            "n": n, "TraceId": p, "SpanId": format!("s{n}"), "ParentSpanId": "", "SpanName": p,
            "SpanKind": "Server", "ServiceName": p, "ResourceAttributes": {"service.name": p},
            "SpanAttributes": {"lantern.tenant": "acme", "k": p, p.as_str(): "hit"}, "Duration": 1_000_000, "StatusCode": "Ok",
            "StatusMessage": "",
        }));
        lookup.push(json!({"n": n, "TraceId": p}));
    }
    for (table, rows) in [
        ("logs", logs),
        ("traces", traces),
        ("traces_trace_id_ts", lookup),
    ] {
        let body: Vec<String> = rows.iter().map(Value::to_string).collect();
        db.exec(&format!(
            "INSERT INTO {table} FORMAT JSONEachRow\n{}",
            body.join("\n")
        ));
    }
}

fn query(ref_id: &str, mut json: Value) -> Q {
    json["refId"] = json!(ref_id);
    let mut q = Q::json(ref_id, json);
    q.from_ms = T0 * 1000;
    q.to_ms = (T0 + 3600) * 1000;
    q
}

/// Runs queries in requests of `chunk`, returning each answer by refId.
async fn run_queries(
    host: &Host,
    ds: &pluginv2::DataSourceInstanceSettings,
    queries: Vec<Q>,
) -> HashMap<String, Answer> {
    let mut out = HashMap::new();
    let mut queries = queries.into_iter().peekable();
    while queries.peek().is_some() {
        let chunk: Vec<Q> = queries.by_ref().take(250).collect();
        out.extend(host.query(ds, chunk).await);
    }
    out
}

/// A case that runs inside its way's batch: a value through a variable `v` that must round
/// trip, read from `val`.
fn batchable(c: &Case, p: &str) -> bool {
    if !matches!(c.expect, Expect::Exact(_)) || too_long(p) {
        return false;
    }
    if list_pointer(c.way).is_some() {
        return true;
    }
    let json = match &c.send {
        Send::Query(j) | Send::ExpandThenRun(j) => j,
        Send::Resource(..) => return false,
    };
    matches!(c.expect, Expect::Exact(_))
        && matches!(c.pick, Pick::Field("val"))
        && !too_long(p)
        && json.get("adHocFilters").is_none()
        && json["templateVars"].get("v").is_some()
}

/// Ways whose payload is one item of a list (JSON pointer to the list): their batch is one
/// query with every payload in the list, and each row must hold one of them.
fn list_pointer(way: &str) -> Option<&'static str> {
    match way {
        "builder services" => Some("/builder/services"),
        "builder filter IN values" => Some("/builder/filters/1/values"),
        "trace search services" => Some("/traceSearch/services"),
        "grafana $__adHocFilters =| values" => Some("/adHocFilters/0/values"),
        _ => None,
    }
}

/// One query of the cases `members` (same way): for a list way, every payload in the list;
/// else each case's SQL as a branch tagged with its index `c`, its variable `v` renamed `v<n>`.
fn combine(cases: &[Case], members: &[usize], payloads: &[String]) -> Value {
    let json = |n: usize| match &cases[n].send {
        Send::Query(j) | Send::ExpandThenRun(j) => j.clone(),
        Send::Resource(..) => unreachable!("resources are not batched"),
    };
    let mut out = json(members[0]);
    if let Some(pointer) = list_pointer(cases[members[0]].way) {
        let mut list: Vec<Value> = members
            .iter()
            .map(|&n| json!(payloads[cases[n].payload]))
            .collect();
        list.push(json!("no such value"));
        *out.pointer_mut(pointer).expect("the way's list") = Value::Array(list);
        return out;
    }
    let key = if out.get("rawSql").is_some() {
        "rawSql"
    } else {
        "query"
    };
    let template = out[key].as_str().unwrap().to_owned();
    let mut branches = Vec::new();
    let mut vars = serde_json::Map::new();
    for &n in members {
        branches.push(
            template
                .replace("${v", &format!("${{v{n}"))
                .replace("$v", &format!("$v{n}"))
                .replacen("SELECT val", &format!("SELECT {n} AS c, val"), 1),
        );
        vars.insert(format!("v{n}"), json(n)["templateVars"]["v"].clone());
    }
    out[key] = json!(branches.join("\nUNION ALL\n"));
    out["templateVars"] = Value::Object(vars);
    out
}

/// The values of a batch by case, or `None` when the batch failed, showed the canary or (a
/// list way) a row that is none of its payloads.
fn split_batch(
    a: &Answer,
    cases: &[Case],
    members: &[usize],
    payloads: &[String],
) -> Option<HashMap<usize, Vec<String>>> {
    let pick = cases[members[0]].pick;
    let o = outcome_of_answer(a, pick);
    if !a.error.is_empty() || o.canary || o.unreadable.is_some() {
        return None;
    }
    let mut out: HashMap<usize, Vec<String>> = HashMap::new();
    if list_pointer(cases[members[0]].way).is_some() {
        let by_payload: HashMap<&str, usize> = members
            .iter()
            .map(|&n| (payloads[cases[n].payload].as_str(), n))
            .collect();
        for v in o.values {
            out.entry(*by_payload.get(v.as_str())?).or_default().push(v);
        }
        return Some(out);
    }
    for f in &a.frames {
        if f.rows() == 0 {
            continue;
        }
        let tags = &f.fields.iter().find(|x| x.name == "c")?.values;
        let vals = &f.fields.iter().find(|x| x.name == "val")?.values;
        for (t, v) in tags.iter().zip(vals) {
            out.entry(t.as_u64()? as usize).or_default().push(text(v));
        }
    }
    Some(out)
}

/// `expand` a query model; the SQL, or the error's (status, body).
async fn expand(
    host: &Host,
    ds: &pluginv2::DataSourceInstanceSettings,
    q: &Value,
) -> Result<String, (i32, Value)> {
    let body = json!({"query": q, "timeRange": {"from": T0 * 1000, "to": (T0 + 3600) * 1000}});
    let (code, v) = host
        .resource(ds, "POST", "expand", body.to_string().as_bytes())
        .await;
    match v["sql"].as_str() {
        Some(sql) if code == 200 => Ok(sql.to_owned()),
        _ => Err((code, v)),
    }
}

/// Runs the cases `which` one by one (queries in large requests).
async fn run_cases(
    host: &Host,
    ds: &pluginv2::DataSourceInstanceSettings,
    cases: &[Case],
    which: &[usize],
) -> Vec<(usize, Outcome)> {
    let mut out = Vec::new();
    let mut queries = Vec::new();
    for &n in which {
        let c = &cases[n];
        match &c.send {
            Send::Query(json) => queries.push(query(&format!("c{n}"), json.clone())),
            Send::Resource(method, path, body) => {
                let (code, v) = host.resource(ds, method, path, body).await;
                out.push((n, outcome_of_resource(code, &v)));
            }
            Send::ExpandThenRun(q) => match expand(host, ds, q).await {
                Ok(sql) => {
                    queries.push(query(&format!("c{n}"), json!({"rawSql": sql, "format": 1})))
                }
                Err((code, v)) => out.push((n, outcome_of_resource(code, &v))),
            },
        }
    }
    for (ref_id, a) in &run_queries(host, ds, queries).await {
        let n: usize = ref_id[1..].parse().unwrap();
        out.push((n, outcome_of_answer(a, cases[n].pick)));
    }
    out
}

/// Hostile payloads through every way in; 0 escapes, no plugin 5xx, the process alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_payloads_never_escape_any_way_in() {
    let e = engine();
    let db = e.database("security");
    let canary = format!("{CANARY}-{}", token());
    let payloads = payloads();
    assert!(payloads.len() >= 100, "at least 100 payloads");
    assert_eq!(
        payloads.iter().collect::<HashSet<_>>().len(),
        payloads.len(),
        "payloads are unique"
    );
    assert!(payloads.iter().all(|p| !p.contains(CANARY)));
    let started = std::time::Instant::now();
    load(&db, &payloads, &canary);
    let loaded = started.elapsed();
    let mut host = Host::start().await;
    let ds = datasource_for(e, &db.name);
    // Every way runs under the default read-only mode (readonly=1), `$__adHocFilters` too: its
    // SETTINGS clause is sent with the request (sql::take_filter_settings).

    let mut cases = Vec::new();
    for way in WAYS {
        for (i, p) in payloads.iter().enumerate() {
            let (send, pick, expect) = build(way, &db.name, p);
            cases.push(Case {
                way,
                payload: i,
                send,
                pick,
                expect,
            });
        }
    }

    let mut outcomes: Vec<Option<Outcome>> = (0..cases.len()).map(|_| None).collect();
    // Values that must round trip through a variable run as one query per way, a UNION ALL of
    // one tagged branch per payload; a batch that fails or shows the canary runs case by case.
    let mut batches: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut single = Vec::new();
    for (n, c) in cases.iter().enumerate() {
        if batchable(c, &payloads[c.payload]) {
            batches.entry(c.way).or_default().push(n);
        } else {
            single.push(n);
        }
    }
    let batch_list: Vec<Vec<usize>> = batches.into_values().collect();
    let mut batch_queries = Vec::new();
    for (b, members) in batch_list.iter().enumerate() {
        let combined = combine(&cases, members, &payloads);
        match &cases[members[0]].send {
            Send::ExpandThenRun(_) => match expand(&host, &ds, &combined).await {
                Ok(sql) => {
                    batch_queries.push(query(&format!("b{b}"), json!({"rawSql": sql, "format": 1})))
                }
                Err(_) => single.extend(members),
            },
            _ => batch_queries.push(query(&format!("b{b}"), combined)),
        }
    }
    let answers = run_queries(&host, &ds, batch_queries).await;
    for (ref_id, a) in &answers {
        let members = &batch_list[ref_id[1..].parse::<usize>().unwrap()];
        match split_batch(a, &cases, members, &payloads) {
            Some(mut by_case) => {
                for &n in members {
                    outcomes[n] = Some(Outcome {
                        values: by_case.remove(&n).unwrap_or_default(),
                        ..Default::default()
                    });
                }
            }
            None => single.extend(members),
        }
    }
    let batched = cases.len() - single.len();
    let batches_done = started.elapsed();
    single.sort_unstable();
    for (n, o) in run_cases(&host, &ds, &cases, &single).await {
        outcomes[n] = Some(o);
    }

    // Judge.
    let mut failures = Vec::new();
    let mut escapes = 0;
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_way: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for (n, c) in cases.iter().enumerate() {
        let p = &payloads[c.payload];
        let o = outcomes[n].take().expect("every case has an outcome");
        if o.canary {
            escapes += 1;
        }
        if o.status != 0 {
            *by_status
                .entry(format!("{} {}", o.status, o.source))
                .or_default() += 1;
        }
        match judge(c, p, &o) {
            Ok(kind) => {
                *by_kind.entry(kind).or_default() += 1;
                *per_way.entry(c.way).or_default().entry(kind).or_default() += 1;
            }
            Err(why) => {
                *per_way.entry(c.way).or_default().entry("FAIL").or_default() += 1;
                failures.push(format!(
                    "{} · payload {:?}: {why}",
                    c.way,
                    short(std::slice::from_ref(p))[0]
                ));
            }
        }
    }
    let (status, message, _) = host.check_health(&ds).await;
    assert!(
        host.child.try_wait().unwrap().is_none(),
        "the plugin process ended"
    );

    println!(
        "security suite: {} payloads × {} ways in = {} cases ({batched} in one batch per way) in {:.1} s",
        payloads.len(),
        WAYS.len(),
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "(data loaded in {:.1} s, batches done at {:.1} s)",
        loaded.as_secs_f64(),
        batches_done.as_secs_f64()
    );
    println!("escapes: {escapes}; failures: {}", failures.len());
    println!("verdicts: {by_kind:?}");
    println!("errors by status and source: {by_status:?}");
    for (way, kinds) in &per_way {
        println!("  {way:<50} {kinds:?}");
    }
    for f in failures.iter().take(60) {
        println!("FAIL {f}");
    }
    assert_eq!(status, 1, "health after the suite: {message}");
    assert_eq!(escapes, 0, "the canary came back");
    assert!(
        failures.is_empty(),
        "{} cases failed (see above)",
        failures.len()
    );
}

/// Invalid UTF-8 where JSON lets it through (a lone surrogate escape) or raw invalid bytes in
/// the query JSON: a 400 naming the JSON, for every way in, never a 5xx; in a resource's query
/// string the bytes are read lossily and match nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_requests_is_a_clear_error() {
    let e = engine();
    let db = e.database("security_utf8");
    db.exec("CREATE TABLE logs (tenant String, val String) ENGINE = MergeTree ORDER BY val");
    db.exec(&format!(
        "INSERT INTO logs VALUES ('acme', 'a'), ('evil', '{CANARY}')"
    ));
    let host = Host::start().await;
    let ds = datasource_for(e, &db.name);
    let surrogate = r#""\ud800' OR 1=1 --""#;
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        (
            "variable",
            format!(r#"{{"rawSql":"SELECT val FROM logs WHERE tenant = 'acme' AND val = '$v'","format":1,"templateVars":{{"v":{surrogate}}}}}"#).into_bytes(),
        ),
        (
            "altinity variable",
            format!(r#"{{"query":"SELECT val FROM logs WHERE tenant = 'acme' AND val = $v","format":"table","templateVars":{{"v":{surrogate}}}}}"#).into_bytes(),
        ),
        (
            "ad hoc value",
            format!(r#"{{"query":"SELECT val FROM logs WHERE $adhoc","format":"table","table":"logs","adHocFilters":[{{"key":"val","operator":"=","value":{surrogate}}}]}}"#).into_bytes(),
        ),
        (
            "builder filter",
            format!(r#"{{"editorType":"builder","format":2,"builder":{{"table":"logs","filters":[{{"key":"val","op":"=","value":{surrogate}}}]}}}}"#).into_bytes(),
        ),
        (
            "trace id",
            format!(r#"{{"format":3,"queryType":"traces","traceId":{surrogate}}}"#).into_bytes(),
        ),
        (
            "raw bytes",
            b"{\"rawSql\":\"SELECT val FROM logs WHERE tenant = 'acme' AND val = '\xff\xfe' OR 1=1 --'\",\"format\":1}".to_vec(),
        ),
    ];
    let queries = bodies
        .iter()
        .map(|(name, _)| Q::sql(name, "SELECT 1"))
        .collect();
    let mut req = crate::host::request(&ds, queries, HashMap::new());
    for (q, (_, body)) in req.queries.iter_mut().zip(&bodies) {
        q.json = body.clone();
    }
    let resp = host.raw_query(req).await;
    for (name, _) in &bodies {
        let r = &resp.responses[*name];
        assert_eq!(r.status, 400, "{name}: {:?}", r.error);
        assert!(
            r.error.contains("invalid query JSON"),
            "{name}: {}",
            r.error
        );
        assert!(!r.error.contains(CANARY), "{name}: {}", r.error);
    }
    let body = format!(
        r#"{{"query":{{"rawSql":"SELECT '$v'","templateVars":{{"v":{surrogate}}}}},"timeRange":{{"from":0,"to":1}}}}"#
    );
    let (code, v) = host.resource(&ds, "POST", "expand", body.as_bytes()).await;
    assert_eq!(code, 400, "{v}");
    for path in [
        "tables?database=%FF%FE%27%20OR%201%3D1%20--",
        "columns?table=%C3%28%27%20OR%201%3D1%20--",
    ] {
        let (code, v) = host.resource(&ds, "GET", path, b"").await;
        assert_eq!((code, &v), (200, &json!([])), "{path}");
    }
    let (status, message, _) = host.check_health(&ds).await;
    assert_eq!(status, 1, "{message}");
}
