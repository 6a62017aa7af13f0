//! Listing a server's tools again when it says they changed (`notifications/tools/list_changed`),
//! so a change is held before any agent lists or calls the tool.

use std::sync::Arc;

use super::Pins;

impl Pins {
    /// Session `session_id` listed tools (see `listed_sessions`).
    pub(crate) fn session_listed(&self, session_id: &str) {
        self.listed_sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(session_id.to_owned());
    }

    pub(crate) fn session_closed(&self, session_id: &str) {
        self.listed_sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(session_id);
    }

    /// After the upstream of `session_id` said its tools changed: lists `server`'s tools over a
    /// connection of the gate's own and compares them, unless that session never listed tools.
    /// At most one such listing per server runs at a time.
    pub(crate) fn relist(self: &Arc<Self>, server: &str, session_id: &str) {
        if !self
            .listed_sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(session_id)
        {
            return;
        }
        let Some(spec) = self
            .specs
            .get()
            .and_then(|specs| specs.get(server))
            .cloned()
        else {
            return;
        };
        if !self
            .relisting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(server.to_owned())
        {
            return;
        }
        let pins = Arc::clone(self);
        let server = server.to_owned();
        tokio::spawn(async move {
            match crate::probe::list_every_tool(&spec, &server).await {
                Ok(tools) => {
                    pins.compare(&server, &tools, true, false);
                }
                Err(error) => {
                    tracing::warn!(%server, "cannot list tools after tools/list_changed: {error}");
                }
            }
            pins.relisting
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .remove(&server);
        });
    }
}
