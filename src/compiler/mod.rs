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

pub use state::{GlobalSlots, Mode, ModuleRef, ModuleResolver};

use crate::ast::{Ident, Program, Stmt, StmtKind};
use crate::bytecode::{Op, Proto};
use crate::error::Diagnostic;
use crate::heap::Heap;
use capture::CaptureScan;
use rustc_hash::FxHashMap;
use state::{CResult, Compiler, FuncState};
use std::rc::Rc;

/// The names a program's top level declares (`let`, `fn`, and what `import` binds): its
/// globals, and a module's fields.
pub fn top_level_names(program: &Program) -> Vec<&Ident> {
    let mut names = Vec::new();
    for stmt in &program.body {
        match &stmt.kind {
            StmtKind::Let { name, .. } => names.push(name),
            StmtKind::LetUnpack { names: ns, .. } => names.extend(ns),
            StmtKind::FnDecl(def) => names.extend(&def.name),
            StmtKind::Import { path, alias } => names.extend(alias.as_ref().or(path.last())),
            StmtKind::FromImport { names: ns, .. } => {
                names.extend(ns.iter().map(|(name, alias)| alias.as_ref().unwrap_or(name)));
            }
            _ => {}
        }
    }
    names
}

/// Compiles a whole program into its `<main>` function (or a module's top level).
pub fn compile(
    program: &Program,
    file: &str,
    source: &str,
    heap: &mut Heap,
    globals: &mut dyn GlobalSlots,
    modules: &mut dyn ModuleResolver,
    mode: Mode,
) -> CResult<Rc<Proto>> {
    let repl_print = match mode {
        Mode::Repl(echo) => Some(echo),
        _ => None,
    };
    let (namespace, module_value) = match &mode {
        Mode::Module { namespace, value } => (Some(namespace.clone()), Some(*value)),
        _ => (None, None),
    };
    let mut scan = CaptureScan::default();
    scan.program(program);
    for name in top_level_names(program) {
        let declared = match &namespace {
            Some(ns) => globals.declare(&format!("{ns}.{}", name.name)),
            None => globals.declare(&name.name),
        };
        if declared.is_none() {
            return Err(Diagnostic::syntax("too many global variables", name.span));
        }
    }
    let mut line_starts = vec![0];
    line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
    let main_name: Rc<str> = match &namespace {
        Some(ns) => format!("<module {ns}>").into(),
        None => "<main>".into(),
    };
    let mut c = Compiler {
        heap,
        globals,
        modules,
        namespace,
        file: file.into(),
        line_starts,
        builders: scan.string_builders(),
        captured: scan.captured,
        funcs: Vec::new(),
        depth: 0,
        repl_print,
        strings: FxHashMap::default(),
    };
    c.funcs.push(FuncState::new(Some(main_name), false, 0, 0, true));
    let (last, body) = match (&mode, program.body.split_last()) {
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
    match module_value {
        Some(value) => {
            let r = c.alloc(Default::default())?;
            c.load_value(value, r)?;
            c.emit(Op::Return { src: r });
        }
        None => {
            c.emit(Op::ReturnNil);
        }
    }
    let main = c.funcs.pop().expect("main function state");
    Ok(Rc::new(main.finish(c.file.clone())))
}
