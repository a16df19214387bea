//! The per-device queues in PostgreSQL, written by one group-commit task.
//!
//! Every insert and delete goes through [`QueueWriter::submit`], which only
//! appends to a list; one task takes everything pending and commits it in a
//! single transaction, so concurrent sends share one fsync. Operations get
//! increasing tickets and commit in ticket order, so a device that connects
//! can wait for "everything submitted before me" ([`QueueWriter::barrier`])
//! before reading its queue, and no message slips between drain and live.

use crate::error::ApiResult;
use bytes::Bytes;
use parley_protocol::{DeviceId, MessageId, UserId};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
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
}

#[derive(Debug)]
struct Inner {
    pending: Mutex<Pending>,
    wake: Notify,
    committed: watch::Sender<u64>,
}

/// Handle to the group-commit writer; cheap to clone.
#[derive(Debug, Clone)]
pub struct QueueWriter {
    inner: Arc<Inner>,
}

impl QueueWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(pool: PgPool) -> Self {
        let (committed, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            pending: Mutex::new(Pending::default()),
            wake: Notify::new(),
            committed,
        });
        tokio::spawn(run(pool, inner.clone()));
        Self { inner }
    }

    fn submit(&self, op: Op) -> u64 {
        let ticket = {
            let mut pending = self.inner.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.last_ticket += 1;
            pending.ops.push(op);
            pending.last_ticket
        };
        self.inner.wake.notify_one();
        ticket
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

async fn run(pool: PgPool, inner: Arc<Inner>) {
    loop {
        let (ops, ticket) = {
            let mut pending = inner.pending.lock().unwrap_or_else(|p| p.into_inner());
            let take = pending.ops.len().min(MAX_BATCH);
            let ops: Vec<Op> = pending.ops.drain(..take).collect();
            // Tickets are consecutive, so the last one taken is the last
            // submitted minus what is still pending.
            let ticket = pending.last_ticket - pending.ops.len() as u64;
            (ops, ticket)
        };
        if ops.is_empty() {
            inner.wake.notified().await;
            continue;
        }
        let ok = commit(&pool, &ops).await;
        if let Err(e) = &ok {
            tracing::error!(error = %e, ops = ops.len(), "queue commit failed");
            // Give a struggling database a moment instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let ok = ok.is_ok();
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
}

impl<'a> Columns<'a> {
    fn push(&mut self, row: &'a Row) {
        self.devices.push(row.device);
        self.row_ids.push(row.row_id);
        self.seqs.push(row.seq);
        self.kinds.push(row.kind as i16);
        self.senders.push(row.sender);
        self.frames.push(&row.frame);
    }

    /// Runs `sql` (an insert from `UNNEST` of the six arrays) over these rows.
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
            .execute(tx)
            .await?;
        Ok(())
    }
}

// A revoked device's rows are dropped (the join), not an error for the
// batch: the key-share lock waits for a concurrent delete and then skips the
// row instead of failing the foreign-key check.
const INSERT: &str = "INSERT INTO queue (device_id, row_id, seq, kind, sender_id, frame)
     SELECT r.* FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::int2[], $5::uuid[], $6::bytea[])
         AS r(device_id, row_id, seq, kind, sender_id, frame)
     JOIN devices d ON d.id = r.device_id
     FOR KEY SHARE OF d
     ON CONFLICT (device_id, row_id) DO NOTHING";

// The same, replacing the frame of a receipt row that is still there.
const REPLACE: &str = "INSERT INTO queue (device_id, row_id, seq, kind, sender_id, frame)
     SELECT r.* FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::int2[], $5::uuid[], $6::bytea[])
         AS r(device_id, row_id, seq, kind, sender_id, frame)
     JOIN devices d ON d.id = r.device_id
     FOR KEY SHARE OF d
     ON CONFLICT (device_id, row_id) DO UPDATE SET frame = EXCLUDED.frame
         WHERE queue.kind = EXCLUDED.kind";

async fn commit(pool: &PgPool, ops: &[Op]) -> ApiResult<()> {
    let mut inserts = Columns::default();
    // One statement may touch a row once: the last replacement of each wins.
    let mut replaced: HashMap<(DeviceId, MessageId), &Row> = HashMap::new();
    let mut del_devices = Vec::new();
    let mut del_ids = Vec::new();
    for op in ops {
        match op {
            Op::Insert(row, _) => inserts.push(row),
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
    inserts.insert(&mut tx, INSERT).await?;
    replacements.insert(&mut tx, REPLACE).await?;
    // Deletes after inserts: an ack that raced ahead of its row's insert in
    // the same batch still removes it.
    if !del_devices.is_empty() {
        sqlx::query(
            "DELETE FROM queue q USING UNNEST($1::uuid[], $2::uuid[]) AS d(device_id, row_id)
             WHERE q.device_id = d.device_id AND q.row_id = d.row_id",
        )
        .bind(&del_devices)
        .bind(&del_ids)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// One stored row, read back when a device drains.
#[derive(Debug, sqlx::FromRow)]
pub struct StoredRow {
    /// Order key.
    pub seq: i64,
    /// Message id or receipt row id.
    pub row_id: MessageId,
    /// Message (0) or receipt (1).
    pub kind: i16,
    /// Sender of the message.
    pub sender_id: UserId,
    /// Encoded frame.
    pub frame: Vec<u8>,
}

/// The next page of a device's queue after `after_seq`, oldest first.
pub async fn page(
    pool: &PgPool,
    device: DeviceId,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<StoredRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, row_id, kind, sender_id, frame FROM queue
         WHERE device_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(device)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Deletes rows older than the retention period; returns how many.
pub async fn expire(pool: &PgPool, retention: Duration) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM queue WHERE created_at < now() - make_interval(secs => $1)")
            .bind(retention.as_secs_f64())
            .execute(pool)
            .await?;
    Ok(done.rows_affected())
}
