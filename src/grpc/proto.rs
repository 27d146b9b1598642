//! Protocol messages the SDK's vendored proto lacks.
//!
//! `grafana-plugin-sdk` 0.5 vendors an old `backend.proto` whose `DataResponse` has no
//! `errorSource` (field 5), so Grafana could not tell our bugs from the user's, and whose
//! `PluginContext` has no `grafanaConfig` (field 6), where Grafana sends its SQL row limit. These
//! hand-written prost messages are wire-compatible supersets of the SDK's
//! `QueryDataResponse`/`DataResponse` and `QueryDataRequest`/`PluginContext` (same field numbers,
//! plus the missing fields; nested messages are the SDK's); the other requests keep using the
//! SDK's types.
//!
//! The server does not encode responses through prost: [`encode_query_data`] writes the same
//! wire bytes by hand as a list of segments in which the frames' chunks pass through uncopied.
//! A 20 MB logs frame encoded by prost into tonic's buffer was copied twice more (into the
//! message, and again each time the buffer doubled) and faulted in the pages each time.
//! The derived messages below stay the wire definition: clients decode with them, and the tests
//! check that both encodings decode to the same message.

use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use grafana_plugin_sdk::pluginv2;

use crate::frames::Frame;

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

/// `pluginv2.PluginContext` with `grafanaConfig`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginContext {
    /// Organisation id.
    #[prost(int64, tag = "1")]
    pub org_id: i64,
    /// Plugin id.
    #[prost(string, tag = "2")]
    pub plugin_id: String,
    /// The user (absent for requests Grafana makes itself, e.g. alerting).
    #[prost(message, optional, tag = "3")]
    pub user: Option<pluginv2::User>,
    /// App instance settings (unused by a datasource).
    #[prost(message, optional, tag = "4")]
    pub app_instance_settings: Option<pluginv2::AppInstanceSettings>,
    /// The datasource's settings.
    #[prost(message, optional, tag = "5")]
    pub data_source_instance_settings: Option<pluginv2::DataSourceInstanceSettings>,
    /// Grafana's configuration for plugins (`GF_SQL_ROW_LIMIT`, …).
    #[prost(map = "string, string", tag = "6")]
    pub grafana_config: HashMap<String, String>,
}

/// Grafana's SQL row limit in a request's config (`GF_SQL_ROW_LIMIT`).
pub(crate) const SQL_ROW_LIMIT: &str = "GF_SQL_ROW_LIMIT";

impl PluginContext {
    /// Grafana's SQL row limit, when the request carries a positive one (Grafana treats zero
    /// and negative values as no limit).
    pub(crate) fn row_limit(&self) -> Option<u64> {
        let text = self.grafana_config.get(SQL_ROW_LIMIT)?;
        match text.trim().parse::<i64>() {
            Ok(n) if n > 0 => Some(n as u64),
            Ok(_) => None,
            Err(_) => {
                tracing::warn!(value = %text, "ignoring Grafana's {SQL_ROW_LIMIT}: not a whole number");
                None
            }
        }
    }
}

/// `pluginv2.QueryDataRequest` whose plugin context has `grafanaConfig`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryDataRequest {
    /// Who asks, and the datasource.
    #[prost(message, optional, tag = "1")]
    pub plugin_context: Option<PluginContext>,
    /// Request headers (forwarded HTTP headers as `http_<Name>`).
    #[prost(map = "string, string", tag = "2")]
    pub headers: HashMap<String, String>,
    /// The queries.
    #[prost(message, repeated, tag = "3")]
    pub queries: Vec<pluginv2::DataQuery>,
}

/// One query's answer as the service produces it: frames, or an error with its status and source.
#[derive(Clone, Debug, Default)]
pub(crate) struct Answer {
    /// Frames (empty on error).
    pub(crate) frames: Vec<Frame>,
    /// Error text ("" when none).
    pub(crate) error: String,
    /// HTTP-like status.
    pub(crate) status: i32,
    /// `"plugin"`, `"downstream"` or "".
    pub(crate) error_source: String,
}

const WIRE_VARINT: u8 = 0;
const WIRE_LEN: u8 = 2;

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

fn put_key(buf: &mut BytesMut, field: u8, wire: u8) {
    buf.put_u8((field << 3) | wire);
}

/// Size of a length-delimited field of `len` bytes (one-byte key).
fn delimited_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

/// An int32 as protobuf encodes it (negative values sign-extend to ten bytes).
fn int32_wire(v: i32) -> u64 {
    v as i64 as u64
}

fn answer_len(a: &Answer) -> usize {
    let mut n: usize = a.frames.iter().map(|f| delimited_len(f.len())).sum();
    if !a.error.is_empty() {
        n += delimited_len(a.error.len());
    }
    if a.status != 0 {
        n += 1 + varint_len(int32_wire(a.status));
    }
    if !a.error_source.is_empty() {
        n += delimited_len(a.error_source.len());
    }
    n
}

/// Encodes a `QueryDataResponse` holding `answers` as one gRPC length-prefixed message, as
/// segments to send in order: small headers from one buffer, frame chunks as they are.
pub(crate) fn encode_query_data(answers: &[(String, Answer)]) -> Vec<Bytes> {
    let sizes: Vec<(usize, usize)> = answers
        .iter()
        .map(|(ref_id, a)| {
            let value = answer_len(a);
            (value, delimited_len(ref_id.len()) + delimited_len(value))
        })
        .collect();
    let total: usize = sizes.iter().map(|&(_, entry)| delimited_len(entry)).sum();
    let mut head = BytesMut::with_capacity(64 + answers.len() * 64);
    let mut out = Vec::new();
    // gRPC message prefix: not compressed, big-endian length.
    head.put_u8(0);
    head.put_u32(total as u32);
    for ((ref_id, a), &(value, entry)) in answers.iter().zip(&sizes) {
        // responses: map<string, DataResponse> = 1, each entry {key = 1, value = 2}.
        put_key(&mut head, 1, WIRE_LEN);
        put_varint(&mut head, entry as u64);
        put_key(&mut head, 1, WIRE_LEN);
        put_varint(&mut head, ref_id.len() as u64);
        head.put_slice(ref_id.as_bytes());
        put_key(&mut head, 2, WIRE_LEN);
        put_varint(&mut head, value as u64);
        for frame in &a.frames {
            put_key(&mut head, 1, WIRE_LEN);
            put_varint(&mut head, frame.len() as u64);
            out.push(head.split().freeze());
            out.extend(frame.chunks().iter().cloned());
        }
        if !a.error.is_empty() {
            put_key(&mut head, 2, WIRE_LEN);
            put_varint(&mut head, a.error.len() as u64);
            head.put_slice(a.error.as_bytes());
        }
        if a.status != 0 {
            put_key(&mut head, 4, WIRE_VARINT);
            put_varint(&mut head, int32_wire(a.status));
        }
        if !a.error_source.is_empty() {
            put_key(&mut head, 5, WIRE_LEN);
            put_varint(&mut head, a.error_source.len() as u64);
            head.put_slice(a.error_source.as_bytes());
        }
    }
    if !head.is_empty() {
        out.push(head.freeze());
    }
    out.retain(|b| !b.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn frame(len: usize, seed: u8) -> Frame {
        Frame::from(
            (0..len)
                .map(|i| (i as u8).wrapping_mul(seed))
                .collect::<Vec<u8>>(),
        )
    }

    #[test]
    fn hand_encoding_decodes_like_the_derived_message() {
        let answers = vec![
            (
                "A".to_owned(),
                Answer {
                    frames: vec![frame(300, 7), frame(0, 1), frame(70_000, 3)],
                    status: 200,
                    ..Default::default()
                },
            ),
            (
                "B-ünïcode".to_owned(),
                Answer {
                    error: "ClickHouse error 62 (SYNTAX_ERROR): …".into(),
                    status: 400,
                    error_source: "downstream".into(),
                    ..Default::default()
                },
            ),
            ("".to_owned(), Answer::default()),
            (
                "neg".to_owned(),
                Answer {
                    status: -1,
                    ..Default::default()
                },
            ),
        ];
        let wire: Vec<u8> = encode_query_data(&answers).concat();
        assert_eq!(wire[0], 0, "not compressed");
        let len = u32::from_be_bytes([wire[1], wire[2], wire[3], wire[4]]) as usize;
        assert_eq!(len, wire.len() - 5);
        let decoded = QueryDataResponse::decode(&wire[5..]).unwrap();
        let expected = QueryDataResponse {
            responses: answers
                .iter()
                .map(|(k, a)| {
                    (
                        k.clone(),
                        DataResponse {
                            frames: a.frames.iter().map(Frame::to_vec).collect(),
                            error: a.error.clone(),
                            json_meta: vec![],
                            status: a.status,
                            error_source: a.error_source.clone(),
                        },
                    )
                })
                .collect(),
        };
        assert_eq!(decoded, expected);
    }

    /// The superset request reads everything the SDK's message holds, plus `grafanaConfig`;
    /// the SDK's message reads the superset's bytes too (Grafana versions without the field).
    #[test]
    fn query_data_request_is_a_superset_of_the_sdks() {
        let sdk = pluginv2::QueryDataRequest {
            plugin_context: Some(pluginv2::PluginContext {
                org_id: 3,
                plugin_id: "p".into(),
                user: Some(pluginv2::User {
                    login: "alice".into(),
                    ..Default::default()
                }),
                app_instance_settings: None,
                data_source_instance_settings: Some(pluginv2::DataSourceInstanceSettings {
                    uid: "ds".into(),
                    json_data: b"{}".to_vec(),
                    ..Default::default()
                }),
            }),
            headers: [("http_X-Panel-Id".to_owned(), "4".to_owned())].into(),
            queries: vec![pluginv2::DataQuery {
                ref_id: "A".into(),
                json: b"{}".to_vec(),
                ..Default::default()
            }],
        };
        let ours = QueryDataRequest::decode(sdk.encode_to_vec().as_slice()).unwrap();
        let ctx = ours.plugin_context.as_ref().unwrap();
        assert_eq!(ctx.org_id, 3);
        assert_eq!(ctx.user.as_ref().unwrap().login, "alice");
        assert_eq!(
            ctx.data_source_instance_settings.as_ref().unwrap().uid,
            "ds"
        );
        assert_eq!(ours.headers, sdk.headers);
        assert_eq!(ours.queries, sdk.queries);
        assert_eq!(ctx.row_limit(), None);

        let mut with_config = ours.clone();
        let ctx = with_config.plugin_context.as_mut().unwrap();
        ctx.grafana_config
            .insert(SQL_ROW_LIMIT.into(), "500".into());
        assert_eq!(ctx.row_limit(), Some(500));
        let back = pluginv2::QueryDataRequest::decode(with_config.encode_to_vec().as_slice());
        assert_eq!(back.unwrap(), sdk);
        for (text, limit) in [("0", None), ("-1", None), ("x", None), (" 25 ", Some(25))] {
            ctx_limit(text, limit);
        }
    }

    fn ctx_limit(text: &str, want: Option<u64>) {
        let ctx = PluginContext {
            grafana_config: [(SQL_ROW_LIMIT.to_owned(), text.to_owned())].into(),
            ..Default::default()
        };
        assert_eq!(ctx.row_limit(), want, "{text:?}");
    }

    #[test]
    fn frame_chunks_are_passed_through_not_copied() {
        let f = frame(1 << 20, 5);
        let chunk_ptr = f.chunks()[0].as_ptr();
        let segments = encode_query_data(&[(
            "A".to_owned(),
            Answer {
                frames: vec![f],
                status: 200,
                ..Default::default()
            },
        )]);
        assert!(segments.iter().any(|s| s.as_ptr() == chunk_ptr));
    }
}
