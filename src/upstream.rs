//! The seam between the query path and a ClickHouse server: the [`Upstream`] trait.
//!
//! Everything the service, planner and resources ask of a server goes through this trait: a
//! result as an Arrow stream, small metadata queries as JSON rows, a `DESCRIBE` of a query, and
//! `KILL QUERY` by id. [`crate::clickhouse::Connection`] implements it over HTTP(S);
//! [`fake::FakeUpstream`] serves canned ArrowStream bytes and records the SQL it was sent, so the
//! query flow (cancellation, timeouts, mid-stream exceptions, invalid UTF-8, caps) is tested
//! without an engine.
//!
//! [`ArrowStream`] decodes any source of byte chunks incrementally with arrow-ipc's
//! `StreamDecoder`. The first bytes must be an Arrow IPC message (ClickHouse's ArrowStream always
//! starts with the `0xFFFFFFFF` continuation marker): anything else means something other than
//! ClickHouse answered, a downstream 502, never our own decode failure.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_schema::SchemaRef;
use bytes::Bytes;

use crate::chtype::ChType;
use crate::error::QueryError;

/// A boxed, sendable future (the trait is used as `dyn Upstream`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What one request to the server carries besides its SQL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// ClickHouse `query_id` (empty: the server picks one).
    pub query_id: String,
    /// Settings sent with this request only (after the datasource's own).
    pub settings: Vec<(String, String)>,
}

/// What a user's settings profile allows, from its `readonly` level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// readonly=0: Lantern sends its own read-only level and every setting.
    Free,
    /// readonly=2: settings may change, writes are refused by the profile.
    SettingsAllowed,
    /// readonly=1: no setting may be sent; the profile keeps queries read-only.
    Locked,
}

impl Access {
    /// The access of a profile with this `readonly` level.
    pub fn from_profile(level: u64) -> Access {
        match level {
            0 => Access::Free,
            1 => Access::Locked,
            _ => Access::SettingsAllowed,
        }
    }
}

/// What Lantern asks of the server for the queries of a datasource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryMode {
    /// `readonly=1` with the datasource's settings: no writes, no setting changes in queries.
    ReadOnly,
    /// `readonly=2` (`allowQuerySettings`): queries may change settings. Weaker: ClickHouse 26.9
    /// runs `INSERT INTO FUNCTION file()` under readonly=2.
    ReadOnlySettings,
    /// `allowWrites`: nothing is asked; the user's grants decide.
    Writes,
}

/// A ClickHouse server as the query path sees it.
pub trait Upstream: Send + Sync + std::fmt::Debug {
    /// Starts `sql` with `FORMAT ArrowStream`; returns once the server answered with a status.
    fn arrow<'a>(
        &'a self,
        sql: &'a str,
        options: &'a RequestOptions,
    ) -> BoxFuture<'a, Result<ArrowStream, QueryError>>;

    /// Runs a small metadata query and returns its rows as JSON arrays.
    fn json_rows<'a>(
        &'a self,
        sql: &'a str,
    ) -> BoxFuture<'a, Result<Vec<Vec<serde_json::Value>>, QueryError>>;

    /// Asks the server to stop the query with this id (`KILL QUERY … ASYNC`); best effort.
    fn kill<'a>(&'a self, query_id: &'a str) -> BoxFuture<'a, Result<(), QueryError>>;

    /// The server URL(s), without credentials, for logs and messages.
    fn url(&self) -> String;

    /// The per-query timeout (`queryTimeout`).
    fn query_timeout(&self) -> Duration;

    /// What the user's settings profile allows (probed once).
    fn access(&self) -> BoxFuture<'_, Result<Access, QueryError>>;

    /// The read-only mode Lantern asks for.
    fn mode(&self) -> QueryMode;

    /// The result column types of `sql`, from `DESCRIBE TABLE (sql)`.
    fn describe<'a>(
        &'a self,
        sql: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, ChType)>, QueryError>> {
        Box::pin(async move {
            let rows = self.json_rows(&crate::sql::describe_query(sql)).await?;
            Ok(rows
                .into_iter()
                .filter_map(|row| {
                    let name = row.first()?.as_str()?.to_owned();
                    let ty = row.get(1)?.as_str()?;
                    Some((name, ChType::parse(ty)))
                })
                .collect())
        })
    }
}

/// Where an [`ArrowStream`]'s bytes come from.
pub trait ChunkSource: Send {
    /// The next chunk of the body, `None` at its end. Mid-stream server exceptions are errors.
    fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, QueryError>>;
    /// Bytes received so far (on the wire).
    fn received_bytes(&self) -> u64;
}

/// A running ArrowStream result, decoded as bytes arrive.
pub struct ArrowStream {
    source: Box<dyn ChunkSource>,
    decoder: StreamDecoder,
    buf: Buffer,
    url: String,
    started: bool,
    finished: bool,
}

/// The Arrow IPC continuation marker every ArrowStream message starts with.
const CONTINUATION: [u8; 4] = [0xFF; 4];

impl ArrowStream {
    /// A stream over `source`; `url` names the server in errors.
    pub fn new(source: Box<dyn ChunkSource>, url: String) -> ArrowStream {
        ArrowStream {
            source,
            decoder: StreamDecoder::new(),
            buf: Buffer::from(Vec::<u8>::new()),
            url,
            started: false,
            finished: false,
        }
    }

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
            match self.source.next_chunk().await? {
                Some(chunk) if chunk.is_empty() => {}
                Some(chunk) => {
                    if !self.started {
                        self.started = true;
                        self.check_first_bytes(&chunk)?;
                    }
                    self.buf = Buffer::from(chunk);
                }
                None => {
                    self.decoder
                        .finish()
                        .map_err(|e| QueryError::Decode(e.to_string()))?;
                    self.finished = true;
                    return Ok(None);
                }
            }
        }
    }

    /// An answer that does not start like an Arrow IPC stream is not ClickHouse's.
    fn check_first_bytes(&self, chunk: &[u8]) -> Result<(), QueryError> {
        let n = chunk.len().min(4);
        if chunk[..n] == CONTINUATION[..n] {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&chunk[..chunk.len().min(200)]);
        Err(QueryError::BadResponse {
            url: self.url.clone(),
            message: format!(
                "expected ClickHouse's ArrowStream, got {:?}: is this ClickHouse's HTTP interface (check host, port and path)?",
                text.trim()
            ),
        })
    }

    /// The result schema, once the first message has been decoded.
    pub fn schema(&self) -> Option<SchemaRef> {
        self.decoder.schema()
    }

    /// Bytes received so far (compressed size on the wire).
    pub fn received_bytes(&self) -> u64 {
        self.source.received_bytes()
    }

    /// True once the whole result has been read.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

pub mod fake {
    //! A test double of [`Upstream`]: answers are canned by a predicate on the SQL, every request
    //! is recorded (SQL, options, kills), and an answer can stall, fail mid-stream or never end,
    //! so flow tests exercise the service without an engine.

    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use bytes::Bytes;

    use super::{Access, ArrowStream, BoxFuture, ChunkSource, QueryMode, RequestOptions, Upstream};
    use crate::error::QueryError;

    /// One step of a canned body.
    #[derive(Clone, Debug)]
    pub enum Step {
        /// These bytes arrive.
        Bytes(Bytes),
        /// Nothing arrives for this long.
        Wait(Duration),
        /// The server reports an exception mid-stream.
        Fail(String),
        /// The body never ends (until the reader gives up).
        Hang,
    }

    /// A canned answer.
    #[derive(Clone, Debug)]
    pub enum Answer {
        /// A 200 answer whose body follows these steps.
        Body(Vec<Step>),
        /// An error answer (exception text, or any [`QueryError`] text via `parse_exception`).
        Error(String),
        /// JSON rows for [`Upstream::json_rows`].
        Rows(Vec<Vec<serde_json::Value>>),
    }

    /// What the fake was asked.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Request {
        /// An ArrowStream query.
        Arrow(String, RequestOptions),
        /// A metadata query.
        Rows(String),
        /// A `KILL QUERY` by id.
        Kill(String),
    }

    type Matcher = Box<dyn Fn(&str, &RequestOptions) -> bool + Send + Sync>;

    /// The fake server.
    #[derive(Default)]
    pub struct FakeUpstream {
        answers: Mutex<Vec<(Matcher, Answer)>>,
        log: Arc<Mutex<Vec<Request>>>,
        /// Body steps still to be served, shared with open streams, for `finished` checks.
        open: Arc<Mutex<usize>>,
        timeout: Option<Duration>,
    }

    impl std::fmt::Debug for FakeUpstream {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("FakeUpstream").finish_non_exhaustive()
        }
    }

    impl FakeUpstream {
        /// A fake with a query timeout.
        pub fn new(timeout: Duration) -> FakeUpstream {
            FakeUpstream {
                timeout: Some(timeout),
                ..Default::default()
            }
        }

        /// Answers queries whose SQL contains `needle` (first match wins, in order added).
        pub fn on(&self, needle: &str, answer: Answer) -> &Self {
            let needle = needle.to_owned();
            self.on_request(move |sql, _| sql.contains(&needle), answer)
        }

        /// Answers requests `matches` accepts (SQL and options).
        pub fn on_request(
            &self,
            matches: impl Fn(&str, &RequestOptions) -> bool + Send + Sync + 'static,
            answer: Answer,
        ) -> &Self {
            self.answers
                .lock()
                .unwrap()
                .push((Box::new(matches), answer));
            self
        }

        /// Everything asked so far.
        pub fn requests(&self) -> Vec<Request> {
            self.log.lock().unwrap().clone()
        }

        /// Bodies being read right now (a dropped stream closes its body).
        pub fn open_bodies(&self) -> usize {
            *self.open.lock().unwrap()
        }

        fn answer(&self, sql: &str, options: &RequestOptions) -> Answer {
            self.answers
                .lock()
                .unwrap()
                .iter()
                .find(|(m, _)| m(sql, options))
                .map(|(_, a)| a.clone())
                .unwrap_or_else(|| {
                    Answer::Error(format!(
                        "Code: 60. DB::Exception: the fake has no answer for {sql:?}. (UNKNOWN_TABLE)"
                    ))
                })
        }
    }

    fn error(text: &str) -> QueryError {
        crate::error::parse_exception(text).unwrap_or_else(|| QueryError::BadResponse {
            url: "fake://".into(),
            message: text.to_owned(),
        })
    }

    struct Body {
        steps: VecDeque<Step>,
        received: u64,
        open: Arc<Mutex<usize>>,
    }

    impl Drop for Body {
        fn drop(&mut self) {
            *self.open.lock().unwrap() -= 1;
        }
    }

    impl ChunkSource for Body {
        fn next_chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, QueryError>> {
            Box::pin(async move {
                loop {
                    match self.steps.pop_front() {
                        None => return Ok(None),
                        Some(Step::Bytes(b)) => {
                            self.received += b.len() as u64;
                            return Ok(Some(b));
                        }
                        Some(Step::Wait(d)) => tokio::time::sleep(d).await,
                        Some(Step::Fail(text)) => return Err(error(&text)),
                        Some(Step::Hang) => std::future::pending::<()>().await,
                    }
                }
            })
        }

        fn received_bytes(&self) -> u64 {
            self.received
        }
    }

    impl Upstream for FakeUpstream {
        fn arrow<'a>(
            &'a self,
            sql: &'a str,
            options: &'a RequestOptions,
        ) -> BoxFuture<'a, Result<ArrowStream, QueryError>> {
            Box::pin(async move {
                self.log
                    .lock()
                    .unwrap()
                    .push(Request::Arrow(sql.to_owned(), options.clone()));
                match self.answer(sql, options) {
                    Answer::Body(steps) => {
                        *self.open.lock().unwrap() += 1;
                        let body = Body {
                            steps: steps.into(),
                            received: 0,
                            open: self.open.clone(),
                        };
                        Ok(ArrowStream::new(Box::new(body), "fake://".into()))
                    }
                    Answer::Error(text) => Err(error(&text)),
                    Answer::Rows(_) => Err(QueryError::Internal(
                        "the fake answers this SQL with rows, not a stream".into(),
                    )),
                }
            })
        }

        fn json_rows<'a>(
            &'a self,
            sql: &'a str,
        ) -> BoxFuture<'a, Result<Vec<Vec<serde_json::Value>>, QueryError>> {
            Box::pin(async move {
                self.log.lock().unwrap().push(Request::Rows(sql.to_owned()));
                match self.answer(sql, &RequestOptions::default()) {
                    Answer::Rows(rows) => Ok(rows),
                    Answer::Error(text) => Err(error(&text)),
                    Answer::Body(_) => Err(QueryError::Internal(
                        "the fake answers this SQL with a stream, not rows".into(),
                    )),
                }
            })
        }

        fn kill<'a>(&'a self, query_id: &'a str) -> BoxFuture<'a, Result<(), QueryError>> {
            Box::pin(async move {
                self.log
                    .lock()
                    .unwrap()
                    .push(Request::Kill(query_id.to_owned()));
                Ok(())
            })
        }

        fn url(&self) -> String {
            "fake://".into()
        }

        fn query_timeout(&self) -> Duration {
            self.timeout.unwrap_or(Duration::from_secs(60))
        }

        fn access(&self) -> BoxFuture<'_, Result<Access, QueryError>> {
            Box::pin(async { Ok(Access::Free) })
        }

        fn mode(&self) -> QueryMode {
            QueryMode::ReadOnly
        }
    }

    /// An ArrowStream body (IPC stream bytes) for `batches`, split into chunks of `chunk` bytes.
    pub fn arrow_body(batches: &[arrow_array::RecordBatch], chunk: usize) -> Vec<Step> {
        let mut out = Vec::new();
        if let Some(first) = batches.first() {
            let mut w =
                arrow_ipc::writer::StreamWriter::try_new(&mut out, &first.schema()).unwrap();
            for b in batches {
                w.write(b).unwrap();
            }
            w.finish().unwrap();
        }
        out.chunks(chunk.max(1))
            .map(|c| Step::Bytes(Bytes::copy_from_slice(c)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::fake::{Answer, FakeUpstream, Step, arrow_body};
    use super::*;
    use arrow_array::{Int64Array, RecordBatch};
    use std::sync::Arc;

    fn batch(n: i64) -> RecordBatch {
        RecordBatch::try_from_iter([(
            "n",
            Arc::new(Int64Array::from_iter_values(0..n)) as arrow_array::ArrayRef,
        )])
        .unwrap()
    }

    #[tokio::test]
    async fn a_stream_split_anywhere_decodes_to_the_same_batches() {
        for chunk in [1, 7, 64, 1 << 20] {
            let fake = FakeUpstream::default();
            fake.on(
                "SELECT",
                Answer::Body(arrow_body(&[batch(3), batch(5)], chunk)),
            );
            let opts = RequestOptions::default();
            let mut s = fake.arrow("SELECT n", &opts).await.unwrap();
            let mut rows = Vec::new();
            while let Some(b) = s.next_batch().await.unwrap() {
                rows.push(b.num_rows());
            }
            assert_eq!(rows, [3, 5], "chunk size {chunk}");
            assert!(s.is_finished());
        }
    }

    #[tokio::test]
    async fn a_web_page_is_a_bad_response_not_a_decode_error() {
        let fake = FakeUpstream::default();
        fake.on(
            "SELECT",
            Answer::Body(vec![Step::Bytes(Bytes::from_static(
                b"<html><body>It works!</body></html>",
            ))]),
        );
        let opts = RequestOptions::default();
        let mut s = fake.arrow("SELECT 1", &opts).await.unwrap();
        let e = s.next_batch().await.unwrap_err();
        assert!(matches!(e, QueryError::BadResponse { .. }), "{e:?}");
        assert_eq!(e.status(), 502);
        assert!(e.to_string().contains("It works!"), "{e}");
    }

    #[tokio::test]
    async fn an_exception_after_data_is_the_queries_error() {
        let fake = FakeUpstream::default();
        let mut steps = arrow_body(&[batch(3)], 1 << 20);
        steps.truncate(1);
        steps.push(Step::Fail(
            "Code: 241. DB::Exception: Memory limit exceeded. (MEMORY_LIMIT_EXCEEDED)".into(),
        ));
        fake.on("SELECT", Answer::Body(steps));
        let opts = RequestOptions::default();
        let mut s = fake.arrow("SELECT 1", &opts).await.unwrap();
        let e = loop {
            match s.next_batch().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the exception was lost"),
                Err(e) => break e,
            }
        };
        assert_eq!(e.exception_code(), Some(241));
    }
}
