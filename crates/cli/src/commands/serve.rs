//! `airlock serve`: the headless gate (proxy + local API + web UI).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use airlock_gate::{Config, Gate, GateOptions, runtime};
use anyhow::Context;

/// Run the gate without a desktop: agents connect to it, the web UI shows approvals and history.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Config file (`mcpServers`, policies, grants). Default: `$AIRLOCK_CONFIG` or the user's
    /// config dir (e.g. ~/.config/airlock/config.json); when that does not exist, the built-in
    /// default: the demo Pusher server under policies/pusher-channels.json.
    #[arg(long, env = "AIRLOCK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on. Default: gate.listen from the config, else 127.0.0.1:4141.
    #[arg(long, env = "AIRLOCK_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Where history, the API token and the runtime file live. Default: the user's data dir.
    #[arg(long, env = "AIRLOCK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Loads the config the user asked for; the built-in default when none was asked for and none
/// exists at the default location.
pub fn load_config(explicit: Option<&std::path::Path>) -> anyhow::Result<Config> {
    if let Some(path) = explicit {
        return Ok(Config::load(path)?);
    }
    let path = runtime::default_config_path();
    if path.exists() {
        Ok(Config::load(&path)?)
    } else {
        tracing::info!(
            "no config at {}; using the built-in default (demo Pusher server)",
            path.display()
        );
        Ok(Config::builtin_default())
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    for warning in &config.warnings {
        eprintln!("{warning}");
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut options = GateOptions::new(config);
        options.data_dir = args.data_dir;
        let gate = Gate::build(options).await?;
        let listener = gate.bind(args.listen).await?;
        let addr = listener.local_addr()?;
        let app = airlock_api::app(&gate);
        // Findable (runtime.json) before it says it runs: a script that waits for the line may
        // run `airlock call` at once.
        gate.announce(&listener)?;
        eprintln!("Airlock is running on http://{addr}");
        // The link carries the API token: print it to a person's terminal, never into a log.
        if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            eprintln!("  window: http://{addr}/#token={}", gate.api_token());
        } else {
            eprintln!(
                "  window: http://{addr}/#token=<the token in {}>",
                gate.data_dir().join("api-token").display()
            );
        }
        for server in gate.config().servers.keys() {
            eprintln!("  agents: http://{addr}/mcp/{server}   (or `airlock connect {server}`)");
        }
        if gate.config().servers.is_empty() {
            eprintln!("  warning: no servers are configured (add them under `mcpServers`); agents have nothing to call");
        }
        eprintln!(
            "  history: {}",
            gate.data_dir().join("airlock.db").display()
        );
        eprintln!("Press Ctrl-C to stop.");
        gate.serve(listener, app, async {
            runtime::stop_signal().await;
            eprintln!("Airlock is stopping.");
        })
        .await?;
        Ok(ExitCode::SUCCESS)
    })
}
