//! The members of groups sent to lately, kept in memory: every group send
//! and typing frame reads them. Forgotten on [`Event::GroupChanged`] (here,
//! and relayed from other nodes), and trusted for a while at most.

use super::store::{self, Members};
use crate::directory::DeviceDirectory;
use crate::error::{ApiError, ApiResult};
use crate::events::{Event, Reaction, Subscriber};
use crate::gateway::{self, Gateway};
use dashmap::DashMap;
use parley_protocol::frame::{ServerFrame, UserDevices};
use parley_protocol::{GroupId, UserId};
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Groups whose members are kept in memory; past this the cache starts over.
const MAX_CACHED_GROUPS: usize = 100_000;

/// How long a group's members are trusted from memory. A change here or on
/// another node forgets them at once; this bounds what a lost message
/// between nodes can leave stale.
const MEMBERS_TTL: Duration = Duration::from_secs(30);

/// Current members of groups that were sent to lately, and the one
/// subscriber to [`Event::GroupChanged`] (which forgets them, and tells the
/// members' sockets here).
#[derive(Debug)]
pub struct Groups {
    pool: PgPool,
    gateway: Gateway,
    directory: Arc<DeviceDirectory>,
    cache: DashMap<GroupId, (Arc<Members>, Instant)>,
    /// Bumped by every change: a load that started before one is not cached.
    changes: AtomicU64,
}

impl Groups {
    /// An empty cache over `pool`.
    pub fn new(pool: PgPool, gateway: Gateway, directory: Arc<DeviceDirectory>) -> Self {
        Self {
            pool,
            gateway,
            directory,
            cache: DashMap::new(),
            changes: AtomicU64::new(0),
        }
    }

    /// A group's current members; `None` when there is no such group.
    pub async fn members(&self, group: GroupId) -> ApiResult<Option<Arc<Members>>> {
        if let Some(entry) = self.cache.get(&group)
            && entry.1.elapsed() < MEMBERS_TTL
        {
            return Ok(Some(entry.0.clone()));
        }
        let before = self.changes.load(Ordering::Acquire);
        let Some(members) = store::members(&self.pool, group).await? else {
            return Ok(None);
        };
        let members = Arc::new(members);
        if self.cache.len() >= MAX_CACHED_GROUPS {
            self.cache.clear();
        }
        // Checked under the entry's lock, which `forget` takes after it
        // counts the change: a change during the load is never overwritten.
        let entry = self.cache.entry(group);
        if self.changes.load(Ordering::Acquire) == before {
            entry.insert((members.clone(), Instant::now()));
        }
        Ok(Some(members))
    }

    /// The devices of each member, as the directory has them now.
    pub async fn member_devices(&self, members: &Members) -> ApiResult<Vec<UserDevices>> {
        let lists = futures_util::future::join_all(
            members
                .users
                .iter()
                .map(|(user, _)| self.directory.devices(*user)),
        )
        .await;
        let mut all = Vec::with_capacity(lists.len());
        for ((user, _), list) in members.users.iter().zip(lists) {
            let devices = list?.map(|l| l.to_vec()).unwrap_or_default();
            all.push(UserDevices {
                user: *user,
                devices,
            });
        }
        Ok(all)
    }

    fn forget(&self, group: GroupId) {
        self.changes.fetch_add(1, Ordering::AcqRel);
        self.cache.remove(&group);
    }

    /// Tells the sockets here of members (and of whoever just went) that
    /// the log grew, so their clients fetch it.
    async fn announce(
        &self,
        group: GroupId,
        seq: u64,
        gone: Option<UserId>,
    ) -> Result<(), sqlx::Error> {
        let members = match self.members(group).await {
            Ok(members) => members,
            Err(ApiError::Database(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "group members unreadable");
                return Ok(());
            }
        };
        let Some(frame) = gateway::encode(&ServerFrame::GroupChanged { group, seq }) else {
            return Ok(());
        };
        let mut users: Vec<UserId> = members
            .map(|m| m.users.iter().map(|&(user, _)| user).collect())
            .unwrap_or_default();
        users.extend(gone);
        for user in users {
            // Nobody with a socket here has a list loaded for nothing: the
            // directory answers from its cache, or once for many.
            let Ok(Some(devices)) = self.directory.devices(user).await else {
                continue;
            };
            for &device in devices.iter() {
                self.gateway.push_ephemeral(device, frame.clone());
            }
        }
        Ok(())
    }
}

impl Subscriber for Groups {
    fn notify(&self, event: Event) -> Option<Reaction<'_>> {
        let Event::GroupChanged { group, seq, gone } = event else {
            return None;
        };
        self.forget(group);
        Some(Box::pin(self.announce(group, seq, gone)))
    }
}
