import {
  AdHocVariableFilter,
  CoreApp,
  DataQueryRequest,
  dateTime,
  DataSourceInstanceSettings,
  LogRowContextQueryDirection,
  LogRowModel,
  ScopedVars,
  SupplementaryQueryType,
  TypedVariableModel,
} from '@grafana/data';
import { BackendSrv, GrafanaLiveSrv, setBackendSrv, setGrafanaLiveSrv, setTemplateSrv, TemplateSrv } from '@grafana/runtime';
import { lastValueFrom, of } from 'rxjs';

import { DataSource, errorMessage, referencesVariable, tailKey } from './datasource';
import { Format, LanternOptions, LanternQuery } from './types';

const instanceSettings = {
  id: 1,
  uid: 'lantern',
  type: 'lantern-clickhouse-datasource',
  name: 'Lantern ClickHouse',
  access: 'proxy',
  readOnly: false,
  jsonData: { host: 'localhost', port: 8123, protocol: 'http' },
  meta: { id: 'lantern-clickhouse-datasource' },
} as unknown as DataSourceInstanceSettings<LanternOptions>;

function variable(name: string, current: { text: string | string[]; value: string | string[] }, extra: object = {}) {
  return { name, type: 'custom', current, options: [], ...extra } as unknown as TypedVariableModel;
}

/**
 * Minimal stand-in for Grafana's TemplateSrv. `replace` is a mock: applyTemplateVariables and
 * expandQuery must never interpolate rawSql themselves (the backend does), which the tests
 * assert. Browser-side interpolation for Explore is tested in interpolate.test.ts.
 */
function fakeTemplateSrv(variables: TypedVariableModel[]): TemplateSrv & { replace: jest.Mock } {
  return {
    getVariables: () => variables,
    containsTemplate: () => false,
    updateTimeRange: () => {},
    replace: jest.fn((target?: string) => `REPLACED(${target ?? ''})`),
  };
}

function query(rawSql: string, extra: Partial<LanternQuery> = {}): LanternQuery {
  return { refId: 'A', editorType: 'sql', rawSql, format: Format.TABLE, ...extra };
}

describe('DataSource', () => {
  const variables = [
    variable('service', { text: 'api', value: 'api' }),
    variable('hosts', { text: ['a', "b'c"], value: ['a', "b'c"] }, { multi: true }),
    variable(
      'level',
      { text: 'All', value: ['$__all'] },
      {
        multi: true,
        includeAll: true,
        options: [
          { text: 'All', value: '$__all', selected: true },
          { text: 'info', value: 'info', selected: false },
          { text: 'error', value: 'error', selected: false },
        ],
      }
    ),
    variable(
      'region',
      { text: 'All', value: '$__all' },
      {
        includeAll: true,
        allValue: '.*',
        options: [
          { text: 'All', value: '$__all', selected: true },
          { text: 'eu', value: 'eu', selected: false },
        ],
      }
    ),
    variable(
      'env',
      { text: ['prod'], value: ['prod'] },
      {
        multi: true,
        includeAll: true,
        allValue: '',
        options: [
          { text: 'All', value: '$__all', selected: false },
          { text: 'prod', value: 'prod', selected: true },
          { text: 'dev', value: 'dev', selected: false },
        ],
      }
    ),
    variable('unused', { text: 'x', value: 'x' }),
    { name: 'filters', type: 'adhoc', filters: [] } as unknown as TypedVariableModel,
  ];
  let ds: DataSource;
  let templateSrv: ReturnType<typeof fakeTemplateSrv>;

  beforeEach(() => {
    templateSrv = fakeTemplateSrv(variables);
    setTemplateSrv(templateSrv);
    ds = new DataSource(instanceSettings);
  });

  it('tails logs queries through the backend stream when Explore goes live', async () => {
    const addrs: Array<{ scope: string; stream: string; path: string; data: LanternQuery }> = [];
    setGrafanaLiveSrv({
      getDataStream: (opts: { addr: (typeof addrs)[number] }) => {
        addrs.push(opts.addr);
        return of({ data: [] });
      },
    } as unknown as GrafanaLiveSrv);
    const logs = query('SELECT Timestamp, Body FROM t WHERE $__timeFilter(Timestamp) AND s = $service', {
      format: Format.LOGS,
    });
    const table = query('SELECT 1', { refId: 'B' });
    const request = {
      targets: [logs, table],
      liveStreaming: true,
      scopedVars: { service: { text: 'web', value: 'web' } },
      range: { from: dateTime(0), to: dateTime(1), raw: { from: 'now-1h', to: 'now' } },
    } as unknown as DataQueryRequest<LanternQuery>;
    await lastValueFrom(ds.query(request));
    expect(addrs).toHaveLength(1);
    expect(addrs[0].scope).toBe('ds');
    expect(addrs[0].stream).toBe(ds.uid);
    expect(addrs[0].path).toMatch(/^tail\/[A-Za-z0-9_.-]{1,128}$/);
    expect(addrs[0].data.rawSql).toBe(logs.rawSql);
    expect(addrs[0].path).toBe(`tail/${tailKey(addrs[0].data)}`);
    // Another query is another stream; the same query, the same one.
    expect(tailKey({ rawSql: 'a' })).not.toBe(tailKey({ rawSql: 'b' }));
    expect(tailKey({ rawSql: 'a' })).toBe(tailKey({ rawSql: 'a' }));
    // Nothing to tail is an error, not a silent empty stream.
    expect(() => ds.query({ ...request, targets: [table] })).toThrow('Live tail needs a logs query');
  });

  it('defaults to an empty SQL table query', () => {
    expect(ds.getDefaultQuery('panel-editor' as never)).toEqual({ editorType: 'sql', rawSql: '', format: 1 });
  });

  it('filterQuery skips hidden and empty queries', () => {
    expect(ds.filterQuery(query('SELECT 1'))).toBe(true);
    expect(ds.filterQuery(query('SELECT 1', { hide: true }))).toBe(false);
    expect(ds.filterQuery(query('   \n  '))).toBe(false);
    expect(ds.filterQuery({ refId: 'A' } as LanternQuery)).toBe(false);
  });

  it('sends rawSql exactly as typed: variables and macros are left for the backend', () => {
    const sql =
      "SELECT * FROM t WHERE $__timeFilter(ts) AND svc = '$service' AND host IN (${hosts:singlequote}) AND l IN ([[level]])";
    const out = ds.applyTemplateVariables(query(sql), { service: { text: 'web', value: 'web' } });
    expect(out.rawSql).toBe(sql);
    expect(templateSrv.replace).not.toHaveBeenCalled();
  });

  it('sends a single-value variable', () => {
    const out = ds.applyTemplateVariables(query('SELECT 1 WHERE s = $service'), {});
    expect(out.templateVars).toEqual({
      service: { values: ['api'], text: 'api', multi: false, includeAll: false, allSelected: false },
    });
  });

  it('sends a multi-value variable with every selected value', () => {
    const out = ds.applyTemplateVariables(query('SELECT 1 WHERE h IN (${hosts:singlequote}) AND e IN ($env)'), {});
    expect(out.templateVars).toEqual({
      hosts: { values: ['a', "b'c"], text: "a + b'c", multi: true, includeAll: false, allSelected: false },
      // An empty allValue is no custom all value; it is not sent while All is not selected anyway.
      env: { values: ['prod'], text: 'prod', multi: true, includeAll: true, allSelected: false },
    });
  });

  it('expands "All" to every option value when there is no custom all value', () => {
    const out = ds.applyTemplateVariables(query('SELECT 1 WHERE l IN ([[level]])'), {});
    expect(out.templateVars).toEqual({
      level: { values: ['info', 'error'], text: 'All', multi: true, includeAll: true, allSelected: true },
    });
  });

  it('sends the custom all value instead of values when "All" is selected', () => {
    const out = ds.applyTemplateVariables(query("SELECT 1 WHERE match(r, '${region}')"), {});
    expect(out.templateVars).toEqual({
      region: { values: [], text: 'All', multi: false, includeAll: true, allSelected: true, customAllValue: '.*' },
    });
  });

  it('treats an empty custom all value as none and falls back to the options', () => {
    setTemplateSrv(
      fakeTemplateSrv([
        variable(
          'v',
          { text: ['All'], value: ['$__all'] },
          { multi: true, includeAll: true, allValue: '', options: [{ text: 'All', value: '$__all' }, { text: 'x', value: 'x' }] }
        ),
      ])
    );
    const out = ds.applyTemplateVariables(query('SELECT $v'), {});
    expect(out.templateVars).toEqual({
      v: { values: ['x'], text: 'All', multi: true, includeAll: true, allSelected: true },
    });
  });

  it('sends templateVars only for variables the SQL references', () => {
    const out = ds.applyTemplateVariables(
      query('SELECT 1 WHERE s = $service AND h IN (${hosts:singlequote}) AND l IN ([[level]]) AND r = ${region}'),
      {}
    );
    expect(Object.keys(out.templateVars ?? {}).sort()).toEqual(['hosts', 'level', 'region', 'service']);
    expect(out.templateVars).not.toHaveProperty('unused');
    expect(out.templateVars).not.toHaveProperty('filters');
    expect(out.templateVars).not.toHaveProperty('env');
  });

  it('does not treat a longer name as a reference ($service vs $services)', () => {
    const out = ds.applyTemplateVariables(query('SELECT $services'), {});
    expect(out.templateVars).toBeUndefined();
  });

  it('scopedVars (repeated panels) override the current value as a single value', () => {
    const out = ds.applyTemplateVariables(query('SELECT $service, $hosts, $level, $row'), {
      service: { text: 'web', value: 'web' },
      hosts: { text: 'b', value: 'b' },
      level: { text: 'error', value: 'error' },
      // Only in scopedVars (no dashboard variable of that name).
      row: { text: 'Row 1', value: 'r1' },
    });
    expect(out.templateVars).toEqual({
      service: { values: ['web'], text: 'web', multi: false, includeAll: false, allSelected: false },
      hosts: { values: ['b'], text: 'b', multi: false, includeAll: false, allSelected: false },
      level: { values: ['error'], text: 'error', multi: false, includeAll: false, allSelected: false },
      row: { values: ['r1'], text: 'Row 1', multi: false, includeAll: false, allSelected: false },
    });
  });

  it('does not send built-in variables', () => {
    const scoped: ScopedVars = {
      __interval: { text: '1m', value: '1m' },
      __interval_ms: { text: '60000', value: 60000 },
      __from: { text: '1000', value: 1000 },
      __to: { text: '2000', value: 2000 },
      __dashboard: { text: 'Logs', value: { name: 'Logs', uid: 'abc' } },
      __user: { text: 'admin', value: { login: 'admin' } },
    };
    const sql = 'SELECT $__interval, ${__interval_ms}, ${__from}, ${__to:date}, [[__dashboard]], ${__user.login}';
    const out = ds.applyTemplateVariables(query(sql), scoped);
    expect(out.templateVars).toBeUndefined();
    expect(out.rawSql).toBe(sql);
  });

  it('passes ad hoc filters as adHocFilters, one entry with every value for =| and !=|', () => {
    const filters: AdHocVariableFilter[] = [
      { key: 'ServiceName', operator: '=', value: 'api' },
      { key: 'Duration', operator: '>', value: 5 as unknown as string },
      { key: 'Body', operator: '=~', value: 'timeout.*' },
      { key: 'SeverityText', operator: '=|', value: 'ERROR', values: ['ERROR', 'WARN'] },
      { key: 'Host', operator: '!=|', value: 'a', values: ['a', 'b', 3 as unknown as string] },
      // No values array: the single value is the only one.
      { key: 'Pod', operator: '=|', value: 'p1' },
      // Empty values and no value: nothing selected.
      { key: 'Node', operator: '!=|', value: undefined as unknown as string, values: [] },
    ];
    const out = ds.applyTemplateVariables(query('SELECT 1 WHERE $__adHocFilters(logs)'), {}, filters);
    expect(out.adHocFilters).toEqual([
      { key: 'ServiceName', operator: '=', value: 'api' },
      { key: 'Duration', operator: '>', value: '5' },
      { key: 'Body', operator: '=~', value: 'timeout.*' },
      { key: 'SeverityText', operator: '=|', value: 'ERROR', values: ['ERROR', 'WARN'] },
      { key: 'Host', operator: '!=|', value: 'a', values: ['a', 'b', '3'] },
      { key: 'Pod', operator: '=|', value: 'p1', values: ['p1'] },
      { key: 'Node', operator: '!=|', value: '', values: [] },
    ]);
    // Single-value operators carry no `values` key at all.
    expect(out.adHocFilters?.[0]).not.toHaveProperty('values');
    // The value is the first of values, even when Grafana's `value` says otherwise.
    const [f] = ds.applyTemplateVariables(query('SELECT 1'), {}, [
      { key: 'k', operator: '=|', value: 'stale', values: ['x', 'y'] },
    ]).adHocFilters!;
    expect(f).toEqual({ key: 'k', operator: '=|', value: 'x', values: ['x', 'y'] });
    expect(ds.applyTemplateVariables(query('SELECT 1'), {}, []).adHocFilters).toBeUndefined();
    expect(ds.applyTemplateVariables(query('SELECT 1'), {}).adHocFilters).toBeUndefined();
  });

  it('keeps the rest of the query unchanged', () => {
    const q = query('SELECT 1', { format: Format.LOGS, queryType: 'logs', meta: { timezone: 'UTC' } });
    const out = ds.applyTemplateVariables(q, {});
    expect(out).toEqual({ ...q });
    expect(q).not.toHaveProperty('templateVars');
    // editorType defaults to sql for queries saved without it.
    const legacy = { refId: 'B', rawSql: 'SELECT 2', format: Format.TIME_SERIES } as LanternQuery;
    expect(ds.applyTemplateVariables(legacy, {})).toEqual({ ...legacy, editorType: 'sql' });
  });

  // Official builder panels run their rawSql, or the SQL the backend generates from their
  // options: variables in either reached the backend without values.
  it('sends the variables an official builder query uses in its rawSql or its options, keeping its model', () => {
    const filter = { filterType: 'custom', key: 'ServiceName', type: 'String', operator: '=', value: '${service:singlequote}', condition: 'AND' };
    const edited = {
      refId: 'A',
      editorType: 'builder',
      rawSql: '',
      format: Format.TABLE,
      queryType: 'table',
      builderOptions: { database: 'd', table: 't', queryType: 'table', columns: [], filters: [filter] },
    } as LanternQuery;
    const out = ds.applyTemplateVariables(edited, {});
    expect(out).toEqual({
      ...edited,
      templateVars: { service: { values: ['api'], text: 'api', multi: false, includeAll: false, allSelected: false } },
    });
    const savedSql = { ...edited, rawSql: 'SELECT 1 WHERE h IN ($hosts)', builderOptions: { columns: [] } } as LanternQuery;
    expect(Object.keys(ds.applyTemplateVariables(savedSql, {}).templateVars ?? {})).toEqual(['hosts']);
    // Saved without editorType (classified by builderOptions): none is added.
    const bare = { ...edited, editorType: undefined } as unknown as LanternQuery;
    expect(ds.applyTemplateVariables(bare, {}).editorType).toBeUndefined();
    expect(templateSrv.replace).not.toHaveBeenCalled();
  });

  it('drops stale templateVars/adHocFilters carried by the query', () => {
    const q = query('SELECT 1', {
      templateVars: { old: { values: ['x'], text: 'x', multi: false, includeAll: false, allSelected: false } },
      adHocFilters: [{ key: 'k', operator: '=', value: 'v' }],
    });
    const out = ds.applyTemplateVariables(q, {});
    expect(out).not.toHaveProperty('templateVars');
    expect(out).not.toHaveProperty('adHocFilters');
  });

  it('expandQuery posts the same applied query to the backend resource', async () => {
    const post = jest.spyOn(ds, 'postResource').mockResolvedValue({ sql: 'SELECT 1', client: 'http' });
    const range = { from: dateTime(1000), to: dateTime(61000), raw: { from: 'now-1m', to: 'now' } };
    const q = query('SELECT $service WHERE $__timeFilter(ts) AND $__adHocFilters(logs)');
    const filters: AdHocVariableFilter[] = [{ key: 'level', operator: '=', value: 'error' }];
    const res = await ds.expandQuery(q, { range, intervalMs: 500, maxDataPoints: 120, filters });
    expect(res).toEqual({ sql: 'SELECT 1', client: 'http' });
    expect(post).toHaveBeenCalledTimes(1);
    const [path, body] = post.mock.calls[0];
    expect(path).toBe('expand');
    expect(body).toEqual({
      query: {
        refId: 'A',
        editorType: 'sql',
        rawSql: 'SELECT $service WHERE $__timeFilter(ts) AND $__adHocFilters(logs)',
        format: 1,
        templateVars: { service: { values: ['api'], text: 'api', multi: false, includeAll: false, allSelected: false } },
        adHocFilters: [{ key: 'level', operator: '=', value: 'error' }],
      },
      timeRange: { from: 1000, to: 61000 },
      intervalMs: 500,
      maxDataPoints: 120,
    });
    expect((body as { query: LanternQuery }).query).toEqual(ds.applyTemplateVariables(q, {}, filters));
    // The body must survive JSON encoding unchanged (numbers stay numbers).
    expect(JSON.parse(JSON.stringify(body))).toEqual(body);
    expect(templateSrv.replace).not.toHaveBeenCalled();
  });

  it('expandQuery passes scopedVars through', async () => {
    const post = jest.spyOn(ds, 'postResource').mockResolvedValue({ sql: 'SELECT web' });
    const range = { from: dateTime(0), to: dateTime(1), raw: { from: 'now-1m', to: 'now' } };
    await ds.expandQuery(query('SELECT $service'), {
      range,
      intervalMs: 1,
      maxDataPoints: 1,
      scopedVars: { service: { text: 'web', value: 'web' } },
    });
    const body = post.mock.calls[0][1] as { query: LanternQuery };
    expect(body.query.rawSql).toBe('SELECT $service');
    expect(body.query.templateVars?.service.values).toEqual(['web']);
  });

  it('expandQuery surfaces the backend error message', async () => {
    jest.spyOn(ds, 'postResource').mockRejectedValue({ status: 400, data: { error: 'unknown macro $__nope' } });
    const range = { from: dateTime(0), to: dateTime(1), raw: { from: 'now-1m', to: 'now' } };
    await expect(ds.expandQuery(query('SELECT $__nope'), { range, intervalMs: 1, maxDataPoints: 1 })).rejects.toThrow(
      'unknown macro $__nope'
    );
  });
});

describe('helpers', () => {
  it('referencesVariable recognises every Grafana syntax', () => {
    expect(referencesVariable('a $x b', 'x')).toBe(true);
    expect(referencesVariable('a ${x} b', 'x')).toBe(true);
    expect(referencesVariable('a ${x:csv} b', 'x')).toBe(true);
    expect(referencesVariable('a [[x]] b', 'x')).toBe(true);
    expect(referencesVariable('a $xy b', 'x')).toBe(false);
    expect(referencesVariable('a ${xy} b', 'x')).toBe(false);
    expect(referencesVariable('no vars', 'x')).toBe(false);
  });

  it('errorMessage reads {error} bodies, then messages', () => {
    expect(errorMessage({ data: { error: 'boom' } })).toBe('boom');
    expect(errorMessage({ data: { message: 'msg' } })).toBe('msg');
    expect(errorMessage(new Error('plain'))).toBe('plain');
    expect(errorMessage({ status: 502, statusText: 'Bad Gateway' })).toBe('502 Bad Gateway');
  });
});

describe('variable support', () => {
  it('runs variable queries as tables and accepts legacy string queries', async () => {
    const { toVariableQuery } = await import('./variables');
    expect(toVariableQuery('SELECT DISTINCT ServiceName FROM otel_logs')).toEqual({
      refId: 'variable-query',
      editorType: 'sql',
      rawSql: 'SELECT DISTINCT ServiceName FROM otel_logs',
      format: Format.TABLE,
    });
    expect(toVariableQuery({ refId: 'V', editorType: 'sql', rawSql: 'SELECT 1', format: Format.LOGS })).toEqual({
      refId: 'V',
      editorType: 'sql',
      rawSql: 'SELECT 1',
      format: Format.TABLE,
      queryType: 'table',
    });
  });

  it('is registered on the datasource', () => {
    setTemplateSrv(fakeTemplateSrv([]));
    const ds = new DataSource(instanceSettings);
    expect(ds.variables?.getType()).toBe('custom');
  });
});

/** A templateSrv that substitutes `$name` like Grafana (formatter gets arrays for multi-values). */
function substitutingTemplateSrv(vars: Record<string, string | string[]>): TemplateSrv {
  return {
    getVariables: () => [],
    containsTemplate: () => false,
    updateTimeRange: () => {},
    replace: (target?: string, _scoped?: ScopedVars, format?: unknown) =>
      (target ?? '').replace(/\$(\w+)/g, (m, name: string) => {
        const v = vars[name];
        if (v === undefined) {
          return m;
        }
        if (typeof format === 'function') {
          return format(v);
        }
        if (format === 'regex') {
          return Array.isArray(v) ? `(${v.join('|')})` : v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        }
        return Array.isArray(v) ? `{${v.join(',')}}` : v;
      }),
  };
}

describe('structured queries', () => {
  let ds: DataSource;
  beforeEach(() => {
    setTemplateSrv(substitutingTemplateSrv({ service: ['api', 'web'], pod: 'p-1', trace: 'abc123', pat: 'a.b' }));
    ds = new DataSource(instanceSettings);
  });

  it('filterQuery runs builder and trace search queries without SQL, trace lookups only with an id', () => {
    expect(ds.filterQuery({ refId: 'A', editorType: 'builder', format: Format.LOGS, builder: {} })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', editorType: 'builder', format: Format.LOGS, builder: {}, hide: true })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', editorType: 'builder', format: Format.TABLE, queryType: 'trace-search', traceSearch: {} })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', editorType: 'builder', format: Format.TRACES, queryType: 'traces', traceId: ' ' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', editorType: 'builder', format: Format.TRACES, queryType: 'traces', traceId: 'abc' })).toBe(true);
    // a data link from a log line: no editorType
    expect(ds.filterQuery({ refId: 'trace', queryType: 'traces', format: Format.TRACES, traceId: 'abc' } as LanternQuery)).toBe(true);
  });

  it('applyTemplateVariables substitutes variables in builder fields and sends no rawSql or templateVars', () => {
    const q: LanternQuery = {
      refId: 'A',
      editorType: 'builder',
      format: Format.LOGS,
      queryType: 'logs',
      builder: {
        services: ['$service', 'db'],
        filters: [
          { key: 'k8s.pod.name', op: '=', value: '$pod' },
          { key: 'host', op: 'IN', values: ['$service'] },
          { key: 'msg', op: '=~', value: '$pat' },
          { key: '', op: '=', value: 'half-edited' },
          { key: 'SeverityNumber', op: '>', value: 9 },
        ],
        bodyContains: 'pod $pod',
        bodyRegex: '$pat$',
        limit: 10,
      },
    };
    const out = ds.applyTemplateVariables(q, {}, [{ key: 'ServiceName', operator: '=', value: 'x' }]);
    expect(out).toEqual({
      refId: 'A',
      editorType: 'builder',
      format: Format.LOGS,
      queryType: 'logs',
      builder: {
        services: ['api', 'web', 'db'],
        filters: [
          { key: 'k8s.pod.name', op: '=', value: 'p-1' },
          { key: 'host', op: 'IN', values: ['api', 'web'] },
          { key: 'msg', op: '=~', value: 'a\\.b' },
          { key: 'SeverityNumber', op: '>', value: 9 },
        ],
        bodyContains: 'pod p-1',
        bodyRegex: 'a\\.b$',
        limit: 10,
      },
      adHocFilters: [{ key: 'ServiceName', operator: '=', value: 'x' }],
    });
    expect(q.builder?.services).toEqual(['$service', 'db']); // not mutated
  });

  it('substitutes the trace id and trace search fields, also for Explore', () => {
    const traceQ = { refId: 'T', queryType: 'traces', format: Format.TRACES, traceId: ' $trace ' } as LanternQuery;
    expect(ds.applyTemplateVariables(traceQ, {}).traceId).toBe('abc123');
    const search: LanternQuery = {
      refId: 'S',
      editorType: 'builder',
      format: Format.TABLE,
      queryType: 'trace-search',
      traceSearch: { services: ['$service'], operation: 'GET $pod', minDurationMs: 5 },
    };
    const [out] = ds.interpolateVariablesInQueries([search], {});
    expect(out.traceSearch).toEqual({ services: ['api', 'web'], operation: 'GET p-1', minDurationMs: 5 });
    expect(out).not.toHaveProperty('rawSql');
  });
});

describe('supplementary queries: log volume and logs sample', () => {
  let ds: DataSource;
  beforeEach(() => {
    setTemplateSrv(fakeTemplateSrv([]));
    ds = new DataSource(instanceSettings);
  });
  const volume = { type: SupplementaryQueryType.LogsVolume } as const;
  const sample = { type: SupplementaryQueryType.LogsSample } as const;
  /** A logs query (A) and a table query (B). */
  const request = {
    requestId: 'r',
    targets: [query('SELECT 1', { refId: 'A', format: Format.LOGS }), query('SELECT 2', { refId: 'B' })],
    range: { from: dateTime(0), to: dateTime(1), raw: { from: 'now-1h', to: 'now' } },
    scopedVars: {},
    interval: '1s',
    intervalMs: 1000,
    timezone: 'utc',
    app: 'explore',
    startTime: 0,
  } as unknown as DataQueryRequest<LanternQuery>;

  it('supports the logs volume and logs sample supplementary queries', () => {
    expect(ds.getSupportedSupplementaryQueryTypes()).toEqual([SupplementaryQueryType.LogsVolume, SupplementaryQueryType.LogsSample]);
  });

  it('turns builder and SQL logs queries into logs-volume queries', () => {
    const builder: LanternQuery = { refId: 'A', editorType: 'builder', format: Format.LOGS, queryType: 'logs', builder: { services: ['api'] } };
    expect(ds.getSupplementaryQuery(volume, builder)).toEqual({ ...builder, refId: 'log-volume-A', queryType: 'logs-volume' });
    const sql = query('SELECT * FROM otel_logs', { refId: 'B', format: Format.LOGS });
    expect(ds.getSupplementaryQuery(volume, sql)).toEqual({ ...sql, refId: 'log-volume-B', queryType: 'logs-volume' });
    const sqlByType = query('SELECT * FROM otel_logs', { refId: 'C', queryType: 'logs' });
    expect(ds.getSupplementaryQuery(volume, sqlByType)?.queryType).toBe('logs-volume');
  });

  it('has no volume for other queries', () => {
    expect(ds.getSupplementaryQuery(volume, query('SELECT 1'))).toBeUndefined();
    expect(ds.getSupplementaryQuery(volume, query('', { format: Format.LOGS }))).toBeUndefined();
    expect(ds.getSupplementaryQuery(volume, query('SELECT 1', { format: Format.LOGS, hide: true }))).toBeUndefined();
    expect(ds.getSupplementaryQuery(volume, query('SELECT 1', { format: Format.TIME_SERIES, queryType: 'timeseries' }))).toBeUndefined();
    const trace = { refId: 'T', editorType: 'builder', format: Format.TRACES, queryType: 'traces', traceId: 'x' } as LanternQuery;
    expect(ds.getSupplementaryQuery(volume, trace)).toBeUndefined();
  });

  it('getSupplementaryRequest keeps only the logs targets', () => {
    const out = ds.getSupplementaryRequest(SupplementaryQueryType.LogsVolume, request);
    expect(out?.targets).toEqual([{ ...request.targets[0], refId: 'log-volume-A', queryType: 'logs-volume' }]);
    expect(out?.range).toBe(request.range);
    expect(ds.getSupplementaryRequest(SupplementaryQueryType.LogsVolume, { ...request, targets: [request.targets[1]] })).toBeUndefined();
  });

  const official = (builderOptions: Record<string, unknown>, extra: Partial<LanternQuery> = {}): LanternQuery => ({
    refId: 'O',
    editorType: 'builder',
    rawSql: '',
    format: Format.TABLE,
    builderOptions: { database: 'otel', table: 'otel_logs', ...builderOptions },
    ...extra,
  });

  it('asks for a sample of the rows behind a table or time series query (queryType logs-sample)', () => {
    const table = query('SELECT Timestamp, Body FROM otel_logs WHERE $__timeFilter(Timestamp)', { refId: 'A', filters: [{ key: 'k', operator: '=', value: 'v' }] });
    expect(ds.getSupplementaryQuery(sample, table)).toEqual({ ...table, refId: 'log-sample-A', queryType: 'logs-sample' });
    const series = query('SELECT $__timeInterval(Timestamp) t, count() FROM otel_logs GROUP BY t', {
      refId: 'B',
      format: Format.TIME_SERIES,
      queryType: 'timeseries',
    });
    expect(ds.getSupplementaryQuery(sample, series)?.queryType).toBe('logs-sample');
    // A saved official builder panel in table or time series mode.
    expect(ds.getSupplementaryQuery(sample, official({ queryType: 'table' }))?.refId).toBe('log-sample-O');
    expect(ds.getSupplementaryQuery(sample, official({ queryType: 'timeseries' }, { format: Format.TIME_SERIES }))?.queryType).toBe(
      'logs-sample'
    );
  });

  it('has no sample for logs, trace, hidden or empty queries (Grafana shows it only beside a table or graph)', () => {
    expect(ds.getSupplementaryQuery(sample, query('SELECT 1', { format: Format.LOGS }))).toBeUndefined();
    expect(ds.getSupplementaryQuery(sample, query('SELECT 1', { queryType: 'logs' }))).toBeUndefined();
    const builder: LanternQuery = { refId: 'L', editorType: 'lantern-builder', format: Format.LOGS, queryType: 'logs', builder: {} };
    expect(ds.getSupplementaryQuery(sample, builder)).toBeUndefined();
    expect(ds.getSupplementaryQuery(sample, query('SELECT 1', { hide: true }))).toBeUndefined();
    expect(ds.getSupplementaryQuery(sample, query('  '))).toBeUndefined();
    expect(ds.getSupplementaryQuery(sample, query('SELECT 1', { format: Format.TRACES }))).toBeUndefined();
    const traceId = { refId: 'T', editorType: 'lantern-builder', format: Format.TRACES, queryType: 'traces', traceId: 'x' } as LanternQuery;
    expect(ds.getSupplementaryQuery(sample, traceId)).toBeUndefined();
    const search = { refId: 'S', editorType: 'lantern-builder', format: Format.TABLE, queryType: 'trace-search', traceSearch: {} } as LanternQuery;
    expect(ds.getSupplementaryQuery(sample, search)).toBeUndefined();
    expect(ds.getSupplementaryQuery(sample, official({ queryType: 'logs' }, { format: Format.LOGS }))).toBeUndefined();
    expect(ds.getSupplementaryQuery(sample, official({ queryType: 'traces' }))).toBeUndefined();
    // Lantern's own supplementary queries are never sampled again.
    expect(ds.getSupplementaryQuery(sample, query('SELECT 1', { queryType: 'logs-volume' }))).toBeUndefined();
    expect(ds.getSupplementaryQuery(sample, query('SELECT 1', { queryType: 'logs-sample' }))).toBeUndefined();
  });

  it('getSupplementaryRequest keeps only the sampled targets, with the request\'s range', () => {
    const out = ds.getSupplementaryRequest(SupplementaryQueryType.LogsSample, request, { type: SupplementaryQueryType.LogsSample, limit: 100 });
    expect(out?.targets).toEqual([{ ...request.targets[1], refId: 'log-sample-B', queryType: 'logs-sample' }]);
    expect(out?.range).toBe(request.range);
    expect(ds.getSupplementaryRequest(SupplementaryQueryType.LogsSample, { ...request, targets: [request.targets[0]] })).toBeUndefined();
    // Options of another type are not this type's.
    expect(ds.getSupplementaryRequest(SupplementaryQueryType.LogsSample, request, { type: SupplementaryQueryType.LogsVolume })).toBeUndefined();
  });

  it('runs the sample through the backend as a logs-sample query', async () => {
    const sent: unknown[] = [];
    const fetch = jest.fn((options: { data: { queries: unknown[] } }) => {
      sent.push(...options.data.queries);
      return of({ data: { results: {} }, status: 200, ok: true });
    });
    setBackendSrv({ fetch } as unknown as BackendSrv);
    const supp = ds.getSupplementaryRequest(SupplementaryQueryType.LogsSample, request)!;
    await lastValueFrom(ds.query(supp));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ refId: 'log-sample-B', queryType: 'logs-sample', rawSql: 'SELECT 2' });
  });
});

describe('log context', () => {
  let ds: DataSource;
  beforeEach(() => {
    setTemplateSrv(fakeTemplateSrv([]));
    ds = new DataSource(instanceSettings);
  });

  const row = {
    timeEpochMs: 1_700_000_000_123,
    timeEpochNs: '1700000000123456789',
    labels: { 'k8s.pod.name': 'p-1', ServiceName: 'api' },
    dataFrame: { fields: [], length: 0 },
    uid: 'A_1',
  } as unknown as LogRowModel;
  const logsQuery: LanternQuery = { refId: 'A', editorType: 'builder', format: Format.LOGS, queryType: 'logs', builder: { services: ['api'] } };

  it('runs a logs-context query around the row through query()', async () => {
    const response = { data: [{ name: 'context', fields: [], length: 0 }] };
    const run = jest.spyOn(ds, 'query').mockReturnValue(of(response));
    const out = await ds.getLogRowContext(row, { direction: LogRowContextQueryDirection.Backward, limit: 20 }, logsQuery);
    expect(out).toBe(response);
    expect(run).toHaveBeenCalledTimes(1);
    const request = run.mock.calls[0][0] as DataQueryRequest<LanternQuery>;
    expect(request.targets).toEqual([
      {
        ...logsQuery,
        refId: 'log-context-A',
        queryType: 'logs-context',
        context: {
          time: '1700000000123456789',
          direction: 'backward',
          limit: 20,
          labels: { 'k8s.pod.name': 'p-1', ServiceName: 'api' },
        },
      },
    ]);
    expect(request.app).toBe(CoreApp.Explore);
    expect(request.range.from.valueOf()).toBe(1_700_000_000_123 - 3_600_000);
    expect(request.range.to.valueOf()).toBe(1_700_000_000_123 + 3_600_000);
  });

  it('forward direction, default limit and an SQL query', async () => {
    const run = jest.spyOn(ds, 'query').mockReturnValue(of({ data: [] }));
    const sql = query('SELECT * FROM otel_logs', { refId: 'B', format: Format.LOGS, queryType: 'logs' });
    await ds.getLogRowContext(row, { direction: LogRowContextQueryDirection.Forward }, sql);
    const target = (run.mock.calls[0][0] as DataQueryRequest<LanternQuery>).targets[0];
    expect(target).toMatchObject({ refId: 'log-context-B', rawSql: 'SELECT * FROM otel_logs', queryType: 'logs-context' });
    expect(target.context).toEqual({
      time: '1700000000123456789',
      direction: 'forward',
      limit: 50,
      labels: { 'k8s.pod.name': 'p-1', ServiceName: 'api' },
    });
  });

  it('getLogRowContextQuery returns the context query (for opening it in a split view)', async () => {
    const q = await ds.getLogRowContextQuery(row, { direction: LogRowContextQueryDirection.Forward, limit: 5 }, logsQuery);
    expect(q).toMatchObject({ refId: 'log-context-A', queryType: 'logs-context', context: { direction: 'forward', limit: 5 } });
    expect(await ds.getLogRowContextQuery(row, {}, undefined)).toBeNull();
  });

  it('without the originating query there is nothing to run', async () => {
    const run = jest.spyOn(ds, 'query');
    await expect(ds.getLogRowContext(row, {}, undefined)).resolves.toEqual({ data: [] });
    expect(run).not.toHaveBeenCalled();
  });

  it('shows the context toggle for log rows', () => {
    expect(ds.showContextToggle()).toBe(true);
    expect(ds.showContextToggle(row)).toBe(true);
  });
});
