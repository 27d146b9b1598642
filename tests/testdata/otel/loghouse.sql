-- A LogHouse-style custom table: extracted columns, level in `level`, ordered by (PodName, Timestamp).
CREATE TABLE server_text_log (
    Timestamp DateTime64(9), EventDate Date, EventTime DateTime,
    TraceId String, SeverityText LowCardinality(String), ServiceName LowCardinality(String), Body String,
    Namespace LowCardinality(String), PodName LowCardinality(String), level LowCardinality(String),
    ResourceAttributes Map(LowCardinality(String), String), LogAttributes Map(LowCardinality(String), String)
) ENGINE = MergeTree PARTITION BY EventDate ORDER BY (PodName, Timestamp)
;
INSERT INTO server_text_log SELECT
    toDateTime64('2024-01-01 00:00:00', 9, 'UTC') + toIntervalSecond(number * 10) AS t, toDate(t), toDateTime(t),
    '', '', 'clickhouse-server', concat('query ', toString(number)), 'ns-1', concat('pod-', toString(number % 2)),
    arrayElement(['Information', 'Error', 'Debug'], 1 + number % 3), map(), map()
FROM numbers(60)
