//! The `$__name` family of `grafana/clickhouse-datasource` (anchors.md 4 and 6).
//!
//! Two passes, in the anchor's order:
//!
//! 1. **Statement macros** (`$__columns`, `$__rateColumns`, `$__perSecondColumns`,
//!    `$__increaseColumns`, `$__lttb`): at most one per query, at the top level, followed by
//!    `FROM`. Everything from the macro to the end is rebuilt from the clause segments of the tail
//!    (split at top level, outside quotes and comments); text before the macro (a `WITH`) stays.
//!    Their output contains `$__timeInterval(…)`/`$__timeFilter(…)`, expanded by pass 2.
//! 2. **Function macros**: one left-to-right scan. A name is the whole identifier after `$`
//!    (so the longest name always wins and `$__timeFilterX` is not `$__timeFilter`); arguments
//!    are expanded before the macro itself (inside-out nesting); unknown `$__x` stays as written.
//!
//! Deliberate difference from `macropro`: comments are kept verbatim instead of being blanked
//! with spaces. They are still opaque, so macros inside them never fire.
//!
//! Arguments are SQL the dashboard author wrote and are pasted as they are; only values computed
//! here (numbers, dates) are generated, so nothing in this module needs string escaping.

use std::fmt::Write;

use super::catalog::{self, Expander, Family};
use super::context::{Dialect, MacroContext};
use super::error::{Arity, MacroError, MacroErrorKind};
use super::scan;

/// Grafana's query interval in whole seconds, at least 1 (`Is` in anchors.md 4).
fn interval_s(ctx: &MacroContext) -> u64 {
    (ctx.interval_ms / 1000).max(1)
}

/// Grafana's query interval in milliseconds, at least 1.
fn interval_ms(ctx: &MacroContext) -> u64 {
    ctx.interval_ms.max(1)
}

pub(crate) fn time_filter(a: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    let (c, r) = (a[0], &ctx.time_range);
    Ok(format!(
        "{c} >= toDateTime({}) AND {c} <= toDateTime({})",
        r.from_s(),
        r.to_s()
    ))
}

pub(crate) fn time_filter_ms(a: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    let (c, r) = (a[0], &ctx.time_range);
    Ok(format!(
        "{c} >= fromUnixTimestamp64Milli({}) AND {c} <= fromUnixTimestamp64Milli({})",
        r.from_ms(),
        r.to_ms()
    ))
}

pub(crate) fn date_filter(a: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    let (c, r) = (a[0], &ctx.time_range);
    Ok(format!(
        "{c} >= toDate('{}') AND {c} <= toDate('{}')",
        utc_date(r.from_s()),
        utc_date(r.to_s())
    ))
}

pub(crate) fn date_time_filter(a: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(format!(
        "({}) AND ({})",
        date_filter(&a[..1], ctx)?,
        time_filter(&a[1..], ctx)?
    ))
}

pub(crate) fn from_time(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(format!("toDateTime({})", ctx.time_range.from_s()))
}

pub(crate) fn to_time(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(format!("toDateTime({})", ctx.time_range.to_s()))
}

pub(crate) fn from_time_ms(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(format!(
        "fromUnixTimestamp64Milli({})",
        ctx.time_range.from_ms()
    ))
}

pub(crate) fn to_time_ms(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(format!(
        "fromUnixTimestamp64Milli({})",
        ctx.time_range.to_ms()
    ))
}

pub(crate) fn time_from(a: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(format!(
        "{} >= toDateTime({})",
        a[0],
        ctx.time_range.from_s()
    ))
}

pub(crate) fn time_to(a: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(format!("{} <= toDateTime({})", a[0], ctx.time_range.to_s()))
}

pub(crate) fn time_group(a: &[&str], _: &MacroContext) -> Result<String, MacroErrorKind> {
    let raw = a[1].trim_matches(|c| c == '\'' || c == '"');
    let secs = parse_go_duration(raw)
        .ok_or_else(|| MacroErrorKind::InvalidArgument(format!("`{raw}` is not a duration")))?;
    let secs = secs.round();
    if secs < 1.0 {
        return Err(MacroErrorKind::InvalidArgument(format!(
            "`{raw}` is shorter than one second"
        )));
    }
    Ok(format!(
        "toStartOfInterval(toDateTime({}), INTERVAL {} second)",
        a[0], secs as u64
    ))
}

pub(crate) fn time_interval(a: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(format!(
        "toStartOfInterval(toDateTime({}), INTERVAL {} second)",
        a[0],
        interval_s(ctx)
    ))
}

pub(crate) fn time_interval_ms(a: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(format!(
        "toStartOfInterval(toDateTime64({}, 3), INTERVAL {} millisecond)",
        a[0],
        interval_ms(ctx)
    ))
}

pub(crate) fn interval_s_macro(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(interval_s(ctx).to_string())
}

pub(crate) fn interval(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(format_duration_ms(ctx.interval_ms))
}

pub(crate) fn interval_ms_macro(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(ctx.interval_ms.to_string())
}

pub(crate) fn from_ms(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(ctx.time_range.from_ms().to_string())
}

pub(crate) fn to_ms(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    Ok(ctx.time_range.to_ms().to_string())
}

pub(crate) fn range_s(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    let r = &ctx.time_range;
    Ok(((r.to_ms() - r.from_ms()) / 1000).to_string())
}

pub(crate) fn range_ms(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    let r = &ctx.time_range;
    Ok((r.to_ms() - r.from_ms()).to_string())
}

pub(crate) fn table(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    if ctx.grafana.table.is_empty() {
        return Err(MacroErrorKind::MissingOption("table"));
    }
    Ok(ctx.grafana.table.clone())
}

pub(crate) fn column(_: &[&str], ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    if ctx.grafana.column.is_empty() {
        return Err(MacroErrorKind::MissingOption("column"));
    }
    Ok(ctx.grafana.column.clone())
}

/// `YYYY-MM-DD` of a Unix second in UTC (Howard Hinnant's civil-from-days).
pub(crate) fn utc_date(unix_s: i64) -> String {
    let z = unix_s.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses a Go `time.Duration` string (`1h30m`, `1.5s`, `300ms`) into seconds. Go has no `d` or
/// `w` unit, and neither does `$__timeGroup` (anchors.md 4).
pub(crate) fn parse_go_duration(s: &str) -> Option<f64> {
    let s = s.trim();
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .bytes()
            .take_while(|c| !c.is_ascii_digit() && *c != b'.')
            .count();
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * scale;
    }
    Some(if neg { -total } else { total })
}

/// Formats milliseconds in the largest unit that divides them (`5m`, `30s`, `1500ms`, `0s`).
pub(crate) fn format_duration_ms(ms: u64) -> String {
    const UNITS: [(u64, &str); 5] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
        (1, "ms"),
    ];
    if ms == 0 {
        return "0s".to_string();
    }
    let (size, unit) = UNITS
        .iter()
        .find(|(size, _)| ms.is_multiple_of(*size))
        .copied()
        .unwrap_or((1, "ms"));
    format!("{}{unit}", ms / size)
}

/// Pass 2: expands every function macro of the Grafana family, innermost first.
pub(crate) fn expand_functions(sql: &str, ctx: &MacroContext) -> Result<String, MacroError> {
    expand_functions_at(sql, ctx, 0)
}

fn expand_functions_at(sql: &str, ctx: &MacroContext, base: usize) -> Result<String, MacroError> {
    let b = sql.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if let Some((_, end)) = scan::opaque_at(b, i) {
            i = end;
            continue;
        }
        if b[i] != b'$' || b.get(i + 1) != Some(&b'_') || b.get(i + 2) != Some(&b'_') {
            i += 1;
            continue;
        }
        let name_end = i + 1 + scan::ident_len(b, i + 1);
        let name = &sql[i..name_end];
        let Some(def) = lookup(name, ctx.dialect) else {
            i = name_end;
            continue;
        };
        let Expander::Function(f) = def.expander else {
            i = name_end;
            continue;
        };
        let call = if b.get(name_end) == Some(&b'(') {
            scan::parse_call(b, name_end)
        } else {
            None
        };
        let (spans, end) = match call {
            // A bare macro tolerates `()`, but `$__fromTime(x)` leaves `(x)` to the SQL.
            Some(c) if def.arity == Arity::None && !c.args.is_empty() => (Vec::new(), name_end),
            Some(c) => (c.args, c.end),
            None => (Vec::new(), name_end),
        };
        let mut args = Vec::with_capacity(spans.len());
        for &(s, e) in &spans {
            args.push(expand_functions_at(&sql[s..e], ctx, base + s)?);
        }
        if !def.arity.accepts(args.len()) {
            let kind = MacroErrorKind::Arity {
                expected: def.arity,
                received: args.len(),
            };
            return Err(MacroError::new(name, base + i, kind));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let text = f(&refs, ctx).map_err(|kind| MacroError::new(name, base + i, kind))?;
        if out.capacity() == 0 {
            out.reserve(sql.len() + 64);
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

/// The Grafana-family entry for `name`. Under the Altinity dialect, names Altinity also defines
/// (`$__from`, `$__to`, `$__interval_ms`) are left to the Altinity pass.
fn lookup(name: &str, dialect: Dialect) -> Option<&'static catalog::MacroDoc> {
    let def = catalog::find(name, Family::Grafana)?;
    if dialect == Dialect::Altinity && catalog::find(name, Family::Altinity).is_some() {
        return None;
    }
    Some(def)
}

// ---------------------------------------------------------------------------------------------
// Statement macros
// ---------------------------------------------------------------------------------------------

/// Which statement macro is being built.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Statement {
    Columns,
    RateColumns,
    PerSecondColumns,
    IncreaseColumns,
    Lttb,
}

const STATEMENTS: [(&str, Statement); 5] = [
    ("$__columns", Statement::Columns),
    ("$__rateColumns", Statement::RateColumns),
    ("$__perSecondColumns", Statement::PerSecondColumns),
    ("$__increaseColumns", Statement::IncreaseColumns),
    ("$__lttb", Statement::Lttb),
];

/// Clause keywords of a statement macro's tail, in the order they must appear.
const CLAUSES: [&str; 8] = [
    "from", "prewhere", "where", "group by", "having", "order by", "limit", "settings",
];
const FROM: usize = 0;
const PREWHERE: usize = 1;
const WHERE: usize = 2;
const GROUP_BY: usize = 3;
const HAVING: usize = 4;
const ORDER_BY: usize = 5;
const LIMIT: usize = 6;
const SETTINGS: usize = 7;

/// A statement macro's tail split into clause segments: `seg[k]` is the whole segment including
/// its keyword (FROM's includes PREWHERE), `body[k]` the text after the keyword.
#[derive(Default)]
pub(crate) struct Clauses<'a> {
    seg: [Option<&'a str>; 8],
    body: [Option<&'a str>; 8],
}

impl<'a> Clauses<'a> {
    /// Splits `tail`, which must start with `FROM`, at top-level clause keywords.
    pub(crate) fn split(tail: &'a str) -> Result<Self, MacroErrorKind> {
        let b = tail.as_bytes();
        let hits = scan::top_level_words(b, 0, &CLAUSES);
        if hits
            .first()
            .is_none_or(|h| h.1 != FROM || h.0 != scan::skip_ws(b, 0))
        {
            return Err(MacroErrorKind::Clause(
                "a statement macro must be followed by a FROM clause".into(),
            ));
        }
        // Keep the first occurrence of each keyword as a boundary; PREWHERE stays with FROM.
        let mut bounds: Vec<(usize, usize, usize)> = Vec::new();
        for &(pos, k, end) in &hits {
            if k == PREWHERE {
                continue;
            }
            if let Some(&(_, prev, _)) = bounds.last() {
                if k == prev {
                    continue;
                }
                if k < prev {
                    return Err(MacroErrorKind::Clause(format!(
                        "{} must come before {}",
                        CLAUSES[k].to_uppercase(),
                        CLAUSES[prev].to_uppercase()
                    )));
                }
                if bounds.iter().any(|&(_, seen, _)| seen == k) {
                    continue;
                }
            }
            bounds.push((pos, k, end));
        }
        let mut out = Clauses::default();
        for (n, &(pos, k, kw_end)) in bounds.iter().enumerate() {
            let stop = bounds.get(n + 1).map_or(tail.len(), |b| b.0);
            out.seg[k] = Some(tail[pos..stop].trim());
            out.body[k] = Some(tail[kw_end..stop].trim());
        }
        Ok(out)
    }
}

/// Splits `expr [AS alias]` at its last top-level `AS`.
pub(crate) fn split_alias(arg: &str) -> (&str, Option<&str>) {
    let b = arg.as_bytes();
    match scan::last_top_level_as(b, 0, b.len()) {
        Some((p, end)) if p > 0 && !arg[end..].trim().is_empty() => {
            (arg[..p].trim(), Some(arg[end..].trim()))
        }
        _ => (arg, None),
    }
}

fn is_bare_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && !b[0].is_ascii_digit() && b.iter().all(|&c| scan::is_ident_byte(c))
}

/// Pass 1: rewrites the one statement macro, if any. `Ok(None)` when there is none.
pub(crate) fn expand_statement(
    sql: &str,
    ctx: &MacroContext,
) -> Result<Option<String>, MacroError> {
    let b = sql.as_bytes();
    let mut found: Option<(usize, &str, Statement)> = None;
    let mut i = 0;
    while i < b.len() {
        if let Some((_, end)) = scan::opaque_at(b, i) {
            i = end;
            continue;
        }
        if b[i] == b'$' {
            let end = i + 1 + scan::ident_len(b, i + 1);
            let name = &sql[i..end];
            if let Some(&(_, kind)) = STATEMENTS.iter().find(|(n, _)| *n == name) {
                if found.is_some() {
                    return Err(MacroError::new(
                        name,
                        i,
                        MacroErrorKind::Placement(
                            "only one statement macro is allowed per query".into(),
                        ),
                    ));
                }
                found = Some((i, name, kind));
            }
            i = end.max(i + 1);
            continue;
        }
        i += 1;
    }
    let Some((pos, name, kind)) = found else {
        return Ok(None);
    };
    let err = |k: MacroErrorKind| MacroError::new(name, pos, k);
    if scan::depth_at(b, 0, pos) > 0 {
        return Err(err(MacroErrorKind::Placement(
            "a statement macro must be at the top level of the query, not inside parentheses"
                .into(),
        )));
    }
    let open = scan::skip_ws(b, pos + name.len());
    if b.get(open) != Some(&b'(') {
        return Err(err(MacroErrorKind::MissingArguments));
    }
    let call = scan::parse_call(b, open).ok_or_else(|| err(MacroErrorKind::MissingArguments))?;
    let args: Vec<&str> = call.args.iter().map(|&(s, e)| &sql[s..e]).collect();
    if args.len() != 3 {
        return Err(err(MacroErrorKind::Arity {
            expected: Arity::Exactly(3),
            received: args.len(),
        }));
    }
    let tail = sql[call.end..].trim_end().trim_end_matches(';');
    let clauses = Clauses::split(tail).map_err(err)?;
    let mut out = String::with_capacity(sql.len() * 2 + 256);
    out.push_str(&sql[..pos]);
    let body = match kind {
        Statement::Lttb => lttb(&args, &clauses, ctx),
        _ => columns(kind, &args, &clauses),
    };
    out.push_str(&body.map_err(err)?);
    Ok(Some(out))
}

fn push_where(out: &mut String, time_expr: &str, clauses: &Clauses<'_>) {
    let _ = write!(out, " WHERE $__timeFilter({time_expr})");
    if let Some(w) = clauses.body[WHERE] {
        let _ = write!(out, " AND ({w})");
    }
}

fn push_seg(out: &mut String, clauses: &Clauses<'_>, k: usize) {
    if let Some(s) = clauses.seg[k] {
        out.push(' ');
        out.push_str(s);
    }
}

fn columns(kind: Statement, args: &[&str], c: &Clauses<'_>) -> Result<String, MacroErrorKind> {
    if c.seg[GROUP_BY].is_some() {
        return Err(MacroErrorKind::Clause(
            "GROUP BY is generated by this macro; remove the query's own GROUP BY".into(),
        ));
    }
    let time = args[0];
    let (key, key_alias) = split_alias(args[1]);
    let key_alias = key_alias.unwrap_or("metric");
    let (value, value_alias) = split_alias(args[2]);
    let value_alias = value_alias.unwrap_or("value");
    let dt = "(t - lagInFrame(t, 1, t) OVER w)";
    let value_expr = match kind {
        Statement::RateColumns => format!("if({dt} = 0, nan, {value} / {dt})"),
        Statement::PerSecondColumns | Statement::IncreaseColumns => {
            let lag = format!("max({value}) - lagInFrame(max({value}), 1, max({value})) OVER w");
            let guard = format!("{dt} = 0 OR ({lag}) < 0");
            if kind == Statement::PerSecondColumns {
                format!("if({guard}, nan, ({lag}) / {dt})")
            } else {
                format!("if({guard}, nan, toFloat64({lag}))")
            }
        }
        _ => value.to_string(),
    };
    let mut out = format!(
        "SELECT $__timeInterval({time}) AS t, toString({key}) AS {key_alias}, {value_expr} AS \
         {value_alias} {}",
        c.seg[FROM].unwrap_or_default()
    );
    push_where(&mut out, time, c);
    let _ = write!(out, " GROUP BY t, {key_alias}");
    push_seg(&mut out, c, HAVING);
    if kind != Statement::Columns {
        let _ = write!(
            out,
            " WINDOW w AS (PARTITION BY {key_alias} ORDER BY t ASC ROWS BETWEEN 1 PRECEDING AND \
             CURRENT ROW)"
        );
    }
    match c.seg[ORDER_BY] {
        Some(s) => {
            out.push(' ');
            out.push_str(s);
        }
        None => {
            let _ = write!(out, " ORDER BY t, {key_alias}");
        }
    }
    push_seg(&mut out, c, LIMIT);
    push_seg(&mut out, c, SETTINGS);
    Ok(out)
}

fn lttb(args: &[&str], c: &Clauses<'_>, ctx: &MacroContext) -> Result<String, MacroErrorKind> {
    let buckets = if args[0].eq_ignore_ascii_case("auto") {
        let r = &ctx.time_range;
        let range_s = u64::try_from((r.to_ms() - r.from_ms()) / 1000).unwrap_or(0);
        (range_s / interval_s(ctx)).max(1)
    } else {
        match args[0].parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(MacroErrorKind::InvalidArgument(format!(
                    "buckets must be a positive integer or `auto`, not `{}`",
                    args[0]
                )));
            }
        }
    };
    let (x, x_alias) = split_alias(args[1]);
    let (y, y_alias) = split_alias(args[2]);
    let xa = x_alias.unwrap_or(if is_bare_identifier(x) { x } else { "x" });
    let ya = y_alias.unwrap_or(if is_bare_identifier(y) { y } else { "y" });
    let mut out = format!("SELECT point.1 AS {xa}, point.2 AS {ya} FROM (SELECT arrayJoin(lttb(");
    if c.seg[GROUP_BY].is_some() {
        let _ = write!(out, "{buckets})({xa}, {ya})) AS point FROM (SELECT {x}");
        if x != xa {
            let _ = write!(out, " AS {xa}");
        }
        let _ = write!(out, ", {y} AS {ya} {}", c.seg[FROM].unwrap_or_default());
        push_where(&mut out, x, c);
        push_seg(&mut out, c, GROUP_BY);
        push_seg(&mut out, c, HAVING);
        let _ = write!(out, " ORDER BY {xa}))");
    } else {
        let _ = write!(
            out,
            "{buckets})({x}, {y})) AS point {}",
            c.seg[FROM].unwrap_or_default()
        );
        push_where(&mut out, x, c);
        push_seg(&mut out, c, HAVING);
        out.push(')');
    }
    match c.seg[ORDER_BY] {
        Some(s) => {
            out.push(' ');
            out.push_str(s);
        }
        None => {
            let _ = write!(out, " ORDER BY {xa}");
        }
    }
    push_seg(&mut out, c, LIMIT);
    push_seg(&mut out, c, SETTINGS);
    Ok(out)
}

/// Runs both passes: the statement pre-pass, then the function macros.
pub(crate) fn expand(sql: &str, ctx: &MacroContext) -> Result<String, MacroError> {
    match expand_statement(sql, ctx)? {
        Some(rewritten) => expand_functions(&rewritten, ctx).map_err(|mut e| {
            // Offsets past the statement macro point into generated text; report the macro.
            if e.offset >= sql.len() {
                e.offset = sql.len().saturating_sub(1);
            }
            e
        }),
        None => expand_functions(sql, ctx),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::macros::context::TimeRange;

    /// 2021-03-04T05:06:07.089Z to one hour later, 30 s interval.
    fn ctx() -> MacroContext {
        let from = 1_614_834_367_089;
        MacroContext {
            time_range: TimeRange::from_millis(from, from + 3_600_000),
            interval_ms: 30_000,
            ..MacroContext::default()
        }
    }

    fn run(sql: &str) -> String {
        expand(sql, &ctx()).unwrap()
    }

    fn fails(sql: &str) -> MacroErrorKind {
        expand(sql, &ctx()).unwrap_err().kind
    }

    #[test]
    fn time_filter_uses_whole_seconds() {
        assert_eq!(
            run("$__timeFilter(ts)"),
            "ts >= toDateTime(1614834367) AND ts <= toDateTime(1614837967)"
        );
    }

    #[test]
    fn time_filter_ms_uses_milliseconds() {
        assert_eq!(
            run("$__timeFilter_ms(ts)"),
            "ts >= fromUnixTimestamp64Milli(1614834367089) AND ts <= \
             fromUnixTimestamp64Milli(1614837967089)"
        );
    }

    #[test]
    fn date_filter_uses_utc_dates() {
        assert_eq!(
            run("$__dateFilter(d)"),
            "d >= toDate('2021-03-04') AND d <= toDate('2021-03-04')"
        );
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
        assert_eq!(utc_date(-86_400), "1969-12-31");
    }

    #[test]
    fn date_time_filter_and_its_alias_agree() {
        let long = run("$__dateTimeFilter(d, t)");
        assert_eq!(long, run("$__dt(d, t)"));
        assert!(long.starts_with("(d >= toDate('2021-03-04')"));
        assert!(long.ends_with("t <= toDateTime(1614837967))"));
    }

    #[test]
    fn bounds_as_values() {
        assert_eq!(
            run("$__fromTime,$__toTime"),
            "toDateTime(1614834367),toDateTime(1614837967)"
        );
        assert_eq!(
            run("$__fromTime_ms"),
            "fromUnixTimestamp64Milli(1614834367089)"
        );
        assert_eq!(
            run("$__toTime_ms"),
            "fromUnixTimestamp64Milli(1614837967089)"
        );
        assert_eq!(
            run("$__timeFrom(c) $__timeTo(c)"),
            "c >= toDateTime(1614834367) c <= toDateTime(1614837967)"
        );
        assert_eq!(run("$__from $__to"), "1614834367089 1614837967089");
        assert_eq!(run("$__range_s $__range_ms"), "3600 3600000");
    }

    #[test]
    fn time_group_takes_go_durations_only() {
        assert_eq!(
            run("$__timeGroup(ts, '90s')"),
            "toStartOfInterval(toDateTime(ts), INTERVAL 90 second)"
        );
        assert_eq!(
            run("$__timeGroup(ts, 1h30m)"),
            "toStartOfInterval(toDateTime(ts), INTERVAL 5400 second)"
        );
        assert!(matches!(
            fails("$__timeGroup(ts, 1d)"),
            MacroErrorKind::InvalidArgument(_)
        ));
        assert!(matches!(
            fails("$__timeGroup(ts, 100ms)"),
            MacroErrorKind::InvalidArgument(_)
        ));
    }

    #[test]
    fn interval_macros() {
        assert_eq!(
            run("$__timeInterval(ts)"),
            "toStartOfInterval(toDateTime(ts), INTERVAL 30 second)"
        );
        assert_eq!(
            run("$__timeInterval_ms(ts)"),
            "toStartOfInterval(toDateTime64(ts, 3), INTERVAL 30000 millisecond)"
        );
        assert_eq!(
            run("$__interval_s $__interval $__interval_ms"),
            "30 30s 30000"
        );
        assert_eq!(format_duration_ms(300_000), "5m");
        assert_eq!(format_duration_ms(1_500), "1500ms");
        assert_eq!(format_duration_ms(0), "0s");
    }

    #[test]
    fn table_and_column_need_their_fields() {
        let mut c = ctx();
        assert_eq!(
            expand("$__table", &c).unwrap_err().kind,
            MacroErrorKind::MissingOption("table")
        );
        c.grafana.table = "events".into();
        c.grafana.column = "ts".into();
        assert_eq!(
            expand("SELECT $__column FROM $__table", &c).unwrap(),
            "SELECT ts FROM events"
        );
    }

    #[test]
    fn arity_errors_name_the_macro_and_offset() {
        let e = expand("SELECT $__timeFilter()", &ctx()).unwrap_err();
        assert_eq!(e.macro_name, "$__timeFilter");
        assert_eq!(e.offset, 7);
        assert_eq!(
            e.kind,
            MacroErrorKind::Arity {
                expected: Arity::Exactly(1),
                received: 0
            }
        );
        assert_eq!(
            e.to_string(),
            "$__timeFilter at byte 7: expected 1 argument(s), received 0"
        );
    }

    #[test]
    fn columns_statement_rebuilds_the_query() {
        assert_eq!(
            run("$__columns(ts, host AS h, count()) FROM t WHERE a = 1 LIMIT 5;"),
            "SELECT toStartOfInterval(toDateTime(ts), INTERVAL 30 second) AS t, toString(host) AS h, \
             count() AS value FROM t WHERE ts >= toDateTime(1614834367) AND ts <= \
             toDateTime(1614837967) AND (a = 1) GROUP BY t, h ORDER BY t, h LIMIT 5"
        );
    }

    #[test]
    fn statement_errors() {
        assert!(matches!(
            fails("$__columns(a, b, c) FROM t GROUP BY b"),
            MacroErrorKind::Clause(_)
        ));
        assert!(matches!(
            fails("$__columns(a, b, c)"),
            MacroErrorKind::Clause(_)
        ));
        assert!(matches!(
            fails("$__columns FROM t"),
            MacroErrorKind::MissingArguments
        ));
        assert!(matches!(
            fails("SELECT * FROM ($__lttb(5, a, b) FROM t)"),
            MacroErrorKind::Placement(_)
        ));
        assert!(matches!(
            fails("$__lttb(0, a, b) FROM t"),
            MacroErrorKind::InvalidArgument(_)
        ));
        let e = fails("$__columns(a, b, c) FROM t ORDER BY a HAVING b");
        assert_eq!(e.to_string(), "HAVING must come before ORDER BY");
    }

    #[test]
    fn per_second_guards_counter_resets() {
        let sql = run("$__perSecondColumns(ts, k, v) FROM t");
        assert!(sql.contains("OR (max(v) - lagInFrame(max(v), 1, max(v)) OVER w) < 0, nan"));
        assert!(sql.contains("WINDOW w AS (PARTITION BY metric ORDER BY t ASC"));
    }

    #[test]
    fn lttb_without_and_with_group_by() {
        assert_eq!(
            run("$__lttb(10, ts, v) FROM t"),
            "SELECT point.1 AS ts, point.2 AS v FROM (SELECT arrayJoin(lttb(10)(ts, v)) AS point \
             FROM t WHERE ts >= toDateTime(1614834367) AND ts <= toDateTime(1614837967)) ORDER BY ts"
        );
        let grouped = run("$__lttb(auto, ts, avg(v)) FROM t GROUP BY ts");
        assert!(grouped.contains("lttb(120)(ts, y)"), "{grouped}");
        assert!(grouped.contains("(SELECT ts, avg(v) AS y FROM t WHERE"));
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1.5s"), Some(1.5));
        assert_eq!(parse_go_duration("2h"), Some(7200.0));
        assert_eq!(parse_go_duration("0"), Some(0.0));
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration(""), None);
    }
}
