//! Prometheus metrics: the registry of an app, its metric families, and the handles that the
//! engine and the servers count into. `GET /metrics` (`server/ops.rs`) encodes the registry in
//! the Prometheus text format (version 0.0.4) with [`prometheus_client`].
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`Metrics`]: the registry, every family, and the per-route handles ([`RouteMetrics`]) |
//! | `traffic.rs` | [`Traffic`](traffic::Traffic): one connection's message and byte counts, folded into its route's counters |
//! | `process.rs` | the `process_*` families, read from `/proc` at each scrape (Linux) |
//!
//! What a message costs: nothing shared. The handles of a `(server, route)` pair are resolved
//! once, when the route is built; a connection counts its messages and bytes in counters of
//! its own (on lines no other connection writes), which are folded into the route's
//! counters when it closes and at each scrape (see [`traffic`]). Families are looked up only
//! per connection (a close by code), per handshake refused and per HTTP request.

mod process;
pub(crate) mod traffic;

use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

pub(crate) use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The paths of the operations routes on the metrics server (`server/ops.rs`).
pub(crate) const OPS_PATHS: [&str; 3] = ["/metrics", "/healthz", "/readyz"];

/// The labels of the per-route families.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RouteLabels {
    server: String,
    route: String,
}

/// Which side sent the first close frame.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)] // The label values, as they read.
enum Side {
    client,
    server,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloseLabels {
    server: String,
    route: String,
    code: u16,
    side: Side,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectLabels {
    server: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    server: String,
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    server: String,
    route: String,
    policy: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    server: String,
    route: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HookLabels {
    server: String,
    route: String,
    hook: &'static str,
}

/// Buckets of `http_request_duration_seconds`, in seconds: 0.5 ms to 10 s.
const HTTP_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

/// The label of `ws_io_thread_connections`: the I/O thread's index.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ThreadLabels {
    thread: String,
}

/// Every family of an app (cheap to clone: each is a handle on shared counters).
#[derive(Clone, Debug)]
struct Families {
    connections: Family<RouteLabels, Gauge>,
    accepted: Family<RouteLabels, Counter>,
    received: Family<RouteLabels, Counter>,
    sent: Family<RouteLabels, Counter>,
    bytes_received: Family<RouteLabels, Counter>,
    bytes_sent: Family<RouteLabels, Counter>,
    closes: Family<CloseLabels, Counter>,
    rejected: Family<RejectLabels, Counter>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpLabels, Histogram, fn() -> Histogram>,
    outbound_full: Family<PolicyLabels, Counter>,
    slow_consumers: Family<ReasonLabels, Counter>,
    hook_errors: Family<HookLabels, Counter>,
    hook_panics: Family<RouteLabels, Counter>,
    io_threads: Family<ThreadLabels, Gauge>,
    broker: BrokerMetrics,
}

impl Default for Families {
    fn default() -> Self {
        Self {
            connections: Family::default(),
            accepted: Family::default(),
            received: Family::default(),
            sent: Family::default(),
            bytes_received: Family::default(),
            bytes_sent: Family::default(),
            closes: Family::default(),
            rejected: Family::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(http_histogram),
            outbound_full: Family::default(),
            slow_consumers: Family::default(),
            hook_errors: Family::default(),
            hook_panics: Family::default(),
            io_threads: Family::default(),
            broker: BrokerMetrics::default(),
        }
    }
}

/// The counters of the networked broker (`broker = "redis://..."`): one set per app.
#[derive(Clone, Debug, Default)]
pub(crate) struct BrokerMetrics {
    /// Envelopes published to the other nodes.
    pub(crate) publishes: Counter,
    /// Envelopes received from other nodes and delivered to this node's connections.
    pub(crate) deliveries: Counter,
    /// Publishes that failed, and envelopes received that could not be read.
    pub(crate) errors: Counter,
    /// Packets received from the broker and not yet handled: how far this node's reader lags.
    pub(crate) lag: Gauge,
}

/// The metrics of one app: its registry and families. Built with every app (counting into
/// it costs the same whether or not `/metrics` is served); `metrics = false` only leaves the
/// route out.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    families: Families,
    /// `/metrics` is served (config `metrics`): the per-request families are kept only then.
    pub(crate) served: bool,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every family registered (and the `process_*` collector).
    pub(crate) fn new() -> Self {
        let f = Families::default();
        let mut r = Registry::default();
        r.register(
            "ws_connections",
            "WebSocket connections open",
            f.connections.clone(),
        );
        r.register(
            "ws_connections_accepted",
            "WebSocket connections accepted (handshake answered with 101, or 200 over HTTP/2)",
            f.accepted.clone(),
        );
        r.register(
            "ws_messages_received",
            "Whole WebSocket messages received from clients",
            f.received.clone(),
        );
        r.register(
            "ws_messages_sent",
            "WebSocket messages handed to the socket",
            f.sent.clone(),
        );
        r.register(
            "ws_bytes_received",
            "Payload bytes of the WebSocket messages received",
            f.bytes_received.clone(),
        );
        r.register(
            "ws_bytes_sent",
            "Payload bytes of the WebSocket messages handed to the socket",
            f.bytes_sent.clone(),
        );
        r.register(
            "ws_closes",
            "WebSocket connections ended, by close code and by the side that closed first",
            f.closes.clone(),
        );
        r.register(
            "ws_handshakes_rejected",
            "WebSocket handshakes answered with an error status",
            f.rejected.clone(),
        );
        r.register(
            "ws_outbound_queue_full",
            "Pushes that found a connection's outbound queue full, by outbound_full policy",
            f.outbound_full.clone(),
        );
        r.register(
            "ws_slow_consumers_dropped",
            "Connections dropped for not reading: queue_full (outbound_full = close) or write_timeout",
            f.slow_consumers.clone(),
        );
        r.register(
            "ws_hook_errors",
            "Hooks and handler functions that returned an error (failed sends included)",
            f.hook_errors.clone(),
        );
        r.register(
            "ws_hook_panics",
            "Hooks and handler functions that panicked",
            f.hook_panics.clone(),
        );
        r.register(
            "http_requests",
            "HTTP requests answered (WebSocket handshakes excluded), by route, method and status",
            f.http_requests.clone(),
        );
        r.register_with_unit(
            "http_request_duration",
            "Time from an HTTP request's head to its response",
            Unit::Seconds,
            f.http_duration.clone(),
        );
        r.register(
            "ws_broker_publishes",
            "Envelopes published to the other nodes through the networked broker",
            f.broker.publishes.clone(),
        );
        r.register(
            "ws_broker_deliveries",
            "Envelopes received from other nodes through the networked broker",
            f.broker.deliveries.clone(),
        );
        r.register(
            "ws_broker_errors",
            "Broker publishes that failed and received envelopes that could not be read",
            f.broker.errors.clone(),
        );
        r.register(
            "ws_broker_inbound_lag",
            "Packets received from the networked broker and not yet handled by this node",
            f.broker.lag.clone(),
        );
        r.register(
            "ws_io_thread_connections",
            "TCP connections each I/O thread serves (io_threads)",
            f.io_threads.clone(),
        );
        r.register_collector(Box::new(process::ProcessCollector::new()));
        Self {
            registry: r,
            families: f,
            served: true,
        }
    }

    /// The handles of WebSocket route `route` of server `server`, resolved once.
    pub(crate) fn route(&self, server: &str, route: &str) -> Arc<RouteMetrics> {
        let labels = RouteLabels {
            server: server.to_owned(),
            route: route.to_owned(),
        };
        let f = &self.families;
        let policy = |policy| {
            f.outbound_full.get_or_create_owned(&PolicyLabels {
                server: labels.server.clone(),
                route: labels.route.clone(),
                policy,
            })
        };
        let reason = |reason| {
            f.slow_consumers.get_or_create_owned(&ReasonLabels {
                server: labels.server.clone(),
                route: labels.route.clone(),
                reason,
            })
        };
        Arc::new(RouteMetrics {
            connections: f.connections.get_or_create_owned(&labels),
            accepted: f.accepted.get_or_create_owned(&labels),
            received: f.received.get_or_create_owned(&labels),
            sent: f.sent.get_or_create_owned(&labels),
            bytes_received: f.bytes_received.get_or_create_owned(&labels),
            bytes_sent: f.bytes_sent.get_or_create_owned(&labels),
            full_close: policy("close"),
            full_drop: policy("drop"),
            full_wait: policy("wait"),
            slow_queue_full: reason("queue_full"),
            slow_write_timeout: reason("write_timeout"),
            panics: f.hook_panics.get_or_create_owned(&labels),
            closes: f.closes.clone(),
            hook_errors: f.hook_errors.clone(),
            labels,
        })
    }

    /// Counts a WebSocket handshake of server `server` answered with `status`.
    pub(crate) fn handshake_rejected(&self, server: &str, status: u16) {
        if !self.served {
            return;
        }
        self.families
            .rejected
            .get_or_create(&RejectLabels {
                server: server.to_owned(),
                status,
            })
            .inc();
    }

    /// Counts an HTTP request of server `server` to `route` (the route's path; `unmatched`
    /// when no route has the path), answered with `status` after `seconds`.
    pub(crate) fn http_request(
        &self,
        server: &str,
        route: &'static str,
        method: &http::Method,
        status: u16,
        seconds: f64,
    ) {
        if !self.served {
            return;
        }
        let labels = HttpLabels {
            server: server.to_owned(),
            route,
            method: method_label(method),
            status,
        };
        let f = &self.families;
        f.http_requests.get_or_create(&labels).inc();
        f.http_duration.get_or_create(&labels).observe(seconds);
    }

    /// The broker's counters.
    pub(crate) fn broker(&self) -> &BrokerMetrics {
        &self.families.broker
    }

    /// The gauge of the connections I/O thread `index` serves.
    pub(crate) fn io_thread(&self, index: usize) -> Gauge {
        self.families
            .io_threads
            .get_or_create(&ThreadLabels {
                thread: index.to_string(),
            })
            .clone()
    }

    /// The whole registry in the Prometheus text format (version 0.0.4).
    pub(crate) fn encode(&self) -> String {
        let mut out = String::with_capacity(8 << 10);
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!("encoding the metrics failed: {e}");
        }
        out
    }
}

/// The method as a label: the standard ones by name, any other as `OTHER` (so that a client
/// cannot grow the label set at will).
fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// The counters of one WebSocket route of one server, resolved once when the route is built:
/// what a connection of the route counts into.
#[derive(Debug)]
pub(crate) struct RouteMetrics {
    labels: RouteLabels,
    pub(crate) connections: Gauge,
    pub(crate) accepted: Counter,
    pub(crate) received: Counter,
    pub(crate) sent: Counter,
    pub(crate) bytes_received: Counter,
    pub(crate) bytes_sent: Counter,
    full_close: Counter,
    full_drop: Counter,
    full_wait: Counter,
    slow_queue_full: Counter,
    slow_write_timeout: Counter,
    panics: Counter,
    closes: Family<CloseLabels, Counter>,
    hook_errors: Family<HookLabels, Counter>,
}

/// The `outbound_full` policy a full queue met, as a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FullPolicy {
    Close,
    Drop,
    Wait,
}

/// Why a slow consumer was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlowReason {
    /// Its queue was full under `outbound_full = "close"`.
    QueueFull,
    /// Its writes made no progress for `write_timeout`.
    WriteTimeout,
}

impl RouteMetrics {
    /// A connection of the route opened.
    pub(crate) fn opened(&self) {
        self.accepted.inc();
        self.connections.inc();
    }

    /// A connection of the route ended (its task is done).
    pub(crate) fn ended(&self) {
        self.connections.dec();
    }

    /// A connection of the route closed with `code`, the client's close frame first or not.
    pub(crate) fn closed(&self, code: u16, by_client: bool) {
        self.closes
            .get_or_create(&CloseLabels {
                server: self.labels.server.clone(),
                route: self.labels.route.clone(),
                code,
                side: if by_client {
                    Side::client
                } else {
                    Side::server
                },
            })
            .inc();
    }

    /// A push found a connection's queue full.
    pub(crate) fn queue_full(&self, policy: FullPolicy) {
        match policy {
            FullPolicy::Close => self.full_close.inc(),
            FullPolicy::Drop => self.full_drop.inc(),
            FullPolicy::Wait => self.full_wait.inc(),
        };
    }

    /// A slow consumer was dropped.
    pub(crate) fn slow_consumer(&self, reason: SlowReason) {
        match reason {
            SlowReason::QueueFull => self.slow_queue_full.inc(),
            SlowReason::WriteTimeout => self.slow_write_timeout.inc(),
        };
    }

    /// Hook `hook` (`on_open`, `on_message`, `handler`) returned an error.
    pub(crate) fn hook_error(&self, hook: &'static str) {
        self.hook_errors
            .get_or_create(&HookLabels {
                server: self.labels.server.clone(),
                route: self.labels.route.clone(),
                hook,
            })
            .inc();
    }

    /// A hook or handler function panicked.
    pub(crate) fn hook_panicked(&self) {
        self.panics.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The family names are a contract (dashboards use them): each with its type.
    #[test]
    fn the_contract_families_are_encoded_with_their_names_and_types() {
        let mut metrics = Metrics::new();
        metrics.served = true;
        let route = metrics.route("ws", "/echo");
        route.opened();
        route.closed(1000, true);
        route.queue_full(FullPolicy::Drop);
        route.slow_consumer(SlowReason::WriteTimeout);
        route.hook_error("on_message");
        route.hook_panicked();
        metrics.handshake_rejected("ws", 426);
        metrics.http_request("http", "/health", &http::Method::GET, 200, 0.002);
        let text = metrics.encode();
        for (name, kind) in [
            ("ws_connections", "gauge"),
            ("ws_connections_accepted_total", "counter"),
            ("ws_messages_received_total", "counter"),
            ("ws_messages_sent_total", "counter"),
            ("ws_bytes_received_total", "counter"),
            ("ws_bytes_sent_total", "counter"),
            ("ws_closes_total", "counter"),
            ("ws_handshakes_rejected_total", "counter"),
            ("http_requests_total", "counter"),
            ("http_request_duration_seconds", "histogram"),
            ("ws_outbound_queue_full_total", "counter"),
            ("ws_slow_consumers_dropped_total", "counter"),
            ("ws_hook_errors_total", "counter"),
            ("ws_hook_panics_total", "counter"),
            ("ws_broker_publishes_total", "counter"),
            ("ws_broker_deliveries_total", "counter"),
            ("ws_broker_errors_total", "counter"),
            ("ws_broker_inbound_lag", "gauge"),
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} {kind}\n")),
                "{name}:\n{text}"
            );
        }
        for sample in [
            "ws_connections{server=\"ws\",route=\"/echo\"} 1\n",
            "ws_closes_total{server=\"ws\",route=\"/echo\",code=\"1000\",side=\"client\"} 1\n",
            "ws_handshakes_rejected_total{server=\"ws\",status=\"426\"} 1\n",
            "http_requests_total{server=\"http\",route=\"/health\",method=\"GET\",status=\"200\"} 1\n",
            "ws_outbound_queue_full_total{server=\"ws\",route=\"/echo\",policy=\"drop\"} 1\n",
            "ws_slow_consumers_dropped_total{server=\"ws\",route=\"/echo\",reason=\"write_timeout\"} 1\n",
        ] {
            assert!(text.contains(sample), "{sample}:\n{text}");
        }
        assert_eq!(
            method_label(&http::Method::from_bytes(b"BREW").unwrap()),
            "OTHER"
        );
    }
}
