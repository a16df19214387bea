//! Who is online, and who wants to know. Ephemeral: only "last seen" is stored.
//!
//! Watchers also hear when a watched user's devices change, so a chat that
//! is open (or a contact list) learns of a new identity key at once.

use crate::gateway::{self, Gateway};
use dashmap::DashMap;
use parley_protocol::frame::ServerFrame;
use parley_protocol::{DeviceId, Millis, UserId};
use sqlx::PgPool;
use std::collections::HashMap;

/// Online counts and presence subscriptions on this node.
#[derive(Debug, Default)]
pub struct Presence {
    online: DashMap<UserId, u32>,
    /// watched user → watching device → whether it may see presence.
    watchers: DashMap<UserId, HashMap<DeviceId, bool>>,
}

/// What a watcher may learn about one user.
#[derive(Debug, sqlx::FromRow)]
pub struct Visibility {
    /// The watched user.
    pub id: UserId,
    /// Whether their setting lets this watcher see online/last seen.
    pub visible: bool,
    /// Their last disconnect.
    pub last_seen: Option<Millis>,
}

impl Presence {
    /// Whether the user has a socket on this node.
    pub fn is_online(&self, user: UserId) -> bool {
        self.online.get(&user).is_some_and(|n| *n > 0)
    }

    /// A device of `user` connected; true when the user just came online.
    pub fn connected(&self, user: UserId) -> bool {
        let mut n = self.online.entry(user).or_insert(0);
        *n += 1;
        *n == 1
    }

    /// A device of `user` disconnected; true when the user just went offline.
    pub fn disconnected(&self, user: UserId) -> bool {
        let gone = match self.online.get_mut(&user) {
            Some(mut n) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
            None => false,
        };
        if gone {
            self.online.remove_if(&user, |_, n| *n == 0);
        }
        gone
    }

    /// Replaces what `device` watches; returns nothing, the caller sends the
    /// current state.
    pub fn watch(&self, device: DeviceId, old: &[UserId], new: &[Visibility]) {
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

    /// Devices watching `user` right now.
    pub fn watchers_of(&self, user: UserId) -> Vec<DeviceId> {
        self.watchers
            .get(&user)
            .map(|w| w.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Sets whether `device` may see `user`; returns whether that changed.
    pub fn set_visible(&self, user: UserId, device: DeviceId, visible: bool) -> bool {
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
    pub fn announce(
        &self,
        gateway: &Gateway,
        user: UserId,
        online: bool,
        last_seen: Option<Millis>,
    ) {
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
                gateway.push_ephemeral(device, visible.clone());
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
    pub fn devices_changed(&self, gateway: &Gateway, user: UserId) {
        let watchers = self.watchers_of(user);
        if watchers.is_empty() {
            return;
        }
        let Some(frame) = gateway::encode(&ServerFrame::DevicesChanged { user }) else {
            return;
        };
        for device in watchers {
            gateway.push_ephemeral(device, frame.clone());
        }
    }
}

/// For each (watcher, watched user) pair: whether the watcher may see the
/// user's presence, and the user's last seen. One query for any number of pairs.
async fn visibility_of_pairs(
    pool: &PgPool,
    watchers: &[UserId],
    watched: &[UserId],
) -> Result<Vec<(UserId, Visibility)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        watcher: UserId,
        #[sqlx(flatten)]
        visibility: Visibility,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT p.watcher, u.id,
                CASE u.last_seen_visibility
                    WHEN 'everyone' THEN true
                    WHEN 'contacts' THEN EXISTS (
                        SELECT 1 FROM contacts c WHERE c.owner_id = u.id AND c.contact_id = p.watcher)
                    ELSE false
                END AS visible,
                (extract(epoch FROM u.last_seen_at) * 1000)::int8 AS last_seen
         FROM UNNEST($1::uuid[], $2::uuid[]) AS p(watcher, watched)
         JOIN users u ON u.id = p.watched",
    )
    .bind(watchers)
    .bind(watched)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.watcher, r.visibility))
        .collect())
}

/// For each user, whether `watcher` may see their presence, and their last seen.
pub async fn visibility(
    pool: &PgPool,
    watcher: UserId,
    users: &[UserId],
) -> Result<Vec<Visibility>, sqlx::Error> {
    let watchers = vec![watcher; users.len()];
    let pairs = visibility_of_pairs(pool, &watchers, users).await?;
    Ok(pairs.into_iter().map(|(_, v)| v).collect())
}

/// Re-decides who may see `user`'s presence after their privacy setting or
/// their contact list changed, and tells the watchers whose view changed:
/// those who lost it see "offline, last seen unknown", those who gained it
/// see the current state.
pub async fn refresh(
    presence: &Presence,
    pool: &PgPool,
    gateway: &Gateway,
    user: UserId,
) -> Result<(), sqlx::Error> {
    let devices: Vec<(DeviceId, UserId)> = presence
        .watchers_of(user)
        .into_iter()
        .filter_map(|device| Some((device, gateway.user_of(device)?)))
        .collect();
    if devices.is_empty() {
        return Ok(());
    }
    let mut watchers: Vec<UserId> = devices.iter().map(|(_, w)| *w).collect();
    watchers.sort_unstable();
    watchers.dedup();
    let watched = vec![user; watchers.len()];
    let verdicts: HashMap<UserId, Visibility> = visibility_of_pairs(pool, &watchers, &watched)
        .await?
        .into_iter()
        .collect();
    for (device, watcher) in devices {
        let Some(v) = verdicts.get(&watcher) else {
            continue;
        };
        if presence.set_visible(user, device, v.visible) {
            let online = v.visible && presence.is_online(user);
            let frame = ServerFrame::Presence {
                user,
                online,
                last_seen: if v.visible && !online {
                    v.last_seen
                } else {
                    None
                },
            };
            if let Some(frame) = gateway::encode(&frame) {
                gateway.push_ephemeral(device, frame);
            }
        }
    }
    Ok(())
}
