-- Exporter traces table (current) with the trace-id lookup table and its materialized view.
CREATE TABLE otel_traces (
    Timestamp DateTime64(9), TraceId String, SpanId String, ParentSpanId String, TraceState String,
    SpanName LowCardinality(String), SpanKind LowCardinality(String), ServiceName LowCardinality(String),
    ResourceAttributes Map(LowCardinality(String), String), ScopeName String, ScopeVersion String,
    SpanAttributes Map(LowCardinality(String), String), Duration UInt64,
    StatusCode LowCardinality(String), StatusMessage String,
    Events Nested (Timestamp DateTime64(9), Name LowCardinality(String), Attributes Map(LowCardinality(String), String)),
    Links Nested (TraceId String, SpanId String, TraceState String, Attributes Map(LowCardinality(String), String))
) ENGINE = MergeTree PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
;
CREATE TABLE otel_traces_trace_id_ts (
    TraceId String, Start SimpleAggregateFunction(min, DateTime), End SimpleAggregateFunction(max, DateTime)
) ENGINE = AggregatingMergeTree PARTITION BY toStartOfWeek(Start) ORDER BY (TraceId)
;
CREATE MATERIALIZED VIEW otel_traces_trace_id_ts_mv TO otel_traces_trace_id_ts AS
SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End FROM otel_traces WHERE TraceId != '' GROUP BY TraceId
;
-- trace0: a server root span (new spellings, error) with one child (old spellings) and an event.
INSERT INTO otel_traces VALUES
    ('2024-01-01 00:00:00.000000000', 'trace0', 'root', '', '', 'GET /checkout', 'Server', 'frontend',
     map('service.name', 'frontend', 'k8s.pod.name', 'fe-1'), 'inst', '1.0', map('http.method', 'GET'), 250000000, 'Error', 'boom',
     ['2024-01-01 00:00:00.100000000'], ['exception'], [map('exception.type', 'Timeout')], ['trace9'], ['other'], [''], [map()]),
    ('2024-01-01 00:00:00.010000000', 'trace0', 'child', 'root', '', 'charge', 'SPAN_KIND_CLIENT', 'payment',
     map('service.name', 'payment'), 'inst', '1.0', map(), 100000000, 'STATUS_CODE_OK', '', [], [], [], [], [], [], []),
    ('2024-01-01 00:10:00.000000000', 'trace1', 'r1', '', '', 'GET /', 'SPAN_KIND_SERVER', 'frontend',
     map('service.name', 'frontend'), 'inst', '1.0', map(), 5000000, 'STATUS_CODE_UNSET', '', [], [], [], [], [], [], [])
