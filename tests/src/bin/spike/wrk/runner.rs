//! One wrk run: the request list cycled by `wrk.lua`, the answers counted by
//! status, requests per second and latency read from wrk's report; and the
//! `perf` profile recorded beside a run.

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

use super::WrkOptions;
use crate::rig::Rig;

/// Cycles through the requests of the file in `WRK_REQUESTS`, one per line:
/// `METHOD PATH [COOKIE [IF-NONE-MATCH]]`, from line `WRK_FIRST` on (so a
/// later run of the same list sends requests not sent yet), pausing
/// `WRK_DELAY_MS` after each answer when that is set.
pub(super) const SCRIPT: &str = include_str!("wrk.lua");

/// How wrk drives one run.
#[derive(Clone, Copy, Debug)]
pub(super) struct Load {
    pub(super) connections: u32,
    pub(super) seconds: u32,
    /// The pause after each answer on a connection (`None`: none, saturate).
    pub(super) pause_ms: Option<u32>,
    /// The first line of the request list to send.
    pub(super) first: u64,
}

/// Runs wrk once and checks that every answer was the row's.
pub(super) async fn measure_row(
    options: &WrkOptions,
    script: &Path,
    requests: &Path,
    url: &str,
    load: Load,
    name: &str,
    expected: u16,
) -> Result<Measured, String> {
    let measured = wrk(options, script, requests, url, load).await?;
    let answered = measured.answered();
    let other: Vec<String> = measured
        .statuses
        .iter()
        .filter(|(status, _)| *status != expected)
        .map(|(status, count)| format!("{count} × {status}"))
        .collect();
    if answered == 0 || !other.is_empty() {
        return Err(format!(
            "{name}: expected only {expected}, wrk saw {} of {answered} answers other: {}",
            other.len(),
            other.join(", ")
        ));
    }
    Ok(measured)
}

/// Starts `perf record` (with call graphs) on the server for the next `seconds`, into
/// `dir/row-<index>.data` (read it with `perf report -i`).
pub(super) fn record_profile(
    rig: &Rig,
    dir: &Path,
    index: usize,
    seconds: u32,
) -> Result<tokio::process::Child, String> {
    let pid = rig
        .instances
        .first()
        .and_then(|instance| instance.process.as_ref()?.pid())
        .ok_or("no server process to profile")?;
    std::fs::create_dir_all(dir).map_err(|error| error.to_string())?;
    Command::new("perf")
        // DWARF call graphs: the release build keeps no frame pointers.
        .args(["record", "-F", "199", "--call-graph", "dwarf,32768"])
        .args(["-p", &pid.to_string(), "-o"])
        .arg(dir.join(format!("row-{index}.data")))
        .args(["--", "sleep", &seconds.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot run perf (apt install linux-perf): {error}"))
}

/// One request as wrk would send it (line of the request file), its status.
pub(super) async fn check_answer(
    rig: &Rig,
    url: &str,
    line: &str,
    expected: u16,
) -> Result<(), String> {
    let mut parts = line.split(' ');
    let (method, path) = (parts.next().unwrap_or("GET"), parts.next().unwrap_or("/"));
    let cookie = parts
        .next()
        .filter(|cookie| !cookie.is_empty() && *cookie != "-");
    let etag = parts.next();
    let mut request = rig
        .client
        .request(
            method.parse().map_err(|_| "bad method")?,
            format!("{url}{path}"),
        )
        .header("origin", url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(etag) = etag {
        request = request.header("if-none-match", etag);
    }
    if method == "POST" {
        request = request.json(&serde_json::json!({}));
    }
    let status = request
        .send()
        .await
        .map_err(|error| error.to_string())?
        .status()
        .as_u16();
    if status != expected {
        return Err(format!("{method} {path} answered {status}, not {expected}"));
    }
    Ok(())
}

/// Runs wrk and reads requests per second and the 50th and 99th percentiles.
async fn wrk(
    options: &WrkOptions,
    script: &Path,
    requests: &Path,
    url: &str,
    load: Load,
) -> Result<Measured, String> {
    let mut command = Command::new("wrk");
    command
        .args([
            format!("-t{}", options.threads.min(load.connections)),
            format!("-c{}", load.connections),
            format!("-d{}s", load.seconds),
            "--latency".into(),
            "-s".into(),
        ])
        .arg(script)
        .arg(url)
        .env("WRK_REQUESTS", requests)
        .env("WRK_ORIGIN", url)
        .env("WRK_FIRST", load.first.to_string());
    if let Some(pause) = load.pause_ms {
        command.env("WRK_DELAY_MS", pause.to_string());
    }
    let output = command
        .output()
        .await
        .map_err(|error| format!("cannot run wrk (apt install wrk): {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("wrk failed: {text}"));
    }
    let number_after = |label: &str| -> Option<&str> {
        text.lines()
            .find(|line| line.trim_start().starts_with(label))?
            .trim_start()[label.len()..]
            .split_whitespace()
            .next()
    };
    let per_second: f64 = number_after("Requests/sec:")
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output: {text}"))?;
    let millis = |label: &str| number_after(label).and_then(parse_duration_ms);
    let statuses: Vec<(u16, u64)> = text
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("status ")?.split_whitespace();
            Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
        })
        .collect();
    Ok(Measured {
        per_second,
        p50_ms: millis("50%").unwrap_or(f64::NAN),
        p99_ms: millis("99%").unwrap_or(f64::NAN),
        statuses,
    })
}

/// What wrk reported of one run.
pub(super) struct Measured {
    pub(super) per_second: f64,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
    /// Answers by status.
    statuses: Vec<(u16, u64)>,
}

impl Measured {
    pub(super) fn answered(&self) -> u64 {
        self.statuses.iter().map(|(_, count)| count).sum()
    }
}

/// wrk's durations: `812.00us`, `1.23ms`, `2.01s`.
fn parse_duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (value, unit) = text.split_at(split);
    let value: f64 = value.parse().ok()?;
    Some(match unit {
        "us" => value / 1000.0,
        "ms" => value,
        "s" => value * 1000.0,
        "m" => value * 60_000.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    #[test]
    fn wrk_durations_read_in_milliseconds() {
        assert_eq!(parse_duration_ms("812.00us"), Some(0.812));
        assert_eq!(parse_duration_ms("1.50ms"), Some(1.5));
        assert_eq!(parse_duration_ms("2.00s"), Some(2000.0));
        assert_eq!(parse_duration_ms("fast"), None);
    }
}
