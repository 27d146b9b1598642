import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';

import { dateTime, DataSourceInstanceSettings, LoadingState, PanelData } from '@grafana/data';
import { setTemplateSrv } from '@grafana/runtime';

import { DataSource } from '../datasource';
import { Format, LanternOptions, LanternQuery } from '../types';
import { QueryEditor } from './QueryEditor';

// Monaco does not load in jsdom: stand in a textarea that honours the same props, including the
// Ctrl+Enter command the editor registers through onEditorDidMount.
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
      };
      props.onEditorDidMount?.(editor, { KeyMod: { CtrlCmd: 2048 }, KeyCode: { Enter: 3 } });
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

function setup(query: Partial<LanternQuery>, data?: PanelData) {
  setTemplateSrv({
    getVariables: () => [],
    replace: (s?: string) => s ?? '',
    containsTemplate: () => false,
    updateTimeRange: () => {},
  });
  const datasource = new DataSource(instanceSettings);
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  const q = { refId: 'A', ...query } as LanternQuery;
  const utils = render(
    <QueryEditor datasource={datasource} query={q} onChange={onChange} onRunQuery={onRunQuery} range={range} data={data} />
  );
  return { datasource, onChange, onRunQuery, ...utils };
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
      .mockResolvedValue({ sql: 'SELECT ts >= toDateTime(1700000000)', client: 'http' });

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
    expect(screen.getByRole('button', { name: /Copy/ })).toBeInTheDocument();

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
});
