//! Every query on `groups`, `group_events` and `group_members`.

use crate::error::{ApiError, ApiResult};
use parley_protocol::group::{GroupEvent, GroupHead, GroupRecord, Member, Role, Roster};
use parley_protocol::{GroupId, Millis, UserId};
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::BTreeMap;

/// Who is in a group now, as sending needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members {
    /// Members and whether each is an admin, sorted by user.
    pub users: Vec<(UserId, bool)>,
    /// Only admins may send.
    pub admins_send: bool,
}

impl Members {
    /// Whether `user` may send to the group.
    pub fn may_send(&self, user: UserId) -> Result<(), ApiError> {
        match self.users.binary_search_by_key(&user, |(u, _)| *u) {
            Ok(i) if self.users[i].1 || !self.admins_send => Ok(()),
            Ok(_) => Err(ApiError::Forbidden("only admins can send to this group")),
            Err(_) => Err(ApiError::Forbidden("you are not in this group")),
        }
    }

    /// Whether `user` is a member.
    pub fn contains(&self, user: UserId) -> bool {
        self.users.binary_search_by_key(&user, |(u, _)| *u).is_ok()
    }
}

#[derive(sqlx::FromRow)]
struct GroupRow {
    seq: i64,
    head: Vec<u8>,
    name: String,
    description: String,
    admins_send: bool,
    admins_edit: bool,
}

fn seq(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The group as its stored log made it, its row locked until the
/// transaction ends (changes to one group are applied one at a time).
pub async fn roster_for_update(
    tx: &mut Transaction<'_, Postgres>,
    group: GroupId,
) -> ApiResult<Option<Roster>> {
    let row: Option<GroupRow> = sqlx::query_as(
        "SELECT seq, head, name, description, admins_send, admins_edit
         FROM groups WHERE id = $1 FOR UPDATE",
    )
    .bind(group)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let members: Vec<(UserId, bool, i64)> = sqlx::query_as(
        "SELECT user_id, admin, since FROM group_members
         WHERE group_id = $1 AND left_seq IS NULL",
    )
    .bind(group)
    .fetch_all(&mut **tx)
    .await?;
    let head = row
        .head
        .try_into()
        .map_err(|_| ApiError::Internal("a stored group head is not a hash"))?;
    Ok(Some(Roster {
        group,
        seq: u64::try_from(row.seq).unwrap_or_default(),
        head,
        name: row.name,
        description: row.description,
        admins_send: row.admins_send,
        admins_edit: row.admins_edit,
        members: members
            .into_iter()
            .map(|(user, admin, since)| {
                let role = if admin { Role::Admin } else { Role::Member };
                let since = u64::try_from(since).unwrap_or_default();
                (user, Member { role, since })
            })
            .collect(),
    }))
}

/// Groups one person may be in at once.
pub const MAX_GROUPS_PER_ACCOUNT: i64 = 1_000;

/// Whether `actor` may add `users` to a group: each has an account, has
/// not blocked `actor`, and is in fewer than [`MAX_GROUPS_PER_ACCOUNT`]
/// groups.
pub async fn check_addable(
    tx: &mut Transaction<'_, Postgres>,
    actor: UserId,
    users: &[UserId],
) -> ApiResult<()> {
    let found: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE id = ANY($1)")
        .bind(users)
        .fetch_one(&mut **tx)
        .await?;
    if usize::try_from(found).is_ok_and(|n| n != users.len()) {
        return Err(ApiError::NotFound("no such user"));
    }
    let refused: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker = ANY($1) AND blocked = $2)
             OR EXISTS (SELECT 1 FROM group_members WHERE user_id = ANY($1) AND left_seq IS NULL
                        GROUP BY user_id HAVING count(*) >= $3)",
    )
    .bind(users)
    .bind(actor)
    .bind(MAX_GROUPS_PER_ACCOUNT)
    .fetch_one(&mut **tx)
    .await?;
    if refused {
        // One answer for both, so a block is not revealed.
        return Err(ApiError::Forbidden(
            "someone could not be added to the group",
        ));
    }
    Ok(())
}

/// Stores a new group's row; its first event and members follow with [`append`].
pub async fn insert_group(tx: &mut Transaction<'_, Postgres>, roster: &Roster) -> ApiResult<bool> {
    let done = sqlx::query(
        "INSERT INTO groups (id, seq, head, name, description) VALUES ($1, 0, '', '', '')
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(roster.group)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores `record` and what it changed: the group's row and its members
/// (from `before` to `after`).
pub async fn append(
    tx: &mut Transaction<'_, Postgres>,
    record: &GroupRecord,
    before: &BTreeMap<UserId, Member>,
    after: &Roster,
) -> ApiResult<()> {
    let event = &record.signed.event;
    let json = serde_json::to_string(event)
        .map_err(|_| ApiError::Internal("a group event is not encodable as JSON"))?;
    sqlx::query(
        "INSERT INTO group_events (group_id, seq, event, signature, signer_key, at)
         VALUES ($1, $2, $3::jsonb, $4, $5, $6)",
    )
    .bind(event.group)
    .bind(seq(event.seq))
    .bind(json)
    .bind(&record.signed.signature)
    .bind(&record.signer_key)
    .bind(record.at)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE groups SET seq = $2, head = $3, name = $4, description = $5,
             admins_send = $6, admins_edit = $7
         WHERE id = $1",
    )
    .bind(after.group)
    .bind(seq(after.seq))
    .bind(after.head.as_slice())
    .bind(&after.name)
    .bind(&after.description)
    .bind(after.admins_send)
    .bind(after.admins_edit)
    .execute(&mut **tx)
    .await?;

    let mut upsert_users = Vec::new();
    let mut upsert_admin = Vec::new();
    let mut upsert_since = Vec::new();
    for (user, member) in &after.members {
        if before.get(user) != Some(member) {
            upsert_users.push(*user);
            upsert_admin.push(member.role == Role::Admin);
            upsert_since.push(seq(member.since));
        }
    }
    if !upsert_users.is_empty() {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id, admin, since)
             SELECT $1, u.user_id, u.admin, u.since
             FROM UNNEST($2::uuid[], $3::bool[], $4::int8[]) AS u(user_id, admin, since)
             ON CONFLICT (group_id, user_id) DO UPDATE
                 SET admin = EXCLUDED.admin, since = EXCLUDED.since, left_seq = NULL",
        )
        .bind(after.group)
        .bind(&upsert_users)
        .bind(&upsert_admin)
        .bind(&upsert_since)
        .execute(&mut **tx)
        .await?;
    }
    let gone: Vec<UserId> = before
        .keys()
        .filter(|user| !after.members.contains_key(user))
        .copied()
        .collect();
    if !gone.is_empty() {
        sqlx::query(
            "UPDATE group_members SET left_seq = $3, admin = false
             WHERE group_id = $1 AND user_id = ANY($2)",
        )
        .bind(after.group)
        .bind(&gone)
        .bind(seq(after.seq))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Up to `limit` events after `after` for `reader`; `None` when `reader`
/// never was a member (the group is not theirs to see). A former member
/// sees the log up to the event that took them out.
pub async fn events(
    pool: &PgPool,
    group: GroupId,
    reader: UserId,
    after: u64,
    limit: usize,
) -> ApiResult<Option<Vec<GroupRecord>>> {
    let left: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT left_seq FROM group_members WHERE group_id = $1 AND user_id = $2",
    )
    .bind(group)
    .bind(reader)
    .fetch_optional(pool)
    .await?;
    let Some(left) = left else {
        return Ok(None);
    };
    let rows: Vec<(String, String, String, Millis)> = sqlx::query_as(
        "SELECT event::text, signature, signer_key, at FROM group_events
         WHERE group_id = $1 AND seq > $2 AND ($3::int8 IS NULL OR seq <= $3)
         ORDER BY seq LIMIT $4",
    )
    .bind(group)
    .bind(seq(after))
    .bind(left)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|(event, signature, signer_key, at)| {
            let event: GroupEvent = serde_json::from_str(&event)
                .map_err(|_| ApiError::Internal("a stored group event is unreadable"))?;
            Ok(GroupRecord {
                signed: parley_protocol::group::SignedGroupEvent { event, signature },
                signer_key,
                at,
            })
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

/// The groups `user` is in or was taken out of, with how far each log
/// goes for them.
pub async fn heads(pool: &PgPool, user: UserId) -> ApiResult<Vec<GroupHead>> {
    let rows: Vec<(GroupId, i64, Option<i64>)> = sqlx::query_as(
        "SELECT g.id, g.seq, m.left_seq FROM group_members m JOIN groups g ON g.id = m.group_id
         WHERE m.user_id = $1 ORDER BY g.id",
    )
    .bind(user)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(group, seq, left)| GroupHead {
            group,
            seq: u64::try_from(left.unwrap_or(seq)).unwrap_or_default(),
            member: left.is_none(),
        })
        .collect())
}

/// A group's current members, or `None` when there is no such group.
pub async fn members(pool: &PgPool, group: GroupId) -> ApiResult<Option<Members>> {
    let admins_send: Option<bool> =
        sqlx::query_scalar("SELECT admins_send FROM groups WHERE id = $1")
            .bind(group)
            .fetch_optional(pool)
            .await?;
    let Some(admins_send) = admins_send else {
        return Ok(None);
    };
    let users: Vec<(UserId, bool)> = sqlx::query_as(
        "SELECT user_id, admin FROM group_members
         WHERE group_id = $1 AND left_seq IS NULL ORDER BY user_id",
    )
    .bind(group)
    .fetch_all(pool)
    .await?;
    Ok(Some(Members { users, admins_send }))
}

/// Whether `a` and `b` are both members of some group: a member reads the
/// others' messages, so their read receipts may go to each other although
/// they never wrote to each other directly.
pub async fn share_a_group(pool: &PgPool, a: UserId, b: UserId) -> ApiResult<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (
             SELECT 1 FROM group_members x JOIN group_members y USING (group_id)
             WHERE x.user_id = $1 AND y.user_id = $2
               AND x.left_seq IS NULL AND y.left_seq IS NULL)",
    )
    .bind(a)
    .bind(b)
    .fetch_one(pool)
    .await?)
}
