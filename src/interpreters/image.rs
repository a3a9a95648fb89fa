//! The start of a spawned interpreter: an [`Image`] of the spawner's globals, loaded
//! modules, function and arguments, taken under the spawner's GIL and rebuilt in the new
//! interpreter's heap on the new interpreter's thread.
//!
//! Why not a wire frame: the globals hold functions (every `fn` of a script is one), and a
//! fork copies those, with their code, their captured cells and the sharing between them;
//! the wire format carries data only and refuses functions by design (a message must never
//! be code). So the image is the wire format's in-process sibling for this one moment: the
//! same value shapes for data, plus compiled code and references, so that two globals
//! naming one list name one list in the copy too and a structure that contains itself is
//! copied as a fork would copy it. Messages, results and errors travel as wire frames.
//!
//! Invariants:
//! - An image holds no `Value`, `ObjId` or `Rc`: only owned, `Send` data (strings,
//!   numbers, instructions, indices into its own tables), so the type system lets it — and
//!   nothing of the spawner's heap — cross to the new thread.
//! - Threads, locks and the other primitives, queues, sockets, processes, channels and
//!   interpreters are not copied: in the globals they become `nil`; among the function's
//!   arguments they are refused (`TypeError`), as in a message.
//! - The new interpreter gets the spawner's global slots at the same indices (compiled
//!   code names globals by slot), or the image is refused.

use crate::bytecode::{Capture, Op, Proto, Reg};
use crate::object::{Closure, ErrorObj, ListObj, ModuleObj, Obj, RangeObj, StrObj, TbEntry, Traceback};
use crate::value::{MapKey, ObjId, Value};
use crate::vm::{Interp, ModuleRecord, Vm, VmResult};
use rustc_hash::FxHashMap;
use std::path::PathBuf;
use std::rc::Rc;

/// A value in the image: an immediate, or an index into the image's objects.
#[derive(Clone, Copy, Debug)]
enum Val {
    Nil,
    Undef,
    Bool(bool),
    Int(i64),
    Float(f64),
    Builtin(u64),
    Str(u32),
    List(u32),
    Map(u32),
    Func(u32),
    Obj(u32),
}

#[derive(Debug)]
enum Key {
    Nil,
    Bool(bool),
    Int(i64),
    Str(String),
}

#[derive(Debug)]
enum Object {
    Str(String),
    List(Vec<Val>),
    Map(Vec<(Key, Val)>),
    Func {
        proto: u32,
        upvals: Vec<u32>,
        defaults: Vec<Val>,
    },
    Cell(Val),
    Range(RangeObj),
    Error {
        kind: String,
        message: String,
        traceback: Vec<(String, u32, String)>,
    },
    Module {
        name: String,
        fields: Vec<(String, u16)>,
    },
}

#[derive(Debug)]
struct ProtoImage {
    name: Option<String>,
    anonymous: bool,
    file: String,
    arity: u8,
    required: u8,
    nregs: u16,
    code: Vec<Op>,
    lines: Vec<u32>,
    consts: Vec<Val>,
    protos: Vec<u32>,
    captures: Vec<Capture>,
    local_names: Vec<(Reg, String)>,
}

#[derive(Debug)]
struct ModuleImage {
    file: PathBuf,
    name: String,
    namespace: String,
    main: Option<u32>,
    value: Val,
    names: Vec<String>,
    started: bool,
}

/// Everything a new interpreter starts from; see the module docs.
#[derive(Debug)]
pub struct Image {
    objects: Vec<Object>,
    protos: Vec<ProtoImage>,
    /// Per global slot: its name, whether it is a builtin's, and its value.
    globals: Vec<(String, bool, Val)>,
    modules: Vec<ModuleImage>,
    function: Val,
    args: Vec<Val>,
}

/// What to do with an object that cannot be copied.
#[derive(Clone, Copy, PartialEq)]
enum Uncopyable {
    /// A global: it becomes `nil`.
    Nil,
    /// An argument: `TypeError`.
    Refuse,
}

/// Walks the spawner's heap, numbering each object once.
struct Taker<'v, 'a> {
    vm: &'v mut Vm<'a>,
    objects: Vec<Option<Object>>,
    seen: FxHashMap<usize, u32>,
    protos: Vec<Option<ProtoImage>>,
    seen_protos: FxHashMap<*const Proto, u32>,
}

impl Taker<'_, '_> {
    fn value(&mut self, v: Value, uncopyable: Uncopyable) -> VmResult<Val> {
        Ok(match v {
            Value::Nil => Val::Nil,
            Value::Undef => Val::Undef,
            Value::Bool(b) => Val::Bool(b.get()),
            Value::Int(i) => Val::Int(i),
            Value::Float(f) => Val::Float(f.get()),
            Value::Builtin(i) => Val::Builtin(i),
            Value::Str(id) => Val::Str(self.object(id, uncopyable)?),
            Value::List(id) => Val::List(self.object(id, uncopyable)?),
            Value::Map(id) => Val::Map(self.object(id, uncopyable)?),
            Value::Func(id) => Val::Func(self.object(id, uncopyable)?),
            Value::Obj(id) => {
                let copyable = matches!(
                    self.vm.it.heap.get(id),
                    Obj::Cell(_) | Obj::Range(_) | Obj::Error(_) | Obj::Module(_)
                );
                if copyable {
                    Val::Obj(self.object(id, uncopyable)?)
                } else if uncopyable == Uncopyable::Nil {
                    Val::Nil
                } else {
                    let t = v.type_name(&self.vm.it.heap);
                    return Err(self.vm.type_error(format!("cannot send {t} to another interpreter")));
                }
            }
        })
    }

    /// The object's number in the image, copying it (and what it refers to) the first time.
    fn object(&mut self, id: ObjId, uncopyable: Uncopyable) -> VmResult<u32> {
        if let Some(&n) = self.seen.get(&id.index()) {
            return Ok(n);
        }
        let n = self.objects.len() as u32;
        self.seen.insert(id.index(), n);
        self.objects.push(None);
        let object = match self.vm.it.heap.get(id) {
            Obj::Str(s) => Object::Str(s.text().to_string()),
            Obj::List(items) => {
                let items = items.to_vec();
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.value(item, uncopyable)?);
                }
                Object::List(out)
            }
            Obj::Map(m) => {
                let entries: Vec<(MapKey, Value)> = m.iter().map(|(k, v)| (k.clone(), *v)).collect();
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let key = match k {
                        MapKey::Nil => Key::Nil,
                        MapKey::Bool(b) => Key::Bool(b),
                        MapKey::Int(i) => Key::Int(i),
                        MapKey::Str(s) => Key::Str(s.to_string()),
                    };
                    out.push((key, self.value(v, uncopyable)?));
                }
                Object::Map(out)
            }
            Obj::Func(c) => {
                let (proto, upvals, defaults) = (c.proto.clone(), c.upvals.to_vec(), c.defaults.to_vec());
                let proto = self.proto(&proto)?;
                let mut cells = Vec::with_capacity(upvals.len());
                for cell in upvals {
                    cells.push(self.object(cell, uncopyable)?);
                }
                let mut defs = Vec::with_capacity(defaults.len());
                for d in defaults {
                    defs.push(self.value(d, uncopyable)?);
                }
                Object::Func {
                    proto,
                    upvals: cells,
                    defaults: defs,
                }
            }
            Obj::Cell(v) => {
                let v = *v;
                Object::Cell(self.value(v, Uncopyable::Nil)?)
            }
            Obj::Range(r) => Object::Range(*r),
            Obj::Error(e) => Object::Error {
                kind: e.kind.to_string(),
                message: e.message.to_string(),
                traceback: e
                    .traceback
                    .entries()
                    .map(|t| (t.file.to_string(), t.line, t.func.to_string()))
                    .collect(),
            },
            Obj::Module(m) => Object::Module {
                name: m.name.to_string(),
                fields: m.fields.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            },
            _ => unreachable!("only copyable objects are numbered"),
        };
        self.objects[n as usize] = Some(object);
        Ok(n)
    }

    fn proto(&mut self, proto: &Rc<Proto>) -> VmResult<u32> {
        if let Some(&n) = self.seen_protos.get(&Rc::as_ptr(proto)) {
            return Ok(n);
        }
        let n = self.protos.len() as u32;
        self.seen_protos.insert(Rc::as_ptr(proto), n);
        self.protos.push(None);
        let mut consts = Vec::with_capacity(proto.consts.len());
        for &k in &proto.consts {
            consts.push(self.value(k, Uncopyable::Nil)?);
        }
        let mut protos = Vec::with_capacity(proto.protos.len());
        for p in &proto.protos {
            protos.push(self.proto(p)?);
        }
        self.protos[n as usize] = Some(ProtoImage {
            name: proto.name.as_ref().map(|s| s.to_string()),
            anonymous: proto.anonymous,
            file: proto.file.to_string(),
            arity: proto.arity,
            required: proto.required,
            nregs: proto.nregs,
            code: renamed_fields(&proto.code, |id| proto.field_const(id).map(|k| k as u32)).ok_or_else(|| {
                self.vm
                    .error("Error", "a field name is missing from its function's constants")
            })?,
            lines: proto.lines.clone(),
            consts,
            protos,
            captures: proto.captures.clone(),
            local_names: proto.local_names.iter().map(|(r, s)| (*r, s.to_string())).collect(),
        });
        Ok(n)
    }
}

/// Takes the image of the spawner's globals and modules and of `f(args...)`.
pub fn take(vm: &mut Vm, f: Value, args: &[Value]) -> VmResult<Image> {
    let mut t = Taker {
        vm,
        objects: Vec::new(),
        seen: FxHashMap::default(),
        protos: Vec::new(),
        seen_protos: FxHashMap::default(),
    };
    let function = t.value(f, Uncopyable::Refuse)?;
    let mut call_args = Vec::with_capacity(args.len());
    for &a in args {
        call_args.push(t.value(a, Uncopyable::Refuse)?);
    }
    let slots: Vec<(Rc<str>, bool, Value)> = {
        let g = &t.vm.it.globals;
        (0..g.names.len())
            .map(|i| (g.names[i].clone(), g.builtin[i], g.values[i]))
            .collect()
    };
    let mut globals = Vec::with_capacity(slots.len());
    for (name, builtin, value) in slots {
        // A builtin's slot is filled by the new interpreter's own builtins.
        let v = if builtin {
            Val::Undef
        } else {
            t.value(value, Uncopyable::Nil)?
        };
        globals.push((name.to_string(), builtin, v));
    }
    // The records' plain parts first; their code and module objects go through the taker.
    let mut modules: Vec<ModuleImage> = Vec::with_capacity(t.vm.it.modules.len());
    let mut parts: Vec<(Option<Rc<Proto>>, Value)> = Vec::with_capacity(modules.capacity());
    for m in &t.vm.it.modules {
        modules.push(ModuleImage {
            file: m.file.clone(),
            name: m.name.to_string(),
            namespace: m.namespace.to_string(),
            main: None,
            value: Val::Nil,
            names: m.names.iter().map(|n| n.to_string()).collect(),
            started: m.started,
        });
        parts.push((m.main.clone(), m.value));
    }
    for (module, (main, value)) in modules.iter_mut().zip(parts) {
        module.main = match main {
            Some(p) => Some(t.proto(&p)?),
            None => None,
        };
        module.value = t.value(value, Uncopyable::Nil)?;
    }
    Ok(Image {
        objects: t
            .objects
            .into_iter()
            .map(|o| o.expect("every numbered object is filled"))
            .collect(),
        protos: t
            .protos
            .into_iter()
            .map(|p| p.expect("every numbered proto is filled"))
            .collect(),
        globals,
        modules,
        function,
        args: call_args,
    })
}

/// Rebuilds `image` in `it` (a fresh interpreter of the same recipe): its objects, code,
/// globals and modules; returns the function and arguments to call. Runs before any
/// bytecode, so no collection happens while the new objects are not yet rooted.
pub fn restore(it: &mut Interp, image: Image) -> Result<(Value, Vec<Value>), String> {
    let Image {
        objects,
        protos,
        globals,
        modules,
        function,
        args,
    } = image;
    // Every object gets its slot first, so references (and cycles) can be resolved.
    let ids: Vec<ObjId> = (0..objects.len())
        .map(|_| it.heap.alloc(Obj::Cell(Value::Nil)))
        .collect();
    let builtins = it.builtins.len() as u64;
    let val = |v: Val| -> Value {
        match v {
            Val::Nil => Value::Nil,
            Val::Undef => Value::Undef,
            Val::Bool(b) => Value::bool(b),
            Val::Int(i) => Value::Int(i),
            Val::Float(f) => Value::float(f),
            // The same recipe makes the same table; an index beyond it cannot be called.
            Val::Builtin(i) if i < builtins => Value::Builtin(i),
            Val::Builtin(_) => Value::Nil,
            Val::Str(n) => Value::Str(ids[n as usize]),
            Val::List(n) => Value::List(ids[n as usize]),
            Val::Map(n) => Value::Map(ids[n as usize]),
            Val::Func(n) => Value::Func(ids[n as usize]),
            Val::Obj(n) => Value::Obj(ids[n as usize]),
        }
    };
    let mut protos: Vec<Option<ProtoImage>> = protos.into_iter().map(Some).collect();
    let mut built: Vec<Option<Rc<Proto>>> = vec![None; protos.len()];
    for n in 0..protos.len() {
        build_proto(n, &mut protos, &mut built, &val)?;
    }
    let proto = |n: u32| built[n as usize].clone().expect("every proto was built");
    for (object, &id) in objects.into_iter().zip(&ids) {
        let obj = match object {
            Object::Str(s) => Obj::Str(StrObj::new(s.into())),
            Object::List(items) => Obj::List(ListObj::new(items.into_iter().map(val).collect())),
            Object::Map(entries) => {
                let mut m = crate::object::MapObj::default();
                for (k, v) in entries {
                    let key = match k {
                        Key::Nil => MapKey::Nil,
                        Key::Bool(b) => MapKey::Bool(b),
                        Key::Int(i) => MapKey::Int(i),
                        Key::Str(s) => MapKey::Str(s.into()),
                    };
                    m.insert(key, val(v));
                }
                Obj::Map(m)
            }
            Object::Func {
                proto: p,
                upvals,
                defaults,
            } => Obj::Func(Closure {
                proto: proto(p),
                upvals: upvals.into_iter().map(|c| ids[c as usize]).collect(),
                defaults: defaults.into_iter().map(val).collect(),
            }),
            Object::Cell(v) => Obj::Cell(val(v)),
            Object::Range(r) => Obj::Range(r),
            Object::Error {
                kind,
                message,
                traceback,
            } => Obj::Error(Box::new(ErrorObj {
                kind: kind.into(),
                message: message.into(),
                traceback: Traceback::from_entries(traceback.into_iter().map(|(file, line, func)| TbEntry {
                    file: file.into(),
                    line,
                    func: func.into(),
                })),
            })),
            Object::Module { name, fields } => Obj::Module(Box::new(ModuleObj {
                name: name.into(),
                fields: fields.into_iter().map(|(k, v)| (Rc::from(k), v)).collect(),
            })),
        };
        *it.heap.get_mut(id) = obj;
    }
    // Constants stay alive as long as code may use them, as the compiler's do.
    for p in built.iter().flatten() {
        for k in &p.consts {
            if let Value::Str(id) | Value::List(id) | Value::Map(id) | Value::Func(id) | Value::Obj(id) = *k {
                it.heap.pin(id);
            }
        }
    }
    use crate::compiler::GlobalSlots as _;
    for (slot, (name, builtin, v)) in globals.into_iter().enumerate() {
        let Some(g) = it.globals.declare(&name) else {
            return Err("too many globals".into());
        };
        if g as usize != slot {
            return Err(format!("the global '{name}' has another slot in the new interpreter"));
        }
        if builtin {
            it.globals.builtin[slot] = true;
        } else {
            it.globals.values[slot] = val(v);
        }
    }
    for m in modules {
        let value = val(m.value);
        if let Value::Obj(id) | Value::Map(id) = value {
            it.heap.pin(id);
        }
        it.modules.push(ModuleRecord {
            file: m.file,
            name: m.name.into(),
            namespace: m.namespace.into(),
            main: m.main.map(proto),
            value,
            names: m.names.into_iter().map(Rc::from).collect(),
            started: m.started,
        });
    }
    let f = val(function);
    let args = args.into_iter().map(val).collect();
    Ok((f, args))
}

/// Builds proto `n` of the image after its children (code nests as deep as the source's
/// brackets, which the parser bounds).
fn build_proto(
    n: usize,
    protos: &mut [Option<ProtoImage>],
    built: &mut [Option<Rc<Proto>>],
    val: &dyn Fn(Val) -> Value,
) -> Result<(), String> {
    let Some(p) = protos.get_mut(n).and_then(Option::take) else {
        return if built.get(n).is_some_and(Option::is_some) {
            Ok(())
        } else {
            Err("a function's code contains itself".into())
        };
    };
    let mut children = Vec::with_capacity(p.protos.len());
    for &c in &p.protos {
        build_proto(c as usize, protos, built, val)?;
        children.push(built[c as usize].clone().ok_or("a function's code contains itself")?);
    }
    let consts: Vec<Value> = p.consts.iter().map(|&k| val(k)).collect();
    let code = renamed_fields(&p.code, |k| match consts.get(k as usize) {
        Some(Value::Str(id)) => Some(id.index() as u32),
        _ => None,
    })
    .ok_or("a field name is not a string constant")?;
    built[n] = Some(Rc::new(Proto {
        name: p.name.map(Rc::from),
        anonymous: p.anonymous,
        file: p.file.into(),
        arity: p.arity,
        required: p.required,
        nregs: p.nregs,
        code,
        lines: p.lines,
        consts,
        protos: children,
        captures: p.captures,
        local_names: p.local_names.into_iter().map(|(r, s)| (r, Rc::from(s))).collect(),
    }));
    Ok(())
}

/// `code` with the field name of every `GetField` and `SetField` passed through `rename`:
/// in a heap, a name is its string's heap index; in an image, its index among the
/// function's constants (heap indices mean nothing in the new heap). `None` if a name has
/// no counterpart.
fn renamed_fields(code: &[Op], rename: impl Fn(u32) -> Option<u32>) -> Option<Vec<Op>> {
    code.iter()
        .map(|op| {
            Some(match *op {
                Op::GetField { dst, obj, name } => Op::GetField {
                    dst,
                    obj,
                    name: rename(name)?,
                },
                Op::SetField { obj, src, name } => Op::SetField {
                    obj,
                    src,
                    name: rename(name)?,
                },
                other => other,
            })
        })
        .collect()
}
