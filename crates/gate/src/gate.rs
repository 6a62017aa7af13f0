//! `Gate`: the running core, and the handle the CLI, the API and the desktop app hold.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use airlock_policy::{Diagnostics, Policy, SlidingWindows};
use airlock_proxy::{Proxy, ProxyConfig, SecurityConfig, UpstreamSpec};
use airlock_store::Store;
use arc_swap::ArcSwap;
use tokio::sync::broadcast;

use crate::GateError;
use crate::approvals::{
    Approval, ApprovalStatus, Broker, BrokerEvent, DecideError, HumanDecision, RememberedRule,
    remembered_rule,
};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, PolicySource};
use crate::decide::{EndedApproval, GateInterceptor, HoldSettings, approval_end_row};
use crate::duration::parse_duration;
use crate::events::GateEvent;
use crate::grants::build_grants;
use crate::policies::{LoadedPolicy, PolicySet};
use crate::roots::ServerRoots;
use crate::runtime;

/// How long open connections may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

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
    /// Builds the gate: opens the store, turns requests left pending by an earlier run into
    /// expired ones, restores counters and remembered decisions, loads policies, and prepares the
    /// proxy. Does not listen yet (see [`Gate::serve`]).
    pub async fn build(options: GateOptions) -> Result<Gate, GateError> {
        let GateOptions {
            config,
            data_dir,
            clock,
            in_memory_store,
        } = options;
        let data_dir =
            data_dir.unwrap_or_else(|| runtime::data_dir(config.gate.data_dir.as_deref()));
        runtime::ensure_private_dir(&data_dir)?;
        let api_token = runtime::api_token(&data_dir)?;

        // Counter events are kept (and restored) for the longest window of the policies in force,
        // a day more, and never less than the store's default: a 30-day spend limit stays exact
        // across restarts.
        // The copies of the versions in force live in the data dir, so a loosening written while
        // the gate was down is staged at start, not applied.
        let policies =
            PolicySet::load_kept(&config, crate::policies::Applied::in_data_dir(&data_dir));
        let counter_retention = Duration::from_millis(policies.longest_window_ms())
            .saturating_add(Duration::from_secs(86_400))
            .max(airlock_store::COUNTER_RETENTION);
        let store_clock = clock.clone();
        let options = airlock_store::StoreOptions {
            counter_retention,
            clock: airlock_store::Clock::from_fn(move || {
                i64::try_from(store_clock.now_ms()).unwrap_or(i64::MAX)
            }),
            redaction: airlock_store::RedactionConfig {
                extra_keys: config.gate.redact.keys.clone(),
                extra_patterns: config.gate.redact.patterns.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        let db_path = data_dir.join("airlock.db");
        // Opening runs migrations: blocking work, off the async runtime.
        let store = tokio::task::spawn_blocking(move || {
            if in_memory_store {
                Store::open_in_memory()
            } else {
                Store::open_with(&db_path, options)
            }
        })
        .await
        .map_err(|err| GateError::Store(err.to_string()))?
        .map_err(|err| GateError::Store(err.to_string()))?;

        // Log lines are redacted with the same rules as history from here on.
        crate::logging::use_redactor(store.redactor().clone());

        let now = clock.now_ms();
        let now_ms = i64::try_from(now).unwrap_or(i64::MAX);
        let interrupted = store
            .interrupt_unfinished_calls(now_ms)
            .await
            .map_err(|err| GateError::Store(err.to_string()))?;
        if interrupted > 0 {
            tracing::warn!(
                "{interrupted} call(s) forwarded by the last run never got an answer before it stopped; history marks them interrupted"
            );
        }
        let expired = store
            .expire_pending_approvals_at_startup(now_ms)
            .await
            .map_err(|err| GateError::Store(err.to_string()))?;
        if !expired.is_empty() {
            tracing::warn!(
                "{} approval request(s) left pending by the last run are now expired; none was approved",
                expired.len()
            );
        }
        for approval in &expired {
            let arguments = serde_json::from_str(&approval.arguments).unwrap_or_default();
            let ended = EndedApproval {
                id: &approval.id,
                grant: approval.grant.as_deref(),
                session_id: approval.session_id.as_deref(),
                server: &approval.server,
                tool: &approval.tool,
                arguments: &arguments,
                rule: approval.rule.as_deref(),
                restart: true,
            };
            store
                .record_call(approval_end_row(&ended, now))
                .await
                .map_err(|err| GateError::Store(err.to_string()))?;
        }

        let mut counters = SlidingWindows::new();
        let retention_ms = u64::try_from(counter_retention.as_millis()).unwrap_or(u64::MAX);
        let since = i64::try_from(now.saturating_sub(retention_ms)).unwrap_or(0);
        let events = store
            .load_counter_events(since)
            .await
            .map_err(|err| GateError::Store(err.to_string()))?;
        counters.restore(crate::counters::from_stored(events));

        let broker = Broker::new(clock.clone());
        let remembered = store
            .active_remembered(i64::try_from(now).unwrap_or(i64::MAX))
            .await
            .map_err(|err| GateError::Store(err.to_string()))?;
        broker.restore_remembered(
            remembered
                .into_iter()
                // Sessions do not outlive the gate: their rules cannot match after a restart.
                .filter(|r| r.rule.session_id.is_none())
                .filter_map(crate::store_glue::rule_from_store)
                .collect(),
        );

        let (events, _) = broadcast::channel(1024);
        let stored_grants = store
            .list_grants()
            .await
            .map_err(|err| GateError::Store(err.to_string()))?;
        let grants = build_grants(
            &config,
            &api_token,
            &stored_grants,
            config.gate.require_grants,
        );
        let approval_timeout = parse_duration(&config.gate.approval_timeout).ok_or_else(|| {
            GateError::ConfigInvalid {
                path: "gate.approval_timeout".into(),
                message: format!(
                    "`{}` is not a duration; write e.g. `30s`, `10m` or `1h`",
                    config.gate.approval_timeout
                ),
            }
        })?;
        let positive = |field: &str, text: &str, example: &str| {
            parse_duration(text)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| GateError::ConfigInvalid {
                    path: format!("gate.{field}"),
                    message: format!("`{text}` is not a positive duration; write e.g. {example}"),
                })
        };
        let session_idle_timeout = positive(
            "session_idle_timeout",
            &config.gate.session_idle_timeout,
            "`30m` or `2h`",
        )?;
        let request_timeout = positive(
            "request_timeout",
            &config.gate.request_timeout,
            "`5m` or `90s`",
        )?;
        let max_request_time = positive(
            "max_request_time",
            &config.gate.max_request_time,
            "`30m` or `2h`",
        )?;
        let body_timeout = positive("body_timeout", &config.gate.body_timeout, "`30s`")?;
        if max_request_time < request_timeout {
            return Err(GateError::ConfigInvalid {
                path: "gate.max_request_time".into(),
                message: format!(
                    "`{}` is shorter than gate.request_timeout `{}`; the longest request time must be at least the timeout",
                    config.gate.max_request_time, config.gate.request_timeout
                ),
            });
        }
        if config.gate.max_sessions_per_server == 0 {
            return Err(GateError::ConfigInvalid {
                path: "gate.max_sessions_per_server".into(),
                message: "must be at least 1 (0 would refuse every agent)".into(),
            });
        }
        // Resolving the roots on disk is blocking work, off the async runtime.
        let roots_config = config.clone();
        let roots = tokio::task::spawn_blocking(move || ServerRoots::from_config(&roots_config))
            .await
            .map_err(|err| GateError::ConfigInvalid {
                path: "mcpServers".into(),
                message: format!("cannot prepare the servers' roots: {err}"),
            })??;
        crate::roots::warn_about_missing_roots(&config, &policies);
        let pin_events = events.clone();
        let pins = crate::pins::Pins::load(
            &store,
            config.gate.on_tool_change,
            clock.clone(),
            Box::new(move |pin| {
                let _ = pin_events.send(GateEvent::ToolPin(Box::new(pin)));
            }),
        )
        .await
        .map_err(|e| GateError::Store(e.to_string()))?;
        let pins = Arc::new(pins);
        let passphrases =
            crate::passphrase::Passphrases::load(store.clone(), clock.clone()).await?;
        // The guard looks up the real paths of the gate's own files: blocking, off the runtime.
        let guard_config = config.clone();
        let guard_dir = data_dir.clone();
        let guard = tokio::task::spawn_blocking(move || {
            crate::decide::guard::Guard::new(&guard_config, &guard_dir)
        })
        .await
        .map_err(|err| GateError::ConfigInvalid {
            path: "gate.guard_own_files".into(),
            message: format!("cannot prepare the guard of Airlock's own files: {err}"),
        })?;
        let interceptor = Arc::new(GateInterceptor {
            policies: policies.clone(),
            grants: ArcSwap::from_pointee(grants),
            counters: Arc::new(std::sync::Mutex::new(counters)),
            store,
            broker: broker.clone(),
            clock: clock.clone(),
            paused: Default::default(),
            events: events.clone(),
            hold: HoldSettings {
                hold: Duration::from_secs(config.gate.hold_seconds),
                default_approval_timeout: approval_timeout,
                offer_tasks: config.gate.offer_tasks,
            },
            roots,
            sessions: Default::default(),
            listed: Default::default(),
            pins: pins.clone(),
            guard,
            passphrases,
        });

        let proxy = Proxy::new(
            interceptor.clone(),
            ProxyConfig {
                max_body_bytes: config.gate.max_body_bytes,
                security: SecurityConfig {
                    allowed_hosts: config.gate.allowed_hosts.clone(),
                    allowed_origins: config.gate.allowed_origins.clone(),
                },
                session_idle_timeout,
                request_timeout,
                max_request_time,
                body_timeout,
                max_sessions_per_server: config.gate.max_sessions_per_server,
                ..ProxyConfig::default()
            },
        );
        let world = Arc::new(airlock_demo_pusher::World::demo());
        let mut servers = Vec::new();
        for (name, entry) in &config.servers {
            let spec = crate::upstreams::spec(&config, name, entry, &world)?;
            servers.push((name.clone(), spec));
        }
        let specs: BTreeMap<String, UpstreamSpec> = servers.iter().cloned().collect();
        pins.set_specs(specs.clone());
        proxy.set_servers(servers);

        let mut tasks = Vec::new();

        // Expire requests whose time is up, once a second; persist what expired.
        {
            let broker = broker.clone();
            let interceptor = interceptor.clone();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    for approval in broker.expire_due() {
                        crate::store_glue::persist_status(&interceptor.store, &approval, None)
                            .await;
                        if approval.waiting == 0 {
                            // Nobody is held on it: no call's own row will say how it ended.
                            let r = &approval.request;
                            let ended = EndedApproval {
                                id: &approval.id,
                                grant: Some(&r.grant),
                                session_id: Some(&r.session_id),
                                server: &r.server,
                                tool: &r.tool,
                                arguments: &r.arguments,
                                rule: Some(&r.rule),
                                restart: false,
                            };
                            let at = approval.decided_ms.unwrap_or(approval.expires_ms);
                            let row = approval_end_row(&ended, at);
                            if let Err(err) = interceptor.store.record_call(row).await {
                                tracing::error!("cannot record an expired approval: {err}");
                            }
                        }
                    }
                }
            }));
        }
        // Forward broker events to gate events; persist withdrawals.
        {
            let mut rx = broker.subscribe();
            let events = events.clone();
            let interceptor = interceptor.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    match rx.recv().await {
                        Ok(BrokerEvent::Approval(approval)) => {
                            if approval.status == ApprovalStatus::Withdrawn {
                                crate::store_glue::persist_status(
                                    &interceptor.store,
                                    &approval,
                                    None,
                                )
                                .await;
                            }
                            let _ = events.send(GateEvent::Approval(approval));
                        }
                        Ok(BrokerEvent::Remembered) => {
                            let _ = events.send(GateEvent::Remembered);
                        }
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            tracing::warn!("event stream lagged by {n} events");
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                }
            }));
        }

        let watcher = crate::watch::watch_policies(policies.clone(), proxy.clone(), events.clone());

        Ok(Gate {
            inner: Arc::new(Inner {
                config: ArcSwap::from_pointee(config),
                specs,
                data_dir,
                api_token,
                interceptor,
                proxy,
                events,
                watcher: std::sync::Mutex::new(watcher),
                tasks,
            }),
        })
    }

    /// The MCP endpoints for agents (`/mcp/<server>`, `/sse/<server>`).
    pub fn proxy_router(&self) -> axum::Router {
        self.inner.proxy.router()
    }

    /// Announces the gate in `runtime.json` (how `airlock call`, `connect` and `approve` find
    /// it) for `listener`. [`Gate::serve`] does it too; call it first when something should
    /// only be said once the gate can be found, such as "Airlock is running".
    pub fn announce(&self, listener: &tokio::net::TcpListener) -> Result<(), GateError> {
        let addr = listener.local_addr().map_err(GateError::Serve)?;
        runtime::write_runtime(
            &self.inner.data_dir,
            &runtime::RuntimeInfo {
                url: format!("http://{addr}"),
                pid: std::process::id(),
            },
        )?;
        Ok(())
    }

    /// Serves `app` (normally [`Gate::proxy_router`] merged with the local API) on `listener`
    /// until `shutdown` resolves. Announces the gate in `runtime.json` while it runs.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        app: axum::Router,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), GateError> {
        let addr = listener.local_addr().map_err(GateError::Serve)?;
        let pid = std::process::id();
        self.announce(&listener)?;
        tracing::info!("Airlock gate listening on http://{addr}");
        // Graceful shutdown waits for open connections, and agents keep SSE streams open for as
        // long as they like: after the signal, give them a moment, then stop regardless.
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        // Answers are SSE streams written in small pieces (head, event, end): with Nagle's
        // algorithm on, each later piece waits for the client's delayed ACK (up to 40 ms).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::trace!("cannot set TCP_NODELAY: {err}");
            }
        });
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping_tx.send(());
        });
        let result = tokio::select! {
            result = server => result.map_err(GateError::Serve),
            () = async {
                if stopping_rx.await.is_ok() {
                    tokio::time::sleep(SHUTDOWN_GRACE).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => {
                tracing::info!("connections still open after {SHUTDOWN_GRACE:?}; closing them");
                Ok(())
            }
        };
        runtime::remove_runtime(&self.inner.data_dir, pid);
        result
    }

    /// Binds the configured address, with a message that says what to do when it is taken.
    pub async fn bind(
        &self,
        listen: Option<SocketAddr>,
    ) -> Result<tokio::net::TcpListener, GateError> {
        let addr = listen.unwrap_or(self.config().gate.listen);
        // The same rule as for the config's `gate.listen`, for an address given on the command line.
        let config = self.config();
        let settings = &config.gate;
        if !addr.ip().is_loopback()
            && (!settings.allow_non_loopback
                || !settings.require_grants
                || config.grants.is_empty())
        {
            return Err(GateError::ConfigInvalid {
                path: "--listen".into(),
                message: format!(
                    "`{addr}` is not a loopback address; listening beyond this machine needs \
                     gate.allow_non_loopback = true, gate.require_grants = true and grants in the \
                     config, so strangers cannot drive your agents' tools"
                ),
            });
        }
        tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|error| GateError::Bind { addr, error })
    }

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

    /// Pending approval requests, oldest first.
    pub fn pending_approvals(&self) -> Vec<Approval> {
        self.inner.interceptor.broker.pending()
    }

    pub fn approval(&self, id: &str) -> Option<Approval> {
        self.inner.interceptor.broker.get(id)
    }

    /// A human decides a pending request. The decision (and the rule it asks to remember) is
    /// written to the store first; only then is it applied, so nothing is approved that history
    /// does not show.
    /// Approving a request whose rule asks for the passphrase is refused here
    /// ([`crate::PassphraseError::Required`]): use [`Gate::decide_with_passphrase`].
    pub async fn decide(&self, id: &str, decision: HumanDecision) -> Result<Approval, GateError> {
        if decision.approve && self.needs_passphrase(id) {
            return Err(crate::PassphraseError::Required.into());
        }
        self.decide_verified(id, decision).await
    }

    /// [`Gate::decide`] once any passphrase the request needs was checked.
    pub(crate) async fn decide_verified(
        &self,
        id: &str,
        decision: HumanDecision,
    ) -> Result<Approval, GateError> {
        let broker = &self.inner.interceptor.broker;
        let store = &self.inner.interceptor.store;
        let current = broker.check_pending(id).map_err(GateError::Decide)?;
        let now = broker.now_ms();
        let arguments = broker.arguments(id).unwrap_or_default();
        let mut rule = remembered_rule(&current, &decision, &arguments, now)
            .map_err(|e| GateError::Decide(e.into()))?;
        if let Some(rule) = rule.as_mut() {
            let stored = store
                .insert_remembered(crate::store_glue::rule_to_store(rule))
                .await
                .map_err(|err| GateError::Store(err.to_string()))?;
            rule.id = stored.id.to_string();
        }
        let status = if decision.approve {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Denied
        };
        let mut staged = current.clone();
        staged.status = status;
        staged.note = decision.note.clone();
        staged.decided_by = Some(decision.source);
        staged.decided_ms = Some(now);
        // Fail closed: a decision history cannot show is not applied.
        crate::store_glue::decide_durably(store, &staged, Some(decision.source))
            .await
            .map_err(|err| GateError::Store(err.to_string()))?;
        broker
            .decide(id, &decision, rule)
            .map_err(GateError::Decide)
    }

    /// Decides every pending request of `tool` by one agent: `grant` and, for agents without a
    /// token, the declared `client` name (`None`: clients that declared none), so one click never
    /// answers two tokenless programs at once. `server` narrows it when given.
    pub async fn decide_bulk(
        &self,
        tool: &str,
        grant: &str,
        client: Option<&str>,
        server: Option<&str>,
        decision: HumanDecision,
    ) -> Result<usize, GateError> {
        let mut decided = 0;
        for approval in self.pending_approvals() {
            let r = &approval.request;
            let same_agent = r.grant == grant
                && (!crate::identity::is_tokenless(grant) || r.client_name() == client);
            if r.tool == tool && same_agent && server.is_none_or(|s| s == r.server) {
                match self.decide(&approval.id, decision.clone()).await {
                    Ok(_) => decided += 1,
                    // A request that needs the passphrase is approved one at a time, with it.
                    Err(
                        GateError::Decide(DecideError::NotPending { .. })
                        | GateError::Passphrase(crate::PassphraseError::Required),
                    ) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(decided)
    }

    /// Remembered decisions still in force.
    pub fn remembered(&self) -> Vec<RememberedRule> {
        self.inner.interceptor.broker.remembered()
    }

    /// Revokes a remembered decision. False when there is none with that id.
    pub async fn revoke_remembered(&self, id: &str) -> Result<bool, GateError> {
        if let Ok(store_id) = id.parse::<i64>() {
            let now = i64::try_from(self.inner.interceptor.clock.now_ms()).unwrap_or(i64::MAX);
            self.store()
                .revoke_remembered(store_id, now)
                .await
                .map_err(|err| GateError::Store(err.to_string()))?;
        }
        Ok(self.inner.interceptor.broker.revoke(id))
    }

    /// Every policy in force and its state.
    pub fn policies(&self) -> Vec<LoadedPolicy> {
        self.inner.interceptor.policies.views()
    }

    /// Checks a policy text without saving it.
    pub fn validate_policy(&self, text: &str, origin: &str) -> Result<Policy, Diagnostics> {
        Policy::parse(text, origin)
    }

    /// Saves a policy file only if it is valid, then reloads it. This is the human's own edit (the
    /// window): it applies at once, loosening or not, and replaces any staged version.
    pub async fn save_policy(&self, path: &Path, text: &str) -> Result<(), PolicySaveError> {
        let known = self
            .policies()
            .into_iter()
            .any(|p| p.source == PolicySource::File(path.to_path_buf()));
        if !known {
            return Err(PolicySaveError::NotAPolicyFile(path.display().to_string()));
        }
        Policy::parse(text, &path.display().to_string()).map_err(PolicySaveError::Invalid)?;
        let tmp = path.with_extension("json.airlock-tmp");
        tokio::fs::write(&tmp, text)
            .await
            .map_err(|e| PolicySaveError::Io(e.to_string()))?;
        tokio::fs::rename(&tmp, path)
            .await
            .map_err(|e| PolicySaveError::Io(e.to_string()))?;
        crate::watch::apply_reload(
            &self.inner.interceptor.policies,
            &self.inner.proxy,
            &self.inner.events,
            &[path.to_path_buf()],
            crate::policies::ChangeOrigin::Human,
        );
        Ok(())
    }

    /// Points `server` at the policy `reference` (as a config's `policy` field names it), at
    /// once: the policy is read and in force for the next call, the config the gate reports says
    /// so, and agents are told to re-list tools when what is hidden changed. The caller has
    /// written the file and the config (`airlock_onboard::create::save`).
    pub fn bind_policy(&self, server: &str, reference: &str) -> Result<(), BindPolicyError> {
        let mut config = (*self.config()).clone();
        let Some(entry) = config.servers.get_mut(server) else {
            return Err(BindPolicyError::UnknownServer(server.to_string()));
        };
        entry.policy = Some(reference.to_string());
        let source = config.policy_source(Some(reference));
        if let PolicySource::File(path) = &source {
            let text = std::fs::read_to_string(path).map_err(|source| BindPolicyError::Read {
                path: path.clone(),
                source,
            })?;
            Policy::parse(&text, &path.display().to_string()).map_err(BindPolicyError::Invalid)?;
        }
        let report = self
            .inner
            .interceptor
            .policies
            .bind_server(server, source.clone());
        self.inner.config.store(Arc::new(config));
        if let PolicySource::File(path) = &source
            && let Some(dir) = path.parent()
            && let Ok(mut watcher) = self.inner.watcher.lock()
            && let Some(watcher) = watcher.as_mut()
        {
            // Edits of the new file in an editor reload it like any other policy file.
            crate::watch::watch_dir(watcher, dir);
        }
        for server in &report.visibility_changed {
            self.inner.proxy.broadcast(
                server,
                serde_json::json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}),
            );
        }
        tracing::info!(%server, policy = %reference, "server pointed at a new policy");
        let _ = self.inner.events.send(GateEvent::Status);
        Ok(())
    }

    /// Re-reads every policy file now (the watcher does this by itself on changes), as changes
    /// from disk: a loosening one is staged.
    pub fn reload_policies(&self) {
        crate::watch::apply_reload(
            &self.inner.interceptor.policies,
            &self.inner.proxy,
            &self.inner.events,
            &[],
            crate::policies::ChangeOrigin::Disk,
        );
    }

    /// The policy that applies to `grant` on `server`.
    pub fn policy_for(&self, grant: &str, server: &str) -> Result<Arc<Policy>, String> {
        self.inner.interceptor.policies.for_call(grant, server)
    }

    /// Per-server state of the upstream connections.
    pub fn server_status(&self) -> BTreeMap<String, airlock_proxy::ServerStatus> {
        self.inner.proxy.server_status()
    }
}

/// Why a policy was not saved.
#[derive(Debug, thiserror::Error)]
pub enum PolicySaveError {
    #[error("`{0}` is not a policy file this gate uses")]
    NotAPolicyFile(String),
    #[error("the policy is invalid:\n{0}")]
    Invalid(Diagnostics),
    #[error("cannot write the policy file: {0}")]
    Io(String),
}

/// Why a server could not be pointed at a policy.
#[derive(Debug, thiserror::Error)]
pub enum BindPolicyError {
    #[error("no server `{0}`")]
    UnknownServer(String),
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the policy is invalid:\n{0}")]
    Invalid(Diagnostics),
}

/// Re-exported for API users.
pub use crate::approvals::Remember;

/// What a tool would get, before its arguments are looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolPreview {
    pub name: String,
    pub description: Option<String>,
    pub hidden: bool,
    /// `allow`, `deny` or `require_approval`.
    pub decision: &'static str,
    /// The rule that decides it: `/tools/<name>`, `(default)` or `(hidden)`.
    pub rule: String,
    /// True when conditions or limits may change the decision for some arguments.
    pub conditional: bool,
}

impl Gate {
    /// The server's tools (asked from the upstream over a fresh connection) with the decision
    /// each would get under `grant`'s policy before its arguments are looked at.
    pub async fn tool_previews(
        &self,
        server: &str,
        grant: &str,
    ) -> Result<Vec<ToolPreview>, String> {
        let spec = self
            .inner
            .specs
            .get(server)
            .ok_or_else(|| format!("no server `{server}`"))?;
        let policy = self.policy_for(grant, server)?;
        let tools = crate::probe::list_tools(spec, server).await?;
        let doc = policy.document();
        Ok(tools
            .into_iter()
            .map(|tool| {
                let name = tool
                    .get("name")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let description = tool
                    .get("description")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string);
                let hidden = policy.is_hidden(&name);
                let (decision, rule, conditional) = if hidden {
                    ("deny", airlock_policy::RULE_HIDDEN.to_string(), false)
                } else if let Some(rule) = doc.tools.get(&name) {
                    let action = match rule.action {
                        airlock_policy::ToolAction::Allow => "allow",
                        airlock_policy::ToolAction::Deny => "deny",
                        airlock_policy::ToolAction::RequireApproval => "require_approval",
                    };
                    let conditional = !rule.require.is_empty()
                        || !rule.deny_if.is_empty()
                        || !rule.approve_if.is_empty()
                        || !rule.limits.is_empty();
                    (action, format!("/tools/{name}"), conditional)
                } else {
                    (
                        doc.default.as_str(),
                        airlock_policy::RULE_DEFAULT.to_string(),
                        false,
                    )
                };
                ToolPreview {
                    name,
                    description,
                    hidden,
                    decision,
                    rule,
                    conditional,
                }
            })
            .collect())
    }
}
