//! Blocking people: a blocked person's messages, calls and typing no
//! longer reach the blocker, and they no longer see the blocker's presence
//! or profile photo; nothing tells them. See `docs/architecture.md`.

pub mod service;
pub mod store;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::routing::mount;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use parley_protocol::UserId;
use parley_protocol::api::UserCard;
use parley_protocol::endpoint::{Block, Blocks, Unblock};

/// Mounts the block list and blocking.
pub fn routes(cfg: &mut web::ServiceConfig) {
    mount::<Blocks, _, _>(cfg, list);
    mount::<Block, _, _>(cfg, block);
    mount::<Unblock, _, _>(cfg, unblock);
}

/// `GET /blocks`, by name.
async fn list(caller: Caller, state: web::Data<AppState>) -> ApiResult<web::Json<Vec<UserCard>>> {
    let rows = store::list(&state.pool, caller.user_id).await?;
    Ok(web::Json(rows.into_iter().map(UserCard::from).collect()))
}

/// `PUT /blocks/{user_id}`: idempotent.
async fn block(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> ApiResult<web::Json<UserCard>> {
    // Each change is told to presence and the cached sets: bounded.
    state.limits.block_change(caller.user_id)?;
    let card = service::block(&state, caller.user_id, path.into_inner()).await?;
    Ok(web::Json(card))
}

/// `DELETE /blocks/{user_id}`: idempotent.
async fn unblock(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> ApiResult<HttpResponse> {
    state.limits.block_change(caller.user_id)?;
    service::unblock(&state, caller.user_id, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
