//! airlock-api: the local API that Airlock's window, the browser UI and scripts use.
//!
//! - [`types`]: the wire types, exported to TypeScript (`ui/src/bindings/api.ts`).
//!
//! The contract in prose is `docs/ui.md`; nothing here depends on Tauri, so the desktop shell and
//! `airlock serve` run the very same routes.

pub mod types;
