//! The [`Transport`] on Redis: pub/sub over one RESP3 connection (which resubscribes by
//! itself after a reconnect), node leases as keys with a time to live.
//!
//! | Redis name | what |
//! | --- | --- |
//! | `CLUSTER:node:ID`, `CLUSTER:all`, `CLUSTER:room:NAME` | pub/sub channels ([`Channel`]) |
//! | `CLUSTER:lease:ID` (string, expires) | the token of the process that holds node id `ID` |
//! | `CLUSTER:nodes` (sorted set) | node ids scored by when their lease expires (ms) |

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ProtocolVersion, PushInfo, PushKind, Value};
use tokio::sync::mpsc;

use super::transport::{Channel, Transport, TransportError};
use crate::future::BoxFuture;

/// Every Redis call answers within this, or fails.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// A publish answers within this, or fails: a connection's hook waits for it, so a Redis that
/// has just gone away (the first publish after it finds out) holds the hook this long at most.
const PUBLISH_TIMEOUT: Duration = Duration::from_millis(500);

/// Takes or renews a lease: `KEYS[1]` the lease, `KEYS[2]` the node set; `ARGV` token, ttl
/// (ms), node id. Scores the node set with Redis's own clock.
const LEASE: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
return 1
";

/// Releases a lease held by `ARGV[1]` (token), removing node `ARGV[2]` from the set.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[2])
end
return 1
";

/// The node ids whose leases have not expired, by Redis's clock; drops expired ones.
const NODES: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
";

/// A cluster's connection to Redis.
pub(crate) struct RedisTransport {
    cluster: String,
    conn: ConnectionManager,
}

impl std::fmt::Debug for RedisTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTransport")
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl RedisTransport {
    /// Connects to `url` (`redis://HOST:PORT[/DB]`, with a password if any). Received packets
    /// go to `inbound`; when it is full they are dropped and counted in the log (the reader
    /// of inbound packets never waits on a client, so it is full only under overload).
    pub(crate) async fn connect(
        url: &str,
        cluster: &str,
        inbound: mpsc::Sender<Bytes>,
    ) -> Result<Self, TransportError> {
        let info = redis::IntoConnectionInfo::into_connection_info(url)
            .map_err(|e| TransportError::new("parse the broker URL", e))?;
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let info = info.set_redis_settings(settings);
        let client =
            redis::Client::open(info).map_err(|e| TransportError::new("open the broker", e))?;
        let overloaded = Arc::new(AtomicBool::new(false));
        let push = move |push: PushInfo| -> Result<(), ()> {
            if push.kind != PushKind::Message {
                return Ok(());
            }
            // `message`: [channel, payload].
            let Some(Value::BulkString(payload)) = push.data.into_iter().nth(1) else {
                return Ok(());
            };
            match inbound.try_send(Bytes::from(payload)) {
                Ok(()) => {
                    if overloaded.swap(false, Ordering::Relaxed) {
                        tracing::info!("broker: inbound packets flow again");
                    }
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    if !overloaded.swap(true, Ordering::Relaxed) {
                        tracing::warn!("broker: inbound queue full, dropping packets");
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
            Ok(())
        };
        let config = ConnectionManagerConfig::new()
            .set_push_sender(push)
            .set_automatic_resubscription()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            // Back soon after Redis is: what is published in between is lost for the others.
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = tokio::time::timeout(
            CALL_TIMEOUT * 2,
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| TransportError::new("connect to the broker", "timed out"))?
        .map_err(|e| TransportError::new("connect to the broker", e))?;
        Ok(Self {
            cluster: cluster.to_owned(),
            conn,
        })
    }

    fn key(&self, what: &str) -> String {
        format!("{}:{what}", self.cluster)
    }

    async fn call<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, TransportError> {
        self.call_within(op, cmd, CALL_TIMEOUT).await
    }

    async fn call_within<T: redis::FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
        timeout: Duration,
    ) -> Result<T, TransportError> {
        let mut conn = self.conn.clone();
        match tokio::time::timeout(timeout, cmd.query_async(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(TransportError::new(op, e)),
            Err(_) => Err(TransportError::new(op, "timed out")),
        }
    }
}

impl Transport for RedisTransport {
    fn publish<'a>(
        &'a self,
        channel: &'a Channel,
        packet: Bytes,
    ) -> BoxFuture<'a, Result<usize, TransportError>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("PUBLISH");
            cmd.arg(channel.name(&self.cluster)).arg(&packet[..]);
            self.call_within("publish", &cmd, PUBLISH_TIMEOUT).await
        })
    }

    fn subscribe<'a>(&'a self, channel: &'a Channel) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let name = channel.name(&self.cluster);
            match tokio::time::timeout(CALL_TIMEOUT, conn.subscribe(&name)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(TransportError::new("subscribe", e)),
                Err(_) => Err(TransportError::new("subscribe", "timed out")),
            }
        })
    }

    fn unsubscribe<'a>(
        &'a self,
        channel: &'a Channel,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(async move {
            let mut conn = self.conn.clone();
            let name = channel.name(&self.cluster);
            match tokio::time::timeout(CALL_TIMEOUT, conn.unsubscribe(&name)).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(TransportError::new("unsubscribe", e)),
                Err(_) => Err(TransportError::new("unsubscribe", "timed out")),
            }
        })
    }

    fn lease<'a>(
        &'a self,
        node: u16,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, TransportError>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(LEASE)
                .arg(2)
                .arg(self.key(&format!("lease:{node}")))
                .arg(self.key("nodes"))
                .arg(token)
                .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
                .arg(node);
            let taken: i64 = self.call("lease the node id", &cmd).await?;
            Ok(taken == 1)
        })
    }

    fn release<'a>(
        &'a self,
        node: u16,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(RELEASE)
                .arg(2)
                .arg(self.key(&format!("lease:{node}")))
                .arg(self.key("nodes"))
                .arg(token)
                .arg(node);
            let _: i64 = self.call("release the node id", &cmd).await?;
            Ok(())
        })
    }

    fn nodes(&self) -> BoxFuture<'_, Result<Vec<u16>, TransportError>> {
        Box::pin(async move {
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(NODES).arg(1).arg(self.key("nodes"));
            self.call("list the nodes", &cmd).await
        })
    }
}
