//! The bcrypt limit: how many password checks per second this machine can
//! do at all, with one thread per core, at a given cost. `benches/run.sh`
//! compares the server's logins per second with it; no server can beat it.
//!
//! ```text
//! cargo bench --bench bcrypt_limit -- --cost 12 --seconds 5 [--nice 19]
//! ```
//!
//! `--nice` runs the threads at the same OS priority as the server's
//! password threads, so both face the same competition from whatever else
//! the machine runs. Prints one line: `bcrypt_verifies_per_sec <rate>`.

use std::thread;
use std::time::{Duration, Instant};

struct Options {
    cost: u32,
    seconds: f64,
    nice: Option<i32>,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        cost: 12,
        seconds: 5.0,
        nice: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--cost" => {
                options.cost = value("--cost")?
                    .parse()
                    .map_err(|e| format!("--cost: {e}"))?
            }
            "--seconds" => {
                options.seconds = value("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?
            }
            "--nice" => {
                options.nice = Some(
                    value("--nice")?
                        .parse()
                        .map_err(|e| format!("--nice: {e}"))?,
                )
            }
            // cargo bench adds `--bench`; anything else is a mistake.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

#[cfg(target_os = "linux")]
fn set_nice(nice: i32) {
    // SAFETY: plain system calls on the calling thread.
    let result =
        unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice) };
    if result != 0 {
        eprintln!("setpriority: {}", std::io::Error::last_os_error());
    }
}

#[cfg(not(target_os = "linux"))]
fn set_nice(_nice: i32) {}

/// Verifies until the deadline; returns the checks done and the time at
/// which the last one finished (so a check cut off by the deadline does not
/// count as time without work).
fn verify_until(
    hash: &str,
    deadline: Instant,
    start: Instant,
    nice: Option<i32>,
) -> (u64, Duration) {
    if let Some(nice) = nice {
        set_nice(nice);
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
            .map(|_| scope.spawn(|| verify_until(&hash, deadline, start, options.nice)))
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
        options
            .nice
            .map(|n| format!(", nice {n}"))
            .unwrap_or_default()
    );
    println!("bcrypt_verifies_per_sec {rate:.3}");
}
