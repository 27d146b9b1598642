import { CustomVariableSupport, DataQueryRequest, DataQueryResponse } from '@grafana/data';
import { Observable } from 'rxjs';

import { QueryEditor } from './components/QueryEditor';
import type { DataSource } from './datasource';
import { switchMode } from './queryModel';
import { Format, LanternQuery } from './types';

/**
 * Query variables: the variable's query is a normal Lantern SQL query (the same object a panel
 * saves, as in grafana/clickhouse-datasource), run as a table. Grafana takes the options from the
 * first field, or from `__text` / `__value` columns. Legacy variables saved as a plain SQL string
 * are accepted too.
 */
export class LanternVariableSupport extends CustomVariableSupport<DataSource, LanternQuery> {
  editor = QueryEditor;

  constructor(private readonly datasource: DataSource) {
    super();
  }

  query(request: DataQueryRequest<LanternQuery>): Observable<DataQueryResponse> {
    const targets = request.targets.map((t) => toVariableQuery(t as LanternQuery | string));
    return this.datasource.query({ ...request, targets });
  }
}

export function toVariableQuery(target: LanternQuery | string): LanternQuery {
  if (typeof target === 'string') {
    return { refId: 'variable-query', editorType: 'sql', rawSql: target, format: Format.TABLE };
  }
  // Variables are SQL tables: structured parts (builder...) are dropped, the backend would plan them.
  return { ...switchMode(target, 'sql'), format: Format.TABLE, queryType: 'table' };
}
