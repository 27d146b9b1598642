//! The ClickHouse engine the integration tests run against.
//!
//! By default: `tests/support/chshim.py` (chdb-core behind ClickHouse's HTTP interface) started on
//! a random loopback port with a random password, once per test binary, stopped by its PID when
//! the binary exits (the shim also exits when its parent dies). With `LANTERN_CLICKHOUSE_URL`
//! (and optionally `LANTERN_CLICKHOUSE_USER` / `LANTERN_CLICKHOUSE_PASSWORD`) the same tests run
//! against that server instead. Each test works in its own database, created and dropped here.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running ClickHouse (or a configured real server).
pub struct Engine {
    pub url: String,
    pub user: String,
    pub password: String,
    child: Option<Child>,
    pub data_dir: Option<PathBuf>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Python interpreter with chdb-core installed.
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("LANTERN_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = manifest_dir().join(".venv/bin/python");
    if venv.exists() {
        return venv;
    }
    panic!(
        "no ClickHouse engine for tests: neither LANTERN_CLICKHOUSE_URL nor {} exists. \
         Run `bash .ci/setup` once (it creates .venv with chdb-core), or point LANTERN_CLICKHOUSE_URL at a server.",
        venv.display()
    );
}

/// A random-enough token for passwords and names (no extra crates).
pub fn token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos() ^ std::process::id() as u128);
    format!("{:016x}", h.finish())
}

/// Options for a shim.
#[derive(Default, Clone)]
pub struct ShimOptions {
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_client_ca: Option<PathBuf>,
    /// The user's settings profile `readonly` level (`--readonly`).
    pub readonly: Option<&'static str>,
    /// Data directory (default: a new one).
    pub data_dir: Option<PathBuf>,
    /// Refuse requests without this header (`--require-header`), like an identity proxy.
    pub require_header: Option<&'static str>,
}

/// Starts a shim; panics with its stderr when it does not come up.
pub fn start_shim(password: &str, opts: &ShimOptions) -> Engine {
    let dir = opts
        .data_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("lantern-engine-{}", token())));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut cmd = Command::new(python());
    cmd.arg(manifest_dir().join("tests/support/chshim.py"))
        .args(["--port", "0", "--path"])
        .arg(&dir)
        .args(["--password", password]);
    if let (Some(c), Some(k)) = (&opts.tls_cert, &opts.tls_key) {
        cmd.arg("--tls-cert").arg(c).arg("--tls-key").arg(k);
    }
    if let Some(ca) = &opts.tls_client_ca {
        cmd.arg("--tls-client-ca").arg(ca);
    }
    if let Some(level) = opts.readonly {
        cmd.args(["--readonly", level]);
    }
    if let Some(name) = opts.require_header {
        cmd.args(["--require-header", name]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chshim.py");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(l) if l.contains("listening on") => l,
        other => {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("chshim did not start ({other:?}): {err}");
        }
    };
    // Keep draining stderr so the shim never blocks on a full pipe.
    if let Some(mut e) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = e.read_to_end(&mut sink);
        });
    }
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http"))
        .expect("url in ready line")
        .to_owned();
    Engine {
        url,
        user: "default".into(),
        password: password.into(),
        child: Some(child),
        data_dir: Some(dir),
    }
}

/// The shared engine of this test binary.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        if let Ok(url) = std::env::var("LANTERN_CLICKHOUSE_URL") {
            return Engine {
                url,
                user: std::env::var("LANTERN_CLICKHOUSE_USER").unwrap_or_else(|_| "default".into()),
                password: std::env::var("LANTERN_CLICKHOUSE_PASSWORD").unwrap_or_default(),
                child: None,
                data_dir: None,
            };
        }
        let e = start_shim(&token(), &ShimOptions::default());
        e.wait_ready();
        e
    })
}

/// Starts `n` engines of their own, independent of the shared one (their own processes and
/// data), all with one password, each answering `/ping`; for tests that stop a server.
pub fn start_engines(n: usize) -> Vec<Engine> {
    let password = token();
    let started: Vec<Engine> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|_| s.spawn(|| start_shim(&password, &ShimOptions::default())))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("engine start"))
            .collect()
    });
    for e in &started {
        e.wait_ready();
    }
    started
}

impl Engine {
    /// Waits until the engine answers `/ping`.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.http("GET", "/ping", "").map(|(s, _)| s) != Ok(200) {
            assert!(
                Instant::now() < deadline,
                "engine at {} does not answer /ping",
                self.url
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops this engine's process (a crashed server: its port refuses connections).
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("an engine started by these tests");
        let _ = child.kill();
        let _ = child.wait();
    }

    pub fn host(&self) -> (String, u16) {
        let rest = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        let (h, p) = authority.rsplit_once(':').expect("port in engine url");
        (
            h.trim_matches(['[', ']']).to_owned(),
            p.parse().expect("port"),
        )
    }

    pub fn is_tls(&self) -> bool {
        self.url.starts_with("https")
    }

    /// A plain HTTP request (no TLS); returns (status, body).
    pub fn http(
        &self,
        method: &str,
        path_and_query: &str,
        body: &str,
    ) -> Result<(u16, String), String> {
        assert!(
            !self.is_tls(),
            "the blocking test client speaks plain HTTP only"
        );
        let (host, port) = self.host();
        let mut s = TcpStream::connect((host.as_str(), port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(120))).ok();
        let req = format!(
            "{method} {path_and_query} HTTP/1.1\r\nHost: {host}\r\nX-ClickHouse-User: {}\r\nX-ClickHouse-Key: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.user,
            self.password,
            body.len()
        );
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&resp).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Ok((status, body.to_owned()))
    }

    /// Runs SQL; panics with ClickHouse's message when it fails.
    pub fn exec(&self, sql: &str) -> String {
        match self.http("POST", "/", sql) {
            Ok((200, body)) => body,
            Ok((status, body)) => panic!("engine query failed with {status}: {body}\nSQL: {sql}"),
            Err(e) => panic!("engine unreachable: {e}"),
        }
    }

    /// A fresh database for one test, dropped when the guard goes.
    pub fn database(&'static self, test: &str) -> TestDb {
        let name = format!(
            "t_{}_{}",
            test.replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
            &token()[..8]
        );
        self.exec(&format!("CREATE DATABASE {name}"));
        TestDb { engine: self, name }
    }
}

/// A per-test database.
pub struct TestDb {
    pub engine: &'static Engine,
    pub name: String,
}

impl TestDb {
    pub fn exec(&self, sql: &str) -> String {
        let path = format!("/?database={}", self.name);
        match self.engine.http("POST", &path, sql) {
            Ok((200, body)) => body,
            Ok((status, body)) => panic!("query failed with {status}: {body}\nSQL: {sql}"),
            Err(e) => panic!("engine unreachable: {e}"),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = self.engine.http(
            "POST",
            "/",
            &format!("DROP DATABASE IF EXISTS {}", self.name),
        );
    }
}

/// Writes a self-signed CA and a server certificate for 127.0.0.1/localhost (and a client
/// certificate) with the `openssl` command into `dir`.
pub fn make_certs(dir: &Path) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl must be installed");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("san.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Lantern Test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.cnf",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "client.key",
        "-out",
        "client.csr",
        "-subj",
        "/CN=grafana",
    ]);
    std::fs::write(dir.join("client.cnf"), "extendedKeyUsage=clientAuth\n").unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "client.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "client.pem",
        "-days",
        "2",
        "-extfile",
        "client.cnf",
    ]);
}

/// The statements of a SQL script: separated by lines holding only `;`, `--` comment lines
/// dropped, empty statements skipped.
pub fn sql_statements(text: &str) -> Vec<String> {
    text.split("\n;\n")
        .map(|stmt| {
            stmt.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|body| !body.trim().is_empty())
        .collect()
}
