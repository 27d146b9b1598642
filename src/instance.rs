//! A datasource instance and what lives as long as it: validated settings, the server it talks
//! to (an [`Upstream`]), and its caches (table schemas, result types of query texts).
//!
//! Instances are built once per settings version (`(uid, lastUpdatedMS)`) and shared by every
//! request of that datasource; [`Plugin`] holds them, and the plugin-wide limit on queries that
//! run at once (a request over the limit waits its turn, inside its own timeout).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::chtype::ChType;
use crate::clickhouse::Connection;
use crate::settings::{InstanceInput, Settings, SettingsError};
use crate::upstream::Upstream;

/// One datasource instance: settings, a server and caches.
#[derive(Debug)]
pub struct Instance {
    /// Validated settings.
    pub settings: Settings,
    /// The ClickHouse server(s).
    pub connection: Arc<dyn Upstream>,
    /// Table schemas read for logs/traces queries, by (database, table), with when they were read.
    pub schemas: Mutex<SchemaCache>,
    /// Result column types by SQL text (DESCRIBE), bounded.
    pub described: Mutex<DescribeCache>,
}

/// Table schemas by (database, table), with when they were read.
pub type SchemaCache = HashMap<(String, String), (Instant, Arc<crate::otel::TableSchema>)>;

/// How long a DESCRIBE answer is trusted: a table's columns rarely change, and a stale answer
/// only affects how a column is labelled until it expires.
const DESCRIBE_TTL: Duration = Duration::from_secs(300);
/// At most this many query texts are remembered per instance.
const DESCRIBE_ENTRIES: usize = 512;

/// A query's result columns: names and ClickHouse types.
pub type Described = Arc<Vec<(String, ChType)>>;

/// The result column types of query texts, as DESCRIBE gave them.
#[derive(Debug, Default)]
pub struct DescribeCache {
    entries: HashMap<String, (Instant, Described)>,
}

impl DescribeCache {
    /// The cached types of `sql`, if fresh.
    pub fn get(&self, sql: &str) -> Option<Described> {
        self.entries
            .get(sql)
            .filter(|(at, _)| at.elapsed() < DESCRIBE_TTL)
            .map(|(_, t)| t.clone())
    }

    /// Remembers the types of `sql`; when full, expired entries go first, then everything.
    pub fn put(&mut self, sql: &str, types: Described) {
        if self.entries.len() >= DESCRIBE_ENTRIES {
            self.entries
                .retain(|_, (at, _)| at.elapsed() < DESCRIBE_TTL);
            if self.entries.len() >= DESCRIBE_ENTRIES {
                self.entries.clear();
            }
        }
        self.entries.insert(sql.to_owned(), (Instant::now(), types));
    }
}

impl Instance {
    /// An instance over any upstream (the fake in flow tests).
    pub fn new(settings: Settings, connection: Arc<dyn Upstream>) -> Instance {
        Instance {
            settings,
            connection,
            schemas: Mutex::new(HashMap::new()),
            described: Mutex::new(DescribeCache::default()),
        }
    }
}

/// The identity of an instance's settings version.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct InstanceKey {
    /// Datasource uid.
    pub uid: String,
    /// Settings version (`lastUpdatedMS`).
    pub updated: i64,
}

/// Queries that run at once across the plugin, unless `LANTERN_MAX_CONCURRENT_QUERIES` says.
const DEFAULT_CONCURRENT_QUERIES: usize = 32;

/// Plugin-wide state shared by the gRPC services.
pub struct Plugin {
    instances: Mutex<HashMap<String, (i64, Arc<Instance>)>>,
    /// Permits for queries running at once; the rest queue.
    pub running: Arc<tokio::sync::Semaphore>,
}

impl Default for Plugin {
    fn default() -> Self {
        let permits = std::env::var("LANTERN_MAX_CONCURRENT_QUERIES")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| (1..=4096).contains(n))
            .unwrap_or(DEFAULT_CONCURRENT_QUERIES);
        Plugin {
            instances: Mutex::new(HashMap::new()),
            running: Arc::new(tokio::sync::Semaphore::new(permits)),
        }
    }
}

impl Plugin {
    /// The instance for these settings, built once per settings version.
    pub fn instance(
        &self,
        key: &InstanceKey,
        input: &InstanceInput<'_>,
    ) -> Result<Arc<Instance>, SettingsError> {
        let mut cache = self.instances.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((updated, inst)) = cache.get(&key.uid)
            && *updated == key.updated
        {
            return Ok(inst.clone());
        }
        let settings = Settings::from_instance(input)?;
        let connection = Connection::new(&settings)?;
        tracing::info!(uid = %key.uid, url = %connection.url(), "datasource instance ready");
        let inst = Arc::new(Instance::new(settings, Arc::new(connection)));
        cache.insert(key.uid.clone(), (key.updated, inst.clone()));
        Ok(inst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_describe_cache_stays_bounded() {
        let mut c = DescribeCache::default();
        for i in 0..(DESCRIBE_ENTRIES * 3) {
            c.put(&format!("SELECT {i}"), Arc::new(vec![]));
            assert!(c.entries.len() <= DESCRIBE_ENTRIES);
        }
        assert!(
            c.get(&format!("SELECT {}", DESCRIBE_ENTRIES * 3 - 1))
                .is_some()
        );
    }
}
