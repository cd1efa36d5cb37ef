//! Where the CPU went during a run: the server's, Redis's and Postgres's
//! processes from `/proc/<pid>/stat`, the machine's busy time from
//! `/proc/stat`; what is left is wrk and the rest.

/// The cores each part kept busy during a run (CPU seconds per second).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct CpuShare {
    pub(super) server: f64,
    pub(super) redis: f64,
    pub(super) postgres: f64,
    /// wrk, mostly: the machine's busy time less the parts above.
    pub(super) rest: f64,
}

/// CPU spent so far, in milliseconds.
pub(super) struct CpuSnapshot {
    server: f64,
    redis: f64,
    postgres: f64,
    machine: f64,
    at: std::time::Instant,
}

impl CpuSnapshot {
    pub(super) fn take(server: &[u32], redis: &[u32]) -> Self {
        Self {
            server: crate::fleet::cpu_ms(server),
            redis: crate::fleet::cpu_ms(redis),
            postgres: crate::fleet::cpu_ms(&pids_of("postgres")),
            machine: machine_busy_ms(),
            at: std::time::Instant::now(),
        }
    }

    pub(super) fn share_since(&self, earlier: &CpuSnapshot) -> CpuShare {
        let elapsed_ms = (self.at - earlier.at).as_secs_f64() * 1000.0;
        let cores = |later: f64, before: f64| (later - before).max(0.0) / elapsed_ms;
        let (server, redis, postgres) = (
            cores(self.server, earlier.server),
            cores(self.redis, earlier.redis),
            cores(self.postgres, earlier.postgres),
        );
        CpuShare {
            server,
            redis,
            postgres,
            rest: (cores(self.machine, earlier.machine) - server - redis - postgres).max(0.0),
        }
    }
}

/// The processes whose command is `name`.
fn pids_of(name: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == name)
        })
        .collect()
}

/// The machine's busy CPU time so far (`/proc/stat`, all cores, 10 ms ticks).
fn machine_busy_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let busy: f64 = ticks.iter().take(8).sum::<f64>()
        - ticks.get(3).copied().unwrap_or(0.0)
        - ticks.get(4).copied().unwrap_or(0.0);
    busy * 10.0
}
