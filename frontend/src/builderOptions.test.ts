import {
  BuilderOptions,
  filterValueType,
  formatOf,
  isRunnable,
  levelSpellings,
  mapValueType,
  minLevelOf,
  newOptions,
  operatorsFor,
  parseFilterValue,
  readOptions,
  setMinLevel,
  setPlainColumns,
  setRole,
  typeClass,
  withBuilderOptions,
  withOperator,
} from './builderOptions';
import { Format, LanternQuery } from './types';

const OTEL_LOGS = [
  { name: 'Timestamp', type: 'DateTime64(9)' },
  { name: 'TraceId', type: 'String' },
  { name: 'SeverityText', type: 'LowCardinality(String)' },
  { name: 'SeverityNumber', type: 'UInt8' },
  { name: 'Body', type: 'String' },
  { name: 'ResourceAttributes', type: 'Map(LowCardinality(String), String)' },
  { name: 'ScopeAttributes', type: 'Map(LowCardinality(String), String)' },
  { name: 'LogAttributes', type: 'Map(LowCardinality(String), String)' },
];

describe('builderOptions', () => {
  it('reads saved options, keeping fields it does not know', () => {
    const o = readOptions({ database: 'd', table: 't', queryType: 'logs', columns: [{ name: 'a' }, 3], meta: { liveView: true }, extra: 1 });
    expect(o).toEqual({ database: 'd', table: 't', queryType: 'logs', columns: [{ name: 'a' }], meta: { liveView: true }, extra: 1 });
    expect(readOptions(undefined)).toEqual({ database: '', table: '', queryType: 'table', columns: [], meta: {} });
  });

  it('migrates v3 options as that plugin does', () => {
    const o = readOptions({
      database: 'db',
      table: 't',
      mode: 'trend',
      fields: ['a'],
      timeField: 'ts',
      timeFieldType: 'DateTime',
      metrics: [{ field: 'v', aggregation: 'sum', alias: 's' }],
      filters: [{ key: 'ts', operator: 'WITH IN DASHBOARD TIME RANGE', type: 'datetime', condition: 'AND', filterType: 'custom' }],
      groupBy: ['a'],
      limit: -1,
    });
    expect(o.queryType).toBe('timeseries');
    expect(o.mode).toBe('trend');
    expect(o.columns).toEqual([{ name: 'a' }, { name: 'ts', type: 'DateTime', hint: 'time' }]);
    expect(o.aggregates).toEqual([{ aggregateType: 'sum', column: 'v', alias: 's' }]);
    expect(o.filters?.[0].hint).toBe('time');
    expect(o.limit).toBeUndefined();
  });

  it('formats per query type, traces by id as traces', () => {
    const f = (o: Partial<BuilderOptions>) => formatOf({ database: '', table: '', columns: [], queryType: 'table', ...o });
    expect(f({ queryType: 'table' })).toBe(Format.TABLE);
    expect(f({ queryType: 'logs' })).toBe(Format.LOGS);
    expect(f({ queryType: 'timeseries' })).toBe(Format.TIME_SERIES);
    expect(f({ queryType: 'traces' })).toBe(Format.TABLE);
    expect(f({ queryType: 'traces', meta: { isTraceIdMode: true } })).toBe(Format.TRACES);
  });

  it('an edit saves the options with rawSql cleared, editorType builder, format and queryType of the options', () => {
    const q = {
      refId: 'A',
      editorType: 'sql',
      queryType: 'builder',
      rawSql: 'SELECT 1',
      format: Format.TABLE,
      builderOptions: {},
      pluginVersion: '3.1.0',
    } as unknown as LanternQuery;
    const o = readOptions({ database: 'd', table: 't', queryType: 'logs', columns: [] });
    expect(withBuilderOptions(q, o)).toEqual({
      refId: 'A',
      editorType: 'builder',
      queryType: 'logs',
      rawSql: '',
      format: Format.LOGS,
      builderOptions: o,
      pluginVersion: '3.1.0',
    });
  });

  it('runs only options that make SQL: a table, something to select, a trace id in trace-id mode', () => {
    const o = (p: Partial<BuilderOptions>): BuilderOptions => ({ database: 'd', table: 't', queryType: 'table', columns: [{ name: 'a' }], ...p });
    expect(isRunnable(o({}))).toBe(true);
    expect(isRunnable(o({ table: '' }))).toBe(false);
    expect(isRunnable(o({ columns: [] }))).toBe(false);
    expect(isRunnable(o({ columns: [], mode: 'aggregate', aggregates: [{ aggregateType: 'count', column: '*' }] }))).toBe(true);
    expect(isRunnable(o({ queryType: 'traces', meta: { isTraceIdMode: true } }))).toBe(false);
    expect(isRunnable(o({ queryType: 'traces', meta: { isTraceIdMode: true, traceId: 'abc' } }))).toBe(true);
    expect(isRunnable(o({ queryType: 'traces', columns: [], meta: {} }))).toBe(true);
  });

  it('type classes follow that generator (Bool is not boolean, LowCardinality(Nullable(Date)) is not a date)', () => {
    expect(typeClass('boolean')).toBe('boolean');
    expect(typeClass('Bool')).toBe('other');
    expect(typeClass('Nullable(Float64)')).toBe('number');
    expect(typeClass('DateTime64(9)')).toBe('date');
    expect(typeClass('LowCardinality(Nullable(Date))')).toBe('other');
    expect(typeClass('LowCardinality(String)')).toBe('string');
    expect(typeClass('FixedString(16)')).toBe('string');
    expect(typeClass('UUID')).toBe('other');
  });

  it('map filters compare the map value type, split at the top-level comma', () => {
    expect(mapValueType('Map(LowCardinality(String), String)')).toBe('String');
    expect(mapValueType('Map(String, Decimal(10, 2))')).toBe('Decimal(10, 2)');
    const f = { filterType: 'custom' as const, key: 'M', mapKey: 'k', type: 'Map(String, UInt64)', operator: '=' as const, condition: 'AND' as const };
    expect(filterValueType(f, [])).toBe('UInt64');
    expect(filterValueType({ ...f, type: 'JSON' }, [])).toBe('String');
    // A filter by role takes its column's type.
    expect(filterValueType({ ...f, key: '', mapKey: undefined, hint: 'time', type: 'datetime' }, [{ name: 'ts', type: 'DateTime', hint: 'filter_time' }])).toBe(
      'DateTime'
    );
  });

  it('offers the operators of the type: ranges for dates, LIKE for strings, comparisons for numbers', () => {
    expect(operatorsFor('DateTime')).toContain('WITH IN DASHBOARD TIME RANGE');
    expect(operatorsFor('String')).not.toContain('WITH IN DASHBOARD TIME RANGE');
    expect(operatorsFor('String')).toEqual(expect.arrayContaining(['LIKE', 'NOT ILIKE', 'IN', 'IS EMPTY']));
    expect(operatorsFor('UInt64')).not.toContain('LIKE');
    expect(operatorsFor('boolean')).toEqual(['IS ANYTHING', '=', '!=']);
    expect(operatorsFor('JSON', true)).not.toContain('IS EMPTY');
  });

  it('typed values: numbers for number columns, lists for IN, text stays text (variables)', () => {
    expect(parseFilterValue(' 42 ', '>', 'UInt64')).toBe(42);
    expect(parseFilterValue('$min', '>', 'UInt64')).toBe('$min');
    expect(parseFilterValue('1, 2,x', 'IN', 'Int32')).toEqual([1, 2, 'x']);
    expect(parseFilterValue('a, b ,', 'NOT IN', 'String')).toEqual(['a', 'b']);
    expect(parseFilterValue(' x ', '=', 'String')).toBe(' x ');
  });

  it('changing the operator converts the value', () => {
    const f = { filterType: 'custom' as const, key: 's', type: 'String', operator: '=' as const, value: 'a', condition: 'AND' as const };
    expect(withOperator(f, 'IN', 'String').value).toEqual(['a']);
    expect(withOperator({ ...f, operator: 'IN', value: ['x', 'y'] }, '=', 'String').value).toBe('x');
    expect('value' in withOperator(f, 'IS NULL', 'String')).toBe(false);
    expect(withOperator({ ...f, type: 'UInt8', value: '7' }, '>', 'UInt8').value).toBe(7);
    expect(withOperator({ ...f, type: 'DateTime', value: undefined }, '>=', 'DateTime').value).toBe('GRAFANA_START_TIME');
  });

  it('roles replace the first column with the hint in place; the Columns picker edits columns without a hint', () => {
    const cols = [{ name: 'a' }, { name: 'ts', hint: 'time' }, { name: 'ts2', hint: 'time' }];
    expect(setRole(cols, 'time', { name: 'x', type: 'DateTime' })).toEqual([{ name: 'a' }, { name: 'x', type: 'DateTime', hint: 'time' }, { name: 'ts2', hint: 'time' }]);
    expect(setRole(cols, 'log_level', { name: 'lvl', type: 'String' })).toEqual([...cols, { name: 'lvl', type: 'String', hint: 'log_level' }]);
    expect(setRole(cols, 'time', undefined)).toEqual([{ name: 'a' }, { name: 'ts2', hint: 'time' }]);
    expect(setPlainColumns([{ name: 'a', alias: 'A' }, { name: 'ts', hint: 'time' }], ['a', 'b', 'count()'], [{ name: 'b', type: 'UInt8' }])).toEqual([
      { name: 'a', alias: 'A' },
      { name: 'b', type: 'UInt8' },
      { name: 'count()', custom: true },
      { name: 'ts', hint: 'time' },
    ]);
  });

  it('a minimum level is IN of the raw spellings on the level column (sargable), and reads back', () => {
    const spellings = levelSpellings('warning');
    expect(spellings).toEqual(expect.arrayContaining(['fatal', 'FATAL', 'Fatal', 'error', 'ERROR', 'err', 'warn', 'WARN', 'Warning']));
    expect(spellings).not.toContain('info');
    const filters = setMinLevel([{ filterType: 'custom', key: '', hint: 'log_level', type: 'string', operator: 'IS ANYTHING', condition: 'AND' }], 'warning', 'LowCardinality(String)');
    expect(filters).toEqual([
      { filterType: 'custom', key: '', hint: 'log_level', type: 'LowCardinality(String)', operator: 'IN', value: spellings, condition: 'AND' },
    ]);
    expect(minLevelOf(filters[0])).toBe('warning');
    expect(minLevelOf({ ...filters[0], value: ['error'] })).toBeUndefined();
    expect(setMinLevel(filters, undefined, 'String')[0].operator).toBe('IS ANYTHING');
    expect(setMinLevel([], undefined, 'String')).toEqual([]);
  });

  describe('new queries', () => {
    it('logs take the OTel columns (1.3.0 without TimestampTime), the dashboard range, level IS ANYTHING and time DESC', () => {
      const o = newOptions('logs', { logs: { defaultDatabase: 'otel', defaultTable: 'otel_logs', otelEnabled: true } }, { database: 'otel', table: 'otel_logs' }, OTEL_LOGS);
      expect(o.columns.map((c) => [c.hint, c.name])).toEqual([
        ['time', 'Timestamp'],
        ['log_message', 'Body'],
        ['log_level', 'SeverityText'],
        ['trace_id', 'TraceId'],
        ['resource_attributes', 'ResourceAttributes'],
        ['scope_attributes', 'ScopeAttributes'],
        ['log_attributes', 'LogAttributes'],
      ]);
      expect(o.columns[0].type).toBe('DateTime64(9)');
      expect(o).toMatchObject({ queryType: 'logs', mode: 'list', limit: 1000, meta: { otelEnabled: true, otelVersion: 'latest' } });
      expect(o.filters?.map((f) => [f.hint, f.operator])).toEqual([
        ['filter_time', 'WITH IN DASHBOARD TIME RANGE'],
        ['log_level', 'IS ANYTHING'],
      ]);
      expect(o.orderBy?.map((e) => [e.hint, e.dir])).toEqual([
        ['filter_time', 'DESC'],
        ['time', 'DESC'],
      ]);
      // latest on a 1.2.9 table: TimestampTime is the filter time column.
      const old = newOptions('logs', { logs: { otelEnabled: true } }, { database: '', table: 'l' }, [...OTEL_LOGS, { name: 'TimestampTime', type: 'DateTime' }]);
      expect(old.columns[0]).toEqual({ name: 'TimestampTime', type: 'DateTime', hint: 'filter_time' });
    });

    it('logs without OTel take the configured column roles', () => {
      const o = newOptions(
        'logs',
        { logs: { otelEnabled: false, timeColumn: 'event_time', messageColumn: 'message', levelColumn: 'level' } },
        { database: 'd', table: 'app' },
        [
          { name: 'event_time', type: 'DateTime' },
          { name: 'message', type: 'String' },
          { name: 'level', type: 'String' },
        ]
      );
      expect(o.columns).toEqual([
        { name: 'event_time', type: 'DateTime', hint: 'time' },
        { name: 'message', type: 'String', hint: 'log_message' },
        { name: 'level', type: 'String', hint: 'log_level' },
      ]);
      expect(o.meta?.otelEnabled).toBe(false);
    });

    it('traces take the OTel columns, the default search filters, nanoseconds and the lookup table when it exists', () => {
      const table = [
        'Timestamp:DateTime64(9)',
        'TraceId:String',
        'SpanId:String',
        'ParentSpanId:String',
        'ServiceName:String',
        'SpanName:String',
        'Duration:UInt64',
        'SpanAttributes:Map(String, String)',
        'Events.Name:Array(String)',
      ].map((s) => ({ name: s.split(':')[0], type: s.split(':')[1] }));
      const o = newOptions('traces', {}, { database: 'otel', table: 'otel_traces' }, table, ['otel_traces', 'otel_traces_trace_id_ts']);
      expect(o.meta).toMatchObject({
        otelEnabled: true,
        isTraceIdMode: false,
        traceDurationUnit: 'nanoseconds',
        traceEventsColumnPrefix: 'Events',
        traceLinksColumnPrefix: '',
        hasTraceTimestampTable: true,
      });
      expect(o.filters?.map((f) => [f.hint, f.operator, f.value])).toEqual([
        ['time', 'WITH IN DASHBOARD TIME RANGE', undefined],
        ['trace_parent_span_id', 'IS EMPTY', undefined],
        ['trace_duration_time', '>', 0],
        ['trace_service_name', 'IS ANYTHING', undefined],
      ]);
      expect(o.columns.find((c) => c.hint === 'trace_tags')).toEqual({ name: 'SpanAttributes', type: 'Map(String, String)', hint: 'trace_tags' });
    });

    it('time series pick a time column; tables start empty', () => {
      const o = newOptions('timeseries', {}, { database: 'd', table: 't' }, [
        { name: 'n', type: 'UInt8' },
        { name: 'at', type: 'DateTime' },
      ]);
      expect(o).toMatchObject({ mode: 'aggregate', columns: [{ name: 'at', type: 'DateTime', hint: 'time' }] });
      expect(o.orderBy).toEqual([{ name: '', hint: 'time', dir: 'ASC', default: true }]);
      expect(newOptions('table', { defaultDatabase: 'x' }, { database: 'x', table: '' }, [])).toEqual({
        database: 'x',
        table: '',
        queryType: 'table',
        mode: 'list',
        columns: [],
        limit: 1000,
        meta: {},
      });
    });
  });
});
