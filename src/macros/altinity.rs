//! The `$name` family of `Altinity/clickhouse-grafana` (anchors.md 5 and 6).
//!
//! The anchor expands in a fixed pipeline and this module keeps its order, because the outputs of
//! early steps contain macros for later ones:
//!
//! 1. **One statement macro** (`$columns`, `$rate`, `$perSecondColumnsAggregated`, `$lttb`, …),
//!    the first present in the anchor's priority order. It replaces the macro and its arguments
//!    with a `SELECT …` whose text still contains `$timeSeries`/`$timeFilter`; the user's tail
//!    (`fromQuery`) is kept. Arguments are re-spaced token by token as the anchor's scanner
//!    prints them (`f(a,b)` → `f(a, b)`), see [`respace`].
//! 2. `skip_comments`: `--` and `/* */` comments are removed (quote-aware, see below).
//! 3. `add_metadata`: a `/* grafana dashboard=…, user=… */` line is prepended.
//! 4. **Simple macros** in one scan: `$unescape(…)`, `$timeSeries`, `$timeFilter`, `$table`,
//!    `$from`, … and the `$timeFilterByColumn(c)` family. Each is rendered to final SQL directly
//!    (the anchor gets there by running regex replacements in an order where earlier outputs
//!    contain later macros; composing up front yields the same text).
//!
//! Compatibility decisions, all deliberate:
//!
//! * **Every `where` is rewritten.** The anchor injects the time filter by replacing *every*
//!   case-insensitive `where` word in the statement macro's tail with `WHERE $timeFilter AND`,
//!   including those of subqueries (`Altinity/clickhouse-grafana#319`: doubled filters). Kept,
//!   because saved dashboards return the rows they returned before; it only narrows results.
//!   Words inside strings, quoted identifiers and comments are not touched (the anchor's regex
//!   would rewrite those too).
//! * Identifiers follow the anchor's escaping: `$table` parts are raw when they match
//!   `^[$a-zA-Z][0-9a-zA-Z_]+$`, else backtick-quoted; `$dateCol`/`$dateTimeCol` are raw when they
//!   match `^[a-zA-Z][0-9a-zA-Z_]+$` (two characters minimum) or look like an expression, else
//!   double-quoted.
//! * Comment stripping is lexer-aware: the anchor's regexes also delete `/* … */` inside string
//!   literals and keep `--` comments containing an odd number of quotes; we do neither.
//!   Unterminated `/*` is kept, as in the anchor.
//! * Macros never fire inside strings, quoted identifiers or comments.
//! * `$naturalTimeSeries` picks calendar buckets by range length with our own thresholds (raw up
//!   to 1 h, minute to 6 h, 5 minutes to 1 day, 15 minutes to 2 days, hour to 14 days, day to
//!   120 days, week to 1 year, month to 5 years, quarter beyond); the three-year case of the
//!   anchor's tests (month) holds.

use std::fmt::Write;

use super::catalog;
use super::catalog::{Expander, Family};
use super::context::{DateTimeType, MacroContext};
use super::error::{MacroError, MacroErrorKind};
use super::scan;
use crate::sql;

/// The numbers every Altinity macro is computed from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Env {
    /// `$from`/`$to`: Unix seconds rounded down to `round`.
    pub(crate) from_s: i64,
    pub(crate) to_s: i64,
    /// `$__from`/`$__to`: Unix milliseconds, not rounded.
    pub(crate) from_ms: i64,
    pub(crate) to_ms: i64,
    /// `$interval` (seconds, ≥ 1) and `$__interval_ms` (≥ 1), both times `intervalFactor`.
    pub(crate) interval_s: i64,
    pub(crate) interval_ms: i64,
    /// The rounding step in seconds (0 = none).
    pub(crate) round_s: i64,
}

/// Parses an Altinity interval (`30s`, `100ms`, `5m`, `1h`, `1d`, `1w`, `1M` = 30 d, `1y` = 365
/// d) into milliseconds.
pub(crate) fn parse_interval_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let scale = match unit.trim() {
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3600e3,
        "d" => 86_400e3,
        "w" => 7.0 * 86_400e3,
        "M" => 30.0 * 86_400e3,
        "y" => 365.0 * 86_400e3,
        _ => return None,
    };
    let ms = (n * scale).round();
    // `as` saturates (and maps NaN to 0); callers clamp further.
    ms.is_finite().then_some(ms as i64)
}

/// Upper bound of every interval and rounding step (about 317 years in ms): request numbers and
/// saved options are clamped to it, so no product below can overflow.
const MAX_STEP_MS: i64 = 10_000_000_000_000;
/// Upper bound of `intervalFactor` (the anchor's editor offers 1–10).
const MAX_INTERVAL_FACTOR: i64 = 1_000;

impl Env {
    pub(crate) fn new(ctx: &MacroContext) -> Self {
        let o = &ctx.altinity;
        let r = &ctx.time_range;
        let factor = i64::from(o.interval_factor).clamp(1, MAX_INTERVAL_FACTOR);
        let base_ms = parse_interval_ms(&o.interval)
            .filter(|ms| *ms > 0)
            .or_else(|| i64::try_from(ctx.interval_ms).ok().filter(|ms| *ms > 0))
            .unwrap_or_else(|| {
                let points = match ctx.max_data_points {
                    0 => 100,
                    n => i64::try_from(n).unwrap_or(i64::MAX),
                };
                r.to_ms().saturating_sub(r.from_ms()) / points
            })
            .clamp(1, MAX_STEP_MS);
        let interval_s = (base_ms / 1000).max(1) * factor;
        let interval_ms = base_ms * factor;
        let round_s = match o.round.trim() {
            "$step" => interval_s,
            "" => 0,
            other => {
                parse_interval_ms(other).map_or(0, |ms| (ms.clamp(0, MAX_STEP_MS) + 999) / 1000)
            }
        };
        let round = |t: i64| {
            if round_s > 0 {
                t.div_euclid(round_s) * round_s
            } else {
                t
            }
        };
        Self {
            from_s: round(r.from_s()),
            to_s: round(r.to_s()),
            from_ms: r.from_ms(),
            to_ms: r.to_ms(),
            interval_s,
            interval_ms,
            round_s,
        }
    }
}

/// `$table` part escaping: raw when `^[$a-zA-Z][0-9a-zA-Z_]+$`, else a backtick identifier.
pub(crate) fn escape_table_part(s: &str) -> String {
    let b = s.as_bytes();
    let plain = b.len() >= 2
        && (b[0] == b'$' || b[0].is_ascii_alphabetic())
        && b[1..].iter().all(|&c| scan::is_ident_byte(c));
    if plain {
        s.to_string()
    } else {
        sql::identifier(s)
    }
}

/// `$dateCol`/`$dateTimeCol` escaping: raw when a plain identifier of two or more characters or
/// an expression (contains `(…)` or one of `/*+-`), else a double-quoted identifier.
pub(crate) fn escape_column(s: &str) -> String {
    let b = s.as_bytes();
    let plain = b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[1..].iter().all(|&c| scan::is_ident_byte(c));
    let expression = (s.contains('(') && s.contains(')')) || s.contains(['/', '*', '+', '-']);
    if plain || expression {
        s.to_string()
    } else {
        sql::double_quoted_identifier(s)
    }
}

/// The `$table` text: `db.table` or `table`.
fn table_text(ctx: &MacroContext) -> String {
    let o = &ctx.altinity;
    if o.database.is_empty() {
        escape_table_part(&o.table)
    } else {
        format!(
            "{}.{}",
            escape_table_part(&o.database),
            escape_table_part(&o.table)
        )
    }
}

/// A second-resolution bound rendered for the time column's type.
fn bound_s(tt: DateTimeType, t: i64) -> String {
    match tt {
        DateTimeType::DateTime => format!("toDateTime({t})"),
        DateTimeType::DateTime64 => format!("toDateTime64({t},3)"),
        DateTimeType::Timestamp | DateTimeType::Float => t.to_string(),
        DateTimeType::Timestamp64Ms => format!("1000*{t}"),
        DateTimeType::Timestamp64Us => format!("1000000*{t}"),
        DateTimeType::Timestamp64Ns => format!("1000000000*{t}"),
    }
}

/// A millisecond bound rendered for the time column's type (`$timeFilterMs`; `by_column` is the
/// `$timeFilter64ByColumn` flavour, which leaves FLOAT without `toFloat64`).
fn bound_ms(tt: DateTimeType, ms: i64, by_column: bool) -> String {
    match tt {
        DateTimeType::DateTime => format!("toDateTime({ms}/1000)"),
        DateTimeType::DateTime64 => format!("toDateTime64({ms}/1000,3)"),
        DateTimeType::Timestamp => format!("{ms}/1000"),
        DateTimeType::Float if by_column => format!("{ms}/1000"),
        DateTimeType::Float => format!("toFloat64({ms}/1000)"),
        DateTimeType::Timestamp64Ms => ms.to_string(),
        DateTimeType::Timestamp64Us => format!("1000*{ms}"),
        DateTimeType::Timestamp64Ns => format!("1000000*{ms}"),
    }
}

fn date_time_col(ctx: &MacroContext) -> String {
    escape_column(&ctx.altinity.date_time_column)
}

pub(crate) fn time_filter(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    let e = Env::new(ctx);
    let tt = ctx.altinity.date_time_type;
    Ok(time_filter_with(
        ctx,
        &e,
        bound_s(tt, e.from_s),
        bound_s(tt, e.to_s),
    ))
}

pub(crate) fn time_filter_ms(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    let e = Env::new(ctx);
    let tt = ctx.altinity.date_time_type;
    Ok(time_filter_with(
        ctx,
        &e,
        bound_ms(tt, e.from_ms, false),
        bound_ms(tt, e.to_ms, false),
    ))
}

/// `$timeFilter` / `$timeFilterMs`: the optional date-column range, then the time column between
/// `from` and `to` (already rendered for the column's type and precision).
fn time_filter_with(ctx: &MacroContext, e: &Env, from: String, to: String) -> String {
    let col = date_time_col(ctx);
    let mut out = String::new();
    if !ctx.altinity.date_column.is_empty() {
        let d = escape_column(&ctx.altinity.date_column);
        let _ = write!(
            out,
            "{d} >= toDate({}) AND {d} <= toDate({}) AND ",
            e.from_s, e.to_s
        );
    }
    let _ = write!(out, "{col} >= {from} AND {col} <= {to}");
    out
}

pub(crate) fn time_filter_by_column(
    a: &[&str],
    ctx: &MacroContext,
) -> Result<String, MacroErrorKind> {
    let e = Env::new(ctx);
    // The rounded range widened by 2·round − 1 s on each side, so rows near the rounded edges
    // are still included (anchors.md 5).
    let pad = if e.round_s > 0 { 2 * e.round_s - 1 } else { 0 };
    let (from, to) = (e.from_s - pad, e.to_s + pad);
    let c = a[0];
    Ok(match ctx.altinity.date_time_type {
        DateTimeType::DateTime64 => {
            // Millisecond bounds: the unrounded ones when there is no rounding.
            let (f, t) = if pad > 0 {
                (from * 1000, to * 1000)
            } else {
                (e.from_ms, e.to_ms)
            };
            format!("{c} >= toDateTime64({f}/1000,3) AND {c} <= toDateTime64({t}/1000,3)")
        }
        tt => format!(
            "{c} >= {} AND {c} <= {}",
            bound_s(tt, from),
            bound_s(tt, to)
        ),
    })
}

pub(crate) fn time_filter64_by_column(
    a: &[&str],
    ctx: &MacroContext,
) -> Result<String, MacroErrorKind> {
    let e = Env::new(ctx);
    let tt = ctx.altinity.date_time_type;
    let c = a[0];
    Ok(format!(
        "{c} >= {} AND {c} <= {}",
        bound_ms(tt, e.from_ms, true),
        bound_ms(tt, e.to_ms, true)
    ))
}

pub(crate) fn time_series(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    let i = Env::new(ctx).interval_s;
    let c = date_time_col(ctx);
    Ok(match ctx.altinity.date_time_type {
        DateTimeType::DateTime => format!("(intDiv(toUInt32({c}), {i}) * {i}) * 1000"),
        DateTimeType::DateTime64 => {
            format!("(intDiv(toFloat64({c}) * 1000, ({i} * 1000)) * ({i} * 1000))")
        }
        DateTimeType::Timestamp => format!("(intDiv({c}, {i}) * {i}) * 1000"),
        DateTimeType::Float => format!("(intDiv({c} * 1000, ({i} * 1000)) * ({i} * 1000))"),
        DateTimeType::Timestamp64Ms => format!("(intDiv({c}, ({i} * 1000)) * ({i} * 1000))"),
        DateTimeType::Timestamp64Us => {
            format!("(intDiv({c} / 1000, ({i} * 1000)) * ({i} * 1000))")
        }
        DateTimeType::Timestamp64Ns => {
            format!("(intDiv({c} / 1000000, ({i} * 1000)) * ({i} * 1000))")
        }
    })
}

pub(crate) fn time_series_ms(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    let m = Env::new(ctx).interval_ms;
    let c = date_time_col(ctx);
    Ok(match ctx.altinity.date_time_type {
        DateTimeType::DateTime => format!("(intDiv(toUInt32({c}) * 1000, {m}) * {m})"),
        DateTimeType::DateTime64 => format!("(intDiv(toFloat64({c}) * 1000, {m}) * {m})"),
        DateTimeType::Timestamp | DateTimeType::Float => {
            format!("(intDiv({c} * 1000, {m}) * {m})")
        }
        DateTimeType::Timestamp64Ms => format!("(intDiv({c}, {m}) * {m})"),
        DateTimeType::Timestamp64Us => format!("(intDiv({c} / 1000, {m}) * {m})"),
        DateTimeType::Timestamp64Ns => format!("(intDiv({c} / 1000000, {m}) * {m})"),
    })
}

pub(crate) fn natural_time_series(
    a: &[&str],
    ctx: &MacroContext,
) -> Result<String, MacroErrorKind> {
    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;
    let e = Env::new(ctx);
    let range = e.to_ms / 1000 - e.from_ms / 1000;
    let func = match range {
        r if r <= HOUR => return time_series(a, ctx),
        r if r <= 6 * HOUR => "toStartOfMinute",
        r if r <= DAY => "toStartOfFiveMinute",
        r if r <= 2 * DAY => "toStartOfFifteenMinutes",
        r if r <= 14 * DAY => "toStartOfHour",
        r if r <= 120 * DAY => "toStartOfDay",
        r if r <= 365 * DAY => "toMonday",
        r if r <= 5 * 365 * DAY => "toStartOfMonth",
        _ => "toStartOfQuarter",
    };
    let c = date_time_col(ctx);
    let as_datetime = match ctx.altinity.date_time_type {
        DateTimeType::DateTime | DateTimeType::DateTime64 => c,
        DateTimeType::Timestamp | DateTimeType::Float => format!("toDateTime({c})"),
        DateTimeType::Timestamp64Ms => format!("toDateTime(intDiv({c}, 1000))"),
        DateTimeType::Timestamp64Us => format!("toDateTime(intDiv({c}, 1000000))"),
        DateTimeType::Timestamp64Ns => format!("toDateTime(intDiv({c}, 1000000000))"),
    };
    Ok(format!(
        "toUInt32(toDateTime({func}({as_datetime}))) * 1000"
    ))
}

pub(crate) fn table(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(table_text(ctx))
}

pub(crate) fn date_col(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(escape_column(&ctx.altinity.date_column))
}

pub(crate) fn date_time_col_macro(
    _: &[&str],
    ctx: &MacroContext,
) -> Result<String, MacroErrorKind> {
    Ok(date_time_col(ctx))
}

pub(crate) fn from(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(Env::new(ctx).from_s.to_string())
}

pub(crate) fn to(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(Env::new(ctx).to_s.to_string())
}

pub(crate) fn from_ms(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(Env::new(ctx).from_ms.to_string())
}

pub(crate) fn to_ms(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(Env::new(ctx).to_ms.to_string())
}

pub(crate) fn interval(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(Env::new(ctx).interval_s.to_string())
}

pub(crate) fn interval_ms(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(Env::new(ctx).interval_ms.to_string())
}

pub(crate) fn unescape(a: &[&str], _: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(a[0].replace('\'', ""))
}

// ---------------------------------------------------------------------------------------------
// Re-spacing
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tok {
    Word,
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Comma,
    Bang,
    Op,
    Comment,
}

/// Re-prints an expression the way the anchor's scanner does: tokens separated by one space,
/// except after `(`/`[`, before `)`/`]`/`,`, between a word or `)` and the `(` that follows it,
/// and after a unary `!`; a comment is glued to what precedes it and ends the line. Strings,
/// quoted identifiers and comments are copied as they are.
pub(crate) fn respace(expr: &str) -> String {
    let b = expr.as_bytes();
    let mut out = String::with_capacity(expr.len() + 8);
    let mut prev: Option<Tok> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let (tok, end) = if let Some((region, end)) = scan::opaque_at(b, i) {
            match region {
                scan::Region::LineComment | scan::Region::BlockComment => (Tok::Comment, end),
                _ => (Tok::Word, end),
            }
        } else {
            match c {
                b'(' => (Tok::Open, i + 1),
                b')' => (Tok::Close, i + 1),
                b'[' => (Tok::OpenBracket, i + 1),
                b']' => (Tok::CloseBracket, i + 1),
                b',' => (Tok::Comma, i + 1),
                b'!' if b.get(i + 1) != Some(&b'=') => (Tok::Bang, i + 1),
                b'$' | b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                    let mut j = i + 1 + scan::ident_len(b, i + 1);
                    // `a.b` is one word, `$ns.8090` is not (the anchor's lexer splits it).
                    while c != b'$'
                        && b.get(j) == Some(&b'.')
                        && b.get(j + 1).is_some_and(|&n| scan::is_ident_byte(n))
                    {
                        j += 1 + scan::ident_len(b, j + 1);
                    }
                    (Tok::Word, j)
                }
                b'0'..=b'9' | b'.' => {
                    let n = b[i..]
                        .iter()
                        .take_while(|&&d| scan::is_ident_byte(d) || d == b'.')
                        .count();
                    (Tok::Word, i + n.max(1))
                }
                _ => {
                    let two = b.get(i..i + 2).unwrap_or_default();
                    let len = match two {
                        b"<>" | b"<=" | b">=" | b"!=" | b"==" | b"||" | b"->" | b"::" => 2,
                        _ => expr[i..].chars().next().map_or(1, char::len_utf8),
                    };
                    (Tok::Op, i + len)
                }
            }
        };
        let glue = matches!(
            (prev, tok),
            (None, _)
                | (
                    _,
                    Tok::Comment | Tok::Close | Tok::CloseBracket | Tok::Comma
                )
                | (Some(Tok::Open | Tok::OpenBracket | Tok::Bang), _)
                | (Some(Tok::Word | Tok::Close), Tok::Open)
                | (
                    Some(Tok::Word | Tok::Close | Tok::CloseBracket),
                    Tok::OpenBracket
                )
        );
        if !glue {
            out.push(' ');
        }
        out.push_str(&expr[i..end]);
        if tok == Tok::Comment {
            out.push('\n');
        }
        prev = Some(tok);
        i = end;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Statement macros
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Columns,
    Rate,
    PerSecond,
    Delta,
    Increase,
    RateColumns,
    PerSecondColumns,
    DeltaColumns,
    IncreaseColumns,
    RateAgg,
    PerSecondAgg,
    DeltaAgg,
    IncreaseAgg,
    Lttb,
}

/// Statement macros in the anchor's priority order (the first present wins), with whether the
/// millisecond variants (`$timeSeriesMs`/`$timeFilterMs`) apply.
const STATEMENTS: [(&str, Kind, bool); 16] = [
    ("$rateColumnsAggregated", Kind::RateAgg, false),
    ("$perSecondColumnsAggregated", Kind::PerSecondAgg, false),
    ("$increaseColumnsAggregated", Kind::IncreaseAgg, false),
    ("$deltaColumnsAggregated", Kind::DeltaAgg, false),
    ("$rateColumns", Kind::RateColumns, false),
    ("$perSecondColumns", Kind::PerSecondColumns, false),
    ("$deltaColumns", Kind::DeltaColumns, false),
    ("$increaseColumns", Kind::IncreaseColumns, false),
    ("$columnsMs", Kind::Columns, true),
    ("$columns", Kind::Columns, false),
    ("$rate", Kind::Rate, false),
    ("$perSecond", Kind::PerSecond, false),
    ("$delta", Kind::Delta, false),
    ("$increase", Kind::Increase, false),
    ("$lttbMs", Kind::Lttb, true),
    ("$lttb", Kind::Lttb, false),
];

/// The alias of a re-spaced argument: the text after its last top-level space, or the whole
/// argument (`count(*) c` → `c`, `x AS y` → `y`, `from_OSName` → itself).
fn alias_of(arg: &str) -> &str {
    let b = arg.as_bytes();
    let mut depth = 0usize;
    let mut last = None;
    let mut i = 0;
    while i < b.len() {
        if let Some((_, end)) = scan::opaque_at(b, i) {
            i = end;
            continue;
        }
        match b[i] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth = depth.saturating_sub(1),
            c if c.is_ascii_whitespace() && depth == 0 => last = Some(i),
            _ => {}
        }
        i += 1;
    }
    last.map_or(arg, |p| arg[p + 1..].trim())
}

/// The expression part of `expr [AS] alias` (the argument without its alias).
fn expr_of(arg: &str) -> &str {
    let alias = alias_of(arg);
    if alias.len() == arg.len() {
        return arg;
    }
    let head = arg[..arg.len() - alias.len()].trim_end();
    match head.len().checked_sub(3) {
        Some(p) if head[p..].eq_ignore_ascii_case(" as") => head[..p].trim_end(),
        _ => head,
    }
}

/// Rewrites `where` words of `from_query` into `WHERE $timeFilter AND`, or appends
/// `WHERE $timeFilter` to the FROM clause when there is none (see the module doc).
fn inject_time_filter(from_query: &str, filter: &str) -> String {
    let b = from_query.as_bytes();
    let mut out = String::with_capacity(from_query.len() + 64);
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if let Some((_, end)) = scan::opaque_at(b, i) {
            i = end;
            continue;
        }
        if b[i].is_ascii_alphabetic() && (i == 0 || !scan::is_ident_byte(b[i - 1])) {
            if let Some(end) = scan::match_words(b, i, "where") {
                out.push_str(&from_query[copied..i]);
                let _ = write!(out, "WHERE {filter} AND");
                copied = end;
                i = end;
                continue;
            }
            i += scan::ident_len(b, i);
            continue;
        }
        i += 1;
    }
    if copied > 0 {
        out.push_str(&from_query[copied..]);
        return out;
    }
    let stops = scan::top_level_words(
        b,
        0,
        &[
            "group by",
            "having",
            "order by",
            "limit",
            "settings",
            "format",
            "union all",
        ],
    );
    let at = stops.first().map_or(from_query.trim_end().len(), |s| s.0);
    let head = from_query[..at].trim_end();
    format!("{head} WHERE {filter} {}", &from_query[at..])
        .trim_end()
        .to_string()
}

/// `fromQuery` split into `FROM … WHERE …` and the clauses the macros re-arrange.
struct Tail<'a> {
    from_where: &'a str,
    group_by: Option<&'a str>,
    having: Option<&'a str>,
    order_by: Option<&'a str>,
    rest: &'a str,
}

fn split_tail(q: &str) -> Tail<'_> {
    let b = q.as_bytes();
    let hits = scan::top_level_words(
        b,
        0,
        &[
            "group by", "having", "order by", "limit", "settings", "format",
        ],
    );
    let first = hits.first().map_or(q.len(), |h| h.0);
    let mut t = Tail {
        from_where: q[..first].trim(),
        group_by: None,
        having: None,
        order_by: None,
        rest: "",
    };
    for (n, &(pos, k, _)) in hits.iter().enumerate() {
        let stop = hits.get(n + 1).map_or(q.len(), |h| h.0);
        let seg = q[pos..stop].trim();
        match k {
            0 => t.group_by = Some(seg),
            1 => t.having = Some(seg),
            2 => t.order_by = Some(seg),
            _ => {
                t.rest = q[pos..].trim();
                break;
            }
        }
    }
    t
}

/// `" <seg>"` or nothing.
fn opt(seg: Option<&str>) -> String {
    seg.map(|s| format!(" {s}")).unwrap_or_default()
}

fn statement_error(name: &str, pos: usize, kind: MacroErrorKind) -> MacroError {
    MacroError::new(name, pos, kind)
}

/// Step 1: rewrites the highest-priority statement macro present. `Ok(None)` when none is.
pub(crate) fn expand_statement(
    sql: &str,
    ctx: &MacroContext,
) -> Result<Option<String>, MacroError> {
    let b = sql.as_bytes();
    let mut best: Option<(usize, usize)> = None; // (priority, offset)
    let mut i = 0;
    while i < b.len() {
        if let Some((_, end)) = scan::opaque_at(b, i) {
            i = end;
            continue;
        }
        if b[i] == b'$' {
            let end = i + 1 + scan::ident_len(b, i + 1);
            let name = &sql[i..end];
            if let Some(p) = STATEMENTS.iter().position(|s| s.0 == name)
                && best.is_none_or(|(bp, _)| p < bp)
            {
                best = Some((p, i));
            }
            i = end.max(i + 1);
            continue;
        }
        i += 1;
    }
    let Some((p, pos)) = best else {
        return Ok(None);
    };
    let (name, kind, ms) = STATEMENTS[p];
    let open = scan::skip_ws(b, pos + name.len());
    if b.get(open) != Some(&b'(') {
        return Err(statement_error(name, pos, MacroErrorKind::MissingArguments));
    }
    let call = scan::parse_call(b, open)
        .ok_or_else(|| statement_error(name, pos, MacroErrorKind::MissingArguments))?;
    let args: Vec<String> = call
        .args
        .iter()
        .map(|&(s, e)| respace(&sql[s..e]))
        .collect();
    let from_query = &sql[call.end..];
    let (series, filter) = if ms {
        ("$timeSeriesMs", "$timeFilterMs")
    } else {
        ("$timeSeries", "$timeFilter")
    };
    let body = build(kind, name, ms, &args, from_query, series, filter, ctx)
        .map_err(|k| statement_error(name, pos, k))?;
    let mut out = String::with_capacity(sql.len() + body.len());
    out.push_str(&sql[..pos]);
    out.push_str(&body);
    Ok(Some(out))
}

fn need(args: &[String], n: usize, exact: bool) -> Result<(), MacroErrorKind> {
    let ok = if exact {
        args.len() == n
    } else {
        args.len() >= n
    };
    if ok {
        return Ok(());
    }
    let expected = if exact {
        super::error::Arity::Exactly(n as u8)
    } else {
        super::error::Arity::AtLeast(n as u8)
    };
    Err(MacroErrorKind::Arity {
        expected,
        received: args.len(),
    })
}

#[allow(clippy::too_many_arguments)]
fn build(
    kind: Kind,
    name: &str,
    ms: bool,
    args: &[String],
    from_query: &str,
    series: &str,
    filter: &str,
    ctx: &MacroContext,
) -> Result<String, MacroErrorKind> {
    let win = ctx.altinity.use_window_functions;
    let injected = inject_time_filter(from_query, filter);
    let tail = split_tail(&injected);
    let group = |default: &str| {
        tail.group_by
            .map_or_else(|| default.to_string(), str::to_string)
    };
    let order = |default: &str| {
        tail.order_by
            .map_or_else(|| default.to_string(), str::to_string)
    };
    let having = opt(tail.having);
    let rest = opt((!tail.rest.is_empty()).then_some(tail.rest));
    let fw = tail.from_where;
    let out = match kind {
        Kind::Columns | Kind::RateColumns => {
            need(args, 2, true)?;
            let (k, v) = (alias_of(&args[0]), alias_of(&args[1]));
            let inner = format!(
                "SELECT t, groupArray(({k}, {v})) AS groupArr FROM ( SELECT {series} AS t, {}, {} \
                 {fw} {}{having} {}{rest}) GROUP BY t ORDER BY t",
                args[0],
                args[1],
                group(&format!("GROUP BY t, {k}")),
                order(&format!("ORDER BY t, {k}")),
            );
            if kind == Kind::Columns {
                inner
            } else {
                let dt = if win {
                    "(t/1000 - lagInFrame(t/1000,1,0) OVER ())"
                } else {
                    "runningDifference( t/1000 )"
                };
                format!("SELECT t, arrayMap(a -> (a.1, a.2/{dt}), groupArr) FROM ({inner})")
            }
        }
        Kind::Rate => {
            need(args, 1, false)?;
            let dt = if win {
                "((t - lagInFrame(t,1,0) OVER ())/1000)"
            } else {
                "runningDifference(t/1000)"
            };
            let cols: Vec<String> = args
                .iter()
                .map(|a| {
                    let al = alias_of(a);
                    format!("{al}/{dt} {al}Rate")
                })
                .collect();
            format!(
                "SELECT t, {} FROM ( SELECT {series} AS t, {} {fw} {}{having} {}{rest})",
                cols.join(", "),
                args.join(", "),
                group("GROUP BY t"),
                order("ORDER BY t"),
            )
        }
        Kind::PerSecond | Kind::Delta | Kind::Increase => {
            need(args, 1, false)?;
            let mut outer = Vec::new();
            let mut inner = Vec::new();
            for (n, a) in args.iter().enumerate() {
                let m = format!("max_{n}");
                inner.push(format!("max({a}) AS {m}"));
                let lag = format!("{m} - lagInFrame({m},1,0) OVER ()");
                outer.push(match (kind, win) {
                    (Kind::PerSecond, false) => format!(
                        "if(runningDifference({m}) < 0, nan, runningDifference({m}) / runningDifference(t/1000)) AS {m}_PerSecond"
                    ),
                    (Kind::PerSecond, true) => format!(
                        "if({lag} < 0, nan, ({lag}) / ((t - lagInFrame(t,1,0) OVER ())/1000) ) AS {m}_PerSecond"
                    ),
                    (Kind::Delta, false) => format!("runningDifference({m}) AS {m}_Delta"),
                    (Kind::Delta, true) => format!("{lag} AS {m}_Delta"),
                    (_, false) => format!(
                        "if(runningDifference({m}) < 0, 0, runningDifference({m})) AS {m}_Increase"
                    ),
                    (_, true) => format!("if(({lag}) < 0, 0, {lag}) AS {m}_Increase"),
                });
            }
            format!(
                "SELECT t, {} FROM ( SELECT {series} AS t, {} {fw} {}{having} {}{rest})",
                outer.join(", "),
                inner.join(", "),
                group("GROUP BY t"),
                order("ORDER BY t"),
            )
        }
        Kind::PerSecondColumns | Kind::DeltaColumns | Kind::IncreaseColumns => {
            need(args, 2, true)?;
            // The anchor aliases a bare key after the macro (`Name AS perSecondColumns`).
            let key = if alias_of(&args[0]).len() == args[0].len() {
                format!("{} AS {}", args[0], &name[1..])
            } else {
                args[0].clone()
            };
            let k = alias_of(&key);
            let m = "max_0";
            let lag = format!("{m} - lagInFrame({m},1,0) OVER ()");
            let changed = if win {
                format!("lagInFrame({k},1,{k}) OVER () != {k}")
            } else {
                format!("neighbor({k},-1,{k}) != {k}")
            };
            let (diff, dt) = if win {
                (
                    format!("({lag})"),
                    "(t/1000 - lagInFrame(t/1000,1,0) OVER ())".to_string(),
                )
            } else {
                (
                    format!("runningDifference({m})"),
                    "runningDifference(t/1000)".to_string(),
                )
            };
            let reset = if win {
                format!("({lag}) < 0")
            } else {
                format!("runningDifference({m}) < 0")
            };
            let plain_diff = if win { lag.clone() } else { diff.clone() };
            let (expr, suffix) = match kind {
                Kind::PerSecondColumns => (
                    format!("if({reset} OR {changed}, nan, {diff} / {dt})"),
                    "PerSecond",
                ),
                Kind::DeltaColumns => (format!("if({changed}, 0, {plain_diff})"), "Delta"),
                _ => (
                    format!("if({reset} OR {changed}, 0, {plain_diff})"),
                    "Increase",
                ),
            };
            format!(
                "SELECT t, groupArray(({k}, {m}_{suffix})) AS groupArr FROM ( SELECT t, {k}, {expr} AS \
                 {m}_{suffix} FROM ( SELECT {series} AS t, {}, max({}) AS {m} {fw} {}{having} {}{rest})) \
                 GROUP BY t ORDER BY t",
                key,
                args[1],
                group(&format!("GROUP BY t, {k}")),
                order(&format!("ORDER BY {k}, t")),
            )
        }
        Kind::RateAgg | Kind::PerSecondAgg | Kind::DeltaAgg | Kind::IncreaseAgg => {
            if args.len() < 4 || !args.len().is_multiple_of(2) {
                return Err(MacroErrorKind::InvalidArgument(
                    "expects key, subkey, then pairs of aggregate function and value".into(),
                ));
            }
            let (key, sub) = (alias_of(&args[0]), alias_of(&args[1]));
            let suffix = match kind {
                Kind::RateAgg => "Rate",
                Kind::PerSecondAgg => "PerSecond",
                Kind::DeltaAgg => "Delta",
                _ => "Increase",
            };
            let mut outer = Vec::new();
            let mut middle = Vec::new();
            let mut inner = Vec::new();
            for pair in args[2..].chunks(2) {
                let (agg, value) = (&pair[0], &pair[1]);
                let v = alias_of(value);
                let e = expr_of(value);
                let max = if e.len() > 4 && e[..4].eq_ignore_ascii_case("max(") {
                    e.to_string()
                } else {
                    format!("max({e})")
                };
                inner.push(format!("{max} AS {v}"));
                outer.push(format!("{agg}({v}{suffix}) AS {v}{suffix}Agg"));
                let lag = format!("{v} - lagInFrame({v},1,0) OVER ()");
                let dt = if win {
                    "(t/1000 - lagInFrame(t/1000,1,0) OVER ())"
                } else {
                    "runningDifference(t / 1000)"
                };
                let changed = if win {
                    format!("lagInFrame({sub},1,{sub}) OVER () != {sub}")
                } else {
                    format!("neighbor({sub},-1,{sub}) != {sub}")
                };
                let (diff, reset) = if win {
                    (format!("({lag})"), format!("({lag}) < 0"))
                } else {
                    (
                        format!("runningDifference({v})"),
                        format!("runningDifference({v}) < 0"),
                    )
                };
                let expr = match kind {
                    Kind::RateAgg => format!("{v} / {dt}"),
                    Kind::PerSecondAgg => {
                        format!("if({reset} OR {changed}, nan, {diff} / {dt})")
                    }
                    Kind::IncreaseAgg => format!("if({reset} OR {changed}, nan, {diff} / 1)"),
                    // The anchor divides by 1 in the non-window form only.
                    _ if win => format!("if({changed}, 0, {lag})"),
                    _ => format!("if({changed}, 0, {diff} / 1)"),
                };
                middle.push(format!("{expr} AS {v}{suffix}"));
            }
            format!(
                "SELECT t, {key}, {} FROM (  SELECT t, {key}, {sub}, {}  FROM (   SELECT {series} AS t, \
                 {}, {}, {}   {fw}   {}{having}   {}{rest}  ) ) GROUP BY {key}, t ORDER BY {key}, t",
                outer.join(", "),
                middle.join(", "),
                args[0],
                args[1],
                inner.join(", "),
                group(&format!("GROUP BY {key}, {sub}, t")),
                order(&format!("ORDER BY {key}, {sub}, t")),
            )
        }
        Kind::Lttb => {
            need(args, 3, false)?;
            let n = args.len();
            let (x, y) = (&args[n - 2], &args[n - 1]);
            let extras = &args[1..n - 2];
            let buckets = if args[0].eq_ignore_ascii_case("auto") {
                if ms {
                    "toUInt64( ($__to - $__from) / $__interval_ms )".to_string()
                } else {
                    "toUInt64( ($to - $from) / $interval )".to_string()
                }
            } else {
                match args[0].parse::<u64>() {
                    Ok(b) if b > 0 => b.to_string(),
                    _ => {
                        return Err(MacroErrorKind::InvalidArgument(format!(
                            "buckets must be a positive integer or `auto`, not `{}`",
                            args[0]
                        )));
                    }
                }
            };
            let extra_outer: String = extras
                .iter()
                .map(|e| format!("{}, ", alias_of(e)))
                .collect();
            let extra_inner: String = extras.iter().map(|e| format!("{e}, ")).collect();
            format!(
                "SELECT `lttb_result.1` AS {}, {extra_outer}`lttb_result.2` AS {} FROM (\n  SELECT \
                 {extra_inner}untuple(arrayJoin(lttb({buckets})({x}, {y}))) AS lttb_result {}\n) ORDER BY {}",
                alias_of(x),
                alias_of(y),
                injected.trim(),
                alias_of(x),
            )
        }
    };
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Comments, metadata and the simple pass
// ---------------------------------------------------------------------------------------------

/// `skip_comments`: removes line comments (`--`, `//`, `# `, `#!`; up to, not including, the
/// newline) and terminated (nested) `/* */` comments, as the scanner reads them; strings and
/// quoted identifiers are left alone. A removed block comment leaves one space where its
/// neighbours would otherwise join into one token or a comment (see [`joins`]).
pub(crate) fn remove_comments(sql: &str) -> String {
    let b = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        match scan::opaque_at(b, i) {
            Some((scan::Region::LineComment, end)) => {
                out.push_str(&sql[copied..i]);
                copied = end;
                i = end;
            }
            Some((scan::Region::BlockComment, end)) => {
                if scan::closed_block_end(b, i).is_some() {
                    out.push_str(&sql[copied..i]);
                    // `1 -/**/-1` must not become `1 --1` (a comment), nor `a/**/b` one word.
                    if let (Some(&p), Some(&n)) = (out.as_bytes().last(), b.get(end))
                        && joins(p, n)
                    {
                        out.push(' ');
                    }
                    copied = end;
                }
                i = end;
            }
            Some((_, end)) => i = end,
            None => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    out
}

/// Whether two bytes left adjacent by removing a comment would read as one token (or start a
/// comment) where the comment kept them apart.
fn joins(prev: u8, next: u8) -> bool {
    let word = |c: u8| scan::is_ident_byte(c) || c == b'$';
    let op = |c: u8| {
        matches!(
            c,
            b'-' | b'/' | b'*' | b'#' | b'!' | b'<' | b'>' | b'=' | b'|' | b':' | b'.'
        )
    };
    (word(prev) && word(next)) || (op(prev) && op(next))
}

/// The `add_metadata` comment line, or nothing when there is nothing to say.
fn metadata_comment(ctx: &MacroContext) -> String {
    let m = &ctx.metadata;
    if m.dashboard.is_empty() && m.user.is_empty() {
        return String::new();
    }
    // A `*/` inside the names would end the comment early; break it up.
    let clean = |s: &str| s.replace("*/", "* /");
    format!(
        "/* grafana dashboard={}, user={} */\n",
        clean(&m.dashboard),
        clean(&m.user)
    )
}

/// Step 4: one scan expanding every simple Altinity macro.
pub(crate) fn expand_simple(sql: &str, ctx: &MacroContext) -> Result<String, MacroError> {
    let b = sql.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if let Some((_, end)) = scan::opaque_at(b, i) {
            i = end;
            continue;
        }
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        let name_end = i + 1 + scan::ident_len(b, i + 1);
        let name = &sql[i..name_end];
        let Some(def) = catalog::find(name, Family::Altinity) else {
            i = name_end.max(i + 1);
            continue;
        };
        let Expander::Function(f) = def.expander else {
            i = name_end;
            continue;
        };
        let (args, end) = if def.arity == super::error::Arity::None {
            (Vec::new(), name_end)
        } else {
            let open = name_end;
            let call = if b.get(open) == Some(&b'(') {
                scan::parse_call(b, open)
            } else {
                None
            };
            match call {
                Some(c) => (
                    c.args.iter().map(|&(s, e)| &sql[s..e]).collect::<Vec<_>>(),
                    c.end,
                ),
                None => {
                    return Err(MacroError::new(name, i, MacroErrorKind::MissingArguments));
                }
            }
        };
        if !def.arity.accepts(args.len()) {
            let kind = MacroErrorKind::Arity {
                expected: def.arity,
                received: args.len(),
            };
            return Err(MacroError::new(name, i, kind));
        }
        let mut text = f(&args, ctx).map_err(|k| MacroError::new(name, i, k))?;
        if name == "$unescape" || name.ends_with("ByColumn") {
            // Their arguments may themselves hold macros (`$timeFilterByColumn($dateTimeCol)`).
            text = expand_simple(&text, ctx)?;
        }
        if out.capacity() == 0 {
            out.reserve(sql.len() + 128);
        }
        out.push_str(&sql[copied..i]);
        out.push_str(&text);
        copied = end;
        i = end;
    }
    if copied == 0 {
        return Ok(sql.to_string());
    }
    out.push_str(&sql[copied..]);
    Ok(out)
}

/// The whole Altinity pipeline on text that already went through the template and Grafana
/// passes.
pub(crate) fn expand(sql: &str, ctx: &MacroContext) -> Result<String, MacroError> {
    let sql = sql.trim();
    let mut text = match expand_statement(sql, ctx)? {
        Some(t) => t,
        None => sql.to_string(),
    };
    if ctx.altinity.skip_comments {
        text = remove_comments(&text);
    }
    if ctx.altinity.add_metadata {
        let meta = metadata_comment(ctx);
        if !meta.is_empty() {
            text.insert_str(0, &meta);
        }
    }
    expand_simple(&text, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::macros::context::{AltinityOptions, TimeRange};

    /// 2021-03-04T05:06:07Z to 2021-03-04T06:07:08Z, column `ts`, date column `d8`.
    fn ctx(tt: DateTimeType) -> MacroContext {
        MacroContext {
            time_range: TimeRange::from_millis(1_614_834_367_000, 1_614_838_028_000),
            altinity: AltinityOptions {
                database: "db".into(),
                table: "events".into(),
                date_time_type: tt,
                date_time_column: "ts".into(),
                interval: "1m".into(),
                skip_comments: false,
                add_metadata: false,
                ..AltinityOptions::default()
            },
            ..MacroContext::default()
        }
    }

    fn run(sql: &str, c: &MacroContext) -> String {
        expand(sql, c).unwrap()
    }

    #[test]
    fn time_series_per_type() {
        let dt = ctx(DateTimeType::DateTime);
        assert_eq!(
            run("$timeSeries", &dt),
            "(intDiv(toUInt32(ts), 60) * 60) * 1000"
        );
        let ts = ctx(DateTimeType::Timestamp64Ms);
        assert_eq!(
            run("$timeSeries", &ts),
            "(intDiv(ts, (60 * 1000)) * (60 * 1000))"
        );
        assert_eq!(run("$timeSeriesMs", &ts), "(intDiv(ts, 60000) * 60000)");
    }

    #[test]
    fn time_filter_with_and_without_date_column() {
        let mut c = ctx(DateTimeType::DateTime);
        assert_eq!(
            run("$timeFilter", &c),
            "ts >= toDateTime(1614834367) AND ts <= toDateTime(1614838028)"
        );
        c.altinity.date_column = "d8".into();
        assert!(run("$timeFilter", &c).starts_with("d8 >= toDate(1614834367) AND d8 <= toDate("));
        c.altinity.date_column = String::new();
        c.altinity.date_time_type = DateTimeType::Float;
        assert_eq!(
            run("$timeFilterMs", &c),
            "ts >= toFloat64(1614834367000/1000) AND ts <= toFloat64(1614838028000/1000)"
        );
    }

    #[test]
    fn rounding_and_by_column_padding() {
        let mut c = ctx(DateTimeType::DateTime);
        c.altinity.round = "1m".into();
        assert_eq!(run("$from $to", &c), "1614834360 1614838020");
        assert_eq!(
            run("$timeFilterByColumn(x)", &c),
            "x >= toDateTime(1614834241) AND x <= toDateTime(1614838139)"
        );
        c.altinity.round = "$step".into();
        assert_eq!(run("$from", &c), "1614834360");
        assert_eq!(run("$__from $__to", &c), "1614834367000 1614838028000");
    }

    #[test]
    fn interval_units_and_factor() {
        let mut c = ctx(DateTimeType::DateTime);
        c.altinity.interval = "100ms".into();
        assert_eq!(run("$interval $__interval_ms", &c), "1 100");
        c.altinity.interval = "2h".into();
        c.altinity.interval_factor = 2;
        assert_eq!(run("$interval", &c), "14400");
        c.altinity.interval = String::new();
        c.max_data_points = 61;
        assert_eq!(run("$interval", &c), "120");
    }

    #[test]
    fn identifier_escaping_rules() {
        assert_eq!(escape_table_part("events_1"), "events_1");
        assert_eq!(escape_table_part("my-table"), "`my-table`");
        assert_eq!(escape_column("d"), "\"d\"");
        assert_eq!(escape_column("toDateTime(x)"), "toDateTime(x)");
        assert_eq!(escape_column("a\"b c"), "\"a\\\"b c\"");
        let mut c = ctx(DateTimeType::DateTime);
        c.altinity.database = String::new();
        assert_eq!(run("FROM $table", &c), "FROM events");
    }

    #[test]
    fn unescape_drops_quotes_then_expands() {
        let c = ctx(DateTimeType::DateTime);
        assert_eq!(run("$unescape('$table')", &c), "db.events");
    }

    #[test]
    fn macros_in_strings_and_comments_stay() {
        let c = ctx(DateTimeType::DateTime);
        assert_eq!(
            run("SELECT '$table' -- $table\n", &c),
            "SELECT '$table' -- $table"
        );
    }

    #[test]
    fn respacing_matches_the_anchor_printer() {
        assert_eq!(respace("f(a,b)"), "f(a, b)");
        assert_eq!(respace("x<>''"), "x <> ''");
        assert_eq!(respace("AND (b=2)"), "AND(b = 2)");
        assert_eq!(respace("arr[1] + !ok"), "arr[1] + !ok");
        assert_eq!(respace("x -- c"), "x-- c\n");
    }

    #[test]
    fn columns_statement_wraps_and_injects_where() {
        let mut c = ctx(DateTimeType::DateTime);
        c.altinity.interval = "30s".into();
        let s = expand_statement("$columns(k, count() c) FROM t WHERE a = 1", &c)
            .unwrap()
            .unwrap();
        assert_eq!(
            s,
            "SELECT t, groupArray((k, c)) AS groupArr FROM ( SELECT $timeSeries AS t, k, count() c \
             FROM t WHERE $timeFilter AND a = 1 GROUP BY t, k ORDER BY t, k) GROUP BY t ORDER BY t"
        );
    }

    #[test]
    fn every_where_is_rewritten_for_compatibility() {
        let c = ctx(DateTimeType::DateTime);
        let s = expand_statement("$rate(x) FROM (SELECT x FROM t WHERE b) WHERE a", &c)
            .unwrap()
            .unwrap();
        assert_eq!(s.matches("WHERE $timeFilter AND").count(), 2);
    }

    #[test]
    fn window_variants_avoid_deprecated_functions() {
        let mut c = ctx(DateTimeType::DateTime);
        c.altinity.use_window_functions = true;
        let s = expand_statement("$perSecondColumns(host k, v) FROM t", &c)
            .unwrap()
            .unwrap();
        assert!(
            !s.contains("neighbor") && !s.contains("runningDifference"),
            "{s}"
        );
        c.altinity.use_window_functions = false;
        let s = expand_statement("$perSecondColumns(host k, v) FROM t", &c)
            .unwrap()
            .unwrap();
        assert!(s.contains("neighbor(k,-1,k)"));
        // A bare key is aliased after the macro, as the anchor does.
        let s = expand_statement("$deltaColumns(host, v) FROM t", &c)
            .unwrap()
            .unwrap();
        assert!(s.contains("host AS deltaColumns"), "{s}");
    }

    #[test]
    fn comment_removal_is_quote_aware() {
        assert_eq!(remove_comments("a '--x' -- y\nb /* c */d"), "a '--x' \nb d");
        assert_eq!(remove_comments("/* open"), "/* open");
    }

    #[test]
    fn natural_series_picks_calendar_buckets() {
        let mut c = ctx(DateTimeType::DateTime);
        c.time_range = TimeRange::from_millis(0, 3 * 365 * 86_400_000);
        assert_eq!(
            run("$naturalTimeSeries", &c),
            "toUInt32(toDateTime(toStartOfMonth(ts))) * 1000"
        );
    }
}
