//! Blocking and unblocking, and telling what depends on it before the
//! change is answered: the blocker's cached set (which messages, call
//! signals and typing reach their devices) and presence (each of the two
//! stops seeing the other).
//!
//! Blocking keeps the contact, as WhatsApp does: unblocking restores the
//! relationship as it was. A blocked person's "my contacts" privileges are
//! gone all the same (`may_see` refuses them).

use super::store::{self, Added};
use crate::accounts::store as accounts;
use crate::error::{ApiError, ApiResult};
use crate::events::{BlockChange, Event};
use crate::state::AppState;
use parley_protocol::UserId;
use parley_protocol::api::UserCard;

/// `user` blocks `peer` (idempotent); returns `peer`'s card.
pub async fn block(state: &AppState, user: UserId, peer: UserId) -> ApiResult<UserCard> {
    if peer == user {
        return Err(ApiError::BadRequest("you cannot block yourself".into()));
    }
    match store::add(&state.pool, user, peer).await? {
        Added::New => changed(state, user, BlockChange::Blocked(peer)).await?,
        Added::Already => {}
        Added::Full => {
            return Err(ApiError::LimitReached(
                "you have blocked as many people as you can: unblock someone first",
            ));
        }
        Added::NoSuchUser => return Err(ApiError::NotFound("no such user")),
    }
    let card = accounts::user_by_id(&state.pool, user, peer)
        .await?
        .ok_or(ApiError::NotFound("no such user"))?;
    Ok(card.into())
}

/// `user` unblocks `peer` (idempotent: nothing happens when `peer` was not
/// blocked): what `peer` sends from now on arrives again.
pub async fn unblock(state: &AppState, user: UserId, peer: UserId) -> ApiResult<()> {
    if !store::remove(&state.pool, user, peer).await? {
        return Ok(());
    }
    changed(state, user, BlockChange::Unblocked(peer)).await
}

async fn changed(state: &AppState, user: UserId, change: BlockChange) -> ApiResult<()> {
    state
        .events
        .publish(Event::BlocksChanged { user, change })
        .settled()
        .await?;
    Ok(())
}
