//! The `pluginv2.Stream` service: Explore's live tail.
//!
//! * `SubscribeStream` checks the channel path (`tail/<key>`) and plans the query in the
//!   subscription data (a logs builder query, or raw SQL with format logs and a time filter
//!   macro); a bad query is refused with its reason, an unknown path with `NOT_FOUND`.
//! * `RunStream` polls ClickHouse every [`live::POLL_INTERVAL`] (window, de-duplication and rate
//!   bound in [`crate::live`]) and pushes each poll's new lines as one JSON data frame. It stops
//!   as soon as Grafana ends the call (the last subscriber left): no query runs after that, and a
//!   poll in flight is abandoned (its HTTP request is dropped).
//! * `PublishStream` is refused (`PERMISSION_DENIED`): live tail channels are read-only.
//!
//! A ClickHouse error during a poll does not end the tail: the packet carries an error notice
//! and the next poll is retried with a growing pause (up to [`MAX_BACKOFF`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::TimestampNanosecondType;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema};
use grafana_plugin_sdk::pluginv2;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::services::Services;
use crate::chtype::ChType;
use crate::error::QueryError;
use crate::frames::logs::{LinkTarget, LogsLayout, RowIds, ShapeCaches};
use crate::frames::normalize::{self, ColumnPlan};
use crate::frames::{FieldMeta, FrameMeta, Notice};
use crate::live::{self, LiveRequest, Tail, Window};
use crate::planner::{self, ResolvedLogs, lookup};
use crate::query::{Format, Query, RequestContext};
use crate::service::Instance;
use crate::sql::build::{self, LogsBuilder, Range};
use crate::sql::explore;

/// The longest pause between polls after errors.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The `pluginv2.Stream` service.
#[derive(Clone)]
pub(crate) struct StreamService(pub(crate) Services);

impl StreamService {
    /// The server to add to the gRPC router.
    pub(crate) fn server(services: Services) -> pluginv2::stream_server::StreamServer<Self> {
        pluginv2::stream_server::StreamServer::new(StreamService(services))
    }
}

/// Where a tail's rows come from.
enum Source {
    /// A logs builder query on a resolved table (with the table's sorting and primary keys).
    Builder(Box<(LogsBuilder, ResolvedLogs)>),
    /// Raw SQL: the query, its result's time column and its click-filter conditions.
    Sql {
        query: Box<Query>,
        time_column: String,
        conditions: Vec<String>,
    },
}

/// A planned tail.
struct LivePlan {
    ref_id: String,
    source: Source,
    /// The query's ad hoc filters by table (see [`crate::macros::implicit_ad_hoc`]).
    ad_hoc: Vec<(String, Vec<String>)>,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

fn invalid(e: impl std::fmt::Display) -> QueryError {
    QueryError::Invalid(e.to_string())
}

fn window_request(from_ns: i64, to_ns: i64) -> RequestContext {
    RequestContext {
        from_ms: from_ns.div_euclid(1_000_000),
        to_ms: (to_ns + 999_999).div_euclid(1_000_000),
        interval_ms: 1000,
        max_data_points: 1000,
        now_ms: to_ns / 1_000_000,
        ..Default::default()
    }
}

impl LivePlan {
    /// Plans the tail of the subscription's query.
    async fn new(instance: &Instance, req: &LiveRequest) -> Result<LivePlan, QueryError> {
        let ref_id = req
            .query
            .get("refId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or("A")
            .to_owned();
        let json =
            serde_json::to_vec(&req.query).map_err(|e| QueryError::BadJson(e.to_string()))?;
        let query = Query::parse(&ref_id, &json)?;
        let intent = planner::Intent::parse(&query, "")?;
        let settings = &instance.settings;
        let mut facts = planner::Facts::default();
        if let Some(b) = intent.logs_builder() {
            let mut b = b.clone();
            b.order = "desc".into();
            let req = window_request(now_ns() - 3_600_000_000_000, now_ns());
            let (lt, ad_hoc) = lookup::resolve(instance, &mut facts, |f| {
                let lt = planner::logs_table(settings, &b, f)?;
                let ad_hoc = planner::ad_hoc_groups(&query, "", &req, f, &lt.db, &lt.table)?;
                Ok((lt, ad_hoc))
            })
            .await?;
            return Ok(LivePlan {
                ref_id,
                source: Source::Builder(Box::new((b, lt))),
                ad_hoc,
            });
        }
        let query = match lookup::resolve(instance, &mut facts, |f| {
            planner::with_ad_hoc_table(settings, &intent.query, f)
        })
        .await?
        {
            Some(with_table) => with_table,
            None => intent.query,
        };
        if query.format != Format::Logs {
            return Err(invalid(format!(
                "live tail needs a logs query: the logs builder, or raw SQL with format logs (this query's format is {})",
                query.format.name()
            )));
        }
        // Each poll must read only its window: the SQL has to depend on the time range.
        let now = now_ns();
        let hour = 3_600 * 1_000_000_000;
        let current = query.expanded_sql(&window_request(now - hour, now))?;
        if current == query.expanded_sql(&window_request(now - 3 * hour, now - 2 * hour))? {
            return Err(invalid(
                "live tail of raw SQL needs a time filter macro (for example WHERE $__timeFilter(Timestamp)) so that each poll reads only new rows",
            ));
        }
        let ad_hoc = lookup::resolve(instance, &mut facts, |f| {
            planner::sql_ad_hoc_groups(settings, &query, &window_request(now - hour, now), f)
        })
        .await?;
        let current =
            crate::macros::wrap_with_table_filters(explore::strip_row_limits(&current), &ad_hoc);
        let (time_column, conditions) = lookup::resolve(instance, &mut facts, |f| {
            let (described, _, time) = planner::result_roles(&current, "live tail", f)?;
            let conditions = planner::click_conditions(&intent.clicks, &current, f)?;
            Ok((described[time].0.clone(), conditions))
        })
        .await?;
        Ok(LivePlan {
            ref_id,
            source: Source::Sql {
                time_column,
                query: Box::new(query),
                conditions,
            },
            ad_hoc,
        })
    }

    /// The SQL of one poll.
    fn sql(&self, w: &Window) -> Result<String, QueryError> {
        match &self.source {
            Source::Builder(bt) => {
                let (b, lt) = bt.as_ref();
                let keys = &lt.keys;
                let mut b = b.clone();
                b.limit = Some(w.limit);
                let range = Range {
                    from_ns: w.from_ns,
                    to_ns: w.to_ns,
                };
                let sql = build::logs_query(&b, lt.target(), range).map_err(invalid)?;
                // The sorting key's time buckets too (the exporter's `toStartOfFiveMinutes`), so
                // a poll reads its window's granules, not the table.
                let buckets = explore::key_bucket_conditions(
                    &[&keys[0], &keys[1]],
                    &lt.roles.time,
                    w.from_ns,
                    w.to_ns,
                );
                let sql = if buckets.is_empty() {
                    sql
                } else {
                    sql.replacen(
                        "\nWHERE ",
                        &format!("\nWHERE {} AND ", buckets.join(" AND ")),
                        1,
                    )
                };
                Ok(crate::macros::wrap_with_table_filters(sql, &self.ad_hoc))
            }
            Source::Sql {
                query,
                time_column,
                conditions,
            } => {
                let sql = explore::strip_row_limits(
                    &query.expanded_sql(&window_request(w.from_ns, w.to_ns))?,
                );
                let sql = crate::macros::wrap_with_table_filters(sql, &self.ad_hoc);
                let sql = explore::wrap_with_conditions(&sql, conditions);
                Ok(explore::live_poll_sql(
                    &sql,
                    time_column,
                    w.from_ns,
                    w.limit,
                ))
            }
        }
    }
}

/// The column plans and logs layout of a tail's results (the same for every poll).
struct Shape {
    plans: Vec<ColumnPlan>,
    schema: Arc<Schema>,
    layout: LogsLayout,
    id: usize,
    time: usize,
}

/// One poll's shaped rows.
struct Polled {
    batches: Vec<Vec<ArrayRef>>,
    /// (batch, row, id, time ns), in result order (newest first).
    rows: Vec<(usize, usize, String, i64)>,
}

async fn poll(
    instance: &Instance,
    sql: &str,
    query_id: &str,
    shape: &mut Option<Shape>,
    links: &LinkTarget,
) -> Result<Polled, QueryError> {
    let conn = &instance.connection;
    // ClickHouse's types once per tail (Arrow alone cannot tell DateTime from UInt32).
    let types: Option<Vec<ChType>> = match shape {
        Some(_) => None,
        None => Some(
            conn.describe(sql)
                .await?
                .into_iter()
                .map(|(_, t)| t)
                .collect(),
        ),
    };
    // The server stops the poll's work when the plugin stops reading (the tail ended).
    let options = crate::upstream::RequestOptions {
        query_id: query_id.to_owned(),
        settings: vec![
            (
                "cancel_http_readonly_queries_on_client_close".into(),
                "1".into(),
            ),
            (
                "max_execution_time".into(),
                conn.query_timeout().as_secs().saturating_add(1).to_string(),
            ),
        ],
    };
    let mut stream = conn.arrow(sql, &options).await?;
    let first = stream.next_batch().await?;
    if let Some(types) = types {
        let Some(schema) = stream.schema() else {
            return Err(invalid("the live tail query returned no columns"));
        };
        *shape = Some(make_shape(schema.fields(), &types, links)?);
    }
    let Some(s) = shape.as_ref() else {
        return Err(invalid("the live tail query returned no columns"));
    };
    read(stream, first, s).await
}

fn make_shape(
    fields: &arrow_schema::Fields,
    types: &[ChType],
    links: &LinkTarget,
) -> Result<Shape, QueryError> {
    let types = (types.len() == fields.len()).then_some(types);
    let mut plans = normalize::plan(fields, types)?;
    for (plan, field) in plans.iter_mut().zip(fields) {
        // The logs shaper reads attribute maps raw (labels).
        if matches!(plan.ch.base(), ChType::Map(_, _)) {
            plan.keep_raw(field.data_type().clone());
        }
    }
    let out_fields: Vec<Field> = plans.iter().map(ColumnPlan::field).collect();
    let ch: Vec<ChType> = plans.iter().map(|p| p.ch.clone()).collect();
    let layout = LogsLayout::new(&out_fields, &ch, links)?;
    let names: Vec<String> = layout
        .fields()
        .iter()
        .map(|(f, _)| f.name().clone())
        .collect();
    let pos = |n: &str| names.iter().position(|x| x == n);
    let (Some(id), Some(time)) = (pos("id"), pos("timestamp")) else {
        return Err(invalid("the logs frame has no id or timestamp field"));
    };
    Ok(Shape {
        plans,
        schema: Arc::new(Schema::new(out_fields)),
        layout,
        id,
        time,
    })
}

async fn read(
    mut stream: crate::upstream::ArrowStream,
    first: Option<RecordBatch>,
    s: &Shape,
) -> Result<Polled, QueryError> {
    let mut caches = ShapeCaches::default();
    let mut ids = RowIds::default();
    let mut out = Polled {
        batches: Vec::new(),
        rows: Vec::new(),
    };
    let mut batch = first;
    while let Some(b) = batch {
        let converted: Vec<ArrayRef> = s
            .plans
            .iter()
            .zip(b.columns())
            .map(|(p, c)| normalize::convert(p, c))
            .collect::<Result<_, _>>()?;
        let converted = RecordBatch::try_new(s.schema.clone(), converted)
            .map_err(crate::frames::FrameError::Write)?;
        let columns = ids.assign(s.layout.shape(&mut caches, &converted)?)?;
        let bi = out.batches.len();
        let id_col = columns[s.id].as_string::<i32>();
        let time_col = columns[s.time].as_primitive::<TimestampNanosecondType>();
        for r in 0..columns[s.id].len() {
            out.rows
                .push((bi, r, id_col.value(r).to_owned(), time_col.value(r)));
        }
        out.batches.push(columns);
        batch = stream.next_batch().await?;
    }
    Ok(out)
}

/// Polls until the receiver is gone; every poll's new lines go out as one packet.
async fn run_tail(
    instance: Arc<Instance>,
    plan: LivePlan,
    path: String,
    links: LinkTarget,
    running: Arc<tokio::sync::Semaphore>,
    tx: mpsc::Sender<Result<pluginv2::StreamPacket, Status>>,
) {
    let started = Instant::now();
    let mut tail = Tail::new(now_ns());
    let mut shape: Option<Shape> = None;
    let mut failures = 0u32;
    let tail_id = format!("{:x}", now_ns());
    let (mut polls, mut delivered, mut dropped_total) = (0u64, 0u64, 0u64);
    tracing::info!(path = %path, "live tail started");
    loop {
        let now = now_ns();
        let window = tail.window(now);
        let poll_started = Instant::now();
        polls += 1;
        let query_id = format!("lantern-live-{tail_id}-{polls}");
        // A poll is a query like any other: it waits for a slot of the plugin-wide limit and
        // is counted (format `live`) in the metrics.
        let mut in_flight = crate::metrics::global().query_started();
        in_flight.set_format(crate::metrics::QueryFormat::Live);
        let work = async {
            let _permit = running
                .acquire()
                .await
                .map_err(|_| QueryError::Internal("the plugin is shutting down".into()))?;
            let sql = plan.sql(&window)?;
            let polled = poll(&instance, &sql, &query_id, &mut shape, &links).await?;
            Ok::<_, QueryError>((sql, polled))
        };
        let timeout = instance.connection.query_timeout();
        let result = tokio::select! {
            _ = tx.closed() => break,
            r = tokio::time::timeout(timeout, work) => r.unwrap_or(Err(QueryError::Timeout(timeout))),
        };
        in_flight.finish_sent(result.as_ref().map(|_| (0, 0)));
        let mut meta = FrameMeta {
            frame_type: Some("log-lines"),
            type_version: Some([0, 0]),
            preferred_visualisation_type: Some("logs"),
            ..Default::default()
        };
        let packet = match result {
            Ok((sql, polled)) => {
                failures = 0;
                let accepted = tail.accept(
                    &window,
                    polled.rows.iter().map(|(_, _, id, t)| (id.as_str(), *t)),
                    now_ns(),
                );
                let mut dropped = accepted.dropped;
                if accepted.capped {
                    // Older rows of the window were cut by the poll's limit: count them.
                    let counted = instance
                        .connection
                        .json_rows(&explore::count_sql(&sql))
                        .await
                        .ok()
                        .and_then(|rows| rows.first()?.first().cloned())
                        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                        .unwrap_or(0);
                    dropped += counted.saturating_sub(polled.rows.len() as u64);
                }
                tracing::debug!(
                    path = %path,
                    poll = polls,
                    query_id = %query_id,
                    rows = polled.rows.len() as u64,
                    delivered = accepted.deliver.len() as u64,
                    dropped,
                    remembered = tail.remembered() as u64,
                    from_ns = window.from_ns,
                    limit = window.limit,
                    elapsed_ms = poll_started.elapsed().as_secs_f64() * 1e3,
                    sql = %sql,
                    "live tail poll"
                );
                // The first poll always answers (its frame tells the fields); later ones only
                // when there are lines or news of dropped ones.
                if accepted.deliver.is_empty() && dropped == 0 && polls > 1 {
                    None
                } else {
                    delivered += accepted.deliver.len() as u64;
                    dropped_total += dropped;
                    if dropped > 0 {
                        meta.notices.push(live::dropped_notice(dropped));
                    }
                    let rows: Vec<(usize, usize)> = accepted
                        .deliver
                        .iter()
                        .map(|&i| (polled.rows[i].0, polled.rows[i].1))
                        .collect();
                    let fields: Vec<(Field, FieldMeta)> = shape
                        .as_ref()
                        .map(|s| s.layout.fields())
                        .unwrap_or_default();
                    Some(live::frame_json(
                        &plan.ref_id,
                        &meta,
                        &fields,
                        &polled.batches,
                        &rows,
                    ))
                }
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(path = %path, error = %e, "live tail poll failed");
                meta.notices.push(Notice {
                    severity: "error",
                    text: format!("Live tail: {e}"),
                });
                let fields: Vec<(Field, FieldMeta)> = shape
                    .as_ref()
                    .map(|s| s.layout.fields())
                    .unwrap_or_default();
                Some(live::frame_json(&plan.ref_id, &meta, &fields, &[], &[]))
            }
        };
        if let Some(data) = packet {
            crate::metrics::global().sent(1, data.len() as u64);
            if tx.send(Ok(pluginv2::StreamPacket { data })).await.is_err() {
                break;
            }
        }
        let pause = if failures == 0 {
            live::POLL_INTERVAL.saturating_sub(poll_started.elapsed())
        } else {
            (live::POLL_INTERVAL * 2u32.saturating_pow(failures.min(8))).min(MAX_BACKOFF)
        };
        tokio::select! {
            _ = tx.closed() => break,
            _ = tokio::time::sleep(pause) => {}
        }
    }
    tracing::info!(
        path = %path,
        polls,
        delivered,
        dropped = dropped_total,
        seconds = started.elapsed().as_secs_f64(),
        "live tail stopped"
    );
}

#[tonic::async_trait]
impl pluginv2::stream_server::Stream for StreamService {
    async fn subscribe_stream(
        &self,
        request: Request<pluginv2::SubscribeStreamRequest>,
    ) -> Result<Response<pluginv2::SubscribeStreamResponse>, Status> {
        use pluginv2::subscribe_stream_response::Status as S;
        let req = request.into_inner();
        let live = match LiveRequest::parse(&req.path, &req.data) {
            Ok(l) => l,
            Err(e @ live::ChannelError::NotFound(_)) => {
                tracing::warn!(error = %e, "live tail subscription refused");
                return Ok(Response::new(pluginv2::SubscribeStreamResponse {
                    status: S::NotFound as i32,
                    data: Vec::new(),
                }));
            }
            Err(e) => return Err(Status::invalid_argument(e.to_string())),
        };
        let instance = self
            .0
            .instance(req.plugin_context.as_ref())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        // Plan now so that a query the tail cannot run is refused with its reason.
        LivePlan::new(&instance, &live)
            .await
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        Ok(Response::new(pluginv2::SubscribeStreamResponse {
            status: S::Ok as i32,
            data: Vec::new(),
        }))
    }

    type RunStreamStream = ReceiverStream<Result<pluginv2::StreamPacket, Status>>;

    async fn run_stream(
        &self,
        request: Request<pluginv2::RunStreamRequest>,
    ) -> Result<Response<Self::RunStreamStream>, Status> {
        let req = request.into_inner();
        let live = LiveRequest::parse(&req.path, &req.data).map_err(|e| match e {
            live::ChannelError::NotFound(_) => Status::not_found(e.to_string()),
            live::ChannelError::BadData(_) => Status::invalid_argument(e.to_string()),
        })?;
        let instance = self
            .0
            .instance(req.plugin_context.as_ref())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let plan = LivePlan::new(&instance, &live)
            .await
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let ds = req
            .plugin_context
            .as_ref()
            .and_then(|c| c.data_source_instance_settings.as_ref());
        let links = LinkTarget {
            datasource_uid: ds.map(|d| d.uid.clone()).unwrap_or_default(),
            datasource_name: ds.map(|d| d.name.clone()).unwrap_or_default(),
        };
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(run_tail(
            instance,
            plan,
            req.path,
            links,
            self.0.plugin.running.clone(),
            tx,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn publish_stream(
        &self,
        request: Request<pluginv2::PublishStreamRequest>,
    ) -> Result<Response<pluginv2::PublishStreamResponse>, Status> {
        use pluginv2::publish_stream_response::Status as S;
        tracing::warn!(path = %request.get_ref().path, "publish to a live tail channel refused");
        Ok(Response::new(pluginv2::PublishStreamResponse {
            status: S::PermissionDenied as i32,
            data: Vec::new(),
        }))
    }
}
