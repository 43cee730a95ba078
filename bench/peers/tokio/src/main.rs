//! Tokio peer for weft's benchmark suite.
//!
//! Runs one workload once on a multi-threaded Tokio runtime and prints a
//! single `RESULT ...` line to stdout. See README.md for the workload list.

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot, Mutex, Semaphore};

/// Result of one workload run: number of operations and the measured wall time.
struct Measured {
    ops: u64,
    wall: Duration,
}

type BenchFn = fn(&Runtime) -> Measured;

const BENCHES: &[(&str, BenchFn)] = &[
    ("spawn_join", bench_spawn_join),
    ("spawn_external", bench_spawn_external),
    ("yield_many", bench_yield_many),
    ("chain", bench_chain),
    ("fib", bench_fib),
    ("sleep_many", bench_sleep_many),
    ("gather_fanout", bench_gather_fanout),
    ("pingpong", bench_pingpong),
    ("mpsc", bench_mpsc),
    ("mutex", bench_mutex),
    ("semaphore", bench_semaphore),
];

/// Runs `make()`'s future as a task on a worker thread (not on the thread
/// calling `block_on`), so that spawns inside the workload behave as spawns
/// from a runtime worker. Timing is taken inside the task.
fn run_in_runtime<F, Fut>(rt: &Runtime, make: F) -> Measured
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    rt.block_on(async move {
        tokio::spawn(async move {
            let start = Instant::now();
            let ops = make().await;
            let wall = start.elapsed();
            Measured { ops, wall }
        })
        .await
        .expect("workload task failed")
    })
}

// 1. spawn_join ------------------------------------------------------------

const SPAWN_JOIN_N: u64 = 1_000_000;

fn bench_spawn_join(rt: &Runtime) -> Measured {
    run_in_runtime(rt, || async {
        let mut handles = Vec::with_capacity(SPAWN_JOIN_N as usize);
        for i in 0..SPAWN_JOIN_N {
            handles.push(tokio::spawn(async move { i & 7 }));
        }
        let mut sum = 0u64;
        for h in handles {
            sum += h.await.unwrap();
        }
        let sum = black_box(sum);
        // i & 7 cycles 0..=7 (sum 28) every 8 tasks.
        assert_eq!(sum, SPAWN_JOIN_N / 8 * 28);
        SPAWN_JOIN_N
    })
}

// 2. spawn_external --------------------------------------------------------

const SPAWN_EXTERNAL_N: usize = 200_000;

fn bench_spawn_external(rt: &Runtime) -> Measured {
    let handle = rt.handle().clone();
    let remaining = Arc::new(AtomicUsize::new(SPAWN_EXTERNAL_N));
    let ran = Arc::new(AtomicUsize::new(0));
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<()>(1);

    // The calling (main) thread is not a runtime thread.
    let start = Instant::now();
    for _ in 0..SPAWN_EXTERNAL_N {
        let remaining = remaining.clone();
        let ran = ran.clone();
        let done_tx = done_tx.clone();
        handle.spawn(async move {
            ran.fetch_add(1, Ordering::Relaxed);
            if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
                done_tx.send(()).unwrap();
            }
        });
    }
    done_rx.recv().expect("completion signal");
    let wall = start.elapsed();
    drop(done_tx);

    assert_eq!(remaining.load(Ordering::Acquire), 0);
    assert_eq!(ran.load(Ordering::Acquire), SPAWN_EXTERNAL_N);
    Measured { ops: SPAWN_EXTERNAL_N as u64, wall }
}

// 3. yield_many ------------------------------------------------------------

const YIELD_TASKS: u64 = 200;
const YIELD_PER_TASK: u64 = 1_000;

fn bench_yield_many(rt: &Runtime) -> Measured {
    run_in_runtime(rt, || async {
        let handles: Vec<_> = (0..YIELD_TASKS)
            .map(|_| {
                tokio::spawn(async {
                    let mut n = 0u64;
                    for _ in 0..YIELD_PER_TASK {
                        tokio::task::yield_now().await;
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0u64;
        for h in handles {
            total += h.await.unwrap();
        }
        assert_eq!(total, YIELD_TASKS * YIELD_PER_TASK);
        YIELD_TASKS * YIELD_PER_TASK
    })
}

// 4. chain -----------------------------------------------------------------

const CHAIN_N: u64 = 1_000_000;

/// Spawns task `i` of the chain; it spawns task `i + 1` and exits. The last
/// task reports its index through `done`.
fn chain_step(i: u64, done: oneshot::Sender<u64>) {
    drop(tokio::spawn(async move {
        if i + 1 == CHAIN_N {
            let _ = done.send(i + 1);
        } else {
            chain_step(i + 1, done);
        }
    }));
}

fn bench_chain(rt: &Runtime) -> Measured {
    run_in_runtime(rt, || async {
        let (tx, rx) = oneshot::channel();
        chain_step(0, tx);
        let count = rx.await.expect("chain completion");
        assert_eq!(count, CHAIN_N);
        CHAIN_N
    })
}

// 5. fib -------------------------------------------------------------------

const FIB_N: u64 = 27;
const FIB_EXPECTED: u64 = 196_418;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

fn fib(n: u64, spawned: Arc<AtomicU64>) -> BoxFuture<u64> {
    Box::pin(async move {
        if n < 2 {
            return n;
        }
        spawned.fetch_add(1, Ordering::Relaxed);
        let h = tokio::spawn(fib(n - 1, spawned.clone()));
        let b = fib(n - 2, spawned).await;
        let a = h.await.unwrap();
        a + b
    })
}

/// Number of fib() calls with n >= 2 (each spawns exactly one task).
fn fib_spawn_count(n: u64) -> u64 {
    // calls(n) = 1 + calls(n-1) + calls(n-2), calls(0) = calls(1) = 1;
    // spawns = (calls - 1) / 2.
    let (mut a, mut b) = (1u64, 1u64); // calls(0), calls(1)
    for _ in 1..n {
        let c = 1 + a + b;
        a = b;
        b = c;
    }
    let calls = if n == 0 { a } else { b };
    (calls - 1) / 2
}

fn bench_fib(rt: &Runtime) -> Measured {
    run_in_runtime(rt, || async {
        let spawned = Arc::new(AtomicU64::new(0));
        let r = fib(FIB_N, spawned.clone()).await;
        assert_eq!(black_box(r), FIB_EXPECTED);
        let count = spawned.load(Ordering::Relaxed);
        assert_eq!(count, fib_spawn_count(FIB_N));
        count
    })
}

// 6. sleep_many ------------------------------------------------------------

const SLEEP_TASKS: u64 = 100_000;

struct XorShift64(u64);

impl XorShift64 {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn bench_sleep_many(rt: &Runtime) -> Measured {
    run_in_runtime(rt, || async {
        let mut rng = XorShift64(0x9E37_79B9_7F4A_7C15);
        let handles: Vec<_> = (0..SLEEP_TASKS)
            .map(|_| {
                let ms = 1 + rng.next() % 100;
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    1u64
                })
            })
            .collect();
        let mut done = 0u64;
        for h in handles {
            done += h.await.unwrap();
        }
        assert_eq!(done, SLEEP_TASKS);
        SLEEP_TASKS
    })
}

// 7. gather_fanout ---------------------------------------------------------

const FANOUT_WIDTH: u64 = 10_000;
const FANOUT_ROUNDS: u64 = 10;

fn bench_gather_fanout(rt: &Runtime) -> Measured {
    run_in_runtime(rt, || async {
        for _ in 0..FANOUT_ROUNDS {
            let handles: Vec<_> = (0..FANOUT_WIDTH)
                .map(|i| tokio::spawn(async move { i }))
                .collect();
            let mut sum = 0u64;
            for h in handles {
                sum += h.await.unwrap();
            }
            assert_eq!(black_box(sum), FANOUT_WIDTH * (FANOUT_WIDTH - 1) / 2);
        }
        FANOUT_WIDTH * FANOUT_ROUNDS
    })
}

// 8. pingpong --------------------------------------------------------------

const PINGPONG_PAIRS: u64 = 1_000;
const PINGPONG_ROUNDS: u64 = 100;

/// One ping: a value, a fresh oneshot for the reply, and the receiving end of
/// the fresh oneshot that will carry the next ping (None on the last round).
struct Ping {
    val: u64,
    reply: oneshot::Sender<u64>,
    next: Option<oneshot::Receiver<Ping>>,
}

async fn pong_side(mut inbox: oneshot::Receiver<Ping>) -> u64 {
    let mut rounds = 0u64;
    loop {
        let Ping { val, reply, next } = inbox.await.expect("ping");
        reply.send(val + 1).expect("pong reply");
        rounds += 1;
        match next {
            Some(n) => inbox = n,
            None => return rounds,
        }
    }
}

async fn ping_side(first: oneshot::Sender<Ping>) -> u64 {
    let mut outbox = Some(first);
    let mut val = 0u64;
    for r in 0..PINGPONG_ROUNDS {
        let (reply_tx, reply_rx) = oneshot::channel();
        let (next_tx, next_rx) = if r + 1 < PINGPONG_ROUNDS {
            let (t, rx) = oneshot::channel();
            (Some(t), Some(rx))
        } else {
            (None, None)
        };
        let out = outbox.take().expect("outbox for this round");
        if out.send(Ping { val, reply: reply_tx, next: next_rx }).is_err() {
            panic!("pong side gone");
        }
        val = reply_rx.await.expect("pong");
        outbox = next_tx;
    }
    assert!(outbox.is_none());
    val
}

fn bench_pingpong(rt: &Runtime) -> Measured {
    run_in_runtime(rt, || async {
        let mut pings = Vec::with_capacity(PINGPONG_PAIRS as usize);
        let mut pongs = Vec::with_capacity(PINGPONG_PAIRS as usize);
        for _ in 0..PINGPONG_PAIRS {
            let (tx, rx) = oneshot::channel();
            pongs.push(tokio::spawn(pong_side(rx)));
            pings.push(tokio::spawn(ping_side(tx)));
        }
        let mut rounds = 0u64;
        for (p, q) in pings.into_iter().zip(pongs) {
            assert_eq!(p.await.unwrap(), PINGPONG_ROUNDS);
            rounds += q.await.unwrap();
        }
        assert_eq!(rounds, PINGPONG_PAIRS * PINGPONG_ROUNDS);
        rounds
    })
}

// 9. mpsc ------------------------------------------------------------------

const MPSC_PRODUCERS: u64 = 4;
const MPSC_PER_PRODUCER: u64 = 250_000;
const MPSC_CAPACITY: usize = 1024;

fn bench_mpsc(rt: &Runtime) -> Measured {
    run_in_runtime(rt, || async {
        let total = MPSC_PRODUCERS * MPSC_PER_PRODUCER;
        let (tx, mut rx) = mpsc::channel::<u64>(MPSC_CAPACITY);
        let consumer = tokio::spawn(async move {
            let (mut count, mut sum) = (0u64, 0u64);
            while let Some(v) = rx.recv().await {
                count += 1;
                sum += v;
            }
            (count, sum)
        });
        let producers: Vec<_> = (0..MPSC_PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let base = p * MPSC_PER_PRODUCER;
                    for i in 0..MPSC_PER_PRODUCER {
                        tx.send(base + i).await.expect("receiver alive");
                    }
                })
            })
            .collect();
        drop(tx);
        for p in producers {
            p.await.unwrap();
        }
        let (count, sum) = consumer.await.unwrap();
        assert_eq!(count, total);
        assert_eq!(sum, total * (total - 1) / 2);
        total
    })
}

// 10. mutex ----------------------------------------------------------------

const MUTEX_TASKS: u64 = 100;
const MUTEX_PER_TASK: u64 = 10_000;

fn bench_mutex(rt: &Runtime) -> Measured {
    run_in_runtime(rt, || async {
        let m = Arc::new(Mutex::new(0u64));
        let handles: Vec<_> = (0..MUTEX_TASKS)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move {
                    for _ in 0..MUTEX_PER_TASK {
                        let mut g = m.lock().await;
                        *g += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.unwrap();
        }
        let total = *m.lock().await;
        assert_eq!(total, MUTEX_TASKS * MUTEX_PER_TASK);
        total
    })
}

// 11. semaphore ------------------------------------------------------------

const SEM_PERMITS: usize = 8;
const SEM_TASKS: u64 = 1_000;
const SEM_PER_TASK: u64 = 100;

fn bench_semaphore(rt: &Runtime) -> Measured {
    run_in_runtime(rt, || async {
        let sem = Arc::new(Semaphore::new(SEM_PERMITS));
        let holding = Arc::new(AtomicUsize::new(0));
        let max_holding = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..SEM_TASKS)
            .map(|_| {
                let sem = sem.clone();
                let holding = holding.clone();
                let max_holding = max_holding.clone();
                tokio::spawn(async move {
                    for _ in 0..SEM_PER_TASK {
                        let permit = sem.acquire().await.expect("semaphore open");
                        let now = holding.fetch_add(1, Ordering::AcqRel) + 1;
                        max_holding.fetch_max(now, Ordering::AcqRel);
                        tokio::task::yield_now().await;
                        holding.fetch_sub(1, Ordering::AcqRel);
                        drop(permit);
                    }
                    SEM_PER_TASK
                })
            })
            .collect();
        let mut ops = 0u64;
        for h in handles {
            ops += h.await.unwrap();
        }
        let max = max_holding.load(Ordering::Acquire);
        assert!(max <= SEM_PERMITS, "{max} permits held at once");
        assert!(max >= 1);
        assert_eq!(holding.load(Ordering::Acquire), 0);
        assert_eq!(sem.available_permits(), SEM_PERMITS);
        assert_eq!(ops, SEM_TASKS * SEM_PER_TASK);
        ops
    })
}

// driver -------------------------------------------------------------------

fn peak_rss_kb() -> i64 {
    // SAFETY: getrusage only writes into the zero-initialised struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut ru) != 0 {
            return -1;
        }
        ru.ru_maxrss as i64
    }
}

fn usage() -> String {
    "usage: weft-tokio-peer --bench NAME --workers N [--iters K]\n       weft-tokio-peer --list".to_string()
}

fn main() -> ExitCode {
    let mut bench: Option<String> = None;
    let mut workers: Option<usize> = None;
    let mut iters: usize = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (key, inline) = match arg.split_once('=') {
            Some((k, v)) if k.starts_with("--") => (k.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        match key.as_str() {
            "--list" => {
                for (name, _) in BENCHES {
                    println!("{name}");
                }
                return ExitCode::SUCCESS;
            }
            "-h" | "--help" => {
                println!("{}", usage());
                return ExitCode::SUCCESS;
            }
            "--bench" | "--workers" | "--iters" => {
                let Some(val) = inline.or_else(|| args.next()) else {
                    eprintln!("missing value for {key}\n{}", usage());
                    return ExitCode::from(2);
                };
                if key == "--bench" {
                    bench = Some(val);
                } else if key == "--iters" {
                    match val.parse::<usize>() {
                        Ok(n) if n > 0 => iters = n,
                        _ => {
                            eprintln!("invalid --iters value: {val}");
                            return ExitCode::from(2);
                        }
                    }
                } else {
                    match val.parse::<usize>() {
                        Ok(n) if n > 0 => workers = Some(n),
                        _ => {
                            eprintln!("invalid --workers value: {val}");
                            return ExitCode::from(2);
                        }
                    }
                }
            }
            _ => {
                eprintln!("unknown argument: {arg}\n{}", usage());
                return ExitCode::from(2);
            }
        }
    }

    let Some(name) = bench else {
        eprintln!("missing --bench\n{}", usage());
        return ExitCode::from(2);
    };
    let Some(&(name, run)) = BENCHES.iter().find(|(n, _)| *n == name) else {
        eprintln!("unknown bench: {name} (use --list)");
        return ExitCode::from(2);
    };
    let workers = workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("failed to build Tokio runtime");

    // --iters N: run the workload N times in this runtime and report the median wall time
    // (warm allocator and threads, as weft-bench-peer --iters does).
    let mut walls = Vec::with_capacity(iters);
    let mut ops = 0;
    for _ in 0..iters {
        let m = run(&rt);
        ops = m.ops;
        walls.push(m.wall);
    }
    walls.sort();
    let wall = walls[walls.len() / 2];
    let rss = peak_rss_kb();
    drop(rt);

    let wall_s = wall.as_secs_f64();
    let ns_per_op = if ops > 0 { wall_s * 1e9 / ops as f64 } else { 0.0 };
    println!(
        "RESULT impl=tokio bench={name} workers={workers} ops={ops} wall_s={wall_s:.6} \
         ns_per_op={ns_per_op:.2} peak_rss_kb={rss}"
    );
    ExitCode::SUCCESS
}
