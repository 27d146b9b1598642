//! Live tail: the channel contract, the poll window, de-duplication, the rate bound and the
//! frames pushed to Grafana. Pure and synchronous; the gRPC service in `grpc::stream` runs it.
//!
//! # Channel
//!
//! Explore's Live button subscribes to the datasource channel `ds/<uid>/tail/<key>` with the
//! query model as the subscription's `data` (the same JSON QueryData receives: a logs builder
//! query or raw SQL with format logs). `<key>` is chosen by the frontend, unique per query (a hash
//! of the query JSON): 1–128 characters of `[A-Za-z0-9_.-]`. Grafana runs one `RunStream` per
//! channel for all its subscribers and ends it when the last one leaves.
//!
//! # Polling
//!
//! ClickHouse has no push, so the tail polls every [`POLL_INTERVAL`]. Each poll reads a window
//! `[from, now + FUTURE]` of the table's time column (and, for builder queries, the primary-key
//! time columns, so parts and granules outside the window are skipped):
//! `from = max(watermark, now − MAX_LAG) − OVERLAP`, where the watermark is the newest row time
//! delivered so far (never ahead of the plugin's clock). The overlap re-reads the last
//! [`OVERLAP`] of rows so that rows which become visible late (ingestion batching) are still
//! caught; rows already delivered are recognised by their stable log id (the `id` field of the
//! logs frame: a hash of time, body and labels, or the query's own `id` column) and skipped.
//! The ids remembered are only those inside the window (older ones are pruned each poll, and
//! the SQL lower bound guarantees they never come back), so memory is bounded by the rows of one
//! window, at most [`MAX_SEEN`].
//!
//! # Rate bound
//!
//! At most [`MAX_LINES_PER_SECOND`] new lines are delivered per second (a token bucket with one
//! second of burst); each poll asks for the newest `budget + remembered` rows. Lines over the
//! budget are dropped — the newest are kept — and the packet carries a warning notice saying how
//! many; dropped lines are remembered too, so they never arrive later out of order.

use std::collections::HashMap;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, Field, TimeUnit};
use serde_json::{Value, json};

use crate::frames::{FieldMeta, FrameMeta, Notice};

/// How often a tail polls ClickHouse.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How far back each poll re-reads behind the watermark, for rows that become visible late.
pub const OVERLAP: Duration = Duration::from_secs(5);
/// The watermark never lags the clock by more than this (bounds a poll's window when no rows
/// match for a long time).
pub const MAX_LAG: Duration = Duration::from_secs(60);
/// Rows stamped up to this far ahead of the plugin's clock are read.
pub const FUTURE: Duration = Duration::from_secs(60);
/// New lines delivered per second at most; more are dropped with a notice.
pub const MAX_LINES_PER_SECOND: u64 = 1000;
/// Ids remembered at most (the rows of one window are far fewer at the rate bound).
pub const MAX_SEEN: usize = 100_000;

const NS: i64 = 1_000_000_000;

fn ns(d: Duration) -> i64 {
    d.as_nanos() as i64
}

/// A validated live channel request.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveRequest {
    /// The channel key (after `tail/`).
    pub key: String,
    /// The query model (a JSON object).
    pub query: serde_json::Map<String, Value>,
}

/// Why a channel request is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The path is not `tail/<key>`.
    #[error(
        "unknown channel path {0:?}: live tail channels are tail/<key> (key: 1-128 of A-Z a-z 0-9 _ . -)"
    )]
    NotFound(String),
    /// The subscription data is not a query object.
    #[error("the live tail subscription needs the query as its data (a JSON object): {0}")]
    BadData(String),
}

impl LiveRequest {
    /// Reads a channel path and its subscription data.
    pub fn parse(path: &str, data: &[u8]) -> Result<LiveRequest, ChannelError> {
        let key = path
            .strip_prefix("tail/")
            .filter(|k| {
                !k.is_empty()
                    && k.len() <= 128
                    && k.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
            })
            .ok_or_else(|| ChannelError::NotFound(path.chars().take(200).collect()))?;
        let query = match serde_json::from_slice::<Value>(data) {
            Ok(Value::Object(o)) => o,
            Ok(other) => {
                return Err(ChannelError::BadData(format!(
                    "got {}",
                    match other {
                        Value::Null => "null",
                        Value::Array(_) => "an array",
                        _ => "a scalar",
                    }
                )));
            }
            Err(e) => return Err(ChannelError::BadData(e.to_string())),
        };
        Ok(LiveRequest {
            key: key.to_owned(),
            query,
        })
    }
}

/// What one poll reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Lower time bound, ns (inclusive).
    pub from_ns: i64,
    /// Upper time bound, ns.
    pub to_ns: i64,
    /// Rows to ask for, newest first.
    pub limit: u64,
    /// New lines this poll may deliver.
    pub budget: u64,
}

/// What a poll's rows come to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Indexes (into the poll's rows) of the lines to deliver, oldest first.
    pub deliver: Vec<usize>,
    /// New lines over the budget, not delivered.
    pub dropped: u64,
    /// The poll returned as many rows as it asked for: older rows of the window may exist
    /// unseen (ask how many with a count to report them as dropped).
    pub capped: bool,
}

/// A tail's state between polls.
#[derive(Debug)]
pub struct Tail {
    watermark_ns: i64,
    /// Rows older than this were cut by a capped poll: they count as dropped, never delivered.
    floor_ns: i64,
    seen: HashMap<String, i64>,
    tokens: f64,
    refilled_ns: i64,
    rate: u64,
}

impl Tail {
    /// A tail starting at `now_ns` with the default rate bound.
    pub fn new(now_ns: i64) -> Tail {
        Tail::with_rate(now_ns, MAX_LINES_PER_SECOND)
    }

    /// A tail with its own rate bound (lines per second, at least 1).
    pub fn with_rate(now_ns: i64, rate: u64) -> Tail {
        let rate = rate.max(1);
        Tail {
            watermark_ns: now_ns,
            floor_ns: i64::MIN,
            seen: HashMap::new(),
            tokens: rate as f64,
            refilled_ns: now_ns,
            rate,
        }
    }

    /// Ids remembered now.
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }

    /// The window of the poll at `now_ns`; forgets ids older than it.
    pub fn window(&mut self, now_ns: i64) -> Window {
        let elapsed = (now_ns - self.refilled_ns).max(0) as f64 / NS as f64;
        self.tokens = (self.tokens + elapsed * self.rate as f64).min(self.rate as f64);
        self.refilled_ns = now_ns;
        let from_ns = (self.watermark_ns.min(now_ns).max(now_ns - ns(MAX_LAG)) - ns(OVERLAP))
            .max(self.floor_ns);
        // The SQL bound of a DateTime (seconds) column rounds down by up to a second: keep ids a
        // second longer than the window so no row can come back after being forgotten.
        let horizon = from_ns - NS;
        self.seen.retain(|_, t| *t >= horizon);
        let budget = self.tokens.floor().max(0.0) as u64;
        Window {
            from_ns,
            to_ns: now_ns + ns(FUTURE),
            limit: (budget + self.seen.len() as u64).clamp(1, MAX_SEEN as u64),
            budget,
        }
    }

    /// Takes a poll's rows (`(id, time_ns)`, newest first as the poll asks) and decides which
    /// are delivered.
    pub fn accept<'a>(
        &mut self,
        window: &Window,
        rows: impl ExactSizeIterator<Item = (&'a str, i64)>,
        now_ns: i64,
    ) -> Accepted {
        let returned = rows.len();
        let mut fresh = Vec::new();
        let mut oldest = i64::MAX;
        for (i, (id, t)) in rows.enumerate() {
            oldest = oldest.min(t);
            if t <= now_ns {
                self.watermark_ns = self.watermark_ns.max(t);
            }
            if self.seen.contains_key(id) {
                continue;
            }
            if self.seen.len() < MAX_SEEN {
                self.seen.insert(id.to_owned(), t);
            }
            fresh.push(i);
        }
        let capped = returned as u64 >= window.limit;
        if capped && oldest != i64::MAX {
            self.floor_ns = self.floor_ns.max(oldest);
        }
        let keep = fresh.len().min(window.budget as usize);
        let dropped = (fresh.len() - keep) as u64;
        self.tokens = (self.tokens - keep as f64).max(0.0);
        let mut deliver: Vec<usize> = fresh.into_iter().take(keep).collect();
        deliver.reverse();
        Accepted {
            deliver,
            dropped,
            capped,
        }
    }
}

/// The notice a packet carries when lines were dropped.
pub fn dropped_notice(dropped: u64) -> Notice {
    Notice {
        severity: "warning",
        text: format!(
            "Live tail: {dropped} line{} dropped (at most {MAX_LINES_PER_SECOND} lines per second are shown; narrow the query to see every line)",
            if dropped == 1 { "" } else { "s" }
        ),
    }
}

/// Grafana's JSON data frame (`{schema, data}`, the format of a stream packet) of the chosen
/// `rows` (batch index, row index) of a logs result whose fields are `fields` and whose batches
/// hold `batches` (the columns of each shaped batch).
pub fn frame_json(
    ref_id: &str,
    meta: &FrameMeta,
    fields: &[(Field, FieldMeta)],
    batches: &[Vec<ArrayRef>],
    rows: &[(usize, usize)],
) -> Vec<u8> {
    let schema_fields: Vec<Value> = fields
        .iter()
        .map(|(f, m)| {
            let (kind, frame) = json_type(f.data_type());
            let mut o = json!({
                "name": f.name(),
                "type": kind,
                "typeInfo": {"frame": frame},
            });
            if f.is_nullable() {
                o["typeInfo"]["nullable"] = Value::Bool(true);
            }
            if !m.labels.is_empty() {
                o["labels"] = json!(m.labels);
            }
            if let Some(c) = &m.config {
                o["config"] = c.clone();
            }
            o
        })
        .collect();
    let mut values: Vec<Vec<Value>> = vec![Vec::with_capacity(rows.len()); fields.len()];
    let mut nanos: Vec<Option<Vec<i64>>> = vec![None; fields.len()];
    for (f, (field, _)) in fields.iter().enumerate() {
        let is_time = matches!(
            field.data_type(),
            DataType::Timestamp(TimeUnit::Nanosecond, _)
        );
        let mut rest = Vec::new();
        for &(b, r) in rows {
            let Some(col) = batches.get(b).and_then(|c| c.get(f)) else {
                values[f].push(Value::Null);
                continue;
            };
            if is_time && !col.is_null(r) {
                let t = col.as_primitive::<TimestampNanosecondType>().value(r);
                values[f].push(json!(t.div_euclid(1_000_000)));
                rest.push(t.rem_euclid(1_000_000));
            } else {
                values[f].push(json_value(col, r));
                rest.push(0);
            }
        }
        if is_time && rest.iter().any(|n| *n != 0) {
            nanos[f] = Some(rest);
        }
    }
    let mut data = json!({ "values": values });
    if nanos.iter().any(Option::is_some) {
        data["nanos"] = json!(nanos);
    }
    let frame = json!({
        "schema": {"refId": ref_id, "meta": meta, "fields": schema_fields},
        "data": data,
    });
    serde_json::to_vec(&frame).unwrap_or_default()
}

/// Grafana's field type and Go frame type of an Arrow type.
fn json_type(t: &DataType) -> (&'static str, &'static str) {
    match t {
        DataType::Timestamp(..) => ("time", "time.Time"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ("string", "string"),
        DataType::Boolean => ("boolean", "bool"),
        DataType::Int8 => ("number", "int8"),
        DataType::Int16 => ("number", "int16"),
        DataType::Int32 => ("number", "int32"),
        DataType::Int64 => ("number", "int64"),
        DataType::UInt8 => ("number", "uint8"),
        DataType::UInt16 => ("number", "uint16"),
        DataType::UInt32 => ("number", "uint32"),
        DataType::UInt64 => ("number", "uint64"),
        DataType::Float32 => ("number", "float32"),
        DataType::Float64 => ("number", "float64"),
        _ => ("other", "json.RawMessage"),
    }
}

/// One value as JSON: numbers, text, booleans; binary columns hold JSON text (labels, nested
/// values) and are embedded as JSON.
fn json_value(col: &ArrayRef, r: usize) -> Value {
    if col.is_null(r) {
        return Value::Null;
    }
    macro_rules! num {
        ($t:ty) => {
            json!(col.as_primitive::<$t>().value(r))
        };
    }
    match col.data_type() {
        DataType::Utf8 => Value::String(col.as_string::<i32>().value(r).to_owned()),
        DataType::LargeUtf8 => Value::String(col.as_string::<i64>().value(r).to_owned()),
        DataType::Boolean => Value::Bool(col.as_boolean().value(r)),
        DataType::Int8 => num!(Int8Type),
        DataType::Int16 => num!(Int16Type),
        DataType::Int32 => num!(Int32Type),
        DataType::Int64 => num!(Int64Type),
        DataType::UInt8 => num!(UInt8Type),
        DataType::UInt16 => num!(UInt16Type),
        DataType::UInt32 => num!(UInt32Type),
        DataType::UInt64 => num!(UInt64Type),
        DataType::Float32 => num!(Float32Type),
        DataType::Float64 => num!(Float64Type),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            json!(col.as_primitive::<TimestampNanosecondType>().value(r) / 1_000_000)
        }
        DataType::Binary => {
            serde_json::from_slice(col.as_binary::<i32>().value(r)).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(col.as_binary::<i32>().value(r)).into())
            })
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{BinaryArray, StringArray, TimestampNanosecondArray};

    use super::*;

    const T0: i64 = 1_700_000_000 * NS;

    #[test]
    fn channel_paths_and_data_are_validated() {
        let r = LiveRequest::parse("tail/abc-1_2.x", br#"{"refId":"A","rawSql":"x"}"#).unwrap();
        assert_eq!(r.key, "abc-1_2.x");
        assert_eq!(r.query["refId"], "A");
        for bad in ["tail/", "tail/a/b", "other/x", "tail/a b", "tail/../x/"] {
            assert!(
                matches!(
                    LiveRequest::parse(bad, b"{}"),
                    Err(ChannelError::NotFound(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            LiveRequest::parse(&format!("tail/{}", "k".repeat(129)), b"{}"),
            Err(ChannelError::NotFound(_))
        ));
        assert!(matches!(
            LiveRequest::parse("tail/a", b"[1]"),
            Err(ChannelError::BadData(_))
        ));
        assert!(matches!(
            LiveRequest::parse("tail/a", b""),
            Err(ChannelError::BadData(_))
        ));
    }

    fn rows<'l>(
        list: &'l [(&'static str, i64)],
    ) -> std::iter::Copied<std::slice::Iter<'l, (&'static str, i64)>> {
        list.iter().copied()
    }

    #[test]
    fn the_window_overlaps_the_watermark_and_is_bounded() {
        let mut tail = Tail::new(T0);
        let w = tail.window(T0);
        assert_eq!(w.from_ns, T0 - ns(OVERLAP));
        assert_eq!(w.to_ns, T0 + ns(FUTURE));
        assert_eq!(w.budget, MAX_LINES_PER_SECOND);
        tail.accept(&w, rows(&[("b", T0 - NS), ("a", T0 - 2 * NS)]), T0);
        // Ten minutes without a matching row: the window still starts at most MAX_LAG back.
        let later = T0 + 600 * NS;
        let w = tail.window(later);
        assert_eq!(w.from_ns, later - ns(MAX_LAG) - ns(OVERLAP));
        // A row stamped in the future does not move the watermark past the clock.
        let mut tail = Tail::new(T0);
        let w = tail.window(T0);
        tail.accept(&w, rows(&[("f", T0 + 3600 * NS)]), T0);
        assert_eq!(tail.window(T0 + NS).from_ns, T0 - ns(OVERLAP));
    }

    #[test]
    fn rows_are_delivered_once_oldest_first() {
        let mut tail = Tail::new(T0);
        let w = tail.window(T0);
        let a = tail.accept(&w, rows(&[("c", T0), ("b", T0 - 1), ("a", T0 - 2)]), T0);
        assert_eq!(a.deliver, vec![2, 1, 0]);
        let w = tail.window(T0 + NS / 2);
        // The overlap brings b and c back, with the new d.
        let a = tail.accept(
            &w,
            rows(&[("d", T0 + NS / 4), ("c", T0), ("b", T0 - 1)]),
            T0 + NS / 2,
        );
        assert_eq!(a.deliver, vec![0]);
        assert_eq!(a.dropped, 0);
        // A late row, older than the watermark but inside the overlap, still arrives.
        let w = tail.window(T0 + NS);
        let a = tail.accept(&w, rows(&[("d", T0 + NS / 4), ("late", T0 - NS)]), T0 + NS);
        assert_eq!(a.deliver, vec![1]);
    }

    #[test]
    fn remembered_ids_stay_inside_the_window() {
        let mut tail = Tail::new(T0);
        for s in 0..100i64 {
            let now = T0 + s * NS;
            let w = tail.window(now);
            let ids: Vec<String> = (0..10).map(|i| format!("{s}-{i}")).collect();
            let list: Vec<(&str, i64)> = ids.iter().map(|id| (id.as_str(), now)).collect();
            let a = tail.accept(&w, list.into_iter(), now);
            assert_eq!(a.deliver.len(), 10);
        }
        // OVERLAP + 1 s of horizon + this second: about 7 seconds of ids, not 100.
        assert!(tail.remembered() <= 80, "{}", tail.remembered());
    }

    #[test]
    fn lines_over_the_rate_are_dropped_newest_kept_and_never_come_back() {
        let mut tail = Tail::with_rate(T0, 2);
        let w = tail.window(T0);
        assert_eq!(w.budget, 2);
        let a = tail.accept(
            &w,
            rows(&[("d", T0), ("c", T0 - 1), ("b", T0 - 2), ("a", T0 - 3)]),
            T0,
        );
        assert_eq!(a.deliver, vec![1, 0]);
        assert_eq!(a.dropped, 2);
        // Half a second later one token is back; a and b (dropped) are not delivered late.
        let w = tail.window(T0 + NS / 2);
        assert_eq!(w.budget, 1);
        let a = tail.accept(
            &w,
            rows(&[("e", T0 + 1), ("d", T0), ("b", T0 - 2), ("a", T0 - 3)]),
            T0 + NS / 2,
        );
        assert_eq!(a.deliver, vec![0]);
        assert_eq!(a.dropped, 0);
    }

    #[test]
    fn a_capped_poll_sets_a_floor() {
        let mut tail = Tail::with_rate(T0, 1);
        let w = tail.window(T0);
        assert_eq!(w.limit, 1);
        let a = tail.accept(&w, rows(&[("z", T0)]), T0);
        assert!(a.capped);
        assert_eq!(tail.window(T0 + NS).from_ns, T0);
    }

    #[test]
    fn frames_are_grafana_json_with_ms_times_and_nanos() {
        let fields = vec![
            (
                Field::new(
                    "timestamp",
                    DataType::Timestamp(TimeUnit::Nanosecond, None),
                    false,
                ),
                FieldMeta::default(),
            ),
            (
                Field::new("body", DataType::Utf8, false),
                FieldMeta::default(),
            ),
            (
                Field::new("labels", DataType::Binary, true),
                FieldMeta::default(),
            ),
        ];
        let batch: Vec<ArrayRef> = vec![
            Arc::new(TimestampNanosecondArray::from(vec![T0 + 1_500_000, T0])),
            Arc::new(StringArray::from(vec!["b", "a"])),
            Arc::new(BinaryArray::from(vec![
                Some(br#"{"k8s.pod.name":"p"}"#.as_slice()),
                None,
            ])),
        ];
        let meta = FrameMeta {
            frame_type: Some("log-lines"),
            notices: vec![dropped_notice(3)],
            ..Default::default()
        };
        let bytes = frame_json("A", &meta, &fields, &[batch], &[(0, 1), (0, 0)]);
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["schema"]["refId"], "A");
        assert_eq!(v["schema"]["meta"]["type"], "log-lines");
        assert!(
            v["schema"]["meta"]["notices"][0]["text"]
                .as_str()
                .unwrap()
                .contains("3 lines dropped")
        );
        assert_eq!(v["schema"]["fields"][0]["type"], "time");
        assert_eq!(v["schema"]["fields"][2]["typeInfo"]["nullable"], true);
        assert_eq!(
            v["data"]["values"],
            json!([[T0 / 1_000_000, T0 / 1_000_000 + 1], ["a", "b"], [null, {"k8s.pod.name": "p"}]])
        );
        assert_eq!(v["data"]["nanos"], json!([[0, 500_000], null, null]));
    }
}
