// Lantern's browser suite: the built dist/module.js in real Chromium against the real @grafana/*
// packages of one package set (grafana-13.1: React 18; grafana-13.x: the newest 13.x, React 19).
//
//   node browser/run.mjs --set grafana-13.x --devhost 127.0.0.1:23100 --ch-port 8123 [--dist dist]
//        [--screenshots dir] [--expect-load-failure TEXT] [--only TEXT]
//
// --only runs the steps whose name contains TEXT (while working on them; a step may need an
// earlier one's state).
// --expect-load-failure is the negative control: it passes only when module.js fails to load
// with an error containing TEXT (a deliberately broken build must turn the suite red).
// Bundles host/host.tsx with the set's own esbuild and packages, serves it with dist/ (as
// public/plugins/<id>/) and proxies /api/ to the devhost, then drives the page with
// playwright-core and Debian's Chromium. Any console error or uncaught exception fails the run.
// Exit status 0 = every step passed. browser/suite.sh starts the engine and the devhost.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), [])
);
const setName = args.set ?? 'grafana-13.x';
const setDir = path.join(here, setName);
const dist = path.resolve(args.dist ?? path.join(here, '..', 'dist'));
const devhost = args.devhost ?? '127.0.0.1:3100';
const shots = args.screenshots ? path.resolve(args.screenshots) : undefined;
const chPort = args['ch-port'] ?? '8123';
const PLUGIN_ID = 'lantern-clickhouse-datasource';

const req = createRequire(path.join(setDir, 'package.json'));
const esbuild = req('esbuild');
const { chromium } = req('playwright-core');
const grafanaVersion = req('@grafana/data/package.json').version;
const reactVersion = req('react/package.json').version;
const log = (...m) => console.log(`[${setName}]`, ...m);

// ---- 1. the host page, bundled from this package set ------------------------------------------
const out = fs.mkdtempSync(path.join(os.tmpdir(), `lantern-browser-${setName}-`));
await esbuild.build({
  entryPoints: [path.join(here, 'host', 'host.tsx')],
  bundle: true,
  outdir: out,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  jsx: 'automatic',
  minify: false,
  sourcemap: false,
  logLevel: 'error',
  define: { 'process.env.NODE_ENV': '"production"', global: 'window' },
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.svg': 'file', '.png': 'file', '.gif': 'file' },
  plugins: [
    {
      // The host's bare imports resolve from the package set, never from frontend/node_modules.
      name: 'package-set',
      setup(build) {
        build.onResolve({ filter: /^[^./]/ }, async (a) => {
          if (a.pluginData === 'set' || !a.importer.startsWith(path.join(here, 'host'))) {
            return undefined;
          }
          return build.resolve(a.path, { kind: a.kind, resolveDir: setDir, pluginData: 'set' });
        });
      },
    },
  ],
});
// The provisioned datasource's jsonData, as Grafana hands it to the frontend (the devhost's settings).
const jsonData = { host: '127.0.0.1', port: Number(chPort), protocol: 'http', username: 'default', defaultDatabase: 'otel' };
const page = `<!doctype html><html><head><meta charset="utf-8"><title>Lantern browser suite (${setName})</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/host.css"></head>
<body><div id="root"></div><script>window.__hostGrafanaVersion=${JSON.stringify(grafanaVersion)};window.__hostJsonData=${JSON.stringify(jsonData)}</script><script src="/host.js"></script></body></html>`;

// ---- 2. server: host page, plugin files, Grafana's icons, /api -> devhost ---------------------
const icons = path.join(path.dirname(req.resolve('@grafana/ui/package.json')), 'dist', 'public', 'img', 'icons');
const types = { '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.map': 'application/json' };
function sendFile(res, file) {
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    res.writeHead(404).end('not found');
    return;
  }
  res.writeHead(200, { 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
}
const server = http.createServer((rq, res) => {
  const url = new URL(rq.url, 'http://x');
  const p = decodeURIComponent(url.pathname);
  if (p.includes('..')) {
    res.writeHead(400).end();
  } else if (p === '/' || p === '/index.html') {
    res.writeHead(200, { 'Content-Type': 'text/html' }).end(page);
  } else if (p.startsWith(`/public/plugins/${PLUGIN_ID}/`)) {
    sendFile(res, path.join(dist, p.slice(`/public/plugins/${PLUGIN_ID}/`.length)));
  } else if (p.startsWith('/public/build/img/icons/')) {
    // Grafana serves its whole icon set; the npm package has part of it. A missing icon is a
    // blank one (the host's gap, not the plugin's).
    const file = path.join(icons, p.slice('/public/build/img/icons/'.length));
    if (fs.existsSync(file)) {
      sendFile(res, file);
    } else {
      res.writeHead(200, { 'Content-Type': 'image/svg+xml' }).end('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"/>');
    }
  } else if (p.startsWith('/public/fonts/')) {
    // Grafana's fonts are not in the npm packages; the browser falls back to system fonts.
    res.writeHead(204).end();
  } else if (p.startsWith('/api/')) {
    const [host, port] = devhost.split(':');
    const proxied = http.request({ host, port, path: rq.url, method: rq.method, headers: { ...rq.headers, host: devhost } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    proxied.on('error', (e) => {
      if (!res.headersSent) {
        res.writeHead(502).end(String(e));
      }
    });
    // A client that leaves (a live stream aborted) closes the devhost connection too.
    res.on('close', () => proxied.destroy());
    rq.pipe(proxied);
  } else {
    sendFile(res, path.join(out, p.slice(1)));
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

// ---- 3. Chromium ------------------------------------------------------------------------------
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lantern-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
  viewport: { width: 1280, height: 900 },
});
const problems = [];
const tab = context.pages()[0] ?? (await context.newPage());
tab.on('console', (m) => {
  if (m.type() === 'error') {
    problems.push(`console.error: ${m.text()} (${m.location()?.url ?? ''})`);
  }
});
tab.on('pageerror', (e) => problems.push(`uncaught: ${e.stack ?? e.message}`));
tab.setDefaultTimeout(20000);

let passed = 0;
const failures = [];
async function step(name, fn) {
  if (args.only && !name.includes(args.only)) {
    return;
  }
  const before = problems.length;
  try {
    await fn();
    if (problems.length > before) {
      throw new Error(problems.slice(before).join('\n'));
    }
    passed++;
    log(`ok   ${name}`);
  } catch (e) {
    failures.push(name);
    log(`FAIL ${name}\n${String(e?.stack ?? e)
      .split('\n')
      .slice(0, 12)
      .join('\n')}`);
  }
}
function expect(cond, message) {
  if (!cond) {
    throw new Error(message);
  }
}
async function shot(name, locator) {
  if (shots) {
    fs.mkdirSync(shots, { recursive: true });
    await (locator ?? tab).screenshot({ path: path.join(shots, `${name}.png`) });
  }
}
const queryJson = async () => JSON.parse(await tab.getByTestId('query-json').textContent());
async function open(pageName) {
  await tab.goto(`${base}/?page=${pageName}`);
  await tab.waitForFunction(() => window.__lantern && (window.__lantern.ready || window.__lantern.errors.length > 0));
  const errors = await tab.evaluate(() => window.__lantern.errors);
  expect(errors.length === 0, `plugin did not load: ${errors.join('\n')}`);
}
async function runAndWait(testid) {
  await tab.getByTestId('run-query').click();
  await tab.getByTestId(testid).first().waitFor();
}
async function setMode(label) {
  await tab.getByRole('radio', { name: label, exact: true }).check();
}

log(`Grafana packages ${grafanaVersion}, React ${reactVersion}, Chromium ${context.browser()?.version() ?? ''}`);
const expectFailure = args['expect-load-failure'];
if (expectFailure) {
  await step(`negative control: ${dist}/module.js fails to load with "${expectFailure}"`, async () => {
    await tab.goto(`${base}/?page=config`);
    await tab.waitForFunction(() => window.__lantern && (window.__lantern.ready || window.__lantern.errors.length > 0));
    const errors = await tab.evaluate(() => window.__lantern.errors);
    expect(errors.some((e) => e.includes(expectFailure)), `module.js loaded (errors: ${JSON.stringify(errors)})`);
    log(`red as expected: ${errors[0].split('\n')[0]}`);
    problems.length = 0;
  });
} else {
  const { default: steps } = await import(path.join(here, 'steps.mjs'));
  await steps({ tab, step, expect, shot, open, queryJson, runAndWait, setMode, devhost, chPort, base, log });
}

await context.close();
server.close();
fs.rmSync(profile, { recursive: true, force: true });
fs.rmSync(out, { recursive: true, force: true });
log(`browser: ${passed} passed, ${failures.length} failed${failures.length ? ` (${failures.join('; ')})` : ''}`);
process.exit(failures.length === 0 ? 0 : 1);
