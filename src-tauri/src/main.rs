//! Airlock desktop shell.
//!
//! Thin on purpose: it opens the `ui/` front end in a native window. The gate, the policy engine and
//! the store live in `crates/` and never depend on Tauri.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    if let Err(err) = tauri::Builder::default().run(tauri::generate_context!()) {
        eprintln!("airlock-app: {err}");
        std::process::exit(1);
    }
}
