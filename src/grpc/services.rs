//! The gRPC services Grafana calls: `pluginv2.Data`, `pluginv2.Diagnostics`, `pluginv2.Resource`
//! and go-plugin's `plugin.GRPCController`.
//!
//! Diagnostics and Resource use the SDK's generated servers. Data and the controller are small
//! hand-written tower services: Data because its response must carry `errorSource`, each query
//! must fail alone, and its frames are sent as written, without a protobuf re-encode (see
//! [`super::proto`]); the controller so that Grafana's stop is a clean exit instead of a kill
//! after two seconds.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use grafana_plugin_sdk::pluginv2;
use tonic::body::BoxBody;
use tonic::codegen::{BoxFuture, Service, empty_body, http};
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

use super::proto;
use crate::query::RequestContext;
use crate::resources;
use crate::service::{self, InstanceKey, Plugin, QueryInput};
use crate::settings::{InstanceInput, SettingsError};

/// Shared handle to the plugin state.
#[derive(Clone)]
pub(crate) struct Services {
    pub(crate) plugin: Arc<Plugin>,
    pub(crate) shutdown: Arc<tokio::sync::Notify>,
}

impl Services {
    pub(crate) fn instance(
        &self,
        ctx: Option<&pluginv2::PluginContext>,
    ) -> Result<Arc<service::Instance>, SettingsError> {
        self.instance_of(ctx.and_then(|c| c.data_source_instance_settings.as_ref()))
    }

    /// The instance of a request's datasource settings.
    fn instance_of(
        &self,
        ds: Option<&pluginv2::DataSourceInstanceSettings>,
    ) -> Result<Arc<service::Instance>, SettingsError> {
        let Some(ds) = ds else {
            return Err(SettingsError {
                key: "datasource".into(),
                reason: "the request carries no datasource settings".into(),
            });
        };
        let key = InstanceKey {
            uid: ds.uid.clone(),
            updated: ds.last_updated_ms,
        };
        let input = InstanceInput {
            url: &ds.url,
            basic_auth_enabled: ds.basic_auth_enabled,
            basic_auth_user: &ds.basic_auth_user,
            user: &ds.user,
            json_data: &ds.json_data,
            secure: &ds.decrypted_secure_json_data,
        };
        self.plugin.instance(&key, &input)
    }

    async fn query_data(
        &self,
        req: proto::QueryDataRequest,
        deadline: Option<std::time::Duration>,
    ) -> Vec<(String, proto::Answer)> {
        let instance = self.instance_of(
            req.plugin_context
                .as_ref()
                .and_then(|c| c.data_source_instance_settings.as_ref()),
        );
        let user = req
            .plugin_context
            .as_ref()
            .and_then(|c| c.user.as_ref())
            .map(|u| u.login.clone())
            .unwrap_or_default();
        let row_limit = req
            .plugin_context
            .as_ref()
            .and_then(proto::PluginContext::row_limit);
        let forwarded = forwarded(&instance, string_headers(&req.headers), &user);
        let dashboard = req
            .headers
            .iter()
            .find(|(k, _)| {
                k.eq_ignore_ascii_case("X-Dashboard-Uid")
                    || k.eq_ignore_ascii_case("http_X-Dashboard-Uid")
            })
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let (ds_uid, ds_name) = req
            .plugin_context
            .as_ref()
            .and_then(|c| c.data_source_instance_settings.as_ref())
            .map(|d| (d.uid.clone(), d.name.clone()))
            .unwrap_or_default();
        let inputs: Vec<QueryInput> = req
            .queries
            .into_iter()
            .map(|q| QueryInput {
                ref_id: q.ref_id,
                json: q.json,
                request: RequestContext {
                    from_ms: q.time_range.map_or(0, |t| t.from_epoch_ms),
                    to_ms: q.time_range.map_or(0, |t| t.to_epoch_ms),
                    interval_ms: q.interval_ms,
                    max_data_points: q.max_data_points,
                    dashboard: dashboard.clone(),
                    user: user.clone(),
                    now_ms,
                    datasource_uid: ds_uid.clone(),
                    datasource_name: ds_name.clone(),
                    row_limit,
                }
                .clamped(),
                query_type: q.query_type,
            })
            .collect();
        let mut responses = Vec::new();
        let running = self.plugin.running.clone();
        let results = crate::forward::scope(
            forwarded,
            service::run_queries(instance, inputs, running, deadline),
        )
        .await;
        for (ref_id, result) in results {
            let resp = match result {
                Ok(frames) => proto::Answer {
                    frames,
                    status: 200,
                    ..Default::default()
                },
                Err(e) => {
                    tracing::warn!(ref_id = %ref_id, status = e.status(), source = e.source_kind().as_str(), error = %e, "query failed");
                    proto::Answer {
                        error: e.to_string(),
                        status: e.status() as i32,
                        error_source: e.source_kind().as_str().to_owned(),
                        ..Default::default()
                    }
                }
            };
            responses.push((ref_id, resp));
        }
        responses
    }
}

/// A request's `map<string, string>` headers as pairs.
fn string_headers(headers: &HashMap<String, String>) -> impl Iterator<Item = (&str, &str)> {
    headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

/// The user login of a request's plugin context ("" when Grafana itself asks).
fn login(ctx: Option<&pluginv2::PluginContext>) -> &str {
    ctx.and_then(|c| c.user.as_ref())
        .map_or("", |u| u.login.as_str())
}

/// The headers to forward to ClickHouse for a request to `instance` (`forwardGrafanaHeaders`).
fn forwarded<'a>(
    instance: &Result<Arc<service::Instance>, SettingsError>,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    user: &str,
) -> crate::forward::Forwarded {
    match instance {
        Ok(i) => crate::forward::select(&i.settings, headers, user),
        Err(_) => Default::default(),
    }
}

/// The `pluginv2.Data` service.
#[derive(Clone)]
pub(crate) struct DataService(pub(crate) Services);

impl NamedService for DataService {
    const NAME: &'static str = "pluginv2.Data";
}

/// Largest QueryData request accepted (Grafana's own default limit for plugin messages).
const MAX_REQUEST_BYTES: usize = 64 << 20;

/// Reads a unary gRPC request body: one uncompressed length-prefixed protobuf message.
async fn read_unary<B, M>(req: http::Request<B>) -> Result<M, Status>
where
    B: tonic::codegen::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
    M: prost::Message + Default,
{
    if let Some(enc) = req.headers().get("grpc-encoding")
        && enc.as_bytes() != b"identity"
    {
        return Err(Status::unimplemented(format!(
            "request compression {:?} is not supported; send requests uncompressed",
            String::from_utf8_lossy(enc.as_bytes())
        )));
    }
    let body = http_body_util::Limited::new(req.into_body(), MAX_REQUEST_BYTES + 5);
    let bytes = http_body_util::BodyExt::collect(body)
        .await
        .map_err(|e| Status::resource_exhausted(format!("cannot read the request: {e}")))?
        .to_bytes();
    let Some((prefix, message)) = bytes.split_first_chunk::<5>() else {
        return Err(Status::internal("the request has no gRPC message"));
    };
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
    if prefix[0] != 0 {
        return Err(Status::unimplemented(
            "compressed requests are not supported",
        ));
    }
    if message.len() != len {
        return Err(Status::internal(format!(
            "the request holds {} bytes after its prefix, which announces {len}",
            message.len()
        )));
    }
    M::decode(message).map_err(|e| Status::internal(format!("cannot decode the request: {e}")))
}

/// A `grpc-timeout` header value (`<digits><unit>`, unit `H M S m u n`) as a duration.
fn grpc_timeout(value: &str) -> Option<std::time::Duration> {
    use std::time::Duration;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The body of a successful unary response: the message's segments, then `grpc-status: 0`.
struct SegmentsBody {
    segments: std::collections::VecDeque<bytes::Bytes>,
    trailers_sent: bool,
}

impl http_body::Body for SegmentsBody {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if let Some(segment) = self.segments.pop_front() {
            return Poll::Ready(Some(Ok(http_body::Frame::data(segment))));
        }
        if self.trailers_sent {
            return Poll::Ready(None);
        }
        self.trailers_sent = true;
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        Poll::Ready(Some(Ok(http_body::Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.segments.is_empty() && self.trailers_sent
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.segments.iter().map(|s| s.len() as u64).sum())
    }
}

/// Answers `QueryData`: every query answers for itself, frames go out without re-encoding.
async fn query_data_http<B>(services: Services, req: http::Request<B>) -> http::Response<BoxBody>
where
    B: tonic::codegen::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    let deadline = req
        .headers()
        .get("grpc-timeout")
        .and_then(|v| grpc_timeout(v.to_str().ok()?));
    let request: proto::QueryDataRequest = match read_unary(req).await {
        Ok(r) => r,
        Err(status) => return status.into_http(),
    };
    let answers = services.query_data(request, deadline).await;
    let body = SegmentsBody {
        segments: proto::encode_query_data(&answers).into(),
        trailers_sent: false,
    };
    let mut resp = http::Response::new(tonic::body::boxed(body));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    resp
}

impl<B> Service<http::Request<B>> for DataService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::BoxBody>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let services = self.0.clone();
        match req.uri().path() {
            "/pluginv2.Data/QueryData" => {
                Box::pin(async move { Ok(query_data_http(services, req).await) })
            }
            _ => Box::pin(async move { Ok(unimplemented_response()) }),
        }
    }
}

fn unimplemented_response() -> http::Response<tonic::body::BoxBody> {
    let mut resp = http::Response::new(empty_body());
    resp.headers_mut().insert(
        "grpc-status",
        http::HeaderValue::from(tonic::Code::Unimplemented as i32),
    );
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    resp
}

/// go-plugin's `plugin.GRPCController`: `Shutdown` asks the process to exit cleanly.
#[derive(Clone)]
pub(crate) struct ControllerService(pub(crate) Services);

impl NamedService for ControllerService {
    const NAME: &'static str = "plugin.GRPCController";
}

struct ShutdownMethod(Arc<tokio::sync::Notify>);

impl tonic::server::UnaryService<()> for ShutdownMethod {
    type Response = ();
    type Future = BoxFuture<Response<()>, Status>;

    fn call(&mut self, _request: Request<()>) -> Self::Future {
        let notify = self.0.clone();
        Box::pin(async move {
            tracing::info!("shutdown requested by the plugin host");
            notify.notify_one();
            Ok(Response::new(()))
        })
    }
}

impl<B> Service<http::Request<B>> for ControllerService
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::BoxBody>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let notify = self.0.shutdown.clone();
        match req.uri().path() {
            "/plugin.GRPCController/Shutdown" => Box::pin(async move {
                let mut grpc =
                    tonic::server::Grpc::new(tonic::codec::ProstCodec::<(), ()>::default());
                Ok(grpc.unary(ShutdownMethod(notify), req).await)
            }),
            _ => Box::pin(async move { Ok(unimplemented_response()) }),
        }
    }
}

#[tonic::async_trait]
impl pluginv2::diagnostics_server::Diagnostics for Services {
    async fn check_health(
        &self,
        request: Request<pluginv2::CheckHealthRequest>,
    ) -> Result<Response<pluginv2::CheckHealthResponse>, Status> {
        let req = request.into_inner();
        let instance = self.instance(req.plugin_context.as_ref());
        let forwarded = forwarded(
            &instance,
            string_headers(&req.headers),
            login(req.plugin_context.as_ref()),
        );
        let health = crate::forward::scope(forwarded, service::check_health(instance)).await;
        use pluginv2::check_health_response::HealthStatus;
        if !health.ok {
            tracing::warn!(message = %health.message, "health check failed");
        }
        Ok(Response::new(pluginv2::CheckHealthResponse {
            status: if health.ok {
                HealthStatus::Ok
            } else {
                HealthStatus::Error
            } as i32,
            message: health.message,
            json_details: serde_json::to_vec(&health.details).unwrap_or_default(),
        }))
    }

    /// The plugin's metrics in Prometheus' text format (see [`crate::metrics`]). They are
    /// process-wide, whatever datasource the request names, as Grafana's SDKs report them.
    async fn collect_metrics(
        &self,
        _request: Request<pluginv2::CollectMetricsRequest>,
    ) -> Result<Response<pluginv2::CollectMetricsResponse>, Status> {
        Ok(Response::new(pluginv2::CollectMetricsResponse {
            metrics: Some(pluginv2::collect_metrics_response::Payload {
                prometheus: crate::metrics::global().render().into_bytes(),
            }),
        }))
    }
}

type ResourceStream = Pin<
    Box<dyn tokio_stream::Stream<Item = Result<pluginv2::CallResourceResponse, Status>> + Send>,
>;

#[tonic::async_trait]
impl pluginv2::resource_server::Resource for Services {
    type CallResourceStream = ResourceStream;

    async fn call_resource(
        &self,
        request: Request<pluginv2::CallResourceRequest>,
    ) -> Result<Response<Self::CallResourceStream>, Status> {
        let req = request.into_inner();
        let instance = self.instance(req.plugin_context.as_ref());
        // CallResource carries the HTTP request's own headers (no `http_` prefix), each a list.
        let headers = req
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.values.first()?.as_str())));
        let forwarded = forwarded(&instance, headers, login(req.plugin_context.as_ref()));
        let reply = crate::forward::scope(
            forwarded,
            resources::handle(instance, &req.method, &req.path, &req.url, &req.body),
        )
        .await;
        let mut headers = HashMap::new();
        headers.insert(
            "Content-Type".to_owned(),
            pluginv2::StringList {
                values: vec!["application/json".to_owned()],
            },
        );
        let msg = pluginv2::CallResourceResponse {
            code: reply.status as i32,
            headers,
            body: reply.body.into(),
        };
        Ok(Response::new(Box::pin(tokio_stream::iter([Ok(msg)]))))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn grpc_timeouts_are_read_as_grpc_defines_them() {
        assert_eq!(super::grpc_timeout("30S"), Some(Duration::from_secs(30)));
        assert_eq!(
            super::grpc_timeout("1500m"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(super::grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        for bad in ["", "S", "123456789S", "10x", "-1S", "1.5S"] {
            assert_eq!(super::grpc_timeout(bad), None, "{bad:?}");
        }
    }
}
