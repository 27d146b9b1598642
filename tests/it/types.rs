//! Issue 2, item 5: every ClickHouse type reaches Grafana as a field Grafana decodes, with no
//! silent precision loss. One test per type, through the engine and the plugin binary.

use serde_json::{Value, json};

use crate::engine::engine;
use crate::grafana_frames::{FieldData, Kind};
use crate::host::{Host, Q, datasource_for, datasource_with};

/// Runs `SELECT <expr> AS v` through the plugin and returns field `v`.
async fn select(expr: &str) -> (FieldData, Value) {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_for(e, "default");
    let sql = format!("SELECT {expr} AS v");
    let mut answers = host.query(&ds, vec![Q::sql("A", &sql)]).await;
    let a = answers.remove("A").unwrap();
    let frame = a.frame().clone();
    assert_eq!(frame.executed_sql(), sql);
    (frame.field("v").clone(), frame.meta.clone())
}

async fn check(expr: &str, kind: Kind, nullable: bool, expected: Value) {
    let (f, _) = select(expr).await;
    assert_eq!(f.kind, kind, "{expr}: kind ({:?})", f.arrow);
    assert_eq!(f.nullable, nullable, "{expr}: nullable");
    assert_eq!(f.values, vec![expected], "{expr}");
}

macro_rules! type_tests {
    ($($name:ident: $expr:expr => $kind:ident, $nullable:expr, $value:expr;)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                check($expr, Kind::$kind, $nullable, $value).await;
            }
        )*
    };
}

type_tests! {
    int8: "toInt8(-128)" => Number, false, json!(-128);
    int16: "toInt16(-32768)" => Number, false, json!(-32768);
    int32: "toInt32(-2147483648)" => Number, false, json!(-2147483648i64);
    int64_exact: "toInt64(-9223372036854775808)" => Number, false, json!(i64::MIN);
    uint8: "toUInt8(255)" => Number, false, json!(255);
    uint16: "toUInt16(65535)" => Number, false, json!(65535);
    uint32: "toUInt32(4294967295)" => Number, false, json!(4294967295u32);
    uint64_exact: "toUInt64(18446744073709551615)" => Number, false, json!(u64::MAX);
    int128_exact_text: "toInt128('-170141183460469231731687303715884105728')" => String, false, json!("-170141183460469231731687303715884105728");
    uint128_exact_text: "toUInt128('340282366920938463463374607431768211455')" => String, false, json!("340282366920938463463374607431768211455");
    int256_exact_text: "toInt256('-57896044618658097711785492504343953926634992332820282019728792003956564819968')" => String, false, json!("-57896044618658097711785492504343953926634992332820282019728792003956564819968");
    uint256_exact_text: "toUInt256('115792089237316195423570985008687907853269984665640564039457584007913129639935')" => String, false, json!("115792089237316195423570985008687907853269984665640564039457584007913129639935");
    float32: "toFloat32(1.5)" => Number, false, json!(1.5);
    float64: "toFloat64(-2.25)" => Number, false, json!(-2.25);
    decimal_narrow: "toDecimal32(2.75, 2)" => Number, false, json!(2.75);
    bool_true: "true" => Bool, false, json!(true);
    string_utf8: "'héllo, wörld'" => String, false, json!("héllo, wörld");
    fixed_string: "toFixedString('ab', 4)" => String, false, json!("ab");
    low_cardinality: "toLowCardinality('api')" => String, false, json!("api");
    low_cardinality_nullable: "toLowCardinality(toNullable('x'))" => String, true, json!("x");
    nullable_null: "CAST(NULL AS Nullable(Int32))" => Number, true, Value::Null;
    nullable_value: "CAST(7 AS Nullable(Int32))" => Number, true, json!(7);
    nullable_string: "CAST(NULL AS Nullable(String))" => String, true, Value::Null;
    enum8_name: "CAST('down' AS Enum8('up' = 1, 'down' = -2))" => String, false, json!("down");
    enum16_name: "CAST('b' AS Enum16('a' = 1000, 'b' = 2000))" => String, false, json!("b");
    date: "toDate('2024-02-29')" => Time, false, json!(1_709_164_800_000_000_000i64);
    date32: "toDate32('1900-01-01')" => Time, false, json!(-2_208_988_800_000_000_000i64);
    datetime: "toDateTime('2024-01-01 00:00:00', 'UTC')" => Time, false, json!(1_704_067_200_000_000_000i64);
    datetime_tz_same_instant: "toDateTime('2024-01-01 05:30:00', 'Asia/Kolkata')" => Time, false, json!(1_704_067_200_000_000_000i64);
    datetime64_3: "toDateTime64('2024-01-01 00:00:00.123', 3, 'UTC')" => Time, false, json!(1_704_067_200_123_000_000i64);
    datetime64_6: "toDateTime64('2024-01-01 00:00:00.123456', 6)" => Time, false, json!(1_704_067_200_123_456_000i64);
    datetime64_9_exact: "toDateTime64('2024-01-01 00:00:00.123456789', 9, 'UTC')" => Time, false, json!(1_704_067_200_123_456_789i64);
    datetime_nullable: "CAST(NULL AS Nullable(DateTime))" => Time, true, Value::Null;
    uuid: "toUUID('61f0c404-5cb3-11e7-907b-a6006ad3dba0')" => String, false, json!("61f0c404-5cb3-11e7-907b-a6006ad3dba0");
    ipv4: "toIPv4('10.1.2.3')" => String, false, json!("10.1.2.3");
    ipv6: "toIPv6('2001:db8::1')" => String, false, json!("2001:db8::1");
    ipv6_mapped_v4: "toIPv6('::ffff:1.2.3.4')" => String, false, json!("::ffff:1.2.3.4");
    array_of_ints: "[1, 2, 3]" => Json, false, json!([1, 2, 3]);
    array_of_nullable_strings: "['a', NULL]" => Json, false, json!(["a", null]);
    array_of_datetimes: "[toDateTime('2024-01-01 00:00:00', 'UTC')]" => Json, false, json!(["2024-01-01 00:00:00"]);
    map_string_to_int: "map('a', 1, 'b', 2)" => Json, false, json!({"a": 1, "b": 2});
    map_of_uint64_quoted: "map('big', toUInt64(18446744073709551615))" => Json, false, json!({"big": "18446744073709551615"});
    tuple_unnamed: "tuple(1, 'x')" => Json, false, json!([1, "x"]);
    tuple_named: "CAST((1, 'y'), 'Tuple(a Int8, b String)')" => Json, false, json!({"a": 1, "b": "y"});
    json_object: "'{\"a\": 1, \"b\": {\"c\": \"x\"}}'::JSON" => Json, false, json!({"a": 1, "b": {"c": "x"}});
    variant_number: "1::Variant(UInt8, String)" => Json, false, json!(1);
    variant_string: "'x'::Variant(UInt8, String)" => Json, false, json!("x");
    dynamic_value: "'hello'::Dynamic" => Json, false, json!("hello");
}

/// Nested columns: flattened to `n.a`/`n.b` arrays by default, objects when kept whole
/// (`allowQuerySettings` lets the query say so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested() {
    let e = engine();
    let db = e.database("nested");
    db.exec("CREATE TABLE t (id UInt8, n Nested(a UInt8, b String)) ENGINE = Memory");
    db.exec("INSERT INTO t VALUES (1, [1, 2], ['x', 'y'])");
    let host = Host::start().await;
    // Query B keeps Nested whole with its own SETTINGS clause, which needs readonly=2.
    let ds = datasource_with(e, &db.name, json!({"allowQuerySettings": true}));
    let mut answers = host
        .query(
            &ds,
            vec![
                Q::sql("A", "SELECT n.a, n.b FROM t"),
                Q::sql("B", "SELECT n FROM t SETTINGS flatten_nested = 0"),
            ],
        )
        .await;
    let a = answers.remove("A").unwrap();
    let f = a.frame();
    assert_eq!(f.field("n.a").values, vec![json!([1, 2])]);
    assert_eq!(f.field("n.b").values, vec![json!(["x", "y"])]);
    let b = answers.remove("B").unwrap();
    let values = &b.frame().fields[0].values;
    assert_eq!(
        values,
        &vec![json!([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])]
    );
}

/// Decimals wider than a double's 15 digits are shown as Float64 with a warning notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimal_wide_has_notice() {
    let (f, meta) = select("toDecimal128('12345.67', 2)").await;
    assert_eq!(f.kind, Kind::Number);
    assert_eq!(f.values, vec![json!(12345.67)]);
    let notices = meta["notices"].as_array().expect("notices");
    assert!(
        notices
            .iter()
            .any(|n| n["severity"] == "warning"
                && n["text"].as_str().unwrap().contains("toString(v)")),
        "{meta}"
    );
}

/// A type with no Grafana representation is an error naming the column and type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmappable_type_names_column() {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_for(e, "default");
    let mut answers = host
        .query(&ds, vec![Q::sql("A", "SELECT uniqState(1) AS state")])
        .await;
    let a = answers.remove("A").unwrap();
    assert!(
        a.error.contains("`state`") && a.error.contains("AggregateFunction"),
        "{}",
        a.error
    );
    assert_eq!((a.status, a.error_source.as_str()), (400, "downstream"));
}

/// Many rows and batches stream into one frame; nulls stay nulls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_rows_in_one_frame() {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_for(e, "default");
    let sql = "SELECT toDateTime64('2024-01-01 00:00:00', 9, 'UTC') + toIntervalMillisecond(number) AS ts, \
               if(number % 10 = 0, NULL, number) AS n, toString(number) AS s FROM numbers(100000)";
    let mut answers = host.query(&ds, vec![Q::sql("A", sql)]).await;
    let a = answers.remove("A").unwrap();
    let f = a.frame();
    assert_eq!(f.rows(), 100_000);
    assert_eq!(f.field("n").values[0], Value::Null);
    assert_eq!(f.field("n").values[99_999], json!(99_999));
    assert_eq!(f.field("ts").values[1], json!(1_704_067_200_001_000_000i64));
    assert_eq!(f.field("s").values[12_345], json!("12345"));
}

/// Statements DESCRIBE cannot analyse still answer, typed from Arrow alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_statement_without_describe() {
    let e = engine();
    let host = Host::start().await;
    let ds = datasource_for(e, "default");
    let mut answers = host.query(&ds, vec![Q::sql("A", "SHOW DATABASES")]).await;
    let a = answers.remove("A").unwrap();
    let f = a.frame();
    assert!(
        f.fields[0].values.contains(&json!("system")),
        "{:?}",
        f.fields[0].values
    );
}
