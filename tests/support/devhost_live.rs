//! Grafana Live for the devhost: what Grafana's Live server does for a datasource plugin's
//! channels (`ds/<uid>/<path>`), with Server-Sent Events in place of Centrifuge's WebSocket.
//!
//! | Method | Path | Grafana equivalent |
//! |---|---|---|
//! | POST | `/api/live/subscribe` `{"channel", "data"}` | a Live subscription: `SubscribeStream`, then the channel's `RunStream` |
//! | POST | `/api/live/publish` `{"channel", "data"}` | `POST /api/live/publish` (`PublishStream`) |
//! | GET | `/api/live/list` | the running streams and the ended ones (for tests) |
//!
//! A subscription is refused with the plugin's answer (404 unknown path, 403, 400 with the
//! plugin's reason). Accepted, the answer is `text/event-stream`: the first subscriber of a
//! channel starts `RunStream` with its path and data, later subscribers share that call (one
//! `RunStream` per channel, as in Grafana). Every `StreamPacket` goes to every subscriber as an
//! `event: message` whose data is the packet (a JSON data frame); the end of the call is an
//! `event: end` (the plugin ended it) or `event: error` (refused or failed), with `{"message"}`.
//! A subscriber leaves when its connection closes; when
//! the last one leaves, the `RunStream` call is ended, as Grafana ends it when a channel has no
//! subscribers left.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use grafana_plugin_sdk::pluginv2::{self, DataSourceInstanceSettings};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

use crate::host::Host;

/// How often a subscriber's connection is checked while no packet comes.
const CHECK: Duration = Duration::from_millis(200);

/// What a subscriber receives.
enum Event {
    Packet(Vec<u8>),
    /// The call ended: normally (`Ok`) or not.
    End(Result<String, String>),
}

/// A channel with a running `RunStream` call.
struct Channel {
    /// Tells this run apart from a later run of the same channel.
    run: u64,
    path: String,
    subscribers: Vec<(u64, mpsc::Sender<Event>)>,
    /// Ends the `RunStream` call.
    stop: Option<oneshot::Sender<()>>,
    packets: Arc<AtomicU64>,
}

/// A `RunStream` call that ended.
struct Ended {
    channel: String,
    path: String,
    packets: u64,
    reason: Result<String, String>,
}

/// The devhost's Live server (one per devhost).
pub struct Live {
    rt: Arc<Runtime>,
    host: Arc<Host>,
    ds: Arc<DataSourceInstanceSettings>,
    channels: Mutex<HashMap<String, Channel>>,
    ended: Mutex<Vec<Ended>>,
    next: AtomicU64,
}

/// An HTTP answer that is not a stream: (status, JSON body).
pub type Reply = (u16, Value);

impl Live {
    pub fn new(
        rt: Arc<Runtime>,
        host: Arc<Host>,
        ds: Arc<DataSourceInstanceSettings>,
    ) -> Arc<Live> {
        Arc::new(Live {
            rt,
            host,
            ds,
            channels: Mutex::new(HashMap::new()),
            ended: Mutex::new(Vec::new()),
            next: AtomicU64::new(1),
        })
    }

    /// The plugin path of `channel` (`ds/<uid>/<path>` of this devhost's datasource).
    fn path<'c>(&self, channel: &'c str) -> Result<&'c str, Reply> {
        channel
            .strip_prefix("ds/")
            .and_then(|rest| rest.strip_prefix(self.ds.uid.as_str()))
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                (
                    404,
                    json!({"message": format!("unknown channel {channel:?}: datasource channels are ds/{}/<path>", self.ds.uid)}),
                )
            })
    }

    /// `{"channel", "data"}` of a subscribe or publish body.
    fn request(body: &[u8]) -> Result<(String, Value), Reply> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| (400, json!({"message": format!("body must be JSON: {e}")})))?;
        let channel = v["channel"]
            .as_str()
            .ok_or_else(|| (400, json!({"message": "body needs a channel (string)"})))?;
        Ok((
            channel.to_owned(),
            v.get("data").cloned().unwrap_or(Value::Null),
        ))
    }

    /// `POST /api/live/subscribe`: answers on `stream` until the subscriber leaves or the
    /// channel's stream ends.
    pub fn subscribe(self: &Arc<Self>, mut stream: TcpStream, body: &[u8]) -> std::io::Result<()> {
        use pluginv2::subscribe_stream_response::Status as S;
        let checked = Self::request(body).and_then(|(channel, data)| {
            let path = self.path(&channel)?.to_owned();
            match self
                .rt
                .block_on(self.host.subscribe_stream(&self.ds, &path, &data))
            {
                Ok(s) if s == S::Ok as i32 => Ok((channel, path, data)),
                Ok(s) if s == S::PermissionDenied as i32 => Err((
                    403,
                    json!({"message": "the plugin refused the subscription"}),
                )),
                Ok(_) => Err((
                    404,
                    json!({"message": format!("the plugin has no channel {path:?}")}),
                )),
                Err(status) => Err((400, json!({"message": status.message()}))),
            }
        });
        let (channel, path, data) = match checked {
            Ok(c) => c,
            Err(reply) => return write_json(&mut stream, reply),
        };
        eprintln!("devhost: live subscription to {channel}");
        let (id, rx) = self.join(&channel, &path, data);
        let served = serve_events(&mut stream, &rx);
        self.leave(&channel, id);
        served
    }

    /// Adds a subscriber to `channel`, starting its `RunStream` call if it has none.
    fn join(
        self: &Arc<Self>,
        channel: &str,
        path: &str,
        data: Value,
    ) -> (u64, mpsc::Receiver<Event>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        let mut channels = self.channels.lock().unwrap();
        if let Some(c) = channels.get_mut(channel) {
            c.subscribers.push((id, tx));
            return (id, rx);
        }
        let (stop, stopped) = oneshot::channel();
        let packets = Arc::new(AtomicU64::new(0));
        channels.insert(
            channel.to_owned(),
            Channel {
                run: id,
                path: path.to_owned(),
                subscribers: vec![(id, tx)],
                stop: Some(stop),
                packets: packets.clone(),
            },
        );
        let live = self.clone();
        let (channel, path) = (channel.to_owned(), path.to_owned());
        self.rt.spawn(async move {
            let reason = live
                .run_stream(&channel, &path, &data, id, stopped, &packets)
                .await;
            live.finish(&channel, &path, id, reason, packets.load(Ordering::Relaxed));
        });
        (id, rx)
    }

    /// Runs one `RunStream` call until it ends or `stop` fires; returns why it ended (an error
    /// when the plugin refused or failed it). The call is dropped (cancelled) on return.
    async fn run_stream(
        &self,
        channel: &str,
        path: &str,
        data: &Value,
        run: u64,
        mut stop: oneshot::Receiver<()>,
        packets: &AtomicU64,
    ) -> Result<String, String> {
        let mut call = self
            .host
            .run_stream(&self.ds, path, data)
            .await
            .map_err(|status| format!("RunStream refused: {}", status.message()))?;
        loop {
            tokio::select! {
                _ = &mut stop => return Ok("the last subscriber left".to_owned()),
                m = call.message() => match m {
                    Ok(Some(packet)) => {
                        packets.fetch_add(1, Ordering::Relaxed);
                        self.broadcast(channel, run, packet.data);
                    }
                    Ok(None) => return Ok("the plugin ended the stream".to_owned()),
                    Err(status) => return Err(format!("the stream failed: {}", status.message())),
                },
            }
        }
    }

    fn broadcast(&self, channel: &str, run: u64, data: Vec<u8>) {
        let mut channels = self.channels.lock().unwrap();
        if let Some(c) = channels.get_mut(channel).filter(|c| c.run == run) {
            c.subscribers
                .retain(|(_, tx)| tx.send(Event::Packet(data.clone())).is_ok());
        }
    }

    /// Records the end of a run; subscribers still there get the reason.
    fn finish(
        &self,
        channel: &str,
        path: &str,
        run: u64,
        reason: Result<String, String>,
        packets: u64,
    ) {
        let mut channels = self.channels.lock().unwrap();
        if channels.get(channel).is_some_and(|c| c.run == run)
            && let Some(c) = channels.remove(channel)
        {
            for (_, tx) in c.subscribers {
                let _ = tx.send(Event::End(reason.clone()));
            }
        }
        drop(channels);
        let (Ok(why) | Err(why)) = &reason;
        eprintln!("devhost: live stream {channel} ended: {why} ({packets} packets)");
        self.ended.lock().unwrap().push(Ended {
            channel: channel.to_owned(),
            path: path.to_owned(),
            packets,
            reason,
        });
    }

    /// Removes a subscriber; the last one out ends the channel's `RunStream` call.
    fn leave(&self, channel: &str, id: u64) {
        let mut channels = self.channels.lock().unwrap();
        let Some(c) = channels.get_mut(channel) else {
            return;
        };
        c.subscribers.retain(|(s, _)| *s != id);
        if c.subscribers.is_empty()
            && let Some(mut c) = channels.remove(channel)
            && let Some(stop) = c.stop.take()
        {
            let _ = stop.send(());
        }
    }

    /// `POST /api/live/publish`: the plugin's `PublishStream` answer.
    pub fn publish(&self, body: &[u8]) -> Reply {
        use pluginv2::publish_stream_response::Status as S;
        let (channel, data) = match Self::request(body) {
            Ok(r) => r,
            Err(reply) => return reply,
        };
        let path = match self.path(&channel) {
            Ok(p) => p,
            Err(reply) => return reply,
        };
        let status = self
            .rt
            .block_on(self.host.publish_stream(&self.ds, path, &data));
        match status {
            s if s == S::Ok as i32 => (200, json!({})),
            s if s == S::PermissionDenied as i32 => (
                403,
                json!({"message": "the plugin refused the publication"}),
            ),
            _ => (
                404,
                json!({"message": format!("the plugin has no channel {path:?}")}),
            ),
        }
    }

    /// `GET /api/live/list`: running streams (channel, subscribers, packets) and ended ones
    /// (channel, packets, why, and whether the plugin logged the end of every tail it started
    /// on that path: `pluginStopped`).
    pub fn list(&self) -> Reply {
        let lines = self.host.stderr_lines();
        let count = |what: &str, path: &str| {
            lines
                .iter()
                .filter(|l| l.contains(what) && l.contains(&format!("\"{path}\"")))
                .count()
        };
        let channels: Vec<Value> = self
            .channels
            .lock()
            .unwrap()
            .iter()
            .map(|(name, c)| {
                json!({"channel": name, "path": c.path, "subscribers": c.subscribers.len(),
                       "packets": c.packets.load(Ordering::Relaxed)})
            })
            .collect();
        let ended: Vec<Value> = self
            .ended
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                let started = count("live tail started", &e.path);
                let stopped = count("live tail stopped", &e.path);
                let (Ok(why) | Err(why)) = &e.reason;
                json!({"channel": e.channel, "path": e.path, "packets": e.packets, "reason": why,
                       "error": e.reason.is_err(), "pluginStopped": started > 0 && stopped >= started})
            })
            .collect();
        (200, json!({"channels": channels, "ended": ended}))
    }
}

/// Writes the event stream until the channel ends or the client goes away.
fn serve_events(stream: &mut TcpStream, rx: &mpsc::Receiver<Event>) -> std::io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n: subscribed\n\n",
    )?;
    loop {
        match rx.recv_timeout(CHECK) {
            Ok(Event::Packet(data)) => write_event(stream, "message", &data)?,
            Ok(Event::End(reason)) => {
                let (event, why) = match reason {
                    Ok(why) => ("end", why),
                    Err(why) => ("error", why),
                };
                let data = serde_json::to_vec(&json!({"message": why})).unwrap_or_default();
                return write_event(stream, event, &data);
            }
            Err(mpsc::RecvTimeoutError::Timeout) if !client_gone(stream) => {}
            Err(_) => return Ok(()),
        }
    }
}

/// One Server-Sent Event (a data line per line of `data`).
fn write_event(stream: &mut TcpStream, event: &str, data: &[u8]) -> std::io::Result<()> {
    let mut out = format!("event: {event}\n").into_bytes();
    for line in data.split(|b| *b == b'\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.push(b'\n');
    stream.write_all(&out)?;
    stream.flush()
}

/// Whether the client closed its side of the connection (it sends nothing after its request).
fn client_gone(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return true;
    }
    let gone = match stream.peek(&mut [0u8; 1]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    gone || stream.set_nonblocking(false).is_err()
}

/// A JSON answer.
pub fn write_json(stream: &mut TcpStream, (status, reply): Reply) -> std::io::Result<()> {
    let body = serde_json::to_vec(&reply).unwrap_or_default();
    write!(
        stream,
        "HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)
}
