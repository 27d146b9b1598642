//! Issue 9: grafana/clickhouse-datasource's builder. Its conformance vectors
//! (`../shared/conformance/grafana-builder-cases.jsonl`, read where CI keeps them, never copied)
//! run through Lantern's backend generator; runnable ones run on the engine next to the SQL that
//! plugin produced, rows compared. Saved builder panels (builderOptions + rawSql) run through the
//! plugin return the rows of their rawSql.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lantern::official::{self, BuilderOptions, Hint, SavedModel};
use lantern::sql::grafana_builder as gb;
use serde_json::{Value, json};

use crate::engine::{Engine, engine};
use crate::host::{Host, Q};

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance")
}

fn vectors() -> Vec<Value> {
    let path = conformance_dir().join("grafana-builder-cases.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (CI keeps ../shared beside the clone)",
            path.display()
        )
    });
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The DDL of one variant (`base` or `json_attrs`) of `grafana-builder-tables.sql`, statement by
/// statement (they end with `;` at the end of a line).
fn ddl(variant: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(conformance_dir().join("grafana-builder-tables.sql")).unwrap();
    let marker = "-- @variant json_attrs";
    let at = text.find(marker).expect("json_attrs section");
    let part = if variant == "base" {
        &text[..at]
    } else {
        &text[at..]
    };
    let mut out = Vec::new();
    let mut stmt = String::new();
    for line in part.lines() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        stmt.push_str(line);
        stmt.push('\n');
        if line.trim_end().ends_with(';') {
            out.push(stmt.trim().trim_end_matches(';').to_owned());
            stmt.clear();
        }
    }
    out
}

/// The table a `CREATE TABLE` statement creates (`db.name`, quoted as written).
fn created_table(stmt: &str) -> Option<String> {
    let rest = stmt.strip_prefix("CREATE TABLE ")?;
    let rest = rest.strip_prefix("IF NOT EXISTS ").unwrap_or(rest);
    Some(
        rest.split(|c: char| c.is_whitespace() || c == '(')
            .next()?
            .to_owned(),
    )
}

/// Runs `sql`; the result's rows (TSV lines) or ClickHouse's error.
fn rows(e: &Engine, sql: &str) -> Result<Vec<String>, String> {
    match e.http("POST", "/?default_format=TabSeparated", sql) {
        Ok((200, body)) => Ok(body.lines().map(str::to_owned).collect()),
        Ok((status, body)) => Err(format!("{status}: {}", body.trim())),
        Err(err) => Err(err),
    }
}

/// Creates a variant's tables and fills each with random rows (deterministic seed), so equal
/// rows mean something. Nested columns need arrays of equal length: a table whose insert fails
/// is filled with empty arrays instead, and one that still fails stays empty.
fn load(e: &Engine, variant: &str) -> usize {
    let mut filled = 0;
    for stmt in ddl(variant) {
        e.exec(&stmt);
        let Some(table) = created_table(&stmt) else {
            continue;
        };
        let (db, name) = table.split_once('.').unwrap_or(("default", &table));
        let unquote = |s: &str| s.trim_matches('`').to_owned();
        let cols = rows(
            e,
            &format!(
                "SELECT name, type FROM system.columns WHERE database = '{}' AND table = '{}' AND default_kind NOT IN ('MATERIALIZED', 'ALIAS') ORDER BY position",
                unquote(db),
                unquote(name)
            ),
        )
        .unwrap();
        let (names, structure): (Vec<String>, Vec<String>) = cols
            .iter()
            .filter_map(|l| l.split_once('\t'))
            .map(|(n, t)| (format!("`{n}`"), format!("`{n}` {t}")))
            .unzip();
        if names.is_empty() {
            continue;
        }
        let insert = |arrays: u32| {
            rows(
                e,
                &format!(
                    "INSERT INTO {table} ({}) SELECT * FROM generateRandom('{}', 42, 6, {arrays}) LIMIT 40",
                    names.join(", "),
                    structure.join(", ").replace('\'', "\\'")
                ),
            )
        };
        if insert(2).is_ok() || insert(0).is_ok() {
            filled += 1;
        }
    }
    filled
}

/// A vector's SQL with the placeholders expanded for a test run: the range is wide (random times
/// fall in it), `$hosts` and `${host:singlequote}` as the vectors' notes give them.
fn expand(sql: &str) -> String {
    let mut s = sql
        .replace("$__fromTime", "toDateTime(0)")
        .replace("$__toTime", "toDateTime(4294967295)")
        .replace("${__value.raw}", "0af7651916cd43dd8448eb211c80319c")
        .replace("${host:singlequote}", "'a'")
        .replace("$hosts", "'a','b'");
    while let Some(at) = s.find("$__timeInterval(") {
        let open = at + "$__timeInterval(".len();
        let mut depth = 1;
        let mut end = open;
        for (i, c) in s[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = open + i;
                break;
            }
        }
        let arg = s[open..end].to_owned();
        s.replace_range(
            at..=end,
            &format!("toStartOfInterval(toDateTime({arg}), INTERVAL 60 second)"),
        );
    }
    s
}

fn hints(v: &Value) -> Vec<Hint> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).map(Hint::of).collect())
        .unwrap_or_default()
}

fn options(v: &Value) -> BuilderOptions {
    BuilderOptions::from_json(v).unwrap()
}

/// What Lantern produces for a vector: text, or a boolean for `isStringType`.
fn ours(v: &Value) -> Result<Value, String> {
    let input = &v["input"];
    let s = |x: &Value| x.as_str().unwrap_or("").to_owned();
    Ok(match v["kind"].as_str().unwrap() {
        "generateSql" => json!(gb::generate(&options(&v["builderOptions"])).map_err(|e| e.0)?),
        "getFilters" => {
            let o = options(&v["builderOptions"]);
            json!(gb::filters_clause(&o.filters, &o.columns).map_err(|e| e.0)?)
        }
        "getOrderBy" => {
            let o = options(&v["builderOptions"]);
            json!(gb::order_by_clause(
                &o.order_by,
                &o.columns,
                &hints(&v["hintsToGroup"])
            ))
        }
        "getColumnIdentifier" => {
            json!(gb::column_identifier(
                &serde_json::from_value(input[0].clone()).unwrap()
            ))
        }
        "getTableIdentifier" => json!(gb::table_identifier(&s(&input[0]), &s(&input[1]))),
        "escapeIdentifier" => json!(gb::escape_identifier(&s(&input[0]))),
        "escapeValue" => json!(gb::escape_value(&s(&input[0]))),
        "getLimit" => json!(gb::limit_clause(input[0].as_f64())),
        "isStringType" => json!(gb::is_string_type(&s(&input[0]))),
        "concatQueryParts" => {
            let parts: Vec<String> = input[0].as_array().unwrap().iter().map(s).collect();
            json!(gb::concat_parts(&parts))
        }
        "migrateCHQuery" => {
            // The migrated builder options (top level, or the SQL editor's meta copy) and the SQL
            // they regenerate, compared with the expected query's.
            let q = &v["input_query"];
            let migrated = match official::classify(q.as_object().unwrap())? {
                SavedModel::Official(b) => Some(b.options),
                _ => q["meta"]
                    .get("builderOptions")
                    .map(|o| official::migrate_v3(o).unwrap()),
            };
            json!({
                "options": migrated.as_ref().map(|o| serde_json::to_value(o).unwrap()),
                "sql": migrated.as_ref().map(|o| gb::generate(o).unwrap()),
            })
        }
        other => return Err(format!("unknown vector kind {other}")),
    })
}

/// The expected value in the same shape as [`ours`].
fn expected(v: &Value) -> Value {
    match v["kind"].as_str().unwrap() {
        "migrateCHQuery" => {
            let q = &v["expected_query"];
            let o = q
                .get("builderOptions")
                .or_else(|| q["meta"].get("builderOptions"));
            json!({
                "options": o.map(|o| serde_json::to_value(options(o)).unwrap()),
                "sql": v.get("regenerated_sql").filter(|s| !s.is_null()).cloned()
                    .or_else(|| o.map(|o| json!(gb::generate(&options(o)).unwrap()))),
            })
        }
        _ if v["compare"] == "helper" => v["expected"].clone(),
        _ => v["expected_sql"].clone(),
    }
}

/// Vectors whose expected text Lantern deliberately does not produce, with the reason. They do
/// not run on the engine (helpers), so equivalence cannot be shown by rows.
const DELIBERATE: &[(&str, &str)] = &[
    (
        "sqlgen-helper-033",
        "`invalid(` is not self-contained SQL: Lantern quotes it as a string instead of pasting it",
    ),
    (
        "sqlgen-helper-034",
        "`invalid)` would close a parenthesis of the query: quoted as a string",
    ),
    (
        "synth-063",
        "a dashboard time range on a String column: an error naming the filter (that generator writes `( msg '' )`, which does not run)",
    ),
    (
        "synth-062",
        "a filter on the log_level role with no log_level column: an error naming the role (that generator drops the filter silently)",
    ),
    (
        "sqlgen-helper-035",
        "an unterminated quote would open a literal over the rest of the query: quoted as a string",
    ),
];

fn assertion_ok(a: &Value, text: &str) -> bool {
    let want = a["value"].as_str().unwrap_or("");
    match a["op"].as_str().unwrap_or("") {
        "equals" => a["value"] == json!(text),
        "not_equals" => a["value"] != json!(text),
        "contains" => text.contains(want),
        "not_contains" => !text.contains(want),
        // Regexes (`/…/flags`) only in not_matches assertions; a literal check of the body is
        // enough for the vectors' patterns (no metacharacters beyond escaped dots).
        "not_matches" => {
            let body = want
                .trim_start_matches('/')
                .rsplit_once('/')
                .map_or(want, |(b, _)| b);
            !text.contains(&body.replace('\\', ""))
        }
        _ => false,
    }
}

#[test]
fn builder_vectors_conformance() {
    let e = engine();
    let all = vectors();
    assert_eq!(all.len(), 252, "the vector file changed");
    let mut exact = Vec::new();
    let mut equivalent = Vec::new();
    let mut fixed = Vec::new();
    let mut excluded = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut runnable = 0;
    let mut filled = 0;
    for variant in ["base", "json_attrs", "other"] {
        if variant != "other" {
            filled += load(e, variant);
        }
        for v in all.iter().filter(|v| {
            let d = v["ddl_variant"].as_str().unwrap_or("other");
            d == variant || (variant == "other" && !matches!(d, "base" | "json_attrs"))
        }) {
            let id = v["id"].as_str().unwrap();
            let deliberate = DELIBERATE.iter().find(|(d, _)| *d == id);
            let mine = match ours(v) {
                Ok(m) => m,
                Err(err) if deliberate.is_some() => {
                    excluded.push(format!("{id}: {} ({err})", deliberate.unwrap().1));
                    continue;
                }
                Err(err) => {
                    failures.push(format!("{id}: generator error: {err}"));
                    continue;
                }
            };
            let want = expected(v);
            // The SQL of a vector (a migration's is its regenerated SQL).
            let sql_of = |v: &Value| -> String {
                v.get("sql").unwrap_or(v).as_str().unwrap_or("").to_owned()
            };
            let mine_text = &sql_of(&mine);
            if v["compare"] == "contains" {
                for a in v["assertions"].as_array().unwrap() {
                    if !assertion_ok(a, mine_text) {
                        failures.push(format!("{id}: assertion {a} fails on {mine_text}"));
                    }
                }
            }
            let is_runnable = v["runnable"] == json!(true);
            if is_runnable {
                runnable += 1;
                let theirs = rows(e, &expand(&sql_of(&want)));
                let ours_rows = rows(e, &expand(mine_text));
                match (theirs, ours_rows) {
                    (Ok(mut a), Ok(mut b)) => {
                        a.sort();
                        b.sort();
                        if a != b {
                            failures.push(format!(
                                "{id}: rows differ ({} vs {})\n  expected: {}\n  ours:     {mine_text}",
                                a.len(),
                                b.len(),
                                sql_of(&want)
                            ));
                            continue;
                        }
                    }
                    (Err(err), _) => {
                        failures.push(format!("{id}: the vector's own SQL failed: {err}"));
                        continue;
                    }
                    (_, Err(err)) => {
                        failures.push(format!("{id}: ours failed: {err}\n  SQL: {mine_text}"));
                        continue;
                    }
                }
            }
            if mine == want {
                exact.push(id);
            } else if is_runnable {
                equivalent.push(id);
            } else if let Some((_, why)) = deliberate {
                excluded.push(format!("{id}: {why}"));
            } else if v["runnable"] == json!(false)
                && v["kind"] == "generateSql"
                && rows(e, &expand(mine_text)).is_ok()
            {
                // That generator's SQL does not run; ours does.
                fixed.push(id);
            } else {
                failures.push(format!(
                    "{id} ({}): differs\n  expected: {want}\n  ours:     {mine}",
                    v["compare"]
                ));
            }
        }
    }
    println!(
        "official builder vectors: {} total, {} runnable, tables filled with random rows: {filled}",
        all.len(),
        runnable
    );
    println!("  exact text:               {}", exact.len());
    println!(
        "  equivalent by rows:       {} {:?}",
        equivalent.len(),
        equivalent
    );
    println!(
        "  fixed (theirs fails, ours runs): {} {:?}",
        fixed.len(),
        fixed
    );
    println!("  excluded with a reason:   {}", excluded.len());
    for x in &excluded {
        println!("    {x}");
    }
    println!("  failures:                 {}", failures.len());
    for f in &failures {
        println!("    {f}");
    }
    assert!(
        failures.is_empty(),
        "{} of 252 vectors fail (see above)",
        failures.len()
    );
    assert_eq!(
        exact.len() + equivalent.len() + fixed.len() + excluded.len(),
        252
    );
}

/// Saved builder panels (builderOptions + rawSql, as that plugin saves them) through the plugin
/// return the rows of their rawSql sent as a SQL panel of the same format; with rawSql empty the
/// backend's generated SQL runs and returns the same rows too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_builder_panels_return_their_raw_sql_rows() {
    let e = engine();
    let db = e.database("official_panels");
    db.exec(
        "CREATE TABLE logs (Timestamp DateTime64(9), TimestampTime DateTime DEFAULT toDateTime(Timestamp), \
         SeverityText LowCardinality(String), Body String, TraceId String, ServiceName LowCardinality(String), \
         ResourceAttributes Map(LowCardinality(String), String), LogAttributes Map(LowCardinality(String), String)) \
         ENGINE = MergeTree ORDER BY Timestamp",
    );
    db.exec(
        "INSERT INTO logs (Timestamp, SeverityText, Body, TraceId, ServiceName, ResourceAttributes, LogAttributes) \
         SELECT toDateTime64(1700000000 + number * 60, 9), ['INFO', 'ERROR', 'WARN'][number % 3 + 1], \
         concat('line ', toString(number), if(number % 7 = 0, ' it''s', '')), lower(hex(number)), ['api', 'db'][number % 2 + 1], \
         map('service.name', ['api', 'db'][number % 2 + 1], 'k8s.pod.name', concat('p-', toString(number % 4))), \
         map('method', ['GET', 'POST'][number % 2 + 1]) FROM numbers(50)",
    );
    let d = crate::host::datasource_for(e, &db.name);
    let name = db.name.as_str();
    let logs_options = json!({"database": name, "table": "logs", "queryType": "logs", "mode": "list",
        "columns": [{"name": "TimestampTime", "hint": "filter_time"}, {"name": "Timestamp", "hint": "time"},
                    {"name": "Body", "hint": "log_message"}, {"name": "SeverityText", "hint": "log_level"},
                    {"name": "TraceId", "hint": "trace_id"},
                    {"name": "ResourceAttributes", "hint": "resource_attributes"},
                    {"name": "LogAttributes", "hint": "log_attributes"}],
        "filters": [{"filterType": "custom", "key": "", "hint": "filter_time", "type": "datetime", "condition": "AND", "operator": "WITH IN DASHBOARD TIME RANGE"},
                    {"filterType": "custom", "key": "LogAttributes", "mapKey": "method", "type": "Map(LowCardinality(String), String)", "condition": "AND", "operator": "=", "value": "GET"}],
        "orderBy": [{"name": "", "hint": "filter_time", "dir": "DESC"}, {"name": "", "hint": "time", "dir": "DESC"}],
        "meta": {"logMessageLike": "it's"}, "limit": 1000});
    let table_options = json!({"database": name, "table": "logs", "queryType": "table", "mode": "aggregate",
        "columns": [{"name": "ServiceName"}], "aggregates": [{"aggregateType": "count", "column": "*", "alias": "n"}],
        "groupBy": ["ServiceName"], "orderBy": [{"name": "ServiceName", "dir": "ASC"}], "limit": 100});
    let series_options = json!({"database": name, "table": "logs", "queryType": "timeseries", "mode": "trend",
        "columns": [{"name": "Timestamp", "hint": "time", "type": "DateTime64(9)"}],
        "aggregates": [{"aggregateType": "count", "column": "*", "alias": "n"}], "groupBy": ["ServiceName"],
        "filters": [{"filterType": "custom", "key": "", "hint": "time", "type": "datetime", "condition": "AND", "operator": "WITH IN DASHBOARD TIME RANGE"}],
        "orderBy": [{"name": "", "hint": "time", "dir": "ASC"}], "limit": 1000});
    let panels = [
        ("logs", logs_options, 2),
        ("table", table_options, 1),
        ("series", series_options, 0),
    ];
    let mut queries = Vec::new();
    for (id, o, format) in &panels {
        let raw = gb::generate(&options(o)).unwrap();
        let at = |q: Value, r: &str| {
            let mut q = Q::json(r, q);
            q.from_ms = 1_699_990_000_000;
            q.to_ms = 1_700_010_000_000;
            q.interval_ms = 300_000;
            q
        };
        queries.push(at(
            json!({"refId": format!("{id}-builder"), "editorType": "builder", "pluginVersion": "4.20.0",
                   "format": format, "queryType": o["queryType"], "rawSql": raw, "builderOptions": o}),
            &format!("{id}-builder"),
        ));
        queries.push(at(
            json!({"refId": format!("{id}-generated"), "editorType": "builder", "pluginVersion": "4.20.0",
                   "format": format, "rawSql": "", "builderOptions": o}),
            &format!("{id}-generated"),
        ));
        queries.push(at(
            json!({"refId": format!("{id}-sql"), "editorType": "sql", "pluginVersion": "4.20.0",
                   "format": format, "rawSql": raw}),
            &format!("{id}-sql"),
        ));
    }
    let answers = Host::start().await.query(&d, queries).await;
    let values = |r: &str| -> Vec<BTreeMap<String, Vec<Value>>> {
        let a = &answers[r];
        assert!(a.error.is_empty(), "{r}: {}", a.error);
        a.frames
            .iter()
            .map(|f| {
                f.fields
                    .iter()
                    .map(|x| (x.name.clone(), x.values.clone()))
                    .collect()
            })
            .collect()
    };
    for (id, _, _) in &panels {
        let sql = values(&format!("{id}-sql"));
        assert!(
            sql.iter().any(|f| f.values().any(|v| !v.is_empty())),
            "{id}: no rows"
        );
        assert_eq!(values(&format!("{id}-builder")), sql, "{id}: builder panel");
        assert_eq!(values(&format!("{id}-generated")), sql, "{id}: generated");
    }
    // The logs panel: only GET lines containing "it's", labels with the map prefixes.
    let logs = answers["logs-builder"].frame();
    assert!(logs.rows() > 0);
    for l in &logs.field("labels").values {
        assert_eq!(l["LogAttributes.method"], "GET", "{l}");
        assert!(l["ResourceAttributes.k8s.pod.name"].is_string(), "{l}");
    }
    for b in &logs.field("body").values {
        assert!(b.as_str().unwrap().contains("it's"), "{b}");
    }
}

/// grafana/clickhouse-datasource's frames for its saved queries: a logs result without a time
/// column is still shown as logs, a time series of the time column alone comes back as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_logs_without_time_and_time_only_trends() {
    let e = engine();
    let db = e.database("official_frames");
    db.exec("CREATE TABLE t (ts DateTime, Body String) ENGINE = MergeTree ORDER BY ts");
    db.exec("INSERT INTO t SELECT toDateTime(1700000000 + number * 60), concat('b', toString(number)) FROM numbers(10)");
    let d = crate::host::datasource_for(e, &db.name);
    let trend = json!({"database": db.name, "table": "t", "queryType": "timeseries", "mode": "trend",
        "columns": [{"name": "ts", "hint": "time", "type": "DateTime"}]});
    let q = |r: &str, v: Value| {
        let mut q = Q::json(r, v);
        q.from_ms = 1_699_990_000_000;
        q.to_ms = 1_700_010_000_000;
        q.interval_ms = 120_000;
        q
    };
    let answers = Host::start()
        .await
        .query(
            &d,
            vec![
                q(
                    "nolog",
                    json!({"refId": "nolog", "pluginVersion": "4.20.0", "editorType": "sql", "format": 2,
                           "rawSql": "SELECT Body FROM t ORDER BY Body"}),
                ),
                q(
                    "trend",
                    json!({"refId": "trend", "editorType": "builder", "pluginVersion": "4.20.0", "format": 0,
                           "rawSql": "", "builderOptions": trend}),
                ),
                // Lantern's own model keeps its rule: logs need a time column.
                q(
                    "lantern",
                    json!({"refId": "lantern", "editorType": "sql", "format": 2,
                           "rawSql": "SELECT Body FROM t"}),
                ),
            ],
        )
        .await;
    let nolog = answers["nolog"].frame();
    assert_eq!(nolog.meta["preferredVisualisationType"], "logs");
    assert_eq!(nolog.field("Body").values.len(), 10);
    let trend = answers["trend"].frame();
    assert_eq!(trend.fields.len(), 1, "{:?}", trend.fields);
    assert_eq!(trend.field("time").values.len(), 6);
    assert!(
        answers["lantern"].error.contains("time column"),
        "{}",
        answers["lantern"].error
    );
}

/// Raw SQL with format 3 and no `traceId`: trace ids alone are a trace search table whose ids
/// open the trace; spans are a trace view; a result without trace ids is a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_traces_without_trace_id_are_a_trace_search() {
    let e = engine();
    let db = e.database("official_trace_search");
    let mut d = crate::host::datasource_for(e, &db.name);
    d.uid = "lantern-traces".into();
    let sql = |r: &str, s: &str| {
        Q::json(
            r,
            json!({"refId": r, "editorType": "sql", "format": 3, "rawSql": s}),
        )
    };
    let answers = Host::start()
        .await
        .query(
            &d,
            vec![
                sql(
                    "search",
                    "SELECT concat('t', toString(number)) AS traceID, 'api' AS serviceName, number * 1.5 AS duration FROM numbers(3)",
                ),
                sql(
                    "spans",
                    "SELECT 't1' AS traceID, concat('s', toString(number)) AS spanID, '' AS parentSpanID, 'api' AS serviceName, 'GET' AS operationName, 1700000000000 + number AS startTime, 1.0 AS duration FROM numbers(2)",
                ),
                sql("none", "SELECT 1 AS x"),
            ],
        )
        .await;
    let search = answers["search"].frame();
    assert_eq!(search.meta["preferredVisualisationType"], "table");
    let id = search.field("traceID");
    assert_eq!(id.values.len(), 3);
    let link = &id.config.as_ref().expect("trace link")["links"][0];
    assert_eq!(link["title"], "View trace");
    assert_eq!(link["internal"]["query"]["traceId"], "${__value.raw}");
    assert_eq!(link["internal"]["datasourceUid"], "lantern-traces");
    assert_eq!(
        answers["spans"].frame().meta["preferredVisualisationType"],
        "trace"
    );
    let none = &answers["none"];
    assert_eq!(none.status, 400);
    assert!(none.error.contains("traceID"), "{}", none.error);
}

/// Lantern's own logs builder saves `editorType: "lantern-builder"`; saves from before the
/// rename (`editorType: "builder"` with a `builder` object) still run as Lantern's builder, and
/// neither is mistaken for the official builder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lantern_builder_keeps_its_own_editor_type() {
    let e = engine();
    let db = e.database("official_lantern_builder");
    db.exec(
        "CREATE TABLE otel_logs (Timestamp DateTime64(9), SeverityText LowCardinality(String), Body String, \
         ServiceName LowCardinality(String), LogAttributes Map(LowCardinality(String), String)) \
         ENGINE = MergeTree ORDER BY Timestamp",
    );
    db.exec(
        "INSERT INTO otel_logs SELECT toDateTime64(1700000000 + number, 9), 'INFO', concat('l', toString(number)), \
         'api', map('k', 'v') FROM numbers(5)",
    );
    let d = crate::host::datasource_for(e, &db.name);
    let builder = json!({"table": "otel_logs", "limit": 100});
    let q = |r: &str, editor: Option<&str>| {
        let mut v = json!({"refId": r, "format": 2, "builder": builder});
        if let Some(t) = editor {
            v["editorType"] = json!(t);
        }
        let mut q = Q::json(r, v);
        q.from_ms = 1_699_999_000_000;
        q.to_ms = 1_700_001_000_000;
        q
    };
    let answers = Host::start()
        .await
        .query(
            &d,
            vec![
                q("new", Some("lantern-builder")),
                q("old", Some("builder")),
                q("bare", None),
            ],
        )
        .await;
    for r in ["new", "old", "bare"] {
        let f = answers[r].frame();
        assert_eq!(f.meta["type"], "log-lines", "{r}");
        assert_eq!(f.rows(), 5, "{r}");
        // Lantern's flat labels, not the official map prefixes.
        assert_eq!(f.field("labels").values[0]["k"], "v", "{r}");
        assert!(f.executed_sql().contains("`otel_logs`"), "{r}");
    }
}

/// "Show SQL" (`expand`) for an official builder panel: the saved rawSql expanded, or, without
/// rawSql, the SQL the backend generates from `builderOptions`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expand_shows_official_builder_sql() {
    let e = engine();
    let db = e.database("official_expand");
    let d = crate::host::datasource_for(e, &db.name);
    let options = json!({"database": "db", "table": "t", "queryType": "table", "mode": "list",
        "columns": [{"name": "a"}], "limit": 5,
        "filters": [{"filterType": "custom", "key": "ts", "type": "DateTime", "condition": "AND",
                     "operator": "WITH IN DASHBOARD TIME RANGE"},
                    {"filterType": "custom", "key": "b", "type": "String", "condition": "AND",
                     "operator": "=", "value": "O'Brien"}]});
    let host = Host::start().await;
    let expand = |query: Value| {
        let body = json!({"query": query, "timeRange": {"from": 1_700_000_000_000i64, "to": 1_700_003_600_000i64}});
        let host = &host;
        let d = &d;
        async move {
            host.resource(d, "POST", "expand", body.to_string().as_bytes())
                .await
        }
    };
    let (code, v) = expand(json!({"refId": "A", "editorType": "builder", "rawSql": "",
        "builderOptions": options}))
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["sql"],
        "SELECT a FROM \"db\".\"t\" WHERE ( ts >= toDateTime(1700000000) AND ts <= toDateTime(1700003600) ) AND ( b = 'O\\'Brien' ) LIMIT 5"
    );
    let (code, v) = expand(
        json!({"refId": "A", "editorType": "builder", "rawSql": "SELECT $__fromTime",
        "builderOptions": options}),
    )
    .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["sql"], "SELECT toDateTime(1700000000)");
}

/// What Lantern's editor saves when an official builder panel is edited (`rawSql: ""`, the
/// options): the backend generates the SQL. A minimum level is `IN` on the raw level text (no
/// level computed per row), a variable in a filter value is expanded from `templateVars`, a map
/// value of a parameterised type is compared as that type, and a filter on a role no column has is
/// an error naming the role.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_builder_panels_run_generated_sql() {
    let e = engine();
    let db = e.database("official_edited");
    db.exec(
        "CREATE TABLE logs (Timestamp DateTime64(9), SeverityText LowCardinality(String), Body String, \
         ServiceName LowCardinality(String), Prices Map(String, Decimal(10, 2))) ENGINE = MergeTree ORDER BY Timestamp",
    );
    db.exec(
        "INSERT INTO logs SELECT toDateTime64(1700000000 + number * 60, 9), \
         ['INFO', 'ERROR', 'warn', 'Fatal', 'debug'][number % 5 + 1], concat('line ', toString(number)), \
         ['api', 'db'][number % 2 + 1], map('p', toDecimal64(number / 4, 2)) FROM numbers(20)",
    );
    let d = crate::host::datasource_for(e, &db.name);
    let name = db.name.as_str();
    let filter = |f: Value| {
        let mut f = f;
        f["filterType"] = json!("custom");
        f["condition"] = json!("AND");
        f
    };
    let warning_or_above: Vec<String> = ["fatal", "error", "err", "warn", "warning"]
        .iter()
        .flat_map(|s| {
            let cap = s[..1].to_uppercase() + &s[1..];
            [s.to_string(), s.to_uppercase(), cap]
        })
        .collect();
    let logs = json!({"database": name, "table": "logs", "queryType": "logs", "mode": "list",
        "columns": [{"name": "Timestamp", "type": "DateTime64(9)", "hint": "time"},
                    {"name": "Body", "type": "String", "hint": "log_message"},
                    {"name": "SeverityText", "type": "LowCardinality(String)", "hint": "log_level"}],
        "filters": [filter(json!({"key": "", "hint": "time", "type": "datetime", "operator": "WITH IN DASHBOARD TIME RANGE"})),
                    filter(json!({"key": "", "hint": "log_level", "type": "LowCardinality(String)", "operator": "IN", "value": warning_or_above}))],
        "orderBy": [{"name": "", "hint": "time", "dir": "DESC"}], "limit": 1000});
    let table = |filters: Value| {
        json!({"database": name, "table": "logs", "queryType": "table", "mode": "list",
            "columns": [{"name": "ServiceName"}, {"name": "Body"}], "filters": filters, "limit": 100})
    };
    let var = table(json!([filter(
        json!({"key": "ServiceName", "type": "LowCardinality(String)", "operator": "=", "value": "${svc:singlequote}"})
    )]));
    let price = table(json!([filter(
        json!({"key": "Prices", "mapKey": "p", "type": "Map(String, Decimal(10, 2))", "operator": ">=", "value": "2.5"})
    )]));
    let role = table(json!([filter(
        json!({"key": "", "hint": "trace_parent_span_id", "type": "string", "operator": "IS EMPTY"})
    )]));
    let q = |r: &str, o: &Value, format: i64, extra: Value| {
        let mut v = json!({"refId": r, "editorType": "builder", "pluginVersion": "4.20.0",
            "format": format, "queryType": o["queryType"], "rawSql": "", "builderOptions": o});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        let mut q = Q::json(r, v);
        q.from_ms = 1_699_990_000_000;
        q.to_ms = 1_700_010_000_000;
        q
    };
    let svc = json!({"templateVars": {"svc": {"values": ["db"], "text": "db", "multi": false,
        "includeAll": false, "allSelected": false}}});
    let answers = Host::start()
        .await
        .query(
            &d,
            vec![
                q("level", &logs, 2, json!({})),
                q("var", &var, 1, svc),
                q("price", &price, 1, json!({})),
                q("role", &role, 1, json!({})),
            ],
        )
        .await;

    let level = answers["level"].frame();
    let sql = level.executed_sql();
    // `level` is the SELECT alias of the raw column (ClickHouse substitutes it in WHERE).
    assert!(
        sql.contains("SeverityText as \"level\"")
            && sql.contains("( level IN ('fatal', 'FATAL', 'Fatal'"),
        "{sql}"
    );
    assert!(!sql.contains("multiIf") && !sql.contains("lower("), "{sql}");
    let levels: Vec<&str> = level
        .field("severity")
        .values
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // ERROR, warn and Fatal (3 of every 5 rows), as Grafana's levels; no INFO or debug.
    assert_eq!(levels.len(), 12, "{levels:?}");
    assert!(
        levels
            .iter()
            .all(|l| ["error", "warning", "critical"].contains(l)),
        "{levels:?}"
    );

    let var = answers["var"].frame();
    assert_eq!(var.rows(), 10);
    assert!(
        var.field("ServiceName").values.iter().all(|v| v == "db"),
        "{:?}",
        var.field("ServiceName").values
    );

    // number / 4 >= 2.5: numbers 10..19.
    let price = answers["price"].frame();
    assert!(
        price.executed_sql().contains("Prices['p'] >= 2.5"),
        "{}",
        price.executed_sql()
    );
    assert_eq!(price.rows(), 10);

    let role = &answers["role"];
    assert!(
        role.error.contains("trace_parent_span_id") && role.error.contains("role"),
        "{}",
        role.error
    );
}
