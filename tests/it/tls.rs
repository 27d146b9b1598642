//! Issue 2: HTTPS with the datasource's TLS options against a TLS-speaking engine.

use std::sync::OnceLock;

use serde_json::json;

use crate::engine::{Engine, ShimOptions, make_certs, start_shim, token};
use crate::host::{Host, Q, datasource};

struct TlsWorld {
    dir: std::path::PathBuf,
    server: Engine,
    mtls: Engine,
}

fn world() -> &'static TlsWorld {
    static W: OnceLock<TlsWorld> = OnceLock::new();
    W.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("lantern-tls-{}", token()));
        std::fs::create_dir_all(&dir).unwrap();
        make_certs(&dir);
        let opts = ShimOptions {
            tls_cert: Some(dir.join("server.pem")),
            tls_key: Some(dir.join("server.key")),
            ..Default::default()
        };
        let server = start_shim("tls-pw", &opts);
        let mtls = start_shim(
            "tls-pw",
            &ShimOptions {
                tls_client_ca: Some(dir.join("ca.pem")),
                ..opts
            },
        );
        TlsWorld { dir, server, mtls }
    })
}

fn pem(name: &str) -> String {
    std::fs::read_to_string(world().dir.join(name)).unwrap()
}

fn ds_for(
    engine: &Engine,
    extra: serde_json::Value,
    secure: &[(&str, &str)],
) -> grafana_plugin_sdk::pluginv2::DataSourceInstanceSettings {
    let (h, port) = engine.host();
    let mut json = json!({"host": h, "port": port, "secure": true});
    for (k, v) in extra.as_object().unwrap() {
        json[k] = v.clone();
    }
    let mut secure: Vec<(&str, &str)> = secure.to_vec();
    secure.push(("password", "tls-pw"));
    datasource(json, &secure)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_ca_certificate() {
    let w = world();
    let host = Host::start().await;
    let ca = pem("ca.pem");
    let ds = ds_for(
        &w.server,
        json!({"tlsAuthWithCACert": true}),
        &[("tlsCACert", &ca)],
    );
    let (status, message, _) = host.check_health(&ds).await;
    assert_eq!(status, 1, "{message}");
    let mut answers = host.query(&ds, vec![Q::sql("A", "SELECT 1 AS one")]).await;
    assert_eq!(
        answers.remove("A").unwrap().frame().field("one").values,
        vec![json!(1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_issuer_is_a_tls_error() {
    let w = world();
    let host = Host::start().await;
    let ds = ds_for(&w.server, json!({}), &[]);
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!(status, 2);
    assert_eq!(details["category"], "tls", "{message}");
    assert!(message.to_lowercase().contains("certificate"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_verify_accepts_the_certificate() {
    let w = world();
    let host = Host::start().await;
    let ds = ds_for(&w.server, json!({"tlsSkipVerify": true}), &[]);
    let (status, message, _) = host.check_health(&ds).await;
    assert_eq!(status, 1, "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_against_tls_port_is_an_error() {
    let w = world();
    let host = Host::start().await;
    let (h, port) = w.server.host();
    let ds = datasource(
        json!({"host": h, "port": port, "protocol": "http", "dialTimeout": 3, "queryTimeout": 5}),
        &[("password", "tls-pw")],
    );
    let (status, message, details) = host.check_health(&ds).await;
    assert_eq!(status, 2, "{message}");
    let category = details["category"].as_str().unwrap();
    assert!(
        ["tls", "network", "timeout"].contains(&category),
        "{category}: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_for_mutual_tls() {
    let w = world();
    let host = Host::start().await;
    let (ca, cert, key) = (pem("ca.pem"), pem("client.pem"), pem("client.key"));
    let with_cert = ds_for(
        &w.mtls,
        json!({"tlsAuthWithCACert": true, "tlsAuth": true}),
        &[
            ("tlsCACert", &ca),
            ("tlsClientCert", &cert),
            ("tlsClientKey", &key),
        ],
    );
    let (status, message, _) = host.check_health(&with_cert).await;
    assert_eq!(status, 1, "{message}");
    let without = ds_for(
        &w.mtls,
        json!({"tlsAuthWithCACert": true}),
        &[("tlsCACert", &ca)],
    );
    let (status, message, details) = host.check_health(&without).await;
    assert_eq!(status, 2, "{message}");
    assert!(
        ["tls", "network"].contains(&details["category"].as_str().unwrap()),
        "{message}"
    );
    assert!(
        !host
            .stderr_lines()
            .iter()
            .any(|l| l.contains("PRIVATE KEY")),
        "key material in logs"
    );
}
