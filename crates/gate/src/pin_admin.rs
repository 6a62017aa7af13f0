//! The [`Gate`]'s side of tool-definition pinning (`crate::pins`): what the API, the window and
//! the CLI read (the pins, their history) and the decisions they take.

use airlock_store::{StoreError, ToolPinEvent};

use crate::approvals::DecisionSource;
use crate::gate::Gate;
use crate::pins::{PinError, PinnedTool};

impl Gate {
    /// Every pinned tool, of one server or of all, by server and tool.
    pub fn tool_pins(&self, server: Option<&str>) -> Vec<PinnedTool> {
        self.interceptor().pins.list(server)
    }

    /// Accepts the definition `server` now lists for `tool`; see [`Gate::reject_tool`].
    pub async fn accept_tool(
        &self,
        server: &str,
        tool: &str,
        reviewed: Option<&str>,
        actor: DecisionSource,
    ) -> Result<PinnedTool, PinError> {
        let pins = &self.interceptor().pins;
        pins.decide(server, tool, reviewed, true, actor.as_str())
            .await
    }

    /// Rejects the definition `server` now lists for `tool`: it stays unusable while listed.
    /// `reviewed` is the hash (or a prefix of it) the human looked at; `actor` the surface,
    /// recorded in the tool's history.
    pub async fn reject_tool(
        &self,
        server: &str,
        tool: &str,
        reviewed: Option<&str>,
        actor: DecisionSource,
    ) -> Result<PinnedTool, PinError> {
        let pins = &self.interceptor().pins;
        pins.decide(server, tool, reviewed, false, actor.as_str())
            .await
    }

    /// The pin history, newest first (at most `limit` entries), of one server or tool.
    pub async fn tool_pin_history(
        &self,
        server: Option<&str>,
        tool: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ToolPinEvent>, StoreError> {
        self.store().tool_pin_events(server, tool, limit).await
    }
}
