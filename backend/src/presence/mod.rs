//! Who is online, and who wants to know. Ephemeral: only "last seen" is stored.
//!
//! Watchers also hear when a watched user's devices change, so a chat that
//! is open (or a contact list) learns of a new identity key at once.
//!
//! [`Presence`] is the one service for it: sockets tell it when they come
//! and go and what they watch; it subscribes to the events that change what
//! watchers may see (devices, privacy settings, contact lists, blocks).

pub mod store;

use crate::events::{Event, Reaction, Subscriber};
use crate::gateway::{self, Gateway};
use crate::last_seen::LastSeenWriter;
use dashmap::DashMap;
use parley_protocol::frame::ServerFrame;
use parley_protocol::{DeviceId, Millis, UserId};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
pub use store::Visibility;
use uuid::Uuid;

/// Where a change of who is online on this node goes (the other nodes).
pub trait Announce: Send + Sync + std::fmt::Debug {
    /// `user`'s first socket here opened (`online`), or its last one closed.
    fn local(&self, user: UserId, online: bool, last_seen: Option<Millis>);
}

/// Online counts and presence subscriptions on this node.
#[derive(Debug)]
pub struct Presence {
    online: DashMap<UserId, u32>,
    /// Other nodes where a user has a socket.
    remote: DashMap<UserId, Vec<Uuid>>,
    /// Set once, when the node joins a cluster.
    others: OnceLock<Arc<dyn Announce>>,
    /// watched user → watching device → whether it may see presence.
    watchers: DashMap<UserId, HashMap<DeviceId, bool>>,
    gateway: Gateway,
    pool: PgPool,
    last_seen: LastSeenWriter,
}

impl Presence {
    /// Nobody online yet; frames go out through `gateway`.
    pub fn new(gateway: Gateway, pool: PgPool, last_seen: LastSeenWriter) -> Self {
        Self {
            online: DashMap::new(),
            remote: DashMap::new(),
            others: OnceLock::new(),
            watchers: DashMap::new(),
            gateway,
            pool,
            last_seen,
        }
    }

    /// Whether the user has a socket on this node or another.
    pub fn is_online(&self, user: UserId) -> bool {
        self.online.get(&user).is_some_and(|n| *n > 0) || self.remote.contains_key(&user)
    }

    /// Tells `others` whenever a user's first socket here opens or last one
    /// closes; only the first one set counts.
    pub fn join(&self, others: Arc<dyn Announce>) {
        let _ = self.others.set(others);
    }

    /// Users with a socket on this node.
    pub fn local_users(&self) -> Vec<UserId> {
        self.online.iter().map(|e| *e.key()).collect()
    }

    /// A socket of `user` registered: the first one tells the watchers
    /// (unless the user was online on another node already).
    pub fn connected(&self, user: UserId) {
        let first = {
            let mut n = self.online.entry(user).or_insert(0);
            *n += 1;
            *n == 1
        };
        if first {
            if let Some(others) = self.others.get() {
                others.local(user, true, None);
            }
            if !self.remote.contains_key(&user) {
                self.announce(user, true, None);
            }
        }
    }

    /// `user` came online on `node` or left it; watchers here hear when
    /// that changes whether the user is online anywhere.
    pub fn remote(&self, node: Uuid, user: UserId, online: bool, last_seen: Option<Millis>) {
        let before = self.is_online(user);
        if online {
            let mut nodes = self.remote.entry(user).or_default();
            if !nodes.contains(&node) {
                nodes.push(node);
            }
        } else if let Some(mut nodes) = self.remote.get_mut(&user) {
            nodes.retain(|n| *n != node);
        }
        self.remote.remove_if(&user, |_, nodes| nodes.is_empty());
        let after = self.is_online(user);
        if before != after {
            self.announce(user, after, last_seen.filter(|_| !after));
        }
    }

    /// `node`'s complete list of users online there: those no longer in it
    /// go offline there, new ones online.
    pub fn replace_remote(&self, node: Uuid, users: &[UserId]) {
        let now: std::collections::HashSet<UserId> = users.iter().copied().collect();
        let gone: Vec<UserId> = self
            .remote
            .iter()
            .filter(|e| e.value().contains(&node) && !now.contains(e.key()))
            .map(|e| *e.key())
            .collect();
        for user in gone {
            self.remote(node, user, false, None);
        }
        for &user in users {
            self.remote(node, user, true, None);
        }
    }

    /// `node` stopped or went silent: its users are offline there.
    pub fn node_gone(&self, node: Uuid) {
        let users: Vec<UserId> = self
            .remote
            .iter()
            .filter(|e| e.value().contains(&node))
            .map(|e| *e.key())
            .collect();
        for user in users {
            self.remote(node, user, false, None);
        }
    }

    /// A socket of `user` ended: the last one stores "last seen" and then,
    /// unless the user came back meanwhile, tells the watchers.
    pub async fn disconnected(&self, user: UserId) {
        let gone = match self.online.get_mut(&user) {
            Some(mut n) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
            None => false,
        };
        if !gone {
            return;
        }
        self.online.remove_if(&user, |_, n| *n == 0);
        // Awaited by the socket's task, not spawned: a detached query could
        // be cut off by a shutdown, and that task is already on its way out.
        let last_seen = self.last_seen.mark(user).await;
        if let Some(others) = self.others.get()
            && !self.online.contains_key(&user)
        {
            others.local(user, false, last_seen);
        }
        if !self.is_online(user) {
            self.announce(user, false, last_seen);
        }
    }

    /// Replaces what `device` (of `watcher`) watches with `users`; returns,
    /// for each of them that exists, the frame to send it now.
    pub async fn watch(
        &self,
        device: DeviceId,
        watcher: UserId,
        old: &[UserId],
        mut users: Vec<UserId>,
    ) -> Result<Vec<(UserId, ServerFrame)>, sqlx::Error> {
        users.sort_unstable();
        users.dedup();
        let visible = store::visibility(&self.pool, watcher, &users).await?;
        self.replace_watched(device, old, &visible);
        Ok(visible.iter().map(|v| (v.id, self.seen(v))).collect())
    }

    /// `device` stops watching `watched` (its socket ended).
    pub fn unwatch(&self, device: DeviceId, watched: &[UserId]) {
        self.replace_watched(device, watched, &[]);
    }

    fn replace_watched(&self, device: DeviceId, old: &[UserId], new: &[Visibility]) {
        for user in old {
            if let Some(mut w) = self.watchers.get_mut(user) {
                w.remove(&device);
            }
            self.watchers.remove_if(user, |_, w| w.is_empty());
        }
        for v in new {
            self.watchers
                .entry(v.id)
                .or_default()
                .insert(device, v.visible);
        }
    }

    /// What a watcher sees of `v.id` now, given what it may see: the one
    /// place that decides it.
    fn seen(&self, v: &Visibility) -> ServerFrame {
        let online = v.visible && self.is_online(v.id);
        ServerFrame::Presence {
            user: v.id,
            online,
            last_seen: if v.visible && !online {
                v.last_seen
            } else {
                None
            },
        }
    }

    /// Devices watching `user` right now.
    fn watchers_of(&self, user: UserId) -> Vec<DeviceId> {
        self.watchers
            .get(&user)
            .map(|w| w.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Sets whether `device` may see `user`; returns whether that changed.
    fn set_visible(&self, user: UserId, device: DeviceId, visible: bool) -> bool {
        match self.watchers.get_mut(&user) {
            Some(mut w) => match w.get_mut(&device) {
                Some(v) if *v != visible => {
                    *v = visible;
                    true
                }
                _ => false,
            },
            None => false,
        }
    }

    /// Tells the watchers of `user` that it came online or went offline.
    fn announce(&self, user: UserId, online: bool, last_seen: Option<Millis>) {
        let Some(watchers) = self.watchers.get(&user).map(|w| w.clone()) else {
            return;
        };
        let Some(visible) = gateway::encode(&ServerFrame::Presence {
            user,
            online,
            last_seen,
        }) else {
            return;
        };
        for (device, may_see) in watchers {
            if may_see {
                // Ephemeral: a full outbox drops it rather than closing the
                // watcher's socket, so no one can cut others off by flapping.
                self.gateway.push_ephemeral(device, visible.clone());
            }
        }
    }

    /// Tells the devices watching `user` that `user`'s devices changed, so
    /// they fetch the keys again (and show "safety number changed"). Sent to
    /// every watcher whatever `user`'s presence setting: the device list is
    /// public in the key directory, and a security notice must not depend on
    /// who may see "last seen". The work is one ephemeral push per watcher,
    /// the same as one presence change, and happens only when a device
    /// publishes its keys or goes away.
    fn devices_changed(&self, user: UserId) {
        let watchers = self.watchers_of(user);
        if watchers.is_empty() {
            return;
        }
        let Some(frame) = gateway::encode(&ServerFrame::DevicesChanged { user }) else {
            return;
        };
        for device in watchers {
            self.gateway.push_ephemeral(device, frame.clone());
        }
    }

    /// Re-decides who may see `user`'s presence after their privacy setting,
    /// their contact list or a block between them and someone changed, and
    /// tells the watchers whose view changed:
    /// those who lost it see "offline, last seen unknown", those who gained it
    /// see the current state.
    async fn refresh(&self, user: UserId) -> Result<(), sqlx::Error> {
        let devices: Vec<(DeviceId, UserId)> = self
            .watchers_of(user)
            .into_iter()
            .filter_map(|device| Some((device, self.gateway.user_of(device)?)))
            .collect();
        if devices.is_empty() {
            return Ok(());
        }
        let mut watchers: Vec<UserId> = devices.iter().map(|(_, w)| *w).collect();
        watchers.sort_unstable();
        watchers.dedup();
        let watched = vec![user; watchers.len()];
        let verdicts: HashMap<UserId, Visibility> =
            store::visibility_of_pairs(&self.pool, &watchers, &watched)
                .await?
                .into_iter()
                .collect();
        for (device, watcher) in devices {
            let Some(v) = verdicts.get(&watcher) else {
                continue;
            };
            if self.set_visible(user, device, v.visible)
                && let Some(frame) = gateway::encode(&self.seen(v))
            {
                self.gateway.push_ephemeral(device, frame);
            }
        }
        Ok(())
    }
}

impl Subscriber for Presence {
    fn notify(&self, event: Event) -> Option<Reaction<'_>> {
        match event {
            Event::DevicesChanged { user } => {
                self.devices_changed(user);
                None
            }
            // Both change who may see `user` ("contacts only").
            Event::PrivacyChanged { user } | Event::ContactsChanged { user, .. } => {
                Some(Box::pin(self.refresh(user)))
            }
            // A block hides each of the two from the other.
            Event::BlocksChanged { user, change } => Some(Box::pin(async move {
                self.refresh(user).await?;
                self.refresh(change.peer()).await
            })),
            Event::DeviceRemoved { .. }
            | Event::MessageQueued { .. }
            | Event::GroupChanged { .. } => None,
        }
    }
}
