//! Path arguments, normalized before `under` and `glob` look at them.
//!
//! A regex on a path argument sees text: `secret/keys.env` (relative), `a/../secret/x` and
//! `./a//b/../../secret/x` all name `secret` below the server's root, and `/secret(/|$)` misses
//! all three. So the path operators first turn the argument into the absolute path the server
//! will open, lexically: `file:` URIs decoded, `~` expanded to the home directory, a relative path
//! joined to each base directory (the server's roots, or its working directory), `.` and repeated
//! separators dropped, `..` resolved, and every name case-folded when the file system ignores
//! case. A path that cannot be normalized is an error ([`PathError`]) and the condition fails
//! closed.
//!
//! This crate does no I/O, so it cannot see symlinks: `docs/link -> ../secret` looks like
//! `docs/link` here. A caller that can touch the disk passes a [`PathResolver`] (one built on
//! `std::fs::canonicalize` for paths that exist, say); each lexical form it resolves is then
//! checked too. Without one, only the lexical normalization happens.

mod parse;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parse::{parse, parse_absolute};

/// How paths are spelled where the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathStyle {
    /// `/` separates names and `/` alone is the root: Linux, macOS, the BSDs.
    Posix,
    /// `\` or `/` separate names; roots are drives (`C:\`) and shares (`\\server\share`).
    Windows,
}

impl PathStyle {
    /// The style of the machine this was compiled for.
    pub const HOST: PathStyle = if cfg!(windows) {
        PathStyle::Windows
    } else {
        PathStyle::Posix
    };

    fn is_sep(self, c: char) -> bool {
        c == '/' || (self == PathStyle::Windows && c == '\\')
    }
}

impl Default for PathStyle {
    fn default() -> Self {
        PathStyle::HOST
    }
}

/// Resolves symlinks, which this crate cannot do without I/O.
///
/// `normalized` is absolute and lexically normalized (no `.`, `..` or repeated separators), in
/// the context's style. Return the real path (absolute) when it can be found, e.g. with
/// `std::fs::canonicalize` for a path that exists (for one that does not, canonicalize its longest
/// existing ancestor and append the rest), or `None` to check the lexical form only.
pub trait PathResolver: Send + Sync {
    /// The real path of `normalized`, if known.
    fn resolve(&self, normalized: &Path) -> Option<PathBuf>;
}

/// Why a path cannot be normalized. Messages complete "path `…` cannot be normalized: …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathProblem {
    /// The empty string names no file.
    #[error("it is empty")]
    Empty,
    /// Operating systems cut a path at a NUL byte, so checks and use would disagree.
    #[error("it contains a NUL byte")]
    Nul,
    /// A `..` with nothing left to remove.
    #[error("`..` climbs above the root")]
    AboveRoot,
    /// A relative path, and the context has no base directory to resolve it against.
    #[error("it is relative and no base directory is known")]
    NoBase,
    /// `~` or `~/…`, and the context has no home directory.
    #[error("`~` needs a home directory and none is known")]
    NoHome,
    /// `~name`: another user's home directory is not known here.
    #[error("`~name` (another user's home directory) is not supported")]
    OtherUser,
    /// A base, home or resolved path that must be absolute is not.
    #[error("it is not absolute")]
    NotAbsolute,
    /// `file://host/…` names a file on another machine.
    #[error("a `file:` URI naming host `{0}` is not a local path")]
    UriHost(String),
    /// `file:` URIs with `?` or `#` are not plain paths.
    #[error("a `file:` URI with a query or fragment is not a plain path")]
    UriQuery,
    /// `file:name` without a leading `/`.
    #[error("a relative `file:` URI is not a path")]
    UriRelative,
    /// Percent-escapes that do not decode to UTF-8.
    #[error("its percent-escapes do not decode to UTF-8")]
    UriEncoding,
    /// Windows `C:name`: relative to that drive's current directory, which is not known.
    #[error("`{0}` without a separator is relative to that drive's current directory")]
    DriveRelative(String),
    /// Windows `\name`: the root of the current drive, which is not known.
    #[error("it starts at the root of the current drive, which is not known")]
    RootRelative,
    /// Windows `\\.\` device and `\\?\` verbatim forms other than drives and shares.
    #[error("device and verbatim paths (`\\\\.\\`, `\\\\?\\`) are not supported")]
    Device,
    /// Windows `\\server` without a share.
    #[error("a share path needs a server and a share name (`\\\\server\\share`)")]
    BadShare,
    /// Windows `name:stream` opens an alternate data stream of `name`.
    #[error("`:` inside the name `{0}` names an alternate data stream")]
    Stream(String),
    /// Windows drops trailing dots and spaces, so such a name means something else.
    #[error("the name `{0}` is only dots and spaces")]
    DotsOnly(String),
    /// The resolver answered with something that is not an absolute UTF-8 path.
    #[error("it resolves to `{0}`, which is not an absolute UTF-8 path")]
    Resolved(String),
}

/// A path that cannot be normalized, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PathError {
    /// The path as given.
    pub path: String,
    /// What is wrong with it.
    pub problem: PathProblem,
}

/// Longest part of a path quoted in a message: arguments can be huge.
const QUOTE_MAX: usize = 200;

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("path `")?;
        for (i, c) in self.path.chars().enumerate() {
            if i == QUOTE_MAX {
                f.write_str("…")?;
                break;
            }
            write!(f, "{}", c.escape_debug())?;
        }
        write!(f, "` cannot be normalized: {}", self.problem)
    }
}

/// Where a path was to be used, for [`PathContextError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRole {
    /// A base directory.
    Base,
    /// The home directory.
    Home,
}

impl PathRole {
    fn as_str(self) -> &'static str {
        match self {
            PathRole::Base => "base",
            PathRole::Home => "home",
        }
    }
}

/// A base or home directory that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {} directory", .role.as_str())]
pub struct PathContextError {
    /// Which directory.
    pub role: PathRole,
    /// What is wrong with it.
    #[source]
    pub error: PathError,
}

/// An absolute, lexically normalized path: `root` then names joined by `/`. The root always
/// ends in `/` (`/`, `C:/`, `//server/share/`); there is no trailing `/` after a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NormPath {
    text: String,
    root_len: usize,
}

impl NormPath {
    /// The path below `dir` (`""` when equal), if it is `dir` or inside it.
    pub(crate) fn strip<'p>(&'p self, dir: &NormPath) -> Option<&'p str> {
        let rest = self.text.strip_prefix(dir.text.as_str())?;
        if rest.is_empty() {
            Some("")
        } else if dir.text.ends_with('/') {
            Some(rest)
        } else {
            rest.strip_prefix('/')
        }
    }

    /// The names after the root.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.text[self.root_len..]
            .split('/')
            .filter(|n| !n.is_empty())
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    fn host_path(&self, style: PathStyle) -> PathBuf {
        match style {
            PathStyle::Posix => PathBuf::from(&self.text),
            PathStyle::Windows => PathBuf::from(self.text.replace('/', "\\")),
        }
    }

    /// Lower-cases every name. The root is folded on its own: lower-casing can change the
    /// length of a string (`İ` is 2 bytes, `i̇` 3), so `root_len` is measured again.
    fn fold(&mut self) {
        let root = self.text[..self.root_len].to_lowercase();
        let rest = self.text[self.root_len..].to_lowercase();
        self.root_len = root.len();
        self.text = root + &rest;
    }
}

/// What paths are normalized against: the server's base directories, the home directory, whether
/// names are compared without case, and an optional symlink resolver. Build once per server
/// configuration with [`PathContext::builder`] and pass it to [`crate::evaluate_with`].
///
/// The default knows no base and no home directory (relative and `~` paths cannot be normalized,
/// so path conditions on them fail closed), has no resolver, uses the host's style, and ignores
/// case on Windows and macOS.
#[derive(Clone)]
pub struct PathContext {
    style: PathStyle,
    case_insensitive: bool,
    /// Relative paths are joined to each of these (lexical forms).
    bases: Vec<NormPath>,
    /// `bases` and their resolved forms, folded: what base-anchored globs strip.
    base_anchors: Vec<NormPath>,
    home: Option<NormPath>,
    /// `home` and its resolved form, folded.
    home_anchors: Vec<NormPath>,
    resolver: Option<Arc<dyn PathResolver>>,
}

impl fmt::Debug for PathContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PathContext")
            .field("style", &self.style)
            .field("case_insensitive", &self.case_insensitive)
            .field("bases", &self.bases)
            .field("home", &self.home)
            .field("resolver", &self.resolver.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for PathContext {
    fn default() -> Self {
        PathContext::EMPTY
    }
}

/// The usual case rule: Windows and macOS file systems ignore case by default.
const fn host_ignores_case(style: PathStyle) -> bool {
    matches!(style, PathStyle::Windows) || cfg!(target_os = "macos")
}

/// Builds a [`PathContext`]; see [`PathContext::builder`].
#[derive(Default)]
pub struct PathContextBuilder {
    style: Option<PathStyle>,
    case_insensitive: Option<bool>,
    bases: Vec<String>,
    home: Option<String>,
    resolver: Option<Arc<dyn PathResolver>>,
}

impl PathContextBuilder {
    /// How paths are spelled (default: the host's).
    #[must_use]
    pub fn style(mut self, style: PathStyle) -> Self {
        self.style = Some(style);
        self
    }

    /// Compare names without case (default: true for Windows style and on macOS).
    #[must_use]
    pub fn case_insensitive(mut self, yes: bool) -> Self {
        self.case_insensitive = Some(yes);
        self
    }

    /// Adds a base directory (absolute, or `~/…`): relative paths are resolved against every
    /// base, and the condition must hold for each result (`require`) or fires on any
    /// (`deny_if`, `approve_if`). Use the server's roots, or its working directory.
    #[must_use]
    pub fn base(mut self, dir: impl Into<String>) -> Self {
        self.bases.push(dir.into());
        self
    }

    /// Adds several base directories.
    #[must_use]
    pub fn bases<I: IntoIterator<Item = S>, S: Into<String>>(mut self, dirs: I) -> Self {
        self.bases.extend(dirs.into_iter().map(Into::into));
        self
    }

    /// The home directory that `~` stands for (absolute).
    #[must_use]
    pub fn home(mut self, dir: impl Into<String>) -> Self {
        self.home = Some(dir.into());
        self
    }

    /// Resolves symlinks of the paths checked, and of the bases and home once, here.
    #[must_use]
    pub fn resolver(mut self, resolver: Arc<dyn PathResolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Normalizes the directories. Fails on one that is not absolute or cannot be normalized.
    pub fn build(self) -> Result<PathContext, PathContextError> {
        let style = self.style.unwrap_or_default();
        let mut ctx = PathContext {
            style,
            case_insensitive: self
                .case_insensitive
                .unwrap_or_else(|| host_ignores_case(style)),
            resolver: self.resolver,
            ..PathContext::default()
        };
        let err = |role, path: &str, problem| PathContextError {
            role,
            error: PathError {
                path: path.to_owned(),
                problem,
            },
        };
        if let Some(home) = &self.home {
            let p = parse_absolute(home, style, None)
                .map_err(|problem| err(PathRole::Home, home, problem))?;
            ctx.home_anchors = ctx
                .forms(vec![p.clone()])
                .map_err(|problem| err(PathRole::Home, home, problem))?;
            ctx.home = Some(p);
        }
        for base in &self.bases {
            let p = parse_absolute(base, style, ctx.home.as_ref())
                .map_err(|problem| err(PathRole::Base, base, problem))?;
            let forms = ctx
                .forms(vec![p.clone()])
                .map_err(|problem| err(PathRole::Base, base, problem))?;
            for form in forms {
                if !ctx.base_anchors.contains(&form) {
                    ctx.base_anchors.push(form);
                }
            }
            if !ctx.bases.contains(&p) {
                ctx.bases.push(p);
            }
        }
        Ok(ctx)
    }
}

impl PathContext {
    /// No base or home directory and no resolver; the host's style and case rule.
    pub const EMPTY: PathContext = PathContext {
        style: PathStyle::HOST,
        case_insensitive: host_ignores_case(PathStyle::HOST),
        bases: Vec::new(),
        base_anchors: Vec::new(),
        home: None,
        home_anchors: Vec::new(),
        resolver: None,
    };

    /// A builder with no bases, no home and no resolver.
    pub fn builder() -> PathContextBuilder {
        PathContextBuilder::default()
    }

    /// This context with `resolver` in place of its own, for the paths checked from now on. The
    /// base and home directories keep the forms resolved when the context was built: a caller
    /// can build once with a resolver that touches the disk, then give each evaluation one that
    /// only looks up answers found beforehand (off the async runtime, say).
    #[must_use]
    pub fn with_resolver(&self, resolver: Arc<dyn PathResolver>) -> PathContext {
        PathContext {
            resolver: Some(resolver),
            ..self.clone()
        }
    }

    /// This context without a resolver: the paths checked from now on are seen lexically only;
    /// the base and home directories keep the forms resolved when it was built.
    #[must_use]
    pub fn without_resolver(&self) -> PathContext {
        PathContext {
            resolver: None,
            ..self.clone()
        }
    }

    /// The path style.
    pub fn style(&self) -> PathStyle {
        self.style
    }

    /// True when names are compared without case.
    pub fn is_case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    /// What `raw` normalizes to: one absolute path per base for a relative path (one for an
    /// absolute path), then each resolved form the resolver adds, case-folded when names ignore
    /// case. `/` separates names, also in Windows style.
    pub fn normalize(&self, raw: &str) -> Result<Vec<String>, PathError> {
        Ok(self.candidates(raw)?.into_iter().map(|p| p.text).collect())
    }

    /// [`PathContext::normalize`], as paths.
    pub(crate) fn candidates(&self, raw: &str) -> Result<Vec<NormPath>, PathError> {
        parse(raw, self.style, self.home.as_ref(), &self.bases)
            .and_then(|lexical| self.forms(lexical))
            .map_err(|problem| PathError {
                path: raw.to_owned(),
                problem,
            })
    }

    /// Also the base-anchored view: bases (with resolved forms) a path may be stripped of.
    pub(crate) fn base_anchors(&self) -> &[NormPath] {
        &self.base_anchors
    }

    /// The home directory with its resolved form; empty when no home is known.
    pub(crate) fn home_anchors(&self) -> &[NormPath] {
        &self.home_anchors
    }

    /// `lexical` plus what the resolver makes of each, folded and without duplicates. A resolved
    /// path that is not absolute UTF-8 is an error: the real target is unknown.
    fn forms(&self, lexical: Vec<NormPath>) -> Result<Vec<NormPath>, PathProblem> {
        let mut out = lexical;
        if let Some(r) = &self.resolver {
            for i in 0..out.len() {
                let Some(real) = r.resolve(&out[i].host_path(self.style)) else {
                    continue;
                };
                let p = real
                    .to_str()
                    .and_then(|real| parse_absolute(real, self.style, None).ok())
                    .ok_or_else(|| PathProblem::Resolved(real.to_string_lossy().into_owned()))?;
                out.push(p);
            }
        }
        if self.case_insensitive {
            for p in &mut out {
                p.fold();
            }
        }
        let mut unique: Vec<NormPath> = Vec::with_capacity(out.len());
        for p in out {
            if !unique.contains(&p) {
                unique.push(p);
            }
        }
        Ok(unique)
    }
}
