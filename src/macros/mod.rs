//! Macro expansion: a pure function from SQL with macros to SQL ClickHouse can run.
//!
//! [`expand`] does no I/O; everything it needs is in [`MacroContext`]. It serves dashboards of
//! both existing ClickHouse plugins (anchors.md 4–6), so two macro families exist:
//!
//! * the **Grafana** family `$__name` (`grafana/clickhouse-datasource`), in `grafana.rs`;
//! * the **Altinity** family `$name` (`Altinity/clickhouse-grafana`), in `altinity.rs`.
//!
//! # Dialects and pass order
//!
//! The caller picks the [`Dialect`] from the saved query's model: `rawSql` (Grafana's model) →
//! [`Dialect::Grafana`]; `query` (Altinity's model) → [`Dialect::Altinity`]. The passes run in
//! this order, each on the previous one's output:
//!
//! 1. **Template** (`template.rs`): `$__conditionalAll`, `$conditionalTest`, `$adhoc`,
//!    `$__adHocFilters` and template variables. The anchors did these in the browser, so alerts
//!    never saw them; here they run in the backend for every query, first, as the frontend did.
//! 2. **Grafana** family: statement pre-pass, then function macros, innermost first. Applied in
//!    both dialects (a `$__timeFilter` works in an Altinity query too), except the names the
//!    Altinity family also defines (`$__from`, `$__to`, `$__interval_ms`), which take Altinity's
//!    meaning in Altinity queries.
//! 3. **Altinity** family, only for [`Dialect::Altinity`]: the anchor's pipeline (statement
//!    macro, `skip_comments`, `add_metadata`, simple macros). Running it on Grafana-model queries
//!    would turn text such as `$table` that those dashboards never meant as macros into SQL.
//!
//! # Rules shared by all passes
//!
//! * SQL is read as ClickHouse's lexer reads it, by one scanner (`scan.rs`, [`regions`]): strings
//!   (`'…'` with `\'` and `''`, `‘…’`), quoted identifiers (`` `…` ``, `"…"`, `“…”`),
//!   `$tag$…$tag$` heredocs and comments (`--`, `//`, `# `, `#!`, nested `/* */`) are opaque: no
//!   macro fires inside them (variables are substituted in ASCII-quoted strings and identifiers,
//!   escaped for them; see `template.rs`).
//! * A value in bare position can never join the text around it into a comment or an operator:
//!   negative numbers are parenthesised, anything but a plain number or identifier is a string
//!   literal (see `template.rs`).
//! * A macro name is the whole identifier after `$`, so the longest name always wins and
//!   `$timeFilterX` is not `$timeFilter`. Unknown names stay as written.
//! * SQL without `$` or `[[` is returned unchanged, byte for byte (in the Altinity dialect only
//!   when neither `skip_comments` nor `add_metadata` is set, as that plugin applies them to
//!   every query).
//! * The first error stops expansion; [`MacroError`] names the macro, its byte offset and the
//!   reason. Offsets refer to the input, except for errors raised inside text a statement macro
//!   generated, which point at the end of the input.
//!
//! The Altinity pass keeps that plugin's known bug of rewriting every `where` of a statement
//! macro's tail, subqueries included (see `altinity.rs`), so saved dashboards keep their results.

mod adhoc;
mod altinity;
mod canary;
mod catalog;
mod context;
mod error;
mod grafana;
pub mod scan;
mod template;

#[cfg(test)]
mod cases;
#[cfg(test)]
mod conformance;

pub use catalog::{Family, MacroDoc, catalog, render_markdown};
pub use context::{
    AdHocFilter, AltinityOptions, Column, DateTimeType, Dialect, GrafanaOptions, MacroContext,
    QueryMetadata, TimeRange, Variable,
};
pub use error::{Arity, MacroError, MacroErrorKind};
pub use scan::{Region, regions};

/// Expands every macro and template variable in `sql` for `ctx` (see the module docs for the
/// pass order and rules).
///
/// When the query has variable or ad hoc values that are not plain numbers or identifiers, the
/// expansion is run a second time with each such value replaced by a canary holding every quote
/// character, and the canary output is read back with the scanner: each canary must lie whole
/// inside one ASCII-quoted literal or identifier, and the real output must lex into the same
/// regions with the same code between them (values may only differ inside quotes). A pass can
/// change how later text lexes (a replaced macro next to `$tag$` starts a heredoc; a value
/// holding `$tag$` closes a heredoc opened earlier), so this checks the final SQL, not the
/// input; a query that fails it is refused with [`MacroErrorKind::ValueEscapesLiteral`].
pub fn expand(sql: &str, ctx: &MacroContext) -> Result<String, MacroError> {
    let altinity_rewrites = ctx.dialect == Dialect::Altinity
        && (ctx.altinity.skip_comments || ctx.altinity.add_metadata);
    if !sql.contains(['$', '[']) && !altinity_rewrites {
        return Ok(sql.to_string());
    }
    let out = expand_unchecked(sql, ctx)?;
    if let Some(probe_ctx) = canary::context(ctx) {
        let probe = expand_unchecked(sql, &probe_ctx)?;
        if !canary::all_quoted(&probe) || !canary::same_shape(&out, &probe) {
            return Err(MacroError::new(
                "$",
                sql.len(),
                MacroErrorKind::ValueEscapesLiteral,
            ));
        }
    }
    Ok(out)
}

/// The conditions of a query's ad hoc filters by the table each applies to, for a query that
/// places none itself (no `$adhoc`, no `$__adHocFilters`): both existing plugins apply a
/// dashboard's filters to such queries too (grafana's frontend appends `settings
/// additional_table_filters`, Altinity re-prints the query's `WHERE`). A key is resolved against
/// the table it names (`table.column`, `db.table.column`) when that table exists (`columns_of`
/// gives its columns), else against the query's table `database.table` (its columns in
/// [`MacroContext::table_columns`]). A key that resolves nowhere is an error naming it; when
/// the query's table does not exist (`table_columns` is `None`), a key naming no existing table
/// is not this query's.
/// Empty when there are no filters or the SQL places them.
pub fn implicit_ad_hoc<E: From<MacroError>>(
    sql: &str,
    ctx: &MacroContext,
    database: &str,
    table: &str,
    mut columns_of: impl FnMut(&str, &str) -> Result<Option<Vec<Column>>, E>,
) -> Result<Vec<(String, Vec<String>)>, E> {
    if ctx.ad_hoc_filters.is_empty() || template::uses_ad_hoc_macro(sql) {
        return Ok(Vec::new());
    }
    // `=~` keeps each model's meaning: regular expressions (grafana), LIKE patterns (Altinity).
    let regex = ctx.dialect == Dialect::Grafana;
    let err = |k| E::from(MacroError::new("ad hoc filters", 0, k));
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |name: String, cond: String| match groups.iter_mut().find(|g| g.0 == name) {
        Some(g) => g.1.push(cond),
        None => groups.push((name, vec![cond])),
    };
    let qualified = |db: &str, t: &str| {
        if db.is_empty() {
            t.to_owned()
        } else {
            format!("{db}.{t}")
        }
    };
    for f in &ctx.ad_hoc_filters {
        // A key whose first parts name another existing table (`table.column`,
        // `db.table.column`) is that table's filter: both plugins' keys name tables so.
        let parts: Vec<&str> = f.key.split('.').collect();
        let mut named = Vec::new();
        if parts.len() >= 3 {
            named.push((parts[0], parts[1], parts[2..].join(".")));
        }
        if parts.len() >= 2 {
            named.push((database, parts[0], parts[1..].join(".")));
        }
        let mut placed = false;
        for (db, t, rest) in named {
            if (db, t) == (database, table) || t.is_empty() {
                continue;
            }
            let Some(cols) = columns_of(db, t)?.filter(|c| !c.is_empty()) else {
                continue;
            };
            let on_table = AdHocFilter {
                key: rest,
                ..f.clone()
            };
            match adhoc::filter_condition(ctx, &on_table, Some(&cols), db, t, regex) {
                Ok(Some(c)) => {
                    add(qualified(db, t), c);
                    placed = true;
                }
                Ok(None) => placed = true,
                // The key names this table: a column it lacks is an error, not a fallback.
                Err(e) => return Err(err(e)),
            }
            break;
        }
        if placed {
            continue;
        }
        // Otherwise the query's table; without it (it does not exist), a key that names no
        // existing table is not this query's.
        if let Some(cols) = ctx.table_columns.as_deref()
            && let Some(c) =
                adhoc::filter_condition(ctx, f, Some(cols), database, table, regex).map_err(err)?
        {
            add(qualified(database, table), c);
        }
    }
    Ok(groups)
}

/// `expanded` wrapped so that its outer `SETTINGS additional_table_filters` applies each table's
/// conditions to every read of that table (before the query's own `WHERE` and `LIMIT`). As it
/// is when there are none, or when the statement is not `SELECT`/`WITH` (it reads no rows).
pub fn wrap_with_table_filters(expanded: String, groups: &[(String, Vec<String>)]) -> String {
    if groups.is_empty()
        || !matches!(
            crate::sql::leading_keyword(&expanded).as_deref(),
            Some("SELECT" | "WITH")
        )
    {
        return expanded;
    }
    crate::sql::wrap_subquery(
        &expanded,
        "*",
        &format!("SETTINGS {}", template::table_filters_setting(groups)),
    )
}

fn expand_unchecked(sql: &str, ctx: &MacroContext) -> Result<String, MacroError> {
    let text = template::expand(sql, ctx, true)?;
    let text = grafana::expand(&text, ctx)?;
    match ctx.dialect {
        Dialect::Grafana => Ok(text),
        Dialect::Altinity => altinity::expand(&text, ctx),
    }
}

/// Internal stages, for a stage-level conformance harness (not needed by the repo's own tests).
#[cfg(test)]
#[allow(
    unused_imports,
    reason = "only a stage-level conformance harness uses these"
)]
pub(crate) mod stages {
    pub(crate) use super::adhoc::conditions as adhoc_conditions;
    pub(crate) use super::altinity::{
        escape_column, escape_table_part, expand as altinity, expand_simple as altinity_simple,
        expand_statement as altinity_statement, remove_comments, respace,
    };
    pub(crate) use super::template::expand as template;
}
