//! Issue 12 item 6: `CollectMetrics` answers Prometheus text whose counters move by exactly what
//! the queries sent through the real plugin did (ok, error, invalid, timeout, logs, schema cache).
//!
//! The text is read by a small parser written here (not the plugin's renderer), which also
//! checks the format's rules: HELP and TYPE before samples, escaped label values, histogram
//! buckets cumulative up to `+Inf` = `_count`.

use std::collections::{BTreeMap, HashMap};

use serde_json::json;

use crate::engine::{TestDb, engine, sql_statements};
use crate::host::{Host, Q, datasource};

/// A parsed exposition: metric name → type, and series (name + sorted labels) → value.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    types: HashMap<String, String>,
    samples: BTreeMap<String, f64>,
}

impl Exposition {
    pub(crate) fn parse(text: &str) -> Exposition {
        let mut e = Exposition::default();
        let mut helped = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(helped.insert(name.to_owned()), "HELP twice for {name}");
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
                assert!(helped.contains(name), "TYPE {name} before its HELP");
                assert!(
                    e.types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "TYPE twice for {name}"
                );
                continue;
            }
            assert!(!line.starts_with('#') && !line.is_empty(), "line {line:?}");
            let (series, value) = parse_sample(line);
            let name = series.split('{').next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| e.types.get(*f).is_some_and(|t| t == "histogram"))
                })
                .unwrap_or(name);
            assert!(
                e.types.contains_key(family),
                "sample {line:?} before its TYPE"
            );
            assert!(
                e.samples.insert(series, value).is_none(),
                "duplicate series {line:?}"
            );
        }
        e
    }

    pub(crate) fn get(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("no series {series}"))
    }

    /// Every series of `name` (any labels).
    fn family(&self, name: &str) -> Vec<(&String, f64)> {
        self.samples
            .iter()
            .filter(|(s, _)| s.split('{').next() == Some(name))
            .map(|(s, v)| (s, *v))
            .collect()
    }
}

/// One sample line → (`name{k="v",…}` with labels sorted and unescaped, value).
fn parse_sample(line: &str) -> (String, f64) {
    let mut chars = line.char_indices().peekable();
    let mut name = String::new();
    while let Some((_, c)) = chars.peek().copied() {
        if c == '{' || c == ' ' {
            break;
        }
        assert!(
            c.is_ascii_alphanumeric() || c == '_' || c == ':',
            "name char {c:?} in {line:?}"
        );
        name.push(c);
        chars.next();
    }
    let mut labels = BTreeMap::new();
    if chars.peek().map(|(_, c)| *c) == Some('{') {
        chars.next();
        loop {
            match chars.peek().map(|(_, c)| *c) {
                Some('}') => {
                    chars.next();
                    break;
                }
                Some(',') => {
                    chars.next();
                }
                Some(_) => {}
                None => panic!("unterminated labels in {line:?}"),
            }
            let mut key = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "quote in {line:?}");
            let mut value = String::new();
            loop {
                match chars.next().map(|(_, c)| c) {
                    Some('\\') => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => panic!("bad escape {other:?} in {line:?}"),
                    },
                    Some('"') => break,
                    Some(c) => {
                        assert_ne!(c, '\n');
                        value.push(c)
                    }
                    None => panic!("unterminated value in {line:?}"),
                }
            }
            assert!(
                labels.insert(key, value).is_none(),
                "label twice in {line:?}"
            );
        }
    }
    let rest = match chars.next() {
        Some((i, ' ')) => &line[i + 1..],
        other => panic!("no value after {name} ({other:?}) in {line:?}"),
    };
    let value = match rest {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v
            .parse()
            .unwrap_or_else(|_| panic!("value {v:?} in {line:?}")),
    };
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    let series = if labels.is_empty() {
        name
    } else {
        format!("{name}{{{}}}", labels.join(","))
    };
    (series, value)
}

pub(crate) fn queries(e: &Exposition, format: &str, outcome: &str) -> f64 {
    e.get(&format!(
        "lantern_queries_total{{format={format:?},outcome={outcome:?}}}"
    ))
}

fn fixture(db: &TestDb) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata/otel/logs_timestamptime.sql");
    for stmt in sql_statements(&std::fs::read_to_string(path).unwrap()) {
        db.exec(&stmt);
    }
}

/// Checks the histogram rules for every `format` series of the latency histogram.
fn check_histogram(e: &Exposition) {
    assert_eq!(
        e.types
            .get("lantern_query_duration_seconds")
            .map(String::as_str),
        Some("histogram")
    );
    for format in [
        "table",
        "time_series",
        "logs",
        "traces",
        "volume",
        "unknown",
    ] {
        let mut buckets: Vec<(f64, f64)> = e
            .family("lantern_query_duration_seconds_bucket")
            .into_iter()
            .filter(|(s, _)| s.contains(&format!("format={format:?}")))
            .map(|(s, v)| {
                let le = s.split("le=\"").nth(1).unwrap().split('"').next().unwrap();
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                };
                (le, v)
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert!(buckets.len() > 5, "{format}: {buckets:?}");
        assert_eq!(
            buckets.last().unwrap().0,
            f64::INFINITY,
            "{format}: +Inf bucket"
        );
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "{format}: buckets are cumulative: {buckets:?}"
        );
        let count = e.get(&format!(
            "lantern_query_duration_seconds_count{{format={format:?}}}"
        ));
        assert_eq!(buckets.last().unwrap().1, count, "{format}: +Inf = _count");
        let sum = e.get(&format!(
            "lantern_query_duration_seconds_sum{{format={format:?}}}"
        ));
        assert_eq!(
            count == 0.0,
            sum == 0.0,
            "{format}: sum {sum} with count {count}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_metrics_counts_what_queries_did() {
    let db = engine().database("metrics");
    fixture(&db);
    let e = engine();
    let (host_name, port) = e.host();
    let ds = datasource(
        json!({"host": host_name, "port": port, "protocol": if e.is_tls() { "https" } else { "http" },
               "username": e.user, "defaultDatabase": db.name}),
        &[("password", &e.password)],
    );
    // A fresh plugin process: every counter starts at zero.
    let host = Host::start().await;
    let before = Exposition::parse(&host.collect_metrics(None).await);
    for (series, value) in &before.samples {
        if series.starts_with("lantern_build_info") {
            assert_eq!(*value, 1.0);
        } else {
            assert_eq!(*value, 0.0, "{series} before any query");
        }
    }
    assert_eq!(queries(&before, "table", "ok"), 0.0);

    let range = |mut q: Q| {
        q.from_ms = 1_704_067_200_000; // 2024-01-01, the fixture's hour
        q.to_ms = q.from_ms + 3_600_000;
        q
    };
    let builder = json!({"refId": "L", "editorType": "builder", "format": 2,
                         "builder": {"table": "otel_logs", "limit": 1000}});
    let first = host
        .query(
            &ds,
            vec![
                Q::sql("ok", "SELECT number FROM numbers(3)"),
                Q::sql("missing", "SELECT * FROM no_such_table_here"),
                Q::json("invalid", json!({"rawSql": "SELECT 1", "format": "bogus"})),
                range(Q::json(
                    "rawlogs",
                    json!({"rawSql": "SELECT Timestamp, Body, SeverityText FROM otel_logs", "format": 2}),
                )),
                range(Q::json("L", builder.clone())),
            ],
        )
        .await;
    assert_eq!(first["ok"].frame().rows(), 3);
    assert_eq!(first["missing"].status, 404, "{}", first["missing"].error);
    assert_eq!(first["invalid"].status, 400, "{}", first["invalid"].error);
    assert_eq!(first["rawlogs"].frame().rows(), 10);
    assert_eq!(first["L"].frame().meta["type"], "log-lines");
    assert_eq!(first["L"].frame().rows(), 10);
    // The same builder query again: its table schema now comes from the cache.
    let second = host.query(&ds, vec![range(Q::json("L", builder))]).await;
    assert_eq!(second["L"].frame().rows(), 10);

    // A query that outlives the datasource's queryTimeout (1 s).
    let mut slow_ds = ds.clone();
    let mut settings: serde_json::Value = serde_json::from_slice(&slow_ds.json_data).unwrap();
    settings["queryTimeout"] = json!(1);
    slow_ds.json_data = serde_json::to_vec(&settings).unwrap();
    slow_ds.uid.push_str("-slow");
    let slow = host
        .query(&slow_ds, vec![Q::sql("slow", "SELECT sleep(3)")])
        .await;
    assert_eq!(slow["slow"].status, 504, "{}", slow["slow"].error);

    let after = Exposition::parse(&host.collect_metrics(Some(&ds)).await);
    assert_eq!(queries(&after, "table", "ok"), 1.0);
    assert_eq!(
        queries(&after, "table", "error"),
        1.0,
        "raw SQL is planned as a table, then fails"
    );
    assert_eq!(
        queries(&after, "unknown", "error"),
        1.0,
        "an invalid query is never planned"
    );
    assert_eq!(queries(&after, "logs", "ok"), 3.0);
    assert_eq!(queries(&after, "table", "timeout"), 1.0);
    let total: f64 = after
        .family("lantern_queries_total")
        .iter()
        .map(|(_, v)| v)
        .sum();
    assert_eq!(total, 7.0, "every query counted once");
    let errors = |c: &str| after.get(&format!("lantern_query_errors_total{{category={c:?}}}"));
    assert_eq!(errors("server"), 1.0);
    assert_eq!(errors("invalid"), 1.0);
    assert_eq!(errors("timeout"), 1.0);
    let all_errors: f64 = after
        .family("lantern_query_errors_total")
        .iter()
        .map(|(_, v)| v)
        .sum();
    assert_eq!(all_errors, 3.0);
    assert_eq!(after.get("lantern_queries_in_flight"), 0.0);
    // Rows read from ClickHouse: 3 + 10 + 10 + 10; frames out: one per successful query.
    assert_eq!(after.get("lantern_rows_in_total"), 33.0);
    assert_eq!(after.get("lantern_frames_out_total"), 4.0);
    assert!(after.get("lantern_bytes_in_total") > 0.0);
    assert!(after.get("lantern_bytes_out_total") > after.get("lantern_frames_out_total"));
    assert_eq!(
        after.get("lantern_cache_misses_total{cache=\"schema\"}"),
        1.0
    );
    assert_eq!(after.get("lantern_cache_hits_total{cache=\"schema\"}"), 1.0);
    assert_eq!(
        after.get("lantern_query_duration_seconds_count{format=\"logs\"}"),
        3.0
    );
    assert_eq!(
        after.get("lantern_query_duration_seconds_count{format=\"table\"}"),
        3.0
    );
    // The timed-out query lasted at least its 1 s timeout: its observation is above 0.5 s.
    assert!(after.get("lantern_query_duration_seconds_sum{format=\"table\"}") >= 1.0);
    assert!(after.get("lantern_query_duration_seconds_bucket{format=\"table\",le=\"0.5\"}") <= 2.0);
    assert_eq!(
        after.get("lantern_result_caps_hit_total{cap=\"rows\"}"),
        0.0
    );
    check_histogram(&after);
    for (name, kind) in [
        ("lantern_queries_total", "counter"),
        ("lantern_query_errors_total", "counter"),
        ("lantern_queries_in_flight", "gauge"),
        ("lantern_rows_in_total", "counter"),
        ("lantern_bytes_in_total", "counter"),
        ("lantern_bytes_out_total", "counter"),
        ("lantern_frames_out_total", "counter"),
        ("lantern_cache_hits_total", "counter"),
        ("lantern_cache_misses_total", "counter"),
        ("lantern_result_caps_hit_total", "counter"),
        ("lantern_build_info", "gauge"),
    ] {
        assert_eq!(
            after.types.get(name).map(String::as_str),
            Some(kind),
            "{name}"
        );
    }
}

#[test]
fn the_test_parser_reads_escapes_and_rejects_garbage() {
    let (s, v) = parse_sample(r#"m{b="x\"y\\z\nw",a=""} 2.5"#);
    assert_eq!(s, "m{a=\"\",b=\"x\\\"y\\\\z\\nw\"}");
    assert_eq!(v, 2.5);
    assert!(std::panic::catch_unwind(|| parse_sample("m{a=\"x} 1")).is_err());
    assert!(std::panic::catch_unwind(|| parse_sample("m 1 2")).is_err());
}
