//! `Interpreter`: the embedding API's entry point, and what the command line drives —
//! compile source text, run it, and turn the outcome into a result a host can act on.
//!
//! Invariant: nothing here panics on bad input; every way a run can end is a `RunError`
//! variant with the text a user should see and the exit code LANGUAGE.md §12 assigns.

#![warn(missing_docs)]

use crate::bytecode::Proto;
use crate::compiler::Mode;
use crate::disasm::disassemble;
use crate::embed::{FromToy, NativeCx, NativeError, Value as HostValue};
use crate::error::Diagnostic;
use crate::family::{Family, Telemetry};
use crate::gil::{CustomPolicy, Gil, GilConfig, GilStats, PolicyKind, ReleasePolicy, ThreadId};
use crate::object::{Obj, TbEntry};
use crate::output::{Buffering, Output, OutputBuffer};
use crate::value::{MapKey, Value};
use crate::vm::{BREAK_INTERRUPT, BuiltinFn, Fiber, Interp, Recipe, StackFloor, Thrown, Vm};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// How a run ended, when it did not end well.
#[derive(Debug, Clone, PartialEq)]
pub enum RunError {
    /// A syntax or name error found before anything ran: the rendered diagnostic.
    Compile(String),
    /// An uncaught runtime error: the rendered traceback and error line.
    Runtime(String),
    /// `exit(code)` was called.
    Exit(i32),
    /// The run used up its instruction limit ([`Builder::instruction_limit`]): the
    /// traceback of where it was and the error line.
    Limit(String),
    /// Ctrl-C while the program waited for its threads or child processes to finish (after
    /// the main script had ended): exit code 130, nothing more to report.
    Interrupted,
}

impl RunError {
    /// The process exit code LANGUAGE.md assigns to this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Compile(_) => 2,
            RunError::Runtime(_) | RunError::Limit(_) => 1,
            RunError::Exit(code) => *code,
            RunError::Interrupted => 130,
        }
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Compile(s) | RunError::Runtime(s) | RunError::Limit(s) => f.write_str(s.trim_end()),
            RunError::Exit(code) => write!(f, "exit({code})"),
            RunError::Interrupted => f.write_str("interrupted by Ctrl-C"),
        }
    }
}

impl std::error::Error for RunError {}

/// Host functions' names must be identifiers that are not keywords.
fn check_name(name: &str) -> Result<(), RunError> {
    let ok = crate::lexer::is_identifier(name);
    if ok {
        Ok(())
    } else {
        Err(RunError::Compile(format!(
            "toy: '{name}' is not a valid function name\n"
        )))
    }
}

/// Wraps a host function as a builtin: errors become thrown toy errors whose traceback
/// ends in `<native> in NAME`, and a panic becomes an `Error` instead of a crash.
fn host_function<F>(name: &str, f: F) -> BuiltinFn
where
    F: for<'c> Fn(&mut NativeCx<'_, '_, 'c>, &[HostValue<'c>]) -> Result<HostValue<'c>, NativeError>
        + Send
        + Sync
        + 'static,
{
    let name: Rc<str> = name.into();
    BuiltinFn::Host(Rc::new(move |vm: &mut Vm, args: &[Value]| {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut cx = NativeCx::new(vm, &name);
            // SAFETY: `HostValue` is `#[repr(transparent)]` over the VM's `Value` (its
            // other field is a zero-sized brand), so `[Value]` and `[HostValue]` have one
            // layout; the branded slice borrows `args` and lives no longer than it.
            let branded = unsafe { std::slice::from_raw_parts(args.as_ptr().cast::<HostValue>(), args.len()) };
            f(&mut cx, branded).map(HostValue::into_raw)
        }));
        let error = match outcome {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                NativeError::new("Error", format!("native function {name}() panicked: {what}"))
            }
        };
        let mut thrown = crate::embed::throw(vm, error);
        let tb = vm.traceback().with(TbEntry {
            file: "<native>".into(),
            line: 0,
            func: name.clone(),
        });
        if let Value::Obj(id) = thrown.value
            && let Obj::Error(e) = vm.it.heap.get_mut(id)
        {
            e.traceback = tb.clone();
        }
        thrown.traceback = tb;
        thrown.traced = true;
        Err(thrown)
    }))
}

/// Interrupts an interpreter's main thread, as Ctrl-C does: `Send + Sync`, cheap to clone,
/// and safe to use in a signal handler (it only sets a bit).
#[derive(Clone)]
pub struct InterruptHandle(Arc<AtomicU32>);

impl InterruptHandle {
    /// Asks the main thread to throw `Interrupt`. Returns true if an interrupt was already
    /// pending (the program has not reached a check point since the last one).
    pub fn interrupt(&self) -> bool {
        self.0.fetch_or(BREAK_INTERRUPT, Ordering::SeqCst) & BREAK_INTERRUPT != 0
    }
}

/// Whether `source` is an unfinished entry — an open bracket or string, a trailing
/// operator — that a prompt should let the user continue on the next line.
pub fn is_incomplete(source: &str) -> bool {
    crate::parser::is_incomplete(source)
}

/// Settings for a new interpreter.
pub struct Builder {
    out: Option<Output>,
    recursion_limit: usize,
    argv: Vec<String>,
    gil: GilConfig,
    print_stats: bool,
    stats_json_path: Option<PathBuf>,
    trace_path: Option<PathBuf>,
    native_holds_gil: bool,
    report_at_once: bool,
    max_memory: Option<usize>,
    instruction_limit: Option<u64>,
}

impl Builder {
    /// Ends a run after about `n` bytecode instructions: the run stops with
    /// [`RunError::Limit`], and no `catch` in the script can stop it. Each run
    /// (`run_source`, `run_file`, `eval`, a prompt entry) starts with `n`, spent by all the
    /// threads running meanwhile and charged in slices of some thousands, so a run may go
    /// a slice past `n`. The limit bounds work, not time: a thread waiting (in `join`, on
    /// a queue, in `sleep`) spends nothing. Work inside one instruction counts too: one
    /// instruction can build a list of a million items or scan one, so every 64 bytes
    /// allocated, copied or scanned (four list items) count as one instruction, and a sort
    /// of n items about n log2 n / 4. For running untrusted or generated scripts (fuzzing)
    /// with a bound on their work. With no limit (the default) the eval loop has no
    /// counting at all.
    ///
    /// ```
    /// let mut toy = toy::Interpreter::builder().instruction_limit(100_000).build();
    /// let source = "let n = 0\nwhile true { try { n += 1 } catch e { print(\"caught\") } }";
    /// match toy.run_source("spin.toy", source) {
    ///     Err(toy::RunError::Limit(text)) => {
    ///         assert!(text.contains("LimitError: the instruction limit of 100000 was reached"))
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn instruction_limit(mut self, n: u64) -> Builder {
        self.instruction_limit = Some(n);
        self
    }

    /// Limits the heap to `bytes`: the objects, their list and map buffers and their string
    /// data, as the heap accounts for them. An allocation that would pass the limit first
    /// runs the collector, then throws `MemoryError` (catchable, like any error) if the live
    /// data still leave no room. `--max-memory` on the command line. Default: no limit
    /// beyond what the system grants (a refused allocation is a `MemoryError` too).
    ///
    /// ```
    /// let mut toy = toy::Interpreter::builder().max_memory(32 << 20).build();
    /// let source = "
    /// let kind = nil
    /// try { let big = [0] * 10_000_000 } catch e { kind = e.kind }   # 160 MB: refused
    /// let small = [0] * 100_000                                      # 1.6 MB: fine
    /// kind + \" \" + str(len(small))";
    /// assert_eq!(toy.eval::<String>(source).unwrap(), "MemoryError 100000");
    /// ```
    pub fn max_memory(mut self, bytes: usize) -> Builder {
        self.max_memory = Some(bytes);
        self
    }

    /// Keep the GIL held during host functions' `release_gil` work
    /// (`--native-holds-gil`), to measure what releasing it buys.
    pub fn native_holds_gil(mut self, hold: bool) -> Builder {
        self.native_holds_gil = hold;
        self
    }

    /// Where `print` writes (standard output by default). The writer receives each line
    /// as it is printed, from the printing thread with the GIL released, one line at a
    /// time and in the order the prints ran.
    pub fn output(mut self, out: Output) -> Builder {
        self.out = Some(out);
        self
    }

    /// The deepest call nesting before `RecursionError` (default 10,000).
    pub fn recursion_limit(mut self, frames: usize) -> Builder {
        self.recursion_limit = frames.max(1);
        self
    }

    /// What `argv()` returns.
    pub fn argv(mut self, args: Vec<String>) -> Builder {
        self.argv = args;
        self
    }

    /// One of the built-in GIL policies (default `interval`); replaces a
    /// [`policy_impl`](Builder::policy_impl) given before.
    pub fn policy(mut self, policy: PolicyKind) -> Builder {
        self.gil.policy = policy;
        self.gil.custom_policy = None;
        self
    }

    /// A GIL policy of the host's own (see [`ReleasePolicy`] for the questions it answers
    /// and an example); replaces a built-in [`policy`](Builder::policy). The value is
    /// cloned for the lock, and a forked child starts from a fresh clone of it. Scripts
    /// see its name in `gil_policy()`, and it gets the same statistics, traces and
    /// timelines as the built-in policies.
    pub fn policy_impl<P: ReleasePolicy + Clone + Sync>(mut self, policy: P) -> Builder {
        self.gil.custom_policy = Some(CustomPolicy::new(policy));
        self
    }

    /// How long a waiting thread lets the holder run before asking it to drop (5 ms).
    pub fn switch_interval(mut self, interval: Duration) -> Builder {
        self.gil.switch_interval = interval;
        self
    }

    /// The `random` scheduler's seed (default 1; `--gil-seed`): the same seed repeats the
    /// same run, for programs whose threads meet only through bytecode, `print` and the
    /// program's own locks, queues and the like. Other policies ignore it.
    pub fn gil_seed(mut self, seed: u64) -> Builder {
        self.gil.seed = seed;
        self
    }

    /// Instructions between drops under the `ticks` policy (100).
    pub fn check_interval(mut self, instructions: u32) -> Builder {
        self.gil.check_interval = instructions.max(1);
        self
    }

    /// Whether a thread taking the GIL from a holder that dropped at a check point moves
    /// to that holder's CPU (default true; `--gil-cpu follow|any`). See the GIL's docs,
    /// "Where the holder runs".
    pub fn follow_cpu(mut self, follow: bool) -> Builder {
        self.gil.follow_cpu = follow;
        self
    }

    /// Write the main thread's uncaught error to stderr as soon as it ends the script,
    /// before waiting for the threads still running (as Python does, and as the command
    /// line does): a script whose server thread never ends still shows why `<main>`
    /// stopped. The `RunError` that `run_source` returns then holds only what came
    /// after (the other threads' reports), and may be empty.
    pub fn report_at_once(mut self, on: bool) -> Builder {
        self.report_at_once = on;
        self
    }

    /// Print the per-thread GIL table to stderr when the script ends.
    pub fn gil_stats(mut self, on: bool) -> Builder {
        self.print_stats = on;
        self
    }

    /// Write the GIL's statistics as JSON ([`GilStats::to_json`]) to `path` when the script
    /// ends (at [`Interpreter::finish_telemetry`]): numbers for tools, where `gil_stats`
    /// prints a table for people.
    pub fn gil_stats_json(mut self, path: impl Into<PathBuf>) -> Builder {
        self.stats_json_path = Some(path.into());
        self
    }

    /// Record the GIL's timeline and write it as Chrome trace-event JSON to `path` at exit.
    pub fn gil_trace(mut self, path: impl Into<PathBuf>) -> Builder {
        self.gil.trace = true;
        self.trace_path = Some(path.into());
        self
    }

    /// The interpreter, with the builtins and the `native` module installed.
    pub fn build(self) -> Interpreter {
        // A host's own writer sees each line as it is printed.
        let output = match self.out {
            Some(writer) => OutputBuffer::new(writer, Buffering::Line),
            None => OutputBuffer::stdout(),
        };
        let hosts: Hosts = Arc::new(parking_lot::Mutex::new(Vec::new()));
        for (name, f) in crate::native::FUNCTIONS {
            hosts.lock().push(HostEntry {
                module: Some(crate::native::MODULE.into()),
                name: (*name).into(),
                f: Arc::new(*f),
            });
        }
        let settings = Settings {
            recursion_limit: self.recursion_limit,
            argv: self.argv,
            native_holds_gil: self.native_holds_gil,
            max_memory: self.max_memory,
            instruction_limit: self.instruction_limit,
            hosts: hosts.clone(),
        };
        let gil = build_gil(&settings, self.gil, output);
        let family = Family::new(
            Arc::downgrade(&gil) as std::sync::Weak<dyn Telemetry>,
            gil.created(),
            gil.eval_breaker_handle(),
            self.trace_path.is_some(),
        );
        let main = gil.register_thread();
        gil.acquire(main).family = Some(family.clone());
        Interpreter {
            gil,
            main,
            fiber: Fiber::default(),
            print_stats: self.print_stats,
            stats_json_path: self.stats_json_path,
            trace_path: self.trace_path,
            report_at_once: self.report_at_once,
            family,
            hosts,
        }
    }
}

/// A host function as the recipe keeps it, to install it again in every interpreter that
/// `spawn_interpreter` makes.
type HostFn = Arc<
    dyn for<'c> Fn(&mut NativeCx<'_, '_, 'c>, &[HostValue<'c>]) -> Result<HostValue<'c>, NativeError> + Send + Sync,
>;

struct HostEntry {
    module: Option<String>,
    name: String,
    f: HostFn,
}

/// The host functions registered so far, in order (so every interpreter made from the
/// recipe has the same function table).
type Hosts = Arc<parking_lot::Mutex<Vec<HostEntry>>>;

/// What every interpreter of one family is built with, besides its lock settings and
/// output: `Send + Sync`, so `spawn_interpreter` can take it to the new thread.
#[derive(Clone)]
struct Settings {
    recursion_limit: usize,
    argv: Vec<String>,
    native_holds_gil: bool,
    /// Each interpreter's own heap limit (`Builder::max_memory`).
    max_memory: Option<usize>,
    instruction_limit: Option<u64>,
    hosts: Hosts,
}

/// Builds a fresh interpreter state from `settings` behind a new lock: the builtins, the
/// host functions, and the recipe for making more like it.
fn build_gil(settings: &Settings, config: GilConfig, output: OutputBuffer) -> Arc<Gil<Interp>> {
    let mut state = Interp::new(output, Arc::new(AtomicU32::new(0)));
    crate::builtins::install(&mut state);
    state.recursion_limit = settings.recursion_limit;
    state.argv = settings.argv.clone();
    state.native_holds_gil = settings.native_holds_gil;
    state.heap.set_max_bytes(settings.max_memory);
    state.instruction_limit = settings.instruction_limit;
    for host in settings.hosts.lock().iter() {
        let f = host.f.clone();
        // Names were checked when first registered.
        let _ = install_host(&mut state, host.module.as_deref(), &host.name, move |cx, args| {
            f(cx, args)
        });
    }
    let again = settings.clone();
    let recipe: Recipe = Arc::new(move |config, output| build_gil(&again, config, output));
    state.recipe = Some(recipe);
    let mut config = config;
    // The lock charges waits to the VM's numbers for lines; these are their names.
    config.location_names = Some(state.locations.names());
    Arc::new_cyclic(|weak| {
        // SAFETY: `Interp` is `!Send` on purpose (its values must not leave the GIL),
        // and this is the one place that vouches for sharing it: every `!Send` part of
        // it (values, `Rc`s in the heap and in compiled code) is reached only through a
        // `GilGuard`; the VM keeps a thread's fiber inside the guarded state whenever
        // it releases the GIL, and the closures it runs without the GIL are `Send` and
        // capture no values. An interpreter made for `spawn_interpreter` is built here
        // on its own thread and shares nothing `!Send` with the one that spawned it.
        let mut gil = unsafe { Gil::new_unchecked(state, config) };
        let breaker = gil.eval_breaker_handle();
        let st = gil.get_mut();
        st.heap.breaker = breaker;
        st.gil = weak.clone();
        gil
    })
}

/// Binds host function `f` as `name`, or as `module.name` in the global map `module`.
fn install_host<F>(st: &mut Interp, module: Option<&str>, name: &str, f: F) -> Result<(), RunError>
where
    F: for<'c> Fn(&mut NativeCx<'_, '_, 'c>, &[HostValue<'c>]) -> Result<HostValue<'c>, NativeError>
        + Send
        + Sync
        + 'static,
{
    let Some(module) = module else {
        st.register(name, host_function(name, f));
        return Ok(());
    };
    let full = format!("{module}.{name}");
    let wrapped = host_function(&full, f);
    let function = st.register_hidden(&full, wrapped);
    let g = st
        .globals
        .declare_builtin(module)
        .ok_or_else(|| RunError::Compile("toy: too many globals\n".into()))?;
    let table = match st.globals.values[g as usize] {
        Value::Map(id) => id,
        Value::Undef => {
            let Value::Map(id) = st.heap.new_map(Default::default()) else {
                unreachable!("new_map makes a map")
            };
            st.heap.pin(id);
            st.globals.values[g as usize] = Value::Map(id);
            id
        }
        _ => {
            return Err(RunError::Compile(format!(
                "toy: the global '{module}' is not a module (a map)\n"
            )));
        }
    };
    st.heap.map_mut(table).insert(MapKey::Str(name.into()), function);
    Ok(())
}

/// One toy interpreter: a heap, globals and a GIL, shared by every thread its scripts start.
///
/// ```
/// use std::time::Duration;
/// let mut toy = toy::Interpreter::builder()
///     .policy(toy::Policy::Priority)
///     .switch_interval(Duration::from_millis(1))
///     .build();
/// toy.run_source("hello.toy", "let greeting = \"hi\"").unwrap();
/// assert_eq!(toy.eval::<String>("greeting + \"!\"").unwrap(), "hi!");
/// assert!(toy.gil_stats().acquisitions >= 2);
/// ```
pub struct Interpreter {
    gil: Arc<Gil<Interp>>,
    /// The thread that created the interpreter runs scripts as toy thread 1.
    main: ThreadId,
    /// The main thread's fiber, kept between `run_source` calls (the prompt's entries).
    fiber: Fiber,
    print_stats: bool,
    stats_json_path: Option<PathBuf>,
    trace_path: Option<PathBuf>,
    report_at_once: bool,
    /// This interpreter and every one it spawns (for telemetry and Ctrl-C).
    family: Arc<Family>,
    /// The host functions, for the interpreters it spawns.
    hosts: Hosts,
}

impl Interpreter {
    /// Settings for a new interpreter; `.build()` makes it.
    pub fn builder() -> Builder {
        Builder {
            out: None,
            recursion_limit: 10_000,
            argv: Vec::new(),
            gil: GilConfig::default(),
            print_stats: false,
            stats_json_path: None,
            report_at_once: false,
            trace_path: None,
            native_holds_gil: false,
            max_memory: None,
            instruction_limit: None,
        }
    }

    /// An interpreter with the default settings (policy `interval`, 5 ms).
    pub fn new() -> Interpreter {
        Interpreter::builder().build()
    }

    /// Parses and compiles `source` (named `file` in messages) without running it
    /// (`toy check`). Its global declarations stay declared, as at the prompt.
    ///
    /// ```
    /// let mut toy = toy::Interpreter::new();
    /// assert!(toy.check("ok.toy", "let x = 1").is_ok());
    /// let err = toy.check("bad.toy", "let = 1").unwrap_err();
    /// assert_eq!(err.exit_code(), 2);
    /// ```
    pub fn check(&mut self, file: &str, source: &str) -> Result<(), RunError> {
        self.compile(file, source).map(|_| ())
    }

    fn compile(&mut self, file: &str, source: &str) -> Result<Rc<Proto>, RunError> {
        self.compile_with(file, source, Mode::Script)
    }

    fn compile_with(&mut self, file: &str, source: &str, mode: Mode) -> Result<Rc<Proto>, RunError> {
        let render = |d: Diagnostic| RunError::Compile(d.render(file, source));
        let program = crate::parser::parse(source).map_err(render)?;
        let mut guard = self.gil.acquire(self.main);
        let st = &mut *guard;
        let mode = match (mode, st.repl_print) {
            (Mode::Repl(_), Some(echo)) => Mode::Repl(echo),
            (Mode::Repl(_), None) => Mode::Script,
            (other, _) => other,
        };
        let Interp {
            heap, globals, modules, ..
        } = st;
        let mut loader = crate::modules::Loader::new(modules, file);
        crate::compiler::compile(&program, file, source, heap, globals, &mut loader, mode).map_err(render)
    }

    /// Evaluates `source` — statements, then a final expression — and converts the final
    /// expression's value into `T` (`i64`, `f64`, `bool`, `String`, `Vec<T>`,
    /// `HashMap<String, T>`, or [`Data`](crate::Data) for anything).
    ///
    /// ```
    /// let mut toy = toy::Interpreter::new();
    /// let n: i64 = toy.eval("let x = 20\nx * 2 + 2").unwrap();
    /// assert_eq!(n, 42);
    /// let words: Vec<String> = toy.eval("\"a b c\".split()").unwrap();
    /// assert_eq!(words, ["a", "b", "c"]);
    /// let wrong = toy.eval::<i64>("\"text\"").unwrap_err();
    /// assert!(wrong.to_string().contains("expected an int, got str"));
    /// ```
    pub fn eval<T: FromToy>(&mut self, source: &str) -> Result<T, RunError> {
        let proto = self.compile_with("<eval>", source, Mode::Eval)?;
        let mut vm = Vm::new(self.gil.acquire(self.main));
        vm.stack_floor = host_stack_floor();
        vm.it.instructions_left = vm.it.instruction_limit;
        vm.fiber = std::mem::take(&mut self.fiber);
        let result = vm.run_main(proto);
        let outcome = match result {
            Ok(v) => T::from_toy(&vm.it.heap, v).map_err(|e| RunError::Runtime(format!("TypeError: eval(): {e}\n"))),
            Err(t) => Err(uncaught(&vm, &t)),
        };
        vm.fiber.reset();
        vm.flush_output();
        self.fiber = std::mem::take(&mut vm.fiber);
        outcome
    }

    /// Adds a host function callable from scripts as `name(args...)`. It receives a
    /// [`NativeCx`] (to copy arguments out, work without the GIL, and build its result)
    /// and the arguments; an `Err` is thrown in the script as a toy error of that kind,
    /// with the function's name in the traceback; a panic becomes a toy error too.
    ///
    /// ```
    /// use toy::Interpreter;
    /// let mut toy = Interpreter::new();
    /// toy.register("total", |cx, args| {
    ///     let xs: Vec<f64> = cx.arg(args, 0)?;                 // copied out under the GIL
    ///     let sum = cx.release_gil(move || xs.iter().sum::<f64>()); // other threads run meanwhile
    ///     cx.to_value(sum)                                      // back in, under the GIL
    /// }).unwrap();
    /// assert_eq!(toy.eval::<f64>("total([1, 2.5, 3])").unwrap(), 6.5);
    /// let err = toy.eval::<f64>("total(\"x\")").unwrap_err().to_string();
    /// assert!(err.contains("TypeError: total() argument 1: expected a list, got str"), "{err}");
    /// assert!(err.contains("<native> in total"), "{err}");
    /// ```
    pub fn register<F>(&mut self, name: &str, f: F) -> Result<(), RunError>
    where
        F: for<'c> Fn(&mut NativeCx<'_, '_, 'c>, &[HostValue<'c>]) -> Result<HostValue<'c>, NativeError>
            + Send
            + Sync
            + 'static,
    {
        check_name(name)?;
        self.register_host(None, name, Arc::new(f))
    }

    /// Like [`register`](Interpreter::register), but the function lives in the global map
    /// `module` (created if needed) and scripts call it as `module.name(args...)`.
    pub fn register_in<F>(&mut self, module: &str, name: &str, f: F) -> Result<(), RunError>
    where
        F: for<'c> Fn(&mut NativeCx<'_, '_, 'c>, &[HostValue<'c>]) -> Result<HostValue<'c>, NativeError>
            + Send
            + Sync
            + 'static,
    {
        check_name(module)?;
        check_name(name)?;
        self.register_host(Some(module), name, Arc::new(f))
    }

    /// Installs a host function here and keeps it for the interpreters spawned from now on.
    fn register_host(&mut self, module: Option<&str>, name: &str, f: HostFn) -> Result<(), RunError> {
        let mut guard = self.gil.acquire(self.main);
        let call = f.clone();
        install_host(&mut guard, module, name, move |cx, args| call(cx, args))?;
        self.hosts.lock().push(HostEntry {
            module: module.map(String::from),
            name: name.into(),
            f,
        });
        Ok(())
    }

    /// The bytecode of `source` as text.
    pub fn disassemble(&mut self, file: &str, source: &str) -> Result<String, RunError> {
        let proto = self.compile(file, source)?;
        let guard = self.gil.acquire(self.main);
        let mut text = disassemble(&proto, &guard.heap, &guard.globals.names);
        for module in &guard.modules {
            if let Some(main) = &module.main {
                text.push_str(&format!("\n;; module {} ({})\n", module.name, main.file));
                text.push_str(&disassemble(main, &guard.heap, &guard.globals.names));
            }
        }
        Ok(text)
    }

    /// Runs a whole script; returns when it and every thread it started have finished.
    pub fn run_source(&mut self, file: &str, source: &str) -> Result<(), RunError> {
        let proto = self.compile(file, source)?;
        self.run_proto(proto, true)
    }

    /// Runs one entry of the interactive prompt: expression statements echo their value.
    /// Threads it started keep running in the background.
    pub fn run_repl_entry(&mut self, source: &str) -> Result<(), RunError> {
        let proto = self.compile_with("<stdin>", source, Mode::Repl(Value::Nil))?;
        self.run_proto(proto, false)
    }

    /// Reads and runs a script file.
    pub fn run_file(&mut self, path: &str) -> Result<(), RunError> {
        let source = read_source(path)?;
        self.run_source(path, &source)
    }

    fn run_proto(&mut self, proto: Rc<Proto>, wait_for_threads: bool) -> Result<(), RunError> {
        let mut vm = Vm::new(self.gil.acquire(self.main));
        vm.stack_floor = host_stack_floor();
        vm.it.instructions_left = vm.it.instruction_limit;
        vm.fiber = std::mem::take(&mut self.fiber);
        let result = vm.run_main(proto);
        let mut outcome = result.map(|_| ()).map_err(|t| uncaught(&vm, &t));
        vm.fiber.reset();
        if wait_for_threads {
            // A Ctrl-C that arrived while `<main>` was ending was meant for `<main>`: the
            // wait for threads is ended by one pressed while it waits (after `<main>`'s
            // report), so an error that Ctrl-C caused in a child is still reported.
            vm.discard_interrupt();
        }
        // What <main> printed is out before the wait for threads that may run for long.
        vm.flush_output();
        if wait_for_threads
            && self.report_at_once
            && let Err(RunError::Runtime(text)) = &mut outcome
        {
            // Other threads run on meanwhile: stderr may be a pipe that is full.
            let report = std::mem::take(text);
            vm.release(move || crate::output::write_stderr(&report));
        }
        if wait_for_threads {
            let Some(reports) = wait_for_everything(&mut vm) else {
                // A second Ctrl-C: the program ends with the threads still running.
                vm.flush_output();
                self.fiber = std::mem::take(&mut vm.fiber);
                return Err(RunError::Interrupted);
            };
            if !reports.is_empty() {
                let text: String = reports.concat();
                outcome = match outcome {
                    Ok(()) => Err(RunError::Runtime(text)),
                    Err(RunError::Runtime(main)) => Err(RunError::Runtime(main + &text)),
                    Err(other) => {
                        vm.flush_output();
                        crate::output::write_stderr(&text);
                        Err(other)
                    }
                };
            }
        }
        vm.flush_output();
        self.fiber = std::mem::take(&mut vm.fiber);
        outcome
    }

    /// Waits, as the end of a script does, for every thread and child process still
    /// running (the prompt calls it when the session ends). `Err(Runtime)` holds the
    /// reports of failures no `join` observed; `Err(Interrupted)` means Ctrl-C stopped the
    /// wait with them still running.
    pub fn wait_for_threads(&mut self) -> Result<(), RunError> {
        let mut vm = Vm::new(self.gil.acquire(self.main));
        vm.discard_interrupt();
        let waited = wait_for_everything(&mut vm);
        vm.flush_output();
        match waited {
            Some(reports) if reports.is_empty() => Ok(()),
            Some(reports) => Err(RunError::Runtime(reports.concat())),
            None => Err(RunError::Interrupted),
        }
    }

    /// The reports (`Exception in thread N:` and the traceback) of threads that have ended
    /// with an error no `join` has observed, each returned once: it then counts as
    /// reported and is not reported again at the end, though `join` still rethrows it.
    /// The prompt prints them before it shows the next prompt.
    pub fn thread_failures(&mut self) -> Vec<String> {
        let mut vm = Vm::new(self.gil.acquire(self.main));
        crate::threads::take_failures(&mut vm)
    }

    /// Flushes buffered output.
    pub fn flush(&mut self) {
        let mut guard = self.gil.acquire(self.main);
        let chunk = guard.output.take();
        guard.release_while(move || chunk.write());
    }

    /// Makes Ctrl-C (SIGINT) interrupt this interpreter, as the command line does: the main
    /// thread throws `Interrupt` at its next check point or wherever it is blocked; a second
    /// Ctrl-C before the first was delivered ends the process with exit code 130, after
    /// flushing what was printed and writing the `--gil-trace` file. Forked children get
    /// `Interrupt` from Ctrl-C the same way. Call it again after other code took SIGINT
    /// (a line editor); the last interpreter to call it owns Ctrl-C for the process.
    pub fn handle_ctrl_c(&self) -> std::io::Result<()> {
        crate::process::ctrl_c::install(self.gil.clone(), self.trace_path.clone(), Some(self.family.clone()))
    }

    /// A handle that interrupts this interpreter from any thread or a signal handler (how
    /// Ctrl-C reaches it): the main thread throws `Interrupt` at its next check point or
    /// blocking wait.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle(self.gil.eval_breaker_handle())
    }

    /// The GIL's counters so far.
    pub fn gil_stats(&self) -> GilStats {
        self.gil.stats()
    }

    /// Prints `--gil-stats`, writes the statistics' JSON and `--gil-trace`, as configured;
    /// call at exit. With interpreters spawned, every interpreter's table follows the main
    /// one's, and the trace holds one process per interpreter; the JSON (for `toy compare`)
    /// is the main interpreter's.
    pub fn finish_telemetry(&mut self) -> Result<(), RunError> {
        if self.print_stats {
            crate::output::write_stderr(&self.family.stats_text());
        }
        if let Some(path) = &self.stats_json_path {
            std::fs::write(path, self.gil.stats().to_json()).map_err(|e| {
                RunError::Runtime(format!(
                    "toy: cannot write the GIL statistics to {}: {}\n",
                    path.display(),
                    crate::os_error::io_message(&e)
                ))
            })?;
        }
        if let Some(path) = &self.trace_path {
            self.family.write_trace(path).map_err(|e| {
                RunError::Runtime(format!(
                    "toy: cannot write the GIL trace to {}: {}\n",
                    path.display(),
                    crate::os_error::io_message(&e)
                ))
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
impl Interpreter {
    /// Runs `f` on the main thread's VM, for unit tests of the layers below.
    pub(crate) fn with_vm<R>(&mut self, f: impl FnOnce(&mut Vm) -> R) -> R {
        let mut vm = Vm::new(self.gil.acquire(self.main));
        f(&mut vm)
    }
}

impl Default for Interpreter {
    fn default() -> Self {
        Interpreter::new()
    }
}

/// Waits for every thread, then every child process; their failure reports, or `None` if
/// Ctrl-C stopped the wait.
fn wait_for_everything(vm: &mut Vm) -> Option<Vec<String>> {
    let mut reports = crate::threads::wait_all(vm).ok()?;
    reports.extend(crate::process::wait_all(vm).ok()?);
    reports.extend(crate::interpreters::wait_all(vm).ok()?);
    Some(reports)
}

fn uncaught(vm: &Vm, t: &Thrown) -> RunError {
    match t.exit {
        Some(code) => RunError::Exit(code),
        None if t.limit || vm.it.instructions_left == Some(0) => RunError::Limit(vm.format_uncaught(t)),
        None => RunError::Runtime(vm.format_uncaught(t)),
    }
}

/// The floor of the calling thread's stack, wherever the host runs the interpreter (its
/// main thread, a thread of its own of any size); unknown if the system does not say.
fn host_stack_floor() -> StackFloor {
    // SAFETY: `attr` is initialised by `pthread_getattr_np` before it is read and destroyed
    // once, only after that succeeded; the out-pointers are to live locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return StackFloor::UNKNOWN;
        }
        let mut low: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let found = libc::pthread_attr_getstack(&attr, &mut low, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        if found {
            StackFloor::of(low as usize, size)
        } else {
            StackFloor::UNKNOWN
        }
    }
}

/// Reads a source file, with clear errors for a missing file or text that is not UTF-8.
pub fn read_source(path: &str) -> Result<String, RunError> {
    let bytes = std::fs::read(path).map_err(|e| {
        RunError::Compile(format!(
            "toy: cannot open {path}: {}\n",
            crate::os_error::io_message(&e)
        ))
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let (line, col, _) = crate::error::locate(std::str::from_utf8(&e.as_bytes()[..at]).unwrap_or(""), at);
        RunError::Compile(format!(
            "{path}:{line}:{col}: SyntaxError: source is not valid UTF-8 (byte 0x{:02x})\n",
            e.as_bytes()[at]
        ))
    })
}
