//! `airlock call <server> <tool> [key=value …]`: a small MCP client that goes through the running
//! gate, so users can try a policy (and an approval) without an agent.
//!
//! It authenticates with the local API token (grant `cli`) unless `--token` is given, asks for
//! progress so a call waiting for approval is held until a human decides, and prints the result,
//! or the denial, as the agent would see it.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use super::gate_client::{GateArgs, bearer};

/// Call a tool through the running gate and print the result (without a tool: list the tools).
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The server name from the gate's config (e.g. `pusher`).
    pub server: String,
    /// The tool to call. Without it, the tools the gate lets this client see are listed.
    pub tool: Option<String>,
    /// Arguments: `key=value` (a string) or `key:=json` (a number, boolean, array or object).
    #[arg(value_name = "KEY=VALUE")]
    pub pairs: Vec<String>,
    /// All arguments as one JSON object (merged under the key=value pairs).
    #[arg(long, value_name = "JSON")]
    pub args: Option<String>,
    /// Grant token to call as (default: the local API token, grant `cli`).
    #[arg(long, env = "AIRLOCK_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the whole JSON-RPC result instead of its text.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub gate: GateArgs,
}

/// Builds the arguments object from `--args` and `key=value` / `key:=json` pairs.
pub fn parse_arguments(json_args: Option<&str>, pairs: &[String]) -> anyhow::Result<Value> {
    let mut object = match json_args {
        Some(text) => match serde_json::from_str::<Value>(text)
            .with_context(|| format!("--args is not valid JSON: `{text}`"))?
        {
            Value::Object(map) => map,
            _ => bail!("--args must be a JSON object, like '{{\"userId\": \"u-42\"}}'"),
        },
        None => Map::new(),
    };
    for pair in pairs {
        if let Some((key, raw)) = pair.split_once(":=") {
            let value = serde_json::from_str(raw)
                .with_context(|| format!("`{pair}`: the value after `:=` must be JSON"))?;
            object.insert(key.to_string(), value);
        } else if let Some((key, value)) = pair.split_once('=') {
            object.insert(key.to_string(), Value::String(value.to_string()));
        } else {
            bail!("`{pair}` is not an argument; write `key=value` or `key:=json`");
        }
    }
    Ok(Value::Object(object))
}

pub fn run(args: CallArgs) -> anyhow::Result<ExitCode> {
    let arguments = parse_arguments(args.args.as_deref(), &args.pairs)?;
    let address = args.gate.locate()?;
    let token = args.token.clone().or(address.api_token.clone());
    let url = format!("{}/mcp/{}", address.base_url, args.server);
    let headers = bearer(token.as_deref())?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut link = airlock_proxy::upstream::http::connect_agent(&url, &headers)
            .await
            .with_context(|| format!("cannot reach the Airlock gate at {url}"))?;
        let result = session(&mut link, args.tool, arguments, args.json).await;
        // End the session (DELETE) before the process exits: otherwise its upstream (a stdio
        // server's process) keeps running until the session expires.
        link.close(Duration::from_secs(5)).await;
        result
    })
}

/// One session through the gate: initialize, then list the tools or call one.
async fn session(
    link: &mut airlock_proxy::UpstreamLink,
    tool: Option<String>,
    arguments: Value,
    json: bool,
) -> anyhow::Result<ExitCode> {
    {
        let mut client = Client { link, next_id: 1 };
        let init = client
            .request(
                "initialize",
                json!({
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "airlock-call", "version": env!("CARGO_PKG_VERSION")},
                }),
            )
            .await?;
        if let Some(error) = init.get("error") {
            bail!("the gate refused the session: {}", error_text(error));
        }
        client
            .notify("notifications/initialized", json!({}))
            .await?;
        let Some(tool) = tool else {
            let response = client.request("tools/list", json!({})).await?;
            if let Some(error) = response.get("error") {
                bail!("tools/list failed: {}", error_text(error));
            }
            let result = response.get("result").cloned().unwrap_or(Value::Null);
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                for tool in result
                    .get("tools")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = tool.get("name").and_then(Value::as_str).unwrap_or("?");
                    let description = tool
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    println!("{name:<28} {description}");
                }
            }
            return Ok(ExitCode::SUCCESS);
        };
        let response = client
            .request(
                "tools/call",
                json!({
                    "name": tool,
                    "arguments": arguments,
                    "_meta": {"progressToken": "airlock-call"},
                }),
            )
            .await?;
        if let Some(error) = response.get("error") {
            eprintln!("error: {}", error_text(error));
            return Ok(ExitCode::from(1));
        }
        let result = response.get("result").cloned().unwrap_or(Value::Null);
        let is_error = result.get("isError").and_then(Value::as_bool) == Some(true);
        if json {
            println!("{}", serde_json::to_string_pretty(&result)?);
        } else {
            for item in result
                .get("content")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let text = match item.get("type").and_then(Value::as_str) {
                    Some("text") => item
                        .get("text")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string(),
                    _ => serde_json::to_string(item)?,
                };
                if is_error {
                    eprintln!("{text}");
                } else {
                    println!("{text}");
                }
            }
        }
        Ok(if is_error {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}

fn error_text(error: &Value) -> String {
    error
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| error.to_string(), str::to_string)
}

struct Client<'a> {
    link: &'a mut airlock_proxy::UpstreamLink,
    next_id: u64,
}

impl Client<'_> {
    async fn notify(&mut self, method: &str, params: Value) -> anyhow::Result<()> {
        self.link
            .to_server
            .send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await
            .context("the gate closed the connection")
    }

    /// Sends a request and waits for its response, showing progress on stderr and declining
    /// requests from the server (this client offers no sampling, elicitation or roots).
    async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        self.link
            .to_server
            .send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await
            .context("the gate closed the connection")?;
        loop {
            let message =
                tokio::time::timeout(Duration::from_secs(24 * 3600), self.link.from_server.recv())
                    .await
                    .ok()
                    .flatten()
                    .context("the gate closed the connection before answering")?;
            if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
                return Ok(message);
            }
            match message.get("method").and_then(Value::as_str) {
                Some("notifications/progress") => {
                    if let Some(text) = message.pointer("/params/message").and_then(Value::as_str) {
                        eprintln!("… {text}");
                    }
                }
                Some(other) if message.get("id").is_some() => {
                    let reply = json!({
                        "jsonrpc": "2.0",
                        "id": message["id"],
                        "error": {"code": -32601, "message": format!("airlock call does not support `{other}`")},
                    });
                    let _ = self.link.to_server.send(reply).await;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_strings_unless_written_as_json() {
        let args = parse_arguments(
            Some(r#"{"a": 1}"#),
            &[
                "userId=u-42".into(),
                "count:=5".into(),
                "ok:=true".into(),
                "empty=".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            args,
            json!({"a": 1, "userId": "u-42", "count": 5, "ok": true, "empty": ""})
        );
    }

    #[test]
    fn bad_arguments_say_what_to_write() {
        assert!(
            parse_arguments(None, &["oops".into()])
                .unwrap_err()
                .to_string()
                .contains("key=value")
        );
        assert!(
            parse_arguments(Some("[1]"), &[])
                .unwrap_err()
                .to_string()
                .contains("JSON object")
        );
        assert!(
            parse_arguments(None, &["n:=nope".into()])
                .unwrap_err()
                .to_string()
                .contains("must be JSON")
        );
    }
}
