//! The TypeScript bindings in `ui/src/bindings/api.ts` are generated from the wire types and
//! committed. This test fails when they drift; `UPDATE_BINDINGS=1 cargo test -p airlock-api`
//! rewrites the file.

use std::path::PathBuf;

#[test]
fn bindings_are_current() -> Result<(), Box<dyn std::error::Error>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings/api.ts");
    let generated = airlock_api::types::typescript_bindings();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &generated)?;
        return Ok(());
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "ui/src/bindings/api.ts is out of date with crates/api/src/types/; \
         run `UPDATE_BINDINGS=1 cargo test -p airlock-api --test bindings` and commit the result"
    );
    Ok(())
}

#[test]
fn onboarding_bindings_are_current() -> Result<(), Box<dyn std::error::Error>> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings/onboarding.ts");
    let generated = airlock_api::types::onboarding::typescript_bindings();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::write(&path, &generated)?;
        return Ok(());
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "ui/src/bindings/onboarding.ts is out of date with crates/api/src/types/onboarding.rs; \
         run `UPDATE_BINDINGS=1 cargo test -p airlock-api --test bindings` and commit the result"
    );
    Ok(())
}
