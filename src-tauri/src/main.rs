//! `airlock-app`: starts the desktop app. Logs go to stderr, filtered by `AIRLOCK_LOG`
//! (default `info`), redacted like history (`airlock_gate::logging`).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    airlock_gate::logging::init("info");
    std::process::exit(airlock_app::run());
}
