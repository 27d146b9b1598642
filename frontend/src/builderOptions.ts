// grafana/clickhouse-datasource's query builder model (`builderOptions`), as Lantern's editor
// reads and edits it. Pure functions only: reading saved options (v3 ones migrated), the query a
// change saves, the OpenTelemetry and settings defaults of a new query, filter typing.
//
// Lantern never builds SQL here: an edited query saves its new options with `rawSql: ''`, and the
// backend (`src/sql/grafana_builder.rs`) generates the SQL from them, for panels, alerts and
// "Show SQL" alike. A saved panel keeps its `rawSql` (what runs) until an option is edited.
import { Format, LanternOptions, LanternQuery } from './types';

export type BuilderQueryType = 'table' | 'logs' | 'timeseries' | 'traces';
export type BuilderMode = 'list' | 'aggregate' | 'trend';

export const QUERY_TYPES: Array<{ label: string; value: BuilderQueryType }> = [
  { label: 'Table', value: 'table' },
  { label: 'Logs', value: 'logs' },
  { label: 'Time series', value: 'timeseries' },
  { label: 'Traces', value: 'traces' },
];

export interface SelectedColumn {
  name: string;
  type?: string;
  alias?: string;
  custom?: boolean;
  hint?: string;
}

export const AGGREGATE_TYPES = ['count', 'sum', 'avg', 'min', 'max', 'any'] as const;
export type AggregateType = (typeof AGGREGATE_TYPES)[number];

export interface AggregateColumn {
  aggregateType: AggregateType;
  column: string;
  alias?: string;
}

/** Every operator of that plugin's filter editor, as saved. */
export const OPERATORS = [
  'IS ANYTHING',
  '=',
  '!=',
  '<',
  '<=',
  '>',
  '>=',
  'LIKE',
  'NOT LIKE',
  'ILIKE',
  'NOT ILIKE',
  'IN',
  'NOT IN',
  'IS EMPTY',
  'IS NOT EMPTY',
  'IS NULL',
  'IS NOT NULL',
  'WITH IN DASHBOARD TIME RANGE',
  'OUTSIDE DASHBOARD TIME RANGE',
] as const;
export type Operator = (typeof OPERATORS)[number];

export type FilterValue = string | number | boolean | Array<string | number>;

export interface Filter {
  filterType: 'custom';
  key: string;
  mapKey?: string;
  type: string;
  operator: Operator;
  value?: FilterValue;
  condition: 'AND' | 'OR';
  hint?: string;
  id?: string;
  label?: string;
}

export interface OrderByEntry {
  name: string;
  dir: 'ASC' | 'DESC';
  default?: boolean;
  hint?: string;
}

export interface BuilderMeta {
  otelEnabled?: boolean;
  otelVersion?: string;
  logMessageLike?: string;
  isTraceIdMode?: boolean;
  traceId?: string;
  traceDurationUnit?: DurationUnit;
  hasTraceTimestampTable?: boolean;
  traceTimestampTableSuffix?: string;
  flattenNested?: boolean;
  traceEventsColumnPrefix?: string;
  traceLinksColumnPrefix?: string;
  [other: string]: unknown;
}

export const DURATION_UNITS = ['seconds', 'milliseconds', 'microseconds', 'nanoseconds'] as const;
export type DurationUnit = (typeof DURATION_UNITS)[number];

/** `builderOptions`. Fields this editor does not know are kept as they are. */
export interface BuilderOptions {
  database: string;
  table: string;
  queryType: BuilderQueryType;
  mode?: BuilderMode;
  columns: SelectedColumn[];
  aggregates?: AggregateColumn[];
  filters?: Filter[];
  groupBy?: string[];
  orderBy?: OrderByEntry[];
  limit?: number;
  meta?: BuilderMeta;
  [other: string]: unknown;
}

/** A table column from the `columns` resource. */
export interface TableColumn {
  name: string;
  type: string;
}

/** Column roles of logs queries, in the order the editor shows them. */
export const LOG_HINTS: Array<{ hint: string; label: string }> = [
  { hint: 'time', label: 'Time' },
  { hint: 'filter_time', label: 'Filter time' },
  { hint: 'log_level', label: 'Log level' },
  { hint: 'log_message', label: 'Message' },
  { hint: 'trace_id', label: 'Trace ID' },
  { hint: 'resource_attributes', label: 'Resource attributes' },
  { hint: 'scope_attributes', label: 'Scope attributes' },
  { hint: 'log_attributes', label: 'Log attributes' },
];

/** Column roles of trace queries, in the order the editor shows them. */
export const TRACE_HINTS: Array<{ hint: string; label: string }> = [
  { hint: 'time', label: 'Start time' },
  { hint: 'trace_id', label: 'Trace ID' },
  { hint: 'trace_span_id', label: 'Span ID' },
  { hint: 'trace_parent_span_id', label: 'Parent span ID' },
  { hint: 'trace_service_name', label: 'Service name' },
  { hint: 'trace_operation_name', label: 'Operation name' },
  { hint: 'trace_duration_time', label: 'Duration' },
  { hint: 'trace_tags', label: 'Tags' },
  { hint: 'trace_service_tags', label: 'Service tags' },
  { hint: 'trace_status_code', label: 'Status code' },
  { hint: 'trace_kind', label: 'Kind' },
  { hint: 'trace_status_message', label: 'Status message' },
  { hint: 'trace_state', label: 'Trace state' },
  { hint: 'instrumentation_library_name', label: 'Library name' },
  { hint: 'instrumentation_library_version', label: 'Library version' },
];

/** A hint's label (for filters and ORDER BY entries by role). */
export function hintLabel(hint: string): string {
  return [...LOG_HINTS, ...TRACE_HINTS].find((h) => h.hint === hint)?.label ?? hint;
}

export const OTEL_VERSIONS = [
  { label: 'latest', value: 'latest' },
  { label: '1.3.0', value: '1.30.0' },
  { label: '1.2.9', value: '1.29.0' },
];

/** The OpenTelemetry exporter's logs columns by hint, in that plugin's order (1.2.9 has TimestampTime). */
function otelLogColumns(version: '1.29.0' | '1.30.0'): Array<[string, string]> {
  return [
    ...(version === '1.29.0' ? ([['filter_time', 'TimestampTime']] as Array<[string, string]>) : []),
    ['time', 'Timestamp'],
    ['log_message', 'Body'],
    ['log_level', 'SeverityText'],
    ['trace_id', 'TraceId'],
    ['resource_attributes', 'ResourceAttributes'],
    ['scope_attributes', 'ScopeAttributes'],
    ['log_attributes', 'LogAttributes'],
  ];
}

/** The exporter's trace columns by hint (the same in every version). */
const OTEL_TRACE_COLUMNS: Array<[string, string]> = [
  ['time', 'Timestamp'],
  ['trace_id', 'TraceId'],
  ['trace_span_id', 'SpanId'],
  ['trace_parent_span_id', 'ParentSpanId'],
  ['trace_service_name', 'ServiceName'],
  ['trace_operation_name', 'SpanName'],
  ['trace_duration_time', 'Duration'],
  ['trace_tags', 'SpanAttributes'],
  ['trace_service_tags', 'ResourceAttributes'],
  ['trace_status_code', 'StatusCode'],
  ['trace_kind', 'SpanKind'],
  ['trace_status_message', 'StatusMessage'],
  ['trace_state', 'TraceState'],
];

/**
 * The OTel columns by hint for a signal and version. `latest` logs follow the table: 1.2.9 when it
 * has `TimestampTime`, else 1.3.0 (as that plugin resolves it).
 */
export function otelColumns(signal: 'logs' | 'traces', version: string | undefined, table: TableColumn[]): Array<[string, string]> {
  if (signal === 'traces') {
    return OTEL_TRACE_COLUMNS;
  }
  if (version === '1.29.0' || version === '1.30.0') {
    return otelLogColumns(version);
  }
  return otelLogColumns(table.some((c) => c.name === 'TimestampTime') ? '1.29.0' : '1.30.0');
}

// ---- reading saved options ---------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function list<T>(v: unknown, keep: (x: unknown) => x is T): T[] {
  return Array.isArray(v) ? v.filter(keep) : [];
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const isNamed = (x: unknown): x is { name: string } => isObject(x) && typeof x.name === 'string';

/** Whether saved options are in the v3 model (v3-only keys and no v4 `columns`). */
export function isV3Options(raw: Record<string, unknown>): boolean {
  return !('columns' in raw) && ['fields', 'timeField', 'logLevelField', 'metrics'].some((k) => k in raw);
}

/**
 * The v3 → v4 migration that plugin applies when it loads a v3 query (`fields` → columns,
 * `timeField` → a `time` column, `logLevelField` → a `log_level` column, `metrics` → aggregates;
 * filters on those fields gain the hint). The backend applies the same one (`official::migrate_v3`).
 */
export function migrateV3(raw: Record<string, unknown>): BuilderOptions {
  const fields = list(raw.fields, (x): x is string => typeof x === 'string');
  const time = str(raw.timeField);
  const level = str(raw.logLevelField);
  const columns: SelectedColumn[] = fields.map((name) => ({ name }));
  if (time) {
    columns.push({ name: time, ...(raw.timeFieldType ? { type: str(raw.timeFieldType) } : {}), hint: 'time' });
  }
  if (level) {
    columns.push({ name: level, hint: 'log_level' });
  }
  const queryType: BuilderQueryType = time ? 'timeseries' : level ? 'logs' : 'table';
  const filters = list(raw.filters, isObject).map((f) => {
    const key = str(f.key);
    const hint = key !== '' && key === time ? 'time' : key !== '' && key === level ? 'log_level' : undefined;
    return (hint ? { ...f, hint } : f) as unknown as Filter;
  });
  const metrics = list(raw.metrics, isObject);
  const out: BuilderOptions = {
    database: str(raw.database),
    table: str(raw.table),
    queryType,
    columns,
    aggregates: metrics.map((m) => ({
      aggregateType: str(m.aggregation) as AggregateType,
      column: str(m.field),
      ...(typeof m.alias === 'string' ? { alias: m.alias } : {}),
    })),
    filters,
    groupBy: list(raw.groupBy, (x): x is string => typeof x === 'string'),
    orderBy: list(raw.orderBy, isObject) as unknown as OrderByEntry[],
    meta: {},
  };
  if (typeof raw.mode === 'string') {
    out.mode = raw.mode as BuilderMode;
  }
  if (typeof raw.limit === 'number' && raw.limit >= 0) {
    out.limit = raw.limit;
  }
  return out;
}

/** Saved `builderOptions` as the editor shows them: v3 ones migrated, missing lists empty. */
export function readOptions(raw: unknown): BuilderOptions {
  const o = isObject(raw) ? raw : {};
  if (isV3Options(o)) {
    return migrateV3(o);
  }
  const queryType = (['table', 'logs', 'timeseries', 'traces'] as const).find((t) => t === o.queryType) ?? 'table';
  return {
    ...o,
    database: str(o.database),
    table: str(o.table),
    queryType,
    columns: list(o.columns, isNamed) as SelectedColumn[],
    meta: isObject(o.meta) ? (o.meta as BuilderMeta) : {},
  };
}

/** The `format` that plugin stores next to the options: table 1, logs 2, time series 0, traces 3 by id else 1. */
export function formatOf(o: BuilderOptions): Format {
  switch (o.queryType) {
    case 'logs':
      return Format.LOGS;
    case 'timeseries':
      return Format.TIME_SERIES;
    case 'traces':
      return o.meta?.isTraceIdMode ? Format.TRACES : Format.TABLE;
    default:
      return Format.TABLE;
  }
}

/**
 * The query saving edited options: `editorType: 'builder'`, the options, `format` and `queryType`
 * as that plugin sets them, and `rawSql` cleared so the backend generates the SQL from the options.
 */
export function withBuilderOptions(query: LanternQuery, options: BuilderOptions): LanternQuery {
  // Other editors' structured parts would make the backend plan another model.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { builder, traceId, traceSearch, filters, ...rest } = query;
  return {
    ...rest,
    editorType: 'builder',
    builderOptions: options as unknown as Record<string, unknown>,
    rawSql: '',
    format: formatOf(options),
    queryType: options.queryType,
  };
}

/**
 * Whether the options make a query worth running: a table, something to select (a table query
 * without columns or aggregates generates `SELECT FROM`), and the trace id of a trace-id query.
 */
export function isRunnable(o: BuilderOptions): boolean {
  if (!o.table) {
    return false;
  }
  switch (o.queryType) {
    case 'table':
      return o.columns.length > 0 || (o.mode === 'aggregate' && (o.aggregates?.length ?? 0) > 0);
    case 'traces':
      return !o.meta?.isTraceIdMode || (o.meta.traceId ?? '') !== '';
    default:
      return o.columns.length > 0 || (o.aggregates?.length ?? 0) > 0;
  }
}

// ---- columns and roles -------------------------------------------------------------------------

/** The first column with `hint` (that plugin's lookup rule). */
export function columnWithHint(columns: SelectedColumn[], hint: string): SelectedColumn | undefined {
  return columns.find((c) => c.hint === hint);
}

/**
 * Columns with `hint` set to `column` (replacing the first column with that hint in place, or
 * appended), or the hint's column removed when `column` is undefined.
 */
export function setRole(columns: SelectedColumn[], hint: string, column: TableColumn | undefined): SelectedColumn[] {
  const i = columns.findIndex((c) => c.hint === hint);
  if (!column) {
    return i < 0 ? columns : columns.filter((_, j) => j !== i);
  }
  const next: SelectedColumn = { name: column.name, ...(column.type ? { type: column.type } : {}), hint };
  return i < 0 ? [...columns, next] : columns.map((c, j) => (j === i ? next : c));
}

/** The columns without a hint (those the Columns picker edits). */
export function plainColumns(columns: SelectedColumn[]): SelectedColumn[] {
  return columns.filter((c) => !c.hint);
}

/** Columns with the unhinted ones replaced by `names` (each keeping its saved alias/type when kept). */
export function setPlainColumns(columns: SelectedColumn[], names: string[], table: TableColumn[]): SelectedColumn[] {
  const hinted = columns.filter((c) => c.hint);
  const plain = names.map((name) => {
    const saved = columns.find((c) => !c.hint && c.name === name);
    if (saved) {
      return saved;
    }
    const t = table.find((c) => c.name === name);
    return t ? { name, type: t.type } : { name, custom: true };
  });
  return [...plain, ...hinted];
}

// ---- filter typing (that plugin's type classes) --------------------------------------------------

export type TypeClass = 'boolean' | 'number' | 'date' | 'string' | 'other';

/** The type class of a ClickHouse type (or pseudo-type) as that plugin's generator tests it. */
export function typeClass(type: string): TypeClass {
  const t = type.toLowerCase();
  if (t.startsWith('boolean')) {
    return 'boolean';
  }
  if (t.includes('int') || t.includes('float') || t.includes('decimal')) {
    return 'number';
  }
  if (t.startsWith('date') || t.startsWith('nullable(date')) {
    return 'date';
  }
  const bare = t.replace(/[()]/g, '').replace(/nullable/g, '').replace(/lowcardinality/g, '');
  if (bare === 'string' || bare.startsWith('fixedstring')) {
    return 'string';
  }
  return 'other';
}

/** The value type of `Map(K, V)`: V, split at the top-level comma (so `Decimal(10, 2)` stays whole). */
export function mapValueType(type: string): string {
  const inner = type.startsWith('Map(') && type.endsWith(')') ? type.slice(4, -1) : '';
  let depth = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '(') {
      depth++;
    } else if (c === ')') {
      depth--;
    } else if (c === ',' && depth === 0) {
      return inner.slice(i + 1).trim();
    }
  }
  return 'String';
}

export const isMapType = (type: string) => type.startsWith('Map');
export const isJsonType = (type: string) => type.startsWith('JSON');

/** The type a filter's value is compared as: the column's, a map's value type, or String for a JSON path. */
export function filterValueType(f: Filter, columns: SelectedColumn[]): string {
  let type = f.type ?? '';
  if (f.hint) {
    const c = columnWithHint(columns, f.hint) ??
      (f.hint === 'time' ? columnWithHint(columns, 'filter_time') : f.hint === 'filter_time' ? columnWithHint(columns, 'time') : undefined);
    if (c?.type) {
      type = c.type;
    }
  }
  if (f.mapKey) {
    if (isMapType(type)) {
      return mapValueType(type);
    }
    if (isJsonType(type)) {
      return 'String';
    }
  }
  return type;
}

const NULL_OPS: Operator[] = ['IS NULL', 'IS NOT NULL'];

/** The operators offered for a value type (JSON paths: their text); IS ANYTHING is always there. */
export function operatorsFor(type: string, jsonPath = false): Operator[] {
  if (jsonPath) {
    return ['IS ANYTHING', '=', '!=', 'LIKE', 'NOT LIKE', 'ILIKE', 'NOT ILIKE', 'IN', 'NOT IN', ...NULL_OPS];
  }
  switch (typeClass(type)) {
    case 'boolean':
      return ['IS ANYTHING', '=', '!='];
    case 'number':
      return ['IS ANYTHING', '=', '!=', '<', '<=', '>', '>=', 'IN', 'NOT IN', ...NULL_OPS];
    case 'date':
      return ['IS ANYTHING', 'WITH IN DASHBOARD TIME RANGE', 'OUTSIDE DASHBOARD TIME RANGE', '=', '!=', '<', '<=', '>', '>=', ...NULL_OPS];
    case 'string':
      // Everything but the dashboard time range.
      return OPERATORS.filter((op) => op !== 'WITH IN DASHBOARD TIME RANGE' && op !== 'OUTSIDE DASHBOARD TIME RANGE');
    default:
      // UUID, Enum, Bool, IP, arrays…: compared as written values.
      return ['IS ANYTHING', '=', '!=', 'IN', 'NOT IN', '<', '<=', '>', '>=', ...NULL_OPS];
  }
}

const NO_VALUE: Operator[] = [
  'IS ANYTHING',
  'IS EMPTY',
  'IS NOT EMPTY',
  'IS NULL',
  'IS NOT NULL',
  'WITH IN DASHBOARD TIME RANGE',
  'OUTSIDE DASHBOARD TIME RANGE',
];

/** Whether an operator takes no value. */
export const takesNoValue = (op: Operator) => NO_VALUE.includes(op);
/** Whether an operator takes a list. */
export const takesList = (op: Operator) => op === 'IN' || op === 'NOT IN';

/** A filter on a table column, with the first operator that makes sense for its type. */
export function newFilter(column: TableColumn, condition: 'AND' | 'OR' = 'AND'): Filter {
  const base = { filterType: 'custom' as const, key: column.name, type: column.type, condition };
  switch (typeClass(column.type)) {
    case 'date':
      return { ...base, operator: 'WITH IN DASHBOARD TIME RANGE' };
    case 'boolean':
      return { ...base, operator: '=', value: true };
    default:
      return { ...base, operator: isMapType(column.type) || isJsonType(column.type) ? '=' : 'IS NOT NULL', ...(isMapType(column.type) || isJsonType(column.type) ? { value: '' } : {}) };
  }
}

/** The filter with another operator, its value converted: a list for IN, the first item for a scalar, none when the operator takes none. */
export function withOperator(f: Filter, operator: Operator, valueType: string): Filter {
  const next: Filter = { ...f, operator };
  if (takesNoValue(operator)) {
    delete next.value;
    return next;
  }
  const current = f.value;
  if (takesList(operator)) {
    next.value = Array.isArray(current) ? current : current === undefined || current === '' ? [] : [current as string | number];
    return next;
  }
  const scalar = Array.isArray(current) ? current[0] : current;
  const cls = typeClass(valueType);
  if (cls === 'boolean') {
    next.value = typeof scalar === 'boolean' ? scalar : true;
  } else if (cls === 'number') {
    next.value = typeof scalar === 'number' ? scalar : Number.isFinite(Number(scalar)) && scalar !== '' && scalar !== undefined ? Number(scalar) : 0;
  } else if (cls === 'date') {
    next.value = typeof scalar === 'string' && scalar !== '' ? scalar : 'GRAFANA_START_TIME';
  } else {
    next.value = scalar === undefined || typeof scalar === 'boolean' ? '' : String(scalar);
  }
  return next;
}

/**
 * A filter value from its input text, typed by the value type: numbers for number columns (text
 * that is not a number stays text: a variable such as `$min`), a list split at commas for IN.
 */
export function parseFilterValue(text: string, operator: Operator, valueType: string): FilterValue {
  const number = typeClass(valueType) === 'number';
  const one = (s: string): string | number => (number && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(s.trim()) ? Number(s.trim()) : s);
  if (takesList(operator)) {
    return text
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map(one);
  }
  return one(number ? text.trim() : text);
}

/** A filter value as input text (lists comma-separated). */
export function filterValueText(v: FilterValue | undefined): string {
  if (v === undefined) {
    return '';
  }
  return Array.isArray(v) ? v.join(', ') : String(v);
}

// ---- log levels --------------------------------------------------------------------------------

/**
 * Spellings of each level at or above a minimum (lower case; the filter adds UPPER and
 * Capitalized). The same synonyms as the backend's level mapping (`src/otel`), so a minimum level
 * is `<level column> IN (…)` on the raw text: sargable, never a level computed per row.
 */
const LEVEL_SPELLINGS: Array<[string, string[]]> = [
  ['critical', ['emerg', 'emergency', 'fatal', 'alert', 'crit', 'critical', 'panic']],
  ['error', ['error', 'err', 'eror', 'severe']],
  ['warning', ['warn', 'warning']],
  ['info', ['info', 'information', 'informational', 'notice']],
  ['debug', ['debug', 'dbug']],
  ['trace', ['trace']],
];
export const MIN_LEVELS = LEVEL_SPELLINGS.map(([l]) => l);

/** The raw spellings of every level at or above `level`. */
export function levelSpellings(level: string): string[] {
  const idx = MIN_LEVELS.indexOf(level);
  const out: string[] = [];
  for (const [, names] of LEVEL_SPELLINGS.slice(0, idx + 1)) {
    for (const s of names) {
      for (const v of [s, s.toUpperCase(), s[0].toUpperCase() + s.slice(1)]) {
        if (!out.includes(v)) {
          out.push(v);
        }
      }
    }
  }
  return out;
}

/** The minimum level a filter stands for (a `log_level` IN filter of exactly those spellings), if any. */
export function minLevelOf(f: Filter): string | undefined {
  if (f.hint !== 'log_level' || f.operator !== 'IN' || !Array.isArray(f.value)) {
    return undefined;
  }
  const have = [...f.value].map(String).sort().join('\n');
  return MIN_LEVELS.find((l) => levelSpellings(l).sort().join('\n') === have);
}

/**
 * Filters with the minimum level set: the first `log_level` filter becomes `IN (spellings)` (or is
 * added), or becomes `IS ANYTHING` (that plugin's default) when `level` is undefined.
 */
export function setMinLevel(filters: Filter[], level: string | undefined, levelType: string): Filter[] {
  const i = filters.findIndex((f) => f.hint === 'log_level');
  const next: Filter = {
    filterType: 'custom',
    key: '',
    hint: 'log_level',
    type: levelType || 'string',
    condition: 'AND',
    ...(level ? { operator: 'IN' as const, value: levelSpellings(level) } : { operator: 'IS ANYTHING' as const }),
  };
  if (i < 0) {
    return level ? [...filters, next] : filters;
  }
  return filters.map((f, j) => (j === i ? { ...f, ...next, condition: f.condition } : f));
}

// ---- defaults of new queries ---------------------------------------------------------------------

const timeRange = (hint: string, type = 'datetime'): Filter => ({
  filterType: 'custom',
  key: '',
  hint,
  type,
  operator: 'WITH IN DASHBOARD TIME RANGE',
  condition: 'AND',
});

/** A column of the table by one of `names` (case-insensitive), for name heuristics. */
function byName(table: TableColumn[], names: string[]): TableColumn | undefined {
  for (const n of names) {
    const c = table.find((t) => t.name.toLowerCase() === n.toLowerCase());
    if (c) {
      return c;
    }
  }
  return undefined;
}

/** The first date/time column of the table, preferring the usual names. */
export function guessTimeColumn(table: TableColumn[]): TableColumn | undefined {
  const dates = table.filter((c) => typeClass(c.type) === 'date' || /^(LowCardinality\()?Nullable\(DateTime/.test(c.type));
  return byName(dates, ['Timestamp', 'timestamp', 'time', 'event_time', 'ts', 'date']) ?? dates[0];
}

/** Columns with `hint`s set from `pairs` (hint, column name), typed from the table when it has them. */
function roleColumns(pairs: Array<[string, string | undefined]>, table: TableColumn[]): SelectedColumn[] {
  const out: SelectedColumn[] = [];
  for (const [hint, name] of pairs) {
    if (!name) {
      continue;
    }
    const t = table.find((c) => c.name === name);
    out.push({ name, ...(t ? { type: t.type } : {}), hint });
  }
  return out;
}

/** Whether every column of `pairs` is in the table (an OTel table, by its columns). */
function hasAll(pairs: Array<[string, string]>, table: TableColumn[]): boolean {
  return table.length > 0 && pairs.every(([, name]) => table.some((c) => c.name === name));
}

/** Where a new query of a type reads from: the configured logs/traces table, else the default database. */
export function defaultTableOf(queryType: BuilderQueryType, jsonData: LanternOptions): { database: string; table: string } {
  const db = jsonData.defaultDatabase ?? '';
  if (queryType === 'logs') {
    return { database: jsonData.logs?.defaultDatabase || db, table: jsonData.logs?.defaultTable || 'otel_logs' };
  }
  if (queryType === 'traces') {
    return { database: jsonData.traces?.defaultDatabase || db, table: jsonData.traces?.defaultTable || 'otel_traces' };
  }
  return { database: db, table: '' };
}

/**
 * The options of a new query of `queryType` on `database.table` (whose columns are `table`), as
 * that plugin's editor fills them: for logs and traces the OTel columns when OTel is on (the
 * datasource's `otelEnabled`, else when the table has the exporter's columns), else the column
 * roles of the datasource settings, else the usual names; the default filters and ORDER BY; for
 * time series a time column, the dashboard range and `time` ASC. `tables` (the database's
 * tables) tells whether the trace-id lookup table exists.
 */
export function newOptions(
  queryType: BuilderQueryType,
  jsonData: LanternOptions,
  where: { database: string; table: string },
  table: TableColumn[],
  tables: string[] = []
): BuilderOptions {
  const base = { database: where.database, table: where.table, queryType, limit: 1000 };
  switch (queryType) {
    case 'logs': {
      const s = jsonData.logs ?? {};
      const version = s.otelVersion || 'latest';
      const otel = otelColumns('logs', version, table);
      const otelEnabled = s.otelEnabled ?? hasAll(otel.filter(([h]) => h === 'time' || h === 'log_message'), table);
      const columns = otelEnabled
        ? roleColumns(otel, table)
        : roleColumns(
            [
              ['filter_time', s.filterTimeColumn],
              ['time', s.timeColumn || byName(table, ['Timestamp', 'timestamp', 'time', 'event_time'])?.name],
              ['log_message', s.messageColumn || byName(table, ['Body', 'message', 'msg', 'body'])?.name],
              ['log_level', s.levelColumn || byName(table, ['SeverityText', 'level', 'severity', 'log_level'])?.name],
            ],
            table
          );
      return {
        ...base,
        mode: 'list',
        columns,
        filters: [
          timeRange('filter_time'),
          { filterType: 'custom', key: '', hint: 'log_level', type: 'string', operator: 'IS ANYTHING', condition: 'AND' },
        ],
        orderBy: [
          { name: '', hint: 'filter_time', dir: 'DESC', default: true },
          { name: '', hint: 'time', dir: 'DESC', default: true },
        ],
        meta: { otelEnabled, otelVersion: version },
      };
    }
    case 'traces': {
      const s = jsonData.traces ?? {};
      const version = s.otelVersion || 'latest';
      const otel = otelColumns('traces', version, table);
      const otelEnabled = s.otelEnabled ?? hasAll(otel.slice(0, 7), table);
      const columns = otelEnabled
        ? roleColumns(otel, table)
        : roleColumns(
            [
              ['time', s.startTimeColumn],
              ['trace_id', s.traceIdColumn],
              ['trace_span_id', s.spanIdColumn],
              ['trace_parent_span_id', s.parentSpanIdColumn],
              ['trace_service_name', s.serviceNameColumn],
              ['trace_operation_name', s.operationNameColumn],
              ['trace_duration_time', s.durationColumn],
              ['trace_tags', s.tagsColumn],
              ['trace_service_tags', s.serviceTagsColumn],
              ['trace_status_code', s.statusCodeColumn],
              ['trace_kind', s.kindColumn],
              ['trace_status_message', s.statusMessageColumn],
              ['trace_state', s.stateColumn],
            ],
            table
          );
      const events = s.traceEventsColumnPrefix ?? 'Events';
      const links = s.traceLinksColumnPrefix ?? 'Links';
      const suffix = s.traceTimestampTableSuffix || '_trace_id_ts';
      const nested = (p: string) => p !== '' && table.some((c) => c.name === `${p}.Name` || c.name === `${p}.TraceId` || c.name === p);
      return {
        ...base,
        columns,
        filters: [
          timeRange('time'),
          { filterType: 'custom', key: '', hint: 'trace_parent_span_id', type: 'string', operator: 'IS EMPTY', condition: 'AND' },
          { filterType: 'custom', key: '', hint: 'trace_duration_time', type: 'UInt64', operator: '>', value: 0, condition: 'AND' },
          { filterType: 'custom', key: '', hint: 'trace_service_name', type: 'string', operator: 'IS ANYTHING', condition: 'AND' },
        ],
        orderBy: [
          { name: '', hint: 'time', dir: 'DESC', default: true },
          { name: '', hint: 'trace_duration_time', dir: 'DESC', default: true },
        ],
        meta: {
          otelEnabled,
          otelVersion: version,
          isTraceIdMode: false,
          traceDurationUnit: (s.durationUnit as DurationUnit | undefined) ?? 'nanoseconds',
          flattenNested: s.flattenNested ?? false,
          traceEventsColumnPrefix: nested(events) ? events : '',
          traceLinksColumnPrefix: nested(links) ? links : '',
          hasTraceTimestampTable: tables.includes(`${where.table}${suffix}`),
          traceTimestampTableSuffix: suffix,
        },
      };
    }
    case 'timeseries': {
      const time = guessTimeColumn(table);
      return {
        ...base,
        mode: 'aggregate',
        columns: time ? [{ name: time.name, type: time.type, hint: 'time' }] : [],
        filters: [timeRange('time')],
        orderBy: [{ name: '', hint: 'time', dir: 'ASC', default: true }],
        meta: {},
      };
    }
    default:
      return { ...base, mode: 'list', columns: [], meta: {} };
  }
}
