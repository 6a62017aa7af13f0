//! Prints a crate's module graph (`cargo run -p airlock-testkit --example edges -- crates/gate/src`).
fn main() {
    let src = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_default());
    let Ok(graph) = airlock_testkit::layering::module_graph(&src) else {
        return;
    };
    for (m, to) in &graph {
        for t in to {
            println!("{m} -> {t}");
        }
    }
}
