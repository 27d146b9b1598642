#!/usr/bin/env bash
# Lantern's browser suite (frontend/browser/README.md): the built frontend/dist/module.js in
# Debian's Chromium against the real @grafana/* packages of Grafana 13.1 (React 18) and of the
# newest 13.x (React 19), talking to the plugin binary under the devhost and the embedded engine
# with the OpenTelemetry demo data. Then the negative control: a module.js with React's JSX
# runtime bundled again must fail to load on React 19.
#
# Needs: .ci/setup (chromium, frontend/browser/*/node_modules), `npm run build` in frontend/, and
# the debug devhost + plugin binaries (`cargo build --example devhost --bin gpx_lantern`, which
# `cargo test` also builds). Environment: LANTERN_BROWSER_CH_PORT (28123),
# LANTERN_BROWSER_DEVHOST_PORT (23100), LANTERN_SCREENSHOTS=<dir> (write the screenshots there,
# from the newest package set).
set -euo pipefail
cd "$(dirname "$0")/../.."
CH_PORT=${LANTERN_BROWSER_CH_PORT:-28123}
DEVHOST=127.0.0.1:${LANTERN_BROWSER_DEVHOST_PORT:-23100}
work=$(mktemp -d)
pids=()
cleanup() {
  # The devhost's plugin process (its child) first: left running, it would keep the ports and
  # any lock the suite was started under (flock) after the suite ends.
  for p in "${pids[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
# wait_for URL LOG: until URL answers (30 s at most); else print LOG and fail.
wait_for() {
  for _ in $(seq 1 150); do
    curl -fsS "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  cat "$2"
  return 1
}

mkdir -p "$work/clickhouse"
.venv/bin/python tests/support/chshim.py --host 127.0.0.1 --port "$CH_PORT" --path "$work/clickhouse" >"$work/chshim.out" 2>"$work/chshim.log" &
pids+=($!)
wait_for "http://127.0.0.1:$CH_PORT/ping" "$work/chshim.log"
.venv/bin/python tests/support/load_sql.py "http://127.0.0.1:$CH_PORT" provisioning/clickhouse/otel-demo.sql

cargo build --locked -q --example devhost --bin gpx_lantern
LANTERN_PLUGIN=target/debug/gpx_lantern LANTERN_CH_PORT=$CH_PORT LANTERN_DEVHOST=$DEVHOST \
  ./target/debug/examples/devhost >"$work/devhost.out" 2>"$work/devhost.log" &
pids+=($!)
wait_for "http://$DEVHOST/api/health" "$work/devhost.log"

shots=()
[ -n "${LANTERN_SCREENSHOTS:-}" ] && shots=(--screenshots "$LANTERN_SCREENSHOTS")
status=0
node frontend/browser/run.mjs --set grafana-13.1 --devhost "$DEVHOST" --ch-port "$CH_PORT" || status=1
node frontend/browser/run.mjs --set grafana-13.x --devhost "$DEVHOST" --ch-port "$CH_PORT" "${shots[@]}" || status=1

# Negative control: the suite must go red on a build that bundles React 18's JSX runtime.
(cd frontend && npx webpack -c ./webpack.config.js --env production --env bundleJsxRuntime --env "outDir=$work/broken" >/dev/null)
node frontend/browser/run.mjs --set grafana-13.x --devhost "$DEVHOST" --ch-port "$CH_PORT" --dist "$work/broken" \
  --expect-load-failure ReactCurrentOwner || status=1
exit $status
