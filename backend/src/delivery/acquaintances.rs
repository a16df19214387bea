//! Who knows whom: whether a sender is a stranger to a recipient.
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

use crate::events::{ContactChange, Event, Reaction, Subscriber};
use crate::tasks::{Shutdown, Tasks};
use dashmap::DashMap;
use parley_protocol::UserId;
use sqlx::PgPool;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// When the set was last read (or a read failed).
    read_at: Option<Instant>,
    /// The last read succeeded and held everyone.
    complete: bool,
}

/// Whom each user knows.
#[derive(Debug)]
pub struct Acquaintances {
    pool: PgPool,
    people: DashMap<UserId, Known>,
    /// People held in `people`, for the memory bound.
    entries: AtomicUsize,
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

    /// Reads `user`'s contacts and the people they wrote to into their set.
    async fn read(&self, user: UserId) {
        let rows = store::known_by(&self.pool, user, MAX_PEERS as i64 + 1).await;
        let (rows, complete) = match rows {
            Ok(rows) => {
                let complete = rows.len() <= MAX_PEERS;
                (rows, complete)
            }
            Err(e) => {
                tracing::warn!(error = %e, "acquaintances not read");
                (Vec::new(), false)
            }
        };
        if self.entries.load(Ordering::Relaxed) + rows.len() > MAX_ENTRIES {
            self.people.clear();
            self.entries.store(0, Ordering::Relaxed);
        }
        let mut known = self.people.entry(user).or_default();
        // What this node recorded meanwhile may not be committed yet: keep it.
        let before = known.peers.len();
        known.peers.extend(rows);
        known.read_at = Some(Instant::now());
        known.complete = complete;
        let added = known.peers.len() - before;
        drop(known);
        self.entries.fetch_add(added, Ordering::Relaxed);
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
    pub fn removed_contact(&self, owner: UserId) {
        if let Some((_, known)) = self.people.remove(&owner) {
            self.entries.fetch_sub(known.peers.len(), Ordering::Relaxed);
        }
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
        if let Event::ContactsChanged { user, change } = event {
            match change {
                ContactChange::Added(contact) => self.added_contact(user, contact),
                ContactChange::Removed(_) => self.removed_contact(user),
            }
        }
        None
    }
}

/// The queries behind the sets: who a user knows, and recording new pairs.
mod store {
    use parley_protocol::UserId;
    use sqlx::PgPool;

    /// `user`'s contacts and the people they wrote to, at most `limit`.
    pub async fn known_by(
        pool: &PgPool,
        user: UserId,
        limit: i64,
    ) -> Result<Vec<UserId>, sqlx::Error> {
        sqlx::query_scalar(
            "(SELECT contact_id FROM contacts WHERE owner_id = $1
              UNION SELECT to_id FROM conversations WHERE from_id = $1)
             LIMIT $2",
        )
        .bind(user)
        .bind(limit)
        .fetch_all(pool)
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
