#!/usr/bin/env python3
"""Runs a SQL file against a ClickHouse HTTP endpoint, one statement at a time.

Statements are separated by lines holding only ';' (so semicolons inside statements are safe);
`--` comment lines are dropped. Usage: load_sql.py URL FILE [--user U] [--password P].
Exits non-zero with ClickHouse's message on the first failing statement.
"""
import argparse
import re
import sys
import time
import urllib.error
import urllib.request


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("file")
    ap.add_argument("--user", default="default")
    ap.add_argument("--password", default="")
    args = ap.parse_args()
    text = open(args.file, encoding="utf-8").read()
    started = time.time()
    count = 0
    for stmt in re.split(r"(?m)^;\s*$", text):
        body = "\n".join(l for l in stmt.splitlines() if not l.strip().startswith("--")).strip()
        if not body:
            continue
        req = urllib.request.Request(args.url.rstrip("/") + "/", data=body.encode(), method="POST")
        req.add_header("X-ClickHouse-User", args.user)
        req.add_header("X-ClickHouse-Key", args.password)
        try:
            urllib.request.urlopen(req, timeout=600).read()
        except urllib.error.HTTPError as e:
            sys.exit(f"load_sql: statement failed: {e.read().decode(errors='replace').strip()}\n{body[:300]}")
        count += 1
    print(f"load_sql: {count} statements from {args.file} in {time.time() - started:.1f}s")


if __name__ == "__main__":
    main()
