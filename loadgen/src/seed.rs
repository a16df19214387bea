//! Bench accounts, written straight into the database the server uses.
//! Tokens are hashed exactly as the server does (SHA-256), so the server
//! authenticates them like any other device.

use anyhow::Result;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parley_protocol::{DeviceId, UserId};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

/// One seeded account with one device.
#[derive(Debug, Clone)]
pub struct Device {
    /// Account id.
    pub user: UserId,
    /// Device id.
    pub device: DeviceId,
    /// Bearer token for the socket.
    pub token: String,
}

/// Makes every one of `owners` have every one of `contacts` as a contact, so
/// that the server counts their messages as a contact's, not a stranger's
/// (whose queued messages it bounds to a few per device).
pub async fn contacts(pool: &PgPool, owners: &[Device], contacts: &[Device]) -> Result<()> {
    let owner_ids: Vec<UserId> = owners.iter().map(|d| d.user).collect();
    let contact_ids: Vec<UserId> = contacts.iter().map(|d| d.user).collect();
    sqlx::query(
        "INSERT INTO contacts (owner_id, contact_id)
         SELECT o, c FROM UNNEST($1::uuid[]) AS o, UNNEST($2::uuid[]) AS c
         WHERE o <> c ON CONFLICT DO NOTHING",
    )
    .bind(&owner_ids)
    .bind(&contact_ids)
    .execute(pool)
    .await?;
    Ok(())
}

/// How many people each user writes to in the traffic scenarios: people
/// message those they know, and the server treats everyone else as a
/// stranger (tight bounds on what they may queue, and the first message of
/// every new pair recorded).
pub const CIRCLE: usize = 32;

/// The members of sender `i`'s circle among `n` targets: the next
/// [`CIRCLE`] of them (when senders and targets are one list, never the
/// sender itself), every `stride`-th one: users spread over `stride` nodes
/// round-robin (user `i` on node `i % stride`, `n` a multiple of it) then
/// write only to people on other nodes.
pub fn circle(i: usize, n: usize, same_list: bool, stride: usize) -> impl Iterator<Item = usize> {
    let skip = usize::from(same_list);
    let stride = stride.max(1);
    let size = CIRCLE.min(n.saturating_sub(skip) / stride).max(1);
    (0..size).map(move |k| (i + skip + k * stride) % n.max(1))
}

/// Seeds every sender's circle among `targets` as contacts, both ways.
pub async fn circles(
    pool: &PgPool,
    senders: &[Device],
    targets: &[Device],
    stride: usize,
) -> Result<()> {
    let same_list = std::ptr::eq(senders, targets);
    let mut owners = Vec::new();
    let mut contacts = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        for t in circle(i, targets.len(), same_list, stride) {
            owners.extend([sender.user, targets[t].user]);
            contacts.extend([targets[t].user, sender.user]);
        }
    }
    sqlx::query(
        "INSERT INTO contacts (owner_id, contact_id)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[]) AS p(o, c)
         WHERE o <> c ON CONFLICT DO NOTHING",
    )
    .bind(&owners)
    .bind(&contacts)
    .execute(pool)
    .await?;
    Ok(())
}

/// Creates `n` accounts, each with one device. Their password hash is not a
/// valid hash: nobody can sign in to them with a password.
pub async fn devices(pool: &PgPool, n: usize) -> Result<Vec<Device>> {
    let run = Uuid::new_v4().simple().to_string();
    let mut out = Vec::with_capacity(n);
    for chunk_start in (0..n).step_by(10_000) {
        let chunk = (n - chunk_start).min(10_000);
        let mut users = Vec::with_capacity(chunk);
        let mut handles = Vec::with_capacity(chunk);
        let mut device_ids = Vec::with_capacity(chunk);
        let mut hashes = Vec::with_capacity(chunk);
        for i in chunk_start..chunk_start + chunk {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret)?;
            let token = URL_SAFE_NO_PAD.encode(secret);
            let device = Device {
                user: UserId::new_v7(),
                device: DeviceId::new_v7(),
                token,
            };
            users.push(device.user);
            handles.push(format!("b{}_{i}", &run[..12]));
            device_ids.push(device.device);
            hashes.push(Sha256::digest(device.token.as_bytes()).to_vec());
            out.push(device);
        }
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, handle, display_name, password_hash)
             SELECT id, handle, handle, '!' FROM UNNEST($1::uuid[], $2::text[]) AS t(id, handle)",
        )
        .bind(&users)
        .bind(&handles)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO devices (id, user_id, name, token_hash)
             SELECT d, u, 'load generator', h FROM UNNEST($1::uuid[], $2::uuid[], $3::bytea[]) AS t(d, u, h)",
        )
        .bind(&device_ids)
        .bind(&users)
        .bind(&hashes)
        .execute(&mut *tx)
        .await?;
        // Senders must address every device with published keys, and only
        // those; the load tool sends random bytes, so the keys are filler.
        sqlx::query(
            "INSERT INTO device_keys (device_id, curve25519, ed25519, signature)
             SELECT d, decode('00', 'hex'), decode('00', 'hex'), decode('00', 'hex') FROM UNNEST($1::uuid[]) AS t(d)",
        )
        .bind(&device_ids)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(out)
}

/// Rows still waiting in the queues of these devices.
pub async fn queued(pool: &PgPool, devices: &[Device]) -> Result<i64> {
    let ids: Vec<DeviceId> = devices.iter().map(|d| d.device).collect();
    Ok(
        sqlx::query_scalar("SELECT count(*) FROM queue WHERE device_id = ANY($1)")
            .bind(&ids)
            .fetch_one(pool)
            .await?,
    )
}

/// Rows left once the acks' batched deletes have committed (waits at most 10 s).
pub async fn queued_settled(pool: &PgPool, devices: &[Device]) -> Result<i64> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left = queued(pool, devices).await?;
        if left == 0 || std::time::Instant::now() > deadline {
            return Ok(left);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Makes the first of each pair have the second as a contact.
pub async fn pairs(pool: &PgPool, pairs: &[(Device, Device)]) -> Result<()> {
    let owners: Vec<UserId> = pairs.iter().map(|(o, _)| o.user).collect();
    let contacts: Vec<UserId> = pairs.iter().map(|(_, c)| c.user).collect();
    for (owners, contacts) in owners.chunks(10_000).zip(contacts.chunks(10_000)) {
        sqlx::query(
            "INSERT INTO contacts (owner_id, contact_id)
             SELECT o, c FROM UNNEST($1::uuid[], $2::uuid[]) AS t(o, c) ON CONFLICT DO NOTHING",
        )
        .bind(owners)
        .bind(contacts)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// A Web Push subscription for each device, at `endpoint(device)`, with a
/// valid P-256 key (the same for all: the receiver does not decrypt).
pub async fn subscriptions(
    pool: &PgPool,
    devices: &[Device],
    endpoint: impl Fn(DeviceId) -> String,
) -> Result<()> {
    // The P-256 generator point: a valid uncompressed key.
    let key = URL_SAFE_NO_PAD.decode(
        "BGsX0fLhLEJH-Lzm5WOkQPJ3A32BLeszoPShOUXYmMKWT-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
    )?;
    for chunk in devices.chunks(10_000) {
        let ids: Vec<DeviceId> = chunk.iter().map(|d| d.device).collect();
        let endpoints: Vec<String> = chunk.iter().map(|d| endpoint(d.device)).collect();
        let hashes: Vec<Vec<u8>> = chunk
            .iter()
            .map(|d| Sha256::digest(format!("fetch:{}", d.token).as_bytes()).to_vec())
            .collect();
        sqlx::query(
            "INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth, fetch_hash)
             SELECT d, e, $3, $4, h FROM UNNEST($1::uuid[], $2::text[], $5::bytea[]) AS t(d, e, h)",
        )
        .bind(&ids)
        .bind(&endpoints)
        .bind(&key)
        .bind([1u8; 16].as_slice())
        .bind(&hashes)
        .execute(pool)
        .await?;
    }
    Ok(())
}

/// Makes a group of `members`, the first its admin (rows only: the server
/// reads membership from them; the signed log is not needed to send).
pub async fn group(
    pool: &PgPool,
    group: parley_protocol::GroupId,
    members: &[Device],
) -> Result<()> {
    let users: Vec<UserId> = members.iter().map(|d| d.user).collect();
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO groups (id, seq, head, name, description) VALUES ($1, 1, '', 'load', '')",
    )
    .bind(group)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO group_members (group_id, user_id, admin, since)
         SELECT $1, u, u = $3, 1 FROM UNNEST($2::uuid[]) AS t(u)",
    )
    .bind(group)
    .bind(&users)
    .bind(users.first().copied())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
