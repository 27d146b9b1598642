import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';

import { dateTime, DataSourceInstanceSettings, LoadingState, PanelData } from '@grafana/data';
import { setTemplateSrv } from '@grafana/runtime';

import { DataSource } from '../datasource';
import { Format, LanternOptions, LanternQuery } from '../types';
import { QueryEditor } from './QueryEditor';

// Monaco does not load in jsdom: stand in a textarea that honours the same props, including the
// Ctrl+Enter command the editor registers through onEditorDidMount. Completion needs the real
// Monaco: the browser suite drives it (frontend/browser).
jest.mock('@grafana/ui', () => {
  const actual = jest.requireActual('@grafana/ui');
  const ReactLib = jest.requireActual('react');
  function CodeEditor(props: {
    value: string;
    language: string;
    onBlur?: (v: string) => void;
    onEditorDidMount?: (editor: unknown, monaco: unknown) => void;
  }) {
    const ref = ReactLib.useRef(null);
    const commands = ReactLib.useRef({});
    ReactLib.useEffect(() => {
      const editor = {
        getValue: () => (ref.current as unknown as HTMLTextAreaElement).value,
        addCommand: (keybinding: number, handler: () => void) => {
          (commands.current as Record<number, () => void>)[keybinding] = handler;
        },
        getModel: () => null,
        onDidDispose: () => {},
      };
      const languages = { registerCompletionItemProvider: () => ({ dispose: () => {} }), CompletionItemKind: {} };
      props.onEditorDidMount?.(editor, { KeyMod: { CtrlCmd: 2048 }, KeyCode: { Enter: 3 }, languages });
      // eslint-disable-next-line react-hooks/exhaustive-deps
    }, []);
    return ReactLib.createElement('textarea', {
      'aria-label': `Code editor (${props.language})`,
      ref,
      defaultValue: props.value,
      onBlur: (e: { currentTarget: HTMLTextAreaElement }) => props.onBlur?.(e.currentTarget.value),
      onKeyDown: (e: { ctrlKey: boolean; key: string }) => {
        if (e.ctrlKey && e.key === 'Enter') {
          // monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter
          (commands.current as Record<number, () => void>)[2048 | 3]?.();
        }
      },
    });
  }
  return { ...actual, CodeEditor };
});

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

const range = { from: dateTime(1_700_000_000_000), to: dateTime(1_700_003_600_000), raw: { from: 'now-1h', to: 'now' } };

const resources: Record<string, unknown> = {
  databases: ['default', 'otel', 'system'],
  'tables:otel': [
    { name: 'otel_logs', engine: 'MergeTree', rows: 10 },
    { name: 'otel_traces', engine: 'MergeTree', rows: 5 },
  ],
  'tables:default': [{ name: 'app_logs', engine: 'MergeTree', rows: 1 }],
  'tables:mixed': [
    { name: 'a_metrics', engine: 'MergeTree', rows: 1 },
    { name: 'b_logs', engine: 'MergeTree', rows: 1 },
    { name: 'c_spans', engine: 'MergeTree', rows: 1 },
  ],
  'schema:mixed.a_metrics': { kind: 'other' },
  'schema:mixed.b_logs': { kind: 'logs' },
  'schema:mixed.c_spans': { kind: 'traces' },
};

function setup(query: Partial<LanternQuery>, data?: PanelData, jsonData: Partial<LanternOptions> = {}) {
  setTemplateSrv({
    getVariables: () => [],
    replace: (s?: string) => s ?? '',
    containsTemplate: () => false,
    updateTimeRange: () => {},
  });
  const datasource = new DataSource({ ...instanceSettings, jsonData: jsonData as LanternOptions });
  const getResource = jest.spyOn(datasource, 'getResource').mockImplementation(async (path: string, params?: unknown) => {
    const { database: db, table } = (params ?? {}) as { database?: string; table?: string };
    const r = resources[db ? `${path}:${db}${table ? `.${table}` : ''}` : path];
    if (r === undefined) {
      throw new Error(`no resource ${path}`);
    }
    return r;
  });
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  const q = { refId: 'A', ...query } as LanternQuery;
  const utils = render(
    <QueryEditor datasource={datasource} query={q} onChange={onChange} onRunQuery={onRunQuery} range={range} data={data} />
  );
  return { datasource, onChange, onRunQuery, getResource, ...utils };
}

/** setup, then let the resource requests of the builder settle. */
async function setupFlushed(...args: Parameters<typeof setup>) {
  const r = setup(...args);
  await act(async () => {});
  return r;
}

const editor = () => screen.getByLabelText('Code editor (sql)') as HTMLTextAreaElement;

describe('QueryEditor', () => {
  it('shows the SQL in a SQL code editor', () => {
    setup({ editorType: 'sql', rawSql: 'SELECT 1', format: Format.TABLE });
    expect(editor().value).toBe('SELECT 1');
  });

  it('saves rawSql and runs the query on blur when the SQL changed', () => {
    const { onChange, onRunQuery } = setup({ editorType: 'sql', rawSql: 'SELECT 1', format: Format.LOGS });
    fireEvent.change(editor(), { target: { value: 'SELECT 2' } });
    fireEvent.blur(editor());
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', editorType: 'sql', rawSql: 'SELECT 2', format: Format.LOGS });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('does not re-run on blur when nothing changed', () => {
    const { onChange, onRunQuery } = setup({ editorType: 'sql', rawSql: 'SELECT 1', format: Format.TABLE });
    fireEvent.blur(editor());
    expect(onChange).not.toHaveBeenCalled();
    expect(onRunQuery).not.toHaveBeenCalled();
  });

  it('runs the query on Ctrl+Enter', () => {
    const { onChange, onRunQuery } = setup({ editorType: 'sql', rawSql: 'SELECT 1', format: Format.TABLE });
    fireEvent.change(editor(), { target: { value: 'SELECT 3' } });
    fireEvent.keyDown(editor(), { key: 'Enter', ctrlKey: true });
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ rawSql: 'SELECT 3' }));
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    // unchanged SQL still runs on Ctrl+Enter
    onChange.mockClear();
    fireEvent.keyDown(editor(), { key: 'Enter', ctrlKey: true });
    expect(onRunQuery).toHaveBeenCalledTimes(2);
  });

  it('fills defaults for a query saved without editorType/format', () => {
    const { onChange } = setup({ rawSql: 'SELECT 1' });
    fireEvent.change(editor(), { target: { value: 'SELECT 9' } });
    fireEvent.blur(editor());
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', editorType: 'sql', rawSql: 'SELECT 9', format: 1 });
  });

  it.each([
    ['Time series', Format.TIME_SERIES, 'timeseries'],
    ['Logs', Format.LOGS, 'logs'],
    ['Traces', Format.TRACES, 'traces'],
  ])('format selector %s sets format %d and queryType %s', (label, format, queryType) => {
    const { onChange, onRunQuery } = setup({ editorType: 'sql', rawSql: 'SELECT 1', format: Format.TABLE });
    expect(screen.getByLabelText('Table')).toBeChecked();
    fireEvent.click(screen.getByLabelText(label));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', editorType: 'sql', rawSql: 'SELECT 1', format, queryType });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('Show SQL asks the backend to expand the query and shows the result', async () => {
    const data = {
      state: LoadingState.Done,
      series: [],
      timeRange: range,
      request: { intervalMs: 2000, maxDataPoints: 1800, scopedVars: {} },
    } as unknown as PanelData;
    const { datasource } = setup({ editorType: 'sql', rawSql: 'SELECT $__timeFilter(ts)', format: Format.TABLE }, data);
    const post = jest
      .spyOn(datasource, 'postResource')
      .mockResolvedValue({
        sql: 'SELECT ts >= toDateTime(1700000000)',
        client: "clickhouse-client --host 'h' --user 'u' --ask-password --query 'SELECT ts >= toDateTime(1700000000)'",
      });

    expect(screen.queryByTestId('lantern-expanded-sql')).not.toBeInTheDocument();
    await act(async () => {
      fireEvent.click(screen.getByLabelText('Show SQL'));
    });
    await waitFor(() => expect(screen.getByTestId('lantern-expanded-sql')).toHaveTextContent('SELECT ts >= toDateTime(1700000000)'));
    expect(post).toHaveBeenCalledWith(
      'expand',
      {
        query: { refId: 'A', editorType: 'sql', rawSql: 'SELECT $__timeFilter(ts)', format: 1 },
        timeRange: { from: 1_700_000_000_000, to: 1_700_003_600_000 },
        intervalMs: 2000,
        maxDataPoints: 1800,
      },
      expect.anything()
    );
    // The caption is short; the clickhouse-client command sits behind its own copy button.
    expect(screen.getByText('Expanded SQL')).toBeInTheDocument();
    expect(screen.queryByText(/clickhouse-client --host/)).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Copy SQL' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Copy clickhouse-client command' })).toBeInTheDocument();

    // turning it off hides the SQL
    await act(async () => {
      fireEvent.click(screen.getByLabelText('Show SQL'));
    });
    expect(screen.queryByTestId('lantern-expanded-sql')).not.toBeInTheDocument();
  });

  it('Show SQL derives an interval when there is no panel request', async () => {
    const { datasource } = setup({ editorType: 'sql', rawSql: 'SELECT 1', format: Format.TABLE });
    const post = jest.spyOn(datasource, 'postResource').mockResolvedValue({ sql: 'SELECT 1' });
    await act(async () => {
      fireEvent.click(screen.getByLabelText('Show SQL'));
    });
    await waitFor(() => expect(post).toHaveBeenCalled());
    expect(post.mock.calls[0][1]).toMatchObject({ intervalMs: 3600, maxDataPoints: 1000 });
  });

  it('Show SQL displays the backend error', async () => {
    const { datasource } = setup({ editorType: 'sql', rawSql: 'SELECT $__bogus', format: Format.TABLE });
    jest.spyOn(datasource, 'postResource').mockRejectedValue({ status: 400, data: { error: 'unknown macro $__bogus' } });
    await act(async () => {
      fireEvent.click(screen.getByLabelText('Show SQL'));
    });
    await waitFor(() => expect(screen.getByText('unknown macro $__bogus')).toBeInTheDocument());
    expect(screen.getByText('Could not expand the query')).toBeInTheDocument();
    expect(screen.queryByTestId('lantern-expanded-sql')).not.toBeInTheDocument();
  });

  it('Show SQL of a trace id query without an id is a hint, not an error', async () => {
    const { datasource } = setup({ editorType: 'builder', queryType: 'traces', format: Format.TRACES, traceId: '' });
    const post = jest.spyOn(datasource, 'postResource').mockRejectedValue({ status: 400, data: { error: 'traceId is empty' } });
    await act(async () => {
      fireEvent.click(screen.getByLabelText('Show SQL'));
    });
    expect(screen.getByTestId('lantern-expand-hint')).toHaveTextContent('Enter a trace id');
    expect(screen.queryByText('Could not expand the query')).not.toBeInTheDocument();
    expect(post).not.toHaveBeenCalled();
  });

  describe('logs builder', () => {
    const builderQuery = (builder: LanternQuery['builder'] = {}): Partial<LanternQuery> => ({
      editorType: 'lantern-builder',
      format: Format.LOGS,
      queryType: 'logs',
      builder,
    });
    const lastQuery = (onChange: jest.Mock) => onChange.mock.calls[onChange.mock.calls.length - 1][0] as LanternQuery;

    /** Opens a grafana/ui Select by its aria-label and clicks an option. */
    async function pick(label: string, option: string) {
      fireEvent.keyDown(screen.getByLabelText(label), { key: 'ArrowDown' });
      fireEvent.click(await screen.findByText(option, { selector: 'span' }));
    }

    it('switching SQL -> Logs builder sets editorType lantern-builder, format logs, queryType logs and keeps the SQL', async () => {
      const { onChange, onRunQuery } = await setupFlushed({ editorType: 'sql', rawSql: 'SELECT 1', format: Format.TABLE });
      expect(screen.getByRole('radio', { name: 'SQL' })).toBeChecked();
      fireEvent.click(screen.getByRole('radio', { name: 'Logs builder' }));
      expect(onChange).toHaveBeenCalledWith({
        refId: 'A',
        editorType: 'lantern-builder',
        rawSql: 'SELECT 1',
        format: Format.LOGS,
        queryType: 'logs',
        builder: {},
      });
      expect(onRunQuery).toHaveBeenCalledTimes(1);
    });

    it('switching back to SQL drops the builder (the backend plans any builder object as logs)', async () => {
      const { onChange } = await setupFlushed({ ...builderQuery({ services: ['api'] }), rawSql: 'SELECT 2' });
      expect(screen.queryByLabelText('Code editor (sql)')).not.toBeInTheDocument();
      expect(screen.queryByRole('radiogroup', { name: 'Format' })).not.toBeInTheDocument();
      fireEvent.click(screen.getByRole('radio', { name: 'SQL' }));
      expect(onChange).toHaveBeenCalledWith({ refId: 'A', editorType: 'sql', rawSql: 'SELECT 2', format: Format.LOGS, queryType: 'logs' });
    });

    it('opens a query saved with only a builder object in the builder', async () => {
      await setupFlushed({ builder: { bodyContains: 'timeout' } });
      expect(screen.getByRole('radio', { name: 'Logs builder' })).toBeChecked();
      expect(screen.getByLabelText('Body contains')).toHaveValue('timeout');
    });

    it('edits services, severity, body match, order and limit', async () => {
      const { onChange, onRunQuery } = await setupFlushed(builderQuery());
      const services = screen.getByLabelText(/^Services/);
      fireEvent.change(services, { target: { value: 'checkout' } });
      fireEvent.keyDown(services, { key: 'Enter' });
      expect(lastQuery(onChange).builder).toEqual({ services: ['checkout'] });

      fireEvent.click(screen.getByRole('radio', { name: 'warning' }));
      expect(lastQuery(onChange).builder).toEqual({ minSeverity: 'warning' });

      fireEvent.change(screen.getByLabelText('Body contains'), { target: { value: 'timeout' } });
      expect(onChange).toHaveBeenCalledTimes(2); // nothing saved while typing
      fireEvent.blur(screen.getByLabelText('Body contains'));
      expect(lastQuery(onChange).builder).toEqual({ bodyContains: 'timeout' });

      fireEvent.change(screen.getByLabelText('Body regex'), { target: { value: 'refused|reset' } });
      fireEvent.keyDown(screen.getByLabelText('Body regex'), { key: 'Enter' });
      expect(lastQuery(onChange).builder).toEqual({ bodyRegex: 'refused|reset' });

      fireEvent.click(screen.getByRole('radio', { name: 'Oldest first' }));
      expect(lastQuery(onChange).builder).toEqual({ order: 'asc' });

      fireEvent.change(screen.getByLabelText('Limit'), { target: { value: '200' } });
      fireEvent.blur(screen.getByLabelText('Limit'));
      expect(lastQuery(onChange)).toEqual({
        refId: 'A',
        editorType: 'lantern-builder',
        format: Format.LOGS,
        queryType: 'logs',
        builder: { limit: 200 },
      });
      expect(onRunQuery).toHaveBeenCalledTimes(6);
    });

    it('keeps the other builder fields and clears values set back to their default', async () => {
      const { onChange } = await setupFlushed(builderQuery({ services: ['api'], minSeverity: 'error', order: 'asc', limit: 50 }));
      fireEvent.click(screen.getByRole('radio', { name: 'Any' }));
      expect(lastQuery(onChange).builder).toEqual({ services: ['api'], order: 'asc', limit: 50 });
      fireEvent.click(screen.getByRole('radio', { name: 'Newest first' }));
      expect(lastQuery(onChange).builder).toEqual({ services: ['api'], minSeverity: 'error', limit: 50 });
      fireEvent.change(screen.getByLabelText('Limit'), { target: { value: 'abc' } });
      fireEvent.blur(screen.getByLabelText('Limit'));
      expect(lastQuery(onChange).builder).toEqual({ services: ['api'], minSeverity: 'error', order: 'asc' });
    });

    it('Add filter adds an empty row without running the query', async () => {
      const { onChange, onRunQuery } = await setupFlushed(builderQuery());
      fireEvent.click(screen.getByRole('button', { name: /Add filter/ }));
      expect(lastQuery(onChange).builder).toEqual({ filters: [{ key: '', op: '=', value: '' }] });
      expect(onRunQuery).not.toHaveBeenCalled();
    });

    it('edits an existing filter row', async () => {
      const { onChange, onRunQuery } = await setupFlushed(builderQuery({ filters: [{ key: '', op: '=', value: '' }] }));
      fireEvent.change(screen.getByLabelText('Filter key 1'), { target: { value: 'k8s.pod.name' } });
      fireEvent.blur(screen.getByLabelText('Filter key 1'));
      expect(lastQuery(onChange).builder?.filters).toEqual([{ key: 'k8s.pod.name', op: '=', value: '' }]);
      expect(onRunQuery).toHaveBeenCalledTimes(1);
    });

    it('turns a filter into IN with a value list, a numeric comparison and EXISTS', async () => {
      const { onChange, rerender, datasource, onRunQuery } = await setupFlushed(
        builderQuery({ filters: [{ key: 'k8s.pod.name', op: '=', value: 'a, b' }] })
      );
      await pick('Filter operator 1', 'IN');
      expect(lastQuery(onChange).builder?.filters).toEqual([{ key: 'k8s.pod.name', op: 'IN', values: ['a', 'b'] }]);

      const rerenderWith = (q: LanternQuery) =>
        rerender(<QueryEditor datasource={datasource} query={q} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
      rerenderWith(lastQuery(onChange));
      expect(screen.getByLabelText('Filter value 1')).toHaveValue('a, b');
      fireEvent.change(screen.getByLabelText('Filter value 1'), { target: { value: 'x,y , z,' } });
      fireEvent.blur(screen.getByLabelText('Filter value 1'));
      expect(lastQuery(onChange).builder?.filters).toEqual([{ key: 'k8s.pod.name', op: 'IN', values: ['x', 'y', 'z'] }]);

      rerenderWith({ ...lastQuery(onChange), builder: { filters: [{ key: 'SeverityNumber', op: '>=', value: '' }] } });
      fireEvent.change(screen.getByLabelText('Filter value 1'), { target: { value: '17' } });
      fireEvent.blur(screen.getByLabelText('Filter value 1'));
      expect(lastQuery(onChange).builder?.filters).toEqual([{ key: 'SeverityNumber', op: '>=', value: 17 }]);

      await pick('Filter operator 1', 'NOT EXISTS');
      expect(lastQuery(onChange).builder?.filters).toEqual([{ key: 'SeverityNumber', op: 'NOT EXISTS' }]);
      rerenderWith(lastQuery(onChange));
      expect(screen.queryByLabelText('Filter value 1')).not.toBeInTheDocument();

      fireEvent.click(screen.getByRole('button', { name: 'Remove filter 1' }));
      expect(lastQuery(onChange).builder).toEqual({});
    });

    it('lists logs-shaped tables first in the table picker', async () => {
      const { getResource } = await setupFlushed(builderQuery({ database: 'mixed' }));
      await waitFor(() => expect(getResource).toHaveBeenCalledWith('schema', { database: 'mixed', table: 'c_spans' }));
      await act(async () => {});
      const select = screen.getByLabelText('Table');
      fireEvent.keyDown(select, { key: 'ArrowDown' });
      const options = await screen.findAllByRole('option');
      expect(options.map((o) => o.textContent)).toEqual(['b_logslogs table', 'a_metrics', 'c_spans']);
    });

    it('picks the table from the tables resource of the default logs database', async () => {
      const { onChange, getResource } = await setupFlushed(builderQuery(), undefined, {
        defaultDatabase: 'default',
        logs: { defaultDatabase: 'otel', defaultTable: 'otel_logs' },
      });
      await waitFor(() => expect(getResource).toHaveBeenCalledWith('tables', { database: 'otel' }));
      expect(getResource).toHaveBeenCalledWith('databases', undefined);
      // the datasource defaults are the placeholders
      expect(screen.getByText('otel_logs')).toBeInTheDocument();
      await pick('Table', 'otel_traces');
      expect(lastQuery(onChange).builder).toEqual({ table: 'otel_traces' });
    });

    it('choosing a database clears the table and lists that database', async () => {
      const { onChange, getResource, rerender, datasource, onRunQuery } = await setupFlushed(builderQuery({ database: 'otel', table: 'otel_logs' }));
      await waitFor(() => expect(getResource).toHaveBeenCalledWith('tables', { database: 'otel' }));
      await pick('Database', 'default');
      expect(lastQuery(onChange).builder).toEqual({ database: 'default' });
      rerender(
        <QueryEditor datasource={datasource} query={lastQuery(onChange)} onChange={onChange} onRunQuery={onRunQuery} range={range} />
      );
      await waitFor(() => expect(getResource).toHaveBeenCalledWith('tables', { database: 'default' }));
      await pick('Table', 'app_logs');
      expect(lastQuery(onChange).builder).toEqual({ database: 'default', table: 'app_logs' });
    });

    it('Show SQL expands the builder query', async () => {
      const { datasource } = await setupFlushed(builderQuery({ services: ['api'] }));
      const post = jest.spyOn(datasource, 'postResource').mockResolvedValue({ sql: 'SELECT Timestamp FROM otel.otel_logs' });
      await act(async () => {
        fireEvent.click(screen.getByLabelText('Show SQL'));
      });
      await waitFor(() => expect(screen.getByTestId('lantern-expanded-sql')).toHaveTextContent('SELECT Timestamp FROM otel.otel_logs'));
      expect(post.mock.calls[0][1]).toMatchObject({
        query: { refId: 'A', editorType: 'lantern-builder', format: Format.LOGS, queryType: 'logs', builder: { services: ['api'] } },
      });
    });
  });

  describe('official builder', () => {
    it('a saved grafana/clickhouse-datasource builder panel opens in the official builder mode, not the logs builder', async () => {
      const { onChange } = await setupFlushed({
        editorType: 'builder',
        rawSql: 'SELECT Body FROM otel.otel_logs',
        format: Format.LOGS,
        builderOptions: { database: 'otel', table: 'otel_logs', queryType: 'logs', columns: [{ name: 'Body' }, { name: 'Timestamp' }], limit: 100 },
      });
      expect(screen.getByTestId('lantern-official-builder')).toBeInTheDocument();
      expect(screen.getByLabelText('Official builder')).toBeChecked();
      // Its own editor (OfficialBuilderEditor.test.tsx), showing the saved options.
      expect(screen.getByRole('radio', { name: 'Logs' })).toBeChecked();
      expect(screen.getByLabelText('Limit')).toHaveValue('100');
      expect(screen.queryByLabelText('Min severity')).not.toBeInTheDocument();
      // Nothing rewrites the saved model: no lantern-builder, no builder object.
      for (const [q] of onChange.mock.calls) {
        expect(q.editorType).toBe('builder');
        expect(q.builder).toBeUndefined();
      }
    });
  });

  describe('traces', () => {
    const lastQuery = (onChange: jest.Mock) => onChange.mock.calls[onChange.mock.calls.length - 1][0] as LanternQuery;

    it('Trace ID sets queryType traces, format 3 and the trace id', async () => {
      const { onChange, onRunQuery, rerender, datasource } = await setupFlushed({ editorType: 'sql', rawSql: 'SELECT 1', format: Format.TABLE });
      fireEvent.click(screen.getByRole('radio', { name: 'Trace ID' }));
      expect(lastQuery(onChange)).toEqual({
        refId: 'A',
        editorType: 'lantern-builder',
        rawSql: 'SELECT 1',
        format: Format.TRACES,
        queryType: 'traces',
        traceId: '',
      });
      rerender(<QueryEditor datasource={datasource} query={lastQuery(onChange)} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
      const input = screen.getByRole('textbox', { name: 'Trace ID' });
      fireEvent.change(input, { target: { value: ' 5b8efff798038103d269b633813fc60c ' } });
      fireEvent.blur(input);
      expect(lastQuery(onChange)).toMatchObject({ queryType: 'traces', format: Format.TRACES, traceId: '5b8efff798038103d269b633813fc60c' });
      expect(onRunQuery).toHaveBeenCalledTimes(2);
    });

    it('opens a "View trace" data link query (no editorType) in the Trace ID editor', async () => {
      await setupFlushed({ refId: 'trace', queryType: 'traces', format: Format.TRACES, traceId: 'abc' } as Partial<LanternQuery>);
      expect(screen.getByRole('radio', { name: 'Trace ID' })).toBeChecked();
      expect(screen.getByRole('textbox', { name: 'Trace ID' })).toHaveValue('abc');
      expect(screen.queryByLabelText('Code editor (sql)')).not.toBeInTheDocument();
    });

    it('a SQL query with the Traces format stays in the SQL editor', async () => {
      await setupFlushed({ editorType: 'sql', rawSql: 'SELECT 1', format: Format.TRACES, queryType: 'traces' });
      expect(screen.getByRole('radio', { name: 'SQL' })).toBeChecked();
      expect(editor().value).toBe('SELECT 1');
    });

    it('Trace search sets queryType trace-search and format table, and edits the search', async () => {
      const { onChange, onRunQuery, rerender, datasource } = await setupFlushed({
        editorType: 'lantern-builder',
        format: Format.LOGS,
        queryType: 'logs',
        builder: { services: ['api'] },
      });
      fireEvent.click(screen.getByRole('radio', { name: 'Trace search' }));
      expect(lastQuery(onChange)).toEqual({
        refId: 'A',
        editorType: 'lantern-builder',
        format: Format.TABLE,
        queryType: 'trace-search',
        traceSearch: {},
      });
      const show = (q: LanternQuery) =>
        rerender(<QueryEditor datasource={datasource} query={q} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
      show(lastQuery(onChange));

      const services = screen.getByLabelText(/^Services/);
      fireEvent.change(services, { target: { value: 'checkout' } });
      fireEvent.keyDown(services, { key: 'Enter' });
      show(lastQuery(onChange));
      fireEvent.change(screen.getByLabelText('Operation'), { target: { value: 'GET /cart' } });
      fireEvent.blur(screen.getByLabelText('Operation'));
      show(lastQuery(onChange));
      fireEvent.change(screen.getByLabelText('Min duration (ms)'), { target: { value: '250.5' } });
      fireEvent.blur(screen.getByLabelText('Min duration (ms)'));
      show(lastQuery(onChange));
      fireEvent.change(screen.getByLabelText('Max duration (ms)'), { target: { value: 'x' } });
      fireEvent.blur(screen.getByLabelText('Max duration (ms)'));
      show(lastQuery(onChange));
      fireEvent.click(screen.getByRole('radio', { name: 'error' }));
      show(lastQuery(onChange));
      fireEvent.click(screen.getByRole('radio', { name: 'server' }));
      show(lastQuery(onChange));
      expect(screen.getByLabelText('Root spans only')).toBeChecked();
      fireEvent.click(screen.getByLabelText('Root spans only'));
      show(lastQuery(onChange));
      fireEvent.change(screen.getByLabelText('Limit'), { target: { value: '20' } });
      fireEvent.blur(screen.getByLabelText('Limit'));
      show(lastQuery(onChange));
      fireEvent.click(screen.getByRole('button', { name: /Add filter/ }));
      show(lastQuery(onChange));
      fireEvent.change(screen.getByLabelText('Filter key 1'), { target: { value: 'http.route' } });
      fireEvent.blur(screen.getByLabelText('Filter key 1'));
      show(lastQuery(onChange));
      fireEvent.change(screen.getByLabelText('Filter value 1'), { target: { value: '/cart' } });
      fireEvent.blur(screen.getByLabelText('Filter value 1'));

      expect(lastQuery(onChange)).toEqual({
        refId: 'A',
        editorType: 'lantern-builder',
        format: Format.TABLE,
        queryType: 'trace-search',
        traceSearch: {
          services: ['checkout'],
          operation: 'GET /cart',
          minDurationMs: 250.5,
          status: 'error',
          kind: 'server',
          rootOnly: false,
          limit: 20,
          filters: [{ key: 'http.route', op: '=', value: '/cart' }],
        },
      });
      // the switch and 10 edits run it; adding the empty filter row does not
      expect(onRunQuery).toHaveBeenCalledTimes(11);
    });

    it('switching from trace search to SQL keeps format table and removes the search', async () => {
      const { onChange } = await setupFlushed({
        editorType: 'lantern-builder',
        format: Format.TABLE,
        queryType: 'trace-search',
        traceSearch: { operation: 'x' },
      });
      expect(screen.getByRole('radio', { name: 'Trace search' })).toBeChecked();
      fireEvent.click(screen.getByRole('radio', { name: 'SQL' }));
      expect(lastQuery(onChange)).toEqual({ refId: 'A', editorType: 'sql', rawSql: '', format: Format.TABLE, queryType: 'table' });
    });
  });
});
