//! Pacing a run: a closed loop (N requests in flight) or an open loop (a fixed rate, timed
//! from each request's due time), a warm-up before the measured window, a progress line, and
//! the tally of what the window measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tonic::transport::Channel;

use super::args::{LoadtestArgs, Mode};
use super::report::{Report, ReportHeader, Tally};
use super::workload::{Operation, Outcome, Workload};
use crate::domain::parse_duration;

/// A `--warmup` or `--duration` value.
fn duration(flag: &str, text: &str) -> Result<Duration, String> {
    parse_duration(text)
        .ok()
        .and_then(|duration| duration.to_std().ok())
        .ok_or_else(|| format!("--{flag}: {text:?} is not a duration like 10s"))
}

/// When a run starts, when it starts measuring (after the warm-up), and when it ends.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    measure_from: Instant,
    end: Instant,
}

impl Window {
    /// Whether a request sent (or due) at `at` falls in the measured window.
    fn measures(&self, at: Instant) -> bool {
        at >= self.measure_from && at < self.end
    }
}

/// Puts the load on `channels` for the warm-up and the measured window, closed or open loop
/// as `args` say, and reports what the window measured.
pub(super) async fn drive(
    args: &LoadtestArgs,
    workload: &Arc<Workload>,
    channels: &[Channel],
) -> Result<Report, String> {
    let warmup = duration("warmup", &args.warmup)?;
    let measured = duration("duration", &args.duration)?;
    let started = Instant::now();
    let window = Window {
        started,
        measure_from: started + warmup,
        end: started + warmup + measured,
    };
    let progress = Arc::new(Progress::default());
    let reporter = (!args.quiet).then(|| tokio::spawn(report_progress(progress.clone(), window)));
    let tally = match args.rate {
        None => closed_loop(workload, channels, args.concurrency, window, &progress).await,
        Some(rate) => {
            let pacing = OpenLoop {
                rate,
                in_flight: args.concurrency,
                window,
            };
            open_loop(workload, channels, pacing, &progress).await
        }
    };
    if let Some(reporter) = reporter {
        reporter.abort();
        eprintln!();
    }
    Ok(Report::new(
        ReportHeader {
            mode: format!("{:?}", args.mode).to_lowercase(),
            target: args.target.clone(),
            pacing: if args.rate.is_some() {
                "open"
            } else {
                "closed"
            }
            .into(),
            rate: args.rate,
            concurrency: args.concurrency,
            connections: channels.len(),
        },
        &tally,
        measured,
        args.mode == Mode::Mixed,
    ))
}

/// Counters the progress line reads.
#[derive(Default)]
struct Progress {
    done: AtomicU64,
    errors: AtomicU64,
}

impl Progress {
    /// One more answer (or failure).
    fn record(&self, failed: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Prints a progress line on standard error every second until aborted.
async fn report_progress(progress: Arc<Progress>, window: Window) {
    use std::io::{IsTerminal, Write};
    let interactive = std::io::stderr().is_terminal();
    let mut last = 0;
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let done = progress.done.load(Ordering::Relaxed);
        let line = format!(
            "{:>5.1}s of {:.0}s  {done} done  {}/s  {} errors",
            window.started.elapsed().as_secs_f64(),
            (window.end - window.started).as_secs_f64(),
            done - last,
            progress.errors.load(Ordering::Relaxed)
        );
        last = done;
        let mut stderr = std::io::stderr();
        if interactive {
            let _ = write!(stderr, "\r{line}   ");
        } else {
            let _ = writeln!(stderr, "{line}");
        }
        let _ = stderr.flush();
    }
}

/// Counts one operation's answer: its latency (reads and writes apart) and outcome, or its
/// error, never as latency.
fn count(tally: &mut Tally, write: bool, result: &Result<Outcome, tonic::Status>, took: Duration) {
    match result {
        Ok(outcome) => {
            if write {
                tally.writes.record(took);
            } else {
                tally.reads.record(took);
            }
            match outcome {
                Outcome::Allowed => tally.allowed += 1,
                Outcome::Denied => tally.denied += 1,
                Outcome::Done => {}
            }
        }
        Err(status) => tally.error(status.code()),
    }
}

/// `concurrency` callers, each sending its next request when its last is answered.
async fn closed_loop(
    workload: &Arc<Workload>,
    channels: &[Channel],
    concurrency: usize,
    window: Window,
    progress: &Arc<Progress>,
) -> Tally {
    let mut callers = Vec::with_capacity(concurrency);
    for index in 0..concurrency.max(1) {
        let (workload, progress) = (workload.clone(), progress.clone());
        let channel = channels[index % channels.len()].clone();
        callers.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(index as u64);
            let mut tally = Tally::default();
            while Instant::now() < window.end {
                let operation = workload.next(&mut rng);
                let write = matches!(operation, Operation::Write(_));
                let sent = Instant::now();
                let result = workload.execute(operation, &channel).await;
                let took = sent.elapsed();
                progress.record(result.is_err());
                if window.measures(sent) {
                    count(&mut tally, write, &result, took);
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for caller in callers {
        if let Ok(tally) = caller.await {
            total.merge(&tally);
        }
    }
    total
}

/// Sleeps the calling thread until `at`, with the kernel's timer slack cut to a microsecond
/// (default 50 µs) so that the pacer is late by microseconds, not by a tokio timer tick.
fn sleep_until(at: Instant) {
    loop {
        let now = Instant::now();
        if now >= at {
            return;
        }
        std::thread::sleep(at - now);
    }
}

#[cfg(target_os = "linux")]
#[expect(
    unsafe_code,
    reason = "a thread's timer slack is set with prctl, a libc call"
)]
fn precise_timers() {
    // SAFETY: changes only this thread's timer slack; no memory is passed.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn precise_timers() {}

/// An open loop's schedule: a request every `1 / rate` seconds over the window, with at most
/// `in_flight * 64` waiting at once.
#[derive(Debug, Clone, Copy)]
struct OpenLoop {
    rate: f64,
    in_flight: usize,
    window: Window,
}

/// Tallies split so that concurrent requests rarely wait on the same lock.
struct ShardedTally(Vec<std::sync::Mutex<Tally>>);

impl ShardedTally {
    const SHARDS: usize = 16;

    fn new() -> Self {
        ShardedTally(
            (0..Self::SHARDS)
                .map(|_| std::sync::Mutex::new(Tally::default()))
                .collect(),
        )
    }

    /// Counts the `index`th request's answer in its shard.
    fn count(
        &self,
        index: u64,
        write: bool,
        result: &Result<Outcome, tonic::Status>,
        took: Duration,
    ) {
        // No code holding a shard's lock can panic, so the lock is never poisoned.
        let mut tally = self.0[index as usize % Self::SHARDS]
            .lock()
            .expect("a tally lock is never poisoned");
        count(&mut tally, write, result, took);
    }

    /// Every shard added up.
    fn total(&self) -> Tally {
        let mut total = Tally::default();
        for tally in &self.0 {
            total.merge(&tally.lock().expect("a tally lock is never poisoned"));
        }
        total
    }
}

/// What the pacer and every request of an open loop share.
struct OpenLoopRun {
    workload: Arc<Workload>,
    channels: Vec<Channel>,
    progress: Arc<Progress>,
    tallies: ShardedTally,
    pacing: OpenLoop,
}

/// A request every `1 / rate` seconds, whatever the answers do; each latency runs from when
/// its request was due, so a slow answer cannot hide the queueing behind it. The schedule is
/// kept by a thread of its own, sleeping precisely, and each request runs on the runtime. At
/// most `in_flight * 64` wait at once (the pacer then waits for a slot, and the wait shows in
/// the latencies).
async fn open_loop(
    workload: &Arc<Workload>,
    channels: &[Channel],
    pacing: OpenLoop,
    progress: &Arc<Progress>,
) -> Tally {
    let run = Arc::new(OpenLoopRun {
        workload: workload.clone(),
        channels: channels.to_vec(),
        progress: progress.clone(),
        tallies: ShardedTally::new(),
        pacing,
    });
    let runtime = tokio::runtime::Handle::current();
    let pacer = {
        let run = run.clone();
        std::thread::spawn(move || pace(&run, &runtime))
    };
    let requests = tokio::task::spawn_blocking(move || pacer.join())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    for request in requests {
        let _ = request.await;
    }
    run.tallies.total()
}

/// The pacer thread: spawns each request on `runtime` when it is due; returns those that may
/// still be running.
fn pace(run: &Arc<OpenLoopRun>, runtime: &tokio::runtime::Handle) -> Vec<JoinHandle<()>> {
    precise_timers();
    let OpenLoop {
        rate,
        in_flight,
        window,
    } = run.pacing;
    let slots = Arc::new(Semaphore::new(in_flight.max(1) * 64));
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut rng = StdRng::seed_from_u64(0);
    let mut requests = Vec::new();
    for index in 0u64.. {
        let due = window.started + interval.mul_f64(index as f64);
        if due >= window.end {
            break;
        }
        sleep_until(due);
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => match runtime.block_on(slots.clone().acquire_owned()) {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let operation = run.workload.next(&mut rng);
        let run = run.clone();
        requests.push(runtime.spawn(async move { run.send(index, due, operation, slot).await }));
        if requests.len() >= 4096 {
            requests.retain(|request| !request.is_finished());
        }
    }
    requests
}

impl OpenLoopRun {
    /// Sends the `index`th request, due at `due`, holding its `slot` until answered.
    async fn send(
        &self,
        index: u64,
        due: Instant,
        operation: Operation,
        slot: OwnedSemaphorePermit,
    ) {
        let write = matches!(operation, Operation::Write(_));
        let channel = &self.channels[index as usize % self.channels.len()];
        let result = self.workload.execute(operation, channel).await;
        let took = due.elapsed();
        drop(slot);
        self.progress.record(result.is_err());
        if due >= self.pacing.window.measure_from {
            self.tallies.count(index, write, &result, took);
        }
    }
}
