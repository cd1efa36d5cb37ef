//! Private Redis and Postgres servers for the tests that kill, stop or wipe them:
//! real processes on free ports with data directories of their own, never the
//! shared servers other tests use. Both stop when dropped.
//!
//! Postgres refuses to run as root, and CI runs as root: there `initdb` and
//! `pg_ctl` (Debian's, from `/usr/lib/postgresql/<version>/bin`) run as the
//! `postgres` user through `runuser`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free port on the loopback interface.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|error| format!("no free port: {error}"))
}

/// A fresh directory under the system's temporary directory.
fn scratch_dir(kind: &str) -> Result<PathBuf, String> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("flashsale-{kind}-{}", &id[..12]));
    std::fs::create_dir_all(&dir).map_err(|error| format!("cannot create {dir:?}: {error}"))?;
    Ok(dir)
}

/// How Redis keeps what it acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// Nothing on disk: a restart starts empty.
    None,
    /// `appendonly yes`, `appendfsync always`: every write on disk before its answer.
    AofAlways,
    /// `appendonly yes`, `appendfsync everysec`.
    AofEverySec,
}

/// A `redis-server` of one test: its port, its directory, its process.
pub struct PrivateRedis {
    pub port: u16,
    dir: PathBuf,
    persistence: Persistence,
    /// A node of a Redis Cluster (its state in `nodes.conf` in `dir`).
    cluster: bool,
    child: Option<Child>,
}

impl PrivateRedis {
    /// Starts a Redis on a free port and waits until it answers.
    pub fn start(persistence: Persistence) -> Result<Self, String> {
        let mut redis = Self {
            port: free_port()?,
            dir: scratch_dir("redis")?,
            persistence,
            cluster: false,
            child: None,
        };
        redis.restart()?;
        Ok(redis)
    }

    /// Starts a Redis with cluster mode on, not yet part of a cluster, on a
    /// free port whose cluster bus port (port + 10000) is free too.
    fn start_cluster_node() -> Result<Self, String> {
        let port = (0..100)
            .find_map(|_| {
                let port = free_port().ok()?;
                let bus = port.checked_add(10_000)?;
                std::net::TcpListener::bind(("127.0.0.1", bus)).ok()?;
                Some(port)
            })
            .ok_or("no free port with a free cluster bus port")?;
        let mut redis = Self {
            port,
            dir: scratch_dir("redis-node")?,
            persistence: Persistence::None,
            cluster: true,
            child: None,
        };
        redis.restart()?;
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the process again on the same port and directory (after a kill,
    /// with whatever its append-only file kept).
    pub fn restart(&mut self) -> Result<(), String> {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--daemonize", "no", "--save", "", "--protected-mode", "no"])
            .arg("--dir")
            .arg(&self.dir);
        if self.cluster {
            command
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                ])
                .args(["--cluster-node-timeout", "2000"]);
        }
        match self.persistence {
            Persistence::None => command.args(["--appendonly", "no"]),
            Persistence::AofAlways => {
                command.args(["--appendonly", "yes", "--appendfsync", "always"])
            }
            Persistence::AofEverySec => {
                command.args(["--appendonly", "yes", "--appendfsync", "everysec"])
            }
        };
        let log = std::fs::File::create(self.dir.join("redis.log"))
            .map_err(|error| format!("cannot write the Redis log: {error}"))?;
        let child = command
            .stdout(log)
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| {
                format!("cannot start redis-server (apt install redis-server): {error}")
            })?;
        self.child = Some(child);
        wait_for_port(self.port, "redis-server")?;
        // Answering on the port is not yet loaded: wait for PING.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let pong = Command::new("redis-cli")
                .args(["-p", &self.port.to_string(), "ping"])
                .output()
                .map_err(|error| format!("cannot run redis-cli: {error}"))?;
            if String::from_utf8_lossy(&pong.stdout).trim() == "PONG" {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("the private Redis did not answer PING within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL, as a crash: no shutdown, no final write.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGSTOP: the process hangs, its connections stay open.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT after [`PrivateRedis::freeze`].
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status();
        }
    }

    /// Everything Redis held, gone: killed, its files deleted, started empty.
    pub fn lose_everything(&mut self) -> Result<(), String> {
        self.kill();
        std::fs::remove_dir_all(&self.dir)
            .and_then(|()| std::fs::create_dir_all(&self.dir))
            .map_err(|error| format!("cannot wipe {:?}: {error}", self.dir))?;
        self.restart()
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.thaw();
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of one test: `masters` nodes, no replicas, the hash slots
/// spread evenly (`redis-cli --cluster create`).
pub struct PrivateRedisCluster {
    pub nodes: Vec<PrivateRedis>,
}

impl PrivateRedisCluster {
    /// Starts the nodes, joins them, and waits until every node reports the
    /// cluster ok.
    pub fn start(masters: usize) -> Result<Self, String> {
        let nodes = (0..masters)
            .map(|_| PrivateRedis::start_cluster_node())
            .collect::<Result<Vec<_>, _>>()?;
        let cluster = Self { nodes };
        let mut create = Command::new("redis-cli");
        create.arg("--cluster").arg("create");
        for node in &cluster.nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        create.args(["--cluster-replicas", "0", "--cluster-yes"]);
        run(create.stdout(Stdio::null()))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in &cluster.nodes {
            loop {
                let info = Command::new("redis-cli")
                    .args(["-p", &node.port.to_string(), "cluster", "info"])
                    .output()
                    .map_err(|error| format!("cannot run redis-cli: {error}"))?;
                if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    break;
                }
                if Instant::now() > deadline {
                    return Err("the private Redis Cluster was not ok within 30 s".into());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(cluster)
    }

    /// Every node's URL (`REDIS_CLUSTER_URLS` takes them comma-separated).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(PrivateRedis::url).collect()
    }

    /// The port of the node serving `key`'s slot.
    pub fn node_of(&self, key: &str) -> Result<u16, String> {
        let slot = Command::new("redis-cli")
            .args([
                "-p",
                &self.nodes[0].port.to_string(),
                "cluster",
                "keyslot",
                key,
            ])
            .output()
            .map_err(|error| format!("cannot run redis-cli: {error}"))?;
        let slot: u16 = String::from_utf8_lossy(&slot.stdout)
            .trim()
            .parse()
            .map_err(|_| format!("CLUSTER KEYSLOT {key} answered no number"))?;
        let slots = Command::new("redis-cli")
            .args(["-p", &self.nodes[0].port.to_string(), "cluster", "slots"])
            .output()
            .map_err(|error| format!("cannot run redis-cli: {error}"))?;
        // Lines of (start, end, host, port, id) per range, one value per line.
        let lines: Vec<String> = String::from_utf8_lossy(&slots.stdout)
            .lines()
            .map(|line| line.trim().to_owned())
            .collect();
        lines
            .windows(4)
            .find_map(|window| {
                let (start, end): (u16, u16) = (window[0].parse().ok()?, window[1].parse().ok()?);
                let port = window[3].parse().ok()?;
                (start <= slot && slot <= end && window[2] == "127.0.0.1").then_some(port)
            })
            .ok_or_else(|| format!("no node serves slot {slot}"))
    }
}

/// An nginx of one test in front of server instances: one address, requests
/// spread round-robin, a dead instance skipped.
pub struct PrivateNginx {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl PrivateNginx {
    /// Starts nginx (Debian's) on a free port in front of the instances on `upstreams`.
    pub fn start(upstreams: &[u16]) -> Result<Self, String> {
        let port = free_port()?;
        let dir = scratch_dir("nginx")?;
        let servers: String = upstreams
            .iter()
            .map(|upstream| {
                format!("    server 127.0.0.1:{upstream} max_fails=1 fail_timeout=2s;\n")
            })
            .collect();
        let config = NGINX_CONFIG
            .replace("{dir}", &dir.display().to_string())
            .replace("{port}", &port.to_string())
            .replace("{servers}", &servers);
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config).map_err(|error| format!("cannot write {conf:?}: {error}"))?;
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start nginx (apt install nginx): {error}"))?;
        let nginx = Self {
            port,
            dir,
            child: Some(child),
        };
        wait_for_port(port, "nginx")?;
        Ok(nginx)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The master's and its worker's process ids.
    pub fn pids(&self) -> Vec<u32> {
        let Some(master) = self.child.as_ref().map(Child::id) else {
            return Vec::new();
        };
        let children = std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))
            .unwrap_or_default();
        std::iter::once(master)
            .chain(
                children
                    .split_whitespace()
                    .filter_map(|pid| pid.parse().ok()),
            )
            .collect()
    }
}

impl Drop for PrivateNginx {
    /// SIGTERM: the master stops its workers (a SIGKILL would leave them
    /// serving the port).
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `nginx`, which Debian installs under /usr/sbin (not on every user's PATH).
fn nginx_binary() -> PathBuf {
    let debian = PathBuf::from("/usr/sbin/nginx");
    if debian.exists() {
        debian
    } else {
        PathBuf::from("nginx")
    }
}

/// The configuration of the load balancer of `scripts/cluster` and the
/// cluster drill (its comments say what it does and why).
pub const NGINX_CONFIG: &str = include_str!("../../scripts/nginx-cluster.conf");

/// A Postgres cluster of one test (`initdb`), started and stopped with `pg_ctl`.
pub struct PrivatePostgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
}

impl PrivatePostgres {
    /// Creates a cluster (trust authentication, user `postgres`) and starts it.
    pub fn start() -> Result<Self, String> {
        let bin = postgres_bin()?;
        let dir = scratch_dir("postgres")?;
        let postgres = Self {
            port: free_port()?,
            dir,
            bin,
        };
        if running_as_root() {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(&postgres.dir))?;
        }
        let data = postgres.data();
        postgres.run_tool("initdb", |command| {
            command
                .args(["-D", &data, "-U", "postgres", "-A", "trust", "--no-sync"])
                .args(["-E", "UTF8", "--locale", "C"]);
        })?;
        postgres.resume()?;
        Ok(postgres)
    }

    /// The admin URL (database `postgres`).
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub fn resume(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}' \
             -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let (data, log) = (self.data(), self.dir.join("postgres.log"));
        self.run_tool("pg_ctl", |command| {
            command
                .args(["start", "-w", "-t", "60", "-D", &data, "-o", &options, "-l"])
                .arg(&log);
        })
    }

    /// Stops the server: `fast` (connections cut, a clean shutdown) or, when
    /// `crash` is set, `immediate` (as if the process died).
    pub fn stop(&self, crash: bool) -> Result<(), String> {
        let data = self.data();
        let mode = if crash { "immediate" } else { "fast" };
        self.run_tool("pg_ctl", |command| {
            command.args(["stop", "-w", "-D", &data, "-m", mode]);
        })
    }

    /// Runs one of the cluster's tools, as the `postgres` user under root.
    fn run_tool(&self, tool: &str, arguments: impl FnOnce(&mut Command)) -> Result<(), String> {
        let program = self.bin.join(tool);
        let mut command = if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        arguments(&mut command);
        run(command.current_dir(&self.dir))
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.stop(true);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `pg_ctl` in it.
fn postgres_bin() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|error| format!("no /usr/lib/postgresql (apt install postgresql): {error}"))?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| "no pg_ctl under /usr/lib/postgresql/*/bin".into())
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run {command:?}: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Waits until something listens on `port`.
fn wait_for_port(port: u16, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{what} did not listen on {port} within 30 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
