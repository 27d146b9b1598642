//! Issue 2: bad input and failures give clear errors for the right refId, with Grafana's status
//! and error source, and never fail the other queries of the request.

use std::collections::HashMap;

use grafana_plugin_sdk::pluginv2;
use serde_json::json;

use crate::engine::engine;
use crate::host::{Host, Q, datasource, datasource_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_error_mixed_with_good_queries() {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_for(e, "default");
    let mut answers = host
        .query(
            &ds,
            vec![
                Q::sql("good", "SELECT 42 AS answer"),
                Q::sql("syntax", "SELEC 1"),
                Q::sql("missing", "SELECT * FROM no_such_table_lantern"),
                Q::json("format", json!({"rawSql": "SELECT 1", "format": "pie"})),
                Q::json("empty", json!({"rawSql": ""})),
            ],
        )
        .await;
    let good = answers.remove("good").unwrap();
    assert_eq!(good.frame().field("answer").values, vec![json!(42)]);

    let syntax = answers.remove("syntax").unwrap();
    assert_eq!(
        (syntax.status, syntax.error_source.as_str()),
        (400, "downstream")
    );
    assert!(
        syntax
            .error
            .starts_with("ClickHouse error 62 (SYNTAX_ERROR): Syntax error"),
        "{}",
        syntax.error
    );
    assert!(syntax.frames.is_empty());

    let missing = answers.remove("missing").unwrap();
    assert_eq!(
        (missing.status, missing.error_source.as_str()),
        (404, "downstream")
    );
    assert!(
        missing
            .error
            .contains("ClickHouse error 60 (UNKNOWN_TABLE)"),
        "{}",
        missing.error
    );

    let format = answers.remove("format").unwrap();
    assert_eq!(format.status, 400);
    assert!(
        format.error.contains("unknown format \"pie\""),
        "{}",
        format.error
    );

    let empty = answers.remove("empty").unwrap();
    assert_eq!(empty.status, 400);
    assert!(empty.error.contains("no SQL"), "{}", empty.error);
}

/// A query whose JSON is not JSON fails alone (the SDK's typed path would fail the whole call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_fails_only_its_ref_id() {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_for(e, "default");
    let query = |ref_id: &str, json: &[u8]| pluginv2::DataQuery {
        ref_id: ref_id.into(),
        json: json.to_vec(),
        time_range: Some(pluginv2::TimeRange {
            from_epoch_ms: 0,
            to_epoch_ms: 1000,
        }),
        ..Default::default()
    };
    let resp = host
        .raw_query(pluginv2::QueryDataRequest {
            plugin_context: Some(pluginv2::PluginContext {
                data_source_instance_settings: Some(ds),
                ..Default::default()
            }),
            headers: HashMap::new(),
            queries: vec![
                query("A", br#"{"rawSql": "SELECT 1 AS one"}"#),
                query("B", b"{\"rawSql\": "),
            ],
        })
        .await;
    let a = &resp.responses["A"];
    assert!(a.error.is_empty() && a.frames.len() == 1, "{a:?}");
    let b = &resp.responses["B"];
    assert!(b.error.starts_with("invalid query JSON"), "{}", b.error);
    assert_eq!((b.status, b.error_source.as_str()), (400, "downstream"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password() {
    let e = engine();
    let host = Host::start().await;
    let (h, port) = e.host();
    let secret = "definitely-wrong-password-7f3a";
    let ds = datasource(
        json!({"host": h, "port": port, "username": e.user}),
        &[("password", secret)],
    );
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!(status, 2, "{message}");
    assert_eq!(details["category"], "auth", "{details}");
    assert_eq!(details["exceptionCode"], 516);
    assert!(
        message.contains("Authentication failed") && message.contains("user name and password"),
        "{message}"
    );
    assert!(!message.contains(secret));

    let mut answers = host.query(&ds, vec![Q::sql("A", "SELECT 1")]).await;
    let a = answers.remove("A").unwrap();
    assert_eq!((a.status, a.error_source.as_str()), (403, "downstream"));
    assert!(a.error.contains("ClickHouse error 516"), "{}", a.error);
    assert!(!a.error.contains(secret));
    assert!(
        host.stderr_lines().iter().all(|l| !l.contains(secret)),
        "the password leaked into the logs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_port() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = Host::start().await;
    let ds = datasource(
        json!({"host": "127.0.0.1", "port": port, "dialTimeout": 2}),
        &[],
    );
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!(status, 2);
    assert_eq!(details["category"], "network", "{details}");
    assert!(
        message.contains(&format!("127.0.0.1:{port}")) && message.contains("host and port"),
        "{message}"
    );

    let mut answers = host.query(&ds, vec![Q::sql("A", "SELECT 1")]).await;
    let a = answers.remove("A").unwrap();
    assert_eq!((a.status, a.error_source.as_str()), (502, "downstream"));
    assert!(
        a.error.starts_with("cannot reach ClickHouse"),
        "{}",
        a.error
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_against_plain_http_port_is_a_tls_error() {
    let e = engine();
    let host = Host::start().await;
    let (h, port) = e.host();
    let ds = datasource(
        json!({"host": h, "port": port, "protocol": "https", "username": e.user}),
        &[("password", &e.password)],
    );
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!(status, 2);
    assert_eq!(details["category"], "tls", "{message} {details}");
    assert!(message.starts_with("TLS error"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_settings_are_config_errors_naming_the_key() {
    let host = Host::start().await;
    let ds = datasource(
        json!({"host": "ch", "port": 9000, "protocol": "native"}),
        &[],
    );
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!(status, 2);
    assert_eq!(details["category"], "config");
    assert!(
        message.contains("`protocol`") && message.contains("HTTP"),
        "{message}"
    );
    let mut answers = host.query(&ds, vec![Q::sql("A", "SELECT 1")]).await;
    let a = answers.remove("A").unwrap();
    assert_eq!((a.status, a.error_source.as_str()), (400, "downstream"));
    assert!(a.error.contains("`protocol`"), "{}", a.error);

    let ds = datasource(json!({"host": "ch", "port": 70000}), &[]);
    let (_, message, _) = host.check_health(&ds).await;
    assert!(
        message.contains("`port`") && message.contains("70000"),
        "{message}"
    );
}

/// Health reports version, user, readonly level and the OTel tables present.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_server_and_otel_tables() {
    let e = engine();
    let db = e.database("health");
    db.exec("CREATE TABLE otel_logs (Timestamp DateTime64(9), Body String) ENGINE = MergeTree ORDER BY Timestamp");
    db.exec("CREATE TABLE otel_traces (Timestamp DateTime64(9), TraceId String) ENGINE = MergeTree ORDER BY Timestamp");
    let host = Host::start().await;
    let ds = datasource_for(e, &db.name);
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!(status, 1, "{message}");
    assert!(
        message.starts_with("Connected to ClickHouse 2"),
        "{message}"
    );
    assert!(message.contains("otel_logs, otel_traces"), "{message}");
    assert_eq!(details["otelTables"], json!(["otel_logs", "otel_traces"]));
    assert_eq!(details["user"], e.user.as_str());
    assert_eq!(details["database"], db.name.as_str());
    assert_eq!(details["profileReadonly"], 0);
    assert_eq!(details["readonly"], 1, "queries run with readonly=1");
    assert_eq!(details["mode"], "read-only (readonly=1)");
}

/// Altinity-style settings (instance URL, basic auth) reach the same server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altinity_url_and_basic_auth() {
    let e = engine();
    let host = Host::start().await;
    let mut ds = datasource(
        json!({"defaultDatabase": "system"}),
        &[("basicAuthPassword", &e.password)],
    );
    ds.url = e.url.clone();
    ds.basic_auth_enabled = true;
    ds.basic_auth_user = e.user.clone();
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!(status, 1, "{message}");
    assert_eq!(details["database"], "system");
}
