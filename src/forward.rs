//! `forwardGrafanaHeaders`: the headers that say who asks, passed on to ClickHouse with every
//! HTTP request made for a Grafana request.
//!
//! Grafana tells a plugin who is asking in each request's headers: QueryData and CheckHealth
//! carry them as `http_<Name>` entries of the request's headers map (the SDKs' convention), and
//! CallResource as the HTTP request's own headers. With `forwardGrafanaHeaders` on, [`select`]
//! keeps the ones that identify the user and the place the query comes from — `X-Grafana-*`
//! (`X-Grafana-User`, `X-Grafana-Org-Id`, the signed ID token `X-Grafana-Id`…),
//! `X-Dashboard-Uid`, `X-Panel-Id`, `X-Panel-Plugin-Id`, `X-Rule-*`, `X-Datasource-Uid`,
//! `X-Query-Group-Id` — and adds `X-Grafana-User` from the request's user when Grafana did not
//! send it (as grafana/clickhouse-datasource does). Everything else stays behind, credentials
//! above all: never `Cookie`, never `Authorization` or `X-Id-Token` (OAuth pass-through, which
//! Lantern does not do and which would clash with its own ClickHouse credentials), never
//! `X-ClickHouse-*` (which would change the user or the settings). A header the datasource sets
//! itself (`httpHeaders`) wins over a forwarded one of the same name.
//!
//! The selection rides in a task-local scope ([`scope`]) instead of through every call: the
//! planner's and the resources' metadata requests (schemas, `DESCRIBE`, trace lookups) run deep
//! in shared code, and a proxy in front of ClickHouse that authorises by Grafana's identity
//! refuses any request without it. Work spawned for a request re-enters the scope with
//! [`current`]. Header values are never logged; [`Forwarded`]'s `Debug` shows names only.

use std::future::Future;
use std::sync::Arc;

use crate::settings::Settings;

/// At most this many headers are forwarded.
const MAX_HEADERS: usize = 32;
/// A longer value is not forwarded (Grafana's ID token is about a kilobyte).
const MAX_VALUE_BYTES: usize = 16 << 10;

/// The headers forwarded for one Grafana request.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Forwarded(Arc<[(String, String)]>);

impl std::fmt::Debug for Forwarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _)| n))
            .finish()
    }
}

impl Forwarded {
    /// The headers, as (name, value).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// True when nothing is forwarded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Whether a header says who asks or from where (see the module docs).
fn is_identity(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("x-grafana-")
        || n.starts_with("x-rule-")
        || matches!(
            n.as_str(),
            "x-dashboard-uid"
                | "x-panel-id"
                | "x-panel-plugin-id"
                | "x-datasource-uid"
                | "x-query-group-id"
        )
}

/// The headers to forward for a request, by the datasource's settings: nothing unless
/// `forwardGrafanaHeaders` is on. `headers` are the request's (name, value) pairs: the `http_`
/// prefix of QueryData/CheckHealth entries is read off; `user` is the request's user login.
pub fn select<'a>(
    settings: &Settings,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    user: &str,
) -> Forwarded {
    if !settings.forward_grafana_headers {
        return Forwarded::default();
    }
    let taken = |out: &[(String, String)], name: &str| {
        out.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
            || settings
                .headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case(name))
    };
    let fits = |name: &str, value: &str| {
        value.len() <= MAX_VALUE_BYTES
            && http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && http::HeaderValue::from_str(value).is_ok()
    };
    let mut out: Vec<(String, String)> = Vec::new();
    let mut dropped = Vec::new();
    for (key, value) in headers {
        let name = key.strip_prefix("http_").unwrap_or(key);
        if !is_identity(name) || taken(&out, name) {
            continue;
        }
        if out.len() == MAX_HEADERS || !fits(name, value) {
            dropped.push(name.to_owned());
            continue;
        }
        out.push((name.to_owned(), value.to_owned()));
    }
    if !user.is_empty() && !taken(&out, "X-Grafana-User") && out.len() < MAX_HEADERS {
        if fits("X-Grafana-User", user) {
            out.push(("X-Grafana-User".to_owned(), user.to_owned()));
        } else {
            dropped.push("X-Grafana-User".to_owned());
        }
    }
    if !dropped.is_empty() {
        // Names only: values are the user's identity.
        tracing::debug!(headers = ?dropped, "Grafana headers not forwarded (invalid, too long or too many)");
    }
    // A stable order: the same request sends the same headers in the same order.
    out.sort_by_cached_key(|(n, _)| n.to_ascii_lowercase());
    Forwarded(out.into())
}

tokio::task_local! {
    static FORWARDED: Forwarded;
}

/// Runs `work` with `headers` forwarded on every ClickHouse request it makes.
pub async fn scope<F: Future>(headers: Forwarded, work: F) -> F::Output {
    FORWARDED.scope(headers, work).await
}

/// The headers forwarded for the request being served (none outside [`scope`]).
pub fn current() -> Forwarded {
    FORWARDED.try_with(Forwarded::clone).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{InstanceInput, Settings};

    fn settings(json: &str) -> Settings {
        Settings::from_instance(&InstanceInput {
            json_data: json.as_bytes(),
            ..Default::default()
        })
        .unwrap()
    }

    fn names(f: &Forwarded) -> Vec<&str> {
        f.iter().map(|(n, _)| n).collect()
    }

    const GRAFANA: &[(&str, &str)] = &[
        ("http_X-Dashboard-Uid", "dash"),
        ("http_X-Panel-Id", "7"),
        ("http_X-Grafana-Org-Id", "1"),
        ("http_X-Rule-Uid", "rule"),
        ("Cookie", "grafana_session=s3cret"),
        ("http_Cookie", "grafana_session=s3cret"),
        ("Authorization", "Bearer s3cret"),
        ("http_Authorization", "Bearer s3cret"),
        ("X-Id-Token", "s3cret"),
        ("http_X-ClickHouse-User", "admin"),
        ("http_X-ClickHouse-Key", "s3cret"),
        ("http_Accept", "*/*"),
    ];

    #[test]
    fn identity_headers_pass_credentials_never() {
        let s = settings(r#"{"host":"h","forwardGrafanaHeaders":true}"#);
        let f = select(&s, GRAFANA.iter().copied(), "alice");
        assert_eq!(
            names(&f),
            [
                "X-Dashboard-Uid",
                "X-Grafana-Org-Id",
                "X-Grafana-User",
                "X-Panel-Id",
                "X-Rule-Uid"
            ]
        );
        assert!(f.iter().all(|(_, v)| !v.contains("s3cret")));
        assert!(f.iter().any(|h| h == ("X-Grafana-User", "alice")));
        assert!(!format!("{f:?}").contains("dash"), "Debug shows names only");
    }

    #[test]
    fn nothing_unless_the_datasource_asks() {
        let s = settings(r#"{"host":"h"}"#);
        assert!(select(&s, GRAFANA.iter().copied(), "alice").is_empty());
    }

    #[test]
    fn grafanas_user_header_and_the_datasources_own_headers_win() {
        let s = settings(
            r#"{"host":"h","forwardGrafanaHeaders":true,
                "httpHeaders":[{"name":"x-dashboard-uid","value":"fixed"}]}"#,
        );
        let f = select(
            &s,
            [
                ("http_X-Grafana-User", "bob"),
                ("http_X-Dashboard-Uid", "dash"),
                ("X-Panel-Id", "3"),
                ("http_X-Panel-Id", "4"),
            ],
            "alice",
        );
        let got: Vec<(&str, &str)> = f.iter().collect();
        assert_eq!(got, [("X-Grafana-User", "bob"), ("X-Panel-Id", "3")]);
    }

    #[test]
    fn invalid_or_oversized_values_are_left_out() {
        let s = settings(r#"{"host":"h","forwardGrafanaHeaders":true}"#);
        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        let f = select(
            &s,
            [
                ("http_X-Grafana-Id", long.as_str()),
                ("http_X-Panel-Id", "a\r\nX-ClickHouse-User: admin"),
                ("http_X-Dashboard-Uid", "ok"),
            ],
            "line\nbreak",
        );
        assert_eq!(names(&f), ["X-Dashboard-Uid"]);
    }

    #[tokio::test]
    async fn the_scope_carries_the_headers_to_the_requests() {
        let s = settings(r#"{"host":"h","forwardGrafanaHeaders":true}"#);
        let f = select(&s, [("http_X-Panel-Id", "9")], "");
        assert!(current().is_empty());
        let inside = scope(f.clone(), async { current() }).await;
        assert_eq!(inside, f);
        assert!(current().is_empty());
    }
}
