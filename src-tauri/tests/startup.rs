//! Start-up against a real gate: first-run config, a taken port, an invalid config. Each test
//! has its own temporary config and data dir and a real SQLite history file.

use airlock_app::startup::{
    DEFAULT_POLICY_FILE, Problem, Settings, StartupError, default_config_text, start,
    write_default_config,
};

fn settings(dir: &std::path::Path) -> Settings {
    Settings {
        config_path: dir.join("config").join("config.json"),
        listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        data_dir: Some(dir.join("data")),
    }
}

#[tokio::test]
async fn first_run_writes_the_default_config_and_the_gate_serves_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let started = start(s.clone()).await.expect("starts");
    let written = std::fs::read_to_string(&s.config_path).unwrap();
    assert_eq!(written, default_config_text());
    let policy = s.config_path.parent().unwrap().join(DEFAULT_POLICY_FILE);
    assert_eq!(
        std::fs::read_to_string(policy).unwrap(),
        airlock_gate::config::PUSHER_POLICY_SOURCE
    );
    assert!(started.gate.config().servers.contains_key("pusher"));
    assert!(dir.path().join("data").join("airlock.db").exists());
    assert_ne!(started.addr.port(), 0);
}

#[tokio::test]
async fn an_existing_config_is_used_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    std::fs::create_dir_all(s.config_path.parent().unwrap()).unwrap();
    let mine = "{ \"mcpServers\": { \"demo\": { \"builtin\": \"demo-pusher\" } } }\n";
    std::fs::write(&s.config_path, mine).unwrap();
    let started = start(s.clone()).await.expect("starts");
    assert!(started.gate.config().servers.contains_key("demo"));
    assert_eq!(std::fs::read_to_string(&s.config_path).unwrap(), mine);
    assert!(matches!(
        write_default_config(&s.config_path),
        Err(StartupError::WriteDefault { .. })
    ));
    assert_eq!(std::fs::read_to_string(&s.config_path).unwrap(), mine);
}

#[tokio::test]
async fn a_taken_port_is_explained_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = blocker.local_addr().unwrap();
    let mut s = settings(dir.path());
    s.listen = Some(addr);
    let (error, path) = start(s.clone()).await.expect_err("port is taken");
    assert_eq!(path, s.config_path);
    let problem = Problem::new(&error, Some(&path));
    assert_eq!(problem.title, "Airlock cannot use its port");
    assert!(
        problem
            .message
            .starts_with(&format!("cannot listen on {addr}")),
        "{}",
        problem.message
    );
    // The operating system's reason follows the message (the error's source).
    assert!(
        problem.message.len() > format!("cannot listen on {addr}").len() + 2
            && problem.message.contains("): "),
        "{}",
        problem.message
    );
    assert!(problem.fix.contains("AIRLOCK_LISTEN"), "{}", problem.fix);
    assert!(problem.fix.contains(&path.display().to_string()));
}

#[tokio::test]
async fn an_invalid_config_is_explained_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    std::fs::create_dir_all(s.config_path.parent().unwrap()).unwrap();
    std::fs::write(&s.config_path, "{\n  \"mcpServers\": {\n    \"x\": 1,\n").unwrap();
    let (error, path) = start(s.clone()).await.expect_err("config is invalid");
    let problem = Problem::new(&error, Some(&path));
    assert_eq!(problem.title, "Airlock cannot read its config");
    // Every problem with its place: file, line and column.
    assert!(
        problem
            .message
            .contains(&format!("{}:4:1:", path.display())),
        "{}",
        problem.message
    );
    // The file was not replaced by the default.
    assert!(
        std::fs::read_to_string(&s.config_path)
            .unwrap()
            .contains("\"x\": 1")
    );
}

#[test]
fn the_problem_page_escapes_what_it_shows() {
    let problem = Problem {
        title: "t<script>".into(),
        message: "m & `x`".into(),
        fix: "f\"".into(),
    };
    let page = problem.page();
    assert!(page.contains("t&lt;script&gt;"));
    assert!(page.contains("m &amp; `x`"));
    assert!(page.contains("f&quot;"));
    assert!(!page.contains("<script>"));
}
