// The flows the browser suite drives, in order, on one page of the host (see run.mjs).
// Every step fails on a console error or an uncaught exception in the page.

const LOGS_SQL = [
  'SELECT Timestamp, Body, SeverityText, ServiceName, TraceId, ResourceAttributes',
  'FROM otel.otel_logs',
  'WHERE $__timeFilter(Timestamp)',
  'ORDER BY Timestamp DESC',
  'LIMIT 50',
].join('\n');

/** Whether the backend applies a SQL query's `filters` (by wrapping the SQL). */
async function backendWrapsSqlFilters(t) {
  const body = {
    from: 'now-1h',
    to: 'now',
    queries: [{ refId: 'probe', editorType: 'sql', rawSql: 'SELECT 1 AS x', format: 1, filters: [{ key: 'x', operator: '=', value: '2' }] }],
  };
  const res = await fetch(`${t.base}/api/ds/query`, { method: 'POST', body: JSON.stringify(body) });
  const json = await res.json();
  const frame = json.results?.probe?.frames?.[0];
  return Boolean(json.results?.probe?.error) || (frame?.data?.values?.[0]?.length ?? 1) === 0;
}

// ---- Live tail and logs sample helpers (issue 10) -------------------------------------------------

/** Polls `fn` (async) every 200 ms until it returns a truthy value or `ms` pass; returns the value or throws `message`. */
async function until(fn, ms, message) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) {
      return v;
    }
    if (Date.now() > deadline) {
      throw new Error(typeof message === 'function' ? await message() : message);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Inserts one log line with the current time into the engine (chshim's HTTP interface, not read-only). */
async function insertLogLine(t, service, body) {
  const sql =
    'INSERT INTO otel.otel_logs (Timestamp, ServiceName, SeverityText, SeverityNumber, Body, ResourceAttributes) ' +
    `VALUES (now64(9), '${service}', 'INFO', 9, '${body}', map('k8s.pod.name', 'live-probe-0'))`;
  const res = await fetch(`http://127.0.0.1:${t.chPort}/`, { method: 'POST', body: sql });
  if (!res.ok) {
    throw new Error(`insert failed: ${res.status} ${await res.text()}`);
  }
}

/** Opens Explore's SQL editor, types `sql`, picks the `format` radio and runs the query (waits for `frame`). */
async function runSql(t, sql, format, frame) {
  const { tab } = t;
  await t.open('explore');
  await tab.getByRole('radio', { name: 'SQL' }).waitFor();
  const editor = tab.locator('.monaco-editor').first();
  await editor.waitFor();
  await editor.click();
  await tab.keyboard.insertText(sql);
  await tab.keyboard.press('Escape');
  await tab.getByRole('radio', { name: format, exact: true }).check();
  await t.runAndWait(frame);
}

/** The devhost's Live streams: `{channels: [{channel, subscribers, packets}], ended: [{channel, reason, pluginStopped}]}`. */
async function liveList(t) {
  return (await fetch(`${t.base}/api/live/list`)).json();
}

/**
 * Explore's Live on the current query: press Live, wait for the stream's first packet, insert a
 * line, see it arrive, press Stop and see the devhost end the RunStream (and the plugin stop
 * its tail). Returns the channel.
 */
async function liveTail(t, service) {
  const { tab, expect } = t;
  const marker = `lantern-live-${service}-${Date.now()}`;
  const before = (await tab.evaluate(() => window.__lantern.liveChannels.length)) ?? 0;
  await tab.getByTestId('live-start').click();
  // Streaming once the first packet (the frame's fields) is in; a refused subscription is an error.
  await tab.locator('[data-testid=live][data-state=Streaming], [data-testid=live-error]').first().waitFor({ timeout: 20000 });
  expect((await tab.getByTestId('live-error').count()) === 0, `live error: ${await tab.getByTestId('live').textContent()}`);
  const channels = await tab.evaluate(() => window.__lantern.liveChannels);
  const channel = channels[before];
  expect(/^ds\/lantern\/tail\/[A-Za-z0-9_.-]+$/.test(channel ?? ''), `channel ${channel}`);
  const running = await liveList(t);
  expect(running.channels.some((c) => c.channel === channel && c.subscribers === 1), `devhost streams: ${JSON.stringify(running)}`);
  const endedBefore = running.ended.filter((e) => e.channel === channel).length;
  await insertLogLine(t, service, marker);
  await tab.locator('[data-testid=live-body]', { hasText: marker }).first().waitFor({ timeout: 20000 });
  await tab.getByTestId('live-stop').click();
  await until(
    async () => {
      const l = await liveList(t);
      const ended = l.ended.filter((e) => e.channel === channel);
      return !l.channels.some((c) => c.channel === channel) && ended.length > endedBefore && ended.every((e) => e.pluginStopped && !e.error);
    },
    15000,
    async () => `the devhost did not end the RunStream of ${channel}: ${JSON.stringify(await liveList(t))}`
  );
  return channel;
}

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
    await runSql(t, LOGS_SQL, 'Logs', 'logs-frame');
    const q = await queryJson();
    expect(q.rawSql === LOGS_SQL, `rawSql ${q.rawSql}`);
    expect(q.format === 2 && q.queryType === 'logs', `format ${q.format} queryType ${q.queryType}`);
    // The rows render after the frame: wait (bounded) for the first one before counting.
    await tab.getByTestId('log-row').first().waitFor({ timeout: 5000 }).catch(() => undefined);
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
    if (await backendWrapsSqlFilters(t)) {
      // The backend keeps only the rows of the filter (it wraps the SQL).
      await tab.waitForFunction((v) => {
        const labels = [...document.querySelectorAll('[data-testid=log-label][data-key="k8s.pod.name"]')];
        return labels.length > 0 && labels.every((l) => l.getAttribute('data-value') === v);
      }, value);
    } else {
      log('SKIP SQL filter rows: the backend does not apply "filters" to SQL queries yet');
    }
    const pressed = await tab.getByRole('button', { name: 'Filter for value k8s.pod.name' }).first().getAttribute('aria-pressed');
    expect(pressed === 'true', 'queryHasFilter is not reflected');
    await tab.getByRole('button', { name: 'Filter out value k8s.pod.name' }).first().click();
    await tab.waitForFunction(() => (window.__lantern.query.filters ?? []).some((f) => f.operator === '!='));
    q = await queryJson();
    expect(JSON.stringify(q.filters) === JSON.stringify([{ key: 'k8s.pod.name', operator: '!=', value }]), `filters ${JSON.stringify(q.filters)}`);
    t.sqlPod = value;
  });

  await step('SQL editor: completion offers macros with docs, tables and columns with types', async () => {
    await open('explore');
    const editor = tab.locator('.monaco-editor').first();
    await editor.waitFor();
    await editor.click();
    const widget = tab.locator('.suggest-widget');
    const pick = async (label) => {
      const row = widget.locator('.monaco-list-row', { hasText: label }).first();
      await row.waitFor();
      return row;
    };
    await tab.keyboard.insertText('SELECT Timestamp FROM otel.');
    await tab.keyboard.press('Control+Space');
    await pick('otel_logs');
    await tab.keyboard.press('Escape');
    await tab.keyboard.insertText('otel_logs WHERE $__time');
    await tab.keyboard.press('Control+Space');
    const macro = await pick('$__timeFilter');
    expect(/grafana macro/.test(await widget.textContent()), 'macro detail missing');
    await shot('sql-completion', tab.getByTestId('explore-page'));
    await macro.click();
    await tab.keyboard.press('Escape');
    await tab.keyboard.insertText('(Times');
    await tab.keyboard.press('Control+Space');
    const column = await pick('Timestamp');
    await widget.getByText('DateTime64(9) · otel_logs').first().waitFor();
    await column.click();
    // Monaco applies an accepted suggestion on its next render: wait for it rather than read
    // the text at once (React 19 renders later than 18).
    const inserted = () => {
      const t = document.querySelector('.monaco-editor .view-lines').innerText.replace(/\s+/g, ' ');
      return t.includes('WHERE $__timeFilter(Timestamp');
    };
    await tab.waitForFunction(inserted, null, { timeout: 5000 }).catch(() => {});
    await tab.keyboard.press('Escape');
    const text = await tab.evaluate(() => document.querySelector('.monaco-editor .view-lines').innerText.replace(/\s+/g, ' '));
    expect(text.includes('WHERE $__timeFilter(Timestamp'), `editor text: ${text}`);
  });

  await step('SQL editor: Format SQL uses ClickHouse and keeps macros; unparsable SQL is an error, not a change', async () => {
    await open('explore');
    const editor = tab.locator('.monaco-editor').first();
    await editor.waitFor();
    await editor.click();
    await tab.keyboard.insertText("select Timestamp, Body from otel.otel_logs where $__timeFilter(Timestamp) and Body != '$x' limit 5");
    await tab.getByRole('button', { name: 'Format SQL' }).click();
    await tab.waitForFunction(() => (window.__lantern.query.rawSql ?? '').startsWith('SELECT'));
    const q = await queryJson();
    expect(
      q.rawSql === "SELECT\n    Timestamp,\n    Body\nFROM otel.otel_logs\nWHERE $__timeFilter(Timestamp) AND (Body != '$x')\nLIMIT 5",
      `formatted: ${JSON.stringify(q.rawSql)}`
    );
    await editor.click();
    await tab.keyboard.press('Control+a');
    await tab.keyboard.insertText('select from where');
    await tab.getByRole('button', { name: 'Format SQL' }).click();
    await tab.getByText('Could not format the SQL').waitFor();
    const text = await tab.evaluate(() => document.querySelector('.monaco-editor .view-lines').innerText.replace(/\s+/g, ' ').trim());
    expect(text === 'select from where', `editor text changed: ${text}`);
  });

  // ---- Explore: logs builder -------------------------------------------------------------------
  await step('logs builder: logs tables first in the table picker, run, rows', async () => {
    await open('explore');
    await setMode('Logs builder');
    await tab.getByTestId('logs-frame').first().waitFor();
    await tab.getByLabel('Table', { exact: true }).click();
    const first = tab.getByRole('option').first();
    await first.waitFor();
    const text = await first.textContent();
    expect(/^otel_logs/.test(text) && /logs table/.test(text), `first table option: ${text}`);
    await tab.keyboard.press('Escape');
    const q = await queryJson();
    expect(q.editorType === 'lantern-builder' && q.queryType === 'logs' && q.format === 2, `query ${JSON.stringify(q)}`);
    expect((await tab.getByTestId('log-row').count()) > 0, 'no log rows');
  });

  await step('logs builder: log volume', async () => {
    const text = await tab.getByTestId('log-volume').textContent();
    expect(/\w+=[1-9]\d*/.test(text), `log volume: ${text}`);
    t.volumeAll = Number(await tab.getByTestId('log-volume').getAttribute('data-total'));
  });

  await step('logs builder: filter for a label keeps only its rows; filter out drops them', async () => {
    const label = tab.getByTestId('log-label').filter({ hasText: 'k8s.pod.name=' }).first();
    const value = (await label.getAttribute('data-value')) ?? '';
    expect(value !== '', 'no k8s.pod.name label');
    await label.getByRole('button', { name: 'Filter for value k8s.pod.name' }).click();
    await tab.waitForFunction((v) => JSON.stringify(window.__lantern.query.builder?.filters ?? []).includes(v), value);
    let q = await queryJson();
    expect(
      JSON.stringify(q.builder.filters) === JSON.stringify([{ key: 'k8s.pod.name', op: '=', value }]),
      `filters ${JSON.stringify(q.builder.filters)}`
    );
    await tab.waitForFunction((v) => {
      const labels = [...document.querySelectorAll('[data-testid=log-label][data-key="k8s.pod.name"]')];
      return labels.length > 0 && labels.every((l) => l.getAttribute('data-value') === v);
    }, value);
    expect((await tab.getByRole('button', { name: 'Filter for value k8s.pod.name' }).first().getAttribute('aria-pressed')) === 'true', 'queryHasFilter');
    // The log volume follows the filter.
    await tab.getByTestId('log-volume').waitFor();
    const filtered = Number(await tab.getByTestId('log-volume').getAttribute('data-total'));
    expect(filtered > 0 && filtered < t.volumeAll, `log volume ${filtered} of ${t.volumeAll} after the filter`);
    await shot('logs-builder', tab.getByTestId('query-editor-row'));
    await shot('explore-logs', tab.getByTestId('explore-page'));
    await tab.getByRole('button', { name: 'Filter out value k8s.pod.name' }).first().click();
    await tab.waitForFunction(() => (window.__lantern.query.builder?.filters ?? []).some((f) => f.op === '!='));
    q = await queryJson();
    expect(JSON.stringify(q.builder.filters) === JSON.stringify([{ key: 'k8s.pod.name', op: '!=', value }]), `filters ${JSON.stringify(q.builder.filters)}`);
    await tab.waitForFunction((v) => {
      const labels = [...document.querySelectorAll('[data-testid=log-label][data-key="k8s.pod.name"]')];
      return labels.length > 0 && labels.every((l) => l.getAttribute('data-value') !== v);
    }, value);
  });

  await step('logs builder: a click on a level adds a level filter (modifyQuery ADD_FILTER)', async () => {
    await open('explore');
    await setMode('Logs builder');
    await tab.getByTestId('log-row').first().waitFor();
    const level = tab.getByTestId('log-level').first();
    const value = (await level.textContent()).trim();
    await level.click();
    await tab.waitForFunction(() => (window.__lantern.query.builder?.filters ?? []).length === 1);
    const q = await queryJson();
    expect(JSON.stringify(q.builder.filters) === JSON.stringify([{ key: 'level', op: '=', value }]), `filters ${JSON.stringify(q.builder.filters)}`);
    // Every row shown has that level.
    await tab.waitForFunction((v) => {
      const levels = [...document.querySelectorAll('[data-testid=log-level]')].map((l) => l.textContent.trim());
      return levels.length > 0 && levels.every((l) => l === v);
    }, value);
    expect((await tab.getByTestId('query-error').count()) === 0, 'the level filter query failed');
  });

  await step('logs builder: log context of a row', async () => {
    await open('explore');
    await setMode('Logs builder');
    await tab.getByTestId('log-row').first().waitFor();
    await tab.getByTestId('log-context').first().click();
    const ctx = tab.getByTestId('log-context-rows');
    await ctx.waitFor();
    const n = Number(await ctx.getAttribute('data-rows'));
    expect(n > 0, `context rows: ${n}`);
  });

  await step('ad hoc filters: key and value suggestions (tag-keys / tag-values)', async () => {
    const probe = await fetch(`${t.base}/api/datasources/uid/lantern/resources/tag-keys`);
    if (probe.status === 404) {
      log('SKIP ad hoc suggestions: the backend has no tag-keys resource yet');
      return;
    }
    await tab.getByTestId('adhoc-keys').click();
    await tab.getByTestId('adhoc').waitFor();
    await tab.getByLabel('Ad hoc key').click();
    await tab.getByRole('option', { name: 'k8s.pod.name', exact: true }).click();
    await tab.waitForFunction(() => document.querySelector('[data-testid=adhoc-values]')?.textContent?.length > 0);
    const values = await tab.getByTestId('adhoc-values').textContent();
    expect(values.split(', ').length > 0, `values ${values}`);
  });

  // ---- Explore: traces -------------------------------------------------------------------------
  await step('trace id: without an id Show SQL is a hint, not an error', async () => {
    await open('explore');
    await setMode('Trace ID');
    await tab.getByLabel('Show SQL').check({ force: true });
    await tab.getByTestId('lantern-expand-hint').waitFor();
    expect((await tab.getByText('Could not expand the query').count()) === 0, 'an expand error is shown');
  });

  await step('logs -> trace: the View trace link of a log line opens the trace in the Trace ID editor', async () => {
    await setMode('Logs builder');
    await tab.getByTestId('log-row').first().waitFor();
    const links = await tab.evaluate(() => window.__lantern.links);
    const logsLink = links.find((l) => l.field === 'traceID' && l.value);
    expect(logsLink, `no trace link on log rows: ${JSON.stringify(links).slice(0, 300)}`);
    await tab.evaluate((l) => window.__lantern.openLink(l), logsLink);
    await tab.getByTestId('trace-frame').first().waitFor();
    expect((await tab.getByRole('radio', { name: 'Trace ID' }).isChecked()), 'not in the Trace ID editor');
    const rows = Number(await tab.getByTestId('trace-frame').first().getAttribute('data-rows'));
    expect(rows > 0, 'empty trace');
    const q = await queryJson();
    expect(q.traceId === logsLink.value, `traceId ${q.traceId}`);
  });

  await step('trace search: rows link to the trace view', async () => {
    await setMode('Trace search');
    await tab.getByTestId('table-frame').first().waitFor();
    await tab.getByTestId('data-link').first().waitFor();
    await shot('trace-search', tab.getByTestId('explore-page'));
    const links = await tab.evaluate(() => window.__lantern.links);
    const link = links.find((l) => l.field === 'traceID' && l.value);
    expect(link, 'no trace link on trace search rows');
    await tab.evaluate((l) => window.__lantern.openLink(l), link);
    await tab.getByTestId('trace-frame').first().waitFor();
    expect((await tab.getByRole('radio', { name: 'Trace ID' }).isChecked()), 'not in the Trace ID editor');
  });

  // ---- The official plugin's saved builder panels (issue 9) ------------------------------------
  await step('official builder: a saved grafana/clickhouse-datasource builder panel opens as such and shows its rows', async () => {
    // A table panel saved by the official builder with an empty rawSql: the backend generates its SQL.
    await tab.evaluate(() =>
      window.__lantern.openQuery({
        refId: 'A',
        editorType: 'builder',
        format: 1,
        queryType: 'table',
        rawSql: '',
        pluginVersion: '4.20.0',
        builderOptions: {
          database: 'otel',
          table: 'otel_logs',
          queryType: 'table',
          mode: 'list',
          columns: [{ name: 'ServiceName' }, { name: 'SeverityText' }],
          filters: [],
          limit: 7,
        },
      })
    );
    await tab.getByTestId('lantern-official-builder').waitFor();
    expect(await tab.getByRole('radio', { name: 'Official builder' }).isChecked(), 'not in the official builder mode');
    expect((await tab.getByLabel('Min severity').count()) === 0, 'opened in the logs builder');
    await tab.getByTestId('table-frame').first().waitFor();
    const rows = Number(await tab.getByTestId('table-frame').first().getAttribute('data-rows'));
    expect(rows === 7, `rows ${rows}`);
    const q = await queryJson();
    expect(q.editorType === 'builder' && q.builderOptions && !q.builder, `saved model changed: ${JSON.stringify(q).slice(0, 300)}`);
    // Show SQL: the SQL the backend generates from the options (the expand resource).
    await tab.getByLabel('Show SQL').check({ force: true });
    const sql = tab.getByTestId('lantern-expanded-sql');
    await sql.waitFor();
    const text = await sql.textContent();
    expect(/otel_logs/.test(text) && /ServiceName/.test(text) && /LIMIT 7/.test(text), `expanded SQL: ${text}`);
    await tab.getByLabel('Show SQL').uncheck({ force: true });
  });

  await step('trace -> logs: the Logs for this trace link of a trace opens Lantern\'s logs builder with that trace', async () => {
    await setMode('Trace search');
    await tab.getByTestId('data-link').first().waitFor();
    const search = await tab.evaluate(() => window.__lantern.links);
    await tab.evaluate((l) => window.__lantern.openLink(l), search.find((l) => l.field === 'traceID' && l.value));
    await tab.getByTestId('trace-frame').first().waitFor();
    const links = await tab.evaluate(() => window.__lantern.links);
    const toLogs = links.find((l) => l.link.title === 'Logs for this trace' && l.value);
    expect(toLogs, `no logs link on the trace: ${JSON.stringify(links.map((l) => l.link.title))}`);
    expect(toLogs.link.internal.query.editorType === 'lantern-builder', `link editorType ${toLogs.link.internal.query.editorType}`);
    await tab.evaluate((l) => window.__lantern.openLink(l), toLogs);
    expect(await tab.getByRole('radio', { name: 'Logs builder' }).isChecked(), 'not in the Logs builder');
    const q = await queryJson();
    expect(JSON.stringify(q.builder?.filters ?? []).includes(toLogs.value), `filters ${JSON.stringify(q.builder)}`);
  });

  // ---- Explore: live tail and logs sample (issue 10) -------------------------------------------
  await step('live tail: Live on a logs builder query shows a line inserted into the engine; Stop ends the RunStream', async () => {
    await open('explore');
    await setMode('Logs builder');
    await tab.getByTestId('log-row').first().waitFor();
    await liveTail(t, 'live-builder');
  });

  await step('live tail: Live on raw SQL with $__timeFilter shows a line inserted into the engine; Stop ends the RunStream', async () => {
    await runSql(t, LOGS_SQL, 'Logs', 'logs-frame');
    const channel = await liveTail(t, 'live-sql');
    const sent = await queryJson();
    expect(sent.rawSql === LOGS_SQL, `rawSql ${sent.rawSql}`);
    expect(channel.startsWith('ds/lantern/tail/'), channel);
  });

  await step('logs sample: a table query whose rows are logs shows sample rows (queryType logs-sample); a logs query has none', async () => {
    const table = LOGS_SQL.replace('LIMIT 50', 'LIMIT 30');
    await runSql(t, table, 'Table', 'table-frame');
    await tab.getByTestId('logs-sample-open').click();
    const sample = tab.getByTestId('logs-sample');
    await sample.waitFor();
    expect((await tab.getByTestId('logs-sample-error').count()) === 0, `sample error: ${await tab.getByTestId('explore-live').textContent()}`);
    const rows = Number(await sample.getAttribute('data-rows'));
    expect(rows > 0 && rows <= 30, `sample rows: ${rows}`);
    expect(Number(await sample.getAttribute('data-logs-frames')) > 0, 'the sample is not log lines (no logs frame)');
    const first = (await tab.getByTestId('logs-sample-row').first().textContent()).trim();
    expect(first.length > 0, 'an empty sample row');
    const targets = await tab.evaluate(() => window.__lantern.sampleTargets);
    expect(targets.length === 1 && targets[0].queryType === 'logs-sample' && targets[0].rawSql === table, `sample targets ${JSON.stringify(targets)}`);
    // Grafana shows the sample beside a table or graph only: a logs query has none.
    await tab.getByRole('radio', { name: 'Logs', exact: true }).check();
    await runAndWait('logs-frame');
    expect((await tab.getByTestId('logs-sample-open').count()) === 0, 'a logs query offers a logs sample');
  });

  // ==== Official builder: editing saved panels (issue 9 item 2; helper `builder`) ===============
  // Each step opens a panel as grafana/clickhouse-datasource saves it (builderOptions and the
  // rawSql its generator wrote), checks the rows of that rawSql, edits one option in Lantern's
  // editor and checks that the rows and the SQL Show SQL displays follow the edit: the edit
  // cleared rawSql, so the backend generated the SQL from the new options.
  await officialBuilderSteps(t);
}

// ==== Official builder: editing saved panels (issue 9 item 2; helper `builder`) =================

/** Values (columns) of a SQL query's first frame, through the devhost, for the steps' ground truth. */
async function sqlValues(t, rawSql) {
  const body = { from: 'now-1h', to: 'now', queries: [{ refId: 'q', editorType: 'sql', format: 1, rawSql }] };
  const res = await fetch(`${t.base}/api/ds/query`, { method: 'POST', body: JSON.stringify(body) });
  const json = await res.json();
  if (json.results?.q?.error) {
    throw new Error(`${rawSql}: ${json.results.q.error}`);
  }
  return json.results.q.frames[0].data.values;
}

const TIME_RANGE = { filterType: 'custom', key: '', hint: 'time', type: 'datetime', operator: 'WITH IN DASHBOARD TIME RANGE', condition: 'AND' };

/** A panel as that plugin saves it. */
function savedPanel(builderOptions, format, rawSql) {
  return { refId: 'A', editorType: 'builder', pluginVersion: '4.20.0', format, queryType: builderOptions.queryType, rawSql, builderOptions };
}

async function officialBuilderSteps(t) {
  const { tab, step, expect, open, queryJson } = t;

  /** Waits until exactly `frames` frames of kind `testid` are shown, the first with `rows` rows (when given). */
  const waitFrames = (testid, frames, rows) =>
    tab.waitForFunction(
      ([id, n, r]) => {
        const f = document.querySelectorAll(`[data-testid=${id}]`);
        return f.length === n && (r === null || Number(f[0].getAttribute('data-rows')) === r);
      },
      [testid, frames, rows ?? null]
    );
  /** Opens a saved panel (the host runs it) and waits for its result. */
  const openPanel = async (panel, testid, frames, rows) => {
    await tab.evaluate((q) => window.__lantern.openQuery(q), panel);
    await tab.getByTestId('lantern-official-builder').waitFor();
    await waitFrames(testid, frames, rows);
    expect((await tab.getByTestId('query-error').count()) === 0, 'the saved panel failed');
    expect(await tab.getByRole('radio', { name: 'Official builder' }).isChecked(), 'not in the official builder');
  };
  /** Picks `option` (its label) in the grafana/ui Select with aria-label `label`. */
  const choose = async (label, option) => {
    await tab.getByLabel(label, { exact: true }).click();
    await tab.getByRole('option').filter({ has: tab.getByText(option, { exact: true }) }).first().click();
  };
  const typeInto = async (label, text) => {
    const input = tab.getByLabel(label, { exact: true });
    await input.fill(text);
    await input.press('Enter');
  };
  /** The edited query saved new options and no SQL. */
  const expectEdited = async (check) => {
    const q = await queryJson();
    expect(q.editorType === 'builder' && q.rawSql === '' && !q.builder, `saved query: ${JSON.stringify(q).slice(0, 400)}`);
    check(q.builderOptions);
  };
  /** Show SQL displays `pattern` (the backend's SQL for the edited options). */
  const expectShownSql = async (pattern) => {
    await tab.getByLabel('Show SQL').check({ force: true });
    await tab
      .waitForFunction((p) => new RegExp(p).test(document.querySelector('[data-testid=lantern-expanded-sql]')?.textContent ?? ''), pattern.source, { timeout: 10000 })
      .catch(() => undefined);
    const text = await tab.getByTestId('lantern-expanded-sql').textContent();
    expect(pattern.test(text), `Show SQL: ${text}`);
    await tab.getByLabel('Show SQL').uncheck({ force: true });
  };

  await step('official builder, table list: the saved LIMIT 7 panel shows 7 rows; Limit 3 saves the options and shows 3 rows', async () => {
    await open('explore');
    const options = {
      database: 'otel',
      table: 'otel_logs',
      queryType: 'table',
      mode: 'list',
      columns: [{ name: 'ServiceName', type: 'LowCardinality(String)' }, { name: 'SeverityText', type: 'LowCardinality(String)' }],
      filters: [],
      limit: 7,
      meta: {},
    };
    await openPanel(savedPanel(options, 1, 'SELECT ServiceName, SeverityText FROM "otel"."otel_logs" LIMIT 7'), 'table-frame', 1, 7);
    await typeInto('Limit', '3');
    await waitFrames('table-frame', 1, 3);
    await expectEdited((o) => expect(o.limit === 3 && o.columns.length === 2, `options ${JSON.stringify(o)}`));
    await expectShownSql(/^SELECT ServiceName, SeverityText FROM "otel"\."otel_logs" LIMIT 3$/);
  });

  await step('official builder, table aggregate: count per service; a filter added in the editor narrows the groups', async () => {
    const services = (await sqlValues(t, 'SELECT DISTINCT ServiceName FROM otel.otel_logs WHERE $__timeFilter(Timestamp)'))[0].length;
    const critical = (await sqlValues(t, "SELECT DISTINCT ServiceName FROM otel.otel_logs WHERE $__timeFilter(Timestamp) AND SeverityText = 'CRITICAL'"))[0];
    expect(services > 1 && critical.length >= 1 && critical.length < services, `services ${services}, critical ${critical}`);
    const options = {
      database: 'otel',
      table: 'otel_logs',
      queryType: 'table',
      mode: 'aggregate',
      columns: [{ name: 'ServiceName', type: 'LowCardinality(String)' }],
      aggregates: [{ aggregateType: 'count', column: '*', alias: 'n' }],
      groupBy: ['ServiceName'],
      filters: [{ filterType: 'custom', key: 'Timestamp', type: 'DateTime64(9)', operator: 'WITH IN DASHBOARD TIME RANGE', condition: 'AND' }],
      orderBy: [{ name: 'ServiceName', dir: 'ASC' }],
      limit: 100,
      meta: {},
    };
    const raw =
      'SELECT ServiceName, count(*) as n FROM "otel"."otel_logs" WHERE ( Timestamp >= $__fromTime AND Timestamp <= $__toTime ) GROUP BY ServiceName ORDER BY ServiceName ASC LIMIT 100';
    await openPanel(savedPanel(options, 1, raw), 'table-frame', 1, services);
    await tab.getByRole('button', { name: 'Add filter' }).click();
    // Each complete edit runs: wait for its rows before the next one (runs finish in order).
    await choose('Filter column 2', 'SeverityText');
    await waitFrames('table-frame', 1, services); // SeverityText IS NOT NULL
    await choose('Filter operator 2', '=');
    await waitFrames('table-frame', 1, 0); // SeverityText = ''
    await typeInto('Filter value 2', 'CRITICAL');
    await waitFrames('table-frame', 1, critical.length);
    await expectEdited((o) =>
      expect(
        JSON.stringify(o.filters[1]) ===
          JSON.stringify({ filterType: 'custom', key: 'SeverityText', type: 'LowCardinality(String)', condition: 'AND', operator: '=', value: 'CRITICAL' }),
        `filters ${JSON.stringify(o.filters)}`
      )
    );
    await expectShownSql(/AND \( SeverityText = 'CRITICAL' \) GROUP BY ServiceName/);
  });

  await step('official builder, time series trend: one series per service; filtering one service leaves one series', async () => {
    const services = (await sqlValues(t, 'SELECT DISTINCT ServiceName FROM otel.otel_logs WHERE $__timeFilter(Timestamp)'))[0].length;
    const options = {
      database: 'otel',
      table: 'otel_logs',
      queryType: 'timeseries',
      mode: 'trend',
      columns: [{ name: 'Timestamp', type: 'DateTime64(9)', hint: 'time' }],
      aggregates: [{ aggregateType: 'count', column: '*', alias: 'n' }],
      groupBy: ['ServiceName'],
      filters: [TIME_RANGE],
      orderBy: [{ name: '', hint: 'time', dir: 'ASC', default: true }],
      limit: 10000,
      meta: {},
    };
    const raw =
      'SELECT $__timeInterval(Timestamp) as "time", ServiceName, count(*) as n FROM "otel"."otel_logs" WHERE ( time >= $__fromTime AND time <= $__toTime ) GROUP BY ServiceName, time ORDER BY time ASC LIMIT 10000';
    await openPanel(savedPanel(options, 0, raw), 'table-frame', services);
    expect(await tab.getByRole('radio', { name: 'Aggregate' }).isChecked(), 'not in the Aggregate (trend) mode');
    await tab.getByRole('button', { name: 'Add filter' }).click();
    await choose('Filter column 2', 'ServiceName');
    await waitFrames('table-frame', services); // ServiceName IS NOT NULL
    await choose('Filter operator 2', 'IN'); // an empty list: saved, not run
    await typeInto('Filter value 2', 'cart');
    await waitFrames('table-frame', 1);
    await expectEdited((o) => expect(o.mode === 'trend' && JSON.stringify(o.filters[1].value) === '["cart"]', `options ${JSON.stringify(o)}`));
    await expectShownSql(/toStartOfInterval\(toDateTime\(Timestamp\), INTERVAL \d+ second\) as "time".*\( ServiceName IN \('cart'\) \) GROUP BY ServiceName, time/);
  });

  await step('official builder, logs: Min level error keeps only error and critical lines (IN on the raw level text)', async () => {
    const options = {
      database: 'otel',
      table: 'otel_logs',
      queryType: 'logs',
      mode: 'list',
      columns: [
        { name: 'Timestamp', type: 'DateTime64(9)', hint: 'time' },
        { name: 'Body', type: 'String', hint: 'log_message' },
        { name: 'SeverityText', type: 'LowCardinality(String)', hint: 'log_level' },
        { name: 'TraceId', type: 'String', hint: 'trace_id' },
        { name: 'ResourceAttributes', type: 'Map(LowCardinality(String), String)', hint: 'resource_attributes' },
        { name: 'ScopeAttributes', type: 'Map(LowCardinality(String), String)', hint: 'scope_attributes' },
        { name: 'LogAttributes', type: 'Map(LowCardinality(String), String)', hint: 'log_attributes' },
      ],
      filters: [
        { ...TIME_RANGE, hint: 'filter_time' },
        { filterType: 'custom', key: '', hint: 'log_level', type: 'string', operator: 'IS ANYTHING', condition: 'AND' },
      ],
      orderBy: [
        { name: '', hint: 'filter_time', dir: 'DESC', default: true },
        { name: '', hint: 'time', dir: 'DESC', default: true },
      ],
      limit: 200,
      meta: { otelEnabled: true, otelVersion: 'latest' },
    };
    const raw =
      'SELECT Timestamp as "timestamp", Body as "body", SeverityText as "level", TraceId as "traceID", ResourceAttributes, ScopeAttributes, LogAttributes FROM "otel"."otel_logs" WHERE ( timestamp >= $__fromTime AND timestamp <= $__toTime ) ORDER BY timestamp DESC LIMIT 200';
    await openPanel(savedPanel(options, 2, raw), 'logs-frame', 1, 200);
    const levels = () => tab.evaluate(() => [...document.querySelectorAll('[data-testid=log-level]')].map((l) => l.textContent.trim()));
    expect((await levels()).some((l) => l !== 'error' && l !== 'critical'), `saved panel levels ${await levels()}`);
    await choose('Min level', 'error');
    await tab.waitForFunction(() => {
      const l = [...document.querySelectorAll('[data-testid=log-level]')].map((x) => x.textContent.trim());
      return l.length > 0 && l.every((x) => x === 'error' || x === 'critical');
    });
    await expectEdited((o) => expect(o.filters[1].operator === 'IN' && o.filters[1].value.includes('CRITICAL'), `filters ${JSON.stringify(o.filters)}`));
    await expectShownSql(/\( level IN \('emerg', 'EMERG', 'Emerg'.*'ERROR', 'Error'/);
  });

  await step('official builder, trace search: 20 root spans; Limit 5 shows 5', async () => {
    const options = {
      database: 'otel',
      table: 'otel_traces',
      queryType: 'traces',
      columns: [
        { name: 'Timestamp', type: 'DateTime64(9)', hint: 'time' },
        { name: 'TraceId', type: 'String', hint: 'trace_id' },
        { name: 'ParentSpanId', type: 'String', hint: 'trace_parent_span_id' },
        { name: 'ServiceName', type: 'LowCardinality(String)', hint: 'trace_service_name' },
        { name: 'SpanName', type: 'LowCardinality(String)', hint: 'trace_operation_name' },
        { name: 'Duration', type: 'UInt64', hint: 'trace_duration_time' },
      ],
      filters: [
        TIME_RANGE,
        { filterType: 'custom', key: '', hint: 'trace_parent_span_id', type: 'string', operator: 'IS EMPTY', condition: 'AND' },
        { filterType: 'custom', key: '', hint: 'trace_duration_time', type: 'UInt64', operator: '>', value: 0, condition: 'AND' },
      ],
      orderBy: [
        { name: '', hint: 'time', dir: 'DESC', default: true },
        { name: '', hint: 'trace_duration_time', dir: 'DESC', default: true },
      ],
      limit: 20,
      meta: { otelEnabled: true, isTraceIdMode: false, traceDurationUnit: 'nanoseconds' },
    };
    const raw =
      'SELECT "TraceId" as traceID, "ServiceName" as serviceName, "SpanName" as operationName, "Timestamp" as startTime, multiply("Duration", 0.000001) as duration FROM "otel"."otel_traces" WHERE ( Timestamp >= $__fromTime AND Timestamp <= $__toTime ) AND ( ParentSpanId = \'\' ) AND ( Duration > 0 ) ORDER BY Timestamp DESC, Duration DESC LIMIT 20';
    await openPanel(savedPanel(options, 1, raw), 'table-frame', 1, 20);
    expect(await tab.getByRole('radio', { name: 'Search', exact: true }).isChecked(), 'not in the trace search mode');
    await typeInto('Limit', '5');
    await waitFrames('table-frame', 1, 5);
    await expectEdited((o) => expect(o.limit === 5 && o.queryType === 'traces', `options ${JSON.stringify(o)}`));
    await expectShownSql(/multiply\("Duration", 0\.000001\) as duration .*ORDER BY Timestamp DESC, Duration DESC LIMIT 5$/);
  });

  await step('official builder, trace id: the saved trace shows its spans; another trace id shows that trace', async () => {
    const [three] = await sqlValues(t, 'SELECT TraceId FROM otel.otel_traces WHERE $__timeFilter(Timestamp) GROUP BY TraceId HAVING count() = 3 ORDER BY TraceId LIMIT 1');
    const [one] = await sqlValues(t, 'SELECT TraceId FROM otel.otel_traces WHERE $__timeFilter(Timestamp) GROUP BY TraceId HAVING count() = 1 ORDER BY TraceId LIMIT 1');
    expect(three.length === 1 && one.length === 1, `traces ${three} ${one}`);
    const roles = [
      ['time', 'Timestamp'],
      ['trace_id', 'TraceId'],
      ['trace_span_id', 'SpanId'],
      ['trace_parent_span_id', 'ParentSpanId'],
      ['trace_service_name', 'ServiceName'],
      ['trace_operation_name', 'SpanName'],
      ['trace_duration_time', 'Duration'],
      ['trace_tags', 'SpanAttributes'],
      ['trace_service_tags', 'ResourceAttributes'],
      ['trace_status_code', 'StatusCode'],
    ];
    const options = {
      database: 'otel',
      table: 'otel_traces',
      queryType: 'traces',
      columns: roles.map(([hint, name]) => ({ name, hint, ...(name.endsWith('Attributes') ? { type: 'Map(LowCardinality(String), String)' } : {}) })),
      filters: [],
      orderBy: [],
      meta: { otelEnabled: true, isTraceIdMode: true, traceId: three[0], traceDurationUnit: 'nanoseconds', hasTraceTimestampTable: false },
    };
    const raw =
      'SELECT "TraceId" as traceID, "SpanId" as spanID, "ParentSpanId" as parentSpanID, "ServiceName" as serviceName, "SpanName" as operationName, ' +
      'multiply(toUnixTimestamp64Nano("Timestamp"), 0.000001) as startTime, multiply("Duration", 0.000001) as duration, ' +
      'arrayMap(key -> map(\'key\', key, \'value\',"SpanAttributes"[key]), mapKeys("SpanAttributes")) as tags, ' +
      'arrayMap(key -> map(\'key\', key, \'value\',"ResourceAttributes"[key]), mapKeys("ResourceAttributes")) as serviceTags, ' +
      `if("StatusCode" IN ('Error', 'STATUS_CODE_ERROR'), 2, 0) as statusCode FROM "otel"."otel_traces" WHERE traceID = '${three[0]}'`;
    await openPanel(savedPanel(options, 3, raw), 'trace-frame', 1, 3);
    expect(await tab.getByRole('radio', { name: 'By trace ID' }).isChecked(), 'not in the trace id mode');
    await typeInto('Trace ID to show', one[0]);
    await waitFrames('trace-frame', 1, 1);
    await expectEdited((o) => expect(o.meta.traceId === one[0] && o.meta.isTraceIdMode === true, `meta ${JSON.stringify(o.meta)}`));
    await expectShownSql(new RegExp(`WHERE traceID = '${one[0]}'$`));
  });
}
