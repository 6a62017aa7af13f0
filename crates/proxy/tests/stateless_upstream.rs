//! Stateless 2026-07-28 requests relayed to a strict 2026 upstream: the rmcp 3.11.0 Streamable
//! HTTP server in stateless mode (`legacy_session_mode(false)`), which refuses with 400 / -32020
//! every POST whose `Mcp-Method`, `Mcp-Name`, `Mcp-Param-*` or `MCP-Protocol-Version` headers do
//! not repeat its body. Its `deploy` tool annotates `region` with `x-mcp-header: Region` (through
//! schemars, as rmcp's macros allow). The agent is raw HTTP, sending what a correct 2026 client
//! sends, and once what a confused or malicious one would.
#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step must fail the test loudly"
)]

use std::sync::Arc;

use airlock_proxy::{PassThrough, Proxy, ProxyConfig, UpstreamSpec};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, schemars, tool, tool_handler, tool_router};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct DeployArgs {
    /// Where to deploy; gateways may route on it.
    #[schemars(extend("x-mcp-header" = "Region"))]
    region: String,
    image: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
struct EchoArgs {
    text: String,
}

#[derive(Clone)]
struct Deployer;

#[tool_router]
impl Deployer {
    #[tool(description = "Deploys an image to a region")]
    async fn deploy(&self, Parameters(args): Parameters<DeployArgs>) -> String {
        format!("deployed {} to {}", args.image, args.region)
    }

    #[tool(description = "Echoes text")]
    async fn echo(&self, Parameters(args): Parameters<EchoArgs>) -> String {
        format!("echo: {}", args.text)
    }
}

#[tool_handler]
impl ServerHandler for Deployer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// The rmcp server on a free port; stops when the token is cancelled (on drop of the guard).
async fn rmcp_stateless_server() -> (String, tokio_util::sync::DropGuard) {
    let stop = CancellationToken::new();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_sse_keep_alive(None)
        .with_cancellation_token(stop.clone());
    let service: StreamableHttpService<Deployer, LocalSessionManager> =
        StreamableHttpService::new(|| Ok(Deployer), Default::default(), config);
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let until = stop.clone();
    tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(until.cancelled_owned())
            .await
    });
    (format!("http://{addr}/mcp"), stop.drop_guard())
}

/// Airlock (pass-through interceptor) with the rmcp server as its upstream `deploy`.
async fn airlock_in_front_of(upstream: String) -> (Proxy, String) {
    let proxy = Proxy::new(Arc::new(PassThrough), ProxyConfig::default());
    proxy.set_servers([(
        "deploy".to_owned(),
        UpstreamSpec::StreamableHttp {
            url: upstream,
            headers: Default::default(),
        },
    )]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = proxy.router();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (proxy, format!("http://{addr}/mcp/deploy"))
}

fn request(id: u64, method: &str, params: Value) -> Value {
    let mut params = params;
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-2026-agent", "version": "1"}
    });
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// POSTs a stateless request with the given standard headers (besides the version).
async fn post(url: &str, body: &Value, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut r = reqwest::Client::new()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .json(body);
    for (name, value) in headers {
        r = r.header(*name, *value);
    }
    r.send().await.unwrap()
}

/// The final JSON-RPC response of an SSE (or plain JSON) answer.
async fn answer(resp: reqwest::Response) -> Value {
    let text = resp.text().await.unwrap();
    airlock_testkit::mcp_http::answer_messages(&text)
        .into_iter()
        .rfind(|m| m.get("id").is_some())
        .unwrap_or_else(|| json!({"unparsed": text}))
}

fn text_of(msg: &Value) -> &str {
    msg.pointer("/result/content/0/text")
        .and_then(Value::as_str)
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateless_calls_reach_a_strict_rmcp_2026_server_with_the_standard_headers() {
    let (upstream, _stop) = rmcp_stateless_server().await;

    // The server really is strict: a call without the headers is refused.
    let bare = post(
        &upstream,
        &request(
            1,
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "x"}}),
        ),
        &[],
    )
    .await;
    assert_eq!(bare.status(), 400);
    assert_eq!(answer(bare).await["error"]["code"], -32020);

    let (_proxy, airlock) = airlock_in_front_of(upstream).await;

    // tools/list through Airlock: the annotation reaches the agent (and Airlock learns it).
    let list = post(
        &airlock,
        &request(2, "tools/list", json!({})),
        &[("mcp-method", "tools/list")],
    )
    .await;
    assert_eq!(list.status(), 200);
    let list = answer(list).await;
    let tools = list["result"]["tools"].as_array().unwrap();
    let deploy = tools.iter().find(|t| t["name"] == "deploy").unwrap();
    assert_eq!(
        deploy["inputSchema"]["properties"]["region"]["x-mcp-header"], "Region",
        "{deploy}"
    );

    // A call of an unannotated tool.
    let echo = request(
        3,
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "hi"}}),
    );
    let resp = post(
        &airlock,
        &echo,
        &[("mcp-method", "tools/call"), ("mcp-name", "echo")],
    )
    .await;
    let msg = answer(resp).await;
    assert_eq!(text_of(&msg), "echo: hi", "{msg}");
    assert_eq!(msg["id"], 3);

    // A call whose annotated argument travels as `Mcp-Param-Region`, plain and base64-wrapped.
    for (region, header) in [
        ("eu-west", "eu-west"),
        ("zürich", "=?base64?esO8cmljaA==?="),
    ] {
        let call = request(
            4,
            "tools/call",
            json!({"name": "deploy", "arguments": {"region": region, "image": "app:1"}}),
        );
        let resp = post(
            &airlock,
            &call,
            &[
                ("mcp-method", "tools/call"),
                ("mcp-name", "deploy"),
                ("mcp-param-region", header),
            ],
        )
        .await;
        let msg = answer(resp).await;
        assert_eq!(
            text_of(&msg),
            format!("deployed app:1 to {region}"),
            "{msg}"
        );
    }

    // An agent whose `Mcp-Param-Region` says one region while the body deploys to another is
    // refused by Airlock itself, and the next correct call still works.
    let call = request(
        5,
        "tools/call",
        json!({"name": "deploy", "arguments": {"region": "eu-west", "image": "app:2"}}),
    );
    let lying = post(
        &airlock,
        &call,
        &[
            ("mcp-method", "tools/call"),
            ("mcp-name", "deploy"),
            ("mcp-param-region", "us-east"),
        ],
    )
    .await;
    assert_eq!(lying.status(), 400);
    let err = answer(lying).await;
    assert_eq!(err["error"]["code"], -32020, "{err}");
    assert_eq!(
        err["error"]["message"],
        "`Mcp-Param-Region` header is `us-east` but the request says `eu-west`"
    );
    let missing = post(
        &airlock,
        &call,
        &[("mcp-method", "tools/call"), ("mcp-name", "deploy")],
    )
    .await;
    assert_eq!(missing.status(), 400);
    assert_eq!(
        answer(missing).await["error"]["message"],
        "missing `Mcp-Param-Region` header; the request says `eu-west`"
    );
    let resp = post(
        &airlock,
        &call,
        &[
            ("mcp-method", "tools/call"),
            ("mcp-name", "deploy"),
            ("mcp-param-region", "eu-west"),
        ],
    )
    .await;
    let msg = answer(resp).await;
    assert_eq!(text_of(&msg), "deployed app:2 to eu-west", "{msg}");
}
