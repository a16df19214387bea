//! One query for every caller that arrives while the previous one runs.
//!
//! Callers hand in a key and wait for its answer; one task takes everything
//! waiting (up to a bound), runs one query over the distinct keys, sorted,
//! and answers each caller. A burst (a restart's first sends, a mass
//! disconnect) then costs a few queries instead of one per caller.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Why a batched call got no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BatchError {
    /// The batch's query failed.
    #[error("{0}")]
    Failed(Arc<sqlx::Error>),
    /// The task is gone (the runtime is shutting down).
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
    /// Starts the task on the current runtime; `query` answers up to
    /// `max_batch` distinct keys at once.
    pub fn start<F, Fut>(max_batch: usize, query: F) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<HashMap<K, V>, sqlx::Error>> + Send,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Request<K, V>>();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while rx.recv_many(&mut batch, max_batch).await > 0 {
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
