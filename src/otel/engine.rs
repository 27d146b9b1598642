//! Following `Distributed` and `Merge` tables to the table that stores their rows.
//!
//! At scale `otel_logs` is usually a `Distributed` table over one local MergeTree table per shard
//! (or a `Merge` table over several, e.g. one per month). Such a table has no partition, sorting
//! or primary key of its own in `system.tables`, so schema detection ([`super::classify`]) would
//! see no key time columns: the generated time filter would lose the `TimestampTime` condition
//! that lets ClickHouse prune partitions and primary-key ranges, and a generation recognised by
//! its sorting key would be misread. This module reads the engine's arguments from
//! `system.tables.engine_full` and says which table to read the keys from instead:
//!
//! * `Distributed(cluster, database, table[, sharding_key[, policy]])` → `database.table`, the
//!   local table on the node Lantern talks to (a query node without the local table keeps the
//!   Distributed table's own, empty, keys);
//! * `Merge(database, table_regexp)` (database a name, `REGEXP('…')` or `currentDatabase()`) →
//!   the **first** matching table, MergeTree-family tables first, then by database and name: the
//!   tables under one Merge table normally share one layout, and the keys of one are used for
//!   all.
//!
//! Arguments are read as ClickHouse's lexer reads them: string literals (`'…'` with backslash
//! escapes and `''`), bare identifiers, and quoted identifiers (`` `…` `` or `"…"`); any other
//! argument (a sharding-key expression) is skipped whole, parentheses and literals inside it
//! included. The server stores the evaluated arguments as string literals, but older servers
//! and hand-written metadata use identifiers, so both are accepted.
//!
//! Pure: the planner runs [`Underlying::lookup_sql`] and feeds the row back, at most
//! [`MAX_HOPS`] times (a Merge over Distributed tables takes two).

use serde_json::Value;

use crate::sql::string_literal;

/// At most this many Distributed/Merge tables are followed from the named one (a bound on
/// cycles such as two Merge tables matching each other).
pub const MAX_HOPS: usize = 4;

/// The `system.tables` columns [`TableRow::from_json`] reads, in order.
pub const TABLE_COLUMNS: &str =
    "partition_key, sorting_key, primary_key, database, name, engine, engine_full";

/// One table's row of `system.tables`: its keys and its engine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableRow {
    /// `partition_key`.
    pub partition_key: String,
    /// `sorting_key`.
    pub sorting_key: String,
    /// `primary_key`.
    pub primary_key: String,
    /// `database`.
    pub database: String,
    /// `name`.
    pub name: String,
    /// `engine`, e.g. `MergeTree`, `Distributed`.
    pub engine: String,
    /// `engine_full`: the engine with its arguments and settings.
    pub engine_full: String,
}

impl TableRow {
    /// A row selected with [`TABLE_COLUMNS`] (JSONCompact values); missing values are empty.
    pub fn from_json(row: &[Value]) -> TableRow {
        let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or("").to_owned();
        TableRow {
            partition_key: text(0),
            sorting_key: text(1),
            primary_key: text(2),
            database: text(3),
            name: text(4),
            engine: text(5),
            engine_full: text(6),
        }
    }

    /// `database.table`, for messages.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }

    /// The table that stores this table's rows, when this is a `Distributed` or `Merge` table;
    /// `Ok(None)` for any other engine.
    pub fn underlying(&self) -> Result<Option<Underlying>, EngineArgsError> {
        let kind = match self.engine.as_str() {
            "Distributed" => Kind::Distributed,
            "Merge" => Kind::Merge,
            _ => return Ok(None),
        };
        let args = engine_args(&self.engine_full, &self.engine)?;
        let err = |reason: String| EngineArgsError {
            engine_full: self.engine_full.clone(),
            reason,
        };
        match kind {
            Kind::Distributed => {
                if args.len() < 3 {
                    return Err(err(format!(
                        "Distributed needs (cluster, database, table), found {} arguments",
                        args.len()
                    )));
                }
                let database = match &args[1] {
                    Arg::Name(n) => n.clone(),
                    Arg::CurrentDatabase => self.database.clone(),
                    other => return Err(err(format!("unsupported database argument {other:?}"))),
                };
                let Arg::Name(table) = &args[2] else {
                    return Err(err(format!("unsupported table argument {:?}", args[2])));
                };
                Ok(Some(Underlying::Table {
                    database,
                    table: table.clone(),
                }))
            }
            Kind::Merge => {
                if args.len() != 2 {
                    return Err(err(format!(
                        "Merge needs (database, table_regexp), found {} arguments",
                        args.len()
                    )));
                }
                let database = match &args[0] {
                    Arg::Name(n) => DatabaseMatch::Name(n.clone()),
                    Arg::CurrentDatabase => DatabaseMatch::Name(self.database.clone()),
                    Arg::Regexp(r) => DatabaseMatch::Regexp(r.clone()),
                    Arg::Expression => {
                        return Err(err("unsupported database argument".into()));
                    }
                };
                let Arg::Name(table_regexp) = &args[1] else {
                    return Err(err(format!(
                        "unsupported table regexp argument {:?}",
                        args[1]
                    )));
                };
                Ok(Some(Underlying::FirstMatch {
                    database,
                    table_regexp: table_regexp.clone(),
                    except: (self.database.clone(), self.name.clone()),
                }))
            }
        }
    }
}

enum Kind {
    Distributed,
    Merge,
}

/// Where a Distributed or Merge table's rows are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Underlying {
    /// One named table (a Distributed table's local table).
    Table {
        /// Database.
        database: String,
        /// Table.
        table: String,
    },
    /// The first table a Merge table reads (see the module docs for the order).
    FirstMatch {
        /// Which databases.
        database: DatabaseMatch,
        /// RE2 regular expression over table names (searched, as ClickHouse's Merge does).
        table_regexp: String,
        /// The Merge table itself, which its own regexp may match.
        except: (String, String),
    },
}

/// A Merge table's database argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseMatch {
    /// One database.
    Name(String),
    /// `REGEXP('…')`: every database the RE2 expression matches.
    Regexp(String),
}

impl Underlying {
    /// The `system.tables` query for the underlying table's row ([`TABLE_COLUMNS`]); every name
    /// and pattern is a string literal.
    pub fn lookup_sql(&self) -> String {
        match self {
            Underlying::Table { database, table } => format!(
                "SELECT {TABLE_COLUMNS} FROM system.tables WHERE database = {} AND name = {} LIMIT 1",
                string_literal(database),
                string_literal(table)
            ),
            Underlying::FirstMatch {
                database,
                table_regexp,
                except,
            } => {
                let db = match database {
                    DatabaseMatch::Name(n) => format!("database = {}", string_literal(n)),
                    DatabaseMatch::Regexp(r) => format!("match(database, {})", string_literal(r)),
                };
                format!(
                    "SELECT {TABLE_COLUMNS} FROM system.tables WHERE {db} AND match(name, {}) \
                     AND NOT (database = {} AND name = {}) \
                     ORDER BY engine NOT LIKE '%MergeTree', database, name LIMIT 1",
                    string_literal(table_regexp),
                    string_literal(&except.0),
                    string_literal(&except.1)
                )
            }
        }
    }
}

/// The engine arguments could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the engine arguments of `{engine_full}`: {reason}")]
pub struct EngineArgsError {
    /// `system.tables.engine_full`.
    pub engine_full: String,
    /// What failed.
    pub reason: String,
}

/// One engine argument, as far as following tables needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Arg {
    /// A string literal, identifier or quoted identifier: its (unescaped) text.
    Name(String),
    /// `currentDatabase()`.
    CurrentDatabase,
    /// `REGEXP('…')`.
    Regexp(String),
    /// Anything else (a sharding key, a number).
    Expression,
}

/// A token of ClickHouse's lexer, as far as engine arguments need.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// `'…'`, unescaped.
    Str(String),
    /// A bare identifier.
    Ident(String),
    /// `` `…` `` or `"…"`, unescaped.
    QuotedIdent(String),
    Open,
    Close,
    Comma,
    /// Any other character (numbers, operators), one at a time.
    Other,
}

/// The top-level arguments of `engine_full`, which must start with `engine(`.
fn engine_args(engine_full: &str, engine: &str) -> Result<Vec<Arg>, EngineArgsError> {
    let err = |reason: &str| EngineArgsError {
        engine_full: engine_full.to_owned(),
        reason: reason.to_owned(),
    };
    let rest = engine_full
        .trim_start()
        .strip_prefix(engine)
        .ok_or_else(|| err("it does not start with the engine name"))?;
    let mut lexer = Lexer {
        s: rest.as_bytes(),
        i: 0,
    };
    if lexer.next().map_err(|e| err(&e))? != Some(Token::Open) {
        return Err(err("no argument list"));
    }
    let mut args = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut depth = 0usize;
    loop {
        let token = lexer
            .next()
            .map_err(|e| err(&e))?
            .ok_or_else(|| err("unbalanced parentheses"))?;
        match token {
            Token::Close if depth == 0 => {
                if !current.is_empty() || !args.is_empty() {
                    args.push(arg(&current));
                }
                return Ok(args);
            }
            Token::Comma if depth == 0 => {
                args.push(arg(&current));
                current.clear();
            }
            Token::Open => {
                depth += 1;
                current.push(token);
            }
            Token::Close => {
                depth -= 1;
                current.push(token);
            }
            t => current.push(t),
        }
    }
}

fn arg(tokens: &[Token]) -> Arg {
    match tokens {
        [Token::Str(s) | Token::Ident(s) | Token::QuotedIdent(s)] => Arg::Name(s.clone()),
        [Token::Ident(f), Token::Open, Token::Close]
            if f.eq_ignore_ascii_case("currentDatabase") =>
        {
            Arg::CurrentDatabase
        }
        [Token::Ident(f), Token::Open, Token::Str(r), Token::Close]
            if f.eq_ignore_ascii_case("REGEXP") =>
        {
            Arg::Regexp(r.clone())
        }
        _ => Arg::Expression,
    }
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    /// The next token, `None` at the end; an unterminated literal is an error.
    fn next(&mut self) -> Result<Option<Token>, String> {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
        let Some(&c) = self.s.get(self.i) else {
            return Ok(None);
        };
        let token = match c {
            b'(' => Token::Open,
            b')' => Token::Close,
            b',' => Token::Comma,
            b'\'' => return self.quoted(b'\'').map(|s| Some(Token::Str(s))),
            b'`' | b'"' => return self.quoted(c).map(|s| Some(Token::QuotedIdent(s))),
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = self.i;
                while self.i < self.s.len()
                    && (self.s[self.i].is_ascii_alphanumeric()
                        || self.s[self.i] == b'_'
                        || self.s[self.i] == b'$'
                        || self.s[self.i] >= 0x80)
                {
                    self.i += 1;
                }
                let ident = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                return Ok(Some(Token::Ident(ident)));
            }
            _ => Token::Other,
        };
        self.i += 1;
        Ok(Some(token))
    }

    /// A quoted string or identifier starting at the quote, unescaped by ClickHouse's rules: a
    /// doubled quote is one quote; `\` escapes the next character (`\n`, `\t`, `\r`, `\0`,
    /// `\a`, `\b`, `\e`, `\f`, `\v`, `\xHH`); for any other character the backslash is kept,
    /// except before `\`, quotes, `/` (so `'\d'` is `\d`, as regular expressions need).
    fn quoted(&mut self, quote: u8) -> Result<String, String> {
        let mut out: Vec<u8> = Vec::new();
        self.i += 1;
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return Err(format!("unterminated {} literal", quote as char));
            };
            self.i += 1;
            if c == quote {
                if self.s.get(self.i) == Some(&quote) {
                    out.push(quote);
                    self.i += 1;
                    continue;
                }
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let Some(&e) = self.s.get(self.i) else {
                return Err("a literal ends in a backslash".into());
            };
            self.i += 1;
            match e {
                b'x' | b'X' => {
                    let hex = self
                        .s
                        .get(self.i..self.i + 2)
                        .and_then(|h| std::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or("\\x needs two hex digits")?;
                    self.i += 2;
                    out.push(hex);
                }
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'0' => out.push(0),
                b'a' => out.push(0x07),
                b'b' => out.push(0x08),
                b'e' => out.push(0x1b),
                b'f' => out.push(0x0c),
                b'v' => out.push(0x0b),
                b'\\' | b'\'' | b'"' | b'`' | b'/' => out.push(e),
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(engine: &str, engine_full: &str) -> TableRow {
        TableRow {
            database: "otel".into(),
            name: "otel_logs".into(),
            engine: engine.into(),
            engine_full: engine_full.into(),
            ..Default::default()
        }
    }

    fn table(db: &str, t: &str) -> Option<Underlying> {
        Some(Underlying::Table {
            database: db.into(),
            table: t.into(),
        })
    }

    #[test]
    fn distributed_as_the_server_stores_it() {
        let r = row(
            "Distributed",
            "Distributed('test_shard_localhost', 'otel', 'otel_logs_local', rand())",
        );
        assert_eq!(r.underlying().unwrap(), table("otel", "otel_logs_local"));
        // Settings after the arguments, no sharding key.
        let r = row(
            "Distributed",
            "Distributed('c', 't', 'l') SETTINGS fsync_after_insert = 0",
        );
        assert_eq!(r.underlying().unwrap(), table("t", "l"));
    }

    #[test]
    fn distributed_with_identifiers_quoted_identifiers_and_escapes() {
        let cases = [
            (
                "Distributed(c, otel, otel_logs_local)",
                ("otel", "otel_logs_local"),
            ),
            (
                "Distributed(`c`, `my db`, \"lo\"\"cal\")",
                ("my db", "lo\"cal"),
            ),
            (
                "Distributed('c', 'we\\'ird\\\\db', 'ta\"b')",
                ("we'ird\\db", "ta\"b"),
            ),
            ("Distributed('c', 'it''s', 'x\\x41\\ny')", ("it's", "xA\ny")),
            (
                "Distributed(c, currentDatabase(), `l`, cityHash64(concat(a, ',)(')))",
                ("otel", "l"),
            ),
            // A sharding key with nested calls, literals holding separators, and a policy.
            (
                "Distributed( c ,d,t, sipHash64(toString(x), ')', 'a,b'), 'policy')",
                ("d", "t"),
            ),
            ("Distributed('c', 'd', `ключ`)", ("d", "ключ")),
        ];
        for (text, (db, t)) in cases {
            assert_eq!(
                row("Distributed", text).underlying().unwrap(),
                table(db, t),
                "{text}"
            );
        }
    }

    #[test]
    fn merge_database_forms() {
        let r = row("Merge", "Merge('otel', '^otel_logs_')");
        assert_eq!(
            r.underlying().unwrap(),
            Some(Underlying::FirstMatch {
                database: DatabaseMatch::Name("otel".into()),
                table_regexp: "^otel_logs_".into(),
                except: ("otel".into(), "otel_logs".into()),
            })
        );
        // As the server stores REGEXP: the pattern's backslash is escaped in the literal.
        assert_eq!(
            merge("Merge(REGEXP('^otel$'), '^l\\\\d*$')"),
            (DatabaseMatch::Regexp("^otel$".into()), "^l\\d*$".into())
        );
        // An unknown escape keeps its backslash, as ClickHouse's lexer does.
        assert_eq!(
            merge("Merge(currentDatabase(), '^l\\d$')"),
            (DatabaseMatch::Name("otel".into()), "^l\\d$".into())
        );
    }

    /// The database match and table regexp of a Merge table of `otel`.
    fn merge(engine_full: &str) -> (DatabaseMatch, String) {
        match row("Merge", engine_full).underlying() {
            Ok(Some(Underlying::FirstMatch {
                database,
                table_regexp,
                ..
            })) => (database, table_regexp),
            other => panic!("{engine_full}: {other:?}"),
        }
    }

    #[test]
    fn other_engines_are_their_own_storage() {
        for (engine, full) in [
            ("MergeTree", "MergeTree ORDER BY t"),
            (
                "ReplicatedMergeTree",
                "ReplicatedMergeTree('/p', '{replica}') ORDER BY t",
            ),
            ("View", ""),
            ("", ""),
        ] {
            assert_eq!(row(engine, full).underlying(), Ok(None), "{engine}");
        }
    }

    #[test]
    fn unreadable_arguments_are_errors_naming_the_engine() {
        for full in [
            "Distributed('c', 'd'",
            "Distributed('c', 'd', 'unterminated)",
            "Distributed('c', 'd')",
            "Distributed('c', 'd', concat('a', 'b'))",
            "Distributed('c', 'd', 'x\\",
            "Distributed",
            "Merge('d')",
            "Merge(lower('D'), 'x')",
            "NotDistributed('c', 'd', 't')",
        ] {
            let engine = if full.starts_with("Merge") {
                "Merge"
            } else {
                "Distributed"
            };
            let e = row(engine, full).underlying().expect_err(full);
            assert_eq!(e.engine_full, full);
            assert!(e.to_string().contains(full), "{e}");
        }
    }

    #[test]
    fn lookup_sql_quotes_every_name() {
        let u = Underlying::Table {
            database: "d' OR 1 --".into(),
            table: "t\\".into(),
        };
        assert_eq!(
            u.lookup_sql(),
            format!(
                "SELECT {TABLE_COLUMNS} FROM system.tables WHERE database = 'd\\' OR 1 --' AND name = 't\\\\' LIMIT 1"
            )
        );
        let u = Underlying::FirstMatch {
            database: DatabaseMatch::Regexp("^o'".into()),
            table_regexp: "^l\\d".into(),
            except: ("otel".into(), "otel_logs".into()),
        };
        let sql = u.lookup_sql();
        assert!(
            sql.contains(
                "WHERE match(database, '^o\\'') AND match(name, '^l\\\\d') AND NOT (database = 'otel' AND name = 'otel_logs')"
            ),
            "{sql}"
        );
        assert!(sql.ends_with("ORDER BY engine NOT LIKE '%MergeTree', database, name LIMIT 1"));
    }

    #[test]
    fn rows_read_from_json() {
        let r = TableRow::from_json(&[
            Value::from("toDate(TimestampTime)"),
            Value::from("ServiceName, TimestampTime"),
            Value::from("ServiceName"),
            Value::from("otel"),
            Value::from("otel_logs_local"),
            Value::from("MergeTree"),
        ]);
        assert_eq!(r.sorting_key, "ServiceName, TimestampTime");
        assert_eq!(r.qualified_name(), "otel.otel_logs_local");
        assert_eq!(r.engine_full, "");
    }
}
