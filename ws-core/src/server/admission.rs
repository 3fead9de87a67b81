//! Admission: whether a request may go on, and whether a WebSocket handshake may become a
//! connection, by the limits of its server and of the process.
//!
//! | check | where | answer |
//! | --- | --- | --- |
//! | `allowed_origins` | every request to the server | 403 |
//! | `fd_reserve` (global): the sockets the app holds reach the soft `RLIMIT_NOFILE` minus the reserve | handshakes | 503 |
//! | `max_connections_per_ip` | handshakes | 429, `Retry-After: 1` |
//! | `handshake_rate_per_ip` | handshakes | 429, `Retry-After`: seconds until the next is allowed |
//! | `max_connections` | handshakes | 503; a warning once each time the server reaches it |
//!
//! A refusal is a [`Refusal`], which names the config key, and becomes the response. A
//! handshake that passes gets an [`AdmissionGuard`], carried by the connection's task until
//! it ends (closing included): its drop gives back what it counted. Everything here runs once
//! per request or handshake, nothing per message.
//!
//! **File descriptors.** The app counts the sockets it holds: each accepted TCP connection
//! ([`SocketHeld`], held by its hyper task) and each WebSocket connection (its guard; the
//! upgraded socket outlives hyper's task). For the moment between the upgrade and the end of
//! hyper's task one socket counts twice, which errs on the safe side. The rest of the reserve
//! covers what the process holds besides: listeners, the control socket, log files, the
//! runtime's own descriptors. Plain HTTP requests are not refused, so `/health` answers while
//! upgrades are refused; past the real limit `accept` fails, and the accept loop backs off.
//!
//! **Per IP.** Clients are told apart by the TCP peer address (IPv4-mapped IPv6 addresses as
//! IPv4): behind a proxy every client has the proxy's address, since forwarded headers are not
//! trusted. Both tables are bounded: the count of open connections keeps only addresses that
//! have some open, and the rate table holds at most [`RATE_TABLE_CAP`] addresses: idle ones
//! (their bucket full again) are swept out as it grows, and a new address that finds it full
//! of busy ones is refused with 429 rather than grow it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::header::{HeaderMap, HeaderValue, ORIGIN, RETRY_AFTER};
use http::StatusCode;

use super::idle::StreamOpen;
use crate::config::{ServerConfig, ServerName};
use crate::context::AppContext;
use crate::engine::threads::Placed;
use crate::http::Response;

/// Most addresses the rate table of one server holds.
pub(crate) const RATE_TABLE_CAP: usize = 65_536;

/// From this many addresses on, the rate table is swept of idle ones (at most once a second).
const SWEEP_FROM: usize = 1024;

/// The soft `RLIMIT_NOFILE` of the process, if the platform has one and it is finite.
pub(crate) fn soft_fd_limit() -> Option<usize> {
    #[cfg(unix)]
    {
        let (soft, _) = rlimit::Resource::NOFILE.get().ok()?;
        (soft != rlimit::INFINITY)
            .then(|| usize::try_from(soft).ok())
            .flatten()
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// What a server counts to admit handshakes (one per server, in its `Routes`).
#[derive(Debug, Default)]
pub(crate) struct ServerAdmission {
    /// WebSocket connections open (and closing) on the server.
    open: AtomicUsize,
    /// Whether the warning for reaching `max_connections` was logged since the last handshake
    /// admitted.
    at_limit: AtomicBool,
    per_ip: Mutex<PerIp>,
}

#[derive(Debug, Default)]
struct PerIp {
    /// Open connections by address; an address leaves when its last one ends.
    open: HashMap<IpAddr, usize>,
    /// Handshake rate buckets by address.
    buckets: HashMap<IpAddr, Bucket>,
    /// When `buckets` was last swept of idle addresses.
    swept: Option<Instant>,
}

/// A token bucket: one token per handshake, refilled at the rate, holding at most one second's
/// worth.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refilled(self, rate: f64, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.tokens + elapsed * rate).min(rate)
    }
}

/// Counts one socket the app holds while it lives.
#[derive(Debug)]
pub(crate) struct SocketHeld(Arc<AppContext>);

impl SocketHeld {
    pub(crate) fn new(app: &Arc<AppContext>) -> Self {
        app.sockets_held.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(app))
    }
}

impl Drop for SocketHeld {
    fn drop(&mut self) {
        self.0.sockets_held.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What an admitted WebSocket connection counts; given back when it drops.
#[derive(Debug)]
pub(crate) struct AdmissionGuard {
    server: Arc<ServerAdmission>,
    ip: IpAddr,
    _socket: SocketHeld,
    /// The connection's place on its I/O thread (`io_threads`), which counts it as served
    /// there until the WebSocket connection ends, not only its HTTP connection.
    _placed: Option<Arc<Placed>>,
    /// Over HTTP/2: its stream, open until the WebSocket connection ends.
    _stream: Option<StreamOpen>,
}

impl AdmissionGuard {
    /// Holds the connection's place on its I/O thread and its HTTP/2 stream too, for as long
    /// as the guard.
    pub(crate) fn holding(
        mut self,
        placed: Option<Arc<Placed>>,
        stream: Option<StreamOpen>,
    ) -> Self {
        self._placed = placed;
        self._stream = stream;
        self
    }
}

impl Drop for AdmissionGuard {
    fn drop(&mut self) {
        self.server.open.fetch_sub(1, Ordering::Relaxed);
        self.server.release_ip(self.ip);
    }
}

/// The `allowed_origins` check, for every request to the server: 403 for an `Origin` header
/// not in the list. Requests without the header (programs rather than browsers) go on: the
/// check protects browser users from pages of other sites, it does not authenticate.
pub(crate) fn check_origin(
    settings: &ServerConfig,
    name: &ServerName,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    if settings.allowed_origins.is_empty() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(origin.as_bytes());
    if origin_allowed(&settings.allowed_origins, &text) {
        return Ok(());
    }
    Err(Refusal::Origin {
        origin: text.into_owned(),
        server: name.clone(),
    })
}

fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    allowed
        .iter()
        .any(|a| a == "*" || a.eq_ignore_ascii_case(origin))
}

/// Admits a WebSocket handshake from `peer` on server `name` (its counts `server`, its
/// settings `settings`), or refuses it (503 or 429) before the upgrade.
pub(crate) fn admit(
    app: &Arc<AppContext>,
    server: &Arc<ServerAdmission>,
    settings: &ServerConfig,
    name: &ServerName,
    peer: IpAddr,
) -> Result<AdmissionGuard, Refusal> {
    check_fds(app)?;
    let ip = peer.to_canonical();
    server.admit_ip(settings, ip, Instant::now())?;
    let open = server.open.fetch_add(1, Ordering::Relaxed) + 1;
    let max = settings.max_connections;
    if max != 0 && open > max {
        server.open.fetch_sub(1, Ordering::Relaxed);
        server.release_ip(ip);
        if !server.at_limit.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "server {}: {max} WebSocket connections open, the max_connections limit: \
                 refusing handshakes with 503 until some close",
                name
            );
        }
        return Err(Refusal::MaxConnections {
            server: name.clone(),
            max,
        });
    }
    if server.at_limit.load(Ordering::Relaxed) {
        server.at_limit.store(false, Ordering::Relaxed);
    }
    Ok(AdmissionGuard {
        server: Arc::clone(server),
        ip,
        _socket: SocketHeld::new(app),
        _placed: None,
        _stream: None,
    })
}

/// 503 while the sockets the app holds leave no more than `fd_reserve` of the soft
/// `RLIMIT_NOFILE`; a warning once each time that begins.
fn check_fds(app: &AppContext) -> Result<(), Refusal> {
    let Some(limit) = app.fd_limit else {
        return Ok(());
    };
    let reserve = app.config().fd_reserve;
    let held = app.sockets_held.load(Ordering::Relaxed);
    if held < limit.saturating_sub(reserve) {
        if app.fds_short.load(Ordering::Relaxed) {
            app.fds_short.store(false, Ordering::Relaxed);
        }
        return Ok(());
    }
    if !app.fds_short.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "{held} sockets open, the file descriptor limit ({limit}) minus fd_reserve \
             ({reserve}): refusing WebSocket handshakes with 503 until some close"
        );
    }
    Err(Refusal::FdReserve { limit, reserve })
}

/// Why a request or a handshake was refused; each names its config key.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("origin {origin} is not allowed (config servers.{server}.allowed_origins)")]
    Origin { origin: String, server: ServerName },
    #[error(
        "the server is out of file descriptors for new WebSocket connections (the soft \
         RLIMIT_NOFILE is {limit}, config fd_reserve = {reserve}); try again later"
    )]
    FdReserve { limit: usize, reserve: usize },
    #[error(
        "server {server} has {max} WebSocket connections open, its limit (config \
         servers.{server}.max_connections); try again later"
    )]
    MaxConnections { server: ServerName, max: usize },
    #[error(
        "{ip} has {max} WebSocket connections open, the limit (config max_connections_per_ip)"
    )]
    PerIpConnections { ip: IpAddr, max: usize },
    #[error(
        "too many WebSocket handshakes from {ip} (config handshake_rate_per_ip = {rate} per \
         second)"
    )]
    Rate {
        ip: IpAddr,
        rate: usize,
        retry_after: u64,
    },
    #[error(
        "too many addresses are opening WebSocket connections at once (config \
         handshake_rate_per_ip = {rate} per second)"
    )]
    RateTableFull { rate: usize },
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Self::Origin { .. } => StatusCode::FORBIDDEN,
            Self::FdReserve { .. } | Self::MaxConnections { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::PerIpConnections { .. } | Self::Rate { .. } | Self::RateTableFull { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
        }
    }

    /// Whole seconds for `Retry-After`, at least 1 (429 only).
    fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Rate { retry_after, .. } => Some((*retry_after).max(1)),
            Self::PerIpConnections { .. } | Self::RateTableFull { .. } => Some(1),
            _ => None,
        }
    }
}

impl From<Refusal> for Response {
    fn from(refusal: Refusal) -> Self {
        let mut r = Response::text(refusal.status(), format!("{refusal}\n"));
        if let Some(secs) = refusal.retry_after() {
            r.headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

impl ServerAdmission {
    /// The per-IP checks; counts a connection for `ip` when they pass.
    fn admit_ip(&self, settings: &ServerConfig, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        let max = settings.max_connections_per_ip;
        let open = per_ip.open.get(&ip).copied().unwrap_or(0);
        if max != 0 && open >= max {
            return Err(Refusal::PerIpConnections { ip, max });
        }
        per_ip.take_token(settings.handshake_rate_per_ip, ip, now)?;
        *per_ip.open.entry(ip).or_insert(0) += 1;
        Ok(())
    }

    /// One connection of `ip` ended (or was not admitted after all).
    fn release_ip(&self, ip: IpAddr) {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = per_ip.open.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per_ip.open.remove(&ip);
            }
        }
    }

    /// The number of connections open from `ip` (for tests).
    #[cfg(test)]
    fn open_from(&self, ip: IpAddr) -> usize {
        let per_ip = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
        per_ip.open.get(&ip).copied().unwrap_or(0)
    }
}

impl PerIp {
    /// Takes one handshake token of `ip` at `rate` per second (`0`: no limit).
    fn take_token(&mut self, per_sec: usize, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        if per_sec == 0 {
            if !self.buckets.is_empty() {
                self.buckets = HashMap::new(); // Switched off by a reload.
            }
            return Ok(());
        }
        // Handshakes per second are small integers; f64 holds them exactly.
        #[allow(clippy::cast_precision_loss)]
        let rate = per_sec as f64;
        if !self.buckets.contains_key(&ip) {
            self.sweep(rate, now);
            if self.buckets.len() >= RATE_TABLE_CAP {
                return Err(Refusal::RateTableFull { rate: per_sec });
            }
        }
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        let tokens = bucket.refilled(rate, now);
        bucket.at = now;
        if tokens >= 1.0 {
            bucket.tokens = tokens - 1.0;
            return Ok(());
        }
        bucket.tokens = tokens;
        // Whole seconds until a token is there again; at least 1.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let wait = ((1.0 - tokens) / rate).ceil() as u64;
        Err(Refusal::Rate {
            ip,
            rate: per_sec,
            retry_after: wait,
        })
    }

    /// Drops the buckets that are full again (an absent bucket is a full one), when the table
    /// has grown and was not swept in the last second.
    fn sweep(&mut self, rate: f64, now: Instant) {
        if self.buckets.len() < SWEEP_FROM
            || self
                .swept
                .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.swept = Some(now);
        self.buckets.retain(|_, b| b.refilled(rate, now) < rate);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn settings(f: impl FnOnce(&mut ServerConfig)) -> ServerConfig {
        let mut s = ServerConfig::default();
        f(&mut s);
        s
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn origins_compare_without_case_and_star_allows_all() {
        let list = ["https://Chat.Example".to_owned()];
        assert!(origin_allowed(&list, "https://chat.example"));
        assert!(!origin_allowed(&list, "https://chat.example:8443"));
        assert!(!origin_allowed(&list, "null"));
        assert!(origin_allowed(&["*".to_owned()], "https://evil.example"));
    }

    #[test]
    fn per_ip_connections_are_counted_and_forgotten() {
        let s = settings(|s| s.max_connections_per_ip = 2);
        let a = ServerAdmission::default();
        let now = Instant::now();
        assert!(a.admit_ip(&s, ip(1), now).is_ok());
        assert!(a.admit_ip(&s, ip(1), now).is_ok());
        let refused = a.admit_ip(&s, ip(1), now).unwrap_err();
        let refused = Response::from(refused);
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers[RETRY_AFTER], "1");
        assert!(a.admit_ip(&s, ip(2), now).is_ok(), "other addresses go on");
        a.release_ip(ip(1));
        assert!(a.admit_ip(&s, ip(1), now).is_ok());
        for _ in 0..2 {
            a.release_ip(ip(1));
        }
        a.release_ip(ip(2));
        assert_eq!(a.open_from(ip(1)), 0);
        let per_ip = a.per_ip.lock().unwrap();
        assert!(per_ip.open.is_empty(), "{:?}", per_ip.open);
    }

    #[test]
    fn rate_allows_a_burst_then_one_per_interval() {
        let mut t = PerIp::default();
        let now = Instant::now();
        for _ in 0..4 {
            assert!(t.take_token(4, ip(1), now).is_ok());
        }
        let refused = t.take_token(4, ip(1), now).unwrap_err();
        let refused = Response::from(refused);
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers[RETRY_AFTER], "1");
        assert!(t
            .take_token(4, ip(1), now + Duration::from_millis(250))
            .is_ok());
        let slow = t.take_token(1, ip(3), now);
        assert!(slow.is_ok());
        let refused = Response::from(t.take_token(1, ip(3), now).unwrap_err());
        assert_eq!(refused.headers[RETRY_AFTER], "1");
    }

    #[test]
    fn rate_table_is_bounded() {
        let mut t = PerIp::default();
        let now = Instant::now();
        let cap = u32::try_from(RATE_TABLE_CAP).unwrap();
        for n in 0..cap {
            assert!(t.take_token(1, ip(n), now).is_ok());
        }
        // Every address is busy (its bucket is empty): a new one is refused, not added.
        let refused = t.take_token(1, ip(cap), now).unwrap_err();
        assert!(
            matches!(refused, Refusal::RateTableFull { rate: 1 }),
            "{refused}"
        );
        assert_eq!(t.buckets.len(), RATE_TABLE_CAP);
        // A second later every bucket is full again: the sweep empties the table.
        let later = now + Duration::from_secs(2);
        assert!(t.take_token(1, ip(cap), later).is_ok());
        assert_eq!(t.buckets.len(), 1);
        // Switched off: the table goes.
        assert!(t.take_token(0, ip(cap), later).is_ok());
        assert!(t.buckets.is_empty());
    }
}
