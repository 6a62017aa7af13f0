//! The `@modelcontextprotocol/conformance` server scenarios, run against a URL and compared.
//!
//! Two releases of the suite are pinned in `node/package.json` ([`Suite`]): the stable one and
//! the newest alpha (installed as `conformance-next`), which has the 2026-07-28 scenarios
//! (stateless requests, `input_required` results, SSE polling that works). [`run_suite`] starts
//! one of them on Node >= 22 ([`node22`](crate::node22)) with a [`Selection`] of scenarios
//! against a URL and parses the summary it prints into [`Scores`]: one [`Score`] per scenario.
//! The tests run it against a server directly and through Airlock, check that Airlock [`lost`]
//! no scenario, and render a Markdown [`table`] of the runs side by side (the ones in
//! `docs/conformance.md`). [`repeat`] runs one scenario many times, for the scenarios whose
//! failures are races.
//!
//! The summary is the suite's console output (`✓ ping: 1 passed, 0 failed`, or `Passed: 1/1, 0
//! failed` for a single scenario), not a stable format: a new suite version that changes it
//! yields no scores, and the run fails saying so rather than reporting an empty run as a pass.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A bound on one run of the suite (about 30 scenarios take a minute or two), so a hung run fails
/// the test instead of hanging it. A bound on failure, not a timing assertion.
pub const DEADLINE: Duration = Duration::from_secs(600);

/// A pinned release of the suite (both in `node/package.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// `@modelcontextprotocol/conformance`, the stable release (0.1.x).
    Pinned,
    /// `conformance-next`: the newest alpha, with the 2026-07-28 scenarios and requirement sets.
    Next,
}

impl Suite {
    /// Its directory under `node_modules` (both releases install the same `conformance` bin, so
    /// the script is started by its path, never through `.bin`).
    fn package(self) -> &'static str {
        match self {
            Suite::Pinned => "@modelcontextprotocol/conformance",
            Suite::Next => "conformance-next",
        }
    }

    /// The installed version, from the package's `package.json`.
    pub fn version(self) -> io::Result<String> {
        let manifest = crate::node_peers()?
            .join("node_modules")
            .join(self.package())
            .join("package.json");
        let text = fs::read_to_string(&manifest)?;
        text.split_once("\"version\"")
            .and_then(|(_, rest)| rest.split('"').nth(1))
            .map(str::to_owned)
            .ok_or_else(|| io::Error::other(format!("no version in {}", manifest.display())))
    }

    fn script(self) -> io::Result<PathBuf> {
        let script = crate::node_peers()?
            .join("node_modules")
            .join(self.package())
            .join("dist/index.js");
        if script.is_file() {
            Ok(script)
        } else {
            Err(io::Error::other(format!(
                "{} is not installed (no {})",
                self.package(),
                script.display()
            )))
        }
    }
}

/// Which server scenarios a run selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The suite's default: every active scenario (not pending; with [`Suite::Next`], not draft
    /// or extension either).
    Active,
    /// `--suite all`: active, pending, draft and extension scenarios.
    All,
    /// `--requirements <revision>` ([`Suite::Next`] only): exactly what a spec revision requires,
    /// frozen at its release, each scenario at that revision's wire version.
    Requirements(&'static str),
    /// `--scenario <name>`: one scenario.
    Scenario(&'static str),
}

impl Selection {
    fn args(self) -> Vec<&'static str> {
        match self {
            Selection::Active => vec![],
            Selection::All => vec!["--suite", "all"],
            Selection::Requirements(revision) => vec!["--requirements", revision],
            Selection::Scenario(name) => vec!["--scenario", name],
        }
    }
}

/// The checks of one scenario in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    /// Checks that succeeded.
    pub passed: u32,
    /// Checks that failed.
    pub failed: u32,
}

impl Score {
    /// A scenario passes when none of its checks failed.
    pub fn passes(&self) -> bool {
        self.failed == 0
    }
}

/// One run of the suite: scenario name -> its score, in name order.
pub type Scores = BTreeMap<String, Score>;

/// Runs every active server scenario of the stable suite against `url` and returns the scores.
/// The suite writes its per-scenario results (`checks.json`) under `out_dir`. The same as
/// `run_suite(Suite::Pinned, Selection::Active, url, out_dir)`.
pub fn run(url: &str, out_dir: &Path) -> io::Result<Scores> {
    run_suite(Suite::Pinned, Selection::Active, url, out_dir)
}

/// Runs the `selection` of `suite`'s server scenarios against `url` and returns the scores; the
/// suite writes each scenario's `checks.json` under `out_dir`.
///
/// Fails when Node or the suite is not installed, when the run takes longer than [`DEADLINE`],
/// or when its output holds no scenario summary (the error then shows what it printed).
/// Scenarios that fail are scores, not errors.
pub fn run_suite(
    suite: Suite,
    selection: Selection,
    url: &str,
    out_dir: &Path,
) -> io::Result<Scores> {
    let mut cmd = Command::new(crate::node22()?);
    cmd.arg(suite.script()?)
        .args(["server", "--url", url])
        .args(selection.args())
        .arg("-o")
        .arg(out_dir);
    let shown = format!(
        "conformance server --url {url} {}",
        selection.args().join(" ")
    );
    let output = output_within(cmd, DEADLINE)
        .map_err(|e| io::Error::new(e.kind(), format!("{shown}: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut scores = parse_summary(&stdout);
    if let Selection::Scenario(name) = selection
        && scores.is_empty()
        && let Some(score) = parse_single(&stdout)
    {
        scores.insert(name.to_owned(), score);
    }
    if scores.is_empty() {
        return Err(io::Error::other(format!(
            "no conformance results from `{shown}`: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(scores)
}

/// Runs the one scenario `name` of `suite` `times` times against `url` (each run's results
/// under `out_dir/<n>`) and sums the runs: the score's `passed` counts the runs in which every
/// check passed, `failed` the others. For scenarios whose failures are races, where one run
/// proves little.
pub fn repeat(
    suite: Suite,
    name: &'static str,
    times: u32,
    url: &str,
    out_dir: &Path,
) -> io::Result<Score> {
    let mut runs = Score {
        passed: 0,
        failed: 0,
    };
    for n in 0..times {
        let scores = run_suite(
            suite,
            Selection::Scenario(name),
            url,
            &out_dir.join(n.to_string()),
        )?;
        if passes(&scores, name) {
            runs.passed += 1;
        } else {
            runs.failed += 1;
        }
    }
    Ok(runs)
}

/// The result line of a single-scenario run: `Passed: 1/1, 0 failed, 0 warnings`.
fn parse_single(stdout: &str) -> Option<Score> {
    let line = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Passed: "))?;
    let numbers: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers[..] {
        [passed, _total, failed, ..] => Some(Score { passed, failed }),
        _ => None,
    }
}

/// Reads the suite's summary lines (`✓ ping: 1 passed, 0 failed`, `✗ tools-call-image: 0
/// passed, 1 failed`) and skips every other line.
pub fn parse_summary(stdout: &str) -> Scores {
    let mut scores = Scores::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("✓ ").or_else(|| line.strip_prefix("✗ ")) else {
            continue;
        };
        let Some((name, counts)) = rest.split_once(": ") else {
            continue;
        };
        let numbers: Vec<u32> = counts
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect();
        if let [passed, failed] = numbers[..] {
            scores.insert(name.to_owned(), Score { passed, failed });
        }
    }
    scores
}

/// Whether `scenario` ran and passed in `scores`.
pub fn passes(scores: &Scores, scenario: &str) -> bool {
    scores.get(scenario).is_some_and(Score::passes)
}

/// The scenarios that pass in `direct` but not in `through` (failed there, or did not run), in
/// name order. Empty when Airlock lost nothing.
pub fn lost<'a>(direct: &'a Scores, through: &Scores) -> Vec<&'a str> {
    direct
        .iter()
        .filter(|(name, score)| score.passes() && !passes(through, name))
        .map(|(name, _)| name.as_str())
        .collect()
}

/// A Markdown table of runs side by side: one column per `(title, scores)`, one row per scenario
/// that ran in any of them (in name order; `not run` where a run lacks it), and a last row with
/// how many scenarios pass in each run.
pub fn table(columns: &[(&str, &Scores)]) -> String {
    let mut names: Vec<&String> = columns.iter().flat_map(|(_, s)| s.keys()).collect();
    names.sort();
    names.dedup();
    let mut out = String::from("| scenario |");
    for (title, _) in columns {
        out.push_str(&format!(" {title} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for name in &names {
        out.push_str(&format!("| `{name}` |"));
        for (_, scores) in columns {
            out.push_str(&format!(" {} |", cell(scores.get(*name))));
        }
        out.push('\n');
    }
    out.push_str("| **scenarios passing** |");
    for (_, scores) in columns {
        let passing = scores.values().filter(|s| s.passes()).count();
        out.push_str(&format!(" **{passing} of {}** |", scores.len()));
    }
    out.push('\n');
    out
}

fn cell(score: Option<&Score>) -> String {
    match score {
        Some(s) if s.passes() => format!("pass ({})", s.passed),
        Some(s) => format!("FAIL ({} passed, {} failed)", s.passed, s.failed),
        None => "not run".to_owned(),
    }
}

/// Runs `cmd` to the end with its output captured, or kills it after `deadline`.
fn output_within(mut cmd: Command, deadline: Duration) -> io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Read both pipes while waiting: a child that fills a pipe nobody reads never exits.
    let stdout = read_to_end_in_background(child.stdout.take());
    let stderr = read_to_end_in_background(child.stderr.take());
    let until = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("did not finish within {deadline:?}"),
            ));
        }
        thread::sleep(Duration::from_millis(100));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn read_to_end_in_background(pipe: Option<impl Read + Send + 'static>) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error keeps what was read: the caller reports the output as it is.
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(entries: &[(&str, u32, u32)]) -> Scores {
        entries
            .iter()
            .map(|&(name, passed, failed)| (name.to_owned(), Score { passed, failed }))
            .collect()
    }

    #[test]
    fn the_summary_lines_become_scores_and_other_lines_are_skipped() {
        let stdout = "Running ping...\n\
                      === SUMMARY ===\n\
                      ✓ ping: 1 passed, 0 failed\n\
                      ✗ tools-call-image: 0 passed, 1 failed\n\
                      \n\
                      Total: 2 passed, 2 failed\n";
        assert_eq!(
            parse_summary(stdout),
            scores(&[("ping", 1, 0), ("tools-call-image", 0, 1)])
        );
    }

    #[test]
    fn a_single_scenario_run_has_its_own_result_line() {
        let stdout =
            "Checks:\n  [ping] SUCCESS\n\nTest Results:\nPassed: 2/3, 1 failed, 0 warnings\n";
        assert_eq!(
            parse_single(stdout),
            Some(Score {
                passed: 2,
                failed: 1
            })
        );
        assert_eq!(parse_single("Test Results:\n"), None);
    }

    #[test]
    fn a_scenario_is_lost_when_it_passes_directly_but_fails_or_is_missing_through_airlock() {
        let direct = scores(&[("a", 1, 0), ("b", 1, 0), ("c", 0, 1), ("d", 2, 0)]);
        let through = scores(&[("a", 1, 0), ("b", 0, 1), ("c", 1, 0)]);
        assert_eq!(lost(&direct, &through), ["b", "d"]);
        assert!(lost(&direct, &direct).is_empty());
        assert!(passes(&through, "c"));
        assert!(!passes(&through, "d"));
    }

    #[test]
    fn the_table_has_a_column_per_run_a_row_per_scenario_and_the_totals() {
        let direct = scores(&[("ping", 1, 0), ("dns-rebinding-protection", 1, 1)]);
        let through = scores(&[
            ("ping", 1, 0),
            ("dns-rebinding-protection", 2, 0),
            ("x", 0, 1),
        ]);
        assert_eq!(
            table(&[("directly", &direct), ("through Airlock", &through)]),
            "| scenario | directly | through Airlock |\n\
             |---|---|---|\n\
             | `dns-rebinding-protection` | FAIL (1 passed, 1 failed) | pass (2) |\n\
             | `ping` | pass (1) | pass (1) |\n\
             | `x` | not run | FAIL (0 passed, 1 failed) |\n\
             | **scenarios passing** | **1 of 2** | **2 of 3** |\n"
        );
    }
}
