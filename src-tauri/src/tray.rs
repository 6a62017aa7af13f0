//! The tray icon: pending count in the tooltip and the menu, and the menu itself (Open Approvals,
//! History, Pause all agents, Quit).
//!
//! The menu acts through [`TrayAction`], which the `tray_action` command also calls, so the one
//! code path is tested even where no tray host exists (Xvfb has none). The state shown is read back
//! from the gate on every gate event, so a pause switched in the window or through the API shows
//! in the menu too.

use airlock_gate::Gate;
use serde::Serialize;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Runtime};

/// What a tray menu entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayAction {
    OpenApprovals,
    History,
    /// Pause when running, resume when paused.
    TogglePause,
    Pause,
    Resume,
    Quit,
}

impl TrayAction {
    /// The menu item id, also the name the `tray_action` command takes.
    pub fn parse(name: &str) -> Option<TrayAction> {
        Some(match name {
            "open" => TrayAction::OpenApprovals,
            "history" => TrayAction::History,
            "pause-toggle" => TrayAction::TogglePause,
            "pause" => TrayAction::Pause,
            "resume" => TrayAction::Resume,
            "quit" => TrayAction::Quit,
            _ => return None,
        })
    }
}

/// What the tray shows right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrayState {
    /// Pending requests, from the gate.
    pub pending: usize,
    /// Whether the gate is paused.
    pub paused: bool,
    /// The tooltip as set on the icon.
    pub tooltip: String,
    /// The count line of the menu, as it reads.
    pub count_label: String,
    /// Whether "Pause all agents" is checked, as the menu shows it.
    pub pause_checked: bool,
}

/// The tooltip for `pending` requests.
pub fn tooltip(pending: usize, paused: bool) -> String {
    let count = count_label(pending);
    if paused {
        format!("Airlock: paused, all agents are denied · {count}")
    } else {
        format!("Airlock: {count}")
    }
}

/// The count line of the menu.
pub fn count_label(pending: usize) -> String {
    match pending {
        0 => "No pending requests".to_string(),
        1 => "1 pending request".to_string(),
        n => format!("{n} pending requests"),
    }
}

/// The tray's live parts.
pub struct Tray<R: Runtime> {
    icon: TrayIcon<R>,
    count: MenuItem<R>,
    pause: CheckMenuItem<R>,
}

impl<R: Runtime> std::fmt::Debug for Tray<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tray").finish_non_exhaustive()
    }
}

impl<R: Runtime> Tray<R> {
    /// Builds the icon and its menu; `on_action` runs for every menu entry.
    pub fn build(
        app: &AppHandle<R>,
        on_action: impl Fn(&AppHandle<R>, TrayAction) + Send + Sync + 'static,
    ) -> tauri::Result<Tray<R>> {
        let count = MenuItem::with_id(app, "count", count_label(0), false, None::<&str>)?;
        let open = MenuItem::with_id(app, "open", "Open Approvals", true, None::<&str>)?;
        let history = MenuItem::with_id(app, "history", "History", true, None::<&str>)?;
        let pause = CheckMenuItem::with_id(
            app,
            "pause-toggle",
            "Pause all agents",
            true,
            false,
            None::<&str>,
        )?;
        let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
        let menu = Menu::with_items(
            app,
            &[
                &count,
                &PredefinedMenuItem::separator(app)?,
                &open,
                &history,
                &pause,
                &PredefinedMenuItem::separator(app)?,
                &quit,
            ],
        )?;
        let mut builder = TrayIconBuilder::with_id("airlock")
            .tooltip(tooltip(0, false))
            .menu(&menu)
            .on_menu_event(move |app, event| {
                if let Some(action) = TrayAction::parse(event.id().as_ref()) {
                    on_action(app, action);
                }
            });
        if let Some(icon) = app.default_window_icon() {
            builder = builder.icon(icon.clone());
        }
        let icon = builder.build(app)?;
        Ok(Tray { icon, count, pause })
    }

    /// Shows the gate's pending count and pause state.
    pub fn refresh(&self, gate: &Gate) -> TrayState {
        let pending = gate.pending_approvals().len();
        let paused = gate.paused();
        let tip = tooltip(pending, paused);
        if let Err(error) = self.count.set_text(count_label(pending)) {
            tracing::debug!("cannot update the tray menu: {error}");
        }
        if let Err(error) = self.pause.set_checked(paused) {
            tracing::debug!("cannot update the tray menu: {error}");
        }
        if let Err(error) = self.icon.set_tooltip(Some(&tip)) {
            tracing::debug!("cannot update the tray tooltip: {error}");
        }
        TrayState {
            pending,
            paused,
            tooltip: tip,
            count_label: self.count.text().unwrap_or_default(),
            pause_checked: self.pause.is_checked().unwrap_or(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_say_the_count_and_the_pause() {
        assert_eq!(count_label(0), "No pending requests");
        assert_eq!(count_label(1), "1 pending request");
        assert_eq!(count_label(3), "3 pending requests");
        assert_eq!(tooltip(2, false), "Airlock: 2 pending requests");
        assert_eq!(
            tooltip(0, true),
            "Airlock: paused, all agents are denied · No pending requests"
        );
    }

    #[test]
    fn menu_ids_map_to_actions() {
        assert_eq!(TrayAction::parse("open"), Some(TrayAction::OpenApprovals));
        assert_eq!(
            TrayAction::parse("pause-toggle"),
            Some(TrayAction::TogglePause)
        );
        assert_eq!(TrayAction::parse("quit"), Some(TrayAction::Quit));
        assert_eq!(TrayAction::parse("count"), None);
    }
}
