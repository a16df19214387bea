//! How many relay allocations each account, and the whole server, may hold.
//!
//! A [`Slot`] is one allocation's share; dropping it gives the share back, so
//! an allocation that ends any way (expiry, release, shutdown) is counted out.

use parley_protocol::UserId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use thiserror::Error;

/// Why an allocation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum QuotaError {
    /// The account holds its maximum already.
    #[error("allocation quota of this account reached")]
    User,
    /// The server holds its maximum already.
    #[error("allocation quota of the server reached")]
    Total,
}

#[derive(Debug, Default)]
struct Held {
    total: u32,
    by_user: HashMap<UserId, u32>,
}

/// Allocation counters with their limits.
#[derive(Debug)]
pub struct Quota {
    per_user: u32,
    total: u32,
    held: Mutex<Held>,
}

impl Quota {
    /// At most `per_user` allocations per account and `total` in all.
    pub fn new(per_user: u32, total: u32) -> Arc<Self> {
        Arc::new(Self {
            per_user,
            total,
            held: Mutex::new(Held::default()),
        })
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        // The counters stay consistent under every panic point (there is
        // none between a check and its update), so a poisoned lock is usable.
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes one allocation's share for `user`.
    pub fn acquire(self: &Arc<Self>, user: UserId) -> Result<Slot, QuotaError> {
        let mut held = self.held();
        if held.total >= self.total {
            return Err(QuotaError::Total);
        }
        let mine = held.by_user.entry(user).or_default();
        if *mine >= self.per_user {
            return Err(QuotaError::User);
        }
        *mine += 1;
        held.total += 1;
        Ok(Slot {
            quota: self.clone(),
            user,
        })
    }

    /// Allocations held by `user` and in all.
    pub fn held_by(&self, user: UserId) -> (u32, u32) {
        let held = self.held();
        (held.by_user.get(&user).copied().unwrap_or(0), held.total)
    }

    fn release(&self, user: UserId) {
        let mut held = self.held();
        held.total = held.total.saturating_sub(1);
        if let Some(mine) = held.by_user.get_mut(&user) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                // Keeps the map as small as the set of accounts relaying now.
                held.by_user.remove(&user);
            }
        }
    }
}

/// One allocation's share of the quota, given back on drop.
#[derive(Debug)]
pub struct Slot {
    quota: Arc<Quota>,
    user: UserId,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.quota.release(self.user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_user_and_in_all_and_gives_back_on_drop() {
        let quota = Quota::new(2, 3);
        let (a, b) = (
            uuid::Uuid::from_u128(1).into(),
            uuid::Uuid::from_u128(2).into(),
        );
        let a1 = quota.acquire(a);
        let a2 = quota.acquire(a);
        assert!(a1.is_ok() && a2.is_ok());
        assert_eq!(quota.acquire(a).err(), Some(QuotaError::User));
        let b1 = quota.acquire(b);
        assert!(b1.is_ok());
        assert_eq!(quota.acquire(b).err(), Some(QuotaError::Total));
        drop(a1);
        assert_eq!(quota.held_by(a), (1, 2));
        assert!(quota.acquire(b).is_ok());
        drop((a2, b1));
        assert_eq!(quota.held_by(a), (0, 0));
    }
}
