//! The error taxonomy of a query, and the one mapping to what Grafana sees.
//!
//! Every failure of a query becomes a [`QueryError`]; [`QueryError::status`] and
//! [`QueryError::source_kind`] are the only places that decide the HTTP-like status and the
//! error source (`downstream` for ClickHouse and user faults, `plugin` for our own bugs) that go
//! into the query's `DataResponse`. The matches have no `_` arm, so a new variant forces a
//! decision. ClickHouse exception codes stay numbers ([`QueryError::Upstream`]) and appear in the
//! message.

use crate::frames::FrameError;
use crate::settings::SettingsError;

/// Grafana's error source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorSource {
    /// The user's query, the database or the network: not our bug.
    Downstream,
    /// A bug or limit in the plugin.
    Plugin,
}

impl ErrorSource {
    /// The string Grafana expects in `DataResponse.errorSource`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorSource::Downstream => "downstream",
            ErrorSource::Plugin => "plugin",
        }
    }
}

/// Why one query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query JSON could not be read.
    #[error("invalid query JSON: {0}")]
    BadJson(String),
    /// The query is well-formed JSON but asks for something invalid.
    #[error("{0}")]
    Invalid(String),
    /// A macro could not be expanded.
    #[error(transparent)]
    Macro(crate::macros::MacroError),
    /// The datasource settings are invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// ClickHouse answered with an exception.
    #[error("ClickHouse error {code}{}: {message}", name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default())]
    Upstream {
        /// The exception code (`X-ClickHouse-Exception-Code`).
        code: i32,
        /// The exception name, e.g. `SYNTAX_ERROR`.
        name: Option<String>,
        /// The exception message without the `Code: N. DB::Exception:` prefix.
        message: String,
    },
    /// The server answered something that is not a ClickHouse answer (wrong port, a proxy).
    #[error("unexpected answer from {url}: {message}")]
    BadResponse {
        /// The server URL.
        url: String,
        /// What came back.
        message: String,
    },
    /// The server could not be reached.
    #[error("cannot reach ClickHouse at {url}: {message}")]
    Network {
        /// The server URL.
        url: String,
        /// The cause, as text.
        message: String,
    },
    /// The TLS handshake failed.
    #[error("TLS error talking to {url}: {message}")]
    Tls {
        /// The server URL.
        url: String,
        /// The cause, as text.
        message: String,
    },
    /// The query did not finish in time.
    #[error("query timed out after {0:?} (datasource setting queryTimeout)")]
    Timeout(std::time::Duration),
    /// A statement refused because queries run read-only (`allowWrites` is off).
    #[error(
        "{0} statements are refused: Lantern runs queries read-only (the datasource's allowWrites setting is off)"
    )]
    ReadOnly(String),
    /// Grafana's deadline for the request passed first.
    #[error("query stopped after {0:?}: Grafana's deadline for the request passed")]
    Deadline(std::time::Duration),
    /// ClickHouse's Arrow stream could not be decoded.
    #[error("cannot decode ClickHouse's ArrowStream answer: {0}")]
    Decode(String),
    /// The result could not become a frame.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The plugin itself failed (a panic caught at the query boundary).
    #[error("internal error: {0}")]
    Internal(String),
}

impl QueryError {
    /// The HTTP-like status Grafana shows for this error.
    pub fn status(&self) -> u16 {
        match self {
            QueryError::BadJson(_)
            | QueryError::Invalid(_)
            | QueryError::Macro(_)
            | QueryError::Settings(_) => 400,
            QueryError::ReadOnly(_) => 403,
            QueryError::Upstream { code, .. } => status_for_exception(*code),
            QueryError::BadResponse { .. }
            | QueryError::Network { .. }
            | QueryError::Tls { .. } => 502,
            QueryError::Timeout(_) | QueryError::Deadline(_) => 504,
            QueryError::Decode(_) | QueryError::Internal(_) => 500,
            QueryError::Frame(
                FrameError::Unsupported { .. }
                | FrameError::OutOfRange { .. }
                | FrameError::Shape(_),
            ) => 400,
            QueryError::Frame(FrameError::Arrow { .. } | FrameError::Write(_)) => 500,
        }
    }

    /// Whether the fault is downstream (user, database, network) or the plugin's.
    pub fn source_kind(&self) -> ErrorSource {
        match self {
            QueryError::BadJson(_)
            | QueryError::Invalid(_)
            | QueryError::Macro(_)
            | QueryError::Settings(_)
            | QueryError::Upstream { .. }
            | QueryError::BadResponse { .. }
            | QueryError::Network { .. }
            | QueryError::Tls { .. }
            | QueryError::Timeout(_)
            | QueryError::Deadline(_)
            | QueryError::ReadOnly(_)
            | QueryError::Frame(
                FrameError::Unsupported { .. }
                | FrameError::OutOfRange { .. }
                | FrameError::Shape(_),
            ) => ErrorSource::Downstream,
            QueryError::Decode(_)
            | QueryError::Internal(_)
            | QueryError::Frame(FrameError::Arrow { .. } | FrameError::Write(_)) => {
                ErrorSource::Plugin
            }
        }
    }

    /// The ClickHouse exception code, when ClickHouse raised one.
    pub fn exception_code(&self) -> Option<i32> {
        match self {
            QueryError::Upstream { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// ClickHouse's own exception → HTTP status mapping (`exceptionCodeToHTTPStatus`).
pub fn status_for_exception(code: i32) -> u16 {
    match code {
        6 | 8 | 15 | 25 | 26 | 27 | 36 | 37 | 38 | 41 | 44 | 53 | 62 | 72 | 117 | 123 | 167
        | 168 | 223 | 321 | 376 | 427 | 441 | 675 | 676 => 400,
        194 => 401,
        // 164 READONLY: a write or a settings change refused by read-only mode.
        164 | 192 | 193 | 497 | 512 | 516 => 403,
        46 | 47 | 50 | 56 | 60 | 63 | 73 | 78 | 81 | 115 | 152 | 336 | 511 => 404,
        159 => 504,
        381 => 411,
        229 => 413,
        779 => 415,
        48 => 501,
        76 | 209 | 439 => 503,
        _ => 500,
    }
}

/// Parses ClickHouse's exception text: `Code: N. DB::Exception: <message>. (NAME) (version …)`.
/// Returns `None` when the text is not a ClickHouse exception.
pub fn parse_exception(text: &str) -> Option<QueryError> {
    let text = text.trim();
    // Mid-stream exceptions on servers >= 25.11 are framed by `__exception__` markers.
    let text = match text.find("Code: ") {
        Some(i) => &text[i..],
        None => return None,
    };
    let rest = &text["Code: ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let code: i32 = digits.parse().ok()?;
    let mut message = rest[digits.len()..].trim_start_matches('.').trim_start();
    message = message
        .strip_prefix("DB::Exception:")
        .unwrap_or(message)
        .trim();
    // Drop the trailing "(version …)" and pull out "(NAME)".
    if let Some(i) = message.rfind(" (version ") {
        message = message[..i].trim_end();
    }
    let mut name = None;
    if message.ends_with(')')
        && let Some(open) = message.rfind(" (")
    {
        let candidate = &message[open + 2..message.len() - 1];
        if !candidate.is_empty()
            && candidate
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        {
            name = Some(candidate.to_owned());
            message = message[..open].trim_end();
        }
    }
    let message = message
        .trim_end_matches('.')
        .trim()
        .lines()
        .next()
        .unwrap_or("")
        .to_owned();
    Some(QueryError::Upstream {
        code,
        name,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_clickhouse_exceptions() {
        let e = parse_exception(
            "Code: 62. DB::Exception: Syntax error: failed at position 8 (FORM): FORM x. Expected one of: ... (SYNTAX_ERROR) (version 26.9.2.1 (official build))\n",
        )
        .unwrap();
        assert_eq!(e.exception_code(), Some(62));
        assert_eq!(e.status(), 400);
        assert_eq!(e.source_kind(), ErrorSource::Downstream);
        let msg = e.to_string();
        assert!(
            msg.starts_with(
                "ClickHouse error 62 (SYNTAX_ERROR): Syntax error: failed at position 8"
            ),
            "{msg}"
        );
        assert!(!msg.contains("version"), "{msg}");

        let e = parse_exception(
            "Code: 60. DB::Exception: Unknown table expression identifier 'nope'. (UNKNOWN_TABLE)",
        )
        .unwrap();
        assert_eq!(e.status(), 404);
        let e = parse_exception(
            "Code: 516. DB::Exception: default: Authentication failed. (AUTHENTICATION_FAILED)",
        )
        .unwrap();
        assert_eq!(e.status(), 403);
        assert!(parse_exception("<html>nginx</html>").is_none());
    }

    #[test]
    fn every_category_has_status_and_source() {
        assert_eq!(
            QueryError::Timeout(std::time::Duration::from_secs(1)).status(),
            504
        );
        assert_eq!(
            QueryError::Internal("x".into()).source_kind(),
            ErrorSource::Plugin
        );
        assert_eq!(
            QueryError::Network {
                url: "u".into(),
                message: "m".into()
            }
            .status(),
            502
        );
        assert_eq!(ErrorSource::Downstream.as_str(), "downstream");
    }
}
