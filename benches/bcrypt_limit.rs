//! The bcrypt limit: how many password checks per second this machine can
//! do at all, with one thread per core, at a given cost. `benches/run.sh`
//! compares the server's logins per second with it; no server can beat it.
//!
//! ```text
//! cargo bench --bench bcrypt_limit -- --cost 12 --seconds 5 [--idle]
//! ```
//!
//! `--idle` runs the threads at the priority of the server's password
//! threads (nice 19, `SCHED_IDLE`), so both face the same competition from
//! whatever else the machine runs. Prints one line:
//! `bcrypt_verifies_per_sec <rate>`.

use std::thread;
use std::time::{Duration, Instant};

struct Options {
    cost: u32,
    seconds: f64,
    idle: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        cost: 12,
        seconds: 5.0,
        idle: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cost" => {
                let value = args.next().ok_or("--cost needs a value")?;
                options.cost = value.parse().map_err(|e| format!("--cost: {e}"))?;
            }
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a value")?;
                options.seconds = value.parse().map_err(|e| format!("--seconds: {e}"))?;
            }
            "--idle" => options.idle = true,
            // cargo bench adds `--bench`; anything else is a mistake.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

/// The priority of the server's password threads (src/auth/password.rs).
#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: plain system calls on the calling thread; `param` outlives
    // the call.
    let (nice, idle) = unsafe {
        let tid = libc::gettid() as libc::id_t;
        let param = libc::sched_param { sched_priority: 0 };
        (
            libc::setpriority(libc::PRIO_PROCESS, tid, 19),
            libc::sched_setscheduler(0, libc::SCHED_IDLE, &param),
        )
    };
    if nice != 0 || idle != 0 {
        eprintln!(
            "cannot lower the priority: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Verifies until the deadline; returns the checks done and the time at
/// which the last one finished, so the rate counts whole checks over the
/// time they took (the last one ends a little after the deadline).
fn verify_until(hash: &str, deadline: Instant, start: Instant, idle: bool) -> (u64, Duration) {
    if idle {
        lower_priority();
    }
    let mut done = 0;
    let mut last = Duration::ZERO;
    while Instant::now() < deadline {
        let ok = bcrypt::verify("bench password 1", hash).unwrap_or(false);
        assert!(ok, "the benchmark hash must verify");
        done += 1;
        last = start.elapsed();
    }
    (done, last)
}

fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("bcrypt_limit: {message}");
            std::process::exit(2);
        }
    };
    let hash = match bcrypt::hash("bench password 1", options.cost) {
        Ok(hash) => hash,
        Err(e) => {
            eprintln!("bcrypt_limit: {e}");
            std::process::exit(2);
        }
    };
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(options.seconds);
    let rate: f64 = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| verify_until(&hash, deadline, start, options.idle)))
            .collect();
        workers
            .into_iter()
            .filter_map(|w| w.join().ok())
            .filter(|(_, last)| !last.is_zero())
            .map(|(done, last)| done as f64 / last.as_secs_f64())
            .sum()
    });
    eprintln!(
        "{threads} threads, cost {}, {:.1} s{}",
        options.cost,
        options.seconds,
        if options.idle { ", idle priority" } else { "" }
    );
    println!("bcrypt_verifies_per_sec {rate:.3}");
}
