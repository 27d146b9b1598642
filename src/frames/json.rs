//! Nested ClickHouse values (Array, Map, Tuple, Nested, Variant, JSON, Dynamic) as JSON text.
//!
//! Grafana decodes an Arrow `Binary` field as JSON (`json.RawMessage`), which is the only route
//! for nested data into a frame. This module writes one row of an Arrow array as JSON, guided by
//! the column's ClickHouse type so that values Arrow cannot tell apart come out as ClickHouse
//! would print them: `DateTime` (a `uint32` in Arrow) as a time, `IPv4` as dotted text, `Enum8`
//! as its name, `UInt64`/`Int128` and wider as quoted strings (ClickHouse's
//! `output_format_json_quote_64bit_integers`, and JavaScript numbers lose precision past 2^53),
//! named tuples as objects, unnamed tuples as arrays, maps as objects keyed by the key's text.

use std::fmt::Write as _;

use arrow_array::{Array, ArrayRef, cast::AsArray, types::*};
use arrow_schema::{DataType, TimeUnit};

use crate::chtype::ChType;

use super::scalar;

/// Writes row `row` of `array` (of ClickHouse type `ch`) as JSON into `out`.
pub(crate) fn write_value(out: &mut String, array: &dyn Array, ch: &ChType, row: usize) {
    if array.is_null(row) {
        out.push_str("null");
        return;
    }
    let ch = ch.base();
    match array.data_type() {
        DataType::Null => out.push_str("null"),
        DataType::Boolean => out.push_str(if array.as_boolean().value(row) {
            "true"
        } else {
            "false"
        }),
        DataType::Int8 => match ch {
            ChType::Enum(items) => write_str(
                out,
                &scalar::enum_name(items, array.as_primitive::<Int8Type>().value(row) as i16),
            ),
            _ => write_int(out, array.as_primitive::<Int8Type>().value(row) as i64),
        },
        DataType::Int16 => match ch {
            ChType::Enum(items) => write_str(
                out,
                &scalar::enum_name(items, array.as_primitive::<Int16Type>().value(row)),
            ),
            _ => write_int(out, array.as_primitive::<Int16Type>().value(row) as i64),
        },
        DataType::Int32 => write_int(out, array.as_primitive::<Int32Type>().value(row) as i64),
        DataType::Int64 => write_quoted(out, array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => write_int(out, array.as_primitive::<UInt8Type>().value(row) as i64),
        DataType::UInt16 => match ch {
            ChType::Date => write_str(
                out,
                &scalar::format_date(array.as_primitive::<UInt16Type>().value(row) as i64),
            ),
            _ => write_int(out, array.as_primitive::<UInt16Type>().value(row) as i64),
        },
        DataType::UInt32 => {
            let v = array.as_primitive::<UInt32Type>().value(row);
            match ch {
                ChType::DateTime(_) => write_str(
                    out,
                    &scalar::format_timestamp_ns(v as i64 * 1_000_000_000, 0),
                ),
                ChType::Ipv4 => write_str(out, &std::net::Ipv4Addr::from(v).to_string()),
                _ => write_int(out, v as i64),
            }
        }
        DataType::UInt64 => write_quoted(out, array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float16 => {
            write_float(out, array.as_primitive::<Float16Type>().value(row).to_f64())
        }
        DataType::Float32 => {
            write_float(out, array.as_primitive::<Float32Type>().value(row) as f64)
        }
        DataType::Float64 => write_float(out, array.as_primitive::<Float64Type>().value(row)),
        DataType::Date32 => write_str(
            out,
            &scalar::format_date(array.as_primitive::<Date32Type>().value(row) as i64),
        ),
        DataType::Timestamp(unit, _) => {
            let (v, digits) = match unit {
                TimeUnit::Second => (
                    array.as_primitive::<TimestampSecondType>().value(row) as i128 * 1_000_000_000,
                    0,
                ),
                TimeUnit::Millisecond => (
                    array.as_primitive::<TimestampMillisecondType>().value(row) as i128 * 1_000_000,
                    3,
                ),
                TimeUnit::Microsecond => (
                    array.as_primitive::<TimestampMicrosecondType>().value(row) as i128 * 1_000,
                    6,
                ),
                TimeUnit::Nanosecond => (
                    array.as_primitive::<TimestampNanosecondType>().value(row) as i128,
                    9,
                ),
            };
            write_str(out, &scalar::format_timestamp_ns_wide(v, digits));
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            let secs = match array.data_type() {
                DataType::Time32(TimeUnit::Second) => {
                    array.as_primitive::<Time32SecondType>().value(row) as i64
                }
                DataType::Time32(_) => {
                    array.as_primitive::<Time32MillisecondType>().value(row) as i64 / 1000
                }
                DataType::Time64(TimeUnit::Microsecond) => {
                    array.as_primitive::<Time64MicrosecondType>().value(row) / 1_000_000
                }
                _ => array.as_primitive::<Time64NanosecondType>().value(row) / 1_000_000_000,
            };
            write_str(out, &scalar::format_time_of_day(secs));
        }
        DataType::Decimal128(_, scale) => {
            out.push_str(&scalar::decimal_string(
                array.as_primitive::<Decimal128Type>().value(row),
                *scale as u32,
            ));
        }
        DataType::Decimal256(_, scale) => {
            let v = array.as_primitive::<Decimal256Type>().value(row);
            out.push_str(&scalar::decimal256_string(v, *scale as u32));
        }
        DataType::Utf8 => write_str(out, array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => write_str(out, array.as_string::<i64>().value(row)),
        DataType::Utf8View => write_str(out, array.as_string_view().value(row)),
        DataType::Binary | DataType::LargeBinary | DataType::FixedSizeBinary(_) => {
            let bytes: &[u8] = match array.data_type() {
                DataType::Binary => array.as_binary::<i32>().value(row),
                DataType::LargeBinary => array.as_binary::<i64>().value(row),
                _ => array.as_fixed_size_binary().value(row),
            };
            match scalar::bytes_to_text(bytes, ch) {
                scalar::Text::Json(s) => out.push_str(&s),
                scalar::Text::String(s) => write_str(out, &s),
            }
        }
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _) => {
            let (values, start, end) = list_slice(array, row);
            let inner = match ch {
                ChType::Array(t) => t.as_ref(),
                ChType::Nested(fields) => return write_nested(out, &values, fields, start, end),
                _ => &ChType::Nothing,
            };
            out.push('[');
            for (n, i) in (start..end).enumerate() {
                if n > 0 {
                    out.push(',');
                }
                write_value(out, values.as_ref(), inner, i);
            }
            out.push(']');
        }
        DataType::Map(_, _) => {
            let map = array.as_map();
            let offsets = map.value_offsets();
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            let (kt, vt) = match ch {
                ChType::Map(k, v) => (k.as_ref(), v.as_ref()),
                _ => (&ChType::Nothing, &ChType::Nothing),
            };
            let keys = map.keys();
            let values = map.values();
            out.push('{');
            let mut key = String::new();
            for (n, i) in (start..end).enumerate() {
                if n > 0 {
                    out.push(',');
                }
                key.clear();
                write_value(&mut key, keys.as_ref(), kt, i);
                if key.starts_with('"') {
                    out.push_str(&key);
                } else {
                    write_str(out, &key);
                }
                out.push(':');
                write_value(out, values.as_ref(), vt, i);
            }
            out.push('}');
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let names: Vec<Option<&str>> = match ch {
                ChType::Tuple(items) if items.len() == fields.len() => {
                    items.iter().map(|(n, _)| n.as_deref()).collect()
                }
                // Unknown type: Arrow names ClickHouse's unnamed elements "1", "2", …
                _ => fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.name() != &(i + 1).to_string()).then_some(f.name().as_str()))
                    .collect(),
            };
            let types: Vec<&ChType> = match ch {
                ChType::Tuple(items) if items.len() == fields.len() => {
                    items.iter().map(|(_, t)| t).collect()
                }
                _ => vec![&ChType::Nothing; fields.len()],
            };
            let named = names.iter().all(Option::is_some) && !names.is_empty();
            out.push(if named { '{' } else { '[' });
            for (i, col) in s.columns().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if named {
                    write_str(out, names[i].unwrap_or(""));
                    out.push(':');
                }
                write_value(out, col.as_ref(), types[i], row);
            }
            out.push(if named { '}' } else { ']' });
        }
        DataType::Union(fields, _) => {
            let u = array.as_union();
            let type_id = u.type_id(row);
            let offset = u.value_offset(row);
            let child = u.child(type_id);
            // Variant members arrive named by their ClickHouse type.
            let member_type = fields
                .iter()
                .find(|(id, _)| *id == type_id)
                .map(|(_, f)| ChType::parse(f.name()))
                .unwrap_or(ChType::Nothing);
            write_value(out, child.as_ref(), &member_type, offset);
        }
        DataType::Dictionary(_, _) => {
            let d = array.as_any_dictionary();
            let key = d.normalized_keys()[row];
            write_value(out, d.values().as_ref(), ch, key);
        }
        other => write_str(out, &format!("<unsupported {other}>")),
    }
}

/// `Nested(a T, b U)` with `flatten_nested = 0` arrives as a list of structs: write objects.
fn write_nested(
    out: &mut String,
    values: &ArrayRef,
    fields: &[(String, ChType)],
    start: usize,
    end: usize,
) {
    let tuple = ChType::Tuple(
        fields
            .iter()
            .map(|(n, t)| (Some(n.clone()), t.clone()))
            .collect(),
    );
    out.push('[');
    for (n, i) in (start..end).enumerate() {
        if n > 0 {
            out.push(',');
        }
        write_value(out, values.as_ref(), &tuple, i);
    }
    out.push(']');
}

fn list_slice(array: &dyn Array, row: usize) -> (ArrayRef, usize, usize) {
    match array.data_type() {
        DataType::List(_) => {
            let l = array.as_list::<i32>();
            let o = l.value_offsets();
            (l.values().clone(), o[row] as usize, o[row + 1] as usize)
        }
        DataType::LargeList(_) => {
            let l = array.as_list::<i64>();
            let o = l.value_offsets();
            (l.values().clone(), o[row] as usize, o[row + 1] as usize)
        }
        _ => {
            let l = array.as_fixed_size_list();
            let n = l.value_length() as usize;
            (l.values().clone(), row * n, row * n + n)
        }
    }
}

fn write_int(out: &mut String, v: i64) {
    let _ = write!(out, "{v}");
}

fn write_quoted(out: &mut String, v: impl std::fmt::Display) {
    let _ = write!(out, "\"{v}\"");
}

fn write_float(out: &mut String, v: f64) {
    if v.is_finite() {
        let _ = write!(out, "{v}");
    } else {
        out.push_str("null");
    }
}

/// Bytes a JSON string must escape: controls, `"` and `\\`.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Writes a JSON string literal. Runs of bytes that need no escaping are copied in one go.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    // Runs end only before ASCII bytes (escapes), so they are whole UTF-8 sequences.
    escape_runs(s.as_bytes(), |piece| match piece {
        Piece::Run(r) => out.push_str(&s[r]),
        Piece::Escape(e) => e.push_to(out),
    });
    out.push('"');
}

/// [`write_str`] into a byte buffer (frame columns are written as raw buffers). `s` should be
/// UTF-8; bytes are copied as they are.
pub(crate) fn write_str_bytes(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    escape_runs(s, |piece| match piece {
        Piece::Run(r) => out.extend_from_slice(&s[r]),
        Piece::Escape(e) => out.extend_from_slice(e.as_bytes()),
    });
    out.push(b'"');
}

/// A JSON escape of one byte (`\"`, `\n`, `\u001f`…): at most six ASCII bytes.
struct Escaped {
    bytes: [u8; 6],
    len: usize,
}

impl Escaped {
    fn of(b: u8) -> Escaped {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let short = |c: u8| Escaped {
            bytes: [b'\\', c, 0, 0, 0, 0],
            len: 2,
        };
        match b {
            b'"' => short(b'"'),
            b'\\' => short(b'\\'),
            b'\n' => short(b'n'),
            b'\r' => short(b'r'),
            b'\t' => short(b't'),
            _ => Escaped {
                bytes: [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ],
                len: 6,
            },
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn push_to(&self, out: &mut String) {
        // Always ASCII.
        out.extend(self.as_bytes().iter().map(|&b| b as char));
    }
}

/// What [`escape_runs`] emits, in order.
enum Piece {
    /// Bytes copied as they are.
    Run(std::ops::Range<usize>),
    /// One escaped byte.
    Escape(Escaped),
}

/// Splits `s` into runs that need no escaping and escaped bytes (the JSON string's content).
fn escape_runs(s: &[u8], mut emit: impl FnMut(Piece)) {
    let (mut start, mut i) = (0, 0);
    while i < s.len() {
        // Eight bytes at a time while none needs escaping (the usual case).
        if let Some(w) = s.get(i..i + 8) {
            let word = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            if !word_needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let b = s[i];
        if NEEDS_ESCAPE[b as usize] {
            if start < i {
                emit(Piece::Run(start..i));
            }
            emit(Piece::Escape(Escaped::of(b)));
            start = i + 1;
        }
        i += 1;
    }
    if start < s.len() {
        emit(Piece::Run(start..s.len()));
    }
}

/// True when a byte of `w` may need escaping (a control byte, `"` or `\\`). Never false for a
/// word that has one; rarely true for one that has none (the caller then checks byte by byte).
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (control | zero_byte(w ^ (ONES * b'"' as u64)) | zero_byte(w ^ (ONES * b'\\' as u64))) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int8Array, StringArray, UInt32Array};

    #[test]
    fn escaping_matches_serde_json_at_every_position() {
        let specials = ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é", "\u{7f}", "ω"];
        for len in 0..20 {
            for pos in 0..len {
                for sp in specials {
                    let text: String = (0..len)
                        .map(|i| {
                            if i == pos {
                                sp.to_owned()
                            } else {
                                "ab~ "[i % 4..i % 4 + 1].to_owned()
                            }
                        })
                        .collect();
                    let mut out = String::new();
                    write_str(&mut out, &text);
                    assert_eq!(serde_json::from_str::<String>(&out).unwrap(), text, "{out}");
                }
            }
        }
        assert!(!word_needs_escape(u64::from_le_bytes(*b"abc~ZZ\x7f ")));
        assert!(word_needs_escape(u64::from_le_bytes(*b"abcdefg\x1f")));
        assert!(word_needs_escape(u64::from_le_bytes(*b"\"bcdefgh")));
        assert!(word_needs_escape(u64::from_le_bytes(*b"abc\\efgh")));
    }

    #[test]
    fn strings_are_escaped() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\n\u{1}");
        assert_eq!(s, r#""a\"b\\c\n\u0001""#);
        assert!(serde_json::from_str::<String>(&s).is_ok());
    }

    #[test]
    fn scalars_follow_the_clickhouse_type() {
        let mut s = String::new();
        write_value(&mut s, &UInt32Array::from(vec![16909060]), &ChType::Ipv4, 0);
        s.push(' ');
        write_value(
            &mut s,
            &UInt32Array::from(vec![86400]),
            &ChType::DateTime(None),
            0,
        );
        s.push(' ');
        write_value(
            &mut s,
            &Int8Array::from(vec![2]),
            &ChType::parse("Enum8('a' = 1, 'b' = 2)"),
            0,
        );
        s.push(' ');
        write_value(
            &mut s,
            &StringArray::from(vec![Some("x")]),
            &ChType::String,
            0,
        );
        assert_eq!(s, r#""1.2.3.4" "1970-01-02 00:00:00" "b" "x""#);
    }
}
