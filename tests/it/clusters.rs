//! Issue 12 item 5 (clusters): schema detection follows `Distributed` and `Merge` tables to the
//! MergeTree table that stores their rows, so logs and volume queries filter on its key time
//! column and ClickHouse prunes partitions and primary-key ranges.
//!
//! The engine declares the one-shard cluster `test_shard_localhost` (as a server's default
//! config does; `tests/support/chshim.py`), so a real `Distributed` table is tested, plus `Merge`.
//! Pruning is judged by the engine's own `EXPLAIN indexes = 1` of the SQL the plugin ran.

use serde_json::{Value, json};

use crate::engine::{TestDb, engine};
use crate::host::{Host, Q, datasource};

/// 2024-01-03 00:00 UTC: one hour in the middle of the 14 days of rows.
const FROM_MS: i64 = 1_704_240_000_000;
const TO_MS: i64 = FROM_MS + 3_600_000;

/// An exporter logs table of the `TimestampTime` generation (keys on `TimestampTime`, not on
/// `Timestamp`), with one row a minute for 14 days in 14 daily partitions and small granules,
/// and a Distributed and two Merge tables over it.
fn tables(db: &TestDb) {
    let n = &db.name;
    for sql in [
        "CREATE TABLE otel_logs_local (Timestamp DateTime64(9), TimestampTime DateTime DEFAULT toDateTime(Timestamp), \
         TraceId String, SpanId String, TraceFlags UInt8, SeverityText LowCardinality(String), SeverityNumber UInt8, \
         ServiceName LowCardinality(String), Body String, ResourceSchemaUrl LowCardinality(String), \
         ResourceAttributes Map(LowCardinality(String), String), ScopeSchemaUrl LowCardinality(String), ScopeName String, \
         ScopeVersion LowCardinality(String), ScopeAttributes Map(LowCardinality(String), String), \
         LogAttributes Map(LowCardinality(String), String)) \
         ENGINE = MergeTree PARTITION BY toDate(TimestampTime) PRIMARY KEY (ServiceName, TimestampTime) \
         ORDER BY (ServiceName, TimestampTime, Timestamp) SETTINGS index_granularity = 64"
            .to_owned(),
        "INSERT INTO otel_logs_local (Timestamp, SeverityText, SeverityNumber, ServiceName, Body, ResourceAttributes) \
         SELECT toDateTime64('2024-01-01 00:00:00', 9, 'UTC') + toIntervalSecond(number * 60), \
         if(number % 10 = 0, 'Error', 'Info'), if(number % 10 = 0, 17, 9), 'svc', concat('line ', toString(number)), \
         map('service.name', 'svc') FROM numbers(20160)"
            .to_owned(),
        format!(
            "CREATE TABLE otel_logs AS otel_logs_local ENGINE = Distributed(test_shard_localhost, '{n}', otel_logs_local, rand())"
        ),
        format!("CREATE TABLE otel_logs_merge AS otel_logs_local ENGINE = Merge('{n}', '^otel_logs_lo')"),
        format!(
            "CREATE TABLE otel_logs_merge_re AS otel_logs_local ENGINE = Merge(REGEXP('^{n}$'), '^otel_logs_l')"
        ),
        // A Distributed table whose local table is on other servers only.
        format!(
            "CREATE TABLE otel_logs_elsewhere AS otel_logs_local ENGINE = Distributed(test_shard_localhost, '{n}', not_here)"
        ),
    ] {
        db.exec(&sql);
    }
}

fn ds(db: &TestDb) -> grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings {
    let e = engine();
    let (host, port) = e.host();
    datasource(
        json!({"host": host, "port": port, "protocol": if e.is_tls() { "https" } else { "http" },
               "username": e.user, "defaultDatabase": db.name}),
        &[("password", &e.password)],
    )
}

fn q(ref_id: &str, json: Value) -> Q {
    let mut q = Q::json(ref_id, json);
    q.from_ms = FROM_MS;
    q.to_ms = TO_MS;
    q.interval_ms = 60_000;
    q
}

/// An EXPLAIN line without its tree drawing.
fn bare(line: &str) -> &str {
    line.trim_matches(|c: char| c.is_whitespace() || "│├└─".contains(c))
}

/// `(selected, total)` of the first `<what>: a/b` line (`Parts`, `Granules`) in the named index
/// section of an EXPLAIN.
fn selected(explain: &str, section: &str, what: &str) -> (u64, u64) {
    let lines: Vec<&str> = explain.lines().map(bare).collect();
    let start = lines
        .iter()
        .position(|l| *l == section)
        .unwrap_or_else(|| panic!("no {section} section in\n{explain}"));
    let prefix = format!("{what}: ");
    let line = lines[start..]
        .iter()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {what} line under {section} in\n{explain}"));
    let (a, b) = line.split_once('/').unwrap();
    (a.trim().parse().unwrap(), b.trim().parse().unwrap())
}

/// The text after `Condition: ` in the named index section.
fn condition<'a>(explain: &'a str, section: &str) -> &'a str {
    let mut in_section = false;
    for l in explain.lines().map(bare) {
        if l == section {
            in_section = true;
        } else if in_section && let Some(c) = l.strip_prefix("Condition: ") {
            return c;
        }
    }
    panic!("no Condition under {section} in\n{explain}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_and_merge_tables_prune_by_the_local_tables_keys() {
    let db = engine().database("clusters");
    assert!(
        db.exec("SELECT count() FROM system.clusters WHERE cluster = 'test_shard_localhost'")
            .trim()
            != "0",
        "the engine declares no test_shard_localhost cluster"
    );
    tables(&db);
    let d = ds(&db);
    let host = Host::start().await;
    let local = format!("{}.otel_logs_local", db.name);
    for table in ["otel_logs", "otel_logs_merge", "otel_logs_merge_re"] {
        let (code, schema) = host
            .resource(&d, "GET", &format!("schema?table={table}"), b"")
            .await;
        assert_eq!(code, 200, "{table}: {schema}");
        assert_eq!(schema["keysFrom"], json!(local), "{table}: {schema}");
        assert_eq!(
            schema["keyTimes"],
            json!(["TimestampTime"]),
            "{table}: {schema}"
        );
        assert_eq!(
            schema["generation"], "otel-logs-timestamptime",
            "{table}: {schema}"
        );

        let logs = json!({"refId": "L", "editorType": "builder", "format": 2,
                          "builder": {"table": table, "limit": 1000}});
        let mut volume = logs.clone();
        volume["queryType"] = json!("logs-volume");
        let answers = host.query(&d, vec![q("L", logs), q("V", volume)]).await;
        let l = answers["L"].frame();
        assert_eq!(
            l.rows(),
            61,
            "{table}: one line a minute, both ends included"
        );
        let v = &answers["V"];
        assert!(v.error.is_empty(), "{table}: {}", v.error);
        let total: f64 = v
            .frames
            .iter()
            .flat_map(|f| f.fields.iter().skip(1).flat_map(|x| x.values.iter()))
            .filter_map(Value::as_f64)
            .sum();
        assert_eq!(total, 61.0, "{table}: volume counts the same rows");

        for (what, sql) in [
            ("logs", l.executed_sql()),
            ("volume", v.frames[0].executed_sql()),
        ] {
            assert!(
                sql.contains("`TimestampTime` >= toDateTime(1704240000) AND `TimestampTime` <= toDateTime(1704243600)"),
                "{table} {what}: the filter uses the key column TimestampTime: {sql}"
            );
            let explain = db.exec(&format!("EXPLAIN indexes = 1 {sql}"));
            assert!(
                explain.contains(&format!("ReadFromMergeTree ({local})")),
                "{table} {what}: reads the local table\n{explain}"
            );
            // The partition's min-max index keeps one daily part of 14 …
            assert_eq!(
                selected(&explain, "Min-Max", "Parts"),
                (1, 14),
                "{table} {what}: parts pruned by TimestampTime\n{explain}"
            );
            // … and the primary key a few of its granules.
            let pk = condition(&explain, "PrimaryKey");
            assert!(
                pk.contains("TimestampTime in"),
                "{table} {what}: the primary key condition uses TimestampTime: {pk}\n{explain}"
            );
            let (granules, of) = selected(&explain, "PrimaryKey", "Granules");
            assert!(
                granules * 4 < of,
                "{table} {what}: primary key pruning, {granules}/{of} granules\n{explain}"
            );
        }
    }

    // A Distributed table whose local table is not on this server keeps its own (empty) keys:
    // the schema still classifies, the time filter is the plain time column.
    let (code, schema) = host
        .resource(&d, "GET", "schema?table=otel_logs_elsewhere", b"")
        .await;
    assert_eq!(code, 200, "{schema}");
    assert_eq!(schema["keysFrom"], "", "{schema}");
    assert_eq!(schema["keyTimes"], json!([]), "{schema}");
}

/// Regression: the v0.151 exporter layout is recognised by its sorting key
/// (`toStartOfFiveMinutes(Timestamp)`), which a Distributed table over it does not have; it was
/// read as `otel-logs-2023`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_over_the_current_exporter_layout_keeps_its_generation() {
    let db = engine().database("clusters_gen");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata/otel/logs_current.sql");
    for stmt in crate::engine::sql_statements(&std::fs::read_to_string(path).unwrap()) {
        db.exec(&stmt);
    }
    db.exec(&format!(
        "CREATE TABLE otel_logs_all AS otel_logs ENGINE = Distributed(test_shard_localhost, '{}', otel_logs)",
        db.name
    ));
    let host = Host::start().await;
    let (code, schema) = host
        .resource(&ds(&db), "GET", "schema?table=otel_logs_all", b"")
        .await;
    assert_eq!(code, 200, "{schema}");
    assert_eq!(schema["generation"], "otel-logs-v0.151", "{schema}");
    assert_eq!(
        schema["keysFrom"],
        format!("{}.otel_logs", db.name),
        "{schema}"
    );
}
