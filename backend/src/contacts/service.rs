//! Changing a contact list, and telling what depends on it: whom the owner
//! knows (a contact is no stranger) and who may see their presence
//! ("contacts only"), applied before the change is answered.

use super::store;
use crate::error::{ApiError, ApiResult};
use crate::events::{ContactChange, Event};
use crate::state::AppState;
use parley_protocol::UserId;
use parley_protocol::api::Contact;

/// Adds `contact` to `owner`'s contacts (idempotent).
pub async fn add(state: &AppState, owner: UserId, contact: UserId) -> ApiResult<Contact> {
    if contact == owner {
        return Err(ApiError::BadRequest("you cannot add yourself".into()));
    }
    let added = store::add(&state.pool, owner, contact)
        .await?
        .ok_or(ApiError::NotFound("no such user"))?;
    changed(state, owner, ContactChange::Added(contact)).await?;
    Ok(added.into())
}

/// Removes `contact` from `owner`'s contacts.
pub async fn remove(state: &AppState, owner: UserId, contact: UserId) -> ApiResult<()> {
    if !store::remove(&state.pool, owner, contact).await? {
        return Err(ApiError::NotFound("not in your contacts"));
    }
    changed(state, owner, ContactChange::Removed(contact)).await
}

async fn changed(state: &AppState, user: UserId, change: ContactChange) -> ApiResult<()> {
    state
        .events
        .publish(Event::ContactsChanged { user, change })
        .settled()
        .await?;
    Ok(())
}
