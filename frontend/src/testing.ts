// Test helper (imported by *.test.ts only): a DataSource with the given jsonData, without Grafana.
import { DataSource } from './datasource';
import { LanternOptions } from './types';

export function testDatasource(jsonData: LanternOptions = {}, name = 'Lantern'): DataSource {
  return new DataSource({
    id: 1,
    uid: 'lantern',
    type: 'lantern-clickhouse-datasource',
    name,
    access: 'proxy',
    readOnly: false,
    jsonData,
    meta: { id: 'lantern-clickhouse-datasource' },
  } as never);
}
