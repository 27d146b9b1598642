//! The plugin's own metrics, served by `CollectMetrics` in Prometheus' text exposition format.
//!
//! Grafana scrapes a backend plugin through `pluginv2.Diagnostics/CollectMetrics` (exposed at
//! `/api/plugins/<id>/metrics`) and expects the text format 0.0.4 in the response's `prometheus`
//! bytes. This module owns every metric the plugin exports, their names and help texts, and that
//! rendering.
//!
//! Why hand-written rather than the `prometheus` crate: the set is small and fixed, and every
//! label is a closed enum ([`QueryFormat`], [`Outcome`], [`ErrorCategory`], [`Cache`], [`Cap`]),
//! so each metric is a fixed array of atomics indexed by its labels. That makes cardinality
//! bounded by construction (no label ever carries user input: not a refId, SQL, table or user
//! name), recording a lock-free `fetch_add`, and the registry a `const` value with no
//! allocation, registration step or global mutex. Every label combination is always exported,
//! zeros included, so `rate()` and absent-series alerts work from the first scrape.
//!
//! The service calls [`Metrics::query_started`] when a query begins; the returned
//! [`InFlight`] guard keeps the in-flight gauge up, learns the query's format once it is planned,
//! and records outcome, latency, error category and bytes out in [`InFlight::finish`]. A guard
//! dropped without `finish` (the task was aborted because Grafana stopped asking) counts as
//! `cancelled`; one dropped during a panic counts as an `error` of category `plugin`.
//!
//! The module is pure (atomics and formatting only); [`global`] is the process-wide instance.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::QueryError;
use crate::frames::{Frame, FrameError};

macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// Every value, in export order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            const COUNT: usize = $name::ALL.len();

            /// The label value as exported.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The position in `ALL`, i.e. in the metric's array of atomics.
            fn index(self) -> usize {
                self as usize
            }
        }
    };
}

label_enum!(
    /// The `format` label: the shape a query's result was planned into.
    QueryFormat {
        /// A table frame (raw SQL format 1, trace search).
        Table => "table",
        /// Time series frames (format 0).
        TimeSeries => "time_series",
        /// A `log-lines` frame (format 2, the logs builder, log context).
        Logs => "logs",
        /// A trace view frame.
        Traces => "traces",
        /// Log volume series.
        Volume => "volume",
        /// One poll of a live tail.
        Live => "live",
        /// The query failed before it was planned (bad JSON, settings, macros, schema lookup).
        Unknown => "unknown",
    }
);

label_enum!(
    /// The `outcome` label of a finished query.
    Outcome {
        /// Frames were returned.
        Ok => "ok",
        /// The query failed (see `lantern_query_errors_total` for why).
        Error => "error",
        /// Grafana stopped asking before the query finished.
        Cancelled => "cancelled",
        /// The query ran out of time (`queryTimeout`).
        Timeout => "timeout",
    }
);

label_enum!(
    /// The `category` label of a failed query.
    ErrorCategory {
        /// ClickHouse refused the credentials or the permission (HTTP 401/403 exceptions).
        Auth => "auth",
        /// ClickHouse could not be reached, or something else answered.
        Network => "network",
        /// The TLS handshake failed.
        Tls => "tls",
        /// The query ran out of time.
        Timeout => "timeout",
        /// The datasource settings are invalid.
        Config => "config",
        /// Any other ClickHouse exception.
        Server => "server",
        /// The query itself is invalid (JSON, fields, macros, a column Grafana cannot show).
        Invalid => "invalid",
        /// The plugin failed (decoding, encoding, a panic).
        Plugin => "plugin",
    }
);

label_enum!(
    /// The `cache` label of cache lookups.
    Cache {
        /// Table schemas (`system.columns` / `system.tables`) for logs and traces queries.
        Schema => "schema",
        /// Result types of SQL texts (`DESCRIBE`).
        Describe => "describe",
    }
);

label_enum!(
    /// The `cap` label: which per-query result cap cut a result.
    Cap {
        /// The row cap.
        Rows => "rows",
        /// The byte cap.
        Bytes => "bytes",
    }
);

impl ErrorCategory {
    /// The category of a query error. No `_` arm: a new error variant forces a decision here.
    pub fn of(e: &QueryError) -> ErrorCategory {
        match e {
            QueryError::Settings(_) => ErrorCategory::Config,
            QueryError::BadJson(_) | QueryError::Invalid(_) | QueryError::Macro(_) => {
                ErrorCategory::Invalid
            }
            // ClickHouse's own status mapping decides what is an authentication or permission
            // refusal (codes 194 → 401; 192, 193, 497, 512, 516 → 403).
            QueryError::Upstream { .. } if matches!(e.status(), 401 | 403) => ErrorCategory::Auth,
            QueryError::ReadOnly(_) => ErrorCategory::Auth,
            QueryError::Upstream { .. } => ErrorCategory::Server,
            QueryError::BadResponse { .. } | QueryError::Network { .. } => ErrorCategory::Network,
            QueryError::Tls { .. } => ErrorCategory::Tls,
            QueryError::Timeout(_) | QueryError::Deadline(_) => ErrorCategory::Timeout,
            QueryError::Frame(
                FrameError::Unsupported { .. }
                | FrameError::OutOfRange { .. }
                | FrameError::Shape(_),
            ) => ErrorCategory::Invalid,
            QueryError::Decode(_)
            | QueryError::Internal(_)
            | QueryError::Frame(FrameError::Arrow { .. } | FrameError::Write(_)) => {
                ErrorCategory::Plugin
            }
        }
    }
}

/// Upper bounds of the latency histogram's buckets, in seconds (`+Inf` is implicit): from a
/// cached one-row query (a few ms) to the longest `queryTimeout` in common use.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// A latency histogram: one counter per bucket (not cumulative; summed when rendered) plus the
/// `+Inf` overflow, and the sum in nanoseconds.
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_ns: AtomicU64,
}

impl Histogram {
    const fn new() -> Histogram {
        Histogram {
            buckets: [const { AtomicU64::new(0) }; LATENCY_BUCKETS.len() + 1],
            sum_ns: AtomicU64::new(0),
        }
    }

    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        // Prometheus buckets are `le`: a value equal to a bound belongs to that bucket.
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        saturating_add(&self.sum_ns, ns);
    }
}

/// Adds without wrapping: a counter that saturates is wrong but never goes backwards.
fn saturating_add(a: &AtomicU64, n: u64) {
    let _ = a.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_add(n))
    });
}

const FORMATS: usize = QueryFormat::COUNT;

/// Every metric of the plugin. [`global`] is the process's instance; tests make their own.
pub struct Metrics {
    queries: [[AtomicU64; Outcome::COUNT]; FORMATS],
    errors: [AtomicU64; ErrorCategory::COUNT],
    latency: [Histogram; FORMATS],
    in_flight: AtomicI64,
    rows_in: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    frames_out: AtomicU64,
    cache_hits: [AtomicU64; Cache::COUNT],
    cache_misses: [AtomicU64; Cache::COUNT],
    caps_hit: [AtomicU64; Cap::COUNT],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

static GLOBAL: Metrics = Metrics::new();

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    &GLOBAL
}

impl Metrics {
    /// All counters at zero.
    pub const fn new() -> Metrics {
        Metrics {
            queries: [const { [const { AtomicU64::new(0) }; Outcome::COUNT] }; FORMATS],
            errors: [const { AtomicU64::new(0) }; ErrorCategory::COUNT],
            latency: [const { Histogram::new() }; FORMATS],
            in_flight: AtomicI64::new(0),
            rows_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            frames_out: AtomicU64::new(0),
            cache_hits: [const { AtomicU64::new(0) }; Cache::COUNT],
            cache_misses: [const { AtomicU64::new(0) }; Cache::COUNT],
            caps_hit: [const { AtomicU64::new(0) }; Cap::COUNT],
        }
    }

    /// A query begins: the in-flight gauge goes up until the guard is finished or dropped.
    pub fn query_started(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            metrics: self,
            started: Instant::now(),
            format: QueryFormat::Unknown,
            done: false,
        }
    }

    /// Records a finished query: its count by format and outcome, and its latency.
    pub fn query_finished(&self, format: QueryFormat, outcome: Outcome, elapsed: Duration) {
        self.queries[format.index()][outcome.index()].fetch_add(1, Ordering::Relaxed);
        self.latency[format.index()].observe(elapsed);
    }

    /// Counts a failed query's error category.
    pub fn error(&self, category: ErrorCategory) {
        self.errors[category.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts result rows and bytes (as received on the wire) read from ClickHouse.
    pub fn received(&self, rows: u64, bytes: u64) {
        saturating_add(&self.rows_in, rows);
        saturating_add(&self.bytes_in, bytes);
    }

    /// Counts frames and their bytes sent to Grafana.
    pub fn sent(&self, frames: u64, bytes: u64) {
        saturating_add(&self.frames_out, frames);
        saturating_add(&self.bytes_out, bytes);
    }

    /// A lookup in `cache` found a fresh entry.
    pub fn cache_hit(&self, cache: Cache) {
        self.cache_hits[cache.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// A lookup in `cache` found nothing (or a stale entry) and went to ClickHouse.
    pub fn cache_miss(&self, cache: Cache) {
        self.cache_misses[cache.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// A result was cut at `cap`.
    pub fn cap_hit(&self, cap: Cap) {
        self.caps_hit[cap.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Every metric in Prometheus' text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 << 10);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);

        header(
            &mut out,
            "lantern_build_info",
            "The plugin's version; always 1.",
            "gauge",
        );
        sample(
            &mut out,
            "lantern_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1,
        );

        header(
            &mut out,
            "lantern_queries_total",
            "Queries finished, by result format and outcome.",
            "counter",
        );
        for f in QueryFormat::ALL {
            for o in Outcome::ALL {
                sample(
                    &mut out,
                    "lantern_queries_total",
                    &[("format", f.name()), ("outcome", o.name())],
                    load(&self.queries[f.index()][o.index()]),
                );
            }
        }

        header(
            &mut out,
            "lantern_query_errors_total",
            "Failed queries, by error category.",
            "counter",
        );
        for c in ErrorCategory::ALL {
            sample(
                &mut out,
                "lantern_query_errors_total",
                &[("category", c.name())],
                load(&self.errors[c.index()]),
            );
        }

        let name = "lantern_query_duration_seconds";
        header(
            &mut out,
            name,
            "Time from a query's start to its frames (or error), by result format.",
            "histogram",
        );
        for f in QueryFormat::ALL {
            let h = &self.latency[f.index()];
            let mut cumulative = 0u64;
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                cumulative = cumulative.saturating_add(load(&h.buckets[i]));
                sample(
                    &mut out,
                    &format!("{name}_bucket"),
                    &[("format", f.name()), ("le", &bound.to_string())],
                    cumulative,
                );
            }
            // `_count` is the `+Inf` bucket, read once so that both always agree.
            cumulative = cumulative.saturating_add(load(&h.buckets[LATENCY_BUCKETS.len()]));
            sample(
                &mut out,
                &format!("{name}_bucket"),
                &[("format", f.name()), ("le", "+Inf")],
                cumulative,
            );
            sample_f64(
                &mut out,
                &format!("{name}_sum"),
                &[("format", f.name())],
                load(&h.sum_ns) as f64 / 1e9,
            );
            sample(
                &mut out,
                &format!("{name}_count"),
                &[("format", f.name())],
                cumulative,
            );
        }

        header(
            &mut out,
            "lantern_queries_in_flight",
            "Queries running now.",
            "gauge",
        );
        let in_flight = self.in_flight.load(Ordering::Relaxed).max(0);
        sample(&mut out, "lantern_queries_in_flight", &[], in_flight as u64);

        for (name, help, value) in [
            (
                "lantern_rows_in_total",
                "Result rows read from ClickHouse.",
                &self.rows_in,
            ),
            (
                "lantern_bytes_in_total",
                "Result bytes read from ClickHouse, as received (compressed) on the wire.",
                &self.bytes_in,
            ),
            (
                "lantern_frames_out_total",
                "Data frames sent to Grafana.",
                &self.frames_out,
            ),
            (
                "lantern_bytes_out_total",
                "Bytes of data frames (Arrow IPC) sent to Grafana.",
                &self.bytes_out,
            ),
        ] {
            header(&mut out, name, help, "counter");
            sample(&mut out, name, &[], load(value));
        }

        for (name, help, values) in [
            (
                "lantern_cache_hits_total",
                "Cache lookups answered from the cache, by cache.",
                &self.cache_hits,
            ),
            (
                "lantern_cache_misses_total",
                "Cache lookups that went to ClickHouse, by cache.",
                &self.cache_misses,
            ),
        ] {
            header(&mut out, name, help, "counter");
            for c in Cache::ALL {
                sample(
                    &mut out,
                    name,
                    &[("cache", c.name())],
                    load(&values[c.index()]),
                );
            }
        }

        let name = "lantern_result_caps_hit_total";
        header(
            &mut out,
            name,
            "Results cut at a per-query cap, by cap.",
            "counter",
        );
        for c in Cap::ALL {
            sample(
                &mut out,
                name,
                &[("cap", c.name())],
                load(&self.caps_hit[c.index()]),
            );
        }
        out
    }
}

/// A running query. Finish it with [`InFlight::finish`]; dropping it unfinished counts the query
/// as cancelled (or, during a panic, as a plugin error).
#[must_use = "a query guard dropped at once counts the query as cancelled"]
pub struct InFlight<'a> {
    metrics: &'a Metrics,
    started: Instant,
    format: QueryFormat,
    done: bool,
}

impl InFlight<'_> {
    /// The query's result format, once it is planned.
    pub fn set_format(&mut self, format: QueryFormat) {
        self.format = format;
    }

    /// Records the query's outcome, latency, error category (if any) and frames sent.
    pub fn finish(self, result: &Result<Vec<Frame>, QueryError>) {
        self.finish_sent(match result {
            Ok(frames) => Ok((
                frames.len() as u64,
                frames.iter().map(|f| f.len() as u64).sum(),
            )),
            Err(e) => Err(e),
        });
    }

    /// Records the query's outcome, latency and error category (if any); `Ok` holds the frames
    /// and bytes sent.
    pub fn finish_sent(mut self, result: Result<(u64, u64), &QueryError>) {
        self.done = true;
        let m = self.metrics;
        let outcome = match result {
            Ok((frames, bytes)) => {
                m.sent(frames, bytes);
                Outcome::Ok
            }
            Err(e) => {
                let category = ErrorCategory::of(e);
                m.error(category);
                if category == ErrorCategory::Timeout {
                    Outcome::Timeout
                } else {
                    Outcome::Error
                }
            }
        };
        m.query_finished(self.format, outcome, self.started.elapsed());
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.done {
            return;
        }
        let m = self.metrics;
        let elapsed = self.started.elapsed();
        if std::thread::panicking() {
            m.error(ErrorCategory::Plugin);
            m.query_finished(self.format, Outcome::Error, elapsed);
        } else {
            m.query_finished(self.format, Outcome::Cancelled, elapsed);
        }
    }
}

/// `# HELP` and `# TYPE` lines. HELP text escapes `\` and newlines, as the format requires.
fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = write!(out, "# HELP {name} ");
    for ch in help.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    let _ = writeln!(out, "\n# TYPE {name} {kind}");
}

/// One sample line with an integer value.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: u64) {
    sample_start(out, name, labels);
    let _ = writeln!(out, " {value}");
}

/// One sample line with a float value.
fn sample_f64(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    sample_start(out, name, labels);
    let _ = writeln!(out, " {value}");
}

/// `name{k="v",…}`; label values escape `\`, `"` and newlines.
fn sample_start(out: &mut String, name: &str, labels: &[(&str, &str)]) {
    out.push_str(name);
    if labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        for ch in v.chars() {
            match ch {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sample lines of `text` as (name with labels, value).
    fn samples(text: &str) -> Vec<(&str, &str)> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.rsplit_once(' ').expect("name value"))
            .collect()
    }

    fn value(text: &str, series: &str) -> String {
        samples(text)
            .into_iter()
            .find(|(s, _)| *s == series)
            .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
            .1
            .to_owned()
    }

    #[test]
    fn every_metric_has_help_and_type_before_its_samples() {
        let text = Metrics::new().render();
        let mut declared: Vec<(&str, &str)> = Vec::new();
        let mut last_help = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                last_help = Some(rest.split_once(' ').unwrap().0);
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert_eq!(Some(name), last_help, "TYPE follows its HELP: {line}");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                assert!(
                    !declared.iter().any(|(n, _)| *n == name),
                    "{name} declared twice"
                );
                declared.push((name, kind));
            } else {
                let series = line.split([' ', '{']).next().unwrap();
                let (name, kind) = *declared.last().expect("a sample after a TYPE");
                let ok = match kind {
                    "histogram" => ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|s| series.strip_suffix(s) == Some(name)),
                    _ => series == name,
                };
                assert!(ok, "sample {line:?} under {name} ({kind})");
                assert!(name.starts_with("lantern_"), "{name}");
                if kind == "counter" {
                    assert!(name.ends_with("_total"), "{name}");
                }
            }
        }
        assert!(text.ends_with('\n'));
        assert_eq!(declared.len(), 12, "{declared:?}");
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut out = String::new();
        header(&mut out, "m", "a \\ b\nc \"q\"", "gauge");
        sample(&mut out, "m", &[("k", "x\"y\\z\nw"), ("j", "")], 3);
        assert_eq!(
            out,
            "# HELP m a \\\\ b\\nc \"q\"\n# TYPE m gauge\nm{k=\"x\\\"y\\\\z\\nw\",j=\"\"} 3\n"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_with_sum_count_and_inf() {
        let m = Metrics::new();
        for ms in [1, 5, 7, 300, 1000, 200_000] {
            m.query_finished(QueryFormat::Logs, Outcome::Ok, Duration::from_millis(ms));
        }
        let text = m.render();
        let b = |le: &str| {
            value(
                &text,
                &format!("lantern_query_duration_seconds_bucket{{format=\"logs\",le=\"{le}\"}}"),
            )
        };
        // 1 ms and 5 ms (a value equal to a bound is in that bucket) ≤ 0.005.
        assert_eq!(b("0.005"), "2");
        assert_eq!(b("0.01"), "3");
        assert_eq!(b("0.25"), "3");
        assert_eq!(b("0.5"), "4");
        assert_eq!(b("1"), "5");
        assert_eq!(b("120"), "5");
        assert_eq!(b("+Inf"), "6");
        assert_eq!(
            value(
                &text,
                "lantern_query_duration_seconds_count{format=\"logs\"}"
            ),
            "6"
        );
        let sum: f64 = value(&text, "lantern_query_duration_seconds_sum{format=\"logs\"}")
            .parse()
            .unwrap();
        assert!((sum - 201.313).abs() < 1e-9, "{sum}");
        // Other formats stay at zero, and their series exist.
        assert_eq!(
            value(
                &text,
                "lantern_query_duration_seconds_bucket{format=\"table\",le=\"+Inf\"}"
            ),
            "0"
        );
        // Buckets never decrease.
        let counts: Vec<u64> = samples(&text)
            .into_iter()
            .filter(|(s, _)| s.starts_with("lantern_query_duration_seconds_bucket{format=\"logs\""))
            .map(|(_, v)| v.parse().unwrap())
            .collect();
        assert_eq!(counts.len(), LATENCY_BUCKETS.len() + 1);
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    }

    #[test]
    fn guard_records_outcome_category_and_frames() {
        let m = Metrics::new();
        let mut g = m.query_started();
        assert_eq!(value(&m.render(), "lantern_queries_in_flight"), "1");
        g.set_format(QueryFormat::Table);
        g.finish(&Ok(vec![]));
        let g = m.query_started();
        g.finish(&Err(QueryError::Timeout(Duration::from_secs(1))));
        let mut g = m.query_started();
        g.set_format(QueryFormat::Volume);
        g.finish(&Err(QueryError::Upstream {
            code: 516,
            name: None,
            message: "auth".into(),
        }));
        let mut g = m.query_started();
        g.set_format(QueryFormat::Logs);
        drop(g);
        let text = m.render();
        let q = |f: &str, o: &str| {
            value(
                &text,
                &format!("lantern_queries_total{{format=\"{f}\",outcome=\"{o}\"}}"),
            )
        };
        assert_eq!(q("table", "ok"), "1");
        assert_eq!(q("unknown", "timeout"), "1");
        assert_eq!(q("volume", "error"), "1");
        assert_eq!(q("logs", "cancelled"), "1");
        assert_eq!(q("logs", "ok"), "0");
        assert_eq!(value(&text, "lantern_queries_in_flight"), "0");
        let e = |c: &str| {
            value(
                &text,
                &format!("lantern_query_errors_total{{category=\"{c}\"}}"),
            )
        };
        assert_eq!(e("timeout"), "1");
        assert_eq!(e("auth"), "1");
        assert_eq!(e("server"), "0");
        assert_eq!(value(&text, "lantern_frames_out_total"), "0");
    }

    #[test]
    fn a_panicking_query_is_a_plugin_error() {
        let m = Metrics::new();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _g = m.query_started();
            panic!("boom");
        }));
        assert!(caught.is_err());
        let text = m.render();
        assert_eq!(
            value(&text, "lantern_query_errors_total{category=\"plugin\"}"),
            "1"
        );
        assert_eq!(
            value(
                &text,
                "lantern_queries_total{format=\"unknown\",outcome=\"error\"}"
            ),
            "1"
        );
        assert_eq!(value(&text, "lantern_queries_in_flight"), "0");
    }

    #[test]
    fn error_categories() {
        let up = |code| QueryError::Upstream {
            code,
            name: None,
            message: String::new(),
        };
        assert_eq!(ErrorCategory::of(&up(516)), ErrorCategory::Auth);
        assert_eq!(ErrorCategory::of(&up(194)), ErrorCategory::Auth);
        assert_eq!(ErrorCategory::of(&up(62)), ErrorCategory::Server);
        assert_eq!(
            ErrorCategory::of(&QueryError::Invalid("x".into())),
            ErrorCategory::Invalid
        );
        assert_eq!(
            ErrorCategory::of(&QueryError::Internal("x".into())),
            ErrorCategory::Plugin
        );
        assert_eq!(
            ErrorCategory::of(&QueryError::BadResponse {
                url: "u".into(),
                message: "m".into()
            }),
            ErrorCategory::Network
        );
    }

    #[test]
    fn counters_saturate_instead_of_wrapping() {
        let m = Metrics::new();
        m.received(u64::MAX - 1, 5);
        m.received(10, 5);
        m.cache_hit(Cache::Schema);
        m.cache_miss(Cache::Describe);
        m.cap_hit(Cap::Bytes);
        let text = m.render();
        assert_eq!(value(&text, "lantern_rows_in_total"), u64::MAX.to_string());
        assert_eq!(value(&text, "lantern_bytes_in_total"), "10");
        assert_eq!(
            value(&text, "lantern_cache_hits_total{cache=\"schema\"}"),
            "1"
        );
        assert_eq!(
            value(&text, "lantern_cache_misses_total{cache=\"describe\"}"),
            "1"
        );
        assert_eq!(
            value(&text, "lantern_result_caps_hit_total{cap=\"bytes\"}"),
            "1"
        );
        assert_eq!(
            value(&text, "lantern_result_caps_hit_total{cap=\"rows\"}"),
            "0"
        );
    }
}
