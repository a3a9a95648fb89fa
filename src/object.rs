//! The data of every kind of toy object, in one place (as clox's `object.h`): strings,
//! lists, maps, closures and cells, ranges and errors, and the runtime's own objects —
//! threads, locks and the other synchronisation primitives, queues, sockets, processes and
//! channels. Their behaviour lives beside the subsystem that gives it (`threads/`,
//! `sync/`, `net.rs`, `process/`); here is only what they hold, how the collector walks
//! them, and how the nameless ones print.
//!
//! Invariant: an object holds interpreter values only in the fields its `trace` visits,
//! so the collector sees every reference an object makes. Anything shared with code that
//! runs without the GIL (a `Signal`, a socket, a thread handle) is `Send + Sync` and holds
//! no values.

use crate::bytecode::Proto;
use crate::dict::Dict;
use crate::link::Link;
pub use crate::list::ListObj;
use crate::signal::Signal;
use crate::value::{ObjId, Value};
use crate::wire::Encoder;
use std::collections::VecDeque;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::Arc;

/// A map object: toy's insertion-ordered dictionary.
pub type MapObj = Dict;

/// Strings up to this many bytes keep their text in their heap slot: no allocation of
/// their own, so a short string costs its slot and nothing more.
pub const INLINE_STR_MAX: usize = 22;

/// Where a string's text lives.
#[derive(Debug)]
enum Text {
    /// A short string's bytes, in the slot: the first `len` of `bytes`, always valid UTF-8
    /// (they are only ever copied from a `&str` of that length).
    Inline { len: u8, bytes: [u8; INLINE_STR_MAX] },
    /// A longer string made by joining, slicing or formatting: the buffer it was built in,
    /// kept without copying (until a map key wants to share it).
    Owned(Box<str>),
    /// A longer string, a constant of compiled code, or one whose text a map key shares
    /// (`StrObj::share`).
    Shared(Rc<str>),
    /// A string a string-building local is still growing (`AppendStr`); only that local's
    /// register refers to the object until `Freeze`. Boxed, to keep the slot small: a
    /// `String` inline would make every slot 8 bytes bigger for a state few strings are in.
    #[allow(clippy::box_collection)]
    Building(Box<String>),
}

/// An immutable string with its length in code points, so ASCII indexing is O(1).
#[derive(Debug)]
pub struct StrObj {
    text: Text,
    pub chars: usize,
    /// The string's hash as a map key, computed on first use (0 = not yet): field names and
    /// other constant keys are hashed once, not on every lookup.
    pub hash: std::cell::Cell<u64>,
}

// A string slot is no bigger than a map's (see `Obj`'s size).
const _: () = assert!(std::mem::size_of::<StrObj>() <= 40);

fn count_chars(s: &str) -> usize {
    if s.is_ascii() { s.len() } else { s.chars().count() }
}

impl StrObj {
    /// A string sharing `s` (constants keep their text shared, so a map key made from a
    /// literal is the same text in memory as the field name; see `heap::same_text`).
    pub fn new(s: Rc<str>) -> StrObj {
        let chars = count_chars(&s);
        StrObj::with_chars(s, chars)
    }

    /// A string sharing `s`, whose length in code points the caller already knows.
    pub fn with_chars(s: Rc<str>, chars: usize) -> StrObj {
        StrObj::from_text(Text::Shared(s), chars)
    }

    /// A string holding a copy of `s`: in its slot if it is short, else in a new `Rc`.
    #[inline]
    pub fn copied(s: &str) -> StrObj {
        StrObj::copied_with_chars(s, count_chars(s))
    }

    /// `copied` for a caller that already knows the length in code points.
    #[inline]
    pub fn copied_with_chars(s: &str, chars: usize) -> StrObj {
        match inline_text(s) {
            Some(text) => StrObj::from_text(text, chars),
            None => StrObj::with_chars(Rc::from(s), chars),
        }
    }

    /// `a` followed by `b`, when that fits in the slot (else None): the bytes are copied
    /// straight in, with no `String` between and no UTF-8 check (two strings' texts one
    /// after the other are text).
    pub fn joined_short(a: &StrObj, b: &StrObj) -> Option<StrObj> {
        let text = inline_parts(&[a.as_bytes(), b.as_bytes()])?;
        Some(StrObj::from_text(text, a.chars + b.chars))
    }

    /// A string of `s`, taking its buffer if it is long (no copy when it has no spare
    /// capacity), or copying it into the slot if it is short.
    pub fn owned(s: String) -> StrObj {
        let chars = count_chars(&s);
        match inline_text(&s) {
            Some(text) => StrObj::from_text(text, chars),
            None => StrObj::from_text(Text::Owned(s.into_boxed_str()), chars),
        }
    }

    /// A string being built by a string-building local, starting as `text`.
    pub fn building(text: String, chars: usize) -> StrObj {
        StrObj::from_text(Text::Building(Box::new(text)), chars)
    }

    fn from_text(text: Text, chars: usize) -> StrObj {
        StrObj {
            text,
            chars,
            hash: std::cell::Cell::new(0),
        }
    }

    pub fn is_ascii(&self) -> bool {
        self.chars == self.text().len()
    }

    /// The string's text, whether in the slot, shared or still being built.
    #[inline]
    pub fn text(&self) -> &str {
        match &self.text {
            Text::Inline { len, bytes } => match std::str::from_utf8(&bytes[..*len as usize]) {
                Ok(s) => s,
                Err(_) => unreachable!("inline string bytes are copied from a str"),
            },
            Text::Owned(s) => s,
            Text::Shared(s) => s,
            Text::Building(b) => b.as_str(),
        }
    }

    /// The text's bytes: like `text`, without checking that slot bytes are UTF-8 (for
    /// callers that only copy or measure them).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.text {
            Text::Inline { len, bytes } => &bytes[..*len as usize],
            Text::Owned(s) => s.as_bytes(),
            Text::Shared(s) => s.as_bytes(),
            Text::Building(b) => b.as_bytes(),
        }
    }

    /// Copies the text into `out` at byte `at` and returns where it ends there. `out` must
    /// hold `INLINE_STR_MAX` bytes from `at` on whatever the text's length: a text in the
    /// slot is copied as its whole fixed-size array, one move of a known size instead of a
    /// call to copy the exact length (which costs more than the copy for a short piece);
    /// the bytes past the end are overwritten by whatever comes next, or cut off.
    #[inline]
    pub fn copy_into(&self, out: &mut [u8], at: usize) -> usize {
        match &self.text {
            Text::Inline { len, bytes } => {
                out[at..at + INLINE_STR_MAX].copy_from_slice(bytes);
                at + *len as usize
            }
            _ => {
                let b = self.as_bytes();
                out[at..at + b.len()].copy_from_slice(b);
                at + b.len()
            }
        }
    }

    /// Whether a string-building local is still growing it.
    #[inline]
    pub fn is_building(&self) -> bool {
        matches!(self.text, Text::Building(_))
    }

    /// The buffer of a string being built.
    pub fn building_mut(&mut self) -> Option<&mut String> {
        match &mut self.text {
            Text::Building(b) => Some(&mut **b),
            _ => None,
        }
    }

    /// Ends building: the text becomes immutable (in the slot if it is short).
    pub fn freeze(&mut self) {
        if let Text::Building(b) = &mut self.text {
            let b = std::mem::take(&mut **b);
            self.text = inline_text(&b).unwrap_or_else(|| Text::Owned(b.into_boxed_str()));
        }
    }

    /// The text as an `Rc`, for a map key or a caller that must hold it while the heap
    /// changes: the shared one if there is one, else a new copy.
    pub fn to_rc(&self) -> Rc<str> {
        match &self.text {
            Text::Shared(s) => s.clone(),
            _ => Rc::from(self.text()),
        }
    }

    /// The text as an `Rc` that this string shares from now on: a string used as a map
    /// key again and again (the same key in map after map) then costs one copy, not one
    /// per map. A string being built is copied and not changed.
    pub fn share(&mut self) -> Rc<str> {
        match &self.text {
            Text::Shared(s) => s.clone(),
            Text::Building(b) => Rc::from(b.as_str()),
            Text::Inline { .. } | Text::Owned(_) => {
                let rc: Rc<str> = Rc::from(self.text());
                self.text = Text::Shared(rc.clone());
                rc
            }
        }
    }

    /// The bytes the text holds outside the slot (for the collector's pacing).
    #[inline]
    pub fn heap_bytes(&self) -> usize {
        match &self.text {
            Text::Inline { .. } => 0,
            Text::Owned(s) => s.len(),
            Text::Shared(s) => s.len(),
            Text::Building(b) => b.capacity(),
        }
    }
}

/// `s` stored in a slot, if it is short enough.
fn inline_text(s: &str) -> Option<Text> {
    inline_parts(&[s.as_bytes()])
}

/// `parts` one after the other, stored in a slot if they fit. Each part must be the bytes
/// of a whole text (so the slot keeps valid UTF-8).
fn inline_parts(parts: &[&[u8]]) -> Option<Text> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    if len > INLINE_STR_MAX {
        return None;
    }
    let mut bytes = [0u8; INLINE_STR_MAX];
    let mut at = 0;
    for part in parts {
        bytes[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    Some(Text::Inline { len: len as u8, bytes })
}

#[derive(Debug)]
pub struct Closure {
    pub proto: Rc<Proto>,
    /// The cells this closure captured, in the order of `proto.captures`.
    pub upvals: Box<[ObjId]>,
    /// The values of its last `arity - required` parameters when a call leaves them out,
    /// computed when the `fn` ran.
    pub defaults: Box<[Value]>,
}

/// One line of a traceback: where a frame was when the error passed through it.
#[derive(Clone, Debug, PartialEq)]
pub struct TbEntry {
    pub file: Rc<str>,
    pub line: u32,
    pub func: Rc<str>,
}

/// One traceback line as printed: `  file:line in func`, or `  <native> in func` for a
/// host function (line 0).
pub fn format_tb_entry(e: &TbEntry) -> String {
    if e.line == 0 {
        format!("  {} in {}", e.file, e.func)
    } else {
        format!("  {}:{} in {}", e.file, e.line, e.func)
    }
}

/// A run of `count` identical traceback lines (a recursion), stored once.
#[derive(Clone, Debug, PartialEq)]
pub struct TbRun {
    pub entry: TbEntry,
    pub count: u32,
}

/// The calls an error passed through, outermost first. Runs of identical lines (deep
/// recursion) are stored once with their count, and the whole is shared between the
/// error value, the error in flight and a thread's outcome — cloning it copies nothing —
/// so an error caught ten thousand calls deep costs a few lines of memory, not ten
/// thousand.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Traceback(Option<Rc<[TbRun]>>);

/// How many identical lines a traceback shows before it says how many more there were
/// (Python's `[Previous line repeated N more times]` after three).
const SHOWN_REPEATS: u32 = 3;

impl Traceback {
    /// The traceback of these lines, outermost first.
    pub fn from_entries(entries: impl IntoIterator<Item = TbEntry>) -> Traceback {
        let mut runs: Vec<TbRun> = Vec::new();
        for entry in entries {
            match runs.last_mut() {
                Some(run) if run.entry == entry && run.count < u32::MAX => run.count += 1,
                _ => runs.push(TbRun { entry, count: 1 }),
            }
        }
        if runs.is_empty() {
            Traceback(None)
        } else {
            Traceback(Some(runs.into()))
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The runs of identical lines, outermost first.
    pub fn runs(&self) -> &[TbRun] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// Every line, runs expanded (for sending a traceback to another process).
    pub fn entries(&self) -> impl Iterator<Item = &TbEntry> {
        self.runs()
            .iter()
            .flat_map(|r| std::iter::repeat_n(&r.entry, r.count as usize))
    }

    /// The traceback of these runs, outermost first (neighbours may repeat a line: they
    /// are merged).
    pub fn from_runs(runs: Vec<TbRun>) -> Traceback {
        if runs.is_empty() {
            Traceback(None)
        } else {
            Traceback(Some(runs.into()))
        }
    }

    /// This traceback with one more line at its innermost end (a host function's own).
    pub fn with(&self, entry: TbEntry) -> Traceback {
        let mut runs = self.runs().to_vec();
        match runs.last_mut() {
            Some(run) if run.entry == entry && run.count < u32::MAX => run.count += 1,
            _ => runs.push(TbRun { entry, count: 1 }),
        }
        Traceback(Some(runs.into()))
    }

    /// The bytes it holds (for the collector's pacing).
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of_val(self.runs())
    }

    /// The lines as printed, each ending in a newline: a run of identical lines is shown
    /// three times, then as `  [previous line repeated N more times]`.
    pub fn format(&self) -> String {
        let mut out = String::new();
        for run in self.runs() {
            let line = format_tb_entry(&run.entry);
            for _ in 0..run.count.min(SHOWN_REPEATS) {
                out.push_str(&line);
                out.push('\n');
            }
            if run.count > SHOWN_REPEATS {
                let more = run.count - SHOWN_REPEATS;
                let times = if more == 1 { "time" } else { "times" };
                out.push_str(&format!("  [previous line repeated {more} more {times}]\n"));
            }
        }
        out
    }
}

#[derive(Debug)]
pub struct ErrorObj {
    pub kind: Rc<str>,
    pub message: Rc<str>,
    /// Filled in when the error is first thrown; kept when it is thrown again.
    pub traceback: Traceback,
}

#[derive(Debug, Clone, Copy)]
pub struct RangeObj {
    pub start: i64,
    pub stop: i64,
    pub step: i64,
}

impl RangeObj {
    /// The three registers of a `for` loop over the range, as `IterNext` and `IterLoop`
    /// step them: the next number, where to stop, the step.
    pub fn loop_state(&self) -> [Value; 3] {
        [Value::Int(self.start), Value::Int(self.stop), Value::Int(self.step)]
    }

    /// How many numbers the range yields. Up to 2**64 - 1 (`range(-2**63, 2**63 - 1)`),
    /// so more than an `int` can hold: callers that need an `int` must check.
    pub fn len(&self) -> u64 {
        let RangeObj { start, stop, step } = *self;
        let (span, step) = if step > 0 {
            (stop as i128 - start as i128, step as i128)
        } else {
            (start as i128 - stop as i128, -(step as i128))
        };
        if span <= 0 {
            0
        } else {
            ((span + step - 1) / step) as u64
        }
    }

    /// The `i`-th number (negative `i` counts from the end), if there is one.
    pub fn get(&self, i: i64) -> Option<i64> {
        let n = self.len() as i128;
        let j = if i < 0 { i as i128 + n } else { i as i128 };
        (0..n)
            .contains(&j)
            .then(|| (self.start as i128 + j * self.step as i128) as i64)
    }
}

#[derive(Debug)]
pub enum Obj {
    Str(StrObj),
    List(ListObj),
    Map(MapObj),
    Func(Closure),
    /// A captured variable, shared by reference between a frame and its closures.
    Cell(Value),
    Range(RangeObj),
    Error(Box<ErrorObj>),
    Thread(Box<ThreadObj>),
    Lock(LockObj),
    RLock(RLockObj),
    Condition(Box<ConditionObj>),
    Event(EventObj),
    Semaphore(SemaphoreObj),
    Barrier(Box<BarrierObj>),
    Queue(Box<QueueObj>),
    Listener(ListenerObj),
    Conn(ConnObj),
    Process(Box<ProcessObj>),
    Channel(Box<ChannelObj>),
    Interpreter(Box<InterpreterObj>),
    Module(Box<ModuleObj>),
    /// A slot on the free list, holding the index of the next free slot (`u32::MAX`: none),
    /// so the list costs no memory beyond the slots themselves.
    Free(u32),
}

// Every object slot is this big, so the kinds bigger than a map (threads, processes,
// errors, queues, barriers) live in a box: the collector's sweep reads every slot, and a
// program of a million short strings holds a million slots.
const _: () = assert!(std::mem::size_of::<Obj>() <= 48);

/// What kind of value something is: the immediates and every object kind. `type(x)`
/// prints its name, and method tables are indexed by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Nil,
    Bool,
    Int,
    Float,
    Str,
    List,
    Map,
    Func,
    Builtin,
    Cell,
    Range,
    Error,
    Thread,
    Lock,
    RLock,
    Condition,
    Event,
    Semaphore,
    Barrier,
    Queue,
    Listener,
    Conn,
    Process,
    Channel,
    Interpreter,
    Module,
}

impl Kind {
    /// How many kinds there are (the height of a method table).
    pub const COUNT: usize = Kind::Module as usize + 1;

    /// The name `type(x)` returns.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Nil => "nil",
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Float => "float",
            Kind::Str => "str",
            Kind::List => "list",
            Kind::Map => "map",
            Kind::Func => "fn",
            Kind::Builtin => "builtin",
            Kind::Cell => "cell",
            Kind::Range => "range",
            Kind::Error => "error",
            Kind::Thread => "thread",
            Kind::Lock => "lock",
            Kind::RLock => "rlock",
            Kind::Condition => "condition",
            Kind::Event => "event",
            Kind::Semaphore => "semaphore",
            Kind::Barrier => "barrier",
            Kind::Queue => "queue",
            Kind::Listener => "listener",
            Kind::Conn => "conn",
            Kind::Process => "process",
            Kind::Channel => "channel",
            Kind::Interpreter => "interpreter",
            Kind::Module => "module",
        }
    }
}

impl Obj {
    /// The object's kind. A freed slot is never reachable from a value, so it has none;
    /// asking is a bug in the VM.
    pub fn kind(&self) -> Kind {
        match self {
            Obj::Str(_) => Kind::Str,
            Obj::List(_) => Kind::List,
            Obj::Map(_) => Kind::Map,
            Obj::Func(_) => Kind::Func,
            Obj::Cell(_) => Kind::Cell,
            Obj::Range(_) => Kind::Range,
            Obj::Error(_) => Kind::Error,
            Obj::Thread(_) => Kind::Thread,
            Obj::Lock(_) => Kind::Lock,
            Obj::RLock(_) => Kind::RLock,
            Obj::Condition(_) => Kind::Condition,
            Obj::Event(_) => Kind::Event,
            Obj::Semaphore(_) => Kind::Semaphore,
            Obj::Barrier(_) => Kind::Barrier,
            Obj::Queue(_) => Kind::Queue,
            Obj::Listener(_) => Kind::Listener,
            Obj::Conn(_) => Kind::Conn,
            Obj::Process(_) => Kind::Process,
            Obj::Channel(_) => Kind::Channel,
            Obj::Interpreter(_) => Kind::Interpreter,
            Obj::Module(_) => Kind::Module,
            Obj::Free(_) => unreachable!("a value names a freed heap slot"),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Obj::Free(_) => "freed",
            other => other.kind().name(),
        }
    }

    /// How objects without a literal syntax print.
    pub fn write_display(&self, out: &mut String) {
        match self {
            Obj::Range(r) => {
                if r.step == 1 {
                    out.push_str(&format!("range({}, {})", r.start, r.stop));
                } else {
                    out.push_str(&format!("range({}, {}, {})", r.start, r.stop, r.step));
                }
            }
            Obj::Error(e) => {
                out.push_str(&e.kind);
                out.push_str(": ");
                out.push_str(&e.message);
            }
            Obj::Thread(t) => out.push_str(&format!("<thread {}>", t.tid)),
            Obj::Process(p) => out.push_str(&format!("<process {}>", p.pid)),
            Obj::Interpreter(i) => out.push_str(&format!("<interpreter {}>", i.number)),
            Obj::Module(m) => out.push_str(&format!("<module {}>", m.name)),
            other => {
                out.push('<');
                out.push_str(other.type_name());
                out.push('>');
            }
        }
    }

    /// Calls `f` on every value this object refers to.
    pub fn trace(&self, mut f: impl FnMut(Value)) {
        match self {
            Obj::List(items) => items.iter().copied().for_each(f),
            Obj::Map(m) => m.values().copied().for_each(f),
            Obj::Func(c) => {
                for v in c.proto.consts.iter() {
                    f(*v);
                }
                for cell in c.upvals.iter() {
                    f(Value::Obj(*cell));
                }
                c.defaults.iter().copied().for_each(&mut f);
            }
            Obj::Cell(v) => f(*v),
            Obj::Thread(t) => {
                if let Some((func, args)) = &t.start {
                    f(*func);
                    args.iter().copied().for_each(&mut f);
                }
                match &t.outcome {
                    Some(Outcome::Returned(v)) => f(*v),
                    Some(Outcome::Threw { value, .. }) => f(*value),
                    None => {}
                }
            }
            Obj::Queue(q) => q.items.iter().copied().for_each(f),
            Obj::Condition(c) => f(Value::Obj(c.lock)),
            Obj::Process(p) => match &p.outcome {
                Some(Outcome::Returned(v)) => f(*v),
                Some(Outcome::Threw { value, .. }) => f(*value),
                None => {}
            },
            Obj::Interpreter(i) => match &i.outcome {
                Some(Outcome::Returned(v)) => f(*v),
                Some(Outcome::Threw { value, .. }) => f(*value),
                None => {}
            },
            Obj::Str(_)
            | Obj::Range(_)
            | Obj::Error(_)
            | Obj::Lock(_)
            | Obj::RLock(_)
            | Obj::Event(_)
            | Obj::Semaphore(_)
            | Obj::Barrier(_)
            | Obj::Listener(_)
            | Obj::Conn(_)
            | Obj::Channel(_)
            | Obj::Module(_)
            | Obj::Free(_) => {}
        }
    }
}

/// How a thread's function ended.
#[derive(Debug)]
pub enum Outcome {
    Returned(Value),
    Threw {
        value: Value,
        traceback: Traceback,
        report: String,
    },
}

#[derive(Debug)]
pub struct ThreadObj {
    pub tid: u32,
    /// The function and arguments, until the thread takes them.
    pub start: Option<(Value, Vec<Value>)>,
    pub outcome: Option<Outcome>,
    /// A `join` saw the outcome (so a failure is not reported again at exit).
    pub observed: bool,
    pub done: Arc<Signal>,
    /// Bumped by the new thread once it runs its own code (see `before_fork`).
    pub started: Option<Arc<Signal>>,
}

#[derive(Debug)]
pub struct LockObj {
    /// The thread holding the lock.
    pub owner: Option<u32>,
    pub signal: Arc<Signal>,
}

/// A lock its holder may take again: free once released as many times as acquired.
#[derive(Debug)]
pub struct RLockObj {
    pub owner: Option<u32>,
    /// How many times the owner has acquired it (0 when free).
    pub depth: u64,
    pub signal: Arc<Signal>,
}

/// One thread waiting in `Condition.wait`, in the order they began to wait.
#[derive(Debug)]
pub struct CondWaiter {
    pub ticket: u64,
    pub notified: bool,
}

#[derive(Debug)]
pub struct ConditionObj {
    /// Its `Lock` or `RLock`.
    pub lock: ObjId,
    pub waiters: VecDeque<CondWaiter>,
    pub next_ticket: u64,
    pub signal: Arc<Signal>,
}

#[derive(Debug)]
pub struct EventObj {
    pub flag: bool,
    /// How many times it has been set: a waiter returns once this moves, even if the
    /// event was cleared again before it ran.
    pub sets: u64,
    pub signal: Arc<Signal>,
}

#[derive(Debug)]
pub struct SemaphoreObj {
    pub permits: u64,
    /// The permits each thread has taken and not given back (for deadlock reports; a
    /// release by a thread that took none adds a permit without taking one from anyone).
    pub holders: Vec<(u32, u64)>,
    pub signal: Arc<Signal>,
}

#[derive(Debug)]
pub struct BarrierObj {
    pub parties: u64,
    /// The next index never given out this round, and the indices given back by waiters
    /// that left it with an error (handed out again first), so every index of a round is
    /// different.
    pub next_index: u64,
    pub returned: Vec<u64>,
    /// Bumped when a round completes.
    pub round: u64,
    pub signal: Arc<Signal>,
}

#[derive(Debug)]
pub struct QueueObj {
    pub items: VecDeque<Value>,
    /// 0 means unbounded.
    pub maxsize: usize,
    pub signal: Arc<Signal>,
}

#[derive(Debug)]
pub struct ListenerObj {
    pub socket: Arc<TcpListener>,
    pub port: u16,
}

#[derive(Debug)]
pub struct ConnObj {
    pub socket: Option<Arc<TcpStream>>,
    /// The start of a character whose remaining bytes have not arrived yet.
    pub partial: Vec<u8>,
}

/// One end of a socket pair, with its reusable encode and read buffers.
pub struct Channel {
    pub stream: Option<Arc<UnixStream>>,
    pub encoder: Option<Encoder>,
    pub buf: Option<Vec<u8>>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.stream.is_some() {
            "Channel(open)"
        } else {
            "Channel(closed)"
        })
    }
}

impl Channel {
    pub fn new(stream: UnixStream) -> Channel {
        Channel {
            stream: Some(Arc::new(stream)),
            encoder: Some(Encoder::new()),
            buf: Some(Vec::new()),
        }
    }

    /// The bytes of the read buffer, which grows to the longest message received.
    pub fn approx_bytes(&self) -> usize {
        self.buf.as_ref().map_or(0, Vec::capacity)
    }
}

/// How a child ended, as `waitpid` reported it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

#[derive(Debug)]
pub struct ProcessObj {
    pub pid: i32,
    pub channel: Channel,
    /// Messages from the child's `parent().send` that arrived while waiting for its result.
    pub pending: VecDeque<Vec<u8>>,
    /// The child's result or error, once its final frame arrived (or it died).
    pub outcome: Option<Outcome>,
    pub status: Option<ExitStatus>,
    /// A `join` saw the outcome.
    pub observed: bool,
}

/// The child's end of the channel to its parent: a socket in a forked child, a [`Link`]
/// in a spawned interpreter (its `channel` is then closed and unused).
#[derive(Debug)]
pub struct ChannelObj {
    pub channel: Channel,
    pub link: Option<Arc<Link>>,
}

/// An interpreter made by `spawn_interpreter`, as its spawner sees it.
#[derive(Debug)]
pub struct InterpreterObj {
    /// Its number in the family (`<interpreter N>`, the trace's process id).
    pub number: u32,
    pub link: Arc<Link>,
    /// Its OS thread, joined once it has ended.
    pub handle: Option<std::thread::JoinHandle<()>>,
    /// Its function's result or error, once its final frame was decoded.
    pub outcome: Option<Outcome>,
    /// Why it ended without a final frame (`exit`, a failure to start).
    pub death: Option<String>,
    /// A `join` saw the outcome.
    pub observed: bool,
}

/// A module: its name (as first imported) and its fields, each one of the module's own
/// global slots, read through to the slot's current value.
#[derive(Debug)]
pub struct ModuleObj {
    pub name: Rc<str>,
    pub fields: rustc_hash::FxHashMap<Rc<str>, u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: u32) -> TbEntry {
        TbEntry {
            file: "t.toy".into(),
            line,
            func: if line == 9 { "<main>" } else { "f" }.into(),
        }
    }

    #[test]
    fn runs_of_identical_lines_are_stored_once_and_printed_collapsed() {
        let lines = std::iter::once(9).chain(std::iter::repeat_n(3, 10_000)).chain([2]);
        let tb = Traceback::from_entries(lines.map(entry));
        assert_eq!(tb.runs().len(), 3);
        assert_eq!(tb.entries().count(), 10_002);
        assert_eq!(
            tb.format(),
            "  t.toy:9 in <main>\n  t.toy:3 in f\n  t.toy:3 in f\n  t.toy:3 in f\n  \
             [previous line repeated 9997 more times]\n  t.toy:2 in f\n"
        );
        let copy = tb.clone();
        assert!(matches!((&tb.0, &copy.0), (Some(a), Some(b)) if Rc::ptr_eq(a, b)));
        let native = tb.with(TbEntry {
            file: "<native>".into(),
            line: 0,
            func: "g".into(),
        });
        assert!(native.format().ends_with("  <native> in g\n"));
        assert!(Traceback::from_entries([]).is_empty());
        let four = Traceback::from_entries([3, 3, 3, 3].map(entry));
        assert!(four.format().ends_with("  [previous line repeated 1 more time]\n"));
    }
}
