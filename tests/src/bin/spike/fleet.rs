//! Where a spike runs when it is not one server on the shared Redis: several
//! instances, nginx in front of them, a Redis or a Redis Cluster of the run's
//! own (`--instances`, `--nginx`, `--redis`). Every process is the run's, so
//! the CPU each part spent on a round can be read from `/proc` and divided by
//! the shoppers it served: the per-request costs a fleet is sized by.

use serde::Serialize;
use server::redis_connection::RedisTarget;
use server::secret::Secret;
use systests::private_servers::{Persistence, PrivateNginx, PrivateRedis, PrivateRedisCluster};

use crate::args::{Options, RedisChoice};
use crate::rig::{Infra, Rig};

/// The run's own servers beside the rig's instances; stopped when dropped.
#[derive(Default)]
pub struct Fleet {
    redis: Option<PrivateRedis>,
    cluster: Option<PrivateRedisCluster>,
    nginx: Option<PrivateNginx>,
}

impl Fleet {
    /// Starts the Redis the options ask for, the rig with its instances, and
    /// nginx in front of them; the rig's address is then nginx's.
    pub async fn prepare(options: &Options) -> Result<(Fleet, Rig), String> {
        let mut fleet = Fleet::default();
        let mut infra = Infra::shared();
        infra.instances = options.instances;
        match options.redis {
            RedisChoice::Shared => {}
            RedisChoice::Own => {
                let redis = PrivateRedis::start(Persistence::None)?;
                infra.redis = RedisTarget::Node(Secret::new(redis.url()));
                fleet.redis = Some(redis);
            }
            RedisChoice::Cluster(masters) => {
                let cluster = PrivateRedisCluster::start(masters)?;
                infra.redis = RedisTarget::Cluster(Secret::new(cluster.urls()));
                fleet.cluster = Some(cluster);
            }
        }
        let mut rig = Rig::prepare_on(options, infra).await?;
        if options.nginx {
            let ports: Vec<u16> = rig.instances.iter().map(|instance| instance.port).collect();
            let nginx = PrivateNginx::start(&ports)?;
            rig.base_url = nginx.url();
            fleet.nginx = Some(nginx);
        }
        Ok((fleet, rig))
    }

    /// CPU time every part has used so far.
    pub fn cpu(&self, rig: &Rig) -> CpuUse {
        let redis_nodes: Vec<f64> = match (&self.redis, &self.cluster) {
            (Some(redis), _) => redis.pid().iter().map(|pid| cpu_ms(&[*pid])).collect(),
            (_, Some(cluster)) => cluster
                .nodes
                .iter()
                .filter_map(PrivateRedis::pid)
                .map(|pid| cpu_ms(&[pid]))
                .collect(),
            _ => Vec::new(),
        };
        let server_pids: Vec<u32> = rig
            .instances
            .iter()
            .filter_map(|instance| instance.process.as_ref()?.pid())
            .collect();
        CpuUse {
            servers_ms: cpu_ms(&server_pids),
            redis_ms: (!redis_nodes.is_empty()).then(|| redis_nodes.iter().sum()),
            redis_nodes_ms: redis_nodes,
            nginx_ms: self.nginx.as_ref().map(|nginx| cpu_ms(&nginx.pids())),
            generator_ms: cpu_ms(&[std::process::id()]),
        }
    }
}

/// CPU time (user + system) in milliseconds, per part of the deployment.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CpuUse {
    pub servers_ms: f64,
    /// `None` on the shared Redis, whose process is not the run's.
    pub redis_ms: Option<f64>,
    /// Each Redis node's part (one entry on a single server).
    pub redis_nodes_ms: Vec<f64>,
    pub nginx_ms: Option<f64>,
    pub generator_ms: f64,
}

impl CpuUse {
    /// What was spent between `self` and `later`.
    pub fn until(&self, later: &CpuUse) -> CpuUse {
        let spent = |before: Option<f64>, after: Option<f64>| Some(after? - before?);
        CpuUse {
            servers_ms: later.servers_ms - self.servers_ms,
            redis_ms: spent(self.redis_ms, later.redis_ms),
            redis_nodes_ms: self
                .redis_nodes_ms
                .iter()
                .zip(&later.redis_nodes_ms)
                .map(|(before, after)| after - before)
                .collect(),
            nginx_ms: spent(self.nginx_ms, later.nginx_ms),
            generator_ms: later.generator_ms - self.generator_ms,
        }
    }
}

/// User plus system CPU of `pids` so far (fields 14 and 15 of
/// `/proc/<pid>/stat`, in clock ticks of 10 ms).
pub fn cpu_ms(pids: &[u32]) -> f64 {
    const MS_PER_TICK: f64 = 10.0;
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| {
            // The command name may hold spaces: count fields after its `)`.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let user: f64 = fields.get(11)?.parse().ok()?;
            let system: f64 = fields.get(12)?.parse().ok()?;
            Some((user + system) * MS_PER_TICK)
        })
        .sum()
}
