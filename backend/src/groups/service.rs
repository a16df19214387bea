//! Creating groups and appending to their logs.
//!
//! A change is checked three ways before it is stored: the caller's device
//! signed it (with the key it published), it follows the stored log (its
//! `seq` and `prev`; otherwise 409, so a client that raced another admin
//! fetches and signs again), and [`Roster::apply`] allows it, the same rules
//! every member's client applies when it replays the log.

use super::store;
use crate::auth::Caller;
use crate::delivery::now_millis;
use crate::error::{ApiError, ApiResult};
use crate::events::Event;
use crate::keys::{store as keys, verify};
use crate::state::AppState;
use parley_protocol::group::{
    GroupChange, GroupHead, GroupRecord, Roster, RuleError, SignedGroupEvent,
};
use parley_protocol::{GroupId, UserId};

/// Events a group's log may hold: every new member replays it all.
const MAX_GROUP_EVENTS: u64 = 10_000;

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
