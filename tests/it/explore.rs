//! Explore against the engine: log volume and context of raw SQL past its LIMIT, filters from a
//! click, the logs sample, tag keys and values (and what a lookup reads on a big table).
//!
//! Fixture: `logs_current.sql`, 120 rows one per 30 s from 2024-01-01 00:00 UTC; services a/b;
//! pods a-0, a-1, b-0 (40 each); severities INFO, WARN, ERROR, DEBUG cycling (30 each).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::engine::{TestDb, engine, sql_statements};
use crate::grafana_frames::Frame;
use crate::host::{Answer, Host, Q, datasource_for};

const FROM_MS: i64 = 1_704_067_200_000;
const TO_MS: i64 = FROM_MS + 3_600_000;

fn fixture(db: &TestDb) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata/otel/logs_current.sql");
    for stmt in sql_statements(&std::fs::read_to_string(path).unwrap()) {
        db.exec(&stmt);
    }
}

fn q(ref_id: &str, json: Value) -> Q {
    let mut q = Q::json(ref_id, json);
    q.from_ms = FROM_MS;
    q.to_ms = TO_MS;
    q.interval_ms = 60_000;
    q
}

async fn run(host: &Host, db: &TestDb, queries: Vec<Q>) -> HashMap<String, Answer> {
    host.query(&datasource_for(engine(), &db.name), queries)
        .await
}

fn volume_total(a: &Answer) -> f64 {
    assert!(a.error.is_empty(), "{}", a.error);
    a.frames
        .iter()
        .map(|f: &Frame| {
            f.fields[1]
                .values
                .iter()
                .map(|v| v.as_f64().unwrap_or(0.0))
                .sum::<f64>()
        })
        .sum()
}

fn label_values(f: &Frame, key: &str) -> Vec<String> {
    f.field("labels")
        .values
        .iter()
        .map(|l| l[key].as_str().unwrap_or("").to_owned())
        .collect()
}

const RAW: &str = "SELECT Timestamp AS timestamp, Body AS body, SeverityText AS level, ServiceName, ResourceAttributes, LogAttributes \
                   FROM otel_logs WHERE $__timeFilter(Timestamp) ORDER BY Timestamp DESC";

/// Issue 10: a raw SQL query's LIMIT capped its log volume (a `LIMIT 10` query got a histogram
/// of 10 lines) and its log context.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r10_raw_sql_volume_and_context_count_past_the_limit() {
    let db = engine().database("explore_limit");
    fixture(&db);
    let host = Host::start().await;
    let limited = format!("{RAW} LIMIT 10");
    let mut answers = run(
        &host,
        &db,
        vec![
            q("V", json!({"refId": "V", "format": 2, "queryType": "logs-volume", "rawSql": limited})),
            q("VF", json!({"refId": "VF", "format": 2, "queryType": "logs-volume", "rawSql": limited,
                           "filters": [{"key": "k8s.pod.name", "operator": "=", "value": "b-0"}]})),
            q("L", json!({"refId": "L", "format": 2, "rawSql": limited})),
            // Row 61: service a, pod a-1. Context backward holds the 20 older a-1 rows, past
            // the query's LIMIT 10.
            q("C", json!({"refId": "C", "format": 2, "queryType": "logs-context", "rawSql": limited,
                          "context": {"time": ((FROM_MS + 61 * 30_000) * 1_000_000).to_string(),
                                      "direction": "backward", "limit": 50,
                                      "labels": {"service.name": "a", "k8s.pod.name": "a-1", "http.status_code": "200"}}})),
        ],
    )
    .await;
    assert_eq!(volume_total(&answers["V"]), 120.0);
    assert_eq!(volume_total(&answers["VF"]), 40.0);
    assert_eq!(answers.remove("L").unwrap().frame().rows(), 10);
    let c = answers.remove("C").unwrap();
    let f = c.frame();
    assert_eq!(f.rows(), 20, "{}", f.executed_sql());
    assert!(
        label_values(f, "k8s.pod.name").iter().all(|p| p == "a-1"),
        "{}",
        f.executed_sql()
    );
    // Per-line attributes are not part of the stream: 504 rows are in the context too.
    assert!(label_values(f, "http.status_code").contains(&"504".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn click_filters_on_raw_sql_and_builder_and_the_logs_sample() {
    let db = engine().database("explore_click");
    fixture(&db);
    let host = Host::start().await;
    let builder = |filters: Value| {
        json!({"refId": "x", "editorType": "builder", "format": 2,
               "builder": {"table": "otel_logs", "limit": 1000}, "filters": filters})
    };
    let raw =
        |filters: Value| json!({"refId": "x", "format": 2, "rawSql": RAW, "filters": filters});
    let pod_b = json!([{"key": "k8s.pod.name", "operator": "=", "value": "b-0"}]);
    let not_b_errors = json!([{"key": "k8s.pod.name", "operator": "!=", "value": "b-0"},
                              {"key": "level", "operator": "=", "value": "error"}]);
    // A hostile value is a value: nothing matches, nothing breaks.
    let hostile = json!([{"key": "service.name", "operator": "=", "value": "a' OR '1'='1"}]);
    let mut answers = run(
        &host,
        &db,
        vec![
            q("R1", raw(pod_b.clone())),
            q("R2", raw(not_b_errors.clone())),
            q("R3", raw(hostile.clone())),
            q("B1", builder(pod_b)),
            q("B2", builder(not_b_errors)),
            q("B3", builder(hostile)),
            q("S1", json!({"refId": "S1", "format": 2, "queryType": "logs-sample", "rawSql": RAW})),
            q("S2", json!({"refId": "S2", "editorType": "builder", "format": 2, "queryType": "logs-sample",
                           "builder": {"table": "otel_logs"}})),
            q("E1", json!({"refId": "E1", "format": 2,
                           "rawSql": "SELECT Timestamp, Body FROM otel_logs WHERE $__timeFilter(Timestamp)",
                           "filters": [{"key": "k8s.pod.name", "operator": "=", "value": "b-0"}]})),
            q("E2", raw(json!([{"key": "level", "operator": "=", "value": "loud"}]))),
        ],
    )
    .await;
    for id in ["R1", "B1"] {
        let f = answers[id].frame();
        assert_eq!(f.rows(), 40, "{id}: {}", f.executed_sql());
        assert!(label_values(f, "k8s.pod.name").iter().all(|p| p == "b-0"));
    }
    for id in ["R2", "B2"] {
        let f = answers[id].frame();
        // ERROR rows are n % 4 = 2; b-0 rows n % 3 = 2: 30 errors, 10 of them on b-0.
        assert_eq!(f.rows(), 20, "{id}: {}", f.executed_sql());
        assert!(f.field("severity").values.iter().all(|s| s == "error"));
    }
    for id in ["R3", "B3"] {
        assert_eq!(answers[id].frame().rows(), 0, "{id}");
    }
    assert_eq!(answers["S1"].frame().rows(), 100);
    assert_eq!(answers["S2"].frame().rows(), 100);
    let e1 = answers.remove("E1").unwrap();
    assert_eq!(e1.status, 400);
    assert!(e1.error.contains("`k8s.pod.name`"), "{}", e1.error);
    let e2 = answers.remove("E2").unwrap();
    assert!(e2.error.contains("\"loud\""), "{}", e2.error);
}

fn texts(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_keys_and_values_from_system_tables_and_a_bounded_sample() {
    let e = engine();
    let db = e.database("explore_tags");
    fixture(&db);
    let host = Host::start().await;
    let ds = datasource_for(e, &db.name);
    let range = format!("from={FROM_MS}&to={TO_MS}");
    let (code, keys) = host
        .resource(
            &ds,
            "GET",
            &format!("tag-keys?table=otel_logs&{range}"),
            b"",
        )
        .await;
    assert_eq!(code, 200, "{keys}");
    let keys = texts(&keys);
    assert_eq!(keys[0], "Timestamp");
    for k in [
        "ServiceName",
        "k8s.pod.name",
        "service.name",
        "http.status_code",
    ] {
        assert!(keys.contains(&k.to_owned()), "{k} in {keys:?}");
    }
    assert!(!keys.contains(&"ResourceAttributes".to_owned()), "{keys:?}");
    // A range without parts: only the columns (system.parts says there is nothing to sample).
    let (code, empty) = host
        .resource(&ds, "GET", "tag-keys?table=otel_logs&from=0&to=1000", b"")
        .await;
    assert_eq!(code, 200);
    assert!(!texts(&empty).contains(&"k8s.pod.name".to_owned()));

    let values = |key: &str| {
        let key = key.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
        format!(
            "tag-values?database={}&table=otel_logs&key={key}&{range}",
            db.name
        )
    };
    let (code, v) = host
        .resource(&ds, "GET", &values("k8s.pod.name"), b"")
        .await;
    assert_eq!(code, 200, "{v}");
    let mut pods = texts(&v);
    pods.sort();
    assert_eq!(pods, ["a-0", "a-1", "b-0"]);
    let (_, v) = host.resource(&ds, "GET", &values("ServiceName"), b"").await;
    assert_eq!(texts(&v), ["a", "b"], "most frequent first (a: 80 rows)");
    let (_, v) = host
        .resource(
            &ds,
            "GET",
            &values("LogAttributes['http.status_code']"),
            b"",
        )
        .await;
    assert_eq!(texts(&v), ["200", "504"]);
    let (_, v) = host.resource(&ds, "GET", &values("level"), b"").await;
    assert_eq!(texts(&v).len(), 4, "{v}");
    // Hostile and unknown keys are errors naming them, never SQL.
    let (code, v) = host
        .resource(&ds, "GET", &values("Nope['x'] OR 1=1 --']"), b"")
        .await;
    assert_eq!(code, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("`Nope`"), "{v}");
    let (code, v) = host
        .resource(&ds, "GET", &values("x') OR 1=1 --"), b"")
        .await;
    assert_eq!((code, texts(&v).len()), (200, 0), "{v}");
    let (code, v) = host
        .resource(
            &ds,
            "GET",
            "tag-values?table=otel_logs&key=ServiceName&from=abc",
            b"",
        )
        .await;
    assert_eq!(code, 400);
    assert!(v["error"].as_str().unwrap().contains("from"), "{v}");
    let (code, _) = host.resource(&ds, "GET", "tag-keys?table=nope", b"").await;
    assert_eq!(code, 404);
}

/// What the tag lookups read: `LANTERN_TAG_ROWS` rows (default 200 000; the figure is
/// for 1 000 000) over one day, lookups for the last hour and for the whole day. Rows read are
/// printed; the bound checked is structural (the lookup never reads the whole table once the
/// table is bigger than its `max_rows_to_read`), never a timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_lookup_cost() {
    let rows: u64 = std::env::var("LANTERN_TAG_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let e = engine();
    let db = e.database("explore_cost");
    let create = sql_statements(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/testdata/otel/logs_current.sql"),
        )
        .unwrap(),
    )
    .remove(0);
    db.exec(&create);
    let day_ms: i64 = 86_400_000;
    db.exec(&format!(
        "INSERT INTO otel_logs (Timestamp, ServiceName, SeverityText, Body, ResourceAttributes, LogAttributes) \
         SELECT fromUnixTimestamp64Milli({FROM_MS} + intDiv(number * {day_ms}, {rows})), concat('svc-', toString(number % 20)), 'INFO', \
         concat('line ', toString(number)), map('k8s.pod.name', concat('pod-', toString(number % 500)), 'service.name', concat('svc-', toString(number % 20))), \
         map('http.status_code', toString(200 + number % 5), concat('attr.', toString(number % 50)), 'x') FROM numbers({rows})"
    ));
    let host = Host::start_with(&[("GF_PLUGIN_LOG_LEVEL", "debug")]).await;
    let ds = datasource_for(e, &db.name);
    for (what, from, to) in [
        ("last hour", FROM_MS + day_ms - 3_600_000, FROM_MS + day_ms),
        ("whole day", FROM_MS, FROM_MS + day_ms),
    ] {
        for path in [
            format!("tag-keys?table=otel_logs&from={from}&to={to}"),
            format!("tag-values?table=otel_logs&key=k8s.pod.name&from={from}&to={to}"),
        ] {
            let started = std::time::Instant::now();
            let (code, v) = host.resource(&ds, "GET", &path, b"").await;
            let elapsed = started.elapsed();
            assert_eq!(code, 200, "{v}");
            let sql = host
                .stderr_lines()
                .iter()
                .rev()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|l| l["@message"] == "tag lookup")
                .and_then(|l| l["sql"].as_str().map(str::to_owned))
                .expect("the lookup's SQL is logged at debug");
            let s: Value = serde_json::from_str(&crate::live::summary(e, &db.name, &sql))
                .unwrap_or(Value::Null);
            let read: u64 = s["read_rows"].as_str().unwrap_or("0").parse().unwrap_or(0);
            eprintln!(
                "tag lookup cost ({rows} rows, {what}): {} answers {} — read_rows {read}, read_bytes {}, engine {} ms, resource call {:.1} ms",
                path.split('?').next().unwrap(),
                v.as_array().map_or(0, Vec::len),
                s["read_bytes"].as_str().unwrap_or("?"),
                s["elapsed_ns"]
                    .as_str()
                    .and_then(|n| n.parse::<f64>().ok())
                    .map_or(0.0, |n| n / 1e6),
                elapsed.as_secs_f64() * 1e3,
            );
            // Never a full scan: the sample's LIMIT stops the read well before the table ends.
            if rows > 500_000 {
                assert!(read < rows, "{path} read the whole table ({read} rows)");
            }
        }
    }
}
