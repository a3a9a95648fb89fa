//! The `toy` command line: turns arguments into a configuration and calls the library.

use clap::{Args, Parser, Subcommand};
mod repl;

use std::io::IsTerminal;
use std::time::Duration;
use toy::{Interpreter, Policy, RunError};

const EXAMPLES: &str = "\
Examples:
  toy run scripts/hello.toy            run a script
  toy run --gil-policy ticks --gil-stats race.toy 4 100000
                                       run under another GIL policy, print the lock's table
  toy scripts/hello.toy a b            the same; `a` and `b` are the script's argv()
  toy check prog.toy                   parse and compile only
  toy disasm prog.toy                  print every function's bytecode
  toy                                  start the interactive prompt (on a terminal)
  echo 'print(argv())' | toy - a b     read the script from standard input
  toy run --gil-trace t.json prog.toy && toy timeline t.json -o t.svg
                                       draw who held the GIL when, one lane per thread";

#[derive(Parser)]
#[command(
    name = "toy",
    version,
    about = "An embeddable bytecode interpreter with a real global interpreter lock"
)]
#[command(after_help = EXAMPLES, allow_external_subcommands = true)]
struct Cli {
    #[command(flatten)]
    options: RunOptions,
    #[command(subcommand)]
    command: Option<Command>,
}

// How the GIL behaves, and what it reports. (Plain comments, not doc comments, on the
// flattened option structs: clap would take a doc comment for the about text of a
// subcommand that flattens them, since subcommands are built only when used.)
#[derive(Args, Clone, Default)]
struct RunOptions {
    /// When the GIL holder must let go: interval (default), ticks, fifo, priority, deadline or random (a seeded scheduler)
    #[arg(long, value_name = "POLICY", value_parser = parse_policy)]
    gil_policy: Option<Policy>,
    /// How long a waiting thread lets the holder run before asking it to drop, e.g. 5ms, 0.1ms, 1s
    #[arg(long, value_name = "TIME", value_parser = parse_duration)]
    switch_interval: Option<Duration>,
    /// Under the ticks policy: instructions between drops (default 100); under random, their mean
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    check_interval: Option<u32>,
    /// Under the random policy: the seed (default 1); the same seed repeats the same run
    #[arg(long, value_name = "N")]
    gil_seed: Option<u64>,
    /// Print a per-thread table of GIL acquisitions, hold and wait times to stderr at exit
    #[arg(long)]
    gil_stats: bool,
    /// Write the GIL's timeline as Chrome trace-event JSON (open it in Perfetto)
    #[arg(long, value_name = "FILE.json")]
    gil_trace: Option<String>,
    /// Write the GIL's statistics as JSON at exit (for `toy compare`)
    #[arg(long, value_name = "FILE.json", hide = true)]
    gil_stats_json: Option<String>,
    /// Keep the GIL held while native functions compute (to compare with releasing it)
    #[arg(long)]
    native_holds_gil: bool,
    /// Where a thread that takes the GIL runs: follow (default) moves it onto the CPU of the holder that dropped; any lets the kernel decide
    #[arg(long, value_name = "PLACEMENT", value_parser = parse_cpu_placement)]
    gil_cpu: Option<bool>,
    /// Limit the heap to SIZE bytes (suffixes K, M, G: 512M, 2G); beyond it, MemoryError
    #[arg(long, value_name = "SIZE", value_parser = parse_size, allow_hyphen_values = true)]
    max_memory: Option<usize>,
}

// The run options `toy compare` and `toy explore` pass on to every child run of the
// script, checked here and passed on as written (so a replay command reads as typed).
#[derive(Args, Clone, Default)]
struct ChildRunOptions {
    /// How long a waiting thread lets the holder run before asking it to drop, e.g. 5ms
    #[arg(long, value_name = "TIME", value_parser = checked(parse_duration))]
    switch_interval: Option<String>,
    /// Instructions between drops under ticks; under random, their mean
    #[arg(long, value_name = "N", value_parser = checked(|s: &str| s.parse::<u32>().ok().filter(|&n| n >= 1).ok_or_else(|| format!("`{s}` is not a whole number of at least 1"))))]
    check_interval: Option<String>,
    /// Keep the GIL held while native functions compute
    #[arg(long)]
    native_holds_gil: bool,
    /// Where a thread that takes the GIL runs: follow (default) or any
    #[arg(long, value_name = "PLACEMENT", value_parser = checked(parse_cpu_placement))]
    gil_cpu: Option<String>,
    /// Limit each run's heap to SIZE bytes (suffixes K, M, G)
    #[arg(long, value_name = "SIZE", value_parser = checked(parse_size))]
    max_memory: Option<String>,
}

impl ChildRunOptions {
    /// These options with the same ones given before the subcommand (`toy
    /// --switch-interval 1ms compare FILE`) where they were not given after it; the other
    /// run options mean nothing there (the subcommand picks the policy and seeds, and the
    /// statistics are its own), so they are refused rather than silently dropped.
    fn with_top(mut self, top: &RunOptions, command: &str) -> Result<ChildRunOptions, String> {
        let refused = [
            ("--gil-policy", top.gil_policy.is_some()),
            ("--gil-seed", top.gil_seed.is_some()),
            ("--gil-stats", top.gil_stats),
            ("--gil-trace", top.gil_trace.is_some()),
        ];
        if let Some((name, _)) = refused.iter().find(|(_, given)| *given) {
            return Err(format!("toy {command}: {name} is not an option of toy {command}"));
        }
        self.switch_interval = self
            .switch_interval
            .or_else(|| top.switch_interval.map(|d| d.as_secs_f64().to_string()));
        self.check_interval = self
            .check_interval
            .or_else(|| top.check_interval.map(|n| n.to_string()));
        self.native_holds_gil |= top.native_holds_gil;
        self.gil_cpu = self.gil_cpu.or_else(|| {
            top.gil_cpu
                .map(|follow| if follow { "follow" } else { "any" }.to_string())
        });
        self.max_memory = self.max_memory.or_else(|| top.max_memory.map(|n| n.to_string()));
        Ok(self)
    }

    /// The options as a child's command line has them, before the file.
    fn to_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        let valued = [
            ("--switch-interval", &self.switch_interval),
            ("--check-interval", &self.check_interval),
            ("--gil-cpu", &self.gil_cpu),
            ("--max-memory", &self.max_memory),
        ];
        for (name, value) in valued {
            if let Some(v) = value {
                args.extend([name.to_string(), v.clone()]);
            }
        }
        if self.native_holds_gil {
            args.push("--native-holds-gil".to_string());
        }
        args
    }
}

/// A value parser that checks a word with `parse` and keeps the word itself.
fn checked<T>(
    parse: impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static,
) -> impl clap::builder::TypedValueParser<Value = String> {
    move |s: &str| parse(s).map(|_| s.to_string())
}

/// `2G`, `512M`, `64K`, `1.5G` or a plain number of bytes (the suffixes are powers of 1024).
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (number, scale) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&t[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&t[..i], 1 << 30),
        Some((i, 'T' | 't')) => (&t[..i], 1 << 40),
        _ => (t, 1),
    };
    let bad = || format!("`{s}` is not a size (try 512M, 2G or a number of bytes)");
    let value = match number.parse::<u64>() {
        Ok(n) => n.checked_mul(scale).ok_or_else(bad)?,
        Err(_) => match number.parse::<f64>() {
            Ok(x) if x.is_finite() && x >= 0.0 && !number.starts_with(['+', '-']) => {
                let bytes = x * scale as f64;
                if bytes >= u64::MAX as f64 {
                    return Err(bad());
                }
                bytes as u64
            }
            _ => return Err(bad()),
        },
    };
    if value == 0 {
        return Err(format!("`{s}` is not a size: the limit must be more than 0 bytes"));
    }
    usize::try_from(value).map_err(|_| bad())
}

fn parse_cpu_placement(s: &str) -> Result<bool, String> {
    match s {
        "follow" => Ok(true),
        "any" => Ok(false),
        _ => Err(format!("unknown CPU placement `{s}` (expected follow or any)")),
    }
}

fn parse_policy(s: &str) -> Result<Policy, String> {
    s.parse::<Policy>().map_err(|e| e.to_string())
}

/// `5ms`, `0.1ms`, `250us`, `1s`, or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (number, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = t.strip_suffix("ns") {
        (n, 1e-9)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && (v * scale) < 1e6 => Ok(Duration::from_secs_f64(v * scale)),
        _ => Err(format!("`{s}` is not a positive duration (try 5ms, 0.1ms or 1s)")),
    }
}

#[derive(Subcommand)]
#[command(defer = true)]
enum Command {
    /// Run a script; everything after FILE is the script's argv()
    #[command(after_help = "Example:\n  toy run scripts/hello.toy")]
    Run {
        #[command(flatten)]
        options: RunOptions,
        /// The script to run (`-`: read it from standard input), then its arguments:
        /// everything after FILE is the script's, even words that look like options
        // One list, so that clap stops looking for options at the file (the first value,
        // which must not look like an option) and not only after the first argument.
        #[arg(value_name = "FILE [ARGS]", required = true, num_args = 1.., trailing_var_arg = true)]
        words: Vec<String>,
    },
    /// Parse and compile a script without running it (exit 2 on an error)
    #[command(after_help = "Example:\n  toy check prog.toy")]
    Check { file: String },
    /// Print the bytecode of every function in a script
    #[command(after_help = "Example:\n  toy disasm prog.toy")]
    Disasm { file: String },
    /// Draw a --gil-trace file as an SVG timeline: one lane per thread
    #[command(
        after_help = "Example:\n  toy run --gil-trace trace.json prog.toy\n  toy timeline trace.json -o timeline.svg"
    )]
    Timeline {
        /// A trace written by `toy run --gil-trace FILE.json`
        trace: String,
        /// Where to write the SVG
        #[arg(short, long, value_name = "FILE.svg", default_value = "timeline.svg")]
        output: String,
    },
    /// Run a script under several GIL policies and show them side by side
    #[command(after_help = "Examples:\n  toy compare scripts/lab/convoy.toy quick\n  \
                      toy compare --policies priority,deadline --runs 3 --svg cmp.svg scripts/lab/fairness.toy")]
    Compare {
        /// The policies, comma-separated (default: interval,ticks,fifo,priority,deadline)
        #[arg(long, value_name = "LIST")]
        policies: Option<String>,
        /// Runs of the script under each policy; the table shows medians
        #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
        /// Also draw the table as a bar chart
        #[arg(long, value_name = "FILE.svg")]
        svg: Option<String>,
        #[command(flatten)]
        child: ChildRunOptions,
        /// The script, then its arguments
        #[arg(value_name = "FILE [ARGS]", required = true, num_args = 1.., trailing_var_arg = true)]
        words: Vec<String>,
    },
    /// Search seeds of the random GIL policy for a run that fails
    #[command(after_help = "Examples:\n  toy explore scripts/lab/race.toy quick\n  \
                      toy explore --runs 1000 --check-interval 20 prog.toy")]
    Explore {
        /// Seeds tried: 1 to N
        #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
        runs: u64,
        #[command(flatten)]
        child: ChildRunOptions,
        /// A run still going after this many seconds counts as hung
        #[arg(long, value_name = "SECONDS", default_value_t = 60.0, value_parser = parse_seconds)]
        timeout: f64,
        /// The script, then its arguments
        #[arg(value_name = "FILE [ARGS]", required = true, num_args = 1.., trailing_var_arg = true)]
        words: Vec<String>,
    },
    #[command(external_subcommand)]
    File(Vec<String>),
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v < 1e6 => Ok(v),
        _ => Err(format!("`{s}` is not a positive number of seconds")),
    }
}

fn main() {
    // The whole interpreter runs on a thread with a large stack, so deeply nested input
    // is refused by the front end's own limits long before the Rust stack runs out. That
    // thread ends the process itself, also when it panics (exit code 101): handing its
    // exit code back to this one would cost a wake-up and the unmapping of its stack, a
    // third of an empty script's run. Meanwhile this thread watches for Ctrl-C, which
    // would otherwise take a thread of its own.
    let watcher = toy::CtrlCWatcher::for_this_thread();
    let worker = std::thread::Builder::new()
        .name("toy-main".into())
        .stack_size(512 << 20)
        .spawn(|| std::process::exit(std::panic::catch_unwind(real_main).unwrap_or(101)));
    if worker.is_ok()
        && let Some(watcher) = watcher
    {
        watcher.run();
    }
    let code = match worker.map(|h| h.join()) {
        Ok(Ok(never)) => match never {},
        _ => 101,
    };
    std::process::exit(code);
}

/// The `toy` binary that runs `file` again in child processes (`toy compare`, `toy
/// explore`), once `file` is known to be a script file each child can read: else the exit
/// code, 2 for bad usage (standard input cannot be read again) or 1 if this binary cannot
/// be found.
fn child_runner(command: &str, file: &str) -> Result<std::path::PathBuf, i32> {
    if file == STDIN {
        write_err(&format!(
            "toy {command}: the script must be a file (every run reads it again)\n"
        ));
        return Err(2);
    }
    if !std::path::Path::new(file).is_file() {
        write_err(&format!("toy: cannot open {file}: no such file\n"));
        return Err(2);
    }
    std::env::current_exe().map_err(|e| {
        write_err(&format!("toy: cannot find the toy binary to run: {e}\n"));
        1
    })
}

/// `toy explore`: the verdict on stdout, progress on stderr; exit 0 if every seed passed,
/// 1 if one failed, 2 for bad usage.
fn explore(seeds: u64, run_options: Vec<String>, time_limit: Duration, file: String, args: Vec<String>) -> i32 {
    let toy = match child_runner("explore", &file) {
        Ok(toy) => toy,
        Err(code) => return code,
    };
    let options = toy::exploration::Options {
        toy,
        seeds,
        run_options,
        file,
        args,
        time_limit,
    };
    match toy::exploration::explore(&options, &mut |line| write_err(&format!("explore: {line}\n"))) {
        Ok(verdict) => {
            write_out(&verdict.to_string());
            match verdict {
                toy::exploration::Verdict::AllPassed { .. } => 0,
                toy::exploration::Verdict::Failed { .. } => 1,
            }
        }
        Err(message) => {
            write_err(&format!("toy explore: {message}\n"));
            1
        }
    }
}

fn real_main() -> i32 {
    let cli = Cli::parse();
    let top = cli.options;
    match cli.command {
        // The prompt is for a person at a terminal; anything else on standard input is
        // a program, run as a script (as `toy -`): no banner, no prompts, no echo.
        None if !std::io::stdin().is_terminal() => run(&top, STDIN, Vec::new()),
        None => match check_outputs(&top) {
            Ok(()) => repl::run(interpreter(&top, Vec::new())),
            Err(code) => code,
        },
        Some(Command::Run { options, mut words }) => {
            let file = words.remove(0);
            run(&merge(top, options), &file, words)
        }
        Some(Command::File(mut words)) => {
            let file = words.remove(0);
            run(&top, &file, words)
        }
        Some(Command::Check { file }) => {
            finish(read(&file).and_then(|(name, src)| Interpreter::new().check(&name, &src)))
        }
        Some(Command::Timeline { trace, output }) => {
            if let Err(e) = writable(&output) {
                write_err(&format!("toy: cannot write {output}: {e}\n"));
                return 2;
            }
            match toy::timeline::render_file(std::path::Path::new(&trace), std::path::Path::new(&output)) {
                Ok(summary) => {
                    write_out(&format!("{summary}\n"));
                    0
                }
                Err(message) => {
                    write_err(&format!("toy: {message}\n"));
                    2
                }
            }
        }
        Some(Command::Compare {
            policies,
            runs,
            svg,
            child,
            mut words,
        }) => {
            let child = match child.with_top(&top, "compare") {
                Ok(child) => child,
                Err(message) => return usage_error(&message),
            };
            let file = words.remove(0);
            compare(policies, runs, svg, child.to_args(), file, words)
        }
        Some(Command::Explore {
            runs,
            child,
            timeout,
            mut words,
        }) => {
            let child = match child.with_top(&top, "explore") {
                Ok(child) => child,
                Err(message) => return usage_error(&message),
            };
            let file = words.remove(0);
            explore(runs, child.to_args(), Duration::from_secs_f64(timeout), file, words)
        }
        Some(Command::Disasm { file }) => finish(read(&file).and_then(|(name, src)| {
            let text = Interpreter::new().disassemble(&name, &src)?;
            write_out(&text);
            Ok(())
        })),
    }
}

/// Reports bad usage found after parsing; exit code 2, as for what clap refuses.
fn usage_error(message: &str) -> i32 {
    write_err(&format!("{message}\n"));
    2
}

/// `toy compare`: the table on stdout, progress on stderr; exit 2 for bad usage, 1 if a
/// run failed.
fn compare(
    policies: Option<String>,
    runs: u32,
    svg: Option<String>,
    run_options: Vec<String>,
    file: String,
    args: Vec<String>,
) -> i32 {
    let policies = match policies.as_deref().map(toy::comparison::parse_policies) {
        None => Policy::COMPARED.to_vec(),
        Some(Ok(list)) => list,
        Some(Err(e)) => {
            write_err(&format!("toy compare: --policies: {e}\n"));
            return 2;
        }
    };
    if let Some(path) = &svg
        && let Err(e) = writable(path)
    {
        write_err(&format!("toy: cannot write {path}: {e}\n"));
        return 2;
    }
    let toy = match child_runner("compare", &file) {
        Ok(toy) => toy,
        Err(code) => return code,
    };
    let options = toy::comparison::Options {
        toy,
        policies,
        runs: runs as usize,
        run_options,
        file,
        args,
    };
    let result = toy::comparison::compare(&options, &mut |line| write_err(&format!("compare: {line}\n")));
    match result {
        Ok(comparison) => {
            write_out(&comparison.to_string());
            if let Some(path) = svg {
                if let Err(e) = std::fs::write(&path, comparison.svg()) {
                    write_err(&format!("toy: cannot write {path}: {e}\n"));
                    return 1;
                }
                write_err(&format!("compare: wrote {path}\n"));
            }
            0
        }
        Err(message) => {
            write_err(&format!("toy compare: {message}\n"));
            1
        }
    }
}

/// Options given after `run` win over the same options given before it.
fn merge(top: RunOptions, run: RunOptions) -> RunOptions {
    RunOptions {
        gil_policy: run.gil_policy.or(top.gil_policy),
        switch_interval: run.switch_interval.or(top.switch_interval),
        check_interval: run.check_interval.or(top.check_interval),
        gil_seed: run.gil_seed.or(top.gil_seed),
        gil_stats: run.gil_stats || top.gil_stats,
        gil_trace: run.gil_trace.or(top.gil_trace),
        gil_stats_json: run.gil_stats_json.or(top.gil_stats_json),
        native_holds_gil: run.native_holds_gil || top.native_holds_gil,
        gil_cpu: run.gil_cpu.or(top.gil_cpu),
        max_memory: run.max_memory.or(top.max_memory),
    }
}

fn interpreter(options: &RunOptions, argv: Vec<String>) -> Interpreter {
    let mut builder = Interpreter::builder()
        .argv(argv)
        .gil_stats(options.gil_stats)
        .native_holds_gil(options.native_holds_gil)
        .report_at_once(true);
    if let Some(p) = options.gil_policy {
        builder = builder.policy(p);
    }
    if let Some(d) = options.switch_interval {
        builder = builder.switch_interval(d);
    }
    if let Some(seed) = options.gil_seed {
        builder = builder.gil_seed(seed);
    }
    if let Some(n) = options.check_interval {
        builder = builder.check_interval(n);
    }
    if let Some(path) = &options.gil_trace {
        builder = builder.gil_trace(path);
    }
    if let Some(path) = &options.gil_stats_json {
        builder = builder.gil_stats_json(path);
    }
    if let Some(follow) = options.gil_cpu {
        builder = builder.follow_cpu(follow);
    }
    if let Some(bytes) = options.max_memory {
        builder = builder.max_memory(bytes);
    }
    let interp = builder.build();
    // First Ctrl-C: Interrupt in the main thread, wherever it is. A second one before that
    // happens (a stuck builtin never sees it) ends the process with 130, flushed.
    if let Err(e) = interp.handle_ctrl_c() {
        write_err(&format!("toy: Ctrl-C will not interrupt scripts: {e}\n"));
    }
    interp
}

/// The file name that means standard input.
const STDIN: &str = "-";

/// The script's name in messages and its text: `-` is standard input, named `<stdin>`.
fn read(file: &str) -> Result<(String, String), RunError> {
    if file != STDIN {
        return toy::read_source(file).map(|source| (file.to_string(), source));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
        .map_err(|e| RunError::Compile(format!("toy: cannot read standard input: {e}\n")))?;
    let source = String::from_utf8(bytes)
        .map_err(|_| RunError::Compile("toy: <stdin>: the script is not valid UTF-8\n".into()))?;
    Ok(("<stdin>".to_string(), source))
}

/// Output files are checked before anything runs: a script must not run for an hour and
/// then find that its trace cannot be written. Exit code 2 (bad usage) if one cannot be.
fn check_outputs(options: &RunOptions) -> Result<(), i32> {
    if let Some(path) = &options.gil_trace
        && let Err(e) = writable(path)
    {
        write_err(&format!("toy: cannot write the GIL trace to {path}: {e}\n"));
        return Err(2);
    }
    Ok(())
}

/// Whether `path` can be written, found out by opening it for writing (creating it if it
/// does not exist, keeping its contents if it does); the reason if not.
fn writable(path: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
        .map_err(|e| {
            // The OS's words without Rust's "(os error N)".
            let text = e.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_string()
        })
}

fn run(options: &RunOptions, file: &str, args: Vec<String>) -> i32 {
    if let Err(code) = check_outputs(options) {
        return code;
    }
    let mut interp = interpreter(options, args);
    let result = read(file).and_then(|(name, src)| interp.run_source(&name, &src));
    interp.flush();
    let code = finish(result);
    match interp.finish_telemetry() {
        Ok(()) => code,
        Err(e) => {
            write_err(&format!("{e}\n"));
            code.max(1)
        }
    }
}

fn finish(result: Result<(), RunError>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(RunError::Exit(code)) => code,
        // Ctrl-C while waiting for threads at the end: exit 130, quietly, as shells do.
        Err(RunError::Interrupted) => 130,
        Err(e) => {
            // Empty when the error was reported as it happened (`report_at_once`).
            let text = e.to_string();
            if !text.is_empty() {
                write_err(&format!("{text}\n"));
            }
            e.exit_code()
        }
    }
}

/// Writes to standard output. A closed pipe ends toy as it ends a Unix tool: quietly, with
/// exit code 141 (128 + SIGPIPE), as the library does for `print`.
pub fn write_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    exit_if_closed(out.write_all(text.as_bytes()).and_then(|()| out.flush()));
}

/// Writes to standard error, with the same rule for a closed pipe as [`write_out`].
pub fn write_err(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    exit_if_closed(err.write_all(text.as_bytes()).and_then(|()| err.flush()));
}

fn exit_if_closed(written: std::io::Result<()>) {
    if let Err(e) = written
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(141);
    }
}
