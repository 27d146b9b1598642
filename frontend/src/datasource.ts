import {
  AdHocVariableFilter,
  CoreApp,
  DataSourceInstanceSettings,
  ScopedVars,
  TimeRange,
  TypedVariableModel,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';

import {
  AdHocFilter,
  DEFAULT_QUERY,
  ExpandRequest,
  ExpandResponse,
  LanternOptions,
  LanternQuery,
  TemplateVarValue,
} from './types';
import { LanternVariableSupport } from './variables';

const ALL_VALUE = '$__all';

export class DataSource extends DataSourceWithBackend<LanternQuery, LanternOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<LanternOptions>) {
    super(instanceSettings);
    // Annotations use the regular query editor and go through the backend like any query.
    this.annotations = {};
    this.variables = new LanternVariableSupport(this);
  }

  getDefaultQuery(_app: CoreApp): Partial<LanternQuery> {
    return { ...DEFAULT_QUERY };
  }

  /** Hidden queries and queries without SQL are not sent. */
  filterQuery(query: LanternQuery): boolean {
    return !query.hide && typeof query.rawSql === 'string' && query.rawSql.trim() !== '';
  }

  /**
   * Replaces dashboard variables in rawSql and also sends the values of every variable the SQL
   * references (`templateVars`) and the ad hoc filters (`adHocFilters`), so the backend can do
   * its own expansion. `$__` macros are left for the backend.
   */
  applyTemplateVariables(query: LanternQuery, scopedVars: ScopedVars, filters?: AdHocVariableFilter[]): LanternQuery {
    const templateSrv = getTemplateSrv();
    const rawSql = query.rawSql ?? '';
    const result: LanternQuery = {
      ...query,
      editorType: query.editorType ?? 'sql',
      rawSql: templateSrv.replace(rawSql, scopedVars, formatSqlValue),
    };

    const templateVars: Record<string, TemplateVarValue> = {};
    for (const variable of templateSrv.getVariables()) {
      if (variable.type === 'adhoc' || !referencesVariable(rawSql, variable.name)) {
        continue;
      }
      templateVars[variable.name] = variableValue(variable, scopedVars);
    }
    // Variables given only through scopedVars (repeated panels, ${__field...} excluded).
    for (const [name, scoped] of Object.entries(scopedVars ?? {})) {
      if (name.startsWith('__') || templateVars[name] || !scoped || !referencesVariable(rawSql, name)) {
        continue;
      }
      const values = toStrings(scoped.value);
      templateVars[name] = {
        values,
        text: scoped.text !== undefined ? toStrings(scoped.text).join(' + ') : values.join(' + '),
        all: values.includes(ALL_VALUE),
      };
    }
    if (Object.keys(templateVars).length > 0) {
      result.templateVars = templateVars;
    } else {
      delete result.templateVars;
    }

    const adHocFilters = (filters ?? []).map(toAdHocFilter);
    if (adHocFilters.length > 0) {
      result.adHocFilters = adHocFilters;
    } else {
      delete result.adHocFilters;
    }
    return result;
  }

  /**
   * Asks the backend for the SQL it would run (macros expanded), for "Show SQL".
   * Rejects with the backend's `{"error": ...}` message on failure.
   */
  async expandQuery(
    query: LanternQuery,
    options: { range: TimeRange; intervalMs: number; maxDataPoints: number; scopedVars?: ScopedVars; filters?: AdHocVariableFilter[] }
  ): Promise<ExpandResponse> {
    const applied = this.applyTemplateVariables(query, options.scopedVars ?? {}, options.filters);
    const body: ExpandRequest = {
      query: applied,
      timeRange: { from: options.range.from.valueOf(), to: options.range.to.valueOf() },
      intervalMs: options.intervalMs,
      maxDataPoints: options.maxDataPoints,
    };
    try {
      return await this.postResource<ExpandResponse>('expand', body, { showErrorAlert: false });
    } catch (err) {
      throw new Error(errorMessage(err));
    }
  }
}

/** True when `sql` mentions `$name`, `${name}`, `${name:fmt}` / `${name.path}` or `[[name]]`. */
export function referencesVariable(sql: string, name: string): boolean {
  const n = escapeRegExp(name);
  const re = new RegExp(`\\$${n}(?![A-Za-z0-9_])|\\$\\{${n}(?:[:.][^}]*)?\\}|\\[\\[${n}(?::[^\\]]*)?\\]\\]`);
  return re.test(sql);
}

/**
 * Default formatting of variable values inside SQL: a single-value variable is inserted as is; a
 * multi-value variable (any number selected) becomes a comma-separated list of single-quoted
 * ClickHouse strings (`'` and `\` escaped), ready for `IN (...)`.
 */
export function formatSqlValue(value: unknown): string {
  if (Array.isArray(value)) {
    return value.map((v) => `'${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`).join(',');
  }
  return value === undefined || value === null ? '' : String(value);
}

function variableValue(variable: TypedVariableModel, scopedVars: ScopedVars): TemplateVarValue {
  const scoped = scopedVars?.[variable.name];
  const current: { text?: unknown; value?: unknown } =
    scoped ?? ('current' in variable && variable.current ? (variable.current as { text?: unknown; value?: unknown }) : {});
  let values = toStrings(current.value);
  const text = toStrings(current.text ?? current.value).join(' + ');
  const all = values.includes(ALL_VALUE);
  if (all) {
    const allValue = 'allValue' in variable ? variable.allValue : undefined;
    if (allValue) {
      values = [allValue];
    } else if ('options' in variable && Array.isArray(variable.options)) {
      values = variable.options.flatMap((o) => toStrings(o.value)).filter((v) => v !== ALL_VALUE);
    } else {
      values = values.filter((v) => v !== ALL_VALUE);
    }
  }
  return { values, text, all };
}

function toAdHocFilter(f: AdHocVariableFilter): AdHocFilter {
  const out: AdHocFilter = { key: f.key, operator: f.operator, value: f.value ?? '' };
  if (Array.isArray(f.values) && f.values.length > 0) {
    out.values = f.values.map(String);
  }
  return out;
}

function toStrings(v: unknown): string[] {
  if (v === undefined || v === null) {
    return [];
  }
  return Array.isArray(v) ? v.map((x) => String(x)) : [String(v)];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Message from a failed postResource: the backend answers 400 {"error": "..."}. */
export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { data?: { error?: unknown; message?: unknown }; message?: unknown; statusText?: unknown; status?: unknown };
    if (e.data && typeof e.data.error === 'string' && e.data.error) {
      return e.data.error;
    }
    if (e.data && typeof e.data.message === 'string' && e.data.message) {
      return e.data.message;
    }
    if (typeof e.message === 'string' && e.message) {
      return e.message;
    }
    if (typeof e.statusText === 'string' && e.statusText) {
      return `${e.status ?? ''} ${e.statusText}`.trim();
    }
  }
  return typeof err === 'string' ? err : 'Request failed';
}
