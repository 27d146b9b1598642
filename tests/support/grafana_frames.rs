//! Decodes a frame the way Grafana's server does (`data.UnmarshalArrowFrame`) and fails on every
//! contract defect: not an Arrow IPC file, schema `meta` that is not a FrameMeta object, field
//! types Grafana cannot decode, label metadata that is not a string map, nulls in a non-nullable
//! field (Grafana would silently turn them into zeros), JSON fields holding invalid JSON.
//! Values come back as JSON for easy assertions: times as nanoseconds, JSON fields parsed.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Cursor;

use arrow_array::{Array, cast::AsArray, types::*};
use arrow_ipc::reader::FileReader;
use arrow_schema::DataType;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Frame {
    pub name: String,
    pub ref_id: String,
    pub meta: Value,
    pub fields: Vec<FieldData>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Number,
    String,
    Time,
    Bool,
    Json,
}

#[derive(Debug, Clone)]
pub struct FieldData {
    pub name: String,
    pub kind: Kind,
    pub arrow: DataType,
    pub nullable: bool,
    pub labels: BTreeMap<String, String>,
    pub config: Option<Value>,
    pub values: Vec<Value>,
}

impl Frame {
    pub fn field(&self, name: &str) -> &FieldData {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| {
                panic!(
                    "no field {name:?} in {:?}",
                    self.fields.iter().map(|f| &f.name).collect::<Vec<_>>()
                )
            })
    }

    pub fn rows(&self) -> usize {
        self.fields.first().map_or(0, |f| f.values.len())
    }

    pub fn executed_sql(&self) -> &str {
        self.meta["executedQueryString"].as_str().unwrap_or("")
    }
}

pub fn decode_frame(bytes: &[u8]) -> Result<Frame, String> {
    if !bytes.starts_with(b"ARROW1") {
        return Err("not an Arrow IPC file (magic ARROW1 missing)".into());
    }
    let reader = FileReader::try_new(Cursor::new(bytes.to_vec()), None)
        .map_err(|e| format!("IPC file: {e}"))?;
    let schema = reader.schema();
    let md = schema.metadata();
    let meta = match md.get("meta") {
        None => Value::Null,
        Some(s) if s.is_empty() => Value::Null,
        Some(s) => {
            let v: Value = serde_json::from_str(s).map_err(|e| format!("meta is not JSON: {e}"))?;
            if !v.is_object() {
                return Err(format!("meta must be an object, got {v}"));
            }
            if let Some(t) = v.get("typeVersion") {
                let ok = t
                    .as_array()
                    .is_some_and(|a| a.len() == 2 && a.iter().all(|x| x.as_u64().is_some()));
                if !ok {
                    return Err(format!("typeVersion must be [major, minor], got {t}"));
                }
            }
            if let Some(n) = v.get("notices") {
                for notice in n.as_array().ok_or("notices must be a list")? {
                    let sev = notice["severity"].as_str().unwrap_or("");
                    if !["info", "warning", "error"].contains(&sev)
                        || notice["text"].as_str().is_none()
                    {
                        return Err(format!("bad notice {notice}"));
                    }
                }
            }
            v
        }
    };
    let mut fields = Vec::new();
    for f in schema.fields() {
        let kind = match f.data_type() {
            DataType::Utf8 | DataType::Utf8View => Kind::String,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64 => Kind::Number,
            DataType::Boolean => Kind::Bool,
            DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, _) => Kind::Time,
            DataType::Timestamp(unit, _) => {
                return Err(format!(
                    "field {:?} is a {unit:?} timestamp: Grafana reads raw values as nanoseconds",
                    f.name()
                ));
            }
            DataType::Binary => Kind::Json,
            other => {
                return Err(format!(
                    "field {:?} has Arrow type {other}, which Grafana cannot decode",
                    f.name()
                ));
            }
        };
        let labels = match f.metadata().get("labels") {
            None => BTreeMap::new(),
            Some(s) => serde_json::from_str::<BTreeMap<String, String>>(s)
                .map_err(|e| format!("field {:?} labels: {e}", f.name()))?,
        };
        let config = match f.metadata().get("config") {
            None => None,
            Some(s) => {
                let v: Value = serde_json::from_str(s)
                    .map_err(|e| format!("field {:?} config: {e}", f.name()))?;
                if !v.is_object() {
                    return Err(format!("field {:?} config must be an object", f.name()));
                }
                Some(v)
            }
        };
        fields.push(FieldData {
            name: f.name().clone(),
            kind,
            arrow: f.data_type().clone(),
            nullable: f.is_nullable(),
            labels,
            config,
            values: Vec::new(),
        });
    }
    for batch in reader {
        let batch = batch.map_err(|e| format!("record batch: {e}"))?;
        for (i, col) in batch.columns().iter().enumerate() {
            let field = &mut fields[i];
            if !field.nullable && col.null_count() > 0 {
                return Err(format!(
                    "field {:?} is not nullable but holds {} nulls",
                    field.name,
                    col.null_count()
                ));
            }
            for row in 0..col.len() {
                field.values.push(
                    value(col.as_ref(), row)
                        .map_err(|e| format!("field {:?} row {row}: {e}", field.name))?,
                );
            }
        }
    }
    Ok(Frame {
        name: md.get("name").cloned().unwrap_or_default(),
        ref_id: md.get("refId").cloned().unwrap_or_default(),
        meta,
        fields,
    })
}

fn value(col: &dyn Array, row: usize) -> Result<Value, String> {
    if col.is_null(row) {
        return Ok(Value::Null);
    }
    Ok(match col.data_type() {
        DataType::Utf8 => json!(col.as_string::<i32>().value(row)),
        DataType::Utf8View => json!(col.as_string_view().value(row)),
        DataType::Int8 => json!(col.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => json!(col.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => json!(col.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => json!(col.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => json!(col.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => json!(col.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => json!(col.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => json!(col.as_primitive::<UInt64Type>().value(row)),
        DataType::Float32 => json!(col.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => json!(col.as_primitive::<Float64Type>().value(row)),
        DataType::Boolean => json!(col.as_boolean().value(row)),
        // Grafana reads every timestamp's raw value as nanoseconds, whatever the unit says.
        DataType::Timestamp(_, _) => {
            json!(col.as_primitive::<TimestampNanosecondType>().value(row))
        }
        DataType::Binary => {
            let bytes = col.as_binary::<i32>().value(row);
            serde_json::from_slice(bytes)
                .map_err(|e| format!("invalid JSON {:?}: {e}", String::from_utf8_lossy(bytes)))?
        }
        other => return Err(format!("undecodable type {other}")),
    })
}
