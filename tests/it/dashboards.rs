//! The bundled dashboards (`dashboards/*.json`) against the demo data the main job loads
//! (`provisioning/clickhouse/otel-demo.sql`), through the real plugin.
//!
//! Everything a dashboard asks of the plugin is sent the way Grafana and Lantern's frontend send
//! it: variable queries run as table queries, and each panel query carries the values of the
//! variables its SQL references in `templateVars` (what `applyTemplateVariables` in
//! `frontend/src/datasource.ts` builds: the selected values, or every option with
//! `allSelected` for "All", or the dashboard's `customAllValue`); the backend expands them and the
//! macros. Every panel also runs the way Explore runs it and an alert rule made from it runs
//! it: the variables substituted in the browser (Grafana's `singlequote`/`sqlstring`/`csv`/…
//! formatters, Lantern's `interpolate.ts` rules elsewhere), the macros left to the backend, time
//! series sent as alerting sends them (`FromAlert`); it must show the same data. Data links are
//! interpolated here the way Grafana does
//! (`${__value.raw}`, `${__field.labels.x}`, `${__data.fields.x}`, `${datasource}`, time range),
//! with each value URI-encoded, and followed.
//!
//! For every dashboard: each variable with "All", with one value and with several (values taken
//! from the variable's own query) and, where variables are chained, every variable narrowed in
//! turn. Each answer must be of the panel's kind with the right field types (time series frames,
//! a `log-lines` frame, one table frame, a trace frame behind trace links); picking a value must
//! narrow the result (fewer rows or series or a lower total, or a column showing the variable
//! that All showed with other values), and every row that shows the variable's column must
//! belong to the pick. Levels must be normalised (and known: every demo line has a severity).
//! Panel counts and the slowest panel query are printed, never asserted.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::engine::{TestDb, engine, sql_statements};
use crate::grafana_frames::{Frame, Kind};
use crate::host::{Answer, Host, Q, datasource};

const HOUR_MS: i64 = 3_600_000;
const PLUGIN_ID: &str = "lantern-clickhouse-datasource";
/// Grafana's log levels: the only severities and `level` labels a normalised panel may show.
const LEVELS: [&str; 7] = [
    "critical", "error", "warning", "info", "debug", "trace", "unknown",
];

fn root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The demo data, loaded into the test's own database instead of `otel`.
fn demo(db: &TestDb) -> Duration {
    let started = Instant::now();
    let text =
        std::fs::read_to_string(root().join("provisioning/clickhouse/otel-demo.sql")).unwrap();
    for stmt in sql_statements(&text) {
        if !stmt.contains("CREATE DATABASE") {
            db.exec(&stmt.replace("otel.", &format!("{}.", db.name)));
        }
    }
    started.elapsed()
}

fn dashboards() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(root().join("dashboards"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The datasource uid `provisioning/datasources/lantern.yaml` provisions.
fn provisioned_uid() -> String {
    let text =
        std::fs::read_to_string(root().join("provisioning/datasources/lantern.yaml")).unwrap();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("uid:"))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .expect("provisioned datasource uid")
}

/// Whether `sql` mentions `$name`, `${name}`, `${name:fmt}` or `[[name]]` (the frontend's
/// `referencesVariable`: only those variables are sent).
fn references(sql: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let plain = format!("${name}");
    sql.match_indices(&plain)
        .any(|(i, m)| !sql[i + m.len()..].starts_with(ident))
        || [
            format!("${{{name}}}"),
            format!("${{{name}:"),
            format!("[[{name}]]"),
            format!("[[{name}:"),
        ]
        .iter()
        .any(|p| sql.contains(p.as_str()))
}

/// A variable's selection.
#[derive(Clone, Debug)]
enum Pick {
    All,
    Values(Vec<String>),
}

impl Pick {
    fn holds(&self, v: &str) -> bool {
        match self {
            Pick::All => true,
            Pick::Values(vs) => vs.iter().any(|x| x == v),
        }
    }
}

/// A dashboard variable and what Grafana knows of it.
#[derive(Clone, Debug)]
struct Var {
    name: String,
    def: Value,
    textbox: bool,
    /// The SQL of its query (query variables).
    sql: String,
    /// Options with every other variable at All.
    options: Vec<String>,
}

/// The dashboard state: each variable's selection and current options.
#[derive(Clone, Debug)]
struct State {
    picks: BTreeMap<String, Pick>,
    options: BTreeMap<String, Vec<String>>,
    /// Textbox values.
    text: BTreeMap<String, String>,
}

/// `templateVars` for `sql`, as `applyTemplateVariables` builds it.
fn template_vars(sql: &str, vars: &[Var], st: &State) -> Value {
    let mut out = serde_json::Map::new();
    for v in vars.iter().filter(|v| references(sql, &v.name)) {
        let value = if v.textbox {
            let t = st.text.get(&v.name).cloned().unwrap_or_default();
            json!({"values": [t], "text": t, "multi": false, "includeAll": false, "allSelected": false})
        } else {
            let (multi, include_all) = (v.def["multi"].clone(), v.def["includeAll"].clone());
            match &st.picks[&v.name] {
                Pick::All => match v.def["allValue"].as_str().filter(|s| !s.is_empty()) {
                    Some(custom) => json!({"values": [], "text": "All", "multi": multi,
                        "includeAll": include_all, "allSelected": true, "customAllValue": custom}),
                    None => json!({"values": st.options[&v.name], "text": "All", "multi": multi,
                        "includeAll": include_all, "allSelected": true}),
                },
                Pick::Values(vs) => json!({"values": vs, "text": vs.join(" + "), "multi": multi,
                    "includeAll": include_all, "allSelected": false}),
            }
        };
        out.insert(v.name.clone(), value);
    }
    Value::Object(out)
}

struct Run<'a> {
    host: &'a Host,
    ds: &'a grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings,
    now_ms: i64,
    range_ms: i64,
}

impl Run<'_> {
    fn q(&self, ref_id: &str, mut json: Value) -> Q {
        json.as_object_mut().unwrap().remove("datasource");
        json["refId"] = json!(ref_id);
        Q {
            ref_id: ref_id.to_owned(),
            json,
            from_ms: self.now_ms - self.range_ms,
            to_ms: self.now_ms,
            // Grafana's interval for the range on a ~1200 px wide panel.
            interval_ms: (self.range_ms / 1200).max(1_000),
            max_data_points: 1200,
        }
    }

    async fn one(&self, json: Value) -> (Answer, Duration) {
        let started = Instant::now();
        let mut answers = self.host.query(self.ds, vec![self.q("A", json)]).await;
        (answers.remove("A").unwrap(), started.elapsed())
    }

    /// A query variable's options under `st` (its query is a table query; the first field).
    async fn options(&self, v: &Var, vars: &[Var], st: &State) -> Vec<String> {
        // `toVariableQuery`: the variable's SQL query, as a table.
        let mut target = v.def["query"].clone();
        target["format"] = json!(1);
        target["queryType"] = json!("table");
        target["templateVars"] = template_vars(&v.sql, vars, st);
        let (a, _) = self.one(target).await;
        assert!(a.error.is_empty(), "variable {}: {}", v.name, a.error);
        a.frame().fields[0]
            .values
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect()
    }

    /// Runs a panel's target under `st`.
    async fn panel(&self, target: &Value, vars: &[Var], st: &State) -> (Answer, Duration) {
        let mut json = target.clone();
        let sql = json["rawSql"].as_str().unwrap_or("").to_owned();
        json["templateVars"] = template_vars(&sql, vars, st);
        self.one(json).await
    }

    /// Runs a panel's target as Explore does, and as an alert rule made from the panel does:
    /// variables substituted in the browser (`interpolateVariablesInQueries`), no
    /// `templateVars`; time series as alerting sends them (`FromAlert`).
    async fn panel_in_explore(
        &self,
        target: &Value,
        panel_type: &str,
        vars: &[Var],
        st: &State,
    ) -> Answer {
        let mut json = target.clone();
        let sql = explore_sql(json["rawSql"].as_str().unwrap_or(""), vars, st);
        json["rawSql"] = json!(sql);
        let mut headers = std::collections::HashMap::new();
        if panel_type == "timeseries" {
            headers.insert("FromAlert".to_owned(), "true".to_owned());
        }
        let mut answers = self
            .host
            .query_with_headers(self.ds, vec![self.q("A", json)], headers)
            .await;
        answers.remove("A").unwrap()
    }
}

// ---- Grafana-side interpolation (a panel opened in Explore) ---------------------------------
//
// When a panel is opened in Explore (or copied), Lantern's frontend substitutes the variables in
// the browser (`interpolateVariablesInQueries`, rules in `frontend/src/interpolate.ts`): the
// conditionals are resolved first; then, outside comments and `$tag$` heredocs, each reference
// is formatted by its explicit `:format` with Grafana's formatter, else by Lantern's SQL
// formatter (code) or the escaped literal content (inside quotes); `$__` references stay for the
// backend. The same panel must show the same data both ways.

/// What Grafana hands a formatter: the selected values (a list for multi-value variables and All),
/// or the text of a text box.
struct GrafanaValue {
    values: Vec<String>,
    list: bool,
    text: String,
    all_or_empty: bool,
}

fn grafana_value(v: &Var, st: &State) -> GrafanaValue {
    if v.textbox {
        let t = st.text.get(&v.name).cloned().unwrap_or_default();
        return GrafanaValue {
            all_or_empty: t.is_empty(),
            values: vec![t.clone()],
            list: false,
            text: t,
        };
    }
    let list = v.def["multi"] == true || v.def["includeAll"] == true;
    match &st.picks[&v.name] {
        Pick::All => match v.def["allValue"].as_str().filter(|s| !s.is_empty()) {
            Some(custom) => GrafanaValue {
                values: vec![custom.to_owned()],
                list: false,
                text: "All".into(),
                all_or_empty: true,
            },
            None => GrafanaValue {
                values: st.options[&v.name].clone(),
                list: true,
                text: "All".into(),
                all_or_empty: true,
            },
        },
        Pick::Values(vs) => GrafanaValue {
            values: vs.clone(),
            list,
            text: vs.join(" + "),
            all_or_empty: vs.is_empty(),
        },
    }
}

/// ClickHouse string literal content, as `escapeStringContent` writes it.
fn escape_content(v: &str) -> String {
    let mut out = String::new();
    for c in v.chars() {
        match c {
            '\\' | '\'' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out
}

fn is_number(s: &str) -> bool {
    s.parse::<f64>().is_ok() && s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c))
}

/// Where a reference stands in the SQL.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Code,
    Quoted,
}

/// One reference formatted: Grafana's formatter for an explicit format, else Lantern's.
fn format_value(g: &GrafanaValue, fmt: Option<&str>, place: Place) -> String {
    let each = |f: &dyn Fn(&str) -> String| -> String {
        g.values.iter().map(|v| f(v)).collect::<Vec<_>>().join(",")
    };
    match fmt {
        Some("singlequote") => each(&|v| format!("'{}'", v)),
        Some("sqlstring") => each(&|v| format!("'{}'", v.replace('\'', "''").replace('"', "\\\""))),
        Some("doublequote") => each(&|v| format!("\"{}\"", v.replace('"', "\\\""))),
        Some("csv") | Some("raw") => g.values.join(","),
        Some("text") => g.text.clone(),
        Some(other) => panic!("format {other} is not covered by this test"),
        None if place == Place::Quoted => each(&|v| escape_content(v)),
        None if g.list => {
            if g.values.is_empty() {
                "''".into()
            } else {
                each(&|v| format!("'{}'", escape_content(v)))
            }
        }
        None => {
            let v = g.values.first().cloned().unwrap_or_default();
            if is_number(&v) {
                v
            } else {
                format!("'{}'", escape_content(&v))
            }
        }
    }
}

/// End of the region (string, quoted identifier, comment, heredoc) opening at `i`, if any;
/// `true` when it is a quoted region whose content gets substitutions.
fn region_end(s: &str, i: usize) -> Option<(usize, bool)> {
    let b = s.as_bytes();
    let quoted = |q: u8| {
        let mut j = i + 1;
        while j < b.len() {
            if b[j] == b'\\' {
                j += 2;
            } else if b[j] == q {
                if b.get(j + 1) == Some(&q) {
                    j += 2;
                } else {
                    return j + 1;
                }
            } else {
                j += 1;
            }
        }
        b.len()
    };
    match b[i] {
        b'\'' | b'"' | b'`' => Some((quoted(b[i]).min(b.len()), true)),
        b'-' if b.get(i + 1) == Some(&b'-') => {
            Some((s[i..].find('\n').map_or(s.len(), |n| i + n), false))
        }
        b'/' if b.get(i + 1) == Some(&b'*') => Some((
            s[i + 2..].find("*/").map_or(s.len(), |n| i + 2 + n + 2),
            false,
        )),
        b'$' => {
            let tag_len = s[i + 1..].find('$')?;
            let tag = &s[i + 1..i + 1 + tag_len];
            if !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || tag.starts_with(|c: char| c.is_ascii_digit())
            {
                return None;
            }
            let open = &s[i..i + tag_len + 2];
            s[i + open.len()..]
                .find(open)
                .map(|n| (i + open.len() + n + open.len(), false))
        }
        _ => None,
    }
}

/// Substitutes variable references in a code or quoted-content run (`$__` references untouched).
fn substitute(text: &str, place: Place, vars: &[Var], st: &State) -> String {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let parsed = if let Some(r) = rest.strip_prefix("${") {
            r.find('}').map(|e| {
                let inner = &r[..e];
                let (name, fmt) = inner
                    .split_once(':')
                    .map_or((inner, None), |(n, f)| (n, Some(f)));
                (name, fmt, e + 3)
            })
        } else if let Some(r) = rest.strip_prefix("[[") {
            r.find("]]").map(|e| {
                let inner = &r[..e];
                let (name, fmt) = inner
                    .split_once(':')
                    .map_or((inner, None), |(n, f)| (n, Some(f)));
                (name, fmt, e + 4)
            })
        } else if let Some(r) = rest.strip_prefix('$') {
            let n = r.find(|c: char| !ident(c)).unwrap_or(r.len());
            Some((&r[..n], None, n + 1))
        } else {
            None
        };
        match parsed {
            Some((name, fmt, len)) if !name.starts_with("__") && !name.is_empty() => {
                match vars.iter().find(|v| v.name == name) {
                    Some(v) => out.push_str(&format_value(&grafana_value(v, st), fmt, place)),
                    None => out.push_str(&rest[..len]),
                }
                i += len;
            }
            Some((_, _, len)) => {
                out.push_str(&rest[..len]);
                i += len;
            }
            None => {
                let c = rest.chars().next().unwrap();
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// `$__conditionalAll(cond, $v)` and `$conditionalTest(sql[, else], $v)` resolved, as
/// `resolveConditionals` does.
fn resolve_conditionals(sql: &str, vars: &[Var], st: &State) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < sql.len() {
        if let Some((end, _)) = region_end(sql, i) {
            out.push_str(&sql[i..end]);
            i = end;
            continue;
        }
        let rest = &sql[i..];
        let name = ["$__conditionalAll(", "$conditionalTest("]
            .into_iter()
            .find(|p| rest.starts_with(p));
        let Some(name) = name else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
            continue;
        };
        // Arguments: commas at depth zero, outside regions.
        let mut args = Vec::new();
        let (mut depth, mut j, mut start) = (0, i + name.len(), i + name.len());
        loop {
            if let Some((end, _)) = region_end(sql, j) {
                j = end;
                continue;
            }
            match sql.as_bytes()[j] {
                b'(' => depth += 1,
                b')' if depth > 0 => depth -= 1,
                b')' => {
                    args.push(sql[start..j].trim().to_owned());
                    break;
                }
                b',' if depth == 0 => {
                    args.push(sql[start..j].trim().to_owned());
                    start = j + 1;
                }
                _ => {}
            }
            j += 1;
        }
        let var = args
            .last()
            .unwrap()
            .trim_start_matches('$')
            .trim_matches(['{', '}']);
        let v = vars
            .iter()
            .find(|v| v.name == var)
            .expect("conditional on a dashboard variable");
        let all = grafana_value(v, st).all_or_empty;
        let chosen = if name == "$__conditionalAll(" {
            if all {
                "1=1".to_owned()
            } else {
                resolve_conditionals(&args[0], vars, st)
            }
        } else if !all {
            format!(" {} ", resolve_conditionals(&args[0], vars, st))
        } else if args.len() == 3 {
            format!(" {} ", resolve_conditionals(&args[1], vars, st))
        } else {
            " ".to_owned()
        };
        out.push_str(&chosen);
        i = j + 1;
    }
    out
}

/// The SQL Explore runs for a panel query: variables substituted in the browser.
fn explore_sql(sql: &str, vars: &[Var], st: &State) -> String {
    let sql = resolve_conditionals(sql, vars, st);
    let mut out = String::new();
    let (mut i, mut code) = (0, 0);
    while i < sql.len() {
        let Some((end, quoted)) = region_end(&sql, i) else {
            i += sql[i..].chars().next().unwrap().len_utf8();
            continue;
        };
        out.push_str(&substitute(&sql[code..i], Place::Code, vars, st));
        let region = &sql[i..end];
        if quoted && region.len() >= 2 {
            let q = &region[..1];
            let closed = region.ends_with(q) && region.len() >= 2;
            let inner = &region[1..if closed {
                region.len() - 1
            } else {
                region.len()
            }];
            out.push_str(q);
            out.push_str(&substitute(inner, Place::Quoted, vars, st));
            if closed {
                out.push_str(q);
            }
        } else {
            out.push_str(region);
        }
        i = end;
        code = i;
    }
    out.push_str(&substitute(&sql[code..], Place::Code, vars, st));
    out
}

/// The same panel, in the dashboard (backend-expanded) and in Explore (browser-interpolated),
/// shows the same data.
fn same_data(where_: &str, dashboard: &Answer, explore: &Answer) {
    assert!(
        explore.error.is_empty(),
        "{where_} in Explore: {}",
        explore.error
    );
    let (a, b) = (view(dashboard), view(explore));
    let mut ra = a.rows.clone();
    let mut rb = b.rows.clone();
    ra.sort();
    rb.sort();
    assert!(
        a.count == b.count
            && (a.total - b.total).abs() <= 1e-6 * a.total.abs().max(1.0)
            && ra == rb,
        "{where_}: the dashboard ({} rows, total {}) and Explore ({} rows, total {}) show the same data",
        a.count,
        a.total,
        b.count,
        b.total
    );
}

/// Result columns (and logs label keys) that show a variable's values: the dashboards name a
/// variable's column after the variable; logs frames also carry the OTel attribute.
fn shown_keys(var: &str) -> Vec<String> {
    let attr = match var {
        "namespace" => "k8s.namespace.name",
        "workload" => "k8s.deployment.name",
        "pod" => "k8s.pod.name",
        "container" => "k8s.container.name",
        "service" => "service.name",
        _ => "",
    };
    [var, attr]
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.to_string())
        .collect()
}

/// An answer as rows of named string values (table rows, log lines with their labels, one row
/// of labels per time series) plus its size.
#[derive(Debug, Default)]
struct View {
    rows: Vec<BTreeMap<String, String>>,
    /// Table rows, log lines or series.
    count: usize,
    /// Sum of every numeric value.
    total: f64,
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn view(a: &Answer) -> View {
    let mut out = View::default();
    for f in &a.frames {
        let series = f.meta["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("timeseries-"));
        for field in &f.fields {
            if field.kind == Kind::Number {
                out.total += field
                    .values
                    .iter()
                    .filter_map(Value::as_f64)
                    .filter(|x| x.is_finite())
                    .sum::<f64>();
            }
        }
        if series {
            for field in f.fields.iter().filter(|x| x.kind == Kind::Number) {
                out.count += 1;
                out.rows.push(field.labels.clone().into_iter().collect());
            }
            continue;
        }
        for i in 0..f.rows() {
            let mut row = BTreeMap::new();
            for field in &f.fields {
                if field.name == "labels" && field.kind == Kind::Json {
                    if let Some(m) = field.values[i].as_object() {
                        for (k, v) in m {
                            if let Some(t) = text_of(v) {
                                row.insert(k.clone(), t);
                            }
                        }
                    }
                } else if let Some(t) = text_of(&field.values[i]) {
                    row.insert(field.name.clone(), t);
                }
            }
            out.rows.push(row);
            out.count += 1;
        }
    }
    out
}

/// A normalised level other than `unknown`: every demo line has a severity, in one of many
/// spellings (text only for the sidecars and coredns), so `unknown` means one was missed.
fn known_level(level: &str) -> bool {
    LEVELS.contains(&level) && level != "unknown"
}

/// Checks that an answer is of the panel's kind with the right field types. `must_show` requires
/// data (the default view); a narrowed pick may find nothing.
fn check_kind(where_: &str, panel_type: &str, a: &Answer, must_show: bool) {
    assert!(a.error.is_empty(), "{where_}: {}", a.error);
    let rows: usize = a.frames.iter().map(Frame::rows).sum();
    if must_show {
        assert!(rows > 0, "{where_}: shows data");
    }
    match panel_type {
        "timeseries" => {
            for f in &a.frames {
                if f.fields.is_empty() {
                    assert!(!must_show, "{where_}: no-data frame");
                    continue;
                }
                let t = f.meta["type"].as_str().unwrap_or("");
                assert!(t.starts_with("timeseries-"), "{where_}: frame type {t:?}");
                assert_eq!(f.fields[0].kind, Kind::Time, "{where_}: time field first");
                assert!(
                    f.fields[1..].iter().all(|x| x.kind == Kind::Number) && f.fields.len() > 1,
                    "{where_}: numeric value fields {:?}",
                    f.fields
                        .iter()
                        .map(|x| (&x.name, &x.kind))
                        .collect::<Vec<_>>()
                );
                for field in &f.fields[1..] {
                    if let Some(level) = field.labels.get("level") {
                        assert!(
                            known_level(level),
                            "{where_}: level {level:?} is not normalised"
                        );
                    }
                }
            }
        }
        "logs" => {
            assert_eq!(a.frames.len(), 1, "{where_}: one logs frame");
            let f = &a.frames[0];
            assert_eq!(f.meta["type"], "log-lines", "{where_}");
            check_fields(
                where_,
                f,
                &[
                    ("timestamp", Kind::Time),
                    ("body", Kind::String),
                    ("severity", Kind::String),
                    ("id", Kind::String),
                    ("labels", Kind::Json),
                    ("traceID", Kind::String),
                ],
            );
            for s in &f.field("severity").values {
                assert!(
                    known_level(s.as_str().unwrap()),
                    "{where_}: severity {s} is not normalised"
                );
            }
            let links = &f.field("traceID").config.as_ref().expect("trace link")["links"];
            assert_eq!(
                links[0]["internal"]["query"]["queryType"], "traces",
                "{where_}: traceID links to the trace view"
            );
        }
        "table" => {
            assert_eq!(a.frames.len(), 1, "{where_}: one table frame");
            let f = &a.frames[0];
            assert!(
                f.fields.iter().any(|x| x.kind == Kind::String)
                    && f.fields.iter().any(|x| x.kind == Kind::Number),
                "{where_}: a table of names and numbers"
            );
            for x in &f.fields {
                let want = match x.name.as_str() {
                    "last_seen" => Some(Kind::Time),
                    "traceID" | "namespace" | "workload" | "pod" | "container" | "node"
                    | "service" | "operation" | "route" | "message" => Some(Kind::String),
                    n if n.ends_with("_ms") || n == "calls" || n == "errors" || n == "lines" => {
                        Some(Kind::Number)
                    }
                    _ => None,
                };
                if let Some(want) = want {
                    assert_eq!(x.kind, want, "{where_}: field {}", x.name);
                }
            }
        }
        other => panic!("{where_}: panel type {other} not covered"),
    }
}

/// The frame has these fields, of these kinds.
fn check_fields(where_: &str, f: &Frame, fields: &[(&str, Kind)]) {
    for (name, kind) in fields {
        assert_eq!(&f.field(name).kind, kind, "{where_}: field {name}");
    }
}

/// Checks a trace-view answer for `trace_id`.
fn check_trace(where_: &str, a: &Answer, trace_id: &str) {
    let f = a.frame();
    assert_eq!(
        f.meta["preferredVisualisationType"], "trace",
        "{where_}: trace frame"
    );
    assert!(f.rows() > 0, "{where_}: trace {trace_id} has spans");
    check_fields(
        where_,
        f,
        &[
            ("traceID", Kind::String),
            ("spanID", Kind::String),
            ("parentSpanID", Kind::String),
            ("operationName", Kind::String),
            ("serviceName", Kind::String),
            ("startTime", Kind::Number),
            ("duration", Kind::Number),
        ],
    );
    assert!(
        f.field("traceID").values.iter().all(|v| v == trace_id),
        "{where_}: only spans of {trace_id}"
    );
}

/// Every row showing a picked variable's column belongs to the pick.
fn check_members(where_: &str, v: &View, st: &State, vars: &[Var]) {
    for var in vars {
        if var.textbox {
            if let Some(t) = st.text.get(&var.name).filter(|t| !t.is_empty()) {
                let t = t.to_lowercase();
                for row in &v.rows {
                    if let Some(body) = row.get("body") {
                        assert!(
                            body.to_lowercase().contains(&t),
                            "{where_}: line {body:?} contains {t:?}"
                        );
                    }
                }
            }
            continue;
        }
        let pick = &st.picks[&var.name];
        for key in shown_keys(&var.name) {
            for row in &v.rows {
                if let Some(val) = row.get(&key) {
                    assert!(
                        pick.holds(val),
                        "{where_}: {key}={val:?} is outside the pick {pick:?} of {}",
                        var.name
                    );
                }
            }
        }
    }
}

/// The picked answer is narrower than the All answer: All showed rows outside the pick (in the
/// variable's column, or lines without the searched text), or the pick has fewer rows or series
/// or a lower total.
fn narrower(picked: &View, all: &View, var: &Var, pick: &Pick) -> bool {
    let shown_others = if var.textbox {
        let Pick::Values(t) = pick else { return false };
        let t = t[0].to_lowercase();
        all.rows.iter().any(|r| {
            r.get("body")
                .is_some_and(|b| !b.to_lowercase().contains(&t))
        })
    } else {
        shown_keys(&var.name).iter().any(|k| {
            all.rows
                .iter()
                .any(|r| r.get(k).is_some_and(|val| !pick.holds(val)))
        })
    };
    shown_others || picked.count < all.count || picked.total < all.total * (1.0 - 1e-9)
}

/// Grafana's URI encoding of a value in a data link URL (`encodeURIComponent`).
fn uri_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn uri_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// Interpolates a data link URL the way Grafana does; `None` when a variable it needs is missing
/// (Grafana shows no link then).
fn interpolate_link(url: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = url;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}')? + i;
        let name = &rest[i + 2..end];
        let value = vars.get(name)?;
        // Built-ins that are URL fragments already are inserted as they are.
        if name == "__url_time_range" {
            out.push_str(value);
        } else {
            out.push_str(&uri_encode(value));
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn query_params(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_decode(k), uri_decode(v))
        })
        .collect()
}

/// Data links of a panel: (field name or "" for every field, link).
fn panel_links(p: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for l in p["fieldConfig"]["defaults"]["links"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push((String::new(), l.clone()));
    }
    for o in p["fieldConfig"]["overrides"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for prop in o["properties"].as_array().into_iter().flatten() {
            if prop["id"] == "links" {
                for l in prop["value"].as_array().into_iter().flatten() {
                    assert_eq!(o["matcher"]["id"], "byName");
                    out.push((
                        o["matcher"]["options"].as_str().unwrap().to_owned(),
                        l.clone(),
                    ));
                }
            }
        }
    }
    out
}

/// A link to a bundled dashboard keeps the datasource and time range, and sets only variables the
/// target has, to values it offers (or All).
fn check_dashboard_link(where_: &str, url: &str, boards: &[Board], uid: &str) {
    let rest = url.strip_prefix("/d/").unwrap();
    let target_uid = rest.split(['?', '/']).next().unwrap();
    let target = boards
        .iter()
        .find(|b| b.uid == target_uid)
        .unwrap_or_else(|| panic!("{where_}: no bundled dashboard {target_uid}"));
    let params = query_params(url);
    assert!(
        params
            .iter()
            .any(|(k, v)| k == "var-datasource" && v == uid),
        "{where_}: keeps the datasource"
    );
    assert!(
        params.iter().any(|(k, _)| k == "from"),
        "{where_}: keeps the time range"
    );
    for (k, val) in params
        .iter()
        .filter(|(k, _)| k.starts_with("var-") && k != "var-datasource")
    {
        let name = &k["var-".len()..];
        let tv = target
            .vars
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("{where_}: {} has no variable {name}", target.file));
        assert!(
            tv.options.contains(val) || (val == "$__all" && tv.def["includeAll"] == true),
            "{where_}: {name}={val:?} is one of {}'s options {:?}",
            target.file,
            tv.options
        );
    }
}

struct Board {
    file: String,
    uid: String,
    vars: Vec<Var>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_dashboards_answer_every_variable_pick() {
    let db = engine().database("dashboards");
    let load = demo(&db);
    let e = engine();
    let (host_name, port) = e.host();
    let mut ds = datasource(
        json!({"host": host_name, "port": port, "username": e.user, "defaultDatabase": db.name}),
        &[("password", &e.password)],
    );
    // The uid provisioning gives the datasource, which the dashboards' `datasource` variables
    // default to.
    let uid = provisioned_uid();
    ds.uid = uid.clone();
    let host = Host::start().await;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let all = dashboards();
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("plugin.json")).unwrap())
            .unwrap();
    let included: Vec<&str> = manifest["includes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "dashboard")
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        included.len(),
        all.len(),
        "every dashboard in dashboards/ is bundled, and only those: {included:?}"
    );
    assert!(
        all.len() >= 4,
        "four dashboards: {:?}",
        all.iter().map(|d| &d.0).collect::<Vec<_>>()
    );
    println!("demo data loaded in {load:?}");

    // First pass: every dashboard's variables and their options with everything at All.
    let mut boards: Vec<Board> = Vec::new();
    for (file, d) in &all {
        assert!(
            included.contains(&format!("dashboards/{file}").as_str()),
            "{file} is bundled"
        );
        let run = Run {
            host: &host,
            ds: &ds,
            now_ms,
            range_ms: range_ms(d),
        };
        let mut vars: Vec<Var> = Vec::new();
        let mut st = State {
            picks: BTreeMap::new(),
            options: BTreeMap::new(),
            text: BTreeMap::new(),
        };
        for v in d["templating"]["list"].as_array().unwrap() {
            let name = v["name"].as_str().unwrap().to_owned();
            match v["type"].as_str().unwrap() {
                "datasource" => {
                    assert_eq!(name, "datasource", "{file}");
                    assert_eq!(v["query"], PLUGIN_ID, "{file}: datasource variable");
                    assert_eq!(
                        v["current"]["value"],
                        uid.as_str(),
                        "{file}: defaults to the provisioned uid"
                    );
                }
                "query" => {
                    assert_eq!(
                        v["datasource"]["uid"], "${datasource}",
                        "{file}: variable {name}"
                    );
                    let sql = v["query"]["rawSql"]
                        .as_str()
                        .expect("SQL variable query")
                        .to_owned();
                    let mut var = Var {
                        name: name.clone(),
                        def: v.clone(),
                        textbox: false,
                        sql,
                        options: Vec::new(),
                    };
                    var.options = run.options(&var, &vars, &st).await;
                    assert!(
                        var.options.len() >= 2,
                        "{file}: variable {name} offers a choice: {:?}",
                        var.options
                    );
                    st.picks.insert(name.clone(), Pick::All);
                    st.options.insert(name.clone(), var.options.clone());
                    vars.push(var);
                }
                "textbox" => {
                    st.text
                        .insert(name.clone(), v["query"].as_str().unwrap_or("").to_owned());
                    vars.push(Var {
                        name,
                        def: v.clone(),
                        textbox: true,
                        sql: String::new(),
                        options: Vec::new(),
                    });
                }
                other => panic!("{file}: variable type {other} not covered"),
            }
        }
        boards.push(Board {
            file: file.clone(),
            uid: d["uid"].as_str().unwrap().to_owned(),
            vars,
        });
    }

    for (file, d) in &all {
        let board = boards.iter().find(|b| &b.file == file).unwrap();
        let vars = &board.vars;
        let run = Run {
            host: &host,
            ds: &ds,
            now_ms,
            range_ms: range_ms(d),
        };
        let base_state = State {
            picks: vars
                .iter()
                .filter(|v| !v.textbox)
                .map(|v| (v.name.clone(), Pick::All))
                .collect(),
            options: vars
                .iter()
                .map(|v| (v.name.clone(), v.options.clone()))
                .collect(),
            text: vars
                .iter()
                .filter(|v| v.textbox)
                .map(|v| {
                    (
                        v.name.clone(),
                        v.def["query"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect(),
        };
        let panels: Vec<&Value> = d["panels"].as_array().unwrap().iter().collect();
        let mut kinds = BTreeSet::new();
        let mut worst = (Duration::ZERO, String::new());
        let mut worst_any = Duration::ZERO;
        // Queries run with a pick, and data links followed.
        let (mut picked_runs, mut followed) = (0, 0);

        // The default view: everything All.
        let mut base: Vec<(Answer, View)> = Vec::new();
        for p in &panels {
            let title = p["title"].as_str().unwrap();
            let ptype = p["type"].as_str().unwrap();
            kinds.insert(ptype);
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{file}: {title}");
            let targets = p["targets"].as_array().unwrap();
            assert_eq!(targets.len(), 1, "{file}: {title}: one query per panel");
            for v in vars.iter().filter(|v| !v.textbox) {
                assert!(
                    references(targets[0]["rawSql"].as_str().unwrap_or(""), &v.name),
                    "{file}: {title} is filtered by ${}",
                    v.name
                );
            }
            assert_eq!(
                targets[0]["datasource"]["uid"], "${datasource}",
                "{file}: {title}"
            );
            let (a, took) = run.panel(&targets[0], vars, &base_state).await;
            check_kind(&format!("{file}: {title} (All)"), ptype, &a, true);
            let explore = run
                .panel_in_explore(&targets[0], ptype, vars, &base_state)
                .await;
            same_data(&format!("{file}: {title} (All)"), &a, &explore);
            if took > worst.0 {
                worst = (took, title.to_owned());
            }
            let v = view(&a);
            base.push((a, v));
        }
        assert!(kinds.len() >= 2, "{file}: {kinds:?}");

        // Each variable alone: one value, then several.
        for var in vars {
            let picks: Vec<Pick> = if var.textbox {
                // A piece of a line the dashboard shows, quotes and all.
                let logs = panels
                    .iter()
                    .position(|p| p["type"] == "logs")
                    .expect("a logs panel to search");
                // Preferably around a quote, so the value's escaping is exercised.
                let bodies: Vec<&String> = base[logs]
                    .1
                    .rows
                    .iter()
                    .filter_map(|r| r.get("body"))
                    .collect();
                let body = ["'", "\"", ""]
                    .iter()
                    .find_map(|q| bodies.iter().find(|b| b.contains(q)))
                    .expect("lines to search");
                let at = ["'", "\""].iter().find_map(|q| body.find(q)).unwrap_or(0);
                let start = body[..at].char_indices().rev().nth(5).map_or(0, |(i, _)| i);
                let probe: String = body[start..].chars().take(16).collect();
                println!("{file}: searching for {probe:?}");
                vec![Pick::Values(vec![probe])]
            } else {
                let o = &var.options;
                let mut v = vec![Pick::Values(vec![o[0].clone()])];
                if o.len() >= 3 {
                    v.push(Pick::Values(vec![o[o.len() - 1].clone(), o[1].clone()]));
                }
                v
            };
            for pick in picks {
                let mut st = base_state.clone();
                if var.textbox {
                    let Pick::Values(t) = &pick else {
                        unreachable!()
                    };
                    st.text.insert(var.name.clone(), t[0].clone());
                } else {
                    st.picks.insert(var.name.clone(), pick.clone());
                    // Chained variables refresh: their options (and All's values) narrow.
                    for w in vars
                        .iter()
                        .filter(|w| !w.textbox && references(&w.sql, &var.name))
                    {
                        let opts = run.options(w, vars, &st).await;
                        let before: BTreeSet<&String> = w.options.iter().collect();
                        assert!(
                            !opts.is_empty()
                                && opts.len() < w.options.len()
                                && opts.iter().all(|o| before.contains(o)),
                            "{file}: {} = {pick:?} narrows {}: {:?} of {:?}",
                            var.name,
                            w.name,
                            opts,
                            w.options
                        );
                        st.options.insert(w.name.clone(), opts);
                    }
                }
                for (i, p) in panels.iter().enumerate() {
                    let target = &p["targets"][0];
                    if !references(target["rawSql"].as_str().unwrap_or(""), &var.name) {
                        continue;
                    }
                    let title = p["title"].as_str().unwrap();
                    let where_ = format!("{file}: {title} ({} = {pick:?})", var.name);
                    let (a, took) = run.panel(target, vars, &st).await;
                    worst_any = worst_any.max(took);
                    picked_runs += 1;
                    check_kind(&where_, p["type"].as_str().unwrap(), &a, false);
                    let explore = run
                        .panel_in_explore(target, p["type"].as_str().unwrap(), vars, &st)
                        .await;
                    same_data(&where_, &a, &explore);
                    let v = view(&a);
                    check_members(&where_, &v, &st, vars);
                    assert!(
                        narrower(&v, &base[i].1, var, &pick),
                        "{where_}: the pick narrows the result ({} rows, total {}) against All ({} rows, total {})",
                        v.count,
                        v.total,
                        base[i].1.count,
                        base[i].1.total
                    );
                }
            }
        }

        // Chained variables walked down: each one picks the first of the options its parents
        // leave, and every panel shows only rows of all picks.
        let chained: Vec<&Var> = vars.iter().filter(|v| !v.textbox).collect();
        if chained
            .iter()
            .any(|w| chained.iter().any(|v| references(&w.sql, &v.name)))
        {
            let mut st = base_state.clone();
            for (k, var) in chained.iter().enumerate() {
                let opts = if k == 0 {
                    var.options.clone()
                } else {
                    run.options(var, vars, &st).await
                };
                assert!(
                    !opts.is_empty(),
                    "{file}: {} has options under {:?}",
                    var.name,
                    st.picks
                );
                st.options.insert(var.name.clone(), opts.clone());
                st.picks
                    .insert(var.name.clone(), Pick::Values(vec![opts[0].clone()]));
            }
            for p in &panels {
                let title = p["title"].as_str().unwrap();
                let where_ = format!("{file}: {title} ({:?})", st.picks);
                let (a, took) = run.panel(&p["targets"][0], vars, &st).await;
                worst_any = worst_any.max(took);
                check_kind(&where_, p["type"].as_str().unwrap(), &a, false);
                check_members(&where_, &view(&a), &st, vars);
            }
        }

        // Data links, followed from the default view.
        for (i, p) in panels.iter().enumerate() {
            let title = p["title"].as_str().unwrap();
            let (answer, v) = &base[i];
            // The backend's own trace links on logs frames.
            if p["type"] == "logs" {
                let f = answer.frame();
                let ids = &f.field("traceID").values;
                let id = ids
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|s| !s.is_empty())
                    .unwrap_or_else(|| panic!("{file}: {title}: some lines carry a trace id"))
                    .to_owned();
                let mut q =
                    f.field("traceID").config.as_ref().unwrap()["links"][0]["internal"]["query"]
                        .clone();
                q["traceId"] = json!(id);
                let (a, _) = run.one(q).await;
                check_trace(&format!("{file}: {title}: View trace"), &a, &id);
                followed += 1;
            }
            for (field, link) in panel_links(p) {
                let where_ = format!("{file}: {title}: link {:?}", link["title"]);
                let url = link["url"].as_str().unwrap();
                let mut known: BTreeMap<String, String> = BTreeMap::new();
                known.insert("datasource".into(), uid.clone());
                known.insert("__from".into(), (now_ms - run.range_ms).to_string());
                known.insert("__to".into(), now_ms.to_string());
                known.insert(
                    "__url_time_range".into(),
                    format!("from={}&to={}", now_ms - run.range_ms, now_ms),
                );
                // The first row (table) or series (time series) the link would be on.
                if answer.frames.len() == 1
                    && !answer.frames[0].meta["type"]
                        .as_str()
                        .is_some_and(|t| t.starts_with("timeseries-"))
                {
                    let row = &v.rows[0];
                    for (k, val) in row {
                        known.insert(format!("__data.fields.{k}"), val.clone());
                    }
                    if !field.is_empty() {
                        known.insert(
                            "__value.raw".into(),
                            row.get(&field)
                                .unwrap_or_else(|| panic!("{where_}: field {field}"))
                                .clone(),
                        );
                    }
                } else {
                    for (k, val) in &v.rows[0] {
                        known.insert(format!("__field.labels.{k}"), val.clone());
                    }
                }
                let url = interpolate_link(url, &known)
                    .unwrap_or_else(|| panic!("{where_}: {url} has every variable it uses"));
                if let Some(rest) = url.strip_prefix("/explore?") {
                    let panes = query_params(&format!("?{rest}"))
                        .into_iter()
                        .find(|(k, _)| k == "panes")
                        .expect("explore panes")
                        .1;
                    let panes: Value = serde_json::from_str(&panes)
                        .unwrap_or_else(|e| panic!("{where_}: {e}: {panes}"));
                    let pane = panes.as_object().unwrap().values().next().unwrap();
                    assert_eq!(pane["datasource"], uid.as_str(), "{where_}");
                    let q = pane["queries"][0].clone();
                    assert_eq!(q["datasource"]["uid"], uid.as_str(), "{where_}");
                    assert_eq!(q["queryType"], "traces", "{where_}");
                    let id = q["traceId"].as_str().unwrap().to_owned();
                    let (a, _) = run.one(q).await;
                    check_trace(&where_, &a, &id);
                    followed += 1;
                } else if url.starts_with("/d/") {
                    check_dashboard_link(&where_, &url, &boards, &uid);
                    followed += 1;
                } else {
                    panic!("{where_}: unexpected link {url}");
                }
            }
        }

        // Dashboard links, with every variable at All: `includeVars` adds each variable's
        // value (`var-x=$__all` for All), `keepTime` the time range.
        for link in d["links"].as_array().into_iter().flatten() {
            let where_ = format!("{file}: dashboard link {:?}", link["title"]);
            let mut url = link["url"].as_str().unwrap().to_owned();
            let mut params = Vec::new();
            if link["includeVars"] == true {
                params.push(format!("var-datasource={}", uri_encode(&uid)));
                for v in vars {
                    let value = if v.textbox {
                        base_state.text[&v.name].clone()
                    } else {
                        "$__all".into()
                    };
                    params.push(format!("var-{}={}", v.name, uri_encode(&value)));
                }
            }
            if link["keepTime"] == true {
                params.push(format!("from={}&to={}", now_ms - run.range_ms, now_ms));
            }
            url = format!(
                "{url}{}{}",
                if url.contains('?') { "&" } else { "?" },
                params.join("&")
            );
            check_dashboard_link(&where_, &url, &boards, &uid);
            followed += 1;
        }

        println!(
            "{file}: {} panels; slowest panel query (all variables All) {:?} ({}); slowest with picks {:?}; {} queries with picks; {} data links followed",
            panels.len(),
            worst.0,
            worst.1,
            worst_any,
            picked_runs,
            followed
        );
    }
}

fn range_ms(dashboard: &Value) -> i64 {
    match dashboard["time"]["from"].as_str() {
        Some("now-1h") => HOUR_MS,
        Some("now-6h") => 6 * HOUR_MS,
        other => panic!("unexpected default range {other:?}"),
    }
}

#[test]
fn variable_references_are_found_as_the_frontend_finds_them() {
    assert!(references("x IN (${pod:singlequote})", "pod"));
    assert!(references("$conditionalTest(AND a, $search)", "search"));
    assert!(references("[[pod]]", "pod"));
    assert!(!references("x = $podname", "pod"));
    assert!(!references("x = ${podname}", "pod"));
    assert_eq!(uri_decode(&uri_encode("a b&c=\"d\"/é")), "a b&c=\"d\"/é");
}
