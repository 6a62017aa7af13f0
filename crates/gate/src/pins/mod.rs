//! Tool-definition pinning: a tool whose definition changed since it was approved is held
//! until a human reviews it (the "rug pull": a tool allowed on Monday that, on Tuesday, also
//! asks the model to mail the file somewhere).
//!
//! - **Pinned on first sight.** The first complete `tools/list` of a server the gate sees (all
//!   its pages) pins every tool as it is: the definition in [`definition`] and its hash, stored
//!   with the full definition (`airlock_store`'s `tool_pins`). That first listing is trusted:
//!   pinning records what was there when the user started using the server.
//! - **Every later listing is compared.** A tool that is new, or whose hash differs from the
//!   accepted one, is held: under `gate.on_tool_change: "hold"` (the default) it is removed from
//!   `tools/list` and a call to it is refused and recorded (kind `tool_held`); under `"ask"` it
//!   stays listed and every call needs a human's approval; under `"allow"` the change is
//!   accepted at once, and only recorded.
//! - **Only the accepted hash counts.** A definition that changes back to the one accepted is
//!   usable again; one that changes back to an older definition is held like any change, since
//!   each acceptance replaces the pin (the history keeps every definition, `tool_pin_events`).
//! - **A human decides** with [`Gate::accept_tool`](crate::Gate::accept_tool) or
//!   [`Gate::reject_tool`](crate::Gate::reject_tool) (the API, the window, `airlock tools`),
//!   naming the hash they reviewed, so a definition that moved again meanwhile is not accepted
//!   unseen. A rejected definition stays unusable for as long as the server lists it.
//! - **`notifications/tools/list_changed`** from a server makes the gate list its tools itself
//!   (`relist`), so a change is held before any agent lists or calls it.
//!
//! The pins live in memory (one short `Mutex`, never held across an await) and every change
//! is written to the store in order (`writes.rs`). One listing per server is compared: a server
//! that lists different tools to different clients flips between them, and each flip is held.

mod admin;
mod definition;
mod diff;
mod relist;
mod writes;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use airlock_proxy::UpstreamSpec;
use airlock_store::{NewToolPinEvent, PinEvent, Store, ToolPin};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::Clock;
pub use crate::config::OnToolChange;

pub use admin::PinError;
pub(crate) use definition::Definition;
pub use definition::short_hash;
pub use diff::{DiffLine, DiffTag, ToolDiff};

/// Where a tool's pin stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinState {
    /// The server lists the accepted definition.
    Pinned,
    /// A tool the server did not have when it was pinned, never accepted.
    New,
    /// The server lists a definition other than the accepted one.
    Changed,
    /// A human rejected the definition the server lists.
    Rejected,
}

impl PinState {
    pub fn as_str(self) -> &'static str {
        match self {
            PinState::Pinned => "pinned",
            PinState::New => "new",
            PinState::Changed => "changed",
            PinState::Rejected => "rejected",
        }
    }

    fn of(pin: &ToolPin) -> PinState {
        if pin.pinned_hash.as_deref() == Some(pin.seen_hash.as_str()) {
            PinState::Pinned
        } else if pin.rejected {
            PinState::Rejected
        } else if pin.pinned_hash.is_none() {
            PinState::New
        } else {
            PinState::Changed
        }
    }
}

/// One tool's pin, as the API and the CLI show it.
#[derive(Debug, Clone, PartialEq)]
pub struct PinnedTool {
    pub server: String,
    pub tool: String,
    pub state: PinState,
    /// The accepted definition (`None` for a new tool).
    pub pinned_hash: Option<String>,
    pub pinned: Option<Value>,
    /// The definition the server lists now.
    pub seen_hash: String,
    pub seen: Value,
    pub first_seen_ms: i64,
    pub changed_ms: i64,
}

impl PinnedTool {
    fn of(pin: &ToolPin) -> PinnedTool {
        PinnedTool {
            server: pin.server.clone(),
            tool: pin.tool.clone(),
            state: PinState::of(pin),
            pinned_hash: pin.pinned_hash.clone(),
            pinned: pin.pinned_definition.clone(),
            seen_hash: pin.seen_hash.clone(),
            seen: pin.seen_definition.clone(),
            first_seen_ms: pin.first_seen_ms,
            changed_ms: pin.changed_ms,
        }
    }

    /// What changed, for a side-by-side view.
    pub fn diff(&self) -> ToolDiff {
        ToolDiff::between(self.pinned.as_ref(), &self.seen)
    }
}

/// What a call of a tool meets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PinCheck {
    /// Pinned (or nothing of this server is pinned yet): decide by policy.
    Usable,
    /// Refuse the call with this message (`gate.on_tool_change: "hold"`).
    Refuse(String),
    /// Decide by policy, but ask a human even where the policy allows (`"ask"`).
    Ask(String),
}

#[derive(Debug, Default)]
struct ServerPins {
    tools: BTreeMap<String, ToolPin>,
    /// A complete listing was pinned (now or in an earlier run): new tools are held from here.
    established: bool,
    /// The gate is listing every tool of the server to complete its first listing.
    establishing: bool,
}

/// Every server's pins.
pub(crate) struct Pins {
    mode: OnToolChange,
    servers: Mutex<HashMap<String, ServerPins>>,
    writes: writes::Writes,
    clock: Arc<dyn Clock>,
    /// Told of every pin that changed (the gate turns it into a `GateEvent::ToolPin`).
    notify: Notify,
    /// How to reach each server, to list its tools on `notifications/tools/list_changed`; set
    /// once the servers are known.
    specs: OnceLock<BTreeMap<String, UpstreamSpec>>,
    /// Servers being listed after a `list_changed`, so a burst of them lists once.
    relisting: Mutex<HashSet<String>>,
    /// Agent sessions that listed tools. A `list_changed` before a session's first listing
    /// changes nothing it has seen (servers that register tools as a session starts send one
    /// at once), so only a session that listed makes the gate list again.
    listed_sessions: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Pins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pins")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// What [`Pins`] calls with each pin that changed.
pub(crate) type Notify = Box<dyn Fn(PinnedTool) + Send + Sync>;

const FIRST_LISTING: &str = "first tools/list";
const BY_CONFIG: &str = "gate.on_tool_change";

impl Pins {
    /// The pins stored by earlier runs.
    pub(crate) async fn load(
        store: &Store,
        mode: OnToolChange,
        clock: Arc<dyn Clock>,
        notify: Notify,
    ) -> Result<Pins, airlock_store::StoreError> {
        let mut servers: HashMap<String, ServerPins> = HashMap::new();
        for pin in store.tool_pins().await? {
            let server = servers.entry(pin.server.clone()).or_default();
            server.established = true;
            server.tools.insert(pin.tool.clone(), pin);
        }
        Ok(Pins {
            mode,
            servers: Mutex::new(servers),
            writes: writes::Writes::start(store.clone()),
            clock,
            notify,
            specs: OnceLock::new(),
            relisting: Mutex::new(HashSet::new()),
            listed_sessions: Mutex::new(HashSet::new()),
        })
    }

    pub(crate) fn set_specs(&self, specs: BTreeMap<String, UpstreamSpec>) {
        let _ = self.specs.set(specs);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ServerPins>> {
        self.servers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now(&self) -> i64 {
        i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX)
    }

    /// Compares one page of a `tools/list` result (`last_page`: no `nextCursor`) with the pins,
    /// records what changed, and returns the names to hide from the agent.
    ///
    /// The first complete listing of a server also makes the gate list the server's tools
    /// itself, as a client of every capability ([`crate::probe::list_every_tool`]): servers list
    /// some tools only to clients that can serve them, and a tool a more capable agent sees
    /// later must not be held as new. Until that listing is in, every listing pins as first.
    pub(crate) fn observe(
        self: &Arc<Self>,
        server: &str,
        tools: &[Value],
        last_page: bool,
    ) -> HashSet<String> {
        let (hidden, establish) = self.compare(server, tools, last_page, false);
        if establish {
            self.establish(server);
        }
        hidden
    }

    /// Lists every tool of `server` and pins them as part of its first listing; then later
    /// listings are compared.
    fn establish(self: &Arc<Self>, server: &str) {
        let pins = Arc::clone(self);
        let server = server.to_owned();
        let spec = self
            .specs
            .get()
            .and_then(|specs| specs.get(&server))
            .cloned();
        let Some(spec) = spec else {
            self.compare(&server, &[], true, true);
            return;
        };
        tokio::spawn(async move {
            let tools = crate::probe::list_every_tool(&spec, &server)
                .await
                .unwrap_or_else(|error| {
                    tracing::warn!(%server, "cannot list every tool to pin them: {error}");
                    Vec::new()
                });
            pins.compare(&server, &tools, true, true);
        });
    }

    /// [`Pins::observe`] without the follow-up; `first`: this is the gate's own listing that
    /// completes the first one. Returns the names to hide and whether to [`Pins::establish`].
    fn compare(
        &self,
        server: &str,
        tools: &[Value],
        last_page: bool,
        first_listing: bool,
    ) -> (HashSet<String>, bool) {
        let now = self.now();
        let mut hidden = HashSet::new();
        let mut changed = std::collections::BTreeSet::new();
        let mut events = Vec::new();
        let mut servers = self.lock();
        let pins = servers.entry(server.to_owned()).or_default();
        for tool in tools {
            let Some((name, definition)) = Definition::of(tool) else {
                continue;
            };
            let event =
                |event: PinEvent, previous: Option<String>, actor: Option<&str>| NewToolPinEvent {
                    at_ms: now,
                    server: server.to_owned(),
                    tool: name.clone(),
                    event,
                    hash: definition.hash.clone(),
                    previous_hash: previous,
                    definition: definition.value.clone(),
                    actor: actor.map(str::to_owned),
                };
            match pins.tools.get_mut(&name) {
                Some(pin) if pin.seen_hash == definition.hash => {}
                Some(pin) => {
                    let previous = std::mem::replace(&mut pin.seen_hash, definition.hash.clone());
                    pin.seen_definition = definition.value.clone();
                    pin.rejected = false;
                    pin.changed_ms = now;
                    let kind = if pin.pinned_hash.is_none() {
                        PinEvent::New
                    } else {
                        PinEvent::Changed
                    };
                    events.push(event(kind, Some(previous), None));
                    changed.insert(name.clone());
                }
                None => {
                    let first = first_listing || !pins.established;
                    events.push(event(
                        if first {
                            PinEvent::Pinned
                        } else {
                            PinEvent::New
                        },
                        None,
                        first.then_some(FIRST_LISTING),
                    ));
                    changed.insert(name.clone());
                    pins.tools.insert(
                        name.clone(),
                        ToolPin {
                            server: server.to_owned(),
                            tool: name.clone(),
                            pinned_hash: first.then(|| definition.hash.clone()),
                            pinned_definition: first.then(|| definition.value.clone()),
                            seen_hash: definition.hash.clone(),
                            seen_definition: definition.value.clone(),
                            rejected: false,
                            first_seen_ms: now,
                            changed_ms: now,
                        },
                    );
                }
            }
            let Some(pin) = pins.tools.get_mut(&name) else {
                continue;
            };
            let state = PinState::of(pin);
            if state != PinState::Pinned && self.mode == OnToolChange::Allow {
                pin.pinned_hash = Some(pin.seen_hash.clone());
                pin.pinned_definition = Some(pin.seen_definition.clone());
                pin.rejected = false;
                events.push(event(PinEvent::Accepted, None, Some(BY_CONFIG)));
                changed.insert(name.clone());
            } else if state != PinState::Pinned && self.mode == OnToolChange::Hold {
                hidden.insert(name.clone());
            }
        }
        let mut establish = false;
        if first_listing {
            pins.established = true;
            pins.establishing = false;
        } else if last_page && !pins.established && !pins.establishing {
            pins.establishing = true;
            establish = true;
        }
        let rows: Vec<ToolPin> = changed
            .iter()
            .filter_map(|name| pins.tools.get(name).cloned())
            .collect();
        let notices: Vec<PinnedTool> = rows.iter().map(PinnedTool::of).collect();
        self.writes.queue(rows, events);
        drop(servers);
        for tool in notices {
            if tool.state != PinState::Pinned {
                tracing::warn!(server, tool = %tool.tool, state = tool.state.as_str(), "tool definition held for review");
            }
            (self.notify)(tool);
        }
        (hidden, establish)
    }

    /// What a call of `tool` on `server` meets.
    pub(crate) fn check(&self, server: &str, tool: &str) -> PinCheck {
        let servers = self.lock();
        let Some(pins) = servers.get(server) else {
            return PinCheck::Usable;
        };
        let message = match pins.tools.get(tool).map(PinState::of) {
            Some(PinState::Pinned) => return PinCheck::Usable,
            None if !pins.established => return PinCheck::Usable,
            None => format!(
                "Airlock has not seen the definition of `{tool}` on `{server}`; call tools/list, \
                 and a human must review the new tool in Airlock"
            ),
            Some(PinState::New) => format!(
                "`{tool}` is a new tool on `{server}` since its tools were approved; a human must \
                 review it in Airlock"
            ),
            Some(PinState::Changed) => format!(
                "the definition of `{tool}` changed since it was approved; a human must review \
                 it in Airlock"
            ),
            Some(PinState::Rejected) => format!(
                "a human rejected the current definition of `{tool}` on `{server}` in Airlock; \
                 do not retry unless the user asks"
            ),
        };
        match self.mode {
            OnToolChange::Hold => PinCheck::Refuse(format!(
                "Denied: {message} (`airlock tools accept {server} {tool}`, or Tool changes in the window)."
            )),
            OnToolChange::Ask => PinCheck::Ask(message),
            OnToolChange::Allow => PinCheck::Usable,
        }
    }

    /// Every pin, of one server or all, by server and tool.
    pub(crate) fn list(&self, server: Option<&str>) -> Vec<PinnedTool> {
        let servers = self.lock();
        let mut out: Vec<PinnedTool> = servers
            .iter()
            .filter(|(name, _)| server.is_none_or(|s| s == name.as_str()))
            .flat_map(|(_, pins)| pins.tools.values().map(PinnedTool::of))
            .collect();
        out.sort_by(|a, b| (&a.server, &a.tool).cmp(&(&b.server, &b.tool)));
        out
    }
}

#[cfg(test)]
mod tests;
