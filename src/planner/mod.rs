//! Turns a query into what runs: the final SQL and the shape of its frames.
//!
//! Planning is pure. [`Intent::parse`] reads a query's JSON into a typed intent (which kind of
//! query, its builder, context request or trace search, its click filters), validating it before
//! anything runs. [`plan`] turns an intent into a [`Plan`] from the datasource's settings, the
//! request and the [`Facts`] known so far (table schemas, the columns of a SQL text, a trace's
//! time bounds). When it needs a fact it does not have, it answers [`Step::Need`] with the
//! [`Lookup`] to make; [`lookup::plan_query`] makes it (cached, through the instance's
//! [`crate::upstream::Upstream`]) and plans again. So every planning rule is testable with facts
//! written by hand, and all I/O lives in [`lookup`].
//!
//! Raw SQL queries expand their macros and run as written, shaped by `format`. Logs and traces
//! queries (`queryType` `logs-volume`, `logs-context`, `logs-sample`, `traces`, `trace-search`, or
//! Lantern's logs builder) are built from the table's schema, classified by [`crate::otel`], by
//! [`crate::sql::build`]. The `expand` resource shows exactly the SQL planned here, so alerts,
//! Explore and dashboards share it.

pub mod lookup;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::chtype::ChType;
use crate::error::QueryError;
use crate::otel::{self, Classified, ColumnRef, TableSchema, TimeKind};
use crate::query::{Format, Query, RequestContext};
use crate::settings::Settings;
use crate::sql::build::{self, Direction, LogsBuilder, Range, TraceColumns, TraceSearch};
use crate::sql::explore;

pub use lookup::{describe_table, plan_query, table_schema};

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

    /// The SQL that runs, to change.
    pub fn sql_mut(&mut self) -> &mut String {
        match self {
            Plan::Table { sql, .. }
            | Plan::TimeSeries { sql }
            | Plan::Logs { sql }
            | Plan::Volume { sql }
            | Plan::Trace { sql } => sql,
        }
    }
}

// ---- The typed intent.

/// A log context request (`context` in the query JSON), validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextRequest {
    /// The row's time, epoch nanoseconds.
    pub row_ns: i64,
    /// `backward` (older rows) or `forward`.
    pub direction: Direction,
    /// Rows to return.
    pub limit: u64,
    /// The row's labels (stream identity), e.g. `{"k8s.pod.name": "p-1"}` or `{"PodName": "p-1"}`.
    pub labels: BTreeMap<String, String>,
}

/// Rows of a log context answer when the request names none.
const CONTEXT_ROWS: u64 = 50;
/// At most this many context rows.
const MAX_CONTEXT_ROWS: u64 = 10_000;
/// Rows of a `logs-sample` supplementary query.
const LOGS_SAMPLE_ROWS: u64 = 100;

/// The wire form of [`ContextRequest`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawContext {
    time: Value,
    direction: Direction,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

impl ContextRequest {
    fn parse(v: Option<&Value>) -> Result<ContextRequest, QueryError> {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            return Err(invalid(
                "a logs-context query needs `context: {time, direction, labels}`",
            ));
        };
        let raw: RawContext = serde_json::from_value(v.clone())
            .map_err(|e| invalid(format!("field `context`: {e}")))?;
        let bad_time = || invalid("context.time must be epoch nanoseconds");
        let row_ns = match &raw.time {
            Value::Number(n) => n.as_i64().ok_or_else(bad_time)?,
            Value::String(s) => s.trim().parse().map_err(|_| bad_time())?,
            _ => return Err(bad_time()),
        };
        Ok(ContextRequest {
            row_ns,
            direction: raw.direction,
            limit: raw.limit.unwrap_or(CONTEXT_ROWS).clamp(1, MAX_CONTEXT_ROWS),
            labels: raw.labels,
        })
    }
}

/// Where a logs feature (volume, context, sample) reads its rows.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// Lantern's logs builder, with the query's click filters applied.
    Builder(Box<LogsBuilder>),
    /// The query's SQL.
    Sql,
}

/// What a query asks for, typed and validated.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// SQL run as written, shaped by its format (also the official plugin's builder panels).
    Sql,
    /// An annotation query (Grafana's annotation frame).
    Annotation,
    /// Lantern's logs builder.
    Builder(Box<LogsBuilder>),
    /// Log volume.
    Volume(Source),
    /// Log context around one row.
    Context(Source, ContextRequest),
    /// A sample of the query's rows (`logs-sample`).
    Sample(Source),
    /// One trace by id.
    Trace {
        /// The trace id (never empty).
        trace_id: String,
        /// Where the spans are (`traceSearch.database`/`table`).
        search: Box<TraceSearch>,
    },
    /// Trace search.
    TraceSearch(Box<TraceSearch>),
}

/// A query ready to plan: the query (the official plugin's builder panels already turned into
/// the SQL they run), its kind and its click filters.
#[derive(Clone, Debug)]
pub struct Intent {
    /// The query.
    pub query: Query,
    /// Its kind.
    pub kind: Kind,
    /// Explore's filters from a click (`filters`).
    pub clicks: Vec<explore::ClickFilter>,
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

/// The query's `traceId`, trimmed (empty when absent).
fn trace_id(query: &Query) -> String {
    query
        .json
        .get("traceId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_owned()
}

impl Intent {
    /// Reads and validates what `query` asks for; `request_type` is the request's `queryType`.
    pub fn parse(query: &Query, request_type: &str) -> Result<Intent, QueryError> {
        // grafana/clickhouse-datasource's builder panels run their saved (or generated) SQL; the
        // rest of the plan treats them as SQL queries of their format (crate::official).
        let model = crate::official::classify(&query.json).map_err(invalid)?;
        let query = match &model {
            crate::official::SavedModel::Official(b) => official_query(query, b)?,
            _ => query.clone(),
        };
        let clicks = explore::parse_click_filters(query.json.get("filters")).map_err(invalid)?;
        let builder = model == crate::official::SavedModel::LanternBuilder;
        let source = || -> Result<Source, QueryError> {
            Ok(if builder {
                Source::Builder(Box::new(builder_with_clicks(&query, &clicks)?))
            } else {
                Source::Sql
            })
        };
        let kind = match query_type(&query, request_type).as_str() {
            "logs-volume" | "logsvolume" => Kind::Volume(source()?),
            "logs-context" | "logscontext" => {
                Kind::Context(source()?, ContextRequest::parse(query.json.get("context"))?)
            }
            "logs-sample" | "logssample" => Kind::Sample(source()?),
            "traces" | "trace" if query.json.get("traceId").is_some() => trace_kind(&query)?,
            "trace-search" | "tracesearch" => {
                Kind::TraceSearch(Box::new(field(&query, "traceSearch")?))
            }
            _ if builder => Kind::Builder(Box::new(builder_with_clicks(&query, &clicks)?)),
            _ if crate::official::is_annotation(&query.json) => Kind::Annotation,
            _ if query.format == Format::Traces && !trace_id(&query).is_empty() => {
                trace_kind(&query)?
            }
            _ => Kind::Sql,
        };
        Ok(Intent {
            query,
            kind,
            clicks,
        })
    }
}

impl Intent {
    /// Lantern's logs builder of this query, whatever feature (volume, context, sample) asks.
    pub fn logs_builder(&self) -> Option<&LogsBuilder> {
        match &self.kind {
            Kind::Builder(b)
            | Kind::Volume(Source::Builder(b))
            | Kind::Context(Source::Builder(b), _)
            | Kind::Sample(Source::Builder(b)) => Some(b),
            _ => None,
        }
    }
}

fn trace_kind(query: &Query) -> Result<Kind, QueryError> {
    let trace_id = trace_id(query);
    if trace_id.is_empty() {
        return Err(invalid("a traces query needs `traceId`"));
    }
    Ok(Kind::Trace {
        trace_id,
        search: Box::new(field(query, "traceSearch")?),
    })
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

/// The query's logs builder with its click filters applied: attribute and column keys become
/// builder filters (so they apply before the builder's row limit), `level` a level filter.
fn builder_with_clicks(
    query: &Query,
    clicks: &[explore::ClickFilter],
) -> Result<LogsBuilder, QueryError> {
    let mut b: LogsBuilder = field(query, "builder")?;
    for c in clicks {
        let include = c.op == explore::ClickOp::Equal;
        if c.key.eq_ignore_ascii_case("level") {
            b.level_filters.push((c.value.clone(), include));
        } else {
            b.filters.push(build::Filter {
                key: c.key.clone(),
                op: if include { "=" } else { "!=" }.into(),
                value: Value::String(c.value.clone()),
                values: Vec::new(),
            });
        }
    }
    Ok(b)
}

// ---- Facts and lookups.

/// A fact the planner needs and does not have.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Lookup {
    /// A table's schema (`database` empty: the connection's current database).
    Schema {
        /// Database.
        database: String,
        /// Table.
        table: String,
    },
    /// The result columns of a SQL text (DESCRIBE).
    Describe(String),
    /// A trace's time bounds from its `<table>_trace_id_ts` lookup table.
    TraceBounds {
        /// Database.
        database: String,
        /// The lookup table.
        table: String,
        /// The trace id.
        trace_id: String,
    },
}

/// Why planning stopped: a fact is missing, or the query cannot be planned.
#[derive(Debug)]
pub enum Step {
    /// Make this lookup, add its answer to the facts and plan again.
    Need(Lookup),
    /// The query's error.
    Fail(QueryError),
}

impl From<QueryError> for Step {
    fn from(e: QueryError) -> Step {
        Step::Fail(e)
    }
}

/// What the planner knows of the server: filled by [`lookup`] (or by hand in tests).
#[derive(Clone, Debug, Default)]
pub struct Facts {
    schemas: HashMap<(String, String), Arc<TableSchema>>,
    described: HashMap<String, Arc<[(String, ChType)]>>,
    bounds: HashMap<(String, String, String), Option<(i64, i64)>>,
}

impl Facts {
    /// Adds a table's schema (no columns: the table does not exist).
    pub fn add_schema(&mut self, database: &str, table: &str, schema: Arc<TableSchema>) {
        self.schemas
            .insert((database.to_owned(), table.to_owned()), schema);
    }

    /// Adds the result columns of `sql`.
    pub fn add_described(&mut self, sql: &str, columns: Vec<(String, ChType)>) {
        self.described.insert(sql.to_owned(), columns.into());
    }

    /// Adds a trace's bounds (`None`: the lookup table does not know the id).
    pub fn add_bounds(
        &mut self,
        database: &str,
        table: &str,
        trace_id: &str,
        bounds: Option<(i64, i64)>,
    ) {
        self.bounds.insert(
            (database.to_owned(), table.to_owned(), trace_id.to_owned()),
            bounds,
        );
    }

    /// A table's schema, or the lookup that reads it.
    pub fn schema(&self, database: &str, table: &str) -> Result<&TableSchema, Step> {
        self.schemas
            .get(&(database.to_owned(), table.to_owned()))
            .map(|s| s.as_ref())
            .ok_or_else(|| {
                Step::Need(Lookup::Schema {
                    database: database.to_owned(),
                    table: table.to_owned(),
                })
            })
    }

    /// The result columns of `sql`, or the lookup that reads them.
    pub fn described(&self, sql: &str) -> Result<&[(String, ChType)], Step> {
        self.described
            .get(sql)
            .map(|c| &c[..])
            .ok_or_else(|| Step::Need(Lookup::Describe(sql.to_owned())))
    }

    fn bounds(
        &self,
        database: &str,
        table: &str,
        trace_id: &str,
    ) -> Result<Option<(i64, i64)>, Step> {
        self.bounds
            .get(&(database.to_owned(), table.to_owned(), trace_id.to_owned()))
            .copied()
            .ok_or_else(|| {
                Step::Need(Lookup::TraceBounds {
                    database: database.to_owned(),
                    table: table.to_owned(),
                    trace_id: trace_id.to_owned(),
                })
            })
    }
}

// ---- The plan.

/// Plans `intent` for `req` from what `facts` holds; [`Step::Need`] names a missing fact.
pub fn plan(
    intent: &Intent,
    settings: &Settings,
    req: &RequestContext,
    facts: &Facts,
) -> Result<Plan, Step> {
    // Only SQL the query wrote expands ad hoc macros: the builders and traces need no columns.
    let with_table = match intent.kind {
        Kind::Sql
        | Kind::Annotation
        | Kind::Volume(Source::Sql)
        | Kind::Context(Source::Sql, _)
        | Kind::Sample(Source::Sql) => with_ad_hoc_table(settings, &intent.query, facts)?,
        _ => None,
    };
    let query = with_table.as_ref().unwrap_or(&intent.query);
    let range = Range {
        from_ns: req.from_ms.saturating_mul(1_000_000),
        to_ns: req.to_ms.saturating_mul(1_000_000),
    };
    let clicks = &intent.clicks;
    match &intent.kind {
        Kind::Volume(source) => {
            let bucket = build::bucket_seconds(range, req.interval_ms, req.max_data_points);
            if let Source::Builder(b) = source {
                let lt = logs_table(settings, b, facts)?;
                let sql =
                    build::logs_volume_for_table(b, lt.target(), range, bucket).map_err(invalid)?;
                let sql = with_table_filters(query, req, facts, &lt.db, &lt.table, sql)?;
                return Ok(Plan::Volume { sql });
            }
            let sql = explore_sql(settings, query, clicks, req, true, facts)?;
            let (described, roles, time) = result_roles(&sql, "log volume", facts)?;
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
        Kind::Context(source, ctx) => {
            if let Source::Builder(b) = source {
                let lt = logs_table(settings, b, facts)?;
                let equal: Vec<(ColumnRef, String)> = lt
                    .roles
                    .context_columns
                    .iter()
                    .filter_map(|c| ctx.labels.get(c.label()).map(|v| (c.clone(), v.clone())))
                    .collect();
                let sql = build::context_for_table(
                    lt.target(),
                    ctx.row_ns,
                    ctx.direction,
                    &equal,
                    ctx.limit,
                );
                let sql = with_table_filters(query, req, facts, &lt.db, &lt.table, sql)?;
                return Ok(Plan::Logs { sql });
            }
            // Raw SQL: the user's query for an hour around the row, wrapped, without the query's
            // own row limit (context reads around the row, not the query's first rows).
            let hour = 3_600_000;
            let around = RequestContext {
                from_ms: (ctx.row_ns / 1_000_000).saturating_sub(hour),
                to_ms: (ctx.row_ns / 1_000_000).saturating_add(hour),
                ..req.clone()
            }
            .clamped();
            let sql = explore::strip_row_limits(&query.expanded_sql(&around)?);
            let sql = with_sql_filters(settings, query, &around, facts, sql)?;
            let (described, roles, time) = result_roles(&sql, "log context", facts)?;
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
                    ctx.row_ns,
                    ctx.direction,
                    &equal,
                    ctx.limit,
                ),
            })
        }
        Kind::Sample(source) => {
            if let Source::Builder(b) = source {
                let mut b = b.as_ref().clone();
                b.limit = Some(LOGS_SAMPLE_ROWS);
                let lt = logs_table(settings, &b, facts)?;
                let sql = build::logs_query(&b, lt.target(), range).map_err(invalid)?;
                return Ok(Plan::Logs {
                    sql: with_table_filters(query, req, facts, &lt.db, &lt.table, sql)?,
                });
            }
            let sql = explore_sql(settings, query, clicks, req, false, facts)?;
            // The sample shows the query's rows as log lines: they need a time and a body.
            let (_, roles, _) = result_roles(&sql, "a logs sample", facts)?;
            if roles.body.is_none() {
                return Err(Step::Fail(invalid(
                    "a logs sample needs log lines: the query's result has no body or message column (an aggregate has no sample)",
                )));
            }
            Ok(Plan::Logs {
                sql: crate::sql::wrap_subquery(&sql, "*", &format!("LIMIT {LOGS_SAMPLE_ROWS}")),
            })
        }
        Kind::Trace { trace_id, search } => trace_plan(settings, trace_id, search, facts),
        Kind::TraceSearch(s) => {
            let (db, table) = traces_table(settings, &s.database, &s.table);
            let schema = facts.schema(&db, &table)?;
            let roles = trace_roles(settings, schema, &db, &table)?;
            let time_kind = time_kind_of(schema, &roles.time);
            let sql =
                build::trace_search_query(s, &db, &table, &roles, time_kind, &names(schema), range)
                    .map_err(invalid)?;
            Ok(Plan::Table {
                sql: with_table_filters(query, req, facts, &db, &table, sql)?,
                visualisation: "table",
            })
        }
        Kind::Builder(b) => {
            let lt = logs_table(settings, b, facts)?;
            let sql = build::logs_query(b, lt.target(), range).map_err(invalid)?;
            Ok(Plan::Logs {
                sql: with_table_filters(query, req, facts, &lt.db, &lt.table, sql)?,
            })
        }
        Kind::Annotation => {
            let sql = with_sql_filters(settings, query, req, facts, query.expanded_sql(req)?)?;
            let cols = facts.described(&sql)?;
            Ok(Plan::Table {
                sql: build::annotation_query(&sql, cols),
                visualisation: "table",
            })
        }
        Kind::Sql => {
            let sql = explore_sql(settings, query, clicks, req, false, facts)?;
            Ok(match query.format {
                Format::TimeSeries => Plan::TimeSeries { sql },
                Format::Table => Plan::Table {
                    sql,
                    visualisation: "table",
                },
                Format::Logs => Plan::Logs { sql },
                Format::Traces => Plan::Trace { sql },
            })
        }
    }
}

/// SQL Lantern built for `database.table` (the logs builder, trace search) with the query's ad
/// hoc filters applied to that table (or to the table a key names), resolved against its
/// columns (see [`crate::macros::implicit_ad_hoc`]).
fn with_table_filters(
    query: &Query,
    req: &RequestContext,
    facts: &Facts,
    database: &str,
    table: &str,
    sql: String,
) -> Result<String, Step> {
    let groups = ad_hoc_groups(query, "", req, facts, database, table)?;
    Ok(crate::macros::wrap_with_table_filters(sql, &groups))
}

/// The conditions of `query`'s ad hoc filters by table, when `saved_sql` places none itself;
/// `database.table` is the table they apply to unless a key names another. Empty, with no
/// lookup, when the query has no ad hoc filters.
pub(crate) fn ad_hoc_groups(
    query: &Query,
    saved_sql: &str,
    req: &RequestContext,
    facts: &Facts,
    database: &str,
    table: &str,
) -> Result<Vec<(String, Vec<String>)>, Step> {
    if !query.has_ad_hoc_filters() {
        return Ok(Vec::new());
    }
    let schema = facts.schema(database, table)?;
    let q = Query {
        table_columns: (!schema.columns.is_empty()).then(|| macro_columns(schema)),
        ..query.clone()
    };
    let ctx = q.macro_context(req)?;
    crate::macros::implicit_ad_hoc(saved_sql, &ctx, database, table, |db, t| {
        Ok::<_, Step>(Some(macro_columns(facts.schema(db, t)?)))
    })
}

/// A raw SQL query's expanded SQL with the query's ad hoc filters applied when it places none
/// itself (on the table of [`ad_hoc_target`]).
fn with_sql_filters(
    settings: &Settings,
    query: &Query,
    req: &RequestContext,
    facts: &Facts,
    expanded: String,
) -> Result<String, Step> {
    let groups = sql_ad_hoc_groups(settings, query, req, facts)?;
    Ok(crate::macros::wrap_with_table_filters(expanded, &groups))
}

/// The conditions by table of a raw SQL query's ad hoc filters, when its SQL places none itself
/// (see [`with_sql_filters`]).
pub(crate) fn sql_ad_hoc_groups(
    settings: &Settings,
    query: &Query,
    req: &RequestContext,
    facts: &Facts,
) -> Result<Vec<(String, Vec<String>)>, Step> {
    let (database, table) = ad_hoc_target(settings, query);
    ad_hoc_groups(query, &query.sql, req, facts, &database, &table)
}

impl From<crate::macros::MacroError> for Step {
    fn from(e: crate::macros::MacroError) -> Step {
        Step::Fail(QueryError::Macro(e))
    }
}

fn macro_columns(schema: &TableSchema) -> Vec<crate::macros::Column> {
    schema
        .columns
        .iter()
        .map(|c| crate::macros::Column {
            name: c.name.clone(),
            type_name: c.ty.to_string(),
        })
        .collect()
}

/// The table a raw SQL query's ad hoc filters apply to: the query's `database`/`table` (both
/// models carry them), else the datasource's logs table (`otel_logs` by default).
fn ad_hoc_target(settings: &Settings, query: &Query) -> (String, String) {
    let text = |k: &str| {
        query
            .json
            .get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let logs = &settings.logs;
    let table = text("table")
        .or_else(|| Some(logs.table.clone()).filter(|t| !t.is_empty()))
        .unwrap_or_else(|| "otel_logs".to_owned());
    let database = text("database")
        .or_else(|| Some(logs.database.clone()).filter(|d| !d.is_empty()))
        .unwrap_or_else(|| settings.default_database.clone());
    (database, table)
}

/// `query` with the columns of the table its ad hoc filters apply to (see [`ad_hoc_target`]),
/// for the ad hoc macros. `None` when the query has no ad hoc filters (or already knows the
/// columns); when the table does not exist, keys are used as written.
pub(crate) fn with_ad_hoc_table(
    settings: &Settings,
    query: &Query,
    facts: &Facts,
) -> Result<Option<Query>, Step> {
    if query.table_columns.is_some() || !query.has_ad_hoc_filters() {
        return Ok(None);
    }
    let (database, table) = ad_hoc_target(settings, query);
    let schema = facts.schema(&database, &table)?;
    if schema.columns.is_empty() {
        return Ok(None);
    }
    Ok(Some(Query {
        table_columns: Some(macro_columns(schema)),
        ..query.clone()
    }))
}

/// A SQL result's columns with their Grafana-side types and logs roles, and the index of its
/// time column; `what` names the feature for the error when there is none.
type ResultShape = (
    Vec<(String, arrow_schema::DataType, ChType)>,
    crate::frames::logs::ResultRoles,
    usize,
);

/// The columns of `sql`'s result and their logs roles (see [`ResultShape`]).
pub(crate) fn result_roles(sql: &str, what: &str, facts: &Facts) -> Result<ResultShape, Step> {
    let described = typed_columns(facts.described(sql)?);
    let roles = crate::frames::logs::recognise(&described);
    let time = roles
        .time
        .ok_or_else(|| invalid(format!("{what} needs a time column in the query's result")))?;
    Ok((described, roles, time))
}

fn typed_columns(cols: &[(String, ChType)]) -> Vec<(String, arrow_schema::DataType, ChType)> {
    cols.iter()
        .map(|(n, t)| (n.clone(), grafana_type(t), t.clone()))
        .collect()
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
#[derive(Clone, Debug)]
pub(crate) struct ResolvedLogs {
    pub(crate) db: String,
    pub(crate) table: String,
    columns: Vec<String>,
    pub(crate) roles: otel::LogRoles,
    time_kind: TimeKind,
    /// The table's sorting and primary keys (for pruning by key).
    pub(crate) keys: [String; 2],
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

/// The builder's table: its schema, classification and roles (with datasource and query
/// overrides).
pub(crate) fn logs_table(
    settings: &Settings,
    b: &LogsBuilder,
    facts: &Facts,
) -> Result<ResolvedLogs, Step> {
    let defaults = &settings.logs;
    let db = first_set(
        &[&b.database, &defaults.database, &settings.default_database],
        "",
    );
    let table = first_set(&[&b.table, &defaults.table], "otel_logs");
    let schema = facts.schema(&db, &table)?;
    match otel::classify(schema, &b.columns.or(&defaults.overrides)) {
        Some(Classified::Logs(_, roles)) => Ok(ResolvedLogs {
            time_kind: time_kind_of(schema, &roles.time),
            columns: names(schema),
            keys: [schema.sorting_key.clone(), schema.primary_key.clone()],
            db,
            table,
            roles,
        }),
        _ => Err(Step::Fail(invalid(format!(
            "{}{table} is not a logs table: it needs a time column and a body/message column (or set them in the datasource's logs settings)",
            if db.is_empty() {
                String::new()
            } else {
                format!("{db}.")
            }
        )))),
    }
}

/// The first non-empty of `candidates`, else `default`.
fn first_set(candidates: &[&str], default: &str) -> String {
    candidates
        .iter()
        .copied()
        .find(|s| !s.is_empty())
        .unwrap_or(default)
        .to_owned()
}

fn traces_table(settings: &Settings, database: &str, table: &str) -> (String, String) {
    let defaults = &settings.traces;
    (
        first_set(
            &[database, &defaults.database, &settings.default_database],
            "",
        ),
        first_set(&[table, &defaults.table], "otel_traces"),
    )
}

/// The trace roles of `db.table`, or the error that it is not a traces table.
fn trace_roles(
    settings: &Settings,
    schema: &TableSchema,
    db: &str,
    table: &str,
) -> Result<otel::TraceRoles, Step> {
    let overrides = &settings.traces.overrides;
    match otel::classify(schema, overrides) {
        Some(Classified::Traces(_, roles)) => Ok(roles),
        _ => {
            let missing = overrides.missing_in(schema);
            Err(Step::Fail(invalid(if missing.is_empty() {
                format!("{db}.{table} is not a traces table (no SpanId/SpanName columns)")
            } else {
                format!(
                    "{db}.{table} is not a traces table: the datasource's traces settings name columns it lacks ({})",
                    missing.join(", ")
                )
            })))
        }
    }
}

/// A trace by id, bounded by the `<table>_trace_id_ts` lookup when it exists and knows the id.
fn trace_plan(
    settings: &Settings,
    trace_id: &str,
    search: &TraceSearch,
    facts: &Facts,
) -> Result<Plan, Step> {
    let (db, table) = traces_table(settings, &search.database, &search.table);
    let schema = facts.schema(&db, &table)?;
    let roles = trace_roles(settings, schema, &db, &table)?;
    let lookup = format!("{table}_trace_id_ts");
    let lookup_schema = facts.schema(&db, &lookup)?;
    let bounds = if ["TraceId", "Start", "End"]
        .iter()
        .all(|c| lookup_schema.column(c).is_some())
    {
        facts.bounds(&db, &lookup, trace_id)?
    } else {
        None
    };
    let cols = TraceColumns {
        present: names(schema),
    };
    Ok(Plan::Trace {
        sql: build::trace_query(&db, &table, &roles, &cols, trace_id, bounds),
    })
}

// ---- Explore: filters from a click, row limits off for volume/context. The SQL is composed in
// `sql::explore`; these are the planner's hooks into it.

/// A raw SQL query's expanded SQL (its row limits taken off when `strip_limits`), wrapped with
/// its click filters resolved against its result's columns.
fn explore_sql(
    settings: &Settings,
    query: &Query,
    clicks: &[explore::ClickFilter],
    req: &RequestContext,
    strip_limits: bool,
    facts: &Facts,
) -> Result<String, Step> {
    let mut sql = query.expanded_sql(req)?;
    if strip_limits {
        sql = explore::strip_row_limits(&sql);
    }
    let sql = with_sql_filters(settings, query, req, facts, sql)?;
    let conditions = click_conditions(clicks, &sql, facts)?;
    Ok(explore::wrap_with_conditions(&sql, &conditions))
}

/// The conditions of a raw SQL query's click filters, resolved against the columns of `sql`'s
/// result (read with DESCRIBE only when there are filters).
pub(crate) fn click_conditions(
    clicks: &[explore::ClickFilter],
    sql: &str,
    facts: &Facts,
) -> Result<Vec<String>, Step> {
    if clicks.is_empty() {
        return Ok(Vec::new());
    }
    let columns = facts.described(sql)?;
    let roles = crate::frames::logs::recognise(&typed_columns(columns));
    let result = result_columns(columns, &roles);
    clicks
        .iter()
        .map(|c| {
            let target = explore::resolve_result_key(&c.key, &result).map_err(invalid)?;
            Ok(explore::click_condition(c, &target).map_err(invalid)?)
        })
        .collect()
}

/// A result's columns with the roles click filters and context need.
fn result_columns<'a>(
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

#[cfg(test)]
mod tests;
