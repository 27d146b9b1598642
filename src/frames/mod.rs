//! Grafana data frames, written directly as Arrow IPC files.
//!
//! Grafana's server decodes each frame of a `DataResponse` as an Arrow IPC *file* whose schema
//! metadata carries `name`, `refId` and `meta` (FrameMeta JSON) and whose field metadata carries
//! `labels` and `config`. One undecodable frame fails the whole response, so this module owns the
//! whole contract: [`normalize`] maps ClickHouse's Arrow columns to types Grafana decodes,
//! [`FrameWriter`] writes batches into the IPC file with the metadata, and [`FrameMeta`] is the
//! typed meta object. The SDK's arrow2 frames are not used: writing arrow-rs directly is ~20×
//! faster and has none of its metadata bugs (see the README's design notes).

pub(crate) mod json;
pub mod logs;
pub(crate) mod normalize;
pub(crate) mod scalar;
pub mod timeseries;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_ipc::writer::FileWriter;
use arrow_schema::{ArrowError, Field, Schema, SchemaRef};
use bytes::Bytes;
use serde::Serialize;

/// Why a result could not become a frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A column type Grafana cannot represent.
    #[error(
        "column `{column}` has type {ch_type} (Arrow {arrow_type}), which Lantern cannot show; convert it in SQL, e.g. toString({column})"
    )]
    Unsupported {
        /// Column name.
        column: String,
        /// ClickHouse type.
        ch_type: String,
        /// Arrow type ClickHouse sent.
        arrow_type: String,
    },
    /// A time value outside what Grafana's nanosecond time fields hold.
    #[error(
        "column `{column}` ({ch_type}) holds {value}, outside the years 1677–2262 that Grafana time fields can hold; convert it in SQL, e.g. toString({column})"
    )]
    OutOfRange {
        /// Column name.
        column: String,
        /// ClickHouse type.
        ch_type: String,
        /// The offending value as text.
        value: String,
    },
    /// Arrow failed while converting a column.
    #[error("cannot convert column `{column}`")]
    Arrow {
        /// Column name.
        column: String,
        /// The Arrow error.
        #[source]
        source: ArrowError,
    },
    /// Rows that cannot become time series.
    #[error(transparent)]
    Shape(timeseries::ShapeError),
    /// Arrow failed while writing the frame.
    #[error("cannot write the frame")]
    Write(#[source] ArrowError),
}

/// A frame notice (shown above panels and in the query inspector).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Notice {
    /// `info`, `warning` or `error`.
    pub severity: &'static str,
    /// The text.
    pub text: String,
}

/// Grafana's FrameMeta: only the keys this plugin sets.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FrameMeta {
    /// Data-plane frame type (`timeseries-multi`, `log-lines`, …).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub frame_type: Option<&'static str>,
    /// Data-plane type version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_version: Option<[u32; 2]>,
    /// The SQL that ran (Query inspector).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executed_query_string: Option<String>,
    /// `table`, `graph`, `logs`, `trace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_visualisation_type: Option<&'static str>,
    /// Notices.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Notice>,
    /// Plugin-specific data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<serde_json::Value>,
}

/// Per-field metadata: labels and field config.
#[derive(Clone, Debug, Default)]
pub struct FieldMeta {
    /// Series labels.
    pub labels: BTreeMap<String, String>,
    /// FieldConfig JSON object (`displayNameFromDS`, `unit`, `links`, …).
    pub config: Option<serde_json::Value>,
}

/// Builds the Arrow schema Grafana expects: frame metadata on the schema, field metadata on
/// the fields.
pub fn grafana_schema(
    name: &str,
    ref_id: &str,
    meta: &FrameMeta,
    fields: Vec<(Field, FieldMeta)>,
) -> SchemaRef {
    let fields: Vec<Field> = fields
        .into_iter()
        .map(|(f, m)| {
            let mut md: HashMap<String, String> = HashMap::new();
            if !m.labels.is_empty() {
                md.insert(
                    "labels".into(),
                    serde_json::to_string(&m.labels).unwrap_or_default(),
                );
            }
            if let Some(config) = m.config {
                md.insert("config".into(), config.to_string());
            }
            f.with_metadata(md)
        })
        .collect();
    let mut md = HashMap::new();
    md.insert("name".to_owned(), name.to_owned());
    md.insert("refId".to_owned(), ref_id.to_owned());
    md.insert(
        "meta".to_owned(),
        serde_json::to_string(meta).unwrap_or_else(|_| "{}".into()),
    );
    Arc::new(Schema::new_with_metadata(fields, md))
}

/// One encoded frame: an Arrow IPC file held as a list of chunks.
///
/// A frame of a large result is tens of megabytes. Written into one growing `Vec`, every doubling
/// copies what was written and faults in fresh pages; chunks never move once written, and the
/// gRPC layer sends them as they are (`grpc::proto::encode_query_data`), so the bytes are copied
/// once, by the IPC writer, on their way to the socket.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Frame {
    /// The frame's size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a frame of no bytes (never produced by [`FrameWriter`]).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }

    /// The frame as one contiguous buffer (tests and small frames).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for c in &self.chunks {
            out.extend_from_slice(c);
        }
        out
    }
}

impl From<Vec<u8>> for Frame {
    fn from(v: Vec<u8>) -> Frame {
        Frame {
            len: v.len(),
            chunks: vec![Bytes::from(v)],
        }
    }
}

/// The IPC writer's sink: fills fixed-capacity chunks, doubling the next chunk's capacity up to
/// [`ChunkSink::MAX_CHUNK`], so nothing written is ever moved.
struct ChunkSink {
    done: Vec<Bytes>,
    current: Vec<u8>,
    len: usize,
}

impl ChunkSink {
    const FIRST_CHUNK: usize = 64 * 1024;
    const MAX_CHUNK: usize = 4 * 1024 * 1024;

    fn new() -> ChunkSink {
        ChunkSink {
            done: Vec::new(),
            current: Vec::with_capacity(Self::FIRST_CHUNK),
            len: 0,
        }
    }

    fn into_frame(mut self) -> Frame {
        if !self.current.is_empty() {
            self.done.push(Bytes::from(self.current));
        }
        Frame {
            chunks: self.done,
            len: self.len,
        }
    }
}

impl std::io::Write for ChunkSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut room = self.current.capacity() - self.current.len();
        if room == 0 {
            let next = (self.current.capacity() * 2).min(Self::MAX_CHUNK);
            let full = std::mem::replace(&mut self.current, Vec::with_capacity(next));
            self.done.push(Bytes::from(full));
            room = next;
        }
        let n = room.min(buf.len());
        self.current.extend_from_slice(&buf[..n]);
        self.len += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes record batches of one frame into an Arrow IPC file in memory.
pub struct FrameWriter {
    writer: FileWriter<ChunkSink>,
    schema: SchemaRef,
}

impl FrameWriter {
    /// Starts a frame with `schema` (from [`grafana_schema`]).
    pub fn new(schema: SchemaRef) -> Result<FrameWriter, FrameError> {
        let writer = FileWriter::try_new(ChunkSink::new(), &schema).map_err(FrameError::Write)?;
        Ok(FrameWriter { writer, schema })
    }

    /// The frame's schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Appends columns (already Grafana-typed, in schema order).
    pub fn write(&mut self, columns: Vec<ArrayRef>) -> Result<(), FrameError> {
        let batch =
            RecordBatch::try_new(self.schema.clone(), columns).map_err(FrameError::Write)?;
        self.writer.write(&batch).map_err(FrameError::Write)
    }

    /// Finishes the file and returns it.
    pub fn finish(mut self) -> Result<Frame, FrameError> {
        self.writer.finish().map_err(FrameError::Write)?;
        Ok(self
            .writer
            .into_inner()
            .map_err(FrameError::Write)?
            .into_frame())
    }
}

/// Encodes a whole frame from columns in one go.
pub fn encode(
    name: &str,
    ref_id: &str,
    meta: &FrameMeta,
    fields: Vec<(Field, FieldMeta)>,
    columns: Vec<ArrayRef>,
) -> Result<Frame, FrameError> {
    let schema = grafana_schema(name, ref_id, meta, fields);
    let mut w = FrameWriter::new(schema)?;
    // A frame without fields (no data) has no record batch.
    if !columns.is_empty() {
        w.write(columns)?;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, TimestampNanosecondArray};
    use arrow_ipc::reader::FileReader;
    use arrow_schema::{DataType, TimeUnit};

    #[test]
    fn frame_round_trips_with_grafana_metadata() {
        let meta = FrameMeta {
            frame_type: Some("timeseries-multi"),
            type_version: Some([0, 1]),
            executed_query_string: Some("SELECT 1".into()),
            ..Default::default()
        };
        let mut labels = BTreeMap::new();
        labels.insert("service".to_owned(), "api".to_owned());
        let bytes = encode(
            "A",
            "A",
            &meta,
            vec![
                (
                    Field::new(
                        "time",
                        DataType::Timestamp(TimeUnit::Nanosecond, None),
                        false,
                    ),
                    FieldMeta::default(),
                ),
                (
                    Field::new("value", DataType::Float64, true),
                    FieldMeta {
                        labels,
                        config: None,
                    },
                ),
            ],
            vec![
                Arc::new(TimestampNanosecondArray::from(vec![1, 2])),
                Arc::new(Float64Array::from(vec![Some(1.0), None])),
            ],
        )
        .unwrap()
        .to_vec();
        assert_eq!(&bytes[..6], b"ARROW1");
        let reader = FileReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        let schema = reader.schema();
        assert_eq!(schema.metadata()["refId"], "A");
        let meta: serde_json::Value = serde_json::from_str(&schema.metadata()["meta"]).unwrap();
        assert_eq!(meta["type"], "timeseries-multi");
        assert_eq!(meta["typeVersion"], serde_json::json!([0, 1]));
        assert_eq!(meta["executedQueryString"], "SELECT 1");
        assert_eq!(schema.field(1).metadata()["labels"], r#"{"service":"api"}"#);
        assert!(!schema.field(0).is_nullable());
        let batches: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(batches[0].num_rows(), 2);
    }

    #[test]
    fn chunks_never_move_and_concatenate_to_the_written_bytes() {
        use std::io::Write;
        let mut sink = ChunkSink::new();
        let mut expected = Vec::new();
        for i in 0..200u32 {
            let piece: Vec<u8> = (0..(i * 997) % 70_000).map(|b| (b ^ i) as u8).collect();
            sink.write_all(&piece).unwrap();
            expected.extend_from_slice(&piece);
        }
        let frame = sink.into_frame();
        assert!(frame.chunks().len() > 1);
        assert!(
            frame
                .chunks()
                .iter()
                .all(|c| c.len() <= ChunkSink::MAX_CHUNK)
        );
        assert_eq!(frame.len(), expected.len());
        assert_eq!(frame.to_vec(), expected);
    }

    #[test]
    fn a_frame_without_fields_is_valid() {
        let bytes = encode("", "A", &FrameMeta::default(), vec![], vec![])
            .unwrap()
            .to_vec();
        let reader = FileReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        assert!(reader.schema().fields().is_empty());
        assert_eq!(reader.count(), 0);
    }
}
