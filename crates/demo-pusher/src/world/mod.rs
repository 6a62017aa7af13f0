//! The simulated Pusher Channels app: connections, channels, presence members, recorded events.
//!
//! One [`World`] is shared by every MCP session (behind an `Arc`), so what one agent does is
//! what the next one sees: after `terminate_user_connections u-42`, `u-42` is gone from every
//! presence channel and the channel counts drop, for everyone.
//!
//! The model follows Pusher's own: a *connection* (socket id `123.456`) may belong to a user and
//! subscribes to channels; a channel exists while at least one connection is subscribed
//! (`occupied`); `subscription_count` counts connections, a presence channel's `user_count` counts
//! distinct users. Events sent by the tools are recorded (the latest [`EVENT_LOG_CAPACITY`]) so
//! a test or the UI can show them; there are no real subscribers to deliver them to.
//!
//! Everything is ordered (`BTreeMap`), nothing is random: the same calls give the same results,
//! so tests can assert on exact text. Every operation takes the lock once, does a few map
//! lookups and returns; nothing blocks or awaits while it is held.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};

use crate::auth::{self, ChannelAuth};
use crate::error::Error;

mod rules;
mod types;

use rules::check_event;
pub use rules::{
    EVENT_LOG_CAPACITY, MAX_BATCH_EVENTS, MAX_CHANNELS_PER_TRIGGER, MAX_DATA_BYTES, MAX_NAME_CHARS,
    is_presence, validate_channel, validate_socket_id,
};
pub use types::{App, BatchEvent, ChannelInfo, RecordedEvent};

/// A simulated Pusher Channels app, shared by all sessions.
#[derive(Debug)]
pub struct World {
    app: App,
    state: Mutex<State>,
}

/// Socket id, user (id, name), channels.
type SeedConnection = (
    &'static str,
    Option<(&'static str, &'static str)>,
    &'static [&'static str],
);

#[derive(Debug, Default)]
struct State {
    sockets: BTreeMap<String, Socket>,
    channels: BTreeMap<String, Channel>,
    events: VecDeque<RecordedEvent>,
    next_seq: u64,
}

#[derive(Debug)]
struct Socket {
    user_id: Option<String>,
    channels: BTreeSet<String>,
}

#[derive(Debug, Default)]
struct Channel {
    sockets: BTreeSet<String>,
    /// Presence channels only: user id -> (user info, connections of that user subscribed).
    members: BTreeMap<String, (Value, usize)>,
}

impl World {
    /// An app with no connections.
    #[must_use]
    pub fn new(app: App) -> Self {
        Self {
            app,
            state: Mutex::new(State::default()),
        }
    }

    /// The demo app, seeded with believable traffic:
    ///
    /// | socket     | user                | channels |
    /// |------------|---------------------|----------|
    /// | `123.456`  | `u-42` Ada          | presence-lobby, chat-general, news |
    /// | `123.457`  | `u-42` Ada (2nd tab)| presence-lobby, presence-support, private-orders |
    /// | `231.1001` | `u-7` Linus         | presence-lobby, chat-general |
    /// | `231.1002` | `u-99` Grace        | presence-lobby, presence-support, private-admin-billing |
    /// | `318.2001` | `u-13` Margaret     | presence-support, private-orders, news |
    /// | `402.77`   | (anonymous)         | news, chat-general |
    /// | `402.78`   | (anonymous)         | news |
    /// | `519.3`    | `u-5` Alan          | private-admin-billing, chat-general |
    ///
    /// So `presence-lobby` has users u-42, u-7, u-99 on 4 connections.
    #[must_use]
    pub fn demo() -> Self {
        let world = Self::new(App::demo());
        let seed: [SeedConnection; 8] = [
            (
                "123.456",
                Some(("u-42", "Ada")),
                &["presence-lobby", "chat-general", "news"],
            ),
            (
                "123.457",
                Some(("u-42", "Ada")),
                &["presence-lobby", "presence-support", "private-orders"],
            ),
            (
                "231.1001",
                Some(("u-7", "Linus")),
                &["presence-lobby", "chat-general"],
            ),
            (
                "231.1002",
                Some(("u-99", "Grace")),
                &[
                    "presence-lobby",
                    "presence-support",
                    "private-admin-billing",
                ],
            ),
            (
                "318.2001",
                Some(("u-13", "Margaret")),
                &["presence-support", "private-orders", "news"],
            ),
            ("402.77", None, &["news", "chat-general"]),
            ("402.78", None, &["news"]),
            (
                "519.3",
                Some(("u-5", "Alan")),
                &["private-admin-billing", "chat-general"],
            ),
        ];
        for (socket_id, user, channels) in seed {
            let user = user.map(|(id, name)| (id, json!({ "name": name })));
            if let Err(error) = world.connect(socket_id, user, channels) {
                // The seed is fixed and valid; a failure here is a bug worth seeing in the log.
                tracing::error!(%error, socket_id, "demo seed connection refused");
            }
        }
        world
    }

    /// The app's id, key, secret and cluster.
    #[must_use]
    pub fn app(&self) -> &App {
        &self.app
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // No operation can leave the state half-changed (each checks before it mutates), so
        // a poisoned lock still guards consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Opens a connection `socket_id` for `user` (id and `user_info`) and subscribes it to
    /// `channels`. Presence channels need a user. Checks everything before changing anything.
    ///
    /// # Errors
    /// A malformed socket id or channel name, a socket id already connected, or a presence
    /// channel for a connection without a user.
    pub fn connect(
        &self,
        socket_id: &str,
        user: Option<(&str, Value)>,
        channels: &[&str],
    ) -> Result<(), Error> {
        validate_socket_id(socket_id)?;
        for channel in channels {
            validate_channel(channel)?;
            if user.is_none() && is_presence(channel) {
                return Err(Error::AnonymousPresence {
                    socket_id: socket_id.into(),
                    channel: (*channel).into(),
                });
            }
        }
        let mut state = self.state();
        if state.sockets.contains_key(socket_id) {
            return Err(Error::SocketInUse {
                socket_id: socket_id.into(),
            });
        }
        let (user_id, user_info) = match user {
            Some((id, info)) => (Some(id.to_owned()), info),
            None => (None, Value::Null),
        };
        let mut subscribed = BTreeSet::new();
        for &name in channels {
            if !subscribed.insert(name.to_owned()) {
                continue;
            }
            let channel = state.channels.entry(name.to_owned()).or_default();
            channel.sockets.insert(socket_id.to_owned());
            if let (true, Some(user_id)) = (is_presence(name), &user_id) {
                let member = channel
                    .members
                    .entry(user_id.clone())
                    .or_insert_with(|| (user_info.clone(), 0));
                member.1 += 1;
            }
        }
        state.sockets.insert(
            socket_id.to_owned(),
            Socket {
                user_id,
                channels: subscribed,
            },
        );
        Ok(())
    }

    /// Disconnects every connection of `user_id`, removing it from all channels and presence
    /// member lists, as `POST /users/{id}/terminate_connections` does. Returns how many
    /// connections were closed; an unknown user closes none and is not an error (like the API).
    pub fn terminate_user_connections(&self, user_id: &str) -> usize {
        let mut state = self.state();
        let doomed: Vec<String> = state
            .sockets
            .iter()
            .filter(|(_, socket)| socket.user_id.as_deref() == Some(user_id))
            .map(|(id, _)| id.clone())
            .collect();
        for socket_id in &doomed {
            let Some(socket) = state.sockets.remove(socket_id) else {
                continue;
            };
            for name in &socket.channels {
                let Some(channel) = state.channels.get_mut(name) else {
                    continue;
                };
                channel.sockets.remove(socket_id);
                if let Some(member) = channel.members.get_mut(user_id) {
                    member.1 = member.1.saturating_sub(1);
                    if member.1 == 0 {
                        channel.members.remove(user_id);
                    }
                }
                if channel.sockets.is_empty() {
                    state.channels.remove(name);
                }
            }
        }
        if !doomed.is_empty() {
            tracing::debug!(
                user_id,
                connections = doomed.len(),
                "terminated user connections"
            );
        }
        doomed.len()
    }

    /// The socket ids `user_id` is connected with, in order.
    #[must_use]
    pub fn user_connections(&self, user_id: &str) -> Vec<String> {
        self.state()
            .sockets
            .iter()
            .filter(|(_, socket)| socket.user_id.as_deref() == Some(user_id))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// What `GET /channels/{channel}` reports. A channel nobody is subscribed to is not an
    /// error: it is unoccupied, with zero counts.
    ///
    /// # Errors
    /// A malformed channel name.
    pub fn channel_info(&self, channel: &str) -> Result<ChannelInfo, Error> {
        validate_channel(channel)?;
        let state = self.state();
        Ok(info_of(channel, state.channels.get(channel)))
    }

    /// The occupied channels whose names start with `prefix` (all of them for `None`), in
    /// name order, as `GET /channels` lists them.
    #[must_use]
    pub fn channels(&self, prefix: Option<&str>) -> Vec<(String, ChannelInfo)> {
        let state = self.state();
        let prefix = prefix.unwrap_or("");
        state
            .channels
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, channel)| (name.clone(), info_of(name, Some(channel))))
            .collect()
    }

    /// The user ids on a presence channel, in order (`GET /channels/{channel}/users`). An
    /// unoccupied presence channel has none.
    ///
    /// # Errors
    /// A malformed channel name, or a channel that is not a presence channel.
    pub fn presence_users(&self, channel: &str) -> Result<Vec<String>, Error> {
        validate_channel(channel)?;
        if !is_presence(channel) {
            return Err(Error::NotPresence {
                channel: channel.into(),
            });
        }
        let state = self.state();
        Ok(state
            .channels
            .get(channel)
            .map(|c| c.members.keys().cloned().collect())
            .unwrap_or_default())
    }

    /// Sends one event to `channels` (`POST /events`): checks the names, the payload size
    /// and the socket id, then records one event per channel.
    ///
    /// # Errors
    /// More than 100 channels, a malformed channel name, event name or socket id, or a payload
    /// over 10 KB. Nothing is recorded then.
    pub fn trigger(
        &self,
        channels: &[&str],
        name: &str,
        data: &str,
        socket_id: Option<&str>,
    ) -> Result<(), Error> {
        if channels.len() > MAX_CHANNELS_PER_TRIGGER {
            return Err(Error::TooManyChannels {
                count: channels.len(),
            });
        }
        for channel in channels {
            check_event(channel, name, data, socket_id)?;
        }
        let mut state = self.state();
        for channel in channels {
            state.record(channel, name, data, socket_id);
        }
        Ok(())
    }

    /// Sends up to 10 events in one call (`POST /batch_events`), all or nothing.
    ///
    /// # Errors
    /// More than 10 events, or any event [`World::trigger`] would refuse. Nothing is recorded
    /// then.
    pub fn trigger_batch(&self, events: &[BatchEvent<'_>]) -> Result<(), Error> {
        if events.len() > MAX_BATCH_EVENTS {
            return Err(Error::BatchTooLarge {
                count: events.len(),
            });
        }
        for event in events {
            check_event(event.channel, event.name, event.data, event.socket_id)?;
        }
        let mut state = self.state();
        for event in events {
            state.record(event.channel, event.name, event.data, event.socket_id);
        }
        Ok(())
    }

    /// The recorded events, oldest first (at most [`EVENT_LOG_CAPACITY`]).
    #[must_use]
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.state().events.iter().cloned().collect()
    }

    /// The recorded events sent to `channel`, oldest first.
    #[must_use]
    pub fn events_on(&self, channel: &str) -> Vec<RecordedEvent> {
        self.state()
            .events
            .iter()
            .filter(|e| e.channel == channel)
            .cloned()
            .collect()
    }

    /// Signs a subscription of `socket_id` to a `private-` or `presence-` channel, as the
    /// Pusher server libraries' `authorizeChannel` does. `presence_data` (the member, e.g.
    /// `{"user_id":"u-42","user_info":{"name":"Ada"}}`) is serialized as compact JSON into
    /// `channel_data` and signed with it. Authorizing does not subscribe anyone.
    ///
    /// # Errors
    /// A malformed socket id or channel name, or a `private-encrypted-` channel (this app has
    /// no encryption master key).
    pub fn authorize_channel(
        &self,
        socket_id: &str,
        channel: &str,
        presence_data: Option<&Value>,
    ) -> Result<ChannelAuth, Error> {
        validate_socket_id(socket_id)?;
        validate_channel(channel)?;
        if channel.starts_with("private-encrypted-") {
            return Err(Error::EncryptedChannel {
                channel: channel.into(),
            });
        }
        let channel_data = presence_data.map(Value::to_string);
        let auth = auth::sign(
            &self.app.key,
            &self.app.secret,
            socket_id,
            channel,
            channel_data.as_deref(),
        );
        Ok(ChannelAuth { auth, channel_data })
    }
}

impl State {
    fn record(&mut self, channel: &str, name: &str, data: &str, socket_id: Option<&str>) {
        self.next_seq += 1;
        if self.events.len() == EVENT_LOG_CAPACITY {
            self.events.pop_front();
        }
        self.events.push_back(RecordedEvent {
            seq: self.next_seq,
            channel: channel.into(),
            name: name.into(),
            data: data.into(),
            excluded_socket: socket_id.map(Into::into),
        });
    }
}

fn info_of(name: &str, channel: Option<&Channel>) -> ChannelInfo {
    let subscription_count = channel.map_or(0, |c| c.sockets.len());
    ChannelInfo {
        occupied: subscription_count > 0,
        subscription_count,
        user_count: is_presence(name).then(|| channel.map_or(0, |c| c.members.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lobby(world: &World) -> ChannelInfo {
        world.channel_info("presence-lobby").unwrap()
    }

    #[test]
    fn the_demo_lobby_has_ada_linus_and_grace() {
        let world = World::demo();
        assert_eq!(
            world.presence_users("presence-lobby").unwrap(),
            ["u-42", "u-7", "u-99"]
        );
        assert_eq!(
            lobby(&world),
            ChannelInfo {
                occupied: true,
                subscription_count: 4,
                user_count: Some(3)
            }
        );
        assert_eq!(world.app().cluster, "eu");
    }

    #[test]
    fn terminate_removes_the_user_from_every_channel_and_updates_counts() {
        let world = World::demo();
        assert_eq!(world.user_connections("u-42"), ["123.456", "123.457"]);
        let support_before = world.channel_info("presence-support").unwrap();
        let orders_before = world.channel_info("private-orders").unwrap();

        assert_eq!(world.terminate_user_connections("u-42"), 2);

        assert!(world.user_connections("u-42").is_empty());
        assert_eq!(
            world.presence_users("presence-lobby").unwrap(),
            ["u-7", "u-99"]
        );
        assert_eq!(
            lobby(&world),
            ChannelInfo {
                occupied: true,
                subscription_count: 2,
                user_count: Some(2)
            }
        );
        let support = world.channel_info("presence-support").unwrap();
        assert_eq!(support.user_count, support_before.user_count.map(|n| n - 1));
        assert_eq!(
            support.subscription_count,
            support_before.subscription_count - 1
        );
        assert!(
            !world
                .presence_users("presence-support")
                .unwrap()
                .contains(&"u-42".into())
        );
        assert_eq!(
            world
                .channel_info("private-orders")
                .unwrap()
                .subscription_count,
            orders_before.subscription_count - 1
        );
        // Other users keep their connections.
        assert_eq!(world.user_connections("u-7"), ["231.1001"]);
    }

    #[test]
    fn a_channel_whose_last_connection_goes_is_no_longer_listed() {
        let world = World::demo();
        world
            .connect("900.1", Some(("u-1", json!({}))), &["presence-solo"])
            .unwrap();
        assert!(world.channels(Some("presence-solo")).len() == 1);
        world.terminate_user_connections("u-1");
        assert!(world.channels(Some("presence-solo")).is_empty());
        assert_eq!(
            world.channel_info("presence-solo").unwrap(),
            ChannelInfo {
                occupied: false,
                subscription_count: 0,
                user_count: Some(0)
            }
        );
    }

    #[test]
    fn terminating_an_unknown_user_changes_nothing() {
        let world = World::demo();
        let before = world.channels(None);
        assert_eq!(world.terminate_user_connections("nobody"), 0);
        assert_eq!(world.channels(None), before);
    }

    #[test]
    fn channels_filter_by_prefix_in_name_order() {
        let world = World::demo();
        let names: Vec<String> = world
            .channels(Some("presence-"))
            .into_iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(names, ["presence-lobby", "presence-support"]);
        let all: Vec<String> = world.channels(None).into_iter().map(|c| c.0).collect();
        assert_eq!(
            all,
            [
                "chat-general",
                "news",
                "presence-lobby",
                "presence-support",
                "private-admin-billing",
                "private-orders"
            ]
        );
        assert_eq!(world.channel_info("news").unwrap().user_count, None);
        assert_eq!(world.channel_info("news").unwrap().subscription_count, 4);
    }

    #[test]
    fn trigger_records_one_event_per_channel_and_refuses_bad_input_whole() {
        let world = World::demo();
        world
            .trigger(
                &["news", "chat-general"],
                "headline",
                "{\"t\":1}",
                Some("123.456"),
            )
            .unwrap();
        let events = world.events();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].channel, "news");
        assert_eq!(events[1].channel, "chat-general");
        assert_eq!(events[1].seq, 2);
        assert_eq!(events[0].excluded_socket.as_deref(), Some("123.456"));

        let big = "x".repeat(MAX_DATA_BYTES + 1);
        assert_eq!(
            world.trigger(&["news"], "e", &big, None),
            Err(Error::DataTooLarge {
                size: MAX_DATA_BYTES + 1
            })
        );
        assert!(matches!(
            world.trigger(&["news", "bad channel"], "e", "d", None),
            Err(Error::InvalidChannelName { .. })
        ));
        assert!(matches!(
            world.trigger(&["news"], "e", "d", Some("abc")),
            Err(Error::InvalidSocketId { .. })
        ));
        let many: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            world.trigger(&many, "e", "d", None),
            Err(Error::TooManyChannels { count: 101 })
        );
        assert_eq!(world.events().len(), 2, "refused triggers record nothing");
    }

    #[test]
    fn a_batch_is_all_or_nothing() {
        let world = World::demo();
        let ok = BatchEvent {
            channel: "news",
            name: "a",
            data: "1",
            socket_id: None,
        };
        let bad = BatchEvent {
            channel: "no spaces",
            ..ok
        };
        assert!(world.trigger_batch(&[ok, bad]).is_err());
        assert!(world.events().is_empty());
        assert_eq!(
            world.trigger_batch(&[ok; 11]),
            Err(Error::BatchTooLarge { count: 11 })
        );
        world.trigger_batch(&[ok, ok]).unwrap();
        assert_eq!(world.events_on("news").len(), 2);
    }

    #[test]
    fn the_event_log_keeps_the_latest_events() {
        let world = World::new(App::demo());
        for _ in 0..EVENT_LOG_CAPACITY + 5 {
            world.trigger(&["news"], "tick", "", None).unwrap();
        }
        let events = world.events();
        assert_eq!(events.len(), EVENT_LOG_CAPACITY);
        assert_eq!(events[0].seq, 6);
    }

    #[test]
    fn authorize_signs_with_the_app_secret() {
        let world = World::new(App {
            id: "1".into(),
            key: "278d425bdf160c739803".into(),
            secret: "7ad3773142a6692b25b8".into(),
            cluster: "eu".into(),
        });
        let auth = world
            .authorize_channel("1234.1234", "private-foobar", None)
            .unwrap();
        assert_eq!(
            auth.auth,
            "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        );
        assert_eq!(auth.channel_data, None);

        let member = json!({"user_id": 10, "user_info": {"name": "Mr. Channels"}});
        let auth = world
            .authorize_channel("1234.1234", "presence-foobar", Some(&member))
            .unwrap();
        assert_eq!(
            auth.channel_data.as_deref(),
            Some(r#"{"user_id":10,"user_info":{"name":"Mr. Channels"}}"#)
        );
        // Python hmac, see auth.rs.
        assert!(
            auth.auth
                .ends_with("31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80")
        );

        assert!(matches!(
            world.authorize_channel("nope", "private-foobar", None),
            Err(Error::InvalidSocketId { .. })
        ));
        assert!(matches!(
            world.authorize_channel("1.2", "private-encrypted-x", None),
            Err(Error::EncryptedChannel { .. })
        ));
    }

    #[test]
    fn connect_checks_before_it_changes_anything() {
        let world = World::demo();
        assert_eq!(
            world.connect("123.456", None, &["news"]),
            Err(Error::SocketInUse {
                socket_id: "123.456".into()
            })
        );
        assert!(matches!(
            world.connect("1.1", None, &["news", "presence-lobby"]),
            Err(Error::AnonymousPresence { .. })
        ));
        assert_eq!(world.channel_info("news").unwrap().subscription_count, 4);
        assert!(matches!(
            world.connect("1.1", None, &["x".repeat(201).as_str()]),
            Err(Error::ChannelNameTooLong { .. })
        ));
    }

    #[test]
    fn presence_queries_need_a_presence_channel() {
        let world = World::demo();
        assert_eq!(
            world.presence_users("news"),
            Err(Error::NotPresence {
                channel: "news".into()
            })
        );
        assert!(world.presence_users("presence-empty").unwrap().is_empty());
    }
}
