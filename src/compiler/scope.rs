//! Names in the compiler: block scopes, locals and the registers they live in, and
//! resolving a name to a local register, a captured cell, an upvalue or a global slot.
//!
//! Invariant: a name resolves to the innermost declaration in scope; a local that a nested
//! function captures lives in a cell from its declaration on, so every closure sees the
//! same variable, and a name declared nowhere is a `NameError` before anything runs.

use super::state::*;
use crate::ast::*;
use crate::bytecode::{Capture, Op, Reg};
use crate::error::Diagnostic;
use std::rc::Rc;

impl Compiler<'_> {
    pub(super) fn begin_scope(&mut self) {
        self.f().scope_depth += 1;
    }

    pub(super) fn end_scope(&mut self, mark: u16) {
        let f = self.f();
        f.scope_depth -= 1;
        let depth = f.scope_depth;
        while f.locals.last().is_some_and(|l| l.depth > depth) {
            f.locals.pop();
        }
        self.free_to(mark);
    }

    pub(super) fn is_global_scope(&self) -> bool {
        let f = self.fr();
        f.is_main && f.scope_depth == 0
    }

    /// Declares a local in register `reg`; returns whether it lives in a cell.
    pub(super) fn declare_local(&mut self, name: &Ident, reg: Reg) -> bool {
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

    pub(super) fn resolve(&mut self, name: &str, span: Span) -> CResult<Place> {
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
        match self.global(name) {
            Some(g) => Ok(Place::Global(g)),
            None => Err(Diagnostic::name(format!("name '{name}' is not defined"), span)),
        }
    }

    /// The global slot `name` means here: in a module, its own global, else a builtin; in
    /// a script, any global.
    pub(super) fn global(&self, name: &str) -> Option<u16> {
        match &self.namespace {
            None => self.globals.lookup(name),
            Some(ns) => self
                .globals
                .lookup(&format!("{ns}.{name}"))
                .or_else(|| self.globals.lookup(name).filter(|&g| self.globals.is_builtin(g))),
        }
    }

    /// Finds `name` in a function enclosing `level`, threading it through every function
    /// in between as an upvalue.
    pub(super) fn resolve_upval(&mut self, level: usize, name: &str, span: Span) -> CResult<Option<u8>> {
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

    pub(super) fn is_local_reg(&self, reg: Reg) -> bool {
        self.fr().locals.iter().any(|l| l.reg == reg)
    }

    pub(super) fn load_place(&mut self, place: &Place, dst: Reg) {
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
}
