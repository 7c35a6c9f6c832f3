//! bcrypt, kept off the async workers on a pool of its own, with equal work
//! whether or not the account exists, behind a queue of bounded length.
//!
//! Why a pool of its own rather than `spawn_blocking`: one bcrypt check is a
//! quarter of a second of pure CPU at the default cost, and a login flood
//! queues many. On tokio's blocking pool they would run at the same OS
//! priority as the async workers and take every core, so page requests
//! would wait behind them.
//!
//! # Priority: pages first, logins never starved
//!
//! The pool has one thread per core under Linux's `SCHED_IDLE` policy, plus
//! one *starvation guard* at normal priority (`SCHED_BATCH`, nice 0):
//!
//! - While the idle threads make progress (the CPU is not saturated by
//!   anything else), they do all the work and the guard sleeps. An
//!   idle-policy thread is preempted the moment any normal thread wants its
//!   core, so a login flood cannot slow a page down, and bcrypt still uses
//!   every cycle nothing else wants.
//! - Idle-policy threads get almost nothing while normal threads keep every
//!   core busy (a page load that saturates the CPU), so logins would stop.
//!   The guard notices that: a check has waited `stall`
//!   (two checks' worth of CPU) and no idle thread has started or finished
//!   one in that time. It then takes checks itself, first come first served,
//!   until the idle threads move again. As one normal thread among the page
//!   threads it gets a fair share of one core, never more: logins keep a
//!   guaranteed trickle and pages keep the rest.
//!
//! Nice levels alone cannot do both. A nice-19 thread that is running keeps
//! its core for the rest of its time slice, so pages wait behind bcrypt
//! during a flood, and under saturation its weight (15 against 1,024 per
//! normal thread) still starves it. And the guard is a thread of its own,
//! not an idle thread lifted to normal priority, because leaving
//! `SCHED_IDLE` needs `CAP_SYS_NICE` (or a raised `RLIMIT_NICE`), which a
//! service seldom has; lowering a thread needs no privilege.
//!
//! # The bounded queue
//!
//! At start the pool times one hash (the dummy, made then anyway) in CPU
//! time, and admits at most as many checks as the idle threads finish in
//! [`QUEUE_SECONDS`]. Past that, [`Hasher::admit`] (and so
//! [`Hasher::verify`] and [`Hasher::hash`]) answers [`Error::Busy`] at
//! once, before any bcrypt work: the client is
//! told to come back (503 with `Retry-After`) instead of waiting longer than
//! it would, and memory stays bounded however many connections arrive.
//!
//! A check whose caller has gone (its future dropped: a local client's
//! request given up, a task cancelled) is skipped when its turn comes, so
//! it costs no bcrypt work.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use rocket::tokio::sync::oneshot;

use crate::error::Error;

/// A password that passed the rules: 8 to 72 bytes. bcrypt reads at most 72
/// bytes, so longer ones are refused rather than silently truncated.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// The shortest password accepted, in bytes.
    pub const MIN_BYTES: usize = 8;
    /// The longest: bcrypt's limit, in bytes.
    pub const MAX_BYTES: usize = 72;

    /// Parses a typed password.
    ///
    /// ```
    /// use wristband::Password;
    /// assert!(Password::parse("correct horse").is_ok());
    /// assert!(Password::parse("short").is_err());
    /// assert!(Password::parse(&"x".repeat(73)).is_err());
    /// ```
    pub fn parse(raw: &str) -> Result<Password, &'static str> {
        if raw.len() < Self::MIN_BYTES {
            return Err("Use at least 8 characters.");
        }
        if raw.len() > Self::MAX_BYTES {
            return Err("That is too long: use at most 72 characters (accented letters and emoji count as two or more).");
        }
        Ok(Password(raw.to_string()))
    }

    /// The password itself, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A bcrypt hash as stored in the database.
#[derive(Clone)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// A hash read from storage.
    pub fn new(hash: String) -> PasswordHash {
        PasswordHash(hash)
    }

    /// The hash, for storing.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// How long, at most, an admitted check should wait for its turn when the
/// idle threads run at full speed. A browser user waits a few seconds for a
/// login; past that, a quick "try again" is kinder than a spinner.
pub const QUEUE_SECONDS: f64 = 3.0;

/// The most checks that may wait, whatever the cost: at a low cost the
/// time bound alone would admit thousands, each holding a request's memory.
const MAX_WAITING: usize = 1024;

/// Hashes and verifies passwords at the configured cost. Managed state.
pub struct Hasher {
    cost: u32,
    /// A hash of a password nobody knows, at the configured cost. Unknown
    /// usernames are checked against it so that they take as long as wrong
    /// passwords: response time must not reveal which usernames exist.
    dummy: PasswordHash,
    /// bcrypt verifications run so far (counted when one really runs):
    /// shows that throttled, refused and abandoned attempts cost none.
    verifications: Arc<AtomicU64>,
    pool: Pool,
}

impl Hasher {
    /// Makes a hasher and starts its password threads, with the queue
    /// bound worked out from the cost; blocks for one bcrypt hash (the
    /// dummy), so call it off the async workers.
    pub fn new(cost: u32) -> Result<Hasher, Error> {
        Hasher::with_queue(cost, None)
    }

    /// As [`Hasher::new`], with at most `waiting` checks waiting beyond the
    /// ones running (`None`: as many as the pool finishes in
    /// [`QUEUE_SECONDS`]).
    ///
    /// ```no_run
    /// let hasher = wristband::Hasher::with_queue(12, Some(8))?;
    /// assert_eq!(hasher.capacity(), hasher.threads() + 8);
    /// # Ok::<(), wristband::Error>(())
    /// ```
    pub fn with_queue(cost: u32, waiting: Option<usize>) -> Result<Hasher, Error> {
        let started = thread_cpu_time();
        let dummy = bcrypt::hash("wristband dummy password", cost)
            .map_err(|e| Error::Hashing(e.to_string()))?;
        let check_time = thread_cpu_time().saturating_sub(started);
        Ok(Hasher {
            cost,
            dummy: PasswordHash::new(dummy),
            verifications: Arc::new(AtomicU64::new(0)),
            pool: Pool::start(check_time, waiting)?,
        })
    }

    /// How many bcrypt verifications have run.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    /// Checks admitted and not yet finished (waiting or running).
    pub fn in_flight(&self) -> usize {
        self.pool.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Checks handed to the pool that no thread has taken yet.
    pub fn queued(&self) -> usize {
        self.pool.shared.lock().len()
    }

    /// The most checks in flight at once; the next one gets [`Error::Busy`].
    pub fn capacity(&self) -> usize {
        self.pool.capacity
    }

    /// The idle-priority password threads (one per core).
    pub fn threads(&self) -> usize {
        self.pool.threads
    }

    /// The CPU time one hash at the configured cost took at start.
    pub fn check_time(&self) -> Duration {
        self.pool.check_time
    }

    /// A place in the queue for one check, or [`Error::Busy`] at once when
    /// it is full. Take it before any other work a check needs (throttling
    /// queries, the user lookup), so that a refused request costs nothing
    /// but its answer; dropping it unused gives the place back.
    pub fn admit(&self) -> Result<Admitted, Error> {
        self.pool.admit().map(Admitted)
    }

    /// Hashes a new password on the password threads.
    pub async fn hash(&self, password: &Password) -> Result<PasswordHash, Error> {
        self.hash_admitted(self.admit()?, password).await
    }

    /// [`Hasher::hash`] in a place taken earlier with [`Hasher::admit`].
    pub async fn hash_admitted(
        &self,
        place: Admitted,
        password: &Password,
    ) -> Result<PasswordHash, Error> {
        let cost = self.cost;
        let password = password.clone();
        self.pool
            .run(place.0, move || bcrypt::hash(password.expose(), cost))
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
        self.verify_admitted(self.admit()?, typed, stored).await
    }

    /// [`Hasher::verify`] in a place taken earlier with [`Hasher::admit`].
    pub async fn verify_admitted(
        &self,
        place: Admitted,
        typed: &str,
        stored: Option<&PasswordHash>,
    ) -> Result<bool, Error> {
        let (candidate, hash, real) = match (Password::parse(typed), stored) {
            (Ok(password), Some(hash)) => (password.expose().to_string(), hash.clone(), true),
            _ => (
                "not the dummy password".to_string(),
                self.dummy.clone(),
                false,
            ),
        };
        let verifications = Arc::clone(&self.verifications);
        let matched = self
            .pool
            .run(place.0, move || {
                verifications.fetch_add(1, Ordering::Relaxed);
                bcrypt::verify(&candidate, hash.as_str())
            })
            .await?
            .map_err(|e| Error::Hashing(e.to_string()))?;
        Ok(real && matched)
    }
}

/// A place in the password queue, held from [`Hasher::admit`] until the
/// check that uses it is done (or until dropped unused).
pub struct Admitted(Slot);

impl std::fmt::Debug for Admitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Admitted")
    }
}

type Job = Box<dyn FnOnce() + Send>;

struct Queued {
    job: Job,
    since: Instant,
}

/// What the async side and the password threads share.
struct Shared {
    queue: Mutex<VecDeque<Queued>>,
    /// Wakes an idle thread when a job is queued.
    ready: Condvar,
    /// Wakes the guard early when the pool stops.
    guard_wake: Condvar,
    stopping: AtomicBool,
    in_flight: AtomicUsize,
    /// When an idle thread last took or finished a job, in nanoseconds
    /// since `epoch`: the guard's sign that they are not starved.
    idle_progress: AtomicU64,
    epoch: Instant,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Queued>> {
        // A job never runs with the lock held, so a poisoned lock only means
        // a thread died between two queue operations; the queue is intact.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn mark_idle_progress(&self) {
        let nanos = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.idle_progress.store(nanos, Ordering::SeqCst);
    }

    fn since_idle_progress(&self) -> Duration {
        let at = Duration::from_nanos(self.idle_progress.load(Ordering::SeqCst));
        self.epoch.elapsed().saturating_sub(at)
    }
}

/// A place in the queue, given back when the job that holds it is done or
/// dropped unrun.
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The idle threads and the guard, taking jobs first come, first served.
/// The threads end when the pool is dropped.
struct Pool {
    shared: Arc<Shared>,
    threads: usize,
    capacity: usize,
    check_time: Duration,
}

impl Pool {
    fn start(check_time: Duration, waiting: Option<usize>) -> Result<Pool, Error> {
        let threads = thread::available_parallelism().map_or(1, |n| n.get());
        let per_thread = (QUEUE_SECONDS / check_time.as_secs_f64().max(1e-6)).floor();
        // Saturating float-to-int conversion: a tiny check time gives a huge
        // figure, capped just below.
        let waiting = waiting
            .unwrap_or_else(|| threads.saturating_mul(per_thread as usize))
            .min(MAX_WAITING);
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            guard_wake: Condvar::new(),
            stopping: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            idle_progress: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let pool = Pool {
            shared,
            threads,
            capacity: threads + waiting,
            check_time,
        };
        for i in 0..threads {
            let shared = Arc::clone(&pool.shared);
            spawn(format!("wristband-password-{i}"), move || {
                lower_to_idle_priority();
                idle_thread(&shared);
            })?;
        }
        let shared = Arc::clone(&pool.shared);
        let stall = pool.stall();
        spawn("wristband-password-guard".into(), move || {
            mark_cpu_bound();
            guard_thread(&shared, stall);
        })?;
        Ok(pool)
    }

    /// How long jobs may stand still before the guard steps in: two checks'
    /// CPU time, and never less than 50 ms, so a flood that the idle
    /// threads keep up with (a job done every check time per thread) never
    /// wakes it.
    fn stall(&self) -> Duration {
        (self.check_time * 2).max(Duration::from_millis(50))
    }

    /// Seconds until a full queue has drained at full speed, at least 1.
    fn retry_after(&self, in_flight: usize) -> u64 {
        let secs = self.check_time.as_secs_f64() * in_flight as f64 / self.threads as f64;
        (secs.ceil() as u64).max(1)
    }

    /// A place in the queue, or [`Error::Busy`] when it is full.
    fn admit(&self) -> Result<Slot, Error> {
        let counter = &self.shared.in_flight;
        match counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < self.capacity).then_some(n + 1)
        }) {
            Ok(_) => Ok(Slot(Arc::clone(&self.shared))),
            Err(n) => Err(Error::Busy {
                retry_after: self.retry_after(n),
            }),
        }
    }

    /// Runs `work` on a password thread in the place `slot`, and waits for
    /// it without blocking the caller's async worker.
    async fn run<T, F>(&self, slot: Slot, work: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move || {
            // Whoever asked has gone: skip the work rather than spend a
            // quarter second of CPU on nobody.
            if reply.is_closed() {
                return;
            }
            let answer = work();
            // The place is given back before the answer: whoever sees the
            // answer must find the queue as it is now, not as it was while
            // this thread (perhaps starved) held its place.
            drop(slot);
            let _ = reply.send(answer);
        });
        {
            let mut queue = self.shared.lock();
            queue.push_back(Queued {
                job,
                since: Instant::now(),
            });
        }
        self.shared.ready.notify_one();
        answer
            .await
            .map_err(|_| Error::Hashing("a password thread failed".into()))
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        self.shared.ready.notify_all();
        self.shared.guard_wake.notify_all();
    }
}

fn spawn(name: String, body: impl FnOnce() + Send + 'static) -> Result<(), Error> {
    thread::Builder::new()
        .name(name)
        // bcrypt needs a few KiB of stack; the default 2 MiB is address
        // space only, but there is no reason to ask for it.
        .stack_size(256 * 1024)
        .spawn(body)
        .map(|_| ())
        .map_err(|e| Error::Hashing(format!("cannot start a password thread: {e}")))
}

/// An idle-priority thread: takes the oldest job whenever there is one and
/// drains the queue before stopping.
fn idle_thread(shared: &Shared) {
    let mut queue = shared.lock();
    loop {
        if let Some(next) = queue.pop_front() {
            drop(queue);
            shared.mark_idle_progress();
            (next.job)();
            shared.mark_idle_progress();
            queue = shared.lock();
        } else if shared.stopping.load(Ordering::SeqCst) {
            return;
        } else {
            queue = shared
                .ready
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// The starvation guard: looks a few times per stall period and takes the
/// oldest job only when it has waited a whole stall period and no idle
/// thread has moved in that time.
fn guard_thread(shared: &Shared, stall: Duration) {
    let tick = stall / 4;
    let mut queue = shared.lock();
    while !shared.stopping.load(Ordering::SeqCst) {
        let starved = queue
            .front()
            .is_some_and(|job| job.since.elapsed() >= stall)
            && shared.since_idle_progress() >= stall;
        if starved {
            if let Some(next) = queue.pop_front() {
                drop(queue);
                (next.job)();
                queue = shared.lock();
                continue;
            }
        }
        queue = shared
            .guard_wake
            .wait_timeout(queue, tick)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// CPU time used by the calling thread: what one hash costs, however busy
/// the machine is while it is measured.
#[cfg(unix)]
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a plain system call writing into `now`, which outlives it.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } == 0;
    if !ok {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// Without a per-thread CPU clock, wall time since first asked.
#[cfg(not(unix))]
fn thread_cpu_time() -> Duration {
    use std::sync::OnceLock;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// Makes the calling thread (only it, not the whole process) yield to
/// everything else: Linux's `SCHED_IDLE` policy. Failing is harmless: the
/// work is the same, only pages may then wait for it, so it is logged, not
/// fatal.
///
/// Why `SCHED_IDLE` and not a nice value: a nice-19 thread that is running
/// keeps its core until its time slice ends (a few milliseconds), so a page
/// request that wakes up behind it can wait that long, several times over
/// when it also waits for the database. An idle-policy thread is preempted
/// the moment any normal thread wants its core (benches/PERFORMANCE.md).
#[cfg(target_os = "linux")]
fn lower_to_idle_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: a plain system call on the calling thread; `param` outlives it.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
        log::warn!(
            "cannot lower the priority of a password thread: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// Elsewhere priorities are per process, which would slow the pages too.
#[cfg(not(target_os = "linux"))]
fn lower_to_idle_priority() {}

/// The guard keeps the normal weight but is marked CPU-bound
/// (`SCHED_BATCH`): it never preempts a page thread when it wakes up.
#[cfg(target_os = "linux")]
fn mark_cpu_bound() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: a plain system call on the calling thread; `param` outlives it.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) } != 0 {
        log::warn!(
            "cannot set the password guard's policy: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn mark_cpu_bound() {}

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
        assert_eq!(hasher.verifications(), 3);
        assert_eq!(hasher.in_flight(), 0);
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

    #[test]
    fn the_queue_bound_follows_the_cost_and_is_capped() {
        let hasher = Hasher::new(4).expect("hasher");
        assert!(hasher.check_time() > Duration::ZERO);
        assert!(hasher.capacity() > hasher.threads());
        assert!(hasher.capacity() <= hasher.threads() + MAX_WAITING);
        let fixed = Hasher::with_queue(4, Some(3)).expect("hasher");
        assert_eq!(fixed.capacity(), fixed.threads() + 3);
    }

    #[cfg(target_os = "linux")]
    #[rocket::async_test]
    async fn password_threads_run_at_idle_priority_and_the_guard_at_normal() {
        let hasher = Hasher::new(4).expect("hasher");
        for _ in 0..20 {
            // SAFETY: a plain system call on the calling thread.
            let (name, policy) = hasher
                .pool
                .run(hasher.pool.admit().expect("room"), || {
                    let name = thread::current().name().unwrap_or("").to_string();
                    (name, unsafe { libc::sched_getscheduler(0) })
                })
                .await
                .expect("ran");
            // On a busy machine the guard may take a job too.
            match name.as_str() {
                "wristband-password-guard" => assert_eq!(policy, libc::SCHED_BATCH),
                _ => {
                    assert!(name.starts_with("wristband-password-"), "{name}");
                    assert_eq!(policy, libc::SCHED_IDLE, "{name}");
                }
            }
        }
    }
}

#[cfg(test)]
mod type_tests {
    use super::*;

    #[test]
    fn passwords_are_counted_in_bytes() {
        assert!(Password::parse(&"é".repeat(36)).is_ok()); // 72 bytes
        assert!(Password::parse(&"é".repeat(37)).is_err()); // 74 bytes
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let pw = Password::parse("hunter2hunter2").expect("valid");
        assert!(!format!("{pw:?}").contains("hunter2"));
        let hash = PasswordHash::new("$2b$04$secret".into());
        assert!(!format!("{hash:?}").contains("secret"));
    }
}
