//! airlock-app: the desktop shell of Airlock (Tauri 2).
//!
//! It starts the same gate `airlock serve` starts, in-process, and adds what only a desktop has: a
//! window over the one `ui/` code base, a tray icon, and native notifications whose buttons decide
//! through the same `Gate::decide` as the window and the API. Business rules stay in `crates/`.
//!
//! - [`startup`]: config lookup, first-run default, and the explanation of a failed start.
//! - [`notice`]: what a notification says (pure, unit-tested).
//! - `notifier`: D-Bus notifications and their actions.
//! - `tool_notice`: a notification when a server's tool is held for review.
//! - [`tray`]: the tray icon and menu.
//! - `shell`: the Tauri wiring and the native commands.

pub mod notice;
mod notifier;
mod shell;
pub mod staged_notice;
pub mod startup;
mod tool_notice;
pub mod tray;

pub use notifier::NotifierStatus;
pub use shell::{ApiInfo, run};
