//! `toy compare`: one script under several GIL policies, side by side. It runs the script
//! in child `toy` processes, N times per policy with the policies taking turns (run 1
//! under each, then run 2 under each, …, so a machine that gets busier part-way slows
//! every policy alike), reads each child's GIL statistics from the JSON file the child
//! writes (`--gil-stats-json`, a hidden option) and its CPU time from the kernel, and
//! prints one row of medians per policy; optionally it draws them as a bar chart.
//!
//! Invariant: every number shown comes from a child run of the script as given (nothing
//! is estimated), and a run that fails stops the comparison with that run's exit status
//! and the end of its stderr rather than being left out of a median.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::gil::PolicyKind;

// One concept per file:
// A child run and its CPU time.
mod child;
// The SVG bar chart.
mod chart;
// Samples and rows of medians.
mod summary;

pub use summary::{Row, Sample};

/// What to compare.
#[derive(Clone, Debug)]
pub struct Options {
    /// The `toy` binary that runs the script.
    pub toy: PathBuf,
    /// The policies, in the order of the rows.
    pub policies: Vec<PolicyKind>,
    /// Runs per policy (at least 1).
    pub runs: usize,
    /// Options given to every run before the file (`--switch-interval 1ms`, say), besides
    /// the policy.
    pub run_options: Vec<String>,
    /// The script and its arguments.
    pub file: String,
    pub args: Vec<String>,
}

/// `interval,ticks,...` as policies, each at most once.
pub fn parse_policies(text: &str) -> Result<Vec<PolicyKind>, String> {
    let mut policies = Vec::new();
    for name in text.split(',').map(str::trim) {
        let p: PolicyKind = name.parse().map_err(|e: crate::gil::ParsePolicyError| e.to_string())?;
        if policies.contains(&p) {
            return Err(format!("GIL policy `{name}` is listed twice"));
        }
        policies.push(p);
    }
    Ok(policies)
}

/// The result: one row per policy, in the order asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The script and its arguments, as shown in headings.
    pub what: String,
    pub runs: usize,
    pub rows: Vec<Row>,
}

impl Comparison {
    /// The bar chart (SVG).
    pub fn svg(&self) -> String {
        chart::draw(&self.rows, &self.what, self.runs)
    }
}

/// Run the comparison, telling `progress` (a line at a time) what runs now and how it
/// went. An error is a sentence for the user.
pub fn compare(options: &Options, progress: &mut dyn FnMut(&str)) -> Result<Comparison, String> {
    let runs = options.runs.max(1);
    let what = std::iter::once(options.file.as_str())
        .chain(options.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let dir = std::env::temp_dir().join(format!("toy-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let result = run_all(options, runs, &dir, progress);
    let _ = std::fs::remove_dir_all(&dir);
    let samples = result?;
    let rows = options
        .policies
        .iter()
        .zip(&samples)
        .map(|(p, s)| Row::of(p.name(), s))
        .collect();
    Ok(Comparison { what, runs, rows })
}

/// Every run, interleaved; the samples of each policy, in `options.policies` order.
fn run_all(
    options: &Options,
    runs: usize,
    dir: &std::path::Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Vec<Sample>>, String> {
    let stats = dir.join("stats.json");
    let stderr = dir.join("stderr.txt");
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); options.policies.len()];
    for run in 1..=runs {
        for (i, policy) in options.policies.iter().enumerate() {
            let _ = std::fs::remove_file(&stats);
            let mut args: Vec<String> = vec![
                "run".into(),
                "--gil-policy".into(),
                policy.name().into(),
                "--gil-stats-json".into(),
                stats.to_string_lossy().into_owned(),
            ];
            args.extend(options.run_options.iter().cloned());
            args.push(options.file.clone());
            args.extend(options.args.iter().cloned());
            let out = child::run(&options.toy, &args, &stderr)?;
            if out.code != Some(0) {
                let status = out
                    .code
                    .map_or("killed by a signal".to_string(), |c| format!("exit {c}"));
                return Err(format!(
                    "{} failed under --gil-policy {policy} (run {run}, {status}){}{}",
                    options.file,
                    if out.stderr_tail.is_empty() { "" } else { ":\n" },
                    out.stderr_tail
                ));
            }
            let json = std::fs::read_to_string(&stats)
                .map_err(|e| format!("the run under {policy} wrote no statistics ({e})"))?;
            let sample = Sample::parse(out.wall, out.cpu, &json).map_err(|e| format!("the run under {policy}: {e}"))?;
            progress(&format!(
                "run {run}/{runs}  {:<9} wall {:.3} s  cpu {:.3} s  switches {}",
                policy.name(),
                sample.wall.as_secs_f64(),
                sample.cpu.as_secs_f64(),
                sample.switches
            ));
            samples[i].push(sample);
        }
    }
    Ok(samples)
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

impl fmt::Display for Comparison {
    /// The table: a heading, then one aligned row per policy.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: medians of {} run{} per policy, runs interleaved",
            self.what,
            self.runs,
            if self.runs == 1 { "" } else { "s" }
        )?;
        const HEADER: [&str; 8] = [
            "policy",
            "wall (s)",
            "cpu (s)",
            "switches",
            "forced drops",
            "GIL wait (ms)",
            "worst wait (ms)",
            "costliest line (waits caused per run)",
        ];
        let mut table: Vec<[String; 8]> = vec![HEADER.map(String::from)];
        for r in &self.rows {
            table.push([
                r.policy.clone(),
                format!("{:.3}", r.wall.as_secs_f64()),
                format!("{:.3}", r.cpu.as_secs_f64()),
                r.switches.to_string(),
                r.forced_drops.to_string(),
                ms(r.wait),
                ms(r.worst_wait),
                r.costliest.as_ref().map_or("-".to_string(), |(line, per_run)| {
                    format!("{line} ({} ms)", ms(*per_run))
                }),
            ]);
        }
        let mut widths = [0; 8];
        for row in &table {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in &table {
            write!(f, "{:<w$}", row[0], w = widths[0])?;
            for (cell, w) in row.iter().zip(widths).skip(1).take(6) {
                write!(f, "  {cell:>w$}")?;
            }
            writeln!(f, "  {}", row[7])?;
        }
        Ok(())
    }
}
