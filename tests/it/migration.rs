//! Issue 9: the migration corpus (`tests/testdata/migration/`). Dashboards saved by
//! grafana/clickhouse-datasource (`official.json`: SQL editor in every format, builder in every
//! query type and mode, a builder panel without rawSql, v3 builder and v3 SQL queries, query,
//! legacy-string, custom and constant variables, an ad hoc variable (`requests.latency`, applied
//! by that plugin's frontend to every query naming `requests`), a SQL annotation) and by
//! Altinity/clickhouse-grafana
//! (`altinity.json`: `$timeSeries`, `$columns`, multi-value variables, logs, traces, builder editor
//! mode, a query variable with `__text`/`__value`, an `ANNOTATION` query) run through the plugin
//! against `fixture.sql`, unchanged but for the datasource. Every target's frames must equal the
//! frames of the SQL that plugin runs for it, sent as a plain SQL query of the same format:
//! grafana's `rawSql` with its macros and variables expanded as its backend does, and for
//! Altinity the expansion its spec gives (`altinity.expected.json`). Row counts are checked
//! against the engine directly.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::engine::{TestDb, engine, sql_statements};
use crate::grafana_frames::{Frame, Kind};
use crate::host::{Answer, Host, Q, datasource_for};

const FROM_S: i64 = 1_700_000_000;
const TO_S: i64 = FROM_S + 7_200;
const INTERVAL_MS: i64 = 60_000;

fn testdata(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/testdata/migration")
            .join(name),
    )
    .unwrap()
}

fn load(db: &TestDb) {
    for file in ["../otel/traces_current.sql", "fixture.sql"] {
        for stmt in sql_statements(&testdata(file)) {
            db.exec(&stmt);
        }
    }
}

fn dashboard(name: &str, db: &TestDb) -> Value {
    serde_json::from_str(&testdata(name).replace("__DB__", &db.name)).unwrap()
}

/// The dashboard's variables as the frontend sends them (`templateVars`), current values.
fn template_vars(d: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for v in d["templating"]["list"].as_array().unwrap() {
        if v["type"] == "adhoc" {
            continue;
        }
        let current = &v["current"]["value"];
        let values: Vec<Value> = match current {
            Value::Array(a) => a.clone(),
            other => vec![other.clone()],
        };
        out.insert(
            v["name"].as_str().unwrap().to_owned(),
            json!({"values": values, "text": v["current"]["text"], "multi": v["multi"] == true,
                   "includeAll": v["includeAll"] == true}),
        );
    }
    Value::Object(out)
}

/// The filters of the dashboard's ad hoc variable, as the frontend sends them (`adHocFilters`).
fn ad_hoc_filters(d: &Value) -> Option<Value> {
    d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["type"] == "adhoc")
        .map(|v| v["filters"].clone())
}

/// What grafana/clickhouse-datasource's frontend does with a dashboard's ad hoc filters on a
/// query without `$__adHocFilters`: when the SQL names the filters' table (keys `table.column`),
/// it appends `settings additional_table_filters={'table': 'conditions'}`. The corpus' filters
/// are numeric comparisons.
fn grafana_ad_hoc(sql: &str, filters: &Value) -> String {
    let mut table = String::new();
    let conds: Vec<String> = filters
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let (t, column) = f["key"].as_str().unwrap().split_once('.').unwrap();
            table = t.to_owned();
            let value = f["value"].as_str().unwrap();
            assert!(
                value.parse::<f64>().is_ok(),
                "the corpus' ad hoc values are numbers"
            );
            format!("{column} {} {value}", f["operator"].as_str().unwrap())
        })
        .collect();
    let names_table = sql
        .replace('"', "")
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|w| w == table);
    if !names_table {
        return sql.to_owned();
    }
    format!(
        "{sql} settings additional_table_filters={{'{table}': '{}'}}",
        conds.join(" AND ")
    )
}

fn q(ref_id: &str, json: Value) -> Q {
    let mut q = Q::json(ref_id, json);
    q.from_ms = FROM_S * 1000;
    q.to_ms = TO_S * 1000;
    q.interval_ms = INTERVAL_MS;
    q.max_data_points = 120;
    q
}

/// grafana/clickhouse-datasource's expansion of its saved SQL (anchors.md 4, the macros its
/// saved panels use) and of dashboard variables (multi-values `'a','b'`, single values raw).
fn grafana_expand(sql: &str, vars: &Value) -> String {
    let call = |s: &mut String, name: &str, f: &dyn Fn(&str) -> String| {
        while let Some(at) = s.find(&format!("{name}(")) {
            let open = at + name.len() + 1;
            let close = open + s[open..].find(')').unwrap();
            let arg = s[open..close].trim().to_owned();
            s.replace_range(at..=close, &f(&arg));
        }
    };
    let mut s = sql.to_owned();
    call(&mut s, "$__timeFilter", &|c| {
        format!("{c} >= toDateTime({FROM_S}) AND {c} <= toDateTime({TO_S})")
    });
    call(&mut s, "$__timeInterval", &|c| {
        format!(
            "toStartOfInterval(toDateTime({c}), INTERVAL {} second)",
            INTERVAL_MS / 1000
        )
    });
    s = s
        .replace("$__fromTime", &format!("toDateTime({FROM_S})"))
        .replace("$__toTime", &format!("toDateTime({TO_S})"));
    let mut names: Vec<&String> = vars.as_object().unwrap().keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in names {
        let v = &vars[name.as_str()];
        let values: Vec<&str> = v["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        let quoted = values
            .iter()
            .map(|x| format!("'{x}'"))
            .collect::<Vec<_>>()
            .join(",");
        let plain = if v["multi"] == true {
            quoted.clone()
        } else {
            values.join(",")
        };
        s = s
            .replace(&format!("${{{name}:singlequote}}"), &quoted)
            .replace(&format!("${{{name}}}"), &plain)
            .replace(&format!("${name}"), &plain);
    }
    s
}

/// A frame's content for comparison: each field's name, kind, labels and values.
/// One field: name, labels, values.
type FieldContent = (String, BTreeMap<String, String>, Vec<Value>);

fn content(a: &Answer, what: &str) -> Vec<Vec<FieldContent>> {
    assert!(
        a.error.is_empty(),
        "{what}: {} (status {})",
        a.error,
        a.status
    );
    a.frames
        .iter()
        .map(|f: &Frame| {
            f.fields
                .iter()
                .map(|x| (x.name.clone(), x.labels.clone(), x.values.clone()))
                .collect()
        })
        .collect()
}

fn rows_of(a: &Answer) -> usize {
    a.frames.iter().map(Frame::rows).sum()
}

/// Runs every target of a dashboard and its reference SQL; `reference` gives the SQL that plugin
/// runs for a target and the extra keys the plain query needs to be shaped alike.
async fn check_panels(
    db: &TestDb,
    host: &Host,
    ds: &grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings,
    d: &Value,
    reference: &dyn Fn(&str, &Value) -> (String, Value),
) -> usize {
    let vars = template_vars(d);
    let ad_hoc = ad_hoc_filters(d);
    let mut queries = Vec::new();
    let mut cases = Vec::new();
    for panel in d["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let key = format!("{}/{}", panel["id"], t["refId"].as_str().unwrap());
            let mut saved = t.clone();
            saved.as_object_mut().unwrap().remove("datasource");
            saved["templateVars"] = vars.clone();
            if let Some(f) = &ad_hoc {
                saved["adHocFilters"] = f.clone();
            }
            saved["refId"] = json!(format!("{key}/saved"));
            let (sql, mut plain) = reference(&key, t);
            plain["refId"] = json!(format!("{key}/sql"));
            plain["editorType"] = json!("sql");
            plain["rawSql"] = json!(sql);
            plain["format"] = t["format"].clone();
            queries.push(q(&format!("{key}/saved"), saved));
            queries.push(q(&format!("{key}/sql"), plain));
            cases.push((key, sql, panel["title"].as_str().unwrap().to_owned()));
        }
    }
    let answers = host.query(ds, queries).await;

    for (key, sql, title) in &cases {
        let saved = &answers[&format!("{key}/saved")];
        let plain = &answers[&format!("{key}/sql")];
        let theirs = content(plain, &format!("{title} ({key}) reference SQL {sql}"));
        assert_eq!(
            content(saved, &format!("{title} ({key}) as saved")),
            theirs,
            "{title} ({key}): the saved panel's frames differ from those of its SQL\n{sql}"
        );
        // In the datasource's default database, as the plugin runs it (an unqualified
        // `additional_table_filters` key names a table of the current database).
        let direct = db.exec(sql).lines().count();
        assert!(direct > 0, "{title} ({key}): the corpus returns no rows");
        let kind = saved.frames[0]
            .meta
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !kind.starts_with("timeseries") {
            assert_eq!(
                rows_of(saved),
                direct,
                "{title} ({key}): frame rows vs engine rows"
            );
        }
    }
    cases.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_dashboards_run_unchanged() {
    let db = engine().database("migration_official");
    load(&db);
    let ds = datasource_for(engine(), &db.name);
    let d = dashboard("official.json", &db);
    let vars = template_vars(&d);
    let host = Host::start().await;
    // Builder panels without rawSql: what that plugin's editor generates when the panel opens.
    let reference = |_: &str, t: &Value| {
        let raw = t["rawSql"].as_str().unwrap_or("");
        let raw = if raw.is_empty() {
            let o = lantern::official::BuilderOptions::from_json(&t["builderOptions"]).unwrap();
            lantern::sql::grafana_builder::generate(&o).unwrap()
        } else {
            raw.to_owned()
        };
        let ad_hoc = ad_hoc_filters(&d).expect("the corpus has an ad hoc variable");
        (
            grafana_ad_hoc(&grafana_expand(&raw, &vars), &ad_hoc),
            json!({"pluginVersion": "4.20.0"}),
        )
    };
    let n = check_panels(&db, &host, &ds, &d, &reference).await;
    assert_eq!(n, 14);

    // Variables: an object query and a legacy SQL string, both as tables with their columns.
    let mut queries = Vec::new();
    for v in d["templating"]["list"].as_array().unwrap() {
        if v["type"] != "query" {
            continue;
        }
        let name = v["name"].as_str().unwrap();
        let mut target = match &v["query"] {
            Value::String(sql) => json!({"rawSql": sql}),
            other => other.clone(),
        };
        target["refId"] = json!(name);
        target["format"] = json!(1);
        queries.push(q(name, target));
    }
    let anno = d["annotations"]["list"][0]["target"].clone();
    queries.push(q("Anno", anno.clone()));
    let answers = host.query(&ds, queries).await;
    let host_var = answers["host"].frame();
    assert_eq!(
        host_var.field("__value").values,
        vec![json!("api-1"), json!("api-2"), json!("web-1")]
    );
    assert_eq!(host_var.field("__text").values[0], "API-1");
    assert_eq!(answers["status"].frame().fields[0].values.len(), 3);
    // The annotation: Grafana's fields, one per 500 in the range.
    let a = answers["Anno"].frame();
    let expected_rows = engine()
        .exec(&grafana_expand(anno["rawSql"].as_str().unwrap(), &vars))
        .lines()
        .count();
    assert!(expected_rows > 0);
    for f in ["time", "timeEnd", "title", "text", "tags"] {
        assert_eq!(a.field(f).values.len(), expected_rows, "{f}");
    }
    assert_eq!(a.field("time").kind, Kind::Time);
    assert_eq!(a.field("timeEnd").kind, Kind::Time);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altinity_dashboards_run_unchanged() {
    let db = engine().database("migration_altinity");
    load(&db);
    let ds = datasource_for(engine(), &db.name);
    let d = dashboard("altinity.json", &db);
    let expected: Value = serde_json::from_str(&testdata("altinity.expected.json")).unwrap();
    let fill = |sql: &str| {
        sql.replace("{db}", &db.name)
            .replace("{from}", &FROM_S.to_string())
            .replace("{to}", &TO_S.to_string())
    };
    let host = Host::start().await;
    let reference = |key: &str, t: &Value| {
        let sql = expected["targets"][key]
            .as_str()
            .unwrap_or_else(|| panic!("no expected SQL for {key}"));
        (fill(sql), json!({"extrapolate": t["extrapolate"]}))
    };
    let n = check_panels(&db, &host, &ds, &d, &reference).await;
    assert_eq!(n, 6);

    // The query variable (an SQL string in Altinity's model) and the annotation.
    let var = &d["templating"]["list"][0];
    let anno = d["annotations"]["list"][0]["target"].clone();
    let mut anno_q = anno.clone();
    anno_q.as_object_mut().unwrap().remove("datasource");
    let answers = host
        .query(
            &ds,
            vec![
                q(
                    "host",
                    json!({"refId": "host", "query": var["query"], "format": "table"}),
                ),
                q("Anno", anno_q),
            ],
        )
        .await;
    let v = answers["host"].frame();
    assert_eq!(v.field("__value").values[2], "web-1");
    assert_eq!(v.field("__text").values[0], "Host api-1");
    let a = answers["Anno"].frame();
    let engine_rows: Vec<Vec<String>> = engine()
        .exec(&fill(expected["targets"]["Anno"].as_str().unwrap()))
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    assert!(!engine_rows.is_empty());
    assert_eq!(a.field("time").kind, Kind::Time);
    assert_eq!(a.field("timeEnd").kind, Kind::Time);
    // Times decode as epoch nanoseconds.
    let ms = |v: &Value| v.as_i64().map(|ns| ns / 1_000_000);
    for (row, want) in engine_rows.iter().enumerate() {
        assert_eq!(
            ms(&a.field("time").values[row]),
            want[0].parse::<i64>().ok(),
            "time of row {row}"
        );
        assert_eq!(
            ms(&a.field("timeEnd").values[row]),
            want[1].parse::<i64>().ok()
        );
        assert_eq!(a.field("title").values[row], want[2].as_str());
        assert_eq!(a.field("tags").values[row], want[4].as_str());
    }
}
