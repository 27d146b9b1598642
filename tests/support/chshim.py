#!/usr/bin/env python3
"""A ClickHouse HTTP interface in front of chdb (ClickHouse embedded in Python), for tests.

Lantern's integration tests need a real ClickHouse engine without Docker. chdb-core runs
ClickHouse 26.9 in process; this server speaks the part of ClickHouse's HTTP interface that HTTP
clients (the Rust `clickhouse` crate, curl) use, so the plugin talks to it exactly as it talks to
a server:

* `GET|HEAD /ping`, `/replicas_status`, `GET /` without a query -> `Ok.`
* `GET|POST|HEAD /`: SQL from the `query` parameter + "\\n" + the body (multipart form fields
  too); `database`, `default_format` / `X-ClickHouse-Format`, `param_<name>`, `session_id`,
  `query_id`; any other parameter is a setting (`SET name = 'value'`, `readonly` last); GET is
  readonly=2.
* auth: `X-ClickHouse-User`/`X-ClickHouse-Key`, Basic, or `user`/`password` parameters; a wrong
  password is Code 516 / HTTP 403.
* errors: ClickHouse's status mapping, `X-ClickHouse-Exception-Code`, `Code: N. DB::Exception:`.
* compression: `compress=1` native LZ4 blocks (CityHash128 checksums), else `Accept-Encoding`
  lz4 frame or gzip; request bodies `Content-Encoding: gzip|lz4` and `decompress=1`.
* optional TLS (`--tls-cert/--tls-key`, client certificates with `--tls-client-ca`).
* TCP_NODELAY on accepted sockets (without it keep-alive clients stall ~40 ms per request).
* `--readonly 1|2`: the user's settings profile is read-only (applied before the request's own
  settings, so a readonly=1 user cannot send any setting, as on a real server).
* `query_id`: chdb assigns its own ids, so the HTTP query_id is kept as the query's
  `log_comment`, and `query_id = '…'` in `KILL QUERY` and `system.processes` queries also
  matches it.
* the cluster `test_shard_localhost` (one shard, this node), as in a server's default config.
* `getClientHTTPHeader('Name')` returns the request's header (chdb has no HTTP request), with
  the setting `allow_get_client_http_header` on, as on a server; `X-ClickHouse-*` and
  `Authorization` read as empty.
* `--require-header NAME`: requests without that header are refused (Code 516), like a proxy
  in front of ClickHouse that authorises by Grafana's identity headers.

Started with `--port 0` it prints one line when ready:
`chshim listening on http://127.0.0.1:PORT (ClickHouse <version>, data <dir>)`.
It exits when its parent process dies, so a crashed test run leaves no server behind.
"""

import argparse
import base64
import gzip
import http.server
import json
import os
import re
import socket
import ssl
import struct
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

import chdb

CLUSTER_CONFIG = """<clickhouse>
  <tcp_port>9000</tcp_port>
  <remote_servers>
    <test_shard_localhost>
      <shard><replica><host>localhost</host><port>9000</port></replica></shard>
    </test_shard_localhost>
  </remote_servers>
</clickhouse>
"""

RESERVED = {
    "query", "database", "default_format", "user", "password", "quota_key", "query_id", "session_id",
    "session_timeout", "session_check", "compress", "decompress", "buffer_size", "wait_end_of_query",
    "stacktrace", "role", "client_protocol_version", "close_session", "enable_http_compression",
}

STATUS = {}
for status, codes in {
    400: [6, 8, 15, 25, 26, 27, 36, 37, 38, 41, 44, 53, 62, 72, 117, 123, 167, 168, 223, 321, 376, 427, 441, 675, 676],
    401: [194],
    403: [192, 193, 497, 512, 516],
    404: [46, 47, 50, 56, 60, 63, 73, 78, 81, 115, 152, 336, 511],
    408: [159],
    411: [381],
    413: [229],
    415: [779],
    501: [48],
    503: [76, 209, 439],
}.items():
    for c in codes:
        STATUS[c] = status

VERSION = "unknown"
PATH = None
USER = "default"
PASSWORD = ""
SESSIONS = {}
SESSIONS_LOCK = threading.Lock()
VERBOSE = False
PROFILE_READONLY = None  # --readonly: the user's settings profile level
REQUIRE_HEADER = None  # --require-header: refuse requests without this header
CLIENT_HEADER_CALL = re.compile(r"getClientHTTPHeader\(\s*'([^'\\]*)'\s*\)", re.IGNORECASE)


class ClickHouseError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def exception_body(code, message):
    message = message.strip()
    if not message.startswith("Code:"):
        message = f"Code: {code}. DB::Exception: {message}"
    if "(version " not in message:
        message += f" (version {VERSION} (official build))"
    return message + "\n"


def error_from(exc):
    text = str(exc)
    m = re.search(r"Code: (\d+)\.", text)
    code = int(m.group(1)) if m else 1002
    return ClickHouseError(code, text)


def content_type(fmt):
    f = fmt.lower()
    if f.startswith(("rowbinary", "native", "arrow", "parquet", "orc", "avro", "msgpack", "protobuf", "capnproto", "bson", "npy")):
        return "application/octet-stream"
    if f.startswith("json"):
        return "application/json; charset=UTF-8"
    if f.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if f.startswith("csv"):
        return "text/csv; charset=UTF-8; header=absent"
    if f == "xml":
        return "application/xml; charset=UTF-8"
    return "text/plain; charset=UTF-8"


def cityhash128(data):
    from clickhouse_cityhash.cityhash import CityHash128
    return CityHash128(data)


def native_compress(raw):
    """ClickHouse native compressed blocks (LZ4, <= 1 MiB of raw data each)."""
    import lz4.block
    out = bytearray()
    for i in range(0, max(len(raw), 1), 1 << 20):
        chunk = raw[i:i + (1 << 20)]
        payload = lz4.block.compress(chunk, store_size=False)
        header = struct.pack("<BII", 0x82, len(payload) + 9, len(chunk))
        h = cityhash128(header + payload)
        out += struct.pack("<QQ", h >> 64, h & ((1 << 64) - 1)) + header + payload
    return bytes(out)


def native_decompress(data):
    import lz4.block
    out = bytearray()
    i = 0
    while i < len(data):
        checksum = data[i:i + 16]
        method, size, raw_size = struct.unpack("<BII", data[i + 16:i + 25])
        block = data[i + 16:i + 16 + size]
        h = cityhash128(block)
        if struct.pack("<QQ", h >> 64, h & ((1 << 64) - 1)) != checksum:
            raise ClickHouseError(40, "Checksum doesn't match: corrupted data. (CHECKSUM_DOESNT_MATCH)")
        payload = block[9:]
        if method == 0x82:
            out += lz4.block.decompress(payload, uncompressed_size=raw_size)
        elif method == 0x02:
            out += payload
        else:
            raise ClickHouseError(89, f"Unknown compression method: {method:#x}. (UNKNOWN_COMPRESSION_METHOD)")
        i += 16 + size
    return bytes(out)


# String literals, quoted identifiers, heredocs and comments (nested block comments are rare
# enough in tests to read as the first `*/`): text where the word FORMAT is not a clause.
OPAQUE_SQL = re.compile(
    r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`(?:[^`\\]|\\.|``)*`"
    r"|\$(\w*)\$.*?\$\1\$|--[^\n]*|//[^\n]*|#[ !][^\n]*|/\*.*?\*/",
    re.S,
)


def quote_literal(v):
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_multipart(body, ctype):
    m = re.search(r'boundary="?([^";]+)"?', ctype)
    if not m:
        return {}
    boundary = ("--" + m.group(1)).encode()
    fields = {}
    for part in body.split(boundary):
        part = part.strip(b"\r\n")
        if not part or part == b"--":
            continue
        head, _, value = part.partition(b"\r\n\r\n")
        nm = re.search(rb'name="([^"]*)"', head)
        if nm:
            fields[nm.group(1).decode()] = value.decode("utf-8", "replace")
    return fields


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "chshim"

    def log_message(self, fmt, *args):
        if VERBOSE:
            sys.stderr.write("chshim: " + (fmt % args) + "\n")

    def setup(self):
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as e:
                if VERBOSE:
                    sys.stderr.write(f"chshim: TLS handshake failed: {e}\n")
                self.close_connection = True
                raise

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = bytearray()
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0] or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
            body = bytes(body)
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        enc = self.headers.get("Content-Encoding", "").lower()
        if enc == "gzip":
            body = gzip.decompress(body)
        elif enc == "lz4":
            import lz4.frame
            body = lz4.frame.decompress(body)
        return body

    def send(self, status, body, headers=None, head_only=False):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head_only:
            self.wfile.write(body)

    def do_HEAD(self):
        self.handle_request("HEAD")

    def do_GET(self):
        self.handle_request("GET")

    def do_POST(self):
        self.handle_request("POST")

    def handle_request(self, method):
        url = urllib.parse.urlsplit(self.path)
        body = self.read_body() if method == "POST" else b""
        if url.path in ("/ping", "/replicas_status"):
            return self.send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"}, method == "HEAD")
        if url.path != "/":
            return self.send(404, f"There is no handle {url.path}\n".encode(), {"Content-Type": "text/plain; charset=UTF-8"})
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("multipart/form-data"):
            params.update(parse_multipart(body, ctype))
            body = b""
        if not params.get("query") and not body and method != "POST":
            return self.send(200, b"Ok.\n", {"Content-Type": "text/plain; charset=UTF-8"}, method == "HEAD")
        query_id = params.get("query_id") or str(uuid.uuid4())
        try:
            self.check_auth(params)
            if params.get("decompress") == "1":
                body = native_decompress(body)
            sql = params.get("query", "")
            if body:
                sql = (sql + "\n" if sql else "") + body.decode("utf-8", "replace")
            if not sql.strip():
                raise ClickHouseError(62, "Empty query. (SYNTAX_ERROR)")
            fmt = params.get("default_format") or self.headers.get("X-ClickHouse-Format") or "TabSeparated"
            # A FORMAT clause, not the word inside a string literal, quoted name or comment.
            found = re.findall(r"\bFORMAT\s+(\w+)", OPAQUE_SQL.sub(" ", sql), re.IGNORECASE)
            if found and not re.match(r"\s*INSERT\b", sql, re.IGNORECASE):
                fmt = found[-1]
            started = time.monotonic_ns()
            result = self.execute(sql, fmt, params, method)
            elapsed = time.monotonic_ns() - started
        except ClickHouseError as e:
            return self.send(
                STATUS.get(e.code, 500),
                exception_body(e.code, e.message).encode(),
                {
                    "Content-Type": "text/plain; charset=UTF-8",
                    "X-ClickHouse-Exception-Code": str(e.code),
                    "X-ClickHouse-Query-Id": query_id,
                    "X-ClickHouse-Server-Display-Name": "chshim",
                },
            )
        data = result.bytes() if result is not None else b""
        summary = {
            # Rows and bytes read from tables, as a server reports them (not the result's rows).
            "read_rows": str(storage_stat(result, "storage_rows_read", "rows_read")),
            "read_bytes": str(storage_stat(result, "storage_bytes_read", "bytes_read")),
            "written_rows": "0",
            "written_bytes": "0",
            "total_rows_to_read": str(result.rows_read() if result is not None else 0),
            "result_rows": "0",
            "result_bytes": str(len(data)),
            "elapsed_ns": str(elapsed),
        }
        headers = {
            "Content-Type": content_type(fmt),
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Server-Display-Name": "chshim",
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Summary": json.dumps(summary, separators=(",", ":")),
        }
        accept = self.headers.get("Accept-Encoding", "").lower()
        if params.get("compress") == "1":
            data = native_compress(data)
        elif params.get("enable_http_compression", "1") == "1" and "lz4" in accept:
            import lz4.frame
            data = lz4.frame.compress(data)
            headers["Content-Encoding"] = "lz4"
        elif params.get("enable_http_compression", "1") == "1" and "gzip" in accept:
            data = gzip.compress(data, compresslevel=3)
            headers["Content-Encoding"] = "gzip"
        self.send(200, data, headers, method == "HEAD")

    def client_headers(self, sql):
        """getClientHTTPHeader('Name') as the request's header value, as a server reads it."""
        def value(m):
            name = m.group(1)
            if name.lower().startswith("x-clickhouse-") or name.lower() == "authorization":
                return "''"
            return quote_literal(self.headers.get(name, ""))
        return CLIENT_HEADER_CALL.sub(value, sql)

    def check_auth(self, params):
        if REQUIRE_HEADER and not self.headers.get(REQUIRE_HEADER):
            raise ClickHouseError(516, f"the proxy requires the {REQUIRE_HEADER} header. (AUTHENTICATION_FAILED)")
        user = self.headers.get("X-ClickHouse-User")
        password = self.headers.get("X-ClickHouse-Key")
        auth = self.headers.get("Authorization", "")
        from_headers = user is not None or password is not None
        if not from_headers and auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                raise ClickHouseError(516, "Malformed basic authorization. (AUTHENTICATION_FAILED)")
        elif not from_headers:
            user = params.get("user")
            password = params.get("password")
        user = user or "default"
        password = password or ""
        if user != USER or password != PASSWORD:
            raise ClickHouseError(
                516, f"{user}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)"
            )

    def execute(self, sql, fmt, params, method):
        session = params.get("session_id")
        if session:
            with SESSIONS_LOCK:
                entry = SESSIONS.get(session)
                if entry is None:
                    entry = SESSIONS[session] = (chdb.connect(PATH), threading.Lock())
            conn, lock = entry
        else:
            conn, lock = chdb.connect(PATH), None
        try:
            if lock:
                lock.acquire()
            settings = [(k, v) for k, v in params.items() if k not in RESERVED and not k.startswith("param_")]
            settings.sort(key=lambda kv: kv[0] == "readonly")
            if method == "GET" and "readonly" not in params:
                settings.append(("readonly", "2"))
            # chdb gives every query its own id: the HTTP query_id travels as log_comment, and
            # KILL QUERY / system.processes by query_id look there too (see translate_query_id).
            internal = []
            if params.get("query_id"):
                internal.append(("log_comment", params["query_id"]))
            # The user's settings profile comes before anything the request asks for.
            if PROFILE_READONLY:
                internal.append(("readonly", PROFILE_READONLY))
            settings = internal + settings
            sql = translate_query_id(sql)
            if ("allow_get_client_http_header", "1") in settings:
                sql = self.client_headers(sql)
            try:
                if params.get("database"):
                    conn.query("USE `" + params["database"].replace("`", "\\`") + "`")
                for name, value in settings:
                    if not re.fullmatch(r"\w+", name):
                        raise ClickHouseError(115, f"Unknown setting '{name}'. (UNKNOWN_SETTING)")
                    conn.query(f"SET {name} = {quote_literal(value)}")
                query_params = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
                return conn.query(sql, fmt, params=query_params or None)
            except ClickHouseError:
                raise
            except Exception as e:
                raise error_from(e)
        finally:
            if lock:
                lock.release()
            else:
                conn.close()


def storage_stat(result, name, fallback):
    """A statistic of a chdb result: the storage one when this chdb has it, else the older one."""
    if result is None:
        return 0
    stat = getattr(result, name, None) or getattr(result, fallback)
    return stat()


def translate_query_id(sql):
    """`query_id = 'x'` in KILL QUERY or a system.processes query also matches chdb's queries
    whose log_comment is 'x' (the HTTP query_id a request carried)."""
    if not (re.match(r"\s*KILL\s+QUERY\b", sql, re.IGNORECASE) or "system.processes" in sql):
        return sql
    return re.sub(
        r"\bquery_id\s*=\s*('(?:[^'\\]|\\.)*')",
        lambda m: f"(query_id = {m.group(1)} OR Settings['log_comment'] = {m.group(1)})",
        sql,
    )


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True


def watch_parent(parent):
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def main():
    global VERSION, PATH, USER, PASSWORD, VERBOSE, PROFILE_READONLY, REQUIRE_HEADER
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8123)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--path")
    ap.add_argument("--user", default="default")
    ap.add_argument("--password", default="")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--tls-client-ca", help="require client certificates signed by this CA")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--readonly", choices=["0", "1", "2"], default="0", help="the user's profile readonly level (1: no setting may be sent)")
    ap.add_argument("--require-header", help="refuse requests without this header (Code 516)")
    args = ap.parse_args()
    REQUIRE_HEADER = args.require_header
    PATH = args.path or tempfile.mkdtemp(prefix="chshim-")
    os.makedirs(PATH, exist_ok=True)
    USER, PASSWORD, VERBOSE = args.user, args.password, args.verbose
    PROFILE_READONLY = None if args.readonly == "0" else args.readonly
    # Like a server's default config, declare the one-shard cluster `test_shard_localhost` so
    # that Distributed tables can be tested. chdb listens on no TCP port: the declared tcp_port
    # only makes the cluster's replica count as this node, so its queries run in process.
    config = os.path.join(PATH, "chshim-config.xml")
    with open(config, "w") as f:
        f.write(CLUSTER_CONFIG)
    # The first connection starts the embedded server with this config; later ones share it.
    keep = chdb.connect(f"file:{PATH}?config-file={config}")  # keeps the server alive
    VERSION = keep.query("SELECT version()", "TabSeparated").bytes().decode().strip()
    server = Server((args.host, args.port), Handler)
    scheme = "http"
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.tls_client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
        scheme = "https"
    threading.Thread(target=watch_parent, args=(os.getppid(),), daemon=True).start()
    host, port = server.server_address[:2]
    print(f"chshim listening on {scheme}://{host}:{port} (ClickHouse {VERSION}, data {PATH})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
