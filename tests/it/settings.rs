//! Issue 9 item 5: every settings key of grafana/clickhouse-datasource is honoured or reported —
//! traces column mappings and `durationUnit` on a custom traces table, `enableRowLimit` with
//! Grafana's row limit, `forwardGrafanaHeaders` on every request to ClickHouse, `otelVersion`
//! checked by health, unsupported keys named by health.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::engine::{ShimOptions, engine, start_shim, token};
use crate::host::{Host, Q, datasource, datasource_with};
use crate::otel::fixture;

const FROM_MS: i64 = 1_704_067_200_000; // 2024-01-01 00:00:00 UTC

fn q(ref_id: &str, json: Value) -> Q {
    let mut q = Q::json(ref_id, json);
    q.from_ms = FROM_MS;
    q.to_ms = FROM_MS + 3_600_000;
    q
}

/// The traces settings that map the custom `spans` table (every column named differently from
/// the collector exporter's; durations in milliseconds).
fn spans_settings() -> Value {
    json!({
        "defaultTable": "spans", "traceIdColumn": "trace", "spanIdColumn": "span",
        "parentSpanIdColumn": "parent", "operationNameColumn": "op", "serviceNameColumn": "svc",
        "durationColumn": "took", "durationUnit": "milliseconds", "startTimeColumn": "started",
        "tagsColumn": "attrs", "serviceTagsColumn": "res", "statusCodeColumn": "outcome",
        "kindColumn": "span_kind", "otelEnabled": false
    })
}

/// The trace view and trace search read a traces table through the datasource's column
/// settings. Needs the planner to classify traces tables with `settings.traces.overrides`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_traces_table_works_through_the_column_settings() {
    let e = engine();
    let db = e.database("custom_spans");
    db.exec(
        "CREATE TABLE spans (started DateTime64(6), trace String, span String, parent String, \
         op LowCardinality(String), svc LowCardinality(String), took UInt32, \
         attrs Map(String, String), res Map(String, String), outcome LowCardinality(String), \
         span_kind LowCardinality(String)) ENGINE = MergeTree ORDER BY (svc, started)",
    );
    db.exec(
        "INSERT INTO spans VALUES \
         ('2024-01-01 00:00:00.000', 't1', 'r', '', 'GET /', 'frontend', 250, {'http.method': 'GET'}, {'host': 'a'}, 'Error', 'Server'), \
         ('2024-01-01 00:00:00.010', 't1', 'c', 'r', 'charge', 'payment', 100, {}, {'host': 'b'}, 'Ok', 'Client'), \
         ('2024-01-01 00:10:00.000', 't2', 'r2', '', 'GET /health', 'frontend', 40, {}, {}, 'Unset', 'Server')",
    );
    let d = datasource_with(e, &db.name, json!({"traces": spans_settings()}));
    let search = |ref_id: &str, s: Value| {
        q(
            ref_id,
            json!({"refId": ref_id, "format": 1, "queryType": "trace-search", "traceSearch": s}),
        )
    };
    let mut answers = Host::start()
        .await
        .query(
            &d,
            vec![
                q(
                    "T",
                    json!({"refId": "T", "format": 3, "queryType": "traces", "traceId": "t1"}),
                ),
                search("ROOTS", json!({})),
                search("SLOW", json!({"minDurationMs": 200})),
                search("ERR", json!({"status": "error", "kind": "server"})),
                search(
                    "PAY",
                    json!({"services": ["payment"], "rootOnly": false, "maxDurationMs": 100}),
                ),
            ],
        )
        .await;
    let t = answers.remove("T").unwrap();
    let f = t.frame();
    assert_eq!(f.meta["preferredVisualisationType"], "trace");
    assert_eq!(f.field("spanID").values, vec![json!("r"), json!("c")]);
    assert_eq!(f.field("parentSpanID").values, vec![json!(""), json!("r")]);
    assert_eq!(
        f.field("operationName").values,
        vec![json!("GET /"), json!("charge")]
    );
    assert_eq!(
        f.field("serviceName").values,
        vec![json!("frontend"), json!("payment")]
    );
    assert_eq!(
        f.field("duration").values,
        vec![json!(250.0), json!(100.0)],
        "milliseconds stay milliseconds: {}",
        f.executed_sql()
    );
    assert_eq!(f.field("startTime").values[1], json!(1_704_067_200_010.0));
    assert_eq!(f.field("statusCode").values, vec![json!(2), json!(1)]);
    assert_eq!(
        f.field("kind").values,
        vec![json!("server"), json!("client")]
    );
    assert_eq!(
        f.field("tags").values[0],
        json!([{"key": "http.method", "value": "GET"}])
    );
    assert_eq!(
        f.field("serviceTags").values[1],
        json!([{"key": "host", "value": "b"}])
    );
    let ids = |a: &crate::host::Answer| a.frame().field("traceID").values.clone();
    assert_eq!(
        ids(&answers["ROOTS"]),
        vec![json!("t2"), json!("t1")],
        "root spans, newest first"
    );
    assert_eq!(
        answers["ROOTS"].frame().field("duration").values,
        vec![json!(40.0), json!(250.0)]
    );
    assert_eq!(
        ids(&answers["SLOW"]),
        vec![json!("t1")],
        "{}",
        answers["SLOW"].frame().executed_sql()
    );
    assert_eq!(ids(&answers["ERR"]), vec![json!("t1")]);
    assert_eq!(
        answers["PAY"].frame().field("operationName").values,
        vec![json!("charge")]
    );

    // The same table without the settings is not a traces table; a setting naming a column
    // the table lacks is an error, not a silently different query.
    let plain = datasource_with(e, &db.name, json!({"traces": {"defaultTable": "spans"}}));
    let mut wrong = spans_settings();
    wrong["spanIdColumn"] = json!("span_id");
    let wrong = datasource_with(e, &db.name, json!({"traces": wrong}));
    let host = Host::start().await;
    for d in [plain, wrong] {
        let a = host
            .query(
                &d,
                vec![q(
                    "T",
                    json!({"refId": "T", "format": 3, "queryType": "traces", "traceId": "t1"}),
                )],
            )
            .await
            .remove("T")
            .unwrap();
        assert!(a.error.contains("spans"), "{}", a.error);
    }
}

/// An invalid `durationUnit` or `otelVersion` is a settings error naming the key, in health and
/// in every query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_trace_settings_name_the_key() {
    let host = Host::start().await;
    for (json, key) in [
        (
            json!({"host": "ch", "traces": {"durationUnit": "minutes"}}),
            "traces.durationUnit",
        ),
        (
            json!({"host": "ch", "logs": {"otelVersion": "1.2.9"}}),
            "logs.otelVersion",
        ),
        (
            json!({"host": "ch", "traces": {"spanIdColumn": ["span"]}}),
            "traces.spanIdColumn",
        ),
    ] {
        let ds = datasource(json, &[]);
        let (status, message, details) = host.check_health(&ds).await;
        assert_eq!(status, 2, "{message}");
        assert_eq!(details["key"], key, "{details}");
        assert!(message.contains(&format!("`{key}`")), "{message}");
        let a = host
            .query(&ds, vec![Q::sql("A", "SELECT 1")])
            .await
            .remove("A")
            .unwrap();
        assert!(a.error.contains(&format!("`{key}`")), "{}", a.error);
    }
    // protocol: native is named with its reason, never silently switched to HTTP.
    let ds = datasource(
        json!({"host": "ch", "port": 9000, "protocol": "native"}),
        &[],
    );
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!((status, &details["key"]), (2, &json!("protocol")));
    assert!(
        message.contains("native TCP protocol is not supported"),
        "{message}"
    );
}

/// With `enableRowLimit`, Grafana's SQL row limit (`GF_SQL_ROW_LIMIT` in the request's Grafana
/// config) caps the rows like `maxResultRows`, with a notice naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grafanas_row_limit_caps_results_when_enabled() {
    let e = engine();
    let host = Host::start().await;
    let sql = "SELECT number FROM system.numbers LIMIT 100";
    let rows = |answers: &HashMap<String, crate::host::Answer>| answers["A"].frame().rows();
    let limited = datasource_with(e, "default", json!({"enableRowLimit": true}));
    let a = host
        .query_with_config(
            &limited,
            vec![Q::sql("A", sql)],
            &[("GF_SQL_ROW_LIMIT", "10")],
        )
        .await;
    assert_eq!(rows(&a), 10);
    let notices = a["A"].frame().meta["notices"].to_string();
    assert!(
        notices.contains("cut at 10 rows") && notices.contains("row_limit"),
        "{notices}"
    );
    // maxResultRows stays the cap when it is lower.
    let both = datasource_with(
        e,
        "default",
        json!({"enableRowLimit": "true", "maxResultRows": 5}),
    );
    let a = host
        .query_with_config(&both, vec![Q::sql("A", sql)], &[("GF_SQL_ROW_LIMIT", "10")])
        .await;
    assert_eq!(rows(&a), 5);
    assert!(
        a["A"].frame().meta["notices"]
            .to_string()
            .contains("maxResultRows")
    );
    // Off, or no limit sent (older Grafana, or a limit of 0 or less): every row.
    let off = datasource_with(e, "default", json!({}));
    for (d, config) in [
        (&off, &[("GF_SQL_ROW_LIMIT", "10")][..]),
        (&limited, &[][..]),
        (&limited, &[("GF_SQL_ROW_LIMIT", "-1")][..]),
    ] {
        let a = host
            .query_with_config(d, vec![Q::sql("A", sql)], config)
            .await;
        assert_eq!(rows(&a), 100, "{config:?}");
    }
}

/// The headers a query reads back with `getClientHTTPHeader` (ClickHouse's own function, gated
/// by `allow_get_client_http_header`, sent as a custom setting).
const READ_HEADERS: &str = "SELECT getClientHTTPHeader('X-Grafana-User') AS user, \
     getClientHTTPHeader('X-Dashboard-Uid') AS dashboard, getClientHTTPHeader('X-Panel-Id') AS panel, \
     getClientHTTPHeader('X-Grafana-Org-Id') AS org, getClientHTTPHeader('Cookie') AS cookie, \
     getClientHTTPHeader('X-Id-Token') AS id_token, getClientHTTPHeader('Accept-Language') AS lang";

/// `forwardGrafanaHeaders`: the identity headers of the request reach ClickHouse; cookies,
/// tokens and other headers never do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_grafana_headers_reach_clickhouse() {
    let e = engine();
    let host = Host::start().await;
    let custom = json!([{"setting": "allow_get_client_http_header", "value": "1"}]);
    let dashboard = format!("dash-{}", token());
    let headers: HashMap<String, String> = [
        ("http_X-Dashboard-Uid", dashboard.as_str()),
        ("http_X-Panel-Id", "7"),
        ("http_X-Grafana-Org-Id", "1"),
        ("http_Accept-Language", "en"),
        ("Cookie", "grafana_session=s3cret"),
        ("http_Cookie", "grafana_session=s3cret"),
        ("X-Id-Token", "s3cret"),
        ("http_X-Id-Token", "s3cret"),
        ("Authorization", "Bearer s3cret"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let read = |d| {
        let headers = headers.clone();
        let host = &host;
        async move {
            let mut a = host
                .query_with_headers(d, vec![Q::sql("A", READ_HEADERS)], headers)
                .await;
            let a = a.remove("A").unwrap();
            let f = a.frame();
            [
                "user",
                "dashboard",
                "panel",
                "org",
                "cookie",
                "id_token",
                "lang",
            ]
            .map(|n| f.field(n).values[0].as_str().unwrap().to_owned())
        }
    };
    let on = datasource_with(
        e,
        "default",
        json!({"forwardGrafanaHeaders": true, "customSettings": custom}),
    );
    assert_eq!(
        read(&on).await,
        ["admin", dashboard.as_str(), "7", "1", "", "", ""],
        "the user comes from the request's user when Grafana does not send X-Grafana-User"
    );
    let off = datasource_with(e, "default", json!({"customSettings": custom}));
    assert_eq!(read(&off).await, ["", "", "", "", "", "", ""]);
}

/// A proxy in front of ClickHouse that refuses requests without Grafana's identity header gets it
/// on every request: queries (with their DESCRIBE), resources, health and the probes of several
/// hosts. Without `forwardGrafanaHeaders` it refuses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_proxy_gets_grafanas_headers_on_every_request() {
    let password = token();
    let proxy = start_shim(
        &password,
        &ShimOptions {
            require_header: Some("X-Grafana-User"),
            ..Default::default()
        },
    );
    let (h, port) = proxy.host();
    let ds = |forward: bool| {
        datasource(
            json!({"host": "localhost", "port": port, "additionalHosts": [format!("{h}:{port}")],
                   "forwardGrafanaHeaders": forward}),
            &[("password", &password)],
        )
    };
    let host = Host::start().await;
    let user = HashMap::from([("http_X-Grafana-User".to_owned(), "alice".to_owned())]);

    let on = ds(true);
    let (status, message, details) = host.check_health_with_headers(&on, user.clone()).await;
    assert_eq!(status, 1, "{message} {details}");
    assert!(message.starts_with("2 of 2 hosts up"), "{message}");
    let (code, body) = host
        .resource_with_headers(&on, "GET", "databases", b"", &[("X-Grafana-User", "alice")])
        .await;
    assert_eq!(code, 200, "{body}");
    assert!(body.to_string().contains("system"), "{body}");
    let a = host
        .query_with_headers(&on, vec![Q::sql("A", "SELECT 1 AS one")], user.clone())
        .await;
    assert_eq!(a["A"].frame().field("one").values, vec![json!(1)]);

    let off = ds(false);
    let (status, message, _) = host.check_health_with_headers(&off, user.clone()).await;
    assert_eq!(status, 2);
    assert!(
        message.contains("requires the X-Grafana-User header"),
        "{message}"
    );
    let a = host
        .query_with_headers(&off, vec![Q::sql("A", "SELECT 1 AS one")], user)
        .await;
    assert!(a["A"].error.contains("X-Grafana-User"), "{}", a["A"].error);
}

/// Health warns (without failing) when the default logs or traces table is not of the
/// `otelVersion` the datasource names, and stays quiet when it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_warns_when_the_tables_differ_from_otel_version() {
    let e = engine();
    let db = e.database("otel_version");
    fixture(&db, "logs_current.sql");
    fixture(&db, "traces_current.sql");
    let host = Host::start().await;
    let health = |extra: Value| {
        let d = datasource_with(e, &db.name, extra);
        let host = &host;
        async move { host.check_health(&d).await }
    };
    let (status, message, details) = health(json!({"otelVersion": "1.29.0"})).await;
    assert_eq!(status, 1, "a warning, not a failure: {message}");
    let warnings = details["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{details}");
    let w = warnings[0].as_str().unwrap();
    assert!(
        w.contains("logs otelVersion is 1.29.0")
            && w.contains(&format!("{}.otel_logs", db.name))
            && w.contains("no TimestampTime"),
        "{w}"
    );
    assert!(message.contains("Warning: logs otelVersion"), "{message}");
    for quiet in [
        json!({"otelVersion": "1.30.0"}),
        json!({"logs": {"otelVersion": "latest"}, "traces": {"otelVersion": "1.29.0"}}),
        json!({}),
    ] {
        let (status, message, details) = health(quiet.clone()).await;
        assert_eq!(status, 1, "{message}");
        assert_eq!(details["warnings"], json!([]), "{quiet}: {details}");
    }
    // A traces table named as the default logs table is not a logs table of any version.
    let (_, _, details) =
        health(json!({"logs": {"defaultTable": "otel_traces", "otelVersion": "1.30.0"}})).await;
    assert!(
        details["warnings"][0]
            .as_str()
            .unwrap()
            .contains("is a traces table"),
        "{details}"
    );
}

/// `logs.filterTimeColumn`: a coarser time column filtered on as well (so ClickHouse can skip
/// data by it); one that is not a time column of the table is an error, not ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_filter_time_column_is_filtered_on() {
    let e = engine();
    let db = e.database("filter_time");
    fixture(&db, "loghouse.sql");
    let host = Host::start().await;
    let builder = |ref_id: &str| {
        q(
            ref_id,
            json!({"refId": ref_id, "editorType": "builder", "format": 2, "builder": {}}),
        )
    };
    let logs = |filter: &str| {
        datasource_with(
            e,
            &db.name,
            json!({"logs": {"defaultTable": "server_text_log", "filterTimeColumn": filter}}),
        )
    };
    let a = host.query(&logs("EventTime"), vec![builder("A")]).await;
    let f = a["A"].frame();
    assert_eq!(f.rows(), 60);
    let sql = f.executed_sql();
    assert!(
        sql.contains("`EventTime` >= toDateTime(") && sql.contains("`EventDate` >= toDate("),
        "{sql}"
    );
    let a = host.query(&logs("Body"), vec![builder("A")]).await;
    assert!(a["A"].error.contains("server_text_log"), "{}", a["A"].error);
}
