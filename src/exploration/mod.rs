//! `toy explore`: search the seeds of the `random` GIL policy for a run that goes wrong. It
//! runs the script in child `toy` processes under `--gil-policy random --gil-seed N` for
//! N = 1, 2, … and stops at the first run that fails — a nonzero exit code, an uncaught
//! error (reported even when the script then called `exit(0)`), a hang past the time
//! limit, or output that differs from seed 1's — and says
//! which seed, what went wrong, and the command that replays it.
//!
//! Invariant: a verdict is only ever about runs that happened: seed 1's output is the
//! reference, every later run is compared with it byte for byte, and the replay command
//! printed is exactly the child's command line.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

// One concept per file:
// A child run with its output captured and a time limit.
mod child;

/// What to explore.
#[derive(Clone, Debug)]
pub struct Options {
    /// The `toy` binary that runs the script.
    pub toy: PathBuf,
    /// Seeds 1 to `seeds` are tried (at least 1).
    pub seeds: u64,
    /// Options given to every run before the file (`--check-interval 10`, say), besides
    /// the policy and the seed.
    pub run_options: Vec<String>,
    /// The script and its arguments.
    pub file: String,
    pub args: Vec<String>,
    /// A run still going after this long counts as hung, and is killed.
    pub time_limit: Duration,
}

impl Options {
    /// The arguments of the run under `seed`, after the program's name.
    fn arguments(&self, seed: u64) -> Vec<String> {
        let mut args = vec![
            "run".to_string(),
            "--gil-policy".to_string(),
            "random".to_string(),
            "--gil-seed".to_string(),
            seed.to_string(),
        ];
        args.extend(self.run_options.iter().cloned());
        args.push(self.file.clone());
        args.extend(self.args.iter().cloned());
        args
    }

    /// The command that replays the run under `seed`, as a person would type it.
    pub fn replay_command(&self, seed: u64) -> String {
        std::iter::once("toy".to_string())
            .chain(self.arguments(seed))
            .map(|word| shell_quoted(&word))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `word` as a POSIX shell reads it back: bare when it is plain, else single-quoted.
fn shell_quoted(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// How a run went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// It exited with this code (1: an uncaught error); `stderr` is the end of what it
    /// wrote there (the traceback).
    Exit { code: i32, stderr: String },
    /// A signal ended it.
    Signal { stderr: String },
    /// It exited with code 0 (a script's own `exit(0)`) after reporting an error nobody
    /// caught: a thread's, a child's or an interpreter's; `stderr` is the end of the report.
    Uncaught { stderr: String },
    /// It was still running at the time limit.
    Hung { limit: Duration },
    /// It succeeded but printed something else than seed 1's run: the first line that
    /// differs (1-based), as each run printed it (`None`: that run's output had ended).
    Output {
        line: usize,
        expected: Option<String>,
        got: Option<String>,
    },
}

/// What exploring found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every seed from 1 to `tried` ran cleanly and printed the same.
    AllPassed { tried: u64 },
    /// The run under `seed` failed.
    Failed {
        seed: u64,
        failure: Failure,
        replay: String,
    },
}

/// The last lines of `bytes`, as text.
fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut last: Vec<&str> = text.lines().rev().take(lines).collect();
    last.reverse();
    last.join("\n")
}

/// Whether a run's standard error holds the report of an uncaught error. Scripts cannot
/// write to standard error themselves, so such a line comes from toy: a traceback, or the
/// line that opens the report of a thread, child process or interpreter.
fn reports_uncaught_error(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr).lines().any(|line| {
        line == "Traceback (most recent call last):"
            || [
                "Exception in thread ",
                "Exception in process ",
                "Exception in interpreter ",
            ]
            .iter()
            .any(|opening| line.starts_with(opening))
    })
}

/// The first line where `got` differs from `expected`, if any.
fn first_difference(expected: &[u8], got: &[u8]) -> Option<Failure> {
    if expected == got {
        return None;
    }
    let expected = String::from_utf8_lossy(expected);
    let got = String::from_utf8_lossy(got);
    let mut e = expected.split_inclusive('\n');
    let mut g = got.split_inclusive('\n');
    let mut line = 1;
    loop {
        match (e.next(), g.next()) {
            (Some(a), Some(b)) if a == b => line += 1,
            (a, b) => {
                let shown = |s: Option<&str>| {
                    s.map(|s| match s.strip_suffix('\n') {
                        Some(line) => line.to_string(),
                        None => format!("{s} (no newline at the end)"),
                    })
                };
                return Some(Failure::Output {
                    line,
                    expected: shown(a),
                    got: shown(b),
                });
            }
        }
    }
}

/// Run the script under seeds 1, 2, … `options.seeds`, stopping at the first failure;
/// `progress` hears a line now and then.
pub fn explore(options: &Options, progress: &mut dyn FnMut(&str)) -> Result<Verdict, String> {
    let seeds = options.seeds.max(1);
    let mut reference: Option<Vec<u8>> = None;
    for seed in 1..=seeds {
        let run = child::run(&options.toy, &options.arguments(seed), options.time_limit)?;
        let failure = if run.timed_out {
            Some(Failure::Hung {
                limit: options.time_limit,
            })
        } else {
            match run.code {
                Some(0) if reports_uncaught_error(&run.stderr) => Some(Failure::Uncaught {
                    stderr: tail(&run.stderr, 12),
                }),
                Some(0) => match &reference {
                    Some(expected) => first_difference(expected, &run.stdout),
                    None => None,
                },
                Some(code) => Some(Failure::Exit {
                    code,
                    stderr: tail(&run.stderr, 12),
                }),
                None => Some(Failure::Signal {
                    stderr: tail(&run.stderr, 12),
                }),
            }
        };
        if let Some(failure) = failure {
            return Ok(Verdict::Failed {
                seed,
                failure,
                replay: options.replay_command(seed),
            });
        }
        if reference.is_none() {
            reference = Some(run.stdout);
        }
        if seed % (seeds / 10).max(10) == 0 || seed == seeds {
            progress(&format!("{seed} of {seeds} seeds ran cleanly"));
        }
    }
    Ok(Verdict::AllPassed { tried: seeds })
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Exit { code, stderr } => {
                write!(f, "it exited with code {code}")?;
                if !stderr.is_empty() {
                    write!(f, ":\n{stderr}")?;
                }
                Ok(())
            }
            Failure::Signal { stderr } => {
                write!(f, "a signal ended it")?;
                if !stderr.is_empty() {
                    write!(f, ":\n{stderr}")?;
                }
                Ok(())
            }
            Failure::Uncaught { stderr } => write!(f, "it exited with code 0 but an error went uncaught:\n{stderr}"),
            Failure::Hung { limit } => write!(f, "it was still running after {} s", limit.as_secs_f64()),
            Failure::Output { line, expected, got } => {
                let shown = |s: &Option<String>| match s {
                    Some(text) => format!("{text:?}"),
                    None => "(end of output)".to_string(),
                };
                write!(
                    f,
                    "its output differs from seed 1's at line {line}:\n  seed 1: {}\n  this:   {}",
                    shown(expected),
                    shown(got)
                )
            }
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::AllPassed { tried } => {
                let s = if *tried == 1 { "" } else { "s" };
                writeln!(
                    f,
                    "no failure in {tried} seed{s}: every run exited cleanly and printed the same"
                )
            }
            Verdict::Failed { seed, failure, replay } => {
                writeln!(f, "seed {seed} fails: {failure}")?;
                writeln!(f, "replay it with:\n  {replay}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_differing_line_is_found_on_either_side() {
        assert_eq!(first_difference(b"a\nb\n", b"a\nb\n"), None);
        assert_eq!(
            first_difference(b"a\nb\nc\n", b"a\nx\nc\n"),
            Some(Failure::Output {
                line: 2,
                expected: Some("b".into()),
                got: Some("x".into())
            })
        );
        assert_eq!(
            first_difference(b"a\n", b"a\nmore\n"),
            Some(Failure::Output {
                line: 2,
                expected: None,
                got: Some("more".into())
            })
        );
        // A missing final newline is a difference too.
        assert_eq!(
            first_difference(b"a\n", b"a"),
            Some(Failure::Output {
                line: 1,
                expected: Some("a".into()),
                got: Some("a (no newline at the end)".into())
            })
        );
    }

    #[test]
    fn reports_of_uncaught_errors_are_recognised_and_nothing_else() {
        assert!(reports_uncaught_error(
            b"Exception in thread 2:\nTraceback (most recent call last):\n"
        ));
        assert!(reports_uncaught_error(b"Exception in process 4242:\nError: plain\n"));
        assert!(reports_uncaught_error(
            b"Traceback (most recent call last):\n  a.toy:1 in <main>\n"
        ));
        assert!(!reports_uncaught_error(b""));
        assert!(!reports_uncaught_error(b"explore: 10 of 10 seeds ran cleanly\n"));
    }

    #[test]
    fn the_replay_command_quotes_what_a_shell_would_split() {
        let options = Options {
            toy: PathBuf::from("toy"),
            seeds: 3,
            run_options: vec!["--check-interval".into(), "10".into()],
            file: "my race.toy".into(),
            args: vec!["it's".into(), "4".into()],
            time_limit: Duration::from_secs(1),
        };
        assert_eq!(
            options.replay_command(7),
            r"toy run --gil-policy random --gil-seed 7 --check-interval 10 'my race.toy' 'it'\''s' 4"
        );
    }
}
