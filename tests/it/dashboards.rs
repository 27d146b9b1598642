//! The bundled dashboards (`dashboards/*.json`) against the demo data the main job loads
//! (`provisioning/clickhouse/otel-demo.sql`): every variable query and every panel query runs
//! through the plugin as Grafana would send it (dashboard variables in `templateVars`, "All"
//! selected, the default time range) and must return data of the panel's kind.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::engine::{TestDb, engine, sql_statements};
use crate::host::{Answer, Host, Q, datasource};

const HOUR_MS: i64 = 3_600_000;

/// The demo data, loaded into the test's own database instead of `otel`.
fn demo(db: &TestDb) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("provisioning/clickhouse/otel-demo.sql");
    for stmt in sql_statements(&std::fs::read_to_string(path).unwrap()) {
        if !stmt.contains("CREATE DATABASE") {
            db.exec(&stmt.replace("otel.", &format!("{}.", db.name)));
        }
    }
}

fn dashboards() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboards");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A target as the frontend sends it: the saved query plus the dashboard's variables.
fn query(target: &Value, vars: &Value, now_ms: i64, range_ms: i64) -> Q {
    let mut json = target.clone();
    json["templateVars"] = vars.clone();
    json.as_object_mut().unwrap().remove("datasource");
    Q {
        ref_id: target["refId"].as_str().unwrap().to_owned(),
        json,
        from_ms: now_ms - range_ms,
        to_ms: now_ms,
        // Grafana's interval for a 1 h range on a ~1200 px wide panel.
        interval_ms: (range_ms / 1200).max(1_000),
        max_data_points: 1200,
    }
}

fn range_ms(dashboard: &Value) -> i64 {
    match dashboard["time"]["from"].as_str() {
        Some("now-1h") => HOUR_MS,
        Some("now-6h") => 6 * HOUR_MS,
        other => panic!("unexpected default range {other:?}"),
    }
}

/// Rows over all frames of an answer (no-data frames have none).
fn rows(a: &Answer) -> usize {
    a.frames.iter().map(|f| f.rows()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_dashboards_show_data_for_every_panel() {
    let db = engine().database("dashboards");
    demo(&db);
    let e = engine();
    let (host_name, port) = e.host();
    let ds = datasource(
        json!({"host": host_name, "port": port, "username": e.user, "defaultDatabase": db.name}),
        &[("password", &e.password)],
    );
    let host = Host::start().await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let all = dashboards();
    assert!(
        all.len() >= 2,
        "bundled dashboards: {:?}",
        all.iter().map(|d| &d.0).collect::<Vec<_>>()
    );
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for (file, d) in &all {
        assert!(
            manifest["includes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["path"] == format!("dashboards/{file}")),
            "{file} is listed in plugin.json includes"
        );
        let range = range_ms(d);
        // Variables, as Grafana resolves them: query variables run their query (here with
        // "All" selected), text boxes keep their default.
        let mut vars = serde_json::Map::new();
        for v in d["templating"]["list"].as_array().unwrap() {
            let name = v["name"].as_str().unwrap();
            match v["type"].as_str().unwrap() {
                "datasource" => assert_eq!(v["query"], "lantern-clickhouse-datasource"),
                "query" => {
                    let mut target = v["query"].clone();
                    target["refId"] = json!(name);
                    let mut answers = host
                        .query(&ds, vec![query(&target, &json!({}), now_ms, range)])
                        .await;
                    let a = answers.remove(name).unwrap();
                    assert!(a.error.is_empty(), "{file}: variable {name}: {}", a.error);
                    let options: Vec<String> = a.frame().fields[0]
                        .values
                        .iter()
                        .map(|x| x.as_str().unwrap().to_owned())
                        .collect();
                    assert!(!options.is_empty(), "{file}: variable {name} has options");
                    vars.insert(
                        name.into(),
                        json!({"values": options, "text": "All", "multi": v["multi"], "includeAll": v["includeAll"], "allSelected": true}),
                    );
                }
                "textbox" => {
                    vars.insert(
                        name.into(),
                        json!({"values": [v["query"]], "text": v["query"]}),
                    );
                }
                other => panic!("{file}: variable type {other} not covered"),
            }
        }
        let vars = Value::Object(vars);
        let mut kinds = BTreeMap::new();
        for p in d["panels"].as_array().unwrap() {
            let title = p["title"].as_str().unwrap();
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{file}: {title}");
            let targets: Vec<Q> = p["targets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| query(t, &vars, now_ms, range))
                .collect();
            let mut answers = host.query(&ds, targets).await;
            for t in p["targets"].as_array().unwrap() {
                let a = answers.remove(t["refId"].as_str().unwrap()).unwrap();
                assert!(a.error.is_empty(), "{file}: {title}: {}", a.error);
                assert!(rows(&a) > 0, "{file}: {title} shows data");
                let frame_type = a.frames[0].meta["type"].as_str().unwrap_or("").to_owned();
                match p["type"].as_str().unwrap() {
                    "timeseries" => assert!(
                        frame_type.starts_with("timeseries-"),
                        "{file}: {title}: {frame_type}"
                    ),
                    "logs" => {
                        assert_eq!(frame_type, "log-lines", "{file}: {title}");
                        let f = a.frame();
                        assert!(
                            f.field("traceID").config.is_some(),
                            "{file}: {title}: trace link"
                        );
                    }
                    "table" => assert_eq!(a.frames.len(), 1, "{file}: {title}"),
                    other => panic!("{file}: panel type {other} not covered"),
                }
                *kinds
                    .entry(p["type"].as_str().unwrap().to_owned())
                    .or_insert(0) += 1;
            }
        }
        assert!(kinds.len() >= 2, "{file}: {kinds:?}");
    }
}
