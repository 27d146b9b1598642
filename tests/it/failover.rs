//! Issue 12 item 5: several hosts per datasource. Engines of their own (one process each, each
//! table holding a row that names its engine, so every answer tells which host served it) behind
//! one datasource (`host` + `additionalHosts`), through the real plugin.

use std::collections::BTreeMap;

use grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings;
use serde_json::{Value, json};

use crate::engine::{Engine, start_engines};
use crate::host::{Host, Q, datasource};

/// `n` engines, each with `fo.marker` holding one row `engine-<i>`.
fn marked_engines(n: usize) -> Vec<Engine> {
    let engines = start_engines(n);
    for (i, e) in engines.iter().enumerate() {
        e.exec("CREATE DATABASE fo");
        e.exec("CREATE TABLE fo.marker (host String) ENGINE = MergeTree ORDER BY tuple()");
        e.exec(&format!("INSERT INTO fo.marker VALUES ('engine-{i}')"));
    }
    engines
}

/// One datasource over all `engines`: the first as `host`, the others as `additionalHosts`.
fn cluster(engines: &[Engine]) -> DataSourceInstanceSettings {
    let (host, port) = engines[0].host();
    let more: Vec<String> = engines[1..]
        .iter()
        .map(|e| {
            let (h, p) = e.host();
            format!("{h}:{p}")
        })
        .collect();
    datasource(
        json!({
            "host": host, "port": port, "username": engines[0].user,
            "defaultDatabase": "fo", "additionalHosts": more,
        }),
        &[("password", &engines[0].password)],
    )
}

/// Sends `total` queries of `sql`, `per_request` per QueryData call; returns the engines that
/// served them (by the marker each answer carries) and the errors.
async fn run(
    host: &Host,
    ds: &DataSourceInstanceSettings,
    sql: &str,
    total: usize,
    per_request: usize,
) -> (BTreeMap<String, usize>, Vec<(i32, String)>) {
    let mut served = BTreeMap::new();
    let mut errors = Vec::new();
    for batch in 0..total.div_ceil(per_request) {
        let n = per_request.min(total - batch * per_request);
        let queries = (0..n).map(|i| Q::sql(&format!("q{i}"), sql)).collect();
        for (_, answer) in host.query(ds, queries).await {
            if answer.error.is_empty() {
                for v in &answer.frame().field("host").values {
                    *served.entry(v.as_str().unwrap().to_owned()).or_insert(0) += 1;
                }
            } else {
                errors.push((answer.status, answer.error));
            }
        }
    }
    (served, errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_succeeds_with_one_of_three_engines_stopped() {
    let mut engines = marked_engines(3);
    let host = Host::start().await;
    let ds = cluster(&engines);
    let sql = "SELECT host FROM fo.marker";

    // All up: the queries spread over the three.
    let (served, errors) = run(&host, &ds, sql, 30, 5).await;
    assert!(errors.is_empty(), "{errors:?}");
    eprintln!("failover: 30 queries, three engines up: served {served:?}");
    assert_eq!(served.len(), 3, "every engine serves: {served:?}");

    // One stops while the plugin holds pooled connections to it.
    engines[1].stop();
    let (served, errors) = run(&host, &ds, sql, 200, 5).await;
    eprintln!(
        "failover: 200 queries, one of three engines stopped: served {served:?}, failed {}",
        errors.len()
    );
    assert!(
        errors.is_empty(),
        "{} of 200 failed: {errors:?}",
        errors.len()
    );
    assert_eq!(served.values().sum::<usize>(), 200);
    assert_eq!(
        served.get("engine-1"),
        None,
        "the stopped engine served: {served:?}"
    );
    for e in ["engine-0", "engine-2"] {
        let n = served.get(e).copied().unwrap_or(0);
        assert!(
            n >= 50,
            "the engines that are up share the load: {served:?}"
        );
    }

    // Health: OK while one host answers, each host reported.
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!(status, 1, "{message}");
    assert!(message.starts_with("2 of 3 hosts up."), "{message}");
    assert!(
        message.contains(&format!("(down: {})", engines[1].url)),
        "{message}"
    );
    let hosts = details["hosts"].as_array().expect("hosts in details");
    assert_eq!(hosts.len(), 3, "{details}");
    for (i, h) in hosts.iter().enumerate() {
        assert_eq!(h["url"], Value::from(engines[i].url.clone()), "{h}");
        assert_eq!(h["ok"], Value::from(i != 1), "{h}");
        if i == 1 {
            assert!(
                h["error"]
                    .as_str()
                    .unwrap()
                    .starts_with("cannot reach ClickHouse"),
                "{h}"
            );
            assert!(h.get("version").is_none(), "{h}");
        } else {
            assert!(!h["version"].as_str().unwrap().is_empty(), "{h}");
        }
    }

    // All stopped: health fails and names each host.
    engines[0].stop();
    engines[2].stop();
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!(status, 2, "{message}");
    assert!(message.starts_with("0 of 3 hosts up."), "{message}");
    assert_eq!(details["category"], "network", "{details}");
    assert_eq!(details["hosts"].as_array().map(Vec::len), Some(3));
    let (_, errors) = run(&host, &ds, sql, 1, 1).await;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, 502, "{errors:?}");
    assert!(
        errors[0]
            .1
            .starts_with("cannot reach ClickHouse at any of 3 hosts: "),
        "{errors:?}"
    );
}

/// A ClickHouse exception is the query's answer: it comes back once, never from another host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_from_one_host_is_not_retried_on_another() {
    let engines = marked_engines(2);
    // Only engine 0 has this table: on engine 1 the query fails with UNKNOWN_TABLE.
    engines[0].exec("CREATE TABLE fo.only_here (host String) ENGINE = MergeTree ORDER BY tuple()");
    engines[0].exec("INSERT INTO fo.only_here VALUES ('engine-0')");
    let host = Host::start().await;
    let ds = cluster(&engines);

    // One query per request: the data queries alternate between the two hosts.
    let (served, errors) = run(&host, &ds, "SELECT host FROM fo.only_here", 10, 1).await;
    assert_eq!(served.get("engine-0"), Some(&5), "{served:?} {errors:?}");
    assert_eq!(errors.len(), 5, "{errors:?}");
    for (status, error) in &errors {
        assert_eq!(*status, 404, "{error}");
        assert!(error.contains("(UNKNOWN_TABLE)"), "{error}");
    }
    // Both hosts answered, so both stay up.
    let (status, message, _) = host.check_health(&ds).await;
    assert_eq!(status, 1, "{message}");
    assert!(message.starts_with("2 of 2 hosts up."), "{message}");
}
