//! Backups of every file an import changes, and `airlock import --undo`.
//!
//! Each import gets a folder `import-backups/<UTC time>` next to Airlock's config with a copy of
//! every file before it changed and `manifest.json` naming them (and the files the import
//! created, which undo removes). Undo restores the newest import not yet undone, byte for byte,
//! and renames its manifest so a second undo goes one import further back.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

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
}

/// The folder that holds the backups of all imports.
pub fn root(airlock_config: &Path) -> PathBuf {
    airlock_config
        .parent()
        .unwrap_or(Path::new("."))
        .join("import-backups")
}

/// Copies each of `paths` that exists into a new timestamped folder under `root` and writes the
/// manifest; returns the folder. Called before any of them changes.
pub fn save(root: &Path, paths: &[PathBuf]) -> anyhow::Result<PathBuf> {
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
    for (index, path) in paths.iter().enumerate() {
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
        });
    }
    let manifest = serde_json::to_string_pretty(&Manifest { files })?;
    std::fs::write(dir.join(MANIFEST), manifest)
        .with_context(|| format!("cannot write `{}`", dir.join(MANIFEST).display()))?;
    Ok(dir)
}

/// Restores the newest import not yet undone; returns the files it restored or removed.
pub fn undo(root: &Path) -> anyhow::Result<Vec<String>> {
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
