//! Compiling expressions into a destination register: literals, names, operators with
//! their immediate and fused forms, calls and method calls, indexing, fields, slices and
//! closures.
//!
//! Invariant: `expr_to` leaves the register allocator where it found it: temporaries are
//! freed in stack order, so a call's callee and arguments are always the topmost registers.

use super::state::*;
use crate::ast::*;
use crate::bytecode::{Op, Reg};
use crate::error::Diagnostic;
use crate::method::{Method, NO_METHOD};
use std::rc::Rc;

impl Compiler<'_> {
    /// A register holding the value of `e`: a plain local's own register, or a new
    /// temporary. The caller must not write to it.
    pub(super) fn expr_reg(&mut self, e: &Expr) -> CResult<Reg> {
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

    /// The register a call reads its callee or receiver `e` from: a local's own (no
    /// argument can rebind a local: a closure captures it in a cell, which is no
    /// `Place::Local`, and toy has no assignment expressions), else `base`, where `e` is
    /// computed.
    pub(super) fn operand_in_place(&mut self, e: &Expr, base: Reg) -> CResult<Reg> {
        if let ExprKind::Name(name) = &e.kind
            && let Place::Local(r) = self.resolve(name, e.span)?
        {
            return Ok(r);
        }
        self.expr_to(e, base)?;
        Ok(base)
    }

    pub(super) fn expr_to(&mut self, e: &Expr, dst: Reg) -> CResult<()> {
        self.enter(e.span)?;
        let mark = self.mark();
        let result = self.expr_inner(e, dst);
        self.free_to(mark);
        self.depth -= 1;
        result
    }

    pub(super) fn expr_inner(&mut self, e: &Expr, dst: Reg) -> CResult<()> {
        let span = e.span;
        self.set_line(span);
        match &e.kind {
            ExprKind::Nil => {
                self.emit(Op::LoadNil { dst });
            }
            ExprKind::Bool(value) => {
                self.emit(Op::LoadBool { dst, value: *value });
            }
            // Only the lexer's 2**63 is negative here, and it is meant only under a minus.
            ExprKind::Int(i64::MIN) => return Err(Diagnostic::syntax("integer literal too large", span)),
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
                // -(2**63) is the smallest int: wrapping, 2**63 (lexed as i64::MIN) stays it.
                ExprKind::Int(i) => self.load_int(i.wrapping_neg(), dst, span)?,
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
                if let ExprKind::Name(name) = &callee.kind
                    && let Place::Global(g) = self.resolve(name, callee.span)?
                {
                    let argc = self.args(args, span)?;
                    self.set_line(span);
                    self.emit(Op::CallGlobal { g, base, argc, dst });
                    return Ok(());
                }
                let callee = self.operand_in_place(callee, base)?;
                let argc = self.args(args, span)?;
                self.set_line(span);
                self.emit(Op::Call {
                    callee,
                    base,
                    argc,
                    dst,
                });
            }
            ExprKind::MethodCall { obj, name, args } => {
                let base = self.alloc(span)?;
                let recv = self.operand_in_place(obj, base)?;
                let argc = self.args(args, span)?;
                let k = self.str_const(&name.name, name.span)?;
                let method = Method::from_name(&name.name).map_or(NO_METHOD, |m| m as u8);
                self.set_line(span);
                self.emit(Op::CallMethod {
                    dst,
                    recv,
                    base,
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
            ExprKind::Slice { obj, lo, hi, step } => {
                let o = self.expr_reg(obj)?;
                let lo = self.optional(lo.as_deref(), span)?;
                let hi = self.optional(hi.as_deref(), span)?;
                // Without a step, the plain `Slice`: `xs[a:b]` pays nothing for steps.
                let step = match step {
                    Some(step) => Some(self.expr_reg(step)?),
                    None => None,
                };
                self.set_line(span);
                let op = match step {
                    None => Op::Slice { dst, obj: o, lo, hi },
                    Some(step) => Op::SliceStep {
                        dst,
                        obj: o,
                        lo,
                        hi,
                        step,
                    },
                };
                self.emit(op);
            }
            ExprKind::Field { obj, name } => {
                let o = self.expr_reg(obj)?;
                let k = self.field_name(&name.name, name.span)?;
                self.set_line(span);
                self.emit(Op::GetField { dst, obj: o, name: k });
            }
            ExprKind::FString(parts) => self.fstring(parts, dst, span)?,
            ExprKind::ListComp { elem, clauses } => self.comprehension(None, elem, clauses, dst, span)?,
            ExprKind::MapComp { key, value, clauses } => self.comprehension(Some(key), value, clauses, dst, span)?,
            ExprKind::Fn(def) => self.named_closure(def, dst)?,
        }
        Ok(())
    }

    pub(super) fn load_int(&mut self, i: i64, dst: Reg, span: Span) -> CResult<()> {
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

    pub(super) fn optional(&mut self, e: Option<&Expr>, span: Span) -> CResult<Reg> {
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
    pub(super) fn args(&mut self, args: &[Expr], span: Span) -> CResult<u8> {
        if args.len() > 200 {
            return Err(Diagnostic::syntax("a call may pass at most 200 arguments", span));
        }
        for a in args {
            let r = self.alloc(a.span)?;
            self.expr_to(a, r)?;
        }
        Ok(args.len() as u8)
    }

    /// Lists of up to 200 items are built by one instruction; longer ones start with the
    /// first 200 and take each further chunk of 200 with `ExtendList`, appending to the one
    /// list, so a literal of any length compiles and runs in linear time and memory.
    pub(super) fn list_literal(&mut self, items: &[Expr], dst: Reg, span: Span) -> CResult<()> {
        const CHUNK: usize = 200;
        let acc = if items.len() <= CHUNK { dst } else { self.alloc(span)? };
        for (i, chunk) in items.chunks(CHUNK).enumerate() {
            let start = self.mark() as Reg;
            for item in chunk {
                let r = self.alloc(item.span)?;
                self.expr_to(item, r)?;
            }
            self.set_line(span);
            let count = chunk.len() as u8;
            self.emit(if i == 0 {
                Op::NewList { dst: acc, start, count }
            } else {
                Op::ExtendList {
                    list: acc,
                    start,
                    count,
                }
            });
            self.free_to(start as u16);
        }
        if items.is_empty() {
            let start = self.mark() as Reg;
            self.set_line(span);
            self.emit(Op::NewList {
                dst: acc,
                start,
                count: 0,
            });
        }
        if acc != dst {
            self.emit(Op::Move { dst, src: acc });
        }
        Ok(())
    }

    pub(super) fn map_literal(&mut self, pairs: &[(Expr, Expr)], dst: Reg, span: Span) -> CResult<()> {
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
    /// A function used as an expression. A named one (`fn fact(n) { ... }`) can call
    /// itself by its name: the name is a local of a scope around the `fn` alone, bound
    /// to the new closure, so it is seen by the body and by nothing after the expression.
    fn named_closure(&mut self, def: &FnDef, dst: Reg) -> CResult<()> {
        let Some(name) = &def.name else {
            return self.closure(def, dst);
        };
        let mark = self.mark();
        self.begin_scope();
        let r = self.alloc(def.span)?;
        if self.declare_local(name, r) {
            self.emit(Op::LoadNil { dst: r });
            self.emit(Op::NewCell { dst: r, src: r });
            let t = self.alloc(def.span)?;
            self.closure(def, t)?;
            self.emit(Op::SetCell { cell: r, src: t });
            self.emit(Op::Move { dst, src: t });
        } else {
            self.closure(def, dst)?;
        }
        self.end_scope(mark);
        Ok(())
    }

    pub(super) fn closure(&mut self, def: &FnDef, dst: Reg) -> CResult<()> {
        if def.params.len() > 200 {
            return Err(Diagnostic::syntax(
                "a function may take at most 200 parameters",
                def.span,
            ));
        }
        let name: Option<Rc<str>> = def.name.as_ref().map(|n| n.name.as_str().into());
        let anonymous = name.is_none();
        // The defaults are computed here, in the function that runs the `fn`, each time it
        // runs; `Closure` copies them out of these registers.
        let mark = self.mark();
        let defaults = if def.defaults.is_empty() { 0 } else { self.mark() as Reg };
        for d in &def.defaults {
            let r = self.alloc(d.span)?;
            self.expr_to(d, r)?;
        }
        let arity = def.params.len() as u8;
        let required = (def.params.len() - def.defaults.len()) as u8;
        self.funcs.push(FuncState::new(name, anonymous, arity, required, false));
        self.set_line(def.span);
        for p in &def.params {
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
        self.emit(Op::Closure { dst, p, defaults });
        self.free_to(mark);
        Ok(())
    }
}

impl Compiler<'_> {
    /// `f"..."`: each piece into its own register (fields through `ToStr` or `FormatSpec`),
    /// then `Concat`; long ones in chunks, so the registers never run out.
    fn fstring(&mut self, parts: &[FStrPart], dst: Reg, span: Span) -> CResult<()> {
        const CHUNK: usize = 64;
        if parts.is_empty() {
            let k = self.str_const("", span)?;
            self.emit(Op::LoadConst { dst, k });
            return Ok(());
        }
        let mark = self.mark();
        let acc = self.alloc(span)?;
        // `acc` holds the text so far once the first chunk is joined; each later chunk's
        // pieces sit right after it, so one `Concat` from `acc` joins them on.
        let mut joined = false;
        for chunk in parts.chunks(CHUNK) {
            for (j, part) in chunk.iter().enumerate() {
                let r = if !joined && j == 0 { acc } else { self.alloc(span)? };
                match part {
                    FStrPart::Text(text) => {
                        let k = self.str_const(text, span)?;
                        self.emit(Op::LoadConst { dst: r, k });
                    }
                    FStrPart::Field { expr, spec } => {
                        self.expr_to(expr, r)?;
                        self.set_line(expr.span);
                        match spec {
                            None => self.emit(Op::ToStr { dst: r, src: r }),
                            Some(spec) => {
                                let k = self.str_const(spec, span)?;
                                self.emit(Op::FormatSpec {
                                    dst: r,
                                    src: r,
                                    spec: k,
                                })
                            }
                        };
                    }
                }
            }
            let count = chunk.len() + usize::from(joined);
            self.set_line(span);
            self.emit(Op::Concat {
                dst: acc,
                start: acc,
                count: count as u8,
            });
            self.free_to(acc as u16 + 1);
            joined = true;
        }
        if acc != dst {
            self.emit(Op::Move { dst, src: acc });
        }
        self.free_to(mark);
        Ok(())
    }

    /// `[elem for ...]` (`key` None) or `{key: elem for ...}`: inline nested loops, with the
    /// comprehension's names in a scope of their own, fresh on each iteration.
    fn comprehension(
        &mut self,
        key: Option<&Expr>,
        elem: &Expr,
        clauses: &[CompClause],
        dst: Reg,
        span: Span,
    ) -> CResult<()> {
        let mark = self.mark();
        let result = self.alloc(span)?;
        self.set_line(span);
        match key {
            None => self.emit(Op::NewList {
                dst: result,
                start: result,
                count: 0,
            }),
            Some(_) => self.emit(Op::NewMap {
                dst: result,
                start: result,
                count: 0,
            }),
        };
        let scope_mark = self.mark();
        self.begin_scope();
        self.comp_clauses(key, elem, clauses, result, span)?;
        self.end_scope(scope_mark);
        if result != dst {
            self.emit(Op::Move { dst, src: result });
        }
        self.free_to(mark);
        Ok(())
    }

    fn comp_clauses(
        &mut self,
        key: Option<&Expr>,
        elem: &Expr,
        clauses: &[CompClause],
        result: Reg,
        span: Span,
    ) -> CResult<()> {
        let Some((clause, rest)) = clauses.split_first() else {
            let mark = self.mark();
            match key {
                None => {
                    let v = self.expr_reg(elem)?;
                    self.set_line(span);
                    self.emit(Op::ListAppend { list: result, src: v });
                }
                Some(k) => {
                    let k = self.expr_reg(k)?;
                    let v = self.expr_reg(elem)?;
                    self.set_line(span);
                    self.emit(Op::SetIndex {
                        obj: result,
                        index: k,
                        src: v,
                    });
                }
            }
            self.free_to(mark);
            return Ok(());
        };
        self.enter(span)?;
        let done = match clause {
            CompClause::If(cond) => {
                let skip = self.cond_jump(cond)?;
                self.comp_clauses(key, elem, rest, result, span)?;
                self.patch(skip, span)
            }
            CompClause::For { vars, iter } => {
                let mark = self.mark();
                let it = self.alloc(span)?;
                self.alloc(span)?;
                self.alloc(span)?;
                self.start_loop(iter, it, iter.span)?;
                let scope_mark = self.mark();
                self.begin_scope();
                let next = self.loop_vars(it, vars, span)?;
                self.comp_clauses(key, elem, rest, result, span)?;
                self.end_scope(scope_mark);
                self.set_line(span);
                self.emit_iter_loop(next, span)?;
                self.patch(next, span)?;
                self.free_to(mark);
                Ok(())
            }
        };
        self.depth -= 1;
        done
    }
}

pub(super) fn arith(op: BinOp, dst: Reg, a: Reg, b: Reg) -> Op {
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
