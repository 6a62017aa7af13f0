//! The README's terminal tour, with the real `airlock` binary: serve on the built-in default,
//! call tools, decide approvals from the CLI (deny with a note, approve for 10 minutes with any
//! arguments), read the history, verify it, and catch tampering.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failure must fail the test loudly"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_airlock");

struct Gate {
    child: Child,
    data: PathBuf,
    _home: tempfile::TempDir,
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn airlock(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("AIRLOCK_DATA_DIR", data)
        .env_remove("AIRLOCK_CONFIG")
        .env_remove("AIRLOCK_URL")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn start() -> Gate {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BIN)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("AIRLOCK_DATA_DIR", &data)
        // No config in this HOME: the built-in default (demo Pusher + the shipped policy).
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env_remove("AIRLOCK_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let gate = Gate {
        child,
        data,
        _home: home,
    };
    for _ in 0..600 {
        if gate.data.join("runtime.json").exists() {
            return gate;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("airlock serve did not start");
}

/// Waits until exactly one request is pending and returns its id.
fn pending_id(data: &Path) -> String {
    for _ in 0..600 {
        let out = airlock(data, &["approvals", "--json"]);
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if let Some(id) = list.get(0).and_then(|a| a["id"].as_str()) {
            return id.to_string();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no request became pending");
}

fn spawn_call(data: &Path, args: &[&str]) -> Child {
    Command::new(BIN)
        .arg("call")
        .args(args)
        .env("AIRLOCK_DATA_DIR", data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn the_terminal_tour_works_end_to_end() {
    let mut gate = start();
    let data = gate.data.clone();

    let list = airlock(&data, &["call", "pusher", "list_channels"]);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(stdout(&list).contains("presence-lobby"));

    // Denied with a note: the agent (here `airlock call`) reads it and fails.
    let held = spawn_call(
        &data,
        &["pusher", "terminate_user_connections", "userId=u-42"],
    );
    let id = pending_id(&data);
    let deny = airlock(&data, &["deny", &id, "--note", "Ada is presenting"]);
    assert!(deny.status.success(), "{}", stderr(&deny));
    let out = held.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Ada is presenting"),
        "{}",
        stderr(&out)
    );

    // Deciding twice is refused.
    let again = airlock(&data, &["approve", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("no longer pending"),
        "{}",
        stderr(&again)
    );

    // The identical call gets the same denial at once (no second request for the human).
    let retry = airlock(
        &data,
        &[
            "call",
            "pusher",
            "terminate_user_connections",
            "userId=u-42",
        ],
    );
    assert!(
        stderr(&retry).contains("Ada is presenting"),
        "{}",
        stderr(&retry)
    );

    // Approved for 10 minutes with any arguments (chosen explicitly): this call runs, and the
    // next one, for another user, passes without asking.
    let held = spawn_call(
        &data,
        &["pusher", "terminate_user_connections", "userId=u-99"],
    );
    let id = pending_id(&data);
    let approve = airlock(&data, &["approve", &id, "--for", "10m", "--any-args"]);
    assert!(approve.status.success(), "{}", stderr(&approve));
    assert!(
        stdout(&approve).contains(
            "Remembered: approve `terminate_user_connections` on `pusher` for grant `cli`, with any arguments, for 10 min."
        ),
        "{}",
        stdout(&approve)
    );
    let out = held.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("u-99"), "{}", stdout(&out));
    let next = airlock(
        &data,
        &["call", "pusher", "terminate_user_connections", "userId=u-7"],
    );
    assert!(next.status.success(), "{}", stderr(&next));
    let lobby = airlock(
        &data,
        &[
            "call",
            "pusher",
            "get_presence_users",
            "channel=presence-lobby",
        ],
    );
    assert!(stdout(&lobby).contains("u-42"), "the denied call never ran");
    assert!(!stdout(&lobby).contains("u-99") && !stdout(&lobby).contains("u-7"));

    // History: every call once, with who decided.
    let history = airlock(
        &data,
        &["history", "--tool", "terminate_user_connections", "--json"],
    );
    assert!(history.status.success(), "{}", stderr(&history));
    let rows: Vec<serde_json::Value> = stdout(&history)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by: Vec<&str> = rows
        .iter()
        .map(|r| r["decided_by"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["human", "human", "human", "remembered"], "{rows:?}");
    assert_eq!(rows[0]["decision"], "deny");
    assert_eq!(rows[1]["decision"], "deny");
    assert_eq!(rows[2]["arguments"]["userId"], "u-99");
    let table = airlock(&data, &["history"]);
    assert!(stdout(&table).contains("get_presence_users"));
    let verify = airlock(&data, &["history", "verify"]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    assert!(stdout(&verify).starts_with("ok: "));

    // Retention keeps the chain verifiable from its anchor.
    let prune = airlock(&data, &["history", "prune", "--keep", "3"]);
    assert!(prune.status.success(), "{}", stderr(&prune));
    assert!(stdout(&prune).starts_with("removed "), "{}", stdout(&prune));
    let verify = airlock(&data, &["history", "verify"]);
    assert!(verify.status.success(), "after prune: {}", stdout(&verify));
    gate.child.kill().unwrap();
    gate.child.wait().unwrap();

    // Someone edits a row behind Airlock's back: `verify` names it.
    rusqlite::Connection::open(data.join("airlock.db"))
        .unwrap()
        .execute(
            "UPDATE calls SET tool = 'list_channels' WHERE id = (SELECT MAX(id) FROM calls)",
            [],
        )
        .unwrap();
    let verify = airlock(&data, &["history", "verify"]);
    assert_eq!(verify.status.code(), Some(1), "{}", stdout(&verify));
    assert!(stdout(&verify).contains("tampered"), "{}", stdout(&verify));
}

#[test]
fn commands_that_need_a_gate_say_so_in_one_line() {
    let empty = tempfile::tempdir().unwrap();
    for args in [
        &["call", "pusher", "list_channels"][..],
        &["approvals"][..],
        &["approve", "abc"][..],
    ] {
        let out = airlock(empty.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains("no Airlock gate is running"), "{err}");
    }
}
