//! The check that every substituted value ends up inside the literal it was escaped for.
//!
//! Each pass reads its input with the scanner, but a pass changes the text later passes (and
//! ClickHouse) read: replacing `$__fromTime` in `$__fromTime$q$ it's $q$` turns `$q$` from the
//! tail of a word into the start of a heredoc, and an apostrophe that opened a string before no
//! longer does. Rather than trust every pass to keep the lexing stable, [`super::expand`] runs a
//! probe: the same expansion with every non-plain value replaced by a canary, then the probe's
//! output is scanned as ClickHouse will scan the real one.
//!
//! A canary is `\u{1}L<n>'`"\u{1}`: it holds all three ASCII quotes, so a canary escaped for one
//! kind of region but sitting in another would close that region early and fail the check.
//! Values that are plain numbers or identifiers are left as they are (they are written raw and
//! cannot change the SQL's shape); so are empty values and `$__all`, so conditionals decide the
//! same way in the probe.

use super::context::MacroContext;
use super::scan::{self, Region};

const OPEN: &str = "\u{1}L";
const CLOSE: char = '\u{1}';

fn plain(v: &str) -> bool {
    v.is_empty() || v == "$__all" || super::template::is_plain(v)
}

/// The probe context, or `None` when no value needs checking.
pub(super) fn context(ctx: &MacroContext) -> Option<MacroContext> {
    let mut n = 0usize;
    let mut canary = |v: &mut String| {
        if !plain(v) {
            *v = format!("{OPEN}{n}'`\"{CLOSE}");
            n += 1;
        }
    };
    let mut probe = ctx.clone();
    for var in probe.variables.values_mut() {
        var.values.iter_mut().for_each(&mut canary);
        if let Some(text) = &mut var.text {
            canary(text);
        }
    }
    for f in &mut probe.ad_hoc_filters {
        // A JSON array value becomes an array literal: keep it an array of canaries.
        match super::adhoc::json_array(&f.value) {
            Some(items) => {
                let items: Vec<serde_json::Value> = items
                    .into_iter()
                    .map(|(mut item, number)| {
                        canary(&mut item);
                        if number && plain(&item) {
                            serde_json::from_str(&item).unwrap_or(serde_json::Value::String(item))
                        } else {
                            serde_json::Value::String(item)
                        }
                    })
                    .collect();
                f.value = serde_json::Value::Array(items).to_string();
            }
            None => canary(&mut f.value),
        }
        f.values.iter_mut().for_each(&mut canary);
    }
    (n > 0).then_some(probe)
}

/// Whether every canary in `out` lies whole inside one ASCII-quoted string or identifier.
pub(super) fn all_quoted(out: &str) -> bool {
    let regions = scan::regions(out);
    out.match_indices(OPEN).all(|(start, _)| {
        let Some(len) = out[start + OPEN.len()..].find(CLOSE) else {
            return false;
        };
        let end = start + OPEN.len() + len + CLOSE.len_utf8();
        regions.iter().any(|(r, kind)| {
            r.start < start
                && end < r.end
                && matches!(
                    kind,
                    Region::String | Region::Backtick | Region::DoubleQuoted
                )
        })
    })
}

/// Whether `real` and `probe` lex into the same regions with identical code between them, so
/// the real values changed nothing but the inside of quotes.
pub(super) fn same_shape(real: &str, probe: &str) -> bool {
    let (a, b) = (scan::regions(real), scan::regions(probe));
    if a.len() != b.len() {
        return false;
    }
    let code = |s: &str, i: usize, r: &[(std::ops::Range<usize>, Region)]| -> (usize, usize) {
        let start = if i == 0 { 0 } else { r[i - 1].0.end };
        let end = r.get(i).map_or(s.len(), |x| x.0.start);
        (start, end)
    };
    (0..=a.len()).all(|i| {
        let (s1, e1) = code(real, i, &a);
        let (s2, e2) = code(probe, i, &b);
        real[s1..e1] == probe[s2..e2] && (i == a.len() || a[i].1 == b[i].1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canaries_must_sit_inside_one_quoted_region() {
        assert!(all_quoted("SELECT '\u{1}L0\\'`\"\u{1}'"));
        assert!(all_quoted("SELECT `\u{1}L0'\\`\"\u{1}`"));
        // Escaped for a string but inside backticks: the backtick ends the identifier early.
        assert!(!all_quoted("SELECT `\u{1}L0\\'`\"\u{1}`"));
        assert!(!all_quoted("SELECT \u{1}L0 FROM t"));
        assert!(!all_quoted("SELECT $q$ \u{1}L0\u{1} $q$"));
        assert!(all_quoted("SELECT 1"));
    }

    #[test]
    fn values_may_differ_only_inside_quotes() {
        assert!(same_shape("SELECT 'it\\'s' -- x", "SELECT 'canary' -- x"));
        // A value holding `$x$` closes a heredoc opened before it.
        assert!(!same_shape("$x$ 'a $x$ b'", "$x$ 'canary'"));
        assert!(!same_shape("SELECT a", "SELECT b"));
    }
}
