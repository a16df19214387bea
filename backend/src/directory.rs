//! Which devices each user has: read on every send (to check the sender's
//! fan-out), so cached in memory and invalidated when a device is added or removed.
//!
//! A device counts once it has published its identity keys: before that no
//! one can encrypt for it, so no sender may be asked to.

use dashmap::DashMap;
use parley_protocol::{DeviceId, UserId};
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A user's devices, sorted.
pub type DeviceList = Arc<[DeviceId]>;

/// Cache of device lists.
#[derive(Debug, Default)]
pub struct DeviceDirectory {
    cache: DashMap<UserId, DeviceList>,
    // Bumped on every invalidation, so a load that raced with one is not cached.
    epoch: AtomicU64,
}

impl DeviceDirectory {
    /// The user's devices; `None` when the user does not exist.
    pub async fn devices(
        &self,
        pool: &PgPool,
        user: UserId,
    ) -> Result<Option<DeviceList>, sqlx::Error> {
        if let Some(list) = self.cache.get(&user) {
            return Ok(Some(list.clone()));
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let row: Option<(Option<Vec<DeviceId>>,)> = sqlx::query_as(
            "SELECT array_agg(d.id ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL)
             FROM users u
             LEFT JOIN (devices d JOIN device_keys k ON k.device_id = d.id) ON d.user_id = u.id
             WHERE u.id = $1 GROUP BY u.id",
        )
        .bind(user)
        .fetch_optional(pool)
        .await?;
        let Some((devices,)) = row else {
            return Ok(None);
        };
        let list: DeviceList = devices.unwrap_or_default().into();
        // Check and insert under the entry's lock, which `invalidate` also
        // takes while bumping the epoch: a stale list can never be cached.
        if let dashmap::Entry::Vacant(slot) = self.cache.entry(user)
            && self.epoch.load(Ordering::Acquire) == epoch
        {
            slot.insert(list.clone());
        }
        Ok(Some(list))
    }

    /// Forgets a user's list after a device published its keys or was removed.
    pub fn invalidate(&self, user: UserId) {
        match self.cache.entry(user) {
            dashmap::Entry::Occupied(slot) => {
                self.epoch.fetch_add(1, Ordering::AcqRel);
                slot.remove();
            }
            dashmap::Entry::Vacant(_slot) => {
                self.epoch.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}
