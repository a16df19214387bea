//! One query for every caller that arrives while the previous one runs.
//!
//! Callers hand in a key and wait for its answer; one task takes everything
//! waiting (up to a bound), runs one query over the distinct keys, sorted,
//! and answers each caller. A burst (a restart's first sends, a mass
//! disconnect) then costs a few queries instead of one per caller.

use crate::tasks::Tasks;
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Why a batched call got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BatchError {
    /// The batch's query failed (shared by every caller of the batch).
    #[error(transparent)]
    Failed(Arc<sqlx::Error>),
    /// The task is gone (the server is shutting down).
    #[error("batching task stopped")]
    Stopped,
}

/// A key's answer: `None` when the query returned nothing for it.
pub type Reply<V> = Result<Option<V>, BatchError>;

type Request<K, V> = (K, oneshot::Sender<Reply<V>>);

/// Handle to a batching task; cheap to clone.
#[derive(Debug)]
pub struct Batcher<K, V> {
    // Unbounded, yet bounded by the callers: each waits for its answer.
    tx: mpsc::UnboundedSender<Request<K, V>>,
}

impl<K, V> Clone for Batcher<K, V> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<K, V> Batcher<K, V>
where
    K: Copy + Ord + Hash + Send + 'static,
    V: Clone + Send + 'static,
{
    /// Starts the task among `tasks`; `query` answers up to `max_batch`
    /// distinct keys at once. On shutdown the keys already asked for are
    /// still answered (a last-seen time is still written); later calls get
    /// [`BatchError::Stopped`].
    pub fn start<F, Fut>(tasks: &Tasks, name: &'static str, max_batch: usize, query: F) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HashMap<K, V>, sqlx::Error>> + Send,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Request<K, V>>();
        tasks.spawn(name, move |shutdown| async move {
            let mut batch = Vec::new();
            let mut open = true;
            loop {
                tokio::select! {
                    received = rx.recv_many(&mut batch, max_batch) => if received == 0 {
                        return;
                    },
                    () = shutdown.cancelled(), if open => {
                        // What is already waiting is taken below; nothing new gets in.
                        rx.close();
                        open = false;
                        continue;
                    }
                }
                answer(&query, &mut batch).await;
            }
        });
        Self { tx }
    }

    /// The answer for `key`, from the next batch.
    pub async fn get(&self, key: K) -> Reply<V> {
        let (done, rx) = oneshot::channel();
        self.tx.send((key, done)).map_err(|_| BatchError::Stopped)?;
        rx.await.unwrap_or(Err(BatchError::Stopped))
    }
}

/// Runs one query over the distinct keys of `batch` and answers its callers.
async fn answer<K, V, F, Fut>(query: &F, batch: &mut Vec<Request<K, V>>)
where
    K: Copy + Ord + Hash,
    V: Clone,
    F: Fn(Vec<K>) -> Fut,
    Fut: Future<Output = Result<HashMap<K, V>, sqlx::Error>>,
{
    let mut keys: Vec<K> = batch.iter().map(|(key, _)| *key).collect();
    // One order for every batch: concurrent row locks cannot deadlock.
    keys.sort_unstable();
    keys.dedup();
    match query(keys).await {
        Ok(found) => {
            for (key, done) in batch.drain(..) {
                let _ = done.send(Ok(found.get(&key).cloned()));
            }
        }
        Err(e) => {
            let e = BatchError::Failed(Arc::new(e));
            for (_, done) in batch.drain(..) {
                let _ = done.send(Err(e.clone()));
            }
        }
    }
}
