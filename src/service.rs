//! What the plugin does for each request, independent of gRPC: instance state, running a query
//! into frames, the health check.
//!
//! The pipeline of one query is `JSON → Query → SQL → ClickHouse ArrowStream → normalize →
//! frame`. Queries of one request run concurrently, each in its own task, so one slow or failing
//! (even panicking) query never holds back or fails the others. Instance state (validated
//! settings and the HTTP client) is cached per `(uid, lastUpdatedMS)`.
//!
//! Results are never collected before they are shaped: each ArrowStream batch is converted and
//! written (tables), grouped into series (time series) or shaped into log lines as it arrives.
//! Logs shaping is the one heavy step, so it runs on the blocking pool, in slices, one per core.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, RecordBatch, TimestampNanosecondArray};
use arrow_schema::{DataType, Field, TimeUnit};
use serde_json::json;

use crate::chtype::ChType;
use crate::error::QueryError;
use crate::frames::logs::{LabelNames, LinkTarget, LogsLayout, RowIds, ShapeCaches, ShapedBatch};
use crate::frames::normalize::{self, ColumnPlan};
use crate::frames::timeseries::{self, Fill};
use crate::frames::{FieldMeta, Frame, FrameError, FrameMeta, FrameWriter, Notice, grafana_schema};
pub use crate::instance::{Instance, InstanceKey, Plugin, SchemaCache};
use crate::official::FrameStyle;
use crate::planner::{self, Plan};
use crate::query::{Format, Query, RequestContext, ResultCaps};
use crate::settings::SettingsError;
use crate::upstream::{Access, ArrowStream, QueryMode, RequestOptions, Upstream};

/// One query of a request, as received.
#[derive(Clone, Debug)]
pub struct QueryInput {
    /// refId.
    pub ref_id: String,
    /// The query JSON.
    pub json: Vec<u8>,
    /// Time range, interval and who asks.
    pub request: RequestContext,
    /// The request's `queryType` for this query.
    pub query_type: String,
}

/// A spawned task that is aborted when its handle is dropped: when Grafana gives up on a
/// request, its queries stop with it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs every query of a request concurrently; results come back in the input order.
///
/// `running` limits queries plugin-wide (the rest wait, inside their timeout); `deadline` is
/// Grafana's deadline for the whole request, when it sent one.
pub async fn run_queries(
    instance: Result<Arc<Instance>, SettingsError>,
    queries: Vec<QueryInput>,
    running: Arc<tokio::sync::Semaphore>,
    deadline: Option<Duration>,
) -> Vec<(String, Result<Vec<Frame>, QueryError>)> {
    // Each query runs in its own task: the request's forwarded headers go with it.
    let forwarded = crate::forward::current();
    let tasks: Vec<_> = queries
        .into_iter()
        .map(|q| {
            let instance = instance.clone();
            let ref_id = q.ref_id.clone();
            let running = running.clone();
            let handle = tokio::spawn(crate::forward::scope(forwarded.clone(), async move {
                let mut metrics = crate::metrics::global().query_started();
                let result = async {
                    let instance = instance.map_err(QueryError::Settings)?;
                    run_query(&instance, &q, &running, deadline, &mut metrics).await
                }
                .await;
                metrics.finish(&result);
                result
            }));
            (ref_id, AbortOnDrop(handle))
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for (ref_id, mut handle) in tasks {
        let result = match (&mut handle.0).await {
            Ok(r) => r,
            Err(e) if e.is_panic() => Err(QueryError::Internal(panic_text(e.into_panic()))),
            Err(e) => Err(QueryError::Internal(e.to_string())),
        };
        out.push((ref_id, result));
    }
    out
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// A new ClickHouse `query_id`: the plugin's name, the process and a counter, unique enough to
/// find the query in `system.query_log` and to kill it.
fn new_query_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    });
    format!(
        "lantern-{start:016x}-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// What one running query needs besides its plan: the server, its id and its caps.
struct Run<'a> {
    instance: &'a Instance,
    query: &'a Query,
    query_id: String,
    caps: ResultCaps,
    /// Filter settings taken out of the query's own `SETTINGS` clause, sent with the request
    /// (see [`crate::sql::take_filter_settings`]).
    query_settings: Vec<(String, String)>,
}

impl Run<'_> {
    /// Request options: the id, and settings that stop the server's work when we stop reading;
    /// `binary_strings` asks for String columns as Arrow binary (shown lossily).
    fn options(&self, timeout: Duration, binary_strings: bool) -> RequestOptions {
        let mut options = RequestOptions {
            query_id: if binary_strings {
                format!("{}-binary", self.query_id)
            } else {
                self.query_id.clone()
            },
            settings: vec![
                (
                    "cancel_http_readonly_queries_on_client_close".into(),
                    "1".into(),
                ),
                (
                    "max_execution_time".into(),
                    timeout.as_secs().saturating_add(1).to_string(),
                ),
            ],
        };
        if binary_strings {
            options
                .settings
                .push(("output_format_arrow_string_as_string".into(), "0".into()));
        }
        options.settings.extend(self.query_settings.iter().cloned());
        options
    }
}

/// The decoder's complaint about a string that is not UTF-8.
fn is_invalid_utf8(message: &str) -> bool {
    message.contains("Invalid UTF8") || message.contains("invalid utf-8")
}

/// Runs one query and returns its encoded frames; `metrics` learns the query's format.
pub async fn run_query(
    instance: &Instance,
    input: &QueryInput,
    running: &tokio::sync::Semaphore,
    deadline: Option<Duration>,
    metrics: &mut crate::metrics::InFlight<'_>,
) -> Result<Vec<Frame>, QueryError> {
    let started = Instant::now();
    let query = Query::parse(&input.ref_id, &input.json)?;
    // Validated before the query waits for a slot: a malformed query never queues.
    let intent = planner::Intent::parse(&query, &input.query_type)?;
    let configured = instance.connection.query_timeout();
    let timeout = deadline.map_or(configured, |d| d.min(configured));
    let mut run = Run {
        instance,
        query: &query,
        query_id: new_query_id(),
        caps: query.caps(&instance.settings, &input.request)?,
        query_settings: Vec::new(),
    };
    let work = async {
        let _permit = running
            .acquire()
            .await
            .map_err(|_| QueryError::Internal("the plugin is shutting down".into()))?;
        let mut plan = planner::plan_query(instance, &intent, &input.request).await?;
        metrics.set_format(metrics_format(&plan));
        // Read-only requests (readonly=1) refuse a SETTINGS clause in the query; the filter
        // settings of `$__adHocFilters` apply the same when sent with the request.
        if instance.connection.mode() == QueryMode::ReadOnly
            && let Some((sql, settings)) = crate::sql::take_filter_settings(plan.sql())
        {
            if let Some((name, value)) = settings
                .iter()
                .find(|(_, v)| v.len() > crate::sql::MAX_REQUEST_SETTING_BYTES)
            {
                return Err(QueryError::Invalid(format!(
                    "{name} (the ad hoc filters) is {} bytes, too large to send with a read-only request (at most {} bytes): narrow the filters, or set the datasource's allowQuerySettings so that the query may carry its own SETTINGS",
                    value.len(),
                    crate::sql::MAX_REQUEST_SETTING_BYTES
                )));
            }
            *plan.sql_mut() = sql;
            run.query_settings = settings;
        }
        let run = &run;
        if instance.connection.mode() != QueryMode::Writes
            && let Some(k) = crate::sql::leading_keyword(plan.sql())
            && crate::sql::ADMIN_KEYWORDS.contains(&k.as_str())
        {
            return Err(QueryError::ReadOnly(k));
        }
        // grafana/clickhouse-datasource's saved queries get its backend's frames.
        let style = crate::official::frame_style(&query.json);
        let links = LinkTarget {
            datasource_uid: input.request.datasource_uid.clone(),
            datasource_name: input.request.datasource_name.clone(),
        };
        // Strings arrive as Arrow Utf8, which the decoder validates. A result with invalid UTF-8
        // runs once more with strings as binary, which are shown lossily.
        let mut binary_strings = false;
        loop {
            let options = run.options(timeout, binary_strings);
            let result = match &plan {
                Plan::Table { sql, visualisation } => {
                    table_frame(run, &options, sql, visualisation, &|_| None).await
                }
                Plan::Trace { sql } => {
                    let logs = &instance.settings.logs;
                    trace_frame(run, &options, sql, &links, logs).await
                }
                Plan::TimeSeries { sql } => {
                    time_series_frames(run, &options, sql, &input.request, false, style).await
                }
                Plan::Volume { sql } => {
                    time_series_frames(run, &options, sql, &input.request, true, style).await
                }
                Plan::Logs { sql } => logs_frame(run, &options, sql, &links, style).await,
            };
            match result {
                Err(QueryError::Decode(m)) if is_invalid_utf8(&m) && !binary_strings => {
                    tracing::info!(query_id = %run.query_id, "invalid UTF-8 in the result: running it with binary strings");
                    binary_strings = true;
                }
                Err(QueryError::Decode(m)) if is_invalid_utf8(&m) => {
                    return Err(QueryError::Invalid(format!(
                        "ClickHouse sent invalid UTF-8 in a String column and the user's profile does not let Lantern ask for binary strings ({m}); wrap the column in toValidUTF8()"
                    )));
                }
                other => return other,
            }
        }
    };
    let result = tokio::time::timeout(timeout, work).await;
    let frames = match result {
        Ok(r) => r?,
        Err(_) => {
            return Err(if deadline.is_some_and(|d| d < configured) {
                QueryError::Deadline(timeout)
            } else {
                QueryError::Timeout(timeout)
            });
        }
    };
    tracing::debug!(ref_id = %input.ref_id, query_id = %run.query_id, elapsed_ms = started.elapsed().as_millis() as u64, "query done");
    Ok(frames)
}

/// Kills the server's query when dropped before the result was read to its end: on a timeout,
/// a cancel from Grafana (the task is aborted), an error or a cap that cuts the result.
struct KillOnDrop {
    upstream: Arc<dyn Upstream>,
    query_id: String,
    armed: bool,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let upstream = self.upstream.clone();
        let query_id = std::mem::take(&mut self.query_id);
        // The kill goes with the same forwarded headers as the query (a proxy may demand them).
        let forwarded = crate::forward::current();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(crate::forward::scope(forwarded, async move {
                let killed =
                    tokio::time::timeout(Duration::from_secs(5), upstream.kill(&query_id)).await;
                tracing::debug!(query_id = %query_id, ok = matches!(killed, Ok(Ok(()))), "query killed");
            }));
        }
    }
}

/// A result being read; the server's query is killed if this is dropped before its end.
struct Results {
    stream: ArrowStream,
    kill: KillOnDrop,
}

impl Results {
    /// The next batch; reaching the end disarms the kill.
    async fn next(&mut self) -> Result<Option<RecordBatch>, QueryError> {
        let batch = self.stream.next_batch().await?;
        if self.stream.is_finished() {
            self.kill.armed = false;
        }
        Ok(batch)
    }
}

/// A started query: its stream, the first batch and each column's conversion plan.
struct Fetched {
    results: Results,
    first: Option<RecordBatch>,
    plans: Vec<ColumnPlan>,
    started: Instant,
    first_batch: Duration,
}

/// Starts `sql` and plans its columns. `None` when ClickHouse sent no schema at all (DDL).
async fn fetch(
    run: &Run<'_>,
    options: &RequestOptions,
    sql: &str,
    format: Format,
) -> Result<Option<Fetched>, QueryError> {
    // Arrow does not carry ClickHouse's type names (DateTime, IPv4 and UInt32 all arrive as
    // uint32), so ask for them concurrently with the data, once per query text (cached); a
    // statement DESCRIBE cannot analyse (SHOW, EXPLAIN…) falls back to the Arrow types alone.
    let started = Instant::now();
    let upstream = &run.instance.connection;
    let cached = run
        .instance
        .described
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(sql);
    let m = crate::metrics::global();
    if cached.is_some() {
        m.cache_hit(crate::metrics::Cache::Describe);
    } else {
        m.cache_miss(crate::metrics::Cache::Describe);
    }
    let describe = async {
        match &cached {
            Some(types) => Ok(types.clone()),
            None => upstream.describe(sql).await.map(Arc::new),
        }
    };
    // Armed before the request: a server that buffers its answer runs the whole query before
    // the first byte, and a cancel in that time must reach it too.
    let mut kill = KillOnDrop {
        upstream: upstream.clone(),
        query_id: options.query_id.clone(),
        armed: !options.query_id.is_empty(),
    };
    let (types, stream) = tokio::join!(describe, upstream.arrow(sql, options));
    let stream = stream.inspect_err(|e| {
        // The server answered with its error: the query is over there.
        if matches!(e, QueryError::Upstream { .. }) {
            kill.armed = false;
        }
    })?;
    let mut results = Results { stream, kill };
    let first = results.next().await?;
    let first_batch = started.elapsed();
    let Some(schema) = results.stream.schema() else {
        return Ok(None);
    };
    let types: Option<Vec<ChType>> = match types {
        Ok(t) if t.len() == schema.fields().len() => {
            if cached.is_none() {
                run.instance
                    .described
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .put(sql, t.clone());
            }
            Some(t.iter().map(|(_, t)| t.clone()).collect())
        }
        _ => None,
    };
    let mut plans = normalize::plan(schema.fields(), types.as_deref())?;
    for (plan, field) in plans.iter_mut().zip(schema.fields()) {
        // Shaping steps read some columns raw: Altinity's groupArr arrays (time series) and
        // attribute maps (logs labels).
        let raw = match format {
            Format::TimeSeries => timeseries::is_group_array(&plan.ch),
            Format::Logs => matches!(plan.ch.base(), ChType::Map(_, _)),
            Format::Table | Format::Traces => false,
        };
        if raw {
            plan.keep_raw(field.data_type().clone());
        }
    }
    Ok(Some(Fetched {
        results,
        first,
        plans,
        started,
        first_batch,
    }))
}

/// Rows and bytes read so far against a query's caps.
struct Budget {
    caps: ResultCaps,
    rows: u64,
    bytes: u64,
    /// Set once a cap cut the result.
    cut: Option<Notice>,
}

impl Budget {
    fn new(caps: ResultCaps) -> Budget {
        Budget {
            caps,
            rows: 0,
            bytes: 0,
            cut: None,
        }
    }

    /// The part of `batch` that fits under the caps; after a cut, reading stops.
    fn fit(&mut self, batch: RecordBatch) -> RecordBatch {
        let n = batch.num_rows() as u64;
        let size: u64 = batch
            .columns()
            .iter()
            .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0) as u64)
            .sum();
        let by_rows = self.caps.rows.saturating_sub(self.rows);
        let by_bytes = if self.bytes.saturating_add(size) <= self.caps.bytes {
            n
        } else {
            let room = self.caps.bytes.saturating_sub(self.bytes);
            (room as u128 * n as u128 / size.max(1) as u128) as u64
        };
        let keep = n.min(by_rows).min(by_bytes);
        if keep < n {
            let (what, cap) = if by_rows <= by_bytes {
                (
                    "rows",
                    format!("{} rows ({})", self.caps.rows, self.caps.rows_from),
                )
            } else {
                (
                    "bytes",
                    format!("{} bytes (maxResultBytes)", self.caps.bytes),
                )
            };
            tracing::info!(
                cap = what,
                kept_rows = self.rows + keep,
                "result cut at a cap"
            );
            self.cut = Some(Notice {
                severity: "warning",
                text: format!(
                    "The result was cut at {} rows: it reached the limit of {cap}. Narrow the time range, add filters, aggregate, or add a LIMIT.",
                    self.rows + keep
                ),
            });
        }
        self.rows += keep;
        self.bytes = self
            .bytes
            .saturating_add((size as u128 * keep as u128 / n.max(1) as u128) as u64);
        if keep < n {
            batch.slice(0, keep as usize)
        } else {
            batch
        }
    }

    /// True once a cap was reached: no more batches are read.
    fn is_cut(&self) -> bool {
        self.cut.is_some()
    }
}

/// The next batch of `results`, unless the budget is spent.
async fn next_within(
    results: &mut Results,
    budget: &Budget,
) -> Result<Option<RecordBatch>, QueryError> {
    if budget.is_cut() {
        return Ok(None);
    }
    results.next().await
}

fn query_notice(query_id: &str) -> serde_json::Value {
    json!({ "queryId": query_id })
}

fn plan_notices(plans: &[ColumnPlan]) -> impl Iterator<Item = Notice> + '_ {
    plans
        .iter()
        .filter_map(|p| p.notice.clone())
        .map(|text| Notice {
            severity: "warning",
            text,
        })
}

/// Runs `sql` and writes its result as one frame, converting batches as they stream in.
async fn table_frame(
    run: &Run<'_>,
    options: &RequestOptions,
    sql: &str,
    visualisation: &'static str,
    links: &FieldLinks<'_>,
) -> Result<Vec<Frame>, QueryError> {
    let meta = base_meta(sql, visualisation, &run.query_id);
    let Some(fetched) = fetch(run, options, sql, Format::Table).await? else {
        return empty_frame(&run.query.ref_id, &run.query.ref_id, &meta);
    };
    write_table(run, fetched, meta, links).await
}

/// A field's config (data links) by field name.
type FieldLinks<'a> = dyn Fn(&str) -> Option<serde_json::Value> + Sync + 'a;

/// A traces result (format 3): one span per row (a `spanID` column) is a trace view, with
/// links from `traceID` to the trace's logs; rows of trace ids alone are a trace search table
/// whose `traceID` opens each trace here. A result without a trace id column cannot be shown.
async fn trace_frame(
    run: &Run<'_>,
    options: &RequestOptions,
    sql: &str,
    links: &LinkTarget,
    logs: &crate::settings::SignalDefaults,
) -> Result<Vec<Frame>, QueryError> {
    let Some(fetched) = fetch(run, options, sql, Format::Table).await? else {
        let meta = base_meta(sql, "trace", &run.query_id);
        return empty_frame(&run.query.ref_id, &run.query.ref_id, &meta);
    };
    let names: Vec<&str> = fetched.plans.iter().map(|p| p.name.as_str()).collect();
    let trace_id = ["traceID", "traceId", "TraceId", "trace_id"]
        .into_iter()
        .find(|n| names.contains(n))
        .map(str::to_owned);
    let spans = ["spanID", "spanId", "SpanId", "span_id"]
        .iter()
        .any(|n| names.contains(n));
    match (trace_id, spans) {
        (Some(_), true) => {
            let to_logs = |name: &str| {
                (name == "traceID").then(|| crate::frames::logs::trace_to_logs_link((links, logs)))
            };
            let meta = base_meta(sql, "trace", &run.query_id);
            write_table(run, fetched, meta, &to_logs).await
        }
        (Some(id), false) => {
            let view =
                move |name: &str| (name == id).then(|| crate::frames::logs::view_trace_link(links));
            let meta = base_meta(sql, "table", &run.query_id);
            write_table(run, fetched, meta, &view).await
        }
        (None, _) => Err(QueryError::Invalid(format!(
            "a traces query (format 3) needs a `traceID` column: with `spanID` it is shown as a trace, without it as a trace search; the result has {}",
            names.join(", ")
        ))),
    }
}

/// Writes a started query's result as one table frame, converting batches as they stream in.
async fn write_table(
    run: &Run<'_>,
    fetched: Fetched,
    mut meta: FrameMeta,
    links: &FieldLinks<'_>,
) -> Result<Vec<Frame>, QueryError> {
    let query = run.query;
    let Fetched {
        mut results,
        first,
        plans,
        started,
        first_batch,
    } = fetched;
    meta.notices.extend(plan_notices(&plans));
    let fields: Vec<(Field, FieldMeta)> = plans
        .iter()
        .map(|p| {
            let config = links(&p.name);
            (
                p.field(),
                FieldMeta {
                    config,
                    ..Default::default()
                },
            )
        })
        .collect();
    let mut writer = FrameWriter::new(grafana_schema(&query.ref_id, &query.ref_id, &meta, fields))?;
    let mut budget = Budget::new(run.caps);
    let mut convert = Duration::ZERO;
    let mut batch = first;
    while let Some(b) = batch {
        let t = Instant::now();
        let b = budget.fit(b);
        writer.write(convert_batch(&plans, &b)?)?;
        convert += t.elapsed();
        batch = next_within(&mut results, &budget).await?;
    }
    if let Some(cut) = budget.cut.take() {
        meta.notices.push(cut);
        writer.set_meta(&meta);
    }
    crate::metrics::global().received(budget.rows, results.stream.received_bytes());
    let frame = writer.finish()?;
    tracing::debug!(
        ref_id = %query.ref_id,
        query_id = %run.query_id,
        rows = budget.rows,
        received_bytes = results.stream.received_bytes(),
        frame_bytes = frame.len() as u64,
        first_batch_ms = first_batch.as_secs_f64() * 1e3,
        convert_ms = convert.as_secs_f64() * 1e3,
        total_ms = started.elapsed().as_secs_f64() * 1e3,
        "table frame written"
    );
    Ok(vec![frame])
}

/// Runs `sql` and shapes its rows into time series frames.
async fn time_series_frames(
    run: &Run<'_>,
    options: &RequestOptions,
    sql: &str,
    request: &RequestContext,
    volume: bool,
    style: FrameStyle,
) -> Result<Vec<Frame>, QueryError> {
    let query = run.query;
    let mut meta = base_meta(sql, "graph", &run.query_id);
    meta.frame_type = Some("timeseries-multi");
    meta.type_version = Some([0, 1]);
    let Some(fetched) = fetch(run, options, sql, Format::TimeSeries).await? else {
        return empty_frame("", &query.ref_id, &meta);
    };
    let types: Vec<ChType> = fetched.plans.iter().map(|p| p.ch.clone()).collect();
    let mut ts = ts_options(query, request);
    ts.max_points = run.caps.rows;
    ts.max_points_from = run.caps.rows_from;
    if volume {
        // A log volume histogram: no extrapolation or filling, whatever the query says.
        ts.fill = Fill::None;
        ts.extrapolate = false;
        ts.nullify_sparse = false;
    }
    let schema = Arc::new(arrow_schema::Schema::new(
        fetched.plans.iter().map(|p| p.field()).collect::<Vec<_>>(),
    ));
    let mut shaper = match timeseries::Shaper::new(schema.clone(), &types, &ts) {
        Ok(shaper) => shaper,
        Err(timeseries::ShapeError::NoTime(_) | timeseries::ShapeError::NoValue(_))
            if style == FrameStyle::Official =>
        {
            // That plugin's backend returns a result it cannot turn into series as it is (a
            // trend of the time column alone, say).
            let meta = base_meta(sql, "graph", &run.query_id);
            return write_table(run, fetched, meta, &|_| None).await;
        }
        Err(e) => return Err(FrameError::from(e).into()),
    };
    let Fetched {
        mut results,
        first,
        plans,
        started,
        first_batch,
    } = fetched;
    meta.notices.extend(plan_notices(&plans));
    // Rows are grouped into series as batches arrive; `shape_time` is that work plus the final
    // sort and assembly, `after_fetch` what remains once the last batch has arrived.
    let (mut shape_time, mut rows) = (std::time::Duration::ZERO, 0usize);
    let mut budget = Budget::new(run.caps);
    let mut batch = first;
    while let Some(b) = batch {
        let b = budget.fit(b);
        rows += b.num_rows();
        let converted = converted_batch(&schema, &plans, &b)?;
        let t = Instant::now();
        shaper.push(&converted)?;
        shape_time += t.elapsed();
        batch = next_within(&mut results, &budget).await?;
    }
    meta.notices.extend(budget.cut.take());
    let fetched = started.elapsed();
    crate::metrics::global().received(rows as u64, results.stream.received_bytes());
    if rows == 0 {
        return empty_frame("", &query.ref_id, &meta);
    }
    let shape_started = Instant::now();
    let (shaped, notices) = shaper.finish()?;
    let after_fetch = shape_started.elapsed();
    shape_time += after_fetch;
    meta.notices.extend(notices.into_iter().map(|text| Notice {
        severity: "info",
        text,
    }));
    let time_field =
        |name: &str| Field::new(name, DataType::Timestamp(TimeUnit::Nanosecond, None), false);
    let value_field = |name: &str, values: &ArrayRef| {
        Field::new(name, values.data_type().clone(), values.null_count() > 0)
    };
    let frames = match shaped {
        timeseries::Shaped::Wide {
            time_name,
            time,
            values,
        } => {
            meta.frame_type = Some("timeseries-wide");
            let mut fields = vec![(time_field(&time_name), FieldMeta::default())];
            let mut columns: Vec<ArrayRef> = vec![Arc::new(TimestampNanosecondArray::from(time))];
            for (name, v) in values {
                fields.push((value_field(&name, &v), FieldMeta::default()));
                columns.push(v);
            }
            vec![crate::frames::encode(
                &query.ref_id,
                &query.ref_id,
                &meta,
                fields,
                columns,
            )?]
        }
        timeseries::Shaped::Multi(series) => {
            let mut frames = Vec::with_capacity(series.len());
            for (i, s) in series.into_iter().enumerate() {
                // Notices once, on the first frame.
                let mut frame_meta = meta.clone();
                if i > 0 {
                    frame_meta.notices.clear();
                }
                let config = s
                    .display_name
                    .as_ref()
                    .map(|d| serde_json::json!({ "displayNameFromDS": d }));
                let fields = vec![
                    (time_field("time"), FieldMeta::default()),
                    (
                        value_field(&s.name, &s.values),
                        FieldMeta {
                            labels: s.labels,
                            config,
                        },
                    ),
                ];
                let columns: Vec<ArrayRef> =
                    vec![Arc::new(TimestampNanosecondArray::from(s.time)), s.values];
                frames.push(crate::frames::encode(
                    "",
                    &query.ref_id,
                    &frame_meta,
                    fields,
                    columns,
                )?);
            }
            frames
        }
    };
    tracing::debug!(
        ref_id = %query.ref_id,
        rows = rows as u64,
        frames = frames.len() as u64,
        first_batch_ms = first_batch.as_secs_f64() * 1e3,
        fetch_ms = fetched.as_secs_f64() * 1e3,
        shape_ms = shape_time.as_secs_f64() * 1e3,
        shape_after_fetch_ms = after_fetch.as_secs_f64() * 1e3,
        encode_ms = (shape_started.elapsed() - after_fetch).as_secs_f64() * 1e3,
        total_ms = started.elapsed().as_secs_f64() * 1e3,
        "time series frames written"
    );
    Ok(frames)
}

/// Time-series options of a query for a request: its gap filling and Altinity's
/// `extrapolate` / `nullifySparse` (read when the query was parsed), the request's range.
fn ts_options(query: &Query, request: &RequestContext) -> timeseries::TsOptions {
    let series = query.series;
    timeseries::TsOptions {
        fill: series.fill,
        from_ms: request.from_ms,
        to_ms: request.to_ms,
        interval_ms: request.interval_ms,
        max_data_points: request.max_data_points,
        extrapolate: series.extrapolate,
        till_now: request.now_ms > 0
            && (request.now_ms - request.to_ms).abs() <= request.interval_ms.max(60_000),
        nullify_sparse: series.nullify_sparse,
        ms_column_t: true,
        max_points: u64::MAX,
        max_points_from: "maxResultRows",
    }
}

fn convert_batch(
    plans: &[ColumnPlan],
    batch: &arrow_array::RecordBatch,
) -> Result<Vec<ArrayRef>, QueryError> {
    plans
        .iter()
        .zip(batch.columns())
        .map(|(p, c)| normalize::convert(p, c).map_err(QueryError::from))
        .collect()
}

/// `batch` converted by `plans`, as a batch of `schema` (the plans' fields).
fn converted_batch(
    schema: &arrow_schema::SchemaRef,
    plans: &[ColumnPlan],
    batch: &arrow_array::RecordBatch,
) -> Result<arrow_array::RecordBatch, QueryError> {
    Ok(
        arrow_array::RecordBatch::try_new(schema.clone(), convert_batch(plans, batch)?)
            .map_err(FrameError::Write)?,
    )
}

/// A frame without fields: a statement without a result, or "no data".
fn empty_frame(name: &str, ref_id: &str, meta: &FrameMeta) -> Result<Vec<Frame>, QueryError> {
    Ok(vec![crate::frames::encode(
        name,
        ref_id,
        meta,
        vec![],
        vec![],
    )?])
}

fn base_meta(sql: &str, visualisation: &'static str, query_id: &str) -> FrameMeta {
    FrameMeta {
        executed_query_string: Some(sql.to_owned()),
        preferred_visualisation_type: Some(visualisation),
        custom: Some(query_notice(query_id)),
        ..Default::default()
    }
}

/// Runs a logs query and writes one `log-lines` frame.
async fn logs_frame(
    run: &Run<'_>,
    options: &RequestOptions,
    sql: &str,
    links: &LinkTarget,
    style: FrameStyle,
) -> Result<Vec<Frame>, QueryError> {
    let query = run.query;
    let mut meta = base_meta(sql, "logs", &run.query_id);
    meta.frame_type = Some("log-lines");
    meta.type_version = Some([0, 0]);
    let Some(fetched) = fetch(run, options, sql, Format::Logs).await? else {
        return empty_frame(&query.ref_id, &query.ref_id, &meta);
    };
    let fields: Vec<Field> = fetched.plans.iter().map(|p| p.field()).collect();
    let types: Vec<ChType> = fetched.plans.iter().map(|p| p.ch.clone()).collect();
    let labels = match style {
        FrameStyle::Official => LabelNames::MapPrefixed,
        FrameStyle::Lantern => LabelNames::Flat,
    };
    let layout = match LogsLayout::with_labels(&fields, &types, links, labels) {
        Ok(layout) => Arc::new(layout),
        Err(FrameError::Shape(timeseries::ShapeError::NoTime(_)))
            if style == FrameStyle::Official =>
        {
            // That plugin's backend shows logs without a time column too: the rows as they
            // are, for the logs view.
            let meta = base_meta(sql, "logs", &run.query_id);
            return write_table(run, fetched, meta, &|_| None).await;
        }
        Err(e) => return Err(e.into()),
    };
    let Fetched {
        mut results,
        first,
        plans,
        started,
        first_batch,
    } = fetched;
    meta.notices.extend(plan_notices(&plans));
    let mut writer = FrameWriter::new(grafana_schema(
        &query.ref_id,
        &query.ref_id,
        &meta,
        layout.fields(),
    ))?;
    let converted_schema = Arc::new(arrow_schema::Schema::new(fields));
    // Batches are shaped as they arrive, on the blocking pool and up to one per core at a time
    // (shaping is CPU work: it must not stall other queries' I/O, and a large result that arrives
    // at once, as a sorted one does, is shaped in parallel). Ids are given and batches written in
    // result order as the shaped batches come back.
    let workers = shaping_workers();
    let mut caches: Vec<ShapeCaches> = (0..workers).map(|_| ShapeCaches::default()).collect();
    let mut pending: std::collections::VecDeque<Shaping> = std::collections::VecDeque::new();
    let mut ids = RowIds::default();
    let (mut rows, mut write_time) = (0usize, std::time::Duration::ZERO);
    // Gives ids to the oldest shaped slice and writes it.
    let mut write = |(c, shaped): (ShapeCaches, Result<ShapedBatch, FrameError>),
                     caches: &mut Vec<ShapeCaches>|
     -> Result<(), QueryError> {
        caches.push(c);
        let t = Instant::now();
        writer.write(ids.assign(shaped?)?)?;
        write_time += t.elapsed();
        Ok(())
    };
    let mut budget = Budget::new(run.caps);
    let mut batch = first;
    let mut fetched = first_batch;
    while let Some(b) = batch {
        let b = budget.fit(b);
        rows += b.num_rows();
        let converted = converted_batch(&converted_schema, &plans, &b)?;
        // Slices, so that even one large batch (a sorted result arrives all at once) is shaped
        // on every core.
        for start in (0..converted.num_rows()).step_by(LOGS_SLICE_ROWS) {
            let slice = converted.slice(start, LOGS_SLICE_ROWS.min(converted.num_rows() - start));
            if caches.is_empty()
                && let Some(h) = pending.pop_front()
            {
                write(joined(h.await)?, &mut caches)?;
            }
            let mut c = caches.pop().unwrap_or_default();
            let layout = layout.clone();
            pending.push_back(tokio::task::spawn_blocking(move || {
                let shaped = layout.shape(&mut c, &slice);
                (c, shaped)
            }));
        }
        // Slices already shaped are written while the next batch is on its way.
        while pending.front().is_some_and(|h| h.is_finished()) {
            if let Some(h) = pending.pop_front() {
                write(joined(h.await)?, &mut caches)?;
            }
        }
        batch = next_within(&mut results, &budget).await?;
        if batch.is_none() {
            fetched = started.elapsed();
        }
    }
    while let Some(h) = pending.pop_front() {
        write(joined(h.await)?, &mut caches)?;
    }
    if let Some(cut) = budget.cut.take() {
        meta.notices.push(cut);
        writer.set_meta(&meta);
    }
    crate::metrics::global().received(rows as u64, results.stream.received_bytes());
    let frame = writer.finish()?;
    tracing::debug!(
        ref_id = %query.ref_id,
        rows = rows as u64,
        frame_bytes = frame.len() as u64,
        first_batch_ms = first_batch.as_secs_f64() * 1e3,
        fetched_ms = fetched.as_secs_f64() * 1e3,
        ids_and_write_ms = write_time.as_secs_f64() * 1e3,
        total_ms = started.elapsed().as_secs_f64() * 1e3,
        "logs frame written"
    );
    Ok(vec![frame])
}

/// How many logs slices are shaped at once: one per core, at most 8. Read once: on Linux the
/// answer comes from the affinity mask and cgroup files, not worth re-reading per query.
fn shaping_workers() -> usize {
    static WORKERS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *WORKERS.get_or_init(|| std::thread::available_parallelism().map_or(2, |n| n.get().min(8)))
}

/// Rows per logs shaping task.
const LOGS_SLICE_ROWS: usize = 16_384;

/// A logs slice being shaped on the blocking pool; it hands its worker caches back.
type Shaping = tokio::task::JoinHandle<(ShapeCaches, Result<ShapedBatch, FrameError>)>;

/// A blocking task's result; a panic in it is this query's internal error.
fn joined<T>(r: Result<T, tokio::task::JoinError>) -> Result<T, QueryError> {
    r.map_err(|e| {
        QueryError::Internal(if e.is_panic() {
            panic_text(e.into_panic())
        } else {
            "the shaping task was cancelled".into()
        })
    })
}

/// The `format` label of a planned query's metrics.
fn metrics_format(plan: &Plan) -> crate::metrics::QueryFormat {
    use crate::metrics::QueryFormat as F;
    match plan {
        Plan::Table { .. } => F::Table,
        Plan::TimeSeries { .. } => F::TimeSeries,
        Plan::Logs { .. } => F::Logs,
        Plan::Volume { .. } => F::Volume,
        Plan::Trace { .. } => F::Traces,
    }
}

/// The outcome of a health check.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// True when ClickHouse answered.
    pub ok: bool,
    /// One line for the user.
    pub message: String,
    /// Structured details (version, user, tables, error category and hint).
    pub details: serde_json::Value,
}

/// OpenTelemetry exporter tables the health check looks for.
const OTEL_TABLES: &[&str] = &[
    "otel_logs",
    "otel_traces",
    "otel_traces_trace_id_ts",
    "otel_metrics_gauge",
    "otel_metrics_sum",
    "otel_metrics_histogram",
    "otel_metrics_exponential_histogram",
    "otel_metrics_summary",
];

/// Connects and reports version, user, readonly level and the OTel tables present.
pub async fn check_health(instance: Result<Arc<Instance>, SettingsError>) -> Health {
    let instance = match instance {
        Ok(i) => i,
        Err(e) => return failed(&QueryError::Settings(e)),
    };
    let conn = &instance.connection;
    // Every host answers a probe first; health is OK while at least one does.
    let probes = conn.probe_hosts().await;
    let hosts: Vec<serde_json::Value> = probes
        .iter()
        .map(|p| match &p.version {
            Ok(v) => json!({ "url": p.url, "ok": true, "version": v }),
            Err(e) => json!({ "url": p.url, "ok": false, "error": e.to_string() }),
        })
        .collect();
    let down: Vec<&str> = probes
        .iter()
        .filter(|p| p.version.is_err())
        .map(|p| p.url.as_str())
        .collect();
    let up_text = format!("{} of {} hosts up", probes.len() - down.len(), probes.len());
    let with_hosts = |mut h: Health| {
        h.details["hosts"] = json!(hosts);
        if probes.len() > 1 {
            h.message = format!("{up_text}. {}", h.message);
        }
        h
    };
    if down.len() == probes.len() {
        let errors = probes.iter().filter_map(|p| p.version.as_ref().err());
        let mut h = match errors.clone().next() {
            Some(e) => failed(e),
            None => failed(&QueryError::Internal("no host to probe".into())),
        };
        if probes.len() > 1 {
            let each = errors.map(|e| e.to_string()).collect::<Vec<_>>().join("; ");
            h.message = format!("{each}. {}", h.details["hint"].as_str().unwrap_or(""));
        }
        return with_hosts(h);
    }
    let info = conn
        .json_rows(
            "SELECT version(), currentUser(), toString(getSetting('readonly')), currentDatabase()",
        )
        .await;
    let row = match info {
        Ok(rows) => rows.into_iter().next().unwrap_or_default(),
        Err(e) => return with_hosts(failed(&e)),
    };
    let text = |i: usize| row.get(i).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let (version, user, readonly, database) = (text(0), text(1), text(2), text(3));
    let list = OTEL_TABLES
        .iter()
        .map(|t| crate::sql::string_literal(t))
        .collect::<Vec<_>>()
        .join(", ");
    let tables: Vec<String> = match conn
        .json_rows(&format!("SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN ({list}) ORDER BY name"))
        .await
    {
        Ok(rows) => rows.into_iter().filter_map(|r| r.first().and_then(|v| v.as_str()).map(str::to_owned)).collect(),
        Err(e) => return with_hosts(failed(&e)),
    };
    // `readonly` above is the level queries run with; the profile's own level was probed first.
    let profile = match conn.access().await {
        Ok(a) => a,
        Err(e) => return with_hosts(failed(&e)),
    };
    let (mode, mode_text) = match (conn.mode(), profile) {
        (_, Access::Locked) => (
            "read-only (profile readonly=1)",
            "queries read-only by the user's profile (readonly=1): customSettings cannot be sent",
        ),
        (_, Access::SettingsAllowed) => (
            "read-only (profile readonly=2)",
            "queries read-only by the user's profile (readonly=2); note that readonly=2 does not stop INSERT INTO FUNCTION: prefer a readonly=1 profile",
        ),
        (QueryMode::ReadOnly, Access::Free) => (
            "read-only (readonly=1)",
            "queries read-only (readonly=1, allowWrites off)",
        ),
        (QueryMode::ReadOnlySettings, Access::Free) => (
            "read-only (readonly=2)",
            "queries read-only with settings allowed (readonly=2, allowQuerySettings on): queries may change settings and INSERT INTO FUNCTION is not refused",
        ),
        (QueryMode::Writes, Access::Free) => (
            "read-write",
            "WARNING: queries may write (allowWrites is on and the user's profile is read-write)",
        ),
    };
    let otel = if tables.is_empty() {
        format!("no OpenTelemetry tables in database {database}")
    } else {
        format!("OpenTelemetry tables in {database}: {}", tables.join(", "))
    };
    let down_text = if down.is_empty() {
        String::new()
    } else {
        format!(" (down: {})", down.join(", "))
    };
    let not_applied = &instance.settings.not_applied;
    let not_applied_text = if not_applied.is_empty() {
        String::new()
    } else {
        format!(
            " Settings not applied by Lantern: {}.",
            not_applied
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let warnings = otel_version_warnings(&instance).await;
    let warnings_text: String = warnings.iter().map(|w| format!(" Warning: {w}.")).collect();
    with_hosts(Health {
        ok: true,
        message: format!(
            "Connected to ClickHouse {version} as {user}; {mode_text}; {otel}.{down_text}{not_applied_text}{warnings_text}"
        ),
        details: json!({
            "version": version,
            "user": user,
            "mode": mode,
            "readonly": readonly.parse::<u8>().ok(),
            "profileReadonly": match profile {
                Access::Free => 0,
                Access::Locked => 1,
                Access::SettingsAllowed => 2,
            },
            "database": database,
            "otelTables": tables,
            "notApplied": not_applied
                .iter()
                .map(|(key, why)| json!({"key": key, "reason": why}))
                .collect::<Vec<_>>(),
            "warnings": warnings,
        }),
    })
}

/// Where the default logs and traces tables differ from the `otelVersion` the datasource names
/// (the signal's own, else the top-level one). A table that does not exist or cannot be read is
/// not compared.
async fn otel_version_warnings(instance: &Instance) -> Vec<String> {
    let s = &instance.settings;
    let mut out = Vec::new();
    for (logs, defaults, fallback) in [
        (true, &s.logs, "otel_logs"),
        (false, &s.traces, "otel_traces"),
    ] {
        let Some(version) = defaults.otel_version else {
            continue;
        };
        let (db, table) = defaults.default_table(&s.default_database, fallback);
        let schema = match planner::table_schema(instance, &db, &table).await {
            Ok(schema) if !schema.columns.is_empty() => schema,
            _ => continue,
        };
        let found = crate::otel::classify(&schema, &defaults.overrides);
        if let Some(why) = version.mismatch(logs, &schema, found.as_ref()) {
            let signal = if logs { "logs" } else { "traces" };
            out.push(format!(
                "{signal} otelVersion is {} but the default {signal} table {}.{} {why}",
                version.name(),
                schema.database,
                schema.table
            ));
        }
    }
    out
}

/// The category of a failed health check, with a one-line hint.
pub fn categorize(e: &QueryError) -> (&'static str, &'static str) {
    match e {
        QueryError::Settings(_) => (
            "config",
            "Fix the named setting in the datasource configuration.",
        ),
        QueryError::Upstream {
            code: 192 | 193 | 194 | 516 | 497,
            ..
        } => (
            "auth",
            "Check the user name and password (and that the user may connect from Grafana's address).",
        ),
        QueryError::Tls { .. } => (
            "tls",
            "Check that the port speaks TLS when secure is on (8443) and plain HTTP when off (8123), and the CA / client certificates.",
        ),
        QueryError::Network { .. } => (
            "network",
            "Check host and port, and that Grafana's host can reach ClickHouse's HTTP interface.",
        ),
        QueryError::Timeout(_) => (
            "timeout",
            "ClickHouse did not answer in time: check the network path or raise dialTimeout/queryTimeout.",
        ),
        QueryError::BadResponse { .. } => (
            "network",
            "Something other than ClickHouse's HTTP interface answered: check port and path.",
        ),
        _ => (
            "server",
            "ClickHouse answered with an error: see the message.",
        ),
    }
}

fn failed(e: &QueryError) -> Health {
    let (category, hint) = categorize(e);
    let mut details =
        json!({ "category": category, "hint": hint, "exceptionCode": e.exception_code() });
    if let QueryError::Settings(s) = e {
        details["key"] = json!(s.key);
    }
    Health {
        ok: false,
        message: format!("{e}. {hint}"),
        details,
    }
}

#[cfg(test)]
mod flow_tests {
    //! The query flow against the fake upstream: no engine, every failure mode on demand.

    use std::sync::Arc;
    use std::time::Duration;

    use arrow_array::{ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray};
    use bytes::Bytes;

    use super::*;
    use crate::settings::{InstanceInput, Settings};
    use crate::upstream::fake::{Answer, FakeUpstream, Request, Step, arrow_body};

    fn instance(fake: Arc<FakeUpstream>, json: &str) -> Instance {
        let settings = Settings::from_instance(&InstanceInput {
            json_data: json.as_bytes(),
            ..Default::default()
        })
        .unwrap();
        Instance::new(settings, fake)
    }

    fn input(json: serde_json::Value) -> QueryInput {
        QueryInput {
            ref_id: "A".into(),
            json: serde_json::to_vec(&json).unwrap(),
            request: RequestContext {
                from_ms: 0,
                to_ms: 3_600_000,
                interval_ms: 1000,
                max_data_points: 100,
                ..Default::default()
            }
            .clamped(),
            query_type: String::new(),
        }
    }

    fn numbers(from: i64, n: i64) -> RecordBatch {
        RecordBatch::try_from_iter([(
            "n",
            Arc::new(Int64Array::from_iter_values(from..from + n)) as ArrayRef,
        )])
        .unwrap()
    }

    async fn run(inst: &Instance, json: serde_json::Value) -> Result<Vec<Frame>, QueryError> {
        let running = tokio::sync::Semaphore::new(4);
        let mut m = crate::metrics::global().query_started();
        run_query(inst, &input(json), &running, None, &mut m).await
    }

    fn killed(fake: &FakeUpstream) -> Vec<String> {
        fake.requests()
            .into_iter()
            .filter_map(|r| match r {
                Request::Kill(id) => Some(id),
                _ => None,
            })
            .collect()
    }

    fn query_ids(fake: &FakeUpstream) -> Vec<String> {
        fake.requests()
            .into_iter()
            .filter_map(|r| match r {
                Request::Arrow(_, o) => Some(o.query_id),
                _ => None,
            })
            .collect()
    }

    /// Yields until spawned kill tasks have run.
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    fn decode(frame: &Frame) -> (Vec<RecordBatch>, String) {
        let reader =
            arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(frame.to_vec()), None)
                .unwrap();
        let meta = reader.schema().metadata()["meta"].clone();
        (reader.map(Result::unwrap).collect(), meta)
    }

    fn fake() -> Arc<FakeUpstream> {
        let fake = Arc::new(FakeUpstream::new(Duration::from_millis(300)));
        fake.on(
            "DESCRIBE",
            Answer::Error("Code: 62. DB::Exception: no. (SYNTAX_ERROR)".into()),
        );
        fake
    }

    #[tokio::test]
    async fn a_cancelled_request_kills_its_server_query() {
        let fake = fake();
        fake.on("SELECT", Answer::Body(vec![Step::Hang]));
        let inst = Arc::new(instance(fake.clone(), r#"{"host":"h"}"#));
        let running = Arc::new(tokio::sync::Semaphore::new(4));
        let request = run_queries(
            Ok(inst),
            vec![input(
                serde_json::json!({"rawSql": "SELECT 1", "format": 1}),
            )],
            running,
            None,
        );
        // Grafana gives up: the request future is dropped while the query runs.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), request)
                .await
                .is_err()
        );
        settle().await;
        assert_eq!(killed(&fake), query_ids(&fake));
        assert_eq!(killed(&fake).len(), 1);
        assert_eq!(fake.open_bodies(), 0, "the body was dropped");
    }

    #[tokio::test]
    async fn a_timeout_is_a_504_and_kills_the_server_query() {
        let fake = fake();
        fake.on("SELECT", Answer::Body(vec![Step::Hang]));
        let inst = instance(fake.clone(), r#"{"host":"h"}"#);
        let e = run(
            &inst,
            serde_json::json!({"rawSql": "SELECT 1", "format": 1}),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, QueryError::Timeout(_)), "{e:?}");
        assert_eq!(e.status(), 504);
        settle().await;
        assert_eq!(killed(&fake), query_ids(&fake));
    }

    #[tokio::test]
    async fn an_exception_mid_stream_is_the_querys_error_and_nothing_is_killed() {
        let fake = fake();
        let mut steps = arrow_body(&[numbers(0, 10)], 1 << 20);
        steps.push(Step::Fail(
            "Code: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED)".into(),
        ));
        fake.on("SELECT", Answer::Body(steps));
        let inst = instance(fake.clone(), r#"{"host":"h"}"#);
        let e = run(
            &inst,
            serde_json::json!({"rawSql": "SELECT 1", "format": 1}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.exception_code(), Some(241));
    }

    #[tokio::test]
    async fn a_completed_query_is_not_killed_and_names_its_query_id() {
        let fake = fake();
        fake.on("SELECT", Answer::Body(arrow_body(&[numbers(0, 10)], 7)));
        let inst = instance(fake.clone(), r#"{"host":"h"}"#);
        let frames = run(
            &inst,
            serde_json::json!({"rawSql": "SELECT 1", "format": 1}),
        )
        .await
        .unwrap();
        let (batches, meta) = decode(&frames[0]);
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 10);
        let id = &query_ids(&fake)[0];
        assert!(meta.contains(id.as_str()), "{meta}");
        settle().await;
        assert!(killed(&fake).is_empty());
    }

    #[tokio::test]
    async fn a_result_over_the_row_cap_is_cut_with_a_notice_and_its_query_killed() {
        let fake = fake();
        let batches: Vec<RecordBatch> = (0..5).map(|i| numbers(i * 1000, 1000)).collect();
        let mut steps = arrow_body(&batches, 1 << 20);
        steps.push(Step::Hang);
        fake.on("SELECT", Answer::Body(steps));
        let inst = instance(fake.clone(), r#"{"host":"h","maxResultRows":2500}"#);
        let frames = run(
            &inst,
            serde_json::json!({"rawSql": "SELECT 1", "format": 1}),
        )
        .await
        .unwrap();
        let (batches, meta) = decode(&frames[0]);
        let values: Vec<i64> = batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(values, (0..2500).collect::<Vec<_>>());
        assert!(meta.contains("cut at 2500 rows"), "{meta}");
        settle().await;
        assert_eq!(
            killed(&fake).len(),
            1,
            "reading stopped; the rest is killed"
        );
        // A query may lower the cap, never raise it.
        let frames = run(
            &inst,
            serde_json::json!({"rawSql": "SELECT 1", "format": 1, "maxResultRows": 10_000}),
        )
        .await
        .unwrap();
        let (batches, _) = decode(&frames[0]);
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2500);
    }

    #[tokio::test]
    async fn invalid_utf8_reruns_with_binary_strings_and_is_shown_lossily() {
        let fake = fake();
        // A Utf8 column whose bytes are made invalid after encoding (the decoder validates).
        let marker = RecordBatch::try_from_iter([(
            "s",
            Arc::new(StringArray::from(vec!["MARK-é"])) as ArrayRef,
        )])
        .unwrap();
        let mut bytes: Vec<u8> = Vec::new();
        for s in arrow_body(&[marker], 1 << 20) {
            if let Step::Bytes(b) = s {
                bytes.extend_from_slice(&b);
            }
        }
        let at = bytes.windows(5).position(|w| w == b"MARK-").unwrap();
        bytes[at + 5] = 0xFF;
        fake.on_request(
            |_, o| {
                !o.settings
                    .iter()
                    .any(|(k, _)| k == "output_format_arrow_string_as_string")
            },
            Answer::Body(vec![Step::Bytes(Bytes::from(bytes))]),
        );
        let binary = RecordBatch::try_from_iter([(
            "s",
            Arc::new(BinaryArray::from(vec![&b"MARK-\xFF\xA9"[..]])) as ArrayRef,
        )])
        .unwrap();
        fake.on_request(|_, _| true, Answer::Body(arrow_body(&[binary], 1 << 20)));
        let inst = instance(fake.clone(), r#"{"host":"h"}"#);
        let frames = run(
            &inst,
            serde_json::json!({"rawSql": "SELECT s", "format": 1}),
        )
        .await
        .unwrap();
        let (batches, _) = decode(&frames[0]);
        let col = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(col.value(0), "MARK-\u{FFFD}\u{FFFD}");
        assert_eq!(query_ids(&fake).len(), 2, "one rerun");
    }

    #[tokio::test]
    async fn admin_statements_are_refused_before_reaching_the_server() {
        let fake = fake();
        let inst = instance(fake.clone(), r#"{"host":"h"}"#);
        for sql in ["KILL QUERY WHERE 1", "/* x */ system stop merges"] {
            let e = run(&inst, serde_json::json!({"rawSql": sql, "format": 1}))
                .await
                .unwrap_err();
            assert_eq!(e.status(), 403, "{sql}: {e}");
        }
        assert!(query_ids(&fake).is_empty());
    }
}
