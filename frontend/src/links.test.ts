import { CoreApp, DataQueryRequest, dateTime } from '@grafana/data';
import { BackendSrv, setBackendSrv, setTemplateSrv } from '@grafana/runtime';
import { lastValueFrom, of } from 'rxjs';

import { testDatasource } from './testing';
import { Format, LanternQuery } from './types';

const ds = testDatasource({});

/** The backend's answer: one trace search frame (traceID without links) per refId. */
function answer(refIds: string[], links?: unknown[]) {
  const results: Record<string, unknown> = {};
  for (const refId of refIds) {
    results[refId] = {
      status: 200,
      frames: [
        {
          schema: {
            refId,
            fields: [{ name: 'traceID', type: 'string', ...(links ? { config: { links } } : {}) }, { name: 'serviceName', type: 'string' }],
          },
          data: { values: [['abc'], ['cart']] },
        },
      ],
    };
  }
  return { results };
}

function run(targets: LanternQuery[], links?: unknown[]) {
  setTemplateSrv({ getVariables: () => [], replace: (s?: string) => s ?? '', containsTemplate: () => false, updateTimeRange: () => {} });
  setBackendSrv({ fetch: () => of({ data: answer(targets.map((t) => t.refId), links), status: 200, ok: true }) } as unknown as BackendSrv);
  const range = { from: dateTime(0), to: dateTime(1000), raw: { from: 'now-1h', to: 'now' } };
  const request = { targets, range, requestId: 'r', interval: '1s', intervalMs: 1000, scopedVars: {}, timezone: 'utc', app: CoreApp.Explore, startTime: 0 };
  return lastValueFrom(ds.query(request as DataQueryRequest<LanternQuery>));
}

describe('trace search links', () => {
  const search: LanternQuery = { refId: 'S', editorType: 'builder', queryType: 'trace-search', format: Format.TABLE, traceSearch: {} };
  const table: LanternQuery = { refId: 'T', editorType: 'sql', rawSql: 'SELECT 1', format: Format.TABLE };

  it('links the trace id of trace search rows to the trace view', async () => {
    const res = await run([search, table]);
    const [s, t] = res.data;
    expect(s.fields[0].config.links).toEqual([
      {
        title: 'View trace',
        url: '',
        internal: {
          datasourceUid: 'lantern',
          datasourceName: 'Lantern',
          query: { refId: 'trace', editorType: 'lantern-builder', queryType: 'traces', format: Format.TRACES, traceId: '${__value.raw}' },
        },
      },
    ]);
    expect(s.fields[1].config.links).toBeUndefined();
    // Other queries' frames are left alone.
    expect(t.fields[0].config.links).toBeUndefined();
  });

  it("links a saved official builder trace search to the trace view of its table", async () => {
    const official: LanternQuery = {
      refId: 'O',
      editorType: 'builder',
      format: Format.TABLE,
      rawSql: 'SELECT "TraceId" as traceID FROM "obs"."spans"',
      builderOptions: { queryType: 'traces', database: 'obs', table: 'spans', meta: { isTraceIdMode: false } },
    };
    const byId: LanternQuery = { ...official, refId: 'I', builderOptions: { queryType: 'traces', meta: { isTraceIdMode: true } } };
    const res = await run([official, byId]);
    const [o, i] = res.data;
    expect(o.fields[0].config.links[0].internal.query).toEqual({
      refId: 'trace',
      editorType: 'lantern-builder',
      queryType: 'traces',
      format: Format.TRACES,
      traceId: '${__value.raw}',
      traceSearch: { database: 'obs', table: 'spans' },
    });
    // A trace by id is the trace view itself: no link.
    expect(i.fields[0].config.links).toBeUndefined();
  });

  it('keeps links the backend set', async () => {
    const own = [{ title: 'mine', url: 'http://x' }];
    const res = await run([search], own);
    expect(res.data[0].fields[0].config.links).toEqual(own);
  });
});
