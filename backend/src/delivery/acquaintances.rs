//! Who knows whom: whether a sender is a stranger to a recipient, and
//! whether a recipient blocked them.
//!
//! A user knows the people in their contacts and the people they have written
//! to. Contacts are the `contacts` table; "wrote to" is one row per ordered
//! pair in `conversations`, recorded by a background task in batches: a send
//! never waits for the write.
//!
//! Each node keeps, per user, the set of people it has seen them know, read
//! with one query the first time it is needed. A send looks its recipient up
//! in the sender's set and records the pair only when it is new and not a
//! contact, so chats between contacts cost one hash look-up and no write;
//! the sender's set is read once (a known pair stays known: `conversations`
//! only grows). A stranger check, made only for sends that go to an offline
//! device's queue, looks the sender up in the recipient's set, read again
//! after [`RELOAD`] to see what other nodes recorded. A failed read counts
//! as "known" for [`RELOAD`] without asking again: during a database outage
//! sends between online devices wait for nothing here.
//!
//! Memory is bounded by [`MAX_ENTRIES`] people across all sets; past it the
//! sets start over and are read again when needed.
//!
//! The same read brings the people the user blocked (at most
//! [`MAX_BLOCKS`]), which the hot paths ask about without a query of their
//! own: whether a message, a call signal or a typing indicator reaches the
//! blocker's devices. A block or unblock on this node changes the set at
//! once (`BlocksChanged`), before the change is answered; a read that
//! overlapped a change is not trusted for blocks (the change may postdate
//! what it read), and the next question reads again. Other nodes' changes
//! are seen when the set is read again after [`RELOAD`]. A failed read keeps
//! the block set read before (as changed here since): only someone whose
//! blocks were never read counts as blocking nobody while the database is
//! out, so an outage does not let a blocked person through.
//!
//! [`MAX_BLOCKS`]: parley_protocol::limits::MAX_BLOCKS

use crate::events::{BlockChange, ContactChange, Event, Reaction, Subscriber};
use crate::tasks::{Shutdown, Tasks};
use dashmap::DashMap;
use parley_protocol::UserId;
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long a recipient's set is trusted for the stranger check.
const RELOAD: Duration = Duration::from_secs(60);
/// People kept across all sets (about 40 bytes each).
const MAX_ENTRIES: usize = 2_000_000;
/// People read for one user; someone who knows more is never a stranger's
/// target here (their set counts as incomplete: everyone is "known").
const MAX_PEERS: usize = 10_000;
/// Pairs waiting to be written; past this new pairs are not recorded until
/// the writer catches up (they are tried again at the pair's next send).
const MAX_PENDING: usize = 65_536;
/// Pairs written by one statement.
const MAX_BATCH: usize = 4096;

#[derive(Debug, Default)]
struct Known {
    /// Contacts and people written to, as far as this node knows.
    peers: HashSet<UserId>,
    /// The people this user blocked.
    blocked: Blocks,
    /// When the set was last read (or a read failed).
    read_at: Option<Instant>,
    /// The last read succeeded and held everyone.
    complete: bool,
}

/// What a node knows of the people one user blocked.
#[derive(Debug, Default)]
enum Blocks {
    /// Never read, or the only read overlapped a block change.
    #[default]
    Unread,
    /// Everyone they blocked, as of the last good read and the changes since.
    Read(HashSet<UserId>),
    /// As `Read`, but a later read overlapped a block change (which may
    /// postdate what it read): the next question asks again, and this set
    /// answers only when asking fails.
    Doubted(HashSet<UserId>),
    /// Never read successfully, and the last read failed: nobody counts as
    /// blocked until the next read, so a database outage never holds a
    /// message here.
    Failed,
}

impl Blocks {
    /// What is known after a read that found `read` (`None`: it failed);
    /// `overlapped`: a block change was counted while it ran.
    fn after_read(self, read: Option<HashSet<UserId>>, overlapped: bool) -> Self {
        match (read, overlapped, self) {
            (Some(set), false, _) => Self::Read(set),
            (Some(_), true, Self::Read(set) | Self::Doubted(set)) => Self::Doubted(set),
            (Some(_), true, _) => Self::Unread,
            // A failed read never unblocks anyone: the set read before
            // (with this node's changes since) stands until the next read.
            (None, _, Self::Read(set) | Self::Doubted(set)) => Self::Read(set),
            (None, true, _) => Self::Unread,
            (None, false, _) => Self::Failed,
        }
    }

    /// Whether the last good read (and the changes since) has `peer`,
    /// trusted or not.
    fn last_known(&self, peer: UserId) -> bool {
        match self {
            Self::Read(set) | Self::Doubted(set) => set.contains(&peer),
            Self::Unread | Self::Failed => false,
        }
    }
}

impl Known {
    /// People held, for the memory bound.
    fn size(&self) -> usize {
        let blocked = match &self.blocked {
            Blocks::Read(set) | Blocks::Doubted(set) => set.len(),
            Blocks::Unread | Blocks::Failed => 0,
        };
        self.peers.len() + blocked
    }
}

/// Whom each user knows.
#[derive(Debug)]
pub struct Acquaintances {
    pool: PgPool,
    people: DashMap<UserId, Known>,
    /// People held in `people`, for the memory bound.
    entries: AtomicUsize,
    /// Bumped by every block change here, before the set changes: a read
    /// that saw it move may have read the database before the change.
    block_changes: AtomicU64,
    pairs: mpsc::Sender<(UserId, UserId)>,
}

/// What a user's cached set says about one person.
enum Answer {
    Known,
    Unknown,
    /// Not read, or read too long ago for the question.
    Stale,
}

impl Acquaintances {
    /// Starts the pair writer among `tasks`; on shutdown it writes the
    /// pairs already waiting.
    pub fn start(pool: PgPool, tasks: &Tasks) -> Self {
        let (pairs, rx) = mpsc::channel(MAX_PENDING);
        tasks.spawn("conversation pair writer", {
            let pool = pool.clone();
            |shutdown| write_pairs(pool, rx, shutdown)
        });
        Self {
            pool,
            people: DashMap::new(),
            entries: AtomicUsize::new(0),
            block_changes: AtomicU64::new(0),
            pairs,
        }
    }

    /// The cached answer to "does `user` know `peer`", if its read is
    /// younger than `max_age` (a failed read answers "known").
    fn cached(&self, user: UserId, peer: UserId, max_age: Option<Duration>) -> Answer {
        let Some(known) = self.people.get(&user) else {
            return Answer::Stale;
        };
        if known.peers.contains(&peer) {
            return Answer::Known;
        }
        match known.read_at {
            Some(at) if max_age.is_none_or(|max| at.elapsed() < max) => {
                if known.complete {
                    Answer::Unknown
                } else {
                    Answer::Known
                }
            }
            _ => Answer::Stale,
        }
    }

    /// Reads `user`'s contacts, the people they wrote to and the people
    /// they blocked into their set.
    async fn read(&self, user: UserId) {
        let changes = self.block_changes.load(Ordering::Acquire);
        let rows = store::known_by(&self.pool, user, MAX_PEERS as i64 + 1).await;
        let (peers, blocked, complete) = match rows {
            Ok(rows) => {
                let (blocked, peers): (Vec<_>, Vec<_>) =
                    rows.into_iter().partition(|(_, blocked)| *blocked);
                let complete = peers.len() <= MAX_PEERS;
                let blocked = blocked.into_iter().map(|(peer, _)| peer).collect();
                let peers: Vec<UserId> = peers.into_iter().map(|(peer, _)| peer).collect();
                (peers, Some(blocked), complete)
            }
            Err(e) => {
                tracing::warn!(error = %e, "acquaintances not read");
                (Vec::new(), None, false)
            }
        };
        if self.entries.load(Ordering::Relaxed) + peers.len() > MAX_ENTRIES {
            self.people.clear();
            self.entries.store(0, Ordering::Relaxed);
        }
        let mut known = self.people.entry(user).or_default();
        let before = known.size();
        // What this node recorded meanwhile may not be committed yet: keep it.
        known.peers.extend(peers);
        // Checked under the entry's lock, which a block change takes after
        // counting itself: either it sees this set, or this sees it.
        let overlapped = self.block_changes.load(Ordering::Acquire) != changes;
        known.blocked = std::mem::take(&mut known.blocked).after_read(blocked, overlapped);
        known.read_at = Some(Instant::now());
        known.complete = complete;
        let after = known.size();
        drop(known);
        self.count(before, after);
    }

    /// Keeps the memory count in step with a set that went from `before`
    /// people to `after`.
    fn count(&self, before: usize, after: usize) {
        if after >= before {
            self.entries.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.entries.fetch_sub(before - after, Ordering::Relaxed);
        }
    }

    /// Whether `recipient` blocked `sender`, so that what `sender` sends
    /// (messages, call signals, typing) must not reach `recipient`'s
    /// devices; never for oneself. As of at most [`RELOAD`] ago (and every
    /// change made on this node since); costs no query while the
    /// recipient's set is fresh. When the database fails, the set read
    /// before answers; with none, "not blocked".
    pub async fn blocks(&self, recipient: UserId, sender: UserId) -> bool {
        if recipient == sender {
            return false;
        }
        if let Some(answer) = self.cached_block(recipient, sender, true) {
            return answer;
        }
        self.read(recipient).await;
        if let Some(answer) = self.cached_block(recipient, sender, false) {
            return answer;
        }
        // The read overlapped a block change (rare): ask about this pair.
        store::blocks(&self.pool, recipient, sender)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "block not read");
                self.people
                    .get(&recipient)
                    .is_some_and(|known| known.blocked.last_known(sender))
            })
    }

    /// The cached answer to "did `blocker` block `peer`", if the set was
    /// read (younger than [`RELOAD`] when `fresh`) and trusted.
    fn cached_block(&self, blocker: UserId, peer: UserId, fresh: bool) -> Option<bool> {
        let known = self.people.get(&blocker)?;
        let at = known.read_at?;
        if fresh && at.elapsed() >= RELOAD {
            return None;
        }
        match &known.blocked {
            Blocks::Read(set) => Some(set.contains(&peer)),
            Blocks::Failed => Some(false),
            Blocks::Unread | Blocks::Doubted(_) => None,
        }
    }

    /// `user` blocked or unblocked someone: their set, if read, changes now.
    pub fn blocks_changed(&self, user: UserId, change: BlockChange) {
        // Counted before the set is touched (see `read`).
        self.block_changes.fetch_add(1, Ordering::AcqRel);
        let Some(mut known) = self.people.get_mut(&user) else {
            return;
        };
        let before = known.size();
        match (&mut known.blocked, change) {
            (Blocks::Read(set) | Blocks::Doubted(set), BlockChange::Blocked(peer)) => {
                set.insert(peer);
            }
            (Blocks::Read(set) | Blocks::Doubted(set), BlockChange::Unblocked(peer)) => {
                set.remove(&peer);
            }
            // Read again at the next question.
            (blocked @ Blocks::Failed, _) => *blocked = Blocks::Unread,
            (Blocks::Unread, _) => {}
        }
        let after = known.size();
        drop(known);
        self.count(before, after);
    }

    /// Whether `recipient` knows `sender` (has them as a contact or wrote to
    /// them), as of at most [`RELOAD`] ago. A database failure counts as
    /// known: the bound on strangers is not worth refusing messages for.
    pub async fn knows(&self, recipient: UserId, sender: UserId) -> bool {
        if recipient == sender {
            return true;
        }
        match self.cached(recipient, sender, Some(RELOAD)) {
            Answer::Known => return true,
            Answer::Unknown => return false,
            Answer::Stale => {}
        }
        self.read(recipient).await;
        !matches!(self.cached(recipient, sender, None), Answer::Unknown)
    }

    /// `from` sent a message to `to`: from now on `to` is not a stranger to
    /// `from`. Records the pair only when `from`'s set does not have it (a
    /// contact, or someone written to before); the set is read once.
    pub async fn wrote(&self, from: UserId, to: UserId) {
        if from == to {
            return;
        }
        let answer = match self.cached(from, to, None) {
            Answer::Stale => {
                self.read(from).await;
                self.cached(from, to, None)
            }
            answer => answer,
        };
        // A failed or incomplete read says "known": record to be sure (a
        // pair recorded twice is ignored by the table).
        let incomplete = self.people.get(&from).is_some_and(|k| !k.complete);
        if matches!(answer, Answer::Known) && !incomplete {
            return;
        }
        if !self.remember(from, to) {
            return;
        }
        if self.pairs.try_send((from, to)).is_err() {
            // Not recorded: forget it, so the next send tries again.
            if let Some(mut known) = self.people.get_mut(&from)
                && known.peers.remove(&to)
            {
                self.entries.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Adds `peer` to `user`'s set; false when it was there already.
    fn remember(&self, user: UserId, peer: UserId) -> bool {
        if self.entries.load(Ordering::Relaxed) >= MAX_ENTRIES {
            self.people.clear();
            self.entries.store(0, Ordering::Relaxed);
        }
        let added = self.people.entry(user).or_default().peers.insert(peer);
        if added {
            self.entries.fetch_add(1, Ordering::Relaxed);
        }
        added
    }

    /// `owner` added `contact` to their contacts.
    pub fn added_contact(&self, owner: UserId, contact: UserId) {
        if self.people.contains_key(&owner) {
            self.remember(owner, contact);
        }
    }

    /// `owner` removed someone from their contacts: read their set afresh.
    /// Their blocks are kept, should that read fail.
    pub fn removed_contact(&self, owner: UserId) {
        let Some(mut known) = self.people.get_mut(&owner) else {
            return;
        };
        let before = known.size();
        known.peers = HashSet::new();
        known.read_at = None;
        known.complete = false;
        let after = known.size();
        drop(known);
        self.count(before, after);
    }
}

async fn write_pairs(pool: PgPool, mut rx: mpsc::Receiver<(UserId, UserId)>, shutdown: Shutdown) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut open = true;
    loop {
        tokio::select! {
            received = rx.recv_many(&mut batch, MAX_BATCH) => if received == 0 {
                return;
            },
            () = shutdown.cancelled(), if open => {
                // The pairs already waiting are written below; no more come in.
                rx.close();
                open = false;
                continue;
            }
        }
        let (from, to): (Vec<UserId>, Vec<UserId>) = batch.drain(..).unzip();
        if let Err(e) = store::record_pairs(&pool, &from, &to).await {
            // Lost pairs cost a stranger's bound where it was not needed,
            // never a message.
            tracing::warn!(error = %e, pairs = from.len(), "conversations not recorded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Subscriber for Acquaintances {
    fn notify(&self, event: Event) -> Option<Reaction<'_>> {
        match event {
            Event::ContactsChanged { user, change } => match change {
                ContactChange::Added(contact) => self.added_contact(user, contact),
                ContactChange::Removed(_) => self.removed_contact(user),
            },
            Event::BlocksChanged { user, change } => self.blocks_changed(user, change),
            _ => {}
        }
        None
    }
}

/// The queries behind the sets: who a user knows and blocked, and
/// recording new pairs.
mod store {
    use parley_protocol::UserId;
    use sqlx::PgPool;

    /// `user`'s contacts and the people they wrote to, at most `limit`
    /// (`false`), and everyone they blocked (`true`; bounded by
    /// `MAX_BLOCKS`), in one query.
    pub async fn known_by(
        pool: &PgPool,
        user: UserId,
        limit: i64,
    ) -> Result<Vec<(UserId, bool)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT peer, false FROM (
                 SELECT contact_id AS peer FROM contacts WHERE owner_id = $1
                 UNION SELECT to_id FROM conversations WHERE from_id = $1
                 LIMIT $2) AS known
             UNION ALL
             SELECT blocked, true FROM blocks WHERE blocker = $1",
        )
        .bind(user)
        .bind(limit)
        .fetch_all(pool)
        .await
    }

    /// Whether `blocker` blocked `peer`.
    pub async fn blocks(pool: &PgPool, blocker: UserId, peer: UserId) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM blocks WHERE blocker = $1 AND blocked = $2)",
        )
        .bind(blocker)
        .bind(peer)
        .fetch_one(pool)
        .await
    }

    /// Records that each `from[i]` wrote to `to[i]` (known pairs are ignored).
    pub async fn record_pairs(
        pool: &PgPool,
        from: &[UserId],
        to: &[UserId],
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO conversations (from_id, to_id)
             SELECT * FROM UNNEST($1::uuid[], $2::uuid[])
             ON CONFLICT DO NOTHING",
        )
        .bind(from)
        .bind(to)
        .execute(pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rows;
    use futures_util::FutureExt;

    async fn set_block(pool: &PgPool, blocker: UserId, blocked: UserId, on: bool) {
        let sql = if on {
            "INSERT INTO blocks (blocker, blocked) VALUES ($1, $2)"
        } else {
            "DELETE FROM blocks WHERE blocker = $1 AND blocked = $2"
        };
        sqlx::query(sql)
            .bind(blocker)
            .bind(blocked)
            .execute(pool)
            .await
            .unwrap();
    }

    /// `user` blocks `peer` while a read of `user`'s set waits: the read
    /// starts, the block commits and is counted, then the read ends (its
    /// query waits on a lock the block's transaction holds).
    async fn block_during_read(known: &Acquaintances, pool: &PgPool, user: UserId, peer: UserId) {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("LOCK TABLE blocks IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .unwrap();
        let reading = known.read(user);
        tokio::pin!(reading);
        assert!(
            reading.as_mut().now_or_never().is_none(),
            "waits for the lock"
        );
        sqlx::query("INSERT INTO blocks (blocker, blocked) VALUES ($1, $2)")
            .bind(user)
            .bind(peer)
            .execute(&mut *tx)
            .await
            .unwrap();
        known.blocks_changed(user, BlockChange::Blocked(peer));
        tx.commit().await.unwrap();
        reading.await;
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn blocks_are_answered_from_the_set_and_changed_by_events(pool: PgPool) {
        let tasks = Tasks::default();
        let known = Acquaintances::start(pool.clone(), &tasks);
        let alice = test_rows::user(&pool, "alice").await;
        let bob = test_rows::user(&pool, "bob").await;
        let carol = test_rows::user(&pool, "carol").await;
        set_block(&pool, alice, bob, true).await;

        assert!(known.blocks(alice, bob).await, "read once");
        assert!(!known.blocks(alice, carol).await);
        assert!(!known.blocks(bob, alice).await, "one way");
        assert!(!known.blocks(alice, alice).await);

        // From the set, without asking the database again...
        set_block(&pool, alice, bob, false).await;
        assert!(known.blocks(alice, bob).await);
        // ...until this node's change reaches it.
        known.blocks_changed(alice, BlockChange::Unblocked(bob));
        assert!(!known.blocks(alice, bob).await);
        set_block(&pool, alice, carol, true).await;
        known.blocks_changed(alice, BlockChange::Blocked(carol));
        assert!(known.blocks(alice, carol).await);
        assert_eq!(known.entries.load(Ordering::Relaxed), 1, "memory counted");
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_read_that_overlaps_a_block_change_is_not_trusted(pool: PgPool) {
        let tasks = Tasks::default();
        let known = Acquaintances::start(pool.clone(), &tasks);
        let alice = test_rows::user(&pool, "alice").await;
        let bob = test_rows::user(&pool, "bob").await;
        // No set is stored yet, so the change has nothing to update.
        block_during_read(&known, &pool, alice, bob).await;
        assert!(
            known.cached_block(alice, bob, false).is_none(),
            "the overlapping read is not trusted"
        );
        assert!(known.blocks(alice, bob).await, "asked again");
    }

    /// Makes `user`'s set due for a read.
    fn expire(known: &Acquaintances, user: UserId) {
        if let Some(mut set) = known.people.get_mut(&user) {
            set.read_at = Instant::now().checked_sub(RELOAD);
        }
    }

    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_failed_read_keeps_the_blocks_read_before(pool: PgPool) {
        let tasks = Tasks::default();
        let known = Acquaintances::start(pool.clone(), &tasks);
        let [alice, bob, carol, dave, erin] = [
            test_rows::user(&pool, "alice").await,
            test_rows::user(&pool, "bob").await,
            test_rows::user(&pool, "carol").await,
            test_rows::user(&pool, "dave").await,
            test_rows::user(&pool, "erin").await,
        ];
        for blocker in [alice, carol, dave] {
            set_block(&pool, blocker, bob, true).await;
            assert!(known.blocks(blocker, bob).await);
        }
        // Dave's next read overlaps his blocking Erin: his set is doubted.
        block_during_read(&known, &pool, dave, erin).await;
        assert!(known.cached_block(dave, bob, false).is_none());

        // The database goes away; every set is due for a read, which fails.
        pool.close().await;
        expire(&known, alice);
        known.removed_contact(carol);
        assert!(known.blocks(alice, bob).await, "after the set expired");
        assert!(known.blocks(carol, bob).await, "after a contact removal");
        assert!(known.blocks(dave, bob).await, "a doubted set");
        assert!(known.blocks(dave, erin).await, "with this node's change");
        assert!(!known.blocks(dave, alice).await);
        // Only someone never read blocks nobody while the database is out.
        assert!(!known.blocks(erin, bob).await);
        assert_eq!(known.entries.load(Ordering::Relaxed), 4, "memory counted");
    }
}
