//! `under` and `glob`: normalization, matching, fail-closed cases, `*` paths, the symlink hook.
#![expect(
    clippy::panic,
    clippy::unwrap_used,
    reason = "test helpers fail the test by panicking"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use airlock_policy::{
    CallFacts, DenyKind, Evaluation, NoCounters, PathContext, PathProblem, PathResolver, PathStyle,
    Policy, Verdict, evaluate_with,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn posix() -> airlock_policy::PathContextBuilder {
    PathContext::builder()
        .style(PathStyle::Posix)
        .case_insensitive(false)
}

fn ctx() -> PathContext {
    posix().base("/srv/root").home("/home/u").build().unwrap()
}

fn norm(c: &PathContext, raw: &str) -> Result<Vec<String>, PathProblem> {
    c.normalize(raw).map_err(|e| e.problem)
}

#[test]
fn posix_paths_normalize_lexically() {
    let c = ctx();
    let one = |raw: &str, want: &str| {
        assert_eq!(norm(&c, raw), Ok(vec![want.to_owned()]), "for {raw:?}");
    };
    one("/a/b", "/a/b");
    one("/a//b///c/", "/a/b/c");
    one("/a/./b/.", "/a/b");
    one("/a/b/../c", "/a/c");
    one("//a", "/a");
    one("/", "/");
    one("/a/..", "/");
    one("secret/keys.env", "/srv/root/secret/keys.env");
    one("a/../secret/x", "/srv/root/secret/x");
    one("./a//b/../../secret/x", "/srv/root/secret/x");
    one("..", "/srv");
    one(".", "/srv/root");
    one("~", "/home/u");
    one("~/.ssh/id_rsa", "/home/u/.ssh/id_rsa");
    one("~//x/../.ssh", "/home/u/.ssh");
    one("file:///etc/passwd", "/etc/passwd");
    one("FILE://localhost/etc/%70asswd", "/etc/passwd");
    one("file:/a/%2e%2e/secret", "/secret");
    // Backslashes are ordinary characters in POSIX names.
    one("a\\..\\b", "/srv/root/a\\..\\b");
    one("C:\\x", "/srv/root/C:\\x");
}

#[test]
fn paths_that_cannot_be_normalized_say_why() {
    let c = ctx();
    let cases: &[(&str, PathProblem)] = &[
        ("", PathProblem::Empty),
        ("/a\0b", PathProblem::Nul),
        ("file:///a%00b", PathProblem::Nul),
        ("/..", PathProblem::AboveRoot),
        ("/a/../../b", PathProblem::AboveRoot),
        ("../../../x", PathProblem::AboveRoot),
        ("~bob/x", PathProblem::OtherUser),
        (
            "file://example.com/x",
            PathProblem::UriHost("example.com".to_owned()),
        ),
        ("file:///x?y", PathProblem::UriQuery),
        ("file:///x#y", PathProblem::UriQuery),
        ("file:x", PathProblem::UriRelative),
        ("file:///%ff", PathProblem::UriEncoding),
    ];
    for (raw, want) in cases {
        assert_eq!(norm(&c, raw), Err(want.clone()), "for {raw:?}");
    }
    let bare = posix().build().unwrap();
    assert_eq!(norm(&bare, "secret/x"), Err(PathProblem::NoBase));
    assert_eq!(norm(&bare, "~/x"), Err(PathProblem::NoHome));
    let e = bare.normalize("a/../secret").unwrap_err();
    assert_eq!(
        e.to_string(),
        "path `a/../secret` cannot be normalized: it is relative and no base directory is known"
    );
    let e = bare.normalize("/a\0b").unwrap_err();
    assert_eq!(
        e.to_string(),
        "path `/a\\0b` cannot be normalized: it contains a NUL byte"
    );
}

#[test]
fn relative_paths_resolve_against_every_base() {
    let c = posix().bases(["/a", "/b/c"]).build().unwrap();
    assert_eq!(
        norm(&c, "x/y"),
        Ok(vec!["/a/x/y".to_owned(), "/b/c/x/y".to_owned()])
    );
    // Above one base's root is above the root: fail closed for all.
    assert_eq!(norm(&c, "../../x"), Err(PathProblem::AboveRoot));
}

#[test]
fn bad_bases_and_homes_are_refused_when_the_context_is_built() {
    let e = posix().base("relative/dir").build().unwrap_err();
    assert_eq!(format!("{e}"), "invalid base directory");
    assert_eq!(e.error.problem, PathProblem::NotAbsolute);
    let e = posix().home("/..").build().unwrap_err();
    assert_eq!(e.error.problem, PathProblem::AboveRoot);
    // A base below the home directory may be written with `~`.
    let c = posix().home("/home/u").base("~/proj").build().unwrap();
    assert_eq!(norm(&c, "x"), Ok(vec!["/home/u/proj/x".to_owned()]));
}

#[test]
fn case_insensitive_contexts_fold_every_name() {
    let c = posix()
        .case_insensitive(true)
        .base("/Srv/Root")
        .build()
        .unwrap();
    assert_eq!(
        norm(&c, "SECRET/Keys.ENV"),
        Ok(vec!["/srv/root/secret/keys.env".to_owned()])
    );
}

#[test]
fn windows_paths_normalize_with_drives_shares_and_both_separators() {
    let c = PathContext::builder()
        .style(PathStyle::Windows)
        .case_insensitive(false)
        .base("C:\\Users\\u\\proj")
        .home("C:\\Users\\u")
        .build()
        .unwrap();
    let one = |raw: &str, want: &str| {
        assert_eq!(norm(&c, raw), Ok(vec![want.to_owned()]), "for {raw:?}");
    };
    one("c:\\a\\..\\b", "C:/b");
    one("D:/x//y/", "D:/x/y");
    one("secret\\keys.env", "C:/Users/u/proj/secret/keys.env");
    one("a/..\\secret", "C:/Users/u/proj/secret");
    one("\\\\srv\\share\\a\\..\\b", "//srv/share/b");
    one("\\\\?\\C:\\x", "C:/x");
    one("\\\\?\\UNC\\srv\\share\\x", "//srv/share/x");
    one("file:///C:/x/y", "C:/x/y");
    one("file://srv/share/x", "//srv/share/x");
    // Windows drops trailing dots and spaces from names.
    one("secret.\\keys.env ", "C:/Users/u/proj/secret/keys.env");
    one("~\\.ssh", "C:/Users/u/.ssh");
    let cases: &[(&str, PathProblem)] = &[
        ("C:x", PathProblem::DriveRelative("C:".to_owned())),
        ("\\x", PathProblem::RootRelative),
        ("/c/x", PathProblem::RootRelative),
        ("\\\\.\\pipe\\x", PathProblem::Device),
        ("\\\\?\\Volume{x}\\y", PathProblem::Device),
        ("\\\\srv", PathProblem::BadShare),
        (
            "secret.env::$DATA",
            PathProblem::Stream("secret.env::$DATA".to_owned()),
        ),
        ("a\\...\\b", PathProblem::DotsOnly("...".to_owned())),
        ("C:\\..", PathProblem::AboveRoot),
    ];
    for (raw, want) in cases {
        assert_eq!(norm(&c, raw), Err(want.clone()), "for {raw:?}");
    }
}

fn policy(src: Value) -> Policy {
    Policy::parse(&src.to_string(), "paths.json").unwrap_or_else(|e| panic!("{e}"))
}

fn one_tool(list: &str, cond: Value) -> Policy {
    policy(json!({"version": "1", "default": "deny", "tools": {"t": {list: [cond]}}}))
}

fn run(p: &Policy, c: &PathContext, args: Value) -> Evaluation {
    let facts = CallFacts {
        grant: "g",
        session: "s",
        server: "fs",
        tool: "t",
        args: &args,
    };
    evaluate_with(p, &facts, c, None, &NoCounters, 0)
}

fn denied(e: &Evaluation) -> bool {
    matches!(e.verdict, Verdict::Deny { .. })
}

#[test]
fn under_matches_the_normalized_path_name_by_name() {
    let p = one_tool(
        "deny_if",
        json!({"path": "args.path", "op": "under", "value": "/srv/root/secret"}),
    );
    let c = ctx();
    for path in [
        "secret/keys.env",
        "a/../secret/x",
        "./a//b/../../secret/x",
        "/srv/root/secret",
        "/srv/root/secret/",
        "file:///srv/root/secret/x",
        "/srv/../srv/root/secret/x",
    ] {
        let e = run(&p, &c, json!({ "path": path }));
        assert!(denied(&e), "{path}: {e:?}");
        assert_eq!(e.rule, "/tools/t/deny_if/0");
    }
    for path in [
        "secretary/x",
        "/srv/root/secretary",
        "/srv/root",
        "a/secret/x",
    ] {
        let e = run(&p, &c, json!({ "path": path }));
        assert_eq!(e.verdict, Verdict::Allow, "{path}: {e:?}");
    }
    let e = run(&p, &c, json!({"path": "a/../secret/x"}));
    assert_eq!(
        e.message,
        "Denied by policy: matched `args.path` under \"/srv/root/secret\" (rule /tools/t/deny_if/0)"
    );
}

#[test]
fn under_takes_a_list_and_normalizes_its_own_entries_in_the_context() {
    let p = one_tool(
        "require",
        json!({"path": "args.path", "op": "under", "value": ["~/proj", "docs", "/tmp//x/"]}),
    );
    let c = ctx();
    for ok in ["~/proj/a", "/home/u/proj", "docs/readme.md", "/tmp/x/y"] {
        assert_eq!(
            run(&p, &c, json!({ "path": ok })).verdict,
            Verdict::Allow,
            "{ok}"
        );
    }
    for no in [
        "~/other",
        "/srv/root/doc",
        "/tmp/xy",
        "/home/u/proj/../.ssh",
    ] {
        let e = run(&p, &c, json!({ "path": no }));
        assert!(
            matches!(
                e.verdict,
                Verdict::Deny {
                    kind: DenyKind::Require,
                    ..
                }
            ),
            "{no}: {e:?}"
        );
    }
    // Without a home directory, `~/proj` cannot be normalized: the requirement fails closed.
    let bare = posix().base("/srv/root").build().unwrap();
    let e = run(&p, &bare, json!({"path": "docs/x"}));
    assert!(denied(&e));
    assert_eq!(
        e.message,
        "Denied by policy: requirement not met: `args.path` under [\"~/proj\", \"docs\", \"/tmp//x/\"] (`args.path`: the policy's path `~/proj` cannot be normalized: `~` needs a home directory and none is known) (rule /tools/t/require/0)"
    );
}

#[test]
fn unnormalizable_paths_fail_closed_in_every_list() {
    let cond = json!({"path": "args.path", "op": "glob", "value": "**/.env"});
    let bare = posix().build().unwrap();
    let args = json!({"path": "secret/keys.env"});
    let want = "(`args.path`: path `secret/keys.env` cannot be normalized: it is relative and no base directory is known)";

    let e = run(&one_tool("deny_if", cond.clone()), &bare, args.clone());
    assert!(
        matches!(
            e.verdict,
            Verdict::Deny {
                kind: DenyKind::DenyIf,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        e.message,
        format!(
            "Denied by policy: cannot check `args.path` glob \"**/.env\" {want} (rule /tools/t/deny_if/0)"
        )
    );

    let e = run(&one_tool("require", cond.clone()), &bare, args.clone());
    assert!(
        matches!(
            e.verdict,
            Verdict::Deny {
                kind: DenyKind::Require,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.message.contains(want), "{}", e.message);

    // approve_if asks a human rather than deciding alone.
    let e = run(&one_tool("approve_if", cond), &bare, args);
    assert!(
        matches!(e.verdict, Verdict::RequireApproval { .. }),
        "{e:?}"
    );
    assert_eq!(
        e.message,
        format!(
            "Approval required: cannot check `args.path` glob \"**/.env\" {want} (rule /tools/t/approve_if/0)"
        )
    );
}

#[test]
fn non_strings_fail_closed_and_missing_paths_do_not_fire() {
    let p = one_tool(
        "deny_if",
        json!({"path": "args.path", "op": "under", "value": "/x"}),
    );
    let c = ctx();
    for bad in [
        json!(5),
        json!({"p": "/x"}),
        json!(["/ok", 3]),
        json!(null),
        json!(""),
    ] {
        assert!(denied(&run(&p, &c, json!({ "path": bad }))), "{bad}");
    }
    assert_eq!(run(&p, &c, json!({})).verdict, Verdict::Allow);
    assert_eq!(run(&p, &c, json!({"path": []})).verdict, Verdict::Allow);
}

#[test]
fn glob_patterns_follow_gitignore_anchoring() {
    let c = ctx();
    let cases: &[(&str, &str, bool)] = &[
        // No slash: a name at any depth.
        ("*.pem", "/etc/ssl/server.pem", true),
        ("*.pem", "certs/a.PEM", false),
        (".env", "app/.env", true),
        (".env", "app/.envrc", false),
        // `**/`: anywhere in the absolute path.
        ("**/.env", "/srv/root/a/b/.env", true),
        ("**/.env", "/.env", true),
        ("**/secret/**", "a/../secret/x", true),
        ("**/secret/**", "/secretary/x", false),
        // Parent directories match too, so a directory pattern covers its contents.
        ("**/.ssh", "~/.ssh/id_ed25519", true),
        ("**/.ssh", "~/.sshd/x", false),
        // Absolute patterns.
        ("/etc/**", "/etc/passwd", true),
        ("/etc/*", "/etc/ssl/cert.pem", true),
        ("/etc/*", "/etcetera", false),
        // `~/` patterns: below the home directory.
        ("~/.aws/**", "~/.aws/credentials", true),
        ("~/.aws/**", "/home/u/.aws/config", true),
        ("~/.aws/**", "/srv/root/.aws/config", false),
        // Other slashes: below each base directory.
        ("secret/**", "secret/keys.env", true),
        ("secret/**", "/srv/root/secret/x", true),
        ("secret/**", "/elsewhere/secret/x", false),
        ("secret/**", "a/secret/x", false),
        ("src/*.rs", "src/main.rs", true),
        ("src/*.rs", "src/a/main.rs", false),
        // Trailing `/` changes nothing.
        ("secret/", "x/secret/y", true),
        // Braces and classes come from globset.
        ("*.{pem,key}", "/x/y.key", true),
        ("id_[rd]sa", "~/.ssh/id_dsa", true),
    ];
    for (pattern, path, want) in cases {
        let p = one_tool(
            "deny_if",
            json!({"path": "args.path", "op": "glob", "value": pattern}),
        );
        let e = run(&p, &c, json!({ "path": path }));
        assert_eq!(denied(&e), *want, "{pattern} on {path}: {e:?}");
    }
}

#[test]
fn a_path_of_many_names_is_matched_in_one_pass() {
    // 200,000 names: matching every parent separately would take minutes, not milliseconds.
    let deep = format!("{}secret/x", "a/".repeat(200_000));
    let p = one_tool(
        "deny_if",
        json!({"path": "args.path", "op": "glob", "value": ["/srv/root/a/a/**/secret", "**/nothing/*", "b/**"]}),
    );
    assert!(denied(&run(&p, &ctx(), json!({ "path": deep }))));
    let clean = format!("{}x", "a/".repeat(200_000));
    assert_eq!(
        run(&p, &ctx(), json!({ "path": clean })).verdict,
        Verdict::Allow
    );
}

#[test]
fn globs_anchored_to_base_or_home_fail_closed_without_that_directory() {
    let p = one_tool(
        "deny_if",
        json!({"path": "args.path", "op": "glob", "value": ["*.pem", "~/.aws/**"]}),
    );
    let no_home = posix().base("/srv/root").build().unwrap();
    let e = run(&p, &no_home, json!({"path": "/srv/root/ok.txt"}));
    assert!(denied(&e), "{e:?}");
    assert!(
        e.message.contains(
            "glob pattern `~/.aws/**` cannot be matched: `~` needs a home directory and none is known"
        ),
        "{}",
        e.message
    );
    // A pattern that matches decides even so.
    let e = run(&p, &no_home, json!({"path": "/srv/root/a.pem"}));
    assert!(
        e.message.starts_with("Denied by policy: matched"),
        "{}",
        e.message
    );
}

#[test]
fn case_insensitive_contexts_match_any_case() {
    let p = one_tool(
        "deny_if",
        json!({"path": "args.path", "op": "glob", "value": ["**/.env", "secret/**"]}),
    );
    let u = one_tool(
        "deny_if",
        json!({"path": "args.path", "op": "under", "value": "/Srv/Root/Secret"}),
    );
    let ci = posix()
        .case_insensitive(true)
        .base("/srv/root")
        .build()
        .unwrap();
    let cs = ctx();
    for path in ["APP/.ENV", "Secret/Keys.env", "/SRV/root/SECRET/x"] {
        assert!(denied(&run(&p, &ci, json!({ "path": path }))), "{path}");
        assert!(!denied(&run(&p, &cs, json!({ "path": path }))), "{path}");
    }
    for path in ["Secret/Keys.env", "/SRV/root/SECRET/x"] {
        assert!(denied(&run(&u, &ci, json!({ "path": path }))), "{path}");
        assert!(!denied(&run(&u, &cs, json!({ "path": path }))), "{path}");
    }
}

#[test]
fn star_paths_and_arrays_check_every_path() {
    for path in ["args.paths", "args.paths.*"] {
        let deny = one_tool(
            "deny_if",
            json!({"path": path, "op": "glob", "value": "**/secret/**"}),
        );
        let require = one_tool(
            "require",
            json!({"path": path, "op": "under", "value": "/srv/root"}),
        );
        let c = ctx();
        let mixed = json!({"paths": ["ok.txt", "docs/a.md", "x/../secret/k"]});
        let e = run(&deny, &c, mixed.clone());
        assert!(denied(&e), "{path}: {e:?}");
        if path.ends_with('*') {
            assert!(e.message.contains("at `args.paths.2`"), "{}", e.message);
        }
        assert!(run(&require, &c, mixed).verdict == Verdict::Allow);
        let outside = json!({"paths": ["ok.txt", "/etc/passwd"]});
        assert!(denied(&run(&require, &c, outside)), "{path}");
        let clean = json!({"paths": ["ok.txt", "docs/a.md"]});
        assert_eq!(run(&deny, &c, clean).verdict, Verdict::Allow, "{path}");
        // One path that cannot be normalized makes the whole call undecidable.
        let broken = json!({"paths": ["ok.txt", "../../../x"]});
        assert!(denied(&run(&deny, &c, broken.clone())), "{path}");
        assert!(denied(&run(&require, &c, broken)), "{path}");
    }
}

#[test]
fn with_several_bases_require_holds_only_when_every_reading_holds() {
    let c = posix().bases(["/a", "/b"]).build().unwrap();
    let require = one_tool(
        "require",
        json!({"path": "args.path", "op": "under", "value": "/a"}),
    );
    let deny = one_tool(
        "deny_if",
        json!({"path": "args.path", "op": "under", "value": "/b/secret"}),
    );
    // `x` may be `/a/x` or `/b/x`: the server picks, so both readings must pass.
    assert!(denied(&run(&require, &c, json!({"path": "x"}))));
    assert_eq!(
        run(&require, &c, json!({"path": "/a/x"})).verdict,
        Verdict::Allow
    );
    assert!(denied(&run(&deny, &c, json!({"path": "secret/k"}))));
}

/// A resolver backed by a table, standing in for the gate's `std::fs::canonicalize`.
struct Links(Vec<(&'static str, &'static str)>);

impl PathResolver for Links {
    fn resolve(&self, normalized: &Path) -> Option<PathBuf> {
        let s = normalized.to_str()?;
        self.0.iter().find_map(|(from, to)| {
            let rest = s.strip_prefix(from)?;
            (rest.is_empty() || rest.starts_with('/')).then(|| PathBuf::from(format!("{to}{rest}")))
        })
    }
}

#[test]
fn a_resolver_adds_the_real_path_of_symlinks() {
    let links = Arc::new(Links(vec![
        ("/srv/root/docs/link", "/srv/root/secret"),
        ("/srv/root/escape", "/etc"),
        ("/tmp", "/private/tmp"),
    ]));
    let c = posix().base("/srv/root").resolver(links).build().unwrap();
    let deny = one_tool(
        "deny_if",
        json!({"path": "args.path", "op": "glob", "value": "secret/**"}),
    );
    let require = one_tool(
        "require",
        json!({"path": "args.path", "op": "under", "value": "/srv/root"}),
    );
    assert!(denied(&run(
        &deny,
        &c,
        json!({"path": "docs/link/keys.env"})
    )));
    assert!(denied(&run(&require, &c, json!({"path": "escape/passwd"}))));
    assert_eq!(
        norm(&c, "docs/link/k"),
        Ok(vec![
            "/srv/root/docs/link/k".to_owned(),
            "/srv/root/secret/k".to_owned()
        ])
    );
    // Without the resolver, only the lexical path is seen.
    let lexical = ctx();
    assert_eq!(
        run(&deny, &lexical, json!({"path": "docs/link/keys.env"})).verdict,
        Verdict::Allow
    );
    // The directories of `under` are resolved too: `/tmp/x` is `/private/tmp/x`.
    let tmp = one_tool(
        "require",
        json!({"path": "args.path", "op": "under", "value": "/tmp/work"}),
    );
    assert_eq!(
        run(&tmp, &c, json!({"path": "/tmp/work/a"})).verdict,
        Verdict::Allow
    );
}

#[test]
fn with_resolver_swaps_the_resolver_and_keeps_the_resolved_bases() {
    // Built with a resolver that knows the base is a symlink (`/tmp` is `/private/tmp`)...
    let built = posix()
        .base("/tmp/root")
        .resolver(Arc::new(Links(vec![("/tmp", "/private/tmp")])))
        .build()
        .unwrap();
    // ...then given one that only knows an argument's link: the base's real form stays.
    let c = built.with_resolver(Arc::new(Links(vec![(
        "/tmp/root/docs/link",
        "/private/tmp/root/secret",
    )])));
    assert_eq!(
        norm(&c, "docs/link/k"),
        Ok(vec![
            "/tmp/root/docs/link/k".to_owned(),
            "/private/tmp/root/secret/k".to_owned()
        ])
    );
    // A base-anchored glob strips the resolved base from the resolved form.
    let deny = one_tool(
        "deny_if",
        json!({"path": "args.path", "op": "glob", "value": "secret/**"}),
    );
    assert!(denied(&run(&deny, &c, json!({"path": "docs/link/k"}))));
    assert_eq!(
        run(&deny, &c, json!({"path": "docs/k"})).verdict,
        Verdict::Allow
    );
    // Without a resolver the argument is seen lexically; the base keeps its real form.
    let lexical = c.without_resolver();
    assert_eq!(
        lexical.normalize("docs/link/k"),
        Ok(vec!["/tmp/root/docs/link/k".to_owned()])
    );
    assert_eq!(
        run(
            &deny,
            &lexical,
            json!({"path": "/private/tmp/root/secret/k"})
        )
        .verdict,
        Verdict::Deny {
            kind: airlock_policy::DenyKind::DenyIf,
            retry_after_ms: None
        }
    );
}

#[test]
fn an_on_deny_message_keeps_the_reason_a_path_could_not_be_checked() {
    let c = ctx();
    let require = one_tool(
        "require",
        json!({"path": "args.path", "op": "under", "value": ".", "on_deny": "Stay inside the roots"}),
    );
    let e = run(&require, &c, json!({"path": "../../../../../../x"}));
    assert!(denied(&e));
    assert!(
        e.message.starts_with("Denied by policy: Stay inside the roots (`args.path`: path `../../../../../../x` cannot be normalized: `..` climbs above the root)"),
        "{}",
        e.message
    );
    // A plain failure shows the policy's message alone.
    let e = run(&require, &c, json!({"path": "/elsewhere"}));
    assert!(
        e.message
            .starts_with("Denied by policy: Stay inside the roots (rule"),
        "{}",
        e.message
    );
    let ask = one_tool(
        "approve_if",
        json!({"path": "args.path", "op": "glob", "value": "**/x", "on_deny": "Ask first"}),
    );
    let e = run(&ask, &c, json!({"path": "a\u{0}b"}));
    assert!(matches!(e.verdict, Verdict::RequireApproval { .. }));
    assert!(
        e.message.contains("Ask first (`args.path`: path"),
        "{}",
        e.message
    );
}

#[test]
fn checks_paths_tells_which_tools_have_path_conditions() {
    let p = policy(json!({"version": "1", "default": "deny", "tools": {
        "read": {"deny_if": [{"path": "args.path", "op": "glob", "value": "**/.env"}]},
        "move": {"require": [{"path": "args.to", "op": "under", "value": "/srv"}]},
        "ask": {"approve_if": [{"path": "args.path", "op": "under", "value": "/srv"}]},
        "plain": {"deny_if": [{"path": "args.path", "op": "regex", "value": "x"}]}
    }}));
    assert!(p.checks_paths("read"));
    assert!(p.checks_paths("move"));
    assert!(p.checks_paths("ask"));
    assert!(!p.checks_paths("plain"));
    assert!(!p.checks_paths("unlisted"));
    assert!(p.uses_paths());
    let none = one_tool(
        "deny_if",
        json!({"path": "args.path", "op": "eq", "value": "x"}),
    );
    assert!(!none.uses_paths());
}

#[test]
fn a_path_context_can_be_shared_across_threads() {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<PathContext>();
}

#[test]
fn folding_a_share_name_that_changes_length_keeps_the_root_intact() {
    let c = PathContext::builder()
        .style(PathStyle::Windows)
        .case_insensitive(true)
        .build()
        .unwrap();
    assert_eq!(
        norm(&c, "\\\\\u{130}srv\\share\\A\\..\\B"),
        Ok(vec!["//i\u{307}srv/share/b".to_owned()])
    );
    let p = one_tool(
        "deny_if",
        json!({"path": "args.path", "op": "glob", "value": "**/b"}),
    );
    assert!(denied(&run(
        &p,
        &c,
        json!({"path": "\\\\\u{130}srv\\share\\B"})
    )));
    // The Kelvin sign (3 bytes) folds to `k` (1 byte): names must not be cut mid-character.
    assert_eq!(
        norm(&c, "\\\\\u{212a}srv\\share\\\u{20ac}"),
        Ok(vec!["//ksrv/share/\u{20ac}".to_owned()])
    );
    let names = one_tool(
        "deny_if",
        json!({"path": "args.path", "op": "glob", "value": "\u{20ac}"}),
    );
    let kelvin = json!({"path": "\\\\\u{212a}srv\\share\\\u{20ac}"});
    assert!(denied(&run(&names, &c, kelvin)));
}

proptest! {
    #[test]
    fn any_string_normalizes_or_says_why_without_panicking(
        raw in "\\PC{0,24}|[/\\\\.~:a-zA-Z\u{130}\u{e9}]{0,24}|file:[/%.a-f0-9]{0,16}",
        windows in any::<bool>(),
        fold in any::<bool>(),
    ) {
        let style = if windows { PathStyle::Windows } else { PathStyle::Posix };
        let home = if windows { "C:\\Users\\u" } else { "/home/u" };
        let base = if windows { "C:\\Users\\u\\proj" } else { "/home/u/proj" };
        let c = PathContext::builder().style(style).case_insensitive(fold).home(home).base(base).build().unwrap();
        let p = one_tool("deny_if", json!({"path": "args.path", "op": "glob", "value": ["**/secret", "src/**", "~/.ssh"]}));
        let e = run(&p, &c, json!({ "path": raw }));
        match c.normalize(&raw) {
            Ok(forms) => prop_assert!(forms.iter().all(|f| !f.contains("//") || f.starts_with("//"))),
            Err(_) => prop_assert!(denied(&e), "{:?}", e),
        }
    }
}

/// The reference model: std's own component parser, then a stack; `None` above the root.
fn reference(base: &str, raw: &str) -> Option<String> {
    let joined = Path::new(base).join(raw);
    let mut stack: Vec<&str> = Vec::new();
    for comp in joined.components() {
        match comp {
            std::path::Component::RootDir | std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                stack.pop()?;
            }
            std::path::Component::Normal(n) => stack.push(n.to_str()?),
            std::path::Component::Prefix(_) => return None,
        }
    }
    Some(format!("/{}", stack.join("/")))
}

fn path_strategy() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        proptest::collection::vec(
            prop_oneof![Just("a"), Just(".."), Just("."), Just(""), Just("secret")],
            0..8,
        ),
    )
        .prop_map(|(absolute, segs)| {
            let body = segs.join("/");
            if absolute { format!("/{body}") } else { body }
        })
}

proptest! {
    #[test]
    fn under_agrees_with_a_reference_model_of_lexical_normalization(raw in path_strategy()) {
        let base = "/r/b";
        let c = posix().base(base).build().unwrap();
        let p = one_tool("deny_if", json!({"path": "args.path", "op": "under", "value": "/r/b/secret"}));
        let e = run(&p, &c, json!({ "path": raw }));
        match (raw.is_empty(), reference(base, &raw)) {
            // Empty and above-the-root paths fail closed.
            (true, _) | (_, None) => {
                prop_assert!(e.message.contains("cannot be normalized"), "{raw:?}: {}", e.message);
                prop_assert!(denied(&e));
            }
            (false, Some(want)) => {
                let normalized = c.normalize(&raw).unwrap();
                prop_assert_eq!(&normalized, &vec![want.clone()]);
                let inside = want == "/r/b/secret" || want.starts_with("/r/b/secret/");
                prop_assert_eq!(denied(&e), inside, "{:?} -> {}", raw, want);
            }
        }
    }
}
