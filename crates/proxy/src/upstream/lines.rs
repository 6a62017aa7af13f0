//! Line-delimited JSON over any byte stream: one JSON-RPC message per line, as MCP's stdio
//! transport frames it. The stdio child transport builds on this; the gate uses it for in-process
//! servers over `tokio::io::duplex`.
//!
//! Lines may be large (base64 images), so the reader accepts up to [`MAX_LINE`] bytes; a trailing
//! `\r` is stripped; blank lines are skipped. A line that is not JSON is logged and skipped, not
//! fatal: a server that prints junk on stdout should not take the session down with it.

use std::sync::Arc;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::UpstreamLink;

/// The longest line accepted from a server (64 MiB). Longer lines end the connection.
pub const MAX_LINE: usize = 64 * 1024 * 1024;

/// Capacity of each direction's channel.
const CHANNEL: usize = 64;

/// Turns a byte stream pair into an [`UpstreamLink`]. Spawns a reader and a writer task; the
/// connection ends when the reader hits end of file or an error, or when `to_server` is dropped
/// (which closes the writer).
pub fn link<R, W>(name: &str, reader: R, writer: W) -> UpstreamLink
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (link, _reader, _writer) = spawn(name, reader, writer);
    link
}

/// Like [`link`], also returning the reader and writer tasks so a transport can supervise them.
pub(crate) fn spawn<R, W>(
    name: &str,
    reader: R,
    writer: W,
) -> (UpstreamLink, JoinHandle<()>, JoinHandle<()>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let name: Arc<str> = Arc::from(name);
    let (to_server, mut outbox) = mpsc::channel::<Value>(CHANNEL);
    let (inbox, from_server) = mpsc::channel::<Value>(CHANNEL);

    let wname = name.clone();
    let writer_task = tokio::spawn(async move {
        let mut writer = writer;
        while let Some(msg) = outbox.recv().await {
            let mut bytes = match serde_json::to_vec(&msg) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(server = %wname, error = %e, "cannot encode a message");
                    continue;
                }
            };
            bytes.push(b'\n');
            if let Err(e) = async {
                writer.write_all(&bytes).await?;
                writer.flush().await
            }
            .await
            {
                tracing::debug!(server = %wname, error = %e, "upstream input closed");
                break;
            }
        }
        // Dropping the writer closes the server's input: its cue to exit.
        let _ = writer.shutdown().await;
    });

    let reader_task = tokio::spawn(async move {
        let mut reader = BufReader::with_capacity(64 * 1024, reader);
        let mut line = Vec::with_capacity(4096);
        loop {
            line.clear();
            match read_line(&mut reader, &mut line).await {
                Ok(0) => {
                    tracing::debug!(server = %name, "upstream output ended");
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(server = %name, error = %e, "cannot read from upstream");
                    break;
                }
            }
            let mut text: &[u8] = &line;
            while let Some((last, rest)) = text.split_last() {
                if matches!(last, b'\n' | b'\r') {
                    text = rest
                } else {
                    break;
                }
            }
            if text.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Value>(text) {
                Ok(msg) => {
                    if inbox.send(msg).await.is_err() {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(server = %name, error = %e, "upstream wrote a line that is not JSON; skipped");
                }
            }
        }
    });

    (
        UpstreamLink {
            to_server,
            from_server,
        },
        reader_task,
        writer_task,
    )
}

/// Reads one line (through `\n`) into `buf`, refusing lines longer than [`MAX_LINE`].
async fn read_line<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(buf.len());
        }
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let n = chunk.len();
        if buf.len() + n > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("line longer than {MAX_LINE} bytes"),
            ));
        }
        buf.extend_from_slice(chunk);
        reader.consume(n);
        if done {
            return Ok(buf.len());
        }
    }
}
