//! The `@modelcontextprotocol/conformance` server scenarios, run against a URL and compared.
//!
//! [`run`] starts the suite's CLI (`conformance server --url <url>`, every active scenario) on
//! Node >= 22 ([`node22`](crate::node22)) and parses the summary it prints into [`Scores`]: one
//! [`Score`] per scenario. The tests run it once against a server directly and once or more
//! through Airlock, then check that Airlock [`lost`] no scenario and render a Markdown [`table`]
//! of the runs side by side (the one in `docs/conformance.md`).
//!
//! The summary is the suite's console output (`✓ ping: 1 passed, 0 failed`), not a stable
//! format: a new suite version that changes it yields no scores, and [`run`] fails saying so
//! rather than reporting an empty run as a pass.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A bound on one run of the suite (about 30 scenarios take a minute or two), so a hung run fails
/// the test instead of hanging it. A bound on failure, not a timing assertion.
pub const DEADLINE: Duration = Duration::from_secs(600);

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

/// Runs every active server scenario against `url` and returns the scores. The suite writes its
/// per-scenario results (`checks.json`) under `out_dir`.
///
/// Fails when Node or the suite is not installed, when the run takes longer than [`DEADLINE`],
/// or when its output holds no scenario summary (the error then shows what it printed).
/// Scenarios that fail are scores, not errors.
pub fn run(url: &str, out_dir: &Path) -> io::Result<Scores> {
    let mut cmd = Command::new(crate::node22()?);
    cmd.arg(crate::node_bin("conformance")?)
        .args(["server", "--url", url, "-o"])
        .arg(out_dir);
    let output = output_within(cmd, DEADLINE)
        .map_err(|e| io::Error::new(e.kind(), format!("conformance server --url {url}: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let scores = parse_summary(&stdout);
    if scores.is_empty() {
        return Err(io::Error::other(format!(
            "no conformance results from {url}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(scores)
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
