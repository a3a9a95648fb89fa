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

mod capture;
mod expr;
mod scope;
mod state;
mod stmt;

pub use state::{GlobalSlots, Mode};

use crate::ast::{Program, Stmt, StmtKind};
use crate::bytecode::{Op, Proto};
use crate::error::Diagnostic;
use crate::heap::Heap;
use capture::CaptureScan;
use rustc_hash::FxHashMap;
use state::{CResult, Compiler, FuncState};
use std::rc::Rc;

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
