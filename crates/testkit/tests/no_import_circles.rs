//! No import circle between the modules of any crate of the workspace (see
//! `airlock_testkit::layering`).
#![expect(clippy::unwrap_used, reason = "a test stops at the first error")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use airlock_testkit::layering::{cycles, module_graph};

/// Every crate's `src/`, by crate folder.
fn crate_sources() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        if dir.join("src").is_dir() {
            let name = format!("crates/{}", dir.file_name().unwrap().to_string_lossy());
            out.push((name, dir.join("src")));
        }
    }
    out.push(("src-tauri".to_owned(), root.join("src-tauri/src")));
    out.sort();
    out
}

#[test]
fn no_crate_has_an_import_circle() {
    let sources = crate_sources();
    assert!(sources.len() >= 9, "{sources:?}");
    let mut found = Vec::new();
    for (name, src) in &sources {
        let graph = module_graph(src).unwrap();
        for circle in cycles(&graph) {
            found.push(format!("{name}: {}", circle.join(" <-> ")));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn the_check_sees_the_edges_of_a_real_crate() {
    let store = Path::new(env!("CARGO_MANIFEST_DIR")).join("../store/src");
    let graph = module_graph(&store).unwrap();
    assert!(graph["tables::calls"].contains("store"), "{graph:#?}");
    assert!(graph["writer"].contains("job"), "{graph:#?}");
    let modules: BTreeSet<&String> = graph.keys().collect();
    assert!(modules.len() > 10, "{modules:?}");
}

#[test]
fn the_check_finds_a_circle_through_groups_inline_paths_and_super() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |path: &str, text: &str| {
        let path = src.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "lib.rs",
        "mod a;\nmod b;\nmod c;\nmod d;\nmod quiet;\npub use b::Thing;\n",
    );
    // a -> b by a re-exported name inside a group; b -> c inline; c -> c::inner -> a, the last
    // by `super::`; d only in comments and literals.
    write("a.rs", "use crate::{Thing as T, d::{self}};\n");
    write("b.rs", "pub struct Thing;\nfn f() { crate::c::g(); }\n");
    write(
        "c.rs",
        "mod inner;\npub fn g() -> char { crate::c::inner::h() }\n",
    );
    write(
        "c/inner.rs",
        "use super::super::a;\npub fn h() -> char { '\\'' }\n",
    );
    write(
        "d.rs",
        "// use crate::a;\n/* crate::b::x() */\nconst S: &str = \"crate::c\";\nconst R: &str = r#\"crate::a\"#;\nfn f<'a>(x: &'a str) -> char { 'c' }\n",
    );
    write("quiet.rs", "use crate::d;\n");
    let graph = module_graph(src).unwrap();
    assert_eq!(graph["a"], BTreeSet::from(["b".to_owned(), "d".to_owned()]));
    assert_eq!(graph["b"], BTreeSet::from(["c".to_owned()]));
    assert_eq!(graph["c"], BTreeSet::from(["c::inner".to_owned()]));
    assert_eq!(graph["c::inner"], BTreeSet::from(["a".to_owned()]));
    assert!(graph["d"].is_empty(), "{graph:#?}");
    assert_eq!(
        cycles(&graph),
        vec![vec![
            "a".to_owned(),
            "b".to_owned(),
            "c".to_owned(),
            "c::inner".to_owned()
        ]]
    );
}
