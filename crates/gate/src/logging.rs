//! Logs, for the `airlock` binary and the desktop app alike: to stderr (stdout belongs to MCP
//! messages in `airlock connect`), filtered by `AIRLOCK_LOG`, and **redacted** like history.
//!
//! Log lines carry what servers and agents send (a stdio server's stderr, an upstream's error
//! text, a URL with a token in it): every line passes through the store's [`Redactor`] before it
//! is written, at every level. Until a gate is built, the built-in rules apply; [`use_redactor`]
//! adds the config's own (`gate.redact`).

use std::io::{self, Write};
use std::sync::{Arc, RwLock};

use airlock_store::Redactor;
use tracing_subscriber::fmt::MakeWriter;

static REDACTOR: RwLock<Option<Arc<Redactor>>> = RwLock::new(None);

/// Starts logging to stderr with `default_filter` unless `AIRLOCK_LOG` says otherwise. A second
/// call does nothing.
pub fn init(default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AIRLOCK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactedStderr)
        .try_init();
}

/// Redacts log lines with `redactor` from now on (the gate's, with the config's extra rules).
pub fn use_redactor(redactor: Redactor) {
    *REDACTOR.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(redactor));
}

fn redactor() -> Arc<Redactor> {
    if let Some(r) = REDACTOR.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
        return r.clone();
    }
    let mut slot = REDACTOR.write().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert_with(|| Arc::new(Redactor::default()))
        .clone()
}

/// Hands each log event a buffer that is redacted and written to stderr when the event is done.
#[derive(Debug, Clone, Copy)]
struct RedactedStderr;

impl<'a> MakeWriter<'a> for RedactedStderr {
    type Writer = RedactedLine;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedLine(Vec::with_capacity(256))
    }
}

/// One log event's text.
#[derive(Debug)]
struct RedactedLine(Vec<u8>);

impl Write for RedactedLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for RedactedLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.0);
        let clean = redactor().redact_str(&text).into_owned();
        let _ = io::stderr().lock().write_all(clean.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_line_is_redacted_before_it_is_written() {
        let text =
            "upstream said: Authorization: Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789\n";
        let clean = redactor().redact_str(text).into_owned();
        assert!(!clean.contains("ghp_abc"), "{clean}");
        assert!(clean.starts_with("upstream said"), "{clean}");
    }
}
