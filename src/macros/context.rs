//! Everything an expansion may depend on, as plain data.
//!
//! [`MacroContext`] is built once per query by the caller (the query module reads it from the
//! saved-query JSON and Grafana's request) and is never mutated by the engine. The option structs
//! deserialize directly from the anchors' saved-query fields (anchors.md 2.1/2.2), with every
//! field defaulted, so a dashboard written by either plugin can be fed in unchanged; unknown
//! fields are ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Which macro family a query is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// `grafana-clickhouse-datasource` queries (`rawSql`): only the `$__name` family.
    #[default]
    Grafana,
    /// `vertamedia-clickhouse-datasource` queries (`query`): the `$__name` family first, then the
    /// Altinity `$name` family. Names both plugins define take Altinity's meaning.
    Altinity,
}

/// The dashboard time range, in nanoseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    /// Range start.
    pub from_ns: i64,
    /// Range end.
    pub to_ns: i64,
}

impl TimeRange {
    /// A range from epoch milliseconds, the precision Grafana sends.
    pub fn from_millis(from_ms: i64, to_ms: i64) -> Self {
        Self {
            from_ns: from_ms.saturating_mul(1_000_000),
            to_ns: to_ms.saturating_mul(1_000_000),
        }
    }

    /// A range from epoch nanoseconds.
    pub fn from_nanos(from_ns: i64, to_ns: i64) -> Self {
        Self { from_ns, to_ns }
    }

    /// Start in whole milliseconds (floored).
    pub fn from_ms(&self) -> i64 {
        self.from_ns.div_euclid(1_000_000)
    }

    /// End in whole milliseconds (floored).
    pub fn to_ms(&self) -> i64 {
        self.to_ns.div_euclid(1_000_000)
    }

    /// Start in whole seconds (floored, like Go's `Time.Unix`).
    pub fn from_s(&self) -> i64 {
        self.from_ns.div_euclid(1_000_000_000)
    }

    /// End in whole seconds (floored).
    pub fn to_s(&self) -> i64 {
        self.to_ns.div_euclid(1_000_000_000)
    }
}

/// Fields of a Grafana-model query the `$__` macros read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GrafanaOptions {
    /// `table` from the query JSON, for `$__table`.
    pub table: String,
    /// `column` from the query JSON, for `$__column`.
    pub column: String,
}

/// How the Altinity time column is stored (`dateTimeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum DateTimeType {
    /// `DateTime` (seconds).
    #[default]
    #[serde(rename = "DATETIME")]
    DateTime,
    /// `DateTime64(3)`.
    #[serde(rename = "DATETIME64")]
    DateTime64,
    /// `UInt32` Unix seconds.
    #[serde(rename = "TIMESTAMP")]
    Timestamp,
    /// `UInt64` Unix milliseconds.
    #[serde(rename = "TIMESTAMP64_3")]
    Timestamp64Ms,
    /// `UInt64` Unix microseconds.
    #[serde(rename = "TIMESTAMP64_6")]
    Timestamp64Us,
    /// `UInt64` Unix nanoseconds.
    #[serde(rename = "TIMESTAMP64_9")]
    Timestamp64Ns,
    /// `Float64` Unix seconds.
    #[serde(rename = "FLOAT")]
    Float,
}

/// Fields of an Altinity-model query the `$name` macros read (anchors.md 2.2), under their saved
/// JSON names.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AltinityOptions {
    /// `database`, for `$table`.
    pub database: String,
    /// `table`, for `$table`.
    pub table: String,
    /// `dateTimeType`.
    #[serde(rename = "dateTimeType")]
    pub date_time_type: DateTimeType,
    /// `dateTimeColDataType`: despite its name, the time **column name** for `$dateTimeCol`.
    #[serde(rename = "dateTimeColDataType")]
    pub date_time_column: String,
    /// `dateColDataType`: the date column name for `$dateCol` (optional).
    #[serde(rename = "dateColDataType")]
    pub date_column: String,
    /// `round`: a duration such as `1m`, or `$step` (= the interval); empty or `0s` = none.
    pub round: String,
    /// `intervalFactor`: the interval is multiplied by it (resolution 1/N).
    #[serde(rename = "intervalFactor")]
    pub interval_factor: u32,
    /// `interval`: minimum step such as `30s`; empty = use the request's interval.
    pub interval: String,
    /// `skip_comments`: strip comments before sending.
    pub skip_comments: bool,
    /// `add_metadata`: prepend a `/* grafana … */` comment.
    pub add_metadata: bool,
    /// `useWindowFuncForMacros`: window-function variants of the statement macros.
    #[serde(rename = "useWindowFuncForMacros")]
    pub use_window_functions: bool,
}

impl Default for AltinityOptions {
    fn default() -> Self {
        Self {
            database: String::new(),
            table: String::new(),
            date_time_type: DateTimeType::DateTime,
            date_time_column: String::new(),
            date_column: String::new(),
            round: String::new(),
            interval_factor: 1,
            interval: String::new(),
            skip_comments: true,
            add_metadata: true,
            use_window_functions: true,
        }
    }
}

/// The current value of one dashboard template variable.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Variable {
    /// Selected values (already expanded to every option when "All" is selected, unless
    /// `custom_all_value` is set). One entry for single-value variables.
    pub values: Vec<String>,
    /// Display text of the selection, for `${var:text}`; defaults to the values.
    pub text: Option<String>,
    /// The variable allows several values.
    pub multi: bool,
    /// The variable offers "All".
    pub include_all: bool,
    /// "All" is the current selection.
    pub all_selected: bool,
    /// The dashboard's custom "All" value, inserted verbatim when "All" is selected (it is part
    /// of the dashboard, like the SQL itself, not user input).
    pub custom_all_value: Option<String>,
    /// Whether the variable's model carries `multi`/`includeAll` at all. Grafana's textbox and
    /// constant variables have neither; in the Altinity model a single value of such a variable
    /// is quoted in code, while one of a variable with both flags `false` stays raw (when plain).
    /// `false` for the short forms (`"v"`), `true` for lists and objects with either flag.
    #[serde(default)]
    pub flags_known: bool,
}

impl Variable {
    /// A single-value variable.
    pub fn single(value: impl Into<String>) -> Self {
        Self {
            values: vec![value.into()],
            ..Self::default()
        }
    }

    /// A multi-value variable with the given selection.
    pub fn multi<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Self {
        Self {
            values: values.into_iter().map(Into::into).collect(),
            multi: true,
            flags_known: true,
            ..Self::default()
        }
    }

    /// Whether the selection means "no filter": "All", nothing, or one empty value.
    pub(crate) fn is_all_or_empty(&self) -> bool {
        self.all_selected
            || self.values.is_empty()
            || (self.values.len() == 1 && (self.values[0].is_empty() || self.values[0] == "$__all"))
    }
}

/// One ad hoc filter from the dashboard.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AdHocFilter {
    /// Column, optionally qualified as `db.table.column`.
    pub key: String,
    /// Grafana operator: `=`, `!=`, `=~`, `!~`, `<`, `>`, `<=`, `>=`, `=|`, `!=|`.
    pub operator: String,
    /// The value as Grafana sends it (always text).
    pub value: String,
    /// The values of the multi-value operators `=|` (one of) and `!=|` (none of); when empty,
    /// `value` is the only value.
    pub values: Vec<String>,
}

/// One column of the table a query reads, as `DESCRIBE TABLE` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Column {
    /// Column name (may contain dots, e.g. `attr.key`).
    pub name: String,
    /// ClickHouse type, e.g. `Map(LowCardinality(String), String)`.
    #[serde(rename = "type")]
    pub type_name: String,
}

/// Everything one expansion needs.
#[derive(Debug, Clone, Default)]
pub struct MacroContext {
    /// Dashboard time range.
    pub time_range: TimeRange,
    /// Grafana's computed interval in milliseconds.
    pub interval_ms: u64,
    /// Grafana's max data points (0 = unknown).
    pub max_data_points: u64,
    /// Which macro family to apply.
    pub dialect: Dialect,
    /// Grafana-model query fields.
    pub grafana: GrafanaOptions,
    /// Altinity-model query fields.
    pub altinity: AltinityOptions,
    /// Template variables by name (without `$`).
    pub variables: BTreeMap<String, Variable>,
    /// Ad hoc filters.
    pub ad_hoc_filters: Vec<AdHocFilter>,
    /// Dashboard and user, for Altinity's `add_metadata` comment (omitted when both are empty).
    pub metadata: QueryMetadata,
    /// The columns of the table the ad hoc filters apply to (Altinity model: `database.table`;
    /// grafana model: the query's `table`, the one `$__adHocFilters` names), filled by the
    /// planner from the table's schema. With them, filter keys resolve to columns, `Map['k']`
    /// access, JSON/Tuple paths and dotted OTel attributes (`service.name` →
    /// `ResourceAttributes['service.name']`), and values are typed by the column; a key that
    /// does not resolve is an error naming it. `None` (unknown): keys are used as written and
    /// `a.b` keys that are not `table.column` of this table are an error (see `adhoc.rs`).
    pub table_columns: Option<Vec<Column>>,
}

/// Who runs the query, for Altinity's metadata comment.
#[derive(Debug, Clone, Default)]
pub struct QueryMetadata {
    /// Dashboard UID or title.
    pub dashboard: String,
    /// Grafana login.
    pub user: String,
}
