//! Saved queries: the JSON a panel, Explore or an alert rule sends, read into a typed [`Query`].
//!
//! Three models arrive here and are read verbatim:
//!
//! * Lantern's own (what our frontend saves): `rawSql`, numeric `format`, `editorType`.
//! * grafana/clickhouse-datasource's: `rawSql`, `format` 0–3 (or its string names), `queryType`,
//!   `editorType`, `builderOptions`, `meta` — the same keys as ours.
//! * Altinity's: SQL in `query`, string `format` (`time_series`, `table`, `logs`, `traces`).
//!
//! Unknown fields are ignored (old dashboards carry many). A field of the wrong type is an error
//! for that query's refId, never a silent default.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::QueryError;
use crate::frames::timeseries::Fill;
use crate::macros::{
    AdHocFilter, AltinityOptions, Dialect, GrafanaOptions, MacroContext, QueryMetadata, TimeRange,
    Variable,
};

/// The parts of Grafana's request a query's macros depend on.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    /// Range start, epoch milliseconds.
    pub from_ms: i64,
    /// Range end, epoch milliseconds.
    pub to_ms: i64,
    /// Grafana's interval, milliseconds.
    pub interval_ms: i64,
    /// Grafana's max data points.
    pub max_data_points: i64,
    /// Dashboard uid (`X-Dashboard-Uid` header), for Altinity's metadata comment.
    pub dashboard: String,
    /// Grafana user login, for Altinity's metadata comment.
    pub user: String,
    /// The current time, epoch ms (tells relative ranges ending "now"); 0 when unknown.
    pub now_ms: i64,
    /// This datasource's uid (for data links back to it).
    pub datasource_uid: String,
    /// This datasource's name.
    pub datasource_name: String,
    /// Grafana's SQL row limit (`[dataproxy] row_limit`, sent as `GF_SQL_ROW_LIMIT` in the
    /// request's Grafana config); applies when the datasource sets `enableRowLimit`.
    pub row_limit: Option<u64>,
}

/// Earliest and latest instants a request may name, epoch milliseconds (years 1684–2255): in
/// nanoseconds, plus a step of the largest interval, they still fit an `i64`.
const TIME_MS: std::ops::RangeInclusive<i64> = -9_000_000_000_000..=9_000_000_000_000;
/// Grafana's interval, clamped to 1 ms … 365 days.
const INTERVAL_MS: std::ops::RangeInclusive<i64> = 1..=31_536_000_000;
/// Max data points, clamped (the points of all series are bounded separately by the row cap).
const MAX_DATA_POINTS: std::ops::RangeInclusive<i64> = 1..=1_000_000;

impl RequestContext {
    /// The request's numbers made safe to compute with: times inside [`TIME_MS`] with the end
    /// not before the start, the interval and max data points inside sane bounds. Every later
    /// computation on them (macros, buckets, gap filling) stays far from overflow.
    pub fn clamped(mut self) -> RequestContext {
        let clamp = |v: i64, r: &std::ops::RangeInclusive<i64>| v.clamp(*r.start(), *r.end());
        self.from_ms = clamp(self.from_ms, &TIME_MS);
        self.to_ms = clamp(self.to_ms, &TIME_MS).max(self.from_ms);
        self.now_ms = clamp(self.now_ms, &TIME_MS);
        self.interval_ms = clamp(self.interval_ms, &INTERVAL_MS);
        self.max_data_points = clamp(self.max_data_points, &MAX_DATA_POINTS);
        self
    }
}

/// How much of a result a query may hold: rows and frame bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResultCaps {
    /// Rows (for time series: input rows, and points of all series together).
    pub rows: u64,
    /// Bytes of column data.
    pub bytes: u64,
    /// The setting the row cap comes from, for notices (`maxResultRows`, or Grafana's row limit).
    pub rows_from: &'static str,
}

/// How a notice names Grafana's row limit as the cap.
pub const GRAFANA_ROW_LIMIT: &str =
    "Grafana's SQL row limit, [dataproxy] row_limit, applied by enableRowLimit";

/// The result shape a query asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Time series (`0`, `"time_series"`).
    TimeSeries,
    /// Table (`1`, `"table"`).
    Table,
    /// Logs (`2`, `"logs"`).
    Logs,
    /// Traces (`3`, `"traces"`).
    Traces,
}

impl Format {
    /// The name used in messages and the README.
    pub fn name(self) -> &'static str {
        match self {
            Format::TimeSeries => "time_series",
            Format::Table => "table",
            Format::Logs => "logs",
            Format::Traces => "traces",
        }
    }
}

/// Which plugin's model the query was saved in (decides the macro dialect).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// Lantern or grafana/clickhouse-datasource (`rawSql`).
    Grafana,
    /// Altinity/clickhouse-grafana (`query`).
    Altinity,
}

/// A query ready to run.
#[derive(Clone, Debug)]
pub struct Query {
    /// The query's refId.
    pub ref_id: String,
    /// The SQL as saved (macros not yet expanded).
    pub sql: String,
    /// The requested shape.
    pub format: Format,
    /// The model it was saved in.
    pub model: Model,
    /// The whole JSON object, for the parts later stages read (macro options, variables).
    pub json: Map<String, Value>,
    /// The columns of the table ad hoc filters apply to, when the planner has read them
    /// (dotted OTel keys resolve to its attribute maps).
    pub table_columns: Option<Vec<crate::macros::Column>>,
    /// How time series are shaped (gap filling, Altinity's extrapolation and sparse nulls).
    pub series: SeriesOptions,
}

/// A query's time-series options, validated when it is parsed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesOptions {
    /// Gap filling: ours `fill` (`none`, `null`, `zero`, `previous` or a number), grafana's
    /// `fillMode` (`{mode: 0 value | 1 null | 2 previous, value}`).
    pub fill: Fill,
    /// Altinity's `extrapolate` (default on in the Altinity model).
    pub extrapolate: bool,
    /// Altinity's `nullifySparse`.
    pub nullify_sparse: bool,
}

impl SeriesOptions {
    fn parse(obj: &Map<String, Value>, model: Model) -> Result<SeriesOptions, QueryError> {
        let fill = match (obj.get("fill"), obj.get("fillMode")) {
            (Some(Value::String(s)), _) => match s.as_str() {
                "" | "none" => Fill::None,
                "null" => Fill::Null,
                "zero" => Fill::Zero,
                "previous" => Fill::Previous,
                other => {
                    return Err(QueryError::Invalid(format!(
                        "field `fill` must be none, null, zero, previous or a number, got {other:?}"
                    )));
                }
            },
            (Some(Value::Number(n)), _) => Fill::Value(n.as_f64().unwrap_or(0.0)),
            (Some(Value::Null) | None, Some(Value::Object(m))) => {
                match m.get("mode").and_then(Value::as_i64) {
                    // grafana-plugin-sdk-go sqlutil: 0 value, 1 null, 2 previous.
                    Some(0) => Fill::Value(m.get("value").and_then(Value::as_f64).unwrap_or(0.0)),
                    Some(1) => Fill::Null,
                    Some(2) => Fill::Previous,
                    _ => Fill::None,
                }
            }
            (Some(Value::Null) | None, _) => Fill::None,
            (Some(other), _) => {
                return Err(QueryError::Invalid(format!(
                    "field `fill` must be a string or a number, got {other}"
                )));
            }
        };
        let flag = |key: &str, default: bool| -> Result<bool, QueryError> {
            match obj.get(key) {
                None | Some(Value::Null) => Ok(default),
                Some(Value::Bool(b)) => Ok(*b),
                Some(other) => Err(QueryError::Invalid(format!(
                    "field `{key}` must be true or false, got {other}"
                ))),
            }
        };
        Ok(SeriesOptions {
            fill,
            extrapolate: flag("extrapolate", model == Model::Altinity)?,
            nullify_sparse: flag("nullifySparse", false)?,
        })
    }
}

impl Query {
    /// Reads a query from its JSON bytes; `ref_id` is the request's refId for this query.
    pub fn parse(ref_id: &str, json: &[u8]) -> Result<Query, QueryError> {
        let value: Value =
            serde_json::from_slice(json).map_err(|e| QueryError::BadJson(e.to_string()))?;
        let Value::Object(obj) = value else {
            return Err(QueryError::BadJson(
                "the query must be a JSON object".into(),
            ));
        };
        let raw_sql = string_field(&obj, "rawSql")?;
        let altinity_sql = string_field(&obj, "query")?;
        let (sql, model) = match (raw_sql, altinity_sql) {
            (Some(s), _) if !s.trim().is_empty() => (s, Model::Grafana),
            (_, Some(s)) if !s.trim().is_empty() => (s, Model::Altinity),
            (Some(s), _) => (s, Model::Grafana),
            (None, Some(s)) => (s, Model::Altinity),
            (None, None) => (String::new(), Model::Grafana),
        };
        let format = match obj.get("format") {
            None | Some(Value::Null) => match model {
                Model::Grafana => Format::Table,
                Model::Altinity => Format::TimeSeries,
            },
            Some(Value::Number(n)) => match n.as_i64() {
                Some(0) => Format::TimeSeries,
                Some(1) => Format::Table,
                Some(2) => Format::Logs,
                Some(3) => Format::Traces,
                Some(4) => Format::TimeSeries, // grafana's "multi", never sent by its UI
                _ => {
                    return Err(QueryError::Invalid(format!(
                        "unknown format {n}: use 0 (time series), 1 (table), 2 (logs) or 3 (traces)"
                    )));
                }
            },
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "" | "time_series" | "timeseries" | "time series" | "multi" => Format::TimeSeries,
                "table" => Format::Table,
                "logs" => Format::Logs,
                "traces" | "trace" => Format::Traces,
                // Altinity's annotation editor; the planner shapes the annotation frame.
                "annotation" => Format::Table,
                other => {
                    return Err(QueryError::Invalid(format!(
                        "unknown format {other:?}: use time_series, table, logs or traces"
                    )));
                }
            },
            Some(other) => {
                return Err(QueryError::Invalid(format!(
                    "field `format` must be a number or a string, got {other}"
                )));
            }
        };
        Ok(Query {
            ref_id: ref_id.to_owned(),
            sql,
            format,
            model,
            series: SeriesOptions::parse(&obj, model)?,
            json: obj,
            table_columns: None,
        })
    }

    /// The macro context of this query for a request: time range, interval, the query's options
    /// of both models, template variables (`templateVars`) and ad hoc filters (`adHocFilters`).
    pub fn macro_context(&self, req: &RequestContext) -> Result<MacroContext, QueryError> {
        let obj = &self.json;
        for (key, kind) in ALTINITY_FIELDS {
            check_kind(obj, key, *kind)?;
        }
        let mut options = Map::new();
        for (key, _) in ALTINITY_FIELDS {
            if let Some(v) = obj.get(*key).filter(|v| !v.is_null()) {
                // intervalFactor may be saved as a numeric string.
                let v = match (*key, v) {
                    ("intervalFactor", Value::String(s)) => {
                        Value::from(s.trim().parse::<u32>().map_err(|_| {
                            QueryError::Invalid(format!(
                                "field `intervalFactor` must be a whole number, got {s:?}"
                            ))
                        })?)
                    }
                    _ => v.clone(),
                };
                options.insert((*key).to_owned(), v);
            }
        }
        let altinity: AltinityOptions = serde_json::from_value(Value::Object(options))
            .map_err(|e| QueryError::Invalid(format!("invalid Altinity query option: {e}")))?;
        let grafana = GrafanaOptions {
            table: string_field(obj, "table")?.unwrap_or_default(),
            column: string_field(obj, "column")?.unwrap_or_default(),
        };
        Ok(MacroContext {
            time_range: TimeRange::from_millis(req.from_ms, req.to_ms),
            interval_ms: req.interval_ms.max(0) as u64,
            max_data_points: req.max_data_points.max(0) as u64,
            dialect: match self.model {
                Model::Grafana => Dialect::Grafana,
                Model::Altinity => Dialect::Altinity,
            },
            grafana,
            altinity,
            variables: variables(obj)?,
            ad_hoc_filters: ad_hoc_filters(obj)?,
            metadata: QueryMetadata {
                dashboard: req.dashboard.clone(),
                user: req.user.clone(),
            },
            // Wired by the planner from the table's schema (macros::Column; see MacroContext).
            table_columns: self.table_columns.clone(),
        })
    }

    /// The caps of this query: the datasource's, lowered by the query's own `maxResultRows` /
    /// `maxResultBytes` (a query can never raise them), and by Grafana's row limit when the
    /// datasource sets `enableRowLimit`.
    pub fn caps(
        &self,
        settings: &crate::settings::Settings,
        req: &RequestContext,
    ) -> Result<ResultCaps, QueryError> {
        let lower = |key: &str, cap: u64| -> Result<u64, QueryError> {
            match self.json.get(key) {
                None | Some(Value::Null) => Ok(cap),
                Some(v) => match v.as_u64() {
                    Some(n) if n >= 1 => Ok(n.min(cap)),
                    _ => Err(QueryError::Invalid(format!(
                        "field `{key}` must be a whole number of at least 1, got {v}"
                    ))),
                },
            }
        };
        let rows = lower("maxResultRows", settings.max_result_rows)?;
        let (rows, rows_from) = match req.row_limit {
            Some(limit) if settings.enable_row_limit && limit < rows => (limit, GRAFANA_ROW_LIMIT),
            _ => (rows, "maxResultRows"),
        };
        Ok(ResultCaps {
            rows,
            bytes: lower("maxResultBytes", settings.max_result_bytes)?,
            rows_from,
        })
    }

    /// True when the query carries ad hoc filters.
    pub fn has_ad_hoc_filters(&self) -> bool {
        self.json
            .get("adHocFilters")
            .and_then(Value::as_array)
            .is_some_and(|l| !l.is_empty())
    }

    /// The SQL to run: the saved SQL with every macro and variable expanded.
    pub fn expanded_sql(&self, req: &RequestContext) -> Result<String, QueryError> {
        if self.sql.trim().is_empty() {
            return Err(QueryError::Invalid(
                "the query has no SQL (rawSql is empty)".into(),
            ));
        }
        let ctx = self.macro_context(req)?;
        crate::macros::expand(&self.sql, &ctx).map_err(QueryError::Macro)
    }
}

#[derive(Clone, Copy)]
enum Kind {
    String,
    Number,
    Bool,
}

/// Altinity query options and their JSON types (anchors.md 2.2).
const ALTINITY_FIELDS: &[(&str, Kind)] = &[
    ("database", Kind::String),
    ("table", Kind::String),
    ("dateTimeType", Kind::String),
    ("dateTimeColDataType", Kind::String),
    ("dateColDataType", Kind::String),
    ("round", Kind::String),
    ("intervalFactor", Kind::Number),
    ("interval", Kind::String),
    ("skip_comments", Kind::Bool),
    ("add_metadata", Kind::Bool),
    ("useWindowFuncForMacros", Kind::Bool),
];

fn check_kind(obj: &Map<String, Value>, key: &str, kind: Kind) -> Result<(), QueryError> {
    let ok = matches!(
        (obj.get(key), kind),
        (None | Some(Value::Null), _)
            | (Some(Value::String(_)), Kind::String)
            | (Some(Value::Number(_) | Value::String(_)), Kind::Number)
            | (Some(Value::Bool(_)), Kind::Bool)
    );
    if ok {
        return Ok(());
    }
    let want = match kind {
        Kind::String => "a string",
        Kind::Number => "a number",
        Kind::Bool => "true or false",
    };
    Err(QueryError::Invalid(format!(
        "field `{key}` must be {want}, got {}",
        obj[key]
    )))
}

/// `templateVars`: `{name: {values, text, multi, includeAll, allSelected|all, customAllValue}}`,
/// or the short forms `{name: "v"}` and `{name: ["a", "b"]}`.
fn variables(obj: &Map<String, Value>) -> Result<BTreeMap<String, Variable>, QueryError> {
    let mut out = BTreeMap::new();
    let Some(vars) = obj.get("templateVars").filter(|v| !v.is_null()) else {
        return Ok(out);
    };
    let Value::Object(vars) = vars else {
        return Err(QueryError::Invalid(
            "field `templateVars` must be an object of variables".into(),
        ));
    };
    for (name, v) in vars {
        let bad = || {
            QueryError::Invalid(format!(
                "template variable `{name}` must be a value, a list or an object with `values`"
            ))
        };
        let list = |items: &Vec<Value>| {
            items
                .iter()
                .map(|i| scalar_text(i).ok_or_else(bad))
                .collect::<Result<Vec<_>, _>>()
        };
        let var = match v {
            Value::Array(items) => Variable::multi(list(items)?),
            Value::Object(o) => {
                let values = match o.get("values").or_else(|| o.get("value")) {
                    Some(Value::Array(items)) => list(items)?,
                    Some(single) => vec![scalar_text(single).ok_or_else(bad)?],
                    None => Vec::new(),
                };
                let flag = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or(false);
                Variable {
                    multi: flag("multi") || values.len() > 1,
                    include_all: flag("includeAll"),
                    all_selected: flag("allSelected") || flag("all"),
                    text: o.get("text").and_then(scalar_text),
                    custom_all_value: o
                        .get("customAllValue")
                        .and_then(scalar_text)
                        .filter(|s| !s.is_empty()),
                    flags_known: o.contains_key("multi") || o.contains_key("includeAll"),
                    values,
                }
            }
            single => Variable::single(scalar_text(single).ok_or_else(bad)?),
        };
        out.insert(name.clone(), var);
    }
    Ok(out)
}

/// A JSON scalar as the text Grafana would interpolate.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `adHocFilters`: `[{key, operator, value}]` as Grafana's ad hoc variable holds them; the
/// multi-value operators `=|` / `!=|` take `values: [...]` (one of / none of).
fn ad_hoc_filters(obj: &Map<String, Value>) -> Result<Vec<AdHocFilter>, QueryError> {
    let Some(list) = obj.get("adHocFilters").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Array(list) = list else {
        return Err(QueryError::Invalid(
            "field `adHocFilters` must be a list of {key, operator, value}".into(),
        ));
    };
    list.iter()
        .enumerate()
        .map(|(i, f)| {
            let get = |k: &str| f.get(k).and_then(scalar_text);
            let bad = || {
                QueryError::Invalid(format!(
                    "adHocFilters[{i}] needs string `key`, `operator` and `value` (or `values` for =| and !=|)"
                ))
            };
            let (Some(key), Some(operator)) = (get("key"), get("operator")) else {
                return Err(bad());
            };
            let values = match f.get("values") {
                Some(Value::Array(items)) => items.iter().map(|v| scalar_text(v).ok_or_else(bad)).collect::<Result<Vec<_>, _>>()?,
                None | Some(Value::Null) => Vec::new(),
                Some(_) => return Err(bad()),
            };
            let value = match get("value") {
                Some(v) => v,
                None if matches!(operator.as_str(), "=|" | "!=|") && !values.is_empty() => String::new(),
                None => return Err(bad()),
            };
            Ok(AdHocFilter { key, operator, value, values })
        })
        .collect()
}

fn string_field(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, QueryError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(QueryError::Invalid(format!(
            "field `{key}` must be a string, got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grafanas_row_limit_caps_rows_when_the_datasource_asks() {
        let settings = |json: &str| {
            crate::settings::Settings::from_instance(&crate::settings::InstanceInput {
                json_data: json.as_bytes(),
                ..Default::default()
            })
            .unwrap()
        };
        let q = Query::parse("A", br#"{"rawSql":"SELECT 1"}"#).unwrap();
        let req = RequestContext {
            row_limit: Some(500),
            ..Default::default()
        };
        let on = settings(r#"{"host":"h","enableRowLimit":true,"maxResultRows":1000}"#);
        let caps = q.caps(&on, &req).unwrap();
        assert_eq!((caps.rows, caps.rows_from), (500, GRAFANA_ROW_LIMIT));
        // Off, or a limit above the datasource's cap: maxResultRows decides.
        let off = settings(r#"{"host":"h","maxResultRows":1000}"#);
        assert_eq!(q.caps(&off, &req).unwrap().rows, 1000);
        let high = RequestContext {
            row_limit: Some(5000),
            ..Default::default()
        };
        let caps = q.caps(&on, &high).unwrap();
        assert_eq!((caps.rows, caps.rows_from), (1000, "maxResultRows"));
        let none = q.caps(&on, &RequestContext::default()).unwrap();
        assert_eq!(none.rows, 1000);
        // The query's own lower cap still wins.
        let q = Query::parse("A", br#"{"rawSql":"SELECT 1","maxResultRows":20}"#).unwrap();
        assert_eq!(q.caps(&on, &req).unwrap().rows, 20);
    }

    #[test]
    fn reads_all_three_models() {
        let q = Query::parse(
            "A",
            br#"{"refId":"A","rawSql":"SELECT 1","format":1,"unknown":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(
            (q.sql.as_str(), q.format, q.model),
            ("SELECT 1", Format::Table, Model::Grafana)
        );
        let q = Query::parse(
            "B",
            br#"{"rawSql":"SELECT 1","format":"logs","queryType":"logs"}"#,
        )
        .unwrap();
        assert_eq!(q.format, Format::Logs);
        let q = Query::parse(
            "C",
            br#"{"query":"SELECT $timeSeries","format":"time_series","rawQuery":false}"#,
        )
        .unwrap();
        assert_eq!((q.model, q.format), (Model::Altinity, Format::TimeSeries));
        let q = Query::parse("D", br#"{"query":"SELECT 1"}"#).unwrap();
        assert_eq!(q.format, Format::TimeSeries);
    }

    #[test]
    fn macro_context_reads_both_models() {
        let req = RequestContext {
            from_ms: 1_000,
            to_ms: 61_000,
            interval_ms: 5_000,
            max_data_points: 100,
            ..Default::default()
        };
        let q = Query::parse(
            "A",
            br#"{"query":"SELECT $timeSeries","database":"db","table":"t","dateTimeType":"DATETIME64",
                 "dateTimeColDataType":"ts","intervalFactor":"2","round":"$step","add_metadata":false,
                 "templateVars":{"svc":{"values":["a","b"],"includeAll":true},"one":"x","many":["p","q"]},
                 "adHocFilters":[{"key":"level","operator":"=","value":"error"}]}"#,
        )
        .unwrap();
        let ctx = q.macro_context(&req).unwrap();
        assert_eq!(ctx.dialect, Dialect::Altinity);
        assert_eq!(ctx.altinity.table, "t");
        assert_eq!(ctx.altinity.interval_factor, 2);
        assert!(!ctx.altinity.add_metadata);
        assert_eq!(ctx.variables["svc"].values, vec!["a", "b"]);
        assert!(ctx.variables["svc"].multi && ctx.variables["svc"].include_all);
        assert_eq!(ctx.variables["one"].values, vec!["x"]);
        assert_eq!(ctx.ad_hoc_filters[0].key, "level");
        assert_eq!(ctx.time_range.from_ms(), 1_000);
    }

    #[test]
    fn macro_options_of_the_wrong_type_name_the_field() {
        let req = RequestContext::default();
        for (json, field) in [
            (
                r#"{"query":"SELECT 1","skip_comments":"yes"}"#,
                "skip_comments",
            ),
            (
                r#"{"query":"SELECT 1","intervalFactor":"two"}"#,
                "intervalFactor",
            ),
            (r#"{"query":"SELECT 1","round":5}"#, "round"),
            (
                r#"{"rawSql":"SELECT 1","templateVars":[1]}"#,
                "templateVars",
            ),
            (
                r#"{"rawSql":"SELECT 1","adHocFilters":[{"key":"a"}]}"#,
                "adHocFilters",
            ),
            (r#"{"rawSql":"SELECT 1","table":{"x":1}}"#, "table"),
        ] {
            let q = Query::parse("A", json.as_bytes()).unwrap();
            let e = q.macro_context(&req).unwrap_err().to_string();
            assert!(e.contains(field), "{json}: {e}");
        }
        let q = Query::parse("A", br#"{"query":"SELECT 1","dateTimeType":"WEEKS"}"#).unwrap();
        assert!(
            q.macro_context(&req)
                .unwrap_err()
                .to_string()
                .contains("WEEKS")
        );
    }

    #[test]
    fn wrong_types_are_errors_not_defaults() {
        assert!(matches!(
            Query::parse("A", b"{not json"),
            Err(QueryError::BadJson(_))
        ));
        assert!(
            matches!(Query::parse("A", br#"{"rawSql":42}"#), Err(QueryError::Invalid(m)) if m.contains("rawSql"))
        );
        assert!(
            matches!(Query::parse("A", br#"{"rawSql":"SELECT 1","format":9}"#), Err(QueryError::Invalid(m)) if m.contains("format"))
        );
        // Time-series options are checked when the query is read, before it runs.
        for (json, field) in [
            (&br#"{"rawSql":"SELECT 1","fill":"sideways"}"#[..], "fill"),
            (br#"{"rawSql":"SELECT 1","fill":[0]}"#, "fill"),
            (
                br#"{"query":"SELECT 1","extrapolate":"yes"}"#,
                "extrapolate",
            ),
            (
                br#"{"rawSql":"SELECT 1","nullifySparse":1}"#,
                "nullifySparse",
            ),
        ] {
            assert!(
                matches!(Query::parse("A", json), Err(QueryError::Invalid(m)) if m.contains(field)),
                "{field}"
            );
        }
        let series = |json: &[u8]| Query::parse("A", json).unwrap().series;
        assert_eq!(
            series(br#"{"rawSql":"SELECT 1","fillMode":{"mode":0,"value":7}}"#).fill,
            Fill::Value(7.0)
        );
        assert!(series(br#"{"query":"SELECT 1"}"#).extrapolate);
        assert!(!series(br#"{"rawSql":"SELECT 1"}"#).extrapolate);
        let blank = Query::parse("A", br#"{"rawSql":"  "}"#).unwrap();
        assert!(
            matches!(blank.expanded_sql(&RequestContext::default()), Err(QueryError::Invalid(m)) if m.contains("no SQL"))
        );
    }
}
