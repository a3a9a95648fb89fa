//! The virtual machine: one eval loop per OS thread, running register bytecode on that
//! thread's `Fiber` (value stack, call frames, try/with handlers).
//!
//! Invariants:
//! - Interpreter state (`Interp`: heap, globals, function table) is reached only through
//!   `Vm::it`, which in a threaded run is the GIL guard.
//! - Every value on a fiber's stack below its extent (the top frame's base + registers)
//!   names a live object; above the extent the collector clears the stack to nil, so a
//!   stale register can never name a freed slot.
//! - Check points are exactly `Loop` and calls of closures: one relaxed load of the eval
//!   breaker on the fast path; collection, Ctrl-C and GIL hand-offs happen only there.
//! - A frame's saved `pc` is the instruction after the one executing, so `pc - 1` gives
//!   the line a traceback shows.

use crate::bytecode::{Capture, Op, Proto};
use crate::compiler::Globals;
use crate::gil::{DROP_REQUEST, Gil, GilGuard, ThreadId};
use crate::heap::{BREAK_GC, Heap};
use crate::object::{Closure, Obj, RangeObj, TbEntry};
use crate::ops;
use crate::output::OutputBuffer;
use crate::value::{ObjId, Value};
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};

/// Eval-breaker bit: Ctrl-C was pressed; the main thread throws `Interrupt`.
pub const BREAK_INTERRUPT: u32 = 4;
// The breaker's bits have three owners: the lock, the heap and the VM.
const _: () = assert!(DROP_REQUEST & BREAK_GC == 0 && (DROP_REQUEST | BREAK_GC) & BREAK_INTERRUPT == 0);

/// A call's arguments, copied off the stack (a builtin may grow the stack meanwhile);
/// inline for the usual handful, so a call allocates nothing.
type Args = smallvec::SmallVec<[Value; 6]>;

/// A value in flight from `throw` (or a runtime error) to the `catch` that takes it.
#[derive(Debug)]
pub struct Thrown {
    pub value: Value,
    pub traceback: Vec<TbEntry>,
    /// Set once the traceback has been taken, at the innermost frame.
    pub traced: bool,
    /// `exit(code)`: unwinds everything, no `catch` stops it.
    pub exit: Option<i32>,
}

pub type VmResult<T> = Result<T, Box<Thrown>>;

/// A function implemented in Rust: the builtins, and host functions registered through
/// the embedding API.
pub type BuiltinFn = Rc<dyn Fn(&mut Vm, &[Value]) -> VmResult<Value>>;

/// Everything the GIL protects: the heap, the globals, the function table, the output.
pub struct Interp {
    pub heap: Heap,
    pub globals: Globals,
    /// Builtin and host functions by `Value::Builtin` index (their names are in
    /// `heap.builtin_names`, where printing finds them).
    pub builtins: Vec<BuiltinFn>,
    /// `print`'s lines not yet written (see output.rs).
    pub output: OutputBuffer,
    pub recursion_limit: usize,
    pub argv: Vec<String>,
    /// The builtin the prompt uses to echo expression values.
    pub repl_print: Option<Value>,
    /// The fibers of threads that are not running bytecode right now (waiting for the
    /// GIL, or blocked with it released): collector roots, by thread id.
    pub parked: Vec<(u32, Fiber)>,
    /// Thread objects whose outcome the program may still ask for: collector roots.
    pub threads: Vec<ObjId>,
    /// Child processes not yet joined: collector roots, waited for at exit.
    pub processes: Vec<ObjId>,
    /// In a child made by `spawn_process`: the channel to the parent.
    pub parent_channel: Option<ObjId>,
    /// While nonzero a builtin's callback is running and collection waits.
    pub gc_inhibit: u32,
    /// `--native-holds-gil`: host functions keep the GIL during `release_gil` work.
    pub native_holds_gil: bool,
    /// The lock that owns this state, for `spawn` to hand to new threads.
    pub gil: Weak<Gil<Interp>>,
}

impl Interp {
    pub fn new(output: OutputBuffer, breaker: Arc<AtomicU32>) -> Interp {
        let mut it = Interp {
            heap: Heap::new(breaker),
            globals: Globals::default(),
            builtins: Vec::new(),
            output,
            recursion_limit: 10_000,
            argv: Vec::new(),
            repl_print: None,
            parked: Vec::new(),
            threads: Vec::new(),
            processes: Vec::new(),
            parent_channel: None,
            gc_inhibit: 0,
            native_holds_gil: false,
            gil: Weak::new(),
        };
        crate::builtins::install(&mut it);
        it
    }

    /// Adds a function to the table and binds it to a global name.
    pub fn register(&mut self, name: &str, f: BuiltinFn) -> Value {
        let v = self.register_hidden(name, f);
        if let Some(g) = self.globals.declare(name) {
            self.globals.values[g as usize] = v;
        }
        v
    }

    /// The lock that owns this state.
    pub fn shared_gil(&self) -> Arc<Gil<Interp>> {
        self.gil.upgrade().expect("the interpreter state lives in its GIL")
    }

    /// A function in the table that no global names (e.g. the prompt's echo).
    pub fn register_hidden(&mut self, name: &str, f: BuiltinFn) -> Value {
        let index = self.builtins.len() as u64;
        self.builtins.push(f);
        self.heap.builtin_names.push(name.into());
        Value::Builtin(index)
    }
}

#[derive(Debug)]
pub struct Frame {
    /// The closure running here (a GC root while the frame exists, so its proto is too:
    /// the frame itself holds no reference count).
    pub closure: ObjId,
    /// Registers the frame uses (its proto's `nregs`), for the fiber's extent.
    pub nregs: usize,
    pub pc: usize,
    pub base: usize,
    /// Absolute stack slot that receives the return value.
    pub ret: usize,
}

#[derive(Debug)]
enum HandlerKind {
    Try { target: usize, reg: usize },
    With { subject: Value },
}

#[derive(Debug)]
struct Handler {
    /// `frames.len()` when the handler was pushed: it belongs to the top frame then.
    depth: usize,
    kind: HandlerKind,
}

/// One thread's execution state.
#[derive(Debug, Default)]
pub struct Fiber {
    pub stack: Vec<Value>,
    pub frames: Vec<Frame>,
    handlers: Vec<Handler>,
}

impl Fiber {
    /// Forgets every frame, register and handler (a forked child starts afresh).
    pub fn reset(&mut self) {
        self.stack.clear();
        self.frames.clear();
        self.handlers.clear();
    }

    /// The end of the live part of the stack.
    fn extent(&self) -> usize {
        self.frames.last().map_or(0, |f| f.base + f.nregs)
    }

    /// Every value this fiber keeps alive.
    pub fn roots(&self) -> impl Iterator<Item = Value> + '_ {
        let live = &self.stack[..self.extent().min(self.stack.len())];
        live.iter()
            .copied()
            .chain(self.frames.iter().map(|f| Value::Func(f.closure)))
            .chain(self.handlers.iter().filter_map(|h| match h.kind {
                HandlerKind::With { subject } => Some(subject),
                HandlerKind::Try { .. } => None,
            }))
    }
}

/// One thread's interpreter: its fiber, and the GIL guard that is its only way to the
/// shared state. Field order matters: the fiber drops before the guard releases the GIL.
pub struct Vm<'a> {
    pub fiber: Fiber,
    breaker: Arc<AtomicU32>,
    pub it: GilGuard<'a, Interp>,
}

impl<'a> Vm<'a> {
    pub fn new(it: GilGuard<'a, Interp>) -> Vm<'a> {
        let breaker = it.heap.breaker.clone();
        Vm {
            it,
            fiber: Fiber::default(),
            breaker,
        }
    }

    pub fn thread_id(&self) -> ThreadId {
        self.it.thread_id()
    }

    /// Puts this thread's fiber where the collector (run by another thread) can see it.
    fn park(&mut self) {
        let fiber = std::mem::take(&mut self.fiber);
        let tid = self.thread_id().get();
        self.it.parked.push((tid, fiber));
    }

    fn unpark(&mut self) {
        let tid = self.thread_id().get();
        if let Some(i) = self.it.parked.iter().position(|(t, _)| *t == tid) {
            self.fiber = self.it.parked.swap_remove(i).1;
        }
    }

    /// Runs blocking work with the GIL released. `f` is `Send` and so holds no values.
    /// If `f` panics, the GIL and this thread's fiber are back before the panic goes on.
    pub fn release<R: Send>(&mut self, f: impl FnOnce() -> R + Send) -> R {
        self.park();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.it.release_while(f)));
        self.unpark();
        match r {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Gives other threads their turn if the policy says so.
    fn yield_gil(&mut self) {
        self.park();
        self.it.check_point();
        self.unpark();
    }

    /// Writes `print`'s pending lines, after other threads' writes under way, with the
    /// GIL released; returns once they are out (so a report on stderr comes after them).
    pub fn flush_output(&mut self) {
        let chunk = self.it.output.take();
        self.release(move || chunk.write());
    }

    /// Prints `text`; when the buffering says it is time, the bytes go to the writer with
    /// the GIL released, so a full pipe blocks only this thread.
    pub fn write_output(&mut self, text: &str) {
        if let Some(chunk) = self.it.output.push(text) {
            self.release(move || chunk.write());
        }
    }

    /// The end of a spawned thread: its fiber goes, then the GIL and its registration.
    pub fn finish_thread(self) {
        let Vm { fiber, it, .. } = self;
        drop(fiber);
        it.exit();
    }

    // ---- errors ----------------------------------------------------------------------

    /// A runtime error of `kind`, ready to throw.
    pub fn error(&mut self, kind: &str, message: impl AsRef<str>) -> Box<Thrown> {
        let value = self.it.heap.new_error(kind, message.as_ref());
        Box::new(Thrown {
            value,
            traceback: Vec::new(),
            traced: false,
            exit: None,
        })
    }

    pub fn type_error(&mut self, message: impl AsRef<str>) -> Box<Thrown> {
        self.error("TypeError", message)
    }

    fn thrown(&self, value: Value) -> Box<Thrown> {
        // An error thrown again keeps the traceback of where it was first thrown.
        let traceback = match value {
            Value::Obj(id) => self.it.heap.error(id).map(|e| e.traceback.clone()).unwrap_or_default(),
            _ => Vec::new(),
        };
        let traced = !traceback.is_empty();
        Box::new(Thrown {
            value,
            traceback,
            traced,
            exit: None,
        })
    }

    pub(crate) fn traceback(&self) -> Vec<TbEntry> {
        self.fiber
            .frames
            .iter()
            .map(|f| {
                let proto = &self.it.heap.closure(f.closure).proto;
                TbEntry {
                    file: proto.file.clone(),
                    line: proto.lines.get(f.pc.saturating_sub(1)).copied().unwrap_or(0),
                    func: proto.display_name(),
                }
            })
            .collect()
    }

    /// Finds the innermost `catch` among frames above `stop`, releasing `with` subjects
    /// on the way. On success the fiber is positioned at the handler; otherwise the
    /// frames above `stop` are gone and the error goes to the caller of this eval loop.
    fn unwind(&mut self, mut t: Box<Thrown>, stop: usize) -> VmResult<()> {
        if !t.traced {
            t.traceback = self.traceback();
            t.traced = true;
            if let Value::Obj(id) = t.value
                && let Obj::Error(e) = self.it.heap.get_mut(id)
                && e.traceback.is_empty()
            {
                e.traceback = t.traceback.clone();
            }
        }
        while self.fiber.handlers.last().is_some_and(|h| h.depth > stop) {
            let h = self.fiber.handlers.pop().expect("handler");
            match h.kind {
                HandlerKind::With { subject } => {
                    let _ = crate::builtins::with_exit(self, subject);
                }
                HandlerKind::Try { target, reg } if t.exit.is_none() => {
                    self.fiber.frames.truncate(h.depth);
                    let frame = self.fiber.frames.last_mut().expect("handler's frame");
                    frame.pc = target;
                    self.fiber.stack[reg] = t.value;
                    return Ok(());
                }
                HandlerKind::Try { .. } => {}
            }
        }
        self.fiber.frames.truncate(stop);
        Err(t)
    }

    // ---- calls -----------------------------------------------------------------------

    /// Pushes a frame for closure `id` whose arguments already sit at `base..`.
    fn push_frame(&mut self, id: ObjId, argc: usize, base: usize, ret: usize) -> VmResult<()> {
        let proto = &self.it.heap.closure(id).proto;
        if argc != proto.arity as usize {
            let s = if proto.arity == 1 { "" } else { "s" };
            let msg = format!(
                "{}() takes {} argument{s} but {argc} {} given",
                proto.display_name(),
                proto.arity,
                if argc == 1 { "was" } else { "were" }
            );
            return Err(self.type_error(msg));
        }
        if self.fiber.frames.len() >= self.it.recursion_limit {
            return Err(self.error("RecursionError", "maximum recursion depth exceeded"));
        }
        let nregs = proto.nregs as usize;
        let need = base + nregs;
        if self.fiber.stack.len() < need {
            self.fiber
                .stack
                .resize(need.max(self.fiber.stack.len() * 2), Value::Nil);
        }
        self.fiber.frames.push(Frame {
            closure: id,
            nregs,
            pc: 0,
            base,
            ret,
        });
        Ok(())
    }

    /// Calls any callable value from a builtin (a sort key, say) and runs it to
    /// completion. The builtin may hold values in Rust locals meanwhile, so collection
    /// waits until it returns.
    pub fn call_value(&mut self, f: Value, args: &[Value]) -> VmResult<Value> {
        self.it.gc_inhibit += 1;
        let result = self.run_function(f, args);
        self.it.gc_inhibit -= 1;
        result
    }

    /// Calls a callable value with nothing held outside the fiber (a thread's body).
    pub fn run_function(&mut self, f: Value, args: &[Value]) -> VmResult<Value> {
        match f {
            Value::Func(id) => {
                let slot = self.fiber.extent();
                let need = slot + 1 + args.len();
                if self.fiber.stack.len() < need {
                    self.fiber.stack.resize(need, Value::Nil);
                }
                self.fiber.stack[slot] = f;
                self.fiber.stack[slot + 1..need].copy_from_slice(args);
                let stop = self.fiber.frames.len();
                self.push_frame(id, args.len(), slot + 1, slot)?;
                self.run(stop)
            }
            Value::Builtin(i) => {
                let f = self.it.builtins[i as usize].clone();
                f(self, args)
            }
            other => {
                let msg = format!("'{}' object is not callable", other.type_name(&self.it.heap));
                Err(self.type_error(msg))
            }
        }
    }

    /// Runs a compiled top-level chunk (a script, or one entry at the prompt).
    pub fn run_main(&mut self, proto: Rc<Proto>) -> VmResult<Value> {
        let closure = self.it.heap.alloc(Obj::Func(Closure {
            proto,
            upvals: Box::new([]),
        }));
        let base = self.fiber.extent();
        let stop = self.fiber.frames.len();
        if self.fiber.stack.len() <= base {
            self.fiber.stack.resize(base + 1, Value::Nil);
        }
        self.push_frame(closure, 0, base, base)?;
        self.run(stop)
    }

    // ---- check points ----------------------------------------------------------------

    /// Throws `Interrupt` in the main thread if Ctrl-C was pressed (for blocking waits).
    pub fn check_interrupt(&mut self) -> VmResult<()> {
        if self.thread_id() == ThreadId::MAIN && self.breaker.load(Ordering::Relaxed) & BREAK_INTERRUPT != 0 {
            self.breaker.fetch_and(!BREAK_INTERRUPT, Ordering::Relaxed);
            return Err(self.error("Interrupt", "interrupted by Ctrl-C"));
        }
        Ok(())
    }

    /// The slow path of a check point: deliver Ctrl-C (to the main thread), collect if
    /// due, give the GIL up if another thread asked for it.
    #[cold]
    #[inline(never)]
    fn check_point(&mut self) -> VmResult<()> {
        self.check_interrupt()?;
        let bits = self.breaker.load(Ordering::Relaxed);
        if bits & BREAK_GC != 0 && self.it.gc_inhibit == 0 {
            self.collect();
        }
        if bits & DROP_REQUEST != 0 {
            self.yield_gil();
        }
        Ok(())
    }

    /// Runs the collector with this thread's fiber and the globals as roots.
    pub fn collect(&mut self) {
        let extent = self.fiber.extent().min(self.fiber.stack.len());
        for v in &mut self.fiber.stack[extent..] {
            *v = Value::Nil;
        }
        let Interp {
            heap,
            globals,
            repl_print,
            parked,
            threads,
            processes,
            parent_channel,
            ..
        } = &mut *self.it;
        let roots = self
            .fiber
            .roots()
            .chain(parked.iter().flat_map(|(_, f)| f.roots()))
            .chain(
                threads
                    .iter()
                    .chain(processes.iter())
                    .chain(parent_channel.iter())
                    .map(|t| Value::Obj(*t)),
            )
            .chain(globals.values.iter().copied())
            .chain(repl_print.iter().copied());
        heap.collect(roots);
    }

    // ---- the eval loop ---------------------------------------------------------------

    /// Runs until the frame count falls back to `stop`, returning that frame's result.
    pub fn run(&mut self, stop: usize) -> VmResult<Value> {
        match self.it.tick_budget() {
            Some(budget) => self.run_loop::<true>(stop, budget.max(1)),
            None => self.run_loop::<false>(stop, 0),
        }
    }

    /// The eval loop. With `TICKS` (the `ticks` policy) every instruction counts down a
    /// budget and the thread offers the GIL when it runs out; without it, that code is
    /// compiled away.
    fn run_loop<const TICKS: bool>(&mut self, stop: usize, budget: u32) -> VmResult<Value> {
        let breaker = self.breaker.clone();
        let mut ticks = budget;
        // Each budget is drawn from [budget/2, budget*3/2): a fixed count would phase-lock
        // with a loop whose length divides it (100 and a 5-instruction body), so every drop
        // would land on the same instruction and never between a read and its write.
        let mut jitter = 0x9E37_79B9_7F4A_7C15u64 ^ (self.thread_id().get() as u64);
        'frame: loop {
            let frame = self.fiber.frames.last().expect("a frame to run");
            let closure = frame.closure;
            let proto = self.it.heap.closure(closure).proto.clone();
            let base = frame.base;
            let mut pc = frame.pc;
            let code: &[Op] = &proto.code;

            macro_rules! reg {
                ($r:expr) => {
                    self.fiber.stack[base + $r as usize]
                };
            }
            // Saves pc, then hands the error to the nearest handler (or our caller).
            macro_rules! throw {
                ($e:expr) => {{
                    let e = $e;
                    self.fiber.frames.last_mut().expect("frame").pc = pc;
                    match self.unwind(e, stop) {
                        Ok(()) => continue 'frame,
                        Err(e) => return Err(e),
                    }
                }};
            }
            macro_rules! tryv {
                ($e:expr) => {
                    match $e {
                        Ok(v) => v,
                        Err(e) => throw!(e),
                    }
                };
            }
            macro_rules! check_point {
                () => {
                    if breaker.load(Ordering::Relaxed) != 0 {
                        self.fiber.frames.last_mut().expect("frame").pc = pc;
                        tryv!(self.check_point());
                    }
                };
            }
            macro_rules! binary {
                ($dst:expr, $a:expr, $b:expr, $fast:expr, $slow:path) => {{
                    // By reference: the fast path reads tags and payloads in place instead of
                    // copying both 16-byte values first.
                    let v = match $fast(&reg!($a), &reg!($b)) {
                        Some(v) => v,
                        None => {
                            let (x, y) = (reg!($a), reg!($b));
                            tryv!($slow(self, x, y))
                        }
                    };
                    reg!($dst) = v;
                }};
            }

            // `x OP y` with an int fast path, else `slow` (ops::less / less_equal, which
            // name the operator `sym` in errors): the comparisons and JumpIfNotLt.
            macro_rules! ordered {
                ($x:expr, $y:expr, $op:tt, $slow:path, $sym:literal) => {
                    match (&reg!($x), &reg!($y)) {
                        (&Value::Int(x), &Value::Int(y)) => x $op y,
                        _ => tryv!($slow(self, reg!($x), reg!($y), $sym)),
                    }
                };
            }
            // `a ± imm` for AddInt/SubInt: ints and floats in place, every other type through
            // `slow` (ops::add / ops::sub).
            macro_rules! with_imm {
                ($dst:expr, $a:expr, $imm:expr, $checked:ident, $op:tt, $slow:path) => {{
                    let v = match reg!($a) {
                        Value::Int(i) => match i.$checked($imm as i64) {
                            Some(v) => Value::Int(v),
                            None => throw!(self.error("OverflowError", "integer overflow")),
                        },
                        Value::Float(f) => Value::float(f.get() $op $imm as f64),
                        _ => tryv!($slow(self, reg!($a), Value::Int($imm as i64))),
                    };
                    reg!($dst) = v;
                }};
            }

            loop {
                if TICKS {
                    ticks -= 1;
                    if ticks == 0 {
                        jitter ^= jitter << 13;
                        jitter ^= jitter >> 7;
                        jitter ^= jitter << 17;
                        ticks = budget / 2 + (jitter % budget as u64) as u32 + 1;
                        self.fiber.frames.last_mut().expect("frame").pc = pc;
                        self.yield_gil();
                    }
                }
                let op = code[pc];
                pc += 1;
                match op {
                    Op::Move { dst, src } => reg!(dst) = reg!(src),
                    Op::LoadConst { dst, k } => reg!(dst) = proto.consts[k as usize],
                    Op::LoadInt { dst, imm } => reg!(dst) = Value::Int(imm as i64),
                    Op::LoadNil { dst } => reg!(dst) = Value::Nil,
                    Op::LoadBool { dst, value } => reg!(dst) = Value::bool(value),
                    Op::GetGlobal { dst, g } => {
                        if let Value::Undef = self.it.globals.values[g as usize] {
                            let name = self.it.globals.names[g as usize].clone();
                            throw!(self.error("NameError", format!("name '{name}' is not defined")));
                        }
                        // Slot to slot, so the register is written by one 16-byte store.
                        reg!(dst) = self.it.globals.values[g as usize];
                    }
                    Op::SetGlobal { g, src } => self.it.globals.values[g as usize] = reg!(src),
                    Op::GetUpval { dst, u } => {
                        let cell = self.it.heap.closure(closure).upvals[u as usize];
                        reg!(dst) = self.it.heap.cell(cell);
                    }
                    Op::SetUpval { u, src } => {
                        let cell = self.it.heap.closure(closure).upvals[u as usize];
                        let v = reg!(src);
                        self.it.heap.set_cell(cell, v);
                    }
                    Op::NewCell { dst, src } => {
                        let cell = self.it.heap.alloc(Obj::Cell(reg!(src)));
                        reg!(dst) = Value::Obj(cell);
                    }
                    Op::GetCell { dst, cell } => {
                        let Value::Obj(id) = reg!(cell) else {
                            unreachable!("cell register")
                        };
                        reg!(dst) = self.it.heap.cell(id);
                    }
                    Op::SetCell { cell, src } => {
                        let Value::Obj(id) = reg!(cell) else {
                            unreachable!("cell register")
                        };
                        let v = reg!(src);
                        self.it.heap.set_cell(id, v);
                    }
                    Op::Closure { dst, p } => {
                        let child = proto.protos[p as usize].clone();
                        let upvals: Box<[ObjId]> = child
                            .captures
                            .iter()
                            .map(|c| match *c {
                                Capture::Local(r) => match self.fiber.stack[base + r as usize] {
                                    Value::Obj(id) => id,
                                    _ => unreachable!("captured register holds a cell"),
                                },
                                Capture::Upval(u) => self.it.heap.closure(closure).upvals[u as usize],
                            })
                            .collect();
                        let id = self.it.heap.alloc(Obj::Func(Closure { proto: child, upvals }));
                        reg!(dst) = Value::Func(id);
                    }
                    Op::NewList { dst, start, count } => {
                        let s = base + start as usize;
                        let items = self.fiber.stack[s..s + count as usize].to_vec();
                        reg!(dst) = self.it.heap.new_list(items);
                    }
                    Op::NewMap { dst, start, count } => {
                        let s = base + start as usize;
                        let v = tryv!(ops::new_map(self, s, count as usize));
                        reg!(dst) = v;
                    }
                    Op::Add { dst, a, b } => binary!(dst, a, b, ops::add_fast, ops::add),
                    Op::Sub { dst, a, b } => binary!(dst, a, b, ops::sub_fast, ops::sub),
                    Op::Mul { dst, a, b } => binary!(dst, a, b, ops::mul_fast, ops::mul),
                    Op::Div { dst, a, b } => binary!(dst, a, b, ops::no_fast, ops::div),
                    Op::FloorDiv { dst, a, b } => binary!(dst, a, b, ops::no_fast, ops::floor_div),
                    Op::Mod { dst, a, b } => binary!(dst, a, b, ops::mod_fast, ops::modulo),
                    Op::Pow { dst, a, b } => binary!(dst, a, b, ops::no_fast, ops::pow),
                    Op::AppendStr { dst, src } => match (reg!(dst), reg!(src)) {
                        (Value::Str(head), Value::Str(tail)) => {
                            let id = self.it.heap.append_str(head, tail);
                            reg!(dst) = Value::Str(id);
                        }
                        (x, y) => {
                            let v = tryv!(ops::add(self, x, y));
                            reg!(dst) = v;
                        }
                    },
                    Op::Freeze { reg } => {
                        if let Value::Str(id) = reg!(reg) {
                            self.it.heap.freeze_str(id);
                        }
                    }
                    Op::AddInt { dst, a, imm } => with_imm!(dst, a, imm, checked_add, +, ops::add),
                    Op::SubInt { dst, a, imm } => with_imm!(dst, a, imm, checked_sub, -, ops::sub),
                    Op::Eq { dst, a, b } => {
                        let v = tryv!(ops::equal(self, reg!(a), reg!(b)));
                        reg!(dst) = Value::bool(v);
                    }
                    Op::Ne { dst, a, b } => {
                        let v = tryv!(ops::equal(self, reg!(a), reg!(b)));
                        reg!(dst) = Value::bool(!v);
                    }
                    Op::Lt { dst, a, b } => reg!(dst) = Value::bool(ordered!(a, b, <, ops::less, "<")),
                    Op::Le { dst, a, b } => reg!(dst) = Value::bool(ordered!(a, b, <=, ops::less_equal, "<=")),
                    Op::Gt { dst, a, b } => reg!(dst) = Value::bool(ordered!(b, a, <, ops::less, ">")),
                    Op::Ge { dst, a, b } => reg!(dst) = Value::bool(ordered!(b, a, <=, ops::less_equal, ">=")),
                    Op::In { dst, a, b } => {
                        let v = tryv!(ops::contains(self, reg!(b), reg!(a)));
                        reg!(dst) = Value::bool(v);
                    }
                    Op::NotIn { dst, a, b } => {
                        let v = tryv!(ops::contains(self, reg!(b), reg!(a)));
                        reg!(dst) = Value::bool(!v);
                    }
                    Op::Neg { dst, src } => {
                        let v = tryv!(ops::neg(self, reg!(src)));
                        reg!(dst) = v;
                    }
                    Op::Not { dst, src } => {
                        let v = !reg!(src).truthy(&self.it.heap);
                        reg!(dst) = Value::bool(v);
                    }
                    Op::Jump { off } => pc = (pc as i64 + off as i64) as usize,
                    Op::Loop { back } => {
                        // Checked before jumping, so an error here names the loop's line.
                        check_point!();
                        pc -= back as usize;
                    }
                    Op::JumpIfFalse { cond, off } => {
                        let c = match reg!(cond) {
                            Value::Bool(b) => b.get(),
                            v => v.truthy(&self.it.heap),
                        };
                        if !c {
                            pc = (pc as i64 + off as i64) as usize;
                        }
                    }
                    Op::JumpIfTrue { cond, off } => {
                        let c = match reg!(cond) {
                            Value::Bool(b) => b.get(),
                            v => v.truthy(&self.it.heap),
                        };
                        if c {
                            pc = (pc as i64 + off as i64) as usize;
                        }
                    }
                    Op::JumpIfNotLt { a, b, off } => {
                        if !ordered!(a, b, <, ops::less, "<") {
                            pc = (pc as i64 + off as i64) as usize;
                        }
                    }
                    Op::GetIndex { dst, obj, index } => {
                        let v = match (&reg!(obj), &reg!(index)) {
                            (&Value::List(id), &Value::Int(i)) => {
                                let items = self.it.heap.list(id);
                                let n = items.len() as i64;
                                let j = if i < 0 { i + n } else { i };
                                if j >= 0 && j < n {
                                    items[j as usize]
                                } else {
                                    throw!(self.error("IndexError", "list index out of range"))
                                }
                            }
                            _ => tryv!(ops::get_index(self, reg!(obj), reg!(index))),
                        };
                        reg!(dst) = v;
                    }
                    Op::SetIndex { obj, index, src } => {
                        let (o, i, v) = (reg!(obj), reg!(index), reg!(src));
                        tryv!(ops::set_index(self, o, i, v));
                    }
                    Op::GetField { dst, obj, name } => {
                        // A map's field is copied from its entry straight into the register
                        // (a returned Value would be stored in parts and reloaded whole).
                        if let (&Value::Map(m), Value::Str(nid)) = (&reg!(obj), proto.consts[name as usize])
                            && let Some(i) = self.it.heap.map_find_str(m, nid)
                        {
                            reg!(dst) = *self.it.heap.map(m).value_at(i);
                            continue;
                        }
                        let v = tryv!(ops::get_field(self, reg!(obj), proto.consts[name as usize]));
                        reg!(dst) = v;
                    }
                    Op::SetField { obj, name, src } => {
                        let (o, v) = (reg!(obj), reg!(src));
                        tryv!(ops::set_field(self, o, proto.consts[name as usize], v));
                    }
                    Op::Slice { dst, obj, lo, hi } => {
                        let v = tryv!(ops::slice(self, reg!(obj), reg!(lo), reg!(hi)));
                        reg!(dst) = v;
                    }
                    Op::Call { func, argc, dst } => {
                        let args_at = base + func as usize + 1;
                        match reg!(func) {
                            Value::Func(id) => {
                                check_point!();
                                self.fiber.frames.last_mut().expect("frame").pc = pc;
                                tryv!(self.push_frame(id, argc as usize, args_at, base + dst as usize));
                                continue 'frame;
                            }
                            Value::Builtin(i) => {
                                self.fiber.frames.last_mut().expect("frame").pc = pc;
                                let f = self.it.builtins[i as usize].clone();
                                let args = Args::from_slice(&self.fiber.stack[args_at..args_at + argc as usize]);
                                let v = tryv!(f(self, &args));
                                reg!(dst) = v;
                            }
                            other => {
                                let t = other.type_name(&self.it.heap);
                                throw!(self.type_error(format!("'{t}' object is not callable")));
                            }
                        }
                    }
                    Op::CallMethod { dst, obj, argc, name } => {
                        let name = proto.consts[name as usize];
                        // The commonest method call of all, without the general dispatch.
                        if let (&Value::List(list), Value::Str(nid), 1) = (&reg!(obj), name, argc)
                            && self.it.heap.str(nid) == "append"
                        {
                            let v = Value::copy_words(&reg!(obj + 1));
                            self.it.heap.list_mut(list).push(v);
                            reg!(dst) = Value::Nil;
                            continue;
                        }
                        let recv = reg!(obj);
                        let args_at = base + obj as usize + 1;
                        self.fiber.frames.last_mut().expect("frame").pc = pc;
                        // A map's own entry that is not a map method is called like a
                        // function, with the receiver's register reused for the callee.
                        if let Value::Map(m) = recv
                            && let Some(i) = tryv!(ops::map_entry_callee(self, m, name))
                        {
                            // Copied entry to register, as in GetField.
                            reg!(obj) = *self.it.heap.map(m).value_at(i);
                            if let Value::Func(id) = reg!(obj) {
                                check_point!();
                                tryv!(self.push_frame(id, argc as usize, args_at, base + dst as usize));
                                continue 'frame;
                            }
                            let callee = reg!(obj);
                            let args = Args::from_slice(&self.fiber.stack[args_at..args_at + argc as usize]);
                            let v = tryv!(self.call_value(callee, &args));
                            reg!(dst) = v;
                            continue;
                        }
                        let args = Args::from_slice(&self.fiber.stack[args_at..args_at + argc as usize]);
                        let v = tryv!(crate::builtins::call_method(self, recv, name, &args));
                        reg!(dst) = v;
                    }
                    Op::Return { src } => {
                        let v = Value::copy_words(&reg!(src));
                        let frame = self.fiber.frames.pop().expect("frame");
                        self.fiber.stack[frame.ret] = v;
                        if self.fiber.frames.len() == stop {
                            return Ok(v);
                        }
                        continue 'frame;
                    }
                    Op::ReturnNil => {
                        let frame = self.fiber.frames.pop().expect("frame");
                        self.fiber.stack[frame.ret] = Value::Nil;
                        if self.fiber.frames.len() == stop {
                            return Ok(Value::Nil);
                        }
                        continue 'frame;
                    }
                    Op::IterPrep { iter, src } => {
                        let s = base + iter as usize;
                        tryv!(ops::iter_prep(self, s, reg!(src)));
                    }
                    Op::IterNext { iter, dst, off } => {
                        let s = base + iter as usize;
                        // Matched by reference: copying the three 16-byte loop registers whole
                        // right after their parts were stored stalls store-to-load forwarding.
                        if let (&Value::Int(i), &Value::Int(stop_at), &Value::Int(step)) =
                            (&self.fiber.stack[s], &self.fiber.stack[s + 1], &self.fiber.stack[s + 2])
                        {
                            if (step > 0 && i < stop_at) || (step < 0 && i > stop_at) {
                                self.fiber.stack[s] = Value::Int(i.checked_add(step).unwrap_or(stop_at));
                                reg!(dst) = Value::Int(i);
                            } else {
                                pc = (pc as i64 + off as i64) as usize;
                            }
                            continue;
                        }
                        match ops::iter_next(self, s) {
                            Some(v) => reg!(dst) = v,
                            None => pc = (pc as i64 + off as i64) as usize,
                        }
                    }
                    Op::Unpack2 { dst, src } => {
                        let (a, b) = tryv!(ops::unpack2(self, reg!(src)));
                        reg!(dst) = a;
                        reg!(dst + 1) = b;
                    }
                    Op::Throw { src } => {
                        let t = self.thrown(reg!(src));
                        throw!(t);
                    }
                    Op::TryBegin { reg, off } => {
                        let target = (pc as i64 + off as i64) as usize;
                        let depth = self.fiber.frames.len();
                        let reg = base + reg as usize;
                        self.fiber.handlers.push(Handler {
                            depth,
                            kind: HandlerKind::Try { target, reg },
                        });
                    }
                    Op::TryEnd => {
                        self.fiber.handlers.pop();
                    }
                    Op::WithEnter { src } => {
                        let subject = reg!(src);
                        self.fiber.frames.last_mut().expect("frame").pc = pc;
                        tryv!(crate::builtins::with_enter(self, subject));
                        let depth = self.fiber.frames.len();
                        self.fiber.handlers.push(Handler {
                            depth,
                            kind: HandlerKind::With { subject },
                        });
                    }
                    Op::WithExit { src } => {
                        self.fiber.handlers.pop();
                        let subject = reg!(src);
                        tryv!(crate::builtins::with_exit(self, subject));
                    }
                }
            }
        }
    }

    // ---- helpers shared by ops and builtins ------------------------------------------

    pub fn new_str(&mut self, s: impl Into<Rc<str>>) -> Value {
        self.it.heap.new_str(s)
    }

    /// A one-code-point string.
    pub fn char_str(&mut self, c: char) -> Value {
        let mut buf = [0u8; 4];
        let s: &str = c.encode_utf8(&mut buf);
        self.it.heap.new_str(s)
    }

    pub fn new_range(&mut self, r: RangeObj) -> Value {
        Value::Obj(self.it.heap.alloc(Obj::Range(r)))
    }

    /// The text of an uncaught error: traceback, then `Kind: message`.
    pub fn format_uncaught(&self, t: &Thrown) -> String {
        let mut s = String::from("Traceback (most recent call last):\n");
        for e in &t.traceback {
            s.push_str(&crate::object::format_tb_entry(e));
            s.push('\n');
        }
        s.push_str(&self.error_line(t.value));
        s.push('\n');
        s
    }

    /// `Kind: message` for an error value, `Error: str(v)` for anything else thrown.
    pub fn error_line(&self, v: Value) -> String {
        match v {
            Value::Obj(id) if self.it.heap.error(id).is_some() => self.it.heap.display(v),
            other => format!("Error: {}", self.it.heap.display(other)),
        }
    }
}
