//! Issue 4: time series and alerting — long rows become series Grafana's panels and alert rules
//! read, through the engine and the plugin binary.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::engine::{TestDb, engine};
use crate::grafana_frames::Frame;
use crate::host::{Answer, Host, Q, datasource_for};

const FROM_MS: i64 = 1_704_067_200_000; // 2024-01-01 00:00:00 UTC
const TO_MS: i64 = FROM_MS + 3_600_000;

fn ts_query(ref_id: &str, sql: &str) -> Q {
    let mut q = Q::json(ref_id, json!({"refId": ref_id, "rawSql": sql, "format": 0}));
    q.from_ms = FROM_MS;
    q.to_ms = TO_MS;
    q.interval_ms = 60_000;
    q
}

/// Requests rows per minute for two services over one hour (the 3rd minute of `cart` missing).
fn requests_table(test: &str) -> TestDb {
    let db = engine().database(test);
    db.exec("CREATE TABLE requests (ts DateTime('Asia/Kolkata'), svc LowCardinality(String), ms Float64) ENGINE = MergeTree ORDER BY ts");
    db.exec(
        "INSERT INTO requests SELECT toDateTime('2024-01-01 00:00:00', 'UTC') + number * 30, if(number % 2 = 0, 'api', 'cart'), number \
         FROM numbers(120) WHERE NOT (number % 2 = 1 AND intDiv(number * 30, 60) = 2)",
    );
    db
}

async fn run(db: &TestDb, queries: Vec<Q>) -> HashMap<String, Answer> {
    let host = Host::start().await;
    host.query(&datasource_for(engine(), &db.name), queries)
        .await
}

fn series<'a>(frames: &'a [Frame], label: &str, value: &str) -> &'a Frame {
    frames
        .iter()
        .find(|f| f.fields[1].labels.get(label).map(String::as_str) == Some(value))
        .unwrap_or_else(|| panic!("no series {label}={value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labelled_series_are_multi_frames() {
    let db = requests_table("ts_multi");
    let sql = "SELECT $__timeInterval(ts) AS time, svc, count() AS requests FROM requests \
               WHERE $__timeFilter(ts) GROUP BY time, svc ORDER BY time";
    let mut answers = run(&db, vec![ts_query("A", sql)]).await;
    let a = answers.remove("A").unwrap();
    assert!(a.error.is_empty(), "{}", a.error);
    assert_eq!(a.frames.len(), 2, "one frame per service");
    for f in &a.frames {
        assert_eq!(f.meta["type"], "timeseries-multi");
        assert_eq!(f.meta["typeVersion"], json!([0, 1]));
        assert_eq!(f.ref_id, "A");
        assert_eq!(f.fields.len(), 2);
        assert_eq!(f.fields[0].name, "time");
        assert!(!f.fields[0].nullable);
        assert_eq!(f.fields[1].name, "requests");
        let times: Vec<i64> = f.fields[0]
            .values
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "sorted by time");
        assert!(
            times
                .iter()
                .all(|t| *t >= FROM_MS * 1_000_000 && *t <= TO_MS * 1_000_000)
        );
    }
    let api = series(&a.frames, "svc", "api");
    assert_eq!(
        api.fields[1].config.as_ref().unwrap()["displayNameFromDS"],
        "api"
    );
    assert_eq!(api.rows(), 60);
    assert!(api.fields[1].values.iter().all(|v| v == &json!(1)));
    let cart = series(&a.frames, "svc", "cart");
    assert_eq!(
        cart.rows(),
        59,
        "the missing minute stays a gap without fill"
    );
    // The Kolkata time zone does not move the instants.
    assert_eq!(api.fields[0].values[0], json!(FROM_MS * 1_000_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fill_zero_closes_gaps_on_the_interval_grid() {
    let db = requests_table("ts_fill");
    let sql = "SELECT toStartOfMinute(ts) AS time, svc, count() AS requests FROM requests GROUP BY time, svc ORDER BY time";
    let mut q = ts_query("A", sql);
    q.json["fill"] = json!("zero");
    let mut answers = run(&db, vec![q]).await;
    let a = answers.remove("A").unwrap();
    let cart = series(&a.frames, "svc", "cart");
    // 61 grid points from 00:00 to 01:00 inclusive; minute 2 filled with 0.
    assert_eq!(cart.rows(), 61);
    assert_eq!(cart.fields[1].values[2], json!(0.0));
    assert_eq!(
        cart.fields[0].values[2],
        json!((FROM_MS + 120_000) * 1_000_000)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_labels_is_one_wide_frame_and_datetime64_is_exact() {
    let db = engine().database("ts_wide");
    db.exec("CREATE TABLE m (t9 DateTime64(9, 'UTC'), t3 DateTime64(3), v Float64, ok Bool) ENGINE = Memory");
    db.exec("INSERT INTO m VALUES ('2024-01-01 00:00:00.000000002', '2024-01-01 00:00:00.002', 2, true), ('2024-01-01 00:00:00.000000001', '2024-01-01 00:00:00.001', 1, false)");
    let mut answers = run(
        &db,
        vec![
            ts_query("N", "SELECT t9, v, ok FROM m"),
            ts_query("M", "SELECT t3, v FROM m"),
        ],
    )
    .await;
    let n = answers.remove("N").unwrap();
    let f = n.frame();
    assert_eq!(f.meta["type"], "timeseries-wide");
    assert_eq!(
        f.field("t9").values,
        vec![
            json!(1_704_067_200_000_000_001i64),
            json!(1_704_067_200_000_000_002i64)
        ]
    );
    assert_eq!(f.field("v").values, vec![json!(1.0), json!(2.0)]);
    assert_eq!(f.field("ok").values, vec![json!(false), json!(true)]);
    let m = answers.remove("M").unwrap();
    assert_eq!(
        m.frame().field("t3").values,
        vec![
            json!(1_704_067_200_001_000_000i64),
            json!(1_704_067_200_002_000_000i64)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_result_is_no_data_and_duplicates_are_errors() {
    let db = requests_table("ts_empty");
    let mut answers = run(
        &db,
        vec![
            ts_query(
                "E",
                "SELECT ts AS time, svc, ms FROM requests WHERE svc = 'nobody'",
            ),
            ts_query(
                "D",
                "SELECT toStartOfHour(ts) AS time, svc, ms FROM requests",
            ),
            ts_query("T", "SELECT svc, count() FROM requests GROUP BY svc"),
        ],
    )
    .await;
    let e = answers.remove("E").unwrap();
    assert!(e.error.is_empty(), "{}", e.error);
    assert_eq!(e.frames.len(), 1);
    assert!(e.frames[0].fields.is_empty(), "no-data frame has no fields");
    assert_eq!(e.frames[0].meta["type"], "timeseries-multi");
    let d = answers.remove("D").unwrap();
    assert_eq!((d.status, d.error_source.as_str()), (400, "downstream"));
    assert!(
        d.error.contains("same time") && d.error.contains("svc="),
        "{}",
        d.error
    );
    let t = answers.remove("T").unwrap();
    assert_eq!(t.status, 400);
    assert!(t.error.contains("time column"), "{}", t.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altinity_columns_group_array_one_series_per_key() {
    let db = requests_table("ts_groupArr");
    let q = json!({
        "refId": "A", "query": "$columns(svc, count() c) FROM $table", "format": "time_series",
        "database": db.name, "table": "requests", "dateTimeType": "DATETIME", "dateTimeColDataType": "ts",
        "dateColDataType": "", "round": "0s", "intervalFactor": 1, "extrapolate": false
    });
    let mut query = Q::json("A", q);
    query.from_ms = FROM_MS;
    query.to_ms = TO_MS;
    query.interval_ms = 60_000;
    let mut answers = run(&db, vec![query]).await;
    let a = answers.remove("A").unwrap();
    assert!(a.error.is_empty(), "{}", a.error);
    let names: Vec<&str> = a.frames.iter().map(|f| f.fields[1].name.as_str()).collect();
    assert_eq!(
        names,
        ["api", "cart"],
        "{:?}",
        a.frames
            .iter()
            .map(|f| f.executed_sql())
            .collect::<Vec<_>>()
    );
    let api = &a.frames[0];
    assert_eq!(
        api.fields[1].config.as_ref().unwrap()["displayNameFromDS"],
        "api"
    );
    assert_eq!(api.rows(), 60);
    assert_eq!(
        api.fields[1].values[0],
        json!(1.0),
        "one api row per minute"
    );
    assert!(
        api.executed_sql().contains("groupArray"),
        "{}",
        api.executed_sql()
    );
}

/// Grafana alerting sends the rule's queries with the FromAlert header; every shape must come back
/// as numeric series with labels (or as no data), with macros expanded in the backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_rule_queries() {
    let db = requests_table("ts_alert");
    let host = Host::start().await;
    let ds = datasource_for(engine(), &db.name);
    let mut headers = HashMap::new();
    headers.insert("FromAlert".to_owned(), "true".to_owned());
    headers.insert("X-Rule-Uid".to_owned(), "rule-1".to_owned());
    let mut altinity = Q::json(
        "ALT",
        json!({"refId": "ALT", "query": "SELECT $timeSeries AS t, count() FROM $table WHERE $timeFilter GROUP BY t ORDER BY t",
               "format": "time_series", "database": db.name, "table": "requests", "dateTimeType": "DATETIME",
               "dateTimeColDataType": "ts", "round": "$step", "extrapolate": false}),
    );
    altinity.from_ms = FROM_MS;
    altinity.to_ms = TO_MS;
    altinity.interval_ms = 60_000;
    let queries = vec![
        ts_query(
            "ONE",
            "SELECT $__timeInterval(ts) AS time, avg(ms) AS latency FROM requests WHERE $__timeFilter(ts) GROUP BY time ORDER BY time",
        ),
        ts_query(
            "MANY",
            "SELECT toStartOfInterval(ts, INTERVAL $__interval_s second) AS time, svc, max(ms) AS worst FROM requests WHERE $__timeFilter_ms(ts) GROUP BY time, svc ORDER BY time",
        ),
        ts_query(
            "NONE",
            "SELECT $__timeInterval(ts) AS time, svc, count() AS c FROM requests WHERE $__timeFilter(ts) AND svc = 'none' GROUP BY time, svc",
        ),
        altinity,
    ];
    let answers = host.query_with_headers(&ds, queries, headers).await;
    let one = &answers["ONE"];
    assert_eq!(one.frame().meta["type"], "timeseries-wide");
    assert_eq!(one.frame().field("latency").rows_numeric(), 60);
    let many = &answers["MANY"];
    assert_eq!(many.frames.len(), 2);
    for f in &many.frames {
        assert!(f.fields[1].labels.contains_key("svc"));
        assert!(f.fields[1].values.iter().all(Value::is_number));
    }
    assert!(answers["NONE"].frames[0].fields.is_empty());
    let alt = &answers["ALT"];
    assert!(alt.error.is_empty(), "{}", alt.error);
    let f = alt.frame();
    assert_eq!(f.rows(), 60);
    assert!(
        f.executed_sql().contains("requests") && !f.executed_sql().contains("$timeFilter"),
        "{}",
        f.executed_sql()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_points() {
    let db = engine().database("ts_100k");
    let sql = "SELECT toDateTime64('2024-01-01 00:00:00', 3, 'UTC') + toIntervalMillisecond(number * 10) AS time, \
               if(number % 2 = 0, 'a', 'b') AS k, number AS v FROM numbers(100000)";
    let mut answers = run(&db, vec![ts_query("A", sql)]).await;
    let a = answers.remove("A").unwrap();
    assert_eq!(a.frames.len(), 2);
    assert_eq!(a.frames.iter().map(Frame::rows).sum::<usize>(), 100_000);
    assert_eq!(series(&a.frames, "k", "b").fields[1].values[0], json!(1));
}

trait Numeric {
    fn rows_numeric(&self) -> usize;
}

impl Numeric for crate::grafana_frames::FieldData {
    fn rows_numeric(&self) -> usize {
        self.values.iter().filter(|v| v.is_number()).count()
    }
}
