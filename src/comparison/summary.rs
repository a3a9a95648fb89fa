//! The numbers of a comparison: one [`Sample`] per child run (its wall and CPU time, and
//! the GIL statistics the child wrote as JSON), and one [`Row`] per policy, the medians of
//! its samples. Invariant: a row is made only from samples of its own policy, every
//! median is taken over all of them, and the costliest line is the one charged the most
//! waiting summed over every run.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

/// One run under one policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub wall: Duration,
    pub cpu: Duration,
    pub switches: u64,
    pub forced_drops: u64,
    /// Time all threads spent waiting for the GIL.
    pub wait: Duration,
    /// The longest single wait.
    pub worst_wait: Duration,
    /// `waits_caused`: line and seconds, costliest first.
    pub waits_caused: Vec<(String, f64)>,
}

impl Sample {
    /// A sample from a child's measured times and its statistics' JSON text.
    pub(super) fn parse(wall: Duration, cpu: Duration, json: &str) -> Result<Sample, String> {
        let doc: Value = serde_json::from_str(json).map_err(|e| format!("its statistics are not JSON: {e}"))?;
        let count = |key: &str| {
            doc[key]
                .as_u64()
                .ok_or_else(|| format!("its statistics lack a count \"{key}\""))
        };
        let seconds = |key: &str| {
            doc[key]
                .as_f64()
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("its statistics lack a time \"{key}\""))
        };
        let mut waits_caused = Vec::new();
        for entry in doc["waits_caused"].as_array().into_iter().flatten() {
            if let (Some(line), Some(s)) = (entry[0].as_str(), entry[1].as_f64()) {
                waits_caused.push((line.to_string(), s));
            }
        }
        Ok(Sample {
            wall,
            cpu,
            switches: count("switches")?,
            forced_drops: count("forced_drops")?,
            wait: seconds("wait_s")?,
            worst_wait: seconds("max_wait_s")?,
            waits_caused,
        })
    }
}

/// One policy's medians.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub policy: String,
    pub runs: usize,
    pub wall: Duration,
    pub cpu: Duration,
    pub switches: u64,
    pub forced_drops: u64,
    pub wait: Duration,
    pub worst_wait: Duration,
    /// The line charged the most waiting over all runs, with its mean per run.
    pub costliest: Option<(String, Duration)>,
}

impl Row {
    /// The medians of `samples` (at least one).
    pub(super) fn of(policy: &str, samples: &[Sample]) -> Row {
        let mut by_line: BTreeMap<&str, f64> = BTreeMap::new();
        for s in samples {
            for (line, secs) in &s.waits_caused {
                *by_line.entry(line).or_default() += secs;
            }
        }
        let n = samples.len().max(1);
        let costliest = by_line
            .into_iter()
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(line, total)| (line.to_string(), Duration::from_secs_f64(total / n as f64)));
        Row {
            policy: policy.to_string(),
            runs: samples.len(),
            wall: median(samples.iter().map(|s| s.wall)),
            cpu: median(samples.iter().map(|s| s.cpu)),
            switches: median(samples.iter().map(|s| s.switches)),
            forced_drops: median(samples.iter().map(|s| s.forced_drops)),
            wait: median(samples.iter().map(|s| s.wait)),
            worst_wait: median(samples.iter().map(|s| s.worst_wait)),
            costliest,
        }
    }
}

/// The median (the lower of the middle two for an even count); the default of nothing.
pub(super) fn median<T: Ord + Copy + Default>(values: impl Iterator<Item = T>) -> T {
    let mut v: Vec<T> = values.collect();
    v.sort_unstable();
    match v.len() {
        0 => T::default(),
        n => v[(n - 1) / 2],
    }
}
