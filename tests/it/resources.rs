//! CallResource routes: schema browsing and `expand`.

use serde_json::json;

use crate::engine::engine;
use crate::host::{Host, datasource_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_browsing() {
    let e = engine();
    let db = e.database("resources");
    db.exec("CREATE TABLE logs (ts DateTime, `odd name` String) ENGINE = MergeTree ORDER BY ts");
    let host = Host::start().await;
    let ds = datasource_for(e, &db.name);
    let (code, dbs) = host.resource(&ds, "GET", "databases", b"").await;
    assert_eq!(code, 200);
    assert!(dbs.as_array().unwrap().contains(&json!(db.name)), "{dbs}");
    let (code, tables) = host
        .resource(&ds, "GET", &format!("tables?database={}", db.name), b"")
        .await;
    assert_eq!(code, 200);
    assert_eq!(tables[0]["name"], "logs");
    assert_eq!(tables[0]["engine"], "MergeTree");
    let (code, cols) = host.resource(&ds, "GET", "columns?table=logs", b"").await;
    assert_eq!(code, 200, "{cols}");
    assert_eq!(
        cols,
        json!([{"name": "ts", "type": "DateTime"}, {"name": "odd name", "type": "String"}])
    );
    // A hostile table name is a value, not SQL.
    let (code, cols) = host
        .resource(&ds, "GET", "columns?table=x'%20OR%201%3D1%20--", b"")
        .await;
    assert_eq!((code, cols), (200, json!([])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expand_and_route_errors() {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_for(e, "default");
    let body = json!({"query": {"refId": "A", "rawSql": "SELECT 'it''s' AS x", "format": 1}, "timeRange": {"from": 0, "to": 1000}});
    let (code, v) = host
        .resource(&ds, "POST", "expand", body.to_string().as_bytes())
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["sql"], "SELECT 'it''s' AS x");
    let client = v["client"].as_str().unwrap();
    assert!(
        client.starts_with("clickhouse-client --host '127.0.0.1'"),
        "{client}"
    );
    // The shell reads the quoted SQL back exactly.
    let quoted = client.split_once("--query ").unwrap().1;
    let out = std::process::Command::new("sh")
        .args(["-c", &format!("printf %s {quoted}")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "SELECT 'it''s' AS x");
    assert!(!client.contains(&e.password) || e.password.is_empty());

    let (code, v) = host.resource(&ds, "POST", "expand", b"{}").await;
    assert_eq!(code, 400);
    assert!(v["error"].as_str().unwrap().contains("query"), "{v}");
    let (code, _) = host.resource(&ds, "GET", "expand", b"").await;
    assert_eq!(code, 405);
    let (code, v) = host.resource(&ds, "GET", "nope", b"").await;
    assert_eq!(code, 404);
    assert!(v["error"].as_str().unwrap().contains("unknown resource"));
}

/// `macros` answers the catalogue (the SQL editor's completion) through the real CallResource path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn macros_catalogue_for_completion() {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_for(e, "default");
    let (code, v) = host.resource(&ds, "GET", "macros", b"").await;
    assert_eq!(code, 200, "{v}");
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"$__timeFilter"), "{v}");
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|m| m["dialect"] == "altinity")
    );
    let (code, v) = host.resource(&ds, "POST", "macros", b"").await;
    assert_eq!(code, 405, "{v}");
}
