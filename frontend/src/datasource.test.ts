import { AdHocVariableFilter, dateTime, DataSourceInstanceSettings, ScopedVars, TypedVariableModel } from '@grafana/data';
import { setTemplateSrv, TemplateSrv } from '@grafana/runtime';

import { DataSource, errorMessage, formatSqlValue, referencesVariable } from './datasource';
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
 * Minimal stand-in for Grafana's TemplateSrv: interpolates $name / ${name} / [[name]] from the
 * variables' current values (or scopedVars) through the given format function.
 */
function fakeTemplateSrv(variables: TypedVariableModel[]): TemplateSrv {
  return {
    getVariables: () => variables,
    containsTemplate: () => false,
    updateTimeRange: () => {},
    replace: (target = '', scopedVars?: ScopedVars, format?: string | Function) =>
      target.replace(/\$(\w+)|\$\{(\w+)\}|\[\[(\w+)\]\]/g, (match, a, b, c) => {
        const name = a ?? b ?? c;
        const scoped = scopedVars?.[name];
        const v = variables.find((x) => x.name === name) as { current?: { value: unknown } } | undefined;
        const value = scoped ? scoped.value : v?.current?.value;
        if (value === undefined) {
          return match;
        }
        return typeof format === 'function' ? format(value) : String(value);
      }),
  };
}

function query(rawSql: string, extra: Partial<LanternQuery> = {}): LanternQuery {
  return { refId: 'A', editorType: 'sql', rawSql, format: Format.TABLE, ...extra };
}

describe('DataSource', () => {
  const variables = [
    variable('service', { text: 'api', value: 'api' }),
    variable('hosts', { text: ['a', "b'c"], value: ['a', "b'c"] }),
    variable(
      'level',
      { text: 'All', value: ['$__all'] },
      {
        options: [
          { text: 'All', value: '$__all', selected: true },
          { text: 'info', value: 'info', selected: false },
          { text: 'error', value: 'error', selected: false },
        ],
      }
    ),
    variable('region', { text: 'All', value: '$__all' }, { allValue: '.*' }),
    variable('unused', { text: 'x', value: 'x' }),
    { name: 'filters', type: 'adhoc', filters: [] } as unknown as TypedVariableModel,
  ];
  let ds: DataSource;

  beforeEach(() => {
    setTemplateSrv(fakeTemplateSrv(variables));
    ds = new DataSource(instanceSettings);
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

  it('replaces variables in rawSql and leaves $__ macros for the backend', () => {
    const out = ds.applyTemplateVariables(
      query("SELECT * FROM t WHERE $__timeFilter(ts) AND svc = '$service' AND host IN (${hosts})"),
      {}
    );
    expect(out.rawSql).toBe("SELECT * FROM t WHERE $__timeFilter(ts) AND svc = 'api' AND host IN ('a','b\\'c')");
  });

  it('sends templateVars only for variables the SQL references', () => {
    const out = ds.applyTemplateVariables(
      query('SELECT 1 WHERE s = $service AND h IN (${hosts:singlequote}) AND l IN ([[level]]) AND r = ${region}'),
      {}
    );
    expect(out.templateVars).toEqual({
      service: { values: ['api'], text: 'api', all: false },
      hosts: { values: ['a', "b'c"], text: "a + b'c", all: false },
      level: { values: ['info', 'error'], text: 'All', all: true },
      region: { values: ['.*'], text: 'All', all: true },
    });
    expect(out.templateVars).not.toHaveProperty('unused');
    expect(out.templateVars).not.toHaveProperty('filters');
  });

  it('does not treat a longer name as a reference ($service vs $services)', () => {
    const out = ds.applyTemplateVariables(query('SELECT $services'), {});
    expect(out.templateVars).toBeUndefined();
  });

  it('prefers scopedVars (repeated panels) over the current value', () => {
    const out = ds.applyTemplateVariables(query('SELECT $service'), {
      service: { text: 'web', value: 'web' },
    });
    expect(out.rawSql).toBe('SELECT web');
    expect(out.templateVars).toEqual({ service: { values: ['web'], text: 'web', all: false } });
  });

  it('passes ad hoc filters as adHocFilters', () => {
    const filters: AdHocVariableFilter[] = [
      { key: 'ServiceName', operator: '=', value: 'api' },
      { key: 'SeverityText', operator: '=|', value: 'ERROR', values: ['ERROR', 'WARN'] },
    ];
    const out = ds.applyTemplateVariables(query('SELECT 1'), {}, filters);
    expect(out.adHocFilters).toEqual([
      { key: 'ServiceName', operator: '=', value: 'api' },
      { key: 'SeverityText', operator: '=|', value: 'ERROR', values: ['ERROR', 'WARN'] },
    ]);
    expect(ds.applyTemplateVariables(query('SELECT 1'), {}, []).adHocFilters).toBeUndefined();
  });

  it('keeps the rest of the query unchanged', () => {
    const q = query('SELECT 1', { format: Format.LOGS, queryType: 'logs', meta: { timezone: 'UTC' } });
    const out = ds.applyTemplateVariables(q, {});
    expect(out).toEqual({ ...q });
    expect(q).not.toHaveProperty('templateVars');
  });

  it('expandQuery posts the expand body to the backend resource', async () => {
    const post = jest.spyOn(ds, 'postResource').mockResolvedValue({ sql: 'SELECT 1', client: 'http' });
    const range = { from: dateTime(1000), to: dateTime(61000), raw: { from: 'now-1m', to: 'now' } };
    const res = await ds.expandQuery(query('SELECT $service WHERE $__timeFilter(ts)'), {
      range,
      intervalMs: 500,
      maxDataPoints: 120,
    });
    expect(res).toEqual({ sql: 'SELECT 1', client: 'http' });
    expect(post).toHaveBeenCalledTimes(1);
    const [path, body] = post.mock.calls[0];
    expect(path).toBe('expand');
    expect(body).toEqual({
      query: {
        refId: 'A',
        editorType: 'sql',
        rawSql: 'SELECT api WHERE $__timeFilter(ts)',
        format: 1,
        templateVars: { service: { values: ['api'], text: 'api', all: false } },
      },
      timeRange: { from: 1000, to: 61000 },
      intervalMs: 500,
      maxDataPoints: 120,
    });
    // The body must survive JSON encoding unchanged (numbers stay numbers).
    expect(JSON.parse(JSON.stringify(body))).toEqual(body);
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

  it('formatSqlValue quotes multi-values and escapes quotes and backslashes', () => {
    expect(formatSqlValue('plain')).toBe('plain');
    expect(formatSqlValue(42)).toBe('42');
    expect(formatSqlValue(['a'])).toBe("'a'");
    expect(formatSqlValue(['a', "it's", 'back\\slash'])).toBe("'a','it\\'s','back\\\\slash'");
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
