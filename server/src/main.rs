//! The server binary: load configuration, start telemetry, build and run the
//! application until SIGTERM or Ctrl-C.

use server::config::Config;
use server::startup::Application;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    server::telemetry::init();
    let demo_flag = std::env::args().skip(1).any(|arg| arg == "--demo");
    let config = match Config::from_env() {
        Ok(config) => config.with_demo(demo_flag),
        Err(error) => {
            tracing::error!("invalid configuration: {error}");
            eprintln!("error: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let application = match Application::build(config).await {
        Ok(application) => application,
        Err(error) => {
            tracing::error!("could not start: {error:#}");
            eprintln!("error: could not start: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("listening on http://{}", application.address());
    match application
        .run_until_stopped(server::shutdown::signal())
        .await
    {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("server stopped with an error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
