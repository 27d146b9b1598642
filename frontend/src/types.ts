import { DataSourceJsonData } from '@grafana/data';
import { DataQuery } from '@grafana/schema';

/** Result shape; numeric like grafana/clickhouse-datasource so its dashboards read the same. */
export enum Format {
  TIME_SERIES = 0,
  TABLE = 1,
  LOGS = 2,
  TRACES = 3,
}

export type QueryType = 'table' | 'timeseries' | 'logs' | 'traces';

export const FORMAT_TO_QUERY_TYPE: Record<Format, QueryType> = {
  [Format.TIME_SERIES]: 'timeseries',
  [Format.TABLE]: 'table',
  [Format.LOGS]: 'logs',
  [Format.TRACES]: 'traces',
};

/**
 * Value of one dashboard variable referenced by the SQL. The backend expands `$name`, `${name}`,
 * `${name:fmt}` and `[[name]]` from these (the frontend leaves rawSql untouched), so alert rules
 * and dashboards run the same SQL.
 */
export interface TemplateVarValue {
  /**
   * Selected values as strings. When "All" is selected: every option's value (without the
   * `$__all` option itself), or [] when the variable has a custom all value.
   */
  values: string[];
  /** Display text (multi-values joined with " + ", as Grafana does). */
  text: string;
  /** The variable allows several values. */
  multi: boolean;
  /** The variable offers "All". */
  includeAll: boolean;
  /** "All" is the current selection. */
  allSelected: boolean;
  /** The variable's custom all value, set only when "All" is selected and it has one. */
  customAllValue?: string;
}

/**
 * One ad hoc filter. Grafana's multi-value operators (`=|` one of, `!=|` none of) are one entry
 * with every value in `values` (the backend renders `key IN (...)` / `key NOT IN (...)`) and the
 * first value (or "") in `value`; other operators have `value` only.
 */
export interface AdHocFilter {
  key: string;
  operator: string;
  value: string;
  values?: string[];
}

export interface LanternQuery extends DataQuery {
  editorType: 'sql';
  rawSql: string;
  format: Format;
  queryType?: QueryType;
  meta?: { timezone?: string };
  templateVars?: Record<string, TemplateVarValue>;
  adHocFilters?: AdHocFilter[];
}

export const DEFAULT_QUERY: Partial<LanternQuery> = {
  editorType: 'sql',
  rawSql: '',
  format: Format.TABLE,
};

export type Protocol = 'http' | 'https';

export interface CustomSetting {
  setting: string;
  value: string;
}

export interface HttpHeader {
  name: string;
  /** Empty when `secure`: the value lives in secureJsonData["secureHttpHeaders.<name>"]. */
  value: string;
  secure: boolean;
}

/**
 * jsonData of the datasource. Keys match grafana/clickhouse-datasource, so its provisioning
 * files work after changing only `type`.
 */
export interface LanternOptions extends DataSourceJsonData {
  host?: string;
  port?: number | string;
  /** 'native' may arrive from a grafana/clickhouse-datasource file; it is not supported. */
  protocol?: Protocol | 'native';
  /** TLS. */
  secure?: boolean;
  /** HTTP URL path. */
  path?: string;
  username?: string;
  defaultDatabase?: string;
  tlsSkipVerify?: boolean;
  tlsAuth?: boolean;
  tlsAuthWithCACert?: boolean;
  /** Seconds. */
  dialTimeout?: string | number;
  /** Seconds. */
  queryTimeout?: string | number;
  customSettings?: CustomSetting[];
  httpHeaders?: HttpHeader[];
}

export const SECURE_HEADER_PREFIX = 'secureHttpHeaders.';

export interface LanternSecureJsonData {
  password?: string;
  tlsCACert?: string;
  tlsClientCert?: string;
  tlsClientKey?: string;
  [secureHeader: `secureHttpHeaders.${string}`]: string | undefined;
}

/** Body of POST resources/expand. */
export interface ExpandRequest {
  query: LanternQuery;
  timeRange: { from: number; to: number };
  intervalMs: number;
  maxDataPoints: number;
}

export interface ExpandResponse {
  sql: string;
  client?: string;
}
