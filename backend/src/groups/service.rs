//! Creating groups and appending to their logs, and the members cache that
//! every group send reads.
//!
//! A change is checked three ways before it is stored: the caller's device
//! signed it (with the key it published), it follows the stored log (its
//! `seq` and `prev`; otherwise 409, so a client that raced another admin
//! fetches and signs again), and [`Roster::apply`] allows it, the same rules
//! every member's client applies when it replays the log.

use super::store::{self, Members};
use crate::auth::Caller;
use crate::delivery::now_millis;
use crate::directory::DeviceDirectory;
use crate::error::{ApiError, ApiResult};
use crate::events::{Event, Reaction, Subscriber};
use crate::gateway::{self, Gateway};
use crate::keys::{store as keys, verify};
use crate::state::AppState;
use dashmap::DashMap;
use parley_protocol::frame::{ServerFrame, UserDevices};
use parley_protocol::group::{
    GroupChange, GroupHead, GroupRecord, Roster, RuleError, SignedGroupEvent,
};
use parley_protocol::{GroupId, UserId};
use sqlx::PgPool;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Groups whose members are kept in memory; past this the cache starts over.
const MAX_CACHED_GROUPS: usize = 100_000;

/// Events a group's log may hold: every new member replays it all.
const MAX_GROUP_EVENTS: u64 = 10_000;

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

/// How a rule broken maps to an answer.
fn refused(error: RuleError) -> ApiError {
    match error {
        RuleError::NotNext | RuleError::BrokenChain => {
            ApiError::Conflict("the group changed meanwhile: fetch its events and try again")
        }
        RuleError::NotMember => ApiError::NotFound("no such group"),
        RuleError::NotAdmin => ApiError::Forbidden("only admins can do this"),
        RuleError::TooMany => ApiError::LimitReached("a group has at most 1,024 members"),
        RuleError::WrongGroup | RuleError::NotCreation | RuleError::Invalid(_) => {
            ApiError::BadRequest(error.to_string())
        }
        RuleError::Encoding => ApiError::Internal("a group event could not be encoded"),
    }
}

/// Checks that the caller's own device signed `signed`, and answers the key
/// it signed with (kept with the event).
async fn signed_by_caller(
    state: &AppState,
    caller: Caller,
    signed: &SignedGroupEvent,
) -> ApiResult<String> {
    let event = &signed.event;
    if event.by != caller.user_id || event.by_device != caller.device_id {
        return Err(ApiError::BadRequest(
            "an event is signed by the device that sends it".into(),
        ));
    }
    let key = keys::ed25519(&state.pool, caller.device_id)
        .await?
        .ok_or(ApiError::Forbidden("publish this device's keys first"))?;
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| ApiError::Internal("a stored Ed25519 key is not 32 bytes"))?;
    let text = event
        .signing_text()
        .map_err(|_| ApiError::Internal("a group event could not be encoded"))?;
    verify::signed(&key, &text, &verify::signature(&signed.signature)?)?;
    Ok(verify::encode(&key))
}

/// Creates a group from its signed first event.
pub async fn create(
    state: &AppState,
    caller: Caller,
    signed: SignedGroupEvent,
) -> ApiResult<GroupHead> {
    let signer_key = signed_by_caller(state, caller, &signed).await?;
    let roster = Roster::create(&signed).map_err(refused)?;
    let GroupChange::Create { members, .. } = &signed.event.change else {
        return Err(ApiError::Internal("a created group's event is a creation"));
    };
    let mut tx = state.pool.begin().await?;
    let mut joining = members.clone();
    joining.push(caller.user_id);
    store::check_addable(&mut tx, caller.user_id, &joining).await?;
    if !store::insert_group(&mut tx, &roster).await? {
        return Err(ApiError::Conflict("a group with this id exists"));
    }
    let record = GroupRecord {
        signed,
        signer_key,
        at: now_millis(),
    };
    store::append(&mut tx, &record, &Default::default(), &roster).await?;
    tx.commit().await?;
    changed(state, roster.group, roster.seq, None).await;
    Ok(GroupHead {
        group: roster.group,
        seq: roster.seq,
        member: true,
    })
}

/// Appends a signed change to a group's log.
pub async fn append(
    state: &AppState,
    caller: Caller,
    group: GroupId,
    signed: SignedGroupEvent,
) -> ApiResult<GroupRecord> {
    if signed.event.group != group {
        return Err(ApiError::BadRequest(
            "the event is for another group".into(),
        ));
    }
    let signer_key = signed_by_caller(state, caller, &signed).await?;
    let mut tx = state.pool.begin().await?;
    let mut roster = store::roster_for_update(&mut tx, group)
        .await?
        .ok_or(ApiError::NotFound("no such group"))?;
    // Someone outside learns nothing of the group, not even its length.
    if !roster.is_member(caller.user_id) {
        return Err(ApiError::NotFound("no such group"));
    }
    let before = roster.members.clone();
    roster.apply(&signed).map_err(refused)?;
    if roster.seq > MAX_GROUP_EVENTS {
        return Err(ApiError::LimitReached(
            "this group has changed as often as it may",
        ));
    }
    if let GroupChange::Add { users } = &signed.event.change {
        store::check_addable(&mut tx, caller.user_id, users).await?;
    }
    let gone = match &signed.event.change {
        GroupChange::Remove { user } => Some(*user),
        GroupChange::Leave => Some(caller.user_id),
        _ => None,
    };
    let record = GroupRecord {
        signed,
        signer_key,
        at: now_millis(),
    };
    store::append(&mut tx, &record, &before, &roster).await?;
    tx.commit().await?;
    changed(state, group, roster.seq, gone).await;
    Ok(record)
}

/// Tells the rest of the server. The event is stored already: a failure
/// here (telling sockets) must not turn the answer into an error the client
/// would retry into a conflict; members fetch the log when they reconnect.
async fn changed(state: &AppState, group: GroupId, seq: u64, gone: Option<UserId>) {
    let published = state
        .events
        .publish(Event::GroupChanged { group, seq, gone });
    if let Err(e) = published.settled().await {
        tracing::warn!(error = %e, %group, "telling members of a group change failed");
    }
}
