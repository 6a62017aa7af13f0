//! Finding the running gate, for commands that talk to it (`call`, `connect`, `approvals`, …).

use std::path::PathBuf;

use airlock_gate::runtime;

/// Where to reach the gate and with which token.
#[derive(Debug, Clone)]
pub struct GateAddress {
    /// e.g. `http://127.0.0.1:4141`
    pub base_url: String,
    /// The local API token (identity `cli`), when it could be read.
    pub api_token: Option<String>,
}

/// Options shared by commands that talk to a running gate.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// Base URL of the gate. Default: read from `<data dir>/runtime.json`, written by the running
    /// gate.
    #[arg(long, env = "AIRLOCK_URL", global = true)]
    pub url: Option<String>,
    /// Data directory of the gate (for its runtime file and API token).
    #[arg(long, env = "AIRLOCK_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

impl GateArgs {
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| runtime::data_dir(None))
    }

    /// Finds the gate, or says in one line why not.
    pub fn locate(&self) -> anyhow::Result<GateAddress> {
        let dir = self.data_dir();
        let api_token = std::fs::read_to_string(dir.join("api-token"))
            .ok()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        if let Some(url) = &self.url {
            return Ok(GateAddress {
                base_url: url.trim_end_matches('/').to_string(),
                api_token,
            });
        }
        match runtime::read_runtime(&dir) {
            // A gate that was killed leaves its runtime file behind: check something listens.
            Some(info) if !listening(&info.url) => anyhow::bail!(
                "no Airlock gate is running (the one that wrote {} as pid {} is gone); start one with `airlock serve` or the desktop app",
                dir.join("runtime.json").display(),
                info.pid
            ),
            Some(info) => Ok(GateAddress {
                base_url: info.url,
                api_token,
            }),
            None => anyhow::bail!(
                "no Airlock gate is running (no {}); start one with `airlock serve` or the desktop app",
                dir.join("runtime.json").display()
            ),
        }
    }
}

/// True when something accepts TCP connections at the URL's host and port.
fn listening(url: &str) -> bool {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    use std::net::ToSocketAddrs;
    authority.to_socket_addrs().is_ok_and(|mut addrs| {
        addrs.any(|addr| {
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(500))
                .is_ok()
        })
    })
}

/// `Authorization: Bearer <token>` as a header map (empty when there is no token).
pub fn bearer(token: Option<&str>) -> anyhow::Result<http::HeaderMap> {
    let mut headers = http::HeaderMap::new();
    if let Some(token) = token {
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_str(&format!("Bearer {token}"))?,
        );
    }
    Ok(headers)
}
