// The browser suite's host page: loads the built `module.js` the way Grafana does and renders the
// plugin's editors and an Explore-like page with the real @grafana/* packages of one package set.
//
// What Grafana provides and this page provides the same way:
//  * an AMD `define` that hands module.js the shared modules it names (React, react-dom,
//    react/jsx-runtime, @grafana/data|ui|runtime, rxjs, lodash, emotion, ...) from the package
//    set this page is bundled with; a module name Grafana does not share is a load error;
//  * BackendSrv over `fetch` to the devhost (Grafana's datasource HTTP API in front of the plugin
//    binary and the engine), DataSourceSrv for the one datasource, and a TemplateSrv without
//    dashboard variables (Explore has none).
// The Explore-like page calls the datasource the way Explore does (query, supplementary log
// volume, log context, filter for / filter out through toggleQueryFilter / queryHasFilter, the
// level click through modifyQuery, ad hoc key/value suggestions) and shows what comes back.
import './boot';

import * as emotionCss from '@emotion/css';
import * as emotionReact from '@emotion/react';
import * as grafanaData from '@grafana/data';
import {
  CoreApp,
  DataFrame,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceInstanceSettings,
  DataSourcePlugin,
  DataSourcePluginMeta,
  DataSourceSettings,
  dateTime,
  FieldType,
  LoadingState,
  LogRowContextQueryDirection,
  LogRowModel,
  PanelData,
  SupplementaryQueryType,
  TimeRange,
} from '@grafana/data';
import * as grafanaRuntime from '@grafana/runtime';
import { BackendSrv, BackendSrvRequest, FetchResponse, setBackendSrv, setDataSourceSrv, setTemplateSrv } from '@grafana/runtime';
import * as grafanaUI from '@grafana/ui';
import { Alert, Button, GlobalStyles, Select, ThemeContext } from '@grafana/ui';
import lodash from 'lodash';
import * as React from 'react';
import { useState } from 'react';
import * as ReactDOM from 'react-dom';
import { createRoot } from 'react-dom/client';
import * as jsxRuntime from 'react/jsx-runtime';
import * as rxjs from 'rxjs';
import { lastValueFrom, Observable } from 'rxjs';
import * as rxjsOperators from 'rxjs/operators';

const PLUGIN_ID = 'lantern-clickhouse-datasource';
const PLUGIN_BASE = `/public/plugins/${PLUGIN_ID}/`;

// ---- AMD: the shared modules Grafana gives plugins ---------------------------------------------

const shared: Record<string, unknown> = {
  react: React,
  'react-dom': ReactDOM,
  'react/jsx-runtime': jsxRuntime,
  'react/jsx-dev-runtime': jsxRuntime,
  '@grafana/data': grafanaData,
  '@grafana/ui': grafanaUI,
  '@grafana/runtime': grafanaRuntime,
  rxjs,
  'rxjs/operators': rxjsOperators,
  lodash,
  '@emotion/css': emotionCss,
  '@emotion/react': emotionReact,
  emotion: emotionCss,
};

type Factory = (...deps: unknown[]) => unknown;
let defined: { deps: string[]; factory: Factory } | undefined;

function define(a: unknown, b?: unknown, c?: unknown) {
  // define(factory) | define(deps, factory) | define(name, deps, factory)
  const args = [a, b, c].filter((x) => x !== undefined);
  const factory = args.find((x) => typeof x === 'function') as Factory;
  const deps = (args.find((x) => Array.isArray(x)) as string[]) ?? [];
  defined = { deps, factory };
}
(define as unknown as { amd: object }).amd = {};
(window as unknown as Record<string, unknown>).define = define;

/** Loads module.js with a script tag and resolves its AMD exports. */
function loadPluginModule(url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = url;
    script.onerror = () => reject(new Error(`cannot load ${url}`));
    script.onload = () => {
      const d = defined;
      defined = undefined;
      if (!d) {
        reject(new Error(`${url} did not call define()`));
        return;
      }
      const missing = d.deps.filter((name) => name !== 'module' && name !== 'exports' && !(name in shared));
      if (missing.length > 0) {
        reject(new Error(`module.js imports modules Grafana does not share: ${missing.join(', ')}`));
        return;
      }
      const exports: Record<string, unknown> = {};
      const args = d.deps.map((name) => (name === 'module' ? { uri: url } : name === 'exports' ? exports : shared[name]));
      try {
        const result = d.factory(...args);
        resolve((result as Record<string, unknown>) ?? exports);
      } catch (e) {
        reject(e);
      }
    };
    document.head.appendChild(script);
  });
}

// ---- Grafana services over fetch to the devhost -------------------------------------------------

class FetchError extends Error {
  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly data: unknown,
    readonly config: BackendSrvRequest
  ) {
    super(`${status} ${statusText}`);
  }
}

async function doFetch<T>(options: BackendSrvRequest): Promise<FetchResponse<T>> {
  let url = options.url;
  if (options.params && Object.keys(options.params).length > 0) {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(options.params as Record<string, unknown>)) {
      if (v !== undefined && v !== null) {
        search.append(k, String(v));
      }
    }
    url += (url.includes('?') ? '&' : '?') + search.toString();
  }
  const method = (options.method ?? 'GET').toUpperCase();
  const headers: Record<string, string> = { Accept: 'application/json', ...(options.headers ?? {}) };
  let body: string | undefined;
  if (options.data !== undefined && method !== 'GET') {
    body = typeof options.data === 'string' ? options.data : JSON.stringify(options.data);
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(url.startsWith('/') ? url : `/${url}`, { method, headers, body });
  const text = await res.text();
  let data: unknown = text;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: keep the text
  }
  if (!res.ok) {
    throw new FetchError(res.status, res.statusText, data, options);
  }
  return {
    data: data as T,
    status: res.status,
    statusText: res.statusText,
    ok: res.ok,
    headers: res.headers,
    redirected: res.redirected,
    type: res.type,
    url: res.url,
    config: options,
  };
}

const backendSrv: BackendSrv = {
  fetch<T>(options: BackendSrvRequest): Observable<FetchResponse<T>> {
    return new Observable((subscriber) => {
      doFetch<T>(options).then(
        (r) => {
          subscriber.next(r);
          subscriber.complete();
        },
        (e) => subscriber.error(e)
      );
    });
  },
  async get(url, params, requestId, options) {
    return (await doFetch({ ...options, url, params, requestId, method: 'GET' })).data as never;
  },
  async post(url, data, options) {
    return (await doFetch({ ...options, url, data, method: 'POST' })).data as never;
  },
  async put(url, data, options) {
    return (await doFetch({ ...options, url, data, method: 'PUT' })).data as never;
  },
  async patch(url, data, options) {
    return (await doFetch({ ...options, url, data, method: 'PATCH' })).data as never;
  },
  async delete(url, data, options) {
    return (await doFetch({ ...options, url, data, method: 'DELETE' })).data as never;
  },
  async request(options) {
    return (await doFetch(options)).data as never;
  },
  datasourceRequest(options) {
    return doFetch(options);
  },
  chunked() {
    throw new Error('chunked requests are not used by this plugin');
  },
};

/** Explore has no dashboard variables: text passes through unchanged. */
const templateSrv = {
  getVariables: () => [],
  replace: (target?: string) => target ?? '',
  containsTemplate: () => false,
  updateTimeRange: () => {},
  getAdhocFilters: () => [],
} as unknown as grafanaRuntime.TemplateSrv;

// ---- Status for the test runner --------------------------------------------------------------

interface LinkTarget {
  field: string;
  value: string;
  link: grafanaData.DataLink;
}

interface HostState {
  ready: boolean;
  /** Data links of the shown frames' rows, as Explore renders them. */
  links?: LinkTarget[];
  /** Follows an internal data link the way Explore does: its query, interpolated, becomes the query. */
  openLink?: (l: LinkTarget) => void;
  /** Opens a saved query (as a dashboard panel's target would be) and runs it. */
  openQuery?: (q: unknown) => void;
  query?: unknown;
  lastRequest?: unknown;
  options?: unknown;
  errors: string[];
}
const hostState: HostState = { ready: false, errors: [] };
(window as unknown as Record<string, unknown>).__lantern = hostState;

// ---- The page --------------------------------------------------------------------------------

/** The datasource methods the host calls, as Grafana's Explore calls them (the plugin must have them). */
interface AnyDs {
  query(request: DataQueryRequest<any>): Observable<DataQueryResponse>;
  testDatasource(): Promise<{ status: string; message: string }>;
  getDefaultQuery?(app: CoreApp): object;
  getSupplementaryRequest?(
    type: SupplementaryQueryType,
    request: DataQueryRequest<any>,
    options: { type: SupplementaryQueryType }
  ): DataQueryRequest<any> | undefined;
  getLogRowContext(row: LogRowModel, options: object, query: any): Promise<DataQueryResponse>;
  toggleQueryFilter(query: any, filter: grafanaData.ToggleFilterAction): any;
  modifyQuery(query: any, action: grafanaData.QueryFixAction): any;
  queryHasFilter?(query: any, filter: grafanaData.QueryFilterOptions): boolean;
  getTagKeys(options: object): Promise<Array<{ text: string }>>;
  getTagValues(options: object): Promise<Array<{ text: string }>>;
}

function lastHour(): TimeRange {
  const to = dateTime();
  const from = dateTime(to.valueOf() - 6 * 3600 * 1000);
  return { from, to, raw: { from: 'now-6h', to: 'now' } };
}

let requestCounter = 0;
function request(targets: any[], range: TimeRange, app = CoreApp.Explore): DataQueryRequest<any> {
  requestCounter++;
  return {
    requestId: `explore_${requestCounter}`,
    interval: '1m',
    intervalMs: 60000,
    maxDataPoints: 500,
    range,
    scopedVars: {},
    targets,
    timezone: 'utc',
    app,
    startTime: Date.now(),
  };
}

function ConfigPage(props: { plugin: DataSourcePlugin<any, any, any, any>; ds: AnyDs; settings: DataSourceSettings<any, any> }) {
  const Editor = props.plugin.components.ConfigEditor!;
  const [options, setOptions] = useState(props.settings);
  const [result, setResult] = useState<{ status: string; message: string } | undefined>();
  hostState.options = options;
  const saveAndTest = async () => {
    setResult(undefined);
    try {
      const r = await props.ds.testDatasource();
      setResult({ status: r.status, message: r.message });
    } catch (e) {
      setResult({ status: 'error', message: String((e as Error).message ?? e) });
    }
  };
  return (
    <section data-testid="config-page" style={{ padding: 16, maxWidth: 900 }}>
      <h2>Settings</h2>
      <Editor options={options} onOptionsChange={setOptions} />
      <div style={{ marginTop: 16 }}>
        <Button onClick={saveAndTest}>Save &amp; test</Button>
      </div>
      {result && (
        <div data-testid="health-result" style={{ marginTop: 16 }}>
          <Alert severity={result.status === 'success' ? 'success' : 'error'} title={result.message} />
        </div>
      )}
    </section>
  );
}

interface LogRowView {
  index: number;
  timeMs: number;
  timeNs: string;
  level: string;
  body: string;
  labels: Record<string, string>;
  frame: DataFrame;
}

/** Rows of a logs frame as Explore reads them (time, body, severity, labels). */
function logRows(frame: DataFrame): LogRowView[] {
  const time = frame.fields.find((f) => f.type === FieldType.time);
  const body = frame.fields.find((f) => f.name === 'body' || f.name === 'Body' || f.name === 'line') ??
    frame.fields.find((f) => f.type === FieldType.string && f !== time);
  const level = frame.fields.find((f) => ['severity', 'level', 'SeverityText', 'detected_level'].includes(f.name));
  const labels = frame.fields.find((f) => f.name === 'labels' || f.type === FieldType.other);
  const tsNs = frame.fields.find((f) => f.name === 'tsNs');
  const rows: LogRowView[] = [];
  for (let i = 0; i < frame.length; i++) {
    const timeMs = Number(time?.values[i] ?? 0);
    let l = labels?.values[i] ?? {};
    if (typeof l === 'string') {
      try {
        l = JSON.parse(l);
      } catch {
        l = {};
      }
    }
    rows.push({
      index: i,
      timeMs,
      timeNs: tsNs ? String(tsNs.values[i]) : `${Math.round(timeMs)}000000`,
      level: level ? String(level.values[i] ?? '') : '',
      body: body ? String(body.values[i] ?? '') : '',
      labels: l as Record<string, string>,
      frame,
    });
  }
  return rows;
}

function ExplorePage(props: { plugin: DataSourcePlugin<any, any, any, any>; ds: AnyDs }) {
  const { plugin, ds } = props;
  const QueryEditor = plugin.components.QueryEditor!;
  const [range] = useState(lastHour);
  const [query, setQuery] = useState<any>({ refId: 'A', ...(ds.getDefaultQuery?.(CoreApp.Explore) ?? {}) });
  const [data, setData] = useState<PanelData | undefined>();
  const [volume, setVolume] = useState<DataQueryResponse | undefined>();
  const [context, setContext] = useState<{ row: number; frames: DataFrame[] } | undefined>();
  const [tagKeys, setTagKeys] = useState<Array<{ text: string }>>([]);
  const [tagKey, setTagKey] = useState<string | undefined>();
  const [tagValues, setTagValues] = useState<Array<{ text: string }>>([]);
  hostState.query = query;

  const latest = React.useRef(query);
  latest.current = query;

  const run = async (q: any = latest.current) => {
    const req = request([q], range);
    hostState.lastRequest = q;
    setContext(undefined);
    setVolume(undefined);
    const response = await lastValueFrom(ds.query(req) as Observable<DataQueryResponse>);
    setData({ state: response.error ? LoadingState.Error : LoadingState.Done, series: response.data, timeRange: range, request: req, errors: response.errors, error: response.error });
    // Explore's log volume: the supplementary request of a logs query.
    const supp = ds.getSupplementaryRequest?.(SupplementaryQueryType.LogsVolume, req, { type: SupplementaryQueryType.LogsVolume });
    setVolume(supp ? await lastValueFrom(ds.query(supp) as Observable<DataQueryResponse>) : undefined);
  };

  const onChange = (q: any) => {
    latest.current = q;
    setQuery(q);
  };
  const change = (q: any) => {
    onChange(q);
    void run(q);
  };

  // Explore's "Filter for value" / "Filter out value" in log details.
  const toggle = (type: 'FILTER_FOR' | 'FILTER_OUT', key: string, value: string, frame: DataFrame) =>
    change(ds.toggleQueryFilter(latest.current, { type, options: { key, value }, frame }));
  const modify = (type: string, key: string, value: string) => change(ds.modifyQuery(latest.current, { type, options: { key, value } }));
  const hasFilter = (key: string, value: string) => Boolean(ds.queryHasFilter?.(latest.current, { key, value }));

  const showContext = async (row: LogRowView) => {
    const model = {
      timeEpochMs: row.timeMs,
      timeEpochNs: row.timeNs,
      labels: row.labels,
      dataFrame: row.frame,
      rowIndex: row.index,
      entry: row.body,
    } as unknown as LogRowModel;
    const res = await ds.getLogRowContext(model, { direction: LogRowContextQueryDirection.Backward, limit: 10 }, latest.current);
    setContext({ row: row.index, frames: res.data });
  };

  const loadKeys = async () => {
    const keys = await ds.getTagKeys({ filters: [], timeRange: range, queries: [latest.current] });
    setTagKeys(keys);
  };
  const loadValues = async (key: string) => {
    setTagKey(key);
    setTagValues(await ds.getTagValues({ key, filters: [], timeRange: range, queries: [latest.current] }));
  };

  const frames = data?.series ?? [];
  hostState.links = frames.flatMap((frame) =>
    frame.fields.flatMap((f) =>
      (f.config?.links ?? []).flatMap((link) =>
        Array.from({ length: frame.length }, (_, i) => ({ field: f.name, value: String(f.values[i] ?? ''), link }))
      )
    )
  );
  hostState.openQuery = (q: unknown) => change(q);
  hostState.openLink = (l: LinkTarget) => {
    const target = l.link.internal?.query;
    if (!target) {
      throw new Error(`not an internal link: ${JSON.stringify(l.link)}`);
    }
    const text = JSON.stringify(target).split('${__value.raw}').join(l.value.replace(/["\\]/g, (c) => `\\${c}`));
    change({ ...JSON.parse(text), datasource: { uid: l.link.internal?.datasourceUid, type: PLUGIN_ID } });
  };
  return (
    <section data-testid="explore-page" style={{ padding: 16 }}>
      <h2>Explore</h2>
      <div data-testid="query-editor-row" style={{ border: '1px solid #333', padding: 8 }}>
        <QueryEditor datasource={ds as never} query={query} onChange={onChange} onRunQuery={() => void run()} range={range} data={data} app={CoreApp.Explore} />
      </div>
      <div style={{ margin: '8px 0', display: 'flex', gap: 8 }}>
        <Button onClick={() => void run()} data-testid="run-query">
          Run query
        </Button>
        <Button variant="secondary" onClick={() => void loadKeys()} data-testid="adhoc-keys">
          Ad hoc filter keys
        </Button>
      </div>
      <ExploreLive ds={ds} query={query} range={range} data={data} />
      <pre data-testid="query-json" style={{ fontSize: 11 }}>
        {JSON.stringify(query)}
      </pre>
      {tagKeys.length > 0 && (
        <div data-testid="adhoc" style={{ display: 'flex', gap: 8, maxWidth: 700 }}>
          <Select
            aria-label="Ad hoc key"
            options={tagKeys.map((k) => ({ label: k.text, value: k.text }))}
            value={tagKey}
            onChange={(v) => void loadValues(String(v.value))}
          />
          <Select aria-label="Ad hoc value" options={tagValues.map((k) => ({ label: k.text, value: k.text }))} onChange={() => {}} />
          <span data-testid="adhoc-values">{tagValues.map((v) => v.text).join(', ')}</span>
        </div>
      )}
      {data?.error && (
        <div data-testid="query-error">
          <Alert severity="error" title={data.error.message ?? 'Query error'} />
        </div>
      )}
      {volume && (
        <div
          data-testid="log-volume"
          data-total={volume.data.reduce(
            (n: number, f: DataFrame) =>
              n + (f.fields.find((x) => x.type === FieldType.number)?.values ?? []).reduce((a: number, b: unknown) => a + Number(b ?? 0), 0),
            0
          )}
        >
          Log volume:{' '}
          {volume.data
            .map((f: DataFrame) => {
              const v = f.fields.find((x) => x.type === FieldType.number);
              const total = (v?.values ?? []).reduce((a: number, b: unknown) => a + Number(b ?? 0), 0);
              const level = v?.labels?.level ?? f.name ?? '?';
              return `${level}=${total}`;
            })
            .join(' ')}
        </div>
      )}
      {frames.map((frame, fi) => {
        const isLogs = frame.meta?.preferredVisualisationType === 'logs';
        const isTrace = frame.meta?.preferredVisualisationType === 'trace';
        return (
          <div key={fi} data-testid={isLogs ? 'logs-frame' : isTrace ? 'trace-frame' : 'table-frame'} data-rows={frame.length}>
            <h4>
              {frame.name ?? frame.refId} · {frame.meta?.preferredVisualisationType ?? 'table'} · {frame.length} rows
            </h4>
            {isLogs ? (
              logRows(frame)
                .slice(0, 8)
                .map((row) => (
                  <div key={row.index} data-testid="log-row" style={{ borderBottom: '1px solid #333', padding: 4 }}>
                    <button
                      data-testid="log-level"
                      aria-label={`Filter level ${row.level}`}
                      onClick={() => modify('ADD_FILTER', 'level', row.level)}
                    >
                      {row.level}
                    </button>{' '}
                    <span data-testid="log-body">{row.body}</span>{' '}
                    <button data-testid="log-context" onClick={() => void showContext(row)}>
                      Show context
                    </button>
                    <div style={{ fontSize: 11 }}>
                      {Object.entries(row.labels).map(([k, v]) => (
                          <span key={k} style={{ marginRight: 8 }} data-testid="log-label" data-key={k} data-value={String(v)}>
                            {k}={String(v)}{' '}
                            <button
                              aria-label={`Filter for value ${k}`}
                              aria-pressed={hasFilter(k, String(v))}
                              onClick={() => toggle('FILTER_FOR', k, String(v), row.frame)}
                            >
                              +
                            </button>
                            <button aria-label={`Filter out value ${k}`} onClick={() => toggle('FILTER_OUT', k, String(v), row.frame)}>
                              −
                            </button>
                          </span>
                        ))}
                    </div>
                    {context?.row === row.index && (
                      <div data-testid="log-context-rows" data-rows={context.frames.reduce((n, f) => n + f.length, 0)}>
                        context: {context.frames.reduce((n, f) => n + f.length, 0)} rows
                      </div>
                    )}
                  </div>
                ))
            ) : (
              <FrameTable frame={frame} />
            )}
          </div>
        );
      })}
    </section>
  );
}

/** The first rows of a frame, with data links rendered as links (what Explore's table shows). */
function FrameTable({ frame }: { frame: DataFrame }) {
  const rows = Math.min(frame.length, 10);
  return (
    <table style={{ fontSize: 12, borderCollapse: 'collapse' }}>
      <thead>
        <tr>
          {frame.fields.map((f) => (
            <th key={f.name} style={{ textAlign: 'left', padding: '2px 8px' }}>
              {f.name}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {Array.from({ length: rows }, (_, i) => (
          <tr key={i}>
            {frame.fields.map((f) => {
              const value = f.values[i];
              const text = typeof value === 'object' ? JSON.stringify(value) : String(value ?? '');
              const link = f.config?.links?.[0];
              return (
                <td key={f.name} style={{ padding: '2px 8px' }}>
                  {link ? (
                    <a data-testid="data-link" data-link={JSON.stringify(link)} data-value={text} href="#" style={{ color: "#6e9fff" }}>
                      {text}
                    </a>
                  ) : (
                    text.slice(0, 80)
                  )}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// ---- Grafana Live and Explore's live tail and logs sample (issue 10) ---------------------------
// Grafana's Live service for the plugin's channels, over the devhost's event streams
// (tests/support/devhost_live.rs): `getStream` subscribes with `POST /api/live/subscribe`
// `{channel, data}` (the devhost calls SubscribeStream, then the channel's RunStream) and reads the
// Server-Sent Events; leaving aborts the request, and the devhost ends the RunStream when the last
// subscriber has left. `getDataStream` keeps one StreamingDataFrame per subscription and applies
// each packet (a JSON data frame) with its push(): Grafana's append / replace semantics
// (`buffer.action`, `maxLength`, `maxDelta`), like Grafana's live service. `ExploreLive` is
// Explore's Live button and its logs sample panel.

/** Channel ids subscribed so far (`ds/<uid>/<path>`), for the test runner. */
const liveHost = hostState as HostState & { liveChannels: string[]; sampleTargets?: unknown[] };
liveHost.liveChannels = [];

/** Calls `onEvent(event, data)` for each Server-Sent Event of `body` until it ends. */
async function readServerSentEvents(body: ReadableStream<Uint8Array>, onEvent: (event: string, data: string) => void) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) {
      return;
    }
    buffer += decoder.decode(value, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') {
          event = text;
        } else if (field === 'data') {
          data.push(text);
        }
      }
      if (data.length > 0) {
        onEvent(event, data.join('\n'));
      }
    }
  }
}

let liveStreamCounter = 0;

class DevhostLiveSrv implements grafanaRuntime.GrafanaLiveSrv {
  private readonly connected = new rxjs.BehaviorSubject<boolean>(true);

  getConnectionState(): Observable<boolean> {
    return this.connected.asObservable();
  }

  getStream<T>(addr: grafanaData.LiveChannelAddress): Observable<grafanaData.LiveChannelEvent<T>> {
    return new Observable<grafanaData.LiveChannelEvent<T>>((subscriber) => {
      const id = grafanaData.toLiveChannelId(addr);
      liveHost.liveChannels.push(id);
      const controller = new AbortController();
      const status = (state: grafanaData.LiveChannelConnectionState, error?: unknown) =>
        subscriber.next({ type: grafanaData.LiveChannelEventType.Status, id, timestamp: Date.now(), state, error });
      status(grafanaData.LiveChannelConnectionState.Connecting);
      const run = async () => {
        const res = await fetch('/api/live/subscribe', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ channel: id, data: addr.data }),
          signal: controller.signal,
        });
        this.connected.next(true);
        if (!res.ok || !res.body) {
          const answer = (await res.json().catch(() => ({}))) as { message?: string };
          status(grafanaData.LiveChannelConnectionState.Invalid, new Error(answer.message ?? `${res.status} ${res.statusText}`));
          subscriber.complete();
          return;
        }
        status(grafanaData.LiveChannelConnectionState.Connected);
        await readServerSentEvents(res.body, (event, data) => {
          if (event === 'message') {
            subscriber.next({ type: grafanaData.LiveChannelEventType.Message, message: JSON.parse(data) as T });
          } else if (event === 'error') {
            status(grafanaData.LiveChannelConnectionState.Shutdown, new Error((JSON.parse(data) as { message: string }).message));
          } else if (event === 'end') {
            status(grafanaData.LiveChannelConnectionState.Shutdown);
          }
        });
        subscriber.complete();
      };
      run().catch((e) => {
        if (!controller.signal.aborted) {
          this.connected.next(false);
          subscriber.error(e);
        }
      });
      return () => controller.abort();
    });
  }

  getDataStream(options: grafanaRuntime.LiveDataStreamOptions): Observable<DataQueryResponse> {
    if (!grafanaData.isValidLiveChannelAddress(options.addr)) {
      return rxjs.of({
        error: grafanaRuntime.toDataQueryError(`invalid channel address: ${JSON.stringify(options.addr)}`),
        state: LoadingState.Error,
        data: [],
      });
    }
    return new Observable<DataQueryResponse>((subscriber) => {
      const key = options.key ?? `xstr/${liveStreamCounter++}`;
      const fields = options.filter?.fields ?? [];
      let frame = options.frame ? grafanaData.StreamingDataFrame.fromDataFrameJSON(options.frame, options.buffer) : undefined;
      const shown = (): DataFrame[] => {
        if (!frame) {
          return [];
        }
        return fields.length > 0 ? [{ ...frame, fields: frame.fields.filter((f) => fields.includes(f.name)), length: frame.length }] : [frame];
      };
      const process = (msg: grafanaData.DataFrameJSON) => {
        if (frame) {
          frame.push(msg);
        } else {
          frame = grafanaData.StreamingDataFrame.fromDataFrameJSON(msg, options.buffer);
        }
        subscriber.next({ state: LoadingState.Streaming, data: shown(), key });
      };
      const fail = (error: unknown, prefix = '') => {
        const e = grafanaRuntime.toDataQueryError(error);
        subscriber.next({ state: LoadingState.Error, data: shown(), key, error: { ...e, message: `${prefix}${e.message ?? ''}` } });
      };
      const sub = this.getStream<grafanaData.DataFrameJSON>(options.addr).subscribe({
        next: (evt) => {
          if (grafanaData.isLiveChannelMessageEvent(evt)) {
            process(evt.message);
          } else if (grafanaData.isLiveChannelStatusEvent(evt) && evt.error) {
            fail(evt.error, 'Streaming channel error: ');
          } else if (grafanaData.isLiveChannelStatusEvent(evt) && evt.message) {
            process(evt.message);
          }
        },
        error: (e) => fail(e),
        complete: () => subscriber.complete(),
      });
      return () => sub.unsubscribe();
    });
  }

  getPresence(): Promise<grafanaData.LiveChannelPresenceStatus> {
    return Promise.reject(new Error('the devhost keeps no presence for datasource channels'));
  }

  publish(addr: grafanaData.LiveChannelAddress, data: unknown): Promise<unknown> {
    return backendSrv.post('/api/live/publish', { channel: grafanaData.toLiveChannelId(addr), data });
  }
}
grafanaRuntime.setGrafanaLiveSrv(new DevhostLiveSrv());

/**
 * Explore's Live button (the query with `liveStreaming: true`, the streamed lines shown until
 * Stop) and its logs sample: for a table or graph result without logs, the datasource's
 * LogsSample supplementary request, run when the panel is opened.
 */
function ExploreLive(props: { ds: AnyDs; query: any; range: TimeRange; data?: PanelData }) {
  const { ds, query, range, data } = props;
  // The live subscription (ended by Stop or when the page goes away) and what it shows.
  const subscription = React.useRef<rxjs.Subscription | undefined>(undefined);
  const [live, setLive] = useState<{ response?: DataQueryResponse; error?: string } | undefined>();
  const [sample, setSample] = useState<{ response?: DataQueryResponse; error?: string } | undefined>();
  React.useEffect(() => () => subscription.current?.unsubscribe(), []);
  React.useEffect(() => setSample(undefined), [data?.request?.requestId]);

  const start = () => {
    const req = { ...request([query], range), liveStreaming: true };
    setLive({});
    try {
      subscription.current = ds.query(req).subscribe({
        next: (response) => setLive((l) => l && { response, error: response.error?.message }),
        error: (e) => setLive((l) => l && { ...l, error: String((e as Error)?.message ?? e) }),
      });
    } catch (e) {
      setLive({ error: String((e as Error)?.message ?? e) });
    }
  };
  const stop = () => {
    subscription.current?.unsubscribe();
    subscription.current = undefined;
    setLive(undefined);
  };

  const frames = data?.series ?? [];
  const hasLogs = frames.some((f) => f.meta?.preferredVisualisationType === 'logs');
  const sampleRequest =
    data?.request && frames.length > 0 && !hasLogs
      ? ds.getSupplementaryRequest?.(SupplementaryQueryType.LogsSample, data.request, { type: SupplementaryQueryType.LogsSample })
      : undefined;
  const openSample = async () => {
    if (!sampleRequest) {
      return;
    }
    liveHost.sampleTargets = sampleRequest.targets;
    setSample({});
    try {
      const response = await lastValueFrom(ds.query(sampleRequest) as Observable<DataQueryResponse>);
      setSample({ response, error: response.error?.message });
    } catch (e) {
      setSample({ error: String((e as Error)?.message ?? e) });
    }
  };

  const liveRows = (live?.response?.data ?? []).flatMap((f: DataFrame) => logRows(f));
  const sampleRows = (sample?.response?.data ?? []).flatMap((f: DataFrame) => logRows(f));
  return (
    <div data-testid="explore-live" style={{ margin: '8px 0' }}>
      {live ? (
        <Button variant="secondary" icon="square-shape" onClick={stop} data-testid="live-stop">
          Stop
        </Button>
      ) : (
        <Button variant="secondary" icon="play" onClick={start} data-testid="live-start">
          Live
        </Button>
      )}
      {live && (
        <div data-testid="live" data-state={live.response?.state ?? 'connecting'} data-rows={liveRows.length}>
          Live: {live.response?.state ?? 'connecting'} · {liveRows.length} lines
          {live.error && (
            <div data-testid="live-error">
              <Alert severity="error" title={live.error} />
            </div>
          )}
          {liveRows.slice(-20).map((row) => (
            <div key={row.index} data-testid="live-row">
              {row.level} <span data-testid="live-body">{row.body}</span>
            </div>
          ))}
        </div>
      )}
      {sampleRequest && (
        <div style={{ marginTop: 8 }}>
          <Button variant="secondary" onClick={() => void openSample()} data-testid="logs-sample-open">
            Logs sample
          </Button>
          {sample?.error && (
            <div data-testid="logs-sample-error">
              <Alert severity="error" title={sample.error} />
            </div>
          )}
          {sample?.response && (
            <div
              data-testid="logs-sample"
              data-rows={sampleRows.length}
              data-logs-frames={(sample.response.data ?? []).filter((f: DataFrame) => f.meta?.preferredVisualisationType === 'logs').length}
            >
              {sampleRows.slice(0, 10).map((row) => (
                <div key={row.index} data-testid="logs-sample-row">
                  {row.level} {row.body}
                </div>
              ))}
            </div>
          )}
        </div>
      )}
    </div>
  );
}

// ---- end of the live tail and logs sample block ------------------------------------------------

async function main() {
  const root = createRoot(document.getElementById('root')!);
  try {
    const meta = (await (await fetch(`${PLUGIN_BASE}plugin.json`)).json()) as DataSourcePluginMeta;
    meta.baseUrl = PLUGIN_BASE.slice(1, -1);
    meta.module = `${PLUGIN_BASE}module.js`;
    const exports = await loadPluginModule(`${PLUGIN_BASE}module.js`);
    const plugin = exports.plugin as DataSourcePlugin<any, any, any, any>;
    if (!(plugin instanceof DataSourcePlugin)) {
      throw new Error('module.js does not export a DataSourcePlugin named plugin');
    }
    plugin.meta = meta;
    const instanceSettings: DataSourceInstanceSettings<any> = {
      id: 1,
      uid: 'lantern',
      type: PLUGIN_ID,
      name: 'Lantern ClickHouse',
      meta,
      // The devhost's datasource settings, as Grafana hands them to the frontend.
      jsonData: (window as unknown as { __hostJsonData?: object }).__hostJsonData ?? {},
      access: 'proxy',
      readOnly: false,
    };
    const ds = new plugin.DataSourceClass(instanceSettings) as unknown as AnyDs;
    setBackendSrv(backendSrv);
    setTemplateSrv(templateSrv);
    setDataSourceSrv({
      get: async () => ds as never,
      getList: () => [instanceSettings],
      getInstanceSettings: () => instanceSettings,
      reload: async () => {},
      registerRuntimeDataSource: () => {},
    } as unknown as grafanaRuntime.DataSourceSrv);
    const settings = {
      id: 1,
      uid: 'lantern',
      orgId: 1,
      name: 'Lantern ClickHouse',
      type: PLUGIN_ID,
      typeName: 'Lantern ClickHouse',
      typeLogoUrl: '',
      access: 'proxy',
      url: '',
      user: '',
      database: '',
      basicAuth: false,
      basicAuthUser: '',
      isDefault: true,
      jsonData: {},
      secureJsonFields: {},
      readOnly: false,
      withCredentials: false,
    } as DataSourceSettings<any, any>;
    const page = new URLSearchParams(window.location.search).get('page') ?? 'explore';
    root.render(
      <ThemeContext.Provider value={grafanaRuntime.config.theme2}>
        <GlobalStyles />
        <div style={{ background: grafanaRuntime.config.theme2.colors.background.primary, minHeight: '100vh' }}>
          {page === 'config' ? <ConfigPage plugin={plugin} ds={ds} settings={settings} /> : <ExplorePage plugin={plugin} ds={ds} />}
        </div>
      </ThemeContext.Provider>
    );
    hostState.ready = true;
  } catch (e) {
    hostState.errors.push(String((e as Error)?.stack ?? e));
    console.error('host: plugin failed to load:', e);
  }
}

void main();
