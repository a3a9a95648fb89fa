//! The disassembler behind `toy disasm`: every function of a program as text, with
//! offsets, source lines, constants and the global names its instructions touch.
//!
//! Invariant: opcode and operand names come from `Op`'s `Debug` form, never from a second
//! list, so a new instruction can never be printed wrong or left out.

use crate::bytecode::{Op, Proto};
use crate::heap::Heap;
use std::fmt::Write;
use std::rc::Rc;

/// The whole program's bytecode as text: each function with its offsets, source lines,
/// constants and the global names its instructions touch.
pub fn disassemble(proto: &Proto, heap: &Heap, global_names: &[Rc<str>]) -> String {
    let mut out = String::new();
    disassemble_into(proto, heap, global_names, &mut out);
    out
}

fn disassemble_into(proto: &Proto, heap: &Heap, globals: &[Rc<str>], out: &mut String) {
    let name = match &proto.name {
        Some(n) => n.to_string(),
        None => "<fn>".into(),
    };
    let _ = writeln!(
        out,
        "== {name} ({} params, {} registers, {} instructions) ==",
        proto.arity,
        proto.nregs,
        proto.code.len()
    );
    if !proto.local_names.is_empty() {
        let locals: Vec<String> = proto.local_names.iter().map(|(r, n)| format!("R{r}={n}")).collect();
        let _ = writeln!(out, "   locals: {}", locals.join(" "));
    }
    let mut last_line = 0;
    for (pc, op) in proto.code.iter().enumerate() {
        let line = proto.lines.get(pc).copied().unwrap_or(0);
        let line_col = if line != last_line {
            format!("{line:>4}")
        } else {
            "   |".into()
        };
        last_line = line;
        let (opname, mut operands) = split_debug(op);
        // A field name is carried as its string's heap index; shown, like every other
        // constant, by its index among the function's constants.
        if let Op::GetField { name, .. } | Op::SetField { name, .. } = *op
            && let Some(k) = proto.field_const(name)
        {
            operands = operands.replace(&format!("name={name}"), &format!("name={k}"));
        }
        let note = annotate(op, pc, proto, heap, globals);
        let text = format!("{pc:>5} {line_col}  {opname:<12} {operands}");
        if note.is_empty() {
            let _ = writeln!(out, "{}", text.trim_end());
        } else {
            let _ = writeln!(out, "{text:<52} ; {note}");
        }
    }
    for child in &proto.protos {
        out.push('\n');
        disassemble_into(child, heap, globals, out);
    }
}

/// `Add { dst: 1, a: 2, b: 3 }` → (`Add`, `dst=1 a=2 b=3`).
fn split_debug(op: &Op) -> (String, String) {
    let text = format!("{op:?}");
    match text.split_once(' ') {
        Some((name, rest)) => {
            let inner = rest.trim().trim_start_matches('{').trim_end_matches('}').trim();
            (name.to_string(), inner.replace(": ", "=").replace(',', ""))
        }
        None => (text, String::new()),
    }
}

fn annotate(op: &Op, pc: usize, proto: &Proto, heap: &Heap, globals: &[Rc<str>]) -> String {
    let konst = |k: u16| proto.consts.get(k as usize).map(|v| heap.repr(*v)).unwrap_or_default();
    let global = |g: u16| globals.get(g as usize).map(|n| n.to_string()).unwrap_or_default();
    let target = |off: i32| format!("-> {}", pc as i64 + 1 + off as i64);
    match *op {
        Op::LoadConst { k, .. } => konst(k),
        Op::GetField { name, .. } | Op::SetField { name, .. } => proto
            .field_const(name)
            .and_then(|k| u16::try_from(k).ok())
            .map(konst)
            .unwrap_or_default(),
        Op::CallMethod { name, .. } => konst(name),
        Op::FormatSpec { spec, .. } => konst(spec),
        Op::GetGlobal { g, .. } | Op::SetGlobal { g, .. } | Op::CallGlobal { g, .. } => global(g),
        Op::Jump { off }
        | Op::JumpIfFalse { off, .. }
        | Op::JumpIfTrue { off, .. }
        | Op::JumpIfNotLt { off, .. }
        | Op::JumpIfNotLtInt { off, .. }
        | Op::IterNext { off, .. }
        | Op::TryBegin { off, .. } => target(off),
        Op::RangeLoop { .. } => format!("range: -> {}", pc + 3),
        Op::Loop { back } | Op::IterLoop { back, .. } => format!("-> {}", pc as i64 + 1 - back as i64),
        Op::Closure { p, .. } => proto
            .protos
            .get(p as usize)
            .map(|c| format!("fn {}", c.name.as_deref().unwrap_or("<fn>")))
            .unwrap_or_default(),
        _ => String::new(),
    }
}
