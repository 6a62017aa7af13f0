//! The stdio bridge behind `airlock connect <server>`: for agents that can only launch a command,
//! it speaks MCP's stdio framing on one side and an [`UpstreamLink`] (normally the Streamable HTTP
//! link to Airlock's own `/mcp/<server>`) on the other.
//!
//! Framing: one JSON message per line, `\n`-terminated, a trailing `\r` stripped, no length limit
//! (tool results with base64 images are large). A line that is not JSON is answered with a
//! JSON-RPC parse error (-32700, id `null`) and the bridge keeps going; valid JSON that cannot be a
//! JSON-RPC message (a number, a string) gets -32600. Stdout carries nothing but MCP messages: the
//! bridge logs through `tracing`, which the binary must point at stderr.
//!
//! Lifetime: the bridge ends when the agent closes stdin or stdout (the agent exited): the link is
//! then closed and waited for ([`UpstreamLink::close`]), which ends the session behind it (DELETE
//! for the gate's HTTP endpoint) before the process exits. It also ends when the link closes (an
//! error, so the agent sees the process fail rather than hang).

use std::io;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

use crate::upstream::UpstreamLink;

/// Relays line-delimited JSON between `stdin`/`stdout` and `link` until either side ends.
///
/// Returns `Ok(())` when stdin reached its end, an error when the upstream link closed or stdio
/// failed.
pub async fn run_stdio<R, W>(mut link: UpstreamLink, stdin: R, stdout: W) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let result = relay(&mut link, stdin, stdout).await;
    if !matches!(&result, Err(e) if e.kind() == io::ErrorKind::ConnectionAborted) {
        // The agent is done (stdin or stdout closed): end the session behind the link.
        link.close(CLOSE_WITHIN).await;
    }
    result
}

/// How long ending the session may take when the agent is done.
const CLOSE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

async fn relay<R, W>(link: &mut UpstreamLink, stdin: R, stdout: W) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let UpstreamLink {
        to_server,
        from_server,
    } = link;
    let mut stdin = BufReader::new(stdin);
    let mut stdout = stdout;
    // Kept across loop turns: `read_until` appends, so a read interrupted by the other branch of
    // the select resumes where it stopped.
    let mut line = Vec::new();
    loop {
        tokio::select! {
            read = stdin.read_until(b'\n', &mut line) => {
                if read? == 0 {
                    tracing::debug!("stdin closed; ending the bridge");
                    return Ok(());
                }
                match parse_line(&line) {
                    Parsed::Empty => {}
                    Parsed::Message(msg) => {
                        if to_server.send(msg).await.is_err() {
                            return Err(upstream_closed());
                        }
                    }
                    Parsed::Reply(error) => write_message(&mut stdout, &error).await?,
                }
                line.clear();
            }
            msg = from_server.recv() => match msg {
                Some(msg) => write_message(&mut stdout, &msg).await?,
                None => return Err(upstream_closed()),
            },
        }
    }
}

fn upstream_closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the upstream connection closed",
    )
}

enum Parsed {
    Empty,
    Message(Value),
    /// An error to write back to the agent instead of forwarding.
    Reply(Value),
}

fn parse_line(line: &[u8]) -> Parsed {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Parsed::Empty;
    }
    match serde_json::from_slice::<Value>(line) {
        Ok(msg @ (Value::Object(_) | Value::Array(_))) => Parsed::Message(msg),
        Ok(_) => Parsed::Reply(error_reply(
            -32600,
            "invalid request: not a JSON-RPC message",
        )),
        Err(e) => {
            tracing::warn!(error = %e, "agent sent a line that is not JSON");
            Parsed::Reply(error_reply(-32700, &format!("parse error: {e}")))
        }
    }
}

fn error_reply(code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}})
}

async fn write_message<W: AsyncWrite + Unpin>(stdout: &mut W, msg: &Value) -> io::Result<()> {
    // serde_json escapes newlines inside strings, so one message is always one line.
    let mut bytes = serde_json::to_vec(msg).map_err(io::Error::other)?;
    bytes.push(b'\n');
    stdout.write_all(&bytes).await?;
    stdout.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_parsed_with_crlf_and_blank_lines_skipped() {
        assert!(matches!(parse_line(b"\r\n"), Parsed::Empty));
        assert!(
            matches!(parse_line(b"{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\r\n"), Parsed::Message(m) if m["method"] == "x")
        );
    }

    #[test]
    fn garbage_gets_a_parse_error_and_scalars_an_invalid_request() {
        let Parsed::Reply(reply) = parse_line(b"{not json\n") else {
            unreachable!("garbage must be answered")
        };
        assert_eq!(reply["error"]["code"], -32700);
        assert_eq!(reply["id"], Value::Null);
        let Parsed::Reply(reply) = parse_line(b"42\n") else {
            unreachable!("a number must be answered")
        };
        assert_eq!(reply["error"]["code"], -32600);
    }
}
