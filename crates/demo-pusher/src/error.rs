//! The crate's one error type: what the simulated Pusher API refuses.
//!
//! These are the failures the real Pusher HTTP API or its Node library would report after the
//! MCP server's own input validation passed (a channel name with forbidden characters, a bad
//! socket id, a payload over 10 KB). The tools layer shows them to the agent as
//! `isError` results prefixed the way the real server prefixes them
//! (`Failed to trigger event: ...`).

/// A request the simulated Pusher app refuses. Nothing in the world changes when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The channel name has characters Pusher does not allow (`A-Z a-z 0-9 _ - = @ , . ;`).
    #[error("invalid channel name `{name}`: only letters, digits and `_-=@,.;` are allowed")]
    InvalidChannelName {
        /// The rejected name.
        name: String,
    },
    /// The channel name is longer than Pusher's 200 characters.
    #[error("channel name `{name}` is longer than 200 characters")]
    ChannelNameTooLong {
        /// The rejected name.
        name: String,
    },
    /// A socket id is not of the form `1234.5678`.
    #[error(
        "invalid socket id `{socket_id}`: expected two numbers joined by a dot, like `123.456`"
    )]
    InvalidSocketId {
        /// The rejected socket id.
        socket_id: String,
    },
    /// An event name is empty or longer than 200 characters.
    #[error("event name `{name}` must be 1 to 200 characters long")]
    InvalidEventName {
        /// The rejected event name.
        name: String,
    },
    /// The event payload is over Pusher's 10 KB limit (the API answers 413).
    #[error("event data is {size} bytes, over the 10240 byte limit (Pusher answers 413)")]
    DataTooLarge {
        /// Size of the payload in bytes, as sent.
        size: usize,
    },
    /// An event was sent to more channels than Pusher allows in one call.
    #[error("cannot trigger an event on {count} channels, the limit is 100")]
    TooManyChannels {
        /// How many channels were named.
        count: usize,
    },
    /// A batch holds more events than Pusher allows in one call.
    #[error("a batch holds {count} events, the limit is 10")]
    BatchTooLarge {
        /// How many events the batch held.
        count: usize,
    },
    /// A `private-encrypted-` channel needs an encryption master key this demo app does not have.
    #[error(
        "cannot authorize encrypted channel `{channel}`: this app has no encryption master key"
    )]
    EncryptedChannel {
        /// The channel that was asked for.
        channel: String,
    },
    /// `user_count` was asked for a channel that is not a presence channel (the API answers 400).
    #[error("user_count is only available for presence channels, not `{channel}`")]
    UserCountNeedsPresence {
        /// The channel or prefix that was asked for.
        channel: String,
    },
    /// A socket id is already connected (connections are set up with [`crate::World::connect`]).
    #[error("socket `{socket_id}` is already connected")]
    SocketInUse {
        /// The socket id that is taken.
        socket_id: String,
    },
    /// A connection without a user tried to join a presence channel.
    #[error("socket `{socket_id}` has no user, so it cannot join presence channel `{channel}`")]
    AnonymousPresence {
        /// The socket without a user.
        socket_id: String,
        /// The presence channel it tried to join.
        channel: String,
    },
    /// A presence operation named a channel that is not a presence channel.
    #[error("`{channel}` is not a presence channel")]
    NotPresence {
        /// The channel that was asked for.
        channel: String,
    },
}

impl Error {
    /// The HTTP status the real Pusher API answers for this refusal, where the API (rather than
    /// the Node library, before any request) is the one that refuses.
    #[must_use]
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::DataTooLarge { .. } => Some(413),
            Self::UserCountNeedsPresence { .. } | Self::NotPresence { .. } => Some(400),
            Self::InvalidChannelName { .. }
            | Self::ChannelNameTooLong { .. }
            | Self::InvalidSocketId { .. }
            | Self::InvalidEventName { .. }
            | Self::SocketInUse { .. }
            | Self::AnonymousPresence { .. }
            | Self::TooManyChannels { .. }
            | Self::BatchTooLarge { .. }
            | Self::EncryptedChannel { .. } => None,
        }
    }
}
