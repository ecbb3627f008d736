//! Criterion settings shared by the benches, and the ratio each bench prints after its run.
//!
//! Criterion reports each function on its own; the question each bench answers is a ratio
//! (ours against the alternative), so after the run the bench reads Criterion's own
//! estimates back and prints it, with the target.
//!
//! Criterion measures one function after the other, each in its own few seconds. On a
//! shared 2-core VM the machine's speed drifts by more than the differences measured here
//! (the same round trip measured 62 µs in one run and 129 µs in another), so each bench
//! also runs a [`paired`] measurement: every contender in turn, in short batches, many
//! rounds, each round starting with the next one, so that drift falls on all of them
//! alike. Its ratio is the one judged against the target (docs/decisions/0006).

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use criterion::Criterion;

/// Short by default (1 s warm-up, 3 s measurement per function) so that the whole suite
/// runs in a few minutes; Criterion's command-line flags (`--warm-up-time`,
/// `--measurement-time`, `--sample-size`) still override it.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args()
}

/// One function of a group, compared with the group's baseline.
#[derive(Debug, Clone, Copy)]
pub struct Contender {
    /// The Criterion function id.
    pub function: &'static str,
    /// The largest acceptable ratio to the baseline, if this function has a target.
    pub target: Option<f64>,
}

impl Contender {
    /// A function shown for context, with no target.
    pub const fn context(function: &'static str) -> Self {
        Self {
            function,
            target: None,
        }
    }

    /// A function whose median must stay within `ratio` × the baseline's.
    pub const fn within(function: &'static str, ratio: f64) -> Self {
        Self {
            function,
            target: Some(ratio),
        }
    }
}

/// Prints each contender's median and its ratio to `baseline`'s, from the estimates
/// Criterion wrote since `since` (a function filtered out of this run shows as not run).
pub fn print_ratios(group: &str, baseline: &str, contenders: &[Contender], since: SystemTime) {
    println!("\n{group} (Criterion, one function after the other): median, ratio to {baseline}");
    let median = |function: &str| median_ns(group, function, since);
    print_table(baseline, contenders, median, false);
}

/// How a [`paired`] measurement is sized.
#[derive(Debug, Clone, Copy)]
pub struct Rounds {
    /// Rounds after the first (which warms up and is dropped).
    pub rounds: usize,
    /// Calls of one contender in one round.
    pub batch: u32,
}

impl Rounds {
    /// `rounds` × `batch`, or a quarter of the rounds when `SOPHIC_BENCH_QUICK` is set (CI).
    pub fn new(rounds: usize, batch: u32) -> Self {
        let quick = std::env::var_os("SOPHIC_BENCH_QUICK").is_some();
        Self {
            rounds: if quick { rounds.div_ceil(4) } else { rounds },
            batch,
        }
    }
}

/// Runs `run(i, batch)` (contender `i`, `batch` calls) for every contender in turn (the
/// baseline is 0), for `rounds.rounds` rounds after a warm-up round, then prints each contender's median time
/// per call and its ratio to the first, with the targets. Returns the medians in ns.
pub fn paired(
    group: &str,
    baseline: &'static str,
    contenders: &[Contender],
    rounds: Rounds,
    mut run: impl FnMut(usize, u32),
) -> Vec<f64> {
    let count = contenders.len() + 1;
    let mut samples = vec![Vec::with_capacity(rounds.rounds); count];
    for round in 0..=rounds.rounds {
        // Each round starts with the next contender, so that none always follows another.
        for i in (0..count).map(|k| (k + round) % count) {
            let start = Instant::now();
            run(i, rounds.batch);
            if round > 0 {
                samples[i].push(start.elapsed().as_nanos() as f64 / f64::from(rounds.batch));
            }
        }
    }
    let medians: Vec<f64> = samples.iter_mut().map(|s| median(s)).collect();
    println!(
        "\n{group} (paired: {} rounds of {} calls of each, in turn): median per call, ratio to {baseline}",
        rounds.rounds, rounds.batch
    );
    print_table(
        baseline,
        contenders,
        |f| {
            let i = std::iter::once(baseline)
                .chain(contenders.iter().map(|c| c.function))
                .position(|name| name == f)?;
            Some(medians[i])
        },
        true,
    );
    medians
}

fn print_table(
    baseline: &str,
    contenders: &[Contender],
    median: impl Fn(&str) -> Option<f64>,
    judged: bool,
) {
    let Some(base) = median(baseline) else {
        println!("  {baseline} did not run: no ratio");
        return;
    };
    println!("  {baseline:<24} {:>12}  1.000", format_ns(base));
    for contender in contenders {
        let Some(median) = median(contender.function) else {
            println!("  {:<24} did not run", contender.function);
            continue;
        };
        let ratio = median / base;
        let verdict = match contender.target {
            Some(target) if !judged => {
                format!("  (target <= {target:.2} is judged on the paired ratio)")
            }
            Some(target) if ratio <= target => format!("  target <= {target:.2}: met"),
            Some(target) => format!("  target <= {target:.2}: MISSED"),
            None => String::new(),
        };
        println!(
            "  {:<24} {:>12}  {ratio:.3}{verdict}",
            contender.function,
            format_ns(median)
        );
    }
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    match samples.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => samples[n / 2],
        n => (samples[n / 2 - 1] + samples[n / 2]) / 2.0,
    }
}

/// Where Criterion keeps its results: `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
/// else the workspace's `target/criterion` (the same rule Criterion follows).
pub fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/criterion"
    ))
}

/// The median, in nanoseconds, of the latest run of `group/function` if it ran after `since`.
pub fn median_ns(group: &str, function: &str, since: SystemTime) -> Option<f64> {
    let path = criterion_home()
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if written < since {
        return None;
    }
    let estimates: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    estimates["median"]["point_estimate"].as_f64()
}

fn format_ns(ns: f64) -> String {
    match ns {
        ns if ns >= 1e6 => format!("{:.3} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        ns => format!("{ns:.0} ns"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
    }

    #[test]
    fn paired_runs_every_contender_every_round() {
        let mut calls = [0u32; 2];
        let rounds = Rounds {
            rounds: 3,
            batch: 5,
        };
        paired("group", "a", &[Contender::context("b")], rounds, |i, n| {
            calls[i] += n;
        });
        assert_eq!(calls, [20, 20]);
    }
}
