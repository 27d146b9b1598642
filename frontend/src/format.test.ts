import { formatQuerySql, protect, restore } from './format';

describe('Format SQL', () => {
  it('swaps macros (with balanced arguments) and variables for placeholders and back', () => {
    const sql = "select $__timeInterval(ts) t from $__table where $__timeFilter(toDateTime(ts, 'UTC')) and s = '$service' and h in (${hosts:csv}) and [[env]] = 1 and $conditionalTest(x = ')', $v)";
    const { text, originals } = protect(sql);
    expect(text).toBe(
      "select __lantern_ref_0__ t from __lantern_ref_1__ where __lantern_ref_2__ and s = '__lantern_ref_3__' and h in (__lantern_ref_4__) and __lantern_ref_5__ = 1 and __lantern_ref_6__"
    );
    expect(originals).toEqual([
      '$__timeInterval(ts)',
      '$__table',
      "$__timeFilter(toDateTime(ts, 'UTC'))",
      '$service',
      '${hosts:csv}',
      '[[env]]',
      "$conditionalTest(x = ')', $v)",
    ]);
    expect(restore(text.toUpperCase().replace(/__LANTERN_REF_(\d+)__/g, '__lantern_ref_$1__'), originals)).toContain(
      "WHERE $__timeFilter(toDateTime(ts, 'UTC')) AND S = '$service'"
    );
  });

  it('names an unbalanced macro call', () => {
    expect(() => protect('select $__timeFilter(ts from t')).toThrow('unbalanced parentheses after $__timeFilter');
  });

  it('passes the SQL to formatQuery as one escaped literal', () => {
    expect(formatQuerySql("select 'it''s', '\\\\'\nfrom t")).toBe("SELECT formatQuery('select \\'it\\'\\'s\\', \\'\\\\\\\\\\'\\nfrom t') AS formatted");
  });
});
