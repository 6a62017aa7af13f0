//! A raw Streamable HTTP agent: the JSON-RPC an attacker would send, byte for byte, with no SDK
//! in the way.

use anyhow::{Context, Result};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What a POST got back.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    /// The JSON-RPC messages of the body (a JSON body, or an SSE stream's events).
    pub messages: Vec<Value>,
}

impl Answer {
    /// The response with id `id`.
    pub fn response(&self, id: &Value) -> Option<&Value> {
        self.messages
            .iter()
            .find(|m| m.get("id") == Some(id) && m.get("method").is_none())
    }

    /// The first message with an `error`.
    pub fn error(&self) -> Option<&Value> {
        self.messages.iter().find_map(|m| m.get("error"))
    }
}

/// One agent session (or none yet) against `url`.
#[derive(Debug, Clone)]
pub struct RawAgent {
    pub http: reqwest::Client,
    pub url: String,
    pub session: Option<String>,
    pub token: Option<String>,
}

impl RawAgent {
    pub fn new(url: &str) -> RawAgent {
        RawAgent {
            http: reqwest::Client::new(),
            url: url.to_owned(),
            session: None,
            token: None,
        }
    }

    /// `initialize` (at `version`) and `notifications/initialized`; keeps the session id.
    pub async fn initialize(&mut self, version: &str) -> Result<Value> {
        let answer = self
            .post(&json!({
                "jsonrpc": "2.0", "id": "init", "method": "initialize",
                "params": {
                    "protocolVersion": version,
                    "capabilities": {},
                    "clientInfo": {"name": "raw-agent", "version": "1"}
                }
            }))
            .await?;
        let result = answer
            .response(&json!("init"))
            .and_then(|r| r.get("result"))
            .cloned()
            .with_context(|| format!("initialize failed: {answer:?}"))?;
        self.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(result)
    }

    /// A POST with the usual headers (and the session id, once there is one).
    pub fn request(&self, body: &Value) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(session) = &self.session {
            request = request.header("mcp-session-id", session);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    /// POSTs `body` and reads the whole answer. Keeps a new session id.
    pub async fn post(&mut self, body: &Value) -> Result<Answer> {
        let response = self.request(body).send().await?;
        if let Some(id) = response.headers().get("mcp-session-id") {
            self.session = Some(id.to_str()?.to_owned());
        }
        read(response).await
    }

    /// A `tools/call` with id `id`.
    pub async fn call(&mut self, id: Value, tool: &str, arguments: Value) -> Result<Answer> {
        self.post(&call(id, tool, arguments)).await
    }

    /// DELETE the session.
    pub async fn delete(&self) -> Result<StatusCode> {
        let mut request = self.http.delete(&self.url);
        if let Some(session) = &self.session {
            request = request.header("mcp-session-id", session);
        }
        Ok(request.send().await?.status())
    }
}

/// The body of a `tools/call`.
pub fn call(id: Value, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
}

/// Reads a response's status and messages.
pub async fn read(response: reqwest::Response) -> Result<Answer> {
    let status = response.status();
    let text = response.text().await?;
    Ok(Answer {
        status,
        messages: airlock_testkit::mcp_http::answer_messages(&text),
    })
}
