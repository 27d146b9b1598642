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
}

impl Route {
    fn parse(path: &str) -> Option<Route> {
        match path.trim_matches('/') {
            "databases" => Some(Route::Databases),
            "tables" => Some(Route::Tables),
            "columns" => Some(Route::Columns),
            "schema" => Some(Route::Schema),
            "expand" => Some(Route::Expand),
            _ => None,
        }
    }

    fn method(&self) -> &'static str {
        match self {
            Route::Databases | Route::Tables | Route::Columns | Route::Schema => "GET",
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
            format!("unknown resource {path:?}; known: databases, tables, columns, schema, expand"),
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
    let param = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
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
    let sql = match crate::planner::plan(instance, &query, &ctx, request_type).await {
        Ok(plan) => plan.sql().to_owned(),
        Err(e) => return Reply::error(e.status(), e),
    };
    Reply::json(
        200,
        json!({ "sql": sql, "client": client_command(instance, &sql) }),
    )
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
