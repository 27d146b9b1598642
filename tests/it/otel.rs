//! Issue 5: OpenTelemetry logs and traces through the engine and the plugin binary — schema
//! detection for every exporter generation and a LogHouse-like table, logs frames, the builder,
//! log volume, log context, trace lookup and trace search.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::engine::{TestDb, engine, sql_statements};
use crate::grafana_frames::Frame;
use crate::host::{Answer, Host, Q, datasource};

const FROM_MS: i64 = 1_704_067_200_000; // 2024-01-01 00:00:00 UTC
const TO_MS: i64 = FROM_MS + 3_600_000;

pub fn fixture(db: &TestDb, name: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata/otel")
        .join(name);
    for stmt in sql_statements(&std::fs::read_to_string(path).unwrap()) {
        db.exec(&stmt);
    }
}

fn ds(db: &TestDb, logs: Value) -> grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings {
    let e = engine();
    let (host, port) = e.host();
    let mut d = datasource(
        json!({"host": host, "port": port, "username": e.user, "defaultDatabase": db.name, "logs": logs}),
        &[("password", &e.password)],
    );
    d.uid = "lantern-otel".into();
    d
}

fn q(ref_id: &str, json: Value) -> Q {
    let mut q = Q::json(ref_id, json);
    q.from_ms = FROM_MS;
    q.to_ms = TO_MS;
    q.interval_ms = 60_000;
    q.max_data_points = 1000;
    q
}

async fn run(
    d: &grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings,
    queries: Vec<Q>,
) -> HashMap<String, Answer> {
    Host::start().await.query(d, queries).await
}

/// A string field's values.
fn texts<'a>(f: &'a Frame, name: &str) -> Vec<&'a str> {
    f.field(name)
        .values
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

/// How many distinct values the frame's `id` field has.
fn distinct_ids(f: &Frame) -> usize {
    texts(f, "id")
        .into_iter()
        .collect::<std::collections::HashSet<_>>()
        .len()
}

fn labels(f: &Frame, row: usize) -> Value {
    f.field("labels").values[row].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_detects_every_generation() {
    let cases = [
        ("logs_current.sql", "otel_logs", "otel-logs-v0.151"),
        (
            "logs_timestamptime.sql",
            "otel_logs",
            "otel-logs-timestamptime",
        ),
        ("logs_2022.sql", "otel_logs", "otel-logs-2022"),
        ("loghouse.sql", "server_text_log", "custom"),
        ("traces_current.sql", "otel_traces", "otel-traces"),
    ];
    let host = Host::start().await;
    for (file, table, generation) in cases {
        let db = engine().database("otel_schema");
        fixture(&db, file);
        let (code, v) = host
            .resource(
                &ds(&db, json!(null)),
                "GET",
                &format!("schema?table={table}"),
                b"",
            )
            .await;
        assert_eq!(code, 200, "{file}: {v}");
        assert_eq!(v["generation"], generation, "{file}: {v}");
        match file {
            "logs_timestamptime.sql" => assert_eq!(v["keyTimes"], json!(["TimestampTime"])),
            "loghouse.sql" => {
                assert_eq!(v["keyTimes"], json!(["EventDate"]));
                assert_eq!(v["labelColumns"], json!(["Namespace", "PodName", "level"]));
                assert_eq!(v["contextColumns"], json!(["`PodName`", "`Namespace`"]));
            }
            "logs_current.sql" => {
                assert_eq!(
                    (
                        v["time"].as_str(),
                        v["body"].as_str(),
                        v["severityText"].as_str()
                    ),
                    (Some("Timestamp"), Some("Body"), Some("SeverityText"))
                );
                assert_eq!(
                    v["maps"],
                    json!(["ResourceAttributes", "ScopeAttributes", "LogAttributes"])
                );
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builder_logs_frame_contract_and_filters() {
    let db = engine().database("otel_builder");
    fixture(&db, "logs_current.sql");
    let d = ds(&db, json!(null));
    let all = json!({"refId": "A", "editorType": "builder", "format": 2, "builder": {"table": "otel_logs", "limit": 1000}});
    let filtered = json!({"refId": "B", "editorType": "builder", "format": 2, "builder": {
        "table": "otel_logs", "services": ["a"], "minSeverity": "warning",
        "filters": [{"key": "k8s.pod.name", "op": "=", "value": "a-1"}, {"key": "http.status_code", "op": "!=", "value": "200"}],
        "bodyContains": "TIMEOUT", "order": "asc"}});
    let mut answers = run(&d, vec![q("A", all), q("B", filtered)]).await;
    let a = answers.remove("A").unwrap();
    let f = a.frame();
    assert_eq!(f.meta["type"], "log-lines");
    assert_eq!(f.meta["typeVersion"], json!([0, 0]));
    assert_eq!(f.meta["preferredVisualisationType"], "logs");
    let names: Vec<&str> = f.fields.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        &names[..7],
        [
            "timestamp",
            "body",
            "severity",
            "id",
            "labels",
            "traceID",
            "spanID"
        ]
    );
    assert_eq!(f.rows(), 120);
    // Newest first; timestamps in ns.
    assert_eq!(
        f.field("timestamp").values[0],
        json!((FROM_MS + 119 * 30_000) * 1_000_000)
    );
    let sev: Vec<&str> = texts(f, "severity");
    assert!(
        sev.iter()
            .all(|s| ["info", "warning", "error", "debug"].contains(s)),
        "{sev:?}"
    );
    assert_eq!(distinct_ids(f), 120, "ids are unique");
    let l = labels(f, 0);
    // Row 119 (newest): service b, pod b-0, status 200 — resource and log attributes merged.
    assert_eq!(
        l,
        json!({"service.name": "b", "k8s.pod.name": "b-0", "http.status_code": "200"})
    );
    let link = &f.field("traceID").config.as_ref().unwrap()["links"][0];
    assert_eq!(link["internal"]["datasourceUid"], "lantern-otel");
    assert_eq!(link["internal"]["query"]["queryType"], "traces");
    assert_eq!(link["internal"]["query"]["traceId"], "${__value.raw}");
    assert!(
        f.executed_sql()
            .contains("`Timestamp` >= fromUnixTimestamp64Nano(1704067200000000000)"),
        "{}",
        f.executed_sql()
    );

    let b = answers.remove("B").unwrap();
    let f = b.frame();
    // Rows: service a, pod a-1, WARN/ERROR, status 504, body "timeout": numbers 10, 70 (n%10=0, n%3=1, n%4 in {1,2}).
    let bodies: Vec<&str> = texts(f, "body");
    assert_eq!(
        bodies,
        ["request 10 timeout", "request 70 timeout"],
        "{}",
        f.executed_sql()
    );
    assert_eq!(
        f.field("severity").values,
        vec![json!("error"), json!("error")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_sql_logs_recognise_aliases_and_primary_key_time() {
    let db = engine().database("otel_raw");
    fixture(&db, "logs_timestamptime.sql");
    let d = ds(&db, json!(null));
    let sql = "SELECT Timestamp AS ts, Body AS message, SeverityText AS level, ServiceName AS service, ResourceAttributes \
               FROM otel_logs WHERE $__timeFilter(TimestampTime) ORDER BY ts";
    let builder = json!({"refId": "B", "editorType": "builder", "format": 2, "builder": {}});
    let mut answers = run(
        &d,
        vec![
            q("A", json!({"refId": "A", "rawSql": sql, "format": 2})),
            q("B", builder),
        ],
    )
    .await;
    let a = answers.remove("A").unwrap();
    let f = a.frame();
    assert_eq!(f.rows(), 10);
    assert_eq!(f.field("body").values[0], "line 0");
    assert_eq!(
        f.field("severity").values[0],
        "warning",
        "Warning → warning"
    );
    assert_eq!(labels(f, 0), json!({"service.name": "svc"}));
    let b = answers.remove("B").unwrap();
    // The G3 table's primary key uses TimestampTime: the builder filters on it.
    assert!(
        b.frame()
            .executed_sql()
            .contains("`TimestampTime` >= toDateTime(1704067200)"),
        "{}",
        b.frame().executed_sql()
    );
    assert_eq!(b.frame().rows(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn severity_from_number_in_the_2022_table() {
    let db = engine().database("otel_2022");
    fixture(&db, "logs_2022.sql");
    let mut answers = run(
        &ds(&db, json!(null)),
        vec![q(
            "A",
            json!({"refId": "A", "editorType": "builder", "format": 2, "builder": {}}),
        )],
    )
    .await;
    let a = answers.remove("A").unwrap();
    assert_eq!(
        a.frame().field("severity").values,
        vec![json!("critical"); 5],
        "SeverityNumber 21 → critical"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_volume_totals_equal_row_counts() {
    let db = engine().database("otel_volume");
    fixture(&db, "logs_current.sql");
    let d = ds(&db, json!(null));
    let builder = json!({"refId": "V", "editorType": "builder", "format": 2, "queryType": "logs-volume", "builder": {"services": ["a"]}});
    let raw = json!({"refId": "R", "format": 2, "queryType": "logs-volume",
                     "rawSql": "SELECT Timestamp, Body, SeverityText FROM otel_logs WHERE $__timeFilter(Timestamp)"});
    let mut answers = run(&d, vec![q("V", builder), q("R", raw)]).await;
    let total = |a: &Answer| -> (f64, Vec<String>) {
        let mut sum = 0.0;
        let mut levels = Vec::new();
        for f in &a.frames {
            assert_eq!(f.meta["type"], "timeseries-multi");
            levels.push(f.fields[1].labels["level"].clone());
            sum += f.fields[1]
                .values
                .iter()
                .map(|v| v.as_f64().unwrap())
                .sum::<f64>();
        }
        levels.sort();
        (sum, levels)
    };
    let v = answers.remove("V").unwrap();
    assert!(v.error.is_empty(), "{}", v.error);
    // Service a: numbers with n % 3 != 2 → 80 rows.
    assert_eq!(
        total(&v),
        (
            80.0,
            vec![
                "debug".into(),
                "error".into(),
                "info".into(),
                "warning".into()
            ]
        )
    );
    let r = answers.remove("R").unwrap();
    assert!(r.error.is_empty(), "{}", r.error);
    assert_eq!(total(&r).0, 120.0);
    assert!(
        r.frames[0]
            .executed_sql()
            .contains("FROM (\nSELECT Timestamp, Body, SeverityText FROM otel_logs"),
        "{}",
        r.frames[0].executed_sql()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_context_order_bounds_and_stream() {
    let db = engine().database("otel_context");
    fixture(&db, "logs_current.sql");
    let d = ds(
        &db,
        json!({"contextColumns": ["ResourceAttributes['k8s.pod.name']"]}),
    );
    // Row 60 (00:30:00, pod a-0: n % 3 = 0).
    let row_ns = (FROM_MS + 60 * 30_000) * 1_000_000;
    let ctx = |dir: &str, id: &str| {
        json!({"refId": id, "editorType": "builder", "format": 2, "queryType": "logs-context", "builder": {},
               "context": {"time": row_ns.to_string(), "direction": dir, "limit": 3, "labels": {"k8s.pod.name": "a-0"}}})
    };
    let raw = json!({"refId": "RAW", "format": 2, "queryType": "logs-context",
        "rawSql": "SELECT Timestamp, Body, ResourceAttributes['k8s.pod.name'] AS pod FROM otel_logs WHERE $__timeFilter(Timestamp)",
        "context": {"time": row_ns, "direction": "backward", "limit": 2, "labels": {"pod": "a-0"}}});
    let mut answers = run(
        &d,
        vec![
            q("BACK", ctx("backward", "BACK")),
            q("FWD", ctx("forward", "FWD")),
            q("RAW", raw),
        ],
    )
    .await;
    let body = |a: &Answer| -> Vec<String> {
        a.frame()
            .field("body")
            .values
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let back = answers.remove("BACK").unwrap();
    assert_eq!(
        body(&back),
        ["request 57 ok", "request 54 ok", "request 51 ok"],
        "{}",
        back.frame().executed_sql()
    );
    let fwd = answers.remove("FWD").unwrap();
    assert_eq!(
        body(&fwd),
        ["request 63 ok", "request 66 ok", "request 69 ok"]
    );
    let raw = answers.remove("RAW").unwrap();
    assert_eq!(
        body(&raw),
        ["request 57 ok", "request 54 ok"],
        "{}",
        raw.frame().executed_sql()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loghouse_custom_roles_from_settings() {
    let db = engine().database("otel_loghouse");
    fixture(&db, "loghouse.sql");
    let d = ds(
        &db,
        json!({"defaultTable": "server_text_log", "levelColumn": "level"}),
    );
    let mut answers = run(&d, vec![q("A", json!({"refId": "A", "editorType": "builder", "format": 2, "builder": {"minSeverity": "error"}}))]).await;
    let a = answers.remove("A").unwrap();
    let f = a.frame();
    assert_eq!(
        f.rows(),
        20,
        "every third row is an Error: {}",
        f.executed_sql()
    );
    assert!(f.field("severity").values.iter().all(|v| v == "error"));
    let sql = f.executed_sql();
    assert!(
        sql.contains("`EventDate` >= toDate("),
        "partition key column filtered: {sql}"
    );
    assert_eq!(labels(f, 0)["Namespace"], "ns-1");
    assert!(
        labels(f, 0)["PodName"]
            .as_str()
            .unwrap()
            .starts_with("pod-")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_view_and_search() {
    let db = engine().database("otel_traces");
    fixture(&db, "traces_current.sql");
    let d = ds(&db, json!(null));
    let search = json!({"refId": "S", "format": 1, "queryType": "trace-search", "traceSearch": {"status": "error", "kind": "server"}});
    let all_roots = json!({"refId": "R", "format": 1, "queryType": "trace-search", "traceSearch": {"minDurationMs": 1}});
    let mut answers = run(
        &d,
        vec![
            q(
                "T",
                json!({"refId": "T", "format": 3, "queryType": "traces", "traceId": "trace0"}),
            ),
            q("S", search),
            q("R", all_roots),
            q(
                "MISSING",
                json!({"refId": "MISSING", "format": 3, "queryType": "traces", "traceId": "nope"}),
            ),
        ],
    )
    .await;
    let t = answers.remove("T").unwrap();
    let f = t.frame();
    assert_eq!(f.meta["preferredVisualisationType"], "trace");
    assert!(
        f.executed_sql()
            .contains("`Timestamp` >= toDateTime(1704067199)"),
        "bounded by the lookup table: {}",
        f.executed_sql()
    );
    assert_eq!(f.rows(), 2);
    assert_eq!(
        f.field("spanID").values,
        vec![json!("root"), json!("child")]
    );
    assert_eq!(
        f.field("parentSpanID").values,
        vec![json!(""), json!("root")]
    );
    assert_eq!(
        f.field("serviceName").values,
        vec![json!("frontend"), json!("payment")]
    );
    assert_eq!(f.field("startTime").values[0], json!(1_704_067_200_000.0));
    assert_eq!(f.field("duration").values, vec![json!(250.0), json!(100.0)]);
    assert_eq!(
        f.field("kind").values,
        vec![json!("server"), json!("client")]
    );
    assert_eq!(
        f.field("statusCode").values,
        vec![json!(2), json!(1)],
        "both spellings"
    );
    assert_eq!(
        f.field("serviceTags").values[0],
        json!([{"key": "service.name", "value": "frontend"}, {"key": "k8s.pod.name", "value": "fe-1"}])
    );
    assert_eq!(
        f.field("tags").values[0],
        json!([{"key": "http.method", "value": "GET"}])
    );
    let logs = &f.field("logs").values[0];
    assert_eq!(logs[0]["name"], "exception");
    assert_eq!(logs[0]["timestamp"].as_f64(), Some(1_704_067_200_100.0));
    assert_eq!(
        logs[0]["fields"],
        json!([{"key": "exception.type", "value": "Timeout"}])
    );
    assert_eq!(
        f.field("references").values[0],
        json!([{"traceID": "trace9", "spanID": "other"}])
    );
    let s = answers.remove("S").unwrap();
    assert_eq!(s.frame().field("traceID").values, vec![json!("trace0")]);
    let r = answers.remove("R").unwrap();
    assert_eq!(
        r.frame().field("traceID").values,
        vec![json!("trace1"), json!("trace0")],
        "root spans, newest first"
    );
    let missing = answers.remove("MISSING").unwrap();
    assert!(missing.error.is_empty(), "{}", missing.error);
    assert_eq!(missing.frame().rows(), 0);
    assert!(
        !missing.frame().executed_sql().contains("toDateTime("),
        "unknown ids fall back to the plain lookup"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expand_shows_builder_sql() {
    let db = engine().database("otel_expand");
    fixture(&db, "logs_current.sql");
    let host = Host::start().await;
    let body = json!({"query": {"refId": "A", "editorType": "builder", "format": 2, "builder": {"services": ["it's"]}},
                      "timeRange": {"from": FROM_MS, "to": TO_MS}});
    let (code, v) = host
        .resource(
            &ds(&db, json!(null)),
            "POST",
            "expand",
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    let sql = v["sql"].as_str().unwrap();
    assert!(sql.contains(r"`ServiceName` IN ('it\'s')"), "{sql}");
    assert!(sql.starts_with("SELECT `Timestamp` AS timestamp"), "{sql}");
}

/// A logs result of many ClickHouse blocks is shaped block by block: every row arrives once, in
/// order, and exact duplicate rows in different blocks still get distinct ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_many_blocks_keep_order_and_unique_ids() {
    let db = engine().database("otel_blocks");
    let mut d = ds(&db, json!(null));
    // Small blocks, set by the datasource (queries run with readonly=1 and cannot set it).
    let mut json: Value = serde_json::from_slice(&d.json_data).unwrap();
    json["customSettings"] = json!([{"setting": "max_block_size", "value": "700"}]);
    d.json_data = serde_json::to_vec(&json).unwrap();
    let sql = "SELECT toDateTime64('2024-01-01 00:00:00', 9, 'UTC') + toIntervalMillisecond(intDiv(number, 2)) AS Timestamp, \
               if(number % 2 = 0, 'same line', concat('line ', toString(number))) AS Body, \
               arrayElement(['INFO', 'Warn', 'error', ''], 1 + number % 4) AS SeverityText, \
               toUInt8(arrayElement([9, 13, 17, 21], 1 + number % 4)) AS SeverityNumber, \
               map('k8s.pod.name', concat('pod-', toString(number % 3)), 'quote', 'a\"b') AS ResourceAttributes \
               FROM numbers(5000) ORDER BY number";
    let mut answers = run(&d, vec![q("A", json!({"rawSql": sql, "format": 2}))]).await;
    let a = answers.remove("A").unwrap();
    let f = a.frame();
    assert_eq!(f.rows(), 5000);
    let times: Vec<i64> = f
        .field("timestamp")
        .values
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "rows keep their order"
    );
    assert_eq!(f.field("body").values[4001], json!("line 4001"));
    // Every 4th row has an empty text: its level comes from the number (21 = fatal → critical).
    let sev: Vec<&str> = texts(f, "severity");
    assert_eq!(&sev[..4], ["info", "warning", "error", "critical"]);
    assert_eq!(
        labels(f, 4001),
        json!({"k8s.pod.name": "pod-2", "quote": "a\"b"})
    );
    assert_eq!(distinct_ids(f), 5000, "ids are unique");

    let same = "SELECT toDateTime64('2024-01-01 00:00:00', 9, 'UTC') AS Timestamp, 'x' AS Body \
                FROM numbers(2000)";
    let mut answers = run(&d, vec![q("B", json!({"rawSql": same, "format": 2}))]).await;
    let b = answers.remove("B").unwrap();
    assert_eq!(
        distinct_ids(b.frame()),
        2000,
        "identical rows in different blocks get distinct ids"
    );
}

/// Ad hoc filters on dotted OTel attribute keys resolve to the table's attribute maps (the
/// planner reads the table's columns); a key that resolves to nothing is an error naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_hoc_filters_on_dotted_otel_keys_filter_the_right_map() {
    let db = engine().database("otel_adhoc");
    fixture(&db, "logs_current.sql");
    let d = ds(&db, json!(null));
    let expected =
        db.exec("SELECT count() FROM otel_logs WHERE ResourceAttributes['k8s.pod.name'] = 'b-0'");
    let all = db.exec("SELECT count() FROM otel_logs");
    let filter = |key: &str| json!([{"key": key, "operator": "=", "value": "b-0"}]);
    let answers = run(
        &d,
        vec![
            q(
                "ALT",
                json!({"query": "SELECT count() AS n FROM otel_logs WHERE $adhoc", "format": "table",
                       "table": "otel_logs", "adHocFilters": filter("k8s.pod.name")}),
            ),
            q(
                "NONE",
                json!({"query": "SELECT count() AS n FROM otel_logs WHERE $adhoc", "format": "table",
                       "table": "otel_logs", "adHocFilters": []}),
            ),
            q(
                "BAD",
                json!({"query": "SELECT count() AS n FROM otel_logs WHERE $adhoc", "format": "table",
                       "table": "otel_logs", "adHocFilters": filter("no such thing here")}),
            ),
        ],
    )
    .await;
    let n = |id: &str| answers[id].frame().field("n").values[0].clone();
    assert_eq!(n("ALT").to_string(), expected.trim(), "filtered to the pod");
    assert_ne!(expected.trim(), all.trim(), "the filter narrows");
    assert_eq!(n("NONE").to_string(), all.trim());
    let bad = &answers["BAD"];
    assert_eq!(bad.status, 400, "{}", bad.error);
    assert!(bad.error.contains("no such thing here"), "{}", bad.error);
}
