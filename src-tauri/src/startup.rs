//! Start-up of the desktop app: which config, first-run default, and the gate itself.
//!
//! The lookup is the one `airlock serve` uses (`$AIRLOCK_CONFIG`, else the user's config dir;
//! `$AIRLOCK_DATA_DIR` and `$AIRLOCK_LISTEN` honoured), with one difference: when no config file
//! exists, the app writes the default one (the demo Pusher server under the shipped Pusher policy,
//! the policy as a file next to the config) so a new user sees Airlock work at once and has a file
//! to edit. Every failure becomes a [`Problem`]: what is wrong and how to fix it, shown in a window
//! instead of a crash or a silent exit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use airlock_gate::config::PUSHER_POLICY_SOURCE;
use airlock_gate::{Config, Gate, GateError, GateOptions, runtime};

/// File name of the policy written next to a first-run config.
pub const DEFAULT_POLICY_FILE: &str = "pusher-channels.json";

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot write the default config `{path}`: {error}")]
    WriteDefault {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("`AIRLOCK_LISTEN` is `{value}`, which is not an address like `127.0.0.1:4141`")]
    Listen { value: String },
    #[error(transparent)]
    Gate(#[from] GateError),
}

/// The config the app runs with, and where it lives.
#[derive(Debug)]
pub struct ResolvedConfig {
    pub config: Config,
    pub path: PathBuf,
    /// This start wrote the default config (first run).
    pub created: bool,
}

/// The default config file: the demo Pusher server under the policy file next to it.
pub fn default_config_text() -> String {
    format!(
        "{{\n  \"mcpServers\": {{\n    \"pusher\": {{ \"builtin\": \"demo-pusher\", \"policy\": \"{DEFAULT_POLICY_FILE}\" }}\n  }}\n}}\n"
    )
}

/// Writes the default config at `path` and the shipped Pusher policy next to it. Never overwrites:
/// a policy file that already exists is kept as it is.
pub fn write_default_config(path: &Path) -> Result<(), StartupError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |error| StartupError::WriteDefault { path, error }
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    let policy = dir.join(DEFAULT_POLICY_FILE);
    if !policy.exists() {
        std::fs::write(&policy, PUSHER_POLICY_SOURCE).map_err(err(&policy))?;
    }
    // `create_new`: two first starts at once cannot clobber each other's (or the user's) file.
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(err(path))?;
    file.write_all(default_config_text().as_bytes())
        .map_err(err(path))?;
    Ok(())
}

/// Finds the config (`$AIRLOCK_CONFIG` or the user's config dir), writing the default one first
/// when there is none, and loads it.
pub fn resolve_config() -> Result<ResolvedConfig, StartupError> {
    resolve_config_at(&runtime::default_config_path())
}

/// Loads the config at `path`, writing the default one there first when there is none.
pub fn resolve_config_at(path: &Path) -> Result<ResolvedConfig, StartupError> {
    let mut created = false;
    if !path.exists() {
        write_default_config(path)?;
        created = true;
        tracing::info!("first run: wrote the default config to {}", path.display());
    }
    let config = Config::load(path)?;
    Ok(ResolvedConfig {
        config,
        path: path.to_path_buf(),
        created,
    })
}

/// `$AIRLOCK_LISTEN`, when set: overrides `gate.listen` as it does for `airlock serve`.
pub fn listen_override() -> Result<Option<SocketAddr>, StartupError> {
    match std::env::var("AIRLOCK_LISTEN") {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| StartupError::Listen { value }),
        _ => Ok(None),
    }
}

/// A started gate with its listener bound (not yet serving).
#[derive(Debug)]
pub struct Started {
    pub gate: Gate,
    pub listener: tokio::net::TcpListener,
    pub addr: SocketAddr,
    pub config_path: PathBuf,
}

/// Where the app takes its settings from; [`Settings::from_env`] is what the app uses.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_path: PathBuf,
    /// Overrides `gate.listen`.
    pub listen: Option<SocketAddr>,
    /// Overrides the data directory (else `$AIRLOCK_DATA_DIR`, `gate.data_dir`, the user's).
    pub data_dir: Option<PathBuf>,
}

impl Settings {
    /// `$AIRLOCK_CONFIG` (or the user's config dir) and `$AIRLOCK_LISTEN`; the gate itself reads
    /// `$AIRLOCK_DATA_DIR`.
    pub fn from_env() -> Result<Settings, StartupError> {
        Ok(Settings {
            config_path: runtime::default_config_path(),
            listen: listen_override()?,
            data_dir: None,
        })
    }
}

/// Resolves the config, builds the gate and binds its port. On failure, also says which config
/// file was in use, for the explanation.
pub async fn start(settings: Settings) -> Result<Started, (StartupError, PathBuf)> {
    let path = settings.config_path;
    let with_path = |e: StartupError| (e, path.clone());
    let resolved = resolve_config_at(&path).map_err(with_path)?;
    let mut options = GateOptions::new(resolved.config);
    options.data_dir = settings.data_dir;
    let gate = Gate::build(options)
        .await
        .map_err(|e| with_path(e.into()))?;
    let listener = gate
        .bind(settings.listen)
        .await
        .map_err(|e| with_path(e.into()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| with_path(GateError::Serve(e).into()))?;
    Ok(Started {
        gate,
        listener,
        addr,
        config_path: path,
    })
}

/// What went wrong, written for the person at the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub title: String,
    pub message: String,
    pub fix: String,
}

impl Problem {
    /// Explains `error`; `config` is the config file in use, when known.
    pub fn new(error: &StartupError, config: Option<&Path>) -> Problem {
        let shown = config.map_or_else(
            || "the config file".to_string(),
            |p| format!("`{}`", p.display()),
        );
        let (title, fix) = match error {
            StartupError::Gate(GateError::Bind { addr, .. }) => (
                "Airlock cannot use its port".to_string(),
                format!(
                    "Another program is listening on {addr} (often another Airlock, or `airlock serve`). \
                     Stop it, or give Airlock another port: set \"gate\": {{\"listen\": \"127.0.0.1:4142\"}} in {shown} \
                     (or start the app with AIRLOCK_LISTEN=127.0.0.1:4142), then start Airlock again."
                ),
            ),
            StartupError::Gate(
                GateError::ConfigInvalid { .. }
                | GateError::ConfigProblems(_)
                | GateError::ConfigRead { .. },
            ) => (
                "Airlock cannot read its config".to_string(),
                format!(
                    "Fix {shown} at the place named above and start Airlock again. To start over with the \
                     default config (the demo Pusher server), move the file away; Airlock writes a new one."
                ),
            ),
            StartupError::WriteDefault { .. } => (
                "Airlock cannot write its first config".to_string(),
                "Make the folder writable, or point AIRLOCK_CONFIG at a file you can write, then start Airlock again."
                    .to_string(),
            ),
            StartupError::Listen { .. } => (
                "Airlock cannot use the address it was given".to_string(),
                "Set AIRLOCK_LISTEN to a loopback address with a port, like 127.0.0.1:4141, or unset it."
                    .to_string(),
            ),
            StartupError::Gate(GateError::DataDir { .. } | GateError::Store { .. }) => (
                "Airlock cannot open its data folder".to_string(),
                "Check that the folder exists and is yours, or point AIRLOCK_DATA_DIR at another folder, then start Airlock again."
                    .to_string(),
            ),
            StartupError::Gate(_) => (
                "Airlock could not start".to_string(),
                "Start Airlock again; if this repeats, run `airlock serve` in a terminal to see the full log."
                    .to_string(),
            ),
        };
        Problem {
            title,
            message: with_causes(error),
            fix,
        }
    }

    /// A self-contained HTML page that shows the problem (no scripts, no network).
    pub fn page(&self) -> String {
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Airlock: {title}</title>\
             <style>body{{font:15px/1.5 system-ui,sans-serif;margin:48px;color:#1c2430;max-width:760px}}\
             h1{{font-size:22px;color:#a4262c}}pre{{white-space:pre-wrap;background:#f4f5f7;padding:12px;\
             border-radius:6px}}</style></head><body><h1 id=\"title\">{title}</h1>\
             <pre id=\"message\">{message}</pre><h2>How to fix it</h2><p id=\"fix\">{fix}</p></body></html>",
            title = escape_html(&self.title),
            message = escape_html(&self.message),
            fix = escape_html(&self.fix),
        )
    }
}

/// `error`'s message followed by each of its causes, as `message: cause: cause`.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
