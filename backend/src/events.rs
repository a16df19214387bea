//! What changed in a domain, told to the parts that react to it.
//!
//! A service publishes an [`Event`] once; the directory (cache), the gateway
//! (sockets) and presence (watchers) subscribe at start-up, in one place
//! (`AppState::new`), instead of every handler calling each in turn.
//!
//! Dispatch is synchronous: every subscriber has run its in-memory part when
//! [`Events::publish`] returns (a removed device's socket is closed before
//! the handler answers). A subscriber that needs I/O (presence reads who may
//! see whom) hands back a [`Reaction`]; the publisher awaits them all with
//! [`Published::settled`], so its answer still comes after their effects.
//! Subscribers are kept per kind of event: publishing a kind nobody
//! subscribed to is an array index and an empty loop, no allocation.

use parley_protocol::{ConversationId, DeviceId, GroupId, UserId};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Something that changed, as its subscribers need to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Event {
    /// `user`'s set of devices with published keys changed (a device
    /// published its identity, or was revoked, signed out or expired):
    /// senders must address the new set, watchers fetch it again.
    DevicesChanged {
        /// Whose devices.
        user: UserId,
    },
    /// A device is gone: its token is dead and its socket must close.
    DeviceRemoved {
        /// Its account.
        user: UserId,
        /// The device.
        device: DeviceId,
        /// Why, which decides the close code.
        reason: Removal,
    },
    /// `user` added or removed a contact.
    ContactsChanged {
        /// Whose contact list.
        user: UserId,
        /// What changed.
        change: ContactChange,
    },
    /// `user`'s presence and last-seen visibility setting changed.
    PrivacyChanged {
        /// Whose setting.
        user: UserId,
    },
    /// `user` blocked or unblocked someone.
    BlocksChanged {
        /// Who blocked or unblocked.
        user: UserId,
        /// What changed.
        change: BlockChange,
    },
    /// A message was committed to the queue of a device that no socket here
    /// took it on (it is offline, or its socket was closing). Published on
    /// the send path before the sender's `Accepted`: a subscriber must hand
    /// slow work (a push, a message to another node) to a task of its own
    /// and return no reaction, or every offline send waits for it.
    MessageQueued {
        /// The device.
        device: DeviceId,
        /// Whose device it is.
        owner: UserId,
        /// Who sent the message (the owner, for a copy to their own devices).
        from: UserId,
        /// The chat as the owner sees it.
        chat: ConversationId,
    },
    /// A group's log grew: members' caches and sockets must hear of it.
    GroupChanged {
        /// The group.
        group: GroupId,
        /// Its last event now.
        seq: u64,
        /// Someone the event took out (removed or left), who hears of it too.
        gone: Option<UserId>,
    },
}

/// Why a device was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Removal {
    /// Revoked from another of the account's devices.
    Revoked,
    /// Signed out by itself.
    SignedOut,
    /// Unused for longer than `--device-idle-days`.
    Idle,
}

/// One contact list change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ContactChange {
    /// This user was added.
    Added(UserId),
    /// This user was removed.
    Removed(UserId),
}

/// One change of a user's blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BlockChange {
    /// This user was blocked.
    Blocked(UserId),
    /// This user was unblocked.
    Unblocked(UserId),
}

impl BlockChange {
    /// The person blocked or unblocked.
    pub fn peer(self) -> UserId {
        match self {
            Self::Blocked(peer) | Self::Unblocked(peer) => peer,
        }
    }
}

/// The kinds of [`Event`], to subscribe by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// [`Event::DevicesChanged`].
    DevicesChanged,
    /// [`Event::DeviceRemoved`].
    DeviceRemoved,
    /// [`Event::ContactsChanged`].
    ContactsChanged,
    /// [`Event::PrivacyChanged`].
    PrivacyChanged,
    /// [`Event::MessageQueued`].
    MessageQueued,
    /// [`Event::BlocksChanged`].
    BlocksChanged,
    /// [`Event::GroupChanged`].
    GroupChanged,
}

const KINDS: usize = 7;

impl Event {
    /// Its kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::DevicesChanged { .. } => EventKind::DevicesChanged,
            Self::DeviceRemoved { .. } => EventKind::DeviceRemoved,
            Self::ContactsChanged { .. } => EventKind::ContactsChanged,
            Self::PrivacyChanged { .. } => EventKind::PrivacyChanged,
            Self::MessageQueued { .. } => EventKind::MessageQueued,
            Self::BlocksChanged { .. } => EventKind::BlocksChanged,
            Self::GroupChanged { .. } => EventKind::GroupChanged,
        }
    }
}

/// The part of a subscriber's reaction that needs I/O, awaited by the
/// publisher.
pub type Reaction<'a> = Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>>;

/// A part of the server that reacts to events.
pub trait Subscriber: Send + Sync {
    /// Reacts to `event` at once; what needs I/O is returned, not spawned,
    /// so that the publisher can wait for it.
    fn notify(&self, event: Event) -> Option<Reaction<'_>>;
}

/// The event bus: subscribers per kind, fixed at start-up; cheap to clone.
#[derive(Clone, Default)]
pub struct Events {
    subscribers: Arc<[Vec<Arc<dyn Subscriber>>; KINDS]>,
    /// Told of events that happened on this node only (the cluster, which
    /// tells the other nodes).
    relays: Arc<[Vec<Arc<dyn Subscriber>>; KINDS]>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts: Vec<usize> = self.subscribers.iter().map(Vec::len).collect();
        f.debug_struct("Events")
            .field("subscribers_per_kind", &counts)
            .finish()
    }
}

/// Builds an [`Events`]; subscribers are told in the order they subscribed.
#[derive(Default)]
pub struct EventsBuilder {
    subscribers: [Vec<Arc<dyn Subscriber>>; KINDS],
    relays: [Vec<Arc<dyn Subscriber>>; KINDS],
}

impl EventsBuilder {
    /// Tells `subscriber` of every event of these kinds.
    pub fn subscribe(mut self, kinds: &[EventKind], subscriber: Arc<dyn Subscriber>) -> Self {
        for &kind in kinds {
            self.subscribers[kind as usize].push(subscriber.clone());
        }
        self
    }

    /// Tells `relay` of the events of these kinds that happen on this node,
    /// after the subscribers; not of those [`Events::publish_remote`] brings.
    pub fn relay(mut self, kinds: &[EventKind], relay: Arc<dyn Subscriber>) -> Self {
        for &kind in kinds {
            self.relays[kind as usize].push(relay.clone());
        }
        self
    }

    /// The bus, no longer changeable.
    pub fn build(self) -> Events {
        Events {
            subscribers: Arc::new(self.subscribers),
            relays: Arc::new(self.relays),
        }
    }
}

impl Events {
    /// An empty bus to subscribe to.
    pub fn builder() -> EventsBuilder {
        EventsBuilder::default()
    }

    /// Tells the subscribers of `event`'s kind, in order; returns what they
    /// still have to do.
    pub fn publish(&self, event: Event) -> Published<'_> {
        let kind = event.kind() as usize;
        let mut published = self.publish_remote(event);
        for relay in &self.relays[kind] {
            if let Some(reaction) = relay.notify(event) {
                published.0.push(reaction);
            }
        }
        published
    }

    /// Tells the subscribers of an event another node published (not the
    /// relays, which would tell it back).
    pub fn publish_remote(&self, event: Event) -> Published<'_> {
        let mut reactions = Vec::new();
        for subscriber in &self.subscribers[event.kind() as usize] {
            if let Some(reaction) = subscriber.notify(event) {
                reactions.push(reaction);
            }
        }
        Published(reactions)
    }
}

/// The I/O part of an event's reactions.
#[must_use = "reactions run only when awaited with `settled`"]
pub struct Published<'a>(Vec<Reaction<'a>>);

impl Published<'_> {
    /// Runs the reactions one after the other, in subscription order; all
    /// run even if one fails, and the first failure is returned.
    pub async fn settled(self) -> Result<(), sqlx::Error> {
        let mut outcome = Ok(());
        for reaction in self.0 {
            let done = reaction.await;
            if outcome.is_ok() {
                outcome = done;
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records what it is told; answers `PrivacyChanged` with a reaction.
    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<Event>>,
        reacted: Mutex<Vec<Event>>,
    }

    impl Subscriber for Recorder {
        fn notify(&self, event: Event) -> Option<Reaction<'_>> {
            self.seen.lock().unwrap().push(event);
            matches!(event, Event::PrivacyChanged { .. }).then(|| {
                Box::pin(async move {
                    tokio::task::yield_now().await;
                    self.reacted.lock().unwrap().push(event);
                    Ok(())
                }) as Reaction<'_>
            })
        }
    }

    fn seen(r: &Mutex<Vec<Event>>) -> Vec<Event> {
        r.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn subscribers_hear_only_their_kinds_in_order_and_reactions_run_when_settled() {
        let queued = Arc::new(Recorder::default());
        let everything = Arc::new(Recorder::default());
        let all = [
            EventKind::DevicesChanged,
            EventKind::DeviceRemoved,
            EventKind::ContactsChanged,
            EventKind::PrivacyChanged,
            EventKind::MessageQueued,
            EventKind::BlocksChanged,
        ];
        let events = Events::builder()
            .subscribe(&[EventKind::MessageQueued], queued.clone())
            .subscribe(&all, everything.clone())
            .build();
        let (user, device) = (
            UserId::from(uuid::Uuid::from_u128(1)),
            DeviceId::from(uuid::Uuid::from_u128(2)),
        );

        let queued_event = Event::MessageQueued {
            device,
            owner: user,
            from: user,
            chat: ConversationId::Direct(user),
        };
        let published = events.publish(queued_event);
        assert_eq!(seen(&queued.seen), [queued_event]);
        published.settled().await.unwrap();

        let removed = Event::DeviceRemoved {
            user,
            device,
            reason: Removal::Revoked,
        };
        events.publish(removed).settled().await.unwrap();
        assert_eq!(seen(&queued.seen).len(), 1, "not its kind");
        assert_eq!(seen(&everything.seen), [queued_event, removed]);

        let privacy = Event::PrivacyChanged { user };
        let published = events.publish(privacy);
        assert_eq!(
            seen(&everything.seen).last(),
            Some(&privacy),
            "told at once"
        );
        assert!(
            seen(&everything.reacted).is_empty(),
            "I/O waits for settled"
        );
        published.settled().await.unwrap();
        assert_eq!(seen(&everything.reacted), [privacy]);
    }

    #[test]
    fn publishing_to_nobody_does_nothing() {
        let events = Events::default();
        let (device, user) = (
            DeviceId::from(uuid::Uuid::from_u128(2)),
            UserId::from(uuid::Uuid::from_u128(1)),
        );
        let published = events.publish(Event::MessageQueued {
            device,
            owner: user,
            from: user,
            chat: ConversationId::Direct(user),
        });
        assert!(published.0.is_empty());
    }
}
