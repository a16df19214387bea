//! Contact lists and finding people by exact handle (never by prefix: no enumeration).

use crate::accounts::store::{self, UserRow};
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
    let user = store::user_by_handle(&state.pool, &handle)
        .await?
        .ok_or(ApiError::NotFound("nobody has this handle"))?;
    Ok(web::Json(user.into()))
}

/// `GET /users/{id}`: the card of someone the caller already knows the id of
/// (a sender of a message); ids are random, so this enumerates nothing.
async fn by_id(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> ApiResult<web::Json<UserCard>> {
    let user = sqlx::query_as::<_, UserRow>(
        "SELECT id, handle, display_name, about FROM users WHERE id = $1",
    )
    .bind(path.into_inner())
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound("no such user"))?;
    Ok(web::Json(user.into()))
}

#[derive(sqlx::FromRow)]
struct ContactRow {
    #[sqlx(flatten)]
    user: UserRow,
    added_at: i64,
}

impl From<ContactRow> for Contact {
    fn from(r: ContactRow) -> Self {
        Self {
            user: r.user.into(),
            added_at: r.added_at,
        }
    }
}

/// `GET /contacts`, by name.
async fn list(caller: Caller, state: web::Data<AppState>) -> ApiResult<web::Json<Vec<Contact>>> {
    let rows: Vec<ContactRow> = sqlx::query_as(
        "SELECT u.id, u.handle, u.display_name, u.about,
                (extract(epoch FROM c.created_at) * 1000)::int8 AS added_at
         FROM contacts c JOIN users u ON u.id = c.contact_id
         WHERE c.owner_id = $1
         ORDER BY lower(u.display_name), u.handle",
    )
    .bind(caller.user_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(web::Json(rows.into_iter().map(Contact::from).collect()))
}

/// `PUT /contacts/{user_id}`: idempotent.
async fn add(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> ApiResult<web::Json<Contact>> {
    let contact = path.into_inner();
    if contact == caller.user_id {
        return Err(ApiError::BadRequest("you cannot add yourself".into()));
    }
    let row: Option<ContactRow> = sqlx::query_as(
        "WITH added AS (
             INSERT INTO contacts (owner_id, contact_id)
             SELECT $1, id FROM users WHERE id = $2
             ON CONFLICT (owner_id, contact_id) DO UPDATE SET created_at = contacts.created_at
             RETURNING contact_id, created_at
         )
         SELECT u.id, u.handle, u.display_name, u.about,
                (extract(epoch FROM a.created_at) * 1000)::int8 AS added_at
         FROM added a JOIN users u ON u.id = a.contact_id",
    )
    .bind(caller.user_id)
    .bind(contact)
    .fetch_optional(&state.pool)
    .await?;
    let contact = row.ok_or(ApiError::NotFound("no such user"))?;
    // No longer a stranger: their messages are bounded like anyone's.
    state
        .delivery
        .acquaintances
        .added_contact(caller.user_id, contact.user.id);
    // "Contacts only" presence may now include them.
    crate::presence::refresh(&state.presence, &state.pool, &state.gateway, caller.user_id).await?;
    Ok(web::Json(contact.into()))
}

/// `DELETE /contacts/{user_id}`.
async fn remove(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> ApiResult<HttpResponse> {
    let done = sqlx::query("DELETE FROM contacts WHERE owner_id = $1 AND contact_id = $2")
        .bind(caller.user_id)
        .bind(path.into_inner())
        .execute(&state.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("not in your contacts"));
    }
    state.delivery.acquaintances.removed_contact(caller.user_id);
    crate::presence::refresh(&state.presence, &state.pool, &state.gateway, caller.user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}
