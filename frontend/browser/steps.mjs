// The flows the browser suite drives, in order, on one page of the host (see run.mjs).
// Every step fails on a console error or an uncaught exception in the page.

const LOGS_SQL =
  'SELECT Timestamp, Body, SeverityText, ServiceName, TraceId, ResourceAttributes FROM otel.otel_logs WHERE $__timeFilter(Timestamp) ORDER BY Timestamp DESC LIMIT 50';

export default async function steps(t) {
  const { tab, step, expect, shot, open, queryJson, runAndWait, setMode, log } = t;

  await step('config editor: fill, save & test shows health OK', async () => {
    await open('config');
    const host = tab.locator('#lantern-host');
    await host.fill('127.0.0.1');
    const port = tab.locator('#lantern-port');
    await port.fill(String(t.chPort));
    await tab.locator('#lantern-username').fill('default');
    await tab.getByRole('button', { name: 'Save & test' }).click();
    const result = tab.getByTestId('health-result');
    await result.waitFor();
    const text = await result.textContent();
    expect(/Connected to ClickHouse/.test(text), `health: ${text}`);
    const options = await tab.evaluate(() => window.__lantern.options);
    expect(options.jsonData.host === '127.0.0.1', `jsonData.host ${JSON.stringify(options.jsonData)}`);
    expect(Number(options.jsonData.port) === Number(t.chPort), `jsonData.port ${JSON.stringify(options.jsonData)}`);
    await shot('config-editor', tab.getByTestId('config-page'));
  });

  // ---- Explore: SQL ----------------------------------------------------------------------------
  await step('SQL editor: type a logs query, pick the Logs format, run it and see rows', async () => {
    await open('explore');
    await tab.getByRole('radio', { name: 'SQL' }).waitFor();
    const editor = tab.locator('.monaco-editor').first();
    await editor.waitFor();
    await editor.click();
    await tab.keyboard.insertText(LOGS_SQL);
    await tab.keyboard.press('Escape');
    await tab.getByRole('radio', { name: 'Logs', exact: true }).check();
    await runAndWait('logs-frame');
    const q = await queryJson();
    expect(q.rawSql === LOGS_SQL, `rawSql ${q.rawSql}`);
    expect(q.format === 2 && q.queryType === 'logs', `format ${q.format} queryType ${q.queryType}`);
    const rows = await tab.getByTestId('log-row').count();
    expect(rows > 0, 'no log rows');
  });

  await step('SQL editor: Show SQL shows the expanded SQL; the clickhouse-client command has its own button', async () => {
    await tab.getByLabel('Show SQL').check({ force: true });
    const sql = tab.getByTestId('lantern-expanded-sql');
    await sql.waitFor();
    const text = await sql.textContent();
    expect(!text.includes('$__timeFilter') && /Timestamp >= /.test(text), `expanded: ${text}`);
    expect(!(await tab.getByText(/clickhouse-client --host/).count()), 'the client command is shown as text');
    await tab.getByRole('button', { name: 'Copy clickhouse-client command' }).waitFor();
    await tab.getByRole('button', { name: 'Copy SQL' }).waitFor();
    await shot('sql-editor', tab.getByTestId('query-editor-row'));
  });

  await step('SQL logs: log volume counts rows per level', async () => {
    const volume = tab.getByTestId('log-volume');
    await volume.waitFor();
    const text = await volume.textContent();
    expect(/\w+=[1-9]\d*/.test(text), `log volume: ${text}`);
  });

  await step('SQL logs: filter for / filter out a label value edits the structured filters, not the SQL', async () => {
    const label = tab.getByTestId('log-label').filter({ hasText: 'k8s.pod.name=' }).first();
    const value = (await label.textContent()).replace(/^k8s\.pod\.name=/, '').replace(/\s*[+−]+\s*$/, '').trim();
    await label.getByRole('button', { name: 'Filter for value k8s.pod.name' }).click();
    await tab.waitForFunction((v) => JSON.stringify(window.__lantern.query.filters ?? []).includes(v), value);
    let q = await queryJson();
    expect(q.rawSql === LOGS_SQL, 'the SQL was edited');
    expect(JSON.stringify(q.filters) === JSON.stringify([{ key: 'k8s.pod.name', operator: '=', value }]), `filters ${JSON.stringify(q.filters)}`);
    await tab.getByTestId('log-row').first().waitFor();
    const pressed = await tab.getByRole('button', { name: 'Filter for value k8s.pod.name' }).first().getAttribute('aria-pressed');
    expect(pressed === 'true', 'queryHasFilter is not reflected');
    await tab.getByRole('button', { name: 'Filter out value k8s.pod.name' }).first().click();
    await tab.waitForFunction(() => (window.__lantern.query.filters ?? []).some((f) => f.operator === '!='));
    q = await queryJson();
    expect(JSON.stringify(q.filters) === JSON.stringify([{ key: 'k8s.pod.name', operator: '!=', value }]), `filters ${JSON.stringify(q.filters)}`);
    t.sqlPod = value;
  });
}
