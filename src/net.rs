//! The network edge under the ClickHouse client: how a datasource's host name becomes sockets,
//! and which certificate authorities an HTTPS connection trusts when the datasource names none.
//!
//! Why it exists: the packaged Linux binary is linked statically against glibc (`crt-static`, see
//! `.cargo/static.toml`) so that one file runs on every Grafana image, the Alpine (musl) default
//! included. In a static binary glibc's `getaddrinfo` still reads `/etc/hosts` and queries DNS
//! (both built into libc since 2.34), but any other NSS module an image's `nsswitch.conf` names
//! (`mdns4_minimal`, `resolve`, `myhostname`, ldap…) is `dlopen`ed from the image, which only
//! works with libraries of the exact glibc the binary was linked with (the linker warns about
//! it); and minimal images carry no CA bundle. So this module replaces both libc services with
//! in-process ones that behave the same on every image:
//!
//! * **Names** are resolved by [`Resolver`]: `/etc/hosts` first and exclusively (a name found
//!   there is never sent to DNS, as glibc's `files dns` and Go's resolver behave), then the
//!   nameservers, `search` domains, `ndots`, timeout and attempts of `/etc/resolv.conf`
//!   (hickory-resolver), so Kubernetes service names resolve as they do for Grafana itself.
//!   Without a usable `resolv.conf` the nameserver is 127.0.0.1, glibc's default. IP literals
//!   never reach the resolver: hyper's connector parses them first.
//! * **CA roots** for HTTPS without the datasource's own CA are the union of the system store
//!   (rustls-native-certs: `SSL_CERT_FILE`/`SSL_CERT_DIR`, then the distribution's bundle, so a
//!   corporate CA installed on the host is honoured) and Mozilla's roots compiled into the binary
//!   (webpki-roots), so public CAs work on images without CA files. A datasource CA
//!   (`tlsAuthWithCACert`) is trusted alone, as before; that choice stays in `clickhouse.rs`.
//!
//! [`connector`] assembles the hyper connector `Connection::new` hands to the `clickhouse` crate:
//! TCP options from the settings, this resolver, and the TLS config built by the caller.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::Query;
use hickory_resolver::proto::rr::{Name as DnsName, RecordType};
use hickory_resolver::{Hosts, TokioResolver};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;

use crate::settings::Settings;

/// The connector of one datasource's HTTP client.
pub(crate) type Connector = HttpsConnector<HttpConnector<Resolver>>;

/// Builds the connector for `settings`: TCP_NODELAY, keep-alive and the dial timeout, names
/// resolved by [`Resolver::system`], `tls` for `https` URLs (plain `http` stays plain).
pub(crate) fn connector(settings: &Settings, tls: ClientConfig) -> Connector {
    let mut http = HttpConnector::new_with_resolver(Resolver::system());
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_keepalive(Some(Duration::from_secs(60)));
    http.set_connect_timeout(Some(settings.dial_timeout));
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http)
}

/// Adds the CA roots an HTTPS datasource without its own CA trusts: the system store's
/// certificates (unreadable entries skipped, as Go's x509 does) and the bundled Mozilla roots.
pub(crate) fn add_public_roots(roots: &mut RootCertStore) {
    let system = rustls_native_certs::load_native_certs();
    if !system.errors.is_empty() {
        tracing::debug!(
            errors = system.errors.len(),
            "some system CA certificates were unreadable; the bundled roots still apply"
        );
    }
    add_roots(roots, system.certs);
}

/// `system`'s certificates (unusable ones skipped) and the bundled roots.
fn add_roots(roots: &mut RootCertStore, system: Vec<CertificateDer<'static>>) {
    for cert in system {
        let _ = roots.add(cert);
    }
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
}

/// In-process name resolution: `/etc/hosts`, then DNS as `/etc/resolv.conf` configures it.
///
/// Both files are read when the resolver is made, i.e. once per datasource version (saving a
/// datasource picks up changes). DNS answers are cached by hickory within their TTLs, bounded
/// by its cache size.
#[derive(Clone)]
pub(crate) struct Resolver {
    hosts: Arc<Hosts>,
    /// `Err`: why no DNS resolver could be made (reported by every lookup that needs DNS).
    dns: Result<TokioResolver, Arc<str>>,
}

impl Resolver {
    /// The resolver the system files describe. Never fails: a missing or unusable
    /// `/etc/resolv.conf` means the local nameserver (glibc's default), a missing `/etc/hosts`
    /// means no static names; both are logged.
    pub(crate) fn system() -> Resolver {
        let hosts = Hosts::from_system().unwrap_or_else(|e| {
            tracing::debug!(error = %e, "no /etc/hosts; names are resolved by DNS only");
            Hosts::default()
        });
        let conf = hickory_resolver::system_conf::read_system_conf().map_err(|e| e.to_string());
        Resolver::new(hosts, conf)
    }

    /// A resolver with these static names and DNS configuration (`Err`: the reason the system
    /// configuration could not be read; the local nameserver is used instead).
    fn new(hosts: Hosts, conf: Result<(ResolverConfig, ResolverOpts), String>) -> Resolver {
        let (config, opts) = dns_config(conf);
        let mut builder =
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
        *builder.options_mut() = opts;
        // Only encrypted DNS transports (not enabled) can make this fail.
        let dns = builder.build().map_err(|e| Arc::from(e.to_string()));
        Resolver {
            hosts: Arc::new(hosts),
            dns,
        }
    }

    /// The addresses of `host` (port 0; the connector sets the URL's port).
    async fn lookup(&self, host: &str) -> Result<Vec<SocketAddr>, ResolveError> {
        let fail = |reason: String| ResolveError {
            host: host.to_owned(),
            reason,
        };
        let name = DnsName::from_utf8(host)
            .map_err(|e| fail(format!("not a valid host name: {e}")))?
            .to_lowercase();
        let static_ips = self.static_ips(&name);
        let ips: Vec<IpAddr> = if static_ips.is_empty() {
            let dns = self
                .dns
                .as_ref()
                .map_err(|e| fail(format!("no DNS resolver: {e}")))?;
            dns.lookup_ip(name)
                .await
                .map_err(|e| fail(e.to_string()))?
                .iter()
                .collect()
        } else {
            static_ips
        };
        if ips.is_empty() {
            return Err(fail("no addresses".into()));
        }
        Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect())
    }

    /// The `/etc/hosts` addresses of `name` (IPv4 first), empty when it is not listed.
    fn static_ips(&self, name: &DnsName) -> Vec<IpAddr> {
        [RecordType::A, RecordType::AAAA]
            .into_iter()
            .filter_map(|t| {
                self.hosts
                    .lookup_static_host(&Query::query(name.clone(), t))
            })
            .flat_map(|lookup| {
                lookup
                    .answers()
                    .iter()
                    .filter_map(|r| r.data.ip_addr())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// The DNS configuration to use: the system's, or glibc's default when it is unusable. Static
/// names are never looked up by hickory: [`Resolver::lookup`] reads them first, for both address
/// families at once.
fn dns_config(
    conf: Result<(ResolverConfig, ResolverOpts), String>,
) -> (ResolverConfig, ResolverOpts) {
    let (config, mut opts) = conf.unwrap_or_else(|reason| {
        tracing::warn!(
            reason = %reason,
            "cannot read /etc/resolv.conf; using the nameserver at 127.0.0.1"
        );
        (local_nameserver(), ResolverOpts::default())
    });
    opts.use_hosts_file = ResolveHosts::Never;
    (config, opts)
}

/// glibc's configuration when `resolv.conf` names no nameserver: the local one.
fn local_nameserver() -> ResolverConfig {
    ResolverConfig::from_parts(
        None,
        vec![],
        vec![NameServerConfig::udp_and_tcp(IpAddr::V4(
            Ipv4Addr::LOCALHOST,
        ))],
    )
}

/// A host name that did not resolve.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve host `{host}`: {reason}")]
pub(crate) struct ResolveError {
    host: String,
    reason: String,
}

impl tower_service::Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = ResolveError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ResolveError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ResolveError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.lookup(name.as_str()).await.map(Vec::into_iter) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::op::{Message, OpCode};
    use hickory_resolver::proto::rr::{RData, Record, rdata::A};
    use std::sync::Mutex;

    /// A DNS server on a loopback UDP port answering every A query with 10.1.2.3 (AAAA: no
    /// records) and recording the names it was asked for.
    fn fake_dns() -> (u16, Arc<Mutex<Vec<String>>>) {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = socket.local_addr().unwrap().port();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, peer)) = socket.recv_from(&mut buf) {
                let Ok(request) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut reply = Message::response(request.metadata.id, OpCode::Query);
                reply.metadata.recursion_desired = true;
                reply.metadata.recursion_available = true;
                for q in &request.queries {
                    log.lock()
                        .unwrap()
                        .push(format!("{} {}", q.name(), q.query_type()));
                    reply.add_query(q.clone());
                    if q.query_type() == RecordType::A {
                        reply.add_answer(Record::from_rdata(
                            q.name().clone(),
                            60,
                            RData::A(A::new(10, 1, 2, 3)),
                        ));
                    }
                }
                let _ = socket.send_to(&reply.to_vec().unwrap(), peer);
            }
        });
        (port, asked)
    }

    fn resolver(hosts_file: &str, dns_port: u16, timeout: Duration) -> Resolver {
        let mut hosts = Hosts::default();
        hosts.read_hosts_conf(hosts_file.as_bytes()).unwrap();
        let mut ns = NameServerConfig::udp(IpAddr::V4(Ipv4Addr::LOCALHOST));
        ns.connections[0].port = dns_port;
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = 1;
        Resolver::new(
            hosts,
            Ok((ResolverConfig::from_parts(None, vec![], vec![ns]), opts)),
        )
    }

    #[tokio::test]
    async fn hosts_file_names_never_reach_dns() {
        let (port, asked) = fake_dns();
        let r = resolver(
            "127.0.0.1 localhost\n127.0.0.1 ClickHouse.Lantern.Test ch # demo\n",
            port,
            Duration::from_secs(5),
        );
        let addrs = r.lookup("clickhouse.lantern.test").await.unwrap();
        assert_eq!(addrs, vec![SocketAddr::from(([127, 0, 0, 1], 0))]);
        let addrs = r.lookup("CH").await.unwrap();
        assert_eq!(addrs, vec![SocketAddr::from(([127, 0, 0, 1], 0))]);
        assert!(asked.lock().unwrap().is_empty(), "{:?}", asked.lock());
    }

    #[tokio::test]
    async fn other_names_are_asked_of_the_resolv_conf_nameserver() {
        let (port, asked) = fake_dns();
        let r = resolver(
            "127.0.0.1 clickhouse.lantern.test\n",
            port,
            Duration::from_secs(5),
        );
        let addrs = r.lookup("db.example.internal.").await.unwrap();
        assert_eq!(addrs, vec![SocketAddr::from(([10, 1, 2, 3], 0))]);
        let asked = asked.lock().unwrap();
        assert!(
            asked.iter().any(|q| q == "db.example.internal. A"),
            "{asked:?}"
        );
    }

    #[tokio::test]
    async fn unresolvable_names_are_errors_naming_the_host() {
        // The discard port: nothing answers, nothing is listed.
        let r = resolver("", 9, Duration::from_millis(200));
        let e = r.lookup("nowhere.lantern.test.").await.unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot resolve host `nowhere.lantern.test.`"),
            "{e}"
        );
        let e = r.lookup("bad name with spaces!").await.unwrap_err();
        assert!(e.to_string().contains("cannot resolve host"), "{e}");
    }

    #[test]
    fn missing_resolv_conf_means_the_local_nameserver() {
        let (config, opts) = dns_config(Err("No such file or directory".into()));
        let servers: Vec<_> = config.name_servers().iter().map(|s| s.ip).collect();
        assert_eq!(servers, vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        assert_eq!(opts.use_hosts_file, ResolveHosts::Never);
        // A system configuration is kept as it is.
        let ns = NameServerConfig::udp(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10)));
        let search = vec![DnsName::from_utf8("svc.cluster.local").unwrap()];
        let (config, _) = dns_config(Ok((
            ResolverConfig::from_parts(None, search.clone(), vec![ns]),
            ResolverOpts::default(),
        )));
        assert_eq!(
            config.name_servers()[0].ip,
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 10))
        );
        assert_eq!(config.search(), search.as_slice());
    }

    /// The bundled roots alone: what an image without CA files gets.
    #[test]
    fn public_cas_are_trusted_without_system_ca_files() {
        let mut roots = RootCertStore::empty();
        add_roots(&mut roots, Vec::new());
        assert_eq!(roots.len(), webpki_roots::TLS_SERVER_ROOTS.len());
        // ISRG Root X1 (Let's Encrypt), whatever the host has installed.
        assert!(
            roots
                .roots
                .iter()
                .any(|a| String::from_utf8_lossy(a.subject.as_ref()).contains("ISRG Root X1")),
            "Let's Encrypt's root is bundled"
        );
    }

    /// The system store's certificates are kept next to the bundled ones (a corporate CA
    /// installed on the host keeps working); unusable ones are skipped, not fatal.
    #[test]
    fn system_roots_are_added_to_the_bundled_ones() {
        use rustls_pki_types::pem::PemObject;
        // A self-signed test CA made for this test (openssl, P-256, valid until 2126).
        const CORPORATE_CA: &str = "\
-----BEGIN CERTIFICATE-----
MIIBoDCCAUWgAwIBAgIUJu9aiIKyfsNdwIJ5B7OdToyj4CswCgYIKoZIzj0EAwIw
JDEiMCAGA1UEAwwZTGFudGVybiBUZXN0IENvcnBvcmF0ZSBDQTAgFw0yNjEyMDMy
MTQ0MTNaGA8yMTI2MTEwOTIxNDQxM1owJDEiMCAGA1UEAwwZTGFudGVybiBUZXN0
IENvcnBvcmF0ZSBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABOpJC7P+9vl9
ZhaF4DmyxfPDaPrJ0yHr2lgieMJzp/oEOTJohLW5yraBbvRfGIykayLJGWrnDwBj
Moq8eY4d96ajUzBRMB0GA1UdDgQWBBRa5Dt8FLrqrj4VPFrbE1YXZO3/0DAfBgNV
HSMEGDAWgBRa5Dt8FLrqrj4VPFrbE1YXZO3/0DAPBgNVHRMBAf8EBTADAQH/MAoG
CCqGSM49BAMCA0kAMEYCIQCoEniNRNV0YKZ8AtK7UsTQwgvkpe0t2VTm4o8Etkts
HgIhAPKMwQOmY5FOP7LXryhqLYkYgskJCnBoTlI8SRCTy24i
-----END CERTIFICATE-----
";
        let corporate = CertificateDer::from_pem_slice(CORPORATE_CA.as_bytes()).unwrap();
        let mut roots = RootCertStore::empty();
        add_roots(
            &mut roots,
            vec![
                corporate,
                CertificateDer::from(b"not a certificate".to_vec()),
            ],
        );
        assert_eq!(roots.len(), webpki_roots::TLS_SERVER_ROOTS.len() + 1);
        assert!(roots.roots.iter().any(|a| {
            String::from_utf8_lossy(a.subject.as_ref()).contains("Lantern Test Corporate CA")
        }));
    }
}
