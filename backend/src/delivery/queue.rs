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

use crate::error::{ApiError, ApiResult};
use crate::tasks::{Shutdown, Tasks};
use bytes::Bytes;
use parley_protocol::frame::{self, ServerFrame};
use parley_protocol::{DeviceId, GroupId, MessageId, Millis, UserId};
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap, HashSet};
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
    /// The group of a group message, whose frame every member device gets
    /// alike: stored once, in `group_queue`, with a bit per device.
    pub group: Option<GroupId>,
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
        let ok = commit_retrying(&pool, &ops).await;
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
    frames: Vec<&'a [u8]>,
    expiries: Vec<Option<Millis>>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, row: &'a Row) {
        self.devices.push(row.device);
        self.row_ids.push(row.row_id);
        self.seqs.push(row.seq);
        self.kinds.push(row.kind as i16);
        self.senders.push(row.sender);
        self.frames.push(&row.frame[..]);
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

// Acked rows of a device's own queue; a row with no frame of its own is a
// group message a node before migration 0011 wrote (its frame in
// `queue_bodies`).
const DELETE: &str =
    "DELETE FROM queue q USING UNNEST($1::uuid[], $2::uuid[]) AS d(device_id, row_id)
     WHERE q.device_id = d.device_id AND q.row_id = d.row_id
     RETURNING q.sender_id, q.row_id, q.frame IS NULL";

// Until the release after migration 0011, nodes of the version before may
// still write group messages as `queue_bodies` plus one frameless row per
// device (a rolling update): those bodies go with their last row, checked
// under their locks (the check is a new statement, with a snapshot taken
// after any writer that held them committed).
const LOCK_BODIES: &str = "SELECT 1 FROM queue_bodies b
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS g(sender_id, row_id)
         ON b.sender_id = g.sender_id AND b.row_id = g.row_id
     ORDER BY b.sender_id, b.row_id
     FOR UPDATE OF b";

const DELETE_BODIES: &str = "DELETE FROM queue_bodies b
     USING UNNEST($1::uuid[], $2::uuid[]) AS g(sender_id, row_id)
     WHERE b.sender_id = g.sender_id AND b.row_id = g.row_id
       AND NOT EXISTS (SELECT 1 FROM queue q
                       WHERE q.row_id = b.row_id AND q.sender_id = b.sender_id
                         AND q.frame IS NULL)";

// The group rows these acks clear a bit of, locked in one order (group,
// message) as every writer locks them, so writers on several nodes never
// deadlock over rows many devices share.
const LOCK_ACKED: &str = "SELECT 1 FROM group_queue g
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS d(device_id, row_id) ON g.row_id = d.row_id
     JOIN group_slots s ON s.group_id = g.group_id AND s.device_id = d.device_id
     WHERE parley_waits(g.waiting, s.slot)
     ORDER BY g.group_id, g.row_id
     FOR NO KEY UPDATE OF g";

// Acked group rows: each device's bit cleared (all of one row's acks in one
// update, since a statement updates a row once), answering the rows nobody
// waits for any more.
const ACK_GROUP: &str = "WITH acked AS (
         SELECT g.group_id, g.row_id, array_agg(s.slot) AS slots
         FROM UNNEST($1::uuid[], $2::uuid[]) AS d(device_id, row_id)
         JOIN group_queue g ON g.row_id = d.row_id
         JOIN group_slots s ON s.group_id = g.group_id AND s.device_id = d.device_id
         WHERE parley_waits(g.waiting, s.slot)
         GROUP BY g.group_id, g.row_id)
     UPDATE group_queue g SET waiting = parley_set_bits(g.waiting, acked.slots, 0)
     FROM acked WHERE g.group_id = acked.group_id AND g.row_id = acked.row_id
     RETURNING g.group_id, g.row_id, position(B'1' IN g.waiting) = 0";

// Those rows, gone: this transaction holds their locks since the update.
const DELETE_GROUP: &str = "DELETE FROM group_queue g
     USING UNNEST($1::uuid[], $2::uuid[]) AS d(group_id, row_id)
     WHERE g.group_id = d.group_id AND g.row_id = d.row_id";

// The slots these devices hold in these groups, kept until this commits: a
// device signed out meanwhile clears its bits after this row has them (its
// slot's delete waits), or is not found here and gets no bit.
const SLOTS: &str = "SELECT s.group_id, s.device_id, s.slot FROM group_slots s
     JOIN UNNEST($1::uuid[], $2::uuid[]) AS w(group_id, device_id)
         ON s.group_id = w.group_id AND s.device_id = w.device_id
     FOR KEY SHARE OF s";

// Of these devices, those not revoked, locked (key share) until this
// commits: a revocation waits, so the slots given below never fail their
// foreign key and the revocation's trigger clears the bits set here.
const LIVE_DEVICES: &str = "SELECT id FROM devices WHERE id = ANY($1) ORDER BY id FOR KEY SHARE";

// Each group message once, with the bits of the devices it waits for; a
// row already there (devices whose ack windows ended later) gains theirs.
const INSERT_GROUP: &str = "INSERT INTO group_queue (group_id, row_id, seq, sender_id, frame, expires_at, waiting)
     SELECT r.group_id, r.row_id, r.seq, r.sender_id, r.frame, r.expires_at, r.waiting::bit varying
     FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::uuid[], $5::bytea[], $6::int8[], $7::text[])
         AS r(group_id, row_id, seq, sender_id, frame, expires_at, waiting)
     ON CONFLICT (group_id, row_id) DO UPDATE
         SET waiting = parley_bits_or(group_queue.waiting, EXCLUDED.waiting)";

/// Group message rows of one batch: each message once, with the devices it
/// waits for; in (group, message) order, the order every writer locks them.
#[derive(Default)]
struct GroupRows<'a> {
    messages: BTreeMap<(GroupId, MessageId), (&'a Row, Vec<DeviceId>)>,
}

impl<'a> GroupRows<'a> {
    fn push(&mut self, group: GroupId, row: &'a Row) {
        self.messages
            .entry((group, row.row_id))
            .or_insert_with(|| (row, Vec::new()))
            .1
            .push(row.device);
    }

    async fn insert(self, tx: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
        if self.messages.is_empty() {
            return Ok(());
        }
        let slots = slots(tx, &self.messages).await?;
        let mut groups = Vec::with_capacity(self.messages.len());
        let mut ids = Vec::with_capacity(self.messages.len());
        let mut seqs = Vec::with_capacity(self.messages.len());
        let mut senders = Vec::with_capacity(self.messages.len());
        let mut frames = Vec::with_capacity(self.messages.len());
        let mut expiries = Vec::with_capacity(self.messages.len());
        let mut waiting = Vec::with_capacity(self.messages.len());
        for ((group, id), (row, devices)) in &self.messages {
            let set: Vec<usize> = devices
                .iter()
                .filter_map(|d| slots.get(&(*group, *d)).copied())
                .collect();
            // Every device revoked meanwhile: nothing waits.
            let Some(&last) = set.iter().max() else {
                continue;
            };
            let mut bits = vec![b'0'; last + 1];
            for slot in set {
                bits[slot] = b'1';
            }
            groups.push(*group);
            ids.push(*id);
            seqs.push(row.seq);
            senders.push(row.sender);
            frames.push(&row.frame[..]);
            expiries.push(row.expires_at);
            waiting.push(String::from_utf8(bits).unwrap_or_default());
        }
        sqlx::query(INSERT_GROUP)
            .bind(&groups)
            .bind(&ids)
            .bind(&seqs)
            .bind(&senders)
            .bind(&frames)
            .bind(&expiries)
            .bind(&waiting)
            .execute(tx)
            .await?;
        Ok(())
    }
}

/// Each (group, device)'s slot, given one first where it has none.
async fn slots(
    tx: &mut sqlx::PgConnection,
    messages: &BTreeMap<(GroupId, MessageId), (&Row, Vec<DeviceId>)>,
) -> Result<HashMap<(GroupId, DeviceId), usize>, sqlx::Error> {
    let mut wanted: Vec<(GroupId, DeviceId)> = messages
        .iter()
        .flat_map(|((group, _), (_, devices))| devices.iter().map(move |d| (*group, *d)))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let lookup = |wanted: Vec<(GroupId, DeviceId)>| {
        let (groups, devices): (Vec<GroupId>, Vec<DeviceId>) = wanted.into_iter().unzip();
        sqlx::query_as::<_, (GroupId, DeviceId, i32)>(SLOTS)
            .bind(groups)
            .bind(devices)
    };
    let mut found: HashMap<(GroupId, DeviceId), usize> = lookup(wanted.clone())
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(g, d, slot)| ((g, d), usize::try_from(slot).unwrap_or(0)))
        .collect();
    let missing: Vec<(GroupId, DeviceId)> = wanted
        .into_iter()
        .filter(|k| !found.contains_key(k))
        .collect();
    if missing.is_empty() {
        return Ok(found);
    }
    // New slots are rare (a device's first offline message in a group):
    // the groups' locks serialise them between writers and nodes. Each gets
    // the lowest number free, so slots of devices that went are taken again
    // and no member can grow the bits by signing devices in and out.
    let mut groups: Vec<GroupId> = missing.iter().map(|(g, _)| *g).collect();
    groups.dedup();
    let groups: Vec<GroupId> = sqlx::query_scalar(
        "SELECT id FROM groups WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(&groups)
    .fetch_all(&mut *tx)
    .await?;
    let devices: Vec<DeviceId> = missing.iter().map(|(_, d)| *d).collect();
    let live: HashSet<DeviceId> = sqlx::query_scalar(LIVE_DEVICES)
        .bind(&devices)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    let mut new_groups = Vec::new();
    let mut new_devices = Vec::new();
    let mut new_slots = Vec::new();
    for group in groups {
        let taken: HashSet<i32> =
            sqlx::query_scalar("SELECT slot FROM group_slots WHERE group_id = $1")
                .bind(group)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        let mut free = (0..).filter(|n| !taken.contains(n));
        for (_, device) in missing
            .iter()
            .filter(|(g, d)| *g == group && live.contains(d))
        {
            let Some(slot) = free.next() else { break };
            new_groups.push(group);
            new_devices.push(*device);
            new_slots.push(slot);
        }
    }
    // A concurrent writer may have given some of them slots since the
    // lookup: theirs stand (the conflict), and the lookup below finds them.
    sqlx::query(
        "INSERT INTO group_slots (group_id, device_id, slot)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::int4[])
         ON CONFLICT (group_id, device_id) DO NOTHING",
    )
    .bind(&new_groups)
    .bind(&new_devices)
    .bind(&new_slots)
    .execute(&mut *tx)
    .await?;
    found.extend(
        lookup(missing)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|(g, d, slot)| ((g, d), usize::try_from(slot).unwrap_or(0))),
    );
    Ok(found)
}

/// Whether a failed batch may simply run again: PostgreSQL broke a
/// deadlock or a serialisation conflict by aborting it, and every statement
/// of a batch is idempotent.
fn transient(e: &ApiError) -> bool {
    let ApiError::Database(sqlx::Error::Database(db)) = e else {
        return false;
    };
    matches!(db.code().as_deref(), Some("40P01" | "40001"))
}

/// [`commit`], run again (a few times) when PostgreSQL aborted it to break
/// a deadlock with another writer.
async fn commit_retrying(pool: &PgPool, ops: &[Op]) -> ApiResult<()> {
    let mut tries = 0;
    loop {
        match commit(pool, ops).await {
            Err(e) if tries < 3 && transient(&e) => {
                tries += 1;
                tracing::warn!(error = %e, tries, "queue commit aborted by the database; again");
            }
            done => return done,
        }
    }
}

async fn commit(pool: &PgPool, ops: &[Op]) -> ApiResult<()> {
    let mut inserts = Columns::default();
    let mut group_rows = GroupRows::default();
    // One statement may touch a row once: the last replacement of each wins.
    let mut replaced: HashMap<(DeviceId, MessageId), &Row> = HashMap::new();
    let mut del_devices = Vec::new();
    let mut del_ids = Vec::new();
    for op in ops {
        match op {
            Op::Insert(row, _) => match row.group {
                Some(group) => group_rows.push(group, row),
                None => inserts.push(row),
            },
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
    group_rows.insert(&mut tx).await?;
    inserts.insert(&mut tx, INSERT).await?;
    replacements.insert(&mut tx, REPLACE).await?;
    // Deletes after inserts: an ack that raced ahead of its row's insert in
    // the same batch still removes it.
    if !del_devices.is_empty() {
        let legacy: Vec<(UserId, MessageId)> =
            sqlx::query_as::<_, (UserId, MessageId, bool)>(DELETE)
                .bind(&del_devices)
                .bind(&del_ids)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .filter_map(|(sender, id, shared)| shared.then_some((sender, id)))
                .collect();
        if !legacy.is_empty() {
            let (senders, ids): (Vec<UserId>, Vec<MessageId>) = legacy.into_iter().unzip();
            delete_bodies(&mut tx, &senders, &ids).await?;
        }
        sqlx::query(LOCK_ACKED)
            .bind(&del_devices)
            .bind(&del_ids)
            .execute(&mut *tx)
            .await?;
        let done: Vec<(GroupId, MessageId)> =
            sqlx::query_as::<_, (GroupId, MessageId, bool)>(ACK_GROUP)
                .bind(&del_devices)
                .bind(&del_ids)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .filter_map(|(g, id, done)| done.then_some((g, id)))
                .collect();
        if !done.is_empty() {
            let (groups, ids): (Vec<GroupId>, Vec<MessageId>) = done.into_iter().unzip();
            sqlx::query(DELETE_GROUP)
                .bind(&groups)
                .bind(&ids)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Deletes those of these legacy bodies that no row names, in two
/// statements: lock, then check with a snapshot that sees whatever a writer
/// holding one of them committed.
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
    // Its own rows and the group rows that wait for it, merged by seq.
    let mut rows: Vec<StoredRow> = sqlx::query_as(
        "SELECT * FROM (
             (SELECT q.seq, q.row_id, q.kind, q.sender_id, coalesce(q.frame, b.frame) AS frame
              FROM queue q
              LEFT JOIN queue_bodies b ON q.frame IS NULL
                  AND b.sender_id = q.sender_id AND b.row_id = q.row_id
              WHERE q.device_id = $1 AND q.seq > $2
                AND (q.expires_at IS NULL OR q.expires_at > $4)
                AND (q.frame IS NOT NULL OR b.frame IS NOT NULL)
              ORDER BY q.seq LIMIT $3)
             UNION ALL
             (SELECT g.seq, g.row_id, 0::int2, g.sender_id, g.frame
              FROM group_slots s
              JOIN group_queue g ON g.group_id = s.group_id AND g.seq > $2
              WHERE s.device_id = $1 AND parley_waits(g.waiting, s.slot)
                AND (g.expires_at IS NULL OR g.expires_at > $4)
              ORDER BY g.seq LIMIT $3)
         ) AS r ORDER BY seq LIMIT $3",
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
    // Legacy bodies whose rows all went (see `LOCK_BODIES`).
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
    let old_groups =
        sqlx::query("DELETE FROM group_queue WHERE created_at < now() - make_interval(secs => $1)")
            .bind(retention.as_secs_f64())
            .execute(pool)
            .await?;
    let gone_groups = sqlx::query("DELETE FROM group_queue WHERE expires_at < $1")
        .bind(super::now_millis())
        .execute(pool)
        .await?;
    Ok(old.rows_affected()
        + gone.rows_affected()
        + old_groups.rows_affected()
        + gone_groups.rows_affected())
}

/// What a device's queue holds, per kind and sender (a message's sender, a
/// receipt's reader): `(kind, sender, rows, bytes)`.
pub async fn usage(
    pool: &PgPool,
    device: DeviceId,
) -> Result<Vec<(i16, UserId, i64, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, sender_id, count(*), coalesce(sum(bytes), 0)::int8 FROM (
             SELECT q.kind, q.sender_id, octet_length(coalesce(q.frame, b.frame)) AS bytes
             FROM queue q
             LEFT JOIN queue_bodies b ON q.frame IS NULL
                 AND b.sender_id = q.sender_id AND b.row_id = q.row_id
             WHERE q.device_id = $1
             UNION ALL
             SELECT 0::int2, g.sender_id, octet_length(g.frame)
             FROM group_slots s JOIN group_queue g ON g.group_id = s.group_id
             WHERE s.device_id = $1 AND parley_waits(g.waiting, s.slot)
         ) AS r GROUP BY kind, sender_id",
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
            group: None,
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

    async fn waiting_bits(pool: &PgPool) -> Vec<String> {
        sqlx::query_scalar("SELECT waiting::text FROM group_queue ORDER BY seq")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_group_message_is_one_row_with_a_bit_per_waiting_device(pool: PgPool) {
        let (sender, _) = device(&pool).await;
        let mut devices = Vec::new();
        for _ in 0..3 {
            devices.push(device(&pool).await.1);
        }
        let group = GroupId::new_v7();
        sqlx::query(
            "INSERT INTO groups (id, seq, head, name, description) VALUES ($1, 0, '\\x00', 'g', '')",
        )
        .bind(group)
        .execute(&pool)
        .await
        .unwrap();
        let tasks = Tasks::default();
        let writer = QueueWriter::start(pool.clone(), &tasks);
        let message = |device, seq| Row {
            group: Some(group),
            ..row(device, sender, seq)
        };
        let first = message(devices[0], 1);
        let id = first.row_id;
        let copy = |device| Row {
            device,
            ..first.clone()
        };
        // Two devices at once, the third later (its ack window ended later):
        // one row, its bits merged.
        let (a, b) = (
            writer.insert(first.clone()),
            writer.insert(copy(devices[1])),
        );
        assert!(a.await.unwrap() && b.await.unwrap());
        assert!(writer.insert(copy(devices[2])).await.unwrap());
        let second = message(devices[2], 2);
        assert!(writer.insert(second.clone()).await.unwrap());
        assert_eq!(waiting_bits(&pool).await, ["111", "001"]);
        assert_eq!(
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM queue")
                .fetch_one(&pool)
                .await
                .unwrap(),
            0
        );

        // Each device's queue has what waits for it, in order.
        let ids = |rows: Vec<StoredRow>| rows.into_iter().map(|r| r.row_id).collect::<Vec<_>>();
        assert_eq!(ids(page(&pool, devices[0], 0, 10).await.unwrap()), [id]);
        assert_eq!(
            ids(page(&pool, devices[2], 0, 10).await.unwrap()),
            [id, second.row_id]
        );
        assert_eq!(
            ids(page(&pool, devices[2], 1, 10).await.unwrap()),
            [second.row_id]
        );
        let usage = usage(&pool, devices[2]).await.unwrap();
        assert_eq!(usage, [(0, sender, 2, 10)]);

        // An ack clears that device's bit only; a device signed out stops
        // being waited for; the last ack takes the row.
        writer.delete(devices[0], id);
        writer.barrier(writer.last_ticket()).await;
        assert_eq!(waiting_bits(&pool).await, ["011", "001"]);
        assert!(page(&pool, devices[0], 0, 10).await.unwrap().is_empty());
        sqlx::query("DELETE FROM devices WHERE id = $1")
            .bind(devices[2])
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(waiting_bits(&pool).await, ["010"]);
        writer.delete(devices[1], id);
        writer.barrier(writer.last_ticket()).await;
        assert!(waiting_bits(&pool).await.is_empty());

        // A device that had a slot keeps it; a new one gets the next free
        // one (the gone device's: no row has its bit any more).
        let later = device(&pool).await.1;
        let third = message(devices[1], 3);
        let (a, b) = (
            writer.insert(third.clone()),
            writer.insert(Row {
                device: later,
                ..third
            }),
        );
        assert!(a.await.unwrap() && b.await.unwrap());
        assert_eq!(waiting_bits(&pool).await, ["011"]);
        // A free slot below the top is taken too: the bits never grow by
        // devices signed in and out.
        sqlx::query("DELETE FROM devices WHERE id = $1")
            .bind(devices[0])
            .execute(&pool)
            .await
            .unwrap();
        let newer = device(&pool).await.1;
        assert!(writer.insert(message(newer, 4)).await.unwrap());
        assert_eq!(waiting_bits(&pool).await, ["011", "1"]);
        tasks.shutdown(Duration::from_secs(5)).await;
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn group_rows_an_older_node_wrote_are_drained_and_cleaned_up(pool: PgPool) {
        // During a rolling update a node before migration 0011 writes a
        // group message as one body and a frameless row per device.
        let (sender, _) = device(&pool).await;
        let (a, b) = (device(&pool).await.1, device(&pool).await.1);
        let id = MessageId::new_v7();
        sqlx::query("INSERT INTO queue_bodies (sender_id, row_id, frame) VALUES ($1, $2, 'body')")
            .bind(sender)
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
        for d in [a, b] {
            sqlx::query(
                "INSERT INTO queue (device_id, row_id, seq, kind, sender_id, frame)
                 VALUES ($1, $2, 1, 0, $3, NULL)",
            )
            .bind(d)
            .bind(id)
            .bind(sender)
            .execute(&pool)
            .await
            .unwrap();
        }
        let frames = page(&pool, a, 0, 10).await.unwrap();
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].frame, b"body");
        assert_eq!(usage(&pool, a).await.unwrap(), [(0, sender, 1, 4)]);
        let bodies = || async {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM queue_bodies")
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        let tasks = Tasks::default();
        let writer = QueueWriter::start(pool.clone(), &tasks);
        writer.delete(a, id);
        writer.barrier(writer.last_ticket()).await;
        assert_eq!(bodies().await, 1, "b still waits for it");
        writer.delete(b, id);
        writer.barrier(writer.last_ticket()).await;
        assert_eq!(bodies().await, 0, "gone with the last row");
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
