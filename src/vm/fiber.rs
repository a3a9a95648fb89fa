//! `Fiber`: one thread's execution state — its value stack, call frames and the handlers
//! of the `try` and `with` blocks it is inside.
//!
//! Invariant: every value on the stack below the extent (the top frame's base + registers)
//! names a live object; above the extent the collector clears the stack to nil, so a stale
//! register can never name a freed slot. A new frame's registers past its arguments start
//! nil, so a value a finished call left there is not kept alive by the next call's frame.

use crate::bytecode::Proto;
use crate::value::{ObjId, Value};
use std::rc::Rc;

#[derive(Debug)]
pub struct Frame {
    /// The closure running here (a GC root while the frame exists, and so its function).
    pub closure: ObjId,
    /// The function's register count: the extent of the live stack, read without the heap.
    pub nregs: usize,
    /// The function of the frame below, when the eval loop called this frame's closure
    /// from it: handed back to the loop when this frame returns, so returning needs no
    /// heap lookup and no reference count changes hands. `None` when the frame was pushed
    /// from outside the loop (`call_value`, `run_main`) or by a call within one closure
    /// (recursion), where the loop keeps what it holds.
    pub caller_proto: Option<Rc<Proto>>,
    pub pc: usize,
    pub base: usize,
    /// Absolute stack slot that receives the return value.
    pub ret: usize,
}

#[derive(Debug)]
pub(super) enum HandlerKind {
    Try { target: usize, reg: usize },
    With { subject: Value },
}

#[derive(Debug)]
pub(super) struct Handler {
    /// `frames.len()` when the handler was pushed: it belongs to the top frame then.
    pub(super) depth: usize,
    pub(super) kind: HandlerKind,
}

/// One thread's execution state.
#[derive(Debug, Default)]
pub struct Fiber {
    pub stack: Vec<Value>,
    pub frames: Vec<Frame>,
    pub(super) handlers: Vec<Handler>,
}

impl Fiber {
    /// Forgets every frame, register and handler (a forked child starts afresh).
    pub fn reset(&mut self) {
        self.stack.clear();
        self.frames.clear();
        self.handlers.clear();
    }

    /// Makes room for a frame that reaches slot `need` (at least doubling, so deep
    /// recursion grows the stack a logarithmic number of times). Out of line: the call
    /// path only checks.
    #[cold]
    #[inline(never)]
    pub(super) fn grow_stack(&mut self, need: usize) {
        let len = self.stack.len();
        self.stack.resize(need.max(len * 2), Value::Nil);
    }

    /// The end of the live part of the stack: the top frame's registers end there.
    pub(super) fn extent(&self) -> usize {
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
