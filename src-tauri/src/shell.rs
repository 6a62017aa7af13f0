//! The Tauri wiring: start-up, the window, the tray, the notifier and the few native commands.
//!
//! Thin on purpose (STYLE.md habit 1): the gate decides, records and holds calls; the window is the
//! same `ui/` the browser gets and reaches the gate through the same local HTTP API. This module
//! only starts things, moves the window, and forwards tray and notification actions to the gate.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use airlock_gate::{Gate, GateEvent};
use serde::Serialize;
use tauri::http::{HeaderValue, Method, header};
use tauri::{AppHandle, Manager, State, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tokio::sync::{broadcast, oneshot};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::notifier::{self, NotifierStatus};
use crate::startup::{self, Problem, Started};
use crate::tray::{Tray, TrayAction, TrayState};

/// The main window's label.
pub const MAIN: &str = "main";
/// Scheme of the page that explains a failed start.
const PROBLEM_SCHEME: &str = "airlock-problem";
/// How long Quit waits for the gate to close its connections and remove its runtime file.
const QUIT_GRACE: Duration = Duration::from_secs(5);

/// The running gate, as the shell holds it.
struct Core {
    gate: Gate,
    base_url: String,
    shutdown: Mutex<Option<oneshot::Sender<()>>>,
    served: Mutex<Option<tauri::async_runtime::JoinHandle<()>>>,
    notifications: Arc<Mutex<NotifierStatus>>,
}

/// Everything the commands need; `core` is absent when start-up failed.
struct Shell {
    core: Option<Core>,
    problem: Option<Problem>,
    tray: OnceLock<Tray<tauri::Wry>>,
}

/// Where the window finds the local API.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiInfo {
    pub base_url: String,
    pub token: String,
}

/// `{baseUrl, token}` for the UI's transport (ui/src/transport.ts).
#[tauri::command]
fn api_info(shell: State<'_, Shell>) -> Result<ApiInfo, String> {
    match (&shell.core, &shell.problem) {
        (Some(core), _) => Ok(ApiInfo {
            base_url: core.base_url.clone(),
            token: core.gate.api_token().to_string(),
        }),
        (None, Some(problem)) => Err(format!("airlock did not start: {}", problem.message)),
        (None, None) => Err("airlock did not start".to_string()),
    }
}

/// Shows and focuses the window; `route` is a hash route such as `history`, `approval` a request
/// to bring into view.
#[tauri::command]
fn focus_window(app: AppHandle, route: Option<String>, approval: Option<String>) {
    show_window(&app, route.as_deref(), approval.as_deref());
}

/// Whether native notifications work (Linux has no permission prompt: they work when a
/// notification server answers on the session bus).
#[tauri::command]
fn notification_status(shell: State<'_, Shell>) -> NotifierStatus {
    shell
        .core
        .as_ref()
        .and_then(|c| c.notifications.lock().ok().map(|s| s.clone()))
        .unwrap_or_default()
}

/// What the tray shows.
#[tauri::command]
fn tray_state(shell: State<'_, Shell>) -> Result<TrayState, String> {
    let core = shell.core.as_ref().ok_or("airlock did not start")?;
    let tray = shell.tray.get().ok_or("the tray is not available")?;
    Ok(tray.refresh(&core.gate))
}

/// Runs a tray menu entry (`open`, `history`, `pause-toggle`, `pause`, `resume`, `quit`) through
/// the same code as a click in the menu, and returns what the tray shows afterwards.
#[tauri::command]
fn tray_action(app: AppHandle, action: String) -> Result<TrayState, String> {
    let parsed =
        TrayAction::parse(&action).ok_or_else(|| format!("unknown tray action `{action}`"))?;
    on_tray_action(&app, parsed);
    let shell = app.state::<Shell>();
    let core = shell.core.as_ref().ok_or("airlock did not start")?;
    let tray = shell.tray.get().ok_or("the tray is not available")?;
    Ok(tray.refresh(&core.gate))
}

/// Builds and runs the app; returns the process exit code.
pub fn run() -> i32 {
    let started_at = Instant::now();
    let problem_page: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
    let page = problem_page.clone();
    let app = tauri::Builder::default()
        // First: a second launch hands over to the first one and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            show_window(app, None, None);
        }))
        .register_uri_scheme_protocol(PROBLEM_SCHEME, move |_ctx, _request| {
            let body = page.get().cloned().unwrap_or_default().into_bytes();
            tauri::http::Response::builder()
                .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
                .body(body)
                .unwrap_or_else(|_| tauri::http::Response::new(Vec::new()))
        })
        .invoke_handler(tauri::generate_handler![
            api_info,
            focus_window,
            notification_status,
            tray_state,
            tray_action
        ])
        .on_window_event(|window, event| {
            // With the gate running, closing the window only hides it: the tray keeps Airlock on.
            if let WindowEvent::CloseRequested { api, .. } = event {
                let shell = window.state::<Shell>();
                if shell.core.is_some() && shell.tray.get().is_some() {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .on_page_load(move |webview, payload| {
            if payload.event() == tauri::webview::PageLoadEvent::Finished {
                tracing::info!(
                    window = webview.label(),
                    url = %payload.url(),
                    elapsed_ms = started_at.elapsed().as_millis() as u64,
                    "window loaded"
                );
            }
        })
        .setup(move |app| {
            setup(app, &problem_page);
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(error) => {
            tracing::error!("cannot start the desktop app: {error}");
            eprintln!("airlock-app: cannot start the desktop app: {error}");
            return 1;
        }
    };
    app.run(|_app, _event| {});
    0
}

fn setup(app: &mut tauri::App, problem_page: &OnceLock<String>) {
    let started = match startup::Settings::from_env() {
        Ok(settings) => tauri::async_runtime::block_on(startup::start(settings)),
        Err(error) => Err((error, airlock_gate::runtime::default_config_path())),
    };
    match started {
        Ok(started) => running(app, started),
        Err((error, config)) => {
            let problem = Problem::new(&error, Some(&config));
            tracing::error!("{}: {}", problem.title, problem.message);
            eprintln!(
                "airlock-app: {}: {}\n  fix: {}",
                problem.title, problem.message, problem.fix
            );
            let _ = problem_page.set(problem.page());
            app.manage(Shell {
                core: None,
                problem: Some(problem),
                tray: OnceLock::new(),
            });
            let url = format!("{PROBLEM_SCHEME}://localhost/");
            let window = url.parse().map_err(|e| format!("{e}")).and_then(|url| {
                WebviewWindowBuilder::new(app, MAIN, WebviewUrl::CustomProtocol(url))
                    .title("Airlock could not start")
                    .inner_size(820.0, 520.0)
                    .build()
                    .map_err(|e| e.to_string())
            });
            if let Err(error) = window {
                // No window can explain it: say it on stderr and leave with an error.
                eprintln!("airlock-app: cannot open the problem window: {error}");
                std::process::exit(1);
            }
        }
    }
}

fn running(app: &mut tauri::App, started: Started) {
    let Started {
        gate,
        listener,
        addr,
        config_path,
    } = started;
    let router = airlock_api::app(&gate).layer(webview_cors());
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let served = tauri::async_runtime::spawn({
        let gate = gate.clone();
        async move {
            let stop = async {
                let _ = stop_rx.await;
            };
            if let Err(error) = gate.serve(listener, router, stop).await {
                tracing::error!("the gate stopped: {error}");
            }
        }
    });
    let base_url = format!("http://{addr}");
    tracing::info!(config = %config_path.display(), "Airlock is running on {base_url}");
    eprintln!(
        "Airlock is running on {base_url} (config {})",
        config_path.display()
    );

    let handle = app.handle().clone();
    let open: notifier::OpenApprovals = Arc::new(move |request: Option<String>| {
        let app = handle.clone();
        let _ = handle.run_on_main_thread(move || {
            show_window(&app, Some("approvals"), request.as_deref());
        });
    });
    let notifications = notifier::spawn(gate.clone(), open);
    crate::tool_notice::spawn(&gate);

    app.manage(Shell {
        core: Some(Core {
            gate: gate.clone(),
            base_url,
            shutdown: Mutex::new(Some(stop_tx)),
            served: Mutex::new(Some(served)),
            notifications,
        }),
        problem: None,
        tray: OnceLock::new(),
    });

    // Ctrl-C or SIGTERM: stop like Quit, so the runtime file does not outlive the gate.
    let handle = app.handle().clone();
    tauri::async_runtime::spawn(async move {
        airlock_gate::runtime::stop_signal().await;
        let app = handle.clone();
        let _ = handle.run_on_main_thread(move || quit(&app));
    });

    match Tray::build(app.handle(), on_tray_action) {
        Ok(tray) => {
            tray.refresh(&gate);
            let _ = app.state::<Shell>().tray.set(tray);
            spawn_tray_refresh(app.handle().clone(), gate.subscribe());
        }
        // Without a tray, closing the window quits (see on_window_event): nothing would be left
        // to bring it back.
        Err(error) => tracing::warn!("no tray icon: {error}"),
    }

    let window = WebviewWindowBuilder::new(app, MAIN, WebviewUrl::App("index.html".into()))
        .title("Airlock")
        .inner_size(1100.0, 760.0)
        .build();
    if let Err(error) = window {
        tracing::error!("cannot open the window: {error}");
    }
}

/// The webview's page (`tauri://localhost`) calls the API on `http://127.0.0.1:<port>`: a
/// cross-origin request with an `Authorization` header, so the browser engine asks first. Only
/// the app's own origins get an answer; the API still checks Origin and the token on every call.
fn webview_cors() -> CorsLayer {
    let origins: Vec<HeaderValue> = airlock_api::auth::APP_ORIGINS
        .iter()
        .map(|o| HeaderValue::from_static(o))
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([header::CONTENT_DISPOSITION])
}

/// Keeps the tray's count and pause state in step with the gate.
fn spawn_tray_refresh(app: AppHandle, mut events: broadcast::Receiver<GateEvent>) {
    tauri::async_runtime::spawn(async move {
        loop {
            match events.recv().await {
                Ok(GateEvent::Approval(_) | GateEvent::Status)
                | Err(broadcast::error::RecvError::Lagged(_)) => {
                    let handle = app.clone();
                    let _ = app.run_on_main_thread(move || {
                        let shell = handle.state::<Shell>();
                        if let (Some(core), Some(tray)) = (&shell.core, shell.tray.get()) {
                            tray.refresh(&core.gate);
                        }
                    });
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
}

fn on_tray_action(app: &AppHandle, action: TrayAction) {
    let shell = app.state::<Shell>();
    let gate = shell.core.as_ref().map(|c| &c.gate);
    match action {
        TrayAction::OpenApprovals => show_window(app, Some("approvals"), None),
        TrayAction::History => show_window(app, Some("history"), None),
        TrayAction::TogglePause => {
            if let Some(gate) = gate {
                gate.set_paused(!gate.paused());
            }
        }
        TrayAction::Pause => {
            if let Some(gate) = gate {
                gate.set_paused(true);
            }
        }
        TrayAction::Resume => {
            if let Some(gate) = gate {
                gate.set_paused(false);
            }
        }
        TrayAction::Quit => quit(app),
    }
    if let (Some(gate), Some(tray)) = (gate, shell.tray.get()) {
        tray.refresh(gate);
    }
}

/// Stops the gate (it removes its runtime file), then exits.
fn quit(app: &AppHandle) {
    let shell = app.state::<Shell>();
    let Some(core) = &shell.core else {
        app.exit(0);
        return;
    };
    if let Some(stop) = core.shutdown.lock().ok().and_then(|mut s| s.take()) {
        let _ = stop.send(());
    }
    let served = core.served.lock().ok().and_then(|mut s| s.take());
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Some(served) = served
            && tokio::time::timeout(QUIT_GRACE, served).await.is_err()
        {
            tracing::warn!("the gate did not stop within {QUIT_GRACE:?}; exiting anyway");
        }
        app.exit(0);
    });
}

/// Shows, raises and focuses the main window; optionally switches its route and brings one
/// approval request into view.
pub fn show_window(app: &AppHandle, route: Option<&str>, approval: Option<&str>) {
    let Some(window) = app.get_webview_window(MAIN) else {
        return;
    };
    let _ = window.show();
    let _ = window.unminimize();
    let _ = window.set_focus();
    if let Some(route) = route {
        let hash = serde_json::Value::String(format!("#/{route}")).to_string();
        let _ = window.eval(format!("if (window.location.hash.split('/')[1] !== {hash}.split('/')[1]) window.location.hash = {hash};"));
    }
    if let Some(id) = approval {
        let id = serde_json::Value::String(id.to_string()).to_string();
        // The card appears once the list has loaded; click it (that focuses it) when it does.
        let _ = window.eval(format!(
            "(function(){{var id={id},n=0,t=setInterval(function(){{\
             var el=document.querySelector('[data-approval-id=\"'+CSS.escape(id)+'\"]');\
             if(el){{clearInterval(t);el.click();el.scrollIntoView({{block:'nearest'}});}}\
             else if(++n>50){{clearInterval(t);}}}},100);}})();"
        ));
    }
}
