//! The macro catalogue as data: one entry per macro, with its family, arity, a one-line doc, the
//! shape of its output and (for function macros) the function that expands it.
//!
//! The expansion passes look names up here, and the README table and the editor's autocomplete
//! are generated from it ([`render_markdown`]), so documentation cannot drift from behaviour.

use super::altinity as alt;
use super::context::MacroContext;
use super::error::{Arity, MacroErrorKind};
use super::grafana as gf;

/// Which plugin's family a macro belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `grafana/clickhouse-datasource`'s `$__name` macros.
    Grafana,
    /// `Altinity/clickhouse-grafana`'s `$name` macros.
    Altinity,
    /// Variables, conditionals and ad hoc filters (formerly frontend-only, now backend).
    Template,
}

impl Family {
    fn label(self) -> &'static str {
        match self {
            Family::Grafana => "grafana",
            Family::Altinity => "altinity",
            Family::Template => "template",
        }
    }
}

/// Signature of a function macro: trimmed (and, for Grafana, already expanded) arguments.
pub(crate) type ExpandFn = fn(&[&str], &MacroContext) -> Result<String, MacroErrorKind>;

/// How an entry is expanded.
#[derive(Clone, Copy)]
pub(crate) enum Expander {
    /// Replaced in place by the function's output.
    Function(ExpandFn),
    /// Rewrites the statement around it (see the dialect module).
    Statement,
    /// Handled by the template pass.
    Template,
}

/// One catalogue entry.
pub struct MacroDoc {
    /// Name with its sigil, as written in SQL.
    pub name: &'static str,
    /// Family.
    pub family: Family,
    /// Accepted argument count.
    pub arity: Arity,
    /// One-line description.
    pub doc: &'static str,
    /// Shape of the output.
    pub output: &'static str,
    pub(crate) expander: Expander,
}

impl std::fmt::Debug for MacroDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MacroDoc")
            .field("name", &self.name)
            .field("family", &self.family)
            .finish()
    }
}

const fn func(
    name: &'static str,
    family: Family,
    arity: Arity,
    doc: &'static str,
    output: &'static str,
    f: ExpandFn,
) -> MacroDoc {
    MacroDoc {
        name,
        family,
        arity,
        doc,
        output,
        expander: Expander::Function(f),
    }
}

const fn stmt(
    name: &'static str,
    family: Family,
    arity: Arity,
    doc: &'static str,
    output: &'static str,
) -> MacroDoc {
    MacroDoc {
        name,
        family,
        arity,
        doc,
        output,
        expander: Expander::Statement,
    }
}

const fn tmpl(
    name: &'static str,
    arity: Arity,
    doc: &'static str,
    output: &'static str,
) -> MacroDoc {
    MacroDoc {
        name,
        family: Family::Template,
        arity,
        doc,
        output,
        expander: Expander::Template,
    }
}

use Arity::{AtLeast, Exactly, None as Bare, Range};
use Family::{Altinity as A, Grafana as G};

static CATALOG: &[MacroDoc] = &[
    // ---- grafana: functions ----
    func(
        "$__timeFilter",
        G,
        Exactly(1),
        "Rows of the dashboard range, second precision.",
        "c >= toDateTime(F) AND c <= toDateTime(T)",
        gf::time_filter,
    ),
    func(
        "$__timeFilter_ms",
        G,
        Exactly(1),
        "Rows of the dashboard range, millisecond precision.",
        "c >= fromUnixTimestamp64Milli(Fms) AND c <= fromUnixTimestamp64Milli(Tms)",
        gf::time_filter_ms,
    ),
    func(
        "$__dateFilter",
        G,
        Exactly(1),
        "Rows whose Date column is in the range (UTC dates).",
        "c >= toDate('YYYY-MM-DD') AND c <= toDate('YYYY-MM-DD')",
        gf::date_filter,
    ),
    func(
        "$__dateTimeFilter",
        G,
        Exactly(2),
        "Date filter on d and time filter on t together.",
        "(dateFilter(d)) AND (timeFilter(t))",
        gf::date_time_filter,
    ),
    func(
        "$__dt",
        G,
        Exactly(2),
        "Alias of $__dateTimeFilter.",
        "(dateFilter(d)) AND (timeFilter(t))",
        gf::date_time_filter,
    ),
    func(
        "$__fromTime",
        G,
        Bare,
        "Range start as a DateTime.",
        "toDateTime(F)",
        gf::from_time,
    ),
    func(
        "$__toTime",
        G,
        Bare,
        "Range end as a DateTime.",
        "toDateTime(T)",
        gf::to_time,
    ),
    func(
        "$__fromTime_ms",
        G,
        Bare,
        "Range start as a DateTime64(3).",
        "fromUnixTimestamp64Milli(Fms)",
        gf::from_time_ms,
    ),
    func(
        "$__toTime_ms",
        G,
        Bare,
        "Range end as a DateTime64(3).",
        "fromUnixTimestamp64Milli(Tms)",
        gf::to_time_ms,
    ),
    func(
        "$__timeFrom",
        G,
        Exactly(1),
        "Lower bound only.",
        "c >= toDateTime(F)",
        gf::time_from,
    ),
    func(
        "$__timeTo",
        G,
        Exactly(1),
        "Upper bound only.",
        "c <= toDateTime(T)",
        gf::time_to,
    ),
    func(
        "$__timeGroup",
        G,
        Exactly(2),
        "Buckets of a fixed Go duration (ns…h, at least 1s).",
        "toStartOfInterval(toDateTime(c), INTERVAL n second)",
        gf::time_group,
    ),
    func(
        "$__timeInterval",
        G,
        Exactly(1),
        "Buckets of the panel interval in seconds.",
        "toStartOfInterval(toDateTime(c), INTERVAL Is second)",
        gf::time_interval,
    ),
    func(
        "$__timeInterval_ms",
        G,
        Exactly(1),
        "Buckets of the panel interval in milliseconds.",
        "toStartOfInterval(toDateTime64(c, 3), INTERVAL Ims millisecond)",
        gf::time_interval_ms,
    ),
    func(
        "$__interval_s",
        G,
        Bare,
        "Panel interval in whole seconds (at least 1).",
        "Is",
        gf::interval_s_macro,
    ),
    func(
        "$__interval",
        G,
        Bare,
        "Panel interval in its largest whole unit.",
        "5m, 30s, 0s",
        gf::interval,
    ),
    func(
        "$__interval_ms",
        G,
        Bare,
        "Panel interval in milliseconds.",
        "Ims",
        gf::interval_ms_macro,
    ),
    func(
        "$__from",
        G,
        Bare,
        "Range start in epoch milliseconds (Grafana's global variable).",
        "Fms",
        gf::from_ms,
    ),
    func(
        "$__to",
        G,
        Bare,
        "Range end in epoch milliseconds (Grafana's global variable).",
        "Tms",
        gf::to_ms,
    ),
    func(
        "$__range_s",
        G,
        Bare,
        "Range length in seconds.",
        "(Tms - Fms) / 1000",
        gf::range_s,
    ),
    func(
        "$__range_ms",
        G,
        Bare,
        "Range length in milliseconds.",
        "Tms - Fms",
        gf::range_ms,
    ),
    func(
        "$__table",
        G,
        Bare,
        "The query's `table` field (error when empty).",
        "table",
        gf::table,
    ),
    func(
        "$__column",
        G,
        Bare,
        "The query's `column` field (error when empty).",
        "column",
        gf::column,
    ),
    // ---- grafana: statements ----
    stmt(
        "$__columns",
        G,
        Exactly(3),
        "One series per key: time, key [AS k], value [AS v], then FROM ….",
        "SELECT $__timeInterval(time) AS t, toString(key) AS k, value AS v FROM … WHERE $__timeFilter(time) … GROUP BY t, k ORDER BY t, k",
    ),
    stmt(
        "$__rateColumns",
        G,
        Exactly(3),
        "Like $__columns, value divided by the bucket length.",
        "… if(Δt = 0, nan, value / Δt) AS v … WINDOW w AS (PARTITION BY k ORDER BY t …)",
    ),
    stmt(
        "$__perSecondColumns",
        G,
        Exactly(3),
        "Counter per second per key; resets give nan.",
        "… if(Δt = 0 OR D < 0, nan, D / Δt) AS v …, D = max(value) − lagInFrame(max(value))",
    ),
    stmt(
        "$__increaseColumns",
        G,
        Exactly(3),
        "Counter increase per bucket per key; resets give nan.",
        "… if(Δt = 0 OR D < 0, nan, toFloat64(D)) AS v …",
    ),
    stmt(
        "$__lttb",
        G,
        Exactly(3),
        "Downsample with largest-triangle-three-buckets: buckets|auto, x, y.",
        "SELECT point.1 AS x, point.2 AS y FROM (SELECT arrayJoin(lttb(N)(x, y)) AS point FROM … WHERE $__timeFilter(x)) ORDER BY x",
    ),
    // ---- altinity: functions ----
    func(
        "$timeSeries",
        A,
        Bare,
        "Bucket start in ms by $interval, for the column's dateTimeType.",
        "(intDiv(toUInt32(col), I) * I) * 1000",
        alt::time_series,
    ),
    func(
        "$timeSeriesMs",
        A,
        Bare,
        "Bucket start in ms by $__interval_ms.",
        "(intDiv(toFloat64(col) * 1000, Ims) * Ims)",
        alt::time_series_ms,
    ),
    func(
        "$naturalTimeSeries",
        A,
        Bare,
        "Calendar buckets chosen by range length (minute … quarter).",
        "toUInt32(toDateTime(toStartOfMonth(col))) * 1000",
        alt::natural_time_series,
    ),
    func(
        "$timeFilter",
        A,
        Bare,
        "Range filter on the date and time columns (seconds, rounded).",
        "[d >= toDate($from) AND d <= toDate($to) AND] col >= X($from) AND col <= X($to)",
        alt::time_filter,
    ),
    func(
        "$timeFilterMs",
        A,
        Bare,
        "Range filter with millisecond bounds (not rounded).",
        "col >= X($__from/1000) AND col <= X($__to/1000)",
        alt::time_filter_ms,
    ),
    func(
        "$timeFilterByColumn",
        A,
        Exactly(1),
        "Range filter on any column, widened by 2·round−1 s.",
        "c >= X(F−p) AND c <= X(T+p)",
        alt::time_filter_by_column,
    ),
    func(
        "$timeFilter64ByColumn",
        A,
        Exactly(1),
        "Range filter on any column with millisecond bounds.",
        "c >= X($__from) AND c <= X($__to)",
        alt::time_filter64_by_column,
    ),
    func(
        "$table",
        A,
        Bare,
        "database.table, each part escaped.",
        "db.table",
        alt::table,
    ),
    func(
        "$dateCol",
        A,
        Bare,
        "The date column (dateColDataType).",
        "column",
        alt::date_col,
    ),
    func(
        "$dateTimeCol",
        A,
        Bare,
        "The time column (dateTimeColDataType).",
        "column",
        alt::date_time_col_macro,
    ),
    func(
        "$from",
        A,
        Bare,
        "Range start in Unix seconds, rounded down to `round`.",
        "F",
        alt::from,
    ),
    func(
        "$to",
        A,
        Bare,
        "Range end in Unix seconds, rounded down to `round`.",
        "T",
        alt::to,
    ),
    func(
        "$__from",
        A,
        Bare,
        "Range start in Unix milliseconds.",
        "Fms",
        alt::from_ms,
    ),
    func(
        "$__to",
        A,
        Bare,
        "Range end in Unix milliseconds.",
        "Tms",
        alt::to_ms,
    ),
    func(
        "$interval",
        A,
        Bare,
        "Interval in seconds (at least 1) times intervalFactor.",
        "I",
        alt::interval,
    ),
    func(
        "$__interval_ms",
        A,
        Bare,
        "Interval in milliseconds times intervalFactor.",
        "Ims",
        alt::interval_ms,
    ),
    func(
        "$unescape",
        A,
        Exactly(1),
        "The argument with every single quote removed.",
        "x",
        alt::unescape,
    ),
    // ---- altinity: statements ----
    stmt(
        "$columns",
        A,
        Exactly(2),
        "Series per key: key alias, value alias, then FROM ….",
        "SELECT t, groupArray((k, v)) AS groupArr FROM (SELECT $timeSeries AS t, key, value FROM … GROUP BY t, k ORDER BY t, k) GROUP BY t ORDER BY t",
    ),
    stmt(
        "$columnsMs",
        A,
        Exactly(2),
        "$columns with millisecond buckets.",
        "… $timeSeriesMs … $timeFilterMs …",
    ),
    stmt(
        "$rate",
        A,
        AtLeast(1),
        "Per-second rate of each value.",
        "SELECT t, v/runningDifference(t/1000) vRate … FROM (SELECT $timeSeries AS t, … GROUP BY t ORDER BY t)",
    ),
    stmt(
        "$perSecond",
        A,
        AtLeast(1),
        "Per-second rate of counters (max per bucket); resets give nan.",
        "if(runningDifference(max_0) < 0, nan, runningDifference(max_0) / runningDifference(t/1000)) AS max_0_PerSecond",
    ),
    stmt(
        "$delta",
        A,
        AtLeast(1),
        "Difference of counters between buckets.",
        "runningDifference(max_0) AS max_0_Delta",
    ),
    stmt(
        "$increase",
        A,
        AtLeast(1),
        "Increase of counters between buckets; resets give 0.",
        "if(runningDifference(max_0) < 0, 0, runningDifference(max_0)) AS max_0_Increase",
    ),
    stmt(
        "$rateColumns",
        A,
        Exactly(2),
        "$columns with each value turned into a rate.",
        "SELECT t, arrayMap(a -> (a.1, a.2/Δt), groupArr) FROM ($columns …)",
    ),
    stmt(
        "$perSecondColumns",
        A,
        Exactly(2),
        "Per-key per-second counter rate.",
        "groupArray((k, max_0_PerSecond)) …",
    ),
    stmt(
        "$deltaColumns",
        A,
        Exactly(2),
        "Per-key counter difference.",
        "groupArray((k, max_0_Delta)) …",
    ),
    stmt(
        "$increaseColumns",
        A,
        Exactly(2),
        "Per-key counter increase.",
        "groupArray((k, max_0_Increase)) …",
    ),
    stmt(
        "$rateColumnsAggregated",
        A,
        AtLeast(4),
        "key, subkey, then aggFn, value pairs: per-subkey rate aggregated per key.",
        "SELECT t, key, aggFn(vRate) AS vRateAgg … GROUP BY key, t",
    ),
    stmt(
        "$perSecondColumnsAggregated",
        A,
        AtLeast(4),
        "Per-subkey counter rate aggregated per key.",
        "aggFn(vPerSecond) AS vPerSecondAgg",
    ),
    stmt(
        "$deltaColumnsAggregated",
        A,
        AtLeast(4),
        "Per-subkey counter difference aggregated per key.",
        "aggFn(vDelta) AS vDeltaAgg",
    ),
    stmt(
        "$increaseColumnsAggregated",
        A,
        AtLeast(4),
        "Per-subkey counter increase aggregated per key.",
        "aggFn(vIncrease) AS vIncreaseAgg",
    ),
    stmt(
        "$lttb",
        A,
        AtLeast(3),
        "Downsample: auto|N, [extra columns,] x alias, y alias.",
        "SELECT `lttb_result.1` AS x, `lttb_result.2` AS y FROM (SELECT untuple(arrayJoin(lttb(N)(x, y))) AS lttb_result FROM …) ORDER BY x",
    ),
    stmt(
        "$lttbMs",
        A,
        AtLeast(3),
        "$lttb with millisecond interval and filter.",
        "… lttb(toUInt64(($__to - $__from) / $__interval_ms)) … $timeFilterMs …",
    ),
    // ---- template: variables, conditionals, ad hoc ----
    tmpl(
        "$var",
        Bare,
        "Template variable; also ${var}, ${var:format}, [[var]]. Quoting depends on position.",
        "see the quoting contract",
    ),
    tmpl(
        "$__conditionalAll",
        Exactly(2),
        "cond unless the variable is All or empty.",
        "cond | 1=1",
    ),
    tmpl(
        "$conditionalTest",
        Range(2, 3),
        "sql_if unless the variable is All or empty, then sql_else or nothing.",
        " sql_if  |  sql_else  | ' '",
    ),
    tmpl(
        "$adhoc",
        Bare,
        "Ad hoc filters for the query's database.table.",
        "(c1 AND c2 …) | 1",
    ),
    tmpl(
        "$__adHocFilters",
        AtLeast(1),
        "Ad hoc filters as a SETTINGS value for the listed tables.",
        "additional_table_filters={'t': 'c1 AND c2'}",
    ),
];

/// Every macro the engine knows, in documentation order.
pub fn catalog() -> &'static [MacroDoc] {
    CATALOG
}

/// The entry named `name` in `family`.
pub(crate) fn find(name: &str, family: Family) -> Option<&'static MacroDoc> {
    CATALOG
        .iter()
        .find(|d| d.family == family && d.name == name)
}

/// The catalogue as a Markdown table (Macro, Family, Args, Description, Output).
pub fn render_markdown() -> String {
    let mut out =
        String::from("| Macro | Family | Args | Description | Output |\n|---|---|---|---|---|\n");
    for d in CATALOG {
        let kind = match d.expander {
            Expander::Statement => " (statement)",
            _ => "",
        };
        out.push_str(&format!(
            "| `{}` | {}{} | {} | {} | `{}` |\n",
            d.name,
            d.family.label(),
            kind,
            d.arity,
            d.doc.replace('|', "\\|"),
            d.output.replace('|', "\\|").replace('`', "'"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_within_a_family() {
        for (n, a) in CATALOG.iter().enumerate() {
            for b in &CATALOG[n + 1..] {
                assert!(
                    !(a.family == b.family && a.name == b.name),
                    "duplicate {}",
                    a.name
                );
            }
        }
    }

    #[test]
    fn every_entry_is_documented() {
        for d in CATALOG {
            assert!(
                d.name.starts_with('$') && !d.doc.is_empty() && !d.output.is_empty(),
                "{}",
                d.name
            );
        }
    }

    #[test]
    fn markdown_has_one_row_per_entry() {
        let md = render_markdown();
        assert_eq!(md.lines().count(), CATALOG.len() + 2);
        assert!(md.contains("| `$__timeFilter` | grafana | 1 |"));
        assert!(md.contains("| `$columns` | altinity (statement) | 2 |"));
    }
}
