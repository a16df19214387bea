//! Groups: their signed log of changes, the membership it makes, and the
//! members cache group sends read. See "Groups" in `docs/architecture.md`.

pub mod members;
pub mod service;
pub mod store;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routing::mount;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use parley_protocol::GroupId;
use parley_protocol::endpoint::{AppendGroupEvent, CreateGroup, GroupEvents, Groups};
use parley_protocol::group::{GROUP_EVENTS_PER_PAGE, GroupHead, GroupRecord, SignedGroupEvent};

/// Mounts the group endpoints.
pub fn routes(cfg: &mut web::ServiceConfig) {
    mount::<CreateGroup, _, _>(cfg, create);
    mount::<Groups, _, _>(cfg, list);
    mount::<AppendGroupEvent, _, _>(cfg, append);
    mount::<GroupEvents, _, _>(cfg, events);
}

/// `POST /groups` (201).
async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<SignedGroupEvent>,
) -> ApiResult<HttpResponse> {
    state.limits.group_change(caller.user_id)?;
    let head = service::create(&state, caller, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(head))
}

/// `GET /groups`.
async fn list(caller: Caller, state: web::Data<AppState>) -> ApiResult<web::Json<Vec<GroupHead>>> {
    Ok(web::Json(store::heads(&state.pool, caller.user_id).await?))
}

/// `POST /groups/{group_id}/events` (201).
async fn append(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<GroupId>,
    body: web::Json<SignedGroupEvent>,
) -> ApiResult<HttpResponse> {
    state.limits.group_change(caller.user_id)?;
    let record: GroupRecord =
        service::append(&state, caller, path.into_inner(), body.into_inner()).await?;
    Ok(HttpResponse::Created().json(record))
}

#[derive(serde::Deserialize)]
struct After {
    after: u64,
}

/// `GET /groups/{group_id}/events?after=N`.
async fn events(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<GroupId>,
    query: web::Query<After>,
) -> ApiResult<web::Json<Vec<GroupRecord>>> {
    let page = store::events(
        &state.pool,
        path.into_inner(),
        caller.user_id,
        query.after,
        GROUP_EVENTS_PER_PAGE,
    )
    .await?
    .ok_or(ApiError::NotFound("no such group"))?;
    Ok(web::Json(page))
}
