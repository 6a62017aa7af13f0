//! `Gate`: the running core, and the handle the CLI, the API and the desktop app hold.

mod decisions;
mod passphrase;
pub(crate) mod policy_files;
pub(crate) mod previews;
mod serve;
mod start;

pub use policy_files::{BindPolicyError, PolicySaveError};
pub use previews::ToolPreview;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use airlock_proxy::{Proxy, UpstreamSpec};
use airlock_store::Store;
use arc_swap::ArcSwap;
use tokio::sync::broadcast;

use crate::approvals::durable::Durable;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::decide::GateInterceptor;
use crate::events::GateEvent;

/// How to start a gate.
pub struct GateOptions {
    pub config: Config,
    /// Overrides the data directory (history, API token, runtime file).
    pub data_dir: Option<PathBuf>,
    /// The clock; tests pass a `ManualClock`.
    pub clock: Arc<dyn Clock>,
    /// Keep history in memory instead of `<data_dir>/airlock.db` (tests).
    pub in_memory_store: bool,
}

impl std::fmt::Debug for GateOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateOptions")
            .field("data_dir", &self.data_dir)
            .field("in_memory_store", &self.in_memory_store)
            .finish_non_exhaustive()
    }
}

impl GateOptions {
    pub fn new(config: Config) -> Self {
        GateOptions {
            config,
            data_dir: None,
            clock: Arc::new(SystemClock),
            in_memory_store: false,
        }
    }
}

/// The running gate. Cheap to clone; every clone is the same gate.
#[derive(Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

struct Inner {
    /// Swapped whole when the window points a server at a new policy.
    config: ArcSwap<Config>,
    /// How each server is reached, for tool previews.
    specs: BTreeMap<String, UpstreamSpec>,
    data_dir: PathBuf,
    api_token: String,
    interceptor: Arc<GateInterceptor>,
    /// Every change of an approval's status goes through it (persist, then apply).
    durable: Durable,
    proxy: Proxy,
    events: broadcast::Sender<GateEvent>,
    /// Kept alive for as long as the gate runs.
    /// Watches the policy files; locked only to watch the folder of a policy added later.
    watcher: std::sync::Mutex<Option<notify::RecommendedWatcher>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("data_dir", &self.inner.data_dir)
            .finish_non_exhaustive()
    }
}

impl Gate {
    /// The config in force: the one the gate started with, and the `policy` fields the window
    /// has pointed elsewhere since ([`Gate::bind_policy`]).
    pub fn config(&self) -> Arc<Config> {
        self.inner.config.load_full()
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    /// The secret the local API and the `cli` grant require.
    pub fn api_token(&self) -> &str {
        &self.inner.api_token
    }

    pub fn store(&self) -> &Store {
        &self.inner.interceptor.store
    }

    pub(crate) fn interceptor(&self) -> &GateInterceptor {
        &self.inner.interceptor
    }

    pub(crate) fn events(&self) -> &broadcast::Sender<GateEvent> {
        &self.inner.events
    }

    pub fn proxy(&self) -> &Proxy {
        &self.inner.proxy
    }

    pub fn subscribe(&self) -> broadcast::Receiver<GateEvent> {
        self.inner.events.subscribe()
    }

    /// Pauses or resumes every agent: while paused, every call is denied "paused by the user".
    pub fn set_paused(&self, paused: bool) {
        self.inner
            .interceptor
            .paused
            .store(paused, Ordering::Relaxed);
        let _ = self.inner.events.send(GateEvent::Status);
    }

    pub fn paused(&self) -> bool {
        self.inner.interceptor.paused.load(Ordering::Relaxed)
    }

    /// Per-server state of the upstream connections.
    pub fn server_status(&self) -> BTreeMap<String, airlock_proxy::ServerStatus> {
        self.inner.proxy.server_status()
    }
}

/// Re-exported for API users.
pub use crate::approvals::Remember;
