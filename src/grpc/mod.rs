//! The process edge: go-plugin start-up, the gRPC server and shutdown.
//!
//! Grafana starts `gpx_lantern` with the go-plugin magic cookie in its environment, reads one
//! handshake line (`1|2|tcp|127.0.0.1:PORT|grpc`) from stdout, then calls the services over gRPC
//! on loopback. The SDK's `#[main]` cannot set `TCP_NODELAY` on accepted sockets, which stalls
//! every call ~43 ms (Nagle against the host's delayed ACK), so this module binds, prints the
//! handshake and serves the services itself with nodelay on. Logs go to stderr as hclog JSON
//! (see [`log`]). SIGTERM, SIGINT or the host's `GRPCController/Shutdown` end the process
//! cleanly.

pub(crate) mod log;
pub(crate) mod proto;
pub(crate) mod services;
pub(crate) mod stream;

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, bail};
use grafana_plugin_sdk::pluginv2;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

pub use proto::{DataResponse, PluginContext, QueryDataRequest, QueryDataResponse};
use services::{ControllerService, DataService, Services};

use crate::service::Plugin;

/// The go-plugin magic cookie Grafana sets for datasource plugins.
const COOKIE_KEY: &str = "grafana_plugin_type";
const COOKIE_VALUE: &str = "datasource";

/// Runs the plugin until Grafana stops it.
pub fn run() -> anyhow::Result<()> {
    if std::env::var(COOKIE_KEY).as_deref() != Ok(COOKIE_VALUE) {
        eprintln!(
            "gpx_lantern is a Grafana plugin: Grafana starts it. Install the plugin into Grafana's plugin directory \
             (see README.md); to run it by hand set {COOKIE_KEY}={COOKIE_VALUE}."
        );
        std::process::exit(1);
    }
    if let Ok(versions) = std::env::var("PLUGIN_PROTOCOL_VERSIONS")
        && !versions.split(',').any(|v| v.trim() == "2")
    {
        bail!(
            "the plugin host offers protocol versions {versions:?}; this plugin speaks version 2"
        );
    }
    log::init();
    keep_freed_memory();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve())
}

/// Asks glibc's allocator to keep freed memory for reuse instead of returning it to the kernel.
///
/// A query's buffers (result batches, shaped columns, frame chunks) are megabytes each. By
/// default glibc serves those from fresh `mmap`s and unmaps them on free, so every query paid a
/// page fault per 4 KiB touched: in profiles this cost more than the frame shaping itself. With
/// both thresholds at glibc's ceiling (32 MiB), such buffers come from the heap and freed ones are
/// reused by the next query; the process keeps its high-water mark of heap, like Go's runtime.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const LIMIT: i32 = 32 << 20;
        // SAFETY: mallopt only changes allocator parameters; it is called before the runtime
        // starts any thread, and glibc validates the values (returning 0 when it refuses one).
        #[allow(unsafe_code)]
        let ok = unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, LIMIT) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, 2 * LIMIT) == 1
        };
        if !ok {
            tracing::debug!("glibc refused the allocator thresholds; keeping its defaults");
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind a loopback port")?;
    let addr = listener.local_addr()?;
    let incoming = TcpIncoming::from_listener(listener, true, None)
        .map_err(|e| anyhow::anyhow!("cannot listen: {e}"))?;
    let terminated = terminate_signal();
    {
        // The handshake must be the first line on stdout, flushed before anything else.
        let mut out = std::io::stdout().lock();
        writeln!(out, "1|2|tcp|{addr}|grpc")?;
        out.flush()?;
    }
    tracing::info!(address = %addr, version = env!("CARGO_PKG_VERSION"), "lantern plugin serving");

    let services = Services {
        plugin: Arc::new(Plugin::default()),
        shutdown: Arc::new(tokio::sync::Notify::new()),
    };
    let (mut reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    let shutdown = services.shutdown.clone();
    Server::builder()
        .add_service(health)
        .add_service(DataService(services.clone()))
        .add_service(pluginv2::diagnostics_server::DiagnosticsServer::new(
            services.clone(),
        ))
        .add_service(pluginv2::resource_server::ResourceServer::new(
            services.clone(),
        ))
        .add_service(stream::StreamService::server(services.clone()))
        .add_service(ControllerService(services))
        .serve_with_incoming_shutdown(incoming, async move {
            tokio::select! {
                _ = shutdown.notified() => {}
                _ = terminated => tracing::info!("termination signal received"),
            }
        })
        .await
        .context("gRPC server failed")?;
    tracing::info!("lantern plugin stopped");
    Ok(())
}

/// Registers SIGTERM/SIGINT handlers now (before the handshake, so a stop that follows it at once
/// is still a clean exit) and returns a future that completes on either.
fn terminate_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let signals = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        );
        async move {
            match signals {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
