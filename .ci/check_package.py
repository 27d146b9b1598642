#!/usr/bin/env python3
"""Checks the plugin zip the way Grafana and its catalog validator would, in our own words.

    python3 .ci/check_package.py dist/lantern-clickhouse-datasource-0.1.0.zip --epoch N
    python3 .ci/check_package.py --self-test

Grafana's catalog validator cannot run here (it downloads a Go binary) and would reject any
non-Go backend anyway, so the structural rules that matter for installing and loading the plugin
are re-stated here (reference: /work/shared/reference/packaging.md sections 1-3):

* archive: one top folder named after the plugin id, no nested dist/, no absolute or `..`
  paths, no debug files; entries sorted, every mtime = SOURCE_DATE_EPOCH, directories and
  backend binaries 0755, other files 0644 (the reproducible-zip rules of .ci/package);
* plugin.json: Grafana's plugin.json schema rules (required keys, id pattern and type suffix,
  enumerations, boolean flags, `additionalProperties: false` where the schema has it,
  info.version semver, info.updated a date, placeholders replaced), `alerting` needs `backend`;
* every file plugin.json references (logos, screenshots, included dashboards) is in the zip,
  logos are SVG, the backend has a linux/amd64 executable named `<executable>_linux_amd64`;
* versions agree: plugin.json, Cargo.toml, frontend/package.json; CHANGELOG has the version;
  README is ours and LICENSE is the Apache-2.0 text;
* `<zip>.sha256` next to the zip matches it (sha256sum format).

--self-test feeds the plugin.json rules manifests that break one rule each, so a rule that
stopped working fails CI instead of passing everything.
"""

import argparse
import copy
import hashlib
import json
import re
import stat
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLUGIN_ID = "lantern-clickhouse-datasource"

# The schema's key sets. The top level, `info` and `dependencies` reject unknown keys.
TOP_KEYS = {
    "$schema", "id", "name", "type", "info", "dependencies", "alerting", "annotations",
    "autoEnabled", "backend", "buildMode", "category", "enterpriseFeatures", "executable",
    "extensions", "hideFromList", "iam", "includes", "languages", "logs", "metrics",
    "multiValueFilterOperators", "preload", "queryOptions", "roles", "routes", "skipDataQuery",
    "state", "streaming", "tracing", "builtIn", "sort",
}
TOP_REQUIRED = ["type", "name", "id", "info", "dependencies"]
INFO_KEYS = {"author", "build", "description", "keywords", "links", "logos", "screenshots",
             "updated", "version"}
INFO_REQUIRED = ["keywords", "logos", "updated", "version"]
DEPENDENCY_KEYS = {"grafanaDependency", "grafanaVersion", "plugins", "extensions"}
TYPES = {"app", "datasource", "panel", "renderer", "secretsmanager"}
CATEGORIES = {"tsdb", "logging", "cloud", "tracing", "profiling", "sql", "enterprise", "iot",
              "other", "custom"}
STATES = {"alpha", "beta", "stable", "deprecated"}
FLAGS = ["alerting", "annotations", "autoEnabled", "backend", "logs", "metrics",
         "multiValueFilterOperators", "preload", "skipDataQuery", "streaming", "tracing"]
INCLUDE_TYPES = {"dashboard", "page", "panel", "datasource"}
ID_PATTERN = re.compile(r"^[0-9a-z]+-([0-9a-z]+-)?(app|panel|datasource)$")
SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A node-semver range: comparators of (partial) versions, `||`-separated alternatives.
RANGE = re.compile(
    r"^\s*(([<>]=?|=|~|\^)?\s*v?\d+(\.(\d+|[xX*])){0,2}(-[0-9A-Za-z.-]+)?\s*"
    r"(\s-\s\d+(\.\d+){0,2}\s*)?(\|\|\s*)?)+$")
BINARY = re.compile(r"^(?P<exe>.+)_(linux_amd64|linux_arm64|linux_arm|darwin_amd64|darwin_arm64|"
                    r"windows_amd64\.exe)$")


def schema_errors(m):
    """Every way `m` (a parsed plugin.json) breaks the schema rules; empty when valid."""
    errs = []
    if not isinstance(m, dict):
        return ["plugin.json is not a JSON object"]
    for k in TOP_REQUIRED:
        if k not in m:
            errs.append(f"missing required key `{k}`")
    for k in sorted(set(m) - TOP_KEYS):
        errs.append(f"unknown top-level key `{k}`")
    pid, name, ptype = m.get("id"), m.get("name"), m.get("type")
    if "id" in m and not (isinstance(pid, str) and ID_PATTERN.match(pid)):
        errs.append(f"id {pid!r} does not match {ID_PATTERN.pattern}")
    if "name" in m and not (isinstance(name, str) and name.strip()):
        errs.append("name must be a non-empty string")
    if isinstance(pid, str) and name == pid:
        errs.append("name must not equal id")
    if "type" in m and ptype not in TYPES:
        errs.append(f"type {ptype!r} is not one of {sorted(TYPES)}")
    elif isinstance(pid, str) and ptype in ("app", "panel", "datasource") \
            and not pid.endswith("-" + ptype):
        errs.append(f"id {pid!r} must end with -{ptype}")
    for k in FLAGS:
        if k in m and not isinstance(m[k], bool):
            errs.append(f"`{k}` must be a boolean")
    if m.get("alerting") is True and m.get("backend") is not True:
        errs.append("`alerting` requires `backend: true`")
    if m.get("backend") is True and not (isinstance(m.get("executable"), str) and m["executable"]):
        errs.append("`backend: true` requires `executable`")
    if "category" in m and m["category"] not in CATEGORIES:
        errs.append(f"category {m['category']!r} is not one of {sorted(CATEGORIES)}")
    if "state" in m and m["state"] not in STATES:
        errs.append(f"state {m['state']!r} is not one of {sorted(STATES)}")
    includes = m.get("includes", [])
    if not isinstance(includes, list):
        errs.append("`includes` must be an array")
        includes = []
    for i, inc in enumerate(includes):
        if not isinstance(inc, dict):
            errs.append(f"includes[{i}] must be an object")
        elif "type" in inc and inc["type"] not in INCLUDE_TYPES:
            errs.append(f"includes[{i}].type {inc['type']!r} is not one of {sorted(INCLUDE_TYPES)}")
        elif inc.get("type") == "dashboard" and not isinstance(inc.get("path"), str):
            errs.append(f"includes[{i}] (dashboard) needs a `path`")

    info = m.get("info")
    if "info" in m and not isinstance(info, dict):
        errs.append("`info` must be an object")
    elif isinstance(info, dict):
        for k in INFO_REQUIRED:
            if k not in info:
                errs.append(f"missing required key `info.{k}`")
        for k in sorted(set(info) - INFO_KEYS):
            errs.append(f"unknown key `info.{k}`")
        kw = info.get("keywords")
        if "keywords" in info and not (isinstance(kw, list) and kw
                                       and all(isinstance(x, str) for x in kw)):
            errs.append("`info.keywords` must be a non-empty array of strings")
        logos = info.get("logos")
        if "logos" in info:
            if not isinstance(logos, dict):
                errs.append("`info.logos` must be an object")
            else:
                for k in ("small", "large"):
                    if not (isinstance(logos.get(k), str) and logos[k]):
                        errs.append(f"missing required key `info.logos.{k}`")
        v = info.get("version")
        if "version" in info and not (isinstance(v, str) and (SEMVER.match(v) or v == "%VERSION%")):
            errs.append(f"info.version {v!r} is not semver")
        u = info.get("updated")
        if "updated" in info and not (isinstance(u, str) and (DATE.match(u) or u == "%TODAY%")):
            errs.append(f"info.updated {u!r} is not YYYY-MM-DD")
        for key, fields in (("links", ("name", "url")), ("screenshots", ("name", "path"))):
            items = info.get(key, [])
            if not isinstance(items, list):
                errs.append(f"`info.{key}` must be an array")
                continue
            for i, it in enumerate(items):
                if not isinstance(it, dict) or any(not isinstance(it.get(f, ""), str) for f in fields):
                    errs.append(f"info.{key}[{i}] must be {{{', '.join(fields)}}} strings")

    deps = m.get("dependencies")
    if "dependencies" in m and not isinstance(deps, dict):
        errs.append("`dependencies` must be an object")
    elif isinstance(deps, dict):
        for k in sorted(set(deps) - DEPENDENCY_KEYS):
            errs.append(f"unknown key `dependencies.{k}`")
        gd = deps.get("grafanaDependency")
        if gd is None:
            errs.append("missing required key `dependencies.grafanaDependency`")
        elif not (isinstance(gd, str) and RANGE.match(gd)):
            errs.append(f"dependencies.grafanaDependency {gd!r} is not a semver range")
        if not isinstance(deps.get("plugins", []), list):
            errs.append("`dependencies.plugins` must be an array")
    return errs


def referenced_paths(m):
    """Every file plugin.json points at, relative to the plugin folder."""
    info = m.get("info", {})
    paths = [info.get("logos", {}).get("small"), info.get("logos", {}).get("large")]
    paths += [s.get("path") for s in info.get("screenshots", [])]
    paths += [i.get("path") for i in m.get("includes", []) if i.get("type") == "dashboard"]
    return sorted({p for p in paths if p})


class Checker:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAILED: {what}" + (f": {detail}" if detail else ""))


def check_zip(path, epoch):
    c = Checker()
    zf = zipfile.ZipFile(path)
    infos = zf.infolist()
    names = [i.filename for i in infos]
    files = {n for n in names if not n.endswith("/")}
    top = {n.split("/")[0] for n in names}
    c.check(top == {PLUGIN_ID}, "one top folder named after the plugin id", str(sorted(top)))
    c.check(not any(n.startswith("/") or ".." in n.split("/") for n in names), "no absolute or .. paths")
    c.check(not any(n.startswith(f"{PLUGIN_ID}/dist/") for n in names), "no nested dist/")
    c.check(not any(n.rsplit("/", 1)[-1] in ("standalone.txt", "pid.txt") for n in names),
            "no backend debug files")
    c.check(names == sorted(names), "entries sorted")

    want_time = time.gmtime(epoch - epoch % 2)[:6]  # zip keeps even seconds
    bad_times = [i.filename for i in infos if i.date_time != want_time]
    c.check(not bad_times, f"every mtime is SOURCE_DATE_EPOCH {epoch}", ", ".join(bad_times[:5]))
    c.check(all(i.extra == b"" for i in infos), "no extra attributes (zip -X)")
    for i in infos:
        mode = i.external_attr >> 16
        base = i.filename.rstrip("/").rsplit("/", 1)[-1]
        if i.filename.endswith("/"):
            want = 0o755
        elif BINARY.match(base):
            want = 0o755
        else:
            want = 0o644
        c.check(i.create_system == 3 and stat.S_IMODE(mode) == want,
                f"{i.filename} has mode {oct(want)}", oct(stat.S_IMODE(mode)))

    for f in ("plugin.json", "module.js", "module.js.map", "README.md", "CHANGELOG.md", "LICENSE"):
        c.check(f"{PLUGIN_ID}/{f}" in files, f"{f} in the plugin folder")
    if f"{PLUGIN_ID}/plugin.json" not in files:
        return c
    raw = zf.read(f"{PLUGIN_ID}/plugin.json").decode()
    manifest = json.loads(raw)
    for e in schema_errors(manifest):
        c.check(False, "plugin.json schema", e)
    c.check("%VERSION%" not in raw and "%TODAY%" not in raw, "plugin.json placeholders replaced")
    c.check(manifest.get("id") == PLUGIN_ID, "plugin.json id", manifest.get("id"))
    updated = manifest.get("info", {}).get("updated")
    c.check(updated == time.strftime("%Y-%m-%d", time.gmtime(epoch)),
            "info.updated is SOURCE_DATE_EPOCH's date", updated)

    for p in referenced_paths(manifest):
        c.check(f"{PLUGIN_ID}/{p}" in files, f"plugin.json references {p}: in the zip")
    for k in ("small", "large"):
        logo = manifest.get("info", {}).get("logos", {}).get(k, "")
        if f"{PLUGIN_ID}/{logo}" in files:
            c.check(logo.endswith(".svg") and b"<svg" in zf.read(f"{PLUGIN_ID}/{logo}"),
                    f"logo {logo} is an SVG")

    exe = manifest.get("executable")
    binaries = sorted(n for n in files if BINARY.match(n.split("/", 1)[1]))
    if manifest.get("backend"):
        c.check(f"{PLUGIN_ID}/{exe}_linux_amd64" in files, f"{exe}_linux_amd64 present")
        for b in binaries:
            c.check(BINARY.match(b.split("/", 1)[1]).group("exe") == exe,
                    f"{b} is named after the executable {exe}")

    version = manifest.get("info", {}).get("version")
    cargo = re.search(r'^version = "(.+)"', (REPO / "Cargo.toml").read_text(), re.M).group(1)
    npm = json.loads((REPO / "frontend/package.json").read_text())["version"]
    c.check(version == cargo == npm, "versions agree (plugin.json, Cargo.toml, package.json)",
            f"{version} / {cargo} / {npm}")
    changelog = zf.read(f"{PLUGIN_ID}/CHANGELOG.md").decode() if f"{PLUGIN_ID}/CHANGELOG.md" in files else ""
    c.check(re.search(rf"^## \[{re.escape(str(version))}\]", changelog, re.M) is not None,
            f"CHANGELOG.md has a section for {version}")
    readme = zf.read(f"{PLUGIN_ID}/README.md") if f"{PLUGIN_ID}/README.md" in files else b""
    c.check(readme == (REPO / "README.md").read_bytes(), "README.md is the repository's")
    lic = zf.read(f"{PLUGIN_ID}/LICENSE").decode() if f"{PLUGIN_ID}/LICENSE" in files else ""
    c.check("Apache License" in lic and "Version 2.0, January 2004" in lic
            and "END OF TERMS AND CONDITIONS" in lic, "LICENSE is the Apache-2.0 text")

    sums = Path(str(path) + ".sha256")
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    c.check(sums.exists() and sums.read_text() == f"{digest}  {Path(path).name}\n",
            f"{sums.name} matches the zip", digest)
    return c


def self_test():
    """Each broken manifest must fail with its rule's message; the good one must pass."""
    good = json.loads((REPO / "plugin.json").read_text())
    good["info"]["version"], good["info"]["updated"] = "1.2.3", "2026-01-31"
    c = Checker()
    c.check(schema_errors(good) == [], "the repository's plugin.json passes", str(schema_errors(good)))

    def broken(change, expect):
        m = copy.deepcopy(good)
        change(m)
        errs = schema_errors(m)
        c.check(any(expect in e for e in errs), f"self-test: {expect!r} is reported", str(errs))

    broken(lambda m: m.update(id="lanterndatasource"), "does not match")
    broken(lambda m: m.update(id="Lantern-clickhouse-datasource"), "does not match")
    broken(lambda m: m.update(id="lantern-clickhouse-panel"), "must end with -datasource")
    broken(lambda m: m.update(name=m["id"]), "name must not equal id")
    broken(lambda m: m.update(type="plugin"), "type 'plugin'")
    broken(lambda m: m.pop("dependencies"), "missing required key `dependencies`")
    broken(lambda m: m.update(colour="blue"), "unknown top-level key `colour`")
    broken(lambda m: m["info"].pop("keywords"), "missing required key `info.keywords`")
    broken(lambda m: m["info"].update(keywords=[]), "non-empty array")
    broken(lambda m: m["info"].update(homepage="x"), "unknown key `info.homepage`")
    broken(lambda m: m["info"]["logos"].pop("large"), "info.logos.large")
    broken(lambda m: m["info"].update(version="v1"), "is not semver")
    broken(lambda m: m["info"].update(updated="31.01.2026"), "is not YYYY-MM-DD")
    broken(lambda m: m["dependencies"].update(grafana=">=12"), "unknown key `dependencies.grafana`")
    broken(lambda m: m["dependencies"].pop("grafanaDependency"), "grafanaDependency`")
    broken(lambda m: m["dependencies"].update(grafanaDependency="twelve"), "not a semver range")
    broken(lambda m: m.update(backend=False), "`alerting` requires `backend: true`")
    broken(lambda m: m.update(metrics="yes"), "`metrics` must be a boolean")
    broken(lambda m: m.update(category="database"), "category 'database'")
    broken(lambda m: m.update(includes=[{"type": "dashboard", "name": "x"}]), "needs a `path`")
    c.check(referenced_paths({"info": {"logos": {"small": "a.svg", "large": "a.svg"},
                                       "screenshots": [{"name": "s", "path": "img/s.png"}]},
                              "includes": [{"type": "dashboard", "path": "dashboards/d.json"}]})
            == ["a.svg", "dashboards/d.json", "img/s.png"], "self-test: referenced paths")
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("zip", nargs="?")
    ap.add_argument("--epoch", type=int, help="SOURCE_DATE_EPOCH the zip was built with")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        c = self_test()
        print(f"plugin.json rules self-test: {c.passed} passed, {c.failed} failed")
    elif a.zip and a.epoch is not None:
        c = check_zip(a.zip, a.epoch)
        print(f"package: {c.passed} checks passed, {c.failed} failed")
    else:
        ap.error("give a zip and --epoch, or --self-test")
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
