#!/usr/bin/env python3
"""Benchmark: the packaged backend binary's size and its start-to-handshake time.

    python3 .ci/bench_startup.py [BINARY] [--runs 20] [--empty-root]

BINARY defaults to the staged package's dist/lantern-clickhouse-datasource/gpx_lantern_linux_amd64
(build it with `bash .ci/package`). Each run starts the binary the way Grafana does (cleared
environment, magic cookie, protocol version) and measures the time until its go-plugin handshake
line arrives on stdout, then stops it with SIGTERM. --empty-root runs it through chroot in a
directory holding only the binary, /etc/hosts and /etc/resolv.conf (needs root), as the package
check's empty-root test does. Prints the median, min and max; asserts nothing.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENV = {"grafana_plugin_type": "datasource", "PLUGIN_PROTOCOL_VERSIONS": "2",
       "PLUGIN_MIN_PORT": "10000", "PLUGIN_MAX_PORT": "25000"}


def one_run(cmd):
    started = time.perf_counter()
    p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    elapsed = time.perf_counter() - started
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    if line.count(b"|") != 4:
        raise SystemExit(f"no handshake from {cmd}: {line!r}")
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?",
                    default=REPO / "dist/lantern-clickhouse-datasource/gpx_lantern_linux_amd64")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--empty-root", action="store_true")
    a = ap.parse_args()
    binary = Path(a.binary).resolve()
    root = None
    cmd = [str(binary)]
    if a.empty_root:
        root = Path(tempfile.mkdtemp(prefix="lantern-bench-root-"))
        (root / "etc").mkdir()
        shutil.copy2(binary, root / binary.name)
        (root / "etc/hosts").write_text("127.0.0.1 localhost\n")
        (root / "etc/resolv.conf").write_text("nameserver 127.0.0.1\n")
        cmd = [shutil.which("chroot") or "/usr/sbin/chroot", str(root), "/" + binary.name]
    try:
        one_run(cmd)  # warm the page cache; not counted
        times = [one_run(cmd) for _ in range(a.runs)]
    finally:
        if root:
            shutil.rmtree(root, ignore_errors=True)
    size = binary.stat().st_size
    ms = sorted(t * 1000 for t in times)
    print(f"binary: {binary} ({size} bytes, {size / 2**20:.1f} MiB)")
    print(f"start to handshake{' (empty root, chroot)' if a.empty_root else ''}, {a.runs} runs: "
          f"median {statistics.median(ms):.1f} ms, min {ms[0]:.1f} ms, max {ms[-1]:.1f} ms")


if __name__ == "__main__":
    main()
