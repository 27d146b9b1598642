//! SQL from grafana/clickhouse-datasource's builder options ([`crate::official`]), as that
//! plugin's own generator writes it, so a saved panel without `rawSql` runs what it would have
//! run there, and "Show SQL" and alerts see the same text.
//!
//! The output is the same text as that generator's (its assembly, quoting, aliases, hint
//! resolution and clause order, per query type and mode) with deliberate differences where its
//! output is unsafe or does not run:
//!
//! * values are escaped: a plain value becomes a ClickHouse string literal (backslashes and
//!   quotes escaped); a value written as SQL (`$var`, `${var:singlequote}`, `today()`, `'quoted'`,
//!   `"column"`) passes through only when it is one self-contained expression (quotes closed,
//!   brackets balanced, no comment, no `;`); anything else (`O'Brien`, `invalid(`) is quoted as a
//!   string. `LIKE` patterns, `logMessageLike`, map keys and trace ids are escaped inside their
//!   literals; identifiers escape `\` and `"`;
//! * names written verbatim (columns, aggregates' columns, GROUP BY, ORDER BY, filter keys) must
//!   be self-contained too, or they are quoted as identifiers; an aggregate function must be a
//!   plain name, and an unknown operator is an error naming the filter;
//! * `IN` lists are always parenthesised (that generator writes `n IN 1,2` for numbers and
//!   `IN 'a,b'` for other types), a time-range operator on a column that is not a date or time
//!   is an error naming the filter (that generator writes `( msg '' )`), and a dangling
//!   `GROUP BY` (aggregates without a time column or groups) is left out.

use super::build::BuildError;
use crate::official::{
    BuilderOptions, Condition, Filter, Hint, Mode, Operator, OrderBy, QueryType, SelectedColumn,
};
use serde_json::Value;

type Result<T> = std::result::Result<T, BuildError>;

fn err(msg: impl Into<String>) -> BuildError {
    BuildError(msg.into())
}

/// The SQL for `o`, as that plugin's generator dispatches it (§2 of the spec): trace by id,
/// trace search, logs, simple or trend time series, table. An unknown query type gives `""`.
pub fn generate(o: &BuilderOptions) -> Result<String> {
    match (&o.query_type, &o.mode) {
        (QueryType::Traces, _) if o.is_trace_id_query() => trace_id_query(o),
        (QueryType::Traces, _) => trace_search_query(o),
        (QueryType::Logs, _) => logs_query(o),
        (QueryType::TimeSeries, Some(Mode::Trend)) => trend_query(o),
        (QueryType::TimeSeries, _) => simple_time_series_query(o),
        (QueryType::Table, _) => table_query(o),
        (QueryType::Other(_), _) => Ok(String::new()),
    }
}

/// Joins query parts with single spaces, skipping empty ones; every non-empty part but the one
/// at the last position is followed by a space.
pub fn concat_parts(parts: &[String]) -> String {
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() {
            continue;
        }
        out.push_str(p);
        if i + 1 != parts.len() {
            out.push(' ');
        }
    }
    out
}

/// `"name"` with `"` doubled and `\` escaped; empty for an empty name.
pub fn escape_identifier(name: &str) -> String {
    if name.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        match c {
            '"' => out.push_str("\"\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `"db"."table"`, or the one part that is set, or `""`.
pub fn table_identifier(database: &str, table: &str) -> String {
    match (database.is_empty(), table.is_empty()) {
        (false, false) => format!(
            "{}.{}",
            escape_identifier(database),
            escape_identifier(table)
        ),
        (false, true) => escape_identifier(database),
        (true, false) => escape_identifier(table),
        (true, true) => String::new(),
    }
}

/// Whether `text` is one self-contained piece of SQL: quotes and brackets closed, no comment,
/// no `;`, no heredoc. Such text can be placed verbatim without changing the SQL around it.
pub fn is_self_contained(text: &str) -> bool {
    let b = text.as_bytes();
    let mut depth: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"' | b'`') => {
                // A quoted region: backslash escapes, a doubled quote is one quote.
                i += 1;
                loop {
                    match b.get(i) {
                        None => return false,
                        Some(b'\\') => i += 2,
                        Some(&c) if c == q => {
                            if b.get(i + 1) == Some(&q) {
                                i += 2;
                            } else {
                                break;
                            }
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'(' => depth.push(b')'),
            b'[' => depth.push(b']'),
            b'{' => depth.push(b'}'),
            c @ (b')' | b']' | b'}') if depth.pop() != Some(c) => return false,
            b';' | b'#' => return false,
            b'-' if b.get(i + 1) == Some(&b'-') => return false,
            b'/' if b.get(i + 1) == Some(&b'*') => return false,
            b'$' => {
                // `$$` or `$tag$` opens a heredoc string.
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                if b.get(j) == Some(&b'$') {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    depth.is_empty()
}

/// A name placed verbatim where that generator places it verbatim, or quoted as an identifier
/// when it is not self-contained.
fn verbatim_name(name: &str) -> String {
    if is_self_contained(name) {
        name.to_owned()
    } else {
        escape_identifier(name)
    }
}

/// A column as the SELECT list shows it: expressions (`(`, `)`, `"` or ` as `) verbatim, names
/// with a space or `:` quoted, others verbatim; then ` as "alias"` unless the alias adds nothing.
pub fn column_identifier(c: &SelectedColumn) -> String {
    let name = c.name.as_str();
    let rendered = if name.contains(['(', ')', '"']) || name.contains(" as ") {
        verbatim_name(name)
    } else if name.contains([' ', ':']) {
        escape_identifier(name)
    } else {
        verbatim_name(name)
    };
    match c.alias.as_deref() {
        Some(alias)
            if !alias.is_empty() && alias != name && escape_identifier(alias) != rendered =>
        {
            format!("{rendered} as {}", escape_identifier(alias))
        }
        _ => rendered,
    }
}

/// A value as that generator writes it, escaped: SQL-looking text (containing `$ ( ) ' "`)
/// verbatim when self-contained, everything else a string literal.
pub fn escape_value(value: &str) -> String {
    if value.contains(['$', '(', ')', '\'', '"']) && is_self_contained(value) {
        value.to_owned()
    } else {
        super::string_literal(value)
    }
}

/// `LIMIT n` for a positive limit, else `""`.
pub fn limit_clause(limit: Option<f64>) -> String {
    match limit {
        Some(n) if n > 0.0 && n.is_finite() => format!("LIMIT {}", n.floor() as u64),
        _ => String::new(),
    }
}

/// Whether a type is of the string class: after lower-casing and removing `(`, `)`,
/// `nullable` and `lowcardinality`, `string` or `fixedstring…`.
pub fn is_string_type(ty: &str) -> bool {
    let t = ty
        .to_ascii_lowercase()
        .replace(['(', ')'], "")
        .replace("nullable", "")
        .replace("lowcardinality", "");
    t == "string" || t.starts_with("fixedstring")
}

fn is_boolean_type(ty: &str) -> bool {
    ty.to_ascii_lowercase().starts_with("boolean")
}

fn is_number_type(ty: &str) -> bool {
    let t = ty.to_ascii_lowercase();
    t.contains("int") || t.contains("float") || t.contains("decimal")
}

fn is_date_type(ty: &str) -> bool {
    let t = ty.to_ascii_lowercase();
    t.starts_with("date") || t.starts_with("nullable(date")
}

/// The first column with `hint`.
fn by_hint<'a>(columns: &'a [SelectedColumn], hint: &Hint) -> Option<&'a SelectedColumn> {
    columns.iter().find(|c| c.hint.as_ref() == Some(hint))
}

/// The column's name as clauses refer to it: its alias, else its name.
fn reference(c: &SelectedColumn) -> &str {
    c.alias
        .as_deref()
        .filter(|a| !a.is_empty())
        .unwrap_or(&c.name)
}

/// A JSON value as text, the way JavaScript's `String()` writes it.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// JavaScript truthiness of a filter value.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// A value for a typed comparison: JSON numbers and booleans as literals, text escaped.
fn scalar_value(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        other => escape_value(&other.map(text_of).unwrap_or_default()),
    }
}

/// A number-class value: verbatim numbers, `0` for a falsy value, text escaped unless numeric.
fn number_value(v: Option<&Value>) -> String {
    if !truthy(v) {
        return "0".into();
    }
    match v {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::String(s)) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
            s.trim().to_owned()
        }
        other => escape_value(&other.map(text_of).unwrap_or_default()),
    }
}

/// `(a, b)` for an `IN` list: each item trimmed and rendered by `item`.
fn in_list(v: Option<&Value>, item: impl Fn(&Value) -> String) -> String {
    let items: Vec<Value> = match v {
        Some(Value::Array(items)) => items.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split(',').map(|p| Value::from(p.trim())).collect(),
        Some(other) => vec![other.clone()],
    };
    let parts: Vec<String> = items
        .iter()
        .map(|i| match i {
            Value::String(s) => item(&Value::from(s.trim())),
            other => item(other),
        })
        .collect();
    format!("({})", parts.join(", "))
}

/// The map's value type from `Map(K, V)`: the text after the comma between `K` and `V` (outside
/// brackets, so `Map(String, Decimal(10, 2))` gives `Decimal(10, 2)`; that generator takes the
/// text after the last comma, `2)`, and throws on a number value), else `String`.
fn map_value_type(ty: &str) -> String {
    let inner = ty
        .strip_prefix("Map(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or("");
    let mut depth = 0i32;
    for (i, c) in inner.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => return inner[i + 1..].trim().to_owned(),
            _ => {}
        }
    }
    "String".into()
}

/// The WHERE body of `filters` (without the keyword), resolving hints against `columns`
/// (already aliased by the caller's generator).
pub fn filters_clause(filters: &[Filter], columns: &[SelectedColumn]) -> Result<String> {
    let mut parts: Vec<String> = Vec::new();
    for (n, f) in filters.iter().enumerate() {
        if f.operator == Operator::IsAnything {
            continue;
        }
        if let Operator::Other(op) = &f.operator {
            return Err(err(format!(
                "filter {} ({}): unknown operator {op:?}",
                n + 1,
                if f.key.is_empty() {
                    f.hint.as_ref().map_or("", Hint::name)
                } else {
                    &f.key
                }
            )));
        }
        let mut column = f.key.clone();
        let mut ty = f.ty.clone();
        if let Some(hint) = &f.hint {
            let found = by_hint(columns, hint).or_else(|| match hint {
                Hint::Time => by_hint(columns, &Hint::FilterTime),
                Hint::FilterTime => by_hint(columns, &Hint::Time),
                _ => None,
            });
            if let Some(c) = found {
                column = reference(c).to_owned();
                if let Some(t) = c.ty.as_deref().filter(|t| !t.is_empty()) {
                    ty = t.to_owned();
                }
            }
        }
        if column.is_empty() {
            // That generator drops the filter silently; a filter that cannot apply is an error.
            return Err(err(match &f.hint {
                Some(h) => format!(
                    "filter {} ({}): no column has the {} role; choose its column or remove the filter",
                    n + 1,
                    h.name(),
                    h.name()
                ),
                None => format!("filter {}: no column", n + 1),
            }));
        }
        let mut column = verbatim_name(&column);
        if let Some(key) = f.map_key.as_deref().filter(|k| !k.is_empty()) {
            if ty.starts_with("Map") {
                let mut c = column;
                c.push('[');
                super::write_string_literal(&mut c, key);
                c.push(']');
                column = c;
                ty = map_value_type(&ty);
            } else if ty.starts_with("JSON") {
                let mut c = column;
                for seg in key.split('.') {
                    c.push('.');
                    super::write_identifier(&mut c, seg);
                }
                c.push_str("::Nullable(String)");
                column = c;
                ty = "String".into();
            }
        }
        let (op_text, negate) = match &f.operator {
            Operator::IsEmpty | Operator::IsNotEmpty => ("", false),
            Operator::NotLike => ("LIKE", true),
            Operator::NotILike => ("ILIKE", true),
            Operator::OutsideRange => ("", true),
            Operator::InRange => ("", false),
            other => (other.text(), false),
        };
        let v = f.value.as_ref();
        let range = matches!(f.operator, Operator::InRange | Operator::OutsideRange);
        let is_in = matches!(f.operator, Operator::In | Operator::NotIn);
        let like = matches!(
            f.operator,
            Operator::Like | Operator::NotLike | Operator::ILike | Operator::NotILike
        );
        let value = match &f.operator {
            Operator::IsNull | Operator::IsNotNull => String::new(),
            Operator::IsEmpty => "= ''".into(),
            Operator::IsNotEmpty => "!= ''".into(),
            _ if range => {
                let t = ty.to_ascii_lowercase();
                if !(t.is_empty() || t.contains("date") || t.contains("time")) {
                    return Err(err(format!(
                        "filter {} ({}): a dashboard time range needs a date or time column, not {ty}",
                        n + 1,
                        f.key
                    )));
                }
                format!(">= $__fromTime AND {column} <= $__toTime")
            }
            _ if is_boolean_type(&ty) => {
                let on = match v {
                    Some(Value::String(s)) => s == "true",
                    other => truthy(other),
                };
                if is_in {
                    in_list(v, |i| {
                        (text_of(i) == "true" || i == &Value::Bool(true)).to_string()
                    })
                } else {
                    on.to_string()
                }
            }
            _ if is_number_type(&ty) => {
                if is_in {
                    in_list(v, |i| number_value(Some(i)))
                } else {
                    number_value(v)
                }
            }
            _ if is_date_type(&ty) => {
                let text = v.map(text_of).unwrap_or_default();
                match text.as_str() {
                    "GRAFANA_START_TIME" => "$__fromTime".into(),
                    "GRAFANA_END_TIME" => "$__toTime".into(),
                    "" if is_in => "()".into(),
                    "" => escape_value("TODAY"),
                    _ if is_in => in_list(v, |i| escape_value(&text_of(i))),
                    t => escape_value(t),
                }
            }
            _ if is_string_type(&ty) && like => {
                let mut s = String::from("'%");
                super::write_string_literal_content(&mut s, &v.map(text_of).unwrap_or_default());
                s.push_str("%'");
                s
            }
            _ if is_in => in_list(v, |i| escape_value(&text_of(i))),
            _ => scalar_value(v),
        };
        let body = [column.as_str(), op_text, value.as_str()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let body = if negate {
            format!("NOT ( {body} )")
        } else {
            body
        };
        let wrapped = format!("( {body} )");
        if parts.is_empty() {
            parts.push(wrapped);
        } else {
            let cond = match f.condition {
                Condition::And => "AND",
                Condition::Or => "OR",
            };
            parts.push(format!("{cond} {wrapped}"));
        }
    }
    Ok(parts.join(" "))
}

/// The ORDER BY body (without the keyword). Entries whose hint is in `group` are merged into one
/// term at the first one's position, with its direction: `(a, b) DIR`.
pub fn order_by_clause(order: &[OrderBy], columns: &[SelectedColumn], group: &[Hint]) -> String {
    enum Part {
        One(String),
        Group,
    }
    let mut parts: Vec<Part> = Vec::new();
    let mut grouped: Vec<String> = Vec::new();
    let mut group_dir = None;
    for o in order {
        let name = match o.hint.as_ref().and_then(|h| by_hint(columns, h)) {
            Some(c) => reference(c).to_owned(),
            None => o.name.clone(),
        };
        if name.is_empty() {
            continue;
        }
        let name = verbatim_name(&name);
        if o.hint.as_ref().is_some_and(|h| group.contains(h)) {
            if group_dir.is_none() {
                group_dir = Some(o.dir);
                parts.push(Part::Group);
            }
            grouped.push(name);
            continue;
        }
        parts.push(Part::One(format!("{name} {}", o.dir.sql())));
    }
    parts
        .into_iter()
        .map(|p| match p {
            Part::One(s) => s,
            Part::Group => {
                let dir = group_dir.map_or("ASC", |d| d.sql());
                if grouped.len() == 1 {
                    format!("{} {dir}", grouped[0])
                } else {
                    format!("({}) {dir}", grouped.join(", "))
                }
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// An aggregate: `fn(column)` with ` as alias` (spaces → `_`).
fn aggregate(a: &crate::official::Aggregate) -> Result<String> {
    let f = a.aggregate_type.as_str();
    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(err(format!(
            "aggregate {f:?} is not a function name (sum, avg, min, max, count, any)"
        )));
    }
    let mut out = format!("{f}({})", verbatim_name(&a.column));
    if let Some(alias) = a.alias.as_deref().filter(|s| !s.is_empty()) {
        let alias = alias.replace(' ', "_");
        let plain = alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        out.push_str(" as ");
        if plain {
            out.push_str(&alias);
        } else {
            out.push_str(&escape_identifier(&alias));
        }
    }
    Ok(out)
}

/// The aggregate's name in the SELECT list: its alias, else its expression.
fn aggregate_name(a: &crate::official::Aggregate) -> String {
    match a.alias.as_deref().filter(|s| !s.is_empty()) {
        Some(alias) => alias.replace(' ', "_"),
        None => format!("{}({})", a.aggregate_type, a.column),
    }
}

/// The clauses of a generated query.
#[derive(Default)]
struct Clauses {
    /// `WITH …` before the SELECT (trace lookup), or empty.
    with: String,
    select: Vec<String>,
    filter: String,
    group: String,
    order: String,
    limit: String,
}

impl Clauses {
    /// `select` and `group` with the options' filters, ORDER BY and LIMIT, their hints resolved
    /// against `columns` (as the generator has aliased them).
    fn of(
        o: &BuilderOptions,
        columns: &[SelectedColumn],
        select: Vec<String>,
        group: String,
    ) -> Result<Clauses> {
        Ok(Clauses {
            select,
            filter: filters_clause(&o.filters, columns)?,
            group,
            order: order_by_clause(&o.order_by, columns, &[]),
            limit: limit_clause(o.limit),
            ..Default::default()
        })
    }

    /// `[WITH …] SELECT … FROM <table> [WHERE …] [GROUP BY …] [ORDER BY …] [LIMIT n]`, joined as
    /// that generator joins its parts.
    fn assemble(self, o: &BuilderOptions) -> String {
        let mut parts = Vec::new();
        if !self.with.is_empty() {
            parts.push(self.with);
        }
        parts.extend([
            "SELECT".into(),
            self.select.join(", "),
            "FROM".into(),
            table_identifier(&o.database, &o.table),
        ]);
        for (keyword, body) in [
            ("WHERE", self.filter),
            ("GROUP BY", self.group),
            ("ORDER BY", self.order),
        ] {
            if !body.is_empty() {
                parts.push(keyword.into());
                parts.push(body);
            }
        }
        if !self.limit.is_empty() {
            parts.push(self.limit);
        }
        concat_parts(&parts)
    }
}

fn table_query(o: &BuilderOptions) -> Result<String> {
    let aggregate_mode = o.mode == Some(Mode::Aggregate);
    let mut select: Vec<String> = o.columns.iter().map(column_identifier).collect();
    if aggregate_mode {
        for a in &o.aggregates {
            select.push(aggregate(a)?);
        }
    }
    let group = if aggregate_mode && !o.group_by.is_empty() {
        groups(&o.group_by)
    } else {
        String::new()
    };
    Ok(Clauses::of(o, &o.columns, select, group)?.assemble(o))
}

fn groups(g: &[String]) -> String {
    g.iter()
        .map(|s| verbatim_name(s))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The time column of a time series: the first `time` column, else the first `filter_time`
/// one; its index in `columns`.
fn time_column(columns: &[SelectedColumn]) -> Option<usize> {
    columns
        .iter()
        .position(|c| c.hint == Some(Hint::Time))
        .or_else(|| {
            columns
                .iter()
                .position(|c| c.hint == Some(Hint::FilterTime))
        })
}

fn simple_time_series_query(o: &BuilderOptions) -> Result<String> {
    let mut columns = o.columns.clone();
    let time = time_column(&columns);
    if let Some(t) = time {
        columns[t].alias = Some("time".into());
    }
    let mut select = Vec::new();
    if let Some(t) = time {
        select.push(column_identifier(&columns[t]));
    }
    let mut selected: Vec<String> = Vec::new();
    if let Some(t) = time {
        selected.push(reference(&columns[t]).to_owned());
    }
    for c in &columns {
        if matches!(c.hint, Some(Hint::Time | Hint::FilterTime)) {
            continue;
        }
        select.push(column_identifier(c));
        selected.push(reference(c).to_owned());
    }
    for a in &o.aggregates {
        selected.push(aggregate_name(a));
    }
    for g in &o.group_by {
        if !selected.contains(g) {
            select.push(verbatim_name(g));
        }
    }
    for a in &o.aggregates {
        select.push(aggregate(a)?);
    }
    let group = if !o.group_by.is_empty() {
        let mut g = groups(&o.group_by);
        if time.is_some() {
            g.push_str(", time");
        }
        g
    } else if !o.aggregates.is_empty() && time.is_some() {
        "time".into()
    } else {
        String::new()
    };
    Ok(Clauses::of(o, &columns, select, group)?.assemble(o))
}

fn trend_query(o: &BuilderOptions) -> Result<String> {
    let mut columns = o.columns.clone();
    let time = time_column(&columns);
    let mut select = Vec::new();
    if let Some(t) = time {
        select.push(format!(
            "$__timeInterval({}) as \"time\"",
            verbatim_name(&columns[t].name)
        ));
        columns[t].alias = Some("time".into());
    }
    for g in &o.group_by {
        select.push(verbatim_name(g));
    }
    for a in &o.aggregates {
        select.push(aggregate(a)?);
    }
    let mut group = groups(&o.group_by);
    if time.is_some() {
        if !group.is_empty() {
            group.push_str(", ");
        }
        group.push_str("time");
    }
    Ok(Clauses::of(o, &columns, select, group)?.assemble(o))
}

fn logs_query(o: &BuilderOptions) -> Result<String> {
    let mut columns = o.columns.clone();
    let time = time_column(&columns);
    let mut select = Vec::new();
    if let Some(t) = time {
        columns[t].alias = Some("timestamp".into());
        select.push(column_identifier(&columns[t]));
    }
    let roles = [
        (Hint::LogMessage, "body"),
        (Hint::LogLevel, "level"),
        (Hint::Named("trace_id".into()), "traceID"),
    ];
    let mut message_alias = None;
    for (hint, alias) in &roles {
        if let Some(i) = columns.iter().position(|c| c.hint.as_ref() == Some(hint)) {
            columns[i].alias = Some((*alias).into());
            select.push(column_identifier(&columns[i]));
            if *hint == Hint::LogMessage {
                message_alias = Some(reference(&columns[i]).to_owned());
            }
        }
    }
    for hint in [
        Hint::ResourceAttributes,
        Hint::ScopeAttributes,
        Hint::LogAttributes,
    ] {
        if let Some(i) = columns.iter().position(|c| c.hint.as_ref() == Some(&hint)) {
            columns[i].alias = None;
            select.push(column_identifier(&columns[i]));
        }
    }
    for c in &columns {
        if c.hint.is_none() {
            select.push(column_identifier(c));
        }
    }
    let mut filter = filters_clause(&o.filters, &columns)?;
    if let (Some(alias), Some(like)) = (
        message_alias,
        o.meta.log_message_like.as_deref().filter(|s| !s.is_empty()),
    ) {
        if !filter.is_empty() {
            filter.push_str(" AND ");
        }
        filter.push('(');
        filter.push_str(&verbatim_name(&alias));
        filter.push_str(" LIKE '%");
        super::write_string_literal_content(&mut filter, like);
        filter.push_str("%')");
    }
    Ok(Clauses {
        select,
        filter,
        order: order_by_clause(&o.order_by, &columns, &[Hint::FilterTime, Hint::Time]),
        limit: limit_clause(o.limit),
        ..Default::default()
    }
    .assemble(o))
}

/// The duration in milliseconds for the saved unit.
fn duration(column: &str, unit: Option<&str>) -> String {
    let c = escape_identifier(column);
    match unit {
        Some("seconds") => format!("multiply({c}, 1000)"),
        Some("microseconds") => format!("multiply({c}, 0.001)"),
        Some("nanoseconds") => format!("multiply({c}, 0.000001)"),
        _ => c,
    }
}

fn hinted<'a>(o: &'a BuilderOptions, hint: &str) -> Option<&'a SelectedColumn> {
    by_hint(&o.columns, &Hint::of(hint))
}

fn trace_search_query(o: &BuilderOptions) -> Result<String> {
    let mut select = Vec::new();
    for (hint, alias) in [
        ("trace_id", "traceID"),
        ("trace_service_name", "serviceName"),
        ("trace_operation_name", "operationName"),
        ("time", "startTime"),
    ] {
        if let Some(c) = hinted(o, hint) {
            select.push(format!("{} as {alias}", escape_identifier(&c.name)));
        }
    }
    if let Some(c) = hinted(o, "trace_duration_time") {
        select.push(format!(
            "{} as duration",
            duration(&c.name, o.meta.trace_duration_unit.as_deref())
        ));
    }
    Ok(Clauses::of(o, &o.columns, select, String::new())?.assemble(o))
}

/// Attributes as `[{key, value}]` maps, or the JSON sentinel the frontend expands.
fn attributes(x: &str, json: bool) -> String {
    if json {
        format!("[map('key', '__ch_json__', 'value', toJSONString({x}))]")
    } else {
        format!("arrayMap(key -> map('key', key, 'value', {x}[key]), mapKeys({x}))")
    }
}

fn trace_id_query(o: &BuilderOptions) -> Result<String> {
    let m = &o.meta;
    let trace_id = m.trace_id.clone().unwrap_or_default();
    let mut select = Vec::new();
    for (hint, alias) in [
        ("trace_id", "traceID"),
        ("trace_span_id", "spanID"),
        ("trace_parent_span_id", "parentSpanID"),
        ("trace_service_name", "serviceName"),
        ("trace_operation_name", "operationName"),
    ] {
        if let Some(c) = hinted(o, hint) {
            select.push(format!("{} as {alias}", escape_identifier(&c.name)));
        }
    }
    let time = hinted(o, "time");
    if let Some(c) = time {
        select.push(format!(
            "multiply(toUnixTimestamp64Nano({}), 0.000001) as startTime",
            escape_identifier(&c.name)
        ));
    }
    if let Some(c) = hinted(o, "trace_duration_time") {
        select.push(format!(
            "{} as duration",
            duration(&c.name, m.trace_duration_unit.as_deref())
        ));
    }
    let is_json = |c: &SelectedColumn| {
        c.ty.as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("json"))
    };
    let tags = hinted(o, "trace_tags");
    let service_tags = hinted(o, "trace_service_tags");
    let any_json = tags.is_some_and(is_json) || service_tags.is_some_and(is_json);
    for (col, alias) in [(tags, "tags"), (service_tags, "serviceTags")] {
        if let Some(c) = col {
            let q = escape_identifier(&c.name);
            if is_json(c) {
                select.push(format!("{q} as {alias}"));
            } else {
                select.push(format!(
                    "arrayMap(key -> map('key', key, 'value',{q}[key]), mapKeys({q})) as {alias}"
                ));
            }
        }
    }
    if let Some(c) = hinted(o, "trace_status_code") {
        select.push(format!(
            "if({} IN ('Error', 'STATUS_CODE_ERROR'), 2, 0) as statusCode",
            escape_identifier(&c.name)
        ));
    }
    let flatten = m.flatten_nested == Some(true);
    if let Some(p) = m
        .trace_events_column_prefix
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        let p = escape_identifier(p);
        select.push(if flatten {
            format!(
                "arrayMap(event -> tuple(multiply(toFloat64(event.Timestamp), 1000), arrayConcat({}, [map('key', 'message', 'value', event.Name)]))::Tuple(timestamp Float64, fields Array(Map(String, String))), {p}) as logs",
                attributes("event.Attributes", any_json)
            )
        } else {
            format!(
                "arrayMap((name, timestamp, attributes) -> tuple(name, toString(toUnixTimestamp64Milli(timestamp)), {})::Tuple(name String, timestamp String, fields Array(Map(String, String))), {p}.Name, {p}.Timestamp, {p}.Attributes) AS logs",
                attributes("attributes", any_json)
            )
        });
    }
    if let Some(l) = m
        .trace_links_column_prefix
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        let l = escape_identifier(l);
        select.push(if flatten {
            format!(
                "arrayMap(link -> tuple(link.TraceId, link.SpanId, {})::Tuple(traceID String, spanID String, tags Array(Map(String, String))), {l}) AS references",
                attributes("link.Attributes", any_json)
            )
        } else {
            format!(
                "arrayMap((traceID, spanID, attributes) -> tuple(traceID, spanID, {})::Tuple(traceID String, spanID String, tags Array(Map(String, String))), {l}.TraceId, {l}.SpanId, {l}.Attributes) AS references",
                attributes("attributes", any_json)
            )
        });
    }
    for (hint, alias) in [
        ("trace_kind", "kind"),
        ("trace_status_message", "statusMessage"),
        ("instrumentation_library_name", "instrumentationLibraryName"),
        (
            "instrumentation_library_version",
            "instrumentationLibraryVersion",
        ),
        ("trace_state", "traceState"),
    ] {
        if let Some(c) = hinted(o, hint) {
            select.push(format!("{} as {alias}", escape_identifier(&c.name)));
        }
    }
    let id = super::string_literal(&trace_id);
    let lookup = m.has_trace_timestamp_table == Some(true) && time.is_some();
    let mut with = String::new();
    let mut filter = String::new();
    if let (true, Some(t)) = (lookup, time) {
        let suffix = m
            .trace_timestamp_table_suffix
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("_trace_id_ts");
        let c = table_identifier(&o.database, &format!("{}{suffix}", o.table));
        with = format!(
            "WITH {id} as __gf_trace_id, (SELECT min(Start) FROM {c} WHERE TraceId = __gf_trace_id) as __gf_trace_start, (SELECT max(End) + 1 FROM {c} WHERE TraceId = __gf_trace_id) as __gf_trace_end"
        );
        let t = escape_identifier(&t.name);
        filter.push_str(&format!(
            "traceID = __gf_trace_id AND {t} >= __gf_trace_start AND {t} <= __gf_trace_end"
        ));
    } else {
        filter.push_str(&format!("traceID = {id}"));
    }
    let user = filters_clause(&o.filters, &o.columns)?;
    if !user.is_empty() {
        filter.push_str(" AND ");
        filter.push_str(&user);
    }
    // No LIMIT in trace-ID mode (that plugin dropped it in 4.16).
    Ok(Clauses {
        with,
        select,
        filter,
        order: order_by_clause(&o.order_by, &o.columns, &[]),
        ..Default::default()
    }
    .assemble(o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gen_sql(v: Value) -> String {
        generate(&BuilderOptions::from_json(&v).unwrap()).unwrap()
    }

    #[test]
    fn table_list_with_filter_and_limit() {
        assert_eq!(
            gen_sql(json!({"database": "d", "table": "t", "queryType": "table",
                "columns": [{"name": "a"}, {"name": "b c"}], "limit": 10,
                "filters": [{"key": "b", "type": "String", "operator": "=", "value": "x", "condition": "AND"},
                            {"key": "n", "type": "UInt8", "operator": ">", "value": 3, "condition": "OR"}]})),
            r#"SELECT a, "b c" FROM "d"."t" WHERE ( b = 'x' ) OR ( n > 3 ) LIMIT 10"#
        );
    }

    #[test]
    fn quotes_in_values_are_escaped() {
        let w = |f: Value| {
            filters_clause(
                &BuilderOptions::from_json(&json!({ "filters": [f] }))
                    .unwrap()
                    .filters,
                &[],
            )
            .unwrap()
        };
        assert_eq!(
            w(json!({"key": "m", "type": "String", "operator": "=", "value": "O'Brien"})),
            r"( m = 'O\'Brien' )"
        );
        assert_eq!(
            w(json!({"key": "m", "type": "String", "operator": "LIKE", "value": "it's%"})),
            r"( m LIKE '%it\'s%%' )"
        );
        assert_eq!(
            w(json!({"key": "m", "type": "String", "operator": "=", "value": r"a\"})),
            r"( m = 'a\\' )"
        );
        // A variable, a function and a quoted literal pass through; a broken one does not.
        assert_eq!(
            w(
                json!({"key": "m", "type": "String", "operator": "IN", "value": ["$hosts", " 'a'", "f(1)", "x) OR (1"]})
            ),
            r"( m IN ($hosts, 'a', f(1), 'x) OR (1') )"
        );
        assert_eq!(
            w(
                json!({"key": "M", "mapKey": "k']", "type": "Map(String, String)", "operator": "=", "value": "v"})
            ),
            r"( M['k\']'] = 'v' )"
        );
        assert_eq!(
            w(json!({"key": "n", "type": "Int32", "operator": "IN", "value": [1, 2]})),
            "( n IN (1, 2) )"
        );
        assert_eq!(
            w(json!({"key": "n", "type": "Int32", "operator": "=", "value": "1; DROP TABLE t"})),
            r"( n = '1; DROP TABLE t' )"
        );
        let unknown = filters_clause(
            &BuilderOptions::from_json(
                &json!({"filters": [{"key": "a", "type": "String", "operator": "=~"}]}),
            )
            .unwrap()
            .filters,
            &[],
        );
        assert!(unknown.unwrap_err().0.contains("unknown operator"));
    }

    #[test]
    fn self_contained_text() {
        for ok in [
            "$x",
            "${x:singlequote}",
            "f(a, 'b)')",
            "\"c\"",
            "'it''s'",
            "a.b",
        ] {
            assert!(is_self_contained(ok), "{ok}");
        }
        for bad in [
            "a(", "a)", "'x", "a -- c", "a /* c", "a; b", "$$x", "$t$x", "(]",
        ] {
            assert!(!is_self_contained(bad), "{bad}");
        }
    }

    #[test]
    fn names_that_are_not_self_contained_are_quoted() {
        let c = SelectedColumn {
            name: "a) FROM x --".into(),
            ..Default::default()
        };
        assert_eq!(column_identifier(&c), r#""a) FROM x --""#);
        assert_eq!(escape_identifier(r#"a"b\"#), r#""a""b\\""#);
        let bad = crate::official::Aggregate {
            aggregate_type: "sum(x)); --".into(),
            column: "a".into(),
            alias: None,
        };
        assert!(aggregate(&bad).is_err());
    }

    #[test]
    fn logs_aliases_and_message_search() {
        assert_eq!(
            gen_sql(
                json!({"database": "otel", "table": "otel_logs", "queryType": "logs",
                "columns": [{"name": "TimestampTime", "hint": "filter_time"}, {"name": "Timestamp", "hint": "time"},
                            {"name": "Body", "hint": "log_message"}, {"name": "LogAttributes", "hint": "log_attributes", "alias": "x"}],
                "filters": [{"key": "", "hint": "filter_time", "type": "datetime", "operator": "WITH IN DASHBOARD TIME RANGE"}],
                "orderBy": [{"name": "", "hint": "filter_time", "dir": "DESC"}, {"name": "", "hint": "time", "dir": "DESC"}],
                "meta": {"logMessageLike": "it's"}, "limit": 5})
            ),
            "SELECT Timestamp as \"timestamp\", Body as \"body\", LogAttributes FROM \"otel\".\"otel_logs\" \
             WHERE ( TimestampTime >= $__fromTime AND TimestampTime <= $__toTime ) AND (body LIKE '%it\\'s%') \
             ORDER BY (TimestampTime, timestamp) DESC LIMIT 5"
        );
    }

    #[test]
    fn trace_id_is_a_literal() {
        let sql = gen_sql(json!({"database": "d", "table": "t", "queryType": "traces",
            "columns": [{"name": "TraceId", "hint": "trace_id"}],
            "meta": {"isTraceIdMode": true, "traceId": "x' OR 1=1 --"}}));
        assert_eq!(
            sql,
            r#"SELECT "TraceId" as traceID FROM "d"."t" WHERE traceID = 'x\' OR 1=1 --'"#
        );
    }

    /// A decimal map value type was cut at its inner comma (`2)`), so a number typed as text was
    /// quoted as a string (that generator throws on a number value).
    #[test]
    fn map_value_type_keeps_parameterised_types_whole() {
        assert_eq!(
            map_value_type("Map(String, Decimal(10, 2))"),
            "Decimal(10, 2)"
        );
        assert_eq!(
            map_value_type("Map(LowCardinality(String), String)"),
            "String"
        );
        assert_eq!(map_value_type("Map()"), "String");
        let f = BuilderOptions::from_json(&json!({"filters": [{"key": "M", "mapKey": "price",
            "type": "Map(String, Decimal(10, 2))", "operator": ">=", "value": "2.5"}]}))
        .unwrap()
        .filters;
        assert_eq!(filters_clause(&f, &[]).unwrap(), "( M['price'] >= 2.5 )");
    }

    /// A filter on a role no selected column has was dropped silently (so a trace search without
    /// a parent-span column listed every span): it is an error naming the role.
    #[test]
    fn filter_on_a_role_without_column_is_an_error() {
        let o = BuilderOptions::from_json(&json!({"columns": [{"name": "host"}],
            "filters": [{"key": "", "hint": "trace_parent_span_id", "type": "string", "operator": "IS EMPTY"},
                        {"key": "", "hint": "log_level", "type": "string", "operator": "IS ANYTHING"}]}))
        .unwrap();
        let e = filters_clause(&o.filters, &o.columns).unwrap_err().0;
        assert!(
            e.contains("filter 1 (trace_parent_span_id)") && e.contains("role"),
            "{e}"
        );
        // IS ANYTHING applies nothing, with or without a column.
        assert_eq!(filters_clause(&o.filters[1..], &o.columns).unwrap(), "");
    }

    #[test]
    fn dangling_group_by_is_left_out() {
        assert_eq!(
            gen_sql(
                json!({"database": "d", "table": "t", "queryType": "timeseries", "mode": "trend",
                "columns": [], "aggregates": [{"aggregateType": "count", "column": "*"}]})
            ),
            r#"SELECT count(*) FROM "d"."t""#
        );
    }
}
