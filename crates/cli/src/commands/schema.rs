//! `airlock schema`: prints the JSON Schema of policy files.
//!
//! Point an editor at it for completion and validation, e.g. in VS Code settings:
//! `"json.schemas": [{"fileMatch": ["policies/*.json"], "url": "./docs/policy.schema.json"}]`.

use std::io::Write;
use std::process::ExitCode;

/// Arguments of `airlock schema` (none).
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    out.write_all(airlock_policy::schema_json().as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
