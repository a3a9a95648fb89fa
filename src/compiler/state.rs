//! The compiler's state: the function being compiled (its code, constants, registers,
//! locals, loops and handlers), the program-wide tables (globals, shared string constants),
//! and the primitives every part of the compiler emits through — instructions, jumps,
//! registers, constants, and the nesting bound.
//!
//! Invariants: registers are handed out and freed in stack order (`alloc`, `mark`,
//! `free_to`), never beyond `MAX_REGS`; every instruction is emitted with the line of the
//! construct it belongs to; recursion over the tree is bounded (`MAX_DEPTH`).

use crate::ast::*;
use crate::bytecode::{Capture, Op, Proto, Reg};
use crate::error::Diagnostic;
use crate::heap::Heap;
use crate::object::{Obj, StrObj};
use crate::value::Value;
use rustc_hash::{FxHashMap, FxHashSet};
use std::rc::Rc;

/// How deeply expressions and statements may nest before compiling gives up.
pub(super) const MAX_DEPTH: usize = 1500;
/// Registers 0..=254 are usable; 255 is never handed out, so `reg + 1` cannot overflow.
pub(super) const MAX_REGS: u16 = 255;

pub(super) type CResult<T> = Result<T, Diagnostic>;

/// The global variables as the compiler sees them: a slot for each name. The VM owns the
/// table (it also holds the values); the compiler only declares and looks up names, so the
/// interactive prompt compiles each entry against the same slots.
pub trait GlobalSlots {
    /// The slot for `name`, creating an unassigned one if it is new; None when the table is
    /// full.
    fn declare(&mut self, name: &str) -> Option<u16>;
    /// The slot of a declared name.
    fn lookup(&self, name: &str) -> Option<u16>;
    /// Whether the slot holds a builtin or host function (which every module sees), rather
    /// than a script's own global.
    fn is_builtin(&self, slot: u16) -> bool;
}

/// A module an `import` names, as the resolver found and compiled it.
#[derive(Clone, Debug)]
pub struct ModuleRef {
    /// Its number, the operand of `Import`.
    pub id: u16,
    /// Its name as first imported (`a.b`), for messages.
    pub name: Rc<str>,
    /// The names its top level declares: what `from m import x` may take.
    pub names: Rc<[Rc<str>]>,
}

/// Finds, loads and compiles the modules a program imports (the embedding layer does it:
/// files and search paths are not the compiler's business). Called as each `import` is
/// compiled, so every import error is found before anything runs.
pub trait ModuleResolver {
    /// The module `path` (`a.b` is `["a", "b"]`) names, compiling it if it is new, with the
    /// same heap and globals. An error is a diagnostic located at `span` (the import's
    /// name) in the importing file, or one already rendered for the module's own file.
    fn import(
        &mut self,
        path: &[&str],
        span: Span,
        heap: &mut Heap,
        globals: &mut dyn GlobalSlots,
    ) -> Result<ModuleRef, Diagnostic>;
}

/// What a top-level chunk is compiled for.
#[derive(Clone, Debug)]
pub enum Mode {
    /// A script: expression statements discard their values.
    Script,
    /// An entry at the prompt: top-level expression statements pass their value to this
    /// builtin (the echo).
    Repl(Value),
    /// `Interpreter::eval`: a final expression statement is the chunk's return value.
    Eval,
    /// A module's top level: its globals are named `NAME.x` (`namespace`), it sees the
    /// builtins but no other module's globals, and it ends by returning `value`, the module
    /// object, so `Import` leaves that in its register.
    Module { namespace: Rc<str>, value: Value },
}

pub(super) struct Local {
    pub(super) name: Rc<str>,
    pub(super) reg: Reg,
    pub(super) cell: bool,
    /// Grows a string in place with `+=`; every other read freezes it first.
    pub(super) builder: bool,
    pub(super) depth: usize,
}

/// Where a name lives, as the compiler resolved it.
pub(super) enum Place {
    Local(Reg),
    /// A local whose string `+=` appends in place: the register is the only reference to
    /// its growing buffer, so every other read emits `Freeze` first.
    Builder(Reg),
    Cell(Reg),
    Upval(u8),
    Global(u16),
}

pub(super) enum HandlerCtx {
    Try,
    With(Reg),
}

pub(super) struct LoopCtx {
    /// Where `continue` goes (always backward).
    pub(super) start: usize,
    pub(super) breaks: Vec<usize>,
    /// How many try/with handlers were open when the loop began.
    pub(super) handlers: usize,
}

pub(super) struct FuncState {
    pub(super) name: Option<Rc<str>>,
    pub(super) anonymous: bool,
    pub(super) arity: u8,
    pub(super) required: u8,
    pub(super) is_main: bool,
    pub(super) code: Vec<Op>,
    pub(super) lines: Vec<u32>,
    pub(super) consts: Vec<Value>,
    pub(super) const_index: FxHashMap<ConstKey, u16>,
    pub(super) protos: Vec<Rc<Proto>>,
    pub(super) captures: Vec<Capture>,
    pub(super) local_names: Vec<(Reg, Rc<str>)>,
    pub(super) locals: Vec<Local>,
    pub(super) scope_depth: usize,
    pub(super) next_reg: u16,
    pub(super) max_reg: u16,
    pub(super) loops: Vec<LoopCtx>,
    pub(super) handlers: Vec<HandlerCtx>,
    pub(super) line: u32,
}

#[derive(Hash, PartialEq, Eq)]
pub(super) enum ConstKey {
    Int(i64),
    Float(u64),
    Str(Rc<str>),
    Builtin(u64),
}

impl FuncState {
    pub(super) fn new(name: Option<Rc<str>>, anonymous: bool, arity: u8, required: u8, is_main: bool) -> FuncState {
        FuncState {
            name,
            anonymous,
            arity,
            required,
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

    pub(super) fn finish(self, file: Rc<str>) -> Proto {
        Proto {
            name: self.name,
            anonymous: self.anonymous,
            file,
            arity: self.arity,
            required: self.required,
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

pub(super) struct Compiler<'a> {
    pub(super) heap: &'a mut Heap,
    pub(super) globals: &'a mut dyn GlobalSlots,
    pub(super) modules: &'a mut dyn ModuleResolver,
    /// In a module, the prefix of its globals' names (`stats` for `stats.mean`).
    pub(super) namespace: Option<Rc<str>>,
    pub(super) file: Rc<str>,
    pub(super) line_starts: Vec<usize>,
    /// Declarations (by the byte offset of their name) that a nested function refers to.
    pub(super) captured: FxHashSet<usize>,
    /// Declarations of locals that build a string in place (see `Place::Builder`).
    pub(super) builders: FxHashSet<usize>,
    pub(super) funcs: Vec<FuncState>,
    pub(super) depth: usize,
    pub(super) repl_print: Option<Value>,
    /// One string object per distinct string constant in the program, shared by every
    /// function: a field name and the map key made from the same literal are then the same
    /// text in memory, which map lookups compare by address before comparing bytes.
    pub(super) strings: FxHashMap<Rc<str>, Value>,
}

impl Compiler<'_> {
    pub(super) fn f(&mut self) -> &mut FuncState {
        self.funcs.last_mut().expect("a function is being compiled")
    }

    pub(super) fn fr(&self) -> &FuncState {
        self.funcs.last().expect("a function is being compiled")
    }

    pub(super) fn emit(&mut self, op: Op) -> usize {
        let f = self.f();
        f.code.push(op);
        f.lines.push(f.line);
        f.code.len() - 1
    }

    pub(super) fn here(&self) -> usize {
        self.fr().code.len()
    }

    pub(super) fn set_line(&mut self, span: Span) {
        let line = match self.line_starts.binary_search(&span.start) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        self.f().line = line as u32;
    }

    pub(super) fn jump_offset(&self, from: usize, to: usize, span: Span) -> CResult<i32> {
        i32::try_from(to as i64 - (from as i64 + 1)).map_err(|_| Diagnostic::syntax("function too large", span))
    }

    /// Points the forward jump at `at` to the current end of the code.
    pub(super) fn patch(&mut self, at: usize, span: Span) -> CResult<()> {
        let off = self.jump_offset(at, self.here(), span)?;
        match &mut self.f().code[at] {
            Op::Jump { off: o }
            | Op::JumpIfFalse { off: o, .. }
            | Op::JumpIfTrue { off: o, .. }
            | Op::JumpIfNotLt { off: o, .. }
            | Op::JumpIfNotLtInt { off: o, .. }
            | Op::IterNext { off: o, .. }
            | Op::TryBegin { off: o, .. } => *o = off,
            _ => {}
        }
        Ok(())
    }

    /// The bottom of a `for` loop whose `IterNext` is at `next`: the next item, and back
    /// into the body just past that `IterNext` (the first item came from it).
    pub(super) fn emit_iter_loop(&mut self, next: usize, span: Span) -> CResult<()> {
        let Op::IterNext { iter, dst, .. } = self.f().code[next] else {
            unreachable!("a for loop's first instruction is its IterNext")
        };
        let back = u32::try_from(self.here() - next).map_err(|_| Diagnostic::syntax("loop too large", span))?;
        self.emit(Op::IterLoop { iter, dst, back });
        Ok(())
    }

    pub(super) fn emit_loop(&mut self, start: usize, span: Span) -> CResult<()> {
        let back = u32::try_from(self.here() + 1 - start).map_err(|_| Diagnostic::syntax("loop too large", span))?;
        self.emit(Op::Loop { back });
        Ok(())
    }

    pub(super) fn alloc(&mut self, span: Span) -> CResult<Reg> {
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

    pub(super) fn free_to(&mut self, mark: u16) {
        self.f().next_reg = mark;
    }

    pub(super) fn mark(&self) -> u16 {
        self.fr().next_reg
    }

    pub(super) fn konst(&mut self, key: ConstKey, span: Span) -> CResult<u16> {
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

    /// Loads a heap value known at compile time (a module object, pinned by its maker).
    pub(super) fn load_value(&mut self, value: Value, dst: Reg) -> CResult<()> {
        let f = self.f();
        let k = u16::try_from(f.consts.len())
            .map_err(|_| Diagnostic::syntax("too many constants in one function", Span::default()))?;
        f.consts.push(value);
        self.emit(Op::LoadConst { dst, k });
        Ok(())
    }

    pub(super) fn str_const(&mut self, s: &str, span: Span) -> CResult<u16> {
        self.konst(ConstKey::Str(s.into()), span)
    }

    /// The heap index of the pinned string `s`, which `GetField` and `SetField` carry. It
    /// is a constant of the function too, so the disassembler shows it like the others.
    pub(super) fn field_name(&mut self, s: &str, span: Span) -> CResult<u32> {
        let k = self.str_const(s, span)?;
        match self.f().consts[k as usize] {
            Value::Str(id) => Ok(id.index() as u32),
            _ => unreachable!("a string constant is a string"),
        }
    }

    pub(super) fn enter(&mut self, span: Span) -> CResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Diagnostic::syntax("expression nested too deeply", span));
        }
        Ok(())
    }
}
