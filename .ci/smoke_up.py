#!/usr/bin/env python3
"""The main job under test (README "Main job"): `bash .ci/up` as a user runs it, then stopped.

1. Starts `bash .ci/up` in the background on free ports (engine, devhost) with its own state
   directory, so it collides with nothing (not with a developer's own `.ci/up` either).
2. Waits for the datasource health check through the devhost to answer OK.
3. Runs one query of each format (table, time series, logs, traces) and a resource call through
   the devhost's Grafana API and checks what each answer contains, not just its status.
4. Stops `.ci/up` with SIGTERM to the script alone (as `kill <pid>` would) and asserts that the
   engine, the devhost and the plugin it started are all gone.

Exit status 0 when every check passed. Timings are printed, never asserted.
Environment: LANTERN_SMOKE_TIMEOUT (seconds to wait for health, default 1800).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAILED = []


def check(ok, what, detail=""):
    print(("ok: " if ok else "FAILED: ") + what + ("" if ok or not detail else f": {detail}"))
    if not ok:
        FAILED.append(what)
    return ok


def free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def http(base, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def processes():
    """pid -> (ppid, start time, cmdline) of every live (non-zombie) process."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z":
            continue
        out[int(d)] = (int(fields[1]), fields[19], cmd.strip())
    return out


def descendants(root):
    procs = processes()
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, start, cmd) in procs.items():
            if ppid == parent and pid not in found:
                found[pid] = (start, cmd)
                frontier.append(pid)
    return found


def role(cmd):
    for needle, name in (("chshim.py", "engine"), ("examples/devhost", "devhost"),
                         ("gpx_lantern", "plugin")):
        if needle in cmd:
            return name
    return None


def frame_fields(frame):
    names = [f["name"] for f in frame["schema"]["fields"]]
    return dict(zip(names, frame["data"]["values"]))


def query(base, q, time_range=("now-6h", "now")):
    status, body = http(base, "POST", "/api/ds/query",
                        {"from": time_range[0], "to": time_range[1], "queries": [dict(q, refId="A")]})
    result = (body or {}).get("results", {}).get("A", {})
    return status, result


def run_checks(base):
    # Table: rows per service, every count positive.
    status, r = query(base, {"format": 1, "rawSql":
                             "SELECT ServiceName AS service, count() AS n FROM otel_logs "
                             "WHERE $__timeFilter(Timestamp) GROUP BY service ORDER BY service"})
    if check(status == 200 and not r.get("error") and len(r.get("frames", [])) == 1,
             "table query answered", f"{status} {r.get('error')}"):
        f = frame_fields(r["frames"][0])
        services = f.get("service", [])
        check(len(services) >= 2 and all(isinstance(s, str) and s for s in services)
              and services == sorted(services), "table: one row per service, in order", str(services))
        check(len(f.get("n", [])) == len(services) and all(n > 0 for n in f["n"]),
              "table: every service has log rows", str(f.get("n")))

    # Time series: one series per service, labelled, numbers on a time field.
    status, r = query(base, {"format": 0, "rawSql":
                             "SELECT $__timeInterval(Timestamp) AS time, ServiceName, count() AS logs "
                             "FROM otel_logs WHERE $__timeFilter(Timestamp) "
                             "GROUP BY time, ServiceName ORDER BY time",
                             "intervalMs": 600000})
    frames = r.get("frames", [])
    if check(status == 200 and not r.get("error") and frames, "time series query answered",
             f"{status} {r.get('error')}"):
        meta_types = {(fr["schema"].get("meta") or {}).get("type") for fr in frames}
        check(meta_types <= {"timeseries-multi", "timeseries-wide"} and None not in meta_types,
              "time series: frames typed timeseries-*", str(meta_types))
        labelled = [fld.get("labels", {}).get("ServiceName") for fr in frames
                    for fld in fr["schema"]["fields"] if fld["type"] == "number"]
        check(len(labelled) >= 2 and all(labelled), "time series: one labelled series per service",
              str(labelled))
        times = [fld for fr in frames for fld in fr["schema"]["fields"] if fld["type"] == "time"]
        points = sum(len(v) for fr in frames for v in fr["data"]["values"][:1])
        check(times and points >= 2, "time series: points on a time field", f"{points} points")

    # Logs: a log-lines frame of exactly the rows asked for, severities normalised.
    status, r = query(base, {"format": 2, "rawSql":
                             "SELECT Timestamp AS timestamp, Body AS body, SeverityText AS severity, "
                             "ServiceName FROM otel_logs WHERE $__timeFilter(Timestamp) "
                             "ORDER BY Timestamp DESC LIMIT 20"})
    if check(status == 200 and not r.get("error") and len(r.get("frames", [])) == 1,
             "logs query answered", f"{status} {r.get('error')}"):
        fr = r["frames"][0]
        check((fr["schema"].get("meta") or {}).get("type") == "log-lines",
              "logs: a log-lines frame", str(fr["schema"].get("meta")))
        f = frame_fields(fr)
        check(len(f.get("body", [])) == 20 and all(isinstance(b, str) and b for b in f["body"]),
              "logs: 20 lines with bodies", str(len(f.get("body", []))))
        levels = {"critical", "error", "warning", "info", "debug", "trace", "unknown"}
        check(set(f.get("severity", [])) <= levels and f.get("severity"),
              "logs: severities normalised", str(set(f.get("severity", []))))
        ts = f.get("timestamp", [])
        check(ts == sorted(ts, reverse=True) and len(ts) == 20, "logs: newest first")

    # Traces: the trace view frame of a trace id taken from the demo data.
    status, r = query(base, {"format": 1, "rawSql":
                             "SELECT TraceId FROM otel_traces WHERE $__timeFilter(Timestamp) "
                             "AND ParentSpanId = '' ORDER BY Timestamp DESC LIMIT 1"})
    trace_ids = frame_fields(r["frames"][0]).get("TraceId", []) if r.get("frames") else []
    if check(len(trace_ids) == 1 and trace_ids[0], "a trace id from otel_traces", str(r.get("error"))):
        tid = trace_ids[0]
        status, r = query(base, {"format": 3, "queryType": "traces", "traceId": tid})
        if check(status == 200 and not r.get("error") and len(r.get("frames", [])) == 1,
                 "traces query answered", f"{status} {r.get('error')}"):
            f = frame_fields(r["frames"][0])
            spans = f.get("spanID", [])
            check(spans and set(f.get("traceID", [])) == {tid}, "traces: spans of that trace only",
                  f"{len(spans)} spans, trace ids {set(f.get('traceID', []))}")
            check("" in f.get("parentSpanID", []) or None in f.get("parentSpanID", []),
                  "traces: the root span is there")
            check(all(f.get("serviceName", [])) and all(d >= 0 for d in f.get("duration", [-1])),
                  "traces: services and durations", str(f.get("serviceName")))

    # Resource: the OTel tables with their row counts.
    status, body = http(base, "GET", "/api/datasources/uid/lantern/resources/tables?database=otel")
    tables = {t.get("name"): t for t in body} if status == 200 and isinstance(body, list) else {}
    check({"otel_logs", "otel_traces"} <= set(tables), "resource tables lists the OTel tables",
          f"{status} {body}")
    check(all(int(tables.get(t, {}).get("rows") or 0) > 0 for t in ("otel_logs", "otel_traces")),
          "resource tables: demo rows counted", str({t: tables.get(t) for t in ("otel_logs", "otel_traces")}))


def main():
    timeout = float(os.environ.get("LANTERN_SMOKE_TIMEOUT", "1800"))
    ch_port, dev_port = free_ports(2)
    state = Path(tempfile.mkdtemp(prefix="lantern-smoke-"))
    base = f"http://127.0.0.1:{dev_port}"
    env = dict(os.environ, LANTERN_CH_PORT=str(ch_port), LANTERN_DEVHOST=f"127.0.0.1:{dev_port}",
               LANTERN_STATE=str(state))
    log_path = state / "up.log"
    print(f"smoke: bash .ci/up (engine :{ch_port}, devhost :{dev_port}, log {log_path})")
    started = time.monotonic()
    with open(log_path, "w") as log:
        up = subprocess.Popen(["bash", ".ci/up"], cwd=REPO, env=env, stdout=log,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    seen = {}
    try:
        healthy = False
        while time.monotonic() - started < timeout and up.poll() is None:
            seen.update(descendants(up.pid))
            try:
                status, body = http(base, "GET", "/api/datasources/uid/lantern/health")
                if status == 200 and body.get("status") == "OK":
                    healthy = True
                    break
            except (OSError, ValueError):
                pass
            time.sleep(1)
        elapsed = time.monotonic() - started
        if not check(healthy, "health OK through the devhost", f"after {elapsed:.0f} s"):
            print(log_path.read_text()[-4000:])
        else:
            print(f"smoke: health OK {elapsed:.1f} s after starting .ci/up: {body.get('message')}")
            seen.update(descendants(up.pid))
            run_checks(base)
    finally:
        seen.update(descendants(up.pid))
        roles = {role(cmd) for _, cmd in seen.values()}
        check({"engine", "devhost", "plugin"} <= roles, "engine, devhost and plugin were running",
              str(sorted(r for r in roles if r)))
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)  # the script alone, as `kill <pid>` would
        try:
            up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            check(False, ".ci/up exits on SIGTERM")
        deadline = time.monotonic() + 15
        while True:
            live = processes()
            left = {pid: cmd for pid, (start, cmd) in seen.items()
                    if pid in live and live[pid][1] == start}
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        check(not left, "no process left behind (engine, devhost, plugin)",
              "; ".join(f"{pid} {cmd[:80]}" for pid, cmd in left.items()))
        for pid in left:  # never leave them running, even when the check failed
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(state, ignore_errors=True)
    print(f"smoke: {'all checks passed' if not FAILED else f'{len(FAILED)} failed'}")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
