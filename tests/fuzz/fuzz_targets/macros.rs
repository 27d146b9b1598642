//! Fuzzes macro expansion: it never panics, and SQL without `$` or `[` comes back unchanged,
//! for both dialects and with template variables holding hostile values.
#![no_main]

use lantern::macros::{Dialect, MacroContext, TimeRange, Variable, expand};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else { return };
    for dialect in [Dialect::Grafana, Dialect::Altinity] {
        let mut ctx = MacroContext {
            time_range: TimeRange::from_millis(1_700_000_000_000, 1_700_003_600_000),
            interval_ms: 30_000,
            max_data_points: 500,
            dialect,
            ..Default::default()
        };
        ctx.altinity.table = "requests".into();
        ctx.altinity.date_time_column = "ts".into();
        ctx.grafana.table = "logs".into();
        ctx.grafana.column = "c".into();
        ctx.variables.insert("v".into(), Variable::multi(["a'b", "c\\d", "*/ --"]));
        ctx.variables.insert("s".into(), Variable::single("x"));
        let out = expand(sql, &ctx);
        if !sql.contains(['$', '[']) {
            assert_eq!(out.as_deref(), Ok(sql), "macro-free input must come back unchanged");
        }
    }
});
