//! The per-device queues in PostgreSQL, written by one group-commit task.
//!
//! Every insert and delete goes through [`QueueWriter::submit`], which only
//! appends to a list; one task takes everything pending and commits it in a
//! single transaction, so concurrent sends share one fsync. Operations get
//! increasing tickets and commit in ticket order, so a device that connects
//! can wait for "everything submitted before me" ([`QueueWriter::barrier`])
//! before reading its queue, and no message slips between drain and live.
//!
//! On shutdown the task commits everything submitted until then, and the
//! writer closes: a later submission is answered "not durable" at once (the
//! sender keeps the message in its outbox and retries elsewhere), never left
//! waiting for a task that is gone.

use crate::error::ApiResult;
use crate::tasks::{Shutdown, Tasks};
use bytes::Bytes;
use parley_protocol::frame::{self, ServerFrame};
use parley_protocol::{DeviceId, MessageId, Millis, UserId};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{Notify, oneshot, watch};

/// Most operations committed in one transaction.
const MAX_BATCH: usize = 8192;

/// What a queue row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i16)]
pub enum RowKind {
    /// A `Deliver` frame, acknowledged by the device.
    Message = 0,
    /// A `Receipt` frame, deleted once written to the socket.
    Receipt = 1,
}

/// One row to insert.
#[derive(Debug, Clone)]
pub struct Row {
    /// Target device.
    pub device: DeviceId,
    /// Message id, or a fresh id for receipts.
    pub row_id: MessageId,
    /// Delivery order.
    pub seq: i64,
    /// Message or receipt.
    pub kind: RowKind,
    /// A message's sender (whom its delivered receipt goes to), or whom a
    /// receipt is from.
    pub sender: UserId,
    /// The encoded frame.
    pub frame: Bytes,
    /// When it may be dropped undelivered (a disappearing message).
    pub expires_at: Option<Millis>,
    /// The same frame goes to many devices (a group message): it is stored
    /// once, in `queue_bodies`, and each device's row names it.
    pub shared: bool,
}

/// A committed or failed write, for whoever waits on it.
pub type Durable = oneshot::Receiver<bool>;

#[derive(Debug)]
enum Op {
    Insert(Row, Option<oneshot::Sender<bool>>),
    /// Insert, or replace the frame of the row already there (a receipt
    /// that more ids were merged into).
    Replace(Row),
    Delete(DeviceId, MessageId),
}

#[derive(Debug, Default)]
struct Pending {
    ops: Vec<Op>,
    last_ticket: u64,
    /// The task has stopped taking operations (shutdown).
    closed: bool,
}

/// Told of the rows each transaction committed (inserted or replaced), in
/// commit order, before anyone waiting on them hears: between nodes, the
/// node holding a device's socket learns of rows written elsewhere.
pub trait OnCommit: Send + Sync {
    /// The rows of one transaction, committed (`ok`) or not.
    fn committed(&self, rows: Vec<Row>, ok: bool);
}

struct Inner {
    pending: Mutex<Pending>,
    wake: Notify,
    committed: watch::Sender<u64>,
    /// Set once, when the node joins a cluster.
    on_commit: OnceLock<Arc<dyn OnCommit>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("pending", &self.pending)
            .field("on_commit", &self.on_commit.get().is_some())
            .finish_non_exhaustive()
    }
}

/// Handle to the group-commit writer; cheap to clone.
#[derive(Debug, Clone)]
pub struct QueueWriter {
    inner: Arc<Inner>,
}

impl QueueWriter {
    /// Starts the writer task among `tasks`.
    pub fn start(pool: PgPool, tasks: &Tasks) -> Self {
        let (committed, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
            committed,
            on_commit: OnceLock::new(),
        });
        tasks.spawn("queue writer", {
            let inner = inner.clone();
            |shutdown| run(pool, inner, shutdown)
        });
        Self { inner }
    }

    fn submit(&self, op: Op) {
        {
            let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
            if pending.closed {
                // Dropped: whoever waits on it hears "not durable".
                return;
            }
            pending.last_ticket += 1;
            pending.ops.push(op);
        }
        self.inner.wake.notify_one();
    }

    /// Tells `hook` of every later commit's rows; only the first hook set counts.
    pub fn on_commit(&self, hook: Arc<dyn OnCommit>) {
        let _ = self.inner.on_commit.set(hook);
    }

    /// Queues an insert; the receiver says whether it committed.
    pub fn insert(&self, row: Row) -> Durable {
        let (tx, rx) = oneshot::channel();
        self.submit(Op::Insert(row, Some(tx)));
        rx
    }

    /// Queues an insert nobody waits for (receipts to offline devices).
    pub fn insert_detached(&self, row: Row) {
        self.submit(Op::Insert(row, None));
    }

    /// Queues a receipt row that replaces the frame of the row with the same
    /// id, if it is still there (nobody waits for it).
    pub fn replace_detached(&self, row: Row) {
        self.submit(Op::Replace(row));
    }

    /// Queues the deletion of an acknowledged row.
    pub fn delete(&self, device: DeviceId, row_id: MessageId) {
        self.submit(Op::Delete(device, row_id));
    }

    /// The ticket of the last operation submitted so far.
    pub fn last_ticket(&self) -> u64 {
        self.inner
            .pending
            .lock()
            .map(|p| p.last_ticket)
            .unwrap_or_else(|p| p.into_inner().last_ticket)
    }

    /// Waits until every operation up to `ticket` has been attempted.
    pub async fn barrier(&self, ticket: u64) {
        let mut rx = self.inner.committed.subscribe();
        let _ = rx.wait_for(|done| *done >= ticket).await;
    }
}

async fn run(pool: PgPool, inner: Arc<Inner>, shutdown: Shutdown) {
    loop {
        let (ops, ticket, closed) = {
            let mut pending = inner.pending.lock().unwrap_or_else(|p| p.into_inner());
            // Closed under the same lock that submissions take: what got in
            // before is committed below, nothing gets in after.
            pending.closed |= shutdown.is_cancelled();
            let take = pending.ops.len().min(MAX_BATCH);
            let ops: Vec<Op> = pending.ops.drain(..take).collect();
            // Tickets are consecutive, so the last one taken is the last
            // submitted minus what is still pending.
            let ticket = pending.last_ticket - pending.ops.len() as u64;
            (ops, ticket, pending.closed)
        };
        if ops.is_empty() {
            if closed {
                // Nothing will ever be committed again: no barrier may wait.
                inner.committed.send_replace(u64::MAX);
                return;
            }
            tokio::select! {
                () = inner.wake.notified() => {}
                () = shutdown.cancelled() => {}
            }
            continue;
        }
        let ok = commit(&pool, &ops).await;
        if let Err(e) = &ok {
            tracing::error!(error = %e, ops = ops.len(), "queue commit failed");
            // Give a struggling database a moment instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ok = ok.is_ok();
        if let Some(hook) = inner.on_commit.get() {
            let rows = ops
                .iter()
                .filter_map(|op| match op {
                    Op::Insert(row, _) | Op::Replace(row) => Some(row.clone()),
                    Op::Delete(..) => None,
                })
                .collect::<Vec<_>>();
            if !rows.is_empty() {
                hook.committed(rows, ok);
            }
        }
        for op in ops {
            if let Op::Insert(_, Some(done)) = op {
                let _ = done.send(ok);
            }
        }
        inner.committed.send_replace(ticket);
    }
}

/// The columns of rows to insert, as arrays for one `UNNEST` statement.
#[derive(Default)]
struct Columns<'a> {
    devices: Vec<DeviceId>,
    row_ids: Vec<MessageId>,
    seqs: Vec<i64>,
    kinds: Vec<i16>,
    senders: Vec<UserId>,
    frames: Vec<Option<&'a [u8]>>,
    expiries: Vec<Option<Millis>>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, row: &'a Row) {
        self.devices.push(row.device);
        self.row_ids.push(row.row_id);
        self.seqs.push(row.seq);
        self.kinds.push(row.kind as i16);
        self.senders.push(row.sender);
        // A shared frame is stored once, in `queue_bodies` (see `commit`).
        self.frames.push((!row.shared).then_some(&row.frame[..]));
        self.expiries.push(row.expires_at);
    }

    /// Runs `sql` (an insert from `UNNEST` of the seven arrays) over these rows.
    async fn insert(
        &self,
        tx: &mut sqlx::PgConnection,
        sql: &'static str,
    ) -> Result<(), sqlx::Error> {
        if self.devices.is_empty() {
            return Ok(());
        }
        sqlx::query(sql)
            .bind(&self.devices)
            .bind(&self.row_ids)
            .bind(&self.seqs)
            .bind(&self.kinds)
            .bind(&self.senders)
            .bind(&self.frames)
            .bind(&self.expiries)
            .execute(tx)
            .await?;
        Ok(())
    }
}

// A revoked device's rows are dropped (the join), not an error for the
// batch: the key-share lock waits for a concurrent delete and then skips the
// row instead of failing the foreign-key check.
const INSERT: &str = "INSERT INTO queue (device_id, row_id, seq, kind, sender_id, frame, expires_at)
     SELECT r.* FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::int2[], $5::uuid[], $6::bytea[], $7::int8[])
         AS r(device_id, row_id, seq, kind, sender_id, frame, expires_at)
     JOIN devices d ON d.id = r.device_id
     FOR KEY SHARE OF d
     ON CONFLICT (device_id, row_id) DO NOTHING";

// The same, replacing the frame of a receipt row that is still there.
const REPLACE: &str = "INSERT INTO queue (device_id, row_id, seq, kind, sender_id, frame, expires_at)
     SELECT r.* FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::int2[], $5::uuid[], $6::bytea[], $7::int8[])
         AS r(device_id, row_id, seq, kind, sender_id, frame, expires_at)
     JOIN devices d ON d.id = r.device_id
     FOR KEY SHARE OF d
     ON CONFLICT (device_id, row_id) DO UPDATE SET frame = EXCLUDED.frame
         WHERE queue.kind = EXCLUDED.kind";

// Each shared frame once, however many devices' rows name it. A body that
// is there already is locked (the update) until this transaction commits,
// so a concurrent deletion of it (another node's ack, the sweep) waits and
// then sees the rows that name it.
const INSERT_BODIES: &str = "INSERT INTO queue_bodies (sender_id, row_id, frame)
     SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::bytea[])
     ON CONFLICT (sender_id, row_id) DO UPDATE SET created_at = EXCLUDED.created_at";

// Locks bodies before they are checked: the check that follows is a new
// statement, with a snapshot taken after any writer that held them committed.
const LOCK_BODIES: &str = "SELECT 1 FROM queue_bodies b
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS g(sender_id, row_id)
         ON b.sender_id = g.sender_id AND b.row_id = g.row_id
     ORDER BY b.sender_id, b.row_id
     FOR UPDATE OF b";

// The bodies among these that no row names any more.
const DELETE_BODIES: &str = "DELETE FROM queue_bodies b
     USING UNNEST($1::uuid[], $2::uuid[]) AS g(sender_id, row_id)
     WHERE b.sender_id = g.sender_id AND b.row_id = g.row_id
       AND NOT EXISTS (SELECT 1 FROM queue q
                       WHERE q.row_id = b.row_id AND q.sender_id = b.sender_id
                         AND q.frame IS NULL)";

async fn commit(pool: &PgPool, ops: &[Op]) -> ApiResult<()> {
    let mut inserts = Columns::default();
    let mut bodies: HashMap<(UserId, MessageId), &[u8]> = HashMap::new();
    // One statement may touch a row once: the last replacement of each wins.
    let mut replaced: HashMap<(DeviceId, MessageId), &Row> = HashMap::new();
    let mut del_devices = Vec::new();
    let mut del_ids = Vec::new();
    for op in ops {
        match op {
            Op::Insert(row, _) => {
                if row.shared {
                    bodies.insert((row.sender, row.row_id), &row.frame);
                }
                inserts.push(row);
            }
            Op::Replace(row) => {
                replaced.insert((row.device, row.row_id), row);
            }
            Op::Delete(device, id) => {
                del_devices.push(*device);
                del_ids.push(*id);
            }
        }
    }
    let mut replacements = Columns::default();
    for row in replaced.into_values() {
        replacements.push(row);
    }
    let mut tx = pool.begin().await?;
    if !bodies.is_empty() {
        let (keys, frames): (Vec<_>, Vec<_>) = bodies.into_iter().unzip();
        let (senders, ids): (Vec<UserId>, Vec<MessageId>) = keys.into_iter().unzip();
        sqlx::query(INSERT_BODIES)
            .bind(&senders)
            .bind(&ids)
            .bind(&frames)
            .execute(&mut *tx)
            .await?;
    }
    inserts.insert(&mut tx, INSERT).await?;
    replacements.insert(&mut tx, REPLACE).await?;
    // Deletes after inserts: an ack that raced ahead of its row's insert in
    // the same batch still removes it.
    if !del_devices.is_empty() {
        let shared: Vec<(UserId, MessageId)> = sqlx::query_as(
            "DELETE FROM queue q USING UNNEST($1::uuid[], $2::uuid[]) AS d(device_id, row_id)
             WHERE q.device_id = d.device_id AND q.row_id = d.row_id
             RETURNING q.sender_id, q.row_id, q.frame IS NULL AS shared",
        )
        .bind(&del_devices)
        .bind(&del_ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .filter_map(|(sender, id, shared): (UserId, MessageId, bool)| {
            shared.then_some((sender, id))
        })
        .collect();
        if !shared.is_empty() {
            let (senders, ids): (Vec<UserId>, Vec<MessageId>) = shared.into_iter().unzip();
            delete_bodies(&mut tx, &senders, &ids).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes those of these bodies that no row names, in two statements: lock,
/// then check with a snapshot that sees whatever a writer holding one of
/// them committed.
async fn delete_bodies(
    tx: &mut sqlx::PgConnection,
    senders: &[UserId],
    ids: &[MessageId],
) -> Result<(), sqlx::Error> {
    sqlx::query(LOCK_BODIES)
        .bind(senders)
        .bind(ids)
        .execute(&mut *tx)
        .await?;
    sqlx::query(DELETE_BODIES)
        .bind(senders)
        .bind(ids)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub use crate::handover::StoredRow;

impl From<&Row> for StoredRow {
    fn from(row: &Row) -> Self {
        Self {
            seq: row.seq,
            row_id: row.row_id,
            kind: row.kind as i16,
            sender_id: row.sender,
            frame: row.frame.to_vec(),
        }
    }
}

/// The next page of a device's queue after `after_seq`, oldest first, every
/// frame in the current protocol version.
pub async fn page(
    pool: &PgPool,
    device: DeviceId,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<StoredRow>, sqlx::Error> {
    let mut rows: Vec<StoredRow> = sqlx::query_as(
        "SELECT q.seq, q.row_id, q.kind, q.sender_id, coalesce(q.frame, b.frame) AS frame
         FROM queue q
         LEFT JOIN queue_bodies b ON q.frame IS NULL
             AND b.sender_id = q.sender_id AND b.row_id = q.row_id
         WHERE q.device_id = $1 AND q.seq > $2
           AND (q.expires_at IS NULL OR q.expires_at > $4)
           AND (q.frame IS NOT NULL OR b.frame IS NOT NULL)
         ORDER BY q.seq LIMIT $3",
    )
    .bind(device)
    .bind(after_seq)
    .bind(limit)
    .bind(super::now_millis())
    .fetch_all(pool)
    .await?;
    for row in &mut rows {
        upgrade(row);
    }
    Ok(rows)
}

/// Re-encodes a frame stored under an earlier protocol version in the
/// current one: rows outlive a server upgrade, and clients speak the
/// current version only.
fn upgrade(row: &mut StoredRow) {
    if row.frame.first() == Some(&frame::VERSION) {
        return;
    }
    let upgraded = ServerFrame::decode_stored(&row.frame)
        .map_err(|e| e.to_string())
        .and_then(|f| f.encode().map_err(|e| e.to_string()));
    match upgraded {
        Ok(bytes) => row.frame = bytes,
        // Sent as it is: the client cannot read it either, but nothing
        // is thrown away here.
        Err(error) => tracing::error!(%error, row = %row.row_id, "stored frame unreadable"),
    }
}

/// Deletes rows older than the retention period, and disappearing messages
/// past their expiry; returns how many.
pub async fn expire(pool: &PgPool, retention: Duration) -> Result<u64, sqlx::Error> {
    let old = sqlx::query("DELETE FROM queue WHERE created_at < now() - make_interval(secs => $1)")
        .bind(retention.as_secs_f64())
        .execute(pool)
        .await?;
    let gone = sqlx::query("DELETE FROM queue WHERE expires_at < $1")
        .bind(super::now_millis())
        .execute(pool)
        .await?;
    // Bodies whose rows all went (a retention sweep deletes rows, not
    // bodies), checked again under their locks as acks do.
    let orphans: Vec<(UserId, MessageId)> = sqlx::query_as(
        "SELECT b.sender_id, b.row_id FROM queue_bodies b WHERE NOT EXISTS (
             SELECT 1 FROM queue q
             WHERE q.row_id = b.row_id AND q.sender_id = b.sender_id AND q.frame IS NULL)",
    )
    .fetch_all(pool)
    .await?;
    for chunk in orphans.chunks(MAX_BATCH) {
        let (senders, ids): (Vec<UserId>, Vec<MessageId>) = chunk.iter().copied().unzip();
        let mut tx = pool.begin().await?;
        delete_bodies(&mut tx, &senders, &ids).await?;
        tx.commit().await?;
    }
    Ok(old.rows_affected() + gone.rows_affected())
}

/// What a device's queue holds, per kind and sender (a message's sender, a
/// receipt's reader): `(kind, sender, rows, bytes)`.
pub async fn usage(
    pool: &PgPool,
    device: DeviceId,
) -> Result<Vec<(i16, UserId, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT q.kind, q.sender_id, count(*),
                coalesce(sum(octet_length(coalesce(q.frame, b.frame))), 0)::int8
         FROM queue q
         LEFT JOIN queue_bodies b ON q.frame IS NULL
             AND b.sender_id = q.sender_id AND b.row_id = q.row_id
         WHERE q.device_id = $1 GROUP BY q.kind, q.sender_id",
    )
    .bind(device)
    .fetch_all(pool)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn device(pool: &PgPool) -> (UserId, DeviceId) {
        let handle = format!("q{}", UserId::new_v7().as_uuid().simple());
        let user = crate::test_rows::user(pool, &handle).await;
        (user, crate::test_rows::device(pool, user).await)
    }

    fn row(device: DeviceId, sender: UserId, seq: i64) -> Row {
        Row {
            device,
            row_id: MessageId::new_v7(),
            seq,
            kind: RowKind::Message,
            sender,
            frame: Bytes::from_static(b"frame"),
            expires_at: None,
            shared: false,
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_disappearing_message_leaves_its_queue_at_its_expiry(pool: PgPool) {
        let (user, device) = device(&pool).await;
        let tasks = Tasks::default();
        let writer = QueueWriter::start(pool.clone(), &tasks);
        let now = super::super::now_millis();
        let kept = row(device, user, 1);
        let due = Row {
            expires_at: Some(now - 1),
            ..row(device, user, 2)
        };
        let later = Row {
            expires_at: Some(now + 3_600_000),
            ..row(device, user, 3)
        };
        let ids = [kept.row_id, due.row_id, later.row_id];
        for r in [kept, due, later] {
            assert!(writer.insert(r).await.unwrap_or(false));
        }
        // Not handed out once due, even before the sweep runs…
        let handed: Vec<MessageId> = page(&pool, device, 0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.row_id)
            .collect();
        assert_eq!(handed, [ids[0], ids[2]]);
        // …and gone after it; retention alone would have kept it 30 days.
        let removed = expire(&pool, Duration::from_secs(30 * 86_400))
            .await
            .unwrap();
        assert_eq!(removed, 1);
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM queue WHERE device_id = $1")
            .bind(device)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(left, 2);
        tasks.shutdown(Duration::from_secs(5)).await;
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn shutdown_commits_what_was_submitted_and_refuses_what_comes_after(pool: PgPool) {
        let (user, device) = device(&pool).await;
        let tasks = Tasks::default();
        let writer = QueueWriter::start(pool.clone(), &tasks);
        // Submitted, and the shutdown comes before the task had a chance to run.
        let durable: Vec<Durable> = (0..100)
            .map(|i| writer.insert(row(device, user, i)))
            .collect();
        writer.insert_detached(row(device, user, 100));
        tasks.shutdown(Duration::from_secs(10)).await;
        for done in durable {
            assert_eq!(done.await, Ok(true));
        }
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM queue WHERE device_id = $1")
            .bind(device)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(stored, 101);

        // After: "not durable" at once, and no barrier waits forever.
        assert!(!writer.insert(row(device, user, 200)).await.unwrap_or(false));
        tokio::time::timeout(
            Duration::from_secs(1),
            writer.barrier(writer.last_ticket() + 1),
        )
        .await
        .unwrap();
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn frames_stored_by_the_previous_version_are_read_back_in_this_one(pool: PgPool) {
        use parley_protocol::ConversationId;
        use parley_protocol::frame::Delivery;
        let (user, device) = device(&pool).await;
        let deliver = ServerFrame::Deliver(Delivery {
            id: MessageId::new_v7(),
            from: user,
            from_device: device,
            chat: ConversationId::Direct(user),
            at: 1,
            body: vec![7; 4],
        });
        let now = deliver.encode().unwrap();
        // Version 1 named the peer user where version 2 names the chat: the
        // same bytes without the chat's tag (after the version byte, the
        // variant and three uuids).
        let mut old = now.clone();
        old[0] = 1;
        assert_eq!(old.remove(2 + 3 * 17), 0);
        for (seq, frame) in [(1_i64, &old), (2, &now)] {
            sqlx::query(
                "INSERT INTO queue (device_id, row_id, seq, kind, sender_id, frame)
                 VALUES ($1, $2, $3, 0, $4, $5)",
            )
            .bind(device)
            .bind(MessageId::new_v7())
            .bind(seq)
            .bind(user)
            .bind(frame)
            .execute(&pool)
            .await
            .unwrap();
        }
        let rows = page(&pool, device, i64::MIN, 10).await.unwrap();
        let frames: Vec<&[u8]> = rows.iter().map(|r| r.frame.as_slice()).collect();
        assert_eq!(frames, [now.as_slice(), now.as_slice()]);
    }
}
