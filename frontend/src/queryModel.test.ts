import { compact, editorMode, hasContent, isLogsQuery, switchMode } from './queryModel';
import { Format, LanternQuery } from './types';

const q = (extra: Partial<LanternQuery>): LanternQuery => ({ refId: 'A', editorType: 'sql', format: Format.TABLE, ...extra });

describe('query model', () => {
  it('editorMode follows the backend planner', () => {
    expect(editorMode(q({ rawSql: 'SELECT 1' }))).toBe('sql');
    expect(editorMode(q({ editorType: 'builder' }))).toBe('logs');
    expect(editorMode(q({ builder: {} }))).toBe('logs'); // a builder object alone makes a builder query
    expect(editorMode(q({ queryType: 'traces', traceId: '' }))).toBe('trace-id');
    expect(editorMode(q({ queryType: 'traces', format: Format.TRACES }))).toBe('sql');
    expect(editorMode(q({ editorType: 'builder', queryType: 'trace-search' }))).toBe('trace-search');
    expect(editorMode(q({ editorType: 'lantern-builder', builder: {} }))).toBe('logs');
  });

  it('a query with builderOptions is the official builder, never Lantern logs builder', () => {
    const opts = { database: 'otel', table: 'otel_logs', queryType: 'logs' };
    expect(editorMode(q({ editorType: 'builder', builderOptions: opts, rawSql: 'SELECT 1' }))).toBe('official');
    expect(editorMode(q({ editorType: undefined, builderOptions: opts }))).toBe('official');
    expect(editorMode(q({ editorType: 'sql', queryType: 'builder' as never, builderOptions: opts }))).toBe('official'); // v3 save
    expect(isLogsQuery(q({ editorType: 'builder', builderOptions: opts }))).toBe(false);
    // Lantern's own saves win: the new editor type, or an old save with a builder object and no editor type.
    expect(editorMode(q({ editorType: 'lantern-builder', builderOptions: opts, builder: {} }))).toBe('logs');
    expect(editorMode(q({ editorType: undefined, builderOptions: opts, builder: {} }))).toBe('logs');
    // Old Lantern saves (editorType builder, a builder object) still open in Lantern's builder.
    expect(editorMode(q({ editorType: 'builder', builder: { limit: 5 } }))).toBe('logs');
    // An SQL query that merely carries builderOptions stays SQL.
    expect(editorMode(q({ editorType: 'sql', builderOptions: opts, rawSql: 'SELECT 1' }))).toBe('sql');
    // Switching an official query to Lantern's builder drops the options and saves lantern-builder.
    const switched = switchMode(q({ editorType: 'builder', builderOptions: opts }), 'logs');
    expect(switched.builderOptions).toBeUndefined();
    expect(switched.editorType).toBe('lantern-builder');
  });

  it('switchMode removes the structured parts of other editors', () => {
    const all = q({ rawSql: 'S', builder: { limit: 1 }, traceId: 't', traceSearch: { operation: 'o' }, context: { time: '1', direction: 'forward', labels: {} } });
    expect(switchMode(all, 'sql')).toEqual({ refId: 'A', editorType: 'sql', rawSql: 'S', format: Format.TABLE, queryType: 'table' });
    expect(switchMode(all, 'logs')).toEqual({ refId: 'A', editorType: 'lantern-builder', rawSql: 'S', format: Format.LOGS, queryType: 'logs', builder: { limit: 1 } });
    expect(switchMode(all, 'trace-id')).toEqual({ refId: 'A', editorType: 'lantern-builder', rawSql: 'S', format: Format.TRACES, queryType: 'traces', traceId: 't' });
    expect(switchMode(all, 'trace-search')).toEqual({
      refId: 'A',
      editorType: 'lantern-builder',
      rawSql: 'S',
      format: Format.TABLE,
      queryType: 'trace-search',
      traceSearch: { operation: 'o' },
    });
  });

  it('isLogsQuery: builder, format logs or queryType logs, but not volume/context/traces', () => {
    expect(isLogsQuery(q({ editorType: 'builder', builder: {} }))).toBe(true);
    expect(isLogsQuery(q({ format: Format.LOGS }))).toBe(true);
    expect(isLogsQuery(q({ queryType: 'logs' }))).toBe(true);
    expect(isLogsQuery(q({ format: Format.TABLE }))).toBe(false);
    expect(isLogsQuery(q({ format: Format.LOGS, queryType: 'logs-volume' }))).toBe(false);
    expect(isLogsQuery(q({ format: Format.LOGS, queryType: 'logs-context' }))).toBe(false);
    expect(isLogsQuery(q({ editorType: 'builder', queryType: 'trace-search' }))).toBe(false);
  });

  it('hasContent and compact', () => {
    expect(hasContent(q({ rawSql: ' ' }))).toBe(false);
    expect(hasContent(q({ rawSql: 'SELECT 1' }))).toBe(true);
    expect(hasContent(q({ builder: {} }))).toBe(true);
    expect(hasContent(q({ queryType: 'traces', traceId: '' }))).toBe(false);
    expect(compact({ a: '', b: ' ', c: [], d: undefined, e: 0, f: false, g: 'x', h: ['y'] })).toEqual({ e: 0, f: false, g: 'x', h: ['y'] });
  });
});
