//! Which devices each user has: read on every send (to check the sender's
//! fan-out), so cached in memory and invalidated when a device is added or removed.
//!
//! A device counts once it has published its identity keys: before that no
//! one can encrypt for it, so no sender may be asked to.
//!
//! Misses are read in batches: after a restart every user's list is missing
//! at once, and a thousand reconnected senders asking one query each would
//! queue on the pool (p99 of the first second's messages: half a second).
//! One loader task reads every user missed while its previous query ran.

use crate::batch::{BatchError, Batcher};
use crate::devices::store;
use crate::events::{Event, Reaction, Subscriber};
use crate::tasks::Tasks;
use dashmap::DashMap;
use parley_protocol::{DeviceId, UserId};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A user's devices, sorted.
pub type DeviceList = Arc<[DeviceId]>;

/// Users read by one query.
const MAX_BATCH: usize = 1024;

type Answer = Result<Option<DeviceList>, BatchError>;

#[derive(Debug, Default)]
struct Cache {
    lists: DashMap<UserId, DeviceList>,
    // Bumped on every invalidation, so a load that raced with one is not cached.
    epoch: AtomicU64,
}

/// Cache of device lists.
#[derive(Debug)]
pub struct DeviceDirectory {
    cache: Arc<Cache>,
    misses: Batcher<UserId, DeviceList>,
}

impl DeviceDirectory {
    /// Starts the loader task among `tasks`.
    pub fn start(pool: PgPool, tasks: &Tasks) -> Self {
        let cache = Arc::new(Cache::default());
        let misses = Batcher::start(tasks, "device directory", MAX_BATCH, {
            let cache = cache.clone();
            move |users: Vec<UserId>| load(pool.clone(), cache.clone(), users)
        });
        Self { cache, misses }
    }

    /// The user's devices; `None` when the user does not exist.
    pub async fn devices(&self, user: UserId) -> Answer {
        if let Some(list) = self.cache.lists.get(&user) {
            return Ok(Some(list.clone()));
        }
        self.misses.get(user).await
    }

    /// Forgets a user's list after a device published its keys or was removed.
    pub fn invalidate(&self, user: UserId) {
        match self.cache.lists.entry(user) {
            dashmap::Entry::Occupied(slot) => {
                self.cache.epoch.fetch_add(1, Ordering::AcqRel);
                slot.remove();
            }
            dashmap::Entry::Vacant(_slot) => {
                self.cache.epoch.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

impl Subscriber for DeviceDirectory {
    fn notify(&self, event: Event) -> Option<Reaction<'_>> {
        if let Event::DevicesChanged { user } = event {
            self.invalidate(user);
        }
        None
    }
}

/// Reads the lists of `users` (missed while the previous read ran) and
/// caches them.
async fn load(
    pool: PgPool,
    cache: Arc<Cache>,
    users: Vec<UserId>,
) -> Result<HashMap<UserId, DeviceList>, sqlx::Error> {
    let epoch = cache.epoch.load(Ordering::Acquire);
    let rows = store::with_keys(&pool, &users).await?;
    let found: HashMap<UserId, DeviceList> = rows
        .into_iter()
        .map(|(user, devices)| (user, devices.unwrap_or_default().into()))
        .collect();
    for (user, list) in &found {
        // Check and insert under the entry's lock, which `invalidate` also
        // takes while bumping the epoch: a stale list can never be cached.
        if let dashmap::Entry::Vacant(slot) = cache.lists.entry(*user)
            && cache.epoch.load(Ordering::Acquire) == epoch
        {
            slot.insert(list.clone());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn user(pool: &PgPool, handle: &str, devices: usize, with_keys: bool) -> UserId {
        let id = crate::test_rows::user(pool, handle).await;
        for _ in 0..devices {
            add_device(pool, id, with_keys).await;
        }
        id
    }

    async fn add_device(pool: &PgPool, user: UserId, with_keys: bool) -> DeviceId {
        let device = crate::test_rows::device(pool, user).await;
        if with_keys {
            sqlx::query(
                "INSERT INTO device_keys (device_id, curve25519, ed25519, signature)
                 VALUES ($1, 'c', 'e', 's')",
            )
            .bind(device)
            .execute(pool)
            .await
            .unwrap();
        }
        device
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn concurrent_misses_share_reads_and_invalidation_is_seen(pool: PgPool) {
        let mut users = Vec::new();
        for i in 0..200 {
            users.push(user(&pool, &format!("dir{i}"), i % 3, true).await);
        }
        let keyless = user(&pool, "keyless", 2, false).await;
        let directory = DeviceDirectory::start(pool.clone(), &Tasks::default());
        let lists = futures_util::future::join_all(
            users
                .iter()
                .chain([&keyless])
                .map(|u| directory.devices(*u)),
        )
        .await;
        for (i, list) in lists.iter().enumerate().take(200) {
            let list = list.as_ref().unwrap().as_ref().unwrap();
            assert_eq!(list.len(), i % 3, "user {i}");
            assert!(list.windows(2).all(|w| w[0] < w[1]), "sorted");
        }
        // Devices without keys do not count; an unknown user is `None`.
        assert_eq!(lists[200].as_ref().unwrap().as_deref(), Some(&[][..]));
        assert!(directory.devices(UserId::new_v7()).await.unwrap().is_none());

        // Cached until invalidated, then read again.
        let added = add_device(&pool, users[0], true).await;
        assert!(
            directory
                .devices(users[0])
                .await
                .unwrap()
                .unwrap()
                .is_empty()
        );
        directory.invalidate(users[0]);
        assert_eq!(
            directory.devices(users[0]).await.unwrap().as_deref(),
            Some(&[added][..])
        );
    }
}
