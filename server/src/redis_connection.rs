//! The way to Redis: one server (`REDIS_URL`) or a Redis Cluster
//! (`REDIS_CLUSTER_URLS`), chosen by configuration. The stores hold a
//! [`RedisConnection`] and run commands, pipelines and scripts on it the same
//! way in both cases; the redis crate's cluster client routes each by its key's
//! slot and follows `MOVED`/`ASK` and failovers.
//!
//! What a cluster asks of the code above, and where it is kept:
//! - every script, transaction and pipeline touches the keys of one sale only
//!   (its hash tag): `keys::tests` checks each one;
//! - a read over several sales is one command per sale (see `SaleStock::stock_left_of`,
//!   `OutcomeTally::flush`, `DeadLetters::list`, `OrderConsumer::read_once`);
//! - a blocking read gets a connection of its own ([`RedisClient::dedicated`]), so
//!   it never holds up the commands of the request handlers;
//! - the sold-out notices use a classic pub/sub channel, which a cluster
//!   forwards to every node: one subscription hears every sale, the notices are
//!   rare (a sale's last unit coming back), and the same code serves one server.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::{
    Cmd, FromRedisValue, IntoConnectionInfo, Pipeline, ProtocolVersion, PushInfo, RedisFuture,
    RedisResult, Value,
};
use tokio::sync::mpsc::UnboundedSender;

use crate::secret::Secret;

/// How long a connection attempt may take, and a command's answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Where Redis is.
#[derive(Clone, Debug)]
pub enum RedisTarget {
    /// One server.
    Node(Secret<String>),
    /// A Redis Cluster, named by some of its nodes (the others are discovered).
    Cluster(Secret<Vec<String>>),
}

/// Opens connections to the configured Redis.
#[derive(Clone)]
pub enum RedisClient {
    Node(redis::Client),
    Cluster(Vec<redis::ConnectionInfo>),
}

impl RedisClient {
    /// Checks the URLs; connects to nothing yet.
    pub fn open(target: &RedisTarget) -> RedisResult<Self> {
        Ok(match target {
            RedisTarget::Node(url) => {
                RedisClient::Node(redis::Client::open(url.expose().as_str())?)
            }
            RedisTarget::Cluster(urls) => RedisClient::Cluster(
                urls.expose()
                    .iter()
                    .map(|url| url.as_str().into_connection_info())
                    .collect::<RedisResult<_>>()?,
            ),
        })
    }

    /// A cluster client speaking `protocol`; its timeouts come with each
    /// connection's [`cluster_config`] (which overrides the builder's).
    fn cluster(
        seeds: &[redis::ConnectionInfo],
        protocol: ProtocolVersion,
    ) -> RedisResult<ClusterClient> {
        ClusterClientBuilder::new(seeds.to_vec())
            .use_protocol(protocol)
            .build()
    }

    /// The connection the stores share. It connects on first use (an instance
    /// starts, and reports not ready, while Redis is away) and reconnects by itself.
    pub fn shared(&self) -> RedisResult<RedisConnection> {
        Ok(match self {
            RedisClient::Node(client) => {
                let config =
                    manager_config(RESPONSE_TIMEOUT).set_max_delay(Duration::from_millis(500));
                RedisConnection::Node(ConnectionManager::new_lazy_with_config(
                    client.clone(),
                    config,
                )?)
            }
            RedisClient::Cluster(seeds) => RedisConnection::Cluster(
                Self::cluster(seeds, ProtocolVersion::RESP2)?
                    .get_pending_async_connection_with_config(cluster_config(RESPONSE_TIMEOUT)),
            ),
        })
    }

    /// A connection of its own, for blocking reads: Redis answers one
    /// connection's commands in order, so a read that waits would hold up every
    /// command behind it. It waits up to `response_timeout` for an answer.
    pub async fn dedicated(&self, response_timeout: Duration) -> RedisResult<RedisConnection> {
        Ok(match self {
            RedisClient::Node(client) => {
                let config = manager_config(response_timeout).set_number_of_retries(1);
                RedisConnection::Node(
                    ConnectionManager::new_with_config(client.clone(), config).await?,
                )
            }
            RedisClient::Cluster(seeds) => RedisConnection::Cluster(
                Self::cluster(seeds, ProtocolVersion::RESP2)?
                    .get_async_connection_with_config(cluster_config(response_timeout))
                    .await?,
            ),
        })
    }

    /// A connection subscribed to the pub/sub `channel`: its messages, and a
    /// `Disconnection` whenever the link drops (messages may have been missed
    /// then), arrive on `pushes`. After a reconnect it subscribes again by
    /// itself; the caller's commands on it (a `PING`) make it reconnect.
    pub async fn subscribe(
        &self,
        channel: &str,
        pushes: UnboundedSender<PushInfo>,
    ) -> RedisResult<RedisConnection> {
        let mut connection = match self {
            RedisClient::Node(client) => {
                let info = client.get_connection_info().clone();
                let resp3 = info
                    .redis_settings()
                    .clone()
                    .set_protocol(ProtocolVersion::RESP3);
                let client = redis::Client::open(info.set_redis_settings(resp3))?;
                let config = manager_config(RESPONSE_TIMEOUT)
                    .set_push_sender(pushes)
                    .set_automatic_resubscription();
                RedisConnection::Node(ConnectionManager::new_with_config(client, config).await?)
            }
            RedisClient::Cluster(seeds) => RedisConnection::Cluster(
                Self::cluster(seeds, ProtocolVersion::RESP3)?
                    .get_async_connection_with_config(
                        cluster_config(RESPONSE_TIMEOUT).set_push_sender(pushes),
                    )
                    .await?,
            ),
        };
        match &mut connection {
            RedisConnection::Node(node) => node.subscribe(channel).await?,
            RedisConnection::Cluster(cluster) => cluster.subscribe(channel).await?,
        }
        Ok(connection)
    }
}

/// One server's connection settings: [`CONNECT_TIMEOUT`], and `response_timeout`.
fn manager_config(response_timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(response_timeout))
}

/// A cluster connection's settings, the same two timeouts.
fn cluster_config(response_timeout: Duration) -> ClusterConfig {
    ClusterConfig::new()
        .set_connection_timeout(CONNECT_TIMEOUT)
        .set_response_timeout(response_timeout)
}

/// A connection to Redis, shared by cloning (commands of all clones are
/// multiplexed); it reconnects by itself after Redis went away.
#[derive(Clone)]
pub enum RedisConnection {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

impl RedisConnection {
    /// Runs `command` on every master node and answers each node's reply, named
    /// by its address (one server: just its own, named by nothing).
    pub async fn on_every_master<T: FromRedisValue>(
        &mut self,
        command: &Cmd,
    ) -> RedisResult<Vec<(String, T)>> {
        match self {
            RedisConnection::Node(node) => {
                Ok(vec![(String::new(), command.query_async(node).await?)])
            }
            RedisConnection::Cluster(cluster) => {
                let routing = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let replies: Vec<(String, Value)> =
                    match cluster.route_command(command.clone(), routing).await? {
                        Value::Map(replies) => replies
                            .into_iter()
                            .map(|(node, reply)| Ok((String::from_redis_value(node)?, reply)))
                            .collect::<RedisResult<_>>()?,
                        other => vec![(String::new(), other)],
                    };
                replies
                    .into_iter()
                    .map(|(node, reply)| Ok((node, T::from_redis_value(reply)?)))
                    .collect()
            }
        }
    }
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConnection::Node(node) => node.req_packed_command(cmd),
            RedisConnection::Cluster(cluster) => cluster.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConnection::Node(node) => node.req_packed_commands(pipeline, offset, count),
            RedisConnection::Cluster(cluster) => {
                cluster.req_packed_commands(pipeline, offset, count)
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConnection::Node(node) => node.get_db(),
            RedisConnection::Cluster(cluster) => cluster.get_db(),
        }
    }
}
