//! `devhost`: serves the plugin the way Grafana does, for machines without Grafana.
//!
//! Starts `gpx_lantern` under the same emulated plugin host the integration tests use and
//! exposes the slice of Grafana's HTTP API that drives a datasource, for the provisioned
//! datasource `lantern` (settings from `LANTERN_CH_*` variables, as in
//! `provisioning/datasources/lantern.yaml`):
//!
//! | Method | Path | Grafana equivalent |
//! |---|---|---|
//! | GET | `/api/health` | server health |
//! | GET | `/api/datasources/uid/lantern/health` | "Save & test" (CheckHealth) |
//! | POST | `/api/ds/query` | panel / Explore / alert queries (QueryData); frames as Grafana's JSON |
//! | GET, POST | `/api/datasources/uid/lantern/resources/<path>` | CallResource |
//! | POST | `/api/live/subscribe`, `/api/live/publish`; GET `/api/live/list` | Grafana Live for `ds/lantern/<path>` channels (`devhost_live.rs`) |
//!
//! Run by `.ci/up`; by hand: `cargo run --release --example devhost`.

#![allow(unreachable_pub, missing_docs)]

#[path = "engine.rs"]
mod engine;
#[path = "grafana_frames.rs"]
mod grafana_frames;
#[path = "host.rs"]
mod host;
#[path = "devhost_live.rs"]
mod live;

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use serde_json::{Value, json};

use grafana_frames::{Frame, Kind};
use host::{Host, Q};
use live::Live;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn main() {
    let listen = env("LANTERN_DEVHOST", "127.0.0.1:3100");
    let settings = json!({
        "host": env("LANTERN_CH_HOST", "127.0.0.1"),
        "port": env("LANTERN_CH_PORT", "8123").parse::<u16>().expect("LANTERN_CH_PORT"),
        "protocol": "http",
        "username": env("LANTERN_CH_USER", "default"),
        "defaultDatabase": env("LANTERN_CH_DATABASE", "otel"),
    });
    let password = env("LANTERN_CH_PASSWORD", "");
    let mut ds = host::datasource(settings, &[("password", &password)]);
    ds.uid = "lantern".into();
    ds.name = "Lantern ClickHouse".into();
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    let host = Arc::new(rt.block_on(Host::start()));
    let (status, message, _) = rt.block_on(host.check_health(&ds));
    eprintln!(
        "devhost: plugin {} started; datasource health: {} {message}",
        host.addr,
        if status == 1 { "OK" } else { "ERROR" }
    );
    let listener =
        TcpListener::bind(&listen).unwrap_or_else(|e| panic!("cannot listen on {listen}: {e}"));
    println!("devhost listening on http://{listen} (datasource uid lantern)");
    let ds = Arc::new(ds);
    let live = Live::new(rt.clone(), host.clone(), ds.clone());
    for stream in listener.incoming().flatten() {
        let (rt, host, ds, live) = (rt.clone(), host.clone(), ds.clone(), live.clone());
        std::thread::spawn(move || {
            if let Err(e) = serve(stream, &rt, &host, &ds, &live) {
                eprintln!("devhost: {e}");
            }
        });
    }
}

fn serve(
    mut stream: TcpStream,
    rt: &tokio::runtime::Runtime,
    host: &Host,
    ds: &grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings,
    live: &Arc<Live>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("/").to_owned(),
    );
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let path = target.split('?').next().unwrap_or("");
    let (status, reply) = match (method.as_str(), path) {
        ("GET", "/api/health") => (200, json!({"database": "ok", "version": "devhost"})),
        ("GET", "/api/datasources/uid/lantern/health") => {
            let (s, message, details) = rt.block_on(host.check_health(ds));
            let ok = s == 1;
            (
                if ok { 200 } else { 400 },
                json!({"status": if ok { "OK" } else { "ERROR" }, "message": message, "details": details}),
            )
        }
        ("POST", "/api/ds/query") => query(rt, host, ds, &body),
        ("POST", "/api/live/subscribe") => return live.subscribe(stream, &body),
        ("POST", "/api/live/publish") => live.publish(&body),
        ("GET", "/api/live/list") => live.list(),
        (_, p) if p.starts_with("/api/datasources/uid/lantern/resources/") => {
            let rest = &target["/api/datasources/uid/lantern/resources/".len()..];
            let (code, v) = rt.block_on(host.resource(ds, &method, rest, &body));
            (code as u16, v)
        }
        _ => (404, json!({"message": "Not found"})),
    };
    live::write_json(&mut stream, (status, reply))
}

/// `POST /api/ds/query`: `{"from": "now-1h", "to": "now", "queries": [{refId, rawSql, format, …}]}`.
fn query(
    rt: &tokio::runtime::Runtime,
    host: &Host,
    ds: &grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings,
    body: &[u8],
) -> (u16, Value) {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return (400, json!({"message": "body must be JSON"}));
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (Some(from), Some(to)) = (
        time(&req["from"], now, now - 3_600_000),
        time(&req["to"], now, now),
    ) else {
        return (
            400,
            json!({"message": "from/to must be epoch milliseconds or now[-Nh|m|s|d]"}),
        );
    };
    let queries: Vec<Q> = req["queries"]
        .as_array()
        .map(|qs| {
            qs.iter()
                .map(|q| {
                    let ref_id = q["refId"].as_str().unwrap_or("A").to_owned();
                    let mut query = Q::json(&ref_id, q.clone());
                    query.from_ms = from;
                    query.to_ms = to;
                    query.interval_ms = q["intervalMs"]
                        .as_i64()
                        .unwrap_or(((to - from) / 1000).max(1));
                    query.max_data_points = q["maxDataPoints"].as_i64().unwrap_or(1000);
                    query
                })
                .collect()
        })
        .unwrap_or_default();
    if queries.is_empty() {
        return (400, json!({"message": "no queries"}));
    }
    let answers = rt.block_on(host.query(ds, queries));
    let mut results = serde_json::Map::new();
    let mut any_error = false;
    for (ref_id, a) in answers {
        let mut r = json!({"status": a.status, "frames": a.frames.iter().map(frame_json).collect::<Vec<_>>()});
        if !a.error.is_empty() {
            any_error = true;
            r["error"] = json!(a.error);
            r["errorSource"] = json!(a.error_source);
        }
        results.insert(ref_id, r);
    }
    (
        if any_error { 207 } else { 200 },
        json!({ "results": results }),
    )
}

fn time(v: &Value, now: i64, default: i64) -> Option<i64> {
    match v {
        Value::Null => Some(default),
        Value::Number(n) => n.as_i64(),
        Value::String(s) if s == "now" => Some(now),
        Value::String(s) => {
            if let Ok(ms) = s.parse() {
                return Some(ms);
            }
            let rest = s.strip_prefix("now-")?;
            let (n, unit) = rest.split_at(rest.len() - 1);
            let n: i64 = n.parse().ok()?;
            let ms = match unit {
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return None,
            };
            Some(now - n * ms)
        }
        _ => None,
    }
}

/// A frame in Grafana's JSON form (times in epoch milliseconds).
fn frame_json(f: &Frame) -> Value {
    let fields: Vec<Value> = f
        .fields
        .iter()
        .map(|field| {
            let kind = match field.kind {
                Kind::Time => "time",
                Kind::Number => "number",
                Kind::String => "string",
                Kind::Bool => "boolean",
                Kind::Json => "other",
            };
            let mut v = json!({"name": field.name, "type": kind});
            if !field.labels.is_empty() {
                v["labels"] = json!(field.labels);
            }
            if let Some(c) = &field.config {
                v["config"] = c.clone();
            }
            v
        })
        .collect();
    let values: Vec<Value> = f
        .fields
        .iter()
        .map(|field| {
            Value::Array(
                field
                    .values
                    .iter()
                    .map(|v| match (&field.kind, v) {
                        (Kind::Time, Value::Number(n)) => {
                            json!(n.as_i64().unwrap_or(0) as f64 / 1e6)
                        }
                        _ => v.clone(),
                    })
                    .collect(),
            )
        })
        .collect();
    json!({"schema": {"name": f.name, "refId": f.ref_id, "meta": f.meta, "fields": fields}, "data": {"values": values}})
}
