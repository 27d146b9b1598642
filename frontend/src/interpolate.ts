/**
 * Browser-side substitution of dashboard variables in rawSql, for the queries Grafana opens in
 * Explore or copies (`DataSource.interpolateVariablesInQueries`). Regular queries do not use
 * this: the backend expands variables from `templateVars` itself.
 *
 * The SQL is split like the backend's scanner splits it (`src/macros/scan.rs`), so a value can
 * never change the SQL's shape:
 *
 * - code: `sqlFormatter` (a single number as-is, anything else a single-quoted literal, several
 *   values a comma-joined list of literals, no value `''`);
 * - inside `'…'`: the escaped literal content, no quotes added (`'$service'` stays one literal);
 * - inside `` `…` `` / `"…"`: the identifier content with `\` and the quote escaped;
 * - comments and `$tag$…$tag$` heredocs: left as written (the backend does not expand there).
 *
 * `$__…` references (`$__timeFilter(…)`, `${__from}`, `[[__interval]]`, …) are never handed to
 * templateSrv, so the backend still expands them with Explore's time range and interval. The
 * conditionals whose last argument must stay a variable reference, `$__conditionalAll(cond, $v)`
 * and `$conditionalTest(sql[, sql_else], $v)`, are resolved first, as the backend would.
 */

/** `templateSrv.replace`-compatible function: substitutes variables in `text` with `format`. */
export type ReplaceFn = (text: string, format: VariableFormatter) => string;

/** Grafana calls a function format with the variable's value (a string, or an array when multi / All). */
export type VariableFormatter = (value: unknown) => string;

const NUMBER = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

/** ClickHouse string literal content: `\` and `'` (and control characters) backslash-escaped. */
export function escapeStringContent(v: string): string {
  return v.replace(/[\\'\n\r\t\0]/g, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      case '\0':
        return '\\0';
      default:
        return '\\' + c;
    }
  });
}

export function quoteString(v: string): string {
  return `'${escapeStringContent(v)}'`;
}

function valueList(value: unknown): string[] | undefined {
  if (Array.isArray(value)) {
    return value.map((v) => String(v ?? ''));
  }
  return undefined;
}

/**
 * Formatter for variables in code: one value as-is when it is a number, else single-quoted;
 * several values (multi-value / "All") a comma-joined list of single-quoted literals; an empty
 * selection `''` so `IN ($v)` stays valid.
 */
export const sqlFormatter: VariableFormatter = (value) => {
  const list = valueList(value);
  if (list) {
    return list.length === 0 ? "''" : list.map(quoteString).join(',');
  }
  if (typeof value === 'number') {
    return String(value);
  }
  const s = value === undefined || value === null ? '' : String(value);
  return NUMBER.test(s) ? s : quoteString(s);
};

/** Formatter inside `'…'`: escaped content of each value, comma-joined, no quotes. */
export const stringContentFormatter: VariableFormatter = (value) =>
  (valueList(value) ?? [value === undefined || value === null ? '' : String(value)]).map(escapeStringContent).join(',');

/** Formatter inside a quoted identifier opened with `quote`. */
export function identifierContentFormatter(quote: '`' | '"'): VariableFormatter {
  const escape = (v: string) => v.replace(quote === '`' ? /[\\`]/g : /[\\"]/g, (c) => '\\' + c);
  return (value) => (valueList(value) ?? [value === undefined || value === null ? '' : String(value)]).map(escape).join(',');
}

type Region = 'string' | 'backtick' | 'double' | 'opaque';

/**
 * End (exclusive) of a region quoted by `q` starting at `start`: `\` escapes, a doubled quote is
 * one quote. Unterminated regions run to the end of the input (`closed: false`).
 */
function quotedEnd(s: string, start: number, q: string): { end: number; closed: boolean } {
  let i = start + 1;
  while (i < s.length) {
    const c = s[i];
    if (c === '\\') {
      i += 2;
    } else if (c === q) {
      if (s[i + 1] === q) {
        i += 2;
      } else {
        return { end: i + 1, closed: true };
      }
    } else {
      i += 1;
    }
  }
  return { end: s.length, closed: false };
}

/** `$tag$…$tag$` heredoc (tag may be empty); only when the closing tag exists. */
function dollarQuoteEnd(s: string, i: number): number | undefined {
  const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(s.slice(i));
  if (!m) {
    return undefined;
  }
  const p = s.indexOf(m[0], i + m[0].length);
  return p < 0 ? undefined : p + m[0].length;
}

/** The opaque region (as the backend's scanner sees it) starting at `i`, if any. */
function regionAt(s: string, i: number): { kind: Region; end: number; closed?: boolean } | undefined {
  const c = s[i];
  if (c === "'") {
    return { kind: 'string', ...quotedEnd(s, i, "'") };
  }
  if (c === '"') {
    return { kind: 'double', ...quotedEnd(s, i, '"') };
  }
  if (c === '`') {
    return { kind: 'backtick', ...quotedEnd(s, i, '`') };
  }
  if (c === '-' && s[i + 1] === '-') {
    const nl = s.indexOf('\n', i);
    return { kind: 'opaque', end: nl < 0 ? s.length : nl };
  }
  if (c === '/' && s[i + 1] === '*') {
    const close = s.indexOf('*/', i + 2);
    return { kind: 'opaque', end: close < 0 ? s.length : close + 2 };
  }
  if (c === '$') {
    const end = dollarQuoteEnd(s, i);
    return end === undefined ? undefined : { kind: 'opaque', end };
  }
  return undefined;
}

/** Built-in / macro references that must reach the backend untouched. */
const MACRO_REF = /\$__[A-Za-z0-9_]*|\$\{__[^}]*\}|\[\[__[^\]]*\]\]/g;

/** Runs `replace` on `text` except on `$__…` references. */
function replaceOutsideMacros(text: string, format: VariableFormatter, replace: ReplaceFn): string {
  let out = '';
  let last = 0;
  for (const m of text.matchAll(MACRO_REF)) {
    const at = m.index ?? 0;
    if (at > last) {
      out += replace(text.slice(last, at), format);
    }
    out += m[0];
    last = at + m[0].length;
  }
  if (last < text.length) {
    out += replace(text.slice(last), format);
  }
  return out;
}

/** Substitutes dashboard variables in `sql` (see the module comment). */
export function interpolateSql(sql: string, replace: ReplaceFn): string {
  let out = '';
  let code = 0; // start of the pending code run
  const flushCode = (end: number) => {
    if (end > code) {
      out += replaceOutsideMacros(sql.slice(code, end), sqlFormatter, replace);
    }
  };
  let i = 0;
  while (i < sql.length) {
    const region = regionAt(sql, i);
    if (!region) {
      i += 1;
      continue;
    }
    flushCode(i);
    const text = sql.slice(i, region.end);
    if (region.kind === 'opaque') {
      out += text;
    } else {
      const quote = text[0];
      const closed = region.closed === true;
      const inner = text.slice(1, closed ? -1 : undefined);
      const format =
        region.kind === 'string' ? stringContentFormatter : identifierContentFormatter(region.kind === 'backtick' ? '`' : '"');
      out += quote + replaceOutsideMacros(inner, format, replace) + (closed ? quote : '');
    }
    i = region.end;
    code = i;
  }
  flushCode(sql.length);
  return out;
}

/**
 * Whether a dashboard variable is "All" or has no value (`undefined`: no such variable); decides
 * the conditionals.
 */
export type AllOrEmptyFn = (name: string) => boolean | undefined;

/** Parses the `( … )` argument list opening at `open` (commas at depth 0, outside quotes/comments). */
function parseCall(s: string, open: number): { args: string[]; end: number } | undefined {
  let depth = 0;
  let i = open + 1;
  let argStart = i;
  const args: string[] = [];
  while (i < s.length) {
    const region = regionAt(s, i);
    if (region) {
      i = region.end;
      continue;
    }
    const c = s[i];
    if (c === '(' || c === '[' || c === '{') {
      depth += 1;
    } else if ((c === ')' || c === ']' || c === '}') && depth > 0) {
      depth -= 1;
    } else if (c === ')') {
      args.push(s.slice(argStart, i).trim());
      if (args.length === 1 && args[0] === '') {
        args.length = 0;
      }
      return { args, end: i + 1 };
    } else if (c === ',' && depth === 0) {
      args.push(s.slice(argStart, i).trim());
      argStart = i + 1;
    }
    i += 1;
  }
  return undefined;
}

/** `$name`, `${name}` or `${name:fmt}` as a whole argument: the name. */
function variableArg(arg: string): string | undefined {
  const m = /^\$(?:([A-Za-z0-9_]+)|\{([A-Za-z0-9_]+)(?::[A-Za-z0-9_]*)?\})$/.exec(arg);
  return m ? (m[1] ?? m[2]) : undefined;
}

const CONDITIONAL = /^\$(__conditionalAll|conditionalTest)\(/;

/**
 * Replaces `$__conditionalAll(cond, $v)` by `1=1` (v "All" or empty) or `cond`, and
 * `$conditionalTest(sql[, sql_else], $v)` by ` sql ` or (v "All" or empty) ` sql_else ` / ` `.
 * Calls the backend would reject or leave as written (wrong arity, last argument not a known
 * variable) stay as written.
 */
export function resolveConditionals(sql: string, allOrEmpty: AllOrEmptyFn): string {
  let out = '';
  let i = 0;
  let last = 0;
  while (i < sql.length) {
    const region = regionAt(sql, i);
    if (region) {
      i = region.end;
      continue;
    }
    const m = sql[i] === '$' ? CONDITIONAL.exec(sql.slice(i)) : null;
    const call = m ? parseCall(sql, i + m[0].length - 1) : undefined;
    if (!m || !call) {
      i += 1;
      continue;
    }
    const { args } = call;
    const variable = args.length > 0 ? variableArg(args[args.length - 1]) : undefined;
    const all = variable === undefined ? undefined : allOrEmpty(variable);
    let replacement: string | undefined;
    if (m[1] === '__conditionalAll') {
      if (args.length === 2) {
        // Unknown variable: the condition, as the backend does.
        replacement = all === true ? '1=1' : resolveConditionals(args[0], allOrEmpty);
      }
    } else if ((args.length === 2 || args.length === 3) && all !== undefined) {
      if (!all) {
        replacement = ` ${resolveConditionals(args[0], allOrEmpty)} `;
      } else {
        replacement = args.length === 3 ? ` ${resolveConditionals(args[1], allOrEmpty)} ` : ' ';
      }
    }
    if (replacement === undefined) {
      i += 1;
      continue;
    }
    out += sql.slice(last, i) + replacement;
    i = call.end;
    last = i;
  }
  return out + sql.slice(last);
}
