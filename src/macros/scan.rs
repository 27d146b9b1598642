//! Byte-level SQL scanner shared by every expansion pass.
//!
//! The engine never tokenises SQL fully: it only needs to know, at each byte, whether it is in
//! code or inside an opaque region, and to split a macro call into arguments. Opaque regions are
//! the ones ClickHouse's lexer treats as a unit: `'…'` strings (with `\'` and `''` escapes),
//! `"…"` and `` `…` `` identifiers (backslash or doubled-quote escapes), `$tag$…$tag$` heredocs,
//! `-- …` line comments and `/* … */` block comments. Macros never fire inside them, and argument
//! splitting never looks inside them, so a `,` or `)` in a string cannot change a call's shape.
//!
//! Everything here works on bytes and returns byte offsets that are always on UTF-8 character
//! boundaries (every delimiter the scanner looks for is ASCII).

/// The kind of an opaque region found at some offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Region {
    /// `'…'` string literal.
    String,
    /// `"…"` quoted identifier.
    DoubleQuoted,
    /// `` `…` `` quoted identifier.
    Backtick,
    /// `$tag$…$tag$` heredoc string.
    Dollar,
    /// `-- …` up to (not including) the end of the line.
    LineComment,
    /// `/* … */`.
    BlockComment,
}

/// If an opaque region starts at `i`, returns its kind and its end (exclusive). Unterminated
/// regions run to the end of the input, as ClickHouse would reject them anyway.
pub(crate) fn opaque_at(b: &[u8], i: usize) -> Option<(Region, usize)> {
    match b[i] {
        b'\'' => Some((Region::String, quoted_end(b, i, b'\''))),
        b'"' => Some((Region::DoubleQuoted, quoted_end(b, i, b'"'))),
        b'`' => Some((Region::Backtick, quoted_end(b, i, b'`'))),
        b'-' if b.get(i + 1) == Some(&b'-') => {
            let end = b[i..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p);
            Some((Region::LineComment, end))
        }
        b'/' if b.get(i + 1) == Some(&b'*') => {
            let end = find(b, i + 2, b"*/").map_or(b.len(), |p| p + 2);
            Some((Region::BlockComment, end))
        }
        b'$' => dollar_quote_end(b, i).map(|end| (Region::Dollar, end)),
        _ => None,
    }
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

/// `$tag$ … $tag$` (tag may be empty). Only a heredoc when the closing tag exists, so a stray
/// `$name$` in code is not mistaken for the start of one.
fn dollar_quote_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if j < b.len() && (b[j].is_ascii_alphabetic() || b[j] == b'_') {
        while j < b.len() && is_ident_byte(b[j]) {
            j += 1;
        }
    }
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
    b[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
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
