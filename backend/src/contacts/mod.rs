//! Contact lists and finding people by exact handle (never by prefix: no enumeration).

pub mod service;
pub mod store;

use crate::accounts::store as accounts;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routing::mount;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use parley_protocol::api::{Contact, LookupQuery, UserCard};
use parley_protocol::endpoint::{AddContact, Contacts, LookupUser, RemoveContact, User};
use parley_protocol::{UserId, validate};

/// Mounts look-ups, user cards and the contact list.
pub fn routes(cfg: &mut web::ServiceConfig) {
    mount::<LookupUser, _, _>(cfg, lookup);
    mount::<User, _, _>(cfg, by_id);
    mount::<Contacts, _, _>(cfg, list);
    mount::<AddContact, _, _>(cfg, add);
    mount::<RemoveContact, _, _>(cfg, remove);
}

/// `GET /users/lookup?handle=…`: one user by exact handle, rate limited per account.
async fn lookup(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<LookupQuery>,
) -> ApiResult<web::Json<UserCard>> {
    state.limits.lookup(caller.user_id)?;
    let handle = validate::normalize_handle(&query.handle)?;
    let user = accounts::user_by_handle(&state.pool, caller.user_id, &handle)
        .await?
        .ok_or(ApiError::NotFound("nobody has this handle"))?;
    Ok(web::Json(user.into()))
}

/// `GET /users/{id}`: the card of someone the caller already knows the id of
/// (a sender of a message); ids are random, so this enumerates nothing.
async fn by_id(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> ApiResult<web::Json<UserCard>> {
    let user = accounts::user_by_id(&state.pool, caller.user_id, path.into_inner())
        .await?
        .ok_or(ApiError::NotFound("no such user"))?;
    Ok(web::Json(user.into()))
}

/// `GET /contacts`, by name.
async fn list(caller: Caller, state: web::Data<AppState>) -> ApiResult<web::Json<Vec<Contact>>> {
    let rows = store::list(&state.pool, caller.user_id).await?;
    Ok(web::Json(rows.into_iter().map(Contact::from).collect()))
}

/// `PUT /contacts/{user_id}`: idempotent.
async fn add(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> ApiResult<web::Json<Contact>> {
    let contact = service::add(&state, caller.user_id, path.into_inner()).await?;
    Ok(web::Json(contact))
}

/// `DELETE /contacts/{user_id}`.
async fn remove(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> ApiResult<HttpResponse> {
    service::remove(&state, caller.user_id, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
