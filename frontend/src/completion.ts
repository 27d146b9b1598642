// Completion for the SQL editor: macros of both dialects with their docs (the `macros`
// resource, built from the backend's macro catalogue), databases, tables, columns with their
// types, and map keys (`ResourceAttributes['k8s.pod.name']`, the `tag-keys` resource).
//
// `completionContext` decides from the text before the cursor what is being typed (pure, tested
// in completion.test.ts); `SqlCompletion` answers it from the resources, caching each answer for
// the editor's life. A resource that fails offers nothing (typing still works).
import type { DataSource } from './datasource';

export type CompletionKind = 'macro' | 'database' | 'table' | 'column' | 'mapKey';

export interface CompletionItem {
  label: string;
  kind: CompletionKind;
  /** One line next to the label (dialect and arguments, a column's type). */
  detail?: string;
  /** Markdown documentation (macros). */
  documentation?: string;
  insertText: string;
}

export type CompletionContext =
  | { kind: 'macro'; prefix: string }
  | { kind: 'table'; database?: string; prefix: string }
  | { kind: 'mapKey'; map: string; prefix: string }
  | { kind: 'column'; prefix: string };

/** A table the SQL reads: `FROM db.t`, `JOIN t` (backquotes and double quotes removed). */
export interface TableRef {
  database?: string;
  table: string;
}

const IDENT = '(?:`[^`]+`|"[^"]+"|[A-Za-z_][A-Za-z0-9_]*)';

function unquote(name: string): string {
  return /^[`"].*[`"]$/.test(name) ? name.slice(1, -1) : name;
}

/** What the cursor is completing, from the text before it. */
export function completionContext(before: string): CompletionContext {
  const macro = /\$[A-Za-z0-9_]*$/.exec(before);
  if (macro) {
    return { kind: 'macro', prefix: macro[0] };
  }
  const mapKey = new RegExp(`(${IDENT})\\[\\s*'([^'\\\\]*)$`).exec(before);
  if (mapKey) {
    return { kind: 'mapKey', map: unquote(mapKey[1]), prefix: mapKey[2] };
  }
  const table = new RegExp(`\\b(?:FROM|JOIN|INTO|TABLE|DESCRIBE)\\s+(?:(${IDENT})\\.)?([A-Za-z0-9_]*)$`, 'i').exec(before);
  if (table) {
    return table[1] ? { kind: 'table', database: unquote(table[1]), prefix: table[2] } : { kind: 'table', prefix: table[2] };
  }
  const word = /[A-Za-z0-9_]*$/.exec(before);
  return { kind: 'column', prefix: word ? word[0] : '' };
}

/** The tables the SQL reads (FROM / JOIN), in order, without duplicates. */
export function tablesInQuery(sql: string): TableRef[] {
  const re = new RegExp(`\\b(?:FROM|JOIN)\\s+(?:(${IDENT})\\.)?(${IDENT})`, 'gi');
  const out: TableRef[] = [];
  for (let m = re.exec(sql); m; m = re.exec(sql)) {
    const ref: TableRef = m[1] ? { database: unquote(m[1]), table: unquote(m[2]) } : { table: unquote(m[2]) };
    if (ref.table.startsWith('$') || ref.table.toUpperCase() === 'SELECT') {
      continue;
    }
    if (!out.some((r) => r.table === ref.table && r.database === ref.database)) {
      out.push(ref);
    }
  }
  return out;
}

interface MacroEntry {
  name: string;
  dialect: string;
  args: string;
  doc: string;
  output?: string;
}

/** At most this many tables of a query have their columns fetched. */
const MAX_TABLES = 4;

function quoteIfNeeded(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;
}

export class SqlCompletion {
  private cache = new Map<string, Promise<unknown>>();

  constructor(private readonly datasource: DataSource) {}

  private resource(path: string, params?: Record<string, string>): Promise<unknown> {
    const key = `${path}?${JSON.stringify(params ?? {})}`;
    let hit = this.cache.get(key);
    if (!hit) {
      hit = this.datasource.getResource(path, params).catch(() => []);
      this.cache.set(key, hit);
    }
    return hit;
  }

  /** The completion items for the cursor after `before` in `sql`, and how many characters they replace. */
  async suggest(before: string, sql: string): Promise<{ items: CompletionItem[]; replace: number }> {
    const ctx = completionContext(before);
    const starts = (s: string) => s.toLowerCase().startsWith(ctx.prefix.toLowerCase());
    const items = (await this.items(ctx, sql)).filter((i) => starts(i.label));
    return { items, replace: ctx.prefix.length };
  }

  private async items(ctx: CompletionContext, sql: string): Promise<CompletionItem[]> {
    switch (ctx.kind) {
      case 'macro':
        return this.macros();
      case 'table':
        return this.tables(ctx.database);
      case 'mapKey':
        return this.mapKeys(sql);
      case 'column':
        return [...(await this.columns(sql)), ...(ctx.prefix === '' ? [] : await this.tables(undefined))];
    }
  }

  private async macros(): Promise<CompletionItem[]> {
    const rows = await this.resource('macros');
    return (Array.isArray(rows) ? (rows as MacroEntry[]) : [])
      .filter((m) => typeof m?.name === 'string')
      .map((m) => ({
        label: m.name,
        kind: 'macro' as const,
        detail: `${m.dialect} macro · ${m.args === '0' ? 'no arguments' : `${m.args} argument${m.args === '1' ? '' : 's'}`}`,
        documentation: `${m.doc}${m.output ? `\n\n\`${m.output}\`` : ''}`,
        insertText: m.name,
      }));
  }

  private async tables(database: string | undefined): Promise<CompletionItem[]> {
    const rows = await this.resource('tables', database ? { database } : undefined);
    const tables = (Array.isArray(rows) ? rows : [])
      .map((r) => String((r as { name?: unknown })?.name ?? ''))
      .filter(Boolean)
      .map((name) => ({ label: name, kind: 'table' as const, detail: database ? `table in ${database}` : 'table', insertText: quoteIfNeeded(name) }));
    if (database) {
      return tables;
    }
    const dbs = await this.resource('databases');
    const databases = (Array.isArray(dbs) ? dbs : [])
      .filter((d): d is string => typeof d === 'string')
      .map((name) => ({ label: name, kind: 'database' as const, detail: 'database', insertText: quoteIfNeeded(name) }));
    return [...tables, ...databases];
  }

  private async columns(sql: string): Promise<CompletionItem[]> {
    const refs = tablesInQuery(sql).slice(0, MAX_TABLES);
    const lists = await Promise.all(
      refs.map(async (ref) => {
        const params: Record<string, string> = ref.database ? { database: ref.database, table: ref.table } : { table: ref.table };
        const rows = await this.resource('columns', params);
        return (Array.isArray(rows) ? rows : []).map((r) => {
          const c = r as { name?: unknown; type?: unknown };
          const name = String(c?.name ?? '');
          return { label: name, kind: 'column' as const, detail: `${String(c?.type ?? '')} · ${ref.table}`, insertText: quoteIfNeeded(name) };
        });
      })
    );
    const seen = new Set<string>();
    return lists.flat().filter((c) => c.label !== '' && !seen.has(c.label) && seen.add(c.label) !== undefined);
  }

  private async mapKeys(sql: string): Promise<CompletionItem[]> {
    const ref = tablesInQuery(sql)[0];
    const params: Record<string, string> = {};
    if (ref?.database) {
      params.database = ref.database;
    }
    if (ref) {
      params.table = ref.table;
    }
    const rows = await this.resource('tag-keys', params);
    return (Array.isArray(rows) ? rows : [])
      .map((r) => String((r as { text?: unknown })?.text ?? ''))
      .filter((k) => k !== '' && !k.includes('['))
      .map((key) => ({ label: key, kind: 'mapKey' as const, detail: 'map key', insertText: key.replace(/\\/g, '\\\\').replace(/'/g, "\\'") }));
  }
}
