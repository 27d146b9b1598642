//! The one place that turns values into SQL text.
//!
//! Every value that reaches ClickHouse from outside the SQL a user typed (template variables,
//! ad hoc filters, builder fields, row bounds, time ranges) goes through this module. Nothing else
//! in the crate formats a user value into SQL. Two rules keep generated SQL safe:
//!
//! * literals and identifiers are escaped here, by ClickHouse's lexer rules: string literals are
//!   single-quoted with `\` and `'` backslash-escaped; identifiers are backtick-quoted with `\` and
//!   `` ` `` backslash-escaped;
//! * filters the plugin adds to a user's SQL wrap it (`SELECT … FROM (<user sql>) WHERE …`), they
//!   never append to it, so an `OR` or a trailing comment inside the user SQL cannot escape them.

pub mod build;
pub mod explore;
pub mod grafana_builder;

use std::fmt::Write;

/// Writes `value` as a ClickHouse string literal: `'...'` with `\`, `'` and control characters
/// escaped, so the literal reads back as exactly `value`.
pub fn write_string_literal(out: &mut String, value: &str) {
    out.reserve(value.len() + 2);
    out.push('\'');
    write_string_literal_content(out, value);
    out.push('\'');
}

/// Returns `value` as a ClickHouse string literal (see [`write_string_literal`]).
pub fn string_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    write_string_literal(&mut out, value);
    out
}

/// Writes `name` as a backtick-quoted identifier that reads back as exactly `name`.
pub fn write_identifier(out: &mut String, name: &str) {
    out.reserve(name.len() + 2);
    out.push('`');
    write_quoted_identifier_content(out, name, '`');
    out.push('`');
}

/// Returns `name` as a backtick-quoted identifier (see [`write_identifier`]).
pub fn identifier(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    write_identifier(&mut out, name);
    out
}

/// Writes the inside of a ClickHouse string literal (no surrounding quotes), escaped exactly as
/// [`write_string_literal`] does. For values placed inside a literal the user already opened,
/// such as a template variable in `'%$var%'`.
pub fn write_string_literal_content(out: &mut String, value: &str) {
    out.reserve(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
}

/// Writes the inside of a quoted identifier opened with `quote` (`` ` `` or `"`): `\` and the
/// quote are backslash-escaped, so the text cannot close the identifier early.
pub fn write_quoted_identifier_content(out: &mut String, name: &str, quote: char) {
    out.reserve(name.len());
    for c in name.chars() {
        if c == '\\' || c == quote {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Returns `name` as a double-quoted identifier (`"a\"b"`), the form Altinity's plugin uses
/// for column names; ClickHouse reads it like a backtick identifier.
pub fn double_quoted_identifier(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    write_quoted_identifier_content(&mut out, name, '"');
    out.push('"');
    out
}

/// Returns `db.table` with both parts quoted; an empty database gives just the table.
pub fn qualified_table(database: &str, table: &str) -> String {
    let mut out = String::new();
    if !database.is_empty() {
        write_identifier(&mut out, database);
        out.push('.');
    }
    write_identifier(&mut out, table);
    out
}

/// Writes a finite number as a SQL numeric literal; NaN and infinities become `nan`/`inf`/`-inf`,
/// which ClickHouse parses as Float64 literals.
pub fn write_number(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("nan");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "inf" } else { "-inf" });
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        let _ = write!(out, "{}", value as i64);
    } else {
        let _ = write!(out, "{value}");
    }
}

/// Wraps a user's SQL as a subquery with the plugin's own outer clauses, so filters and limits
/// the plugin adds apply to the user's whole result and cannot be escaped by the user's text.
///
/// A trailing `;` and any `FORMAT`/`SETTINGS` tail are the caller's business: this function only
/// guards against a trailing line comment swallowing the closing parenthesis.
pub fn wrap_subquery(user_sql: &str, outer_select: &str, outer_tail: &str) -> String {
    let inner = user_sql.trim_end().trim_end_matches(';');
    let mut out = String::with_capacity(inner.len() + outer_select.len() + outer_tail.len() + 16);
    out.push_str("SELECT ");
    out.push_str(outer_select);
    out.push_str(" FROM (\n");
    out.push_str(inner);
    // A newline before `)` ends any `--` comment the user's SQL finishes with.
    out.push_str("\n)");
    if !outer_tail.is_empty() {
        out.push(' ');
        out.push_str(outer_tail);
    }
    out
}

/// `DESCRIBE TABLE (<sql>)`: the result columns of a query, without running it.
pub fn describe_query(user_sql: &str) -> String {
    let inner = user_sql.trim_end().trim_end_matches(';');
    // Newlines so a trailing line comment cannot swallow the closing parenthesis.
    format!("DESCRIBE TABLE (\n{inner}\n)")
}

/// The first keyword of a statement as ClickHouse's lexer reads it (comments, blanks and opening
/// parentheses skipped), upper-cased; `None` when the statement starts with anything else.
pub fn leading_keyword(sql: &str) -> Option<String> {
    let regions = crate::macros::scan::regions(sql);
    let mut i = 0;
    let b = sql.as_bytes();
    loop {
        if let Some((r, kind)) = regions.iter().find(|(r, _)| r.start == i) {
            if !kind.is_comment() {
                return None;
            }
            i = r.end;
        } else if i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'(') {
            i += 1;
        } else {
            break;
        }
    }
    let word: String = sql[i..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!word.is_empty()).then(|| word.to_ascii_uppercase())
}

/// Statements ClickHouse's read-only mode lets through although they act on the server: `KILL`
/// (a user's own queries) and some `SYSTEM` commands (26.9 runs `SYSTEM STOP MERGES` under
/// readonly=1). Lantern refuses them itself unless writes are allowed.
pub const ADMIN_KEYWORDS: &[&str] = &["KILL", "SYSTEM"];

/// Settings a query may carry in its own `SETTINGS` clause that only narrow what it reads:
/// `additional_table_filters` (what grafana/clickhouse-datasource's `$__adHocFilters` expands to).
pub const FILTER_SETTINGS: &[&str] = &["additional_table_filters"];

/// The longest setting value sent with a request: settings travel in the URL, whose length HTTP
/// clients bound (64 KiB), and URL-encoding can triple a value.
pub const MAX_REQUEST_SETTING_BYTES: usize = 16 * 1024;

/// Splits off a statement's trailing top-level `SETTINGS` clause when every setting in it is one
/// of [`FILTER_SETTINGS`]: the statement without the clause, and the settings as `(name, value
/// text)`. A read-only (`readonly=1`) request cannot carry settings in the query, but the same
/// settings sent with the request apply; nothing else moves, so a query can never lift a limit
/// this way. `None` when there is no such clause (or it sets anything else, or is followed by
/// more than blanks, comments and `;`).
pub fn take_filter_settings(sql: &str) -> Option<(String, Vec<(String, String)>)> {
    use crate::macros::scan;
    let b = sql.as_bytes();
    let &(start, _, list) = scan::top_level_words(b, 0, &["settings"]).last()?;
    if !scan::top_level_words(b, list, &["format"]).is_empty() {
        return None;
    }
    // The clause's items, split at top-level commas, up to the end of the statement.
    let mut items = Vec::new();
    let (mut depth, mut item, mut i, mut end) = (0usize, list, list, b.len());
    while i < b.len() {
        if let Some((region, next)) = scan::opaque_at(b, i) {
            if region.is_comment() && depth == 0 && end == b.len() {
                end = i;
            } else if !region.is_comment() && end != b.len() {
                return None;
            }
            i = next;
            continue;
        }
        let c = b[i];
        if end != b.len() && !(c.is_ascii_whitespace() || c == b';') {
            return None;
        }
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.checked_sub(1)?,
            b',' if depth == 0 => {
                items.push(&sql[item..i]);
                item = i + 1;
            }
            b';' if depth == 0 && end == b.len() => end = i,
            _ => {}
        }
        i += 1;
    }
    items.push(&sql[item..end]);
    let mut settings = Vec::new();
    for item in items {
        let (name, value) = item.split_once('=')?;
        let (name, value) = (name.trim(), value.trim());
        if !FILTER_SETTINGS.iter().any(|f| f.eq_ignore_ascii_case(name)) || value.is_empty() {
            return None;
        }
        settings.push((name.to_ascii_lowercase(), value.to_owned()));
    }
    Some((sql[..start].trim_end().to_owned(), settings))
}

/// `KILL QUERY` for one query id, not waiting for the query to stop.
pub fn kill_query(query_id: &str) -> String {
    format!(
        "KILL QUERY WHERE query_id = {} ASYNC",
        string_literal(query_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_filter_settings_move_out_of_the_query() {
        let sql = "SELECT * FROM t WHERE a = 1 SETTINGS additional_table_filters={'t': 'x = \\'a,b\\''} -- c\n;";
        let (rest, moved) = take_filter_settings(sql).unwrap();
        assert_eq!(rest, "SELECT * FROM t WHERE a = 1");
        assert_eq!(
            moved,
            [(
                "additional_table_filters".to_owned(),
                "{'t': 'x = \\'a,b\\''}".to_owned()
            )]
        );
        for kept in [
            // Anything that could lift a limit stays in the query (and is refused read-only).
            "SELECT 1 SETTINGS additional_table_filters={'t': 'x'}, max_result_rows = 0",
            "SELECT 1 SETTINGS max_result_rows = 0",
            // Not the end of the statement.
            "SELECT 1 SETTINGS additional_table_filters={'t': 'x'} FORMAT JSON",
            // Inside a subquery, or in a string or comment.
            "SELECT * FROM (SELECT 1 SETTINGS additional_table_filters={'t': 'x'})",
            "SELECT 'SETTINGS additional_table_filters={}'",
            "SELECT 1 -- SETTINGS additional_table_filters={}",
            "SELECT 1",
        ] {
            assert_eq!(take_filter_settings(kept), None, "{kept}");
        }
    }

    #[test]
    fn string_literals_escape_quotes_backslashes_and_controls() {
        assert_eq!(string_literal("it's"), r"'it\'s'");
        assert_eq!(string_literal(r"a\b"), r"'a\\b'");
        assert_eq!(string_literal("x\ny\0"), r"'x\ny\0'");
        assert_eq!(string_literal("*/ --"), "'*/ --'");
        assert_eq!(string_literal(""), "''");
    }

    #[test]
    fn identifiers_escape_backticks() {
        assert_eq!(identifier("Body"), "`Body`");
        assert_eq!(identifier("a`b"), r"`a\`b`");
        assert_eq!(identifier(r"a\"), r"`a\\`");
        assert_eq!(qualified_table("otel", "logs"), "`otel`.`logs`");
        assert_eq!(qualified_table("", "logs"), "`logs`");
    }

    #[test]
    fn literal_content_and_quoted_identifiers() {
        let mut s = String::new();
        write_string_literal_content(&mut s, r"it's \ */");
        assert_eq!(s, r"it\'s \\ */");
        assert_eq!(double_quoted_identifier(r#"a"b\"#), r#""a\"b\\""#);
        let mut t = String::new();
        write_quoted_identifier_content(&mut t, "x`y", '`');
        assert_eq!(t, r"x\`y");
    }

    #[test]
    fn numbers_are_plain_literals() {
        let mut s = String::new();
        write_number(&mut s, 42.0);
        s.push(' ');
        write_number(&mut s, -1.5);
        s.push(' ');
        write_number(&mut s, f64::NAN);
        assert_eq!(s, "42 -1.5 nan");
    }

    #[test]
    fn the_leading_keyword_is_read_past_comments() {
        for (sql, want) in [
            ("SELECT 1", Some("SELECT")),
            (
                "  -- c\n# x\n/* a /* b */ c */ (kill query where 1)",
                Some("KILL"),
            ),
            ("#!shebang\nsystem stop merges", Some("SYSTEM")),
            ("// c\nWITH 1 AS x SELECT x", Some("WITH")),
            ("'KILL'", None),
            ("", None),
        ] {
            assert_eq!(leading_keyword(sql).as_deref(), want, "{sql:?}");
        }
    }

    #[test]
    fn describe_and_kill_are_closed_against_their_input() {
        assert_eq!(
            describe_query("SELECT 1 -- c;\n;"),
            "DESCRIBE TABLE (\nSELECT 1 -- c;\n\n)"
        );
        assert_eq!(
            kill_query("q' OR 1 --"),
            r"KILL QUERY WHERE query_id = 'q\' OR 1 --' ASYNC"
        );
    }

    #[test]
    fn wrapping_keeps_user_or_and_trailing_comment_inside() {
        let sql = wrap_subquery(
            "SELECT * FROM t WHERE a = 1 OR b = 2 -- note",
            "*",
            "LIMIT 10",
        );
        assert_eq!(
            sql,
            "SELECT * FROM (\nSELECT * FROM t WHERE a = 1 OR b = 2 -- note\n) LIMIT 10"
        );
    }
}
