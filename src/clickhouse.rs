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

use std::sync::Arc;
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_schema::SchemaRef;
use clickhouse::Client;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use rustls::ClientConfig;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use crate::chtype::ChType;
use crate::error::{QueryError, parse_exception};
use crate::settings::{Auth, Protocol, Settings, SettingsError, Tls};

/// A ready client for one datasource instance.
#[derive(Clone)]
pub struct Connection {
    client: Client,
    url: String,
    query_timeout: Duration,
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
        let hyper = HyperClient::builder(TokioExecutor::new())
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
        for (name, value) in &settings.custom_settings {
            client = client.with_setting(name, value);
        }
        for h in &settings.headers {
            client = client.with_header(&h.name, h.value.expose());
        }
        Ok(Connection {
            client,
            url,
            query_timeout: settings.query_timeout,
        })
    }

    /// The server URL (no credentials).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The per-query timeout.
    pub fn query_timeout(&self) -> Duration {
        self.query_timeout
    }

    /// Starts `sql` with `FORMAT ArrowStream` and returns the stream once ClickHouse answered.
    pub async fn arrow(&self, sql: &str, query_id: &str) -> Result<ArrowStream, QueryError> {
        let mut query = self.client.query_raw(sql);
        if !query_id.is_empty() {
            query = query.with_setting("query_id", query_id);
        }
        let cursor = query
            .fetch_bytes("ArrowStream")
            .map_err(|e| self.classify(e))?;
        Ok(ArrowStream {
            cursor,
            decoder: StreamDecoder::new(),
            buf: Buffer::from(Vec::<u8>::new()),
            url: self.url.clone(),
        })
    }

    /// The result column types of `sql`, from `DESCRIBE TABLE (sql)`.
    pub async fn describe(&self, sql: &str) -> Result<Vec<(String, ChType)>, QueryError> {
        let inner = sql.trim_end().trim_end_matches(';');
        let rows = self
            .json_rows(&format!("DESCRIBE TABLE (\n{inner}\n)"))
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let name = row.first()?.as_str()?.to_owned();
                let ty = row.get(1)?.as_str()?;
                Some((name, ChType::parse(ty)))
            })
            .collect())
    }

    /// Runs a small metadata query and returns its rows as JSON arrays (`JSONCompactEachRow`).
    pub async fn json_rows(&self, sql: &str) -> Result<Vec<Vec<serde_json::Value>>, QueryError> {
        let fut = async {
            let mut cursor = self
                .client
                .query_raw(sql)
                .fetch_bytes("JSONCompactEachRow")
                .map_err(|e| self.classify(e))?;
            let bytes = cursor.collect().await.map_err(|e| self.classify(e))?;
            bytes
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    serde_json::from_slice::<Vec<serde_json::Value>>(l).map_err(|e| {
                        QueryError::BadResponse {
                            url: self.url.clone(),
                            message: format!("unreadable row: {e}"),
                        }
                    })
                })
                .collect()
        };
        match tokio::time::timeout(self.query_timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(QueryError::Timeout(self.query_timeout)),
        }
    }

    fn classify(&self, e: clickhouse::error::Error) -> QueryError {
        classify(e, &self.url)
    }
}

/// A running ArrowStream result, decoded as bytes arrive.
pub struct ArrowStream {
    cursor: clickhouse::query::BytesCursor,
    decoder: StreamDecoder,
    buf: Buffer,
    url: String,
}

impl ArrowStream {
    /// The next record batch, or `None` at the end of the result.
    pub async fn next_batch(&mut self) -> Result<Option<RecordBatch>, QueryError> {
        loop {
            while !self.buf.is_empty() {
                if let Some(batch) = self
                    .decoder
                    .decode(&mut self.buf)
                    .map_err(|e| QueryError::Decode(e.to_string()))?
                {
                    return Ok(Some(batch));
                }
            }
            match self
                .cursor
                .next()
                .await
                .map_err(|e| classify(e, &self.url))?
            {
                Some(chunk) => {
                    if looks_like_exception(&chunk)
                        && let Some(e) = parse_exception(&String::from_utf8_lossy(&chunk))
                    {
                        return Err(e);
                    }
                    self.buf = Buffer::from(chunk);
                }
                None => {
                    self.decoder
                        .finish()
                        .map_err(|e| QueryError::Decode(e.to_string()))?;
                    return Ok(None);
                }
            }
        }
    }

    /// The result schema, once the first message has been decoded.
    pub fn schema(&self) -> Option<SchemaRef> {
        self.decoder.schema()
    }

    /// Bytes received so far (compressed size on the wire).
    pub fn received_bytes(&self) -> u64 {
        self.cursor.received_bytes()
    }
}

/// An exception appended to a streamed body (older servers) starts with `Code: `; Arrow IPC
/// messages start with the continuation marker 0xFFFFFFFF.
fn looks_like_exception(chunk: &[u8]) -> bool {
    // Every chunk of every result passes here: a SIMD substring search, not a window scan.
    chunk.starts_with(b"Code: ") || memchr::memmem::find(chunk, b"__exception__").is_some()
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
            let lower = chain.to_ascii_lowercase();
            if lower.contains("certificate")
                || lower.contains("tls")
                || lower.contains("handshake")
                || lower.contains("invalidcontenttype")
                || lower.contains("corrupt message")
            {
                QueryError::Tls {
                    url: url.to_owned(),
                    message: chain,
                }
            } else if lower.contains("invalid http version") || lower.contains("invalid http") {
                QueryError::Tls {
                    url: url.to_owned(),
                    message: format!(
                        "{chain} (the server seems to speak HTTPS: turn on secure / use https)"
                    ),
                }
            } else {
                QueryError::Network {
                    url: url.to_owned(),
                    message: chain,
                }
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
