import { css } from '@emotion/css';
import React, { useState } from 'react';

import { DataSourcePluginOptionsEditorProps, GrafanaTheme2 } from '@grafana/data';
import {
  Alert,
  Button,
  Field,
  FieldSet,
  IconButton,
  Input,
  RadioButtonGroup,
  SecretInput,
  SecretTextArea,
  Switch,
  TagsInput,
  useStyles2,
} from '@grafana/ui';

import { CustomSetting, LanternOptions, LanternSecureJsonData, LogsSettings, Protocol, TracesSettings } from '../types';
import {
  addHeader,
  DEFAULT_PORTS,
  effectiveProtocol,
  isConfigured,
  parsePortInput,
  removeHeader,
  renameHeader,
  resetHeaderSecret,
  resetSecureValue,
  secureHeaderKey,
  setHeaderSecure,
  setHeaderValue,
  setJsonData,
  setProtocol,
  setSignalSettings,
  setSecureValue,
  Settings,
  validateHost,
  validatePort,
  validateSeconds,
} from './settings';

export type Props = DataSourcePluginOptionsEditorProps<LanternOptions, LanternSecureJsonData>;

const PROTOCOL_OPTIONS = [
  { label: 'HTTP', value: 'http', description: 'ClickHouse HTTP interface (default port 8123)' },
  { label: 'HTTPS', value: 'https', description: 'HTTP over TLS (default port 8443)' },
  { label: 'Native (not supported)', value: 'native', description: 'Lantern speaks HTTP only' },
];

type SecretKey = 'password' | 'tlsCACert' | 'tlsClientCert' | 'tlsClientKey';

export function ConfigEditor(props: Props) {
  const { options, onOptionsChange } = props;
  const jsonData = options.jsonData ?? {};
  const styles = useStyles2(getStyles);
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const touch = (name: string) => setTouched((t) => (t[name] ? t : { ...t, [name]: true }));

  const update = (next: Settings) => onOptionsChange(next);
  const onJson = (patch: Partial<LanternOptions>) => update(setJsonData(options, patch));
  const onText = (key: keyof LanternOptions) => (e: React.FormEvent<HTMLInputElement>) => onJson({ [key]: e.currentTarget.value });
  const onBool = (key: keyof LanternOptions) => (e: React.FormEvent<HTMLInputElement>) =>
    onJson({ [key]: e.currentTarget.checked });
  const onSecret = (key: SecretKey) => (e: React.FormEvent<HTMLInputElement | HTMLTextAreaElement>) =>
    update(setSecureValue(options, key, e.currentTarget.value));
  const onReset = (key: SecretKey) => () => update(resetSecureValue(options, key));
  const secretValue = (key: SecretKey) => options.secureJsonData?.[key] ?? '';

  const protocol = effectiveProtocol(jsonData);
  const hostError = validateHost(jsonData.host);
  const portError = validatePort(jsonData.port);
  const showHostError = Boolean(hostError) && (touched.host || (jsonData.host ?? '') !== '');
  const showPortError = Boolean(portError) && (touched.port || jsonData.port !== undefined);
  const dialTimeoutError = validateSeconds(jsonData.dialTimeout);
  const queryTimeoutError = validateSeconds(jsonData.queryTimeout);
  const customSettings = jsonData.customSettings ?? [];
  const httpHeaders = jsonData.httpHeaders ?? [];

  const setCustomSettings = (list: CustomSetting[]) => onJson({ customSettings: list });
  const logs = jsonData.logs ?? {};
  const traces = jsonData.traces ?? {};
  const onLogs = (patch: Partial<LogsSettings>) => update(setSignalSettings(options, 'logs', patch));
  const onTraces = (patch: Partial<TracesSettings>) => update(setSignalSettings(options, 'traces', patch));
  const logsText = (key: Exclude<keyof LogsSettings, 'contextColumns' | 'otelEnabled'>, label: string, description: string, placeholder: string) => (
    <Field label={label} description={description}>
      <Input
        id={`lantern-logs-${key}`}
        width={40}
        value={logs[key] ?? ''}
        placeholder={placeholder}
        onChange={(e: React.FormEvent<HTMLInputElement>) => onLogs({ [key]: e.currentTarget.value })}
      />
    </Field>
  );

  return (
    <div className={styles.root}>
      <FieldSet label="Server">
        <Field
          label="Host"
          description="ClickHouse server host name or IP address, without scheme or port"
          required
          invalid={showHostError}
          error={showHostError ? hostError : undefined}
        >
          <Input
            id="lantern-host"
            width={50}
            value={jsonData.host ?? ''}
            placeholder="clickhouse.example.com"
            onChange={(e: React.FormEvent<HTMLInputElement>) => {
              touch('host');
              onJson({ host: e.currentTarget.value });
            }}
            onBlur={() => touch('host')}
          />
        </Field>
        <Field
          label="Port"
          description={`HTTP ${DEFAULT_PORTS.http}, HTTPS ${DEFAULT_PORTS.https}`}
          required
          invalid={showPortError}
          error={showPortError ? portError : undefined}
        >
          <Input
            id="lantern-port"
            width={20}
            inputMode="numeric"
            value={jsonData.port === undefined ? '' : String(jsonData.port)}
            placeholder={String(DEFAULT_PORTS[protocol === 'https' ? 'https' : 'http'])}
            onChange={(e: React.FormEvent<HTMLInputElement>) => {
              touch('port');
              onJson({ port: parsePortInput(e.currentTarget.value) });
            }}
            onBlur={() => touch('port')}
          />
        </Field>
        <Field label="Protocol" description="Lantern talks to ClickHouse over its HTTP interface">
          <RadioButtonGroup<string>
            aria-label="Protocol"
            options={PROTOCOL_OPTIONS}
            disabledOptions={['native']}
            value={protocol}
            onChange={(v) => update(setProtocol(options, v as Protocol))}
          />
        </Field>
        {protocol === 'native' && (
          <Alert severity="warning" title="Native protocol is not supported">
            This datasource is set to ClickHouse&apos;s native TCP protocol, which Lantern does not speak. Choose HTTP
            or HTTPS (ports {DEFAULT_PORTS.http} / {DEFAULT_PORTS.https}).
          </Alert>
        )}
        <Field label="HTTP URL path" description="Optional path when ClickHouse sits behind a proxy, e.g. /clickhouse">
          <Input id="lantern-path" width={50} value={jsonData.path ?? ''} placeholder="/" onChange={onText('path')} />
        </Field>
      </FieldSet>

      <FieldSet label="Credentials">
        <Field label="Username">
          <Input
            id="lantern-username"
            width={40}
            value={jsonData.username ?? ''}
            placeholder="default"
            autoComplete="off"
            onChange={onText('username')}
          />
        </Field>
        <Field label="Password">
          <SecretInput
            id="lantern-password"
            width={40}
            isConfigured={isConfigured(options, 'password')}
            value={secretValue('password')}
            placeholder="Password"
            autoComplete="new-password"
            onChange={onSecret('password')}
            onReset={onReset('password')}
          />
        </Field>
      </FieldSet>

      <FieldSet label="TLS / SSL">
        {protocol !== 'https' && (jsonData.tlsAuth || jsonData.tlsAuthWithCACert || jsonData.tlsSkipVerify) && (
          <Alert severity="info" title="TLS options apply to HTTPS only">
            Choose HTTPS under Protocol for these settings to take effect.
          </Alert>
        )}
        <Field label="Skip TLS verify" description="Do not verify the server certificate (insecure)">
          <Switch id="lantern-tlsSkipVerify" value={Boolean(jsonData.tlsSkipVerify)} onChange={onBool('tlsSkipVerify')} />
        </Field>
        <Field label="With CA certificate" description="Verify the server certificate against a custom CA">
          <Switch
            id="lantern-tlsAuthWithCACert"
            value={Boolean(jsonData.tlsAuthWithCACert)}
            onChange={onBool('tlsAuthWithCACert')}
          />
        </Field>
        {jsonData.tlsAuthWithCACert && (
          <Field label="CA certificate">
            <SecretTextArea
              id="lantern-tlsCACert"
              cols={60}
              rows={6}
              isConfigured={isConfigured(options, 'tlsCACert')}
              value={secretValue('tlsCACert')}
              placeholder="-----BEGIN CERTIFICATE-----"
              onChange={onSecret('tlsCACert')}
              onReset={onReset('tlsCACert')}
            />
          </Field>
        )}
        <Field label="TLS client authentication" description="Present a client certificate to the server">
          <Switch id="lantern-tlsAuth" value={Boolean(jsonData.tlsAuth)} onChange={onBool('tlsAuth')} />
        </Field>
        {jsonData.tlsAuth && (
          <>
            <Field label="Client certificate">
              <SecretTextArea
                id="lantern-tlsClientCert"
                cols={60}
                rows={6}
                isConfigured={isConfigured(options, 'tlsClientCert')}
                value={secretValue('tlsClientCert')}
                placeholder="-----BEGIN CERTIFICATE-----"
                onChange={onSecret('tlsClientCert')}
                onReset={onReset('tlsClientCert')}
              />
            </Field>
            <Field label="Client key">
              <SecretTextArea
                id="lantern-tlsClientKey"
                cols={60}
                rows={6}
                isConfigured={isConfigured(options, 'tlsClientKey')}
                value={secretValue('tlsClientKey')}
                placeholder="-----BEGIN PRIVATE KEY-----"
                onChange={onSecret('tlsClientKey')}
                onReset={onReset('tlsClientKey')}
              />
            </Field>
          </>
        )}
      </FieldSet>

      <FieldSet label="Defaults and limits">
        <Field label="Default database" description="Used for unqualified table names">
          <Input
            id="lantern-defaultDatabase"
            width={40}
            value={jsonData.defaultDatabase ?? ''}
            placeholder="default"
            onChange={onText('defaultDatabase')}
          />
        </Field>
        <Field
          label="Dial timeout (seconds)"
          invalid={Boolean(dialTimeoutError)}
          error={dialTimeoutError}
        >
          <Input
            id="lantern-dialTimeout"
            width={20}
            value={jsonData.dialTimeout === undefined ? '' : String(jsonData.dialTimeout)}
            placeholder="10"
            onChange={onText('dialTimeout')}
          />
        </Field>
        <Field
          label="Query timeout (seconds)"
          invalid={Boolean(queryTimeoutError)}
          error={queryTimeoutError}
        >
          <Input
            id="lantern-queryTimeout"
            width={20}
            value={jsonData.queryTimeout === undefined ? '' : String(jsonData.queryTimeout)}
            placeholder="60"
            onChange={onText('queryTimeout')}
          />
        </Field>
      </FieldSet>

      <FieldSet label="Logs">
        <p className={styles.help}>
          Where the logs builder, log volume and log context read by default. OpenTelemetry tables are recognised from
          their columns; set the column roles only for other schemas.
        </p>
        {logsText('defaultDatabase', 'Logs database', 'Default database of the logs table', jsonData.defaultDatabase || 'default')}
        {logsText('defaultTable', 'Logs table', 'Default logs table', 'otel_logs')}
        {logsText('timeColumn', 'Time column', 'Timestamp of a log line', 'recognised (Timestamp)')}
        {logsText('messageColumn', 'Message column', 'Log body', 'recognised (Body)')}
        {logsText('levelColumn', 'Level column', 'Severity text', 'recognised (SeverityText)')}
        {logsText('serviceColumn', 'Service column', 'Service name', 'recognised (ServiceName)')}
        {logsText('traceIdColumn', 'Trace ID column', 'Links log lines to traces', 'recognised (TraceId)')}
        <Field
          label="Context columns"
          description="Columns or map keys that identify a log stream for log context, e.g. ResourceAttributes['k8s.pod.name']. Enter adds one."
        >
          <TagsInput
            id="lantern-logs-contextColumns"
            width={60}
            addOnBlur
            autoColors={false}
            placeholder="Column (Enter to add)"
            tags={logs.contextColumns ?? []}
            onChange={(contextColumns: string[]) => onLogs({ contextColumns })}
          />
        </Field>
      </FieldSet>

      <FieldSet label="Traces">
        <p className={styles.help}>Where trace lookups and trace search read by default.</p>
        <Field label="Traces database" description="Default database of the traces table">
          <Input
            id="lantern-traces-defaultDatabase"
            width={40}
            value={traces.defaultDatabase ?? ''}
            placeholder={jsonData.defaultDatabase || 'default'}
            onChange={(e: React.FormEvent<HTMLInputElement>) => onTraces({ defaultDatabase: e.currentTarget.value })}
          />
        </Field>
        <Field label="Traces table" description="Default traces table">
          <Input
            id="lantern-traces-defaultTable"
            width={40}
            value={traces.defaultTable ?? ''}
            placeholder="otel_traces"
            onChange={(e: React.FormEvent<HTMLInputElement>) => onTraces({ defaultTable: e.currentTarget.value })}
          />
        </Field>
      </FieldSet>

      <FieldSet label="Custom settings">
        <p className={styles.help}>ClickHouse settings sent with every query, e.g. max_threads = 4.</p>
        {customSettings.map((s, i) => (
          <div className={styles.row} key={i}>
            <Input
              aria-label={`Setting name ${i + 1}`}
              width={30}
              value={s.setting}
              placeholder="setting"
              onChange={(e: React.FormEvent<HTMLInputElement>) =>
                setCustomSettings(customSettings.map((x, j) => (j === i ? { ...x, setting: e.currentTarget.value } : x)))
              }
            />
            <Input
              aria-label={`Setting value ${i + 1}`}
              width={30}
              value={s.value}
              placeholder="value"
              onChange={(e: React.FormEvent<HTMLInputElement>) =>
                setCustomSettings(customSettings.map((x, j) => (j === i ? { ...x, value: e.currentTarget.value } : x)))
              }
            />
            <IconButton
              name="trash-alt"
              tooltip={`Remove setting ${i + 1}`}
              onClick={() => setCustomSettings(customSettings.filter((_, j) => j !== i))}
            />
          </div>
        ))}
        <Button
          variant="secondary"
          icon="plus"
          size="sm"
          onClick={() => setCustomSettings([...customSettings, { setting: '', value: '' }])}
        >
          Add setting
        </Button>
      </FieldSet>

      <FieldSet label="HTTP headers">
        <p className={styles.help}>
          Headers sent with every request to ClickHouse. Values of secure headers are encrypted and never sent back to
          the browser.
        </p>
        {httpHeaders.map((h, i) => {
          const key = secureHeaderKey(h.name);
          const nameError = h.name.trim() === '' ? 'Header name is required' : undefined;
          return (
            <div className={styles.row} key={i}>
              <Field invalid={Boolean(nameError)} error={nameError} className={styles.inlineField}>
                <Input
                  aria-label={`Header name ${i + 1}`}
                  width={30}
                  value={h.name}
                  placeholder="X-Header"
                  onChange={(e: React.FormEvent<HTMLInputElement>) => update(renameHeader(options, i, e.currentTarget.value))}
                />
              </Field>
              <Field className={styles.inlineField}>
                {h.secure ? (
                  <SecretInput
                    aria-label={`Header value ${i + 1}`}
                    width={30}
                    isConfigured={isConfigured(options, key)}
                    value={options.secureJsonFields?.[key] === false ? '' : options.secureJsonData?.[key] ?? ''}
                    placeholder="secret value"
                    onChange={(e: React.FormEvent<HTMLInputElement>) => update(setHeaderValue(options, i, e.currentTarget.value))}
                    onReset={() => update(resetHeaderSecret(options, i))}
                  />
                ) : (
                  <Input
                    aria-label={`Header value ${i + 1}`}
                    width={30}
                    value={h.value}
                    placeholder="value"
                    onChange={(e: React.FormEvent<HTMLInputElement>) => update(setHeaderValue(options, i, e.currentTarget.value))}
                  />
                )}
              </Field>
              <div className={styles.secureLabel}>
                <Switch
                  aria-label={`Header secure ${i + 1}`}
                  value={h.secure}
                  onChange={(e: React.FormEvent<HTMLInputElement>) =>
                    update(setHeaderSecure(options, i, e.currentTarget.checked))
                  }
                />
                <span>Secure</span>
              </div>
              <IconButton name="trash-alt" tooltip={`Remove header ${i + 1}`} onClick={() => update(removeHeader(options, i))} />
            </div>
          );
        })}
        <Button variant="secondary" icon="plus" size="sm" onClick={() => update(addHeader(options))}>
          Add header
        </Button>
      </FieldSet>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  root: css({ maxWidth: theme.spacing(110) }),
  row: css({
    display: 'flex',
    alignItems: 'flex-start',
    gap: theme.spacing(1),
    marginBottom: theme.spacing(1),
  }),
  inlineField: css({ marginBottom: 0 }),
  secureLabel: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(0.5),
    minHeight: theme.spacing(4),
  }),
  help: css({ color: theme.colors.text.secondary, marginBottom: theme.spacing(1) }),
});
