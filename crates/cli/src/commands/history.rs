//! `airlock history`: search the record of every call, export it, and verify its integrity.
//!
//! Reads the history database directly (it works whether or not a gate runs).

use std::path::PathBuf;
use std::process::ExitCode;

use airlock_store::{
    CallFilter, CallRecord, DecidedBy, Decision, ExportFormat, PageRequest, Store,
};
use anyhow::{Context, bail};

/// Search and export the history of calls, or verify its integrity chain.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    #[command(subcommand)]
    pub command: Option<HistoryCommand>,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Most calls to show (newest first).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Print every matching call as JSON Lines (all of them, oldest first).
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print every matching call as CSV (all of them, oldest first).
    #[arg(long)]
    pub csv: bool,
    /// The history database. Default: airlock.db in the data dir.
    #[arg(long, env = "AIRLOCK_DB")]
    pub db: Option<PathBuf>,
    /// The data dir (default: the user's data dir, or $AIRLOCK_DATA_DIR).
    #[arg(long, env = "AIRLOCK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum HistoryCommand {
    /// Check the hash chain: reports the first edited, inserted or deleted row (exit 1).
    Verify,
    /// Remove old calls; the chain stays verifiable from a stored anchor.
    Prune(PruneArgs),
}

#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct PruneArgs {
    /// Remove calls older than this (e.g. 90d, 24h).
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<String>,
    /// Keep only the newest N calls.
    #[arg(long, value_name = "N")]
    pub keep: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct FilterArgs {
    /// Only calls to this server.
    #[arg(long)]
    pub server: Option<String>,
    /// Only calls of this tool.
    #[arg(long)]
    pub tool: Option<String>,
    /// Only calls by this grant (agent identity).
    #[arg(long)]
    pub grant: Option<String>,
    /// Only this decision.
    #[arg(long, value_parser = stored_names(Decision::ALL.iter().map(|d| d.as_str())))]
    pub decision: Option<String>,
    /// Only decisions made by this.
    #[arg(long, value_parser = stored_names(DecidedBy::ALL.iter().map(|d| d.as_str())))]
    pub decided_by: Option<String>,
    /// Only calls in the last DURATION (e.g. 30m, 24h, 7d).
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Full-text search over tool names and (redacted) arguments.
    #[arg(long, short = 'q')]
    pub search: Option<String>,
}

/// The values a filter accepts, which `--help` lists and clap checks: the store's own names, so
/// the CLI offers every value that is stored and none that is not.
fn stored_names(names: impl Iterator<Item = &'static str>) -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(names.collect::<Vec<_>>())
}

impl FilterArgs {
    fn to_filter(&self) -> anyhow::Result<CallFilter> {
        let from_ms = match &self.since {
            Some(text) => {
                let d = airlock_gate::parse_duration(text).with_context(|| {
                    format!("--since `{text}` is not a duration; write e.g. `30m`, `24h` or `7d`")
                })?;
                Some(airlock_store::now_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            }
            None => None,
        };
        Ok(CallFilter {
            from_ms,
            to_ms: None,
            server: self.server.clone(),
            tool: self.tool.clone(),
            grant: self.grant.clone(),
            decision: self
                .decision
                .as_deref()
                .map(Decision::parse)
                .transpose()
                .context("--decision is not a stored value")?,
            decided_by: self
                .decided_by
                .as_deref()
                .map(DecidedBy::parse)
                .transpose()
                .context("--decided-by is not a stored value")?,
            text: self.search.clone(),
        })
    }
}

fn open(args: &HistoryArgs) -> anyhow::Result<Store> {
    let path = match &args.db {
        Some(p) => p.clone(),
        None => airlock_gate::runtime::data_dir(args.data_dir.as_deref()).join("airlock.db"),
    };
    if !path.exists() {
        bail!(
            "no history at {} (nothing recorded yet, or pass --db / --data-dir)",
            path.display()
        );
    }
    Store::open(&path).with_context(|| format!("cannot open the history at {}", path.display()))
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, from Unix milliseconds (Howard Hinnant's civil-from-days).
pub fn utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn row(c: &CallRecord) -> String {
    let time = utc(c.at_ms);
    let outcome = c
        .completion
        .as_ref()
        .map(|d| format!("{} {}us", d.outcome, d.latency_us))
        .unwrap_or_default();
    format!(
        "{:>7} {} {:<26} {:<8} {:<26} {:<8} {:<10} {:<40} {}",
        c.id,
        time,
        // The grant, or a tokenless agent's declared client marked `(no token)`.
        c.grant.as_deref().map_or_else(
            || "-".to_owned(),
            |g| airlock_gate::identity::agent_label(g, c.client_name.as_deref())
        ),
        c.server,
        c.tool,
        c.decision,
        c.decided_by,
        c.rule.as_deref().unwrap_or("-"),
        outcome
    )
}

pub fn run(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let store = open(&args)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        if let Some(HistoryCommand::Prune(prune)) = &args.command {
            let retention = match (&prune.older_than, prune.keep) {
                (Some(text), _) => {
                    let d = airlock_gate::parse_duration(text).with_context(|| {
                        format!("--older-than `{text}` is not a duration; write e.g. `90d`")
                    })?;
                    airlock_store::Retention::OlderThan(
                        airlock_store::now_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
                    )
                }
                (None, Some(n)) => airlock_store::Retention::KeepRows(n),
                (None, None) => bail!("say --older-than DURATION or --keep N"),
            };
            let report = store.prune(retention).await?;
            println!(
                "removed {} calls and {} completions; `airlock history verify` checks the rest from the stored anchor",
                report.calls, report.completions
            );
            return Ok(ExitCode::SUCCESS);
        }
        if let Some(HistoryCommand::Verify) = args.command {
            let report = store.verify().await?;
            if report.is_ok() {
                println!(
                    "ok: {} calls and {} completions verify (head {})",
                    report.calls, report.completions, report.calls_head
                );
                return Ok(ExitCode::SUCCESS);
            }
            for problem in &report.problems {
                println!("tampered: {problem}");
            }
            return Ok(ExitCode::from(1));
        }
        let filter = args.filter.to_filter()?;
        if filter.text.is_some() {
            store.flush_search_index().await?;
        }
        if args.json || args.csv {
            let format = if args.json {
                ExportFormat::JsonLines
            } else {
                ExportFormat::Csv
            };
            let (mut out, _) = store.export(filter, format, std::io::stdout()).await?;
            std::io::Write::flush(&mut out)?;
            return Ok(ExitCode::SUCCESS);
        }
        let page = store
            .query_calls(
                filter,
                PageRequest {
                    before: None,
                    limit: args.limit.clamp(1, 1000),
                },
            )
            .await?;
        if page.calls.is_empty() {
            println!("No calls match.");
        } else {
            println!(
                "{:>7} {:<19} {:<26} {:<8} {:<26} {:<8} {:<10} {:<40} outcome",
                "id", "time (UTC)", "agent", "server", "tool", "decision", "by", "rule"
            );
            for c in page.calls.iter().rev() {
                println!("{}", row(c));
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{DecidedBy, FilterArgs, utc};

    #[derive(Debug, Parser)]
    struct Filters {
        #[command(flatten)]
        filter: FilterArgs,
    }

    #[test]
    fn decided_by_takes_every_stored_value_and_nothing_else() {
        for value in DecidedBy::ALL {
            let parsed = Filters::try_parse_from(["history", "--decided-by", value.as_str()]);
            assert!(parsed.is_ok(), "`{value}` is refused: {parsed:?}");
        }
        let refused = Filters::try_parse_from(["history", "--decided-by", "nobody"])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            refused.contains("disconnected") && refused.contains("protocol"),
            "the error lists the values: {refused}"
        );
        let refused = Filters::try_parse_from(["history", "--decision", "approve"]);
        assert!(
            refused.is_err(),
            "`approve` is a human's answer, not a call's decision"
        );
    }

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_504_433_972), "2026-11-24 07:13:53");
        assert_eq!(utc(-1000), "1969-12-31 23:59:59");
    }
}
