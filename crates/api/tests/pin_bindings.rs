//! The TypeScript bindings of the tool-pin routes, `ui/src/bindings/pins.ts`, are generated from
//! `crates/api/src/pins.rs` and committed. This test fails when they drift;
//! `UPDATE_BINDINGS=1 cargo test -p airlock-api --test pin_bindings` rewrites the file.

use std::path::PathBuf;

#[test]
fn pin_bindings_are_current() -> Result<(), Box<dyn std::error::Error>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings/pins.ts");
    let generated = airlock_api::routes::pins::typescript_bindings();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &generated)?;
        return Ok(());
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "ui/src/bindings/pins.ts is out of date with crates/api/src/pins.rs; \
         run `UPDATE_BINDINGS=1 cargo test -p airlock-api --test pin_bindings` and commit the result"
    );
    Ok(())
}
