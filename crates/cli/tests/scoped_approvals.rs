//! What a "yes" covers, and who asked (issue 11), with the real `airlock` binary and two real
//! tokenless agents: the Python `mcp` client and the TypeScript SDK client, each a different
//! program declaring its own `clientInfo.name`. Decisions are made with `airlock approve` /
//! `airlock deny`, as a person at a terminal would.
//!
//! - A remembered approval for one tokenless agent does not let the other through.
//! - The same tool with other arguments asks again; "any arguments" must be chosen explicitly.
//! - "This session" ends with the session: a new session of the same program asks again.
//! - Grants rollout: a first grant while `gate.require_grants` is off keeps tokenless agents
//!   working (and says so); `airlock grants require on` says how many tokenless sessions are
//!   connected, and a tokenless agent is then refused with a message naming the setting.
//!
//! Run: `cargo test -p airlock-cli --test scoped_approvals`.

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use common::{AGENT_DEADLINE, Agent, Sdk, Serve, Via, result_of, text_of};
use serde_json::{Value, json};

const TOOL: &str = "terminate_user_connections";

/// The demo Pusher behind a human for `terminate_user_connections`, held long enough that an
/// agent waiting on a decision gets it within its call.
fn config() -> Value {
    json!({
        "gate": { "hold_seconds": 120 },
        "mcpServers": { "pusher": { "builtin": "demo-pusher", "policy": "pusher.json" } }
    })
}

/// Runs `airlock ARGS` against `serve` (its URL given, so the command never races the gate's
/// runtime file; the API token read from its data dir).
fn airlock(serve: &Serve, args: &[&str]) -> Result<Output> {
    Ok(Command::new(common::airlock_bin())
        .args(args)
        .arg("--data-dir")
        .arg(serve.data_dir())
        .args(["--url", &serve.base_url])
        .env_remove("AIRLOCK_URL")
        .output()?)
}

/// Runs an `airlock` command that must succeed; its stdout.
fn ok(serve: &Serve, args: &[&str]) -> Result<String> {
    let out = airlock(serve, args)?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "airlock {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(stdout)
}

fn call(sdk: Sdk, serve: &Serve, user: &str) -> Result<Agent> {
    let args = json!({ "userId": user }).to_string();
    Agent::start(
        sdk,
        &Via::Http(serve.mcp_url("pusher")),
        &["--call", TOOL, &args],
    )
}

/// Waits for the request of the agent's call; fails if the agent ends without one.
fn pending_of(serve: &Serve, agent: &mut Agent) -> Result<Value> {
    let deadline = Instant::now() + AGENT_DEADLINE;
    loop {
        if let Some(first) = serve.pending()?.into_iter().next() {
            return Ok(first);
        }
        if !agent.running()? {
            bail!(
                "the agent ended without being asked about: {:?}",
                agent.events()
            );
        }
        ensure!(Instant::now() < deadline, "no approval request appeared");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the agent to end without anyone being asked; fails as soon as a request appears.
fn finished_unasked(serve: &Serve, mut agent: Agent) -> Result<Vec<Value>> {
    let deadline = Instant::now() + AGENT_DEADLINE;
    while agent.running()? {
        if let Some(asked) = serve.pending()?.into_iter().next() {
            bail!("a human was asked again: {asked:#}");
        }
        ensure!(Instant::now() < deadline, "the agent did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (success, events) = agent.finish()?;
    ensure!(success, "the agent failed: {events:?}");
    Ok(events)
}

fn terminated(events: &[Value], user: &str) -> Result<()> {
    let result = result_of(events, TOOL).cloned().unwrap_or_default();
    ensure!(
        result["isError"] != true
            && text_of(&result).contains(&format!("terminated for user \"{user}\"")),
        "not the real result: {events:?}"
    );
    Ok(())
}

fn id(approval: &Value) -> Result<String> {
    approval["id"]
        .as_str()
        .map(str::to_owned)
        .context("approval without id")
}

/// The client name an agent declared, as the approval card shows it.
fn tokenless_label(approval: &Value) -> Result<String> {
    let name = approval["client"]["name"]
        .as_str()
        .context("no client name")?;
    ensure!(approval["grant"] == "default" && approval["tokenless"] == true);
    ensure!(
        approval["agent"] == format!("{name} (no token)").as_str(),
        "agent label: {approval:#}"
    );
    Ok(name.to_owned())
}

#[test]
fn a_remembered_approval_covers_one_tokenless_agent_and_these_arguments_only() -> Result<()> {
    let serve = Serve::start(&config())?;

    // Python asks; approved for 10 minutes from the terminal.
    let mut python = call(Sdk::Python, &serve, "u-1")?;
    let asked = pending_of(&serve, &mut python)?;
    let python_name = tokenless_label(&asked)?;
    let said = ok(&serve, &["approve", &id(&asked)?, "--for", "10m"])?;
    ensure!(
        said.contains(&format!(
            "Remembered: approve `{TOOL}` on `pusher` for any tokenless agent that says it is \
             `{python_name}`, with these arguments only, for 10 min."
        )) && said.contains("its client name is a claim, not authentication"),
        "approve said: {said}"
    );
    let (success, events) = python.finish()?;
    ensure!(success, "{events:?}");
    terminated(&events, "u-1")?;

    // The TypeScript agent makes the very same call: it is another agent, so it is asked about.
    let mut typescript = call(Sdk::TypeScript, &serve, "u-1")?;
    let asked = pending_of(&serve, &mut typescript)?;
    let ts_name = tokenless_label(&asked)?;
    ensure!(ts_name != python_name, "the two SDKs declare the same name");
    ok(&serve, &["deny", &id(&asked)?, "--note", "not you"])?;
    let (_, events) = typescript.finish()?;
    let denied = result_of(&events, TOOL).cloned().unwrap_or_default();
    ensure!(
        denied["isError"] == true && text_of(&denied).contains("not you"),
        "{events:?}"
    );

    // Python again, same arguments, a new session: covered, nobody is asked.
    terminated(
        &finished_unasked(&serve, call(Sdk::Python, &serve, "u-1")?)?,
        "u-1",
    )?;

    // Python, other arguments: asked again. Widening needs --any-args, said in words.
    let mut python = call(Sdk::Python, &serve, "u-2")?;
    let asked = pending_of(&serve, &mut python)?;
    let widen_without_remembering = airlock(&serve, &["approve", &id(&asked)?, "--any-args"])?;
    ensure!(
        !widen_without_remembering.status.success(),
        "--any-args alone must be refused"
    );
    let said = ok(
        &serve,
        &["approve", &id(&asked)?, "--for", "10m", "--any-args"],
    )?;
    ensure!(said.contains("with any arguments, for 10 min."), "{said}");
    terminated(&python.finish()?.1, "u-2")?;
    terminated(
        &finished_unasked(&serve, call(Sdk::Python, &serve, "u-3")?)?,
        "u-3",
    )?;

    // The remembered list says what each covers.
    let list = ok(&serve, &["remembered"])?;
    ensure!(
        list.matches(&format!("says it is `{python_name}`")).count() == 2
            && list.contains("with these arguments only")
            && list.contains("with any arguments")
            && !list.contains(&ts_name),
        "remembered: {list}"
    );
    Ok(())
}

#[test]
fn this_session_ends_with_the_session() -> Result<()> {
    let serve = Serve::start(&config())?;
    let args = json!({ "userId": "u-5" }).to_string();
    // One session, two identical calls: the second is covered by "this session".
    let mut agent = Agent::start(
        Sdk::TypeScript,
        &Via::Http(serve.mcp_url("pusher")),
        &["--call", TOOL, &args, "--call", TOOL, &args],
    )?;
    let asked = pending_of(&serve, &mut agent)?;
    let said = ok(&serve, &["approve", &id(&asked)?, "--session"])?;
    ensure!(
        said.contains("for this session of") && said.contains("until the session ends"),
        "{said}"
    );
    let events = finished_unasked(&serve, agent)?;
    let results = events.iter().filter(|e| e["event"] == "result").count();
    ensure!(results == 2, "{events:?}");

    // The same program in a new session is asked again.
    let mut again = call(Sdk::TypeScript, &serve, "u-5")?;
    let asked = pending_of(&serve, &mut again)?;
    ok(&serve, &["deny", &id(&asked)?])?;
    again.finish()?;
    Ok(())
}

#[test]
fn a_grants_rollout_keeps_tokenless_agents_working_until_require_grants_is_turned_on() -> Result<()>
{
    let serve = Serve::start(&config())?;
    let url = serve.mcp_url("pusher");

    let created = ok(&serve, &["grants", "create", "ci-bot"])?;
    ensure!(
        created.contains("Agents without a token still get in, unauthenticated"),
        "{created}"
    );
    let token = created
        .lines()
        .nth(1)
        .context("no token line")?
        .trim()
        .to_owned();
    ensure!(ok(&serve, &["grants", "list"])?.contains("ci-bot"));

    // Still open to tokenless agents: one is held on a request while tokens become required.
    let mut held = call(Sdk::Python, &serve, "u-8")?;
    let asked = pending_of(&serve, &mut held)?;
    let access = ok(&serve, &["grants", "access"])?;
    ensure!(
        access.contains("gate.require_grants is off") && access.contains("(no token)"),
        "{access}"
    );
    let turned_on = ok(&serve, &["grants", "require", "on"])?;
    ensure!(
        turned_on.contains("1 tokenless agent session is connected now"),
        "{turned_on}"
    );
    ok(&serve, &["deny", &id(&asked)?])?;
    held.finish()?;
    let saved = std::fs::read_to_string(serve.config_dir().join("config.json"))?;
    ensure!(
        saved.contains("\"require_grants\": true"),
        "not saved: {saved}"
    );

    // A tokenless agent is refused, told which setting refuses it; the grant's token works.
    let (success, events) =
        Agent::start(Sdk::TypeScript, &Via::Http(url.clone()), &["--list"])?.finish()?;
    ensure!(!success, "a tokenless agent got in: {events:?}");
    ensure!(
        events.iter().any(|e| e["event"] == "error"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("gate.require_grants"))),
        "{events:?}"
    );
    let header = format!("Authorization=Bearer {token}");
    let (success, events) = Agent::start(
        Sdk::TypeScript,
        &Via::Http(url),
        &["--header", &header, "--list"],
    )?
    .finish()?;
    ensure!(success, "the grant's token was refused: {events:?}");
    Ok(())
}
