//! OpenTelemetry schema knowledge: which exporter generation a table is, and which column plays
//! which role.
//!
//! The collector's ClickHouse exporter changed its tables several times and never migrates old
//! ones, and many users run their own schemas (LogHouse extracts `PodName`, `Namespace`… into
//! columns and orders by `(PodName, Timestamp)`). So nothing here hard-codes one layout:
//! [`TableSchema`] is what `system.columns` / `system.tables` say about a table; [`classify`]
//! names the generation and maps column roles by name *and* type; [`RoleOverrides`] (per
//! datasource or per query) replaces any role for custom schemas. The time filter uses every
//! time column of the table's partition, primary and sorting keys, so ClickHouse prunes parts.
//!
//! Severity is normalised to Grafana's levels from text (any case and common aliases) or from
//! OTel's `SeverityNumber` ranges.

pub mod engine;

use serde::Deserialize;

use crate::chtype::ChType;

/// One column as `system.columns` describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Parsed type.
    pub ty: ChType,
    /// `default_kind`: `""`, `DEFAULT`, `MATERIALIZED`, `ALIAS`, `EPHEMERAL`.
    pub default_kind: String,
}

/// What ClickHouse says about a table.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableSchema {
    /// Database.
    pub database: String,
    /// Table.
    pub table: String,
    /// Columns in order.
    pub columns: Vec<Column>,
    /// `partition_key` expression.
    pub partition_key: String,
    /// `sorting_key` expression.
    pub sorting_key: String,
    /// `primary_key` expression.
    pub primary_key: String,
    /// Where the three keys were read from when the table stores no rows itself (a
    /// `Distributed` or `Merge` table, see [`engine`]): `database.table`; empty otherwise.
    pub keys_from: String,
}

impl TableSchema {
    /// The column named `name` (exact).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    fn stored(&self, name: &str) -> Option<&Column> {
        self.column(name).filter(|c| c.default_kind != "ALIAS")
    }
}

/// The exporter generation of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    /// Logs 2022 (no scope columns).
    Logs2022,
    /// Logs 2023 (scope columns, UInt32 TraceFlags).
    Logs2023,
    /// Logs with `TimestampTime` (≈ v0.10x–v0.150).
    LogsTimestampTime,
    /// Logs v0.151+ (`toStartOfFiveMinutes` ordering, `EventName`).
    LogsCurrent,
    /// Traces 2022 (Int64 Duration).
    Traces2022,
    /// Traces with scope columns (UInt64 Duration).
    TracesCurrent,
    /// A table with the right roles but not an exporter layout.
    Custom,
}

impl Generation {
    /// A stable name for responses and README.
    pub fn name(self) -> &'static str {
        match self {
            Generation::Logs2022 => "otel-logs-2022",
            Generation::Logs2023 => "otel-logs-2023",
            Generation::LogsTimestampTime => "otel-logs-timestamptime",
            Generation::LogsCurrent => "otel-logs-v0.151",
            Generation::Traces2022 => "otel-traces-2022",
            Generation::TracesCurrent => "otel-traces",
            Generation::Custom => "custom",
        }
    }
}

/// Column roles of a logs table (names of columns).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogRoles {
    /// The exact time (usually `Timestamp`, DateTime64(9)).
    pub time: String,
    /// Extra key columns to filter for pruning: (column, kind).
    pub key_times: Vec<(String, TimeKind)>,
    /// Message.
    pub body: String,
    /// Severity text.
    pub severity_text: Option<String>,
    /// Severity number.
    pub severity_number: Option<String>,
    /// Service name.
    pub service: Option<String>,
    /// Trace id.
    pub trace_id: Option<String>,
    /// Span id.
    pub span_id: Option<String>,
    /// Map columns merged into labels, in precedence order (resource, scope, log).
    pub maps: Vec<String>,
    /// Plain string columns that are labels (extracted attributes such as `PodName`).
    pub label_columns: Vec<String>,
    /// What identifies a log stream for context (pod, container, service).
    pub context_columns: Vec<ColumnRef>,
}

/// A column or a key of a map column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnRef {
    /// A column by name.
    Column(String),
    /// `map['key']`.
    MapKey(String, String),
}

impl ColumnRef {
    /// Parses `Map['key']`, `Map.key` (when `Map` is one of `maps`) or a column name.
    pub fn parse(text: &str, maps: &[String]) -> ColumnRef {
        let t = text.trim();
        if let Some((map, rest)) = t.split_once("['")
            && let Some(key) = rest.strip_suffix("']")
        {
            return ColumnRef::MapKey(map.to_owned(), key.to_owned());
        }
        for m in maps {
            if let Some(key) = t.strip_prefix(m.as_str()).and_then(|r| r.strip_prefix('.')) {
                return ColumnRef::MapKey(m.clone(), key.to_owned());
            }
        }
        ColumnRef::Column(t.to_owned())
    }

    /// The label name this reference shows as (the map key, or the column name).
    pub fn label(&self) -> &str {
        match self {
            ColumnRef::Column(c) => c,
            ColumnRef::MapKey(_, k) => k,
        }
    }
}

/// Column roles of a traces table.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceRoles {
    /// Span start time.
    pub time: String,
    /// Extra key columns for pruning.
    pub key_times: Vec<(String, TimeKind)>,
    /// Duration column and its unit in nanoseconds per unit.
    pub duration: String,
    /// Nanoseconds per duration unit (1 for the exporter's ns).
    pub duration_ns: u64,
}

/// How a key time column compares with a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeKind {
    /// Date / Date32.
    Date,
    /// DateTime (seconds).
    Seconds,
    /// DateTime64(p).
    Precise(u8),
}

/// Role overrides for custom schemas (datasource `logs` settings or a query's `columns`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct RoleOverrides {
    /// Time column.
    pub time_column: Option<String>,
    /// Body column (`messageColumn` in grafana's settings).
    #[serde(alias = "messageColumn")]
    pub body_column: Option<String>,
    /// Severity column (`levelColumn`).
    #[serde(alias = "levelColumn")]
    pub severity_column: Option<String>,
    /// Service column.
    pub service_column: Option<String>,
    /// Trace id column.
    pub trace_id_column: Option<String>,
    /// Context columns (pod, container…).
    pub context_columns: Option<Vec<String>>,
}

impl RoleOverrides {
    /// These overrides with any unset role taken from `fallback`.
    pub fn or(&self, fallback: &RoleOverrides) -> RoleOverrides {
        RoleOverrides {
            time_column: self
                .time_column
                .clone()
                .or_else(|| fallback.time_column.clone()),
            body_column: self
                .body_column
                .clone()
                .or_else(|| fallback.body_column.clone()),
            severity_column: self
                .severity_column
                .clone()
                .or_else(|| fallback.severity_column.clone()),
            service_column: self
                .service_column
                .clone()
                .or_else(|| fallback.service_column.clone()),
            trace_id_column: self
                .trace_id_column
                .clone()
                .or_else(|| fallback.trace_id_column.clone()),
            context_columns: self
                .context_columns
                .clone()
                .or_else(|| fallback.context_columns.clone()),
        }
    }
}

/// The classification of a table.
#[derive(Clone, Debug, PartialEq)]
pub enum Classified {
    /// A logs table.
    Logs(Generation, LogRoles),
    /// A traces table.
    Traces(Generation, TraceRoles),
}

fn is_time(t: &ChType) -> Option<TimeKind> {
    match t.base() {
        ChType::Date | ChType::Date32 => Some(TimeKind::Date),
        ChType::DateTime(_) => Some(TimeKind::Seconds),
        ChType::DateTime64(p, _) => Some(TimeKind::Precise(*p)),
        _ => None,
    }
}

fn is_string(t: &ChType) -> bool {
    matches!(
        t.base(),
        ChType::String | ChType::FixedString(_) | ChType::Enum(_)
    )
}

fn is_map(t: &ChType) -> bool {
    matches!(t.base(), ChType::Map(_, _))
}

fn is_number(t: &ChType) -> bool {
    matches!(t.base(), ChType::Int(_) | ChType::UInt(_))
}

/// Names the roles of a column set found by name then type, case-insensitively.
fn find<'a>(schema: &'a TableSchema, names: &[&str], ok: fn(&ChType) -> bool) -> Option<&'a str> {
    names.iter().find_map(|n| {
        schema
            .columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(n) && ok(&c.ty))
            .map(|c| c.name.as_str())
    })
}

/// Key time columns: time-typed stored columns named in the partition, primary or sorting key.
fn key_times(schema: &TableSchema, exclude: &str) -> Vec<(String, TimeKind)> {
    let keys = format!(
        "{} {} {}",
        schema.partition_key, schema.primary_key, schema.sorting_key
    );
    let mentioned = |name: &str| {
        keys.match_indices(name).any(|(i, _)| {
            let before = keys[..i].chars().next_back();
            let after = keys[i + name.len()..].chars().next();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    };
    schema
        .columns
        .iter()
        .filter(|c| c.name != exclude && c.default_kind != "ALIAS" && mentioned(&c.name))
        .filter_map(|c| is_time(&c.ty).map(|k| (c.name.clone(), k)))
        .collect()
}

/// Classifies a table as OTel logs or traces (any generation, or custom), or `None`.
pub fn classify(schema: &TableSchema, overrides: &RoleOverrides) -> Option<Classified> {
    let has = |n: &str| schema.column(n).is_some();
    if has("SpanId") && has("SpanName") || has("ParentSpanId") {
        let time = overrides.time_column.clone().or_else(|| {
            find(schema, &["Timestamp", "StartTime", "start_time"], |t| {
                is_time(t).is_some()
            })
            .map(str::to_owned)
        })?;
        let duration = find(schema, &["Duration", "duration_ns", "duration"], is_number)
            .unwrap_or("Duration")
            .to_owned();
        let generation = match schema.column("Duration").map(|c| c.ty.base().clone()) {
            Some(ChType::Int(64)) if !has("ScopeName") => Generation::Traces2022,
            Some(_) if has("SpanKind") && has("StatusCode") => Generation::TracesCurrent,
            _ => Generation::Custom,
        };
        let roles = TraceRoles {
            key_times: key_times(schema, &time),
            time,
            duration,
            duration_ns: 1,
        };
        return Some(Classified::Traces(generation, roles));
    }
    let time = match &overrides.time_column {
        Some(t) => schema.column(t)?.name.clone(),
        None => find(
            schema,
            &[
                "Timestamp",
                "timestamp",
                "time",
                "ts",
                "EventTime",
                "event_time",
            ],
            |t| is_time(t).is_some(),
        )
        .or_else(|| {
            schema
                .columns
                .iter()
                .find(|c| matches!(is_time(&c.ty), Some(TimeKind::Precise(_))))
                .map(|c| c.name.as_str())
        })?
        .to_owned(),
    };
    let body = match &overrides.body_column {
        Some(b) => schema.column(b)?.name.clone(),
        None => find(
            schema,
            &["Body", "body", "message", "msg", "log", "line", "text"],
            is_string,
        )?
        .to_owned(),
    };
    let severity_text = overrides.severity_column.clone().or_else(|| {
        find(
            schema,
            &[
                "SeverityText",
                "level",
                "severity",
                "log_level",
                "lvl",
                "severity_text",
            ],
            is_string,
        )
        .map(str::to_owned)
    });
    let severity_number =
        find(schema, &["SeverityNumber", "severity_number"], is_number).map(str::to_owned);
    let service = overrides.service_column.clone().or_else(|| {
        find(
            schema,
            &["ServiceName", "service_name", "service"],
            is_string,
        )
        .map(str::to_owned)
    });
    let trace_id = overrides.trace_id_column.clone().or_else(|| {
        find(
            schema,
            &["TraceId", "trace_id", "traceID", "traceid"],
            is_string,
        )
        .map(str::to_owned)
    });
    let span_id = find(schema, &["SpanId", "span_id", "spanID"], is_string).map(str::to_owned);
    let maps: Vec<String> = ["ResourceAttributes", "ScopeAttributes", "LogAttributes"]
        .iter()
        .filter_map(|m| {
            schema
                .column(m)
                .filter(|c| is_map(&c.ty))
                .map(|c| c.name.clone())
        })
        .collect();
    let roles_taken: Vec<&str> = [
        Some(time.as_str()),
        Some(body.as_str()),
        severity_text.as_deref(),
        service.as_deref(),
        trace_id.as_deref(),
        span_id.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    // Extracted attributes: LowCardinality string columns that are not roles or OTel bookkeeping.
    let label_columns: Vec<String> = schema
        .columns
        .iter()
        .filter(|c| matches!(c.ty, ChType::LowCardinality(_)) && is_string(&c.ty))
        .filter(|c| !roles_taken.contains(&c.name.as_str()) && c.default_kind != "ALIAS")
        .filter(|c| {
            !c.name.ends_with("SchemaUrl")
                && !c.name.starts_with("Scope")
                && !c.name.starts_with("__otel")
        })
        .map(|c| c.name.clone())
        .collect();
    let context_columns = match &overrides.context_columns {
        Some(list) => list.iter().map(|c| ColumnRef::parse(c, &maps)).collect(),
        None => {
            let mut cols: Vec<ColumnRef> = [
                "PodName",
                "pod",
                "ContainerName",
                "container",
                "Namespace",
                "namespace",
            ]
            .iter()
            .filter_map(|n| {
                schema
                    .columns
                    .iter()
                    .find(|c| c.name == *n)
                    .map(|c| ColumnRef::Column(c.name.clone()))
            })
            .collect();
            if cols.is_empty() {
                cols.extend(service.clone().map(ColumnRef::Column));
                if maps.iter().any(|m| m == "ResourceAttributes") {
                    for key in ["k8s.pod.name", "k8s.container.name"] {
                        cols.push(ColumnRef::MapKey("ResourceAttributes".into(), key.into()));
                    }
                }
            }
            cols
        }
    };
    let generation = if has("TimestampTime") || has("TimestampDate") {
        Generation::LogsTimestampTime
    } else if schema.sorting_key.starts_with("toStartOfFiveMinutes(")
        || schema
            .columns
            .iter()
            .any(|c| c.name.starts_with("__otel_materialized"))
    {
        Generation::LogsCurrent
    } else if has("ScopeAttributes")
        && has("LogAttributes")
        && has("SeverityNumber")
        && body == "Body"
    {
        Generation::Logs2023
    } else if has("LogAttributes") && has("SeverityNumber") && !has("ScopeName") && body == "Body" {
        Generation::Logs2022
    } else {
        Generation::Custom
    };
    let mut key_times = key_times(schema, &time);
    // An ALIAS TimestampTime (added by hand to new tables) is not a key column: never filter on it.
    key_times.retain(|(n, _)| schema.stored(n).is_some());
    let roles = LogRoles {
        time,
        key_times,
        body,
        severity_text,
        severity_number,
        service,
        trace_id,
        span_id,
        maps,
        label_columns,
        context_columns,
    };
    Some(Classified::Logs(generation, roles))
}

/// Grafana's log levels.
pub const LEVELS: [&str; 7] = [
    "critical", "error", "warning", "info", "debug", "trace", "unknown",
];

/// A severity text (any case, common aliases) → Grafana level.
pub fn level_from_text(text: &str) -> &'static str {
    // Lower-case into a stack buffer: this runs once per log row.
    let t = text.trim().as_bytes();
    let mut buf = [0u8; 16];
    if t.len() > buf.len() {
        return "unknown";
    }
    for (d, s) in buf.iter_mut().zip(t) {
        *d = s.to_ascii_lowercase();
    }
    match std::str::from_utf8(&buf[..t.len()]).unwrap_or("") {
        "emerg" | "emergency" | "fatal" | "alert" | "crit" | "critical" | "panic" | "fatal2"
        | "fatal3" | "fatal4" => "critical",
        "error" | "err" | "eror" | "error2" | "error3" | "error4" | "severe" => "error",
        "warn" | "warning" | "warn2" | "warn3" | "warn4" => "warning",
        "info" | "information" | "informational" | "notice" | "info2" | "info3" | "info4" => "info",
        "debug" | "dbug" | "debug2" | "debug3" | "debug4" => "debug",
        "trace" | "trace2" | "trace3" | "trace4" => "trace",
        _ => "unknown",
    }
}

/// OTel `SeverityNumber` → Grafana level (0 = unset → unknown).
pub fn level_from_number(n: i64) -> &'static str {
    match n {
        1..=4 => "trace",
        5..=8 => "debug",
        9..=12 => "info",
        13..=16 => "warning",
        17..=20 => "error",
        21..=24 => "critical",
        _ => "unknown",
    }
}

/// The SeverityNumber range and text spellings of each Grafana level, most severe first.
pub(crate) fn level_spellings(level: &str) -> (&'static [&'static str], (i64, i64)) {
    match level {
        "critical" => (
            &[
                "emerg",
                "emergency",
                "fatal",
                "alert",
                "crit",
                "critical",
                "panic",
            ],
            (21, 24),
        ),
        "error" => (&["error", "err", "eror", "severe"], (17, 20)),
        "warning" => (&["warn", "warning"], (13, 16)),
        "info" => (&["info", "information", "informational", "notice"], (9, 12)),
        "debug" => (&["debug", "dbug"], (5, 8)),
        "trace" => (&["trace"], (1, 4)),
        _ => (&[], (0, 0)),
    }
}

/// Parses a minimum-severity name (Grafana level or common alias).
pub fn parse_level(name: &str) -> Option<&'static str> {
    match level_from_text(name) {
        "unknown" if !name.eq_ignore_ascii_case("unknown") => None,
        l => Some(l),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, ty: &str) -> Column {
        Column {
            name: name.into(),
            ty: ChType::parse(ty),
            default_kind: String::new(),
        }
    }

    fn logs_common() -> Vec<Column> {
        vec![
            col("Timestamp", "DateTime64(9)"),
            col("TraceId", "String"),
            col("SpanId", "String"),
            col("TraceFlags", "UInt32"),
            col("SeverityText", "LowCardinality(String)"),
            col("SeverityNumber", "Int32"),
            col("ServiceName", "LowCardinality(String)"),
            col("Body", "String"),
            col("ResourceAttributes", "Map(LowCardinality(String), String)"),
            col("LogAttributes", "Map(LowCardinality(String), String)"),
        ]
    }

    fn schema(columns: Vec<Column>, sorting: &str, primary: &str, partition: &str) -> TableSchema {
        TableSchema {
            database: "otel".into(),
            table: "t".into(),
            columns,
            sorting_key: sorting.into(),
            primary_key: primary.into(),
            partition_key: partition.into(),
            keys_from: String::new(),
        }
    }

    fn logs(s: &TableSchema) -> (Generation, LogRoles) {
        match classify(s, &RoleOverrides::default()) {
            Some(Classified::Logs(g, r)) => (g, r),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_exporter_generation() {
        let g2022 = schema(
            logs_common(),
            "ServiceName, SeverityText, toUnixTimestamp(Timestamp), TraceId",
            "ServiceName, SeverityText, toUnixTimestamp(Timestamp), TraceId",
            "toDate(Timestamp)",
        );
        assert_eq!(logs(&g2022).0, Generation::Logs2022);

        let mut c = logs_common();
        c.push(col("ScopeName", "String"));
        c.push(col(
            "ScopeAttributes",
            "Map(LowCardinality(String), String)",
        ));
        let g2023 = schema(
            c.clone(),
            "ServiceName, SeverityText, toUnixTimestamp(Timestamp), TraceId",
            "",
            "toDate(Timestamp)",
        );
        let (g, r) = logs(&g2023);
        assert_eq!(g, Generation::Logs2023);
        assert_eq!(
            r.maps,
            ["ResourceAttributes", "ScopeAttributes", "LogAttributes"]
        );

        let mut c3 = c.clone();
        c3.push(Column {
            name: "TimestampTime".into(),
            ty: ChType::parse("DateTime"),
            default_kind: "DEFAULT".into(),
        });
        let g3 = schema(
            c3,
            "ServiceName, TimestampTime, Timestamp",
            "ServiceName, TimestampTime",
            "toDate(TimestampTime)",
        );
        let (g, r) = logs(&g3);
        assert_eq!(g, Generation::LogsTimestampTime);
        assert_eq!(
            r.key_times,
            vec![("TimestampTime".to_owned(), TimeKind::Seconds)]
        );

        let mut c4 = c.clone();
        c4.push(col("EventName", "String"));
        let g4 = schema(
            c4.clone(),
            "toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp",
            "toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp",
            "toDate(Timestamp)",
        );
        let (g, r) = logs(&g4);
        assert_eq!(g, Generation::LogsCurrent);
        assert!(
            r.key_times.is_empty(),
            "Timestamp itself is the time column"
        );
        assert_eq!(r.service.as_deref(), Some("ServiceName"));

        // A hand-added ALIAS TimestampTime is never a key filter.
        c4.push(Column {
            name: "TimestampTime".into(),
            ty: ChType::parse("DateTime"),
            default_kind: "ALIAS".into(),
        });
        let (_, r) = logs(&schema(
            c4,
            "toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp",
            "",
            "toDate(Timestamp)",
        ));
        assert!(r.key_times.is_empty());
    }

    #[test]
    fn loghouse_custom_schema() {
        let cols = vec![
            col("Timestamp", "DateTime64(9)"),
            col("EventDate", "Date"),
            col("EventTime", "DateTime"),
            col("TraceId", "String"),
            col("SeverityText", "LowCardinality(String)"),
            col("ServiceName", "LowCardinality(String)"),
            col("Body", "String"),
            col("Namespace", "LowCardinality(String)"),
            col("PodName", "LowCardinality(String)"),
            col("level", "LowCardinality(String)"),
            col("ResourceAttributes", "Map(LowCardinality(String), String)"),
        ];
        let s = schema(
            cols,
            "PodName, Timestamp",
            "PodName, Timestamp",
            "EventDate",
        );
        let (g, r) = logs(&s);
        assert_eq!(g, Generation::Custom);
        assert_eq!(r.key_times, vec![("EventDate".to_owned(), TimeKind::Date)]);
        assert_eq!(r.label_columns, ["Namespace", "PodName", "level"]);
        assert_eq!(
            r.context_columns,
            [
                ColumnRef::Column("PodName".into()),
                ColumnRef::Column("Namespace".into())
            ]
        );
        let o = RoleOverrides {
            severity_column: Some("level".into()),
            ..Default::default()
        };
        let Some(Classified::Logs(_, r)) = classify(&s, &o) else {
            panic!()
        };
        assert_eq!(r.severity_text.as_deref(), Some("level"));
    }

    #[test]
    fn traces_generations() {
        let mut c = vec![
            col("Timestamp", "DateTime64(9)"),
            col("TraceId", "String"),
            col("SpanId", "String"),
            col("ParentSpanId", "String"),
            col("SpanName", "LowCardinality(String)"),
            col("SpanKind", "LowCardinality(String)"),
            col("ServiceName", "LowCardinality(String)"),
            col("Duration", "Int64"),
            col("StatusCode", "LowCardinality(String)"),
        ];
        let s = schema(
            c.clone(),
            "ServiceName, SpanName, toUnixTimestamp(Timestamp), TraceId",
            "",
            "toDate(Timestamp)",
        );
        assert!(matches!(
            classify(&s, &RoleOverrides::default()),
            Some(Classified::Traces(Generation::Traces2022, _))
        ));
        c[7] = col("Duration", "UInt64");
        c.push(col("ScopeName", "String"));
        let s = schema(
            c,
            "ServiceName, SpanName, toDateTime(Timestamp), Timestamp",
            "ServiceName, SpanName, toDateTime(Timestamp)",
            "toDate(Timestamp)",
        );
        assert!(matches!(
            classify(&s, &RoleOverrides::default()),
            Some(Classified::Traces(Generation::TracesCurrent, _))
        ));
    }

    #[test]
    fn column_refs() {
        let maps = vec!["ResourceAttributes".to_owned()];
        assert_eq!(
            ColumnRef::parse("ResourceAttributes['k8s.pod.name']", &maps),
            ColumnRef::MapKey("ResourceAttributes".into(), "k8s.pod.name".into())
        );
        assert_eq!(
            ColumnRef::parse("ResourceAttributes.k8s.pod.name", &maps),
            ColumnRef::MapKey("ResourceAttributes".into(), "k8s.pod.name".into())
        );
        assert_eq!(
            ColumnRef::parse("PodName", &maps),
            ColumnRef::Column("PodName".into())
        );
    }

    #[test]
    fn severities() {
        assert_eq!(level_from_text("WARN"), "warning");
        assert_eq!(level_from_text("Error"), "error");
        assert_eq!(level_from_text("FATAL"), "critical");
        assert_eq!(level_from_text("notice"), "info");
        assert_eq!(level_from_text("whatever"), "unknown");
        assert_eq!(level_from_number(17), "error");
        assert_eq!(level_from_number(9), "info");
        assert_eq!(level_from_number(0), "unknown");
        assert_eq!(parse_level("warn"), Some("warning"));
        assert_eq!(parse_level("nope"), None);
    }
}
