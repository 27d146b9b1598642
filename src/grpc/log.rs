//! Logs in the form Grafana's plugin host reads: hclog JSON lines on stderr.
//!
//! go-plugin reads the plugin's stderr line by line; a JSON object with `@level`, `@message` and
//! `@timestamp` (`2006-01-02T15:04:05.000000Z07:00`) is logged into Grafana's log at that level,
//! other keys becoming key/value pairs. This `tracing` layer writes exactly that. The level comes
//! from `GF_PLUGIN_LOG_LEVEL` (or `LANTERN_LOG`), default `info`. Secrets never reach a log line:
//! settings are logged only through their redacting `Debug`.

use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, Registry};

use crate::frames::json::write_str;

struct HclogLayer {
    max: Level,
}

struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.rest.push(',');
            write_str(&mut self.rest, field.name());
            self.rest.push(':');
            write_str(&mut self.rest, value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        let _ = write!(self.rest, ",\"{}\":{value}", field.name());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let _ = write!(self.rest, ",\"{}\":{value}", field.name());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        let _ = write!(self.rest, ",\"{}\":{value:.3}", field.name());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        let _ = write!(self.rest, ",\"{}\":{value}", field.name());
    }
}

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn enabled(&self, metadata: &tracing::Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        *metadata.level() <= self.max && metadata.target().starts_with("lantern")
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields {
            message: String::new(),
            rest: String::new(),
        };
        event.record(&mut fields);
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warn",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        let mut line = String::with_capacity(128 + fields.rest.len());
        line.push_str("{\"@level\":\"");
        line.push_str(level);
        line.push_str("\",\"@message\":");
        write_str(&mut line, &fields.message);
        line.push_str(",\"@timestamp\":\"");
        line.push_str(&timestamp());
        line.push_str("\",\"@module\":\"lantern\"");
        line.push_str(&fields.rest);
        line.push_str("}\n");
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// `2006-01-02T15:04:05.000000Z` for now.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (y, m, d) = crate::frames::scalar::civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        now.subsec_micros()
    )
}

/// Installs the layer as the global subscriber.
pub(crate) fn init() {
    let level = std::env::var("GF_PLUGIN_LOG_LEVEL")
        .or_else(|_| std::env::var("LANTERN_LOG"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let max = match level.as_str() {
        "trace" => Level::TRACE,
        "debug" => Level::DEBUG,
        "warn" | "warning" => Level::WARN,
        "error" => Level::ERROR,
        _ => Level::INFO,
    };
    let _ = tracing::subscriber::set_global_default(Registry::default().with(HclogLayer { max }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_has_hclog_shape() {
        let t = timestamp();
        assert_eq!(t.len(), "2006-01-02T15:04:05.000000Z".len(), "{t}");
        assert_eq!(&t[10..11], "T");
        assert!(t.ends_with('Z'));
    }
}
