//! A Grafana plugin host for tests.
//!
//! Starts the built `gpx_lantern` the way Grafana's go-plugin client does (cleared environment,
//! magic cookie, protocol versions, port range, `GF_*` variables), reads the handshake line,
//! connects over gRPC and calls the services. Every frame that comes back is decoded by Grafana's
//! rules in [`super::grafana_frames`]; a contract defect fails the test. The plugin's stderr is
//! collected so tests can check the hclog lines.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grafana_plugin_sdk::pluginv2;
use lantern::grpc::QueryDataResponse;
use serde_json::Value;
use tonic::transport::Channel;

use super::engine::Engine;
use super::grafana_frames::{Frame, decode_frame};

pub struct Host {
    pub child: Child,
    pub addr: String,
    pub channel: Channel,
    pub stderr: Arc<Mutex<Vec<String>>>,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The plugin executable: the one cargo built for these tests, or `LANTERN_PLUGIN`.
pub fn plugin_binary() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("LANTERN_PLUGIN") {
        return p.into();
    }
    match option_env!("CARGO_BIN_EXE_gpx_lantern") {
        Some(p) => p.into(),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/gpx_lantern"),
    }
}

/// The environment Grafana gives a backend plugin (go-plugin with SkipHostEnv).
pub fn grafana_env() -> Vec<(&'static str, String)> {
    vec![
        ("grafana_plugin_type", "datasource".into()),
        ("PLUGIN_PROTOCOL_VERSIONS", "2".into()),
        ("PLUGIN_MIN_PORT", "10000".into()),
        ("PLUGIN_MAX_PORT", "25000".into()),
        ("GF_VERSION", "12.2.0".into()),
        ("GF_EDITION", "Open Source".into()),
        ("GF_PLUGIN_LOG_LEVEL", "debug".into()),
    ]
}

/// A QueryData request for `queries` against `ds`.
pub fn request(
    ds: &pluginv2::DataSourceInstanceSettings,
    queries: Vec<Q>,
    headers: HashMap<String, String>,
) -> pluginv2::QueryDataRequest {
    pluginv2::QueryDataRequest {
        plugin_context: Some(context(ds)),
        headers,
        queries: queries
            .into_iter()
            .map(|q| pluginv2::DataQuery {
                ref_id: q.ref_id,
                max_data_points: q.max_data_points,
                interval_ms: q.interval_ms,
                time_range: Some(pluginv2::TimeRange {
                    from_epoch_ms: q.from_ms,
                    to_epoch_ms: q.to_ms,
                }),
                json: serde_json::to_vec(&q.json).unwrap(),
                query_type: String::new(),
            })
            .collect(),
    }
}

/// One query's answer, decoded.
#[derive(Debug)]
pub struct Answer {
    pub frames: Vec<Frame>,
    pub error: String,
    pub status: i32,
    pub error_source: String,
}

impl Answer {
    /// The single frame of a successful answer.
    pub fn frame(&self) -> &Frame {
        assert!(
            self.error.is_empty(),
            "query failed: {} (status {})",
            self.error,
            self.status
        );
        assert_eq!(self.frames.len(), 1, "expected one frame");
        &self.frames[0]
    }
}

/// A query to send.
pub struct Q {
    pub ref_id: String,
    pub json: Value,
    pub from_ms: i64,
    pub to_ms: i64,
    pub interval_ms: i64,
    pub max_data_points: i64,
}

impl Q {
    pub fn sql(ref_id: &str, sql: &str) -> Q {
        Q::json(
            ref_id,
            serde_json::json!({ "refId": ref_id, "rawSql": sql, "format": 1 }),
        )
    }

    pub fn json(ref_id: &str, json: Value) -> Q {
        Q {
            ref_id: ref_id.into(),
            json,
            from_ms: 1_700_000_000_000,
            to_ms: 1_700_003_600_000,
            interval_ms: 1000,
            max_data_points: 1000,
        }
    }
}

impl Host {
    /// Starts the plugin binary like Grafana does.
    pub async fn start() -> Host {
        Host::start_with(&[]).await
    }

    pub async fn start_with(extra_env: &[(&str, &str)]) -> Host {
        Host::start_command(Command::new(plugin_binary()), extra_env).await
    }

    /// Starts `cmd` like Grafana starts a plugin: the plugin binary itself, or a wrapper that
    /// execs it (e.g. `chroot DIR /gpx_lantern_linux_amd64`).
    pub async fn start_command(mut cmd: Command, extra_env: &[(&str, &str)]) -> Host {
        cmd.env_clear();
        for (k, v) in grafana_env() {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gpx_lantern");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Later stdout lines are only logged by Grafana; keep draining.
            let mut rest = String::new();
            while reader.read_line(&mut rest).map(|n| n > 0).unwrap_or(false) {
                rest.clear();
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("no handshake line within 20 s");
        let parts: Vec<&str> = line.trim().split('|').collect();
        assert_eq!(parts.len(), 5, "handshake {line:?}");
        assert_eq!(
            (parts[0], parts[1], parts[2], parts[4]),
            ("1", "2", "tcp", "grpc"),
            "handshake {line:?}"
        );
        assert!(
            parts[3].starts_with("127.0.0.1:"),
            "plugin must bind loopback: {line:?}"
        );
        let addr = parts[3].to_owned();
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("connect to plugin");
        Host {
            child,
            addr,
            channel,
            stderr: lines,
        }
    }

    pub async fn check_health(
        &self,
        ds: &pluginv2::DataSourceInstanceSettings,
    ) -> (i32, String, Value) {
        self.check_health_with_headers(ds, HashMap::new()).await
    }

    /// CheckHealth with request headers (`http_<Name>` for forwarded HTTP headers).
    pub async fn check_health_with_headers(
        &self,
        ds: &pluginv2::DataSourceInstanceSettings,
        headers: HashMap<String, String>,
    ) -> (i32, String, Value) {
        let mut client = pluginv2::diagnostics_client::DiagnosticsClient::new(self.channel.clone());
        let resp = client
            .check_health(pluginv2::CheckHealthRequest {
                plugin_context: Some(context(ds)),
                headers,
            })
            .await
            .expect("CheckHealth call")
            .into_inner();
        let details = if resp.json_details.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&resp.json_details).expect("jsonDetails is JSON")
        };
        (resp.status, resp.message, details)
    }

    /// Sends one QueryData request; decodes every frame by Grafana's rules.
    pub async fn query(
        &self,
        ds: &pluginv2::DataSourceInstanceSettings,
        queries: Vec<Q>,
    ) -> HashMap<String, Answer> {
        self.query_with_headers(ds, queries, HashMap::new()).await
    }

    pub async fn query_with_headers(
        &self,
        ds: &pluginv2::DataSourceInstanceSettings,
        queries: Vec<Q>,
        headers: HashMap<String, String>,
    ) -> HashMap<String, Answer> {
        let sent: Vec<String> = queries.iter().map(|q| q.ref_id.clone()).collect();
        let req = request(ds, queries, headers);
        let resp = self.raw_query(req).await;
        answers(&sent, resp)
    }

    /// A QueryData request whose plugin context carries Grafana's config (`grafanaConfig`, e.g.
    /// `GF_SQL_ROW_LIMIT`), as current Grafana sends it: the SDK's proto lacks the field, so the
    /// request goes out as Lantern's wire-compatible superset message.
    pub async fn query_with_config(
        &self,
        ds: &pluginv2::DataSourceInstanceSettings,
        queries: Vec<Q>,
        config: &[(&str, &str)],
    ) -> HashMap<String, Answer> {
        use prost::Message;
        let sent: Vec<String> = queries.iter().map(|q| q.ref_id.clone()).collect();
        let sdk = request(ds, queries, HashMap::new());
        let mut req = lantern::grpc::QueryDataRequest::decode(sdk.encode_to_vec().as_slice())
            .expect("the superset reads the SDK's request");
        req.plugin_context.as_mut().unwrap().grafana_config = config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        answers(&sent, self.raw_query(req).await)
    }

    /// Sends a QueryData request with a gRPC deadline (`grpc-timeout`), as Grafana does.
    pub async fn raw_query_deadline(
        &self,
        req: pluginv2::QueryDataRequest,
        deadline: Duration,
    ) -> Result<QueryDataResponse, tonic::Status> {
        let mut grpc =
            tonic::client::Grpc::new(self.channel.clone()).max_decoding_message_size(usize::MAX);
        grpc.ready().await.expect("channel ready");
        let codec: tonic::codec::ProstCodec<pluginv2::QueryDataRequest, QueryDataResponse> =
            tonic::codec::ProstCodec::default();
        let path = http::uri::PathAndQuery::from_static("/pluginv2.Data/QueryData");
        let mut request = tonic::Request::new(req);
        request.set_timeout(deadline);
        grpc.unary(request, path, codec)
            .await
            .map(|r| r.into_inner())
    }

    /// Sends a QueryData request (the SDK's message or Lantern's superset).
    pub async fn raw_query<M>(&self, req: M) -> QueryDataResponse
    where
        M: prost::Message + Send + Sync + 'static,
    {
        let mut grpc =
            tonic::client::Grpc::new(self.channel.clone()).max_decoding_message_size(usize::MAX);
        grpc.ready().await.expect("channel ready");
        let codec: tonic::codec::ProstCodec<M, QueryDataResponse> =
            tonic::codec::ProstCodec::default();
        let path = http::uri::PathAndQuery::from_static("/pluginv2.Data/QueryData");
        grpc.unary(tonic::Request::new(req), path, codec)
            .await
            .expect("QueryData call")
            .into_inner()
    }

    pub async fn resource(
        &self,
        ds: &pluginv2::DataSourceInstanceSettings,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> (i32, Value) {
        self.resource_with_headers(ds, method, path_and_query, body, &[])
            .await
    }

    /// CallResource with the HTTP request's headers.
    pub async fn resource_with_headers(
        &self,
        ds: &pluginv2::DataSourceInstanceSettings,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> (i32, Value) {
        let mut client = pluginv2::resource_client::ResourceClient::new(self.channel.clone());
        let path = path_and_query.split('?').next().unwrap_or("").to_owned();
        let mut stream = client
            .call_resource(pluginv2::CallResourceRequest {
                plugin_context: Some(context(ds)),
                path,
                method: method.into(),
                url: format!("/api/datasources/uid/{}/resources/{path_and_query}", ds.uid),
                headers: headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            pluginv2::StringList {
                                values: vec![v.to_string()],
                            },
                        )
                    })
                    .collect(),
                body: body.to_vec().into(),
            })
            .await
            .expect("CallResource call")
            .into_inner();
        let first = stream
            .message()
            .await
            .expect("stream")
            .expect("one message");
        let mut body = first.body.to_vec();
        while let Some(more) = stream.message().await.expect("stream") {
            body.extend_from_slice(&more.body);
        }
        (
            first.code,
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        )
    }

    /// `SubscribeStream` on a channel path with subscription data: (status, error message of a
    /// refused call or empty).
    pub async fn subscribe_stream(
        &self,
        ds: &pluginv2::DataSourceInstanceSettings,
        path: &str,
        data: &Value,
    ) -> Result<i32, tonic::Status> {
        let mut client = pluginv2::stream_client::StreamClient::new(self.channel.clone());
        client
            .subscribe_stream(pluginv2::SubscribeStreamRequest {
                plugin_context: Some(context(ds)),
                path: path.into(),
                data: serde_json::to_vec(data).unwrap().into(),
            })
            .await
            .map(|r| r.into_inner().status)
    }

    /// `RunStream` as Grafana calls it for the first subscriber; dropping the returned stream
    /// ends the call, as Grafana does when the last subscriber leaves.
    pub async fn run_stream(
        &self,
        ds: &pluginv2::DataSourceInstanceSettings,
        path: &str,
        data: &Value,
    ) -> Result<tonic::Streaming<pluginv2::StreamPacket>, tonic::Status> {
        let mut client = pluginv2::stream_client::StreamClient::new(self.channel.clone());
        client
            .run_stream(pluginv2::RunStreamRequest {
                plugin_context: Some(context(ds)),
                path: path.into(),
                data: serde_json::to_vec(data).unwrap().into(),
            })
            .await
            .map(|r| r.into_inner())
    }

    /// `PublishStream`: the status the plugin answers.
    pub async fn publish_stream(
        &self,
        ds: &pluginv2::DataSourceInstanceSettings,
        path: &str,
        data: &Value,
    ) -> i32 {
        let mut client = pluginv2::stream_client::StreamClient::new(self.channel.clone());
        client
            .publish_stream(pluginv2::PublishStreamRequest {
                plugin_context: Some(context(ds)),
                path: path.into(),
                data: serde_json::to_vec(data).unwrap(),
            })
            .await
            .expect("PublishStream call")
            .into_inner()
            .status
    }

    /// Calls `Diagnostics/CollectMetrics` as Grafana's metrics endpoint does; returns the
    /// Prometheus text (which must be UTF-8).
    pub async fn collect_metrics(
        &self,
        ds: Option<&pluginv2::DataSourceInstanceSettings>,
    ) -> String {
        let mut client = pluginv2::diagnostics_client::DiagnosticsClient::new(self.channel.clone());
        let resp = client
            .collect_metrics(pluginv2::CollectMetricsRequest {
                plugin_context: ds.map(context),
            })
            .await
            .expect("CollectMetrics call")
            .into_inner();
        let payload = resp.metrics.expect("CollectMetrics carries a payload");
        String::from_utf8(payload.prometheus).expect("Prometheus text is UTF-8")
    }

    /// Asks the plugin to stop the way go-plugin does; returns how it exited.
    pub async fn shutdown(&mut self) -> std::process::ExitStatus {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready().await.expect("ready");
        let codec: tonic::codec::ProstCodec<(), ()> = tonic::codec::ProstCodec::default();
        let path = http::uri::PathAndQuery::from_static("/plugin.GRPCController/Shutdown");
        let _ = grpc.unary(tonic::Request::new(()), path, codec).await;
        self.wait_exit(Duration::from_secs(2))
    }

    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "plugin did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }
}

/// Every query's answer, decoded by Grafana's rules; each sent refId gets exactly one.
fn answers(sent: &[String], resp: QueryDataResponse) -> HashMap<String, Answer> {
    let mut got: Vec<&String> = resp.responses.keys().collect();
    got.sort();
    let mut want: Vec<&String> = sent.iter().collect();
    want.sort();
    assert_eq!(
        got, want,
        "every query gets exactly one response under its own refId"
    );
    resp.responses
        .into_iter()
        .map(|(ref_id, r)| {
            let frames = r
                .frames
                .iter()
                .map(|b| {
                    decode_frame(b).unwrap_or_else(|e| {
                        panic!("refId {ref_id}: Grafana cannot decode the frame: {e}")
                    })
                })
                .collect();
            if !r.error.is_empty() {
                assert!(
                    r.error_source == "downstream" || r.error_source == "plugin",
                    "errorSource {:?}",
                    r.error_source
                );
                assert!(
                    r.status >= 400,
                    "an error carries a 4xx/5xx status, got {}",
                    r.status
                );
            }
            (
                ref_id,
                Answer {
                    frames,
                    error: r.error,
                    status: r.status,
                    error_source: r.error_source,
                },
            )
        })
        .collect()
}

fn context(ds: &pluginv2::DataSourceInstanceSettings) -> pluginv2::PluginContext {
    pluginv2::PluginContext {
        org_id: 1,
        plugin_id: "lantern-clickhouse-datasource".into(),
        user: Some(pluginv2::User {
            login: "admin".into(),
            name: "admin".into(),
            email: String::new(),
            role: "Admin".into(),
        }),
        app_instance_settings: None,
        data_source_instance_settings: Some(ds.clone()),
    }
}

/// Datasource settings as Grafana sends them.
pub fn datasource(
    json_data: Value,
    secure: &[(&str, &str)],
) -> pluginv2::DataSourceInstanceSettings {
    static NEXT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    pluginv2::DataSourceInstanceSettings {
        id: n,
        name: "Lantern ClickHouse".into(),
        uid: format!("lantern-test-{n}"),
        json_data: serde_json::to_vec(&json_data).unwrap(),
        decrypted_secure_json_data: secure
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        last_updated_ms: 1_700_000_000_000 + n,
        ..Default::default()
    }
}

/// Settings pointing at `engine` with its credentials and `database`.
pub fn datasource_for(engine: &Engine, database: &str) -> pluginv2::DataSourceInstanceSettings {
    datasource_with(engine, database, serde_json::json!({}))
}

/// [`datasource_for`] with more jsonData keys (`extra`, an object).
pub fn datasource_with(
    engine: &Engine,
    database: &str,
    extra: Value,
) -> pluginv2::DataSourceInstanceSettings {
    let (host, port) = engine.host();
    let mut json = serde_json::json!({
        "host": host, "port": port, "protocol": if engine.is_tls() { "https" } else { "http" },
        "username": engine.user, "defaultDatabase": database,
    });
    if let (Some(obj), Value::Object(more)) = (json.as_object_mut(), extra) {
        obj.extend(more);
    }
    datasource(json, &[("password", &engine.password)])
}
