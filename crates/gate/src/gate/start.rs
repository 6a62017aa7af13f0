//! `Gate::build`: opening the store, cleaning up after the last run, and wiring the parts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use airlock_policy::SlidingWindows;
use airlock_proxy::{Proxy, ProxyConfig, SecurityConfig, UpstreamSpec};
use airlock_store::Store;
use arc_swap::ArcSwap;
use tokio::sync::broadcast;

use crate::GateError;
use crate::approvals::durable::{self, Durable};
use crate::approvals::{Approval, Broker};
use crate::decide::{EndedApproval, GateInterceptor, HoldSettings, approval_end_row};
use crate::duration::parse_duration;
use crate::grants::build_grants;
use crate::policies::PolicySet;
use crate::roots::ServerRoots;
use crate::runtime;

use super::{Gate, GateOptions, Inner};

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
        .map_err(|source| GateError::Blocking {
            doing: "open the history database",
            source,
        })?
        .map_err(GateError::store("open the history database"))?;

        // Log lines are redacted with the same rules as history from here on.
        crate::logging::use_redactor(store.redactor().clone());

        let now = clock.now_ms();
        let now_ms = i64::try_from(now).unwrap_or(i64::MAX);
        let interrupted =
            store
                .interrupt_unfinished_calls(now_ms)
                .await
                .map_err(GateError::store(
                    "mark the last run's unfinished calls as interrupted",
                ))?;
        if interrupted > 0 {
            tracing::warn!(
                "{interrupted} call(s) forwarded by the last run never got an answer before it stopped; history marks them interrupted"
            );
        }
        let expired = durable::expire_left_pending(&store, now)
            .await
            .map_err(GateError::store(
                "expire the approval requests the last run left pending",
            ))?;
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
                .map_err(GateError::store(
                    "record how the last run's pending approval requests ended",
                ))?;
        }

        let mut counters = SlidingWindows::new();
        let retention_ms = u64::try_from(counter_retention.as_millis()).unwrap_or(u64::MAX);
        let since = i64::try_from(now.saturating_sub(retention_ms)).unwrap_or(0);
        let events = store
            .load_counter_events(since)
            .await
            .map_err(GateError::store("load the limit counters"))?;
        counters.restore(crate::counters::from_stored(events));

        let (events, _) = broadcast::channel(1024);
        let broker = Broker::notifying(clock.clone(), durable::gate_events(events.clone()));
        let remembered = store
            .active_remembered(i64::try_from(now).unwrap_or(i64::MAX))
            .await
            .map_err(GateError::store("load the remembered decisions"))?;
        broker.restore_remembered(
            remembered
                .into_iter()
                // Sessions do not outlive the gate: their rules cannot match after a restart.
                .filter(|r| r.rule.session_id.is_none())
                .filter_map(crate::store_glue::rule_from_store)
                .collect(),
        );

        let stored_grants = store
            .list_grants()
            .await
            .map_err(GateError::store("load the grants"))?;
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
            .map_err(|source| GateError::Blocking {
                doing: "prepare the servers' roots",
                source,
            })??;
        crate::roots::warn_about_missing_roots(&config, &policies);
        let team_scoped = policies.team_scoped();
        if !team_scoped.is_empty() {
            tracing::warn!(
                "{} count limits with \"scope\": \"team\", but this gate keeps its own store: \
                 the team is this gate alone, so those limits count as \"global\" ones",
                team_scoped.join(", ")
            );
        }
        let pin_events = events.clone();
        let pins = crate::pins::Pins::load(
            &store,
            config.gate.on_tool_change,
            clock.clone(),
            Box::new(move |pin| {
                let _ = pin_events.send(crate::events::GateEvent::ToolPin(Box::new(pin)));
            }),
        )
        .await
        .map_err(|source| GateError::Store {
            doing: "load the pinned tool definitions",
            source,
        })?;
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

        let durable = Durable::new(interceptor.store.clone(), broker.clone());
        // Expire requests whose time is up, once a second.
        {
            let durable = durable.clone();
            let store = interceptor.store.clone();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    for approval in durable.expire_due().await {
                        if approval.waiting == 0 {
                            record_unheld_expiry(&store, &approval).await;
                        }
                    }
                }
            }));
        }
        tasks.push(tokio::spawn(durable.clone().write_withdrawals()));

        let watcher = crate::watch::watch_policies(policies.clone(), proxy.clone(), events.clone());

        Ok(Gate {
            inner: Arc::new(Inner {
                config: ArcSwap::from_pointee(config),
                specs,
                data_dir,
                api_token,
                interceptor,
                durable,
                proxy,
                events,
                watcher: std::sync::Mutex::new(watcher),
                tasks,
            }),
        })
    }
}

/// The history row of a request that expired with nobody held on it: no call's own row will say
/// how it ended.
async fn record_unheld_expiry(store: &Store, approval: &Approval) {
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
    if let Err(err) = store.record_call(approval_end_row(&ended, at)).await {
        tracing::error!("cannot record an expired approval: {err}");
    }
}
