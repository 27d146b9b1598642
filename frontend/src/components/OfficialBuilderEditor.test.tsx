import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { useState } from 'react';

import { dateTime } from '@grafana/data';
import { setTemplateSrv } from '@grafana/runtime';

import { BuilderOptions, levelSpellings } from '../builderOptions';
import { DataSource } from '../datasource';
import { testDatasource } from '../testing';
import { Format, LanternOptions, LanternQuery } from '../types';
import { QueryEditor } from './QueryEditor';

// Many grafana/ui selects per render: slow in jsdom on a loaded machine (a bound, not a timing check).
jest.setTimeout(30000);

const range = { from: dateTime(1_700_000_000_000), to: dateTime(1_700_003_600_000), raw: { from: 'now-1h', to: 'now' } };

const cols = (spec: string) =>
  spec
    .trim()
    .split(/\s+/)
    .map((s) => {
      const [name, type] = s.split('=');
      return { name, type };
    });

const LOGS_COLUMNS = cols(`
  Timestamp=DateTime64(9) TraceId=String SeverityText=LowCardinality(String) SeverityNumber=UInt8
  ServiceName=LowCardinality(String) Body=String ResourceAttributes=Map(LowCardinality(String),String)
  ScopeAttributes=Map(LowCardinality(String),String) LogAttributes=Map(LowCardinality(String),String)`);
const TRACES_COLUMNS = cols(`
  Timestamp=DateTime64(9) TraceId=String SpanId=String ParentSpanId=String TraceState=String SpanName=LowCardinality(String)
  SpanKind=LowCardinality(String) ServiceName=LowCardinality(String) ResourceAttributes=Map(LowCardinality(String),String)
  SpanAttributes=Map(LowCardinality(String),String) Duration=UInt64 StatusCode=LowCardinality(String) StatusMessage=String
  Events.Name=Array(LowCardinality(String)) Links.TraceId=Array(String)`);

const resources: Record<string, unknown> = {
  databases: ['default', 'otel'],
  'tables:otel': [{ name: 'otel_logs' }, { name: 'otel_traces' }, { name: 'otel_traces_trace_id_ts' }],
  'columns:otel.otel_logs': LOGS_COLUMNS,
  'columns:otel.otel_traces': TRACES_COLUMNS,
  'tag-keys:otel.otel_logs': [{ text: 'Timestamp' }, { text: 'ServiceName' }, { text: 'k8s.pod.name' }, { text: 'service.name' }],
};

/** The editor with its query state held like a panel editor holds it. */
function Harness(props: { datasource: DataSource; initial: LanternQuery; onChange: jest.Mock; onRunQuery: jest.Mock }) {
  const [query, setQuery] = useState(props.initial);
  return (
    <QueryEditor
      datasource={props.datasource}
      query={query}
      onChange={(q) => {
        props.onChange(q);
        setQuery(q);
      }}
      onRunQuery={props.onRunQuery}
      range={range}
    />
  );
}

async function setup(query: Partial<LanternQuery>, jsonData: LanternOptions = {}) {
  setTemplateSrv({ getVariables: () => [], replace: (s?: string) => s ?? '', containsTemplate: () => false, updateTimeRange: () => {} });
  const datasource = testDatasource(jsonData);
  const getResource = jest.spyOn(datasource, 'getResource').mockImplementation(async (path: string, params?: unknown) => {
    const { database: db, table } = (params ?? {}) as { database?: string; table?: string };
    const r = resources[db ? `${path}:${db}${table ? `.${table}` : ''}` : path];
    if (r === undefined) {
      throw new Error(`no resource ${path} ${JSON.stringify(params)}`);
    }
    return r;
  });
  const postResource = jest.spyOn(datasource, 'postResource').mockResolvedValue({ sql: 'SELECT generated' });
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  render(<Harness datasource={datasource} initial={{ refId: 'A', ...query } as LanternQuery} onChange={onChange} onRunQuery={onRunQuery} />);
  await act(async () => {});
  return { datasource, getResource, postResource, onChange, onRunQuery };
}

/** The saved options' filters. */
const filtersOf = (q: LanternQuery) => (q.builderOptions as unknown as BuilderOptions).filters ?? [];

const last = (onChange: jest.Mock) => onChange.mock.calls[onChange.mock.calls.length - 1][0] as LanternQuery;

async function pick(label: string, option: string) {
  fireEvent.keyDown(screen.getByLabelText(label), { key: 'ArrowDown' });
  fireEvent.click(await screen.findByText(option, { selector: 'span' }));
  await act(async () => {});
}

function type(label: string, text: string) {
  fireEvent.change(screen.getByLabelText(label), { target: { value: text } });
  fireEvent.blur(screen.getByLabelText(label));
}

/** A saved panel of that plugin (what its editor writes). */
function saved(builderOptions: Record<string, unknown>, format: Format, rawSql = 'SELECT saved'): Partial<LanternQuery> {
  return {
    editorType: 'builder',
    rawSql,
    format,
    queryType: builderOptions.queryType as LanternQuery['queryType'],
    pluginVersion: '4.20.0',
    builderOptions,
  } as Partial<LanternQuery>;
}

const TIME_RANGE = { filterType: 'custom', key: '', hint: 'time', type: 'datetime', operator: 'WITH IN DASHBOARD TIME RANGE', condition: 'AND' };

const OTEL_LOG_OPTIONS = {
  database: 'otel',
  table: 'otel_logs',
  queryType: 'logs',
  mode: 'list',
  columns: [
    { name: 'Timestamp', type: 'DateTime64(9)', hint: 'time' },
    { name: 'Body', type: 'String', hint: 'log_message' },
    { name: 'SeverityText', type: 'LowCardinality(String)', hint: 'log_level' },
    { name: 'LogAttributes', type: 'Map(LowCardinality(String), String)', hint: 'log_attributes' },
  ],
  filters: [
    { ...TIME_RANGE, hint: 'filter_time', id: 'f1' },
    { filterType: 'custom', key: '', hint: 'log_level', type: 'string', operator: 'IS ANYTHING', condition: 'AND' },
  ],
  orderBy: [
    { name: '', hint: 'filter_time', dir: 'DESC', default: true },
    { name: '', hint: 'time', dir: 'DESC', default: true },
  ],
  limit: 1000,
  meta: { otelEnabled: true, otelVersion: 'latest', liveView: false },
};

const TRACE_COLUMNS_OPTIONS = [
  { name: 'Timestamp', type: 'DateTime64(9)', hint: 'time' },
  { name: 'TraceId', type: 'String', hint: 'trace_id' },
  { name: 'SpanId', type: 'String', hint: 'trace_span_id' },
  { name: 'ParentSpanId', type: 'String', hint: 'trace_parent_span_id' },
  { name: 'ServiceName', type: 'LowCardinality(String)', hint: 'trace_service_name' },
  { name: 'SpanName', type: 'LowCardinality(String)', hint: 'trace_operation_name' },
  { name: 'Duration', type: 'UInt64', hint: 'trace_duration_time' },
];

/**
 * One saved panel per query type and mode, the edit made to it, and the options it must save
 * (the saved ones with only that change).
 */
const MODES: Array<{
  name: string;
  options: Record<string, unknown>;
  format: Format;
  shows: () => void;
  edit: () => Promise<void>;
  change: Record<string, unknown>;
  savedFormat?: Format;
}> = [
  {
    name: 'table list',
    options: {
      database: 'otel',
      table: 'otel_logs',
      queryType: 'table',
      mode: 'list',
      columns: [{ name: 'ServiceName', type: 'LowCardinality(String)' }, { name: 'SeverityText' }],
      filters: [],
      limit: 7,
      meta: {},
    },
    format: Format.TABLE,
    shows: () => {
      expect(screen.getByRole('radio', { name: 'List' })).toBeChecked();
      expect(screen.getByLabelText('Limit')).toHaveValue('7');
      expect(screen.getByText('SeverityText')).toBeInTheDocument();
    },
    edit: async () => type('Limit', '3'),
    change: { limit: 3 },
  },
  {
    name: 'table aggregate',
    options: {
      database: 'otel',
      table: 'otel_logs',
      queryType: 'table',
      mode: 'aggregate',
      columns: [{ name: 'ServiceName' }],
      aggregates: [{ aggregateType: 'count', column: '*', alias: 'n' }],
      groupBy: ['ServiceName'],
      orderBy: [{ name: 'n', dir: 'DESC' }],
      limit: 100,
      meta: {},
    },
    format: Format.TABLE,
    shows: () => {
      expect(screen.getByRole('radio', { name: 'Aggregate' })).toBeChecked();
      expect(screen.getByLabelText('Aggregate alias 1')).toHaveValue('n');
      expect(screen.getByRole('radio', { name: 'DESC' })).toBeChecked();
    },
    edit: async () => {
      fireEvent.click(screen.getByRole('radio', { name: 'ASC' }));
    },
    change: { orderBy: [{ name: 'n', dir: 'ASC' }] },
  },
  {
    name: 'time series simple',
    options: {
      database: 'otel',
      table: 'otel_logs',
      queryType: 'timeseries',
      mode: 'aggregate',
      columns: [
        { name: 'Timestamp', type: 'DateTime64(9)', hint: 'time' },
        { name: 'SeverityNumber', type: 'UInt8' },
      ],
      filters: [TIME_RANGE],
      orderBy: [{ name: '', hint: 'time', dir: 'ASC', default: true }],
      limit: 1000,
      meta: {},
    },
    format: Format.TIME_SERIES,
    shows: () => {
      expect(screen.getByRole('radio', { name: 'Simple' })).toBeChecked();
      expect(screen.getByText('SeverityNumber')).toBeInTheDocument();
    },
    edit: async () => type('Limit', '10'),
    change: { limit: 10 },
  },
  {
    name: 'time series trend',
    options: {
      database: 'otel',
      table: 'otel_logs',
      queryType: 'timeseries',
      mode: 'trend',
      columns: [{ name: 'Timestamp', type: 'DateTime64(9)', hint: 'time' }],
      aggregates: [{ aggregateType: 'count', column: '*' }],
      groupBy: ['ServiceName'],
      filters: [TIME_RANGE],
      orderBy: [{ name: '', hint: 'time', dir: 'ASC', default: true }],
      limit: 1000,
      meta: {},
    },
    format: Format.TIME_SERIES,
    shows: () => {
      expect(screen.getByRole('radio', { name: 'Aggregate' })).toBeChecked();
      expect(screen.queryByLabelText('Columns')).not.toBeInTheDocument();
      expect(screen.getByText('ServiceName')).toBeInTheDocument();
    },
    edit: async () => {
      await pick('Aggregate function 1', 'max');
      await pick('Aggregate column 1', 'SeverityNumber');
    },
    change: { aggregates: [{ aggregateType: 'max', column: 'SeverityNumber' }] },
  },
  {
    name: 'logs',
    options: OTEL_LOG_OPTIONS,
    format: Format.LOGS,
    shows: () => {
      expect(screen.getByRole('radio', { name: 'Logs' })).toBeChecked();
      expect(screen.getByLabelText('Use OTel')).toBeChecked();
      expect(screen.getByText('Filter time (role not set)')).toBeInTheDocument();
    },
    edit: async () => pick('Min level', 'error'),
    change: {
      filters: [
        OTEL_LOG_OPTIONS.filters[0],
        { filterType: 'custom', key: '', hint: 'log_level', type: 'LowCardinality(String)', operator: 'IN', value: levelSpellings('error'), condition: 'AND' },
      ],
    },
  },
  {
    name: 'trace search',
    options: {
      database: 'otel',
      table: 'otel_traces',
      queryType: 'traces',
      columns: TRACE_COLUMNS_OPTIONS,
      filters: [TIME_RANGE, { filterType: 'custom', key: '', hint: 'trace_parent_span_id', type: 'string', operator: 'IS EMPTY', condition: 'AND' }],
      orderBy: [{ name: '', hint: 'time', dir: 'DESC', default: true }],
      limit: 20,
      meta: { otelEnabled: true, traceDurationUnit: 'nanoseconds', isTraceIdMode: false },
    },
    format: Format.TABLE,
    shows: () => {
      expect(screen.getByRole('radio', { name: 'Search' })).toBeChecked();
      expect(screen.getByText('nanoseconds')).toBeInTheDocument();
    },
    edit: async () => pick('Duration unit', 'milliseconds'),
    change: { meta: { otelEnabled: true, traceDurationUnit: 'milliseconds', isTraceIdMode: false } },
  },
  {
    name: 'trace id',
    options: {
      database: 'otel',
      table: 'otel_traces',
      queryType: 'traces',
      columns: TRACE_COLUMNS_OPTIONS,
      filters: [],
      meta: { otelEnabled: true, isTraceIdMode: true, traceId: 'abc', traceDurationUnit: 'nanoseconds', hasTraceTimestampTable: true },
    },
    format: Format.TRACES,
    shows: () => {
      expect(screen.getByRole('radio', { name: 'By trace ID' })).toBeChecked();
      expect(screen.getByLabelText('Trace ID to show')).toHaveValue('abc');
      expect(screen.queryByLabelText('Limit')).not.toBeInTheDocument();
    },
    edit: async () => type('Trace ID to show', ' def '),
    change: { meta: { otelEnabled: true, isTraceIdMode: true, traceId: 'def', traceDurationUnit: 'nanoseconds', hasTraceTimestampTable: true } },
  },
];

describe('official builder editor', () => {
  describe.each(MODES)('$name', (m) => {
    it('opens the saved panel as saved (nothing rewritten), and an edit saves only that change with rawSql cleared', async () => {
      const { onChange, onRunQuery } = await setup(saved(m.options, m.format));
      expect(screen.getByRole('radio', { name: 'Official builder' })).toBeChecked();
      expect(screen.getByText(/This panel runs its saved SQL/)).toBeInTheDocument();
      m.shows();
      expect(onChange).not.toHaveBeenCalled();
      await m.edit();
      await waitFor(() => expect(onChange).toHaveBeenCalled());
      expect(last(onChange)).toEqual({
        refId: 'A',
        editorType: 'builder',
        rawSql: '',
        format: m.format,
        queryType: m.options.queryType,
        pluginVersion: '4.20.0',
        builderOptions: { ...m.options, ...m.change },
      });
      expect(onRunQuery).toHaveBeenCalled();
      expect(screen.queryByText(/This panel runs its saved SQL/)).not.toBeInTheDocument();
    });
  });

  it('Show SQL asks the backend to expand the edited options (rawSql cleared) and shows its SQL', async () => {
    const { postResource } = await setup(saved(MODES[0].options, Format.TABLE));
    await act(async () => {
      fireEvent.click(screen.getByLabelText('Show SQL'));
    });
    await waitFor(() => expect(screen.getByTestId('lantern-expanded-sql')).toHaveTextContent('SELECT generated'));
    expect(postResource).toHaveBeenLastCalledWith('expand', expect.objectContaining({ query: expect.objectContaining({ rawSql: 'SELECT saved' }) }), expect.anything());
    postResource.mockResolvedValue({ sql: 'SELECT edited LIMIT 3' });
    await act(async () => type('Limit', '3'));
    await waitFor(() => expect(screen.getByTestId('lantern-expanded-sql')).toHaveTextContent('SELECT edited LIMIT 3'));
    const body = postResource.mock.calls[postResource.mock.calls.length - 1][1] as { query: LanternQuery };
    expect(body.query.rawSql).toBe('');
    expect(body.query.editorType).toBe('builder');
    expect(body.query.builderOptions).toMatchObject({ table: 'otel_logs', limit: 3 });
  });

  it('filters are typed by column: a string column gets =, its value saved as text', async () => {
    const { onChange, onRunQuery } = await setup(saved(MODES[0].options, Format.TABLE));
    fireEvent.click(screen.getByRole('button', { name: /Add filter/ }));
    expect(onRunQuery).not.toHaveBeenCalled();
    await pick('Filter column 1', 'ServiceName');
    expect(filtersOf(last(onChange))).toEqual([
      { filterType: 'custom', key: 'ServiceName', type: 'LowCardinality(String)', operator: 'IS NOT NULL', condition: 'AND' },
    ]);
    await pick('Filter operator 1', 'ILIKE');
    type('Filter value 1', 'car');
    expect(filtersOf(last(onChange))).toEqual([
      { filterType: 'custom', key: 'ServiceName', type: 'LowCardinality(String)', operator: 'ILIKE', value: 'car', condition: 'AND' },
    ]);
    // A number column compares numbers, IN takes a list.
    fireEvent.click(screen.getByRole('button', { name: /Add filter/ }));
    await pick('Filter column 2', 'SeverityNumber');
    const ops = () => {
      fireEvent.keyDown(screen.getByLabelText('Filter operator 2'), { key: 'ArrowDown' });
      return screen.getAllByRole('option').map((o) => o.textContent);
    };
    expect(ops()).not.toContain('LIKE');
    const runs = onRunQuery.mock.calls.length;
    fireEvent.click(screen.getByText('IN', { selector: 'span' }));
    await act(async () => {});
    // An empty IN list is saved, not run.
    expect(filtersOf(last(onChange))?.[1]).toMatchObject({ operator: 'IN', value: [] });
    expect(onRunQuery).toHaveBeenCalledTimes(runs);
    type('Filter value 2', '9, 13');
    expect(onRunQuery).toHaveBeenCalledTimes(runs + 1);
    await pick('Filter condition 2', 'OR');
    expect(filtersOf(last(onChange))?.[1]).toEqual({
      filterType: 'custom',
      key: 'SeverityNumber',
      type: 'UInt8',
      operator: 'IN',
      value: [9, 13],
      condition: 'OR',
    });
    // A date column offers the dashboard range.
    fireEvent.click(screen.getByRole('button', { name: /Add filter/ }));
    await pick('Filter column 3', 'Timestamp');
    expect(filtersOf(last(onChange))?.[2]).toMatchObject({ key: 'Timestamp', operator: 'WITH IN DASHBOARD TIME RANGE' });
    expect(screen.queryByLabelText('Filter value 3')).not.toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Remove filter 3' }));
    expect(filtersOf(last(onChange))).toHaveLength(2);
  });

  it('a map column filter takes a key, suggested from the tag-keys resource without the column names', async () => {
    const { onChange, onRunQuery, getResource } = await setup(saved(MODES[0].options, Format.TABLE));
    fireEvent.click(screen.getByRole('button', { name: /Add filter/ }));
    await pick('Filter column 1', 'ResourceAttributes');
    // Not complete without a key: saved, not run.
    expect(onRunQuery).not.toHaveBeenCalled();
    await waitFor(() =>
      expect(getResource).toHaveBeenCalledWith('tag-keys', expect.objectContaining({ database: 'otel', table: 'otel_logs', from: '1700000000000' }))
    );
    fireEvent.keyDown(screen.getByLabelText('Filter map key 1'), { key: 'ArrowDown' });
    const keys = screen.getAllByRole('option').map((o) => o.textContent);
    expect(keys).toEqual(['k8s.pod.name', 'service.name']);
    fireEvent.click(screen.getByText('service.name', { selector: 'span' }));
    await act(async () => {});
    type('Filter value 1', "it's");
    expect(filtersOf(last(onChange))).toEqual([
      { filterType: 'custom', key: 'ResourceAttributes', type: 'Map(LowCardinality(String),String)', mapKey: 'service.name', operator: '=', value: "it's", condition: 'AND' },
    ]);
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('a v3 panel opens migrated and saves v4 options when edited', async () => {
    const { onChange } = await setup({
      queryType: 'builder' as never,
      rawSql: 'SELECT ts, count() FROM t',
      format: Format.TIME_SERIES,
      builderOptions: { database: 'otel', table: 'otel_logs', mode: 'trend', fields: [], timeField: 'Timestamp', timeFieldType: 'DateTime64(9)', metrics: [{ field: '*', aggregation: 'count' }] },
    } as Partial<LanternQuery>);
    expect(screen.getByRole('radio', { name: 'Time series' })).toBeChecked();
    expect(screen.getByRole('radio', { name: 'Aggregate' })).toBeChecked();
    type('Limit', '5');
    expect(last(onChange)).toMatchObject({
      editorType: 'builder',
      queryType: 'timeseries',
      rawSql: '',
      builderOptions: {
        queryType: 'timeseries',
        mode: 'trend',
        columns: [{ name: 'Timestamp', type: 'DateTime64(9)', hint: 'time' }],
        aggregates: [{ aggregateType: 'count', column: '*' }],
        limit: 5,
      },
    });
    expect(last(onChange).builderOptions).not.toHaveProperty('timeField');
  });

  it('a new query: Official builder starts a table query; Logs takes the datasource logs table and OTel columns', async () => {
    // From Lantern's logs builder (the SQL editor needs Monaco, which jsdom lacks).
    const { onChange, onRunQuery } = await setup({ editorType: 'lantern-builder', builder: {}, format: Format.LOGS, queryType: 'logs' }, {
      defaultDatabase: 'otel',
      logs: { defaultDatabase: 'otel', defaultTable: 'otel_logs' },
    });
    fireEvent.click(screen.getByRole('radio', { name: 'Official builder' }));
    expect(last(onChange)).toEqual({
      refId: 'A',
      editorType: 'builder',
      rawSql: '',
      format: Format.TABLE,
      queryType: 'table',
      builderOptions: { database: 'otel', table: '', queryType: 'table', mode: 'list', columns: [], limit: 1000, meta: {} },
    });
    expect(onRunQuery).not.toHaveBeenCalled();
    await act(async () => {
      fireEvent.click(screen.getByRole('radio', { name: 'Logs' }));
    });
    await waitFor(() => expect(last(onChange).queryType).toBe('logs'));
    const o = last(onChange).builderOptions as Record<string, unknown>;
    expect(o).toMatchObject({ database: 'otel', table: 'otel_logs', queryType: 'logs', mode: 'list', meta: { otelEnabled: true, otelVersion: 'latest' } });
    expect((o.columns as Array<{ hint: string; name: string }>).map((c) => `${c.hint}=${c.name}`)).toEqual([
      'time=Timestamp',
      'log_message=Body',
      'log_level=SeverityText',
      'trace_id=TraceId',
      'resource_attributes=ResourceAttributes',
      'scope_attributes=ScopeAttributes',
      'log_attributes=LogAttributes',
    ]);
    expect(last(onChange).format).toBe(Format.LOGS);
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    // The role pickers are locked to the OTel names while OTel is on.
    expect(within(screen.getByTestId('lantern-official-builder')).getByLabelText('Time column')).toBeDisabled();
  });

  it('a new trace query follows the traces settings; By trace ID sets format traces', async () => {
    const { onChange } = await setup(
      { editorType: 'builder', rawSql: '', format: Format.TABLE, builderOptions: { database: 'otel', table: '', queryType: 'table', columns: [] } } as Partial<LanternQuery>,
      { traces: { defaultDatabase: 'otel', defaultTable: 'otel_traces', durationUnit: 'microseconds' } }
    );
    await act(async () => {
      fireEvent.click(screen.getByRole('radio', { name: 'Traces' }));
    });
    await waitFor(() => expect(last(onChange).queryType).toBe('traces'));
    expect(last(onChange).builderOptions).toMatchObject({
      table: 'otel_traces',
      meta: { otelEnabled: true, traceDurationUnit: 'microseconds', traceEventsColumnPrefix: 'Events', traceLinksColumnPrefix: 'Links', hasTraceTimestampTable: true },
    });
    fireEvent.click(screen.getByRole('radio', { name: 'By trace ID' }));
    expect(last(onChange).format).toBe(Format.TRACES);
    type('Trace ID to show', '0af7651916cd43dd8448eb211c80319c');
    expect(last(onChange).builderOptions).toMatchObject({ meta: { isTraceIdMode: true, traceId: '0af7651916cd43dd8448eb211c80319c' } });
  });

  it('switching to Simple time series clears aggregates and group by, as that plugin does', async () => {
    const { onChange } = await setup(saved(MODES[3].options, Format.TIME_SERIES));
    fireEvent.click(screen.getByRole('radio', { name: 'Simple' }));
    expect(last(onChange).builderOptions).toMatchObject({ mode: 'aggregate', aggregates: [], groupBy: [] });
  });
});
