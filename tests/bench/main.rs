//! Lantern's benchmarks (`cargo bench --bench lantern [-- NAME…]`): medians and ratios for the
//! numbers the issues ask for. Timings are printed, never asserted.
//!
//! * `query100k` — QueryData of a 100k-row result through the real plugin binary (emulated Grafana
//!   host, gRPC, frames) vs fetching the same SQL raw as ArrowStream over HTTP; plus the plugin's
//!   peak RSS (VmHWM) and the Arrow payload sizes.
//! * `macros` — macro expansion of typical dashboard queries of both dialects.
//! * `mem5m` — peak RSS of the plugin (a fresh process per run) for a 5M-row table query under
//!   the default caps, with `maxResultRows` raised (the byte cap cuts) and with caps that do not
//!   cut; the notice each cut leaves.
//! * `logsrss100k` — the 100k-row logs query's peak RSS above the plugin's idle RSS, divided by
//!   the frame it answers.
//! * `overhead` — per-query overhead: QueryData minus a raw fetch (decoded) of the same SQL, for
//!   a one-row table query and a 1,000-line logs query.
//! * `concurrency64` — 64 concurrent panel queries through the plugin vs 64 concurrent raw
//!   fetches of the same SQL: p50/p99 and the ratio of p99s.

#![allow(unreachable_pub, missing_docs)]

#[path = "../support/engine.rs"]
mod engine;
#[path = "../support/grafana_frames.rs"]
mod grafana_frames;
#[path = "../support/host.rs"]
mod host;

use std::time::{Duration, Instant};

use lantern::macros::{Dialect, MacroContext, TimeRange};

/// A client of the same library the plugin uses, without HTTP compression (ClickHouse
/// LZ4-compresses inside the Arrow messages), as the plugin's.
fn raw_client(e: &engine::Engine) -> clickhouse::Client {
    clickhouse::Client::default()
        .with_url(&e.url)
        .with_user(&e.user)
        .with_password(&e.password)
        .with_compression(clickhouse::Compression::None)
}

/// Every byte of `sql`'s ArrowStream result.
fn fetch_arrow_bytes(
    rt: &tokio::runtime::Runtime,
    client: &clickhouse::Client,
    sql: &str,
) -> bytes::Bytes {
    rt.block_on(async {
        client
            .query(sql)
            .fetch_bytes("ArrowStream")
            .unwrap()
            .collect()
            .await
            .unwrap()
    })
}

/// Fetches `sql` as ArrowStream over HTTP `runs` times, reading every byte; returns the
/// durations and the body size.
fn raw_fetches(
    rt: &tokio::runtime::Runtime,
    e: &engine::Engine,
    sql: &str,
    runs: usize,
) -> (Vec<Duration>, usize) {
    let client = raw_client(e);
    let mut size = 0;
    let times = (0..runs)
        .map(|_| {
            let start = Instant::now();
            size = fetch_arrow_bytes(rt, &client, sql).len();
            start.elapsed()
        })
        .collect();
    (times, size)
}

/// Fetches `sql` as ArrowStream like [`raw_fetches`] (one run) and decodes every batch too (what
/// any consumer of the stream must do before using it); returns the duration and the row count.
fn raw_fetch_decoded(
    rt: &tokio::runtime::Runtime,
    e: &engine::Engine,
    sql: &str,
) -> (Duration, usize) {
    let client = raw_client(e);
    let start = Instant::now();
    let bytes = fetch_arrow_bytes(rt, &client, sql);
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
    let rows = reader.map(|b| b.unwrap().num_rows()).sum();
    (start.elapsed(), rows)
}

/// A QueryData request with one raw SQL query (refId `A`) in `format`.
fn raw_sql_request(
    ds: &grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings,
    sql: &str,
    format: u8,
) -> grafana_plugin_sdk::pluginv2::QueryDataRequest {
    grafana_plugin_sdk::pluginv2::QueryDataRequest {
        plugin_context: Some(grafana_plugin_sdk::pluginv2::PluginContext {
            data_source_instance_settings: Some(ds.clone()),
            ..Default::default()
        }),
        headers: Default::default(),
        queries: vec![grafana_plugin_sdk::pluginv2::DataQuery {
            ref_id: "A".into(),
            json: serde_json::to_vec(&serde_json::json!({"rawSql": sql, "format": format}))
                .unwrap(),
            ..Default::default()
        }],
    }
}

/// The plugin's last debug line with `message`, parsed.
fn last_log(host: &host::Host, message: &str) -> serde_json::Value {
    let line = host
        .stderr_lines()
        .into_iter()
        .rev()
        .find(|l| l.contains(message))
        .unwrap_or_else(|| panic!("no {message:?} in the plugin's log"));
    serde_json::from_str(&line).unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn median_u64(mut v: Vec<u64>) -> u64 {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    // In-process benches run with the plugin's allocator settings.
    lantern::grpc::keep_freed_memory();
    if wanted("macros") {
        bench_macros();
    }
    if wanted("query100k") {
        bench_query100k();
    }
    if wanted("logs100k") {
        bench_logs100k();
    }
    if wanted("volume1m") {
        bench_volume1m();
    }
    if wanted("logshape100k") {
        bench_logshape100k();
    }
    if wanted("shape1m") {
        bench_shape1m();
    }
    if wanted("timeseries1m") {
        bench_timeseries1m();
    }
    if wanted("mem5m") {
        bench_mem5m();
    }
    if wanted("logsrss100k") {
        bench_logsrss100k();
    }
    if wanted("overhead") {
        bench_overhead();
    }
    if wanted("concurrency64") {
        bench_concurrency64();
    }
}

fn bench_macros() {
    let mut ctx = MacroContext {
        time_range: TimeRange::from_millis(1_700_000_000_000, 1_700_003_600_000),
        interval_ms: 5_000,
        max_data_points: 1_000,
        ..Default::default()
    };
    let grafana = "SELECT $__timeInterval(Timestamp) AS time, ServiceName, count() AS c \
                   FROM otel_logs WHERE $__timeFilter(Timestamp) AND SeverityText IN ('ERROR', 'WARN') \
                   -- per service\nGROUP BY time, ServiceName ORDER BY time";
    let altinity = "SELECT $timeSeries AS t, count() FROM $table WHERE $timeFilter AND level = 'error' GROUP BY t ORDER BY t";
    for (name, sql, dialect) in [
        ("grafana", grafana, Dialect::Grafana),
        ("altinity", altinity, Dialect::Altinity),
    ] {
        ctx.dialect = dialect;
        ctx.altinity.table = "requests".into();
        ctx.altinity.date_time_column = "ts".into();
        ctx.altinity.date_column = "d".into();
        let out = lantern::macros::expand(sql, &ctx).expect("expands");
        assert!(!out.contains("$time"), "{out}");
        let mut samples = Vec::new();
        for _ in 0..200 {
            let start = Instant::now();
            for _ in 0..100 {
                std::hint::black_box(
                    lantern::macros::expand(std::hint::black_box(sql), &ctx).unwrap(),
                );
            }
            samples.push(start.elapsed() / 100);
        }
        println!(
            "macros/{name}: median {:.2} µs per expansion (200 samples × 100)",
            median(samples).as_secs_f64() * 1e6
        );
    }
}

fn bench_query100k() {
    let e = engine::engine();
    let rt = new_runtime();
    let db = e.database("bench");
    db.exec(
        "CREATE TABLE logs ENGINE = MergeTree ORDER BY Timestamp AS SELECT \
         toDateTime64('2024-01-01 00:00:00', 9, 'UTC') + toIntervalMillisecond(number * 37) AS Timestamp, \
         toLowCardinality(arrayElement(['frontend', 'cart', 'checkout', 'payment'], 1 + number % 4)) AS ServiceName, \
         toLowCardinality(arrayElement(['INFO', 'WARN', 'ERROR', 'DEBUG'], 1 + number % 4)) AS SeverityText, \
         toUInt8(number % 24) AS SeverityNumber, \
         concat('GET /api/item/', toString(number), ' took ', toString(number % 997), 'ms') AS Body, \
         lower(hex(cityHash64(number))) AS TraceId, \
         map('k8s.pod.name', concat('pod-', toString(number % 50)), 'k8s.namespace.name', 'shop') AS ResourceAttributes, \
         toFloat64(number % 1000) / 7 AS Duration \
         FROM numbers(100000)",
    );
    let sql = std::env::var("LANTERN_BENCH_SQL")
        .unwrap_or_else(|_| format!("SELECT * FROM {}.logs", db.name))
        .replace("{db}", &db.name);
    let host = rt.block_on(host::Host::start());
    let ds = host::datasource_for(e, &db.name);
    let runs = 15;

    // Raw: the same SQL as ArrowStream over HTTP with the same client library, fully read.
    let (raw, raw_bytes) = raw_fetches(&rt, e, &sql, runs);

    let mut frame_bytes = 0;
    let plugin: Vec<Duration> = (0..runs)
        .map(|_| {
            let req = raw_sql_request(&ds, &sql, 1);
            let start = Instant::now();
            let resp = rt.block_on(host.raw_query(req));
            let elapsed = start.elapsed();
            let a = &resp.responses["A"];
            assert!(a.error.is_empty(), "{}", a.error);
            frame_bytes = a.frames[0].len();
            elapsed
        })
        .collect();
    // Check once that the frame decodes by Grafana's rules with every row.
    let frame = grafana_frames::decode_frame(
        &rt.block_on(host.raw_query(raw_sql_request(&ds, &sql, 1)))
            .responses["A"]
            .frames[0],
    )
    .unwrap();
    assert_eq!(frame.rows(), 100_000);

    let hwm = proc_kib(host.child.id(), "VmHWM");
    println!(
        "query100k: last plugin breakdown: {}",
        last_log(&host, "table frame written")
    );
    let (r, p) = (median(raw), median(plugin));
    println!(
        "query100k: raw ArrowStream fetch median {:.1} ms ({} bytes, LZ4 inside)",
        ms(r),
        raw_bytes
    );
    println!(
        "query100k: plugin QueryData median {:.1} ms (frame {} bytes)",
        ms(p),
        frame_bytes
    );
    println!(
        "query100k: ratio plugin/raw {:.2}×",
        p.as_secs_f64() / r.as_secs_f64()
    );
    println!(
        "query100k: plugin peak RSS {:.1} MiB = {:.2}× the Arrow payload ({:.1} MiB uncompressed frame)",
        hwm as f64 / 1024.0,
        (hwm * 1024) as f64 / frame_bytes as f64,
        frame_bytes as f64 / 1048576.0
    );
}

/// Long→wide of 1M rows × 10 series: the plugin's shaping time (from its debug log) against the
/// raw ArrowStream fetch of the same SQL.
fn bench_timeseries1m() {
    let e = engine::engine();
    let rt = new_runtime();
    let db = e.database("bench_ts");
    db.exec(
        "CREATE TABLE points ENGINE = MergeTree ORDER BY time AS SELECT \
         toDateTime64('2024-01-01 00:00:00', 3, 'UTC') + toIntervalSecond(intDiv(number, 10)) AS time, \
         concat('svc-', toString(number % 10)) AS service, toFloat64(number % 1000) AS value FROM numbers(1000000)",
    );
    let sql = format!(
        "SELECT time, service, value FROM {}.points ORDER BY time",
        db.name
    );
    let host = rt.block_on(host::Host::start());
    let ds = host::datasource_for(e, &db.name);
    // Raw fetches and plugin queries alternate, so both see the same machine load; the ratio is
    // taken per pair.
    let runs = 15;
    let (mut raw, mut plugin, mut shape, mut after, mut ratios) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut last_line = serde_json::Value::Null;
    for _ in 0..runs {
        let r = raw_fetches(&rt, e, &sql, 1).0[0];
        let q = host::Q {
            ref_id: "A".into(),
            json: serde_json::json!({"rawSql": sql, "format": 0}),
            from_ms: 1_704_067_200_000,
            to_ms: 1_704_067_200_000 + 100_000_000,
            interval_ms: 1000,
            max_data_points: 100_000,
        };
        let start = Instant::now();
        let answers = rt.block_on(host.query(&ds, vec![q]));
        plugin.push(start.elapsed());
        let a = &answers["A"];
        assert!(a.error.is_empty(), "{}", a.error);
        assert_eq!(a.frames.len(), 10);
        let v = last_log(&host, "time series frames written");
        let s = Duration::from_secs_f64(v["shape_ms"].as_f64().unwrap() / 1e3);
        after.push(Duration::from_secs_f64(
            v["shape_after_fetch_ms"].as_f64().unwrap() / 1e3,
        ));
        ratios.push(Duration::from_secs_f64(s.as_secs_f64() / r.as_secs_f64()));
        shape.push(s);
        raw.push(r);
        last_line = v;
    }
    let (r, p, s, a) = (median(raw), median(plugin), median(shape), median(after));
    println!("timeseries1m: raw ArrowStream fetch median {:.1} ms", ms(r));
    println!(
        "timeseries1m: long→wide shaping (CPU, during and after the fetch) median {:.1} ms; per-run ratio to the fetch median {:.0}%",
        ms(s),
        100.0 * median(ratios).as_secs_f64()
    );
    println!(
        "timeseries1m: shaping left after the last batch arrived median {:.1} ms = {:.0}% of the fetch",
        ms(a),
        100.0 * a.as_secs_f64() / r.as_secs_f64()
    );
    println!("timeseries1m: last plugin breakdown: {last_line}");
    println!(
        "timeseries1m: whole QueryData (10 frames, decoded by the test host) median {:.1} ms",
        ms(p)
    );
}

/// The shaping step alone, in process: 1M rows (100k times × 10 services) → 10 series.
fn bench_shape1m() {
    use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray};
    use std::sync::Arc;
    let n = 1_000_000usize;
    let names: Vec<String> = (0..10).map(|i| format!("svc-{i}")).collect();
    let time: ArrayRef = Arc::new(TimestampNanosecondArray::from(
        (0..n as i64)
            .map(|i| (i / 10) * 1_000_000_000)
            .collect::<Vec<_>>(),
    ));
    let svc: ArrayRef = Arc::new(StringArray::from(
        (0..n).map(|i| names[i % 10].as_str()).collect::<Vec<_>>(),
    ));
    let value: ArrayRef = Arc::new(Float64Array::from(
        (0..n).map(|i| (i % 1000) as f64).collect::<Vec<_>>(),
    ));
    let batch =
        RecordBatch::try_from_iter([("time", time), ("service", svc), ("value", value)]).unwrap();
    let opts = lantern::frames::timeseries::TsOptions {
        fill: lantern::frames::timeseries::Fill::None,
        from_ms: 0,
        to_ms: 100_000_000,
        interval_ms: 1000,
        max_data_points: 100_000,
        extrapolate: false,
        till_now: false,
        nullify_sparse: false,
        ms_column_t: false,
        max_points: u64::MAX,
        max_points_from: "maxResultRows",
    };
    let samples: Vec<Duration> = (0..9)
        .map(|_| {
            let start = Instant::now();
            let (shaped, _) = lantern::frames::timeseries::shape(&batch, &[], &opts).unwrap();
            let elapsed = start.elapsed();
            std::hint::black_box(shaped);
            elapsed
        })
        .collect();
    println!(
        "shape1m: long→wide of 1M rows × 10 series in process, median {:.1} ms",
        ms(median(samples))
    );
}

fn logs_table(db: &engine::TestDb, rows: u64) {
    db.exec(&format!(
        "CREATE TABLE otel_logs (Timestamp DateTime64(9), TraceId String, SpanId String, SeverityText LowCardinality(String), \
         SeverityNumber UInt8, ServiceName LowCardinality(String), Body String, ResourceAttributes Map(LowCardinality(String), String), \
         LogAttributes Map(LowCardinality(String), String)) ENGINE = MergeTree ORDER BY (toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp) AS SELECT \
         toDateTime64('2024-01-01 00:00:00', 9, 'UTC') + toIntervalMicrosecond(number * 3600) AS Timestamp, lower(hex(cityHash64(number))), '', \
         arrayElement(['INFO', 'WARN', 'ERROR', 'DEBUG'], 1 + number % 4), arrayElement([9, 13, 17, 5], 1 + number % 4), \
         arrayElement(['frontend', 'cart', 'checkout', 'payment'], 1 + number % 4), concat('GET /api/item/', toString(number), ' took ', toString(number % 997), 'ms'), \
         map('service.name', 'x', 'k8s.pod.name', concat('pod-', toString(number % 50))), map('http.status_code', '200') FROM numbers({rows})"
    ));
}

/// A logs query of 100k rows (format logs) vs the raw ArrowStream fetch of the same SQL.
fn bench_logs100k() {
    let e = engine::engine();
    let rt = new_runtime();
    let db = e.database("bench_logs");
    logs_table(&db, 100_000);
    let sql = format!(
        "SELECT Timestamp, Body, SeverityText, ServiceName, TraceId, ResourceAttributes, LogAttributes FROM {}.otel_logs ORDER BY Timestamp DESC",
        db.name
    );
    let host = rt.block_on(host::Host::start());
    let ds = host::datasource_for(e, &db.name);
    // Raw fetches and plugin queries alternate, so both see the same machine load; the ratio is
    // taken per pair.
    let runs = 15;
    let (mut raw, mut plugin, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut after_fetch, mut transfer, mut frame_mb) = (Vec::new(), Vec::new(), 0.0);
    let mut decoded = Vec::new();
    for _ in 0..runs {
        let (d, n) = raw_fetch_decoded(&rt, e, &sql);
        assert_eq!(n, 100_000);
        decoded.push(d);
        let r = raw_fetches(&rt, e, &sql, 1).0[0];
        let req = raw_sql_request(&ds, &sql, 2);
        let start = Instant::now();
        let resp = rt.block_on(host.raw_query(req));
        let p = start.elapsed();
        assert!(
            resp.responses["A"].error.is_empty(),
            "{}",
            resp.responses["A"].error
        );
        ratios.push(Duration::from_secs_f64(p.as_secs_f64() / r.as_secs_f64()));
        // What the plugin spent (its own log) and what the frame's trip to the host cost.
        let v = last_log(&host, "logs frame written");
        let total = Duration::from_secs_f64(v["total_ms"].as_f64().unwrap() / 1e3);
        let fetched = Duration::from_secs_f64(v["fetched_ms"].as_f64().unwrap() / 1e3);
        after_fetch.push(total.saturating_sub(fetched));
        transfer.push(p.saturating_sub(total));
        frame_mb = v["frame_bytes"].as_f64().unwrap() / 1048576.0;
        raw.push(r);
        plugin.push(p);
    }
    let (a, t) = (median(after_fetch), median(transfer));
    println!(
        "logs100k: plugin work after the last batch arrived median {:.1} ms; the {frame_mb:.1} MiB frame's gRPC transfer and decoding by the host median {:.1} ms",
        ms(a),
        ms(t)
    );
    println!(
        "logs100k: last plugin breakdown: {}",
        last_log(&host, "logs frame written")
    );
    let (r, p, d) = (median(raw), median(plugin), median(decoded));
    println!(
        "logs100k: raw ArrowStream fetch median {:.1} ms; plugin logs QueryData median {:.1} ms; ratio of medians {:.2}×; median per-run ratio {:.2}×",
        ms(r),
        ms(p),
        p.as_secs_f64() / r.as_secs_f64(),
        median(ratios).as_secs_f64()
    );
    println!(
        "logs100k: for reference, the raw fetch with the stream decoded median {:.1} ms; QueryData / that {:.2}×",
        ms(d),
        p.as_secs_f64() / d.as_secs_f64()
    );
}

/// Log volume (builder, per level per minute) over 1M rows.
fn bench_volume1m() {
    let e = engine::engine();
    let rt = new_runtime();
    let db = e.database("bench_volume");
    logs_table(&db, 1_000_000);
    let host = rt.block_on(host::Host::start());
    let ds = host::datasource_for(e, &db.name);
    let samples: Vec<Duration> = (0..7)
        .map(|_| {
            let q = host::Q {
                ref_id: "V".into(),
                json: serde_json::json!({"editorType": "builder", "format": 2, "queryType": "logs-volume", "builder": {}}),
                from_ms: 1_704_067_200_000,
                to_ms: 1_704_067_200_000 + 3_600_000,
                interval_ms: 60_000,
                max_data_points: 1000,
            };
            let start = Instant::now();
            let answers = rt.block_on(host.query(&ds, vec![q]));
            let elapsed = start.elapsed();
            let a = &answers["V"];
            assert!(a.error.is_empty(), "{}", a.error);
            let total: f64 = a.frames.iter().flat_map(|f| f.fields[1].values.iter()).map(|v| v.as_f64().unwrap()).sum();
            assert_eq!(total, 1_000_000.0);
            elapsed
        })
        .collect();
    println!(
        "volume1m: log volume of 1M rows (4 levels × 60 buckets), QueryData median {:.1} ms",
        ms(median(samples))
    );
}

/// The logs shaping step alone, in process: 100k rows with two attribute maps.
fn bench_logshape100k() {
    use arrow_array::builder::{MapBuilder, StringBuilder};
    use arrow_array::{ArrayRef, RecordBatch, StringArray, TimestampNanosecondArray};
    use lantern::chtype::ChType;
    use std::sync::Arc;
    let n = 100_000usize;
    let mut res = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    let mut attrs = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for i in 0..n {
        res.keys().append_value("service.name");
        res.values().append_value("cart");
        res.keys().append_value("k8s.pod.name");
        res.values().append_value(format!("pod-{}", i % 50));
        res.append(true).unwrap();
        attrs.keys().append_value("http.status_code");
        attrs.values().append_value("200");
        attrs.append(true).unwrap();
    }
    let cols: Vec<(&str, ArrayRef)> = vec![
        (
            "Timestamp",
            Arc::new(TimestampNanosecondArray::from(
                (0..n as i64).map(|i| i * 1000).collect::<Vec<_>>(),
            )),
        ),
        (
            "Body",
            Arc::new(StringArray::from(
                (0..n)
                    .map(|i| format!("GET /api/item/{i} took {}ms", i % 997))
                    .collect::<Vec<_>>(),
            )),
        ),
        (
            "SeverityText",
            Arc::new(StringArray::from(
                (0..n)
                    .map(|i| ["INFO", "WARN", "ERROR"][i % 3])
                    .collect::<Vec<_>>(),
            )),
        ),
        ("ServiceName", Arc::new(StringArray::from(vec!["cart"; n]))),
        (
            "TraceId",
            Arc::new(StringArray::from(
                (0..n).map(|i| format!("{i:032x}")).collect::<Vec<_>>(),
            )),
        ),
        ("ResourceAttributes", Arc::new(res.finish())),
        ("LogAttributes", Arc::new(attrs.finish())),
    ];
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let fields: Vec<arrow_schema::Field> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let map = ChType::parse("Map(LowCardinality(String), String)");
    let types = vec![
        ChType::DateTime64(9, None),
        ChType::String,
        ChType::String,
        ChType::String,
        ChType::String,
        map.clone(),
        map,
    ];
    let links = lantern::frames::logs::LinkTarget::default();
    let samples: Vec<Duration> = (0..9)
        .map(|_| {
            let start = Instant::now();
            let out = lantern::frames::logs::shape(&batch, &fields, &types, &links).unwrap();
            let elapsed = start.elapsed();
            std::hint::black_box(out);
            elapsed
        })
        .collect();
    println!(
        "logshape100k: logs frame shaping of 100k rows in process, median {:.1} ms",
        ms(median(samples))
    );
}

/// A `/proc/<pid>/status` value in KiB (`VmHWM`: peak RSS; `VmRSS`: RSS now).
fn proc_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time (user + system) a process has used, from `/proc/<pid>/stat` (USER_HZ ticks, 100 a
/// second on Linux).
fn proc_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_name = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|t| t.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The texts of a frame's notices, read from its schema metadata without decoding the columns.
fn frame_notices(frame: &[u8]) -> Vec<String> {
    let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(frame), None).unwrap();
    let meta: serde_json::Value = reader
        .schema()
        .metadata()
        .get("meta")
        .map(|m| serde_json::from_str(m).unwrap())
        .unwrap_or_default();
    meta["notices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["text"].as_str().map(str::to_owned))
        .collect()
}

/// The `q` quantile (0–1) of `v`, nearest rank.
fn percentile(v: &[Duration], q: f64) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn new_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Fetches `sql` as ArrowStream with `settings` and decodes every batch; returns the rows.
async fn fetch_decoded(
    client: &clickhouse::Client,
    sql: &str,
    settings: &[(&str, String)],
) -> usize {
    let mut query = client.query(sql);
    for (k, v) in settings {
        query = query.with_setting(*k, v.as_str());
    }
    let bytes = query
        .fetch_bytes("ArrowStream")
        .unwrap()
        .collect()
        .await
        .unwrap();
    arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
        .unwrap()
        .map(|b| b.unwrap().num_rows())
        .sum()
}

/// The settings the plugin sends with every query of a read-write user's datasource (default
/// settings): its database, query id, `readonly=1`, cancel-on-close and `max_execution_time`. The test
/// engine applies each setting as a statement of its own, so a raw fetch with these shows what the
/// engine, not the plugin, charges for them.
fn plugin_like_settings(n: usize, database: &str) -> Vec<(&'static str, String)> {
    vec![
        ("database", database.to_owned()),
        ("query_id", format!("bench-raw-{}-{n}", std::process::id())),
        ("cancel_http_readonly_queries_on_client_close", "1".into()),
        ("max_execution_time", "61".into()),
        ("readonly", "1".into()),
    ]
}

/// Peak RSS of the plugin for a 5M-row table query: a fresh plugin process per run, so VmHWM is
/// this query's peak; three cap configurations.
fn bench_mem5m() {
    let e = engine::engine();
    let rt = new_runtime();
    let db = e.database("bench_mem");
    // ~80 bytes of column data a row: 5M rows are ~380 MiB, over the 256 MiB default byte cap.
    let sql = "SELECT number, toString(number) AS s, \
               concat('payload-', toString(number), '-', repeat('x', 32)) AS p, \
               toFloat64(number) / 3 AS f FROM numbers(5000000)";
    let runs = 3;
    let configs = [
        ("default caps (1M rows, 256 MiB)", serde_json::json!({})),
        (
            "maxResultRows 10M, maxResultBytes default 256 MiB",
            serde_json::json!({"maxResultRows": 10_000_000}),
        ),
        (
            "caps that do not cut (10M rows, 1 GiB)",
            serde_json::json!({"maxResultRows": 10_000_000, "maxResultBytes": 1u64 << 30}),
        ),
    ];
    for (name, extra) in configs {
        let ds = host::datasource_with(e, &db.name, extra);
        let (mut hwm, mut idle, mut times) = (Vec::new(), Vec::new(), Vec::new());
        let (mut rows, mut frame_bytes, mut notices) = (0, 0, Vec::new());
        for _ in 0..runs {
            let host = rt.block_on(host::Host::start());
            let pid = host.child.id();
            idle.push(proc_kib(pid, "VmRSS"));
            let start = Instant::now();
            let resp = rt.block_on(host.raw_query(raw_sql_request(&ds, sql, 1)));
            times.push(start.elapsed());
            hwm.push(proc_kib(pid, "VmHWM"));
            let a = &resp.responses["A"];
            assert!(a.error.is_empty(), "{}", a.error);
            frame_bytes = a.frames[0].len();
            notices = frame_notices(&a.frames[0]);
            rows = last_log(&host, "table frame written")["rows"]
                .as_u64()
                .unwrap();
        }
        let peak = median_u64(hwm.clone());
        println!(
            "mem5m [{name}]: plugin peak RSS (VmHWM, fresh process) median {:.0} MiB (runs {:?} MiB; idle at start {:.0} MiB); {rows} rows, frame {:.0} MiB; QueryData median {:.0} ms",
            kib_to_mib(peak),
            hwm.iter()
                .map(|k| kib_to_mib(*k).round())
                .collect::<Vec<_>>(),
            kib_to_mib(median_u64(idle)),
            frame_bytes as f64 / 1048576.0,
            ms(median(times)),
        );
        println!("mem5m [{name}]: notices {notices:?}");
    }
    println!("mem5m: target peak RSS <= byte cap + 64 MiB = 320 MiB with the default byte cap");
}

/// The 100k-row logs query (the `logs100k` shape): the plugin's peak RSS above its idle RSS,
/// divided by the frame it answers. A fresh plugin process per run; idle is its RSS after a
/// one-row query on the same datasource (instance built, access probed).
fn bench_logsrss100k() {
    let e = engine::engine();
    let rt = new_runtime();
    let db = e.database("bench_logsrss");
    logs_table(&db, 100_000);
    let sql = format!(
        "SELECT Timestamp, Body, SeverityText, ServiceName, TraceId, ResourceAttributes, LogAttributes FROM {}.otel_logs ORDER BY Timestamp DESC",
        db.name
    );
    let ds = host::datasource_for(e, &db.name);
    let runs = 5;
    let (mut ratios, mut peaks, mut idles, mut raw, mut plugin) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut frame_bytes = 0usize;
    for _ in 0..runs {
        // Alternating with a raw fetch (decoded), for the time ratio under the same load.
        raw.push(raw_fetch_decoded(&rt, e, &sql).0);
        let host = rt.block_on(host::Host::start());
        let pid = host.child.id();
        let warm = rt.block_on(host.raw_query(raw_sql_request(&ds, "SELECT 1 AS x", 1)));
        assert!(warm.responses["A"].error.is_empty());
        let idle = proc_kib(pid, "VmRSS");
        let start = Instant::now();
        let resp = rt.block_on(host.raw_query(raw_sql_request(&ds, &sql, 2)));
        plugin.push(start.elapsed());
        let peak = proc_kib(pid, "VmHWM");
        let a = &resp.responses["A"];
        assert!(a.error.is_empty(), "{}", a.error);
        frame_bytes = a.frames[0].len();
        ratios.push(Duration::from_secs_f64(
            (peak.saturating_sub(idle) * 1024) as f64 / frame_bytes as f64,
        ));
        peaks.push(peak);
        idles.push(idle);
    }
    println!(
        "logsrss100k: plugin peak RSS median {:.1} MiB, idle {:.1} MiB; frame {:.1} MiB; (peak − idle) / frame median {:.2}× (runs {:?}); target <= 2.5×",
        kib_to_mib(median_u64(peaks)),
        kib_to_mib(median_u64(idles)),
        frame_bytes as f64 / 1048576.0,
        median(ratios.clone()).as_secs_f64(),
        ratios
            .iter()
            .map(|r| (r.as_secs_f64() * 100.0).round() / 100.0)
            .collect::<Vec<_>>()
    );
    println!(
        "logsrss100k: QueryData median {:.1} ms, raw fetch decoded median {:.1} ms",
        ms(median(plugin)),
        ms(median(raw))
    );
}

/// Two panel-sized queries over a 10k-row `otel_logs` in `db`: a one-row table query and a
/// 1,000-line logs query, with their format and row count.
fn small_queries(db: &str) -> [(&'static str, String, u8, usize); 2] {
    [
        (
            "table 1 row",
            format!(
                "SELECT Timestamp, ServiceName, Body FROM {db}.otel_logs ORDER BY Timestamp DESC LIMIT 1"
            ),
            1,
            1,
        ),
        (
            "logs 1,000 lines",
            format!(
                "SELECT Timestamp, Body, SeverityText, ServiceName, TraceId, ResourceAttributes, LogAttributes FROM {db}.otel_logs ORDER BY Timestamp DESC LIMIT 1000"
            ),
            2,
            1000,
        ),
    ]
}

/// Per-query overhead: QueryData through the plugin minus a raw fetch of the same SQL
/// (ArrowStream over HTTP with a kept-alive client, decoded), for a one-row table query and a
/// 1,000-line logs query; raw, raw with the plugin's settings and plugin runs alternate (the
/// order rotates), and the overhead is the median of the per-round differences.
fn bench_overhead() {
    let e = engine::engine();
    let rt = new_runtime();
    let db = e.database("bench_overhead");
    logs_table(&db, 10_000);
    let cases = small_queries(&db.name);
    let host = rt.block_on(host::Host::start());
    let ds = host::datasource_for(e, &db.name);
    let client = raw_client(e);
    let runs = 60;
    let mut n = 0;
    for (name, sql, format, want_rows) in &cases {
        let plugin_run = |host: &host::Host| {
            let start = Instant::now();
            let resp = rt.block_on(host.raw_query(raw_sql_request(&ds, sql, *format)));
            let elapsed = start.elapsed();
            assert!(
                resp.responses["A"].error.is_empty(),
                "{}",
                resp.responses["A"].error
            );
            elapsed
        };
        let mut raw_run = |with_settings: bool| {
            n += 1;
            let settings = if with_settings {
                plugin_like_settings(n, &db.name)
            } else {
                Vec::new()
            };
            let start = Instant::now();
            let rows = rt.block_on(fetch_decoded(&client, sql, &settings));
            assert_eq!(rows, *want_rows);
            start.elapsed()
        };
        // Warm-up: the instance, its access probe, the DESCRIBE cache, both connection pools.
        for _ in 0..5 {
            raw_run(false);
            raw_run(true);
            plugin_run(&host);
        }
        let (mut raw, mut raw_set, mut plugin, mut over, mut over_set, mut outside) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        let log_line = if *format == 2 {
            "logs frame written"
        } else {
            "table frame written"
        };
        for i in 0..runs {
            let (mut r, mut s, mut p) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
            for step in 0..3 {
                match (i + step) % 3 {
                    0 => r = raw_run(false),
                    1 => s = raw_run(true),
                    _ => {
                        p = plugin_run(&host);
                        // The plugin's own time from the start of its fetch to the frame.
                        let v = last_log(&host, log_line);
                        let total = Duration::from_secs_f64(v["total_ms"].as_f64().unwrap() / 1e3);
                        outside.push(p.saturating_sub(total));
                    }
                }
            }
            raw.push(r);
            raw_set.push(s);
            plugin.push(p);
            over.push(p.as_secs_f64() - r.as_secs_f64());
            over_set.push(p.as_secs_f64() - s.as_secs_f64());
        }
        let med = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "overhead [{name}]: {runs} alternating runs; QueryData median {:.2} ms; raw fetch decoded median {:.2} ms; raw with the plugin's settings median {:.2} ms",
            ms(median(plugin)),
            ms(median(raw)),
            ms(median(raw_set))
        );
        println!(
            "overhead [{name}]: plugin − raw median {:.2} ms; plugin − raw-with-settings median {:.2} ms; QueryData outside the plugin's fetch-to-frame time (gRPC, parse, plan, instance) median {:.2} ms; target <= 2 ms",
            med(over) * 1e3,
            med(over_set) * 1e3,
            ms(median(outside))
        );
    }
    let metrics = rt.block_on(host.collect_metrics(None));
    for line in metrics
        .lines()
        .filter(|l| l.contains("cache=\"describe\"") || l.contains("cache=\"schema\""))
    {
        println!("overhead: {line}");
    }
}

/// The latencies the tasks of a burst return, in order.
async fn latencies(tasks: Vec<tokio::task::JoinHandle<Duration>>) -> Vec<Duration> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// One burst of `n` concurrent raw fetches (kept-alive client, decoded); each one's latency
/// from the burst's start.
async fn raw_burst(client: &clickhouse::Client, sql: &str, n: usize) -> Vec<Duration> {
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (client, sql) = (client.clone(), sql.to_owned());
            tokio::spawn(async move {
                fetch_decoded(&client, &sql, &[]).await;
                start.elapsed()
            })
        })
        .collect();
    latencies(tasks).await
}

/// One burst of `n` concurrent QueryData requests of one query each (as Grafana sends panels);
/// each one's latency from the burst's start.
async fn plugin_burst(
    host: &std::sync::Arc<host::Host>,
    req: &grafana_plugin_sdk::pluginv2::QueryDataRequest,
    n: usize,
) -> Vec<Duration> {
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (host, req) = (host.clone(), req.clone());
            tokio::spawn(async move {
                let resp = host.raw_query(req).await;
                assert!(resp.responses["A"].error.is_empty());
                start.elapsed()
            })
        })
        .collect();
    latencies(tasks).await
}

/// 64 concurrent panel queries through the plugin vs 64 concurrent raw fetches of the same SQL,
/// with the plugin-wide query limit at its default (32) and at 64; bursts alternate.
fn bench_concurrency64() {
    let e = engine::engine();
    let rt = new_runtime();
    let db = e.database("bench_conc");
    logs_table(&db, 10_000);
    let cases = small_queries(&db.name);
    let n = 64;
    let rounds = 15;
    let default_limit = std::sync::Arc::new(rt.block_on(host::Host::start()));
    let limit64 = std::sync::Arc::new(rt.block_on(host::Host::start_with(&[(
        "LANTERN_MAX_CONCURRENT_QUERIES",
        "64",
    )])));
    let ds = host::datasource_for(e, &db.name);
    let client = raw_client(e);
    for (name, sql, format, _) in &cases {
        let req = raw_sql_request(&ds, sql, *format);
        // Warm-up: pools of both sides opened to their widths, instances and caches built.
        rt.block_on(raw_burst(&client, sql, n));
        rt.block_on(plugin_burst(&default_limit, &req, n));
        rt.block_on(plugin_burst(&limit64, &req, n));
        // Each side's bursts, each burst's latencies.
        let (mut raw, mut p32, mut p64) = (Vec::new(), Vec::new(), Vec::new());
        let cpu_before = proc_cpu(default_limit.child.id());
        for i in 0..rounds {
            for step in 0..3 {
                match (i + step) % 3 {
                    0 => raw.push(rt.block_on(raw_burst(&client, sql, n))),
                    1 => p32.push(rt.block_on(plugin_burst(&default_limit, &req, n))),
                    _ => p64.push(rt.block_on(plugin_burst(&limit64, &req, n))),
                }
            }
        }
        let cpu = proc_cpu(default_limit.child.id()).saturating_sub(cpu_before);
        println!(
            "concurrency64 [{name}]: the plugin's CPU (user + system, limit 32) {:.2} ms a query",
            ms(cpu) / (rounds * n) as f64
        );
        // p50/p99 over every sample of a side, and the median over its bursts of each burst's
        // p99 (a load spike from outside hits one burst, not the figure).
        let figures = |bursts: &Vec<Vec<Duration>>| {
            let all: Vec<Duration> = bursts.iter().flatten().copied().collect();
            let per_burst = median(bursts.iter().map(|b| percentile(b, 0.99)).collect());
            (percentile(&all, 0.5), percentile(&all, 0.99), per_burst)
        };
        let (r50, r99, rb) = figures(&raw);
        println!(
            "concurrency64 [{name}]: {rounds} alternating bursts of {n}; raw p50 {:.1} ms, p99 {:.1} ms, median burst p99 {:.1} ms",
            ms(r50),
            ms(r99),
            ms(rb)
        );
        for (limit, v) in [("limit 32 (default)", &p32), ("limit 64", &p64)] {
            let (p50, p99, pb) = figures(v);
            println!(
                "concurrency64 [{name}]: plugin, {limit}: p50 {:.1} ms, p99 {:.1} ms, median burst p99 {:.1} ms; p99 ratio plugin/raw {:.2}×, of median burst p99s {:.2}× (target <= 1.5×)",
                ms(p50),
                ms(p99),
                ms(pb),
                p99.as_secs_f64() / r99.as_secs_f64(),
                pb.as_secs_f64() / rb.as_secs_f64()
            );
        }
    }
}
