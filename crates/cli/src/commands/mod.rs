//! One module per subcommand.

pub mod api_client;
pub mod approvals;
pub mod call;
pub mod check;
pub mod check_diff;
pub mod connect;
pub mod demo_pusher;
pub mod explain;
pub mod gate_client;
pub mod grants;
pub mod history;
pub mod import;
pub mod passphrase;
pub mod policy;
pub mod policy_staged;
pub mod remembered;
pub mod schema;
pub mod serve;
pub mod tools;

use std::path::Path;

use anyhow::Context;

/// Output format shared by commands that have a machine-readable form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// One JSON document on stdout, for tools and editors.
    Json,
}

/// Reads a policy file as UTF-8 text.
pub fn read_policy(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))
}
