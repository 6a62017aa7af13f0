//! The HTTP and legacy SSE upstream links, and the stdio bridge, against real MCP peers:
//! `@modelcontextprotocol/server-everything` (npm, pinned in crates/testkit/node) in its
//! `streamableHttp` and `sse` modes, and the official TypeScript and Python SDK clients through the
//! bridge. Peers are installed on first use by airlock-testkit.

use std::time::Duration;

use airlock_proxy::UpstreamLink;
use airlock_proxy::bridge::run_stdio;
use airlock_proxy::upstream::{http, sse};
use airlock_testkit::{EverythingMode, Peer, everything_http};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Bound on how long a peer may take to say something before the test fails. A failure bound,
/// not a speed assertion: nothing checks how fast anything was.
const PATIENCE: Duration = Duration::from_secs(60);

/// The next message from the server, or an error if the link closed or stayed silent.
async fn next(link: &mut UpstreamLink) -> Result<Value> {
    match tokio::time::timeout(PATIENCE, link.from_server.recv()).await {
        Ok(Some(msg)) => Ok(msg),
        Ok(None) => bail!("the link closed"),
        Err(_) => bail!("no message from the server within {PATIENCE:?}"),
    }
}

/// Reads until the response to `id`, returning it and everything that came before it.
async fn response(link: &mut UpstreamLink, id: Value) -> Result<(Value, Vec<Value>)> {
    let mut before = Vec::new();
    loop {
        let msg = next(link).await?;
        if msg.get("id") == Some(&id) && msg.get("method").is_none() {
            return Ok((msg, before));
        }
        before.push(msg);
    }
}

async fn send(link: &UpstreamLink, msg: Value) -> Result<()> {
    link.to_server
        .send(msg)
        .await
        .context("the link stopped accepting messages")
}

fn initialize(id: i64, capabilities: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": capabilities,
        "clientInfo": {"name": "airlock-peers-test", "version": "0.0.0"}
    }})
}

/// initialize + notifications/initialized; returns the initialize result.
async fn handshake(link: &mut UpstreamLink, capabilities: Value) -> Result<Value> {
    send(link, initialize(1, capabilities)).await?;
    let (reply, _) = response(link, json!(1)).await?;
    send(
        link,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await?;
    Ok(reply)
}

fn call(id: i64, tool: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": args}})
}

fn text_of(result: &Value) -> String {
    result
        .pointer("/result/content/0/text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Blocking testkit calls run on a worker thread so the link's tasks keep running.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// The session id server-everything printed for the session it created.
fn session_id_of(peer: &Peer) -> Result<String> {
    let line = blocking(|| peer.wait_for_line("Session initialized with ID: "))?;
    Ok(line
        .rsplit("Session initialized with ID: ")
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned())
}

/// list, echo and progress over an initialized link.
async fn list_echo_progress(link: &mut UpstreamLink) -> Result<()> {
    send(
        link,
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .await?;
    let (tools, _) = response(link, json!(2)).await?;
    let names: Vec<&str> = tools
        .pointer("/result/tools")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(names.contains(&"echo"), "tools/list: {tools}");
    assert!(names.contains(&"trigger-long-running-operation"));

    send(link, call(3, "echo", json!({"message": "through airlock"}))).await?;
    let (echo, _) = response(link, json!(3)).await?;
    assert_eq!(text_of(&echo), "Echo: through airlock");

    let mut long = call(
        4,
        "trigger-long-running-operation",
        json!({"duration": 0.2, "steps": 2}),
    );
    long["params"]["_meta"] = json!({"progressToken": "tok-4"});
    send(link, long).await?;
    let (done, before) = response(link, json!(4)).await?;
    let progress: Vec<f64> = before
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| {
            assert_eq!(m["params"]["progressToken"], "tok-4");
            m["params"]["progress"].as_f64().unwrap_or(-1.0)
        })
        .collect();
    assert_eq!(
        progress,
        vec![1.0, 2.0],
        "progress before the result: {before:?}"
    );
    assert!(
        text_of(&done).starts_with("Long running operation completed"),
        "{done}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamable_http_link_relays_a_whole_session_and_ends_it_with_delete() -> Result<()> {
    let peer = blocking(|| everything_http(EverythingMode::StreamableHttp))?;
    let mut link = http::connect(&peer.url("/mcp"), &http::HeaderMap::new()).await?;
    let init = handshake(&mut link, json!({})).await?;
    assert_eq!(
        init["result"]["serverInfo"]["name"],
        "mcp-servers/everything"
    );
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    let session = session_id_of(&peer)?;
    assert!(!session.is_empty());

    list_echo_progress(&mut link).await?;

    drop(link);
    let ended = format!("Received session termination request for session {session}");
    blocking(|| peer.wait_for_line(&ended))?;
    // The server really forgot it: the session id is now refused (server-everything answers 400
    // for unknown sessions where the spec says 404).
    let status = reqwest::Client::new()
        .post(peer.url("/mcp"))
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-session-id", &session)
        .body(r#"{"jsonrpc":"2.0","id":9,"method":"ping"}"#)
        .send()
        .await?
        .status();
    assert!(status.is_client_error(), "{status}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamable_http_link_answers_other_requests_while_a_call_waits() -> Result<()> {
    let peer = blocking(|| everything_http(EverythingMode::StreamableHttp))?;
    let mut link = http::connect(&peer.url("/mcp"), &http::HeaderMap::new()).await?;
    handshake(&mut link, json!({"elicitation": {}})).await?;

    // This call waits until the client answers the server's elicitation request.
    send(&link, call(10, "trigger-elicitation-request", json!({}))).await?;
    let ask = next(&mut link).await?;
    assert_eq!(ask["method"], "elicitation/create", "{ask}");

    // Meanwhile another call goes through and is answered.
    send(&link, call(11, "echo", json!({"message": "not blocked"}))).await?;
    let (echo, before) = response(&mut link, json!(11)).await?;
    assert_eq!(text_of(&echo), "Echo: not blocked");
    assert!(before.iter().all(|m| m.get("id") != Some(&json!(10))));

    // The client's answer to the server's request travels as a POST too.
    send(
        &link,
        json!({"jsonrpc": "2.0", "id": ask["id"].clone(),
        "result": {"action": "accept", "content": {"name": "airlock"}}}),
    )
    .await?;
    let (done, _) = response(&mut link, json!(10)).await?;
    let texts = done
        .pointer("/result/content")
        .map(Value::to_string)
        .unwrap_or_default();
    assert!(texts.contains("airlock"), "{done}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamable_http_link_opens_the_get_stream_for_server_initiated_messages() -> Result<()> {
    let peer = blocking(|| everything_http(EverythingMode::StreamableHttp))?;
    let mut link = http::connect(&peer.url("/mcp"), &http::HeaderMap::new()).await?;
    handshake(&mut link, json!({})).await?;
    blocking(|| peer.wait_for_line("Establishing new SSE stream for session"))?;
    send(&link, call(2, "toggle-simulated-logging", json!({}))).await?;
    response(&mut link, json!(2)).await?;
    // Log messages unrelated to a request only travel on the GET stream (one every 5 s).
    loop {
        let msg = next(&mut link).await?;
        if msg["method"] == "notifications/message" {
            assert!(msg["params"]["level"].is_string(), "{msg}");
            break;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_upstream_session_closes_the_link() -> Result<()> {
    // The Python SDK server answers 404 for ended sessions, as the spec says.
    let peer = blocking(airlock_testkit::python_server)?;
    let mut link = http::connect(&peer.url("/mcp"), &http::HeaderMap::new()).await?;
    handshake(&mut link, json!({})).await?;
    send(&link, call(2, "echo", json!({"message": "before"}))).await?;
    response(&mut link, json!(2)).await?;
    let session = raw_session_of(&peer).await?;
    // Someone else ends the session on the server.
    let status = reqwest::Client::new()
        .delete(peer.url("/mcp"))
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await?
        .status();
    assert!(status.is_success(), "{status}");

    send(&link, json!({"jsonrpc": "2.0", "id": 3, "method": "ping"})).await?;
    // 404 for our session: the link closes so the relay can re-initialize.
    loop {
        match tokio::time::timeout(PATIENCE, link.from_server.recv()).await {
            Ok(None) => return Ok(()),
            Ok(Some(msg)) if msg.get("id") == Some(&json!(3)) => {
                bail!("expected the link to close, got {msg}")
            }
            Ok(Some(_)) => {}
            Err(_) => bail!("the link stayed open"),
        }
    }
}

/// The session id the Python server logged for the session it created.
async fn raw_session_of(peer: &Peer) -> Result<String> {
    let line = blocking(|| peer.wait_for_line("Created new transport with session ID: "))?;
    Ok(line
        .rsplit("Created new transport with session ID: ")
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_stream_closed_early_is_resumed_with_last_event_id() -> Result<()> {
    // SEP-1699: the Python server's `poll` tool hangs up its SSE response mid-call; the link must
    // GET the stream back with Last-Event-ID and deliver the rest: progress 2 and the result.
    let peer = blocking(airlock_testkit::python_server)?;
    let mut link = http::connect(&peer.url("/mcp"), &http::HeaderMap::new()).await?;
    handshake(&mut link, json!({})).await?;
    let mut poll = call(2, "poll", json!({"message": "resumed"}));
    poll["params"]["_meta"] = json!({"progressToken": "p-2"});
    send(&link, poll).await?;
    let (done, before) = response(&mut link, json!(2)).await?;
    let progress: Vec<f64> = before
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .filter_map(|m| m["params"]["progress"].as_f64())
        .collect();
    assert_eq!(progress, vec![1.0, 2.0], "{before:?}");
    assert_eq!(text_of(&done), "Polled: resumed", "{done}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_error_from_upstream_answers_that_request() -> Result<()> {
    let peer = blocking(|| everything_http(EverythingMode::StreamableHttp))?;
    let mut link = http::connect(&peer.url("/mcp"), &http::HeaderMap::new()).await?;
    // No initialize first: server-everything refuses with HTTP 400 and a JSON-RPC error body.
    send(
        &link,
        json!({"jsonrpc": "2.0", "id": "x-1", "method": "tools/list"}),
    )
    .await?;
    let (reply, _) = response(&mut link, json!("x-1")).await?;
    assert_eq!(reply["error"]["data"]["httpStatus"], 400, "{reply}");
    assert!(reply["error"]["code"].is_i64());
    // The link still works afterwards.
    let init = handshake(&mut link, json!({})).await?;
    assert!(init.get("result").is_some(), "{init}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_upstream_answers_the_request_and_closes_the_link() -> Result<()> {
    let port = airlock_testkit::free_port()?;
    let url = format!("http://127.0.0.1:{port}/mcp");
    let mut link = http::connect(&url, &http::HeaderMap::new()).await?;
    send(&link, initialize(1, json!({}))).await?;
    let reply = next(&mut link).await?;
    assert_eq!(reply["id"], 1);
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "upstream `http://127.0.0.1:{port}/mcp` is unreachable"
        )),
        "{reply}"
    );
    assert!(link.from_server.recv().await.is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_upstream_speaks_tls_and_a_failed_handshake_answers_with_an_error() -> Result<()> {
    // A loopback "server" that answers plain text where a TLS handshake is expected.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            use std::io::Write;
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\nnot tls");
        }
    });
    let url = format!("https://127.0.0.1:{port}/mcp");
    let mut link = http::connect(&url, &http::HeaderMap::new()).await?;
    link.to_server
        .send(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}),
        )
        .await?;
    let answer = link
        .from_server
        .recv()
        .await
        .ok_or_else(|| anyhow::anyhow!("the link closed without answering"))?;
    assert_eq!(answer["id"], 1, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{answer}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_sse_link_relays_a_whole_session() -> Result<()> {
    let peer = blocking(|| everything_http(EverythingMode::Sse))?;
    let mut link = sse::connect(&peer.url("/sse"), &http::HeaderMap::new()).await?;
    let init = handshake(&mut link, json!({"elicitation": {}})).await?;
    assert_eq!(
        init["result"]["serverInfo"]["name"],
        "mcp-servers/everything"
    );
    list_echo_progress(&mut link).await?;

    // A server-to-client request and its answer.
    send(&link, call(10, "trigger-elicitation-request", json!({}))).await?;
    let ask = next(&mut link).await?;
    assert_eq!(ask["method"], "elicitation/create", "{ask}");
    send(
        &link,
        json!({"jsonrpc": "2.0", "id": ask["id"].clone(),
        "result": {"action": "accept", "content": {"name": "airlock"}}}),
    )
    .await?;
    let (done, _) = response(&mut link, json!(10)).await?;
    assert!(
        done.pointer("/result/content")
            .map(Value::to_string)
            .unwrap_or_default()
            .contains("airlock")
    );

    drop(link);
    blocking(|| peer.wait_for_line("Client Disconnected"))?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_sse_connect_fails_clearly_without_a_server() -> Result<()> {
    let port = airlock_testkit::free_port()?;
    let err = sse::connect(
        &format!("http://127.0.0.1:{port}/sse"),
        &http::HeaderMap::new(),
    )
    .await
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(
        err.starts_with(&format!("cannot reach `http://127.0.0.1:{port}/sse`")),
        "{err}"
    );
    Ok(())
}

/// Runs the stdio bridge for one TCP connection at a time on a loopback port; `pipe.mjs` turns
/// a client's "launch a command" into a connection here.
async fn bridge_on_tcp(upstream: String) -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let Ok(link) = http::connect(&upstream, &http::HeaderMap::new()).await else {
                    return;
                };
                let (read, write) = stream.into_split();
                let _ = run_stdio(link, read, write).await;
            });
        }
    });
    Ok(port)
}

/// Runs a client command and returns its JSON-line events.
async fn run_client(cmd: std::process::Command) -> Result<Vec<Value>> {
    let output = tokio::process::Command::from(cmd)
        .stderr(std::process::Stdio::inherit())
        .output();
    let output = tokio::time::timeout(PATIENCE * 2, output)
        .await
        .context("the client did not finish")??;
    let events: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if !output.status.success() {
        bail!("client failed ({}): {events:?}", output.status);
    }
    Ok(events)
}

/// `min_progress`: the TypeScript SDK v1 drops the last progress notification when the result
/// follows right after it (also without Airlock in between), so it sees fewer than Python.
fn check_client_events(events: &[Value], min_progress: usize) {
    let tools = events.iter().find(|e| e["event"] == "tools");
    let names = tools.map(|t| t["names"].to_string()).unwrap_or_default();
    assert!(names.contains("\"echo\""), "{events:?}");
    let echo = events
        .iter()
        .find(|e| e["event"] == "result" && e["tool"] == "echo")
        .map(|e| e["result"]["content"][0]["text"].clone());
    assert_eq!(echo, Some(json!("Echo: via the bridge")));
    let progress: Vec<f64> = events
        .iter()
        .filter(|e| e["event"] == "progress")
        .filter_map(|e| e["progress"].as_f64())
        .collect();
    assert!(
        progress.len() >= min_progress && progress.len() <= 2,
        "{events:?}"
    );
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    let sampled = events.iter().any(|e| e["event"] == "sampling");
    assert!(sampled, "{events:?}");
}

const CLIENT_STEPS: [&str; 8] = [
    "--list",
    "--call",
    "echo",
    r#"{"message":"via the bridge"}"#,
    "--call",
    "trigger-long-running-operation",
    r#"{"duration":0.2,"steps":2}"#,
    "--progress",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_bridge_carries_the_typescript_sdk_client() -> Result<()> {
    let peer = blocking(|| everything_http(EverythingMode::StreamableHttp))?;
    let port = bridge_on_tcp(peer.url("/mcp")).await?;
    let pipe = airlock_testkit::node_dir().join("pipe.mjs");
    let mut cmd = blocking(airlock_testkit::ts_client)?;
    cmd.arg("--stdio")
        .arg("node")
        .arg(&pipe)
        .arg(port.to_string())
        .arg("--");
    cmd.args(CLIENT_STEPS).args([
        "--sampling",
        "--call",
        "trigger-sampling-request",
        r#"{"prompt":"hi"}"#,
    ]);
    let events = run_client(cmd).await?;
    check_client_events(&events, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_bridge_carries_the_python_sdk_client() -> Result<()> {
    let peer = blocking(|| everything_http(EverythingMode::StreamableHttp))?;
    let port = bridge_on_tcp(peer.url("/mcp")).await?;
    let pipe = airlock_testkit::node_dir().join("pipe.mjs");
    let mut cmd = blocking(airlock_testkit::python_client)?;
    cmd.arg("--stdio")
        .arg("node")
        .arg(&pipe)
        .arg(port.to_string())
        .arg("--");
    cmd.args(CLIENT_STEPS).args([
        "--sampling",
        "--call",
        "trigger-sampling-request",
        r#"{"prompt":"hi"}"#,
    ]);
    let events = run_client(cmd).await?;
    check_client_events(&events, 2);
    Ok(())
}

async fn read_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
) -> Result<Value> {
    let line = tokio::time::timeout(PATIENCE, lines.next_line()).await??;
    Ok(serde_json::from_str(&line.context("the bridge closed")?)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_bridge_answers_garbage_with_a_parse_error_and_keeps_going() -> Result<()> {
    let peer = blocking(|| everything_http(EverythingMode::StreamableHttp))?;
    let port = bridge_on_tcp(peer.url("/mcp")).await?;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();

    write.write_all(b"{this is not json\r\n").await?;
    let reply = read_line(&mut lines).await?;
    assert_eq!(reply["error"]["code"], -32700, "{reply}");
    assert_eq!(reply["id"], Value::Null);

    write.write_all(b"\n17\n").await?;
    let reply = read_line(&mut lines).await?;
    assert_eq!(reply["error"]["code"], -32600, "{reply}");

    let init = serde_json::to_string(&initialize(1, json!({})))?;
    write.write_all(format!("{init}\r\n").as_bytes()).await?;
    let reply = read_line(&mut lines).await?;
    assert_eq!(reply["id"], 1);
    assert_eq!(
        reply["result"]["serverInfo"]["name"],
        "mcp-servers/everything"
    );
    Ok(())
}
