//! Native notifications for pending approval requests, over the session D-Bus.
//!
//! notify-rust sends (`Notify` with `replaces_id` to update the one visible notification,
//! `CloseNotification` to close it); one zbus signal stream receives `ActionInvoked` and
//! `NotificationClosed` for all of them. A single stream, rather than a wait per notification,
//! means an update never races a click, and it lets us check that an action really comes from the
//! notification server: any process on the session bus can emit the signal, so an action whose
//! sender is not the current owner of `org.freedesktop.Notifications` is ignored. Actions call
//! [`Gate::decide`] with [`DecisionSource::Notification`], the same path as the window and the
//! API. Everything here runs as async tasks: no D-Bus round trip blocks a runtime thread.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use airlock_gate::{DecisionSource, Gate, GateEvent, HumanDecision, Remember};
use futures::StreamExt;
use notify_rust::{Notification, NotificationHandle, Timeout, Urgency};
use tokio::sync::{broadcast, mpsc};

use crate::notice::{Action, Board, Change, Content, escape_markup};

const BUS_NAME: &str = "org.freedesktop.Notifications";
const OBJECT_PATH: &str = "/org/freedesktop/Notifications";

/// Opens the Approvals window, on a request when given one.
pub type OpenApprovals = Arc<dyn Fn(Option<String>) + Send + Sync>;

/// Whether notifications work, for the window and the logs.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifierStatus {
    /// A notification server answered.
    pub available: bool,
    /// Its name and version, e.g. `dunst 1.9.0`.
    pub server: Option<String>,
    /// Why notifications are off, when they are.
    pub error: Option<String>,
}

/// Starts the notifier on the current async runtime; the returned status fills in once the
/// notification server has answered.
pub fn spawn(gate: Gate, open: OpenApprovals) -> Arc<Mutex<NotifierStatus>> {
    let status = Arc::new(Mutex::new(NotifierStatus::default()));
    // Subscribe before anything else, so no request created during start-up is missed.
    let events = gate.subscribe();
    tauri::async_runtime::spawn(run(gate, events, open, status.clone()));
    status
}

enum Signal {
    Action {
        id: u32,
        key: String,
        sender: String,
    },
    Closed {
        id: u32,
    },
}

struct Visible {
    handle: NotificationHandle,
    target: Option<String>,
}

async fn run(
    gate: Gate,
    mut events: broadcast::Receiver<GateEvent>,
    open: OpenApprovals,
    status: Arc<Mutex<NotifierStatus>>,
) {
    let (tx, mut signals) = mpsc::unbounded_channel();
    let connection = match listen(tx).await {
        Ok(connection) => {
            let server = server_name(&connection).await;
            set_status(&status, server.is_some(), server, None);
            Some(connection)
        }
        Err(error) => {
            tracing::warn!("native notifications are off: {error}");
            set_status(&status, false, None, Some(error.to_string()));
            None
        }
    };
    let mut board = Board::new();
    let mut visible: Option<Visible> = None;
    let first = board.reset(&gate.pending_approvals());
    apply(first, &mut visible).await;
    loop {
        let reminder = board.next_reminder_ms().map(|at| {
            tokio::time::Instant::now() + Duration::from_millis(at.saturating_sub(now_ms()))
        });
        let change = tokio::select! {
            event = events.recv() => match event {
                Ok(GateEvent::Approval(approval)) => board.update(&approval),
                Ok(GateEvent::PolicyStaged(staged)) => {
                    show_staged(&staged).await;
                    Change::Nothing
                }
                Ok(_) => Change::Nothing,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "notifier missed events; reading the pending list");
                    board.reset(&gate.pending_approvals())
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            Some(signal) = signals.recv() => {
                on_signal(signal, &gate, &open, &mut visible, connection.as_ref()).await;
                Change::Nothing
            }
            () = sleep_until(reminder) => board.remind(now_ms()),
        };
        tracing::debug!(?change, pending = board.len(), next_reminder_ms = ?board.next_reminder_ms(), "notifier");
        apply(change, &mut visible).await;
    }
    if let Some(v) = visible.take() {
        v.handle.close_async().await;
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn set_status(
    status: &Mutex<NotifierStatus>,
    available: bool,
    server: Option<String>,
    error: Option<String>,
) {
    if let Ok(mut s) = status.lock() {
        *s = NotifierStatus {
            available,
            server,
            error,
        };
    }
}

/// Subscribes to the notification server's signals on a connection of our own.
async fn listen(tx: mpsc::UnboundedSender<Signal>) -> zbus::Result<zbus::Connection> {
    let connection = zbus::Connection::session().await?;
    let rule = zbus::MatchRule::builder()
        .msg_type(zbus::message::Type::Signal)
        .interface(BUS_NAME)
        .path(OBJECT_PATH)
        .build()?;
    let mut stream = zbus::MessageStream::for_match_rule(rule, &connection, None).await?;
    tauri::async_runtime::spawn(async move {
        while let Some(message) = stream.next().await {
            let Ok(message) = message else { continue };
            let header = message.header();
            let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
            let signal = match header.member().map(|m| m.as_str()) {
                Some("ActionInvoked") => match message.body().deserialize::<(u32, String)>() {
                    Ok((id, key)) => Signal::Action { id, key, sender },
                    Err(_) => continue,
                },
                Some("NotificationClosed") => match message.body().deserialize::<(u32, u32)>() {
                    Ok((id, _reason)) => Signal::Closed { id },
                    Err(_) => continue,
                },
                _ => continue,
            };
            if tx.send(signal).is_err() {
                break;
            }
        }
    });
    Ok(connection)
}

/// `name version` of the notification server, or `None` when none answers.
async fn server_name(connection: &zbus::Connection) -> Option<String> {
    let reply = connection
        .call_method(
            Some(BUS_NAME),
            OBJECT_PATH,
            Some(BUS_NAME),
            "GetServerInformation",
            &(),
        )
        .await;
    match reply {
        Ok(reply) => reply
            .body()
            .deserialize::<(String, String, String, String)>()
            .ok()
            .map(|(name, _vendor, version, _spec)| format!("{name} {version}")),
        Err(error) => {
            tracing::warn!("no notification server answers: {error}");
            None
        }
    }
}

async fn apply(change: Change, visible: &mut Option<Visible>) {
    match change {
        Change::Show(content) => show(content, visible).await,
        Change::Refresh(content) => {
            if visible.is_some() {
                show(content, visible).await;
            }
        }
        Change::Close => {
            if let Some(v) = visible.take() {
                v.handle.close_async().await;
            }
        }
        Change::Nothing => {}
    }
}

async fn show(content: Content, visible: &mut Option<Visible>) {
    let mut notification = Notification::new();
    notification
        .appname("Airlock")
        .summary(&content.summary)
        .body(&escape_markup(&content.body))
        .icon("dialog-question")
        // Requests wait for a person; the notification must not vanish before they decide.
        .timeout(Timeout::Never)
        .urgency(if content.urgent {
            Urgency::Critical
        } else {
            Urgency::Normal
        });
    for (key, label) in &content.actions {
        notification.action(key, label);
    }
    if let Some(v) = visible.as_ref() {
        notification.id(v.handle.id());
    }
    match notification.show_async().await {
        Ok(handle) => {
            tracing::info!(
                id = handle.id(),
                summary = %content.summary,
                "notification shown"
            );
            *visible = Some(Visible {
                handle,
                target: content.target,
            });
        }
        Err(error) => tracing::warn!("cannot show a notification: {error}"),
    }
}

/// A notification of its own (not the approvals one, which it must not replace), without
/// actions: the difference is read and applied in the window.
async fn show_staged(staged: &airlock_gate::StagedPolicy) {
    let (summary, body) = crate::staged_notice::staged_text(staged);
    let shown = Notification::new()
        .appname("Airlock")
        .summary(&summary)
        .body(&escape_markup(&body))
        .icon("dialog-warning")
        .timeout(Timeout::Never)
        .urgency(Urgency::Normal)
        .show_async()
        .await;
    match shown {
        Ok(handle) => tracing::info!(id = handle.id(), "staged-policy notification shown"),
        Err(error) => tracing::warn!("cannot show a notification: {error}"),
    }
}

async fn on_signal(
    signal: Signal,
    gate: &Gate,
    open: &OpenApprovals,
    visible: &mut Option<Visible>,
    connection: Option<&zbus::Connection>,
) {
    match signal {
        Signal::Closed { id } => {
            if visible.as_ref().is_some_and(|v| v.handle.id() == id) {
                *visible = None;
            }
        }
        Signal::Action { id, key, sender } => {
            if !from_server(connection, &sender).await {
                tracing::warn!(%sender, "ignoring a notification action not sent by the notification server");
                return;
            }
            let target = visible
                .as_ref()
                .filter(|v| v.handle.id() == id)
                .and_then(|v| v.target.clone());
            let Some(action) = Action::parse(&key, target.as_deref()) else {
                tracing::debug!(%key, "ignoring an unknown notification action");
                return;
            };
            let (request, approve, remember) = match action {
                Action::Open(request) => {
                    open(request);
                    return;
                }
                // Approving it needs the passphrase, typed on the card in the window: open it.
                Action::Approve(request) | Action::AllowTenMinutes(request)
                    if gate.needs_passphrase(&request) =>
                {
                    open(Some(request));
                    return;
                }
                Action::Approve(request) => (request, true, Remember::Once),
                Action::Deny(request) => (request, false, Remember::Once),
                Action::AllowTenMinutes(request) => (request, true, Remember::Minutes(10)),
            };
            let gate = gate.clone();
            tauri::async_runtime::spawn(async move {
                let decision = HumanDecision {
                    approve,
                    remember,
                    note: None,
                    source: DecisionSource::Notification,
                    args: airlock_gate::scope::ArgsChoice::Same,
                };
                match gate.decide(&request, decision).await {
                    Ok(_) => tracing::info!(%request, approve, "decided from a notification"),
                    Err(error) => {
                        tracing::info!(%request, "notification action not applied: {error}")
                    }
                }
            });
        }
    }
}

/// Whether `sender` is the current owner of `org.freedesktop.Notifications`.
async fn from_server(connection: Option<&zbus::Connection>, sender: &str) -> bool {
    let Some(connection) = connection else {
        return false;
    };
    let Ok(proxy) = zbus::fdo::DBusProxy::new(connection).await else {
        return false;
    };
    let Ok(name) = zbus::names::BusName::try_from(BUS_NAME) else {
        return false;
    };
    match proxy.get_name_owner(name).await {
        Ok(owner) => owner.as_str() == sender,
        Err(_) => false,
    }
}
