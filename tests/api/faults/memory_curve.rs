//! The soak's memory curve: live heap (counted by the test binary's global allocator, the same
//! counting mimalloc that `elevator` runs on) and resident memory, sampled over the run, with
//! least-squares slopes fitted after warm-up. A slope, unlike a start/end ratio, is not failed
//! by a single step and does not pass a slow leak that a step happens to hide. Restarts are
//! steps by design (a replica's memory goes, a new one's comes): each starts a new segment,
//! the samples while it settles are left out, and one slope is fitted through every segment
//! with an offset of its own, so a restart's step counts for nothing and growth between
//! restarts counts in full.

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use elevator::telemetry::heap;

/// One sample: seconds since the start, resident bytes, live heap bytes, calls made so far,
/// and the segment (between restarts) it belongs to, if it counts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sample {
    pub seconds: f64,
    pub resident: f64,
    pub live: f64,
    pub calls: f64,
    segment: Option<usize>,
}

/// The samples of one run.
#[derive(Debug)]
pub(super) struct MemoryCurve {
    samples: Vec<Sample>,
    /// Samples before this many seconds count for nothing: warm-up, or a restart settling.
    settled_at: f64,
    /// How long a restart takes to settle.
    settle: Duration,
    segment: usize,
}

/// A least-squares line through the samples after warm-up.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fit {
    /// Bytes per second.
    pub slope: f64,
    /// The mean of the fitted values, bytes.
    pub mean: f64,
}

impl Fit {
    /// Growth per ten minutes as a share of the mean (0.01 is 1%).
    pub(super) fn share_per_ten_minutes(&self) -> f64 {
        self.slope * 600.0 / self.mean.max(1.0)
    }
}

impl MemoryCurve {
    /// A curve of up to `samples` samples, which count from `warm_up` on, and from `settle`
    /// after each restart. Room for every sample is made now, so that the curve's own growth
    /// is not measured as the server's.
    pub(super) fn new(samples: usize, warm_up: Duration, settle: Duration) -> Self {
        MemoryCurve {
            samples: Vec::with_capacity(samples),
            settled_at: warm_up.as_secs_f64(),
            settle,
            segment: 0,
        }
    }

    /// Records a sample now.
    pub(super) fn sample(&mut self, since_start: Duration, calls: u64) {
        let seconds = since_start.as_secs_f64();
        self.samples.push(Sample {
            seconds,
            resident: heap::resident_bytes().unwrap_or(0) as f64,
            live: heap::live_bytes().unwrap_or(0) as f64,
            calls: calls as f64,
            segment: (seconds >= self.settled_at).then_some(self.segment),
        });
    }

    /// A replica or PostgreSQL restarted (or is about to): the next samples start a new
    /// segment once it settled.
    pub(super) fn restarted(&mut self, since_start: Duration) {
        self.segment += 1;
        self.settled_at = self
            .settled_at
            .max((since_start + self.settle).as_secs_f64());
    }

    /// The fitted slope of `value` against time, per second, and its mean.
    pub(super) fn fit(&self, value: fn(&Sample) -> f64) -> Fit {
        let (slope, mean) = self.pooled(|sample| sample.seconds, value);
        Fit { slope, mean }
    }

    /// Live heap kept per call: the live slope against calls made. A leak keeps bytes per call
    /// however fast the machine runs the calls, so this holds on a busy machine where a slope
    /// per second would not.
    pub(super) fn live_bytes_per_call(&self) -> f64 {
        self.pooled(|sample| sample.calls, |sample| sample.live).0
    }

    /// One least-squares slope through every segment, each with its own offset, and the mean
    /// of `y` over the counted samples.
    fn pooled(&self, x: fn(&Sample) -> f64, y: fn(&Sample) -> f64) -> (f64, f64) {
        let segments: Vec<Vec<(f64, f64)>> = (0..=self.segment)
            .map(|segment| {
                self.samples
                    .iter()
                    .filter(|sample| sample.segment == Some(segment))
                    .map(|sample| (x(sample), y(sample)))
                    .collect()
            })
            .collect();
        pooled_least_squares(&segments)
    }

    /// Calls made within the counted segments (between their first and last samples).
    pub(super) fn calls_counted(&self) -> f64 {
        (0..=self.segment)
            .map(|segment| {
                let mut calls = self
                    .samples
                    .iter()
                    .filter(|sample| sample.segment == Some(segment))
                    .map(|sample| sample.calls);
                let first = calls.next().unwrap_or(0.0);
                calls.next_back().map_or(0.0, |last| last - first)
            })
            .sum()
    }

    /// How many samples count.
    pub(super) fn counted(&self) -> usize {
        self.samples
            .iter()
            .filter(|sample| sample.segment.is_some())
            .count()
    }

    /// Writes `seconds,resident_mib,live_mib` lines to `path`, for `benches/soak.sh` to plot.
    pub(super) fn write_csv(&self, path: &Path) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(out, "seconds,resident_mib,live_mib,calls")?;
        for sample in &self.samples {
            writeln!(
                out,
                "{:.2},{:.3},{:.3},{}",
                sample.seconds,
                sample.resident / 1048576.0,
                sample.live / 1048576.0,
                sample.calls
            )?;
        }
        out.flush()
    }
}

/// The slope common to every group of `points` when each group has its own offset (least
/// squares on the points centred within their group), and the mean of `y` over all points.
/// Zero slope when no group has two distinct `x`.
fn pooled_least_squares(groups: &[Vec<(f64, f64)>]) -> (f64, f64) {
    let (mut covariance, mut variance, mut sum_y, mut count) = (0.0, 0.0, 0.0, 0.0);
    for points in groups.iter().filter(|points| !points.is_empty()) {
        let n = points.len() as f64;
        let mean_x = points.iter().map(|(x, _)| x).sum::<f64>() / n;
        let mean_y = points.iter().map(|(_, y)| y).sum::<f64>() / n;
        for (x, y) in points {
            covariance += (x - mean_x) * (y - mean_y);
            variance += (x - mean_x) * (x - mean_x);
        }
        sum_y += mean_y * n;
        count += n;
    }
    let mean = if count > 0.0 { sum_y / count } else { 0.0 };
    if variance == 0.0 {
        return (0.0, mean);
    }
    (covariance / variance, mean)
}

#[test]
fn least_squares_finds_the_slope_of_a_noisy_line_and_none_in_a_flat_one() {
    let rising: Vec<(f64, f64)> = (0..100)
        .map(|x| {
            (
                f64::from(x),
                3.0 * f64::from(x) + if x % 2 == 0 { 5.0 } else { -5.0 },
            )
        })
        .collect();
    let (slope, _) = pooled_least_squares(&[rising]);
    assert!((slope - 3.0).abs() < 0.01, "{slope}");
    let flat: Vec<(f64, f64)> = (0..100).map(|x| (f64::from(x), 7.0)).collect();
    assert_eq!(pooled_least_squares(&[flat]), (0.0, 7.0));
}

#[test]
fn a_step_between_segments_is_no_slope_but_growth_within_them_is() {
    let flat = |from: i32, level: f64| -> Vec<(f64, f64)> {
        (from..from + 50).map(|x| (f64::from(x), level)).collect()
    };
    // Flat, then a restart lifts everything by 1000: no growth.
    let (slope, _) = pooled_least_squares(&[flat(0, 10.0), flat(50, 1010.0)]);
    assert_eq!(slope, 0.0);
    // Growing by 2 per step in both segments, whatever the step between them.
    let rising = |from: i32, level: f64| -> Vec<(f64, f64)> {
        (from..from + 50)
            .map(|x| (f64::from(x), level + 2.0 * f64::from(x)))
            .collect()
    };
    let (slope, _) = pooled_least_squares(&[rising(0, 10.0), rising(50, -500.0)]);
    assert!((slope - 2.0).abs() < 1e-9, "{slope}");
}
