//! Differential test of the macro engine's SQL scanner against the engine's own lexer.
//!
//! A seeded generator writes queries full of string literals, quoted identifiers (ASCII and
//! Unicode quotes, both escape styles), heredocs, nested block comments and every line-comment
//! form (`--`, `//`, `# `, `#!`), with apostrophes and quotes inside each, so a scanner that
//! misreads one region misreads everything after it. Each region carries a unique marker. The
//! scanner (`lantern::macros::regions`) says where each marker is: in a literal, a quoted
//! identifier, a comment, or code. The engine says the same through `EXPLAIN AST`: a marker in a
//! `Literal` line was a literal, in an `Identifier` line an identifier (quoted or bare), and a
//! marker that does not appear at all was a comment. Every marker must agree.

use lantern::macros::{Region, regions};

use crate::engine::engine;

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

/// What a marker sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Literal,
    Identifier,
    Comment,
}

/// Text that is dangerous next to a misread region: quotes, comment starts, heredoc tags.
const NOISE: &[&str] = &[
    "it's", "a\"b", "c`d", "--", "/*", "*/", "#", "#!", "//", "$x$", "$$", ";", " ", "é", "‘", "”",
];

/// Noise that can stand inside the given region without closing it (the escapes are the
/// region's own).
fn content(g: &mut Gen, escape: fn(&str) -> String) -> String {
    let n = 1 + g.below(4);
    (0..n)
        .map(|_| escape(g.pick(NOISE)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn item(g: &mut Gen, marker: &str) -> (String, Class) {
    match g.below(9) {
        0 => {
            let esc = if g.below(2) == 0 {
                |s: &str| s.replace('\'', "\\'")
            } else {
                |s: &str| s.replace('\'', "''")
            };
            (format!("'{marker} {}'", content(g, esc)), Class::Literal)
        }
        1 => {
            let esc = if g.below(2) == 0 {
                |s: &str| s.replace('`', "\\`")
            } else {
                |s: &str| s.replace('`', "``")
            };
            (format!("`{marker} {}`", content(g, esc)), Class::Identifier)
        }
        2 => {
            let esc = if g.below(2) == 0 {
                |s: &str| s.replace('"', "\\\"")
            } else {
                |s: &str| s.replace('"', "\"\"")
            };
            (
                format!("\"{marker} {}\"", content(g, esc)),
                Class::Identifier,
            )
        }
        3 => {
            let tag = g.pick(&["", "t", "tag_1", "1"]);
            let esc = |s: &str| s.replace('$', "");
            (
                format!("${tag}${marker} {}${tag}$", content(g, esc)),
                Class::Literal,
            )
        }
        4 => {
            let esc = |s: &str| s.replace(['’', '‘'], "");
            (format!("‘{marker} {}’", content(g, esc)), Class::Literal)
        }
        5 => {
            let esc = |s: &str| s.replace(['”', '“'], "");
            (format!("“{marker} {}”", content(g, esc)), Class::Identifier)
        }
        6 => (marker.to_string(), Class::Identifier),
        // A tuple-access dot reads only digits: `1e` is a name and `--` starts a comment.
        7 => (format!("tuple(1).1e--{marker} it's\n"), Class::Comment),
        _ => (
            format!("{}{marker}", g.pick(&["1e-5 + ", "2.5E+3 - ", "0x1e - "])),
            Class::Identifier,
        ),
    }
}

fn comment(g: &mut Gen, marker: &str, inner: &str) -> String {
    let line = |g: &mut Gen| content(g, |s| s.to_string());
    match g.below(7) {
        0 => format!("-- {marker} {}\n", line(g)),
        1 => format!("# {marker} {}\n", line(g)),
        2 => format!("#!{marker} {}\n", line(g)),
        3 => format!("// {marker} {}\n", line(g)),
        4 => format!("--{marker}\r{}\n", line(g)),
        5 => {
            let body = content(g, |s| s.replace("*/", "").replace("/*", ""));
            format!("/* {marker} {body} /* {inner} it's */ \" */")
        }
        _ => format!("/*{marker}*/"),
    }
}

/// Generates one query and the class each marker was written as.
fn query(g: &mut Gen, case: usize) -> (String, Vec<(String, Class)>) {
    let mut sql = String::from("SELECT ");
    let mut markers = Vec::new();
    let n = 1 + g.below(6);
    for k in 0..n {
        if k > 0 {
            sql.push_str(", ");
        }
        let m = format!("Q{case}x{k}Z");
        let (text, class) = item(g, &m);
        sql.push_str(&text);
        markers.push((m, class));
        if g.below(2) == 0 {
            let (c, inner) = (format!("C{case}x{k}Z"), format!("N{case}x{k}Z"));
            sql.push(' ');
            let text = comment(g, &c, &inner);
            sql.push_str(&text);
            markers.push((c, Class::Comment));
            if text.contains(&inner) {
                markers.push((inner, Class::Comment));
            }
        }
    }
    (sql, markers)
}

/// Where the scanner puts `marker` (code counts as an identifier: a bare name).
fn scanner_class(sql: &str, marker: &str) -> Option<Class> {
    let at = sql.find(marker)?;
    let region = regions(sql)
        .into_iter()
        .find(|(r, _)| r.start <= at && at < r.end);
    Some(match region {
        None => Class::Identifier,
        Some((_, kind)) if kind.is_literal() => Class::Literal,
        Some((_, kind)) if kind.is_identifier() => Class::Identifier,
        Some((_, kind)) if kind.is_comment() => Class::Comment,
        Some((_, Region::Number)) | Some(_) => return None,
    })
}

/// Where the engine puts `marker`, from its `EXPLAIN AST`.
fn engine_class(ast: &str, marker: &str) -> Option<Class> {
    let Some(line) = ast.lines().find(|l| l.contains(marker)) else {
        return Some(Class::Comment);
    };
    let line = line.trim_start();
    if line.starts_with("Literal") {
        Some(Class::Literal)
    } else if line.starts_with("Identifier") {
        Some(Class::Identifier)
    } else {
        None
    }
}

#[test]
fn scanner_regions_agree_with_the_engine() {
    let e = engine();
    let mut g = Gen(0x5EED_1E8E_u64);
    let (mut accepted, mut markers_checked) = (0, 0);
    let mut disagreements = Vec::new();
    let cases = 400;
    for case in 0..cases {
        let (sql, markers) = query(&mut g, case);
        let Ok((200, ast)) = e.http("POST", "/", &format!("EXPLAIN AST {sql}")) else {
            continue;
        };
        accepted += 1;
        for (m, written) in &markers {
            markers_checked += 1;
            let (scanner, engine) = (scanner_class(&sql, m), engine_class(&ast, m));
            if scanner != engine {
                disagreements.push(format!(
                    "{m} (written as {written:?}): scanner {scanner:?}, engine {engine:?}\n  {sql:?}"
                ));
            }
        }
    }
    eprintln!("lexer differential: {accepted}/{cases} queries parsed, {markers_checked} markers");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    // The generator writes valid SQL: nearly every query must parse, or the test checks little.
    assert!(
        accepted * 10 >= cases * 9,
        "only {accepted}/{cases} queries parsed"
    );
}
