import { SelectableValue } from '@grafana/data';
import { InlineField, InlineSwitch, RadioButtonGroup, Stack, TagsInput } from '@grafana/ui';

import { compact } from '../queryModel';
import { SPAN_KINDS, SPAN_STATUSES, TraceSearchOptions } from '../types';
import { BlurInput, FiltersEditor, parseNumber, parsePositiveInt } from './fields';

const LABEL_WIDTH = 16;

export interface TraceIdEditorProps {
  traceId: string;
  onChange: (traceId: string) => void;
}

/** One trace by id, shown in Grafana's trace view. */
export function TraceIdEditor({ traceId, onChange }: TraceIdEditorProps) {
  return (
    <InlineField label="Trace ID" labelWidth={LABEL_WIDTH} tooltip="Hex trace id; dashboard variables such as $traceId work">
      <BlurInput
        aria-label="Trace ID"
        width={50}
        value={traceId}
        placeholder="5b8efff798038103d269b633813fc60c"
        onCommit={(text) => onChange(text.trim())}
      />
    </InlineField>
  );
}

type Status = (typeof SPAN_STATUSES)[number];
type Kind = (typeof SPAN_KINDS)[number];

const STATUS_OPTIONS: Array<SelectableValue<Status | ''>> = [
  { label: 'Any', value: '' },
  ...SPAN_STATUSES.map((s) => ({ label: s, value: s })),
];
const KIND_OPTIONS: Array<SelectableValue<Kind | ''>> = [
  { label: 'Any', value: '' },
  ...SPAN_KINDS.map((k) => ({ label: k, value: k })),
];

export interface TraceSearchEditorProps {
  search: TraceSearchOptions;
  /** `run`: run the query after saving the change. */
  onChange: (search: TraceSearchOptions, run: boolean) => void;
  idPrefix: string;
}

/** Trace search: a table of matching spans (root spans by default). */
export function TraceSearchEditor({ search, onChange, idPrefix }: TraceSearchEditorProps) {
  const set = (patch: Partial<TraceSearchOptions>, run = true) => onChange(compact({ ...search, ...patch }), run);
  const num = (v?: number) => (v === undefined ? '' : String(v));
  return (
    <Stack direction="column" gap={0}>
      <InlineField label="Services" labelWidth={LABEL_WIDTH} htmlFor={`${idPrefix}-trace-services`} tooltip="Any of these services">
        <TagsInput
          id={`${idPrefix}-trace-services`}
          width={60}
          addOnBlur
          placeholder="Service (Enter to add)"
          tags={search.services ?? []}
          onChange={(services: string[]) => set({ services })}
        />
      </InlineField>
      <InlineField label="Operation" labelWidth={LABEL_WIDTH} tooltip="Span name">
        <BlurInput
          aria-label="Operation"
          width={50}
          value={search.operation ?? ''}
          placeholder="GET /api/orders"
          onCommit={(operation) => set({ operation })}
        />
      </InlineField>
      <Stack direction="row" gap={0} wrap="wrap">
        <InlineField label="Duration (ms)" labelWidth={LABEL_WIDTH}>
          <BlurInput
            aria-label="Min duration (ms)"
            width={12}
            inputMode="decimal"
            value={num(search.minDurationMs)}
            placeholder="min"
            onCommit={(text) => set({ minDurationMs: parseNumber(text) })}
          />
        </InlineField>
        <InlineField label="to" labelWidth={4}>
          <BlurInput
            aria-label="Max duration (ms)"
            width={12}
            inputMode="decimal"
            value={num(search.maxDurationMs)}
            placeholder="max"
            onCommit={(text) => set({ maxDurationMs: parseNumber(text) })}
          />
        </InlineField>
      </Stack>
      <InlineField label="Status" labelWidth={LABEL_WIDTH}>
        <RadioButtonGroup<Status | ''>
          aria-label="Status"
          size="sm"
          options={STATUS_OPTIONS}
          value={search.status ?? ''}
          onChange={(v) => set({ status: v === '' ? undefined : v })}
        />
      </InlineField>
      <InlineField label="Span kind" labelWidth={LABEL_WIDTH}>
        <RadioButtonGroup<Kind | ''>
          aria-label="Span kind"
          size="sm"
          options={KIND_OPTIONS}
          value={search.kind ?? ''}
          onChange={(v) => set({ kind: v === '' ? undefined : v })}
        />
      </InlineField>
      <InlineField
        label="Filters"
        labelWidth={LABEL_WIDTH}
        tooltip="Span or resource attribute keys (http.route, k8s.pod.name) or columns"
      >
        <FiltersEditor
          filters={search.filters ?? []}
          keyPlaceholder="key, e.g. http.status_code"
          onChange={(filters, run) => set({ filters }, run)}
        />
      </InlineField>
      <Stack direction="row" gap={0} wrap="wrap">
        <InlineField label="Root spans only" labelWidth={LABEL_WIDTH}>
          <InlineSwitch
            id={`${idPrefix}-root-only`}
            aria-label="Root spans only"
            value={search.rootOnly !== false}
            onChange={(e: React.FormEvent<HTMLInputElement>) => set({ rootOnly: e.currentTarget.checked ? undefined : false })}
          />
        </InlineField>
        <InlineField label="Limit" labelWidth={8}>
          <BlurInput
            aria-label="Limit"
            width={12}
            inputMode="numeric"
            value={num(search.limit)}
            placeholder="100"
            onCommit={(text) => set({ limit: parsePositiveInt(text) })}
          />
        </InlineField>
      </Stack>
    </Stack>
  );
}
