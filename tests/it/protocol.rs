//! Issue 2, item 1: the process contract with Grafana's plugin host.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::engine::engine;
use crate::host::{Host, Q, datasource_for};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_hclog_json_on_stderr() {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_for(e, "default");
    host.query(&ds, vec![Q::sql("A", "SELECT 1"), Q::sql("B", "SELEC")])
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lines = host.stderr_lines();
    assert!(
        lines.iter().any(|l| l.contains("lantern plugin serving")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("query failed") && l.contains("\"ref_id\":\"B\"")),
        "{lines:?}"
    );
    for line in &lines {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let level = v["@level"].as_str().expect("@level");
        assert!(
            ["trace", "debug", "info", "warn", "error"].contains(&level),
            "{line}"
        );
        assert!(v["@message"].is_string(), "{line}");
        let ts = v["@timestamp"].as_str().expect("@timestamp");
        assert_eq!(ts.len(), "2006-01-02T15:04:05.000000Z".len(), "{ts}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_shutdown_exits_cleanly() {
    let mut host = Host::start().await;
    let status = host.shutdown().await;
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_exits_cleanly() {
    // Right after the handshake, several times: the handlers must be in place before the
    // handshake line (a stop that raced ahead of them used to kill the process by signal).
    for _ in 0..5 {
        let mut host = Host::start().await;
        let pid = host.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = host.wait_exit(Duration::from_secs(5));
        assert!(status.success(), "{status:?}");
    }
}

#[test]
fn refuses_to_run_outside_grafana() {
    let out = Command::new(env!("CARGO_BIN_EXE_gpx_lantern"))
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "nothing may reach stdout without a handshake"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a Grafana plugin"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_unknown_protocol_versions() {
    let out = Command::new(env!("CARGO_BIN_EXE_gpx_lantern"))
        .env_clear()
        .env("grafana_plugin_type", "datasource")
        .env("PLUGIN_PROTOCOL_VERSIONS", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("version 2"));
}

/// Concurrent queries of one request come back together, each under its refId.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_queries_one_request() {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_for(e, "default");
    let queries = (0..12)
        .map(|i| Q::sql(&format!("Q{i}"), &format!("SELECT {i} AS n")))
        .collect();
    let answers = host.query(&ds, queries).await;
    for i in 0..12 {
        let a = &answers[&format!("Q{i}")];
        assert_eq!(a.frame().field("n").values, vec![serde_json::json!(i)]);
        assert_eq!(a.frame().ref_id, format!("Q{i}"));
    }
}
