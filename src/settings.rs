//! Datasource settings: what a Grafana datasource instance says, validated once.
//!
//! Grafana sends the instance's `jsonData` (bytes), its decrypted `secureJsonData` (a map) and a
//! few top-level fields (`url`, basic auth) with every request. This module turns them into a
//! [`Settings`] value that cannot be invalid, or a [`SettingsError`] that names the key and the
//! reason. Callers cache the result per `(uid, lastUpdatedMS)`, so the parse runs once per save.
//!
//! Two vocabularies are accepted so provisioning files of both existing plugins work after
//! changing only the datasource `type`:
//!
//! * grafana/clickhouse-datasource: `host`, `port`, `protocol`, `secure`, `path`, `username`,
//!   `defaultDatabase`, `tlsSkipVerify`, `tlsAuth`, `tlsAuthWithCACert`, `dialTimeout`,
//!   `queryTimeout`, `customSettings`, `httpHeaders`, `forwardGrafanaHeaders`, `enableRowLimit`,
//!   `otelVersion`, the `logs` / `traces` objects (default tables, column roles,
//!   `durationUnit`, `otelVersion`); secure `password`, `tlsCACert`,
//!   `tlsClientCert`, `tlsClientKey`, `secureHttpHeaders.<name>`. Booleans and numbers may be
//!   strings, as that plugin accepts them.
//! * Altinity/clickhouse-grafana: the datasource `url`, basic auth (`basicAuthUser` + secure
//!   `basicAuthPassword`), `xHeaderUser` + secure `xHeaderKey`, `defaultDatabase`,
//!   `httpHeaderName<N>` + secure `httpHeaderValue<N>`.
//!
//! Secrets live in [`Secret`], whose `Debug` and `Display` print `[redacted]`, so no log line,
//! error or response can carry them by accident.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// A secret string. Its `Debug` never shows the value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (the HTTP client).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no secret was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("[redacted]")
        }
    }
}

/// HTTP or HTTPS: the only transports this plugin speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

/// How the plugin authenticates to ClickHouse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `X-ClickHouse-User` / `X-ClickHouse-Key` headers (grafana keys and Altinity's `xHeader*`).
    Headers {
        /// User name; empty means ClickHouse's `default`.
        user: String,
        /// Password.
        password: Secret,
    },
    /// `Authorization: Basic` (Altinity's datasource basic auth).
    Basic {
        /// User name.
        user: String,
        /// Password.
        password: Secret,
    },
}

impl Auth {
    /// The user name the plugin connects as (`default` when none is set).
    pub fn user(&self) -> &str {
        let user = match self {
            Auth::Headers { user, .. } | Auth::Basic { user, .. } => user,
        };
        if user.is_empty() { "default" } else { user }
    }
}

/// TLS options for HTTPS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tls {
    /// Accept any server certificate (`tlsSkipVerify`).
    pub skip_verify: bool,
    /// PEM CA certificate(s) to trust instead of the system roots (`tlsAuthWithCACert`).
    pub ca_cert: Option<Secret>,
    /// PEM client certificate and key for mutual TLS (`tlsAuth`).
    pub client_cert: Option<(Secret, Secret)>,
}

/// One extra HTTP header sent with every request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Header name.
    pub name: String,
    /// Header value (secure values stay redacted in Debug).
    pub value: Secret,
}

/// Validated settings of one datasource instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `http` or `https`.
    pub protocol: Protocol,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// URL path prefix (for proxies), `""` or starting with `/`.
    pub path: String,
    /// Credentials.
    pub auth: Auth,
    /// Database used for unqualified table names; empty means the user's default.
    pub default_database: String,
    /// TLS options (only used with HTTPS).
    pub tls: Tls,
    /// Connect timeout.
    pub dial_timeout: Duration,
    /// Whole-query timeout, enforced by the plugin.
    pub query_timeout: Duration,
    /// ClickHouse settings sent with every query (`customSettings`).
    pub custom_settings: BTreeMap<String, String>,
    /// Let queries write (`allowWrites`, off by default): no read-only level is sent.
    pub allow_writes: bool,
    /// Let queries carry their own `SETTINGS` (`allowQuerySettings`): readonly=2 instead of 1.
    pub allow_query_settings: bool,
    /// At most this many result rows per query (`maxResultRows`); the rest is cut with a notice.
    pub max_result_rows: u64,
    /// At most this many bytes of frame data per query (`maxResultBytes`).
    pub max_result_bytes: u64,
    /// Extra HTTP headers (`httpHeaders`, Altinity's `httpHeaderName<N>`).
    pub headers: Vec<Header>,
    /// Forward the identity headers Grafana sends with a request to ClickHouse
    /// (`forwardGrafanaHeaders`; see [`crate::forward`]).
    pub forward_grafana_headers: bool,
    /// Cap each query's rows by Grafana's SQL row limit too (`enableRowLimit`; the limit comes
    /// with each request, see [`crate::query::RequestContext::row_limit`]).
    pub enable_row_limit: bool,
    /// Logs defaults (`logs`: `defaultDatabase`, `defaultTable`, column roles).
    pub logs: SignalDefaults,
    /// Traces defaults (`traces`: `defaultDatabase`, `defaultTable`, column roles,
    /// `durationUnit`).
    pub traces: SignalDefaults,
    /// More servers of the same cluster (`additionalHosts`), tried in turn with `host`.
    pub additional_hosts: Vec<Endpoint>,
    /// Keys of either plugin's settings that are set but that Lantern does not apply, with why
    /// (health names them, so a migrated datasource says what changed).
    pub not_applied: Vec<(String, &'static str)>,
}

/// Settings keys of grafana/clickhouse-datasource and Altinity/clickhouse-grafana that Lantern
/// reads but does not apply, and why. A key is reported when it is set to something other than
/// false, zero or empty.
pub const NOT_APPLIED: &[(&str, &str)] = &[
    (
        "oauthPassThru",
        "OAuth identity pass-through is not supported",
    ),
    (
        "enableSecureSocksProxy",
        "the secure SOCKS proxy (PDC) is not supported",
    ),
    (
        "connMaxLifetime",
        "connections are pooled by Lantern (idle ones close after 2 s)",
    ),
    (
        "maxIdleConns",
        "connections are pooled by Lantern (idle ones close after 2 s)",
    ),
    (
        "maxOpenConns",
        "queries at once are limited plugin-wide (LANTERN_MAX_CONCURRENT_QUERIES)",
    ),
    ("rowCapacityHint", "frames are sized as results stream in"),
    (
        "enableSchemaCache",
        "table schemas are always cached for five minutes",
    ),
    (
        "schemaCacheTTLSeconds",
        "table schemas are always cached for five minutes",
    ),
    ("usePOST", "queries are always sent with POST"),
    (
        "useCompression",
        "results come as LZ4-compressed Arrow; HTTP compression is not used",
    ),
    (
        "compressionType",
        "results come as LZ4-compressed Arrow; HTTP compression is not used",
    ),
    (
        "adHocValuesQuery",
        "ad hoc values come from the bounded tag-values resource",
    ),
    ("addCorsHeader", "the plugin's backend needs no CORS header"),
    (
        "useYandexCloudAuthorization",
        "Yandex Cloud authorization is not supported",
    ),
    (
        "xClickHouseSSLCertificateAuth",
        "ClickHouse SSL-certificate user authentication is not supported: use tlsAuth with a user",
    ),
];

/// Keys reported only when set to something other than the value Lantern always uses: (key,
/// that value, why).
const NOT_APPLIED_UNLESS: &[(&str, &str, &str)] = &[
    (
        "traces.traceTimestampTableSuffix",
        "_trace_id_ts",
        "the trace id lookup table is always <table>_trace_id_ts",
    ),
    (
        "logs.selectContextColumns",
        "true",
        "log context always uses the context columns",
    ),
];

/// The [`NOT_APPLIED`] keys set in `obj` (`a.b` names key `b` of object `a`), then the
/// [`NOT_APPLIED_UNLESS`] keys set to another value.
fn not_applied(obj: &serde_json::Map<String, Value>) -> Vec<(String, &'static str)> {
    let get = |key: &str| match key.split_once('.') {
        Some((outer, inner)) => obj.get(outer).and_then(|o| o.get(inner)),
        None => obj.get(key),
    };
    let unless = NOT_APPLIED_UNLESS.iter().filter_map(|(key, always, why)| {
        let text = match get(key)? {
            Value::String(s) => s.trim().to_owned(),
            Value::Null => return None,
            other => other.to_string(),
        };
        (!text.is_empty() && text != *always).then(|| ((*key).to_owned(), *why))
    });
    NOT_APPLIED
        .iter()
        .filter(|(key, _)| match get(key) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::String(s)) => {
                let s = s.trim();
                !s.is_empty() && s != "false" && s.parse::<f64>().ok() != Some(0.0)
            }
            Some(Value::Number(n)) => n.as_f64() != Some(0.0),
            Some(_) => true,
        })
        .map(|(k, why)| ((*k).to_owned(), *why))
        .chain(unless)
        .collect()
}

/// Where one server is: everything but the host may be shared with the datasource's `host`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `http` or `https`.
    pub protocol: Protocol,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// URL path prefix, `""` or starting with `/`.
    pub path: String,
}

/// At most this many `additionalHosts` (each is a connection pool).
const MAX_ADDITIONAL_HOSTS: usize = 31;

/// `additionalHosts`: a list, or one comma-separated string, of `host[:port]` (sharing the
/// datasource's protocol, port and path) or full `http(s)://host[:port][/path]` URLs.
fn additional_hosts(j: &Json<'_>, main: &Endpoint) -> Result<Vec<Endpoint>, SettingsError> {
    const KEY: &str = "additionalHosts";
    let items: Vec<Option<&str>> = match j.0.get(KEY) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => s.split(',').map(Some).collect(),
        Some(Value::Array(a)) => a.iter().map(Value::as_str).collect(),
        Some(other) => {
            return Err(err(
                KEY,
                format!("must be a list of hosts or URLs, got {}", kind(other)),
            ));
        }
    };
    let mut out: Vec<Endpoint> = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let key = format!("{KEY}[{i}]");
        let text = item.ok_or_else(|| err(&key, "must be a string"))?.trim();
        if text.is_empty() {
            continue; // an empty row the config editor left behind, or a trailing comma
        }
        let e = if text.contains("://") {
            let (protocol, host, port, path) = parse_url(text).map_err(|e| err(&key, e.reason))?;
            Endpoint {
                protocol,
                host,
                port,
                path,
            }
        } else {
            let (host, port) = match text.strip_prefix('[') {
                Some(rest) => {
                    let (h, after) = rest
                        .split_once(']')
                        .ok_or_else(|| err(&key, "has an unclosed [ in the host"))?;
                    (h, after.strip_prefix(':'))
                }
                // One colon separates a port; more are an IPv6 address without one.
                None => match text.split_once(':') {
                    Some((h, p)) if !p.contains(':') => (h, Some(p)),
                    _ => (text, None),
                },
            };
            let port = match port {
                None => main.port,
                Some(p) => match p.parse::<u16>() {
                    Ok(p) if p > 0 => p,
                    _ => return Err(err(&key, format!("port {p:?} must be 1–65535"))),
                },
            };
            Endpoint {
                protocol: main.protocol,
                host: host.to_owned(),
                port,
                path: main.path.clone(),
            }
        };
        if e.host.is_empty()
            || e.host
                .chars()
                .any(|c| c.is_whitespace() || c == '/' || c == '@')
        {
            return Err(err(
                &key,
                format!("{text:?} is not host[:port] or an http(s):// URL"),
            ));
        }
        if e == *main || out.contains(&e) {
            return Err(err(&key, format!("{text:?} repeats a host already listed")));
        }
        if out.len() == MAX_ADDITIONAL_HOSTS {
            return Err(err(
                KEY,
                format!("at most {MAX_ADDITIONAL_HOSTS} additional hosts"),
            ));
        }
        out.push(e);
    }
    Ok(out)
}

use crate::otel::OtelVersion;

/// An `otelVersion` setting: `latest`, `1.30.0`, `1.29.0` or empty.
fn otel_version(key: &str, v: Option<&Value>) -> Result<Option<OtelVersion>, SettingsError> {
    const EXPECTED: &str = "must be latest, 1.30.0 or 1.29.0";
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => OtelVersion::parse(s.trim())
            .map(Some)
            .ok_or_else(|| err(key, format!("{EXPECTED}, got {s:?}"))),
        Some(other) => Err(err(key, format!("{EXPECTED}, got {}", kind(other)))),
    }
}

/// Where a signal's table is by default, and column-role overrides for custom schemas.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignalDefaults {
    /// Database (`defaultDatabase`).
    pub database: String,
    /// Table (`defaultTable`).
    pub table: String,
    /// Column roles (grafana's `…Column` keys, `contextColumns`, the traces' `durationUnit` and
    /// Nested prefixes).
    pub overrides: crate::otel::RoleOverrides,
    /// The exporter version the datasource names (the signal's `otelVersion`, else the
    /// top-level one); health warns when the default table is of another generation.
    pub otel_version: Option<OtelVersion>,
}

/// The longest column name a role may name.
const MAX_COLUMN_NAME: usize = 256;

/// A column name a role setting gives: any name ClickHouse can quote, but no control characters
/// and not absurdly long.
fn column_name(key: &str, text: &str) -> Result<String, SettingsError> {
    if text.chars().any(char::is_control) {
        return Err(err(key, "must not contain control characters"));
    }
    if text.len() > MAX_COLUMN_NAME {
        return Err(err(
            key,
            format!("must be at most {MAX_COLUMN_NAME} bytes long"),
        ));
    }
    Ok(text.to_owned())
}

fn signal_defaults(
    obj: &serde_json::Map<String, Value>,
    key: &str,
    top_version: Option<OtelVersion>,
) -> Result<SignalDefaults, SettingsError> {
    let Some(v) = obj.get(key).filter(|v| !v.is_null()) else {
        return Ok(SignalDefaults {
            otel_version: top_version,
            ..Default::default()
        });
    };
    let Value::Object(o) = v else {
        return Err(err(key, "must be an object"));
    };
    let name = |k: &str| format!("{key}.{k}");
    let text = |k: &str| -> Result<Option<String>, SettingsError> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
            Some(other) => Err(err(
                &name(k),
                format!("must be a string, got {}", kind(other)),
            )),
        }
    };
    let mut overrides = crate::otel::RoleOverrides::default();
    for (keys, field) in crate::otel::ROLE_SETTINGS {
        for k in *keys {
            if let Some(c) = text(k)? {
                *field(&mut overrides) = Some(column_name(&name(k), &c)?);
                break;
            }
        }
    }
    overrides.context_columns = match o.get("contextColumns") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => {
            let mut out = Vec::new();
            for (i, c) in list.iter().enumerate() {
                let k = format!("{key}.contextColumns[{i}]");
                match c {
                    Value::String(s) if s.trim().is_empty() => {}
                    Value::String(s) => out.push(column_name(&k, s.trim())?),
                    other => {
                        return Err(err(&k, format!("must be a string, got {}", kind(other))));
                    }
                }
            }
            Some(out).filter(|c| !c.is_empty())
        }
        Some(other) => {
            return Err(err(
                &name("contextColumns"),
                format!("must be a list of column names, got {}", kind(other)),
            ));
        }
    };
    overrides.duration_unit = match text("durationUnit")? {
        None => None,
        Some(unit) => Some(crate::otel::DurationUnit::parse(&unit).ok_or_else(|| {
            err(
                &name("durationUnit"),
                format!("must be seconds, milliseconds, microseconds or nanoseconds, got {unit:?}"),
            )
        })?),
    };
    let otel_version = otel_version(&name("otelVersion"), o.get("otelVersion"))?;
    Ok(SignalDefaults {
        database: text("defaultDatabase")?.unwrap_or_default(),
        table: text("defaultTable")?.unwrap_or_default(),
        overrides,
        otel_version: otel_version.or(top_version),
    })
}

impl SignalDefaults {
    /// The signal's default table as (database, table): its own, else the datasource's default
    /// database and `fallback`.
    pub fn default_table(&self, default_database: &str, fallback: &str) -> (String, String) {
        let pick = |own: &str, other: &str| if own.is_empty() { other } else { own }.to_owned();
        (
            pick(&self.database, default_database),
            pick(&self.table, fallback),
        )
    }
}

impl Settings {
    /// The datasource's `host` as an [`Endpoint`].
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            protocol: self.protocol,
            host: self.host.clone(),
            port: self.port,
            path: self.path.clone(),
        }
    }

    /// These settings for another server of the same datasource.
    pub fn for_endpoint(&self, e: &Endpoint) -> Settings {
        Settings {
            protocol: e.protocol,
            host: e.host.clone(),
            port: e.port,
            path: e.path.clone(),
            additional_hosts: Vec::new(),
            ..self.clone()
        }
    }

    /// The server's base URL, e.g. `https://ch.example:8443/proxy`.
    pub fn url(&self) -> String {
        let scheme = match self.protocol {
            Protocol::Http => "http",
            Protocol::Https => "https",
        };
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}{}", self.port, self.path)
    }
}

/// A settings value that is missing or invalid: names the key and says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid datasource setting `{key}`: {reason}")]
pub struct SettingsError {
    /// The jsonData / secureJsonData key at fault.
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

fn err(key: &str, reason: impl Into<String>) -> SettingsError {
    SettingsError {
        key: key.to_owned(),
        reason: reason.into(),
    }
}

/// The parts of Grafana's `DataSourceInstanceSettings` that settings are built from.
#[derive(Clone)]
pub struct InstanceInput<'a> {
    /// The instance `url` (Altinity keeps the server address here).
    pub url: &'a str,
    /// Whether basic auth is enabled on the instance.
    pub basic_auth_enabled: bool,
    /// Basic auth user.
    pub basic_auth_user: &'a str,
    /// The instance `user` field (old datasources).
    pub user: &'a str,
    /// Raw jsonData bytes.
    pub json_data: &'a [u8],
    /// Decrypted secureJsonData.
    pub secure: &'a HashMap<String, String>,
}

impl Default for InstanceInput<'_> {
    fn default() -> Self {
        static EMPTY: std::sync::LazyLock<HashMap<String, String>> =
            std::sync::LazyLock::new(HashMap::new);
        InstanceInput {
            url: "",
            basic_auth_enabled: false,
            basic_auth_user: "",
            user: "",
            json_data: b"",
            secure: &EMPTY,
        }
    }
}

const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(60);
/// Default row cap per query: a million rows is far more than a panel shows.
pub const DEFAULT_MAX_RESULT_ROWS: u64 = 1_000_000;
/// Default frame-bytes cap per query.
pub const DEFAULT_MAX_RESULT_BYTES: u64 = 256 << 20;
const MAX_RESULT_ROWS_LIMIT: u64 = 100_000_000;
const MAX_RESULT_BYTES_LIMIT: u64 = 8 << 30;

impl Settings {
    /// Validates an instance's settings.
    pub fn from_instance(input: &InstanceInput<'_>) -> Result<Settings, SettingsError> {
        let json: Value = if input.json_data.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(input.json_data)
                .map_err(|e| err("jsonData", format!("is not valid JSON ({e})")))?
        };
        let obj = json
            .as_object()
            .ok_or_else(|| err("jsonData", "must be a JSON object"))?;
        let j = Json(obj);
        let secure = input.secure;
        let secret = |k: &str| secure.get(k).filter(|v| !v.is_empty()).map(Secret::new);

        // Where the server is: grafana's host/port/protocol, or Altinity's instance URL.
        let host_key = if j.has("host") { "host" } else { "server" };
        let host = j.string(host_key)?.unwrap_or_default();
        let (protocol, host, port, path) = if !host.trim().is_empty() {
            let protocol = match j.string("protocol")?.as_deref().map(str::trim) {
                None | Some("") | Some("http") => Protocol::Http,
                Some("https") => Protocol::Https,
                Some("native") => {
                    return Err(err(
                        "protocol",
                        "the native TCP protocol is not supported: Lantern talks to ClickHouse over HTTP(S); set protocol to \"http\" (port 8123) or \"https\" (port 8443)",
                    ));
                }
                Some(other) => {
                    return Err(err(
                        "protocol",
                        format!("must be \"http\" or \"https\", got {other:?}"),
                    ));
                }
            };
            let secure = j.bool("secure")?.unwrap_or(false)
                || j.bool("tlsAuth")?.unwrap_or(false)
                || j.bool("tlsAuthWithCACert")?.unwrap_or(false);
            let protocol = if secure { Protocol::Https } else { protocol };
            let port = match j.number("port")? {
                None => match protocol {
                    Protocol::Http => 8123,
                    Protocol::Https => 8443,
                },
                Some(p) if (1.0..=65535.0).contains(&p) && p.fract() == 0.0 => p as u16,
                Some(p) => return Err(err("port", format!("must be 1–65535, got {p}"))),
            };
            let (host, url_path) = split_host(host.trim());
            let path = j.string("path")?.unwrap_or(url_path);
            (protocol, host, port, normalize_path(&path))
        } else if !input.url.trim().is_empty() {
            parse_url(input.url.trim())?
        } else {
            return Err(err(
                "host",
                "is required: the ClickHouse server's host name or address",
            ));
        };
        if host
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == '@')
        {
            return Err(err(
                "host",
                format!("{host:?} is not a host name or address"),
            ));
        }

        // Credentials: grafana's username/password, Altinity's x-headers or basic auth.
        let x_user = j.string("xHeaderUser")?.unwrap_or_default();
        let auth =
            if input.basic_auth_enabled && !input.basic_auth_user.is_empty() && x_user.is_empty() {
                Auth::Basic {
                    user: input.basic_auth_user.to_owned(),
                    password: secret("basicAuthPassword").unwrap_or_default(),
                }
            } else if !x_user.is_empty() {
                Auth::Headers {
                    user: x_user,
                    password: secret("xHeaderKey").unwrap_or_default(),
                }
            } else {
                let user = j
                    .string("username")?
                    .filter(|u| !u.is_empty())
                    .unwrap_or_else(|| input.user.to_owned());
                Auth::Headers {
                    user,
                    password: secret("password").unwrap_or_default(),
                }
            };

        let tls =
            Tls {
                skip_verify: j.bool("tlsSkipVerify")?.unwrap_or(false),
                ca_cert: if j.bool("tlsAuthWithCACert")?.unwrap_or(false) {
                    Some(secret("tlsCACert").ok_or_else(|| {
                        err("tlsCACert", "is required when tlsAuthWithCACert is on")
                    })?)
                } else {
                    None
                },
                client_cert: if j.bool("tlsAuth")?.unwrap_or(false) {
                    let cert = secret("tlsClientCert")
                        .ok_or_else(|| err("tlsClientCert", "is required when tlsAuth is on"))?;
                    let key = secret("tlsClientKey")
                        .ok_or_else(|| err("tlsClientKey", "is required when tlsAuth is on"))?;
                    Some((cert, key))
                } else {
                    None
                },
            };
        for (key, pem) in [("tlsCACert", tls.ca_cert.as_ref())].into_iter().chain(
            tls.client_cert
                .iter()
                .flat_map(|(c, k)| [("tlsClientCert", Some(c)), ("tlsClientKey", Some(k))]),
        ) {
            if let Some(pem) = pem
                && !pem.expose().contains("-----BEGIN ")
            {
                return Err(err(key, "must be PEM text (-----BEGIN …-----)"));
            }
        }

        let dial_timeout = j
            .seconds("dialTimeout")?
            .or(j.seconds("timeout")?)
            .unwrap_or(DEFAULT_DIAL_TIMEOUT);
        let query_timeout = j.seconds("queryTimeout")?.unwrap_or(DEFAULT_QUERY_TIMEOUT);

        let mut custom_settings = BTreeMap::new();
        if let Some(list) = j.array("customSettings")? {
            for (i, item) in list.iter().enumerate() {
                let key = format!("customSettings[{i}]");
                let name = item
                    .get("setting")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim();
                if name.is_empty() {
                    continue; // an empty row the config editor left behind
                }
                if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(err(
                        &key,
                        format!("setting name {name:?} must be letters, digits and _"),
                    ));
                }
                let value = match item.get("value") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::Bool(b)) => (*b as u8).to_string(),
                    _ => return Err(err(&key, format!("setting {name:?} needs a value"))),
                };
                custom_settings.insert(name.to_owned(), value);
            }
        }

        let allow_writes = j.bool("allowWrites")?.unwrap_or(false);
        if custom_settings.contains_key("readonly") {
            return Err(err(
                "customSettings",
                "`readonly` is Lantern's to set: queries run read-only unless allowWrites is on",
            ));
        }

        let mut headers = Vec::new();
        if let Some(list) = j.array("httpHeaders")? {
            for (i, item) in list.iter().enumerate() {
                let key = format!("httpHeaders[{i}]");
                let name = item
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                if name.is_empty() {
                    continue;
                }
                let is_secure = match item.get("secure") {
                    Some(Value::Bool(b)) => *b,
                    Some(Value::String(s)) => s == "true",
                    _ => false,
                };
                let value = if is_secure {
                    secret(&format!("secureHttpHeaders.{name}")).unwrap_or_default()
                } else {
                    Secret::new(item.get("value").and_then(Value::as_str).unwrap_or(""))
                };
                headers.push(validate_header(&key, name, value)?);
            }
        }
        // Altinity: httpHeaderName1..N with secure httpHeaderValue1..N.
        let mut altinity: Vec<(u32, String)> = obj
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.strip_prefix("httpHeaderName")?.parse().ok()?,
                    v.as_str()?.trim().to_owned(),
                ))
            })
            .filter(|(_, name): &(u32, String)| !name.is_empty())
            .collect();
        altinity.sort();
        for (n, name) in altinity {
            let key = format!("httpHeaderValue{n}");
            let value =
                secret(&key).ok_or_else(|| err(&key, format!("is missing for header {name:?}")))?;
            headers.push(validate_header(&key, name, value)?);
        }

        let otel_version = otel_version("otelVersion", obj.get("otelVersion"))?;
        let main = Endpoint {
            protocol,
            host,
            port,
            path,
        };
        let additional_hosts = additional_hosts(&j, &main)?;
        let Endpoint {
            protocol,
            host,
            port,
            path,
        } = main;
        Ok(Settings {
            protocol,
            host,
            port,
            path,
            auth,
            default_database: j
                .string("defaultDatabase")?
                .unwrap_or_default()
                .trim()
                .to_owned(),
            tls,
            dial_timeout,
            query_timeout,
            custom_settings,
            allow_writes,
            allow_query_settings: j.bool("allowQuerySettings")?.unwrap_or(false),
            max_result_rows: j
                .count("maxResultRows", 1, MAX_RESULT_ROWS_LIMIT)?
                .unwrap_or(DEFAULT_MAX_RESULT_ROWS),
            max_result_bytes: j
                .count("maxResultBytes", 1 << 20, MAX_RESULT_BYTES_LIMIT)?
                .unwrap_or(DEFAULT_MAX_RESULT_BYTES),
            headers,
            forward_grafana_headers: j.bool("forwardGrafanaHeaders")?.unwrap_or(false),
            enable_row_limit: j.bool("enableRowLimit")?.unwrap_or(false),
            logs: signal_defaults(obj, "logs", otel_version)?,
            traces: signal_defaults(obj, "traces", otel_version)?,
            additional_hosts,
            not_applied: not_applied(obj),
        })
    }
}

fn validate_header(key: &str, name: String, value: Secret) -> Result<Header, SettingsError> {
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(err(
            key,
            format!("{name:?} is not a valid HTTP header name"),
        ));
    }
    if http::HeaderValue::from_str(value.expose()).is_err() {
        return Err(err(
            key,
            format!("the value of header {name:?} is not a valid HTTP header value"),
        ));
    }
    Ok(Header { name, value })
}

/// Splits `host[/path]`, tolerating a scheme users paste (`http://host`).
fn split_host(host: &str) -> (String, String) {
    let host = host.split_once("://").map_or(host, |(_, rest)| rest);
    match host.split_once('/') {
        Some((h, p)) => (h.to_owned(), format!("/{p}")),
        None => (host.to_owned(), String::new()),
    }
}

fn normalize_path(path: &str) -> String {
    let p = path.trim().trim_end_matches('/');
    if p.is_empty() {
        String::new()
    } else if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("/{p}")
    }
}

/// Altinity keeps the whole server address in the instance URL.
fn parse_url(url: &str) -> Result<(Protocol, String, u16, String), SettingsError> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        err(
            "url",
            format!("{url:?} must start with http:// or https://"),
        )
    })?;
    let protocol = match scheme.to_ascii_lowercase().as_str() {
        "http" => Protocol::Http,
        "https" => Protocol::Https,
        other => {
            return Err(err(
                "url",
                format!("scheme {other:?} is not supported; use http or https"),
            ));
        }
    };
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, format!("/{p}")),
        None => (rest, String::new()),
    };
    if authority.contains('@') {
        return Err(err(
            "url",
            "must not contain credentials; use basic auth or the user settings",
        ));
    }
    let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
        let (h, after) = stripped
            .split_once(']')
            .ok_or_else(|| err("url", "has an unclosed [ in the host"))?;
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(err("url", format!("{url:?} has no host")));
    }
    let port = match port {
        None | Some("") => match protocol {
            Protocol::Http => 8123,
            Protocol::Https => 8443,
        },
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(err("url", format!("port {p:?} must be 1–65535"))),
        },
    };
    let path = path.split(['?', '#']).next().unwrap_or("").to_owned();
    Ok((protocol, host, port, normalize_path(&path)))
}

/// Typed reads from jsonData that accept the string forms the grafana plugin accepts.
struct Json<'a>(&'a serde_json::Map<String, Value>);

impl Json<'_> {
    fn has(&self, key: &str) -> bool {
        self.0.get(key).is_some_and(|v| !v.is_null())
    }

    fn string(&self, key: &str) -> Result<Option<String>, SettingsError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(err(key, format!("must be a string, got {}", kind(other)))),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, SettingsError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "" => Ok(None),
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(err(key, format!("must be true or false, got {s:?}"))),
            },
            Some(other) => Err(err(
                key,
                format!("must be true or false, got {}", kind(other)),
            )),
        }
    }

    fn number(&self, key: &str) -> Result<Option<f64>, SettingsError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .map(Some)
                .map_err(|_| err(key, format!("must be a number, got {s:?}"))),
            Some(other) => Err(err(key, format!("must be a number, got {}", kind(other)))),
        }
    }

    /// A whole number in `min..=max`.
    fn count(&self, key: &str, min: u64, max: u64) -> Result<Option<u64>, SettingsError> {
        match self.number(key)? {
            None => Ok(None),
            Some(n) if n.fract() == 0.0 && n >= min as f64 && n <= max as f64 => Ok(Some(n as u64)),
            Some(n) => Err(err(
                key,
                format!("must be a whole number from {min} to {max}, got {n}"),
            )),
        }
    }

    fn seconds(&self, key: &str) -> Result<Option<Duration>, SettingsError> {
        match self.number(key)? {
            None => Ok(None),
            Some(s) if s > 0.0 && s <= 86_400.0 => Ok(Some(Duration::from_secs_f64(s))),
            Some(s) => Err(err(
                key,
                format!("must be between 0 and 86400 seconds, got {s}"),
            )),
        }
    }

    fn array(&self, key: &str) -> Result<Option<&Vec<Value>>, SettingsError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(err(key, format!("must be a list, got {}", kind(other)))),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str, secure: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let secure: HashMap<String, String> = secure
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_instance(&InstanceInput {
            json_data: json.as_bytes(),
            secure: &secure,
            ..Default::default()
        })
    }

    #[test]
    fn grafana_keys_with_string_numbers_and_booleans() {
        let s = parse(
            r#"{"host":"ch.local","port":"8443","protocol":"http","secure":"true","path":"proxy/",
                "username":"grafana","defaultDatabase":"otel","dialTimeout":"5","queryTimeout":30,
                "customSettings":[{"setting":"max_threads","value":"2"},{"setting":"","value":""}],
                "httpHeaders":[{"name":"X-Team","value":"sre","secure":false},{"name":"X-Token","secure":true}]}"#,
            &[("password", "pw"), ("secureHttpHeaders.X-Token", "tok")],
        )
        .unwrap();
        assert_eq!(s.url(), "https://ch.local:8443/proxy");
        assert_eq!(
            s.auth,
            Auth::Headers {
                user: "grafana".into(),
                password: Secret::new("pw")
            }
        );
        assert_eq!(s.default_database, "otel");
        assert_eq!(s.dial_timeout, Duration::from_secs(5));
        assert_eq!(s.query_timeout, Duration::from_secs(30));
        assert_eq!(
            s.custom_settings.get("max_threads").map(String::as_str),
            Some("2")
        );
        assert_eq!(s.headers.len(), 2);
        assert_eq!(s.headers[1].value.expose(), "tok");
    }

    #[test]
    fn logs_and_traces_defaults() {
        let s = parse(
            r#"{"host":"h","logs":{"defaultDatabase":"otel","defaultTable":"server_text_log","levelColumn":"level","contextColumns":["PodName"],"otelEnabled":true},"traces":{"defaultTable":"spans"}}"#,
            &[],
        )
        .unwrap();
        assert_eq!(s.logs.table, "server_text_log");
        assert_eq!(s.logs.overrides.severity_column.as_deref(), Some("level"));
        assert_eq!(
            s.logs.overrides.context_columns,
            Some(vec!["PodName".to_owned()])
        );
        assert_eq!(s.traces.table, "spans");
        assert_eq!(
            parse(r#"{"host":"h","logs":{"defaultTable":5}}"#, &[])
                .unwrap_err()
                .key,
            "logs.defaultTable"
        );
    }

    #[test]
    fn native_protocol_is_a_clear_error() {
        let e = parse(r#"{"host":"h","port":9000,"protocol":"native"}"#, &[]).unwrap_err();
        assert_eq!(e.key, "protocol");
        assert!(
            e.reason.contains("only") || e.reason.contains("not supported"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        assert_eq!(
            parse(r#"{"host":"h","port":0}"#, &[]).unwrap_err().key,
            "port"
        );
        assert_eq!(
            parse(r#"{"host":"h","port":"abc"}"#, &[]).unwrap_err().key,
            "port"
        );
        assert_eq!(parse(r#"{"port":8123}"#, &[]).unwrap_err().key, "host");
        assert_eq!(
            parse(r#"{"host":"h","secure":"maybe"}"#, &[])
                .unwrap_err()
                .key,
            "secure"
        );
        assert_eq!(
            parse(r#"{"host":"h","tlsAuthWithCACert":true}"#, &[])
                .unwrap_err()
                .key,
            "tlsCACert"
        );
        assert_eq!(
            parse(
                r#"{"host":"h","tlsAuthWithCACert":true}"#,
                &[("tlsCACert", "nope")]
            )
            .unwrap_err()
            .key,
            "tlsCACert"
        );
        assert_eq!(
            parse(r#"{"host":"h","queryTimeout":-1}"#, &[])
                .unwrap_err()
                .key,
            "queryTimeout"
        );
        assert_eq!(
            parse(
                r#"{"host":"h","customSettings":[{"setting":"a;DROP","value":"1"}]}"#,
                &[]
            )
            .unwrap_err()
            .key,
            "customSettings[0]"
        );
        assert_eq!(parse("[1]", &[]).unwrap_err().key, "jsonData");
    }

    #[test]
    fn keys_set_but_not_applied_are_named() {
        let json = br#"{"host": "h", "usePOST": true, "enableRowLimit": false, "maxOpenConns": "0",
            "adHocValuesQuery": "SELECT 1", "traces": {"durationUnit": "milliseconds"},
            "logs": {"otelVersion": ""}}"#;
        let s = Settings::from_instance(&InstanceInput {
            json_data: json,
            ..Default::default()
        })
        .unwrap();
        let keys: Vec<&str> = s.not_applied.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["usePOST", "adHocValuesQuery"]);
        // Keys reported only when they differ from what Lantern always does.
        let json = br#"{"host": "h", "traces": {"traceTimestampTableSuffix": "_trace_id_ts"},
            "logs": {"selectContextColumns": true}}"#;
        let s = Settings::from_instance(&InstanceInput {
            json_data: json,
            ..Default::default()
        })
        .unwrap();
        assert!(s.not_applied.is_empty(), "{:?}", s.not_applied);
        let json = br#"{"host": "h", "traces": {"traceTimestampTableSuffix": "_ts"},
            "logs": {"selectContextColumns": false}, "enableSecureSocksProxy": true}"#;
        let s = Settings::from_instance(&InstanceInput {
            json_data: json,
            ..Default::default()
        })
        .unwrap();
        let keys: Vec<&str> = s.not_applied.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "enableSecureSocksProxy",
                "traces.traceTimestampTableSuffix",
                "logs.selectContextColumns"
            ]
        );
    }

    #[test]
    fn trace_column_mappings_and_duration_unit() {
        let s = parse(
            r#"{"host":"h","traces":{"defaultTable":"spans","traceIdColumn":"trace","spanIdColumn":"span",
                "parentSpanIdColumn":"parent","operationNameColumn":"op","serviceNameColumn":"svc",
                "durationColumn":"took","durationUnit":"milliseconds","startTimeColumn":"started",
                "tagsColumn":"attrs","serviceTagsColumn":"resource","kindColumn":"k","statusCodeColumn":"st",
                "statusMessageColumn":"msg","stateColumn":"ts","instrumentationLibraryNameColumn":"lib",
                "instrumentationLibraryVersionColumn":"libv","traceEventsColumnPrefix":"Ev",
                "traceLinksColumnPrefix":"Ln","otelEnabled":false,"spanIdColumn2":5}}"#,
            &[],
        )
        .unwrap();
        let o = &s.traces.overrides;
        let got = [
            &o.trace_id_column,
            &o.span_id_column,
            &o.parent_span_id_column,
            &o.operation_name_column,
            &o.service_column,
            &o.duration_column,
            &o.time_column,
            &o.tags_column,
            &o.service_tags_column,
            &o.kind_column,
            &o.status_code_column,
            &o.status_message_column,
            &o.state_column,
            &o.scope_name_column,
            &o.scope_version_column,
            &o.events_prefix,
            &o.links_prefix,
        ]
        .map(|c| c.as_deref().unwrap_or("-"));
        assert_eq!(
            got,
            [
                "trace", "span", "parent", "op", "svc", "took", "started", "attrs", "resource",
                "k", "st", "msg", "ts", "lib", "libv", "Ev", "Ln"
            ]
        );
        assert_eq!(
            o.duration_unit,
            Some(crate::otel::DurationUnit::Milliseconds)
        );
        // Empty strings are unset (the config editor saves them), not columns named "".
        let s = parse(
            r#"{"host":"h","traces":{"spanIdColumn":" ","durationUnit":""}}"#,
            &[],
        )
        .unwrap();
        assert_eq!(s.traces.overrides, crate::otel::RoleOverrides::default());
    }

    #[test]
    fn bad_signal_settings_name_the_key() {
        for (json, key) in [
            (
                r#"{"traces":{"durationUnit":"minutes"}}"#,
                "traces.durationUnit",
            ),
            (r#"{"traces":{"durationUnit":5}}"#, "traces.durationUnit"),
            (r#"{"traces":{"spanIdColumn":7}}"#, "traces.spanIdColumn"),
            (
                r#"{"traces":{"tagsColumn":"a\u0000b"}}"#,
                "traces.tagsColumn",
            ),
            (r#"{"logs":{"levelColumn":["x"]}}"#, "logs.levelColumn"),
            (
                r#"{"logs":{"contextColumns":"PodName"}}"#,
                "logs.contextColumns",
            ),
            (
                r#"{"logs":{"contextColumns":["a",3]}}"#,
                "logs.contextColumns[1]",
            ),
            (r#"{"logs":{"otelVersion":"1.31.0"}}"#, "logs.otelVersion"),
            (r#"{"traces":{"otelVersion":true}}"#, "traces.otelVersion"),
            (r#"{"otelVersion":"2"}"#, "otelVersion"),
            (r#"{"enableRowLimit":"sometimes"}"#, "enableRowLimit"),
            (r#"{"forwardGrafanaHeaders":2}"#, "forwardGrafanaHeaders"),
        ] {
            let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
            v["host"] = "h".into();
            let e = parse(&v.to_string(), &[]).unwrap_err();
            assert_eq!(e.key, key, "{json}: {e}");
        }
        let long = "c".repeat(MAX_COLUMN_NAME + 1);
        let e = parse(
            &serde_json::json!({"host": "h", "logs": {"timeColumn": long}}).to_string(),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "logs.timeColumn");
    }

    #[test]
    fn otel_versions_flags_and_the_top_level_version() {
        use crate::otel::OtelVersion;
        let s = parse(
            r#"{"host":"h","otelVersion":"1.29.0","logs":{"otelVersion":"1.30.0"},"traces":{},
                "enableRowLimit":"true","forwardGrafanaHeaders":true}"#,
            &[],
        )
        .unwrap();
        assert_eq!(s.logs.otel_version, Some(OtelVersion::V1_30_0));
        assert_eq!(
            s.traces.otel_version,
            Some(OtelVersion::V1_29_0),
            "inherited"
        );
        assert!(s.enable_row_limit && s.forward_grafana_headers);
        let s = parse(r#"{"host":"h","otelVersion":"latest"}"#, &[]).unwrap();
        assert_eq!(
            s.logs.otel_version,
            Some(OtelVersion::Latest),
            "no logs object"
        );
        let s = parse(r#"{"host":"h","logs":{"otelVersion":""}}"#, &[]).unwrap();
        assert_eq!(s.logs.otel_version, None);
        assert!(!s.enable_row_limit && !s.forward_grafana_headers);
        assert_eq!(
            s.logs.default_table("otel", "otel_logs"),
            ("otel".to_owned(), "otel_logs".to_owned())
        );
    }

    #[test]
    fn defaults_follow_the_protocol() {
        let s = parse(r#"{"host":"h"}"#, &[]).unwrap();
        assert_eq!(s.url(), "http://h:8123");
        assert_eq!(s.auth.user(), "default");
        let s = parse(r#"{"host":"h","protocol":"https"}"#, &[]).unwrap();
        assert_eq!(s.url(), "https://h:8443");
        let s = parse(r#"{"host":"::1","port":8123}"#, &[]).unwrap();
        assert_eq!(s.url(), "http://[::1]:8123");
    }

    #[test]
    fn altinity_url_basic_auth_and_x_headers() {
        let secure: HashMap<String, String> =
            [("basicAuthPassword", "bpw"), ("httpHeaderValue1", "v1")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let json = br#"{"defaultDatabase":"logs","httpHeaderName1":"X-Org"}"#;
        let s = Settings::from_instance(&InstanceInput {
            url: "https://ch.example.com:9443/ch/",
            basic_auth_enabled: true,
            basic_auth_user: "alice",
            json_data: json,
            secure: &secure,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.url(), "https://ch.example.com:9443/ch");
        assert_eq!(
            s.auth,
            Auth::Basic {
                user: "alice".into(),
                password: Secret::new("bpw")
            }
        );
        assert_eq!(s.headers[0].name, "X-Org");

        let secure: HashMap<String, String> = [("xHeaderKey", "k")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let s = Settings::from_instance(&InstanceInput {
            url: "http://10.0.0.1",
            json_data: br#"{"xHeaderUser":"bob"}"#,
            secure: &secure,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.url(), "http://10.0.0.1:8123");
        assert_eq!(
            s.auth,
            Auth::Headers {
                user: "bob".into(),
                password: Secret::new("k")
            }
        );

        let e = Settings::from_instance(&InstanceInput {
            json_data: br#"{"httpHeaderName2":"X-A"}"#,
            url: "http://h",
            secure: &HashMap::new(),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.key, "httpHeaderValue2");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let s = parse(
            r#"{"host":"h","tlsAuth":true,"httpHeaders":[{"name":"X-Token","secure":true}]}"#,
            &[
                ("password", "hunter2"),
                ("tlsClientCert", "-----BEGIN CERTIFICATE-----certsecret"),
                ("tlsClientKey", "-----BEGIN KEY-----keysecret"),
                ("secureHttpHeaders.X-Token", "tokensecret"),
            ],
        )
        .unwrap();
        let dbg = format!("{s:?}");
        for secret in ["hunter2", "certsecret", "keysecret", "tokensecret"] {
            assert!(!dbg.contains(secret), "{secret} leaked in {dbg}");
        }
        assert!(dbg.contains("[redacted]"));
    }

    #[test]
    fn additional_hosts_share_protocol_port_and_path_unless_a_url_says_otherwise() {
        let s = parse(
            r#"{"host":"ch1","port":9123,"secure":true,"path":"/p",
                "additionalHosts":["ch2","ch3:9000","[::1]:8443","http://ch4/q/",""," fe80::1 "]}"#,
            &[],
        )
        .unwrap();
        let urls: Vec<String> = s
            .additional_hosts
            .iter()
            .map(|e| s.for_endpoint(e).url())
            .collect();
        assert_eq!(
            urls,
            [
                "https://ch2:9123/p",
                "https://ch3:9000/p",
                "https://[::1]:8443/p",
                "http://ch4:8123/q",
                "https://[fe80::1]:9123/p",
            ]
        );
        // Altinity users paste several URLs into one field.
        let s = parse(
            r#"{"host":"a","additionalHosts":"http://b:8123, https://c:8443,"}"#,
            &[],
        )
        .unwrap();
        assert_eq!(s.additional_hosts.len(), 2);
        assert_eq!(
            s.for_endpoint(&s.additional_hosts[1]).url(),
            "https://c:8443"
        );
        assert!(
            parse(r#"{"host":"a"}"#, &[])
                .unwrap()
                .additional_hosts
                .is_empty()
        );
    }

    #[test]
    fn bad_additional_hosts_name_the_key_and_index() {
        for (json, key) in [
            (r#"{"host":"a","additionalHosts":5}"#, "additionalHosts"),
            (
                r#"{"host":"a","additionalHosts":["b",7]}"#,
                "additionalHosts[1]",
            ),
            (
                r#"{"host":"a","additionalHosts":["b:0"]}"#,
                "additionalHosts[0]",
            ),
            (
                r#"{"host":"a","additionalHosts":"b, c:x"}"#,
                "additionalHosts[1]",
            ),
            (
                r#"{"host":"a","additionalHosts":["ftp://b"]}"#,
                "additionalHosts[0]",
            ),
            (
                r#"{"host":"a","additionalHosts":["u:p@b"]}"#,
                "additionalHosts[0]",
            ),
            (
                r#"{"host":"a","additionalHosts":["http://u:p@b"]}"#,
                "additionalHosts[0]",
            ),
            (
                r#"{"host":"a","additionalHosts":["b/path"]}"#,
                "additionalHosts[0]",
            ),
            (
                r#"{"host":"a","additionalHosts":["b","b"]}"#,
                "additionalHosts[1]",
            ),
            (
                r#"{"host":"a","additionalHosts":["a:8123"]}"#,
                "additionalHosts[0]",
            ),
        ] {
            let e = parse(json, &[]).unwrap_err();
            assert_eq!(e.key, key, "{json}: {e}");
        }
        let many: Vec<String> = (0..40).map(|i| format!("h{i}")).collect();
        let json = serde_json::json!({"host": "a", "additionalHosts": many}).to_string();
        assert_eq!(parse(&json, &[]).unwrap_err().key, "additionalHosts");
    }
}
