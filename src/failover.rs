//! Several servers behind one datasource: [`Failover`], an [`Upstream`] over one [`Connection`]
//! per host (`host` plus `additionalHosts`).
//!
//! **Round-robin with health tracking.** Data queries and metadata queries each take turns over
//! the hosts that are up ([`Tracker`], pure and tested here), so a dashboard's panels spread over
//! the cluster. A host whose request failed at connect or transport level is marked down for a
//! back-off period (1 s, doubling per failure up to 30 s) and tried again after it; any answer
//! from it marks it up. Hosts that are down come last in every turn: when all are down, all are
//! tried anyway.
//!
//! **What is retried.** A request goes to the next host only while no byte of the answer has
//! arrived: the connection failed, or broke before an HTTP status came back
//! ([`crate::clickhouse::Reach`], read from the error's type). A ClickHouse exception, an error
//! after the answer began (mid-stream) and a timeout are the query's own result and come back
//! once. With `allowWrites` on, only requests that never left (no connection) are retried, since
//! a request that was sent may have run. The request is sent on the stream's first read, as with
//! one host, so the service's kill-on-drop guard already covers every attempt.
//!
//! **Kill.** `KILL QUERY` goes to the host that last ran the query id (a bounded memory of recent
//! ids), or to every host when the id is no longer known.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::clickhouse::{Connection, Cursor, Failed, Reach};
use crate::error::QueryError;
use crate::settings::{Settings, SettingsError};
use crate::upstream::{
    Access, ArrowStream, BoxFuture, ChunkSource, HostProbe, QueryMode, RequestOptions, Upstream,
};

/// The first back-off of a host that failed.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// The longest back-off.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Query ids remembered for `kill` (far more than run at once: the plugin caps that).
const REMEMBERED_QUERIES: usize = 1024;

/// Which turn a request takes: data and metadata queries rotate separately, so the DESCRIBE
/// beside each data query does not make every data query land on the same host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lane {
    /// ArrowStream queries.
    Data,
    /// Metadata queries (JSON rows, DESCRIBE, the access probe).
    Meta,
}

/// Up/down state of the hosts and the round-robin turns: pure, time is passed in.
#[derive(Debug)]
pub(crate) struct Tracker {
    hosts: Vec<HostState>,
    turns: [usize; 2],
}

#[derive(Clone, Copy, Debug, Default)]
struct HostState {
    /// Failures in a row.
    failures: u32,
    /// Down until then (back-off).
    down_until: Option<Instant>,
}

impl Tracker {
    /// `n` hosts, all up.
    pub(crate) fn new(n: usize) -> Tracker {
        Tracker {
            hosts: vec![HostState::default(); n],
            turns: [0; 2],
        }
    }

    /// Whether host `i` is up at `now` (never failed, answered since, or its back-off is over).
    pub(crate) fn is_up(&self, i: usize, now: Instant) -> bool {
        self.hosts[i].down_until.is_none_or(|t| t <= now)
    }

    /// The hosts to try, in order, for one request of `lane`: the hosts that are up, starting
    /// at this lane's turn, then the hosts that are down, soonest back first.
    pub(crate) fn order(&mut self, lane: Lane, now: Instant) -> Vec<usize> {
        let (up, mut down): (Vec<usize>, Vec<usize>) =
            (0..self.hosts.len()).partition(|&i| self.is_up(i, now));
        down.sort_by_key(|&i| self.hosts[i].down_until);
        let mut order = Vec::with_capacity(self.hosts.len());
        if !up.is_empty() {
            let turn = &mut self.turns[lane as usize];
            let start = *turn % up.len();
            *turn = turn.wrapping_add(1);
            order.extend(up[start..].iter().chain(&up[..start]));
        }
        order.extend(down);
        order
    }

    /// Host `i` could not be reached: down for a back-off that doubles with each failure.
    pub(crate) fn failed(&mut self, i: usize, now: Instant) {
        let h = &mut self.hosts[i];
        let backoff = BACKOFF_FIRST
            .saturating_mul(1 << h.failures.min(16))
            .min(BACKOFF_MAX);
        h.failures = h.failures.saturating_add(1);
        h.down_until = Some(now + backoff);
    }

    /// Host `i` answered: up, its back-off forgotten.
    pub(crate) fn answered(&mut self, i: usize) {
        self.hosts[i] = HostState::default();
    }
}

/// Whether a request that failed this far may go to another host.
pub(crate) fn may_retry(reach: Reach, mode: QueryMode) -> bool {
    match reach {
        Reach::NotConnected => true,
        // A request that left may have run: only a read-only one is sent again.
        Reach::NoAnswer => mode != QueryMode::Writes,
        Reach::Answered => false,
    }
}

/// Which host ran which query id, for `kill`; the oldest ids are forgotten first.
#[derive(Debug, Default)]
pub(crate) struct Recent {
    hosts: HashMap<String, usize>,
    order: VecDeque<String>,
}

impl Recent {
    /// Remembers that `query_id` runs on host `i` (a retry moves it).
    pub(crate) fn put(&mut self, query_id: &str, i: usize) {
        if query_id.is_empty() {
            return;
        }
        if let Some(h) = self.hosts.get_mut(query_id) {
            *h = i;
            return;
        }
        if self.order.len() >= REMEMBERED_QUERIES
            && let Some(old) = self.order.pop_front()
        {
            self.hosts.remove(&old);
        }
        self.order.push_back(query_id.to_owned());
        self.hosts.insert(query_id.to_owned(), i);
    }

    /// The host that ran `query_id`, if remembered.
    pub(crate) fn get(&self, query_id: &str) -> Option<usize> {
        self.hosts.get(query_id).copied()
    }
}

/// The error of a request that no host answered: the one error, or each host's in one message
/// (of the first host's kind, so health checks still categorize it).
fn all_failed(mut errors: Vec<(String, QueryError)>) -> QueryError {
    if errors.len() <= 1 {
        return errors.pop().map_or_else(
            || QueryError::Internal("failover over no hosts".into()),
            |(_, e)| e,
        );
    }
    let n = errors.len();
    let message = errors
        .iter()
        .map(|(url, e)| match e {
            QueryError::Network { message, .. } | QueryError::Tls { message, .. } => {
                format!("{url}: {message}")
            }
            other => format!("{url}: {other}"),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let url = format!("any of {n} hosts");
    match errors.swap_remove(0).1 {
        QueryError::Tls { .. } => QueryError::Tls { url, message },
        _ => QueryError::Network { url, message },
    }
}

/// What the hosts of one datasource share.
#[derive(Debug)]
struct Shared {
    hosts: Vec<Connection>,
    urls: Vec<String>,
    tracker: Mutex<Tracker>,
    recent: Mutex<Recent>,
    mode: QueryMode,
}

impl Shared {
    fn order(&self, lane: Lane) -> Vec<usize> {
        lock(&self.tracker).order(lane, Instant::now())
    }

    /// Records how an attempt on host `i` ended; true when the request may go to the next host.
    fn outcome(&self, i: usize, failure: Option<&Failed>) -> bool {
        let mut tracker = lock(&self.tracker);
        match failure {
            None => {
                tracker.answered(i);
                false
            }
            Some(f) if matches!(f.reach, Reach::NotConnected | Reach::NoAnswer) => {
                tracker.failed(i, Instant::now());
                tracing::warn!(url = %self.urls[i], error = %f.error, "ClickHouse host unreachable");
                may_retry(f.reach, self.mode)
            }
            Some(f) => {
                if !matches!(f.error, QueryError::Timeout(_)) {
                    tracker.answered(i);
                }
                false
            }
        }
    }

    /// Runs `attempt` on the hosts of `lane` in turn until one answers.
    async fn run<T, F, Fut>(&self, lane: Lane, attempt: F) -> Result<T, QueryError>
    where
        F: Fn(usize) -> Fut,
        Fut: std::future::Future<Output = Result<T, Failed>>,
    {
        let mut errors = Vec::new();
        for i in self.order(lane) {
            match attempt(i).await {
                Ok(v) => {
                    self.outcome(i, None);
                    return Ok(v);
                }
                Err(f) => {
                    if !self.outcome(i, Some(&f)) {
                        return Err(f.error);
                    }
                    errors.push((self.urls[i].clone(), f.error));
                }
            }
        }
        Err(all_failed(errors))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// An [`Upstream`] over several servers of one cluster.
#[derive(Debug)]
pub struct Failover {
    shared: Arc<Shared>,
    url: String,
    query_timeout: Duration,
}

impl Failover {
    /// One connection per host of `settings` (`host` first, then `additionalHosts`).
    pub fn new(settings: &Settings) -> Result<Failover, SettingsError> {
        let endpoints =
            std::iter::once(settings.endpoint()).chain(settings.additional_hosts.iter().cloned());
        let mut hosts = Vec::new();
        for e in endpoints {
            hosts.push(Connection::new(&settings.for_endpoint(&e))?);
        }
        let urls: Vec<String> = hosts.iter().map(Upstream::url).collect();
        let mode = hosts[0].mode();
        Ok(Failover {
            url: urls.join(", "),
            query_timeout: settings.query_timeout,
            shared: Arc::new(Shared {
                tracker: Mutex::new(Tracker::new(hosts.len())),
                recent: Mutex::new(Recent::default()),
                hosts,
                urls,
                mode,
            }),
        })
    }
}

/// An ArrowStream body from whichever host answers first; the request is sent on the first read.
struct Source {
    shared: Arc<Shared>,
    sql: String,
    options: RequestOptions,
    cursor: Option<Cursor>,
}

impl Source {
    async fn start(&mut self) -> Result<Option<Bytes>, QueryError> {
        let shared = self.shared.clone();
        let (sql, options) = (&self.sql, &self.options);
        let (cursor, first) = shared
            .run(Lane::Data, |i| {
                lock(&shared.recent).put(&options.query_id, i);
                let conn = &shared.hosts[i];
                async move {
                    let mut cursor = conn.open(sql, options).await?;
                    let first = cursor.next_attempt().await?;
                    Ok((cursor, first))
                }
            })
            .await?;
        self.cursor = Some(cursor);
        Ok(first)
    }
}

impl ChunkSource for Source {
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, QueryError>> {
        Box::pin(async move {
            match &mut self.cursor {
                Some(cursor) => cursor.next_chunk().await,
                None => self.start().await,
            }
        })
    }

    fn received_bytes(&self) -> u64 {
        self.cursor.as_ref().map_or(0, ChunkSource::received_bytes)
    }
}

impl Upstream for Failover {
    fn arrow<'a>(
        &'a self,
        sql: &'a str,
        options: &'a RequestOptions,
    ) -> BoxFuture<'a, Result<ArrowStream, QueryError>> {
        Box::pin(async move {
            let source = Source {
                shared: self.shared.clone(),
                sql: sql.to_owned(),
                options: options.clone(),
                cursor: None,
            };
            Ok(ArrowStream::new(Box::new(source), self.url.clone()))
        })
    }

    fn json_rows<'a>(
        &'a self,
        sql: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Vec<serde_json::Value>>, QueryError>> {
        let shared = &self.shared;
        Box::pin(shared.run(Lane::Meta, move |i| shared.hosts[i].rows(sql)))
    }

    fn kill<'a>(&'a self, query_id: &'a str) -> BoxFuture<'a, Result<(), QueryError>> {
        Box::pin(async move {
            let known = lock(&self.shared.recent).get(query_id);
            if let Some(i) = known {
                return self.shared.hosts[i].kill(query_id).await;
            }
            // Not remembered: every host is asked; one that knows the id is enough.
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..self.shared.hosts.len() {
                let shared = self.shared.clone();
                let id = query_id.to_owned();
                let forwarded = crate::forward::current();
                tasks.spawn(crate::forward::scope(forwarded, async move {
                    shared.hosts[i].kill(&id).await
                }));
            }
            let mut last = Ok(());
            while let Some(r) = tasks.join_next().await {
                match r {
                    Ok(Ok(())) => return Ok(()),
                    Ok(Err(e)) => last = Err(e),
                    Err(e) => last = Err(QueryError::Internal(e.to_string())),
                }
            }
            last
        })
    }

    fn url(&self) -> String {
        self.url.clone()
    }

    fn query_timeout(&self) -> Duration {
        self.query_timeout
    }

    fn access(&self) -> BoxFuture<'_, Result<Access, QueryError>> {
        // From the first host that answers; every host probes its own before its queries.
        Box::pin(async move {
            let mut errors = Vec::new();
            for i in self.shared.order(Lane::Meta) {
                match self.shared.hosts[i].access().await {
                    Ok(a) => return Ok(a),
                    Err(e) => errors.push((self.shared.urls[i].clone(), e)),
                }
            }
            Err(all_failed(errors))
        })
    }

    fn mode(&self) -> QueryMode {
        self.shared.mode
    }

    fn probe_hosts(&self) -> BoxFuture<'_, Vec<HostProbe>> {
        Box::pin(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..self.shared.hosts.len() {
                let shared = self.shared.clone();
                let forwarded = crate::forward::current();
                tasks.spawn(crate::forward::scope(forwarded, async move {
                    let r = shared.hosts[i].rows("SELECT version()").await;
                    shared.outcome(i, r.as_ref().err());
                    (
                        i,
                        r.map(|rows| crate::upstream::first_text(&rows))
                            .map_err(|f| f.error),
                    )
                }));
            }
            let mut out: Vec<Option<HostProbe>> =
                (0..self.shared.hosts.len()).map(|_| None).collect();
            while let Some(r) = tasks.join_next().await {
                if let Ok((i, version)) = r {
                    out[i] = Some(HostProbe {
                        url: self.shared.urls[i].clone(),
                        version,
                    });
                }
            }
            out.into_iter()
                .enumerate()
                .map(|(i, p)| {
                    p.unwrap_or_else(|| HostProbe {
                        url: self.shared.urls[i].clone(),
                        version: Err(QueryError::Internal("the probe task failed".into())),
                    })
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: Instant, secs: f64) -> Instant {
        t + Duration::from_secs_f64(secs)
    }

    #[test]
    fn turns_rotate_over_the_hosts_that_are_up() {
        let t = Instant::now();
        let mut tr = Tracker::new(3);
        let firsts: Vec<usize> = (0..6).map(|_| tr.order(Lane::Data, t)[0]).collect();
        assert_eq!(firsts, [0, 1, 2, 0, 1, 2]);
        // Host 1 down: the other two share the turns evenly, host 1 comes last.
        tr.failed(1, t);
        let orders: Vec<Vec<usize>> = (0..4).map(|_| tr.order(Lane::Data, t)).collect();
        assert_eq!(orders, [[0, 2, 1], [2, 0, 1], [0, 2, 1], [2, 0, 1]]);
    }

    #[test]
    fn data_and_metadata_take_separate_turns() {
        let t = Instant::now();
        let mut tr = Tracker::new(2);
        tr.failed(0, t);
        let later = at(t, 100.0); // long since back
        let mut data = Vec::new();
        for _ in 0..4 {
            data.push(tr.order(Lane::Data, later)[0]);
            tr.order(Lane::Meta, later);
        }
        assert_eq!(data, [0, 1, 0, 1]);
    }

    #[test]
    fn a_failed_host_is_back_after_a_backoff_that_doubles_and_is_capped() {
        let t = Instant::now();
        let mut tr = Tracker::new(2);
        tr.failed(0, t);
        assert!(!tr.is_up(0, at(t, 0.9)));
        assert!(tr.is_up(0, at(t, 1.0)));
        tr.failed(0, at(t, 1.0));
        assert!(!tr.is_up(0, at(t, 2.9)));
        assert!(tr.is_up(0, at(t, 3.0)));
        for _ in 0..40 {
            tr.failed(0, t);
        }
        assert!(!tr.is_up(0, at(t, 29.9)));
        assert!(tr.is_up(0, at(t, 30.0)));
        // An answer forgets the back-off at once.
        tr.answered(0);
        assert!(tr.is_up(0, t));
        tr.failed(0, t);
        assert!(tr.is_up(0, at(t, 1.0)), "the back-off starts again at 1 s");
    }

    #[test]
    fn when_every_host_is_down_all_are_tried_soonest_back_first() {
        let t = Instant::now();
        let mut tr = Tracker::new(3);
        tr.failed(2, t);
        tr.failed(0, at(t, 0.5));
        tr.failed(1, t);
        tr.failed(1, t);
        assert_eq!(tr.order(Lane::Data, at(t, 0.1)), [2, 0, 1]);
    }

    #[test]
    fn only_requests_without_an_answer_are_retried() {
        for mode in [
            QueryMode::ReadOnly,
            QueryMode::ReadOnlySettings,
            QueryMode::Writes,
        ] {
            assert!(may_retry(Reach::NotConnected, mode));
            assert!(!may_retry(Reach::Answered, mode));
        }
        assert!(may_retry(Reach::NoAnswer, QueryMode::ReadOnly));
        assert!(
            !may_retry(Reach::NoAnswer, QueryMode::Writes),
            "a write that was sent may have run"
        );
    }

    #[test]
    fn remembered_query_ids_stay_bounded_and_follow_retries() {
        let mut r = Recent::default();
        r.put("q0", 0);
        r.put("q0", 2);
        assert_eq!(r.get("q0"), Some(2));
        r.put("", 1);
        assert_eq!(r.hosts.len(), 1);
        for i in 0..REMEMBERED_QUERIES * 2 {
            r.put(&format!("q{}", i + 1), i % 3);
            assert!(r.hosts.len() <= REMEMBERED_QUERIES && r.order.len() == r.hosts.len());
        }
        assert_eq!(r.get("q0"), None, "the oldest id is forgotten");
        assert_eq!(
            r.get(&format!("q{}", REMEMBERED_QUERIES * 2)),
            Some((REMEMBERED_QUERIES * 2 - 1) % 3)
        );
    }

    #[test]
    fn when_no_host_answers_each_hosts_error_is_reported() {
        let net = |u: &str| QueryError::Network {
            url: u.into(),
            message: "connection refused".into(),
        };
        let e = all_failed(vec![("http://a".into(), net("http://a"))]);
        assert!(matches!(&e, QueryError::Network { url, .. } if url == "http://a"));
        let e = all_failed(vec![
            (
                "http://a".into(),
                QueryError::Tls {
                    url: "http://a".into(),
                    message: "bad certificate".into(),
                },
            ),
            ("http://b".into(), net("http://b")),
        ]);
        assert!(matches!(e, QueryError::Tls { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "TLS error talking to any of 2 hosts: http://a: bad certificate; http://b: connection refused"
        );
    }

    #[test]
    fn every_host_gets_the_shared_settings_and_its_own_address() {
        let json = br#"{"host":"a","port":9000,"additionalHosts":["b","https://c:8443/x"]}"#;
        let s = Settings::from_instance(&crate::settings::InstanceInput {
            json_data: json,
            ..Default::default()
        })
        .unwrap();
        let f = Failover::new(&s).unwrap();
        assert_eq!(f.url(), "http://a:9000, http://b:9000, https://c:8443/x");
        assert_eq!(f.mode(), QueryMode::ReadOnly);
    }

    /// Engine-free servers that fail in each way a request can, for the retry decisions.
    mod wire {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        /// How a server answers everything but the access probe.
        #[derive(Clone, Copy, Debug)]
        pub(super) enum Reply {
            /// Reads the request and closes the connection: no status.
            Hangup,
            /// 200 and the first bytes of an Arrow stream, then the connection closes.
            CutBody,
            /// A ClickHouse exception.
            Exception,
            /// One JSON row.
            Rows,
        }

        /// A server on a loopback port; counts the requests other than the access probe.
        pub(super) struct Server {
            pub(super) port: u16,
            pub(super) requests: Arc<AtomicUsize>,
            pub(super) kills: Arc<AtomicUsize>,
        }

        impl Server {
            pub(super) fn requests(&self) -> usize {
                self.requests.load(Ordering::SeqCst)
            }
            pub(super) fn kills(&self) -> usize {
                self.kills.load(Ordering::SeqCst)
            }
        }

        /// A port nothing listens on.
        pub(super) async fn dead_port() -> u16 {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        }

        async fn read_request(sock: &mut tokio::net::TcpStream) -> String {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let text = String::from_utf8_lossy(&buf).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        return text;
                    }
                }
                match sock.read(&mut chunk).await {
                    Ok(0) | Err(_) => return text,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        }

        pub(super) async fn serve(reply: Reply) -> Server {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let requests = Arc::new(AtomicUsize::new(0));
            let kills = Arc::new(AtomicUsize::new(0));
            let (r, k) = (requests.clone(), kills.clone());
            tokio::spawn(async move {
                while let Ok((mut sock, _)) = listener.accept().await {
                    let (r, k) = (r.clone(), k.clone());
                    tokio::spawn(async move {
                        let req = read_request(&mut sock).await;
                        const ROW: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\n[0]\n";
                        let resp: &[u8] = if req.contains("getSetting") {
                            ROW
                        } else if req.contains("KILL") {
                            k.fetch_add(1, Ordering::SeqCst);
                            ROW
                        } else {
                            r.fetch_add(1, Ordering::SeqCst);
                            match reply {
                                Reply::Rows => ROW,
                                Reply::Hangup => b"",
                                Reply::CutBody => b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n\xff\xff\xff\xff",
                                Reply::Exception => b"HTTP/1.1 404 Not Found\r\nX-ClickHouse-Exception-Code: 60\r\nContent-Length: 56\r\nConnection: close\r\n\r\nCode: 60. DB::Exception: Unknown table. (UNKNOWN_TABLE)\n",
                            }
                        };
                        let _ = sock.write_all(resp).await;
                        let _ = sock.shutdown().await;
                    });
                }
            });
            Server {
                port,
                requests,
                kills,
            }
        }
    }

    use wire::{Reply, dead_port, serve};

    fn settings(ports: &[u16]) -> Settings {
        settings_with(ports, false)
    }

    fn settings_with(ports: &[u16], allow_writes: bool) -> Settings {
        let more: Vec<String> = ports[1..]
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let json = serde_json::json!({"host": "127.0.0.1", "port": ports[0], "additionalHosts": more, "allowWrites": allow_writes});
        let json = json.to_string();
        Settings::from_instance(&crate::settings::InstanceInput {
            json_data: json.as_bytes(),
            ..Default::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn how_far_a_request_got_is_read_from_the_error_type() {
        let reach = |port: u16| async move {
            let conn = Connection::new(&settings(&[port])).unwrap();
            conn.rows("SELECT 1").await.err().map(|f| f.reach)
        };
        assert_eq!(reach(dead_port().await).await, Some(Reach::NotConnected));
        assert_eq!(
            reach(serve(Reply::Hangup).await.port).await,
            Some(Reach::NoAnswer)
        );
        assert_eq!(
            reach(serve(Reply::CutBody).await.port).await,
            Some(Reach::Answered)
        );
        assert_eq!(
            reach(serve(Reply::Exception).await.port).await,
            Some(Reach::Answered)
        );
        assert_eq!(reach(serve(Reply::Rows).await.port).await, None);
    }

    #[tokio::test]
    async fn a_request_moves_on_only_while_no_answer_began() {
        // Refused, then hung up before a status: the third host answers.
        let (hangup, rows) = (serve(Reply::Hangup).await, serve(Reply::Rows).await);
        let f = Failover::new(&settings(&[dead_port().await, hangup.port, rows.port])).unwrap();
        assert_eq!(
            f.json_rows("SELECT 1").await.unwrap(),
            [[serde_json::json!(0)]]
        );
        assert_eq!((hangup.requests(), rows.requests()), (1, 1));
        let up = |i: usize| lock(&f.shared.tracker).is_up(i, Instant::now());
        assert_eq!((up(0), up(1), up(2)), (false, false, true));

        // An exception is the answer: the next host is not asked.
        let (exception, rows) = (serve(Reply::Exception).await, serve(Reply::Rows).await);
        let f = Failover::new(&settings(&[exception.port, rows.port])).unwrap();
        let e = f.json_rows("SELECT 1").await.unwrap_err();
        assert_eq!(e.exception_code(), Some(60), "{e}");
        assert_eq!((exception.requests(), rows.requests()), (1, 0));

        // A data query whose answer broke after its first bytes fails; the next host is not asked.
        let (cut, rows) = (serve(Reply::CutBody).await, serve(Reply::Rows).await);
        let f = Failover::new(&settings(&[cut.port, rows.port])).unwrap();
        let opts = RequestOptions::default();
        let mut stream = f.arrow("SELECT 1", &opts).await.unwrap();
        let e = loop {
            match stream.next_batch().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("a cut answer ended cleanly"),
                Err(e) => break e,
            }
        };
        assert!(matches!(e, QueryError::Network { .. }), "{e:?}");
        assert_eq!((cut.requests(), rows.requests()), (1, 0));
    }

    #[tokio::test]
    async fn a_kill_goes_to_the_host_that_ran_the_query() {
        let (a, b) = (serve(Reply::Rows).await, serve(Reply::Rows).await);
        let f = Failover::new(&settings(&[dead_port().await, a.port, b.port])).unwrap();
        let opts = RequestOptions {
            query_id: "q-1".into(),
            ..Default::default()
        };
        let mut stream = f.arrow("SELECT 1", &opts).await.unwrap();
        let _ = stream.next_batch().await; // JSON is not Arrow: the host still ran it
        let ran_on_a = a.requests() == 1;
        assert_eq!(a.requests() + b.requests(), 1);
        f.kill("q-1").await.unwrap();
        assert_eq!(
            (a.kills(), b.kills()),
            if ran_on_a { (1, 0) } else { (0, 1) }
        );
        // An id no longer known goes to every host that answers.
        f.kill("q-unknown").await.unwrap();
        assert!(a.kills() + b.kills() >= 2);
    }

    #[tokio::test]
    async fn with_writes_allowed_a_request_that_left_is_not_sent_again() {
        let (hangup, rows) = (serve(Reply::Hangup).await, serve(Reply::Rows).await);
        let f = Failover::new(&settings_with(&[hangup.port, rows.port], true)).unwrap();
        assert_eq!(f.mode(), QueryMode::Writes);
        let e = f.json_rows("SELECT 1").await.unwrap_err();
        assert!(matches!(e, QueryError::Network { .. }), "{e:?}");
        assert_eq!((hangup.requests(), rows.requests()), (1, 0));
        // A host that refuses connections never got the request: the next one is asked.
        let rows = serve(Reply::Rows).await;
        let f = Failover::new(&settings_with(&[dead_port().await, rows.port], true)).unwrap();
        assert!(f.json_rows("SELECT 1").await.is_ok());
    }
}
