//! Files the gate keeps in its data directory, and how other processes find a running gate.
//!
//! - `api-token`: a random secret (0600) that the local API and the `cli` grant require. Created once.
//! - `runtime.json`: the URL and pid of the running gate, written at start and removed at stop, so
//!   `airlock call` and `airlock connect` know where to go.
//! - `airlock.db`: the history (see airlock-store).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::GateError;
use crate::grants::new_token;

/// The data directory: `$AIRLOCK_DATA_DIR`, else the config's `gate.data_dir`, else the user's data
/// dir (e.g. `~/.local/share/airlock`).
pub fn data_dir(configured: Option<&Path>) -> PathBuf {
    if let Some(dir) = std::env::var_os("AIRLOCK_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = configured {
        return dir.to_path_buf();
    }
    directories::ProjectDirs::from("dev", "airlock", "airlock")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from(".airlock"))
}

/// The default config file: `$AIRLOCK_CONFIG`, else e.g. `~/.config/airlock/config.json`.
pub fn default_config_path() -> PathBuf {
    if let Some(path) = std::env::var_os("AIRLOCK_CONFIG") {
        return PathBuf::from(path);
    }
    directories::ProjectDirs::from("dev", "airlock", "airlock")
        .map(|d| d.config_dir().join("config.json"))
        .unwrap_or_else(|| PathBuf::from("airlock.json"))
}

/// Creates `dir` (0700) if needed.
pub fn ensure_private_dir(dir: &Path) -> Result<(), GateError> {
    std::fs::create_dir_all(dir).map_err(|source| GateError::DataDir {
        path: dir.to_path_buf(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// Writes `contents` to `path` atomically, readable by the owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), GateError> {
    let err = |source| GateError::DataDir {
        path: path.to_path_buf(),
        source,
    };
    let tmp = path.with_extension("tmp");
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(err)?;
        file.write_all(contents).map_err(err)?;
        file.sync_all().map_err(err)?;
    }
    std::fs::rename(&tmp, path).map_err(err)
}

/// Makes an existing file readable by its owner only (0600) when others could read it. Returns
/// whether it changed anything.
pub fn make_owner_only(path: &Path) -> Result<bool, GateError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|source| GateError::DataDir {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
                |source| GateError::DataDir {
                    path: path.to_path_buf(),
                    source,
                },
            )?;
            return Ok(true);
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(false)
}

/// Reads the API token, creating it on first use. A token file others could read (an older
/// version's, or one copied in) is made private first: whoever reads it can decide approvals.
pub fn api_token(dir: &Path) -> Result<String, GateError> {
    let path = dir.join("api-token");
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => {
            if make_owner_only(&path)? {
                tracing::warn!(file = %path.display(), "made the API token readable by its owner only (it was readable by others)");
            }
            Ok(token.trim().to_string())
        }
        _ => {
            ensure_private_dir(dir)?;
            let token = new_token();
            write_private(&path, token.as_bytes())?;
            Ok(token)
        }
    }
}

/// What a running gate announces in `runtime.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// Base URL, e.g. `http://127.0.0.1:4141`.
    pub url: String,
    pub pid: u32,
}

pub fn write_runtime(dir: &Path, info: &RuntimeInfo) -> Result<(), GateError> {
    let json = serde_json::to_vec_pretty(info).map_err(|e| GateError::DataDir {
        path: dir.join("runtime.json"),
        source: std::io::Error::other(e),
    })?;
    write_private(&dir.join("runtime.json"), &json)
}

/// The running gate announced in `dir`, if any. The caller still has to reach it.
pub fn read_runtime(dir: &Path) -> Option<RuntimeInfo> {
    let text = std::fs::read_to_string(dir.join("runtime.json")).ok()?;
    serde_json::from_str(&text).ok()
}

pub fn remove_runtime(dir: &Path, pid: u32) {
    if read_runtime(dir).is_some_and(|info| info.pid == pid) {
        let _ = std::fs::remove_file(dir.join("runtime.json"));
    }
}

/// Resolves on Ctrl-C or SIGTERM: how `airlock serve` and the desktop app learn to stop.
pub async fn stop_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("stop signal received; stopping the gate");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_token_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("data");
        let first = api_token(&sub).unwrap();
        assert_eq!(first, api_token(&sub).unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(sub.join("api-token"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_token_file_readable_by_others_is_made_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api-token");
        std::fs::write(&path, "airlock_existing").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(api_token(dir.path()).unwrap(), "airlock_existing");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn runtime_file_round_trips_and_is_removed_by_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let info = RuntimeInfo {
            url: "http://127.0.0.1:1".into(),
            pid: 42,
        };
        write_runtime(dir.path(), &info).unwrap();
        assert_eq!(read_runtime(dir.path()), Some(info));
        remove_runtime(dir.path(), 7);
        assert!(read_runtime(dir.path()).is_some());
        remove_runtime(dir.path(), 42);
        assert!(read_runtime(dir.path()).is_none());
    }
}
