import { completionContext, SqlCompletion, tablesInQuery } from './completion';
import { DataSource } from './datasource';

describe('completionContext', () => {
  it.each([
    ['SELECT $__time', { kind: 'macro', prefix: '$__time' }],
    ['SELECT * FROM t WHERE $', { kind: 'macro', prefix: '$' }],
    ['SELECT * FROM ot', { kind: 'table', prefix: 'ot' }],
    ['SELECT * FROM otel.', { kind: 'table', database: 'otel', prefix: '' }],
    ['SELECT * FROM `my db`.lo', { kind: 'table', database: 'my db', prefix: 'lo' }],
    ['SELECT a FROM x JOIN ', { kind: 'table', prefix: '' }],
    ["SELECT ResourceAttributes['k8s.", { kind: 'mapKey', map: 'ResourceAttributes', prefix: 'k8s.' }],
    ["WHERE `LogAttributes`['", { kind: 'mapKey', map: 'LogAttributes', prefix: '' }],
    ['SELECT Body, Sev', { kind: 'column', prefix: 'Sev' }],
    ["SELECT 'it''s' AS x, ", { kind: 'column', prefix: '' }],
  ])('%s', (before, expected) => {
    expect(completionContext(before)).toEqual(expected);
  });
});

describe('tablesInQuery', () => {
  it('finds FROM and JOIN tables with their databases, once each', () => {
    expect(
      tablesInQuery('SELECT * FROM otel.otel_logs l JOIN `odd name` o ON 1 LEFT JOIN otel.otel_logs x ON 1 WHERE x IN (SELECT 1 FROM $__table)')
    ).toEqual([{ database: 'otel', table: 'otel_logs' }, { table: 'odd name' }]);
  });
});

describe('SqlCompletion', () => {
  const ds = new DataSource({ id: 1, uid: 'l', type: 't', name: 'n', access: 'proxy', readOnly: false, jsonData: {}, meta: {} } as never);
  const answers: Record<string, unknown> = {
    macros: [
      { name: '$__timeFilter', dialect: 'grafana', args: '1', doc: 'Rows of the range.', output: 'c >= toDateTime(F)' },
      { name: '$timeFilter', dialect: 'altinity', args: '0', doc: 'Altinity range.' },
    ],
    databases: ['default', 'otel'],
    'tables:otel': [{ name: 'otel_logs' }, { name: 'odd name' }],
    'columns:otel.otel_logs': [
      { name: 'Timestamp', type: 'DateTime64(9)' },
      { name: 'Body', type: 'String' },
    ],
    'tag-keys:otel.otel_logs': [{ text: 'k8s.pod.name' }, { text: "it's" }],
  };
  const get = jest.spyOn(ds, 'getResource').mockImplementation(async (path: string, params?: Record<string, string>) => {
    const key = params?.table ? `${path}:${params.database}.${params.table}` : params?.database ? `${path}:${params.database}` : path;
    if (!(key in answers)) {
      throw new Error(`no ${key}`);
    }
    return answers[key];
  });
  const c = new SqlCompletion(ds);

  it('offers macros of both dialects with their docs', async () => {
    const { items, replace } = await c.suggest('SELECT $', 'SELECT $');
    expect(replace).toBe(1);
    expect(items.map((i) => [i.label, i.detail])).toEqual([
      ['$__timeFilter', 'grafana macro · 1 argument'],
      ['$timeFilter', 'altinity macro · no arguments'],
    ]);
    expect(items[0].documentation).toContain('Rows of the range.');
    const filtered = await c.suggest('SELECT $__t', 'SELECT $__t');
    expect(filtered.items.map((i) => i.label)).toEqual(['$__timeFilter']);
  });

  it('offers tables of a database, quoting odd names', async () => {
    const { items } = await c.suggest('SELECT * FROM otel.', 'SELECT * FROM otel.');
    expect(items.map((i) => i.insertText)).toEqual(['otel_logs', '`odd name`']);
  });

  it('offers the columns of the tables in the query with their types', async () => {
    const sql = 'SELECT Ti FROM otel.otel_logs';
    const { items, replace } = await c.suggest('SELECT Ti', sql);
    expect(replace).toBe(2);
    expect(items).toEqual([{ label: 'Timestamp', kind: 'column', detail: 'DateTime64(9) · otel_logs', insertText: 'Timestamp' }]);
  });

  it('offers map keys, escaped for the string literal', async () => {
    const sql = "SELECT ResourceAttributes[' FROM otel.otel_logs";
    const { items } = await c.suggest("SELECT ResourceAttributes['", sql);
    expect(items.map((i) => i.insertText)).toEqual(['k8s.pod.name', "it\\'s"]);
  });

  it('asks each resource once and offers nothing when one fails', async () => {
    const calls = get.mock.calls.filter(([p]) => p === 'macros').length;
    await c.suggest('$', '$');
    expect(get.mock.calls.filter(([p]) => p === 'macros').length).toBe(calls);
    const { items } = await c.suggest('SELECT * FROM nowhere.', 'SELECT * FROM nowhere.');
    expect(items).toEqual([]);
  });
});
