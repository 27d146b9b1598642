//! Trust in production: read-only by default, caps that cut results, queries that stop on the
//! server when Grafana stops asking, request numbers that cannot end the process.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::engine::{Engine, ShimOptions, engine, start_shim, token};
use crate::host::{Host, Q, datasource_for, datasource_with, request};

/// Every statement that writes or administers, as a user would paste it into a panel.
fn writes(database: &str, table: &str) -> Vec<String> {
    [
        format!("CREATE TABLE {table}_new (x UInt8) ENGINE = Memory"),
        format!("INSERT INTO {table} VALUES (2)"),
        format!("INSERT INTO {table} SELECT 3"),
        format!("ALTER TABLE {table} ADD COLUMN y UInt8"),
        format!("ALTER TABLE {table} DELETE WHERE 1"),
        format!("ALTER TABLE {table} UPDATE x = 0 WHERE 1"),
        format!("TRUNCATE TABLE {table}"),
        format!("RENAME TABLE {table} TO {table}_moved"),
        format!("DROP TABLE {table}"),
        format!("EXCHANGE TABLES {table} AND {table}_other"),
        format!("CREATE VIEW {table}_v AS SELECT 1"),
        "CREATE DATABASE lantern_canary_db".to_owned(),
        format!("DROP DATABASE {database}"),
        "INSERT INTO FUNCTION file('lantern-canary.csv', 'CSV', 'x UInt8') VALUES (1)".to_owned(),
        "SYSTEM DROP DNS CACHE".to_owned(),
        "SYSTEM STOP MERGES".to_owned(),
        "KILL QUERY WHERE 1 ASYNC".to_owned(),
        "/* it's */ kill query where user = currentUser() SYNC".to_owned(),
        "SET readonly = 0".to_owned(),
        "CREATE USER lantern_canary_user".to_owned(),
        "GRANT ALL ON *.* TO default".to_owned(),
        "OPTIMIZE TABLE lantern_canary_t FINAL".to_owned(),
    ]
    .into()
}

fn rows_of(e: &Engine, sql: &str) -> String {
    let (status, body) = e
        .http("POST", "/", sql)
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    assert_eq!(status, 200, "{sql}: {body}");
    body.trim().to_owned()
}

/// With the default settings, every write and admin statement is refused by the server with a
/// 403 that says why; the data is untouched afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_and_admin_statements_are_refused_by_default() {
    let e = engine();
    let db = e.database("readonly");
    db.exec("CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x");
    db.exec("INSERT INTO t VALUES (1)");
    let host = Host::start().await;
    let ds = datasource_for(e, &db.name);
    let statements = writes(&db.name, "t");
    let queries = statements
        .iter()
        .enumerate()
        .map(|(i, sql)| Q::sql(&format!("W{i}"), sql))
        .collect();
    let answers = host.query(&ds, queries).await;
    for (i, sql) in statements.iter().enumerate() {
        let a = &answers[&format!("W{i}")];
        assert_eq!(a.status, 403, "{sql} was not refused: {:?}", a.error);
        assert_eq!(a.error_source, "downstream", "{sql}");
        // Read-only mode says so; access control (CREATE USER, GRANT) refuses on its own.
        assert!(
            a.error.contains("read-only") || a.error.contains("ACCESS_DENIED"),
            "{sql}: {}",
            a.error
        );
    }
    println!(
        "refused {} of {} statements",
        statements.len(),
        statements.len()
    );
    assert_eq!(
        rows_of(e, &format!("SELECT x FROM {}.t", db.name)),
        "1",
        "the table is unchanged"
    );
    let (_, health, details) = host.check_health(&ds).await;
    assert_eq!(details["mode"], "read-only (readonly=1)", "{health}");
}

/// A query's own SETTINGS clause cannot lift a limit the datasource sets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_cannot_lift_the_datasources_limits() {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_with(
        e,
        "default",
        json!({"customSettings": [
            {"setting": "max_result_rows", "value": "5"},
            {"setting": "result_overflow_mode", "value": "throw"}
        ]}),
    );
    let answers = host
        .query(
            &ds,
            vec![
                Q::sql(
                    "LIFT",
                    "SELECT number FROM numbers(10) SETTINGS max_result_rows = 0",
                ),
                Q::sql("PLAIN", "SELECT number FROM numbers(10)"),
                Q::sql("SMALL", "SELECT number FROM numbers(3)"),
            ],
        )
        .await;
    assert_eq!(answers["LIFT"].status, 403, "{}", answers["LIFT"].error);
    assert!(
        answers["PLAIN"].error.contains("396"),
        "the datasource's limit applies: {}",
        answers["PLAIN"].error
    );
    assert_eq!(answers["SMALL"].frame().rows(), 3);
}

/// grafana's `$__adHocFilters` expands to a `SETTINGS additional_table_filters=…` clause, which a
/// readonly=1 request refuses inside the query: Lantern sends that one setting with the request,
/// so ad hoc filters work in the default mode — and nothing else may ride along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_hoc_filters_apply_in_the_default_read_only_mode() {
    let e = engine();
    let db = e.database("adhocro");
    db.exec("CREATE TABLE logs (level String, n UInt8) ENGINE = MergeTree ORDER BY n");
    db.exec("INSERT INTO logs VALUES ('error', 1), ('info', 2), ('error', 3)");
    let host = Host::start().await;
    let ds = datasource_for(e, &db.name);
    let ad_hoc = json!([{"key": "level", "operator": "=", "value": "error"}]);
    let q = |ref_id: &str, sql: &str| {
        Q::json(
            ref_id,
            json!({"refId": ref_id, "rawSql": sql, "format": 1, "adHocFilters": ad_hoc}),
        )
    };
    let answers = host
        .query(
            &ds,
            vec![
                q(
                    "ADHOC",
                    "SELECT n FROM logs ORDER BY n SETTINGS $__adHocFilters('logs')",
                ),
                q(
                    "RIDER",
                    "SELECT n FROM logs SETTINGS $__adHocFilters('logs'), max_result_rows = 0",
                ),
            ],
        )
        .await;
    let a = &answers["ADHOC"];
    assert_eq!(a.status, 200, "{}", a.error);
    assert_eq!(
        a.frame().field("n").values,
        [json!(1), json!(3)],
        "only the error rows"
    );
    // A setting that could lift a limit stays in the query and is refused.
    assert_eq!(answers["RIDER"].status, 403, "{}", answers["RIDER"].error);
}

/// A dashboard's ad hoc filters reach panels whose SQL places no ad hoc macro (both existing
/// plugins apply them there too): never silently dropped. grafana's model applies them to the
/// query's table (`table`, else the datasource's logs table), Altinity's to `database.table`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ad_hoc_filters_apply_to_queries_without_a_macro() {
    let e = engine();
    let db = e.database("adhocimplicit");
    db.exec("CREATE TABLE logs (level String, n UInt8) ENGINE = MergeTree ORDER BY n");
    db.exec("INSERT INTO logs VALUES ('error', 1), ('info', 2), ('error', 3)");
    let host = Host::start().await;
    let ds = datasource_for(e, &db.name);
    let ad_hoc = json!([{"key": "level", "operator": "!=", "value": "error"}]);
    let answers = host
        .query(
            &ds,
            vec![
                Q::json(
                    "GRAFANA",
                    json!({"refId": "GRAFANA", "rawSql": "SELECT n FROM logs ORDER BY n",
                           "format": 1, "table": "logs", "adHocFilters": ad_hoc}),
                ),
                Q::json(
                    "ALTINITY",
                    json!({"refId": "ALTINITY", "query": "SELECT n FROM $table ORDER BY n",
                           "format": "table", "database": db.name, "table": "logs",
                           "adHocFilters": ad_hoc}),
                ),
                // grafana's `table.column` key names the table: no `table` field needed.
                Q::json(
                    "NAMED",
                    json!({"refId": "NAMED", "rawSql": "SELECT n FROM logs ORDER BY n",
                           "format": 1,
                           "adHocFilters": [{"key": "logs.level", "operator": "!=", "value": "error"}]}),
                ),
                Q::json(
                    "BADKEY",
                    json!({"refId": "BADKEY", "rawSql": "SELECT n FROM logs", "format": 1,
                           "table": "logs",
                           "adHocFilters": [{"key": "pod", "operator": "=", "value": "p"}]}),
                ),
            ],
        )
        .await;
    for r in ["GRAFANA", "ALTINITY", "NAMED"] {
        let a = &answers[r];
        assert_eq!(a.status, 200, "{r}: {}", a.error);
        assert_eq!(
            a.frame().field("n").values,
            [json!(2)],
            "{r}: only the info row"
        );
    }
    let bad = &answers["BADKEY"];
    assert_eq!(bad.status, 400, "{}", bad.error);
    assert!(bad.error.contains("`pod`"), "{}", bad.error);

    // Lantern's logs builder: on the builder's table, a dotted OTel key on its attribute map.
    db.exec(
        "CREATE TABLE ologs (Timestamp DateTime64(9), Body String, SeverityText String, \
         ResourceAttributes Map(String, String)) ENGINE = MergeTree ORDER BY Timestamp",
    );
    db.exec(
        "INSERT INTO ologs VALUES (toDateTime64(1700000100, 9), 'a', 'INFO', {'k8s.pod.name': 'p-1'}), \
         (toDateTime64(1700000200, 9), 'b', 'INFO', {'k8s.pod.name': 'p-2'})",
    );
    let builder = |ref_id: &str, filters: Value| {
        Q::json(
            ref_id,
            json!({"refId": ref_id, "editorType": "lantern-builder", "format": 2,
                   "builder": {"database": db.name, "table": "ologs"}, "adHocFilters": filters}),
        )
    };
    let answers = host
        .query(
            &ds,
            vec![
                builder(
                    "POD",
                    json!([{"key": "k8s.pod.name", "operator": "=", "value": "p-2"}]),
                ),
                builder("ALL", json!([])),
            ],
        )
        .await;
    let pod = &answers["POD"];
    assert_eq!(pod.status, 200, "{}", pod.error);
    assert_eq!(pod.frame().field("body").values, [json!("b")]);
    assert_eq!(answers["ALL"].frame().rows(), 2);
}

/// `allowWrites` is the one way to write; health says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_writes_lets_statements_write() {
    let e = engine();
    let db = e.database("writes");
    let host = Host::start().await;
    let ds = datasource_with(e, &db.name, json!({"allowWrites": true, "usePOST": true}));
    let answers = host
        .query(
            &ds,
            vec![Q::sql(
                "A",
                "CREATE TABLE made_by_grafana (x UInt8) ENGINE = Memory",
            )],
        )
        .await;
    assert!(answers["A"].error.is_empty(), "{}", answers["A"].error);
    assert_eq!(
        rows_of(
            e,
            &format!(
                "SELECT count() FROM system.tables WHERE database = '{}' AND name = 'made_by_grafana'",
                db.name
            )
        ),
        "1"
    );
    let (_, message, details) = host.check_health(&ds).await;
    assert_eq!(details["mode"], "read-write");
    assert!(message.contains("WARNING"), "{message}");
    // A migrated Altinity key that does nothing here is named.
    assert_eq!(details["notApplied"][0]["key"], "usePOST", "{details}");
    assert!(
        message.contains("not applied by Lantern: usePOST"),
        "{message}"
    );
}

/// A user whose profile is readonly=1 may send no setting at all (the official plugin's #325):
/// queries still run, customSettings are not sent, writes are refused, health says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readonly_profile_user_runs_queries_without_settings() {
    // The table is made by a read-write server on the same data, then served read-only.
    let dir = std::env::temp_dir().join(format!("lantern-readonly-{}", token()));
    let password = token();
    {
        let rw = start_shim(
            &password,
            &ShimOptions {
                data_dir: Some(dir.clone()),
                ..Default::default()
            },
        );
        rows_of(
            &rw,
            "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x",
        );
        rows_of(&rw, "INSERT INTO t VALUES (1)");
    }
    let e = start_shim(
        &password,
        &ShimOptions {
            readonly: Some("1"),
            data_dir: Some(dir),
            ..Default::default()
        },
    );
    let host = Host::start().await;
    let ds = datasource_with(
        &e,
        "default",
        json!({"customSettings": [{"setting": "max_threads", "value": "1"}]}),
    );
    let statements = writes("default", "t");
    let mut queries = vec![
        Q::sql("READ", "SELECT number FROM numbers(4)"),
        Q::json(
            "LOGS",
            json!({"rawSql": "SELECT now64(9) AS Timestamp, 'x' AS Body", "format": 2}),
        ),
    ];
    queries.extend(
        statements
            .iter()
            .enumerate()
            .map(|(i, sql)| Q::sql(&format!("W{i}"), sql)),
    );
    let answers = host.query(&ds, queries).await;
    assert_eq!(answers["READ"].frame().rows(), 4);
    assert_eq!(answers["LOGS"].frame().rows(), 1);
    for (i, sql) in statements.iter().enumerate() {
        let a = &answers[&format!("W{i}")];
        assert_eq!(a.status, 403, "{sql} was not refused: {:?}", a.error);
    }
    assert_eq!(
        rows_of(&e, "SELECT x FROM t"),
        "1",
        "the table is unchanged"
    );
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!(status, 1, "{message}");
    assert_eq!(details["profileReadonly"], 1);
    assert!(message.contains("readonly=1"), "{message}");
}

/// A scan that runs for minutes unless stopped; `marker` finds it in `system.processes`.
fn endless(marker: &str) -> String {
    format!(
        "SELECT count() FROM numbers(1000000000000) WHERE sipHash64(number, '{marker}') % 7 = 3"
    )
}

/// Waits until no server query mentions `marker`; returns how long that took.
fn gone_after(e: &Engine, marker: &str, started: Instant) -> Duration {
    let sql = format!(
        "SELECT count() FROM system.processes WHERE query LIKE '%{marker}%' AND query NOT LIKE '%system.processes%'"
    );
    let limit = Instant::now() + Duration::from_secs(30);
    loop {
        if rows_of(e, &sql) == "0" {
            return started.elapsed();
        }
        assert!(
            Instant::now() < limit,
            "the server query {marker} still runs 30 s later"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the server runs a query mentioning `marker`.
fn running(e: &Engine, marker: &str) {
    let sql = format!(
        "SELECT count() FROM system.processes WHERE query LIKE '%{marker}%' AND query NOT LIKE '%system.processes%'"
    );
    let limit = Instant::now() + Duration::from_secs(20);
    while rows_of(e, &sql) == "0" {
        assert!(Instant::now() < limit, "{marker} never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// queryTimeout, Grafana's deadline and Grafana's cancel each stop the server's query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_query_stops_when_grafana_stops_asking() {
    let e = engine();
    let host = Host::start().await;
    let mut report = Vec::new();

    // 1. queryTimeout.
    let marker = format!("timeout{}", token());
    let ds = datasource_with(e, "default", json!({"queryTimeout": 1}));
    let started = Instant::now();
    let answers = host.query(&ds, vec![Q::sql("A", &endless(&marker))]).await;
    assert_eq!(answers["A"].status, 504, "{}", answers["A"].error);
    let stopped = Instant::now();
    gone_after(e, &marker, stopped);
    report.push(("queryTimeout", started.elapsed(), stopped.elapsed()));

    // 2. Grafana's deadline for the request (grpc-timeout).
    let marker = format!("deadline{}", token());
    let ds = datasource_for(e, "default");
    let started = Instant::now();
    let req = request(&ds, vec![Q::sql("A", &endless(&marker))], HashMap::new());
    let answer = host.raw_query_deadline(req, Duration::from_secs(1)).await;
    let stopped = Instant::now();
    if let Ok(resp) = &answer {
        assert_eq!(resp.responses["A"].status, 504);
    }
    gone_after(e, &marker, stopped);
    report.push(("deadline", started.elapsed(), stopped.elapsed()));

    // 3. Grafana cancels: the request is dropped while the query runs.
    let marker = format!("cancel{}", token());
    let req = request(&ds, vec![Q::sql("A", &endless(&marker))], HashMap::new());
    let call = host.raw_query(req);
    let e2 = e;
    let m2 = marker.clone();
    let started = Instant::now();
    tokio::select! {
        _ = call => panic!("the endless query finished"),
        _ = tokio::task::spawn_blocking(move || running(e2, &m2)) => {}
    }
    let stopped = Instant::now();
    gone_after(e, &marker, stopped);
    report.push(("cancel", started.elapsed(), stopped.elapsed()));

    for (trigger, total, to_gone) in report {
        println!(
            "{trigger}: server query gone {} ms after the plugin stopped ({} ms in all)",
            to_gone.as_millis(),
            total.as_millis()
        );
    }
}

/// A result over the row cap is cut at the cap with a warning, never an error; a query may
/// lower the cap but never raise it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_cut_at_the_caps_with_a_notice() {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_with(e, "default", json!({"maxResultRows": 1000}));
    let sql = "SELECT number, toString(number) AS s FROM numbers(100000)";
    let answers = host
        .query(
            &ds,
            vec![
                Q::sql("DEFAULT", sql),
                Q::json(
                    "LOWER",
                    json!({"rawSql": sql, "format": 1, "maxResultRows": 10}),
                ),
                Q::json(
                    "RAISE",
                    json!({"rawSql": sql, "format": 1, "maxResultRows": 50000}),
                ),
                Q::json(
                    "LOGS",
                    json!({"rawSql": "SELECT toDateTime64(number, 9) AS Timestamp, toString(number) AS Body FROM numbers(100000)", "format": 2}),
                ),
                Q::json(
                    "SERIES",
                    json!({"rawSql": "SELECT toDateTime(number) AS t, number % 3 AS v FROM numbers(100000)", "format": 0}),
                ),
            ],
        )
        .await;
    for (id, rows) in [
        ("DEFAULT", 1000),
        ("LOWER", 10),
        ("RAISE", 1000),
        ("LOGS", 1000),
    ] {
        let f = answers[id].frame();
        assert_eq!(f.rows(), rows, "{id}");
        let notices = f.meta["notices"].to_string();
        assert!(
            notices.contains("cut at") && notices.contains("warning"),
            "{id}: {notices}"
        );
        assert!(
            f.meta["custom"]["queryId"]
                .as_str()
                .is_some_and(|q| q.starts_with("lantern-")),
            "{id}: the frame names its query_id"
        );
    }
    let series = &answers["SERIES"];
    assert!(series.error.is_empty(), "{}", series.error);
    let points: usize = series.frames.iter().map(|f| f.rows()).sum();
    assert_eq!(points, 1000);

    // The byte cap (1 MiB) cuts wide rows first.
    let ds = datasource_with(e, "default", json!({"maxResultBytes": 1_048_576}));
    let answers = host
        .query(
            &ds,
            vec![Q::sql(
                "WIDE",
                "SELECT number, repeat('x', 1000) AS pad FROM numbers(10000)",
            )],
        )
        .await;
    let f = answers["WIDE"].frame();
    assert!(f.rows() > 0 && f.rows() < 1100, "{} rows", f.rows());
    assert!(f.meta["notices"].to_string().contains("maxResultBytes"));
}

/// Request numbers that once made the process allocate 34 GB (fill over ten years at 1 ms) or
/// 9M points (nullifySparse) now answer, within the caps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_request_numbers_cannot_end_the_process() {
    let e = engine();
    let mut host = Host::start().await;
    let ds = datasource_for(e, "default");
    let ten_years = 10 * 365 * 86_400_000_i64;
    let q = |id: &str, json: Value, interval: i64, points: i64| {
        let mut q = Q::json(id, json);
        q.from_ms = 1_600_000_000_000;
        q.to_ms = q.from_ms + ten_years;
        q.interval_ms = interval;
        q.max_data_points = points;
        q
    };
    let queries = vec![
        q(
            "FILL",
            json!({"rawSql": "SELECT toDateTime(1600000000 + number * 86400) AS t, number AS v FROM numbers(10)", "format": 0, "fill": "zero"}),
            1,
            i64::from(i32::MAX),
        ),
        q(
            "SPARSE",
            json!({"query": "SELECT toUInt64(1600000000000 + number * 1000) AS t, toString(number) AS k, number AS v FROM numbers(3000)", "format": "time_series", "nullifySparse": true}),
            1,
            1000,
        ),
        q(
            "HUGE",
            json!({"rawSql": "SELECT $__timeInterval(t) AS time, count() FROM (SELECT now() AS t) GROUP BY time", "format": 0}),
            i64::MAX,
            i64::MIN,
        ),
        q(
            "NEGATIVE",
            json!({"rawSql": "SELECT 1", "format": 1}),
            -1,
            -5,
        ),
    ];
    let answers = host.query(&ds, queries).await;
    let fill = &answers["FILL"];
    assert!(fill.error.is_empty(), "{}", fill.error);
    assert!(
        fill.frames[0].meta["notices"]
            .to_string()
            .contains("Gaps were not filled"),
        "{:?}",
        fill.frames[0].meta
    );
    let sparse = &answers["SPARSE"];
    assert!(sparse.error.is_empty(), "{}", sparse.error);
    assert!(
        sparse.frames[0].meta["notices"]
            .to_string()
            .contains("nullifySparse was not applied")
    );
    assert!(
        answers["HUGE"].error.is_empty() || answers["HUGE"].status < 500,
        "{}",
        answers["HUGE"].error
    );
    assert_eq!(answers["NEGATIVE"].frame().rows(), 1);
    // The process is still there.
    let (status, message, _) = host.check_health(&ds).await;
    assert_eq!(status, 1, "{message}");
    assert!(host.shutdown().await.success());
}

/// Invalid UTF-8 in a string is shown with replacement characters, not a failed query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_is_shown_lossily() {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_for(e, "default");
    let answers = host
        .query(
            &ds,
            vec![
                Q::sql("T", "SELECT unhex('C328') AS s, 'ok' AS t"),
                Q::json(
                    "L",
                    json!({"rawSql": "SELECT now64(9) AS Timestamp, unhex('66FF6F') AS Body", "format": 2}),
                ),
            ],
        )
        .await;
    let t = answers["T"].frame();
    assert_eq!(t.field("s").values, vec![json!("\u{FFFD}(")]);
    let l = answers["L"].frame();
    assert_eq!(l.field("body").values, vec![json!("f\u{FFFD}o")]);
}
