// Pure helpers behind the ConfigEditor: every edit is options -> options, so the secure-field
// bookkeeping (jsonData vs secureJsonData, Grafana's secureJsonFields reset pattern) is testable
// without rendering.
import { DataSourceSettings } from '@grafana/data';

import {
  HttpHeader,
  LanternOptions,
  LanternSecureJsonData,
  LogsSettings,
  Protocol,
  SECURE_HEADER_PREFIX,
  TracesSettings,
} from '../types';

export type Settings = DataSourceSettings<LanternOptions, LanternSecureJsonData>;
type SecureKey = keyof LanternSecureJsonData & string;

export const DEFAULT_PORTS: Record<Protocol, number> = { http: 8123, https: 8443 };
const KNOWN_DEFAULT_PORTS = new Set([8123, 8443, 9000, 9440]);

export function secureHeaderKey(name: string): `secureHttpHeaders.${string}` {
  return `${SECURE_HEADER_PREFIX}${name}`;
}

export function setJsonData(options: Settings, patch: Partial<LanternOptions>): Settings {
  return { ...options, jsonData: { ...options.jsonData, ...patch } };
}

export function setSecureValue(options: Settings, key: SecureKey, value: string): Settings {
  return { ...options, secureJsonData: { ...(options.secureJsonData ?? {}), [key]: value } };
}

/**
 * Edits jsonData.logs / jsonData.traces. Blank strings and empty lists are removed (the backend
 * treats a missing key as "recognise from the schema"); the object is dropped when nothing is left.
 */
export function setSignalSettings<K extends 'logs' | 'traces'>(
  options: Settings,
  signal: K,
  patch: K extends 'logs' ? Partial<LogsSettings> : Partial<TracesSettings>
): Settings {
  const merged: Record<string, unknown> = { ...(options.jsonData[signal] ?? {}), ...patch };
  for (const [k, v] of Object.entries(merged)) {
    if (v === undefined || (typeof v === 'string' && v.trim() === '') || (Array.isArray(v) && v.length === 0)) {
      delete merged[k];
    }
  }
  const jsonData: LanternOptions = { ...options.jsonData };
  if (Object.keys(merged).length > 0) {
    (jsonData as Record<string, unknown>)[signal] = merged;
  } else {
    delete jsonData[signal];
  }
  return { ...options, jsonData };
}

/** Grafana's reset pattern: the stored secret is deleted on save. */
export function resetSecureValue(options: Settings, key: SecureKey): Settings {
  return {
    ...options,
    secureJsonFields: { ...(options.secureJsonFields ?? {}), [key]: false },
    secureJsonData: { ...(options.secureJsonData ?? {}), [key]: '' },
  };
}

export function isConfigured(options: Settings, key: string): boolean {
  return Boolean(options.secureJsonFields?.[key]);
}

/**
 * Effective protocol shown in the UI: grafana/clickhouse-datasource files say
 * `protocol: http` + `secure: true` for HTTPS.
 */
export function effectiveProtocol(jsonData: LanternOptions): Protocol | 'native' {
  if (jsonData.protocol === 'native') {
    return 'native';
  }
  return jsonData.protocol === 'https' || jsonData.secure ? 'https' : 'http';
}

/** Switching protocol keeps `secure` in step and moves a default port to the new default. */
export function setProtocol(options: Settings, protocol: Protocol): Settings {
  const patch: Partial<LanternOptions> = { protocol, secure: protocol === 'https' };
  const port = options.jsonData.port;
  const portNum = typeof port === 'number' ? port : Number(port);
  if (port === undefined || port === '' || KNOWN_DEFAULT_PORTS.has(portNum)) {
    patch.port = DEFAULT_PORTS[protocol];
  }
  return setJsonData(options, patch);
}

/** Port input text -> stored value (number when it is an integer, else the raw text). */
export function parsePortInput(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') {
    return undefined;
  }
  return /^\d+$/.test(t) ? Number(t) : t;
}

export function validatePort(port: number | string | undefined): string | undefined {
  if (port === undefined || port === '') {
    return 'Port is required';
  }
  const n = typeof port === 'number' ? port : /^\s*\d+\s*$/.test(port) ? Number(port) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    return 'Port must be a whole number between 1 and 65535';
  }
  return undefined;
}

export function validateHost(host: string | undefined): string | undefined {
  const h = (host ?? '').trim();
  if (h === '') {
    return 'Host is required';
  }
  if (h.includes('://')) {
    return 'Enter the host name only; choose HTTP/HTTPS under Protocol';
  }
  if (/\s/.test(h)) {
    return 'Host must not contain spaces';
  }
  return undefined;
}

/** Timeouts are seconds; empty means the backend default. */
export function validateSeconds(value: string | number | undefined): string | undefined {
  if (value === undefined || value === '') {
    return undefined;
  }
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    return 'Enter a positive number of seconds';
  }
  return undefined;
}

// ---- HTTP headers --------------------------------------------------------------------------

function headers(options: Settings): HttpHeader[] {
  return options.jsonData.httpHeaders ?? [];
}

function withHeaders(options: Settings, list: HttpHeader[]): Settings {
  return setJsonData(options, { httpHeaders: list });
}

/**
 * Forget the secret of a secure header: stored secrets are reset (deleted on save), values only
 * typed in this session are dropped, existing reset markers are kept.
 */
function dropSecret(options: Settings, name: string): Settings {
  const key = secureHeaderKey(name);
  const fields = options.secureJsonFields ?? {};
  if (fields[key] === true) {
    return resetSecureValue(options, key);
  }
  if (fields[key] === false) {
    return options;
  }
  if (options.secureJsonData && key in options.secureJsonData) {
    const data = { ...options.secureJsonData };
    delete data[key];
    return { ...options, secureJsonData: data };
  }
  return options;
}

/** A secret typed in this session and not yet saved (reset markers do not count). */
function pendingSecret(options: Settings, name: string): string | undefined {
  const key = secureHeaderKey(name);
  if (options.secureJsonFields?.[key] === false) {
    return undefined;
  }
  const v = options.secureJsonData?.[key];
  return v === '' ? undefined : v;
}

export function addHeader(options: Settings): Settings {
  return withHeaders(options, [...headers(options), { name: '', value: '', secure: false }]);
}

export function removeHeader(options: Settings, index: number): Settings {
  const list = headers(options);
  const h = list[index];
  if (!h) {
    return options;
  }
  const next = h.secure ? dropSecret(options, h.name) : options;
  return withHeaders(next, list.filter((_, i) => i !== index));
}

export function renameHeader(options: Settings, index: number, name: string): Settings {
  const list = headers(options);
  const h = list[index];
  if (!h || h.name === name) {
    return options;
  }
  let next = options;
  if (h.secure) {
    const moved = pendingSecret(options, h.name);
    next = dropSecret(next, h.name);
    if (moved !== undefined) {
      next = setSecureValue(next, secureHeaderKey(name), moved);
    }
  }
  return withHeaders(next, list.map((x, i) => (i === index ? { ...x, name } : x)));
}

export function setHeaderValue(options: Settings, index: number, value: string): Settings {
  const list = headers(options);
  const h = list[index];
  if (!h) {
    return options;
  }
  if (h.secure) {
    return setSecureValue(options, secureHeaderKey(h.name), value);
  }
  return withHeaders(options, list.map((x, i) => (i === index ? { ...x, value } : x)));
}

export function setHeaderSecure(options: Settings, index: number, secure: boolean): Settings {
  const list = headers(options);
  const h = list[index];
  if (!h || h.secure === secure) {
    return options;
  }
  let next = options;
  let value = '';
  if (secure) {
    if (h.value !== '') {
      next = setSecureValue(next, secureHeaderKey(h.name), h.value);
    }
  } else {
    value = pendingSecret(options, h.name) ?? '';
    next = dropSecret(next, h.name);
  }
  return withHeaders(next, list.map((x, i) => (i === index ? { ...x, secure, value } : x)));
}

export function resetHeaderSecret(options: Settings, index: number): Settings {
  const h = headers(options)[index];
  return h ? resetSecureValue(options, secureHeaderKey(h.name)) : options;
}
