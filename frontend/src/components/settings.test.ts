import {
  effectiveProtocol,
  parsePortInput,
  renameHeader,
  setHeaderSecure,
  setHeaderValue,
  setSignalSettings,
  Settings,
  validateHost,
  validatePort,
  validateSeconds,
} from './settings';

function opts(partial: Partial<Settings>): Settings {
  return { jsonData: {}, secureJsonFields: {}, secureJsonData: {}, ...partial } as Settings;
}

describe('settings helpers', () => {
  it('parsePortInput keeps numbers numeric and invalid text as text', () => {
    expect(parsePortInput('8123')).toBe(8123);
    expect(parsePortInput(' 9000 ')).toBe(9000);
    expect(parsePortInput('')).toBeUndefined();
    expect(parsePortInput('12a')).toBe('12a');
  });

  it('validatePort accepts 1..65535 as number or numeric string', () => {
    expect(validatePort(1)).toBeUndefined();
    expect(validatePort(65535)).toBeUndefined();
    expect(validatePort('8123')).toBeUndefined();
    expect(validatePort(0)).toMatch(/between 1 and 65535/);
    expect(validatePort(65536)).toMatch(/between 1 and 65535/);
    expect(validatePort(80.5)).toMatch(/between 1 and 65535/);
    expect(validatePort('x')).toMatch(/between 1 and 65535/);
    expect(validatePort(undefined)).toBe('Port is required');
  });

  it('validateHost requires a bare host name', () => {
    expect(validateHost('ch.example.com')).toBeUndefined();
    expect(validateHost('10.0.0.1')).toBeUndefined();
    expect(validateHost('  ')).toBe('Host is required');
    expect(validateHost('https://ch')).toMatch(/host name only/);
    expect(validateHost('a b')).toMatch(/spaces/);
  });

  it('validateSeconds allows empty and positive numbers (string or number)', () => {
    expect(validateSeconds(undefined)).toBeUndefined();
    expect(validateSeconds('')).toBeUndefined();
    expect(validateSeconds('10')).toBeUndefined();
    expect(validateSeconds(2.5)).toBeUndefined();
    expect(validateSeconds('0')).toMatch(/positive/);
    expect(validateSeconds('ten')).toMatch(/positive/);
  });

  it('effectiveProtocol reads grafana-style secure flags', () => {
    expect(effectiveProtocol({})).toBe('http');
    expect(effectiveProtocol({ protocol: 'http', secure: true })).toBe('https');
    expect(effectiveProtocol({ protocol: 'https' })).toBe('https');
    expect(effectiveProtocol({ protocol: 'native', secure: true })).toBe('native');
  });

  it('an unsaved secure header value follows the header when it is renamed', () => {
    let o = opts({ jsonData: { httpHeaders: [{ name: 'X-A', value: '', secure: true }] } });
    o = setHeaderValue(o, 0, 'secret');
    expect(o.secureJsonData).toEqual({ 'secureHttpHeaders.X-A': 'secret' });
    o = renameHeader(o, 0, 'X-AB');
    expect(o.secureJsonData).toEqual({ 'secureHttpHeaders.X-AB': 'secret' });
    expect(o.secureJsonFields).toEqual({});
    expect(o.jsonData.httpHeaders).toEqual([{ name: 'X-AB', value: '', secure: true }]);
  });

  it('making a header non-secure brings an unsaved value back to jsonData and resets a stored one', () => {
    let o = opts({ jsonData: { httpHeaders: [{ name: 'X-A', value: '', secure: true }] } });
    o = setHeaderValue(o, 0, 'typed');
    o = setHeaderSecure(o, 0, false);
    expect(o.jsonData.httpHeaders).toEqual([{ name: 'X-A', value: 'typed', secure: false }]);
    expect(o.secureJsonData).toEqual({});

    let s = opts({
      jsonData: { httpHeaders: [{ name: 'X-S', value: '', secure: true }] },
      secureJsonFields: { 'secureHttpHeaders.X-S': true },
    });
    s = setHeaderSecure(s, 0, false);
    expect(s.jsonData.httpHeaders).toEqual([{ name: 'X-S', value: '', secure: false }]);
    expect(s.secureJsonFields).toEqual({ 'secureHttpHeaders.X-S': false });
    expect(s.secureJsonData).toEqual({ 'secureHttpHeaders.X-S': '' });
  });

  it('setSignalSettings merges into jsonData.logs / traces and drops blank values', () => {
    const base = opts({ jsonData: { host: 'h', logs: { defaultTable: 'otel_logs' } } });
    const a = setSignalSettings(base, 'logs', { levelColumn: 'lvl', contextColumns: ['PodName'] });
    expect(a.jsonData).toEqual({ host: 'h', logs: { defaultTable: 'otel_logs', levelColumn: 'lvl', contextColumns: ['PodName'] } });
    expect(base.jsonData.logs).toEqual({ defaultTable: 'otel_logs' });
    const b = setSignalSettings(a, 'logs', { defaultTable: '  ', contextColumns: [] });
    expect(b.jsonData.logs).toEqual({ levelColumn: 'lvl' });
    const c = setSignalSettings(b, 'logs', { levelColumn: '' });
    expect(c.jsonData).toEqual({ host: 'h' });
    expect(setSignalSettings(c, 'traces', { defaultDatabase: 'otel' }).jsonData).toEqual({ host: 'h', traces: { defaultDatabase: 'otel' } });
  });
});
