//! Lantern: the backend of the `lantern-clickhouse-datasource` Grafana plugin.
//!
//! The crate has two layers. The **pure core** is synchronous and deterministic and holds the
//! domain: [`settings`] (validated datasource settings), [`query`] (saved query models), [`official`] (grafana/clickhouse-datasource's builder model),
//! [`sql`] (the only module that writes values into SQL), [`macros`] (both plugins' macros), [`otel`] (OpenTelemetry schemas and roles), [`chtype`] (ClickHouse type names), [`metrics`] (the plugin's Prometheus metrics) and
//! [`frames`] (ClickHouse Arrow → Grafana frames). The **I/O edges** talk to the outside:
//! [`upstream`] (what the query path asks of a server, and a fake of it), [`clickhouse`] (HTTP(S) to ClickHouse; `net` resolves its host names and holds its CA roots), [`failover`] (several hosts, round-robin and retry), [`instance`] (a datasource instance and its caches), [`planner`] (query → SQL and frame shape, reading table schemas), [`service`] (running queries, health),
//! [`resources`] (CallResource routes) and [`grpc`] (the go-plugin process and gRPC services).
//! Edges depend on the core, never the other way round; `tests/` checks it.
//!
//! The flow of a query: `DataQuery JSON → Query → SQL → ClickHouse ArrowStream → normalize →
//! frame (Arrow IPC file) → DataResponse`.

#![deny(unsafe_code)]

pub mod chtype;
pub mod clickhouse;
pub mod error;
pub mod failover;
pub mod forward;
pub mod frames;
pub mod grpc;
pub mod instance;
pub mod live;
pub mod macros;
pub mod metrics;
mod net;
pub mod official;
pub mod otel;
pub mod planner;
pub mod query;
pub mod resources;
pub mod service;
pub mod settings;
pub mod sql;
pub mod upstream;
