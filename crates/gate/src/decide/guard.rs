//! The guard: Airlock's own files are off limits to agents' tools.
//!
//! An agent with a file tool (server-filesystem's `write_file`, `move_file`, `read_text_file`)
//! could otherwise rewrite the policy or the config (hot reload would apply it), read the API
//! token and approve its own requests, or edit history. So before any policy, a call whose
//! arguments name one of the gate's own files is denied, whatever the policy says:
//!
//! - the config file, and every policy file it names (for servers and grants);
//! - the data directory and everything in it (the history database and its WAL, `api-token`,
//!   `runtime.json`).
//!
//! **Which arguments.** Every string in the arguments, at any depth, and every object key, is
//! read as a path the way a server would open it: with the policy crate's normalization (`file:`
//! URIs, `~`, relative paths joined to each base, `.`, `..`, repeated separators; names folded
//! where the file system ignores case), where the bases are the server's roots and its working
//! directory (a stdio server without `cwd` runs in Airlock's own). More bases only add forms,
//! and any form that hits denies. A `..` above `/` stays at `/`, as the kernel does; a string is
//! cut at a NUL byte, as a C library would. For a server on this machine (stdio, or HTTP on a
//! loopback address) each form is also resolved on disk (symlinks, dangling ones too) on a
//! blocking thread. Strings longer than any path the kernel opens are skipped.
//!
//! **Not covered.** A directory above these files (renaming `~/.config` moves the config with
//! it): denying every ancestor would deny listing the home directory. A config swapped in that
//! way is a change from disk, which item 3 of issue 15 stages for a human when it loosens. And a
//! tool that takes no path but runs a shell: see `docs/security.md`.
//!
//! `gate.guard_own_files: false` turns the guard off (documented, warned about at start).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_policy::{PathContext, PathProblem};
use serde_json::Value;

use airlock_proxy::ToolCall;

use crate::config::{Config, PolicySource, UpstreamKind};
use crate::roots::OnDisk;

use super::GateInterceptor;

/// The rule a guard denial names in history and in the agent's message.
pub const GUARD_RULE: &str = "(own files)";

/// The deny kind of a guard denial (history's `decisionKind`, the result's `_meta`).
pub const GUARD_KIND: &str = "own_files";

/// Longest string read as a path: the kernel refuses paths over 4096 bytes (`PATH_MAX`), and a
/// `file:` URI of one, every byte percent-escaped, is at most three times that.
const MAX_PATH_TEXT: usize = 3 * 4096 + 16;

/// What a protected path is, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnFile {
    /// The config file.
    Config,
    /// A policy file the config names.
    Policy,
    /// The data directory or something in it.
    DataDir,
}

impl OwnFile {
    fn describe(self) -> &'static str {
        match self {
            OwnFile::Config => "Airlock's config file",
            OwnFile::Policy => "one of Airlock's policy files",
            OwnFile::DataDir => "Airlock's data directory (history, API token)",
        }
    }
}

#[derive(Debug)]
struct Protected {
    what: OwnFile,
    /// The path as configured, for the message.
    shown: String,
    /// Its lexical and real forms, normalized as arguments are.
    forms: Vec<String>,
    /// Everything below it counts too (a directory).
    tree: bool,
}

/// The gate's own files, normalized once (their real paths looked up on disk).
#[derive(Debug)]
pub struct OwnFiles {
    protected: Vec<Protected>,
}

/// An argument that names one of the gate's own files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnFileHit {
    /// Where in the arguments: `args.path`, `args.edits[0].path`, `a key of args.files`.
    pub argument: String,
    /// Which file it names.
    pub what: OwnFile,
    /// That file as configured.
    pub file: String,
}

impl OwnFileHit {
    /// The text the agent reads.
    pub fn message(&self) -> String {
        format!(
            "Denied by Airlock's guard: {} names {} (`{}`). Agents may not read or change Airlock's own files (its config, policies, data directory and API token), so that no agent can loosen or switch off the gate. Ask the user to make this change in Airlock. (rule {GUARD_RULE})",
            self.argument,
            self.what.describe(),
            self.file
        )
    }
}

impl OwnFiles {
    /// The files of a gate running with `config` and `data_dir`. Blocking: looks up their real
    /// paths, so call it off the async runtime.
    pub fn new(config: &Config, data_dir: &Path) -> OwnFiles {
        let mut wanted: Vec<(OwnFile, PathBuf, bool)> = Vec::new();
        if let Some(source) = &config.source {
            wanted.push((OwnFile::Config, source.clone(), false));
        }
        let grant_policies = config
            .grants
            .values()
            .filter_map(|g| g.servers.as_ref())
            .flat_map(|servers| servers.values().flatten());
        let server_policies = config.servers.values().filter_map(|s| s.policy.as_ref());
        for reference in server_policies.chain(grant_policies) {
            if let PolicySource::File(path) = config.policy_source(Some(reference)) {
                wanted.push((OwnFile::Policy, path, false));
            }
        }
        wanted.push((OwnFile::DataDir, data_dir.to_path_buf(), true));
        let context = PathContext::builder()
            .resolver(Arc::new(OnDisk))
            .build()
            .unwrap_or_default();
        let protected = wanted
            .into_iter()
            .filter_map(|(what, path, tree)| {
                let absolute = std::path::absolute(&path).ok()?;
                let forms = context.normalize(absolute.to_str()?).ok()?;
                Some(Protected {
                    what,
                    shown: path.display().to_string(),
                    forms,
                    tree,
                })
            })
            .collect();
        OwnFiles { protected }
    }

    /// The first argument in `arguments` that names one of these files under `context` (the
    /// server's [`GuardContext`], with a resolver when the disk is to be asked: then blocking).
    pub fn check(&self, context: &GuardContext, arguments: &Value) -> Option<OwnFileHit> {
        let mut found = None;
        visit(arguments, &mut "args".to_owned(), &mut |raw, argument| {
            if found.is_none()
                && let Some((what, file)) = self.names(context, raw)
            {
                found = Some(OwnFileHit {
                    argument: argument.to_owned(),
                    what,
                    file,
                });
            }
            found.is_none()
        });
        found
    }

    fn names(&self, context: &GuardContext, raw: &str) -> Option<(OwnFile, String)> {
        for form in context.forms(raw) {
            for p in &self.protected {
                let hit = p.forms.iter().any(|own| {
                    form == *own
                        || (p.tree
                            && form
                                .strip_prefix(own.as_str())
                                .is_some_and(|rest| own.ends_with('/') || rest.starts_with('/')))
                });
                if hit {
                    return Some((p.what, p.shown.clone()));
                }
            }
        }
        None
    }
}

/// Calls `f` with every string (values and keys) in `value` and where it is; stops when `f`
/// returns false.
fn visit(value: &Value, at: &mut String, f: &mut dyn FnMut(&str, &str) -> bool) -> bool {
    match value {
        Value::String(s) => f(s, at),
        Value::Array(items) => items.iter().enumerate().all(|(i, item)| {
            let len = at.len();
            at.push_str(&format!("[{i}]"));
            let go = visit(item, at, f);
            at.truncate(len);
            go
        }),
        Value::Object(map) => map.iter().all(|(key, item)| {
            if !f(key, &format!("a key of {at}")) {
                return false;
            }
            let len = at.len();
            at.push('.');
            at.push_str(key);
            let go = visit(item, at, f);
            at.truncate(len);
            go
        }),
        _ => true,
    }
}

/// How one server's arguments are read as paths by the guard.
#[derive(Clone, Debug)]
pub struct GuardContext {
    /// Bases and home, without a resolver.
    context: Arc<PathContext>,
    /// The bases as absolute strings, for `..` above the root.
    bases: Vec<String>,
    /// Resolve forms on disk (the server runs on this machine).
    pub on_disk: bool,
}

impl GuardContext {
    /// A context whose relative paths resolve against `bases` (absolute or `~/…`), resolving on
    /// disk when `on_disk`. A base that cannot be used is left out.
    pub fn new(bases: Vec<String>, on_disk: bool) -> GuardContext {
        let home =
            directories::BaseDirs::new().and_then(|d| d.home_dir().to_str().map(str::to_owned));
        let usable: Vec<String> = bases
            .into_iter()
            .filter(|b| {
                let mut builder = PathContext::builder().base(b.clone());
                if let Some(home) = &home {
                    builder = builder.home(home.clone());
                }
                builder.build().is_ok()
            })
            .collect();
        let mut builder = PathContext::builder().bases(usable.iter().cloned());
        if let Some(home) = &home {
            builder = builder.home(home.clone());
        }
        let context = builder.build().unwrap_or_default();
        let expand = |b: &str| match (b.strip_prefix('~'), &home) {
            (Some(rest), Some(home)) => format!("{home}{rest}"),
            _ => b.to_owned(),
        };
        GuardContext {
            bases: usable.iter().map(|b| expand(b)).collect(),
            context: Arc::new(context),
            on_disk,
        }
    }

    /// This context answering real paths from the disk (blocking).
    pub fn on_disk(&self) -> GuardContext {
        GuardContext {
            context: Arc::new(self.context.with_resolver(Arc::new(OnDisk))),
            ..self.clone()
        }
    }

    /// Every form `raw` may name, as the guard compares them.
    fn forms(&self, raw: &str) -> Vec<String> {
        // A C library stops at a NUL: `config.json\0x` opens `config.json`.
        let raw = raw.split('\0').next().unwrap_or_default();
        if raw.is_empty() || raw.len() > MAX_PATH_TEXT {
            return Vec::new();
        }
        match self.context.normalize(raw) {
            Ok(forms) => forms,
            Err(e) if e.problem == PathProblem::AboveRoot && cfg!(unix) => {
                let anchored: Vec<String> = if raw.starts_with('/') {
                    vec![raw.to_owned()]
                } else {
                    self.bases.iter().map(|b| format!("{b}/{raw}")).collect()
                };
                anchored
                    .iter()
                    .filter_map(|p| self.context.normalize(&clamp_at_root(p)).ok())
                    .flatten()
                    .collect()
            }
            Err(_) => Vec::new(),
        }
    }
}

/// An absolute POSIX path with its `..` applied, a `..` at `/` staying there (as the kernel
/// resolves `/../etc` to `/etc`).
fn clamp_at_root(path: &str) -> String {
    let mut names: Vec<&str> = Vec::new();
    for name in path.split('/') {
        match name {
            "" | "." => {}
            ".." => {
                names.pop();
            }
            name => names.push(name),
        }
    }
    format!("/{}", names.join("/"))
}

/// The guard's context for every configured server. Blocking (checks the bases).
pub(crate) fn server_contexts(config: &Config) -> HashMap<String, GuardContext> {
    let config_dir = std::path::absolute(config.base_dir()).unwrap_or_else(|_| config.base_dir());
    let own_cwd = std::env::current_dir()
        .ok()
        .and_then(|d| d.to_str().map(str::to_owned));
    let anchored = |p: &Path| -> Option<String> {
        let p = if p.is_absolute() || p.starts_with("~") {
            p.to_path_buf()
        } else {
            config_dir.join(p)
        };
        p.to_str().map(str::to_owned)
    };
    config
        .servers
        .iter()
        .map(|(name, entry)| {
            let kind = entry.upstream(name);
            let mut bases = crate::roots::roots_of(entry, &config_dir);
            match (&entry.cwd, &kind) {
                (Some(cwd), _) => bases.extend(anchored(cwd)),
                // The child inherits Airlock's working directory.
                (None, Ok(UpstreamKind::Stdio { .. })) => bases.extend(own_cwd.clone()),
                (None, _) => {}
            }
            let on_disk = match &kind {
                Ok(UpstreamKind::Stdio { .. }) => true,
                Ok(
                    UpstreamKind::StreamableHttp { url, .. } | UpstreamKind::LegacySse { url, .. },
                ) => is_loopback_url(url),
                _ => false,
            };
            (name.clone(), GuardContext::new(bases, on_disk))
        })
        .collect()
}

fn is_loopback_url(url: &str) -> bool {
    match url::Url::parse(url)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The guard as the gate runs it: the files, and each server's context.
#[derive(Debug)]
pub(crate) struct Guard {
    files: OwnFiles,
    servers: HashMap<String, GuardContext>,
    /// For a server not in the config (none is routed): lexical forms, no bases.
    fallback: GuardContext,
}

impl Guard {
    /// The guard of a gate with `config` and `data_dir`, or `None` when `gate.guard_own_files`
    /// is off. Blocking.
    pub(crate) fn new(config: &Config, data_dir: &Path) -> Option<Arc<Guard>> {
        if !config.gate.guard_own_files {
            tracing::warn!(
                "gate.guard_own_files is off: agents' tools may read and change Airlock's config, policies, history and API token"
            );
            return None;
        }
        Some(Arc::new(Guard {
            files: OwnFiles::new(config, data_dir),
            servers: server_contexts(config),
            fallback: GuardContext::new(Vec::new(), false),
        }))
    }
}

impl GateInterceptor {
    /// The guard's denial message when `call`'s arguments name one of the gate's own files.
    /// Fails closed: if the disk cannot be asked, the call is denied too.
    pub(super) async fn own_files_hit(&self, call: &ToolCall<'_>) -> Option<String> {
        let guard = self.guard.as_ref()?;
        let arguments = call.arguments;
        let context = guard
            .servers
            .get(&*call.session.server)
            .unwrap_or(&guard.fallback);
        if !context.on_disk {
            return guard.files.check(context, arguments).map(|h| h.message());
        }
        // Lexical first, on the runtime: most hits need no disk.
        if let Some(hit) = guard.files.check(context, arguments) {
            return Some(hit.message());
        }
        let (guard, context, arguments) = (guard.clone(), context.on_disk(), arguments.clone());
        match tokio::task::spawn_blocking(move || guard.files.check(&context, &arguments)).await {
            Ok(hit) => hit.map(|h| h.message()),
            Err(err) => Some(format!(
                "Denied: Airlock could not look up the real paths of the arguments to keep its own files safe ({err}); try again"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Setup {
        _dir: tempfile::TempDir,
        root: PathBuf,
        files: OwnFiles,
        context: GuardContext,
    }

    /// `conf/config.json` naming `conf/policy.json`, the data dir `data/`, a server working in
    /// `work/`, with a link `work/link -> ../conf`.
    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        for d in ["conf", "data", "work"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let config_path = root.join("conf/config.json");
        let text = json!({"mcpServers": {"files": {"command": "x", "policy": "policy.json"}}});
        std::fs::write(&config_path, text.to_string()).unwrap();
        std::fs::write(root.join("conf/policy.json"), "{}").unwrap();
        std::fs::write(root.join("data/api-token"), "t").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("../conf", root.join("work/link")).unwrap();
        let config = Config::parse(&text.to_string(), Some(&config_path)).unwrap();
        let files = OwnFiles::new(&config, &root.join("data"));
        let work = root.join("work").to_string_lossy().into_owned();
        let context = GuardContext::new(vec![work], true).on_disk();
        Setup {
            _dir: dir,
            root,
            files,
            context,
        }
    }

    fn hit(s: &Setup, args: Value) -> Option<OwnFile> {
        s.files.check(&s.context, &args).map(|h| h.what)
    }

    #[test]
    fn every_spelling_of_an_own_file_is_a_hit() {
        let s = setup();
        let root = s.root.display();
        let cases = [
            (
                json!({"path": format!("{root}/conf/config.json")}),
                OwnFile::Config,
            ),
            (json!({"path": "../conf/policy.json"}), OwnFile::Policy),
            (
                json!({"path": "./x/..//../conf/./config.json"}),
                OwnFile::Config,
            ),
            (
                json!({"path": format!("file://{root}/conf/config.json")}),
                OwnFile::Config,
            ),
            (json!({"path": format!("{root}/data")}), OwnFile::DataDir),
            (
                json!({"path": format!("{root}/data/api-token")}),
                OwnFile::DataDir,
            ),
            (
                json!({"path": format!("{root}/data/airlock.db-wal")}),
                OwnFile::DataDir,
            ),
            (
                json!({"path": format!("{root}/data/new/dir")}),
                OwnFile::DataDir,
            ),
            (
                json!({"path": format!("{root}/conf/config.json\u{0}.txt")}),
                OwnFile::Config,
            ),
            (
                json!({"path": format!("{}{root}/conf/config.json", "/..".repeat(30))}),
                OwnFile::Config,
            ),
            (
                json!({"path": format!("{}{root}/conf/config.json", "../".repeat(30))}),
                OwnFile::Config,
            ),
            (
                json!({"edits": [{"old": "a"}, {"path": "../data/x"}]}),
                OwnFile::DataDir,
            ),
            (
                json!({"files": {"../conf/config.json": "x"}}),
                OwnFile::Config,
            ),
        ];
        for (args, what) in cases {
            assert_eq!(hit(&s, args.clone()), Some(what), "{args}");
        }
        #[cfg(unix)]
        assert_eq!(
            hit(&s, json!({"path": "link/config.json"})),
            Some(OwnFile::Config),
            "through a link"
        );
    }

    #[test]
    fn other_paths_and_text_are_not_hits() {
        let s = setup();
        let root = s.root.display();
        for args in [
            json!({"path": "notes.txt", "content": "see ../conf/config.json.bak"}),
            json!({"path": format!("{root}/conf/config.json.bak")}),
            json!({"path": format!("{root}/conf")}),
            json!({"path": format!("{root}/database")}),
            json!({"n": 3, "flag": true, "list": ["a", "b"]}),
            json!(null),
            json!({"content": "x".repeat(MAX_PATH_TEXT + 1)}),
        ] {
            assert_eq!(hit(&s, args.clone()), None, "{args}");
        }
    }

    #[test]
    fn the_message_says_which_argument_names_which_file_and_why() {
        let s = setup();
        let hit = s
            .files
            .check(
                &s.context,
                &json!({"a": {"b": ["x", "../conf/policy.json"]}}),
            )
            .unwrap();
        assert_eq!(hit.argument, "args.a.b[1]");
        let message = hit.message();
        assert!(
            message.starts_with(
                "Denied by Airlock's guard: args.a.b[1] names one of Airlock's policy files (`"
            ) && message.contains("conf/policy.json`)")
                && message.ends_with("(rule (own files))"),
            "{message}"
        );
    }

    #[test]
    fn a_stdio_server_without_cwd_reads_relative_paths_from_airlocks_own_directory() {
        let config = Config::parse(r#"{"mcpServers": {"s": {"command": "x"}, "h": {"url": "http://127.0.0.1:9/mcp"}, "r": {"url": "https://example.com/mcp"}}}"#, None).unwrap();
        let contexts = server_contexts(&config);
        let own = std::env::current_dir().unwrap();
        assert!(contexts["s"].on_disk && contexts["s"].bases == [own.to_string_lossy()]);
        assert!(contexts["h"].on_disk && contexts["h"].bases.is_empty());
        assert!(!contexts["r"].on_disk);
    }
}
