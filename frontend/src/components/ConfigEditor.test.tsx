import { fireEvent, render, screen } from '@testing-library/react';
import { useState } from 'react';

import { LanternOptions, LanternSecureJsonData } from '../types';
import { ConfigEditor } from './ConfigEditor';
import { Settings } from './settings';

function settings(jsonData: Partial<LanternOptions> = {}, extra: Partial<Settings> = {}): Settings {
  return {
    id: 1,
    uid: 'lantern',
    orgId: 1,
    name: 'Lantern ClickHouse',
    type: 'lantern-clickhouse-datasource',
    typeName: 'Lantern ClickHouse',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    withCredentials: false,
    readOnly: false,
    jsonData: jsonData as LanternOptions,
    secureJsonFields: {},
    secureJsonData: {} as LanternSecureJsonData,
    ...extra,
  } as Settings;
}

/** Renders the editor the way Grafana does: every onOptionsChange becomes the next props. */
function setup(initial: Settings) {
  const changes: Settings[] = [];
  function Harness() {
    const [options, setOptions] = useState(initial);
    return (
      <ConfigEditor
        options={options}
        onOptionsChange={(o) => {
          changes.push(o);
          setOptions(o);
        }}
      />
    );
  }
  render(<Harness />);
  return { last: () => changes[changes.length - 1], changes };
}

const type = (el: HTMLElement, value: string) => fireEvent.change(el, { target: { value } });

describe('ConfigEditor', () => {
  it('writes host, port, path, username, database and timeouts into jsonData', () => {
    const { last } = setup(settings());
    type(screen.getByLabelText(/^Host/), 'ch.internal');
    type(screen.getByLabelText(/^Port/), '8123');
    type(screen.getByLabelText(/^HTTP URL path/), '/clickhouse');
    type(screen.getByLabelText('Username'), 'grafana');
    type(screen.getByLabelText(/^Default database/), 'otel');
    type(screen.getByLabelText('Dial timeout (seconds)'), '5');
    type(screen.getByLabelText('Query timeout (seconds)'), '120');
    expect(last().jsonData).toEqual({
      host: 'ch.internal',
      port: 8123,
      path: '/clickhouse',
      username: 'grafana',
      defaultDatabase: 'otel',
      dialTimeout: '5',
      queryTimeout: '120',
    });
    expect(last().secureJsonData).toEqual({});
  });

  it('stores the password only in secureJsonData and supports reset', () => {
    const { last } = setup(settings({ host: 'h', port: 8123 }, { secureJsonFields: { password: true } }));
    // configured: the input is disabled and shows a Reset button
    expect(screen.getByLabelText('Password')).toBeDisabled();
    fireEvent.click(screen.getAllByRole('button', { name: 'Reset' })[0]);
    expect(last().secureJsonFields).toEqual({ password: false });
    expect(last().secureJsonData).toEqual({ password: '' });
    type(screen.getByLabelText('Password'), 's3cret');
    expect(last().secureJsonData).toEqual({ password: 's3cret' });
    expect(JSON.stringify(last().jsonData)).not.toContain('s3cret');
  });

  it('validates host and port', () => {
    setup(settings({ host: 'h', port: 8123 }));
    expect(screen.queryByText(/Port must be/)).not.toBeInTheDocument();

    type(screen.getByLabelText(/^Port/), '70000');
    expect(screen.getByText('Port must be a whole number between 1 and 65535')).toBeInTheDocument();
    type(screen.getByLabelText(/^Port/), '0');
    expect(screen.getByText('Port must be a whole number between 1 and 65535')).toBeInTheDocument();
    type(screen.getByLabelText(/^Port/), 'abc');
    expect(screen.getByText('Port must be a whole number between 1 and 65535')).toBeInTheDocument();
    type(screen.getByLabelText(/^Port/), '');
    expect(screen.getByText('Port is required')).toBeInTheDocument();
    type(screen.getByLabelText(/^Port/), '65535');
    expect(screen.queryByText(/Port must be|Port is required/)).not.toBeInTheDocument();

    type(screen.getByLabelText(/^Host/), '');
    expect(screen.getByText('Host is required')).toBeInTheDocument();
    type(screen.getByLabelText(/^Host/), 'http://ch:8123');
    expect(screen.getByText(/host name only/)).toBeInTheDocument();
  });

  it('switches protocol, keeps secure in step and moves a default port', () => {
    const { last } = setup(settings({ host: 'h', port: 8123, protocol: 'http' }));
    fireEvent.click(screen.getByLabelText('HTTPS'));
    expect(last().jsonData).toMatchObject({ protocol: 'https', secure: true, port: 8443 });
    fireEvent.click(screen.getByLabelText('HTTP'));
    expect(last().jsonData).toMatchObject({ protocol: 'http', secure: false, port: 8123 });
    // a custom port is left alone
    type(screen.getByLabelText(/^Port/), '18123');
    fireEvent.click(screen.getByLabelText('HTTPS'));
    expect(last().jsonData).toMatchObject({ protocol: 'https', secure: true, port: 18123 });
  });

  it('shows grafana-style protocol http + secure true as HTTPS and flags native as unsupported', () => {
    setup(settings({ host: 'h', port: 8443, protocol: 'http', secure: true }));
    expect(screen.getByLabelText('HTTPS')).toBeChecked();
    expect(screen.queryByText('Native protocol is not supported')).not.toBeInTheDocument();
  });

  it('warns about the native protocol', () => {
    setup(settings({ host: 'h', port: 9000, protocol: 'native' }));
    expect(screen.getByText('Native protocol is not supported')).toBeInTheDocument();
    expect(screen.getByLabelText('Native (not supported)')).toBeDisabled();
  });

  it('writes TLS switches to jsonData and certificates to secureJsonData', () => {
    const { last } = setup(settings({ host: 'h', port: 8443, protocol: 'https', secure: true }));
    expect(screen.queryByLabelText('CA certificate')).not.toBeInTheDocument();
    fireEvent.click(screen.getByLabelText(/^Skip TLS verify/));
    fireEvent.click(screen.getByLabelText(/^With CA certificate/));
    fireEvent.click(screen.getByLabelText(/^TLS client authentication/));
    type(screen.getByLabelText('CA certificate'), 'CA PEM');
    type(screen.getByLabelText('Client certificate'), 'CERT PEM');
    type(screen.getByLabelText('Client key'), 'KEY PEM');
    expect(last().jsonData).toMatchObject({ tlsSkipVerify: true, tlsAuthWithCACert: true, tlsAuth: true });
    expect(last().secureJsonData).toEqual({ tlsCACert: 'CA PEM', tlsClientCert: 'CERT PEM', tlsClientKey: 'KEY PEM' });
    expect(JSON.stringify(last().jsonData)).not.toContain('PEM');
  });

  it('edits custom settings', () => {
    const { last } = setup(settings({ host: 'h', port: 8123 }));
    fireEvent.click(screen.getByRole('button', { name: /Add setting/ }));
    type(screen.getByLabelText('Setting name 1'), 'max_threads');
    type(screen.getByLabelText('Setting value 1'), '4');
    fireEvent.click(screen.getByRole('button', { name: /Add setting/ }));
    type(screen.getByLabelText('Setting name 2'), 'readonly');
    type(screen.getByLabelText('Setting value 2'), '1');
    expect(last().jsonData.customSettings).toEqual([
      { setting: 'max_threads', value: '4' },
      { setting: 'readonly', value: '1' },
    ]);
    fireEvent.click(screen.getByRole('button', { name: 'Remove setting 1' }));
    expect(last().jsonData.customSettings).toEqual([{ setting: 'readonly', value: '1' }]);
  });

  it('splits HTTP headers: plain values in jsonData, secure values in secureJsonData', () => {
    const { last } = setup(settings({ host: 'h', port: 8123 }));
    fireEvent.click(screen.getByRole('button', { name: /Add header/ }));
    type(screen.getByLabelText('Header name 1'), 'X-Team');
    type(screen.getByLabelText('Header value 1'), 'observability');
    fireEvent.click(screen.getByRole('button', { name: /Add header/ }));
    type(screen.getByLabelText('Header name 2'), 'X-Token');
    fireEvent.click(screen.getByLabelText('Header secure 2'));
    type(screen.getByLabelText('Header value 2'), 'tok3n');

    expect(last().jsonData.httpHeaders).toEqual([
      { name: 'X-Team', value: 'observability', secure: false },
      { name: 'X-Token', value: '', secure: true },
    ]);
    expect(last().secureJsonData).toEqual({ 'secureHttpHeaders.X-Token': 'tok3n' });
    expect(JSON.stringify(last().jsonData)).not.toContain('tok3n');
  });

  it('moves a plain header value into secureJsonData when it is made secure', () => {
    const { last } = setup(
      settings({ host: 'h', port: 8123, httpHeaders: [{ name: 'Authorization', value: 'Bearer x', secure: false }] })
    );
    fireEvent.click(screen.getByLabelText('Header secure 1'));
    expect(last().jsonData.httpHeaders).toEqual([{ name: 'Authorization', value: '', secure: true }]);
    expect(last().secureJsonData).toEqual({ 'secureHttpHeaders.Authorization': 'Bearer x' });
  });

  it('resets a stored secure header when Reset is clicked', () => {
    const stored = settings(
      { host: 'h', port: 8123, httpHeaders: [{ name: 'X-Key', value: '', secure: true }] },
      { secureJsonFields: { 'secureHttpHeaders.X-Key': true } }
    );
    const a = setup(stored);
    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    expect(a.last().secureJsonFields).toEqual({ 'secureHttpHeaders.X-Key': false });
    expect(a.last().secureJsonData).toEqual({ 'secureHttpHeaders.X-Key': '' });
  });

  it('renaming a stored secure header resets the old secret and removing keeps the reset', () => {
    const stored = settings(
      { host: 'h', port: 8123, httpHeaders: [{ name: 'X-Key', value: '', secure: true }] },
      { secureJsonFields: { 'secureHttpHeaders.X-Key': true } }
    );
    const { last } = setup(stored);
    type(screen.getByLabelText('Header name 1'), 'X-Api-Key');
    expect(last().jsonData.httpHeaders).toEqual([{ name: 'X-Api-Key', value: '', secure: true }]);
    expect(last().secureJsonFields).toEqual({ 'secureHttpHeaders.X-Key': false });
    expect(last().secureJsonData).toEqual({ 'secureHttpHeaders.X-Key': '' });
    type(screen.getByLabelText('Header value 1'), 'new');
    expect(last().secureJsonData).toEqual({ 'secureHttpHeaders.X-Key': '', 'secureHttpHeaders.X-Api-Key': 'new' });
    fireEvent.click(screen.getByRole('button', { name: 'Remove header 1' }));
    expect(last().jsonData.httpHeaders).toEqual([]);
    expect(last().secureJsonData).toEqual({ 'secureHttpHeaders.X-Key': '' });
  });

  it('writes the logs and traces defaults under jsonData.logs / jsonData.traces', () => {
    const { last } = setup(settings({ host: 'h', port: 8123 }));
    type(screen.getByLabelText(/^Logs database/), 'otel');
    type(screen.getByLabelText(/^Logs table/), 'otel_logs');
    type(screen.getByLabelText(/^Time column/), 'ts');
    type(screen.getByLabelText(/^Message column/), 'message');
    type(screen.getByLabelText(/^Level column/), 'level');
    type(screen.getByLabelText(/^Service column/), 'app');
    type(screen.getByLabelText(/^Trace ID column/), 'trace_id');
    type(screen.getByLabelText(/^Traces database/), 'otel');
    type(screen.getByLabelText(/^Traces table/), 'otel_traces');
    expect(last().jsonData).toEqual({
      host: 'h',
      port: 8123,
      logs: {
        defaultDatabase: 'otel',
        defaultTable: 'otel_logs',
        timeColumn: 'ts',
        messageColumn: 'message',
        levelColumn: 'level',
        serviceColumn: 'app',
        traceIdColumn: 'trace_id',
      },
      traces: { defaultDatabase: 'otel', defaultTable: 'otel_traces' },
    });
  });

  it('shows saved logs/traces settings and removes cleared keys', () => {
    const { last } = setup(
      settings({ host: 'h', port: 8123, logs: { defaultTable: 'app_logs', levelColumn: 'lvl' }, traces: { defaultTable: 'spans' } })
    );
    expect(screen.getByLabelText(/^Logs table/)).toHaveValue('app_logs');
    expect(screen.getByLabelText(/^Level column/)).toHaveValue('lvl');
    expect(screen.getByLabelText(/^Traces table/)).toHaveValue('spans');
    type(screen.getByLabelText(/^Level column/), '');
    expect(last().jsonData.logs).toEqual({ defaultTable: 'app_logs' });
    type(screen.getByLabelText(/^Traces table/), '');
    expect(last().jsonData).not.toHaveProperty('traces');
  });

  it('edits the context columns as a list', () => {
    const { last } = setup(settings({ host: 'h', port: 8123 }));
    const input = screen.getByLabelText(/^Context columns/);
    type(input, "ResourceAttributes['k8s.pod.name']");
    fireEvent.keyDown(input, { key: 'Enter' });
    type(input, 'ContainerName');
    fireEvent.keyDown(input, { key: 'Enter' });
    expect(last().jsonData.logs).toEqual({ contextColumns: ["ResourceAttributes['k8s.pod.name']", 'ContainerName'] });
    // removing the last one drops the key (and the empty logs object)
    fireEvent.click(screen.getByRole('button', { name: /Remove tag: ResourceAttributes/ }));
    expect(last().jsonData.logs).toEqual({ contextColumns: ['ContainerName'] });
    fireEvent.click(screen.getByRole('button', { name: /Remove tag: ContainerName/ }));
    expect(last().jsonData).not.toHaveProperty('logs');
  });
});
