//! Lexical normalization of one path string: `file:` URIs, `~`, roots (POSIX `/`, Windows
//! drives and shares), then `.`, `..` and empty names.

use super::{NormPath, PathProblem, PathStyle};

/// An absolute path (or `~/…` with a home) on its own, for bases, home and resolved paths.
pub(super) fn parse_absolute(
    raw: &str,
    style: PathStyle,
    home: Option<&NormPath>,
) -> Result<NormPath, PathProblem> {
    let mut forms = parse(raw, style, home, &[]).map_err(|p| match p {
        PathProblem::NoBase => PathProblem::NotAbsolute,
        other => other,
    })?;
    forms.pop().ok_or(PathProblem::NotAbsolute)
}

/// Where a path starts.
enum Start<'s> {
    /// At `root` (ends in `/`); `rest` holds the names.
    Root(String, &'s str),
    /// At the home directory.
    Home(&'s str),
    /// At each base directory.
    Relative(&'s str),
}

/// Lexical normalization of `raw`: one path for an absolute or `~` path, one per base for a
/// relative one.
pub(super) fn parse(
    raw: &str,
    style: PathStyle,
    home: Option<&NormPath>,
    bases: &[NormPath],
) -> Result<Vec<NormPath>, PathProblem> {
    if raw.is_empty() {
        return Err(PathProblem::Empty);
    }
    if raw.contains('\0') {
        return Err(PathProblem::Nul);
    }
    let decoded = file_uri_path(raw, style)?;
    let s = decoded.as_deref().unwrap_or(raw);
    if s.contains('\0') {
        return Err(PathProblem::Nul);
    }
    let starts: Vec<(NormPath, &str)> = match start(s, style)? {
        Start::Root(root, rest) => {
            let root_len = root.len();
            vec![(
                NormPath {
                    text: root,
                    root_len,
                },
                rest,
            )]
        }
        Start::Home(rest) => vec![(home.ok_or(PathProblem::NoHome)?.clone(), rest)],
        Start::Relative(rest) => {
            if bases.is_empty() {
                return Err(PathProblem::NoBase);
            }
            bases.iter().map(|b| (b.clone(), rest)).collect()
        }
    };
    starts
        .into_iter()
        .map(|(at, rest)| join(at, rest, style))
        .collect()
}

/// `at` followed by the names of `rest`, with `.`, `..` and empty names resolved.
fn join(at: NormPath, rest: &str, style: PathStyle) -> Result<NormPath, PathProblem> {
    let root_len = at.root_len;
    let mut text = at.text;
    for name in rest.split(|c| style.is_sep(c)) {
        match name {
            "" | "." => {}
            ".." => {
                if text.len() == root_len {
                    return Err(PathProblem::AboveRoot);
                }
                let cut = text[root_len..]
                    .rfind('/')
                    .map_or(root_len, |i| root_len + i);
                text.truncate(cut);
            }
            _ => {
                let name = if style == PathStyle::Windows {
                    windows_name(name)?
                } else {
                    name
                };
                if text.len() > root_len {
                    text.push('/');
                }
                text.push_str(name);
            }
        }
    }
    Ok(NormPath { text, root_len })
}

/// A Windows name as the file system sees it: trailing dots and spaces dropped; no streams.
fn windows_name(name: &str) -> Result<&str, PathProblem> {
    let trimmed = name.trim_end_matches(['.', ' ']);
    if trimmed.is_empty() {
        return Err(PathProblem::DotsOnly(name.to_owned()));
    }
    if trimmed.contains(':') {
        return Err(PathProblem::Stream(name.to_owned()));
    }
    Ok(trimmed)
}

fn start(s: &str, style: PathStyle) -> Result<Start<'_>, PathProblem> {
    if s == "~" {
        return Ok(Start::Home(""));
    }
    if let Some(rest) = s.strip_prefix('~') {
        return if rest.starts_with(|c| style.is_sep(c)) {
            Ok(Start::Home(rest))
        } else {
            Err(PathProblem::OtherUser)
        };
    }
    match style {
        PathStyle::Posix => Ok(match s.strip_prefix('/') {
            Some(rest) => Start::Root("/".to_owned(), rest),
            None => Start::Relative(s),
        }),
        PathStyle::Windows => windows_start(s),
    }
}

fn windows_start(s: &str) -> Result<Start<'_>, PathProblem> {
    let sep = |c: char| c == '/' || c == '\\';
    let mut chars = s.chars();
    let (c0, c1, c2) = (chars.next(), chars.next(), chars.next());
    match (c0, c1) {
        (Some(a), Some(b)) if sep(a) && sep(b) => {
            let rest = &s[2..];
            match c2 {
                Some('.') if rest[1..].starts_with(sep) => Err(PathProblem::Device),
                Some('?') if rest[1..].starts_with(sep) => {
                    let inner = &rest[2..];
                    match inner.get(..4) {
                        Some(unc)
                            if unc.get(..3).is_some_and(|u| u.eq_ignore_ascii_case("unc"))
                                && unc.ends_with(sep) =>
                        {
                            share(&inner[4..])
                        }
                        _ => match drive(inner) {
                            Some(Ok(start)) => Ok(start),
                            _ => Err(PathProblem::Device),
                        },
                    }
                }
                _ => share(rest),
            }
        }
        (Some(a), _) if sep(a) => Err(PathProblem::RootRelative),
        _ => drive(s).unwrap_or(Ok(Start::Relative(s))),
    }
}

/// `C:\rest` -> root `C:/`; `C:rest` is an error; `None` when `s` has no drive.
fn drive(s: &str) -> Option<Result<Start<'_>, PathProblem>> {
    let bytes = s.as_bytes();
    if bytes.len() < 2 || !bytes[0].is_ascii_alphabetic() || bytes[1] != b':' {
        return None;
    }
    let letter = char::from(bytes[0].to_ascii_uppercase());
    match s[2..].strip_prefix(['/', '\\']) {
        Some(rest) => Some(Ok(Start::Root(format!("{letter}:/"), rest))),
        None => Some(Err(PathProblem::DriveRelative(format!("{letter}:")))),
    }
}

/// `server\share\rest` -> root `//server/share/`.
fn share(s: &str) -> Result<Start<'_>, PathProblem> {
    let mut parts = s.splitn(3, ['/', '\\']);
    let server = parts.next().unwrap_or_default();
    let share = parts.next().unwrap_or_default();
    if server.is_empty() || share.is_empty() {
        return Err(PathProblem::BadShare);
    }
    Ok(Start::Root(
        format!("//{server}/{share}/"),
        parts.next().unwrap_or_default(),
    ))
}

/// The path of a `file:` URI, percent-decoded; `None` when `raw` is not one.
fn file_uri_path(raw: &str, style: PathStyle) -> Result<Option<String>, PathProblem> {
    let Some(rest) = raw
        .get(..5)
        .filter(|scheme| scheme.eq_ignore_ascii_case("file:"))
        .map(|_| &raw[5..])
    else {
        return Ok(None);
    };
    if rest.contains(['?', '#']) {
        return Err(PathProblem::UriQuery);
    }
    let decode = |p: &str| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| PathProblem::UriEncoding)
    };
    let path = if let Some(after) = rest.strip_prefix("//") {
        let (host, path) = after.find('/').map_or((after, ""), |i| after.split_at(i));
        let host = decode(host)?;
        if host.is_empty() || host.eq_ignore_ascii_case("localhost") {
            decode(path)?
        } else if style == PathStyle::Windows {
            format!("//{host}{}", decode(path)?)
        } else {
            return Err(PathProblem::UriHost(host));
        }
    } else if rest.starts_with('/') {
        decode(rest)?
    } else {
        return Err(PathProblem::UriRelative);
    };
    if path.is_empty() {
        return Err(PathProblem::UriRelative);
    }
    // `file:///C:/x` is `C:/x` on Windows.
    if style == PathStyle::Windows {
        let b = path.as_bytes();
        if b.len() >= 3 && b[0] == b'/' && b[1].is_ascii_alphabetic() && b[2] == b':' {
            return Ok(Some(path[1..].to_owned()));
        }
    }
    Ok(Some(path))
}
