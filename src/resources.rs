//! CallResource routes: schema browsing for the editors and the `expand` endpoint.
//!
//! Paths are matched against the [`Route`] enum, never by substring. Every route answers JSON:
//! `200` with the result, `400`/`404`/`405` with `{"error": "..."}`, and ClickHouse failures with
//! the status the error taxonomy gives.
//!
//! | Method | Path | Answer |
//! |---|---|---|
//! | GET | `databases` | `["default", "otel", …]` |
//! | GET | `tables?database=db` | `[{"name", "engine", "rows"}]` |
//! | GET | `columns?database=db&table=t` | `[{"name", "type"}]` |
//! | GET | `schema?database=db&table=t` | the table's OTel classification and column roles |
//! | POST | `expand` | `{"sql", "client"}` for a query model and time range |
//! | GET | `tag-keys?database=db&table=t&from=ms&to=ms` | `[{"text": "k8s.pod.name"}, …]`: columns, then attribute map keys |
//! | GET | `tag-values?database=db&table=t&key=k&from=ms&to=ms` | `[{"text": "p-1"}, …]`, most frequent first |
//! | GET | `macros` | the macro catalogue `[{"name", "dialect", "args", "doc", "output"}]` (editor completion) |
//!
//! Tag keys and values (ad hoc filter suggestions in Explore) are bounded: see
//! [`crate::sql::explore`] for the sample, `LIMIT`, `max_rows_to_read` and `max_execution_time`.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::error::QueryError;
use crate::query::{Query, RequestContext};
use crate::service::Instance;
use crate::settings::{Protocol, SettingsError};
use crate::sql;

/// A resource answer.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, value: Value) -> Reply {
        Reply {
            status,
            body: serde_json::to_vec(&value).unwrap_or_default(),
        }
    }

    fn error(status: u16, message: impl std::fmt::Display) -> Reply {
        Reply::json(status, json!({ "error": message.to_string() }))
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Databases,
    Tables,
    Columns,
    Schema,
    Expand,
    TagKeys,
    TagValues,
    Macros,
}

impl Route {
    fn parse(path: &str) -> Option<Route> {
        match path.trim_matches('/') {
            "databases" => Some(Route::Databases),
            "tables" => Some(Route::Tables),
            "columns" => Some(Route::Columns),
            "schema" => Some(Route::Schema),
            "expand" => Some(Route::Expand),
            "tag-keys" => Some(Route::TagKeys),
            "tag-values" => Some(Route::TagValues),
            "macros" => Some(Route::Macros),
            _ => None,
        }
    }

    fn method(&self) -> &'static str {
        match self {
            Route::Databases
            | Route::Tables
            | Route::Columns
            | Route::Schema
            | Route::TagKeys
            | Route::TagValues
            | Route::Macros => "GET",
            Route::Expand => "POST",
        }
    }
}

/// Handles one CallResource request.
pub async fn handle(
    instance: Result<Arc<Instance>, SettingsError>,
    method: &str,
    path: &str,
    url: &str,
    body: &[u8],
) -> Reply {
    let Some(route) = Route::parse(path) else {
        return Reply::error(
            404,
            format!(
                "unknown resource {path:?}; known: databases, tables, columns, schema, expand, tag-keys, tag-values, macros"
            ),
        );
    };
    if !method.eq_ignore_ascii_case(route.method()) {
        return Reply::error(405, format!("{path} expects {}", route.method()));
    }
    let instance = match instance {
        Ok(i) => i,
        Err(e) => return Reply::error(400, e),
    };
    let params = query_params(url);
    let param = |k: &str| param_of(&params, k);
    let result = match route {
        Route::Databases => {
            rows(
                &instance,
                "SELECT name FROM system.databases ORDER BY name".into(),
                |r| cell(r, 0),
            )
            .await
        }
        Route::Tables => {
            let db = param("database");
            let db_expr = if db.is_empty() {
                "currentDatabase()".to_owned()
            } else {
                sql::string_literal(db)
            };
            rows(
                &instance,
                format!("SELECT name, engine, total_rows FROM system.tables WHERE database = {db_expr} ORDER BY name"),
                table_entry,
            )
            .await
        }
        Route::Columns => {
            let (db, table) = (param("database"), param("table"));
            if table.is_empty() {
                return Reply::error(
                    400,
                    "columns needs ?table=<name> (and optionally database=<db>)",
                );
            }
            let db_expr = if db.is_empty() {
                "currentDatabase()".to_owned()
            } else {
                sql::string_literal(db)
            };
            rows(
                &instance,
                format!(
                    "SELECT name, type FROM system.columns WHERE database = {db_expr} AND table = {} ORDER BY position",
                    sql::string_literal(table)
                ),
                column_entry,
            )
            .await
        }
        Route::Expand => return expand(&instance, body).await,
        Route::TagKeys | Route::TagValues => {
            return tags(&instance, route == Route::TagValues, &params).await;
        }
        Route::Macros => Ok(macro_catalogue()),
        Route::Schema => {
            let table = param("table");
            if table.is_empty() {
                return Reply::error(
                    400,
                    "schema needs ?table=<name> (and optionally database=<db>)",
                );
            }
            crate::planner::describe_table(&instance, param("database"), table).await
        }
    };
    match result {
        Ok(v) => Reply::json(200, v),
        Err(e) => Reply::error(e.status(), e),
    }
}

// ---- Explore (issue 10): tag keys and values for ad hoc filter suggestions.

/// `GET tag-keys` / `GET tag-values`: the table's columns and attribute map keys, or the most
/// frequent values of one key, from system tables and a bounded sample inside the time range.
async fn tags(instance: &Instance, values: bool, params: &[(String, String)]) -> Reply {
    use crate::otel::{self, Classified};
    use crate::sql::build::{self, Range};
    use crate::sql::explore::{self, TAG_BOUNDS};
    let param = |k: &str| param_of(params, k);
    let ms = |name: &str| -> Result<Option<i64>, Reply> {
        match param(name).trim() {
            "" => Ok(None),
            v => v.parse::<i64>().map(Some).map_err(|_| {
                Reply::error(400, format!("{name} must be epoch milliseconds, got {v:?}"))
            }),
        }
    };
    let (from, to) = match (ms("from"), ms("to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - 3_600_000);
    if from > to {
        return Reply::error(400, "from must not be after to");
    }
    let logs = &instance.settings.logs;
    let database = [
        param("database"),
        &logs.database,
        &instance.settings.default_database,
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or("")
    .to_owned();
    let table = [param("table"), &logs.table, "otel_logs"]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("otel_logs")
        .to_owned();
    // System tables first: the table's columns and keys (system.columns, system.tables).
    let schema = match crate::planner::table_schema(instance, &database, &table).await {
        Ok(s) => s,
        Err(e) => return Reply::error(e.status(), e),
    };
    if schema.columns.is_empty() {
        return Reply::error(
            404,
            format!("table {database}.{table} does not exist (or has no columns)"),
        );
    }
    let columns: Vec<(String, crate::chtype::ChType)> = schema
        .columns
        .iter()
        .filter(|c| c.default_kind != "ALIAS")
        .map(|c| (c.name.clone(), c.ty.clone()))
        .collect();
    let map_columns: Vec<String> = columns
        .iter()
        .filter(|(_, t)| matches!(t.base(), crate::chtype::ChType::Map(..)))
        .map(|(n, _)| n.clone())
        .collect();
    let (roles, time_kind) = match otel::classify(&schema, &logs.overrides) {
        Some(Classified::Logs(_, roles)) => {
            let kind = match schema.column(&roles.time).map(|c| c.ty.base().clone()) {
                Some(crate::chtype::ChType::Date | crate::chtype::ChType::Date32) => {
                    otel::TimeKind::Date
                }
                Some(crate::chtype::ChType::DateTime(_)) => otel::TimeKind::Seconds,
                Some(crate::chtype::ChType::DateTime64(p, _)) => otel::TimeKind::Precise(p),
                _ => otel::TimeKind::Precise(9),
            };
            (roles, Some(kind))
        }
        _ => (
            otel::LogRoles {
                maps: map_columns.clone(),
                ..Default::default()
            },
            None,
        ),
    };
    let time_filter = match time_kind {
        Some(kind) => build::time_filter(
            &roles.time,
            kind,
            &roles.key_times,
            Range {
                from_ns: from.saturating_mul(1_000_000),
                to_ns: to.saturating_mul(1_000_000),
            },
        ),
        None => "1".to_owned(),
    };
    // The sorting key's time buckets too, so the primary key skips granules outside the range.
    let mut time_filter = time_filter;
    if time_kind.is_some() {
        for c in explore::key_bucket_conditions(
            &[&schema.sorting_key, &schema.primary_key],
            &roles.time,
            from.saturating_mul(1_000_000),
            to.saturating_mul(1_000_000),
        ) {
            time_filter.push_str(" AND ");
            time_filter.push_str(&c);
        }
    }
    let target = sql::qualified_table(&database, &table);
    let text = |v: &str| json!({ "text": v });
    if !values {
        let mut out: Vec<Value> = columns
            .iter()
            .filter(|(n, _)| !map_columns.contains(n))
            .map(|(n, _)| text(n))
            .collect();
        if map_columns.is_empty() {
            return Reply::json(200, Value::Array(out));
        }
        // System tables first: no active part holds rows of the range, no sample to read.
        match parts_rows_in_range(instance, &database, &table, from, to).await {
            Ok(0) => return Reply::json(200, Value::Array(out)),
            Ok(_) => {}
            Err(e) => return Reply::error(e.status(), e),
        }
        let sql = explore::tag_keys_sql(&target, &map_columns, &time_filter, TAG_BOUNDS);
        match bounded_rows(instance, &sql).await {
            Ok(rows) => {
                let mut seen: std::collections::BTreeSet<String> =
                    columns.iter().map(|(n, _)| n.clone()).collect();
                for k in rows {
                    if seen.insert(k.clone()) {
                        out.push(text(&k));
                    }
                }
                Reply::json(200, Value::Array(out))
            }
            Err(e) => Reply::error(e.status(), e),
        }
    } else {
        let (expr, present) = match explore::tag_value_target(param("key"), &columns, &roles) {
            Ok(t) => t,
            Err(e) => return Reply::error(400, e),
        };
        let conditions = match present {
            Some(p) => format!("{time_filter} AND ({p})"),
            None => time_filter,
        };
        let sql = explore::tag_values_sql(&target, &expr, &conditions, TAG_BOUNDS);
        match bounded_rows(instance, &sql).await {
            Ok(rows) => Reply::json(200, Value::Array(rows.iter().map(|v| text(v)).collect())),
            Err(e) => Reply::error(e.status(), e),
        }
    }
}

/// Rows of the table's active parts that may hold the range (`system.parts`: partition
/// min/max time or date; parts without them count).
async fn parts_rows_in_range(
    instance: &Instance,
    database: &str,
    table: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<u64, QueryError> {
    let db = if database.is_empty() {
        "currentDatabase()".to_owned()
    } else {
        sql::string_literal(database)
    };
    let (f, t) = (from_ms.div_euclid(1000), (to_ms + 999).div_euclid(1000));
    let rows = instance
        .connection
        .json_rows(&format!(
            "SELECT sum(rows) FROM system.parts WHERE active AND database = {db} AND table = {} \
             AND (toUInt32(max_time) = 0 OR (max_time >= toDateTime({f}) AND min_time <= toDateTime({t}))) \
             AND (toUInt16(max_date) = 0 OR (max_date >= toDate(toDateTime({f})) AND min_date <= toDate(toDateTime({t}))))",
            sql::string_literal(table)
        ))
        .await?;
    Ok(rows
        .first()
        .and_then(|r| r.first())
        .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
        .unwrap_or(0))
}

/// Runs a bounded lookup (one text column) with the lookups' request settings.
async fn bounded_rows(instance: &Instance, sql: &str) -> Result<Vec<String>, QueryError> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_schema::DataType;
    tracing::debug!(sql = %sql, "tag lookup");
    let options = crate::upstream::RequestOptions {
        query_id: String::new(),
        settings: sql::explore::tag_settings(sql::explore::TAG_BOUNDS),
    };
    let mut stream = instance.connection.arrow(sql, &options).await?;
    let mut out = Vec::new();
    while let Some(batch) = stream.next_batch().await? {
        let Some(col) = batch.columns().first() else {
            continue;
        };
        for r in 0..col.len() {
            if col.is_null(r) {
                continue;
            }
            out.push(match col.data_type() {
                DataType::Utf8 => col.as_string::<i32>().value(r).to_owned(),
                DataType::LargeUtf8 => col.as_string::<i64>().value(r).to_owned(),
                DataType::Binary => String::from_utf8_lossy(col.as_binary::<i32>().value(r)).into(),
                DataType::LargeBinary => {
                    String::from_utf8_lossy(col.as_binary::<i64>().value(r)).into()
                }
                other => {
                    return Err(QueryError::Internal(format!(
                        "tag lookup answered {other}, not text"
                    )));
                }
            });
        }
    }
    Ok(out)
}

/// Cell `i` of a row, `null` when the row is shorter: an answer of another shape than asked
/// (a proxy, another server version, a query that went wrong) is never a panic.
fn cell(row: &[Value], i: usize) -> Value {
    row.get(i).cloned().unwrap_or(Value::Null)
}

/// A `tables` entry from `name, engine, total_rows`.
fn table_entry(r: &[Value]) -> Value {
    json!({ "name": cell(r, 0), "engine": cell(r, 1), "rows": cell(r, 2) })
}

/// A `columns` entry from `name, type`.
fn column_entry(r: &[Value]) -> Value {
    json!({ "name": cell(r, 0), "type": cell(r, 1) })
}

async fn rows(
    instance: &Instance,
    sql: String,
    f: impl Fn(&[Value]) -> Value,
) -> Result<Value, QueryError> {
    let rows = instance.connection.json_rows(&sql).await?;
    Ok(Value::Array(
        rows.iter()
            .filter(|r| !r.is_empty())
            .map(|r| f(r))
            .collect(),
    ))
}

/// `POST expand`: the final SQL of a query model, and a clickhouse-client command running it.
async fn expand(instance: &Instance, body: &[u8]) -> Reply {
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return Reply::error(400, format!("invalid JSON body: {e}")),
    };
    let Some(query) = request.get("query") else {
        return Reply::error(400, "the body needs a \"query\" object (the query model)");
    };
    let ref_id = query.get("refId").and_then(Value::as_str).unwrap_or("A");
    let num = |v: Option<&Value>| {
        v.and_then(|v| v.as_f64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(0.0) as i64
    };
    let range = request.get("timeRange");
    let ctx = RequestContext {
        from_ms: num(range.and_then(|r| r.get("from"))),
        to_ms: num(range.and_then(|r| r.get("to"))),
        interval_ms: num(request.get("intervalMs")),
        max_data_points: num(request.get("maxDataPoints")),
        ..Default::default()
    };
    let query = match Query::parse(ref_id, query.to_string().as_bytes()) {
        Ok(q) => q,
        Err(e) => return Reply::error(400, e),
    };
    let request_type = request
        .get("queryType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let planned = match crate::planner::Intent::parse(&query, request_type) {
        Ok(intent) => crate::planner::plan_query(instance, &intent, &ctx).await,
        Err(e) => Err(e),
    };
    let sql = match planned {
        Ok(plan) => plan.sql().to_owned(),
        Err(e) => return Reply::error(e.status(), e),
    };
    Reply::json(
        200,
        json!({ "sql": sql, "client": client_command(instance, &sql) }),
    )
}

/// The macro catalogue for the SQL editor's completion: name (with its sigil), dialect
/// (`grafana`: grafana/clickhouse-datasource's `$__` macros; `altinity`: Altinity's `$` macros;
/// `template`: variables, conditionals, ad hoc filters), accepted argument count, one-line doc and
/// output shape, in documentation order.
fn macro_catalogue() -> Value {
    use crate::macros::Family;
    let entries: Vec<Value> = crate::macros::catalog()
        .iter()
        .map(|d| {
            let dialect = match d.family {
                Family::Grafana => "grafana",
                Family::Altinity => "altinity",
                Family::Template => "template",
            };
            json!({
                "name": d.name,
                "dialect": dialect,
                "args": d.arity.to_string(),
                "doc": d.doc,
                "output": d.output,
            })
        })
        .collect();
    Value::Array(entries)
}

/// A clickhouse-client command line that runs `sql` as the datasource's user.
fn client_command(instance: &Instance, sql: &str) -> String {
    let s = &instance.settings;
    let mut cmd = format!("clickhouse-client --host {}", shell_quote(&s.host));
    if s.protocol == Protocol::Https {
        cmd.push_str(" --secure");
    }
    cmd.push_str(&format!(" --user {}", shell_quote(s.auth.user())));
    if !s.default_database.is_empty() {
        cmd.push_str(&format!(" --database {}", shell_quote(&s.default_database)));
    }
    cmd.push_str(" --ask-password --query ");
    cmd.push_str(&shell_quote(sql));
    cmd
}

/// POSIX shell single-quoting.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The value of query parameter `k` (empty when absent).
fn param_of<'a>(params: &'a [(String, String)], k: &str) -> &'a str {
    params
        .iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

/// `a=1&b=x%20y` from a URL or path with a query string.
fn query_params(url: &str) -> Vec<(String, String)> {
    let Some((_, q)) = url.split_once('?') else {
        return Vec::new();
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_an_enum() {
        assert_eq!(Route::parse("tables"), Some(Route::Tables));
        assert_eq!(Route::parse("/expand/"), Some(Route::Expand));
        assert_eq!(Route::parse("tables/../secrets"), None);
        assert_eq!(Route::parse("tag-keys"), Some(Route::TagKeys));
        assert_eq!(Route::parse("tag-values/"), Some(Route::TagValues));
        assert_eq!(Route::parse("macros"), Some(Route::Macros));
    }

    #[test]
    fn macro_catalogue_lists_both_dialects_with_docs() {
        let v = macro_catalogue();
        let all = v.as_array().unwrap();
        assert_eq!(all.len(), crate::macros::catalog().len());
        let find = |name: &str| all.iter().find(|m| m["name"] == name).cloned();
        let tf = find("$__timeFilter").expect("$__timeFilter");
        assert_eq!(tf["dialect"], "grafana");
        assert_eq!(tf["args"], "1");
        assert!(!tf["doc"].as_str().unwrap().is_empty());
        assert!(all.iter().any(|m| m["dialect"] == "altinity"), "{v}");
        assert!(
            all.iter()
                .all(|m| m["doc"].as_str().is_some_and(|d| !d.is_empty()))
        );
    }

    #[test]
    fn query_strings_decode() {
        assert_eq!(
            query_params("tables?database=my%20db&x=a+b&t=%"),
            vec![
                ("database".into(), "my db".into()),
                ("x".into(), "a b".into()),
                ("t".into(), "%".into())
            ]
        );
    }

    /// A `tables` answer with one column per row panicked the handler (index out of bounds),
    /// found by the security suite with quote escaping broken on purpose: a UNION with a
    /// one-column table reached it.
    #[test]
    fn short_rows_never_panic_a_resource() {
        assert_eq!(
            table_entry(&[json!("t")]),
            json!({"name": "t", "engine": null, "rows": null})
        );
        assert_eq!(column_entry(&[]), json!({"name": null, "type": null}));
        assert_eq!(cell(&[json!(1)], 0), json!(1));
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
