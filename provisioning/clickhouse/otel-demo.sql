-- OpenTelemetry demo data for Lantern's main job (.ci/up): the ClickHouse exporter's current
-- tables (v0.151+ layout) in database `otel`, filled with six hours of synthetic logs and traces
-- that end now: five services, Kubernetes resource attributes, severities from trace to fatal,
-- HTTP request logs that share trace ids with the spans. Statements are separated by lines
-- holding only ';'.

CREATE DATABASE IF NOT EXISTS otel
;
CREATE TABLE IF NOT EXISTS otel.otel_logs (
    `Timestamp` DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    `TraceId` String CODEC(ZSTD(1)),
    `SpanId` String CODEC(ZSTD(1)),
    `TraceFlags` UInt8,
    `SeverityText` LowCardinality(String) CODEC(ZSTD(1)),
    `SeverityNumber` UInt8,
    `ServiceName` LowCardinality(String) CODEC(ZSTD(1)),
    `Body` String CODEC(ZSTD(1)),
    `ResourceSchemaUrl` LowCardinality(String) CODEC(ZSTD(1)),
    `ResourceAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    `ScopeSchemaUrl` LowCardinality(String) CODEC(ZSTD(1)),
    `ScopeName` String CODEC(ZSTD(1)),
    `ScopeVersion` LowCardinality(String) CODEC(ZSTD(1)),
    `ScopeAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    `LogAttributes` Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    `EventName` String CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_key mapKeys(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_log_attr_value mapValues(LogAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_lower_body lower(Body) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
ORDER BY (toStartOfFiveMinutes(Timestamp), ServiceName, Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
;
CREATE TABLE IF NOT EXISTS otel.otel_traces (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (Timestamp DateTime64(9), Name LowCardinality(String), Attributes Map(LowCardinality(String), String)) CODEC(ZSTD(1)),
    Links Nested (TraceId String, SpanId String, TraceState String, Attributes Map(LowCardinality(String), String)) CODEC(ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = MergeTree()
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
;
CREATE TABLE IF NOT EXISTS otel.otel_traces_trace_id_ts (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(Delta, ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(Delta, ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = AggregatingMergeTree()
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
SETTINGS index_granularity = 8192
;
CREATE MATERIALIZED VIEW IF NOT EXISTS otel.otel_traces_trace_id_ts_mv TO otel.otel_traces_trace_id_ts AS
SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
FROM otel.otel_traces WHERE TraceId != '' GROUP BY TraceId
;
-- 40,000 requests over six hours: one SERVER span per service hop, 2–4 hops per request.
INSERT INTO otel.otel_traces
SELECT
    start + toIntervalMicrosecond(hop * 1500) AS Timestamp,
    trace_id AS TraceId,
    lower(hex(cityHash64(trace_id, hop))) AS SpanId,
    if(hop = 0, '', lower(hex(cityHash64(trace_id, hop - 1)))) AS ParentSpanId,
    '' AS TraceState,
    arrayElement(['GET /api/products', 'POST /api/cart', 'POST /api/checkout', 'POST /api/charge', 'GET /api/recommendations'], service_idx + 1) AS SpanName,
    if(hop = 0, 'Server', 'Internal') AS SpanKind,
    service AS ServiceName,
    map('service.name', service, 'k8s.namespace.name', 'shop', 'k8s.pod.name', concat(service, '-', toString(7 + rq % 3), 'f9c-', toString(rq % 5)),
        'k8s.container.name', service, 'k8s.node.name', concat('node-', toString(rq % 4)), 'deployment.environment.name', 'demo') AS ResourceAttributes,
    'opentelemetry-instrumentation' AS ScopeName,
    '1.28.0' AS ScopeVersion,
    map('http.method', if(service_idx IN (0, 4), 'GET', 'POST'), 'http.route', SpanName, 'http.status_code', toString(status)) AS SpanAttributes,
    toUInt64(duration_ns) AS Duration,
    if(status >= 500, 'Error', if(hop = 0, 'Ok', 'Unset')) AS StatusCode,
    if(status >= 500, 'upstream returned 503', '') AS StatusMessage,
    if(status >= 500, [start + toIntervalMicrosecond(hop * 1500 + 200)], []) AS `Events.Timestamp`,
    if(status >= 500, ['exception'], []) AS `Events.Name`,
    if(status >= 500, [map('exception.type', 'UpstreamUnavailable', 'exception.message', 'payment gateway timed out')], []) AS `Events.Attributes`,
    [] AS `Links.TraceId`, [] AS `Links.SpanId`, [] AS `Links.TraceState`, [] AS `Links.Attributes`
FROM (
    SELECT
        number AS rq,
        hop,
        now64(9) - toIntervalSecond(21600) + toIntervalMillisecond(intDiv(number * 21600000, 40000)) AS start,
        lower(hex(reinterpretAsFixedString(cityHash64(number, 'trace'))) || hex(reinterpretAsFixedString(cityHash64(number, 'id')))) AS trace_id,
        (number + hop) % 5 AS service_idx,
        arrayElement(['frontend', 'cart', 'checkout', 'payment', 'recommendation'], service_idx + 1) AS service,
        if(cityHash64(number, 'err') % 50 = 0, 503, 200) AS status,
        (2 + cityHash64(number, hop) % 40) * 1000000 * if(status >= 500, 25, 1) AS duration_ns
    FROM numbers(40000)
    ARRAY JOIN range(toUInt8(2 + number % 3)) AS hop
)
;
-- Logs: one request log per span plus background noise at every level.
INSERT INTO otel.otel_logs
SELECT
    Timestamp + toIntervalMicrosecond(100) AS Timestamp,
    TraceId, SpanId, 1 AS TraceFlags,
    if(StatusCode = 'Error', 'ERROR', 'INFO') AS SeverityText,
    if(StatusCode = 'Error', 17, 9) AS SeverityNumber,
    ServiceName,
    concat(SpanAttributes['http.method'], ' ', SpanName, ' ', SpanAttributes['http.status_code'], ' in ', toString(intDiv(Duration, 1000000)), 'ms',
           if(StatusCode = 'Error', concat(': ', StatusMessage), '')) AS Body,
    '' AS ResourceSchemaUrl, ResourceAttributes, '' AS ScopeSchemaUrl, ScopeName, ScopeVersion, map() AS ScopeAttributes,
    map('http.method', SpanAttributes['http.method'], 'http.route', SpanName, 'http.status_code', SpanAttributes['http.status_code'],
        'duration_ms', toString(intDiv(Duration, 1000000))) AS LogAttributes,
    '' AS EventName
FROM otel.otel_traces
;
INSERT INTO otel.otel_logs
SELECT
    now64(9) - toIntervalSecond(21600) + toIntervalMillisecond(intDiv(number * 21600000, 60000)) AS Timestamp,
    '' AS TraceId, '' AS SpanId, 0 AS TraceFlags,
    arrayElement(['TRACE', 'DEBUG', 'DEBUG', 'INFO', 'INFO', 'INFO', 'WARN', 'ERROR', 'FATAL'], 1 + cityHash64(number) % 9) AS SeverityText,
    arrayElement([1, 5, 5, 9, 9, 9, 13, 17, 21], 1 + cityHash64(number) % 9) AS SeverityNumber,
    arrayElement(['frontend', 'cart', 'checkout', 'payment', 'recommendation'], 1 + number % 5) AS ServiceName,
    replaceOne(arrayElement([
        'cache refresh took {d}ms',
        'connection pool stats: active=4 idle=12',
        'feature flag recommendations.v2 evaluated',
        'user session started',
        'inventory sync completed',
        'GC pause {d}ms',
        'slow query detected: SELECT * FROM products WHERE category = ? ({d}ms)',
        'failed to publish event to kafka: broker not available',
        'out of memory: container killed'], 1 + cityHash64(number) % 9), '{d}', toString(5 + cityHash64(number, 'd') % 900)) AS Body,
    '' AS ResourceSchemaUrl,
    map('service.name', ServiceName, 'k8s.namespace.name', 'shop', 'k8s.pod.name', concat(ServiceName, '-', toString(7 + number % 3), 'f9c-', toString(number % 5)),
        'k8s.container.name', ServiceName, 'k8s.node.name', concat('node-', toString(number % 4)), 'deployment.environment.name', 'demo') AS ResourceAttributes,
    '' AS ScopeSchemaUrl, 'app' AS ScopeName, '1.0.0' AS ScopeVersion, map() AS ScopeAttributes,
    map('thread', concat('worker-', toString(number % 8))) AS LogAttributes,
    '' AS EventName
FROM numbers(60000)
