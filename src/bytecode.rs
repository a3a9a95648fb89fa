//! The bytecode: one opcode enum and compiled function prototypes.
//!
//! toy runs a register machine (Lua 5 style): each function call gets a window of
//! registers `R[0..nregs]` on its thread's value stack; parameters are the first
//! registers, locals follow, temporaries sit above the locals. An instruction names its
//! operands as registers (`u8`), constant indexes `K[k]` (`u16`), global slots `G[g]`,
//! upvalues `U[u]`, or signed jump offsets counted from the next instruction.
//!
//! Invariants: every instruction is 8 bytes; `Proto::lines` has one entry per instruction;
//! the disassembler (`disasm.rs`) takes opcode and operand names from this enum (its
//! `Debug` form), so there is no second list to fall out of date. Backward jumps are always `Loop`, so the
//! VM's check point sits on exactly the instructions that can repeat.

// Operand notation like `R[dst]` is not a link.
#![allow(rustdoc::broken_intra_doc_links)]

use crate::value::Value;
use std::rc::Rc;

/// Register index within a call's window.
pub type Reg = u8;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// R[dst] = R[src]
    Move { dst: Reg, src: Reg },
    /// R[dst] = K[k]
    LoadConst { dst: Reg, k: u16 },
    /// R[dst] = imm (an int that fits in 32 bits)
    LoadInt { dst: Reg, imm: i32 },
    /// R[dst] = nil
    LoadNil { dst: Reg },
    /// R[dst] = value
    LoadBool { dst: Reg, value: bool },
    /// R[dst] = G[g]; NameError if no assignment to G[g] has run yet
    GetGlobal { dst: Reg, g: u16 },
    /// G[g] = R[src]
    SetGlobal { g: u16, src: Reg },
    /// R[dst] = the value in the cell of upvalue U[u]
    GetUpval { dst: Reg, u: u8 },
    /// the cell of upvalue U[u] = R[src]
    SetUpval { u: u8, src: Reg },
    /// R[dst] = a new cell holding R[src] (a local that closures capture lives in a cell)
    NewCell { dst: Reg, src: Reg },
    /// R[dst] = the value in cell R[cell]
    GetCell { dst: Reg, cell: Reg },
    /// cell R[cell] = R[src]
    SetCell { cell: Reg, src: Reg },
    /// R[dst] = a closure of nested prototype P[p], capturing the cells its captures name;
    /// if P[p] has default parameter values, they are R[defaults], R[defaults+1], ...
    Closure { dst: Reg, p: u16, defaults: Reg },
    /// R[dst] = [R[start], ..., R[start+count-1]]
    NewList { dst: Reg, start: Reg, count: u8 },
    /// append R[start], ..., R[start+count-1] to the list R[list] (a long list literal,
    /// built 200 items at a time)
    ExtendList { list: Reg, start: Reg, count: u8 },
    /// R[dst] = {R[start]: R[start+1], ...} with `count` key/value pairs
    NewMap { dst: Reg, start: Reg, count: u8 },
    /// R[dst] = R[a] + R[b]
    Add { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] - R[b]
    Sub { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] * R[b]
    Mul { dst: Reg, a: Reg, b: Reg },
    /// `a += b`: R[dst] = R[a] + R[b], except that a list R[a] is extended in place by a
    /// list R[b] (and R[dst] is that same list), as Python's `list.__iadd__`
    AddInPlace { dst: Reg, a: Reg, b: Reg },
    /// `a *= b`: R[dst] = R[a] * R[b], except that a list R[a] is repeated in place by an
    /// int R[b] (and R[dst] is that same list), as Python's `list.__imul__`
    MulInPlace { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] / R[b] (always a float)
    Div { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] // R[b] (floors)
    FloorDiv { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] % R[b] (sign of the divisor)
    Mod { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] ** R[b]
    Pow { dst: Reg, a: Reg, b: Reg },
    /// R[dst] += R[src] for a string-building local: appends in place to R[dst]'s buffer
    /// (which only R[dst] refers to), else starts one; non-strings add as `Add` does
    AppendStr { dst: Reg, src: Reg },
    /// if R[reg] is a string still being built, freezes it into an ordinary string (before
    /// any read that could share it)
    Freeze { reg: Reg },
    /// R[dst] = R[a] + imm (an `x + 1`, `i += 1` with a small int literal)
    AddInt { dst: Reg, a: Reg, imm: i16 },
    /// R[dst] = R[a] - imm (an `n - 1`, `i -= 1` with a small int literal)
    SubInt { dst: Reg, a: Reg, imm: i16 },
    /// R[dst] = R[a] * imm (an `i * 7919` with a small int literal)
    MulInt { dst: Reg, a: Reg, imm: i16 },
    /// R[dst] = R[a] % imm (an `x % 3`, `i %= 8` with a small int literal)
    ModInt { dst: Reg, a: Reg, imm: i16 },
    /// R[dst] = R[a] == R[b]
    Eq { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] != R[b]
    Ne { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] < R[b]
    Lt { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] <= R[b]
    Le { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] > R[b]
    Gt { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] >= R[b]
    Ge { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] in R[b]
    In { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = R[a] not in R[b]
    NotIn { dst: Reg, a: Reg, b: Reg },
    /// R[dst] = -R[src]
    Neg { dst: Reg, src: Reg },
    /// R[dst] = not R[src]
    Not { dst: Reg, src: Reg },
    /// pc += off (forward only)
    Jump { off: i32 },
    /// pc -= back; a check point (GIL drop requests, collection, Ctrl-C)
    Loop { back: u32 },
    /// if not R[cond] then pc += off
    JumpIfFalse { cond: Reg, off: i32 },
    /// if R[cond] then pc += off
    JumpIfTrue { cond: Reg, off: i32 },
    /// if not (R[a] < R[b]) then pc += off: the fused test at the top of most loops
    JumpIfNotLt { a: Reg, b: Reg, off: i32 },
    /// if not (R[a] < imm) then pc += off (`if n < 2`, `while i < 100`: no register for
    /// the constant, one instruction fewer)
    JumpIfNotLtInt { a: Reg, imm: i16, off: i32 },
    /// R[dst] = R[obj][R[index]]
    GetIndex { dst: Reg, obj: Reg, index: Reg },
    /// R[obj][R[index]] = R[src]
    SetIndex { obj: Reg, index: Reg, src: Reg },
    /// R[dst] = R[obj].name (a map key, or a field such as `e.kind`); `name` is the heap
    /// index of the pinned string constant, read without going through the constants
    GetField { dst: Reg, obj: Reg, name: u32 },
    /// R[obj].name = R[src], `name` as in `GetField`
    SetField { obj: Reg, src: Reg, name: u32 },
    /// R[dst] = R[obj][R[lo]:R[hi]] (nil bounds are open)
    Slice { dst: Reg, obj: Reg, lo: Reg, hi: Reg },
    /// R[dst] = R[obj][R[lo]:R[hi]:R[step]] (nil bounds are open; a nil step is 1)
    SliceStep {
        dst: Reg,
        obj: Reg,
        lo: Reg,
        hi: Reg,
        step: Reg,
    },
    /// R[obj][R[lo]:R[hi]:R[step]] = R[src] (nil bounds are open; a nil step is 1): the
    /// receiver's `<setslice>` method, a `TypeError` for a type without one
    SetSlice {
        obj: Reg,
        lo: Reg,
        hi: Reg,
        step: Reg,
        src: Reg,
    },
    /// R[dst] = R[callee](R[base+1], ..., R[base+argc]); a check point. The callee is read
    /// where it is: a local's own register (`f(x)` copies no function), or R[base] when it
    /// had to be computed
    Call { callee: Reg, base: Reg, argc: u8, dst: Reg },
    /// R[dst] = R[recv].K[name](R[base+1], ..., R[base+argc]); `method` is the name's
    /// number (`method::Method`, or `NO_METHOD`), which finds a builtin method without
    /// comparing names; R[base] takes a callee found in a map or module. The receiver is
    /// read where it is: a local's own register (`xs.append(x)` copies nothing), or R[base]
    /// when it had to be computed; a check point
    CallMethod {
        dst: Reg,
        recv: Reg,
        base: Reg,
        argc: u8,
        name: u16,
        method: u8,
    },
    /// return R[src] to the caller
    Return { src: Reg },
    /// return nil to the caller
    ReturnNil,
    /// start iterating R[src]: R[iter], R[iter+1], R[iter+2] hold the loop's state
    IterPrep { iter: Reg, src: Reg },
    /// R[dst] = the next item of the loop at R[iter], or pc += off when it is exhausted
    IterNext { iter: Reg, dst: Reg, off: i32 },
    /// the bottom of a `for` loop whose `IterNext` sits `back` - 1 instructions up: R[dst]
    /// = the loop's next item and pc -= back (into the body, past that `IterNext`), or on
    /// when it is exhausted; a check point, like `Loop`, which it replaces with one
    /// instruction fewer per iteration
    IterLoop { iter: Reg, dst: Reg, back: u32 },
    /// R[dst], ..., R[dst+count-1] = the items of the list (or the characters of the
    /// string, the numbers of the range) R[src], which must hold exactly `count`
    /// (`let a, b = ...`, `for k, v in ...`, `a, b = b, a`)
    Unpack { dst: Reg, src: Reg, count: u8 },
    /// append R[src] to the list R[list] (a list comprehension's result)
    ListAppend { list: Reg, src: Reg },
    /// R[dst] = str(R[src]) (an f-string field)
    ToStr { dst: Reg, src: Reg },
    /// R[dst] = format(R[src], K[spec]) (an f-string field with a spec)
    FormatSpec { dst: Reg, src: Reg, spec: u16 },
    /// R[dst] = R[start] + ... + R[start+count-1], all strings (an f-string)
    Concat { dst: Reg, start: Reg, count: u8 },
    /// R[dst] = module number `module`; the first time, its top level runs first (as a call
    /// whose result, the module object, lands in R[dst]); a check point
    Import { dst: Reg, module: u16 },
    /// throw R[src]
    Throw { src: Reg },
    /// push a handler: a throw inside stores its value in R[reg] and continues at pc + off
    TryBegin { reg: Reg, off: i32 },
    /// pop the innermost handler (the try body finished normally)
    TryEnd,
    /// acquire R[src] (a lock) and push a handler that releases it if a throw passes
    WithEnter { src: Reg },
    /// pop that handler and release R[src]
    WithExit { src: Reg },
    /// `for x in range(...)`, ahead of the `Call` and `IterPrep` that make and start the
    /// range: when R[callee] is the builtin `range` and its `argc` arguments (R[base+1],
    /// ...) are ints with a step other than 0, the loop's state goes straight into R[iter],
    /// R[iter+1], R[iter+2] and pc += 2 skips both, allocating no range; otherwise they run
    RangeLoop {
        iter: Reg,
        callee: Reg,
        base: Reg,
        argc: u8,
    },
    /// R[dst] = G[g](R[base+1], ..., R[base+argc]): `Call` of a global read in place (`f(x)`
    /// for a function defined at the top level, `len(xs)`), one instruction instead of a
    /// `GetGlobal` and a `Call`; a check point, like `Call`
    CallGlobal { g: u16, base: Reg, argc: u8, dst: Reg },
}

const _: () = assert!(std::mem::size_of::<Op>() == 8);

/// Where a closure's captured cell comes from when the closure is created.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Capture {
    /// The cell sits in the creating function's register.
    Local(Reg),
    /// The cell is the creating function's own upvalue.
    Upval(u8),
}

/// A compiled function.
#[derive(Debug)]
pub struct Proto {
    /// `<main>` for a script's top level; None for `fn(x) { }`.
    pub name: Option<Rc<str>>,
    /// True for anonymous functions (they print as `<fn>`).
    pub anonymous: bool,
    pub file: Rc<str>,
    /// How many parameters; the last `arity - required` have default values.
    pub arity: u8,
    /// How many arguments a call must pass at least.
    pub required: u8,
    pub nregs: u16,
    pub code: Vec<Op>,
    /// Source line of each instruction.
    pub lines: Vec<u32>,
    /// Constants; strings among them are pinned in the heap.
    pub consts: Vec<Value>,
    pub protos: Vec<Rc<Proto>>,
    pub captures: Vec<Capture>,
    /// Names of the registers that hold named locals, for the disassembler.
    pub local_names: Vec<(Reg, Rc<str>)>,
}

impl Proto {
    /// The name a traceback shows.
    pub fn display_name(&self) -> Rc<str> {
        match &self.name {
            Some(n) if !self.anonymous => n.clone(),
            _ => "<fn>".into(),
        }
    }

    /// The index among the constants of the field name `GetField`/`SetField` carry as the
    /// heap index `name` (the disassembler shows it so; a spawned interpreter's copy of the
    /// code carries it so, heap indices meaning nothing in another heap).
    pub fn field_const(&self, name: u32) -> Option<usize> {
        self.consts
            .iter()
            .position(|v| matches!(v, crate::value::Value::Str(id) if id.index() == name as usize))
    }
}
