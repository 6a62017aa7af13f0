//! Backups of every file an import changes, and `airlock import --undo`.
//!
//! Each import gets a folder `import-backups/<UTC time>` next to Airlock's config with a copy of
//! every file before it changed and `manifest.json` naming them (and the files the import
//! created, which undo removes), with the SHA-256 of what the import wrote. Undo restores the
//! newest import not yet undone, byte for byte, and renames its manifest so a second undo goes
//! one import further back; a file edited since the import is not overwritten without `--force`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
pub fn save(root: &Path, writes: &[(PathBuf, &str)]) -> anyhow::Result<PathBuf> {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "-");
    let mut dir = root.join(&stamp);
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = root.join(format!("{stamp}.{n}"));
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let mut files = Vec::new();
    for (index, (path, text)) in writes.iter().enumerate() {
        let backup = if path.exists() {
            let name = format!(
                "{index}-{}",
                path.file_name()
                    .map_or_else(|| "file".into(), |n| n.to_string_lossy())
            );
            std::fs::copy(path, dir.join(&name)).with_context(|| {
                format!("cannot back up `{}` to `{}`", path.display(), dir.display())
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
    let manifest = serde_json::to_string_pretty(&Manifest { files })?;
    std::fs::write(dir.join(MANIFEST), manifest)
        .with_context(|| format!("cannot write `{}`", dir.join(MANIFEST).display()))?;
    Ok(dir)
}

/// Restores the newest import not yet undone; returns the files it restored or removed. Refuses,
/// without `force`, when a file differs from what the import wrote (edited since).
pub fn undo(root: &Path, force: bool) -> anyhow::Result<Vec<String>> {
    let mut dirs: Vec<PathBuf> = match std::fs::read_dir(root) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.join(MANIFEST).is_file())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", root.display())),
    };
    dirs.sort();
    let Some(dir) = dirs.pop() else {
        bail!("no import to undo (no backups in `{}`)", root.display());
    };
    let text = std::fs::read_to_string(dir.join(MANIFEST))
        .with_context(|| format!("cannot read `{}`", dir.join(MANIFEST).display()))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not a manifest", dir.join(MANIFEST).display()))?;
    let edited: Vec<String> = manifest
        .files
        .iter()
        .filter(|f| std::fs::read(&f.path).is_ok_and(|now| sha256(&now) != f.written_sha256))
        .map(|f| format!("`{}`", f.path.display()))
        .collect();
    if !edited.is_empty() && !force {
        bail!(
            "changed since the import: {}; pass --force to restore them anyway (those changes are lost), or copy what you need from `{}`",
            edited.join(", "),
            dir.display()
        );
    }
    let mut done = Vec::new();
    for file in &manifest.files {
        match &file.backup {
            Some(name) => {
                std::fs::copy(dir.join(name), &file.path)
                    .with_context(|| format!("cannot restore `{}`", file.path.display()))?;
                done.push(format!("restored {}", file.path.display()));
            }
            None => match std::fs::remove_file(&file.path) {
                Ok(()) => done.push(format!("removed {}", file.path.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot remove `{}`", file.path.display()));
                }
            },
        }
    }
    std::fs::rename(dir.join(MANIFEST), dir.join(UNDONE))
        .with_context(|| format!("cannot mark `{}` undone", dir.display()))?;
    Ok(done)
}
