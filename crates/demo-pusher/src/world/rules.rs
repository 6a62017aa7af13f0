//! Pusher's limits and naming rules, checked before anything changes.

use crate::error::Error;

/// How many recorded events the world keeps; older ones are dropped first.
pub const EVENT_LOG_CAPACITY: usize = 1000;
/// Pusher's limit on an event payload, in bytes.
pub const MAX_DATA_BYTES: usize = 10 * 1024;
/// Pusher's limit on channels named in one trigger.
pub const MAX_CHANNELS_PER_TRIGGER: usize = 100;
/// Pusher's limit on events in one batch.
pub const MAX_BATCH_EVENTS: usize = 10;
/// Pusher's limit on channel and event names.
pub const MAX_NAME_CHARS: usize = 200;

/// `true` for `presence-` channels.
#[must_use]
pub fn is_presence(channel: &str) -> bool {
    channel.starts_with("presence-")
}

pub(super) fn check_event(
    channel: &str,
    name: &str,
    data: &str,
    socket_id: Option<&str>,
) -> Result<(), Error> {
    validate_channel(channel)?;
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(Error::InvalidEventName { name: name.into() });
    }
    if data.len() > MAX_DATA_BYTES {
        return Err(Error::DataTooLarge { size: data.len() });
    }
    if let Some(socket_id) = socket_id {
        validate_socket_id(socket_id)?;
    }
    Ok(())
}

/// Pusher's channel name rule: 1 to 200 of `A-Z a-z 0-9 _ - = @ , . ;`.
///
/// # Errors
/// The name breaks the rule.
pub fn validate_channel(name: &str) -> Result<(), Error> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"_-=@,.;".contains(&b);
    if name.is_empty() || !name.bytes().all(allowed) {
        return Err(Error::InvalidChannelName { name: name.into() });
    }
    if name.len() > MAX_NAME_CHARS {
        return Err(Error::ChannelNameTooLong { name: name.into() });
    }
    Ok(())
}

/// Pusher's socket id rule: digits, a dot, digits (`123.456`).
///
/// # Errors
/// The socket id breaks the rule.
pub fn validate_socket_id(socket_id: &str) -> Result<(), Error> {
    let valid = socket_id.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.bytes().all(|c| c.is_ascii_digit())
            && b.bytes().all(|c| c.is_ascii_digit())
    });
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidSocketId {
            socket_id: socket_id.into(),
        })
    }
}
