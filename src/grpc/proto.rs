//! Protocol messages the SDK's vendored proto lacks.
//!
//! `grafana-plugin-sdk` 0.5 vendors an old `backend.proto` whose `DataResponse` has no
//! `errorSource` (field 5), so Grafana could not tell our bugs from the user's. These hand-written
//! prost messages are wire-compatible supersets of the SDK's `QueryDataResponse`/`DataResponse`
//! (same field numbers, plus `errorSource`); requests keep using the SDK's types.

use std::collections::HashMap;

/// `pluginv2.QueryDataResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryDataResponse {
    /// Responses by refId.
    #[prost(map = "string, message", tag = "1")]
    pub responses: HashMap<String, DataResponse>,
}

/// `pluginv2.DataResponse` with `errorSource`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataResponse {
    /// Arrow IPC files, one per frame.
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub frames: Vec<Vec<u8>>,
    /// Error text ("" when none).
    #[prost(string, tag = "2")]
    pub error: String,
    /// Unused by Grafana.
    #[prost(bytes = "vec", tag = "3")]
    pub json_meta: Vec<u8>,
    /// HTTP-like status.
    #[prost(int32, tag = "4")]
    pub status: i32,
    /// `"plugin"` or `"downstream"`.
    #[prost(string, tag = "5")]
    pub error_source: String,
}
