//! The compiler: turns a syntax tree into register bytecode, resolving every name once.
//!
//! Invariants:
//! - A name is resolved here to a local register, a captured cell (in a register of the
//!   declaring function, or an upvalue of a nested one), or a global slot; the VM never
//!   looks a name up by string. A name declared nowhere is a `NameError` before anything
//!   runs.
//! - A local that some nested function refers to lives in a cell from its declaration on
//!   (found by `CaptureScan` before code is emitted), so closures capture by reference and
//!   a `for` variable gets a fresh cell each iteration.
//! - `expr_to` leaves the register allocator where it found it: temporaries are freed in
//!   stack order, so a call's callee and arguments are always the topmost registers.
//! - Recursion over the tree is bounded (`MAX_DEPTH`), so no input overflows the stack.

use crate::ast::*;
use crate::bytecode::{Capture, Op, Proto, Reg};
use crate::error::Diagnostic;
use crate::heap::Heap;
use crate::method::{Method, NO_METHOD};
use crate::object::{Obj, StrObj};
use crate::value::Value;
use rustc_hash::{FxHashMap, FxHashSet};
use std::rc::Rc;

/// How deeply expressions and statements may nest before compiling gives up.
const MAX_DEPTH: usize = 1500;
/// Registers 0..=254 are usable; 255 is never handed out, so `reg + 1` cannot overflow.
const MAX_REGS: u16 = 255;

type CResult<T> = Result<T, Diagnostic>;

/// The global variables as the compiler sees them: a slot for each name. The VM owns the
/// table (it also holds the values); the compiler only declares and looks up names, so the
/// interactive prompt compiles each entry against the same slots.
pub trait GlobalSlots {
    /// The slot for `name`, creating an unassigned one if it is new; None when the table is
    /// full.
    fn declare(&mut self, name: &str) -> Option<u16>;
    /// The slot of a declared name.
    fn lookup(&self, name: &str) -> Option<u16>;
}

/// What a top-level chunk is compiled for.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// A script: expression statements discard their values.
    Script,
    /// An entry at the prompt: top-level expression statements pass their value to this
    /// builtin (the echo).
    Repl(Value),
    /// `Interpreter::eval`: a final expression statement is the chunk's return value.
    Eval,
}

/// Compiles a whole program into its `<main>` function.
pub fn compile(
    program: &Program,
    file: &str,
    source: &str,
    heap: &mut Heap,
    globals: &mut dyn GlobalSlots,
    mode: Mode,
) -> CResult<Rc<Proto>> {
    let repl_print = match mode {
        Mode::Repl(echo) => Some(echo),
        _ => None,
    };
    let mut scan = CaptureScan::default();
    scan.program(program);
    for stmt in &program.body {
        let name = match &stmt.kind {
            StmtKind::Let { name, .. } => name,
            StmtKind::FnDecl(def) => match &def.name {
                Some(n) => n,
                None => continue,
            },
            _ => continue,
        };
        if globals.declare(&name.name).is_none() {
            return Err(Diagnostic::syntax("too many global variables", name.span));
        }
    }
    let mut line_starts = vec![0];
    line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
    let mut c = Compiler {
        heap,
        globals,
        file: file.into(),
        line_starts,
        builders: scan.string_builders(),
        captured: scan.captured,
        funcs: Vec::new(),
        depth: 0,
        repl_print,
        strings: FxHashMap::default(),
    };
    c.funcs.push(FuncState::new(Some("<main>".into()), false, 0, true));
    let (last, body) = match (mode, program.body.split_last()) {
        (
            Mode::Eval,
            Some((
                last @ Stmt {
                    kind: StmtKind::Expr(_),
                    ..
                },
                rest,
            )),
        ) => (Some(last), rest),
        _ => (None, &program.body[..]),
    };
    for stmt in body {
        c.stmt(stmt)?;
    }
    if let Some(Stmt {
        kind: StmtKind::Expr(e),
        span,
    }) = last
    {
        c.set_line(*span);
        let r = c.alloc(*span)?;
        c.expr_to(e, r)?;
        c.emit(Op::Return { src: r });
    }
    c.emit(Op::ReturnNil);
    let main = c.funcs.pop().expect("main function state");
    Ok(Rc::new(main.finish(c.file.clone())))
}

struct Local {
    name: Rc<str>,
    reg: Reg,
    cell: bool,
    /// Grows a string in place with `+=`; every other read freezes it first.
    builder: bool,
    depth: usize,
}

enum HandlerCtx {
    Try,
    With(Reg),
}

struct LoopCtx {
    /// Where `continue` goes (always backward).
    start: usize,
    breaks: Vec<usize>,
    /// How many try/with handlers were open when the loop began.
    handlers: usize,
}

struct FuncState {
    name: Option<Rc<str>>,
    anonymous: bool,
    arity: u8,
    is_main: bool,
    code: Vec<Op>,
    lines: Vec<u32>,
    consts: Vec<Value>,
    const_index: FxHashMap<ConstKey, u16>,
    protos: Vec<Rc<Proto>>,
    captures: Vec<Capture>,
    local_names: Vec<(Reg, Rc<str>)>,
    locals: Vec<Local>,
    scope_depth: usize,
    next_reg: u16,
    max_reg: u16,
    loops: Vec<LoopCtx>,
    handlers: Vec<HandlerCtx>,
    line: u32,
}

#[derive(Hash, PartialEq, Eq)]
enum ConstKey {
    Int(i64),
    Float(u64),
    Str(Rc<str>),
    Builtin(u64),
}

impl FuncState {
    fn new(name: Option<Rc<str>>, anonymous: bool, arity: u8, is_main: bool) -> FuncState {
        FuncState {
            name,
            anonymous,
            arity,
            is_main,
            code: Vec::new(),
            lines: Vec::new(),
            consts: Vec::new(),
            const_index: FxHashMap::default(),
            protos: Vec::new(),
            captures: Vec::new(),
            local_names: Vec::new(),
            locals: Vec::new(),
            scope_depth: 0,
            next_reg: 0,
            max_reg: 0,
            loops: Vec::new(),
            handlers: Vec::new(),
            line: 1,
        }
    }

    fn finish(self, file: Rc<str>) -> Proto {
        Proto {
            name: self.name,
            anonymous: self.anonymous,
            file,
            arity: self.arity,
            nregs: self.max_reg.max(1),
            code: self.code,
            lines: self.lines,
            consts: self.consts,
            protos: self.protos,
            captures: self.captures,
            local_names: self.local_names,
        }
    }
}

/// Where a name lives, as the compiler resolved it.
enum Place {
    Local(Reg),
    /// A local whose string `+=` appends in place: the register is the only reference to
    /// its growing buffer, so every other read emits `Freeze` first.
    Builder(Reg),
    Cell(Reg),
    Upval(u8),
    Global(u16),
}

struct Compiler<'a> {
    heap: &'a mut Heap,
    globals: &'a mut dyn GlobalSlots,
    file: Rc<str>,
    line_starts: Vec<usize>,
    /// Declarations (by the byte offset of their name) that a nested function refers to.
    captured: FxHashSet<usize>,
    /// Declarations of locals that build a string in place (see `Place::Builder`).
    builders: FxHashSet<usize>,
    funcs: Vec<FuncState>,
    depth: usize,
    repl_print: Option<Value>,
    /// One string object per distinct string constant in the program, shared by every
    /// function: a field name and the map key made from the same literal are then the same
    /// text in memory, which map lookups compare by address before comparing bytes.
    strings: FxHashMap<Rc<str>, Value>,
}

impl Compiler<'_> {
    fn f(&mut self) -> &mut FuncState {
        self.funcs.last_mut().expect("a function is being compiled")
    }

    fn fr(&self) -> &FuncState {
        self.funcs.last().expect("a function is being compiled")
    }

    fn emit(&mut self, op: Op) -> usize {
        let f = self.f();
        f.code.push(op);
        f.lines.push(f.line);
        f.code.len() - 1
    }

    fn here(&self) -> usize {
        self.fr().code.len()
    }

    fn set_line(&mut self, span: Span) {
        let line = match self.line_starts.binary_search(&span.start) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        self.f().line = line as u32;
    }

    fn jump_offset(&self, from: usize, to: usize, span: Span) -> CResult<i32> {
        i32::try_from(to as i64 - (from as i64 + 1)).map_err(|_| Diagnostic::syntax("function too large", span))
    }

    /// Points the forward jump at `at` to the current end of the code.
    fn patch(&mut self, at: usize, span: Span) -> CResult<()> {
        let off = self.jump_offset(at, self.here(), span)?;
        match &mut self.f().code[at] {
            Op::Jump { off: o }
            | Op::JumpIfFalse { off: o, .. }
            | Op::JumpIfTrue { off: o, .. }
            | Op::JumpIfNotLt { off: o, .. }
            | Op::IterNext { off: o, .. }
            | Op::TryBegin { off: o, .. } => *o = off,
            _ => {}
        }
        Ok(())
    }

    fn emit_loop(&mut self, start: usize, span: Span) -> CResult<()> {
        let back = u32::try_from(self.here() + 1 - start).map_err(|_| Diagnostic::syntax("loop too large", span))?;
        self.emit(Op::Loop { back });
        Ok(())
    }

    fn alloc(&mut self, span: Span) -> CResult<Reg> {
        let f = self.f();
        if f.next_reg >= MAX_REGS {
            return Err(Diagnostic::syntax(
                "this function needs more than 255 registers; split it into smaller functions",
                span,
            ));
        }
        let r = f.next_reg as Reg;
        f.next_reg += 1;
        f.max_reg = f.max_reg.max(f.next_reg);
        Ok(r)
    }

    fn free_to(&mut self, mark: u16) {
        self.f().next_reg = mark;
    }

    fn mark(&self) -> u16 {
        self.fr().next_reg
    }

    fn konst(&mut self, key: ConstKey, span: Span) -> CResult<u16> {
        if let Some(&k) = self.fr().const_index.get(&key) {
            return Ok(k);
        }
        let value = match &key {
            ConstKey::Int(i) => Value::Int(*i),
            ConstKey::Float(bits) => Value::float(f64::from_bits(*bits)),
            ConstKey::Str(s) => match self.strings.get(s) {
                Some(&v) => v,
                None => {
                    let v = Value::Str(self.heap.alloc_pinned(Obj::Str(StrObj::new(s.clone()))));
                    self.strings.insert(s.clone(), v);
                    v
                }
            },
            ConstKey::Builtin(i) => Value::Builtin(*i),
        };
        let f = self.f();
        let k = u16::try_from(f.consts.len())
            .map_err(|_| Diagnostic::syntax("too many constants in one function", span))?;
        f.consts.push(value);
        f.const_index.insert(key, k);
        Ok(k)
    }

    fn str_const(&mut self, s: &str, span: Span) -> CResult<u16> {
        self.konst(ConstKey::Str(s.into()), span)
    }

    fn enter(&mut self, span: Span) -> CResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Diagnostic::syntax("expression nested too deeply", span));
        }
        Ok(())
    }

    // ---- scopes and names ------------------------------------------------------------

    fn begin_scope(&mut self) {
        self.f().scope_depth += 1;
    }

    fn end_scope(&mut self, mark: u16) {
        let f = self.f();
        f.scope_depth -= 1;
        let depth = f.scope_depth;
        while f.locals.last().is_some_and(|l| l.depth > depth) {
            f.locals.pop();
        }
        self.free_to(mark);
    }

    fn is_global_scope(&self) -> bool {
        let f = self.fr();
        f.is_main && f.scope_depth == 0
    }

    /// Declares a local in register `reg`; returns whether it lives in a cell.
    fn declare_local(&mut self, name: &Ident, reg: Reg) -> bool {
        let cell = self.captured.contains(&name.span.start);
        let builder = self.builders.contains(&name.span.start);
        let f = self.f();
        let name_rc: Rc<str> = name.name.as_str().into();
        f.local_names.push((reg, name_rc.clone()));
        let depth = f.scope_depth;
        f.locals.push(Local {
            name: name_rc,
            reg,
            cell,
            builder,
            depth,
        });
        cell
    }

    fn resolve(&mut self, name: &str, span: Span) -> CResult<Place> {
        let level = self.funcs.len() - 1;
        if let Some(local) = self.funcs[level].locals.iter().rev().find(|l| &*l.name == name) {
            return Ok(if local.cell {
                Place::Cell(local.reg)
            } else if local.builder {
                Place::Builder(local.reg)
            } else {
                Place::Local(local.reg)
            });
        }
        if let Some(u) = self.resolve_upval(level, name, span)? {
            return Ok(Place::Upval(u));
        }
        match self.globals.lookup(name) {
            Some(g) => Ok(Place::Global(g)),
            None => Err(Diagnostic::name(format!("name '{name}' is not defined"), span)),
        }
    }

    /// Finds `name` in a function enclosing `level`, threading it through every function
    /// in between as an upvalue.
    fn resolve_upval(&mut self, level: usize, name: &str, span: Span) -> CResult<Option<u8>> {
        if level == 0 {
            return Ok(None);
        }
        let outer = &self.funcs[level - 1];
        let capture = if let Some(local) = outer.locals.iter().rev().find(|l| &*l.name == name) {
            if !local.cell {
                return Err(Diagnostic::syntax(
                    format!("internal error: '{name}' is captured but was not given a cell"),
                    span,
                ));
            }
            Capture::Local(local.reg)
        } else {
            match self.resolve_upval(level - 1, name, span)? {
                Some(u) => Capture::Upval(u),
                None => return Ok(None),
            }
        };
        let f = &mut self.funcs[level];
        if let Some(i) = f.captures.iter().position(|c| *c == capture) {
            return Ok(Some(i as u8));
        }
        if f.captures.len() >= 255 {
            return Err(Diagnostic::syntax("a function may capture at most 255 variables", span));
        }
        f.captures.push(capture);
        Ok(Some((f.captures.len() - 1) as u8))
    }

    fn is_local_reg(&self, reg: Reg) -> bool {
        self.fr().locals.iter().any(|l| l.reg == reg)
    }

    // ---- statements ------------------------------------------------------------------

    fn block(&mut self, block: &Block) -> CResult<()> {
        let mark = self.mark();
        self.begin_scope();
        for stmt in &block.stmts {
            self.stmt(stmt)?;
        }
        self.end_scope(mark);
        Ok(())
    }

    fn stmt(&mut self, stmt: &Stmt) -> CResult<()> {
        self.enter(stmt.span)?;
        self.set_line(stmt.span);
        let result = self.stmt_inner(stmt);
        self.depth -= 1;
        result
    }

    fn stmt_inner(&mut self, stmt: &Stmt) -> CResult<()> {
        let span = stmt.span;
        match &stmt.kind {
            StmtKind::Let { name, value } => {
                if self.is_global_scope() {
                    let g = self.global_slot(name)?;
                    let mark = self.mark();
                    let r = match value {
                        Some(v) => self.expr_reg(v)?,
                        None => {
                            let r = self.alloc(span)?;
                            self.emit(Op::LoadNil { dst: r });
                            r
                        }
                    };
                    self.set_line(span);
                    self.emit(Op::SetGlobal { g, src: r });
                    self.free_to(mark);
                } else {
                    let r = self.alloc(span)?;
                    match value {
                        Some(v) => self.expr_to(v, r)?,
                        None => {
                            self.emit(Op::LoadNil { dst: r });
                        }
                    }
                    if self.declare_local(name, r) {
                        self.emit(Op::NewCell { dst: r, src: r });
                    }
                }
            }
            StmtKind::FnDecl(def) => {
                let name = def.name.as_ref().expect("a declared function has a name");
                if self.is_global_scope() {
                    let g = self.global_slot(name)?;
                    let mark = self.mark();
                    let r = self.alloc(span)?;
                    self.closure(def, r)?;
                    self.emit(Op::SetGlobal { g, src: r });
                    self.free_to(mark);
                } else {
                    let r = self.alloc(span)?;
                    if self.declare_local(name, r) {
                        self.emit(Op::LoadNil { dst: r });
                        self.emit(Op::NewCell { dst: r, src: r });
                        let mark = self.mark();
                        let t = self.alloc(span)?;
                        self.closure(def, t)?;
                        self.emit(Op::SetCell { cell: r, src: t });
                        self.free_to(mark);
                    } else {
                        self.closure(def, r)?;
                    }
                }
            }
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value, span)?,
            StmtKind::If { arms, otherwise } => {
                let mut ends = Vec::new();
                for (i, (cond, body)) in arms.iter().enumerate() {
                    let skip = self.cond_jump(cond)?;
                    self.block(body)?;
                    if i + 1 < arms.len() || otherwise.is_some() {
                        ends.push(self.emit(Op::Jump { off: 0 }));
                    }
                    self.patch(skip, span)?;
                }
                if let Some(body) = otherwise {
                    self.block(body)?;
                }
                for at in ends {
                    self.patch(at, span)?;
                }
            }
            StmtKind::While { cond, body } => {
                let start = self.here();
                let exit = match cond.kind {
                    ExprKind::Bool(true) => None,
                    _ => Some(self.cond_jump(cond)?),
                };
                let handlers = self.fr().handlers.len();
                self.f().loops.push(LoopCtx {
                    start,
                    breaks: Vec::new(),
                    handlers,
                });
                self.block(body)?;
                self.set_line(span);
                self.emit_loop(start, span)?;
                if let Some(exit) = exit {
                    self.patch(exit, span)?;
                }
                let ctx = self.f().loops.pop().expect("loop context");
                for at in ctx.breaks {
                    self.patch(at, span)?;
                }
            }
            StmtKind::For { vars, iter, body } => self.for_loop(vars, iter, body, span)?,
            StmtKind::With { subject, body } => {
                let mark = self.mark();
                let s = self.alloc(span)?;
                self.expr_to(subject, s)?;
                self.set_line(span);
                self.emit(Op::WithEnter { src: s });
                self.f().handlers.push(HandlerCtx::With(s));
                self.block(body)?;
                self.f().handlers.pop();
                self.emit(Op::WithExit { src: s });
                self.free_to(mark);
            }
            StmtKind::Try { body, var, handler } => {
                let mark = self.mark();
                let r = self.alloc(span)?;
                let begin = self.emit(Op::TryBegin { reg: r, off: 0 });
                self.f().handlers.push(HandlerCtx::Try);
                self.block(body)?;
                self.f().handlers.pop();
                self.emit(Op::TryEnd);
                let done = self.emit(Op::Jump { off: 0 });
                self.patch(begin, span)?;
                let scope_mark = self.mark();
                self.begin_scope();
                if let Some(var) = var
                    && self.declare_local(var, r)
                {
                    self.emit(Op::NewCell { dst: r, src: r });
                }
                for s in &handler.stmts {
                    self.stmt(s)?;
                }
                self.end_scope(scope_mark);
                self.patch(done, span)?;
                self.free_to(mark);
            }
            StmtKind::Throw(e) => {
                let mark = self.mark();
                let r = self.expr_reg(e)?;
                self.set_line(span);
                self.emit(Op::Throw { src: r });
                self.free_to(mark);
            }
            StmtKind::Return(e) => {
                if self.fr().is_main {
                    return Err(Diagnostic::syntax("'return' outside function", span));
                }
                let mark = self.mark();
                let r = match e {
                    Some(e) => Some(self.expr_reg(e)?),
                    None => None,
                };
                self.exit_handlers(0);
                self.set_line(span);
                self.emit(match r {
                    Some(src) => Op::Return { src },
                    None => Op::ReturnNil,
                });
                self.free_to(mark);
            }
            StmtKind::Break | StmtKind::Continue => {
                let is_break = matches!(stmt.kind, StmtKind::Break);
                let Some(ctx) = self.fr().loops.last() else {
                    let word = if is_break { "break" } else { "continue" };
                    return Err(Diagnostic::syntax(format!("'{word}' outside loop"), span));
                };
                let (start, handlers) = (ctx.start, ctx.handlers);
                self.exit_handlers(handlers);
                if is_break {
                    let at = self.emit(Op::Jump { off: 0 });
                    self.f().loops.last_mut().expect("loop context").breaks.push(at);
                } else {
                    self.emit_loop(start, span)?;
                }
            }
            StmtKind::Expr(e) => {
                let mark = self.mark();
                match self.repl_print {
                    Some(printer) if self.is_global_scope() => {
                        let base = self.alloc(span)?;
                        let Value::Builtin(i) = printer else {
                            unreachable!("repl printer is a builtin")
                        };
                        let k = self.konst(ConstKey::Builtin(i), span)?;
                        self.emit(Op::LoadConst { dst: base, k });
                        let arg = self.alloc(span)?;
                        self.expr_to(e, arg)?;
                        self.emit(Op::Call {
                            func: base,
                            argc: 1,
                            dst: base,
                        });
                    }
                    _ => {
                        let t = self.alloc(span)?;
                        self.expr_to(e, t)?;
                    }
                }
                self.free_to(mark);
            }
        }
        Ok(())
    }

    fn global_slot(&mut self, name: &Ident) -> CResult<u16> {
        self.globals
            .declare(&name.name)
            .ok_or_else(|| Diagnostic::syntax("too many global variables", name.span))
    }

    /// Emits the exits of every try/with handler opened since `keep` handlers were open,
    /// innermost first (for `return`, `break` and `continue` leaving them).
    fn exit_handlers(&mut self, keep: usize) {
        let exits: Vec<Op> = self.fr().handlers[keep..]
            .iter()
            .rev()
            .map(|h| match h {
                HandlerCtx::Try => Op::TryEnd,
                HandlerCtx::With(s) => Op::WithExit { src: *s },
            })
            .collect();
        for op in exits {
            self.emit(op);
        }
    }

    /// Compiles a condition and a forward jump taken when it is false; returns the jump.
    fn cond_jump(&mut self, cond: &Expr) -> CResult<usize> {
        let mark = self.mark();
        self.set_line(cond.span);
        let at = match &cond.kind {
            ExprKind::Binary(BinOp::Lt, l, r) => {
                let a = self.expr_reg(l)?;
                let b = self.expr_reg(r)?;
                self.set_line(cond.span);
                self.emit(Op::JumpIfNotLt { a, b, off: 0 })
            }
            _ => {
                let c = self.expr_reg(cond)?;
                self.emit(Op::JumpIfFalse { cond: c, off: 0 })
            }
        };
        self.free_to(mark);
        Ok(at)
    }

    fn for_loop(&mut self, vars: &[Ident], iter: &Expr, body: &Block, span: Span) -> CResult<()> {
        let mark = self.mark();
        let it = self.alloc(span)?;
        self.alloc(span)?;
        self.alloc(span)?;
        self.expr_to(iter, it)?;
        self.set_line(span);
        self.emit(Op::IterPrep { iter: it, src: it });
        let start = self.here();
        let scope_mark = self.mark();
        self.begin_scope();
        let next = if let [var] = vars {
            let v = self.alloc(var.span)?;
            let next = self.emit(Op::IterNext {
                iter: it,
                dst: v,
                off: 0,
            });
            if self.declare_local(var, v) {
                self.emit(Op::NewCell { dst: v, src: v });
            }
            next
        } else {
            let pair = self.alloc(span)?;
            let first = self.alloc(span)?;
            self.alloc(span)?;
            let next = self.emit(Op::IterNext {
                iter: it,
                dst: pair,
                off: 0,
            });
            self.emit(Op::Unpack2 { dst: first, src: pair });
            for (i, var) in vars.iter().enumerate() {
                let v = first + i as Reg;
                if self.declare_local(var, v) {
                    self.emit(Op::NewCell { dst: v, src: v });
                }
            }
            next
        };
        let handlers = self.fr().handlers.len();
        self.f().loops.push(LoopCtx {
            start,
            breaks: Vec::new(),
            handlers,
        });
        for s in &body.stmts {
            self.stmt(s)?;
        }
        self.end_scope(scope_mark);
        self.set_line(span);
        self.emit_loop(start, span)?;
        self.patch(next, span)?;
        let ctx = self.f().loops.pop().expect("loop context");
        for at in ctx.breaks {
            self.patch(at, span)?;
        }
        self.free_to(mark);
        Ok(())
    }

    fn assign(&mut self, target: &Expr, op: Option<BinOp>, value: &Expr, span: Span) -> CResult<()> {
        let mark = self.mark();
        match &target.kind {
            ExprKind::Name(name) => match self.resolve(name, target.span)? {
                Place::Builder(r) => match op {
                    None => self.expr_to(value, r)?,
                    Some(BinOp::Add) => {
                        let b = self.expr_reg(value)?;
                        self.set_line(span);
                        self.emit(Op::AppendStr { dst: r, src: b });
                    }
                    Some(op) => {
                        self.emit(Op::Freeze { reg: r });
                        let b = self.expr_reg(value)?;
                        self.set_line(span);
                        self.emit(arith(op, r, r, b));
                    }
                },
                Place::Local(r) => match op {
                    None => self.expr_to(value, r)?,
                    Some(op) => self.arith_with(op, r, r, value, span)?,
                },
                place => {
                    let t = self.alloc(span)?;
                    match op {
                        None => self.expr_to(value, t)?,
                        Some(op) => {
                            self.load_place(&place, t);
                            self.arith_with(op, t, t, value, span)?;
                        }
                    }
                    match place {
                        Place::Cell(cell) => self.emit(Op::SetCell { cell, src: t }),
                        Place::Upval(u) => self.emit(Op::SetUpval { u, src: t }),
                        Place::Global(g) => self.emit(Op::SetGlobal { g, src: t }),
                        Place::Local(_) | Place::Builder(_) => unreachable!("handled above"),
                    };
                }
            },
            ExprKind::Index { obj, index } => {
                let o = self.expr_reg(obj)?;
                let i = self.expr_reg(index)?;
                let v = self.stored_value(op, value, span, |t| Op::GetIndex {
                    dst: t,
                    obj: o,
                    index: i,
                })?;
                self.set_line(span);
                self.emit(Op::SetIndex {
                    obj: o,
                    index: i,
                    src: v,
                });
            }
            ExprKind::Field { obj, name } => {
                let o = self.expr_reg(obj)?;
                let k = self.str_const(&name.name, name.span)?;
                let v = self.stored_value(op, value, span, |t| Op::GetField {
                    dst: t,
                    obj: o,
                    name: k,
                })?;
                self.set_line(span);
                self.emit(Op::SetField {
                    obj: o,
                    name: k,
                    src: v,
                });
            }
            _ => return Err(Diagnostic::syntax("cannot assign to this expression", target.span)),
        }
        self.free_to(mark);
        Ok(())
    }

    /// The register holding what `target op= value` stores: `value` itself for plain `=`,
    /// else `target op value` computed into a temporary, `read(t)` loading the target.
    fn stored_value(&mut self, op: Option<BinOp>, value: &Expr, span: Span, read: impl Fn(Reg) -> Op) -> CResult<Reg> {
        let Some(op) = op else { return self.expr_reg(value) };
        let t = self.alloc(span)?;
        self.set_line(span);
        self.emit(read(t));
        self.arith_with(op, t, t, value, span)?;
        Ok(t)
    }

    /// `dst = a op r`: `AddInt`/`SubInt` when `op` adds or subtracts a small int literal
    /// (`i += 1`, `n - 1`), else `r` into a register and the general instruction.
    fn arith_with(&mut self, op: BinOp, dst: Reg, a: Reg, r: &Expr, span: Span) -> CResult<()> {
        if let (BinOp::Add | BinOp::Sub, ExprKind::Int(i)) = (op, &r.kind)
            && let Ok(imm) = i16::try_from(*i)
        {
            self.set_line(span);
            self.emit(if op == BinOp::Add {
                Op::AddInt { dst, a, imm }
            } else {
                Op::SubInt { dst, a, imm }
            });
            return Ok(());
        }
        let b = self.expr_reg(r)?;
        self.set_line(span);
        self.emit(arith(op, dst, a, b));
        Ok(())
    }

    fn load_place(&mut self, place: &Place, dst: Reg) {
        match *place {
            Place::Local(r) => {
                if r != dst {
                    self.emit(Op::Move { dst, src: r });
                }
            }
            Place::Builder(r) => {
                self.emit(Op::Freeze { reg: r });
                if r != dst {
                    self.emit(Op::Move { dst, src: r });
                }
            }
            Place::Cell(cell) => {
                self.emit(Op::GetCell { dst, cell });
            }
            Place::Upval(u) => {
                self.emit(Op::GetUpval { dst, u });
            }
            Place::Global(g) => {
                self.emit(Op::GetGlobal { dst, g });
            }
        }
    }

    // ---- expressions -----------------------------------------------------------------

    /// A register holding the value of `e`: a plain local's own register, or a new
    /// temporary. The caller must not write to it.
    fn expr_reg(&mut self, e: &Expr) -> CResult<Reg> {
        if let ExprKind::Name(name) = &e.kind {
            match self.resolve(name, e.span)? {
                Place::Local(r) => return Ok(r),
                Place::Builder(r) => {
                    self.emit(Op::Freeze { reg: r });
                    return Ok(r);
                }
                _ => {}
            }
        }
        let r = self.alloc(e.span)?;
        self.expr_to(e, r)?;
        Ok(r)
    }

    fn expr_to(&mut self, e: &Expr, dst: Reg) -> CResult<()> {
        self.enter(e.span)?;
        let mark = self.mark();
        let result = self.expr_inner(e, dst);
        self.free_to(mark);
        self.depth -= 1;
        result
    }

    fn expr_inner(&mut self, e: &Expr, dst: Reg) -> CResult<()> {
        let span = e.span;
        self.set_line(span);
        match &e.kind {
            ExprKind::Nil => {
                self.emit(Op::LoadNil { dst });
            }
            ExprKind::Bool(value) => {
                self.emit(Op::LoadBool { dst, value: *value });
            }
            ExprKind::Int(i) => self.load_int(*i, dst, span)?,
            ExprKind::Float(x) => {
                let k = self.konst(ConstKey::Float(x.to_bits()), span)?;
                self.emit(Op::LoadConst { dst, k });
            }
            ExprKind::Str(s) => {
                let k = self.str_const(s, span)?;
                self.emit(Op::LoadConst { dst, k });
            }
            ExprKind::Name(name) => {
                let place = self.resolve(name, span)?;
                self.load_place(&place, dst);
            }
            ExprKind::List(items) => self.list_literal(items, dst, span)?,
            ExprKind::Map(pairs) => self.map_literal(pairs, dst, span)?,
            ExprKind::Unary(UnOp::Neg, inner) => match inner.kind {
                ExprKind::Int(i) => self.load_int(-i, dst, span)?,
                ExprKind::Float(x) => {
                    let k = self.konst(ConstKey::Float((-x).to_bits()), span)?;
                    self.emit(Op::LoadConst { dst, k });
                }
                _ => {
                    let src = self.expr_reg(inner)?;
                    self.set_line(span);
                    self.emit(Op::Neg { dst, src });
                }
            },
            ExprKind::Unary(UnOp::Not, inner) => {
                let src = self.expr_reg(inner)?;
                self.emit(Op::Not { dst, src });
            }
            ExprKind::Binary(op, l, r) => {
                let a = self.expr_reg(l)?;
                self.arith_with(*op, dst, a, r, span)?;
            }
            ExprKind::And(l, r) | ExprKind::Or(l, r) => {
                // Writing a local's register half-way would corrupt `x = a and x`.
                let t = if self.is_local_reg(dst) { self.alloc(span)? } else { dst };
                self.expr_to(l, t)?;
                let at = if matches!(e.kind, ExprKind::And(..)) {
                    self.emit(Op::JumpIfFalse { cond: t, off: 0 })
                } else {
                    self.emit(Op::JumpIfTrue { cond: t, off: 0 })
                };
                self.expr_to(r, t)?;
                self.patch(at, span)?;
                if t != dst {
                    self.emit(Op::Move { dst, src: t });
                }
            }
            ExprKind::Call { callee, args } => {
                let base = self.alloc(span)?;
                self.expr_to(callee, base)?;
                let argc = self.args(args, span)?;
                self.set_line(span);
                self.emit(Op::Call { func: base, argc, dst });
            }
            ExprKind::MethodCall { obj, name, args } => {
                let base = self.alloc(span)?;
                self.expr_to(obj, base)?;
                let argc = self.args(args, span)?;
                let k = self.str_const(&name.name, name.span)?;
                let method = Method::from_name(&name.name).map_or(NO_METHOD, |m| m as u8);
                self.set_line(span);
                self.emit(Op::CallMethod {
                    dst,
                    obj: base,
                    argc,
                    name: k,
                    method,
                });
            }
            ExprKind::Index { obj, index } => {
                let o = self.expr_reg(obj)?;
                let i = self.expr_reg(index)?;
                self.set_line(span);
                self.emit(Op::GetIndex { dst, obj: o, index: i });
            }
            ExprKind::Slice { obj, lo, hi } => {
                let o = self.expr_reg(obj)?;
                let lo = self.optional(lo.as_deref(), span)?;
                let hi = self.optional(hi.as_deref(), span)?;
                self.set_line(span);
                self.emit(Op::Slice { dst, obj: o, lo, hi });
            }
            ExprKind::Field { obj, name } => {
                let o = self.expr_reg(obj)?;
                let k = self.str_const(&name.name, name.span)?;
                self.set_line(span);
                self.emit(Op::GetField { dst, obj: o, name: k });
            }
            ExprKind::Fn(def) => self.closure(def, dst)?,
        }
        Ok(())
    }

    fn load_int(&mut self, i: i64, dst: Reg, span: Span) -> CResult<()> {
        match i32::try_from(i) {
            Ok(imm) => {
                self.emit(Op::LoadInt { dst, imm });
            }
            Err(_) => {
                let k = self.konst(ConstKey::Int(i), span)?;
                self.emit(Op::LoadConst { dst, k });
            }
        }
        Ok(())
    }

    fn optional(&mut self, e: Option<&Expr>, span: Span) -> CResult<Reg> {
        match e {
            Some(e) => self.expr_reg(e),
            None => {
                let r = self.alloc(span)?;
                self.emit(Op::LoadNil { dst: r });
                Ok(r)
            }
        }
    }

    /// Compiles call arguments into the registers just above the callee.
    fn args(&mut self, args: &[Expr], span: Span) -> CResult<u8> {
        if args.len() > 200 {
            return Err(Diagnostic::syntax("a call may pass at most 200 arguments", span));
        }
        for a in args {
            let r = self.alloc(a.span)?;
            self.expr_to(a, r)?;
        }
        Ok(args.len() as u8)
    }

    /// Lists of up to 200 items are built by one instruction; longer ones in chunks that
    /// are concatenated, so a literal of any length compiles.
    fn list_literal(&mut self, items: &[Expr], dst: Reg, span: Span) -> CResult<()> {
        const CHUNK: usize = 200;
        if items.len() <= CHUNK {
            let start = self.mark() as Reg;
            for item in items {
                let r = self.alloc(item.span)?;
                self.expr_to(item, r)?;
            }
            self.set_line(span);
            self.emit(Op::NewList {
                dst,
                start,
                count: items.len() as u8,
            });
            return Ok(());
        }
        let acc = self.alloc(span)?;
        for (i, chunk) in items.chunks(CHUNK).enumerate() {
            let mark = self.mark();
            let part = if i == 0 { acc } else { self.alloc(span)? };
            self.list_literal(chunk, part, span)?;
            if i > 0 {
                self.emit(Op::Add {
                    dst: acc,
                    a: acc,
                    b: part,
                });
            }
            self.free_to(mark);
        }
        self.emit(Op::Move { dst, src: acc });
        Ok(())
    }

    fn map_literal(&mut self, pairs: &[(Expr, Expr)], dst: Reg, span: Span) -> CResult<()> {
        const CHUNK: usize = 100;
        let acc = if pairs.len() <= CHUNK { dst } else { self.alloc(span)? };
        let first = &pairs[..pairs.len().min(CHUNK)];
        let start = self.mark() as Reg;
        for (k, v) in first {
            let r = self.alloc(k.span)?;
            self.expr_to(k, r)?;
            let r = self.alloc(v.span)?;
            self.expr_to(v, r)?;
        }
        self.set_line(span);
        self.emit(Op::NewMap {
            dst: acc,
            start,
            count: first.len() as u8,
        });
        self.free_to(start as u16);
        if pairs.len() > CHUNK {
            for (k, v) in &pairs[CHUNK..] {
                let mark = self.mark();
                let kr = self.expr_reg(k)?;
                let vr = self.expr_reg(v)?;
                self.emit(Op::SetIndex {
                    obj: acc,
                    index: kr,
                    src: vr,
                });
                self.free_to(mark);
            }
            self.emit(Op::Move { dst, src: acc });
        }
        Ok(())
    }

    /// Compiles a nested function and emits the instruction that creates its closure.
    fn closure(&mut self, def: &FnDef, dst: Reg) -> CResult<()> {
        if def.params.len() > 200 {
            return Err(Diagnostic::syntax(
                "a function may take at most 200 parameters",
                def.span,
            ));
        }
        let name: Option<Rc<str>> = def.name.as_ref().map(|n| n.name.as_str().into());
        let anonymous = name.is_none();
        self.funcs
            .push(FuncState::new(name, anonymous, def.params.len() as u8, false));
        self.set_line(def.span);
        for (i, p) in def.params.iter().enumerate() {
            if def.params[..i].iter().any(|q| q.name == p.name) {
                return Err(Diagnostic::syntax(format!("duplicate parameter '{}'", p.name), p.span));
            }
            let r = self.alloc(p.span)?;
            if self.declare_local(p, r) {
                self.emit(Op::NewCell { dst: r, src: r });
            }
        }
        self.block(&def.body)?;
        let end = Span::new(def.body.span.end.saturating_sub(1), def.body.span.end);
        self.set_line(end);
        self.emit(Op::ReturnNil);
        let func = self.funcs.pop().expect("function state");
        let proto = Rc::new(func.finish(self.file.clone()));
        let f = self.f();
        let p = u16::try_from(f.protos.len()).map_err(|_| Diagnostic::syntax("too many nested functions", def.span))?;
        f.protos.push(proto);
        self.set_line(def.span);
        self.emit(Op::Closure { dst, p });
        Ok(())
    }
}

fn arith(op: BinOp, dst: Reg, a: Reg, b: Reg) -> Op {
    match op {
        BinOp::Add => Op::Add { dst, a, b },
        BinOp::Sub => Op::Sub { dst, a, b },
        BinOp::Mul => Op::Mul { dst, a, b },
        BinOp::Div => Op::Div { dst, a, b },
        BinOp::FloorDiv => Op::FloorDiv { dst, a, b },
        BinOp::Mod => Op::Mod { dst, a, b },
        BinOp::Pow => Op::Pow { dst, a, b },
        BinOp::Eq => Op::Eq { dst, a, b },
        BinOp::Ne => Op::Ne { dst, a, b },
        BinOp::Lt => Op::Lt { dst, a, b },
        BinOp::Le => Op::Le { dst, a, b },
        BinOp::Gt => Op::Gt { dst, a, b },
        BinOp::Ge => Op::Ge { dst, a, b },
        BinOp::In => Op::In { dst, a, b },
        BinOp::NotIn => Op::NotIn { dst, a, b },
    }
}

/// Finds the local declarations that nested functions refer to, mirroring the
/// compiler's scoping exactly: function parameters, then one scope per block; top-level
/// `let`/`fn` are globals and are never captured.
#[derive(Default)]
struct CaptureScan {
    captured: FxHashSet<usize>,
    /// Locals declared with a string literal (`let s = ""`).
    string_init: FxHashSet<usize>,
    /// Locals that are the target of `+=` in their own function.
    appended: FxHashSet<usize>,
    /// Per function being scanned, its scopes; each scope lists (name, declaration).
    funcs: Vec<Vec<Vec<(String, usize)>>>,
}

impl CaptureScan {
    fn program(&mut self, program: &Program) {
        self.funcs.push(vec![]);
        for s in &program.body {
            self.stmt(s);
        }
    }

    fn top_level(&self) -> bool {
        self.funcs.len() == 1 && self.funcs[0].is_empty()
    }

    fn declare(&mut self, name: &Ident) {
        if self.top_level() {
            return;
        }
        if let Some(scope) = self.funcs.last_mut().and_then(|f| f.last_mut()) {
            scope.push((name.name.clone(), name.span.start));
        }
    }

    /// The declaration `name` refers to here, and whether it is in an enclosing function.
    fn lookup(&self, name: &str) -> Option<(usize, bool)> {
        let last = self.funcs.len() - 1;
        for (level, func) in self.funcs.iter().enumerate().rev() {
            for scope in func.iter().rev() {
                if let Some((_, decl)) = scope.iter().rev().find(|(n, _)| n == name) {
                    return Some((*decl, level != last));
                }
            }
        }
        None
    }

    fn reference(&mut self, name: &str) {
        if let Some((decl, outer)) = self.lookup(name)
            && outer
        {
            self.captured.insert(decl);
        }
    }

    /// Locals that can build a string in place: declared with a string literal, grown
    /// with `+=`, never captured by a closure.
    fn string_builders(&self) -> FxHashSet<usize> {
        self.string_init
            .iter()
            .filter(|d| self.appended.contains(d) && !self.captured.contains(d))
            .copied()
            .collect()
    }

    fn with_scope(&mut self, f: impl FnOnce(&mut Self)) {
        self.funcs.last_mut().expect("function").push(vec![]);
        f(self);
        self.funcs.last_mut().expect("function").pop();
    }

    fn block(&mut self, b: &Block) {
        self.with_scope(|s| b.stmts.iter().for_each(|st| s.stmt(st)));
    }

    fn function(&mut self, def: &FnDef) {
        self.funcs.push(vec![
            def.params.iter().map(|p| (p.name.clone(), p.span.start)).collect(),
        ]);
        self.block(&def.body);
        self.funcs.pop();
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Let { name, value } => {
                if let Some(v) = value {
                    self.expr(v);
                }
                if let Some(Expr {
                    kind: ExprKind::Str(_), ..
                }) = value
                    && !self.top_level()
                {
                    self.string_init.insert(name.span.start);
                }
                self.declare(name);
            }
            StmtKind::FnDecl(def) => {
                if let Some(n) = &def.name {
                    self.declare(n);
                }
                self.function(def);
            }
            StmtKind::Assign { target, value, op } => {
                if let (ExprKind::Name(n), Some(BinOp::Add)) = (&target.kind, op)
                    && let Some((decl, false)) = self.lookup(n)
                {
                    self.appended.insert(decl);
                }
                self.expr(target);
                self.expr(value);
            }
            StmtKind::If { arms, otherwise } => {
                for (c, b) in arms {
                    self.expr(c);
                    self.block(b);
                }
                if let Some(b) = otherwise {
                    self.block(b);
                }
            }
            StmtKind::While { cond, body } => {
                self.expr(cond);
                self.block(body);
            }
            StmtKind::For { vars, iter, body } => {
                self.expr(iter);
                self.with_scope(|s| {
                    vars.iter().for_each(|v| s.declare(v));
                    body.stmts.iter().for_each(|st| s.stmt(st));
                });
            }
            StmtKind::With { subject, body } => {
                self.expr(subject);
                self.block(body);
            }
            StmtKind::Try { body, var, handler } => {
                self.block(body);
                self.with_scope(|s| {
                    if let Some(v) = var {
                        s.declare(v);
                    }
                    handler.stmts.iter().for_each(|st| s.stmt(st));
                });
            }
            StmtKind::Throw(e) | StmtKind::Expr(e) | StmtKind::Return(Some(e)) => self.expr(e),
            StmtKind::Return(None) | StmtKind::Break | StmtKind::Continue => {}
        }
    }

    fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Name(n) => self.reference(n),
            ExprKind::List(items) => items.iter().for_each(|i| self.expr(i)),
            ExprKind::Map(pairs) => pairs.iter().for_each(|(k, v)| {
                self.expr(k);
                self.expr(v);
            }),
            ExprKind::Unary(_, x) => self.expr(x),
            ExprKind::Binary(_, a, b) | ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                self.expr(a);
                self.expr(b);
            }
            ExprKind::Call { callee, args } => {
                self.expr(callee);
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::MethodCall { obj, args, .. } => {
                self.expr(obj);
                args.iter().for_each(|a| self.expr(a));
            }
            ExprKind::Index { obj, index } => {
                self.expr(obj);
                self.expr(index);
            }
            ExprKind::Slice { obj, lo, hi } => {
                self.expr(obj);
                if let Some(x) = lo {
                    self.expr(x);
                }
                if let Some(x) = hi {
                    self.expr(x);
                }
            }
            ExprKind::Field { obj, .. } => self.expr(obj),
            ExprKind::Fn(def) => self.function(def),
            ExprKind::Nil | ExprKind::Bool(_) | ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) => {}
        }
    }
}
