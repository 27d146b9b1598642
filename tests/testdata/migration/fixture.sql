-- The data the migration corpus runs against: requests (a metrics-like table), OTel logs (the
-- 1.2.9 exporter generation, with TimestampTime) and OTel traces. The traces tables and the
-- trace-id lookup are ../otel/traces_current.sql's (loaded first; its rows are from 2024).
-- The rows below fall in 2023-11-14 22:13:20 .. +2 h UTC (the corpus' time range).
CREATE TABLE requests (
    ts DateTime, host LowCardinality(String), status UInt16, latency Float64
) ENGINE = MergeTree ORDER BY ts
;
INSERT INTO requests
SELECT toDateTime(1700000000 + number * 30), ['api-1', 'api-2', 'web-1'][number % 3 + 1],
       [200, 200, 404, 500][number % 4 + 1], round(10 + (number * 7) % 90, 1)
FROM numbers(200)
;
CREATE TABLE otel_logs (
    Timestamp DateTime64(9), TimestampTime DateTime DEFAULT toDateTime(Timestamp),
    TraceId String, SpanId String, TraceFlags UInt8, SeverityText LowCardinality(String),
    SeverityNumber UInt8, ServiceName LowCardinality(String), Body String,
    ResourceSchemaUrl LowCardinality(String), ResourceAttributes Map(LowCardinality(String), String),
    ScopeSchemaUrl LowCardinality(String), ScopeName String, ScopeVersion LowCardinality(String),
    ScopeAttributes Map(LowCardinality(String), String), LogAttributes Map(LowCardinality(String), String)
) ENGINE = MergeTree PARTITION BY toDate(TimestampTime)
PRIMARY KEY (ServiceName, TimestampTime) ORDER BY (ServiceName, TimestampTime, Timestamp)
;
INSERT INTO otel_logs (Timestamp, TraceId, SpanId, SeverityText, SeverityNumber, ServiceName, Body,
    ResourceAttributes, ScopeAttributes, LogAttributes)
SELECT toDateTime64(1700000000 + number * 45, 9) + toIntervalMillisecond(number % 1000),
       if(number % 5 = 0, concat('trace', toString(number % 3)), ''), lower(hex(number)),
       ['INFO', 'WARN', 'ERROR', 'DEBUG'][number % 4 + 1], [9, 13, 17, 5][number % 4 + 1],
       ['cart', 'checkout'][number % 2 + 1],
       concat('request ', toString(number), if(number % 6 = 0, ' failed: it''s down', ' ok')),
       map('service.name', ['cart', 'checkout'][number % 2 + 1], 'k8s.pod.name', concat('pod-', toString(number % 3))),
       map('scope', 'http'), map('http.method', ['GET', 'POST'][number % 2 + 1])
FROM numbers(120)
;
INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
    ResourceAttributes, SpanAttributes, Duration, StatusCode, StatusMessage)
SELECT toDateTime64(1700000000 + intDiv(number, 4) * 300, 9) + toIntervalMillisecond(number % 4 * 10),
       concat('trace', toString(intDiv(number, 4))), concat('span', toString(number)),
       if(number % 4 = 0, '', concat('span', toString(number - number % 4))),
       ['GET /cart', 'db.query', 'charge', 'render'][number % 4 + 1], 'SPAN_KIND_SERVER',
       ['cart', 'db', 'payment', 'web'][number % 4 + 1],
       map('service.name', ['cart', 'db', 'payment', 'web'][number % 4 + 1]), map('http.method', 'GET'),
       (number % 4 + 1) * 1000000, ['STATUS_CODE_OK', 'STATUS_CODE_ERROR'][number % 2 + 1], ''
FROM numbers(40)
