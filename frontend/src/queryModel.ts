// Pure helpers over the saved query model: which editor a query belongs to, switching between
// them, and whether a query has something to run. They follow the backend's `official::classify`:
// `editorType: 'lantern-builder'` is Lantern's; a `builderOptions` object (with `editorType`
// 'builder' or none, or the v3 `queryType: 'builder'`) is grafana/clickhouse-datasource's builder
// and is never taken as Lantern's; otherwise `editorType: 'builder'` or a `builder` object (Lantern
// saves from before the rename) is Lantern's logs builder. Within Lantern's: `queryType: 'traces'`
// with a `traceId` looks up one trace; `queryType: 'trace-search'` searches traces.
import { Format, FORMAT_TO_QUERY_TYPE, LanternQuery } from './types';

/** The editor a query is edited with. */
export type EditorMode = 'sql' | 'logs' | 'trace-id' | 'trace-search' | 'official';

/** Lantern's structured queries save this editor type (the official plugin's builder saves 'builder'). */
export const LANTERN_BUILDER = 'lantern-builder';

/** A query saved by grafana/clickhouse-datasource's builder (the backend's `SavedModel::Official`). */
export function isOfficialBuilder(q: Partial<LanternQuery>): boolean {
  const editor: string | undefined = q.editorType;
  if (editor === LANTERN_BUILDER || !isObject(q.builderOptions)) {
    return false;
  }
  const v3 = (q.queryType as string | undefined) === 'builder';
  return (editor === undefined || editor === 'builder' || v3) && !(editor === undefined && isObject(q.builder));
}

export function editorMode(q: Partial<LanternQuery>): EditorMode {
  if (isOfficialBuilder(q)) {
    return 'official';
  }
  if (q.queryType === 'trace-search') {
    return 'trace-search';
  }
  if (q.queryType === 'traces' && typeof q.traceId === 'string') {
    return 'trace-id';
  }
  if (q.editorType === LANTERN_BUILDER || q.editorType === 'builder' || isObject(q.builder)) {
    return 'logs';
  }
  return 'sql';
}

/**
 * The query edited with another editor. The SQL text is kept when leaving the SQL editor (the
 * backend ignores it for structured queries) so switching back restores it; the structured parts
 * of the other editors are removed, because the backend plans any query with a `builder` object
 * as a logs builder query.
 */
export function switchMode(q: LanternQuery, mode: EditorMode): LanternQuery {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { builder, builderOptions, traceId, traceSearch, context, filters, ...rest } = q;
  switch (mode) {
    case 'sql': {
      // Click filters of SQL queries (`filters`) belong to the SQL editor only.
      const format = typeof q.format === 'number' ? q.format : Format.TABLE;
      const sql: LanternQuery = { ...rest, editorType: 'sql', rawSql: q.rawSql ?? '', format, queryType: FORMAT_TO_QUERY_TYPE[format] };
      return filters && filters.length > 0 ? { ...sql, filters } : sql;
    }
    case 'official':
      // Only saved official builder panels are in this mode; there is nothing to switch to.
      return q;
    case 'logs':
      return { ...rest, editorType: LANTERN_BUILDER, builder: builder ?? {}, format: Format.LOGS, queryType: 'logs' };
    case 'trace-id':
      return { ...rest, editorType: LANTERN_BUILDER, traceId: traceId ?? '', format: Format.TRACES, queryType: 'traces' };
    case 'trace-search':
    default:
      return {
        ...rest,
        editorType: LANTERN_BUILDER,
        traceSearch: traceSearch ?? {},
        format: Format.TABLE,
        queryType: 'trace-search',
      };
  }
}

const NOT_LOGS = new Set(['logs-volume', 'logs-context', 'logs-sample', 'traces', 'trace-search']);

/** A logs query (builder, or SQL with format logs / queryType logs): has log volume and context. */
export function isLogsQuery(q: Partial<LanternQuery>): boolean {
  if (q.queryType && NOT_LOGS.has(q.queryType)) {
    return false;
  }
  return editorMode(q) === 'logs' || q.queryType === 'logs' || q.format === Format.LOGS;
}

/** Something to run: SQL that is not blank, a trace id, or a structured query. */
export function hasContent(q: Partial<LanternQuery>): boolean {
  switch (editorMode(q)) {
    case 'logs':
    case 'trace-search':
    case 'official':
      return true;
    case 'trace-id':
      return (q.traceId ?? '').trim() !== '';
    default:
      return typeof q.rawSql === 'string' && q.rawSql.trim() !== '';
  }
}

/**
 * A copy of `obj` without undefined values, blank strings and empty lists (so saved queries stay
 * small and the backend applies its defaults).
 */
export function compact<T extends object>(obj: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '') || (Array.isArray(v) && v.length === 0)) {
      continue;
    }
    out[k] = v;
  }
  return out as T;
}

function isObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
