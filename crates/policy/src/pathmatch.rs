//! The `under` and `glob` operators: compiled at load time, matched against normalized paths.
//!
//! `under` holds when the normalized path is one of the listed directories or inside it, name by
//! name (`/srv/secretary` is not under `/srv/secret`). The listed paths are normalized with the
//! same context as the argument, at evaluation, so `~/.ssh` and relative entries follow the home
//! and base directories the caller passes.
//!
//! `glob` patterns read like `.gitignore` lines, matched by ripgrep's `globset` with `*` and `?`
//! stopping at `/`:
//! - no `/` (`*.pem`, `.env`): matches a name at any depth;
//! - starting with `/` or a drive (`C:/`), or with `**/`: matched against the absolute path;
//! - starting with `~/`: matched below the home directory;
//! - any other `/` (`secret/**`, `src/*.rs`): matched below each base directory.
//!
//! As in `.gitignore`, a path matches when it or one of its parent directories matches, so
//! `**/.ssh` covers everything inside `.ssh`. Each pattern `P` is compiled with `P/**` beside it,
//! so that rule costs one match of the whole path, not one per parent (a path of many names
//! would otherwise take time quadratic in its length). A trailing `/` is accepted and changes
//! nothing: without touching the disk a directory cannot be told from a file.

use globset::{Candidate, GlobBuilder, GlobSet, GlobSetBuilder};

use crate::paths::{NormPath, PathContext, PathError, PathProblem};

/// `under`: the directories as written.
#[derive(Debug, Clone)]
pub(crate) struct UnderTest {
    pub dirs: Vec<String>,
}

/// Why a path test could not decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathUndecided {
    /// The argument is not a usable path.
    Argument(PathError),
    /// A directory of `under` is not a usable path (say `~/x` without a home directory).
    Directory(PathError),
    /// A base- or home-anchored glob pattern, and the context lacks that directory.
    Pattern {
        /// The first such pattern.
        pattern: String,
        /// `NoBase` or `NoHome`.
        problem: PathProblem,
    },
}

impl std::fmt::Display for PathUndecided {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathUndecided::Argument(e) => write!(f, "{e}"),
            PathUndecided::Directory(e) => write!(f, "the policy's {e}"),
            PathUndecided::Pattern { pattern, problem } => {
                write!(f, "glob pattern `{pattern}` cannot be matched: {problem}")
            }
        }
    }
}

impl UnderTest {
    /// The directories, normalized in `paths` (each relative one once per base).
    pub fn normalized(&self, paths: &PathContext) -> Result<Vec<NormPath>, PathUndecided> {
        let mut all = Vec::with_capacity(self.dirs.len());
        for d in &self.dirs {
            all.extend(paths.candidates(d).map_err(PathUndecided::Directory)?);
        }
        Ok(all)
    }
}

/// True when `p` is one of `dirs` or inside one.
pub(crate) fn is_under(p: &NormPath, dirs: &[NormPath]) -> bool {
    dirs.iter().any(|d| p.strip(d).is_some())
}

/// The same patterns compiled twice: as written, and ignoring case (for contexts that fold).
#[derive(Debug, Clone)]
struct Sets {
    exact: GlobSet,
    folded: GlobSet,
}

impl Sets {
    fn get(&self, fold: bool) -> &GlobSet {
        if fold { &self.folded } else { &self.exact }
    }
}

/// `glob`: the patterns, grouped by what they are matched against.
#[derive(Debug, Clone)]
pub(crate) struct GlobTest {
    /// The patterns as written, for messages.
    pub patterns: Vec<String>,
    /// Matched against the absolute path and its ancestors.
    absolute: Option<Sets>,
    /// Matched against each name.
    names: Option<Sets>,
    /// Matched against the path below each base directory; with the first such pattern.
    base: Option<(Sets, String)>,
    /// Matched against the path below the home directory; with the first such pattern.
    home: Option<(Sets, String)>,
}

/// What a pattern is matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Absolute,
    Name,
    Base,
    Home,
}

/// A pattern that cannot be used: the message and, when there is one, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PatternError {
    pub message: String,
    pub help: Option<String>,
}

fn pattern_error(message: String, help: Option<&str>) -> PatternError {
    PatternError {
        message,
        help: help.map(str::to_owned),
    }
}

/// Where `pattern` is anchored and the glob text to compile.
fn classify(pattern: &str) -> Result<(Anchor, String), PatternError> {
    if pattern.is_empty() {
        return Err(pattern_error("empty glob pattern".to_owned(), None));
    }
    if pattern.starts_with('!') {
        return Err(pattern_error(
            format!("negated glob pattern `{pattern}` is not supported"),
            Some("list what should match; to exempt paths, add a condition to `require` instead"),
        ));
    }
    let body = match pattern.strip_suffix('/') {
        Some(b) if !b.is_empty() => b,
        _ => pattern,
    };
    if body.split('/').any(|n| n == "." || n == "..") {
        return Err(pattern_error(
            format!("glob pattern `{pattern}` contains `.` or `..`"),
            Some("paths are normalized before matching; write the pattern without `.` and `..`"),
        ));
    }
    let bytes = body.as_bytes();
    let drive =
        bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && bytes[2] == b'/';
    if drive {
        // Normalized Windows paths spell the drive in capitals.
        let letter = char::from(bytes[0].to_ascii_uppercase());
        return Ok((Anchor::Absolute, format!("{letter}{}", &body[1..])));
    }
    if body.starts_with('/') || body.starts_with("**/") || body == "**" {
        return Ok((Anchor::Absolute, body.to_owned()));
    }
    if let Some(rest) = body.strip_prefix("~/") {
        return Ok((Anchor::Home, rest.to_owned()));
    }
    if body.starts_with('~') {
        return Err(pattern_error(
            format!("glob pattern `{pattern}` must start with `~/` to mean the home directory"),
            Some("for the home directory itself and everything in it, use `under` with `~`"),
        ));
    }
    if body.contains('/') {
        Ok((Anchor::Base, body.to_owned()))
    } else {
        Ok((Anchor::Name, body.to_owned()))
    }
}

/// The one-line reason of a globset error.
fn glob_reason(e: &globset::Error) -> String {
    e.kind().to_string()
}

impl GlobTest {
    /// Compiles `patterns`; on failure, one error per bad pattern with its index.
    pub fn compile(patterns: &[&str]) -> Result<GlobTest, Vec<(usize, PatternError)>> {
        // One slot per `Anchor`, in its declaration order.
        let mut builders: [(GlobSetBuilder, GlobSetBuilder, Vec<String>); 4] =
            std::array::from_fn(|_| (GlobSetBuilder::new(), GlobSetBuilder::new(), Vec::new()));
        let mut errors = Vec::new();
        for (i, pattern) in patterns.iter().enumerate() {
            let (anchor, body) = match classify(pattern) {
                Ok(x) => x,
                Err(e) => {
                    errors.push((i, e));
                    continue;
                }
            };
            let build = |glob: &str, fold: bool| {
                GlobBuilder::new(glob)
                    .literal_separator(true)
                    .backslash_escape(true)
                    .case_insensitive(fold)
                    .build()
            };
            // A name pattern is matched name by name; the others also match below themselves.
            let below = (anchor != Anchor::Name).then(|| format!("{body}/**"));
            let globs = [Some(body.as_str()), below.as_deref()];
            let mut compiled = Vec::with_capacity(4);
            let mut failed = None;
            for glob in globs.into_iter().flatten() {
                match (build(glob, false), build(glob, true)) {
                    (Ok(exact), Ok(folded)) => compiled.push((exact, folded)),
                    (Err(e), _) | (_, Err(e)) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            match failed {
                None => {
                    let slot = &mut builders[anchor as usize];
                    for (exact, folded) in compiled {
                        slot.0.add(exact);
                        slot.1.add(folded);
                    }
                    slot.2.push((*pattern).to_owned());
                }
                Some(e) => errors.push((
                    i,
                    pattern_error(
                        format!("invalid glob pattern `{pattern}`: {}", glob_reason(&e)),
                        None,
                    ),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut sets = Vec::with_capacity(4);
        for (exact, folded, written) in builders {
            let Some(first) = written.into_iter().next() else {
                sets.push(None);
                continue;
            };
            match (exact.build(), folded.build()) {
                (Ok(exact), Ok(folded)) => sets.push(Some((Sets { exact, folded }, first))),
                (Err(e), _) | (_, Err(e)) => {
                    let message = format!("glob patterns cannot be compiled: {}", glob_reason(&e));
                    return Err(vec![(0, pattern_error(message, None))]);
                }
            }
        }
        let mut sets = sets.into_iter();
        let mut next = || sets.next().flatten();
        let (absolute, names, base, home) = (next(), next(), next(), next());
        Ok(GlobTest {
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
            absolute: absolute.map(|(s, _)| s),
            names: names.map(|(s, _)| s),
            base,
            home,
        })
    }

    /// Does normalized path `p` match? Undecided when a base- or home-anchored pattern needs a
    /// directory the context lacks and no other pattern matched.
    pub fn matches(&self, p: &NormPath, paths: &PathContext) -> Result<bool, PathUndecided> {
        let fold = paths.is_case_insensitive();
        let hit = |set: &GlobSet, s: &str| set.is_match_candidate(&Candidate::from_bytes(s));
        if let Some(sets) = &self.absolute {
            let set = sets.get(fold);
            if hit(set, p.as_str()) {
                return Ok(true);
            }
        }
        if let Some(sets) = &self.names {
            let set = sets.get(fold);
            if p.names().any(|n| hit(set, n)) {
                return Ok(true);
            }
        }
        let mut missing = None;
        for (group, anchors, problem) in [
            (&self.base, paths.base_anchors(), PathProblem::NoBase),
            (&self.home, paths.home_anchors(), PathProblem::NoHome),
        ] {
            let Some((sets, first)) = group else {
                continue;
            };
            if anchors.is_empty() {
                missing.get_or_insert_with(|| PathUndecided::Pattern {
                    pattern: first.clone(),
                    problem,
                });
                continue;
            }
            let set = sets.get(fold);
            for a in anchors {
                if let Some(rel) = p.strip(a)
                    && !rel.is_empty()
                    && hit(set, rel)
                {
                    return Ok(true);
                }
            }
        }
        missing.map_or(Ok(false), Err)
    }
}
