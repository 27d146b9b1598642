//! Byte-level SQL scanner shared by every expansion pass: SQL read as ClickHouse's lexer reads it.
//!
//! The engine never tokenises SQL fully: it only needs to know, at each token start, whether an
//! opaque region begins there, and to split a macro call into arguments. Opaque regions are the
//! ones ClickHouse's lexer (`src/Parsers/Lexer.cpp`) reads as one token, with its exact rules:
//!
//! * `'…'` string literals and `"…"` / `` `…` `` quoted identifiers: a backslash escapes the
//!   next byte, a doubled quote stands for one quote;
//! * `‘…’` string literals and `“…”` quoted identifiers (Unicode quotes): no escapes at all, the
//!   region ends at the first closing Unicode quote;
//! * `$tag$…$tag$` heredocs, `tag` being word characters (`[A-Za-z0-9_]*`, possibly empty), only
//!   when the closing tag exists and the `$` starts a token (in `a$x$` the `$` is part of the
//!   word `a$x$`, as in ClickHouse);
//! * line comments `--`, `//`, `# ` (a `#` followed by a space) and `#!`, each up to but not
//!   including the next `\n` (a `\r` does not end them); a `#` followed by anything else is not a
//!   comment (ClickHouse rejects it as an unrecognised token);
//! * block comments `/* … */`, **nested** as the lexer nests them (`/* a /* b */ c */` is one
//!   comment);
//! * numbers whose exponent carries a sign (`1e-5`, `.5E+3`): the `-` is part of the number, so
//!   `1e--1` holds no comment, while `x.1e--1` does (after a `.` the lexer reads only digits).
//!
//! Unterminated regions run to the end of the input; ClickHouse rejects them anyway.
//!
//! One deliberate difference, for the macro language only: a `$` followed by a word and then
//! something other than `$` (`$var`, `$__timeFilter(`, `${var}`) is a macro or variable
//! reference, never the start of a heredoc. ClickHouse 26.9 accepts only word-character heredoc
//! tags, so this agrees with the engine for every query it can run.
//!
//! The differential test `tests/it/lexer.rs` checks these regions against the engine's own
//! reading (`EXPLAIN AST`) on hundreds of generated queries.
//!
//! Everything here works on bytes and returns byte offsets that are always on UTF-8 character
//! boundaries (every delimiter the scanner looks for is ASCII or a whole UTF-8 sequence).

/// The kind of an opaque region found at some offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    /// `'…'` string literal.
    String,
    /// `‘…’` string literal (Unicode quotes, no escapes).
    UnicodeString,
    /// `"…"` quoted identifier.
    DoubleQuoted,
    /// `` `…` `` quoted identifier.
    Backtick,
    /// `“…”` quoted identifier (Unicode quotes, no escapes).
    UnicodeQuoted,
    /// `$tag$…$tag$` heredoc string.
    Dollar,
    /// `--`, `//`, `# ` or `#!` up to (not including) the end of the line.
    LineComment,
    /// `/* … */`, nested.
    BlockComment,
    /// A number with a signed exponent (`1e-5`), which must not be read as `1e` `--…`.
    Number,
}

impl Region {
    /// Whether ClickHouse reads the region as a string literal.
    pub fn is_literal(self) -> bool {
        matches!(
            self,
            Region::String | Region::UnicodeString | Region::Dollar
        )
    }

    /// Whether ClickHouse reads the region as a quoted identifier.
    pub fn is_identifier(self) -> bool {
        matches!(
            self,
            Region::DoubleQuoted | Region::Backtick | Region::UnicodeQuoted
        )
    }

    /// Whether ClickHouse skips the region as a comment.
    pub fn is_comment(self) -> bool {
        matches!(self, Region::LineComment | Region::BlockComment)
    }
}

/// A word byte as ClickHouse's lexer counts it inside a bare word (`isWordCharASCII` or `$`).
fn continues_word(c: u8) -> bool {
    is_ident_byte(c) || c == b'$'
}

/// If an opaque region starts at `i`, returns its kind and its end (exclusive). Unterminated
/// regions run to the end of the input, as ClickHouse would reject them anyway.
///
/// Callers walk code one byte at a time and call this at every byte they reach; regions that
/// can only begin at a token start (`$tag$`, numbers) look at the bytes before `i` (see
/// [`starts_token`]).
pub(crate) fn opaque_at(b: &[u8], i: usize) -> Option<(Region, usize)> {
    let at_token_start = starts_token(b, i);
    match b[i] {
        b'\'' => Some((Region::String, quoted_end(b, i, b'\''))),
        b'"' => Some((Region::DoubleQuoted, quoted_end(b, i, b'"'))),
        b'`' => Some((Region::Backtick, quoted_end(b, i, b'`'))),
        b'-' if b.get(i + 1) == Some(&b'-') => Some((Region::LineComment, line_end(b, i))),
        b'/' if b.get(i + 1) == Some(&b'/') => Some((Region::LineComment, line_end(b, i))),
        b'#' if matches!(b.get(i + 1), Some(b' ' | b'!')) => {
            Some((Region::LineComment, line_end(b, i)))
        }
        b'/' if b.get(i + 1) == Some(&b'*') => Some((Region::BlockComment, block_end(b, i))),
        0xE2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0x98 | 0x9C)) => {
            // ‘ = E2 80 98 … ’ = E2 80 99; “ = E2 80 9C … ” = E2 80 9D. The lexer wants at least
            // three bytes after the opening quote before it tries (`pos + 5 < end`).
            if i + 5 >= b.len() {
                return None;
            }
            let close = [0xE2, 0x80, b[i + 2] + 1];
            let end = find(b, i + 3, &close).map_or(b.len(), |p| p + 3);
            let kind = if b[i + 2] == 0x98 {
                Region::UnicodeString
            } else {
                Region::UnicodeQuoted
            };
            Some((kind, end))
        }
        b'$' if at_token_start => dollar_quote_end(b, i).map(|end| (Region::Dollar, end)),
        b'0'..=b'9' if at_token_start && (i == 0 || b[i - 1] != b'.') => {
            number_with_signed_exponent(b, i).map(|end| (Region::Number, end))
        }
        b'.' if at_token_start
            && b.get(i + 1).is_some_and(u8::is_ascii_digit)
            && dot_starts_number(b, i) =>
        {
            number_with_signed_exponent(b, i).map(|end| (Region::Number, end))
        }
        _ => None,
    }
}

/// Whether a `$` or a digit at `i` starts a token, judged from the bytes before it.
///
/// After anything but a word byte (`[A-Za-z0-9_$]`) it does. A digit after a letter, digit or
/// `_` continues a word or number. A `$` or digit right after a `$` starts a token: that `$`
/// ends a heredoc or is a lone `$` (the only other reading, a word such as `a$$x`, is not one a
/// dashboard writes). A `$` after a letter or digit continues the word (`a$x$` is one word for
/// ClickHouse), except after a word that begins with a digit and has no `$` yet, which the lexer
/// reads as a number followed by a new token.
fn starts_token(b: &[u8], i: usize) -> bool {
    if i == 0 || !continues_word(b[i - 1]) || b[i - 1] == b'$' {
        return true;
    }
    if b[i] != b'$' {
        return false;
    }
    let run = b[..i]
        .iter()
        .rev()
        .take_while(|&&c| continues_word(c))
        .count();
    let word = &b[i - run..i];
    word[0].is_ascii_digit() && !word.contains(&b'$')
}

/// Every opaque region of `sql` (strings, quoted identifiers, heredocs, comments and
/// signed-exponent numbers), in order, as `(start..end, kind)`: the reading every pass uses.
pub fn regions(sql: &str) -> Vec<(std::ops::Range<usize>, Region)> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match opaque_at(b, i) {
            Some((kind, end)) => {
                out.push((i..end, kind));
                i = end;
            }
            None => i += 1,
        }
    }
    out
}

/// End of a line comment starting at `i`: the next `\n` (not included) or the end.
fn line_end(b: &[u8], i: usize) -> usize {
    memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |p| i + p)
}

/// End of a (nested) block comment opened at `i`; the end of the input when it is never closed.
fn block_end(b: &[u8], i: usize) -> usize {
    closed_block_end(b, i).unwrap_or(b.len())
}

/// End of the (nested) block comment opened at `i`, or `None` when it is never closed.
pub(crate) fn closed_block_end(b: &[u8], i: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut j = i + 2;
    while j + 2 <= b.len() {
        if b[j] == b'/' && b[j + 1] == b'*' {
            depth += 1;
            j += 2;
        } else if b[j] == b'*' && b[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return Some(j);
            }
        } else {
            j += 1;
        }
    }
    None
}

/// Whether a `.` followed by a digit starts a number (`.5`) rather than being a tuple-access or
/// qualifier dot (`x.1`, `t.1`): the lexer decides by the previous significant token, which we
/// approximate by the previous non-whitespace byte.
fn dot_starts_number(b: &[u8], i: usize) -> bool {
    let prev = b[..i].iter().rev().find(|c| !c.is_ascii_whitespace());
    match prev {
        None => true,
        Some(&c) => !(continues_word(c) || matches!(c, b')' | b']' | b'`' | b'"')),
    }
}

/// The end of the number at `i` when its exponent has a sign (the only case where reading the
/// number byte by byte would differ from the lexer); `None` otherwise.
fn number_with_signed_exponent(b: &[u8], i: usize) -> Option<usize> {
    let digits = |mut j: usize| {
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'_') {
            j += 1;
        }
        j
    };
    if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X' | b'b' | b'B')) {
        return None; // hex and binary numbers have no `e` exponent
    }
    let mut j = digits(i);
    if b.get(j) == Some(&b'.') {
        j = digits(j + 1);
    }
    if j + 1 < b.len() && matches!(b[j], b'e' | b'E') {
        let sign = j + 1;
        if sign + 1 < b.len() && matches!(b[sign], b'-' | b'+') {
            let mut end = digits(sign + 1);
            // `1e-5abc` goes on as one (invalid) word, like the lexer's BareWord fallback.
            while end < b.len() && is_ident_byte(b[end]) {
                end += 1;
            }
            return Some(end);
        }
    }
    None
}

/// End (exclusive) of a quoted region opened by `q` at `start`: backslash escapes the next byte,
/// a doubled quote stands for one quote.
fn quoted_end(b: &[u8], start: usize, q: u8) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            i += 2;
        } else if c == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// `$tag$ … $tag$` (tag: word characters, may be empty). Only a heredoc when the closing tag
/// exists, so a stray `$name$` in code is not mistaken for the start of one.
fn dollar_quote_end(b: &[u8], i: usize) -> Option<usize> {
    let j = i + 1 + ident_len(b, i + 1);
    if b.get(j) != Some(&b'$') {
        return None;
    }
    let tag = &b[i..=j];
    find(b, j + 1, tag).map(|p| p + tag.len())
}

/// Finds `needle` in `b` at or after `from`.
pub(crate) fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || from >= b.len() {
        return None;
    }
    memchr::memmem::find(&b[from..], needle).map(|p| p + from)
}

/// Bytes that continue an identifier (and so end a macro name when they do not follow it).
pub(crate) fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Length of the identifier starting at `i` (`[A-Za-z0-9_]*`).
pub(crate) fn ident_len(b: &[u8], i: usize) -> usize {
    b[i.min(b.len())..]
        .iter()
        .take_while(|&&c| is_ident_byte(c))
        .count()
}

/// A parsed `( … )` call: argument spans (trimmed) and the offset just past the `)`.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) args: Vec<(usize, usize)>,
    pub(crate) end: usize,
}

/// Parses the parenthesised argument list whose `(` is at `open`. Commas split arguments only at
/// depth zero and outside opaque regions; `()` (or only whitespace) means zero arguments. Returns
/// `None` when the parentheses never balance.
pub(crate) fn parse_call(b: &[u8], open: usize) -> Option<Call> {
    debug_assert_eq!(b[open], b'(');
    let mut depth = 0usize;
    let mut i = open + 1;
    let mut arg_start = i;
    let mut args = Vec::new();
    while i < b.len() {
        if let Some((_, end)) = opaque_at(b, i) {
            i = end;
            continue;
        }
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth > 0 => depth -= 1,
            b')' => {
                args.push(trim_span(b, arg_start, i));
                if args.len() == 1 && args[0].0 == args[0].1 {
                    args.clear();
                }
                return Some(Call { args, end: i + 1 });
            }
            b',' if depth == 0 => {
                args.push(trim_span(b, arg_start, i));
                arg_start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Shrinks `[s, e)` to exclude ASCII whitespace at both ends.
pub(crate) fn trim_span(b: &[u8], mut s: usize, mut e: usize) -> (usize, usize) {
    while s < e && b[s].is_ascii_whitespace() {
        s += 1;
    }
    while e > s && b[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    (s, e)
}

/// Offset of the first non-whitespace byte at or after `i`.
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Top-level (depth zero, outside opaque regions) offsets where a whole word equal to one of
/// `words` (ASCII case-insensitive) starts. A multi-word entry such as `"group by"` matches any
/// whitespace between its words. Returns `(offset, index into words, end of match)`.
pub(crate) fn top_level_words(b: &[u8], from: usize, words: &[&str]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = from;
    while i < b.len() {
        if let Some((_, end)) = opaque_at(b, i) {
            i = end;
            continue;
        }
        let c = b[i];
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0
            && c.is_ascii_alphabetic()
            && (i == 0 || !(is_ident_byte(b[i - 1]) || b[i - 1] == b'$' || b[i - 1] == b'.'))
        {
            let mut matched = false;
            for (k, w) in words.iter().enumerate() {
                if let Some(end) = match_words(b, i, w) {
                    out.push((i, k, end));
                    i = end;
                    matched = true;
                    break;
                }
            }
            if matched {
                continue;
            }
            i += ident_len(b, i);
            continue;
        }
        i += 1;
    }
    out
}

/// Matches a (possibly multi-word) keyword at `i`, case-insensitively and on word boundaries.
pub(crate) fn match_words(b: &[u8], i: usize, words: &str) -> Option<usize> {
    let mut j = i;
    for (n, w) in words.split(' ').enumerate() {
        if n > 0 {
            let k = skip_ws(b, j);
            if k == j {
                return None;
            }
            j = k;
        }
        let wb = w.as_bytes();
        if j + wb.len() > b.len() || !b[j..j + wb.len()].eq_ignore_ascii_case(wb) {
            return None;
        }
        j += wb.len();
    }
    if j < b.len() && is_ident_byte(b[j]) {
        return None;
    }
    Some(j)
}

/// Offsets of top-level `AS` keywords inside `[s, e)`.
pub(crate) fn last_top_level_as(b: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
    top_level_words(&b[..e], s, &["as"])
        .last()
        .map(|&(p, _, end)| (p, end))
}

/// Whether the byte at `i` is inside parentheses, counting from `from` and skipping opaque
/// regions. Used to reject statement macros that are not at the top level.
pub(crate) fn depth_at(b: &[u8], from: usize, target: usize) -> usize {
    let mut depth = 0usize;
    let mut i = from;
    while i < target && i < b.len() {
        if let Some((_, end)) = opaque_at(b, i) {
            i = end;
            continue;
        }
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    depth
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(s: &str) -> Option<(Region, usize)> {
        opaque_at(s.as_bytes(), 0)
    }

    #[test]
    fn strings_honour_both_escape_styles() {
        assert_eq!(region(r"'it\'s' x"), Some((Region::String, 7)));
        assert_eq!(region("'it''s' x"), Some((Region::String, 7)));
        assert_eq!(region("'open"), Some((Region::String, 5)));
    }

    #[test]
    fn identifiers_comments_and_heredocs_are_opaque() {
        assert_eq!(region("`a--b` x"), Some((Region::Backtick, 6)));
        assert_eq!(region("\"a\"\"b\" x"), Some((Region::DoubleQuoted, 6)));
        assert_eq!(region("-- c\nx"), Some((Region::LineComment, 4)));
        assert_eq!(region("/* a */x"), Some((Region::BlockComment, 7)));
        assert_eq!(region("$q$a--b$q$ x"), Some((Region::Dollar, 10)));
        assert_eq!(region("$$x$$"), Some((Region::Dollar, 5)));
        // No closing tag: ordinary code, so a macro there can still fire.
        assert_eq!(region("$timeFilter$ x"), None);
        assert_eq!(region("$x"), None);
    }

    #[test]
    fn line_comments_as_the_lexer_defines_them() {
        assert_eq!(region("# it's\nx"), Some((Region::LineComment, 6)));
        assert_eq!(region("#!/bin/x\nx"), Some((Region::LineComment, 8)));
        assert_eq!(region("// it's\nx"), Some((Region::LineComment, 7)));
        // `#` followed by anything but a space or `!` is not a comment (ClickHouse rejects it).
        assert_eq!(region("#x'"), None);
        assert_eq!(region("#\tx"), None);
        // Only `\n` ends a line comment.
        assert_eq!(region("-- a\rb\nc"), Some((Region::LineComment, 6)));
    }

    #[test]
    fn block_comments_nest() {
        let s = "/* a /* b */ it's */ x";
        assert_eq!(region(s), Some((Region::BlockComment, 20)));
        assert_eq!(region("/* /* */"), Some((Region::BlockComment, 8)));
    }

    #[test]
    fn unicode_quotes_have_no_escapes() {
        let s = "‘it\\’ x";
        assert_eq!(
            region(s),
            Some((Region::UnicodeString, s.find(" x").unwrap()))
        );
        let s = "“a'b” x";
        assert_eq!(
            region(s),
            Some((Region::UnicodeQuoted, s.find(" x").unwrap()))
        );
    }

    #[test]
    fn heredocs_start_only_at_a_token_start() {
        assert_eq!(region("$1$a'$1$ x"), Some((Region::Dollar, 8)));
        let b = b"a$x$ '$x$";
        assert_eq!(opaque_at(b, 1), None);
    }

    #[test]
    fn signed_exponents_are_part_of_the_number() {
        assert_eq!(region("1e--1"), Some((Region::Number, 3)));
        assert_eq!(region("1.5E+3 x"), Some((Region::Number, 6)));
        assert_eq!(region("12 --x"), None);
        // After a tuple-access dot only digits are read, so the `--` is a comment again.
        let s = b"x.1e--1";
        assert_eq!(opaque_at(s, 2), None);
        assert_eq!(opaque_at(s, 4), Some((Region::LineComment, 7)));
        // `.5` starts a number after a comma, but is a dot after a word (ClickHouse rejects
        // `SELECT .5`).
        let kinds = |s: &str| regions(s).into_iter().map(|r| r.1).collect::<Vec<_>>();
        assert_eq!(
            kinds("SELECT 1, .5e-3--c"),
            [Region::Number, Region::LineComment]
        );
        assert_eq!(kinds("x .5e-3--c"), [Region::LineComment]);
    }

    #[test]
    fn calls_split_on_top_level_commas_only() {
        let s = "(a, f(b, c), 'x,)', `y,`) tail";
        let call = parse_call(s.as_bytes(), 0).unwrap();
        let args: Vec<&str> = call.args.iter().map(|&(a, b)| &s[a..b]).collect();
        assert_eq!(args, ["a", "f(b, c)", "'x,)'", "`y,`"]);
        assert_eq!(&s[call.end..], " tail");
    }

    #[test]
    fn empty_and_unbalanced_calls() {
        assert!(parse_call(b"( )", 0).unwrap().args.is_empty());
        assert!(parse_call(b"(a, (b)", 0).is_none());
    }

    #[test]
    fn keywords_are_found_only_at_top_level() {
        let s = "FROM (SELECT 1 WHERE x) WHERE y GROUP  BY z `where`";
        let hits = top_level_words(s.as_bytes(), 0, &["where", "group by"]);
        let found: Vec<(usize, usize)> = hits.iter().map(|&(p, k, _)| (p, k)).collect();
        assert_eq!(found, [(24, 0), (32, 1)]);
    }
}
