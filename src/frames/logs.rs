//! Logs frames: any logs result (builder or raw SQL) → Grafana's `log-lines` data-plane frame.
//!
//! Column roles are recognised in the result by name and type, so raw SQL controls them with
//! aliases (README: "Logs from raw SQL"):
//!
//! | Role | Names (case-insensitive) | Type |
//! |---|---|---|
//! | timestamp | `timestamp`, `Timestamp`, `time`, `ts`, `EventTime` (else the first time column) | time |
//! | body | `body`, `Body`, `message`, `msg`, `log`, `line` (else the first string column) | string |
//! | severity | `severity`, `severity_text`, `SeverityText`, `level`, `lvl`, `log_level` | string |
//! | severity number | `severity_number`, `SeverityNumber` | number |
//! | id | `id` | string |
//! | trace / span id | `traceID`, `TraceId`, `trace_id` / `spanID`, `SpanId`, `span_id` | string |
//! | service | `service`, `ServiceName`, `service_name` (label `service.name`) | string |
//! | attribute maps | `ResourceAttributes`, `ScopeAttributes`, `LogAttributes`, `attributes`, `labels` | Map |
//!
//! Every other string column becomes a label; other columns stay as extra fields. Severity is
//! normalised to Grafana's levels from the text (or the OTel number when the text is empty).
//! Rows get a stable id (a hash of time, body and labels, plus a counter for exact duplicates)
//! unless the result has `id`. The trace id field carries a data link that opens the trace in
//! this datasource.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, RecordBatch, TimestampNanosecondArray, cast::AsArray, types::*,
};
use arrow_schema::{DataType, Field, TimeUnit};
use serde_json::json;

use super::json::{write_str_bytes, write_value};
use super::timeseries::{Interner, number_at};
use super::{FieldMeta, FrameError};
use crate::chtype::ChType;
use crate::otel::{level_from_number, level_from_text};

/// Where trace links point.
#[derive(Clone, Debug, Default)]
pub struct LinkTarget {
    /// This datasource's uid.
    pub datasource_uid: String,
    /// This datasource's name.
    pub datasource_name: String,
}

/// The data link from a trace's `traceID` field to this datasource's logs of that trace (a logs
/// builder query on the datasource's logs table, filtered on the trace id column).
pub fn trace_to_logs_link(
    (target, logs): (&LinkTarget, &crate::settings::SignalDefaults),
) -> serde_json::Value {
    let trace_column = logs
        .overrides
        .trace_id_column
        .clone()
        .unwrap_or_else(|| "TraceId".to_owned());
    json!({"links": [{
        "title": "Logs for this trace",
        "url": "",
        "internal": {
            "datasourceUid": target.datasource_uid,
            "datasourceName": target.datasource_name,
            "query": {
                "refId": "logs", "editorType": crate::official::LANTERN_BUILDER, "format": 2, "queryType": "logs",
                "builder": {"database": logs.database, "table": logs.table,
                            "filters": [{"key": trace_column, "op": "=", "value": "${__value.raw}"}], "order": "asc"}
            }
        }
    }]})
}

/// The data link from a trace id to that trace in this datasource ("View trace").
pub fn view_trace_link(target: &LinkTarget) -> serde_json::Value {
    json!({"links": [{
        "title": "View trace",
        "url": "",
        "internal": {
            "datasourceUid": target.datasource_uid,
            "datasourceName": target.datasource_name,
            "query": {"refId": "trace", "queryType": "traces", "format": 3, "traceId": "${__value.raw}"}
        }
    }]})
}

/// The recognised roles of a result's columns (indexes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResultRoles {
    /// Time column.
    pub time: Option<usize>,
    /// Body column.
    pub body: Option<usize>,
    /// Severity text.
    pub severity: Option<usize>,
    /// Severity number.
    pub severity_number: Option<usize>,
    /// Id.
    pub id: Option<usize>,
    /// Trace id.
    pub trace_id: Option<usize>,
    /// Span id.
    pub span_id: Option<usize>,
    /// Service.
    pub service: Option<usize>,
    /// Attribute maps.
    pub maps: Vec<usize>,
    /// String label columns.
    pub labels: Vec<usize>,
    /// Everything else.
    pub extra: Vec<usize>,
}

const TIME_NAMES: &[&str] = &["timestamp", "time", "ts", "eventtime", "event_time"];
const BODY_NAMES: &[&str] = &["body", "message", "msg", "log", "line"];
const SEVERITY_NAMES: &[&str] = &[
    "severity",
    "severity_text",
    "severitytext",
    "level",
    "lvl",
    "log_level",
];
const SEVERITY_NUMBER_NAMES: &[&str] = &["severity_number", "severitynumber"];
const TRACE_NAMES: &[&str] = &["traceid", "trace_id"];
const SPAN_NAMES: &[&str] = &["spanid", "span_id"];
const SERVICE_NAMES: &[&str] = &["service", "servicename", "service_name"];
const MAP_NAMES: &[&str] = &[
    "resourceattributes",
    "scopeattributes",
    "logattributes",
    "attributes",
    "labels",
];

/// Whether a ClickHouse type is a string-keyed map (an attribute map).
fn is_map(t: &ChType) -> bool {
    matches!(t.base(), ChType::Map(_, _))
}

/// Recognises roles by (column name, Grafana-side type, ClickHouse type).
pub fn recognise(columns: &[(String, DataType, ChType)]) -> ResultRoles {
    let lower: Vec<String> = columns
        .iter()
        .map(|(n, _, _)| n.to_ascii_lowercase())
        .collect();
    let is_text = |i: usize| matches!(columns[i].1, DataType::Utf8);
    let is_time = |i: usize| matches!(columns[i].1, DataType::Timestamp(_, _));
    let by_name = |names: &[&str], ok: &dyn Fn(usize) -> bool| {
        names
            .iter()
            .find_map(|n| (0..columns.len()).find(|&i| lower[i] == *n && ok(i)))
    };
    let mut r = ResultRoles {
        time: by_name(TIME_NAMES, &is_time).or_else(|| (0..columns.len()).find(|&i| is_time(i))),
        ..Default::default()
    };
    r.body = by_name(BODY_NAMES, &is_text);
    r.severity = by_name(SEVERITY_NAMES, &is_text);
    r.severity_number = by_name(SEVERITY_NUMBER_NAMES, &|i| columns[i].1.is_integer());
    r.id = by_name(&["id"], &is_text);
    r.trace_id = by_name(TRACE_NAMES, &is_text);
    r.span_id = by_name(SPAN_NAMES, &is_text);
    r.service = by_name(SERVICE_NAMES, &is_text);
    if r.body.is_none() {
        let taken = [r.severity, r.id, r.trace_id, r.span_id, r.service];
        r.body = (0..columns.len()).find(|&i| is_text(i) && !taken.contains(&Some(i)));
    }
    let taken: Vec<usize> = [
        r.time,
        r.body,
        r.severity,
        r.severity_number,
        r.id,
        r.trace_id,
        r.span_id,
        r.service,
    ]
    .into_iter()
    .flatten()
    .collect();
    for i in 0..columns.len() {
        if taken.contains(&i) {
            continue;
        }
        if is_map(&columns[i].2)
            || (MAP_NAMES.contains(&lower[i].as_str())
                && matches!(columns[i].1, DataType::Map(_, _)))
        {
            r.maps.push(i);
        } else if is_text(i) {
            r.labels.push(i);
        } else {
            r.extra.push(i);
        }
    }
    r
}

/// A logs frame's fields (with metadata) and columns.
pub type LogsFields = (Vec<(Field, FieldMeta)>, Vec<ArrayRef>);

/// Shapes one whole result (see [`LogsShaper`]).
pub fn shape(
    batch: &RecordBatch,
    fields: &[Field],
    types: &[ChType],
    links: &LinkTarget,
) -> Result<LogsFields, FrameError> {
    let mut shaper = LogsShaper::new(fields, types, links)?;
    let columns = shaper.shape(batch)?;
    Ok((shaper.fields(), columns))
}

/// A hasher for keys that already are hashes.
#[derive(Default, Clone, Copy)]
struct KeyIsHash(u64);

impl Hasher for KeyIsHash {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Turns the batches of a logs result into `log-lines` columns, one batch at a time, so the
/// frame is written while the rest of the result streams in and no batch is ever concatenated.
/// The columns of each batch are `fields()`'s, in order.
///
/// The work is split so that batches can be shaped in parallel: [`LogsLayout::shape`] does
/// everything but the ids, with a worker's own [`ShapeCaches`]; [`RowIds::assign`] then gives ids
/// in result order, since a duplicate row's id depends on the rows before it. `LogsShaper` does
/// both, one batch after another.
pub struct LogsShaper {
    layout: LogsLayout,
    caches: ShapeCaches,
    ids: RowIds,
}

/// A logs result's column roles and its frame's fields.
pub struct LogsLayout {
    roles: ResultRoles,
    time: usize,
    names: Vec<String>,
    types: Vec<ChType>,
    fields: Vec<(Field, FieldMeta)>,
    prefix_maps: bool,
}

/// How labels are named.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LabelNames {
    /// Lantern's: attribute keys as they are (`k8s.pod.name`), `service.name` once.
    #[default]
    Flat,
    /// grafana/clickhouse-datasource's: each map's keys prefixed with the map column's name
    /// (`ResourceAttributes.k8s.pod.name`, `LogAttributes.method`), as its backend merges them;
    /// saved overrides and links of its dashboards name labels that way.
    MapPrefixed,
}

/// What one worker remembers between batches: severity levels by text, attribute maps already
/// written.
pub struct ShapeCaches {
    /// Severity texts seen, their levels (`None` for the empty text) and this batch's text ids.
    severity: Interner,
    levels: Vec<Option<&'static str>>,
    severity_ids: Vec<u32>,
    /// Per attribute-map column: maps already written.
    fragments: Vec<Fragments>,
}

impl Default for ShapeCaches {
    fn default() -> ShapeCaches {
        ShapeCaches {
            severity: Interner::new(),
            levels: Vec::new(),
            severity_ids: Vec::new(),
            fragments: Vec::new(),
        }
    }
}

/// A batch shaped but for its ids.
pub struct ShapedBatch {
    /// The frame's columns, with an empty placeholder where the ids go.
    columns: Vec<ArrayRef>,
    /// Each row's content hash (time, body, labels).
    hashes: Vec<u64>,
    /// The result's own `id` column, if it has one.
    given: Option<ArrayRef>,
}

/// Gives rows their ids, in result order: the result's own `id` where it has one, else a stable
/// hash of time, body and labels (our own FxHash, so ids stay the same across plugin builds),
/// with a counter for exact duplicates.
#[derive(Default)]
pub struct RowIds {
    seen: HashMap<u64, u32, std::hash::BuildHasherDefault<KeyIsHash>>,
}

/// Where the ids go among a logs frame's columns.
const ID_COLUMN: usize = 3;

impl RowIds {
    /// The batch's columns, ids included.
    pub fn assign(&mut self, batch: ShapedBatch) -> Result<Vec<ArrayRef>, FrameError> {
        let ShapedBatch {
            mut columns,
            hashes,
            given,
        } = batch;
        let given = given.as_ref().map(|g| g.as_string::<i32>());
        let n = hashes.len();
        self.seen.reserve(n);
        let mut ids = TextColumn::with_capacity(n, n * 17);
        for (row, &hash) in hashes.iter().enumerate() {
            if let Some(g) = given.filter(|c| !c.is_null(row) && !c.value(row).is_empty()) {
                ids.push(g.value(row).as_bytes());
                continue;
            }
            let count = self.seen.entry(hash).or_insert(0);
            let mut id = [0u8; 16 + 1 + 10];
            push_hex(&mut id[..16], hash);
            let len = if *count > 0 {
                id[16] = b'_';
                17 + push_decimal(&mut id[17..], *count)
            } else {
                16
            };
            *count += 1;
            ids.push(&id[..len]);
        }
        columns[ID_COLUMN] = ids.finish_utf8()?;
        Ok(columns)
    }
}

impl LogsShaper {
    /// See [`LogsLayout::new`].
    pub fn new(
        fields: &[Field],
        types: &[ChType],
        links: &LinkTarget,
    ) -> Result<LogsShaper, FrameError> {
        Ok(LogsShaper {
            layout: LogsLayout::new(fields, types, links)?,
            caches: ShapeCaches::default(),
            ids: RowIds::default(),
        })
    }

    /// The frame's fields.
    pub fn fields(&self) -> Vec<(Field, FieldMeta)> {
        self.layout.fields()
    }

    /// The `log-lines` columns of one batch.
    pub fn shape(&mut self, batch: &RecordBatch) -> Result<Vec<ArrayRef>, FrameError> {
        let shaped = self.layout.shape(&mut self.caches, batch)?;
        self.ids.assign(shaped)
    }
}

impl LogsLayout {
    /// Recognises the roles of a result whose columns are `fields` (Grafana-typed, attribute maps
    /// still raw Arrow maps) of ClickHouse `types`.
    pub fn new(
        fields: &[Field],
        types: &[ChType],
        links: &LinkTarget,
    ) -> Result<LogsLayout, FrameError> {
        LogsLayout::with_labels(fields, types, links, LabelNames::Flat)
    }

    /// [`LogsLayout::new`] with labels named by `labels`.
    pub fn with_labels(
        fields: &[Field],
        types: &[ChType],
        links: &LinkTarget,
        labels: LabelNames,
    ) -> Result<LogsLayout, FrameError> {
        let cols: Vec<(String, DataType, ChType)> = fields
            .iter()
            .zip(types)
            .map(|(f, t)| (f.name().clone(), f.data_type().clone(), t.clone()))
            .collect();
        let roles = recognise(&cols);
        let Some(time) = roles.time else {
            return Err(FrameError::Shape(super::timeseries::ShapeError::NoTime(
                cols.iter()
                    .map(|c| format!("`{}` {}", c.0, c.1))
                    .collect::<Vec<_>>()
                    .join(", "),
            )));
        };
        let plain = |name: &str, dt: DataType, nullable: bool| {
            (Field::new(name, dt, nullable), FieldMeta::default())
        };
        let mut out = vec![
            plain(
                "timestamp",
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                false,
            ),
            plain("body", DataType::Utf8, false),
            plain("severity", DataType::Utf8, false),
            plain("id", DataType::Utf8, false),
            plain("labels", DataType::Binary, false),
        ];
        if roles.trace_id.is_some() {
            let config = (!links.datasource_uid.is_empty()).then(|| view_trace_link(links));
            out.push((
                Field::new("traceID", DataType::Utf8, true),
                FieldMeta {
                    config,
                    ..Default::default()
                },
            ));
        }
        if roles.span_id.is_some() {
            out.push(plain("spanID", DataType::Utf8, true));
        }
        for &e in &roles.extra {
            let f = &fields[e];
            if !matches!(f.data_type(), DataType::Map(_, _)) {
                out.push(plain(f.name(), f.data_type().clone(), f.is_nullable()));
            }
        }
        Ok(LogsLayout {
            time,
            names: cols.iter().map(|c| c.0.clone()).collect(),
            types: types.to_vec(),
            roles,
            fields: out,
            prefix_maps: labels == LabelNames::MapPrefixed,
        })
    }

    /// The frame's fields.
    pub fn fields(&self) -> Vec<(Field, FieldMeta)> {
        self.fields.clone()
    }

    /// One batch shaped but for its ids (see [`RowIds`]), with a worker's `caches`.
    pub fn shape(
        &self,
        caches: &mut ShapeCaches,
        batch: &RecordBatch,
    ) -> Result<ShapedBatch, FrameError> {
        let n = batch.num_rows();
        let r = &self.roles;
        let strings = |i: Option<usize>| i.map(|i| batch.column(i).as_string::<i32>());

        // timestamp (non-null; the column itself when it has no nulls)
        let time_col = batch
            .column(self.time)
            .as_primitive::<TimestampNanosecondType>();
        let times = if time_col.null_count() == 0 {
            TimestampNanosecondArray::new(time_col.values().clone(), None)
        } else {
            (0..n)
                .map(|i| {
                    Some(if time_col.is_null(i) {
                        0
                    } else {
                        time_col.value(i)
                    })
                })
                .collect()
        };

        let labels = self.labels(&mut caches.fragments, batch)?;

        // severity, normalised from the text, else the OTel number
        // (each distinct text normalised once: texts are interned, levels kept by text id).
        let severity_text = strings(r.severity);
        if let Some(col) = severity_text {
            caches.severity.column(col, &mut caches.severity_ids);
            while caches.levels.len() < caches.severity.len() {
                let text = caches.severity.text(caches.levels.len() as u32);
                caches
                    .levels
                    .push((!text.is_empty()).then(|| level_from_text(text)));
            }
        }
        let mut severity = TextColumn::with_capacity(n, n * 5);
        for row in 0..n {
            let from_text =
                severity_text.and_then(|_| caches.levels[caches.severity_ids[row] as usize]);
            let level = if let Some(level) = from_text {
                level
            } else if let Some(i) = r.severity_number {
                number_at(batch.column(i), row).map_or("unknown", |v| level_from_number(v as i64))
            } else {
                "unknown"
            };
            severity.push(level.as_bytes());
        }

        // body (non-null): the result's own column when it has no nulls, else a copy with "".
        let body_col = strings(r.body);
        let body: ArrayRef = match body_col {
            Some(c) if c.null_count() == 0 => batch.column(r.body.unwrap_or_default()).clone(),
            _ => {
                let mut b = TextColumn::with_capacity(n, n * 64);
                for row in 0..n {
                    b.push(
                        body_col
                            .filter(|c| !c.is_null(row))
                            .map_or(&b""[..], |c| c.value(row).as_bytes()),
                    );
                }
                b.finish_utf8()?
            }
        };

        // content hashes for the ids (RowIds::assign)
        let hasher = std::hash::BuildHasherDefault::<super::timeseries::Fx>::default();
        let times_v = times.values();
        let hashes: Vec<u64> = (0..n)
            .map(|row| {
                let mut h = hasher.build_hasher();
                h.write_i64(times_v[row]);
                h.write(
                    body_col
                        .filter(|c| !c.is_null(row))
                        .map_or(&b""[..], |c| c.value(row).as_bytes()),
                );
                h.write(labels.value(row));
                h.finish()
            })
            .collect();

        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(times),
            body,
            severity.finish_utf8()?,
            arrow_array::new_empty_array(&DataType::Utf8),
            Arc::new(labels),
        ];
        for i in [r.trace_id, r.span_id].into_iter().flatten() {
            columns.push(batch.column(i).clone());
        }
        for &e in &r.extra {
            if !matches!(batch.column(e).data_type(), DataType::Map(_, _)) {
                columns.push(batch.column(e).clone());
            }
        }
        Ok(ShapedBatch {
            columns,
            hashes,
            given: r.id.map(|i| batch.column(i).clone()),
        })
    }

    /// Each row's labels as one JSON object: the service, the attribute maps' entries and the
    /// other string columns, written straight into the column's buffer.
    fn labels(
        &self,
        fragments: &mut Vec<Fragments>,
        batch: &RecordBatch,
    ) -> Result<arrow_array::BinaryArray, FrameError> {
        let r = &self.roles;
        fragments.resize_with(r.maps.len(), Fragments::default);
        let n = batch.num_rows();
        let service = r.service.map(|i| batch.column(i).as_string::<i32>());
        let maps: Vec<(usize, MapColumn<'_>)> = r
            .maps
            .iter()
            .map(|&m| (m, MapColumn::new(batch.column(m))))
            .collect();
        let label_cols: Vec<(&str, &arrow_array::StringArray)> = r
            .labels
            .iter()
            .map(|&l| (self.names[l].as_str(), batch.column(l).as_string::<i32>()))
            .collect();
        let mut out = TextColumn::with_capacity(n, n * 96);
        let mut json = String::new();
        for row in 0..n {
            let buf = &mut out.values;
            buf.push(b'{');
            // Members are separated by commas: one is due unless the object is still empty.
            let sep = |buf: &mut Vec<u8>| {
                if buf.last() != Some(&b'{') {
                    buf.push(b',');
                }
            };
            if let Some(s) = service.filter(|s| !s.is_null(row)) {
                sep(buf);
                buf.extend_from_slice(b"\"service.name\":");
                write_str_bytes(buf, s.value(row).as_bytes());
            }
            for ((m, map), fragments) in maps.iter().zip(fragments.iter_mut()) {
                // The map's name as a key prefix (official label names), `"Name.`.
                let prefix = self.prefix_maps.then(|| self.names[*m].as_bytes());
                match map {
                    MapColumn::Map { map, keys, values } => {
                        if map.is_null(row) {
                            continue;
                        }
                        let o = map.value_offsets();
                        let entries = o[row] as usize..o[row + 1] as usize;
                        let write = |buf: &mut Vec<u8>| {
                            let mut first = true;
                            for e in entries.clone() {
                                if service.is_some()
                                    && prefix.is_none()
                                    && keys.bytes(e) == Some(b"service.name")
                                {
                                    continue;
                                }
                                if !std::mem::take(&mut first) {
                                    buf.push(b',');
                                }
                                let at = buf.len();
                                keys.write_json(buf, e);
                                if let Some(p) = prefix {
                                    // After the key's opening quote; the name is JSON-safe
                                    // (an identifier from the result's schema) or escaped.
                                    let mut name = Vec::with_capacity(p.len() + 3);
                                    write_str_bytes(&mut name, p);
                                    name.pop();
                                    name.push(b'.');
                                    buf.splice(at..at + 1, name);
                                }
                                buf.push(b':');
                                values.write_json(buf, e);
                            }
                        };
                        let before = buf.len();
                        sep(buf);
                        let at = buf.len();
                        match (keys, values) {
                            (MapText::Utf8(k), MapText::Utf8(v)) if v.null_count() == 0 => {
                                fragments.write(buf, k, v, entries.clone(), write)
                            }
                            _ => write(buf),
                        }
                        if buf.len() == at {
                            // An empty map (or only the service): take the separator back.
                            buf.truncate(before);
                        }
                    }
                    MapColumn::Json(col) => {
                        // Already JSON (an attributes object): splice its members.
                        if col.is_null(row) {
                            continue;
                        }
                        json.clear();
                        write_value(&mut json, col.as_ref(), &self.types[*m], row);
                        if let Some(p) = prefix {
                            // Each member's key prefixed with the column's name.
                            if let Ok(serde_json::Value::Object(members)) =
                                serde_json::from_str::<serde_json::Value>(&json)
                            {
                                for (k, v) in members {
                                    sep(buf);
                                    let mut key = Vec::with_capacity(p.len() + 1 + k.len());
                                    key.extend_from_slice(p);
                                    key.push(b'.');
                                    key.extend_from_slice(k.as_bytes());
                                    write_str_bytes(buf, &key);
                                    buf.push(b':');
                                    buf.extend_from_slice(v.to_string().as_bytes());
                                }
                            }
                            continue;
                        }
                        let inner = json.trim().trim_start_matches('{').trim_end_matches('}');
                        if !inner.trim().is_empty() {
                            sep(buf);
                            buf.extend_from_slice(inner.as_bytes());
                        }
                    }
                }
            }
            for (name, col) in &label_cols {
                if !col.is_null(row) && !col.value(row).is_empty() {
                    sep(buf);
                    write_str_bytes(buf, name.as_bytes());
                    buf.push(b':');
                    write_str_bytes(buf, col.value(row).as_bytes());
                }
            }
            buf.push(b'}');
            out.end_row()?;
        }
        out.finish_binary()
    }
}

/// JSON fragments of attribute maps already written, by the map's content.
///
/// Attribute maps repeat: every line of a pod carries the same resource attributes. Written
/// entry by entry a map costs a few small copies per entry; a repeated map is found by hashing its
/// bytes and copied as one fragment. The cache is bounded, and turns itself off for a column
/// whose maps rarely repeat (unique request ids, say).
#[derive(Default)]
struct Fragments {
    cache: HashMap<u64, Fragment, std::hash::BuildHasherDefault<super::timeseries::Fx>>,
    lookups: u32,
    hits: u32,
    judged: bool,
    off: bool,
}

/// One cached map: its keys' and values' bytes and entry ends, and its JSON.
struct Fragment {
    keys: Box<[u8]>,
    values: Box<[u8]>,
    ends: Box<[(i32, i32)]>,
    json: Box<[u8]>,
}

impl Fragments {
    const MAX_ENTRIES: usize = 4096;
    /// Lookups before the hit rate is judged.
    const TRIAL: u32 = 1024;

    /// Appends the JSON members of the map entries `entries` (string keys and values), written
    /// by `write` unless an identical map was written before.
    fn write(
        &mut self,
        buf: &mut Vec<u8>,
        keys: &arrow_array::StringArray,
        values: &arrow_array::StringArray,
        entries: std::ops::Range<usize>,
        write: impl Fn(&mut Vec<u8>),
    ) {
        if self.off {
            return write(buf);
        }
        let (ko, vo) = (keys.value_offsets(), values.value_offsets());
        let (s, e) = (entries.start, entries.end);
        let key_bytes = &keys.value_data()[ko[s] as usize..ko[e] as usize];
        let value_bytes = &values.value_data()[vo[s] as usize..vo[e] as usize];
        let ends = (s + 1..=e).map(|i| (ko[i] - ko[s], vo[i] - vo[s]));
        let mut h = super::timeseries::Fx::default();
        h.write(key_bytes);
        h.write(value_bytes);
        for (k, v) in ends.clone() {
            h.write_u64(((k as u64) << 32) | v as u32 as u64);
        }
        let hash = h.finish();
        self.lookups = self.lookups.saturating_add(1);
        if let Some(f) = self.cache.get(&hash)
            && *f.keys == *key_bytes
            && *f.values == *value_bytes
            && f.ends.iter().copied().eq(ends.clone())
        {
            self.hits = self.hits.saturating_add(1);
            buf.extend_from_slice(&f.json);
            return;
        }
        let start = buf.len();
        write(buf);
        if self.lookups >= Self::TRIAL && !self.judged {
            // Judged once: after TRIAL maps, fewer than a quarter repeated means the cache only
            // costs.
            self.judged = true;
            if self.hits < self.lookups / 4 {
                self.off = true;
                self.cache = HashMap::default();
                return;
            }
        }
        if self.cache.len() >= Self::MAX_ENTRIES {
            self.cache.clear();
        }
        self.cache.insert(
            hash,
            Fragment {
                keys: key_bytes.into(),
                values: value_bytes.into(),
                ends: ends.collect(),
                json: buf[start..].into(),
            },
        );
    }
}

/// A string or binary column written as raw offsets and bytes (no per-value builder calls).
struct TextColumn {
    offsets: Vec<i32>,
    values: Vec<u8>,
}

impl TextColumn {
    fn with_capacity(rows: usize, bytes: usize) -> TextColumn {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        TextColumn {
            offsets,
            values: Vec::with_capacity(bytes),
        }
    }

    fn push(&mut self, v: &[u8]) {
        self.values.extend_from_slice(v);
        // Row values are bounded by the batch size; end_row checks the general case.
        self.offsets.push(self.values.len() as i32);
    }

    /// Ends a row whose bytes were appended to `values` directly.
    fn end_row(&mut self) -> Result<(), FrameError> {
        let end = i32::try_from(self.values.len()).map_err(|_| {
            FrameError::Write(arrow_schema::ArrowError::ComputeError(
                "one batch of log labels exceeds 2 GiB".into(),
            ))
        })?;
        self.offsets.push(end);
        Ok(())
    }

    fn parts(self) -> (arrow_buffer::OffsetBuffer<i32>, arrow_buffer::Buffer) {
        (
            arrow_buffer::OffsetBuffer::new(self.offsets.into()),
            arrow_buffer::Buffer::from_vec(self.values),
        )
    }

    fn finish_binary(self) -> Result<arrow_array::BinaryArray, FrameError> {
        let (offsets, values) = self.parts();
        arrow_array::BinaryArray::try_new(offsets, values, None).map_err(FrameError::Write)
    }

    fn finish_utf8(self) -> Result<ArrayRef, FrameError> {
        let (offsets, values) = self.parts();
        Ok(Arc::new(
            arrow_array::StringArray::try_new(offsets, values, None).map_err(FrameError::Write)?,
        ))
    }
}

/// An attribute-map column as the labels writer reads it.
enum MapColumn<'a> {
    /// An Arrow map: keys and values by entry.
    Map {
        map: &'a arrow_array::MapArray,
        keys: MapText<'a>,
        values: MapText<'a>,
    },
    /// A column already converted to JSON objects.
    Json(&'a ArrayRef),
}

impl<'a> MapColumn<'a> {
    fn new(col: &'a ArrayRef) -> MapColumn<'a> {
        match col.as_map_opt() {
            Some(map) => MapColumn::Map {
                map,
                keys: MapText::new(map.keys()),
                values: MapText::new(map.values()),
            },
            None => MapColumn::Json(col),
        }
    }
}

/// Map keys or values as label text.
enum MapText<'a> {
    Utf8(&'a arrow_array::StringArray),
    /// LowCardinality as a dictionary: each entry's index into the values.
    Dictionary(Vec<usize>, &'a arrow_array::StringArray),
    /// Anything else, written as its JSON (strings stay strings, other values become text).
    Other(&'a ArrayRef),
}

impl<'a> MapText<'a> {
    fn new(col: &'a ArrayRef) -> MapText<'a> {
        if let Some(s) = col.as_string_opt::<i32>() {
            return MapText::Utf8(s);
        }
        if let Some(d) = col.as_any_dictionary_opt()
            && let Some(values) = d.values().as_string_opt::<i32>()
        {
            // Normalised once per batch, not per entry.
            return MapText::Dictionary(d.normalized_keys(), values);
        }
        MapText::Other(col)
    }

    /// The entry's text, where it is text.
    fn bytes(&self, e: usize) -> Option<&[u8]> {
        match self {
            MapText::Utf8(s) => (!s.is_null(e)).then(|| s.value(e).as_bytes()),
            MapText::Dictionary(keys, values) => Some(values.value(keys[e]).as_bytes()),
            MapText::Other(_) => None,
        }
    }

    /// Writes the entry as a JSON string.
    fn write_json(&self, out: &mut Vec<u8>, e: usize) {
        match (self, self.bytes(e)) {
            (MapText::Other(col), _) => {
                let mut s = String::new();
                write_value(&mut s, col.as_ref(), &ChType::Nothing, e);
                if s.starts_with('"') {
                    out.extend_from_slice(s.as_bytes());
                } else if s == "null" {
                    out.extend_from_slice(b"\"\"");
                } else {
                    write_str_bytes(out, s.as_bytes());
                }
            }
            (_, text) => write_str_bytes(out, text.unwrap_or_default()),
        }
    }
}

/// Writes the decimal digits of `v` at the start of `out`; returns how many.
fn push_decimal(out: &mut [u8], v: u32) -> usize {
    let mut digits = [0u8; 10];
    let (mut n, mut i) = (v, digits.len());
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = digits.len() - i;
    out[..len].copy_from_slice(&digits[i..]);
    len
}

/// Writes `v` as 16 lower-case hex digits into `out`.
fn push_hex(out: &mut [u8], v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, d) in out.iter_mut().take(16).enumerate() {
        *d = HEX[((v >> ((15 - i) * 4)) & 15) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_by_name_and_type() {
        let cols = vec![
            (
                "Timestamp".to_owned(),
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                ChType::DateTime64(9, None),
            ),
            ("Body".to_owned(), DataType::Utf8, ChType::String),
            ("SeverityText".to_owned(), DataType::Utf8, ChType::String),
            (
                "SeverityNumber".to_owned(),
                DataType::UInt8,
                ChType::UInt(8),
            ),
            ("ServiceName".to_owned(), DataType::Utf8, ChType::String),
            ("TraceId".to_owned(), DataType::Utf8, ChType::String),
            ("PodName".to_owned(), DataType::Utf8, ChType::String),
            (
                "LogAttributes".to_owned(),
                DataType::Binary,
                ChType::parse("Map(String, String)"),
            ),
            ("bytes".to_owned(), DataType::UInt64, ChType::UInt(64)),
        ];
        let r = recognise(&cols);
        assert_eq!(
            (r.time, r.body, r.severity, r.severity_number),
            (Some(0), Some(1), Some(2), Some(3))
        );
        assert_eq!((r.service, r.trace_id), (Some(4), Some(5)));
        assert_eq!(r.labels, vec![6]);
        assert_eq!(r.maps, vec![7]);
        assert_eq!(r.extra, vec![8]);
    }

    #[test]
    fn ids_digits() {
        let mut out = [b' '; 16];
        assert_eq!(push_decimal(&mut out, 4_294_967_295), 10);
        assert_eq!(&out[..10], b"4294967295");
        assert_eq!(push_decimal(&mut out, 0), 1);
        assert_eq!(out[0], b'0');
        push_hex(&mut out, 0xab);
        assert_eq!(&out, b"00000000000000ab");
    }

    #[test]
    fn aliases_control_roles() {
        let cols = vec![
            (
                "t".to_owned(),
                DataType::Timestamp(TimeUnit::Nanosecond, None),
                ChType::DateTime(None),
            ),
            ("pod".to_owned(), DataType::Utf8, ChType::String),
            ("message".to_owned(), DataType::Utf8, ChType::String),
            ("level".to_owned(), DataType::Utf8, ChType::String),
        ];
        let r = recognise(&cols);
        assert_eq!((r.time, r.body, r.severity), (Some(0), Some(2), Some(3)));
        assert_eq!(r.labels, vec![1]);
    }

    /// A test row: time, body, attribute map entries.
    type Row<'a> = (i64, &'a str, &'a [(&'a str, &'a str)]);

    /// A logs batch: time, body, and an attribute map per row.
    fn logs_batch(rows: &[Row<'_>]) -> (RecordBatch, Vec<Field>, Vec<ChType>) {
        use arrow_array::builder::{MapBuilder, StringBuilder};
        let mut attrs = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        for (_, _, entries) in rows {
            for (k, v) in *entries {
                attrs.keys().append_value(k);
                attrs.values().append_value(v);
            }
            attrs.append(true).unwrap();
        }
        let batch = RecordBatch::try_from_iter([
            (
                "Timestamp",
                Arc::new(TimestampNanosecondArray::from(
                    rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                )) as ArrayRef,
            ),
            (
                "Body",
                Arc::new(arrow_array::StringArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
            ),
            ("LogAttributes", Arc::new(attrs.finish())),
        ])
        .unwrap();
        let fields = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let types = vec![
            ChType::DateTime64(9, None),
            ChType::String,
            ChType::parse("Map(LowCardinality(String), String)"),
        ];
        (batch, fields, types)
    }

    fn labels_of(columns: &[ArrayRef]) -> Vec<String> {
        let l = columns[4].as_binary::<i32>();
        (0..l.len())
            .map(|i| String::from_utf8(l.value(i).to_vec()).unwrap())
            .collect()
    }

    /// The map cache keys on entry boundaries too: {"ab": "c"} and {"a": "bc"} have the same
    /// bytes. Repeats are served from the cache, and empty maps add no member.
    #[test]
    fn repeated_maps_keep_their_own_labels() {
        let rows: Vec<Row<'_>> = (0..3000)
            .map(|i| {
                let entries: &[(&str, &str)] = match i % 4 {
                    0 => &[("ab", "c")],
                    1 => &[("a", "bc")],
                    2 => &[],
                    _ => &[("k8s.pod.name", "p\"1"), ("x", "")],
                };
                (i as i64, "line", entries)
            })
            .collect();
        let (batch, fields, types) = logs_batch(&rows);
        let (_, columns) = shape(&batch, &fields, &types, &LinkTarget::default()).unwrap();
        let labels = labels_of(&columns);
        for (i, l) in labels.iter().enumerate() {
            let expected = match i % 4 {
                0 => r#"{"ab":"c"}"#,
                1 => r#"{"a":"bc"}"#,
                2 => "{}",
                _ => r#"{"k8s.pod.name":"p\"1","x":""}"#,
            };
            assert_eq!(l, expected, "row {i}");
        }
    }

    /// grafana/clickhouse-datasource's label names: each key prefixed with its map's name, through
    /// the map cache too (repeated rows).
    #[test]
    fn official_labels_keep_the_map_prefix() {
        let rows: Vec<Row<'_>> = (0..2000)
            .map(|i| {
                let entries: &[(&str, &str)] = if i % 2 == 0 {
                    &[("method", "GET"), ("service.name", "a\"b")]
                } else {
                    &[]
                };
                (i as i64, "line", entries)
            })
            .collect();
        let (batch, fields, types) = logs_batch(&rows);
        let layout = LogsLayout::with_labels(
            &fields,
            &types,
            &LinkTarget::default(),
            LabelNames::MapPrefixed,
        )
        .unwrap();
        let shaped = layout.shape(&mut ShapeCaches::default(), &batch).unwrap();
        let labels = labels_of(&RowIds::default().assign(shaped).unwrap());
        for (i, l) in labels.iter().enumerate() {
            let expected = if i % 2 == 0 {
                r#"{"LogAttributes.method":"GET","LogAttributes.service.name":"a\"b"}"#
            } else {
                "{}"
            };
            assert_eq!(l, expected, "row {i}");
        }
    }

    /// A map column whose rows never repeat turns its cache off and still writes every row.
    #[test]
    fn unique_maps_are_written_without_the_cache() {
        let ids: Vec<String> = (0..3000).map(|i| format!("req-{i}")).collect();
        let entries: Vec<[(&str, &str); 1]> =
            ids.iter().map(|id| [("request.id", id.as_str())]).collect();
        let rows: Vec<Row<'_>> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i as i64, "line", &e[..]))
            .collect();
        let (batch, fields, types) = logs_batch(&rows);
        let layout = LogsLayout::new(&fields, &types, &LinkTarget::default()).unwrap();
        let mut caches = ShapeCaches::default();
        let shaped = layout.shape(&mut caches, &batch).unwrap();
        assert!(caches.fragments[0].off);
        let labels = labels_of(&RowIds::default().assign(shaped).unwrap());
        assert_eq!(labels[2999], r#"{"request.id":"req-2999"}"#);
    }

    /// Batches shaped by separate workers, ids given in order afterwards, equal one shaper's
    /// sequential result, duplicate counters included.
    #[test]
    fn parallel_shaping_matches_sequential() {
        let rows: Vec<Row<'_>> = (0..2000)
            .map(|i| {
                let entries: &[(&str, &str)] = if i % 3 == 0 {
                    &[("a", "1")]
                } else {
                    &[("b", "2")]
                };
                (
                    (i % 500) as i64,
                    if i % 2 == 0 { "same" } else { "other" },
                    entries,
                )
            })
            .collect();
        let (batch, fields, types) = logs_batch(&rows);
        let links = LinkTarget::default();
        let mut one = LogsShaper::new(&fields, &types, &links).unwrap();
        let expected: Vec<Vec<ArrayRef>> = [batch.slice(0, 700), batch.slice(700, 1300)]
            .iter()
            .map(|b| one.shape(b).unwrap())
            .collect();
        let layout = LogsLayout::new(&fields, &types, &links).unwrap();
        let (mut c1, mut c2) = (ShapeCaches::default(), ShapeCaches::default());
        // Shaped out of order, by different workers; ids in result order.
        let second = layout.shape(&mut c2, &batch.slice(700, 1300)).unwrap();
        let first = layout.shape(&mut c1, &batch.slice(0, 700)).unwrap();
        let mut ids = RowIds::default();
        let got = [ids.assign(first).unwrap(), ids.assign(second).unwrap()];
        for (g, e) in got.iter().zip(&expected) {
            assert_eq!(g.len(), e.len());
            for (a, b) in g.iter().zip(e) {
                assert_eq!(a.to_data(), b.to_data());
            }
        }
        let all_ids: std::collections::HashSet<&str> = got
            .iter()
            .flat_map(|c| {
                let ids = c[ID_COLUMN].as_string::<i32>();
                (0..ids.len()).map(move |i| ids.value(i))
            })
            .collect();
        assert_eq!(all_ids.len(), 2000, "duplicates got counters");
    }
}
