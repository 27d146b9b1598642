//! The ClickHouse edge: one HTTP(S) client per datasource instance, queries as Arrow streams.
//!
//! Built on the `clickhouse` crate (its request building, auth headers, compression and
//! exception detection) over our own hyper client, because the datasource's TLS options (own CA,
//! client certificates, skip-verify) need a rustls config the crate does not build. Results are
//! fetched as `FORMAT ArrowStream` and decoded incrementally with arrow-ipc's `StreamDecoder`
//! while bytes arrive ([`ArrowStream`]); ClickHouse LZ4-compresses inside the IPC messages, which
//! arrow's `lz4` feature reads. HTTP-level compression is off for these requests: compressing
//! already-compressed Arrow buffers again costs CPU on both ends for nothing.
//!
//! Errors are classified here, once, into [`QueryError`] variants: ClickHouse exceptions keep
//! their numeric code; transport failures are told apart as TLS, network or timeout.
//!
//! **Read-only by default.** The user's profile is probed once ([`Access`]); unless the datasource
//! sets `allowWrites`, every request from a read-write profile carries `readonly=1` (or `=2` with
//! `allowQuerySettings`) together with `customSettings`, so the server itself refuses writes and
//! DDL, and a query's own `SETTINGS` clause cannot lift the datasource's limits. A readonly=1
//! profile gets no settings at all (the server refuses any). The check is always the server's.
//!
//! Every request also carries the headers forwarded for the Grafana request it serves
//! (`forwardGrafanaHeaders`, [`crate::forward`]).

use std::sync::Arc;
use std::time::Duration;

use clickhouse::Client;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::error::{QueryError, parse_exception};
use crate::settings::{Auth, Protocol, Settings, SettingsError, Tls};
use crate::upstream::{
    Access, ArrowStream, BoxFuture, ChunkSource, QueryMode, RequestOptions, Upstream,
};

/// A ready client for one datasource instance.
#[derive(Clone)]
pub struct Connection {
    client: Client,
    url: String,
    query_timeout: Duration,
    custom_settings: Vec<(String, String)>,
    allow_writes: bool,
    allow_query_settings: bool,
    access: tokio::sync::OnceCell<Access>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

const PRODUCT: &str = "lantern-clickhouse-datasource";

impl Connection {
    /// Builds the HTTP client and ClickHouse client for `settings`.
    pub fn new(settings: &Settings) -> Result<Connection, SettingsError> {
        let https = crate::net::connector(settings, tls_config(settings)?);
        // Idle connections expire only with a timer to measure their idleness.
        let hyper = HyperClient::builder(TokioExecutor::new())
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(2))
            .build(https);
        let url = settings.url();
        let mut client = Client::with_http_client(hyper)
            .with_url(&url)
            .with_compression(clickhouse::Compression::None)
            .with_product_info(PRODUCT, env!("CARGO_PKG_VERSION"));
        match &settings.auth {
            Auth::Headers { user, password } => {
                if !user.is_empty() {
                    client = client.with_user(user);
                }
                if !password.is_empty() {
                    client = client.with_password(password.expose());
                }
            }
            Auth::Basic { user, password } => {
                let token = base64(format!("{user}:{}", password.expose()).as_bytes());
                client = client.with_header("Authorization", format!("Basic {token}"));
            }
        }
        if !settings.default_database.is_empty() {
            client = client.with_database(&settings.default_database);
        }
        for h in &settings.headers {
            client = client.with_header(&h.name, h.value.expose());
        }
        Ok(Connection {
            client,
            url,
            query_timeout: settings.query_timeout,
            custom_settings: settings
                .custom_settings
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            allow_writes: settings.allow_writes,
            allow_query_settings: settings.allow_query_settings,
            access: tokio::sync::OnceCell::new(),
        })
    }

    /// What the server lets this datasource's user do with settings, probed once per instance
    /// (`getSetting('readonly')`, sent with no settings: a readonly=1 user may send none).
    async fn probe_access(&self) -> Result<Access, Failed> {
        self.access
            .get_or_try_init(|| async {
                let rows = self
                    .rows_with("SELECT toUInt8(getSetting('readonly'))", &[])
                    .await?;
                let level = rows
                    .first()
                    .and_then(|r| r.first())
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                    .unwrap_or(0);
                Ok(Access::from_profile(level))
            })
            .await
            .copied()
    }

    /// The settings every request of this instance carries: the read-only level Lantern asks for
    /// and `customSettings`, as far as the user's profile lets it change settings.
    async fn base_settings(&self) -> Result<Vec<(String, String)>, Failed> {
        let access = self.probe_access().await?;
        let mut out = Vec::new();
        if access == Access::Locked {
            // readonly=1 profile: any setting in the request is refused (ClickHouse#325 of the
            // official plugin); the profile already keeps it read-only.
            return Ok(out);
        }
        out.extend(self.custom_settings.iter().cloned());
        if access == Access::Free && !self.allow_writes {
            // Sent with the request's other settings: the server applies them all, then the
            // query runs read-only and its own SETTINGS clause cannot lift them (readonly=1);
            // allowQuerySettings trades that for readonly=2.
            let level = if self.allow_query_settings { "2" } else { "1" };
            out.push(("readonly".into(), level.into()));
        }
        Ok(out)
    }

    /// The client for one request: with the headers forwarded for the Grafana request being
    /// served (`forwardGrafanaHeaders`, see [`crate::forward`]), if any.
    fn client(&self) -> std::borrow::Cow<'_, Client> {
        let forwarded = crate::forward::current();
        if forwarded.is_empty() {
            return std::borrow::Cow::Borrowed(&self.client);
        }
        let mut client = self.client.clone();
        for (name, value) in forwarded.iter() {
            client = client.with_header(name, value);
        }
        std::borrow::Cow::Owned(client)
    }

    async fn rows_with(
        &self,
        sql: &str,
        settings: &[(String, String)],
    ) -> Result<Vec<Vec<serde_json::Value>>, Failed> {
        let fut = async {
            let mut query = self.client().query_raw(sql);
            for (k, v) in settings {
                query = query.with_setting(k, v);
            }
            let mut cursor = query
                .fetch_bytes("JSONCompactEachRow")
                .map_err(|e| self.failed(e))?;
            let bytes = cursor.collect().await.map_err(|e| self.failed(e))?;
            bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    serde_json::from_slice::<Vec<serde_json::Value>>(l).map_err(|e| {
                        Failed::from(QueryError::BadResponse {
                            url: self.url.clone(),
                            message: format!("unreadable row: {e}"),
                        })
                    })
                })
                .collect()
        };
        match tokio::time::timeout(self.query_timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(QueryError::Timeout(self.query_timeout).into()),
        }
    }

    fn failed(&self, e: clickhouse::error::Error) -> Failed {
        let reach = reach(&e);
        Failed {
            error: readonly_hint(classify(e, &self.url)),
            reach,
        }
    }

    /// Starts `sql` as an ArrowStream query; the request goes out on the cursor's first read.
    pub(crate) async fn open(&self, sql: &str, options: &RequestOptions) -> Result<Cursor, Failed> {
        let base = self.base_settings().await?;
        let mut query = self.client().query_raw(sql);
        if !options.query_id.is_empty() {
            query = query.with_setting("query_id", options.query_id.as_str());
        }
        for (k, v) in &base {
            query = query.with_setting(k, v);
        }
        if self.probe_access().await? != Access::Locked {
            for (k, v) in &options.settings {
                query = query.with_setting(k, v);
            }
        }
        let cursor = query
            .fetch_bytes("ArrowStream")
            .map_err(|e| self.failed(e))?;
        Ok(Cursor {
            cursor,
            url: self.url.clone(),
        })
    }

    /// [`Upstream::json_rows`], telling how far a failure got.
    pub(crate) async fn rows(&self, sql: &str) -> Result<Vec<Vec<serde_json::Value>>, Failed> {
        let base = self.base_settings().await?;
        self.rows_with(sql, &base).await
    }
}

/// How far a failed request got: [`crate::failover`] sends a request to another server only
/// while no answer has begun.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// No connection (refused, DNS, connect timeout, TLS handshake): the request never left.
    NotConnected,
    /// Sent, but the connection failed before an HTTP status came back.
    NoAnswer,
    /// The server answered (a status, an exception, bytes), or the time ran out.
    Answered,
}

/// A failed request and how far it got.
#[derive(Debug)]
pub(crate) struct Failed {
    /// What went wrong.
    pub(crate) error: QueryError,
    /// How far the request got.
    pub(crate) reach: Reach,
}

impl From<QueryError> for Failed {
    fn from(error: QueryError) -> Failed {
        Failed {
            error,
            reach: Reach::Answered,
        }
    }
}

impl From<Failed> for QueryError {
    fn from(f: Failed) -> QueryError {
        f.error
    }
}

/// How far a request got, from the error's type: hyper-util's client errors come only from the
/// response future, i.e. before any status; body errors are hyper's own.
fn reach(e: &clickhouse::error::Error) -> Reach {
    let clickhouse::error::Error::Network(source) = e else {
        return Reach::Answered;
    };
    match source.downcast_ref::<hyper_util::client::legacy::Error>() {
        Some(e) if e.is_connect() => Reach::NotConnected,
        Some(_) => Reach::NoAnswer,
        None => Reach::Answered,
    }
}

/// A statement refused by read-only mode says why it is read-only.
fn readonly_hint(e: QueryError) -> QueryError {
    match e {
        QueryError::Upstream {
            code: 164,
            name,
            message,
        } => QueryError::Upstream {
            code: 164,
            name,
            message: if message.contains("Cannot modify") {
                format!(
                    "{message} — queries run read-only (readonly=1), which keeps the datasource's settings: set the datasource's allowQuerySettings to let queries carry their own SETTINGS (readonly=2)"
                )
            } else {
                format!(
                    "{message} — Lantern runs queries read-only: the datasource's allowWrites setting is off, or the ClickHouse user's profile is read-only"
                )
            },
        },
        other => other,
    }
}

impl Upstream for Connection {
    fn arrow<'a>(
        &'a self,
        sql: &'a str,
        options: &'a RequestOptions,
    ) -> BoxFuture<'a, Result<ArrowStream, QueryError>> {
        Box::pin(async move {
            let cursor = self.open(sql, options).await?;
            Ok(ArrowStream::new(Box::new(cursor), self.url.clone()))
        })
    }

    fn json_rows<'a>(
        &'a self,
        sql: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Vec<serde_json::Value>>, QueryError>> {
        Box::pin(async move { Ok(self.rows(sql).await?) })
    }

    fn kill<'a>(&'a self, query_id: &'a str) -> BoxFuture<'a, Result<(), QueryError>> {
        Box::pin(async move {
            self.rows_with(&crate::sql::kill_query(query_id), &[])
                .await
                .map(|_| ())
                .map_err(QueryError::from)
        })
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    fn query_timeout(&self) -> Duration {
        self.query_timeout
    }

    fn access(&self) -> BoxFuture<'_, Result<Access, QueryError>> {
        Box::pin(async { Ok(self.probe_access().await?) })
    }

    fn mode(&self) -> QueryMode {
        if self.allow_writes {
            QueryMode::Writes
        } else if self.allow_query_settings {
            QueryMode::ReadOnlySettings
        } else {
            QueryMode::ReadOnly
        }
    }
}

/// A response body from the `clickhouse` crate; its cursor detects mid-stream exceptions (both
/// the tagged format of servers >= 25.11 and the older appended `Code: …`), so result bytes are
/// never sniffed here and data can never look like an error.
pub(crate) struct Cursor {
    cursor: clickhouse::query::BytesCursor,
    url: String,
}

impl Cursor {
    /// The next chunk (the first read sends the request), telling how far a failure got.
    pub(crate) async fn next_attempt(&mut self) -> Result<Option<bytes::Bytes>, Failed> {
        self.cursor.next().await.map_err(|e| Failed {
            reach: reach(&e),
            error: readonly_hint(classify(e, &self.url)),
        })
    }
}

impl ChunkSource for Cursor {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<bytes::Bytes>, QueryError>> {
        Box::pin(async move { Ok(self.next_attempt().await?) })
    }

    fn received_bytes(&self) -> u64 {
        self.cursor.received_bytes()
    }
}

/// Maps a `clickhouse` crate error to the taxonomy.
pub(crate) fn classify(e: clickhouse::error::Error, url: &str) -> QueryError {
    use clickhouse::error::Error as E;
    match e {
        E::BadResponse(text) => parse_exception(&text).unwrap_or_else(|| QueryError::BadResponse {
            url: url.to_owned(),
            message: text.chars().take(300).collect::<String>().trim().to_owned(),
        }),
        E::TimedOut => QueryError::Timeout(Duration::ZERO),
        E::Network(source) => {
            let chain = error_chain(source.as_ref());
            match transport_cause(source.as_ref()) {
                Transport::Tls => QueryError::Tls {
                    url: url.to_owned(),
                    message: chain,
                },
                Transport::NotHttp => QueryError::Tls {
                    url: url.to_owned(),
                    message: format!(
                        "{chain} (the answer is not HTTP: the server seems to speak HTTPS; turn on secure / use https)"
                    ),
                },
                Transport::Other => QueryError::Network {
                    url: url.to_owned(),
                    message: chain,
                },
            }
        }
        other => {
            let chain = error_chain(&other);
            if let Some(e) = parse_exception(&chain) {
                e
            } else {
                QueryError::BadResponse {
                    url: url.to_owned(),
                    message: chain,
                }
            }
        }
    }
}

/// What a transport failure was, read from the error's typed sources (never its text).
#[derive(Debug, PartialEq, Eq)]
enum Transport {
    /// rustls failed: handshake, certificate, alert, a plain-HTTP answer to a TLS hello.
    Tls,
    /// The answer could not be parsed as HTTP (a TLS server answering a plain request).
    NotHttp,
    /// Anything else: refused, reset, unreachable, closed.
    Other,
}

fn transport_cause(e: &(dyn std::error::Error + 'static)) -> Transport {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut not_http = false;
    while let Some(err) = cur {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return Transport::Tls;
        }
        // io::Error's source() skips the error it wraps: look inside, through nested io::Errors.
        let mut io = err.downcast_ref::<std::io::Error>();
        while let Some(inner) = io.and_then(std::io::Error::get_ref) {
            if inner.downcast_ref::<rustls::Error>().is_some() {
                return Transport::Tls;
            }
            io = inner.downcast_ref::<std::io::Error>();
        }
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_parse)
        {
            not_http = true;
        }
        cur = err.source();
    }
    if not_http {
        Transport::NotHttp
    } else {
        Transport::Other
    }
}

/// "outer: inner: root" for an error and its sources, without repeats.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let s = err.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = err.source();
    }
    parts.join(": ")
}

fn tls_config(settings: &Settings) -> Result<ClientConfig, SettingsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| SettingsError {
            key: "secure".into(),
            reason: e.to_string(),
        })?;
    let tls: &Tls = &settings.tls;
    let builder = if tls.skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(ca) = &tls.ca_cert {
            for cert in CertificateDer::pem_slice_iter(ca.expose().as_bytes()) {
                let cert = cert.map_err(|e| SettingsError {
                    key: "tlsCACert".into(),
                    reason: format!("cannot read PEM: {e}"),
                })?;
                roots.add(cert).map_err(|e| SettingsError {
                    key: "tlsCACert".into(),
                    reason: format!("not a usable CA certificate: {e}"),
                })?;
            }
            if roots.is_empty() {
                return Err(SettingsError {
                    key: "tlsCACert".into(),
                    reason: "holds no certificate".into(),
                });
            }
        } else if settings.protocol == Protocol::Https {
            crate::net::add_public_roots(&mut roots);
        }
        builder.with_root_certificates(roots)
    };
    match &tls.client_cert {
        Some((cert, key)) => {
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(cert.expose().as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|e| SettingsError {
                        key: "tlsClientCert".into(),
                        reason: format!("cannot read PEM: {e}"),
                    })?;
            if certs.is_empty() {
                return Err(SettingsError {
                    key: "tlsClientCert".into(),
                    reason: "holds no certificate".into(),
                });
            }
            let key = PrivateKeyDer::from_pem_slice(key.expose().as_bytes()).map_err(|e| {
                SettingsError {
                    key: "tlsClientKey".into(),
                    reason: format!("cannot read the PEM private key: {e}"),
                }
            })?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| SettingsError {
                    key: "tlsClientKey".into(),
                    reason: format!("does not match the certificate: {e}"),
                })
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// `tlsSkipVerify`: accepts any certificate but still checks handshake signatures.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Standard base64 (RFC 4648) for the Basic auth header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"alice:s3cr3t"), "YWxpY2U6czNjcjN0");
    }

    #[test]
    fn transport_failures_are_told_apart_by_type() {
        // As tokio-rustls and hyper-rustls nest it.
        let tls = std::io::Error::other(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        assert_eq!(transport_cause(&tls), Transport::Tls);
        // The text says "certificate", but nothing in it is a TLS error.
        let refused = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "certificate store refused the connection",
        );
        assert_eq!(transport_cause(&refused), Transport::Other);
    }

    #[test]
    fn bad_responses_keep_exception_codes() {
        let e = classify(
            clickhouse::error::Error::BadResponse(
                "Code: 60. DB::Exception: Unknown table. (UNKNOWN_TABLE)".into(),
            ),
            "http://x",
        );
        assert_eq!(e.exception_code(), Some(60));
        let e = classify(
            clickhouse::error::Error::BadResponse("<html>proxy</html>".into()),
            "http://x",
        );
        assert!(matches!(e, QueryError::BadResponse { .. }));
    }
}
