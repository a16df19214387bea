//! Password hashing with argon2id (19 MiB, 2 passes: the crate's defaults and
//! OWASP's minimum), on a small pool of dedicated threads.
//!
//! Each hash needs 19 MiB of memory for tens of milliseconds, so the number
//! of hashes running at once decides the server's memory: a burst of
//! sign-ins on an unbounded thread pool once took gigabytes and kept them.
//! Here a fixed number of threads hash, a bounded queue waits for them, and
//! past the queue a request is refused at once ([`PasswordError::Busy`], 503
//! with `Retry-After`) instead of piling up. No database connection is held while
//! a request waits here: the handlers read what they need first.

use argon2::password_hash::{Output, PasswordHash, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::oneshot;

/// The working memory of one hash is allocated with a capacity above glibc's
/// largest dynamic mmap threshold (32 MiB on 64-bit): with glibc, such an
/// allocation is a mapping of its own and goes back to the operating system
/// when the hash ends. The server's allocator is mimalloc, which keeps it for
/// the thread's next hash instead; either way only the pages argon2 touches
/// (19 MiB) count as resident, once per password thread at most.
const MEMORY_CAPACITY_BLOCKS: usize = 33 * 1024;

/// What a client is told to wait when the queue is full.
const BUSY_RETRY: Duration = Duration::from_secs(1);

enum Job {
    Hash(String, oneshot::Sender<Result<String, HashError>>),
    Verify(String, Option<String>, oneshot::Sender<bool>),
}

/// The hashing threads and their queue; cheap to clone.
#[derive(Clone)]
pub struct Passwords {
    jobs: SyncSender<Job>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords").finish_non_exhaustive()
    }
}

impl Passwords {
    /// Starts `threads` hashing threads with room for `queue` waiting
    /// requests. The threads end when the last handle is dropped. (Should no
    /// thread start, every request fails with an internal error.)
    pub fn start(threads: usize, queue: usize) -> Self {
        let (jobs, rx) = sync_channel(queue);
        let rx = Arc::new(Mutex::new(rx));
        let decoy = Arc::new(OnceLock::new());
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let decoy = decoy.clone();
            let started = std::thread::Builder::new()
                .name(format!("parley-argon2-{i}"))
                .spawn(move || work(&rx, &decoy));
            if let Err(e) = started {
                tracing::error!(error = %e, "password thread did not start");
            }
        }
        Self { jobs }
    }

    fn submit(&self, job: Job) -> Result<(), PasswordError> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => PasswordError::Busy(BUSY_RETRY),
            TrySendError::Disconnected(_) => PasswordError::Gone,
        })
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String, PasswordError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Hash(password, tx))?;
        Ok(rx.await.map_err(|_| PasswordError::Gone)??)
    }

    /// Checks a password against a stored hash, or against a decoy when there
    /// is none, so that unknown handles take as long as wrong passwords.
    pub async fn verify(
        &self,
        password: String,
        hash: Option<String>,
    ) -> Result<bool, PasswordError> {
        let (tx, rx) = oneshot::channel();
        self.submit(Job::Verify(password, hash, tx))?;
        rx.await.map_err(|_| PasswordError::Gone)
    }
}

fn work(rx: &Mutex<Receiver<Job>>, decoy: &OnceLock<Option<String>>) {
    loop {
        // The lock is held only while waiting for the next job.
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else { return };
        match job {
            Job::Hash(password, reply) => {
                let _ = reply.send(hash_blocking(&password));
            }
            Job::Verify(password, hash, reply) => {
                let valid = match hash {
                    Some(hash) => verify_blocking(&password, &hash),
                    None => {
                        let decoy =
                            decoy.get_or_init(|| hash_blocking("decoy password never used").ok());
                        if let Some(decoy) = decoy {
                            verify_blocking(&password, decoy);
                        }
                        false
                    }
                };
                let _ = reply.send(valid);
            }
        }
    }
}

/// Why the hashing threads gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Every thread is busy and the queue is full: try again after this.
    #[error("the password threads are busy")]
    Busy(Duration),
    /// The threads are gone (none started, or one ended mid-job).
    #[error("the password threads are gone")]
    Gone,
    /// The hash could not be made.
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// Why a hash could not be made. (The argon2 errors implement `Display`
/// but not `std::error::Error` without the crate's `std` feature, so they are
/// kept as values, not as sources.)
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Bad parameters or salt (a bug, or a corrupt stored hash).
    #[error("argon2: {0}")]
    Argon2(argon2::Error),
    /// The PHC string could not be built or read.
    #[error("password hash: {0}")]
    Phc(argon2::password_hash::Error),
}

impl From<argon2::Error> for HashError {
    fn from(e: argon2::Error) -> Self {
        Self::Argon2(e)
    }
}

impl From<argon2::password_hash::Error> for HashError {
    fn from(e: argon2::password_hash::Error) -> Self {
        Self::Phc(e)
    }
}

/// argon2id over `password` and `salt` into `out`, in memory that is returned
/// to the system afterwards (see [`MEMORY_CAPACITY_BLOCKS`]).
fn compute(
    argon: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    let mut memory: Vec<Block> =
        Vec::with_capacity(MEMORY_CAPACITY_BLOCKS.max(params.block_count()));
    memory.resize(params.block_count(), Block::default());
    argon.hash_password_into_with_memory(password, salt, out, &mut memory)?;
    Ok(())
}

fn hash_blocking(password: &str) -> Result<String, HashError> {
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let mut out = vec![0u8; len];
    compute(&argon, &params, password.as_bytes(), salt_bytes, &mut out)?;
    let output = Output::new(&out)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into()?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// Stored hashes come from this server: anything asking for more memory,
/// passes or lanes than ours is refused, whatever the database says, so a
/// tampered row cannot tie up a hashing thread.
fn within_our_cost(params: &Params) -> bool {
    let ours = Params::default();
    params.block_count() <= ours.block_count()
        && params.t_cost() <= ours.t_cost()
        && params.p_cost() <= ours.p_cost()
}

/// Whether `password` matches the PHC string `stored` (false for anything
/// that is not an argon2 hash this server could have made).
fn verify_blocking(password: &str, stored: &str) -> bool {
    let check = || -> Result<bool, HashError> {
        let parsed = PasswordHash::new(stored)?;
        let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
            return Ok(false);
        };
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()?
            .unwrap_or_default();
        let params = Params::try_from(&parsed)?;
        if !within_our_cost(&params) {
            tracing::warn!("a stored password hash asks for more than this server's parameters");
            return Ok(false);
        }
        let argon = Argon2::new(algorithm, version, params.clone());
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
        let mut out = vec![0u8; expected.len()];
        compute(&argon, &params, password.as_bytes(), salt_bytes, &mut out)?;
        // `Output`'s equality is constant-time.
        Ok(Output::new(&out)? == expected)
    };
    check().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "a stored password hash could not be checked");
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_blocking("correct horse").unwrap_or_default();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_blocking("correct horse", &hash));
        assert!(!verify_blocking("wrong horse", &hash));
        assert!(!verify_blocking("correct horse", "not a hash"));
    }

    #[test]
    fn hashes_match_the_argon2_crate_both_ways() {
        // Hashes stored before this pool existed were made by the crate itself.
        let ours = hash_blocking("battery staple").unwrap_or_default();
        let parsed = PasswordHash::new(&ours);
        assert!(parsed.is_ok_and(|p| {
            Argon2::default()
                .verify_password(b"battery staple", &p)
                .is_ok()
        }));
        use argon2::PasswordHasher;
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"battery staple", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(verify_blocking("battery staple", &theirs));
        assert!(!verify_blocking("battery stapler", &theirs));
    }

    #[test]
    fn a_stored_hash_asking_for_more_memory_or_time_is_refused() {
        let costly = [(4_194_304, 2, 1), (19_456, 100_000, 1), (19_456, 2, 64)];
        for (m, t, p) in costly {
            let params = Params::new(m, t, p, None);
            assert!(params.is_ok_and(|p| !within_our_cost(&p)), "{m} {t} {p}");
            let stored = format!(
                "$argon2id$v=19$m={m},t={t},p={p}$c29tZXNhbHRzb21lc2FsdA$\
                 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            );
            assert!(!verify_blocking("anything", &stored));
        }
        assert!(within_our_cost(&Params::default()));
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let pool = Passwords::start(1, 1);
        // One running, one waiting, the rest refused without waiting.
        let attempts: Vec<_> = (0..8)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.verify(format!("guess {i}"), None).await })
            })
            .collect();
        let mut busy = 0;
        let mut answered = 0;
        for attempt in attempts {
            match attempt.await {
                Ok(Err(PasswordError::Busy(_))) => busy += 1,
                Ok(Ok(false)) => answered += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(busy >= 1, "nothing refused: {answered} answered");
        assert!(answered >= 1, "nothing answered");
        assert_eq!(busy + answered, 8);
    }
}
