//! Single-value conversions shared by the column converter and the JSON writer: dates and times
//! as text, wide integers and decimals as exact decimal text, UUID/IP/FixedString bytes as text,
//! Enum codes as names.

use std::fmt::Write as _;

use arrow_buffer::i256;

use crate::chtype::ChType;

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD` for days since the epoch.
pub(crate) fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:MM:SS` for seconds of a day (negative and >24h values as ClickHouse's Time allows).
pub(crate) fn format_time_of_day(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    format!("{sign}{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// `YYYY-MM-DD hh:mm:ss[.fraction]` in UTC for nanoseconds since the epoch.
pub(crate) fn format_timestamp_ns(ns: i64, digits: u32) -> String {
    format_timestamp_ns_wide(ns as i128, digits)
}

/// Like [`format_timestamp_ns`] for values outside the i64 nanosecond range.
pub(crate) fn format_timestamp_ns_wide(ns: i128, digits: u32) -> String {
    let secs = ns.div_euclid(1_000_000_000) as i64;
    let frac = ns.rem_euclid(1_000_000_000) as u64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut out = format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    if digits > 0 {
        let digits = digits.min(9);
        let _ = write!(
            out,
            ".{:0width$}",
            frac / 10u64.pow(9 - digits),
            width = digits as usize
        );
    }
    out
}

/// The name of an Enum code (`code` itself when the type does not list it).
pub(crate) fn enum_name(items: &[(String, i16)], code: i16) -> String {
    items
        .iter()
        .find(|(_, c)| *c == code)
        .map_or_else(|| code.to_string(), |(n, _)| n.clone())
}

/// Exact decimal text of a scaled integer.
pub(crate) fn decimal_string(v: i128, scale: u32) -> String {
    if scale == 0 {
        return v.to_string();
    }
    let digits = v.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale - digits.len() + 1))
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int}.{frac}", if v < 0 { "-" } else { "" })
}

/// Exact decimal text of a scaled 256-bit integer.
pub(crate) fn decimal256_string(v: i256, scale: u32) -> String {
    if let Some(small) = v.to_i128() {
        return decimal_string(small, scale);
    }
    let negative = v.is_negative();
    let magnitude = if negative { v.wrapping_neg() } else { v };
    let mut le = magnitude.to_le_bytes();
    let digits = u256_le_to_decimal(&mut le);
    let scale = scale as usize;
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale - digits.len() + 1))
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - scale);
    let sign = if negative { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

/// Decimal text of an unsigned little-endian integer of any width (consumes the buffer).
pub(crate) fn u256_le_to_decimal(le: &mut [u8]) -> String {
    let mut digits = Vec::new();
    loop {
        // Divide the whole number by 10, most significant byte first.
        let mut rem = 0u32;
        let mut all_zero = true;
        for b in le.iter_mut().rev() {
            let cur = (rem << 8) | *b as u32;
            *b = (cur / 10) as u8;
            rem = cur % 10;
            all_zero &= *b == 0;
        }
        digits.push(b'0' + rem as u8);
        if all_zero {
            break;
        }
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

/// Decimal text of a little-endian two's-complement integer of 16 or 32 bytes.
pub(crate) fn wide_int_string(bytes: &[u8], signed: bool) -> String {
    if bytes.len() == 16 {
        let mut b = [0u8; 16];
        b.copy_from_slice(bytes);
        return if signed {
            i128::from_le_bytes(b).to_string()
        } else {
            u128::from_le_bytes(b).to_string()
        };
    }
    let negative = signed && bytes.last().is_some_and(|b| b & 0x80 != 0);
    let mut le = bytes.to_vec();
    if negative {
        // Two's complement negate: invert and add one.
        let mut carry = true;
        for b in le.iter_mut() {
            *b = !*b;
            if carry {
                let (v, c) = b.overflowing_add(1);
                *b = v;
                carry = c;
            }
        }
    }
    let s = u256_le_to_decimal(&mut le);
    if negative { format!("-{s}") } else { s }
}

/// Canonical `8-4-4-4-12` text of a UUID as ClickHouse's Arrow output carries it (big-endian).
pub(crate) fn uuid_string(b: &[u8]) -> String {
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{byte:02x}");
    }
    s
}

/// Text for byte-typed values.
pub(crate) enum Text {
    /// A plain string.
    String(String),
    /// Already JSON (the JSON/Dynamic types' text).
    Json(String),
}

/// Interprets fixed or variable bytes by ClickHouse type.
pub(crate) fn bytes_to_text(bytes: &[u8], ch: &ChType) -> Text {
    match ch.base() {
        ChType::Uuid if bytes.len() == 16 => Text::String(uuid_string(bytes)),
        ChType::Ipv6 if bytes.len() == 16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(bytes);
            Text::String(std::net::Ipv6Addr::from(b).to_string())
        }
        ChType::BigInt(_) => Text::String(wide_int_string(bytes, true)),
        ChType::BigUInt(_) => Text::String(wide_int_string(bytes, false)),
        ChType::BFloat16 if bytes.len() == 2 => {
            let v = f32::from_bits((u16::from_le_bytes([bytes[0], bytes[1]]) as u32) << 16);
            Text::Json(if v.is_finite() {
                v.to_string()
            } else {
                "null".into()
            })
        }
        ChType::Json | ChType::Dynamic => Text::Json(String::from_utf8_lossy(bytes).into_owned()),
        ChType::FixedString(_) => {
            Text::String(String::from_utf8_lossy(trim_nuls(bytes)).into_owned())
        }
        _ => Text::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// FixedString pads with zero bytes; they are not part of the text.
pub(crate) fn trim_nuls(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(-25567), "1900-01-01");
        assert_eq!(format_date(120529), "2299-12-31");
        assert_eq!(
            format_timestamp_ns(1_700_000_000_123_456_789, 9),
            "2023-11-14 22:13:20.123456789"
        );
        assert_eq!(format_timestamp_ns(-1, 3), "1969-12-31 23:59:59.999");
        assert_eq!(format_time_of_day(3661), "01:01:01");
    }

    #[test]
    fn exact_decimals_and_wide_ints() {
        assert_eq!(decimal_string(314, 2), "3.14");
        assert_eq!(decimal_string(-5, 3), "-0.005");
        assert_eq!(decimal_string(7, 0), "7");
        assert_eq!(
            wide_int_string(&u128::MAX.to_le_bytes(), false),
            u128::MAX.to_string()
        );
        assert_eq!(wide_int_string(&(-5i128).to_le_bytes(), true), "-5");
        let max256 = [0xffu8; 32];
        assert_eq!(
            wide_int_string(&max256, false),
            "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        );
        assert_eq!(wide_int_string(&max256, true), "-1");
        let mut min256 = [0u8; 32];
        min256[31] = 0x80;
        assert_eq!(
            wide_int_string(&min256, true),
            "-57896044618658097711785492504343953926634992332820282019728792003956564819968"
        );
        assert_eq!(decimal256_string(i256::from_i128(12345), 2), "123.45");
    }

    #[test]
    fn bytes_by_type() {
        let mut ip = [0u8; 16];
        ip[15] = 1;
        let Text::String(s) = bytes_to_text(&ip, &ChType::Ipv6) else {
            panic!()
        };
        assert_eq!(s, "::1");
        let Text::String(s) = bytes_to_text(b"ab\0", &ChType::FixedString(3)) else {
            panic!()
        };
        assert_eq!(s, "ab");
        assert_eq!(
            uuid_string(&[0x12; 16]),
            "12121212-1212-1212-1212-121212121212"
        );
    }
}
