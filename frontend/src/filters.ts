// Filters from a click in Explore ("filter for value", "filter out value", a level): pure functions
// over the saved query model, used by the datasource's modifyQuery / toggleQueryFilter /
// queryHasFilter.
//
// Where a filter goes:
//  * logs builder and trace search: their typed filter list (`builder.filters`,
//    `traceSearch.filters`, `{key, op: '=' | '!=', value}`), which the backend turns into WHERE
//    conditions of the SQL it builds;
//  * SQL: the query's structured filter list `filters: [{key, operator: '=' | '!=', value}]`. The
//    SQL text is never edited: the backend wraps the user's SQL (`SELECT * FROM (<sql>) WHERE …`).
// Keys pass through unchanged (dotted OTel keys such as `k8s.pod.name`, `Map['k']` keys): the
// backend resolves them. The level of a row (Explore's `level` / `severity` / `detected_level`)
// is the key `level`.
import { BuilderFilter, LanternQuery, QueryFilter } from './types';
import { editorMode } from './queryModel';

export type FilterOperator = '=' | '!=';

/** Explore's names for a log row's level; all stored as `level`. */
const LEVEL_KEYS = new Set(['level', 'severity', 'detected_level']);

export function filterKey(key: string): string {
  return LEVEL_KEYS.has(key) ? 'level' : key;
}

interface Filter {
  key: string;
  operator: FilterOperator;
  value: string;
}

function sameFilter(a: Filter, b: Filter): boolean {
  return a.key === b.key && a.operator === b.operator && a.value === b.value;
}

/** The click filters of a query in one shape, or undefined when its editor has none (trace id). */
function readFilters(q: LanternQuery): Filter[] | undefined {
  switch (editorMode(q)) {
    case 'sql':
      return (q.filters ?? []).map((f) => ({ key: f.key, operator: f.operator, value: f.value }));
    case 'logs':
      return fromBuilder(q.builder?.filters);
    case 'trace-search':
      return fromBuilder(q.traceSearch?.filters);
    default:
      return undefined;
  }
}

function fromBuilder(filters: BuilderFilter[] | undefined): Filter[] {
  return (filters ?? [])
    .map(asFilter)
    .filter((f): f is Filter => f !== undefined);
}

function asFilter(f: BuilderFilter): Filter | undefined {
  return (f.op === '=' || f.op === '!=') && f.value !== undefined
    ? { key: f.key, operator: f.op, value: String(f.value) }
    : undefined;
}

/** The query without the click filters in `removed` and with those in `added` appended. */
function editFilters(q: LanternQuery, removed: Filter[], added: Filter[]): LanternQuery {
  const gone = (f: Filter | undefined) => f !== undefined && removed.some((r) => sameFilter(r, f));
  const builderList = (filters: BuilderFilter[] | undefined): BuilderFilter[] => [
    ...(filters ?? []).filter((f) => !gone(asFilter(f))),
    ...added.map((f): BuilderFilter => ({ key: f.key, op: f.operator, value: f.value })),
  ];
  switch (editorMode(q)) {
    case 'sql': {
      const filters: QueryFilter[] = [...(q.filters ?? []).filter((f) => !gone(f)), ...added.map((f) => ({ ...f }))];
      const out: LanternQuery = { ...q, filters };
      if (filters.length === 0) {
        delete out.filters;
      }
      return out;
    }
    case 'logs':
      return { ...q, builder: { ...(q.builder ?? {}), filters: builderList(q.builder?.filters) } };
    case 'trace-search':
      return { ...q, traceSearch: { ...(q.traceSearch ?? {}), filters: builderList(q.traceSearch?.filters) } };
    default:
      return q;
  }
}

/**
 * Adds `key operator value` (once). An opposite filter on the same key and value is replaced: a
 * row cannot be both kept and dropped.
 */
export function addFilter(q: LanternQuery, key: string, operator: FilterOperator, value: string): LanternQuery {
  const current = readFilters(q);
  if (!current || key === '') {
    return q;
  }
  const f: Filter = { key: filterKey(key), operator, value };
  if (current.some((x) => sameFilter(x, f))) {
    return q;
  }
  return editFilters(q, [{ ...f, operator: operator === '=' ? '!=' : '=' }], [f]);
}

/** Removes `key operator value` when present, else adds it (replacing the opposite filter). */
export function toggleFilter(q: LanternQuery, key: string, operator: FilterOperator, value: string): LanternQuery {
  const current = readFilters(q);
  if (!current || key === '') {
    return q;
  }
  const f: Filter = { key: filterKey(key), operator, value };
  if (current.some((x) => sameFilter(x, f))) {
    return editFilters(q, [f], []);
  }
  return addFilter(q, key, operator, value);
}

/** True when the query keeps only rows with `key = value`. */
export function hasFilter(q: LanternQuery, key: string, value: string): boolean {
  const f: Filter = { key: filterKey(key), operator: '=', value };
  return (readFilters(q) ?? []).some((x) => sameFilter(x, f));
}
