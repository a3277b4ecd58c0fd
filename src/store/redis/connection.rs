//! One connection type for every store and queue, whatever `REDIS_URL` names ([`RedisTarget`]): a single
//! server, a Redis Cluster, or the master that Sentinel points at. Each is multiplexed and reconnects by itself, so
//! one clone per call is cheap and a process holds one connection (per node, on a cluster).
//!
//! On a cluster, a command goes to the node holding its key's slot, and a script or pipeline must touch keys of one
//! slot: every key a script or pipeline writes together shares a hash tag (`{...}`). Under Sentinel, a watcher asks
//! the Sentinels for the master every [`SENTINEL_POLL`] and moves the connection to the new master after a
//! failover; calls in between fail like any outage (503 to Meta, a job retried later).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::target::{Auth, RedisTarget};

/// How often the Sentinels are asked which server is the master.
pub const SENTINEL_POLL: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub enum RedisConn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(SentinelConn),
}

impl RedisConn {
    /// Connects to what `target` names. `response_timeout` bounds each call (each attempt on a cluster; all of
    /// a call's retries and redirections together take at most four times as long).
    pub async fn open(target: &RedisTarget, response_timeout: Duration) -> redis::RedisResult<Self> {
        match target {
            RedisTarget::Single { url } => {
                let client = redis::Client::open(url.as_str())?;
                Ok(Self::Single(manager(client, response_timeout).await?))
            }
            RedisTarget::Cluster { nodes } => {
                let client = ClusterClientBuilder::new(nodes.iter().map(String::as_str))
                    .connection_timeout(response_timeout.max(Duration::from_secs(1)))
                    .response_timeout(response_timeout)
                    .overall_response_timeout(Some(response_timeout * 4))
                    .retries(3)
                    .min_retry_wait(50)
                    .max_retry_wait(1_000)
                    .build()?;
                Ok(Self::Cluster(client.get_async_connection().await?))
            }
            RedisTarget::Sentinel { sentinels, master, auth, db } => {
                Ok(Self::Sentinel(SentinelConn::open(sentinels, master, auth, *db, response_timeout).await?))
            }
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }
}

async fn manager(client: redis::Client, response_timeout: Duration) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_response_timeout(Some(response_timeout))
        .set_connection_timeout(Some(response_timeout.max(Duration::from_secs(1))))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(2));
    ConnectionManager::new_with_config(client, config).await
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
            Self::Sentinel(conn) => {
                let mut current = conn.current();
                Box::pin(async move { current.req_packed_command(cmd).await })
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(conn) => {
                let mut current = conn.current();
                Box::pin(async move { current.req_packed_commands(pipeline, offset, count).await })
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
            Self::Sentinel(conn) => conn.db,
        }
    }
}

/// The connection to the master the Sentinels name, moved to the new master after a failover.
#[derive(Clone)]
pub struct SentinelConn {
    current: Arc<RwLock<Master>>,
    db: i64,
}

struct Master {
    addr: String,
    conn: ConnectionManager,
}

impl SentinelConn {
    async fn open(
        sentinels: &[String],
        master: &str,
        auth: &Auth,
        db: i64,
        response_timeout: Duration,
    ) -> redis::RedisResult<Self> {
        let mut redis_info = redis::RedisConnectionInfo::default().set_db(db);
        if let Some(username) = &auth.username {
            redis_info = redis_info.set_username(username);
        }
        if let Some(password) = &auth.password {
            redis_info = redis_info.set_password(password);
        }
        let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(redis_info);
        let mut sentinel = SentinelClient::build(
            sentinels.iter().map(String::as_str).collect(),
            master.to_owned(),
            Some(node),
            SentinelServerType::Master,
        )?;
        let client = sentinel.async_get_client().await?;
        let addr = client.get_connection_info().addr().to_string();
        let conn = manager(client, response_timeout).await?;
        let current = Arc::new(RwLock::new(Master { addr, conn }));
        tokio::spawn(watch_master(sentinel, Arc::downgrade(&current), response_timeout));
        Ok(Self { current, db })
    }

    fn current(&self) -> ConnectionManager {
        match self.current.read() {
            Ok(master) => master.conn.clone(),
            Err(poisoned) => poisoned.into_inner().conn.clone(),
        }
    }
}

/// Asks the Sentinels for the master until the connection is dropped; connects to a new master when it changes.
async fn watch_master(
    mut sentinel: SentinelClient,
    current: std::sync::Weak<RwLock<Master>>,
    response_timeout: Duration,
) {
    loop {
        tokio::time::sleep(SENTINEL_POLL).await;
        let Some(shared) = current.upgrade() else { return };
        let known = match shared.read() {
            Ok(master) => master.addr.clone(),
            Err(poisoned) => poisoned.into_inner().addr.clone(),
        };
        let client = match sentinel.async_get_client().await {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(%error, "no Sentinel names a master now; keeping the connection to {known}");
                continue;
            }
        };
        let addr = client.get_connection_info().addr().to_string();
        if addr == known {
            continue;
        }
        match manager(client, response_timeout).await {
            Ok(conn) => {
                tracing::warn!(from = %known, to = %addr, "Redis master changed (Sentinel failover): connection moved");
                let mut master = match shared.write() {
                    Ok(master) => master,
                    Err(poisoned) => poisoned.into_inner(),
                };
                *master = Master { addr, conn };
            }
            Err(error) => tracing::warn!(%error, to = %addr, "cannot connect to the new Redis master yet"),
        }
    }
}
