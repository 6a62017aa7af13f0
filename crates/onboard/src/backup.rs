//! Backups of every file an import (or a policy created in the window) changes, and undo.
//!
//! Each change gets a folder `import-backups/<UTC time>` next to Airlock's config with a copy of
//! every file before it changed and `manifest.json` naming them (and the files it created, which
//! undo removes), with the SHA-256 of what was written. Undo restores the newest change not yet
//! undone, byte for byte, and renames its manifest so a second undo goes one further back; a
//! file edited since is not overwritten unless forced.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Result, read_error, write_error};

const MANIFEST: &str = "manifest.json";
const UNDONE: &str = "manifest.undone.json";

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    files: Vec<Changed>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Changed {
    /// The file the import wrote.
    path: PathBuf,
    /// Its copy from before, in the backup folder; `None` when the import created the file.
    backup: Option<String>,
    /// SHA-256 (hex) of what the import wrote there.
    written_sha256: String,
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The folder that holds the backups of all imports.
pub fn root(airlock_config: &Path) -> PathBuf {
    airlock_config
        .parent()
        .unwrap_or(Path::new("."))
        .join("import-backups")
}

/// Copies each file of `writes` (path, what the import will write there) that exists into a new
/// timestamped folder under `root` and writes the manifest; returns the folder. Called before any
/// of them changes.
pub fn save(root: &Path, writes: &[(PathBuf, &str)]) -> Result<PathBuf> {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "-");
    let mut dir = root.join(&stamp);
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = root.join(format!("{stamp}.{n}"));
    }
    std::fs::create_dir_all(&dir).map_err(write_error(&dir))?;
    let mut files = Vec::new();
    for (index, (path, text)) in writes.iter().enumerate() {
        let backup = if path.exists() {
            let name = format!(
                "{index}-{}",
                path.file_name()
                    .map_or_else(|| "file".into(), |n| n.to_string_lossy())
            );
            std::fs::copy(path, dir.join(&name)).map_err(|source| Error::Backup {
                path: path.clone(),
                dir: dir.clone(),
                source,
            })?;
            Some(name)
        } else {
            None
        };
        files.push(Changed {
            path: path.clone(),
            backup,
            written_sha256: sha256(text.as_bytes()),
        });
    }
    let manifest =
        serde_json::to_string_pretty(&Manifest { files }).map_err(|source| Error::Manifest {
            path: dir.join(MANIFEST),
            source,
        })?;
    std::fs::write(dir.join(MANIFEST), manifest).map_err(write_error(&dir.join(MANIFEST)))?;
    Ok(dir)
}

/// Restores the newest import not yet undone; returns the files it restored or removed. Refuses,
/// without `force`, when a file differs from what the import wrote (edited since).
pub fn undo(root: &Path, force: bool) -> Result<Vec<String>> {
    let mut dirs: Vec<PathBuf> = match std::fs::read_dir(root) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join(MANIFEST).is_file())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(read_error(root)(e)),
    };
    dirs.sort();
    let Some(dir) = dirs.pop() else {
        return Err(Error::NothingToUndo(root.to_path_buf()));
    };
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path).map_err(read_error(&manifest_path))?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|source| Error::Manifest {
        path: manifest_path.clone(),
        source,
    })?;
    let edited: Vec<String> = manifest
        .files
        .iter()
        .filter(|f| std::fs::read(&f.path).is_ok_and(|now| sha256(&now) != f.written_sha256))
        .map(|f| format!("`{}`", f.path.display()))
        .collect();
    if !edited.is_empty() && !force {
        return Err(Error::EditedSince {
            files: edited.join(", "),
            dir,
        });
    }
    let mut done = Vec::new();
    for file in &manifest.files {
        match &file.backup {
            Some(name) => {
                std::fs::copy(dir.join(name), &file.path).map_err(write_error(&file.path))?;
                done.push(format!("restored {}", file.path.display()));
            }
            None => match std::fs::remove_file(&file.path) {
                Ok(()) => done.push(format!("removed {}", file.path.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(write_error(&file.path)(e)),
            },
        }
    }
    std::fs::rename(&manifest_path, dir.join(UNDONE)).map_err(write_error(&manifest_path))?;
    Ok(done)
}
