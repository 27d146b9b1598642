import { AdHocVariableFilter, DataSourceInstanceSettings, ScopedVars, TypedVariableModel } from '@grafana/data';
import { setTemplateSrv, TemplateSrv } from '@grafana/runtime';

import { DataSource } from './datasource';
import { interpolateSql, quoteString, sqlFormatter, stringContentFormatter } from './interpolate';
import { Format, LanternOptions, LanternQuery } from './types';

const instanceSettings = {
  id: 1,
  uid: 'lantern',
  type: 'lantern-clickhouse-datasource',
  name: 'Lantern ClickHouse',
  access: 'proxy',
  readOnly: false,
  jsonData: {},
  meta: { id: 'lantern-clickhouse-datasource' },
} as unknown as DataSourceInstanceSettings<LanternOptions>;

interface FakeVariable {
  name: string;
  type: string;
  current: { text: string | string[]; value: string | string[] };
  options: Array<{ text: string; value: string }>;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
}

/** Grafana's variable regex (public/app/features/variables/utils.ts). */
const VARIABLE_REGEX = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?}/g;

/**
 * A TemplateSrv whose `replace` follows Grafana's rules closely enough for these tests: scopedVars
 * win over dashboard variables, unknown names are left as written, a format written in the SQL
 * (`${v:csv}`) wins over the one passed in, "All" becomes every option value (or the custom all
 * value, inserted unformatted), and a function format receives the value (an array when multi /
 * All). Like Grafana it knows the `__from` / `__to` macros, which the datasource must protect.
 */
function grafanaLikeTemplateSrv(variables: FakeVariable[]): TemplateSrv & { replace: jest.Mock } {
  const replace = (target?: string, scopedVars?: ScopedVars, format?: string | Function): string =>
    (target ?? '').replace(VARIABLE_REGEX, (match, var1, var2, fmt2, var3, _path, fmt3) => {
      const name: string = var1 || var2 || var3;
      const fmt: string | Function | undefined = fmt2 || fmt3 || format;
      if (name === '__from' || name === '__to') {
        return name === '__from' ? '1000' : '2000';
      }
      let value: unknown;
      let variable: FakeVariable | undefined;
      const scoped = scopedVars?.[name];
      if (scoped) {
        value = scoped.value;
      } else {
        variable = variables.find((v) => v.name === name);
        if (!variable) {
          return match;
        }
        value = variable.current.value;
        const isAll = Array.isArray(value) ? value[0] === '$__all' : value === '$__all';
        if (isAll) {
          if (variable.allValue) {
            return variable.allValue;
          }
          value = variable.options.filter((o) => o.value !== '$__all').map((o) => o.value);
        }
      }
      if (typeof fmt === 'function') {
        return fmt(value, variable);
      }
      if (fmt === 'csv') {
        return Array.isArray(value) ? value.join(',') : String(value);
      }
      return Array.isArray(value) ? `{${value.join(',')}}` : String(value);
    });
  return {
    getVariables: () => variables as unknown as TypedVariableModel[],
    containsTemplate: () => false,
    updateTimeRange: () => {},
    replace: jest.fn(replace),
  };
}

function v(name: string, value: string | string[], extra: Partial<FakeVariable> = {}): FakeVariable {
  return { name, type: 'custom', current: { text: value, value }, options: [], ...extra };
}

const variables: FakeVariable[] = [
  v('service', 'api'),
  v('limit', '100'),
  v('quoted', "it's a \\ path"),
  v('hosts', ['a', "b'c"], { multi: true }),
  v('one', ['x'], { multi: true }),
  v('none', [], { multi: true }),
  v('level', ['$__all'], {
    multi: true,
    includeAll: true,
    options: [
      { text: 'All', value: '$__all' },
      { text: 'info', value: 'info' },
      { text: 'error', value: 'error' },
    ],
  }),
  v('region', '$__all', { includeAll: true, allValue: '.*', options: [{ text: 'All', value: '$__all' }] }),
];

function query(rawSql: string, extra: Partial<LanternQuery> = {}): LanternQuery {
  return { refId: 'A', editorType: 'sql', rawSql, format: Format.TABLE, ...extra };
}

describe('interpolateVariablesInQueries (Explore)', () => {
  let ds: DataSource;
  let templateSrv: ReturnType<typeof grafanaLikeTemplateSrv>;

  beforeEach(() => {
    templateSrv = grafanaLikeTemplateSrv(variables);
    setTemplateSrv(templateSrv);
    ds = new DataSource(instanceSettings);
  });

  const interpolate = (sql: string, scopedVars: ScopedVars = {}) =>
    ds.interpolateVariablesInQueries([query(sql)], scopedVars)[0].rawSql;

  it('quotes strings, leaves numbers bare and lists multi-value selections', () => {
    expect(interpolate('SELECT * FROM t WHERE s = $service LIMIT ${limit}')).toBe(
      "SELECT * FROM t WHERE s = 'api' LIMIT 100"
    );
    expect(interpolate('WHERE h IN ($hosts) AND o IN ([[one]]) AND n IN ($none)')).toBe(
      "WHERE h IN ('a','b\\'c') AND o IN ('x') AND n IN ('')"
    );
  });

  it('backslash-escapes \\ and \' so a value cannot end the literal', () => {
    expect(interpolate('WHERE p = $quoted')).toBe("WHERE p = 'it\\'s a \\\\ path'");
  });

  it('expands "All" to every option value, or the custom all value verbatim', () => {
    expect(interpolate("WHERE l IN ($level) AND match(r, '${region}')")).toBe(
      "WHERE l IN ('info','error') AND match(r, '.*')"
    );
  });

  it('lets a format written in the SQL win over the default one', () => {
    expect(interpolate('SELECT ${hosts:csv}')).toBe("SELECT a,b'c");
  });

  it("does not add quotes inside a string literal ('$service')", () => {
    expect(interpolate("WHERE s = '$service' AND h = '${hosts}' AND q = '$quoted'")).toBe(
      "WHERE s = 'api' AND h = 'a,b\\'c' AND q = 'it\\'s a \\\\ path'"
    );
    // A string with escaped quotes is still one literal.
    expect(interpolate("WHERE s = 'x\\'$service''$limit' AND n = $limit")).toBe(
      "WHERE s = 'x\\'api''100' AND n = 100"
    );
  });

  it('escapes quoted identifiers and leaves comments and heredocs alone', () => {
    expect(interpolate('SELECT `$quoted`, "$service" FROM t')).toBe('SELECT `it\'s a \\\\ path`, "api" FROM t');
    expect(interpolate('SELECT 1 -- $service\n/* $limit */ , $$ $service $$, $limit')).toBe(
      "SELECT 1 -- $service\n/* $limit */ , $$ $service $$, 100"
    );
  });

  it('leaves $__ macros and built-ins for the backend', () => {
    const sql =
      'SELECT $__timeInterval(ts), ${__from}, ${__to:date}, [[__interval]], $__interval_ms FROM t ' +
      'WHERE $__timeFilter(ts) AND s = $service AND $__conditionalAll(l IN ($level), $level)';
    const out = interpolate(sql, { __interval: { text: '1m', value: '1m' }, __interval_ms: { text: '60000', value: 60000 } });
    expect(out).toBe(
      'SELECT $__timeInterval(ts), ${__from}, ${__to:date}, [[__interval]], $__interval_ms FROM t ' +
        "WHERE $__timeFilter(ts) AND s = 'api' AND 1=1"
    );
    // Grafana's own macros were never offered to templateSrv.
    for (const [text] of templateSrv.replace.mock.calls) {
      expect(text).not.toMatch(/\$__|\{__|\[\[__/);
    }
  });

  it('resolves $__conditionalAll and $conditionalTest before substituting', () => {
    // "All" / empty: 1=1; a selection: the condition, interpolated.
    expect(interpolate('WHERE $__conditionalAll(l IN ($level), $level) AND $__conditionalAll(h IN ($hosts), ${hosts})')).toBe(
      "WHERE 1=1 AND h IN ('a','b\\'c')"
    );
    expect(interpolate('WHERE $__conditionalAll(n IN ($none), $none) AND $__conditionalAll(r, $region)')).toBe('WHERE 1=1 AND 1=1');
    // A repeated panel's single value is a selection; an unknown variable keeps the condition.
    expect(interpolate('WHERE $__conditionalAll(l = $level, $level)', { level: { text: 'info', value: 'info' } })).toBe(
      "WHERE l = 'info'"
    );
    expect(interpolate('WHERE $__conditionalAll(x = 1, $nope)')).toBe('WHERE x = 1');
    // Commas and parentheses inside the condition, nested conditionals.
    expect(
      interpolate("WHERE $__conditionalAll(f(a, ')') IN ($hosts) AND $__conditionalAll(l IN ($level), $level), $hosts)")
    ).toBe("WHERE f(a, ')') IN ('a','b\\'c') AND 1=1");
    // Not two arguments: left as written for the backend (only variables interpolated).
    expect(interpolate('WHERE $__conditionalAll(a, b, $hosts)')).toBe("WHERE $__conditionalAll(a, b, 'a','b\\'c')");
    expect(interpolate('A$conditionalTest(AND s = $service, $service)B A$conditionalTest(AND l, $level)B')).toBe(
      "A AND s = 'api' B A B"
    );
    expect(interpolate('A$conditionalTest(AND x, AND y = $limit, $none)B')).toBe('A AND y = 100 B');
    // Not inside strings or comments.
    expect(interpolate("SELECT '$__conditionalAll(a, $level)' -- $__conditionalAll(a, $level)")).toBe(
      "SELECT '$__conditionalAll(a, info,error)' -- $__conditionalAll(a, $level)"
    );
  });

  it('leaves unknown names alone and applies scopedVars (repeated panels)', () => {
    expect(interpolate('SELECT $nope, $service, $row', { service: { text: 'web', value: 'web' }, row: { text: '7', value: 7 } })).toBe(
      "SELECT $nope, 'web', 7"
    );
  });

  it('interpolates a saved official builder panel: its rawSql and every string of its options', () => {
    const official: LanternQuery = {
      refId: 'O',
      editorType: 'builder',
      format: Format.TABLE,
      rawSql: 'SELECT host FROM "db"."t" WHERE ( service = $service )',
      builderOptions: {
        database: 'db',
        table: 't',
        queryType: 'table',
        filters: [
          { key: 'service', operator: '=', value: '$service', type: 'String' },
          { key: 'host', operator: 'IN', value: ['$hosts', 'z'], type: 'String' },
        ],
        limit: 100,
      },
      templateVars: { service: { values: ['x'], text: 'x', multi: false, includeAll: false, allSelected: false } },
    };
    const [out] = ds.interpolateVariablesInQueries([official], {});
    expect(out.rawSql).toBe('SELECT host FROM "db"."t" WHERE ( service = \'api\' )');
    expect(out.builderOptions).toEqual({
      database: 'db',
      table: 't',
      queryType: 'table',
      filters: [
        { key: 'service', operator: '=', value: 'api', type: 'String' },
        { key: 'host', operator: 'IN', value: ['a', "b'c", 'z'], type: 'String' },
      ],
      limit: 100,
    });
    expect(out).not.toHaveProperty('templateVars');
    expect(out.editorType).toBe('builder');
  });

  it('drops templateVars, keeps the rest of the query and sets adHocFilters like applyTemplateVariables', () => {
    const stale = { values: ['x'], text: 'x', multi: false, includeAll: false, allSelected: false };
    const queries = [
      query('SELECT $service', { format: Format.LOGS, queryType: 'logs', templateVars: { service: stale } }),
      { refId: 'B', rawSql: 'SELECT $limit', format: Format.TIME_SERIES, adHocFilters: [{ key: 'k', operator: '=', value: 'v' }] } as LanternQuery,
    ];
    const filters: AdHocVariableFilter[] = [{ key: 'Host', operator: '=|', value: 'a', values: ['a', 'b'] }];
    const out = ds.interpolateVariablesInQueries(queries, {}, filters);
    expect(out).toEqual([
      {
        refId: 'A',
        editorType: 'sql',
        rawSql: "SELECT 'api'",
        format: Format.LOGS,
        queryType: 'logs',
        adHocFilters: [{ key: 'Host', operator: '=|', value: 'a', values: ['a', 'b'] }],
      },
      {
        refId: 'B',
        editorType: 'sql',
        rawSql: 'SELECT 100',
        format: Format.TIME_SERIES,
        adHocFilters: [{ key: 'Host', operator: '=|', value: 'a', values: ['a', 'b'] }],
      },
    ]);
    expect(queries[0]).toHaveProperty('templateVars');
    expect(queries[0].rawSql).toBe('SELECT $service');
    // Without filters, stale adHocFilters are dropped.
    expect(ds.interpolateVariablesInQueries(queries, {})[1]).not.toHaveProperty('adHocFilters');
  });

  it('leaves nothing for the backend to expand when Explore runs the query', () => {
    const [interpolated] = ds.interpolateVariablesInQueries([query('SELECT $service, $hosts WHERE $__timeFilter(ts)')], {});
    // Explore: no dashboard variables.
    setTemplateSrv(grafanaLikeTemplateSrv([]));
    const applied = ds.applyTemplateVariables(interpolated, {});
    expect(applied.rawSql).toBe("SELECT 'api', 'a','b\\'c' WHERE $__timeFilter(ts)");
    expect(applied).not.toHaveProperty('templateVars');
  });
});

describe('interpolate helpers', () => {
  it('sqlFormatter', () => {
    expect(sqlFormatter('42')).toBe('42');
    expect(sqlFormatter('-1.5e3')).toBe('-1.5e3');
    expect(sqlFormatter(7)).toBe('7');
    expect(sqlFormatter('1; DROP TABLE t')).toBe("'1; DROP TABLE t'");
    expect(sqlFormatter('0x10')).toBe("'0x10'");
    expect(sqlFormatter('')).toBe("''");
    expect(sqlFormatter(['1', 2])).toBe("'1','2'");
    expect(sqlFormatter([])).toBe("''");
    expect(sqlFormatter(undefined)).toBe("''");
  });

  it('quoteString / stringContentFormatter escape \\, \' and control characters', () => {
    expect(quoteString("a'b\\c\nd")).toBe("'a\\'b\\\\c\\nd'");
    expect(stringContentFormatter(["a'", 'b'])).toBe("a\\',b");
  });

  it('interpolateSql passes only non-macro code and literal contents to replace', () => {
    const seen: string[] = [];
    const out = interpolateSql("SELECT $__x(a) FROM t WHERE s = 'lit' -- c\n", (text, format) => {
      seen.push(text);
      return text.replace('lit', format('v') as string);
    });
    expect(out).toBe("SELECT $__x(a) FROM t WHERE s = 'v' -- c\n");
    expect(seen).toEqual(['SELECT ', '(a) FROM t WHERE s = ', 'lit', ' ', '\n']);
  });

  it('keeps an unterminated literal unterminated', () => {
    expect(interpolateSql("SELECT '$a", (text, format) => text.replace('$a', format('x')))).toBe("SELECT 'x");
  });
});
