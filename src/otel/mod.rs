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

/// The exporter schema version a datasource names (`otelVersion`, as
/// grafana/clickhouse-datasource spells it). Lantern reads the layout from the table's columns
/// whatever the setting says; the setting is checked against them (health warns) and steers
/// the frontend's builder defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtelVersion {
    /// `latest`: whatever the table's columns say.
    Latest,
    /// `1.29.0`: collector before v0.151 (logs have `TimestampTime`).
    V1_29_0,
    /// `1.30.0`: collector v0.151 and later (logs have no `TimestampTime`).
    V1_30_0,
}

impl OtelVersion {
    /// Parses the setting's spelling.
    pub fn parse(text: &str) -> Option<OtelVersion> {
        Some(match text {
            "latest" => OtelVersion::Latest,
            "1.29.0" => OtelVersion::V1_29_0,
            "1.30.0" => OtelVersion::V1_30_0,
            _ => return None,
        })
    }

    /// The setting's spelling.
    pub fn name(self) -> &'static str {
        match self {
            OtelVersion::Latest => "latest",
            OtelVersion::V1_29_0 => "1.29.0",
            OtelVersion::V1_30_0 => "1.30.0",
        }
    }

    /// Why a table (`schema`, classified with the datasource's overrides as `found`) is not the
    /// `logs` (else traces) table of this version, or `None` when it is. grafana's builder tells
    /// the logs versions apart by `TimestampTime` alone; its trace columns are the same in all.
    pub fn mismatch(
        self,
        logs: bool,
        schema: &TableSchema,
        found: Option<&Classified>,
    ) -> Option<String> {
        if self == OtelVersion::Latest {
            return None;
        }
        let has_timestamp_time = schema.stored("TimestampTime").is_some();
        match found {
            None => Some("is neither an OpenTelemetry logs nor a traces table".to_owned()),
            Some(Classified::Traces(..)) if logs => Some("is a traces table".to_owned()),
            Some(Classified::Logs(..)) if !logs => Some("is a logs table".to_owned()),
            Some(
                Classified::Logs(Generation::Custom, _) | Classified::Traces(Generation::Custom, _),
            ) => Some("is not the collector exporter's layout (detected custom)".to_owned()),
            Some(Classified::Logs(g, _)) => match self {
                OtelVersion::V1_29_0 if !has_timestamp_time => Some(format!(
                    "has no TimestampTime column, which version 1.29.0 (collector before v0.151) has (detected {})",
                    g.name()
                )),
                OtelVersion::V1_30_0 if has_timestamp_time => Some(format!(
                    "has a TimestampTime column, which version 1.30.0 (collector v0.151 and later) has not (detected {})",
                    g.name()
                )),
                _ => None,
            },
            Some(Classified::Traces(..)) => None,
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

/// Column roles of a traces table: the exporter's names by default, the datasource's `traces`
/// column settings for custom tables. Optional roles are `None` when the table has no such column
/// (the trace view then shows an empty value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceRoles {
    /// Span start time.
    pub time: String,
    /// Extra key columns for pruning.
    pub key_times: Vec<(String, TimeKind)>,
    /// Trace id.
    pub trace_id: String,
    /// Span id.
    pub span_id: String,
    /// Parent span id (empty for root spans).
    pub parent_span_id: Option<String>,
    /// Operation (span) name.
    pub operation: Option<String>,
    /// Service name.
    pub service: Option<String>,
    /// Duration column.
    pub duration: String,
    /// Nanoseconds per unit of the duration column (1 for the exporter's ns; `durationUnit`).
    pub duration_ns: u64,
    /// Span attributes (a map).
    pub tags: Option<String>,
    /// Resource attributes (a map).
    pub service_tags: Option<String>,
    /// Span kind.
    pub kind: Option<String>,
    /// Status code.
    pub status_code: Option<String>,
    /// Status message.
    pub status_message: Option<String>,
    /// W3C trace state.
    pub trace_state: Option<String>,
    /// Instrumentation scope name.
    pub scope_name: Option<String>,
    /// Instrumentation scope version.
    pub scope_version: Option<String>,
    /// Prefix of the span events' Nested columns (`Events`: `Events.Timestamp`, `.Name`,
    /// `.Attributes`).
    pub events: Option<String>,
    /// Prefix of the span links' Nested columns (`Links`: `Links.TraceId`, `.SpanId`).
    pub links: Option<String>,
}

/// The unit of a traces table's duration column (`traces.durationUnit`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DurationUnit {
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Milliseconds,
    /// Microseconds.
    Microseconds,
    /// Nanoseconds (the exporter's unit).
    #[default]
    Nanoseconds,
}

impl DurationUnit {
    /// Parses grafana/clickhouse-datasource's spelling (`seconds`, `milliseconds`,
    /// `microseconds`, `nanoseconds`).
    pub fn parse(text: &str) -> Option<DurationUnit> {
        Some(match text {
            "seconds" => DurationUnit::Seconds,
            "milliseconds" => DurationUnit::Milliseconds,
            "microseconds" => DurationUnit::Microseconds,
            "nanoseconds" => DurationUnit::Nanoseconds,
            _ => return None,
        })
    }

    /// Nanoseconds per unit.
    pub fn nanos(self) -> u64 {
        match self {
            DurationUnit::Seconds => 1_000_000_000,
            DurationUnit::Milliseconds => 1_000_000,
            DurationUnit::Microseconds => 1_000,
            DurationUnit::Nanoseconds => 1,
        }
    }
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

/// Role overrides for custom schemas (datasource `logs` / `traces` settings or a query's
/// `columns`). An override must name a column of the table.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default, rename_all = "camelCase")]
pub struct RoleOverrides {
    /// Time column (`timeColumn`; traces: `startTimeColumn`).
    pub time_column: Option<String>,
    /// Body column (`messageColumn` in grafana's settings).
    #[serde(alias = "messageColumn")]
    pub body_column: Option<String>,
    /// Severity column (`levelColumn`).
    #[serde(alias = "levelColumn")]
    pub severity_column: Option<String>,
    /// Service column (traces: `serviceNameColumn`).
    pub service_column: Option<String>,
    /// Trace id column.
    pub trace_id_column: Option<String>,
    /// Context columns (pod, container…).
    pub context_columns: Option<Vec<String>>,
    /// Logs: a coarser time column to filter on as well, for pruning (`filterTimeColumn`).
    pub filter_time_column: Option<String>,
    /// Traces: span id column (`spanIdColumn`).
    pub span_id_column: Option<String>,
    /// Traces: parent span id column (`parentSpanIdColumn`).
    pub parent_span_id_column: Option<String>,
    /// Traces: operation name column (`operationNameColumn`).
    pub operation_name_column: Option<String>,
    /// Traces: duration column (`durationColumn`).
    pub duration_column: Option<String>,
    /// Traces: the duration column's unit (`durationUnit`; validated by the settings).
    #[serde(skip)]
    pub duration_unit: Option<DurationUnit>,
    /// Traces: span attributes map (`tagsColumn`).
    pub tags_column: Option<String>,
    /// Traces: resource attributes map (`serviceTagsColumn`).
    pub service_tags_column: Option<String>,
    /// Traces: span kind (`kindColumn`).
    pub kind_column: Option<String>,
    /// Traces: status code (`statusCodeColumn`).
    pub status_code_column: Option<String>,
    /// Traces: status message (`statusMessageColumn`).
    pub status_message_column: Option<String>,
    /// Traces: trace state (`stateColumn`).
    pub state_column: Option<String>,
    /// Traces: instrumentation scope name (`instrumentationLibraryNameColumn`).
    pub scope_name_column: Option<String>,
    /// Traces: instrumentation scope version (`instrumentationLibraryVersionColumn`).
    pub scope_version_column: Option<String>,
    /// Traces: prefix of the events' Nested columns (`traceEventsColumnPrefix`).
    pub events_prefix: Option<String>,
    /// Traces: prefix of the links' Nested columns (`traceLinksColumnPrefix`).
    pub links_prefix: Option<String>,
}

impl RoleOverrides {
    /// These overrides with any unset role taken from `fallback`.
    pub fn or(&self, fallback: &RoleOverrides) -> RoleOverrides {
        // Listing every field (no `..`) makes a new role a compile error here until it is added.
        macro_rules! either {
            ($($field:ident),* $(,)?) => {
                RoleOverrides {
                    $($field: self.$field.clone().or_else(|| fallback.$field.clone()),)*
                }
            };
        }
        either!(
            time_column,
            body_column,
            severity_column,
            service_column,
            trace_id_column,
            context_columns,
            filter_time_column,
            span_id_column,
            parent_span_id_column,
            operation_name_column,
            duration_column,
            duration_unit,
            tags_column,
            service_tags_column,
            kind_column,
            status_code_column,
            status_message_column,
            state_column,
            scope_name_column,
            scope_version_column,
            events_prefix,
            links_prefix,
        )
    }

    /// The overrides naming a column `schema` does not have, as `key `column`` (the setting's
    /// name), for an error that says which setting to fix.
    pub fn missing_in(&self, schema: &TableSchema) -> Vec<String> {
        let mut roles = self.clone();
        ROLE_SETTINGS
            .iter()
            .filter_map(|(keys, field)| {
                let c = field(&mut roles).clone()?;
                let missing = if keys[0].ends_with("Prefix") {
                    nested(schema, &Some(c.clone()), &c).is_none()
                } else {
                    schema.column(&c).is_none()
                };
                missing.then(|| format!("{} `{c}`", keys[0]))
            })
            .collect()
    }

    /// True when a role only a traces table has is overridden: the table is then read as traces
    /// whatever its column names.
    fn names_trace_roles(&self) -> bool {
        self.span_id_column.is_some()
            || self.parent_span_id_column.is_some()
            || self.operation_name_column.is_some()
            || self.duration_column.is_some()
    }
}

/// A role of [`RoleOverrides`], to read or set it by its setting's name.
pub type RoleField = fn(&mut RoleOverrides) -> &mut Option<String>;

/// The column-role keys of a datasource's `logs` / `traces` settings (grafana/clickhouse-datasource's
/// name first, then Lantern's own spelling) and the role each sets.
pub const ROLE_SETTINGS: &[(&[&str], RoleField)] = &[
    (&["timeColumn", "startTimeColumn"], |o| &mut o.time_column),
    (&["messageColumn", "bodyColumn"], |o| &mut o.body_column),
    (&["levelColumn", "severityColumn"], |o| {
        &mut o.severity_column
    }),
    (&["serviceNameColumn", "serviceColumn"], |o| {
        &mut o.service_column
    }),
    (&["traceIdColumn"], |o| &mut o.trace_id_column),
    (&["filterTimeColumn"], |o| &mut o.filter_time_column),
    (&["spanIdColumn"], |o| &mut o.span_id_column),
    (&["parentSpanIdColumn"], |o| &mut o.parent_span_id_column),
    (&["operationNameColumn"], |o| &mut o.operation_name_column),
    (&["durationColumn"], |o| &mut o.duration_column),
    (&["tagsColumn"], |o| &mut o.tags_column),
    (&["serviceTagsColumn"], |o| &mut o.service_tags_column),
    (&["kindColumn"], |o| &mut o.kind_column),
    (&["statusCodeColumn"], |o| &mut o.status_code_column),
    (&["statusMessageColumn"], |o| &mut o.status_message_column),
    (&["stateColumn"], |o| &mut o.state_column),
    (&["instrumentationLibraryNameColumn"], |o| {
        &mut o.scope_name_column
    }),
    (&["instrumentationLibraryVersionColumn"], |o| {
        &mut o.scope_version_column
    }),
    (&["traceEventsColumnPrefix"], |o| &mut o.events_prefix),
    (&["traceLinksColumnPrefix"], |o| &mut o.links_prefix),
];

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

fn is_any(_: &ChType) -> bool {
    true
}

/// A role's column: the override, which must name a column of the table (`None` when it does
/// not), else the first of `names` found with a fitting type (`Some(None)` when none is).
fn role(
    schema: &TableSchema,
    over: &Option<String>,
    names: &[&str],
    ok: fn(&ChType) -> bool,
) -> Option<Option<String>> {
    match over {
        Some(name) => Some(Some(schema.column(name)?.name.clone())),
        None => Some(find(schema, names, ok).map(str::to_owned)),
    }
}

/// A Nested column group (`Events`, `Links`) by prefix: the override, which must exist, else the
/// default when the table has it.
fn nested(schema: &TableSchema, over: &Option<String>, default: &str) -> Option<Option<String>> {
    let present = |p: &str| {
        schema.columns.iter().any(|c| {
            c.name == p
                || c.name
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    };
    match over {
        Some(p) if present(p) => Some(Some(p.clone())),
        Some(_) => None,
        None => Some(present(default).then(|| default.to_owned())),
    }
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

/// Classifies a table as OTel logs or traces (any generation, or custom), or `None`. `None` too
/// when an override names a column the table does not have.
pub fn classify(schema: &TableSchema, overrides: &RoleOverrides) -> Option<Classified> {
    let has = |n: &str| schema.column(n).is_some();
    let o = overrides;
    let text = |over: &Option<String>, names: &[&str]| role(schema, over, names, is_string);
    let map = |over: &Option<String>, names: &[&str]| role(schema, over, names, is_map);
    let span_id = text(&o.span_id_column, &["SpanId", "span_id", "spanID"])?;
    let parent_span_id = text(
        &o.parent_span_id_column,
        &["ParentSpanId", "parent_span_id", "parentSpanID"],
    )?;
    let operation = text(
        &o.operation_name_column,
        &["SpanName", "span_name", "operation_name", "operationName"],
    )?;
    if o.names_trace_roles()
        || span_id.is_some() && (operation.is_some() || parent_span_id.is_some())
    {
        let time = role(
            schema,
            &o.time_column,
            &["Timestamp", "StartTime", "start_time", "timestamp"],
            |t| is_time(t).is_some(),
        )??;
        let generation = match schema.column("Duration").map(|c| c.ty.base().clone()) {
            Some(ChType::Int(64)) if !has("ScopeName") => Generation::Traces2022,
            Some(_) if has("SpanKind") && has("StatusCode") => Generation::TracesCurrent,
            _ => Generation::Custom,
        };
        let roles = TraceRoles {
            key_times: key_times(schema, &time),
            time,
            trace_id: text(&o.trace_id_column, &["TraceId", "trace_id", "traceID"])??,
            span_id: span_id?,
            parent_span_id,
            operation,
            service: text(
                &o.service_column,
                &["ServiceName", "service_name", "service"],
            )?,
            duration: role(
                schema,
                &o.duration_column,
                &["Duration", "duration_ns", "duration"],
                if o.duration_column.is_some() {
                    is_any
                } else {
                    is_number
                },
            )??,
            duration_ns: o.duration_unit.unwrap_or_default().nanos(),
            tags: map(&o.tags_column, &["SpanAttributes", "span_attributes"])?,
            service_tags: map(
                &o.service_tags_column,
                &["ResourceAttributes", "resource_attributes"],
            )?,
            kind: text(&o.kind_column, &["SpanKind", "span_kind"])?,
            status_code: text(&o.status_code_column, &["StatusCode", "status_code"])?,
            status_message: text(
                &o.status_message_column,
                &["StatusMessage", "status_message"],
            )?,
            trace_state: text(&o.state_column, &["TraceState", "trace_state"])?,
            scope_name: text(&o.scope_name_column, &["ScopeName", "scope_name"])?,
            scope_version: text(&o.scope_version_column, &["ScopeVersion", "scope_version"])?,
            events: nested(schema, &o.events_prefix, "Events")?,
            links: nested(schema, &o.links_prefix, "Links")?,
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
    // `filterTimeColumn`: a coarser time column the user filters on too (grafana's 1.2.9 layout
    // filters on TimestampTime); it must be a time column.
    if let Some(name) = &o.filter_time_column {
        let c = schema.column(name)?;
        let kind = is_time(&c.ty)?;
        if c.name != time && !key_times.iter().any(|(n, _)| *n == c.name) {
            key_times.push((c.name.clone(), kind));
        }
    }
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

    /// A traces table whose columns are all named differently from the exporter's.
    fn custom_spans() -> TableSchema {
        schema(
            vec![
                col("started", "DateTime64(6)"),
                col("trace", "String"),
                col("span", "String"),
                col("parent", "String"),
                col("op", "LowCardinality(String)"),
                col("svc", "LowCardinality(String)"),
                col("took_ms", "Float64"),
                col("attrs", "Map(String, String)"),
                col("res", "Map(String, String)"),
                col("state", "LowCardinality(String)"),
                col("ev.Timestamp", "Array(DateTime64(9))"),
                col("ev.Name", "Array(String)"),
                col("ev.Attributes", "Array(Map(String, String))"),
            ],
            "svc, toDateTime(started)",
            "",
            "toDate(started)",
        )
    }

    fn custom_overrides() -> RoleOverrides {
        let some = |s: &str| Some(s.to_owned());
        RoleOverrides {
            time_column: some("started"),
            trace_id_column: some("trace"),
            span_id_column: some("span"),
            parent_span_id_column: some("parent"),
            operation_name_column: some("op"),
            service_column: some("svc"),
            duration_column: some("took_ms"),
            duration_unit: Some(DurationUnit::Milliseconds),
            tags_column: some("attrs"),
            service_tags_column: some("res"),
            status_code_column: some("state"),
            events_prefix: some("ev"),
            ..Default::default()
        }
    }

    #[test]
    fn a_custom_traces_table_is_read_through_the_column_settings() {
        let s = custom_spans();
        assert_eq!(classify(&s, &RoleOverrides::default()), None);
        let Some(Classified::Traces(g, r)) = classify(&s, &custom_overrides()) else {
            panic!("not traces")
        };
        assert_eq!(g, Generation::Custom);
        assert_eq!(
            (r.time.as_str(), r.trace_id.as_str(), r.span_id.as_str()),
            ("started", "trace", "span")
        );
        assert_eq!(r.parent_span_id.as_deref(), Some("parent"));
        assert_eq!(r.operation.as_deref(), Some("op"));
        assert_eq!(r.service.as_deref(), Some("svc"));
        assert_eq!((r.duration.as_str(), r.duration_ns), ("took_ms", 1_000_000));
        assert_eq!(r.tags.as_deref(), Some("attrs"));
        assert_eq!(r.service_tags.as_deref(), Some("res"));
        assert_eq!(r.status_code.as_deref(), Some("state"));
        assert_eq!(r.events.as_deref(), Some("ev"));
        assert_eq!((r.kind.as_deref(), r.links.as_deref()), (None, None));
        assert_eq!(r.key_times, vec![]);
        assert!(custom_overrides().missing_in(&s).is_empty());

        // An override naming a column the table lacks is not silently dropped.
        for o in [
            RoleOverrides {
                span_id_column: Some("nope".into()),
                ..custom_overrides()
            },
            RoleOverrides {
                kind_column: Some("nope".into()),
                ..custom_overrides()
            },
            RoleOverrides {
                links_prefix: Some("nope".into()),
                ..custom_overrides()
            },
        ] {
            assert_eq!(classify(&s, &o), None, "{o:?}");
            assert_eq!(o.missing_in(&s).len(), 1, "{:?}", o.missing_in(&s));
        }
        assert_eq!(
            RoleOverrides {
                span_id_column: Some("nope".into()),
                ..Default::default()
            }
            .missing_in(&s),
            ["spanIdColumn `nope`"]
        );
    }

    #[test]
    fn exporter_traces_need_no_settings() {
        let c = vec![
            col("Timestamp", "DateTime64(9)"),
            col("TraceId", "String"),
            col("SpanId", "String"),
            col("ParentSpanId", "String"),
            col("SpanName", "LowCardinality(String)"),
            col("SpanKind", "LowCardinality(String)"),
            col("ServiceName", "LowCardinality(String)"),
            col("Duration", "UInt64"),
            col("StatusCode", "LowCardinality(String)"),
            col("SpanAttributes", "Map(LowCardinality(String), String)"),
            col("Events.Timestamp", "Array(DateTime64(9))"),
            col("Links.TraceId", "Array(String)"),
        ];
        let s = schema(
            c,
            "ServiceName, SpanName, toDateTime(Timestamp)",
            "",
            "toDate(Timestamp)",
        );
        let Some(Classified::Traces(_, r)) = classify(&s, &RoleOverrides::default()) else {
            panic!()
        };
        assert_eq!(
            r.duration_ns, 1,
            "nanoseconds unless durationUnit says otherwise"
        );
        assert_eq!(r.kind.as_deref(), Some("SpanKind"));
        assert_eq!(r.service_tags, None);
        assert_eq!(
            (r.events.as_deref(), r.links.as_deref()),
            (Some("Events"), Some("Links"))
        );
    }

    #[test]
    fn filter_time_column_is_filtered_too() {
        let mut c = logs_common();
        c.push(col("EventDate", "Date"));
        let s = schema(c, "ServiceName, Timestamp", "", "");
        let o = RoleOverrides {
            filter_time_column: Some("EventDate".into()),
            ..Default::default()
        };
        let Some(Classified::Logs(_, r)) = classify(&s, &o) else {
            panic!()
        };
        assert_eq!(r.key_times, vec![("EventDate".to_owned(), TimeKind::Date)]);
        for bad in ["Body", "Missing"] {
            let o = RoleOverrides {
                filter_time_column: Some(bad.into()),
                ..Default::default()
            };
            assert_eq!(classify(&s, &o), None, "{bad} is not a time column");
        }
    }

    #[test]
    fn otel_versions_against_tables() {
        let mut c = logs_common();
        c.push(col("ScopeName", "String"));
        c.push(col("EventName", "String"));
        let v151 = schema(
            c.clone(),
            "toStartOfFiveMinutes(Timestamp), ServiceName",
            "",
            "",
        );
        c.push(Column {
            name: "TimestampTime".into(),
            ty: ChType::parse("DateTime"),
            default_kind: "DEFAULT".into(),
        });
        let older = schema(c, "ServiceName, TimestampTime, Timestamp", "", "");
        let check = |v: OtelVersion, logs: bool, s: &TableSchema| {
            v.mismatch(logs, s, classify(s, &RoleOverrides::default()).as_ref())
        };
        assert_eq!(check(OtelVersion::V1_30_0, true, &v151), None);
        assert_eq!(check(OtelVersion::V1_29_0, true, &older), None);
        assert_eq!(check(OtelVersion::Latest, true, &older), None);
        let why = check(OtelVersion::V1_29_0, true, &v151).unwrap();
        assert!(
            why.contains("no TimestampTime") && why.contains("otel-logs-v0.151"),
            "{why}"
        );
        let why = check(OtelVersion::V1_30_0, true, &older).unwrap();
        assert!(why.contains("has a TimestampTime"), "{why}");
        assert_eq!(
            check(OtelVersion::V1_30_0, false, &older).as_deref(),
            Some("is a logs table")
        );
        let spans = custom_spans();
        assert_eq!(
            OtelVersion::V1_30_0
                .mismatch(
                    false,
                    &spans,
                    classify(&spans, &custom_overrides()).as_ref()
                )
                .as_deref(),
            Some("is not the collector exporter's layout (detected custom)")
        );
        assert!(
            check(OtelVersion::V1_29_0, false, &spans)
                .unwrap()
                .contains("neither")
        );
        assert_eq!(
            OtelVersion::parse("1.29.0").map(OtelVersion::name),
            Some("1.29.0")
        );
        assert_eq!(OtelVersion::parse("1.2.9"), None);
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
