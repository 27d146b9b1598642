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
use super::timeseries::number_at;
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
                "refId": "logs", "editorType": "builder", "format": 2, "queryType": "logs",
                "builder": {"database": logs.database, "table": logs.table,
                            "filters": [{"key": trace_column, "op": "=", "value": "${__value.raw}"}], "order": "asc"}
            }
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
/// The columns of each batch are `fields()`'s, in order. State across batches: the ids already
/// given (duplicates get a counter) and the severity texts already normalised.
pub struct LogsShaper {
    roles: ResultRoles,
    time: usize,
    names: Vec<String>,
    types: Vec<ChType>,
    fields: Vec<(Field, FieldMeta)>,
    seen: HashMap<u64, u32, std::hash::BuildHasherDefault<KeyIsHash>>,
    levels: Vec<(Box<[u8]>, &'static str)>,
}

/// Severity texts remembered per result (levels, in any spelling, are few).
const LEVEL_CACHE: usize = 64;

impl LogsShaper {
    /// Recognises the roles of a result whose columns are `fields` (Grafana-typed, attribute maps
    /// still raw Arrow maps) of ClickHouse `types`.
    pub fn new(
        fields: &[Field],
        types: &[ChType],
        links: &LinkTarget,
    ) -> Result<LogsShaper, FrameError> {
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
            let config = (!links.datasource_uid.is_empty()).then(|| {
                json!({"links": [{
                    "title": "View trace",
                    "url": "",
                    "internal": {
                        "datasourceUid": links.datasource_uid,
                        "datasourceName": links.datasource_name,
                        "query": {"refId": "trace", "queryType": "traces", "format": 3, "traceId": "${__value.raw}"}
                    }
                }]})
            });
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
        Ok(LogsShaper {
            time,
            names: cols.iter().map(|c| c.0.clone()).collect(),
            types: types.to_vec(),
            roles,
            fields: out,
            seen: HashMap::default(),
            levels: Vec::new(),
        })
    }

    /// The frame's fields.
    pub fn fields(&self) -> Vec<(Field, FieldMeta)> {
        self.fields.clone()
    }

    /// The `log-lines` columns of one batch.
    pub fn shape(&mut self, batch: &RecordBatch) -> Result<Vec<ArrayRef>, FrameError> {
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

        let labels = self.labels(batch)?;

        // severity, normalised from the text, else the OTel number
        let severity_text = strings(r.severity);
        let mut severity = TextColumn::with_capacity(n, n * 5);
        for row in 0..n {
            let text = severity_text
                .filter(|c| !c.is_null(row))
                .map_or(&b""[..], |c| c.value(row).as_bytes());
            let level = if !text.is_empty() {
                cached_level(&mut self.levels, text)
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

        // id: the result's own, else a stable hash of time, body and labels (our own FxHash, so
        // ids stay the same across plugin builds) with a counter for exact duplicates
        let given = strings(r.id);
        let mut ids = TextColumn::with_capacity(n, n * 17);
        let hasher = std::hash::BuildHasherDefault::<super::timeseries::Fx>::default();
        let times_v = times.values();
        for row in 0..n {
            if let Some(g) = given.filter(|c| !c.is_null(row) && !c.value(row).is_empty()) {
                ids.push(g.value(row).as_bytes());
                continue;
            }
            let mut h = hasher.build_hasher();
            h.write_i64(times_v[row]);
            h.write(
                body_col
                    .filter(|c| !c.is_null(row))
                    .map_or(&b""[..], |c| c.value(row).as_bytes()),
            );
            h.write(labels.value(row));
            let hash = h.finish();
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

        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(times),
            body,
            severity.finish_utf8()?,
            ids.finish_utf8()?,
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
        Ok(columns)
    }

    /// Each row's labels as one JSON object: the service, the attribute maps' entries and the
    /// other string columns, written straight into the column's buffer.
    fn labels(&self, batch: &RecordBatch) -> Result<arrow_array::BinaryArray, FrameError> {
        let r = &self.roles;
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
            let mut first = true;
            let mut sep = |buf: &mut Vec<u8>| {
                if !std::mem::take(&mut first) {
                    buf.push(b',');
                }
            };
            if let Some(s) = service.filter(|s| !s.is_null(row)) {
                sep(buf);
                buf.extend_from_slice(b"\"service.name\":");
                write_str_bytes(buf, s.value(row).as_bytes());
            }
            for (m, map) in &maps {
                match map {
                    MapColumn::Map { map, keys, values } => {
                        if map.is_null(row) {
                            continue;
                        }
                        let o = map.value_offsets();
                        for e in o[row] as usize..o[row + 1] as usize {
                            if service.is_some() && keys.bytes(e) == Some(b"service.name") {
                                continue;
                            }
                            sep(buf);
                            keys.write_json(buf, e);
                            buf.push(b':');
                            values.write_json(buf, e);
                        }
                    }
                    MapColumn::Json(col) => {
                        // Already JSON (an attributes object): splice its members.
                        if col.is_null(row) {
                            continue;
                        }
                        json.clear();
                        write_value(&mut json, col.as_ref(), &self.types[*m], row);
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

/// The Grafana level of a severity text, remembered per result in `levels`.
fn cached_level(levels: &mut Vec<(Box<[u8]>, &'static str)>, text: &[u8]) -> &'static str {
    if let Some((_, level)) = levels.iter().find(|(t, _)| **t == *text) {
        return level;
    }
    let level = level_from_text(&String::from_utf8_lossy(text));
    if levels.len() < LEVEL_CACHE {
        levels.push((text.into(), level));
    }
    level
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
}
