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

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, StringBuilder};
use arrow_array::{
    Array, ArrayRef, RecordBatch, TimestampNanosecondArray, cast::AsArray, types::*,
};
use arrow_schema::{DataType, Field, TimeUnit};
use serde_json::json;

use super::json::{write_str, write_value};
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

/// The fields and columns of a logs frame for `batch` (whose map columns are still raw Arrow
/// maps; everything else already Grafana-typed). `plans` give each column's Grafana field.
pub fn shape(
    batch: &RecordBatch,
    fields: &[Field],
    types: &[ChType],
    links: &LinkTarget,
) -> Result<LogsFields, FrameError> {
    let cols: Vec<(String, DataType, ChType)> = batch
        .schema()
        .fields()
        .iter()
        .zip(types)
        .map(|(f, t)| (f.name().clone(), f.data_type().clone(), t.clone()))
        .collect();
    let roles = recognise(&cols);
    let n = batch.num_rows();
    let Some(time_idx) = roles.time else {
        return Err(FrameError::Shape(super::timeseries::ShapeError::NoTime(
            cols.iter()
                .map(|c| format!("`{}` {}", c.0, c.1))
                .collect::<Vec<_>>()
                .join(", "),
        )));
    };
    let text = |idx: Option<usize>, row: usize| -> &str {
        idx.map(|i| batch.column(i).as_string::<i32>())
            .filter(|a| !a.is_null(row))
            .map_or("", |a| a.value(row))
    };

    // timestamp (non-null)
    let time_col = batch
        .column(time_idx)
        .as_primitive::<TimestampNanosecondType>();
    let times: Vec<i64> = (0..n)
        .map(|i| {
            if time_col.is_null(i) {
                0
            } else {
                time_col.value(i)
            }
        })
        .collect();

    // labels JSON, written straight from the raw maps and string columns
    let mut labels = BinaryBuilder::with_capacity(n, n * 64);
    let mut buf = String::new();
    for row in 0..n {
        buf.clear();
        buf.push('{');
        let mut first = true;
        if let Some(s) = roles.service.filter(|&i| !batch.column(i).is_null(row)) {
            push_label(
                &mut buf,
                &mut first,
                "service.name",
                batch.column(s).as_string::<i32>().value(row),
            );
        }
        for &m in &roles.maps {
            let col = batch.column(m);
            if col.is_null(row) {
                continue;
            }
            match col.data_type() {
                DataType::Map(_, _) => {
                    let map = col.as_map();
                    let o = map.value_offsets();
                    let (k, v) = (map.keys(), map.values());
                    for e in o[row] as usize..o[row + 1] as usize {
                        let key = map_text(k, e);
                        if key == "service.name" && roles.service.is_some() {
                            continue;
                        }
                        let value = map_text(v, e);
                        push_label(&mut buf, &mut first, &key, &value);
                    }
                }
                _ => {
                    // Already JSON (an attributes object): splice its members.
                    let mut s = String::new();
                    write_value(&mut s, col.as_ref(), &types[m], row);
                    let inner = s.trim().trim_start_matches('{').trim_end_matches('}');
                    if !inner.trim().is_empty() {
                        if !first {
                            buf.push(',');
                        }
                        first = false;
                        buf.push_str(inner);
                    }
                }
            }
        }
        for &l in &roles.labels {
            let col = batch.column(l).as_string::<i32>();
            if !col.is_null(row) && !col.value(row).is_empty() {
                push_label(&mut buf, &mut first, &cols[l].0, col.value(row));
            }
        }
        buf.push('}');
        labels.append_value(buf.as_bytes());
    }
    let labels: ArrayRef = Arc::new(labels.finish());

    // severity
    let mut severity = StringBuilder::with_capacity(n, n * 5);
    for row in 0..n {
        let t = text(roles.severity, row);
        let level = if !t.is_empty() {
            level_from_text(t)
        } else if let Some(i) = roles.severity_number {
            number_at(batch.column(i), row).map_or("unknown", |v| level_from_number(v as i64))
        } else {
            "unknown"
        };
        severity.append_value(level);
    }

    // body (non-null): the result's own column when it has no nulls, else a copy with "".
    let body: ArrayRef = match roles.body.map(|i| batch.column(i)) {
        Some(c) if c.null_count() == 0 => c.clone(),
        _ => {
            let mut b = StringBuilder::with_capacity(n, n * 64);
            for row in 0..n {
                b.append_value(text(roles.body, row));
            }
            Arc::new(b.finish())
        }
    };

    // id: given or stable hash
    let mut ids = StringBuilder::with_capacity(n, n * 24);
    let labels_bin = labels.as_binary::<i32>();
    let mut seen: HashMap<u64, u32, std::hash::BuildHasherDefault<super::timeseries::Fx>> =
        HashMap::default();
    // Our own FxHash, not std's unspecified default: ids stay the same across plugin builds.
    let hasher = std::hash::BuildHasherDefault::<super::timeseries::Fx>::default();
    for (row, &time) in times.iter().enumerate() {
        let given = text(roles.id, row);
        if roles.id.is_some() && !given.is_empty() {
            ids.append_value(given);
            continue;
        }
        let mut h = hasher.build_hasher();
        h.write_i64(time);
        h.write(text(roles.body, row).as_bytes());
        h.write(labels_bin.value(row));
        let hash = h.finish();
        let count = seen.entry(hash).or_insert(0);
        let mut id = String::with_capacity(40);
        push_decimal(&mut id, time);
        id.push('_');
        push_hex(&mut id, hash);
        if *count > 0 {
            id.push('_');
            push_decimal(&mut id, *count as i64);
        }
        *count += 1;
        ids.append_value(&id);
    }

    let mut out_fields: Vec<(Field, FieldMeta)> = vec![
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
            Field::new("severity", DataType::Utf8, false),
            FieldMeta::default(),
        ),
        (
            Field::new("id", DataType::Utf8, false),
            FieldMeta::default(),
        ),
        (
            Field::new("labels", DataType::Binary, false),
            FieldMeta::default(),
        ),
    ];
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampNanosecondArray::from(times)),
        body,
        Arc::new(severity.finish()),
        Arc::new(ids.finish()),
        labels,
    ];
    if let Some(t) = roles.trace_id {
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
        out_fields.push((
            Field::new("traceID", DataType::Utf8, true),
            FieldMeta {
                config,
                ..Default::default()
            },
        ));
        columns.push(batch.column(t).clone());
    }
    if let Some(s) = roles.span_id {
        out_fields.push((
            Field::new("spanID", DataType::Utf8, true),
            FieldMeta::default(),
        ));
        columns.push(batch.column(s).clone());
    }
    for &e in &roles.extra {
        if matches!(batch.column(e).data_type(), DataType::Map(_, _)) {
            continue;
        }
        let f = &fields[e];
        out_fields.push((
            Field::new(
                f.name(),
                batch.column(e).data_type().clone(),
                f.is_nullable(),
            ),
            FieldMeta::default(),
        ));
        columns.push(batch.column(e).clone());
    }
    Ok((out_fields, columns))
}

/// Appends the decimal digits of `v` (no formatting machinery: this runs once per row).
fn push_decimal(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    let mut digits = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or("0"));
}

/// Appends `v` as 16 lower-case hex digits.
fn push_hex(out: &mut String, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    for (i, d) in digits.iter_mut().enumerate() {
        *d = HEX[((v >> ((15 - i) * 4)) & 15) as usize];
    }
    out.push_str(std::str::from_utf8(&digits).unwrap_or(""));
}

/// Appends `"key":"value"` to a JSON object being written.
fn push_label(buf: &mut String, first: &mut bool, key: &str, value: &str) {
    if !*first {
        buf.push(',');
    }
    *first = false;
    write_str(buf, key);
    buf.push(':');
    write_str(buf, value);
}

fn map_text(col: &ArrayRef, i: usize) -> Cow<'_, str> {
    if col.is_null(i) {
        return Cow::Borrowed("");
    }
    match col.data_type() {
        DataType::Utf8 => Cow::Borrowed(col.as_string::<i32>().value(i)),
        DataType::Dictionary(_, _) => {
            let d = col.as_any_dictionary();
            Cow::Owned(map_text(d.values(), d.normalized_keys()[i]).into_owned())
        }
        _ => {
            let mut s = String::new();
            write_value(&mut s, col.as_ref(), &ChType::Nothing, i);
            Cow::Owned(serde_json::from_str::<String>(&s).unwrap_or(s))
        }
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
        let mut s = String::new();
        push_decimal(&mut s, -1_704_067_200_000_000_001);
        s.push(' ');
        push_decimal(&mut s, 0);
        s.push(' ');
        push_hex(&mut s, 0xab);
        assert_eq!(s, "-1704067200000000001 0 00000000000000ab");
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
