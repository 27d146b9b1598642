// Small inputs shared by the structured query editors. Text inputs commit on blur or Enter (not on
// every key stroke), so a query runs once per edit.
import React, { useEffect, useState } from 'react';

import { SelectableValue } from '@grafana/data';
import { Button, IconButton, Input, Select, Stack } from '@grafana/ui';

import { BuilderFilter, FILTER_OPS, FilterOp } from '../types';

type InputProps = Omit<React.ComponentProps<typeof Input>, 'value' | 'onChange' | 'onBlur'>;

export interface BlurInputProps extends InputProps {
  value: string;
  /** Called with the new text when the input loses focus or Enter is pressed, if it changed. */
  onCommit: (text: string) => void;
}

export function BlurInput({ value, onCommit, onKeyDown, ...rest }: BlurInputProps) {
  const [text, setText] = useState(value);
  useEffect(() => setText(value), [value]);
  const commit = () => {
    if (text !== value) {
      onCommit(text);
    }
  };
  return (
    <Input
      {...rest}
      value={text}
      onChange={(e: React.FormEvent<HTMLInputElement>) => setText(e.currentTarget.value)}
      onBlur={commit}
      onKeyDown={(e: React.KeyboardEvent<HTMLInputElement>) => {
        if (e.key === 'Enter') {
          commit();
        }
        onKeyDown?.(e);
      }}
    />
  );
}

/** A positive whole number from input text, else undefined. */
export function parsePositiveInt(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d+$/.test(t)) {
    return undefined;
  }
  const n = Number(t);
  return n > 0 ? n : undefined;
}

/** A non-negative number from input text, else undefined. */
export function parseNumber(text: string): number | undefined {
  const t = text.trim();
  if (t === '' || !Number.isFinite(Number(t))) {
    return undefined;
  }
  const n = Number(t);
  return n >= 0 ? n : undefined;
}

const LIST_OPS = new Set<FilterOp>(['IN', 'NOT IN']);
const NO_VALUE_OPS = new Set<FilterOp>(['EXISTS', 'NOT EXISTS']);
const COMPARISON_OPS = new Set<FilterOp>(['<', '<=', '>', '>=']);

const OP_OPTIONS: Array<SelectableValue<FilterOp>> = FILTER_OPS.map((op) => ({ label: op, value: op }));

/** The value text shown for a filter (IN lists comma-separated). */
export function filterValueText(f: BuilderFilter): string {
  if (LIST_OPS.has(f.op)) {
    return (f.values ?? []).join(', ');
  }
  return f.value === undefined ? '' : String(f.value);
}

/**
 * The filter with `text` as its value: `values` for IN / NOT IN (comma-separated), none for
 * EXISTS, a number for comparisons when the text is numeric, else the text.
 */
export function withFilterValue(f: BuilderFilter, text: string): BuilderFilter {
  const base: BuilderFilter = { key: f.key, op: f.op };
  if (NO_VALUE_OPS.has(f.op)) {
    return base;
  }
  if (LIST_OPS.has(f.op)) {
    return { ...base, values: text.split(',').map((v) => v.trim()).filter((v) => v !== '') };
  }
  const t = text.trim();
  if (COMPARISON_OPS.has(f.op) && /^-?\d+(\.\d+)?$/.test(t)) {
    return { ...base, value: Number(t) };
  }
  return { ...base, value: text };
}

export interface FiltersEditorProps {
  filters: BuilderFilter[];
  /** `run`: the change is complete enough to run the query. */
  onChange: (filters: BuilderFilter[], run: boolean) => void;
  keyPlaceholder?: string;
}

/** A list of `key op value` filters. */
export function FiltersEditor({ filters, onChange, keyPlaceholder }: FiltersEditorProps) {
  const set = (i: number, f: BuilderFilter) => onChange(filters.map((x, j) => (j === i ? f : x)), f.key.trim() !== '');
  return (
    <Stack direction="column" gap={0.5}>
      {filters.map((f, i) => (
        <Stack key={i} direction="row" gap={0.5} alignItems="center">
          <BlurInput
            aria-label={`Filter key ${i + 1}`}
            width={36}
            value={f.key}
            placeholder={keyPlaceholder ?? 'key, e.g. k8s.pod.name'}
            onCommit={(key) => set(i, { ...f, key })}
          />
          <Select<FilterOp>
            aria-label={`Filter operator ${i + 1}`}
            width={14}
            options={OP_OPTIONS}
            value={f.op}
            onChange={(v) => set(i, withFilterValue({ ...f, op: v.value ?? '=' }, filterValueText(f)))}
          />
          {!NO_VALUE_OPS.has(f.op) && (
            <BlurInput
              aria-label={`Filter value ${i + 1}`}
              width={36}
              value={filterValueText(f)}
              placeholder={LIST_OPS.has(f.op) ? 'a, b, c' : 'value'}
              onCommit={(text) => set(i, withFilterValue(f, text))}
            />
          )}
          <IconButton
            name="trash-alt"
            tooltip={`Remove filter ${i + 1}`}
            onClick={() => onChange(filters.filter((_, j) => j !== i), true)}
          />
        </Stack>
      ))}
      <div>
        <Button variant="secondary" size="sm" icon="plus" onClick={() => onChange([...filters, { key: '', op: '=', value: '' }], false)}>
          Add filter
        </Button>
      </div>
    </Stack>
  );
}
