//! The machine's own floor for warm CPU: the same fixed piece of work (a walk over a
//! 1 MiB buffer and some arithmetic, ~100 µs) after sleeping 0, 1, 5 or 20 ms, timed with
//! the thread's CPU clock. On a machine whose caches and cores go cold while a process
//! waits, the same instructions cost more CPU the longer the wait: that growth is the
//! machine's, and a function waiting on DynamoDB pays it too. Prints one JSON object.
//!
//!   cpu-after-idle [--iterations 200] [--sleep-ms 0,1,5,20]

use std::hint::black_box;
use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// Work units per sleep (the sleeps take turns: one unit each, round-robin).
    #[arg(long, default_value = "200")]
    iterations: usize,
    /// The sleeps before each unit, in milliseconds.
    #[arg(long, value_delimiter = ',', default_value = "0,1,5,20")]
    sleep_ms: Vec<u64>,
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut t = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

#[repr(C)]
struct Timespec {
    tv_sec: i64,
    tv_nsec: i64,
}
const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
unsafe extern "C" {
    fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
}

fn work(buf: &mut [u8]) -> u64 {
    let mut acc: u64 = 1;
    for _ in 0..4 {
        for b in buf.iter_mut().step_by(64) {
            acc = acc.wrapping_mul(31).wrapping_add(u64::from(*b));
            *b ^= acc as u8;
        }
    }
    for _ in 0..20_000 {
        acc = acc
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
    }
    acc
}

fn main() {
    let args = Args::parse();
    let mut buf = vec![1u8; 1 << 20];
    let mut samples: Vec<Vec<f64>> = args.sleep_ms.iter().map(|_| Vec::new()).collect();
    for _ in 0..args.iterations {
        for (i, ms) in args.sleep_ms.iter().enumerate() {
            if *ms > 0 {
                std::thread::sleep(Duration::from_millis(*ms));
            } else {
                // A unit right after another: no wait.
                black_box(work(&mut buf));
            }
            let before = thread_cpu();
            black_box(work(&mut buf));
            samples[i].push((thread_cpu() - before).as_secs_f64() * 1e6);
        }
    }
    let mut out = serde_json::Map::new();
    for (ms, mut s) in args.sleep_ms.iter().zip(samples) {
        s.sort_by(f64::total_cmp);
        out.insert(
            format!("{ms}"),
            json!({"median_us": s[s.len() / 2], "n": s.len()}),
        );
    }
    println!("{}", Value::Object(out));
}
