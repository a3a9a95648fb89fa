//! Compiling statements: declarations, assignment, control flow (`if`, `while`, `for`,
//! `break`, `continue`, `return`), `with`, `try`/`catch` and `throw`.
//!
//! Invariant: every statement leaves the register allocator where it found it, and every
//! way out of a `try` or `with` block (`return`, `break`, `continue`) runs the exits of
//! the handlers it leaves, innermost first.

use super::expr::arith;
use super::state::*;
use crate::ast::*;
use crate::bytecode::{Op, Reg};
use crate::error::Diagnostic;
use crate::value::Value;

impl Compiler<'_> {
    pub(super) fn block(&mut self, block: &Block) -> CResult<()> {
        let mark = self.mark();
        self.begin_scope();
        for stmt in &block.stmts {
            self.stmt(stmt)?;
        }
        self.end_scope(mark);
        Ok(())
    }

    pub(super) fn stmt(&mut self, stmt: &Stmt) -> CResult<()> {
        self.enter(stmt.span)?;
        self.set_line(stmt.span);
        let result = self.stmt_inner(stmt);
        self.depth -= 1;
        result
    }

    pub(super) fn stmt_inner(&mut self, stmt: &Stmt) -> CResult<()> {
        let span = stmt.span;
        match &stmt.kind {
            StmtKind::Let { name, value } => self.let_stmt(name, value.as_ref(), span)?,
            StmtKind::LetUnpack { names, value } => self.let_unpack(names, value, span)?,
            StmtKind::AssignMany { targets, value } => self.assign_many(targets, value, span)?,
            StmtKind::Import { path, alias } => self.import(path, alias.as_ref(), span)?,
            StmtKind::FromImport { path, names } => self.import_names(path, names, span)?,
            StmtKind::FnDecl(def) => self.fn_decl(def, span)?,
            StmtKind::Assign { target, op, value } => self.assign(target, *op, value, span)?,
            StmtKind::If { arms, otherwise } => self.if_stmt(arms, otherwise.as_ref(), span)?,
            StmtKind::While { cond, body } => self.while_loop(cond, body, span)?,
            StmtKind::For { vars, iter, body } => self.for_loop(vars, iter, body, span)?,
            StmtKind::With { subject, body } => self.with_stmt(subject, body, span)?,
            StmtKind::Try { body, var, handler } => self.try_stmt(body, var.as_ref(), handler, span)?,
            StmtKind::Throw(e) => self.throw_stmt(e, span)?,
            StmtKind::Return(e) => self.return_stmt(e.as_ref(), span)?,
            StmtKind::Break | StmtKind::Continue => self.loop_exit(matches!(stmt.kind, StmtKind::Break), span)?,
            StmtKind::Expr(e) => self.expr_stmt(e, span)?,
        }
        Ok(())
    }

    /// `let name = value`: a global slot at the top level, else a register (a cell if captured).
    fn let_stmt(&mut self, name: &Ident, value: Option<&Expr>, span: Span) -> CResult<()> {
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
        Ok(())
    }

    /// `fn name(...) { }`: a closure bound like `let`; a local one may refer to itself.
    fn fn_decl(&mut self, def: &FnDef, span: Span) -> CResult<()> {
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
        Ok(())
    }

    /// `if`/`else if`/`else`: each condition jumps past its arm when false.
    fn if_stmt(&mut self, arms: &[(Expr, Block)], otherwise: Option<&Block>, span: Span) -> CResult<()> {
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
        Ok(())
    }

    /// `while cond { }`: the test at the top, a `Loop` (a check point) at the bottom.
    fn while_loop(&mut self, cond: &Expr, body: &Block, span: Span) -> CResult<()> {
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
        Ok(())
    }

    /// `with subject { }`: enter, the body under a handler that exits on a throw, exit.
    fn with_stmt(&mut self, subject: &Expr, body: &Block, span: Span) -> CResult<()> {
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
        Ok(())
    }

    /// `try { } catch e { }`: the body under a handler that jumps to the catch block.
    fn try_stmt(&mut self, body: &Block, var: Option<&Ident>, handler: &Block, span: Span) -> CResult<()> {
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
        Ok(())
    }

    /// `throw value`.
    fn throw_stmt(&mut self, e: &Expr, span: Span) -> CResult<()> {
        let mark = self.mark();
        let r = self.expr_reg(e)?;
        self.set_line(span);
        self.emit(Op::Throw { src: r });
        self.free_to(mark);
        Ok(())
    }

    /// `return [value]`, leaving every open try/with handler first.
    fn return_stmt(&mut self, e: Option<&Expr>, span: Span) -> CResult<()> {
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
        Ok(())
    }

    /// `break` or `continue`, leaving the try/with handlers opened inside the loop.
    fn loop_exit(&mut self, is_break: bool, span: Span) -> CResult<()> {
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
        Ok(())
    }

    /// An expression as a statement; at the prompt's top level its value is echoed.
    fn expr_stmt(&mut self, e: &Expr, span: Span) -> CResult<()> {
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
                    callee: base,
                    base,
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
        Ok(())
    }

    pub(super) fn global_slot(&mut self, name: &Ident) -> CResult<u16> {
        let declared = match &self.namespace {
            Some(ns) => self.globals.declare(&format!("{ns}.{}", name.name)),
            None => self.globals.declare(&name.name),
        };
        declared.ok_or_else(|| Diagnostic::syntax("too many global variables", name.span))
    }

    /// Binds `name` to R[src]: a global at the top level, else a new local (which takes
    /// over `src`, allocated for it by the caller).
    fn bind(&mut self, name: &Ident, src: Reg) -> CResult<()> {
        if self.is_global_scope() {
            let g = self.global_slot(name)?;
            self.emit(Op::SetGlobal { g, src });
        } else if self.declare_local(name, src) {
            self.emit(Op::NewCell { dst: src, src });
        }
        Ok(())
    }

    /// The module `path` names (compiled now if it is new), with its name's span.
    fn resolve_module(&mut self, path: &[Ident]) -> CResult<ModuleRef> {
        let span = Span::new(path[0].span.start, path[path.len() - 1].span.end);
        let parts: Vec<&str> = path.iter().map(|p| p.name.as_str()).collect();
        self.modules.import(&parts, span, &mut *self.heap, &mut *self.globals)
    }

    /// `import a.b` / `import a.b as x`: runs the module's top level the first time, then
    /// binds the module.
    pub(super) fn import(&mut self, path: &[Ident], alias: Option<&Ident>, span: Span) -> CResult<()> {
        let module = self.resolve_module(path)?;
        let mark = self.mark();
        let r = self.alloc(span)?;
        self.set_line(span);
        self.emit(Op::Import {
            dst: r,
            module: module.id,
        });
        let name = alias.unwrap_or(&path[path.len() - 1]);
        self.bind(name, r)?;
        if self.is_global_scope() {
            self.free_to(mark);
        }
        Ok(())
    }

    /// `from a.b import x, y as z`: copies of the module's globals, bound here; a name the
    /// module does not declare is an `ImportError` now, before anything runs.
    pub(super) fn import_names(&mut self, path: &[Ident], names: &[(Ident, Option<Ident>)], span: Span) -> CResult<()> {
        let module = self.resolve_module(path)?;
        for (name, _) in names {
            if !module.names.iter().any(|n| **n == *name.name) {
                let message = format!("cannot import name '{}' from '{}'", name.name, module.name);
                return Err(Diagnostic::import(message, name.span));
            }
        }
        let global = self.is_global_scope();
        let mark = self.mark();
        let m = self.alloc(span)?;
        self.set_line(span);
        self.emit(Op::Import {
            dst: m,
            module: module.id,
        });
        for (name, alias) in names {
            let r = self.alloc(name.span)?;
            let k = self.field_name(&name.name, name.span)?;
            self.emit(Op::GetField {
                dst: r,
                obj: m,
                name: k,
            });
            self.bind(alias.as_ref().unwrap_or(name), r)?;
        }
        // In a function the module's register stays below the new locals, unused.
        if global {
            self.free_to(mark);
        }
        Ok(())
    }

    /// Emits the exits of every try/with handler opened since `keep` handlers were open,
    /// innermost first (for `return`, `break` and `continue` leaving them).
    pub(super) fn exit_handlers(&mut self, keep: usize) {
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
    pub(super) fn cond_jump(&mut self, cond: &Expr) -> CResult<usize> {
        let mark = self.mark();
        self.set_line(cond.span);
        let at = match &cond.kind {
            ExprKind::Binary(BinOp::Lt, l, r)
                if let ExprKind::Int(i) = r.kind
                    && let Ok(imm) = i16::try_from(i) =>
            {
                let a = self.expr_reg(l)?;
                self.set_line(cond.span);
                self.emit(Op::JumpIfNotLtInt { a, imm, off: 0 })
            }
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

    pub(super) fn for_loop(&mut self, vars: &[Ident], iter: &Expr, body: &Block, span: Span) -> CResult<()> {
        let mark = self.mark();
        let it = self.alloc(span)?;
        self.alloc(span)?;
        self.alloc(span)?;
        self.start_loop(iter, it, span)?;
        let start = self.here();
        let scope_mark = self.mark();
        self.begin_scope();
        let next = self.loop_vars(it, vars, span)?;
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
        self.emit_iter_loop(next, span)?;
        self.patch(next, span)?;
        let ctx = self.f().loops.pop().expect("loop context");
        for at in ctx.breaks {
            self.patch(at, span)?;
        }
        self.free_to(mark);
        Ok(())
    }

    /// Puts the iterable `iter` in `it` and starts the loop there (`IterPrep`, on the line
    /// of `line`). A call of `range` gets a `RangeLoop` in front, which fills the loop's
    /// registers itself when the name still means the builtin and the bounds are ints: a
    /// nested loop then makes no range object at each turn of the outer one.
    pub(super) fn start_loop(&mut self, iter: &Expr, it: Reg, line: Span) -> CResult<()> {
        match &iter.kind {
            ExprKind::Call { callee, args }
                if matches!(&callee.kind, ExprKind::Name(name) if name == "range") && (1..=3).contains(&args.len()) =>
            {
                let mark = self.mark();
                self.range_call(callee, args, it, iter.span)?;
                self.free_to(mark);
            }
            _ => self.expr_to(iter, it)?,
        }
        self.set_line(line);
        self.emit(Op::IterPrep { iter: it, src: it });
        Ok(())
    }

    /// `range(args)` into `it` as an ordinary call, behind a `RangeLoop` that can skip it.
    fn range_call(&mut self, callee: &Expr, args: &[Expr], it: Reg, span: Span) -> CResult<()> {
        let base = self.alloc(span)?;
        let callee = self.operand_in_place(callee, base)?;
        let argc = self.args(args, span)?;
        self.set_line(span);
        self.emit(Op::RangeLoop {
            iter: it,
            callee,
            base,
            argc,
        });
        self.emit(Op::Call {
            callee,
            base,
            argc,
            dst: it,
        });
        Ok(())
    }

    /// Emits the `IterNext` of the loop at `it` and binds its item to `vars` (one name, or
    /// several unpacking a list of that many items), each in a fresh cell if captured;
    /// returns the `IterNext` to patch with the loop's exit.
    pub(super) fn loop_vars(&mut self, it: Reg, vars: &[Ident], span: Span) -> CResult<usize> {
        if let [var] = vars {
            let v = self.alloc(var.span)?;
            let next = self.emit(Op::IterNext {
                iter: it,
                dst: v,
                off: 0,
            });
            if self.declare_local(var, v) {
                self.emit(Op::NewCell { dst: v, src: v });
            }
            return Ok(next);
        }
        if vars.len() > 200 {
            return Err(Diagnostic::syntax("at most 200 names can be unpacked at once", span));
        }
        let item = self.alloc(span)?;
        let first = self.mark() as Reg;
        for _ in vars {
            self.alloc(span)?;
        }
        let next = self.emit(Op::IterNext {
            iter: it,
            dst: item,
            off: 0,
        });
        self.emit(Op::Unpack {
            dst: first,
            src: item,
            count: vars.len() as u8,
        });
        for (i, var) in vars.iter().enumerate() {
            let v = first + i as Reg;
            if self.declare_local(var, v) {
                self.emit(Op::NewCell { dst: v, src: v });
            }
        }
        Ok(next)
    }

    /// Puts the `count` items of `value` in the registers from `first` on: straight from a
    /// comma list of exactly that many items, else by unpacking the value (a `ValueError`
    /// unless it is a list of `count` items).
    fn unpacked(&mut self, value: &Expr, first: Reg, count: usize, span: Span) -> CResult<()> {
        if let ExprKind::List(items) = &value.kind
            && items.len() == count
        {
            for (i, item) in items.iter().enumerate() {
                self.expr_to(item, first + i as Reg)?;
            }
            return Ok(());
        }
        let mark = self.mark();
        let v = self.expr_reg(value)?;
        self.set_line(span);
        self.emit(Op::Unpack {
            dst: first,
            src: v,
            count: count as u8,
        });
        self.free_to(mark);
        Ok(())
    }

    /// `let a, b = value`.
    fn let_unpack(&mut self, names: &[Ident], value: &Expr, span: Span) -> CResult<()> {
        if names.len() > 200 {
            return Err(Diagnostic::syntax("at most 200 names can be unpacked at once", span));
        }
        let mark = self.mark();
        let first = self.mark() as Reg;
        for n in names {
            self.alloc(n.span)?;
        }
        self.unpacked(value, first, names.len(), span)?;
        if self.is_global_scope() {
            for (i, name) in names.iter().enumerate() {
                let g = self.global_slot(name)?;
                self.set_line(span);
                self.emit(Op::SetGlobal {
                    g,
                    src: first + i as Reg,
                });
            }
            self.free_to(mark);
        } else {
            for (i, name) in names.iter().enumerate() {
                let r = first + i as Reg;
                if self.declare_local(name, r) {
                    self.emit(Op::NewCell { dst: r, src: r });
                }
            }
        }
        Ok(())
    }

    /// `a, b = value`: the right side first, then each target left to right.
    fn assign_many(&mut self, targets: &[Expr], value: &Expr, span: Span) -> CResult<()> {
        if targets.len() > 200 {
            return Err(Diagnostic::syntax("at most 200 targets can be assigned at once", span));
        }
        let mark = self.mark();
        let first = self.mark() as Reg;
        for _ in targets {
            self.alloc(span)?;
        }
        self.unpacked(value, first, targets.len(), span)?;
        for (i, target) in targets.iter().enumerate() {
            self.store(target, first + i as Reg, span)?;
        }
        self.free_to(mark);
        Ok(())
    }

    /// `target = R[src]`, for a target that is a name, an item or a field.
    fn store(&mut self, target: &Expr, src: Reg, span: Span) -> CResult<()> {
        let mark = self.mark();
        match &target.kind {
            ExprKind::Name(name) => match self.resolve(name, target.span)? {
                Place::Local(r) | Place::Builder(r) => {
                    if r != src {
                        self.emit(Op::Move { dst: r, src });
                    }
                }
                Place::Cell(cell) => {
                    self.emit(Op::SetCell { cell, src });
                }
                Place::Upval(u) => {
                    self.emit(Op::SetUpval { u, src });
                }
                Place::Global(g) => {
                    self.emit(Op::SetGlobal { g, src });
                }
            },
            ExprKind::Index { obj, index } => {
                let o = self.expr_reg(obj)?;
                let i = self.expr_reg(index)?;
                self.set_line(span);
                self.emit(Op::SetIndex { obj: o, index: i, src });
            }
            ExprKind::Field { obj, name } => {
                let o = self.expr_reg(obj)?;
                let k = self.field_name(&name.name, name.span)?;
                self.set_line(span);
                self.emit(Op::SetField { obj: o, src, name: k });
            }
            ExprKind::Slice { obj, lo, hi, step } => {
                let [obj, lo, hi, step] = self.slice_parts(obj, lo, hi, step, span)?;
                self.set_line(span);
                self.emit(Op::SetSlice { obj, lo, hi, step, src });
            }
            _ => return Err(Diagnostic::syntax("cannot assign to this expression", target.span)),
        }
        self.free_to(mark);
        Ok(())
    }

    pub(super) fn assign(&mut self, target: &Expr, op: Option<BinOp>, value: &Expr, span: Span) -> CResult<()> {
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
                    Some(op) => self.compound_with(op, r, value, span)?,
                },
                place => {
                    let t = self.alloc(span)?;
                    match op {
                        None => self.expr_to(value, t)?,
                        Some(op) => {
                            self.load_place(&place, t);
                            self.compound_with(op, t, value, span)?;
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
            ExprKind::Slice { obj, lo, hi, step } => {
                let [obj, lo, hi, step] = self.slice_parts(obj, lo, hi, step, span)?;
                let src = self.stored_value(op, value, span, |dst| Op::SliceStep { dst, obj, lo, hi, step })?;
                self.set_line(span);
                self.emit(Op::SetSlice { obj, lo, hi, step, src });
            }
            ExprKind::Field { obj, name } => {
                let o = self.expr_reg(obj)?;
                let k = self.field_name(&name.name, name.span)?;
                let v = self.stored_value(op, value, span, |t| Op::GetField {
                    dst: t,
                    obj: o,
                    name: k,
                })?;
                self.set_line(span);
                self.emit(Op::SetField {
                    obj: o,
                    src: v,
                    name: k,
                });
            }
            _ => return Err(Diagnostic::syntax("cannot assign to this expression", target.span)),
        }
        self.free_to(mark);
        Ok(())
    }

    /// The registers of a slice target `obj[lo:hi:step]`, a missing part nil.
    fn slice_parts(
        &mut self,
        obj: &Expr,
        lo: &Option<Box<Expr>>,
        hi: &Option<Box<Expr>>,
        step: &Option<Box<Expr>>,
        span: Span,
    ) -> CResult<[Reg; 4]> {
        let obj = self.expr_reg(obj)?;
        let lo = self.optional(lo.as_deref(), span)?;
        let hi = self.optional(hi.as_deref(), span)?;
        let step = self.optional(step.as_deref(), span)?;
        Ok([obj, lo, hi, step])
    }

    /// The register holding what `target op= value` stores: `value` itself for plain `=`,
    /// else `target op value` computed into a temporary, `read(t)` loading the target.
    pub(super) fn stored_value(
        &mut self,
        op: Option<BinOp>,
        value: &Expr,
        span: Span,
        read: impl Fn(Reg) -> Op,
    ) -> CResult<Reg> {
        let Some(op) = op else { return self.expr_reg(value) };
        let t = self.alloc(span)?;
        self.set_line(span);
        self.emit(read(t));
        self.compound_with(op, t, value, span)?;
        Ok(t)
    }

    /// `R[t] op= r` of a compound assignment: as `arith_with`, except that `+=` and `*=`
    /// change a list in place (`AddInPlace`, `MulInPlace`), as Python's do.
    fn compound_with(&mut self, op: BinOp, t: Reg, r: &Expr, span: Span) -> CResult<()> {
        let small_int = matches!(&r.kind, ExprKind::Int(i) if i16::try_from(*i).is_ok());
        if !matches!(op, BinOp::Add | BinOp::Mul) || (op == BinOp::Add && small_int) {
            return self.arith_with(op, t, t, r, span);
        }
        let b = self.expr_reg(r)?;
        self.set_line(span);
        self.emit(if op == BinOp::Add {
            Op::AddInPlace { dst: t, a: t, b }
        } else {
            Op::MulInPlace { dst: t, a: t, b }
        });
        Ok(())
    }

    /// `dst = a op r`: `AddInt`/`SubInt`/`MulInt`/`ModInt` when `r` is a small int literal
    /// (`i += 1`, `n - 1`, `i * 7919`, `x % 3`), else `r` into a register and the general
    /// instruction.
    pub(super) fn arith_with(&mut self, op: BinOp, dst: Reg, a: Reg, r: &Expr, span: Span) -> CResult<()> {
        if let ExprKind::Int(i) = r.kind
            && let Ok(imm) = i16::try_from(i)
        {
            let with_imm = match op {
                BinOp::Add => Some(Op::AddInt { dst, a, imm }),
                BinOp::Sub => Some(Op::SubInt { dst, a, imm }),
                BinOp::Mul => Some(Op::MulInt { dst, a, imm }),
                BinOp::Mod => Some(Op::ModInt { dst, a, imm }),
                _ => None,
            };
            if let Some(op) = with_imm {
                self.set_line(span);
                self.emit(op);
                return Ok(());
            }
        }
        let b = self.expr_reg(r)?;
        self.set_line(span);
        self.emit(arith(op, dst, a, b));
        Ok(())
    }
}
