//! ClickHouse's Arrow columns → columns Grafana decodes.
//!
//! Grafana's server decodes only a few Arrow types (see the frame contract in the README):
//! integers, floats, booleans, `Utf8`, `Timestamp` (read as nanoseconds whatever the unit) and
//! `Binary` (read as JSON). ClickHouse's ArrowStream output uses many more, and several
//! ClickHouse types share one Arrow type. [`plan`] decides, once per result from the Arrow schema
//! and the ClickHouse type names, how each column converts; [`convert`] applies the plan to each
//! record batch as it streams in, so a result is never held twice.
//!
//! Mapping (the README's type table is generated from the same decisions):
//!
//! | ClickHouse | Grafana field |
//! |---|---|
//! | (U)Int8–64, Float32/64, Bool | same (UInt64 and Int64 exact) |
//! | Int128/256, UInt128/256 | string, exact decimal text |
//! | Decimal(P, S) | Float64; P > 15 adds a frame notice (rounding past 15 digits) |
//! | String, LowCardinality(String) | string |
//! | FixedString(N) | string (trailing zero bytes dropped, invalid UTF-8 replaced) |
//! | Enum8/16 | string: the name |
//! | Date, Date32, DateTime, DateTime64 | time (ns); DateTime64(9) exact; tz does not change the instant |
//! | UUID, IPv4, IPv6 | string |
//! | Time, Time64 | string `hh:mm:ss` |
//! | Array, Map, Tuple, Nested, JSON, Variant, Dynamic | JSON |
//! | Nullable(T) | nullable field of T's mapping |

use std::sync::Arc;

use arrow_array::builder::BinaryBuilder;
use arrow_array::{
    Array, ArrayRef, Float32Array, Float64Array, StringArray, TimestampNanosecondArray,
    cast::AsArray, types::*,
};
use arrow_schema::{DataType, Field, TimeUnit};

use crate::chtype::ChType;

use super::FrameError;
use super::json;
use super::scalar;

/// How one result column becomes a Grafana field.
#[derive(Clone, Debug)]
pub(crate) struct ColumnPlan {
    /// Column (field) name.
    pub(crate) name: String,
    /// The ClickHouse type (from DESCRIBE, or inferred from Arrow when DESCRIBE was not possible).
    pub(crate) ch: ChType,
    /// The Arrow type Grafana receives.
    pub(crate) out_type: DataType,
    /// Whether the field may hold nulls.
    pub(crate) nullable: bool,
    conv: Conv,
    /// A notice to show on the frame (precision warnings).
    pub(crate) notice: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Conv {
    Keep,
    SecondsToNs,
    DaysToNs,
    TimestampToNs(TimeUnit),
    DecimalToF64,
    Float16ToF32,
    BFloat16ToF32,
    Text,
    Json,
    JsonText,
    AllNull,
}

/// Plans the conversion of every column of a result.
///
/// `types` are the ClickHouse types by position (from `DESCRIBE`); `None` when unknown, in which
/// case the type is inferred from the Arrow type (`uint32` stays a number, 16 fixed bytes become
/// hex text).
pub(crate) fn plan(
    fields: &[Arc<Field>],
    types: Option<&[ChType]>,
) -> Result<Vec<ColumnPlan>, FrameError> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let ch = types
                .and_then(|t| t.get(i))
                .cloned()
                .unwrap_or_else(|| infer(f));
            plan_column(f, ch)
        })
        .collect()
}

fn infer(field: &Field) -> ChType {
    if field.extension_type_name() == Some("arrow.json") {
        return ChType::Json;
    }
    if field.extension_type_name() == Some("arrow.uuid") {
        return ChType::Uuid;
    }
    let t = match field.data_type() {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary => ChType::String,
        DataType::Date32 => ChType::Date32,
        DataType::Dictionary(_, v) => {
            return infer(&Field::new(
                field.name(),
                v.as_ref().clone(),
                field.is_nullable(),
            ));
        }
        _ => ChType::Other(field.data_type().to_string()),
    };
    if field.is_nullable() {
        ChType::Nullable(Box::new(t))
    } else {
        t
    }
}

fn plan_column(field: &Field, ch: ChType) -> Result<ColumnPlan, FrameError> {
    let dt = match field.data_type() {
        DataType::Dictionary(_, v) => v.as_ref(),
        dt => dt,
    };
    let base = ch.base().clone();
    let is_json_ext = field.extension_type_name() == Some("arrow.json");
    let mut notice = None;
    let conv = match (dt, &base) {
        (_, ChType::Json | ChType::Dynamic)
            if is_json_ext || matches!(dt, DataType::Utf8 | DataType::Binary) =>
        {
            Conv::JsonText
        }
        (DataType::Null, _) => Conv::AllNull,
        (DataType::Boolean, _) => Conv::Keep,
        (DataType::Int8 | DataType::Int16, ChType::Enum(_)) => Conv::Text,
        (DataType::UInt32, ChType::DateTime(_)) => Conv::SecondsToNs,
        (DataType::UInt32, ChType::Ipv4) => Conv::Text,
        (DataType::UInt16, ChType::Date) => Conv::DaysToNs,
        (
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float32
            | DataType::Float64,
            _,
        ) => Conv::Keep,
        (DataType::Float16, _) => Conv::Float16ToF32,
        (DataType::Date32, _) => Conv::DaysToNs,
        (DataType::Timestamp(unit, _), _) => Conv::TimestampToNs(*unit),
        (DataType::Decimal128(p, _) | DataType::Decimal256(p, _), _) => {
            if *p > 15 {
                notice = Some(format!(
                    "Column `{}` ({}) is shown as Float64: values with more than 15 significant digits are rounded. Use toString({}) for exact text.",
                    field.name(),
                    ch,
                    field.name()
                ));
            }
            Conv::DecimalToF64
        }
        (DataType::Binary | DataType::LargeBinary, ChType::BFloat16) => Conv::BFloat16ToF32,
        (DataType::Utf8, _) if is_json_ext => Conv::JsonText,
        (DataType::Utf8, _) => Conv::Keep,
        // Arrow binary is ClickHouse's fallback for types it has no Arrow type for
        // (AggregateFunction states…): only strings are text.
        (DataType::Binary | DataType::LargeBinary, ChType::Other(_)) => {
            return Err(FrameError::Unsupported {
                column: field.name().clone(),
                ch_type: ch.to_string(),
                arrow_type: dt.to_string(),
            });
        }
        (
            DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::FixedSizeBinary(_)
            | DataType::Time32(_)
            | DataType::Time64(_),
            _,
        ) => Conv::Text,
        (
            DataType::List(_)
            | DataType::LargeList(_)
            | DataType::FixedSizeList(_, _)
            | DataType::Map(_, _)
            | DataType::Struct(_)
            | DataType::Union(_, _),
            _,
        ) => Conv::Json,
        (other, _) => {
            return Err(FrameError::Unsupported {
                column: field.name().clone(),
                ch_type: ch.to_string(),
                arrow_type: other.to_string(),
            });
        }
    };
    let out_type = match conv {
        Conv::Keep => dt.clone(),
        Conv::SecondsToNs | Conv::DaysToNs | Conv::TimestampToNs(_) => {
            DataType::Timestamp(TimeUnit::Nanosecond, None)
        }
        Conv::DecimalToF64 => DataType::Float64,
        Conv::Float16ToF32 | Conv::BFloat16ToF32 => DataType::Float32,
        Conv::Text | Conv::AllNull => DataType::Utf8,
        Conv::Json | Conv::JsonText => DataType::Binary,
    };
    Ok(ColumnPlan {
        name: field.name().clone(),
        ch,
        out_type,
        nullable: field.is_nullable() || conv == Conv::AllNull,
        conv,
        notice,
    })
}

impl ColumnPlan {
    /// Keeps this column's Arrow data as ClickHouse sent it, for a shaping step that reads the
    /// raw structure (Altinity's `groupArr` arrays) and never sends the column itself.
    pub(crate) fn keep_raw(&mut self, data_type: DataType) {
        self.conv = Conv::Keep;
        self.out_type = data_type;
        self.notice = None;
    }

    /// The Grafana field for this column.
    pub(crate) fn field(&self) -> Field {
        Field::new(&self.name, self.out_type.clone(), self.nullable)
    }
}

/// Converts one column of one record batch by its plan.
pub(crate) fn convert(plan: &ColumnPlan, array: &ArrayRef) -> Result<ArrayRef, FrameError> {
    let array = match array.data_type() {
        DataType::Dictionary(_, _) => {
            let d = array.as_any_dictionary();
            arrow_select::take::take(d.values().as_ref(), d.keys(), None).map_err(|e| {
                FrameError::Arrow {
                    column: plan.name.clone(),
                    source: e,
                }
            })?
        }
        _ => array.clone(),
    };
    let n = array.len();
    let out: ArrayRef = match plan.conv {
        Conv::Keep => array,
        Conv::AllNull => Arc::new(StringArray::new_null(n)),
        Conv::SecondsToNs => {
            let a = array.as_primitive::<UInt32Type>();
            Arc::new(TimestampNanosecondArray::new(
                a.values()
                    .iter()
                    .map(|s| *s as i64 * 1_000_000_000)
                    .collect(),
                a.nulls().cloned(),
            ))
        }
        Conv::DaysToNs => {
            let days: Vec<i64> = match array.data_type() {
                DataType::UInt16 => array
                    .as_primitive::<UInt16Type>()
                    .values()
                    .iter()
                    .map(|d| *d as i64)
                    .collect(),
                _ => array
                    .as_primitive::<Date32Type>()
                    .values()
                    .iter()
                    .map(|d| *d as i64)
                    .collect(),
            };
            let mut ns = Vec::with_capacity(n);
            for (i, d) in days.iter().enumerate() {
                match d.checked_mul(86_400_000_000_000) {
                    Some(v) => ns.push(v),
                    None if array.is_null(i) => ns.push(0),
                    None => return Err(out_of_range(plan, scalar::format_date(*d))),
                }
            }
            Arc::new(TimestampNanosecondArray::new(
                ns.into(),
                array.nulls().cloned(),
            ))
        }
        Conv::TimestampToNs(unit) => {
            let (values, factor): (&[i64], i64) = match unit {
                TimeUnit::Second => (
                    array.as_primitive::<TimestampSecondType>().values(),
                    1_000_000_000,
                ),
                TimeUnit::Millisecond => (
                    array.as_primitive::<TimestampMillisecondType>().values(),
                    1_000_000,
                ),
                TimeUnit::Microsecond => (
                    array.as_primitive::<TimestampMicrosecondType>().values(),
                    1_000,
                ),
                TimeUnit::Nanosecond => {
                    (array.as_primitive::<TimestampNanosecondType>().values(), 1)
                }
            };
            if factor == 1 {
                Arc::new(TimestampNanosecondArray::new(
                    values.to_vec().into(),
                    array.nulls().cloned(),
                ))
            } else {
                let mut ns = Vec::with_capacity(n);
                for (i, v) in values.iter().enumerate() {
                    match v.checked_mul(factor) {
                        Some(x) => ns.push(x),
                        None if array.is_null(i) => ns.push(0),
                        None => {
                            return Err(out_of_range(
                                plan,
                                scalar::format_timestamp_ns_wide(*v as i128 * factor as i128, 0),
                            ));
                        }
                    }
                }
                Arc::new(TimestampNanosecondArray::new(
                    ns.into(),
                    array.nulls().cloned(),
                ))
            }
        }
        Conv::DecimalToF64 => {
            let values: Vec<f64> = match array.data_type() {
                DataType::Decimal128(_, s) => {
                    let div = 10f64.powi(*s as i32);
                    array
                        .as_primitive::<Decimal128Type>()
                        .values()
                        .iter()
                        .map(|v| *v as f64 / div)
                        .collect()
                }
                DataType::Decimal256(_, s) => {
                    let s = *s as u32;
                    array
                        .as_primitive::<Decimal256Type>()
                        .values()
                        .iter()
                        .map(|v| scalar::decimal256_string(*v, s).parse().unwrap_or(f64::NAN))
                        .collect()
                }
                _ => unreachable!("planned for decimals only"),
            };
            Arc::new(Float64Array::new(values.into(), array.nulls().cloned()))
        }
        Conv::Float16ToF32 => {
            let a = array.as_primitive::<Float16Type>();
            Arc::new(Float32Array::new(
                a.values().iter().map(|v| v.to_f32()).collect(),
                a.nulls().cloned(),
            ))
        }
        Conv::BFloat16ToF32 => {
            let a = array.as_binary::<i32>();
            let values: Vec<f32> = (0..n)
                .map(|i| {
                    let b = a.value(i);
                    if b.len() == 2 {
                        f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)
                    } else {
                        f32::NAN
                    }
                })
                .collect();
            Arc::new(Float32Array::new(values.into(), a.nulls().cloned()))
        }
        Conv::Text => Arc::new(to_text(&array, &plan.ch)),
        Conv::JsonText => {
            let mut builder = BinaryBuilder::with_capacity(n, n * 16);
            let mut buf = String::new();
            for i in 0..n {
                if array.is_null(i) {
                    builder.append_null();
                    continue;
                }
                match array.data_type() {
                    DataType::Utf8 => builder.append_value(array.as_string::<i32>().value(i)),
                    DataType::Binary => builder.append_value(array.as_binary::<i32>().value(i)),
                    _ => {
                        buf.clear();
                        json::write_value(&mut buf, array.as_ref(), &plan.ch, i);
                        builder.append_value(buf.as_bytes());
                    }
                }
            }
            Arc::new(builder.finish())
        }
        Conv::Json => {
            // One reused text buffer; values go straight into the builder's contiguous bytes.
            let mut builder = BinaryBuilder::with_capacity(n, n * 32);
            let mut buf = String::new();
            for i in 0..n {
                if array.is_null(i) {
                    builder.append_null();
                } else {
                    buf.clear();
                    json::write_value(&mut buf, array.as_ref(), &plan.ch, i);
                    builder.append_value(buf.as_bytes());
                }
            }
            Arc::new(builder.finish())
        }
    };
    Ok(out)
}

fn out_of_range(plan: &ColumnPlan, value: String) -> FrameError {
    FrameError::OutOfRange {
        column: plan.name.clone(),
        ch_type: plan.ch.to_string(),
        value,
    }
}

fn to_text(array: &ArrayRef, ch: &ChType) -> StringArray {
    let n = array.len();
    let base = ch.base();
    let text = |i: usize| -> String {
        match array.data_type() {
            DataType::Int8 => match base {
                ChType::Enum(items) => {
                    scalar::enum_name(items, array.as_primitive::<Int8Type>().value(i) as i16)
                }
                _ => array.as_primitive::<Int8Type>().value(i).to_string(),
            },
            DataType::Int16 => match base {
                ChType::Enum(items) => {
                    scalar::enum_name(items, array.as_primitive::<Int16Type>().value(i))
                }
                _ => array.as_primitive::<Int16Type>().value(i).to_string(),
            },
            DataType::UInt32 => {
                std::net::Ipv4Addr::from(array.as_primitive::<UInt32Type>().value(i)).to_string()
            }
            DataType::LargeUtf8 => array.as_string::<i64>().value(i).to_owned(),
            DataType::Utf8View => array.as_string_view().value(i).to_owned(),
            DataType::Binary | DataType::LargeBinary | DataType::FixedSizeBinary(_) => {
                let bytes: &[u8] = match array.data_type() {
                    DataType::Binary => array.as_binary::<i32>().value(i),
                    DataType::LargeBinary => array.as_binary::<i64>().value(i),
                    _ => array.as_fixed_size_binary().value(i),
                };
                match base {
                    // Unknown 16/32-byte values (no DESCRIBE): hex keeps them exact.
                    ChType::Other(_)
                        if matches!(array.data_type(), DataType::FixedSizeBinary(_)) =>
                    {
                        bytes.iter().map(|b| format!("{b:02x}")).collect()
                    }
                    _ => match scalar::bytes_to_text(bytes, base) {
                        scalar::Text::String(s) | scalar::Text::Json(s) => s,
                    },
                }
            }
            _ => {
                let mut s = String::new();
                json::write_value(&mut s, array.as_ref(), ch, i);
                serde_json::from_str::<String>(&s).unwrap_or(s)
            }
        }
    };
    (0..n)
        .map(|i| {
            if array.is_null(i) {
                None
            } else {
                Some(text(i))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Decimal128Array, FixedSizeBinaryArray, Int8Array, UInt32Array};

    fn run(field: Field, ch: &str, array: ArrayRef) -> (ColumnPlan, ArrayRef) {
        let plans = plan(&[Arc::new(field)], Some(&[ChType::parse(ch)])).unwrap();
        let out = convert(&plans[0], &array).unwrap();
        (plans[0].clone(), out)
    }

    #[test]
    fn datetime_seconds_become_nanoseconds() {
        let (p, out) = run(
            Field::new("t", DataType::UInt32, false),
            "DateTime('Asia/Kolkata')",
            Arc::new(UInt32Array::from(vec![1_700_000_000])),
        );
        assert_eq!(p.out_type, DataType::Timestamp(TimeUnit::Nanosecond, None));
        assert_eq!(
            out.as_primitive::<TimestampNanosecondType>().value(0),
            1_700_000_000_000_000_000
        );
    }

    #[test]
    fn same_arrow_type_different_clickhouse_types() {
        let (_, ip) = run(
            Field::new("ip", DataType::UInt32, false),
            "IPv4",
            Arc::new(UInt32Array::from(vec![0x01020304])),
        );
        assert_eq!(ip.as_string::<i32>().value(0), "1.2.3.4");
        let (_, n) = run(
            Field::new("n", DataType::UInt32, false),
            "UInt32",
            Arc::new(UInt32Array::from(vec![7])),
        );
        assert_eq!(n.as_primitive::<UInt32Type>().value(0), 7);
        let (_, e) = run(
            Field::new("e", DataType::Int8, false),
            "Enum8('up' = 1, 'down' = 2)",
            Arc::new(Int8Array::from(vec![2])),
        );
        assert_eq!(e.as_string::<i32>().value(0), "down");
        let big =
            FixedSizeBinaryArray::try_from_iter(vec![(-1i128).to_le_bytes()].into_iter()).unwrap();
        let (_, b) = run(
            Field::new("b", DataType::FixedSizeBinary(16), false),
            "Int128",
            Arc::new(big),
        );
        assert_eq!(b.as_string::<i32>().value(0), "-1");
    }

    #[test]
    fn wide_decimals_carry_a_notice() {
        let a = Decimal128Array::from(vec![12345])
            .with_precision_and_scale(18, 2)
            .unwrap();
        let (p, out) = run(
            Field::new("d", DataType::Decimal128(18, 2), false),
            "Decimal(18, 2)",
            Arc::new(a),
        );
        assert!(
            p.notice
                .as_deref()
                .unwrap_or("")
                .contains("15 significant digits")
        );
        assert_eq!(out.as_primitive::<Float64Type>().value(0), 123.45);
    }

    #[test]
    fn unsupported_types_name_the_column() {
        let e = plan(
            &[Arc::new(Field::new(
                "d",
                DataType::Duration(TimeUnit::Second),
                false,
            ))],
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("`d`"), "{e}");
    }
}
