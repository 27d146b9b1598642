-- The 2022 exporter logs table: no scope columns, Int32 SeverityNumber.
CREATE TABLE otel_logs (
    Timestamp DateTime64(9), TraceId String, SpanId String, TraceFlags UInt32,
    SeverityText LowCardinality(String), SeverityNumber Int32, ServiceName LowCardinality(String), Body String,
    ResourceAttributes Map(LowCardinality(String), String), LogAttributes Map(LowCardinality(String), String)
) ENGINE = MergeTree PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SeverityText, toUnixTimestamp(Timestamp), TraceId)
;
INSERT INTO otel_logs SELECT toDateTime64('2024-01-01 00:00:00', 9, 'UTC') + toIntervalSecond(number), '', '', 0, '', 21, 'old',
    concat('legacy ', toString(number)), map('host.name', 'h1'), map()
FROM numbers(5)
