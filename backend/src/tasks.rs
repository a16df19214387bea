//! The lifecycle every background task shares: started with the state, told
//! to stop when the server stops, and awaited (up to a deadline) so that
//! writers commit what they hold before the process exits.
//!
//! Before, each loop was a detached `tokio::spawn` that died with the runtime
//! wherever it was: a queue writer with operations pending dropped them.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The shutdown signal a task is handed: `cancelled().await` resolves once
/// the server is stopping.
pub type Shutdown = CancellationToken;

/// The background tasks of one server; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    shutdown: CancellationToken,
    running: Mutex<Vec<(&'static str, JoinHandle<()>)>>,
}

impl Tasks {
    /// Runs `task` on the current runtime. It gets the shutdown signal and
    /// must return soon after it fires, having finished (flushed) what it
    /// holds; one started after shutdown sees the signal fired already.
    pub fn spawn<F, Fut>(&self, name: &'static str, task: F)
    where
        F: FnOnce(Shutdown) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task(self.inner.shutdown.clone()));
        let mut running = self
            .inner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Tasks are started once, with the state; the ones that ended are
        // dropped here all the same, so a long life cannot grow the list.
        running.retain(|(_, task)| !task.is_finished());
        running.push((name, handle));
    }

    /// Runs `job` every `period`, the first time at once, until shutdown. A
    /// round under way when the signal comes is finished (within the
    /// deadline of [`Tasks::shutdown`]).
    pub fn every<F, Fut>(&self, name: &'static str, period: Duration, mut job: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.spawn(name, move |shutdown| async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tokio::select! {
                    biased;
                    () = shutdown.cancelled() => return,
                    _ = tick.tick() => job().await,
                }
            }
        });
    }

    /// Tells every task to stop and waits for them, at most `deadline` in
    /// all; those still running then are aborted (and logged).
    pub async fn shutdown(&self, deadline: Duration) {
        self.inner.shutdown.cancel();
        let running = std::mem::take(
            &mut *self
                .inner
                .running
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let until = tokio::time::Instant::now() + deadline;
        for (name, mut task) in running {
            match tokio::time::timeout_at(until, &mut task).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) if e.is_panic() => tracing::error!(task = name, "task panicked"),
                Ok(Err(_)) => {}
                Err(_) => {
                    tracing::warn!(task = name, "task did not stop in time: aborted");
                    task.abort();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn shutdown_lets_tasks_finish_what_they_hold_and_aborts_the_stuck() {
        let tasks = Tasks::default();
        let flushed = Arc::new(AtomicUsize::new(0));
        tasks.spawn("writer", {
            let flushed = flushed.clone();
            |shutdown| async move {
                shutdown.cancelled().await;
                tokio::task::yield_now().await;
                flushed.fetch_add(1, Ordering::SeqCst);
            }
        });
        tasks.spawn("stuck", |_| std::future::pending());
        let rounds = Arc::new(AtomicUsize::new(0));
        tasks.every("job", Duration::from_secs(3600), {
            let rounds = rounds.clone();
            move || {
                rounds.fetch_add(1, Ordering::SeqCst);
                std::future::ready(())
            }
        });
        // The first round runs at once.
        tokio::time::timeout(Duration::from_secs(5), async {
            while rounds.load(Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        let started = tokio::time::Instant::now();
        tasks.shutdown(Duration::from_millis(200)).await;
        assert_eq!(
            flushed.load(Ordering::SeqCst),
            1,
            "flushed before shutdown returned"
        );
        assert_eq!(rounds.load(Ordering::SeqCst), 1, "no round after shutdown");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the stuck task was cut off"
        );
        // Started late: sees the signal at once.
        let late = Arc::new(AtomicUsize::new(0));
        tasks.spawn("late", {
            let late = late.clone();
            |shutdown| async move {
                shutdown.cancelled().await;
                late.fetch_add(1, Ordering::SeqCst);
            }
        });
        tasks.shutdown(Duration::from_secs(1)).await;
        assert_eq!(late.load(Ordering::SeqCst), 1);
    }
}
