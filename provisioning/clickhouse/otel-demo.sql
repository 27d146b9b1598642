-- OpenTelemetry demo data for Lantern's main job (.ci/up), the bundled dashboards and their test
-- (tests/it/dashboards.rs): the ClickHouse exporter's current tables (v0.151+ layout) in database
-- `otel`, filled with six hours of synthetic logs and traces that end now. Everything is
-- generated here from numbers() and cityHash64, so the content is the same on every load (only
-- the times move with now()).
--
-- The cluster: four namespaces (shop, ingress-nginx, warehouse, kube-system), nine deployments
-- with one to three pods each on four nodes, application containers plus istio-proxy sidecars
-- in `shop`. Every line and span carries k8s.namespace.name, k8s.deployment.name, k8s.pod.name,
-- k8s.container.name and k8s.node.name.
--
-- * traces: requests through frontend → cart / checkout → payment / recommendation, one SERVER
--   span per hop, with errors (payment timeouts, more of them in the last 90 minutes; a
--   recommendation pod without its model; redis refusals in cart). `recommendation` runs an old
--   collector: SPAN_KIND_SERVER / STATUS_CODE_ERROR spellings;
-- * request logs: one per span (same TraceId/SpanId, HTTP method/route/status/duration_ms
--   attributes), application error lines inside errored requests (also with their TraceId);
--   untraced HTTP request logs from ingress-nginx (http.response.status_code) and the legacy
--   inventory service (http.status_code, http.target);
-- * background logs of every container, each source with its own severity spelling ("info",
--   "Information", "WARN", "Warn", "WARNING", "warning", "ERROR", "err"…; the sidecars and
--   coredns send text only, SeverityNumber 0);
-- * Kubernetes events (k8s_events scope, service `kubelet`): a payment pod killed for memory
--   every 30 minutes ("OOMKilled"), a recommendation pod in CrashLoopBackOff for the last two
--   hours ("Back-off restarting failed container"), two OOM kills of an inventory pod.
--
-- Statements are separated by lines holding only ';'.

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
-- The cluster's containers (dropped at the end): one row per (pod, container), numbered 0–29 in
-- (namespace, deployment, replica, container) order; the statements below pick containers by that
-- number. `style` is the container's logging library (severity spelling and messages).
DROP TABLE IF EXISTS otel.demo_containers
;
CREATE TABLE otel.demo_containers (
    idx UInt32, namespace String, deployment String, replica UInt8, pod String, node String,
    container String, style UInt8, resource Map(LowCardinality(String), String)
) ENGINE = Memory
;
INSERT INTO otel.demo_containers
SELECT
    toUInt32(row_number() OVER (ORDER BY namespace, deployment, replica, container) - 1) AS idx,
    namespace, deployment, replica, pod, node, container, style,
    map('service.name', service, 'k8s.namespace.name', namespace, 'k8s.deployment.name', deployment,
        'k8s.pod.name', pod, 'k8s.container.name', container, 'k8s.node.name', node,
        'k8s.cluster.name', 'demo', 'deployment.environment.name', 'demo') AS resource
FROM (
    SELECT
        d.1 AS namespace, d.2 AS deployment, toUInt8(r) AS replica,
        concat(deployment, '-', substring(lower(hex(cityHash64(deployment))), 1, 10), '-',
               substring(lower(hex(cityHash64(deployment, r))), 1, 5)) AS pod,
        concat('worker-', toString(1 + cityHash64(deployment, r, 'node') % 4)) AS node,
        c.1 AS container, c.2 AS style,
        if(container = 'istio-proxy', 'istio-proxy', d.5) AS service
    FROM (
        SELECT arrayJoin([
            ('shop', 'frontend', 3, [('frontend', 1), ('istio-proxy', 6)], 'frontend'),
            ('shop', 'cart', 2, [('cart', 2), ('istio-proxy', 6)], 'cart'),
            ('shop', 'checkout', 2, [('checkout', 3), ('istio-proxy', 6)], 'checkout'),
            ('shop', 'payment', 2, [('payment', 4), ('istio-proxy', 6)], 'payment'),
            ('shop', 'recommendation', 2, [('recommendation', 5), ('istio-proxy', 6)], 'recommendation'),
            ('ingress-nginx', 'ingress-nginx-controller', 2, [('controller', 7)], 'ingress-nginx'),
            ('warehouse', 'inventory', 3, [('inventory', 8)], 'inventory'),
            ('warehouse', 'inventory-sync', 1, [('sync', 8)], 'inventory-sync'),
            ('kube-system', 'coredns', 2, [('coredns', 9)], 'coredns')
        ]) AS d
    )
    ARRAY JOIN range(d.3) AS r
    ARRAY JOIN d.4 AS c
)
;
-- 24,000 requests over six hours. Paths (by share): products → recommendation (35 %), add to
-- cart (20 %), checkout → payment (15 %), view cart (15 %), home page (15 %). One SERVER span per
-- hop; a failing leaf fails every hop above it (leaf 503/500, callers 502).
INSERT INTO otel.otel_traces
SELECT
    start + toIntervalMicrosecond(hop * 1500) AS Timestamp,
    trace_id AS TraceId,
    lower(hex(cityHash64(trace_id, hop))) AS SpanId,
    if(hop = 0, '', lower(hex(cityHash64(trace_id, hop - 1)))) AS ParentSpanId,
    '' AS TraceState,
    ops[hop + 1] AS SpanName,
    if(service = 'recommendation', 'SPAN_KIND_SERVER', 'Server') AS SpanKind,
    service AS ServiceName,
    c.resource AS ResourceAttributes,
    'opentelemetry-instrumentation' AS ScopeName,
    '1.28.0' AS ScopeVersion,
    if(service = 'recommendation',
       map('http.method', method, 'http.route', route, 'http.status_code', toString(status)),
       map('http.request.method', method, 'http.route', route, 'http.response.status_code', toString(status))) AS SpanAttributes,
    toUInt64(duration_ms * 1000000) AS Duration,
    multiIf(status >= 500 AND service = 'recommendation', 'STATUS_CODE_ERROR', status >= 500, 'Error',
            service = 'recommendation', 'STATUS_CODE_UNSET', hop = 0, 'Ok', 'Unset') AS StatusCode,
    if(status >= 500, message, '') AS StatusMessage,
    if(status >= 500 AND is_leaf, [start + toIntervalMicrosecond(hop * 1500 + 200)], []) AS `Events.Timestamp`,
    if(status >= 500 AND is_leaf, ['exception'], []) AS `Events.Name`,
    if(status >= 500 AND is_leaf, [map('exception.type', error_type, 'exception.message', message)], []) AS `Events.Attributes`,
    [] AS `Links.TraceId`, [] AS `Links.SpanId`, [] AS `Links.TraceState`, [] AS `Links.Attributes`
FROM (
    SELECT
        rq, hop, start, trace_id, ops, method, route, service, replica, is_leaf, duration_ms, error_type,
        multiIf(NOT leaf_failed AND hop = 0 AND path = 4 AND cityHash64(rq, '404') % 5 = 0, 404,
                NOT leaf_failed, 200, is_leaf, leaf_status, 502) AS status,
        if(is_leaf, leaf_message, concat('downstream ', services[length(services)], ' failed: ', leaf_message)) AS message
    FROM (
        SELECT
            *,
            hop,
            services[hop + 1] AS service,
            hop + 1 = length(services) AS is_leaf,
            if(is_leaf, leaf_replica, cityHash64(rq, hop, 'replica') % if(service = 'frontend', 3, 2)) AS replica,
            arraySum(arraySlice(own_ms, hop + 1)) + (cityHash64(rq, hop, 'ms') % 1000) / 1000 AS duration_ms,
            splitByChar(' ', ops[hop + 1])[1] AS method,
            splitByChar(' ', ops[hop + 1])[2] AS route
        FROM (
            SELECT
                number AS rq,
                now64(9) - toIntervalSecond(21600) + toIntervalMillisecond(intDiv(number * 21600000, 24000)) AS start,
                lower(hex(reinterpretAsFixedString(cityHash64(number, 'trace'))) || hex(reinterpretAsFixedString(cityHash64(number, 'id')))) AS trace_id,
                cityHash64(number, 'path') % 20 AS roll,
                multiIf(roll < 7, 0, roll < 11, 1, roll < 14, 2, roll < 17, 3, 4) AS path,
                [['frontend', 'recommendation'], ['frontend', 'cart'], ['frontend', 'checkout', 'payment'], ['frontend', 'cart'], ['frontend']][path + 1] AS services,
                [['GET /api/products', 'GET /api/recommendations'], ['POST /api/cart', 'POST /api/cart/items'],
                 ['POST /api/checkout', 'POST /api/checkout', 'POST /api/charge'], ['GET /api/cart', 'GET /api/cart/items'], ['GET /']][path + 1] AS ops,
                services[-1] AS leaf,
                cityHash64(number, 'replica') % if(leaf = 'frontend', 3, 2) AS leaf_replica,
                -- recommendation replica 0 has lost its model for the last two hours (CrashLoopBackOff).
                number >= 16000 AND leaf = 'recommendation' AND leaf_replica = 0 AS model_missing,
                multiIf(leaf = 'payment', cityHash64(number, 'err') % if(number >= 18000, 8, 30) = 0,
                        leaf = 'recommendation', (model_missing AND cityHash64(number, 'err') % 3 = 0) OR cityHash64(number, 'err') % 80 = 0,
                        leaf = 'cart', cityHash64(number, 'err') % 100 = 0,
                        cityHash64(number, 'err') % 400 = 0) AS leaf_failed,
                if(leaf = 'payment', 503, 500) AS leaf_status,
                multiIf(leaf = 'payment', 'payment gateway timed out after 2500ms',
                        leaf = 'recommendation', 'model not loaded: /models/recs-v2.bin not found',
                        leaf = 'cart', 'redis: dial tcp 10.0.4.12:6379: connect: connection refused',
                        'template render failed: context canceled') AS leaf_message,
                multiIf(leaf = 'payment', 'GatewayTimeout', leaf = 'recommendation', 'FileNotFoundError',
                        leaf = 'cart', 'RedisConnectionError', 'RenderError') AS error_type,
                arrayMap((s, i) -> (2 + cityHash64(number, i) % 30) * multiIf(s = 'payment', 3, s = 'checkout', 2, 1)
                                  * if(leaf_failed AND i = length(services), if(s = 'payment', 40, 8), 1),
                         services, arrayEnumerate(services)) AS own_ms
            FROM numbers(24000)
        )
        ARRAY JOIN range(length(services)) AS hop
    )
) AS s
INNER JOIN otel.demo_containers AS c
    ON c.deployment = s.service AND c.replica = s.replica AND c.container = s.service
;
-- Request logs: one per span, written by the service's own logging library (its severity
-- spelling), with the span's TraceId/SpanId and HTTP attributes (old semantic-convention names for
-- `recommendation`).
INSERT INTO otel.otel_logs
SELECT
    t.Timestamp + toIntervalMicrosecond(t.Duration / 1000) AS Timestamp,
    t.TraceId, t.SpanId, 1 AS TraceFlags,
    c.spelling[multiIf(status >= 500, 4, status >= 400, 3, 1)] AS SeverityText,
    [9, 5, 13, 17][multiIf(status >= 500, 4, status >= 400, 3, 1)] AS SeverityNumber,
    t.ServiceName,
    multiIf(c.style = 1, concat('request completed ', method, ' ', route, ' ', toString(status), ' ', toString(ms), 'ms'),
            c.style = 2, concat('Request finished HTTP/1.1 ', method, ' http://', t.ServiceName, route, ' - ', toString(status), ' - ', toString(ms), 'ms'),
            c.style = 3, concat('handled request method=', method, ' route=', route, ' status=', toString(status), ' duration=', toString(ms), 'ms'),
            c.style = 4, concat(method, ' ', route, ' -> ', toString(status), ' in ', toString(ms), ' ms'),
            concat('"', method, ' ', route, ' HTTP/1.1" ', toString(status), ' - ', toString(ms), 'ms')) AS Body,
    '' AS ResourceSchemaUrl, t.ResourceAttributes, '' AS ScopeSchemaUrl, 'http.server' AS ScopeName, '' AS ScopeVersion, map() AS ScopeAttributes,
    if(t.ServiceName = 'recommendation',
       map('http.method', method, 'http.route', route, 'http.status_code', toString(status), 'duration_ms', toString(ms)),
       map('http.request.method', method, 'http.route', route, 'http.response.status_code', toString(status), 'duration_ms', toString(ms))) AS LogAttributes,
    '' AS EventName
FROM (
    SELECT *,
        toUInt16OrZero(coalesce(nullIf(SpanAttributes['http.response.status_code'], ''), SpanAttributes['http.status_code'])) AS status,
        coalesce(nullIf(SpanAttributes['http.request.method'], ''), SpanAttributes['http.method']) AS method,
        SpanAttributes['http.route'] AS route,
        round(Duration / 1e6, 1) AS ms
    FROM otel.otel_traces
) AS t
INNER JOIN (
    SELECT *, [['info', 'debug', 'warn', 'error'], ['Information', 'Debug', 'Warning', 'Error'], ['INFO', 'DEBUG', 'WARN', 'ERROR'],
               ['INFO', 'DEBUG', 'WARN', 'ERROR'], ['INFO', 'DEBUG', 'WARNING', 'ERROR']][style] AS spelling
    FROM otel.demo_containers WHERE style <= 5
) AS c ON c.pod = t.ResourceAttributes['k8s.pod.name'] AND c.container = t.ServiceName
;
-- The application's own error line inside each failed leaf span (same TraceId/SpanId).
INSERT INTO otel.otel_logs
SELECT
    Timestamp + toIntervalMicrosecond(200) AS Timestamp,
    TraceId, SpanId, 1 AS TraceFlags,
    multiIf(ServiceName = 'recommendation', 'CRITICAL', ServiceName = 'cart', 'Error', ServiceName = 'frontend', 'error', 'ERROR') AS SeverityText,
    if(ServiceName = 'recommendation', 21, 17) AS SeverityNumber,
    ServiceName,
    multiIf(ServiceName = 'payment', concat('charge failed: ', StatusMessage, ' (provider=stripe-sim, attempt=3)'),
            ServiceName = 'recommendation', concat('FileNotFoundError: ', StatusMessage),
            ServiceName = 'cart', concat('failed to load cart: ', StatusMessage),
            concat('render failed: ', StatusMessage)) AS Body,
    '' AS ResourceSchemaUrl, ResourceAttributes, '' AS ScopeSchemaUrl, 'app' AS ScopeName, '' AS ScopeVersion, map() AS ScopeAttributes,
    map('exception.type', `Events.Attributes`[1]['exception.type'], 'code.function', 'handle') AS LogAttributes,
    '' AS EventName
FROM otel.otel_traces
WHERE length(`Events.Name`) > 0
;
-- Untraced HTTP request logs: ingress-nginx access logs (new attribute names) and the legacy
-- inventory service (http.status_code, http.target). 5xx get worse in the last 90 minutes.
INSERT INTO otel.otel_logs
SELECT
    ts AS Timestamp, '' AS TraceId, '' AS SpanId, 0 AS TraceFlags,
    [c.spelling[1], c.spelling[1], c.spelling[3], c.spelling[4]][class - 1] AS SeverityText,
    [9, 9, 13, 17][class - 1] AS SeverityNumber,
    c.resource['service.name'] AS ServiceName,
    if(c.style = 7,
       concat('10.0.', toString(number % 7), '.', toString(number % 250), ' - - "', method, ' ', route, ' HTTP/1.1" ',
              toString(status), ' ', toString(200 + number % 3000), ' "-" "Mozilla/5.0" ', toString(ms / 1000), ' [shop-frontend-80]'),
       concat(method, ' ', route, ' -> ', toString(status), ' (', toString(ms), ' ms)')) AS Body,
    '' AS ResourceSchemaUrl, c.resource AS ResourceAttributes, '' AS ScopeSchemaUrl,
    if(c.style = 7, 'nginx.access', 'inventory.http') AS ScopeName, '' AS ScopeVersion, map() AS ScopeAttributes,
    if(c.style = 7,
       map('http.request.method', method, 'http.route', route, 'url.path', route, 'http.response.status_code', toString(status), 'duration_ms', toString(ms)),
       map('http.method', method, 'http.target', route, 'http.status_code', toString(status), 'duration_ms', toString(ms))) AS LogAttributes,
    '' AS EventName
FROM (
    SELECT
        number,
        now64(9) - toIntervalSecond(21600) + toIntervalMillisecond(intDiv(number * 21600000, 30000)) AS ts,
        -- two ingress pods, then the three inventory pods
        if(number % 3 = 0, 26 + cityHash64(number, 'pod') % 3, cityHash64(number, 'pod') % 2) AS cidx,
        cityHash64(number, 'status') % 1000 AS roll,
        multiIf(roll < if(number >= 22500, 40, 8), 503, roll < 60, 404, roll < 80, 302, 200) AS status,
        intDiv(status, 100) AS class,
        if(cidx >= 26, ['GET', 'GET', 'POST'][1 + number % 3], ['GET', 'GET', 'GET', 'POST'][1 + number % 4]) AS method,
        if(cidx >= 26, concat('/inventory/sku/', toString(1000 + cityHash64(number, 'sku') % 500)),
           ['/', '/api/products', '/api/cart', '/api/checkout', '/static/app.js'][1 + cityHash64(number, 'route') % 5]) AS route,
        round((1 + cityHash64(number, 'ms') % 120) * if(status = 503, 20, 1) * if(cidx >= 26, 3, 1) + (number % 10) / 10, 1) AS ms
    FROM numbers(30000)
) AS r
INNER JOIN (
    SELECT *, if(style = 7, ['info', 'debug', 'Warn', 'error'], ['Info', 'Debug', 'Warn', 'ERROR']) AS spelling
    FROM otel.demo_containers
) AS c ON c.idx = r.cidx
;
-- Background logs of every container, in each source's own spelling. The istio-proxy sidecars
-- and coredns send severity text only (SeverityNumber 0).
INSERT INTO otel.otel_logs
SELECT
    now64(9) - toIntervalSecond(21600) + toIntervalMillisecond(intDiv(number * 21600000, 36000)) AS Timestamp,
    '' AS TraceId, '' AS SpanId, 0 AS TraceFlags,
    [['info', 'debug', 'warn', 'error'], ['Information', 'Debug', 'Warning', 'Error'], ['INFO', 'DEBUG', 'WARN', 'ERROR'],
     ['INFO', 'DEBUG', 'WARN', 'ERROR'], ['INFO', 'DEBUG', 'WARNING', 'ERROR'], ['info', 'debug', 'warning', 'error'],
     ['info', 'debug', 'Warn', 'error'], ['Info', 'Debug', 'Warn', 'ERROR'], ['INFO', 'DEBUG', 'WARNING', 'err']][c.style][level] AS SeverityText,
    if(c.style IN (6, 9), 0, [9, 5, 13, 17][level]) AS SeverityNumber,
    c.resource['service.name'] AS ServiceName,
    replaceOne([
        ['server listening on :8080', 'render cache hit ratio {d}%', 'slow render of /api/products took {d}ms', 'unhandled promise rejection: socket hang up'],
        ['Cart store connected', 'Loaded cart with {d} items', 'Redis latency above threshold: {d}ms', 'Unhandled exception while saving cart'],
        ['order pipeline ready', 'validated {d} line items', 'retrying inventory reservation (attempt 2) after {d}ms', 'failed to reserve inventory: context deadline exceeded'],
        ['HikariPool-1 - Start completed.', 'gateway session refreshed in {d}ms', 'GC pause (G1 Evacuation Pause) {d}ms', 'java.lang.IllegalStateException: idempotency key reused'],
        ['model recs-v2 warm, {d} items', 'scored {d} candidates', 'feature store slow: {d}ms', 'Traceback (most recent call last): KeyError: ''user_segment'''],
        ['[C{d}] new connection from 10.0.3.{d}', 'cluster outbound|8080 membership update', 'upstream connect error or disconnect/reset before headers. reset reason: overflow', 'gRPC config stream closed: 14, connection refused'],
        ['Configuration changes detected, backend reload required', 'Syncing ingress shop/frontend ({d} endpoints)', 'Service shop/checkout does not have any active Endpoint', 'Unexpected error validating SSL certificate'],
        ['sync batch {d} committed', 'sku cache warmed ({d} entries)', 'stock level below reorder point for {d} SKUs', 'postgres: could not serialize access due to concurrent update'],
        ['[INFO] 10.0.2.{d}:53 - "A IN frontend.shop.svc.cluster.local. udp" NOERROR', '[DEBUG] plugin/reload: Running configuration SHA512', '[WARNING] plugin/health: Local health request took {d}ms', '[ERROR] plugin/errors: 2 api.payments.example. A: read udp 10.0.1.{d}:53: i/o timeout']
    ][c.style][level], '{d}', toString(5 + cityHash64(number, 'd') % 900)) AS Body,
    '' AS ResourceSchemaUrl, c.resource AS ResourceAttributes, '' AS ScopeSchemaUrl, 'app' AS ScopeName, '1.0.0' AS ScopeVersion, map() AS ScopeAttributes,
    map('thread', concat('worker-', toString(number % 8))) AS LogAttributes,
    '' AS EventName
FROM (
    SELECT number, toUInt32(number % 30) AS cidx,  -- the 30 containers
           -- info 60 %, debug 15 %, warning 15 %, error 10 %
           multiIf(cityHash64(number) % 20 < 12, 1, cityHash64(number) % 20 < 15, 2, cityHash64(number) % 20 < 18, 3, 4) AS level
    FROM numbers(36000)
) AS b
INNER JOIN otel.demo_containers AS c ON c.idx = b.cidx
;
-- Kubernetes events (k8s_events receiver) and the application lines around them:
-- * payment replica 1 is OOMKilled every 30 minutes (OutOfMemoryError first, then the kill and the
--   restart);
-- * recommendation replica 0 is in CrashLoopBackOff for the last two hours (a back-off every
--   5 minutes after its model failed to load);
-- * inventory replica 2 is OOMKilled twice.
INSERT INTO otel.otel_logs
SELECT
    now64(9) - toIntervalSecond(e.1) + toIntervalMillisecond(step * 1000) AS Timestamp,
    '' AS TraceId, '' AS SpanId, 0 AS TraceFlags,
    k.2 AS SeverityText, k.3 AS SeverityNumber,
    if(k.1 = 'app', c.resource['service.name'], 'kubelet') AS ServiceName,
    replaceAll(replaceAll(k.4, '{c}', c.container), '{p}', c.pod) AS Body,
    '' AS ResourceSchemaUrl, if(k.1 = 'app', c.resource, mapUpdate(c.resource, map('service.name', 'kubelet'))) AS ResourceAttributes,
    '' AS ScopeSchemaUrl, if(k.1 = 'app', 'app', 'k8s_events') AS ScopeName, '' AS ScopeVersion, map() AS ScopeAttributes,
    if(k.1 = 'app', map(),
       map('k8s.event.reason', k.1, 'k8s.object.kind', 'Pod', 'k8s.object.name', c.pod, 'k8s.event.count', toString(1 + n))) AS LogAttributes,
    if(k.1 = 'app', '', 'k8s.event') AS EventName
FROM (
    SELECT
        -- (seconds before now of the first occurrence, period in seconds, occurrences, container idx,
        -- kind); the offsets keep events of different pods from sharing a timestamp.
        arrayJoin([(21000, 1800, 12, 21, 'oom'), (7195, 300, 24, 23, 'backoff'), (15000, 5400, 2, 28, 'oom')]) AS e,
        arrayJoin(range(e.3)) AS n,
        e.4 AS cidx,
        arrayJoin(if(e.5 = 'oom',
            [(0, 'app'), (2, 'OOMKilled'), (3, 'BackOff'), (13, 'Started')],
            [(0, 'app'), (1, 'BackOff')])) AS s,
        n * e.2 + s.1 AS step
) AS ev
INNER JOIN otel.demo_containers AS c ON c.idx = ev.cidx
ARRAY JOIN [multiIf(
    ev.s.2 = 'app' AND ev.e.5 = 'oom' AND c.container = 'payment',
        ('app', 'ERROR', 17, 'java.lang.OutOfMemoryError: Java heap space\n\tat com.example.payment.LedgerCache.load(LedgerCache.java:88)'),
    ev.s.2 = 'app' AND ev.e.5 = 'oom',
        ('app', 'Warn', 13, 'heap usage at 97% of the 512Mi limit'),
    ev.s.2 = 'app',
        ('app', 'CRITICAL', 21, 'failed to load model recs-v2: FileNotFoundError: /models/recs-v2.bin'),
    ev.s.2 = 'OOMKilled',
        ('OOMKilled', 'Warning', 13, 'Container {c} in pod {p} was OOMKilled (exit code 137, limit 512Mi); restarting'),
    ev.s.2 = 'BackOff',
        ('BackOff', 'Warning', 13, 'Back-off restarting failed container {c} in pod {p}'),
        ('Started', 'Normal', 9, 'Started container {c}'))] AS k
;
DROP TABLE otel.demo_containers
