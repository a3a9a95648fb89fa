//! The machine: `Interp`, everything the GIL protects (the heap, the globals, the tables
//! of builtin functions and methods, the output, the parked fibers and the runtime objects
//! that are collector roots), and `Vm`, one thread's view of it (its fiber and the GIL
//! guard that is its only way in) with what every layer above needs from it: raising
//! errors, running work with the GIL released, check points, collection, and small value
//! constructors. The two are one file because they refer to each other: the state holds
//! functions that take a `Vm`.
//!
//! Invariants:
//! - An `Interp` is reached only through a `GilGuard`; it is `!Send` on purpose (its
//!   values must not leave the GIL), and the embedding boundary is the one place that
//!   vouches for sharing it between threads.
//! - The fiber is parked in the guarded state (where the collector sees it) whenever this
//!   thread lets the GIL go, and taken back before it runs bytecode again.

use super::entry_hints::EntryHints;
use super::fiber::Fiber;
use super::globals::Globals;
use super::locations::Locations;
use super::method_table::MethodTable;
use super::modules::ModuleRecord;
use super::stack_floor::StackFloor;
use crate::family::Family;
use crate::gil::{DROP_REQUEST, GIL_BITS, Gil, GilConfig, GilGuard, Location, REPORT_LOCATION, Releaser, ThreadId};
use crate::heap::BREAK_GC;
use crate::heap::{GrowError, Heap};
use crate::method::Method;
use crate::object::{Obj, Outcome, RangeObj, TbEntry, TbRun, Traceback};
use crate::output::OutputBuffer;
use crate::value::{ObjId, Value};
use crate::wait_graph::WaitGraph;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Eval-breaker bit: Ctrl-C was pressed; the main thread throws `Interrupt`.
pub const BREAK_INTERRUPT: u32 = 4;
/// Eval-breaker bit: a thread of a spawned interpreter called `exit(code)`
/// (`Interp::exit_request`); the interpreter's main thread ends it with that code.
pub const BREAK_EXIT: u32 = 8;

/// How long the main thread's blocking waits go without looking at the eval breaker for
/// Ctrl-C ([`Vm::wait_interruptibly`]).
pub const INTERRUPT_SLICE: Duration = Duration::from_millis(50);

// The breaker's bits have three owners: the lock, the heap and the VM.
const _: () = assert!(
    GIL_BITS & BREAK_GC == 0
        && (GIL_BITS | BREAK_GC) & (BREAK_INTERRUPT | BREAK_EXIT) == 0
        && BREAK_INTERRUPT & BREAK_EXIT == 0
);

/// Eval-breaker bit: work charged inside an instruction (`Vm::charge_work`) used up the
/// instruction limit; the next check point ends the run.
pub const BREAK_LIMIT: u32 = 16;

const _: () = assert!((GIL_BITS | BREAK_GC | BREAK_INTERRUPT | BREAK_EXIT) & BREAK_LIMIT == 0);

/// Bytes allocated or scanned that the instruction limit counts as one instruction: four
/// list items, about what copying or comparing them costs beside running one instruction.
const BYTES_PER_INSTRUCTION: usize = 64;

/// How to build a fresh interpreter like the one that holds it — its builtins, host
/// functions and settings — with the given lock settings and output: what
/// `spawn_interpreter` runs on the new interpreter's own thread. Provided by the embedding
/// layer, which knows the builtins; `Send + Sync` because it crosses to that thread.
pub type Recipe = Arc<dyn Fn(GilConfig, OutputBuffer) -> Arc<Gil<Interp>> + Send + Sync>;

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
    /// Thread objects still running, or ended with an error no `join` has seen (it is
    /// reported at exit): collector roots. A thread that returned, or whose outcome a
    /// `join` took, leaves at the next collection; its object lives on only if the
    /// program still holds it.
    pub threads: Vec<ObjId>,
    /// The `returned` signals of threads whose toy function has ended: `spawn` and `join`
    /// forget the ones whose OS thread is done with them; `before_fork` and the end of the
    /// program wait for all of them.
    pub exited_threads: Vec<std::sync::Arc<crate::signal::Signal>>,
    /// Child processes not yet joined: collector roots, waited for at exit. A joined one
    /// leaves at the next collection.
    pub processes: Vec<ObjId>,
    /// In a child made by `spawn_process` or `spawn_interpreter`: the channel to the parent.
    pub parent_channel: Option<ObjId>,
    /// Interpreters spawned here and not yet joined: collector roots, waited for at exit.
    pub interpreters: Vec<ObjId>,
    /// The interpreters of this process that share this one's root (`family.rs`); set
    /// when the interpreter is built.
    pub family: Option<Arc<Family>>,
    /// This interpreter's number in its family: 1 for a root.
    pub number: u32,
    /// How to build another interpreter like this one (`spawn_interpreter`).
    pub recipe: Option<Recipe>,
    /// The hidden builtin `pmap` hands each worker thread or interpreter (`<map chunk>`).
    pub map_chunk: Option<Value>,
    /// The builtin `range`'s index (`Value::Builtin`), which `RangeLoop` looks for;
    /// `u64::MAX` until the builtins are installed.
    pub range_builtin: u64,
    /// In a spawned interpreter: the code a thread other than its main one passed to
    /// `exit`; the main thread ends the interpreter with it (see [`BREAK_EXIT`]).
    pub exit_request: Option<i32>,
    /// The thread Ctrl-C interrupts: thread 1, or in a forked child the thread that forked
    /// (the only one the child starts with).
    pub main_thread: ThreadId,
    /// While nonzero a builtin's callback is running and collection waits.
    pub gc_inhibit: u32,
    /// Instructions the current run may still run (`Builder::instruction_limit`), shared
    /// by all the threads running meanwhile; `None`: no limit.
    pub instructions_left: Option<u64>,
    /// The limit as the host gave it: each run starts with this many.
    pub instruction_limit: Option<u64>,
    /// `--native-holds-gil`: host functions keep the GIL during `release_gil` work.
    pub native_holds_gil: bool,
    /// The lock that owns this state, for `spawn` to hand to new threads.
    pub gil: Weak<Gil<Interp>>,
    /// The builtin methods of every kind of value.
    pub methods: MethodTable<MethodFn>,
    /// The modules loaded so far, by number (`Import`'s operand).
    pub modules: Vec<ModuleRecord>,
    /// `random.*`'s generator: seeded by `random.seed(n)`, else from the OS when first
    /// used (making one costs the CPU-feature probe of its cipher, which a script that
    /// draws no random number should not pay at start-up); a forked child starts from a
    /// fresh OS seed. `None` until then; read through [`Interp::rng`], set through
    /// [`Interp::reseed`].
    rng: Option<rand::rngs::StdRng>,
    /// The numbers the GIL knows source lines by (where a holder made others wait).
    pub locations: Locations,
    /// The threads blocked without a timeout on the program's own objects, for deadlock
    /// reports (`threads::block`).
    pub waits: WaitGraph,
}

impl Interp {
    /// `random.*`'s generator, seeded from the OS on first use.
    pub fn rng(&mut self) -> &mut rand::rngs::StdRng {
        self.rng.get_or_insert_with(rand::SeedableRng::from_os_rng)
    }

    /// From here on `random.*` draws from `rng`, or (`None`) from a fresh OS seed made
    /// when it is next used.
    pub fn reseed(&mut self, rng: Option<rand::rngs::StdRng>) {
        self.rng = rng;
    }

    pub fn new(output: OutputBuffer, breaker: Arc<AtomicU32>) -> Interp {
        Interp {
            heap: Heap::new(breaker),
            globals: Globals::default(),
            builtins: Vec::new(),
            output,
            recursion_limit: 10_000,
            argv: Vec::new(),
            repl_print: None,
            parked: Vec::new(),
            threads: Vec::new(),
            exited_threads: Vec::new(),
            processes: Vec::new(),
            parent_channel: None,
            interpreters: Vec::new(),
            family: None,
            number: 1,
            recipe: None,
            exit_request: None,
            map_chunk: None,
            range_builtin: u64::MAX,
            main_thread: ThreadId::MAIN,
            gc_inhibit: 0,
            instructions_left: None,
            instruction_limit: None,
            native_holds_gil: false,
            gil: Weak::new(),
            methods: MethodTable::default(),
            rng: None,
            locations: Locations::default(),
            modules: Vec::new(),
            waits: WaitGraph::default(),
        }
    }

    /// Adds a function to the table and binds it to a global name.
    pub fn register(&mut self, name: &str, f: BuiltinFn) -> Value {
        let v = self.register_hidden(name, f);
        if let Some(g) = self.globals.declare_builtin(name) {
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

/// A value in flight from `throw` (or a runtime error) to the `catch` that takes it.
#[derive(Debug)]
pub struct Thrown {
    pub value: Value,
    pub traceback: Traceback,
    /// Set once the traceback has been taken, at the innermost frame.
    pub traced: bool,
    /// `exit(code)`: unwinds everything, no `catch` stops it.
    pub exit: Option<i32>,
    /// The run's instruction limit ran out: unwinds everything like `exit`, and ends the
    /// run as `RunError::Limit` (a thread, as an error of its own).
    pub limit: bool,
}

pub type VmResult<T> = Result<T, Box<Thrown>>;

/// A function implemented in Rust: a builtin (a plain function), or a host function
/// registered through the embedding API (a closure, shared). Cloned out of the table to
/// be called while the VM is borrowed mutably: a builtin's clone copies a pointer, where
/// an `Rc` for every builtin cost two reference-count updates per call.
#[derive(Clone)]
pub enum BuiltinFn {
    Native(fn(&mut Vm, &[Value]) -> VmResult<Value>),
    Host(SharedFn),
}

/// A host function as the VM calls it (see `interpreter::host_function`).
pub type SharedFn = Rc<dyn Fn(&mut Vm, &[Value]) -> VmResult<Value>>;

impl BuiltinFn {
    #[inline]
    pub fn call(&self, vm: &mut Vm, args: &[Value]) -> VmResult<Value> {
        match self {
            BuiltinFn::Native(f) => f(vm, args),
            BuiltinFn::Host(f) => f(vm, args),
        }
    }
}

/// The builtin methods of one kind: which method, the receiver, then the call's arguments.
/// One function serves all of a kind's methods, matching on `Method` (a jump table).
pub type MethodFn = fn(&mut Vm<'_>, Method, Value, &[Value]) -> VmResult<Value>;

/// One thread's interpreter: its fiber, and the GIL guard that is its only way to the
/// shared state. Field order matters: the fiber drops before the guard releases the GIL.
pub struct Vm<'a> {
    pub fiber: Fiber,
    pub(super) breaker: Arc<AtomicU32>,
    /// How many builtins (functions or methods) this thread is inside. At 0 the eval loop
    /// itself is running, which holds values only in registers.
    pub(super) builtin_depth: u32,
    /// Below this a builtin may not call back into toy code (`RecursionError`).
    pub stack_floor: StackFloor,
    /// Where this thread's instructions last found map entries by name.
    pub(super) entry_hints: EntryHints,
    pub it: GilGuard<'a, Interp>,
}

impl<'a> Vm<'a> {
    pub fn new(it: GilGuard<'a, Interp>) -> Vm<'a> {
        let breaker = it.heap.breaker.clone();
        Vm {
            it,
            fiber: Fiber::default(),
            breaker,
            builtin_depth: 0,
            stack_floor: StackFloor::UNKNOWN,
            entry_hints: EntryHints::default(),
        }
    }

    pub fn thread_id(&self) -> ThreadId {
        self.it.thread_id()
    }

    /// The eval breaker, shared, for a wake test to look at without the GIL.
    pub fn breaker_handle(&self) -> Arc<AtomicU32> {
        self.breaker.clone()
    }

    /// The eval breaker's bits now: nonzero when something wants this thread at a check
    /// point (Ctrl-C, a collection, another thread asking for the GIL).
    pub fn breaker_bits(&self) -> u32 {
        self.breaker.load(Ordering::Relaxed)
    }

    /// Whether this is the thread Ctrl-C interrupts (see `Interp::main_thread`).
    pub fn is_main_thread(&self) -> bool {
        self.thread_id() == self.it.main_thread
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

    /// Whether the GIL's policy is a scheduler (`random`), which must decide alone who
    /// runs when: then waits on the program's own objects go through
    /// [`Vm::release_until`], and short work nobody waits on keeps the GIL
    /// ([`Vm::release_briefly`]).
    pub fn gil_schedules(&self) -> bool {
        self.it.gil().schedules()
    }

    /// Under a scheduler: blocks on one of the program's own objects until the scheduler
    /// hands this thread the GIL again, which it does once `wake` passes (see
    /// `GilGuard::release_until`). Returns false at once under other policies.
    pub fn release_until(&mut self, wake: impl Fn() -> bool + Send + 'static) -> bool {
        if self.location_wanted() {
            self.report_location();
        }
        self.park();
        let released = self.it.release_until(wake);
        self.unpark();
        released
    }

    /// Short work that waits for no other thread of this interpreter (writing a line
    /// out, reaping an OS thread that has finished): with the GIL released
    /// as [`Vm::release`] does, except under a scheduler, where letting go would let the
    /// operating system decide when this thread runs again, and a seeded run would no
    /// longer repeat itself.
    pub fn release_briefly<R: Send>(&mut self, f: impl FnOnce() -> R + Send) -> R {
        if self.gil_schedules() { f() } else { self.release(f) }
    }

    /// Work of microseconds that cannot wait on anything (handing a new thread to the
    /// pool): as [`Vm::release_briefly`], but this thread stays queued for the GIL
    /// meanwhile (`GilGuard::release_returning`), so `priority` and `deadline` keep the
    /// GIL for it rather than hand it to another thread and take it straight back.
    pub fn release_returning<R: Send>(&mut self, f: impl FnOnce() -> R + Send) -> R {
        if self.gil_schedules() {
            f()
        } else {
            self.release_as(Releaser::Returns, f)
        }
    }

    /// The main thread's blocking wait, which Ctrl-C must still end: `wait(until)` (`Some`
    /// once what it waits for has come) runs with the GIL released, again and again until
    /// `until`, at most [`INTERRUPT_SLICE`] ahead, so that Ctrl-C or a spawned
    /// interpreter's `exit` (bits of the eval breaker, read without the GIL) are seen
    /// within a slice. The GIL is taken back only when the wait is over, or for them: a
    /// thread waiting this way costs the holder nothing meanwhile. What `wait` found;
    /// `None` once `deadline` has passed; throws `Interrupt` (or `SystemExit`). The GIL is
    /// let go as `releaser` says ([`Vm::release_as`]): `Leaves`, `Stops` for a wait on
    /// another thread, or `KeepsCpu` for a sleep.
    pub fn wait_interruptibly<T: Send>(
        &mut self,
        deadline: Option<Instant>,
        releaser: Releaser,
        mut wait: impl FnMut(Instant) -> Option<T> + Send,
    ) -> VmResult<Option<T>> {
        self.check_interrupt()?;
        let breaker = self.breaker_handle();
        loop {
            let (wait, breaker) = (&mut wait, &breaker);
            let found = self.release_as(releaser, move || {
                loop {
                    let slice = Instant::now() + INTERRUPT_SLICE;
                    let until = deadline.map_or(slice, |d| d.min(slice));
                    if let Some(found) = wait(until) {
                        return Some(found);
                    }
                    let past = deadline.is_some_and(|d| Instant::now() >= d);
                    if past || breaker.load(Ordering::Relaxed) & (BREAK_INTERRUPT | BREAK_EXIT) != 0 {
                        return None;
                    }
                }
            });
            if found.is_some() {
                return Ok(found);
            }
            // Ctrl-C, `exit`, or the deadline; an `exit` bit with no request behind it
            // is cleared here and the wait goes on.
            self.check_interrupt()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }

    /// Runs blocking work with the GIL released. `f` is `Send` and so holds no values.
    /// If `f` panics, the GIL and this thread's fiber are back before the panic goes on.
    pub fn release<R: Send>(&mut self, f: impl FnOnce() -> R + Send) -> R {
        self.release_as(Releaser::Leaves, f)
    }

    /// [`Vm::release`], telling the lock what this thread does meanwhile (see
    /// [`Releaser`]: `KeepsCpu` for a timed sleep, so the next holder keeps off this CPU;
    /// `Stops` for a wait on another thread, so the waiter it wakes runs on this CPU).
    pub fn release_as<R: Send>(&mut self, releaser: Releaser, f: impl FnOnce() -> R + Send) -> R {
        // A thread that began to wait, or the trace, wants to know where the GIL went from.
        if self.location_wanted() {
            self.report_location();
        }
        self.park();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.it.release_for(releaser, f)));
        self.unpark();
        match r {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Runs `open` (anything that takes a file descriptor) with the GIL released; if it
    /// fails for want of descriptors, collects — a socket dropped without `close` closes
    /// when its object is collected — and tries once more. Only for a builtin that has
    /// made no value yet and holds none but its arguments (which sit in registers).
    pub fn with_descriptors<T: Send>(&mut self, open: impl Fn() -> std::io::Result<T> + Sync) -> std::io::Result<T> {
        match self.release(&open) {
            Err(e) if crate::os_error::out_of_descriptors(&e) && self.it.gc_inhibit == 0 => {
                // Called straight from the eval loop, nothing but the roots holds a value.
                self.collect_with(self.builtin_depth <= 1);
                self.release(&open)
            }
            other => other,
        }
    }

    /// A slice of `ran` instructions is over: charges them to the instruction limit (the
    /// uncatchable end of the run once it is used up). What the GIL's policy does at a
    /// slice's end is `end_slice`'s business.
    #[cold]
    #[inline(never)]
    pub(super) fn ticks_spent(&mut self, ran: u32) -> VmResult<()> {
        if let Some(left) = self.it.instructions_left {
            if left <= ran as u64 {
                self.it.instructions_left = Some(0);
                return Err(self.limit_reached());
            }
            self.it.instructions_left = Some(left - ran as u64);
        }
        Ok(())
    }

    /// An eval loop returns in the middle of a slice: charges what it ran.
    #[cold]
    #[inline(never)]
    pub(super) fn ticks_partly_spent(&mut self, ran: u32) {
        if let Some(left) = &mut self.it.instructions_left {
            *left = left.saturating_sub(ran as u64);
        }
    }

    /// Charges work one instruction does beyond itself — a scan of `items` list items or
    /// map entries — to the instruction limit, if there is one, as `charge_bytes` does.
    #[inline]
    pub fn charge_items(&mut self, items: usize) {
        self.charge_bytes(items.saturating_mul(crate::heap::ITEM_BYTES));
    }

    /// Charges `bytes` allocated, copied or scanned inside one instruction to the
    /// instruction limit, one instruction per `BYTES_PER_INSTRUCTION`: one instruction can
    /// build or compare a list of a million items, so instructions alone would not bound a
    /// run's work. Once the limit is spent, `BREAK_LIMIT` sends the thread to its next
    /// check point, which ends the run.
    #[inline]
    pub fn charge_bytes(&mut self, bytes: usize) {
        let Some(left) = &mut self.it.instructions_left else {
            return;
        };
        *left = left.saturating_sub((bytes / BYTES_PER_INSTRUCTION) as u64);
        if *left == 0 {
            self.breaker.fetch_or(BREAK_LIMIT, Ordering::Relaxed);
        }
    }

    /// The error that ends a run whose instruction limit ran out: no `catch` stops it.
    fn limit_reached(&mut self) -> Box<Thrown> {
        let n = self.it.instruction_limit.unwrap_or(0);
        let mut t = self.error("LimitError", format!("the instruction limit of {n} was reached"));
        t.limit = true;
        t
    }

    /// Gives other threads their turn if the policy says so.
    pub(super) fn yield_gil(&mut self) {
        self.park();
        self.it.check_point();
        self.unpark();
    }

    /// Under a policy that counts instructions: this thread's slice ran out. The policy
    /// may hand the GIL on; returns the next slice's length.
    pub(super) fn end_slice(&mut self) -> u32 {
        let here = if self.location_wanted() { self.location() } else { None };
        self.park();
        let next = self.it.end_slice(here);
        self.unpark();
        next
    }

    /// The lock's number for the line this thread is running (its top frame's saved pc).
    fn location(&mut self) -> Option<Location> {
        let frame = self.fiber.frames.last()?;
        let (file, line) = {
            let proto = &self.it.heap.closure(frame.closure).proto;
            let line = proto.lines.get(frame.pc.saturating_sub(1)).copied().unwrap_or(0);
            (proto.file.clone(), line)
        };
        Some(self.it.locations.at(&file, line))
    }

    /// Tells the lock where this thread is, so waits that began meanwhile are charged to
    /// this line.
    fn report_location(&mut self) {
        if let Some(at) = self.location() {
            self.it.report_location(at);
        }
    }

    /// Whether the lock wants to hear where this thread is: a thread began to wait, or
    /// the trace records where each hand-off happened.
    pub(super) fn location_wanted(&self) -> bool {
        self.breaker.load(Ordering::Relaxed) & REPORT_LOCATION != 0 || self.it.gil().tracing()
    }

    /// Tells the lock this thread is at `line` of `file`, if it wants to know: the last
    /// place of an eval loop that is returning (a thread's body ending, which may hand
    /// the GIL on without passing another check point) or of a thread's uncaught error.
    pub fn report_line(&mut self, file: &Rc<str>, line: u32) {
        if self.location_wanted() {
            let at = self.it.locations.at(file, line);
            self.it.report_location(at);
        }
    }

    /// Writes `print`'s pending lines, after other threads' writes under way, with the
    /// GIL released; returns once they are out (so a report on stderr comes after them).
    pub fn flush_output(&mut self) {
        let chunk = self.it.output.take();
        self.release_briefly(move || chunk.write());
    }

    /// Prints `text`; when the buffering says it is time, the bytes go to the writer with
    /// the GIL released, so a full pipe blocks only this thread.
    pub fn write_output(&mut self, text: &str) {
        if let Some(chunk) = self.it.output.push(text) {
            self.release_briefly(move || chunk.write());
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
            traceback: Traceback::default(),
            traced: false,
            exit: None,
            limit: false,
        })
    }

    pub fn type_error(&mut self, message: impl AsRef<str>) -> Box<Thrown> {
        self.error("TypeError", message)
    }

    // ---- memory ----------------------------------------------------------------------

    /// Makes sure `bytes` more may be allocated under the memory limit, collecting first
    /// when that could make room; otherwise `MemoryError`. Charges nothing: the allocation
    /// that follows is charged when it happens.
    ///
    /// The collection may run in the middle of a builtin: it keeps every object allocated
    /// since the last check point (the builtin may hold those in Rust locals only), and
    /// everything older the builtin uses is rooted — its arguments sit in registers. A
    /// builtin that takes an older value out of every root and then reserves must hold
    /// collection off (`gc_inhibit`) meanwhile.
    pub fn reserve(&mut self, bytes: usize) -> VmResult<()> {
        if self.it.heap.fits(bytes) {
            return Ok(());
        }
        if self.it.gc_inhibit == 0 {
            // Straight from the eval loop nothing but the roots holds a value; inside a
            // builtin, what it allocated since the last check point stays.
            self.collect_with(self.builtin_depth == 0);
            if self.it.heap.fits(bytes) {
                return Ok(());
            }
        }
        Err(self.limit_error(bytes as u128))
    }

    /// Collects if `bytes` more would not fit under the limit (and collecting is allowed),
    /// without failing: for work that checks each allocation itself (decoding a message).
    pub fn make_room_if_needed(&mut self, bytes: usize) {
        if !self.it.heap.fits(bytes) && self.it.gc_inhibit == 0 {
            self.collect_with(self.builtin_depth == 0);
        }
    }

    /// `MemoryError` for a value of `bytes` that did not fit: over the limit if there is
    /// one and it stands in the way, else refused by the system.
    pub fn too_big_error(&mut self, bytes: usize) -> Box<Thrown> {
        if self.it.heap.fits(bytes) {
            self.memory_error(bytes as u128)
        } else {
            self.limit_error(bytes as u128)
        }
    }

    /// `MemoryError` for `bytes` that would pass the memory limit.
    fn limit_error(&mut self, bytes: u128) -> Box<Thrown> {
        let limit = self.it.heap.max_bytes().unwrap_or(usize::MAX);
        let msg = format!(
            "cannot allocate {}: the memory limit is {} and {} is in use",
            show_bytes(bytes),
            show_bytes(limit as u128),
            show_bytes(self.it.heap.accounted() as u128)
        );
        self.error("MemoryError", msg)
    }

    /// `MemoryError` for an allocation of `bytes` the system refused (or that no machine
    /// could make).
    pub fn memory_error(&mut self, bytes: u128) -> Box<Thrown> {
        self.error(
            "MemoryError",
            format!("cannot allocate {} (out of memory)", show_bytes(bytes)),
        )
    }

    /// After a buffer failed to grow: `Ok` if a collection made room under the limit, or
    /// ran (or was waived) because the growth asked for one first (the caller tries once
    /// more), else the `MemoryError`.
    #[cold]
    #[inline(never)]
    pub fn make_room(&mut self, e: GrowError) -> VmResult<()> {
        match e {
            GrowError::OverLimit(bytes) => self.reserve(bytes),
            GrowError::Failed(bytes) => Err(self.memory_error(bytes as u128)),
            GrowError::CollectFirst(_) => {
                if self.it.gc_inhibit == 0 {
                    // As in `reserve`: from the eval loop only the roots hold values; inside
                    // a builtin, what it allocated since the last check point stays.
                    self.collect_with(self.builtin_depth == 0);
                } else {
                    self.it.heap.waive_collect_first();
                }
                Ok(())
            }
        }
    }

    /// Runs a heap operation that may need a buffer to grow; when the limit stands in the
    /// way, collects and tries once more.
    pub fn with_room<T>(&mut self, mut op: impl FnMut(&mut Heap) -> Result<T, GrowError>) -> VmResult<T> {
        match op(&mut self.it.heap) {
            Ok(t) => Ok(t),
            Err(e) => {
                self.make_room(e)?;
                match op(&mut self.it.heap) {
                    Ok(t) => Ok(t),
                    Err(GrowError::OverLimit(bytes)) => Err(self.limit_error(bytes as u128)),
                    Err(GrowError::Failed(bytes)) => Err(self.memory_error(bytes as u128)),
                    // A collection just ran or was waived, so this is not asked again.
                    Err(GrowError::CollectFirst(bytes)) => Err(self.memory_error(bytes as u128)),
                }
            }
        }
    }

    /// `xs.append(v)` when the list is full: grows it within the limit, then appends.
    #[cold]
    #[inline(never)]
    pub fn push_growing(&mut self, list: ObjId, v: Value) -> VmResult<()> {
        self.with_room(|heap| heap.list_push(list, v))
    }

    /// `ExtendList`: appends the `count` values at stack slot `at` to list `id`.
    #[inline(never)]
    pub fn extend_list(&mut self, id: ObjId, at: usize, count: usize) -> VmResult<()> {
        self.with_room(|heap| heap.list_reserve(id, count))?;
        let Vm { fiber, it, .. } = self;
        it.heap.list_mut(id).extend_from_slice(&fiber.stack[at..at + count]);
        Ok(())
    }

    /// `AppendStr` when the string's buffer must grow past the limit or cannot.
    #[cold]
    #[inline(never)]
    pub fn append_str_growing(&mut self, head: ObjId, tail: ObjId) -> VmResult<ObjId> {
        self.with_room(|heap| heap.append_str(head, tail))
    }

    /// An empty list with room for `items` values, within the limit and the system's memory.
    pub fn list_with_capacity(&mut self, items: u128) -> VmResult<Vec<Value>> {
        let bytes = items.saturating_mul(crate::heap::ITEM_BYTES as u128);
        let Ok(n) = usize::try_from(bytes) else {
            return Err(self.memory_error(bytes));
        };
        self.reserve(n)?;
        let mut out = Vec::new();
        match out.try_reserve_exact(items as usize) {
            Ok(()) => Ok(out),
            Err(_) => Err(self.memory_error(bytes)),
        }
    }

    /// An empty string with room for `bytes` bytes, within the limit and the system's memory.
    pub fn string_with_capacity(&mut self, bytes: u128) -> VmResult<String> {
        let Ok(n) = usize::try_from(bytes) else {
            return Err(self.memory_error(bytes));
        };
        self.reserve(n)?;
        let mut out = String::new();
        match out.try_reserve_exact(n) {
            Ok(()) => Ok(out),
            Err(_) => Err(self.memory_error(bytes)),
        }
    }

    /// A string value made from `text`, whose buffer the heap keeps (a short text is copied
    /// into its slot). A long text is checked first: should the buffer be shrunk to fit, or
    /// later copied into a shared one, that must not be the allocation that fails.
    pub fn str_value(&mut self, text: String) -> VmResult<Value> {
        const CHECKED: usize = 1 << 20;
        if text.len() >= CHECKED {
            self.reserve(text.len())?;
            let mut probe: Vec<u8> = Vec::new();
            if probe.try_reserve_exact(text.len() + 64).is_err() {
                return Err(self.memory_error(text.len() as u128));
            }
        }
        Ok(self.it.heap.new_string(text))
    }

    pub(super) fn thrown(&self, value: Value) -> Box<Thrown> {
        // An error thrown again keeps the traceback of where it was first thrown.
        let traceback = match value {
            Value::Obj(id) => self.it.heap.error(id).map(|e| e.traceback.clone()).unwrap_or_default(),
            _ => Traceback::default(),
        };
        let traced = !traceback.is_empty();
        Box::new(Thrown {
            value,
            traceback,
            traced,
            exit: None,
            limit: false,
        })
    }

    /// Where this thread's calls are now, outermost first: each frame's function and the
    /// line it is on. A run of frames of one function at one line (a recursion) is stored
    /// once, so this costs memory by the number of distinct lines, not of frames.
    pub(crate) fn traceback(&self) -> Traceback {
        let mut last: Option<(ObjId, usize)> = None;
        let mut runs: Vec<TbRun> = Vec::new();
        for f in &self.fiber.frames {
            let closure = self.it.heap.closure(f.closure);
            // Frames of the same closure at the same pc are the same line: counted without
            // building an entry.
            if let (Some(run), Some((c, pc))) = (runs.last_mut(), last)
                && (c == f.closure || Rc::ptr_eq(&self.it.heap.closure(c).proto, &closure.proto))
                && pc == f.pc
                && run.count < u32::MAX
            {
                run.count += 1;
                continue;
            }
            last = Some((f.closure, f.pc));
            let proto = &closure.proto;
            let entry = TbEntry {
                file: proto.file.clone(),
                line: proto.lines.get(f.pc.saturating_sub(1)).copied().unwrap_or(0),
                func: proto.display_name(),
            };
            match runs.last_mut() {
                Some(run) if run.entry == entry && run.count < u32::MAX => run.count += 1,
                _ => runs.push(TbRun { entry, count: 1 }),
            }
        }
        Traceback::from_runs(runs)
    }

    // ---- check points ----------------------------------------------------------------

    /// Throws `Interrupt` in the main thread if Ctrl-C was pressed (for blocking waits),
    /// and ends a spawned interpreter's main thread with the code one of its threads
    /// passed to `exit`.
    pub fn check_interrupt(&mut self) -> VmResult<()> {
        let bits = self.breaker.load(Ordering::Relaxed);
        if bits & (BREAK_INTERRUPT | BREAK_EXIT) == 0 || !self.is_main_thread() {
            return Ok(());
        }
        if bits & BREAK_EXIT != 0 {
            self.breaker.fetch_and(!BREAK_EXIT, Ordering::Relaxed);
            if let Some(code) = self.it.exit_request {
                let mut t = self.error("SystemExit", format!("exit({code})"));
                t.exit = Some(code);
                return Err(t);
            }
        }
        if bits & BREAK_INTERRUPT != 0 {
            self.breaker.fetch_and(!BREAK_INTERRUPT, Ordering::Relaxed);
            return Err(self.error("Interrupt", "interrupted by Ctrl-C"));
        }
        Ok(())
    }

    /// Forgets a Ctrl-C not yet delivered (it was meant for code that has ended).
    pub fn discard_interrupt(&mut self) {
        self.breaker.fetch_and(!BREAK_INTERRUPT, Ordering::Relaxed);
    }

    /// The slow path of a check point: deliver Ctrl-C (to the main thread), collect if
    /// due, give the GIL up if another thread asked for it.
    #[cold]
    #[inline(never)]
    pub(super) fn check_point(&mut self) -> VmResult<()> {
        self.check_interrupt()?;
        let bits = self.breaker.load(Ordering::Relaxed);
        let collecting = bits & BREAK_GC != 0 && self.it.gc_inhibit == 0;
        if collecting {
            // This charges the instruction limit for what was allocated since the last one.
            self.collect();
        }
        if bits & BREAK_LIMIT != 0 {
            self.breaker.fetch_and(!BREAK_LIMIT, Ordering::Relaxed);
        }
        if (collecting || bits & BREAK_LIMIT != 0) && self.it.instructions_left == Some(0) {
            return Err(self.limit_reached());
        }
        if collecting {
            // Small objects are charged without a check each; here, after the collection,
            // is where a heap that stays over its limit says so.
            if self.it.heap.over_limit() {
                let live = self.it.heap.accounted() as u128;
                let limit = self.it.heap.max_bytes().unwrap_or(usize::MAX) as u128;
                let msg = format!(
                    "the memory limit is {} and the live data take {}",
                    show_bytes(limit),
                    show_bytes(live)
                );
                return Err(self.error("MemoryError", msg));
            }
        }
        if bits & REPORT_LOCATION != 0 || (bits & DROP_REQUEST != 0 && self.it.gil().tracing()) {
            self.report_location();
        }
        if bits & DROP_REQUEST != 0 {
            self.yield_gil();
        }
        Ok(())
    }

    /// Runs the collector with this thread's fiber and the globals as roots: at a check
    /// point, where nothing else holds a value.
    pub fn collect(&mut self) {
        self.collect_with(true);
    }

    /// `at_check_point`: nothing outside the roots holds a value. Otherwise (inside a
    /// builtin) the objects allocated since the last such collection stay, since the
    /// builtin may hold them in Rust locals.
    fn collect_with(&mut self, at_check_point: bool) {
        // Everything allocated since the last collection is work for the instruction limit.
        self.charge_bytes(self.it.heap.bytes_since_gc());
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
            interpreters,
            ..
        } = &mut *self.it;
        // Threads and children whose outcome was taken (or that returned, for a thread)
        // are roots no more: the program reaches them only through values it still holds.
        threads.retain(|&t| match heap.get(t) {
            Obj::Thread(th) => match &th.outcome {
                None => true,
                Some(Outcome::Threw { .. }) => !th.observed,
                Some(Outcome::Returned(_)) => false,
            },
            _ => false,
        });
        processes.retain(|&p| matches!(heap.get(p), Obj::Process(pr) if !pr.observed));
        let roots = self
            .fiber
            .roots()
            .chain(parked.iter().flat_map(|(_, f)| f.roots()))
            .chain(
                threads
                    .iter()
                    .chain(processes.iter())
                    .chain(interpreters.iter())
                    .chain(parent_channel.iter())
                    .map(|t| Value::Obj(*t)),
            )
            .chain(globals.values.iter().copied())
            .chain(repl_print.iter().copied());
        heap.collect(roots, at_check_point);
    }

    // ---- helpers shared by ops and builtins ------------------------------------------

    pub fn new_str<S: AsRef<str> + Into<Rc<str>>>(&mut self, s: S) -> Value {
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
        s.push_str(&t.traceback.format());
        s.push_str(&self.error_line(t.value));
        s.push('\n');
        s
    }

    /// Whether `t` is the `Interrupt` that Ctrl-C throws.
    pub fn is_interrupt(&self, t: &Thrown) -> bool {
        match t.value {
            Value::Obj(id) => self.it.heap.error(id).is_some_and(|e| &*e.kind == "Interrupt"),
            _ => false,
        }
    }

    /// `Kind: message` for an error value, `Error: str(v)` for anything else thrown.
    pub fn error_line(&self, v: Value) -> String {
        match v {
            Value::Obj(id) if self.it.heap.error(id).is_some() => self.it.heap.display(v),
            other => format!("Error: {}", self.it.heap.display(other)),
        }
    }
}

/// A byte count for a message: `512 bytes`, `64.0 MB`, `32.0 GB` (powers of 1024, as
/// `--max-memory` reads them).
pub fn show_bytes(n: u128) -> String {
    const UNITS: [&str; 6] = ["KB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut x = n as f64 / 1024.0;
    let mut unit = 0;
    while x >= 1024.0 && unit + 1 < UNITS.len() {
        x /= 1024.0;
        unit += 1;
    }
    format!("{x:.1} {}", UNITS[unit])
}
