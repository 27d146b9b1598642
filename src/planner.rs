//! Turns a query into what runs: the final SQL and the shape of its frames.
//!
//! Raw SQL queries expand their macros and run as written, shaped by `format`. Logs and traces
//! queries (`queryType` `logs-volume`, `logs-context`, `traces`, `trace-search`, or a logs
//! `builder`) need the table's schema: it is read from `system.columns` / `system.tables`
//! (cached per instance for five minutes), classified by [`crate::otel`], and the SQL is built by
//! [`crate::sql::build`]. The `expand` resource shows exactly the SQL planned here, so alerts,
//! Explore and dashboards share it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::chtype::ChType;
use crate::error::QueryError;
use crate::otel::{self, Classified, Column, ColumnRef, RoleOverrides, TableSchema, TimeKind};
use crate::query::{Format, Query, RequestContext};
use crate::service::Instance;
use crate::sql::build::{self, Direction, LogsBuilder, Range, TraceColumns, TraceSearch};
use crate::sql::explore;
use crate::sql::string_literal;

/// What a query runs and how its result becomes frames.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// One table frame (`visualisation`: Grafana's preferred visualisation).
    Table {
        /// SQL.
        sql: String,
        /// `table`, `logs`, `trace`…
        visualisation: &'static str,
    },
    /// Time series frames.
    TimeSeries {
        /// SQL.
        sql: String,
    },
    /// A logs frame.
    Logs {
        /// SQL.
        sql: String,
    },
    /// Log volume: counts per bucket and level as series labelled `level`.
    Volume {
        /// SQL.
        sql: String,
    },
    /// A trace view frame.
    Trace {
        /// SQL.
        sql: String,
    },
}

impl Plan {
    /// The SQL that runs.
    pub fn sql(&self) -> &str {
        match self {
            Plan::Table { sql, .. }
            | Plan::TimeSeries { sql }
            | Plan::Logs { sql }
            | Plan::Volume { sql }
            | Plan::Trace { sql } => sql,
        }
    }
}

/// The log context request (`context` in the query JSON).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContextRequest {
    /// The row's time, epoch nanoseconds (number or string).
    time: Value,
    /// `backward` (older rows) or `forward`.
    direction: Direction,
    /// Rows to return.
    #[serde(default)]
    limit: Option<u64>,
    /// The row's labels (stream identity), e.g. `{"k8s.pod.name": "p-1"}` or `{"PodName": "p-1"}`.
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
}

fn invalid(e: impl std::fmt::Display) -> QueryError {
    QueryError::Invalid(e.to_string())
}

fn field<T: for<'de> Deserialize<'de> + Default>(
    query: &Query,
    key: &str,
) -> Result<T, QueryError> {
    match query.json.get(key) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|e| invalid(format!("field `{key}`: {e}")))
        }
    }
}

/// The query's kind from `queryType` (JSON, else the request's).
fn query_type(query: &Query, request_type: &str) -> String {
    query
        .json
        .get("queryType")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(request_type)
        .to_ascii_lowercase()
}

/// Plans one query.
pub async fn plan(
    instance: &Instance,
    query: &Query,
    req: &RequestContext,
    request_type: &str,
) -> Result<Plan, QueryError> {
    // grafana/clickhouse-datasource's builder panels run their saved (or generated) SQL; the
    // rest of the plan treats them as SQL queries of their format (crate::official).
    let model = crate::official::classify(&query.json).map_err(invalid)?;
    let official;
    let query = match &model {
        crate::official::SavedModel::Official(b) => {
            official = official_query(query, b)?;
            &official
        }
        _ => query,
    };
    let with_columns;
    let query = if query.table_columns.is_none() && query.has_ad_hoc_filters() {
        with_columns = Query {
            table_columns: ad_hoc_columns(instance, query).await?,
            ..query.clone()
        };
        &with_columns
    } else {
        query
    };
    let kind = query_type(query, request_type);
    let builder = model == crate::official::SavedModel::LanternBuilder;
    let range = Range {
        from_ns: req.from_ms.saturating_mul(1_000_000),
        to_ns: req.to_ms.saturating_mul(1_000_000),
    };
    match kind.as_str() {
        "logs-volume" | "logsvolume" => {
            let bucket = build::bucket_seconds(range, req.interval_ms, req.max_data_points);
            if builder {
                let b = builder_with_clicks(query)?;
                let lt = logs_table(instance, &b).await?;
                let sql = build::logs_volume_for_table(&b, lt.target(), range, bucket)
                    .map_err(invalid)?;
                return Ok(Plan::Volume { sql });
            }
            let sql = explore_sql(instance, query, req, true).await?;
            let (described, roles, time) = result_roles(instance, &sql, "log volume").await?;
            let name = |i: Option<usize>| i.map(|i| described[i].0.as_str());
            Ok(Plan::Volume {
                sql: build::logs_volume_for_sql(
                    &sql,
                    &described[time].0,
                    name(roles.severity),
                    name(roles.severity_number),
                    bucket,
                ),
            })
        }
        "logs-context" | "logscontext" => {
            let ctx: ContextRequest = match query.json.get("context") {
                Some(v) => serde_json::from_value(v.clone())
                    .map_err(|e| invalid(format!("field `context`: {e}")))?,
                None => {
                    return Err(invalid(
                        "a logs-context query needs `context: {time, direction, labels}`",
                    ));
                }
            };
            let row_ns = match &ctx.time {
                Value::Number(n) => n
                    .as_i64()
                    .ok_or_else(|| invalid("context.time must be epoch nanoseconds"))?,
                Value::String(s) => s
                    .trim()
                    .parse()
                    .map_err(|_| invalid("context.time must be epoch nanoseconds"))?,
                _ => return Err(invalid("context.time must be epoch nanoseconds")),
            };
            let limit = ctx.limit.unwrap_or(50);
            if builder {
                let b = builder_with_clicks(query)?;
                let lt = logs_table(instance, &b).await?;
                let equal: Vec<(ColumnRef, String)> = lt
                    .roles
                    .context_columns
                    .iter()
                    .filter_map(|c| ctx.labels.get(c.label()).map(|v| (c.clone(), v.clone())))
                    .collect();
                let sql =
                    build::context_for_table(lt.target(), row_ns, ctx.direction, &equal, limit);
                return Ok(Plan::Logs { sql });
            }
            // Raw SQL: the user's query for an hour around the row, wrapped.
            let hour = 3_600_000;
            let around = RequestContext {
                from_ms: row_ns / 1_000_000 - hour,
                to_ms: row_ns / 1_000_000 + hour,
                ..req.clone()
            };
            // Without the query's own row limit: context reads around the row, not the
            // query's first rows.
            let sql = explore::strip_row_limits(&query.expanded_sql(&around)?);
            let (described, roles, time) = result_roles(instance, &sql, "log context").await?;
            let columns: Vec<(String, ChType)> = described
                .iter()
                .map(|(n, _, t)| (n.clone(), t.clone()))
                .collect();
            let equal = explore::stream_conditions(
                &ctx.labels,
                &result_columns(&columns, &roles),
                &roles.labels,
            );
            Ok(Plan::Logs {
                sql: build::context_for_sql(
                    &sql,
                    &described[time].0,
                    row_ns,
                    ctx.direction,
                    &equal,
                    limit,
                ),
            })
        }
        "logs-sample" | "logssample" => logs_sample_plan(instance, query, req, range).await,
        "traces" | "trace" if query.json.get("traceId").is_some() => {
            trace_plan(instance, query).await
        }
        "trace-search" | "tracesearch" => {
            let s: TraceSearch = field(query, "traceSearch")?;
            let (db, table) = traces_table(instance, &s.database, &s.table);
            let schema = table_schema(instance, &db, &table).await?;
            let Some(Classified::Traces(_, roles)) =
                otel::classify(&schema, &RoleOverrides::default())
            else {
                return Err(invalid(format!(
                    "{db}.{table} is not a traces table (no SpanId/SpanName columns)"
                )));
            };
            let time_kind = time_kind_of(&schema, &roles.time);
            let sql = build::trace_search_query(
                &s,
                &db,
                &table,
                &roles,
                time_kind,
                &names(&schema),
                range,
            )
            .map_err(invalid)?;
            Ok(Plan::Table {
                sql,
                visualisation: "table",
            })
        }
        _ if builder => {
            let b = builder_with_clicks(query)?;
            let lt = logs_table(instance, &b).await?;
            Ok(Plan::Logs {
                sql: build::logs_query(&b, lt.target(), range).map_err(invalid)?,
            })
        }
        _ if crate::official::is_annotation(&query.json) => {
            let sql = query.expanded_sql(req)?;
            let cols = instance.connection.describe(&sql).await?;
            Ok(Plan::Table {
                sql: build::annotation_query(&sql, &cols),
                visualisation: "table",
            })
        }
        _ => {
            let sql = explore_sql(instance, query, req, false).await?;
            Ok(match query.format {
                Format::TimeSeries => Plan::TimeSeries { sql },
                Format::Table => Plan::Table {
                    sql,
                    visualisation: "table",
                },
                Format::Logs => Plan::Logs { sql },
                Format::Traces
                    if query
                        .json
                        .get("traceId")
                        .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty())) =>
                {
                    return trace_plan(instance, query).await;
                }
                Format::Traces => Plan::Trace { sql },
            })
        }
    }
}

/// The columns of the table a query's ad hoc filters apply to: the query's `database`/`table`
/// (both models carry them), else the datasource's logs table (`otel_logs` by default). `None`
/// when that table does not exist (keys are then used as written).
async fn ad_hoc_columns(
    instance: &Instance,
    query: &Query,
) -> Result<Option<Vec<crate::macros::Column>>, QueryError> {
    let text = |k: &str| {
        query
            .json
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let logs = &instance.settings.logs;
    let table = text("table")
        .or_else(|| Some(logs.table.clone()).filter(|t| !t.is_empty()))
        .unwrap_or_else(|| "otel_logs".to_owned());
    let database = text("database")
        .or_else(|| Some(logs.database.clone()).filter(|d| !d.is_empty()))
        .unwrap_or_else(|| instance.settings.default_database.clone());
    let schema = table_schema(instance, &database, &table).await?;
    if schema.columns.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        schema
            .columns
            .iter()
            .map(|c| crate::macros::Column {
                name: c.name.clone(),
                type_name: c.ty.to_string(),
            })
            .collect(),
    ))
}

/// An official builder query as the SQL query it runs: its saved `rawSql`, or, when that is
/// empty, the SQL its options generate; the saved `format`, or the one its options imply.
fn official_query(
    query: &Query,
    b: &crate::official::OfficialBuilder,
) -> Result<Query, QueryError> {
    let sql = match &b.raw_sql {
        Some(sql) => sql.clone(),
        None => crate::sql::grafana_builder::generate(&b.options).map_err(invalid)?,
    };
    let format = match b.format(query.json.get("format")) {
        0 => Format::TimeSeries,
        1 => Format::Table,
        2 => Format::Logs,
        3 => Format::Traces,
        n => {
            return Err(invalid(format!(
                "unknown format {n}: use 0 (time series), 1 (table), 2 (logs) or 3 (traces)"
            )));
        }
    };
    let mut q = query.clone();
    q.sql = sql;
    q.format = format;
    q.model = crate::query::Model::Grafana;
    Ok(q)
}

/// The columns of a raw SQL query's result (from DESCRIBE) and their logs roles; `what` names
/// the feature for the error when there is no time column.
pub(crate) async fn result_roles(
    instance: &Instance,
    sql: &str,
    what: &str,
) -> Result<
    (
        Vec<(String, arrow_schema::DataType, ChType)>,
        crate::frames::logs::ResultRoles,
        usize,
    ),
    QueryError,
> {
    let cols = instance.connection.describe(sql).await?;
    let described: Vec<(String, arrow_schema::DataType, ChType)> = cols
        .iter()
        .map(|(n, t)| (n.clone(), grafana_type(t), t.clone()))
        .collect();
    let roles = crate::frames::logs::recognise(&described);
    let time = roles
        .time
        .ok_or_else(|| invalid(format!("{what} needs a time column in the query's result")))?;
    Ok((described, roles, time))
}

fn names(schema: &TableSchema) -> Vec<String> {
    schema.columns.iter().map(|c| c.name.clone()).collect()
}

/// The Grafana-side Arrow type a ClickHouse type normalises to (for role recognition before
/// the data is fetched).
fn grafana_type(t: &ChType) -> arrow_schema::DataType {
    use arrow_schema::DataType as D;
    match t.base() {
        ChType::Date | ChType::Date32 | ChType::DateTime(_) | ChType::DateTime64(..) => {
            D::Timestamp(arrow_schema::TimeUnit::Nanosecond, None)
        }
        ChType::String
        | ChType::FixedString(_)
        | ChType::Enum(_)
        | ChType::Uuid
        | ChType::Ipv4
        | ChType::Ipv6 => D::Utf8,
        ChType::Int(8) => D::Int8,
        ChType::Int(16) => D::Int16,
        ChType::Int(32) => D::Int32,
        ChType::Int(_) => D::Int64,
        ChType::UInt(8) => D::UInt8,
        ChType::UInt(16) => D::UInt16,
        ChType::UInt(32) => D::UInt32,
        ChType::UInt(_) => D::UInt64,
        ChType::Float(_) | ChType::Decimal { .. } => D::Float64,
        ChType::Bool => D::Boolean,
        _ => D::Binary,
    }
}

fn time_kind_of(schema: &TableSchema, col: &str) -> TimeKind {
    match schema.column(col).map(|c| c.ty.base().clone()) {
        Some(ChType::Date | ChType::Date32) => TimeKind::Date,
        Some(ChType::DateTime(_)) => TimeKind::Seconds,
        Some(ChType::DateTime64(p, _)) => TimeKind::Precise(p),
        _ => TimeKind::Precise(9),
    }
}

/// A resolved logs table: where it is, its schema and roles.
pub(crate) struct ResolvedLogs {
    pub(crate) db: String,
    pub(crate) table: String,
    columns: Vec<String>,
    pub(crate) roles: otel::LogRoles,
    time_kind: TimeKind,
}

impl ResolvedLogs {
    pub(crate) fn target(&self) -> build::LogsTable<'_> {
        build::LogsTable {
            database: &self.db,
            table: &self.table,
            roles: &self.roles,
            time_kind: self.time_kind,
            columns: &self.columns,
        }
    }
}

/// The builder's table: its schema, classification and roles (with datasource and query overrides).
pub(crate) async fn logs_table(
    instance: &Instance,
    b: &LogsBuilder,
) -> Result<ResolvedLogs, QueryError> {
    let defaults = &instance.settings.logs;
    let db = [
        b.database.as_str(),
        defaults.database.as_str(),
        instance.settings.default_database.as_str(),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or("")
    .to_owned();
    let table = [b.table.as_str(), defaults.table.as_str()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("otel_logs")
        .to_owned();
    let schema = table_schema(instance, &db, &table).await?;
    match otel::classify(&schema, &b.columns.or(&defaults.overrides)) {
        Some(Classified::Logs(_, roles)) => {
            let time_kind = time_kind_of(&schema, &roles.time);
            Ok(ResolvedLogs {
                db,
                table,
                columns: names(&schema),
                roles,
                time_kind,
            })
        }
        _ => Err(invalid(format!(
            "{}{table} is not a logs table: it needs a time column and a body/message column (or set them in the datasource's logs settings)",
            if db.is_empty() {
                String::new()
            } else {
                format!("{db}.")
            }
        ))),
    }
}

fn traces_table(instance: &Instance, database: &str, table: &str) -> (String, String) {
    let defaults = &instance.settings.traces;
    let db = [
        database,
        defaults.database.as_str(),
        instance.settings.default_database.as_str(),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or("")
    .to_owned();
    let table = [table, defaults.table.as_str()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("otel_traces")
        .to_owned();
    (db, table)
}

/// A trace by id, bounded by the `<table>_trace_id_ts` lookup when it exists and knows the id.
async fn trace_plan(instance: &Instance, query: &Query) -> Result<Plan, QueryError> {
    let trace_id = query
        .json
        .get("traceId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned();
    if trace_id.is_empty() {
        return Err(invalid("a traces query needs `traceId`"));
    }
    let s: TraceSearch = field(query, "traceSearch")?;
    let (db, table) = traces_table(instance, &s.database, &s.table);
    let schema = table_schema(instance, &db, &table).await?;
    let Some(Classified::Traces(_, roles)) = otel::classify(&schema, &RoleOverrides::default())
    else {
        return Err(invalid(format!(
            "{db}.{table} is not a traces table (no SpanId/SpanName columns)"
        )));
    };
    let lookup = format!("{table}_trace_id_ts");
    let lookup_schema = table_schema(instance, &db, &lookup).await?;
    let mut bounds = None;
    if ["TraceId", "Start", "End"]
        .iter()
        .all(|c| lookup_schema.column(c).is_some())
    {
        let rows = instance
            .connection
            .json_rows(&build::trace_bounds_query(&db, &lookup, &trace_id))
            .await?;
        if let Some(row) = rows.first() {
            let num = |i: usize| {
                row.get(i)
                    .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
                    .unwrap_or(0)
            };
            // No rows for the id (the view can lag): fall back to the unbounded lookup.
            if num(2) > 0 && num(0) > 0 {
                bounds = Some((num(0), num(1)));
            }
        }
    }
    let cols = TraceColumns {
        present: names(&schema),
    };
    Ok(Plan::Trace {
        sql: build::trace_query(&db, &table, &roles, &cols, &trace_id, bounds),
    })
}

const SCHEMA_TTL: Duration = Duration::from_secs(300);

/// A table's schema from `system.columns` and `system.tables`, cached per instance.
pub async fn table_schema(
    instance: &Instance,
    database: &str,
    table: &str,
) -> Result<Arc<TableSchema>, QueryError> {
    let key = (database.to_owned(), table.to_owned());
    if let Some((at, schema)) = instance
        .schemas
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        && at.elapsed() < SCHEMA_TTL
    {
        crate::metrics::global().cache_hit(crate::metrics::Cache::Schema);
        return Ok(schema.clone());
    }
    crate::metrics::global().cache_miss(crate::metrics::Cache::Schema);
    let db = if database.is_empty() {
        "currentDatabase()".to_owned()
    } else {
        string_literal(database)
    };
    let t = string_literal(table);
    let conn = &instance.connection;
    let columns_sql = format!(
        "SELECT name, type, default_kind FROM system.columns WHERE database = {db} AND table = {t} ORDER BY position"
    );
    let tables_sql = format!(
        "SELECT {} FROM system.tables WHERE database = {db} AND name = {t}",
        otel::engine::TABLE_COLUMNS
    );
    let (columns, tables) = tokio::join!(conn.json_rows(&columns_sql), conn.json_rows(&tables_sql));
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
    let tables = tables?;
    let own = otel::engine::TableRow::from_json(tables.first().map_or(&[][..], |r| &r[..]));
    let keys = storage_keys(conn.as_ref(), &own).await;
    let schema = Arc::new(TableSchema {
        database: own.database.clone(),
        table: table.to_owned(),
        columns: columns?
            .iter()
            .map(|r| Column {
                name: text(r.first()),
                ty: ChType::parse(&text(r.get(1))),
                default_kind: text(r.get(2)),
            })
            .collect(),
        keys_from: if keys == own {
            String::new()
        } else {
            keys.qualified_name()
        },
        partition_key: keys.partition_key,
        sorting_key: keys.sorting_key,
        primary_key: keys.primary_key,
    });
    instance
        .schemas
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, (Instant::now(), schema.clone()));
    Ok(schema)
}

/// The keys that prune reads of `own`: its own, or for a `Distributed`/`Merge` table those of
/// the table that stores its rows (followed up to [`otel::engine::MAX_HOPS`] tables). A table
/// that cannot be followed keeps its own (empty) keys, with a warning: the time filter still
/// applies, only pruning by key is lost.
async fn storage_keys(
    conn: &dyn crate::upstream::Upstream,
    own: &otel::engine::TableRow,
) -> otel::engine::TableRow {
    let mut row = own.clone();
    for _ in 0..otel::engine::MAX_HOPS {
        let next = match row.underlying() {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(table = %row.qualified_name(), error = %e, "keys of the underlying table unknown");
                break;
            }
        };
        match conn.json_rows(&next.lookup_sql()).await {
            Ok(rows) if !rows.is_empty() => row = otel::engine::TableRow::from_json(&rows[0]),
            Ok(_) => {
                tracing::warn!(table = %row.qualified_name(), underlying = ?next, "the underlying table is not on this server; its keys are unknown");
                break;
            }
            Err(e) => {
                tracing::warn!(table = %row.qualified_name(), error = %e, "cannot read the underlying table's keys");
                break;
            }
        }
    }
    if row.underlying().is_ok_and(|u| u.is_some()) {
        // Still a Distributed/Merge table: it has no keys, so its own (empty) ones stand.
        return own.clone();
    }
    row
}

/// Reads a table's classification for the `schema` resource.
pub async fn describe_table(
    instance: &Instance,
    database: &str,
    table: &str,
) -> Result<Value, QueryError> {
    let schema = table_schema(instance, database, table).await?;
    if schema.columns.is_empty() {
        return Err(QueryError::Upstream {
            code: 60,
            name: Some("UNKNOWN_TABLE".into()),
            message: format!("table {database}.{table} does not exist"),
        });
    }
    let cls = otel::classify(&schema, &instance.settings.logs.overrides);
    Ok(match cls {
        Some(Classified::Logs(g, r)) => serde_json::json!({
            "kind": "logs", "generation": g.name(), "time": r.time,
            "keyTimes": r.key_times.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>(),
            "keysFrom": schema.keys_from,
            "body": r.body, "severityText": r.severity_text, "severityNumber": r.severity_number,
            "service": r.service, "traceId": r.trace_id, "spanId": r.span_id, "maps": r.maps,
            "labelColumns": r.label_columns,
            "contextColumns": r.context_columns.iter().map(build::column_ref).collect::<Vec<_>>(),
        }),
        Some(Classified::Traces(g, r)) => serde_json::json!({
            "kind": "traces", "generation": g.name(), "time": r.time, "duration": r.duration,
            "keyTimes": r.key_times.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>(),
            "keysFrom": schema.keys_from,
        }),
        None => serde_json::json!({"kind": "other"}),
    })
}

// ---- Explore (issue 10): filters from a click, row limits off for volume/context, logs sample.
// The SQL is composed in `sql::explore`; these are the planner's hooks into it.

/// Rows of a `logs-sample` supplementary query.
const LOGS_SAMPLE_ROWS: u64 = 100;

/// The query's logs builder with its click filters (`filters`) applied: attribute and column keys
/// become builder filters (so they apply before the builder's row limit), `level` a level filter.
pub(crate) fn builder_with_clicks(query: &Query) -> Result<LogsBuilder, QueryError> {
    let mut b: LogsBuilder = field(query, "builder")?;
    for c in explore::parse_click_filters(query.json.get("filters")).map_err(invalid)? {
        let include = c.op == explore::ClickOp::Equal;
        if c.key.eq_ignore_ascii_case("level") {
            b.level_filters.push((c.value, include));
        } else {
            b.filters.push(build::Filter {
                key: c.key,
                op: if include { "=" } else { "!=" }.into(),
                value: Value::String(c.value),
                values: Vec::new(),
            });
        }
    }
    Ok(b)
}

/// A raw SQL query's expanded SQL (its row limits taken off when `strip_limits`), wrapped with
/// its click filters (`filters`) resolved against its result's columns.
pub(crate) async fn explore_sql(
    instance: &Instance,
    query: &Query,
    req: &RequestContext,
    strip_limits: bool,
) -> Result<String, QueryError> {
    let mut sql = query.expanded_sql(req)?;
    if strip_limits {
        sql = explore::strip_row_limits(&sql);
    }
    let conditions = click_conditions(instance, query, &sql).await?;
    Ok(explore::wrap_with_conditions(&sql, &conditions))
}

/// The conditions of a raw SQL query's click filters (`filters`), resolved against the columns
/// of `sql`'s result (read with DESCRIBE only when there are filters).
pub(crate) async fn click_conditions(
    instance: &Instance,
    query: &Query,
    sql: &str,
) -> Result<Vec<String>, QueryError> {
    let clicks = explore::parse_click_filters(query.json.get("filters")).map_err(invalid)?;
    if clicks.is_empty() {
        return Ok(Vec::new());
    }
    let columns = instance.connection.describe(sql).await?;
    let described: Vec<(String, arrow_schema::DataType, ChType)> = columns
        .iter()
        .map(|(n, t)| (n.clone(), grafana_type(t), t.clone()))
        .collect();
    let roles = crate::frames::logs::recognise(&described);
    let result = result_columns(&columns, &roles);
    clicks
        .iter()
        .map(|c| {
            let target = explore::resolve_result_key(&c.key, &result).map_err(invalid)?;
            explore::click_condition(c, &target).map_err(invalid)
        })
        .collect()
}

/// A result's columns with the roles click filters and context need.
pub(crate) fn result_columns<'a>(
    columns: &'a [(String, ChType)],
    roles: &crate::frames::logs::ResultRoles,
) -> explore::ResultColumns<'a> {
    explore::ResultColumns {
        columns,
        severity: roles.severity,
        severity_number: roles.severity_number,
        service: roles.service,
        maps: roles.maps.clone(),
    }
}

/// Whether a query is Lantern's logs builder query, by the one rule [`crate::official::classify`]
/// applies (`editorType: lantern-builder`, or an older save with a `builder` object).
pub(crate) fn is_builder(query: &Query) -> bool {
    crate::official::classify(&query.json)
        .is_ok_and(|m| m == crate::official::SavedModel::LanternBuilder)
}

/// `queryType: logs-sample`: a sample of the query's rows in the range (the volume's range).
async fn logs_sample_plan(
    instance: &Instance,
    query: &Query,
    req: &RequestContext,
    range: Range,
) -> Result<Plan, QueryError> {
    if is_builder(query) {
        let mut b = builder_with_clicks(query)?;
        b.limit = Some(LOGS_SAMPLE_ROWS);
        let lt = logs_table(instance, &b).await?;
        return Ok(Plan::Logs {
            sql: build::logs_query(&b, lt.target(), range).map_err(invalid)?,
        });
    }
    let sql = explore_sql(instance, query, req, false).await?;
    Ok(Plan::Logs {
        sql: crate::sql::wrap_subquery(&sql, "*", &format!("LIMIT {LOGS_SAMPLE_ROWS}")),
    })
}
