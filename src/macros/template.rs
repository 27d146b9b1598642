//! Template variables, conditional macros and ad hoc filters, expanded in the backend.
//!
//! Both anchors left these to Grafana's frontend, so alerts and any backend-only path never saw
//! them (anchors.md 7). Here they run first, in one scan, before any dialect macro — the order
//! the frontend imposed — and every value goes through [`crate::sql`] escaping.
//!
//! # Variable forms and the quoting contract
//!
//! Supported references: `$var`, `${var}`, `${var:format}`, `[[var]]`, `[[var:format]]`, plus
//! Grafana's `${__from}` / `${__to}` (epoch ms). A name the context does not know is left as
//! written (it may be a macro of a later pass, or ClickHouse will report it).
//!
//! Where the reference sits decides the escaping, so a value can never change the SQL's shape:
//!
//! | Position | Rendering of each value | Joined by |
//! |---|---|---|
//! | inside `'…'` | literal content, `\` and `'` backslash-escaped, no quotes added | `,` |
//! | inside `` `…` `` / `"…"` | identifier content, `\` and the quote escaped | `,` |
//! | inside `‘…’` / `“…”` (Unicode quotes, which have no escapes), comments or `$tag$…$tag$` | not substituted | |
//! | code, default format, single-value variable | raw if a plain number (negative ones in parentheses) or a plain dotted identifier (except right after `IN (`), else a string literal (see [`write_single`]) | |
//! | code, default format, multi-value or "All" | string literal | `,` |
//! | code, `:csv` | like a single value (raw number/identifier, else literal) | `,` |
//! | code, `:singlequote` / `:sqlstring` | string literal (ClickHouse backslash escaping for both) | `,` |
//! | code, `:doublequote` | double-quoted identifier | `,` |
//! | code, `:text` | the display text, rendered like a single value | |
//!
//! An empty selection renders `''` in code (so `IN ($v)` stays valid) and nothing inside quotes.
//! "All" with a dashboard-defined custom all value inserts that value verbatim: it is part of the
//! dashboard like the SQL itself. Other formats (`raw`, `regex`, `pipe`, `json`, …) are an error
//! rather than a silent raw insert.
//!
//! # Conditionals
//!
//! * `$__conditionalAll(cond, $var)` (Grafana): `1=1` when the variable is "All" or empty, else
//!   `cond` (interpolated). Not exactly two arguments: left as written. Unknown variable: `cond`,
//!   as the frontend did.
//! * `$conditionalTest(sql, $var)` / `(sql_if, sql_else, $var)` (Altinity): ` sql ` or, when the
//!   variable is "All" or empty, a single space / ` sql_else `. The last argument must be a
//!   `$variable`, else an error; a variable the request does not carry leaves the macro as
//!   written (like any unknown name).
//!
//! # Ad hoc filters
//!
//! * `$adhoc` (Altinity): `(c1 AND c2 …)` or `1`. Keys `db.table.col` apply only when they name
//!   the query's database and table; plain keys always apply; two-part keys never do. `=~`/`!~`
//!   are `LIKE`/`NOT LIKE`, as in that plugin.
//! * `$__adHocFilters('t1', …)` (Grafana): `additional_table_filters={'t1': '<conds>', …}` for a
//!   `SETTINGS` clause; `=~`/`!~` are `match()`/`NOT match()` (regex, Grafana's meaning).
//!
//! Values are string literals, except numbers compared with `<`, `>`, `<=`, `>=`; keys are raw
//! when plain identifiers, else backtick-quoted.

use super::adhoc;
use super::context::{Dialect, MacroContext, Variable};
use super::error::{MacroError, MacroErrorKind};
use super::scan::{self, Region};
use crate::sql;

/// Where a variable reference sits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Code,
    String,
    Backtick,
    DoubleQuoted,
}

/// A parsed reference: variable name, optional format, and the end offset.
struct Reference<'a> {
    name: &'a str,
    format: Option<&'a str>,
    end: usize,
}

/// Parses `$name`, `${name[:fmt]}` or `[[name[:fmt]]]` at `i`.
fn reference_at(s: &str, i: usize) -> Option<Reference<'_>> {
    let b = s.as_bytes();
    let (open, close, start) = match (*b.get(i)?, b.get(i + 1)) {
        (b'$', Some(b'{')) => ("${", "}", i + 2),
        (b'[', Some(b'[')) => ("[[", "]]", i + 2),
        (b'$', _) => {
            let n = scan::ident_len(b, i + 1);
            return (n > 0).then(|| Reference {
                name: &s[i + 1..i + 1 + n],
                format: None,
                end: i + 1 + n,
            });
        }
        _ => return None,
    };
    debug_assert_eq!(open.len(), 2);
    let n = scan::ident_len(b, start);
    if n == 0 {
        return None;
    }
    let name = &s[start..start + n];
    let mut j = start + n;
    let mut format = None;
    if b.get(j) == Some(&b':') {
        let f = b[j + 1..]
            .iter()
            .take_while(|&&c| scan::is_ident_byte(c))
            .count();
        format = Some(&s[j + 1..j + 1 + f]);
        j += 1 + f;
    }
    s[j..].starts_with(close).then(|| Reference {
        name,
        format,
        end: j + close.len(),
    })
}

pub(crate) fn is_number(v: &str) -> bool {
    let t = v.strip_prefix('-').unwrap_or(v);
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(p) => (&t[..p], Some(&t[p + 1..])),
        None => (t, None),
    };
    let mut parts = mant.splitn(2, '.');
    let int = parts.next().unwrap_or_default();
    let frac = parts.next();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    let mant_ok = digits(int) && frac.is_none_or(digits);
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mant_ok && exp_ok
}

fn is_dotted_identifier(v: &str) -> bool {
    !v.is_empty()
        && v.split('.').all(|p| {
            let b = p.as_bytes();
            !b.is_empty() && !b[0].is_ascii_digit() && b.iter().all(|&c| scan::is_ident_byte(c))
        })
}

/// A value that is one harmless token: a plain number or a plain dotted identifier.
pub(crate) fn is_plain(v: &str) -> bool {
    is_number(v) || is_dotted_identifier(v)
}

/// Whether the string literal starting at `i` is the argument of `$unescape(`.
fn is_unescape_argument(sql: &str, i: usize) -> bool {
    sql[..i]
        .trim_end()
        .strip_suffix('(')
        .is_some_and(|head| head.trim_end().ends_with("$unescape"))
}

/// A single value in code (bare position): raw only when it is one token that cannot join the
/// text around it into a comment or an operator, else a string literal.
///
/// * a plain number (`-?digits[.digits][e[+-]digits]`) is raw; a negative one is wrapped in
///   parentheses, so `1 -$lag` with `lag = -1` reads `1 -(-1)`, never `1 --1` (a comment);
/// * a plain, possibly dotted identifier (`[A-Za-z_][A-Za-z0-9_]*`, parts joined by `.`) is raw,
///   so `FROM $table` and `SELECT $column` keep working (such a value is read as a name: use
///   `'$v'` or `${v:singlequote}` where a value is meant);
/// * anything else is a string literal, escaped by [`crate::sql`].
pub(crate) fn write_single(out: &mut String, v: &str) {
    if is_number(v) {
        if v.starts_with('-') {
            out.push('(');
            out.push_str(v);
            out.push(')');
        } else {
            out.push_str(v);
        }
    } else if is_dotted_identifier(v) {
        out.push_str(v);
    } else {
        sql::write_string_literal(out, v);
    }
}

fn render(
    var: &Variable,
    format: Option<&str>,
    place: Place,
    in_list: bool,
) -> Result<String, MacroErrorKind> {
    if var.all_selected
        && let Some(all) = &var.custom_all_value
    {
        return Ok(all.clone());
    }
    let text_value;
    let values: &[String] = if format == Some("text") {
        text_value = [var.text.clone().unwrap_or_else(|| var.values.join(" + "))];
        &text_value
    } else {
        &var.values
    };
    let mut out = String::new();
    for (n, v) in values.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        match place {
            Place::String => sql::write_string_literal_content(&mut out, v),
            Place::Backtick => sql::write_quoted_identifier_content(&mut out, v, '`'),
            Place::DoubleQuoted => sql::write_quoted_identifier_content(&mut out, v, '"'),
            Place::Code => match format {
                None => {
                    if values.len() == 1 && !var.multi && !var.include_all && !in_list {
                        write_single(&mut out, v);
                    } else {
                        sql::write_string_literal(&mut out, v);
                    }
                }
                Some("csv" | "text") => write_single(&mut out, v),
                Some("singlequote" | "sqlstring") => sql::write_string_literal(&mut out, v),
                Some("doublequote") => out.push_str(&sql::double_quoted_identifier(v)),
                Some(other) => return Err(MacroErrorKind::UnsupportedFormat(other.to_string())),
            },
        }
    }
    if values.is_empty() && place == Place::Code {
        out.push_str("''");
    }
    Ok(out)
}

/// Whether the reference at `i` directly follows `IN (` (a value list, where even a single
/// identifier-like value must be a literal).
fn opens_in_list(sql: &str, i: usize) -> bool {
    let before = sql[..i].trim_end();
    let Some(before) = before.strip_suffix('(') else {
        return false;
    };
    let before = before.trim_end();
    let b = before.as_bytes();
    b.len() >= 2
        && b[b.len() - 2..].eq_ignore_ascii_case(b"in")
        && (b.len() == 2 || !scan::is_ident_byte(b[b.len() - 3]))
}

/// Whether the reference at `i` is a value list: right after `IN (`, `IN [` (any of `NOT`,
/// `GLOBAL`) or `tuple(`.
fn opens_value_list(sql: &str, i: usize) -> bool {
    let before = sql[..i].trim_end();
    let Some(before) = before.strip_suffix(['(', '[']) else {
        return false;
    };
    let before = before.trim_end();
    let word_start = before
        .bytes()
        .rev()
        .take_while(|&c| scan::is_ident_byte(c))
        .count();
    let word = &before[before.len() - word_start..];
    word.eq_ignore_ascii_case("in")
        || (word.eq_ignore_ascii_case("tuple") && before.ends_with(word))
}

/// Whether the reference at `i` names a table: right after `FROM`, `JOIN`, `INTO`, `TABLE` or
/// `TO`.
fn in_table_position(sql: &str, i: usize) -> bool {
    let before = sql[..i].trim_end();
    if before.len() == sql[..i].len() {
        return false; // glued to the word before it
    }
    let n = before
        .bytes()
        .rev()
        .take_while(|&c| scan::is_ident_byte(c))
        .count();
    let word = &before[before.len() - n..];
    ["from", "join", "into", "table", "to"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w))
}

/// A value written for the array-literal position: a number raw, anything else a literal.
fn write_element(out: &mut String, v: &str) {
    if is_number(v) && !v.starts_with('-') {
        out.push_str(v);
    } else if is_number(v) {
        out.push('(');
        out.push_str(v);
        out.push(')');
    } else {
        sql::write_string_literal(out, v);
    }
}

/// A variable without a format in code, in the Altinity model, by that plugin's rules (which
/// its saved dashboards rely on), always escaped:
///
/// * a multi-value selection of several values: `'a','b'` as a value list (`IN (…)`,
///   `IN […]`, `tuple(…)`), else an array literal `['a', 'b']` (`hasAny($v, col)`); numbers
///   stay numbers; one value of a multi-value variable is always a string literal;
/// * a single value next to a `.` (`$db.$table`, `service.$ns`), or where a table name stands
///   (after `FROM`, `JOIN`, `INTO`, `TABLE`, `TO`), or of a variable whose `multi` and `includeAll`
///   are both `false`: raw when a plain identifier or number (see [`write_single`]);
/// * a single value in a value list: a string literal (a number stays a number);
/// * a single value of a variable without flags (textbox, constant): a number raw, anything
///   else a string literal; with `includeAll` set: a string literal.
fn altinity_code(var: &Variable, sql: &str, i: usize, end: usize) -> String {
    let mut out = String::new();
    let values = &var.values;
    let list = opens_value_list(sql, i);
    if values.len() > 1 {
        if !list {
            out.push('[');
        }
        for (n, v) in values.iter().enumerate() {
            if n > 0 {
                out.push_str(if list { "," } else { ", " });
            }
            write_element(&mut out, v);
        }
        if !list {
            out.push(']');
        }
        return out;
    }
    let Some(v) = values.first() else {
        out.push_str("''");
        return out;
    };
    let name_position =
        sql[..i].ends_with('.') || sql[end..].starts_with('.') || in_table_position(sql, i);
    let raw_if_plain = name_position
        || (!var.multi && !list && var.flags_known && !var.include_all)
        || (!var.multi && !list && !var.flags_known && is_number(v));
    if raw_if_plain {
        write_single(&mut out, v);
    } else if list && !var.multi {
        write_element(&mut out, v);
    } else {
        sql::write_string_literal(&mut out, v);
    }
    out
}

fn adhoc_macro(ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    let (db, table) = match ctx.dialect {
        Dialect::Altinity => (ctx.altinity.database.as_str(), ctx.altinity.table.as_str()),
        Dialect::Grafana => ("", ctx.grafana.table.as_str()),
    };
    let conds = adhoc::conditions(ctx, db, table, false)?;
    Ok(if conds.is_empty() {
        "1".to_string()
    } else {
        format!("({})", conds.join(" AND "))
    })
}

fn adhoc_filters_macro(args: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    let conds = adhoc::conditions(ctx, "", "", true)?;
    if conds.is_empty() {
        return Ok(table_filters_setting(&[]));
    }
    let groups: Vec<(String, Vec<String>)> = args
        .iter()
        .map(|t| {
            let name = t.trim().trim_matches(|c| c == '\'' || c == '"');
            (name.to_owned(), conds.clone())
        })
        .collect();
    Ok(table_filters_setting(&groups))
}

/// `additional_table_filters={'t1': 'c1 AND c2', …}` for each table and its conditions (`{}`
/// without any).
pub(crate) fn table_filters_setting(groups: &[(String, Vec<String>)]) -> String {
    let mut out = String::from("additional_table_filters={");
    for (n, (name, conds)) in groups.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        sql::write_string_literal(&mut out, name);
        out.push_str(": ");
        sql::write_string_literal(&mut out, &conds.join(" AND "));
    }
    out.push('}');
    out
}

/// Whether `sql` places the ad hoc filters itself: `$adhoc` or `$__adHocFilters(…)` in its code
/// (not in a literal or comment).
pub(crate) fn uses_ad_hoc_macro(sql: &str) -> bool {
    let b = sql.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if let Some((_, end)) = scan::opaque_at(b, i) {
            i = end;
            continue;
        }
        if b[i] == b'$'
            && let Some(r) = reference_at(sql, i)
            && matches!(r.name, "adhoc" | "__adHocFilters")
        {
            return true;
        }
        i += 1;
    }
    false
}

/// The variable named by a conditional macro's last argument (`$v` or `${v}`).
fn variable_arg(arg: &str) -> Option<&str> {
    let r = reference_at(arg, 0).filter(|r| r.end == arg.len() && arg.starts_with('$'))?;
    Some(r.name)
}

/// Expands conditionals, ad hoc macros and (when `interpolate`) variables.
pub(crate) fn expand(
    sql: &str,
    ctx: &MacroContext,
    interpolate: bool,
) -> Result<String, MacroError> {
    expand_at(sql, ctx, interpolate, 0)
}

fn expand_at(
    sql: &str,
    ctx: &MacroContext,
    interpolate: bool,
    base: usize,
) -> Result<String, MacroError> {
    let b = sql.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    let flush = |out: &mut String, from: usize, to: usize| {
        if out.capacity() == 0 {
            out.reserve(sql.len() + 64);
        }
        out.push_str(&sql[from..to]);
    };
    while i < b.len() {
        if let Some((region, end)) = scan::opaque_at(b, i) {
            let place = match region {
                Region::String => Place::String,
                Region::Backtick => Place::Backtick,
                Region::DoubleQuoted => Place::DoubleQuoted,
                _ => {
                    i = end;
                    continue;
                }
            };
            if interpolate && !ctx.variables.is_empty() {
                // `$unescape('…')` (Altinity) removes every quote and runs the text as SQL, so a
                // value inside its argument may only be a plain identifier or number.
                let unescaped = place == Place::String && is_unescape_argument(sql, i);
                // Substitute inside the quoted region, escaping for that region.
                let mut j = i + 1;
                let stop = if end > i + 1 && b[end - 1] == b[i] {
                    end - 1
                } else {
                    end
                };
                while j < stop {
                    if b[j] == b'\\' {
                        j += 2;
                        continue;
                    }
                    if matches!(b[j], b'$' | b'[')
                        && let Some(r) = reference_at(&sql[..stop], j)
                        && let Some(var) = ctx.variables.get(r.name)
                    {
                        if unescaped && let Some(v) = var.values.iter().find(|v| !is_plain(v)) {
                            let why = format!(
                                "the value `{v}` of a variable inside $unescape('…') is not a \
                                 plain identifier or number, and $unescape would run it as SQL"
                            );
                            return Err(MacroError::new(
                                &sql[j..r.end],
                                base + j,
                                MacroErrorKind::InvalidArgument(why),
                            ));
                        }
                        let text = render(var, r.format, place, false)
                            .map_err(|k| MacroError::new(&sql[j..r.end], base + j, k))?;
                        flush(&mut out, copied, j);
                        out.push_str(&text);
                        copied = r.end;
                        j = r.end;
                        continue;
                    }
                    j += 1;
                }
            }
            i = end;
            continue;
        }
        if !matches!(b[i], b'$' | b'[') {
            i += 1;
            continue;
        }
        let Some(r) = reference_at(sql, i) else {
            i += 1;
            continue;
        };
        let plain = r.format.is_none() && b[i] == b'$' && b.get(i + 1) != Some(&b'{');
        let replacement: Option<(String, usize)> = match r.name {
            "__conditionalAll" | "conditionalTest" if plain && b.get(r.end) == Some(&b'(') => {
                let name = &sql[i..r.end];
                let call = scan::parse_call(b, r.end);
                match call {
                    None => None,
                    Some(call) => {
                        let args: Vec<(usize, usize)> = call.args.clone();
                        let text = |k: usize| &sql[args[k].0..args[k].1];
                        let sub = |k: usize| expand_at(text(k), ctx, interpolate, base + args[k].0);
                        if r.name == "__conditionalAll" {
                            if args.len() != 2 {
                                None
                            } else {
                                let all = variable_arg(text(1))
                                    .and_then(|v| ctx.variables.get(v))
                                    .is_some_and(Variable::is_all_or_empty);
                                Some((if all { "1=1".to_string() } else { sub(0)? }, call.end))
                            }
                        } else {
                            let err = |k| MacroError::new(name, base + i, k);
                            if !(2..=3).contains(&args.len()) {
                                return Err(err(MacroErrorKind::Arity {
                                    expected: super::error::Arity::Range(2, 3),
                                    received: args.len(),
                                }));
                            }
                            let last = args.len() - 1;
                            let var = variable_arg(text(last))
                                .ok_or_else(|| err(MacroErrorKind::NotAVariable))?;
                            // A variable the request does not carry leaves the macro as
                            // written, like any unknown name.
                            let Some(value) = ctx.variables.get(var) else {
                                i = call.end;
                                continue;
                            };
                            let chosen = if value.is_all_or_empty() {
                                if args.len() == 3 {
                                    format!(" {} ", sub(1)?)
                                } else {
                                    " ".into()
                                }
                            } else {
                                format!(" {} ", sub(0)?)
                            };
                            Some((chosen, call.end))
                        }
                    }
                }
            }
            "adhoc" if plain => {
                let text = adhoc_macro(ctx).map_err(|k| MacroError::new("$adhoc", base + i, k))?;
                Some((text, r.end))
            }
            "__adHocFilters" if plain && b.get(r.end) == Some(&b'(') => {
                match scan::parse_call(b, r.end) {
                    Some(call) => {
                        let args: Vec<&str> = call.args.iter().map(|&(s, e)| &sql[s..e]).collect();
                        let text = adhoc_filters_macro(&args, ctx)
                            .map_err(|k| MacroError::new("$__adHocFilters", base + i, k))?;
                        Some((text, call.end))
                    }
                    None => None,
                }
            }
            "__from" | "__to"
                if interpolate && b.get(i + 1) == Some(&b'{') && r.format.is_none() =>
            {
                let r2 = &ctx.time_range;
                let ms = if r.name == "__from" {
                    r2.from_ms()
                } else {
                    r2.to_ms()
                };
                Some((ms.to_string(), r.end))
            }
            name if interpolate => match ctx.variables.get(name) {
                Some(var) => {
                    let altinity_default = ctx.dialect == Dialect::Altinity
                        && r.format.is_none()
                        && !(var.all_selected && var.custom_all_value.is_some());
                    let text = if altinity_default {
                        Ok(altinity_code(var, sql, i, r.end))
                    } else {
                        render(var, r.format, Place::Code, opens_in_list(sql, i))
                    }
                    .map_err(|k| MacroError::new(&sql[i..r.end], base + i, k))?;
                    Some((text, r.end))
                }
                None => None,
            },
            _ => None,
        };
        match replacement {
            Some((text, end)) => {
                flush(&mut out, copied, i);
                out.push_str(&text);
                copied = end;
                i = end;
            }
            None => i = r.end.max(i + 1),
        }
    }
    if copied == 0 {
        return Ok(sql.to_string());
    }
    flush(&mut out, copied, sql.len());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::macros::context::{AltinityOptions, TimeRange};

    fn ctx_with(vars: &[(&str, Variable)]) -> MacroContext {
        MacroContext {
            variables: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            time_range: TimeRange::from_millis(1_000, 2_000),
            ..MacroContext::default()
        }
    }

    fn run(sql: &str, c: &MacroContext) -> String {
        expand(sql, c, true).unwrap()
    }

    #[test]
    fn single_values_stay_raw_only_when_harmless() {
        let c = ctx_with(&[
            ("n", Variable::single("42")),
            ("t", Variable::single("db.logs")),
            ("s", Variable::single("1 OR 1=1")),
        ]);
        assert_eq!(
            run("LIMIT $n FROM $t WHERE x = $s", &c),
            "LIMIT 42 FROM db.logs WHERE x = '1 OR 1=1'"
        );
    }

    #[test]
    fn multi_values_are_quoted_and_escaped() {
        let c = ctx_with(&[("v", Variable::multi(["a'b", r"c\d"]))]);
        assert_eq!(run("x IN ($v)", &c), r"x IN ('a\'b','c\\d')");
        assert_eq!(run("x IN (${v:singlequote})", &c), r"x IN ('a\'b','c\\d')");
        assert_eq!(run("x IN ([[v]])", &c), r"x IN ('a\'b','c\\d')");
    }

    #[test]
    fn inside_a_literal_only_the_content_is_escaped() {
        let c = ctx_with(&[("v", Variable::single("it's */ --"))]);
        assert_eq!(run("x LIKE '%$v%'", &c), r"x LIKE '%it\'s */ --%'");
    }

    #[test]
    fn comments_and_heredocs_are_never_touched() {
        let c = ctx_with(&[("v", Variable::single("*/ DROP"))]);
        assert_eq!(
            run("/* $v */ -- $v\n$q$ $v $q$", &c),
            "/* $v */ -- $v\n$q$ $v $q$"
        );
    }

    #[test]
    fn unknown_names_and_formats() {
        let c = ctx_with(&[("v", Variable::single("a"))]);
        assert_eq!(
            run("$other ${other:csv} $timeFilter", &c),
            "$other ${other:csv} $timeFilter"
        );
        let e = expand("${v:regex}", &c, true).unwrap_err();
        assert_eq!(e.kind, MacroErrorKind::UnsupportedFormat("regex".into()));
    }

    #[test]
    fn empty_selection_renders_an_empty_literal() {
        let c = ctx_with(&[("v", Variable::multi(Vec::<String>::new()))]);
        assert_eq!(run("x IN ($v) AND y = '$v'", &c), "x IN ('') AND y = ''");
    }

    #[test]
    fn conditional_all() {
        let mut all = Variable::multi(["a", "b"]);
        all.all_selected = true;
        let c = ctx_with(&[("v", all), ("w", Variable::multi(["x"]))]);
        assert_eq!(run("$__conditionalAll(c IN ($v), $v)", &c), "1=1");
        assert_eq!(run("$__conditionalAll(c IN ($w), $w)", &c), "c IN ('x')");
        // Not two arguments: the macro stays, only the variable inside is interpolated.
        assert_eq!(
            run("$__conditionalAll(c, d, $w)", &c),
            "$__conditionalAll(c, d, 'x')"
        );
    }

    #[test]
    fn conditional_test_forms_and_errors() {
        let c = ctx_with(&[("v", Variable::single("")), ("w", Variable::single("x"))]);
        assert_eq!(
            run("A $conditionalTest(AND a = $w, $w)B", &c),
            "A  AND a = x B"
        );
        assert_eq!(run("A$conditionalTest(AND a, $v)B", &c), "A B");
        assert_eq!(run("A$conditionalTest(AND a, AND b, $v)B", &c), "A AND b B");
        let e = expand("$conditionalTest(a, b)", &c, true).unwrap_err();
        assert_eq!(e.kind, MacroErrorKind::NotAVariable);
        // A variable the request does not carry: the macro stays as written.
        assert_eq!(
            run("$conditionalTest(a, $nope)", &c),
            "$conditionalTest(a, $nope)"
        );
    }

    #[test]
    fn adhoc_macro_matches_database_and_table() {
        let f = |k: &str, op: &str, v: &str| crate::macros::AdHocFilter {
            key: k.into(),
            operator: op.into(),
            value: v.into(),
            values: Vec::new(),
        };
        let mut c = ctx_with(&[]);
        c.dialect = Dialect::Altinity;
        c.altinity = AltinityOptions {
            database: "db".into(),
            table: "t".into(),
            ..Default::default()
        };
        assert_eq!(run("WHERE $adhoc", &c), "WHERE 1");
        c.ad_hoc_filters = vec![
            f("db.t.a", "=", "x'y"),
            f("other.t.a", "=", "no"),
            f("n", ">", "10"),
            f("m", "=~", "ab%"),
        ];
        assert_eq!(
            run("WHERE $adhoc", &c),
            r"WHERE (a = 'x\'y' AND n > 10 AND m LIKE 'ab%')"
        );
    }

    #[test]
    fn grafana_adhoc_settings() {
        let mut c = ctx_with(&[]);
        assert_eq!(
            run("SETTINGS $__adHocFilters('logs')", &c),
            "SETTINGS additional_table_filters={}"
        );
        c.ad_hoc_filters = vec![crate::macros::AdHocFilter {
            key: "level".into(),
            operator: "!~".into(),
            value: "^d".into(),
            values: Vec::new(),
        }];
        assert_eq!(
            run("SETTINGS $__adHocFilters('logs')", &c),
            r"SETTINGS additional_table_filters={'logs': 'NOT match(level, \'^d\')'}"
        );
    }

    #[test]
    fn ad_hoc_macros_are_found_in_code_only() {
        assert!(uses_ad_hoc_macro("SELECT 1 WHERE $adhoc"));
        assert!(uses_ad_hoc_macro("SELECT 1 SETTINGS $__adHocFilters('t')"));
        for sql in [
            "SELECT '$adhoc'",
            "SELECT 1 -- $adhoc",
            "SELECT 1 /* $__adHocFilters('t') */",
            "SELECT $adhocs",
            "SELECT 1",
        ] {
            assert!(!uses_ad_hoc_macro(sql), "{sql}");
        }
    }

    #[test]
    fn multi_value_adhoc_operators_are_one_of_and_none_of() {
        let f = |op: &str, values: &[&str]| crate::macros::AdHocFilter {
            key: "SeverityText".into(),
            operator: op.into(),
            value: String::new(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        let mut c = ctx_with(&[]);
        c.ad_hoc_filters = vec![f("=|", &["ERROR", "it's"]), f("!=|", &["DEBUG"])];
        assert_eq!(
            run("SETTINGS $__adHocFilters('logs')", &c),
            r"SETTINGS additional_table_filters={'logs': 'SeverityText IN (\'ERROR\', \'it\\\'s\') AND SeverityText NOT IN (\'DEBUG\')'}"
        );
    }

    #[test]
    fn altinity_model_formats_variables_by_position_and_flags() {
        let mut flagged = Variable::single("abc");
        flagged.flags_known = true;
        let mut c = ctx_with(&[
            ("textbox", Variable::single("abc")),
            ("num", Variable::single("123")),
            ("flagged", flagged),
            ("list", Variable::multi(["a", "b'c"])),
            ("one", Variable::multi(["x"])),
            ("evil", Variable::single("t; DROP")),
        ]);
        c.dialect = Dialect::Altinity;
        let cases = [
            // A variable without flags (textbox, constant) is quoted unless it is a number.
            ("x = $textbox", "x = 'abc'"),
            ("x = $num", "x = 123"),
            // Both flags false: raw when plain.
            ("x = $flagged", "x = abc"),
            // Next to a dot or where a table name stands: raw when plain, else a literal.
            ("FROM db.$textbox", "FROM db.abc"),
            ("FROM $textbox", "FROM abc"),
            ("JOIN $evil", "JOIN 't; DROP'"),
            // Several values: a value list, or an array literal elsewhere.
            ("x IN ($list)", r"x IN ('a','b\'c')"),
            ("x IN [$list]", r"x IN ['a','b\'c']"),
            ("hasAny(tags, $list)", r"hasAny(tags, ['a', 'b\'c'])"),
            // One value of a multi-value variable is always a literal.
            ("x = $one", "x = 'x'"),
        ];
        for (sql, want) in cases {
            assert_eq!(run(sql, &c), want, "{sql}");
        }
        // The grafana model keeps its own rules.
        c.dialect = Dialect::Grafana;
        assert_eq!(run("x = $textbox", &c), "x = abc");
    }

    #[test]
    fn grafana_time_variables() {
        let c = ctx_with(&[]);
        assert_eq!(run("${__from} ${__to}", &c), "1000 2000");
    }
}
