//! [`ProxyConfig`]: the relay's settings and their documented defaults.

use std::time::Duration;

use crate::security::SecurityConfig;

/// Settings of the relay. `Default` gives the documented defaults.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// Largest accepted POST body; larger gets 413. Default 4 MiB.
    pub max_body_bytes: usize,
    /// Trusted non-loopback `Host`/`Origin` values (DNS-rebinding protection).
    pub security: SecurityConfig,
    /// Interval of SSE comment keep-alives (`: keep-alive`). Default 15 s.
    pub keep_alive: Duration,
    /// Events each stream keeps for `Last-Event-ID` resumption and for a GET stream not yet
    /// open. Default 256.
    pub replay_buffer: usize,
    /// First delay before reconnecting to a dead upstream; doubles up to `reconnect_max`.
    pub reconnect_initial: Duration,
    pub reconnect_max: Duration,
    /// A Streamable HTTP session that has seen no request for this long, holds no stream open
    /// and has nothing in flight is closed (its upstream connection, e.g. a stdio child, ends).
    /// The agent then gets 404 and starts a new session, as the spec asks. Default 30 minutes.
    pub session_idle_timeout: Duration,
    /// How long a forwarded request may wait for the upstream's answer before the agent gets an
    /// error, the upstream `notifications/cancelled`, and a call's history `timeout`. Progress
    /// from the server (or a request of the server's the agent has not answered yet) gives it
    /// another `request_timeout`, up to `max_request_time`. Default 5 minutes.
    pub request_timeout: Duration,
    /// The longest any forwarded request may take, progress or not (also the bound of
    /// long-lived requests such as `tasks/result`). Default 30 minutes.
    pub max_request_time: Duration,
    /// How long an agent may take to send a request body; a slower body is cut off (408).
    /// Default 30 s.
    pub body_timeout: Duration,
    /// Most sessions one server may have at once (each may be a child process): a new one
    /// beyond gets HTTP 503. Default 64.
    pub max_sessions_per_server: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            security: SecurityConfig::default(),
            keep_alive: Duration::from_secs(15),
            replay_buffer: 256,
            reconnect_initial: Duration::from_millis(200),
            reconnect_max: Duration::from_secs(10),
            session_idle_timeout: Duration::from_secs(30 * 60),
            request_timeout: Duration::from_secs(5 * 60),
            max_request_time: Duration::from_secs(30 * 60),
            body_timeout: Duration::from_secs(30),
            max_sessions_per_server: 64,
        }
    }
}
