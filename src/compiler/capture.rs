//! The capture scan: a pass over the syntax tree before any code is emitted that finds
//! which local declarations a nested function refers to (they must live in cells) and
//! which locals only ever grow a string with `+=` (they may append in place).
//!
//! Invariant: it resolves names exactly as the compiler will, scope by scope, so a
//! declaration it marks captured is the one the compiler's `resolve` finds.

use crate::ast::*;
use rustc_hash::FxHashSet;

/// Finds the local declarations that nested functions refer to, mirroring the
/// compiler's scoping exactly: function parameters, then one scope per block; top-level
/// `let`/`fn` are globals and are never captured.
#[derive(Default)]
pub(super) struct CaptureScan {
    pub(super) captured: FxHashSet<usize>,
    /// Locals declared with a string literal (`let s = ""`).
    string_init: FxHashSet<usize>,
    /// Locals that are the target of `+=` in their own function.
    appended: FxHashSet<usize>,
    /// Per function being scanned, its scopes; each scope lists (name, declaration).
    funcs: Vec<Vec<Vec<(String, usize)>>>,
}

impl CaptureScan {
    pub(super) fn program(&mut self, program: &Program) {
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
    pub(super) fn string_builders(&self) -> FxHashSet<usize> {
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
        // Defaults are computed where the `fn` runs, before its own scope exists.
        def.defaults.iter().for_each(|d| self.expr(d));
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
            StmtKind::LetUnpack { names, value } => {
                self.expr(value);
                names.iter().for_each(|n| self.declare(n));
            }
            StmtKind::AssignMany { targets, value } => {
                self.expr(value);
                targets.iter().for_each(|t| self.expr(t));
            }
            StmtKind::Import { path, alias } => {
                let bound = alias.as_ref().or(path.last());
                bound.into_iter().for_each(|n| self.declare(n));
            }
            StmtKind::FromImport { names, .. } => {
                for (name, alias) in names {
                    self.declare(alias.as_ref().unwrap_or(name));
                }
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
            ExprKind::Slice { obj, lo, hi, step } => {
                self.expr(obj);
                for x in [lo, hi, step].into_iter().flatten() {
                    self.expr(x);
                }
            }
            ExprKind::Field { obj, .. } => self.expr(obj),
            // A named function expression sees its own name, in a scope of its own
            // (as the compiler's `named_closure` declares it).
            ExprKind::Fn(def) => match &def.name {
                Some(name) => self.with_scope(|s| {
                    s.declare(name);
                    s.function(def);
                }),
                None => self.function(def),
            },
            ExprKind::FString(parts) => {
                for part in parts {
                    if let FStrPart::Field { expr, .. } = part {
                        self.expr(expr);
                    }
                }
            }
            ExprKind::ListComp { elem, clauses } => self.with_scope(|s| {
                s.clauses(clauses);
                s.expr(elem);
            }),
            ExprKind::MapComp { key, value, clauses } => self.with_scope(|s| {
                s.clauses(clauses);
                s.expr(key);
                s.expr(value);
            }),
            ExprKind::Nil | ExprKind::Bool(_) | ExprKind::Int(_) | ExprKind::Float(_) | ExprKind::Str(_) => {}
        }
    }

    /// A comprehension's clauses in order: each `for` scans its iterable, then declares its
    /// names for the clauses and the element after it.
    fn clauses(&mut self, clauses: &[CompClause]) {
        for c in clauses {
            match c {
                CompClause::For { vars, iter } => {
                    self.expr(iter);
                    vars.iter().for_each(|v| self.declare(v));
                }
                CompClause::If(cond) => self.expr(cond),
            }
        }
    }
}
