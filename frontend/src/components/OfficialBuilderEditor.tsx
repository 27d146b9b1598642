// Lantern's editor for grafana/clickhouse-datasource's builder model (`builderOptions`): every
// query type and mode of that plugin (table list and aggregate, time series simple and trend,
// logs, trace search and trace id), with database/table/column pickers from the schema
// resources, filters typed by column type (map keys suggested by the bounded `tag-keys`
// resource), ORDER BY and LIMIT. It edits the options only: each change saves them with `rawSql`
// cleared (builderOptions.ts), and the backend generates the SQL.
import { useEffect, useState } from 'react';

import { SelectableValue, TimeRange } from '@grafana/data';
import { Alert, Button, IconButton, InlineField, InlineSwitch, MultiSelect, RadioButtonGroup, Select, Stack } from '@grafana/ui';

import {
  AGGREGATE_TYPES,
  AggregateColumn,
  AggregateType,
  BuilderMeta,
  BuilderMode,
  BuilderOptions,
  BuilderQueryType,
  columnWithHint,
  defaultTableOf,
  DURATION_UNITS,
  DurationUnit,
  Filter,
  filterValueText,
  filterValueType,
  hintLabel,
  isJsonType,
  isRunnable,
  isMapType,
  LOG_HINTS,
  MIN_LEVELS,
  minLevelOf,
  newFilter,
  newOptions,
  Operator,
  operatorsFor,
  OrderByEntry,
  OTEL_VERSIONS,
  otelColumns,
  parseFilterValue,
  plainColumns,
  QUERY_TYPES,
  SelectedColumn,
  setMinLevel,
  setPlainColumns,
  setRole,
  TableColumn,
  takesList,
  takesNoValue,
  TRACE_HINTS,
  typeClass,
  withOperator,
} from '../builderOptions';
import type { DataSource } from '../datasource';
import { BlurInput, parsePositiveInt } from './fields';
import { useResourceNames } from './LogsBuilderEditor';

export interface OfficialBuilderEditorProps {
  datasource: DataSource;
  options: BuilderOptions;
  /** The saved SQL: what runs until an option is edited. */
  rawSql?: string;
  /** `run`: the change is complete enough to run the query. */
  onChange: (options: BuilderOptions, run: boolean) => void;
  range?: TimeRange;
}

const LABEL = 14;

/** The editor's mode choices: table list/aggregate, time series simple/trend, trace search/by id. */
type ModeChoice = BuilderMode | 'search' | 'id';
const MODES: Partial<Record<BuilderQueryType, Array<{ label: string; value: ModeChoice }>>> = {
  table: [
    { label: 'List', value: 'list' },
    { label: 'Aggregate', value: 'aggregate' },
  ],
  // That plugin's "Simple" tab saves mode aggregate, its "Aggregate" tab mode trend.
  timeseries: [
    { label: 'Simple', value: 'aggregate' },
    { label: 'Aggregate', value: 'trend' },
  ],
  traces: [
    { label: 'Search', value: 'search' },
    { label: 'By trace ID', value: 'id' },
  ],
};
const MODE_TOOLTIPS: Partial<Record<BuilderQueryType, string>> = {
  timeseries: 'Simple: the time column and columns; Aggregate: aggregates per time interval',
};

function modeOf(o: BuilderOptions): ModeChoice {
  switch (o.queryType) {
    case 'traces':
      return o.meta?.isTraceIdMode ? 'id' : 'search';
    case 'timeseries':
      return o.mode === 'trend' ? 'trend' : 'aggregate';
    default:
      return o.mode === 'aggregate' ? 'aggregate' : 'list';
  }
}

/** Columns of a table from the `columns` resource (empty while loading or when it fails). */
export async function fetchColumns(datasource: DataSource, database: string, table: string): Promise<TableColumn[]> {
  if (!table) {
    return [];
  }
  try {
    const rows = await datasource.getResource('columns', database ? { database, table } : { table });
    return (Array.isArray(rows) ? rows : [])
      .map((r) => ({ name: String((r as TableColumn)?.name ?? ''), type: String((r as TableColumn)?.type ?? '') }))
      .filter((c) => c.name !== '');
  } catch {
    return [];
  }
}

async function fetchTables(datasource: DataSource, database: string): Promise<string[]> {
  try {
    const rows = await datasource.getResource('tables', database ? { database } : undefined);
    return (Array.isArray(rows) ? rows : []).map((r) => String((r as { name?: unknown })?.name ?? '')).filter(Boolean);
  } catch {
    return [];
  }
}

function useColumns(datasource: DataSource, database: string, table: string): TableColumn[] {
  const [columns, setColumns] = useState<TableColumn[]>([]);
  useEffect(() => {
    let cancelled = false;
    setColumns([]);
    void fetchColumns(datasource, database, table).then((c) => !cancelled && setColumns(c));
    return () => {
      cancelled = true;
    };
  }, [datasource, database, table]);
  return columns;
}

/**
 * Keys seen in the table's map columns (the bounded `tag-keys` resource, within the time range),
 * without the column names it lists first. Loaded only while a map filter is shown.
 */
function useMapKeys(datasource: DataSource, database: string, table: string, columns: TableColumn[], enabled: boolean, range?: TimeRange): string[] {
  const [keys, setKeys] = useState<string[]>([]);
  const from = range?.from.valueOf();
  const to = range?.to.valueOf();
  const names = columns.map((c) => c.name).join('\n');
  useEffect(() => {
    if (!enabled || !table) {
      setKeys([]);
      return;
    }
    let cancelled = false;
    const params: Record<string, string> = { table };
    if (database) {
      params.database = database;
    }
    if (from !== undefined && to !== undefined) {
      params.from = String(from);
      params.to = String(to);
    }
    const columnNames = new Set(names.split('\n'));
    Promise.resolve()
      .then(() => datasource.getResource('tag-keys', params))
      .then(
        (rows: unknown) =>
          !cancelled &&
          setKeys(
            (Array.isArray(rows) ? rows : [])
              .map((r) => String((r as { text?: unknown })?.text ?? ''))
              .filter((k) => k !== '' && !columnNames.has(k))
          ),
        () => !cancelled && setKeys([])
      );
    return () => {
      cancelled = true;
    };
  }, [datasource, database, table, names, enabled, from, to]);
  return keys;
}

/** Select options for names, the current value first when it is not among them. */
function nameOptions(names: string[], current?: string): Array<SelectableValue<string>> {
  const all = current && !names.includes(current) ? [current, ...names] : names;
  return all.map((n) => ({ label: n, value: n }));
}

function columnOptions(table: TableColumn[], extra: string[] = []): Array<SelectableValue<string>> {
  const seen = new Set<string>();
  const out: Array<SelectableValue<string>> = [];
  for (const c of table) {
    if (!seen.has(c.name)) {
      seen.add(c.name);
      out.push({ label: c.name, value: c.name, description: c.type });
    }
  }
  for (const n of extra) {
    if (n && !seen.has(n)) {
      seen.add(n);
      out.push({ label: n, value: n });
    }
  }
  return out;
}

/** The editor of an official builder query. */
export function OfficialBuilderEditor({ datasource, options, rawSql, onChange: save, range }: OfficialBuilderEditorProps) {
  const o = options;
  // Saved always; run only when complete enough to make SQL.
  const onChange = (next: BuilderOptions, run: boolean) => save(next, run && isRunnable(next));
  const jsonData = datasource.jsonData;
  const table = useColumns(datasource, o.database, o.table);
  const databases = useResourceNames(datasource, 'databases');
  const tables = useResourceNames(datasource, 'tables', o.database || undefined);
  const meta: BuilderMeta = o.meta ?? {};
  const columns = o.columns;
  const filters = o.filters ?? [];
  const set = (patch: Partial<BuilderOptions>, run = true) => onChange({ ...o, ...patch }, run);
  const setMeta = (patch: Partial<BuilderMeta>, run = true) => set({ meta: { ...meta, ...patch } }, run);

  /** A fresh query of a type on a table (its columns and tables looked up first), keeping the trace mode. */
  const fresh = async (queryType: BuilderQueryType, where: { database: string; table: string }, keep: Partial<BuilderOptions> = {}) => {
    const [cols, names] = await Promise.all([fetchColumns(datasource, where.database, where.table), fetchTables(datasource, where.database)]);
    const next = newOptions(queryType, jsonData, where, cols, names);
    onChange({ ...next, ...keep, meta: { ...next.meta, ...(keep.meta ?? {}) } }, true);
  };

  const onQueryType = (queryType: BuilderQueryType) => {
    if (queryType === o.queryType) {
      return;
    }
    const configured = queryType === 'logs' ? jsonData.logs?.defaultTable : queryType === 'traces' ? jsonData.traces?.defaultTable : undefined;
    const where =
      (queryType === 'logs' || queryType === 'traces') && (configured || !o.table)
        ? defaultTableOf(queryType, jsonData)
        : { database: o.database, table: o.table };
    void fresh(queryType, where);
  };

  const onTable = (name: string | undefined) => {
    const keep: Partial<BuilderOptions> =
      o.queryType === 'traces'
        ? { meta: { isTraceIdMode: meta.isTraceIdMode, traceId: meta.traceId } }
        : o.queryType === 'table' || o.queryType === 'timeseries'
          ? { mode: o.mode }
          : {};
    void fresh(o.queryType, { database: o.database, table: name ?? '' }, keep);
  };

  const signal = o.queryType === 'logs' ? 'logs' : o.queryType === 'traces' ? 'traces' : undefined;
  const otelOn = Boolean(meta.otelEnabled);
  const setOtel = (enabled: boolean, version: string | undefined) => {
    if (!signal) {
      return;
    }
    let next = columns;
    if (enabled) {
      const otel = otelColumns(signal, version, table);
      for (const [hint, name] of otel) {
        next = setRole(next, hint, table.find((c) => c.name === name) ?? { name, type: '' });
      }
      if (signal === 'logs' && !otel.some(([hint]) => hint === 'filter_time')) {
        next = setRole(next, 'filter_time', undefined);
      }
    }
    set({ columns: next, meta: { ...meta, otelEnabled: enabled, otelVersion: version } });
  };

  const modes = MODES[o.queryType];
  const onMode = (m: ModeChoice) => {
    if (m === 'search' || m === 'id') {
      setMeta({ isTraceIdMode: m === 'id' });
    } else if (m === 'trend') {
      // Aggregate time series: a count to start with.
      set({ mode: m, aggregates: o.aggregates?.length ? o.aggregates : [{ aggregateType: 'count', column: '*' }] });
    } else if (o.queryType === 'timeseries') {
      // Simple time series clear aggregates and group by, as that plugin does.
      set({ mode: m, aggregates: [], groupBy: [] });
    } else {
      set({ mode: m });
    }
  };
  const timeseries = o.queryType === 'timeseries';
  const trend = timeseries && o.mode === 'trend';
  const tableAggregate = o.queryType === 'table' && o.mode === 'aggregate';
  const traceId = o.queryType === 'traces' && Boolean(meta.isTraceIdMode);
  const showColumns = o.queryType === 'table' || (timeseries && !trend) || o.queryType === 'logs';
  const showAggregates = tableAggregate || trend || (timeseries && (o.aggregates?.length ?? 0) > 0);
  const showGroupBy = tableAggregate || trend || (timeseries && (o.groupBy?.length ?? 0) > 0);
  const roles = o.queryType === 'logs' ? LOG_HINTS : o.queryType === 'traces' ? TRACE_HINTS : timeseries ? [{ hint: 'time', label: 'Time' }] : [];
  const levelFilter = filters.find((f) => f.hint === 'log_level');
  const minLevel = levelFilter ? minLevelOf(levelFilter) : undefined;
  const aggregateNames = (o.aggregates ?? []).map((a) => a.alias || `${a.aggregateType}(${a.column})`);

  return (
    <div data-testid="lantern-official-builder">
    <Stack direction="column" gap={0.5}>
      {(rawSql ?? '').trim() !== '' && (
        <Alert severity="info" title="Saved by the ClickHouse plugin's builder">
          This panel runs its saved SQL. Editing any option below replaces it with the SQL Lantern's backend builds from the
          options (Show SQL shows it).
        </Alert>
      )}
      <Stack direction="row" gap={0} wrap="wrap">
        <InlineField label="Builder type" labelWidth={LABEL}>
          <RadioButtonGroup<BuilderQueryType> aria-label="Builder type" size="sm" options={QUERY_TYPES} value={o.queryType} onChange={onQueryType} />
        </InlineField>
        {modes && (
          <InlineField label="Mode" labelWidth={8} tooltip={MODE_TOOLTIPS[o.queryType]}>
            <RadioButtonGroup<ModeChoice> aria-label="Builder mode" size="sm" options={modes} value={modeOf(o)} onChange={onMode} />
          </InlineField>
        )}
      </Stack>
      <Stack direction="row" gap={0} wrap="wrap">
        <InlineField label="Database" labelWidth={LABEL}>
          <Select<string>
            aria-label="Database"
            width={24}
            options={nameOptions(databases, o.database)}
            value={o.database || null}
            allowCustomValue
            onChange={(v) => set({ database: v?.value ?? '', table: '', columns: [], aggregates: [], filters: [], groupBy: [], orderBy: [] }, false)}
          />
        </InlineField>
        <InlineField label="Table" labelWidth={8}>
          <Select<string>
            aria-label="Table name"
            width={30}
            options={nameOptions(tables, o.table)}
            value={o.table || null}
            allowCustomValue
            onChange={(v) => onTable(v?.value)}
          />
        </InlineField>
      </Stack>
      {signal && (
        <Stack direction="row" gap={0} wrap="wrap">
          <InlineField label="OTel" labelWidth={LABEL} tooltip="Use the OpenTelemetry exporter's column names for the roles below">
            <InlineSwitch aria-label="Use OTel" value={otelOn} onChange={(e) => setOtel(e.currentTarget.checked, meta.otelVersion || 'latest')} />
          </InlineField>
          {otelOn && (
            <InlineField label="Version" labelWidth={8}>
              <Select<string>
                aria-label="OTel version"
                width={16}
                options={OTEL_VERSIONS}
                value={meta.otelVersion || 'latest'}
                onChange={(v) => setOtel(true, v.value)}
              />
            </InlineField>
          )}
        </Stack>
      )}
      {roles.length > 0 && (
        <Stack direction="row" gap={0} wrap="wrap">
          {roles.map(({ hint, label }) => (
            <InlineField key={hint} label={label} labelWidth={LABEL} disabled={otelOn}>
              <Select<string>
                aria-label={`${label} column`}
                width={24}
                options={columnOptions(table, [columnWithHint(columns, hint)?.name ?? ''])}
                value={columnWithHint(columns, hint)?.name ?? null}
                allowCustomValue
                isClearable
                onChange={(v) =>
                  set({ columns: setRole(columns, hint, v?.value ? (table.find((c) => c.name === v.value) ?? { name: v.value, type: '' }) : undefined) })
                }
              />
            </InlineField>
          ))}
        </Stack>
      )}
      {o.queryType === 'traces' && (
        <TraceOptions meta={meta} traceId={traceId} setMeta={setMeta} />
      )}
      {showColumns && (
        <InlineField label="Columns" labelWidth={LABEL} tooltip="Columns (or expressions) to select">
          <MultiSelect<string>
            aria-label="Columns"
            width={80}
            options={columnOptions(table, plainColumns(columns).map((c) => c.name))}
            value={plainColumns(columns).map((c) => c.name)}
            allowCustomValue
            onChange={(vs) => set({ columns: setPlainColumns(columns, vs.map((v) => v.value ?? '').filter(Boolean), table) })}
          />
        </InlineField>
      )}
      {showAggregates && (
        <AggregatesEditor aggregates={o.aggregates ?? []} table={table} onChange={(aggregates, run) => set({ aggregates }, run)} />
      )}
      {showGroupBy && (
        <InlineField label="Group by" labelWidth={LABEL}>
          <MultiSelect<string>
            aria-label="Group by"
            width={80}
            options={columnOptions(table, o.groupBy ?? [])}
            value={o.groupBy ?? []}
            allowCustomValue
            onChange={(vs) => set({ groupBy: vs.map((v) => v.value ?? '').filter(Boolean) })}
          />
        </InlineField>
      )}
      {o.queryType === 'logs' && (
        <Stack direction="row" gap={0} wrap="wrap">
          <InlineField
            label="Min level"
            labelWidth={LABEL}
            tooltip="Rows at this level or above: the level column IN its spellings (error, ERROR, Error, err…), read by index"
          >
            <Select<string>
              aria-label="Min level"
              width={16}
              options={[{ label: 'Any', value: '' }, ...MIN_LEVELS.map((l) => ({ label: l, value: l }))]}
              value={minLevel ?? (levelFilter && levelFilter.operator !== 'IS ANYTHING' ? null : '')}
              placeholder="custom"
              onChange={(v) => set({ filters: setMinLevel(filters, v.value || undefined, columnWithHint(columns, 'log_level')?.type ?? '') })}
            />
          </InlineField>
          <InlineField label="Message contains" labelWidth={18} tooltip="The message column LIKE '%text%'">
            <BlurInput
              aria-label="Message contains"
              width={40}
              value={meta.logMessageLike ?? ''}
              onCommit={(logMessageLike) => setMeta({ logMessageLike })}
            />
          </InlineField>
        </Stack>
      )}
      <FiltersEditor
        datasource={datasource}
        options={o}
        table={table}
        range={range}
        onChange={(next, run) => set({ filters: next }, run)}
      />
      <OrderByEditor
        orderBy={o.orderBy ?? []}
        options={columnOptions(table, [...(timeseries ? ['time'] : []), ...(o.groupBy ?? []), ...aggregateNames])}
        onChange={(orderBy, run) => set({ orderBy }, run)}
      />
      {!traceId && (
        <InlineField label="Limit" labelWidth={LABEL} tooltip="Empty: no LIMIT">
          <BlurInput
            aria-label="Limit"
            width={12}
            inputMode="numeric"
            value={o.limit && o.limit > 0 ? String(o.limit) : ''}
            onCommit={(text) => set({ limit: parsePositiveInt(text) ?? 0 })}
          />
        </InlineField>
      )}
    </Stack>
    </div>
  );
}

/** Trace id, duration unit, the trace-id lookup table, events and links columns. */
function TraceOptions({ meta, traceId, setMeta }: { meta: BuilderMeta; traceId: boolean; setMeta: (m: Partial<BuilderMeta>, run?: boolean) => void }) {
  const text = (key: 'traceTimestampTableSuffix' | 'traceEventsColumnPrefix' | 'traceLinksColumnPrefix', label: string, tooltip: string, placeholder?: string) => (
    <InlineField label={label} labelWidth={14} tooltip={tooltip}>
      <BlurInput aria-label={label} width={18} value={meta[key] ?? ''} placeholder={placeholder} onCommit={(v) => setMeta({ [key]: v })} />
    </InlineField>
  );
  return (
    <Stack direction="column" gap={0}>
      {traceId && (
        <InlineField label="Trace ID" labelWidth={LABEL}>
          <BlurInput aria-label="Trace ID to show" width={48} value={meta.traceId ?? ''} onCommit={(t) => setMeta({ traceId: t.trim() })} />
        </InlineField>
      )}
      <Stack direction="row" gap={0} wrap="wrap">
        <InlineField label="Duration unit" labelWidth={LABEL}>
          <Select<DurationUnit>
            aria-label="Duration unit"
            width={18}
            options={DURATION_UNITS.map((u) => ({ label: u, value: u }))}
            value={meta.traceDurationUnit ?? null}
            onChange={(v) => setMeta({ traceDurationUnit: v.value })}
          />
        </InlineField>
        {traceId && (
          <InlineField label="Trace timestamp table" labelWidth={22} tooltip="Bound the trace by <table><suffix> (TraceId, Start, End)">
            <InlineSwitch
              aria-label="Use trace timestamp table"
              value={Boolean(meta.hasTraceTimestampTable)}
              onChange={(e) => setMeta({ hasTraceTimestampTable: e.currentTarget.checked })}
            />
          </InlineField>
        )}
        {traceId && meta.hasTraceTimestampTable && text('traceTimestampTableSuffix', 'Table suffix', 'The lookup table is <table><suffix>', '_trace_id_ts')}
      </Stack>
      {traceId && (
        <Stack direction="row" gap={0} wrap="wrap">
          {text('traceEventsColumnPrefix', 'Events prefix', 'Nested span events column (empty: none)')}
          {text('traceLinksColumnPrefix', 'Links prefix', 'Nested span links column (empty: none)')}
          <InlineField label="Flattened nested" labelWidth={18} tooltip="Events and links stored as one Nested column (flatten_nested = 0)">
            <InlineSwitch
              aria-label="Flattened nested"
              value={Boolean(meta.flattenNested)}
              onChange={(e) => setMeta({ flattenNested: e.currentTarget.checked })}
            />
          </InlineField>
        </Stack>
      )}
    </Stack>
  );
}

function AggregatesEditor({
  aggregates,
  table,
  onChange,
}: {
  aggregates: AggregateColumn[];
  table: TableColumn[];
  onChange: (a: AggregateColumn[], run: boolean) => void;
}) {
  const setAt = (i: number, a: AggregateColumn) => onChange(aggregates.map((x, j) => (j === i ? a : x)), a.column !== '');
  return (
    <InlineField label="Aggregates" labelWidth={LABEL}>
      <Stack direction="column" gap={0.5}>
        {aggregates.map((a, i) => (
          <Stack key={i} direction="row" gap={0.5} alignItems="center">
            <Select<AggregateType>
              aria-label={`Aggregate function ${i + 1}`}
              width={12}
              options={AGGREGATE_TYPES.map((t) => ({ label: t, value: t }))}
              value={a.aggregateType}
              onChange={(v) => setAt(i, { ...a, aggregateType: v.value ?? 'count' })}
            />
            <Select<string>
              aria-label={`Aggregate column ${i + 1}`}
              width={28}
              options={columnOptions(table, ['*', a.column])}
              value={a.column || null}
              allowCustomValue
              onChange={(v) => setAt(i, { ...a, column: v.value ?? '' })}
            />
            <BlurInput
              aria-label={`Aggregate alias ${i + 1}`}
              width={20}
              placeholder="alias"
              value={a.alias ?? ''}
              onCommit={(alias) => {
                const next: AggregateColumn = { ...a, alias: alias.trim() };
                if (!next.alias) {
                  delete next.alias;
                }
                setAt(i, next);
              }}
            />
            <IconButton name="trash-alt" tooltip={`Remove aggregate ${i + 1}`} onClick={() => onChange(aggregates.filter((_, j) => j !== i), true)} />
          </Stack>
        ))}
        <div>
          <Button variant="secondary" size="sm" icon="plus" onClick={() => onChange([...aggregates, { aggregateType: 'count', column: '*' }], true)}>
            Add aggregate
          </Button>
        </div>
      </Stack>
    </InlineField>
  );
}

const CONDITIONS: Array<SelectableValue<'AND' | 'OR'>> = [
  { label: 'AND', value: 'AND' },
  { label: 'OR', value: 'OR' },
];

const DATE_VALUES: Array<SelectableValue<string>> = [
  { label: 'Dashboard start', value: 'GRAFANA_START_TIME' },
  { label: 'Dashboard end', value: 'GRAFANA_END_TIME' },
  { label: 'now()', value: 'now()' },
  { label: 'today()', value: 'today()' },
  { label: 'yesterday()', value: 'yesterday()' },
];

/**
 * Whether a filter can run: it names a column (or role), an IN list has a value, and a map or
 * JSON filter names its key.
 */
function complete(f: Filter, columns: SelectedColumn[]): boolean {
  if ((!f.key && !f.hint) || (takesList(f.operator) && (!Array.isArray(f.value) || f.value.length === 0))) {
    return false;
  }
  const type = f.hint ? (columnWithHint(columns, f.hint)?.type ?? f.type) : f.type;
  return !((isMapType(type) || isJsonType(type)) && !f.mapKey && f.operator !== 'IS ANYTHING');
}

function FiltersEditor({
  datasource,
  options,
  table,
  range,
  onChange,
}: {
  datasource: DataSource;
  options: BuilderOptions;
  table: TableColumn[];
  range?: TimeRange;
  onChange: (filters: Filter[], run: boolean) => void;
}) {
  const filters = options.filters ?? [];
  const columnType = (f: Filter) => (f.hint ? (columnWithHint(options.columns, f.hint)?.type ?? f.type) : f.type) ?? '';
  const anyMap = filters.some((f) => isMapType(columnType(f)));
  const mapKeys = useMapKeys(datasource, options.database, options.table, table, anyMap, range);
  const setAt = (i: number, f: Filter) => {
    const next = filters.map((x, j) => (j === i ? f : x));
    onChange(next, next.every((x) => complete(x, options.columns)));
  };
  return (
    <InlineField label="Filters" labelWidth={LABEL}>
      <Stack direction="column" gap={0.5}>
        {filters.map((f, i) => {
          const n = i + 1;
          const type = columnType(f);
          const valueType = filterValueType(f, options.columns);
          const json = isJsonType(type) && Boolean(f.mapKey);
          const ops = operatorsFor(valueType, json);
          const opOptions = (ops.includes(f.operator) ? ops : [f.operator, ...ops]).map((op) => ({ label: op, value: op }));
          const keyLabel = f.hint && !f.key ? `${hintLabel(f.hint)} (${columnWithHint(options.columns, f.hint)?.name ?? 'role not set'})` : f.key;
          return (
            <Stack key={i} direction="row" gap={0.5} alignItems="center" wrap="wrap">
              {i > 0 && (
                <Select<'AND' | 'OR'>
                  aria-label={`Filter condition ${n}`}
                  width={9}
                  options={CONDITIONS}
                  value={f.condition ?? 'AND'}
                  onChange={(v) => setAt(i, { ...f, condition: v.value ?? 'AND' })}
                />
              )}
              <Select<string>
                aria-label={`Filter column ${n}`}
                width={30}
                options={columnOptions(table, f.hint && !f.key ? [] : [f.key])}
                value={f.hint && !f.key ? null : f.key || null}
                placeholder={keyLabel || 'column'}
                allowCustomValue
                onChange={(v) => {
                  const name = v?.value ?? '';
                  const col = table.find((c) => c.name === name) ?? { name, type: 'String' };
                  setAt(i, { ...newFilter(col, f.condition ?? 'AND'), ...(f.id ? { id: f.id } : {}) });
                }}
              />
              {(isMapType(type) || isJsonType(type)) && (
                <Select<string>
                  aria-label={`Filter map key ${n}`}
                  width={30}
                  options={nameOptions(isMapType(type) ? mapKeys : [], f.mapKey)}
                  value={f.mapKey || null}
                  placeholder={isJsonType(type) ? 'path, e.g. http.method' : 'key'}
                  allowCustomValue
                  onChange={(v) => setAt(i, { ...f, mapKey: v?.value ?? '' })}
                />
              )}
              <Select<Operator>
                aria-label={`Filter operator ${n}`}
                width={30}
                options={opOptions}
                value={f.operator}
                onChange={(v) => setAt(i, withOperator(f, v.value ?? '=', valueType))}
              />
              {!takesNoValue(f.operator) && <FilterValue f={f} n={n} valueType={valueType} onChange={(x) => setAt(i, x)} />}
              <IconButton name="trash-alt" tooltip={`Remove filter ${n}`} onClick={() => onChange(filters.filter((_, j) => j !== i), true)} />
            </Stack>
          );
        })}
        <div>
          <Button
            variant="secondary"
            size="sm"
            icon="plus"
            onClick={() => onChange([...filters, { filterType: 'custom', key: '', type: '', operator: 'IS ANYTHING', condition: 'AND' }], false)}
          >
            Add filter
          </Button>
        </div>
      </Stack>
    </InlineField>
  );
}

/** A filter's value input, by the class of the type it is compared as. */
function FilterValue({ f, n, valueType, onChange }: { f: Filter; n: number; valueType: string; onChange: (f: Filter) => void }) {
  const label = `Filter value ${n}`;
  const cls = typeClass(valueType);
  if (cls === 'boolean' && !takesList(f.operator)) {
    return (
      <Select<string>
        aria-label={label}
        width={12}
        options={[
          { label: 'true', value: 'true' },
          { label: 'false', value: 'false' },
        ]}
        value={String(f.value === true || f.value === 'true')}
        onChange={(v) => onChange({ ...f, value: v.value === 'true' })}
      />
    );
  }
  if (cls === 'date' && !takesList(f.operator)) {
    const current = typeof f.value === 'string' ? f.value : '';
    return (
      <Select<string>
        aria-label={label}
        width={30}
        options={current && !DATE_VALUES.some((d) => d.value === current) ? [{ label: current, value: current }, ...DATE_VALUES] : DATE_VALUES}
        value={current || null}
        allowCustomValue
        onChange={(v) => onChange({ ...f, value: v.value ?? '' })}
      />
    );
  }
  return (
    <BlurInput
      aria-label={label}
      width={36}
      value={filterValueText(f.value)}
      placeholder={takesList(f.operator) ? 'a, b, c' : cls === 'number' ? 'number' : 'value'}
      onCommit={(text) => onChange({ ...f, value: parseFilterValue(text, f.operator, valueType) })}
    />
  );
}

function OrderByEditor({
  orderBy,
  options,
  onChange,
}: {
  orderBy: OrderByEntry[];
  options: Array<SelectableValue<string>>;
  onChange: (o: OrderByEntry[], run: boolean) => void;
}) {
  const setAt = (i: number, e: OrderByEntry) => onChange(orderBy.map((x, j) => (j === i ? e : x)), e.name !== '' || Boolean(e.hint));
  return (
    <InlineField label="Order by" labelWidth={LABEL}>
      <Stack direction="column" gap={0.5}>
        {orderBy.map((e, i) => {
          const n = i + 1;
          const byHint = Boolean(e.hint) && !e.name;
          return (
            <Stack key={i} direction="row" gap={0.5} alignItems="center">
              <Select<string>
                aria-label={`Order by column ${n}`}
                width={30}
                options={options}
                value={byHint ? null : e.name || null}
                placeholder={byHint ? hintLabel(e.hint ?? '') : 'column'}
                allowCustomValue
                onChange={(v) => setAt(i, { name: v?.value ?? '', dir: e.dir })}
              />
              <RadioButtonGroup<'ASC' | 'DESC'>
                aria-label={`Order by direction ${n}`}
                size="sm"
                options={[
                  { label: 'ASC', value: 'ASC' },
                  { label: 'DESC', value: 'DESC' },
                ]}
                value={e.dir === 'DESC' ? 'DESC' : 'ASC'}
                onChange={(dir) => setAt(i, { ...e, dir })}
              />
              <IconButton name="trash-alt" tooltip={`Remove order by ${n}`} onClick={() => onChange(orderBy.filter((_, j) => j !== i), true)} />
            </Stack>
          );
        })}
        <div>
          <Button variant="secondary" size="sm" icon="plus" onClick={() => onChange([...orderBy, { name: '', dir: 'ASC' }], false)}>
            Add order by
          </Button>
        </div>
      </Stack>
    </InlineField>
  );
}
