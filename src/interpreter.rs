//! `Interpreter`: the embedding API's entry point, and what the command line drives —
//! compile source text, run it, and turn the outcome into a result a host can act on.
//!
//! Invariant: nothing here panics on bad input; every way a run can end is a `RunError`
//! variant with the text a user should see and the exit code LANGUAGE.md §12 assigns.

use crate::bytecode::{Proto, disassemble};
use crate::error::Diagnostic;
use crate::value::Value;
use crate::vm::{Fiber, Interp, Output, Thrown, Vm};
use std::io::Write;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

/// How a run ended, when it did not end well.
#[derive(Debug, Clone, PartialEq)]
pub enum RunError {
    /// A syntax or name error found before anything ran: the rendered diagnostic.
    Compile(String),
    /// An uncaught runtime error: the rendered traceback and error line.
    Runtime(String),
    /// `exit(code)` was called.
    Exit(i32),
}

impl RunError {
    /// The process exit code LANGUAGE.md assigns to this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Compile(_) => 2,
            RunError::Runtime(_) => 1,
            RunError::Exit(code) => *code,
        }
    }
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Compile(s) | RunError::Runtime(s) => f.write_str(s.trim_end()),
            RunError::Exit(code) => write!(f, "exit({code})"),
        }
    }
}

impl std::error::Error for RunError {}

/// Settings for a new interpreter.
pub struct Builder {
    out: Option<Output>,
    recursion_limit: usize,
    argv: Vec<String>,
}

impl Builder {
    /// Where `print` writes (standard output by default).
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

    pub fn build(self) -> Interpreter {
        let out = self.out.unwrap_or_else(default_output);
        let mut state = Interp::new(out, Arc::new(AtomicU32::new(0)));
        state.recursion_limit = self.recursion_limit;
        state.argv = self.argv;
        Interpreter { state, fiber: Fiber::default() }
    }
}

/// Standard output, line-buffered on a terminal and block-buffered into a pipe (as
/// Python does); flushed at exit, before errors are printed, and before a fork.
pub fn default_output() -> Output {
    use std::io::IsTerminal;
    if std::io::stdout().is_terminal() {
        Box::new(std::io::LineWriter::new(std::io::stdout()))
    } else {
        Box::new(std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()))
    }
}

pub struct Interpreter {
    state: Interp,
    /// The main thread's fiber, kept between `run_source` calls (the prompt's entries).
    fiber: Fiber,
}

impl Interpreter {
    pub fn builder() -> Builder {
        Builder { out: None, recursion_limit: 10_000, argv: Vec::new() }
    }

    pub fn new() -> Interpreter {
        Interpreter::builder().build()
    }

    /// Parses and compiles `source` (named `file` in messages) without running it.
    pub fn compile(&mut self, file: &str, source: &str) -> Result<Rc<Proto>, RunError> {
        self.compile_with(file, source, None)
    }

    fn compile_with(&mut self, file: &str, source: &str, echo: Option<Value>) -> Result<Rc<Proto>, RunError> {
        let render = |d: Diagnostic| RunError::Compile(d.render(file, source));
        let program = crate::parser::parse(source).map_err(render)?;
        let st = &mut self.state;
        crate::compiler::compile(&program, file, source, &mut st.heap, &mut st.globals, echo).map_err(render)
    }

    /// The bytecode of `source` as text.
    pub fn disassemble(&mut self, file: &str, source: &str) -> Result<String, RunError> {
        let proto = self.compile(file, source)?;
        Ok(disassemble(&proto, &self.state.heap, &self.state.globals.names))
    }

    /// Runs a whole script.
    pub fn run_source(&mut self, file: &str, source: &str) -> Result<(), RunError> {
        let proto = self.compile(file, source)?;
        self.run_proto(proto)
    }

    /// Runs one entry of the interactive prompt: expression statements echo their value.
    pub fn run_repl_entry(&mut self, source: &str) -> Result<(), RunError> {
        let echo = self.state.repl_print;
        let proto = self.compile_with("<stdin>", source, echo)?;
        self.run_proto(proto)
    }

    /// Reads and runs a script file.
    pub fn run_file(&mut self, path: &str) -> Result<(), RunError> {
        let source = read_source(path)?;
        self.run_source(path, &source)
    }

    fn run_proto(&mut self, proto: Rc<Proto>) -> Result<(), RunError> {
        let mut vm = Vm::new(&mut self.state);
        vm.fiber = std::mem::take(&mut self.fiber);
        let result = vm.run_main(proto);
        let outcome = result.map(|_| ()).map_err(|t| uncaught(&vm, &t));
        let mut fiber = std::mem::take(&mut vm.fiber);
        fiber.frames.clear();
        self.fiber = fiber;
        let _ = self.state.out.flush();
        outcome
    }

    /// Flushes buffered output.
    pub fn flush(&mut self) {
        let _ = self.state.out.flush();
    }

    /// Sets the eval-breaker bits (for Ctrl-C delivery by the host).
    pub fn breaker(&self) -> Arc<AtomicU32> {
        self.state.heap.breaker.clone()
    }
}

impl Default for Interpreter {
    fn default() -> Self {
        Interpreter::new()
    }
}

fn uncaught(vm: &Vm, t: &Thrown) -> RunError {
    match t.exit {
        Some(code) => RunError::Exit(code),
        None => RunError::Runtime(vm.format_uncaught(t)),
    }
}

/// Reads a source file, with clear errors for a missing file or text that is not UTF-8.
pub fn read_source(path: &str) -> Result<String, RunError> {
    let bytes = std::fs::read(path)
        .map_err(|e| RunError::Compile(format!("toy: cannot open {path}: {}\n", crate::builtins::io_message(&e))))?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let (line, col, _) = crate::error::locate(std::str::from_utf8(&e.as_bytes()[..at]).unwrap_or(""), at);
        RunError::Compile(format!(
            "{path}:{line}:{col}: SyntaxError: source is not valid UTF-8 (byte 0x{:02x})\n",
            e.as_bytes()[at]
        ))
    })
}
