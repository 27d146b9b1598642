import { dateTime } from '@grafana/data';

import { addFilter, hasFilter, toggleFilter } from './filters';
import { switchMode } from './queryModel';
import { testDatasource } from './testing';
import { Format, LanternQuery } from './types';

const sql = (extra: Partial<LanternQuery> = {}): LanternQuery => ({
  refId: 'A',
  editorType: 'sql',
  rawSql: 'SELECT * FROM otel_logs LIMIT 1000',
  format: Format.LOGS,
  queryType: 'logs',
  ...extra,
});
const builder = (filters?: LanternQuery['builder']): LanternQuery => ({
  refId: 'A',
  editorType: 'builder',
  format: Format.LOGS,
  queryType: 'logs',
  builder: filters ?? {},
});

const ds = testDatasource({ logs: { defaultDatabase: 'otel', defaultTable: 'otel_logs' } });

describe('filters from a click', () => {
  it('adds SQL filters to the structured list and never edits the SQL', () => {
    const q = ds.modifyQuery(sql(), { type: 'ADD_FILTER', options: { key: 'k8s.pod.name', value: 'p-1' } });
    expect(q.rawSql).toBe('SELECT * FROM otel_logs LIMIT 1000');
    expect(q.filters).toEqual([{ key: 'k8s.pod.name', operator: '=', value: 'p-1' }]);
    const out = ds.modifyQuery(q, { type: 'ADD_FILTER_OUT', options: { key: "ResourceAttributes['k']", value: "it's" } });
    expect(out.filters).toEqual([
      { key: 'k8s.pod.name', operator: '=', value: 'p-1' },
      { key: "ResourceAttributes['k']", operator: '!=', value: "it's" },
    ]);
  });

  it('filter out replaces filter for on the same value, and adding twice adds once', () => {
    let q = addFilter(sql(), 'service.name', '=', 'cart');
    q = addFilter(q, 'service.name', '=', 'cart');
    expect(q.filters).toHaveLength(1);
    q = addFilter(q, 'service.name', '!=', 'cart');
    expect(q.filters).toEqual([{ key: 'service.name', operator: '!=', value: 'cart' }]);
  });

  it('toggles builder filters as typed filters, keeping the filters typed by hand', () => {
    const typed = { key: 'http.status', op: '>=' as const, value: 500 };
    const numeric = { key: 'retries', op: '=' as const, value: 3 };
    let q = builder({ filters: [typed, numeric] });
    q = ds.toggleQueryFilter(q, { type: 'FILTER_FOR', options: { key: 'k8s.pod.name', value: 'p-1' } });
    expect(q.builder?.filters).toEqual([typed, numeric, { key: 'k8s.pod.name', op: '=', value: 'p-1' }]);
    expect(ds.queryHasFilter(q, { key: 'k8s.pod.name', value: 'p-1' })).toBe(true);
    q = ds.toggleQueryFilter(q, { type: 'FILTER_OUT', options: { key: 'k8s.pod.name', value: 'p-1' } });
    expect(q.builder?.filters).toEqual([typed, numeric, { key: 'k8s.pod.name', op: '!=', value: 'p-1' }]);
    expect(ds.queryHasFilter(q, { key: 'k8s.pod.name', value: 'p-1' })).toBe(false);
    q = ds.toggleQueryFilter(q, { type: 'FILTER_OUT', options: { key: 'k8s.pod.name', value: 'p-1' } });
    expect(q.builder?.filters).toEqual([typed, numeric]);
    // A numeric filter typed by hand keeps its number.
    expect(ds.queryHasFilter(q, { key: 'retries', value: '3' })).toBe(true);
  });

  it('stores the level of a row as the key level', () => {
    const q = ds.modifyQuery(builder(), { type: 'ADD_FILTER', options: { key: 'severity', value: 'error' } });
    expect(q.builder?.filters).toEqual([{ key: 'level', op: '=', value: 'error' }]);
    expect(hasFilter(q, 'level', 'error')).toBe(true);
    expect(hasFilter(q, 'detected_level', 'error')).toBe(true);
  });

  it('leaves queries without a filter list and unknown actions unchanged', () => {
    const trace: LanternQuery = { refId: 'A', editorType: 'builder', format: Format.TRACES, queryType: 'traces', traceId: 'abc' };
    expect(toggleFilter(trace, 'k', '=', 'v')).toBe(trace);
    const q = sql();
    expect(ds.modifyQuery(q, { type: 'ADD_STRING_FILTER', options: { value: 'x' } })).toBe(q);
    expect(ds.modifyQuery(q, { type: 'ADD_FILTER', options: { key: '', value: 'x' } })).toBe(q);
  });

  it('keeps SQL filters on the SQL editor only', () => {
    const q = addFilter(sql(), 'k', '=', 'v');
    expect(switchMode(q, 'logs').filters).toBeUndefined();
    expect(switchMode(q, 'sql').filters).toEqual(q.filters);
  });
});

describe('ad hoc suggestions', () => {
  const range = { from: dateTime(1000), to: dateTime(2000), raw: { from: 'now-1h', to: 'now' } };

  it('asks tag-keys for the builder table and time range', async () => {
    const get = jest.spyOn(ds, 'getResource').mockResolvedValue([{ text: 'k8s.pod.name' }, { text: 7 }, null]);
    const keys = await ds.getTagKeys({ filters: [], timeRange: range, queries: [builder({ database: 'db', table: 'logs' })] });
    expect(get).toHaveBeenCalledWith('tag-keys', { database: 'db', table: 'logs', from: '1000', to: '2000' });
    expect(keys).toEqual([{ text: 'k8s.pod.name' }]);
  });

  it('asks tag-values with the key, defaulting to the datasource logs table', async () => {
    const get = jest.spyOn(ds, 'getResource').mockResolvedValue([{ text: 'p-1' }]);
    const values = await ds.getTagValues({ key: "LogAttributes['a b']", filters: [], timeRange: range });
    expect(get).toHaveBeenCalledWith('tag-values', {
      database: 'otel',
      table: 'otel_logs',
      from: '1000',
      to: '2000',
      key: "LogAttributes['a b']",
    });
    expect(values).toEqual([{ text: 'p-1' }]);
  });

  it('rejects an answer that is not a list', async () => {
    jest.spyOn(ds, 'getResource').mockResolvedValue({ error: 'no' });
    await expect(ds.getTagKeys({ filters: [] })).rejects.toThrow('unexpected answer');
  });
});
