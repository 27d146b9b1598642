//! The query model of grafana/clickhouse-datasource's visual builder, read once into types.
//!
//! That plugin's builder panels save `editorType: "builder"`, `builderOptions` (what the editor
//! shows) and `rawSql` (the SQL its browser-side generator made from them when the panel was last
//! edited). Its backend runs `rawSql` and ignores `builderOptions`; Lantern does the same, and
//! builds SQL from `builderOptions` (with [`crate::sql::grafana_builder`]) only when `rawSql` is
//! missing or empty. Before v4 the plugin saved another builder model (`queryType: "builder"`,
//! `fields`, `timeField`, `metrics`…), which its frontend migrates on load; [`migrate_v3`] does
//! that migration here, so v3 panels are read too.
//!
//! [`classify`] tells the saved models apart, so the planner never confuses them:
//!
//! | saved JSON | model |
//! |---|---|
//! | `editorType: "lantern-builder"` | Lantern's logs builder ([`SavedModel::LanternBuilder`]) |
//! | `builderOptions` object, with `editorType: "builder"`, no `editorType`, or v3 `queryType: "builder"` | the official builder ([`SavedModel::Official`]) |
//! | a `builder` object, or `editorType: "builder"` without `builderOptions` (Lantern saves before the rename) | Lantern's logs builder |
//! | anything else | SQL ([`SavedModel::Sql`]) |
//!
//! Reading is strict where it matters: a known field of the wrong type is an error naming the
//! field; unknown fields (old dashboards carry many) are ignored; `null` reads as absent.

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Reads a field that may be `null` as its default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// What a builder query shows (`builderOptions.queryType`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum QueryType {
    /// `table`.
    #[default]
    Table,
    /// `logs`.
    Logs,
    /// `timeseries`.
    TimeSeries,
    /// `traces`.
    Traces,
    /// Anything else (the generator makes no SQL for it).
    Other(String),
}

impl From<String> for QueryType {
    fn from(s: String) -> QueryType {
        match s.as_str() {
            "table" => QueryType::Table,
            "logs" => QueryType::Logs,
            "timeseries" => QueryType::TimeSeries,
            "traces" => QueryType::Traces,
            _ => QueryType::Other(s),
        }
    }
}

impl From<QueryType> for String {
    fn from(q: QueryType) -> String {
        match q {
            QueryType::Table => "table".into(),
            QueryType::Logs => "logs".into(),
            QueryType::TimeSeries => "timeseries".into(),
            QueryType::Traces => "traces".into(),
            QueryType::Other(s) => s,
        }
    }
}

/// `builderOptions.mode`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Mode {
    /// `list`.
    List,
    /// `aggregate` (table aggregate; time series "Simple").
    Aggregate,
    /// `trend` (time series "Aggregate").
    Trend,
    /// Anything else.
    Other(String),
}

impl From<String> for Mode {
    fn from(s: String) -> Mode {
        match s.as_str() {
            "list" => Mode::List,
            "aggregate" => Mode::Aggregate,
            "trend" => Mode::Trend,
            _ => Mode::Other(s),
        }
    }
}

impl From<Mode> for String {
    fn from(m: Mode) -> String {
        match m {
            Mode::List => "list".into(),
            Mode::Aggregate => "aggregate".into(),
            Mode::Trend => "trend".into(),
            Mode::Other(s) => s,
        }
    }
}

/// A column's role (`hint`). The generator looks columns up by hint, always taking the first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Hint {
    /// `time`.
    Time,
    /// `filter_time` (the OTel 1.2.9 `TimestampTime` key column).
    FilterTime,
    /// `log_level`.
    LogLevel,
    /// `log_message`.
    LogMessage,
    /// `resource_attributes`.
    ResourceAttributes,
    /// `scope_attributes`.
    ScopeAttributes,
    /// `log_attributes`.
    LogAttributes,
    /// Any other hint, kept by name (`trace_id`, `trace_span_id`, legacy `log_labels`…).
    Named(String),
}

impl From<String> for Hint {
    fn from(s: String) -> Hint {
        match s.as_str() {
            "time" => Hint::Time,
            "filter_time" => Hint::FilterTime,
            "log_level" => Hint::LogLevel,
            "log_message" => Hint::LogMessage,
            "resource_attributes" => Hint::ResourceAttributes,
            "scope_attributes" => Hint::ScopeAttributes,
            "log_attributes" => Hint::LogAttributes,
            _ => Hint::Named(s),
        }
    }
}

impl From<Hint> for String {
    fn from(h: Hint) -> String {
        h.name().to_owned()
    }
}

impl Hint {
    /// The hint as saved.
    pub fn name(&self) -> &str {
        match self {
            Hint::Time => "time",
            Hint::FilterTime => "filter_time",
            Hint::LogLevel => "log_level",
            Hint::LogMessage => "log_message",
            Hint::ResourceAttributes => "resource_attributes",
            Hint::ScopeAttributes => "scope_attributes",
            Hint::LogAttributes => "log_attributes",
            Hint::Named(s) => s,
        }
    }

    /// A hint by name (`Hint::of("trace_id")`).
    pub fn of(name: &str) -> Hint {
        Hint::from(name.to_owned())
    }
}

/// A selected column (`columns[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SelectedColumn {
    /// Column name or expression.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// ClickHouse type (or an editor pseudo-type).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// Alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Entered by hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<bool>,
    /// Role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<Hint>,
}

/// An aggregate (`aggregates[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Aggregate {
    /// `sum`, `avg`, `min`, `max`, `count`, `any`.
    #[serde(deserialize_with = "nullable")]
    pub aggregate_type: String,
    /// Column or expression.
    #[serde(deserialize_with = "nullable")]
    pub column: String,
    /// Alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// `AND` / `OR` before a filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    /// `AND`.
    #[default]
    #[serde(rename = "AND")]
    And,
    /// `OR`.
    #[serde(rename = "OR")]
    Or,
}

/// A filter operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Operator {
    /// `IS ANYTHING` (no condition).
    IsAnything,
    /// `IS EMPTY`.
    IsEmpty,
    /// `IS NOT EMPTY`.
    IsNotEmpty,
    /// `IS NULL`.
    IsNull,
    /// `IS NOT NULL`.
    IsNotNull,
    /// `=`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `LIKE`.
    Like,
    /// `NOT LIKE`.
    NotLike,
    /// `ILIKE`.
    ILike,
    /// `NOT ILIKE`.
    NotILike,
    /// `IN`.
    In,
    /// `NOT IN`.
    NotIn,
    /// `WITH IN DASHBOARD TIME RANGE`.
    InRange,
    /// `OUTSIDE DASHBOARD TIME RANGE`.
    OutsideRange,
    /// Anything else (refused by the generator).
    Other(String),
}

impl From<String> for Operator {
    fn from(s: String) -> Operator {
        match s.as_str() {
            "IS ANYTHING" => Operator::IsAnything,
            "IS EMPTY" => Operator::IsEmpty,
            "IS NOT EMPTY" => Operator::IsNotEmpty,
            "IS NULL" => Operator::IsNull,
            "IS NOT NULL" => Operator::IsNotNull,
            "=" => Operator::Eq,
            "!=" => Operator::Ne,
            "<" => Operator::Lt,
            "<=" => Operator::Le,
            ">" => Operator::Gt,
            ">=" => Operator::Ge,
            "LIKE" => Operator::Like,
            "NOT LIKE" => Operator::NotLike,
            "ILIKE" => Operator::ILike,
            "NOT ILIKE" => Operator::NotILike,
            "IN" => Operator::In,
            "NOT IN" => Operator::NotIn,
            "WITH IN DASHBOARD TIME RANGE" => Operator::InRange,
            "OUTSIDE DASHBOARD TIME RANGE" => Operator::OutsideRange,
            _ => Operator::Other(s),
        }
    }
}

impl From<Operator> for String {
    fn from(o: Operator) -> String {
        o.text().to_owned()
    }
}

impl Operator {
    /// The operator as saved.
    pub fn text(&self) -> &str {
        match self {
            Operator::IsAnything => "IS ANYTHING",
            Operator::IsEmpty => "IS EMPTY",
            Operator::IsNotEmpty => "IS NOT EMPTY",
            Operator::IsNull => "IS NULL",
            Operator::IsNotNull => "IS NOT NULL",
            Operator::Eq => "=",
            Operator::Ne => "!=",
            Operator::Lt => "<",
            Operator::Le => "<=",
            Operator::Gt => ">",
            Operator::Ge => ">=",
            Operator::Like => "LIKE",
            Operator::NotLike => "NOT LIKE",
            Operator::ILike => "ILIKE",
            Operator::NotILike => "NOT ILIKE",
            Operator::In => "IN",
            Operator::NotIn => "NOT IN",
            Operator::InRange => "WITH IN DASHBOARD TIME RANGE",
            Operator::OutsideRange => "OUTSIDE DASHBOARD TIME RANGE",
            Operator::Other(s) => s,
        }
    }
}

impl Default for Operator {
    fn default() -> Operator {
        Operator::Other(String::new())
    }
}

/// A filter (`filters[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Filter {
    /// Always `custom`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_type: Option<String>,
    /// Column name (empty when the filter is by hint only).
    #[serde(deserialize_with = "nullable")]
    pub key: String,
    /// Key inside a Map or JSON column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_key: Option<String>,
    /// The column's ClickHouse type, or an editor pseudo-type.
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub ty: String,
    /// Operator.
    pub operator: Operator,
    /// Value: a string, number, boolean or list, by operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// `AND` / `OR` before this filter.
    #[serde(deserialize_with = "nullable")]
    pub condition: Condition,
    /// Role of the filtered column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<Hint>,
}

/// An ORDER BY entry (`orderBy[]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OrderBy {
    /// Column name (empty when by hint).
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// `ASC` / `DESC`.
    pub dir: SortDir,
    /// Role of the column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<Hint>,
    /// Whether the editor added it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
}

/// Sort direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortDir {
    /// `ASC`.
    #[default]
    #[serde(rename = "ASC", alias = "asc")]
    Asc,
    /// `DESC`.
    #[serde(rename = "DESC", alias = "desc")]
    Desc,
}

impl SortDir {
    /// `ASC` or `DESC`.
    pub fn sql(self) -> &'static str {
        match self {
            SortDir::Asc => "ASC",
            SortDir::Desc => "DESC",
        }
    }
}

/// `builderOptions.meta`: the fields that change SQL, plus the editor's OTel state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuilderMeta {
    /// OTel column defaults in use (editor only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otel_enabled: Option<bool>,
    /// OTel version (editor only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otel_version: Option<String>,
    /// Logs: message search.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_message_like: Option<String>,
    /// Traces: one trace by id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_trace_id_mode: Option<bool>,
    /// Traces: the id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// `seconds` … `nanoseconds`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_duration_unit: Option<String>,
    /// Use `<table><suffix>` to bound a trace by its start and end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_trace_timestamp_table: Option<bool>,
    /// Default `_trace_id_ts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_timestamp_table_suffix: Option<String>,
    /// Events and links as flattened `Nested` columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flatten_nested: Option<bool>,
    /// Events column prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_events_column_prefix: Option<String>,
    /// Links column prefix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_links_column_prefix: Option<String>,
}

/// `builderOptions` (v4 model).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuilderOptions {
    /// Database.
    #[serde(deserialize_with = "nullable")]
    pub database: String,
    /// Table.
    #[serde(deserialize_with = "nullable")]
    pub table: String,
    /// What the query shows.
    #[serde(deserialize_with = "nullable")]
    pub query_type: QueryType,
    /// List / aggregate / trend.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Selected columns.
    #[serde(deserialize_with = "nullable")]
    pub columns: Vec<SelectedColumn>,
    /// Aggregates.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub aggregates: Vec<Aggregate>,
    /// Filters.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// GROUP BY entries.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub group_by: Vec<String>,
    /// ORDER BY entries.
    #[serde(deserialize_with = "nullable", skip_serializing_if = "Vec::is_empty")]
    pub order_by: Vec<OrderBy>,
    /// Row limit (0, negative or absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    /// Meta options.
    #[serde(deserialize_with = "nullable")]
    pub meta: BuilderMeta,
}

impl BuilderOptions {
    /// Reads `builderOptions` from its JSON; errors name the field.
    pub fn from_json(v: &Value) -> Result<BuilderOptions, String> {
        read(v, "builderOptions")
    }

    /// The first column carrying `hint`.
    pub fn column_with(&self, hint: &Hint) -> Option<&SelectedColumn> {
        self.columns.iter().find(|c| c.hint.as_ref() == Some(hint))
    }

    /// Whether this is a single-trace query (trace-ID mode with an id).
    pub fn is_trace_id_query(&self) -> bool {
        self.query_type == QueryType::Traces
            && self.meta.is_trace_id_mode == Some(true)
            && self.meta.trace_id.as_deref().is_some_and(|s| !s.is_empty())
    }

    /// The `format` that plugin stores next to the SQL for these options: 0 time series, 1
    /// table, 2 logs, 3 traces (trace-ID mode; a trace search is a table).
    pub fn format(&self) -> i64 {
        match self.query_type {
            QueryType::Table => 1,
            QueryType::Logs => 2,
            QueryType::TimeSeries => 0,
            QueryType::Traces if self.meta.is_trace_id_mode == Some(true) => 3,
            QueryType::Traces => 1,
            QueryType::Other(_) => 256,
        }
    }
}

fn read<T: DeserializeOwned>(v: &Value, what: &str) -> Result<T, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("invalid `{what}`: {e}"))
}

/// The v3 builder model (before plugin 4.0), as its migration reads it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct V3Options {
    #[serde(deserialize_with = "nullable")]
    database: String,
    #[serde(deserialize_with = "nullable")]
    table: String,
    mode: Option<Mode>,
    #[serde(deserialize_with = "nullable")]
    fields: Vec<String>,
    time_field: Option<String>,
    time_field_type: Option<String>,
    log_level_field: Option<String>,
    #[serde(deserialize_with = "nullable")]
    metrics: Vec<V3Metric>,
    #[serde(deserialize_with = "nullable")]
    filters: Vec<Filter>,
    #[serde(deserialize_with = "nullable")]
    group_by: Vec<String>,
    #[serde(deserialize_with = "nullable")]
    order_by: Vec<OrderBy>,
    limit: Option<f64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
struct V3Metric {
    #[serde(deserialize_with = "nullable")]
    field: String,
    #[serde(deserialize_with = "nullable")]
    aggregation: String,
    alias: Option<String>,
}

/// Whether a `builderOptions` object is in the v3 model (it has v3-only keys and no v4
/// `columns`).
pub fn is_v3_options(v: &Value) -> bool {
    let Some(o) = v.as_object() else {
        return false;
    };
    !o.contains_key("columns")
        && ["fields", "timeField", "logLevelField", "metrics"]
            .iter()
            .any(|k| o.contains_key(*k))
}

/// The v3 → v4 builder migration (what that plugin's frontend does when it loads a v3 query):
/// `fields` become columns, `timeField` a `time` column (time series), `logLevelField` a
/// `log_level` column (logs), `metrics` aggregates; filters gain the matching hint.
pub fn migrate_v3(v: &Value) -> Result<BuilderOptions, String> {
    let old: V3Options = read(v, "builderOptions")?;
    let mut columns: Vec<SelectedColumn> = old
        .fields
        .iter()
        .map(|f| SelectedColumn {
            name: f.clone(),
            ..Default::default()
        })
        .collect();
    let time = old.time_field.clone().filter(|s| !s.is_empty());
    let level = old.log_level_field.clone().filter(|s| !s.is_empty());
    if let Some(t) = &time {
        columns.push(SelectedColumn {
            name: t.clone(),
            ty: old.time_field_type.clone(),
            hint: Some(Hint::Time),
            ..Default::default()
        });
    }
    if let Some(l) = &level {
        columns.push(SelectedColumn {
            name: l.clone(),
            hint: Some(Hint::LogLevel),
            ..Default::default()
        });
    }
    let query_type = if time.is_some() {
        QueryType::TimeSeries
    } else if level.is_some() {
        QueryType::Logs
    } else {
        QueryType::Table
    };
    let filters = old
        .filters
        .into_iter()
        .map(|mut f| {
            if time.as_deref() == Some(f.key.as_str()) {
                f.hint = Some(Hint::Time);
            } else if level.as_deref() == Some(f.key.as_str()) {
                f.hint = Some(Hint::LogLevel);
            }
            f
        })
        .collect();
    Ok(BuilderOptions {
        database: old.database,
        table: old.table,
        query_type,
        mode: old.mode,
        columns,
        aggregates: old
            .metrics
            .into_iter()
            .map(|m| Aggregate {
                aggregate_type: m.aggregation,
                column: m.field,
                alias: m.alias,
            })
            .collect(),
        filters,
        group_by: old.group_by,
        order_by: old.order_by,
        limit: old.limit.filter(|l| *l >= 0.0),
        meta: BuilderMeta::default(),
    })
}

/// A saved official builder query.
#[derive(Clone, Debug, PartialEq)]
pub struct OfficialBuilder {
    /// The options (v3 ones migrated).
    pub options: BuilderOptions,
    /// The saved SQL, when non-empty: what runs.
    pub raw_sql: Option<String>,
    /// The options were saved in the v3 model.
    pub from_v3: bool,
}

impl OfficialBuilder {
    /// The `format` the query runs with: the saved one, else the one its options imply.
    pub fn format(&self, saved: Option<&Value>) -> i64 {
        saved
            .and_then(Value::as_i64)
            .unwrap_or_else(|| self.options.format())
    }
}

/// Which saved model a query is.
#[derive(Clone, Debug, PartialEq)]
pub enum SavedModel {
    /// grafana/clickhouse-datasource's builder.
    Official(Box<OfficialBuilder>),
    /// Lantern's logs builder (`editorType: "lantern-builder"`, or a `builder` object).
    LanternBuilder,
    /// SQL (either plugin's SQL editor, or Altinity's `query`).
    Sql,
}

/// The `editorType` Lantern's own logs builder saves.
pub const LANTERN_BUILDER: &str = "lantern-builder";

/// Tells the saved models apart (see the module docs for the rule); an official builder
/// query's options are read here, once.
pub fn classify(json: &Map<String, Value>) -> Result<SavedModel, String> {
    let editor = json.get("editorType").and_then(Value::as_str);
    if editor == Some(LANTERN_BUILDER) {
        return Ok(SavedModel::LanternBuilder);
    }
    let v3_builder = json.get("queryType").and_then(Value::as_str) == Some("builder");
    let options = json.get("builderOptions").filter(|v| v.is_object());
    if let Some(opts) = options
        && (matches!(editor, None | Some("builder")) || v3_builder)
        && !(editor.is_none() && json.get("builder").is_some_and(Value::is_object))
    {
        let from_v3 = v3_builder || is_v3_options(opts);
        let options = if from_v3 {
            migrate_v3(opts)?
        } else {
            BuilderOptions::from_json(opts)?
        };
        let raw_sql = match json.get("rawSql") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()).filter(|s| !s.trim().is_empty()),
            Some(other) => return Err(format!("field `rawSql` must be a string, got {other}")),
        };
        return Ok(SavedModel::Official(Box::new(OfficialBuilder {
            options,
            raw_sql,
            from_v3,
        })));
    }
    if editor == Some("builder") || json.get("builder").is_some_and(Value::is_object) {
        return Ok(SavedModel::LanternBuilder);
    }
    Ok(SavedModel::Sql)
}

/// How frames are shaped for a query: as grafana/clickhouse-datasource's backend shapes them
/// (its saved queries), or Lantern's own way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FrameStyle {
    /// Lantern's: logs need a time column, labels are flat attribute keys.
    #[default]
    Lantern,
    /// grafana/clickhouse-datasource's: logs without time stay logs, time series without
    /// values come back as they are, labels keep their map prefix (`LogAttributes.k`).
    Official,
}

/// The frame style for a saved query: official for that plugin's saved queries (its builder,
/// or its SQL editor: `pluginVersion` set or `builderOptions`/`meta.builderOptions` present).
pub fn frame_style(json: &Map<String, Value>) -> FrameStyle {
    let editor = json.get("editorType").and_then(Value::as_str);
    if editor == Some(LANTERN_BUILDER) {
        return FrameStyle::Lantern;
    }
    let has = |k: &str| json.get(k).is_some_and(|v| !v.is_null());
    let meta_options = json
        .get("meta")
        .and_then(|m| m.get("builderOptions"))
        .is_some_and(Value::is_object);
    if has("builderOptions") || has("pluginVersion") || meta_options {
        FrameStyle::Official
    } else {
        FrameStyle::Lantern
    }
}

/// Whether a saved query is an Altinity annotation query (`format: "ANNOTATION"`, which its
/// annotation editor forces): its result becomes Grafana's annotation frame.
pub fn is_annotation(json: &Map<String, Value>) -> bool {
    json.get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| f.trim().eq_ignore_ascii_case("annotation"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn classify_tells_the_models_apart() {
        let official = obj(json!({"editorType": "builder", "rawSql": "SELECT 1",
            "builderOptions": {"database": "d", "table": "t", "queryType": "table", "columns": [{"name": "a"}]}}));
        let SavedModel::Official(b) = classify(&official).unwrap() else {
            panic!("not official")
        };
        assert_eq!(b.raw_sql.as_deref(), Some("SELECT 1"));
        assert_eq!(b.options.columns[0].name, "a");
        assert!(!b.from_v3);
        assert_eq!(
            classify(&obj(
                json!({"editorType": "lantern-builder", "builder": {}})
            ))
            .unwrap(),
            SavedModel::LanternBuilder
        );
        // Lantern saves from before the rename.
        assert_eq!(
            classify(&obj(json!({"editorType": "builder", "builder": {}}))).unwrap(),
            SavedModel::LanternBuilder
        );
        assert_eq!(
            classify(&obj(json!({"builder": {"table": "x"}}))).unwrap(),
            SavedModel::LanternBuilder
        );
        assert_eq!(
            classify(&obj(json!({"editorType": "sql", "rawSql": "SELECT 1",
                "builderOptions": {"table": "t"}})))
            .unwrap(),
            SavedModel::Sql
        );
        assert_eq!(
            classify(&obj(json!({"query": "SELECT 1"}))).unwrap(),
            SavedModel::Sql
        );
    }

    #[test]
    fn empty_raw_sql_means_generate() {
        let q = obj(json!({"editorType": "builder", "rawSql": "  ",
            "builderOptions": {"table": "t", "queryType": "logs"}}));
        let SavedModel::Official(b) = classify(&q).unwrap() else {
            panic!()
        };
        assert_eq!(b.raw_sql, None);
        assert_eq!(b.options.query_type, QueryType::Logs);
        assert_eq!(b.format(None), 2);
        assert_eq!(b.format(Some(&json!(1))), 1);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let q = obj(json!({"editorType": "builder", "builderOptions": {"columns": "a"}}));
        let e = classify(&q).unwrap_err();
        assert!(e.contains("builderOptions"), "{e}");
        let q = obj(json!({"editorType": "builder", "rawSql": 3, "builderOptions": {}}));
        assert!(classify(&q).unwrap_err().contains("rawSql"));
    }

    #[test]
    fn nulls_read_as_absent() {
        let o = BuilderOptions::from_json(&json!({"database": null, "mode": null, "filters": null,
            "meta": null, "columns": [{"name": "a", "alias": null}]}))
        .unwrap();
        assert_eq!(
            (o.database.as_str(), o.mode, o.filters.len()),
            ("", None, 0)
        );
    }

    #[test]
    fn v3_builder_is_migrated() {
        let q = obj(
            json!({"queryType": "builder", "rawSql": "SELECT 1", "format": 0,
            "builderOptions": {"mode": "trend", "database": "db", "table": "t", "fields": ["a"],
                "timeField": "ts", "timeFieldType": "DateTime",
                "metrics": [{"field": "v", "aggregation": "sum", "alias": "s"}],
                "filters": [{"key": "ts", "operator": "WITH IN DASHBOARD TIME RANGE", "type": "datetime", "condition": "AND", "filterType": "custom"}],
                "groupBy": ["a"], "limit": -1}}),
        );
        let SavedModel::Official(b) = classify(&q).unwrap() else {
            panic!()
        };
        assert!(b.from_v3);
        let o = &b.options;
        assert_eq!(o.query_type, QueryType::TimeSeries);
        assert_eq!(o.mode, Some(Mode::Trend));
        assert_eq!(
            o.columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["a", "ts"]
        );
        assert_eq!(o.columns[1].hint, Some(Hint::Time));
        assert_eq!(o.aggregates[0].aggregate_type, "sum");
        assert_eq!(o.filters[0].hint, Some(Hint::Time));
        assert_eq!(o.limit, None);
        assert_eq!(b.format(q.get("format")), 0);
    }

    #[test]
    fn frame_style_follows_the_model() {
        assert_eq!(
            frame_style(&obj(json!({"rawSql": "x", "format": 2}))),
            FrameStyle::Lantern
        );
        assert_eq!(
            frame_style(&obj(
                json!({"rawSql": "x", "format": 2, "pluginVersion": "4.20.0"})
            )),
            FrameStyle::Official
        );
        assert_eq!(
            frame_style(&obj(json!({"editorType": "builder", "builderOptions": {}}))),
            FrameStyle::Official
        );
        assert_eq!(
            frame_style(&obj(
                json!({"editorType": "lantern-builder", "pluginVersion": "x"})
            )),
            FrameStyle::Lantern
        );
    }
}
