//! The planner's I/O: makes the [`Lookup`]s the pure planner asks for, through the instance's
//! [`crate::upstream::Upstream`], and drives planning until it has every fact it needs.
//!
//! Table schemas are read from `system.columns` / `system.tables` (following `Distributed` and
//! `Merge` tables to the table that stores the rows, for its keys) and cached per instance for
//! five minutes; result columns come from `DESCRIBE`; a trace's bounds from its
//! `<table>_trace_id_ts` lookup table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Facts, Intent, Lookup, Plan, Step};
use crate::chtype::ChType;
use crate::error::QueryError;
use crate::otel::{self, Classified, Column, TableSchema};
use crate::query::RequestContext;
use crate::service::Instance;
use crate::sql::build;
use crate::sql::string_literal;

/// At most this many lookups for one plan (a plan needs at most four: the ad hoc table, the
/// logs or traces table, the trace lookup table or the result's columns, the trace's bounds).
const MAX_LOOKUPS: usize = 8;

/// Runs `f` until it no longer needs a fact, making each lookup it asks for.
pub async fn resolve<T>(
    instance: &Instance,
    facts: &mut Facts,
    mut f: impl FnMut(&Facts) -> Result<T, Step>,
) -> Result<T, QueryError> {
    for _ in 0..MAX_LOOKUPS {
        match f(facts) {
            Ok(t) => return Ok(t),
            Err(Step::Fail(e)) => return Err(e),
            Err(Step::Need(lookup)) => fetch(instance, &lookup, facts).await?,
        }
    }
    Err(QueryError::Internal(format!(
        "planning needed more than {MAX_LOOKUPS} lookups"
    )))
}

/// Plans an intent against the instance's server.
pub async fn plan_query(
    instance: &Instance,
    intent: &Intent,
    req: &RequestContext,
) -> Result<Plan, QueryError> {
    let mut facts = Facts::default();
    resolve(instance, &mut facts, |facts| {
        super::plan(intent, &instance.settings, req, facts)
    })
    .await
}

/// Makes one lookup and records its answer in `facts`.
async fn fetch(instance: &Instance, lookup: &Lookup, facts: &mut Facts) -> Result<(), QueryError> {
    match lookup {
        Lookup::Schema { database, table } => {
            let schema = table_schema(instance, database, table).await?;
            facts.add_schema(database, table, schema);
        }
        Lookup::Describe(sql) => {
            let columns = instance.connection.describe(sql).await?;
            facts.add_described(sql, columns);
        }
        Lookup::TraceBounds {
            database,
            table,
            trace_id,
        } => {
            let rows = instance
                .connection
                .json_rows(&build::trace_bounds_query(database, table, trace_id))
                .await?;
            facts.add_bounds(database, table, trace_id, trace_bounds(rows.first()));
        }
    }
    Ok(())
}

/// A trace's `(start, end)` from its lookup row (`min(Start)`, `max(End)`, `count()`); `None`
/// when the lookup has no rows for the id (the view can lag: the trace is then read unbounded).
fn trace_bounds(row: Option<&Vec<Value>>) -> Option<(i64, i64)> {
    let row = row?;
    let num = |i: usize| {
        row.get(i)
            .and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(0)
    };
    (num(2) > 0 && num(0) > 0).then(|| (num(0), num(1)))
}

const SCHEMA_TTL: Duration = Duration::from_secs(300);

/// A table's schema from `system.columns` and `system.tables`, cached per instance.
pub async fn table_schema(
    instance: &Instance,
    database: &str,
    table: &str,
) -> Result<Arc<TableSchema>, QueryError> {
    let key = (database.to_owned(), table.to_owned());
    if let Some((at, schema)) = instance
        .schemas
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        && at.elapsed() < SCHEMA_TTL
    {
        crate::metrics::global().cache_hit(crate::metrics::Cache::Schema);
        return Ok(schema.clone());
    }
    crate::metrics::global().cache_miss(crate::metrics::Cache::Schema);
    let db = if database.is_empty() {
        "currentDatabase()".to_owned()
    } else {
        string_literal(database)
    };
    let t = string_literal(table);
    let conn = &instance.connection;
    let columns_sql = format!(
        "SELECT name, type, default_kind FROM system.columns WHERE database = {db} AND table = {t} ORDER BY position"
    );
    let tables_sql = format!(
        "SELECT {} FROM system.tables WHERE database = {db} AND name = {t}",
        otel::engine::TABLE_COLUMNS
    );
    let (columns, tables) = tokio::join!(conn.json_rows(&columns_sql), conn.json_rows(&tables_sql));
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_owned();
    let tables = tables?;
    let own = otel::engine::TableRow::from_json(tables.first().map_or(&[][..], |r| &r[..]));
    let keys = storage_keys(conn.as_ref(), &own).await;
    let schema = Arc::new(TableSchema {
        database: own.database.clone(),
        table: table.to_owned(),
        columns: columns?
            .iter()
            .map(|r| Column {
                name: text(r.first()),
                ty: ChType::parse(&text(r.get(1))),
                default_kind: text(r.get(2)),
            })
            .collect(),
        keys_from: if keys == own {
            String::new()
        } else {
            keys.qualified_name()
        },
        partition_key: keys.partition_key,
        sorting_key: keys.sorting_key,
        primary_key: keys.primary_key,
    });
    instance
        .schemas
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, (Instant::now(), schema.clone()));
    Ok(schema)
}

/// The keys that prune reads of `own`: its own, or for a `Distributed`/`Merge` table those of
/// the table that stores its rows (followed up to [`otel::engine::MAX_HOPS`] tables). A table
/// that cannot be followed keeps its own (empty) keys, with a warning: the time filter still
/// applies, only pruning by key is lost.
async fn storage_keys(
    conn: &dyn crate::upstream::Upstream,
    own: &otel::engine::TableRow,
) -> otel::engine::TableRow {
    let mut row = own.clone();
    for _ in 0..otel::engine::MAX_HOPS {
        let next = match row.underlying() {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(table = %row.qualified_name(), error = %e, "keys of the underlying table unknown");
                break;
            }
        };
        match conn.json_rows(&next.lookup_sql()).await {
            Ok(rows) if !rows.is_empty() => row = otel::engine::TableRow::from_json(&rows[0]),
            Ok(_) => {
                tracing::warn!(table = %row.qualified_name(), underlying = ?next, "the underlying table is not on this server; its keys are unknown");
                break;
            }
            Err(e) => {
                tracing::warn!(table = %row.qualified_name(), error = %e, "cannot read the underlying table's keys");
                break;
            }
        }
    }
    if row.underlying().is_ok_and(|u| u.is_some()) {
        // Still a Distributed/Merge table: it has no keys, so its own (empty) ones stand.
        return own.clone();
    }
    row
}

/// Reads a table's classification for the `schema` resource.
pub async fn describe_table(
    instance: &Instance,
    database: &str,
    table: &str,
) -> Result<Value, QueryError> {
    let schema = table_schema(instance, database, table).await?;
    if schema.columns.is_empty() {
        return Err(QueryError::Upstream {
            code: 60,
            name: Some("UNKNOWN_TABLE".into()),
            message: format!("table {database}.{table} does not exist"),
        });
    }
    let cls = otel::classify(&schema, &instance.settings.logs.overrides);
    Ok(match cls {
        Some(Classified::Logs(g, r)) => serde_json::json!({
            "kind": "logs", "generation": g.name(), "time": r.time,
            "keyTimes": r.key_times.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>(),
            "keysFrom": schema.keys_from,
            "body": r.body, "severityText": r.severity_text, "severityNumber": r.severity_number,
            "service": r.service, "traceId": r.trace_id, "spanId": r.span_id, "maps": r.maps,
            "labelColumns": r.label_columns,
            "contextColumns": r.context_columns.iter().map(build::column_ref).collect::<Vec<_>>(),
        }),
        Some(Classified::Traces(g, r)) => serde_json::json!({
            "kind": "traces", "generation": g.name(), "time": r.time, "duration": r.duration,
            "keyTimes": r.key_times.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>(),
            "keysFrom": schema.keys_from,
        }),
        None => serde_json::json!({"kind": "other"}),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_bounds_need_rows_for_the_id() {
        let row = |v: Value| Some(v.as_array().unwrap().clone());
        assert_eq!(
            trace_bounds(row(serde_json::json!([10, 20, 3])).as_ref()),
            Some((10, 20))
        );
        assert_eq!(
            trace_bounds(row(serde_json::json!(["10", "20", "1"])).as_ref()),
            Some((10, 20))
        );
        // No rows for the id: min() of nothing is 0, count() 0.
        assert_eq!(
            trace_bounds(row(serde_json::json!([0, 0, 0])).as_ref()),
            None
        );
        assert_eq!(trace_bounds(None), None);
    }
}
