//! The app the world simulates and what its operations report.

/// The Pusher app the world simulates: its credentials and cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// The app id, as in the Pusher dashboard.
    pub id: String,
    /// The public key clients connect with; the first half of every `auth` string.
    pub key: String,
    /// The secret that signs channel authorizations.
    pub secret: String,
    /// The cluster, e.g. `eu`.
    pub cluster: String,
}

impl App {
    /// The demo app's made-up credentials. They belong to no real Pusher account; they are
    /// fixed so signatures are reproducible.
    #[must_use]
    pub fn demo() -> Self {
        Self {
            id: "1843027".into(),
            key: "7c1f4e9a2b6d08e35f1a".into(),
            secret: "d41a9c3e07b25f86e1c9".into(),
            cluster: "eu".into(),
        }
    }
}

/// What the Pusher API reports about one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelInfo {
    /// At least one connection is subscribed.
    pub occupied: bool,
    /// Connections subscribed.
    pub subscription_count: usize,
    /// Distinct users subscribed; `None` for channels that are not presence channels.
    pub user_count: Option<usize>,
}

/// One event as the world recorded it (one record per channel it was sent to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Position in the world's event log, counting from 1.
    pub seq: u64,
    /// The channel it was sent to.
    pub channel: String,
    /// The event name.
    pub name: String,
    /// The payload as Pusher carries it: a string (objects are sent as their JSON text).
    pub data: String,
    /// The connection excluded from delivery, if the sender named one.
    pub excluded_socket: Option<String>,
}

/// One event of a batch, for [`World::trigger_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchEvent<'a> {
    /// Target channel.
    pub channel: &'a str,
    /// Event name.
    pub name: &'a str,
    /// Payload text.
    pub data: &'a str,
    /// Connection to exclude from delivery.
    pub socket_id: Option<&'a str>,
}
