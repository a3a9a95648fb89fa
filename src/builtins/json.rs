//! The `json` module: `json.encode(v)` / `json.encode(v, indent)` writes text laid out as
//! Python's `json.dumps(v, ensure_ascii=False)` (and with `indent=`); `json.decode(text)`
//! reads it back into toy values through serde_json's parser.
//!
//! Invariants: encoding refuses what JSON cannot hold — a map key that is not a string
//! (`ValueError`), a structure that contains itself (`ValueError`), a function or thread
//! (`TypeError`) — before any text is returned; decoding builds plain values in document
//! order and reports bad text as a `ValueError` with its line, column and character.

use super::args::{Native, arity, str_arg};
use crate::format::float_repr;
use crate::object::MapObj;
use crate::value::{MapKey, ObjId, Value};
use crate::vm::{Vm, VmResult};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

type R = VmResult<Value>;

/// The module's functions, by name.
pub(super) const FUNCTIONS: &[(&str, Native)] = &[("encode", encode), ("decode", decode)];

/// `json.encode(v)` / `json.encode(v, indent)`.
fn encode(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "json.encode", args, 1, 2)?;
    let indent = match args.get(1) {
        None | Some(Value::Nil) => None,
        Some(&Value::Int(n)) => Some(" ".repeat(n.clamp(0, 64) as usize)),
        Some(&Value::Str(id)) => Some(vm.it.heap.str(id).to_string()),
        Some(&other) => {
            let t = other.type_name(&vm.it.heap);
            return Err(vm.type_error(format!("json.encode(): indent must be an int or a str, not {t}")));
        }
    };
    let mut w = Writer {
        out: String::new(),
        indent,
        open: Vec::new(),
    };
    match w.value(vm, args[0]) {
        Ok(()) => Ok(vm.new_str(w.out)),
        Err(Refusal::Type(t)) => Err(vm.type_error(format!("Object of type {t} is not JSON serializable"))),
        Err(Refusal::Value(why)) => Err(vm.error("ValueError", format!("json.encode(): {why}"))),
    }
}

/// Why a value cannot be written as JSON.
enum Refusal {
    /// Not a JSON type: `TypeError`, with the type's name.
    Type(&'static str),
    /// A JSON type used wrongly (a non-string key, a cycle): `ValueError`.
    Value(String),
}

struct Writer {
    out: String,
    /// Python's `indent`: None for one line, else the text of one level.
    indent: Option<String>,
    /// The containers being written, to refuse a cycle.
    open: Vec<ObjId>,
}

impl Writer {
    /// Starts a new line at `depth` levels (only when indenting).
    fn newline(&mut self, depth: usize) {
        if let Some(unit) = &self.indent {
            self.out.push('\n');
            for _ in 0..depth {
                self.out.push_str(unit);
            }
        }
    }

    /// Between two items: `, ` on one line, `,` and a new line when indenting.
    fn separator(&mut self, depth: usize) {
        self.out.push(',');
        if self.indent.is_some() {
            self.newline(depth);
        } else {
            self.out.push(' ');
        }
    }

    fn enter(&mut self, id: ObjId) -> Result<(), Refusal> {
        if self.open.contains(&id) {
            return Err(Refusal::Value("circular reference detected".into()));
        }
        if self.open.len() >= crate::compare::MAX_NESTING {
            return Err(Refusal::Value("the value is nested too deeply".into()));
        }
        self.open.push(id);
        Ok(())
    }

    fn value(&mut self, vm: &Vm, v: Value) -> Result<(), Refusal> {
        let depth = self.open.len();
        match v {
            Value::Nil => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(if b.get() { "true" } else { "false" }),
            Value::Int(i) => self.out.push_str(&i.to_string()),
            Value::Float(f) => {
                let f = f.get();
                self.out.push_str(&if f.is_nan() {
                    "NaN".to_string()
                } else if f.is_infinite() {
                    if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
                } else {
                    float_repr(f)
                });
            }
            Value::Str(id) => write_str(&mut self.out, vm.it.heap.str(id)),
            Value::List(id) => {
                self.enter(id)?;
                let items = vm.it.heap.list(id);
                if items.is_empty() {
                    self.out.push_str("[]");
                } else {
                    self.out.push('[');
                    self.newline(depth + 1);
                    for (i, &item) in items.iter().enumerate() {
                        if i > 0 {
                            self.separator(depth + 1);
                        }
                        self.value(vm, item)?;
                    }
                    self.newline(depth);
                    self.out.push(']');
                }
                self.open.pop();
            }
            Value::Map(id) => {
                self.enter(id)?;
                let map = vm.it.heap.map(id);
                if map.is_empty() {
                    self.out.push_str("{}");
                } else {
                    self.out.push('{');
                    self.newline(depth + 1);
                    for (i, (k, &item)) in map.iter().enumerate() {
                        if i > 0 {
                            self.separator(depth + 1);
                        }
                        let MapKey::Str(key) = k else {
                            let t = match k {
                                MapKey::Int(_) => "int",
                                MapKey::Bool(_) => "bool",
                                _ => "nil",
                            };
                            return Err(Refusal::Value(format!("map keys must be str, not {t}")));
                        };
                        write_str(&mut self.out, key);
                        self.out.push_str(": ");
                        self.value(vm, item)?;
                    }
                    self.newline(depth);
                    self.out.push('}');
                }
                self.open.pop();
            }
            other => return Err(Refusal::Type(other.type_name(&vm.it.heap))),
        }
        Ok(())
    }
}

/// A JSON string: quotes, backslashes and control characters escaped; everything else
/// as itself (`ensure_ascii=False`).
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `json.decode(text)`: the value the text describes.
fn decode(vm: &mut Vm, args: &[Value]) -> R {
    arity(vm, "json.decode", args, 1, 1)?;
    let text = str_arg(vm, "json.decode", args[0])?;
    let mut de = serde_json::Deserializer::from_str(&text);
    let parsed = Build(vm).deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => {
            let (line, column) = (e.line().max(1), e.column().max(1));
            let message = e.to_string();
            let what = match message.rfind(" at line ") {
                Some(i) => &message[..i],
                None => &message,
            };
            let at = char_offset(&text, line, column);
            Err(vm.error(
                "ValueError",
                format!("json.decode(): {what}: line {line} column {column} (char {at})"),
            ))
        }
    }
}

/// The 0-based character offset of 1-based `line` and `column`, as Python's json reports it.
fn char_offset(text: &str, line: usize, column: usize) -> usize {
    let before: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count())
        .sum();
    before + column.saturating_sub(1)
}

/// Builds toy values while serde_json parses: every JSON value becomes the toy value of
/// the same shape, objects as maps in document order (a repeated key keeps its first place
/// and its last value, as Python's).
struct Build<'a, 'b>(&'a mut Vm<'b>);

impl<'de> DeserializeSeed<'de> for Build<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        // Beyond toy's 64-bit ints: the nearest float, as for any number with an exponent.
        Ok(i64::try_from(u).map_or(Value::float(u as f64), Value::Int))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::float(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(self.0.new_str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(Build(&mut *self.0))? {
            items.push(v);
        }
        Ok(self.0.it.heap.new_list(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = MapObj::default();
        while let Some(key) = map.next_key::<String>()? {
            let v = map.next_value_seed(Build(&mut *self.0))?;
            m.insert(MapKey::Str(key.into()), v);
        }
        Ok(self.0.it.heap.new_map(m))
    }
}
