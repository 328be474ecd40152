//! Runs a Lambda binary as Lambda does — a Runtime API on loopback, the standard
//! environment — and measures it. Prints one JSON object.
//!
//!   lambda-bench cold --bin PATH [--bin PATH ...] --event FILE [--runs 20]
//!   lambda-bench warm --bin PATH [--bin PATH ...] --event FILE [--invocations 300] [--rounds 1]
//!   lambda-bench concurrent --bin PATH [--bin PATH ...] --event FILE [--concurrency 1,8]
//!
//! (`lambda-bench help cold`, `lambda-bench help warm`: what each measures.)
//!
//! The child gets a Lambda-like environment: this process's `AWS_*`, `DYNAMODB_*`, `MIMALLOC_*`, table
//! names, `SSL_CERT_FILE` and `PATH`, and nothing else.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use update_connection_testkit::{RuntimeApi, spawn, spawn_concurrent, stop};

/// Runs Lambda binaries under a loopback Runtime API with Lambda's environment, and
/// prints one JSON object of measurements.
#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Fresh processes: init (exec to the first GET /next), first response, first and
    /// warm invocation latency, peak RSS.
    Cold {
        #[command(flatten)]
        common: Common,
        /// Fresh processes per binary (the binaries take turns).
        #[arg(long, default_value = "20")]
        runs: NonZeroUsize,
    },
    /// Warm processes: CPU time per invocation (all threads, from /proc schedstat),
    /// latency, peak RSS.
    Warm {
        #[command(flatten)]
        common: Common,
        /// Invocations per binary, split evenly over the rounds.
        #[arg(long, default_value = "300")]
        invocations: NonZeroUsize,
        /// Rounds: a fresh process each, the binaries taking turns (the order alternating);
        /// the CPU figure is the median of the rounds' figures.
        #[arg(long, default_value = "1")]
        rounds: NonZeroUsize,
    },
    /// Warm processes started with AWS_LAMBDA_MAX_CONCURRENCY=N (unset for 1), kept at N
    /// invocations in flight: throughput, CPU per invocation, peak RSS, per N.
    Concurrent {
        #[command(flatten)]
        common: Common,
        /// The levels of concurrency, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,8")]
        concurrency: Vec<NonZeroUsize>,
        /// Invocations per binary and level, split evenly over the rounds.
        #[arg(long, default_value = "1000")]
        invocations: NonZeroUsize,
        /// Rounds: a fresh process each, the binaries taking turns; medians of the rounds.
        #[arg(long, default_value = "1")]
        rounds: NonZeroUsize,
    },
}

#[derive(clap::Args)]
struct Common {
    /// A function binary to measure; repeat it to compare binaries.
    #[arg(long = "bin", value_name = "PATH", required = true)]
    bins: Vec<String>,
    /// The event to send every invocation (a JSON file).
    #[arg(long, value_name = "FILE")]
    event: PathBuf,
}

/// CPU time of every thread of the process, in nanoseconds.
fn cpu_ns(pid: u32) -> u64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("/proc task dir");
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// User and system CPU ticks (1/100 s) from /proc/PID/stat: coarse, but they split the
/// schedstat total into the process's own work and the kernel's.
fn user_system_ticks(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let at = |i: usize| fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
    // After the command name: state is field 3, utime 14, stime 15 (1-based).
    (at(11), at(12))
}

/// The machine's busy and total jiffies so far (/proc/stat's first line): whether the
/// whole machine (DynamoDB Local, the proxy, this harness) ran out of CPU.
fn machine_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait ...: idle and iowait are not busy.
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    let total: u64 = fields.iter().sum();
    (total - idle, total)
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn stats(mut values: Vec<f64>) -> Value {
    values.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    json!({"n": values.len(), "median": at(0.5), "p90": at(0.9), "p99": at(0.99), "min": values[0], "max": values[values.len() - 1]})
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[derive(Default)]
struct Cold {
    init: Vec<f64>,
    first_response: Vec<f64>,
    first_invoke: Vec<f64>,
    warm_invoke: Vec<f64>,
    rss: Vec<f64>,
    statuses: HashMap<u16, u32>,
}

/// Fresh processes, the binaries taking turns so that drift in the machine hits all alike.
fn cold(bins: &[String], event: &[u8], runs: usize) -> Value {
    let mut results: Vec<Cold> = bins.iter().map(|_| Cold::default()).collect();
    for run in 0..runs {
        for (bin, r) in bins.iter().zip(results.iter_mut()) {
            cold_once(bin, event, run, r);
        }
    }
    let mut out = serde_json::Map::new();
    for (bin, r) in bins.iter().zip(results) {
        out.insert(label(bin), json!({
            "init_ms": stats(r.init),
            "first_response_ms": stats(r.first_response),
            "first_invocation_ms": stats(r.first_invoke),
            "warm_invocation_ms": stats(r.warm_invoke),
            "peak_rss_mib": stats(r.rss),
            "statuses": r.statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        }));
    }
    Value::Object(out)
}

fn label(bin: &str) -> String {
    std::path::Path::new(bin)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn cold_once(bin: &str, event: &[u8], run: usize, r: &mut Cold) {
    let Cold {
        init,
        first_response,
        first_invoke,
        warm_invoke,
        rss,
        statuses,
    } = r;
    {
        let api = RuntimeApi::start();
        let (child, started) = spawn(bin, &api);
        let ready = api
            .wait_for_init(Duration::from_secs(30))
            .expect("the function never asked for an event");
        init.push(ms(ready - started));
        let (latency, answered, status) = api.invoke(&format!("cold-{run}"), event);
        *statuses.entry(status).or_insert(0) += 1;
        first_response.push(ms(answered - started));
        first_invoke.push(ms(latency));
        for i in 0..5 {
            let (latency, _, _) = api.invoke(&format!("cold-{run}-warm-{i}"), event);
            warm_invoke.push(ms(latency));
        }
        rss.push(peak_rss_kib(child.id()) as f64 / 1024.0);
        stop(child);
    }
}

/// One warm process: (CPU ns, user ticks, system ticks, latencies in µs, elapsed, peak RSS
/// MiB, statuses).
struct WarmRun {
    cpu_ns: u64,
    user: u64,
    system: u64,
    latency: Vec<f64>,
    elapsed: Duration,
    rss: f64,
    statuses: HashMap<u16, u32>,
}

fn warm_once(bin: &str, event: &[u8], invocations: usize, round: usize) -> WarmRun {
    let api = RuntimeApi::start();
    let (child, _) = spawn(bin, &api);
    api.wait_for_init(Duration::from_secs(30))
        .expect("the function never asked for an event");
    for i in 0..20 {
        api.invoke(&format!("warmup-{round}-{i}"), event);
    }
    let pid = child.id();
    let cpu_before = cpu_ns(pid);
    let ticks_before = user_system_ticks(pid);
    let started = Instant::now();
    let mut latency = Vec::with_capacity(invocations);
    let mut statuses = HashMap::new();
    for i in 0..invocations {
        let (l, _, status) = api.invoke(&format!("warm-{round}-{i}"), event);
        *statuses.entry(status).or_insert(0) += 1;
        latency.push(l.as_secs_f64() * 1e6);
    }
    let elapsed = started.elapsed();
    let cpu = cpu_ns(pid) - cpu_before;
    let ticks_after = user_system_ticks(pid);
    let rss = peak_rss_kib(pid) as f64 / 1024.0;
    stop(child);
    WarmRun {
        cpu_ns: cpu,
        user: ticks_after.0 - ticks_before.0,
        system: ticks_after.1 - ticks_before.1,
        latency,
        elapsed,
        rss,
        statuses,
    }
}

/// Every binary `rounds` times, taking turns (the order reversed every other round), so
/// that drift in a shared machine's load hits all alike.
fn warm(bins: &[String], event: &[u8], invocations: usize, rounds: usize) -> Value {
    let per_round = invocations.div_ceil(rounds);
    let mut runs: Vec<Vec<WarmRun>> = bins.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..bins.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            runs[i].push(warm_once(&bins[i], event, per_round, round));
        }
    }
    let mut out = serde_json::Map::new();
    for (bin, runs) in bins.iter().zip(runs) {
        let per_invocation: Vec<f64> = runs
            .iter()
            .map(|r| r.cpu_ns as f64 / 1e3 / per_round as f64)
            .collect();
        let (user, system) = runs
            .iter()
            .fold((0, 0), |(u, s), r| (u + r.user, s + r.system));
        let elapsed: f64 = runs.iter().map(|r| r.elapsed.as_secs_f64()).sum();
        let mut statuses: HashMap<u16, u32> = HashMap::new();
        for r in &runs {
            for (k, v) in &r.statuses {
                *statuses.entry(*k).or_insert(0) += v;
            }
        }
        let latency: Vec<f64> = runs.iter().flat_map(|r| r.latency.clone()).collect();
        let total = latency.len();
        out.insert(label(bin), json!({
            "invocations": total,
            "rounds": runs.len(),
            "cpu_us_per_invocation": stats(per_invocation.clone())["median"],
            "cpu_us_rounds": per_invocation,
            "user_share": if user + system == 0 { 0.0 } else { user as f64 / (user + system) as f64 },
            "latency_us": stats(latency),
            "throughput_per_s": total as f64 / elapsed,
            "peak_rss_mib": runs.iter().map(|r| r.rss).fold(0.0, f64::max),
            "statuses": statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        }));
    }
    Value::Object(out)
}

/// One process at one level of concurrency.
struct ConcurrentRun {
    per_second: f64,
    cpu_us: f64,
    rss_mib: f64,
    statuses: HashMap<u16, u32>,
    /// The machine's busy share while it ran.
    busy: f64,
}

fn concurrent_once(
    bin: &str,
    event: &[u8],
    concurrency: usize,
    invocations: usize,
    round: usize,
) -> ConcurrentRun {
    let api = RuntimeApi::start();
    let (child, _) = spawn_concurrent(bin, &api, concurrency);
    api.wait_for_init(Duration::from_secs(30))
        .expect("the function never asked for an event");
    let timeout = Duration::from_secs(30);
    // A closed loop: `concurrency` in flight, a new one queued as each is answered.
    let run = |label: &str, n: usize| {
        let mut statuses = HashMap::new();
        let mut queued = 0;
        for _ in 0..concurrency.min(n) {
            api.queue(&format!("{label}-{round}-{queued}"), event)
                .unwrap();
            queued += 1;
        }
        for _ in 0..n {
            let (_, _, status) = api.next_answer(timeout).unwrap_or_else(|e| panic!("{e}"));
            *statuses.entry(status).or_insert(0) += 1;
            if queued < n {
                api.queue(&format!("{label}-{round}-{queued}"), event)
                    .unwrap();
                queued += 1;
            }
        }
        statuses
    };
    run("warmup", 2 * concurrency.max(10));
    let pid = child.id();
    let cpu_before = cpu_ns(pid);
    let machine_before = machine_jiffies();
    let started = Instant::now();
    let statuses = run("conc", invocations);
    let elapsed = started.elapsed();
    let cpu = cpu_ns(pid) - cpu_before;
    let machine = machine_jiffies();
    let busy = (machine.0 - machine_before.0) as f64 / (machine.1 - machine_before.1).max(1) as f64;
    let rss = peak_rss_kib(pid) as f64 / 1024.0;
    stop(child);
    ConcurrentRun {
        per_second: invocations as f64 / elapsed.as_secs_f64(),
        cpu_us: cpu as f64 / 1e3 / invocations as f64,
        rss_mib: rss,
        statuses,
        busy,
    }
}

/// Every level, every binary `rounds` times, taking turns.
fn concurrent(
    bins: &[String],
    event: &[u8],
    levels: &[usize],
    invocations: usize,
    rounds: usize,
) -> Value {
    let per_round = invocations.div_ceil(rounds);
    let mut out = serde_json::Map::new();
    for &level in levels {
        let mut runs: Vec<Vec<ConcurrentRun>> = bins.iter().map(|_| Vec::new()).collect();
        for round in 0..rounds {
            let mut order: Vec<usize> = (0..bins.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for i in order {
                runs[i].push(concurrent_once(&bins[i], event, level, per_round, round));
            }
        }
        let mut by_bin = serde_json::Map::new();
        for (bin, runs) in bins.iter().zip(runs) {
            let mut statuses: HashMap<u16, u32> = HashMap::new();
            for r in &runs {
                for (k, v) in &r.statuses {
                    *statuses.entry(*k).or_insert(0) += v;
                }
            }
            by_bin.insert(label(bin), json!({
                "throughput_per_s": stats(runs.iter().map(|r| r.per_second).collect())["median"],
                "cpu_us_per_invocation": stats(runs.iter().map(|r| r.cpu_us).collect())["median"],
                "peak_rss_mib": runs.iter().map(|r| r.rss_mib).fold(0.0, f64::max),
                "machine_cpu_busy": stats(runs.iter().map(|r| r.busy).collect())["median"],
                "rounds": runs.len(),
                "statuses": statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            }));
        }
        out.insert(level.to_string(), Value::Object(by_bin));
    }
    Value::Object(out)
}

fn main() {
    let read = |common: &Common| {
        let event = std::fs::read(&common.event)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", common.event.display()));
        (common.bins.clone(), event)
    };
    let result = match Args::parse().mode {
        Mode::Cold { common, runs } => {
            let (bins, event) = read(&common);
            cold(&bins, &event, runs.get())
        }
        Mode::Warm {
            common,
            invocations,
            rounds,
        } => {
            let (bins, event) = read(&common);
            warm(&bins, &event, invocations.get(), rounds.get())
        }
        Mode::Concurrent {
            common,
            concurrency,
            invocations,
            rounds,
        } => {
            let (bins, event) = read(&common);
            let levels: Vec<usize> = concurrency.iter().map(|c| c.get()).collect();
            concurrent(&bins, &event, &levels, invocations.get(), rounds.get())
        }
    };
    println!("{result}");
}
