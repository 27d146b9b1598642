// "Format SQL": ClickHouse formats the query (`formatQuery`), so the result is the server's own
// reading of it. Macros and template variables are not SQL, so they are swapped for placeholder
// identifiers first and put back afterwards: `$__timeFilter(ts)` (with its balanced arguments),
// `$name`, `${name…}` and `[[name…]]`, also inside string literals. ClickHouse's formatter drops
// comments; SQL it cannot parse is an error naming why, and the text is left as it was.

/** The SQL with each macro / variable reference replaced by a placeholder, and the originals. */
export function protect(sql: string): { text: string; originals: string[] } {
  const originals: string[] = [];
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    const ref = /^\$\{[^}]*\}|^\[\[[^\]]*\]\]|^\$[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (!ref) {
      out += sql[i];
      i++;
      continue;
    }
    let end = i + ref[0].length;
    if (ref[0].startsWith('$') && !ref[0].startsWith('${')) {
      // Function macros: the balanced argument list belongs to the reference.
      let j = end;
      while (j < sql.length && (sql[j] === ' ' || sql[j] === '\t')) {
        j++;
      }
      if (sql[j] === '(') {
        const close = matchingParen(sql, j);
        if (close < 0) {
          throw new Error(`unbalanced parentheses after ${ref[0]}`);
        }
        end = close + 1;
      }
    }
    out += placeholder(originals.length);
    originals.push(sql.slice(i, end));
    i = end;
  }
  return { text: out, originals };
}

function placeholder(n: number): string {
  return `__lantern_ref_${n}__`;
}

/** Index of the `)` closing the `(` at `open`, skipping quoted text; -1 when there is none. */
function matchingParen(sql: string, open: number): number {
  let depth = 0;
  for (let i = open; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '`') {
      for (i++; i < sql.length && sql[i] !== c; i++) {
        if (sql[i] === '\\') {
          i++;
        }
      }
    } else if (c === '(') {
      depth++;
    } else if (c === ')') {
      depth--;
      if (depth === 0) {
        return i;
      }
    }
  }
  return -1;
}

/** The formatted text with the original references back in place of the placeholders. */
export function restore(formatted: string, originals: string[]): string {
  return formatted.replace(/__lantern_ref_(\d+)__/g, (m, n) => originals[Number(n)] ?? m);
}

/** `SELECT formatQuery('…')` for `sql` (a ClickHouse string literal, backslash-escaped). */
export function formatQuerySql(sql: string): string {
  const literal = sql.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  return `SELECT formatQuery('${literal}') AS formatted`;
}
