//! Table-driven cases over the whole engine, adversarial rows, regressions named after what
//! broke, and invariants over generated inputs (timings live in the `macros` benchmark). Every row is written for this project; expected SQL is derived from the
//! specification in anchors.md, not copied from the anchors' tests.

use super::catalog;
use super::*;

/// 2022-06-01T00:00:00.250Z to 2022-06-01T06:00:00.750Z, 1 min interval.
fn base() -> MacroContext {
    let from = 1_654_041_600_250;
    MacroContext {
        time_range: TimeRange::from_millis(from, from + 6 * 3_600_000 + 500),
        interval_ms: 60_000,
        max_data_points: 360,
        grafana: GrafanaOptions {
            table: "logs".into(),
            column: "ts".into(),
        },
        altinity: AltinityOptions {
            database: "otel".into(),
            table: "spans".into(),
            date_time_column: "Timestamp".into(),
            interval: "1m".into(),
            skip_comments: false,
            add_metadata: false,
            use_window_functions: false,
            ..AltinityOptions::default()
        },
        variables: [
            ("svc".to_string(), Variable::single("checkout")),
            ("hosts".to_string(), Variable::multi(["a", "b'c"])),
            ("evil".to_string(), Variable::single("x' OR 1=1 -- */")),
            ("path".to_string(), Variable::single(r"C:\tmp")),
            ("none".to_string(), Variable::multi(Vec::<String>::new())),
        ]
        .into_iter()
        .collect(),
        ..MacroContext::default()
    }
}

fn altinity() -> MacroContext {
    MacroContext {
        dialect: Dialect::Altinity,
        ..base()
    }
}

/// `(name, sql, context, expected)`; an expected starting with `ERR ` is an error whose Display
/// contains the rest.
type Case = (
    &'static str,
    &'static str,
    fn() -> MacroContext,
    &'static str,
);

const CASES: &[Case] = &[
    // Grafana family, one row per macro.
    (
        "timeFilter",
        "WHERE $__timeFilter(ts)",
        base,
        "WHERE ts >= toDateTime(1654041600) AND ts <= toDateTime(1654063200)",
    ),
    (
        "timeFilter_ms",
        "$__timeFilter_ms(ts)",
        base,
        "ts >= fromUnixTimestamp64Milli(1654041600250) AND ts <= fromUnixTimestamp64Milli(1654063200750)",
    ),
    (
        "dateFilter",
        "$__dateFilter(d)",
        base,
        "d >= toDate('2022-06-01') AND d <= toDate('2022-06-01')",
    ),
    (
        "dateTimeFilter",
        "$__dateTimeFilter(d, ts)",
        base,
        "(d >= toDate('2022-06-01') AND d <= toDate('2022-06-01')) AND (ts >= toDateTime(1654041600) AND ts <= toDateTime(1654063200))",
    ),
    (
        "dt",
        "$__dt(d, ts)",
        base,
        "(d >= toDate('2022-06-01') AND d <= toDate('2022-06-01')) AND (ts >= toDateTime(1654041600) AND ts <= toDateTime(1654063200))",
    ),
    (
        "fromTime/toTime",
        "$__fromTime $__toTime",
        base,
        "toDateTime(1654041600) toDateTime(1654063200)",
    ),
    (
        "fromTime_ms/toTime_ms",
        "$__fromTime_ms $__toTime_ms",
        base,
        "fromUnixTimestamp64Milli(1654041600250) fromUnixTimestamp64Milli(1654063200750)",
    ),
    (
        "timeFrom/timeTo",
        "$__timeFrom(ts) AND $__timeTo(ts)",
        base,
        "ts >= toDateTime(1654041600) AND ts <= toDateTime(1654063200)",
    ),
    (
        "timeGroup",
        "$__timeGroup(ts, '15m')",
        base,
        "toStartOfInterval(toDateTime(ts), INTERVAL 900 second)",
    ),
    (
        "timeInterval",
        "$__timeInterval(ts)",
        base,
        "toStartOfInterval(toDateTime(ts), INTERVAL 60 second)",
    ),
    (
        "timeInterval_ms",
        "$__timeInterval_ms(ts)",
        base,
        "toStartOfInterval(toDateTime64(ts, 3), INTERVAL 60000 millisecond)",
    ),
    (
        "interval forms",
        "$__interval_s|$__interval|$__interval_ms",
        base,
        "60|1m|60000",
    ),
    (
        "from/to/range",
        "$__from $__to $__range_s $__range_ms",
        base,
        "1654041600250 1654063200750 21600 21600500",
    ),
    (
        "table/column",
        "SELECT $__column FROM $__table",
        base,
        "SELECT ts FROM logs",
    ),
    (
        "columns",
        "$__columns(ts, svc, count()) FROM t",
        base,
        "SELECT toStartOfInterval(toDateTime(ts), INTERVAL 60 second) AS t, toString(svc) AS metric, count() AS value FROM t WHERE ts >= toDateTime(1654041600) AND ts <= toDateTime(1654063200) GROUP BY t, metric ORDER BY t, metric",
    ),
    (
        "rateColumns",
        "$__rateColumns(ts, svc, sum(n) AS r) FROM t",
        base,
        "SELECT toStartOfInterval(toDateTime(ts), INTERVAL 60 second) AS t, toString(svc) AS metric, if((t - lagInFrame(t, 1, t) OVER w) = 0, nan, sum(n) / (t - lagInFrame(t, 1, t) OVER w)) AS r FROM t WHERE ts >= toDateTime(1654041600) AND ts <= toDateTime(1654063200) GROUP BY t, metric WINDOW w AS (PARTITION BY metric ORDER BY t ASC ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) ORDER BY t, metric",
    ),
    (
        "increaseColumns",
        "$__increaseColumns(ts, k, c) FROM t",
        base,
        "SELECT toStartOfInterval(toDateTime(ts), INTERVAL 60 second) AS t, toString(k) AS metric, if((t - lagInFrame(t, 1, t) OVER w) = 0 OR (max(c) - lagInFrame(max(c), 1, max(c)) OVER w) < 0, nan, toFloat64(max(c) - lagInFrame(max(c), 1, max(c)) OVER w)) AS value FROM t WHERE ts >= toDateTime(1654041600) AND ts <= toDateTime(1654063200) GROUP BY t, metric WINDOW w AS (PARTITION BY metric ORDER BY t ASC ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) ORDER BY t, metric",
    ),
    (
        "lttb",
        "$__lttb(50, ts, v AS val) FROM t",
        base,
        "SELECT point.1 AS ts, point.2 AS val FROM (SELECT arrayJoin(lttb(50)(ts, v)) AS point FROM t WHERE ts >= toDateTime(1654041600) AND ts <= toDateTime(1654063200)) ORDER BY ts",
    ),
    // Altinity family.
    (
        "a timeSeries",
        "$timeSeries",
        altinity,
        "(intDiv(toUInt32(Timestamp), 60) * 60) * 1000",
    ),
    (
        "a timeSeriesMs",
        "$timeSeriesMs",
        altinity,
        "(intDiv(toUInt32(Timestamp) * 1000, 60000) * 60000)",
    ),
    (
        "a dateCol (unset: empty quoted identifier)",
        "[$dateCol]",
        altinity,
        r#"[""]"#,
    ),
    (
        "a timeFilter",
        "$timeFilter",
        altinity,
        "Timestamp >= toDateTime(1654041600) AND Timestamp <= toDateTime(1654063200)",
    ),
    (
        "a timeFilterMs",
        "$timeFilterMs",
        altinity,
        "Timestamp >= toDateTime(1654041600250/1000) AND Timestamp <= toDateTime(1654063200750/1000)",
    ),
    (
        "a table and columns",
        "$table $dateTimeCol",
        altinity,
        "otel.spans Timestamp",
    ),
    (
        "a bounds",
        "$from $to $__from $__to",
        altinity,
        "1654041600 1654063200 1654041600250 1654063200750",
    ),
    (
        "a interval",
        "$interval $__interval_ms",
        altinity,
        "60 60000",
    ),
    (
        "a by column",
        "$timeFilterByColumn(x) / $timeFilter64ByColumn(y)",
        altinity,
        "x >= toDateTime(1654041600) AND x <= toDateTime(1654063200) / y >= toDateTime(1654041600250/1000) AND y <= toDateTime(1654063200750/1000)",
    ),
    ("a unescape", "$unescape('count()')", altinity, "count()"),
    (
        "a natural",
        "$naturalTimeSeries",
        altinity,
        "toUInt32(toDateTime(toStartOfMinute(Timestamp))) * 1000",
    ),
    (
        "a columns",
        "$columns(k, sum(v) s) FROM $table",
        altinity,
        "SELECT t, groupArray((k, s)) AS groupArr FROM ( SELECT (intDiv(toUInt32(Timestamp), 60) * 60) * 1000 AS t, k, sum(v) s FROM otel.spans WHERE Timestamp >= toDateTime(1654041600) AND Timestamp <= toDateTime(1654063200) GROUP BY t, k ORDER BY t, k) GROUP BY t ORDER BY t",
    ),
    (
        "a delta",
        "$delta(c) FROM t",
        altinity,
        "SELECT t, runningDifference(max_0) AS max_0_Delta FROM ( SELECT (intDiv(toUInt32(Timestamp), 60) * 60) * 1000 AS t, max(c) AS max_0 FROM t WHERE Timestamp >= toDateTime(1654041600) AND Timestamp <= toDateTime(1654063200) GROUP BY t ORDER BY t)",
    ),
    (
        "a lttb",
        "$lttb(5, x, y) FROM t",
        altinity,
        "SELECT `lttb_result.1` AS x, `lttb_result.2` AS y FROM (\n  SELECT untuple(arrayJoin(lttb(5)(x, y))) AS lttb_result FROM t WHERE Timestamp >= toDateTime(1654041600) AND Timestamp <= toDateTime(1654063200)\n) ORDER BY x",
    ),
    (
        "grafana macro in altinity query",
        "$__timeFilter(ts) AND $__from",
        altinity,
        "ts >= toDateTime(1654041600) AND ts <= toDateTime(1654063200) AND 1654041600250",
    ),
    // Template variables and conditionals.
    (
        "var single",
        "svc = '$svc' AND s2 = $svc",
        base,
        "svc = 'checkout' AND s2 = checkout",
    ),
    (
        "var multi",
        "h IN ($hosts) OR h IN (${hosts:singlequote}) OR h IN ([[hosts]])",
        base,
        r"h IN ('a','b\'c') OR h IN ('a','b\'c') OR h IN ('a','b\'c')",
    ),
    ("var sqlstring", "${hosts:sqlstring}", base, r"'a','b\'c'"),
    ("var csv", "${hosts:csv}", base, r"a,'b\'c'"),
    ("var in list", "x IN ($svc)", base, "x IN ('checkout')"),
    (
        "conditionalAll on empty",
        "WHERE $__conditionalAll(h IN ($none), $none)",
        base,
        "WHERE 1=1",
    ),
    (
        "conditionalTest 3 args",
        "WHERE 1 $conditionalTest(AND s = '$svc', AND 0, $svc)",
        base,
        "WHERE 1  AND s = 'checkout' ",
    ),
    ("adhoc none", "WHERE $adhoc", altinity, "WHERE 1"),
    // Adversarial: opaque regions, nesting, errors, unknowns, hostile values.
    (
        "macro in string",
        "SELECT '$__timeFilter(ts)', '$table'",
        altinity,
        "SELECT '$__timeFilter(ts)', '$table'",
    ),
    (
        "macro in comments",
        "-- $__fromTime\n/* $timeFilter */ SELECT 1",
        altinity,
        "-- $__fromTime\n/* $timeFilter */ SELECT 1",
    ),
    (
        "macro in backticks",
        "SELECT `$__fromTime`, `a--b` FROM t WHERE $__fromTime",
        base,
        "SELECT `$__fromTime`, `a--b` FROM t WHERE toDateTime(1654041600)",
    ),
    (
        "macro in heredoc",
        "SELECT $x$ $__toTime $x$, $__toTime",
        base,
        "SELECT $x$ $__toTime $x$, toDateTime(1654063200)",
    ),
    (
        "escaped quote",
        r"WHERE m = 'it\'s $__toTime' AND $__toTime",
        base,
        r"WHERE m = 'it\'s $__toTime' AND toDateTime(1654063200)",
    ),
    (
        "doubled quote",
        "WHERE m = 'it''s' AND $__toTime",
        base,
        "WHERE m = 'it''s' AND toDateTime(1654063200)",
    ),
    (
        "nested",
        "$__timeInterval_ms($__fromTime_ms)",
        base,
        "toStartOfInterval(toDateTime64(fromUnixTimestamp64Milli(1654041600250), 3), INTERVAL 60000 millisecond)",
    ),
    (
        "nested in expression",
        "$__timeTo(coalesce(a, $__fromTime))",
        base,
        "coalesce(a, toDateTime(1654041600)) <= toDateTime(1654063200)",
    ),
    (
        "longest name wins",
        "$__timeFilter_ms(a) $__timeFilterX(a)",
        base,
        "a >= fromUnixTimestamp64Milli(1654041600250) AND a <= fromUnixTimestamp64Milli(1654063200750) $__timeFilterX(a)",
    ),
    (
        "unknown macros stay",
        "$__nope(1) $nope ${nope} [[nope]]",
        altinity,
        "$__nope(1) $nope ${nope} [[nope]]",
    ),
    (
        "unbalanced parens",
        "$__timeFilter(ts",
        base,
        "ERR expected 1 argument(s), received 0",
    ),
    (
        "wrong arity",
        "$__timeGroup(ts)",
        base,
        "ERR $__timeGroup at byte 0: expected 2 argument(s), received 1",
    ),
    (
        "bare function macro",
        "$__timeInterval",
        base,
        "ERR expected 1 argument(s)",
    ),
    (
        "bad duration",
        "$__timeGroup(ts, 1w)",
        base,
        "ERR invalid argument",
    ),
    (
        "two statements",
        "$__lttb(5, a, b) FROM t UNION ALL $__lttb(5, a, b) FROM t",
        base,
        "ERR only one statement macro",
    ),
    (
        "hostile value in code",
        "WHERE a = $evil",
        base,
        r"WHERE a = 'x\' OR 1=1 -- */'",
    ),
    (
        "hostile value in literal",
        "WHERE a = '$evil'",
        base,
        r"WHERE a = 'x\' OR 1=1 -- */'",
    ),
    (
        "hostile value in backticks",
        "SELECT `$evil`",
        base,
        "SELECT `x' OR 1=1 -- */`",
    ),
    (
        "hostile value in comment",
        "/* $evil */ SELECT 1",
        base,
        "/* $evil */ SELECT 1",
    ),
    (
        "backslash value",
        "p = '$path' OR p = $path",
        base,
        r"p = 'C:\\tmp' OR p = 'C:\\tmp'",
    ),
    (
        "empty variable",
        "x IN ($none) AND y = '$none'",
        base,
        "x IN ('') AND y = ''",
    ),
    (
        "unsupported format",
        "${svc:regex}",
        base,
        "ERR unsupported variable format `regex`",
    ),
];

#[test]
fn table_of_cases() {
    let mut failures = Vec::new();
    for &(name, sql, ctx, want) in CASES {
        let got = expand(sql, &ctx());
        let ok = match (want.strip_prefix("ERR "), &got) {
            (Some(msg), Err(e)) => e.to_string().contains(msg),
            (None, Ok(s)) => s == want,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{name}: {sql:?}\n  got:  {got:?}\n  want: {want:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn catalog_covers_every_function_macro_in_the_table() {
    let missing: Vec<&str> = catalog()
        .iter()
        .filter(|d| matches!(d.expander, catalog::Expander::Function(_)))
        .map(|d| d.name)
        .filter(|name| !CASES.iter().any(|c| c.1.contains(name)))
        .collect();
    assert!(missing.is_empty(), "no table case for {missing:?}");
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// SQL pieces: macros, variable references in every position, and every kind of region the
/// lexer knows, including the ones an apostrophe inside them must not unbalance.
const PIECES: &[&str] = &[
    "$__timeFilter(",
    "$__fromTime",
    "$__columns(",
    "$__lttb(",
    "$timeSeries",
    "$columns(",
    "$rate(",
    "$table",
    "$timeFilterByColumn(",
    "$unescape(",
    "$conditionalTest(",
    "$__conditionalAll(",
    "$adhoc",
    "$evil",
    "$neg",
    "'$evil'",
    "`$evil`",
    "\"$evil\"",
    "${evil:csv}",
    "${evil:singlequote}",
    "${evil:doublequote}",
    "[[evil]]",
    "-$neg",
    "$",
    "$$",
    "$x$",
    "(",
    ")",
    ",",
    "'",
    "\\",
    "`",
    "\"",
    "--",
    "-",
    "# it's\n",
    "#!x'\n",
    "#'",
    "// it's\n",
    "/* it's */",
    "/* a /* it's */ b */",
    "/*",
    "*/",
    "‘it’",
    "“a'b”",
    "$q$ it's $q$",
    "1e-",
    "\n",
    " FROM t ",
    " WHERE ",
    " GROUP BY ",
    "é",
    "a",
    " ",
    "${",
    "}",
    "[[",
    "]]",
    ":",
];

/// Marks every hostile value, so the output can be searched for it.
const MARK: &str = "ZQX";

/// A context with hostile values and varied numbers (interval, `round`, `intervalFactor`,
/// range), including absurd ones a request could carry.
fn generated_context(g: &mut Gen, dialect: Dialect) -> MacroContext {
    let mut ctx = MacroContext { dialect, ..base() };
    let from = [0, 1_654_041_600_250, i64::MAX / 2_000_000, -86_400_000][g.below(4)];
    let len = [0, 1, 3_600_000, 10 * 365 * 86_400_000, i64::MAX / 4_000_000][g.below(5)];
    ctx.time_range = TimeRange::from_millis(from, from.saturating_add(len));
    ctx.interval_ms = [0, 1, 60_000, u64::MAX][g.below(4)];
    ctx.max_data_points = [0, 1, 500, u64::MAX][g.below(4)];
    ctx.altinity.interval =
        ["", "1m", "0s", "100ms", "9999999999999y", "1.5h", "x"][g.below(7)].into();
    ctx.altinity.round =
        ["", "0s", "$step", "1m", "99999999999999999999d", "-1s"][g.below(6)].into();
    ctx.altinity.interval_factor = [0, 1, 3, u32::MAX][g.below(4)];
    ctx.altinity.skip_comments = g.below(2) == 0;
    ctx.altinity.add_metadata = g.below(2) == 0;
    ctx.altinity.use_window_functions = g.below(2) == 0;
    ctx.variables.insert(
        "evil".into(),
        Variable::single(format!("{MARK}' OR 1=1 -- */ # \\ ` \" $x$ ‘’“”\n/*")),
    );
    ctx.variables.insert("neg".into(), Variable::single("-1"));
    ctx
}

/// Whether every occurrence of [`MARK`] in `out` lies inside a string literal or a quoted
/// identifier, as the lexer reads `out`.
fn marks_are_quoted(out: &str) -> Result<(), String> {
    let regions = regions(out);
    for (at, _) in out.match_indices(MARK) {
        let inside = regions.iter().any(|(r, kind)| {
            r.start < at && at + MARK.len() <= r.end && (kind.is_literal() || kind.is_identifier())
        });
        if !inside {
            return Err(format!("value at byte {at} is outside a literal"));
        }
    }
    Ok(())
}

#[test]
fn generated_inputs_never_panic_and_keep_values_quoted() {
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let mut expanded = 0;
    let mut refused = 0;
    for n in 0..8000 {
        let dialect = if n % 2 == 0 {
            Dialect::Grafana
        } else {
            Dialect::Altinity
        };
        let ctx = generated_context(&mut g, dialect);
        let len = g.below(14);
        let sql: String = (0..len).map(|_| g.pick(PIECES)).collect();
        let out = match expand(&sql, &ctx) {
            Ok(out) => out,
            Err(e) if e.kind == MacroErrorKind::ValueEscapesLiteral => {
                refused += 1;
                continue;
            }
            Err(_) => continue,
        };
        expanded += 1;
        if let Err(why) = marks_are_quoted(&out) {
            panic!("{why}\n  input:  {sql:?}\n  output: {out:?}");
        }
    }
    // Most inputs expand (the rest are macro errors): the invariant is checked on real output.
    assert!(expanded > 4000, "only {expanded} inputs expanded");
    // Inputs whose lexing a pass changes exist in the generated set and are refused.
    assert!(refused > 0, "no input was refused");
}

#[test]
fn sql_whose_dollars_are_all_opaque_or_unknown_is_unchanged() {
    // `$` and `[[` inside comments, heredocs and Unicode-quoted strings, and unknown names in code:
    // none of them may change anything, whatever the apostrophes and quotes around them.
    const OPAQUE: &[&str] = &[
        "-- $__fromTime it's\n",
        "# $timeSeries it's\n",
        "#!$table'\n",
        "// $__toTime it's\n",
        "/* $evil /* it's */ $__fromTime */",
        "$q$ $evil it's $q$",
        "$$ $__fromTime $$",
        "‘$evil’",
        "“$evil”",
        "'$__fromTime it''s'",
        "`$__toTime`",
        "$nope",
        "${nope}",
        "[[nope]]",
        "#tag",
        "1e--1",
        " x ",
        "(",
        ")",
        ",",
        "\n",
    ];
    let mut g = Gen(42);
    for n in 0..4000 {
        let mut ctx = if n % 2 == 0 { base() } else { altinity() };
        ctx.variables
            .insert("evil".into(), Variable::single(format!("{MARK}'")));
        let len = 1 + g.below(10);
        // Separated by spaces: `#tag$q$` is one word for ClickHouse, not a heredoc.
        let sql: Vec<&str> = (0..len).map(|_| g.pick(OPAQUE)).collect();
        let sql = sql.join(" ");
        let sql = sql.trim();
        assert_eq!(expand(sql, &ctx).as_deref(), Ok(sql), "{sql:?}");
    }
}

#[test]
fn expansion_is_idempotent_on_its_own_output() {
    let ctx = base();
    for &(_, sql, make, want) in CASES {
        if want.starts_with("ERR ") || make().dialect != Dialect::Grafana {
            continue;
        }
        let once = expand(sql, &ctx).unwrap();
        if once.contains("$__conditionalAll") || once.contains("$x$") {
            continue;
        }
        assert_eq!(expand(&once, &ctx).unwrap(), once, "{sql}");
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions (issue 12): values that escaped their literal because a comment or a sign was
// misread.
// ---------------------------------------------------------------------------------------------

/// The value of issue 12's injection: it closes a literal and unions another table in.
const UNION: &str = "' UNION ALL SELECT secret FROM t WHERE 1 OR name = '";

fn with_union(dialect: Dialect) -> MacroContext {
    let mut ctx = MacroContext { dialect, ..base() };
    ctx.altinity.skip_comments = true;
    ctx.variables.insert("v".into(), Variable::single(UNION));
    ctx
}

/// Asserts that `out` holds the whole value as one string literal.
fn assert_value_is_one_literal(out: &str) {
    let literal = crate::sql::string_literal(UNION);
    let at = out
        .find(&literal)
        .unwrap_or_else(|| panic!("no literal in {out:?}"));
    let regions = regions(out);
    assert!(
        regions
            .iter()
            .any(|(r, k)| *k == Region::String && r.start == at && r.end == at + literal.len()),
        "{out:?}"
    );
}

#[test]
fn r12_hash_comment_apostrophe_does_not_unquote_a_variable_grafana() {
    let sql = "SELECT name FROM t # it's the table\nWHERE name = '$v'";
    let out = expand(sql, &with_union(Dialect::Grafana)).unwrap();
    assert_eq!(
        out,
        "SELECT name FROM t # it's the table\nWHERE name = '\\' UNION ALL SELECT secret FROM t WHERE 1 OR name = \\''"
    );
    assert_value_is_one_literal(&out);
}

#[test]
fn r12_hash_comment_apostrophe_does_not_unquote_a_variable_altinity_query_model() {
    let sql = "SELECT name FROM $table # it's the table\nWHERE name = '$v' AND $timeFilter";
    let out = expand(sql, &with_union(Dialect::Altinity)).unwrap();
    // skip_comments removed the comment; the value is still one literal.
    assert!(
        out.starts_with("SELECT name FROM otel.spans \nWHERE name = '\\' UNION"),
        "{out}"
    );
    assert_value_is_one_literal(&out);
    // The same with `#!` and `//` comments, and with the comments kept.
    for comment in ["#! it's", "// it's"] {
        for skip in [true, false] {
            let mut ctx = with_union(Dialect::Altinity);
            ctx.altinity.skip_comments = skip;
            let sql = format!("SELECT name FROM t {comment}\nWHERE name = '$v'");
            assert_value_is_one_literal(&expand(&sql, &ctx).unwrap());
            assert_value_is_one_literal(&expand(&sql, &with_union(Dialect::Grafana)).unwrap());
        }
    }
}

#[test]
fn r12_negative_number_after_minus_does_not_comment_out_the_rest() {
    let mut ctx = base();
    ctx.variables.insert("lag".into(), Variable::single("-1"));
    let sql = "SELECT * FROM t WHERE n = 1 -$lag AND tenant = 'acme'";
    assert_eq!(
        expand(sql, &ctx).unwrap(),
        "SELECT * FROM t WHERE n = 1 -(-1) AND tenant = 'acme'"
    );
    assert_eq!(
        expand("SELECT 1 -${lag:csv}", &ctx).unwrap(),
        "SELECT 1 -(-1)"
    );
}

#[test]
fn r12_nested_block_comment_apostrophe_does_not_unquote_a_variable() {
    let sql = "SELECT name FROM t /* a /* b */ it's */ WHERE name = '$v'";
    for dialect in [Dialect::Grafana, Dialect::Altinity] {
        let mut ctx = with_union(dialect);
        ctx.altinity.skip_comments = false;
        let out = expand(sql, &ctx).unwrap();
        assert!(out.contains("/* a /* b */ it's */"), "{out}");
        assert_value_is_one_literal(&out);
    }
}

#[test]
fn r12_unicode_quoted_apostrophe_does_not_unquote_a_variable() {
    let sql = "SELECT ‘it's’ FROM t WHERE name = '$v'";
    assert_value_is_one_literal(&expand(sql, &with_union(Dialect::Grafana)).unwrap());
}

#[test]
fn r12_unescape_refuses_values_it_would_run_as_sql() {
    let ctx = with_union(Dialect::Altinity);
    let e = expand("SELECT $unescape('$v') FROM t", &ctx).unwrap_err();
    assert!(matches!(e.kind, MacroErrorKind::InvalidArgument(_)), "{e}");
    let mut ok = altinity();
    ok.variables
        .insert("c".into(), Variable::single("ServiceName"));
    assert_eq!(
        expand("SELECT $unescape('$c') FROM t", &ok).unwrap(),
        "SELECT ServiceName FROM t"
    );
}

#[test]
fn r12_removed_comments_do_not_join_tokens() {
    let mut ctx = altinity();
    ctx.altinity.skip_comments = true;
    assert_eq!(
        expand("SELECT 1 -/* c */-1, a/**/b FROM $table", &ctx).unwrap(),
        "SELECT 1 - -1, a b FROM otel.spans"
    );
}
