//! The gRPC services Grafana calls: `pluginv2.Data`, `pluginv2.Diagnostics`, `pluginv2.Resource`
//! and go-plugin's `plugin.GRPCController`.
//!
//! Diagnostics and Resource use the SDK's generated servers. Data and the controller are small
//! hand-written tower services on tonic's `Grpc` helper: Data because its response must carry
//! `errorSource` (see [`super::proto`]) and each query must fail alone; the controller so that
//! Grafana's stop is a clean exit instead of a kill after two seconds.

use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use grafana_plugin_sdk::pluginv2;
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
    fn instance(
        &self,
        ctx: Option<&pluginv2::PluginContext>,
    ) -> Result<Arc<service::Instance>, SettingsError> {
        let Some(ds) = ctx.and_then(|c| c.data_source_instance_settings.as_ref()) else {
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

    async fn query_data(&self, req: pluginv2::QueryDataRequest) -> proto::QueryDataResponse {
        let instance = self.instance(req.plugin_context.as_ref());
        let user = req
            .plugin_context
            .as_ref()
            .and_then(|c| c.user.as_ref())
            .map(|u| u.login.clone())
            .unwrap_or_default();
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
                },
                query_type: q.query_type,
            })
            .collect();
        let mut responses = HashMap::new();
        for (ref_id, result) in service::run_queries(instance, inputs).await {
            let resp = match result {
                Ok(frames) => proto::DataResponse {
                    frames,
                    status: 200,
                    ..Default::default()
                },
                Err(e) => {
                    tracing::warn!(ref_id = %ref_id, status = e.status(), source = e.source_kind().as_str(), error = %e, "query failed");
                    proto::DataResponse {
                        error: e.to_string(),
                        status: e.status() as i32,
                        error_source: e.source_kind().as_str().to_owned(),
                        ..Default::default()
                    }
                }
            };
            responses.insert(ref_id, resp);
        }
        proto::QueryDataResponse { responses }
    }
}

/// The `pluginv2.Data` service.
#[derive(Clone)]
pub(crate) struct DataService(pub(crate) Services);

impl NamedService for DataService {
    const NAME: &'static str = "pluginv2.Data";
}

struct QueryDataMethod(Services);

impl tonic::server::UnaryService<pluginv2::QueryDataRequest> for QueryDataMethod {
    type Response = proto::QueryDataResponse;
    type Future = BoxFuture<Response<Self::Response>, Status>;

    fn call(&mut self, request: Request<pluginv2::QueryDataRequest>) -> Self::Future {
        let services = self.0.clone();
        Box::pin(async move {
            Ok(Response::new(
                services.query_data(request.into_inner()).await,
            ))
        })
    }
}

impl<B> Service<http::Request<B>> for DataService
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
        let services = self.0.clone();
        match req.uri().path() {
            "/pluginv2.Data/QueryData" => Box::pin(async move {
                let codec = tonic::codec::ProstCodec::default();
                let mut grpc = tonic::server::Grpc::new(codec)
                    .apply_max_message_size_config(Some(64 << 20), Some(usize::MAX));
                Ok(grpc.unary(QueryDataMethod(services), req).await)
            }),
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
        let health = service::check_health(self.instance(req.plugin_context.as_ref())).await;
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

    async fn collect_metrics(
        &self,
        _request: Request<pluginv2::CollectMetricsRequest>,
    ) -> Result<Response<pluginv2::CollectMetricsResponse>, Status> {
        Ok(Response::new(pluginv2::CollectMetricsResponse {
            metrics: None,
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
        let reply = resources::handle(instance, &req.method, &req.path, &req.url, &req.body).await;
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
