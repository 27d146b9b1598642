//! The planner without a server: every fact is written by hand, and each test checks which
//! lookups a query needs, in which order, and the plan it gets from them.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::otel::Column;
use crate::settings::InstanceInput;

fn settings(json: &str) -> Settings {
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    v["host"] = json!("ch.example");
    let json = v.to_string();
    Settings::from_instance(&InstanceInput {
        json_data: json.as_bytes(),
        ..Default::default()
    })
    .unwrap()
}

fn req() -> RequestContext {
    RequestContext {
        from_ms: 1_700_000_000_000,
        to_ms: 1_700_003_600_000,
        interval_ms: 60_000,
        max_data_points: 100,
        ..Default::default()
    }
}

fn query(v: serde_json::Value) -> Query {
    Query::parse("A", &serde_json::to_vec(&v).unwrap()).unwrap()
}

fn intent(v: serde_json::Value) -> Intent {
    Intent::parse(&query(v), "").unwrap()
}

fn col(name: &str, ty: &str) -> Column {
    Column {
        name: name.into(),
        ty: ChType::parse(ty),
        default_kind: String::new(),
    }
}

fn schema(table: &str, columns: Vec<Column>, sorting: &str) -> Arc<TableSchema> {
    Arc::new(TableSchema {
        database: "otel".into(),
        table: table.into(),
        columns,
        partition_key: String::new(),
        sorting_key: sorting.into(),
        primary_key: sorting.into(),
        keys_from: String::new(),
    })
}

fn otel_logs() -> Arc<TableSchema> {
    schema(
        "otel_logs",
        vec![
            col("Timestamp", "DateTime64(9)"),
            col("TraceId", "String"),
            col("SpanId", "String"),
            col("SeverityText", "LowCardinality(String)"),
            col("SeverityNumber", "Int32"),
            col("ServiceName", "LowCardinality(String)"),
            col("Body", "String"),
            col("ResourceAttributes", "Map(LowCardinality(String), String)"),
            col("LogAttributes", "Map(LowCardinality(String), String)"),
        ],
        "ServiceName, SeverityText, toUnixTimestamp(Timestamp), TraceId",
    )
}

fn otel_traces() -> Arc<TableSchema> {
    schema(
        "otel_traces",
        vec![
            col("Timestamp", "DateTime64(9)"),
            col("TraceId", "String"),
            col("SpanId", "String"),
            col("ParentSpanId", "String"),
            col("SpanName", "LowCardinality(String)"),
            col("SpanKind", "LowCardinality(String)"),
            col("ServiceName", "LowCardinality(String)"),
            col("Duration", "Int64"),
            col("StatusCode", "LowCardinality(String)"),
            col("SpanAttributes", "Map(LowCardinality(String), String)"),
            col("ResourceAttributes", "Map(LowCardinality(String), String)"),
        ],
        "ServiceName, SpanName, toUnixTimestamp(Timestamp), TraceId",
    )
}

fn trace_lookup_table() -> Arc<TableSchema> {
    schema(
        "otel_traces_trace_id_ts",
        vec![
            col("TraceId", "String"),
            col("Start", "DateTime64(9)"),
            col("End", "DateTime64(9)"),
        ],
        "TraceId, Start",
    )
}

/// Plans `intent` answering each lookup from `known` (by hand), and returns the plan with the
/// lookups in the order they were asked for. A lookup `known` cannot answer fails the test.
fn plan_with(
    intent: &Intent,
    settings: &Settings,
    known: &dyn Fn(&Lookup, &mut Facts) -> bool,
) -> (Result<Plan, QueryError>, Vec<Lookup>) {
    let mut facts = Facts::default();
    let mut asked = Vec::new();
    for _ in 0..8 {
        match plan(intent, settings, &req(), &facts) {
            Ok(p) => return (Ok(p), asked),
            Err(Step::Fail(e)) => return (Err(e), asked),
            Err(Step::Need(l)) => {
                assert!(!asked.contains(&l), "asked twice for {l:?}");
                assert!(known(&l, &mut facts), "unexpected lookup {l:?}");
                asked.push(l);
            }
        }
    }
    panic!("planning did not end: {asked:?}");
}

fn schemas_known(l: &Lookup, facts: &mut Facts) -> bool {
    match l {
        Lookup::Schema { database, table } => {
            let s = match table.as_str() {
                "otel_logs" => otel_logs(),
                "otel_traces" => otel_traces(),
                "otel_traces_trace_id_ts" => trace_lookup_table(),
                _ => schema(table, Vec::new(), ""),
            };
            facts.add_schema(database, table, s);
            true
        }
        _ => false,
    }
}

fn schema_lookup(table: &str) -> Lookup {
    Lookup::Schema {
        database: String::new(),
        table: table.into(),
    }
}

/// Answers DESCRIBE of any SQL with `cols` (name, ClickHouse type); no other lookup.
fn describes(
    cols: &'static [(&'static str, &'static str)],
) -> impl Fn(&Lookup, &mut Facts) -> bool {
    move |l, f| match l {
        Lookup::Describe(sql) => {
            f.add_described(
                sql,
                cols.iter()
                    .map(|(n, t)| ((*n).into(), ChType::parse(t)))
                    .collect(),
            );
            true
        }
        _ => false,
    }
}

#[test]
fn raw_sql_needs_no_lookup() {
    let i = intent(json!({"rawSql": "SELECT 1 AS x WHERE $__timeFilter(t)", "format": 1}));
    let (p, asked) = plan_with(&i, &settings("{}"), &|_, _| false);
    let p = p.unwrap();
    assert!(asked.is_empty());
    assert!(matches!(
        p,
        Plan::Table {
            visualisation: "table",
            ..
        }
    ));
    assert!(p.sql().contains("toDateTime(1700000000)"), "{}", p.sql());
    let (p, _) = plan_with(
        &intent(json!({"rawSql": "SELECT 1", "format": 0})),
        &settings("{}"),
        &|_, _| false,
    );
    assert!(matches!(p.unwrap(), Plan::TimeSeries { .. }));
}

#[test]
fn builder_reads_its_table_then_plans() {
    let i = intent(json!({"editorType": "lantern-builder", "builder": {"minSeverity": "error"}}));
    let (p, asked) = plan_with(&i, &settings("{}"), &schemas_known);
    assert_eq!(asked, [schema_lookup("otel_logs")]);
    let sql = p.unwrap();
    assert!(matches!(sql, Plan::Logs { .. }));
    assert!(sql.sql().contains("otel_logs"), "{}", sql.sql());
    assert!(sql.sql().contains("SeverityNumber"), "{}", sql.sql());
}

#[test]
fn builder_table_comes_from_the_datasource_settings() {
    let i = intent(json!({"editorType": "lantern-builder", "builder": {}}));
    let s = settings(r#"{"logs": {"defaultDatabase": "obs", "defaultTable": "app_logs"}}"#);
    let (p, asked) = plan_with(&i, &s, &|l, f| match l {
        Lookup::Schema { database, table } if database == "obs" && table == "app_logs" => {
            f.add_schema(database, table, otel_logs());
            true
        }
        _ => false,
    });
    assert_eq!(asked.len(), 1);
    let sql = p.unwrap().sql().to_owned();
    assert!(sql.contains("`obs`.`app_logs`"), "{sql}");
}

#[test]
fn a_table_that_is_not_logs_is_an_error_naming_it() {
    let i = intent(json!({"editorType": "lantern-builder", "builder": {"table": "nope"}}));
    let (p, _) = plan_with(&i, &settings("{}"), &schemas_known);
    let e = p.unwrap_err().to_string();
    assert!(e.contains("nope is not a logs table"), "{e}");
}

#[test]
fn volume_of_raw_sql_describes_it_without_its_limit() {
    let i = intent(json!({
        "rawSql": "SELECT Timestamp, Body, SeverityText FROM otel_logs WHERE $__timeFilter(Timestamp) LIMIT 1000",
        "format": 2, "queryType": "logs-volume"
    }));
    let described: std::cell::RefCell<Option<String>> = Default::default();
    let answer = describes(&[
        ("Timestamp", "DateTime64(9)"),
        ("Body", "String"),
        ("SeverityText", "String"),
    ]);
    let (p, asked) = plan_with(&i, &settings("{}"), &|l, f| {
        if let Lookup::Describe(sql) = l {
            *described.borrow_mut() = Some(sql.clone());
        }
        answer(l, f)
    });
    assert_eq!(asked.len(), 1);
    let d = described.into_inner().unwrap();
    assert!(!d.contains("LIMIT 1000"), "{d}");
    let p = p.unwrap();
    assert!(matches!(p, Plan::Volume { .. }));
    assert!(!p.sql().contains("LIMIT 1000"), "{}", p.sql());
    assert!(p.sql().contains("SeverityText"), "{}", p.sql());
}

#[test]
fn volume_without_a_time_column_is_an_error() {
    let i = intent(
        json!({"rawSql": "SELECT Body FROM otel_logs", "format": 2, "queryType": "logs-volume"}),
    );
    let (p, _) = plan_with(&i, &settings("{}"), &describes(&[("Body", "String")]));
    let e = p.unwrap_err().to_string();
    assert!(e.contains("log volume needs a time column"), "{e}");
}

#[test]
fn trace_by_id_is_bounded_by_its_lookup_table() {
    let i = intent(json!({"queryType": "traces", "traceId": "abc", "format": 3}));
    let (p, asked) = plan_with(&i, &settings("{}"), &|l, f| match l {
        Lookup::TraceBounds {
            database,
            table,
            trace_id,
        } => {
            f.add_bounds(
                database,
                table,
                trace_id,
                Some((1_700_000_000, 1_700_000_005)),
            );
            true
        }
        _ => schemas_known(l, f),
    });
    assert_eq!(
        asked,
        [
            schema_lookup("otel_traces"),
            schema_lookup("otel_traces_trace_id_ts"),
            Lookup::TraceBounds {
                database: String::new(),
                table: "otel_traces_trace_id_ts".into(),
                trace_id: "abc".into()
            }
        ]
    );
    let p = p.unwrap();
    assert!(matches!(p, Plan::Trace { .. }));
    assert!(p.sql().contains("toDateTime(1699999999)"), "{}", p.sql());
    assert!(p.sql().contains("'abc'"), "{}", p.sql());
}

#[test]
fn trace_without_a_lookup_table_reads_no_bounds() {
    let i = intent(json!({"queryType": "traces", "traceId": "abc"}));
    let (p, asked) = plan_with(&i, &settings("{}"), &|l, f| match l {
        Lookup::Schema { table, .. } if table == "otel_traces_trace_id_ts" => {
            f.add_schema("", table, schema(table, Vec::new(), ""));
            true
        }
        _ => schemas_known(l, f),
    });
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(!p.unwrap().sql().contains("toDateTime(1699999999)"));
    // The lookup table exists but does not know the id: unbounded too.
    let (p, _) = plan_with(&i, &settings("{}"), &|l, f| match l {
        Lookup::TraceBounds {
            database,
            table,
            trace_id,
        } => {
            f.add_bounds(database, table, trace_id, None);
            true
        }
        Lookup::Schema { table, .. } if table == "otel_traces_trace_id_ts" => {
            f.add_schema("", table, trace_lookup_table());
            true
        }
        _ => schemas_known(l, f),
    });
    assert!(!p.unwrap().sql().contains("toDateTime(1699999999)"));
}

#[test]
fn dotted_ad_hoc_keys_resolve_against_the_table_read_first() {
    let i = intent(json!({
        "rawSql": "SELECT * FROM otel_logs WHERE $__adHocFilters('otel_logs')", "format": 1,
        "adHocFilters": [{"key": "k8s.pod.name", "operator": "=", "value": "p-1"}]
    }));
    let (p, asked) = plan_with(&i, &settings("{}"), &schemas_known);
    assert_eq!(asked, [schema_lookup("otel_logs")]);
    let sql = p.unwrap().sql().to_owned();
    assert!(
        sql.contains(r"ResourceAttributes[\'k8s.pod.name\']"),
        "{sql}"
    );
}

#[test]
fn invalid_queries_fail_before_any_lookup() {
    for (q, want) in [
        (
            json!({"rawSql": "SELECT 1", "queryType": "logs-context"}),
            "needs `context",
        ),
        (
            json!({"rawSql": "SELECT 1", "queryType": "logs-context", "context": {"time": "x", "direction": "backward"}}),
            "epoch nanoseconds",
        ),
        (
            json!({"queryType": "traces", "traceId": "  "}),
            "needs `traceId`",
        ),
        (
            json!({"rawSql": "SELECT 1", "filters": "nope"}),
            "field `filters`",
        ),
        (
            json!({"editorType": "lantern-builder", "builder": {"limit": "many"}}),
            "field `builder`",
        ),
    ] {
        let e = Intent::parse(&query(q.clone()), "")
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{q}: {e}");
    }
}

#[test]
fn context_limit_is_bounded() {
    let i = intent(json!({"rawSql": "SELECT 1", "queryType": "logs-context",
        "context": {"time": "1700000000000000000", "direction": "forward", "limit": 1_000_000_000_000u64}}));
    match i.kind {
        Kind::Context(Source::Sql, c) => {
            assert_eq!(c.limit, MAX_CONTEXT_ROWS);
            assert_eq!(c.row_ns, 1_700_000_000_000_000_000);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn official_builder_panels_plan_as_their_generated_sql() {
    let i = intent(json!({
        "editorType": "builder", "rawSql": "", "format": 1, "queryType": "table",
        "builderOptions": {"database": "otel", "table": "otel_logs", "queryType": "table",
            "mode": "list", "columns": [{"name": "Body"}], "limit": 5}
    }));
    assert_eq!(i.kind, Kind::Sql);
    let (p, asked) = plan_with(&i, &settings("{}"), &|_, _| false);
    assert!(asked.is_empty());
    let sql = p.unwrap().sql().to_owned();
    assert!(
        sql.contains("\"otel\".\"otel_logs\"") || sql.contains("otel.otel_logs"),
        "{sql}"
    );
    assert!(sql.contains("LIMIT 5"), "{sql}");
}

#[test]
fn click_filters_on_raw_sql_resolve_against_its_result() {
    let i = intent(json!({
        "rawSql": "SELECT Timestamp, Body, ServiceName FROM otel_logs", "format": 2,
        "filters": [{"key": "ServiceName", "operator": "=", "value": "api"}]
    }));
    let (p, asked) = plan_with(
        &i,
        &settings("{}"),
        &describes(&[
            ("Timestamp", "DateTime64(9)"),
            ("Body", "String"),
            ("ServiceName", "String"),
        ]),
    );
    assert_eq!(asked.len(), 1);
    let sql = p.unwrap().sql().to_owned();
    assert!(sql.contains("'api'"), "{sql}");
    assert!(sql.starts_with("SELECT"), "{sql}");
    // A key the result does not have is an error naming it, never a no-op.
    let i = intent(json!({
        "rawSql": "SELECT Timestamp, Body FROM otel_logs", "format": 2,
        "filters": [{"key": "nope", "operator": "=", "value": "x"}]
    }));
    let (p, _) = plan_with(
        &i,
        &settings("{}"),
        &describes(&[("Timestamp", "DateTime64(9)")]),
    );
    assert!(p.unwrap_err().to_string().contains("nope"));
}

#[test]
fn ad_hoc_filters_without_a_macro_wrap_the_query_for_its_table() {
    let filters = json!([{"key": "k8s.pod.name", "operator": "=", "value": "p'1"}]);
    let i = intent(json!({
        "rawSql": "SELECT Body FROM otel_logs -- it's mine", "format": 1, "adHocFilters": filters
    }));
    let (p, asked) = plan_with(&i, &settings("{}"), &schemas_known);
    // The key could name a table (`k8s.pod`, `k8s`): those are looked up first.
    assert_eq!(
        asked,
        [
            schema_lookup("otel_logs"),
            Lookup::Schema {
                database: "k8s".into(),
                table: "pod".into()
            },
            schema_lookup("k8s")
        ]
    );
    let sql = p.unwrap().sql().to_owned();
    assert!(sql.starts_with("SELECT * FROM (\nSELECT Body FROM otel_logs -- it's mine\n) SETTINGS additional_table_filters={'otel_logs': "), "{sql}");
    assert!(
        sql.contains(r"ResourceAttributes[\'k8s.pod.name\'] = \'p\\\'1\'"),
        "{sql}"
    );
    // The query's own table (Altinity's database/table fields).
    let i = intent(json!({
        "query": "SELECT count() FROM $table", "database": "obs", "table": "app", "format": "table",
        "adHocFilters": [{"key": "level", "operator": "=", "value": "error"}]
    }));
    let (p, _) = plan_with(&i, &settings("{}"), &|l, f| match l {
        Lookup::Schema { database, table } if database == "obs" && table == "app" => {
            f.add_schema(
                database,
                table,
                schema("app", vec![col("level", "String")], ""),
            );
            true
        }
        _ => false,
    });
    let sql = p.unwrap().sql().to_owned();
    assert!(
        sql.ends_with(r"SETTINGS additional_table_filters={'obs.app': 'level = \'error\''}"),
        "{sql}"
    );
    // A macro places the filters itself: nothing is added.
    let i = intent(json!({
        "rawSql": "SELECT Body FROM otel_logs WHERE 1 SETTINGS $__adHocFilters('otel_logs')",
        "format": 1, "adHocFilters": filters
    }));
    let (p, _) = plan_with(&i, &settings("{}"), &schemas_known);
    assert!(p.unwrap().sql().starts_with("SELECT Body"));
    // A statement that reads no table rows, and a table that does not exist: as written.
    for (sql, table) in [("SHOW TABLES", "otel_logs"), ("SELECT 1", "missing")] {
        let i =
            intent(json!({"rawSql": sql, "format": 1, "table": table, "adHocFilters": filters}));
        let (p, _) = plan_with(&i, &settings("{}"), &schemas_known);
        assert_eq!(p.unwrap().sql(), sql);
    }
    // A key the table cannot resolve is an error naming it, never dropped.
    let i = intent(
        json!({"rawSql": "SELECT 1", "format": 1, "table": "otel_traces",
        "adHocFilters": [{"key": "nope", "operator": "=", "value": "x"}]}),
    );
    let (p, _) = plan_with(&i, &settings("{}"), &schemas_known);
    let e = p.unwrap_err().to_string();
    assert!(e.contains("`nope`"), "{e}");
}

#[test]
fn ad_hoc_filters_apply_to_the_builders_and_trace_search_tables() {
    let filters = json!([{"key": "k8s.pod.name", "operator": "=", "value": "p-1"}]);
    for (q, table) in [
        (
            json!({"editorType": "lantern-builder", "builder": {}, "adHocFilters": filters}),
            "otel_logs",
        ),
        (
            json!({"editorType": "lantern-builder", "builder": {}, "queryType": "logs-volume", "adHocFilters": filters}),
            "otel_logs",
        ),
        (
            json!({"queryType": "trace-search", "traceSearch": {}, "adHocFilters": filters}),
            "otel_traces",
        ),
    ] {
        let (p, asked) = plan_with(&intent(q.clone()), &settings("{}"), &schemas_known);
        // The table read is the one filtered: no lookup of another table for the macros.
        assert!(asked.iter().all(|l| !matches!(l, Lookup::Schema { table: t, .. } if t.starts_with("otel_") && t != table)), "{q}: {asked:?}");
        let sql = p.unwrap().sql().to_owned();
        assert!(
            sql.ends_with(&format!(
                r"SETTINGS additional_table_filters={{'{table}': 'ResourceAttributes[\'k8s.pod.name\'] = \'p-1\''}}"
            )),
            "{q}: {sql}"
        );
    }
}

#[test]
fn ad_hoc_keys_naming_a_table_apply_to_that_table() {
    let requests = || {
        schema(
            "requests",
            vec![col("host", "String"), col("status", "UInt16")],
            "",
        )
    };
    let known = |l: &Lookup, f: &mut Facts| match l {
        Lookup::Schema { database, table } if table == "requests" => {
            f.add_schema(database, table, requests());
            true
        }
        _ => schemas_known(l, f),
    };
    let i = intent(json!({
        "rawSql": "SELECT host FROM requests", "format": 1,
        "adHocFilters": [
            {"key": "requests.status", "operator": ">", "value": "499"},
            {"key": "k8s.pod.name", "operator": "=", "value": "p"}
        ]
    }));
    let (p, _) = plan_with(&i, &settings("{}"), &known);
    let sql = p.unwrap().sql().to_owned();
    assert!(
        sql.ends_with(r"SETTINGS additional_table_filters={'requests': 'status > 499', 'otel_logs': 'ResourceAttributes[\'k8s.pod.name\'] = \'p\''}"),
        "{sql}"
    );
    // A key naming a column the named table lacks is an error naming the key.
    let i = intent(json!({"rawSql": "SELECT 1", "format": 1,
        "adHocFilters": [{"key": "requests.nope", "operator": "=", "value": "x"}]}));
    let (p, _) = plan_with(&i, &settings("{}"), &known);
    let e = p.unwrap_err().to_string();
    assert!(e.contains("`nope`"), "{e}");
}

#[test]
fn a_logs_sample_of_raw_sql_needs_log_lines() {
    let q = |sql: &str| intent(json!({"rawSql": sql, "format": 1, "queryType": "logs-sample"}));
    let (p, _) = plan_with(
        &q("SELECT Timestamp, Body FROM otel_logs"),
        &settings("{}"),
        &describes(&[("Timestamp", "DateTime64(9)"), ("Body", "String")]),
    );
    let p = p.unwrap();
    assert!(matches!(p, Plan::Logs { .. }));
    assert!(p.sql().ends_with(") LIMIT 100"), "{}", p.sql());
    let (p, _) = plan_with(
        &q("SELECT toStartOfMinute(Timestamp) AS t, count() AS c FROM otel_logs GROUP BY t"),
        &settings("{}"),
        &describes(&[("t", "DateTime"), ("c", "UInt64")]),
    );
    let e = p.unwrap_err().to_string();
    assert!(e.contains("a logs sample needs log lines"), "{e}");
    let (p, _) = plan_with(
        &q("SELECT ServiceName, count() FROM otel_logs GROUP BY ServiceName"),
        &settings("{}"),
        &describes(&[("ServiceName", "String"), ("c", "UInt64")]),
    );
    let e = p.unwrap_err().to_string();
    assert!(e.contains("a logs sample needs a time column"), "{e}");
}
