//! The eval loop and calls: pushing frames, running a function to completion, unwinding
//! to the nearest handler, and the dispatch of every instruction.
//!
//! Invariants:
//! - Check points are exactly `Loop` and calls of closures: one relaxed load of the eval
//!   breaker on the fast path; Ctrl-C and GIL hand-offs happen only there, and so does
//!   collection, but for a reservation over the memory limit (`Vm::reserve`).
//! - A frame's saved `pc` is the instruction after the one executing, so `pc - 1` gives
//!   the line a traceback shows.
//! - Builtins and methods are reached through the tables in `Interp` (function values and
//!   `MethodTable`), never by name: this file calls no builtin directly.

use super::entry_hints::EntryHints;
use super::fiber::{Frame, Handler, HandlerKind};
use super::machine::{Thrown, Vm, VmResult};
use super::method_table::Inline;
use super::ops;
use super::slice_step;
use crate::bytecode::{Capture, Op, Proto};
use crate::method::Method;
use crate::object::{Closure, Obj, RangeObj};
use crate::value::{ObjId, Value};
use std::rc::Rc;
use std::sync::atomic::Ordering;

/// Instructions between charges to an instruction limit when no `ticks` policy sets the
/// pace (each slice drawn from half to one and a half times this).
const LIMIT_SLICE: u32 = 10_000;

/// A call's arguments, copied off the stack (a builtin may grow the stack meanwhile);
/// inline for the usual handful, so a call allocates nothing.
type Args = smallvec::SmallVec<[Value; 6]>;

impl Vm<'_> {
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
                // Shared, not copied; charged, so errors caught by the thousand are paced.
                e.traceback = t.traceback.clone();
                let bytes = t.traceback.approx_bytes();
                self.it.heap.charge(bytes);
            }
        }
        // Once the instruction limit is used up the run is over: no handler catches
        // anything (a thread's LimitError rethrown by `join` included).
        let catchable = t.exit.is_none() && !t.limit && self.it.instructions_left != Some(0);
        while self.fiber.handlers.last().is_some_and(|h| h.depth > stop) {
            let h = self.fiber.handlers.pop().expect("handler");
            match h.kind {
                HandlerKind::With { subject } => {
                    let _ = self.with_exit(subject);
                }
                HandlerKind::Try { target, reg } if catchable => {
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

    /// Pushes a frame for closure `id` whose arguments already sit at `base..`: the common
    /// call (every parameter passed, room on the stack, below the recursion limit) is a
    /// handful of checks and stores, and the rest goes out of line. Not inlined into the
    /// dispatch loop: there it took fewer instructions but more time (fib 10% slower,
    /// alternating runs pinned to one CPU; this VM has no counters to say why).
    #[inline(never)]
    fn push_frame(&mut self, id: ObjId, argc: usize, base: usize, ret: usize) -> VmResult<()> {
        let proto = &self.it.heap.closure(id).proto;
        let need = base + proto.nregs as usize;
        let frames = &self.fiber.frames;
        if proto.arity as usize != argc
            || frames.len() >= self.it.recursion_limit
            || frames.len() == frames.capacity()
            || self.fiber.stack.len() < need
        {
            return self.push_frame_slowly(id, argc, base, ret);
        }
        let nregs = proto.nregs as usize;
        self.enter_frame(id, nregs, argc, base, ret);
        Ok(())
    }

    /// [`Vm::push_frame`] for a call that fills defaults, reaches the recursion limit or
    /// must grow the stack first.
    #[inline(never)]
    fn push_frame_slowly(&mut self, id: ObjId, argc: usize, base: usize, ret: usize) -> VmResult<()> {
        let proto = &self.it.heap.closure(id).proto;
        if proto.arity as usize != argc {
            return self.call_with_defaults(id, argc, base, ret);
        }
        if self.fiber.frames.len() >= self.it.recursion_limit {
            return Err(self.error("RecursionError", "maximum recursion depth exceeded"));
        }
        let nregs = proto.nregs as usize;
        let need = base + nregs;
        if self.fiber.stack.len() < need {
            self.fiber.grow_stack(need);
        }
        self.fiber.frames.reserve(1);
        self.enter_frame(id, nregs, argc, base, ret);
        Ok(())
    }

    /// Pushes the frame of closure `id`, whose function has `nregs` registers, the stack
    /// already holding them.
    #[inline(always)]
    fn enter_frame(&mut self, id: ObjId, nregs: usize, argc: usize, base: usize, ret: usize) {
        let need = base + nregs;
        // Pushed before the registers are touched, so that the push's capacity test,
        // already passed by the caller, is provably redundant and the frame is written in
        // place rather than assembled on the machine stack and copied (a copy whose wide
        // loads straddle narrow stores and stall store forwarding).
        self.fiber.frames.push(Frame {
            closure: id,
            nregs,
            caller_proto: None,
            pc: 0,
            base,
            ret,
        });
        // The registers past the arguments start nil: whatever a finished call left in
        // them would otherwise be a root (the extent covers the whole frame) until the
        // code overwrites it — a dead temporary map kept alive through the next call.
        if let Some(fresh) = self.fiber.stack.get_mut(base + argc..need) {
            fresh.fill(Value::Nil);
        }
    }

    /// A call that passes fewer arguments than the function has parameters: the rest come
    /// from the closure's defaults, if it has enough of them; otherwise a `TypeError`.
    #[cold]
    #[inline(never)]
    fn call_with_defaults(&mut self, id: ObjId, argc: usize, base: usize, ret: usize) -> VmResult<()> {
        let closure = self.it.heap.closure(id);
        let (arity, required) = (closure.proto.arity as usize, closure.proto.required as usize);
        if argc < required || argc > arity {
            let want = if required == arity {
                format!("{arity} argument{}", if arity == 1 { "" } else { "s" })
            } else {
                format!("from {required} to {arity} arguments")
            };
            let msg = format!(
                "{}() takes {want} but {argc} {} given",
                closure.proto.display_name(),
                if argc == 1 { "was" } else { "were" }
            );
            return Err(self.type_error(msg));
        }
        let need = base + arity;
        if self.fiber.stack.len() < need {
            self.fiber.stack.resize(need, Value::Nil);
        }
        let defaults = &self.it.heap.closure(id).defaults;
        let from = argc - required;
        self.fiber.stack[base + argc..need].copy_from_slice(&defaults[from..]);
        self.push_frame_slowly(id, arity, base, ret)
    }

    /// `RangeLoop` in the frame at `base`: when R[callee] is the builtin `range` and its
    /// `argc` arguments after R[func] are ints with a step other than 0, writes the state
    /// of a loop over that range to R[iter..iter+3] and returns 2, the instructions to
    /// skip; otherwise 0. Out of line, and returning a number for the loop to add: inline,
    /// or as a flag the loop tested before `pc += 2`, it made LLVM keep `pc` on the machine
    /// stack for every instruction (`nested_for` +5.6% instructions, 1.11 of the time).
    #[inline(never)]
    fn range_loop(&mut self, base: usize, iter: u8, callee: u8, func: u8, argc: u8) -> usize {
        if !matches!(self.fiber.stack[base + callee as usize], Value::Builtin(i) if i == self.it.range_builtin) {
            return 0;
        }
        let at = base + func as usize + 1;
        let range = match self.fiber.stack.get(at..at + argc as usize) {
            Some(&[Value::Int(stop)]) => RangeObj {
                start: 0,
                stop,
                step: 1,
            },
            Some(&[Value::Int(start), Value::Int(stop)]) => RangeObj { start, stop, step: 1 },
            Some(&[Value::Int(start), Value::Int(stop), Value::Int(step)]) if step != 0 => {
                RangeObj { start, stop, step }
            }
            _ => return 0,
        };
        let s = base + iter as usize;
        self.fiber.stack[s..s + 3].copy_from_slice(&range.loop_state());
        2
    }

    /// Calls builtin `i` with the `argc` arguments at stack slot `args_at`, for `Call` and
    /// `CallGlobal`. Out of line: written into both arms of the dispatch loop, it made
    /// `map_method_calls` (which calls no builtin in its loop) take 1.22 of the time.
    #[inline(never)]
    fn call_builtin(&mut self, i: u64, args_at: usize, argc: usize) -> VmResult<Value> {
        let f = self.it.builtins[i as usize].clone();
        let args = Args::from_slice(&self.fiber.stack[args_at..args_at + argc]);
        self.builtin_depth += 1;
        let r = f.call(self, &args);
        self.builtin_depth -= 1;
        r
    }

    /// Calls any callable value from a builtin (a sort key, say) and runs it to
    /// completion. The builtin may hold values in Rust locals meanwhile, so collection
    /// waits until it returns.
    pub fn call_value(&mut self, f: Value, args: &[Value]) -> VmResult<Value> {
        if self.stack_floor.reached() {
            return Err(self.error(
                "RecursionError",
                "maximum recursion depth exceeded (the native stack is nearly full)",
            ));
        }
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
                self.builtin_depth += 1;
                let r = f.call(self, args);
                self.builtin_depth -= 1;
                r
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
            defaults: Box::new([]),
        }));
        let base = self.fiber.extent();
        let stop = self.fiber.frames.len();
        if self.fiber.stack.len() <= base {
            self.fiber.stack.resize(base + 1, Value::Nil);
        }
        self.push_frame(closure, 0, base, base)?;
        self.run(stop)
    }

    // ---- the eval loop ---------------------------------------------------------------

    /// Calls `subject`'s builtin method `method` with `args`; `None` if its type has none.
    /// For the methods statements reach by names no script can write (`<enter>`,
    /// `<exit>`, `<setslice>`).
    fn call_own_method(&mut self, subject: Value, method: Method, args: &[Value]) -> Option<VmResult<Value>> {
        let kind = subject.kind(&self.it.heap);
        let (m, f) = self.it.methods.get(kind, method as u8)?;
        self.builtin_depth += 1;
        let r = f(self, m, subject, args);
        self.builtin_depth -= 1;
        Some(r)
    }

    /// `with subject { ... }` begins: the subject's `<enter>` method (a lock's acquire).
    fn with_enter(&mut self, subject: Value) -> VmResult<()> {
        match self.call_own_method(subject, Method::Enter, &[]) {
            Some(r) => r.map(|_| ()),
            None => {
                let t = subject.type_name(&self.it.heap);
                Err(self.type_error(format!("'{t}' object cannot be used in 'with' (it needs a lock)")))
            }
        }
    }

    /// `subject[lo:hi:step] = value`, `args` being those four: the subject's
    /// `<setslice>` method.
    fn set_slice(&mut self, subject: Value, args: &[Value; 4]) -> VmResult<()> {
        match self.call_own_method(subject, Method::SetSlice, args) {
            Some(r) => r.map(|_| ()),
            None => {
                let t = subject.type_name(&self.it.heap);
                Err(self.type_error(format!("'{t}' object does not support slice assignment")))
            }
        }
    }

    /// `with` ends, normally or by a throw passing through: the subject's `<exit>` method.
    /// During an unwind the error in flight is held only by the unwinding caller.
    fn with_exit(&mut self, subject: Value) -> VmResult<()> {
        self.call_own_method(subject, Method::Exit, &[])
            .map_or(Ok(()), |r| r.map(|_| ()))
    }

    /// The eval loop is returning to its caller from `pc` of `proto`: tell the lock where,
    /// if it wants to know (a thread's body ends here, and no check point follows before
    /// its GIL goes to another thread).
    #[inline]
    fn returning(&mut self, proto: &Proto, pc: usize) {
        if self.location_wanted() {
            self.report_return(proto, pc);
        }
    }

    /// Kept out of the eval loop: it runs only while someone waits or traces.
    #[cold]
    #[inline(never)]
    fn report_return(&mut self, proto: &Proto, pc: usize) {
        let line = proto.lines.get(pc.saturating_sub(1)).copied().unwrap_or(0);
        let at = self.it.locations.at(&proto.file, line);
        self.it.report_location(at);
    }

    /// Runs until the frame count falls back to `stop`, returning that frame's result.
    pub fn run(&mut self, stop: usize) -> VmResult<Value> {
        match (self.it.tick_budget(), self.it.instructions_left.is_some()) {
            (Some(budget), _) => self.run_loop::<true>(stop, budget.max(1)),
            (None, true) => self.run_loop::<true>(stop, LIMIT_SLICE),
            (None, false) => self.run_loop::<false>(stop, 0),
        }
    }

    /// The eval loop. With `TICKS` (a policy that counts instructions, or an instruction
    /// limit) every instruction counts down a budget; when it runs out, the instructions
    /// are charged to the limit, and a policy that counts instructions is asked what to do
    /// (and how long the next slice is). Without it, that code is compiled away: the
    /// default loop pays nothing for either.
    fn run_loop<const TICKS: bool>(&mut self, stop: usize, budget: u32) -> VmResult<Value> {
        let breaker = self.breaker.clone();
        let mut ticks = budget;
        let mut slice = budget;
        let policy_counts = TICKS && self.it.gil().tick_budget().is_some();
        // The running closure's function, held here so that its code stays borrowed while
        // the loop calls `&mut self` methods. A call hands it to the callee's frame
        // (`caller_proto`) and a return takes it back, so neither looks in the heap; a call
        // or return within one closure (recursion) keeps it. It is taken from the heap only
        // when the top frame runs another closure than `running` some other way (a frame
        // pushed outside the loop, an exception unwound, a thread switched). The closure
        // cannot be freed and its id reused while `proto` is held for it: it is a root as
        // long as its frame exists, and once the frame is gone the next pass here sees
        // another closure on top.
        let mut running = self.fiber.frames.last().expect("a frame to run").closure;
        let mut proto = self.it.heap.closure(running).proto.clone();
        // The top frame's register base and next instruction, kept here while it runs. A
        // call or return in the loop sets them itself (and goes round `'code` if the
        // function changed); every other change of the top frame (an exception unwound, a
        // frame pushed some other way) goes round `'frame`, which reads them back.
        let mut base: usize;
        let mut pc: usize;
        'frame: loop {
            let frame = self.fiber.frames.last().expect("a frame to run");
            if frame.closure != running {
                running = frame.closure;
                proto = self.it.heap.closure(running).proto.clone();
            }
            base = frame.base;
            pc = frame.pc;
            'code: loop {
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
                            Err(e) => {
                                if TICKS {
                                    self.ticks_partly_spent(slice - ticks);
                                }
                                return Err(e);
                            }
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
                // Pushes closure `$id`'s frame, its arguments already at `$args_at`, and runs it:
                // on at once within the same closure (recursion), round `'code` for another.
                // Neither reads the frame back, so a call costs no pass through `'frame`.
                macro_rules! enter {
                    ($id:expr, $argc:expr, $args_at:expr, $ret:expr) => {{
                        let (id, args_at) = ($id, $args_at);
                        tryv!(self.push_frame(id, $argc, args_at, $ret));
                        base = args_at;
                        pc = 0;
                        if id == running {
                            continue;
                        }
                        let callee = self.it.heap.closure(id).proto.clone();
                        let caller = std::mem::replace(&mut proto, callee);
                        self.fiber.frames.last_mut().expect("frame").caller_proto = Some(caller);
                        running = id;
                        continue 'code;
                    }};
                }
                // Calls `$callee` with the `$argc` arguments after R[$func], its result to
                // R[$dst]: a closure's frame is entered, a builtin runs here.
                macro_rules! call {
                    ($callee:expr, $func:expr, $argc:expr, $dst:expr) => {{
                        let args_at = base + $func as usize + 1;
                        match $callee {
                            Value::Func(id) => {
                                check_point!();
                                self.fiber.frames.last_mut().expect("frame").pc = pc;
                                enter!(id, $argc as usize, args_at, base + $dst as usize);
                            }
                            Value::Builtin(i) => {
                                self.fiber.frames.last_mut().expect("frame").pc = pc;
                                let v = tryv!(self.call_builtin(i, args_at, $argc as usize));
                                reg!($dst) = v;
                            }
                            other => {
                                let t = other.type_name(&self.it.heap);
                                throw!(self.type_error(format!("'{t}' object is not callable")));
                            }
                        }
                    }};
                }
                // Pops the top frame, which returns `$v`, and resumes its caller (or returns to
                // ours) where its frame says: round `'code` if the caller runs other code, round
                // `'frame` if it was pushed outside this loop. The fields are read one by one
                // and the frame dropped in place: popping it copied it whole with wide loads
                // that straddled the narrow stores of the push a few instructions before (a
                // leaf call), stalling store forwarding.
                macro_rules! leave {
                    ($v:expr) => {{
                        let v = $v;
                        let top = self.fiber.frames.last_mut().expect("frame");
                        let (ret, caller) = (top.ret, top.caller_proto.take());
                        let depth = self.fiber.frames.len() - 1;
                        self.fiber.frames.truncate(depth);
                        self.fiber.stack[ret] = v;
                        if self.fiber.frames.len() == stop {
                            if TICKS {
                                self.ticks_partly_spent(slice - ticks);
                            }
                            self.returning(&proto, pc);
                            return Ok(v);
                        }
                        let top = self.fiber.frames.last().expect("frame");
                        base = top.base;
                        pc = top.pc;
                        if let Some(caller) = caller {
                            running = top.closure;
                            proto = caller;
                            continue 'code;
                        }
                        if top.closure != running {
                            continue 'frame;
                        }
                        continue;
                    }};
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
                // `a op imm` for AddInt/SubInt/MulInt: ints and floats in place, every other type
                // through `slow` (ops::add / ops::sub / ops::mul).
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

                // The next item of the loop at `iter` into `dst`: true, or false when the
                // loop is exhausted. A range of ints, and a list that has kept its length,
                // step in place; everything else (a list whose length changed: an error)
                // goes through `iter_next`.
                macro_rules! iter_step {
                    ($iter:expr, $dst:expr) => {{
                        let s = base + $iter as usize;
                        // The three loop registers as one array: one bounds check. Matched in
                        // place, taking only the payloads: copying the 16-byte registers whole
                        // right after their parts were stored stalls store-to-load forwarding.
                        // `None`: not a case stepped here.
                        let stepped = match self
                            .fiber
                            .stack
                            .get_mut(s..s + 3)
                            .map(<&mut [Value; 3]>::try_from)
                        {
                            Some(Ok(state)) => match *state {
                                [Value::Int(i), Value::Int(stop_at), Value::Int(step)] => {
                                    if (step > 0 && i < stop_at) || (step < 0 && i > stop_at) {
                                        state[0] = Value::Int(i.checked_add(step).unwrap_or(stop_at));
                                        reg!($dst) = Value::Int(i);
                                        Some(true)
                                    } else {
                                        Some(false)
                                    }
                                }
                                [Value::List(list), Value::Int(at), Value::Int(started)]
                                    if self.it.heap.list(list).len() as i64 == started =>
                                {
                                    match self.it.heap.list(list).get(at as usize) {
                                        Some(&v) => {
                                            state[1] = Value::Int(at + 1);
                                            reg!($dst) = v;
                                            Some(true)
                                        }
                                        None => Some(false),
                                    }
                                }
                                _ => None,
                            },
                            _ => None,
                        };
                        match stepped {
                            Some(more) => more,
                            None => match tryv!(ops::iter_next(self, s)) {
                                Some(v) => {
                                    reg!($dst) = v;
                                    true
                                }
                                None => false,
                            },
                        }
                    }};
                }

                loop {
                    if TICKS {
                        ticks -= 1;
                        if ticks == 0 {
                            let ran = slice;
                            self.fiber.frames.last_mut().expect("frame").pc = pc;
                            tryv!(self.ticks_spent(ran));
                            slice = if policy_counts { self.end_slice() } else { budget };
                            ticks = slice;
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
                            let cell = self.it.heap.closure(running).upvals[u as usize];
                            reg!(dst) = self.it.heap.cell(cell);
                        }
                        Op::SetUpval { u, src } => {
                            let cell = self.it.heap.closure(running).upvals[u as usize];
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
                        Op::Closure { dst, p, defaults } => {
                            let child = proto.protos[p as usize].clone();
                            let nd = (child.arity - child.required) as usize;
                            let d0 = base + defaults as usize;
                            let defaults: Box<[Value]> = self.fiber.stack[d0..d0 + nd].into();
                            let upvals: Box<[ObjId]> = child
                                .captures
                                .iter()
                                .map(|c| match *c {
                                    Capture::Local(r) => match self.fiber.stack[base + r as usize] {
                                        Value::Obj(id) => id,
                                        _ => unreachable!("captured register holds a cell"),
                                    },
                                    Capture::Upval(u) => self.it.heap.closure(running).upvals[u as usize],
                                })
                                .collect();
                            let id = self.it.heap.alloc(Obj::Func(Closure {
                                proto: child,
                                upvals,
                                defaults,
                            }));
                            reg!(dst) = Value::Func(id);
                        }
                        Op::NewList { dst, start, count } => {
                            let s = base + start as usize;
                            let items = self.fiber.stack[s..s + count as usize].to_vec();
                            reg!(dst) = self.it.heap.new_list(items);
                        }
                        Op::ExtendList { list, start, count } => {
                            let Value::List(id) = reg!(list) else {
                                unreachable!("ExtendList extends the list its literal began")
                            };
                            let s = base + start as usize;
                            tryv!(self.extend_list(id, s, count as usize));
                        }
                        Op::NewMap { dst, start, count } => {
                            let s = base + start as usize;
                            let v = tryv!(ops::new_map(self, s, count as usize));
                            reg!(dst) = v;
                        }
                        Op::Add { dst, a, b } => binary!(dst, a, b, ops::add_fast, ops::add),
                        Op::Sub { dst, a, b } => binary!(dst, a, b, ops::sub_fast, ops::sub),
                        Op::Mul { dst, a, b } => binary!(dst, a, b, ops::mul_fast, ops::mul),
                        Op::AddInPlace { dst, a, b } => binary!(dst, a, b, ops::add_fast, ops::add_in_place),
                        Op::MulInPlace { dst, a, b } => binary!(dst, a, b, ops::mul_fast, ops::mul_in_place),
                        Op::Div { dst, a, b } => binary!(dst, a, b, ops::div_fast, ops::div),
                        Op::FloorDiv { dst, a, b } => binary!(dst, a, b, ops::no_fast, ops::floor_div),
                        Op::Mod { dst, a, b } => binary!(dst, a, b, ops::mod_fast, ops::modulo),
                        Op::Pow { dst, a, b } => binary!(dst, a, b, ops::no_fast, ops::pow),
                        Op::AppendStr { dst, src } => match (reg!(dst), reg!(src)) {
                            (Value::Str(head), Value::Str(tail)) => {
                                let id = match self.it.heap.append_str(head, tail) {
                                    Ok(id) => id,
                                    Err(_) => tryv!(self.append_str_growing(head, tail)),
                                };
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
                        Op::MulInt { dst, a, imm } => with_imm!(dst, a, imm, checked_mul, *, ops::mul),
                        Op::ModInt { dst, a, imm } => {
                            let m = imm as i64;
                            let v = match reg!(a) {
                                Value::Int(x) if m > 0 => Value::Int(ops::mod_positive(x, m)),
                                x => tryv!(ops::modulo(self, x, Value::Int(m))),
                            };
                            reg!(dst) = v;
                        }
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
                        Op::JumpIfNotLtInt { a, imm, off } => {
                            let less = match reg!(a) {
                                Value::Int(x) => x < imm as i64,
                                x => tryv!(ops::less(self, x, Value::Int(imm as i64), "<")),
                            };
                            if !less {
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
                            let nid = ObjId::new(name);
                            if let &Value::Map(m) = &reg!(obj)
                                && let Some(v) =
                                    self.entry_hints
                                        .find_value(&self.it.heap, m, nid, EntryHints::site(code, pc))
                            {
                                reg!(dst) = *v;
                                continue;
                            }
                            let v = tryv!(ops::get_field(self, reg!(obj), Value::Str(nid)));
                            reg!(dst) = v;
                        }
                        Op::SetField { obj, src, name } => {
                            let (o, v) = (reg!(obj), reg!(src));
                            let nid = ObjId::new(name);
                            // An existing field of a map is overwritten in place; a new one is
                            // inserted by `set_field`.
                            if let Value::Map(m) = o
                                && self
                                    .entry_hints
                                    .write(&mut self.it.heap, m, nid, EntryHints::site(code, pc), v)
                            {
                                continue;
                            }
                            tryv!(ops::set_field(self, o, Value::Str(nid), v));
                        }
                        Op::Slice { dst, obj, lo, hi } => {
                            let v = tryv!(ops::slice(self, reg!(obj), reg!(lo), reg!(hi)));
                            reg!(dst) = v;
                        }
                        Op::SliceStep { dst, obj, lo, hi, step } => {
                            let v = tryv!(slice_step::slice_step(self, reg!(obj), reg!(lo), reg!(hi), reg!(step)));
                            reg!(dst) = v;
                        }
                        Op::SetSlice { obj, lo, hi, step, src } => {
                            self.fiber.frames.last_mut().expect("frame").pc = pc;
                            let (o, args) = (reg!(obj), [reg!(lo), reg!(hi), reg!(step), reg!(src)]);
                            tryv!(self.set_slice(o, &args));
                        }
                        Op::Call {
                            callee,
                            base: func,
                            argc,
                            dst,
                        } => {
                            let callee = reg!(callee);
                            call!(callee, func, argc, dst);
                        }
                        Op::CallMethod {
                            dst,
                            recv,
                            base: obj,
                            argc,
                            name,
                            method,
                        } => {
                            let recv = reg!(recv);
                            // The table's inline step for this method, when its precondition
                            // holds, runs here without a call.
                            if let Some(step) = self.it.methods.inline(method)
                                && let (Inline::ListPush, Value::List(list), 1) = (step, recv, argc)
                            {
                                let v = Value::copy_words(&reg!(obj + 1));
                                let items = self.it.heap.list_obj_mut(list);
                                if items.len() < items.capacity() {
                                    items.push(v);
                                } else {
                                    tryv!(self.push_growing(list, v));
                                }
                                reg!(dst) = Value::Nil;
                                continue;
                            }
                            let args_at = base + obj as usize + 1;
                            self.fiber.frames.last_mut().expect("frame").pc = pc;
                            let kind = recv.kind(&self.it.heap);
                            if let Some((m, f)) = self.it.methods.get(kind, method) {
                                let args = Args::from_slice(&self.fiber.stack[args_at..args_at + argc as usize]);
                                self.builtin_depth += 1;
                                let r = f(self, m, recv, &args);
                                self.builtin_depth -= 1;
                                let v = tryv!(r);
                                reg!(dst) = v;
                                continue;
                            }
                            // Otherwise the callee is a map's own entry (not a map method) or
                            // a module's function, called like a function with the receiver's
                            // register reused for it.
                            let callee = if let Value::Map(m) = recv {
                                let Value::Str(nid) = proto.consts[name as usize] else {
                                    unreachable!("method names are string constants")
                                };
                                let site = EntryHints::site(code, pc);
                                match self.entry_hints.find_value(&self.it.heap, m, nid, site) {
                                    Some(&callee) => callee,
                                    None => throw!(ops::key_error(self, proto.consts[name as usize])),
                                }
                            } else {
                                match ops::module_field(self, recv, proto.consts[name as usize]) {
                                    Some(callee) => callee,
                                    None => throw!(ops::attribute_error(self, recv, proto.consts[name as usize])),
                                }
                            };
                            reg!(obj) = callee;
                            if let Value::Func(id) = callee {
                                check_point!();
                                enter!(id, argc as usize, args_at, base + dst as usize);
                            }
                            let args = Args::from_slice(&self.fiber.stack[args_at..args_at + argc as usize]);
                            let v = tryv!(self.call_value(callee, &args));
                            reg!(dst) = v;
                        }
                        Op::Import { dst, module } => {
                            let record = &mut self.it.modules[module as usize];
                            if record.started {
                                reg!(dst) = record.value;
                                continue;
                            }
                            record.started = true;
                            let main = record.main.clone().expect("a module is compiled before it is imported");
                            check_point!();
                            self.fiber.frames.last_mut().expect("frame").pc = pc;
                            let closure = self.it.heap.alloc(Obj::Func(Closure {
                                proto: main,
                                upvals: Box::new([]),
                                defaults: Box::new([]),
                            }));
                            let above = self.fiber.extent();
                            enter!(closure, 0, above, base + dst as usize);
                        }
                        Op::Return { src } => leave!(Value::copy_words(&reg!(src))),
                        Op::ReturnNil => leave!(Value::Nil),
                        Op::IterPrep { iter, src } => {
                            let s = base + iter as usize;
                            tryv!(ops::iter_prep(self, s, reg!(src)));
                        }
                        Op::RangeLoop {
                            iter,
                            callee,
                            base: func,
                            argc,
                        } => {
                            // Past the `Call` and `IterPrep` that would have made the range.
                            pc += self.range_loop(base, iter, callee, func, argc);
                        }
                        Op::IterNext { iter, dst, off } => {
                            if !iter_step!(iter, dst) {
                                pc = (pc as i64 + off as i64) as usize;
                            }
                        }
                        Op::IterLoop { iter, dst, back } => {
                            // Checked before stepping, as `Loop` is before jumping.
                            check_point!();
                            if iter_step!(iter, dst) {
                                pc -= back as usize;
                            }
                        }
                        Op::Unpack { dst, src, count } => {
                            let items = tryv!(ops::unpack(self, reg!(src), count as usize));
                            let d = base + dst as usize;
                            self.fiber.stack[d..d + items.len()].copy_from_slice(&items);
                        }
                        Op::ListAppend { list, src } => {
                            let v = reg!(src);
                            if let Value::List(id) = reg!(list) {
                                let items = self.it.heap.list_obj_mut(id);
                                if items.len() < items.capacity() {
                                    items.push(v);
                                } else {
                                    // Growing is charged like `append`'s, within the limit.
                                    tryv!(self.push_growing(id, v));
                                }
                            }
                        }
                        Op::ToStr { dst, src } => {
                            let v = ops::to_str(self, reg!(src));
                            reg!(dst) = v;
                        }
                        Op::FormatSpec { dst, src, spec } => {
                            let Value::Str(spec) = proto.consts[spec as usize] else {
                                unreachable!("a format spec is a string constant")
                            };
                            let spec = self.it.heap.str_rc(spec).clone();
                            let v = tryv!(ops::format_with(self, reg!(src), &spec));
                            reg!(dst) = v;
                        }
                        Op::Concat { dst, start, count } => {
                            let s = base + start as usize;
                            let v = tryv!(ops::concat(self, s, count as usize));
                            reg!(dst) = v;
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
                            tryv!(self.with_enter(subject));
                            let depth = self.fiber.frames.len();
                            self.fiber.handlers.push(Handler {
                                depth,
                                kind: HandlerKind::With { subject },
                            });
                        }
                        Op::WithExit { src } => {
                            self.fiber.handlers.pop();
                            let subject = reg!(src);
                            tryv!(self.with_exit(subject));
                        }
                        Op::CallGlobal {
                            g,
                            base: func,
                            argc,
                            dst,
                        } => {
                            let callee = self.it.globals.values[g as usize];
                            if let Value::Undef = callee {
                                let name = self.it.globals.names[g as usize].clone();
                                throw!(self.error("NameError", format!("name '{name}' is not defined")));
                            }
                            call!(callee, func, argc, dst);
                        }
                    }
                }
            }
        }
    }
}
