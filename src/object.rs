//! The data of every kind of toy object, in one place (as clox's `object.h`): strings,
//! lists, maps, closures and cells, ranges and errors, and the runtime's own objects —
//! threads, locks, queues, sockets, processes and channels. Their behaviour lives beside
//! the subsystem that gives it (`threads.rs`, `net.rs`, `process.rs`); here is only what
//! they hold, how the collector walks them, and how the nameless ones print.
//!
//! Invariant: an object holds interpreter values only in the fields its `trace` visits,
//! so the collector sees every reference an object makes. Anything shared with code that
//! runs without the GIL (a `Signal`, a socket, a thread handle) is `Send + Sync` and holds
//! no values.

use crate::bytecode::Proto;
use crate::dict::Dict;
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

/// An immutable string with its length in code points, so ASCII indexing is O(1).
#[derive(Debug)]
pub struct StrObj {
    pub s: Rc<str>,
    pub chars: usize,
    /// The string's hash as a map key, computed on first use (0 = not yet): field names and
    /// other constant keys are hashed once, not on every lookup.
    pub hash: std::cell::Cell<u64>,
    /// While a string-building local grows it (`AppendStr`), the text lives here and `s`
    /// is stale; only that local's register refers to the object until `Freeze`.
    pub building: Option<String>,
}

impl StrObj {
    pub fn new(s: Rc<str>) -> StrObj {
        let chars = if s.is_ascii() { s.len() } else { s.chars().count() };
        StrObj::with_chars(s, chars)
    }
    /// A string whose length in code points the caller already knows.
    pub fn with_chars(s: Rc<str>, chars: usize) -> StrObj {
        StrObj {
            s,
            chars,
            hash: std::cell::Cell::new(0),
            building: None,
        }
    }
    pub fn is_ascii(&self) -> bool {
        self.chars == self.text().len()
    }
    /// The string's text, whether frozen or still being built.
    pub fn text(&self) -> &str {
        self.building.as_deref().unwrap_or(&self.s)
    }
}

#[derive(Debug)]
pub struct Closure {
    pub proto: Rc<Proto>,
    /// The cells this closure captured, in the order of `proto.captures`.
    pub upvals: Box<[ObjId]>,
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

#[derive(Debug)]
pub struct ErrorObj {
    pub kind: Rc<str>,
    pub message: Rc<str>,
    /// Filled in when the error is first thrown; kept when it is thrown again.
    pub traceback: Vec<TbEntry>,
}

#[derive(Debug, Clone, Copy)]
pub struct RangeObj {
    pub start: i64,
    pub stop: i64,
    pub step: i64,
}

impl RangeObj {
    pub fn len(&self) -> i64 {
        let RangeObj { start, stop, step } = *self;
        let (span, step) = if step > 0 {
            (stop as i128 - start as i128, step as i128)
        } else {
            (start as i128 - stop as i128, -(step as i128))
        };
        if span <= 0 {
            0
        } else {
            ((span + step - 1) / step) as i64
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug)]
pub enum Obj {
    Str(StrObj),
    List(Vec<Value>),
    Map(MapObj),
    Func(Closure),
    /// A captured variable, shared by reference between a frame and its closures.
    Cell(Value),
    Range(RangeObj),
    Error(ErrorObj),
    Thread(Box<ThreadObj>),
    Lock(LockObj),
    Queue(QueueObj),
    Listener(ListenerObj),
    Conn(ConnObj),
    Process(Box<ProcessObj>),
    Channel(Box<ChannelObj>),
    /// A slot on the free list.
    Free,
}

// Every object slot is this big, so rare, large kinds (threads, processes) live in a box:
// a string or list slot stays one cache line, which the collector and allocator both touch.
const _: () = assert!(std::mem::size_of::<Obj>() <= 64);

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
    Queue,
    Listener,
    Conn,
    Process,
    Channel,
}

impl Kind {
    /// How many kinds there are (the height of a method table).
    pub const COUNT: usize = Kind::Channel as usize + 1;

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
            Kind::Queue => "queue",
            Kind::Listener => "listener",
            Kind::Conn => "conn",
            Kind::Process => "process",
            Kind::Channel => "channel",
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
            Obj::Queue(_) => Kind::Queue,
            Obj::Listener(_) => Kind::Listener,
            Obj::Conn(_) => Kind::Conn,
            Obj::Process(_) => Kind::Process,
            Obj::Channel(_) => Kind::Channel,
            Obj::Free => unreachable!("a value names a freed heap slot"),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Obj::Free => "freed",
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
            Obj::Process(p) => match &p.outcome {
                Some(Outcome::Returned(v)) => f(*v),
                Some(Outcome::Threw { value, .. }) => f(*value),
                None => {}
            },
            Obj::Str(_)
            | Obj::Range(_)
            | Obj::Error(_)
            | Obj::Lock(_)
            | Obj::Listener(_)
            | Obj::Conn(_)
            | Obj::Channel(_)
            | Obj::Free => {}
        }
    }
}

/// How a thread's function ended.
#[derive(Debug)]
pub enum Outcome {
    Returned(Value),
    Threw {
        value: Value,
        traceback: Vec<TbEntry>,
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
    pub handle: Option<std::thread::JoinHandle<()>>,
    /// Bumped by the new thread once it runs its own code (see `before_fork`).
    pub started: Option<Arc<Signal>>,
}

#[derive(Debug)]
pub struct LockObj {
    /// The thread holding the lock.
    pub owner: Option<u32>,
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

/// The child's end of the channel to its parent.
#[derive(Debug)]
pub struct ChannelObj {
    pub channel: Channel,
}
