//! bcrypt, kept off the async workers on a pool of its own, with equal work
//! whether or not the account exists.
//!
//! Why a pool of its own rather than `spawn_blocking`: one bcrypt check is a
//! quarter of a second of pure CPU at the default cost, and a login flood
//! queues many. On tokio's blocking pool they would run at the same OS
//! priority as the async workers and take every core, so page requests
//! would wait behind them. Here they run on one thread per core at a lower
//! priority: the OS lets any page request preempt them, and they still use
//! every cycle nothing else wants, so logins lose almost no throughput.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use rocket::tokio::sync::oneshot;

use crate::error::Error;
use crate::users::{Password, PasswordHash};

/// The nice value of the password threads (0 is normal, 19 the lowest),
/// besides the idle scheduling policy (see `lower_this_threads_priority`).
/// The lowest: a page request then gets nearly a whole core the moment it
/// needs one, while bcrypt still soaks up whatever is left.
const PASSWORD_THREAD_NICE: libc::c_int = 19;

/// Hashes and verifies passwords at the configured cost. Managed state.
pub struct Hasher {
    cost: u32,
    /// A hash of a password nobody knows, at the configured cost. Unknown
    /// usernames are checked against it so that they take as long as wrong
    /// passwords: response time must not reveal which usernames exist.
    dummy: PasswordHash,
    /// bcrypt verifications run so far: shows that throttled attempts cost
    /// none.
    verifications: AtomicU64,
    pool: PasswordPool,
}

impl Hasher {
    /// Makes a hasher and starts its password threads; blocks for one bcrypt
    /// hash (the dummy), so call it off the async workers.
    pub fn new(cost: u32) -> Result<Hasher, Error> {
        let dummy = bcrypt::hash("wristband dummy password", cost)
            .map_err(|e| Error::Hashing(e.to_string()))?;
        Ok(Hasher {
            cost,
            dummy: PasswordHash::new(dummy),
            verifications: AtomicU64::new(0),
            pool: PasswordPool::start()?,
        })
    }

    /// How many bcrypt verifications have run.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Hashes a new password on the password threads.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, Error> {
        let cost = self.cost;
        let password = password.clone();
        self.pool
            .run(move || bcrypt::hash(password.expose(), cost))
            .await?
            .map(PasswordHash::new)
            .map_err(|e| Error::Hashing(e.to_string()))
    }

    /// Checks a typed password against a stored hash, or, when there is no
    /// account (`None`) or the typed text cannot be a password, burns the
    /// same bcrypt work on the dummy hash and answers `false`. Text over 72
    /// bytes is never handed to bcrypt, which would truncate it and accept
    /// anything sharing the first 72 bytes.
    pub async fn verify(&self, typed: &str, stored: Option<&PasswordHash>) -> Result<bool, Error> {
        let (candidate, hash, real) = match (Password::parse(typed), stored) {
            (Ok(password), Some(hash)) => (password.expose().to_string(), hash.clone(), true),
            _ => (
                "not the dummy password".to_string(),
                self.dummy.clone(),
                false,
            ),
        };
        self.verifications.fetch_add(1, Ordering::Relaxed);
        let matched = self
            .pool
            .run(move || bcrypt::verify(&candidate, hash.as_str()))
            .await?
            .map_err(|e| Error::Hashing(e.to_string()))?;
        Ok(real && matched)
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// One thread per core, taking jobs first come, first served. The threads
/// end when the pool (and so the sending side of the queue) is dropped.
struct PasswordPool {
    jobs: mpsc::Sender<Job>,
}

impl PasswordPool {
    fn start() -> Result<PasswordPool, Error> {
        let threads = thread::available_parallelism().map_or(1, |n| n.get());
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            thread::Builder::new()
                .name(format!("wristband-password-{i}"))
                // bcrypt needs a few KiB of stack; the default 2 MiB is
                // address space only, but there is no reason to ask for it.
                .stack_size(256 * 1024)
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        // The lock is held only while waiting for the next
                        // job, never while running one.
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        match next {
                            Ok(job) => job(),
                            Err(mpsc::RecvError) => break,
                        }
                    }
                })
                .map_err(|e| Error::Hashing(format!("cannot start a password thread: {e}")))?;
        }
        Ok(PasswordPool { jobs })
    }

    /// Runs `work` on a password thread and waits for it without blocking
    /// the caller's async worker.
    async fn run<T, F>(&self, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            // Whoever asked has gone (the client hung up): skip the work
            // rather than spend a quarter second of CPU on nobody.
            if reply.is_closed() {
                return;
            }
            let _ = reply.send(work());
        });
        self.jobs
            .send(job)
            .map_err(|_| Error::Hashing("the password threads have stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Hashing("a password thread failed".into()))
    }
}

/// Makes the calling thread (only it, not the whole process) yield to
/// everything else: Linux's `SCHED_IDLE` policy, and the lowest nice value
/// in case that is refused. Failing is harmless: the work is the same, only
/// pages may then wait for it, so it is logged, not fatal.
///
/// Why `SCHED_IDLE` and not only nice 19: a nice-19 thread that is running
/// keeps its core until its time slice ends (a few milliseconds), so a page
/// request that wakes up behind it can wait that long, several times over
/// when it also waits for the database. During a login flood on
/// PostgreSQL, `/profile` p99 measured 28-52 ms with nice 19 alone and
/// 4-20 ms with `SCHED_IDLE` (benches/PERFORMANCE.md). An idle-policy
/// thread is preempted the moment any normal thread wants its core.
#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // On Linux each thread has its own nice value and policy, addressed by
    // thread id (or 0 for the caller).
    // SAFETY: plain system calls on the calling thread; `param` outlives
    // the call.
    let (nice, idle) = unsafe {
        let tid = libc::gettid();
        let nice = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, PASSWORD_THREAD_NICE);
        let param = libc::sched_param { sched_priority: 0 };
        let idle = libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
        (nice, idle)
    };
    if nice != 0 || idle != 0 {
        log::warn!(
            "cannot lower the priority of a password thread: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Elsewhere `setpriority` applies to the whole process, which would slow
/// the pages too, so the threads keep the normal priority.
#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {
    let _ = PASSWORD_THREAD_NICE;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rocket::async_test]
    async fn verify_accepts_only_the_right_password() {
        let hasher = Hasher::new(4).expect("hasher");
        let password = Password::parse("correct horse").expect("valid");
        let hash = hasher.hash(&password).await.expect("hash");
        assert!(hasher
            .verify("correct horse", Some(&hash))
            .await
            .expect("verify"));
        assert!(!hasher
            .verify("correct horsE", Some(&hash))
            .await
            .expect("verify"));
        assert!(!hasher.verify("correct horse", None).await.expect("verify"));
    }

    #[rocket::async_test]
    async fn text_past_72_bytes_never_matches() {
        let hasher = Hasher::new(4).expect("hasher");
        let exact = "a".repeat(72);
        let hash = hasher
            .hash(&Password::parse(&exact).expect("valid"))
            .await
            .expect("hash");
        let longer = format!("{exact}and more");
        assert!(!hasher.verify(&longer, Some(&hash)).await.expect("verify"));
    }

    #[cfg(target_os = "linux")]
    #[rocket::async_test]
    async fn password_threads_run_at_low_priority() {
        let hasher = Hasher::new(4).expect("hasher");
        // SAFETY: plain system calls on the calling thread.
        let (nice, policy) = hasher
            .pool
            .run(|| unsafe {
                let tid = libc::gettid() as libc::id_t;
                (
                    libc::getpriority(libc::PRIO_PROCESS, tid),
                    libc::sched_getscheduler(0),
                )
            })
            .await
            .expect("ran");
        assert_eq!(nice, PASSWORD_THREAD_NICE);
        assert_eq!(policy, libc::SCHED_IDLE);
    }
}
