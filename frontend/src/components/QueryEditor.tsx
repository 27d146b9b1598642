import { css } from '@emotion/css';
import React, { useEffect, useRef, useState } from 'react';

import { getDefaultTimeRange, GrafanaTheme2, QueryEditorProps } from '@grafana/data';
import {
  Alert,
  Button,
  ClipboardButton,
  CodeEditor,
  InlineField,
  InlineSwitch,
  RadioButtonGroup,
  Spinner,
  useStyles2,
} from '@grafana/ui';
import type { Monaco, MonacoEditor } from '@grafana/ui';

import { CompletionKind, SqlCompletion } from '../completion';
import type { DataSource } from '../datasource';
import { EditorMode, editorMode, switchMode } from '../queryModel';
import {
  DEFAULT_QUERY,
  Format,
  FORMAT_TO_QUERY_TYPE,
  LanternOptions,
  LanternQuery,
  LogsBuilderOptions,
  TraceSearchOptions,
} from '../types';
import { defaultTableOf, newOptions, readOptions, withBuilderOptions, BuilderOptions } from '../builderOptions';
import { LogsBuilderEditor } from './LogsBuilderEditor';
import { OfficialBuilderEditor } from './OfficialBuilderEditor';
import { TraceIdEditor, TraceSearchEditor } from './TraceEditors';

export type Props = QueryEditorProps<DataSource, LanternQuery, LanternOptions>;

export const FORMAT_OPTIONS = [
  { label: 'Table', value: Format.TABLE },
  { label: 'Time series', value: Format.TIME_SERIES },
  { label: 'Logs', value: Format.LOGS },
  { label: 'Traces', value: Format.TRACES },
];

export const MODE_OPTIONS: Array<{ label: string; value: EditorMode; description: string }> = [
  { label: 'SQL', value: 'sql', description: 'SQL with macros and variables' },
  { label: 'Logs builder', value: 'logs', description: 'Logs from an OpenTelemetry (or configured) logs table' },
  { label: 'Trace ID', value: 'trace-id', description: 'One trace in the trace view' },
  { label: 'Trace search', value: 'trace-search', description: 'A table of traces matching a search' },
  {
    label: 'Official builder',
    value: 'official',
    description: "grafana/clickhouse-datasource's query builder: tables, aggregates, time series, logs and traces",
  },
];

const DEFAULT_MAX_DATA_POINTS = 1000;

type Expanded =
  | { state: 'idle' }
  | { state: 'loading' }
  | { state: 'done'; sql: string; client?: string }
  | { state: 'error'; error: string }
  | { state: 'hint'; hint: string };

/** Why there is no SQL to show yet, when the query is not finished (not an error). */
function pendingHint(query: LanternQuery): string | undefined {
  if (editorMode(query) === 'trace-id' && (query.traceId ?? '').trim() === '') {
    return 'Enter a trace id to see the SQL.';
  }
  if (editorMode(query) === 'sql' && (query.rawSql ?? '').trim() === '') {
    return 'Write a query to see the SQL.';
  }
  return undefined;
}

/** The query with the defaults filled in, so what is saved always has editorType and format. */
function withDefaults(query: LanternQuery): LanternQuery {
  const mode = editorMode(query);
  if (mode !== 'sql') {
    const q = switchMode(query, mode);
    // Keep a queryType such as logs-volume that the editor does not set itself.
    return query.queryType && mode === 'logs' ? { ...q, queryType: query.queryType } : q;
  }
  return {
    ...query,
    editorType: 'sql',
    rawSql: query.rawSql ?? DEFAULT_QUERY.rawSql ?? '',
    format: typeof query.format === 'number' ? query.format : (DEFAULT_QUERY.format as Format),
  };
}

const COMPLETION_KINDS: Record<CompletionKind, keyof Monaco['languages']['CompletionItemKind']> = {
  macro: 'Function',
  database: 'Module',
  table: 'Class',
  column: 'Field',
  mapKey: 'Property',
};

/** Lantern's completion (completion.ts) for this editor's model only; removed with the editor. */
function registerCompletion(editor: MonacoEditor, monaco: Monaco, completion: SqlCompletion) {
  const provider = monaco.languages.registerCompletionItemProvider('sql', {
    triggerCharacters: ['$', '.', "'"],
    provideCompletionItems: async (model, position) => {
      if (model.id !== editor.getModel()?.id) {
        return { suggestions: [] };
      }
      const before = model.getValueInRange({ startLineNumber: 1, startColumn: 1, endLineNumber: position.lineNumber, endColumn: position.column });
      const { items, replace } = await completion.suggest(before, model.getValue());
      const range = {
        startLineNumber: position.lineNumber,
        endLineNumber: position.lineNumber,
        startColumn: Math.max(1, position.column - replace),
        endColumn: position.column,
      };
      return {
        suggestions: items.map((item, i) => ({
          label: item.label,
          kind: monaco.languages.CompletionItemKind[COMPLETION_KINDS[item.kind]],
          detail: item.detail,
          documentation: item.documentation ? { value: item.documentation } : undefined,
          insertText: item.insertText,
          // Keep the resource order (macros in documentation order, columns in table order).
          sortText: String(i).padStart(5, '0'),
          range,
        })),
      };
    },
  });
  editor.onDidDispose(() => provider.dispose());
}

export function QueryEditor(props: Props) {
  const { datasource, range, data } = props;
  const query = withDefaults(props.query);
  const mode = editorMode(query);
  const styles = useStyles2(getStyles);
  const [showSql, setShowSql] = useState(false);
  const [expanded, setExpanded] = useState<Expanded>({ state: 'idle' });

  // Monaco keeps the callbacks given at mount; route them through a ref to see current props.
  const latest = useRef(props);
  latest.current = props;

  const commitSql = (sql: string, forceRun: boolean) => {
    const { query: current, onChange, onRunQuery } = latest.current;
    const q = withDefaults(current);
    const changed = sql !== q.rawSql;
    if (changed) {
      onChange({ ...q, rawSql: sql });
    }
    if (changed || forceRun) {
      onRunQuery();
    }
  };

  const editorRef = useRef<MonacoEditor | undefined>(undefined);
  const [formatError, setFormatError] = useState<string | undefined>();
  const [formatting, setFormatting] = useState(false);
  const formatSql = async () => {
    const editor = editorRef.current;
    if (!editor || formatting) {
      return;
    }
    setFormatError(undefined);
    setFormatting(true);
    try {
      const formatted = await latest.current.datasource.formatSql(editor.getValue());
      const model = editor.getModel();
      if (model) {
        // An edit (not setValue) keeps Ctrl+Z.
        editor.executeEdits('lantern-format-sql', [{ range: model.getFullModelRange(), text: formatted }]);
      }
      commitSql(formatted, false);
    } catch (e) {
      setFormatError(e instanceof Error ? e.message : String(e));
    } finally {
      setFormatting(false);
    }
  };

  const onEditorDidMount = (editor: MonacoEditor, monaco: Monaco) => {
    editorRef.current = editor;
    editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.Enter, () => commitSql(editor.getValue(), true));
    registerCompletion(editor, monaco, new SqlCompletion(latest.current.datasource));
  };

  const onModeChange = (next: EditorMode) => {
    if (next === mode) {
      return;
    }
    if (next === 'official') {
      // A new table query of the official builder; it runs once a table is picked.
      const jsonData = datasource.jsonData;
      props.onChange(withBuilderOptions(switchMode(query, 'sql'), newOptions('table', jsonData, defaultTableOf('table', jsonData), [])));
      return;
    }
    props.onChange(switchMode(query, next));
    props.onRunQuery();
  };

  const onOfficialChange = (options: BuilderOptions, run: boolean) => {
    props.onChange(withBuilderOptions(query, options));
    if (run) {
      props.onRunQuery();
    }
  };

  const onBuilderChange = (builder: LogsBuilderOptions, run: boolean) => {
    props.onChange({ ...query, builder });
    if (run) {
      props.onRunQuery();
    }
  };

  const onTraceIdChange = (traceId: string) => {
    props.onChange({ ...query, traceId });
    props.onRunQuery();
  };

  const onTraceSearchChange = (traceSearch: TraceSearchOptions, run: boolean) => {
    props.onChange({ ...query, traceSearch });
    if (run) {
      props.onRunQuery();
    }
  };

  const onFormatChange = (format: Format) => {
    props.onChange({ ...query, format, queryType: FORMAT_TO_QUERY_TYPE[format] });
    props.onRunQuery();
  };

  const timeRange = range ?? getDefaultTimeRange();
  const from = timeRange.from.valueOf();
  const to = timeRange.to.valueOf();
  const maxDataPoints = data?.request?.maxDataPoints ?? DEFAULT_MAX_DATA_POINTS;
  const intervalMs = data?.request?.intervalMs ?? Math.max(1, Math.round((to - from) / maxDataPoints));

  // Everything the backend plans from (SQL, format, builder...), as one dependency.
  const queryKey = JSON.stringify({ ...query, refId: undefined });
  useEffect(() => {
    if (!showSql) {
      setExpanded({ state: 'idle' });
      return;
    }
    const hint = pendingHint(withDefaults(latest.current.query));
    if (hint) {
      setExpanded({ state: 'hint', hint });
      return;
    }
    let cancelled = false;
    setExpanded({ state: 'loading' });
    const request = latest.current.data?.request;
    datasource
      .expandQuery(withDefaults(latest.current.query), {
        range: latest.current.range ?? getDefaultTimeRange(),
        intervalMs,
        maxDataPoints,
        scopedVars: request?.scopedVars,
        filters: request?.filters,
      })
      .then(
        (res) => !cancelled && setExpanded({ state: 'done', sql: res.sql ?? '', client: res.client }),
        (err: Error) => !cancelled && setExpanded({ state: 'error', error: err.message })
      );
    return () => {
      cancelled = true;
    };
    // Re-expand when what the SQL depends on changes.
  }, [showSql, datasource, queryKey, from, to, intervalMs, maxDataPoints]);

  return (
    <div className={styles.root}>
      <div className={styles.toolbar}>
        <InlineField label="Query type" labelWidth={12}>
          <RadioButtonGroup<EditorMode>
            aria-label="Query type"
            size="sm"
            options={MODE_OPTIONS}
            value={mode}
            onChange={onModeChange}
          />
        </InlineField>
        {mode === 'sql' && (
          <InlineField label="Format" labelWidth={10}>
            <RadioButtonGroup<Format>
              aria-label="Format"
              size="sm"
              options={FORMAT_OPTIONS}
              value={query.format}
              onChange={onFormatChange}
            />
          </InlineField>
        )}
        <InlineField label="Show SQL" tooltip="Show the SQL the backend runs, with macros and variables expanded">
          <InlineSwitch
            id={`lantern-show-sql-${query.refId}`}
            value={showSql}
            onChange={(e: React.FormEvent<HTMLInputElement>) => setShowSql(e.currentTarget.checked)}
          />
        </InlineField>
      </div>
      {mode === 'sql' && (
        <>
          <CodeEditor
            language="sql"
            value={query.rawSql ?? ''}
            height={200}
            showLineNumbers
            showMiniMap={false}
            onBlur={(sql: string) => commitSql(sql, false)}
            onEditorDidMount={onEditorDidMount}
          />
          <div className={styles.editorFooter}>
            <span className={styles.hint}>Ctrl+Enter (⌘+Enter) runs the query; leaving the editor runs it when it changed.</span>
            <Button
              size="sm"
              variant="secondary"
              icon={formatting ? 'spinner' : 'brackets-curly'}
              onClick={() => void formatSql()}
              tooltip="Format with ClickHouse's formatQuery; macros and variables are kept, comments are removed (Ctrl+Z undoes)"
            >
              Format SQL
            </Button>
          </div>
          {formatError && (
            <Alert severity="error" title="Could not format the SQL" onRemove={() => setFormatError(undefined)}>
              {formatError}
            </Alert>
          )}
        </>
      )}
      {mode === 'logs' && (
        <LogsBuilderEditor
          datasource={datasource}
          builder={query.builder ?? {}}
          onChange={onBuilderChange}
          idPrefix={`lantern-${query.refId}`}
        />
      )}
      {mode === 'official' && (
        <OfficialBuilderEditor
          datasource={datasource}
          options={readOptions(query.builderOptions)}
          rawSql={query.rawSql}
          onChange={onOfficialChange}
          range={range}
        />
      )}
      {mode === 'trace-id' && <TraceIdEditor traceId={query.traceId ?? ''} onChange={onTraceIdChange} />}
      {mode === 'trace-search' && (
        <TraceSearchEditor search={query.traceSearch ?? {}} onChange={onTraceSearchChange} idPrefix={`lantern-${query.refId}`} />
      )}
      {showSql && (
        <div className={styles.expanded} aria-label="Expanded SQL">
          {expanded.state === 'loading' && <Spinner inline />}
          {expanded.state === 'error' && (
            <Alert severity="error" title="Could not expand the query">
              {expanded.error}
            </Alert>
          )}
          {expanded.state === 'hint' && (
            <div className={styles.hint} data-testid="lantern-expand-hint">
              {expanded.hint}
            </div>
          )}
          {expanded.state === 'done' && (
            <>
              <div className={styles.expandedHeader}>
                <span className={styles.caption}>Expanded SQL</span>
                <div className={styles.buttons}>
                  <ClipboardButton icon="copy" size="sm" variant="secondary" getText={() => expanded.sql}>
                    Copy SQL
                  </ClipboardButton>
                  {expanded.client && (
                    <ClipboardButton
                      icon="copy"
                      size="sm"
                      variant="secondary"
                      getText={() => expanded.client ?? ''}
                      tooltip="A clickhouse-client command that runs this SQL against the datasource's server (no password)"
                    >
                      Copy clickhouse-client command
                    </ClipboardButton>
                  )}
                </div>
              </div>
              <pre className={styles.sql} data-testid="lantern-expanded-sql">
                {expanded.sql}
              </pre>
            </>
          )}
        </div>
      )}
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  root: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(1) }),
  toolbar: css({ display: 'flex', flexWrap: 'wrap', gap: theme.spacing(1), alignItems: 'center' }),
  editorFooter: css({ display: 'flex', alignItems: 'center', justifyContent: 'space-between', gap: theme.spacing(1) }),
  hint: css({ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize }),
  expanded: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(0.5) }),
  expandedHeader: css({ display: 'flex', alignItems: 'center', justifyContent: 'space-between' }),
  caption: css({ color: theme.colors.text.secondary }),
  buttons: css({ display: 'flex', gap: theme.spacing(1) }),
  sql: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'pre-wrap',
    wordBreak: 'break-word',
    userSelect: 'text',
    margin: 0,
    padding: theme.spacing(1),
    background: theme.colors.background.secondary,
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    maxHeight: theme.spacing(50),
    overflow: 'auto',
  }),
});
