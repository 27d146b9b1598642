-- Exporter logs table, v0.151+ layout (ordering key toStartOfFiveMinutes(Timestamp)).
CREATE TABLE otel_logs (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String, SpanId String, TraceFlags UInt8,
    SeverityText LowCardinality(String), SeverityNumber UInt8,
    ServiceName LowCardinality(String), Body String,
    ResourceSchemaUrl LowCardinality(String), ResourceAttributes Map(LowCardinality(String), String),
    ScopeSchemaUrl LowCardinality(String), ScopeName String, ScopeVersion LowCardinality(String),
    ScopeAttributes Map(LowCardinality(String), String), LogAttributes Map(LowCardinality(String), String),
    EventName String,
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = MergeTree PARTITION BY toDate(Timestamp)
ORDER BY (toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp)
;
-- 120 rows, one per 30 s from 2024-01-01 00:00:00 UTC: services a/b, pods a-0/a-1/b-0,
-- severities cycling INFO, WARN, ERROR, DEBUG (numbers 9, 13, 17, 5), every 4th row traced.
INSERT INTO otel_logs SELECT
    toDateTime64('2024-01-01 00:00:00', 9, 'UTC') + toIntervalSecond(number * 30),
    if(number % 4 = 0, concat('trace', toString(number)), ''), if(number % 4 = 0, concat('span', toString(number)), ''), 1,
    arrayElement(['INFO', 'WARN', 'ERROR', 'DEBUG'], 1 + number % 4), arrayElement([9, 13, 17, 5], 1 + number % 4),
    if(number % 3 = 2, 'b', 'a'), concat('request ', toString(number), if(number % 10 = 0, ' timeout', ' ok')),
    '', map('service.name', if(number % 3 = 2, 'b', 'a'), 'k8s.pod.name', if(number % 3 = 2, 'b-0', concat('a-', toString(number % 3)))),
    '', 'app', '1.0', map(), map('http.status_code', if(number % 10 = 0, '504', '200')), ''
FROM numbers(120)
