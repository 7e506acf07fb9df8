//! `Bus`: how a node's rooms, pipelines and cluster view reach the other nodes.
//!
//! With `bus.kind = "local"` a node is alone: publishing does nothing and nobody is
//! subscribed. With `bus.kind = "nats"` every node connects to one NATS server. The client
//! lives on an arbiter of its own that never runs blocking work (a blocked thread would
//! delay every delivery). Publications go through one bounded queue and one task, so a
//! node's messages leave in the order they were published; when the queue is full (NATS
//! unreachable for long) new publications are dropped and counted, never buffered without
//! limit. Subscriptions deliver each message to an actor as a [`BusMessage`]; dropping the
//! [`Subscription`] unsubscribes. After a reconnect the client subscribes again by itself.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use bytes::Bytes;
use futures_util::future::{AbortHandle, Abortable};
use futures_util::StreamExt;
use prometheus::{IntCounter, IntGauge, Registry};
use tokio::sync::{mpsc, oneshot};

/// Publications waiting for the connection, at most.
const OUT_QUEUE: usize = 65_536;
/// A publication that waited this long for the connection is dropped: delivered later it
/// would arrive as a burst of old news.
const STALE_OUT: Duration = Duration::from_secs(2);
/// A reply to a request arrives within this long, or not at all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// One message from another node (or a reply to a request).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct BusMessage {
    pub subject: String,
    pub payload: Bytes,
    /// Where an answer goes, for requests.
    pub reply: Option<String>,
}

/// Bus traffic counters, registered in the node's Prometheus registry.
#[derive(Clone)]
pub struct BusMetrics {
    pub connected: IntGauge,
    pub published: IntCounter,
    pub dropped: IntCounter,
    pub received: IntCounter,
}

impl BusMetrics {
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let m = Self::unregistered();
        registry.register(Box::new(m.connected.clone()))?;
        registry.register(Box::new(m.published.clone()))?;
        registry.register(Box::new(m.dropped.clone()))?;
        registry.register(Box::new(m.received.clone()))?;
        Ok(m)
    }

    pub fn unregistered() -> Self {
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        Self {
            connected: IntGauge::new(
                "roomcast_bus_connected",
                "1 while the node is connected to NATS (always 0 with the local bus)",
            )
            .expect("valid metric"),
            published: counter("roomcast_bus_published_total", "Messages published to NATS"),
            dropped: counter(
                "roomcast_bus_dropped_total",
                "Messages not published: NATS was unreachable, the queue was full, they waited \
                 too long or were too large",
            ),
            received: counter("roomcast_bus_received_total", "Messages received from NATS"),
        }
    }
}

struct Outgoing {
    subject: String,
    payload: Bytes,
    queued: std::time::Instant,
}

struct Nats {
    arbiter: ArbiterHandle,
    client: async_nats::Client,
    out: mpsc::Sender<Outgoing>,
    connected: Arc<AtomicBool>,
    metrics: BusMetrics,
}

/// A node's handle on the bus. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct Bus {
    node: Arc<str>,
    prefix: Arc<str>,
    nats: Option<Arc<Nats>>,
}

/// Unsubscribes when dropped.
pub struct Subscription(AbortHandle);

impl Drop for Subscription {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `url` (servers, comma-separated) with any user, password or token replaced by `***`,
/// for logs and errors.
pub fn without_secrets(url: &str) -> String {
    url.split(',')
        .map(|server| {
            let server = server.trim();
            match (server.find("://"), server.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    format!("{}***{}", &server[..scheme + 3], &server[at..])
                }
                _ => server.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// How a node checks the NATS server and proves itself to it over TLS: a CA of its own
/// and a client certificate. Empty: plain connections (or `tls://` URLs checked against
/// the system's roots); a user and password or a token may come in the URL.
#[derive(Debug, Clone, Default)]
pub struct NatsSecurity {
    pub tls_ca: Option<PathBuf>,
    pub tls_client: Option<(PathBuf, PathBuf)>,
}

impl NatsSecurity {
    fn apply(self, mut options: async_nats::ConnectOptions) -> async_nats::ConnectOptions {
        let tls = self.tls_ca.is_some() || self.tls_client.is_some();
        if let Some(ca) = self.tls_ca {
            options = options.add_root_certificates(ca);
        }
        if let Some((cert, key)) = self.tls_client {
            options = options.add_client_certificate(cert, key);
        }
        if tls {
            options.require_tls(true)
        } else {
            options
        }
    }
}

/// The server is not there (refused, no route, timed out, not resolvable) rather than
/// there and refusing us (TLS, credentials).
fn is_unreachable(e: &async_nats::ConnectError) -> bool {
    use async_nats::ConnectErrorKind;
    use std::io::ErrorKind;
    match e.kind() {
        ConnectErrorKind::TimedOut | ConnectErrorKind::Dns => true,
        ConnectErrorKind::Io => {
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                if let Some(io) = inner.downcast_ref::<std::io::Error>() {
                    return matches!(
                        io.kind(),
                        ErrorKind::ConnectionRefused
                            | ErrorKind::TimedOut
                            | ErrorKind::HostUnreachable
                            | ErrorKind::NetworkUnreachable
                            | ErrorKind::AddrNotAvailable
                    );
                }
                source = inner.source();
            }
            // No cause given: judge by the words.
            let text = e.to_string();
            text.contains("Connection refused") || text.contains("timed out")
        }
        _ => false,
    }
}

impl Bus {
    /// A node on its own.
    pub fn local(node: &str) -> Self {
        Self {
            node: node.into(),
            prefix: "roomcast".into(),
            nats: None,
        }
    }

    /// Connects to NATS at `url` (one server, or several comma-separated) on an arbiter of
    /// its own, with `security`'s TLS. Subjects start with `prefix`.
    /// A server that cannot be reached now is tried again in the background (the node runs
    /// alone meanwhile); one that refuses the node (TLS, credentials) fails start-up.
    /// Later outages are reconnected forever.
    pub async fn connect_nats(
        url: &str,
        security: NatsSecurity,
        prefix: &str,
        node: &str,
        metrics: BusMetrics,
    ) -> Result<Self, String> {
        let arbiter = Arbiter::new().handle();
        let connected = Arc::new(AtomicBool::new(false));
        let (tx, rx) = oneshot::channel();
        let (url_owned, name) = (url.to_string(), format!("roomcast {node}"));
        let (flag, gauge) = (Arc::clone(&connected), metrics.connected.clone());
        arbiter.spawn(async move {
            let options = move || {
                let (flag, gauge) = (Arc::clone(&flag), gauge.clone());
                security
                    .clone()
                    .apply(async_nats::ConnectOptions::new())
                    .name(name.clone())
                    .connection_timeout(Duration::from_secs(5))
                    .reconnect_delay_callback(|attempts| {
                        Duration::from_millis((attempts as u64 * 250).min(2_000))
                    })
                    .event_callback(move |event| {
                        let (flag, gauge) = (Arc::clone(&flag), gauge.clone());
                        async move {
                            match event {
                                async_nats::Event::Connected => {
                                    log::info!("bus: connected to NATS");
                                    flag.store(true, Ordering::Relaxed);
                                    gauge.set(1);
                                }
                                async_nats::Event::Disconnected => {
                                    log::warn!("bus: disconnected from NATS, reconnecting");
                                    flag.store(false, Ordering::Relaxed);
                                    gauge.set(0);
                                }
                                other => log::warn!("bus: {other}"),
                            }
                        }
                    })
            };
            // Several servers (a NATS cluster) may be listed, comma-separated.
            let servers: Vec<String> = url_owned
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            let first = options().connect(servers.clone()).await;
            let connected = match first {
                Ok(client) => Ok((client, true)),
                // Unreachable now: the node starts and serves its own viewers, and the
                // client keeps trying in the background. A server that answers but
                // refuses us (TLS, credentials) is a configuration error: fail now.
                Err(e) if is_unreachable(&e) => {
                    log::warn!(
                        "bus: NATS at {} is unreachable ({e}); starting without it and \
                         reconnecting in the background",
                        without_secrets(&url_owned)
                    );
                    options()
                        .retry_on_initial_connect()
                        .connect(servers)
                        .await
                        .map(|client| (client, false))
                }
                Err(e) => Err(e),
            }
            .map_err(|e| format!("cannot reach NATS at {}: {e}", without_secrets(&url_owned)));
            let _ = tx.send(connected);
        });
        let (client, up) = rx
            .await
            .map_err(|_| "the bus arbiter stopped".to_string())??;
        if up {
            connected.store(true, Ordering::Relaxed);
            metrics.connected.set(1);
        }
        let (out, mut queue) = mpsc::channel::<Outgoing>(OUT_QUEUE);
        let publisher = client.clone();
        let counters = metrics.clone();
        arbiter.spawn(async move {
            while let Some(o) = queue.recv().await {
                if o.queued.elapsed() > STALE_OUT {
                    counters.dropped.inc();
                    continue;
                }
                match publisher.publish(o.subject, o.payload).await {
                    Ok(()) => counters.published.inc(),
                    Err(e) => {
                        counters.dropped.inc();
                        log::warn!("bus: publish failed: {e}");
                    }
                }
            }
        });
        log::info!("bus: NATS at {}, node {node}", without_secrets(url));
        Ok(Self {
            node: node.into(),
            prefix: prefix.into(),
            nats: Some(Arc::new(Nats {
                arbiter,
                client,
                out,
                connected,
                metrics,
            })),
        })
    }

    /// This node's id (unique per process).
    pub fn node(&self) -> &str {
        &self.node
    }

    /// True when other nodes may exist (NATS).
    pub fn is_shared(&self) -> bool {
        self.nats.is_some()
    }

    /// True with the local bus, and with NATS while connected.
    pub fn is_connected(&self) -> bool {
        self.nats
            .as_ref()
            .is_none_or(|n| n.connected.load(Ordering::Relaxed))
    }

    /// The largest message NATS accepts (unlimited on the local bus).
    pub fn max_payload(&self) -> usize {
        self.nats
            .as_ref()
            .map_or(usize::MAX, |n| n.client.max_payload())
    }

    /// `{prefix}.{rest}`.
    pub fn subject(&self, rest: &str) -> String {
        format!("{}.{rest}", self.prefix)
    }

    /// Sends `payload` to every subscriber of `subject` on other nodes (and this one).
    pub fn publish(&self, subject: String, payload: Bytes) {
        let Some(nats) = &self.nats else { return };
        if payload.len() > nats.client.max_payload() {
            nats.metrics.dropped.inc();
            log::warn!(
                "bus: {} bytes for {subject} exceed NATS max_payload; dropped",
                payload.len()
            );
            return;
        }
        // While disconnected nothing is queued: the other nodes would get it late, in a
        // burst, as if new. This node's own viewers have it already.
        if !nats.connected.load(Ordering::Relaxed) {
            nats.metrics.dropped.inc();
            return;
        }
        let queued = std::time::Instant::now();
        let out = Outgoing {
            subject,
            payload,
            queued,
        };
        if nats.out.try_send(out).is_err() {
            nats.metrics.dropped.inc();
        }
    }

    /// Delivers every message on `subject` to `to` until the subscription is dropped.
    /// `None` on the local bus.
    pub fn subscribe(&self, subject: String, to: Recipient<BusMessage>) -> Option<Subscription> {
        let nats = self.nats.as_ref()?;
        let (abort, registration) = AbortHandle::new_pair();
        let (client, received) = (nats.client.clone(), nats.metrics.received.clone());
        let task = async move {
            let mut subscriber = match client.subscribe(subject.clone()).await {
                Ok(s) => s,
                Err(e) => {
                    log::error!("bus: cannot subscribe to {subject}: {e}");
                    return;
                }
            };
            while let Some(m) = subscriber.next().await {
                received.inc();
                to.do_send(BusMessage {
                    subject: m.subject.to_string(),
                    payload: m.payload,
                    reply: m.reply.map(|r| r.to_string()),
                });
            }
        };
        nats.arbiter.spawn(async move {
            let _ = Abortable::new(task, registration).await;
        });
        Some(Subscription(abort))
    }

    /// Asks whoever answers on `subject`; the answer (if one comes within two seconds)
    /// reaches `to` as a `BusMessage` on `subject`.
    pub fn request(&self, subject: String, payload: Bytes, to: Recipient<BusMessage>) {
        let Some(nats) = &self.nats else { return };
        let client = nats.client.clone();
        nats.arbiter.spawn(async move {
            let asked = client.request(subject.clone(), payload);
            match tokio::time::timeout(REQUEST_TIMEOUT, asked).await {
                Ok(Ok(answer)) => to.do_send(BusMessage {
                    subject,
                    payload: answer.payload,
                    reply: None,
                }),
                Ok(Err(e)) => log::debug!("bus: request on {subject}: {e}"),
                Err(_) => log::debug!("bus: request on {subject} timed out"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::without_secrets;

    #[test]
    fn secrets_in_nats_urls_are_hidden() {
        assert_eq!(
            without_secrets("nats://user:hunter2@a:4222, tls://token@b:4222,nats://c:4222"),
            "nats://***@a:4222,tls://***@b:4222,nats://c:4222"
        );
        assert_eq!(
            without_secrets("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
    }
}
