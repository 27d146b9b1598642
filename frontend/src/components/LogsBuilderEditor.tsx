import { useEffect, useState } from 'react';

import { SelectableValue } from '@grafana/data';
import { InlineField, RadioButtonGroup, Select, Stack, TagsInput } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { compact } from '../queryModel';
import { LogsBuilderOptions, SEVERITIES, Severity } from '../types';
import { BlurInput, FiltersEditor, parsePositiveInt } from './fields';

export interface LogsBuilderEditorProps {
  datasource: DataSource;
  builder: LogsBuilderOptions;
  /** `run`: run the query after saving the change. */
  onChange: (builder: LogsBuilderOptions, run: boolean) => void;
  /** Distinguishes element ids when several queries are open. */
  idPrefix: string;
}

const SEVERITY_OPTIONS: Array<SelectableValue<Severity | ''>> = [
  { label: 'Any', value: '' },
  ...SEVERITIES.map((s) => ({ label: s, value: s })),
];

const ORDER_OPTIONS: Array<SelectableValue<'desc' | 'asc'>> = [
  { label: 'Newest first', value: 'desc' },
  { label: 'Oldest first', value: 'asc' },
];

const LABEL_WIDTH = 16;

/** Names from the `databases` / `tables` resources; empty when they fail (custom values still work). */
export function useResourceNames(datasource: DataSource, path: 'databases' | 'tables', database?: string): string[] {
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    let cancelled = false;
    const params = path === 'tables' && database ? { database } : undefined;
    Promise.resolve()
      .then(() => datasource.getResource(path, params))
      .then(
        (rows: unknown) => {
          if (!cancelled && Array.isArray(rows)) {
            setNames(rows.map((r) => (typeof r === 'string' ? r : String((r as { name?: unknown })?.name ?? ''))).filter(Boolean));
          }
        },
        () => !cancelled && setNames([])
      );
    return () => {
      cancelled = true;
    };
  }, [datasource, path, database]);
  return names;
}

/** At most this many tables are classified (one `schema` request each, four at a time). */
const MAX_CLASSIFIED_TABLES = 60;

/**
 * The tables of a database with logs-shaped tables first (those the `schema` resource classifies
 * as `kind: "logs"`, e.g. OpenTelemetry logs tables), each group in name order. Tables beyond
 * the first MAX_CLASSIFIED_TABLES keep their place after the classified ones.
 */
export function useLogsTables(datasource: DataSource, database?: string): Array<{ name: string; logs: boolean }> {
  const tables = useResourceNames(datasource, 'tables', database);
  const [kinds, setKinds] = useState<Record<string, boolean>>({});
  useEffect(() => {
    let cancelled = false;
    setKinds({});
    const queue = tables.slice(0, MAX_CLASSIFIED_TABLES);
    const found: Record<string, boolean> = {};
    const worker = async () => {
      for (let t = queue.shift(); t !== undefined && !cancelled; t = queue.shift()) {
        const params: Record<string, string> = database ? { database, table: t } : { table: t };
        try {
          const schema = (await datasource.getResource('schema', params)) as { kind?: unknown } | undefined;
          found[t] = schema?.kind === 'logs';
        } catch {
          found[t] = false;
        }
      }
    };
    void Promise.all([worker(), worker(), worker(), worker()]).then(() => !cancelled && setKinds({ ...found }));
    return () => {
      cancelled = true;
    };
  }, [datasource, database, tables]);
  const logs = tables.filter((t) => kinds[t]);
  return [...logs.map((name) => ({ name, logs: true })), ...tables.filter((t) => !kinds[t]).map((name) => ({ name, logs: false }))];
}

function options(names: string[], current?: string): Array<SelectableValue<string>> {
  const all = current && !names.includes(current) ? [current, ...names] : names;
  return all.map((n) => ({ label: n, value: n }));
}

/** The logs builder: table, services, severity, filters, body match, order and limit. */
export function LogsBuilderEditor({ datasource, builder, onChange, idPrefix }: LogsBuilderEditorProps) {
  const defaults = datasource.jsonData.logs ?? {};
  const defaultDatabase = defaults.defaultDatabase || datasource.jsonData.defaultDatabase || '';
  const databases = useResourceNames(datasource, 'databases');
  const tables = useLogsTables(datasource, builder.database || defaultDatabase || undefined);
  const tableOptions = [
    ...(builder.table && !tables.some((t) => t.name === builder.table) ? [{ label: builder.table, value: builder.table }] : []),
    ...tables.map((t) => ({ label: t.name, value: t.name, description: t.logs ? 'logs table' : undefined })),
  ];

  const set = (patch: Partial<LogsBuilderOptions>, run = true) => onChange(compact({ ...builder, ...patch }), run);

  return (
    <Stack direction="column" gap={0}>
      <Stack direction="row" gap={0} wrap="wrap">
        <InlineField label="Database" labelWidth={LABEL_WIDTH}>
          <Select<string>
            aria-label="Database"
            width={24}
            options={options(databases, builder.database)}
            value={builder.database ?? null}
            placeholder={defaultDatabase || 'default'}
            allowCustomValue
            isClearable
            onChange={(v) => set({ database: v?.value, table: undefined })}
          />
        </InlineField>
        <InlineField label="Table" labelWidth={8}>
          <Select<string>
            aria-label="Table"
            width={30}
            options={tableOptions}
            value={builder.table ?? null}
            placeholder={defaults.defaultTable || 'otel_logs'}
            allowCustomValue
            isClearable
            onChange={(v) => set({ table: v?.value })}
          />
        </InlineField>
      </Stack>
      <InlineField label="Services" labelWidth={LABEL_WIDTH} htmlFor={`${idPrefix}-services`} tooltip="Any of these services">
        <TagsInput
          id={`${idPrefix}-services`}
          width={60}
          addOnBlur
          placeholder="Service (Enter to add)"
          tags={builder.services ?? []}
          onChange={(services: string[]) => set({ services })}
        />
      </InlineField>
      <InlineField label="Min severity" labelWidth={LABEL_WIDTH}>
        <RadioButtonGroup<Severity | ''>
          aria-label="Min severity"
          size="sm"
          options={SEVERITY_OPTIONS}
          value={builder.minSeverity ?? ''}
          onChange={(v) => set({ minSeverity: v === '' ? undefined : v })}
        />
      </InlineField>
      <InlineField
        label="Filters"
        labelWidth={LABEL_WIDTH}
        tooltip="A column (PodName), a map key (ResourceAttributes['k8s.pod.name']) or an attribute key (k8s.pod.name: log, then resource, then scope attributes)"
      >
        <FiltersEditor filters={builder.filters ?? []} onChange={(filters, run) => set({ filters }, run)} />
      </InlineField>
      <InlineField label="Body contains" labelWidth={LABEL_WIDTH} tooltip="Case-insensitive substring">
        <BlurInput
          aria-label="Body contains"
          width={60}
          value={builder.bodyContains ?? ''}
          placeholder="text"
          onCommit={(bodyContains) => set({ bodyContains })}
        />
      </InlineField>
      <InlineField label="Body regex" labelWidth={LABEL_WIDTH} tooltip="RE2 regular expression">
        <BlurInput
          aria-label="Body regex"
          width={60}
          value={builder.bodyRegex ?? ''}
          placeholder="(?i)timeout|refused"
          onCommit={(bodyRegex) => set({ bodyRegex })}
        />
      </InlineField>
      <Stack direction="row" gap={0} wrap="wrap">
        <InlineField label="Order" labelWidth={LABEL_WIDTH}>
          <RadioButtonGroup<'desc' | 'asc'>
            aria-label="Order"
            size="sm"
            options={ORDER_OPTIONS}
            value={builder.order ?? 'desc'}
            onChange={(order) => set({ order: order === 'desc' ? undefined : order })}
          />
        </InlineField>
        <InlineField label="Limit" labelWidth={8}>
          <BlurInput
            aria-label="Limit"
            width={12}
            inputMode="numeric"
            value={builder.limit === undefined ? '' : String(builder.limit)}
            placeholder="1000"
            onCommit={(text) => set({ limit: parsePositiveInt(text) })}
          />
        </InlineField>
      </Stack>
    </Stack>
  );
}
