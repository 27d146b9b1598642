//! ClickHouse type names, parsed.
//!
//! ClickHouse's ArrowStream output does not say which ClickHouse type a column had: `DateTime`,
//! `UInt32` and `IPv4` all arrive as `uint32`; `Int128`, `UInt128` and `IPv6` as 16 fixed bytes;
//! `Enum8` as `int8` without its names. The frame converter therefore needs the type names
//! (from `DESCRIBE`), parsed into [`ChType`] by this module. Parsing is total: a name it does not
//! know becomes [`ChType::Other`], which the converter maps by the Arrow type alone or rejects
//! with an error naming the column.

use std::fmt;

/// A parsed ClickHouse type.
#[derive(Clone, Debug, PartialEq)]
pub enum ChType {
    /// Int8 … Int64.
    Int(u8),
    /// UInt8 … UInt64.
    UInt(u8),
    /// Int128, Int256.
    BigInt(u16),
    /// UInt128, UInt256.
    BigUInt(u16),
    /// Float32, Float64.
    Float(u8),
    /// BFloat16.
    BFloat16,
    /// Decimal(P, S) and its aliases.
    Decimal {
        /// Precision (total digits).
        precision: u8,
        /// Scale (digits after the point).
        scale: u8,
    },
    /// Bool.
    Bool,
    /// String.
    String,
    /// FixedString(N).
    FixedString(u32),
    /// Date (days since 1970, UInt16).
    Date,
    /// Date32.
    Date32,
    /// DateTime or DateTime('tz').
    DateTime(Option<String>),
    /// DateTime64(precision[, 'tz']).
    DateTime64(u8, Option<String>),
    /// Time, Time64(p).
    Time,
    /// UUID.
    Uuid,
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
    /// Enum8/Enum16 with their (name, code) pairs.
    Enum(Vec<(String, i16)>),
    /// Nullable(T).
    Nullable(Box<ChType>),
    /// LowCardinality(T).
    LowCardinality(Box<ChType>),
    /// Array(T).
    Array(Box<ChType>),
    /// Map(K, V).
    Map(Box<ChType>, Box<ChType>),
    /// Tuple(T…) or Tuple(name T, …): names are `None` for unnamed elements.
    Tuple(Vec<(Option<String>, ChType)>),
    /// Nested(name T, …): like a named tuple array.
    Nested(Vec<(String, ChType)>),
    /// JSON / Object('json').
    Json,
    /// Variant(T…).
    Variant(Vec<ChType>),
    /// Dynamic.
    Dynamic,
    /// Nothing (the type of a bare NULL).
    Nothing,
    /// Anything else, kept by name.
    Other(String),
}

impl ChType {
    /// Parses a ClickHouse type name as `DESCRIBE` prints it.
    pub fn parse(name: &str) -> ChType {
        let mut p = Parser {
            s: name.as_bytes(),
            i: 0,
        };
        let t = p.ty();
        p.ws();
        if p.i == p.s.len() {
            t
        } else {
            ChType::Other(name.to_owned())
        }
    }

    /// The type with `Nullable` and `LowCardinality` wrappers removed.
    pub fn base(&self) -> &ChType {
        match self {
            ChType::Nullable(t) | ChType::LowCardinality(t) => t.base(),
            t => t,
        }
    }

    /// True for `Nullable(T)` (also inside `LowCardinality`).
    pub fn is_nullable(&self) -> bool {
        match self {
            ChType::Nullable(_) => true,
            ChType::LowCardinality(t) => t.is_nullable(),
            _ => false,
        }
    }
}

impl fmt::Display for ChType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChType::Int(b) => write!(f, "Int{b}"),
            ChType::UInt(b) => write!(f, "UInt{b}"),
            ChType::BigInt(b) => write!(f, "Int{b}"),
            ChType::BigUInt(b) => write!(f, "UInt{b}"),
            ChType::Float(b) => write!(f, "Float{b}"),
            ChType::BFloat16 => f.write_str("BFloat16"),
            ChType::Decimal { precision, scale } => write!(f, "Decimal({precision}, {scale})"),
            ChType::Bool => f.write_str("Bool"),
            ChType::String => f.write_str("String"),
            ChType::FixedString(n) => write!(f, "FixedString({n})"),
            ChType::Date => f.write_str("Date"),
            ChType::Date32 => f.write_str("Date32"),
            ChType::DateTime(None) => f.write_str("DateTime"),
            ChType::DateTime(Some(tz)) => write!(f, "DateTime('{tz}')"),
            ChType::DateTime64(p, None) => write!(f, "DateTime64({p})"),
            ChType::DateTime64(p, Some(tz)) => write!(f, "DateTime64({p}, '{tz}')"),
            ChType::Time => f.write_str("Time"),
            ChType::Uuid => f.write_str("UUID"),
            ChType::Ipv4 => f.write_str("IPv4"),
            ChType::Ipv6 => f.write_str("IPv6"),
            ChType::Enum(_) => f.write_str("Enum"),
            ChType::Nullable(t) => write!(f, "Nullable({t})"),
            ChType::LowCardinality(t) => write!(f, "LowCardinality({t})"),
            ChType::Array(t) => write!(f, "Array({t})"),
            ChType::Map(k, v) => write!(f, "Map({k}, {v})"),
            ChType::Tuple(_) => f.write_str("Tuple"),
            ChType::Nested(_) => f.write_str("Nested"),
            ChType::Json => f.write_str("JSON"),
            ChType::Variant(_) => f.write_str("Variant"),
            ChType::Dynamic => f.write_str("Dynamic"),
            ChType::Nothing => f.write_str("Nothing"),
            ChType::Other(s) => f.write_str(s),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn word(&mut self) -> &str {
        self.ws();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_alphanumeric() || self.s[self.i] == b'_')
        {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or("")
    }

    fn quoted(&mut self) -> Option<String> {
        self.ws();
        if self.s.get(self.i) != Some(&b'\'') {
            return None;
        }
        self.i += 1;
        let mut out = Vec::new();
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'\\' if self.i + 1 < self.s.len() => {
                    out.push(self.s[self.i + 1]);
                    self.i += 2;
                }
                b'\'' if self.s.get(self.i + 1) == Some(&b'\'') => {
                    out.push(b'\'');
                    self.i += 2;
                }
                b'\'' => {
                    self.i += 1;
                    return Some(String::from_utf8_lossy(&out).into_owned());
                }
                c => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        None
    }

    fn int(&mut self) -> Option<i64> {
        self.ws();
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()?
            .parse()
            .ok()
    }

    /// Skips a balanced argument list, for types whose arguments do not matter here.
    fn skip_args(&mut self) {
        if !self.eat(b'(') {
            return;
        }
        let mut depth = 1;
        while self.i < self.s.len() && depth > 0 {
            match self.s[self.i] {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b'\'' => {
                    self.quoted();
                    continue;
                }
                _ => {}
            }
            self.i += 1;
        }
    }

    fn ty(&mut self) -> ChType {
        let start = self.i;
        let name = self.word().to_owned();

        match name.as_str() {
            "Int8" | "Int16" | "Int32" | "Int64" => ChType::Int(name[3..].parse().unwrap_or(64)),
            "UInt8" | "UInt16" | "UInt32" | "UInt64" => {
                ChType::UInt(name[4..].parse().unwrap_or(64))
            }
            "Int128" | "Int256" => ChType::BigInt(name[3..].parse().unwrap_or(128)),
            "UInt128" | "UInt256" => ChType::BigUInt(name[4..].parse().unwrap_or(128)),
            "Float32" => ChType::Float(32),
            "Float64" => ChType::Float(64),
            "BFloat16" => ChType::BFloat16,
            "Bool" | "Boolean" => ChType::Bool,
            "String" => ChType::String,
            "UUID" => ChType::Uuid,
            "IPv4" => ChType::Ipv4,
            "IPv6" => ChType::Ipv6,
            "Date" => ChType::Date,
            "Date32" => ChType::Date32,
            "JSON" => {
                self.skip_args();
                ChType::Json
            }
            "Object" => {
                self.skip_args();
                ChType::Json
            }
            "Dynamic" => {
                self.skip_args();
                ChType::Dynamic
            }
            "Nothing" => ChType::Nothing,
            "Time" | "Time64" => {
                self.skip_args();
                ChType::Time
            }
            "FixedString" => {
                self.eat(b'(');
                let n = self.int().unwrap_or(0).max(0) as u32;
                self.eat(b')');
                ChType::FixedString(n)
            }
            "DateTime" => {
                let tz = if self.eat(b'(') {
                    let tz = self.quoted();
                    self.eat(b')');
                    tz
                } else {
                    None
                };
                ChType::DateTime(tz)
            }
            "DateTime64" => {
                self.eat(b'(');
                let p = self.int().unwrap_or(3).clamp(0, 9) as u8;
                let tz = if self.eat(b',') { self.quoted() } else { None };
                self.eat(b')');
                ChType::DateTime64(p, tz)
            }
            "Decimal" | "Decimal32" | "Decimal64" | "Decimal128" | "Decimal256" => {
                self.eat(b'(');
                let a = self.int().unwrap_or(10);
                let b = if self.eat(b',') { self.int() } else { None };
                self.eat(b')');
                let (precision, scale) = match (name.as_str(), b) {
                    ("Decimal", Some(s)) => (a, s),
                    ("Decimal", None) => (a, 0),
                    ("Decimal32", _) => (9, a),
                    ("Decimal64", _) => (18, a),
                    ("Decimal128", _) => (38, a),
                    _ => (76, a),
                };
                ChType::Decimal {
                    precision: precision.clamp(1, 76) as u8,
                    scale: scale.clamp(0, 76) as u8,
                }
            }
            "Enum8" | "Enum16" | "Enum" => {
                let mut items = Vec::new();
                if self.eat(b'(') {
                    while let Some(label) = self.quoted() {
                        let code = if self.eat(b'=') {
                            self.int().unwrap_or(0)
                        } else {
                            items.len() as i64 + 1
                        };
                        items.push((label, code as i16));
                        if !self.eat(b',') {
                            break;
                        }
                    }
                    self.eat(b')');
                }
                ChType::Enum(items)
            }
            "Nullable" | "LowCardinality" | "Array" => {
                self.eat(b'(');
                let inner = Box::new(self.ty());
                self.eat(b')');
                match name.as_str() {
                    "Nullable" => ChType::Nullable(inner),
                    "LowCardinality" => ChType::LowCardinality(inner),
                    _ => ChType::Array(inner),
                }
            }
            "Map" => {
                self.eat(b'(');
                let k = self.ty();
                self.eat(b',');
                let v = self.ty();
                self.eat(b')');
                ChType::Map(Box::new(k), Box::new(v))
            }
            "Tuple" | "Nested" => {
                let mut items = Vec::new();
                if self.eat(b'(') {
                    loop {
                        items.push(self.element());
                        if !self.eat(b',') {
                            break;
                        }
                    }
                    self.eat(b')');
                }
                if name == "Nested" {
                    ChType::Nested(
                        items
                            .into_iter()
                            .map(|(n, t)| (n.unwrap_or_default(), t))
                            .collect(),
                    )
                } else {
                    ChType::Tuple(items)
                }
            }
            "Variant" => {
                let mut items = Vec::new();
                if self.eat(b'(') {
                    loop {
                        items.push(self.ty());
                        if !self.eat(b',') {
                            break;
                        }
                    }
                    self.eat(b')');
                }
                ChType::Variant(items)
            }
            "SimpleAggregateFunction" => {
                // SimpleAggregateFunction(f, T) stores plain T.
                self.eat(b'(');
                self.word();
                self.eat(b',');
                let t = self.ty();
                self.eat(b')');
                t
            }
            _ => {
                self.skip_args();
                let end = self.i.min(self.s.len());
                ChType::Other(
                    String::from_utf8_lossy(&self.s[start..end])
                        .trim()
                        .to_owned(),
                )
            }
        }
    }

    /// A tuple element: `T` or `name T`.
    fn element(&mut self) -> (Option<String>, ChType) {
        let save = self.i;
        let first = self.word().to_owned();
        self.ws();
        let next = self.s.get(self.i).copied();
        // `name Type`: an identifier followed by another identifier start.
        if !first.is_empty() && next.is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') {
            return (Some(first), self.ty());
        }
        if let Some(b'`') = self.s.get(save).copied() {
            // Backticked element name.
            self.i = save + 1;
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != b'`' {
                self.i += 1;
            }
            let n = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
            self.i += 1;
            return (Some(n), self.ty());
        }
        self.i = save;
        (None, self.ty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scalars_and_wrappers() {
        assert_eq!(ChType::parse("UInt64"), ChType::UInt(64));
        assert_eq!(ChType::parse("Int256"), ChType::BigInt(256));
        assert_eq!(
            ChType::parse("DateTime('Asia/Kolkata')"),
            ChType::DateTime(Some("Asia/Kolkata".into()))
        );
        assert_eq!(
            ChType::parse("DateTime64(9, 'UTC')"),
            ChType::DateTime64(9, Some("UTC".into()))
        );
        assert_eq!(
            ChType::parse("Decimal(18, 4)"),
            ChType::Decimal {
                precision: 18,
                scale: 4
            }
        );
        assert_eq!(
            ChType::parse("Decimal64(2)"),
            ChType::Decimal {
                precision: 18,
                scale: 2
            }
        );
        let t = ChType::parse("LowCardinality(Nullable(String))");
        assert!(t.is_nullable());
        assert_eq!(t.base(), &ChType::String);
        assert_eq!(
            ChType::parse("Enum8('a' = 1, 'it\\'s' = -2)"),
            ChType::Enum(vec![("a".into(), 1), ("it's".into(), -2)])
        );
    }

    #[test]
    fn parses_nested_structures() {
        assert_eq!(
            ChType::parse("Map(LowCardinality(String), Array(UInt8))"),
            ChType::Map(
                Box::new(ChType::LowCardinality(Box::new(ChType::String))),
                Box::new(ChType::Array(Box::new(ChType::UInt(8))))
            )
        );
        assert_eq!(
            ChType::parse("Tuple(a Int8, b String)"),
            ChType::Tuple(vec![
                (Some("a".into()), ChType::Int(8)),
                (Some("b".into()), ChType::String)
            ])
        );
        assert_eq!(
            ChType::parse("Tuple(UInt8, String)"),
            ChType::Tuple(vec![(None, ChType::UInt(8)), (None, ChType::String)])
        );
        assert_eq!(
            ChType::parse("Array(Tuple(Timestamp DateTime64(9), Name LowCardinality(String)))"),
            ChType::Array(Box::new(ChType::Tuple(vec![
                (Some("Timestamp".into()), ChType::DateTime64(9, None)),
                (
                    Some("Name".into()),
                    ChType::LowCardinality(Box::new(ChType::String))
                ),
            ])))
        );
        assert_eq!(
            ChType::parse("Variant(String, UInt8)"),
            ChType::Variant(vec![ChType::String, ChType::UInt(8)])
        );
        assert_eq!(ChType::parse("JSON(max_dynamic_paths = 10)"), ChType::Json);
    }

    #[test]
    fn unknown_names_are_kept() {
        assert_eq!(
            ChType::parse("AggregateFunction(uniq, String)"),
            ChType::Other("AggregateFunction(uniq, String)".into())
        );
        assert_eq!(ChType::parse("Point"), ChType::Other("Point".into()));
        assert_eq!(
            ChType::parse("SimpleAggregateFunction(sum, UInt64)"),
            ChType::UInt(64)
        );
    }
}
