//! The server binary: load configuration, start telemetry, then either run a
//! command-line task (see `server::cli`) or build and serve the application until
//! SIGTERM or Ctrl-C.

use std::process::ExitCode;

use server::config::Config;
use server::startup::Application;

/// The allocator: `malloc` and `free` were a fifth of the CPU of `/healthz`
/// under load (perf, BENCHMARKS.md); mimalloc's thread-local free lists suit a
/// server that allocates small, short-lived buffers on every worker thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Threads for blocking work: argon2 (19 MiB and tens of milliseconds each) and
/// CAPTCHA pictures. A cap keeps a flood of logins from taking the memory and
/// the cores the sale needs; beyond it, work waits its turn.
const BLOCKING_THREADS: usize = 16;

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    server::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = match server::cli::parse(&args) {
        Ok(task) => task,
        Err(usage) => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let config = match Config::from_env() {
        Ok(config) => config.with_demo(args.iter().any(|arg| arg == "--demo")),
        Err(error) => {
            tracing::error!("invalid configuration: {error}");
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(task) = task {
        return match server::cli::run(task, &config).await {
            Ok(report) => {
                println!("{report}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let application = match Application::build(config).await {
        Ok(application) => application,
        Err(error) => {
            tracing::error!("could not start: {error:#}");
            eprintln!("error: could not start: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on http://{}", application.address());
    match application
        .run_until_stopped(server::shutdown::signal())
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("server stopped with an error: {error}");
            ExitCode::FAILURE
        }
    }
}
