//! How values print: `str(v)` (strings bare at the top level) and `repr` (strings quoted,
//! as inside a container), following Python's conventions for numbers and containers.
//!
//! Invariant: printing terminates on any heap: a container that contains itself prints
//! `[...]` / `{...}`, and nesting beyond `MAX_NESTING` is cut the same way.

use crate::compare::MAX_NESTING;
use crate::format::{float_repr, quote_str};
use crate::heap::Heap;
use crate::object::Obj;
use crate::value::{MapKey, ObjId, Value};

impl Heap {
    /// `str(v)`: strings are themselves at the top level.
    pub fn display(&self, v: Value) -> String {
        match v {
            Value::Str(id) => self.str(id).to_string(),
            _ => {
                let mut out = String::new();
                let mut seen = Vec::new();
                self.write_repr(v, &mut out, &mut seen);
                out
            }
        }
    }

    /// `v` as it appears inside a container: strings quoted.
    pub fn repr(&self, v: Value) -> String {
        let mut out = String::new();
        let mut seen = Vec::new();
        self.write_repr(v, &mut out, &mut seen);
        out
    }

    /// `seen` holds the containers being printed, so a list that contains itself prints
    /// `[...]` as Python does, and depth is bounded by the nesting actually present.
    fn write_repr(&self, v: Value, out: &mut String, seen: &mut Vec<ObjId>) {
        match v {
            Value::Nil | Value::Undef => out.push_str("nil"),
            Value::Bool(b) => out.push_str(if b.get() { "true" } else { "false" }),
            Value::Int(i) => out.push_str(itoa::Buffer::new().format(i)),
            Value::Float(f) => out.push_str(&float_repr(f.get())),
            Value::Str(id) => out.push_str(&quote_str(self.str(id))),
            Value::List(id) => {
                if seen.contains(&id) || seen.len() > MAX_NESTING {
                    out.push_str("[...]");
                    return;
                }
                seen.push(id);
                out.push('[');
                for (i, item) in self.list(id).iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    self.write_repr(*item, out, seen);
                }
                out.push(']');
                seen.pop();
            }
            Value::Map(id) => {
                if seen.contains(&id) || seen.len() > MAX_NESTING {
                    out.push_str("{...}");
                    return;
                }
                seen.push(id);
                out.push('{');
                for (i, (k, item)) in self.map(id).iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_key(k, out);
                    out.push_str(": ");
                    self.write_repr(*item, out, seen);
                }
                out.push('}');
                seen.pop();
            }
            Value::Func(id) => match self.get(id) {
                Obj::Func(c) => match &c.proto.name {
                    Some(name) if !c.proto.anonymous => {
                        out.push_str("<fn ");
                        out.push_str(name);
                        out.push('>');
                    }
                    _ => out.push_str("<fn>"),
                },
                _ => out.push_str("<fn>"),
            },
            Value::Builtin(i) => {
                out.push_str("<builtin ");
                out.push_str(self.builtin_names.get(i as usize).map_or("?", |n| n));
                out.push('>');
            }
            Value::Obj(id) => self.get(id).write_display(out),
        }
    }
}

fn write_key(k: &MapKey, out: &mut String) {
    match k {
        MapKey::Nil => out.push_str("nil"),
        MapKey::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        MapKey::Int(i) => out.push_str(itoa::Buffer::new().format(*i)),
        MapKey::Str(s) => out.push_str(&quote_str(s)),
    }
}
