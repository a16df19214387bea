//! The SQL of notifications: subscriptions, settings, the VAPID key.

use parley_protocol::api::{ChatMute, Mute, NotificationSettings};
use parley_protocol::{ConversationId, DeviceId, Millis, UserId};
use sqlx::PgPool;

/// A device's subscription, as the sender needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Target {
    /// The push service's URL.
    pub endpoint: String,
    /// The browser's P-256 key (65 bytes).
    pub p256dh: Vec<u8>,
    /// The RFC 8291 secret (16 bytes).
    pub auth: Vec<u8>,
}

/// Sets `device`'s subscription, replacing an earlier one (and its fetch
/// capability).
pub async fn subscribe(
    pool: &PgPool,
    device: DeviceId,
    target: &Target,
    fetch_hash: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth, fetch_hash)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (device_id) DO UPDATE SET endpoint = $2, p256dh = $3, auth = $4,
             fetch_hash = $5, created_at = now()",
    )
    .bind(device)
    .bind(&target.endpoint)
    .bind(&target.p256dh)
    .bind(&target.auth)
    .bind(fetch_hash)
    .execute(pool)
    .await?;
    Ok(())
}

/// Removes `device`'s subscription.
pub async fn unsubscribe(pool: &PgPool, device: DeviceId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM push_subscriptions WHERE device_id = $1")
        .bind(device)
        .execute(pool)
        .await?;
    Ok(())
}

/// Removes `device`'s subscription if it still names `endpoint` (the push
/// service said it is gone; a newer one stays).
pub async fn drop_gone(
    pool: &PgPool,
    device: DeviceId,
    endpoint: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM push_subscriptions WHERE device_id = $1 AND endpoint = $2")
        .bind(device)
        .bind(endpoint)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// `device`'s subscription.
pub async fn target(pool: &PgPool, device: DeviceId) -> Result<Option<Target>, sqlx::Error> {
    sqlx::query_as("SELECT endpoint, p256dh, auth FROM push_subscriptions WHERE device_id = $1")
        .bind(device)
        .fetch_optional(pool)
        .await
}

/// The device a fetch capability belongs to.
pub async fn device_of_fetch(pool: &PgPool, hash: &[u8]) -> Result<Option<DeviceId>, sqlx::Error> {
    sqlx::query_scalar("SELECT device_id FROM push_subscriptions WHERE fetch_hash = $1")
        .bind(hash)
        .fetch_optional(pool)
        .await
}

/// `user`'s settings, mutes that ended at `now` left out.
pub async fn settings(
    pool: &PgPool,
    user: UserId,
    now: Millis,
) -> Result<NotificationSettings, sqlx::Error> {
    let dnd: Option<bool> =
        sqlx::query_scalar("SELECT dnd FROM notification_settings WHERE user_id = $1")
            .bind(user)
            .fetch_optional(pool)
            .await?;
    let rows: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT chat, until FROM chat_mutes
         WHERE user_id = $1 AND (until IS NULL OR until > $2) ORDER BY chat",
    )
    .bind(user)
    .bind(now)
    .fetch_all(pool)
    .await?;
    let mutes = rows
        .into_iter()
        .filter_map(|(chat, until)| {
            Some(ChatMute {
                chat: chat.parse::<ConversationId>().ok()?,
                mute: until.map_or(Mute::Always, Mute::Until),
            })
        })
        .collect();
    Ok(NotificationSettings {
        dnd: dnd.unwrap_or(false),
        mutes,
    })
}

/// What silences a push to `user` now: do-not-disturb, and which of
/// `chats` are muted (one read, for the chats of one push only).
pub async fn silenced(
    pool: &PgPool,
    user: UserId,
    chats: &[ConversationId],
    now: Millis,
) -> Result<(bool, Vec<ConversationId>), sqlx::Error> {
    let keys: Vec<String> = chats.iter().map(ToString::to_string).collect();
    let (dnd, muted): (Option<bool>, Vec<String>) = sqlx::query_as(
        "SELECT (SELECT dnd FROM notification_settings WHERE user_id = $1),
                ARRAY(SELECT chat FROM chat_mutes
                      WHERE user_id = $1 AND chat = ANY($2) AND (until IS NULL OR until > $3))",
    )
    .bind(user)
    .bind(&keys)
    .bind(now)
    .fetch_one(pool)
    .await?;
    let muted = muted.iter().filter_map(|c| c.parse().ok()).collect();
    Ok((dnd.unwrap_or(false), muted))
}

/// Turns do-not-disturb on or off.
pub async fn set_dnd(pool: &PgPool, user: UserId, on: bool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO notification_settings (user_id, dnd) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET dnd = $2",
    )
    .bind(user)
    .bind(on)
    .execute(pool)
    .await?;
    Ok(())
}

/// Mutes `chat` (`None`: until unmuted), unless `user` already has `max`
/// other live mutes; answers whether it is muted now. Ended mutes go first.
pub async fn mute(
    pool: &PgPool,
    user: UserId,
    chat: ConversationId,
    until: Option<Millis>,
    now: Millis,
    max: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = pool.begin().await?;
    // One account's changes in a row, so the count below stays true (the
    // row lock does not conflict with foreign key checks).
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
        .bind(user)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM chat_mutes WHERE user_id = $1 AND until <= $2")
        .bind(user)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let key = chat.to_string();
    let others: i64 =
        sqlx::query_scalar("SELECT count(*) FROM chat_mutes WHERE user_id = $1 AND chat <> $2")
            .bind(user)
            .bind(&key)
            .fetch_one(&mut *tx)
            .await?;
    if others >= max {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO chat_mutes (user_id, chat, until) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, chat) DO UPDATE SET until = $3",
    )
    .bind(user)
    .bind(&key)
    .bind(until)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Unmutes `chat`.
pub async fn unmute(pool: &PgPool, user: UserId, chat: ConversationId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM chat_mutes WHERE user_id = $1 AND chat = $2")
        .bind(user)
        .bind(chat.to_string())
        .execute(pool)
        .await?;
    Ok(())
}

/// The secret named `name`, made by `make` and kept on first use; every
/// node ends up with the first one written.
pub async fn server_key(
    pool: &PgPool,
    name: &str,
    make: impl FnOnce() -> Vec<u8>,
) -> Result<Vec<u8>, sqlx::Error> {
    sqlx::query("INSERT INTO server_keys (name, secret) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(name)
        .bind(make())
        .execute(pool)
        .await?;
    sqlx::query_scalar("SELECT secret FROM server_keys WHERE name = $1")
        .bind(name)
        .fetch_one(pool)
        .await
}
