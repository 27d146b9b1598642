//! Integration tests: the real plugin binary, started as Grafana starts it, against a real
//! ClickHouse engine (see `tests/support/`). One test binary so the engine starts once.

// A test binary has no public API: its items are `pub` only to share them between modules.
#![allow(unreachable_pub)]

#[path = "../support/engine.rs"]
mod engine;
#[path = "../support/grafana_frames.rs"]
mod grafana_frames;
#[path = "../support/host.rs"]
mod host;

mod architecture;
mod clusters;
mod dashboards;
mod errors;
mod explore;
mod failover;
mod lexer;
mod live;
mod metrics;
mod migration;
mod official;
mod otel;
mod packaging;
mod protocol;
mod readme;
mod resources;
mod security;
mod settings;
mod timeseries;
mod tls;
mod trust;
mod types;
