import {
  AdHocVariableFilter,
  CoreApp,
  DataQueryRequest,
  DataFrame,
  DataLink,
  DataQueryResponse,
  DataSourceGetTagKeysOptions,
  DataSourceGetTagValuesOptions,
  DataSourceInstanceSettings,
  DataSourceWithLogsContextSupport,
  DataSourceWithQueryModificationSupport,
  DataSourceWithSupplementaryQueriesSupport,
  DataSourceWithToggleableQueryFiltersSupport,
  getDefaultTimeRange,
  dateTime,
  LiveChannelScope,
  LogRowContextOptions,
  LogRowContextQueryDirection,
  LogRowModel,
  MetricFindValue,
  QueryFilterOptions,
  QueryFixAction,
  ScopedVars,
  SupplementaryQueryOptions,
  SupplementaryQueryType,
  TimeRange,
  ToggleFilterAction,
  TypedVariableModel,
} from '@grafana/data';
import { DataSourceWithBackend, getGrafanaLiveSrv, getTemplateSrv } from '@grafana/runtime';
import { lastValueFrom, map, merge, Observable } from 'rxjs';

import {
  AdHocFilter,
  DEFAULT_QUERY,
  ExpandRequest,
  Format,
  ExpandResponse,
  LanternOptions,
  LanternQuery,
  BuilderFilter,
  TagResource,
  TemplateVarValue,
} from './types';
import { addFilter, hasFilter, toggleFilter } from './filters';
import { formatQuerySql, protect, restore } from './format';
import { interpolateSql, resolveConditionals, VariableFormatter } from './interpolate';
import { editorMode, hasContent, isLogsQuery } from './queryModel';
import { LanternVariableSupport } from './variables';

const ALL_VALUE = '$__all';

const DEFAULT_CONTEXT_LIMIT = 50;
/** Time range sent with a log context request: the row's time +/- this (the backend bounds it). */
const CONTEXT_WINDOW_MS = 60 * 60 * 1000;

export class DataSource
  extends DataSourceWithBackend<LanternQuery, LanternOptions>
  implements
    DataSourceWithSupplementaryQueriesSupport<LanternQuery>,
    DataSourceWithLogsContextSupport<LanternQuery>,
    DataSourceWithQueryModificationSupport<LanternQuery>,
    DataSourceWithToggleableQueryFiltersSupport<LanternQuery>
{
  /** The datasource's jsonData (logs/traces defaults for the editors). */
  readonly jsonData: LanternOptions;

  constructor(instanceSettings: DataSourceInstanceSettings<LanternOptions>) {
    super(instanceSettings);
    this.jsonData = instanceSettings.jsonData ?? {};
    // Annotations use the regular query editor and go through the backend like any query.
    this.annotations = {};
    this.variables = new LanternVariableSupport(this);
  }

  /**
   * Runs the queries through the backend. Trace search results get a "View trace" data link on
   * their trace id column (unless the backend already set links), opening the trace in Grafana's
   * trace view with this datasource's Trace ID query.
   */
  query(request: DataQueryRequest<LanternQuery>): Observable<DataQueryResponse> {
    if (request.liveStreaming) {
      return this.tail(request);
    }
    const searches = new Map(
      request.targets.flatMap((t) => {
        const table = traceSearchTable(t);
        return table ? [[t.refId, table] as const] : [];
      })
    );
    const response = super.query(request);
    if (searches.size === 0) {
      return response;
    }
    return response.pipe(
      map((res) => ({
        ...res,
        data: res.data.map((frame: DataFrame) => {
          const table = searches.get(frame.refId ?? '');
          return table ? this.withTraceLink(frame, table) : frame;
        }),
      }))
    );
  }

  /**
   * Explore's Live button: every logs query of the request tails through the backend's stream
   * (`ds/<uid>/tail/<key>`, the query with its variables applied as the subscription data; the
   * key is a hash of that JSON, so the same query shares one stream). Each packet is a whole
   * log-lines frame of the new lines.
   */
  tail(request: DataQueryRequest<LanternQuery>): Observable<DataQueryResponse> {
    const streams = request.targets
      .filter((t) => !t.hide && isLogsQuery(t) && hasContent(t))
      .map((t) => {
        const data = this.applyTemplateVariables(t, request.scopedVars, request.filters);
        return getGrafanaLiveSrv().getDataStream({
          addr: {
            scope: LiveChannelScope.DataSource,
            stream: this.uid,
            path: `tail/${tailKey(data)}`,
            data,
          },
        });
      });
    if (streams.length === 0) {
      throw new Error('Live tail needs a logs query: the logs builder, or SQL with the Logs format and a time filter macro');
    }
    return merge(...streams);
  }

  /**
   * "Format SQL": the SQL as ClickHouse's `formatQuery` writes it, with macros and template
   * variables kept as written (see format.ts). Rejects with ClickHouse's message when it cannot
   * parse the query.
   */
  async formatSql(sql: string): Promise<string> {
    const { text, originals } = protect(sql);
    const target: LanternQuery = {
      refId: 'format',
      editorType: 'sql',
      rawSql: formatQuerySql(text),
      format: Format.TABLE,
      queryType: 'table',
    };
    const range = getDefaultTimeRange();
    const response = await lastValueFrom(
      super.query({
        targets: [target],
        range,
        requestId: 'lantern-format-sql',
        interval: '1s',
        intervalMs: 1000,
        scopedVars: {},
        timezone: 'utc',
        app: CoreApp.Unknown,
        startTime: Date.now(),
      })
    );
    const error = response.error ?? response.errors?.[0];
    if (error) {
      throw new Error(error.message ?? 'ClickHouse could not format the query');
    }
    const formatted = response.data?.[0]?.fields?.[0]?.values?.[0];
    if (typeof formatted !== 'string') {
      throw new Error('ClickHouse returned no formatted query');
    }
    return restore(formatted, originals);
  }

  /** A frame whose `traceID` field links to the trace view (fields that already have links are kept). */
  private withTraceLink(frame: DataFrame, table: TraceTable): DataFrame {
    const query: LanternQuery = { refId: 'trace', editorType: 'lantern-builder', queryType: 'traces', format: Format.TRACES, traceId: '${__value.raw}' };
    if (table.database || table.table) {
      query.traceSearch = { database: table.database, table: table.table };
    }
    const link: DataLink = {
      title: 'View trace',
      url: '',
      internal: { datasourceUid: this.uid, datasourceName: this.name, query },
    };
    return {
      ...frame,
      fields: frame.fields.map((f) =>
        f.name === 'traceID' && !(f.config?.links?.length ?? 0) ? { ...f, config: { ...f.config, links: [link] } } : f
      ),
    };
  }

  getDefaultQuery(_app: CoreApp): Partial<LanternQuery> {
    return { ...DEFAULT_QUERY };
  }

  /** Hidden queries and queries without SQL (or trace id) are not sent. */
  filterQuery(query: LanternQuery): boolean {
    return !query.hide && hasContent(query);
  }

  /**
   * Leaves rawSql exactly as typed: the backend expands `$__` macros, template variables and ad
   * hoc filters itself (so alert rules evaluate the same SQL as dashboards). This sends the values
   * of every dashboard variable the SQL references (`templateVars`; built-in `__` variables are
   * not sent, the backend has the time range and interval) and the ad hoc filters
   * (`adHocFilters`).
   */
  applyTemplateVariables(query: LanternQuery, scopedVars: ScopedVars, filters?: AdHocVariableFilter[]): LanternQuery {
    const templateSrv = getTemplateSrv();
    const mode = editorMode(query);
    if (mode !== 'sql' && mode !== 'official') {
      const result = interpolateStructured(query, scopedVars);
      setAdHocFilters(result, filters);
      return result;
    }
    const rawSql = query.rawSql ?? '';
    // An official builder query runs its rawSql or the SQL the backend generates from its options:
    // variables in either are sent (its editorType is kept: it tells the backend which model it is).
    const text = mode === 'official' ? `${rawSql}\n${JSON.stringify(query.builderOptions ?? {})}` : rawSql;
    const result: LanternQuery = { ...query, editorType: mode === 'sql' ? (query.editorType ?? 'sql') : query.editorType, rawSql };

    const templateVars: Record<string, TemplateVarValue> = {};
    for (const variable of templateSrv.getVariables()) {
      const name = variable.name;
      if (variable.type === 'adhoc' || isBuiltIn(name) || !referencesVariable(text, name)) {
        continue;
      }
      const scoped = scopedVars?.[name];
      templateVars[name] = scoped ? scopedValue(scoped) : variableValue(variable);
    }
    // Variables given only through scopedVars (repeated panels); built-ins such as __interval,
    // __dashboard, __user or ${__field...} are excluded.
    for (const [name, scoped] of Object.entries(scopedVars ?? {})) {
      if (isBuiltIn(name) || templateVars[name] || !scoped || !referencesVariable(text, name)) {
        continue;
      }
      templateVars[name] = scopedValue(scoped);
    }
    if (Object.keys(templateVars).length > 0) {
      result.templateVars = templateVars;
    } else {
      delete result.templateVars;
    }

    setAdHocFilters(result, filters);
    return result;
  }

  /**
   * Called by Grafana when a panel's queries are opened in Explore (or copied, or turned into an
   * alert rule). Explore has no dashboard variables, so they are substituted here, in the
   * browser, with a SQL-safe formatter (see `interpolate.ts`); `$__` macros stay for the
   * backend. `templateVars` is dropped (nothing left to expand); ad hoc filters are handled as in
   * `applyTemplateVariables`.
   */
  interpolateVariablesInQueries(queries: LanternQuery[], scopedVars: ScopedVars, filters?: AdHocVariableFilter[]): LanternQuery[] {
    const templateSrv = getTemplateSrv();
    const replace = (text: string, format: VariableFormatter) => templateSrv.replace(text, scopedVars, format);
    return queries.map((query) => {
      const mode = editorMode(query);
      if (mode !== 'sql' && mode !== 'official') {
        const structured = interpolateStructured(query, scopedVars);
        setAdHocFilters(structured, filters);
        return structured;
      }
      // The same variable values the backend would get, to decide the conditionals.
      const vars = this.applyTemplateVariables(query, scopedVars).templateVars ?? {};
      const allOrEmpty = (name: string) => (vars[name] ? isAllOrEmpty(vars[name]) : undefined);
      const result: LanternQuery = {
        ...query,
        editorType: query.editorType ?? 'sql',
        rawSql: interpolateSql(resolveConditionals(query.rawSql ?? '', allOrEmpty), replace),
      };
      if (mode === 'official' && query.builderOptions) {
        // A saved official builder panel: its options too, so an edit in Explore regenerates
        // the SQL with the dashboard's values.
        result.builderOptions = interpolateOptions(query.builderOptions, scopedVars) as Record<string, unknown>;
      }
      delete result.templateVars;
      setAdHocFilters(result, filters);
      return result;
    });
  }

  // ---- Filters from a click in Explore (see filters.ts) --------------------------------------

  getSupportedQueryModifications(): string[] {
    return ['ADD_FILTER', 'ADD_FILTER_OUT'];
  }

  /**
   * `ADD_FILTER` / `ADD_FILTER_OUT` with `options: {key, value}` (log details, the level of a
   * row): a typed filter in the builder, or an entry of `filters` for SQL. Other actions, and
   * actions without a key or value, leave the query unchanged.
   */
  modifyQuery(query: LanternQuery, action: QueryFixAction): LanternQuery {
    const key = action.options?.key;
    const value = action.options?.value;
    if (typeof key !== 'string' || key === '' || value === undefined || value === null) {
      return query;
    }
    switch (action.type) {
      case 'ADD_FILTER':
        return addFilter(query, key, '=', String(value));
      case 'ADD_FILTER_OUT':
        return addFilter(query, key, '!=', String(value));
      default:
        return query;
    }
  }

  /** Filter for / filter out a value: removed when present, else added (replacing the opposite). */
  toggleQueryFilter(query: LanternQuery, filter: ToggleFilterAction): LanternQuery {
    const { key, value } = filter.options ?? {};
    if (typeof key !== 'string' || key === '' || value === undefined || value === null) {
      return query;
    }
    return toggleFilter(query, key, filter.type === 'FILTER_OUT' ? '!=' : '=', String(value));
  }

  /** Whether "filter for value" is active for `key = value`. */
  queryHasFilter(query: LanternQuery, filter: QueryFilterOptions): boolean {
    return typeof filter.key === 'string' && filter.value !== undefined && hasFilter(query, filter.key, String(filter.value));
  }

  // ---- Ad hoc filter suggestions ----------------------------------------------------------------

  /**
   * Ad hoc filter keys (columns and map keys such as `k8s.pod.name`) of the logs table of the
   * first logs builder query given, else the datasource's logs defaults (the backend falls back to
   * its own when neither is set), within the time range: `GET resources/tag-keys`.
   */
  async getTagKeys(options?: DataSourceGetTagKeysOptions<LanternQuery>): Promise<MetricFindValue[]> {
    const params = this.tagParams(options?.queries, options?.timeRange);
    return texts(await this.getResource('tag-keys', params));
  }

  /** Values of one ad hoc filter key: `GET resources/tag-values`. */
  async getTagValues(options: DataSourceGetTagValuesOptions<LanternQuery>): Promise<MetricFindValue[]> {
    const params = { ...this.tagParams(options.queries, options.timeRange), key: options.key };
    return texts(await this.getResource('tag-values', params));
  }

  private tagParams(queries: LanternQuery[] | undefined, range: TimeRange | undefined): Record<string, string> {
    const builder = (queries ?? []).find((q) => q.builder && (q.builder.database || q.builder.table))?.builder;
    const params: Record<string, string> = {};
    const database = builder?.database || this.jsonData.logs?.defaultDatabase;
    const table = builder?.table || this.jsonData.logs?.defaultTable;
    if (database) {
      params.database = database;
    }
    if (table) {
      params.table = table;
    }
    if (range) {
      params.from = String(range.from.valueOf());
      params.to = String(range.to.valueOf());
    }
    return params;
  }

  // ---- Log volume and logs sample (Explore's supplementary queries) -----------------------

  getSupportedSupplementaryQueryTypes(): SupplementaryQueryType[] {
    return [SupplementaryQueryType.LogsVolume, SupplementaryQueryType.LogsSample];
  }

  /**
   * The supplementary query of `query`, or undefined when it does not apply (Grafana's rule: the
   * volume is for logs queries, the sample for the others).
   *
   * - Log volume of a logs query (builder or SQL): the same query with `queryType: 'logs-volume'`;
   *   the backend counts its rows per interval and level.
   * - Logs sample of a table or time series query (SQL, or a saved official builder panel): the
   *   same query with `queryType: 'logs-sample'`; the backend returns a sample of its rows in the
   *   range as log lines (100 rows). Explore shows it under the table or graph; a logs query has
   *   no sample (its result already is the lines).
   */
  getSupplementaryQuery(options: SupplementaryQueryOptions, query: LanternQuery): LanternQuery | undefined {
    if (query.hide || !hasContent(query)) {
      return undefined;
    }
    switch (options.type) {
      case SupplementaryQueryType.LogsVolume:
        return isLogsQuery(query) ? { ...query, refId: `log-volume-${query.refId}`, queryType: 'logs-volume' } : undefined;
      case SupplementaryQueryType.LogsSample:
        return fitsLogsSample(query) ? { ...query, refId: `log-sample-${query.refId}`, queryType: 'logs-sample' } : undefined;
      default:
        return undefined;
    }
  }

  getSupplementaryRequest(
    type: SupplementaryQueryType,
    request: DataQueryRequest<LanternQuery>,
    options?: SupplementaryQueryOptions
  ): DataQueryRequest<LanternQuery> | undefined {
    const opts = options ?? ({ type } as SupplementaryQueryOptions);
    if (!this.getSupportedSupplementaryQueryTypes().includes(type) || opts.type !== type) {
      return undefined;
    }
    const targets = request.targets
      .map((q) => this.getSupplementaryQuery(opts, q))
      .filter((q): q is LanternQuery => q !== undefined);
    return targets.length > 0 ? { ...request, targets } : undefined;
  }

  // ---- Log context --------------------------------------------------------------------------

  /** The query that fetches the rows before (backward) or after (forward) a log row. */
  async getLogRowContextQuery(
    row: LogRowModel,
    options?: LogRowContextOptions,
    query?: LanternQuery
  ): Promise<LanternQuery | null> {
    const origin = query ?? this.queryOfRow(row);
    if (!origin) {
      return null;
    }
    return {
      ...origin,
      refId: `log-context-${origin.refId}`,
      queryType: 'logs-context',
      context: {
        time: row.timeEpochNs,
        direction: options?.direction === LogRowContextQueryDirection.Forward ? 'forward' : 'backward',
        limit: options?.limit ?? DEFAULT_CONTEXT_LIMIT,
        labels: { ...(row.labels ?? {}) },
      },
    };
  }

  /** Runs the context query for a log row through `query` (so templating applies as usual). */
  async getLogRowContext(row: LogRowModel, options?: LogRowContextOptions, query?: LanternQuery): Promise<DataQueryResponse> {
    const target = await this.getLogRowContextQuery(row, options, query);
    if (!target) {
      return { data: [] };
    }
    const center = row.timeEpochMs;
    const window = options?.timeWindowMs ?? CONTEXT_WINDOW_MS;
    const from = dateTime(center - window);
    const to = dateTime(center + window);
    const request: DataQueryRequest<LanternQuery> = {
      requestId: target.refId,
      interval: '1s',
      intervalMs: 1000,
      maxDataPoints: target.context?.limit ?? DEFAULT_CONTEXT_LIMIT,
      range: { from, to, raw: { from, to } },
      scopedVars: options?.scopedVars ?? {},
      targets: [target],
      timezone: 'UTC',
      app: CoreApp.Explore,
      startTime: Date.now(),
    };
    return lastValueFrom(this.query(request));
  }

  /** Log context applies to rows of logs queries. */
  showContextToggle(row?: LogRowModel): boolean {
    if (!row) {
      return true;
    }
    const query = this.queryOfRow(row);
    return query ? isLogsQuery(query) : true;
  }

  /** The query that produced a row, when Grafana attached it to the frame. */
  private queryOfRow(row: LogRowModel): LanternQuery | undefined {
    const meta = row.dataFrame?.meta as { custom?: { query?: LanternQuery } } | undefined;
    return meta?.custom?.query;
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

/** A list of strings with variables replaced: each value of a multi-value variable is its own item. */
function interpolateList(values: string[], scopedVars: ScopedVars): string[] {
  const SEP = '\u001f';
  return values.flatMap((v) =>
    getTemplateSrv()
      .replace(v, scopedVars, (value: unknown) => (Array.isArray(value) ? value.map(String).join(SEP) : String(value)))
      .split(SEP)
      .filter((x) => x !== '')
  );
}

/**
 * grafana/clickhouse-datasource builder options with template variables replaced in every string
 * (raw, as that plugin's template service does); a list of strings (an `IN` value) takes every
 * value of a multi-value variable as its own item.
 */
export function interpolateOptions(value: unknown, scopedVars: ScopedVars): unknown {
  if (typeof value === 'string') {
    return value === '' ? value : getTemplateSrv().replace(value, scopedVars);
  }
  if (Array.isArray(value)) {
    if (value.length > 0 && value.every((v) => typeof v === 'string')) {
      return interpolateList(value, scopedVars);
    }
    return value.map((v) => interpolateOptions(v, scopedVars));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateOptions(v, scopedVars)]));
  }
  return value;
}

/**
 * Dashboard variables in the structured parts of a query (trace id, builder and trace search
 * fields) substituted in the browser: the backend builds their SQL from literal values. List
 * fields (services, IN values) take every value of a multi-value variable. Filters without a key
 * (rows being edited) are not sent.
 */
export function interpolateStructured(query: LanternQuery, scopedVars: ScopedVars): LanternQuery {
  const templateSrv = getTemplateSrv();
  const one = (s: string | undefined, format?: string) =>
    s === undefined || s === '' ? s : templateSrv.replace(s, scopedVars, format);
  const list = (values: string[] | undefined) => (values === undefined ? undefined : interpolateList(values, scopedVars));
  const filters = (fs: BuilderFilter[] | undefined) =>
    fs === undefined
      ? undefined
      : fs
          .filter((f) => typeof f.key === 'string' && f.key.trim() !== '')
          .map((f) => {
            const out: BuilderFilter = { ...f, key: one(f.key) ?? '' };
            if (typeof f.value === 'string') {
              out.value = one(f.value, f.op === '=~' || f.op === '!~' ? 'regex' : undefined);
            }
            if (f.values) {
              out.values = list(f.values);
            }
            return out;
          });
  const result: LanternQuery = { ...query, editorType: query.editorType ?? 'builder' };
  delete result.templateVars;
  if (typeof query.traceId === 'string') {
    result.traceId = one(query.traceId.trim());
  }
  if (query.builder) {
    const b = query.builder;
    result.builder = {
      ...b,
      database: one(b.database),
      table: one(b.table),
      services: list(b.services),
      filters: filters(b.filters),
      bodyContains: one(b.bodyContains),
      bodyRegex: one(b.bodyRegex, 'regex'),
    };
    dropUndefined(result.builder);
  }
  if (query.traceSearch) {
    const t = query.traceSearch;
    result.traceSearch = {
      ...t,
      database: one(t.database),
      table: one(t.table),
      services: list(t.services),
      operation: one(t.operation),
      filters: filters(t.filters),
    };
    dropUndefined(result.traceSearch);
  }
  return result;
}

function dropUndefined(obj: object): void {
  const o = obj as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (o[k] === undefined) {
      delete o[k];
    }
  }
}

/** True when `sql` mentions `$name`, `${name}`, `${name:fmt}` / `${name.path}` or `[[name]]`. */
export function referencesVariable(sql: string, name: string): boolean {
  const n = escapeRegExp(name);
  const re = new RegExp(`\\$${n}(?![A-Za-z0-9_])|\\$\\{${n}(?:[:.][^}]*)?\\}|\\[\\[${n}(?::[^\\]]*)?\\]\\]`);
  return re.test(sql);
}

/** "All" selected or no value: what `$__conditionalAll` / `$conditionalTest` test (as the backend). */
function isAllOrEmpty(v: TemplateVarValue): boolean {
  return (
    v.allSelected || v.values.length === 0 || (v.values.length === 1 && (v.values[0] === '' || v.values[0] === ALL_VALUE))
  );
}

function isBuiltIn(name: string): boolean {
  return name.startsWith('__');
}

interface CurrentValue {
  text?: unknown;
  value?: unknown;
}

/** A repeated panel's value: a single value overriding the variable's current selection. */
function scopedValue(scoped: CurrentValue): TemplateVarValue {
  const values = toStrings(scoped.value);
  const text = toStrings(scoped.text ?? scoped.value).join(' + ');
  return { values, text, multi: false, includeAll: false, allSelected: false };
}

function variableValue(variable: TypedVariableModel): TemplateVarValue {
  const current: CurrentValue = 'current' in variable && variable.current ? (variable.current as CurrentValue) : {};
  const selected = toStrings(current.value);
  const text = toStrings(current.text ?? current.value).join(' + ');
  const multi = 'multi' in variable && variable.multi === true;
  const includeAll = 'includeAll' in variable && variable.includeAll === true;
  const allSelected = selected.includes(ALL_VALUE);
  if (!allSelected) {
    return { values: selected, text, multi, includeAll, allSelected };
  }
  const customAllValue = 'allValue' in variable && typeof variable.allValue === 'string' ? variable.allValue : '';
  if (customAllValue !== '') {
    return { values: [], text, multi, includeAll, allSelected, customAllValue };
  }
  const options: Array<{ value?: unknown }> =
    'options' in variable && Array.isArray(variable.options) ? variable.options : [];
  const values = (options.length > 0 ? options.flatMap((o) => toStrings(o.value)) : selected).filter(
    (v) => v !== ALL_VALUE
  );
  return { values, text, multi, includeAll, allSelected };
}

/** Sets `query.adHocFilters` from Grafana's filters, or removes it when there are none. */
function setAdHocFilters(query: LanternQuery, filters?: AdHocVariableFilter[]): void {
  const adHocFilters = (filters ?? []).map(toAdHocFilter);
  if (adHocFilters.length > 0) {
    query.adHocFilters = adHocFilters;
  } else {
    delete query.adHocFilters;
  }
}

const MULTI_VALUE_OPERATORS = new Set(['=|', '!=|']);

/**
 * One filter per Grafana filter. The multi-value operators `=|` / `!=|` keep all their values in
 * `values` (the backend renders `IN (...)` / `NOT IN (...)`); `value` is the first of them.
 */
function toAdHocFilter(f: AdHocVariableFilter): AdHocFilter {
  const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));
  if (MULTI_VALUE_OPERATORS.has(f.operator)) {
    const values =
      Array.isArray(f.values) && f.values.length > 0
        ? f.values.map(str)
        : f.value === undefined || f.value === null
          ? []
          : [str(f.value)];
    return { key: f.key, operator: f.operator, value: values[0] ?? '', values };
  }
  return { key: f.key, operator: f.operator, value: str(f.value) };
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

/** `[{text}, …]` from a resource answer; anything else is an error naming the answer. */
function texts(answer: unknown): MetricFindValue[] {
  if (!Array.isArray(answer)) {
    throw new Error(`unexpected answer from the datasource: ${JSON.stringify(answer)?.slice(0, 200)}`);
  }
  return answer
    .filter((x): x is TagResource => typeof x === 'object' && x !== null && typeof (x as TagResource).text === 'string')
    .map((x) => ({ text: x.text }));
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

/** Saved queries of these types are Lantern's own requests (never sampled). */
const NOT_SAMPLED = new Set(['logs', 'logs-volume', 'logs-context', 'logs-sample', 'traces', 'trace-search']);
const SAMPLED_FORMATS = new Set<number>([Format.TABLE, Format.TIME_SERIES]);

/**
 * Whether Explore's logs sample applies: a table or time series query (SQL, or the official
 * builder's table / time series mode). Logs and trace queries have none.
 */
function fitsLogsSample(query: LanternQuery): boolean {
  const mode = editorMode(query);
  if ((mode !== 'sql' && mode !== 'official') || NOT_SAMPLED.has(query.queryType ?? '')) {
    return false;
  }
  const official = query.builderOptions?.queryType;
  if (mode === 'official' && typeof official === 'string' && official !== 'table' && official !== 'timeseries') {
    return false;
  }
  return SAMPLED_FORMATS.has(typeof query.format === 'number' ? query.format : Format.TABLE);
}

/** A stream key for a query: FNV-1a of its JSON, in hex (the backend accepts `[A-Za-z0-9_.-]`). */
export function tailKey(query: object): string {
  const text = JSON.stringify(query);
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x811c9dc5) >>> 0;
  }
  return `q${h1.toString(16).padStart(8, '0')}${h2.toString(16).padStart(8, '0')}`;
}

/** Where a trace search reads its spans (empty: the datasource's traces table). */
interface TraceTable {
  database?: string;
  table?: string;
}

/**
 * The table of a trace search query — Lantern's (`queryType: 'trace-search'`) or a saved
 * grafana/clickhouse-datasource builder panel searching traces (`builderOptions.queryType:
 * 'traces'` not in trace-id mode) — or undefined for any other query.
 */
function traceSearchTable(t: LanternQuery): TraceTable | undefined {
  if (t.queryType === 'trace-search') {
    return { database: t.traceSearch?.database, table: t.traceSearch?.table };
  }
  const o = t.builderOptions as { queryType?: string; database?: string; table?: string; meta?: { isTraceIdMode?: boolean } } | undefined;
  if (t.editorType === 'builder' && o?.queryType === 'traces' && !o.meta?.isTraceIdMode) {
    return { database: o.database, table: o.table };
  }
  return undefined;
}
