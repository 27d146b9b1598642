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

use serde_json::{Map, Value};

use crate::error::QueryError;

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
        if sql.trim().is_empty() {
            return Err(QueryError::Invalid(
                "the query has no SQL (rawSql is empty)".into(),
            ));
        }
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
            json: obj,
        })
    }
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
        assert!(
            matches!(Query::parse("A", br#"{"rawSql":"  "}"#), Err(QueryError::Invalid(m)) if m.contains("no SQL"))
        );
    }
}
