//! `airlock-app`: starts the desktop app. Logs go to stderr, filtered by `AIRLOCK_LOG`
//! (default `info`).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AIRLOCK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    std::process::exit(airlock_app::run());
}
