import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** Result shape; numeric like grafana/clickhouse-datasource so its dashboards read the same. */
export enum Format {
  TIME_SERIES = 0,
  TABLE = 1,
  LOGS = 2,
  TRACES = 3,
}

/**
 * What the backend runs. `table` / `timeseries` / `logs` / `traces` follow `format` for SQL
 * queries; the others are Lantern's structured queries (the backend builds their SQL).
 */
export type QueryType =
  | 'table'
  | 'timeseries'
  | 'logs'
  | 'traces'
  | 'logs-volume'
  | 'logs-context'
  | 'logs-sample'
  | 'trace-search';

/**
 * `sql`: rawSql as typed; `lantern-builder`: Lantern's structured queries (logs builder, trace id,
 * trace search); `builder`: grafana/clickhouse-datasource's builder when `builderOptions` is set,
 * otherwise a Lantern save from before the rename (still opened in Lantern's builder).
 */
export type EditorType = 'sql' | 'lantern-builder' | 'builder';

export const SEVERITIES = ['critical', 'error', 'warning', 'info', 'debug', 'trace'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const FILTER_OPS = [
  '=',
  '!=',
  'IN',
  'NOT IN',
  'LIKE',
  'NOT LIKE',
  'ILIKE',
  '=~',
  '!~',
  '<',
  '<=',
  '>',
  '>=',
  'EXISTS',
  'NOT EXISTS',
] as const;
export type FilterOp = (typeof FILTER_OPS)[number];

/**
 * One builder filter `key op value`. `key`: a column (`PodName`), a map key
 * (`ResourceAttributes['k8s.pod.name']` or `ResourceAttributes.k8s.pod.name`) or a bare attribute
 * key (`k8s.pod.name`: log, then resource, then scope attributes). `IN` / `NOT IN` use `values`;
 * `EXISTS` / `NOT EXISTS` take no value.
 */
export interface BuilderFilter {
  key: string;
  op: FilterOp;
  value?: string | number;
  values?: string[];
}

/** The logs builder (`editorType: 'lantern-builder'`, format logs). */
export interface LogsBuilderOptions {
  /** Default: the datasource's logs.defaultDatabase, else its default database. */
  database?: string;
  /** Default: the datasource's logs.defaultTable, else otel_logs. */
  table?: string;
  services?: string[];
  minSeverity?: Severity;
  filters?: BuilderFilter[];
  /** Case-insensitive substring of the body. */
  bodyContains?: string;
  /** RE2 regular expression on the body. */
  bodyRegex?: string;
  order?: 'desc' | 'asc';
  /** Default 1000. */
  limit?: number;
}

/** The rows around one log line (`queryType: 'logs-context'`). */
export interface LogContextRequest {
  /** The row's time, epoch nanoseconds as a string. */
  time: string;
  direction: 'backward' | 'forward';
  limit?: number;
  /** The row's labels; the backend keeps rows with the same context columns. */
  labels: Record<string, string>;
}

export const SPAN_STATUSES = ['error', 'ok', 'unset'] as const;
export const SPAN_KINDS = ['server', 'client', 'internal', 'producer', 'consumer'] as const;

/** Trace search (`queryType: 'trace-search'`, format table): one row per matching trace/span. */
export interface TraceSearchOptions {
  database?: string;
  table?: string;
  services?: string[];
  /** Span name. */
  operation?: string;
  minDurationMs?: number;
  maxDurationMs?: number;
  status?: (typeof SPAN_STATUSES)[number];
  kind?: (typeof SPAN_KINDS)[number];
  filters?: BuilderFilter[];
  /** Only root spans (backend default true). */
  rootOnly?: boolean;
  /** Default 100. */
  limit?: number;
}

export const FORMAT_TO_QUERY_TYPE: Record<Format, QueryType> = {
  [Format.TIME_SERIES]: 'timeseries',
  [Format.TABLE]: 'table',
  [Format.LOGS]: 'logs',
  [Format.TRACES]: 'traces',
};

/**
 * Value of one dashboard variable referenced by the SQL. The backend expands `$name`, `${name}`,
 * `${name:fmt}` and `[[name]]` from these (the frontend leaves rawSql untouched), so alert rules
 * and dashboards run the same SQL.
 */
export interface TemplateVarValue {
  /**
   * Selected values as strings. When "All" is selected: every option's value (without the
   * `$__all` option itself), or [] when the variable has a custom all value.
   */
  values: string[];
  /** Display text (multi-values joined with " + ", as Grafana does). */
  text: string;
  /** The variable allows several values. */
  multi: boolean;
  /** The variable offers "All". */
  includeAll: boolean;
  /** "All" is the current selection. */
  allSelected: boolean;
  /** The variable's custom all value, set only when "All" is selected and it has one. */
  customAllValue?: string;
}

/**
 * One ad hoc filter. Grafana's multi-value operators (`=|` one of, `!=|` none of) are one entry
 * with every value in `values` (the backend renders `key IN (...)` / `key NOT IN (...)`) and the
 * first value (or "") in `value`; other operators have `value` only.
 */
export interface AdHocFilter {
  key: string;
  operator: string;
  value: string;
  values?: string[];
}

/**
 * A filter from a click in Explore on a SQL query: the backend keeps the rows of the user's SQL
 * where `key operator value` holds by wrapping it (`SELECT * FROM (<sql>) WHERE …`); the SQL text
 * is not edited. Keys are passed unchanged (output columns, dotted OTel keys, `Map['k']`);
 * `level` is the row's level.
 */
export interface QueryFilter {
  key: string;
  operator: '=' | '!=';
  value: string;
}

/** One answer of the `tag-keys` / `tag-values` resources. */
export interface TagResource {
  text: string;
}

export interface LanternQuery extends DataQuery {
  editorType: EditorType;
  /** The SQL of `editorType: 'sql'` queries. */
  rawSql?: string;
  format: Format;
  queryType?: QueryType;
  /** Logs builder (`editorType: 'lantern-builder'`). */
  builder?: LogsBuilderOptions;
  /** grafana/clickhouse-datasource's builder options (its saved builder panels; run by the backend). */
  builderOptions?: Record<string, unknown>;
  /** `queryType: 'logs-context'`. */
  context?: LogContextRequest;
  /** `queryType: 'traces'`: one trace for Grafana's trace view. */
  traceId?: string;
  /** `queryType: 'trace-search'`. */
  traceSearch?: TraceSearchOptions;
  meta?: { timezone?: string };
  templateVars?: Record<string, TemplateVarValue>;
  adHocFilters?: AdHocFilter[];
  /** SQL queries: filters from clicks in Explore (filter for / filter out value, level). */
  filters?: QueryFilter[];
}

export const DEFAULT_QUERY: Partial<LanternQuery> = {
  editorType: 'sql',
  rawSql: '',
  format: Format.TABLE,
};

export type Protocol = 'http' | 'https';

export interface CustomSetting {
  setting: string;
  value: string;
}

export interface HttpHeader {
  name: string;
  /** Empty when `secure`: the value lives in secureJsonData["secureHttpHeaders.<name>"]. */
  value: string;
  secure: boolean;
}

/**
 * jsonData of the datasource. Keys match grafana/clickhouse-datasource, so its provisioning
 * files work after changing only `type`.
 */
export interface LanternOptions extends DataSourceJsonData {
  host?: string;
  port?: number | string;
  /** 'native' may arrive from a grafana/clickhouse-datasource file; it is not supported. */
  protocol?: Protocol | 'native';
  /** TLS. */
  secure?: boolean;
  /** HTTP URL path. */
  path?: string;
  username?: string;
  defaultDatabase?: string;
  tlsSkipVerify?: boolean;
  tlsAuth?: boolean;
  tlsAuthWithCACert?: boolean;
  /** Seconds. */
  dialTimeout?: string | number;
  /** Seconds. */
  queryTimeout?: string | number;
  customSettings?: CustomSetting[];
  httpHeaders?: HttpHeader[];
  /** Logs defaults and column roles for custom schemas (OTel tables are recognised without them). */
  logs?: LogsSettings;
  /** Traces defaults. */
  traces?: TracesSettings;
}

/** jsonData.logs (grafana/clickhouse-datasource key names). Empty means "recognise". */
export interface LogsSettings {
  defaultDatabase?: string;
  defaultTable?: string;
  timeColumn?: string;
  /** Body column. */
  messageColumn?: string;
  /** Severity column. */
  levelColumn?: string;
  serviceColumn?: string;
  traceIdColumn?: string;
  /** Columns that identify a log stream for "show context" (pod, container...). */
  contextColumns?: string[];
  /**
   * grafana/clickhouse-datasource's builder defaults (new queries of the official builder mode):
   * OTel column names on, the exporter schema version, the OTel 1.2.9 key time column.
   */
  otelEnabled?: boolean;
  otelVersion?: string;
  filterTimeColumn?: string;
}

/** jsonData.traces (the column keys and below: the official builder's defaults for new queries). */
export interface TracesSettings {
  defaultDatabase?: string;
  defaultTable?: string;
  otelEnabled?: boolean;
  otelVersion?: string;
  startTimeColumn?: string;
  traceIdColumn?: string;
  spanIdColumn?: string;
  parentSpanIdColumn?: string;
  serviceNameColumn?: string;
  operationNameColumn?: string;
  durationColumn?: string;
  durationUnit?: string;
  tagsColumn?: string;
  serviceTagsColumn?: string;
  statusCodeColumn?: string;
  kindColumn?: string;
  statusMessageColumn?: string;
  stateColumn?: string;
  flattenNested?: boolean;
  traceEventsColumnPrefix?: string;
  traceLinksColumnPrefix?: string;
  traceTimestampTableSuffix?: string;
}

export const SECURE_HEADER_PREFIX = 'secureHttpHeaders.';

export interface LanternSecureJsonData {
  password?: string;
  tlsCACert?: string;
  tlsClientCert?: string;
  tlsClientKey?: string;
  [secureHeader: `secureHttpHeaders.${string}`]: string | undefined;
}

/** Body of POST resources/expand. */
export interface ExpandRequest {
  query: LanternQuery;
  timeRange: { from: number; to: number };
  intervalMs: number;
  maxDataPoints: number;
}

export interface ExpandResponse {
  sql: string;
  client?: string;
}
