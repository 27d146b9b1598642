//! Fuzzes macro expansion with invariants that can fail:
//!
//! * it never panics, whatever the SQL and whatever the request numbers (interval, `round`,
//!   `intervalFactor`, range, max data points: taken from the input's first bytes);
//! * SQL without `$` or `[` comes back unchanged;
//! * a hostile variable value (it holds every quote, comment start and a heredoc tag) never
//!   appears outside a string literal or quoted identifier of the output, as the scanner reads
//!   it (the scanner itself is checked against the engine by `tests/it/lexer.rs`).
#![no_main]

use lantern::macros::{Dialect, MacroContext, TimeRange, Variable, expand, regions};
use libfuzzer_sys::fuzz_target;

const MARK: &str = "ZQX";

fn word(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (k, slot) in b.iter_mut().enumerate() {
        *slot = data.get(at + k).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let (nums, text) = data.split_at(32);
    let Ok(sql) = std::str::from_utf8(text) else { return };
    let rounds = ["", "0s", "$step", "1m", "99999999999999999999d", "-1s"];
    let intervals = ["", "1m", "100ms", "9999999999999y", "x"];
    for dialect in [Dialect::Grafana, Dialect::Altinity] {
        let from = word(nums, 0) as i64;
        let mut ctx = MacroContext {
            time_range: TimeRange::from_millis(from, from.wrapping_add(word(nums, 8) as i64)),
            interval_ms: word(nums, 16),
            max_data_points: word(nums, 24),
            dialect,
            ..Default::default()
        };
        ctx.altinity.table = "requests".into();
        ctx.altinity.date_time_column = "ts".into();
        ctx.altinity.round = rounds[nums[0] as usize % rounds.len()].into();
        ctx.altinity.interval = intervals[nums[1] as usize % intervals.len()].into();
        ctx.altinity.interval_factor = u32::from(nums[2]) * u32::from(nums[3]) * 65_537;
        ctx.altinity.skip_comments = nums[4] & 1 == 1;
        ctx.altinity.add_metadata = nums[4] & 2 == 2;
        ctx.metadata.dashboard = "d".into();
        ctx.grafana.table = "logs".into();
        ctx.grafana.column = "c".into();
        ctx.variables.insert(
            "v".into(),
            Variable::multi([format!("{MARK}'b"), format!("{MARK}\\d"), format!("{MARK}*/ -- # $x$ `\"")]),
        );
        ctx.variables.insert("s".into(), Variable::single(format!("{MARK}' OR 1=1 -- ")));
        ctx.variables.insert("n".into(), Variable::single("-1"));
        let out = expand(sql, &ctx);
        let rewrites = dialect == Dialect::Altinity
            && (ctx.altinity.skip_comments || ctx.altinity.add_metadata);
        if !sql.contains(['$', '[']) && !rewrites {
            assert_eq!(out.as_deref(), Ok(sql), "macro-free input must come back unchanged");
        }
        if let Ok(out) = out.as_ref().filter(|_| !sql.contains(MARK)) {
            let regions = regions(out);
            for (at, _) in out.match_indices(MARK) {
                assert!(
                    regions.iter().any(|(r, k)| r.start < at
                        && at + MARK.len() <= r.end
                        && (k.is_literal() || k.is_identifier())),
                    "value outside a literal at byte {at}: {sql:?} → {out:?}"
                );
            }
        }
    }
});
