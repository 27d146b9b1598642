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
use arrow_buffer::Buffer;
use arrow_ipc::MetadataVersion;
use arrow_ipc::convert::IpcSchemaEncoder;
use arrow_ipc::writer::{IpcWriteOptions, StreamEncoder};
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
/// A frame of a large result is tens of megabytes. Its large chunks are the result's own Arrow
/// buffers, shared rather than copied; the gRPC layer sends the chunks as they are
/// (`grpc::proto::encode_query_data`), so column data is copied once, into the socket.
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

/// A frame's chunks as they are appended: large Arrow buffers are shared as they are, small
/// pieces (message headers, padding, short columns) are gathered into one chunk, so the gRPC
/// layer sends few, large segments.
#[derive(Default)]
struct Chunks {
    chunks: Vec<Bytes>,
    small: Vec<u8>,
    len: usize,
}

impl Chunks {
    /// Pieces shorter than this are copied into a gathered chunk.
    const SMALL: usize = 64 * 1024;

    fn push_slice(&mut self, bytes: &[u8]) {
        self.small.extend_from_slice(bytes);
        self.len += bytes.len();
        if self.small.len() >= Self::SMALL {
            self.flush_small();
        }
    }

    fn push_buffer(&mut self, buffer: Buffer) {
        if buffer.len() < Self::SMALL {
            return self.push_slice(&buffer);
        }
        self.flush_small();
        self.len += buffer.len();
        self.chunks.push(Bytes::from_owner(buffer));
    }

    fn flush_small(&mut self) {
        if !self.small.is_empty() {
            self.chunks
                .push(Bytes::from(std::mem::take(&mut self.small)));
        }
    }

    fn into_frame(mut self) -> Frame {
        self.flush_small();
        Frame {
            chunks: self.chunks,
            len: self.len,
        }
    }
}

/// Writes record batches of one frame as an Arrow IPC file in memory.
///
/// The messages come from arrow-ipc's `StreamEncoder`, which hands back the batches' own buffers
/// instead of copying them into a writer; this type adds what makes the stream a file Grafana
/// reads: the `ARROW1` header, a block per record batch, and the footer (schema, blocks, magic),
/// laid out as arrow-ipc's `FileWriter` lays them out.
pub struct FrameWriter {
    encoder: StreamEncoder,
    schema: SchemaRef,
    chunks: Chunks,
    blocks: Vec<arrow_ipc::Block>,
    /// Whether the schema message has been emitted (by the first `encode`).
    schema_written: bool,
}

/// Arrow IPC file alignment (arrow-ipc's default write options).
const ALIGNMENT: usize = 64;

impl FrameWriter {
    /// Starts a frame with `schema` (from [`grafana_schema`]).
    pub fn new(schema: SchemaRef) -> Result<FrameWriter, FrameError> {
        let options = IpcWriteOptions::try_new(ALIGNMENT, false, MetadataVersion::V5)
            .map_err(FrameError::Write)?;
        let encoder =
            StreamEncoder::try_new_with_options(&schema, options).map_err(FrameError::Write)?;
        let mut chunks = Chunks::default();
        chunks.push_slice(b"ARROW1");
        chunks.push_slice(&[0; ALIGNMENT - 6]);
        Ok(FrameWriter {
            encoder,
            schema,
            chunks,
            blocks: Vec::new(),
            schema_written: false,
        })
    }

    /// Appends columns (already Grafana-typed, in schema order).
    pub fn write(&mut self, columns: Vec<ArrayRef>) -> Result<(), FrameError> {
        let batch =
            RecordBatch::try_new(self.schema.clone(), columns).map_err(FrameError::Write)?;
        let buffers = self.encoder.encode(&batch).map_err(FrameError::Write)?;
        let total: usize = buffers.iter().map(|b| b.len()).sum();
        // The first encode starts with the schema message (no body); the record batch message
        // follows. Frames hold no dictionary arrays, so there are no dictionary messages.
        let start = if self.schema_written {
            0
        } else {
            self.schema_written = true;
            message_header_len(&buffers, 0)?
        };
        let header = message_header_len(&buffers, start)?;
        let offset = self.chunks.len + start;
        self.blocks.push(arrow_ipc::Block::new(
            offset as i64,
            header as i32,
            (total - start - header) as i64,
        ));
        for b in buffers {
            self.chunks.push_buffer(b);
        }
        Ok(())
    }

    /// Replaces the frame's metadata (notices found while the result streamed in, such as a cap
    /// that cut it). The footer carries it: Grafana (Go arrow's `ipc.FileReader`) and arrow-rs's
    /// `FileReader` read a file's schema from its footer, not from the stream's first message.
    pub fn set_meta(&mut self, meta: &FrameMeta) {
        let mut md = self.schema.metadata().clone();
        md.insert(
            "meta".to_owned(),
            serde_json::to_string(meta).unwrap_or_else(|_| "{}".into()),
        );
        self.schema = Arc::new(self.schema.as_ref().clone().with_metadata(md));
    }

    /// Finishes the file (end of stream, footer) and returns it.
    pub fn finish(self) -> Result<Frame, FrameError> {
        let FrameWriter {
            encoder,
            schema,
            mut chunks,
            blocks,
            ..
        } = self;
        // The schema message (when no batch was written) and the end-of-stream marker.
        for b in encoder.finish().map_err(FrameError::Write)? {
            chunks.push_buffer(b);
        }
        let mut fbb = flatbuffers::FlatBufferBuilder::new();
        let dictionaries = fbb.create_vector::<arrow_ipc::Block>(&[]);
        let record_batches = fbb.create_vector(&blocks);
        let fb_schema = IpcSchemaEncoder::new().schema_to_fb_offset(&mut fbb, &schema);
        let root = {
            let mut footer = arrow_ipc::FooterBuilder::new(&mut fbb);
            footer.add_version(MetadataVersion::V5);
            footer.add_schema(fb_schema);
            footer.add_dictionaries(dictionaries);
            footer.add_recordBatches(record_batches);
            footer.finish()
        };
        fbb.finish(root, None);
        let footer = fbb.finished_data();
        chunks.push_slice(footer);
        chunks.push_slice(&(footer.len() as i32).to_le_bytes());
        chunks.push_slice(b"ARROW1");
        Ok(chunks.into_frame())
    }
}

/// The length of the encapsulated message's header (continuation marker, metadata length and
/// padded metadata) that starts `at` bytes into `buffers`.
fn message_header_len(buffers: &[Buffer], at: usize) -> Result<usize, FrameError> {
    let mut prefix = [0u8; 8];
    let mut filled = 0;
    let mut pos = 0;
    for b in buffers {
        let (lo, hi) = (pos, pos + b.len());
        pos = hi;
        while filled < 8 && at + filled >= lo && at + filled < hi {
            prefix[filled] = b[at + filled - lo];
            filled += 1;
        }
        if filled == 8 {
            break;
        }
    }
    let continuation = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let metadata = i32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]]);
    if filled < 8 || continuation != 0xFFFF_FFFF || metadata < 0 {
        return Err(FrameError::Write(ArrowError::IpcError(
            "unexpected IPC message layout from the stream encoder".into(),
        )));
    }
    Ok(8 + metadata as usize)
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
    fn large_buffers_are_shared_and_small_pieces_gathered() {
        let big = Buffer::from_vec(vec![7u8; 200_000]);
        let ptr = big.as_ptr();
        let mut chunks = Chunks::default();
        chunks.push_slice(b"head");
        chunks.push_buffer(Buffer::from_vec(vec![1u8; 10]));
        chunks.push_buffer(big);
        chunks.push_slice(b"tail");
        let frame = chunks.into_frame();
        assert_eq!(frame.chunks().len(), 3);
        assert_eq!(frame.chunks()[1].as_ptr(), ptr, "not copied");
        assert_eq!(frame.len(), 4 + 10 + 200_000 + 4);
        let bytes = frame.to_vec();
        assert_eq!(&bytes[..4], b"head");
        assert_eq!(&bytes[bytes.len() - 4..], b"tail");
    }

    /// Many batches, sliced columns, large and small: the file reads back batch by batch with
    /// the same values, through arrow-ipc's reader, which checks every block of the footer.
    #[test]
    fn files_of_many_batches_read_back() {
        use arrow_array::{Array, StringArray};
        let schema = grafana_schema(
            "x",
            "A",
            &FrameMeta::default(),
            vec![
                (Field::new("s", DataType::Utf8, true), FieldMeta::default()),
                (
                    Field::new("n", DataType::Float64, false),
                    FieldMeta::default(),
                ),
            ],
        );
        let n = 300_000;
        let strings: ArrayRef = Arc::new(StringArray::from(
            (0..n)
                .map(|i| (i % 7 != 0).then(|| format!("line {i}")))
                .collect::<Vec<_>>(),
        ));
        let numbers: ArrayRef = Arc::new(Float64Array::from(
            (0..n).map(|i| i as f64).collect::<Vec<_>>(),
        ));
        let cuts = [0, 3, 65_536, 65_600, 200_000, n];
        let slices: Vec<Vec<ArrayRef>> = cuts
            .windows(2)
            .map(|c| {
                vec![
                    strings.slice(c[0], c[1] - c[0]),
                    numbers.slice(c[0], c[1] - c[0]),
                ]
            })
            .collect();
        let mut w = FrameWriter::new(schema.clone()).unwrap();
        for columns in &slices {
            w.write(columns.clone()).unwrap();
        }
        let bytes = w.finish().unwrap().to_vec();
        // Byte for byte what arrow-ipc's own FileWriter writes for the same batches.
        let mut reference = arrow_ipc::writer::FileWriter::try_new(Vec::new(), &schema).unwrap();
        for columns in &slices {
            let batch = RecordBatch::try_new(schema.clone(), columns.clone()).unwrap();
            reference.write(&batch).unwrap();
        }
        reference.finish().unwrap();
        assert!(reference.get_ref() == &bytes, "same bytes as FileWriter");
        let reader = FileReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        assert_eq!(reader.schema().metadata()["refId"], "A");
        let batches: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(batches.len(), cuts.len() - 1);
        let mut row = 0;
        for b in &batches {
            let s = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            let v = b.column(1).as_any().downcast_ref::<Float64Array>().unwrap();
            for i in 0..b.num_rows() {
                assert_eq!(s.is_null(i), row % 7 == 0);
                if !s.is_null(i) {
                    assert_eq!(s.value(i), format!("line {row}"));
                }
                assert_eq!(v.value(i), row as f64);
                row += 1;
            }
        }
        assert_eq!(row, n);
    }

    #[test]
    fn a_frame_without_fields_is_valid() {
        let bytes = encode("", "A", &FrameMeta::default(), vec![], vec![])
            .unwrap()
            .to_vec();
        let mut reference = arrow_ipc::writer::FileWriter::try_new(
            Vec::new(),
            &grafana_schema("", "A", &FrameMeta::default(), vec![]),
        )
        .unwrap();
        reference.finish().unwrap();
        assert!(reference.get_ref() == &bytes, "same bytes as FileWriter");
        let reader = FileReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        assert!(reader.schema().fields().is_empty());
        assert_eq!(reader.count(), 0);
    }
}
