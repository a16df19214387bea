//! Database access for users: accounts, profiles and privacy settings, and
//! the browsers known to have signed in to each. (Devices are in
//! `devices::store`.)

use crate::error::{ApiError, ApiResult};
use parley_protocol::UserId;
use parley_protocol::api::{PhotoVersion, Profile, UserCard, Visibility};
use sqlx::{PgExecutor, PgPool};

/// The columns of a [`UserRow`] for the user `u` as the viewer bound as `$1`
/// sees them: the photo's version only when they may see it. Decided in
/// the query, so a list of cards costs one query whoever asks.
macro_rules! card_columns {
    () => {
        concat!(
            "u.id, u.handle, u.display_name, u.about, ",
            $crate::photos::store::photo_seen_by_1!(),
            " AS photo"
        )
    };
}
pub(crate) use card_columns;

/// The columns of a [`ProfileRow`], for a query on `users`: the owner sees
/// their own photo whatever their setting.
macro_rules! profile_columns {
    () => {
        "id, handle, display_name, about, read_receipts, last_seen_visibility, photo_visibility,
         (SELECT p.etag FROM user_photos p WHERE p.user_id = users.id) AS photo"
    };
}

/// A user row as others and the owner see it.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    /// Account id.
    pub id: UserId,
    /// Normalised handle.
    pub handle: String,
    /// Display name.
    pub display_name: String,
    /// About text.
    pub about: String,
    /// The profile photo's version, when there is one the viewer may see.
    pub photo: Option<String>,
}

/// The owner's view: the public fields plus privacy settings.
#[derive(Debug, sqlx::FromRow)]
pub struct ProfileRow {
    /// Public fields.
    #[sqlx(flatten)]
    pub user: UserRow,
    /// Read receipts on.
    pub read_receipts: bool,
    /// `everyone`, `contacts` or `nobody`.
    pub last_seen_visibility: String,
    /// Who may see the profile photo, stored like `last_seen_visibility`.
    pub photo_visibility: String,
}

impl From<ProfileRow> for Profile {
    fn from(r: ProfileRow) -> Self {
        Self {
            user_id: r.user.id,
            handle: r.user.handle,
            display_name: r.user.display_name,
            about: r.user.about,
            read_receipts: r.read_receipts,
            last_seen: Visibility::parse(&r.last_seen_visibility),
            photo: r.user.photo.map(PhotoVersion::new),
            photo_visibility: Visibility::parse(&r.photo_visibility),
        }
    }
}

impl From<UserRow> for UserCard {
    fn from(r: UserRow) -> Self {
        Self {
            user_id: r.id,
            handle: r.handle,
            display_name: r.display_name,
            about: r.about,
            photo: r.photo.map(PhotoVersion::new),
        }
    }
}

/// Inserts a user; `HandleTaken` when the handle is in use.
pub async fn insert_user(
    db: impl PgExecutor<'_>,
    handle: &str,
    display_name: &str,
    password_hash: &str,
) -> ApiResult<ProfileRow> {
    sqlx::query_as(concat!(
        "INSERT INTO users (id, handle, display_name, password_hash)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (handle) DO NOTHING
         RETURNING ",
        profile_columns!()
    ))
    .bind(uuid::Uuid::now_v7())
    .bind(handle)
    .bind(display_name)
    .bind(password_hash)
    .fetch_optional(db)
    .await?
    .ok_or(ApiError::HandleTaken)
}

/// A user and their password hash, by normalised handle.
pub async fn credentials(pool: &PgPool, handle: &str) -> ApiResult<Option<(ProfileRow, String)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        user: ProfileRow,
        password_hash: String,
    }
    let row: Option<Row> = sqlx::query_as(concat!(
        "SELECT ",
        profile_columns!(),
        ", password_hash FROM users WHERE handle = $1"
    ))
    .bind(handle)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.user, r.password_hash)))
}

/// The owner's profile.
pub async fn profile(pool: &PgPool, id: UserId) -> ApiResult<Option<ProfileRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        profile_columns!(),
        " FROM users WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// A user by normalised handle, as `viewer` sees them.
pub async fn user_by_handle(
    pool: &PgPool,
    viewer: UserId,
    handle: &str,
) -> ApiResult<Option<UserRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        card_columns!(),
        " FROM users u WHERE u.handle = $2"
    ))
    .bind(viewer)
    .bind(handle)
    .fetch_optional(pool)
    .await?)
}

/// A user by id, as `viewer` sees them.
pub async fn user_by_id(pool: &PgPool, viewer: UserId, id: UserId) -> ApiResult<Option<UserRow>> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        card_columns!(),
        " FROM users u WHERE u.id = $2"
    ))
    .bind(viewer)
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Whether both users have read receipts on (`None` when neither exists).
pub async fn read_receipts_on(
    pool: &PgPool,
    a: UserId,
    b: UserId,
) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar("SELECT bool_and(read_receipts) FROM users WHERE id = $1 OR id = $2")
        .bind(a)
        .bind(b)
        .fetch_one(pool)
        .await
}

/// Fields of a profile change, each optional.
#[derive(Debug, Default)]
pub struct ProfileChange<'a> {
    /// New display name.
    pub display_name: Option<&'a str>,
    /// New about text.
    pub about: Option<&'a str>,
    /// Read receipts on/off.
    pub read_receipts: Option<bool>,
    /// Last seen visibility.
    pub last_seen: Option<Visibility>,
    /// Profile photo visibility.
    pub photo_visibility: Option<Visibility>,
}

/// Applies a profile change; returns the new profile.
pub async fn update_profile(
    pool: &PgPool,
    id: UserId,
    change: ProfileChange<'_>,
) -> ApiResult<ProfileRow> {
    sqlx::query_as(concat!(
        "UPDATE users SET display_name = COALESCE($2, display_name), about = COALESCE($3, about),
                read_receipts = COALESCE($4, read_receipts),
                last_seen_visibility = COALESCE($5, last_seen_visibility),
                photo_visibility = COALESCE($6, photo_visibility)
         WHERE id = $1
         RETURNING ",
        profile_columns!()
    ))
    .bind(id)
    .bind(change.display_name)
    .bind(change.about)
    .bind(change.read_receipts)
    .bind(change.last_seen.map(Visibility::as_str))
    .bind(change.photo_visibility.map(Visibility::as_str))
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::Unauthorized)
}

/// Browsers remembered per account; signing in from one more forgets the oldest.
const KNOWN_BROWSERS_PER_USER: i64 = 32;

/// Whether the browser holding this cookie (by its hash) signed in to `user` before.
pub async fn is_known_browser(pool: &PgPool, user: UserId, cookie_hash: &[u8]) -> ApiResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM known_browsers WHERE token_hash = $1 AND user_id = $2)",
    )
    .bind(cookie_hash)
    .bind(user)
    .fetch_one(pool)
    .await?)
}

/// Remembers a browser that just signed in to `user`.
pub async fn remember_browser(pool: &PgPool, user: UserId, cookie_hash: &[u8]) -> ApiResult<()> {
    sqlx::query(
        "WITH added AS (INSERT INTO known_browsers (token_hash, user_id) VALUES ($1, $2)
                        ON CONFLICT DO NOTHING)
         DELETE FROM known_browsers WHERE user_id = $2 AND token_hash IN (
             SELECT token_hash FROM known_browsers WHERE user_id = $2
             ORDER BY created_at DESC OFFSET $3)",
    )
    .bind(cookie_hash)
    .bind(user)
    .bind(KNOWN_BROWSERS_PER_USER - 1)
    .execute(pool)
    .await?;
    Ok(())
}
