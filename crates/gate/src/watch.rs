//! Hot reload of policy files.
//!
//! Editors save in different ways (write in place, write a temp file and rename), so the watcher
//! watches the directories that hold policy files and reloads the changed ones after a short quiet
//! period. Reloading is [`PolicySet::reload`]: valid changes that are all tighter apply at once,
//! looser ones are staged for a human (`policies/staged.rs`), invalid ones keep the last good
//! policy. Servers whose visible tools changed get `notifications/tools/list_changed`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use airlock_proxy::Proxy;
use notify::{RecursiveMode, Watcher};
use serde_json::json;
use tokio::sync::broadcast;

use crate::events::GateEvent;
use crate::policies::{ChangeOrigin, PolicySet, ReloadReport};

/// Reloads `paths` (all files when empty), changed by `origin`, and tells whoever needs to know.
pub fn apply_reload(
    policies: &PolicySet,
    proxy: &Proxy,
    events: &broadcast::Sender<GateEvent>,
    paths: &[PathBuf],
    origin: ChangeOrigin,
) {
    let report = policies.reload_from(paths, origin);
    announce(policies, proxy, events, &report);
}

/// Tells agents whose tools changed, and the UIs, what a reload (or an applied staged change) did.
pub fn announce(
    policies: &PolicySet,
    proxy: &Proxy,
    events: &broadcast::Sender<GateEvent>,
    report: &ReloadReport,
) {
    for source in &report.staged {
        if let Some(staged) = policies.staged().into_iter().find(|s| s.source == *source) {
            let _ = events.send(GateEvent::PolicyStaged(Box::new(staged)));
        }
    }
    for server in &report.visibility_changed {
        let sent = proxy.broadcast(
            server,
            json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}),
        );
        tracing::info!(%server, sessions = sent, "tools/list_changed sent after a policy change");
    }
    if !report.changed.is_empty() || !report.errors.is_empty() || !report.staged.is_empty() {
        let _ = events.send(GateEvent::Status);
    }
}

/// Starts watching the policy files. `None` when the platform watcher cannot start (then a
/// warning says so and reloads happen only on request). A file added later (a server pointed at
/// a new policy) is watched once [`watch_dir`] is called for its folder: events are matched
/// against the files in force at the time they arrive.
pub fn watch_policies(
    policies: PolicySet,
    proxy: Proxy,
    events: broadcast::Sender<GateEvent>,
) -> Option<notify::RecommendedWatcher> {
    let files = policies.files();
    let dirs: BTreeSet<PathBuf> = files
        .iter()
        .filter_map(|f| f.parent().map(|p| p.to_path_buf()))
        .collect();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
    let watched = policies.clone();
    let mut watcher =
        match notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if let Ok(event) = res {
                let files = watched.files();
                let hits: Vec<PathBuf> = event
                    .paths
                    .into_iter()
                    .filter(|p| files.iter().any(|f| f.file_name() == p.file_name()))
                    .collect();
                if !hits.is_empty() {
                    let _ = tx.send(hits);
                }
            }
        }) {
            Ok(w) => w,
            Err(err) => {
                tracing::warn!("cannot watch policy files, changes need a restart: {err}");
                return None;
            }
        };
    for dir in &dirs {
        watch_dir(&mut watcher, dir);
    }
    tokio::spawn(async move {
        while let Some(mut paths) = rx.recv().await {
            // Let a burst of writes settle before reading the file.
            tokio::time::sleep(Duration::from_millis(150)).await;
            while let Ok(more) = rx.try_recv() {
                paths.extend(more);
            }
            paths.sort();
            paths.dedup();
            apply_reload(&policies, &proxy, &events, &paths, ChangeOrigin::Disk);
        }
    });
    Some(watcher)
}

/// Watches the folder `dir` of a policy file (again is harmless).
pub fn watch_dir(watcher: &mut notify::RecommendedWatcher, dir: &std::path::Path) {
    if let Err(err) = watcher.watch(dir, RecursiveMode::NonRecursive) {
        tracing::warn!(dir = %dir.display(), "cannot watch policy directory: {err}");
    }
}
