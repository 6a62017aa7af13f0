//! What each server's path arguments are normalized against, for the policy's `under` and
//! `glob`: its roots, the home directory, and, for servers on this machine, the disk.
//!
//! **Roots** (the base directories a relative path is joined to) are `mcpServers.<name>.roots`;
//! without it, the server's `cwd`; with neither, none: a relative path then cannot be normalized
//! and a path condition on it fails closed. Airlock does not guess a base (its own working
//! directory, the config folder): a wrong base reads `secret/x` as a file the server would not
//! open, and a `deny_if` would miss the one it does. `~` is the home directory of the user
//! running Airlock. Names are compared without case on macOS and Windows (the policy crate's
//! host rule).
//!
//! **Symlinks.** The policy crate normalizes lexically: `docs/link` stays `docs/link` even when it
//! points at `../secret`. A stdio server runs on this machine and opens the files Airlock can
//! see, so for it the gate resolves links: before a call of a tool whose conditions use `under`
//! or `glob` is evaluated, one pure evaluation records the paths the policy asks about
//! ([`Asked`]), a blocking thread (`tokio::task::spawn_blocking`, never the async runtime) finds
//! their real paths with `soft_canonicalize` (the real path of what exists, the missing rest
//! appended, dangling links followed), and the evaluation that decides sees both the lexical and
//! the real form of every path ([`Answers`]): a `deny_if` fires on either, a `require` needs both.
//! Roots are resolved once, when the gate starts. An HTTP server's files may be on another
//! machine, so there only the lexical form is checked. The check is not atomic with the server's
//! open: a link changed in between is not seen.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use airlock_policy::{PathContext, PathResolver};

use crate::GateError;
use crate::config::{Config, ServerEntry, UpstreamKind};
use crate::policies::PolicySet;

/// The path contexts of every configured server.
#[derive(Debug, Default)]
pub(crate) struct ServerRoots {
    servers: HashMap<String, ServerPaths>,
    /// For a server not in the config (none is routed, but fail closed: no roots, no disk).
    fallback: ServerPaths,
}

/// One server's context, built once.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerPaths {
    /// Roots and home, both already resolved on disk when `on_disk`.
    pub context: Arc<PathContext>,
    /// Resolve symlinks of path arguments on this machine (stdio servers).
    pub on_disk: bool,
}

impl ServerRoots {
    /// Builds every server's context. Blocking: resolves the roots on disk, so call it off the
    /// async runtime. A root that cannot be normalized (`~` without a home directory, a NUL) is
    /// a config error.
    pub(crate) fn from_config(config: &Config) -> Result<ServerRoots, GateError> {
        let home = home_dir();
        let config_dir = match config.base_dir() {
            // `--config config.json`: the folder is the working directory.
            dir if dir.as_os_str().is_empty() => PathBuf::from("."),
            dir => dir,
        };
        let config_dir = std::path::absolute(&config_dir).unwrap_or(config_dir);
        let mut servers = HashMap::new();
        for (name, entry) in &config.servers {
            let on_disk = matches!(entry.upstream(name), Ok(UpstreamKind::Stdio { .. }));
            let roots = roots_of(entry, &config_dir);
            let context = build_context(&roots, home.as_deref(), on_disk).map_err(|e| {
                GateError::ConfigInvalid {
                    path: format!("mcpServers.{name}.roots"),
                    message: e,
                }
            })?;
            servers.insert(
                name.clone(),
                ServerPaths {
                    context: Arc::new(context),
                    on_disk,
                },
            );
        }
        let fallback = ServerPaths {
            context: Arc::new(
                build_context(&[], home.as_deref(), false).unwrap_or(PathContext::EMPTY),
            ),
            on_disk: false,
        };
        Ok(ServerRoots { servers, fallback })
    }

    /// The context of `server`.
    pub(crate) fn get(&self, server: &str) -> &ServerPaths {
        self.servers.get(server).unwrap_or(&self.fallback)
    }
}

/// Logs a warning for each server whose policy has path conditions but which has neither `roots`
/// nor `cwd`: relative paths will be denied (or asked about), and the user should know why.
pub(crate) fn warn_about_missing_roots(config: &Config, policies: &PolicySet) {
    for (name, entry) in &config.servers {
        if entry.roots.is_some() || entry.cwd.is_some() {
            continue;
        }
        // The server's own policy, and any grant's policy that replaces it.
        let grants = config.grants.keys().map(String::as_str);
        let checked = std::iter::once("")
            .chain(grants)
            .any(|grant| policies.for_call(grant, name).is_ok_and(|p| p.uses_paths()));
        if checked {
            tracing::warn!(
                server = %name,
                "the policy has path conditions but mcpServers.{name} sets neither `roots` nor `cwd`: relative path arguments cannot be normalized and those conditions fail closed; set `roots` to the directories the server works in"
            );
        }
    }
}

/// The roots of one server as absolute (or `~/…`) strings: `roots` (relative entries below the
/// config folder), else `cwd` (likewise), else none.
pub(crate) fn roots_of(entry: &ServerEntry, config_dir: &Path) -> Vec<String> {
    let anchored = |p: &str| -> String {
        if p == "~" || p.starts_with("~/") || Path::new(p).is_absolute() {
            p.to_owned()
        } else {
            config_dir.join(p).to_string_lossy().into_owned()
        }
    };
    match (&entry.roots, &entry.cwd) {
        (Some(roots), _) => roots.iter().map(|r| anchored(r)).collect(),
        (None, Some(cwd)) => vec![anchored(&cwd.to_string_lossy())],
        (None, None) => Vec::new(),
    }
}

/// A path context as the gate builds one for a stdio server with these `roots` (absolute or
/// `~/…`): the user's home directory, and every path resolved on disk by the context itself
/// (blocking). For tools that evaluate one call locally, like `airlock explain`.
pub fn local_path_context(roots: &[String]) -> Result<PathContext, String> {
    let context = build_context(roots, home_dir().as_deref(), true)?;
    Ok(context.with_resolver(Arc::new(OnDisk)))
}

/// The home directory, if the platform knows one.
fn home_dir() -> Option<String> {
    let dirs = directories::BaseDirs::new()?;
    let home = dirs.home_dir().to_str()?;
    Some(home.to_owned())
}

fn build_context(
    roots: &[String],
    home: Option<&str>,
    on_disk: bool,
) -> Result<PathContext, String> {
    let mut builder = PathContext::builder().bases(roots.iter().cloned());
    if let Some(home) = home {
        builder = builder.home(home);
    }
    if on_disk {
        builder = builder.resolver(Arc::new(OnDisk));
    }
    match builder.build() {
        // The roots are resolved now; arguments are resolved per call, off the runtime
        // (`crate::decide`), so the kept context must not touch the disk itself.
        Ok(context) => Ok(context.without_resolver()),
        // A home directory Airlock cannot use must not stop the gate: `~` fails closed instead.
        Err(e) if e.role == airlock_policy::PathRole::Home => {
            tracing::warn!(
                "the home directory cannot be used for `~` in path conditions: {}",
                e.error
            );
            build_context(roots, None, on_disk)
        }
        Err(e) => Err(format!("{e}: {}", e.error)),
    }
}

/// Real paths from the disk. Blocking: used where the gate starts and on blocking threads.
#[derive(Debug)]
pub(crate) struct OnDisk;

impl PathResolver for OnDisk {
    fn resolve(&self, normalized: &Path) -> Option<PathBuf> {
        soft_canonicalize::soft_canonicalize(normalized).ok()
    }
}

/// Records the paths an evaluation asks about and answers none: a pure, cheap first pass.
#[derive(Debug, Default)]
pub(crate) struct Asked(Mutex<Vec<PathBuf>>);

impl Asked {
    pub(crate) fn take(&self) -> Vec<PathBuf> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl PathResolver for Asked {
    fn resolve(&self, normalized: &Path) -> Option<PathBuf> {
        let mut asked = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if !asked.iter().any(|p| p == normalized) {
            asked.push(normalized.to_path_buf());
        }
        None
    }
}

/// Real paths found beforehand, off the async runtime.
#[derive(Debug)]
pub(crate) struct Answers(HashMap<PathBuf, PathBuf>);

impl Answers {
    /// Resolves each of `paths` on disk. Blocking.
    pub(crate) fn find(paths: Vec<PathBuf>) -> Answers {
        Answers(
            paths
                .into_iter()
                .filter_map(|p| OnDisk.resolve(&p).map(|real| (p, real)))
                .collect(),
        )
    }
}

impl PathResolver for Answers {
    fn resolve(&self, normalized: &Path) -> Option<PathBuf> {
        // The deciding evaluation asks about no path the first pass did not (more forms only make
        // it stop sooner); a path without an answer has no real form other than its own.
        self.0.get(normalized).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(json: serde_json::Value) -> ServerEntry {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn roots_come_from_roots_then_cwd_and_relative_ones_sit_below_the_config_folder() {
        let dir = Path::new("/etc/airlock");
        let both = entry(serde_json::json!({
            "command": "x", "cwd": "/srv/cwd", "roots": ["/srv/a", "data", "~/notes", "~"]
        }));
        assert_eq!(
            roots_of(&both, dir),
            ["/srv/a", "/etc/airlock/data", "~/notes", "~"]
        );
        let cwd = entry(serde_json::json!({"command": "x", "cwd": "work"}));
        assert_eq!(roots_of(&cwd, dir), ["/etc/airlock/work"]);
        let none = entry(serde_json::json!({"command": "x"}));
        assert!(roots_of(&none, dir).is_empty());
        let empty = entry(serde_json::json!({"command": "x", "cwd": "/srv", "roots": []}));
        assert!(roots_of(&empty, dir).is_empty());
    }

    #[test]
    fn every_server_gets_a_context_and_bad_roots_are_config_errors() {
        let config = Config::parse(
            r#"{"mcpServers": {
                "files": {"command": "x", "roots": ["/srv/files"]},
                "remote": {"url": "http://127.0.0.1:9/mcp", "roots": ["/srv/remote"]},
                "plain": {"command": "x"}
            }}"#,
            Some(Path::new("/etc/airlock/config.json")),
        )
        .unwrap();
        let roots = ServerRoots::from_config(&config).unwrap();
        let files = roots.get("files");
        assert!(files.on_disk, "a stdio server runs on this machine");
        assert!(files.context.normalize("a/b").unwrap()[0].ends_with("/srv/files/a/b"));
        let remote = roots.get("remote");
        assert!(!remote.on_disk, "an HTTP server's files may be elsewhere");
        assert_eq!(
            remote.context.normalize("a").unwrap(),
            ["/srv/remote/a".to_owned()]
        );
        let problem = roots.get("plain").context.normalize("a").unwrap_err();
        assert_eq!(problem.problem, airlock_policy::PathProblem::NoBase);
        assert!(roots.get("unknown").context.normalize("a").is_err());

        let bad = Config::parse(
            "{\"mcpServers\": {\"files\": {\"command\": \"x\", \"roots\": [\"/srv/\\u0000x\"]}}}",
            None,
        )
        .unwrap();
        let err = ServerRoots::from_config(&bad).unwrap_err().to_string();
        assert!(err.contains("mcpServers.files.roots"), "{err}");
        assert!(err.contains("NUL"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn answers_hold_the_real_paths_of_links_missing_files_and_dangling_links() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir_all(root.join("allowed/docs")).unwrap();
        std::fs::create_dir_all(root.join("outside")).unwrap();
        symlink("../../outside", root.join("allowed/docs/link")).unwrap();
        symlink("../outside/new.txt", root.join("allowed/dangling")).unwrap();
        let link = root.join("allowed/docs/link/x.txt");
        let missing = root.join("allowed/docs/new/y.txt");
        let dangling = root.join("allowed/dangling");
        let answers = Answers::find(vec![link.clone(), missing.clone(), dangling.clone()]);
        assert_eq!(answers.resolve(&link), Some(root.join("outside/x.txt")));
        assert_eq!(answers.resolve(&missing), Some(missing.clone()));
        assert_eq!(
            answers.resolve(&dangling),
            Some(root.join("outside/new.txt"))
        );
        assert_eq!(answers.resolve(&root.join("never/asked")), None);
    }

    #[test]
    fn asked_records_each_path_once_and_answers_none() {
        let asked = Asked::default();
        assert_eq!(asked.resolve(Path::new("/a")), None);
        asked.resolve(Path::new("/b"));
        asked.resolve(Path::new("/a"));
        assert_eq!(asked.take(), [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert!(asked.take().is_empty());
    }
}
